//! The experiment file's schema: the serde types a TOML experiment file deserializes into,
//! field for field, with their documented defaults (applied by [`super::resolve`], checked by
//! [`super::validate`]).
//!
//! Every struct rejects unknown fields, so a typo is an error rather than a silent default
//! (STYLE.md rule 6). These types are also what `summary.json` records as
//! `experiment_config`: a field added here appears there, so an optional one is skipped
//! when absent, and results of files that do not use it stay byte for byte the same.
//! Faults, delays and losses are declared with the types of [`crate::fault`], where the
//! models are.

use serde::{Deserialize, Serialize};

use crate::detector::DetectorSpec;
use crate::fault::FaultDecl;
use crate::fault::delay::DelayModel;
use crate::fault::loss::LossModel;
use crate::time::Nanos;

/// A whole experiment.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Names the results directory (`results/<name>`).
    pub name: String,
    /// One line saying what the experiment shows (the report's subtitle).
    #[serde(default)]
    pub description: String,
    /// The question the experiment asks, in a sentence ("Does φ = 8 wrongly suspect a node
    /// through a 2 s GC pause?"). Optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    /// The answer its results give, or the claim it checks. Optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// Where the question or the claim comes from: a paper, a bug report, a system's
    /// documentation. Optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Decides every random draw; `--seed` overrides it.
    pub seed: u64,
    /// Simulated time.
    pub duration: Nanos,
    /// Defaults for every node.
    #[serde(default)]
    pub defaults: NodeSettings,
    pub nodes: Vec<NodeDecl>,
    #[serde(default)]
    pub monitoring: Monitoring,
    #[serde(default)]
    pub network: Network,
    /// What a monitor does with duplicates and stale sequence numbers.
    #[serde(default)]
    pub receive: ReceivePolicy,
    #[serde(default)]
    pub engine: EngineRules,
    #[serde(default)]
    pub faults: Vec<FaultDecl>,
    /// Cluster views, leader rules and split brain (`[cluster]`): measured when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterSettings>,
    /// Message workloads over the same links and faults (`[[workloads]]`, the seed's link
    /// layer): measured when present.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workloads: Vec<crate::workload::WorkloadDecl>,
    /// The two generals' depth-k chain (`[two_generals]`), simulated beside its closed forms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub two_generals: Option<crate::workload::generals::GeneralsDecl>,
    /// Detector specs (strings or tables; knobs may be sweeps).
    #[serde(serialize_with = "serialize_specs")]
    pub detectors: Vec<DetectorSpec>,
}

fn serialize_specs<S: serde::Serializer>(specs: &[DetectorSpec], s: S) -> Result<S::Ok, S::Error> {
    let labels: Vec<String> = specs.iter().flat_map(|d| d.points().into_iter().map(|p| p.label)).collect();
    labels.serialize(s)
}

/// Per-node settings; every field optional in a node, falling back to `[defaults]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeSettings {
    /// Heartbeat interval η in the node's own clock (default 100 ms).
    pub interval: Option<Nanos>,
    /// Each heartbeat leaves up to this much after its slot (uniform; default 0).
    pub jitter: Option<Nanos>,
    /// The node's clock rate: 1.001 runs 0.1 % fast (default 1).
    pub clock_rate: Option<f64>,
    /// After a pause: skip the missed slots (`skip`, default) or send one at once (`send-now`).
    pub after_pause: Option<AfterPause>,
    /// After a crash-recovery: number heartbeats from 0 again (`reset`, default: a counter
    /// kept in memory) or go on from the last slot before the crash (`continue`: a counter
    /// kept on disk).
    pub seq_after_restart: Option<SeqAfterRestart>,
}

/// How a restarted node numbers its heartbeats.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SeqAfterRestart {
    /// From 0 again: in the old incarnation, a `dedup` or `drop-stale` receiver takes the
    /// new heartbeats for old ones until their numbers pass the highest it saw.
    #[default]
    Reset,
    /// From the slot after the last one before the crash: the numbers never repeat.
    Continue,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum AfterPause {
    #[default]
    Skip,
    SendNow,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NodeDecl {
    pub id: String,
    #[serde(flatten)]
    pub settings: NodeSettings,
}

/// Who monitors whom.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Monitoring {
    /// `pairs` (the listed monitor→target pairs), `all` (every node monitors every other)
    /// or `ring` (each node is monitored by the next `k` nodes, as Akka's cluster does).
    pub mode: MonitoringMode,
    /// For `pairs`: `[monitor, target]` pairs.
    #[serde(default)]
    pub pairs: Vec<[String; 2]>,
    /// For `ring`: monitors per node (Akka's `monitored-by-nr-of-members`, default 5).
    #[serde(default)]
    pub k: Option<usize>,
}

impl Default for Monitoring {
    fn default() -> Monitoring {
        Monitoring { mode: MonitoringMode::All, pairs: Vec::new(), k: None }
    }
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum MonitoringMode {
    Pairs,
    All,
    Ring,
}

/// The default link model, with per-link overrides.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    #[serde(flatten)]
    pub model: LinkSettings,
    #[serde(default)]
    pub links: Vec<LinkOverride>,
}

/// One link's model; in an override, unset fields come from `[network]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LinkSettings {
    /// One-way delay distribution (default: constant 1 ms).
    pub delay: Option<DelayModel>,
    /// Loss model (default: none).
    pub loss: Option<LossModel>,
    /// Probability that a datagram is delivered twice (default 0).
    pub duplicate: Option<f64>,
    /// No overtaking: a datagram never arrives before one sent earlier (default false).
    pub fifo: Option<bool>,
    /// Autocorrelation of successive delays, in [0, 1) (default 0: independent). Applied
    /// through a Gaussian copula, so the delay distribution itself is unchanged.
    pub correlation: Option<f64>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LinkOverride {
    pub from: String,
    pub to: String,
    #[serde(flatten)]
    pub settings: LinkSettings,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ReceivePolicy {
    /// Every datagram counts (the default).
    #[default]
    Raw,
    /// Drop a (incarnation, seq) already seen.
    Dedup,
    /// Drop a seq not above the highest seen in the current incarnation.
    DropStale,
}

/// Rules that decide results where reality varies (DESIGN.md §3).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EngineRules {
    /// At the end of a monitor's pause: `timers-first` (the default, the worst case: checks
    /// that fell due during the pause fire before buffered datagrams are drained) or
    /// `datagrams-first`.
    #[serde(default)]
    pub resume_order: ResumeOrder,
    /// Datagrams a paused monitor buffers (its socket receive buffer); when full, the newest
    /// are dropped. Default 1024.
    #[serde(default = "default_recv_buffer")]
    pub recv_buffer: usize,
}

fn default_recv_buffer() -> usize {
    1024
}

impl Default for EngineRules {
    fn default() -> EngineRules {
        EngineRules { resume_order: ResumeOrder::default(), recv_buffer: default_recv_buffer() }
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ResumeOrder {
    #[default]
    TimersFirst,
    DatagramsFirst,
}

/// `[cluster]`: turn every node's suspicions into the leader it believes in
/// (`crate::analysis::cluster`; docs/split-brain.md).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClusterSettings {
    /// The leader rules to evaluate (default: `lowest-unsuspected` and `majority`, and
    /// `lease` when a `lease` is given; `[]`: none, wrongful downing only).
    #[serde(default)]
    pub rules: Option<Vec<LeaderRule>>,
    /// How long a monitor's verdict takes to reach the nodes that do not watch that peer
    /// themselves (gossip; default 0).
    #[serde(default)]
    pub gossip_delay: Nanos,
    /// A node acts on its view only once its whole suspected set has been unchanged for
    /// this long (Akka SBR's `stable-after`; default 0).
    #[serde(default)]
    pub stable_after: Nanos,
    /// A peer a node has not heard within this long of its (re)start counts as suspected
    /// (default: the detector's own, the silence after which it would suspect a peer heard
    /// once at the start).
    #[serde(default)]
    pub first_timeout: Option<Nanos>,
    /// How many of a live node's non-crashed monitors must suspect it for it to count as
    /// wrongly downed: `"any"` (Akka's unreachable; default), `"majority"` or a number.
    #[serde(default)]
    pub downing_quorum: DowningQuorum,
    /// Under `majority`, a view holding exactly half of an even number of nodes keeps a
    /// leader when it holds the lowest id of all (Akka's keep-majority tie-break).
    #[serde(default)]
    pub majority_tie_break: bool,
    /// The leader lease of the `lease` rule, by the leader's own clock.
    #[serde(default)]
    pub lease: Option<Nanos>,
    /// How much longer than the lease a follower waits, by its own clock, before it
    /// follows another node (default 0).
    #[serde(default)]
    pub lease_margin: Nanos,
}

impl ClusterSettings {
    /// The rules to evaluate: the listed ones, or the defaults.
    pub fn rules(&self) -> Vec<LeaderRule> {
        if let Some(rules) = &self.rules {
            return rules.clone();
        }
        let mut rules = vec![LeaderRule::LowestUnsuspected, LeaderRule::Majority];
        if self.lease.is_some() {
            rules.push(LeaderRule::Lease);
        }
        rules
    }
}

/// How many of a node's monitors must suspect it for it to be downed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DowningQuorum {
    /// One observer is enough (Akka marks a node unreachable on one observer's word).
    #[default]
    Any,
    /// More than half of its monitors that have not crashed.
    Majority,
    /// At least this many of its monitors that have not crashed.
    Count(u32),
}

impl Serialize for DowningQuorum {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            DowningQuorum::Any => s.serialize_str("any"),
            DowningQuorum::Majority => s.serialize_str("majority"),
            DowningQuorum::Count(n) => s.serialize_u32(*n),
        }
    }
}

impl<'de> Deserialize<'de> for DowningQuorum {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Name(String),
            Count(i64),
        }
        match Raw::deserialize(d)? {
            Raw::Name(n) if n == "any" => Ok(DowningQuorum::Any),
            Raw::Name(n) if n == "majority" => Ok(DowningQuorum::Majority),
            Raw::Count(n) if (1..=u32::MAX as i64).contains(&n) => Ok(DowningQuorum::Count(n as u32)),
            _ => Err(serde::de::Error::custom("must be \"any\", \"majority\" or a number of monitors of at least 1")),
        }
    }
}

/// How a node picks the leader it believes in from its view.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum LeaderRule {
    /// Ω: the smallest id the node does not suspect, itself included (auto-downing plus
    /// "the oldest node runs the singleton").
    LowestUnsuspected,
    /// The lowest unsuspected id, and only while the node's view holds a majority of the
    /// configured nodes (⌊N/2⌋ + 1, itself included); otherwise no leader.
    Majority,
    /// Raft's check-quorum with a leader lease, acknowledged in heartbeats
    /// (docs/split-brain.md).
    Lease,
}

impl LeaderRule {
    pub fn name(self) -> &'static str {
        match self {
            LeaderRule::LowestUnsuspected => "lowest-unsuspected",
            LeaderRule::Majority => "majority",
            LeaderRule::Lease => "lease",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Quorum {
        q: DowningQuorum,
    }

    fn quorum(value: &str) -> Result<DowningQuorum, String> {
        toml::from_str::<Quorum>(&format!("q = {value}")).map(|w| w.q).map_err(|e| e.to_string())
    }

    #[test]
    fn the_downing_quorum_is_a_name_or_a_count_of_at_least_one() {
        assert_eq!(quorum("\"any\""), Ok(DowningQuorum::Any));
        assert_eq!(quorum("\"majority\""), Ok(DowningQuorum::Majority));
        assert_eq!(quorum("1"), Ok(DowningQuorum::Count(1)));
        assert_eq!(quorum(&u32::MAX.to_string()), Ok(DowningQuorum::Count(u32::MAX)));
        for bad in ["0", "-1", &(u32::MAX as i64 + 1).to_string(), "\"most\"", "\"\""] {
            let e = quorum(bad).unwrap_err();
            assert!(e.contains("must be \"any\", \"majority\" or a number of monitors of at least 1"), "{bad}: {e}");
        }
        // Written back as read.
        for q in [DowningQuorum::Any, DowningQuorum::Majority, DowningQuorum::Count(3)] {
            assert_eq!(serde_json::from_str::<DowningQuorum>(&serde_json::to_string(&q).unwrap()).unwrap(), q);
        }
    }

    #[test]
    fn a_leader_rule_is_named_as_the_file_writes_it() {
        for rule in [LeaderRule::LowestUnsuspected, LeaderRule::Majority, LeaderRule::Lease] {
            assert_eq!(serde_json::to_string(&rule).unwrap(), format!("\"{}\"", rule.name()));
        }
        assert_eq!(LeaderRule::LowestUnsuspected.name(), "lowest-unsuspected");
    }

    #[test]
    fn the_engine_rules_default_to_timers_first_and_a_buffer_of_1024() {
        let written: EngineRules = toml::from_str("resume_order = \"datagrams-first\"").unwrap();
        assert_eq!((written.resume_order, written.recv_buffer), (ResumeOrder::DatagramsFirst, 1024));
        let default = EngineRules::default();
        assert_eq!((default.resume_order, default.recv_buffer), (ResumeOrder::TimersFirst, 1024));
    }
}
