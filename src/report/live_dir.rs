//! `fdlab live`: a live run's results directory, written through the same
//! [`ResultsWriter`] and protections as a simulation's. The nodes write their own files into
//! the directory being staged (`nodes/<id>/`: `trace.csv`, `transitions.csv`,
//! `timing-<incarnation>.json`, `stderr.log`), the engine adds the merged `trace.csv` and
//! `transitions.csv`, and this adds what every engine's results have plus the lateness
//! percentiles (`timing/*.hgrm`). A failed or interrupted run leaves nothing behind.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use super::{OutputError, ResultsWriter, hgrm, write_results};
use crate::analysis::results::SummaryFile;
use crate::experiment::ValidExperiment;
use crate::live::{self, LiveError, LiveOptions};

#[derive(Debug, thiserror::Error)]
pub enum LiveDirError {
    #[error(transparent)]
    Live(#[from] LiveError),
    #[error(transparent)]
    Output(#[from] OutputError),
}

/// What the caller is told as a live run goes: that it started (every check passed), then
/// how far it is, in time since its epoch.
pub struct Watch<'a> {
    pub started: &'a dyn Fn(),
    pub progress: &'a dyn Fn(crate::time::Nanos),
}

/// Runs `e` live (read from `path`; `base_dir` resolves its relative paths) and writes its
/// results directory `out` as a whole; `watch` is told when it starts and how far it is.
pub fn live_to_dir(
    e: &ValidExperiment,
    path: &Path,
    base_dir: &Path,
    out: &Path,
    opts: &LiveOptions,
    interrupted: &AtomicBool,
    watch: Watch<'_>,
) -> Result<SummaryFile, LiveDirError> {
    live::check(e, path)?;
    let writer = ResultsWriter::begin(out)?;
    // Every check that can refuse the run before it starts has passed.
    (watch.started)();
    let run = live::run(e, path, base_dir, writer.dir(), opts, interrupted, watch.progress)?;
    for (name, h) in [
        ("timing/send-lateness.hgrm", &run.send_lateness),
        ("timing/check-lateness.hgrm", &run.check_lateness),
        ("timing/relay-lateness.hgrm", &run.relay_lateness),
    ] {
        if !h.is_empty() {
            writer.add(Path::new(name), hgrm::percentile_distribution(h).as_bytes())?;
        }
    }
    write_results(writer, &run.output, &|_| {})?;
    Ok(run.output.summary)
}
