//! Sharding a run across machines (`fdlab run --shard I/N`) and the exact merge
//! (`fdlab merge`).
//!
//! **Work units.** A run of R replications of an experiment with S detector specs has R · S
//! units: (replication r, spec s), numbered k = r · S + s. Shard I of N (I from 0) runs the
//! units with k mod N = I, round robin, so every shard gets a share of every replication. A
//! unit is a whole spec (its sweep is one pass over the arrivals, DESIGN.md §2 point 3) over
//! every monitor: monitors are never split, so cluster views, which need every node's
//! suspicions, are computed within the unit. With more shards than that (N > R · S) and
//! sweeps to split, each configuration (a sweep's point) is a unit of its own instead, R · C
//! of them, so that a sweep of one detector spreads over machines too (each point then
//! passes over the arrivals on its own). A shard may still hold no unit (N > R · C); it is
//! still written and still required by the merge.
//!
//! **State.** A shard writes `shard.json`: a header naming the experiment (its name and a
//! SHA-256 of the experiment as run), the seed, the replications, the number of specs, the
//! shard's index and count, fdlab's version and build id ([`BUILD_ID`]), and each unit's exact
//! state ([`super::state`]): integer accumulators and bucket counts, not rounded figures.
//!
//! **Merge.** [`merge`] checks that the shards are one run's (same header), each index once
//! and none missing, each unit where its number puts it; it puts every replication back
//! together in spec order (reports, sampled levels and cluster figures added unit by unit,
//! as the simulator's own thread groups are), takes the per-link facts that every unit
//! regenerates (datagram counts, delay and inter-arrival histograms, the faults chosen for
//! the timeline, arrivals in the sampled windows) from spec 0's unit after checking that the
//! others agree, and then assembles the output with the code a whole run uses
//! ([`super::assemble`]): totals, the detection basis, pooled replications and every rate and
//! interval are computed there, from the merged counts. The output is byte for byte the whole
//! run's (`tests/shard.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::state::ReplicationState;
use super::{Replication, RunFacts, RunOptions, SimError, run_replication};
use crate::analysis::output::RunOutput;
use crate::analysis::replications;
use crate::experiment::ValidExperiment;
use crate::time::Nanos;

/// The format of `shard.json`.
pub const FORMAT: &str = "fdlab-shard/1";
/// The file a shard directory holds.
pub const SHARD_FILE: &str = "shard.json";

/// fdlab's version and a hash of what it was built from: every source file, `Cargo.toml`,
/// `Cargo.lock` and `build.rs` (FNV-1a 64, by `build.rs`). Two binaries built from the same
/// sources and locked dependencies have the same id whatever the machine, compiler flags or
/// target, which is what may be merged: sampling uses pure-Rust maths (`libm`), so a unit's
/// result does not depend on the host. A changed source file changes it, even uncommitted.
pub const BUILD_ID: &str = concat!(env!("CARGO_PKG_VERSION"), "+src.", env!("FDLAB_SOURCE_HASH"));

/// Shard I of N (I from 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardSpec {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for ShardSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<ShardSpec, String> {
        let bad = || format!("`{s}` is not I/N with 0 ≤ I < N, e.g. `0/4` (the first of four shards)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) =
            (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(ShardSpec { index, count })
    }
}

impl std::fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// `shard.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardFile {
    pub format: String,
    pub fdlab_version: String,
    pub build_id: String,
    pub experiment: String,
    /// SHA-256 (hex) of the experiment as run (`experiment_config`, as JSON).
    pub experiment_digest: String,
    pub seed: u64,
    pub replications: u32,
    /// Detector specs in the experiment.
    pub specs: usize,
    /// How many configurations each spec has (the stored experiment lists them one by one).
    pub spec_points: Vec<usize>,
    /// Whether the units are configurations rather than specs ([`by_configuration`]).
    pub by_configuration: bool,
    pub shard: usize,
    pub shards: usize,
    pub run_end_ns: u64,
    pub nodes: Vec<String>,
    pub experiment_config: serde_json::Value,
    pub units: Vec<UnitState>,
    /// Shard 0 only: what the run does once, whole, under its seed, beside the heartbeat
    /// units (the message workloads and the two generals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub once: Option<OnceState>,
}

/// The message workloads' reports and latency histograms and the two generals, as the run
/// computed them: a merge puts them into its output as they are, so the merged files are
/// the whole run's.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnceState {
    pub workloads: Vec<crate::workload::WorkloadReport>,
    /// Per workload, its latency histogram's recorded (value ns, count) pairs.
    pub latency: Vec<(String, Vec<(u64, u64)>)>,
    pub two_generals: Option<crate::workload::generals::GeneralsReport>,
}

/// One work unit's state.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitState {
    pub replication: u32,
    /// The spec, or with [`ShardFile::by_configuration`] the configuration, it ran.
    pub spec: usize,
    pub state: ReplicationState,
}

/// Whether a run's units are its configurations rather than its specs: when there are more
/// shards than (replication, spec) pairs and a sweep to split.
pub fn by_configuration(shards: usize, replications: u32, specs: usize, configurations: usize) -> bool {
    shards > replications as usize * specs && configurations > specs
}

/// The detector specs each unit of a replication runs: the experiment's specs, or each of
/// their configurations as a spec of its own, in the order a whole run reports them.
fn unit_specs(e: &ValidExperiment, by_configuration: bool) -> Vec<Vec<crate::detector::DetectorSpec>> {
    if !by_configuration {
        return e.detectors.iter().map(|d| vec![d.clone()]).collect();
    }
    e.detectors.iter().flat_map(|d| d.configurations()).map(|c| vec![c]).collect()
}

impl ShardFile {
    /// The header fields that must agree between shards of one run, as text for messages.
    fn identity(&self) -> Vec<(&'static str, String)> {
        vec![
            ("format", self.format.clone()),
            ("fdlab version", self.fdlab_version.clone()),
            ("build", self.build_id.clone()),
            ("experiment", self.experiment.clone()),
            ("experiment digest", self.experiment_digest.clone()),
            ("seed", self.seed.to_string()),
            ("replications", self.replications.to_string()),
            ("detector specs", self.specs.to_string()),
            ("configurations per spec", format!("{:?}", self.spec_points)),
            ("units by configuration", self.by_configuration.to_string()),
            ("shard count", self.shards.to_string()),
        ]
    }

    pub fn to_json(&self) -> Vec<u8> {
        // Cannot fail: plain data (floats that may be infinite are stored as bits).
        let mut bytes = serde_json::to_vec(self).expect("shard state serializes");
        bytes.push(b'\n');
        bytes
    }
}

/// How a run of `e` in `replications` replications is cut into work units, and which of
/// them shard `shard` runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Whether the units are configurations rather than specs ([`by_configuration`]).
    pub by_configuration: bool,
    /// The units of the whole run.
    pub total: usize,
    /// The shard's units, (replication, spec or configuration).
    pub units: Vec<(u32, usize)>,
}

impl Plan {
    /// What the shard's units take: its replications, each unit's configurations (see
    /// [`crate::experiment::Estimate::runs`]).
    pub fn estimate(&self, e: &ValidExperiment) -> crate::experiment::Estimate {
        let configurations = |s: usize| if self.by_configuration { 1 } else { e.detectors[s].points().len() as u128 };
        let replications = self.units.iter().map(|u| u.0).collect::<std::collections::BTreeSet<_>>().len();
        e.estimate().runs(replications as u32, self.units.iter().map(|&(_, s)| configurations(s)).sum())
    }
}

/// The work units of `e` run in `replications` replications (at least 1), and shard
/// `shard`'s share of them: what [`run_shard`] runs, for a caller that reports it.
pub fn plan(e: &ValidExperiment, replications: u32, shard: ShardSpec) -> Plan {
    let replications = replications.max(1);
    let configurations = e.detectors.iter().map(|d| d.points().len()).sum();
    let by_configuration = by_configuration(shard.count, replications, e.detectors.len(), configurations);
    let specs = if by_configuration { configurations } else { e.detectors.len() };
    Plan { by_configuration, total: replications as usize * specs, units: units(shard, replications, specs) }
}

/// The units (replication, spec) of shard `shard` of a run with `replications` × `specs`.
pub fn units(shard: ShardSpec, replications: u32, specs: usize) -> Vec<(u32, usize)> {
    (0..replications as usize * specs)
        .filter(|k| k % shard.count == shard.index)
        .map(|k| ((k / specs) as u32, k % specs))
        .collect()
}

fn digest(config: &serde_json::Value) -> String {
    use sha2::Digest;
    // Cannot fail: a JSON value serializes.
    let bytes = serde_json::to_vec(config).expect("JSON value serializes");
    sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs shard `shard` of `e` (`options.replications` replications) and returns its state.
pub fn run_shard(
    e: &ValidExperiment,
    options: &RunOptions,
    shard: ShardSpec,
    progress: &(dyn Fn(Nanos) + Sync),
) -> Result<ShardFile, SimError> {
    let count = options.replications.max(1);
    if !options.allow_large {
        plan(e, count, shard).estimate(e).fits().map_err(SimError::TooLarge)?;
    }
    replications::check(e, count).map_err(SimError::Replications)?;
    if !options.extra_rules.is_empty() {
        return Err(SimError::Shard("a leader rule of the library user's own cannot be stored in a shard".into()));
    }
    let seed = options.seed.unwrap_or(e.seed);
    // (Mutation testing: keeping the caller's `record_trace` is equivalent in output: a
    // unit's state holds no trace (`ReplicationState::of`), so a recorded one is only
    // spilled and dropped.)
    let options = RunOptions { record_trace: false, ..options.clone() };
    let facts = RunFacts::of(e, seed);
    // The workloads and the two generals run once, under the run's seed, as a whole run
    // runs them (`super::run`): shard 0 does it and keeps their results.
    let once = if shard.index == 0 && (!e.workloads.is_empty() || e.two_generals.is_some()) {
        let mut workloads = Vec::new();
        let mut latency = Vec::new();
        for (report, histogram) in super::workloads::run_all(e, seed, &options.base_dir)? {
            let recorded = histogram.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value())).collect();
            latency.push((report.name.clone(), recorded));
            workloads.push(report);
        }
        let two_generals = e.two_generals.as_ref().map(|g| crate::workload::generals::simulate(g, seed));
        Some(OnceState { workloads, latency, two_generals })
    } else {
        None
    };
    let mut out = Vec::new();
    let Plan { by_configuration, units, .. } = plan(e, count, shard);
    let unit_specs = unit_specs(e, by_configuration);
    for (r, s) in units {
        let rep = run_replication(e, &options, replications::seed_of(seed, r), &unit_specs[s], progress)?;
        out.push(UnitState { replication: r, spec: s, state: ReplicationState::of(&rep) });
    }
    Ok(ShardFile {
        format: FORMAT.into(),
        fdlab_version: env!("CARGO_PKG_VERSION").into(),
        build_id: BUILD_ID.into(),
        experiment: facts.name,
        experiment_digest: digest(&facts.experiment_config),
        seed,
        replications: count,
        specs: e.detectors.len(),
        spec_points: e.detectors.iter().map(|d| d.points().len()).collect(),
        by_configuration,
        shard: shard.index,
        shards: shard.count,
        run_end_ns: facts.duration.0,
        nodes: facts.nodes,
        experiment_config: facts.experiment_config,
        units: out,
        once,
    })
}

/// Why shards cannot be merged; each names the directory at fault.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("no shard directories given")]
    Empty,
    #[error("{dir}: {message}")]
    Read { dir: PathBuf, message: String },
    #[error(
        "{dir} is not a shard of the same run as {first}: its {field} is {found}, while {first}'s {field} is {expected}"
    )]
    Mismatch { dir: PathBuf, first: PathBuf, field: &'static str, found: String, expected: String },
    #[error("{dir} and {other} are both shard {index}/{count}")]
    Doubled { dir: PathBuf, other: PathBuf, index: usize, count: usize },
    #[error(
        "shard{} {} {} missing (given: {given}); every shard 0/{count} to {}/{count} must be merged once",
        if .missing.len() > 1 { "s" } else { "" },
        .missing.iter().map(|i| format!("{i}/{count}")).collect::<Vec<_>>().join(", "),
        if .missing.len() > 1 { "are" } else { "is" },
        .count - 1
    )]
    Missing { missing: Vec<usize>, count: usize, given: String },
    #[error("{dir}: {message}")]
    Inconsistent { dir: PathBuf, message: String },
}

/// Reads `DIR/shard.json`.
pub fn read_shard(dir: &Path) -> Result<ShardFile, MergeError> {
    let path = dir.join(SHARD_FILE);
    let read = |message: String| MergeError::Read { dir: dir.to_path_buf(), message };
    let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound if !dir.exists() => read("does not exist".into()),
        std::io::ErrorKind::NotFound => {
            read(format!("has no {SHARD_FILE}: not a shard directory (`fdlab run --shard I/N` writes one)"))
        }
        _ => read(format!("reading {SHARD_FILE}: {e}")),
    })?;
    let shard: ShardFile =
        serde_json::from_slice(&bytes).map_err(|e| read(format!("{SHARD_FILE} is not a shard's state: {e}")))?;
    if shard.format != FORMAT {
        return Err(read(format!("{SHARD_FILE} has format `{}`; this fdlab reads `{FORMAT}`", shard.format)));
    }
    Ok(shard)
}

/// Merges the shards in `dirs` into the output of the whole run.
pub fn merge(dirs: &[PathBuf]) -> Result<RunOutput, MergeError> {
    let first_dir = dirs.first().ok_or(MergeError::Empty)?;
    let mut shards: Vec<(PathBuf, ShardFile)> = Vec::with_capacity(dirs.len());
    let mut by_index: BTreeMap<usize, PathBuf> = BTreeMap::new();
    for dir in dirs {
        let shard = read_shard(dir)?;
        if let Some((_, first)) = shards.first() {
            for ((field, expected), (_, found)) in first.identity().into_iter().zip(shard.identity()) {
                if expected != found {
                    return Err(MergeError::Mismatch {
                        dir: dir.clone(),
                        first: first_dir.clone(),
                        field,
                        found,
                        expected,
                    });
                }
            }
        }
        if shard.shard >= shard.shards {
            return Err(MergeError::Read {
                dir: dir.clone(),
                message: format!("shard {}/{} does not exist", shard.shard, shard.shards),
            });
        }
        if let Some(other) = by_index.insert(shard.shard, dir.clone()) {
            return Err(MergeError::Doubled { dir: dir.clone(), other, index: shard.shard, count: shard.shards });
        }
        shards.push((dir.clone(), shard));
    }
    let head = &shards[0].1;
    let spec_points = head.spec_points.clone();
    let (count, reps) = (head.shards, head.replications);
    let configurations = spec_points.iter().sum();
    if head.by_configuration != by_configuration(count, reps, head.specs, configurations) {
        return Err(MergeError::Inconsistent {
            dir: first_dir.clone(),
            message: format!("its units are by configuration: {}, which its run does not say", head.by_configuration),
        });
    }
    let specs = if head.by_configuration { configurations } else { head.specs };
    let missing: Vec<usize> = (0..count).filter(|i| !by_index.contains_key(i)).collect();
    if !missing.is_empty() {
        let given = dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ");
        return Err(MergeError::Missing { missing, count, given });
    }
    let facts = RunFacts {
        name: head.experiment.clone(),
        seed: head.seed,
        duration: Nanos(head.run_end_ns),
        nodes: head.nodes.clone(),
        experiment_config: head.experiment_config.clone(),
        timeline_target_per_day: crate::analysis::sampling::DEFAULT_TARGET_PER_DAY,
    };
    if digest(&facts.experiment_config) != head.experiment_digest {
        return Err(MergeError::Inconsistent {
            dir: shards[0].0.clone(),
            message: "its experiment does not match its digest (the file was edited)".into(),
        });
    }
    // Every unit, where its number says it must be.
    let mut slots: BTreeMap<(u32, usize), (PathBuf, ReplicationState)> = BTreeMap::new();
    let mut once = None;
    for (dir, mut shard) in shards {
        if shard.shard == 0 {
            once = shard.once.take();
        } else if shard.once.is_some() {
            return Err(MergeError::Inconsistent { dir, message: "only shard 0 runs the workloads".into() });
        }
        let expected = units(ShardSpec { index: shard.shard, count }, reps, specs);
        let found: Vec<(u32, usize)> = shard.units.iter().map(|u| (u.replication, u.spec)).collect();
        if found != expected {
            return Err(MergeError::Inconsistent {
                dir,
                message: format!("holds units {found:?}, but shard {}/{count} is units {expected:?}", shard.shard),
            });
        }
        for u in shard.units {
            slots.insert((u.replication, u.spec), (dir.clone(), u.state));
        }
    }
    let mut replications = Vec::with_capacity(reps as usize);
    let mut slots = slots.into_iter();
    for r in 0..reps {
        let parts: Vec<(PathBuf, ReplicationState)> = (0..specs)
            .map(|_| slots.next().map(|(_, part)| part))
            .collect::<Option<_>>()
            // Cannot fail: every shard held exactly its units, and the shards are all there.
            .expect("every unit is present");
        replications.push(join(r, parts, head_seed(&facts, r))?);
    }
    // The detector specs, for the timeline's choice of settings (a shard holds built-in
    // specs only: it refuses a library user's own).
    let e: crate::experiment::Experiment = serde_json::from_value(facts.experiment_config.clone()).map_err(|e| {
        MergeError::Inconsistent { dir: first_dir.clone(), message: format!("its experiment does not read back: {e}") }
    })?;
    // Regroup the configurations into the specs they came from.
    let mut points = e.detectors.into_iter();
    let groups: Vec<Vec<crate::detector::DetectorSpec>> =
        spec_points.iter().map(|&n| points.by_ref().take(n).collect()).collect();
    if points.next().is_some() || groups.iter().zip(&spec_points).any(|(g, &n)| g.len() != n) {
        return Err(MergeError::Inconsistent {
            dir: first_dir.clone(),
            message: "its detector specs do not match its experiment".into(),
        });
    }
    let mut output = super::assemble(&facts, replications, &groups);
    if let Some(once) = once {
        for (name, recorded) in once.latency {
            let mut histogram = crate::workload::engine::latency_histogram();
            for (value, count) in recorded {
                histogram.saturating_record_n(value, count);
            }
            output.workload_latency.push((name, histogram));
        }
        output.summary.workloads = once.workloads;
        output.summary.two_generals = once.two_generals;
    }
    Ok(output)
}

fn head_seed(facts: &RunFacts, r: u32) -> u64 {
    replications::seed_of(facts.seed, r)
}

/// One replication from its units (spec order): spec 0's unit with every later unit's
/// reports, levels and cluster figures added; the per-link facts each unit regenerated
/// checked to agree with spec 0's and taken once.
fn join(r: u32, parts: Vec<(PathBuf, ReplicationState)>, seed: u64) -> Result<Replication, MergeError> {
    let mut parts = parts.into_iter();
    let inconsistent = |dir: &Path, message: String| MergeError::Inconsistent { dir: dir.to_path_buf(), message };
    // Cannot fail: an experiment has at least one detector spec.
    let (first_dir, mut whole) = parts.next().expect("one spec");
    for (dir, part) in parts {
        let same_links = whole.monitors.len() == part.monitors.len()
            && whole.monitors.iter().zip(&part.monitors).all(|(a, b)| {
                a.monitor == b.monitor
                    && a.deliveries == b.deliveries
                    && a.delay == b.delay
                    && a.links.len() == b.links.len()
                    && a.links
                        .iter()
                        .zip(&b.links)
                        .all(|(x, y)| (x.target, x.delivered, x.counts) == (y.target, y.delivered, y.counts))
            });
        if !same_links || part.faults != whole.faults || part.seed != whole.seed {
            return Err(inconsistent(
                &dir,
                format!(
                    "replication {r}: its links' arrivals differ from those of {} (a different build, or an edited file)",
                    first_dir.display()
                ),
            ));
        }
        for (into, from) in whole.monitors.iter_mut().zip(part.monitors) {
            for (link, extra) in into.links.iter_mut().zip(from.links) {
                link.reports.extend(extra.reports);
            }
            into.levels.extend(from.levels);
        }
        whole.cluster.extend(part.cluster);
        // The longest episode of any configuration, the earliest at a tie (as a whole run
        // chooses).
        if let Some(l) = part.leaders
            && whole.leaders.as_ref().is_none_or(|w| l.episode_length() > w.episode_length())
        {
            whole.leaders = Some(l);
        }
    }
    if whole.seed != seed {
        return Err(inconsistent(&first_dir, format!("replication {r} ran under seed {}, not {seed}", whole.seed)));
    }
    whole.restore().map_err(|message| inconsistent(&first_dir, format!("replication {r}: {message}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_configurations_only_with_more_shards_than_spec_units_and_a_sweep_to_split() {
        // (shards, replications, specs, configurations)
        assert!(!by_configuration(5, 1, 5, 7), "as many shards as specs: whole specs");
        assert!(by_configuration(6, 1, 5, 7));
        assert!(!by_configuration(6, 2, 5, 7), "10 (replication, spec) units for 6 shards");
        assert!(by_configuration(11, 2, 5, 7));
        assert!(!by_configuration(100, 1, 5, 5), "no sweep to split");
        assert!(by_configuration(2, 1, 1, 16), "one sweep over two machines");
    }

    #[test]
    fn shard_specs_parse_and_refuse() {
        assert_eq!("2/7".parse::<ShardSpec>(), Ok(ShardSpec { index: 2, count: 7 }));
        for bad in ["7/7", "1/0", "x/2", "3", "-1/2", ""] {
            assert!(bad.parse::<ShardSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_shard_spec_prints_as_it_is_written() {
        for text in ["0/1", "2/7", "999/1000"] {
            let spec: ShardSpec = text.parse().unwrap();
            assert_eq!(spec.to_string(), text);
        }
    }

    /// The plan the command line reports is the one `run_shard` runs: 2 specs with 5
    /// configurations (φ sweeps 4 thresholds).
    #[test]
    fn a_plan_counts_specs_or_configurations_as_the_shards_run_them() {
        let text = "name = \"p\"\nseed = 1\nduration = \"1m\"\ndetectors = [\"phi:threshold=1..4..1\", \"fixed:timeout=1s\"]\n\
                    [[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n";
        let e = crate::experiment::Experiment::from_toml(Path::new("p.toml"), text).expect("valid");
        let plan = |replications, index, count| plan(&e, replications, ShardSpec { index, count });
        let of =
            |by_configuration, total, units: &[(u32, usize)]| Plan { by_configuration, total, units: units.to_vec() };
        assert_eq!(plan(1, 1, 2), of(false, 2, &[(0, 1)]));
        assert_eq!(plan(0, 0, 1), of(false, 2, &[(0, 0), (0, 1)]), "no replications count as one");
        assert_eq!(plan(2, 2, 3), of(false, 4, &[(1, 0)]));
        // More shards than (replication, spec) units: each configuration is a unit.
        assert_eq!(plan(1, 3, 4), of(true, 5, &[(0, 3)]));
        assert_eq!(plan(1, 0, 3), of(true, 5, &[(0, 0), (0, 3)]));
        assert_eq!(plan(2, 4, 5), of(true, 10, &[(0, 4), (1, 4)]));
        // What each takes: its replications and the configurations of its units.
        let runs = |p: Plan| {
            let est = p.estimate(&e);
            (est.replications, est.configuration_runs, est.work() / est.deliveries)
        };
        assert_eq!(runs(plan(1, 0, 1)), (1, 5, 5));
        assert_eq!(runs(plan(2, 2, 3)), (1, 4, 4), "spec 0, the sweep of 4");
        assert_eq!(runs(plan(3, 0, 2)), (3, 12, 12), "units (0, 0), (1, 0), (2, 0): the sweep of 4, 3 times");
        assert_eq!(runs(plan(2, 4, 5)), (2, 2, 2));
        assert_eq!(runs(plan(1, 2, 7)), (1, 1, 1), "configuration 2");
        assert_eq!(runs(plan(1, 6, 7)), (1, 0, 1), "no unit: nothing run (work counts one)");
        assert_eq!(crate::sim::estimate(&e, 3).configuration_runs, 15);
        assert_eq!(crate::sim::estimate(&e, 0).configuration_runs, 5, "no replications count as one");
    }

    /// A two-node minute with a φ sweep of 4 and a fixed timeout (spec points [4, 1]) and a
    /// sender pause, so that its units have faults to compare.
    fn small() -> ValidExperiment {
        let text = "name = \"s\"\nseed = 3\nduration = \"1m\"\n\
                    detectors = [\"phi:threshold=1..4..1\", \"fixed:timeout=1s\"]\n\
                    [[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n\
                    [[faults]]\nkind = \"pause\"\nnode = \"b\"\nwhat = \"sender\"\nat = \"20s\"\nduration = \"3s\"\n";
        crate::experiment::Experiment::from_toml(Path::new("s.toml"), text).expect("valid")
    }

    fn shard_of(e: &ValidExperiment, options: &RunOptions, index: usize, count: usize) -> ShardFile {
        run_shard(e, options, ShardSpec { index, count }, &|_| {}).expect("runs")
    }

    /// A timeline of an episode `[from, to)` seconds seen under `detector`.
    fn episode(detector: &str, from: u64, to: u64) -> crate::analysis::cluster::timeline::LeaderTimeline {
        crate::analysis::cluster::timeline::LeaderTimeline {
            detector: detector.into(),
            rule: "lease".into(),
            from_s: 0.0,
            to_s: 60.0,
            episode_s: [from as f64, to as f64],
            episode_ns: [from * 1_000_000_000, to * 1_000_000_000],
            nodes: Vec::new(),
            cluster_nodes: 2,
            spans: Vec::new(),
            split_s: Vec::new(),
        }
    }

    /// The join of one replication's units: the per-link facts every unit regenerates must
    /// agree with spec 0's, each of them checked on its own; the leader timeline kept is the
    /// longest episode's, the first (spec order) at a tie, as a whole run keeps it.
    #[test]
    fn a_join_refuses_units_whose_arrivals_differ_and_keeps_the_first_longest_episode() {
        let e = small();
        let file = shard_of(&e, &RunOptions::default(), 0, 1);
        let states: Vec<ReplicationState> = file.units.into_iter().map(|u| u.state).collect();
        assert_eq!(states.len(), 2, "one replication of two specs");
        assert!(!states[0].faults.is_empty() && !states[0].monitors[0].links.is_empty());
        let seed = states[0].seed;
        let join_of = |parts: Vec<ReplicationState>| {
            join(0, parts.into_iter().enumerate().map(|(s, p)| (PathBuf::from(format!("u{s}")), p)).collect(), seed)
        };
        let joined = join_of(states.clone()).expect("the units of one run join");
        assert_eq!(joined.monitors[0].1.links[0].outcome.reports.len(), 5, "4 φ thresholds and the timeout");
        type Edit = Box<dyn Fn(&mut ReplicationState)>;
        let edits: Vec<(&str, Edit)> = vec![
            ("monitors", Box::new(|s| s.monitors.push(s.monitors[0].clone()))),
            ("monitor id", Box::new(|s| s.monitors[0].monitor += 1)),
            ("deliveries", Box::new(|s| s.monitors[0].deliveries += 1)),
            ("delay histogram", Box::new(|s| s.monitors[0].delay.first += 1)),
            ("links", Box::new(|s| s.monitors[0].links.clear())),
            ("link target", Box::new(|s| s.monitors[0].links[0].target += 1)),
            ("link delivered", Box::new(|s| s.monitors[0].links[0].delivered += 1)),
            ("link counts", Box::new(|s| s.monitors[0].links[0].counts = Some([9, 9, 9, 9]))),
            ("faults", Box::new(|s| s.faults[0].from_s += 1.0)),
            ("seed", Box::new(|s| s.seed += 1)),
        ];
        for (what, edit) in &edits {
            let mut parts = states.clone();
            edit(&mut parts[1]);
            let message = join_of(parts).err().unwrap_or_else(|| panic!("joined with another {what}")).to_string();
            assert!(
                message.starts_with("u1: replication 0: its links' arrivals differ from those of u0"),
                "{what}: {message}"
            );
        }
        // Spec 0's seed is checked against the run's.
        let mut parts = states.clone();
        parts[0].seed += 1;
        parts[1].seed += 1;
        let message = join_of(parts).err().expect("another seed").to_string();
        assert!(message.contains(&format!("ran under seed {}, not {seed}", seed + 1)), "{message}");
        // The leader timeline: the longest, the first at a tie.
        let leaders = |a: Option<(u64, u64)>, b: Option<(u64, u64)>| {
            let mut parts = states.clone();
            parts[0].leaders = a.map(|(f, t)| episode("first", f, t));
            parts[1].leaders = b.map(|(f, t)| episode("second", f, t));
            join_of(parts).expect("joins").leaders.map(|l| l.detector)
        };
        assert_eq!(leaders(Some((10, 15)), Some((30, 35))).as_deref(), Some("first"), "a tie");
        assert_eq!(leaders(Some((10, 15)), Some((30, 36))).as_deref(), Some("second"), "longer");
        assert_eq!(leaders(Some((10, 16)), Some((30, 35))).as_deref(), Some("first"), "shorter");
        assert_eq!(leaders(None, Some((30, 35))).as_deref(), Some("second"));
        assert_eq!(leaders(Some((10, 15)), None).as_deref(), Some("first"));
        assert_eq!(leaders(None, None), None);
    }

    /// A merge regroups the stored configurations by the specs' point counts and refuses
    /// counts that leave a configuration over or a spec short. (Counts edited alike in every
    /// shard that add up, such as [1, 4] for [4, 1], regroup without notice: the stored
    /// experiment lists configurations, not specs; a shard edited alone is refused by its
    /// header, below.)
    #[test]
    fn a_merge_refuses_spec_points_that_do_not_match_the_experiment() {
        let e = small();
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<ShardFile> = (0..2).map(|i| shard_of(&e, &RunOptions::default(), i, 2)).collect();
        let write = |name: &str, points: &[usize]| -> Vec<PathBuf> {
            files
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let mut json: serde_json::Value = serde_json::from_slice(&f.to_json()).unwrap();
                    json["spec_points"] = points.into();
                    let d = dir.path().join(format!("{name}-{i}"));
                    std::fs::create_dir_all(&d).unwrap();
                    std::fs::write(d.join(SHARD_FILE), serde_json::to_vec(&json).unwrap()).unwrap();
                    d
                })
                .collect()
        };
        let merged = merge(&write("right", &[4, 1])).expect("the shards as written merge");
        assert_eq!(merged.summary.totals.len(), 5);
        for points in [[3, 1], [4, 2]] {
            let message = merge(&write(&format!("{points:?}"), &points)).err().expect("refused").to_string();
            assert!(message.ends_with("its detector specs do not match its experiment"), "{points:?}: {message}");
        }
        let mut one = write("one", &[4, 1]);
        one[1] = write("other", &[1, 4]).swap_remove(1);
        let message = merge(&one).err().expect("refused").to_string();
        assert!(message.contains("its configurations per spec is [1, 4], while"), "{message}");
    }

    /// Without `allow_large` a shard's size is checked first (here: a year of 1 ns
    /// heartbeats, which also asks for too many replications); with it, the next check
    /// speaks.
    #[test]
    fn a_shard_too_large_is_refused_before_anything_else() {
        let text = "name = \"y\"\nseed = 1\nduration = \"365d\"\ndetectors = [\"fixed:timeout=1s\"]\n\
                    [defaults]\ninterval = \"1ns\"\n[[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n";
        let e = crate::experiment::Experiment::from_toml(Path::new("y.toml"), text).expect("valid");
        let options = RunOptions { replications: replications::MAX_REPLICATIONS + 1, ..RunOptions::default() };
        let refused = |options: &RunOptions| run_shard(&e, options, ShardSpec { index: 0, count: 2 }, &|_| {}).err();
        assert!(matches!(refused(&options), Some(SimError::TooLarge(_))), "{:?}", refused(&options));
        let allowed = RunOptions { allow_large: true, ..options };
        assert!(matches!(refused(&allowed), Some(SimError::Replications(_))), "{:?}", refused(&allowed));
    }

    #[test]
    fn units_cover_every_unit_once() {
        for (reps, specs) in [(1, 3), (4, 5), (3, 1)] {
            for count in 1..12 {
                let mut all: Vec<(u32, usize)> =
                    (0..count).flat_map(|index| units(ShardSpec { index, count }, reps, specs)).collect();
                all.sort();
                let expected: Vec<(u32, usize)> = (0..reps).flat_map(|r| (0..specs).map(move |s| (r, s))).collect();
                assert_eq!(all, expected, "{reps} × {specs} in {count}");
            }
        }
    }
}
