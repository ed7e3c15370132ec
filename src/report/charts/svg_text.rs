//! Text in the SVG charts as outlines of the embedded font, so that an SVG looks the same on
//! any machine, whatever fonts it has (issue 17 item 6).
//!
//! plotters' SVG backend writes each string as a `<text>` element naming a font family,
//! which a viewer renders with whatever font it finds under that name. [`outline_text`]
//! rewrites every such element: each glyph used is defined once, in `<defs>`, as a path in
//! font units from DejaVu Sans (the font the PNGs are drawn with), and each string becomes a
//! group of `<use>`s placed as the bitmap backend places its glyphs (the same advances,
//! kerning, anchors, baseline and rotation), so the SVG matches the PNG and the layout
//! [`super::layout`] measures. The original `<text>` stays, transparent, so the text can
//! still be searched and selected. A file grows by the glyphs it uses (a few kB).

use std::collections::BTreeMap;
use std::fmt::Write;

use ab_glyph::{Font, FontRef, GlyphId, OutlineCurve};

/// Rewrites every `<text>` element of `svg` (as plotters' SVG backend writes them) into
/// outlined glyphs; see the module's documentation. Text it cannot parse is left as it is.
pub fn outline_text(svg: &str) -> String {
    // Cannot fail: the embedded file is a valid TrueType font (every chart test draws with it).
    let font = FontRef::try_from_slice(super::FONT).expect("embedded font");
    let mut glyphs: BTreeMap<u16, String> = BTreeMap::new();
    let mut out = String::with_capacity(svg.len() * 2);
    let mut rest = svg;
    while let Some(start) = rest.find("<text ") {
        let Some(length) = rest[start..].find("</text>") else { break };
        let end = start + length + "</text>".len();
        out.push_str(&rest[..start]);
        let element = &rest[start..end];
        match outline_element(element, &font, &mut glyphs) {
            Some(outlined) => out.push_str(&outlined),
            None => out.push_str(element),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    if glyphs.is_empty() {
        return out;
    }
    let mut defs = String::from("\n<defs>\n");
    for (id, d) in &glyphs {
        // Cannot fail: writing to a String.
        writeln!(defs, "<path id=\"g{id}\" d=\"{d}\"/>").expect("writing to a String");
    }
    defs.push_str("</defs>");
    // After the root element's opening tag, which also declares the xlink namespace (for
    // viewers older than SVG 2's plain `href`).
    match out.find("<svg ").and_then(|s| out[s..].find('>').map(|e| s + e)) {
        Some(close) => {
            out.insert_str(close + 1, &defs);
            out.insert_str(close, " xmlns:xlink=\"http://www.w3.org/1999/xlink\"");
            out
        }
        None => svg.to_string(),
    }
}

/// The value of attribute `name` in an opening tag.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let length = tag[start..].find('"')?;
    Some(&tag[start..start + length])
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

/// One `<text>` element as the transparent original and a group of glyphs.
fn outline_element(element: &str, font: &FontRef<'_>, glyphs: &mut BTreeMap<u16, String>) -> Option<String> {
    let open_end = element.find('>')?;
    let tag = &element[..open_end];
    // plotters puts the string on a line of its own.
    let inner = &element[open_end + 1..element.len() - "</text>".len()];
    let text = unescape(inner.strip_prefix('\n').unwrap_or(inner).strip_suffix('\n').unwrap_or(inner));
    let number = |name: &str| attribute(tag, name)?.parse::<f64>().ok();
    let (x, y) = (number("x")?, number("y")?);
    // plotters writes the font size divided by 1.24 (its pixels per em); the bitmap backend
    // scales glyphs by the undivided size.
    let size = number("font-size")? * 1.24;
    let fill = attribute(tag, "fill")?;
    let opacity = attribute(tag, "opacity").unwrap_or("1");
    // The bitmap backend's layout box: the advances and kerning, truncated to whole pixels,
    // and 1/1.24 of the size high; the anchor moves the box by it.
    let units = font.ascent_unscaled() - font.descent_unscaled();
    let scale = size as f32 / units;
    let ids: Vec<GlyphId> = text.chars().map(|c| font.glyph_id(c)).collect();
    let mut advance = 0f32;
    let mut starts = Vec::with_capacity(ids.len());
    for (i, &id) in ids.iter().enumerate() {
        if i > 0 {
            advance += font.kern_unscaled(ids[i - 1], id) * scale;
        }
        starts.push(advance);
        advance += font.h_advance_unscaled(id) * scale;
    }
    let (width, height) = (advance as i32, (size / 1.24) as i32);
    let dx = match attribute(tag, "text-anchor") {
        Some("end") => -width,
        Some("middle") => -width / 2,
        _ => 0,
    };
    let dy = match attribute(tag, "dy") {
        Some("0.5ex") => -height / 2,
        Some("-0.5ex") => -height,
        _ => 0,
    };
    let mut group = String::new();
    // The bitmap backend puts the baseline half the size below the box's top, and each glyph's
    // ink at its pen position (its left bearing is dropped).
    let baseline = y + f64::from(dy) + size / 2.0;
    let left = x + f64::from(dx);
    let rotation = attribute(tag, "transform").map(|t| format!("{t} ")).unwrap_or_default();
    write!(
        group,
        "<g fill=\"{fill}\" opacity=\"{opacity}\" transform=\"{rotation}translate({left} {baseline}) scale({scale} \
         {})\">",
        -scale
    )
    .ok()?;
    for (&id, start) in ids.iter().zip(&starts) {
        let Some(outline) = font.outline(id) else { continue };
        let bearing = (outline.bounds.min.x * scale).floor();
        glyphs.entry(id.0).or_insert_with(|| path(&outline.curves));
        let pen = (start.trunc() - bearing) / scale;
        write!(group, "<use xlink:href=\"#g{}\" x=\"{}\"/>", id.0, round(pen)).ok()?;
    }
    group.push_str("</g>");
    let hidden = tag.replacen(&format!(" opacity=\"{opacity}\""), " opacity=\"0\"", 1);
    Some(format!("{hidden}{}\n{group}", &element[open_end..]))
}

/// A number with at most one decimal, without a needless `.0`.
fn round(v: f32) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() { format!("{}", r as i64) } else { format!("{r:.1}") }
}

/// An SVG path in font units (y up) from a glyph's outline curves.
fn path(curves: &[OutlineCurve]) -> String {
    let mut d = String::new();
    let mut at = None;
    let p = |pt: ab_glyph::Point| format!("{} {}", round(pt.x), round(pt.y));
    for curve in curves {
        let (from, to) = match curve {
            OutlineCurve::Line(a, b) | OutlineCurve::Quad(a, _, b) | OutlineCurve::Cubic(a, _, _, b) => (*a, *b),
        };
        if at != Some(from) {
            if at.is_some() {
                d.push('Z');
            }
            d.push_str(&format!("M{}", p(from)));
        }
        match curve {
            OutlineCurve::Line(_, b) => d.push_str(&format!("L{}", p(*b))),
            OutlineCurve::Quad(_, c, b) => d.push_str(&format!("Q{} {}", p(*c), p(*b))),
            OutlineCurve::Cubic(_, c1, c2, b) => d.push_str(&format!("C{} {} {}", p(*c1), p(*c2), p(*b))),
        }
        at = Some(to);
    }
    if at.is_some() {
        d.push('Z');
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_becomes_glyphs_defined_once_and_the_original_stays_transparent() {
        let svg = "<svg width=\"100\" height=\"50\" viewBox=\"0 0 100 50\" xmlns=\"http://www.w3.org/2000/svg\">\n\
                   <text x=\"10\" y=\"20\" dy=\"0.76em\" text-anchor=\"start\" font-family=\"sans-serif\" \
                   font-size=\"10\" opacity=\"1\" fill=\"#000000\">\nabba &amp; b\n</text>\n</svg>\n";
        let out = outline_text(svg);
        assert!(out.contains("xmlns:xlink=\"http://www.w3.org/1999/xlink\""), "{out}");
        // a, b, space, & : four glyphs with ink (the space has none), each defined once.
        assert_eq!(out.matches("<path id=").count(), 3, "{out}");
        assert_eq!(out.matches("<use ").count(), 6, "{out}");
        assert!(out.contains("opacity=\"0\" fill=\"#000000\">\nabba &amp; b\n</text>"), "{out}");
        assert!(out.contains("<g fill=\"#000000\" opacity=\"1\" transform=\"translate(10 26.2) scale("), "{out}");
        // Well-formed, with the defs inside the root element.
        let doc = roxmltree::Document::parse(&out).unwrap();
        assert_eq!(doc.root_element().children().filter(|n| n.has_tag_name("defs")).count(), 1);
        // Nothing to outline: unchanged.
        let plain = "<svg width=\"1\" height=\"1\"><rect/></svg>";
        assert_eq!(outline_text(plain), plain);
    }
}
