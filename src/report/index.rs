//! `results/index.html`: every experiment with its question, its answer and a link to its
//! report (`fdlab index`, run by `scripts/run-experiments.sh`).
//!
//! The page is built from the experiment files (their `question`, `answer` and `source`) and
//! the results directories beside it; it references only files under the results directory
//! and works from `file://`. fdlab replaces an `index.html` only if fdlab wrote it (the
//! page's first line says so); any other file of that name is refused, never overwritten.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::experiment::{Experiment, ExperimentError};

/// The first line of every index fdlab writes: what proves a file is fdlab's to replace.
pub const MARK: &str = "<!DOCTYPE html><!-- fdlab index: written by `fdlab index`, replaced by it -->";

/// Why the index was not written.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Experiment(#[from] ExperimentError),
    #[error("{first} and {second} both name experiment `{name}`, whose results directory they would share; rename one")]
    SameName { first: String, second: String, name: String },
    #[error("{path}: no experiment files (*.toml) there")]
    NoExperiments { path: PathBuf },
    #[error(
        "{path} exists and fdlab did not write it (its first line is not fdlab's mark); move it away, or write \
         the index elsewhere with --out"
    )]
    NotOurs { path: PathBuf },
    #[error("writing {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// One experiment as the index lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The file's name in the experiments directory.
    pub file: String,
    pub name: String,
    pub description: String,
    pub question: Option<String>,
    pub answer: Option<String>,
    pub source: Option<String>,
    /// `<name>/report.html`, relative to the index, when the results have been written.
    pub report: Option<String>,
}

/// The experiments in `experiments` (its `*.toml` files, by name; subdirectories such as
/// `bench/` are not part of the suite), each checked as `fdlab run` would, with whether
/// `results/<name>/report.html` exists.
pub fn entries(experiments: &Path, results: &Path) -> Result<Vec<Entry>, IndexError> {
    let read = |source| IndexError::Read { path: experiments.to_path_buf(), source };
    let mut files: Vec<PathBuf> = std::fs::read_dir(experiments)
        .map_err(read)?
        .map(|e| e.map(|e| e.path()).map_err(read))
        .collect::<Result<_, _>>()?;
    files.retain(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"));
    files.sort();
    if files.is_empty() {
        return Err(IndexError::NoExperiments { path: experiments.to_path_buf() });
    }
    files
        .iter()
        .map(|path| {
            let e = Experiment::load(path)?;
            let report = results.join(&e.name).join("report.html");
            Ok(Entry {
                file: path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
                name: e.name.clone(),
                description: e.description.clone(),
                question: e.question.clone(),
                answer: e.answer.clone(),
                source: e.source.clone(),
                report: report.is_file().then(|| format!("{}/report.html", url_segment(&e.name))),
            })
        })
        .collect::<Result<Vec<Entry>, IndexError>>()
        .and_then(|entries| {
            // Each names its results directory: two of one name would share it.
            for (i, e) in entries.iter().enumerate() {
                if let Some(first) = entries[..i].iter().find(|f| f.name == e.name) {
                    return Err(IndexError::SameName {
                        first: first.file.clone(),
                        second: e.file.clone(),
                        name: e.name.clone(),
                    });
                }
            }
            Ok(entries)
        })
}

/// `text` as one segment of a URL path: every byte but RFC 3986's unreserved characters
/// (letters, digits, `-`, `.`, `_`, `~`) percent-encoded, so that `#`, `?`, `%` and spaces in
/// an experiment's name do not end or garble the link.
fn url_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The page listing `entries`.
pub fn page(entries: &[Entry]) -> String {
    let mut h = String::new();
    h.push_str(MARK);
    h.push_str(
        "\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>fdlab experiments</title>\n<style>\n\
         body { font-family: sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }\n\
         section { border-top: 1px solid #ccc; padding: .6em 0; }\n\
         h2 { font-size: 1.15em; margin: .4em 0; } .q { font-style: italic; } .src { color: #555; font-size: .9em; }\n\
         code { font-size: .95em; }\n</style>\n</head>\n<body>\n<h1>fdlab experiments</h1>\n\
         <p>Each experiment answers one question; its answer is asserted by a test, so a change that flips it \
         fails. Run them all with <code>scripts/run-experiments.sh</code>.</p>\n",
    );
    for e in entries {
        let _ = write!(h, "<section id=\"{}\">\n<h2>", escape(&e.name));
        match &e.report {
            Some(link) => {
                let _ = write!(h, "<a href=\"{}\">{}</a>", escape(link), escape(&e.name));
            }
            None => h.push_str(&escape(&e.name)),
        }
        let _ = writeln!(h, " <small><code>{}</code></small></h2>", escape(&e.file));
        if !e.description.is_empty() {
            let _ = writeln!(h, "<p>{}</p>", escape(&e.description));
        }
        if let Some(q) = &e.question {
            let _ = writeln!(h, "<p class=\"q\"><b>Question.</b> {}</p>", escape(q));
        }
        match &e.answer {
            Some(a) => {
                let _ = writeln!(h, "<p><b>Answer.</b> {}</p>", escape(a));
            }
            None => h.push_str("<p><b>Answer.</b> not stated yet.</p>\n"),
        }
        if let Some(s) = &e.source {
            let _ = writeln!(h, "<p class=\"src\">Source of the claim: {}</p>", escape(s));
        }
        if e.report.is_none() {
            h.push_str("<p class=\"src\">No results yet: run <code>scripts/run-experiments.sh</code>.</p>\n");
        }
        h.push_str("</section>\n");
    }
    h.push_str("</body>\n</html>\n");
    h
}

/// Writes the index of `experiments` at `out` (replacing only an index fdlab wrote), and
/// returns how many experiments it lists.
pub fn write_index(experiments: &Path, results: &Path, out: &Path) -> Result<usize, IndexError> {
    let entries = entries(experiments, results)?;
    match std::fs::read(out) {
        Ok(old) if !old.starts_with(MARK.as_bytes()) => return Err(IndexError::NotOurs { path: out.to_path_buf() }),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(IndexError::Read { path: out.to_path_buf(), source }),
    }
    super::write_atomic(out, page(&entries).as_bytes())
        .map_err(|source| IndexError::Write { path: out.to_path_buf(), source })?;
    Ok(entries.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn experiment(name: &str, header: &str) -> String {
        format!(
            "name = \"{name}\"\nseed = 1\n{header}duration = \"1s\"\ndetectors = [\"fixed:timeout=1s\"]\n[[nodes]]\nid = \
             \"a\"\n[[nodes]]\nid = \"b\"\n"
        )
    }

    #[test]
    fn the_index_lists_each_experiment_with_its_question_answer_and_report() {
        let dir = tempfile::tempdir().unwrap();
        let (exps, results) = (dir.path().join("experiments"), dir.path().join("results"));
        std::fs::create_dir_all(exps.join("bench")).unwrap();
        std::fs::write(
            exps.join("b.toml"),
            experiment("b", "question = \"Is x < y?\"\nanswer = \"Yes: 3 < 4 & 5 > 2.\"\nsource = \"Paper 2004\"\n"),
        )
        .unwrap();
        std::fs::write(exps.join("a.toml"), experiment("a", "")).unwrap();
        std::fs::write(exps.join("bench/c.toml"), experiment("c", "")).unwrap();
        std::fs::write(exps.join("notes.txt"), "not an experiment").unwrap();
        std::fs::create_dir_all(results.join("b")).unwrap();
        std::fs::write(results.join("b/report.html"), "").unwrap();
        let out = results.join("index.html");
        assert_eq!(write_index(&exps, &results, &out).unwrap(), 2);
        let page = std::fs::read_to_string(&out).unwrap();
        assert!(page.starts_with(MARK));
        let (a, b) = (page.find("id=\"a\"").unwrap(), page.find("id=\"b\"").unwrap());
        assert!(a < b, "by file name");
        assert!(page.contains("<a href=\"b/report.html\">b</a>"), "{page}");
        assert!(!page.contains("href=\"a/"), "no link without results");
        assert!(page.contains("<b>Question.</b> Is x &lt; y?"));
        assert!(page.contains("<b>Answer.</b> Yes: 3 &lt; 4 &amp; 5 &gt; 2."));
        assert!(page.contains("Source of the claim: Paper 2004"));
        assert!(page.contains("<b>Answer.</b> not stated yet."));
        assert!(!page.contains("id=\"c\""), "bench/ is not part of the suite");
        // Written again over its own index: replaced.
        std::fs::write(exps.join("a.toml"), experiment("a", "answer = \"Now stated.\"\n")).unwrap();
        write_index(&exps, &results, &out).unwrap();
        assert!(std::fs::read_to_string(&out).unwrap().contains("Now stated."));
    }

    #[test]
    fn a_file_fdlab_did_not_write_is_never_replaced_and_bad_experiments_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let exps = dir.path().join("experiments");
        std::fs::create_dir_all(&exps).unwrap();
        let out = dir.path().join("index.html");
        let e = write_index(&exps, dir.path(), &out).unwrap_err().to_string();
        assert!(e.contains("no experiment files"), "{e}");
        std::fs::write(exps.join("a.toml"), experiment("a", "")).unwrap();
        std::fs::write(&out, "<html>mine</html>").unwrap();
        let e = write_index(&exps, dir.path(), &out).unwrap_err().to_string();
        assert!(e.contains("fdlab did not write it"), "{e}");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "<html>mine</html>");
        std::fs::remove_file(&out).unwrap();
        std::fs::write(exps.join("b.toml"), "name = \"b\"\nquestion = 3\n").unwrap();
        let e = write_index(&exps, dir.path(), &out).unwrap_err().to_string();
        assert!(e.contains("b.toml: line 2"), "{e}");
        assert!(!out.exists(), "nothing written");
        // Two files naming one experiment would share its results directory.
        std::fs::write(exps.join("b.toml"), experiment("a", "")).unwrap();
        let e = write_index(&exps, dir.path(), &out).unwrap_err().to_string();
        assert_eq!(
            e,
            "a.toml and b.toml both name experiment `a`, whose results directory they would share; rename one"
        );
        assert!(!out.exists(), "nothing written");
    }

    /// A name with `#`, `?`, `%`, a space or non-ASCII letters still links to its report.
    #[test]
    fn links_are_percent_encoded() {
        assert_eq!(url_segment("my exp#1?x"), "my%20exp%231%3Fx");
        assert_eq!(url_segment("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(url_segment("100%é"), "100%25%C3%A9");
        let dir = tempfile::tempdir().unwrap();
        let (exps, results) = (dir.path().join("experiments"), dir.path().join("results"));
        std::fs::create_dir_all(&exps).unwrap();
        std::fs::write(exps.join("a.toml"), experiment("my exp#1?x", "")).unwrap();
        std::fs::create_dir_all(results.join("my exp#1?x")).unwrap();
        std::fs::write(results.join("my exp#1?x/report.html"), "").unwrap();
        let page = page(&entries(&exps, &results).unwrap());
        assert!(page.contains("<a href=\"my%20exp%231%3Fx/report.html\">my exp#1?x</a>"), "{page}");
    }
}
