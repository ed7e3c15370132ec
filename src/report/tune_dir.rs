//! Writing a `tune` results directory: `crate::tune` computes, this writes, through the same
//! [`ResultsWriter`] and protections as every results directory (checked before the search,
//! staged beside its place, listed in its manifest, swapped in whole; never over a user's
//! file, never over the input).
//!
//! The directory holds `tune.json` (the typed [`TuneFile`]: every configuration tested, the
//! choices, the exports and their re-checks), one file per exported system (`akka-cluster.conf`,
//! `cassandra.yaml`, `hazelcast-*.properties`) and `charts/tradeoff.{png,svg}`: each family's
//! frontier with the recommendation ringed (drawn from `tune.json` alone).

use std::path::{Path, PathBuf};

use super::charts::{ChartError, save, tradeoff};
use super::{OutputError, ResultsWriter};
use crate::tune::{Input, TuneConfig, TuneError, TuneFile, tune};

#[derive(Debug, thiserror::Error)]
pub enum TuneDirError {
    #[error(transparent)]
    Tune(#[from] TuneError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(transparent)]
    Chart(#[from] ChartError),
}

/// `fdlab tune`: searches, then writes `out` as a whole. Every check that can be made first
/// is (that `out` may be replaced, its parent written, and that it does not hold the
/// input); on any error nothing is written.
pub fn tune_to_dir(config: &TuneConfig, out: &Path) -> Result<TuneFile, TuneDirError> {
    match &config.input {
        Input::Trace(p) => super::check_outside(p, out, "the input trace")?,
        // An experiment that does not load is tune's error to report, below.
        Input::Experiment(p) => match crate::experiment::Experiment::load(p) {
            Ok(e) => super::check_experiment_outside(p, &e, out)?,
            Err(_) => super::check_outside(p, out, "the experiment file")?,
        },
    }
    let writer = ResultsWriter::begin(out)?;
    let file = tune(config)?;
    writer.add(Path::new("tune.json"), file.to_json().as_bytes())?;
    for e in &file.exports {
        writer.add(&PathBuf::from(&e.file), e.text.as_bytes())?;
    }
    let chart = tradeoff::from_tune(&file);
    if !chart.families.is_empty() {
        save(&chart, &writer.dir().join("charts"), "tradeoff")?;
    }
    writer.commit()?;
    Ok(file)
}
