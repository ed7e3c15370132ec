//! Rendering a run's results ([`SummaryFile`], defined with the analysis that computes it):
//! `summary.json`, `mistakes.csv` and the readable table.

use crate::analysis::qos::CRASHES;
use crate::analysis::stats::Summary;

pub use crate::analysis::results::{LinkEntry, ResultEntry, SummaryFile, TotalEntry, TraceWarning, totals};

impl SummaryFile {
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
