//! A live run's timing quality: how late heartbeats left, detector checks fired and the
//! relay released datagrams, as CDFs on a log scale.
//!
//! Reads `timing/send-lateness.hgrm`, `timing/check-lateness.hgrm` and
//! `timing/relay-lateness.hgrm` (written by `fdlab live`). Runs of other engines have no
//! timing and get no chart (and no complaint).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{ChartError, FONT_FAMILY, Figure, Prepared, color, err, read, seconds_label, summary};
use crate::analysis::results::Engine;
use crate::report::hgrm::parse_rows;

const CHART: &str = "timing chart";
const WIDTH: u32 = 1200;
const HEIGHT: u32 = 700;

/// What each file measures, as the legend names it.
const SERIES: [(&str, &str); 3] = [
    ("timing/send-lateness.hgrm", "heartbeat sends after their slot"),
    ("timing/check-lateness.hgrm", "detector checks after the exact crossing"),
    ("timing/relay-lateness.hgrm", "relay releases after their drawn delay"),
];

/// One series: its legend, its CDF (seconds, share) and how many values.
type Curve = (String, Vec<(f64, f64)>, u64);

pub struct Timing {
    curves: Vec<Curve>,
}

/// The timing chart of a live run (none for other engines).
pub fn prepare(dir: &Path) -> Result<Vec<Prepared>, ChartError> {
    let s = summary(dir, CHART)?;
    if s.engine != Engine::Live {
        return Ok(Vec::new());
    }
    let mut curves = Vec::new();
    for (file, name) in SERIES {
        let rows = match read(dir, file, CHART) {
            Ok(text) => parse_rows(&text),
            Err(ChartError::MissingData { .. }) => continue,
            Err(e) => return Err(e),
        };
        let Some(first) = rows.first() else { continue };
        // (Values in ms.) Lateness below 1 µs sits at 1 µs on the log axis.
        let seconds = |ms: f64| (ms / 1e3).max(1e-6);
        let mut points = vec![(seconds(first.0), 0.0)];
        points.extend(rows.iter().map(|r| (seconds(r.0), r.1)));
        let count = rows.iter().map(|r| r.2).max().unwrap_or(0);
        curves.push((format!("{name} ({count})"), points, count));
    }
    if curves.is_empty() {
        return Err(ChartError::MissingData {
            chart: CHART,
            dir: dir.to_path_buf(),
            what: "timing/*.hgrm with values".into(),
        });
    }
    let title = "How late the real timers were".to_string();
    let caption = "Cumulative share of heartbeat sends, detector checks and relay releases by how long after \
                   their deadline they happened (log scale; below 1 µs drawn at 1 µs); p99 and max are in \
                   summary.json's `live`."
        .to_string();
    Ok(vec![Prepared::new("timing".into(), title, caption, Timing { curves })])
}

impl Figure for Timing {
    fn size(&self) -> (u32, u32) {
        (WIDTH, HEIGHT)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(err)?;
        let (plot_area, legend_area) = root.split_vertically(HEIGHT - 110);
        let xs = || self.curves.iter().flat_map(|(_, p, _)| p).map(|p| p.0).filter(|x| *x > 0.0);
        let x_hi = xs().fold(0.0, f64::max) * 1.3 + 1e-9;
        let x_lo = (xs().fold(f64::MAX, f64::min) / 1.3).min(x_hi / 10.0);
        let (x_min, x_max) = (libm::pow(10.0, libm::log10(x_lo).floor()), libm::pow(10.0, libm::log10(x_hi).ceil()));
        let mut chart = ChartBuilder::on(&plot_area)
            .caption("How late the real timers were", (FONT_FAMILY, 26))
            .margin(16)
            .margin_right(40)
            .x_label_area_size(56)
            .y_label_area_size(80)
            .build_cartesian_2d((x_min..x_max).log_scale(), 0.0..1.02)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("lateness (log)")
            .y_desc("share of events")
            .x_label_formatter(&|x| seconds_label(*x))
            .label_style((FONT_FAMILY, 16))
            .axis_desc_style((FONT_FAMILY, 18))
            .draw()
            .map_err(err)?;
        for (i, (_, points, _)) in self.curves.iter().enumerate() {
            let mut steps = Vec::with_capacity(points.len() * 2);
            steps.push(points[0]);
            for w in points.windows(2) {
                steps.push((w[1].0, w[0].1));
                steps.push((w[1].0, w[1].1));
            }
            chart.draw_series(LineSeries::new(steps, color(i).stroke_width(2))).map_err(err)?;
        }
        let font = (FONT_FAMILY, 15.0).into_font();
        for (i, (label, _, _)) in self.curves.iter().enumerate() {
            let y = 8 + i as i32 * 26;
            legend_area
                .draw(&PathElement::new(vec![(96, y + 8), (120, y + 8)], color(i).stroke_width(3)))
                .map_err(err)?;
            legend_area.draw(&Text::new(label.clone(), (130, y), font.clone())).map_err(err)?;
        }
        Ok(())
    }
}
