//! Latency distributions: one-way delay and inter-arrival time, each as an HdrHistogram
//! percentile plot (x: percentile on a 1/(1−p) log axis, so the tail gets the room; y: log,
//! so that the body stays readable beside a tail orders of magnitude longer) and as a
//! histogram.
//!
//! Reads `delay.hgrm` and `interarrival.hgrm`. The histogram is rebuilt from the percentile
//! file's cumulative counts: one bar per pair of consecutive rows, as wide as the values
//! between them and as high as their density (heartbeats per ms), up to the 99.9th
//! percentile. Equal-width bins would have to spread a coarse row's count evenly over values
//! the file says nothing about (the lowest 10 % span 0–85 ms in a run with 100 ms heartbeats).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{ChartError, FONT_FAMILY, Figure, Prepared, color, err, read};
use crate::report::hgrm::parse_rows;

const CHART: &str = "latency chart";

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

/// Bars `(from ms, to ms, heartbeats per ms)` between consecutive rows, from the first row
/// to the 99.9th percentile; rows with the same value hold no heartbeats between them. Bars
/// at either end thinner than [`THIN`] of the tallest are left out, so that a few stray
/// values (a burst's 0 ms gaps, one late heartbeat) do not squeeze the body into a sliver;
/// also returned are the percentiles the bars kept span.
fn histogram(rows: &[(f64, f64, u64)]) -> (Vec<(f64, f64, f64)>, [f64; 2]) {
    let last = rows.iter().position(|r| r.1 >= 0.999).unwrap_or(rows.len() - 1);
    let bars: Vec<(f64, f64, f64, [f64; 2])> = rows[..=last]
        .windows(2)
        .filter(|w| w[1].0 > w[0].0)
        .map(|w| (w[0].0, w[1].0, w[1].2.saturating_sub(w[0].2) as f64 / (w[1].0 - w[0].0), [w[0].1, w[1].1]))
        .collect();
    let peak = bars.iter().map(|b| b.2).fold(0.0, f64::max);
    let kept = |b: &&(f64, f64, f64, [f64; 2])| b.2 >= peak * THIN;
    let (Some(from), Some(to)) = (bars.iter().position(|b| kept(&b)), bars.iter().rposition(|b| kept(&b))) else {
        return (Vec::new(), [0.0, 0.0]);
    };
    let span = [bars[from].3[0], bars[to].3[1]];
    (bars[from..=to].iter().map(|b| (b.0, b.1, b.2)).collect(), span)
}

/// A histogram's end bars thinner than this share of the tallest are left out.
const THIN: f64 = 0.01;

/// A quantile as a percentile for a caption: `p0`, `p10`, `p99.9`.
fn percentile_name(q: f64) -> String {
    let p = format!("{:.3}", q * 100.0);
    format!("p{}", p.trim_end_matches('0').trim_end_matches('.'))
}

/// A count or density for an axis: whole numbers without `.0`, small ones with the digits
/// they need.
fn count_label(v: f64) -> String {
    if v == 0.0 || v.abs() >= 10.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}").trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Milliseconds for a log axis: `0.01`, `1`, `100000`.
fn ms_label(v: f64) -> String {
    if v >= 1.0 {
        format!("{v:.0}")
    } else {
        let digits = (-libm::log10(v)).ceil().max(1.0) as usize;
        format!("{v:.digits$}")
    }
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
            // Log values, in whole decades around the data, so that each axis has labels.
            let positive: Vec<f64> = rows.iter().map(|r| r.0).filter(|v| *v > 0.0).collect();
            let y_lo = positive.iter().copied().fold(f64::MAX, f64::min).min(1e9);
            let y_hi = positive.iter().copied().fold(0.0, f64::max).max(y_lo * 10.0);
            let (y_min, y_max) =
                (libm::pow(10.0, libm::log10(y_lo).floor()), libm::pow(10.0, libm::log10(y_hi).ceil()));
            let mut chart = ChartBuilder::on(&cells[col])
                .caption(format!("{name}: percentiles"), (FONT_FAMILY, 18))
                .margin(12)
                .margin_right(36)
                .x_label_area_size(44)
                .y_label_area_size(90)
                .build_cartesian_2d((1.0..x_max).log_scale(), (y_min..y_max).log_scale())
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc("percentile")
                .y_desc(format!("{name} (ms, log)"))
                .x_label_formatter(&|x| percentile_label(*x))
                .y_label_formatter(&|y| ms_label(*y))
                .label_style((FONT_FAMILY, 13))
                .axis_desc_style((FONT_FAMILY, 14))
                .draw()
                .map_err(err)?;
            let mut line: Vec<(f64, f64)> = finite.iter().map(|&(x, y)| (x, y.max(y_min))).collect();
            if let Some(last) = rows.last() {
                line.push((x_max, last.0.max(y_min)));
            }
            chart.draw_series(LineSeries::new(line, c.stroke_width(2))).map_err(err)?;

            let (bins, span) = histogram(rows);
            let (Some(first), Some(last)) = (bins.first(), bins.last()) else { continue };
            let density_max = bins.iter().map(|b| b.2).fold(0.0, f64::max) * 1.1 + 1e-9;
            let mut chart = ChartBuilder::on(&cells[2 + col])
                .caption(
                    format!("{name}: histogram, {}–{}", percentile_name(span[0]), percentile_name(span[1])),
                    (FONT_FAMILY, 18),
                )
                .margin(12)
                .margin_right(36)
                .x_label_area_size(44)
                .y_label_area_size(90)
                .build_cartesian_2d(first.0..last.1, 0.0..density_max)
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc(format!("{name} (ms)"))
                .y_desc("heartbeats per ms")
                .x_label_formatter(&|x| count_label(*x))
                .y_label_formatter(&|y| count_label(*y))
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
                  1/(1−p) axis that gives the tail room and a log value axis that keeps the body readable (top), and \
                  histograms up to the 99.9th percentile, one bar between each two rows of the percentile file, as \
                  high as the heartbeats per ms between them, sparse bars (under 1 % of the tallest) at the ends \
                  left out, the percentiles shown named in the title (bottom)."
        .into();
    Ok(vec![Prepared::new("latency".into(), "Latency distributions".into(), caption, l)])
}
