//! One monitoring node: its incoming links merged in arrival order, its pauses and receive
//! buffer, its receive policy, and a detector bank per link.
//!
//! Monitors are independent of each other, so the engine runs them on separate threads;
//! within a monitor, the links share the receive buffer, which is why they are merged here
//! rather than processed one by one.

use std::collections::BTreeSet;
use std::sync::mpsc::{Receiver, SyncSender};

use super::link::{Delivery, LinkStream};
use super::merge::{Merge, Streams};
use crate::analysis::cluster::heard::HeardLink;
use crate::analysis::link::{ArrivalStats, LinkAnalysis, LinkFacts, LinkOutcome};
use crate::analysis::output::LevelSample;
use crate::analysis::truth::{DownWindow, GroundTruth};
use crate::detector::DetectorSpec;
use crate::experiment::{ReceivePolicy, ResumeOrder};
use crate::fault::{Crash, Window};
use crate::time::{Clock, Nanos};
use crate::trace::spill::SpillWriter;

/// A real-time window in a node's clock.
fn local_window(clock: Clock, w: Window) -> Window {
    Window { from: clock.local(w.from), to: clock.local(w.to) }
}

/// Where a link's deliveries come from.
pub enum Source<'a> {
    /// Generated here; when other detector groups of the same monitor read them
    /// (`copies`), they are generated a chunk of `chunk` at a time, each chunk handed to
    /// this group's merge whole and, in order, to every other group.
    Own { stream: Box<LinkStream<'a>>, copies: Vec<SyncSender<Vec<Delivery>>>, chunk: usize },
    /// The chunks another group of the same monitor generates. That group's merge asks for
    /// them in the same order as this one (the same deliveries, pauses, crashes and sample
    /// windows, and the same chunks), so a bounded channel never waits on a chunk not yet
    /// made.
    Shared(Receiver<Vec<Delivery>>),
}

/// Deliveries a generating group hands to the others at a time, on a monitor of `links`
/// links: many, so that the groups' threads rarely wait on each other (a handover per
/// merge batch cost a context switch per 128 deliveries), but at most 16,384 across the
/// monitor's links (640 KB), and never fewer than a merge batch.
pub fn chunk(links: usize) -> usize {
    // (Mutation testing, equivalent: 1, or `%` or `*` for `/` (then clamped to 128 or 2,048):
    // any chunk of at least one delivery hands over the same deliveries in the same order,
    // only in more or fewer handovers.)
    (16_384 / links.max(1)).clamp(super::merge::BATCH, 2_048)
}

impl Source<'_> {
    /// Appends the link's next deliveries to `out`: up to `max`, or a whole chunk when
    /// the link is shared between groups.
    fn fill(&mut self, out: &mut Vec<Delivery>, max: usize) {
        // (Mutation testing, equivalent: the guard `false`, which fills an unshared link a
        // chunk at a time: a merge takes however many deliveries it is handed.)
        match self {
            Source::Own { stream, copies, .. } if copies.is_empty() => stream.fill(out, max),
            Source::Own { stream, copies, chunk } => {
                let start = out.len();
                stream.fill(out, *chunk);
                for copy in copies.iter() {
                    // A group that has gone has no more use for it.
                    let _ = copy.send(out[start..].to_vec());
                }
            }
            Source::Shared(chunks) => {
                // Nothing more (the generating group has finished): the link has ended.
                if let Ok(chunk) = chunks.recv() {
                    if out.is_empty() {
                        // The merge empties its batch before asking: take the chunk as it is.
                        *out = chunk;
                    } else {
                        out.extend_from_slice(&chunk);
                    }
                }
            }
        }
    }
}

/// What the monitor needs to know about one incoming link.
pub struct IncomingLink<'a> {
    pub target: usize,
    /// The target's heartbeat interval (to size the record of what is heard).
    pub interval: Nanos,
    pub stream: Source<'a>,
    /// Target crashes (ground truth).
    pub target_crashes: &'a [Crash],
    /// Windows in which the target sent nothing because it was paused.
    pub target_pauses: &'a [Window],
    pub cuts: &'a [Window],
}

/// A window around a fault in which one link's levels are sampled for the timeline chart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampleWindow {
    pub id: usize,
    /// Index of the link among this monitor's incoming links.
    pub link: usize,
    /// Real time.
    pub from: Nanos,
    pub to: Nanos,
    pub step: Nanos,
    /// The link's node names, for the samples.
    pub monitor: String,
    pub target: String,
}

/// The rules and faults of the monitoring node.
pub struct MonitorSetup<'a> {
    pub clock: Clock,
    pub pauses: &'a [Window],
    /// The monitor's crashes with a recovery (real time), each beginning before `end`: it
    /// loses what it held, misses what arrives meanwhile and restarts with fresh detectors.
    pub crashes: Vec<Window>,
    /// Monitoring ends at the monitor's crash-stop (or the run's end).
    pub end: Nanos,
    pub policy: ReceivePolicy,
    pub resume_order: ResumeOrder,
    pub buffer: usize,
    /// Where the delivered arrivals go for `--trace`.
    pub trace: Option<SpillWriter>,
    /// Whether deliveries go through in arrival order across links throughout (when the
    /// run writes a trace; the same for every detector group of a monitor, which share
    /// their deliveries, even though only the first writes the trace).
    pub arrival_order: bool,
    /// Windows in which to sample levels and record arrivals for charts.
    pub samples: Vec<SampleWindow>,
    /// The detector configurations (labels) whose levels are sampled.
    pub sampled_labels: &'a BTreeSet<String>,
    /// Keep every suspicion interval, reported in real time, and when each link was first
    /// heard after each (re)start (for cluster views).
    pub record_suspicions: bool,
    /// Keep every delivered heartbeat (for leader rules that answer heartbeats).
    pub record_heartbeats: bool,
    /// Count the links' arrivals (delay and interarrival histograms): one detector group of
    /// a monitor keeps the link-level outputs, the others skip them.
    pub link_stats: bool,
}

/// The outcome for one link.
pub struct LinkResult {
    pub target: usize,
    pub outcome: LinkOutcome,
    /// For each (re)start of the monitor (real time), when it first heard the target after
    /// it; recorded with the suspicions.
    pub first_heard: Vec<(Nanos, Option<Nanos>)>,
    /// Every heartbeat the detectors heard on the link (sent, handled; real time), when
    /// recorded.
    pub heard: HeardLink,
}

/// The outcome for one monitor.
pub struct MonitorResult {
    pub links: Vec<LinkResult>,
    /// One-way delay (real time) and inter-arrival time (the monitor's clock) of what the
    /// detectors heard, and how many.
    pub stats: ArrivalStats,
    /// The trace's file (arrivals in monitor-local time, in arrival order), when recorded,
    /// or what went wrong writing it.
    pub trace: std::io::Result<Option<std::fs::File>>,
    /// Levels sampled in the sample windows.
    pub levels: Vec<LevelSample>,
    /// (window, real arrival time) of heartbeats delivered on a sampled link in its window.
    pub window_arrivals: Vec<(usize, Nanos)>,
}

struct State {
    /// Each incoming link's target.
    targets: Vec<usize>,
    analyses: Vec<LinkAnalysis>,
    trace: Option<SpillWriter>,
    result: MonitorResult,
    /// Per link, per (re)start of the monitor: (start, first heard), when recorded.
    first_heard: Vec<Vec<(Nanos, Option<Nanos>)>>,
    /// Per link, the heartbeats heard, when recorded.
    heard: Vec<HeardLink>,
}

impl State {
    fn deliver(&mut self, setup: &MonitorSetup<'_>, link: usize, d: &Delivery, at_real: Nanos) {
        let arrival = d.arrival(setup.clock.local(at_real));
        // The detectors' QoS measures the per-heartbeat detection estimate from the send, on
        // the monitor's time line: the sender's own timestamp (what the trace records) is in
        // its clock, which may run at another rate, and a day at 10^-4 apart is 8.6 s.
        let heard = crate::detector::Arrival { sent: Some(setup.clock.local(d.sent_at)), ..arrival };
        let stats = setup.link_stats.then_some(&mut self.result.stats);
        if !self.analyses[link].receive(&heard, Some(d.at.saturating_sub(d.sent_at)), stats) {
            return;
        }
        if let Some(trace) = &mut self.trace {
            trace.push(self.targets[link], &arrival);
        }
        if setup.record_suspicions
            && let Some(last) = self.first_heard[link].last_mut()
            && last.1.is_none()
        {
            last.1 = Some(at_real);
        }
        if setup.record_heartbeats {
            self.heard[link].push(d.sent_at, at_real);
        }
        for w in setup.samples.iter().filter(|w| w.link == link && w.from <= at_real && at_real <= w.to) {
            self.result.window_arrivals.push((w.id, at_real));
        }
    }

    /// The monitor crashes at `at_real`: every link's analysis goes through it (see
    /// [`LinkAnalysis::catch_up`]).
    fn crash(&mut self, setup: &MonitorSetup<'_>, at_real: Nanos) {
        let at = setup.clock.local(at_real);
        for link in &mut self.analyses {
            link.catch_up(|from| from <= at);
        }
    }

    /// The monitor restarts at `at_real` after a crash.
    fn restart(&mut self, setup: &MonitorSetup<'_>, at_real: Nanos) {
        if setup.record_suspicions {
            self.first_heard.iter_mut().for_each(|starts| starts.push((at_real, None)));
        }
    }

    /// Samples every window's levels at its sample times before `until` (real time).
    fn sample(&mut self, setup: &MonitorSetup<'_>, next_sample: &mut [Nanos], until: Nanos, inclusive: bool) {
        for (w, next) in setup.samples.iter().zip(next_sample.iter_mut()) {
            while *next <= w.to && (*next < until || (inclusive && *next == until)) {
                let local = setup.clock.local(*next);
                let levels = self.analyses[w.link].levels(local);
                for (point, level, suspected) in levels.filter(|(p, _, _)| setup.sampled_labels.contains(&p.label)) {
                    self.result.levels.push(LevelSample {
                        fault: Some(w.id),
                        at: *next,
                        monitor: w.monitor.clone(),
                        target: w.target.clone(),
                        detector: point.label.clone(),
                        level,
                        threshold: point.threshold,
                        suspected,
                    });
                }
                *next = next.saturating_add(w.step.max(Nanos(1)));
            }
        }
    }
}

/// Runs one monitor to the end with a bank of `detectors` per link. `progress` is told how
/// much simulated time has passed.
pub fn run(
    mut setup: MonitorSetup<'_>,
    mut links: Vec<IncomingLink<'_>>,
    detectors: &[DetectorSpec],
    progress: &(dyn Fn(Nanos) + Sync),
) -> MonitorResult {
    let clock = setup.clock;
    let local = |ws: &[Window]| ws.iter().map(|w| local_window(clock, *w)).map(|w| (w.from, w.to)).collect();
    let monitor_down: Vec<DownWindow> = setup
        .crashes
        .iter()
        .map(|w| local_window(clock, *w))
        .map(|w| DownWindow { from: w.from, to: Some(w.to) })
        .collect();
    let links_len = links.len();
    let analyses = links
        .iter()
        .map(|link| {
            let facts = LinkFacts {
                target_down: ground_truth(link.target_crashes, clock),
                monitor_down: monitor_down.clone(),
                monitor_pauses: local(setup.pauses),
                target_pauses: local(link.target_pauses),
                cuts: local(link.cuts),
            };
            let mut analysis = LinkAnalysis::new(detectors, facts, setup.policy);
            if setup.record_suspicions {
                analysis.record_suspicions();
            }
            analysis
        })
        .collect();
    let mut state = State {
        trace: setup.trace.take(),
        analyses,
        targets: links.iter().map(|l| l.target).collect(),
        result: MonitorResult {
            links: Vec::new(),
            stats: ArrivalStats::default(),
            trace: Ok(None),
            levels: Vec::new(),
            window_arrivals: Vec::new(),
        },
        first_heard: vec![vec![(Nanos::ZERO, None)]; links_len],
        heard: links
            .iter()
            .map(|l| {
                if !setup.record_heartbeats {
                    return HeardLink::default();
                }
                // About one a slot, a little more for a fast clock or duplicates.
                let slots = (setup.end.0 / l.interval.0.max(1)).min(1 << 32) as usize;
                HeardLink::with_capacity(slots + slots / 16 + 16)
            })
            .collect(),
    };
    let mut next_sample: Vec<Nanos> = setup.samples.iter().map(|w| w.from).collect();
    let mut sample_due = first_due(&setup.samples, &next_sample);
    let mut heads = Merge::new(&mut links[..], links_len);
    let mut pause = 0;
    let mut crash = 0;
    // The monitor is down (crashed, not yet restarted) before this instant.
    let mut down_until = Nanos::ZERO;
    let (mut resume_at, mut crash_at) = upcoming(&setup, pause, crash);
    let mut buffered: Vec<(usize, Delivery)> = Vec::new();
    let mut reported = Nanos::ZERO;
    let timers_first = setup.resume_order == ResumeOrder::TimersFirst;
    // Links interact only through the monitor: its pauses (a shared buffer), its crashes,
    // and the trace, written in arrival order. Between those, each link's deliveries go
    // through link by link ([`Merge::drain_before`]).
    let links_apart = !setup.arrival_order;
    debug_assert!(state.trace.is_none() || setup.arrival_order, "a trace is written in arrival order");
    loop {
        if links_apart {
            let pause_from = setup.pauses.get(pause).map_or(Nanos::MAX, |w| w.from);
            let horizon = setup.end.min(resume_at).min(crash_at).min(pause_from).min(sample_due);
            if let Some(first) = heads.peek().filter(|&at| at < horizon) {
                // A stretch at a time (about 18 minutes), so that progress moves. Long enough
                // that a link's state is loaded into cache once for hundreds of deliveries:
                // on 100 nodes all-to-all, a stretch of about a minute (1 << 36) missed the
                // first-level data cache 1.7 times as often (cachegrind, 20 simulated
                // minutes), for the same instructions.
                let horizon = horizon.min(first.saturating_add(Nanos(1 << 40)));
                heads.drain_before(&mut links[..], horizon, |i, d| {
                    if d.at >= down_until {
                        state.deliver(&setup, i, d, d.at);
                    }
                });
                if horizon.0 - reported.0 > 1 << 34 {
                    progress(horizon - reported);
                    reported = horizon;
                }
            }
        }
        let next = heads.peek().filter(|&at| at < setup.end);
        let until = next.unwrap_or(setup.end);
        // Pauses that end and crashes that begin before the next delivery (or the run's end)
        // come first, in time order (a resume first at a tie; a crash at a delivery's
        // instant comes before it).
        // (`until` is at most the end, and every crash in `setup.crashes` begins before it.)
        while resume_at.min(crash_at) <= until {
            let resume_due = resume_at <= until;
            let crash_due = crash_at <= until;
            if crash_due && (!resume_due || crash_at < resume_at) {
                let c = setup.crashes[crash];
                // Samples before the crash see the detectors before it. (`<=` here would
                // change nothing: `sample` takes only the instants before `c.from`.)
                if sample_due < c.from {
                    state.sample(&setup, &mut next_sample, c.from, false);
                    sample_due = first_due(&setup.samples, &next_sample);
                }
                state.crash(&setup, c.from);
                state.restart(&setup, c.to);
                // The socket buffer dies with the process.
                buffered.clear();
                down_until = c.to;
                crash += 1;
            } else if resume_due {
                resume(&setup, &mut state, setup.pauses[pause], &mut buffered, timers_first);
                pause += 1;
            } else {
                break;
            }
            (resume_at, crash_at) = upcoming(&setup, pause, crash);
        }
        // (Only saves a call: `sample` checks each instant itself, so a looser guard, as a
        // mutant makes it, changes nothing.)
        if sample_due < until || (next.is_none() && sample_due == until) {
            state.sample(&setup, &mut next_sample, until, next.is_none());
            sample_due = first_due(&setup.samples, &next_sample);
        }
        let Some(at) = next else { break };
        let (d, i) = heads.pop(&mut links[..]).expect("peeked");
        match setup.pauses.get(pause) {
            // Down: nothing receives it.
            _ if at < down_until => {}
            Some(w) if w.contains(at) => {
                // Paused: the socket buffers it; when full, the newest are dropped.
                if buffered.len() < setup.buffer {
                    buffered.push((i, d));
                }
            }
            _ => state.deliver(&setup, i, &d, at),
        }
        if at.0 - reported.0 > 1 << 34 {
            progress(at - reported);
            reported = at;
        }
    }
    progress(setup.end.saturating_sub(reported));
    let end_local = clock.local(setup.end);
    let State { analyses, mut result, trace, first_heard, heard, .. } = state;
    result.trace = trace.map(SpillWriter::finish).transpose();
    for (((link, analysis), first_heard), heard) in links.into_iter().zip(analyses).zip(first_heard).zip(heard) {
        // (A group that takes its deliveries from another has no counts: only the first
        // group's link-level outputs are kept.)
        let counts = match link.stream {
            Source::Own { stream, .. } => stream.counts(),
            Source::Shared(_) => Default::default(),
        };
        let mut outcome = analysis.finish(end_local, Some(counts));
        // Cluster views compare nodes: their suspicions in real time.
        for (_, q) in &mut outcome.reports {
            q.suspicions.iter_mut().for_each(|(s, e)| (*s, *e) = (clock.real(*s), clock.real(*e)));
        }
        let first_heard = if setup.record_suspicions { first_heard } else { Vec::new() };
        result.links.push(LinkResult { target: link.target, outcome, first_heard, heard });
    }
    result
}

/// A monitor's links are the streams its merge takes deliveries from.
impl Streams for [IncomingLink<'_>] {
    fn fill(&mut self, link: usize, out: &mut Vec<Delivery>, max: usize) {
        self[link].stream.fill(out, max);
    }
}

/// When the next pause ends and when the next crash begins (`Nanos::MAX`: never).
fn upcoming(setup: &MonitorSetup<'_>, pause: usize, crash: usize) -> (Nanos, Nanos) {
    (setup.pauses.get(pause).map_or(Nanos::MAX, |w| w.to), setup.crashes.get(crash).map_or(Nanos::MAX, |w| w.from))
}

/// The earliest sample time still to come in any window (`Nanos::MAX` when none is). It
/// only decides when `sample` is called (which checks each instant itself): an earlier
/// answer costs calls and changes nothing.
fn first_due(windows: &[SampleWindow], next_sample: &[Nanos]) -> Nanos {
    windows
        .iter()
        .zip(next_sample)
        .filter(|(w, next)| **next <= w.to)
        .map(|(_, next)| *next)
        .min()
        .unwrap_or(Nanos::MAX)
}

fn resume(
    setup: &MonitorSetup<'_>,
    state: &mut State,
    w: Window,
    buffered: &mut Vec<(usize, Delivery)>,
    timers_first: bool,
) {
    let (from, to) = (setup.clock.local(w.from), setup.clock.local(w.to));
    for link in &mut state.analyses {
        link.on_resume(from, to, timers_first);
    }
    for (i, d) in std::mem::take(buffered) {
        state.deliver(setup, i, &d, w.to);
    }
}

/// A target's crashes as down windows in the monitor's clock.
fn ground_truth(crashes: &[Crash], clock: Clock) -> GroundTruth {
    let mut truth = GroundTruth::always_up();
    for c in crashes {
        truth.push_down(DownWindow { from: clock.local(c.from), to: c.to.map(|t| clock.local(t)) });
    }
    truth
}
