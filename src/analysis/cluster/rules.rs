//! Leader rules: each node's belief about who leads, from its view and, for rules that
//! answer heartbeats, from what it heard. A rule is a state machine the analysis feeds with
//! every node's events in time order ([`Rule`]); a user adds one by implementing it
//! (`examples/leader_rule.rs`).

use super::{Heartbeat, NodeSet};
use crate::time::{Clock, Nanos};

/// What a rule may read about the cluster at an instant.
pub struct Cx<'a> {
    /// The number of configured nodes.
    pub n: usize,
    /// Node indices from the lowest id to the highest.
    pub order: &'a [usize],
    /// Each node's clock (rate against real time).
    pub clocks: &'a [Clock],
    pub(super) views: &'a [NodeSet],
    pub(super) stalled: &'a [u32],
}

impl Cx<'_> {
    /// Whether `x` (acting on its view) suspects `p`; a node never suspects itself.
    pub fn suspects(&self, x: usize, p: usize) -> bool {
        x != p && self.views[x].contains(p)
    }

    /// The nodes `x` does not suspect, itself included, from the lowest id up.
    pub fn trusted(&self, x: usize) -> impl Iterator<Item = usize> + '_ {
        self.order.iter().copied().filter(move |&p| !self.suspects(x, p))
    }

    /// The lowest id `x` does not suspect (itself if it suspects every other node).
    pub fn candidate(&self, x: usize) -> usize {
        self.trusted(x).next().unwrap_or(x)
    }

    /// Whether `x` cannot act: its receiving is paused (a whole-node or monitor pause), so
    /// its timers wait for the resume.
    pub fn stalled(&self, x: usize) -> bool {
        self.stalled[x] > 0
    }
}

/// A node's belief after the events of an instant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Belief {
    /// The node it names as the leader (`None`: no leader).
    pub names: Option<usize>,
    /// Whether it believes it leads (and would act as the leader).
    pub leads: bool,
}

/// A leader rule, fed every node's events in time order. At an instant the analysis first
/// restarts nodes, then shows the heartbeats that leave, then applies the rest (pauses,
/// views, heartbeats that arrive), then asks [`Rule::belief`] of every node an event
/// touched or whose [`Rule::deadline`] came.
pub trait Rule {
    /// The name in `summary.json` and the table.
    fn name(&self) -> String;
    /// Whether the rule reads heartbeats ([`Rule::send`], [`Rule::deliver`]); the engine
    /// then keeps every delivered heartbeat for it.
    fn reads_heartbeats(&self) -> bool {
        // (Mutation testing: `true` here is equivalent for the view rules, whose `send` and
        // `deliver` then answer `false`: the heartbeats are only kept and swept, slower.)
        false
    }
    /// `x` (re)starts at `at` (the run's start or a recovery) with nothing held.
    fn start(&mut self, _cx: &Cx<'_>, _x: usize, _at: Nanos) {}
    /// Heartbeat number `id` leaves its sender (only heartbeats that will be delivered).
    /// Returns whether the sender's belief may have changed (then it is asked again).
    fn send(&mut self, _cx: &Cx<'_>, _id: usize, _hb: &Heartbeat) -> bool {
        // (Equivalent as `true`, here and in `deliver`: the node is only asked again, and a
        // view rule's belief is a function of the view, unchanged by a heartbeat.)
        false
    }
    /// Heartbeat number `id` reaches its receiver, which handles it. Returns whether the
    /// receiver's belief may have changed (then it is asked again).
    fn deliver(&mut self, _cx: &Cx<'_>, _id: usize, _hb: &Heartbeat) -> bool {
        false
    }
    /// `x`'s belief at `at`, after every event of the instant; `x` is running.
    fn belief(&mut self, cx: &Cx<'_>, x: usize, at: Nanos) -> Belief;
    /// When `x`'s belief may next change by the passing of time alone (a timer), if ever.
    fn deadline(&self, _cx: &Cx<'_>, _x: usize) -> Option<Nanos> {
        // (Equivalent as `Some(0)`: the analysis keeps only deadlines later than now.)
        None
    }
    /// `x`'s belief had it also suspected `extra` at `at` (a zero-length suspicion), for
    /// rules that act on the view at once; `None` for rules that cannot flip for no time.
    fn flicker(&self, _cx: &Cx<'_>, _x: usize, _extra: &NodeSet) -> Option<Belief> {
        // (Equivalent as `Some(Belief::default())`: only a flicker that leads is counted.)
        None
    }
}

/// The built-in rules that act on the view alone.
pub struct ViewRule {
    pub majority: bool,
    /// Keep-majority's tie-break: exactly half of an even number keeps a leader when it
    /// holds the lowest id of all.
    pub tie_break: bool,
}

impl ViewRule {
    fn leader(&self, cx: &Cx<'_>, x: usize, suspects: impl Fn(usize) -> bool) -> Belief {
        let mut trusted = cx.order.iter().copied().filter(|&p| p == x || !suspects(p));
        let lowest = trusted.next();
        let names = if self.majority {
            let count = 1 + trusted.count();
            let holds =
                2 * count > cx.n || (self.tie_break && 2 * count == cx.n && lowest == cx.order.first().copied());
            lowest.filter(|_| holds)
        } else {
            lowest
        };
        Belief { names, leads: names == Some(x) }
    }
}

impl Rule for ViewRule {
    fn name(&self) -> String {
        if self.majority { "majority" } else { "lowest-unsuspected" }.to_string()
    }

    fn belief(&mut self, cx: &Cx<'_>, x: usize, _at: Nanos) -> Belief {
        self.leader(cx, x, |p| cx.suspects(x, p))
    }

    fn flicker(&self, cx: &Cx<'_>, x: usize, extra: &NodeSet) -> Option<Belief> {
        Some(self.leader(cx, x, |p| cx.suspects(x, p) || (p != x && extra.contains(p))))
    }
}

/// Raft's check-quorum with a leader lease (docs/split-brain.md, "lease"). Each node
/// follows one node; heartbeats carry whom their sender follows and acknowledge the newest
/// heartbeat it has received from that node.
pub struct Lease {
    pub lease: Nanos,
    pub margin: Nanos,
    nodes: Vec<LeaseNode>,
    /// What each delivered heartbeat carries, by id: whom its sender followed, and the send
    /// time of the newest heartbeat it had received from that node ([`NOT_ACKED`]: none).
    carried: Vec<(u32, Nanos)>,
}

#[derive(Clone)]
struct LeaseNode {
    follows: usize,
    /// When it began following `follows` (real time).
    since: Nanos,
    /// Per peer: when its last heartbeat arrived (real time).
    last_arrival: Vec<Option<Nanos>>,
    /// Per peer: the send time (real) of the newest heartbeat received from it, and whom
    /// that heartbeat said its sender followed.
    newest: Vec<Option<(Nanos, usize)>>,
    /// While following itself: per peer, the send time (real) of the newest of this
    /// node's heartbeats, sent since `since`, that the peer acknowledged while following it.
    acks: Vec<Option<Nanos>>,
    /// While following itself, its newest heartbeat sent since `since`.
    last_sent: Option<Nanos>,
}

impl LeaseNode {
    fn new(x: usize, n: usize, at: Nanos) -> LeaseNode {
        LeaseNode {
            follows: x,
            since: at,
            last_arrival: vec![None; n],
            newest: vec![None; n],
            acks: vec![None; n],
            last_sent: None,
        }
    }
}

/// In [`Lease::carried`]: the sender had received nothing from the node it followed.
const NOT_ACKED: Nanos = Nanos::MAX;

impl Lease {
    pub fn new(n: usize, lease: Nanos, margin: Nanos) -> Lease {
        Lease { lease, margin, nodes: (0..n).map(|x| LeaseNode::new(x, n, Nanos::ZERO)).collect(), carried: Vec::new() }
    }

    fn switch(&mut self, x: usize, to: usize, at: Nanos) {
        let node = &mut self.nodes[x];
        node.follows = to;
        node.since = at;
        node.acks.iter_mut().for_each(|a| *a = None);
        node.last_sent = None;
    }

    /// While `x` follows itself: the local instant its lease ends (the send time of the
    /// newest heartbeat a majority, itself included, acknowledged, plus the lease).
    fn lease_end(&self, cx: &Cx<'_>, x: usize) -> Option<Nanos> {
        let node = &self.nodes[x];
        if node.follows != x {
            return None;
        }
        let others = cx.n / 2;
        let anchor = if others == 0 {
            node.last_sent
        } else {
            let mut acked: Vec<Nanos> = node.acks.iter().flatten().copied().collect();
            acked.sort_unstable_by(|a, b| b.cmp(a));
            acked.get(others - 1).copied()
        };
        anchor.map(|s| cx.clocks[x].local(s).saturating_add(self.lease))
    }

    /// When `x`, following another node, may switch for silence: `lease + margin` by its
    /// clock after the last arrival from the node it follows (or after it began following).
    fn silence_end(&self, cx: &Cx<'_>, x: usize) -> Nanos {
        let node = &self.nodes[x];
        let from = node.last_arrival[node.follows].map_or(node.since, |a| a.max(node.since));
        cx.clocks[x].local(from).saturating_add(self.lease).saturating_add(self.margin)
    }
}

/// The first real instant at which `clock` reads at least `local`.
fn real_at(clock: Clock, local: Nanos) -> Nanos {
    let mut t = clock.real(local);
    while clock.local(t) < local && t < Nanos::MAX {
        t = t.saturating_add(Nanos(1));
    }
    t
}

impl Rule for Lease {
    fn name(&self) -> String {
        "lease".to_string()
    }

    fn reads_heartbeats(&self) -> bool {
        true
    }

    fn start(&mut self, cx: &Cx<'_>, x: usize, at: Nanos) {
        self.nodes[x] = LeaseNode::new(x, cx.n, at);
    }

    fn send(&mut self, cx: &Cx<'_>, id: usize, hb: &Heartbeat) -> bool {
        let node = &mut self.nodes[hb.from];
        let leading = node.follows == hb.from;
        if leading {
            node.last_sent = Some(hb.sent);
        }
        let acked = node.newest[node.follows].map_or(NOT_ACKED, |(sent, _)| sent);
        if self.carried.len() <= id {
            self.carried.resize(id + 1, (u32::MAX, NOT_ACKED));
        }
        self.carried[id] = (node.follows as u32, acked);
        // Its own heartbeat renews a leader's lease only where it needs no other node.
        leading && cx.n / 2 == 0
    }

    fn deliver(&mut self, _cx: &Cx<'_>, id: usize, hb: &Heartbeat) -> bool {
        // Cannot fail: a heartbeat is delivered after it was sent (engines hand over no
        // heartbeat that arrives before it left).
        let (follows, acked) =
            self.carried.get(id).copied().filter(|c| c.0 != u32::MAX).expect("sent before delivered");
        let (follows, acked) = (follows as usize, (acked != NOT_ACKED).then_some(acked));
        let node = &mut self.nodes[hb.to];
        node.last_arrival[hb.from] = Some(hb.at);
        if node.newest[hb.from].is_none_or(|(sent, _)| sent <= hb.sent) {
            node.newest[hb.from] = Some((hb.sent, follows));
        }
        if follows == hb.to
            && node.follows == hb.to
            && let Some(s) = acked.filter(|&s| s >= node.since)
        {
            let a = &mut node.acks[hb.from];
            *a = Some(a.map_or(s, |a| a.max(s)));
            return true;
        }
        // A heartbeat of the node it follows moves its silence timer and may disown it.
        hb.from == node.follows
    }

    fn belief(&mut self, cx: &Cx<'_>, x: usize, at: Nanos) -> Belief {
        let candidate = cx.candidate(x);
        if !cx.stalled(x) {
            let f = self.nodes[x].follows;
            if f == x {
                if candidate != x {
                    self.switch(x, candidate, at);
                }
            } else if candidate != f {
                let silent = cx.clocks[x].local(at) >= self.silence_end(cx, x);
                let disowned = self.nodes[x].newest[f].is_some_and(|(_, g)| g != f);
                if silent || disowned {
                    self.switch(x, candidate, at);
                }
            }
        }
        let leads = self.lease_end(cx, x).is_some_and(|end| cx.clocks[x].local(at) < end);
        Belief { names: Some(self.nodes[x].follows), leads }
    }

    fn deadline(&self, cx: &Cx<'_>, x: usize) -> Option<Nanos> {
        let node = &self.nodes[x];
        if node.follows == x {
            self.lease_end(cx, x).map(|end| real_at(cx.clocks[x], end))
        } else if cx.candidate(x) != node.follows && !cx.stalled(x) {
            Some(real_at(cx.clocks[x], self.silence_end(cx, x)))
        } else {
            None
        }
    }
}

/// Makes a fresh instance of a user's leader rule for a cluster of `n` nodes (one per
/// detector configuration).
#[derive(Clone)]
pub struct RuleFactory(pub std::sync::Arc<dyn Fn(usize) -> Box<dyn Rule> + Send + Sync>);

impl std::fmt::Debug for RuleFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RuleFactory")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lease waits for a stalled node: b follows a (a's heartbeat sent at 0 reached b
    /// at 10 ms), then b's view suspects a and b's receiving is stalled. At 10 s b has heard
    /// nothing from a for 9.99 s, far beyond lease + margin (3 s), but a stalled node's
    /// timers wait for its resume: it still names a and has no deadline. At the resume it
    /// switches to its candidate, itself (a suspected), at once.
    #[test]
    fn a_stalled_follower_does_not_switch_until_it_resumes() {
        let ms = Nanos::from_millis;
        let order = [0, 1, 2];
        let clocks = [Clock::EXACT; 3];
        let mut views = vec![NodeSet::new(3); 3];
        let mut stalled = [0u32; 3];
        let mut lease = Lease::new(3, ms(2_500), ms(500));
        let hb = Heartbeat { from: 0, to: 1, sent: Nanos::ZERO, at: ms(10) };
        {
            let cx = Cx { n: 3, order: &order, clocks: &clocks, views: &views, stalled: &stalled };
            lease.send(&cx, 0, &hb);
            lease.deliver(&cx, 0, &hb);
            assert_eq!(lease.belief(&cx, 1, ms(10)), Belief { names: Some(0), leads: false });
        }
        views[1].set(0, true);
        stalled[1] = 1;
        {
            let cx = Cx { n: 3, order: &order, clocks: &clocks, views: &views, stalled: &stalled };
            assert!(cx.stalled(1) && !cx.stalled(0));
            assert_eq!(lease.belief(&cx, 1, ms(10_000)), Belief { names: Some(0), leads: false });
            assert_eq!(lease.deadline(&cx, 1), None);
        }
        stalled[1] = 0;
        let cx = Cx { n: 3, order: &order, clocks: &clocks, views: &views, stalled: &stalled };
        // Not stalled: the silence deadline is the last arrival plus lease and margin.
        let mut unstalled = Lease::new(3, ms(2_500), ms(500));
        unstalled.nodes[1].follows = 0;
        unstalled.nodes[1].last_arrival[0] = Some(ms(10));
        assert_eq!(unstalled.deadline(&cx, 1), Some(ms(3_010)));
        assert_eq!(lease.belief(&cx, 1, ms(10_000)), Belief { names: Some(1), leads: false });
    }

    fn set(n: usize, members: &[usize]) -> NodeSet {
        let mut s = NodeSet::new(n);
        members.iter().for_each(|&m| s.set(m, true));
        s
    }

    /// The view rules on four nodes a < b < c < d (indices 0 … 3), worked by hand. A view
    /// rule names the lowest id its node does not suspect (itself never); `majority` names
    /// it only when the trusted set, the node included, is more than half of the four, or
    /// with the tie-break exactly half holding a, the lowest id of all.
    #[test]
    fn view_rules_by_hand_on_four_nodes() {
        let order = [0, 1, 2, 3];
        let clocks = [Clock::EXACT; 4];
        // a suspects c and d; b suspects a; c suspects a and b; d suspects a, b and c.
        let views = [set(4, &[2, 3]), set(4, &[0]), set(4, &[0, 1]), set(4, &[0, 1, 2])];
        let stalled = [0u32; 4];
        let cx = Cx { n: 4, order: &order, clocks: &clocks, views: &views, stalled: &stalled };
        let lowest = ViewRule { majority: false, tie_break: false };
        let majority = ViewRule { majority: true, tie_break: false };
        let tie_break = ViewRule { majority: true, tie_break: true };
        let belief = |r: &ViewRule, x: usize| ViewRule { ..*r }.belief(&cx, x, Nanos::ZERO);
        let (names, none) = (|l: usize, x: usize| Belief { names: Some(l), leads: l == x }, Belief::default());
        // Lowest-unsuspected: a names a (leads), b names b (leads), c names c, d names d.
        for x in 0..4 {
            assert_eq!(belief(&lowest, x), names(x, x), "lowest-unsuspected, node {x}");
        }
        // Majority: a trusts {a, b} (2 of 4: not more than half), b trusts {b, c, d} (3 of
        // 4: names b), c trusts {c, d} (2), d trusts {d} (1).
        assert_eq!([0, 1, 2, 3].map(|x| belief(&majority, x)), [none, names(1, 1), none, none]);
        // The tie-break keeps exactly half only where it holds a: a's {a, b}, not c's {c, d}.
        assert_eq!([0, 1, 2, 3].map(|x| belief(&tie_break, x)), [names(0, 0), names(1, 1), none, none]);
        // A zero-length suspicion of `extra` on top of the view: b also suspecting c and d
        // trusts {b} alone: under lowest-unsuspected it still leads, under majority not; a
        // flicker naming the node itself changes nothing (a node never suspects itself); c
        // also suspecting d leads alone under lowest-unsuspected.
        assert_eq!(lowest.flicker(&cx, 1, &set(4, &[2, 3])), Some(names(1, 1)));
        assert_eq!(majority.flicker(&cx, 1, &set(4, &[2, 3])), Some(none));
        assert_eq!(majority.flicker(&cx, 1, &set(4, &[1])), Some(names(1, 1)));
        assert_eq!(tie_break.flicker(&cx, 1, &set(4, &[2])), Some(none), "{{b, d}} does not hold a");
        assert_eq!(tie_break.flicker(&cx, 0, &set(4, &[1])), Some(none), "a alone is a quarter");
        assert_eq!(lowest.flicker(&cx, 2, &set(4, &[0])), Some(names(2, 2)));
        assert_eq!(lowest.flicker(&cx, 3, &set(4, &[])), Some(names(3, 3)));
        assert_eq!(majority.name(), "majority");
        // Larger clusters, a's view only: on five nodes, trusting three (itself, d, e) is a
        // majority (6 > 5), two is not; on six, exactly three (itself, e, f) holds only with
        // the tie-break, four is a majority either way.
        for (n, suspected, plain, tied) in [
            (5, &[1, 2][..], true, true),
            (5, &[1, 2, 3][..], false, false),
            (6, &[1, 2, 3][..], false, true),
            (6, &[1, 2][..], true, true),
            (6, &[1, 2, 3, 4][..], false, false),
        ] {
            let order: Vec<usize> = (0..n).collect();
            let clocks = vec![Clock::EXACT; n];
            let mut views = vec![NodeSet::new(n); n];
            views[0] = set(n, suspected);
            let stalled = vec![0u32; n];
            let cx = Cx { n, order: &order, clocks: &clocks, views: &views, stalled: &stalled };
            let lead = Belief { names: Some(0), leads: true };
            let expect = |holds: bool| if holds { lead } else { none };
            assert_eq!(ViewRule { majority: true, tie_break: false }.belief(&cx, 0, Nanos::ZERO), expect(plain), "{n}");
            assert_eq!(ViewRule { majority: true, tie_break: true }.belief(&cx, 0, Nanos::ZERO), expect(tied), "{n}");
        }
        assert_eq!(lowest.name(), "lowest-unsuspected");
    }

    /// `real_at` is the first real instant at which the clock reads at least `local`: its
    /// reading there is at least `local` and one nanosecond earlier it is below (checked on
    /// clocks whose inverse rounds down, so the first guess is often a nanosecond short).
    #[test]
    fn real_at_is_the_first_real_instant_reaching_a_local_reading() {
        let mut short = 0;
        for rate in [1.0, 0.5, 0.999_999_7, 1.001, 1.3, 1.7, 2.0] {
            let clock = Clock::from_rate(rate).unwrap();
            for local in [1u64, 7, 999, 1_000_000_007, 2_500_000_000, 28_000_000_001, 123_456_789_123] {
                let local = Nanos(local);
                let t = real_at(clock, local);
                assert!(clock.local(t) >= local, "rate {rate}, local {local:?}: {t:?}");
                assert!(clock.local(Nanos(t.0 - 1)) < local, "rate {rate}, local {local:?}: {t:?} is not the first");
                short += usize::from(clock.real(local) < t);
            }
        }
        assert!(short > 5, "the first guess was corrected: {short} times");
    }

    /// The lease's quorum on five nodes: a leader needs ⌊5/2⌋ = 2 other nodes' acknowledgements.
    /// a (0) follows itself from 0; b (1) and c (2) follow a once they hear it. b
    /// acknowledges a's heartbeat sent at 0 with its own at 1 s (handled by a at 1.01 s):
    /// one acknowledgement, no lease. c acknowledges the same heartbeat at 1.2 s: now the
    /// second newest acknowledged send is 0, so a leads until 0 + 2.5 s by its clock, its
    /// deadline.
    #[test]
    fn a_leases_quorum_on_five_nodes_is_two_other_nodes() {
        let ms = Nanos::from_millis;
        let order = [0, 1, 2, 3, 4];
        let clocks = [Clock::EXACT; 5];
        let views = vec![NodeSet::new(5); 5];
        let stalled = [0u32; 5];
        let cx = Cx { n: 5, order: &order, clocks: &clocks, views: &views, stalled: &stalled };
        let mut lease = Lease::new(5, ms(2_500), ms(500));
        let hbs = [
            Heartbeat { from: 0, to: 1, sent: Nanos::ZERO, at: ms(10) },
            Heartbeat { from: 0, to: 2, sent: Nanos::ZERO, at: ms(10) },
            Heartbeat { from: 1, to: 0, sent: ms(1_000), at: ms(1_010) },
            Heartbeat { from: 2, to: 0, sent: ms(1_190), at: ms(1_200) },
        ];
        for (id, hb) in hbs.iter().enumerate().take(2) {
            assert!(!lease.send(&cx, id, hb), "a needs other nodes to lead");
            lease.deliver(&cx, id, hb);
        }
        for x in [1, 2] {
            assert_eq!(lease.belief(&cx, x, ms(10)), Belief { names: Some(0), leads: false });
        }
        lease.send(&cx, 2, &hbs[2]);
        assert!(lease.deliver(&cx, 2, &hbs[2]), "an acknowledgement may make a leader");
        assert_eq!(lease.belief(&cx, 0, ms(1_010)), Belief { names: Some(0), leads: false }, "one of two");
        assert_eq!(lease.deadline(&cx, 0), None);
        lease.send(&cx, 3, &hbs[3]);
        lease.deliver(&cx, 3, &hbs[3]);
        assert_eq!(lease.belief(&cx, 0, ms(1_200)), Belief { names: Some(0), leads: true });
        assert_eq!(lease.deadline(&cx, 0), Some(ms(2_500)));
        assert_eq!(lease.belief(&cx, 0, ms(2_500)), Belief { names: Some(0), leads: false }, "the lease ended");
        assert_eq!(lease.name(), "lease");
        assert!(lease.reads_heartbeats());
    }
}
