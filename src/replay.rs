//! The replay engine: an arrival trace fed to any detectors (DESIGN.md §1).
//!
//! Streams the trace once. Each (monitor, target) pair is a link with its own
//! [`DetectorBank`]; ground truth comes from declared crashes (`--crash TARGET@TIME`).
//! Without a declared crash the target is alive throughout and every suspicion is a
//! mistake. The run ends at the last arrival in the trace (or a later `--end`).
//!
//! What a trace and its declarations must make sense as: `--end` is not before the last
//! arrival, and no crash is declared at or after the run's end (the trace cannot show it);
//! timestamps are at most 2^62 ns (`trace::MAX_TIME_NS`). Two things real traces have are
//! accepted and reported as [`TraceWarning`]s: `seq` decreasing within an incarnation of one
//! link (reordering on a network that is not FIFO), and `received_ns < sent_ns` (`sent_ns`
//! is in the sender's clock, which differs from the receiver's).
//!
//! Each link is a [`LinkAnalysis`] and the results are assembled by the
//! [`ResultsBuilder`], as in every engine. The engine writes nothing but the sampled levels
//! it is handed a writer for; `crate::report::replay_dir` writes its results directory
//! (`fdlab replay`).

pub mod timeline;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::analysis::GroundTruth;
use crate::analysis::cluster::FirstHeard;
use crate::analysis::cluster::heard::Heard;
use crate::analysis::cluster::heard::HeardLink;
use crate::analysis::cluster::run::{ClusterFacts, cluster_views, configurations};
use crate::analysis::link::{ArrivalStats, LinkAnalysis, LinkFacts};
use crate::analysis::output::{LEVELS_HEADER, LevelRow, RunOutput};
use crate::analysis::results::{DatagramCounts, Engine, ResultsBuilder, TraceWarning, TraceWarningKind};
use crate::analysis::truth::DownWindow;
use crate::detector::DetectorSpec;
use crate::experiment::{ClusterSettings, LeaderRule, ReceivePolicy};
use crate::time::{Clock, Nanos, parse_duration};
use crate::trace::{MAX_TIME_NS, TimeUnit, TraceError, TraceReader};

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error("{path}: the trace has no `seq` column, which `{detector}` needs (it uses sequence numbers)")]
    NeedsSeq { path: PathBuf, detector: String },
    #[error("{path}: cluster views need {what}")]
    ClusterNeeds { path: PathBuf, what: &'static str },
    #[error("detector: {source}")]
    Spec { source: crate::detector::SpecError },
    #[error("detector: {message}")]
    Repeated { message: String },
    #[error(
        "detector: `{detector}` needs `interval`, e.g. `{detector}:interval=100ms`; it is inferred only from a trace \
         with `seq` and `sent_ns`, and {why}"
    )]
    IntervalNotInferred { detector: String, why: String },
    #[error("{path}: no heartbeats in the trace")]
    Empty { path: PathBuf },
    #[error("--crash {decl}: target `{target}` does not appear in {path}")]
    UnknownCrashTarget { path: PathBuf, target: String, decl: String },
    #[error("--monitor-crash {decl}: {message}")]
    UnknownCrashMonitor { decl: String, message: String },
    #[error("{flag} {decl}: {message}")]
    Crash { flag: &'static str, decl: String, message: String },
    #[error(
        "{path}: line {line}: monitor `{monitor}` receives a heartbeat at {at_ns} ns, while down by --monitor-crash {decl}"
    )]
    ReceivedWhileDown { path: PathBuf, line: u64, monitor: String, at_ns: u64, decl: String },
    #[error("writing levels: {0}")]
    Levels(std::io::Error),
    #[error(
        "--end {end}: before the last arrival, at {last_ns} ns ({path}: line {line}); --end may only extend the run"
    )]
    EndBeforeLastArrival { end: Nanos, last_ns: u64, path: PathBuf, line: u64 },
    #[error("--end {end}: beyond 2^62 ns (146 years), the largest time fdlab accepts")]
    EndTooLate { end: Nanos },
    #[error("{path}: line {line}: refusing to replay the link {link}")]
    TooLarge { path: PathBuf, line: u64, link: String },
    #[error(
        "{path}: line {line}: refusing to replay on: the `lease` rule keeps every heartbeat heard (up to {per} bytes \
         each), and with this one, {heartbeats} heartbeats beside {links} monitored links × {configurations} detector \
         configurations would take about {mib} MiB of memory, more than 80 % of this machine's {machine_mib} MiB \
         (`--allow-large` replays it anyway; a shorter trace, or the rules without `lease`, fit)"
    )]
    LeaseTooLarge {
        path: PathBuf,
        line: u64,
        per: u128,
        heartbeats: u128,
        links: usize,
        configurations: usize,
        mib: u128,
        machine_mib: u128,
    },
}

/// A crash declared on the command line: `NODE@TIME` (it never comes back) or
/// `NODE@FROM..TO` (down from FROM, running again from TO), in the trace's time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrashDecl {
    pub node: String,
    pub from: Nanos,
    pub to: Option<Nanos>,
}

impl CrashDecl {
    /// `node` crashes at `at` and never comes back.
    pub fn stop(node: &str, at: Nanos) -> CrashDecl {
        CrashDecl { node: node.to_string(), from: at, to: None }
    }

    /// `node` is down from `from` and runs again from `to`.
    pub fn down(node: &str, from: Nanos, to: Nanos) -> CrashDecl {
        CrashDecl { node: node.to_string(), from, to: Some(to) }
    }

    fn window(&self) -> DownWindow {
        DownWindow { from: self.from, to: self.to }
    }
}

impl std::fmt::Display for CrashDecl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.node, self.from)?;
        match self.to {
            Some(to) => write!(f, "..{to}"),
            None => Ok(()),
        }
    }
}

impl std::str::FromStr for CrashDecl {
    type Err = String;
    fn from_str(s: &str) -> Result<CrashDecl, String> {
        let (node, when) =
            s.rsplit_once('@').ok_or_else(|| format!("`{s}` is not NODE@TIME or NODE@FROM..TO, e.g. `node-b@90s`"))?;
        let time = |t: &str| parse_duration(t).map_err(|e| format!("`{s}`: {e}"));
        let (from, to) = match when.split_once("..") {
            Some((from, to)) => (time(from)?, Some(time(to)?)),
            None => (time(when)?, None),
        };
        if to.is_some_and(|to| to <= from) {
            return Err(format!("`{s}`: the window must end after it begins (TO after FROM)"));
        }
        if let Some(late) = [Some(from), to].into_iter().flatten().find(|t| t.0 > MAX_TIME_NS) {
            return Err(format!("`{s}`: {late} is beyond 2^62 ns (146 years), the largest time fdlab accepts"));
        }
        Ok(CrashDecl { node: node.to_string(), from, to })
    }
}

/// The declared crashes of each node, as ordered, disjoint windows; `flag` names them in
/// errors.
fn down_windows<'a>(decls: &'a [CrashDecl], flag: &'static str) -> Result<BTreeMap<&'a str, GroundTruth>, ReplayError> {
    let mut sorted: Vec<&CrashDecl> = decls.iter().collect();
    sorted.sort_by_key(|d| (d.node.as_str(), d.from));
    let mut by_node: BTreeMap<&str, (GroundTruth, &CrashDecl)> = BTreeMap::new();
    for d in sorted {
        let bad = |message: String| ReplayError::Crash { flag, decl: d.to_string(), message };
        match by_node.get_mut(d.node.as_str()) {
            None => {
                let mut truth = GroundTruth::always_up();
                truth.push_down(d.window()); // Cannot fail: the first window, with TO after FROM.
                by_node.insert(&d.node, (truth, d));
            }
            Some((truth, previous)) => {
                if !truth.push_down(d.window()) {
                    return Err(bad(format!("overlaps `{previous}` (a node is down at most once at a time)")));
                }
                *previous = d;
            }
        }
    }
    Ok(by_node.into_iter().map(|(node, (truth, _))| (node, truth)).collect())
}

/// What to replay.
#[derive(Clone, Debug, Default)]
pub struct ReplayConfig {
    pub trace: PathBuf,
    pub detectors: Vec<DetectorSpec>,
    pub crashes: Vec<CrashDecl>,
    /// Declared crashes of monitors (`--monitor-crash`): each restarts with fresh detectors
    /// at its recovery and has heard nothing until its next heartbeat, as in the simulator.
    /// Without a `monitor` column the trace's one monitor is named by the empty string.
    pub monitor_crashes: Vec<CrashDecl>,
    /// Where the run ends (default: the last arrival), e.g. a simulation's duration.
    pub end: Option<Nanos>,
    /// Declared pauses (`--pause NODE@FROM..TO`): the node was alive but stalled. Not down
    /// time: mistakes in them are attributed to the pause of the target or of the monitor.
    pub pauses: Vec<CrashDecl>,
    /// Links cut (`from` → `to`, in `[at, until)`): mistakes in them are attributed to the
    /// partition.
    pub cuts: Vec<CutDecl>,
    /// What happened to the datagrams of each (monitor, target) link on the way, when the
    /// engine that recorded the trace knows (live mode's relay); reported in `links`.
    pub link_counts: BTreeMap<(String, String), DatagramCounts>,
    /// The unit of the trace's timestamps (`--time-unit`; default integer nanoseconds).
    pub time_unit: TimeUnit,
    /// The mistakes per day that choose the setting per detector spec the timeline shows
    /// (`crate::analysis::sampling::chosen_labels`; default one a day).
    pub timeline_target_per_day: Option<f64>,
    /// Cluster views (docs/split-brain.md), from a trace with a `monitor` column; the
    /// declared crashes and pauses are the nodes' ground truth.
    pub cluster: Option<ClusterSettings>,
    /// The nodes whose clocks run at a rate other than real time (live mode's `clock_rate`),
    /// by name. As monitors, as in the simulator, their detectors see each arrival at the
    /// monitor's local time `rate · received_ns`, so their timeouts stretch with the clock,
    /// and the suspicions are converted back to the trace's (real) time. As senders, the
    /// `sent_ns` they stamped is in their own clock: it is taken back to real time (and
    /// the detectors see it on their monitor's clock, as the simulator hands it to them). A
    /// node not named has an exact clock.
    pub clocks: BTreeMap<String, Clock>,
    /// Refuse, before its link's detectors are built, a link that would bring the replay's
    /// estimated memory ([`crate::experiment::replay_memory`]) beyond this (`None`: no
    /// limit). `fdlab replay` and `fdlab tune` set it to 80 % of the machine's memory
    /// unless `--allow-large` is given.
    pub memory_limit: Option<crate::experiment::MemoryLimit>,
}

/// A heartbeat interval read from a trace ([`ReplayConfig::infer_intervals`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InferredInterval {
    /// The median of Δsent_ns/Δseq, rounded to 1 µs.
    pub interval: Nanos,
    /// How many pairs of rows it is the median of.
    pub pairs: u64,
    /// The detector specs it was filled into.
    pub detectors: Vec<String>,
}

impl ReplayConfig {
    /// Opens the trace with the configured time unit.
    pub fn open_trace(&self) -> Result<TraceReader<std::fs::File>, TraceError> {
        Ok(TraceReader::open(&self.trace)?.with_unit(self.time_unit))
    }

    /// Fills the `interval` that sequence-aware detectors (chen, 2w, bertier) need and the
    /// user left out with the interval the trace shows: the median of Δsent_ns/Δseq over
    /// successive rows of one link and incarnation whose `seq` and `sent_ns` both increase
    /// (so losses, which skip numbers, do not bias it), rounded to 1 µs. The median is the
    /// lower one of an even count, so rounding each ratio first gives the same value. `None`
    /// when no spec needs it; an error naming what is missing when the trace cannot show it.
    pub fn infer_intervals(&mut self) -> Result<Option<InferredInterval>, ReplayError> {
        let wanting: Vec<usize> = (0..self.detectors.len())
            .filter(|&i| self.detectors[i].needs_seq() && self.detectors[i].missing().contains(&"interval"))
            .collect();
        let Some(&first) = wanting.first() else { return Ok(None) };
        let not_inferred =
            |why: String| ReplayError::IntervalNotInferred { detector: self.detectors[first].kind().to_string(), why };
        let mut reader = self.open_trace()?;
        if !reader.has_seq() {
            let kind = self.detectors[first].kind();
            return Err(not_inferred(format!(
                "{} has no `seq` column, which `{kind}` needs in any case",
                self.trace.display()
            )));
        }
        if !reader.has_sent() {
            return Err(not_inferred(format!("{} has no `sent_ns` column", self.trace.display())));
        }
        if !std::fs::metadata(&self.trace).is_ok_and(|m| m.is_file()) {
            return Err(not_inferred(format!(
                "{} is not a regular file (it would be read twice)",
                self.trace.display()
            )));
        }
        // Per link: the incarnation, seq and sent_ns of its latest row in order.
        let mut last: BTreeMap<(u32, u32), (Option<u64>, u64, Nanos)> = BTreeMap::new();
        // Ratios rounded to whole µs, counted: bounded by the distinct values, not the rows.
        let mut counts: BTreeMap<u64, u64> = BTreeMap::new();
        while let Some(row) = reader.next_row()? {
            let (Some(seq), Some(sent)) = (row.arrival.seq, row.arrival.sent) else { continue };
            let incarnation = row.arrival.incarnation;
            match last.get(&(row.monitor, row.target)) {
                Some(&(inc, s, _)) if inc == incarnation && seq <= s => continue, // reordered or duplicated
                Some(&(inc, s, t)) if inc == incarnation && sent > t => {
                    let (dsent, dseq) = (u128::from((sent - t).0), u128::from(seq - s));
                    let micros = (2 * dsent + dseq * 1000) / (2 * dseq * 1000);
                    *counts.entry(micros as u64).or_default() += 1;
                }
                _ => {}
            }
            last.insert((row.monitor, row.target), (incarnation, seq, sent));
        }
        let pairs: u64 = counts.values().sum();
        let mut below = (pairs.max(1) - 1) / 2;
        let mut median = None;
        for (&micros, &n) in &counts {
            if below < n {
                median = Some(micros);
                break;
            }
            below -= n;
        }
        let interval = match median {
            Some(micros) if micros > 0 => Nanos(micros * 1000),
            Some(_) => {
                return Err(not_inferred(format!(
                    "the median of Δsent_ns/Δseq in {} rounds to 0 µs",
                    self.trace.display()
                )));
            }
            None => {
                return Err(not_inferred(format!(
                    "{} has no two rows of one link and incarnation whose `seq` and `sent_ns` both increase",
                    self.trace.display()
                )));
            }
        };
        let mut detectors = Vec::new();
        for i in wanting {
            let spec = &mut self.detectors[i];
            spec.fill("interval", &interval.to_string()).map_err(|source| ReplayError::Spec { source })?;
            if !detectors.iter().any(|d| d == spec.kind()) {
                detectors.push(spec.kind().to_string());
            }
        }
        Ok(Some(InferredInterval { interval, pairs, detectors }))
    }
}

/// A declared cut of the link from `from` to `to` over `[at, until)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CutDecl {
    pub from: String,
    pub to: String,
    pub at: Nanos,
    pub until: Nanos,
}

/// The declared windows of one name (a pause's node), sorted.
fn windows_of(decls: &[CrashDecl], node: &str) -> Vec<(Nanos, Nanos)> {
    let mut w: Vec<(Nanos, Nanos)> =
        decls.iter().filter(|d| d.node == node).map(|d| (d.from, d.to.unwrap_or(Nanos::MAX))).collect();
    w.sort();
    w
}

/// Sampled levels for charts, every `every` from 0 to the run's end, in the one schema of
/// level files ([`LEVELS_HEADER`]; `fault` empty, `monitor` empty when the trace names
/// none). The level at t reflects every heartbeat received at or before t; a link has rows
/// from its first heartbeat on (before it, every level is 0).
pub struct LevelSampler<'a> {
    pub every: Nanos,
    pub out: &'a mut dyn Write,
    /// Sample only within `[from, until]` (default: the whole run), starting at `from`.
    pub from: Nanos,
    pub until: Option<Nanos>,
}

impl<'a> LevelSampler<'a> {
    /// Samples every `every` over the whole run into `out`.
    pub fn new(every: Nanos, out: &'a mut dyn Write) -> LevelSampler<'a> {
        LevelSampler { every, out, from: Nanos::ZERO, until: None }
    }
}

struct Link {
    monitor: u32,
    target: u32,
    /// The monitor's clock: its analysis runs in the monitor's local time.
    clock: Clock,
    /// The target's clock, in which its `sent_ns` are stamped.
    sender_clock: Clock,
    /// The target's declared crashes.
    truth: GroundTruth,
    analysis: LinkAnalysis,
    /// The incarnation of the last row with a `seq`, and the highest `seq` seen in it.
    highest_seq: Option<(Option<u64>, u64)>,
    /// The monitor's declared pauses (local time), and how many of them it has resumed from.
    monitor_pauses: Vec<(Nanos, Nanos)>,
    resumed: usize,
    /// The smallest `received_ns − sent_ns` of the link's replayed rows (signed: the hosts'
    /// clocks may differ), for delays relative to it.
    min_gap: Option<i128>,
    /// For cluster views: per (re)start of the monitor, when it first heard the target.
    first_heard: Vec<(Nanos, Option<Nanos>)>,
    /// For the lease rule: every heartbeat the monitor heard on the link (sent, received).
    heard: HeardLink,
}

impl Link {
    /// Resumes the monitor from every declared pause that ended at or before `t` (`until`
    /// holds for `t`): checks that fell due in a pause fire at its end, before the datagrams
    /// buffered meanwhile, as in the simulator's default `resume_order`.
    fn resume_until(&mut self, until: impl Fn(Nanos) -> bool) {
        while let Some(&(from, to)) = self.monitor_pauses.get(self.resumed).filter(|p| until(p.1)) {
            self.analysis.on_resume(from, to, true);
            self.resumed += 1;
        }
    }
}

impl Link {
    /// Whether a heartbeat sent at `sent` was sent while the target was down (one sent at
    /// the crash's instant was on its way, and counts).
    fn sent_while_down(&self, sent: Nanos) -> bool {
        sent_while_down(&self.truth, sent)
    }
}

/// How many rows of one kind, and the first one's line.
#[derive(Default)]
struct Tally {
    rows: u64,
    first_line: u64,
}

impl Tally {
    fn add(&mut self, line: u64) {
        if self.rows == 0 {
            self.first_line = line;
        }
        self.rows += 1;
    }

    fn warning(&self, kind: TraceWarningKind, what: &str, why: &str) -> Option<TraceWarning> {
        (self.rows > 0).then(|| TraceWarning {
            kind,
            rows: self.rows,
            first_line: self.first_line,
            message: format!(
                "{} row{} where {what}, the first at line {}: {why}",
                self.rows,
                if self.rows == 1 { "" } else { "s" },
                self.first_line
            ),
        })
    }
}

/// Replays a trace through the detectors and returns what it gave: the summary, the
/// inter-arrival times and, when the trace has `sent_ns` and no row was received before it
/// was sent, the one-way delays.
pub fn replay(config: &ReplayConfig, levels: Option<LevelSampler<'_>>) -> Result<RunOutput, ReplayError> {
    let mut reader = config.open_trace()?;
    replay_from(&mut reader, config, levels)
}

/// As [`replay`], from an open reader (tests feed text through it).
pub fn replay_from<R: std::io::Read>(
    reader: &mut TraceReader<R>,
    config: &ReplayConfig,
    mut levels: Option<LevelSampler<'_>>,
) -> Result<RunOutput, ReplayError> {
    let path = reader.path().to_path_buf();
    for spec in &config.detectors {
        spec.require_complete().map_err(|source| ReplayError::Spec { source })?;
        if spec.needs_seq() && !reader.has_seq() {
            return Err(ReplayError::NeedsSeq { path, detector: spec.points()[0].label.clone() });
        }
    }
    if let Some(r) = crate::detector::find_repeat(&config.detectors) {
        return Err(ReplayError::Repeated { message: r.message(|i| format!("--detector number {}", i + 1)) });
    }
    let lease = config.cluster.as_ref().is_some_and(|c| c.rules().contains(&LeaderRule::Lease));
    if config.cluster.is_some() && !reader.has_monitor() {
        return Err(ReplayError::ClusterNeeds { path, what: "a `monitor` column (whose view is it?)" });
    }
    if lease && !reader.has_sent() {
        return Err(ReplayError::ClusterNeeds {
            path,
            what: "`sent_ns` for the `lease` rule (each heartbeat acknowledges one sent earlier)",
        });
    }
    // Heartbeats kept for the lease rule (in each link's record), and what the links'
    // names take.
    let (mut kept, mut name_bytes): (u128, u128) = (0, 0);
    if let Some(c) = config.crashes.iter().find(|c| c.node.is_empty()) {
        return Err(ReplayError::Crash { flag: "--crash", decl: c.to_string(), message: "the target is empty".into() });
    }
    let target_down = down_windows(&config.crashes, "--crash")?;
    let monitor_down = down_windows(&config.monitor_crashes, "--monitor-crash")?;
    let mut links: Vec<Link> = Vec::new();
    let configuration_count: usize = config.detectors.iter().map(|s| s.points().len()).sum();
    let mut index: BTreeMap<(u32, u32), usize> = BTreeMap::new();
    let mut last_key = (u32::MAX, u32::MAX, 0usize);
    let mut next_sample = levels.as_ref().map_or(Nanos::ZERO, |l| l.from);
    let mut end = None;
    let mut last_line = 0;
    let (mut reordered, mut received_before_sent) = (Tally::default(), Tally::default());
    let mut stats = ArrivalStats::default();
    if let Some(l) = levels.as_mut() {
        l.out.write_all(LEVELS_HEADER.as_bytes()).map_err(ReplayError::Levels)?;
    }

    while let Some(row) = reader.next_row()? {
        let t = row.arrival.at;
        end = Some(t);
        last_line = row.line;
        if let Some(l) = levels.as_mut() {
            while next_sample < t && l.until.is_none_or(|u| next_sample <= u) {
                write_levels(l, next_sample, &mut links, reader)?;
                next_sample = next_sample.saturating_add(l.every);
            }
        }
        let link = if (last_key.0, last_key.1) == (row.monitor, row.target) {
            last_key.2
        } else if let Some(&i) = index.get(&(row.monitor, row.target)) {
            last_key = (row.monitor, row.target, i);
            i
        } else {
            let names = crate::experiment::link_name_bytes(
                reader.name(row.monitor).len() + reader.name(row.target).len(),
                configuration_count as u128,
            );
            if let Some(limit) = config.memory_limit {
                let need = crate::experiment::replay_memory(links.len() as u128 + 1, configuration_count as u128)
                    + crate::experiment::lease_record_bytes(kept)
                    + name_bytes
                    + names;
                if need > limit.usable {
                    return Err(ReplayError::TooLarge {
                        path,
                        line: row.line,
                        link: format!(
                            "{}←{}: with it, {} monitored links × {configuration_count} detector configurations would \
                             take about {} MiB of memory, more than 80 % of this machine's {} MiB (`--allow-large` \
                             replays it anyway; fewer detector configurations, or the trace's links replayed in \
                             separate traces, fit)",
                            crate::text::shown_name(reader.name(row.monitor)),
                            crate::text::shown_name(reader.name(row.target)),
                            links.len() + 1,
                            need.div_ceil(1 << 20),
                            limit.machine >> 20
                        ),
                    });
                }
            }
            name_bytes += names;
            {
                let truth = target_down.get(reader.name(row.target)).cloned().unwrap_or_default();
                let down = monitor_down.get(reader.name(row.monitor)).map_or(&[][..], |t| t.down_windows());
                let (monitor, target) = (reader.name(row.monitor), reader.name(row.target));
                let clock = config.clocks.get(monitor).copied().unwrap_or(Clock::EXACT);
                let sender_clock = config.clocks.get(target).copied().unwrap_or(Clock::EXACT);
                let local = |(from, to): (Nanos, Nanos)| (clock.local(from), clock.local(to));
                let mut cuts: Vec<(Nanos, Nanos)> = config
                    .cuts
                    .iter()
                    .filter(|c| c.from == target && c.to == monitor)
                    .map(|c| local((c.at, c.until)))
                    .collect();
                cuts.sort();
                let monitor_pauses: Vec<(Nanos, Nanos)> =
                    windows_of(&config.pauses, monitor).into_iter().map(local).collect();
                let facts = LinkFacts {
                    target_down: local_truth(&truth, clock),
                    monitor_down: down
                        .iter()
                        .map(|w| DownWindow { from: clock.local(w.from), to: w.to.map(|t| clock.local(t)) })
                        .collect(),
                    target_pauses: windows_of(&config.pauses, target).into_iter().map(local).collect(),
                    monitor_pauses: monitor_pauses.clone(),
                    cuts,
                };
                let starts = std::iter::once(Nanos::ZERO)
                    .chain(down.iter().filter_map(|w| w.to))
                    .map(|start| (start, None))
                    .collect();
                // A trace records what the monitor received: its policy was applied.
                let mut analysis = LinkAnalysis::new(&config.detectors, facts, ReceivePolicy::Raw);
                if config.cluster.is_some() {
                    analysis.record_suspicions();
                }
                links.push(Link {
                    monitor: row.monitor,
                    target: row.target,
                    clock,
                    sender_clock,
                    analysis,
                    first_heard: starts,
                    truth,
                    highest_seq: None,
                    monitor_pauses,
                    resumed: 0,
                    min_gap: None,
                    heard: HeardLink::default(),
                });
            }
            let i = links.len() - 1;
            index.insert((row.monitor, row.target), i);
            last_key = (row.monitor, row.target, i);
            i
        };
        let link_count = links.len();
        let link = &mut links[link];
        if let Some(seq) = row.arrival.seq {
            match &mut link.highest_seq {
                Some((incarnation, highest)) if *incarnation == row.arrival.incarnation => {
                    if seq < *highest {
                        reordered.add(row.line);
                    }
                    *highest = (*highest).max(seq);
                }
                other => *other = Some((row.arrival.incarnation, seq)),
            }
        }
        // When it was sent in real time, the trace's time (the sender stamped its own clock).
        let sent = row.arrival.sent.map(|s| link.sender_clock.real(s));
        if sent.is_some_and(|sent| sent > t) {
            received_before_sent.add(row.line);
        }
        // The monitor's crashes up to this instant come first (one at a heartbeat's instant
        // too): a monitor that is down cannot have received it.
        let local_t = link.clock.local(t);
        link.analysis.catch_up(|from| from <= local_t);
        if let Some(w) = link.analysis.monitor_down_at(local_t) {
            let monitor = reader.name(row.monitor).to_string();
            let (from, to) = (link.clock.real(w.from), w.to.map(|to| link.clock.real(to)));
            let decl = CrashDecl { node: monitor.clone(), from, to }.to_string();
            return Err(ReplayError::ReceivedWhileDown { path, line: row.line, monitor, at_ns: t.0, decl });
        }
        // A heartbeat sent while the target was down cannot exist; one sent before a crash
        // and received after it was in flight and counts.
        if sent.is_some_and(|sent| link.sent_while_down(sent)) {
            continue;
        }
        if let Some(sent) = sent {
            let gap = i128::from(t.0) - i128::from(sent.0);
            link.min_gap = Some(link.min_gap.map_or(gap, |m| m.min(gap)));
        }
        let delay = sent.filter(|&sent| sent <= t).map(|sent| t - sent);
        link.resume_until(|to| to <= local_t);
        // The detectors see the send instant on their monitor's clock, as the arrival.
        let arrival = crate::detector::Arrival { at: local_t, sent: sent.map(|s| link.clock.local(s)), ..row.arrival };
        link.analysis.receive(&arrival, delay, Some(&mut stats));
        if config.cluster.is_some() {
            let start = link.first_heard.partition_point(|s| s.0 <= t);
            if let Some(first @ (_, None)) = start.checked_sub(1).and_then(|i| link.first_heard.get_mut(i)) {
                first.1 = Some(t);
            }
            if let (true, Some(sent)) = (lease, sent) {
                kept += 1;
                if let Some(limit) = config.memory_limit {
                    let need = crate::experiment::replay_memory(link_count as u128, configuration_count as u128)
                        + crate::experiment::lease_record_bytes(kept)
                        + name_bytes;
                    if need > limit.usable {
                        return Err(ReplayError::LeaseTooLarge {
                            path,
                            line: row.line,
                            per: crate::experiment::lease_record_bytes(1),
                            heartbeats: kept,
                            links: link_count,
                            configurations: configuration_count,
                            mib: need.div_ceil(1 << 20),
                            machine_mib: limit.machine >> 20,
                        });
                    }
                }
                link.heard.push(sent, t);
            }
        }
    }
    let last = end.ok_or(ReplayError::Empty { path: path.clone() })?;
    if let Some(end) = config.end {
        if end.0 > MAX_TIME_NS {
            return Err(ReplayError::EndTooLate { end });
        }
        if end < last {
            return Err(ReplayError::EndBeforeLastArrival { end, last_ns: last.0, path, line: last_line });
        }
    }
    let end = config.end.unwrap_or(last);
    if let Some(l) = levels.as_mut() {
        while next_sample <= end.min(l.until.unwrap_or(Nanos::MAX)) {
            write_levels(l, next_sample, &mut links, reader)?;
            match next_sample.checked_add(l.every) {
                Some(n) if l.every > Nanos::ZERO => next_sample = n,
                _ => break,
            }
        }
    }
    for c in &config.crashes {
        if reader.id_of(&c.node).is_none() {
            return Err(ReplayError::UnknownCrashTarget {
                path: path.clone(),
                target: c.node.clone(),
                decl: c.to_string(),
            });
        }
    }
    // A paused node is a target or a monitor (the one unnamed monitor of a trace without a
    // `monitor` column is named by the empty string): a name the trace lacks is a typo,
    // which would turn the pause into unexplained mistakes.
    for c in &config.pauses {
        let unnamed_monitor = c.node.is_empty() && !reader.has_monitor();
        if !unnamed_monitor && reader.id_of(&c.node).is_none() {
            return Err(ReplayError::Crash {
                flag: "--pause",
                decl: c.to_string(),
                message: format!("node `{}` does not appear in {}", c.node, path.display()),
            });
        }
    }
    for c in &config.monitor_crashes {
        let message = if !reader.has_monitor() && !c.node.is_empty() {
            {
                let unnamed = CrashDecl { node: String::new(), ..c.clone() };
                format!("{} has no `monitor` column: name its one monitor as empty, `{unnamed}`", path.display())
            }
        } else if reader.has_monitor() && !links.iter().any(|l| reader.name(l.monitor) == c.node) {
            format!("monitor `{}` does not appear in {}", c.node, path.display())
        } else {
            continue;
        };
        return Err(ReplayError::UnknownCrashMonitor { decl: c.to_string(), message });
    }
    let basis = match config.end {
        Some(_) => "--end".to_string(),
        None => format!("the last arrival, {}: line {last_line}", path.display()),
    };
    for (flag, decls) in
        [("--crash", &config.crashes), ("--monitor-crash", &config.monitor_crashes), ("--pause", &config.pauses)]
    {
        if let Some(c) = decls.iter().find(|c| c.from >= end) {
            return Err(ReplayError::Crash {
                flag,
                decl: c.to_string(),
                message: format!(
                    "at or after the run's end, {end} ({basis}), where the trace can no longer show it; declare \
                     it before the end, or extend the run with --end"
                ),
            });
        }
    }
    // The monitors' crashes and resumptions before the end.
    for link in &mut links {
        let end = link.clock.local(end);
        link.analysis.catch_up(|from| from < end);
        link.resume_until(|to| to <= end);
    }

    // Each link's smallest receipt − send gap, for delays in differing clocks (below).
    let min_gaps: BTreeMap<(String, String), i128> = links
        .iter()
        .filter_map(|l| Some(((reader.name(l.monitor).to_string(), reader.name(l.target).to_string()), l.min_gap?)))
        .collect();
    let mut builder = ResultsBuilder::default();
    // Cluster nodes: the names of the links' ends (the reader also knows the empty monitor
    // of traces without a `monitor` column), by reader id.
    let mut nodes: Vec<u32> = links.iter().flat_map(|l| [l.monitor, l.target]).collect();
    nodes.sort_unstable();
    nodes.dedup();
    let node = |id: u32| nodes.binary_search(&id).expect("a link's end");
    let mut first_heard = FirstHeard::new();
    let mut heard = Heard::default();
    for mut link in links {
        first_heard.insert((node(link.monitor), node(link.target)), std::mem::take(&mut link.first_heard));
        heard.insert(node(link.target), node(link.monitor), std::mem::take(&mut link.heard));
        let monitor = reader.has_monitor().then(|| reader.name(link.monitor));
        let target = reader.name(link.target);
        let counts = config.link_counts.get(&(reader.name(link.monitor).to_string(), target.to_string())).copied();
        let clock = link.clock;
        let mut outcome = link.analysis.finish(clock.local(end), counts);
        if !clock.is_exact() {
            // Cluster views compare nodes: their suspicions in real time (as the simulator's).
            for (_, q) in &mut outcome.reports {
                q.suspicions.iter_mut().for_each(|(s, e)| (*s, *e) = (clock.real(*s), clock.real(*e)));
            }
        }
        builder.add_link(monitor, target, outcome);
    }
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    let mut summary = builder.finish(format!("replay of {name}"), None, Engine::Replay, end);
    let leaders = match &config.cluster {
        Some(settings) => {
            let ids: Vec<String> = nodes.iter().map(|&id| reader.name(id).to_string()).collect();
            let facts = cluster_facts(config, &ids, first_heard, heard, end);
            let configurations = configurations(&mut summary.results, &facts.ids);
            let (cluster, leaders) = cluster_views(
                &facts,
                settings,
                &config.detectors,
                &[],
                configurations,
                std::thread::available_parallelism().map_or(1, |n| n.get()),
            );
            summary.cluster = cluster;
            leaders
        }
        None => None,
    };
    // One-way delays mean something only in one clock. When a row shows that the hosts'
    // clocks differ, the trace is read again (a regular file can be) and each delay is
    // reported above its link's smallest, which removes the clocks' offset (not a drift).
    let relative = reader.has_sent()
        && received_before_sent.rows > 0
        && std::fs::metadata(&config.trace).is_ok_and(|m| m.is_file());
    let delay = if !reader.has_sent() {
        None
    } else if received_before_sent.rows == 0 {
        Some(stats.delay.to_histogram())
    } else if relative {
        Some(delays_above_minimum(config, &min_gaps, &target_down)?)
    } else {
        None
    };
    summary.trace_warnings = [
        reordered.warning(
            TraceWarningKind::SeqDecreased,
            "`seq` is lower than an earlier row's of the same monitor, target and incarnation",
            "reordering, as a network that is not FIFO delivers; replayed as received",
        ),
        received_before_sent.warning(
            TraceWarningKind::ReceivedBeforeSent,
            "`received_ns` is earlier than `sent_ns`",
            if relative {
                "`sent_ns` is in the sender's clock, which differs from the receiver's; replayed as received, and \
                 one-way delays (delay.hgrm) are reported above each link's smallest, which removes the clocks' \
                 offset but not their drift"
            } else {
                "`sent_ns` is in the sender's clock, which differs from the receiver's; replayed as received"
            },
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    Ok(RunOutput {
        summary,
        delay,
        interarrival: Some(stats.interarrival.to_histogram()),
        trace: None,
        deliveries: stats.deliveries,
        timeline: None,
        leaders,
        workload_latency: Vec::new(),
    })
}

/// The cluster facts of a replay: the trace's nodes, exact clocks, the declared crashes and
/// pauses as ground truth (a pause stalls the whole node), and what the monitors heard.
fn cluster_facts(
    config: &ReplayConfig,
    ids: &[String],
    first_heard: FirstHeard,
    heard: Heard,
    end: Nanos,
) -> ClusterFacts {
    let windows = |decls: &[&CrashDecl], node: &str| -> Vec<(Nanos, Nanos)> {
        decls.iter().filter(|d| d.node == node).map(|d| (d.from, d.to.unwrap_or(end))).collect()
    };
    let crashes: Vec<&CrashDecl> = config.crashes.iter().chain(&config.monitor_crashes).collect();
    // A node both monitor and target may be declared in both lists: each window once.
    let crashed = ids
        .iter()
        .map(|id| {
            let mut w = windows(&crashes, id);
            w.sort_unstable();
            w.dedup();
            w
        })
        .collect();
    let pauses: Vec<&CrashDecl> = config.pauses.iter().collect();
    let paused: Vec<Vec<(Nanos, Nanos)>> = ids.iter().map(|id| windows(&pauses, id)).collect();
    let fault_starts = crashes.iter().chain(&pauses).map(|d| d.from).chain(config.cuts.iter().map(|c| c.at)).collect();
    ClusterFacts {
        ids: ids.to_vec(),
        clocks: ids.iter().map(|id| config.clocks.get(id).copied().unwrap_or(Clock::EXACT)).collect(),
        crashed,
        stalled: paused.clone(),
        paused,
        first_heard,
        heard,
        fault_starts,
        end,
    }
}

/// `truth`'s down windows in a monitor's local time.
fn local_truth(truth: &GroundTruth, clock: Clock) -> GroundTruth {
    if clock.is_exact() {
        return truth.clone();
    }
    let mut local = GroundTruth::always_up();
    for w in truth.down_windows() {
        local.push_down(DownWindow { from: clock.local(w.from), to: w.to.map(|t| clock.local(t)) });
    }
    local
}

/// Whether a heartbeat sent at `sent` was sent while the target was down (one sent at the
/// crash's instant was on its way, and counts).
fn sent_while_down(truth: &GroundTruth, sent: Nanos) -> bool {
    let windows = truth.down_windows();
    let before = windows.partition_point(|w| w.from < sent);
    before > 0 && windows[before - 1].to.is_none_or(|to| sent < to)
}

/// The one-way delays of a trace whose hosts' clocks differ, each above its link's smallest
/// `received_ns − sent_ns` (`min_gaps`), from a second reading of the trace; rows sent while
/// their target was declared down are left out, as the replay leaves them out.
fn delays_above_minimum(
    config: &ReplayConfig,
    min_gaps: &BTreeMap<(String, String), i128>,
    target_down: &BTreeMap<&str, GroundTruth>,
) -> Result<hdrhistogram::Histogram<u64>, ReplayError> {
    let mut reader = config.open_trace()?;
    let mut counts = crate::analysis::stats::HdrCounts::default();
    while let Some(row) = reader.next_row()? {
        let (monitor, target) = (reader.name(row.monitor), reader.name(row.target));
        // In real time, as the replay took it (`ReplayConfig::clocks`).
        let Some(sent) = row.arrival.sent.map(|s| config.clocks.get(target).map_or(s, |c| c.real(s))) else {
            continue;
        };
        let Some(&min) = min_gaps.get(&(monitor.to_string(), target.to_string())) else { continue };
        let down = target_down.get(target).is_some_and(|truth| sent_while_down(truth, sent));
        if !down {
            let gap = i128::from(row.arrival.at.0) - i128::from(sent.0) - min;
            counts.record(u64::try_from(gap).unwrap_or(0));
        }
    }
    Ok(counts.to_histogram())
}

fn write_levels<R: std::io::Read>(
    l: &mut LevelSampler<'_>,
    t: Nanos,
    links: &mut [Link],
    reader: &TraceReader<R>,
) -> Result<(), ReplayError> {
    let real_t = t;
    for link in links.iter_mut() {
        // The level at real time t is the detectors' at the monitor's local time.
        let t = link.clock.local(t);
        // A monitor that crashed at or before t has fresh detectors (level 0 until they hear
        // a heartbeat); one that stopped for good has no more levels.
        link.analysis.catch_up(|from| from <= t);
        if link.analysis.stopped_at().is_some_and(|stop| stop < t) {
            continue;
        }
        let monitor = if reader.has_monitor() { reader.name(link.monitor) } else { "" };
        for (point, level, suspected) in link.analysis.levels(t) {
            LevelRow {
                fault: None,
                at: real_t,
                monitor,
                target: reader.name(link.target),
                detector: &point.label,
                level,
                threshold: point.threshold,
                suspected,
            }
            .write(l.out)
            .map_err(ReplayError::Levels)?;
        }
    }
    Ok(())
}

/// The default output directory for a replay of `trace`: `results/<file stem>`.
pub fn default_out_dir(trace: &Path) -> PathBuf {
    let stem = trace.file_stem().map_or_else(|| "replay".into(), |s| s.to_string_lossy().into_owned());
    Path::new("results").join(stem)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Heartbeats every 100 ms from 0 to 10 s, except that none arrive in (3 s, 5 s).
    fn gap_trace(monitor_column: bool) -> String {
        let mut text =
            String::from(if monitor_column { "monitor,target,received_ns\n" } else { "target,received_ns\n" });
        for i in (0..=100u64).filter(|i| !(31..50).contains(i)) {
            let m = if monitor_column { "m," } else { "" };
            text.push_str(&format!("{m}a,{}\n", i * 100_000_000));
        }
        text
    }

    fn run(
        text: &str,
        crashes: &[&str],
        monitor_crashes: &[&str],
    ) -> Result<crate::analysis::results::SummaryFile, ReplayError> {
        let config = ReplayConfig {
            trace: "t.csv".into(),
            detectors: vec![DetectorSpec::parse("fixed:timeout=300ms").unwrap()],
            crashes: crashes.iter().map(|c| c.parse().unwrap()).collect(),
            monitor_crashes: monitor_crashes.iter().map(|c| c.parse().unwrap()).collect(),
            ..ReplayConfig::default()
        };
        replay_from(&mut TraceReader::new(Path::new("t.csv"), text.as_bytes()).unwrap(), &config, None)
            .map(|o| o.summary)
    }

    #[test]
    fn crash_declarations_parse_and_print_back() {
        assert_eq!("b@90s".parse(), Ok(CrashDecl::stop("b", Nanos::from_secs(90))));
        let down: CrashDecl = "node-b@90s..2m".parse().unwrap();
        assert_eq!(down, CrashDecl::down("node-b", Nanos::from_secs(90), Nanos::from_secs(120)));
        assert_eq!(down.to_string(), "node-b@90s..2m");
        assert!("b@2m..90s".parse::<CrashDecl>().unwrap_err().contains("TO after FROM"));
        assert!("b@90s..90s".parse::<CrashDecl>().is_err());
        // Times beyond 2^62 ns are refused, as in traces and experiment files; 2^62 itself is not.
        for late in ["b@300s..18446744073709551615ns", "b@5000000000s", "b@4611686018427387905ns"] {
            assert!(late.parse::<CrashDecl>().unwrap_err().contains("beyond 2^62 ns"), "{late}");
        }
        assert!("b@1s..4611686018427387904ns".parse::<CrashDecl>().is_ok());
        assert!("b90s".parse::<CrashDecl>().unwrap_err().contains("NODE@TIME"));
        assert!("b@soon".parse::<CrashDecl>().unwrap_err().contains("b@soon"));
    }

    #[test]
    fn a_monitor_crash_hides_the_silence_it_caused() {
        // Without the crash, the 300 ms timeout suspects from 3.3 s until the heartbeat at
        // 5 s: one mistake of 1.7 s.
        let plain = run(&gap_trace(false), &[], &[]).unwrap();
        let q = &plain.results[0].qos;
        assert_eq!((q.mistakes, q.heartbeats), (1, 82));
        assert!((q.mistake_duration_s.mean.unwrap() - 1.7).abs() < 1e-9);
        assert!((q.observed_up_s - 10.0).abs() < 1e-9);
        // The monitor was down from 3.05 s to 5 s: the crossing at 3.3 s was never reached,
        // and observation covers [0, 3.05 s) and [5 s, 10 s].
        let crashed = run(&gap_trace(false), &[], &["@3050ms..5s"]).unwrap();
        let q = &crashed.results[0].qos;
        assert_eq!((q.mistakes, q.censored.count, q.heartbeats), (0, 0, 82));
        assert!((q.observed_up_s - 8.05).abs() < 1e-9, "{}", q.observed_up_s);
        // Down from 3.4 s: the suspicion begun at 3.3 s is censored after 0.1 s.
        let q = &run(&gap_trace(false), &[], &["@3400ms..5s"]).unwrap().results[0].qos;
        assert_eq!((q.mistakes, q.censored.count), (0, 1));
        assert!((q.censored.durations_so_far_s[0] - 0.1).abs() < 1e-9);
        // A crash-stop at 4 s ends observation there: the rows after it contradict it.
        let e = run(&gap_trace(true), &[], &["m@4s"]).unwrap_err().to_string();
        assert!(e.contains("t.csv: line 33: monitor `m` receives a heartbeat at 5000000000 ns"), "{e}");
        assert!(e.contains("--monitor-crash m@4s"), "{e}");
        // Without the last row, and with another monitor hearing a at 10 s: m's link ends at
        // its crash-stop, 9.95 s, while the run goes on to 10 s.
        let text = gap_trace(true).replace("m,a,10000000000\n", "n,a,10000000000\n");
        let r = run(&text, &[], &["m@9950ms"]).unwrap();
        assert_eq!(r.results[0].monitor.as_deref(), Some("m"));
        assert!((r.results[0].qos.observed_up_s - 9.95).abs() < 1e-9, "{}", r.results[0].qos.observed_up_s);
    }

    #[test]
    fn a_target_that_recovers_is_detected_and_then_trusted() {
        // a down from 3.05 s to 4.95 s: the suspicion from 3.3 s detects it in 0.25 s; from
        // the recovery until the heartbeat at 5 s ends it, it is a mistake caused by the
        // recovery (the detector could not know yet).
        let q = &run(&gap_trace(false), &["a@3050ms..4950ms"], &[]).unwrap().results[0].qos;
        assert_eq!((q.mistakes, q.crashes.len()), (1, 1));
        assert!((q.crashes[0].detection_time_s.unwrap() - 0.25).abs() < 1e-9);
        assert_eq!(q.mistakes_by_cause[&crate::analysis::qos::Cause::Recovery], 1);
        assert!((q.mistake_duration_s.mean.unwrap() - 0.05).abs() < 1e-9);
        // Trusted again before the recovery (a heartbeat from before the crash, in flight):
        // that suspicion did not detect the crash.
        let q = &run(&gap_trace(false), &["a@3050ms..6s"], &[]).unwrap().results[0].qos;
        assert_eq!((q.mistakes, q.crashes[0].detection_time_s), (0, None));
    }

    #[test]
    fn a_link_beyond_the_memory_limit_is_refused_before_its_detectors_are_built() {
        // Three links (m←a, m←b, n←a; m←a again between them) through a sweep of 5
        // configurations and a fixed timeout: 6 configurations on each link.
        let text = "monitor,target,received_ns\nm,a,100\nm,b,200\nm,a,300\nn,a,400\nm,b,500\n";
        let replay_with = |limit: Option<crate::experiment::MemoryLimit>| {
            let config = ReplayConfig {
                trace: "t.csv".into(),
                detectors: vec![
                    DetectorSpec::parse("phi:threshold=1..5").unwrap(),
                    DetectorSpec::parse("fixed:timeout=1s").unwrap(),
                ],
                memory_limit: limit,
                ..ReplayConfig::default()
            };
            replay_from(&mut TraceReader::new(Path::new("t.csv"), text.as_bytes()).unwrap(), &config, None)
                .map(|o| o.summary)
        };
        let machine = 64u128 << 30;
        let limit = |usable: u128| Some(crate::experiment::MemoryLimit { machine, usable });
        // Each link's names (2 bytes in all) in the reader, its entry and 6 results, twice.
        let names = crate::experiment::link_name_bytes(2, 6);
        assert_eq!(names, 28);
        let two = crate::experiment::replay_memory(2, 6) + 2 * names;
        let three = crate::experiment::replay_memory(3, 6) + 3 * names;
        assert!(two < three);
        // Just enough for two links: the third, at line 5, is refused, naming it.
        let e = replay_with(limit(three - 1)).unwrap_err().to_string();
        assert!(e.starts_with("t.csv: line 5: refusing to replay the link n←a: with it, 3 monitored links × 6 detector configurations would take about "), "{e}");
        assert!(
            e.contains(&format!(
                "about {} MiB of memory, more than 80 % of this machine's 65536 MiB",
                three.div_ceil(1 << 20)
            )),
            "{e}"
        );
        assert!(e.contains("`--allow-large` replays it anyway"), "{e}");
        // Exactly enough: it runs, as it does without a limit.
        let fits = replay_with(limit(three)).unwrap();
        assert_eq!(fits.results.len(), 18);
        assert_eq!(fits.results.len(), replay_with(None).unwrap().results.len());
        // Enough for one link only: the second, at line 3.
        let e = replay_with(limit(two - 1)).unwrap_err().to_string();
        assert!(e.starts_with("t.csv: line 3: refusing to replay the link m←b: with it, 2 monitored links"), "{e}");
        // The estimate: per link its state and 80 KiB per configuration, over the program's 96 MiB.
        assert_eq!(three - two, (40 << 10) + 6 * (80 << 10) + names);
        assert_eq!(crate::experiment::replay_memory(0, 6), 96 << 20);
        // Long names count: a link whose target is named with 300,000 bytes needs room for
        // its name 14 times (4 MiB), refused where short names would fit, run with the room.
        let long = format!("monitor,target,received_ns\nm,{},100\n", "x".repeat(300_000));
        let replay_long = |usable: u128| {
            let config = ReplayConfig {
                trace: "t.csv".into(),
                detectors: vec![
                    DetectorSpec::parse("phi:threshold=1..5").unwrap(),
                    DetectorSpec::parse("fixed:timeout=1s").unwrap(),
                ],
                memory_limit: limit(usable),
                ..ReplayConfig::default()
            };
            replay_from(&mut TraceReader::new(Path::new("t.csv"), long.as_bytes()).unwrap(), &config, None)
                .map(|o| o.summary.results.len())
        };
        let one = crate::experiment::replay_memory(1, 6);
        let e = replay_long(one + names).unwrap_err().to_string();
        // The name is shortened in the message: its first 48 characters and its length.
        assert!(
            e.starts_with(&format!(
                "t.csv: line 2: refusing to replay the link m←{}… (300000 bytes): with it, 1 monitored links",
                "x".repeat(48)
            )),
            "{}",
            e.chars().take(200).collect::<String>()
        );
        assert!(e.len() < 500, "{}", e.len());
        assert_eq!(replay_long(one + crate::experiment::link_name_bytes(300_001, 6)).unwrap(), 6);
        assert_eq!(crate::experiment::link_name_bytes(300_001, 6), 300_001 * 14);
    }

    /// The lease rule keeps every heartbeat heard: the replay stops at the heartbeat that
    /// would take the record past the limit, naming its line and the sizes, and runs with
    /// exactly enough. Without the lease rule nothing is kept and the same limit is ample.
    #[test]
    fn a_lease_record_beyond_the_memory_limit_is_refused_at_its_line() {
        use crate::experiment::{
            ClusterSettings, LeaderRule, MemoryLimit, lease_record_bytes, link_name_bytes, replay_memory,
        };
        // Two links (m←a, a←m), six heartbeats, every 100 ms, 2 ms on the way.
        let mut text = String::from("monitor,target,sent_ns,received_ns\n");
        for k in 0..6u64 {
            let (m, t) = if k % 2 == 0 { ("m", "a") } else { ("a", "m") };
            text += &format!("{m},{t},{},{}\n", k * 100_000_000, k * 100_000_000 + 2_000_000);
        }
        let replay_with = |rules: Vec<LeaderRule>, limit: Option<MemoryLimit>| {
            let config = ReplayConfig {
                trace: "t.csv".into(),
                detectors: vec![DetectorSpec::parse("fixed:timeout=1s").unwrap()],
                memory_limit: limit,
                cluster: Some(ClusterSettings {
                    rules: Some(rules),
                    lease: Some(Nanos::from_millis(500)),
                    ..ClusterSettings::default()
                }),
                ..ReplayConfig::default()
            };
            replay_from(&mut TraceReader::new(Path::new("t.csv"), text.as_bytes()).unwrap(), &config, None)
                .map(|o| (o.summary, o.leaders))
        };
        let machine = 64u128 << 30;
        let limit = |usable: u128| Some(MemoryLimit { machine, usable });
        // Two links, whose names (2 bytes each) are kept 4 times (1 configuration).
        let links = replay_memory(2, 1) + 2 * link_name_bytes(2, 1);
        assert_eq!(links - replay_memory(2, 1), 16);
        // Room for two links and four heartbeats: the fifth, at line 6, is refused.
        let four = links + lease_record_bytes(4);
        let e = replay_with(vec![LeaderRule::Lease], limit(four)).unwrap_err().to_string();
        let five = links + lease_record_bytes(5);
        assert_eq!(
            e,
            format!(
                "t.csv: line 6: refusing to replay on: the `lease` rule keeps every heartbeat heard (up to 25 bytes \
                 each), and with this one, 5 heartbeats beside 2 monitored links × 1 detector configurations would \
                 take about {} MiB of memory, more than 80 % of this machine's 65536 MiB (`--allow-large` replays it \
                 anyway; a shorter trace, or the rules without `lease`, fit)",
                five.div_ceil(1 << 20)
            )
        );
        // A new link is refused with the heartbeats kept so far counted: room for one
        // link and the one heartbeat before the second link's first row (line 3).
        let e = replay_with(vec![LeaderRule::Lease], limit(links + lease_record_bytes(1) - 1)).unwrap_err().to_string();
        assert!(e.starts_with("t.csv: line 3: refusing to replay the link a←m: with it, 2 monitored links"), "{e}");
        // Exactly enough for all six: it runs, as it does without a limit.
        let all = links + lease_record_bytes(6);
        let fits = replay_with(vec![LeaderRule::Lease], limit(all)).unwrap();
        let unlimited = replay_with(vec![LeaderRule::Lease], None).unwrap();
        assert_eq!(fits.0.cluster, unlimited.0.cluster);
        assert_eq!(fits.1, unlimited.1);
        assert!(fits.0.cluster.iter().any(|c| !c.rules.is_empty()), "{:?}", fits.0.cluster);
        // Rules that keep no record fit in the links' room alone.
        replay_with(vec![LeaderRule::Majority], limit(links)).unwrap();
        assert_eq!(lease_record_bytes(1), 25);
    }

    /// Live mode's clocks: b's clock runs at half (then twice) real speed. It stamps
    /// `sent_ns` in its own clock, and its detectors run on it. The per-heartbeat detection
    /// estimate is what the simulator gives: a watching b, 1 ms + 250 ms whatever the time;
    /// b watching a, on b's clock, the 1 ms delay at b's rate + 250 ms. (Taking b's stamps as
    /// real time made the first grow with the run, by half the time elapsed at half speed,
    /// and the second 0; at twice the speed every row of b's was "received before it was
    /// sent".)
    #[test]
    fn a_senders_clock_is_taken_back_to_real_time() {
        for (rate, b_watching_a) in [(0.5, 0.2505), (2.0, 0.252)] {
            let mut text = String::from("monitor,target,received_ns,seq,sent_ns\n");
            for k in 0..600u64 {
                let real = k * 100_000_000;
                let stamped = (real as f64 * rate) as u64;
                text.push_str(&format!("a,b,{},{k},{stamped}\n", real + 1_000_000));
                text.push_str(&format!("b,a,{},{k},{real}\n", real + 1_000_000));
            }
            let config = ReplayConfig {
                trace: "t.csv".into(),
                detectors: vec![DetectorSpec::parse("fixed:timeout=250ms").unwrap()],
                clocks: [("b".to_string(), Clock::from_rate(rate).unwrap())].into(),
                ..ReplayConfig::default()
            };
            let s = replay_from(&mut TraceReader::new(Path::new("t.csv"), text.as_bytes()).unwrap(), &config, None)
                .unwrap()
                .summary;
            for (monitor, expected) in [("a", 0.251), ("b", b_watching_a)] {
                let r = s.results.iter().find(|r| r.monitor.as_deref() == Some(monitor)).unwrap();
                let d = &r.qos.detection_time_s;
                for v in [d.mean, d.p50, d.p99, d.max] {
                    let v = v.unwrap();
                    assert!((v - expected).abs() < 2e-4, "rate {rate}, {monitor}: {d:?}");
                }
                assert_eq!((r.qos.mistakes, r.qos.censored.count), (0, 0), "rate {rate}, {monitor}");
            }
            assert_eq!(s.trace_warnings, [], "rate {rate}: nothing was received before it was sent");
        }
    }

    #[test]
    fn bad_crash_declarations_are_named() {
        let e = run(&gap_trace(true), &["a@1s..5s", "a@4s"], &[]).unwrap_err().to_string();
        assert!(e.contains("--crash a@4s: overlaps `a@1s..5s`"), "{e}");
        let e = run(&gap_trace(true), &["@4s"], &[]).unwrap_err().to_string();
        assert!(e.contains("--crash @4s: the target is empty"), "{e}");
        let e = run(&gap_trace(true), &["z@4s"], &[]).unwrap_err().to_string();
        assert!(e.contains("--crash z@4s: target `z` does not appear in t.csv"), "{e}");
        let e = run(&gap_trace(true), &[], &["q@4s"]).unwrap_err().to_string();
        assert!(e.contains("--monitor-crash q@4s: monitor `q` does not appear in t.csv"), "{e}");
        let e = run(&gap_trace(false), &[], &["m@4s"]).unwrap_err().to_string();
        assert!(e.contains("t.csv has no `monitor` column: name its one monitor as empty, `@4s`"), "{e}");
        let e = run(&gap_trace(true), &[], &["m@1s..2s", "m@1500ms..3s"]).unwrap_err().to_string();
        assert!(e.contains("--monitor-crash m@1500ms..3s: overlaps `m@1s..2s`"), "{e}");
        // A pause names a target or a monitor of the trace (the unnamed one without a
        // `monitor` column); another name is a typo.
        let paused = |monitor_column: bool, pause: &str| {
            let config = ReplayConfig {
                trace: "t.csv".into(),
                detectors: vec![DetectorSpec::parse("fixed:timeout=300ms").unwrap()],
                pauses: vec![pause.parse().unwrap()],
                ..ReplayConfig::default()
            };
            let text = gap_trace(monitor_column);
            replay_from(&mut TraceReader::new(Path::new("t.csv"), text.as_bytes()).unwrap(), &config, None)
                .map(|o| o.summary)
        };
        let e = paused(true, "z@4s..5s").unwrap_err().to_string();
        assert_eq!(e, "--pause z@4s..5s: node `z` does not appear in t.csv");
        assert!(paused(false, "m@4s..5s").unwrap_err().to_string().contains("node `m` does not appear"));
        for (column, node) in [(true, "a"), (true, "m"), (false, "a"), (false, "")] {
            let s = paused(column, &format!("{node}@4s..5s")).unwrap_or_else(|e| panic!("{node}: {e}"));
            assert_eq!(s.results.len(), 1);
        }
    }

    #[test]
    fn the_interval_is_inferred_as_the_median_within_one_incarnation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let config = |specs: &[&str]| ReplayConfig {
            trace: path.clone(),
            detectors: specs.iter().map(|d| DetectorSpec::parse(d).unwrap()).collect(),
            ..ReplayConfig::default()
        };
        // Link a: 100 ms heartbeats (seq 2 lost: Δseq 2, Δsent 200 ms, still 100 ms), one sent
        // 40 µs late and one 2 µs early (ratios 100.04 ms, 99.958 ms), a duplicate and a
        // reordered row (skipped), then a restart in a new incarnation numbering from 0 again
        // (the pair across it is not a ratio). Link b: 150 ms. Ratios: 100 ms × 4, 100.04,
        // 99.958, 150 × 2: the lower median of 8 is the 4th smallest, 100 ms.
        let rows = [
            "m,a,0,0,0,1",
            "m,a,1,1,100000000,1",
            "m,a,2,3,300000000,1",
            "m,a,3,3,300000000,1",
            "m,a,4,4,400040000,1",
            "m,a,5,1,100000000,1",
            "m,a,6,5,499998000,1",
            "m,a,7,6,599998000,1",
            "m,a,8,0,900000000,2",
            "m,a,9,1,1000000000,2",
            "m,b,10,0,0,1",
            "m,b,11,1,150000000,1",
            "m,b,12,2,300000000,1",
        ];
        let text = format!("monitor,target,received_ns,seq,sent_ns,incarnation\n{}\n", rows.join("\n"));
        std::fs::write(&path, &text).unwrap();
        let mut c = config(&["chen:alpha=10ms", "bertier", "phi:threshold=8", "chen:alpha=20ms,interval=1s"]);
        let inferred = c.infer_intervals().unwrap().unwrap();
        assert_eq!(inferred.interval, Nanos::from_millis(100));
        assert_eq!(inferred.pairs, 8);
        assert_eq!(inferred.detectors, ["chen", "bertier"]);
        assert!(c.detectors.iter().all(|d| d.missing().is_empty()));
        // Filled in, not chosen: labels leave it out; a given interval is kept.
        assert_eq!(c.detectors[0].points()[0].label, "chen:alpha=10ms");
        assert_eq!(c.detectors[3].points()[0].label, "chen:alpha=20ms,interval=1s");
        // Without a detector that needs it, the trace is not read.
        assert_eq!(config(&["fixed:timeout=1s"]).infer_intervals().unwrap(), None);
        // Rounded to 1 µs: 5 pairs of 100.0006 ms give 100.001 ms.
        let text: String = (0..6u64).map(|i| format!("a,{i},{i},{}\n", i * 100_000_600)).collect();
        std::fs::write(&path, format!("target,received_ns,seq,sent_ns\n{text}")).unwrap();
        let inferred = config(&["2w:alpha=1ms"]).infer_intervals().unwrap().unwrap();
        assert_eq!((inferred.interval, inferred.pairs), (Nanos(100_001_000), 5));
        // What cannot be inferred is said.
        std::fs::write(&path, "target,received_ns,seq\na,1,0\n").unwrap();
        let e = config(&["chen:alpha=10ms"]).infer_intervals().unwrap_err().to_string();
        assert!(e.ends_with("t.csv has no `sent_ns` column"), "{e}");
        assert!(e.starts_with("detector: `chen` needs `interval`, e.g. `chen:interval=100ms`; it is inferred"), "{e}");
        std::fs::write(&path, "target,received_ns,seq,sent_ns\na,1,0,0\n").unwrap();
        let e = config(&["chen:alpha=10ms"]).infer_intervals().unwrap_err().to_string();
        assert!(e.contains("no two rows of one link and incarnation whose `seq` and `sent_ns` both increase"), "{e}");
        std::fs::write(&path, "target,received_ns\na,1\n").unwrap();
        let e = config(&["bertier"]).infer_intervals().unwrap_err().to_string();
        assert!(e.starts_with("detector: `bertier` needs `interval`"), "{e}");
        assert!(e.ends_with("t.csv has no `seq` column, which `bertier` needs in any case"), "{e}");
    }
}
