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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::cluster::{ClusterInput, FirstHeard, LinkSuspicions};
    use crate::experiment::ClusterSettings;
    use crate::time::Clock;

    /// a is watched by b and c; c crash-stops at 5 s; b suspects a over [10 s, 14 s) (a runs
    /// throughout). Under `downing_quorum = majority` the quorum is counted among the
    /// monitors that have not crashed: one (b) is left, a majority of one is 1/2 + 1 = 1,
    /// so b's word downs a: 4 s, one episode. (Counting c too would need 2 of 2: none.)
    /// Under a quorum of 2, b alone is not enough: 0.
    #[test]
    fn a_crashed_monitor_leaves_the_majority_quorum() {
        let ms = Nanos::from_millis;
        let ids: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let mut suspicions = LinkSuspicions::new();
        suspicions.insert((1, 0), vec![(ms(10_000), ms(14_000))]);
        suspicions.insert((2, 0), vec![]);
        let crashed = [vec![], vec![], vec![(ms(5_000), ms(20_000))]];
        let none = [vec![], vec![], vec![]];
        for (quorum, expected) in [(DowningQuorum::Majority, (4.0, 1)), (DowningQuorum::Count(2), (0.0, 0))] {
            let settings = ClusterSettings { downing_quorum: quorum, ..ClusterSettings::default() };
            let input = ClusterInput {
                ids: &ids,
                clocks: &[Clock::EXACT; 3],
                crashed: &crashed,
                paused: &none,
                stalled: &none,
                suspicions: &suspicions,
                first_heard: &FirstHeard::new(),
                heard: &Default::default(),
                fault_starts: &[],
                first_timeout: None,
                settings: &settings,
                end: ms(20_000),
            };
            let d = downing(&input);
            assert_eq!((d.wrongful_downing_s, d.wrongful_downing_episodes), expected, "{quorum:?}");
        }
    }
}
