//! Staging paths: everything fdlab writes is first written under a recognisable temporary
//! name beside its final path, then renamed into place, and removed however the process ends.
//!
//! A staging path is named `.fdlab-stage-<pid>-<host>-<random>` (`<host>`: eight hex digits
//! of a hash of the machine's name) and, while it exists, is registered in a process-wide
//! registry. Three ways it goes away:
//! - normally: renamed into place ([`Staged::rename_to`]) or removed when dropped;
//! - on SIGINT, SIGTERM or SIGHUP: the binary's handler calls [`remove_all_and_exit`], which
//!   removes every registered path and exits;
//! - after SIGKILL (no handler runs): the next fdlab writing into the same directory calls
//!   [`remove_leftovers`], which removes the staging paths of processes that are gone.
//!   A path is another process's leftover only when that process is provably gone: on the
//!   same machine, no process has its pid (`kill(pid, 0)`); a path from another machine
//!   (a shared file system) is removed only once untouched for [`FOREIGN_AGE`]. A
//!   concurrently running fdlab's staging paths are never touched.
//!
//! The registry's lock is held while a staging path is created and registered, and while a
//! results directory is swapped into place, so the handler (which takes the lock) sees each
//! path either registered or already renamed: never a half-done swap.

use std::collections::BTreeSet;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// How every staging name begins.
pub const PREFIX: &str = ".fdlab-stage-";

/// A staging path from another machine is removed once untouched this long (its process
/// cannot be checked from here).
pub const FOREIGN_AGE: Duration = Duration::from_secs(7 * 86_400);

static REGISTRY: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// Directories created for outputs not yet in place, in the order created (see [`Created`]).
static CREATED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn created() -> MutexGuard<'static, Vec<PathBuf>> {
    CREATED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The registry, locked. A panic elsewhere while it was held leaves a set that is still
/// valid (insertions and removals are single calls), so poisoning is ignored.
pub(crate) fn registry() -> MutexGuard<'static, BTreeSet<PathBuf>> {
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A registered staging file or directory, removed when dropped unless renamed into place.
#[derive(Debug)]
pub struct Staged {
    path: PathBuf,
    is_dir: bool,
    /// Renamed into place or removed: nothing left to clean up.
    done: bool,
}

impl Staged {
    /// A new, empty staging directory in `parent`, with the permissions a directory created
    /// by hand would get (`0777` less the umask, not `tempfile`'s `0700`).
    pub fn dir_in(parent: &Path) -> io::Result<Staged> {
        Staged::dir_in_locked(parent, &mut registry())
    }

    /// As [`Staged::dir_in`], for a caller holding the registry's lock.
    pub(crate) fn dir_in_locked(parent: &Path, registry: &mut BTreeSet<PathBuf>) -> io::Result<Staged> {
        let path = builder(0o777).tempdir_in(parent).map_err(without_path)?.keep();
        registry.insert(path.clone());
        Ok(Staged { path, is_dir: true, done: false })
    }

    /// A new, empty staging file in `parent` whose name ends in `suffix` (e.g. `.png`, for
    /// writers that look at it), with default permissions (`0666` less the umask).
    pub fn file_in(parent: &Path, suffix: &str) -> io::Result<(Staged, File)> {
        let mut registry = registry();
        let file = builder(0o666).suffix(suffix).tempfile_in(parent).map_err(without_path)?;
        let (file, path) = file.keep().map_err(|e| e.error)?;
        registry.insert(path.clone());
        Ok((Staged { path, is_dir: false, done: false }, file))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames it to `to` (replacing a file there), under the registry's lock.
    pub fn rename_to(mut self, to: &Path) -> io::Result<()> {
        let mut registry = registry();
        std::fs::rename(&self.path, to)?;
        registry.remove(&self.path);
        self.done = true;
        Ok(())
    }

    /// Moves it to `to` only if nothing is there (a hard link, then the staging name
    /// removed), so that a file that appeared at `to` meanwhile is never replaced.
    pub fn link_to_new(mut self, to: &Path) -> io::Result<()> {
        let mut registry = registry();
        match std::fs::hard_link(&self.path, to) {
            Ok(()) => {}
            // A file system without hard links, or a file there: a rename that refuses to
            // replace (which refuses that file again).
            Err(_) => {
                rename_new(&self.path, to)?;
                registry.remove(&self.path);
                self.done = true;
                return Ok(());
            }
        }
        registry.remove(&self.path);
        self.done = true;
        drop(registry);
        std::fs::remove_file(&self.path)
    }

    /// Marks it as renamed into place by the caller, who holds the registry's lock.
    pub(crate) fn mark_moved(&mut self, registry: &mut BTreeSet<PathBuf>) {
        registry.remove(&self.path);
        self.done = true;
    }

    /// Renamed into place or removed.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Removes it now (as dropping it would).
    pub fn remove_now(&mut self) {
        if self.done {
            return;
        }
        let mut registry = registry();
        // A staging path that cannot be removed now is a leftover the next run removes.
        let _ = remove(&self.path, self.is_dir);
        registry.remove(&self.path);
        self.done = true;
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        self.remove_now();
    }
}

/// This process's staging names begin with this: `.fdlab-stage-<pid>-<host>-`.
fn own_prefix() -> &'static str {
    static OWN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    OWN.get_or_init(|| format!("{PREFIX}{}-{}-", std::process::id(), host_tag()))
}

/// tempfile's error without the ` at path "…"` it appends: every caller names the directory
/// itself, and a message should say it once.
fn without_path(e: io::Error) -> io::Error {
    let text = e.to_string();
    match text.split_once(" at path \"") {
        Some((cause, _)) => io::Error::new(e.kind(), cause.to_string()),
        None => e,
    }
}

fn builder<'b>(mode: u32) -> tempfile::Builder<'static, 'b> {
    let mut b = tempfile::Builder::new();
    b.prefix(own_prefix()).rand_bytes(8).disable_cleanup(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = mode;
    b
}

fn remove(path: &Path, is_dir: bool) -> io::Result<()> {
    let result = if is_dir { remove_dir_retrying(path) } else { std::fs::remove_file(path) };
    match result {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// `remove_dir_all`, tried again if another thread created a file in it meanwhile.
fn remove_dir_retrying(path: &Path) -> io::Result<()> {
    let mut result = std::fs::remove_dir_all(path);
    for _ in 0..5 {
        match &result {
            Err(e) if e.kind() != io::ErrorKind::NotFound => result = std::fs::remove_dir_all(path),
            _ => break,
        }
    }
    result
}

/// Renames `from` to `to` only if nothing is at `to` (an `AlreadyExists` error otherwise),
/// for file systems without hard links. On Linux this is one `renameat2` with
/// `RENAME_NOREPLACE`; where the file system cannot do that either (or on other systems),
/// it checks, then renames: a file appearing in between is the one case not caught.
fn rename_new(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use nix::errno::Errno;
        use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};
        match renameat2(AT_FDCWD, from, AT_FDCWD, to, RenameFlags::RENAME_NOREPLACE) {
            Ok(()) => return Ok(()),
            // Not supported by this file system or kernel: the check below.
            Err(Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP) => {}
            Err(e) => return Err(e.into()),
        }
    }
    check_then_rename(from, to)
}

/// [`rename_new`] where the system cannot refuse to replace: an `AlreadyExists` error if
/// anything is at `to`, otherwise a rename.
fn check_then_rename(from: &Path, to: &Path) -> io::Result<()> {
    if std::fs::symlink_metadata(to).is_ok() {
        return Err(io::Error::new(io::ErrorKind::AlreadyExists, "appeared meanwhile"));
    }
    std::fs::rename(from, to)
}

/// Removes every registered staging path, then the directories created for outputs not yet
/// in place that are empty now, and exits with `code`, holding the registry's lock so that
/// nothing new is staged or swapped meanwhile. For the binary's signal handler.
pub fn remove_all_and_exit(code: i32) -> ! {
    let registry = registry();
    for path in registry.iter() {
        let is_dir = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
        let _ = remove(path, is_dir);
    }
    for dir in created().iter().rev() {
        let _ = std::fs::remove_dir(dir);
    }
    std::process::exit(code)
}

/// The missing directories of `dir` (an output's parent), created: removed again, the
/// innermost first and only while empty, when this is dropped before [`Created::keep`]
/// (an error, or a signal: [`remove_all_and_exit`]). A run into a new nested `--out` that
/// fails or is stopped leaves no empty directories behind.
#[derive(Debug)]
pub struct Created {
    dirs: Vec<PathBuf>,
    kept: bool,
}

impl Created {
    pub fn dirs_of(dir: &Path) -> io::Result<Created> {
        // Down from the first part, one directory at a time: only a directory this call
        // made is recorded (`new/../keep` creates `new`, never claims the user's `keep`).
        let mut made = Created { dirs: Vec::new(), kept: false };
        let mut prefix = PathBuf::new();
        for part in dir.components() {
            prefix.push(part);
            if std::fs::symlink_metadata(&prefix).is_ok() {
                continue;
            }
            match std::fs::create_dir(&prefix) {
                Ok(()) => {
                    created().push(prefix.clone());
                    made.dirs.push(prefix.clone());
                }
                // Made meanwhile by someone else: theirs.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && prefix.is_dir() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(made)
    }

    /// The output is in place: its directories stay.
    pub fn keep(&mut self) {
        self.kept = true;
    }
}

impl Drop for Created {
    fn drop(&mut self) {
        if !self.kept {
            for dir in self.dirs.iter().rev() {
                let _ = std::fs::remove_dir(dir);
            }
        }
        created().retain(|d| !self.dirs.contains(d));
    }
}

/// Who wrote a staging name: (pid, host tag); `None` if `name` is not one.
fn owner(name: &str) -> Option<(u32, &str)> {
    let rest = name.strip_prefix(PREFIX)?;
    let mut parts = rest.splitn(3, '-');
    let pid = parts.next()?.parse().ok()?;
    let host = parts.next()?;
    parts.next()?;
    Some((pid, host))
}

/// What a directory entry named `name` is, as far as staging goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Not a staging name.
    Other,
    /// A staging path of a process that may still be running (this one included).
    Live { pid: u32 },
    /// A staging path whose process is gone: safe to remove.
    Leftover,
}

/// Classifies the entry `name` whose metadata is `meta`.
pub fn kind(name: &str, meta: &std::fs::Metadata) -> Kind {
    let Some((pid, host)) = owner(name) else { return Kind::Other };
    if host == host_tag() {
        if pid_alive(pid) { Kind::Live { pid } } else { Kind::Leftover }
    } else {
        let untouched = meta.modified().ok().and_then(|m| m.elapsed().ok()).unwrap_or_default();
        if untouched >= FOREIGN_AGE { Kind::Leftover } else { Kind::Live { pid } }
    }
}

/// Removes what interrupted fdlab processes left in `dir` (see the module doc); returns what
/// was removed. A missing `dir` has nothing to remove.
pub fn remove_leftovers(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut removed = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with(PREFIX) {
            continue;
        }
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            // Removed meanwhile (another fdlab cleaning up too).
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if kind(name, &meta) == Kind::Leftover {
            remove(&entry.path(), meta.is_dir())?;
            removed.push(entry.path());
        }
    }
    Ok(removed)
}

/// Whether a process with this pid exists on this machine (`kill(pid, 0)`: success, or
/// EPERM for another user's process). Pids outside 1..=i32::MAX are never alive: `kill`
/// gives 0 and negative values other meanings (process groups, every process).
#[cfg(unix)]
pub fn pid_alive(pid: u32) -> bool {
    use nix::errno::Errno;
    let Ok(pid) = i32::try_from(pid) else { return false };
    if pid <= 0 {
        return false;
    }
    // No signal: only whether the process exists.
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) | Err(Errno::EPERM) => true,
        Err(_) => false,
    }
}

/// Without a way to check, every pid counts as alive: nothing is removed by pid.
#[cfg(not(unix))]
pub fn pid_alive(_pid: u32) -> bool {
    true
}

/// Eight hex digits of an FNV-1a hash of this machine's name (`0` when it has none).
pub fn host_tag() -> &'static str {
    static TAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TAG.get_or_init(|| {
        let mut hash: u32 = 0x811c_9dc5;
        for b in host_name() {
            hash = (hash ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        format!("{hash:08x}")
    })
}

#[cfg(unix)]
fn host_name() -> Vec<u8> {
    use std::os::unix::ffi::OsStringExt;
    nix::unistd::gethostname().map(|name| name.into_vec()).unwrap_or_default()
}

#[cfg(not(unix))]
fn host_name() -> Vec<u8> {
    std::env::var("COMPUTERNAME").unwrap_or_default().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A staged file moved to a new name: there, with its contents, and no longer staged; to
    /// a name where a file appeared: refused, that file as it was, the staged file removed
    /// when dropped.
    #[test]
    fn a_staged_file_goes_only_where_nothing_is() {
        let dir = tempfile::tempdir().unwrap();
        let (staged, mut file) = Staged::file_in(dir.path(), "").unwrap();
        std::io::Write::write_all(&mut file, b"levels").unwrap();
        let path = staged.path().to_path_buf();
        let to = dir.path().join("levels.csv");
        staged.link_to_new(&to).unwrap();
        assert_eq!(std::fs::read_to_string(&to).unwrap(), "levels");
        assert!(std::fs::symlink_metadata(&path).is_err() && !registry().contains(&path));
        let (staged, _) = Staged::file_in(dir.path(), "").unwrap();
        let path = staged.path().to_path_buf();
        std::fs::write(dir.path().join("mine.csv"), "the user's").unwrap();
        let e = staged.link_to_new(&dir.path().join("mine.csv")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(dir.path().join("mine.csv")).unwrap(), "the user's");
        assert!(std::fs::symlink_metadata(&path).is_err() && !registry().contains(&path));
    }

    /// The rename for file systems without hard links never replaces a file at its target:
    /// `AlreadyExists`, both files as they were; to a free name it moves the file. The same
    /// for the check-then-rename it falls back on.
    #[test]
    fn a_rename_to_a_new_name_never_replaces_what_is_there() {
        type Rename = fn(&Path, &Path) -> io::Result<()>;
        for rename in [rename_new as Rename, check_then_rename] {
            let dir = tempfile::tempdir().unwrap();
            let (from, to) = (dir.path().join("staged"), dir.path().join("levels.csv"));
            std::fs::write(&from, "fdlab's").unwrap();
            std::fs::write(&to, "the user's").unwrap();
            let e = rename(&from, &to).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::AlreadyExists, "{e}");
            assert_eq!(std::fs::read_to_string(&to).unwrap(), "the user's");
            assert_eq!(std::fs::read_to_string(&from).unwrap(), "fdlab's");
            // A dangling symbolic link is something there too.
            #[cfg(unix)]
            {
                let link = dir.path().join("link");
                std::os::unix::fs::symlink(dir.path().join("nowhere"), &link).unwrap();
                assert_eq!(rename(&from, &link).unwrap_err().kind(), io::ErrorKind::AlreadyExists);
                assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
            }
            std::fs::remove_file(&to).unwrap();
            rename(&from, &to).unwrap();
            assert_eq!(std::fs::read_to_string(&to).unwrap(), "fdlab's");
            assert!(std::fs::symlink_metadata(&from).is_err());
        }
    }

    #[test]
    fn staging_names_say_who_wrote_them() {
        let dir = tempfile::tempdir().unwrap();
        let staged = Staged::dir_in(dir.path()).unwrap();
        let name = staged.path().file_name().unwrap().to_str().unwrap().to_string();
        assert_eq!(owner(&name), Some((std::process::id(), host_tag())));
        assert!(registry().contains(staged.path()));
        let meta = std::fs::metadata(staged.path()).unwrap();
        assert_eq!(kind(&name, &meta), Kind::Live { pid: std::process::id() });
        // Ours, running: not a leftover.
        assert!(remove_leftovers(dir.path()).unwrap().is_empty());
        let path = staged.path().to_path_buf();
        drop(staged);
        assert!(!path.exists() && !registry().contains(&path));
        assert_eq!(owner("notes.txt"), None);
        assert_eq!(owner(".fdlab-stage-x-y-z"), None);
    }

    #[test]
    fn leftovers_of_gone_processes_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        // A pid that no process has: beyond the kernel's pid_max (at most 2^22).
        let gone = format!("{PREFIX}{}-{}-abcdefgh", 1u32 << 30, host_tag());
        std::fs::create_dir(dir.path().join(&gone)).unwrap();
        std::fs::write(dir.path().join(&gone).join("summary.json"), "{}").unwrap();
        // Another machine's, fresh: left alone. A user's file with a similar name: left alone.
        let foreign = format!("{PREFIX}{}-ffffffff-abcdefgh", 1u32 << 30);
        let foreign = if host_tag() == "ffffffff" { foreign.replace("ffffffff", "eeeeeeee") } else { foreign };
        std::fs::write(dir.path().join(&foreign), "x").unwrap();
        std::fs::write(dir.path().join(".fdlab-stage-notes"), "mine").unwrap();
        let removed = remove_leftovers(dir.path()).unwrap();
        assert_eq!(removed, [dir.path().join(&gone)]);
        assert!(dir.path().join(&foreign).exists() && dir.path().join(".fdlab-stage-notes").exists());
        assert!(!pid_alive(0) && !pid_alive(u32::MAX) && pid_alive(std::process::id()));
    }

    #[cfg(unix)]
    #[test]
    fn staged_files_and_directories_get_ordinary_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let staged = Staged::dir_in(dir.path()).unwrap();
        let (file, _) = Staged::file_in(dir.path(), ".csv").unwrap();
        // The same as a directory and a file created by hand (tempfile's own are 0700, 0600).
        std::fs::create_dir(dir.path().join("by-hand")).unwrap();
        std::fs::write(dir.path().join("by-hand.csv"), "").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(staged.path()), mode(&dir.path().join("by-hand")));
        assert_eq!(mode(file.path()), mode(&dir.path().join("by-hand.csv")));
        assert!(file.path().to_str().unwrap().ends_with(".csv"));
    }
}
