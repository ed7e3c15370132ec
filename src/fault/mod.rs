//! Fault models and the fault timeline.
//!
//! - [`delay`] and [`loss`]: link models (distributions, loss processes).
//! - [`rng`]: named random streams derived from the seed, for any engine.
//! - [`channel`]: one directed link's delay and loss step per datagram, shared by the
//!   heartbeat links and the message workloads.
//! - [`spec`]: faults as experiment files declare them ([`FaultDecl`]) and in their checked
//!   shapes ([`Fault`]).
//! - This module expands the checked faults into concrete, sorted windows per node and per
//!   link ([`Timeline`]), drawing random processes (exponential MTTF/MTTR, pause
//!   frequencies) from the fault's own RNG stream, so that the same seed gives the same
//!   faults whatever else the experiment contains. The simulator reads the timeline; the
//!   live relay will read the same one (DESIGN.md §2 point 7).
//!
//! This module knows nothing of experiments: `crate::experiment` declares its faults and
//! links with the types here and checks them, and an engine hands [`Timeline::build`] what it
//! needs (so imports point one way, experiment → fault).

pub mod channel;
pub mod delay;
pub(crate) mod erfc_inv;
pub mod loss;
pub mod rng;
pub mod spec;
pub mod ziggurat;
mod ziggurat_tables;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rand::Rng;

use crate::time::Nanos;
use delay::{DelaySampler, EmpiricalError};
use rng::stream;
pub use spec::{CrashSchedule, Cut, Fault, FaultDecl, IncarnationLie, Lie, Links, PauseSchedule, PauseTarget, SeqLie};

/// A half-open window of real time `[from, to)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Window {
    pub from: Nanos,
    pub to: Nanos,
}

impl Window {
    pub fn contains(&self, t: Nanos) -> bool {
        self.from <= t && t < self.to
    }
}

/// A crash: down from `from` until `to` (a recovery) or for ever.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crash {
    pub from: Nanos,
    pub to: Option<Nanos>,
    pub new_incarnation: bool,
}

/// Everything that happens to one node.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeFaults {
    pub crashes: Vec<Crash>,
    /// Windows in which the node sends nothing (pause of the node or its sender).
    pub send_pauses: Vec<Window>,
    /// Windows in which the node receives and checks nothing (pause of the node or monitor).
    pub recv_pauses: Vec<Window>,
    /// Windows in which the node drops a share of its own heartbeats.
    pub omissions: Vec<(Window, f64)>,
    /// Windows in which the node's heartbeats carry bogus numbers (sorted, disjoint: the
    /// validation refuses overlapping ones).
    pub arbitrary: Vec<(Window, Lie)>,
}

impl NodeFaults {
    /// Whether the node is crashed at `t` (a crash covers `[from, to)`; one without a
    /// recovery lasts for ever).
    pub fn is_down(&self, t: Nanos) -> bool {
        self.crashes.iter().any(|c| c.from <= t && c.to.is_none_or(|to| t < to))
    }

    /// The end of the pause (of sending or of receiving) holding the node at `t`, following
    /// pauses that begin where another ends or inside it; `None` when none holds it.
    pub fn stalled_until(&self, t: Nanos) -> Option<Nanos> {
        let mut at = t;
        loop {
            match self.send_pauses.iter().chain(self.recv_pauses.iter()).find(|w| w.contains(at)) {
                Some(w) => at = w.to,
                None => return (at > t).then_some(at),
            }
        }
    }
}

/// Everything that happens to one directed link, as disjoint sorted segments.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinkFaults {
    pub cuts: Vec<Window>,
    /// Extra delay (summed where spikes overlap).
    pub spikes: Vec<(Window, Nanos)>,
    /// Extra loss probability (combined as independent losses where bursts overlap).
    pub bursts: Vec<(Window, f64)>,
    /// Delay models that replace the link's from an instant on (by send time), sorted by
    /// instant; at one instant the later in the experiment's list comes last (and wins).
    pub delay_changes: Vec<(Nanos, delay::DelayModel)>,
}

/// The whole fault schedule of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Timeline {
    pub nodes: Vec<NodeFaults>,
    /// The links that faults touch, by (from, to); every other link has none. (A map rather
    /// than a vector of every pair: memory follows the faults, not the square of the nodes.)
    links: BTreeMap<(usize, usize), LinkFaults>,
}

/// A link no fault touches.
static NO_LINK_FAULTS: LinkFaults =
    LinkFaults { cuts: Vec::new(), spikes: Vec::new(), bursts: Vec::new(), delay_changes: Vec::new() };

impl Timeline {
    /// When each fault begins (real time; unsorted, an instant once per node or link it
    /// touches).
    pub fn starts(&self) -> Vec<Nanos> {
        let mut starts = Vec::new();
        for n in &self.nodes {
            starts.extend(n.crashes.iter().map(|c| c.from));
            starts.extend(n.send_pauses.iter().chain(&n.recv_pauses).map(|w| w.from));
            starts.extend(n.omissions.iter().map(|(w, _)| w.from));
            starts.extend(n.arbitrary.iter().map(|(w, _)| w.from));
        }
        for l in self.links.values() {
            starts.extend(l.cuts.iter().map(|w| w.from));
            starts.extend(l.spikes.iter().map(|(w, _)| w.from));
            starts.extend(l.bursts.iter().map(|(w, _)| w.from));
            starts.extend(l.delay_changes.iter().map(|(at, _)| *at));
        }
        starts
    }

    /// Expands checked faults, in the order of the experiment's list, over a run of `nodes`
    /// nodes that ends at `end`. `monitored` lists the monitored links as (monitor, target):
    /// a spike or burst without links touches them. Fault `i` draws from the stream
    /// `fault/{i}` of `seed`; `base_dir` resolves an empirical distribution's trace.
    pub fn build(
        faults: &[Fault],
        nodes: usize,
        end: Nanos,
        monitored: &[(usize, usize)],
        seed: u64,
        base_dir: &Path,
    ) -> Result<Timeline, EmpiricalError> {
        let mut node_faults = vec![NodeFaults::default(); nodes];
        let mut cuts: BTreeMap<(usize, usize), Vec<Window>> = BTreeMap::new();
        let mut spikes: BTreeMap<(usize, usize), Vec<(Window, Nanos)>> = BTreeMap::new();
        let mut bursts: BTreeMap<(usize, usize), Vec<(Window, f64)>> = BTreeMap::new();
        let mut delay_changes: BTreeMap<(usize, usize), Vec<(Nanos, delay::DelayModel)>> = BTreeMap::new();
        let links_of = |links: &Links| -> Vec<(usize, usize)> {
            match links {
                // A heartbeat travels from the target to its monitor.
                Links::Monitored => monitored.iter().map(|&(m, t)| (t, m)).collect(),
                Links::Listed(list) => list.clone(),
            }
        };
        for (i, fault) in faults.iter().enumerate() {
            let mut rng = stream(seed, &format!("fault/{i}"));
            match fault {
                Fault::Crash { node, schedule: CrashSchedule::Once { at, down }, new_incarnation } => {
                    let to = down.map(|d| at.saturating_add(d));
                    node_faults[*node].crashes.push(Crash { from: *at, to, new_incarnation: *new_incarnation });
                }
                Fault::Crash { node, schedule: CrashSchedule::Random { mttf, mttr }, new_incarnation } => {
                    let mut t = Nanos::ZERO;
                    loop {
                        let up = exponential(&mut rng, *mttf);
                        let down = exponential(&mut rng, *mttr).max(Nanos(1));
                        let Some(from) = t.checked_add(up).filter(|f| *f < end) else { break };
                        let to = from.saturating_add(down);
                        node_faults[*node].crashes.push(Crash {
                            from,
                            to: Some(to),
                            new_incarnation: *new_incarnation,
                        });
                        t = to;
                    }
                }
                Fault::Pause { node, what, schedule } => {
                    let windows = match schedule {
                        PauseSchedule::Once { at, duration } => {
                            vec![Window { from: *at, to: at.saturating_add(*duration) }]
                        }
                        PauseSchedule::Random { every, durations } => {
                            let mut sampler = DelaySampler::new(durations, 0.0, base_dir)?;
                            let mut windows = Vec::new();
                            let mut t = Nanos::ZERO;
                            while let Some(from) = t.checked_add(exponential(&mut rng, *every)).filter(|f| *f < end) {
                                let to = from.saturating_add(sampler.sample(&mut rng).max(Nanos(1)));
                                windows.push(Window { from, to });
                                t = to;
                            }
                            windows
                        }
                    };
                    let faults = &mut node_faults[*node];
                    for w in windows {
                        if what.stops_sending() {
                            faults.send_pauses.push(w);
                        }
                        if what.stops_receiving() {
                            faults.recv_pauses.push(w);
                        }
                    }
                }
                Fault::Partition { at, duration, cut } => {
                    let w = Window { from: *at, to: at.saturating_add(*duration) };
                    let mut cut_link = |a: usize, b: usize| cuts.entry((a, b)).or_default().push(w);
                    match cut {
                        Cut::OneWay { from, to } => {
                            for &a in from {
                                for &b in to {
                                    cut_link(a, b);
                                }
                            }
                        }
                        Cut::Groups(groups) => {
                            for (gi, g) in groups.iter().enumerate() {
                                for (hi, h) in groups.iter().enumerate() {
                                    if gi != hi {
                                        for &a in g {
                                            for &b in h {
                                                cut_link(a, b);
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                Fault::Omission { node, p, at, duration } => {
                    let to = duration.map_or(Nanos::MAX, |d| at.saturating_add(d));
                    node_faults[*node].omissions.push((Window { from: *at, to }, *p));
                }
                Fault::Arbitrary { node, at, duration, lie } => {
                    let to = duration.map_or(end, |d| at.saturating_add(d)).min(end);
                    node_faults[*node].arbitrary.push((Window { from: *at, to }, *lie));
                }
                Fault::DelaySpike { at, duration, extra, links } => {
                    for l in links_of(links) {
                        spikes
                            .entry(l)
                            .or_default()
                            .push((Window { from: *at, to: at.saturating_add(*duration) }, *extra));
                    }
                }
                Fault::LossBurst { at, duration, p, links } => {
                    for l in links_of(links) {
                        bursts.entry(l).or_default().push((Window { from: *at, to: at.saturating_add(*duration) }, *p));
                    }
                }
                Fault::DelayChange { at, delay: model, links } => {
                    // An empirical model's trace is read here, so that a bad one fails before
                    // the run (the engine reads it again for each link it drives).
                    DelaySampler::new(model, 0.0, base_dir)?;
                    for l in links_of(links) {
                        delay_changes.entry(l).or_default().push((*at, model.clone()));
                    }
                }
            }
        }
        for f in &mut node_faults {
            f.crashes.sort_by_key(|c| c.from);
            f.send_pauses = merge(std::mem::take(&mut f.send_pauses));
            f.recv_pauses = merge(std::mem::take(&mut f.recv_pauses));
            f.omissions = segments(std::mem::take(&mut f.omissions), |a, b| 1.0 - (1.0 - a) * (1.0 - b));
            f.arbitrary.sort_by_key(|(w, _)| *w);
        }
        let touched: BTreeSet<(usize, usize)> =
            cuts.keys().chain(spikes.keys()).chain(bursts.keys()).chain(delay_changes.keys()).copied().collect();
        let links = touched
            .into_iter()
            .map(|l| {
                let faults = LinkFaults {
                    cuts: merge(cuts.remove(&l).unwrap_or_default()),
                    spikes: segments(spikes.remove(&l).unwrap_or_default(), |a, b| a.saturating_add(b)),
                    bursts: segments(bursts.remove(&l).unwrap_or_default(), |a, b| 1.0 - (1.0 - a) * (1.0 - b)),
                    delay_changes: {
                        let mut changes = delay_changes.remove(&l).unwrap_or_default();
                        // Stable: at one instant, the experiment's order is kept.
                        changes.sort_by_key(|c| c.0);
                        changes
                    },
                };
                (l, faults)
            })
            .collect();
        Ok(Timeline { nodes: node_faults, links })
    }

    /// The faults of the link from node `from` to node `to`.
    pub fn link(&self, from: usize, to: usize) -> &LinkFaults {
        self.links.get(&(from, to)).unwrap_or(&NO_LINK_FAULTS)
    }
}

fn exponential(rng: &mut impl Rng, mean: Nanos) -> Nanos {
    let e: f64 = ziggurat::standard_exponential(rng);
    Nanos::from_secs_f64(e * mean.as_secs_f64())
}

/// Sorted, disjoint union of windows.
pub fn merge(mut windows: Vec<Window>) -> Vec<Window> {
    windows.sort();
    let mut out: Vec<Window> = Vec::with_capacity(windows.len());
    for w in windows {
        match out.last_mut() {
            Some(last) if w.from <= last.to => last.to = last.to.max(w.to),
            _ => out.push(w),
        }
    }
    out
}

/// Sorted, disjoint segments of windows carrying values, with `combine` where they overlap.
pub fn segments<V: Copy>(windows: Vec<(Window, V)>, combine: impl Fn(V, V) -> V) -> Vec<(Window, V)> {
    let mut points: Vec<Nanos> = windows.iter().flat_map(|(w, _)| [w.from, w.to]).collect();
    points.sort();
    points.dedup();
    let mut out: Vec<(Window, V)> = Vec::new();
    for pair in points.windows(2) {
        let seg = Window { from: pair[0], to: pair[1] };
        let value =
            windows.iter().filter(|(w, _)| w.from <= seg.from && seg.to <= w.to).map(|(_, v)| *v).reduce(&combine);
        if let Some(v) = value {
            out.push((seg, v));
        }
    }
    out
}

/// Walks sorted disjoint windows forward in time: `at(t)` for non-decreasing `t`.
#[derive(Clone, Debug)]
pub struct Cursor<'a, T> {
    items: &'a [T],
    next: usize,
    window: fn(&T) -> Window,
}

impl<'a, T> Cursor<'a, T> {
    pub fn new(items: &'a [T], window: fn(&T) -> Window) -> Self {
        Cursor { items, next: 0, window }
    }

    /// The item whose window contains `t`, if any.
    pub fn at(&mut self, t: Nanos) -> Option<&'a T> {
        while let Some(item) = self.items.get(self.next) {
            if (self.window)(item).to <= t {
                self.next += 1;
            } else {
                break;
            }
        }
        self.items.get(self.next).filter(|item| (self.window)(item).contains(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Crashes are half-open and a crash-stop lasts for ever; a stall follows chained and
    /// nested pauses of either kind to the last one's end.
    #[test]
    fn a_node_is_down_in_its_crashes_and_stalled_to_its_pauses_end() {
        let ms = Nanos::from_millis;
        let w = |from, to| Window { from: ms(from), to: ms(to) };
        let f = NodeFaults {
            crashes: vec![
                Crash { from: ms(10), to: Some(ms(20)), new_incarnation: false },
                Crash { from: ms(100), to: None, new_incarnation: true },
            ],
            send_pauses: vec![w(30, 40), w(50, 55)],
            recv_pauses: vec![w(40, 45), w(52, 60)],
            ..Default::default()
        };
        let down: Vec<u64> = [9, 10, 19, 20, 99, 100, u64::MAX / 2_000_000].map(|t| f.is_down(ms(t)) as u64).to_vec();
        assert_eq!(down, [0, 1, 1, 0, 0, 1, 1]);
        assert_eq!(f.stalled_until(ms(29)), None);
        // 30..40 (send), then 40..45 (receive): one stall to 45.
        assert_eq!(f.stalled_until(ms(30)), Some(ms(45)));
        assert_eq!(f.stalled_until(ms(44)), Some(ms(45)));
        assert_eq!(f.stalled_until(ms(45)), None);
        // 50..55 holds 52..60, which ends later.
        assert_eq!(f.stalled_until(ms(51)), Some(ms(60)));
        assert_eq!(NodeFaults::default().stalled_until(ms(1)), None);
    }

    fn w(a: u64, b: u64) -> Window {
        Window { from: Nanos(a), to: Nanos(b) }
    }

    #[test]
    fn a_timeline_is_built_from_checked_faults_alone() {
        let s = Nanos::from_secs;
        let faults = [
            Fault::Crash {
                node: 0,
                schedule: CrashSchedule::Once { at: s(5), down: Some(s(1)) },
                new_incarnation: true,
            },
            Fault::Pause {
                node: 1,
                what: PauseTarget::Monitor,
                schedule: PauseSchedule::Once { at: s(2), duration: s(1) },
            },
            Fault::Partition { at: s(3), duration: s(2), cut: Cut::Groups(vec![vec![0], vec![1, 2]]) },
            Fault::Partition { at: s(4), duration: s(2), cut: Cut::OneWay { from: vec![2], to: vec![0] } },
            Fault::Omission { node: 2, p: 0.5, at: s(1), duration: None },
            Fault::DelaySpike { at: s(6), duration: s(1), extra: s(1), links: Links::Monitored },
            Fault::LossBurst { at: s(7), duration: s(1), p: 0.5, links: Links::Listed(vec![(1, 2)]) },
            Fault::DelayChange { at: s(8), delay: constant(3), links: Links::Monitored },
            Fault::DelayChange { at: s(4), delay: constant(2), links: Links::Listed(vec![(0, 1)]) },
            Fault::DelayChange { at: s(4), delay: constant(1), links: Links::Listed(vec![(0, 1)]) },
        ];
        // 1 and 2 watch 0.
        let t = Timeline::build(&faults, 3, s(10), &[(1, 0), (2, 0)], 1, Path::new("")).unwrap();
        assert_eq!(t.nodes[0].crashes, [Crash { from: s(5), to: Some(s(6)), new_incarnation: true }]);
        // Where each fault begins, once per node or link it touches: the crash (5), the
        // pause (2), the omission (1), the cut of four links (3; 2 → 0 merged), the spike of
        // two (6), the burst (7) and the delay changes (4, 4, 8 on 0 → 1; 8 on 0 → 2).
        let mut starts = t.starts();
        starts.sort();
        assert_eq!(starts, [1, 2, 3, 3, 3, 3, 4, 4, 5, 6, 6, 7, 8, 8].map(s));
        assert_eq!(
            (t.nodes[1].send_pauses.len(), t.nodes[1].recv_pauses.as_slice()),
            (0, &[w(2_000_000_000, 3_000_000_000)][..])
        );
        assert_eq!(t.nodes[2].omissions, [(Window { from: s(1), to: Nanos::MAX }, 0.5)]);
        // The groups cut both ways between {0} and {1, 2}; 2 → 0 is cut by both partitions.
        let cut = |a, b| t.link(a, b).cuts.clone();
        assert_eq!(cut(0, 1), [w(3_000_000_000, 5_000_000_000)]);
        assert_eq!(cut(1, 0), [w(3_000_000_000, 5_000_000_000)]);
        assert_eq!(cut(2, 0), [w(3_000_000_000, 6_000_000_000)]);
        assert!(cut(1, 2).is_empty() && cut(0, 2).len() == 1);
        // A spike without links touches the monitored ones, in the direction heartbeats go.
        assert_eq!(t.link(0, 1).spikes, [(w(6_000_000_000, 7_000_000_000), s(1))]);
        assert_eq!(t.link(0, 2).spikes, [(w(6_000_000_000, 7_000_000_000), s(1))]);
        assert!(t.link(1, 0).spikes.is_empty());
        assert_eq!(t.link(1, 2).bursts, [(w(7_000_000_000, 8_000_000_000), 0.5)]);
        // Delay changes: sorted by instant, file order kept at one instant; without links,
        // the monitored ones.
        assert_eq!(t.link(0, 1).delay_changes, [(s(4), constant(2)), (s(4), constant(1)), (s(8), constant(3))]);
        assert_eq!(t.link(0, 2).delay_changes, [(s(8), constant(3))]);
        assert!(t.link(1, 0).delay_changes.is_empty() && t.link(1, 2).delay_changes.is_empty());
    }

    fn constant(ms: u64) -> delay::DelayModel {
        delay::DelayModel::Constant { value: Nanos::from_millis(ms) }
    }

    #[test]
    fn a_delay_change_to_a_missing_trace_fails_when_the_timeline_is_built() {
        let change = Fault::DelayChange {
            at: Nanos::from_secs(1),
            delay: delay::DelayModel::Empirical { trace: "no-such-trace.csv".into() },
            links: Links::Monitored,
        };
        let e =
            Timeline::build(&[change], 2, Nanos::from_secs(10), &[(1, 0)], 1, Path::new("/nonexistent")).unwrap_err();
        assert!(e.to_string().contains("no-such-trace.csv"), "{e}");
    }

    #[test]
    fn random_processes_draw_from_their_own_stream() {
        let random = |node| Fault::Crash {
            node,
            schedule: CrashSchedule::Random { mttf: Nanos::from_secs(10), mttr: Nanos::from_secs(1) },
            new_incarnation: true,
        };
        let pauses = Fault::Pause {
            node: 1,
            what: PauseTarget::Node,
            schedule: PauseSchedule::Random {
                every: Nanos::from_secs(5),
                durations: delay::DelayModel::Constant { value: Nanos::from_millis(300) },
            },
        };
        let end = Nanos::from_secs(1000);
        let build = |faults: &[Fault], seed| Timeline::build(faults, 2, end, &[(1, 0)], seed, Path::new("")).unwrap();
        let one = build(&[random(0), pauses.clone()], 7);
        let crashes = &one.nodes[0].crashes;
        assert!(crashes.len() > 50 && crashes.windows(2).all(|c| c[0].to.unwrap() <= c[1].from));
        assert!(crashes.iter().all(|c| c.from < end));
        let pauses_drawn = &one.nodes[1].send_pauses;
        assert!(pauses_drawn.len() > 100 && pauses_drawn.iter().all(|p| p.to.0 - p.from.0 == 300_000_000));
        // The same seed draws the same; another seed draws otherwise; a fault's draws depend
        // on its place in the list, not on the faults after it.
        assert_eq!(build(&[random(0), pauses.clone()], 7), one);
        assert_ne!(build(&[random(0), pauses.clone()], 8).nodes[0].crashes, *crashes);
        assert_eq!(build(&[random(0)], 7).nodes[0].crashes, *crashes);
    }

    /// Overlapping omissions and loss bursts drop independently (1 − (1 − a)(1 − b));
    /// overlapping spikes add.
    #[test]
    fn overlapping_faults_combine_where_they_overlap() {
        let s = Nanos::from_secs;
        let omission = |p, at| Fault::Omission { node: 0, p, at: s(at), duration: Some(s(2)) };
        let link = || Links::Listed(vec![(0, 1)]);
        let burst = |p, at| Fault::LossBurst { at: s(at), duration: s(2), p, links: link() };
        let spike = |extra, at| Fault::DelaySpike { at: s(at), duration: s(2), extra: s(extra), links: link() };
        let faults = [omission(0.5, 1), omission(0.2, 2), burst(0.5, 1), burst(0.2, 2), spike(1, 1), spike(2, 2)];
        let t = Timeline::build(&faults, 2, s(10), &[(1, 0)], 1, Path::new("")).unwrap();
        let sec = |a: u64, b: u64| Window { from: s(a), to: s(b) };
        let combined = [(sec(1, 2), 0.5), (sec(2, 3), 1.0 - 0.5 * 0.8), (sec(3, 4), 0.2)];
        assert_eq!(t.nodes[0].omissions, combined);
        assert_eq!(t.link(0, 1).bursts, combined);
        assert_eq!(t.link(0, 1).spikes, [(sec(1, 2), s(1)), (sec(2, 3), s(3)), (sec(3, 4), s(2))]);
    }

    /// A random process's events all begin before the end of the run, even when its means
    /// are a nanosecond, so that its draws land on every instant, the end's included.
    #[test]
    fn random_faults_begin_before_the_end_of_the_run() {
        let end = Nanos(20);
        let faults = [
            Fault::Crash {
                node: 0,
                schedule: CrashSchedule::Random { mttf: Nanos(1), mttr: Nanos(1) },
                new_incarnation: true,
            },
            Fault::Pause {
                node: 1,
                what: PauseTarget::Node,
                schedule: PauseSchedule::Random {
                    every: Nanos(1),
                    durations: delay::DelayModel::Constant { value: Nanos(1) },
                },
            },
        ];
        let (mut last_crash, mut last_pause) = (Nanos::ZERO, Nanos::ZERO);
        for seed in 0..100 {
            let t = Timeline::build(&faults, 2, end, &[(1, 0)], seed, Path::new("")).unwrap();
            let crashes = t.nodes[0].crashes.iter().map(|c| c.from);
            last_crash = last_crash.max(crashes.max().unwrap());
            // Pauses of 1 ns that meet are merged: the last one's end tells where it began.
            last_pause = last_pause.max(t.nodes[1].send_pauses.iter().map(|w| w.to).max().unwrap());
        }
        assert_eq!((last_crash, last_pause), (Nanos(19), Nanos(20)));
    }

    #[test]
    fn merges_and_segments() {
        assert_eq!(merge(vec![w(5, 8), w(1, 3), w(2, 4), w(8, 9)]), vec![w(1, 4), w(5, 9)]);
        let s = segments(vec![(w(0, 10), 1u64), (w(5, 15), 2)], |a, b| a + b);
        assert_eq!(s, vec![(w(0, 5), 1), (w(5, 10), 3), (w(10, 15), 2)]);
        let mut c = Cursor::new(&s, |x| x.0);
        assert_eq!(c.at(Nanos(3)).map(|x| x.1), Some(1));
        assert_eq!(c.at(Nanos(12)).map(|x| x.1), Some(2));
        assert_eq!(c.at(Nanos(15)), None);
    }
}
