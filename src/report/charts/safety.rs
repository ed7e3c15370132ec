//! The safety trade-off of a `[cluster]` run: per leader rule, split-brain time per day
//! against what safety costs (the mean failover time after a crash of the leader, or, where
//! no leader crashed, the leaderless time per day), one curve per rule and detector family
//! across the threshold sweep.
//!
//! Reads `summary.json`'s `cluster`.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{ChartError, FONT_FAMILY, Figure, Prepared, color, err, legend_flow, summary};

const CHART: &str = "safety trade-off";
const WIDTH: u32 = 1200;
const HEIGHT: u32 = 760;
const LEGEND: u32 = 110;

/// One curve: its legend and its points (cost, split brain per day), by threshold.
type Curve = (String, Vec<(f64, f64)>);

pub struct Safety {
    curves: Vec<Curve>,
    x_desc: &'static str,
}

/// The safety trade-off, for runs with cluster figures.
pub fn prepare(dir: &Path) -> Result<Vec<Prepared>, ChartError> {
    let s = summary(dir, CHART)?;
    // Runs without cluster views (or with no leader rule) have no chart, and no complaint.
    if s.cluster.is_empty() || s.cluster.iter().all(|c| c.rules.is_empty()) {
        return Ok(Vec::new());
    }
    let day = 86_400.0 / s.run_end_s.max(1e-9);
    let failover = s.cluster.iter().flat_map(|c| &c.rules).all(|f| f.failover_mean_s.is_some());
    // (name, its points as (cost, split brain per day, threshold))
    type Points = Vec<(f64, f64, f64)>;
    let mut curves: Vec<(String, Points)> = Vec::new();
    for c in &s.cluster {
        for f in &c.rules {
            let name = format!("{} · {}", c.kind, f.rule);
            let cost = if failover { f.failover_mean_s.unwrap_or(0.0) } else { f.leaderless_s * day };
            let point = (cost, f.split_brain_s * day, c.threshold);
            match curves.iter_mut().find(|(n, _)| *n == name) {
                Some((_, points)) => points.push(point),
                None => curves.push((name, vec![point])),
            }
        }
    }
    let curves = curves
        .into_iter()
        .map(|(name, mut points)| {
            points.sort_by(|a, b| a.2.total_cmp(&b.2));
            (format!("{name} ({} settings)", points.len()), points.into_iter().map(|p| (p.0, p.1)).collect())
        })
        .collect();
    let x_desc = if failover { "mean failover after a crash of the leader (s)" } else { "leaderless time per day (s)" };
    let caption = format!(
        "Split-brain time per day against {} for each leader rule and detector family; the points of a curve are \
         the family's settings in threshold order (summary.json's `cluster`). Down and to the left is better: a rule \
         that removes split brain pays for it to the right. Curves that coincide are drawn one over another, \
         each later one thinner, so all stay visible.",
        if failover { "the mean failover time" } else { "leaderless time per day (no leader crashed in this run)" }
    );
    Ok(vec![Prepared::new(
        "safety".into(),
        "Safety against its price, per leader rule".into(),
        caption,
        Safety { curves, x_desc },
    )])
}

impl Figure for Safety {
    fn size(&self) -> (u32, u32) {
        (WIDTH, HEIGHT)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(err)?;
        let (plot_area, legend_area) = root.split_vertically(HEIGHT - LEGEND);
        let all = || self.curves.iter().flat_map(|(_, p)| p);
        let x_max = all().map(|p| p.0).fold(0.0, f64::max).max(1e-3) * 1.15;
        let y_max = all().map(|p| p.1).fold(0.0, f64::max).max(1e-3) * 1.15;
        let mut chart = ChartBuilder::on(&plot_area)
            .caption("Split brain per day against its price", (FONT_FAMILY, 26))
            .margin(16)
            .margin_right(40)
            .x_label_area_size(56)
            .y_label_area_size(90)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(self.x_desc)
            .y_desc("split brain per day (s)")
            .x_label_formatter(&|x| trim(*x))
            .y_label_formatter(&|y| trim(*y))
            .label_style((FONT_FAMILY, 16))
            .axis_desc_style((FONT_FAMILY, 18))
            .draw()
            .map_err(err)?;
        // Curves that coincide stay visible: later curves draw thinner lines and smaller
        // markers over the earlier ones.
        let count = self.curves.len() as u32;
        for (i, (_, points)) in self.curves.iter().enumerate() {
            let c = color(i);
            let shrink = i as u32;
            chart
                .draw_series(LineSeries::new(points.clone(), c.stroke_width((count - shrink).clamp(1, 6) + 1)))
                .map_err(err)?;
            let radius = (4 + 2 * (count - shrink)).min(18) as i32;
            chart.draw_series(points.iter().map(|&p| Circle::new(p, radius, c.filled()))).map_err(err)?;
        }
        let labels: Vec<&str> = self.curves.iter().map(|c| c.0.as_str()).collect();
        let font = (FONT_FAMILY, 15.0).into_font();
        for (i, (label, (x, row))) in labels.iter().zip(legend_flow(&labels, 15.0, 34, WIDTH)).enumerate() {
            let y = 8 + row * 26;
            legend_area
                .draw(&PathElement::new(vec![(x, y + 9), (x + 24, y + 9)], color(i).stroke_width(3)))
                .map_err(err)?;
            legend_area.draw(&Text::new(label.to_string(), (x + 32, y), font.clone())).map_err(err)?;
        }
        Ok(())
    }
}

/// A tick: no needless zeros.
fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}
