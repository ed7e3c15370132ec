//! Records a hash of what fdlab is built from (`FDLAB_SOURCE_HASH`), part of the build id
//! every shard carries (`fdlab::sim::shard::BUILD_ID`), so that `fdlab merge` refuses shards
//! of different builds. FNV-1a 64 over the relative path and bytes of every file under `src/`
//! (sorted), `Cargo.toml`, `Cargo.lock` and this file: the same sources and locked
//! dependencies give the same id on any machine; no dependency is needed to compute it.

use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    let mut paths = vec![root.join("Cargo.toml"), root.join("Cargo.lock"), root.join("build.rs")];
    files(&root.join("src"), &mut paths);
    paths.sort();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= *b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for path in &paths {
        let rel = path.strip_prefix(&root).unwrap_or(path);
        // `/` between parts, whatever the platform.
        let name: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        eat(name.join("/").as_bytes());
        eat(&[0]);
        eat(&std::fs::read(path).unwrap_or_default());
        eat(&[0]);
    }
    println!("cargo:rustc-env=FDLAB_SOURCE_HASH={h:016x}");
    for p in ["src", "Cargo.toml", "Cargo.lock", "build.rs"] {
        println!("cargo:rerun-if-changed={p}");
    }
}
