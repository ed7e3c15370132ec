//! The library's layers point one way (DESIGN.md §4): time → detector → trace, fault →
//! workload → experiment → analysis → sim, replay → live → tune → report → fit → main. Each top-level module's imports
//! (outside comments and unit tests) are read from its source, and the test fails on any
//! import against that order, so a cycle cannot come back.

use std::collections::BTreeSet;
use std::path::Path;

/// Bottom first: a module may import only modules before it.
const ORDER: &[&str] = &[
    "text",
    "time",
    "detector",
    "trace",
    "fault",
    "workload",
    "experiment",
    "analysis",
    "sim",
    "replay",
    "live",
    "tune",
    "report",
    "fit",
];

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The lines of a top-level module's code, outside comments and unit tests, with the file
/// each is in.
fn code_lines(module: &str) -> Vec<(std::path::PathBuf, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    if src.join(format!("{module}.rs")).exists() {
        files.push(src.join(format!("{module}.rs")));
    }
    if src.join(module).is_dir() {
        sources(&src.join(module), &mut files);
    }
    assert!(!files.is_empty(), "no source for module `{module}`");
    let mut lines = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            lines.push((file.clone(), line.to_string()));
        }
    }
    lines
}

fn imports(module: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (_, line) in code_lines(module) {
        for (i, _) in line.match_indices("crate::") {
            let name: String = line[i + 7..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
            if ORDER.contains(&name.as_str()) && name != module {
                found.insert(name);
            }
        }
    }
    found
}

#[test]
fn every_module_imports_only_modules_below_it() {
    let mut wrong = Vec::new();
    for (level, module) in ORDER.iter().enumerate() {
        for imported in imports(module) {
            if ORDER.iter().position(|m| *m == imported).unwrap() > level {
                wrong.push(format!("{module} imports {imported}"));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layers: {wrong:?}");
}

#[test]
fn the_check_sees_imports() {
    // The check itself: the simulator does import the analysis and the fault timeline.
    let sim = imports("sim");
    assert!(sim.contains("analysis") && sim.contains("fault"), "{sim:?}");
    assert!(imports("time").is_empty());
}

/// Calls whose results the platform's maths library decides (they differ between glibc's
/// variants, musl, macOS and Windows in the last bits): `libm`'s pure-Rust functions give the
/// same bits on every machine. (`sqrt`, `floor`, `ceil`, `abs` and `mul_add` are exactly
/// specified by IEEE 754 and may stay.) statrs's functions call the platform's `exp` and `ln`.
const PLATFORM_MATHS: &[&str] = &[
    ".exp()",
    ".exp2()",
    ".exp_m1()",
    ".ln()",
    ".ln_1p()",
    ".log10()",
    ".log2()",
    ".powf(",
    ".powi(",
    ".cbrt()",
    ".hypot(",
    ".sin()",
    ".cos()",
    ".tan()",
    ".asin()",
    ".acos()",
    ".atan()",
    ".atan2(",
    ".sinh()",
    ".cosh()",
    ".tanh()",
    "statrs::",
];

fn is_platform_maths(line: &str) -> bool {
    PLATFORM_MATHS.iter().any(|call| line.contains(call))
}

/// Results must not depend on the machine (shards of one experiment may run on machines of
/// different kinds, and a merge must equal the whole run; a tuning or a fit asked for twice
/// must answer the same): every module's code uses pure-Rust maths.
#[test]
fn no_module_uses_platform_maths() {
    let found: Vec<String> = ORDER
        .iter()
        .flat_map(|m| code_lines(m))
        .filter(|(_, line)| is_platform_maths(line))
        .map(|(file, line)| format!("{}: {}", file.display(), line.trim()))
        .collect();
    assert!(found.is_empty(), "platform maths:\n{}", found.join("\n"));
}

#[test]
fn the_maths_check_sees_platform_calls() {
    for line in ["let x = y.ln();", "a * (b * c).exp()", "statrs::function::erf::erfc(x)", "q.powi(2)", "10f64.powf(e)"]
    {
        assert!(is_platform_maths(line), "{line}");
    }
    for line in ["libm::log(y)", "x.sqrt()", "x.floor() as u64", "self.log(w, member)", "a.mul_add(b, c)"] {
        assert!(!is_platform_maths(line), "{line}");
    }
}
