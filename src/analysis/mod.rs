//! From detector answers to exact QoS metrics (Chen, Toueg, Aguilera; REFERENCES.md §1).
//!
//! - [`tracker`] turns `suspect_at` answers at each arrival into exact suspicion intervals;
//!   nothing is sampled.
//! - [`truth`] is what the engine knows: when each target was down.
//! - [`qos`] classifies each suspicion interval against the truth (mistake, detection,
//!   censored) and accumulates the distributions.
//! - [`bank`] runs every configured detector for one monitored link over one arrival
//!   stream, sharing detector state across thresholds where the detector allows it.
//! - [`link`] is the engine boundary: an engine hands each monitored link's facts
//!   (datagrams received, target and monitor downtime, pauses, cuts) to a
//!   [`link::LinkAnalysis`], which applies the receive policy, runs the bank and names the
//!   causes of mistakes.
//! - [`results`] assembles every link's outcome into the summary and its totals
//!   ([`results::ResultsBuilder`]); [`output`] is what an engine hands the writer.
//! - [`replications`] pools the results of independent replications and gives their spread
//!   (`fdlab run --replications`).
//! - [`sampling`] chooses which configurations' levels the charts sample.
//! - [`distributions`] holds the CDFs and quantiles `fit` and `tune` need, in pure-Rust
//!   maths.
//! - [`poisson`] computes the exact (Garwood) Poisson confidence bounds for mistake rates.
//! - [`stats`] holds the distribution summaries and re-exports the Poisson intervals.
//!
//! Every engine (`crate::sim`, `crate::replay`, later live mode) feeds [`link::LinkAnalysis`]
//! and [`results::ResultsBuilder`] and hands an [`output::RunOutput`] to
//! `crate::report::write_results`; none computes a metric or writes a file of its own.

pub mod bank;
pub mod cluster;
pub mod distributions;
pub mod link;
pub mod output;
pub mod poisson;
pub mod qos;
pub mod replications;
pub mod results;
pub mod sampling;
pub mod stats;
pub mod tracker;
pub mod truth;

pub use bank::DetectorBank;
pub use qos::{QosAccumulator, QosReport};
pub use truth::GroundTruth;
