//! Experiment files: the TOML schema, its defaults and its validation.
//!
//! Every struct rejects unknown fields, so a typo is an error rather than a silent default
//! (STYLE.md rule 6). Syntax errors name the file, line and column (from the TOML parser);
//! meaning errors name the file and the field (`faults[2].node`). `experiments/quickstart.toml`
//! is the fully commented example.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::detector::DetectorSpec;
use crate::fault::delay::DelayModel;
use crate::fault::loss::LossModel;
use crate::time::{Clock, Nanos};

/// The built-in quickstart, run by `fdlab run` without a file.
pub const QUICKSTART: &str = include_str!("../experiments/quickstart.toml");

#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    #[error("{path}: cannot read: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path}: `{field}`: {message}")]
    Invalid { path: PathBuf, field: String, message: String },
}

/// A whole experiment.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Names the results directory (`results/<name>`).
    pub name: String,
    /// What question the experiment answers.
    #[serde(default)]
    pub description: String,
    /// The question the experiment asks (the experiment suite's header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    /// The answer it gave, with the key numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// Where the claim it tests comes from (a paper, a system's documentation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Decides every random draw; `--seed` overrides it.
    pub seed: u64,
    /// Simulated time.
    pub duration: Nanos,
    /// Defaults for every node.
    #[serde(default)]
    pub defaults: NodeSettings,
    pub nodes: Vec<NodeDecl>,
    #[serde(default)]
    pub monitoring: Monitoring,
    #[serde(default)]
    pub network: Network,
    /// What a monitor does with duplicates and stale sequence numbers.
    #[serde(default)]
    pub receive: ReceivePolicy,
    #[serde(default)]
    pub engine: EngineRules,
    #[serde(default)]
    pub faults: Vec<Fault>,
    /// Detector specs (strings or tables; knobs may be sweeps).
    #[serde(serialize_with = "serialize_specs")]
    pub detectors: Vec<DetectorSpec>,
}

fn serialize_specs<S: serde::Serializer>(specs: &[DetectorSpec], s: S) -> Result<S::Ok, S::Error> {
    let labels: Vec<String> = specs.iter().flat_map(|d| d.points().into_iter().map(|p| p.label)).collect();
    labels.serialize(s)
}

/// An experiment that passed [`Experiment::check`]: what the engines accept. It reads as an
/// [`Experiment`]; to change one, take it apart with [`ValidExperiment::into_inner`] and check
/// it again.
#[derive(Clone, Debug)]
pub struct ValidExperiment(Experiment);

impl ValidExperiment {
    pub fn into_inner(self) -> Experiment {
        self.0
    }
}

impl std::ops::Deref for ValidExperiment {
    type Target = Experiment;
    fn deref(&self) -> &Experiment {
        &self.0
    }
}

/// Per-node settings; every field optional in a node, falling back to `[defaults]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeSettings {
    /// Heartbeat interval η in the node's own clock (default 100 ms).
    pub interval: Option<Nanos>,
    /// Each heartbeat leaves up to this much after its slot (uniform; default 0).
    pub jitter: Option<Nanos>,
    /// The node's clock rate: 1.001 runs 0.1 % fast (default 1).
    pub clock_rate: Option<f64>,
    /// After a pause: skip the missed slots (`skip`, default) or send one at once (`send-now`).
    pub after_pause: Option<AfterPause>,
    /// After a crash-recovery: number heartbeats from 0 again (`reset`, default: a counter
    /// kept in memory) or go on from the last slot before the crash (`continue`: a counter
    /// kept on disk).
    pub seq_after_restart: Option<SeqAfterRestart>,
}

/// How a restarted node numbers its heartbeats.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SeqAfterRestart {
    /// From 0 again: in the old incarnation, a `dedup` or `drop-stale` receiver takes the
    /// new heartbeats for old ones until their numbers pass the highest it saw.
    #[default]
    Reset,
    /// From the slot after the last one before the crash: the numbers never repeat.
    Continue,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum AfterPause {
    #[default]
    Skip,
    SendNow,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NodeDecl {
    pub id: String,
    #[serde(flatten)]
    pub settings: NodeSettings,
}

/// A node's settings with defaults applied.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub id: String,
    pub interval: Nanos,
    pub jitter: Nanos,
    pub clock: Clock,
    pub after_pause: AfterPause,
    pub seq_after_restart: SeqAfterRestart,
}

/// Who monitors whom.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Monitoring {
    /// `pairs` (the listed monitor→target pairs), `all` (every node monitors every other)
    /// or `ring` (each node is monitored by the next `k` nodes, as Akka's cluster does).
    pub mode: MonitoringMode,
    /// For `pairs`: `[monitor, target]` pairs.
    #[serde(default)]
    pub pairs: Vec<[String; 2]>,
    /// For `ring`: monitors per node (Akka's `monitored-by-nr-of-members`, default 5).
    #[serde(default)]
    pub k: Option<usize>,
}

impl Default for Monitoring {
    fn default() -> Monitoring {
        Monitoring { mode: MonitoringMode::All, pairs: Vec::new(), k: None }
    }
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum MonitoringMode {
    Pairs,
    All,
    Ring,
}

/// The default link model, with per-link overrides.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    #[serde(flatten)]
    pub model: LinkSettings,
    #[serde(default)]
    pub links: Vec<LinkOverride>,
}

/// One link's model; in an override, unset fields come from `[network]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LinkSettings {
    /// One-way delay distribution (default: constant 1 ms).
    pub delay: Option<DelayModel>,
    /// Loss model (default: none).
    pub loss: Option<LossModel>,
    /// Probability that a datagram is delivered twice (default 0).
    pub duplicate: Option<f64>,
    /// No overtaking: a datagram never arrives before one sent earlier (default false).
    pub fifo: Option<bool>,
    /// Autocorrelation of successive delays, in [0, 1) (default 0: independent). Applied
    /// through a Gaussian copula, so the delay distribution itself is unchanged.
    pub correlation: Option<f64>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LinkOverride {
    pub from: String,
    pub to: String,
    #[serde(flatten)]
    pub settings: LinkSettings,
}

/// A link's model with defaults applied.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    pub delay: DelayModel,
    pub loss: LossModel,
    pub duplicate: f64,
    pub fifo: bool,
    pub correlation: f64,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ReceivePolicy {
    /// Every datagram counts (the default).
    #[default]
    Raw,
    /// Drop a (incarnation, seq) already seen.
    Dedup,
    /// Drop a seq not above the highest seen in the current incarnation.
    DropStale,
}

/// Rules that decide results where reality varies (DESIGN.md §3).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EngineRules {
    /// At the end of a monitor's pause: `timers-first` (the default, the worst case: checks
    /// that fell due during the pause fire before buffered datagrams are drained) or
    /// `datagrams-first`.
    #[serde(default)]
    pub resume_order: ResumeOrder,
    /// Datagrams a paused monitor buffers (its socket receive buffer); when full, the newest
    /// are dropped. Default 1024.
    #[serde(default = "default_recv_buffer")]
    pub recv_buffer: usize,
}

fn default_recv_buffer() -> usize {
    1024
}

impl Default for EngineRules {
    fn default() -> EngineRules {
        EngineRules { resume_order: ResumeOrder::default(), recv_buffer: default_recv_buffer() }
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ResumeOrder {
    #[default]
    TimersFirst,
    DatagramsFirst,
}

/// What a pause stops.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum PauseTarget {
    /// The whole process: it neither sends nor processes (a GC pause, SIGSTOP).
    #[default]
    Node,
    /// Only its heartbeat sending (e.g. a starved sender thread).
    Sender,
    /// Only its receiving and checking (a stalled monitor).
    Monitor,
}

/// A fault, scheduled at a fixed time or drawn from a random process.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Fault {
    /// Crash-stop (`at` only), crash-recovery (`at` and `down`), or a random process of
    /// crashes and recoveries (`mttf` and `mttr`, exponential).
    Crash {
        node: String,
        at: Option<Nanos>,
        down: Option<Nanos>,
        mttf: Option<Nanos>,
        mttr: Option<Nanos>,
        /// A recovered process announces a new incarnation (default true). Without one, it
        /// numbers heartbeats from 0 again in the old incarnation, which a `drop-stale`
        /// receiver ignores.
        #[serde(default = "yes")]
        new_incarnation: bool,
    },
    /// A pause at `at` for `duration`, or a random process: pauses every `every` on average
    /// (exponential) lasting `durations` (a distribution).
    Pause {
        node: String,
        #[serde(default)]
        what: PauseTarget,
        at: Option<Nanos>,
        duration: Option<Nanos>,
        every: Option<Nanos>,
        durations: Option<DelayModel>,
    },
    /// Cuts links for a window: between every pair of `groups` (symmetric), or from every
    /// node of `from` to every node of `to` (one-way).
    Partition {
        at: Nanos,
        duration: Nanos,
        #[serde(default)]
        groups: Vec<Vec<String>>,
        #[serde(default)]
        from: Vec<String>,
        #[serde(default)]
        to: Vec<String>,
    },
    /// A live node drops a share `p` of its own outgoing heartbeats, from `at` (default 0)
    /// for `duration` (default: to the end).
    Omission { node: String, p: f64, at: Option<Nanos>, duration: Option<Nanos> },
    /// Congestion: `extra` delay for datagrams sent in the window, on `links` (default all).
    DelaySpike {
        at: Nanos,
        duration: Nanos,
        extra: Nanos,
        #[serde(default)]
        links: Vec<[String; 2]>,
    },
    /// Congestion: datagrams sent in the window are also lost with probability `p`.
    LossBurst {
        at: Nanos,
        duration: Nanos,
        p: f64,
        #[serde(default)]
        links: Vec<[String; 2]>,
    },
}

/// What a run will take, estimated from the experiment alone before it starts: `fdlab
/// validate` prints it and `fdlab run` refuses a run beyond the machine (or [`WORK_LIMIT`])
/// unless told to go ahead. Memory counts what the experiment's structure sizes (links,
/// detector configurations and their windows, fault events, a fixed allowance for the
/// program and its buffers), with each configuration's distributions at their usual span;
/// a run whose mistakes spread over many orders of magnitude on many links takes more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Estimate {
    pub links: u64,
    pub configurations: u64,
    /// Heartbeat deliveries, at most (no loss; duplicates counted).
    pub deliveries: u128,
    pub memory_bytes: u128,
    /// The size of `trace.csv` with `--trace`.
    pub trace_bytes: u128,
}

impl Estimate {
    /// Deliveries times configurations: what the run's time is proportional to.
    pub fn work(&self) -> u128 {
        self.deliveries * self.configurations.max(1) as u128
    }
}

impl Estimate {
    /// Whether the run fits this machine: an error, with the estimate, for more work than
    /// [`WORK_LIMIT`] or more memory than 80 % of the machine's (when it can be read).
    pub fn fits(&self) -> Result<(), String> {
        if self.work() > WORK_LIMIT {
            return Err(format!("{self}: more than {WORK_LIMIT} configuration-heartbeats would take hours"));
        }
        if let Some(total) = machine_memory()
            && self.memory_bytes > total / 5 * 4
        {
            return Err(format!("{self}: more than 80 % of this machine's {} MiB", total >> 20));
        }
        Ok(())
    }
}

/// The machine's memory in bytes (Linux's `/proc/meminfo`), if it can be read.
fn machine_memory() -> Option<u128> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

impl std::fmt::Display for Estimate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib = |b: u128| b.div_ceil(1 << 20);
        let plural = |n: u64, one: &'static str, many: &'static str| if n == 1 { one } else { many };
        write!(
            f,
            "{} monitored {} × {} detector {}, up to {} deliveries ({} configuration-heartbeats), \
             about {} MiB of memory ({} MiB of trace.csv with --trace)",
            self.links,
            plural(self.links, "link", "links"),
            self.configurations,
            plural(self.configurations, "configuration", "configurations"),
            self.deliveries,
            self.work(),
            mib(self.memory_bytes),
            mib(self.trace_bytes)
        )
    }
}

/// The program, its threads' stacks and its write buffers.
const BASE_BYTES: u128 = 96 << 20;
/// One link's stream, reorder heap, batch and counters.
const LINK_BYTES: u128 = 24 << 10;
/// One configuration on one link: its tracker, accumulators and distributions (three of
/// HdrHistogram's ranges each).
const MEMBER_BYTES: u128 = 80 << 10;
/// One row of `trace.csv`.
const TRACE_ROW_BYTES: u128 = 48;
/// Configuration-heartbeats beyond which a run is refused without `--allow-large`: 10^12,
/// hours of work at tens of millions a second.
pub const WORK_LIMIT: u128 = 1_000_000_000_000;
/// Monitored links beyond which an experiment is refused outright.
pub const MAX_LINKS: u64 = 50_000_000;

/// The most events a random fault process may be expected to draw over a run.
pub const MAX_RANDOM_EVENTS: u64 = 1_000_000;

fn yes() -> bool {
    true
}

impl Experiment {
    /// Reads and validates an experiment file.
    pub fn load(path: &Path) -> Result<ValidExperiment, ExperimentError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ExperimentError::Io { path: path.to_path_buf(), source })?;
        Experiment::from_toml(path, &text)
    }

    /// Parses and validates experiment text; `path` names it in errors.
    pub fn from_toml(path: &Path, text: &str) -> Result<ValidExperiment, ExperimentError> {
        let e: Experiment = toml::from_str(text)
            .map_err(|err| ExperimentError::Syntax { path: path.to_path_buf(), message: syntax_message(&err, text) })?;
        e.check(path)
    }

    /// Validates the experiment (filling in what a simulation knows, such as the heartbeat
    /// interval of sequence-aware detectors); `path` names it in errors. The engines run only
    /// what this returns, so a library user cannot run what the command line would refuse.
    pub fn check(mut self, path: &Path) -> Result<ValidExperiment, ExperimentError> {
        let invalid =
            |(field, message): (String, String)| ExperimentError::Invalid { path: path.to_path_buf(), field, message };
        self.validate().map_err(invalid)?;
        self.fill_detector_intervals().map_err(invalid)?;
        Ok(ValidExperiment(self))
    }

    /// The node ids in file order.
    pub fn node_ids(&self) -> Vec<&str> {
        self.nodes.iter().map(|n| n.id.as_str()).collect()
    }

    /// A node's settings with defaults applied.
    pub fn node(&self, index: usize) -> Node {
        let d = &self.defaults;
        let s = &self.nodes[index].settings;
        Node {
            id: self.nodes[index].id.clone(),
            interval: s.interval.or(d.interval).unwrap_or(Nanos::from_millis(100)),
            jitter: s.jitter.or(d.jitter).unwrap_or(Nanos::ZERO),
            // Cannot fail for a validated experiment; an unchecked rate reads as exact.
            clock: s.clock_rate.or(d.clock_rate).and_then(Clock::from_rate).unwrap_or(Clock::EXACT),
            after_pause: s.after_pause.or(d.after_pause).unwrap_or_default(),
            seq_after_restart: s.seq_after_restart.or(d.seq_after_restart).unwrap_or_default(),
        }
    }

    fn index_of(&self, id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
    }

    /// How many links are monitored, computed without listing them (validation refuses an
    /// experiment too large to list before anything is allocated for it).
    pub fn monitored_link_count(&self) -> u64 {
        let n = self.nodes.len() as u64;
        match self.monitoring.mode {
            MonitoringMode::All => n * n.saturating_sub(1),
            MonitoringMode::Ring => n * (self.monitoring.k.unwrap_or(5) as u64).min(n.saturating_sub(1)),
            MonitoringMode::Pairs => {
                self.monitoring.pairs.iter().map(|[m, t]| (m, t)).collect::<BTreeSet<_>>().len() as u64
            }
        }
    }

    /// What a run of this experiment will take, estimated before it starts (see
    /// [`Estimate`]).
    pub fn estimate(&self) -> Estimate {
        let links = self.monitored_link_count();
        let configurations: u64 = self.detectors.iter().map(|d| d.points().len() as u64).sum();
        let duration = self.duration.0 as u128;
        // Heartbeats per link, from the fastest sender in real time (an upper bound for every
        // link), twice with duplication.
        let real_interval = |i: usize| {
            let node = self.node(i);
            node.clock.real(node.interval).0
        };
        let fastest = (0..self.nodes.len()).map(real_interval).min().unwrap_or(1).max(1) as u128;
        let duplicates = self.network.links.iter().map(|l| &l.settings).chain([&self.network.model]);
        let copies = if duplicates.filter_map(|s| s.duplicate).any(|p| p > 0.0) { 2 } else { 1 };
        // Events a random process draws: twice the expected count, and some.
        let random = |mean: u128| duration / mean.max(1) * 2 + 16;
        // Per fault: the events it puts in the timeline, and the heartbeats it may add to a
        // link (a restart sends at once, its slot 0, and so may the end of a pause).
        let (fault_events, restarts_and_resumes) = self
            .faults
            .iter()
            .map(|f| match f {
                Fault::Crash { mttf: Some(up), mttr: Some(down), .. } => {
                    let n = random(up.0 as u128 + down.0 as u128);
                    (n, n)
                }
                Fault::Pause { every: Some(every), .. } => {
                    let n = random(every.0 as u128);
                    (n, n)
                }
                Fault::Crash { .. } | Fault::Pause { .. } => (1, 1),
                Fault::Partition { groups, from, to, .. } => {
                    let sizes: Vec<u128> = groups.iter().map(|g| g.len() as u128).collect();
                    let total: u128 = sizes.iter().sum();
                    (sizes.iter().map(|s| s * (total - s)).sum::<u128>() + (from.len() * to.len()) as u128, 0)
                }
                Fault::DelaySpike { links: l, .. } | Fault::LossBurst { links: l, .. } => {
                    (if l.is_empty() { links as u128 } else { l.len() as u128 }, 0)
                }
                Fault::Omission { .. } => (1, 0),
            })
            .fold((0u128, 0u128), |a, b| (a.0 + b.0, a.1 + b.1));
        let per_link = (duration / fastest + 1 + restarts_and_resumes) * copies;
        let deliveries = per_link * links as u128;
        let detector_state: u128 =
            self.detectors.iter().map(|d| d.state_bytes() as u128 * d.points().len() as u128).sum();
        let nodes = self.nodes.len() as u128;
        let memory_bytes = BASE_BYTES
            + nodes * 512
            + fault_events * 96
            + links as u128 * (LINK_BYTES + detector_state)
            + links as u128 * configurations as u128 * MEMBER_BYTES;
        Estimate { links, configurations, deliveries, memory_bytes, trace_bytes: deliveries * TRACE_ROW_BYTES }
    }

    /// The monitored links as (monitor, target) node indices, sorted.
    pub fn monitored_links(&self) -> Vec<(usize, usize)> {
        let n = self.nodes.len();
        let mut links: BTreeSet<(usize, usize)> = BTreeSet::new();
        match self.monitoring.mode {
            MonitoringMode::All => {
                for m in 0..n {
                    for t in (0..n).filter(|&t| t != m) {
                        links.insert((m, t));
                    }
                }
            }
            MonitoringMode::Ring => {
                let k = self.monitoring.k.unwrap_or(5).min(n.saturating_sub(1));
                for t in 0..n {
                    for step in 1..=k {
                        links.insert(((t + step) % n, t));
                    }
                }
            }
            MonitoringMode::Pairs => {
                for [m, t] in &self.monitoring.pairs {
                    // Cannot fail: validate() checked every id.
                    links.insert((self.index_of(m).expect("validated"), self.index_of(t).expect("validated")));
                }
            }
        }
        links.into_iter().collect()
    }

    /// The model of the link from node `from` to node `to`, overrides applied.
    pub fn link(&self, from: usize, to: usize) -> Link {
        let base = &self.network.model;
        let over = self
            .network
            .links
            .iter()
            .rev()
            .find(|l| l.from == self.nodes[from].id && l.to == self.nodes[to].id)
            .map(|l| &l.settings);
        fn pick<T>(
            over: Option<&LinkSettings>,
            base: &LinkSettings,
            f: impl Fn(&LinkSettings) -> Option<T>,
        ) -> Option<T> {
            over.and_then(&f).or_else(|| f(base))
        }
        Link {
            delay: pick(over, base, |s| s.delay.clone())
                .unwrap_or(DelayModel::Constant { value: Nanos::from_millis(1) }),
            loss: pick(over, base, |s| s.loss.clone()).unwrap_or(LossModel::None),
            duplicate: pick(over, base, |s| s.duplicate).unwrap_or(0.0),
            fifo: pick(over, base, |s| s.fifo).unwrap_or(false),
            correlation: pick(over, base, |s| s.correlation).unwrap_or(0.0),
        }
    }

    fn validate(&self) -> Result<(), (String, String)> {
        let err = |field: String, message: &str| Err((field, message.to_string()));
        if self.name.trim().is_empty() || self.name.contains(['/', '\\']) {
            return err("name".into(), "must be a non-empty name without slashes (it names the results directory)");
        }
        if self.duration == Nanos::ZERO {
            return err("duration".into(), "must be greater than zero");
        }
        if self.duration > Nanos::LIMIT {
            return err("duration".into(), "must be at most 146 years (2^62 ns)");
        }
        if self.nodes.len() < 2 {
            return err("nodes".into(), "an experiment needs at least two nodes");
        }
        if self.monitored_link_count() > MAX_LINKS {
            return err(
                "monitoring".into(),
                &format!("{} monitored links; at most {MAX_LINKS} are supported", self.monitored_link_count()),
            );
        }
        let mut ids = BTreeSet::new();
        for (i, n) in self.nodes.iter().enumerate() {
            if n.id.is_empty() || n.id.contains([',', '"', '\n', '\r']) {
                return err(format!("nodes[{i}].id"), "must be non-empty, without commas, quotes or newlines");
            }
            if !ids.insert(n.id.as_str()) {
                return err(format!("nodes[{i}].id"), &format!("`{}` is declared twice", n.id));
            }
        }
        for (i, settings) in std::iter::once((None, &self.defaults))
            .chain(self.nodes.iter().enumerate().map(|(i, n)| (Some(i), &n.settings)))
        {
            let prefix = i.map_or("defaults".to_string(), |i| format!("nodes[{i}]"));
            if settings.interval == Some(Nanos::ZERO) {
                return err(format!("{prefix}.interval"), "must be greater than zero");
            }
            if settings.interval.is_some_and(|i| i > Nanos::LIMIT) {
                return err(format!("{prefix}.interval"), "must be at most 146 years (2^62 ns)");
            }
            if let Some(rate) = settings.clock_rate
                && Clock::from_rate(rate).is_none()
            {
                return err(format!("{prefix}.clock_rate"), "must be between 0.5 and 2 (a clock rate, 1 = exact)");
            }
        }
        for i in 0..self.nodes.len() {
            let node = self.node(i);
            if node.jitter >= node.interval {
                return err(format!("nodes[{i}].jitter"), "must be shorter than the heartbeat interval");
            }
        }
        let known = |id: &str| self.index_of(id).is_some();
        let unknown = |field: String, id: &str| {
            Err((field, format!("no node `{id}`; nodes are: {}", self.node_ids().join(", "))))
        };
        match self.monitoring.mode {
            MonitoringMode::Pairs => {
                if self.monitoring.pairs.is_empty() {
                    return err("monitoring.pairs".into(), "mode `pairs` needs at least one [monitor, target] pair");
                }
                for (i, [m, t]) in self.monitoring.pairs.iter().enumerate() {
                    for id in [m, t] {
                        if !known(id) {
                            return unknown(format!("monitoring.pairs[{i}]"), id);
                        }
                    }
                    if m == t {
                        return err(format!("monitoring.pairs[{i}]"), "a node does not monitor itself");
                    }
                }
            }
            MonitoringMode::Ring => {
                if self.monitoring.k == Some(0) {
                    return err("monitoring.k".into(), "must be at least 1");
                }
            }
            MonitoringMode::All => {}
        }
        validate_link(&self.network.model, "network")?;
        for (i, l) in self.network.links.iter().enumerate() {
            for id in [&l.from, &l.to] {
                if !known(id) {
                    return unknown(format!("network.links[{i}]"), id);
                }
            }
            validate_link(&l.settings, &format!("network.links[{i}]"))?;
        }
        self.validate_faults()?;
        if self.detectors.is_empty() {
            return err("detectors".into(), "list at least one detector spec, e.g. \"phi:threshold=8\"");
        }
        Ok(())
    }

    fn validate_faults(&self) -> Result<(), (String, String)> {
        let end = self.duration;
        let mut crash_windows: Vec<Vec<(Nanos, Nanos)>> = vec![Vec::new(); self.nodes.len()];
        let mut pause_windows: Vec<Vec<(Nanos, Nanos, PauseTarget)>> = vec![Vec::new(); self.nodes.len()];
        for (i, f) in self.faults.iter().enumerate() {
            let field = |name: &str| format!("faults[{i}].{name}");
            let node = |id: &str| {
                self.index_of(id).ok_or_else(|| {
                    (field("node"), format!("no node `{id}`; nodes are: {}", self.node_ids().join(", ")))
                })
            };
            // Every instant and length a fault gives: within the run (an `at` at or after the
            // end would never happen: a mistake in the file, not a fault to ignore).
            let within = |at: Option<Nanos>, name: &str| match at {
                Some(at) if at >= end => Err((field(name), format!("is at or after the end of the run ({end})"))),
                _ => Ok(()),
            };
            let length = |d: Option<Nanos>, name: &str| match d {
                Some(d) if d == Nanos::ZERO => Err((field(name), "must be greater than zero".to_string())),
                Some(d) if d > Nanos::LIMIT => Err((field(name), "must be at most 146 years (2^62 ns)".to_string())),
                _ => Ok(()),
            };
            let probability = |p: f64, name: &str| {
                if (0.0..=1.0).contains(&p) {
                    Ok(())
                } else {
                    Err((field(name), "a probability must be in [0, 1]".to_string()))
                }
            };
            // A random process is drawn in full before the run: refuse one that would draw
            // more events than any run needs, rather than run out of memory drawing them.
            let random_events = |up: Nanos, down: Nanos, name: &str| {
                let expected = end.0 as u128 / (up.0 as u128 + down.0 as u128).max(1);
                if expected > MAX_RANDOM_EVENTS as u128 {
                    return Err((
                        field(name),
                        format!(
                            "draws about {expected} events over the run ({end}); at most {MAX_RANDOM_EVENTS} \
                             are supported: make the mean time between them longer"
                        ),
                    ));
                }
                Ok(())
            };
            match f {
                Fault::Crash { node: id, at, down, mttf, mttr, .. } => {
                    let n = node(id)?;
                    match (at, mttf) {
                        (Some(at), None) => {
                            if mttr.is_some() {
                                return Err((field("mttr"), "goes with `mttf`, not `at` (use `down`)".into()));
                            }
                            within(Some(*at), "at")?;
                            length(*down, "down")?;
                            crash_windows[n].push((*at, down.map_or(Nanos::MAX, |d| at.saturating_add(d))));
                        }
                        (None, Some(mttf)) => {
                            if *mttf == Nanos::ZERO || mttr.is_none_or(|r| r == Nanos::ZERO) {
                                return Err((
                                    field("mttr"),
                                    "a random crash process needs `mttf` and `mttr` > 0".into(),
                                ));
                            }
                            if down.is_some() {
                                return Err((field("down"), "goes with `at`; a random process uses `mttr`".into()));
                            }
                            length(Some(*mttf), "mttf")?;
                            length(*mttr, "mttr")?;
                            random_events(*mttf, mttr.unwrap_or(*mttf), "mttf")?;
                            crash_windows[n].push((Nanos::ZERO, end));
                        }
                        _ => {
                            return Err((
                                field("at"),
                                "give either `at` (scheduled) or `mttf` and `mttr` (random)".into(),
                            ));
                        }
                    }
                }
                Fault::Pause { node: id, what, at, duration, every, durations } => {
                    let n = node(id)?;
                    match (at, duration, every, durations) {
                        (Some(at), Some(d), None, None) => {
                            within(Some(*at), "at")?;
                            length(Some(*d), "duration")?;
                            pause_windows[n].push((*at, at.saturating_add(*d), *what));
                        }
                        (None, None, Some(every), Some(_)) => {
                            length(Some(*every), "every")?;
                            random_events(*every, Nanos::ZERO, "every")?;
                        }
                        _ => {
                            return Err((
                                field("at"),
                                "give `at` and `duration` (scheduled) or `every` and `durations` (random)".into(),
                            ));
                        }
                    }
                    if let Some(d) = durations {
                        d.validate().map_err(|m| (field("durations"), m))?;
                    }
                }
                Fault::Partition { groups, from, to, at, duration } => {
                    within(Some(*at), "at")?;
                    length(Some(*duration), "duration")?;
                    let symmetric = !groups.is_empty();
                    let one_way = !from.is_empty() || !to.is_empty();
                    if symmetric == one_way || (one_way && (from.is_empty() || to.is_empty())) {
                        return Err((
                            field("groups"),
                            "give `groups` (symmetric) or both `from` and `to` (one-way)".into(),
                        ));
                    }
                    if symmetric && groups.len() < 2 {
                        return Err((field("groups"), "a partition needs at least two groups".into()));
                    }
                    for (name, ids) in [("groups", groups.concat()), ("from", from.clone()), ("to", to.clone())] {
                        for id in &ids {
                            node(id).map_err(|(_, m)| (field(name), m))?;
                        }
                    }
                }
                Fault::Omission { node: id, p, at, duration } => {
                    node(id)?;
                    probability(*p, "p")?;
                    within(*at, "at")?;
                    length(*duration, "duration")?;
                }
                Fault::DelaySpike { links, at, duration, .. } | Fault::LossBurst { links, at, duration, .. } => {
                    within(Some(*at), "at")?;
                    length(Some(*duration), "duration")?;
                    if let Fault::DelaySpike { extra, .. } = f
                        && *extra > Nanos::LIMIT
                    {
                        return Err((field("extra"), "must be at most 146 years (2^62 ns)".into()));
                    }
                    for id in links.iter().flatten() {
                        node(id).map_err(|(_, m)| (field("links"), m))?;
                    }
                    if let Fault::LossBurst { p, .. } = f {
                        probability(*p, "p")?;
                    }
                }
            }
        }
        for (n, windows) in crash_windows.iter_mut().enumerate() {
            windows.sort();
            if windows.windows(2).any(|w| w[1].0 < w[0].1) {
                return Err((
                    "faults".into(),
                    format!("crashes of node `{}` overlap (a node cannot crash while it is down)", self.nodes[n].id),
                ));
            }
        }
        for (n, windows) in pause_windows.iter_mut().enumerate() {
            windows.sort_by_key(|w| (w.0, w.1));
            if windows.windows(2).any(|w| w[1].0 < w[0].1) {
                return Err((
                    "faults".into(),
                    format!("pauses of node `{}` overlap; merge them into one", self.nodes[n].id),
                ));
            }
        }
        Ok(())
    }

    /// Sequence-aware detectors need the sender's heartbeat interval; in a simulation it is
    /// known, so a spec without `interval` gets the common interval of the nodes.
    fn fill_detector_intervals(&mut self) -> Result<(), (String, String)> {
        let intervals: BTreeSet<Nanos> = (0..self.nodes.len()).map(|i| self.node(i).interval).collect();
        for (i, spec) in self.detectors.iter_mut().enumerate() {
            if spec.missing().contains(&"interval") {
                match intervals.iter().collect::<Vec<_>>()[..] {
                    [one] => spec
                        .fill("interval", &one.to_string())
                        .map_err(|e| (format!("detectors[{i}]"), e.to_string()))?,
                    _ => {
                        return Err((
                            format!("detectors[{i}]"),
                            "nodes have different heartbeat intervals; give this detector `interval`".into(),
                        ));
                    }
                }
            }
            spec.require_complete().map_err(|e| (format!("detectors[{i}]"), e.to_string()))?;
        }
        Ok(())
    }
}

fn validate_link(s: &LinkSettings, prefix: &str) -> Result<(), (String, String)> {
    if let Some(d) = &s.delay {
        d.validate().map_err(|m| (format!("{prefix}.delay"), m))?;
    }
    if let Some(l) = &s.loss {
        l.validate().map_err(|m| (format!("{prefix}.loss"), m))?;
    }
    if let Some(p) = s.duplicate
        && !(0.0..=1.0).contains(&p)
    {
        return Err((format!("{prefix}.duplicate"), "a probability must be in [0, 1]".into()));
    }
    if let Some(c) = s.correlation
        && !(0.0..1.0).contains(&c)
    {
        return Err((format!("{prefix}.correlation"), "must be in [0, 1)".into()));
    }
    Ok(())
}

/// The TOML parser's message, which names the line and column, made one paragraph.
fn syntax_message(err: &toml::de::Error, text: &str) -> String {
    match err.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            let column = span.start - text[..span.start.min(text.len())].rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}: {}", err.message())
        }
        None => err.message().to_string(),
    }
}
