//! The distribution of detection time per detector configuration, as a CDF.
//!
//! Reads `detection-time/*.hgrm` (all links together: measured over injected crashes, or,
//! in a run without crashes, the per-heartbeat estimate) and takes the configurations'
//! labels and that basis from `summary.json`. A configuration measured over few crashes
//! ([`FEW`] or fewer) also has each crash drawn as a point, and the legend says how many;
//! the legend sits below the plot, so it never covers a curve.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{ChartError, FONT_FAMILY, Figure, Prepared, color, err, read, seconds_label, summary, thin};
use crate::analysis::qos::DetectionBasis;
use crate::report::file_stem;
use crate::report::hgrm::parse_rows;

const CHART: &str = "detection-time chart";
/// Curves per chart; a larger sweep is thinned evenly.
const MAX_CURVES: usize = 8;
/// Up to this many measured values, each is drawn as a point.
pub const FEW: u64 = 30;
const WIDTH: u32 = 1200;
const PLOT_HEIGHT: u32 = 640;
const LEGEND_FONT: f64 = 15.0;
const LEGEND_ROW: i32 = 24;
const SWATCH: i32 = 34;

/// A configuration's label, its CDF's points (seconds, cumulative share) and how many values.
type Curve = (String, Vec<(f64, f64)>, u64);

pub struct Detection {
    curves: Vec<Curve>,
    /// The times are per-heartbeat estimates (no crash was injected), not measured.
    estimate: bool,
}

pub fn load(dir: &Path) -> Result<Detection, ChartError> {
    let s = summary(dir, CHART)?;
    let mut curves = Vec::new();
    let mut estimate = true;
    for e in s.figures() {
        let label = e.detector;
        if curves.iter().any(|(l, _, _): &(String, _, _)| l == label) {
            continue;
        }
        let file = format!("detection-time/{}.hgrm", file_stem(label));
        let rows = match read(dir, &file, CHART) {
            Ok(text) => parse_rows(&text),
            Err(ChartError::MissingData { .. }) => continue,
            Err(e) => return Err(e),
        };
        if rows.is_empty() {
            continue;
        }
        // Values of 0 (a suspicion already open at the crash) sit at 1 µs on the log axis.
        let rows: Vec<(f64, f64, u64)> = rows.into_iter().map(|(v, q, n)| (v.max(1e-3), q, n)).collect();
        let mut points = vec![(rows[0].0 / 1e3, 0.0)];
        points.extend(rows.iter().map(|r| (r.0 / 1e3, r.1)));
        let count = rows.iter().map(|r| r.2).max().unwrap_or(0);
        curves.push((label.to_string(), points, count));
        estimate &= e.detection_basis == DetectionBasis::PerHeartbeatEstimate;
    }
    if curves.is_empty() {
        return Err(ChartError::MissingData {
            chart: CHART,
            dir: dir.to_path_buf(),
            what: "detected crashes (detection-time/*.hgrm with values)".into(),
        });
    }
    Ok(Detection { curves: thin(curves, MAX_CURVES), estimate })
}

impl Detection {
    fn legend_labels(&self) -> Vec<String> {
        let unit = if self.estimate { "heartbeats" } else { "crashes" };
        self.curves
            .iter()
            .map(|(label, _, n)| if *n <= FEW { format!("{label} ({n} {unit}, dots)") } else { label.clone() })
            .collect()
    }

    fn legend_rows(&self) -> Vec<(i32, i32)> {
        let labels = self.legend_labels();
        super::legend_flow(&labels.iter().map(String::as_str).collect::<Vec<_>>(), LEGEND_FONT, SWATCH, WIDTH)
    }
}

impl Figure for Detection {
    fn size(&self) -> (u32, u32) {
        let rows = self.legend_rows().last().map_or(0, |l| l.1 + 1);
        (WIDTH, PLOT_HEIGHT + (rows * LEGEND_ROW + 12) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(err)?;
        let (plot_area, legend_area) = root.split_vertically(PLOT_HEIGHT);
        // Log time: a tight timeout and ◇P differ by orders of magnitude; whole decades, so
        // that the axis always has labelled ticks.
        let xs = || self.curves.iter().flat_map(|(_, p, _)| p).map(|p| p.0).filter(|x| *x > 0.0);
        let x_hi = xs().fold(0.0, f64::max) * 1.3 + 1e-6;
        let x_lo = (xs().fold(f64::MAX, f64::min) / 1.3).min(x_hi / 10.0);
        let (x_min, x_max) = (libm::pow(10.0, libm::log10(x_lo).floor()), libm::pow(10.0, libm::log10(x_hi).ceil()));
        let mut chart = ChartBuilder::on(&plot_area)
            .caption(self.title(), (FONT_FAMILY, 26))
            .margin(16)
            .margin_right(40)
            .x_label_area_size(56)
            .y_label_area_size(80)
            .build_cartesian_2d((x_min..x_max).log_scale(), 0.0..1.02)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("detection time (log)")
            .y_desc(if self.estimate { "share of heartbeats" } else { "share of crashes detected" })
            .x_label_formatter(&|x| seconds_label(*x))
            .label_style((FONT_FAMILY, 16))
            .axis_desc_style((FONT_FAMILY, 18))
            .draw()
            .map_err(err)?;
        for (i, (_, points, count)) in self.curves.iter().enumerate() {
            let c = color(i);
            // A step function: the share jumps at each value.
            let mut steps = Vec::with_capacity(points.len() * 2);
            for w in points.windows(2) {
                steps.push((w[1].0, w[0].1));
                steps.push((w[1].0, w[1].1));
            }
            steps.insert(0, points[0]);
            chart.draw_series(LineSeries::new(steps, c.stroke_width(2))).map_err(err)?;
            if *count <= FEW {
                // Each value where the share rises (the file's first row is the lowest value).
                let dots = points.windows(2).filter(|w| w[1].1 > w[0].1).map(|w| Circle::new(w[1], 4, c.filled()));
                chart.draw_series(dots).map_err(err)?;
            }
        }
        let font = (FONT_FAMILY, LEGEND_FONT).into_font();
        for ((i, (x, row)), label) in self.legend_rows().into_iter().enumerate().zip(self.legend_labels()) {
            let y = 6 + row * LEGEND_ROW;
            legend_area
                .draw(&PathElement::new(vec![(x, y + 8), (x + 24, y + 8)], color(i).stroke_width(3)))
                .map_err(err)?;
            legend_area.draw(&Text::new(label, (x + SWATCH, y), font.clone())).map_err(err)?;
        }
        Ok(())
    }
}

impl Detection {
    fn title(&self) -> &'static str {
        if self.estimate {
            "Detection time if the target crashed after a heartbeat (estimate, CDF)"
        } else {
            "Detection time after a crash (CDF)"
        }
    }
}

pub fn prepare(dir: &Path) -> Result<Vec<Prepared>, ChartError> {
    let d = load(dir)?;
    let caption = if d.estimate {
        "No crash was injected, so this is the φ paper's estimate: for each detector and each heartbeat, how \
         long after it the detector would have suspected the target had it crashed right then (the share of \
         heartbeats within a given time). Curves further left would detect faster."
    } else {
        "For each detector, the share of injected crashes it had noticed after a given time: curves further \
         left detect faster."
    };
    let title = d.title().trim_end_matches(" (CDF)").into();
    Ok(vec![Prepared::new("detection".into(), title, caption.into(), d)])
}
