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

/// Runs `e` live (read from `path`; `base_dir` resolves its relative paths) and writes its
/// results directory `out` as a whole; `progress` is told the run's time as it goes.
pub fn live_to_dir(
    e: &ValidExperiment,
    path: &Path,
    base_dir: &Path,
    out: &Path,
    opts: &LiveOptions,
    interrupted: &AtomicBool,
    progress: &dyn Fn(crate::time::Nanos),
) -> Result<SummaryFile, LiveDirError> {
    live::check(e, path)?;
    let writer = ResultsWriter::begin(out)?;
    let run = live::run(e, path, base_dir, writer.dir(), opts, interrupted, progress)?;
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
