//! Arrival traces: the CSV that `replay` reads and the simulator and live mode write.
//!
//! Header row; required columns `target,received_ns`; optional `monitor`, `seq`, `sent_ns`,
//! `incarnation` (DESIGN.md §5). One row per heartbeat received, in received order,
//! integer nanoseconds from the trace start (`sent_ns` in the sender's clock). Other
//! columns are ignored, so a user's own export can carry more.
//!
//! The reader streams: it never holds the trace in memory, and node names are interned to
//! small integers so that a 10-million-row trace costs one pass.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::detector::Arrival;
use crate::time::Nanos;

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("{path}: cannot read: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: line {line}: {message}")]
    Bad { path: PathBuf, line: u64, message: String },
    #[error(
        "{path}: the header has no `{column}` column (required: target, received_ns; optional: monitor, seq, sent_ns, incarnation)"
    )]
    MissingColumn { path: PathBuf, column: &'static str },
}

/// One received heartbeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceRow {
    /// Interned monitor name (0 = no monitor column).
    pub monitor: u32,
    /// Interned target name.
    pub target: u32,
    pub arrival: Arrival,
    /// The 1-based line number in the file.
    pub line: u64,
}

#[derive(Clone, Copy, Debug, Default)]
struct Columns {
    target: usize,
    received: usize,
    monitor: Option<usize>,
    seq: Option<usize>,
    sent: Option<usize>,
    incarnation: Option<usize>,
}

/// A streaming trace reader.
pub struct TraceReader<R: Read> {
    path: PathBuf,
    csv: csv::Reader<R>,
    record: csv::ByteRecord,
    columns: Columns,
    names: Vec<String>,
    ids: BTreeMap<Vec<u8>, u32>,
    /// The last two names looked up, to skip the map for the common case.
    recent: [(Vec<u8>, u32); 2],
    last_received: Nanos,
}

impl TraceReader<BufReader<File>> {
    pub fn open(path: &Path) -> Result<Self, TraceError> {
        let file = File::open(path).map_err(|source| TraceError::Io { path: path.to_path_buf(), source })?;
        TraceReader::new(path, BufReader::with_capacity(1 << 20, file))
    }
}

impl<R: Read> TraceReader<R> {
    /// Reads the header of a trace from `reader`; `path` names it in errors.
    pub fn new(path: &Path, reader: R) -> Result<Self, TraceError> {
        let path = path.to_path_buf();
        let mut csv = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(reader);
        let headers = csv.byte_headers().map_err(|e| csv_error(&path, e))?.clone();
        let find = |name: &str| headers.iter().position(|h| h.trim_ascii() == name.as_bytes());
        let required =
            |column: &'static str| find(column).ok_or(TraceError::MissingColumn { path: path.clone(), column });
        let columns = Columns {
            target: required("target")?,
            received: required("received_ns")?,
            monitor: find("monitor"),
            seq: find("seq"),
            sent: find("sent_ns"),
            incarnation: find("incarnation"),
        };
        Ok(TraceReader {
            path,
            csv,
            record: csv::ByteRecord::new(),
            columns,
            // Id 0 is "no monitor column".
            names: vec![String::new()],
            ids: BTreeMap::new(),
            recent: [(Vec::new(), u32::MAX), (Vec::new(), u32::MAX)],
            last_received: Nanos::ZERO,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn has_seq(&self) -> bool {
        self.columns.seq.is_some()
    }

    pub fn has_sent(&self) -> bool {
        self.columns.sent.is_some()
    }

    pub fn has_monitor(&self) -> bool {
        self.columns.monitor.is_some()
    }

    /// The name behind an interned id.
    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }

    /// The id of a name already seen in the trace.
    pub fn id_of(&self, name: &str) -> Option<u32> {
        self.ids.get(name.as_bytes()).copied()
    }

    /// The next row, or `None` at the end of the file.
    pub fn next_row(&mut self) -> Result<Option<TraceRow>, TraceError> {
        let more = self.csv.read_byte_record(&mut self.record).map_err(|e| csv_error(&self.path, e))?;
        if !more {
            return Ok(None);
        }
        let line = self.record.position().map_or(0, |p| p.line());
        let c = self.columns;
        let received = Nanos(self.integer(c.received, "received_ns", line)?);
        if received < self.last_received {
            return Err(self.bad(
                line,
                format!(
                    "received_ns {} is earlier than the previous row's {}; rows must be in received order",
                    received.0, self.last_received.0
                ),
            ));
        }
        self.last_received = received;
        // An optional column may be empty in a row: the value is unknown there.
        let optional = |me: &Self, column: Option<usize>, name| match column {
            Some(i) if !me.record.get(i).unwrap_or_default().trim_ascii().is_empty() => {
                me.integer(i, name, line).map(Some)
            }
            _ => Ok(None),
        };
        let arrival = Arrival {
            at: received,
            seq: optional(self, c.seq, "seq")?,
            incarnation: optional(self, c.incarnation, "incarnation")?,
            sent: optional(self, c.sent, "sent_ns")?.map(Nanos),
        };
        let target = self.intern(c.target, "target", line)?;
        let monitor = match c.monitor {
            Some(i) => self.intern(i, "monitor", line)?,
            None => 0,
        };
        Ok(Some(TraceRow { monitor, target, arrival, line }))
    }

    fn bad(&self, line: u64, message: String) -> TraceError {
        TraceError::Bad { path: self.path.clone(), line, message }
    }

    fn integer(&self, index: usize, name: &str, line: u64) -> Result<u64, TraceError> {
        let field = self.record.get(index).unwrap_or_default().trim_ascii();
        parse_u64(field).ok_or_else(|| {
            self.bad(
                line,
                format!(
                    "column `{name}`: `{}` is not a whole number of nanoseconds ≥ 0",
                    String::from_utf8_lossy(field)
                ),
            )
        })
    }

    fn intern(&mut self, index: usize, name: &str, line: u64) -> Result<u32, TraceError> {
        let field = self.record.get(index).unwrap_or_default().trim_ascii();
        if field.is_empty() {
            return Err(self.bad(line, format!("column `{name}` is empty")));
        }
        for (bytes, id) in &self.recent {
            if bytes.as_slice() == field {
                return Ok(*id);
            }
        }
        let id = match self.ids.get(field) {
            Some(&id) => id,
            None => {
                let text = std::str::from_utf8(field)
                    .map_err(|_| self.bad(line, format!("column `{name}` is not UTF-8")))?
                    .to_string();
                let id = self.names.len() as u32;
                self.names.push(text);
                self.ids.insert(field.to_vec(), id);
                id
            }
        };
        self.recent.swap(0, 1);
        self.recent[0] = (field.to_vec(), id);
        Ok(id)
    }
}

fn csv_error(path: &Path, e: csv::Error) -> TraceError {
    let line = e.position().map_or(0, |p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(source) => TraceError::Io { path: path.to_path_buf(), source },
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => TraceError::Bad {
            path: path.to_path_buf(),
            line,
            message: format!("{len} fields where the header has {expected_len}"),
        },
        other => TraceError::Bad { path: path.to_path_buf(), line, message: format!("{other:?}") },
    }
}

/// A CSV field: quoted (with quotes doubled) when it holds a comma, quote or line break.
pub fn csv_field(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\"")).into()
    } else {
        text.into()
    }
}

/// A plain decimal u64, without sign, spaces or exponent.
fn parse_u64(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 20 {
        return None;
    }
    let mut value: u64 = 0;
    for &b in bytes {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(digit as u64)?;
    }
    Some(value)
}

/// Writes traces in the same format (used by the simulator's `--trace` and by tests).
pub struct TraceWriter<W: std::io::Write> {
    out: W,
    with_monitor: bool,
}

impl<W: std::io::Write> TraceWriter<W> {
    pub fn new(mut out: W, with_monitor: bool) -> std::io::Result<Self> {
        if with_monitor {
            writeln!(out, "monitor,target,received_ns,seq,sent_ns,incarnation")?;
        } else {
            writeln!(out, "target,received_ns,seq,sent_ns,incarnation")?;
        }
        Ok(TraceWriter { out, with_monitor })
    }

    /// One row; names must not contain commas, quotes or newlines (node ids do not).
    pub fn write(&mut self, monitor: &str, target: &str, a: &Arrival) -> std::io::Result<()> {
        if self.with_monitor {
            write!(self.out, "{monitor},")?;
        }
        let opt = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_default();
        writeln!(self.out, "{target},{},{},{},{}", a.at.0, opt(a.seq), opt(a.sent.map(|s| s.0)), opt(a.incarnation))
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &str) -> Result<Vec<TraceRow>, TraceError> {
        let mut r = TraceReader::new(Path::new("t.csv"), text.as_bytes())?;
        let mut rows = Vec::new();
        while let Some(row) = r.next_row()? {
            rows.push(row);
        }
        Ok(rows)
    }

    #[test]
    fn reads_required_and_optional_columns_in_any_order() {
        let rows = read_all("received_ns,extra,target,seq\n10,x,b,0\n20,y,a,1\n30,z,b,2\n").unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].target, rows[2].target);
        assert_ne!(rows[0].target, rows[1].target);
        assert_eq!(rows[1].arrival, Arrival { at: Nanos(20), seq: Some(1), incarnation: None, sent: None });
        assert_eq!(rows[2].line, 4);
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let e = read_all("target,received_ns\na,10\na,x1\n").unwrap_err().to_string();
        assert!(e.contains("t.csv: line 3") && e.contains("received_ns") && e.contains("x1"), "{e}");
        let e = read_all("target,received_ns\na,10\na,5\n").unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("received order"), "{e}");
        let e = read_all("target,received_ns\na,10,7\n").unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("3 fields"), "{e}");
        let e = read_all("target,time\na,10\n").unwrap_err().to_string();
        assert!(e.contains("no `received_ns` column"), "{e}");
        let e = read_all("target,received_ns\na,-10\n").unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn writer_output_reads_back() {
        let mut w = TraceWriter::new(Vec::new(), true).unwrap();
        let a = Arrival { at: Nanos(5), seq: Some(3), incarnation: Some(1), sent: Some(Nanos(2)) };
        w.write("m", "t", &a).unwrap();
        w.write("m", "t", &Arrival::at(Nanos(9))).unwrap();
        let text = String::from_utf8(w.into_inner()).unwrap();
        let rows = read_all(&text).unwrap();
        assert_eq!(rows[0].arrival, a);
        assert_eq!(rows[1].arrival, Arrival::at(Nanos(9)));
    }
}
