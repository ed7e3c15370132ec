//! Delivery latency per workload: p50, p90, p99, p99.9 and the maximum of first send to
//! first application, one column per workload (so RTO policies or protocols side by side),
//! on a log scale.
//!
//! Reads `summary.json`'s `workloads`; runs without workloads get no chart (and no complaint).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{ChartError, FONT_FAMILY, Figure, Prepared, color, err, summary};

const CHART: &str = "workload latency chart";
const WIDTH: u32 = 1100;
const HEIGHT: u32 = 700;
const QUANTILES: [&str; 5] = ["p50", "p90", "p99", "p99.9", "max"];

/// One workload's name and its latency quantiles in ms, in [`QUANTILES`] order.
type Column = (String, [f64; 5]);

pub struct WorkloadLatency {
    columns: Vec<Column>,
}

/// The chart of a run with workloads that applied something (none otherwise).
pub fn prepare(dir: &Path) -> Result<Vec<Prepared>, ChartError> {
    let s = summary(dir, CHART)?;
    let columns: Vec<Column> = s
        .workloads
        .iter()
        .filter_map(|w| {
            let l = w.latency.as_ref()?;
            Some((w.name.clone(), [l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms]))
        })
        .collect();
    if columns.is_empty() {
        return Ok(Vec::new());
    }
    let title = "Delivery latency per workload".to_string();
    let caption = "First send to first application of each operation, per workload: p50, p90, p99, p99.9 and \
                   the maximum (log scale). A retransmission timeout's waiting shows in the tail."
        .to_string();
    Ok(vec![Prepared::new("workload-latency".into(), title, caption, WorkloadLatency { columns })])
}

impl Figure for WorkloadLatency {
    fn size(&self) -> (u32, u32) {
        (WIDTH, HEIGHT)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(err)?;
        let (plot_area, legend_area) = root.split_vertically(HEIGHT - 60);
        let values = || self.columns.iter().flat_map(|c| c.1).filter(|v| *v > 0.0);
        let lo = values().fold(f64::MAX, f64::min).min(1.0);
        let hi = values().fold(0.0, f64::max).max(lo * 10.0);
        let (y_min, y_max) = (libm::pow(10.0, libm::log10(lo).floor()), libm::pow(10.0, libm::log10(hi).ceil()));
        let n = self.columns.len();
        let names: Vec<String> = self.columns.iter().map(|c| c.0.clone()).collect();
        let mut chart = ChartBuilder::on(&plot_area)
            .caption("Delivery latency per workload", (FONT_FAMILY, 24))
            .margin(16)
            .margin_right(40)
            .x_label_area_size(56)
            .y_label_area_size(90)
            .build_cartesian_2d(-0.5..n as f64 - 0.5, (y_min..y_max).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n.max(2) * 2 + 1)
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
                    names[i as usize].clone()
                } else {
                    String::new()
                }
            })
            .y_desc("latency, ms (log)")
            .y_label_formatter(&|y| format!("{y}"))
            .label_style((FONT_FAMILY, 15))
            .axis_desc_style((FONT_FAMILY, 18))
            .draw()
            .map_err(err)?;
        for (q, _) in QUANTILES.iter().enumerate() {
            let offset = (q as f64 - 2.0) * 0.08;
            let points = self
                .columns
                .iter()
                .enumerate()
                .filter(|(_, c)| c.1[q] > 0.0)
                .map(|(i, c)| (i as f64 + offset, c.1[q].max(y_min)));
            chart.draw_series(points.map(|p| Circle::new(p, 6, color(q).filled()))).map_err(err)?;
        }
        let font = (FONT_FAMILY, 15.0).into_font();
        for (q, label) in QUANTILES.iter().enumerate() {
            let x = 96 + q as i32 * 140;
            legend_area.draw(&Circle::new((x + 8, 18), 6, color(q).filled())).map_err(err)?;
            legend_area.draw(&Text::new(label.to_string(), (x + 22, 10), font.clone())).map_err(err)?;
        }
        Ok(())
    }
}
