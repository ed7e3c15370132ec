//! What a workload run reports: one [`WorkloadReport`] per `[[workloads]]` entry, the
//! `workloads` section of `summary.json` (written and read back as these structs).

use serde::{Deserialize, Serialize};

use super::rto::RtoSpec;
use super::spec::{Dedup, Operation, Protocol};
use crate::time::Nanos;

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

impl Latency {
    /// The summary of a histogram of nanoseconds whose values sum to `sum` exactly; `None`
    /// when it is empty.
    pub fn of(h: &hdrhistogram::Histogram<u64>, sum: u128) -> Option<Latency> {
        let ms = |ns: u64| ns as f64 / 1e6;
        (!h.is_empty()).then(|| Latency {
            mean_ms: sum as f64 / h.len() as f64 / 1e6,
            p50_ms: ms(h.value_at_quantile(0.5)),
            p90_ms: ms(h.value_at_quantile(0.9)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        })
    }
}

/// The datagrams of one of a workload's links (data: client → server; ACKs: server →
/// client) as its channel counted them, the same accounting as a heartbeat link's row in
/// `links`, and the one-way delay of the copies that reached the other node before the run
/// ended (whether that node was up to take them or not).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkTraffic {
    pub sent: u64,
    pub lost: u64,
    /// Dropped by a partition.
    pub cut: u64,
    pub duplicated: u64,
    /// Copies that reached the other node before the run ended: `sent − lost − cut +
    /// duplicated`, less the copies still on the way at the end.
    pub arrived: u64,
    /// The one-way delay of those copies; `None` when none arrived.
    pub delay: Option<Latency>,
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
    /// Retransmissions over time (`None` for a fair-loss link, which never retransmits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retransmissions_over_time: Option<RetransmissionSeries>,
    /// The data link's datagrams.
    #[serde(default)]
    pub data_link: LinkTraffic,
    /// The ACK link's datagrams.
    #[serde(default)]
    pub ack_link: LinkTraffic,
}

/// How many buckets [`RetransmissionSeries`] cuts a run into.
pub const RETRANSMISSION_BUCKETS: usize = 120;

/// Retransmissions per bucket of send time over the whole run, and the spurious ones among
/// them, counted from the engine's per-retransmission facts (so the buckets add up to
/// `retransmissions` and `spurious_retransmissions`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetransmissionSeries {
    /// Bucket i holds the retransmissions sent in [i·bucket_s, (i + 1)·bucket_s).
    pub bucket_s: f64,
    pub retransmissions: Vec<u64>,
    pub spurious: Vec<u64>,
    /// When the faults that touch the workload's nodes or links began (s, sorted), for the
    /// chart to mark.
    pub fault_starts_s: Vec<f64>,
}

/// The bucket width that cuts `[0, end)` into at most `buckets` buckets of whole
/// nanoseconds (at least 1 ns; the last may be cut short by `end`).
pub fn bucket_width(end: Nanos, buckets: usize) -> Nanos {
    Nanos(end.0.div_ceil(buckets.max(1) as u64).max(1))
}

/// How many of `times` fall in each of `buckets` buckets of `width`; an instant beyond the
/// last bucket (at or after the run's end) counts in the last.
pub fn bin(times: &[Nanos], width: Nanos, buckets: usize) -> Vec<u64> {
    let mut counts = vec![0; buckets];
    if let Some(last) = buckets.checked_sub(1) {
        for t in times {
            let i = usize::try_from(t.0 / width.0.max(1)).unwrap_or(usize::MAX).min(last);
            counts[i] += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binning_covers_the_run_to_its_last_instant() {
        let end = Nanos::from_secs(60);
        let width = bucket_width(end, RETRANSMISSION_BUCKETS);
        assert_eq!(width, Nanos::from_millis(500));
        // No retransmissions: every bucket empty, the series still whole.
        assert_eq!(bin(&[], width, RETRANSMISSION_BUCKETS), vec![0; RETRANSMISSION_BUCKETS]);
        // The first and last instants of the run, and the edges of a bucket.
        let counts =
            bin(&[Nanos::ZERO, Nanos(width.0 - 1), width, Nanos(end.0 - 1), end], width, RETRANSMISSION_BUCKETS);
        assert_eq!(counts.iter().sum::<u64>(), 5);
        assert_eq!((counts[0], counts[1], counts[RETRANSMISSION_BUCKETS - 1]), (2, 1, 2));
        // A run shorter than the bucket count: 1 ns buckets, as many as fit, the rest empty.
        let short = Nanos(7);
        let width = bucket_width(short, RETRANSMISSION_BUCKETS);
        assert_eq!(width, Nanos(1));
        let counts = bin(&[Nanos(6)], width, RETRANSMISSION_BUCKETS);
        assert_eq!((counts[6], counts.iter().sum::<u64>()), (1, 1));
        // A run whose length the buckets do not divide: the last bucket is cut short.
        let odd = Nanos(1_000_000_007);
        let width = bucket_width(odd, RETRANSMISSION_BUCKETS);
        assert!(width.0 * RETRANSMISSION_BUCKETS as u64 >= odd.0);
        assert!(width.0 * (RETRANSMISSION_BUCKETS as u64 - 1) < odd.0);
        let counts = bin(&[Nanos(odd.0 - 1)], width, RETRANSMISSION_BUCKETS);
        assert_eq!(counts[RETRANSMISSION_BUCKETS - 1], 1);
        assert!(bin(&[Nanos(5)], width, 0).is_empty());
    }
}
