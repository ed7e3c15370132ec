//! `fdlab tune`: from a recorded trace (or a simulated model of a network) to the detector
//! configuration that detects crashes fastest while its mistake rate meets a target with
//! 95 % confidence, per detector family and preset, exported for the systems users run.
//!
//! - [`target`]: the target as users write it (`1/week`, `once a month`).
//! - [`grid`]: what is searched: per family a grid of cells over the keys that matter, each
//!   cell a sweep of the knob.
//! - [`select`]: the statistics: bounds (exact Poisson, or batch means when mistakes
//!   cluster), fixed-sequence along a knob, Bonferroni across cells.
//! - [`export`]: Akka/Pekko, Cassandra and Hazelcast configuration, rounded to what each
//!   accepts, and re-checked.
//! - here: running the engine once over every cell (the one-pass sweep of `replay` or the
//!   simulator), measuring, choosing, and the typed `tune.json` ([`TuneFile`]).
//!
//! Detection time is the objective: p99 (or mean) T_D over the crashes of the input where
//! it has any, otherwise the per-heartbeat estimate of the φ paper (after each heartbeat,
//! `suspect_at` as if it were the last one: the detection time had the sender crashed right
//! after it; with a check period, the first check at or after the crossing), measured from
//! the heartbeat's send time when the trace has `sent_ns`, else from its arrival. A trace's
//! crashes are declared as for `fdlab replay` ([`TraceTruth`]: `--crash`, `--monitor-crash`,
//! `--pause`, `--end`); `tune.json` and the table say which basis was used and over how many
//! crashes.
//!
//! Writing the results directory (`tune.json`, the chart, the exported files) is
//! `crate::report::tune_dir`'s.

pub mod export;
pub mod grid;
pub mod select;
mod table;
pub mod target;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::analysis::poisson::poisson_rate_ci95;
use crate::analysis::qos::DetectionBasis;
use crate::analysis::results::SummaryFile;
use crate::detector::DetectorSpec;
use crate::experiment::{Experiment, ExperimentError};
use crate::replay::{CrashDecl, ReplayConfig, ReplayError, replay};
use crate::sim::{RunOptions, SimError};
use crate::time::Nanos;
use crate::trace::{TraceError, TraceReader};
use grid::{Family, GridError};
use select::{BATCHES, BoundMethod, Measured};
pub use table::{human_duration, short_number};
pub use target::{MistakeTarget, TargetError};

/// Where the arrivals come from.
#[derive(Clone, Debug)]
pub enum Input {
    /// A recorded trace, replayed.
    Trace(PathBuf),
    /// An experiment file, simulated (e.g. the model `fdlab fit` wrote, run long).
    Experiment(PathBuf),
}

/// What "fastest" means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// The 99th percentile of detection time.
    #[default]
    P99,
    Mean,
}

impl std::str::FromStr for Objective {
    type Err = String;
    fn from_str(s: &str) -> Result<Objective, String> {
        match s {
            "p99" => Ok(Objective::P99),
            "mean" => Ok(Objective::Mean),
            _ => Err(format!("--objective `{s}`: use `p99` or `mean`")),
        }
    }
}

/// What the target is per.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Per {
    /// Each monitored link (the mistakes of every link pooled over their observed time).
    #[default]
    Link,
    /// Each monitored node: the mistakes of all its monitors count against it.
    Node,
    /// The whole cluster: every mistake on any link counts.
    Cluster,
}

impl std::str::FromStr for Per {
    type Err = String;
    fn from_str(s: &str) -> Result<Per, String> {
        match s {
            "link" => Ok(Per::Link),
            "node" => Ok(Per::Node),
            "cluster" => Ok(Per::Cluster),
            _ => Err(format!("--per `{s}`: use `link`, `node` or `cluster`")),
        }
    }
}

impl Per {
    pub fn name(self) -> &'static str {
        match self {
            Per::Link => "link",
            Per::Node => "node",
            Per::Cluster => "cluster",
        }
    }
}

/// The ground truth a trace cannot carry, declared as for `fdlab replay` (the same
/// [`CrashDecl`]s, passed to the replay engine unchanged, so they mean what they mean there).
/// Only a trace takes them: an experiment's faults are its ground truth. Default: none (the
/// targets were alive throughout, the run ends at the last arrival).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceTruth {
    /// `--crash TARGET@TIME|TARGET@FROM..TO`: with any, detection time is measured over
    /// these crashes instead of estimated per heartbeat.
    pub crashes: Vec<CrashDecl>,
    /// `--monitor-crash MONITOR@TIME|MONITOR@FROM..TO`: the monitor observed nothing then.
    pub monitor_crashes: Vec<CrashDecl>,
    /// `--pause NODE@FROM..TO`: alive but stalled (its mistakes are attributed to the pause).
    pub pauses: Vec<CrashDecl>,
    /// `--end TIME`: where the run ends (after the last arrival), e.g. so that a crash near
    /// the end has time to be detected.
    pub end: Option<Nanos>,
}

impl TraceTruth {
    /// The first flag declared, for the error that an experiment takes none.
    fn first_flag(&self) -> Option<&'static str> {
        [
            (!self.crashes.is_empty(), "--crash"),
            (!self.monitor_crashes.is_empty(), "--monitor-crash"),
            (!self.pauses.is_empty(), "--pause"),
            (self.end.is_some(), "--end"),
        ]
        .into_iter()
        .find_map(|(declared, flag)| declared.then_some(flag))
    }
}

/// What to tune.
#[derive(Clone, Debug)]
pub struct TuneConfig {
    pub input: Input,
    /// Declared crashes, pauses and end of a trace (empty for an experiment).
    pub truth: TraceTruth,
    pub target: MistakeTarget,
    /// Families (`KIND` or `PRESET`, with keys held or listing alternatives); empty: the
    /// defaults ([`grid::default_families`]).
    pub detectors: Vec<String>,
    pub objective: Objective,
    pub per: Per,
    /// Overrides an experiment's seed.
    pub seed: Option<u64>,
    /// Simulate even what the size estimate refuses; replay a trace even when its links ×
    /// the grid's configurations are estimated beyond 80 % of this machine's memory.
    pub allow_large: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TuneError {
    #[error(transparent)]
    Grid(#[from] GridError),
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error(transparent)]
    Experiment(#[from] ExperimentError),
    #[error("{path}: {source}")]
    Sim { path: PathBuf, source: SimError },
    #[error("--detector `{0}` is given twice")]
    Duplicate(String),
    #[error("{0}: no link has two heartbeats: nothing to tune on")]
    Empty(PathBuf),
    #[error(
        "{flag}: only a trace takes declared crashes, pauses and an end; {path} is an experiment, whose faults are \
         its ground truth"
    )]
    TruthNeedsTrace { flag: &'static str, path: PathBuf },
}

/// `tune.json`: what `tune` measured, chose and exported.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TuneFile {
    pub fdlab_version: String,
    /// `replay` (a trace) or `sim` (an experiment).
    pub engine: String,
    /// The trace or experiment file.
    pub input: String,
    /// The experiment's name (`replay of FILE` for a trace).
    pub experiment: String,
    /// The experiment's seed; `null` for a trace.
    pub seed: Option<u64>,
    pub target: String,
    pub target_per_s: f64,
    pub per: Per,
    pub objective: Objective,
    /// `crashes` or `per-heartbeat estimate`.
    pub detection_basis: DetectionBasis,
    /// How many crashes (of links' targets, while observed) detection time was measured over:
    /// declared with `--crash` for a trace, the experiment's faults for a simulation; 0 for
    /// the per-heartbeat estimate.
    #[serde(default)]
    pub crashes: u64,
    /// The heartbeat interval of the input (a trace's median inter-arrival time).
    pub heartbeat_interval_s: f64,
    /// Observed time the target is per (the largest of the configurations').
    pub observed_s: f64,
    /// −ln 0.05 / target: the least observation in which any configuration could qualify
    /// (with no mistakes at all).
    pub needed_s: f64,
    /// Whether `observed_s ≥ needed_s`.
    pub supported: bool,
    /// When not supported: what would be needed and the model route, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsupported: Option<String>,
    pub families: Vec<FamilyResult>,
    pub exports: Vec<export::Export>,
}

/// One family's search and its recommendation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FamilyResult {
    /// The kind or preset.
    pub name: String,
    pub kind: String,
    pub knob: String,
    /// Cells of the grid (m) and configurations in all.
    pub cells: usize,
    pub configurations: usize,
    /// The error probability each cell was tested at: 0.05 / m.
    pub alpha: f64,
    /// How the confidence was obtained, in words.
    pub confidence: String,
    /// The recommendation; `null` when no configuration qualified.
    pub chosen: Option<Choice>,
    /// When none qualified: the configuration with the lowest bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub most_accurate: Option<Choice>,
    /// Every configuration tested.
    pub tested: Vec<Tested>,
}

/// A configuration with the figures that decided it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Choice {
    pub label: String,
    /// The keys set in its cell and the knob's value.
    pub values: BTreeMap<String, String>,
    pub mistakes: u64,
    pub exposure_s: f64,
    pub mistakes_per_day: f64,
    /// The upper bound on its rate at the cell's α.
    pub upper_per_day: f64,
    pub bound_method: BoundMethod,
    /// Dispersion index of the mistakes over 20 slices (χ²(19) under Poisson).
    pub dispersion: Option<f64>,
    pub detection_p99_s: Option<f64>,
    pub detection_mean_s: Option<f64>,
}

/// One configuration tested (for the frontier chart and the record).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Tested {
    pub label: String,
    pub cell: usize,
    pub knob_value: String,
    pub mistakes: u64,
    pub mistakes_per_day: f64,
    /// The exact two-sided 95 % interval; `null` without exposure.
    pub ci95_per_day: Option<[f64; 2]>,
    pub objective_s: Option<f64>,
    /// On the family's frontier: no other configuration is both faster and less often
    /// wrong (point estimates).
    pub frontier: bool,
    pub chosen: bool,
}

/// The heartbeat interval of the input, and whether it has sequence numbers.
fn probe(input: &Input) -> Result<(Nanos, bool), TuneError> {
    match input {
        Input::Trace(path) => {
            let mut reader = TraceReader::open(path)?;
            let has_seq = reader.has_seq();
            let mut last: BTreeMap<(u32, u32), Nanos> = BTreeMap::new();
            let mut gaps = Vec::new();
            // The first million rows say what the interval is.
            while gaps.len() < 1_000_000 {
                let Some(row) = reader.next_row()? else { break };
                if let Some(prev) = last.insert((row.monitor, row.target), row.arrival.at) {
                    gaps.push(row.arrival.at.saturating_sub(prev).0);
                }
            }
            if gaps.is_empty() {
                return Err(TuneError::Empty(path.clone()));
            }
            gaps.sort_unstable();
            Ok((Nanos(gaps[gaps.len() / 2]), has_seq))
        }
        Input::Experiment(path) => {
            let e = Experiment::load(path)?;
            let mut counts: BTreeMap<Nanos, usize> = BTreeMap::new();
            for (_, t) in e.monitored_links() {
                *counts.entry(e.node(t).interval).or_default() += 1;
            }
            let interval = counts.iter().max_by_key(|(_, n)| **n).map(|(i, _)| *i).unwrap_or(Nanos::from_millis(100));
            Ok((interval, true))
        }
    }
}

/// What an engine run gave, and what it was.
pub(crate) struct EngineRun {
    pub summary: SummaryFile,
}

/// Runs the input's engine over `specs` in one pass.
pub(crate) fn run_engine(config: &TuneConfig, specs: Vec<DetectorSpec>) -> Result<EngineRun, TuneError> {
    match &config.input {
        Input::Trace(path) => {
            let t = &config.truth;
            let replay_config = ReplayConfig {
                trace: path.clone(),
                detectors: specs,
                crashes: t.crashes.clone(),
                monitor_crashes: t.monitor_crashes.clone(),
                pauses: t.pauses.clone(),
                end: t.end,
                memory_limit: if config.allow_large { None } else { crate::experiment::memory_limit() },
                ..ReplayConfig::default()
            };
            Ok(EngineRun { summary: replay(&replay_config, None)?.summary })
        }
        Input::Experiment(path) => {
            let mut e = Experiment::load(path)?.into_inner();
            e.detectors = specs;
            let e = e.check(path)?;
            let options = RunOptions {
                seed: config.seed,
                base_dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
                threads: 0,
                allow_large: config.allow_large,
                ..RunOptions::default()
            };
            let output = crate::sim::run(&e, &options, &|_| {})
                .map_err(|source| TuneError::Sim { path: path.clone(), source })?;
            Ok(EngineRun { summary: output.summary })
        }
    }
}

/// One configuration's figures over every link.
#[derive(Clone, Debug)]
pub(crate) struct Figures {
    pub measured: Measured,
    pub p99_s: Option<f64>,
    pub mean_s: Option<f64>,
    pub basis: DetectionBasis,
}

/// The figures of every configuration in `summary`, by label, with exposure per `per` and
/// the objective.
pub(crate) fn measure(summary: &SummaryFile, per: Per, objective: Objective) -> BTreeMap<String, Figures> {
    /// Per label: links, their targets, and every mistake's start (`None` when not all were listed).
    type Links<'a> = BTreeMap<&'a str, (usize, BTreeSet<&'a str>, Option<Vec<f64>>)>;
    let mut links: Links = BTreeMap::new();
    for r in &summary.results {
        let entry = links.entry(&r.detector).or_insert((0, BTreeSet::new(), Some(Vec::new())));
        entry.0 += 1;
        entry.1.insert(&r.target);
        let starts: Vec<f64> = r.qos.listed.iter().filter(|m| !m.censored).map(|m| m.start.as_secs_f64()).collect();
        match &mut entry.2 {
            Some(all) if starts.len() as u64 == r.qos.mistakes => all.extend(starts),
            _ => entry.2 = None,
        }
    }
    let mut out = BTreeMap::new();
    for t in &summary.totals {
        let Some((n_links, targets, starts)) = links.get(t.detector.as_str()) else { continue };
        let divisor = match per {
            Per::Link => 1.0,
            Per::Node => *n_links as f64 / targets.len().max(1) as f64,
            Per::Cluster => *n_links as f64,
        };
        let d = &t.detection_time_s;
        let objective_s = match objective {
            Objective::P99 => d.p99,
            Objective::Mean => d.mean,
        };
        let batches = starts.as_ref().map(|s| select::batch_counts(s.iter().copied(), 0.0, summary.run_end_s, BATCHES));
        let measured = Measured {
            label: t.detector.clone(),
            mistakes: t.mistakes,
            exposure_s: t.observed_up_s / divisor,
            objective_s,
            batches,
        };
        out.insert(t.detector.clone(), Figures { measured, p99_s: d.p99, mean_s: d.mean, basis: t.detection_basis });
    }
    out
}

/// A configuration with its bound (only configurations with one are chosen or reported).
fn choice(f: &Figures, values: BTreeMap<String, String>, bound: select::Bound) -> Choice {
    let m = &f.measured;
    Choice {
        label: m.label.clone(),
        values,
        mistakes: m.mistakes,
        exposure_s: m.exposure_s,
        mistakes_per_day: per_day(m),
        upper_per_day: bound.upper_per_s * 86_400.0,
        bound_method: bound.method,
        dispersion: bound.dispersion,
        detection_p99_s: f.p99_s,
        detection_mean_s: f.mean_s,
    }
}

fn per_day(m: &Measured) -> f64 {
    if m.exposure_s > 0.0 { m.mistakes as f64 / m.exposure_s * 86_400.0 } else { 0.0 }
}

/// The values of a cell at one knob value.
fn cell_values(family: &Family, cell: &grid::Cell, knob_value: &str) -> BTreeMap<String, String> {
    let mut values: BTreeMap<String, String> = cell.fixed.iter().cloned().collect();
    values.insert(family.knob.clone(), knob_value.to_string());
    values
}

/// Chooses in one family from the measured figures.
pub(crate) fn choose_family(
    family: &Family,
    figures: &BTreeMap<String, Figures>,
    target_per_s: f64,
    supported: bool,
) -> FamilyResult {
    let m = family.cells.len();
    let alpha = select::cell_alpha(m);
    let labels: Vec<Vec<String>> =
        family.cells.iter().map(|c| c.spec.points().into_iter().map(|p| p.label).collect()).collect();
    // A configuration the engine reported nothing for (no link observed) stays in its place,
    // without exposure: it has no bound, so it fails its test and is never chosen.
    let unobserved =
        |l: &String| Measured { label: l.clone(), mistakes: 0, exposure_s: 0.0, objective_s: None, batches: None };
    let cells: Vec<Vec<Measured>> = labels
        .iter()
        .map(|ls| ls.iter().map(|l| figures.get(l).map_or_else(|| unobserved(l), |f| f.measured.clone())).collect())
        .collect();
    let grid_choice = if supported { select::choose_in_grid(&cells, target_per_s) } else { None };
    let chosen = grid_choice.map(|g| {
        let cell = &family.cells[g.cell];
        let f = &figures[&cells[g.cell][g.point].label];
        choice(f, cell_values(family, cell, &cell.knob_values[g.point]), g.bound)
    });
    let most_accurate = if chosen.is_none() {
        let mut best: Option<(select::Bound, usize, usize)> = None;
        for (c, points) in cells.iter().enumerate() {
            for (p, point) in points.iter().enumerate() {
                if let Some(b) = select::bound(point, alpha)
                    && best.is_none_or(|(u, _, _)| b.upper_per_s < u.upper_per_s)
                {
                    best = Some((b, c, p));
                }
            }
        }
        // A bound needs exposure, which only a reported configuration has.
        best.map(|(b, c, p)| {
            let cell = &family.cells[c];
            choice(&figures[&cells[c][p].label], cell_values(family, cell, &cell.knob_values[p]), b)
        })
    } else {
        None
    };
    // Every configuration, and the frontier among them (fastest first; kept while the rate falls).
    let mut tested = Vec::new();
    for (c, points) in cells.iter().enumerate() {
        for (p, point) in points.iter().enumerate() {
            let ci = poisson_rate_ci95(point.mistakes, point.exposure_s);
            tested.push(Tested {
                label: point.label.clone(),
                cell: c,
                knob_value: family.cells[c].knob_values[p].clone(),
                mistakes: point.mistakes,
                mistakes_per_day: per_day(point),
                ci95_per_day: ci.map(|[lo, hi]| [lo * 86_400.0, hi * 86_400.0]),
                objective_s: point.objective_s,
                frontier: false,
                chosen: grid_choice.is_some_and(|g| g.cell == c && g.point == p),
            });
        }
    }
    let mut order: Vec<usize> = (0..tested.len()).filter(|&i| tested[i].objective_s.is_some()).collect();
    order.sort_by(|&a, &b| {
        let (ta, tb) = (&tested[a], &tested[b]);
        ta.objective_s
            .partial_cmp(&tb.objective_s)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(ta.mistakes_per_day.partial_cmp(&tb.mistakes_per_day).unwrap_or(std::cmp::Ordering::Equal))
    });
    let mut lowest = f64::INFINITY;
    for i in order {
        if tested[i].mistakes_per_day < lowest {
            lowest = tested[i].mistakes_per_day;
            tested[i].frontier = true;
        }
    }
    let confidence = if m == 1 {
        "fixed-sequence along the knob at 5 % (exact one-sided Poisson bound; batch means where mistakes cluster)"
            .to_string()
    } else {
        format!(
            "fixed-sequence along the knob in each of {m} cells, each at 5 %/{m} = {} (Bonferroni; exact one-sided \
             Poisson bound, batch means where mistakes cluster)",
            short_number(alpha * 100.0) + " %"
        )
    };
    FamilyResult {
        name: family.name.clone(),
        kind: family.kind.clone(),
        knob: family.knob.clone(),
        cells: m,
        configurations: family.configurations(),
        alpha,
        confidence,
        chosen,
        most_accurate,
        tested,
    }
}

/// −ln 0.05 / target: with no mistakes at all in this much observation the bound just meets
/// the target; with less, no configuration can qualify.
pub fn needed_observation_s(target_per_s: f64) -> f64 {
    -libm::log(0.05) / target_per_s
}

/// Runs the whole search: the engine once over every family's grid, the choices, the
/// exports (their rounded configurations run again and re-checked).
pub fn tune(config: &TuneConfig) -> Result<TuneFile, TuneError> {
    if let (Input::Experiment(path), Some(flag)) = (&config.input, config.truth.first_flag()) {
        return Err(TuneError::TruthNeedsTrace { flag, path: path.clone() });
    }
    let (interval, has_seq) = probe(&config.input)?;
    let names: Vec<String> = if config.detectors.is_empty() {
        grid::default_families(has_seq).into_iter().map(str::to_string).collect()
    } else {
        config.detectors.clone()
    };
    let mut families: Vec<Family> = Vec::new();
    for n in &names {
        let f = grid::family(n, interval)?;
        if families.iter().any(|g| g.name == f.name) {
            return Err(TuneError::Duplicate(f.name));
        }
        families.push(f);
    }
    let specs: Vec<DetectorSpec> = families.iter().flat_map(|f| f.cells.iter().map(|c| c.spec.clone())).collect();
    let run = run_engine(config, specs)?;
    let figures = measure(&run.summary, config.per, config.objective);
    let observed_s = figures.values().map(|f| f.measured.exposure_s).fold(0.0, f64::max);
    let needed_s = needed_observation_s(config.target.per_s);
    let supported = observed_s >= needed_s;
    let results: Vec<FamilyResult> =
        families.iter().map(|f| choose_family(f, &figures, config.target.per_s, supported)).collect();
    let basis = figures.values().next().map_or(DetectionBasis::PerHeartbeatEstimate, |f| f.basis);
    // Every configuration sees the same crashes: count those of the first one's links.
    let crashes = match (basis, figures.keys().next()) {
        (DetectionBasis::Crashes, Some(label)) => run
            .summary
            .results
            .iter()
            .filter(|r| &r.detector == label)
            .map(|r| r.qos.crashes.iter().filter(|c| c.observed).count() as u64)
            .sum(),
        _ => 0,
    };
    let (input, engine) = match &config.input {
        Input::Trace(p) => (p, "replay"),
        Input::Experiment(p) => (p, "sim"),
    };
    let unsupported = (!supported).then(|| unsupported_message(config, observed_s, needed_s, &families));
    let exports = export::exports(config, &families, &results, interval)?;
    Ok(TuneFile {
        fdlab_version: env!("CARGO_PKG_VERSION").to_string(),
        engine: engine.to_string(),
        input: input.display().to_string(),
        experiment: run.summary.experiment.clone(),
        seed: run.summary.seed,
        target: config.target.text.clone(),
        target_per_s: config.target.per_s,
        per: config.per,
        objective: config.objective,
        detection_basis: basis,
        crashes,
        heartbeat_interval_s: interval.as_secs_f64(),
        observed_s,
        needed_s,
        supported,
        unsupported,
        families: results,
        exports,
    })
}

/// Item 2 of the issue: the data cannot support the target. Says how much observation would
/// be needed, and the model route.
fn unsupported_message(config: &TuneConfig, observed_s: f64, needed_s: f64, families: &[Family]) -> String {
    let cells = families.iter().map(|f| f.cells.len()).max().unwrap_or(1);
    let grid_needed = -libm::log(select::cell_alpha(cells)) / config.target.per_s;
    let head = format!(
        "The data cannot support a target of {}: {} observed (per {}), but even with no mistakes at all the 95 % \
         bound reaches {} only after {} (−ln 0.05 / target = 2.996 / target; {} for a grid of {cells} cells at \
         5 %/{cells}), {}× more observation than there is. No configuration can qualify.",
        config.target,
        human_duration(observed_s),
        config.per.name(),
        config.target.text,
        human_duration(needed_s),
        human_duration(grid_needed),
        short_number(needed_s / observed_s.max(f64::MIN_POSITIVE)),
    );
    let route = match &config.input {
        Input::Trace(p) => format!(
            "Record at least that long, or take the model route: `fdlab fit {}` fits a network model to the trace \
             and writes an experiment reproducing it; set its `duration` to at least {} (longer is better: the bound \
             needs about 2.996 / target with no mistakes, more with some) and run `fdlab tune --experiment \
             {} --max-mistakes '{}'`. The answer then rests on the model, not on observation: it holds only \
             as far as the fit captured the network (delays, losses and pauses the trace never showed are not in it).",
            p.display(),
            human_duration(grid_needed),
            // Where `fdlab fit` writes it by default.
            Path::new("results")
                .join(format!("{}-fit", p.file_stem().map_or_else(|| "trace".into(), |s| s.to_string_lossy())))
                .join("experiment.toml")
                .display(),
            config.target.text
        ),
        Input::Experiment(p) => format!(
            "Simulate longer: set `duration` in {} to at least {} (more if the detectors err at all).",
            p.display(),
            human_duration(grid_needed)
        ),
    };
    format!("{head} {route}")
}
