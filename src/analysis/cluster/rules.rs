//! Leader rules: each node's belief about who leads, from its view and, for rules that
//! answer heartbeats, from what it heard. A rule is a state machine the analysis feeds with
//! every node's events in time order ([`Rule`]); a user adds one by implementing it
//! (`examples/leader_rule.rs`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::heard::HeardIndex;
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
    /// The instant being evaluated.
    pub now: Nanos,
    pub(super) views: &'a [NodeSet],
    pub(super) stalled: &'a [u32],
    pub(super) heard: Option<&'a HeardIndex<'a>>,
}

impl<'a> Cx<'a> {
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

    /// The record of delivered heartbeats, for a rule that [`Rule::reads_heard`].
    pub fn heard(&self) -> Option<&HeardIndex<'a>> {
        self.heard
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
    /// Whether the rule reads the record of delivered heartbeats itself ([`Cx::heard`]),
    /// taking as events only the deliveries it waits for ([`Rule::next_heard`],
    /// [`Rule::heard`]); the engine then keeps the record. Cheaper than
    /// [`Rule::reads_heartbeats`] when few deliveries can change a belief.
    fn reads_heard(&self) -> bool {
        false
    }
    /// The instant of the next delivery the rule waits for, if any (a rule that
    /// [`Rule::reads_heard`]).
    fn next_heard(&mut self) -> Option<Nanos> {
        None
    }
    /// Takes the deliveries handled at `cx.now` that the rule waits for, after the
    /// instant's other events, calling `touch` with each node whose belief may have changed.
    fn heard(&mut self, _cx: &Cx<'_>, _touch: &mut dyn FnMut(usize)) {}
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
///
/// What a heartbeat carries is read from the record when the heartbeat matters, not kept
/// for every one ([`Rule::reads_heard`]): whom its sender followed at the send (from each
/// node's history of switches) and the newest heartbeat its sender had received by then
/// from that node (the record of that link). The only deliveries taken as events are those
/// that can change a belief: into a node that follows itself (acknowledgements), and from
/// the node a follower follows while its view names another (the silence timer and a
/// disowning heartbeat). A follower's silence is read from the record when asked.
pub struct Lease {
    pub lease: Nanos,
    pub margin: Nanos,
    nodes: Vec<LeaseNode>,
    /// Per node, whom it followed from when: (instant, phase, node), phase 0 a (re)start
    /// and 2 a switch. Heartbeats sent at an instant leave after its restarts and before
    /// its switches (phase 1).
    history: Vec<Vec<(Nanos, u8, usize)>>,
    /// Per node, its (re)starts: what it received is forgotten at each.
    starts: Vec<Vec<Nanos>>,
    waiting: BinaryHeap<Reverse<Waited>>,
}

/// A delivery the lease waits for: (handled at, link, delivery, receiver, the receiver's
/// generation when it began waiting).
type Waited = (Nanos, usize, usize, usize, u32);

/// Which deliveries into a node the lease waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Waits {
    Nothing,
    /// From the node it follows (its view names another).
    From(usize),
    /// From every node (it follows itself).
    All,
}

#[derive(Clone)]
struct LeaseNode {
    follows: usize,
    /// When it began following `follows` (real time).
    since: Nanos,
    /// While following itself: per peer, the send time (real) of the newest of this
    /// node's heartbeats, sent since `since`, that the peer acknowledged while following it.
    acks: Vec<Option<Nanos>>,
    /// While following itself: the send time of the newest heartbeat a majority, itself
    /// included, acknowledged (kept as acknowledgements come).
    anchor: Option<Nanos>,
    /// The acknowledgements' send times, in order (`anchor` is the ⌊n/2⌋-th newest).
    ordered: Vec<Nanos>,
    waits: Waits,
    /// Bumped when `waits` changes: deliveries waited for before are dropped.
    generation: u32,
}

impl Lease {
    pub fn new(n: usize, lease: Nanos, margin: Nanos) -> Lease {
        let node = |x: usize| LeaseNode {
            follows: x,
            since: Nanos::ZERO,
            acks: vec![None; n],
            anchor: None,
            ordered: Vec::new(),
            waits: Waits::Nothing,
            generation: 0,
        };
        Lease {
            lease,
            margin,
            nodes: (0..n).map(node).collect(),
            history: vec![Vec::new(); n],
            starts: vec![Vec::new(); n],
            waiting: BinaryHeap::new(),
        }
    }

    fn switch(&mut self, x: usize, to: usize, at: Nanos) {
        let node = &mut self.nodes[x];
        node.follows = to;
        node.since = at;
        node.acks.iter_mut().for_each(|a| *a = None);
        node.anchor = None;
        node.ordered.clear();
        self.history[x].push((at, 2, to));
    }

    /// Whom `z` followed when it sent a heartbeat at `sent`.
    fn followed_at(&self, z: usize, sent: Nanos) -> usize {
        let h = &self.history[z];
        // Cannot fail: every node starts at 0, before anything is sent. (Mutation testing:
        // `<=` is equivalent: no entry has phase 1, so none equals `(sent, 1)`.)
        h[h.partition_point(|e| (e.0, e.1) < (sent, 1)) - 1].2
    }

    /// `x`'s last (re)start at or before `t`.
    fn started(&self, x: usize, t: Nanos) -> Nanos {
        let s = &self.starts[x];
        s.partition_point(|&r| r <= t).checked_sub(1).map_or(Nanos::ZERO, |i| s[i])
    }

    /// The acknowledgement a heartbeat `z` sent at `sent` carries for `leader`: the send
    /// time of the newest of `leader`'s heartbeats `z` had received since its (re)start, if
    /// `z` then followed `leader`.
    fn acknowledges(&self, heard: &HeardIndex<'_>, z: usize, sent: Nanos, leader: usize) -> Option<Nanos> {
        if self.followed_at(z, sent) != leader {
            return None;
        }
        heard.newest_sent(leader, z, self.started(z, sent), sent, false)
    }

    /// Sets which deliveries into `x` the lease waits for, from those handled at `now` on
    /// (`inclusive`) or after it.
    fn wait(&mut self, cx: &Cx<'_>, x: usize, waits: Waits, inclusive: bool) {
        let node = &mut self.nodes[x];
        if node.waits == waits {
            return;
        }
        node.waits = waits;
        node.generation = node.generation.wrapping_add(1);
        let generation = node.generation;
        let Some(heard) = cx.heard else { return };
        let (one, every): (Option<usize>, &[usize]) = match waits {
            Waits::Nothing => (None, &[]),
            Waits::From(f) => (heard.link(f, x), &[]),
            Waits::All => (None, heard.incoming(x)),
        };
        for link in one.into_iter().chain(every.iter().copied()) {
            let i = heard.first_from(link, cx.now, inclusive);
            if let Some(at) = heard.handled(link, i) {
                self.waiting.push(Reverse((at, link, i, x, generation)));
            }
        }
    }

    /// What `x` waits for, following whom it follows with `candidate` as its view's choice.
    fn waits(&self, x: usize, candidate: usize) -> Waits {
        let f = self.nodes[x].follows;
        if f == x {
            Waits::All
        } else if candidate != f {
            Waits::From(f)
        } else {
            Waits::Nothing
        }
    }

    /// While `x` follows itself: the local instant its lease ends (the send time of the
    /// newest heartbeat a majority, itself included, acknowledged, plus the lease).
    fn lease_end(&self, cx: &Cx<'_>, x: usize) -> Option<Nanos> {
        let node = &self.nodes[x];
        let anchor = node.anchor.filter(|_| node.follows == x)?;
        Some(cx.clocks[x].local(anchor).saturating_add(self.lease))
    }

    /// When `x`, following another node, may switch for silence: `lease + margin` by its
    /// clock after the last arrival from the node it follows (or after it began following).
    fn silence_end(&self, cx: &Cx<'_>, x: usize) -> Nanos {
        let node = &self.nodes[x];
        let last = cx.heard.and_then(|h| h.last_arrival(node.follows, x, cx.now));
        let from = last.map_or(node.since, |a| a.max(node.since));
        cx.clocks[x].local(from).saturating_add(self.lease).saturating_add(self.margin)
    }

    /// Whether the newest heartbeat `x` has received from `f` (since its (re)start) says
    /// its sender follows another node.
    fn disowned(&self, cx: &Cx<'_>, x: usize, f: usize) -> bool {
        let Some(heard) = cx.heard else { return false };
        heard.newest_sent(f, x, self.started(x, cx.now), cx.now, true).is_some_and(|s| self.followed_at(f, s) != f)
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

    fn reads_heard(&self) -> bool {
        true
    }

    fn next_heard(&mut self) -> Option<Nanos> {
        // Deliveries waited for by an earlier generation are dropped as they surface.
        while let Some(&Reverse((at, _, _, x, generation))) = self.waiting.peek() {
            if generation == self.nodes[x].generation {
                return Some(at);
            }
            self.waiting.pop();
        }
        None
    }

    fn heard(&mut self, cx: &Cx<'_>, touch: &mut dyn FnMut(usize)) {
        let Some(heard) = cx.heard else { return };
        while let Some(&Reverse((at, link, i, x, generation))) = self.waiting.peek() {
            if at > cx.now {
                break;
            }
            self.waiting.pop();
            if generation != self.nodes[x].generation {
                continue;
            }
            if let Some(next) = heard.handled(link, i + 1) {
                self.waiting.push(Reverse((next, link, i + 1, x, generation)));
            }
            match self.nodes[x].waits {
                // A heartbeat of the node it follows moves its silence timer and may disown it.
                Waits::From(_) => touch(x),
                Waits::All => {
                    // Cannot fail: the delivery was found on this link.
                    let (sent, _) = heard.delivery(link, i).expect("a delivery waited for");
                    let z = heard.sender(link);
                    let since = self.nodes[x].since;
                    if let Some(s) = self.acknowledges(heard, z, sent, x).filter(|&s| s >= since) {
                        let node = &mut self.nodes[x];
                        let old = node.acks[z];
                        let new = old.map_or(s, |a| a.max(s));
                        node.acks[z] = Some(new);
                        let before = node.anchor;
                        // One peer's acknowledgement rose: it moves in the order, and the
                        // anchor is the ⌊n/2⌋-th newest.
                        let ordered = &mut node.ordered;
                        if let Some(old) = old {
                            // Cannot fail: every acknowledgement is in the order.
                            let i = ordered.binary_search(&old).expect("an acknowledgement in order");
                            ordered.remove(i);
                        }
                        ordered.insert(ordered.partition_point(|&a| a <= new), new);
                        let others = cx.n / 2;
                        node.anchor = (others > 0 && ordered.len() >= others).then(|| ordered[ordered.len() - others]);
                        // Its lease, all its belief depends on here, moved.
                        if node.anchor != before {
                            touch(x);
                        }
                    }
                }
                Waits::Nothing => {}
            }
        }
    }

    fn start(&mut self, cx: &Cx<'_>, x: usize, at: Nanos) {
        let node = &mut self.nodes[x];
        (node.follows, node.since, node.anchor) = (x, at, None);
        node.ordered.clear();
        node.acks.iter_mut().for_each(|a| *a = None);
        self.history[x].push((at, 0, x));
        self.starts[x].push(at);
        // The instant's deliveries come after its restarts: they count. (None can carry an
        // acknowledgement yet, which must be of a heartbeat sent at or after the restart and
        // received before the acknowledging one was sent: `false` here is equivalent.)
        self.wait(cx, x, Waits::All, true);
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
                if silent || self.disowned(cx, x, f) {
                    self.switch(x, candidate, at);
                }
            }
        }
        // The instant's deliveries are taken: wait for later ones.
        self.wait(cx, x, self.waits(x, candidate), false);
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

    use super::super::heard::{Heard, HeardIndex};

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
        let mut heard = Heard::default();
        heard.push(0, 1, Nanos::ZERO, ms(10));
        let index = HeardIndex::new(&heard, 3, &vec![vec![Nanos::ZERO]; 3]);
        let mut lease = Lease::new(3, ms(2_500), ms(500));
        {
            let cx = |now| Cx {
                n: 3,
                order: &order,
                clocks: &clocks,
                now,
                views: &views,
                stalled: &stalled,
                heard: Some(&index),
            };
            (0..3).for_each(|x| lease.start(&cx(Nanos::ZERO), x, Nanos::ZERO));
            assert_eq!(lease.belief(&cx(Nanos::ZERO), 1, Nanos::ZERO), Belief { names: Some(0), leads: false });
            // b's view names a, whom it follows: it waits for nothing.
            assert_eq!((lease.nodes[1].waits, lease.deadline(&cx(Nanos::ZERO), 1)), (Waits::Nothing, None));
            assert_eq!(lease.belief(&cx(ms(10)), 1, ms(10)), Belief { names: Some(0), leads: false });
        }
        views[1].set(0, true);
        stalled[1] = 1;
        {
            let cx = Cx {
                n: 3,
                order: &order,
                clocks: &clocks,
                now: ms(10_000),
                views: &views,
                stalled: &stalled,
                heard: Some(&index),
            };
            assert!(cx.stalled(1) && !cx.stalled(0));
            assert_eq!(lease.belief(&cx, 1, ms(10_000)), Belief { names: Some(0), leads: false });
            assert_eq!(lease.deadline(&cx, 1), None);
            // Suspecting the node it follows, it waits for that node's heartbeats.
            assert_eq!(lease.nodes[1].waits, Waits::From(0));
        }
        stalled[1] = 0;
        let cx = Cx {
            n: 3,
            order: &order,
            clocks: &clocks,
            now: ms(10_000),
            views: &views,
            stalled: &stalled,
            heard: Some(&index),
        };
        // Not stalled: the silence deadline is the last arrival plus lease and margin.
        assert_eq!(lease.deadline(&cx, 1), Some(ms(3_010)));
        assert_eq!(lease.belief(&cx, 1, ms(10_000)), Belief { names: Some(1), leads: false });
        assert_eq!(lease.nodes[1].waits, Waits::All);
    }

    fn set(n: usize, members: &[usize]) -> NodeSet {
        let mut s = NodeSet::new(n);
        members.iter().for_each(|&m| s.set(m, true));
        s
    }

    /// What a user's rule reads of the cluster, by hand, on four nodes whose ids sort as
    /// 2 < 0 < 3 < 1 (`order`): node 0 suspects 2; node 1 suspects nobody; node 2 suspects
    /// 0, 1, 3 and (a view naming its own node) 2; node 3 suspects 2 and 0. A node never
    /// suspects itself; it trusts the others in id order, itself included; its candidate is
    /// the first of them, itself when it suspects every other node. Node 3's receiving is
    /// paused twice over (a node pause and a monitor pause), node 1's not at all.
    #[test]
    fn a_rules_view_of_the_cluster_by_hand() {
        let order = [2, 0, 3, 1];
        let clocks = [Clock::EXACT; 4];
        let views = [set(4, &[2]), set(4, &[]), set(4, &[0, 1, 2, 3]), set(4, &[0, 2])];
        let stalled = [0u32, 0, 1, 2];
        let cx = Cx {
            n: 4,
            order: &order,
            clocks: &clocks,
            now: Nanos::ZERO,
            views: &views,
            stalled: &stalled,
            heard: None,
        };
        assert!(cx.suspects(0, 2) && cx.suspects(2, 3) && cx.suspects(3, 0));
        assert!(!cx.suspects(0, 1) && !cx.suspects(1, 2) && !cx.suspects(3, 1));
        assert!(!cx.suspects(2, 2) && !cx.suspects(0, 0), "a node never suspects itself");
        let trusted = |x: usize| cx.trusted(x).collect::<Vec<_>>();
        assert_eq!(
            [trusted(0), trusted(1), trusted(2), trusted(3)],
            [vec![0, 3, 1], vec![2, 0, 3, 1], vec![2], vec![3, 1]]
        );
        assert_eq!([0, 1, 2, 3].map(|x| cx.candidate(x)), [0, 2, 2, 3]);
        assert_eq!([0, 1, 2, 3].map(|x| cx.stalled(x)), [false, false, true, true]);
        assert!(cx.heard().is_none());
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
        let cx = Cx {
            n: 4,
            order: &order,
            clocks: &clocks,
            now: Nanos::ZERO,
            views: &views,
            stalled: &stalled,
            heard: None,
        };
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
            let cx = Cx {
                n,
                order: &order,
                clocks: &clocks,
                now: Nanos::ZERO,
                views: &views,
                stalled: &stalled,
                heard: None,
            };
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
    /// a (0) follows itself from 0; b (1) and c (2) follow a at once. b acknowledges a's
    /// heartbeat sent at 0 (received at 10 ms) with its own sent at 1 s (handled by a at
    /// 1.01 s): one acknowledgement, no lease. c acknowledges the same heartbeat at 1.2 s:
    /// now the second newest acknowledged send is 0, so a leads until 0 + 2.5 s by its
    /// clock, its deadline.
    #[test]
    fn a_leases_quorum_on_five_nodes_is_two_other_nodes() {
        let ms = Nanos::from_millis;
        let order = [0, 1, 2, 3, 4];
        let clocks = [Clock::EXACT; 5];
        let views = vec![NodeSet::new(5); 5];
        let stalled = [0u32; 5];
        let mut heard = Heard::default();
        for (from, to, sent, at) in [(0, 1, 0, 10), (0, 2, 0, 10), (1, 0, 1_000, 1_010), (2, 0, 1_190, 1_200)] {
            heard.push(from, to, ms(sent), ms(at));
        }
        let index = HeardIndex::new(&heard, 5, &vec![vec![Nanos::ZERO]; 5]);
        let cx = |now| Cx {
            n: 5,
            order: &order,
            clocks: &clocks,
            now,
            views: &views,
            stalled: &stalled,
            heard: Some(&index),
        };
        // A rule reads the record through `Cx::heard`: links numbered by (sender, receiver),
        // 0 → 1, 0 → 2, 1 → 0, 2 → 0; b's heartbeat reached a at 1.01 s.
        let at_zero = cx(Nanos::ZERO);
        let record = at_zero.heard().expect("the record");
        assert_eq!((record.link(1, 0), record.last_arrival(1, 0, ms(2_000))), (Some(2), Some(ms(1_010))));
        let mut lease = Lease::new(5, ms(2_500), ms(500));
        (0..5).for_each(|x| lease.start(&cx(Nanos::ZERO), x, Nanos::ZERO));
        assert_eq!(lease.next_heard(), Some(ms(10)), "everyone follows itself: every delivery matters");
        assert_eq!(lease.belief(&cx(Nanos::ZERO), 0, Nanos::ZERO), Belief { names: Some(0), leads: false });
        for x in 1..5 {
            assert_eq!(lease.belief(&cx(Nanos::ZERO), x, Nanos::ZERO), Belief { names: Some(0), leads: false });
        }
        // Only a, following itself, waits: for its followers' heartbeats.
        assert_eq!(lease.next_heard(), Some(ms(1_010)));
        let mut touched = Vec::new();
        lease.heard(&cx(ms(1_010)), &mut |x| touched.push(x));
        assert_eq!(touched, Vec::<usize>::new(), "one acknowledgement of two moves no lease: nothing to re-evaluate");
        assert_eq!(lease.belief(&cx(ms(1_010)), 0, ms(1_010)), Belief { names: Some(0), leads: false }, "one of two");
        assert_eq!(lease.deadline(&cx(ms(1_010)), 0), None);
        assert_eq!(lease.next_heard(), Some(ms(1_200)));
        lease.heard(&cx(ms(1_200)), &mut |x| touched.push(x));
        assert_eq!(touched, [0], "the second makes a leader");
        assert_eq!(lease.belief(&cx(ms(1_200)), 0, ms(1_200)), Belief { names: Some(0), leads: true });
        assert_eq!(lease.deadline(&cx(ms(1_200)), 0), Some(ms(2_500)));
        assert_eq!(
            lease.belief(&cx(ms(2_500)), 0, ms(2_500)),
            Belief { names: Some(0), leads: false },
            "the lease ended"
        );
        assert_eq!((lease.name(), lease.next_heard()), ("lease".to_string(), None));
        assert!(lease.reads_heard() && !lease.reads_heartbeats());
    }
}
