//! Suspicion over time around each injected fault: one panel per detector configuration
//! (each on its own axis, so φ, seconds of silence and 0/1 detectors can sit together),
//! its level against time, its threshold, the fault's window shaded, the intervals in which
//! it suspected marked, and the heartbeats that reached the monitor as ticks.
//!
//! Reads `faults.json` (into [`FaultView`]s), `timeline/levels.csv` and
//! `timeline/arrivals.csv`, written by the simulator for up to six faults (one
//! representative monitored link each).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::analysis::output::FaultView;

use super::{ChartError, FONT_FAMILY, Figure, Prepared, color, err, read, thin};

const CHART: &str = "suspicion timeline";
/// Panels per chart; a larger sweep is thinned evenly.
pub(crate) const MAX_PANELS: usize = crate::analysis::sampling::MAX_SAMPLED;

struct Series {
    label: String,
    threshold: f64,
    /// (seconds, level, suspected)
    samples: Vec<(f64, f64, bool)>,
}

pub struct Timeline {
    title: String,
    fault: (f64, f64),
    view: (f64, f64),
    series: Vec<Series>,
    arrivals: Vec<f64>,
}

/// Reads `faults.json`.
pub fn faults(dir: &Path) -> Result<Vec<FaultView>, ChartError> {
    serde_json::from_str(&read(dir, "faults.json", CHART)?).map_err(|e| bad(dir, "faults.json", e.to_string()))
}

fn bad(dir: &Path, file: &str, message: String) -> ChartError {
    ChartError::BadData { file: dir.join(file), message }
}

/// Reads every fault's timeline.
pub fn load(dir: &Path) -> Result<Vec<(usize, Timeline)>, ChartError> {
    let faults = faults(dir)?;
    if faults.is_empty() {
        return Err(ChartError::MissingData {
            chart: CHART,
            dir: dir.to_path_buf(),
            what: "injected faults (faults.json is empty)".into(),
        });
    }
    let levels = read(dir, "timeline/levels.csv", CHART)?;
    let arrivals = read(dir, "timeline/arrivals.csv", CHART)?;
    let mut charts = Vec::new();
    for f in &faults {
        let id = f.id;
        let view = (f.view_from_s, f.view_to_s);
        let fault = (f.from_s, f.to_s.unwrap_or(view.1));
        let mut series: Vec<Series> = Vec::new();
        let mut reader = csv::Reader::from_reader(levels.as_bytes());
        for (line, row) in reader.records().enumerate() {
            let row = row.map_err(|e| bad(dir, "timeline/levels.csv", e.to_string()))?;
            let field = |i: usize| row.get(i).unwrap_or_default();
            let parse = |i: usize| -> Result<f64, ChartError> {
                field(i).parse::<f64>().map_err(|_| {
                    bad(dir, "timeline/levels.csv", format!("line {}: bad number `{}`", line + 2, field(i)))
                })
            };
            if field(0) != id.to_string() {
                continue;
            }
            // The one schema of level files (`crate::analysis::output::LEVELS_HEADER`).
            let (t, level, threshold) = (parse(1)? / 1e9, parse(5)?, parse(6)?);
            let suspected = field(7) == "true";
            match series.iter_mut().find(|s| s.label == field(4)) {
                Some(s) => s.samples.push((t, level, suspected)),
                None => {
                    series.push(Series { label: field(4).to_string(), threshold, samples: vec![(t, level, suspected)] })
                }
            }
        }
        if series.is_empty() {
            continue;
        }
        let series = thin(series, MAX_PANELS);
        let ticks: Vec<f64> = arrivals
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(','))
            .filter(|(w, _)| *w == id.to_string())
            .filter_map(|(_, t)| t.parse::<f64>().ok().map(|t| t / 1e9))
            .collect();
        let title = format!(
            "{} of {} at {:.1} s: {} watching {}",
            f.kind,
            f.node.as_deref().unwrap_or("links"),
            fault.0,
            f.monitor,
            f.target
        );
        charts.push((id, Timeline { title, fault, view, series, arrivals: ticks }));
    }
    if charts.is_empty() {
        return Err(ChartError::MissingData {
            chart: CHART,
            dir: dir.to_path_buf(),
            what: "sampled levels around faults".into(),
        });
    }
    Ok(charts)
}

impl Figure for Timeline {
    fn size(&self) -> (u32, u32) {
        (1200, 120 + 190 * self.series.len() as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(err)?;
        let titled = root.titled(&self.title, (FONT_FAMILY, 24)).map_err(err)?;
        let (legend, body) = titled.split_vertically(30);
        legend
            .draw(&Text::new(
                "grey: fault window · orange: suspected · red line: threshold · ticks: heartbeats received",
                (90, 6),
                (FONT_FAMILY, 15).into_font(),
            ))
            .map_err(err)?;
        let panels = body.split_evenly((self.series.len(), 1));
        let grey = RGBColor(120, 120, 120).mix(0.2);
        let orange = RGBColor(255, 140, 0).mix(0.35);
        for (i, (panel, s)) in panels.iter().zip(&self.series).enumerate() {
            let binary = s.samples.iter().all(|(_, l, _)| *l == 0.0 || *l == 1.0) && s.threshold <= 1.0;
            let finite_max = s.samples.iter().map(|x| x.1).filter(|l| l.is_finite()).fold(0.0, f64::max);
            let finite_min = s.samples.iter().map(|x| x.1).filter(|l| l.is_finite()).fold(0.0, f64::min);
            let top = if binary { 1.2 } else { (s.threshold * 2.0).max(finite_max.min(s.threshold * 4.0)) * 1.05 };
            let bottom = if binary { 0.0 } else { finite_min.min(0.0) };
            let mut chart = ChartBuilder::on(panel)
                .caption(&s.label, (FONT_FAMILY, 16))
                .margin_left(10)
                .margin_right(20)
                .x_label_area_size(if i + 1 == self.series.len() { 40 } else { 20 })
                .y_label_area_size(80)
                .build_cartesian_2d(self.view.0..self.view.1, bottom..top)
                .map_err(err)?;
            let mut mesh = chart.configure_mesh();
            mesh.label_style((FONT_FAMILY, 13)).axis_desc_style((FONT_FAMILY, 14)).y_labels(4);
            if i + 1 == self.series.len() {
                mesh.x_desc("time (s)");
            }
            mesh.y_desc(if binary { "suspected" } else { "level" }).draw().map_err(err)?;
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(self.fault.0, bottom), (self.fault.1, top)],
                    grey.filled(),
                )))
                .map_err(err)?;
            // Suspicion intervals from the samples.
            let mut start = None;
            for w in s.samples.windows(2) {
                match (start, w[0].2) {
                    (None, true) => start = Some(w[0].0),
                    (Some(from), false) => {
                        chart
                            .draw_series(std::iter::once(Rectangle::new(
                                [(from, bottom), (w[0].0, top)],
                                orange.filled(),
                            )))
                            .map_err(err)?;
                        start = None;
                    }
                    _ => {}
                }
            }
            if let (Some(from), Some(last)) = (start, s.samples.last()) {
                chart
                    .draw_series(std::iter::once(Rectangle::new([(from, bottom), (last.0, top)], orange.filled())))
                    .map_err(err)?;
            }
            let line = s.samples.iter().map(|(t, l, _)| (*t, if l.is_finite() { l.clamp(bottom, top) } else { top }));
            chart.draw_series(LineSeries::new(line, color(0).stroke_width(2))).map_err(err)?;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(self.view.0, s.threshold), (self.view.1, s.threshold)],
                    RED.stroke_width(1),
                )))
                .map_err(err)?;
            let tick = (top - bottom) * 0.08;
            chart
                .draw_series(
                    self.arrivals
                        .iter()
                        .map(|&t| PathElement::new(vec![(t, bottom), (t, bottom + tick)], BLACK.stroke_width(1))),
                )
                .map_err(err)?;
        }
        Ok(())
    }
}

/// Prepares `charts/timeline-N.{png,svg}` for every sampled fault.
pub fn prepare(dir: &Path) -> Result<Vec<Prepared>, ChartError> {
    Ok(load(dir)?
        .into_iter()
        .map(|(id, t)| {
            let caption = "Each panel is one detector: its suspicion level as the fault unfolds (grey), the \
                          threshold (red), when it suspected (orange) and the heartbeats that arrived (ticks)."
                .into();
            Prepared::new(format!("timeline-{id}"), t.title.clone(), caption, t)
        })
        .collect())
}
