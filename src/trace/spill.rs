//! `--trace` rows kept on disk while a simulation runs, merged into one CSV at the end.
//!
//! A simulated month delivers 26 million heartbeats per link; held in memory, a trace of a
//! long run outgrows any machine. Each monitor instead appends its rows, in its received
//! order, to its own unnamed temporary file of fixed-size binary records (40 bytes a row);
//! [`TraceSpill::rows`] merges the files in received order (ties: monitor order, then each
//! monitor's own order), which is the order `replay` requires, holding one row per monitor in
//! memory.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::detector::Arrival;
use crate::time::Nanos;

/// at, seq, incarnation, sent (u64 each), target (u32), which optional fields are present (u32).
const RECORD: usize = 40;
const HAS_SEQ: u32 = 1;
const HAS_INCARNATION: u32 = 2;
const HAS_SENT: u32 = 4;

/// The spilled rows of one run: a file per monitor.
pub struct TraceSpill {
    /// Node names, by node index.
    names: Vec<String>,
    /// (monitor's node index, its file), in node order.
    parts: Vec<(usize, File)>,
}

/// One monitor's rows being written, to an unnamed temporary file: it has no name in any
/// directory, so it is gone when the process ends, however it ends (a run stopped with
/// Ctrl-C leaves nothing behind). A write error is kept and reported by [`finish`] (the
/// simulation goes on; its trace is then not written).
///
/// [`finish`]: SpillWriter::finish
pub struct SpillWriter {
    out: BufWriter<File>,
    /// The directory the file is in, for errors.
    dir: PathBuf,
    error: Option<io::Error>,
}

impl TraceSpill {
    /// The rows of `parts`, each a monitor's node index and its writer's finished file.
    pub fn new(names: Vec<String>, mut parts: Vec<(usize, File)>) -> TraceSpill {
        parts.sort_by_key(|p| p.0);
        TraceSpill { names, parts }
    }

    /// Every row, `(monitor, target, arrival)`, in received order.
    pub fn rows(&self) -> io::Result<Rows<'_>> {
        let mut rows = Rows { spill: self, readers: Vec::new(), next: Vec::new(), heap: BinaryHeap::new() };
        for (order, (_, file)) in self.parts.iter().enumerate() {
            let mut reader = BufReader::with_capacity(1 << 16, ReadAt { file, pos: 0 });
            let next = read_record(&mut reader)?;
            if let Some((_, a)) = &next {
                rows.heap.push(Reverse((a.at, order)));
            }
            rows.readers.push(reader);
            rows.next.push(next);
        }
        Ok(rows)
    }

    /// How many rows there are.
    pub fn row_count(&self) -> io::Result<u64> {
        self.parts.iter().try_fold(0, |n, (_, file)| Ok(n + file.metadata()?.len() / RECORD as u64))
    }

    /// The trace as the CSV `replay` reads (with a `monitor` column). `progress` is told
    /// how many more rows were written, every million or so.
    pub fn write_csv(&self, out: impl Write, progress: &dyn Fn(u64)) -> io::Result<()> {
        const EVERY: u64 = 1 << 20;
        let mut w = crate::trace::TraceWriter::new(out, true)?;
        let mut written = 0;
        for row in self.rows()? {
            let (monitor, target, a) = row?;
            w.write(monitor, target, &a)?;
            written += 1;
            if written % EVERY == 0 {
                progress(EVERY);
            }
        }
        progress(written % EVERY);
        w.into_inner().flush()
    }
}

impl SpillWriter {
    /// A writer to a new unnamed file in `scratch` (the system's temporary directory if
    /// `None`).
    pub fn new(scratch: Option<&Path>) -> io::Result<SpillWriter> {
        let dir = scratch.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let file = tempfile::tempfile_in(&dir).map_err(|e| named(&dir, e))?;
        Ok(SpillWriter { out: BufWriter::with_capacity(1 << 16, file), dir, error: None })
    }

    /// Appends a row received from `target` (a node index).
    #[inline]
    pub fn push(&mut self, target: usize, a: &Arrival) {
        if self.error.is_some() {
            return;
        }
        let mut record = [0u8; RECORD];
        // (Mutation testing, equivalent: `^` for `|`; the flags are distinct bits.)
        let flag = |present: bool, flag: u32| if present { flag } else { 0 };
        let flags = flag(a.seq.is_some(), HAS_SEQ)
            | flag(a.incarnation.is_some(), HAS_INCARNATION)
            | flag(a.sent.is_some(), HAS_SENT);
        let fields = [a.at.0, a.seq.unwrap_or(0), a.incarnation.unwrap_or(0), a.sent.map_or(0, |s| s.0)];
        for (chunk, v) in record.chunks_exact_mut(8).zip(fields) {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        // Node indices are small: an experiment file cannot name 2^32 nodes.
        record[32..36].copy_from_slice(&(target as u32).to_le_bytes());
        record[36..40].copy_from_slice(&flags.to_le_bytes());
        if let Err(e) = self.out.write_all(&record) {
            self.error = Some(e);
        }
    }

    /// The file, flushed; or the first error met while writing.
    pub fn finish(self) -> io::Result<File> {
        let SpillWriter { out, dir, error } = self;
        let result = match error {
            Some(e) => Err(e),
            None => out.into_inner().map_err(io::IntoInnerError::into_error),
        };
        result.map_err(|e| named(&dir, e))
    }
}

/// `e`, saying which directory it concerns (the spill files have no names).
fn named(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// The merged rows of a [`TraceSpill`].
pub struct Rows<'a> {
    spill: &'a TraceSpill,
    readers: Vec<BufReader<ReadAt<'a>>>,
    /// Each monitor's next row (its target and arrival), if any.
    next: Vec<Option<(u32, Arrival)>>,
    /// (time, monitor order) of every monitor with a next row: the earliest comes first,
    /// the monitor order breaking ties.
    heap: BinaryHeap<Reverse<(Nanos, usize)>>,
}

impl<'a> Iterator for Rows<'a> {
    type Item = io::Result<(&'a str, &'a str, Arrival)>;

    fn next(&mut self) -> Option<Self::Item> {
        let Reverse((_, order)) = self.heap.pop()?;
        let following = match read_record(&mut self.readers[order]) {
            Ok(following) => following,
            Err(e) => return Some(Err(e)),
        };
        if let Some((_, a)) = &following {
            self.heap.push(Reverse((a.at, order)));
        }
        // Cannot fail: a monitor is in the heap only with a next row.
        let (target, a) = std::mem::replace(&mut self.next[order], following).expect("a pending row");
        let names = &self.spill.names;
        Some(Ok((&names[self.spill.parts[order].0], &names[target as usize], a)))
    }
}

/// Reads a file from its own position, leaving the file's offset alone: several readings
/// of one spill, even on several threads, do not disturb each other.
struct ReadAt<'a> {
    file: &'a File,
    pos: u64,
}

impl Read for ReadAt<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        #[cfg(unix)]
        let n = std::os::unix::fs::FileExt::read_at(self.file, buf, self.pos)?;
        #[cfg(windows)]
        let n = std::os::windows::fs::FileExt::seek_read(self.file, buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

fn read_record(r: &mut impl Read) -> io::Result<Option<(u32, Arrival)>> {
    let mut record = [0u8; RECORD];
    match r.read_exact(&mut record) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let u64_at = |i: usize| u64::from_le_bytes(record[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    let u32_at = |i: usize| u32::from_le_bytes(record[i..i + 4].try_into().expect("4 bytes"));
    let flags = u32_at(36);
    let present = |flag: u32, v: u64| (flags & flag != 0).then_some(v);
    let a = Arrival {
        at: Nanos(u64_at(0)),
        seq: present(HAS_SEQ, u64_at(1)),
        incarnation: present(HAS_INCARNATION, u64_at(2)),
        sent: present(HAS_SENT, u64_at(3)).map(Nanos),
    };
    Ok(Some((u32_at(32), a)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrival(at: u64, seq: Option<u64>, sent: Option<u64>) -> Arrival {
        Arrival { at: Nanos(at), seq, incarnation: seq.map(|s| s % 3), sent: sent.map(Nanos) }
    }

    #[test]
    fn rows_come_back_merged_in_received_order_with_ties_in_monitor_order() {
        let names = ["a", "b", "c"].map(String::from).to_vec();
        let mut c = SpillWriter::new(None).unwrap();
        let mut a = SpillWriter::new(None).unwrap();
        // c hears a and b; a hears c. Equal times: a's rows first (node order), each
        // monitor's own rows in the order written.
        c.push(0, &arrival(5, Some(0), Some(1)));
        c.push(1, &arrival(10, None, None));
        c.push(0, &arrival(10, Some(1), Some(2)));
        a.push(2, &arrival(10, Some(7), None));
        a.push(2, &arrival(12, Some(u64::MAX), Some(u64::MAX)));
        let spill = TraceSpill::new(names, vec![(2, c.finish().unwrap()), (0, a.finish().unwrap())]);
        let rows: Vec<_> = spill.rows().unwrap().map(Result::unwrap).collect();
        let expected = vec![
            ("c", "a", arrival(5, Some(0), Some(1))),
            ("a", "c", arrival(10, Some(7), None)),
            ("c", "b", arrival(10, None, None)),
            ("c", "a", arrival(10, Some(1), Some(2))),
            ("a", "c", arrival(12, Some(u64::MAX), Some(u64::MAX))),
        ];
        assert_eq!(rows, expected);
        assert_eq!(spill.row_count().unwrap(), 5);
        let mut csv = Vec::new();
        let told = std::cell::Cell::new(0);
        spill.write_csv(&mut csv, &|n| told.set(told.get() + n)).unwrap();
        assert_eq!(told.get(), 5);
        let text = String::from_utf8(csv).unwrap();
        assert_eq!(text.lines().next(), Some("monitor,target,received_ns,seq,sent_ns,incarnation"));
        assert_eq!(text.lines().nth(3), Some("c,b,10,,,"));
        assert_eq!(text.lines().count(), 6);
        // Two readings at once, each from the beginning.
        let (mut first, mut second) = (spill.rows().unwrap(), spill.rows().unwrap());
        assert_eq!(first.next().unwrap().unwrap(), second.next().unwrap().unwrap());
        assert_eq!((first.count(), second.count()), (4, 4));
    }

    /// Progress is told every 2^20 rows and once for the rest, adding up to every row.
    #[test]
    fn progress_is_told_every_million_rows_and_for_the_rest() {
        let names = ["a", "b"].map(String::from).to_vec();
        let mut w = SpillWriter::new(None).unwrap();
        let rows = (1u64 << 20) + 3;
        for i in 0..rows {
            w.push(1, &arrival(i, Some(i), None));
        }
        let spill = TraceSpill::new(names, vec![(0, w.finish().unwrap())]);
        assert_eq!(spill.row_count().unwrap(), rows);
        let told = std::cell::RefCell::new(Vec::new());
        spill.write_csv(io::sink(), &|n| told.borrow_mut().push(n)).unwrap();
        assert_eq!(told.into_inner(), [1 << 20, 3]);
    }

    /// A spill file that cannot be read is an error, not an empty trace.
    #[test]
    fn a_file_that_cannot_be_read_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let write_only = File::create(dir.path().join("part")).unwrap();
        let spill = TraceSpill::new(vec!["a".into()], vec![(0, write_only)]);
        assert!(spill.rows().is_err());
    }

    #[test]
    fn a_scratch_directory_that_is_not_there_is_named() {
        let missing = std::env::temp_dir().join("fdlab-no-such-dir/below");
        let e = SpillWriter::new(Some(&missing)).err().expect("no directory");
        assert!(e.to_string().contains("fdlab-no-such-dir/below"), "{e}");
    }
}
