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
    // (Mutation testing: `r.0 <= to` is equivalent because a change at `to` would close the
    // open span at `to`, as the loop after this one does, and open one that starts at `to`,
    // which is empty and not kept.)
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
            // (Mutation testing: `a <= to` is equivalent because `since < to` (the filter
            // above) and `from < to` (the window around an episode is never empty), so
            // `a < to` always.)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::cluster::rules::Belief;

    fn s(secs: u64) -> Nanos {
        Nanos::from_secs(secs)
    }

    fn believes(names: Option<usize>, leads: bool) -> NodeState {
        NodeState::Believes(Belief { names, leads })
    }

    fn span(node: &str, from_s: f64, to_s: f64, state: &str, leads: bool) -> LeaderSpan {
        LeaderSpan { node: node.into(), from_s, to_s, state: state.into(), leads }
    }

    /// Nodes a, b, c (0, 1, 2), window [10 s, 20 s), episode [12 s, 15 s). Recorded:
    /// at 0 all name a and a leads; at 10 (the window's start) b leads; at 12 c leads; at 13
    /// a crashes; at 14 c names b; at 15 b names none; at 16 c leads; at 17 b leads; at 18 b
    /// pauses; at 20 (the window's end) and 21 c names none.
    ///
    /// Clipped to the window, b's span [0, 10) is empty and not shown. Leaders per
    /// interval between the spans' bounds: [10, 12) a, b; [12, 13) a, b, c; [13, 14) b, c
    /// (a crashed); [14, 15) b; [15, 16) none; [16, 17) c; [17, 18) b, c; [18, 20) c. So
    /// split brain is [10, 14), one interval across three steps, and [17, 18), apart from
    /// it: b's lead ends at 18, where only c leads.
    #[test]
    fn spans_and_split_brain_worked_by_hand() {
        let ids: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let (a, b, c) = (0, 1, 2);
        let recorded = vec![
            (s(0), a, believes(Some(a), true)),
            (s(0), b, believes(Some(a), false)),
            (s(0), c, believes(Some(a), false)),
            (s(10), b, believes(Some(b), true)),
            (s(12), c, believes(Some(c), true)),
            (s(13), a, NodeState::Crashed),
            (s(14), c, believes(Some(b), false)),
            (s(15), b, believes(None, false)),
            (s(16), c, believes(Some(c), true)),
            (s(17), b, believes(Some(b), true)),
            (s(18), b, NodeState::Paused),
            (s(20), c, believes(None, false)),
            (s(21), c, believes(None, false)),
        ];
        let t = build("fixed:timeout=3s", "majority", &ids, &recorded, (s(10), s(20)), (s(12), s(15)));
        let expected = LeaderTimeline {
            detector: "fixed:timeout=3s".into(),
            rule: "majority".into(),
            from_s: 10.0,
            to_s: 20.0,
            episode_s: [12.0, 15.0],
            episode_ns: [12_000_000_000, 15_000_000_000],
            nodes: ids.clone(),
            cluster_nodes: 3,
            spans: vec![
                span("a", 10.0, 13.0, "a", true),
                span("a", 13.0, 20.0, "crashed", false),
                span("b", 10.0, 15.0, "b", true),
                span("b", 15.0, 17.0, "none", false),
                span("b", 17.0, 18.0, "b", true),
                span("b", 18.0, 20.0, "paused", false),
                span("c", 10.0, 12.0, "a", false),
                span("c", 12.0, 14.0, "c", true),
                span("c", 14.0, 16.0, "b", false),
                span("c", 16.0, 20.0, "c", true),
            ],
            split_s: vec![[10.0, 14.0], [17.0, 18.0]],
        };
        assert_eq!(t, expected);
        assert_eq!(t.episode_length(), 3_000_000_000);
    }

    /// 14 nodes n00..n13, window [0, 10 s): n13 leads throughout (rank 0); n12 is crashed
    /// until 5 s, then names n13 (down: rank 1); n11 names n13, then none from 5 s (changes
    /// its mind: rank 2); n00..n10 name n13 throughout (rank 3). The 12 lanes: n13, n12,
    /// n11 and the first nine of the rest, n00..n08, in id order; n09 and n10 are left out.
    #[test]
    fn lanes_go_to_leaders_then_the_down_then_the_changing() {
        let ids: Vec<String> = (0..14).map(|i| format!("n{i:02}")).collect();
        let mut recorded: Vec<(Nanos, usize, NodeState)> = (0..14)
            .map(|x| (s(0), x, if x == 12 { NodeState::Crashed } else { believes(Some(13), x == 13) }))
            .collect();
        recorded.push((s(5), 11, believes(None, false)));
        recorded.push((s(5), 12, believes(Some(13), false)));
        let t = build("d", "r", &ids, &recorded, (s(0), s(10)), (s(2), s(3)));
        let lanes: Vec<&str> =
            ["n00", "n01", "n02", "n03", "n04", "n05", "n06", "n07", "n08", "n11", "n12", "n13"].to_vec();
        assert_eq!(t.nodes, lanes);
        assert_eq!(t.cluster_nodes, 14);
        // One span a lane, two for n11 and n12.
        assert_eq!(t.spans.len(), 14);
        assert!(t.spans.iter().all(|sp| lanes.contains(&sp.node.as_str())));
        assert_eq!(t.split_s, Vec::<[f64; 2]>::new());
        assert_eq!(t.episode_length(), 1_000_000_000);
    }
}
