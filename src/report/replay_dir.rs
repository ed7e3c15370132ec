//! Writing a replay's results directory: the replay engine ([`crate::replay`]) computes,
//! this writes, through the same [`ResultsWriter`] and protections as a simulation's, and
//! decides where sampled levels go and whether they are too large to write.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{NewFile, OutputError, ResultsWriter};
use crate::analysis::results::SummaryFile;
use crate::detector::DetectorSpec;
use crate::replay::{LevelSampler, ReplayConfig, ReplayError, replay};
use crate::time::Nanos;
use crate::trace::csv_field;

/// Why a replay's results directory was not written.
#[derive(Debug, thiserror::Error)]
pub enum ReplayDirError {
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("--every must be greater than zero")]
    ZeroEvery,
    #[error(
        "--every {every}: the sampled levels would be about {size} ({samples} samples × {configurations} detector \
         configurations × {links} links); refusing more than {limit} unless --allow-large is given (or sample less \
         often: --every {suggested} gives about {suggested_size})"
    )]
    LevelsTooLarge {
        every: Nanos,
        size: String,
        samples: u64,
        configurations: u64,
        links: u64,
        limit: String,
        suggested: Nanos,
        suggested_size: String,
    },
}

/// Sampled levels estimated above this many bytes are refused unless allowed
/// ([`LevelsOutput::allow_large`], `--allow-large`).
pub const LEVELS_LIMIT_BYTES: u64 = 2_000_000_000;

/// Rows read from a trace's start to learn its links for the estimate: every link of a
/// real trace has spoken long before (a heartbeat interval of each, a few rows per link).
const ESTIMATE_ROWS: usize = 200_000;

/// Sampled levels to write with a replay's results (`--every`, `--levels`, `--allow-large`).
#[derive(Clone, Debug)]
pub struct LevelsOutput {
    pub every: Nanos,
    /// Where: `None` for `levels.csv` in the results directory; a path inside the results
    /// directory is written there, with the rest; a path elsewhere must not exist (fdlab
    /// never replaces a file outside its results directories), nor be the trace.
    pub path: Option<PathBuf>,
    /// Write them even when estimated above [`LEVELS_LIMIT_BYTES`].
    pub allow_large: bool,
}

/// How large sampled levels will be, estimated before a replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LevelsEstimate {
    /// Sampling instants, from 0 to the run's end.
    pub samples: u64,
    pub configurations: u64,
    /// Links (monitor, target) seen in the trace's first rows.
    pub links: u64,
    pub bytes: u64,
}

/// Estimates the sampled levels of a replay of `config` every `every`: a row per sampling
/// instant, detector configuration and link, from 0 to the end (the trace's last row, read
/// from the file's end, or `--end`), for the links in the first rows.
pub fn estimate_levels(config: &ReplayConfig, every: Nanos) -> Result<LevelsEstimate, ReplayDirError> {
    if every == Nanos::ZERO {
        return Err(ReplayDirError::ZeroEvery);
    }
    let mut reader = config.open_trace().map_err(ReplayError::from)?;
    let mut end = reader.last_received().unwrap_or(Nanos::ZERO).max(config.end.unwrap_or(Nanos::ZERO));
    let mut links = BTreeSet::new();
    let mut name_bytes = 0u64;
    for _ in 0..ESTIMATE_ROWS {
        // A bad row is the replay's to report, naming its line.
        let Ok(Some(row)) = reader.next_row() else { break };
        end = end.max(row.arrival.at);
        if links.insert((row.monitor, row.target)) {
            name_bytes += (csv_field(reader.name(row.monitor)).len() + csv_field(reader.name(row.target)).len()) as u64;
        }
    }
    let labels: Vec<u64> =
        config.detectors.iter().flat_map(DetectorSpec::points).map(|p| csv_field(&p.label).len() as u64).collect();
    let samples = end.0 / every.0 + 1;
    let n_links = links.len() as u64;
    // A row: the time's digits, the names, the label, a level (about a dozen characters),
    // `false` and the separators.
    let digits = end.0.max(1).ilog10() as u64 + 1;
    let per_sample: u64 = labels.iter().map(|label| n_links * (digits + label + 20) + name_bytes).sum();
    Ok(LevelsEstimate {
        samples,
        configurations: labels.len() as u64,
        links: n_links,
        bytes: samples.saturating_mul(per_sample),
    })
}

/// A byte count as people read it: `34.6 GB`, `812 kB`.
fn human_bytes(bytes: u64) -> String {
    let units = [(1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")];
    let b = bytes as f64;
    match units.iter().find(|(scale, _)| b >= *scale) {
        Some((scale, unit)) if b / scale < 100.0 => format!("{:.1} {unit}", b / scale),
        Some((scale, unit)) => format!("{:.0} {unit}", b / scale),
        None => format!("{bytes} bytes"),
    }
}

/// The smallest of 1, 2, 5 × 10^k ns at least `n` ns.
fn round_up_nicely(n: f64) -> Nanos {
    let mut scale = 1u64;
    loop {
        for m in [1, 2, 5] {
            let candidate = scale.saturating_mul(m);
            if candidate as f64 >= n || candidate == u64::MAX {
                return Nanos(candidate);
            }
        }
        scale = scale.saturating_mul(10);
    }
}

/// A writer that fails once more than `left` bytes were written: the bound behind the
/// estimate, for traces whose links were not all in their first rows.
struct Capped<'a> {
    inner: &'a mut dyn Write,
    left: u64,
}

impl Write for Capped<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() as u64 > self.left {
            return Err(std::io::Error::other(format!(
                "the sampled levels passed {}, twice the limit, though estimated below it before the replay (links \
                 that first speak late in the trace); pass --allow-large to write them anyway",
                human_bytes(2 * LEVELS_LIMIT_BYTES)
            )));
        }
        self.left -= buf.len() as u64;
        self.inner.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Names of the files and directories a replay writes in its results directory itself (or
/// that later `fdlab plot` does): `--levels` may not take them.
const REPLAY_NAMES: &[&str] = &[
    "summary.json",
    "mistakes.csv",
    "delay.hgrm",
    "interarrival.hgrm",
    "detection-time",
    "mistake-duration",
    "faults.json",
    "timeline",
    "charts",
    "report.html",
    crate::report::MANIFEST,
];

/// Where sampled levels go.
enum LevelsPlace {
    /// A path inside the results directory.
    Inside(PathBuf),
    Outside(PathBuf),
}

fn levels_place(levels: &LevelsOutput, trace: &Path, out: &Path) -> Result<LevelsPlace, ReplayDirError> {
    use crate::report::results_dir::resolve;
    let bad = |path: &Path, reason: &str| {
        ReplayDirError::Output(OutputError::BadPath {
            flag: "--levels",
            path: path.to_path_buf(),
            reason: reason.into(),
        })
    };
    let Some(path) = &levels.path else { return Ok(LevelsPlace::Inside("levels.csv".into())) };
    let real = resolve(path);
    if real == resolve(trace) {
        return Err(bad(path, "is the input trace; fdlab never writes over its input"));
    }
    match real.strip_prefix(resolve(out)) {
        Ok(rel) if rel.as_os_str().is_empty() => Err(bad(path, "is the results directory itself")),
        Ok(rel) => {
            let first = rel.components().next().map(|c| c.as_os_str().to_string_lossy().into_owned());
            if first
                .as_deref()
                .is_some_and(|f| REPLAY_NAMES.contains(&f) || f.starts_with(crate::report::staging::PREFIX))
            {
                return Err(bad(path, "is where fdlab writes other results in the results directory"));
            }
            Ok(LevelsPlace::Inside(rel.to_path_buf()))
        }
        Err(_) => Ok(LevelsPlace::Outside(path.clone())),
    }
}

/// `fdlab replay`: replays `config` and writes its results directory `out` as a whole
/// (summary.json, mistakes.csv, the percentile files, the levels sampled around each
/// declared fault for the timeline chart, sampled levels if asked for) through
/// [`ResultsWriter`], with the same checks and protections as a simulation's. Every check
/// that can be made before the replay is (that `out` may be replaced and its parent written,
/// that it does not hold the trace, where the levels go and how large they will be); on any
/// error nothing is written.
pub fn replay_to_dir(
    config: &ReplayConfig,
    out: &Path,
    levels: Option<&LevelsOutput>,
) -> Result<SummaryFile, ReplayDirError> {
    if levels.is_some_and(|l| l.every == Nanos::ZERO) {
        return Err(ReplayDirError::ZeroEvery);
    }
    crate::report::check_outside(&config.trace, out, "the input trace")?;
    let place = levels.map(|l| levels_place(l, &config.trace, out)).transpose()?;
    let writer = ResultsWriter::begin(out)?;
    // The estimate reads the trace's start a second time: only a regular file can be read
    // twice (a pipe's rows would be lost to the replay). Other inputs rely on the cap below.
    let regular = std::fs::metadata(&config.trace).is_ok_and(|m| m.is_file());
    if let Some(l) = levels.filter(|l| !l.allow_large && regular) {
        let estimate = estimate_levels(config, l.every)?;
        if estimate.bytes > LEVELS_LIMIT_BYTES {
            let factor = estimate.bytes as f64 / (LEVELS_LIMIT_BYTES as f64 / 4.0);
            let suggested = round_up_nicely(l.every.0 as f64 * factor);
            let suggested_size = human_bytes(estimate.bytes / (suggested.0 / l.every.0).max(1));
            return Err(ReplayDirError::LevelsTooLarge {
                every: l.every,
                size: human_bytes(estimate.bytes),
                samples: estimate.samples,
                configurations: estimate.configurations,
                links: estimate.links,
                limit: human_bytes(LEVELS_LIMIT_BYTES),
                suggested,
                suggested_size,
            });
        }
    }
    let mut outside = match &place {
        Some(LevelsPlace::Outside(path)) => Some(NewFile::create(path, "--levels")?),
        _ => None,
    };
    let mut inside = match &place {
        Some(LevelsPlace::Inside(rel)) => Some(std::io::BufWriter::with_capacity(1 << 20, writer.create(rel)?)),
        _ => None,
    };
    let sink: Option<&mut dyn Write> = match (&mut outside, &mut inside) {
        (Some(f), _) => Some(f.writer()),
        (_, Some(w)) => Some(w),
        _ => None,
    };
    let output = {
        let mut capped = sink.map(|inner| Capped {
            inner,
            left: if levels.is_some_and(|l| l.allow_large) { u64::MAX } else { 2 * LEVELS_LIMIT_BYTES },
        });
        let sampler = match (&mut capped, levels) {
            (Some(c), Some(l)) => Some(LevelSampler::new(l.every, c)),
            _ => None,
        };
        replay(config, sampler)?
    };
    let mut output = output;
    output.timeline = crate::replay::timeline::replay_timeline(config, &output)?;
    if let Some(mut w) = inside {
        w.flush().map_err(ReplayError::Levels)?;
    }
    crate::report::write_results(writer, &output, &|_| {})?;
    if let Some(f) = outside {
        f.commit()?;
    }
    Ok(output.summary)
}
