//! `report.html`: one self-contained page per results directory: the experiment's
//! description, its key table with the definitions it needs, and every chart, its PNG
//! embedded as a data URI, so that the one file can be mailed or attached to a ticket. It
//! links only the charts' SVGs beside it (`charts/*.svg`, optional), fetches nothing from the
//! network and works from `file://`. An inline script records on `<body data-images=…>`
//! whether every image loaded, which the browser check in `.ci/run` reads.

use std::fmt::Write;
use std::path::Path;

use super::charts::Drawn;
use super::summary::{Over, SummaryFile, num};

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn seconds(v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(s) if s >= 1.0 => format!("{s:.3} s"),
        Some(s) => format!("{:.1} ms", s * 1e3),
    }
}

/// Standard base64 with padding (RFC 4648 §4), for the data URIs.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> shift) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The definitions the table needs (docs/summary.md has them in full).
const DEFINITIONS: &str = "<dl>\n\
<dt>mistakes</dt><dd>false suspicions: intervals in which the detector suspected a target that was up. A suspicion \
begins at the instant the level crosses the threshold and ends at the first heartbeat after which it is below.</dd>\n\
<dt>per day [95 % CI]</dt><dd>mistakes per day of the target's up time, with the exact Poisson 95 % interval \
(with no mistakes the interval is [0, 3.689 per exposure]).</dd>\n\
<dt>T<sub>M</sub></dt><dd>mistake duration: how long a false suspicion lasted.</dd>\n\
<dt>T<sub>D</sub></dt><dd>detection time: from a crash to the start of the suspicion that stays until the target \
recovers (0 if a suspicion was already open). Without injected crashes, the per-heartbeat estimate: for each \
heartbeat, when the detector would have suspected had it been the last, minus its send time.</dd>\n\
<dt>P<sub>A</sub></dt><dd>query accuracy: the share of the target's up time in which the detector trusted it.</dd>\n\
<dt>mistakes by cause</dt><dd>read from the silence before each mistake, the first that applies: a monitor pause, a \
target pause, a crash too short to detect (recovery), a partition, else the network.</dd>\n\
<dt>link</dt><dd>monitor→target; figures over several links are computed from every mistake of every link.</dd>\n\
</dl>\n";

/// The page for the results in `dir`, with `charts` (paths relative to `dir`).
pub fn page(dir: &Path, summary: &SummaryFile, charts: &[Drawn]) -> String {
    let name = &summary.experiment;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>fdlab: {}</title>\n<style>\n\
         body {{ font-family: sans-serif; margin: 2em auto; max-width: 1250px; color: #222; }}\n\
         table {{ border-collapse: collapse; font-size: 14px; }}\n\
         th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: right; }}\n\
         th {{ background: #f3f3f3; }} td:first-child {{ text-align: left; font-family: monospace; }}\n\
         figure {{ margin: 2em 0; }} img {{ max-width: 100%; border: 1px solid #ddd; }}\n\
         figcaption {{ color: #444; margin-top: .4em; }}\n</style>\n</head>\n<body>\n",
        escape(name)
    );
    let _ = writeln!(h, "<h1>{}</h1>", escape(name));
    // The experiment's record is kept as JSON (its schema is the experiment module's); the
    // page takes its description, question, answer and source from it.
    let field =
        |key: &str| summary.experiment_config.as_ref().and_then(|c| c.get(key)?.as_str()).filter(|d| !d.is_empty());
    if let Some(d) = field("description") {
        let _ = writeln!(h, "<p>{}</p>", escape(d));
    }
    // What the experiment asks and the answer it gave (the experiment suite's header).
    for (key, title) in [("question", "Question"), ("answer", "Answer"), ("source", "Source")] {
        if let Some(text) = field(key) {
            let _ = writeln!(h, "<p><b>{title}.</b> {}</p>", escape(text));
        }
    }
    let _ = writeln!(
        h,
        "<p>Engine <b>{}</b>, seed <b>{}</b>, run length {}, fdlab {}.</p>",
        escape(summary.engine.name()),
        summary.seed.map_or("none".to_string(), |s| s.to_string()),
        seconds(Some(summary.run_end_s)),
        escape(&summary.fdlab_version)
    );
    h.push_str("<table>\n<tr><th>detector</th><th>link</th><th>mistakes</th><th>per day [95 % CI]</th><th>mean T<sub>M</sub></th>\
                <th>T<sub>D</sub> mean</th><th>T<sub>D</sub> p99</th><th>P<sub>A</sub></th><th>mistakes by cause</th></tr>\n");
    for r in summary.figures() {
        // Totals over one link name it, from its per-link result.
        let links: Vec<String> = summary
            .results
            .iter()
            .filter(|l| l.detector == r.detector)
            .map(|l| l.monitor.as_ref().map_or_else(|| l.target.clone(), |m| format!("{m}→{}", l.target)))
            .collect();
        let link = match r.over {
            Over::Links(1) if links.len() == 1 => links[0].clone(),
            Over::Links(n) => format!("all {n} links"),
            Over::Link { monitor: Some(m), target } => format!("{m}→{target}"),
            Over::Link { monitor: None, target } => target.to_string(),
        };
        let per_day = match (r.mistakes_per_day, r.mistake_rate_per_s_ci95) {
            (Some(d), Some([lo, hi])) => format!("{} [{}, {}]", num(d), num(lo * 86400.0), num(hi * 86400.0)),
            _ => "–".into(),
        };
        // By the causes' names: the order the page has always listed them in.
        let mut causes: Vec<(&str, u64)> = r.mistakes_by_cause.iter().map(|(c, n)| (c.name(), *n)).collect();
        causes.sort_unstable();
        let causes =
            causes.iter().map(|(c, n)| format!("{} {}", c.replace('_', " "), n)).collect::<Vec<_>>().join(", ");
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(r.detector),
            escape(&link),
            r.mistakes,
            per_day,
            seconds(r.mistake_duration_s.mean),
            seconds(r.detection_time_s.mean),
            seconds(r.detection_time_s.p99),
            r.query_accuracy.map_or("–".into(), |p| format!("{p:.6}")),
            escape(&causes)
        );
    }
    h.push_str("</table>\n");
    h.push_str(DEFINITIONS);
    for c in charts {
        let rel = |p: &Path| p.strip_prefix(dir).unwrap_or(p).to_string_lossy().replace('\\', "/");
        // The chart draws its own title; the page does not repeat it above the image. An
        // unreadable PNG (removed since it was drawn) is linked instead of embedded.
        let src = match std::fs::read(&c.png) {
            Ok(bytes) => format!("data:image/png;base64,{}", base64(&bytes)),
            Err(_) => rel(&c.png),
        };
        let _ = writeln!(
            h,
            "<figure>\n<img src=\"{}\" alt=\"{}\">\n<figcaption>{} (<a href=\"{}\">SVG</a>)</figcaption>\n</figure>",
            escape(&src),
            escape(&c.title),
            escape(&c.caption),
            escape(&rel(&c.svg))
        );
    }
    h.push_str(
        "<script>\nwindow.addEventListener('load', function () {\n  var broken = Array.prototype.filter.call(document.images, \
         function (i) { return !i.complete || i.naturalWidth === 0; });\n  document.body.setAttribute('data-images', \
         broken.length ? 'broken: ' + broken.map(function (i) { return i.getAttribute('src'); }).join(' ') : 'ok');\n});\n\
         </script>\n</body>\n</html>\n",
    );
    h
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_matches_rfc_4648_test_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain}");
        }
        assert_eq!(base64(&[0xff, 0xfe, 0xfd]), "//79");
    }
}
