//! The two generals' curve: disagreement and both-attack probability against the depth k of
//! the message chain, simulated (points) beside the closed forms (lines), on a log scale.
//!
//! Reads `summary.json`'s `two_generals`; runs without it get no chart (and no complaint).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{ChartError, FONT_FAMILY, Figure, Prepared, color, err, summary};
use crate::workload::generals::GeneralsReport;

const CHART: &str = "two-generals chart";
const WIDTH: u32 = 1100;
const HEIGHT: u32 = 700;

pub struct Generals {
    report: GeneralsReport,
}

/// The chart of a run with `[two_generals]` (none otherwise).
pub fn prepare(dir: &Path) -> Result<Vec<Prepared>, ChartError> {
    let s = summary(dir, CHART)?;
    let Some(report) = s.two_generals else { return Ok(Vec::new()) };
    let title = "The two generals: agreement is never certain".to_string();
    let caption = format!(
        "Share of runs in which exactly one general attacks (disagreement) and both attack, by the depth k of \
         the alternating message chain, each message lost with p = {}: simulated (points) beside p(1−p)^(k−1) \
         and (1−p)^k (lines). Disagreement shrinks with k but never reaches zero, and attacking together becomes \
         rarer too.",
        report.p
    );
    Ok(vec![Prepared::new("two-generals".into(), title, caption, Generals { report })])
}

impl Figure for Generals {
    fn size(&self) -> (u32, u32) {
        (WIDTH, HEIGHT)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(err)?;
        let (plot_area, legend_area) = root.split_vertically(HEIGHT - 80);
        let rows = &self.report.rows;
        let k_max = rows.last().map_or(1, |r| r.depth) as f64;
        let positive = rows
            .iter()
            .flat_map(|r| [r.disagreement, r.both_attack, r.disagreement_closed_form, r.both_attack_closed_form])
            .filter(|v| *v > 0.0);
        let lo = positive.fold(1.0f64, f64::min);
        let y_min = libm::pow(10.0, libm::log10(lo).floor()).min(0.1);
        let mut chart = ChartBuilder::on(&plot_area)
            .caption("The two generals: disagreement and joint attack by chain depth", (FONT_FAMILY, 24))
            .margin(16)
            .margin_right(40)
            .x_label_area_size(56)
            .y_label_area_size(80)
            .build_cartesian_2d(0.5..k_max + 0.5, (y_min..1.0).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("depth k (messages in the chain)")
            .y_desc("share of runs (log)")
            .x_labels(rows.len().max(2))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y}"))
            .label_style((FONT_FAMILY, 16))
            .axis_desc_style((FONT_FAMILY, 18))
            .draw()
            .map_err(err)?;
        type Pick = fn(&crate::workload::generals::GeneralsRow) -> (f64, f64);
        let series: [(Pick, usize); 2] = [
            (|r| (r.disagreement, r.disagreement_closed_form), 0),
            (|r| (r.both_attack, r.both_attack_closed_form), 1),
        ];
        for (pick, c) in series {
            let line = rows.iter().map(|r| (r.depth as f64, pick(r).1.max(y_min)));
            chart.draw_series(LineSeries::new(line, color(c).stroke_width(2))).map_err(err)?;
            let points = rows.iter().filter(|r| pick(r).0 > 0.0).map(|r| (r.depth as f64, pick(r).0));
            chart.draw_series(points.map(|p| Circle::new(p, 5, color(c).filled()))).map_err(err)?;
        }
        let font = (FONT_FAMILY, 15.0).into_font();
        let labels = [
            "disagreement: simulated (points), p(1−p)^(k−1) (line)",
            "both attack: simulated (points), (1−p)^k (line)",
        ];
        for (i, label) in labels.iter().enumerate() {
            let y = 8 + i as i32 * 26;
            legend_area
                .draw(&PathElement::new(vec![(96, y + 8), (120, y + 8)], color(i).stroke_width(3)))
                .map_err(err)?;
            legend_area.draw(&Text::new(label.to_string(), (130, y), font.clone())).map_err(err)?;
        }
        Ok(())
    }
}
