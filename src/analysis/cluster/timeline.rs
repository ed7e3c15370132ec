//! The leader timeline of one split-brain episode: whom each node believed led, around it
//! (`cluster/leaders.json`, drawn by the leader-timeline chart).

use serde::{Deserialize, Serialize};

use super::NodeState;
use crate::time::Nanos;

/// At most this many nodes get a lane.
pub const MAX_LANES: usize = 12;

/// Every shown node's belief over a window around one split-brain episode.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LeaderTimeline {
    pub detector: String,
    pub rule: String,
    /// The window shown (seconds of the run).
    pub from_s: f64,
    pub to_s: f64,
    /// The episode it shows, in seconds and exactly.
    pub episode_s: [f64; 2],
    pub episode_ns: [u64; 2],
    /// The lanes, in id order, and how many nodes the cluster has.
    pub nodes: Vec<String>,
    pub cluster_nodes: usize,
    pub spans: Vec<LeaderSpan>,
    /// Split brain (two or more running nodes leading) within the window.
    pub split_s: Vec<[f64; 2]>,
}

/// One node's state over `[from_s, to_s)`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LeaderSpan {
    pub node: String,
    pub from_s: f64,
    pub to_s: f64,
    /// `crashed`, `paused`, `none` (no leader) or the id of the node it names.
    pub state: String,
    /// Whether it believed it led.
    pub leads: bool,
}

/// Builds the timeline over `[from, to)` from the recorded state changes of every node (in
/// time order, from the run's start), `ids` the node names.
pub fn build(
    detector: &str,
    rule: &str,
    ids: &[String],
    recorded: &[(Nanos, usize, NodeState)],
    window: (Nanos, Nanos),
    episode: (Nanos, Nanos),
) -> LeaderTimeline {
    let n = ids.len();
    let (from, to) = window;
    // Each node's spans, clipped to the window.
    let mut per_node: Vec<Vec<(Nanos, Nanos, NodeState)>> = vec![Vec::new(); n];
    let mut open: Vec<Option<(Nanos, NodeState)>> = vec![None; n];
    for &(at, x, state) in recorded.iter().filter(|r| r.0 < to) {
        if let Some((since, old)) = open[x].replace((at, state)) {
            let (a, b) = (since.max(from), at.min(to));
            if a < b {
                per_node[x].push((a, b, old));
            }
        }
    }
    for (x, o) in open.iter().enumerate() {
        if let Some((since, state)) = *o {
            let a = since.max(from);
            if a < to {
                per_node[x].push((a, to, state));
            }
        }
    }
    let leads = |s: &NodeState| matches!(s, NodeState::Believes(b) if b.leads);
    // Split brain: instants where two or more lanes of running nodes lead.
    let mut bounds: Vec<Nanos> = per_node.iter().flatten().flat_map(|s| [s.0, s.1]).collect();
    bounds.sort_unstable();
    bounds.dedup();
    let mut split: Vec<[f64; 2]> = Vec::new();
    for w in bounds.windows(2) {
        let leading =
            per_node.iter().filter(|spans| spans.iter().any(|s| s.0 <= w[0] && w[0] < s.1 && leads(&s.2))).count();
        if leading >= 2 {
            match split.last_mut() {
                Some(last) if last[1] == w[0].as_secs_f64() => last[1] = w[1].as_secs_f64(),
                _ => split.push([w[0].as_secs_f64(), w[1].as_secs_f64()]),
            }
        }
    }
    // Lanes: nodes that lead, then nodes that are down or paused, then nodes that change
    // their mind, then the rest, up to MAX_LANES, shown in id order.
    let rank = |spans: &Vec<(Nanos, Nanos, NodeState)>| {
        if spans.iter().any(|s| leads(&s.2)) {
            0
        } else if spans.iter().any(|s| !matches!(s.2, NodeState::Believes(_))) {
            1
        } else if spans.len() > 1 {
            2
        } else {
            3
        }
    };
    let mut chosen: Vec<usize> = (0..n).collect();
    chosen.sort_by_key(|&x| (rank(&per_node[x]), ids[x].clone()));
    chosen.truncate(MAX_LANES);
    chosen.sort_by(|&a, &b| ids[a].cmp(&ids[b]));
    let spans = chosen
        .iter()
        .flat_map(|&x| {
            per_node[x].iter().map(move |&(a, b, state)| LeaderSpan {
                node: ids[x].clone(),
                from_s: a.as_secs_f64(),
                to_s: b.as_secs_f64(),
                state: match state {
                    NodeState::Crashed => "crashed".into(),
                    NodeState::Paused => "paused".into(),
                    NodeState::Believes(b) => b.names.map_or("none".into(), |l| ids[l].clone()),
                },
                leads: leads(&state),
            })
        })
        .collect();
    LeaderTimeline {
        detector: detector.to_string(),
        rule: rule.to_string(),
        from_s: from.as_secs_f64(),
        to_s: to.as_secs_f64(),
        episode_s: [episode.0.as_secs_f64(), episode.1.as_secs_f64()],
        episode_ns: [episode.0.0, episode.1.0],
        nodes: chosen.iter().map(|&x| ids[x].clone()).collect(),
        cluster_nodes: n,
        spans,
        split_s: split,
    }
}

impl LeaderTimeline {
    /// How long its episode lasted, in nanoseconds.
    pub fn episode_length(&self) -> u64 {
        self.episode_ns[1] - self.episode_ns[0]
    }
}
