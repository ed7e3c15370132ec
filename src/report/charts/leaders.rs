//! The leader timeline: around the longest split-brain episode, one lane per node showing
//! whom it believed led (a colour per named node, a heavy outline while it believed it led
//! itself), grey while paused or crashed, and the split brain marked across the lanes.
//!
//! Reads `cluster/leaders.json` (written by a `[cluster]` simulation with split brain).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{ChartError, FONT_FAMILY, Figure, Prepared, color, err, legend_flow, read};
use crate::analysis::cluster::timeline::LeaderTimeline;

const CHART: &str = "leader timeline";
const FILE: &str = "cluster/leaders.json";
const WIDTH: u32 = 1200;
/// Room for three rows of legend.
const LEGEND: u32 = 90;

pub struct Leaders {
    t: LeaderTimeline,
}

/// The leader timeline, when the run had split brain.
pub fn prepare(dir: &Path) -> Result<Vec<Prepared>, ChartError> {
    // A run without split brain (or without cluster views) has no timeline: no chart, and
    // no complaint.
    let text = match read(dir, FILE, CHART) {
        Ok(text) => text,
        Err(ChartError::MissingData { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let t: LeaderTimeline = serde_json::from_str(&text)
        .map_err(|e| ChartError::BadData { file: dir.join(FILE), message: e.to_string() })?;
    if t.nodes.is_empty() || t.to_s <= t.from_s {
        return Err(ChartError::BadData { file: dir.join(FILE), message: "no node or an empty window".into() });
    }
    let title = format!("Who believed they led: {} under `{}`", t.detector, t.rule);
    let shown = if t.nodes.len() < t.cluster_nodes {
        format!(
            " {} of the {} nodes are shown (those that led, stopped or changed their mind first).",
            t.nodes.len(),
            t.cluster_nodes
        )
    } else {
        String::new()
    };
    let caption = format!(
        "The longest split-brain episode of the run ({:.3} s, from {:.3} s): each lane is one node, coloured by the \
         node it named as leader, outlined in black while it believed it led itself; grey while paused, dark grey \
         while crashed, white when it named none. Red: split brain, two or more running nodes leading at once.{shown}",
        t.episode_s[1] - t.episode_s[0],
        t.episode_s[0]
    );
    Ok(vec![Prepared::new("leaders".into(), title, caption, Leaders { t })])
}

impl Leaders {
    fn height(&self) -> u32 {
        170 + LEGEND + 44 * self.t.nodes.len() as u32
    }

    /// The colour of a named node (its lane's index, so a node and its name match).
    fn named_color(&self, id: &str) -> RGBColor {
        color(self.t.nodes.iter().position(|n| n == id).unwrap_or(self.t.nodes.len()))
    }
}

impl Figure for Leaders {
    fn size(&self) -> (u32, u32) {
        (WIDTH, self.height())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(err)?;
        let (plot_area, legend_area) = root.split_vertically(self.height() - LEGEND);
        let t = &self.t;
        let lanes = t.nodes.len() as f64;
        let mut chart = ChartBuilder::on(&plot_area)
            .caption(format!("Leader beliefs around split brain ({} under {})", t.detector, t.rule), (FONT_FAMILY, 24))
            .margin(16)
            .margin_right(40)
            .x_label_area_size(56)
            .y_label_area_size(90)
            .build_cartesian_2d(t.from_s..t.to_s, 0.0..lanes)
            .map_err(err)?;
        let names = t.nodes.clone();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc("time in the run (s)")
            .y_labels(names.len() * 2 + 1)
            .y_label_formatter(&|y| {
                // Lane i spans [n − i − 1, n − i): its name at the middle.
                let i = lanes - y - 0.5;
                let nearest = i.round();
                if (i - nearest).abs() < 1e-6 && nearest >= 0.0 && (nearest as usize) < names.len() {
                    names[nearest as usize].clone()
                } else {
                    String::new()
                }
            })
            .label_style((FONT_FAMILY, 16))
            .axis_desc_style((FONT_FAMILY, 18))
            .draw()
            .map_err(err)?;
        // Split brain, behind the lanes.
        let red = RGBColor(220, 40, 40);
        chart
            .draw_series(t.split_s.iter().map(|s| Rectangle::new([(s[0], 0.0), (s[1], lanes)], red.mix(0.25).filled())))
            .map_err(err)?;
        for span in &t.spans {
            let Some(i) = t.nodes.iter().position(|n| *n == span.node) else { continue };
            let (y0, y1) = (lanes - i as f64 - 0.85, lanes - i as f64 - 0.15);
            let fill = match span.state.as_str() {
                "crashed" => RGBColor(90, 90, 90),
                "paused" => RGBColor(190, 190, 190),
                "none" => WHITE,
                id => self.named_color(id),
            };
            chart.draw_series([Rectangle::new([(span.from_s, y0), (span.to_s, y1)], fill.filled())]).map_err(err)?;
            let outline = if span.leads { BLACK.stroke_width(3) } else { RGBColor(160, 160, 160).stroke_width(1) };
            chart.draw_series([Rectangle::new([(span.from_s, y0), (span.to_s, y1)], outline)]).map_err(err)?;
        }
        // Legend: the named nodes' colours, then the states, flowed in rows.
        let mut entries: Vec<(String, ShapeStyle)> =
            t.nodes.iter().map(|id| (format!("names {id}"), self.named_color(id).filled())).collect();
        entries.push(("names none".into(), WHITE.filled()));
        entries.push(("paused".into(), RGBColor(190, 190, 190).filled()));
        entries.push(("crashed".into(), RGBColor(90, 90, 90).filled()));
        entries.push(("believes it leads".into(), BLACK.stroke_width(3)));
        entries.push(("split brain".into(), red.mix(0.25).filled()));
        let labels: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        let font = (FONT_FAMILY, 15.0).into_font();
        for ((label, style), (x, row)) in entries.iter().zip(legend_flow(&labels, 15.0, 30, WIDTH)) {
            let y = 8 + row * 26;
            legend_area.draw(&Rectangle::new([(x, y + 1), (x + 22, y + 17)], *style)).map_err(err)?;
            legend_area.draw(&Rectangle::new([(x, y + 1), (x + 22, y + 17)], RGBColor(160, 160, 160))).map_err(err)?;
            legend_area.draw(&Text::new(label.clone(), (x + 30, y), font.clone())).map_err(err)?;
        }
        Ok(())
    }
}
