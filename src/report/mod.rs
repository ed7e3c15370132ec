//! Outputs: `summary.json`, the readable table, and safe file writing.
//!
//! Data first, pictures second (DESIGN.md §2 point 6): every run writes its numbers here;
//! charts are drawn from those files. Every results directory, whatever the engine, is
//! written through [`ResultsWriter`] (`results_dir`): checked before the run, staged beside
//! its place, listed in its manifest and swapped in whole; fdlab replaces only what its
//! manifest proves it wrote. Staging paths (`staging`) are registered, so that the binary's
//! signal handler removes them, and recognisable, so that the next run removes what a killed
//! one left.

pub mod charts;
pub mod hgrm;
pub mod html;
pub mod index;
#[cfg(unix)]
pub mod live_dir;
pub mod replay_dir;
pub mod results_dir;
pub mod staging;
pub mod summary;
pub mod tune_dir;

use std::path::{Path, PathBuf};

use crate::analysis::output::{LEVELS_HEADER, RunOutput};
pub use results_dir::{
    MANIFEST, NewFile, OutputError, ResultsWriter, check_experiment_outside, check_outside, check_owned,
    check_replaceable, record_written, write_atomic,
};

/// Whether `path` as written ends in a `.` component (`dir/.`, `dir/./`): Rust's path
/// methods drop it (`file_name` is `dir`), but the system reads it as the directory itself,
/// which cannot be renamed or replaced.
pub fn ends_in_current_dir(path: &Path) -> bool {
    let bytes = path.as_os_str().as_encoded_bytes();
    let end = bytes.iter().rposition(|&b| b != b'/').map_or(0, |i| i + 1);
    let trimmed = &bytes[..end];
    trimmed == b"." || trimmed.ends_with(b"/.")
}

/// The directory `path` is in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// Writes a results directory all at once (see [`ResultsWriter`]): `files`, then whatever
/// `more` writes into the staging directory it is given (files too large to hold in memory,
/// streamed). A failure half-way leaves `out` as it was; `out` must pass [`check_replaceable`].
pub fn write_dir_atomic_with(
    out: &Path,
    files: &[(PathBuf, Vec<u8>)],
    more: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<(), OutputError> {
    let writer = ResultsWriter::begin(out)?;
    for (name, bytes) in files {
        writer.add(name, bytes)?;
    }
    more(writer.dir()).map_err(|source| OutputError::Io { action: "writing in", path: out.to_path_buf(), source })?;
    writer.commit()
}

/// [`write_dir_atomic_with`] for files held in memory.
pub fn write_dir_atomic(out: &Path, files: &[(PathBuf, Vec<u8>)]) -> Result<(), OutputError> {
    write_dir_atomic_with(out, files, |_| Ok(()))
}

/// Writes a run's results directory, whatever the engine (see [`outputs`]), through
/// `writer` (begun before the run, so that a directory that may not be replaced fails
/// first), with `trace.csv` streamed from the run's spill files when the trace was recorded;
/// `progress` is told how many of its rows were written as it goes. What the engine
/// streamed into the staging directory itself (a replay's levels) is committed with it.
pub fn write_results(writer: ResultsWriter, output: &RunOutput, progress: &dyn Fn(u64)) -> Result<(), OutputError> {
    for (name, bytes) in outputs(output) {
        writer.add(&name, &bytes)?;
    }
    if let Some(trace) = &output.trace {
        let file = writer.create(Path::new("trace.csv"))?;
        trace
            .write_csv(std::io::BufWriter::with_capacity(1 << 20, file), progress)
            .map_err(|source| OutputError::Io { action: "writing", path: writer.out().join("trace.csv"), source })?;
    }
    writer.commit()
}

/// A file name for a detector label: `phi:threshold=8` → `phi_threshold=8`.
pub fn file_stem(label: &str) -> String {
    label.chars().map(|c| if c.is_ascii_alphanumeric() || "-._=".contains(c) { c } else { '_' }).collect()
}

/// The percentile files per detector configuration, all links together (a simulation's and
/// a replay's): `detection-time/<stem>.hgrm` and `mistake-duration/<stem>.hgrm`.
pub fn distribution_files(summary: &summary::SummaryFile) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for t in &summary.totals {
        let stem = file_stem(&t.detector);
        files.push((
            format!("detection-time/{stem}.hgrm").into(),
            hgrm::percentile_distribution(&t.detection_histogram.to_histogram()).into_bytes(),
        ));
        files.push((
            format!("mistake-duration/{stem}.hgrm").into(),
            hgrm::percentile_distribution(&t.mistake_histogram.to_histogram()).into_bytes(),
        ));
    }
    files
}

/// The files of a results directory held in memory: `summary.json`, `mistakes.csv`, the
/// `.hgrm` percentile files of one-way delay and inter-arrival time (where the engine knew
/// them) and per detector configuration of detection time and mistake duration (all links
/// together), per message workload of delivery latency (`workload-latency/<name>.hgrm`),
/// and the fault timeline (`faults.json`, `timeline/levels.csv`,
/// `timeline/arrivals.csv`) where the engine sampled one. `trace.csv` is streamed by
/// [`write_results`].
pub fn outputs(output: &RunOutput) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = vec![
        (PathBuf::from("summary.json"), output.summary.to_json().into_bytes()),
        (PathBuf::from("mistakes.csv"), output.summary.mistakes_csv().into_bytes()),
    ];
    for (name, histogram) in [("delay.hgrm", &output.delay), ("interarrival.hgrm", &output.interarrival)] {
        if let Some(h) = histogram {
            files.push((PathBuf::from(name), hgrm::percentile_distribution(h).into_bytes()));
        }
    }
    files.extend(distribution_files(&output.summary));
    // A workload's name is made of file-safe characters (validated).
    for (name, latency) in &output.workload_latency {
        files.push((
            format!("workload-latency/{name}.hgrm").into(),
            hgrm::percentile_distribution(latency).into_bytes(),
        ));
    }
    if let Some(timeline) = &output.timeline {
        // Cannot fail: plain data.
        let faults = serde_json::to_string_pretty(&timeline.faults).expect("faults serialize") + "\n";
        files.push((PathBuf::from("faults.json"), faults.into_bytes()));
        let mut levels = LEVELS_HEADER.as_bytes().to_vec();
        for l in &timeline.levels {
            // Cannot fail: writing to memory.
            l.row().write(&mut levels).expect("writing to memory");
        }
        files.push((PathBuf::from("timeline/levels.csv"), levels));
        let mut arrivals = String::from("fault,time_ns\n");
        for (w, at) in &timeline.arrivals {
            arrivals.push_str(&format!("{w},{}\n", at.0));
        }
        files.push((PathBuf::from("timeline/arrivals.csv"), arrivals.into_bytes()));
    }
    if let Some(leaders) = &output.leaders {
        // Cannot fail: plain data.
        let json = serde_json::to_string_pretty(leaders).expect("leaders serialize") + "\n";
        files.push((PathBuf::from("cluster/leaders.json"), json.into_bytes()));
    }
    files
}
