//! What `tune` prints: the table of recommendations, the confidence rules, the exports; and
//! numbers and spans of time as people read them.

use super::select::BoundMethod;
use super::{Objective, TuneFile};
use crate::analysis::qos::DetectionBasis;
use crate::time::Nanos;

/// A number for people: `0.143`, `12.5`, `1440`.
pub fn short_number(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        format!("{x}")
    } else if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 1.0 {
        format!("{x:.3}").trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        let digits = (-libm::log10(x.abs())).floor() as usize + 3;
        format!("{x:.digits$}")
    }
}

/// A span of time for people: `89.9 days`, `3.0 h`, `12 min`, `45 s`.
pub fn human_duration(s: f64) -> String {
    if s >= 2.0 * 86_400.0 {
        format!("{:.1} days", s / 86_400.0)
    } else if s >= 2.0 * 3600.0 {
        format!("{:.1} h", s / 3600.0)
    } else if s >= 120.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{} s", short_number(s))
    }
}

impl TuneFile {
    pub fn to_json(&self) -> String {
        // Cannot fail: plain data (non-finite floats are written as null).
        let mut text = serde_json::to_string_pretty(self).expect("tune.json serializes");
        text.push('\n');
        text
    }

    /// The table on stdout: per family the recommendation, its figures and how confident.
    pub fn table(&self) -> String {
        let objective = match self.objective {
            Objective::P99 => "p99 T_D",
            Objective::Mean => "mean T_D",
        };
        let basis = match self.detection_basis {
            DetectionBasis::Crashes => format!(
                "measured over {} crash{} {}",
                self.crashes,
                if self.crashes == 1 { "" } else { "es" },
                if self.engine == "replay" { "declared with --crash" } else { "of the experiment" }
            ),
            DetectionBasis::PerHeartbeatEstimate => {
                "per-heartbeat estimate: had the sender crashed after each heartbeat".to_string()
            }
        };
        let mut out = format!(
            "target: at most {} mistakes per {} with 95 % confidence; observed {} (heartbeat interval {}); objective: \
             {objective} ({basis})\n\n",
            self.target,
            self.per.name(),
            human_duration(self.observed_s),
            seconds(Some(self.heartbeat_interval_s)),
        );
        let mut rows: Vec<[String; 7]> = vec![[
            "family".into(),
            "recommended".into(),
            "mistakes".into(),
            "per day".into(),
            "95% bound/day".into(),
            objective.into(),
            "searched".into(),
        ]];
        for f in &self.families {
            let searched = format!("{} configs, {} cells", f.configurations, f.cells);
            match (&f.chosen, &f.most_accurate) {
                (Some(c), _) => rows.push([
                    f.name.clone(),
                    c.label.clone(),
                    c.mistakes.to_string(),
                    short_number(c.mistakes_per_day),
                    format!(
                        "{}{}",
                        short_number(c.upper_per_day),
                        if c.bound_method == BoundMethod::BatchMeans { " (batch means)" } else { "" }
                    ),
                    seconds(match self.objective {
                        Objective::P99 => c.detection_p99_s,
                        Objective::Mean => c.detection_mean_s,
                    }),
                    searched,
                ]),
                (None, best) => rows.push([
                    f.name.clone(),
                    match best {
                        _ if !self.supported => "none can qualify".into(),
                        // Its m cells are tested at 5 %/m: even no mistakes need −ln(α)/target.
                        _ if self.observed_s < -libm::log(f.alpha) / self.target_per_s => format!(
                            "none can qualify: its {} cells need {} observed",
                            f.cells,
                            human_duration(-libm::log(f.alpha) / self.target_per_s)
                        ),
                        Some(b) => format!("none qualifies (most accurate: {})", b.label),
                        None => "none qualifies".into(),
                    },
                    best.as_ref().map_or(String::new(), |b| b.mistakes.to_string()),
                    best.as_ref().map_or(String::new(), |b| short_number(b.mistakes_per_day)),
                    best.as_ref().map_or(String::new(), |b| short_number(b.upper_per_day)),
                    String::new(),
                    searched,
                ]),
            }
        }
        let widths: Vec<usize> = (0..7).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
        for r in &rows {
            let line: Vec<String> = r
                .iter()
                .enumerate()
                .map(|(i, cell)| {
                    let pad = widths[i] - cell.chars().count();
                    if (2..=5).contains(&i) { " ".repeat(pad) + cell } else { cell.clone() + &" ".repeat(pad) }
                })
                .collect();
            out.push_str(line.join("  ").trim_end());
            out.push('\n');
        }
        if let Some(text) = &self.unsupported {
            out.push('\n');
            out.push_str(text);
            out.push('\n');
        } else {
            out.push('\n');
            for f in &self.families {
                out.push_str(&format!("{}: {}\n", f.name, f.confidence));
                if let Some(c) = &f.chosen
                    && c.bound_method == BoundMethod::BatchMeans
                {
                    out.push_str(&format!(
                        "  its mistakes cluster beyond Poisson (dispersion index {} over 20 slices > 30.14): the bound \
                         is the batch-means one\n",
                        short_number(c.dispersion.unwrap_or(0.0))
                    ));
                }
            }
        }
        for e in &self.exports {
            out.push('\n');
            out.push_str(&e.describe());
        }
        out
    }
}

fn seconds(s: Option<f64>) -> String {
    s.map_or_else(String::new, |s| Nanos::from_millis((s * 1e3).round() as u64).to_string())
}
