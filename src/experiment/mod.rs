//! Experiment files: what they may say, what they mean, and whether they make sense.
//!
//! - `schema`: the serde types of the TOML file ([`Experiment`] and its parts), field for
//!   field, each documented with its default.
//! - `resolve`: defaults applied, per node ([`Node`]) and per link ([`Link`]); who monitors
//!   whom ([`ValidExperiment::monitored_links`]).
//! - `validate`: [`Experiment::check`] → [`ValidExperiment`], the only kind the engines run;
//!   every error names its field (`faults[2].at`).
//! - `estimate`: what a run will take ([`Estimate`]) and whether it fits the machine.
//! - here: loading a file, its errors, and the [`ValidExperiment`] type every part uses.
//!
//! Syntax errors name the file, line and column (from the TOML parser); meaning errors name
//! the file and the field. `experiments/quickstart.toml` is the fully commented example.
//! Faults, delays and losses are declared with the types of [`crate::fault`], where their
//! models are: this module imports `fault`, never the reverse.

mod estimate;
mod resolve;
mod schema;
mod validate;

use std::path::{Path, PathBuf};

use crate::fault::Fault;

pub use estimate::{
    Estimate, MemoryLimit, WORK_LIMIT, lease_record_bytes, link_name_bytes, memory_limit, replay_memory,
};
pub use resolve::{Link, Node};
pub use schema::{
    AfterPause, ClusterSettings, DowningQuorum, EngineRules, Experiment, LeaderRule, LinkOverride, LinkSettings,
    Monitoring, MonitoringMode, Network, NodeDecl, NodeSettings, ReceivePolicy, ResumeOrder, SeqAfterRestart,
};
pub use validate::MAX_LINKS;

/// The built-in quickstart, run by `fdlab run` without a file.
pub const QUICKSTART: &str = include_str!("../../experiments/quickstart.toml");

#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    #[error("{path}: cannot read: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path}: `{field}`: {message}")]
    Invalid { path: PathBuf, field: String, message: String },
}

/// An experiment that passed [`Experiment::check`]: what the engines accept. It reads as an
/// [`Experiment`] (the file as written, detector intervals filled in) and holds its faults in
/// their checked shapes ([`ValidExperiment::faults`]); to change one, take it apart with
/// [`ValidExperiment::into_inner`] and check it again.
#[derive(Clone, Debug)]
pub struct ValidExperiment {
    experiment: Experiment,
    faults: Vec<Fault>,
}

impl ValidExperiment {
    pub fn into_inner(self) -> Experiment {
        self.experiment
    }

    /// The faults in their checked shapes, in file order (`self.faults` are the same faults
    /// as the file declares them, which `summary.json` records).
    pub fn faults(&self) -> &[Fault] {
        &self.faults
    }
}

impl std::ops::Deref for ValidExperiment {
    type Target = Experiment;
    fn deref(&self) -> &Experiment {
        &self.experiment
    }
}

impl Experiment {
    /// Reads and validates an experiment file.
    pub fn load(path: &Path) -> Result<ValidExperiment, ExperimentError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ExperimentError::Io { path: path.to_path_buf(), source })?;
        Experiment::from_toml(path, &text)
    }

    /// Every empirical delay trace the experiment reads, as written (relative to its
    /// directory), wherever a delay model may be: the network, a link's override, a delay
    /// change, a pause's durations, a workload.
    pub fn delay_traces(&self) -> Vec<PathBuf> {
        fn walk(v: &serde_json::Value, out: &mut Vec<PathBuf>) {
            match v {
                serde_json::Value::Object(m) => {
                    if m.get("dist").and_then(|d| d.as_str()) == Some("empirical")
                        && let Some(trace) = m.get("trace").and_then(|t| t.as_str())
                    {
                        out.push(trace.into());
                    }
                    m.values().for_each(|v| walk(v, out));
                }
                serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(&serde_json::to_value(self).expect("experiment serializes"), &mut out);
        out.sort();
        out.dedup();
        out
    }

    /// Reads every empirical delay trace the experiment names ([`Self::delay_traces`],
    /// relative to `base_dir`, the experiment's directory), as a run would before it starts:
    /// the first that cannot be read or holds no delays is the error.
    pub fn check_delay_traces(&self, base_dir: &Path) -> Result<(), crate::fault::delay::EmpiricalError> {
        for trace in self.delay_traces() {
            crate::fault::delay::DelaySampler::new(
                &crate::fault::delay::DelayModel::Empirical { trace },
                0.0,
                base_dir,
            )?;
        }
        Ok(())
    }

    /// Parses and validates experiment text; `path` names it in errors.
    pub fn from_toml(path: &Path, text: &str) -> Result<ValidExperiment, ExperimentError> {
        let e: Experiment = toml::from_str(text)
            .map_err(|err| ExperimentError::Syntax { path: path.to_path_buf(), message: syntax_message(&err, text) })?;
        e.check(path)
    }
}

/// The TOML parser's message, which names the line and column, made one paragraph.
fn syntax_message(err: &toml::de::Error, text: &str) -> String {
    match err.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            let column = span.start - text[..span.start.min(text.len())].rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}: {}", err.message())
        }
        None => err.message().to_string(),
    }
}

/// For the library's tests: three nodes `a`, `b` and `c` all to all, with lognormal delays
/// and bursty loss, 1 % duplicated, `b` paused at random (Pareto pauses every 3 min). A test writes its own
/// top-level keys before it and may add faults after it.
#[cfg(test)]
pub(crate) const THREE_LOSSY_NODES: &str = r#"[[nodes]]
id = "a"
[[nodes]]
id = "b"
[[nodes]]
id = "c"
[network]
delay = { dist = "lognormal", median = "2ms", sigma = 0.8, base = "300us" }
loss = { model = "bursts", mean_good = "2m", mean_bad = "400ms", loss_bad = 0.9, loss_good = 0.002 }
duplicate = 0.01
[[faults]]
kind = "pause"
node = "b"
every = "3m"
durations = { dist = "pareto", scale = "200ms", shape = 1.5 }
"#;

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "name = \"t\"\nseed = 1\nduration = \"1m\"\ndetectors = [\"phi\"]\n[[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n";

    fn error(text: &str) -> String {
        Experiment::from_toml(Path::new("x.toml"), text).expect_err("refused").to_string()
    }

    #[test]
    fn syntax_errors_name_the_file_line_and_column() {
        assert_eq!(
            error(&GOOD.replace("seed = 1", "seed = = 1"))
                .lines()
                .next()
                .unwrap()
                .split(':')
                .take(3)
                .collect::<Vec<_>>(),
            ["x.toml", " line 2, column 8", " invalid string"]
        );
        let unknown = error(&GOOD.replace("seed = 1", "seed = 1\nsede = 2"));
        assert!(
            unknown.starts_with("x.toml: line 3, column 1: ") && unknown.contains("unknown field `sede`"),
            "{unknown}"
        );
        // A fault's unknown field, inside an array of tables.
        let unknown = error(&format!("{GOOD}[[faults]]\nkind = \"crash\"\nnode = \"a\"\nat = \"1s\"\ndwon = \"1s\"\n"));
        assert!(unknown.starts_with("x.toml: line ") && unknown.contains("dwon"), "{unknown}");
    }

    #[test]
    fn meaning_errors_name_the_file_and_the_field() {
        assert_eq!(
            error(&GOOD.replace("duration = \"1m\"", "duration = \"0\"")),
            "x.toml: `duration`: must be greater than zero"
        );
    }

    #[test]
    fn question_answer_and_source_are_recorded_only_when_given() {
        let plain = Experiment::from_toml(Path::new("x.toml"), GOOD).unwrap();
        let config = serde_json::to_value(&*plain).unwrap();
        for key in ["question", "answer", "source"] {
            assert!(config.get(key).is_none(), "{key} in {config}");
        }
        let text = format!(
            "question = \"Does φ suspect through a GC pause?\"\nanswer = \"Yes, at φ = 8.\"\n\
             source = \"Hayashibara et al. 2004\"\n{GOOD}"
        );
        let e = Experiment::from_toml(Path::new("x.toml"), &text).unwrap();
        assert_eq!(e.question.as_deref(), Some("Does φ suspect through a GC pause?"));
        let config = serde_json::to_value(&*e).unwrap();
        assert_eq!(config["question"], "Does φ suspect through a GC pause?");
        assert_eq!(config["answer"], "Yes, at φ = 8.");
        assert_eq!(config["source"], "Hayashibara et al. 2004");
    }

    #[test]
    fn the_quickstart_is_valid() {
        let e = Experiment::from_toml(Path::new("quickstart.toml"), QUICKSTART).unwrap();
        assert_eq!(e.name, "quickstart");
    }
}
