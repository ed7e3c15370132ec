//! The trade-off chart of the φ paper: mean detection time (x) against mistakes per day
//! (log y), one curve per detector family across its sweep, each point labelled with its
//! threshold and carrying its 95 % interval as an error bar.
//!
//! Reads `summary.json`: the totals over all links when present (simulations), otherwise
//! the per-link results. Detection time is measured over crashes where the run had any,
//! otherwise the per-heartbeat estimate. A configuration with no mistakes cannot sit on a
//! log axis at 0: it is drawn hollow at its 95 % upper bound, which is what the run shows.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    ChartError, Drawn, FONT_FAMILY, Figure, color, draw_legend, err, legend_line, save, seconds_label, summary,
};
use crate::detector::spec::{KINDS, PRESETS};

const CHART: &str = "trade-off chart";

/// One configuration on the chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub knob: String,
    pub detection_s: f64,
    pub per_day: f64,
    pub ci: [f64; 2],
    pub zero: bool,
}

pub struct Tradeoff {
    pub title: String,
    pub families: Vec<(String, Vec<Point>)>,
    pub basis: String,
}

/// Splits a label into its family (the label without the knob) and the knob's `key=value`.
pub fn split_label(label: &str, kind: &str) -> (String, String) {
    let knob = KINDS
        .iter()
        .find(|k| k.name == kind)
        .or_else(|| PRESETS.iter().find(|p| p.name == kind).and_then(|p| KINDS.iter().find(|k| k.name == p.kind)))
        .and_then(|k| k.knob.map(|k| k.name));
    let Some((head, rest)) = label.split_once(':') else { return (label.to_string(), String::new()) };
    let mut parts: Vec<&str> = rest.split(',').collect();
    let first_is_knob = match knob {
        Some(k) => parts[0].starts_with(&format!("{k}=")),
        None => KINDS.iter().all(|k| k.name != kind),
    };
    if !first_is_knob {
        return (label.to_string(), String::new());
    }
    let knob_text = parts.remove(0).to_string();
    let family = if parts.is_empty() { head.to_string() } else { format!("{head}:{}", parts.join(",")) };
    (family, knob_text)
}

/// A rate for a log axis: `1000`, `10`, `0.1`, `0.001`.
fn per_day_label(y: f64) -> String {
    if y >= 1.0 {
        format!("{y:.0}")
    } else {
        let digits = (-y.log10()).ceil().max(1.0) as usize;
        format!("{y:.digits$}")
    }
}

/// Reads the points from a results directory.
pub fn load(dir: &Path) -> Result<Tradeoff, ChartError> {
    let s = summary(dir, CHART)?;
    let results = s["results"].as_array().cloned().unwrap_or_default();
    let totals = s["totals"].as_array().cloned().unwrap_or_default();
    let entries = if totals.is_empty() { &results } else { &totals };
    // Per-heartbeat estimates per label, for runs without crashes.
    let mut estimates: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for r in &results {
        if let (Some(label), Some(mean), Some(count)) =
            (r["detector"].as_str(), r["detection_time_s"]["mean"].as_f64(), r["detection_time_s"]["count"].as_f64())
        {
            let e = estimates.entry(label.to_string()).or_default();
            e.0 += mean * count;
            e.1 += count;
        }
    }
    let mut families: Vec<(String, Vec<Point>)> = Vec::new();
    let mut crash_based = 0;
    for e in entries {
        let (Some(label), Some(kind)) = (e["detector"].as_str(), e["kind"].as_str()) else { continue };
        let detection = match e["detection_time_s"]["mean"].as_f64().filter(|_| {
            e.get("detection_basis").is_none_or(|b| b == "crashes") && e["detection_time_s"]["count"].as_u64() > Some(0)
        }) {
            Some(d) => {
                crash_based += 1;
                Some(d)
            }
            None => estimates.get(label).filter(|(_, n)| *n > 0.0).map(|(sum, n)| sum / n),
        };
        let (Some(detection_s), Some(ci)) = (detection, e["mistake_rate_per_s_ci95"].as_array()) else { continue };
        let ci = [ci[0].as_f64().unwrap_or(0.0) * 86_400.0, ci[1].as_f64().unwrap_or(0.0) * 86_400.0];
        let per_day = e["mistakes_per_day"].as_f64().unwrap_or(0.0);
        let (family, knob) = split_label(label, kind);
        let point = Point { knob, detection_s, per_day, ci, zero: per_day == 0.0 };
        match families.iter_mut().find(|(f, _)| *f == family) {
            Some((_, points)) => points.push(point),
            None => families.push((family, vec![point])),
        }
    }
    if families.is_empty() {
        return Err(ChartError::MissingData {
            chart: CHART,
            dir: dir.to_path_buf(),
            what: "results with a detection time and a mistake rate in summary.json".into(),
        });
    }
    for (_, points) in &mut families {
        points.sort_by(|a, b| a.detection_s.total_cmp(&b.detection_s));
    }
    let basis = if crash_based > 0 { "over injected crashes" } else { "per-heartbeat estimate" };
    Ok(Tradeoff {
        title: format!("Detection time vs mistakes: {}", s["experiment"].as_str().unwrap_or("")),
        families,
        basis: basis.to_string(),
    })
}

impl Figure for Tradeoff {
    fn size(&self) -> (u32, u32) {
        (1200, 760)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(err)?;
        let all: Vec<&Point> = self.families.iter().flat_map(|(_, p)| p).collect();
        // Detection times span orders of magnitude (a tight timeout vs ◇P): log on both axes.
        let x_max = all.iter().map(|p| p.detection_s).fold(0.0, f64::max) * 1.5 + 1e-6;
        let x_min =
            (all.iter().map(|p| p.detection_s).filter(|x| *x > 0.0).fold(f64::MAX, f64::min) / 1.5).min(x_max / 10.0);
        let shown = |p: &Point| if p.zero { p.ci[1] } else { p.per_day };
        let y_min = all.iter().flat_map(|p| [shown(p), p.ci[0]]).filter(|v| *v > 0.0).fold(f64::MAX, f64::min) / 2.0;
        let y_max = all.iter().map(|p| p.ci[1].max(shown(p))).fold(0.0, f64::max) * 2.0;
        let (y_min, y_max) = if y_min < y_max { (y_min, y_max) } else { (1e-3, 1e3) };
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FONT_FAMILY, 26))
            .margin(16)
            .x_label_area_size(56)
            .y_label_area_size(90)
            .build_cartesian_2d((x_min..x_max).log_scale(), (y_min..y_max).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(format!("mean detection time, log ({})", self.basis))
            .y_desc("mistakes per day (log)")
            .x_label_formatter(&|x| seconds_label(*x))
            .y_label_formatter(&|y| per_day_label(*y))
            .label_style((FONT_FAMILY, 16))
            .axis_desc_style((FONT_FAMILY, 18))
            .draw()
            .map_err(err)?;
        for (i, (family, points)) in self.families.iter().enumerate() {
            let c = color(i);
            let line: Vec<(f64, f64)> = points.iter().map(|p| (p.detection_s, shown(p))).collect();
            chart
                .draw_series(LineSeries::new(line, c.stroke_width(2)))
                .map_err(err)?
                .label(family.clone())
                .legend(legend_line(c));
            for p in points {
                let y = shown(p);
                let lo = p.ci[0].max(y_min);
                chart
                    .draw_series(std::iter::once(ErrorBar::new_vertical(p.detection_s, lo, y, p.ci[1], c, 8)))
                    .map_err(err)?;
                let marker: ShapeStyle = if p.zero { c.stroke_width(2) } else { c.filled() };
                chart.draw_series(std::iter::once(Circle::new((p.detection_s, y), 5, marker))).map_err(err)?;
                if !p.knob.is_empty() {
                    let text = p.knob.split_once('=').map_or(p.knob.as_str(), |(_, v)| v).to_string();
                    let label =
                        EmptyElement::at((p.detection_s, y)) + Text::new(text, (7, -18), (FONT_FAMILY, 14).into_font());
                    chart.draw_series(std::iter::once(label)).map_err(err)?;
                }
            }
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}

/// Draws `charts/tradeoff.{png,svg}`.
pub fn draw(dir: &Path, out: &Path) -> Result<Drawn, ChartError> {
    let t = load(dir)?;
    let (png, svg) = save(&t, out, "tradeoff")?;
    Ok(Drawn {
        name: "tradeoff".into(),
        title: t.title.clone(),
        caption: format!(
            "Each curve is one detector family across its sweep: further right notices crashes later, higher \
             makes more false suspicions; bars are 95 % intervals, hollow points had no mistakes and sit at \
             their upper bound (detection time {}).",
            t.basis
        ),
        png,
        svg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_split_into_family_and_knob() {
        assert_eq!(split_label("phi:threshold=8,pause=2s", "phi"), ("phi:pause=2s".into(), "threshold=8".into()));
        assert_eq!(split_label("fixed:timeout=300ms", "fixed"), ("fixed".into(), "timeout=300ms".into()));
        assert_eq!(split_label("bertier", "bertier"), ("bertier".into(), String::new()));
        assert_eq!(split_label("bertier:beta=2", "bertier"), ("bertier:beta=2".into(), String::new()));
        assert_eq!(split_label("akka-cluster:threshold=12", "phi"), ("akka-cluster".into(), "threshold=12".into()));
        assert_eq!(split_label("ewma:k=3", "ewma"), ("ewma".into(), "k=3".into()));
    }
}
