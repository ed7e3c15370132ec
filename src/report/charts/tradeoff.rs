//! The trade-off chart of the φ paper: mean detection time (x) against mistakes per day
//! (log y), one curve per detector family across its sweep, each point labelled with its
//! threshold and carrying its 95 % interval as an error bar.
//!
//! Reads `summary.json`: the totals over all links when present, otherwise the per-link
//! results. A curve is the configurations whose labels differ only in the knob (each entry's
//! `knob` names it). Detection time is measured over crashes where the run had any,
//! otherwise the per-heartbeat estimate. A configuration with no mistakes cannot sit on a
//! log axis at 0: it is drawn hollow at its 95 % upper bound, which is what the run shows.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{ChartError, FONT_FAMILY, Figure, Prepared, color, err, seconds_label, summary};
use crate::analysis::qos::DetectionBasis;

const CHART: &str = "trade-off chart";

/// One configuration on the chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// The knob's value as the label writes it (`8`, `300ms`); empty without a knob.
    pub knob: String,
    pub detection_s: f64,
    pub per_day: f64,
    pub ci: [f64; 2],
    pub zero: bool,
    /// The configuration `tune` recommends in its family: ringed.
    pub chosen: bool,
}

pub struct Tradeoff {
    pub title: String,
    pub families: Vec<(String, Vec<Point>)>,
    pub basis: String,
    /// What the x axis measures (`mean detection time`; `tune`'s objective).
    pub x_label: String,
}

/// Splits a canonical label (`HEAD[:KEY=VALUE,...]`, the knob's `KEY=VALUE` first) into
/// its curve (the label without the knob) and the knob's value. `knob` is the entry's
/// recorded knob name, so nothing is looked up or guessed; a configuration without one (or
/// from a `summary.json` older than the field) is a curve of its own.
pub fn split_label(label: &str, knob: Option<&str>) -> (String, String) {
    let whole = || (label.to_string(), String::new());
    let (Some(knob), Some((head, rest))) = (knob, label.split_once(':')) else { return whole() };
    let (first, others) = rest.split_once(',').map_or((rest, None), |(a, b)| (a, Some(b)));
    match first.strip_prefix(knob).and_then(|v| v.strip_prefix('=')) {
        Some(value) => (others.map_or_else(|| head.to_string(), |o| format!("{head}:{o}")), value.to_string()),
        None => whole(),
    }
}

/// A rate for a log axis: `1000`, `10`, `0.1`, `0.001`.
fn per_day_label(y: f64) -> String {
    if y >= 1.0 {
        format!("{y:.0}")
    } else {
        let digits = (-libm::log10(y)).ceil().max(1.0) as usize;
        format!("{y:.digits$}")
    }
}

/// Reads the points from a results directory.
pub fn load(dir: &Path) -> Result<Tradeoff, ChartError> {
    let s = summary(dir, CHART)?;
    // Per-heartbeat estimates per label (sum and count), for runs without crashes.
    let mut estimates: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for r in &s.results {
        let d = &r.qos.detection_time_s;
        if let Some(mean) = d.mean {
            let e = estimates.entry(&r.detector).or_default();
            e.0 += mean * d.count as f64;
            e.1 += d.count as f64;
        }
    }
    let mut families: Vec<(String, Vec<Point>)> = Vec::new();
    let mut crash_based = 0;
    for e in s.figures() {
        let measured = e
            .detection_time_s
            .mean
            .filter(|_| e.detection_basis == DetectionBasis::Crashes && e.detection_time_s.count > 0);
        let detection = match measured {
            Some(d) => {
                crash_based += 1;
                Some(d)
            }
            None => estimates.get(e.detector).filter(|(_, n)| *n > 0.0).map(|(sum, n)| sum / n),
        };
        let (Some(detection_s), Some([lo, hi])) = (detection, e.mistake_rate_per_s_ci95) else { continue };
        let ci = [lo * 86_400.0, hi * 86_400.0];
        let per_day = e.mistakes_per_day.unwrap_or(0.0);
        let (family, knob) = split_label(e.detector, e.knob);
        let point = Point { knob, detection_s, per_day, ci, zero: per_day == 0.0, chosen: false };
        match families.iter_mut().find(|(f, _)| *f == family) {
            Some((_, points)) => points.push(point),
            None => families.push((family, vec![point])),
        }
    }
    if families.is_empty() {
        return Err(ChartError::MissingData {
            chart: CHART,
            dir: dir.to_path_buf(),
            what: "results with a detection time and a mistake rate in summary.json".into(),
        });
    }
    for (_, points) in &mut families {
        points.sort_by(|a, b| a.detection_s.total_cmp(&b.detection_s));
    }
    let basis = if crash_based > 0 { "over injected crashes" } else { "per-heartbeat estimate" };
    Ok(Tradeoff {
        title: format!("Detection time vs mistakes: {}", s.experiment),
        families,
        basis: basis.to_string(),
        x_label: "mean detection time".into(),
    })
}

/// The frontier `tune` searched (`tune.json`): per family the configurations no other is
/// both faster and less often wrong than, on `tune`'s objective, the recommended one ringed
/// and labelled with its label's knob.
pub fn from_tune(t: &crate::tune::TuneFile) -> Tradeoff {
    let mut families = Vec::new();
    for f in &t.families {
        let mut points: Vec<Point> = f
            .tested
            .iter()
            .filter(|c| c.frontier || c.chosen)
            .filter_map(|c| {
                let (detection_s, ci) = (c.objective_s?, c.ci95_per_day?);
                Some(Point {
                    knob: if c.chosen { c.knob_value.clone() } else { String::new() },
                    detection_s,
                    per_day: c.mistakes_per_day,
                    ci,
                    zero: c.mistakes == 0,
                    chosen: c.chosen,
                })
            })
            .collect();
        points.sort_by(|a, b| a.detection_s.total_cmp(&b.detection_s));
        if !points.is_empty() {
            families.push((f.name.clone(), points));
        }
    }
    let basis = match t.detection_basis {
        DetectionBasis::Crashes => "over crashes",
        DetectionBasis::PerHeartbeatEstimate => "per-heartbeat estimate",
    };
    let objective = match t.objective {
        crate::tune::Objective::P99 => "p99 detection time",
        crate::tune::Objective::Mean => "mean detection time",
    };
    Tradeoff {
        title: format!("Tuning frontier, target {} per {}: {}", t.target, t.per.name(), t.experiment),
        families,
        basis: basis.to_string(),
        x_label: objective.to_string(),
    }
}

/// The chart's size; the legend below the plot grows by rows as the families need.
const WIDTH: u32 = 1200;
const PLOT_HEIGHT: u32 = 700;
const LEGEND_FONT: f64 = 15.0;
const LABEL_FONT: f64 = 14.0;
const LEGEND_ROW: i32 = 24;
/// The legend's left edge and its entries' swatch width.
const LEGEND_LEFT: i32 = 20;
const SWATCH: i32 = 34;

/// A log axis's range, widened to whole decades around the data (`min`, `max` > 0), so
/// that at least two powers of ten, each labelled, are on the axis at any range.
fn decades(min: f64, max: f64) -> (f64, f64) {
    let lo = libm::pow(10.0, libm::log10(min).floor());
    let hi = libm::pow(10.0, libm::log10(max).ceil());
    if hi / lo < 10.0 - 1e-9 { (lo, lo * 10.0) } else { (lo, hi) }
}

/// A pixel rectangle: left, top, right, bottom.
type Rect = (i32, i32, i32, i32);

fn overlaps(a: Rect, b: Rect) -> bool {
    a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
}

/// Where a point's label goes: the first of the positions around the point (right, left,
/// above, below, the diagonals, then the same further out with a leader line) that stays in
/// `area` and clears every box in `taken` (other labels and the markers); `None` when none
/// does, and the label is left out.
fn place_label(point: (i32, i32), size: (i32, i32), area: Rect, taken: &[Rect]) -> Option<(Rect, bool)> {
    let (px, py) = point;
    let (w, h) = size;
    for (distance, leader) in [(9, false), (22, true), (38, true)] {
        let d = distance;
        let candidates = [
            (px + d, py - h / 2),
            (px - d - w, py - h / 2),
            (px - w / 2, py - d - h),
            (px - w / 2, py + d),
            (px + d * 2 / 3, py - d * 2 / 3 - h),
            (px + d * 2 / 3, py + d * 2 / 3),
            (px - d * 2 / 3 - w, py - d * 2 / 3 - h),
            (px - d * 2 / 3 - w, py + d * 2 / 3),
        ];
        for (x, y) in candidates {
            let rect = (x, y, x + w, y + h);
            let inside = rect.0 >= area.0 && rect.1 >= area.1 && rect.2 <= area.2 && rect.3 <= area.3;
            if inside && !taken.iter().any(|t| overlaps(*t, rect)) {
                return Some((rect, leader));
            }
        }
    }
    None
}

impl Tradeoff {
    /// The legend's entries laid out in rows: (family index, x, row).
    fn legend_rows(&self) -> Vec<(usize, i32, i32)> {
        let labels: Vec<&str> = self.families.iter().map(|(f, _)| f.as_str()).collect();
        super::legend_flow(&labels, LEGEND_FONT, SWATCH, WIDTH)
            .into_iter()
            .enumerate()
            .map(|(i, (x, r))| (i, x, r))
            .collect()
    }

    fn any_zero(&self) -> bool {
        self.families.iter().flat_map(|(_, p)| p).any(|p| p.zero)
    }

    fn any_chosen(&self) -> bool {
        self.families.iter().flat_map(|(_, p)| p).any(|p| p.chosen)
    }

    fn legend_height(&self) -> u32 {
        let rows = self.legend_rows().last().map_or(0, |l| l.2 + 1)
            + 1
            + i32::from(self.any_zero())
            + i32::from(self.any_chosen());
        (rows * LEGEND_ROW + 12) as u32
    }
}

/// The ring around a recommended configuration.
fn chosen_marker(c: RGBColor) -> impl Fn((i32, i32)) -> Circle<(i32, i32), i32> {
    move |at| Circle::new(at, 11, c.stroke_width(3))
}

/// The marker of a point with no mistakes: a hollow triangle pointing down (the true rate
/// is below it), centred on the point.
fn at_most_marker(c: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x - 7, y - 6), (x + 7, y - 6), (x, y + 7), (x - 7, y - 6)], c.stroke_width(2))
}

impl Figure for Tradeoff {
    fn size(&self) -> (u32, u32) {
        (WIDTH, PLOT_HEIGHT + self.legend_height())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(err)?;
        let (plot_area, legend_area) = root.split_vertically(PLOT_HEIGHT);
        let all: Vec<&Point> = self.families.iter().flat_map(|(_, p)| p).collect();
        // Detection times span orders of magnitude (a tight timeout vs ◇P): log on both axes,
        // each widened to whole decades so that it always has labelled ticks.
        let positive = |v: &f64| *v > 0.0 && v.is_finite();
        let xs: Vec<f64> = all.iter().map(|p| p.detection_s).filter(positive).collect();
        let (x_min, x_max) = if xs.is_empty() {
            (0.1, 10.0)
        } else {
            decades(xs.iter().copied().fold(f64::MAX, f64::min) / 1.3, xs.iter().copied().fold(0.0, f64::max) * 1.3)
        };
        let shown = |p: &Point| if p.zero { p.ci[1] } else { p.per_day };
        let ys: Vec<f64> = all.iter().flat_map(|p| [shown(p), p.ci[0], p.ci[1]]).filter(positive).collect();
        let (y_min, y_max) = if ys.is_empty() {
            (1e-3, 1e3)
        } else {
            decades(ys.iter().copied().fold(f64::MAX, f64::min) / 1.5, ys.iter().copied().fold(0.0, f64::max) * 1.5)
        };
        let mut chart = ChartBuilder::on(&plot_area)
            .caption(&self.title, (FONT_FAMILY, 26))
            .margin(16)
            .margin_right(40)
            .x_label_area_size(56)
            .y_label_area_size(90)
            .build_cartesian_2d((x_min..x_max).log_scale(), (y_min..y_max).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(format!("{}, log ({})", self.x_label, self.basis))
            .y_desc("mistakes per day (log)")
            .x_label_formatter(&|x| seconds_label(*x))
            .y_label_formatter(&|y| per_day_label(*y))
            .label_style((FONT_FAMILY, 16))
            .axis_desc_style((FONT_FAMILY, 18))
            .draw()
            .map_err(err)?;
        for (i, (_, points)) in self.families.iter().enumerate() {
            let c = color(i);
            let line: Vec<(f64, f64)> = points.iter().map(|p| (p.detection_s, shown(p))).collect();
            chart.draw_series(LineSeries::new(line, c.stroke_width(2))).map_err(err)?;
            for p in points {
                let y = shown(p);
                let lo = p.ci[0].max(y_min);
                chart
                    .draw_series(std::iter::once(ErrorBar::new_vertical(p.detection_s, lo, y, p.ci[1], c, 8)))
                    .map_err(err)?;
                let at = chart.backend_coord(&(p.detection_s, y));
                if p.zero {
                    root.draw(&at_most_marker(c)(at)).map_err(err)?;
                } else {
                    root.draw(&Circle::new(at, 5, c.filled())).map_err(err)?;
                }
                if p.chosen {
                    root.draw(&chosen_marker(c)(at)).map_err(err)?;
                }
            }
        }
        // Point labels, placed so that none covers another or a marker.
        let (x_range, y_range) = chart.plotting_area().get_pixel_range();
        let area = (x_range.start, y_range.start, x_range.end, y_range.end);
        let points: Vec<(usize, &Point, (i32, i32))> = self
            .families
            .iter()
            .enumerate()
            .flat_map(|(i, (_, ps))| ps.iter().map(move |p| (i, p)))
            .map(|(i, p)| (i, p, chart.backend_coord(&(p.detection_s, shown(p)))))
            .collect();
        let mut taken: Vec<Rect> = points
            .iter()
            .map(
                |(_, p, (x, y))| if p.chosen { (x - 13, y - 13, x + 14, y + 14) } else { (x - 7, y - 7, x + 8, y + 8) },
            )
            .collect();
        let mut left_out = 0;
        for (i, p, at) in &points {
            if p.knob.is_empty() {
                continue;
            }
            let size = super::layout::text_size(&p.knob, LABEL_FONT);
            match place_label(*at, size, area, &taken) {
                Some((rect, leader)) => {
                    if leader {
                        // The label's nearest point to the marker.
                        let end = (at.0.clamp(rect.0, rect.2), at.1.clamp(rect.1, rect.3));
                        root.draw(&PathElement::new(vec![*at, end], color(*i).mix(0.6).stroke_width(1)))
                            .map_err(err)?;
                    }
                    root.draw(&Text::new(p.knob.clone(), (rect.0, rect.1), (FONT_FAMILY, LABEL_FONT).into_font()))
                        .map_err(err)?;
                    taken.push(rect);
                }
                None => left_out += 1,
            }
        }
        // The legend, below the plot so that it never covers a point.
        let font = (FONT_FAMILY, LEGEND_FONT).into_font();
        let row_y = |row: i32| 6 + row * LEGEND_ROW;
        let mut last_row = 0;
        for (i, x, row) in self.legend_rows() {
            let y = row_y(row);
            legend_area
                .draw(&PathElement::new(vec![(x, y + 8), (x + 24, y + 8)], color(i).stroke_width(3)))
                .map_err(err)?;
            legend_area.draw(&Text::new(self.families[i].0.clone(), (x + SWATCH, y), font.clone())).map_err(err)?;
            last_row = row;
        }
        let mut notes = vec![(
            false,
            format!(
                "● mistakes per day measured, bar: its 95 % interval; labels: the swept setting{}",
                if left_out > 0 { format!(" ({left_out} left out for lack of room)") } else { String::new() }
            ),
        )];
        if self.any_zero() {
            notes.push((
                true,
                "no mistakes in the run: drawn at the upper end of its 95 % interval (the rate is below it)".into(),
            ));
        }
        let notes: Vec<(Option<bool>, String)> = notes
            .into_iter()
            .map(|(t, n)| (Some(t), n))
            .chain(self.any_chosen().then(|| {
                (None, "ringed: recommended, the fastest that meets the target with 95 % confidence".to_string())
            }))
            .collect();
        for (k, (marker, note)) in notes.into_iter().enumerate() {
            let y = row_y(last_row + 1 + k as i32);
            let x = match marker {
                Some(true) => {
                    legend_area.draw(&at_most_marker(BLACK)((LEGEND_LEFT + 12, y + 8))).map_err(err)?;
                    LEGEND_LEFT + SWATCH
                }
                None => {
                    legend_area.draw(&chosen_marker(BLACK)((LEGEND_LEFT + 12, y + 8))).map_err(err)?;
                    LEGEND_LEFT + SWATCH
                }
                Some(false) => LEGEND_LEFT,
            };
            legend_area.draw(&Text::new(note, (x, y), font.clone())).map_err(err)?;
        }
        Ok(())
    }
}

/// Prepares `charts/tradeoff.{png,svg}`.
pub fn prepare(dir: &Path) -> Result<Vec<Prepared>, ChartError> {
    // A `tune` results directory holds tune.json instead of summary.json.
    if !dir.join("summary.json").exists() && dir.join("tune.json").exists() {
        let path = dir.join("tune.json");
        let text = super::read(dir, "tune.json", CHART)?;
        let tune: crate::tune::TuneFile =
            serde_json::from_str(&text).map_err(|e| ChartError::BadData { file: path, message: e.to_string() })?;
        let t = from_tune(&tune);
        if t.families.is_empty() {
            return Err(ChartError::MissingData {
                chart: CHART,
                dir: dir.to_path_buf(),
                what: "tested configurations with a detection time in tune.json".into(),
            });
        }
        let caption = format!(
            "Each curve is one family's frontier ({}): further right notices crashes later, higher makes more false \
             suspicions; the ringed point is the recommendation.",
            t.basis
        );
        return Ok(vec![Prepared::new("tradeoff".into(), t.title.clone(), caption, t)]);
    }
    let t = load(dir)?;
    let caption = format!(
        "Each curve is one detector family across its sweep: further right notices crashes later, higher \
             makes more false suspicions; bars are 95 % intervals, hollow triangles had no mistakes and sit at \
             the upper end of their interval (detection time {}).",
        t.basis
    );
    Ok(vec![Prepared::new("tradeoff".into(), t.title.clone(), caption, t)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_split_into_family_and_knob() {
        let split = split_label;
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(split("phi:threshold=8,pause=2s", Some("threshold")), pair("phi:pause=2s", "8"));
        assert_eq!(split("fixed:timeout=300ms", Some("timeout")), pair("fixed", "300ms"));
        assert_eq!(split("bertier", None), pair("bertier", ""));
        assert_eq!(split("bertier:beta=2", None), pair("bertier:beta=2", ""));
        assert_eq!(split("akka-cluster:threshold=12", Some("threshold")), pair("akka-cluster", "12"));
        assert_eq!(split("ewma:k=3", Some("k")), pair("ewma", "3"));
        // The knob's name must be the whole first key.
        assert_eq!(split("chen:alphabet=1,alpha=2", Some("alpha")), pair("chen:alphabet=1,alpha=2", ""));
        // A summary.json from before `knob`: each configuration a curve of its own.
        assert_eq!(split("phi:threshold=8", None), pair("phi:threshold=8", ""));
    }

    #[test]
    fn every_label_a_spec_makes_splits_into_its_knob_and_the_rest() {
        use crate::detector::catalog::{KINDS, PRESETS};
        use crate::detector::spec::DetectorSpec;
        for name in KINDS.iter().map(|k| k.name).chain(PRESETS.iter().map(|p| p.name)) {
            // `fixed` has no default timeout: a sweep of two.
            let spec = DetectorSpec::parse(&format!("{name}:check_every=2s"))
                .or_else(|_| DetectorSpec::parse(&format!("{name}:timeout=100ms|1s,check_every=2s")))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            for point in spec.points() {
                let (family, value) = split_label(&point.label, point.knob.as_deref());
                let rebuilt = match (&point.knob, family.split_once(':')) {
                    (None, _) => family.clone(),
                    (Some(k), None) => format!("{family}:{k}={value}"),
                    (Some(k), Some((head, rest))) => format!("{head}:{k}={value},{rest}"),
                };
                assert_eq!(rebuilt, point.label);
                assert!(family.ends_with("check_every=2s"), "{family}");
            }
        }
    }
}
