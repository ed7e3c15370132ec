//! What a workload run reports: one [`WorkloadReport`] per `[[workloads]]` entry, the
//! `workloads` section of `summary.json` (written and read back as these structs).

use serde::{Deserialize, Serialize};

use super::rto::RtoSpec;
use super::spec::{Dedup, Operation, Protocol};

/// Delivery latency: first send of an operation to its first application, in ms.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

/// The ground-truth counts of one workload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkloadReport {
    pub name: String,
    pub protocol: Protocol,
    pub operation: Operation,
    pub dedup: Dedup,
    pub rto: RtoSpec,
    /// Operations the schedule issued.
    pub issued: u64,
    /// Operations sent at least once.
    pub sent: u64,
    /// Operations applied at least once.
    pub applied: u64,
    /// Issued and never applied (at-most-once losses, and operations still pending at the end).
    pub never_applied: u64,
    /// Still queued or awaiting an ACK when the run ended (fair-loss: never sent).
    pub unfinished: u64,
    /// Applications, copies included.
    pub applications: u64,
    /// Σ over operations of (copies applied − 1): at-least-once damage.
    pub extra_applications: u64,
    /// Applications of an operation after a later one had been applied.
    pub out_of_order: u64,
    /// Datagrams the client sent (first copies, retransmissions, resends after a break).
    pub transmissions: u64,
    pub retransmissions: u64,
    /// Retransmissions per operation sent.
    pub retransmissions_per_op: f64,
    /// Retransmissions after which an ACK of an earlier copy arrived (premature timeouts).
    pub spurious_retransmissions: u64,
    /// Data copies that reached the running server.
    pub copies_reached_server: u64,
    pub acks_received: u64,
    /// Data copies the server's service failed (`service_outages`: a gray failure).
    #[serde(default)]
    pub service_failures: u64,
    pub session_breaks: u64,
    /// Operations in flight at a session break: their fate unknown to the client.
    pub ambiguous: u64,
    /// Of those, the ones the server had in fact applied when the session broke.
    pub ambiguous_applied: u64,
    /// Dropped by the client after a break (`after_break = "give-up"`).
    pub abandoned: u64,
    /// `add`: operations issued; `transfer`: money debited at the client; `set`: keys.
    pub intended_state: i64,
    /// `add`: the counter; `transfer`: money credited at the server; `set`: keys holding
    /// the value of their last operation.
    pub final_state: i64,
    /// `set`: keys holding another value than intended.
    pub wrong_keys: u64,
    /// `transfer`: credited more than once (Σ amount × extra applications).
    pub money_created: u64,
    /// `transfer`: debited and never credited.
    pub money_destroyed: u64,
    /// `None` when nothing was applied.
    pub latency: Option<Latency>,
}
