//! Outputs: `summary.json`, the readable table, and safe file writing.
//!
//! Data first, pictures second (DESIGN.md §2 point 6): every run writes its numbers here;
//! charts are drawn from those files.

pub mod summary;

use std::io::Write;
use std::path::Path;

/// Writes `path` all at once: to a temporary file in the same directory, then renamed over
/// it, so a reader (or a crash half-way) never sees a partial file.
pub fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(contents)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// A file being written in place of `path`: it appears only when [`AtomicFile::commit`]
/// is called, and a dropped, uncommitted one leaves nothing behind.
pub struct AtomicFile {
    tmp: tempfile::NamedTempFile,
    writer: std::io::BufWriter<std::fs::File>,
    path: std::path::PathBuf,
}

impl AtomicFile {
    pub fn create(path: &Path) -> std::io::Result<AtomicFile> {
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let tmp = tempfile::NamedTempFile::new_in(dir)?;
        let writer = std::io::BufWriter::with_capacity(1 << 20, tmp.reopen()?);
        Ok(AtomicFile { tmp, writer, path: path.to_path_buf() })
    }

    pub fn writer(&mut self) -> &mut dyn Write {
        &mut self.writer
    }

    pub fn commit(mut self) -> std::io::Result<()> {
        self.writer.flush()?;
        self.tmp.persist(&self.path).map_err(|e| e.error)?;
        Ok(())
    }
}
