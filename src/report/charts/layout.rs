//! Where a chart's text lands: every string a chart draws (titles, tick labels, axis
//! labels, point labels, legend entries), boxed by the embedded font's measured extents,
//! so that a test can check that no two boxes overlap and none leaves the image
//! (issue 17 item 5) without looking at pixels.
//!
//! [`measure`] draws a [`Figure`] on [`Recorder`], a backend that draws nothing and keeps
//! the box of each `draw_text` call, placed exactly as plotters' bitmap backend places the
//! glyphs (the layout box moved by the anchor, then rotated by the text's transform).

use std::cell::RefCell;
use std::convert::Infallible;
use std::rc::Rc;

use plotters::prelude::*;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind};

use super::{FONT_FAMILY, Figure};

/// The box one drawn string occupies, in pixels of the image (`right` and `bottom`
/// exclusive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextBox {
    pub text: String,
    pub left: i32,
    pub top: i32,
    pub right: i32,
    pub bottom: i32,
}

impl TextBox {
    /// Whether the two boxes share any area (touching edges do not count).
    pub fn overlaps(&self, other: &TextBox) -> bool {
        self.left < other.right && other.left < self.right && self.top < other.bottom && other.top < self.bottom
    }

    /// Whether the box lies wholly within an image of `size`.
    pub fn inside(&self, (width, height): (u32, u32)) -> bool {
        self.left >= 0 && self.top >= 0 && self.right <= width as i32 && self.bottom <= height as i32
    }
}

impl std::fmt::Display for TextBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` at ({}, {})–({}, {})", self.text, self.left, self.top, self.right, self.bottom)
    }
}

/// The text of one chart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub size: (u32, u32),
    pub texts: Vec<TextBox>,
}

impl Layout {
    /// Every pair of overlapping text boxes and every box that leaves the image, as
    /// sentences; empty when the layout is clean. The same string drawn twice in the same
    /// box (plotters' log axes can repeat a tick) looks like one and counts once.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut texts: Vec<&TextBox> = Vec::new();
        for t in &self.texts {
            if !texts.contains(&t) {
                texts.push(t);
            }
        }
        for (i, a) in texts.iter().enumerate() {
            if !a.inside(self.size) {
                problems.push(format!("{a} leaves the {}×{} image", self.size.0, self.size.1));
            }
            for b in &texts[i + 1..] {
                if a.overlaps(b) {
                    problems.push(format!("{a} overlaps {b}"));
                }
            }
        }
        problems
    }
}

/// Draws `figure` without rendering it and returns where its text went.
pub fn measure(figure: &impl Figure) -> Result<Layout, String> {
    super::register_font();
    let texts = Rc::new(RefCell::new(Vec::new()));
    let size = figure.size();
    {
        let root = Recorder { size, texts: Rc::clone(&texts) }.into_drawing_area();
        figure.draw(&root)?;
        root.present().map_err(super::err)?;
    }
    let texts = texts.take();
    Ok(Layout { size, texts })
}

/// The width and height in pixels of `text` in the charts' font at `size` points, as the
/// backends lay it out (for charts that place labels themselves).
pub fn text_size(text: &str, size: f64) -> (i32, i32) {
    super::register_font();
    // Measuring a registered font cannot fail; an unmeasurable string is taken as empty.
    let (w, h) = (FONT_FAMILY, size).into_font().box_size(text).unwrap_or((0, 0));
    (w as i32, h as i32)
}

/// A backend that draws nothing and keeps the box of every string.
pub struct Recorder {
    size: (u32, u32),
    texts: Rc<RefCell<Vec<TextBox>>>,
}

impl DrawingBackend for Recorder {
    type ErrorType = Infallible;

    fn get_size(&self) -> (u32, u32) {
        self.size
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Infallible>> {
        Ok(())
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Infallible>> {
        Ok(())
    }

    fn draw_pixel(&mut self, _: BackendCoord, _: BackendColor) -> Result<(), DrawingErrorKind<Infallible>> {
        Ok(())
    }

    // Shapes are not measured: skip rasterising them.
    fn draw_line<S: BackendStyle>(
        &mut self,
        _: BackendCoord,
        _: BackendCoord,
        _: &S,
    ) -> Result<(), DrawingErrorKind<Infallible>> {
        Ok(())
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        _: BackendCoord,
        _: BackendCoord,
        _: &S,
        _: bool,
    ) -> Result<(), DrawingErrorKind<Infallible>> {
        Ok(())
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        _: I,
        _: &S,
    ) -> Result<(), DrawingErrorKind<Infallible>> {
        Ok(())
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        _: BackendCoord,
        _: u32,
        _: &S,
        _: bool,
    ) -> Result<(), DrawingErrorKind<Infallible>> {
        Ok(())
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        _: I,
        _: &S,
    ) -> Result<(), DrawingErrorKind<Infallible>> {
        Ok(())
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Infallible>> {
        // Invisible or blank text takes no room (the bitmap backend skips the former too).
        if style.color().alpha == 0.0 || text.trim().is_empty() {
            return Ok(());
        }
        // The same placement as `DrawingBackend::draw_text`'s default, which the bitmap
        // backend uses: the layout box moved by the anchor, then rotated about `pos`.
        let ((min_x, min_y), (max_x, max_y)) = style.layout_box(text).unwrap_or(((0, 0), (0, 0)));
        let (width, height) = (max_x - min_x, max_y - min_y);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -width,
            HPos::Center => -width / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -height / 2,
            VPos::Bottom => -height,
        };
        let transform = style.transform();
        let (ax, ay) = transform.transform(dx, dy);
        let (bx, by) = transform.transform(dx + width, dy + height);
        self.texts.borrow_mut().push(TextBox {
            text: text.to_string(),
            left: pos.0 + ax.min(bx),
            top: pos.1 + ay.min(by),
            right: pos.0 + ax.max(bx),
            bottom: pos.1 + ay.max(by),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use plotters::coord::Shift;

    use super::*;

    fn boxed(left: i32, top: i32, right: i32, bottom: i32) -> TextBox {
        TextBox { text: "t".into(), left, top, right, bottom }
    }

    #[test]
    fn boxes_overlap_only_when_they_share_area() {
        let a = boxed(0, 0, 10, 10);
        assert!(a.overlaps(&boxed(9, 9, 20, 20)));
        assert!(a.overlaps(&boxed(2, 2, 3, 3)));
        assert!(!a.overlaps(&boxed(10, 0, 20, 10)), "touching edges");
        assert!(!a.overlaps(&boxed(0, 10, 10, 20)), "touching edges");
        assert!(a.inside((10, 10)));
        assert!(!a.inside((9, 10)));
        assert!(!boxed(-1, 0, 5, 5).inside((10, 10)));
    }

    struct Two(i32);

    impl Figure for Two {
        fn size(&self) -> (u32, u32) {
            (200, 100)
        }

        fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
            let font = (FONT_FAMILY, 20).into_font();
            root.draw(&Text::new("first", (10, 10), font.clone())).map_err(super::super::err)?;
            root.draw(&Text::new("second", (10, self.0), font.clone())).map_err(super::super::err)?;
            let rotated = font.transform(FontTransform::Rotate270);
            root.draw(&Text::new("up", (170, 90), rotated)).map_err(super::super::err)
        }
    }

    #[test]
    fn the_recorder_finds_overlapping_and_escaping_text() {
        let clean = measure(&Two(50)).unwrap();
        assert_eq!(clean.texts.len(), 3);
        assert_eq!(clean.problems(), Vec::<String>::new());
        let (w, h) = text_size("first", 20.0);
        assert_eq!((clean.texts[0].right - clean.texts[0].left, clean.texts[0].bottom - clean.texts[0].top), (w, h));
        // Rotated text is tall and narrow.
        let up = &clean.texts[2];
        assert!(up.bottom - up.top > up.right - up.left, "{up}");
        let crowded = measure(&Two(15)).unwrap().problems();
        assert!(crowded.len() == 1 && crowded[0].contains("overlaps"), "{crowded:?}");
        let escaping = measure(&Two(95)).unwrap().problems();
        assert!(escaping.len() == 1 && escaping[0].contains("leaves"), "{escaping:?}");
    }
}
