//! Exporting a recommendation as the configuration of the system that runs it: Akka/Pekko
//! (HOCON), Cassandra (`cassandra.yaml`) and Hazelcast (`hazelcast.yaml` properties).
//!
//! Only the presets are exported: each models its system's detector *and* its check period
//! (Akka's reaper every 1 s, Cassandra's 1 s gossip round, Hazelcast's check once per
//! heartbeat), so what was tuned is what the system will do. Values are rounded to what
//! each system accepts, always in the cautious direction (a threshold, a pause or a
//! deviation rounded up errs no more often, on the same arrivals); a value outside what the
//! system accepts is moved to its nearest accepted value and the output says so. The
//! rounded configuration is then run again through fdlab's model of the system, on the same
//! input, and checked against the target at the α its cell was chosen at: the status says
//! whether it still meets it. Nothing is changed silently. REFERENCES.md §2 and §8 have the
//! systems' formulas and keys; docs/tune.md the mapping.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::grid::{Family, hazelcast_interval, whole_seconds_at_least_one};
use super::{FamilyResult, Per, TuneConfig, TuneError, human_duration, measure, run_engine, select, short_number};
use crate::detector::DetectorSpec;
use crate::time::{Nanos, parse_duration};

/// Whether the exported configuration meets the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportStatus {
    /// Re-checked as rounded: meets the target.
    Meets,
    /// Re-checked as rounded: does not meet the target (a value had to move beyond what the
    /// system accepts).
    Fails,
    /// The system cannot run what was tuned (e.g. Hazelcast's whole-second heartbeats, where
    /// the input's interval is not a whole number of seconds): the figures are for the
    /// input's interval, not the exported one.
    NotRepresentable,
}

/// One exported configuration.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Export {
    /// `akka`, `cassandra` or `hazelcast`.
    pub system: String,
    /// The preset that was tuned.
    pub family: String,
    /// The file written in the results directory.
    pub file: String,
    /// The system's keys and the values written.
    pub values: BTreeMap<String, String>,
    /// The file's text.
    pub text: String,
    /// fdlab's spec of the exported (rounded) configuration: what was re-checked.
    pub model: String,
    pub status: ExportStatus,
    /// The re-check: mistakes, the bound (per day, at the cell's α) and detection times.
    pub mistakes: Option<u64>,
    pub upper_per_day: Option<f64>,
    pub detection_p99_s: Option<f64>,
    pub detection_mean_s: Option<f64>,
    /// How each value was mapped and rounded, and what the user must know.
    pub notes: Vec<String>,
}

impl Export {
    /// What `tune` prints for it.
    pub fn describe(&self) -> String {
        let status = match self.status {
            ExportStatus::Meets => "meets the target",
            ExportStatus::Fails => "does NOT meet the target",
            ExportStatus::NotRepresentable => "cannot be run as tuned",
        };
        let mut out = format!(
            "{} ({}), from {}: re-checked as exported, {status} ({} mistakes, 95 % bound {} per day)\n",
            match self.system.as_str() {
                "akka" => "Akka/Pekko",
                "cassandra" => "Cassandra",
                _ => "Hazelcast",
            },
            self.file,
            self.model,
            self.mistakes.map_or("?".into(), |m| m.to_string()),
            self.upper_per_day.map_or("?".into(), short_number),
        );
        for line in self.text.lines() {
            out.push_str(&format!("    {line}\n"));
        }
        for n in &self.notes {
            out.push_str(&format!("  - {n}\n"));
        }
        out
    }
}

/// A duration rounded up to whole milliseconds.
fn ceil_ms(d: Nanos) -> Nanos {
    Nanos::from_millis(d.0.div_ceil(1_000_000))
}

/// Milliseconds as HOCON writes a duration: `1500ms`.
fn hocon_ms(d: Nanos) -> String {
    format!("{}ms", d.0 / 1_000_000)
}

fn duration(values: &BTreeMap<String, String>, key: &str, default: &str) -> Nanos {
    // Cannot fail: the values came from specs that parsed (or are the presets' defaults).
    parse_duration(values.get(key).map_or(default, String::as_str)).expect("a parsed duration")
}

fn number(values: &BTreeMap<String, String>, key: &str) -> f64 {
    // Cannot fail: the knob's value came from a spec that parsed.
    values.get(key).and_then(|v| v.parse().ok()).expect("a parsed number")
}

/// Rounds a threshold up to one decimal (what the files show), exactly.
fn threshold_text(x: f64) -> String {
    let up = (x * 10.0 - 1e-9).ceil() / 10.0;
    format!("{up}")
}

/// An export before its re-check.
struct Draft {
    export: Export,
    spec: DetectorSpec,
    alpha: f64,
}

fn draft(config: &TuneConfig, family: &Family, result: &FamilyResult, interval: Nanos) -> Option<Draft> {
    let chosen = result.chosen.as_ref()?;
    let v = &chosen.values;
    let header = format!(
        "fdlab tune: {} for at most {} mistakes per {} (95 % confidence), from {}",
        family.name,
        config.target.text,
        config.per.name(),
        chosen.label
    );
    let interval_ms = Nanos::from_millis((interval.0 + 500_000) / 1_000_000).max(Nanos::from_millis(1));
    let mut notes = Vec::new();
    let mut values = BTreeMap::new();
    let mut representable = true;
    let (system, file, text, model) = match family.name.as_str() {
        "akka-cluster" | "akka-remote-watch" => {
            let threshold = threshold_text(number(v, "threshold"));
            let pause = ceil_ms(duration(v, "pause", "3s"));
            let min_std = ceil_ms(duration(v, "min_std", "100ms")).max(Nanos::from_millis(1));
            let window = v
                .get("window")
                .cloned()
                .unwrap_or_else(|| if family.name == "akka-cluster" { "1000".into() } else { "200".into() });
            let section =
                if family.name == "akka-cluster" { "akka.cluster" } else { "akka.remote.watch-failure-detector" };
            let prefix = if family.name == "akka-cluster" { "failure-detector." } else { "" };
            for (k, val) in [
                ("heartbeat-interval", hocon_ms(interval_ms)),
                ("threshold", threshold.clone()),
                ("acceptable-heartbeat-pause", hocon_ms(pause)),
                ("min-std-deviation", hocon_ms(min_std)),
                ("max-sample-size", window.clone()),
            ] {
                values.insert(format!("{section}.{prefix}{k}"), val);
            }
            let mut text = format!("# {header}\n# For Pekko write `pekko` for `akka`.\n{section} {{\n");
            let indent = if prefix.is_empty() {
                "  ".to_string()
            } else {
                text.push_str("  failure-detector {\n");
                "    ".to_string()
            };
            for (k, val) in &values {
                let key = k.rsplit('.').next().unwrap_or(k);
                text.push_str(&format!("{indent}{key} = {val}\n"));
            }
            // The reaper period is part of what was tuned (both presets check every 1 s): the
            // cluster's is `akka.cluster.unreachable-nodes-reaper-interval`, remote watch's is
            // its failure detector's own `unreachable-nodes-reaper-interval`.
            if family.name == "akka-cluster" {
                text.push_str("    # monitored-by-nr-of-members = 9 (not tuned; see the note on --per)\n  }\n");
            }
            text.push_str("  # the reaper period fdlab modelled (check_every = 1s)\n");
            text.push_str("  unreachable-nodes-reaper-interval = 1s\n");
            values.insert(format!("{section}.unreachable-nodes-reaper-interval"), "1s".into());
            text.push_str("}\n");
            notes.push(format!(
                "fdlab's `phi` is Akka's detector, logistic approximation of the normal tail included (exact=false): \
                 threshold {threshold}, acceptable-heartbeat-pause = pause, min-std-deviation = min_std, \
                 max-sample-size = window; heartbeat-interval is the input's ({}), which Akka also uses as the first \
                 heartbeat estimate; rounded up to whole milliseconds, as Akka keeps them",
                interval_ms
            ));
            if family.name == "akka-cluster" {
                let per = match config.per {
                    Per::Link => {
                        "the target was per monitored link: Akka watches each node from monitored-by-nr-of-members \
                         (default 9) others and marks it unreachable when any one suspects it, so a node is marked up \
                         to 9× as often; for a bound per node tune `--per node` on an experiment with a ring of 9 \
                         monitors"
                    }
                    Per::Node => "the target was per node: the mistakes of all its monitors were counted against it",
                    Per::Cluster => "the target was for the whole cluster: every link's mistakes counted",
                };
                notes.push(per.to_string());
                notes.push(
                    "Akka's cluster heartbeats are request/response: the interval and delays seen by the monitor are \
                     round trips; record the trace where Akka's heartbeat responses arrive"
                        .into(),
                );
            } else {
                notes.push(
                    "remote watch: each node that watches actors on another node runs its own detector for that node \
                     (one monitored link per watcher and watched node, so the target per link is the one that \
                     applies); its heartbeats are request/response (Heartbeat, HeartbeatRsp): record the trace where \
                     the responses arrive. expected-response-after (when detection starts after the first request) \
                     is not tuned"
                        .into(),
                );
            }
            let model = format!(
                "{}:threshold={threshold},pause={pause},min_std={min_std},window={window},first={interval_ms}",
                family.name
            );
            ("akka", format!("{}.conf", family.name), text, model)
        }
        "cassandra" => {
            let tuned = number(v, "threshold");
            let mut threshold: f64 = threshold_text(tuned).parse().unwrap_or(tuned);
            if threshold < 5.0 {
                notes.push(format!(
                    "the tuned threshold {tuned} is below 5, the least phi_convict_threshold Cassandra accepts [5, 16]: \
                     raised to 5 (more cautious: detection slower than tuned; re-checked)"
                ));
                threshold = 5.0;
            } else if threshold > 16.0 {
                notes.push(format!(
                    "the tuned threshold {tuned} is above 16, the largest phi_convict_threshold Cassandra accepts [5, \
                     16]: lowered to 16, which did not qualify (re-checked below)"
                ));
                threshold = 16.0;
            }
            values.insert("phi_convict_threshold".into(), format!("{threshold}"));
            notes.push(
                "Cassandra's φ is exponential (fdlab `phi-exp`: level = 0.434 × silence / mean interval) evaluated once \
                 per 1 s gossip round (check_every = 1s, not configurable); the gossip round sets the interval, which \
                 is not tuned"
                    .into(),
            );
            let text =
                format!("# {header}\n# in cassandra.yaml (accepted: 5 to 16)\nphi_convict_threshold: {threshold}\n");
            ("cassandra", "cassandra.yaml".to_string(), text, format!("cassandra:threshold={threshold}"))
        }
        "hazelcast-deadline" | "hazelcast-phi" => {
            let hz_interval = hazelcast_interval(interval);
            // A trace's median interval within 1 % of a whole second is that second.
            let near = (interval.0 as f64 - hz_interval.0 as f64).abs() <= 0.01 * interval.0 as f64;
            if !near {
                representable = false;
                notes.push(format!(
                    "Hazelcast sends heartbeats every whole number of seconds; the input's interval is {}, which it \
                     cannot run: the figures are for the input's arrivals with a check every {hz_interval}. Record (or \
                     simulate) heartbeats every {hz_interval} and tune again",
                    interval_ms
                ));
            }
            values.insert("hazelcast.heartbeat.interval.seconds".into(), (hz_interval.0 / 1_000_000_000).to_string());
            let (kind, model) = if family.name == "hazelcast-deadline" {
                let timeout = whole_seconds_at_least_one(duration(v, "timeout", "60s"));
                values.insert("hazelcast.max.no.heartbeat.seconds".into(), (timeout.0 / 1_000_000_000).to_string());
                notes.push(format!(
                    "deadline: suspect after max.no.heartbeat.seconds of silence (fdlab `fixed:timeout={timeout}`), \
                     checked once per heartbeat interval ({hz_interval}); whole seconds, rounded up"
                ));
                ("deadline", format!("hazelcast-deadline:timeout={timeout},check_every={hz_interval}"))
            } else {
                let threshold = threshold_text(number(v, "threshold"));
                let pause = whole_seconds_at_least_one(duration(v, "pause", "60s"));
                let min_std = ceil_ms(duration(v, "min_std", "100ms")).max(Nanos::from_millis(1));
                let window = v.get("window").cloned().unwrap_or_else(|| "200".into());
                let p = "hazelcast.heartbeat.phiaccrual.failuredetector";
                values.insert("hazelcast.max.no.heartbeat.seconds".into(), (pause.0 / 1_000_000_000).to_string());
                values.insert(format!("{p}.threshold"), threshold.clone());
                values.insert(format!("{p}.sample.size"), window.clone());
                values.insert(format!("{p}.min.std.dev.millis"), (min_std.0 / 1_000_000).to_string());
                notes.push(format!(
                    "phi-accrual: Akka's φ (fdlab `phi`) with max.no.heartbeat.seconds as the acceptable pause and the \
                     heartbeat interval as the first estimate, checked once per heartbeat interval ({hz_interval}); \
                     seconds and milliseconds rounded up"
                ));
                (
                    "phi-accrual",
                    format!(
                        "hazelcast-phi:threshold={threshold},pause={pause},min_std={min_std},window={window},\
                         first={hz_interval},check_every={hz_interval}"
                    ),
                )
            };
            values.insert("hazelcast.heartbeat.failuredetector.type".into(), kind.into());
            // hazelcast.yaml's `properties` (in hazelcast.xml the same pairs go in
            // <properties><property name="…">…</property></properties>).
            let mut text = format!(
                "# {header}\n# Hazelcast member configuration (hazelcast.yaml); in hazelcast.xml the same pairs are \
                 <properties><property name=\"…\">…</property></properties>\nhazelcast:\n  properties:\n"
            );
            for (k, val) in &values {
                text.push_str(&format!("    {k}: {val}\n"));
            }
            ("hazelcast", format!("{}.yaml", family.name), text, model)
        }
        _ => return None,
    };
    // Cannot fail for the values above (all came from specs that parsed); a failure here
    // would be a bug in the mapping, so it is reported as a not-representable export rather
    // than a panic.
    let spec = match DetectorSpec::parse(&model) {
        Ok(s) => s,
        Err(e) => {
            notes.push(format!("internal: the model `{model}` does not parse: {e}"));
            return None;
        }
    };
    let export = Export {
        system: system.to_string(),
        family: family.name.clone(),
        file,
        values,
        text,
        model,
        status: if representable { ExportStatus::Meets } else { ExportStatus::NotRepresentable },
        mistakes: None,
        upper_per_day: None,
        detection_p99_s: None,
        detection_mean_s: None,
        notes,
    };
    Some(Draft { export, spec, alpha: result.alpha })
}

/// The exports of every family whose recommendation a system can run, re-checked as
/// rounded on the same input (one more pass of the engine over them all).
pub(crate) fn exports(
    config: &TuneConfig,
    families: &[Family],
    results: &[FamilyResult],
    interval: Nanos,
) -> Result<Vec<Export>, TuneError> {
    let drafts: Vec<Draft> = families.iter().zip(results).filter_map(|(f, r)| draft(config, f, r, interval)).collect();
    if drafts.is_empty() {
        return Ok(Vec::new());
    }
    let mut specs: Vec<DetectorSpec> = Vec::new();
    for d in &drafts {
        if !specs.iter().any(|s| s.points()[0].label == d.spec.points()[0].label) {
            specs.push(d.spec.clone());
        }
    }
    let run = run_engine(config, specs)?;
    let figures = measure(&run.summary, config.per, config.objective);
    let mut out = Vec::new();
    for d in drafts {
        let mut e = d.export;
        let label = d.spec.points()[0].label.clone();
        let mut upper = None;
        if let Some(f) = figures.get(&label) {
            let bound = select::bound(&f.measured, d.alpha);
            upper = bound.map(|b| b.upper_per_s);
            e.mistakes = Some(f.measured.mistakes);
            e.upper_per_day = upper.map(|u| u * 86_400.0);
            e.detection_p99_s = f.p99_s;
            e.detection_mean_s = f.mean_s;
            if bound.is_some_and(|b| b.method == select::BoundMethod::BatchMeans) {
                e.notes.push("its mistakes cluster beyond Poisson: the bound is the batch-means one".into());
            }
        }
        // Without a bound (the re-check observed nothing) nothing shows that it meets the
        // target: it fails, as an unmet bound does.
        if e.status == ExportStatus::Meets && !upper.is_some_and(|u| u <= config.target.per_s) {
            e.status = ExportStatus::Fails;
        }
        e.notes.push(format!(
            "re-checked on the same input ({} observed) at α = {}",
            human_duration(figures.get(&label).map_or(0.0, |f| f.measured.exposure_s)),
            short_number(d.alpha)
        ));
        out.push(e);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::{Choice, Input, Objective, grid};
    use super::*;

    /// The draft export of `family` (a `tune --detector` text) had `values` been chosen, on
    /// an input with heartbeats every `interval`.
    fn drafted(family: &str, values: &[(&str, &str)], interval: Nanos) -> Export {
        let config = TuneConfig {
            input: Input::Trace("t.csv".into()),
            truth: Default::default(),
            target: "1/day".parse().unwrap(),
            detectors: vec![family.to_string()],
            objective: Objective::P99,
            per: Per::Link,
            seed: None,
            allow_large: false,
        };
        let family = grid::family(family, interval).unwrap();
        let chosen = Choice {
            label: "chosen".into(),
            values: values.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            mistakes: 0,
            exposure_s: 1e6,
            mistakes_per_day: 0.0,
            upper_per_day: 0.26,
            bound_method: select::BoundMethod::Poisson,
            dispersion: None,
            detection_p99_s: Some(1.0),
            detection_mean_s: Some(1.0),
        };
        let result = FamilyResult {
            name: family.name.clone(),
            kind: family.kind.clone(),
            knob: family.knob.clone(),
            cells: 1,
            configurations: 1,
            alpha: 0.05,
            confidence: String::new(),
            chosen: Some(chosen),
            most_accurate: None,
            tested: Vec::new(),
        };
        draft(&config, &family, &result, interval).unwrap().export
    }

    #[test]
    fn cassandra_takes_5_to_16_and_only_a_value_outside_is_moved_and_said() {
        let second = Nanos::from_secs(1);
        // On the bounds and inside: written as tuned (to 0.1 up), no note of a move.
        for (tuned, written) in [("5", "5"), ("16", "16"), ("4.95", "5"), ("15.91", "16"), ("8.5", "8.5")] {
            let e = drafted("cassandra", &[("threshold", tuned)], second);
            assert_eq!(e.values["phi_convict_threshold"], written, "{tuned}");
            assert_eq!(e.model, format!("cassandra:threshold={written}"));
            assert!(e.notes.iter().all(|n| !n.contains("raised") && !n.contains("lowered")), "{tuned}: {:?}", e.notes);
        }
        let e = drafted("cassandra", &[("threshold", "4.9")], second);
        assert_eq!(e.values["phi_convict_threshold"], "5");
        assert!(e.notes.iter().any(|n| n.contains("4.9 is below 5") && n.contains("raised to 5")), "{:?}", e.notes);
        let e = drafted("cassandra", &[("threshold", "16.05")], second);
        assert_eq!(e.values["phi_convict_threshold"], "16");
        assert!(
            e.notes.iter().any(|n| n.contains("16.05 is above 16") && n.contains("lowered to 16")),
            "{:?}",
            e.notes
        );
    }

    #[test]
    fn hazelcast_runs_an_interval_within_1_percent_of_whole_seconds_only() {
        let values = [("timeout", "3s")];
        for (interval_ms, status) in [
            (1_000, ExportStatus::Meets),
            (1_009, ExportStatus::Meets),
            (991, ExportStatus::Meets),
            (1_011, ExportStatus::NotRepresentable),
            (1_100, ExportStatus::NotRepresentable),
            (1_500, ExportStatus::NotRepresentable),
            (100, ExportStatus::NotRepresentable),
        ] {
            let e = drafted("hazelcast-deadline", &values, Nanos::from_millis(interval_ms));
            assert_eq!(e.status, status, "{interval_ms} ms");
        }
    }

    #[test]
    fn describe_says_the_status_the_file_and_the_notes() {
        let mut e = drafted("hazelcast-deadline", &[("timeout", "3s")], Nanos::from_secs(1));
        e.mistakes = Some(2);
        e.upper_per_day = Some(0.5);
        let text = e.describe();
        assert!(text.starts_with("Hazelcast (hazelcast-deadline.yaml), from hazelcast-deadline:timeout=3s"), "{text}");
        assert!(text.contains("meets the target (2 mistakes, 95 % bound 0.500 per day)"), "{text}");
        assert!(text.contains("\n        hazelcast.max.no.heartbeat.seconds: 3\n"), "the file, indented: {text}");
        assert!(text.contains("\n  - deadline: suspect after"), "the notes: {text}");
        e.status = ExportStatus::Fails;
        assert!(e.describe().contains("does NOT meet the target"));
        e.status = ExportStatus::NotRepresentable;
        assert!(e.describe().contains("cannot be run as tuned"));
        let e = drafted("cassandra", &[("threshold", "8")], Nanos::from_secs(1));
        assert!(e.describe().starts_with("Cassandra (cassandra.yaml)") && e.describe().contains("(? mistakes"));
        let e = drafted(
            "akka-remote-watch",
            &[("threshold", "8"), ("pause", "1s"), ("min_std", "100ms")],
            Nanos::from_secs(1),
        );
        assert!(e.describe().starts_with("Akka/Pekko (akka-remote-watch.conf)"));
    }

    #[test]
    fn rounding_is_cautious_and_exact() {
        assert_eq!(threshold_text(8.0), "8");
        assert_eq!(threshold_text(8.5), "8.5");
        assert_eq!(threshold_text(8.51), "8.6");
        assert_eq!(threshold_text(0.3), "0.3");
        assert_eq!(ceil_ms(Nanos(1_000_001)), Nanos::from_millis(2));
        assert_eq!(ceil_ms(Nanos::from_millis(3)), Nanos::from_millis(3));
        assert_eq!(hocon_ms(Nanos::from_secs(2)), "2000ms");
        assert_eq!(whole_seconds_at_least_one(Nanos::from_millis(100)), Nanos::from_secs(1));
        assert_eq!(whole_seconds_at_least_one(Nanos::from_millis(2001)), Nanos::from_secs(3));
        // A trace's median interval, a little off the setting, is the setting.
        assert_eq!(hazelcast_interval(Nanos(1_000_003_000)), Nanos::from_secs(1));
        assert_eq!(hazelcast_interval(Nanos(4_999_000_000)), Nanos::from_secs(5));
        assert_eq!(hazelcast_interval(Nanos::from_millis(100)), Nanos::from_secs(1));
    }
}
