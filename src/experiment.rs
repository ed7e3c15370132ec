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
use crate::time::Nanos;

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
    pub clock_rate: f64,
    pub after_pause: AfterPause,
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

fn yes() -> bool {
    true
}

impl Experiment {
    /// Reads and validates an experiment file.
    pub fn load(path: &Path) -> Result<Experiment, ExperimentError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ExperimentError::Io { path: path.to_path_buf(), source })?;
        Experiment::from_toml(path, &text)
    }

    /// Parses and validates experiment text; `path` names it in errors.
    pub fn from_toml(path: &Path, text: &str) -> Result<Experiment, ExperimentError> {
        let mut e: Experiment = toml::from_str(text)
            .map_err(|err| ExperimentError::Syntax { path: path.to_path_buf(), message: syntax_message(&err, text) })?;
        e.validate().map_err(|(field, message)| ExperimentError::Invalid {
            path: path.to_path_buf(),
            field,
            message,
        })?;
        e.fill_detector_intervals().map_err(|(field, message)| ExperimentError::Invalid {
            path: path.to_path_buf(),
            field,
            message,
        })?;
        Ok(e)
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
            clock_rate: s.clock_rate.or(d.clock_rate).unwrap_or(1.0),
            after_pause: s.after_pause.or(d.after_pause).unwrap_or_default(),
        }
    }

    fn index_of(&self, id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
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
        if self.nodes.len() < 2 {
            return err("nodes".into(), "an experiment needs at least two nodes");
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
            if let Some(rate) = settings.clock_rate
                && !(rate.is_finite() && (0.5..=2.0).contains(&rate))
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
            let probability = |p: f64, name: &str| {
                if (0.0..=1.0).contains(&p) {
                    Ok(())
                } else {
                    Err((field(name), "a probability must be in [0, 1]".to_string()))
                }
            };
            match f {
                Fault::Crash { node: id, at, down, mttf, mttr, .. } => {
                    let n = node(id)?;
                    match (at, mttf) {
                        (Some(at), None) => {
                            if mttr.is_some() {
                                return Err((field("mttr"), "goes with `mttf`, not `at` (use `down`)".into()));
                            }
                            if *at >= end {
                                return Err((field("at"), format!("is at or after the end of the run ({end})")));
                            }
                            if *down == Some(Nanos::ZERO) {
                                return Err((field("down"), "must be greater than zero".into()));
                            }
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
                            if *d == Nanos::ZERO {
                                return Err((field("duration"), "must be greater than zero".into()));
                            }
                            pause_windows[n].push((*at, at.saturating_add(*d), *what));
                        }
                        (None, None, Some(every), Some(_)) => {
                            if *every == Nanos::ZERO {
                                return Err((field("every"), "must be greater than zero".into()));
                            }
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
                Fault::Partition { groups, from, to, duration, .. } => {
                    if *duration == Nanos::ZERO {
                        return Err((field("duration"), "must be greater than zero".into()));
                    }
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
                    for id in groups.iter().flatten().chain(from).chain(to) {
                        node(id).map_err(|(_, m)| (field("groups"), m))?;
                    }
                }
                Fault::Omission { node: id, p, .. } => {
                    node(id)?;
                    probability(*p, "p")?;
                }
                Fault::DelaySpike { links, duration, .. } | Fault::LossBurst { links, duration, .. } => {
                    if *duration == Nanos::ZERO {
                        return Err((field("duration"), "must be greater than zero".into()));
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
