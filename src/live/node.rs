//! `fdlab node`: one real process that sends heartbeats over UDP, receives its peers',
//! runs the configured detectors on them, and writes what it saw as it goes.
//!
//! - **Sending**: a thread of its own sends slot k at `epoch + k·η` (+ jitter) on the
//!   monotonic clock, sleeping until 200 µs before each deadline and spinning the rest
//!   ([`super::clock::sleep_until`]): absolute deadlines, so no drift accumulates, and
//!   microseconds of lateness where a tokio timer is a millisecond late. A slot found more
//!   than half an interval late was missed (the process was stopped): it is skipped, as the
//!   simulator skips slots in a pause, and with `after_pause = "send-now"` the last missed
//!   slot is sent at once. Each send's lateness is recorded. A slot's datagrams go out
//!   64 to a `sendmmsg` call ([`super::batch`]); with `spread`, peers are sent to in groups
//!   of [`SPREAD_GROUP`] at their own phases of the interval, so that a node with thousands
//!   of peers meets every deadline. Slots and jitter are in the node's clock
//!   (`NodeOptions::clock`).
//! - **Receiving** (tokio, one thread): every datagram is decoded and checked
//!   ([`super::wire`]); with a key, a replay window per sender rejects old and repeated
//!   datagrams; then the receive policy. Accepted heartbeats go to the node's
//!   [`DetectorBank`] per monitored peer and into `trace.csv` (the CSV `fdlab replay` reads,
//!   in the node's time line: ns since the epoch).
//! - **Suspicions**: after each heartbeat each configuration knows its exact crossing
//!   (`suspect_at`); a timer wakes at the earliest one and logs it. `transitions.csv` holds
//!   each suspicion with its exact start (`at_ns`) and the instant the node's timer fired
//!   (`fired_ns`, empty when the next heartbeat arrived first): their difference is the
//!   check lateness. Trust is logged at the heartbeat that restores it.
//! - **Files** are flushed every 200 ms, so a SIGKILL loses at most that much; `timing.json`
//!   (counts, rejects by reason, send and check lateness) is rewritten atomically then too.
//!   SIGTERM and SIGINT end the node cleanly.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::io::{BufWriter, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;
use rand::Rng;

use super::batch::Batch;
use super::clock::{mono_ns, sleep_until};
use super::wire::{self, Heartbeat, Reject, ReplayWindow};
use crate::analysis::DetectorBank;
use crate::analysis::GroundTruth;
use crate::analysis::link::ReceiveState;
use crate::analysis::tracker::Transition;
use crate::detector::{Arrival, DetectorSpec};
use crate::experiment::{AfterPause, ReceivePolicy};
use crate::time::{Clock, Nanos};
use crate::trace::HEADER_WITH_MONITOR;

/// How often files are flushed and the stop flag is looked at.
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("--listen {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("{path}: {source}")]
    File { path: PathBuf, source: std::io::Error },
    #[error(
        "{path}: already exists; a node never writes over a file (choose another --out, or --append to continue it)"
    )]
    Exists { path: PathBuf },
    #[error(
        "{path}: not a file a node wrote (it does not begin with the header `{}`); --append continues only a \
         node's own files, and this one is left as it is",
        header.trim_end()
    )]
    NotOurs { path: PathBuf, header: &'static str },
    #[error("{0}")]
    Config(String),
    #[error("runtime: {0}")]
    Runtime(std::io::Error),
}

/// What one node does.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    pub id: String,
    pub listen: SocketAddr,
    /// Where this node's heartbeats go: (peer id, address).
    pub peers: Vec<(String, SocketAddr)>,
    /// Whose heartbeats this node watches (default: every peer).
    pub monitor: Vec<String>,
    pub interval: Nanos,
    pub jitter: Nanos,
    pub after_pause: AfterPause,
    pub detectors: Vec<DetectorSpec>,
    pub policy: ReceivePolicy,
    pub cluster: u64,
    pub key: Option<Vec<u8>>,
    pub incarnation: u64,
    /// The seq of slot 0 (a restart with `seq_after_restart = "continue"` goes on).
    pub seq_start: u64,
    /// `CLOCK_MONOTONIC` ns of time 0 (the orchestrator's epoch); default: the node's start.
    pub epoch_ns: Option<u64>,
    /// Stop after this long from the epoch (default: until SIGTERM).
    pub duration: Option<Nanos>,
    pub out: PathBuf,
    /// Continue the files in `out` (a restart) instead of refusing to touch them.
    pub append: bool,
    /// Seeds the jitter.
    pub seed: u64,
    /// The node's clock (`--clock-rate`, an experiment's `clock_rate`): its local time is
    /// `rate · (real − epoch)`, and its send slots, its detectors' timers and the `sent_ns`
    /// it stamps run on it; what it writes (`trace.csv`'s `received_ns`, `transitions.csv`)
    /// stays in real time since the epoch (docs/live.md, "Clock rates").
    pub clock: Clock,
    /// Spread the peers' heartbeats over the interval (`--spread`): groups of
    /// [`SPREAD_GROUP`] peers, group g of G sending at phase g·η/G of every slot, so that a
    /// node with a thousand peers meets every deadline instead of sending 1,000 datagrams
    /// at one instant. Each peer still hears one heartbeat per slot, every η.
    pub spread: bool,
}

/// Lateness of one kind, in ns, and how many.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Lateness {
    /// (value, count) pairs at HdrHistogram's 3-digit resolution.
    pub buckets: Vec<(u64, u64)>,
}

impl Lateness {
    fn of(h: &Histogram<u64>) -> Lateness {
        Lateness { buckets: h.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value())).collect() }
    }

    /// Adds these counts to `h`.
    pub fn add_to(&self, h: &mut Histogram<u64>) {
        for &(value, count) in &self.buckets {
            // Values come from a histogram of the same layout: always recordable.
            let _ = h.record_n(value, count);
        }
    }
}

/// `timing.json`: what a node counted, rewritten every flush.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct NodeTiming {
    pub node: String,
    pub incarnation: u64,
    /// Whether the sending thread runs in the real-time scheduling class (SCHED_FIFO).
    pub realtime: bool,
    pub sent: u64,
    /// Datagrams the kernel refused to send (an address the socket cannot reach, a full
    /// buffer): heartbeats counted in `sent` that did not leave for every peer.
    #[serde(default)]
    pub send_errors: u64,
    pub skipped_slots: u64,
    pub received: u64,
    pub accepted: u64,
    /// Datagrams the receive policy dropped (duplicates, stale seqs).
    pub policy_dropped: u64,
    pub rejected: BTreeMap<Reject, u64>,
    pub send_lateness: Lateness,
    pub check_lateness: Lateness,
}

fn histogram() -> Histogram<u64> {
    // 3 significant digits over any u64: cannot fail.
    Histogram::new(3).expect("a 3-digit histogram")
}

/// With `--append`: an error unless `path` is missing, begins with `header` (a file a node
/// wrote), or holds a beginning of it (a node killed while writing it). Checked for every file
/// before any is touched: continuing cuts a half-written last row off, which must never
/// happen to a file of the user's.
fn check_continues(path: &Path, header: &'static str) -> Result<(), NodeError> {
    use std::io::Read;
    let file = |source| NodeError::File { path: path.to_path_buf(), source };
    let mut start = Vec::new();
    match std::fs::File::open(path) {
        Ok(f) => f.take(header.len() as u64).read_to_end(&mut start).map_err(file)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(file(e)),
    };
    if header.as_bytes().starts_with(&start) {
        Ok(())
    } else {
        Err(NodeError::NotOurs { path: path.to_path_buf(), header })
    }
}

/// Opens `path` for writing: new (refusing an existing file) or, with `append`, continued.
/// Returns the file and whether it was empty (needs a header).
fn open(path: &Path, append: bool) -> Result<(std::fs::File, bool), NodeError> {
    let file = |source| NodeError::File { path: path.to_path_buf(), source };
    if append {
        // A node killed mid-write may have left half a row: cut it off before continuing.
        if path.exists() {
            cut_partial_row(path).map_err(file)?;
        }
        let f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(file)?;
        let empty = f.metadata().map_err(file)?.len() == 0;
        Ok((f, empty))
    } else {
        match std::fs::OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(f) => Ok((f, true)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(NodeError::Exists { path: path.to_path_buf() })
            }
            Err(e) => Err(file(e)),
        }
    }
}

/// Cuts a half-written last row (what a process killed in the middle of a write leaves) off
/// the file at `path`, reading backwards from its end to the last newline.
pub fn cut_partial_row(path: &Path) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    const CHUNK: u64 = 64 * 1024;
    let mut f = std::fs::OpenOptions::new().read(true).write(true).open(path)?;
    let len = f.metadata()?.len();
    let (mut end, mut whole) = (len, 0);
    let mut chunk = Vec::new();
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        f.seek(SeekFrom::Start(start))?;
        chunk.clear();
        (&mut f).take(end - start).read_to_end(&mut chunk)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            whole = start + i as u64 + 1;
            break;
        }
        end = start;
    }
    if whole < len {
        f.set_len(whole)?;
    }
    Ok(())
}

/// The header of `transitions.csv`.
pub const TRANSITIONS_HEADER: &str = "monitor,target,detector,event,at_ns,fired_ns\n";

/// One watched peer.
struct Watched {
    name: String,
    bank: DetectorBank,
    receive: ReceiveState,
    window: ReplayWindow,
    /// Per member: its current suspicion has been logged.
    logged: Vec<bool>,
}

/// The receiving side's state.
struct Receiver {
    opts: NodeOptions,
    epoch: u64,
    by_id: BTreeMap<u32, usize>,
    watched: Vec<Watched>,
    labels: Vec<String>,
    /// Rows and timing snapshots for the writer thread.
    files: std::sync::mpsc::Sender<ToWriter>,
    timing: NodeTiming,
    check_lateness: Histogram<u64>,
    /// Crossings not yet logged, earliest first, as (instant, watched peer, member); an
    /// entry is stale once its member's crossing changed (checked against `pending`).
    crossings: BinaryHeap<Reverse<(Nanos, usize, usize)>>,
    /// Per watched peer and member: its current crossing not yet logged.
    pending: Vec<Vec<Option<Nanos>>>,
}

impl Receiver {
    /// Real time since the epoch.
    fn now(&self) -> Nanos {
        Nanos(mono_ns().saturating_sub(self.epoch))
    }

    /// The node's local time at real time `real` (what its detectors see).
    fn local(&self, real: Nanos) -> Nanos {
        self.opts.clock.local(real)
    }

    /// The real time of local time `local`: the first real nanosecond at which the node's
    /// clock reads at least `local` (what the files record).
    fn real(&self, local: Nanos) -> Nanos {
        let clock = self.opts.clock;
        let real = clock.real(local);
        if clock.local(real) < local { real + Nanos(1) } else { real }
    }

    /// Logs a transition at local time `at`, fired at real time `fired`; the file holds
    /// real times.
    fn log(&mut self, target: usize, member: usize, event: &str, at: Nanos, fired: Option<Nanos>) {
        let at = self.real(at);
        let fired = fired.map(|f| f.0.to_string()).unwrap_or_default();
        let label = crate::trace::csv_field(&self.labels[member]);
        let line = format!("{},{},{label},{event},{},{fired}\n", self.opts.id, self.watched[target].name, at.0);
        // One write per row, so a buffer flushed at any moment holds whole rows. A failed
        // write is seen at the next flush, which reports it.
        let _ = self.files.send(ToWriter::Transition(line));
    }

    fn on_datagram(&mut self, bytes: &[u8], at: Nanos) {
        self.timing.received += 1;
        let h = match wire::decode(bytes, self.opts.cluster, self.opts.key.as_deref()) {
            Ok(h) => h,
            Err(r) => return self.reject(r),
        };
        let Some(&w) = self.by_id.get(&h.sender) else { return self.reject(Reject::UnknownSender) };
        if self.opts.key.is_some()
            && let Err(r) = self.watched[w].window.accept(h.incarnation, h.seq)
        {
            return self.reject(r);
        }
        if !self.watched[w].receive.accept(self.opts.policy, h.incarnation, h.seq) {
            self.timing.policy_dropped += 1;
            return;
        }
        self.timing.accepted += 1;
        let real_at = at;
        let at = self.local(real_at);
        let arrival = Arrival { at, seq: Some(h.seq), incarnation: Some(h.incarnation), sent: Some(Nanos(h.sent_ns)) };
        // The trace's columns (`trace::HEADER_WITH_MONITOR`), one write per row.
        let row = format!(
            "{},{},{},{},{},{}\n",
            self.opts.id, self.watched[w].name, real_at.0, h.seq, h.sent_ns, h.incarnation
        );
        let _ = self.files.send(ToWriter::Trace(row));
        let mut notes = Vec::new();
        self.watched[w].bank.on_arrival_noting(&arrival, |member, t| notes.push((member, t)));
        for (member, t) in notes {
            match t {
                Transition::Suspect(since) => {
                    if !self.watched[w].logged[member] {
                        // Began before this heartbeat and the timer had not fired yet (or
                        // began at it: a heartbeat that does not restore trust).
                        let fired = (since == at).then_some(real_at);
                        self.log(w, member, "suspect", since, fired);
                        self.watched[w].logged[member] = true;
                    }
                }
                Transition::Trust { at: trusted, .. } => {
                    self.log(w, member, "trust", trusted, None);
                    self.watched[w].logged[member] = false;
                }
            }
        }
        // A member not suspecting now has a new crossing to announce.
        let pending: Vec<(usize, Nanos)> = self.watched[w].bank.pending().collect();
        for slot in &mut self.pending[w] {
            *slot = None;
        }
        for (m, t) in pending {
            self.watched[w].logged[m] = false;
            self.pending[w][m] = Some(t);
            self.crossings.push(Reverse((t, w, m)));
        }
    }

    fn reject(&mut self, r: Reject) {
        *self.timing.rejected.entry(r).or_default() += 1;
    }

    /// The earliest crossing not yet logged (stale entries are dropped on the way).
    fn next_check(&mut self) -> Option<Nanos> {
        while let Some(&Reverse((t, w, m))) = self.crossings.peek() {
            if self.pending[w][m] == Some(t) && !self.watched[w].logged[m] {
                return Some(t);
            }
            self.crossings.pop();
        }
        None
    }

    /// Logs every crossing due at real time `now` (the crossings are in local time; the
    /// lateness is real).
    fn check(&mut self, now: Nanos) {
        let local_now = self.local(now);
        while let Some(crossing) = self.next_check().filter(|t| *t <= local_now) {
            let Some(Reverse((_, w, member))) = self.crossings.pop() else { break };
            self.log(w, member, "suspect", crossing, Some(now));
            self.watched[w].logged[member] = true;
            self.pending[w][member] = None;
            let _ = self.check_lateness.record((now - self.real(crossing)).0);
        }
    }

    /// Hands the writer thread a snapshot of the counts: it flushes the files and rewrites
    /// the timing file. An error if the writer has stopped (it failed to write).
    fn flush(&mut self, send: &Mutex<SendStats>) -> Result<(), ()> {
        {
            let s = send.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            self.timing.sent = s.sent;
            self.timing.realtime = s.realtime;
            self.timing.skipped_slots = s.skipped;
            self.timing.send_errors = s.send_errors;
            self.timing.send_lateness = Lateness::of(&s.lateness);
        }
        self.timing.check_lateness = Lateness::of(&self.check_lateness);
        self.files.send(ToWriter::Flush(Box::new(self.timing.clone()))).map_err(|_| ())
    }
}

/// What the receiving thread hands the writer thread: whole rows, and at each flush the
/// counts to write.
enum ToWriter {
    Trace(String),
    Transition(String),
    Flush(Box<NodeTiming>),
}

/// The writer thread: a node's files are written here, so that a slow disk never delays the
/// thread that timestamps receipts and fires checks. Each row is one write into a buffer
/// that holds whole rows, flushed at every `Flush`, after which the timing file is replaced
/// atomically. Returns the first error (and stops: the receiving thread then sees it).
fn write_loop(
    rows: std::sync::mpsc::Receiver<ToWriter>,
    mut trace: BufWriter<std::fs::File>,
    mut transitions: BufWriter<std::fs::File>,
    out: &Path,
    timing_path: &Path,
) -> Result<(), NodeError> {
    let file = |path: PathBuf| move |source| NodeError::File { path, source };
    for message in rows {
        match message {
            ToWriter::Trace(row) => trace.write_all(row.as_bytes()).map_err(file(out.join("trace.csv")))?,
            ToWriter::Transition(row) => {
                transitions.write_all(row.as_bytes()).map_err(file(out.join("transitions.csv")))?
            }
            ToWriter::Flush(timing) => {
                trace.flush().map_err(file(out.join("trace.csv")))?;
                transitions.flush().map_err(file(out.join("transitions.csv")))?;
                let tmp = timing_path.with_extension("json.tmp");
                let text = serde_json::to_string_pretty(&timing).expect("plain data serializes") + "\n";
                std::fs::write(&tmp, text)
                    .and_then(|()| std::fs::rename(&tmp, timing_path))
                    .map_err(file(timing_path.to_path_buf()))?;
            }
        }
    }
    trace.flush().map_err(file(out.join("trace.csv")))?;
    transitions.flush().map_err(file(out.join("transitions.csv")))
}

/// The timing file of one incarnation of a node (a restart that keeps its incarnation
/// writes `timing-<incarnation>-<k>.json`, the first name not taken: nothing is overwritten).
pub fn timing_file(incarnation: u64) -> String {
    format!("timing-{incarnation}.json")
}

fn free_timing_path(dir: &Path, incarnation: u64) -> PathBuf {
    let first = dir.join(timing_file(incarnation));
    if !first.exists() {
        return first;
    }
    (1u64..).map(|k| dir.join(format!("timing-{incarnation}-{k}.json"))).find(|p| !p.exists()).unwrap_or(first)
}

#[derive(Debug)]
struct SendStats {
    realtime: bool,
    sent: u64,
    skipped: u64,
    send_errors: u64,
    lateness: Histogram<u64>,
}

/// With `--spread`, how many peers share one send deadline: a group's datagrams go in one
/// `sendmmsg` call (about 100 µs for 32 on loopback here), well inside the 1 ms target.
pub const SPREAD_GROUP: usize = 32;

/// The sending thread's loop (see the module doc).
fn send_loop(
    socket: UdpSocket,
    peers: Vec<SocketAddr>,
    opts: &NodeOptions,
    epoch: u64,
    stop: &AtomicBool,
    stats: &Mutex<SendStats>,
) {
    let realtime = super::clock::realtime();
    stats.lock().unwrap_or_else(std::sync::PoisonError::into_inner).realtime = realtime;
    // The interval and the jitter are in the node's clock; deadlines are real.
    let clock = opts.clock;
    let interval = opts.interval.0.max(1);
    let real_interval = clock.real(Nanos(interval)).0.max(1);
    let sender = wire::node_id(&opts.id);
    let mut rng = crate::fault::rng::stream(opts.seed, &format!("live/{}/{}/jitter", opts.id, opts.incarnation));
    let end = opts.duration.map(|d| epoch.saturating_add(d.0));
    // Slot 0 is at the epoch, or at the node's start if it starts later (a restart), as
    // the simulator restarts a recovered node's slots at its recovery.
    let origin = epoch.max(mono_ns());
    let mut batch = Batch::new(&peers);
    // The peers' groups: one (all peers at the slot's deadline) unless `spread`, when group
    // g of G sends at phase g·η/G of every slot.
    let groups = if opts.spread { peers.len().div_ceil(SPREAD_GROUP).max(1) } else { 1 };
    let group_peers = |g: usize| (g * peers.len() / groups)..((g + 1) * peers.len() / groups);
    let mut slot = 0u64;
    // Whether a refused send was reported on stderr (the first only).
    let mut reported = false;
    // Sends slot `slot`'s heartbeat to `range` of the peers; `late`: the deadline each
    // datagram is measured against (none for `send-now`'s).
    let mut send = |slot: u64, range: std::ops::Range<usize>, stats: &mut SendStats, late: Option<u64>| {
        let h = Heartbeat {
            cluster: opts.cluster,
            sender,
            incarnation: opts.incarnation,
            seq: opts.seq_start.saturating_add(slot),
            // In the sender's clock (DESIGN.md §3), as the simulator's `sent_ns`.
            sent_ns: clock.local(Nanos(mono_ns().saturating_sub(epoch))).0,
        };
        let bytes = wire::encode(&h, opts.key.as_deref());
        // Each datagram's lateness: when the call that carried it returned, after the
        // deadline (with many peers at one deadline, the last leave well after the first).
        let (refused, error) = batch.send(&socket, &bytes, range, |at| {
            if let Some(deadline) = late {
                let _ = stats.lateness.record(at.saturating_sub(deadline));
            }
        });
        stats.send_errors += refused;
        if let Some((addr, e)) = error.filter(|_| !reported) {
            // Once: every later refusal is counted in the timing file's `send_errors`.
            eprintln!("{}: sending to {addr}: {e} (counted in `send_errors` of the timing file)", opts.id);
            reported = true;
        }
    };
    'slots: while !stop.load(Ordering::Relaxed) {
        let jitter = if opts.jitter.0 > 0 { rng.random_range(0..opts.jitter.0) } else { 0 };
        for g in 0..groups {
            // Slot k at local k·η + jitter after the origin (the simulator's `real_time`),
            // plus the group's phase.
            let phase = interval / groups as u64 * g as u64;
            let local = slot.saturating_mul(interval).saturating_add(jitter).saturating_add(phase);
            let deadline = origin.saturating_add(clock.real(Nanos(local)).0);
            if end.is_some_and(|end| deadline >= end) {
                break 'slots;
            }
            // Sleep in steps, so that a stop is noticed within 50 ms.
            while deadline.saturating_sub(mono_ns()) > 50_000_000 && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(40));
            }
            if stop.load(Ordering::Relaxed) {
                break 'slots;
            }
            sleep_until(deadline);
            let late = mono_ns().saturating_sub(deadline);
            let mut s = stats.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if late > real_interval / 2 {
                // Stopped past this deadline: skip every slot whose time has passed (the
                // rest of this one's groups too).
                let local_since = clock.local_at_or_after(Nanos(mono_ns().saturating_sub(origin))).0;
                let next = local_since.div_ceil(interval).max(slot + 1);
                s.skipped += next - slot;
                if opts.after_pause == AfterPause::SendNow {
                    send(next - 1, 0..peers.len(), &mut s, None);
                }
                slot = next;
                continue 'slots;
            }
            send(slot, group_peers(g), &mut s, Some(deadline));
            if g == 0 {
                s.sent += 1;
            }
        }
        slot += 1;
    }
}

/// How far ahead of now `--epoch-ns` may lie (the orchestrator's is under two seconds).
pub const MAX_EPOCH_AHEAD: Nanos = Nanos::from_secs(600);

/// The peers as given: none is this node, none is named twice, and every address can be
/// reached from the socket `--listen` binds (its address family; not a remote address from
/// a loopback socket, whose datagrams the kernel refuses).
fn check_peers(opts: &NodeOptions) -> Result<(), NodeError> {
    let mut seen = BTreeMap::new();
    for (name, addr) in &opts.peers {
        let peer = format!("--peer {name}={addr}");
        if *name == opts.id {
            return Err(NodeError::Config(format!("{peer}: that is this node's own --id")));
        }
        if let Some(first) = seen.insert(name.as_str(), addr) {
            return Err(NodeError::Config(format!("{peer}: `{name}` is given twice (also at {first})")));
        }
        if addr.is_ipv4() != opts.listen.is_ipv4() {
            return Err(NodeError::Config(format!(
                "{peer}: an IPv{} address, and --listen {} is IPv{}: give --listen an address of the same family",
                if addr.is_ipv4() { 4 } else { 6 },
                opts.listen,
                if opts.listen.is_ipv4() { 4 } else { 6 }
            )));
        }
        if opts.listen.ip().is_loopback() && !addr.ip().is_loopback() {
            return Err(NodeError::Config(format!(
                "{peer}: not reachable from --listen {} (loopback only); give --listen this machine's address or \
                 {}:PORT",
                opts.listen,
                if addr.is_ipv4() { "0.0.0.0" } else { "[::]" }
            )));
        }
    }
    Ok(())
}

/// Runs a node until its duration ends or it is told to stop (`stop`, set by SIGTERM or
/// SIGINT in the binary). Prints `listening ADDR` on stdout once its socket is bound.
pub fn run_node(opts: NodeOptions, stop: Arc<AtomicBool>) -> Result<NodeTiming, NodeError> {
    // Wire ids must be distinct among the names this node knows.
    let mut ids: BTreeMap<u32, &str> = BTreeMap::new();
    let names = std::iter::once(opts.id.as_str()).chain(opts.peers.iter().map(|p| p.0.as_str()));
    for name in names.chain(opts.monitor.iter().map(String::as_str)) {
        if let Some(other) = ids.insert(wire::node_id(name), name).filter(|o| *o != name) {
            return Err(NodeError::Config(format!(
                "node ids `{other}` and `{name}` have the same wire id; rename one"
            )));
        }
    }
    for spec in &opts.detectors {
        spec.require_complete().map_err(|e| NodeError::Config(format!("--detector: {e}")))?;
    }
    check_peers(&opts)?;
    // A CLOCK_MONOTONIC reading, not wall-clock time: one far ahead would wait for years.
    if let Some(epoch) = opts.epoch_ns {
        let now = mono_ns();
        if epoch > now.saturating_add(MAX_EPOCH_AHEAD.0) {
            return Err(NodeError::Config(format!(
                "--epoch-ns {epoch}: {} ahead of this machine's CLOCK_MONOTONIC ({now} ns now; at most {} ahead); it \
                 is a monotonic-clock reading (what the orchestrator hands its nodes), not wall-clock time",
                Nanos(epoch - now),
                MAX_EPOCH_AHEAD
            )));
        }
    }
    if let Some(r) = crate::detector::find_repeat(&opts.detectors) {
        return Err(NodeError::Config(format!(
            "--detector: {}",
            r.message(|i| format!("--detector number {}", i + 1))
        )));
    }
    let socket = UdpSocket::bind(opts.listen).map_err(|source| NodeError::Bind { addr: opts.listen, source })?;
    let local = socket.local_addr().map_err(|source| NodeError::Bind { addr: opts.listen, source })?;
    super::clock::large_receive_buffer(&socket);
    std::fs::create_dir_all(&opts.out).map_err(|source| NodeError::File { path: opts.out.clone(), source })?;
    if opts.append {
        check_continues(&opts.out.join("trace.csv"), HEADER_WITH_MONITOR)?;
        check_continues(&opts.out.join("transitions.csv"), TRANSITIONS_HEADER)?;
    }
    let (trace_file, trace_empty) = open(&opts.out.join("trace.csv"), opts.append)?;
    let (transitions_file, transitions_empty) = open(&opts.out.join("transitions.csv"), opts.append)?;
    let mut trace = BufWriter::new(trace_file);
    if trace_empty {
        trace
            .write_all(HEADER_WITH_MONITOR.as_bytes())
            .map_err(|source| NodeError::File { path: opts.out.join("trace.csv"), source })?;
    }
    let mut transitions = BufWriter::new(transitions_file);
    if transitions_empty {
        transitions
            .write_all(TRANSITIONS_HEADER.as_bytes())
            .map_err(|source| NodeError::File { path: opts.out.join("transitions.csv"), source })?;
    }
    let epoch = opts.epoch_ns.unwrap_or_else(mono_ns);
    let monitor =
        if opts.monitor.is_empty() { opts.peers.iter().map(|p| p.0.clone()).collect() } else { opts.monitor.clone() };
    let watched: Vec<Watched> = monitor
        .iter()
        .map(|name| {
            let bank = DetectorBank::new(&opts.detectors, &GroundTruth::always_up());
            let members = bank.points().count();
            Watched {
                name: name.clone(),
                bank,
                receive: ReceiveState::default(),
                window: ReplayWindow::default(),
                logged: vec![false; members],
            }
        })
        .collect();
    let labels = watched.first().map(|w| w.bank.points().map(|p| p.label.clone()).collect()).unwrap_or_default();
    let by_id = monitor.iter().enumerate().map(|(i, name)| (wire::node_id(name), i)).collect();
    println!("listening {local}");
    let _ = std::io::stdout().flush();

    let stats =
        Arc::new(Mutex::new(SendStats { realtime: false, sent: 0, skipped: 0, send_errors: 0, lateness: histogram() }));
    let sender = {
        let socket = socket.try_clone().map_err(NodeError::Runtime)?;
        let peers = opts.peers.iter().map(|p| p.1).collect();
        let (opts, stop, stats) = (opts.clone(), stop.clone(), stats.clone());
        std::thread::Builder::new()
            .name("send".into())
            .spawn(move || send_loop(socket, peers, &opts, epoch, &stop, &stats))
            .map_err(NodeError::Runtime)?
    };
    let timing = NodeTiming { node: opts.id.clone(), incarnation: opts.incarnation, ..NodeTiming::default() };
    let (files, rows) = std::sync::mpsc::channel();
    let writer = {
        let (out, timing_path) = (opts.out.clone(), free_timing_path(&opts.out, opts.incarnation));
        std::thread::Builder::new()
            .name("write".into())
            .spawn(move || write_loop(rows, trace, transitions, &out, &timing_path))
            .map_err(NodeError::Runtime)?
    };
    let pending = watched.iter().map(|w| vec![None; w.logged.len()]).collect();
    let mut rx = Receiver {
        opts,
        epoch,
        by_id,
        watched,
        labels,
        files,
        timing,
        check_lateness: histogram(),
        crossings: BinaryHeap::new(),
        pending,
    };
    let result = receive_loop(&mut rx, socket, &stop, &stats);
    stop.store(true, Ordering::Relaxed);
    let _ = sender.join();
    let _ = rx.flush(&stats);
    let Receiver { timing, files, .. } = rx;
    drop(files);
    // The writer's error, if it had one, is the cause of anything the receiving side saw.
    writer.join().map_err(|_| NodeError::Config("the writer thread panicked".into()))??;
    result?;
    Ok(timing)
}

fn receive_loop(
    rx: &mut Receiver,
    socket: UdpSocket,
    stop: &AtomicBool,
    stats: &Mutex<SendStats>,
) -> Result<(), NodeError> {
    // Receipt times are read when this thread runs: in the real-time class, other work on a
    // busy machine does not delay them.
    super::clock::realtime();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(NodeError::Runtime)?;
    runtime.block_on(async {
        socket.set_nonblocking(true).map_err(NodeError::Runtime)?;
        let socket = tokio::net::UdpSocket::from_std(socket).map_err(NodeError::Runtime)?;
        let mut buf = vec![0u8; 2048];
        let mut flush = tokio::time::interval(FLUSH_EVERY);
        let end = rx.opts.duration;
        loop {
            // The earliest crossing (local time) is due at the real instant its clock reads it.
            let next = rx.next_check().map(|t| rx.real(t));
            let wake = next
                .map(|t| tokio::time::Instant::now() + std::time::Duration::from_nanos(t.0.saturating_sub(rx.now().0)));
            tokio::select! {
                // Timers first: after a stop, the checks that fell due fire before the
                // datagrams buffered meanwhile are read (the simulator's default order).
                biased;
                _ = tokio::time::sleep_until(wake.unwrap_or_else(tokio::time::Instant::now)), if wake.is_some() => {
                    let now = rx.now();
                    rx.check(now);
                }
                r = socket.recv_from(&mut buf) => {
                    let at = rx.now();
                    if let Ok((n, _)) = r {
                        rx.on_datagram(&buf[..n], at);
                    }
                }
                _ = flush.tick() => {
                    // The writer stopped on an error: end, and report it (`run_node`).
                    if rx.flush(stats).is_err() {
                        return Ok(());
                    }
                    if stop.load(Ordering::Relaxed) || end.is_some_and(|d| rx.now() >= d) {
                        return Ok(());
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_half_written_last_row_is_cut_and_whole_rows_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        for (text, kept) in
            [("h\na,1\nb,2\n", "h\na,1\nb,2\n"), ("h\na,1\nb,", "h\na,1\n"), ("no newline at all", ""), ("", "")]
        {
            std::fs::write(&path, text).unwrap();
            cut_partial_row(&path).unwrap();
            assert_eq!(std::fs::read_to_string(&path).unwrap(), kept, "{text:?}");
        }
        // A half row longer than one read (64 KiB) is cut back to the newline before it.
        std::fs::write(&path, format!("h\na,1\n{}", "x".repeat(200_000))).unwrap();
        cut_partial_row(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "h\na,1\n");
    }
}
