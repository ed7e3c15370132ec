//! The library's layers point one way (DESIGN.md §4): time → detector → trace, fault →
//! workload → experiment → analysis → sim, replay → live → tune → report → fit → main. Each top-level module's imports
//! (outside comments and unit tests) are read from its source, and the test fails on any
//! import against that order, so a cycle cannot come back.

use std::collections::BTreeSet;
use std::path::Path;

/// Bottom first: a module may import only modules before it.
const ORDER: &[&str] = &[
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

fn imports(module: &str) -> BTreeSet<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    if src.join(format!("{module}.rs")).exists() {
        files.push(src.join(format!("{module}.rs")));
    }
    if src.join(module).is_dir() {
        sources(&src.join(module), &mut files);
    }
    assert!(!files.is_empty(), "no source for module `{module}`");
    let mut found = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (i, _) in line.match_indices("crate::") {
                let name: String = line[i + 7..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
                if ORDER.contains(&name.as_str()) && name != module {
                    found.insert(name);
                }
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
