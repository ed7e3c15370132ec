//! The size estimate: what a run will take (links, detector configurations, deliveries,
//! memory, trace size), computed from a checked experiment before anything is allocated for
//! it, so that `fdlab validate` can print it and `fdlab run` can refuse what does not fit.
//! Every product is in `u128`: the largest experiment validation accepts (2^62 ns of 1 ns
//! heartbeats on 50 million links) stays far below its range.

use super::ValidExperiment;
use crate::fault::{CrashSchedule, Cut, Fault, Links, PauseSchedule};

/// What a run will take, estimated from the experiment alone before it starts: `fdlab
/// validate` prints it and `fdlab run` refuses a run beyond the machine (or [`WORK_LIMIT`])
/// unless told to go ahead. Memory counts what the experiment's structure sizes (links,
/// detector configurations and their windows, fault events, a fixed allowance for the
/// program and its buffers), with each configuration's distributions at their usual span;
/// a run whose mistakes spread over many orders of magnitude on many links takes more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Estimate {
    pub links: u64,
    pub configurations: u64,
    /// Heartbeat deliveries, at most (no loss; duplicates counted).
    pub deliveries: u128,
    pub memory_bytes: u128,
    /// The size of `trace.csv` with `--trace`.
    pub trace_bytes: u128,
    /// Operations the message workloads will issue (each kept, with its ground truth, to
    /// the end of the run).
    pub workload_operations: u128,
    /// Datagrams the workloads' clients send, at most: every operation's first send and a
    /// bound on the retransmissions (`WorkloadDecl::transmission_bound`). Each copy's send
    /// time is kept, and its arrivals and ACKs are events of the simulation.
    pub workload_transmissions: u128,
    /// Replications run one after the other (1 for a plain run; [`Estimate::runs`]).
    pub replications: u32,
    /// Detector configurations run over all replications: `configurations` for a plain run,
    /// times the replications for `--replications`, a shard's units' for a shard.
    pub configuration_runs: u128,
}

impl Estimate {
    /// Deliveries times configurations run: what the run's time is proportional to.
    pub fn work(&self) -> u128 {
        self.deliveries * self.configuration_runs.max(1)
    }

    /// The experiment run as `configuration_runs` detector configurations in all over
    /// `replications` replications, one after the other (`fdlab run --replications R`: R
    /// times every configuration; a shard: the configurations of its units). Every
    /// replication delivers the same heartbeats again, so the work is the deliveries times
    /// the configurations run; the memory is one replication's working memory plus the
    /// results each further configuration run keeps on every link until the replications
    /// are pooled (`MEMBER_BYTES` each), a bound that does not count on a shard's having
    /// fewer configurations than the whole run. The trace is the first replication's.
    pub fn runs(self, replications: u32, configuration_runs: u128) -> Estimate {
        let kept = configuration_runs.saturating_sub(self.configurations as u128);
        Estimate {
            replications: replications.max(1),
            configuration_runs,
            memory_bytes: self.memory_bytes + self.links as u128 * kept * MEMBER_BYTES,
            ..self
        }
    }

    /// Whether the run fits this machine: an error, with the estimate, for more work than
    /// [`WORK_LIMIT`] or more memory than 80 % of the machine's (when it can be read).
    pub fn fits(&self) -> Result<(), String> {
        self.fits_in(machine_memory())
    }

    /// [`Estimate::fits`] on a machine with `memory` bytes (`None`: unknown, not checked).
    fn fits_in(&self, memory: Option<u128>) -> Result<(), String> {
        if self.work() > WORK_LIMIT {
            return Err(format!("{self}: more than {WORK_LIMIT} configuration-heartbeats would take hours"));
        }
        if self.workload_operations > WORKLOAD_LIMIT {
            return Err(format!("{self}: more than {WORKLOAD_LIMIT} workload operations would take hours"));
        }
        if self.workload_transmissions > WORKLOAD_LIMIT {
            return Err(format!(
                "{self}: up to {} workload transmissions (more than {WORKLOAD_LIMIT}) could take hours; \
                 a retransmission timeout below the round trip retransmits every operation many times",
                self.workload_transmissions
            ));
        }
        if let Some(total) = memory
            && self.memory_bytes > usable(total)
        {
            return Err(format!("{self}: more than 80 % of this machine's {} MiB", total >> 20));
        }
        Ok(())
    }
}

/// The most memory a run may be estimated to take on a machine of `total` bytes: 80 %.
fn usable(total: u128) -> u128 {
    total / 5 * 4
}

/// The memory a replay keeps for `links` monitored links, each with `configurations`
/// detector configurations (the program, then per link its state and per configuration
/// what [`Estimate`] counts for one in a run).
pub fn replay_memory(links: u128, configurations: u128) -> u128 {
    BASE_BYTES + links * (LINK_BYTES + configurations * MEMBER_BYTES)
}

/// What a replayed link's names take, `bytes` in all (monitor and target), with
/// `configurations` detector configurations: the trace reader's copy, the link's entry, and
/// a copy in each configuration's result, each again in the summary written.
pub fn link_name_bytes(bytes: usize, configurations: u128) -> u128 {
    bytes as u128 * (2 * configurations + 2)
}

/// What a replay keeps for the `lease` rule with `heartbeats` heartbeats heard: each in its
/// link's record (12 bytes, in vectors that grow by doubling: up to 24), and the record's
/// index (16 bytes per 64 heartbeats, rounded up to 1 a heartbeat). The trace's rows are in
/// received order, so a link's record is never sorted again.
pub fn lease_record_bytes(heartbeats: u128) -> u128 {
    heartbeats * 25
}

/// This machine's memory in bytes, and the 80 % of it a run may be estimated to take, if
/// the machine's memory can be read.
pub fn memory_limit() -> Option<MemoryLimit> {
    machine_memory().map(MemoryLimit::of_machine)
}

/// What a replay may take: 80 % of a machine's memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryLimit {
    /// The machine's memory, bytes.
    pub machine: u128,
    /// The most a run may be estimated to take, bytes.
    pub usable: u128,
}

impl MemoryLimit {
    /// The limit on a machine with `machine` bytes of memory.
    pub fn of_machine(machine: u128) -> MemoryLimit {
        MemoryLimit { machine, usable: usable(machine) }
    }
}

/// The machine's memory in bytes (Linux's `/proc/meminfo`), if it can be read.
fn machine_memory() -> Option<u128> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

impl std::fmt::Display for Estimate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib = |b: u128| b.div_ceil(1 << 20);
        let plural = |n: u64, one: &'static str, many: &'static str| if n == 1 { one } else { many };
        write!(
            f,
            "{} monitored {} × {} detector {}, up to {} deliveries ({} configuration-heartbeats), \
             about {} MiB of memory ({} MiB of trace.csv with --trace)",
            self.links,
            plural(self.links, "link", "links"),
            self.configurations,
            plural(self.configurations, "configuration", "configurations"),
            self.deliveries,
            self.work(),
            mib(self.memory_bytes),
            mib(self.trace_bytes)
        )?;
        if self.replications > 1 || self.configuration_runs != self.configurations as u128 {
            write!(
                f,
                "; run as {} configuration {} over {} {}",
                self.configuration_runs,
                plural(self.configuration_runs.min(2) as u64, "run", "runs"),
                self.replications,
                plural(self.replications.into(), "replication", "replications")
            )?;
        }
        if self.workload_operations > 0 {
            write!(f, ", {} workload operations", self.workload_operations)?;
            if self.workload_transmissions > self.workload_operations {
                write!(f, " (up to {} transmissions)", self.workload_transmissions)?;
            }
        }
        Ok(())
    }
}

/// The program, its threads' stacks and its write buffers.
const BASE_BYTES: u128 = 96 << 20;
/// One link's stream, reorder heap, batch and counters, and its detector bank's pending
/// arrivals (256 of 56 bytes: `analysis::bank`).
const LINK_BYTES: u128 = 40 << 10;
/// One configuration on one link: its tracker, accumulators and distributions (three of
/// HdrHistogram's ranges each).
const MEMBER_BYTES: u128 = 80 << 10;
/// One workload operation: its ground truth, client state and issue event.
const WORKLOAD_OP_BYTES: u128 = 320;
/// One datagram a workload's client sends: its send time, its spurious mark and its place in
/// the retransmission record (24 bytes), and its arrival and ACK events while in transit
/// (measured: 4 million 1 µs retransmissions over a 10 ms path peak at 65 bytes each).
const WORKLOAD_TRANSMISSION_BYTES: u128 = 72;
/// One workload: its latency histogram (1 ns to 2^62 ns at 3 digits), channels, tables.
const WORKLOAD_BYTES: u128 = 512 << 10;
/// Workload operations beyond which a run is refused without `--allow-large`: 10^9, each
/// a few events of a closed-loop simulation (about a microsecond).
pub const WORKLOAD_LIMIT: u128 = 1_000_000_000;
/// One row of `trace.csv`.
const TRACE_ROW_BYTES: u128 = 48;
/// Configuration-heartbeats beyond which a run is refused without `--allow-large`: 10^12,
/// hours of work at tens of millions a second.
pub const WORK_LIMIT: u128 = 1_000_000_000_000;

impl ValidExperiment {
    /// What a run of this experiment will take, estimated before it starts (see
    /// [`Estimate`]).
    pub fn estimate(&self) -> Estimate {
        let links = self.monitored_link_count();
        let configurations: u64 = self.detectors.iter().map(|d| d.points().len() as u64).sum();
        let duration = self.duration.0 as u128;
        // Heartbeats per link, from the fastest sender in real time (an upper bound for every
        // link), twice with duplication.
        let real_interval = |i: usize| {
            let node = self.node(i);
            node.clock.real(node.interval).0
        };
        let fastest = (0..self.nodes.len()).map(real_interval).min().unwrap_or(1).max(1) as u128;
        let duplicates = self.network.links.iter().map(|l| &l.settings).chain([&self.network.model]);
        let copies = if duplicates.filter_map(|s| s.duplicate).any(|p| p > 0.0) { 2 } else { 1 };
        // Events a random process draws: twice the expected count, and some.
        let random = |mean: u128| duration / mean.max(1) * 2 + 16;
        // Per fault: the events it puts in the timeline, and the heartbeats it may add to a
        // link (a restart sends at once, its slot 0, and so may the end of a pause).
        let (fault_events, restarts_and_resumes) = self
            .faults()
            .iter()
            .map(|f| match f {
                Fault::Crash { schedule: CrashSchedule::Random { mttf, mttr }, .. } => {
                    let n = random(mttf.0 as u128 + mttr.0 as u128);
                    (n, n)
                }
                Fault::Pause { schedule: PauseSchedule::Random { every, .. }, .. } => {
                    let n = random(every.0 as u128);
                    (n, n)
                }
                Fault::Crash { schedule: CrashSchedule::Once { .. }, .. }
                | Fault::Pause { schedule: PauseSchedule::Once { .. }, .. } => (1, 1),
                Fault::Partition { cut: Cut::Groups(groups), .. } => {
                    let sizes: Vec<u128> = groups.iter().map(|g| g.len() as u128).collect();
                    let total: u128 = sizes.iter().sum();
                    (sizes.iter().map(|s| s * (total - s)).sum::<u128>(), 0)
                }
                Fault::Partition { cut: Cut::OneWay { from, to }, .. } => ((from.len() * to.len()) as u128, 0),
                Fault::DelaySpike { links: l, .. }
                | Fault::LossBurst { links: l, .. }
                | Fault::DelayChange { links: l, .. } => match l {
                    Links::Monitored => (links as u128, 0),
                    Links::Listed(l) => (l.len() as u128, 0),
                },
                Fault::Omission { .. } | Fault::Arbitrary { .. } => (1, 0),
            })
            .fold((0u128, 0u128), |a, b| (a.0 + b.0, a.1 + b.1));
        let per_link = (duration / fastest + 1 + restarts_and_resumes) * copies;
        let deliveries = per_link * links as u128;
        let detector_state: u128 =
            self.detectors.iter().map(|d| d.state_bytes() as u128 * d.points().len() as u128).sum();
        let nodes = self.nodes.len() as u128;
        // The lease rule reads the record of delivered heartbeats: 12 bytes a delivery (when
        // it was handled, and its delay in 32 bits), a sixteenth more room kept while
        // recording, and its index, 16 bytes per 64 (14 in all); its index keeps 48 bytes a
        // link (where the last question ended); and it holds an acknowledgement per pair of
        // nodes, kept twice (by peer, and in order: 24 bytes).
        let lease = self.cluster.as_ref().is_some_and(|c| c.rules().contains(&super::LeaderRule::Lease));
        let heartbeats = if lease { deliveries * 14 + links as u128 * 48 + nodes * nodes * 24 } else { 0 };
        let workload_operations: u128 =
            self.workloads.iter().map(|w| u128::from(w.operation_count(self.duration))).sum();
        let workload_transmissions: u128 =
            self.workloads.iter().map(|w| w.transmission_bound(self.duration, fault_events)).sum();
        let memory_bytes = BASE_BYTES
            + self.workloads.len() as u128 * WORKLOAD_BYTES
            + workload_operations * WORKLOAD_OP_BYTES
            + workload_transmissions * WORKLOAD_TRANSMISSION_BYTES
            + nodes * 512
            + fault_events * 96
            + links as u128 * (LINK_BYTES + detector_state)
            + links as u128 * configurations as u128 * MEMBER_BYTES
            + heartbeats;
        Estimate {
            links,
            configurations,
            deliveries,
            memory_bytes,
            trace_bytes: deliveries * TRACE_ROW_BYTES,
            workload_operations,
            workload_transmissions,
            replications: 1,
            configuration_runs: configurations as u128,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::experiment::Experiment;

    const HEAD: &str = "name = \"t\"\nseed = 1\nduration = \"1m\"\n[[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n";

    fn estimate(detectors: &str, rest: &str) -> (Estimate, ValidExperiment) {
        let text = format!("detectors = {detectors}\n{HEAD}{rest}");
        let e = Experiment::from_toml(Path::new("t.toml"), &text).expect("valid");
        (e.estimate(), e)
    }

    fn state(e: &ValidExperiment) -> u128 {
        e.detectors.iter().map(|d| d.state_bytes() as u128 * d.points().len() as u128).sum()
    }

    #[test]
    fn two_nodes_watching_each_other_for_a_minute() {
        let (est, e) = estimate("[\"fixed:timeout=1s\"]", "");
        // 600 slots of 100 ms, and the one at the end.
        assert_eq!((est.links, est.configurations, est.deliveries), (2, 1, 1202));
        assert_eq!(est.work(), 1202);
        assert_eq!(est.memory_bytes, BASE_BYTES + 2 * 512 + 2 * (LINK_BYTES + state(&e)) + 2 * MEMBER_BYTES);
        assert_eq!(est.trace_bytes, 1202 * TRACE_ROW_BYTES);
        // A sweep counts each threshold; the work is deliveries times configurations.
        let (sweep, _) = estimate("[\"phi:threshold=1..16\", \"fixed:timeout=1s\"]", "");
        assert_eq!((sweep.configurations, sweep.deliveries, sweep.work()), (17, 1202, 17 * 1202));
    }

    #[test]
    fn the_fastest_sender_and_duplication_bound_the_deliveries() {
        // a's clock runs twice as fast: 50 ms of real time a slot, for every link.
        let (est, _) = estimate("[\"phi\"]", "clock_rate = 2.0\n");
        assert_eq!(est.deliveries, 2 * 1201);
        // Any duplication, on the network or one link, may double every delivery.
        let (est, _) = estimate("[\"phi\"]", "[[network.links]]\nfrom = \"a\"\nto = \"b\"\nduplicate = 0.01\n");
        assert_eq!(est.deliveries, 2 * 2 * 601);
        let (est, _) = estimate("[\"phi\"]", "[network]\nduplicate = 0.0\n");
        assert_eq!(est.deliveries, 2 * 601);
    }

    #[test]
    fn faults_add_their_events_and_the_heartbeats_restarts_send() {
        let faults = "[[faults]]\nkind = \"crash\"\nnode = \"a\"\nat = \"10s\"\ndown = \"1s\"\n\
                      [[faults]]\nkind = \"crash\"\nnode = \"b\"\nmttf = \"10s\"\nmttr = \"10s\"\n\
                      [[faults]]\nkind = \"pause\"\nnode = \"a\"\nevery = \"10s\"\ndurations = { dist = \"constant\", value = \"1s\" }\n\
                      [[faults]]\nkind = \"partition\"\nat = \"1s\"\nduration = \"1s\"\ngroups = [[\"a\"], [\"b\"]]\n\
                      [[faults]]\nkind = \"partition\"\nat = \"1s\"\nduration = \"1s\"\nfrom = [\"b\"]\nto = [\"a\"]\n\
                      [[faults]]\nkind = \"delay-spike\"\nat = \"1s\"\nduration = \"1s\"\nextra = \"1s\"\n\
                      [[faults]]\nkind = \"loss-burst\"\nat = \"1s\"\nduration = \"1s\"\np = 1\nlinks = [[\"a\", \"b\"]]\n\
                      [[faults]]\nkind = \"omission\"\nnode = \"a\"\np = 0.5\n";
        let (est, e) = estimate("[\"phi\"]", faults);
        // Random processes: twice the expected count and 16: 60/20·2+16 crashes, 60/10·2+16 pauses.
        let (crashes, pauses) = (22, 28);
        let restarts = 1 + crashes + pauses;
        assert_eq!(est.deliveries, 2 * (601 + restarts));
        // Events: the crash, both processes, 2 + 1 cut links, 2 + 1 spiked or burst links, the omission.
        let events = 1 + crashes + pauses + 2 + 1 + 2 + 1 + 1;
        assert_eq!(
            est.memory_bytes,
            BASE_BYTES + 2 * 512 + events * 96 + 2 * (LINK_BYTES + state(&e)) + 2 * MEMBER_BYTES
        );
    }

    #[test]
    fn the_largest_valid_experiment_is_estimated_without_overflow_and_refused() {
        // 2^62 ns of 1 ns heartbeats on the most links validation accepts, with a sweep.
        let nodes: String = (0..7071).map(|i| format!("[[nodes]]\nid = \"n{i}\"\n")).collect();
        let text = format!(
            "name = \"t\"\nseed = 1\nduration = \"53375d\"\ndetectors = [\"phi:threshold=1..16\"]\n\
             [defaults]\ninterval = \"1ns\"\n[network]\nduplicate = 0.5\n{nodes}"
        );
        let e = Experiment::from_toml(Path::new("t.toml"), &text).expect("valid");
        let est = e.estimate();
        assert_eq!(est.links, 7071 * 7070);
        let per_link = (e.duration.0 as u128 + 1) * 2;
        assert_eq!(est.deliveries, per_link * est.links as u128);
        assert_eq!(est.work(), est.deliveries * 16);
        assert!(est.fits_in(None).unwrap_err().contains("configuration-heartbeats would take hours"));
    }

    /// A partition into groups cuts every link between two groups: groups of 2 and 1 cut
    /// 2·1 + 1·2 links, each an event.
    #[test]
    fn a_partition_counts_the_links_between_its_groups() {
        let three = "[[nodes]]\nid = \"c\"\n";
        let (plain, _) = estimate("[\"phi\"]", three);
        let cut =
            "[[faults]]\nkind = \"partition\"\nat = \"1s\"\nduration = \"1s\"\ngroups = [[\"a\", \"b\"], [\"c\"]]\n";
        let (est, _) = estimate("[\"phi\"]", &format!("{three}{cut}"));
        assert_eq!(est.memory_bytes - plain.memory_bytes, 4 * 96);
        assert_eq!(est.deliveries, plain.deliveries);
    }

    /// Each configuration of a sweep keeps its own detector state on every link: sixteen
    /// thresholds of φ take fifteen more states and members than one.
    #[test]
    fn a_sweep_keeps_a_state_per_configuration_and_link() {
        let (one, e) = estimate("[\"phi\"]", "");
        let (sweep, _) = estimate("[\"phi:threshold=1..16\"]", "");
        let phi = e.detectors[0].state_bytes() as u128;
        assert!(phi > 0);
        assert_eq!(sweep.memory_bytes - one.memory_bytes, 2 * 15 * (phi + MEMBER_BYTES));
    }

    /// The lease rule keeps the record of delivered heartbeats: 14 bytes a delivery, 48 a
    /// link and 24 a pair of nodes (here 3 × 3); the other rules keep none.
    #[test]
    fn the_lease_rule_keeps_every_delivery() {
        let three = "[[nodes]]\nid = \"c\"\n";
        let (plain, _) = estimate("[\"phi\"]", &format!("{three}[cluster]\nrules = [\"majority\"]\n"));
        let (lease, _) = estimate("[\"phi\"]", &format!("{three}[cluster]\nrules = [\"lease\"]\nlease = \"4s\"\n"));
        assert_eq!(plain.memory_bytes, estimate("[\"phi\"]", three).0.memory_bytes);
        // Six links of 601 deliveries, three nodes.
        assert_eq!(lease.deliveries, 6 * 601);
        assert_eq!(lease.memory_bytes - plain.memory_bytes, 6 * 601 * 14 + 6 * 48 + 3 * 3 * 24);
    }

    /// The allowances in numbers, as documented at their constants (a change to one changes
    /// what `fdlab validate` prints and what `fdlab run` refuses, so it must change here too):
    /// 96 MiB for the program, 40 KiB a link, 80 KiB a configuration on a link, 512 KiB a
    /// workload, 320 bytes an operation and 72 a transmission, 512 bytes a node and 96 a fault
    /// event.
    #[test]
    fn the_allowances_are_the_documented_sizes() {
        let workload =
            "[[workloads]]\nname = \"w\"\nclient = \"a\"\nserver = \"b\"\nprotocol = \"stubborn\"\nevery = \"1s\"\n";
        let (est, e) = estimate("[\"phi\", \"fixed:timeout=1s\"]", workload);
        let state = state(&e);
        // 60 operations, one a second for a minute, and a copy a second (the default fixed
        // 1 s RTO) of the one in flight for the minute: 60 + 61.
        assert_eq!((est.workload_operations, est.workload_transmissions), (60, 121));
        assert_eq!(
            est.memory_bytes,
            (96 << 20) + 2 * 512 + 2 * ((40 << 10) + state) + 2 * 2 * (80 << 10) + (512 << 10) + 60 * 320 + 121 * 72
        );
    }

    /// `fits` reads this machine's memory: no machine holds u128::MAX bytes.
    #[cfg(target_os = "linux")]
    #[test]
    fn fits_checks_the_memory_of_this_machine() {
        let err = small(u128::MAX).fits().unwrap_err();
        assert!(err.contains("more than 80 % of this machine's"), "{err}");
        let memory = machine_memory().expect("/proc/meminfo");
        assert!(err.contains(&format!("{} MiB", memory >> 20)), "{err}");
        assert_eq!(small(1 << 20).fits(), Ok(()));
    }

    fn small(memory_bytes: u128) -> Estimate {
        Estimate {
            links: 1,
            configurations: 1,
            deliveries: 10,
            memory_bytes,
            trace_bytes: 480,
            workload_operations: 0,
            workload_transmissions: 0,
            replications: 1,
            configuration_runs: 1,
        }
    }

    #[test]
    fn fits_refuses_more_work_than_the_limit_or_memory_than_four_fifths_of_the_machine() {
        let at_limit =
            Estimate { configurations: 1_000, configuration_runs: 1_000, deliveries: WORK_LIMIT / 1_000, ..small(0) };
        assert_eq!(at_limit.fits_in(None), Ok(()));
        let over = Estimate { deliveries: WORK_LIMIT / 1_000 + 1, ..at_limit };
        assert!(over.fits_in(None).unwrap_err().contains("more than 1000000000000 configuration-heartbeats"));
        // 80 % of 1000 MiB, to the byte.
        let machine = 1000u128 << 20;
        assert_eq!(small(machine / 5 * 4).fits_in(Some(machine)), Ok(()));
        let err = small(machine / 5 * 4 + 1).fits_in(Some(machine)).unwrap_err();
        assert!(err.contains("more than 80 % of this machine's 1000 MiB"), "{err}");
        // A machine whose memory cannot be read is not held against the run.
        assert_eq!(small(u128::MAX).fits_in(None), Ok(()));
    }

    /// Replications deliver the same heartbeats again to every configuration: 5 of a
    /// 3-configuration run are 15 configuration runs, 5 times the work, and 12 more
    /// configurations' results kept on each of the 2 links; a shard of 4 configuration runs
    /// over 2 replications, 4/3 of one run's work.
    #[test]
    fn replications_multiply_the_work_and_keep_each_runs_results() {
        let one = Estimate { links: 2, configurations: 3, configuration_runs: 3, deliveries: 1_000, ..small(1 << 30) };
        let five = one.runs(5, 15);
        assert_eq!((five.work(), five.replications, five.configuration_runs), (15_000, 5, 15));
        assert_eq!(five.memory_bytes, (1 << 30) + 2 * 12 * MEMBER_BYTES);
        assert_eq!((five.deliveries, five.trace_bytes, five.links, five.configurations), (1_000, 480, 2, 3));
        assert_eq!(
            five.to_string(),
            "2 monitored links × 3 detector configurations, up to 1000 deliveries (15000 configuration-heartbeats), \
             about 1026 MiB of memory (1 MiB of trace.csv with --trace); run as 15 configuration runs over 5 \
             replications"
        );
        let shard = one.runs(2, 4);
        assert_eq!((shard.work(), shard.memory_bytes), (4_000, (1 << 30) + 2 * MEMBER_BYTES));
        assert!(shard.to_string().ends_with("; run as 4 configuration runs over 2 replications"), "{shard}");
        // Fewer configurations than one run (a shard's share) keep no more than one run.
        let part = one.runs(1, 1);
        assert_eq!((part.work(), part.memory_bytes), (1_000, 1 << 30));
        assert!(part.to_string().ends_with("; run as 1 configuration run over 1 replication"), "{part}");
        // A plain run says nothing more; so many replications are refused for their work.
        assert_eq!(one.runs(1, 3).to_string(), one.to_string());
        let small_memory = Estimate { memory_bytes: 0, links: 0, ..one };
        let over = small_memory.runs(1_000_000, WORK_LIMIT / 1_000 + 1);
        assert!(over.fits_in(None).unwrap_err().contains("configuration-heartbeats would take hours"));
        assert_eq!(small_memory.runs(1_000_000, WORK_LIMIT / 1_000).fits_in(None), Ok(()));
        // On a machine of 1280 MiB one run (1 GiB, 80 % of it) fits, five do not: the
        // results they keep.
        assert_eq!(one.fits_in(Some(1280 << 20)), Ok(()));
        let err = five.fits_in(Some(1280 << 20)).unwrap_err();
        assert!(err.contains("more than 80 % of this machine's 1280 MiB"), "{err}");
    }

    #[test]
    fn work_counts_at_least_one_configuration_and_display_says_it_in_words() {
        assert_eq!(Estimate { configurations: 0, configuration_runs: 0, ..small(0) }.work(), 10);
        assert_eq!(
            small(1).to_string(),
            "1 monitored link × 1 detector configuration, up to 10 deliveries (10 configuration-heartbeats), \
             about 1 MiB of memory (1 MiB of trace.csv with --trace)"
        );
        let many = Estimate {
            links: 2,
            configurations: 3,
            configuration_runs: 3,
            deliveries: 4,
            memory_bytes: (3 << 20) + 1,
            trace_bytes: 0,
            ..small(0)
        };
        assert_eq!(
            many.to_string(),
            "2 monitored links × 3 detector configurations, up to 4 deliveries (12 configuration-heartbeats), \
             about 4 MiB of memory (0 MiB of trace.csv with --trace)"
        );
    }

    #[test]
    fn workloads_count_their_operations_in_memory_and_are_refused_beyond_the_limit() {
        let workload = |name: &str, rest: &str| {
            format!(
                "[[workloads]]\nname = \"{name}\"\nclient = \"a\"\nserver = \"b\"\nprotocol = \"stubborn\"\n{rest}\n"
            )
        };
        let (plain, _) = estimate("[\"phi\"]", "");
        let rest =
            workload("w", "every = \"10ms\"\nstop = \"30s\"") + &workload("v", "schedule = [\"1s\", \"2s\", \"2m\"]");
        let (est, e) = estimate("[\"phi\"]", &rest);
        // 3000 operations before 30 s, and two of the schedule's three (2 min is after the run).
        let issued: usize = e.workloads.iter().map(|w| w.issue_times(e.duration).len()).sum();
        assert_eq!((est.workload_operations, issued), (3002, 3002));
        // Each retransmits its one operation in flight at most once a second for the minute.
        assert_eq!(est.workload_transmissions, 3000 + 61 + 2 + 61);
        assert_eq!(
            est.memory_bytes,
            plain.memory_bytes + 2 * WORKLOAD_BYTES + 3002 * WORKLOAD_OP_BYTES + 3124 * WORKLOAD_TRANSMISSION_BYTES
        );
        assert!(est.to_string().ends_with(", 3002 workload operations (up to 3124 transmissions)"), "{est}");
        // A fair-loss link sends each operation once: no bound beside the count.
        let (fair, _) = estimate("[\"phi\"]", &workload("w", "every = \"10ms\"").replace("stubborn", "fair-loss"));
        assert_eq!((fair.workload_operations, fair.workload_transmissions), (6000, 6000));
        assert!(fair.to_string().ends_with(", 6000 workload operations"), "{fair}");
        assert_eq!(est.fits_in(None), Ok(()));
        assert_eq!(Estimate { workload_operations: WORKLOAD_LIMIT, ..est }.fits_in(None), Ok(()));
        let over = Estimate { workload_operations: WORKLOAD_LIMIT + 1, ..est };
        assert!(over.fits_in(None).unwrap_err().contains("workload operations would take hours"));
        // 200 workloads of 10 million operations each: over the limit, and about 600 GiB.
        let many: String = (0..200).map(|i| workload(&format!("w{i}"), "every = \"1ns\"\ncount = 10000000")).collect();
        let (est, _) = estimate("[\"phi\"]", &many);
        assert_eq!(est.workload_operations, 2_000_000_000);
        assert!(est.fits_in(None).is_err());
        // A 1 ns RTO: two operations, each retransmitted up to once a nanosecond for the
        // minute: refused, naming the bound.
        let (est, _) = estimate(
            "[\"phi\"]",
            &workload("w", "schedule = [\"0s\", \"1s\"]\nrto = { policy = \"fixed\", timeout = \"1ns\" }"),
        );
        assert_eq!(est.workload_transmissions, 2 + 60_000_000_001);
        let refused = est.fits_in(None).unwrap_err();
        assert!(refused.contains("up to 60000000003 workload transmissions (more than 1000000000)"), "{refused}");
        // Its records alone (4 TiB) are refused on a 1 TiB machine, under the limit too.
        let at_limit = Estimate { workload_transmissions: WORKLOAD_LIMIT, ..est };
        assert!(at_limit.fits_in(Some(1 << 40)).unwrap_err().contains("more than 80 % of this machine's"));
        let small = Estimate { memory_bytes: 0, ..at_limit };
        assert_eq!(small.fits_in(None), Ok(()));
        assert!(Estimate { workload_transmissions: WORKLOAD_LIMIT + 1, ..small }.fits_in(None).is_err());
    }
}
