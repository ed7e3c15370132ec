//! Results directories, written whole or not at all, and never over what fdlab did not write.
//!
//! [`ResultsWriter`] is the one writer of a results directory, whatever the engine (`run`,
//! `replay`): [`ResultsWriter::begin`] checks, before any work, that `out` may be replaced and
//! that its parent can be written (by creating the staging directory there); files are then
//! written into the staging directory, and [`ResultsWriter::commit`] lists them with their
//! sizes and SHA-256 digests in [`MANIFEST`] and swaps the staging directory into place.
//!
//! Ownership is proved by the manifest: a directory may be replaced only if it is absent or
//! empty, or holds its `.fdlab-manifest` and nothing but the files listed there, each with
//! its listed size and contents (a hand edit that keeps the size still changes the digest).
//! Anything else (a user's file, a file changed since, a results directory of an older
//! fdlab that kept no manifest) is refused with a message naming it. `fdlab plot` adds the
//! charts and report it writes later ([`record_written`]). Manifests of fdlab 0.1 builds
//! before the digests list sizes only; their files are checked by size.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

use super::parent_dir;
use super::staging::{self, Created, Staged};

/// The list of what fdlab wrote in a results directory.
pub const MANIFEST: &str = ".fdlab-manifest";

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{path} {reason}; refusing to replace it ({advice})")]
    Refused { path: PathBuf, reason: String, advice: String },
    #[error("{action} {path}: {source}")]
    Io { action: &'static str, path: PathBuf, source: io::Error },
    #[error("{flag} {path}: {reason}")]
    BadPath { flag: &'static str, path: PathBuf, reason: String },
}

impl OutputError {
    fn io(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> OutputError {
        let path = path.to_path_buf();
        move |source| OutputError::Io { action, path, source }
    }
}

const MOVE_AWAY: &str = "choose another --out, or move it away";
const REDRAW: &str = "move it away, then draw again";

fn refuse(out: &Path, reason: String, advice: &str) -> OutputError {
    OutputError::Refused { path: out.to_path_buf(), reason, advice: advice.to_string() }
}

/// `.fdlab-manifest`: every file fdlab wrote in the directory, by its path relative to the
/// directory (`/` between parts), with its size in bytes and SHA-256 digest.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    about: String,
    fdlab_version: String,
    files: BTreeMap<String, Listed>,
}

/// A file as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
enum Listed {
    Written {
        bytes: u64,
        /// Lower-case hex.
        sha256: String,
    },
    /// What manifests before the digests held: the size only.
    Size(u64),
}

/// How long before a file is read its last change must be for its digest to be kept
/// ([`Listed::of_checked`]): more than the coarsest clock tick of a local file system.
const SETTLED: std::time::Duration = std::time::Duration::from_secs(2);

/// Files this process has read, by (device, inode): their size, modification and change
/// times then, and what they held.
#[cfg(unix)]
type Stamp = (u64, i64, i64, i64, i64);
#[cfg(unix)]
fn read_before() -> std::sync::MutexGuard<'static, BTreeMap<(u64, u64), (Stamp, Listed)>> {
    static READ: std::sync::Mutex<BTreeMap<(u64, u64), (Stamp, Listed)>> = std::sync::Mutex::new(BTreeMap::new());
    READ.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

thread_local! {
    /// How many files [`Listed::of`] has read on this thread (for tests).
    static FILES_READ: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

impl Listed {
    /// The file at `path` as it is now: its size and digest.
    fn of(path: &Path) -> Result<Listed, OutputError> {
        use sha2::Digest;
        FILES_READ.set(FILES_READ.get() + 1);
        let mut file = File::open(path).map_err(OutputError::io("reading", path))?;
        let mut hasher = sha2::Sha256::new();
        let bytes = io::copy(&mut file, &mut hasher).map_err(OutputError::io("reading", path))?;
        Ok(Listed::Written { bytes, sha256: hasher.finalize().iter().map(|b| format!("{b:02x}")).collect() })
    }

    /// As [`Self::of`], without reading the file again where this process has read it
    /// before and it is provably unchanged since: the same device and inode, size,
    /// modification and change times (a change time no user can set), and a change time at
    /// least `settled` before that reading began, so that a write in the same tick of the file
    /// system's clock cannot hide (git's racily clean entries). An old results directory is
    /// checked before a run and twice when it is swapped; its files are read once.
    fn of_checked(path: &Path, settled: std::time::Duration) -> Result<Listed, OutputError> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let stamp = |path: &Path| {
                std::fs::symlink_metadata(path)
                    .ok()
                    .map(|m| ((m.dev(), m.ino()), (m.len(), m.mtime(), m.mtime_nsec(), m.ctime(), m.ctime_nsec())))
            };
            let Some((id, before)) = stamp(path) else { return Listed::of(path) };
            if let Some((seen, listed)) = read_before().get(&id)
                && *seen == before
            {
                return Ok(listed.clone());
            }
            let started = std::time::SystemTime::now();
            let listed = Listed::of(path)?;
            let changed_at = std::time::UNIX_EPOCH
                + std::time::Duration::from_secs(u64::try_from(before.3).unwrap_or(0))
                + std::time::Duration::from_nanos(u64::try_from(before.4).unwrap_or(0));
            // (Mutation testing, equivalent: `<=`, which differs only for a change exactly
            // `settled` before the reading, to the nanosecond.)
            let settled_before = started.checked_sub(settled).is_some_and(|limit| changed_at < limit);
            // (A change time at or before 1970 is no time to trust. Mutation testing,
            // equivalent: `>=`, which differs only for a change at the epoch's first second.)
            if settled_before && before.3 > 0 && stamp(path) == Some((id, before)) {
                read_before().insert(id, (before, listed.clone()));
            }
            Ok(listed)
        }
        #[cfg(not(unix))]
        {
            let _ = settled;
            Listed::of(path)
        }
    }

    /// Why the file at `path`, of `size` bytes, is not the one listed; `None` if it is. The
    /// contents are read only when the size matches a digest.
    fn changed(&self, path: &Path, size: u64) -> Result<Option<String>, OutputError> {
        let listed = match self {
            Listed::Written { bytes, .. } | Listed::Size(bytes) => *bytes,
        };
        if size != listed {
            return Ok(Some(format!("{size} bytes, was {listed}")));
        }
        match self {
            Listed::Written { .. } if Listed::of_checked(path, SETTLED)? != *self => {
                Ok(Some(format!("{size} bytes as before, but other contents")))
            }
            _ => Ok(None),
        }
    }
}

const ABOUT: &str = "Every file fdlab wrote in this directory, with its size in bytes and SHA-256 digest. \
                     fdlab replaces the directory (a later run with the same --out) only while it holds \
                     nothing else, unchanged.";

impl Manifest {
    fn new(files: BTreeMap<String, Listed>) -> Manifest {
        Manifest { about: ABOUT.into(), fdlab_version: env!("CARGO_PKG_VERSION").into(), files }
    }

    /// The manifest of `dir`, `None` if it has none.
    fn read(dir: &Path, out: &Path) -> Result<Option<Manifest>, OutputError> {
        let path = dir.join(MANIFEST);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(OutputError::Io { action: "reading", path, source: e }),
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            refuse(
                out,
                format!("has a {MANIFEST} that fdlab cannot read ({e})"),
                "move it away, or choose another --out",
            )
        })
    }

    fn to_bytes(&self) -> Vec<u8> {
        // Cannot fail: strings and integers only.
        let mut text = serde_json::to_string_pretty(self).expect("manifest serializes");
        text.push('\n');
        text.into_bytes()
    }

    /// Whether some listed file is below the directory `rel`.
    fn has_below(&self, rel: &str) -> bool {
        let prefix = format!("{rel}/");
        self.files.range(prefix.clone()..).next().is_some_and(|(k, _)| k.starts_with(&prefix))
    }
}

/// What older fdlab versions wrote in a results directory (they kept no manifest): used only
/// to tell such a directory from someone else's in the refusal's message.
const OLD_RESULT_FILES: &[&str] = &[
    "summary.json",
    "mistakes.csv",
    "delay.hgrm",
    "interarrival.hgrm",
    "faults.json",
    "trace.csv",
    "levels.csv",
    "report.html",
];
const OLD_RESULT_DIRS: &[&str] = &["detection-time", "mistake-duration", "timeline", "charts"];

/// Whether a new results directory may replace `out`: it does not exist, or it is an empty
/// directory, or it holds its manifest and only the files listed there, unchanged. Anything
/// else is an error naming what is in the way, so that fdlab never deletes what it did not
/// write. What interrupted fdlab processes left (staging paths) does not count.
pub fn check_replaceable(out: &Path) -> Result<(), OutputError> {
    check_dir(out, out)
}

/// [`check_replaceable`] on `dir`, naming it `out` in messages (`dir` may be `out` moved aside).
fn check_dir(dir: &Path, out: &Path) -> Result<(), OutputError> {
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(OutputError::Io { action: "reading", path: out.to_path_buf(), source: e }),
    };
    if !meta.is_dir() {
        return Err(refuse(out, "exists and is not a directory".into(), MOVE_AWAY));
    }
    match Manifest::read(dir, out)? {
        Some(manifest) => check_listed(dir, "", &manifest, out),
        None => check_unlisted(dir, out),
    }
}

/// Sorted entries of `dir`, with their metadata (not following symbolic links), leaving out
/// what interrupted fdlab processes left.
fn entries(dir: &Path, out: &Path, rel: &str) -> Result<Vec<(String, std::fs::Metadata)>, OutputError> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(OutputError::io("reading", dir))? {
        let entry = entry.map_err(OutputError::io("reading", dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let meta = entry.metadata().map_err(OutputError::io("reading", &entry.path()))?;
        match staging::kind(&name, &meta) {
            staging::Kind::Leftover => continue,
            staging::Kind::Live { pid } => {
                return Err(refuse(
                    out,
                    format!("holds `{}`, which another fdlab (process {pid}) is writing", join(rel, &name)),
                    "wait for it to finish, or choose another --out",
                ));
            }
            staging::Kind::Other => found.push((name, meta)),
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

fn join(rel: &str, name: &str) -> String {
    if rel.is_empty() { name.to_string() } else { format!("{rel}/{name}") }
}

fn check_listed(dir: &Path, rel: &str, manifest: &Manifest, out: &Path) -> Result<(), OutputError> {
    for (name, meta) in entries(dir, out, rel)? {
        let path = join(rel, &name);
        if path == MANIFEST {
            continue;
        }
        let kind = meta.file_type();
        if kind.is_file() {
            let Some(listed) = manifest.files.get(&path) else {
                return Err(refuse(out, format!("holds `{path}`, which fdlab did not write"), MOVE_AWAY));
            };
            if let Some(change) = listed.changed(&dir.join(&name), meta.len())? {
                return Err(refuse(out, format!("holds `{path}`, changed since fdlab wrote it ({change})"), MOVE_AWAY));
            }
        } else if kind.is_dir() && manifest.has_below(&path) {
            check_listed(&dir.join(&name), &path, manifest, out)?;
        } else {
            return Err(refuse(out, format!("holds `{path}`, which fdlab did not write"), MOVE_AWAY));
        }
    }
    Ok(())
}

fn check_unlisted(dir: &Path, out: &Path) -> Result<(), OutputError> {
    let found = entries(dir, out, "")?;
    if found.is_empty() {
        return Ok(());
    }
    let old_name = |(name, meta): &(String, std::fs::Metadata)| {
        (meta.is_file() && OLD_RESULT_FILES.contains(&name.as_str()))
            || (meta.is_dir() && OLD_RESULT_DIRS.contains(&name.as_str()))
    };
    if let Some((name, _)) = found.iter().find(|e| !old_name(e)) {
        return Err(refuse(out, format!("holds `{name}`, which fdlab does not write"), MOVE_AWAY));
    }
    Err(refuse(
        out,
        format!(
            "has no {MANIFEST}, the list fdlab keeps of the files it wrote (it looks like the results of an \
             older fdlab, which kept none)"
        ),
        &format!(
            "if it holds only results you no longer need, delete it yourself (rm -r {}) and run again, or choose \
             another --out",
            out.display()
        ),
    ))
}

/// A relative path of plain names only (no `..`, no root), or an error naming it.
fn plain_relative(rel: &Path) -> Result<(), OutputError> {
    if rel.as_os_str().is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(OutputError::BadPath {
            flag: "results file",
            path: rel.to_path_buf(),
            reason: "not a plain path inside the results directory".into(),
        });
    }
    Ok(())
}

/// A results directory being written (see the module doc).
pub struct ResultsWriter {
    out: PathBuf,
    stage: Staged,
    /// Directories created for `out`'s parent: removed again (if still empty) unless the
    /// results are committed. Declared after `stage`, which must go first.
    created: Created,
}

impl ResultsWriter {
    /// Checks that `out` may be replaced, creates its parent, removes what interrupted fdlab
    /// processes left there, and creates the staging directory there: all before any work,
    /// so that a long run cannot end in a refusal or an unwritable directory.
    pub fn begin(out: &Path) -> Result<ResultsWriter, OutputError> {
        let Some(name) = out.file_name().filter(|_| !super::ends_in_current_dir(out)) else {
            return Err(refuse(
                out,
                "is not a directory of its own (it ends in `.` or `..`, or is the root)".into(),
                "choose a new directory for the results",
            ));
        };
        // Renames go through the parent as it resolves (absolute, no `..`, no links): `a/b/../b`
        // would be moved aside from under its own spelling and could not be put back, and
        // `link/` names the link's target (refused below, as `link` is).
        let out = &resolve(parent_dir(out)).join(name);
        check_replaceable(out)?;
        let parent = parent_dir(out);
        let created = Created::dirs_of(parent).map_err(OutputError::io("creating", parent))?;
        staging::remove_leftovers(parent)
            .map_err(OutputError::io("removing what an interrupted fdlab left in", parent))?;
        let stage = Staged::dir_in(parent).map_err(OutputError::io("cannot write the results in", parent))?;
        Ok(ResultsWriter { out: out.to_path_buf(), stage, created })
    }

    /// Where the results go.
    pub fn out(&self) -> &Path {
        &self.out
    }

    /// The staging directory: files written here become the results directory's.
    pub fn dir(&self) -> &Path {
        self.stage.path()
    }

    /// Creates the file `rel` (a relative path) in the staging directory, with its
    /// directories; an error if it already exists there.
    pub fn create(&self, rel: &Path) -> Result<File, OutputError> {
        plain_relative(rel)?;
        let mut dir = self.stage.path().to_path_buf();
        if let Some(parents) = rel.parent() {
            // One level at a time and never the staging directory itself: if a signal handler
            // removed it, this fails rather than create it again.
            for part in parents.components() {
                dir.push(part);
                match std::fs::create_dir(&dir) {
                    Err(e) if !(e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir()) => {
                        return Err(OutputError::Io { action: "creating", path: self.out.join(rel), source: e });
                    }
                    _ => {}
                }
            }
        }
        File::options()
            .write(true)
            .create_new(true)
            .open(self.stage.path().join(rel))
            .map_err(OutputError::io("creating", &self.out.join(rel)))
    }

    /// Writes the file `rel` with `bytes`.
    pub fn add(&self, rel: &Path, bytes: &[u8]) -> Result<(), OutputError> {
        let mut file = self.create(rel)?;
        file.write_all(bytes).map_err(OutputError::io("writing", &self.out.join(rel)))
    }

    /// Lists what was written in the manifest and puts the directory in place of `out`
    /// (checked again: the old directory is moved aside, checked, and only then removed, so
    /// that a file a user put there meanwhile is never deleted).
    pub fn commit(mut self) -> Result<(), OutputError> {
        let mut files = BTreeMap::new();
        list_files(self.stage.path(), "", &mut files)?;
        self.add(Path::new(MANIFEST), &Manifest::new(files).to_bytes())?;
        let parent = parent_dir(&self.out).to_path_buf();
        let out = self.out.clone();
        // Declared before the registry's guard, so that an early return releases the guard
        // first: dropping a staging path takes the registry's lock (before, a failed move
        // dropped it with the lock held and the process hung, deaf to signals).
        let mut aside: Option<Staged> = None;
        let mut registry = staging::registry();
        if std::fs::symlink_metadata(&out).is_ok() {
            // Checked in place, then moved aside and checked again: a file that appeared in
            // the directory at any time before the move is seen, and the directory restored.
            check_replaceable(&out)?;
            let moved = aside.insert(
                Staged::dir_in_locked(parent.as_path(), &mut registry)
                    .map_err(OutputError::io("writing in", &parent))?,
            );
            #[cfg(not(unix))]
            std::fs::remove_dir(moved.path()).map_err(OutputError::io("writing in", &parent))?;
            // On Unix, renaming a directory over an empty one replaces it.
            std::fs::rename(&out, moved.path()).map_err(OutputError::io("moving aside", &out))?;
            let swapped = check_dir(moved.path(), &out).and_then(|()| {
                std::fs::rename(self.stage.path(), &out).map_err(OutputError::io("renaming into", &out))
            });
            if let Err(e) = swapped {
                if let Err(back) = std::fs::rename(moved.path(), &out) {
                    // The old directory cannot go back (something took its place meanwhile):
                    // it is kept under a name of its own beside it, which no later fdlab
                    // removes, and the message says where.
                    let kept = keep_beside(moved.path(), &out);
                    moved.mark_moved(&mut registry);
                    return Err(match kept {
                        Ok(kept) => refuse(
                            &out,
                            format!("{e}; and it could not be put back ({back}): it is kept at {}", kept.display()),
                            "move it back by hand",
                        ),
                        // Not even that: it keeps its staging name, which a later fdlab in
                        // this directory removes as an interrupted run's leftover.
                        Err(_) => refuse(
                            &out,
                            format!(
                                "{e}; and it could not be put back ({back}): it is now at {}",
                                moved.path().display()
                            ),
                            "move it back by hand before running fdlab in that directory again, which would remove \
                             it as a leftover",
                        ),
                    });
                }
                return Err(e);
            }
        } else {
            std::fs::rename(self.stage.path(), &out).map_err(OutputError::io("renaming into", &out))?;
        }
        self.stage.mark_moved(&mut registry);
        self.created.keep();
        drop(registry);
        // The old directory, now a registered staging path, is removed when dropped.
        drop(aside);
        Ok(())
    }
}

impl Drop for ResultsWriter {
    fn drop(&mut self) {
        if !self.stage.is_done() {
            // The staging directory must go before the directories it is in (`created`,
            // dropped after this).
            self.stage.remove_now();
        }
    }
}

/// Renames the directory `moved` to the first free name `OUT.kept`, `OUT.kept-2`, ... beside
/// `out` (no staging prefix: nothing removes it), and returns it.
fn keep_beside(moved: &Path, out: &Path) -> io::Result<PathBuf> {
    let name = out.file_name().map_or_else(|| "results".into(), |n| n.to_string_lossy().into_owned());
    for i in 1..=100u32 {
        let kept = out.with_file_name(if i == 1 { format!("{name}.kept") } else { format!("{name}.kept-{i}") });
        if std::fs::symlink_metadata(&kept).is_ok() {
            continue;
        }
        // An empty directory made there meanwhile would be replaced by the rename, and
        // anything else refuses it: no one's file is lost.
        match std::fs::rename(moved, &kept) {
            Ok(()) => return Ok(kept),
            // Taken since the look above (a race): the next name. (Mutation testing,
            // equivalent but under that race: the guard as `false`.)
            Err(e) if matches!(e.kind(), io::ErrorKind::AlreadyExists | io::ErrorKind::DirectoryNotEmpty) => {}
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(io::ErrorKind::AlreadyExists, "every kept name is taken"))
}

/// Every file below `dir` with its size and digest, by path relative to it.
fn list_files(dir: &Path, rel: &str, files: &mut BTreeMap<String, Listed>) -> Result<(), OutputError> {
    for entry in std::fs::read_dir(dir).map_err(OutputError::io("reading", dir))? {
        let entry = entry.map_err(OutputError::io("reading", dir))?;
        let meta = entry.metadata().map_err(OutputError::io("reading", &entry.path()))?;
        let path = join(rel, &entry.file_name().to_string_lossy());
        if meta.is_dir() {
            list_files(&entry.path(), &path, files)?;
        } else {
            files.insert(path, Listed::of(&entry.path())?);
        }
    }
    Ok(())
}

/// Adds `written` (files inside `dir`, written there after the directory was) to `dir`'s
/// manifest as they are now, so that a later run may replace the directory. A directory
/// without a manifest keeps none: it was not fdlab's to begin with.
pub fn record_written(dir: &Path, written: &[PathBuf]) -> Result<(), OutputError> {
    let Some(mut manifest) = Manifest::read(dir, dir)? else { return Ok(()) };
    for path in written {
        let Some(rel) = listed_name(dir, path) else { continue };
        manifest.files.insert(rel, Listed::of(path)?);
    }
    let path = dir.join(MANIFEST);
    write_atomic(&path, &manifest.to_bytes()).map_err(OutputError::io("writing", &path))
}

/// Whether fdlab may replace `path`, a file inside its results directory `dir` (a chart,
/// the report): it does not exist, or `dir`'s manifest lists it as it is (fdlab wrote it).
/// A file the user put there, or changed since, is refused by name.
pub fn check_owned(dir: &Path, path: &Path) -> Result<(), OutputError> {
    let size = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => meta.len(),
        Ok(_) => return Err(refuse(path, "exists and is not a file fdlab wrote".into(), REDRAW)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(OutputError::Io { action: "reading", path: path.to_path_buf(), source: e }),
    };
    let listed = match (Manifest::read(dir, dir)?, listed_name(dir, path)) {
        (Some(mut manifest), Some(rel)) => manifest.files.remove(&rel),
        _ => None,
    };
    let Some(listed) = listed else {
        return Err(refuse(path, format!("is not a file fdlab wrote (not in {MANIFEST})"), REDRAW));
    };
    match listed.changed(path, size)? {
        None => Ok(()),
        Some(change) => Err(refuse(path, format!("changed since fdlab wrote it ({change})"), REDRAW)),
    }
}

/// `path`'s name in `dir`'s manifest: relative to `dir`, `/` between parts (`None` outside it).
fn listed_name(dir: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(dir).ok()?;
    Some(rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/"))
}

/// Writes `path` all at once: to a staging file in the same directory, then renamed over
/// it, so a reader (or a crash half-way) never sees a partial file. Only for files fdlab
/// owns (inside its results directories).
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = parent_dir(path);
    std::fs::create_dir_all(dir)?;
    let (staged, mut file) = Staged::file_in(dir, "")?;
    file.write_all(contents)?;
    file.sync_all()?;
    staged.rename_to(path)
}

/// A new file at `path`, which must not exist: written under a staging name beside it and
/// moved there by [`NewFile::commit`] only if nothing appeared there meanwhile. Dropped
/// uncommitted, it leaves nothing behind.
pub struct NewFile {
    staged: Staged,
    writer: io::BufWriter<File>,
    /// As the user wrote it (for messages), and where it is written: its resolved parent
    /// (absolute, no `..`, links followed) and its name.
    path: PathBuf,
    target: PathBuf,
    flag: &'static str,
    /// The missing directories of `path`'s parent, created; removed unless committed.
    /// Declared after `staged`, which must go first.
    created: Created,
}

impl NewFile {
    /// `flag` names the option that chose `path`, in errors.
    pub fn create(path: &Path, flag: &'static str) -> Result<NewFile, OutputError> {
        // The parent resolved first: `sub/../f.csv` writes `f.csv` and makes no `sub`.
        let target = match path.file_name() {
            Some(name) if !path.as_os_str().as_encoded_bytes().ends_with(b"/") && !super::ends_in_current_dir(path) => {
                resolve(parent_dir(path)).join(name)
            }
            _ => {
                return Err(OutputError::BadPath {
                    flag,
                    path: path.to_path_buf(),
                    reason: "names a directory, not a file".into(),
                });
            }
        };
        if std::fs::symlink_metadata(&target).is_ok() {
            return Err(OutputError::BadPath {
                flag,
                path: path.to_path_buf(),
                reason: "exists; fdlab writes only new files outside its results directories (move it away, or \
                         choose another path)"
                    .into(),
            });
        }
        let dir = parent_dir(&target);
        let created = Created::dirs_of(dir).map_err(OutputError::io("creating", dir))?;
        staging::remove_leftovers(dir).map_err(OutputError::io("removing what an interrupted fdlab left in", dir))?;
        let (staged, file) = Staged::file_in(dir, "").map_err(OutputError::io("cannot write in", dir))?;
        let writer = io::BufWriter::with_capacity(1 << 20, file);
        Ok(NewFile { staged, writer, path: path.to_path_buf(), target, flag, created })
    }

    pub fn writer(&mut self) -> &mut io::BufWriter<File> {
        &mut self.writer
    }

    pub fn commit(mut self) -> Result<(), OutputError> {
        self.writer.flush().map_err(OutputError::io("writing", &self.path))?;
        let (path, flag, mut created) = (self.path, self.flag, self.created);
        let linked = self.staged.link_to_new(&self.target);
        if linked.is_ok() {
            created.keep();
        }
        linked.map_err(|source| match source.kind() {
            io::ErrorKind::AlreadyExists => OutputError::BadPath {
                flag,
                path: path.clone(),
                reason: "appeared while fdlab was writing it; left as it is".into(),
            },
            _ => OutputError::Io { action: "writing", path: path.clone(), source },
        })
    }
}

/// `path` made absolute with symbolic links resolved as far as it exists (the rest taken as
/// written), so two spellings of one place compare equal.
pub fn resolve(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            let mut resolved = real;
            for part in rest.iter().rev() {
                match part {
                    Component::ParentDir => {
                        resolved.pop();
                    }
                    Component::CurDir => {}
                    other => resolved.push(other),
                }
            }
            return resolved;
        }
        match (existing.parent(), existing.components().next_back()) {
            (Some(parent), Some(last)) => {
                rest.push(last);
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

/// An error unless `input` lies outside the directory `out` that is going to be replaced.
/// `what` names the input in the message, e.g. `the input trace`.
pub fn check_outside(input: &Path, out: &Path, what: &str) -> Result<(), OutputError> {
    let (input_real, out_real) = (resolve(input), resolve(out));
    if input_real.starts_with(&out_real) {
        return Err(OutputError::BadPath {
            flag: "--out",
            path: out.to_path_buf(),
            reason: format!(
                "holds {what} {}, which replacing the directory would delete; choose another --out",
                input.display()
            ),
        });
    }
    Ok(())
}

/// An error unless the experiment file at `path` and every empirical delay trace `e` reads
/// (relative to the file's directory) lie outside the directory `out` that is going to be
/// replaced.
pub fn check_experiment_outside(path: &Path, e: &crate::experiment::Experiment, out: &Path) -> Result<(), OutputError> {
    check_outside(path, out, "the experiment file")?;
    let base = path.parent().unwrap_or(Path::new(""));
    for trace in e.delay_traces() {
        check_outside(&base.join(trace), out, "the empirical delay trace")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results(out: &Path) {
        crate::report::write_dir_atomic(out, &[("summary.json".into(), b"{}".to_vec())]).unwrap();
    }

    #[test]
    fn the_root_and_other_names_of_no_directory_of_their_own_are_refused() {
        for out in ["/", ".", "..", "results/..", "results/.", "results/./", "results/.//", "./"] {
            let e = ResultsWriter::begin(Path::new(out)).err().expect(out).to_string();
            assert!(e.contains("is not a directory of its own"), "{e}");
        }
    }

    #[test]
    fn a_file_put_in_the_directory_while_fdlab_works_stops_the_commit_and_survives() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("r");
        results(&out);
        let writer = ResultsWriter::begin(&out).unwrap();
        writer.add(Path::new("summary.json"), b"{\"new\": 1}").unwrap();
        std::fs::write(out.join("mine.txt"), "mine").unwrap();
        let e = writer.commit().unwrap_err().to_string();
        assert!(e.contains("holds `mine.txt`, which fdlab did not write"), "{e}");
        assert_eq!(std::fs::read_to_string(out.join("mine.txt")).unwrap(), "mine");
        assert_eq!(std::fs::read_to_string(out.join("summary.json")).unwrap(), "{}");
        let mut left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        left.sort();
        assert_eq!(left, ["r"], "no staging directory left");
    }

    /// A path through `..` (`a/b/../b`) is the directory it names, replaced in place: the
    /// swap goes through the resolved parent (it once moved `a/b` aside and then could not
    /// reach `a/b/../b` to put anything back). A link spelled with a trailing slash is
    /// refused before any work, as the link itself is.
    #[cfg(unix)]
    #[test]
    fn a_path_through_dot_dot_or_a_link_is_resolved_before_the_swap() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::create_dir(&a).unwrap();
        for round in ["first", "second"] {
            let writer = ResultsWriter::begin(&a.join("b/../b")).unwrap();
            writer.add(Path::new("summary.json"), round.as_bytes()).unwrap();
            writer.commit().unwrap();
            assert_eq!(std::fs::read_to_string(a.join("b/summary.json")).unwrap(), round);
            let left: Vec<_> = std::fs::read_dir(&a).unwrap().map(|e| e.unwrap().file_name()).collect();
            assert_eq!(left, ["b"], "{round}: nothing beside it");
        }
        // Through a directory that does not exist yet: nothing is made for the `..`.
        let writer = ResultsWriter::begin(&a.join("c/../d")).unwrap();
        writer.commit().unwrap();
        assert!(a.join("d").is_dir() && !a.join("c").exists());
        std::os::unix::fs::symlink(&a, dir.path().join("link")).unwrap();
        for spelled in ["link/", "link"] {
            let e = ResultsWriter::begin(&dir.path().join(spelled)).err().expect(spelled).to_string();
            assert!(e.contains("link"), "{e}");
        }
        assert!(a.join("b/summary.json").exists());
    }

    /// An old directory that cannot be put back is kept beside under a name of its own, the
    /// first free one, whatever is there already.
    #[test]
    fn an_old_directory_that_cannot_go_back_is_kept_under_a_name_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("r");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("theirs.txt"), "taken").unwrap();
        std::fs::write(dir.path().join("r.kept"), "a file of the user's").unwrap();
        for (i, expected) in ["r.kept-2", "r.kept-3"].into_iter().enumerate() {
            let moved = dir.path().join(format!("{}{i}", staging::PREFIX));
            std::fs::create_dir(&moved).unwrap();
            std::fs::write(moved.join("summary.json"), format!("old {i}")).unwrap();
            let kept = keep_beside(&moved, &out).unwrap();
            assert_eq!(kept, dir.path().join(expected));
            assert_eq!(std::fs::read_to_string(kept.join("summary.json")).unwrap(), format!("old {i}"));
            assert!(!moved.exists());
        }
        assert_eq!(std::fs::read_to_string(dir.path().join("r.kept")).unwrap(), "a file of the user's");
        assert_eq!(std::fs::read_to_string(out.join("theirs.txt")).unwrap(), "taken");
        // A later run's clean-up leaves them alone.
        staging::remove_leftovers(dir.path()).unwrap();
        assert!(dir.path().join("r.kept-2/summary.json").exists() && dir.path().join("r.kept-3").exists());
        // A rename that fails for another reason is the error (not a hundred tries).
        let gone = dir.path().join(format!("{}gone", staging::PREFIX));
        assert_eq!(keep_beside(&gone, &out).unwrap_err().kind(), io::ErrorKind::NotFound);
        // Every name taken: said so.
        for i in 4..=100 {
            std::fs::write(dir.path().join(format!("r.kept-{i}")), "").unwrap();
        }
        let moved = dir.path().join(format!("{}last", staging::PREFIX));
        std::fs::create_dir(&moved).unwrap();
        let e = keep_beside(&moved, &out).unwrap_err();
        assert_eq!((e.kind(), e.to_string().as_str()), (io::ErrorKind::AlreadyExists, "every kept name is taken"));
        assert!(moved.is_dir());
    }

    /// A new file through a `..` is written where the path leads, and no directory is made
    /// for the `..` to climb out of; one through a link to a directory lands in it; a
    /// path naming a directory is refused, and a failed write leaves nothing.
    #[cfg(unix)]
    #[test]
    fn a_new_file_resolves_its_parent() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let write = |path: &Path| -> Result<(), String> {
            let mut f = NewFile::create(path, "--levels").map_err(|e| e.to_string())?;
            f.writer().write_all(b"x").unwrap();
            f.commit().map_err(|e| e.to_string())
        };
        write(&dir.path().join("sub/../f.csv")).unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("f.csv")).unwrap(), "x");
        assert!(!dir.path().join("sub").exists(), "no `sub` made for the `..`");
        std::fs::create_dir(dir.path().join("real")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("link")).unwrap();
        write(&dir.path().join("link/g.csv")).unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("real/g.csv")).unwrap(), "x");
        // Missing directories are made (and only those of the resolved path).
        write(&dir.path().join("x/../new/deeper/h.csv")).unwrap();
        assert!(dir.path().join("new/deeper/h.csv").is_file() && !dir.path().join("x").exists());
        for named in ["real/", "real/.", "real/..", "."] {
            let e = write(&dir.path().join(named)).unwrap_err();
            assert!(e.contains("names a directory, not a file"), "{named}: {e}");
        }
        // An existing file, however spelled, is never written over.
        let e = write(&dir.path().join("sub/../f.csv")).unwrap_err();
        assert!(e.contains("exists"), "{e}");
        assert_eq!(std::fs::read_to_string(dir.path().join("f.csv")).unwrap(), "x");
        let mut names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, ["f.csv", "link", "new", "real"]);
    }

    /// A swap that fails after the old directory's place was taken in the registry returns
    /// its error and leaves the old directory as it was and no staging directory behind;
    /// it does not hang (it did: the path set aside was dropped with the registry's lock
    /// held). Here the directory is named `r/.`, which the system cannot move.
    #[cfg(unix)]
    #[test]
    fn a_failed_swap_returns_its_error_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("r");
        results(&out);
        let mut writer = ResultsWriter::begin(&out).unwrap();
        writer.out = out.join(".");
        let (done, wait) = std::sync::mpsc::channel();
        std::thread::spawn(move || done.send(writer.commit().map_err(|e| e.to_string())).unwrap());
        let e = wait.recv_timeout(std::time::Duration::from_secs(60)).expect("the commit hung").unwrap_err();
        assert!(e.contains("moving aside"), "{e}");
        assert_eq!(std::fs::read_to_string(out.join("summary.json")).unwrap(), "{}");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["r"], "no staging directory left");
        // And the registry is free: another results directory is written beside it.
        results(&dir.path().join("s"));
    }

    /// A file read once is not read again while it is provably unchanged (the same inode,
    /// size and times, its last change settled before the reading), also after its directory
    /// is moved (as the swap moves the old results aside); an edit that keeps its size is
    /// read and seen; a file changed within `settled` of the reading is read every time.
    #[cfg(unix)]
    #[test]
    fn a_file_read_once_is_read_again_only_when_it_may_have_changed() {
        let settled = std::time::Duration::from_millis(30);
        let pause = || std::thread::sleep(std::time::Duration::from_millis(80));
        let reads = || FILES_READ.get();
        let dir = tempfile::tempdir().unwrap();
        let (inner, moved) = (dir.path().join("out"), dir.path().join("aside"));
        std::fs::create_dir(&inner).unwrap();
        let file = inner.join("summary.json");
        std::fs::write(&file, "{}").unwrap();
        pause();
        let n = reads();
        let first = Listed::of_checked(&file, settled).unwrap();
        assert_eq!(first, Listed::of(&file).unwrap());
        assert_eq!(reads(), n + 2);
        assert_eq!(Listed::of_checked(&file, settled).unwrap(), first);
        assert_eq!(reads(), n + 2, "read again while unchanged");
        std::fs::rename(&inner, &moved).unwrap();
        let file = moved.join("summary.json");
        assert_eq!(Listed::of_checked(&file, settled).unwrap(), first);
        assert_eq!(reads(), n + 2, "read again after its directory moved");
        // Edited in place, the same size: its change time moves, so it is read again.
        pause();
        std::fs::write(&file, "[]").unwrap();
        let edited = Listed::of_checked(&file, settled).unwrap();
        assert_eq!(reads(), n + 3);
        assert_ne!(edited, first);
        assert_eq!(edited, Listed::of(&file).unwrap());
        assert_eq!(Listed::of_checked(&file, settled).unwrap(), edited, "changed within `settled`: read again");
        assert_eq!(reads(), n + 5);
        // A file just changed is read each time while its change is within `settled`.
        let fresh = dir.path().join("fresh.json");
        std::fs::write(&fresh, "{}").unwrap();
        let long = std::time::Duration::from_secs(3600);
        Listed::of_checked(&fresh, long).unwrap();
        Listed::of_checked(&fresh, long).unwrap();
        assert_eq!(reads(), n + 7);
    }

    /// The manifest lists each file's size and SHA-256 (of `{}`: 44136fa3…). An edit that
    /// keeps the size is refused as a change, in the directory and in a file `plot` would
    /// redraw; the user's edit is kept. A manifest of sizes only (before the digests) is
    /// still read, its files checked by size.
    #[test]
    fn a_hand_edit_that_keeps_the_size_is_still_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("r");
        results(&out);
        let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join(MANIFEST)).unwrap()).unwrap();
        assert_eq!(
            manifest["files"]["summary.json"],
            serde_json::json!({
                "bytes": 2,
                "sha256": "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
            })
        );
        check_replaceable(&out).unwrap();
        check_owned(&out, &out.join("summary.json")).unwrap();
        std::fs::write(out.join("summary.json"), "[]").unwrap();
        let e = check_replaceable(&out).unwrap_err().to_string();
        assert!(
            e.contains("holds `summary.json`, changed since fdlab wrote it (2 bytes as before, but other contents)"),
            "{e}"
        );
        let e = check_owned(&out, &out.join("summary.json")).unwrap_err().to_string();
        assert!(e.contains("changed since fdlab wrote it (2 bytes as before, but other contents)"), "{e}");
        let e = ResultsWriter::begin(&out).err().expect("refused").to_string();
        assert!(e.contains("other contents"), "{e}");
        assert_eq!(std::fs::read_to_string(out.join("summary.json")).unwrap(), "[]");
        // Another size: named with both sizes.
        std::fs::write(out.join("summary.json"), "[1]").unwrap();
        let e = check_replaceable(&out).unwrap_err().to_string();
        assert!(e.contains("changed since fdlab wrote it (3 bytes, was 2)"), "{e}");
        // An older manifest, sizes only: the size decides.
        let old = r#"{"about": "", "fdlab_version": "0.1.0", "files": {"summary.json": 3}}"#;
        std::fs::write(out.join(MANIFEST), old).unwrap();
        check_replaceable(&out).unwrap();
        check_owned(&out, &out.join("summary.json")).unwrap();
        std::fs::write(out.join("summary.json"), "[12]").unwrap();
        assert!(check_replaceable(&out).unwrap_err().to_string().contains("(4 bytes, was 3)"));
    }

    #[test]
    fn an_uncommitted_writer_leaves_no_directory_it_created() {
        let dir = tempfile::tempdir().unwrap();
        let writer = ResultsWriter::begin(&dir.path().join("a/b/out")).unwrap();
        writer.add(Path::new("x/summary.json"), b"{}").unwrap();
        assert!(writer.add(Path::new("x/summary.json"), b"{}").is_err(), "one file, written once");
        assert!(writer.add(Path::new("../escape"), b"{}").is_err());
        assert!(dir.path().join("a/b").is_dir());
        drop(writer);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn staging_entries_inside_block_while_their_process_runs() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("r");
        results(&out);
        let host = staging::host_tag();
        let live = out.join(format!("{}{}-{host}-abcdefgh", staging::PREFIX, std::process::id()));
        std::fs::write(&live, "").unwrap();
        let e = check_replaceable(&out).unwrap_err().to_string();
        assert!(e.contains(&format!("which another fdlab (process {}) is writing", std::process::id())), "{e}");
        // One whose process is gone is a leftover: replaced with the rest.
        let gone = out.join(format!("{}{}-{host}-abcdefgh", staging::PREFIX, 1u32 << 30));
        std::fs::rename(&live, &gone).unwrap();
        check_replaceable(&out).unwrap();
        results(&out);
        assert!(!gone.exists());
    }

    #[test]
    fn paths_resolve_through_links_and_dots_as_far_as_they_exist() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().canonicalize().unwrap();
        assert_eq!(resolve(&dir.path().join("x/../y/./z")), real.join("y/z"));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path(), dir.path().join("link")).unwrap();
            assert_eq!(resolve(&dir.path().join("link/out/levels.csv")), real.join("out/levels.csv"));
            let e = check_outside(&dir.path().join("link/out/t.csv"), &dir.path().join("out"), "the input trace");
            assert!(e.unwrap_err().to_string().contains("holds the input trace"));
        }
    }
}
