//! `summary.json`: the numbers of a run, one entry per detector configuration and link.
//!
//! The schema is documented in `docs/summary.md`. Conventions (DESIGN.md §5): durations in
//! seconds as `f64` with names ending in `_s`, rates with names ending in `_per_s`, and
//! every file records fdlab's version, the experiment name and the seed.

use serde::Serialize;

use std::collections::BTreeMap;

use crate::analysis::QosReport;
use crate::analysis::qos::Exact;
use crate::analysis::qos::{CRASHES, Cause, ESTIMATE};
use crate::analysis::stats::Summary;
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
    /// The experiment as it was run (simulations), for the record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experiment_config: Option<serde_json::Value>,
    /// One object per detector configuration and link.
    pub results: Vec<ResultEntry>,
    /// Per detector configuration, every link together (simulations).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub totals: Vec<TotalEntry>,
    /// What happened to the datagrams on each link (simulations).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<LinkEntry>,
    /// Rows of a replayed trace that are legal but worth knowing about (replays).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trace_warnings: Vec<TraceWarning>,
}

/// Rows of one kind in a replayed trace that fdlab accepts but a reader should know about.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TraceWarning {
    /// `seq_decreased` (reordering within an incarnation) or `received_before_sent`
    /// (the hosts' clocks differ).
    pub kind: &'static str,
    /// How many rows.
    pub rows: u64,
    /// The line of the first one.
    pub first_line: u64,
    /// The whole warning, as printed.
    pub message: String,
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
            experiment_config: None,
            results,
            totals: Vec::new(),
            links: Vec::new(),
            trace_warnings: Vec::new(),
        }
    }

    /// `mistakes.csv`: every listed false suspicion of every configuration and link.
    pub fn mistakes_csv(&self) -> String {
        use crate::trace::csv_field;
        let mut out = String::from("monitor,target,detector,start_s,end_s,duration_s,cause,censored\n");
        for r in &self.results {
            for m in &r.qos.listed {
                out.push_str(&format!(
                    "{},{},{},{},{},{},{},{}\n",
                    csv_field(r.monitor.as_deref().unwrap_or("")),
                    csv_field(&r.target),
                    csv_field(&r.detector),
                    m.start.as_secs_f64(),
                    m.end.as_secs_f64(),
                    (m.end - m.start).as_secs_f64(),
                    m.cause.name(),
                    m.censored
                ));
            }
        }
        out
    }

    pub fn to_json(&self) -> String {
        // Cannot fail: every field serializes (no maps with non-string keys, no NaN: serde_json
        // writes non-finite floats as null).
        let mut text = serde_json::to_string_pretty(self).expect("summary serializes");
        text.push('\n');
        text
    }

    /// The readable table: per detector over every link when there are several links,
    /// otherwise per link.
    pub fn table(&self) -> String {
        let links: std::collections::BTreeSet<(&Option<String>, &String)> =
            self.results.iter().map(|r| (&r.monitor, &r.target)).collect();
        if self.totals.is_empty() || links.len() <= 1 {
            return self.link_table();
        }
        let mut rows = vec![header(&format!("links ({})", links.len()))];
        for t in &self.totals {
            rows.push(row(
                &t.detector,
                format!("{} links", t.links),
                t.mistakes,
                false,
                t.mistakes_per_day,
                t.mistake_rate_per_s_ci95,
                &t.mistake_duration_s,
                &t.detection_time_s,
                basis_mark(t.detection_basis),
                t.query_accuracy,
            ));
        }
        render(rows)
    }

    /// One row per detector configuration and link.
    pub fn link_table(&self) -> String {
        let mut rows = vec![header("link")];
        for r in &self.results {
            let link = match &r.monitor {
                Some(m) => format!("{m}→{}", r.target),
                None => r.target.clone(),
            };
            rows.push(row(
                &r.detector,
                link,
                r.qos.mistakes,
                r.qos.censored.count > 0,
                r.qos.mistakes_per_day,
                r.qos.mistake_rate_per_s_ci95,
                &r.qos.mistake_duration_s,
                &r.qos.detection_time_s,
                basis_mark(r.qos.detection_basis),
                r.qos.query_accuracy,
            ));
        }
        render(rows)
    }
}

/// The table's mark for a detection time that is the per-heartbeat estimate.
fn basis_mark(basis: &str) -> &'static str {
    if basis == CRASHES { "" } else { "~" }
}

fn header(link: &str) -> [String; 8] {
    ["detector", link, "mistakes", "per day [95% CI]", "mean T_M", "T_D mean", "T_D p99", "P_A"].map(String::from)
}

#[allow(clippy::too_many_arguments)] // One table row: naming each cell is clearer than a struct here.
fn row(
    detector: &str,
    link: String,
    mistakes: u64,
    censored: bool,
    per_day: Option<f64>,
    ci: Option<[f64; 2]>,
    duration: &Summary,
    detection: &Summary,
    basis: &str,
    accuracy: Option<f64>,
) -> [String; 8] {
    let per_day = match (per_day, ci) {
        (Some(d), Some([lo, hi])) => format!("{} [{}, {}]", num(d), num(lo * 86400.0), num(hi * 86400.0)),
        _ => "-".to_string(),
    };
    [
        detector.to_string(),
        link,
        format!("{mistakes}{}", if censored { "+" } else { "" }),
        per_day,
        secs(duration.mean),
        format!("{basis}{}", secs(detection.mean)),
        format!("{basis}{}", secs(detection.p99)),
        accuracy.map_or("-".to_string(), |p| format!("{p:.6}")),
    ]
}

fn render(rows: Vec<[String; 8]>) -> String {
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
        "T_M: mistake duration; T_D: detection time (~ = per-heartbeat estimate, no crash); \
         P_A: query accuracy; + = a suspicion still open at the end (censored)\n",
    );
    out
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

/// A number for tables: integers when large, three decimals when small.
pub(crate) fn num(x: f64) -> String {
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

/// Datagram counts of one link.
#[derive(Debug, Serialize)]
pub struct LinkEntry {
    pub monitor: String,
    pub target: String,
    pub sent: u64,
    pub lost: u64,
    /// Dropped by a partition.
    pub cut: u64,
    pub duplicated: u64,
    /// Handed to the detectors (after the receive policy).
    pub delivered: u64,
}

/// One detector configuration over every link.
#[derive(Debug, Serialize)]
pub struct TotalEntry {
    pub detector: String,
    pub kind: String,
    pub threshold: f64,
    pub links: usize,
    pub observed_up_s: f64,
    pub mistakes: u64,
    pub mistake_rate_per_s: Option<f64>,
    pub mistake_rate_per_s_ci95: Option<[f64; 2]>,
    pub mistakes_per_day: Option<f64>,
    pub mistakes_by_cause: BTreeMap<Cause, u64>,
    pub mistake_duration_s: Summary,
    pub query_accuracy: Option<f64>,
    pub detection_time_s: Summary,
    /// `crashes` (over the links that had crashes), or `per-heartbeat estimate` when no
    /// link had one (then over every link).
    pub detection_basis: &'static str,
    pub crashes: usize,
    pub crashes_detected: usize,
    #[serde(skip)]
    pub detection_histogram: hdrhistogram::Histogram<u64>,
    #[serde(skip)]
    pub mistake_histogram: hdrhistogram::Histogram<u64>,
}

/// Sums the results of each detector configuration over its links, in first-seen order.
pub fn totals(results: &[ResultEntry]) -> Vec<TotalEntry> {
    let mut order: Vec<&str> = Vec::new();
    let mut groups: BTreeMap<&str, Vec<&ResultEntry>> = BTreeMap::new();
    for r in results {
        if !groups.contains_key(r.detector.as_str()) {
            order.push(&r.detector);
        }
        groups.entry(&r.detector).or_default().push(r);
    }
    order
        .into_iter()
        .map(|label| {
            let rs = &groups[label];
            let mut by_cause: BTreeMap<Cause, u64> = BTreeMap::new();
            for r in rs {
                for (c, n) in &r.qos.mistakes_by_cause {
                    *by_cause.entry(*c).or_default() += n;
                }
            }
            // Detection times over the crashes, where any link had one; otherwise every
            // link's per-heartbeat estimate (as each link reports it).
            let crash_basis = rs.iter().any(|r| r.qos.detection_basis == CRASHES);
            let detection_basis = if crash_basis { CRASHES } else { ESTIMATE };
            let mut exact = Exact::default();
            for r in rs {
                let mut link = r.qos.exact.clone();
                if r.qos.detection_basis != detection_basis {
                    link.detection = Default::default();
                }
                exact.add(&link);
            }
            let (detection_histogram, mistake_histogram) =
                (exact.detection.to_histogram(), exact.mistakes.to_histogram());
            let all = QosReport::from_exact(exact, None, by_cause, detection_basis);
            TotalEntry {
                detector: label.to_string(),
                kind: rs[0].kind.clone(),
                threshold: rs[0].threshold,
                links: rs.len(),
                observed_up_s: all.observed_up_s,
                mistakes: all.mistakes,
                mistake_rate_per_s: all.mistake_rate_per_s,
                mistake_rate_per_s_ci95: all.mistake_rate_per_s_ci95,
                mistakes_per_day: all.mistakes_per_day,
                mistakes_by_cause: all.mistakes_by_cause,
                mistake_duration_s: all.mistake_duration_s,
                query_accuracy: all.query_accuracy,
                detection_time_s: all.detection_time_s,
                detection_basis,
                crashes: rs.iter().flat_map(|r| &r.qos.crashes).filter(|c| c.observed).count(),
                crashes_detected: rs
                    .iter()
                    .flat_map(|r| &r.qos.crashes)
                    .filter(|c| c.detection_time_s.is_some())
                    .count(),
                detection_histogram,
                mistake_histogram,
            }
        })
        .collect()
}
