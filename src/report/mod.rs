//! Outputs: `summary.json`, the readable table, and safe file writing.
//!
//! Data first, pictures second (DESIGN.md §2 point 6): every run writes its numbers here;
//! charts are drawn from those files.

pub mod charts;
pub mod hgrm;
pub mod html;
pub mod summary;

use std::io::Write;
use std::path::Path;

/// The directory `path` is in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// Writes `path` all at once: to a temporary file in the same directory, then renamed over
/// it, so a reader (or a crash half-way) never sees a partial file.
pub fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = parent_dir(path);
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(contents)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// A file being written in place of `path`: it appears only when [`AtomicFile::commit`]
/// is called, and a dropped, uncommitted one leaves nothing behind.
pub struct AtomicFile {
    tmp: tempfile::NamedTempFile,
    writer: std::io::BufWriter<std::fs::File>,
    path: std::path::PathBuf,
}

impl AtomicFile {
    pub fn create(path: &Path) -> std::io::Result<AtomicFile> {
        let dir = parent_dir(path);
        std::fs::create_dir_all(dir)?;
        let tmp = tempfile::NamedTempFile::new_in(dir)?;
        let writer = std::io::BufWriter::with_capacity(1 << 20, tmp.reopen()?);
        Ok(AtomicFile { tmp, writer, path: path.to_path_buf() })
    }

    pub fn writer(&mut self) -> &mut dyn Write {
        &mut self.writer
    }

    pub fn commit(mut self) -> std::io::Result<()> {
        self.writer.flush()?;
        self.tmp.persist(&self.path).map_err(|e| e.error)?;
        Ok(())
    }
}

/// What fdlab writes in a results directory: these files at the top (`levels.csv` is the
/// README's `replay --levels` example), and subdirectories holding files with these
/// extensions.
const RESULT_FILES: &[&str] = &[
    "summary.json",
    "mistakes.csv",
    "delay.hgrm",
    "interarrival.hgrm",
    "faults.json",
    "trace.csv",
    "levels.csv",
    "report.html",
];
const RESULT_DIRS: &[(&str, &[&str])] = &[
    ("detection-time", &["hgrm"]),
    ("mistake-duration", &["hgrm"]),
    ("timeline", &["csv"]),
    ("charts", &["png", "svg"]),
];

/// Whether a new results directory may replace `out`: it does not exist, or it is a
/// directory holding only what fdlab writes there. Anything else (`--out .`, a directory
/// with a user's files) is an error naming what is in the way, so that a run never deletes
/// what it did not write. `fdlab run` asks before simulating, and again before replacing.
pub fn check_replaceable(out: &Path) -> std::io::Result<()> {
    let refuse = |what: String| {
        std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} {what}; refusing to replace it (choose another --out, or move it away)", out.display()),
        )
    };
    let meta = match std::fs::symlink_metadata(out) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        return Err(refuse("exists and is not a directory".into()));
    }
    for entry in std::fs::read_dir(out)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry.file_type()?;
        if kind.is_file() && RESULT_FILES.contains(&name.as_str()) {
            continue;
        }
        let Some((_, extensions)) = RESULT_DIRS.iter().find(|(dir, _)| *dir == name).filter(|_| kind.is_dir()) else {
            return Err(refuse(format!("holds `{name}`, which fdlab does not write")));
        };
        for inner in std::fs::read_dir(entry.path())? {
            let inner = inner?;
            let path = inner.path();
            let known = path.extension().and_then(|e| e.to_str()).is_some_and(|e| extensions.contains(&e));
            if !(inner.file_type()?.is_file() && known) {
                let inner = inner.file_name().to_string_lossy().into_owned();
                return Err(refuse(format!("holds `{name}/{inner}`, which fdlab does not write")));
            }
        }
    }
    Ok(())
}

/// Writes a results directory all at once: the files go to a temporary directory beside
/// `out`, which then replaces `out`. A failure half-way leaves `out` as it was. `out` must
/// pass [`check_replaceable`].
pub fn write_dir_atomic(out: &Path, files: &[(std::path::PathBuf, Vec<u8>)]) -> std::io::Result<()> {
    write_dir_atomic_with(out, files, |_| Ok(()))
}

/// As [`write_dir_atomic`], where `more` then writes further files into the temporary
/// directory it is given (those too large to hold in memory, streamed).
pub fn write_dir_atomic_with(
    out: &Path,
    files: &[(std::path::PathBuf, Vec<u8>)],
    more: impl FnOnce(&Path) -> std::io::Result<()>,
) -> std::io::Result<()> {
    check_replaceable(out)?;
    let parent = parent_dir(out);
    std::fs::create_dir_all(parent)?;
    let tmp = tempfile::Builder::new().prefix(".fdlab-").tempdir_in(parent)?;
    for (name, bytes) in files {
        let path = tmp.path().join(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, bytes)?;
    }
    more(tmp.path())?;
    if out.exists() {
        std::fs::remove_dir_all(out)?;
    }
    std::fs::rename(tmp.path(), out)?;
    // The directory was moved; nothing is left for the guard to delete.
    let _ = tmp.keep();
    Ok(())
}

/// Writes a simulation's results directory (see [`outputs`]), with `trace.csv` streamed
/// from the run's spill files when the trace was recorded; `progress` is told how many of
/// its rows were written as it goes.
pub fn write_run(out: &Path, output: &crate::sim::SimOutput, progress: &dyn Fn(u64)) -> std::io::Result<()> {
    write_dir_atomic_with(out, &outputs(output), |dir| match &output.trace {
        Some(trace) => {
            let file = std::fs::File::create(dir.join("trace.csv"))?;
            trace.write_csv(std::io::BufWriter::with_capacity(1 << 20, file), progress)
        }
        None => Ok(()),
    })
}

/// A file name for a detector label: `phi:threshold=8` → `phi_threshold=8`.
pub fn file_stem(label: &str) -> String {
    label.chars().map(|c| if c.is_ascii_alphanumeric() || "-._=".contains(c) { c } else { '_' }).collect()
}

/// The percentile files per detector configuration, all links together (a simulation's and
/// a replay's): `detection-time/<stem>.hgrm` and `mistake-duration/<stem>.hgrm`.
pub fn distribution_files(summary: &summary::SummaryFile) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for t in &summary.totals {
        let stem = file_stem(&t.detector);
        files.push((
            format!("detection-time/{stem}.hgrm").into(),
            hgrm::percentile_distribution(&t.detection_histogram).into_bytes(),
        ));
        files.push((
            format!("mistake-duration/{stem}.hgrm").into(),
            hgrm::percentile_distribution(&t.mistake_histogram).into_bytes(),
        ));
    }
    files
}

/// The files of a simulation's results directory: `summary.json`, `mistakes.csv`; `.hgrm` percentile files
/// for one-way delay, inter-arrival time, and per detector configuration detection time and
/// mistake duration (all links together). `trace.csv` is written by [`write_run`].
pub fn outputs(output: &crate::sim::SimOutput) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    use std::path::PathBuf;
    let mut files = vec![
        (PathBuf::from("summary.json"), output.summary.to_json().into_bytes()),
        (PathBuf::from("mistakes.csv"), output.summary.mistakes_csv().into_bytes()),
        (PathBuf::from("delay.hgrm"), hgrm::percentile_distribution(&output.delay).into_bytes()),
        (PathBuf::from("interarrival.hgrm"), hgrm::percentile_distribution(&output.interarrival).into_bytes()),
    ];
    files.extend(distribution_files(&output.summary));
    let faults = serde_json::to_string_pretty(&output.faults).expect("faults serialize") + "\n";
    files.push((PathBuf::from("faults.json"), faults.into_bytes()));
    let mut levels = String::from("fault,time_ns,detector,level,threshold,suspected\n");
    for l in &output.levels {
        levels.push_str(&format!(
            "{},{},{},{},{},{}\n",
            l.window,
            l.at.0,
            crate::trace::csv_field(&l.detector),
            l.level,
            l.threshold,
            l.suspected
        ));
    }
    files.push((PathBuf::from("timeline/levels.csv"), levels.into_bytes()));
    let mut arrivals = String::from("fault,time_ns\n");
    for (w, at) in &output.window_arrivals {
        arrivals.push_str(&format!("{w},{}\n", at.0));
    }
    files.push((PathBuf::from("timeline/arrivals.csv"), arrivals.into_bytes()));
    files
}
