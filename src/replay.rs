//! The replay engine: an arrival trace fed to any detectors (DESIGN.md §1).
//!
//! Streams the trace once. Each (monitor, target) pair is a link with its own
//! [`DetectorBank`]; ground truth comes from declared crashes (`--crash TARGET@TIME`).
//! Without a declared crash the target is alive throughout and every suspicion is a
//! mistake. The run ends at the last arrival in the trace.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::analysis::{DetectorBank, GroundTruth};
use crate::detector::DetectorSpec;
use crate::report::summary::{ResultEntry, SummaryFile};
use crate::time::{Nanos, parse_duration};
use crate::trace::{TraceError, TraceReader, csv_field};

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error("{path}: the trace has no `seq` column, which `{detector}` needs (it uses sequence numbers)")]
    NeedsSeq { path: PathBuf, detector: String },
    #[error("detector: {source}")]
    Spec { source: crate::detector::SpecError },
    #[error("{path}: no heartbeats in the trace")]
    Empty { path: PathBuf },
    #[error("--crash {target}@…: target `{target}` does not appear in {path}")]
    UnknownCrashTarget { path: PathBuf, target: String },
    #[error("writing levels: {0}")]
    Levels(std::io::Error),
}

/// A crash declared on the command line: `TARGET@TIME`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrashDecl {
    pub target: String,
    pub at: Nanos,
}

impl std::str::FromStr for CrashDecl {
    type Err = String;
    fn from_str(s: &str) -> Result<CrashDecl, String> {
        let (target, at) = s.rsplit_once('@').ok_or_else(|| format!("`{s}` is not TARGET@TIME, e.g. `node-b@90s`"))?;
        if target.is_empty() {
            return Err(format!("`{s}`: the target is empty"));
        }
        let at = parse_duration(at).map_err(|e| format!("`{s}`: {e}"))?;
        Ok(CrashDecl { target: target.to_string(), at })
    }
}

/// What to replay.
#[derive(Clone, Debug)]
pub struct ReplayConfig {
    pub trace: PathBuf,
    pub detectors: Vec<DetectorSpec>,
    pub crashes: Vec<CrashDecl>,
    /// Where the run ends (default: the last arrival), e.g. a simulation's duration.
    pub end: Option<Nanos>,
}

/// Sampled levels for charts: `time_ns,[monitor,]target,detector,level,suspected` every
/// `every`, from 0 to the last arrival. The level at t reflects every heartbeat received at
/// or before t; a link has rows from its first heartbeat on (before it, every level is 0).
/// The `monitor` column is there when the trace has one.
pub struct LevelSampler<'a> {
    pub every: Nanos,
    pub out: &'a mut dyn Write,
}

struct Link {
    monitor: u32,
    target: u32,
    crash: Option<Nanos>,
    bank: DetectorBank,
}

/// Replays a trace through the detectors and returns the summary.
pub fn replay(config: &ReplayConfig, levels: Option<LevelSampler<'_>>) -> Result<SummaryFile, ReplayError> {
    let mut reader = TraceReader::open(&config.trace)?;
    replay_from(&mut reader, config, levels)
}

/// As [`replay`], from an open reader (tests feed text through it).
pub fn replay_from<R: std::io::Read>(
    reader: &mut TraceReader<R>,
    config: &ReplayConfig,
    mut levels: Option<LevelSampler<'_>>,
) -> Result<SummaryFile, ReplayError> {
    let path = reader.path().to_path_buf();
    for spec in &config.detectors {
        spec.require_complete().map_err(|source| ReplayError::Spec { source })?;
        if spec.needs_seq() && !reader.has_seq() {
            return Err(ReplayError::NeedsSeq { path, detector: spec.points()[0].label.clone() });
        }
    }
    let crash_at: BTreeMap<&str, Nanos> = config.crashes.iter().map(|c| (c.target.as_str(), c.at)).collect();
    let mut links: Vec<Link> = Vec::new();
    let mut index: BTreeMap<(u32, u32), usize> = BTreeMap::new();
    let mut last_key = (u32::MAX, u32::MAX, 0usize);
    let mut next_sample = Nanos::ZERO;
    let mut end = None;
    if let Some(l) = levels.as_mut() {
        let monitor = if reader.has_monitor() { "monitor," } else { "" };
        writeln!(l.out, "time_ns,{monitor}target,detector,level,suspected").map_err(ReplayError::Levels)?;
    }

    while let Some(row) = reader.next_row()? {
        let t = row.arrival.at;
        end = Some(t);
        if let Some(l) = levels.as_mut() {
            while next_sample < t {
                write_levels(l, next_sample, &links, reader)?;
                next_sample = next_sample.saturating_add(l.every);
            }
        }
        let link = if (last_key.0, last_key.1) == (row.monitor, row.target) {
            last_key.2
        } else {
            let i = *index.entry((row.monitor, row.target)).or_insert_with(|| {
                let crash = crash_at.get(reader.name(row.target)).copied();
                let truth = crash.map_or_else(GroundTruth::always_up, GroundTruth::crash_stop);
                links.push(Link {
                    monitor: row.monitor,
                    target: row.target,
                    crash,
                    bank: DetectorBank::new(&config.detectors, &truth),
                });
                links.len() - 1
            });
            last_key = (row.monitor, row.target, i);
            i
        };
        let link = &mut links[link];
        // A heartbeat sent after the declared crash cannot exist; one sent before it and
        // received after it was in flight and counts.
        if let (Some(crash), Some(sent)) = (link.crash, row.arrival.sent)
            && sent > crash
        {
            continue;
        }
        link.bank.on_arrival(&row.arrival);
    }
    let last = end.ok_or(ReplayError::Empty { path: path.clone() })?;
    let end = config.end.map_or(last, |e| e.max(last));
    if let Some(l) = levels.as_mut() {
        while next_sample <= end {
            write_levels(l, next_sample, &links, reader)?;
            match next_sample.checked_add(l.every) {
                Some(n) if l.every > Nanos::ZERO => next_sample = n,
                _ => break,
            }
        }
    }
    for c in &config.crashes {
        if reader.id_of(&c.target).is_none() {
            return Err(ReplayError::UnknownCrashTarget { path: path.clone(), target: c.target.clone() });
        }
    }

    let mut results = Vec::new();
    for link in links {
        let monitor = reader.has_monitor().then(|| reader.name(link.monitor).to_string());
        let target = reader.name(link.target).to_string();
        for (point, qos) in link.bank.finish(end) {
            results.push(ResultEntry {
                detector: point.label,
                kind: point.kind,
                threshold: point.threshold,
                monitor: monitor.clone(),
                target: target.clone(),
                qos,
            });
        }
    }
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    Ok(SummaryFile::new(format!("replay of {name}"), None, "replay", end, results))
}

fn write_levels<R: std::io::Read>(
    l: &mut LevelSampler<'_>,
    t: Nanos,
    links: &[Link],
    reader: &TraceReader<R>,
) -> Result<(), ReplayError> {
    for link in links {
        for (point, level, suspected) in link.bank.levels(t) {
            if reader.has_monitor() {
                write!(l.out, "{},{},", t.0, reader.name(link.monitor))
            } else {
                write!(l.out, "{},", t.0)
            }
            .and_then(|_| {
                writeln!(
                    l.out,
                    "{},{},{},{}",
                    csv_field(reader.name(link.target)),
                    csv_field(&point.label),
                    level,
                    suspected
                )
            })
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
