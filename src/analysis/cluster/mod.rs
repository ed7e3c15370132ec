//! Cluster views, leader rules and split brain (docs/split-brain.md).
//!
//! Views never feed back into heartbeats, so they are computed after the run from what the
//! engine reported: every monitored link's suspicion intervals (real time) for each
//! detector configuration, when each node was running, and, for rules that answer
//! heartbeats (the lease), every delivered heartbeat. At every instant:
//!
//! - the **view** of node X is the set of peers X suspects ([`views`]): its own verdict on
//!   the peers it monitors, and for a peer it does not monitor the union of that peer's
//!   monitors' verdicts, `gossip_delay` late (Akka: unreachable if any observer says so);
//!   a peer X has not heard within `first_timeout` of its (re)start counts as suspected;
//!   X acts on a view once it has held for `stable_after`;
//! - X's **belief** under a rule ([`rules::Rule`]) follows from its view (and, for the
//!   lease, from the heartbeats it heard);
//! - **split brain** is any time during which two or more running nodes each believe they
//!   lead. A node is running unless crashed or in a whole-node pause.
//!
//! The state at an instant is the state after all events of that instant (intervals are
//! half-open); a zero-length suspicion that would have made a node lead for no time while
//! another led is counted apart, as `split_brain_instants`.

mod downing;
pub mod heard;
#[cfg(test)]
mod random_inputs;
pub mod rules;
pub mod run;
pub mod timeline;
mod views;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::poisson::poisson_rate_ci95;
use crate::detector::{Arrival, DetectorSpec};
use crate::experiment::{ClusterSettings, LeaderRule};
use crate::time::{Clock, Nanos};
use heard::{Heard, HeardIndex};
use rules::{Belief, Cx, Lease, Rule, ViewRule};

/// Suspicion intervals `[start, end)` per monitored link (monitor, target), by node index.
pub type LinkSuspicions = BTreeMap<(usize, usize), Vec<(Nanos, Nanos)>>;

/// Per monitored link (monitor, target): for each (re)start of the monitor (real time), when
/// it first heard the target after it (`None`: not before the monitor stopped).
pub type FirstHeard = BTreeMap<(usize, usize), Vec<(Nanos, Option<Nanos>)>>;

/// A delivered heartbeat: sender, receiver, when it was sent and when the receiver handled
/// it (real time; a paused receiver handles it at its resume).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Heartbeat {
    pub from: usize,
    pub to: usize,
    pub sent: Nanos,
    pub at: Nanos,
}

/// A set of nodes by index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSet(Vec<u64>);

impl NodeSet {
    pub fn new(n: usize) -> NodeSet {
        NodeSet(vec![0; n.div_ceil(64)])
    }
    pub fn contains(&self, i: usize) -> bool {
        self.0[i / 64] >> (i % 64) & 1 == 1
    }
    pub fn set(&mut self, i: usize, on: bool) {
        if on {
            self.0[i / 64] |= 1 << (i % 64);
        } else {
            self.0[i / 64] &= !(1 << (i % 64));
        }
    }
}

/// What the analysis needs from the engine, for one detector configuration.
pub struct ClusterInput<'a> {
    /// Node names; a rule's "lowest id" is the lowest in this (string) order.
    pub ids: &'a [String],
    /// Per node, its clock (the lease is timed by it).
    pub clocks: &'a [Clock],
    /// Per node, the windows `[from, to)` in which it was crashed, real time, in any order
    /// (`to` is the run's end for a crash-stop).
    pub crashed: &'a [Vec<(Nanos, Nanos)>],
    /// Per node, the windows in which the whole node was paused (alive, not running).
    pub paused: &'a [Vec<(Nanos, Nanos)>],
    /// Per node, the windows in which its receiving was paused (whole-node and monitor
    /// pauses): its timers wait for the resume.
    pub stalled: &'a [Vec<(Nanos, Nanos)>],
    /// Per monitored link (monitor, target) by node index, its suspicion intervals `[start,
    /// end)` in real time.
    pub suspicions: &'a LinkSuspicions,
    /// When each monitor first heard each target after each of its (re)starts.
    pub first_heard: &'a FirstHeard,
    /// The delivered heartbeats, when a rule reads them.
    pub heard: &'a Heard,
    /// When each injected fault began (real time, any order): a failover is censored by
    /// the next one.
    pub fault_starts: &'a [Nanos],
    /// The `first_timeout` of this configuration (`None`: never).
    pub first_timeout: Option<Nanos>,
    pub settings: &'a ClusterSettings,
    pub end: Nanos,
}

/// The figures of one detector configuration under one rule.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ClusterFigures {
    pub rule: String,
    /// Time during which two or more running nodes each believed they led.
    pub split_brain_s: f64,
    pub split_brain_fraction: f64,
    /// Maximal intervals of split brain.
    pub split_brain_episodes: u64,
    pub split_brain_rate_per_s: f64,
    /// Exact (Garwood) 95 % interval of the episode rate.
    pub split_brain_rate_per_s_ci95: Option<[f64; 2]>,
    pub split_brain_longest_s: f64,
    /// Instants at which a node would have led for no time (a zero-length suspicion at a
    /// resume) while another running node led.
    #[serde(default)]
    pub split_brain_instants: u64,
    /// Time with at least one running node and none that believed it led.
    pub leaderless_s: f64,
    /// Time during which running nodes named different leaders (or some none).
    pub disagreement_s: f64,
    /// Failovers after a real crash of a node that led: from the crash until every running
    /// node names the same running node and it leads. Completed ones.
    #[serde(default)]
    pub failovers: u64,
    /// Failovers the next fault or the run's end cut short.
    #[serde(default)]
    pub failovers_censored: u64,
    #[serde(default)]
    pub failover_mean_s: Option<f64>,
    #[serde(default)]
    pub failover_max_s: Option<f64>,
}

/// The wrongful downing of one detector configuration (independent of the rule): time
/// during which a node that had not crashed was suspected by `downing_quorum` of its
/// monitors that had not crashed (default one: Akka marks a node unreachable on one
/// observer's word), summed over nodes, and how many such intervals.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Downing {
    pub wrongful_downing_s: f64,
    pub wrongful_downing_episodes: u64,
}

/// The cluster figures of one detector configuration: one entry per rule, and downing.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ClusterEntry {
    pub detector: String,
    pub kind: String,
    #[serde(default)]
    pub knob: Option<String>,
    pub threshold: f64,
    #[serde(flatten)]
    pub downing: Downing,
    pub rules: Vec<ClusterFigures>,
}

/// The built-in rules of `settings` (the lease needs its `lease`, which validation ensures).
pub fn built_in(settings: &ClusterSettings, n: usize) -> Vec<Box<dyn Rule>> {
    settings
        .rules()
        .into_iter()
        .map(|rule| -> Box<dyn Rule> {
            match rule {
                LeaderRule::LowestUnsuspected => Box::new(ViewRule { majority: false, tie_break: false }),
                LeaderRule::Majority => Box::new(ViewRule { majority: true, tie_break: settings.majority_tie_break }),
                LeaderRule::Lease => {
                    Box::new(Lease::new(n, settings.lease.unwrap_or(Nanos::ZERO), settings.lease_margin))
                }
            }
        })
        .collect()
}

/// The default `first_timeout` of each detector configuration, by label: the silence after
/// which it would suspect a peer heard once, at the (re)start (`None`: never, or a detector
/// that needs more than one heartbeat to judge).
pub fn first_timeouts(specs: &[DetectorSpec]) -> BTreeMap<String, Option<Nanos>> {
    let heard = Arrival { at: Nanos::ZERO, seq: Some(0), incarnation: Some(0), sent: Some(Nanos::ZERO) };
    specs
        .iter()
        .flat_map(|spec| {
            spec.points().into_iter().map(move |point| {
                let mut detector = spec.build();
                detector.heartbeat(&heard, point.threshold);
                (point.label, detector.suspect_at(point.threshold, Nanos::ZERO))
            })
        })
        .collect()
}

/// An event of the sweep, in the order events of one instant are applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// A crashed node recovers: it starts afresh.
    Restart(usize),
    /// Heartbeat `id` leaves its sender (it carries the sender's state from before the
    /// instant's other events).
    Send(usize),
    /// A node stops running (`crash`: a crash, else a whole-node pause).
    Stop { node: usize, crash: bool },
    /// A whole-node pause ends.
    Resume(usize),
    /// A node's receiving is paused (+) or resumes.
    Stall { node: usize, on: bool },
    /// A node acts on a new view (an index into the view changes).
    View(usize),
    /// Heartbeat `id` reaches its receiver.
    Deliver(usize),
}

impl Event {
    /// The node whose belief the event may change (heartbeats: as the rule says).
    fn node(self, views: &[views::ViewChange]) -> Option<usize> {
        match self {
            Event::Restart(x) | Event::Resume(x) | Event::Stop { node: x, .. } | Event::Stall { node: x, .. } => {
                Some(x)
            }
            Event::View(v) => Some(views[v].node),
            Event::Send(_) | Event::Deliver(_) => None,
        }
    }
}

/// The nodes whose beliefs an instant's events may have changed, under which rules, in the
/// order they were first touched.
struct Touched {
    /// Per node: whether it is listed, then one flag per rule.
    stride: usize,
    flags: Vec<bool>,
    list: Vec<usize>,
}

impl Touched {
    fn new(n: usize, rules: usize) -> Touched {
        Touched { stride: rules + 1, flags: vec![false; n * (rules + 1)], list: Vec::new() }
    }

    fn listed(&mut self, x: usize) -> &mut [bool] {
        let flags = &mut self.flags[x * self.stride..(x + 1) * self.stride];
        if !std::mem::replace(&mut flags[0], true) {
            self.list.push(x);
        }
        &mut self.flags[x * self.stride + 1..(x + 1) * self.stride]
    }

    /// `x` under rule `r`.
    fn rule(&mut self, x: usize, r: usize) {
        self.listed(x)[r] = true;
    }

    /// `x` under every rule.
    fn all(&mut self, x: usize) {
        self.listed(x).fill(true);
    }

    fn has(&self, x: usize, r: usize) -> bool {
        // (Mutation testing: `true` here is equivalent: a node touched under one rule is then
        // asked again under every rule, and a rule's belief and deadline at an instant are
        // what its state holds after the instant's events, asked once or twice (the per-rule
        // flags only save those calls); the lease is held to that by `random_inputs.rs`.)
        self.flags[x * self.stride + 1 + r]
    }

    fn clear(&mut self) {
        // (Mutation testing, equivalent: doing nothing here, for the reason given at `has`:
        // every node once touched is then asked again at every later instant, under the
        // rules it was touched under, and answers the same; `x / self.stride` for the range's
        // start, which also clears flags of nodes before `x`, all false or listed.)
        for &x in &self.list {
            self.flags[x * self.stride..(x + 1) * self.stride].fill(false);
        }
        self.list.clear();
    }
}

/// One rule's beliefs and the figures it accumulates.
struct Tally {
    rule: Box<dyn Rule>,
    reads_heard: bool,
    belief: Vec<Belief>,
    /// Whether the node's belief is in the counts (it is running).
    counted: Vec<bool>,
    leading: u32,
    named: BTreeMap<Option<usize>, u32>,
    deadline: Vec<Option<Nanos>>,
    split: Span,
    leaderless: Span,
    disagreement: Span,
    instants: u64,
    /// (crash instant, the next fault's start) of the failover under way.
    failover: Option<(Nanos, Nanos)>,
    failovers: Vec<Nanos>,
    censored: u64,
}

impl Tally {
    fn uncount(&mut self, x: usize) {
        if std::mem::take(&mut self.counted[x]) {
            self.leading -= u32::from(self.belief[x].leads);
            let c = self.named.get_mut(&self.belief[x].names).expect("counted");
            *c -= 1;
            if *c == 0 {
                self.named.remove(&self.belief[x].names);
            }
        }
    }

    fn count(&mut self, x: usize, belief: Belief) {
        if self.counted[x] && self.belief[x] == belief {
            return;
        }
        self.uncount(x);
        self.belief[x] = belief;
        self.counted[x] = true;
        self.leading += u32::from(belief.leads);
        *self.named.entry(belief.names).or_default() += 1;
    }

    /// Every running node names the same running node, which leads.
    fn settled(&self, running: &[bool]) -> bool {
        match self.named.keys().collect::<Vec<_>>()[..] {
            [Some(l)] => running[*l] && self.belief[*l].leads,
            _ => false,
        }
    }
}

/// Computes the figures of `rules` and the downing for one detector configuration.
pub fn analyze(input: &ClusterInput<'_>, rules: Vec<Box<dyn Rule>>) -> (Downing, Vec<ClusterFigures>) {
    let a = analyze_recording(input, rules, None);
    (a.downing, a.figures)
}

/// What a node is at an instant, for the leader timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeState {
    Crashed,
    Paused,
    Believes(Belief),
}

/// The analysis of one detector configuration.
pub struct Analysis {
    pub downing: Downing,
    pub figures: Vec<ClusterFigures>,
    /// Per rule, its longest split-brain episode `[from, to)`.
    pub longest: Vec<Option<(Nanos, Nanos)>>,
    /// When recording: every change of a node's state under the recorded rule, up to the
    /// recording's end, as (instant, node, state), in time order.
    pub recorded: Vec<(Nanos, usize, NodeState)>,
}

/// [`analyze`], also recording every node's state under rule number `record.0` until
/// `record.1`.
pub fn analyze_recording(
    input: &ClusterInput<'_>,
    rules: Vec<Box<dyn Rule>>,
    record: Option<(usize, Nanos)>,
) -> Analysis {
    let downing = downing::downing(input);
    let n = input.ids.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| input.ids[a].cmp(&input.ids[b]));
    let (view_changes, flickers) = views::acting_views(input);
    let reads_heartbeats = rules.iter().any(|r| r.reads_heartbeats());
    let heartbeats: Vec<Heartbeat> = if reads_heartbeats { input.heard.heartbeats() } else { Vec::new() };
    let end = input.end;
    // Every node starts at 0 and restarts at the end of each crash.
    // (Mutation testing, equivalent: any comparison in this filter: the index takes these
    // restarts only as where its running maxima begin, which decides where its shortcut
    // applies, never an answer; see `IndexedLink::blocks`.)
    let starts: Vec<Vec<Nanos>> = input
        .crashed
        .iter()
        .map(|windows| {
            let mut s: Vec<Nanos> =
                windows.iter().filter(|w| w.0 < w.1 && w.0 < end && w.1 < end).map(|w| w.1).collect();
            s.push(Nanos::ZERO);
            s.sort_unstable();
            s
        })
        .collect();
    let index = rules.iter().any(|r| r.reads_heard()).then(|| HeardIndex::new(input.heard, n, &starts));
    let heard = index.as_ref();

    // Heartbeats are the bulk of the events (one send and one delivery for every heartbeat
    // every node hears), so they are not sorted in with the rest: their deliveries are taken
    // in the order of `heartbeats`, which is time order (`Heard::heartbeats`), and their
    // sends from a list of (send time, id).
    let delivered = |id: u32| heartbeats[id as usize].at;
    let delivery = |k: usize| -> Option<u32> { (k < heartbeats.len()).then_some(k as u32) };
    // (Mutation testing, equivalent: `<=` for `hb.at < end`: engines record no delivery at
    // or after the end, and the sweep never reaches one.)
    let mut sends: Vec<(Nanos, u32)> =
        heartbeats.iter().enumerate().filter(|(_, hb)| hb.at < end).map(|(id, hb)| (hb.sent, id as u32)).collect();
    sends.sort_unstable();
    let mut events: Vec<(Nanos, Event)> = Vec::new();
    for (v, c) in view_changes.iter().enumerate() {
        events.push((c.at, Event::View(v)));
    }
    // (Mutation testing, equivalent: `<=` for `w.0 < end` and for `to < end`, here and for
    // the stalls below: they only add events at `end`, which the sweep never reaches.)
    for (crash, lists) in [(true, input.crashed), (false, input.paused)] {
        for (node, windows) in lists.iter().enumerate() {
            for &(from, to) in windows.iter().filter(|w| w.0 < w.1 && w.0 < end) {
                events.push((from, Event::Stop { node, crash }));
                if to < end {
                    events.push((to, if crash { Event::Restart(node) } else { Event::Resume(node) }));
                }
            }
        }
    }
    for (node, windows) in input.stalled.iter().enumerate() {
        for &(from, to) in windows.iter().filter(|w| w.0 < w.1 && w.0 < end) {
            events.push((from, Event::Stall { node, on: true }));
            events.push((to.min(end), Event::Stall { node, on: false }));
        }
    }
    events.sort_unstable();
    let mut fault_starts = input.fault_starts.to_vec();
    fault_starts.sort_unstable();

    let mut views = vec![NodeSet::new(n); n];
    let (mut crashed, mut paused, mut stalled) = (vec![0u32; n], vec![0u32; n], vec![0u32; n]);
    let mut running = vec![true; n];
    let mut tallies: Vec<Tally> = rules
        .into_iter()
        .map(|rule| Tally {
            reads_heard: rule.reads_heard(),
            rule,
            belief: vec![Belief::default(); n],
            counted: vec![false; n],
            leading: 0,
            named: BTreeMap::new(),
            deadline: vec![None; n],
            split: Span::default(),
            leaderless: Span::default(),
            disagreement: Span::default(),
            instants: 0,
            failover: None,
            failovers: Vec::new(),
            censored: 0,
        })
        .collect();
    let mut recorded = Vec::new();
    let mut last_state: Vec<Option<NodeState>> = vec![None; n];
    // (instant, rule, node) of every rule's next timer per node.
    let mut deadlines: BTreeSet<(Nanos, usize, usize)> = BTreeSet::new();
    let mut touched = Touched::new(n, tallies.len());
    // Every node starts at 0.
    {
        let now = Nanos::ZERO;
        let cx = Cx { n, order: &order, clocks: input.clocks, now, views: &views, stalled: &stalled, heard };
        for t in &mut tallies {
            for x in 0..n {
                t.rule.start(&cx, x, Nanos::ZERO);
            }
        }
        (0..n).for_each(|x| touched.all(x));
    }
    let (mut i, mut si, mut di) = (0, 0, 0);
    let mut f = 0;
    let mut now = Nanos::ZERO;
    loop {
        // A failover still under way when the next fault begins is cut short by it: before
        // the instant's events, so that a crash now of a node that leads opens the next one
        // (the fault need not be an event here: a partition's start changes nothing at once).
        for t in &mut tallies {
            if t.failover.is_some_and(|(_, censor)| now >= censor) {
                t.censored += 1;
                t.failover = None;
            }
        }
        // The instant's events, in their order: restarts, sends, the rest, deliveries.
        loop {
            let at_now = |e: &&(Nanos, Event)| e.0 == now;
            let event = if let Some(&(_, e @ Event::Restart(_))) = events.get(i).filter(at_now) {
                i += 1;
                e
            } else if let Some(&(_, id)) = sends.get(si).filter(|s| s.0 == now) {
                si += 1;
                Event::Send(id as usize)
            } else if let Some(&(_, e)) = events.get(i).filter(at_now) {
                i += 1;
                e
            } else if let Some(id) = delivery(di).filter(|&id| delivered(id) == now) {
                di += 1;
                Event::Deliver(id as usize)
            } else {
                break;
            };
            let cx = Cx { n, order: &order, clocks: input.clocks, now, views: &views, stalled: &stalled, heard };
            match event {
                Event::Restart(x) => {
                    crashed[x] -= 1;
                    for t in &mut tallies {
                        t.rule.start(&cx, x, now);
                    }
                }
                Event::Send(id) => {
                    for (r, t) in tallies.iter_mut().enumerate() {
                        if t.rule.send(&cx, id, &heartbeats[id]) {
                            touched.rule(heartbeats[id].from, r);
                        }
                    }
                }
                Event::Deliver(id) => {
                    for (r, t) in tallies.iter_mut().enumerate() {
                        if t.rule.deliver(&cx, id, &heartbeats[id]) {
                            touched.rule(heartbeats[id].to, r);
                        }
                    }
                }
                Event::Stop { node, crash } => {
                    if crash {
                        // A crash of a node that led opens a failover.
                        for t in tallies.iter_mut().filter(|t| t.counted[node] && t.belief[node].leads) {
                            if t.failover.is_none() {
                                let next = fault_starts.iter().copied().find(|&s| s > now).unwrap_or(end);
                                t.failover = Some((now, next));
                            }
                        }
                        crashed[node] += 1;
                    } else {
                        paused[node] += 1;
                    }
                }
                Event::Resume(x) => paused[x] -= 1,
                Event::Stall { node, on } => stalled[node] = if on { stalled[node] + 1 } else { stalled[node] - 1 },
                Event::View(v) => views[view_changes[v].node] = view_changes[v].set.clone(),
            }
            if let Some(x) = event.node(&view_changes) {
                touched.all(x);
            }
        }
        // The deliveries that rules reading the record wait for, last like every delivery.
        {
            let cx = Cx { n, order: &order, clocks: input.clocks, now, views: &views, stalled: &stalled, heard };
            for (r, t) in tallies.iter_mut().enumerate().filter(|(_, t)| t.reads_heard) {
                t.rule.heard(&cx, &mut |x| touched.rule(x, r));
            }
        }
        while let Some(&(_, r, x)) = deadlines.first().filter(|d| d.0 == now) {
            deadlines.pop_first();
            tallies[r].deadline[x] = None;
            touched.rule(x, r);
        }
        // Beliefs after the instant.
        let cx = Cx { n, order: &order, clocks: input.clocks, now, views: &views, stalled: &stalled, heard };
        let mut record_now = |x: usize, t: &Tally, recorded: &mut Vec<(Nanos, usize, NodeState)>| {
            let state = if crashed[x] > 0 {
                NodeState::Crashed
            } else if paused[x] > 0 {
                NodeState::Paused
            } else {
                NodeState::Believes(t.belief[x])
            };
            if last_state[x] != Some(state) {
                last_state[x] = Some(state);
                recorded.push((now, x, state));
            }
        };
        for &x in &touched.list {
            running[x] = crashed[x] == 0 && paused[x] == 0;
            for (r, t) in tallies.iter_mut().enumerate().filter(|(r, _)| touched.has(x, *r)) {
                if running[x] {
                    let belief = t.rule.belief(&cx, x, now);
                    t.count(x, belief);
                } else {
                    t.uncount(x);
                }
                let deadline = if crashed[x] == 0 { t.rule.deadline(&cx, x).filter(|&d| d > now) } else { None };
                if t.deadline[x] != deadline {
                    if let Some(old) = std::mem::replace(&mut t.deadline[x], deadline) {
                        deadlines.remove(&(old, r, x));
                    }
                    if let Some(d) = deadline {
                        deadlines.insert((d, r, x));
                    }
                }
                if record.is_some_and(|(rule, until)| rule == r && now <= until) {
                    record_now(x, t, &mut recorded);
                }
            }
        }
        touched.clear();
        // Zero-length suspicions of this instant.
        while f < flickers.len() && flickers[f].at < now {
            f += 1;
        }
        let mut g = f;
        while g < flickers.len() && flickers[g].at == now {
            let x = flickers[g].node;
            let mut extra = NodeSet::new(n);
            while g < flickers.len() && flickers[g].at == now && flickers[g].node == x {
                extra.set(flickers[g].peer, true);
                g += 1;
            }
            if running[x] {
                for t in &mut tallies {
                    // x does not lead, so every node that leads is another.
                    if t.leading > 0 && !t.belief[x].leads && t.rule.flicker(&cx, x, &extra).is_some_and(|b| b.leads) {
                        t.instants += 1;
                    }
                }
            }
        }
        f = g;
        let next_deadline = deadlines.first().map(|d| d.0);
        let next = events
            .get(i)
            .map_or(end, |e| e.0)
            .min(sends.get(si).map_or(end, |s| s.0))
            .min(delivery(di).map_or(end, delivered))
            .min(next_deadline.unwrap_or(end))
            .min(tallies.iter_mut().filter(|t| t.reads_heard).filter_map(|t| t.rule.next_heard()).min().unwrap_or(end))
            .min(end);
        let any_running = running.iter().any(|&r| r);
        for t in &mut tallies {
            if let Some((from, _)) = t.failover
                && t.settled(&running)
            {
                t.failovers.push(now - from);
                t.failover = None;
            }
            // (`next > now`: everything due at `now` has been taken.)
            t.split.step(t.leading >= 2, now, next);
            t.leaderless.step(any_running && t.leading == 0, now, next);
            t.disagreement.step(t.named.len() > 1, now, next);
        }
        if next >= end {
            break;
        }
        now = next;
    }
    let end_s = end.as_secs_f64();
    let longest = tallies.iter().map(|t| t.split.longest_at).collect();
    let figures = tallies
        .into_iter()
        .map(|t| {
            let censored = t.censored + u64::from(t.failover.is_some());
            let done = t.failovers.len() as u64;
            let total: Nanos = t.failovers.iter().fold(Nanos::ZERO, |a, &d| a + d);
            ClusterFigures {
                rule: t.rule.name(),
                split_brain_s: t.split.total.as_secs_f64(),
                split_brain_fraction: if end_s > 0.0 { t.split.total.as_secs_f64() / end_s } else { 0.0 },
                split_brain_episodes: t.split.episodes,
                split_brain_rate_per_s: if end_s > 0.0 { t.split.episodes as f64 / end_s } else { 0.0 },
                split_brain_rate_per_s_ci95: poisson_rate_ci95(t.split.episodes, end_s),
                split_brain_longest_s: t.split.longest.as_secs_f64(),
                split_brain_instants: t.instants,
                leaderless_s: t.leaderless.total.as_secs_f64(),
                disagreement_s: t.disagreement.total.as_secs_f64(),
                failovers: done,
                failovers_censored: censored,
                failover_mean_s: (done > 0).then(|| total.as_secs_f64() / done as f64),
                failover_max_s: t.failovers.iter().max().map(|d| d.as_secs_f64()),
            }
        })
        .collect();
    Analysis { downing, figures, longest, recorded }
}

/// Time, episodes and the longest episode of a condition over the run.
#[derive(Default)]
struct Span {
    total: Nanos,
    episodes: u64,
    longest: Nanos,
    /// The longest episode, `[from, to)`.
    longest_at: Option<(Nanos, Nanos)>,
    current: Nanos,
    /// Where the condition last held until (an episode continues across adjacent steps).
    until: Option<Nanos>,
}

impl Span {
    fn step(&mut self, holds: bool, from: Nanos, to: Nanos) {
        if !holds {
            return;
        }
        if self.until != Some(from) {
            self.episodes += 1;
            self.current = Nanos::ZERO;
        }
        self.total = self.total + (to - from);
        self.current = self.current + (to - from);
        if self.current > self.longest {
            self.longest = self.current;
            self.longest_at = Some((to - self.current, to));
        }
        self.until = Some(to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Nanos {
        Nanos::from_millis(v)
    }

    type Link = (usize, usize);

    fn ids() -> Vec<String> {
        ["a", "b", "c"].map(String::from).to_vec()
    }

    /// All-to-all over a, b, c with the given suspicion intervals (others none), over 100 s.
    fn run(
        intervals: &[(Link, (u64, u64))],
        paused: &[Vec<(Nanos, Nanos)>],
        gossip: bool,
    ) -> (Downing, Vec<ClusterFigures>) {
        run_until(intervals, paused, gossip, ms(100_000))
    }

    /// [`run`] over a run that ends at `end`.
    fn run_until(
        intervals: &[(Link, (u64, u64))],
        paused: &[Vec<(Nanos, Nanos)>],
        gossip: bool,
        end: Nanos,
    ) -> (Downing, Vec<ClusterFigures>) {
        let mut suspicions = LinkSuspicions::new();
        for x in 0..3 {
            for p in 0..3 {
                if x != p && (!gossip || x != 2 || p != 0) {
                    suspicions.insert((x, p), Vec::new());
                }
            }
        }
        for &(link, (s, e)) in intervals {
            suspicions.get_mut(&link).unwrap().push((ms(s), ms(e)));
        }
        let settings = ClusterSettings {
            gossip_delay: ms(100),
            rules: Some(vec![LeaderRule::LowestUnsuspected, LeaderRule::Majority]),
            ..ClusterSettings::default()
        };
        let input = ClusterInput {
            ids: &ids(),
            clocks: &[Clock::EXACT; 3],
            crashed: &[vec![], vec![], vec![]],
            paused,
            stalled: paused,
            suspicions: &suspicions,
            first_heard: &FirstHeard::new(),
            heard: &Heard::default(),
            fault_starts: &[],
            first_timeout: None,
            settings: &settings,
            end,
        };
        analyze(&input, built_in(&settings, 3))
    }

    #[test]
    fn the_first_timeout_is_the_silence_after_one_heartbeat_at_which_each_configuration_suspects() {
        let specs: Vec<DetectorSpec> =
            ["fixed:timeout=1s|2500ms", "akka-deadline", "akka-cluster", "bertier:interval=1s"]
                .iter()
                .map(|s| DetectorSpec::parse(s).unwrap())
                .collect();
        let timeouts = first_timeouts(&specs);
        let labels: Vec<&str> = timeouts.keys().map(String::as_str).collect();
        assert_eq!(
            labels,
            [
                "akka-cluster:threshold=8",
                "akka-deadline:pause=10s",
                "bertier:interval=1s",
                "fixed:timeout=1s",
                "fixed:timeout=2500ms"
            ]
        );
        assert_eq!(timeouts["fixed:timeout=1s"], Some(ms(1_000)));
        assert_eq!(timeouts["fixed:timeout=2500ms"], Some(ms(2_500)));
        // Akka's deadline: the 3 s interval plus the 10 s pause.
        assert_eq!(timeouts["akka-deadline:pause=10s"], Some(ms(13_000)));
        // φ 8 over the seeded history (intervals 0.75 s and 1.25 s: mean 1 s, σ 0.25 s) plus
        // the 3 s pause: Akka's logistic tail is 10⁻⁸ at y = 5.2259866441 (y(1.5976 +
        // 0.070566 y²) = ln(10⁸ − 1), mpmath), so 4 s + 0.25 y = 5.306496661 s, rounded up
        // to the nanosecond.
        assert_eq!(timeouts["akka-cluster:threshold=8"], Some(Nanos(5_306_496_662)));
        // Bertier's margin starts at zero: the expected arrival, one interval later.
        assert_eq!(timeouts["bertier:interval=1s"], Some(ms(1_000)));
    }

    /// a leads and crashes at 10 s; b takes over at 10.5 s but c still names a (c suspects
    /// a only from 13 s): no agreement. A partition begins at 11 s (a fault, not an event of
    /// the sweep: nothing changes then) and cuts that failover short. b, which leads, crashes
    /// at 12 s, with nothing between 11 and 12 s: that crash opens a failover of its own,
    /// which ends at 13 s when c, suspecting a and b, names itself and leads.
    #[test]
    fn a_fault_between_two_instants_cuts_a_failover_short_and_the_next_crash_opens_one() {
        let mut suspicions = LinkSuspicions::new();
        for x in 0..3 {
            for p in (0..3).filter(|&p| p != x) {
                suspicions.insert((x, p), Vec::new());
            }
        }
        let end = ms(100_000);
        suspicions.insert((1, 0), vec![(ms(10_500), end)]);
        suspicions.insert((2, 0), vec![(ms(13_000), end)]);
        suspicions.insert((2, 1), vec![(ms(12_500), end)]);
        let settings =
            ClusterSettings { rules: Some(vec![LeaderRule::LowestUnsuspected]), ..ClusterSettings::default() };
        let crashed = [vec![(ms(10_000), end)], vec![(ms(12_000), end)], vec![]];
        let none = [vec![], vec![], vec![]];
        let input = ClusterInput {
            ids: &ids(),
            clocks: &[Clock::EXACT; 3],
            crashed: &crashed,
            paused: &none,
            stalled: &none,
            suspicions: &suspicions,
            first_heard: &FirstHeard::new(),
            heard: &Heard::default(),
            fault_starts: &[ms(10_000), ms(11_000), ms(12_000)],
            first_timeout: None,
            settings: &settings,
            end,
        };
        let (_, figures) = analyze(&input, built_in(&settings, 3));
        let f = &figures[0];
        assert_eq!((f.failovers, f.failovers_censored, f.failover_max_s), (1, 1, Some(1.0)));
        // Without the partition, b's crash is the next fault: the same.
        let figures =
            |fault_starts: &[Nanos]| analyze(&ClusterInput { fault_starts, ..input }, built_in(&settings, 3)).1;
        let f = &figures(&[ms(10_000), ms(12_000)])[0];
        assert_eq!((f.failovers, f.failovers_censored, f.failover_max_s), (1, 1, Some(1.0)));
        // Were a's crash the only fault, its failover would run on: b's crash while it is
        // under way opens none, and it ends at 13 s, 3 s after a's crash.
        let f = &figures(&[ms(10_000)])[0];
        assert_eq!((f.failovers, f.failovers_censored, f.failover_max_s), (1, 0, Some(3.0)));
    }

    #[test]
    fn one_node_suspecting_the_lowest_makes_split_brain_under_lowest_unsuspected_only_with_its_majority() {
        // b suspects a over [13.01 s, 21.01 s): a (lowest) and b both lead.
        let (downing, f) = run(&[((1, 0), (13_010, 21_010))], &[vec![], vec![], vec![]], false);
        assert_eq!((f[0].split_brain_s, f[0].split_brain_episodes), (8.0, 1));
        assert_eq!(f[0].split_brain_longest_s, 8.0);
        // b's view holds b and c: a majority of 3, so b leads under `majority` too.
        assert_eq!(f[1].split_brain_s, 8.0);
        // b names b, a and c name a.
        assert_eq!(f[0].disagreement_s, 8.0);
        assert_eq!(f[0].leaderless_s, 0.0);
        assert_eq!((downing.wrongful_downing_s, downing.wrongful_downing_episodes), (8.0, 1));
    }

    #[test]
    fn a_node_alone_in_its_view_has_no_majority() {
        // Partition {a} | {b, c}: both sides suspect the other from 13.01 s to 21.01 s.
        let cut = (13_010, 21_010);
        let (downing, f) =
            run(&[((0, 1), cut), ((0, 2), cut), ((1, 0), cut), ((2, 0), cut)], &[vec![], vec![], vec![]], false);
        assert_eq!(f[0].split_brain_s, 8.0, "a and b both lead");
        assert_eq!(f[1].split_brain_s, 0.0, "a has no majority");
        assert_eq!(f[1].disagreement_s, 8.0, "a names none, b and c name b");
        assert_eq!(downing.wrongful_downing_s, 3.0 * 8.0, "a, b and c are each suspected by someone");
    }

    #[test]
    fn nodes_that_are_not_running_neither_lead_nor_count() {
        // b suspects a over [13.01, 16.01) while a is paused over [10.5, 15.5): split brain
        // only once a runs again.
        let paused = vec![vec![(ms(10_500), ms(15_500))], vec![], vec![]];
        let (downing, f) = run(&[((1, 0), (13_010, 16_010))], &paused, false);
        assert!((f[0].split_brain_s - 0.51).abs() < 1e-12, "{}", f[0].split_brain_s);
        // Leaderless while a is paused and before b suspects it: b and c both name a.
        assert!((f[0].leaderless_s - 2.51).abs() < 1e-12, "{}", f[0].leaderless_s);
        // A paused node is alive: suspecting it is wrongful downing.
        assert!((downing.wrongful_downing_s - 3.0).abs() < 1e-12);
    }

    #[test]
    fn a_peer_not_monitored_is_judged_by_its_monitors_after_the_gossip_delay() {
        // c does not monitor a; b suspects a over [10 s, 20 s): c learns it at 10.1 s.
        let (_, f) = run(&[((1, 0), (10_000, 20_000))], &[vec![], vec![], vec![]], true);
        // Split brain: a and b lead over [10, 20) (c never leads). Disagreement: b names
        // b over [10, 20), c names b over [10.1, 20.1) while a names a: [10, 20.1).
        assert_eq!((f[0].split_brain_s, f[0].split_brain_episodes), (10.0, 1));
        assert!((f[0].disagreement_s - 10.1).abs() < 1e-12, "{}", f[0].disagreement_s);
    }

    #[test]
    fn what_runs_past_the_end_is_cut_at_the_end() {
        // b suspects a from 99 s until after the run's end at 100 s; a is paused from 99.5 s
        // on, past the end: split brain [99, 99.5), downing [99, 100).
        let paused = vec![vec![(ms(99_500), ms(200_000))], vec![], vec![]];
        let (downing, f) = run(&[((1, 0), (99_000, 150_000))], &paused, false);
        assert!((f[0].split_brain_s - 0.5).abs() < 1e-12 && f[0].split_brain_episodes == 1, "{f:?}");
        assert!((downing.wrongful_downing_s - 1.0).abs() < 1e-12);
        assert!((f[0].split_brain_fraction - 0.5 / 100.0).abs() < 1e-15);
    }

    #[test]
    fn split_brain_is_zero_when_no_running_node_is_suspected() {
        let (downing, f) = run(&[], &[vec![(ms(1_000), ms(2_000))], vec![], vec![]], false);
        assert!(f.iter().all(|f| f.split_brain_s == 0.0 && f.split_brain_episodes == 0));
        assert_eq!(downing.wrongful_downing_episodes, 0);
        assert_eq!(f[0].split_brain_rate_per_s_ci95.unwrap()[0], 0.0);
    }

    /// No engine runs for no time (validation refuses it), but the sweep's figures are
    /// still numbers then: a fraction and a rate of 0, not 0 / 0.
    #[test]
    fn a_run_of_no_time_has_a_fraction_and_a_rate_of_zero() {
        let (_, f) = run_until(&[((1, 0), (0, 10))], &[vec![], vec![], vec![]], false, Nanos::ZERO);
        for f in &f {
            assert_eq!((f.split_brain_s, f.split_brain_episodes), (0.0, 0), "{f:?}");
            assert_eq!((f.split_brain_fraction, f.split_brain_rate_per_s), (0.0, 0.0), "{f:?}");
            assert_eq!(f.split_brain_rate_per_s_ci95, None, "no exposure, no interval");
        }
    }
}
