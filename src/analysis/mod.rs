//! From detector answers to exact QoS metrics (Chen, Toueg, Aguilera; REFERENCES.md §1).
//!
//! - [`tracker`] turns `suspect_at` answers at each arrival into exact suspicion intervals;
//!   nothing is sampled.
//! - [`truth`] is what the engine knows: when each target was down.
//! - [`qos`] classifies each suspicion interval against the truth (mistake, detection,
//!   censored) and accumulates the distributions.
//! - [`bank`] runs every configured detector for one monitored link over one arrival
//!   stream, sharing detector state across thresholds where the detector allows it.
//! - [`poisson`] computes the exact (Garwood) Poisson confidence bounds for mistake rates.
//! - [`stats`] holds the distribution summaries and re-exports the Poisson intervals.
//!
//! The engines (`crate::replay`, later the simulator and live mode) feed arrivals into a
//! [`bank::DetectorBank`] and read back [`qos::QosReport`]s.

pub mod bank;
pub mod poisson;
pub mod qos;
pub mod results;
pub mod sampling;
pub mod stats;
pub mod tracker;
pub mod truth;

pub use bank::DetectorBank;
pub use qos::{QosAccumulator, QosReport};
pub use truth::GroundTruth;
