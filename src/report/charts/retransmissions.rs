//! Retransmissions over time around a fault: per workload that retransmitted, how many
//! retransmissions (solid) and spurious ones (dashed) each bucket of the run sent, with the
//! faults that touched the workload marked where they began. A premature timeout shows as a
//! dashed line rising to meet the solid one: after a delay step, a fixed RTO tuned for the
//! old path retransmits nearly every operation, while an adaptive one follows the new path.
//!
//! Reads `summary.json`'s `workloads` (their `retransmissions_over_time`, counted by the
//! engine per retransmission); runs in which no workload retransmitted get no chart.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{ChartError, FONT_FAMILY, Figure, Prepared, color, err, summary};
use crate::workload::report::RetransmissionSeries;

const CHART: &str = "retransmissions chart";
const WIDTH: u32 = 1100;
const HEIGHT: u32 = 700;
/// Legend rows below the plot, one per workload.
const LEGEND_ROW: u32 = 26;

pub struct Retransmissions {
    /// (workload, its series), each with at least one retransmission.
    workloads: Vec<(String, RetransmissionSeries)>,
}

/// The chart of a run in which some workload retransmitted (none otherwise).
pub fn prepare(dir: &Path) -> Result<Vec<Prepared>, ChartError> {
    let s = summary(dir, CHART)?;
    let workloads: Vec<(String, RetransmissionSeries)> = s
        .workloads
        .into_iter()
        .filter_map(|w| {
            let series = w.retransmissions_over_time?;
            (series.retransmissions.iter().any(|&n| n > 0)).then_some((w.name, series))
        })
        .collect();
    let Some((_, first)) = workloads.first() else { return Ok(Vec::new()) };
    let title = "Retransmissions over time".to_string();
    let caption = format!(
        "Retransmissions each workload sent per {} of the run (solid) and, of them, the spurious ones (dashed: an \
         ACK of an earlier copy arrived later, the timeout was premature); grey lines mark where faults touching \
         the workload began.",
        bucket_name(first.bucket_s)
    );
    Ok(vec![Prepared::new("retransmissions".into(), title, caption, Retransmissions { workloads })])
}

/// "15 s", "2.5 min": a bucket's width as the caption names it.
fn bucket_name(seconds: f64) -> String {
    if seconds >= 60.0 { format!("{} min", seconds / 60.0) } else { format!("{seconds} s") }
}

impl Figure for Retransmissions {
    fn size(&self) -> (u32, u32) {
        (WIDTH, HEIGHT)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(err)?;
        let legend_height = 16 + LEGEND_ROW * self.workloads.len() as u32;
        let (plot_area, legend_area) = root.split_vertically(HEIGHT.saturating_sub(legend_height).max(HEIGHT / 2));
        let end_s = self.workloads.iter().map(|(_, s)| s.bucket_s * s.retransmissions.len() as f64).fold(0.0, f64::max);
        // Minutes for runs of ten minutes or more, seconds below.
        let (unit, per) = if end_s >= 600.0 { ("min", 60.0) } else { ("s", 1.0) };
        let peak = self.workloads.iter().flat_map(|(_, s)| s.retransmissions.iter()).copied().max().unwrap_or(1);
        let y_max = (peak as f64 * 1.1).max(1.0);
        let mut chart = ChartBuilder::on(&plot_area)
            .caption("Retransmissions per time bucket around the faults", (FONT_FAMILY, 24))
            .margin(16)
            .margin_right(40)
            .x_label_area_size(56)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..(end_s / per).max(f64::MIN_POSITIVE), 0.0..y_max)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(format!("time, {unit}"))
            .y_desc("retransmissions per bucket")
            .x_label_formatter(&|x| format!("{x}"))
            .y_label_formatter(&|y| format!("{y}"))
            .label_style((FONT_FAMILY, 16))
            .axis_desc_style((FONT_FAMILY, 18))
            .draw()
            .map_err(err)?;
        let mut starts: Vec<f64> = self.workloads.iter().flat_map(|(_, s)| s.fault_starts_s.iter().copied()).collect();
        starts.sort_by(f64::total_cmp);
        starts.dedup();
        for at in starts {
            let x = at / per;
            chart
                .draw_series(LineSeries::new([(x, 0.0), (x, y_max)], RGBColor(150, 150, 150).stroke_width(2)))
                .map_err(err)?;
        }
        // Each bucket drawn as a step: flat across its width.
        let steps = |s: &RetransmissionSeries, counts: &[u64]| -> Vec<(f64, f64)> {
            let w = s.bucket_s / per;
            counts
                .iter()
                .enumerate()
                .flat_map(|(i, &n)| [(i as f64 * w, n as f64), ((i + 1) as f64 * w, n as f64)])
                .collect()
        };
        for (i, (_, s)) in self.workloads.iter().enumerate() {
            chart.draw_series(LineSeries::new(steps(s, &s.retransmissions), color(i).stroke_width(2))).map_err(err)?;
            chart
                .draw_series(DashedLineSeries::new(steps(s, &s.spurious), 8, 6, color(i).stroke_width(2)))
                .map_err(err)?;
        }
        let font = (FONT_FAMILY, 15.0).into_font();
        for (i, (name, s)) in self.workloads.iter().enumerate() {
            let y = 8 + i as i32 * LEGEND_ROW as i32;
            let total: u64 = s.retransmissions.iter().sum();
            let spurious: u64 = s.spurious.iter().sum();
            legend_area
                .draw(&PathElement::new(vec![(96, y + 8), (120, y + 8)], color(i).stroke_width(3)))
                .map_err(err)?;
            let label = format!("{name}: {total} retransmissions, {spurious} spurious (dashed)");
            legend_area.draw(&Text::new(label, (130, y), font.clone())).map_err(err)?;
        }
        Ok(())
    }
}
