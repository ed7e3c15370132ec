//! fdlab: a failure-detector and timeout testbed.
//!
//! Heartbeat senders and pluggable failure detectors run against injected delays, losses,
//! pauses, partitions and crashes; fdlab measures the false suspicions that cause split
//! brain, the time to detect a real crash, and the latency behind both.
//!
//! ```
//! use fdlab::experiment::Experiment;
//! use fdlab::sim::{RunOptions, run};
//!
//! // A validated experiment is the only kind the engines run.
//! let experiment = Experiment::from_toml(
//!     "doc.toml".as_ref(),
//!     r#"
//!         name = "doc"
//!         seed = 1
//!         duration = "10m"
//!         detectors = ["phi:threshold=8", "fixed:timeout=300ms"]
//!         [network]
//!         loss = { model = "bernoulli", p = 0.2 }
//!         [[nodes]]
//!         id = "a"
//!         [[nodes]]
//!         id = "b"
//!     "#,
//! )?;
//! let output = run(&experiment, &RunOptions::default(), &|_| {})?;
//! let fixed = output.summary.totals.iter().find(|t| t.detector == "fixed:timeout=300ms").unwrap();
//! // b and a watch each other: two links, and two lost heartbeats in a row (p = 0.04 a slot)
//! // make the 300 ms timeout suspect a live node.
//! assert_eq!(fixed.links, 2);
//! assert!(fixed.mistakes > 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Module map (DESIGN.md §4), layers pointing down:
//! - [`text`]: names and labels as messages show them (long ones shortened).
//! - [`time`]: `Nanos`, integer nanoseconds, human durations, exact clock rates.
//! - [`detector`]: the clock-free [`detector::Detector`] trait, specs, one file per detector.
//! - [`trace`]: the arrival-trace CSV, read and written.
//! - [`analysis`]: exact suspicion intervals from `suspect_at`, ground truth, QoS metrics,
//!   the result types every engine reports (`analysis::results`), statistics.
//! - [`fault`]: delay and loss models, faults as declared and in their checked shapes, seeded
//!   streams, and the fault timeline.
//! - [`experiment`]: the experiment file schema, defaults per node and link, its validation
//!   ([`experiment::ValidExperiment`]) and its size estimate.
//! - [`sim`]: the deterministic simulator (virtual time, one thread per monitor); its
//!   replications and shards (`sim::shard`: work units, exact state, the merge).
//! - [`replay`]: the replay engine (a trace through any detectors).
//! - `live` (Unix): the live engine: `fdlab node` processes sending real UDP heartbeats
//!   through a fault-injecting relay, crashed and paused with real signals; its traces go
//!   through the replay engine's analysis.
//! - [`tune`]: `fdlab tune`: the fastest configuration per family whose mistake rate meets a
//!   target with 95 % confidence, searched in one engine pass; exports for Akka/Pekko,
//!   Cassandra and Hazelcast.
//! - [`report`]: `summary.json`, the readable table, `.hgrm` percentile files, charts
//!   (`report::charts`, one file per chart, drawn from the results files) and `report.html`;
//!   the one results-directory writer (manifest, staging, cleanup after signals).
//! - [`fit`]: `fdlab fit`, a network model (delay, correlation, loss, duplication, pauses)
//!   fitted to a trace and written as an experiment that reproduces it.
//!
//! Data flows one way: an engine (`sim` or `replay`) feeds arrivals to
//! [`analysis::DetectorBank`]s, whose exact QoS reports become files in a results directory,
//! from which charts and the report are drawn.

pub mod analysis;
pub mod detector;
pub mod experiment;
pub mod fault;
pub mod fit;
#[cfg(unix)]
pub mod live;
pub mod replay;
pub mod report;
pub mod sim;
pub mod text;
pub mod time;
pub mod trace;
pub mod tune;
pub mod workload;

pub use detector::{Arrival, Detector, DetectorSpec};
pub use time::Nanos;
