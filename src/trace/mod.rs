//! Arrival traces: the CSV that `replay` reads and the simulator and live mode write.
//!
//! Header row; required columns `target,received_ns`; optional `monitor`, `seq`, `sent_ns`,
//! `incarnation` (DESIGN.md §5). One row per heartbeat received, in received order,
//! integer nanoseconds from the trace start (`sent_ns` in the sender's clock). Other
//! columns are ignored, so a user's own export can carry more.
//!
//! The reader streams: it never holds the trace in memory, and node names are interned to
//! small integers so that a 10-million-row trace costs one pass. A UTF-8 byte-order mark at
//! the start, CRLF line ends and header names in any case are accepted. Timestamps
//! (`received_ns`, `sent_ns`) are integer nanoseconds, or with a declared [`TimeUnit`]
//! (`--time-unit s|ms|us|ns`) decimal seconds, milliseconds or microseconds, as packet
//! captures and users' own loggers write them, converted exactly to integer nanoseconds (no
//! floating point; more fractional digits than whole nanoseconds allow is an error naming
//! the line). Timestamps above [`MAX_TIME_NS`] (2^62 ns, 146 years) and lines longer than
//! [`MAX_LINE`] bytes are errors naming the line.
//!
//! [`spill`] keeps an engine's delivered rows on disk while it runs (`--trace`) and merges
//! them into this CSV at the end.

pub mod spill;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};

use std::path::{Path, PathBuf};

use crate::detector::Arrival;
use crate::time::Nanos;

/// The largest timestamp a trace may hold: 2^62 ns, 146 years from its start. Larger values
/// are not times a heartbeat was received or sent, and sums of them would overflow.
pub const MAX_TIME_NS: u64 = 1 << 62;

/// The longest line a trace may have, in bytes: a row is a few dozen; this bounds the memory
/// that a file without line breaks (not a trace) can take.
pub const MAX_LINE: usize = 1 << 20;

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

/// The unit of a trace's timestamps (`--time-unit`): integer nanoseconds by default, or
/// decimal seconds, milliseconds or microseconds with at most as many fractional digits as
/// whole nanoseconds allow (9, 6, 3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TimeUnit {
    S,
    Ms,
    Us,
    #[default]
    Ns,
}

impl TimeUnit {
    /// Nanoseconds in one unit.
    pub fn nanos(self) -> u64 {
        match self {
            TimeUnit::S => 1_000_000_000,
            TimeUnit::Ms => 1_000_000,
            TimeUnit::Us => 1_000,
            TimeUnit::Ns => 1,
        }
    }

    /// The most fractional digits a value in this unit may have: whole nanoseconds.
    pub fn fraction_digits(self) -> usize {
        self.nanos().ilog10() as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            TimeUnit::S => "s",
            TimeUnit::Ms => "ms",
            TimeUnit::Us => "us",
            TimeUnit::Ns => "ns",
        }
    }

    fn words(self) -> &'static str {
        match self {
            TimeUnit::S => "seconds",
            TimeUnit::Ms => "milliseconds",
            TimeUnit::Us => "microseconds",
            TimeUnit::Ns => "nanoseconds",
        }
    }

    /// A timestamp in this unit as integer nanoseconds, exactly: `Err` says why not.
    pub fn parse(self, field: &[u8]) -> Result<u64, String> {
        if self == TimeUnit::Ns {
            return parse_u64(field).ok_or_else(|| {
                format!("`{}` is not a whole number of nanoseconds ≥ 0", String::from_utf8_lossy(field))
            });
        }
        let not_a_number = || {
            format!(
                "`{}` is not a decimal number of {} ≥ 0 (--time-unit {})",
                String::from_utf8_lossy(field),
                self.words(),
                self.name()
            )
        };
        let (whole, fraction) = match memchr::memchr(b'.', field) {
            Some(dot) => (&field[..dot], Some(&field[dot + 1..])),
            None => (field, None),
        };
        let whole = parse_u64(whole).ok_or_else(not_a_number)?;
        let mut nanos = 0;
        if let Some(fraction) = fraction {
            if fraction.is_empty() || !fraction.iter().all(u8::is_ascii_digit) {
                return Err(not_a_number());
            }
            let allowed = self.fraction_digits();
            if fraction.len() > allowed {
                return Err(format!(
                    "`{}` has {} digits after the point; --time-unit {} allows at most {allowed} (whole nanoseconds)",
                    String::from_utf8_lossy(field),
                    fraction.len(),
                    self.name()
                ));
            }
            // Cannot fail: at most 9 digits, checked above.
            nanos = parse_u64(fraction).expect("digits") * 10u64.pow((allowed - fraction.len()) as u32);
        }
        whole
            .checked_mul(self.nanos())
            .and_then(|n| n.checked_add(nanos))
            .ok_or_else(|| format!("`{}` is beyond 2^62 ns (146 years)", String::from_utf8_lossy(field)))
    }
}

impl std::str::FromStr for TimeUnit {
    type Err = String;
    fn from_str(s: &str) -> Result<TimeUnit, String> {
        match s {
            "s" => Ok(TimeUnit::S),
            "ms" => Ok(TimeUnit::Ms),
            "us" | "µs" => Ok(TimeUnit::Us),
            "ns" => Ok(TimeUnit::Ns),
            _ => Err(format!("`{s}` is not a time unit: s, ms, us or ns")),
        }
    }
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
    lines: Lines<R>,
    columns: Columns,
    /// Fields per row (the header's).
    width: usize,
    names: Vec<String>,
    ids: BTreeMap<Vec<u8>, u32>,
    /// The last two names looked up, to skip the map for the common case.
    recent: [(Vec<u8>, u32); 2],
    last_received: Nanos,
    unit: TimeUnit,
}

/// CSV records, one per line. Traces are machine-written and simple, so this reads them a
/// line at a time and splits on commas with `memchr`, several times faster than a general
/// CSV parser; a line holding a quote takes the RFC 4180 path (quoted fields, doubled
/// quotes). A quoted field cannot span lines, and blank lines are skipped.
struct Lines<R: Read> {
    reader: BufReader<R>,
    line: Vec<u8>,
    /// Unquoted field text, for lines with quotes.
    unquoted: Vec<u8>,
    /// Field boundaries in `line` (or in `unquoted` when `quoted`).
    fields: Vec<(usize, usize)>,
    quoted: bool,
    number: u64,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl<R: Read> Lines<R> {
    fn new(reader: R) -> Lines<R> {
        Lines {
            reader: BufReader::with_capacity(1 << 20, reader),
            line: Vec::with_capacity(256),
            unquoted: Vec::new(),
            fields: Vec::with_capacity(8),
            quoted: false,
            number: 0,
        }
    }

    /// Reads the next non-blank record; `Ok(false)` at the end of the input.
    fn next_record(&mut self) -> Result<bool, String> {
        use std::io::BufRead;
        loop {
            self.line.clear();
            let n = (&mut self.reader)
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut self.line)
                .map_err(|e| e.to_string())?;
            if n == 0 {
                return Ok(false);
            }
            self.number += 1;
            if self.line.len() > MAX_LINE && self.line.last() != Some(&b'\n') {
                return Err(format!("longer than {MAX_LINE} bytes (a trace has one heartbeat per line)"));
            }
            if self.number == 1 && self.line.starts_with(BOM) {
                self.line.drain(..BOM.len());
            }
            while matches!(self.line.last(), Some(b'\n' | b'\r')) {
                self.line.pop();
            }
            if !self.line.is_empty() {
                break;
            }
        }
        self.fields.clear();
        self.quoted = memchr::memchr(b'"', &self.line).is_some();
        if !self.quoted {
            let mut start = 0;
            for comma in memchr::memchr_iter(b',', &self.line) {
                self.fields.push((start, comma));
                start = comma + 1;
            }
            self.fields.push((start, self.line.len()));
            return Ok(true);
        }
        self.unquoted.clear();
        let mut i = 0;
        let line = &self.line;
        loop {
            let start = self.unquoted.len();
            if line.get(i) == Some(&b'"') {
                i += 1;
                loop {
                    match line.get(i) {
                        None => return Err("a quoted field is not closed on its line".into()),
                        Some(b'"') if line.get(i + 1) == Some(&b'"') => {
                            self.unquoted.push(b'"');
                            i += 2;
                        }
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(&b) => {
                            self.unquoted.push(b);
                            i += 1;
                        }
                    }
                }
                if !matches!(line.get(i), None | Some(b',')) {
                    return Err("text after a closing quote".into());
                }
            } else {
                let end = memchr::memchr(b',', &line[i..]).map_or(line.len(), |p| i + p);
                self.unquoted.extend_from_slice(&line[i..end]);
                i = end;
            }
            self.fields.push((start, self.unquoted.len()));
            if i >= line.len() {
                return Ok(true);
            }
            i += 1; // the comma
            if i == line.len() {
                self.fields.push((self.unquoted.len(), self.unquoted.len()));
                return Ok(true);
            }
        }
    }

    fn len(&self) -> usize {
        self.fields.len()
    }

    fn get(&self, i: usize) -> &[u8] {
        let (a, b) = self.fields[i];
        if self.quoted { &self.unquoted[a..b] } else { &self.line[a..b] }
    }
}

impl TraceReader<File> {
    pub fn open(path: &Path) -> Result<Self, TraceError> {
        let io = |source| TraceError::Io { path: path.to_path_buf(), source };
        let file = File::open(path).map_err(io)?;
        // A directory opens, and its read fails as if on line 1: say what it is instead.
        if file.metadata().is_ok_and(|m| m.is_dir()) {
            return Err(io(std::io::ErrorKind::IsADirectory.into()));
        }
        TraceReader::new(path, file)
    }

    /// The `received_ns` of the file's last row, read from its end without reading the rest
    /// (for estimates before a replay); `None` if it cannot be read there (the replay then
    /// finds what is wrong, naming the line).
    pub fn last_received(&self) -> Option<Nanos> {
        use std::io::{Seek, SeekFrom};
        let mut file = File::open(&self.path).ok()?;
        let len = file.metadata().ok()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(1 << 16))).ok()?;
        let mut tail = Vec::new();
        file.read_to_end(&mut tail).ok()?;
        let tail = tail.trim_ascii_end();
        // The whole last line, after a line break (the first line is the header). (Mutation
        // testing, equivalent: `* 1` for `+ 1`. The line break is then read first, as a blank
        // line, which `Lines` skips.)
        let start = memchr::memrchr(b'\n', tail)? + 1;
        let mut lines = Lines::new(&tail[start..]);
        if !lines.next_record().ok()? || lines.len() != self.width {
            return None;
        }
        self.unit.parse(lines.get(self.columns.received).trim_ascii()).ok().filter(|&t| t <= MAX_TIME_NS).map(Nanos)
    }
}

impl<R: Read> TraceReader<R> {
    /// Reads the header of a trace from `reader`; `path` names it in errors.
    pub fn new(path: &Path, reader: R) -> Result<Self, TraceError> {
        let path = path.to_path_buf();
        let mut lines = Lines::new(reader);
        let bad = |line: u64, message: String| TraceError::Bad { path: path.clone(), line, message };
        if !lines.next_record().map_err(|m| bad(1, m))? {
            return Err(bad(1, "the file is empty; a trace starts with a header row".into()));
        }
        // Header names in any case (`Target`, `RECEIVED_NS`), as users' own tools write them.
        let find =
            |name: &str| (0..lines.len()).position(|i| lines.get(i).trim_ascii().eq_ignore_ascii_case(name.as_bytes()));
        // A column fdlab reads, named twice: which one is meant cannot be told.
        for name in ["target", "received_ns", "monitor", "seq", "sent_ns", "incarnation"] {
            let count =
                (0..lines.len()).filter(|&i| lines.get(i).trim_ascii().eq_ignore_ascii_case(name.as_bytes())).count();
            if count > 1 {
                return Err(bad(1, format!("the header names the column `{name}` {count} times; name it once")));
            }
        }
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
        let width = lines.len();
        Ok(TraceReader {
            path,
            lines,
            columns,
            width,
            // Id 0 is "no monitor column".
            names: vec![String::new()],
            ids: BTreeMap::new(),
            recent: [(Vec::new(), u32::MAX), (Vec::new(), u32::MAX)],
            last_received: Nanos::ZERO,
            unit: TimeUnit::Ns,
        })
    }

    /// Reads timestamps in `unit` (default: integer nanoseconds).
    pub fn with_unit(mut self, unit: TimeUnit) -> Self {
        self.unit = unit;
        self
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
        let more = self.lines.next_record().map_err(|m| self.bad(self.lines.number, m))?;
        if !more {
            return Ok(None);
        }
        let line = self.lines.number;
        if self.lines.len() != self.width {
            return Err(self.bad(line, format!("{} fields where the header has {}", self.lines.len(), self.width)));
        }
        let c = self.columns;
        let received = Nanos(self.time(c.received, "received_ns", line)?);
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
            Some(i) if !me.lines.get(i).trim_ascii().is_empty() => me.integer(i, name, line).map(Some),
            _ => Ok(None),
        };
        let sent = match c.sent {
            Some(i) if !self.lines.get(i).trim_ascii().is_empty() => Some(Nanos(self.time(i, "sent_ns", line)?)),
            _ => None,
        };
        let arrival = Arrival {
            at: received,
            seq: optional(self, c.seq, "seq")?,
            incarnation: optional(self, c.incarnation, "incarnation")?,
            sent,
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

    /// A timestamp in the trace's unit, as nanoseconds no larger than [`MAX_TIME_NS`].
    fn time(&self, index: usize, name: &str, line: u64) -> Result<u64, TraceError> {
        let field = self.lines.get(index).trim_ascii();
        let value = self.unit.parse(field).map_err(|message| self.bad(line, format!("column `{name}`: {message}")))?;
        if value > MAX_TIME_NS {
            return Err(self.beyond(line, name, value));
        }
        Ok(value)
    }

    fn beyond(&self, line: u64, name: &str, value: u64) -> TraceError {
        self.bad(
            line,
            format!(
                "column `{name}`: {value}{} is beyond 2^62 ns (146 years); timestamps are {} from the trace's start",
                if self.unit == TimeUnit::Ns { "" } else { " ns" },
                self.unit.words()
            ),
        )
    }

    fn integer(&self, index: usize, name: &str, line: u64) -> Result<u64, TraceError> {
        let field = self.lines.get(index).trim_ascii();
        parse_u64(field).ok_or_else(|| {
            self.bad(line, format!("column `{name}`: `{}` is not a whole number ≥ 0", String::from_utf8_lossy(field)))
        })
    }

    fn intern(&mut self, index: usize, name: &str, line: u64) -> Result<u32, TraceError> {
        let field = self.lines.get(index).trim_ascii();
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
    if bytes.len() <= 19 {
        // At most 19 digits cannot overflow u64. Eight digits at a time (SWAR), then the
        // rest one by one: timestamps have 10 to 19 digits, and a digit-at-a-time loop is a
        // serial chain of multiplies that dominated replay.
        // (Mutation testing, equivalent: `<` for `<=`. 19 digits then take the checked loop
        // below, which gives the same value, only slower.)
        let mut value: u64 = 0;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            // Cannot fail: chunks_exact yields slices of exactly 8 bytes.
            let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            value = value * 100_000_000 + eight_digits(word)?;
        }
        let mut bad = false;
        for &b in chunks.remainder() {
            let digit = b.wrapping_sub(b'0');
            bad |= digit > 9;
            value = value.wrapping_mul(10).wrapping_add(digit as u64);
        }
        return (!bad).then_some(value);
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

/// Eight ASCII digits (little-endian word, first digit in the low byte) as a number, or
/// `None` if any byte is not a digit.
fn eight_digits(word: u64) -> Option<u64> {
    let digits = word.wrapping_sub(0x3030_3030_3030_3030);
    // A byte is a digit iff b − '0' ≤ 9: no borrow (high bit clear) and b − '0' + 0x76 < 0x80.
    if (digits | digits.wrapping_add(0x7676_7676_7676_7676)) & 0x8080_8080_8080_8080 != 0 {
        return None;
    }
    // Combine pairs, then pairs of pairs, then halves: 10·a + b, 100·ab + cd, 10⁴·abcd + efgh.
    let pairs = (digits.wrapping_mul(10) + (digits >> 8)) & 0x00FF_00FF_00FF_00FF;
    let quads = (pairs.wrapping_mul(100) + (pairs >> 16)) & 0x0000_FFFF_0000_FFFF;
    Some((quads.wrapping_mul(10_000) + (quads >> 32)) & 0xFFFF_FFFF)
}

/// Writes traces in the same format (used by the simulator's `--trace` and by tests).
pub struct TraceWriter<W: std::io::Write> {
    out: W,
    with_monitor: bool,
}

/// The header of a trace with a `monitor` column, as [`TraceWriter`] writes it.
pub const HEADER_WITH_MONITOR: &str = "monitor,target,received_ns,seq,sent_ns,incarnation\n";

impl<W: std::io::Write> TraceWriter<W> {
    pub fn new(mut out: W, with_monitor: bool) -> std::io::Result<Self> {
        if with_monitor {
            out.write_all(HEADER_WITH_MONITOR.as_bytes())?;
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
        write!(self.out, "{target},{}", a.at.0)?;
        // Empty fields for unknown values; no allocation per row (a trace can have billions).
        for v in [a.seq, a.sent.map(|s| s.0), a.incarnation] {
            match v {
                Some(x) => write!(self.out, ",{x}")?,
                None => self.out.write_all(b",")?,
            }
        }
        self.out.write_all(b"\n")
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
    fn header_names_are_read_in_any_case() {
        let text = "Target,RECEIVED_NS,Seq\nb,5,0\nb,7,1\n";
        let mut r = TraceReader::new(Path::new("t.csv"), text.as_bytes()).unwrap();
        assert!(r.has_seq());
        let row = r.next_row().unwrap().unwrap();
        assert_eq!((row.arrival.at, row.arrival.seq), (Nanos(5), Some(0)));
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
        for header in ["target,received_ns,received_ns", "Seq,target,received_ns,seq", "target,TARGET,received_ns"] {
            let e = read_all(&format!("{header}\n")).unwrap_err().to_string();
            assert!(e.starts_with("t.csv: line 1: the header names the column `") && e.contains("2 times"), "{e}");
        }
        // Columns fdlab does not read may repeat.
        assert_eq!(read_all("target,x,received_ns,x\na,1,10,2\n").unwrap().len(), 1);
        let e = read_all("target,received_ns\na,-10\n").unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn quoted_fields_and_blank_lines() {
        let rows = read_all("target,received_ns\n\"a,1\",5\n\n\"say \"\"hi\"\"\",7\r\nb,9").unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[2].line, 5);
        let mut r =
            TraceReader::new(Path::new("t.csv"), "target,received_ns\n\"a,1\",5\n\"say \"\"hi\"\"\",7\n".as_bytes())
                .unwrap();
        let first = r.next_row().unwrap().unwrap();
        assert_eq!(r.name(first.target), "a,1");
        let second = r.next_row().unwrap().unwrap();
        assert_eq!(r.name(second.target), "say \"hi\"");
        let e = read_all("target,received_ns\n\"open,5\n").unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("not closed"), "{e}");
        let e = read_all("").unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
    }

    #[test]
    fn a_bom_and_crlf_are_plain_input_and_long_lines_and_huge_times_are_named() {
        let plain = read_all("target,received_ns\na,10\na,20\n").unwrap();
        assert_eq!(read_all("\u{feff}target,received_ns\r\na,10\r\na,20\r\n").unwrap(), plain);
        // A BOM is only a BOM at the very start.
        let e = read_all("target,received_ns\n\u{feff}a,10\n");
        assert!(e.is_ok());
        let long = format!("target,received_ns\na,10\n{}\n", "x".repeat(MAX_LINE + 1));
        let e = read_all(&long).unwrap_err().to_string();
        assert!(e.contains("line 3: longer than 1048576 bytes"), "{e}");
        let e = read_all("target,received_ns\na,4611686018427387905\n").unwrap_err().to_string();
        assert!(e.contains("line 2: column `received_ns`: 4611686018427387905 is beyond 2^62 ns"), "{e}");
        let e = read_all("target,received_ns,sent_ns\na,10,18446744073709551615\n").unwrap_err().to_string();
        assert!(e.contains("line 2: column `sent_ns`"), "{e}");
        assert!(read_all("target,received_ns\na,4611686018427387904\n").is_ok());
    }

    #[test]
    fn decimal_timestamps_convert_exactly_in_each_unit() {
        assert_eq!(TimeUnit::S.parse(b"1.000000001"), Ok(1_000_000_001));
        assert_eq!(TimeUnit::S.parse(b"1700000000.123456789"), Ok(1_700_000_000_123_456_789));
        assert_eq!(TimeUnit::S.parse(b"0.1"), Ok(100_000_000));
        assert_eq!(TimeUnit::S.parse(b"12"), Ok(12_000_000_000));
        assert_eq!(TimeUnit::Ms.parse(b"1.5"), Ok(1_500_000));
        assert_eq!(TimeUnit::Ms.parse(b"0.000001"), Ok(1));
        assert_eq!(TimeUnit::Us.parse(b"2.25"), Ok(2_250));
        assert_eq!(TimeUnit::Ns.parse(b"42"), Ok(42));
        // 0.1 + 0.2 in binary floating point is 0.30000000000000004: here it is exact.
        assert_eq!(TimeUnit::S.parse(b"0.3"), Ok(300_000_000));
        let e = TimeUnit::S.parse(b"1.0000000001").unwrap_err();
        assert_eq!(
            e,
            "`1.0000000001` has 10 digits after the point; --time-unit s allows at most 9 (whole nanoseconds)"
        );
        assert!(TimeUnit::Us.parse(b"1.0001").unwrap_err().contains("at most 3"));
        assert!(TimeUnit::Ns.parse(b"1.5").unwrap_err().contains("not a whole number of nanoseconds"));
        for bad in [&b"1."[..], b".5", b"-1.5", b"1e3", b"1.2.3", b"", b"1.5x"] {
            let e = TimeUnit::Ms.parse(bad).unwrap_err();
            assert!(e.contains("is not a decimal number of milliseconds ≥ 0 (--time-unit ms)"), "{e}");
        }
        assert!(TimeUnit::S.parse(b"18446744074").unwrap_err().contains("beyond 2^62 ns"));
        assert_eq!("us".parse(), Ok(TimeUnit::Us));
        assert!("sec".parse::<TimeUnit>().unwrap_err().contains("s, ms, us or ns"));
    }

    #[test]
    fn a_declared_unit_reads_both_timestamps_and_names_the_line() {
        let read = |text: &str, unit| -> Result<Vec<TraceRow>, TraceError> {
            let mut r = TraceReader::new(Path::new("t.csv"), text.as_bytes())?.with_unit(unit);
            std::iter::from_fn(|| r.next_row().transpose()).collect()
        };
        let rows = read("target,received_ns,sent_ns\na,1.5,1.25\na,2,1.999999\n", TimeUnit::Ms).unwrap();
        assert_eq!(rows[0].arrival.at, Nanos(1_500_000));
        assert_eq!(rows[0].arrival.sent, Some(Nanos(1_250_000)));
        assert_eq!(rows[1].arrival.sent, Some(Nanos(1_999_999)));
        let e = read("target,received_ns\na,0.5\na,0.5000000001\n", TimeUnit::S).unwrap_err().to_string();
        assert_eq!(
            e,
            "t.csv: line 3: column `received_ns`: `0.5000000001` has 10 digits after the point; --time-unit s \
             allows at most 9 (whole nanoseconds)"
        );
        let e = read("target,received_ns,sent_ns\na,1,0.1234\n", TimeUnit::Us).unwrap_err().to_string();
        assert!(e.starts_with("t.csv: line 2: column `sent_ns`: `0.1234` has 4 digits"), "{e}");
        let e = read("target,received_ns\na,4611686018.427387905\n", TimeUnit::S).unwrap_err().to_string();
        assert!(e.contains("4611686018427387905 ns is beyond 2^62 ns (146 years); timestamps are seconds"), "{e}");
        // The last row's time, read from the end, in the unit too.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, "target,received_ns\na,1.5\na,2.25\n").unwrap();
        let r = TraceReader::open(&path).unwrap().with_unit(TimeUnit::S);
        assert_eq!(r.last_received(), Some(Nanos(2_250_000_000)));
    }

    #[test]
    fn the_last_rows_time_is_read_from_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, "received_ns,target\n5,a\n\"7\",\"b,c\"\r\n\n").unwrap();
        assert_eq!(TraceReader::open(&path).unwrap().last_received(), Some(Nanos(7)));
        std::fs::write(&path, "received_ns,target\n").unwrap();
        assert_eq!(TraceReader::open(&path).unwrap().last_received(), None);
    }

    #[test]
    fn integers_parse_exactly_up_to_u64_max() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"1234567890123456789"), Some(1_234_567_890_123_456_789));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"12a4"), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"12345678"), Some(12_345_678));
        assert_eq!(parse_u64(b"1234:678"), None);
        assert_eq!(parse_u64(b"123456789012345/"), None);
        // Every byte value in every place of an eight-digit chunk, and of the digits after
        // it: a number only when every byte is an ASCII digit (bytes 0xB0 to 0xB9 differ
        // from digits only in their high bit; the standard library would also take a `+`).
        for place in 0..11 {
            for b in 0..=255u8 {
                let mut bytes = *b"12345678901";
                bytes[place] = b;
                let std = bytes
                    .iter()
                    .all(u8::is_ascii_digit)
                    .then(|| std::str::from_utf8(&bytes).unwrap().parse::<u64>().unwrap());
                assert_eq!(parse_u64(&bytes), std, "byte {b:#x} at {place}");
            }
        }
        // Against the standard library on many lengths and digit patterns.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = x >> (x % 64);
            for text in [n.to_string(), format!("{n:020}"), format!("{:08}", n % 100_000_000)] {
                assert_eq!(parse_u64(text.as_bytes()), text.parse().ok(), "{text}");
            }
            let mut bytes = n.to_string().into_bytes();
            let i = (x as usize) % bytes.len();
            bytes[i] = [b'/', b':', b' ', b'a', 0x80][(x % 5) as usize];
            assert_eq!(parse_u64(&bytes), None, "{}", String::from_utf8_lossy(&bytes));
        }
    }

    #[test]
    fn every_unit_is_named_and_parsed_by_its_name() {
        for (text, unit, nanos, digits) in [
            ("s", TimeUnit::S, 1_000_000_000, 9),
            ("ms", TimeUnit::Ms, 1_000_000, 6),
            ("us", TimeUnit::Us, 1_000, 3),
            ("ns", TimeUnit::Ns, 1, 0),
        ] {
            assert_eq!(text.parse(), Ok(unit));
            assert_eq!((unit.name(), unit.nanos(), unit.fraction_digits()), (text, nanos, digits));
        }
        assert_eq!("µs".parse(), Ok(TimeUnit::Us));
        assert_eq!(TimeUnit::default(), TimeUnit::Ns);
        let words = [TimeUnit::S, TimeUnit::Ms, TimeUnit::Us, TimeUnit::Ns].map(TimeUnit::words);
        assert_eq!(words, ["seconds", "milliseconds", "microseconds", "nanoseconds"]);
    }

    /// A line of exactly [`MAX_LINE`] bytes is read, with or without its line break; a BOM
    /// after the first line is part of the text; equal receive times are in order; a quoted
    /// row may end in an empty field; names are interned and looked up.
    #[test]
    fn the_edges_of_a_row() {
        let name = "x".repeat(MAX_LINE - 3);
        for end in ["\n", ""] {
            let rows = read_all(&format!("target,received_ns\n{name},10{end}")).unwrap();
            assert_eq!(rows.len(), 1, "{end:?}");
        }
        let text = "target,received_ns,seq\n\u{feff}a,10,1\n\"b\",10,\na,10,2\n";
        let mut r = TraceReader::new(Path::new("t.csv"), text.as_bytes()).unwrap();
        let first = r.next_row().unwrap().unwrap();
        assert_eq!(r.name(first.target), "\u{feff}a");
        let second = r.next_row().unwrap().unwrap();
        assert_eq!((r.name(second.target), second.arrival.at, second.arrival.seq), ("b", Nanos(10), None));
        let third = r.next_row().unwrap().unwrap();
        assert_eq!((r.name(third.target), third.arrival.seq), ("a", Some(2)));
        assert_ne!(third.target, first.target);
        assert_eq!(
            (r.id_of("b"), r.id_of("a"), r.id_of("\u{feff}a")),
            (Some(second.target), Some(third.target), Some(first.target))
        );
        assert_eq!(r.id_of("c"), None);
        assert!(r.next_row().unwrap().is_none());
        assert!(r.has_seq() && !r.has_sent() && !r.has_monitor());
        let e = read_all("target,received_ns\n\"a\"x,5\n").unwrap_err().to_string();
        assert_eq!(e, "t.csv: line 2: text after a closing quote");
        let e = read_all("target,received_ns\n ,5\n").unwrap_err().to_string();
        assert_eq!(e, "t.csv: line 2: column `target` is empty");
        let e = TraceReader::new(Path::new("t.csv"), &b"monitor,target,received_ns\nm,\xff,5\n"[..])
            .and_then(|mut r| r.next_row())
            .unwrap_err()
            .to_string();
        assert_eq!(e, "t.csv: line 2: column `target` is not UTF-8");
        let e = read_all("target,received_ns,seq\na,5,x\n").unwrap_err().to_string();
        assert_eq!(e, "t.csv: line 2: column `seq`: `x` is not a whole number ≥ 0");
    }

    #[test]
    fn the_last_rows_time_may_be_the_largest_and_a_directory_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        // More than the 64 KiB read from the end.
        let mut text = String::from("target,received_ns,sent_ns\n");
        for i in 0..10_000 {
            text.push_str(&format!("a,{i},{i}\n"));
        }
        std::fs::write(&path, format!("{text}a,{MAX_TIME_NS},5\n")).unwrap();
        let r = TraceReader::open(&path).unwrap();
        assert!(r.has_sent());
        assert_eq!(r.last_received(), Some(Nanos(MAX_TIME_NS)));
        std::fs::write(&path, format!("{text}a,{}\n", MAX_TIME_NS + 1)).unwrap();
        assert_eq!(TraceReader::open(&path).unwrap().last_received(), None);
        // A last row of the wrong width is left to the replay to name.
        std::fs::write(&path, format!("{text}a,7\n")).unwrap();
        assert_eq!(TraceReader::open(&path).unwrap().last_received(), None);
        let e = TraceReader::open(dir.path()).err().expect("a directory").to_string();
        assert!(e.starts_with(&format!("{}: cannot read: ", dir.path().display())) && e.contains("directory"), "{e}");
    }

    #[test]
    fn csv_fields_are_quoted_only_when_they_must_be() {
        assert_eq!(csv_field("node-a"), "node-a");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("cr\r"), "\"cr\r\"");
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
        let mut w = TraceWriter::new(Vec::new(), false).unwrap();
        w.write("ignored", "t", &a).unwrap();
        assert_eq!(
            String::from_utf8(w.into_inner()).unwrap(),
            "target,received_ns,seq,sent_ns,incarnation\nt,5,3,2,1\n"
        );
    }
}
