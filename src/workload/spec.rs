//! A workload as experiment files declare it (`[[workloads]]`), and its checks.
//!
//! ```toml
//! [[workloads]]
//! name = "transfers"          # names its rows in summary.json and the table
//! client = "a"                # node ids of the experiment
//! server = "b"
//! protocol = "perfect"        # fair-loss | stubborn | perfect | fifo-perfect
//! operation = "transfer"      # set | add | transfer
//! dedup = "persistent"        # none | session | persistent (default: none for fair-loss and
//!                             # stubborn, session for perfect and fifo-perfect)
//! every = "100ms"             # one operation every interval ... (or `schedule = ["1s", ...]`)
//! count = 1000                # ... this many (default: until `stop`)
//! rto = { policy = "rfc6298", min_rto = "200ms" }   # or { policy = "fixed", timeout = "1s" }
//! ```
//!
//! The data travel over the experiment's link client → server and the ACKs over server →
//! client, with that link's delay, loss, duplication and FIFO setting and every fault that
//! touches the links or the two nodes.

use serde::{Deserialize, Serialize};

use super::rto::RtoSpec;
use crate::time::Nanos;

/// What the sender does about loss, and what the receiver does about copies and order.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// Send once; never retransmit (at most once).
    FairLoss,
    /// Retransmit on timeout until ACKed (at least once).
    Stubborn,
    /// Stubborn, plus message numbers: the receiver drops copies it has applied.
    Perfect,
    /// Perfect, plus a reorder buffer: operations applied in message-number order.
    FifoPerfect,
}

impl Protocol {
    pub fn retransmits(self) -> bool {
        self != Protocol::FairLoss
    }
    pub fn name(self) -> &'static str {
        match self {
            Protocol::FairLoss => "fair-loss",
            Protocol::Stubborn => "stubborn",
            Protocol::Perfect => "perfect",
            Protocol::FifoPerfect => "fifo-perfect",
        }
    }
}

/// The server's operation.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    /// `key[i mod keys] = i`: idempotent (a late copy can still overwrite a newer value).
    Set,
    /// `counter += 1`: not idempotent.
    Add,
    /// The client pays `1 + i mod 10` units to an account on the server: debited once at the
    /// client, credited at the server on every application.
    Transfer,
}

impl Operation {
    pub fn name(self) -> &'static str {
        match self {
            Operation::Set => "set",
            Operation::Add => "add",
            Operation::Transfer => "transfer",
        }
    }
}

/// How the server recognises a copy it has applied.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Dedup {
    /// Every copy is applied.
    None,
    /// By message number within a session (TCP): the table is lost at a session break.
    Session,
    /// By operation id in a table that survives session breaks and restarts (an idempotency
    /// key on disk).
    Persistent,
}

impl Dedup {
    pub fn name(self) -> &'static str {
        match self {
            Dedup::None => "none",
            Dedup::Session => "session",
            Dedup::Persistent => "persistent",
        }
    }
}

/// What the client does with operations left unACKed by a session break (their fate is
/// unknown to it).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum AfterBreak {
    /// Send them again in the new session (at least once).
    #[default]
    Retry,
    /// Drop them (at most once).
    GiveUp,
}

/// A window in which the server's service fails every operation it receives (neither
/// applies nor ACKs it) while the process, and its heartbeats, carry on: a gray failure.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceOutage {
    pub at: Nanos,
    pub duration: Nanos,
}

/// A `[[workloads]]` entry.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WorkloadDecl {
    pub name: String,
    pub client: String,
    pub server: String,
    pub protocol: Protocol,
    #[serde(default = "default_operation")]
    pub operation: Operation,
    #[serde(default)]
    pub dedup: Option<Dedup>,
    /// One operation every `every`, from `start` (default 0) ...
    #[serde(default)]
    pub every: Option<Nanos>,
    #[serde(default)]
    pub start: Option<Nanos>,
    /// ... or at these instants (non-decreasing).
    #[serde(default)]
    pub schedule: Option<Vec<Nanos>>,
    /// At most this many operations (default: as many as the schedule gives before `stop`).
    #[serde(default)]
    pub count: Option<u64>,
    /// No operation is issued at or after `stop` (default: the run's end), so that the rest
    /// of the run drains the last ones.
    #[serde(default)]
    pub stop: Option<Nanos>,
    /// Operations in flight at once (default 1).
    #[serde(default = "one")]
    pub window: u64,
    /// Default: fixed 1 s.
    #[serde(default = "default_rto")]
    pub rto: RtoSpec,
    /// A partition of either direction longer than this breaks the session (default 10 s).
    #[serde(default = "default_session_timeout")]
    pub session_timeout: Nanos,
    #[serde(default)]
    pub after_break: AfterBreak,
    /// Gray failures of the server's service (default none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_outages: Vec<ServiceOutage>,
    /// Keys for `set` (default 16).
    #[serde(default = "default_keys")]
    pub keys: u64,
}

fn default_operation() -> Operation {
    Operation::Add
}
fn one() -> u64 {
    1
}
fn default_rto() -> RtoSpec {
    RtoSpec::Fixed { timeout: Nanos::from_secs(1) }
}
fn default_session_timeout() -> Nanos {
    Nanos::from_secs(10)
}
fn default_keys() -> u64 {
    16
}

/// The largest number of operations one workload may issue.
pub const MAX_OPERATIONS: u64 = 10_000_000;

impl WorkloadDecl {
    /// The dedup mode in force (the protocol's default when the file gives none).
    pub fn dedup(&self) -> Dedup {
        self.dedup.unwrap_or(match self.protocol {
            Protocol::FairLoss | Protocol::Stubborn => Dedup::None,
            Protocol::Perfect | Protocol::FifoPerfect => Dedup::Session,
        })
    }

    /// The issue instants of the operations, in order, for a run ending at `end`.
    pub fn issue_times(&self, end: Nanos) -> Vec<Nanos> {
        let stop = self.stop.unwrap_or(end).min(end);
        let limit = self.count.unwrap_or(MAX_OPERATIONS).min(MAX_OPERATIONS);
        let mut out = Vec::new();
        if let Some(schedule) = &self.schedule {
            out.extend(schedule.iter().copied().filter(|t| *t < stop).take(limit as usize));
        } else if let Some(every) = self.every {
            let mut t = self.start.unwrap_or(Nanos::ZERO);
            while t < stop && (out.len() as u64) < limit {
                out.push(t);
                t = t.saturating_add(every);
            }
        }
        out
    }

    /// How many operations [`Self::issue_times`] gives for a run ending at `end`, counted
    /// without listing them (for the size estimate).
    pub fn operation_count(&self, end: Nanos) -> u64 {
        let stop = self.stop.unwrap_or(end).min(end);
        let limit = self.count.unwrap_or(MAX_OPERATIONS).min(MAX_OPERATIONS);
        let available = if let Some(schedule) = &self.schedule {
            schedule.iter().filter(|t| **t < stop).count() as u64
        } else if let Some(every) = self.every.filter(|e| *e > Nanos::ZERO) {
            // Issued at start, start + every, ... while before `stop`.
            stop.0.saturating_sub(self.start.unwrap_or(Nanos::ZERO).0).div_ceil(every.0)
        } else {
            0
        };
        available.min(limit)
    }

    /// At most how many datagrams the client sends in a run ending at `end` with at most
    /// `breaks` session breaks: every first send, and a bound on the retransmissions.
    ///
    /// At most `w = min(window, operations)` operations are in flight at once, and one
    /// retransmits at most once per RTO, so a run sends at most `w · end / floor`
    /// retransmissions, with `floor` the least RTO the policy can give (the fixed timeout,
    /// RFC 6298's `min_rto`), and `w` resends per break. RFC 6298 backs off besides: the
    /// engine's timers back the RTO off once per epoch, and an epoch (which ends at a backoff,
    /// at an ACK giving a sample, or at a break) sees at most `w + 1` retransmissions. Between
    /// two samples or breaks the RTO doubles at most `levels = ⌈log2(max/min)⌉` times before
    /// it reaches `max_rto`, where every epoch lasts `max_rto` or more, so the retransmissions
    /// are also at most `(w + 1) · ((samples + breaks + 1) · (levels + 1) + end / max_rto)`,
    /// with at most one sample per operation; the bound is the smaller of the two.
    pub fn transmission_bound(&self, end: Nanos, breaks: u128) -> u128 {
        let operations = u128::from(self.operation_count(end));
        if !self.protocol.retransmits() || operations == 0 {
            return operations;
        }
        let w = u128::from(self.window).min(operations);
        let duration = u128::from(end.0);
        let by_floor = |floor: Nanos| w * (duration / u128::from(floor.0.max(1)) + 1);
        let retransmissions = match self.rto {
            RtoSpec::Fixed { timeout } => by_floor(timeout),
            RtoSpec::Rfc6298 { min_rto, max_rto, .. } => {
                let levels = u128::from(max_rto.0.div_ceil(min_rto.0.max(1)).next_power_of_two().trailing_zeros());
                let epochs = (operations + breaks + 1) * (levels + 1) + duration / u128::from(max_rto.0.max(1)) + 1;
                by_floor(min_rto).min((w + 1) * epochs)
            }
        };
        operations + retransmissions + w * breaks
    }

    /// Checks the entry against the run's `nodes` and `end`; the error names the field.
    pub fn validate(&self, nodes: &[&str], end: Nanos) -> Result<(), (&'static str, String)> {
        // The name names its latency file (`workload-latency/{name}.hgrm`).
        if self.name.is_empty()
            || self.name.starts_with('.')
            || !self.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err((
                "name",
                format!("`{}`: use letters, digits, `-`, `_` and `.` (not first): it names a file", self.name),
            ));
        }
        for (field, id) in [("client", &self.client), ("server", &self.server)] {
            if !nodes.contains(&id.as_str()) {
                return Err((field, format!("`{id}` is not a node of the experiment")));
            }
        }
        if self.client == self.server {
            return Err(("server", "must differ from `client`".into()));
        }
        match (self.every, &self.schedule) {
            (None, None) => return Err(("every", "give `every` or `schedule`".into())),
            (Some(_), Some(_)) => return Err(("schedule", "give `every` or `schedule`, not both".into())),
            (Some(every), None) if every == Nanos::ZERO => {
                return Err(("every", "must be greater than zero".into()));
            }
            (Some(every), None) => {
                let span = self.stop.unwrap_or(end).min(end).0.saturating_sub(self.start.unwrap_or(Nanos::ZERO).0);
                if self.count.is_none() && span / every.0 > MAX_OPERATIONS {
                    return Err(("every", format!("would issue over {MAX_OPERATIONS} operations; set `count`")));
                }
            }
            (None, Some(schedule)) => {
                if schedule.windows(2).any(|w| w[1] < w[0]) {
                    return Err(("schedule", "instants must not decrease".into()));
                }
                if schedule.len() as u64 > MAX_OPERATIONS {
                    return Err(("schedule", format!("over {MAX_OPERATIONS} operations")));
                }
            }
        }
        if self.start.is_some() && self.schedule.is_some() {
            return Err(("start", "applies to `every`, not to `schedule`".into()));
        }
        if let Some(start) = self.start
            && start >= end
        {
            return Err(("start", format!("{start} is not before the run's end {end}")));
        }
        if self.window == 0 {
            return Err(("window", "must be at least 1".into()));
        }
        if self.keys == 0 {
            return Err(("keys", "must be at least 1".into()));
        }
        if self.session_timeout == Nanos::ZERO {
            return Err(("session_timeout", "must be greater than zero".into()));
        }
        if self.dedup() == Dedup::None && matches!(self.protocol, Protocol::Perfect | Protocol::FifoPerfect) {
            return Err(("dedup", format!("`none` contradicts protocol `{}` (message numbers)", self.protocol.name())));
        }
        self.rto.validate().map_err(|m| ("rto", m))?;
        for o in &self.service_outages {
            if o.duration == Nanos::ZERO || o.at >= end || o.at.saturating_add(o.duration) > end {
                return Err((
                    "service_outages",
                    format!("{} for {}: must be non-empty and inside the run", o.at, o.duration),
                ));
            }
        }
        Ok(())
    }
}
