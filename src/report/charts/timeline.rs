//! Suspicion over time around each injected fault: one panel per detector configuration
//! (each on its own axis, so φ, seconds of silence and 0/1 detectors can sit together),
//! its level against time, its threshold, the fault's window shaded, the intervals in which
//! it suspected marked, and the heartbeats that reached the monitor as ticks.
//!
//! Reads `faults.json` (into [`FaultView`]s), `timeline/levels.csv` and
//! `timeline/arrivals.csv`, written by the simulator for up to six faults (one
//! representative monitored link each), and each configuration's `kind` from
//! `summary.json`, which names the level's unit on the y axis. A level above
//! [`CAP`] times its threshold is drawn at the cap with ▲ markers, and the panel says so, so
//! that a curve that keeps rising never looks as if it flattened.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::analysis::output::FaultView;

use super::{ChartError, FONT_FAMILY, Figure, Prepared, color, err, read, thin};

const CHART: &str = "suspicion timeline";
/// Panels per chart; a larger sweep is thinned evenly.
pub(crate) const MAX_PANELS: usize = crate::analysis::sampling::MAX_SAMPLED;
/// The highest level a panel shows, as a multiple of the threshold.
pub const CAP: f64 = 4.0;
const LEGEND_FONT: f64 = 15.0;
const SWATCH: i32 = 30;

/// What a kind's level measures, for its y axis (by the `kind` summary.json records).
fn level_unit(kind: Option<&str>) -> &'static str {
    match kind {
        Some("phi" | "phi-exp") => "φ",
        Some("fixed" | "deadline") => "silence (s)",
        Some("chen" | "2w") => "s past expected arrival",
        Some("empirical") => "share of gaps shorter",
        Some("bertier" | "eventually-perfect") => "suspected (0/1)",
        _ => "level",
    }
}

struct Series {
    label: String,
    unit: &'static str,
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
    let kinds: Vec<(String, String)> = match super::summary(dir, CHART) {
        Ok(s) => s.results.iter().map(|r| (r.detector.clone(), r.kind.clone())).collect(),
        Err(_) => Vec::new(),
    };
    let unit = |label: &str| level_unit(kinds.iter().find(|(d, _)| d == label).map(|(_, k)| k.as_str()));
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
                None => series.push(Series {
                    label: field(4).to_string(),
                    unit: unit(field(4)),
                    threshold,
                    samples: vec![(t, level, suspected)],
                }),
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
        // A replayed trace without a `monitor` column names no monitor.
        let monitor = if f.monitor.is_empty() { "its monitor" } else { f.monitor.as_str() };
        let title = match f.node.as_deref() {
            Some(node) => format!("{} of {node} at {:.1} s: {monitor} watching {}", f.kind, fault.0, f.target),
            // A replay's longest silence, a cut or a route change: of a link, not a node.
            None if f.kind != "partition" && f.kind != "delay change" => {
                format!("{} at {:.1} s: {monitor} watching {}", f.kind, fault.0, f.target)
            }
            None => format!("{} of links at {:.1} s: {monitor} watching {}", f.kind, fault.0, f.target),
        };
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
        let grey = RGBColor(120, 120, 120).mix(0.2);
        let orange = RGBColor(255, 140, 0).mix(0.35);
        // The legend: a swatch drawn as the panels draw it, then its meaning.
        let entries: [(&str, u8); 6] = [
            ("fault window", 0),
            ("suspected", 1),
            ("suspected during the fault", 2),
            ("threshold", 3),
            ("heartbeat received", 4),
            ("level above the axis", 5),
        ];
        let labels: Vec<&str> = entries.iter().map(|e| e.0).collect();
        let font = (FONT_FAMILY, LEGEND_FONT).into_font();
        for ((label, swatch), (x, _)) in entries.iter().zip(super::legend_flow(&labels, LEGEND_FONT, SWATCH, 1200)) {
            let (y, box_) = (6, [(x, 4), (x + 22, 20)]);
            match swatch {
                0 => legend.draw(&Rectangle::new(box_, grey.filled())),
                1 => legend.draw(&Rectangle::new(box_, orange.filled())),
                2 => legend
                    .draw(&Rectangle::new(box_, grey.filled()))
                    .and_then(|_| legend.draw(&Rectangle::new(box_, orange.filled()))),
                3 => legend.draw(&PathElement::new(vec![(x, 12), (x + 22, 12)], RED.stroke_width(1))),
                4 => legend.draw(&PathElement::new(vec![(x + 11, 6), (x + 11, 20)], BLACK.stroke_width(1))),
                _ => legend.draw(&up_marker(color(0))((x + 11, 12))),
            }
            .map_err(err)?;
            legend.draw(&Text::new(*label, (x + SWATCH, y), font.clone())).map_err(err)?;
        }
        let panels = body.split_evenly((self.series.len(), 1));
        for (i, (panel, s)) in panels.iter().zip(&self.series).enumerate() {
            let binary = s.samples.iter().all(|(_, l, _)| *l == 0.0 || *l == 1.0) && s.threshold <= 1.0;
            let finite_max = s.samples.iter().map(|x| x.1).filter(|l| l.is_finite()).fold(0.0, f64::max);
            let finite_min = s.samples.iter().map(|x| x.1).filter(|l| l.is_finite()).fold(0.0, f64::min);
            let cap = s.threshold * CAP;
            let capped = !binary && s.threshold > 0.0 && s.samples.iter().any(|x| x.1 > cap);
            let top = if binary {
                1.2
            } else if capped {
                cap
            } else {
                (s.threshold * 2.0).max(finite_max) * 1.05
            };
            let bottom = if binary { 0.0 } else { finite_min.min(0.0) };
            let caption = if capped {
                format!("{}: axis capped at {CAP}× the threshold, ▲ where the level is above", s.label)
            } else {
                s.label.clone()
            };
            let mut chart = ChartBuilder::on(panel)
                .caption(caption, (FONT_FAMILY, 16))
                .margin_left(10)
                .margin_right(30)
                .x_label_area_size(if i + 1 == self.series.len() { 40 } else { 20 })
                .y_label_area_size(80)
                .build_cartesian_2d(self.view.0..self.view.1, bottom..top)
                .map_err(err)?;
            let mut mesh = chart.configure_mesh();
            mesh.label_style((FONT_FAMILY, 13)).axis_desc_style((FONT_FAMILY, 14)).y_labels(4);
            // Plotters' own labels, except extreme ones (a level of −2·10^8 s), kept short.
            let y_label = |y: &f64| {
                if y.abs() >= super::COMPACT_FROM {
                    super::compact_number(*y)
                } else {
                    <plotters::coord::types::RangedCoordf64 as plotters::coord::ranged1d::ValueFormatter<f64>>::format(
                        y,
                    )
                }
            };
            mesh.y_label_formatter(&y_label);
            if i + 1 == self.series.len() {
                mesh.x_desc("time (s)");
            }
            mesh.y_desc(if binary { "suspected (0/1)" } else { s.unit }).draw().map_err(err)?;
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
            if capped {
                // ▲ along each stretch above the cap, at most one per 40 px.
                let seconds_per_marker = (self.view.1 - self.view.0) * 40.0 / 1100.0;
                let mut last_marker = f64::MIN;
                for (t, l, _) in &s.samples {
                    if *l > top && *t - last_marker >= seconds_per_marker {
                        let at = chart.backend_coord(&(*t, top));
                        root.draw(&up_marker(color(0))((at.0, at.1 + 8))).map_err(err)?;
                        last_marker = *t;
                    }
                }
            }
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

/// A filled triangle pointing up, centred on the point: the level is above the axis.
fn up_marker(c: RGBColor) -> impl Fn((i32, i32)) -> Polygon<(i32, i32)> {
    move |(x, y)| Polygon::new(vec![(x - 6, y + 5), (x + 6, y + 5), (x, y - 6)], c.filled())
}

/// Prepares `charts/timeline-N.{png,svg}` for every sampled fault.
pub fn prepare(dir: &Path) -> Result<Vec<Prepared>, ChartError> {
    Ok(load(dir)?
        .into_iter()
        .map(|(id, t)| {
            let caption = format!(
                "Each panel is one detector: its suspicion level in its own unit as the fault (grey) unfolds, the \
                 threshold (red), when it suspected (orange; darker where that was during the fault) and the \
                 heartbeats that arrived (ticks). A level above {CAP}× its threshold is drawn at the top of its \
                 panel with ▲ markers."
            );
            Prepared::new(format!("timeline-{id}"), t.title.clone(), caption, t)
        })
        .collect())
}
