//! Rendering a run's results ([`SummaryFile`], defined with the analysis that computes it):
//! `summary.json`, `mistakes.csv` and the readable table; and reading `summary.json` back
//! ([`SummaryFile::read`]) into the same structs, with [`Figures`], the per-configuration
//! view the charts and `report.html` draw from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::analysis::qos::{Cause, DetectionBasis};
use crate::analysis::stats::Summary;

pub use crate::analysis::results::{
    Engine, LinkEntry, ResultEntry, SummaryFile, TotalEntry, TraceWarning, TraceWarningKind, totals,
};

/// A `summary.json` that could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// Not JSON, or not the schema (serde's message names the field, line and column).
    #[error("{}: {source}", path.display())]
    Schema { path: PathBuf, source: serde_json::Error },
}

/// What the report and the charts show of one detector configuration: a total over links,
/// or one link's result.
#[derive(Clone, Copy, Debug)]
pub struct Figures<'a> {
    pub detector: &'a str,
    /// The swept key's name (see [`ResultEntry::knob`]).
    pub knob: Option<&'a str>,
    pub over: Over<'a>,
    pub mistakes: u64,
    pub mistakes_per_day: Option<f64>,
    pub mistake_rate_per_s_ci95: Option<[f64; 2]>,
    pub mistakes_by_cause: &'a BTreeMap<Cause, u64>,
    pub mistake_duration_s: &'a Summary,
    pub query_accuracy: Option<f64>,
    pub detection_time_s: &'a Summary,
    pub detection_basis: DetectionBasis,
}

/// What a row of [`Figures`] was measured over.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Over<'a> {
    Link { monitor: Option<&'a str>, target: &'a str },
    Links(usize),
}

impl<'a> From<&'a TotalEntry> for Figures<'a> {
    fn from(t: &'a TotalEntry) -> Figures<'a> {
        Figures {
            detector: &t.detector,
            knob: t.knob.as_deref(),
            over: Over::Links(t.links),
            mistakes: t.mistakes,
            mistakes_per_day: t.mistakes_per_day,
            mistake_rate_per_s_ci95: t.mistake_rate_per_s_ci95,
            mistakes_by_cause: &t.mistakes_by_cause,
            mistake_duration_s: &t.mistake_duration_s,
            query_accuracy: t.query_accuracy,
            detection_time_s: &t.detection_time_s,
            detection_basis: t.detection_basis,
        }
    }
}

impl<'a> From<&'a ResultEntry> for Figures<'a> {
    fn from(r: &'a ResultEntry) -> Figures<'a> {
        Figures {
            detector: &r.detector,
            knob: r.knob.as_deref(),
            over: Over::Link { monitor: r.monitor.as_deref(), target: &r.target },
            mistakes: r.qos.mistakes,
            mistakes_per_day: r.qos.mistakes_per_day,
            mistake_rate_per_s_ci95: r.qos.mistake_rate_per_s_ci95,
            mistakes_by_cause: &r.qos.mistakes_by_cause,
            mistake_duration_s: &r.qos.mistake_duration_s,
            query_accuracy: r.qos.query_accuracy,
            detection_time_s: &r.qos.detection_time_s,
            detection_basis: r.qos.detection_basis,
        }
    }
}

impl SummaryFile {
    /// `mistakes.csv`: every listed false suspicion of every configuration and link.
    pub fn mistakes_csv(&self) -> String {
        use crate::trace::csv_field;
        // Runs of several replications list each entry's mistakes replication after
        // replication, and say which in a last column.
        let replicated = self.replications.is_some();
        let mut out = String::from("monitor,target,detector,start_s,end_s,duration_s,cause,censored");
        out.push_str(if replicated { ",replication\n" } else { "\n" });
        for r in &self.results {
            let per_replication = r.replications.as_ref().map(|s| s.mistakes_listed.as_slice()).unwrap_or_default();
            let mut replication = per_replication.iter().enumerate().flat_map(|(i, n)| std::iter::repeat_n(i, *n));
            for m in &r.qos.listed {
                out.push_str(&format!(
                    "{},{},{},{},{},{},{},{}",
                    csv_field(r.monitor.as_deref().unwrap_or("")),
                    csv_field(&r.target),
                    csv_field(&r.detector),
                    m.start.secs_text(),
                    m.end.secs_text(),
                    (m.end - m.start).secs_text(),
                    m.cause.name(),
                    m.censored
                ));
                if replicated {
                    // The counts per replication add up to the listed mistakes (pooled in order).
                    out.push_str(&format!(",{}", replication.next().map_or(String::new(), |i| i.to_string())));
                }
                out.push('\n');
            }
        }
        out
    }

    /// Reads a `summary.json` back. A file from before fdlab recorded `knob` reads with
    /// `knob: None`; any other missing or malformed field is an error naming the file and
    /// the field.
    pub fn read(path: &Path) -> Result<SummaryFile, ReadError> {
        let text = std::fs::read(path).map_err(|source| ReadError::Io { path: path.to_path_buf(), source })?;
        SummaryFile::from_json(&text).map_err(|source| ReadError::Schema { path: path.to_path_buf(), source })
    }

    /// Parses the text of a `summary.json`.
    pub fn from_json(text: &[u8]) -> Result<SummaryFile, serde_json::Error> {
        serde_json::from_slice(text)
    }

    /// One row per detector configuration, as the report and the charts show them: the
    /// totals over every link when the file has them, otherwise each link's result.
    pub fn figures(&self) -> Vec<Figures<'_>> {
        if self.totals.is_empty() {
            self.results.iter().map(Figures::from).collect()
        } else {
            self.totals.iter().map(Figures::from).collect()
        }
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
        let mut out = if self.totals.is_empty() || links.len() <= 1 {
            self.link_table()
        } else {
            let mut rows = vec![header(&format!("links ({})", links.len()))];
            for t in &self.totals {
                // Marked when a suspicion was still open at the end on any of its links.
                let censored = self.results.iter().any(|r| r.detector == t.detector && r.qos.censored.count > 0);
                rows.push(row(&Figures::from(t), format!("{} links", t.links), censored));
            }
            render(rows)
        };
        if let Some(info) = &self.replications {
            out.push('\n');
            out.push_str(&self.replications_table(info.count));
        }
        if !self.cluster.is_empty() {
            out.push('\n');
            out.push_str(&self.cluster_table());
        }
        if !self.workloads.is_empty() {
            out.push('\n');
            out.push_str(&self.workload_table());
        }
        if let Some(g) = &self.two_generals {
            out.push('\n');
            out.push_str(&generals_table(g));
        }
        out
    }

    /// One row per workload: what reached the server, how often, how fast, and the damage.
    pub fn workload_table(&self) -> String {
        let mut rows: Vec<Vec<String>> = vec![
            [
                "workload",
                "protocol",
                "op",
                "dedup",
                "issued",
                "never applied",
                "extra",
                "out of order",
                "retx/op",
                "spurious",
                "ambiguous",
                "lost data/ack",
                "lat p50",
                "lat p99",
                "state (intended)",
            ]
            .map(String::from)
            .to_vec(),
        ];
        for w in &self.workloads {
            let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{}ms", num(v)));
            rows.push(vec![
                w.name.clone(),
                w.protocol.name().to_string(),
                w.operation.name().to_string(),
                w.dedup.name().to_string(),
                w.issued.to_string(),
                w.never_applied.to_string(),
                w.extra_applications.to_string(),
                w.out_of_order.to_string(),
                num(w.retransmissions_per_op),
                w.spurious_retransmissions.to_string(),
                w.ambiguous.to_string(),
                format!("{}/{}", w.data_link.lost + w.data_link.cut, w.ack_link.lost + w.ack_link.cut),
                ms(w.latency.as_ref().map(|l| l.p50_ms)),
                ms(w.latency.as_ref().map(|l| l.p99_ms)),
                format!("{} ({})", w.final_state, w.intended_state),
            ]);
        }
        columns(
            &rows,
            "extra: applications beyond the first per operation (at-least-once damage); spurious: retransmissions \
             after which an ACK of an earlier copy arrived; lost: datagrams the data and ACK links lost or cut \
             (`data_link`, `ack_link` in summary.json); latency: first send to first application; state: the \
             server's counter, money credited, or keys right\n",
        )
    }

    /// Runs of several replications: per configuration (over every link) the mistakes a day
    /// with both intervals, the pooled exact Poisson one (the headline, as in the table
    /// above) and the t-interval across replications, and the replications' spread.
    pub fn replications_table(&self, count: u32) -> String {
        let mut rows: Vec<Vec<String>> = vec![
            [
                "detector",
                "links",
                "per day pooled [Poisson 95% CI]",
                "mean [t 95% CI] across replications",
                "sd",
                "min",
                "max",
            ]
            .map(String::from)
            .to_vec(),
        ];
        let day = |x: Option<f64>| x.map_or("-".to_string(), |x| num(x * 86400.0));
        for t in &self.totals {
            let Some(s) = &t.replications else { continue };
            let pooled = match (t.mistakes_per_day, t.mistake_rate_per_s_ci95) {
                (Some(d), Some([lo, hi])) => format!("{} [{}, {}]", num(d), num(lo * 86400.0), num(hi * 86400.0)),
                _ => "-".to_string(),
            };
            let rate = &s.mistake_rate_per_s;
            let across = match (rate.mean, rate.ci95_t) {
                (Some(m), Some([lo, hi])) => format!("{} [{}, {}]", day(Some(m)), day(Some(lo)), day(Some(hi))),
                (Some(m), None) => day(Some(m)),
                _ => "-".to_string(),
            };
            rows.push(vec![
                t.detector.clone(),
                t.links.to_string(),
                pooled,
                across,
                day(rate.sd),
                day(rate.min),
                day(rate.max),
            ]);
        }
        columns(
            &rows,
            &format!(
                "mistakes per day over {count} replications: pooled exact Poisson interval (the headline) and the \
                 Student t interval of the per-replication rates\n"
            ),
        )
    }

    /// One row per detector configuration and leader rule: split brain and the rest of the
    /// cluster figures.
    pub fn cluster_table(&self) -> String {
        let mut rows: Vec<Vec<String>> = vec![
            [
                "detector",
                "rule",
                "split brain",
                "episodes",
                "longest",
                "per day [95% CI]",
                "instants",
                "leaderless",
                "disagreeing",
                "failover mean",
                "wrongful downing",
            ]
            .map(String::from)
            .to_vec(),
        ];
        for c in &self.cluster {
            for f in &c.rules {
                let per_day = match f.split_brain_rate_per_s_ci95 {
                    Some([lo, hi]) => format!(
                        "{} [{}, {}]",
                        num(f.split_brain_rate_per_s * 86400.0),
                        num(lo * 86400.0),
                        num(hi * 86400.0)
                    ),
                    None => "-".into(),
                };
                rows.push(vec![
                    c.detector.clone(),
                    f.rule.clone(),
                    secs(Some(f.split_brain_s)),
                    f.split_brain_episodes.to_string(),
                    secs(Some(f.split_brain_longest_s)),
                    per_day,
                    f.split_brain_instants.to_string(),
                    secs(Some(f.leaderless_s)),
                    secs(Some(f.disagreement_s)),
                    failover(f),
                    secs(Some(c.downing.wrongful_downing_s)),
                ]);
            }
        }
        columns(
            &rows,
            "split brain: time two or more running nodes each believed they led (episodes per day with its exact 95% \
             CI; instants: a node leading for no time at a resume while another led); failover: from a crash of a \
             leader until every running node names one that leads (n = completed, + = cut short by the next fault); \
             wrongful downing: time a live node was suspected by the downing quorum of its monitors, summed over \
             nodes\n",
        )
    }

    /// One row per detector configuration and link.
    pub fn link_table(&self) -> String {
        let mut rows = vec![header("link")];
        for r in &self.results {
            let link = match &r.monitor {
                Some(m) => format!("{m}→{}", r.target),
                None => r.target.clone(),
            };
            rows.push(row(&Figures::from(r), link, r.qos.censored.count > 0));
        }
        render(rows)
    }
}

/// The table's mark for a detection time that is the per-heartbeat estimate.
fn basis_mark(basis: DetectionBasis) -> &'static str {
    match basis {
        DetectionBasis::Crashes => "",
        DetectionBasis::PerHeartbeatEstimate => "~",
    }
}

fn header(link: &str) -> [String; 8] {
    ["detector", link, "mistakes", "per day [95% CI]", "mean T_M", "T_D mean", "T_D p99", "P_A"].map(String::from)
}

/// One table row; `censored`: a suspicion was still open at the end.
fn row(f: &Figures<'_>, link: String, censored: bool) -> [String; 8] {
    let per_day = match (f.mistakes_per_day, f.mistake_rate_per_s_ci95) {
        (Some(d), Some([lo, hi])) => format!("{} [{}, {}]", num(d), num(lo * 86400.0), num(hi * 86400.0)),
        _ => "-".to_string(),
    };
    let basis = basis_mark(f.detection_basis);
    [
        f.detector.to_string(),
        link,
        format!("{}{}", f.mistakes, if censored { "+" } else { "" }),
        per_day,
        secs(f.mistake_duration_s.mean),
        format!("{basis}{}", secs(f.detection_time_s.mean)),
        format!("{basis}{}", secs(f.detection_time_s.p99)),
        f.query_accuracy.map_or("-".to_string(), accuracy),
    ]
}

fn render(rows: Vec<[String; 8]>) -> String {
    let rows: Vec<Vec<String>> = rows.into_iter().map(Vec::from).collect();
    columns(
        &rows,
        "T_M: mistake duration; T_D: detection time (~ = per-heartbeat estimate, no crash); \
         P_A: query accuracy; + = a suspicion still open at the end (censored)\n",
    )
}

/// Rows in aligned columns (the first two left-aligned, the rest right-aligned), then
/// `footer`.
fn columns(rows: &[Vec<String>], footer: &str) -> String {
    let widths: Vec<usize> =
        (0..rows[0].len()).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                let pad = " ".repeat(w - cell.chars().count());
                if i < 2 { format!("{cell}{pad}") } else { format!("{pad}{cell}") }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out.push_str(footer);
    out
}

/// A number for tables: integers when large, two decimals from 1, three significant digits
/// below 1, and scientific notation below 0.001 (a rate of 1.9e-5 a day is not `0.000`).
pub(crate) fn num(x: f64) -> String {
    // Each band starts where the previous one's rounding would reach it (99.996 is `100`,
    // not `100.00`; 0.099996 is `0.100`, not `0.1000`).
    let a = x.abs();
    if x == 0.0 {
        "0".into()
    } else if !x.is_finite() {
        format!("{x}")
    } else if a >= 99.995 {
        format!("{x:.0}")
    } else if a >= 0.999_5 {
        format!("{x:.2}")
    } else if a >= 0.000_999_5 {
        let decimals = if a >= 0.099_95 {
            3
        } else if a >= 0.009_995 {
            4
        } else {
            5
        };
        format!("{x:.decimals$}")
    } else {
        format!("{x:.2e}")
    }
}

/// The two generals per depth, simulated beside the closed forms.
fn generals_table(g: &crate::workload::generals::GeneralsReport) -> String {
    let mut rows: Vec<Vec<String>> =
        vec![["depth k", "runs", "disagree", "p(1-p)^(k-1)", "both attack", "(1-p)^k"].map(String::from).to_vec()];
    for r in &g.rows {
        rows.push(vec![
            r.depth.to_string(),
            r.trials.to_string(),
            format!("{:.5}", r.disagreement),
            format!("{:.5}", r.disagreement_closed_form),
            format!("{:.5}", r.both_attack),
            format!("{:.5}", r.both_attack_closed_form),
        ]);
    }
    columns(
        &rows,
        &format!(
            "two generals, each message lost with p = {}: disagree = exactly one attacks; a general attacks iff it \
             received every message addressed to it\n",
            g.p
        ),
    )
}

/// A duration for tables, in the unit that shows it: seconds from 1 s, then ms, µs, ns.
fn secs(x: Option<f64>) -> String {
    // As in `num`, a unit starts where the smaller one's rounding would reach 1000.
    match x {
        None => "-".into(),
        Some(s) if !s.is_finite() => "-".into(),
        Some(0.0) => "0s".into(),
        Some(s) if s >= 0.999_95 => format!("{s:.3}s"),
        Some(s) if s >= 0.000_999_95 => format!("{:.1}ms", s * 1e3),
        Some(s) if s >= 0.000_000_999_5 => format!("{:.1}µs", s * 1e6),
        Some(s) => format!("{:.0}ns", s * 1e9),
    }
}

/// Query accuracy: six decimals, or as many more as keep a value below 1 from reading `1`.
fn accuracy(p: f64) -> String {
    (6..=12).map(|d| format!("{p:.d$}")).find(|t| p >= 1.0 || !t.starts_with("1.")).unwrap_or_else(|| format!("{p}"))
}

/// A rule's failover column: the mean of the completed failovers, how many, and how many
/// the next fault cut short.
fn failover(f: &crate::analysis::cluster::ClusterFigures) -> String {
    let censored = if f.failovers_censored > 0 { format!(" +{}", f.failovers_censored) } else { String::new() };
    match f.failover_mean_s {
        Some(mean) => format!("{} (n={}){censored}", secs(Some(mean)), f.failovers),
        None if f.failovers_censored > 0 => format!("-{censored}"),
        None => "-".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::{accuracy, num, secs};

    #[test]
    fn numbers_keep_their_significant_digits_at_every_scale() {
        assert_eq!(num(0.0), "0");
        assert_eq!(num(1.9e-5), "1.90e-5");
        assert_eq!(num(-1.9e-5), "-1.90e-5");
        assert_eq!(num(0.0015), "0.00150");
        assert_eq!(num(0.001), "0.00100");
        assert_eq!(num(0.5), "0.500");
        assert_eq!(num(0.123456), "0.123");
        assert_eq!(num(1.0), "1.00");
        assert_eq!(num(99.994), "99.99");
        assert_eq!(num(100.0), "100");
        assert_eq!(num(1.5e12), "1500000000000");
        assert_eq!(num(f64::INFINITY), "inf");
        assert_eq!(num(-0.0), "0");
        // At the bands' edges, rounding decides the band.
        assert_eq!(num(99.996), "100");
        assert_eq!(num(99.994), "99.99");
        assert_eq!(num(0.99996), "1.00");
        assert_eq!(num(0.099996), "0.100");
        assert_eq!(num(0.0099996), "0.0100");
        assert_eq!(num(0.00099996), "0.00100");
        assert_eq!(num(0.00099994), "0.00100");
        assert_eq!(num(0.0009994), "9.99e-4");
        assert_eq!(num(0.9996), "1.00");
    }

    #[test]
    fn accuracy_below_one_never_reads_one() {
        assert_eq!(accuracy(1.0), "1.000000");
        assert_eq!(accuracy(0.5), "0.500000");
        assert_eq!(accuracy(0.9999995), "0.9999995");
        assert_eq!(accuracy(1.0 - 5e-10), "0.999999999");
        assert_eq!(accuracy(1.0 - 1e-15), "0.999999999999999");
    }

    #[test]
    fn durations_keep_their_significant_digits_at_every_scale() {
        assert_eq!(secs(None), "-");
        assert_eq!(secs(Some(0.0)), "0s");
        assert_eq!(secs(Some(2.5)), "2.500s");
        assert_eq!(secs(Some(1.0)), "1.000s");
        assert_eq!(secs(Some(0.0125)), "12.5ms");
        assert_eq!(secs(Some(0.001)), "1.0ms");
        assert_eq!(secs(Some(2.5e-6)), "2.5µs");
        assert_eq!(secs(Some(7e-9)), "7ns");
        assert_eq!(secs(Some(f64::NAN)), "-");
        assert_eq!(secs(Some(0.99999996)), "1.000s");
        assert_eq!(secs(Some(0.99999)), "1.000s");
        assert_eq!(secs(Some(0.99994)), "999.9ms");
        assert_eq!(secs(Some(0.00099996)), "1.0ms");
        assert_eq!(secs(Some(0.0000009996)), "1.0µs");
    }
}
