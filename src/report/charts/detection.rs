//! The distribution of detection time per detector configuration, as a CDF.
//!
//! Reads `detection-time/*.hgrm` (all links together: measured over injected crashes, or,
//! in a run without crashes, the per-heartbeat estimate) and takes the configurations'
//! labels and that basis from `summary.json`.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    ChartError, FONT_FAMILY, Figure, Prepared, color, draw_legend, err, legend_line, read, seconds_label, summary, thin,
};
use crate::analysis::qos::DetectionBasis;
use crate::report::file_stem;
use crate::report::hgrm::parse_rows;

const CHART: &str = "detection-time chart";
/// Curves per chart; a larger sweep is thinned evenly.
const MAX_CURVES: usize = 8;

pub struct Detection {
    /// (label, points: seconds, cumulative share)
    curves: Vec<(String, Vec<(f64, f64)>)>,
    /// The times are per-heartbeat estimates (no crash was injected), not measured.
    estimate: bool,
}

pub fn load(dir: &Path) -> Result<Detection, ChartError> {
    let s = summary(dir, CHART)?;
    let mut curves = Vec::new();
    let mut estimate = true;
    for e in s.figures() {
        let label = e.detector;
        if curves.iter().any(|(l, _): &(String, _)| l == label) {
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
        curves.push((label.to_string(), points));
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

impl Figure for Detection {
    fn size(&self) -> (u32, u32) {
        (1200, 700)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(err)?;
        // Log time: a tight timeout and ◇P differ by orders of magnitude.
        let x_max = self.curves.iter().flat_map(|(_, p)| p).map(|p| p.0).fold(0.0, f64::max) * 1.5 + 1e-6;
        let x_min =
            (self.curves.iter().flat_map(|(_, p)| p).map(|p| p.0).filter(|x| *x > 0.0).fold(f64::MAX, f64::min) / 1.5)
                .min(x_max / 10.0);
        let mut chart = ChartBuilder::on(root)
            .caption(self.title(), (FONT_FAMILY, 26))
            .margin(16)
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
        for (i, (label, points)) in self.curves.iter().enumerate() {
            let c = color(i);
            // A step function: the share jumps at each value.
            let mut steps = Vec::with_capacity(points.len() * 2);
            for w in points.windows(2) {
                steps.push((w[1].0, w[0].1));
                steps.push((w[1].0, w[1].1));
            }
            steps.insert(0, points[0]);
            chart
                .draw_series(LineSeries::new(steps, c.stroke_width(2)))
                .map_err(err)?
                .label(label.clone())
                .legend(legend_line(c));
        }
        draw_legend(&mut chart, SeriesLabelPosition::LowerRight)
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
