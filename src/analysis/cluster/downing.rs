//! Wrongful downing: a node that has not crashed (a paused node is alive) suspected by
//! `downing_quorum` of its monitors that have not crashed.

use super::{ClusterInput, Downing, Span};
use crate::experiment::DowningQuorum;
use crate::time::Nanos;

/// The downing figures of one detector configuration, node by node then summed.
pub fn downing(input: &ClusterInput<'_>) -> Downing {
    let n = input.ids.len();
    let end = input.end;
    let mut monitors: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(m, t) in input.suspicions.keys() {
        monitors[t].push(m);
    }
    let (mut total, mut episodes) = (Nanos::ZERO, 0);
    for (p, watchers) in monitors.iter().enumerate().filter(|(_, w)| !w.is_empty()) {
        // (instant, kind, +1/−1 as bool): kind 0 the target's crash, 1 a monitor's crash,
        // 2 a monitor's suspicion.
        let mut events: Vec<(Nanos, u8, bool)> = Vec::new();
        let window = |from: Nanos, to: Nanos, kind: u8, events: &mut Vec<_>| {
            let (from, to) = (from.min(end), to.min(end));
            if from < to {
                events.push((from, kind, true));
                events.push((to, kind, false));
            }
        };
        for &(from, to) in &input.crashed[p] {
            window(from, to, 0, &mut events);
        }
        for &m in watchers {
            for &(from, to) in &input.crashed[m] {
                window(from, to, 1, &mut events);
            }
            for &(from, to) in &input.suspicions[&(m, p)] {
                window(from, to, 2, &mut events);
            }
        }
        events.sort_unstable();
        let mut counts = [0u32; 3];
        let mut span = Span::default();
        let mut i = 0;
        let mut now = Nanos::ZERO;
        loop {
            while let Some(&(_, kind, up)) = events.get(i).filter(|e| e.0 == now) {
                let c = &mut counts[kind as usize];
                *c = if up { *c + 1 } else { *c - 1 };
                i += 1;
            }
            let next = events.get(i).map_or(end, |e| e.0);
            let alive_monitors = watchers.len() as u32 - counts[1].min(watchers.len() as u32);
            let need = match input.settings.downing_quorum {
                DowningQuorum::Any => 1,
                DowningQuorum::Majority => alive_monitors / 2 + 1,
                DowningQuorum::Count(k) => k,
            };
            span.step(counts[0] == 0 && counts[2] >= need, now, next);
            if next >= end {
                break;
            }
            now = next;
        }
        total = total + span.total;
        episodes += span.episodes;
    }
    Downing { wrongful_downing_s: total.as_secs_f64(), wrongful_downing_episodes: episodes }
}
