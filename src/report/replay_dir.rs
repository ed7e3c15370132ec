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
         configurations × {links} links); refusing more than {limit} unless --allow-large is given ({instead})"
    )]
    LevelsTooLarge {
        every: Nanos,
        size: String,
        samples: u64,
        configurations: u64,
        links: u64,
        limit: String,
        /// What would fit: a larger `--every`, or fewer configurations when no `--every` does.
        instead: String,
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
    /// The bytes of one sampling instant's rows, and of all of them (exact: a trace reaching
    /// 2^62 ns sampled every nanosecond is beyond `u64`).
    pub per_sample: u64,
    pub bytes: u128,
    /// The run's end, the last sampling instant.
    pub end: Nanos,
}

impl LevelsEstimate {
    /// The bytes of the levels sampled every `every` (> 0) over the same run.
    pub fn bytes_every(&self, every: Nanos) -> u128 {
        u128::from(self.end.0 / every.0.max(1) + 1) * u128::from(self.per_sample)
    }

    /// The least `--every` of 1, 2 or 5 × 10^k ns (or the longest duration fdlab accepts)
    /// from `every` up whose levels fit in `limit` bytes; `None` when one sample is larger.
    pub fn suggest_every(&self, every: Nanos, limit: u64) -> Option<Nanos> {
        let nice = (0..19u32).flat_map(|k| [1u64, 2, 5].map(|m| m * 10u64.pow(k)));
        nice.filter(|&e| e >= every.0 && e <= Nanos::LIMIT.0)
            .chain([Nanos::LIMIT.0.max(every.0)])
            .map(Nanos)
            .find(|&e| self.bytes_every(e) <= u128::from(limit))
    }
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
    // Per configuration: its label and its threshold as the rows write them.
    let labels: Vec<u64> = config
        .detectors
        .iter()
        .flat_map(DetectorSpec::points)
        .map(|p| (csv_field(&p.label).len() + p.threshold.to_string().len()) as u64)
        .collect();
    let n_links = links.len() as u64;
    // A row: the time's digits, the names, the label and threshold, a level (an f64 as Rust
    // prints it: 18 characters at most below 1000, `0.12345678901234568`), `false`, seven
    // commas and the line end.
    let digits = end.0.max(1).ilog10() as u64 + 1;
    let per_sample: u64 = labels.iter().map(|label| n_links * (digits + label + 18 + 5 + 8) + name_bytes).sum();
    let mut estimate = LevelsEstimate {
        samples: end.0 / every.0 + 1,
        configurations: labels.len() as u64,
        links: n_links,
        per_sample,
        bytes: 0,
        end,
    };
    estimate.bytes = estimate.bytes_every(every);
    Ok(estimate)
}

/// A byte count as people read it: `34.6 GB`, `812 kB`, `4.6e9 TB`.
fn human_bytes(bytes: u128) -> String {
    let units = [(1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")];
    let b = bytes as f64;
    match units.iter().find(|(scale, _)| b >= *scale) {
        Some((scale, unit)) if b / scale < 100.0 => format!("{:.1} {unit}", b / scale),
        Some((scale, unit)) if b / scale < 1e6 => format!("{:.0} {unit}", b / scale),
        Some((scale, unit)) => format!("{:.1e} {unit}", b / scale),
        None => format!("{bytes} bytes"),
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
                human_bytes(2 * u128::from(LEVELS_LIMIT_BYTES))
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
        // An --end fdlab refuses anyway is refused first: a suggestion must work as given.
        if let Some(end) = config.end.filter(|end| end.0 > crate::trace::MAX_TIME_NS) {
            return Err(ReplayError::EndTooLate { end }.into());
        }
        let estimate = estimate_levels(config, l.every)?;
        if estimate.bytes > u128::from(LEVELS_LIMIT_BYTES) {
            // A quarter of the limit if it can (room for links the first rows did not show),
            // else the limit itself.
            let fits = estimate.suggest_every(l.every, LEVELS_LIMIT_BYTES / 4);
            let instead = match fits.or_else(|| estimate.suggest_every(l.every, LEVELS_LIMIT_BYTES)) {
                Some(e) => {
                    format!("or sample less often: --every {e} gives about {}", human_bytes(estimate.bytes_every(e)))
                }
                None => "even one sample of every link and configuration is larger: replay fewer configurations".into(),
            };
            return Err(ReplayDirError::LevelsTooLarge {
                every: l.every,
                size: human_bytes(estimate.bytes),
                samples: estimate.samples,
                configurations: estimate.configurations,
                links: estimate.links,
                limit: human_bytes(u128::from(LEVELS_LIMIT_BYTES)),
                instead,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn estimate(end: u64, per_sample: u64) -> LevelsEstimate {
        LevelsEstimate { samples: 0, configurations: 1, links: 1, per_sample, bytes: 0, end: Nanos(end) }
    }

    #[test]
    fn the_suggested_every_is_the_least_nice_one_that_fits() {
        // 1000 s, 100 bytes a sample: every 1 ms is 100,000,100 bytes; 10 MB fit every 10 ms.
        let e = estimate(1_000_000_000_000, 100);
        assert_eq!(e.bytes_every(Nanos::from_millis(1)), 100_000_100);
        assert_eq!(e.bytes_every(Nanos::from_millis(10)), 10_000_100);
        assert_eq!(e.suggest_every(Nanos(1), 10_000_100), Some(Nanos::from_millis(10)));
        assert_eq!(e.suggest_every(Nanos(1), 10_000_099), Some(Nanos::from_millis(20)));
        assert_eq!(e.suggest_every(Nanos(1), 20_000_100), Some(Nanos::from_millis(5)));
        // Never below the --every given.
        assert_eq!(e.suggest_every(Nanos::from_millis(30), 10_000_100), Some(Nanos::from_millis(50)));
        // The run's end at 2^62 ns: 1 ns is beyond u64, and the suggestion is a duration fdlab
        // accepts, up to 2^62 ns itself (two samples: 0 and the end).
        let far = estimate(Nanos::LIMIT.0, 100);
        assert_eq!(far.bytes_every(Nanos(1)), (u128::from(Nanos::LIMIT.0) + 1) * 100);
        assert_eq!(far.suggest_every(Nanos(1), 200), Some(Nanos::LIMIT));
        assert_eq!(far.suggest_every(Nanos(1), 199), None);
        assert_eq!(far.suggest_every(Nanos(1), 400), Some(Nanos(2_000_000_000_000_000_000)));
    }

    #[test]
    fn byte_counts_read_as_people_read_them() {
        assert_eq!(human_bytes(999), "999 bytes");
        assert_eq!(human_bytes(1000), "1.0 kB");
        assert_eq!(human_bytes(34_600_000_000), "34.6 GB");
        assert_eq!(human_bytes(812_000), "812 kB");
        assert_eq!(human_bytes(u128::from(u64::MAX) * 100), "1.8e9 TB");
    }
}
