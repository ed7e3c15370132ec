//! Latency distributions: one-way delay and inter-arrival time, each as an HdrHistogram
//! percentile plot (x: percentile on a 1/(1−p) log axis, so the tail gets the room) and as a
//! histogram.
//!
//! Reads `delay.hgrm` and `interarrival.hgrm`. The histogram is rebuilt from the percentile
//! file's cumulative counts, interpolated linearly between its rows.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{ChartError, FONT_FAMILY, Figure, Prepared, color, err, read};
use crate::report::hgrm::parse_rows;

const CHART: &str = "latency chart";
const BINS: usize = 40;

/// Rows of a percentile file: (value ms, quantile, cumulative count).
type Rows = Vec<(f64, f64, u64)>;

pub struct Latency {
    distributions: Vec<(&'static str, Rows)>,
}

pub fn load(dir: &Path) -> Result<Latency, ChartError> {
    let mut distributions = Vec::new();
    for (file, name) in [("delay.hgrm", "one-way delay"), ("interarrival.hgrm", "inter-arrival time")] {
        let rows = parse_rows(&read(dir, file, CHART)?);
        if rows.is_empty() {
            return Err(ChartError::MissingData {
                chart: CHART,
                dir: dir.to_path_buf(),
                what: format!("values in {file}"),
            });
        }
        distributions.push((name, rows));
    }
    Ok(Latency { distributions })
}

/// Counts in `BINS` equal bins between the first row and the 99.9th percentile.
fn histogram(rows: &[(f64, f64, u64)]) -> Vec<(f64, f64, f64)> {
    let lo = rows[0].0;
    let hi = rows.iter().find(|r| r.1 >= 0.999).map_or(rows[rows.len() - 1].0, |r| r.0).max(lo + 1e-6);
    let cumulative = |v: f64| -> f64 {
        match rows.iter().position(|r| r.0 >= v) {
            None => rows[rows.len() - 1].2 as f64,
            Some(0) => rows[0].2 as f64,
            Some(i) => {
                let (a, b) = (rows[i - 1], rows[i]);
                let f = if b.0 > a.0 { (v - a.0) / (b.0 - a.0) } else { 1.0 };
                a.2 as f64 + f * (b.2 as f64 - a.2 as f64)
            }
        }
    };
    let width = (hi - lo) / BINS as f64;
    (0..BINS)
        .map(|i| {
            let (a, b) = (lo + width * i as f64, lo + width * (i + 1) as f64);
            (a, b, (cumulative(b) - cumulative(a)).max(0.0))
        })
        .collect()
}

fn percentile_label(x: f64) -> String {
    let p = 100.0 * (1.0 - 1.0 / x);
    if p < 99.0 {
        format!("{p:.0}%")
    } else {
        format!("{p:.4}").trim_end_matches('0').trim_end_matches('.').to_string() + "%"
    }
}

impl Figure for Latency {
    fn size(&self) -> (u32, u32) {
        (1200, 900)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(err)?;
        let titled = root.titled("Latency distributions", (FONT_FAMILY, 26)).map_err(err)?;
        let cells = titled.split_evenly((2, 2));
        for (col, (name, rows)) in self.distributions.iter().enumerate() {
            let c = color(col);
            let finite: Vec<(f64, f64)> = rows.iter().filter(|r| r.1 < 1.0).map(|r| (1.0 / (1.0 - r.1), r.0)).collect();
            let x_max = finite.iter().map(|p| p.0).fold(10.0, f64::max) * 10.0;
            let y_max = rows.iter().map(|r| r.0).fold(0.0, f64::max) * 1.05 + 1e-9;
            let mut chart = ChartBuilder::on(&cells[col])
                .caption(format!("{name}: percentiles"), (FONT_FAMILY, 18))
                .margin(12)
                .x_label_area_size(44)
                .y_label_area_size(70)
                .build_cartesian_2d((1.0..x_max).log_scale(), 0.0..y_max)
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc("percentile")
                .y_desc(format!("{name} (ms)"))
                .x_label_formatter(&|x| percentile_label(*x))
                .label_style((FONT_FAMILY, 13))
                .axis_desc_style((FONT_FAMILY, 14))
                .draw()
                .map_err(err)?;
            let mut line = finite.clone();
            if let Some(last) = rows.last() {
                line.push((x_max, last.0));
            }
            chart.draw_series(LineSeries::new(line, c.stroke_width(2))).map_err(err)?;

            let bins = histogram(rows);
            let count_max = bins.iter().map(|b| b.2).fold(0.0, f64::max) * 1.1 + 1.0;
            let mut chart = ChartBuilder::on(&cells[2 + col])
                .caption(format!("{name}: histogram (to p99.9)"), (FONT_FAMILY, 18))
                .margin(12)
                .x_label_area_size(44)
                .y_label_area_size(70)
                .build_cartesian_2d(bins[0].0..bins[BINS - 1].1, 0.0..count_max)
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc(format!("{name} (ms)"))
                .y_desc("heartbeats")
                .label_style((FONT_FAMILY, 13))
                .axis_desc_style((FONT_FAMILY, 14))
                .draw()
                .map_err(err)?;
            chart
                .draw_series(bins.iter().map(|&(a, b, n)| Rectangle::new([(a, 0.0), (b, n)], c.mix(0.7).filled())))
                .map_err(err)?;
        }
        Ok(())
    }
}

pub fn prepare(dir: &Path) -> Result<Vec<Prepared>, ChartError> {
    let l = load(dir)?;
    let caption = "One-way delay and inter-arrival time of the delivered heartbeats: percentile plots on a \
                  1/(1−p) axis that gives the tail room (top), histograms up to the 99.9th percentile (bottom)."
        .into();
    Ok(vec![Prepared::new("latency".into(), "Latency distributions".into(), caption, l)])
}
