//! Charts, drawn from the files a run writes (DESIGN.md §2 point 6), never by re-running.
//!
//! One file per chart; each reads what it needs from the results directory, reports
//! [`ChartError::MissingData`] if it is not there, and prepares a [`Figure`] that [`plot`]
//! draws to PNG and SVG and [`layouts`] measures (`layout`: where its text lands, so that a
//! test can check that no text overlaps or leaves the image). Text uses DejaVu Sans embedded
//! in the binary (through plotters' `ab_glyph` backend), so no system fonts or fontconfig are
//! needed; SVGs carry the glyphs they use as outlines ([`svg_text`]), so they render the same
//! on any machine. A new kind of run adds a chart by adding a file and a line in [`CHARTS`].

pub mod detection;
pub mod generals;
pub mod latency;
pub mod layout;
pub mod leaders;
pub mod retransmissions;
pub mod safety;
pub mod svg_text;
pub mod timeline;
pub mod timing;
pub mod tradeoff;
pub mod workloads;

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::report::summary::{ReadError, SummaryFile};

/// DejaVu Sans (license: `assets/fonts/LICENSE-DejaVu.txt`).
static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// The font family name every chart uses.
pub const FONT_FAMILY: &str = "sans-serif";

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("{chart}: {dir} has no {what}")]
    MissingData { chart: &'static str, dir: PathBuf, what: String },
    #[error("{file}: {message}")]
    BadData { file: PathBuf, message: String },
    #[error("drawing {file}: {message}")]
    Draw { file: PathBuf, message: String },
    #[error("{file}: {source}")]
    Io { file: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Output(#[from] crate::report::OutputError),
}

/// A chart that can draw itself on any plotters backend.
pub trait Figure {
    /// Pixels (PNG) or user units (SVG).
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// A chart read from a results directory, ready to draw.
pub struct Prepared {
    /// File stem under `charts/`, e.g. `tradeoff`.
    pub name: String,
    pub title: String,
    /// One sentence on what the chart shows.
    pub caption: String,
    figure: Box<dyn Render>,
}

impl Prepared {
    pub fn new(name: String, title: String, caption: String, figure: impl Figure + 'static) -> Self {
        Prepared { name, title, caption, figure: Box::new(figure) }
    }

    /// Where the chart's text lands.
    pub fn layout(&self) -> Result<layout::Layout, String> {
        self.figure.layout()
    }
}

/// [`Figure`] as a trait object: its generic `draw` at each backend fdlab uses.
trait Render {
    fn save(&self, dir: &Path, name: &str) -> Result<(PathBuf, PathBuf), ChartError>;
    fn layout(&self) -> Result<layout::Layout, String>;
}

impl<F: Figure> Render for F {
    fn save(&self, dir: &Path, name: &str) -> Result<(PathBuf, PathBuf), ChartError> {
        save(self, dir, name)
    }

    fn layout(&self) -> Result<layout::Layout, String> {
        layout::measure(self)
    }
}

/// Reads a results directory and prepares one kind of chart (as many as the data supports).
pub type Prepare = fn(&Path) -> Result<Vec<Prepared>, ChartError>;

/// Every chart fdlab draws, in the order the report shows them: each reads a results
/// directory and prepares its charts (none, or an error saying what is missing).
pub const CHARTS: [Prepare; 10] = [
    tradeoff::prepare,
    timeline::prepare,
    latency::prepare,
    detection::prepare,
    timing::prepare,
    safety::prepare,
    leaders::prepare,
    workloads::prepare,
    retransmissions::prepare,
    generals::prepare,
];

/// A chart written to disk.
#[derive(Clone, Debug, PartialEq)]
pub struct Drawn {
    /// File stem under `charts/`, e.g. `tradeoff`.
    pub name: String,
    pub title: String,
    /// One sentence on what the chart shows.
    pub caption: String,
    pub png: PathBuf,
    pub svg: PathBuf,
}

pub(crate) fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Cannot fail: the embedded file is a valid TrueType font (tested by every chart test).
        plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, FONT).map_err(|_| ()).expect("embedded font");
    });
}

/// Draws `figure` to `dir/NAME.png` and `dir/NAME.svg`, each written under a staging name
/// first (removed if the process is interrupted) and then renamed.
pub fn save(figure: &impl Figure, dir: &Path, name: &str) -> Result<(PathBuf, PathBuf), ChartError> {
    use crate::report::staging::Staged;
    register_font();
    let io = |file: &Path| {
        let file = file.to_path_buf();
        move |source| ChartError::Io { file, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let png = dir.join(format!("{name}.png"));
    let svg = dir.join(format!("{name}.svg"));
    let draw_error = |file: &Path, message: String| ChartError::Draw { file: file.to_path_buf(), message };
    // The backends write by name; the suffix tells the bitmap backend the format.
    let (tmp_png, _) = Staged::file_in(dir, ".png").map_err(io(dir))?;
    {
        let root = BitMapBackend::new(tmp_png.path(), figure.size()).into_drawing_area();
        figure.draw(&root).map_err(|m| draw_error(&png, m))?;
        root.present().map_err(|e| draw_error(&png, e.to_string()))?;
    }
    let (tmp_svg, file) = Staged::file_in(dir, ".svg").map_err(io(dir))?;
    {
        let mut text = String::new();
        {
            let root = SVGBackend::with_string(&mut text, figure.size()).into_drawing_area();
            figure.draw(&root).map_err(|m| draw_error(&svg, m))?;
            root.present().map_err(|e| draw_error(&svg, e.to_string()))?;
        }
        use std::io::Write;
        let mut file = file;
        file.write_all(svg_text::outline_text(&text).as_bytes()).map_err(io(&svg))?;
    }
    tmp_png.rename_to(&png).map_err(io(&png))?;
    tmp_svg.rename_to(&svg).map_err(io(&svg))?;
    Ok((png, svg))
}

/// Draws every chart the results in `dir` support into `dir/charts/`. Returns what was
/// drawn and, for each chart that could not be, why. An error if nothing could be drawn.
/// The charts drawn are added to the directory's manifest (when it has one), so that a
/// later run may still replace it.
pub fn plot(dir: &Path) -> Result<(Vec<Drawn>, Vec<ChartError>), ChartError> {
    let out = dir.join("charts");
    // Only into a directory of the results' own: not through a link to somewhere else.
    let existed = match std::fs::symlink_metadata(&out) {
        Ok(meta) if meta.is_dir() => true,
        Ok(_) => {
            return Err(crate::report::OutputError::Refused {
                path: out,
                reason: "is not a directory (a symbolic link, or a file): charts are drawn only into the results' own"
                    .into(),
                advice: "remove it, or plot a copy of the results".into(),
            }
            .into());
        }
        Err(_) => false,
    };
    for d in [dir, out.as_path()] {
        crate::report::staging::remove_leftovers(d)
            .map_err(|source| ChartError::Io { file: d.to_path_buf(), source })?;
    }
    let mut drawn = Vec::new();
    let mut skipped = Vec::new();
    let mut prepared = Vec::new();
    for prepare in CHARTS {
        match prepare(dir) {
            Ok(charts) => prepared.push(charts),
            Err(e) => skipped.push(e),
        }
    }
    // A chart file the user put there (or changed since) stops the plot before any is drawn.
    for p in prepared.iter().flatten() {
        for ext in ["png", "svg"] {
            crate::report::check_owned(dir, &out.join(format!("{}.{ext}", p.name)))?;
        }
    }
    for charts in prepared {
        let save = |p: Prepared| {
            let (png, svg) = p.figure.save(&out, &p.name)?;
            Ok(Drawn { name: p.name, title: p.title, caption: p.caption, png, svg })
        };
        match charts.into_iter().map(save).collect::<Result<Vec<_>, _>>() {
            Ok(d) => drawn.extend(d),
            Err(e) => skipped.push(e),
        }
    }
    let files: Vec<PathBuf> = drawn.iter().flat_map(|d| [d.png.clone(), d.svg.clone()]).collect();
    crate::report::record_written(dir, &files)?;
    if drawn.is_empty() {
        // A `charts` directory made for nothing is not left behind (the manifest would not
        // list it, and the next run into the directory would refuse it). Only if empty.
        if !existed {
            let _ = std::fs::remove_dir(&out);
        }
        // A file that could not be written (a full disk) is the error, not missing data; so
        // is a chart that failed to draw (a full disk while plotters writes a PNG comes as
        // one) or a results file that could not be read.
        let failed = skipped
            .iter()
            .position(|e| matches!(e, ChartError::Io { .. }))
            .or_else(|| skipped.iter().position(|e| !matches!(e, ChartError::MissingData { .. })));
        if let Some(i) = failed {
            return Err(skipped.swap_remove(i));
        }
        return Err(ChartError::MissingData {
            chart: "plot",
            dir: dir.to_path_buf(),
            what: format!(
                "data for any chart ({})",
                skipped.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
            ),
        });
    }
    Ok((drawn, skipped))
}

/// Where the text of every chart the results in `dir` support lands, by chart name; the
/// charts the data does not support are left out. Nothing is written.
pub fn layouts(dir: &Path) -> Result<Vec<(String, layout::Layout)>, ChartError> {
    let mut layouts = Vec::new();
    for prepare in CHARTS {
        let charts = match prepare(dir) {
            Ok(charts) => charts,
            Err(ChartError::MissingData { .. }) => continue,
            Err(e) => return Err(e),
        };
        for c in charts {
            let layout = c.layout().map_err(|message| ChartError::Draw { file: dir.join(&c.name), message })?;
            layouts.push((c.name, layout));
        }
    }
    Ok(layouts)
}

/// Draws every chart the results in `dir` support and writes `dir/report.html`. Returns
/// the charts drawn and the reasons others were not.
pub fn plot_and_report(dir: &Path) -> Result<(Vec<Drawn>, Vec<ChartError>), ChartError> {
    crate::report::check_owned(dir, &dir.join("report.html"))?;
    let (drawn, skipped) = plot(dir)?;
    // A `tune` directory's report is its table and tune.json: the chart is all there is to
    // draw.
    if !dir.join("summary.json").exists() && dir.join("tune.json").exists() {
        return Ok((drawn, skipped));
    }
    let s = summary(dir, "report")?;
    let html = crate::report::html::page(dir, &s, &drawn);
    let path = dir.join("report.html");
    crate::report::write_atomic(&path, html.as_bytes())
        .map_err(|source| ChartError::Io { file: path.clone(), source })?;
    crate::report::record_written(dir, &[path])?;
    Ok((drawn, skipped))
}

/// Reads a results file, or says which chart lacks it.
pub(crate) fn read(dir: &Path, file: &str, chart: &'static str) -> Result<String, ChartError> {
    let path = dir.join(file);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(ChartError::MissingData { chart, dir: dir.to_path_buf(), what: file.to_string() })
        }
        Err(source) => Err(ChartError::Io { file: path, source }),
    }
}

/// Reads `summary.json` into the structs it was written from (a malformed file, or one
/// missing a field, is [`ChartError::BadData`] naming the file and the field).
pub(crate) fn summary(dir: &Path, chart: &'static str) -> Result<SummaryFile, ChartError> {
    SummaryFile::read(&dir.join("summary.json")).map_err(|e| match e {
        ReadError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            ChartError::MissingData { chart, dir: dir.to_path_buf(), what: "summary.json".into() }
        }
        ReadError::Io { path, source } => ChartError::Io { file: path, source },
        ReadError::Schema { path, source } => ChartError::BadData { file: path, message: source.to_string() },
    })
}

/// A palette that stays distinguishable in print.
pub(crate) fn color(i: usize) -> RGBColor {
    const COLORS: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(23, 190, 207),
    ];
    COLORS[i % COLORS.len()]
}

pub use crate::analysis::sampling::{thin, timeline_labels};

/// Legend entries laid out left to right in rows under a chart `width` wide, each a
/// swatch `swatch` wide and its label: `(x, row)` per entry. A legend outside the plot
/// never covers data.
pub(crate) fn legend_flow(labels: &[&str], font_size: f64, swatch: i32, width: u32) -> Vec<(i32, i32)> {
    const LEFT: i32 = 20;
    const GAP: i32 = 24;
    let mut placed = Vec::new();
    let (mut x, mut row) = (LEFT, 0);
    for label in labels {
        let w = swatch + layout::text_size(label, font_size).0;
        if x > LEFT && x + w > width as i32 - LEFT {
            (x, row) = (LEFT, row + 1);
        }
        placed.push((x, row));
        x += w + GAP;
    }
    placed
}

pub(crate) fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// A number of 10^5 or more in magnitude as `1.5e9`: three significant digits at most, so
/// that an extreme value (a detector told a heartbeat is due in years) still fits its axis.
pub(crate) fn compact_number(x: f64) -> String {
    let exponent = libm::log10(x.abs()).floor();
    let mantissa = format!("{:.2}", x / libm::pow(10.0, exponent));
    let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
    format!("{mantissa}e{exponent}")
}

/// Values at or above this magnitude are labelled by [`compact_number`].
pub(crate) const COMPACT_FROM: f64 = 1e5;

/// Seconds as a short readable duration for axis labels.
pub(crate) fn seconds_label(s: f64) -> String {
    let a = s.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= COMPACT_FROM {
        compact_number(s) + " s"
    } else if a >= 1.0 {
        format!("{s:.3}").trim_end_matches('0').trim_end_matches('.').to_string() + " s"
    } else if a >= 1e-3 {
        format!("{:.3}", s * 1e3).trim_end_matches('0').trim_end_matches('.').to_string() + " ms"
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extreme_values_get_short_labels_and_ordinary_ones_keep_theirs() {
        assert_eq!(compact_number(425_666_178.6), "4.26e8");
        assert_eq!(compact_number(-200_000_000.0), "-2e8");
        assert_eq!(compact_number(1e9), "1e9");
        assert_eq!(seconds_label(1e9), "1e9 s");
        assert_eq!(seconds_label(99_999.5), "99999.5 s");
        assert_eq!(seconds_label(0.25), "250 ms");
    }
}
