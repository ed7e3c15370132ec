//! The trade-off chart of the φ paper: mean detection time (x) against mistakes per day
//! (log y), one curve per detector family across its sweep, each point labelled with its
//! threshold and carrying its 95 % interval as an error bar.
//!
//! Reads `summary.json`: the totals over all links when present, otherwise the per-link
//! results. A curve is the configurations whose labels differ only in the knob (each entry's
//! `knob` names it). Detection time is measured over crashes where the run had any,
//! otherwise the per-heartbeat estimate. A configuration with no mistakes cannot sit on a
//! log axis at 0: it is drawn hollow at its 95 % upper bound, which is what the run shows.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{ChartError, FONT_FAMILY, Figure, Prepared, color, draw_legend, err, legend_line, seconds_label, summary};
use crate::analysis::qos::DetectionBasis;

const CHART: &str = "trade-off chart";

/// One configuration on the chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// The knob's value as the label writes it (`8`, `300ms`); empty without a knob.
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

/// Splits a canonical label (`HEAD[:KEY=VALUE,...]`, the knob's `KEY=VALUE` first) into
/// its curve (the label without the knob) and the knob's value. `knob` is the entry's
/// recorded knob name, so nothing is looked up or guessed; a configuration without one (or
/// from a `summary.json` older than the field) is a curve of its own.
pub fn split_label(label: &str, knob: Option<&str>) -> (String, String) {
    let whole = || (label.to_string(), String::new());
    let (Some(knob), Some((head, rest))) = (knob, label.split_once(':')) else { return whole() };
    let (first, others) = rest.split_once(',').map_or((rest, None), |(a, b)| (a, Some(b)));
    match first.strip_prefix(knob).and_then(|v| v.strip_prefix('=')) {
        Some(value) => (others.map_or_else(|| head.to_string(), |o| format!("{head}:{o}")), value.to_string()),
        None => whole(),
    }
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
    // Per-heartbeat estimates per label (sum and count), for runs without crashes.
    let mut estimates: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for r in &s.results {
        let d = &r.qos.detection_time_s;
        if let Some(mean) = d.mean {
            let e = estimates.entry(&r.detector).or_default();
            e.0 += mean * d.count as f64;
            e.1 += d.count as f64;
        }
    }
    let mut families: Vec<(String, Vec<Point>)> = Vec::new();
    let mut crash_based = 0;
    for e in s.figures() {
        let measured = e
            .detection_time_s
            .mean
            .filter(|_| e.detection_basis == DetectionBasis::Crashes && e.detection_time_s.count > 0);
        let detection = match measured {
            Some(d) => {
                crash_based += 1;
                Some(d)
            }
            None => estimates.get(e.detector).filter(|(_, n)| *n > 0.0).map(|(sum, n)| sum / n),
        };
        let (Some(detection_s), Some([lo, hi])) = (detection, e.mistake_rate_per_s_ci95) else { continue };
        let ci = [lo * 86_400.0, hi * 86_400.0];
        let per_day = e.mistakes_per_day.unwrap_or(0.0);
        let (family, knob) = split_label(e.detector, e.knob);
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
    Ok(Tradeoff { title: format!("Detection time vs mistakes: {}", s.experiment), families, basis: basis.to_string() })
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
                    let label = EmptyElement::at((p.detection_s, y))
                        + Text::new(p.knob.clone(), (7, -18), (FONT_FAMILY, 14).into_font());
                    chart.draw_series(std::iter::once(label)).map_err(err)?;
                }
            }
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}

/// Prepares `charts/tradeoff.{png,svg}`.
pub fn prepare(dir: &Path) -> Result<Vec<Prepared>, ChartError> {
    let t = load(dir)?;
    let caption = format!(
        "Each curve is one detector family across its sweep: further right notices crashes later, higher \
             makes more false suspicions; bars are 95 % intervals, hollow points had no mistakes and sit at \
             their upper bound (detection time {}).",
        t.basis
    );
    Ok(vec![Prepared::new("tradeoff".into(), t.title.clone(), caption, t)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_split_into_family_and_knob() {
        let split = split_label;
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(split("phi:threshold=8,pause=2s", Some("threshold")), pair("phi:pause=2s", "8"));
        assert_eq!(split("fixed:timeout=300ms", Some("timeout")), pair("fixed", "300ms"));
        assert_eq!(split("bertier", None), pair("bertier", ""));
        assert_eq!(split("bertier:beta=2", None), pair("bertier:beta=2", ""));
        assert_eq!(split("akka-cluster:threshold=12", Some("threshold")), pair("akka-cluster", "12"));
        assert_eq!(split("ewma:k=3", Some("k")), pair("ewma", "3"));
        // The knob's name must be the whole first key.
        assert_eq!(split("chen:alphabet=1,alpha=2", Some("alpha")), pair("chen:alphabet=1,alpha=2", ""));
        // A summary.json from before `knob`: each configuration a curve of its own.
        assert_eq!(split("phi:threshold=8", None), pair("phi:threshold=8", ""));
    }

    #[test]
    fn every_label_a_spec_makes_splits_into_its_knob_and_the_rest() {
        use crate::detector::catalog::{KINDS, PRESETS};
        use crate::detector::spec::DetectorSpec;
        for name in KINDS.iter().map(|k| k.name).chain(PRESETS.iter().map(|p| p.name)) {
            // `fixed` has no default timeout: a sweep of two.
            let spec = DetectorSpec::parse(&format!("{name}:check_every=2s"))
                .or_else(|_| DetectorSpec::parse(&format!("{name}:timeout=100ms|1s,check_every=2s")))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            for point in spec.points() {
                let (family, value) = split_label(&point.label, point.knob.as_deref());
                let rebuilt = match (&point.knob, family.split_once(':')) {
                    (None, _) => family.clone(),
                    (Some(k), None) => format!("{family}:{k}={value}"),
                    (Some(k), Some((head, rest))) => format!("{head}:{k}={value},{rest}"),
                };
                assert_eq!(rebuilt, point.label);
                assert!(family.ends_with("check_every=2s"), "{family}");
            }
        }
    }
}
