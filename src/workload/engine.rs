//! The workload engine: a client sending operations to a server over two simulated links,
//! in virtual time, closed-loop (an ACK or a timeout causes the next send).
//!
//! Ground truth is kept per operation (every copy sent, every copy that reached the server,
//! every application), so the metrics are exact counts, not estimates. Engine rules:
//! - events at one instant: data arrivals, then ACK arrivals, then session breaks and
//!   recoveries, then timeouts, then new operations (an ACK arriving exactly at the timeout
//!   prevents the retransmission, as a heartbeat arriving at the crossing prevents a
//!   suspicion);
//! - a paused node handles what fell due during the pause at its end (datagrams buffered,
//!   timers late); a crashed node loses what reaches it; nothing leaves it while down;
//! - a session breaks when the client or server crashes, or when either link is cut for
//!   longer than `session_timeout` (at cut start + timeout). At a break both sides start a
//!   new session: datagrams of the old one are ignored, the server's `session` dedup table is
//!   lost (a `persistent` one is kept), message numbers restart, and every operation the
//!   client had in flight is *ambiguous*: retried (`after_break = "retry"`) or dropped
//!   (`"give-up"`). The RTO estimator restarts with the new connection;
//! - the client's request queue survives its crashes (operations issued while it is down
//!   are sent after it recovers); the server's state survives its crashes.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};

use hdrhistogram::Histogram;

use super::report::{
    Latency, LinkTraffic, RETRANSMISSION_BUCKETS, RetransmissionSeries, WorkloadReport, bin, bucket_width,
};
use super::rto::Rto;
use super::spec::{AfterBreak, Dedup, Operation, Protocol, WorkloadDecl};
use crate::fault::channel::{Channel, Fate};
use crate::fault::{NodeFaults, Window};
use crate::time::Nanos;

/// The faults the engine reads besides the links' own models.
pub struct Faults<'a> {
    pub client: &'a NodeFaults,
    pub server: &'a NodeFaults,
    /// Cuts of the data link (client → server) and of the ACK link.
    pub data_cuts: &'a [Window],
    pub ack_cuts: &'a [Window],
}

/// The ground truth of one operation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OpRecord {
    pub issued_at: Nanos,
    pub first_sent: Option<Nanos>,
    pub first_applied: Option<Nanos>,
    /// Copies sent, over every session.
    pub copies_sent: u32,
    /// Copies that reached the running server (in any session).
    pub copies_reached: u32,
    pub applied: u32,
    pub acked: bool,
    pub ambiguous: bool,
    /// Ambiguous, and already applied when the session broke (what the client could not know).
    pub applied_before_break: bool,
    pub abandoned: bool,
}

/// A run's result: the report and the per-operation ground truth (for tests).
pub struct Outcome {
    pub report: WorkloadReport,
    pub ops: Vec<OpRecord>,
    pub latency: Histogram<u64>,
    /// The server's order of applications (operation ids, duplicates included).
    pub applications: Vec<usize>,
    /// When each retransmission was sent (timeouts and resends after a break), in order.
    pub retransmitted_at: Vec<Nanos>,
    /// When each spurious retransmission was sent, in the order found spurious (an ACK of
    /// an earlier copy shows it, later).
    pub spurious_at: Vec<Nanos>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Data { op: usize, copy: u32, session: u64, msgno: u64 },
    Ack { op: usize, copy: u32, session: u64 },
    Break,
    ClientUp,
    Timeout { op: usize, session: u64, copy: u32, epoch: u64 },
    Issue { op: usize },
}

impl Event {
    fn class(&self) -> u8 {
        match self {
            Event::Data { .. } => 0,
            Event::Ack { .. } => 1,
            Event::Break => 2,
            Event::ClientUp => 3,
            Event::Timeout { .. } => 4,
            Event::Issue { .. } => 5,
        }
    }
}

/// One of the workload's links: its channel, and the one-way delays of the copies it
/// delivered before the run's end (the link's facts, beside what the protocol makes of them).
struct Wire<'a> {
    channel: Channel<'a>,
    delay: Histogram<u64>,
    delay_sum: u128,
    end: Nanos,
}

impl<'a> Wire<'a> {
    fn new(channel: Channel<'a>, end: Nanos) -> Wire<'a> {
        Wire { channel, delay: latency_histogram(), delay_sum: 0, end }
    }

    /// Sends a datagram at `t`: the arrival times of its copies (none when cut or lost).
    fn send(&mut self, t: Nanos) -> impl Iterator<Item = Nanos> + use<> {
        let copies = match self.channel.send(t) {
            Fate::Delivered(copies) => copies,
            Fate::Cut | Fate::Lost => [None, None],
        };
        for at in copies.into_iter().flatten().filter(|&at| at < self.end) {
            let delay = at.0 - t.0;
            self.delay.saturating_record(delay);
            self.delay_sum += delay as u128;
        }
        copies.into_iter().flatten()
    }

    fn traffic(&self) -> LinkTraffic {
        let c = self.channel.counts();
        LinkTraffic {
            sent: c.sent,
            lost: c.lost,
            cut: c.cut,
            duplicated: c.duplicated,
            arrived: self.delay.len(),
            delay: Latency::of(&self.delay, self.delay_sum),
        }
    }
}

/// Per-operation client state beyond the record.
#[derive(Clone, Debug, Default)]
struct Flight {
    session: u64,
    msgno: u64,
    first_send_in_session: Nanos,
    copies_in_session: u32,
    /// Per copy (global index), the first copy at or after it not yet counted as a spurious
    /// retransmission: itself when not counted, a later index when counted (a union-find's
    /// next pointers, compressed as they are followed). Marking each copy once keeps the
    /// work per ACK amortized constant; a scan from `copy` made it quadratic in the copies
    /// of one operation (a 1 ns RTO sends tens of thousands).
    unmarked: Vec<u32>,
    /// When each copy (global index) was sent.
    sent_at: Vec<Nanos>,
}

impl Flight {
    /// The first copy at or after `i` not yet counted spurious (the copy count when none).
    fn first_unmarked(&mut self, i: usize) -> usize {
        let n = self.unmarked.len();
        let mut root = i;
        while root < n && self.unmarked[root] as usize != root {
            root = self.unmarked[root] as usize;
        }
        // Compressed: every pointer followed now points at the root. (Mutation testing,
        // equivalent: `k > root`, which never compresses; the answers are the same, only
        // slower.)
        let mut k = i;
        while k < root {
            let next = self.unmarked[k] as usize;
            self.unmarked[k] = root as u32;
            k = next;
        }
        root
    }
}

struct Engine<'a> {
    decl: &'a WorkloadDecl,
    end: Nanos,
    protocol: Protocol,
    dedup: Dedup,
    faults: &'a Faults<'a>,
    data: Wire<'a>,
    acks: Wire<'a>,
    heap: BinaryHeap<Reverse<(Nanos, u8, u64, Event)>>,
    order: u64,
    ops: Vec<OpRecord>,
    flights: Vec<Flight>,
    rto: Rto,
    /// Counts changes of the RTO. Timers stand in for TCP's one retransmission timer per
    /// connection: of the timers armed under one RTO, only the first to expire backs it off
    /// (otherwise a window of w operations lost together would double it w times).
    epoch: u64,
    // Client.
    session: u64,
    next_msgno: u64,
    queue: VecDeque<usize>,
    in_flight: BTreeSet<usize>,
    // Server.
    table: BTreeSet<usize>,
    next_expected: u64,
    reorder: BTreeMap<u64, (usize, u32)>,
    max_applied: Option<usize>,
    applications: Vec<usize>,
    values: Vec<Option<usize>>,
    // Counts.
    transmissions: u64,
    retransmissions: u64,
    spurious: u64,
    out_of_order: u64,
    breaks: u64,
    acks_received: u64,
    service_failures: u64,
    latency: Histogram<u64>,
    latency_sum: u128,
    retransmitted_at: Vec<Nanos>,
    spurious_at: Vec<Nanos>,
}

/// An empty delivery latency histogram (ns), as every workload records into.
pub fn latency_histogram() -> Histogram<u64> {
    // Bounds 1 ns .. 2^62 ns at 3 digits are valid, so construction cannot fail.
    Histogram::new_with_bounds(1, 1 << 62, 3).expect("a 3-digit histogram")
}

/// The amount of transfer `i`.
pub fn amount(i: usize) -> u64 {
    1 + (i % 10) as u64
}

/// Runs `decl` from time 0 to `end` over `data` (client → server) and `acks`.
pub fn run<'a>(
    decl: &'a WorkloadDecl,
    end: Nanos,
    data: Channel<'a>,
    acks: Channel<'a>,
    faults: &'a Faults<'a>,
) -> Outcome {
    let issues = decl.issue_times(end);
    let mut e = Engine {
        decl,
        end,
        protocol: decl.protocol,
        dedup: decl.dedup(),
        faults,
        data: Wire::new(data, end),
        acks: Wire::new(acks, end),
        heap: BinaryHeap::new(),
        order: 0,
        ops: issues.iter().map(|&t| OpRecord { issued_at: t, ..Default::default() }).collect(),
        flights: vec![Flight::default(); issues.len()],
        rto: decl.rto.build(),
        epoch: 0,
        session: 0,
        next_msgno: 0,
        queue: VecDeque::new(),
        in_flight: BTreeSet::new(),
        table: BTreeSet::new(),
        next_expected: 0,
        reorder: BTreeMap::new(),
        max_applied: None,
        applications: Vec::new(),
        values: vec![None; decl.keys as usize],
        transmissions: 0,
        retransmissions: 0,
        spurious: 0,
        out_of_order: 0,
        breaks: 0,
        acks_received: 0,
        service_failures: 0,
        latency: latency_histogram(),
        latency_sum: 0,
        retransmitted_at: Vec::new(),
        spurious_at: Vec::new(),
    };
    for (op, &t) in issues.iter().enumerate() {
        e.push(t, Event::Issue { op });
    }
    for b in e.break_times() {
        e.push(b, Event::Break);
    }
    for c in &faults.client.crashes {
        if let Some(to) = c.to {
            e.push(to, Event::ClientUp);
        }
    }
    while let Some(Reverse((t, _, _, event))) = e.heap.pop() {
        if t >= end {
            break;
        }
        e.handle(t, event);
    }
    e.finish()
}

impl<'a> Engine<'a> {
    fn push(&mut self, t: Nanos, event: Event) {
        self.order += 1;
        self.heap.push(Reverse((t, event.class(), self.order, event)));
    }

    fn break_times(&self) -> Vec<Nanos> {
        let f = self.faults;
        let mut out: BTreeSet<Nanos> = f.client.crashes.iter().chain(f.server.crashes.iter()).map(|c| c.from).collect();
        for w in f.data_cuts.iter().chain(f.ack_cuts.iter()) {
            if w.to.0.saturating_sub(w.from.0) > self.decl.session_timeout.0 {
                out.insert(w.from.saturating_add(self.decl.session_timeout));
            }
        }
        out.into_iter().collect()
    }

    fn handle(&mut self, t: Nanos, event: Event) {
        match event {
            Event::Issue { op } => {
                self.queue.push_back(op);
                self.pump(t);
            }
            Event::ClientUp => self.pump(t),
            Event::Break => self.session_break(t),
            Event::Data { op, copy, session, msgno } => self.on_data(t, op, copy, session, msgno),
            Event::Ack { op, copy, session } => self.on_ack(t, op, copy, session),
            Event::Timeout { op, session, copy, epoch } => self.on_timeout(t, op, session, copy, epoch),
        }
    }

    /// Sends queued operations while the window allows and the client can.
    fn pump(&mut self, t: Nanos) {
        if self.faults.client.is_down(t) {
            return;
        }
        if let Some(resume) = self.faults.client.stalled_until(t) {
            self.push(resume, Event::ClientUp);
            return;
        }
        while (self.in_flight.len() as u64) < self.decl.window {
            let Some(op) = self.queue.pop_front() else { break };
            self.first_send(t, op);
        }
    }

    fn first_send(&mut self, t: Nanos, op: usize) {
        let msgno = self.next_msgno;
        self.next_msgno += 1;
        let copy = self.ops[op].copies_sent;
        self.flights[op].session = self.session;
        self.flights[op].msgno = msgno;
        self.flights[op].first_send_in_session = t;
        self.flights[op].copies_in_session = 1;
        self.ops[op].first_sent.get_or_insert(t);
        if copy > 0 {
            // A resend after a session break.
            self.retransmissions += 1;
            self.retransmitted_at.push(t);
        }
        self.transmit(t, op, copy);
        if self.protocol.retransmits() {
            self.in_flight.insert(op);
            let rto = self.rto.rto();
            self.push(t.saturating_add(rto), Event::Timeout { op, session: self.session, copy, epoch: self.epoch });
        }
    }

    fn transmit(&mut self, t: Nanos, op: usize, copy: u32) {
        let index = self.ops[op].copies_sent;
        self.ops[op].copies_sent += 1;
        self.flights[op].sent_at.push(t);
        self.flights[op].unmarked.push(index);
        self.transmissions += 1;
        let (session, msgno) = (self.session, self.flights[op].msgno);
        for at in self.data.send(t) {
            self.push(at, Event::Data { op, copy, session, msgno });
        }
    }

    fn on_timeout(&mut self, t: Nanos, op: usize, session: u64, copy: u32, epoch: u64) {
        if session != self.session || !self.in_flight.contains(&op) || self.ops[op].copies_sent != copy + 1 {
            return;
        }
        if self.faults.client.is_down(t) {
            return;
        }
        if let Some(resume) = self.faults.client.stalled_until(t) {
            self.push(resume, Event::Timeout { op, session, copy, epoch });
            return;
        }
        if epoch == self.epoch {
            self.rto.on_timeout();
            self.epoch += 1;
        }
        self.retransmissions += 1;
        self.retransmitted_at.push(t);
        self.flights[op].copies_in_session += 1;
        let next = self.ops[op].copies_sent;
        self.transmit(t, op, next);
        let rto = self.rto.rto();
        self.push(t.saturating_add(rto), Event::Timeout { op, session, copy: next, epoch: self.epoch });
    }

    fn on_data(&mut self, t: Nanos, op: usize, copy: u32, session: u64, msgno: u64) {
        if self.faults.server.is_down(t) {
            return;
        }
        if let Some(resume) = self.faults.server.stalled_until(t) {
            self.push(resume, Event::Data { op, copy, session, msgno });
            return;
        }
        self.ops[op].copies_reached += 1;
        if self.decl.service_outages.iter().any(|o| o.at <= t && t < o.at.saturating_add(o.duration)) {
            // A gray failure: the process is up (and heartbeats) but its service fails the
            // operation: not applied, not ACKed.
            self.service_failures += 1;
            return;
        }
        if session != self.session {
            // A datagram of a broken session: the new connection does not know it.
            return;
        }
        match self.dedup {
            Dedup::None => {
                self.apply(t, op);
                self.ack(t, op, copy, session);
            }
            Dedup::Session | Dedup::Persistent if self.protocol != Protocol::FifoPerfect => {
                if self.table.insert(op) {
                    self.apply(t, op);
                }
                self.ack(t, op, copy, session);
            }
            Dedup::Session | Dedup::Persistent => {
                if self.table.contains(&op) || msgno < self.next_expected {
                    self.ack(t, op, copy, session);
                    return;
                }
                // Held until every earlier message number is applied; ACKed when applied, so
                // an ACK never promises what a lost buffer would forget.
                self.reorder.entry(msgno).or_insert((op, copy));
                while let Some((&n, &(op, copy))) = self.reorder.first_key_value() {
                    if n != self.next_expected {
                        break;
                    }
                    self.reorder.pop_first();
                    self.next_expected += 1;
                    if self.table.insert(op) {
                        self.apply(t, op);
                    }
                    self.ack(t, op, copy, session);
                }
            }
        }
    }

    fn apply(&mut self, t: Nanos, op: usize) {
        let record = &mut self.ops[op];
        record.applied += 1;
        if record.first_applied.is_none() {
            record.first_applied = Some(t);
            // An applied operation was sent, so `first_sent` is set.
            let latency = t.0 - record.first_sent.unwrap_or(t).0;
            self.latency.saturating_record(latency);
            self.latency_sum += latency as u128;
        }
        if self.max_applied.is_some_and(|m| op < m) {
            self.out_of_order += 1;
        }
        self.max_applied = self.max_applied.max(Some(op));
        self.applications.push(op);
        if self.decl.operation == Operation::Set {
            let keys = self.values.len();
            self.values[op % keys] = Some(op);
        }
    }

    fn ack(&mut self, t: Nanos, op: usize, copy: u32, session: u64) {
        for at in self.acks.send(t) {
            self.push(at, Event::Ack { op, copy, session });
        }
    }

    fn on_ack(&mut self, t: Nanos, op: usize, copy: u32, session: u64) {
        if !self.protocol.retransmits() || self.faults.client.is_down(t) {
            return;
        }
        if let Some(resume) = self.faults.client.stalled_until(t) {
            self.push(resume, Event::Ack { op, copy, session });
            return;
        }
        self.acks_received += 1;
        // Every later copy already sent was a premature retransmission: this earlier copy
        // (or its ACK) was only slow. Counted once per copy, whatever the session.
        let flight = &mut self.flights[op];
        let mut i = flight.first_unmarked(copy as usize + 1);
        while i < flight.unmarked.len() {
            flight.unmarked[i] = i as u32 + 1;
            self.spurious += 1;
            self.spurious_at.push(flight.sent_at[i]);
            // (Mutation testing, equivalent: `i * 1`, since i, now marked, leads to i + 1.)
            i = flight.first_unmarked(i + 1);
        }
        if session != self.session || !self.in_flight.remove(&op) {
            return;
        }
        self.ops[op].acked = true;
        let f = &self.flights[op];
        let retransmitted = f.copies_in_session > 1;
        self.rto.on_ack(Nanos(t.0 - f.first_send_in_session.0), retransmitted);
        if !retransmitted {
            self.epoch += 1;
        }
        self.pump(t);
    }

    fn session_break(&mut self, t: Nanos) {
        self.breaks += 1;
        self.session += 1;
        self.next_msgno = 0;
        self.rto = self.decl.rto.build();
        self.epoch += 1;
        if self.dedup == Dedup::Session {
            self.table.clear();
        }
        self.reorder.clear();
        self.next_expected = 0;
        let unacked: Vec<usize> = std::mem::take(&mut self.in_flight).into_iter().collect();
        for &op in &unacked {
            let record = &mut self.ops[op];
            record.ambiguous = true;
            record.applied_before_break |= record.applied > 0;
        }
        match self.decl.after_break {
            AfterBreak::Retry => {
                for &op in unacked.iter().rev() {
                    self.queue.push_front(op);
                }
            }
            AfterBreak::GiveUp => {
                for &op in &unacked {
                    self.ops[op].abandoned = true;
                }
            }
        }
        self.pump(t);
    }

    fn finish(self) -> Outcome {
        let ops = &self.ops;
        let issued = ops.len() as u64;
        let sent = ops.iter().filter(|o| o.copies_sent > 0).count() as u64;
        let applied = ops.iter().filter(|o| o.applied > 0).count() as u64;
        let applications: u64 = ops.iter().map(|o| o.applied as u64).sum();
        let extra: u64 = ops.iter().map(|o| o.applied.saturating_sub(1) as u64).sum();
        let (intended, actual, wrong_keys, created, destroyed) = match self.decl.operation {
            Operation::Add => (issued as i128, applications as i128, 0, 0, 0),
            Operation::Transfer => {
                let intended: u64 = (0..ops.len()).map(amount).sum();
                let actual: u64 = ops.iter().enumerate().map(|(i, o)| amount(i) * o.applied as u64).sum();
                let created: u64 =
                    ops.iter().enumerate().map(|(i, o)| amount(i) * o.applied.saturating_sub(1) as u64).sum();
                let destroyed: u64 =
                    ops.iter().enumerate().filter(|(_, o)| o.applied == 0).map(|(i, _)| amount(i)).sum();
                (intended as i128, actual as i128, 0, created, destroyed)
            }
            Operation::Set => {
                let keys = self.values.len();
                let mut intended_values = vec![None; keys];
                for i in 0..ops.len() {
                    intended_values[i % keys] = Some(i);
                }
                let wrong = intended_values.iter().zip(&self.values).filter(|(a, b)| a != b).count() as u64;
                (keys as i128, (keys as u64 - wrong) as i128, wrong, 0, 0)
            }
        };
        let latency = Latency::of(&self.latency, self.latency_sum);
        let report = WorkloadReport {
            name: self.decl.name.clone(),
            protocol: self.protocol,
            operation: self.decl.operation,
            dedup: self.dedup,
            rto: self.decl.rto.clone(),
            issued,
            sent,
            applied,
            never_applied: issued - applied,
            // Still queued or waiting for an ACK when the run ended (fair-loss: never sent).
            unfinished: ops
                .iter()
                .filter(|o| if self.protocol.retransmits() { !o.acked && !o.abandoned } else { o.copies_sent == 0 })
                .count() as u64,
            applications,
            extra_applications: extra,
            out_of_order: self.out_of_order,
            transmissions: self.transmissions,
            retransmissions: self.retransmissions,
            retransmissions_per_op: if sent > 0 { self.retransmissions as f64 / sent as f64 } else { 0.0 },
            spurious_retransmissions: self.spurious,
            copies_reached_server: ops.iter().map(|o| o.copies_reached as u64).sum(),
            acks_received: self.acks_received,
            service_failures: self.service_failures,
            session_breaks: self.breaks,
            ambiguous: ops.iter().filter(|o| o.ambiguous).count() as u64,
            ambiguous_applied: ops.iter().filter(|o| o.applied_before_break).count() as u64,
            abandoned: ops.iter().filter(|o| o.abandoned).count() as u64,
            intended_state: intended as i64,
            final_state: actual as i64,
            wrong_keys,
            money_created: created,
            money_destroyed: destroyed,
            latency,
            retransmissions_over_time: self.protocol.retransmits().then(|| {
                let width = bucket_width(self.end, RETRANSMISSION_BUCKETS);
                RetransmissionSeries {
                    bucket_s: width.as_secs_f64(),
                    retransmissions: bin(&self.retransmitted_at, width, RETRANSMISSION_BUCKETS),
                    spurious: bin(&self.spurious_at, width, RETRANSMISSION_BUCKETS),
                    fault_starts_s: Vec::new(),
                }
            }),
            data_link: self.data.traffic(),
            ack_link: self.acks.traffic(),
        };
        Outcome {
            report,
            ops: self.ops,
            latency: self.latency,
            applications: self.applications,
            retransmitted_at: self.retransmitted_at,
            spurious_at: self.spurious_at,
        }
    }
}
