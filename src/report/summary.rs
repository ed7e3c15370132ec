//! `summary.json`: the numbers of a run, one entry per detector configuration and link.
//!
//! The schema is documented in `docs/summary.md`. Conventions (DESIGN.md §5): durations in
//! seconds as `f64` with names ending in `_s`, rates with names ending in `_per_s`, and
//! every file records fdlab's version, the experiment name and the seed.

use serde::Serialize;

use crate::analysis::QosReport;
use crate::time::Nanos;

/// The whole file.
#[derive(Debug, Serialize)]
pub struct SummaryFile {
    pub fdlab_version: &'static str,
    pub experiment: String,
    /// The experiment's seed; `null` for a replayed trace, which has none.
    pub seed: Option<u64>,
    /// `sim`, `replay` or `live`.
    pub engine: &'static str,
    pub run_end_s: f64,
    pub results: Vec<ResultEntry>,
}

impl SummaryFile {
    pub fn new(
        experiment: String,
        seed: Option<u64>,
        engine: &'static str,
        run_end: Nanos,
        results: Vec<ResultEntry>,
    ) -> SummaryFile {
        SummaryFile {
            fdlab_version: env!("CARGO_PKG_VERSION"),
            experiment,
            seed,
            engine,
            run_end_s: run_end.as_secs_f64(),
            results,
        }
    }

    pub fn to_json(&self) -> String {
        // Cannot fail: every field serializes (no maps with non-string keys, no NaN: serde_json
        // writes non-finite floats as null).
        let mut text = serde_json::to_string_pretty(self).expect("summary serializes");
        text.push('\n');
        text
    }

    /// The readable table printed after a run.
    pub fn table(&self) -> String {
        let mut rows = vec![[
            "detector".to_string(),
            "link".to_string(),
            "mistakes".to_string(),
            "per day [95% CI]".to_string(),
            "mean T_M".to_string(),
            "T_D mean".to_string(),
            "T_D p99".to_string(),
            "P_A".to_string(),
        ]];
        for r in &self.results {
            let per_day = match (r.qos.mistakes_per_day, r.qos.mistake_rate_per_s_ci95) {
                (Some(d), Some([lo, hi])) => format!("{} [{}, {}]", num(d), num(lo * 86400.0), num(hi * 86400.0)),
                _ => "-".to_string(),
            };
            let link = match &r.monitor {
                Some(m) => format!("{m}→{}", r.target),
                None => r.target.clone(),
            };
            let basis = if r.qos.detection_basis == "crashes" { "" } else { "~" };
            rows.push([
                r.detector.clone(),
                link,
                format!("{}{}", r.qos.mistakes, if r.qos.censored.count > 0 { "+" } else { "" }),
                per_day,
                secs(r.qos.mistake_duration_s.mean),
                format!("{basis}{}", secs(r.qos.detection_time_s.mean)),
                format!("{basis}{}", secs(r.qos.detection_time_s.p99)),
                r.qos.query_accuracy.map_or("-".to_string(), |p| format!("{p:.6}")),
            ]);
        }
        let widths: Vec<usize> = (0..8).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
        let mut out = String::new();
        for row in &rows {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (cell, w))| {
                    let pad = w - cell.chars().count();
                    if i < 2 { format!("{cell}{}", " ".repeat(pad)) } else { format!("{}{cell}", " ".repeat(pad)) }
                })
                .collect();
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
        }
        out.push_str(
            "T_M: mistake duration; T_D: detection time (~ = per-heartbeat estimate, no crash declared); \
             P_A: query accuracy; + = a suspicion still open at the end (censored)\n",
        );
        out
    }
}

/// One detector configuration on one link.
#[derive(Debug, Serialize)]
pub struct ResultEntry {
    /// The canonical label, e.g. `phi:threshold=8`.
    pub detector: String,
    pub kind: String,
    /// The knob's value in the level's units (seconds for timeouts).
    pub threshold: f64,
    /// The monitoring node, when the trace or experiment has more than one.
    pub monitor: Option<String>,
    pub target: String,
    #[serde(flatten)]
    pub qos: QosReport,
}

fn num(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

fn secs(x: Option<f64>) -> String {
    match x {
        None => "-".into(),
        Some(s) if s >= 1.0 => format!("{s:.3}s"),
        Some(s) => format!("{:.1}ms", s * 1000.0),
    }
}
