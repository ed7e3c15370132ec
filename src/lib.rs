//! fdlab: a failure-detector and timeout testbed.
//!
//! Heartbeat senders and pluggable failure detectors run against injected delays, losses,
//! pauses, partitions and crashes; fdlab measures the false suspicions that cause split
//! brain, the time to detect a real crash, and the latency behind both.
//!
//! Module map (DESIGN.md §4):
//! - [`time`]: `Nanos`, integer nanoseconds, and human durations (`250ms`, `1.5s`).
//! - [`detector`]: the clock-free [`detector::Detector`] trait, specs, one file per detector.
//! - [`trace`]: the arrival-trace CSV, read and written.
//! - [`analysis`]: exact suspicion intervals from `suspect_at`, ground truth, QoS metrics.
//! - [`experiment`]: the experiment file schema and its validation.
//! - [`fault`]: delay and loss models, and the fault timeline (crashes, pauses, partitions…).
//! - [`sim`]: the deterministic simulator (virtual time, one thread per monitor).
//! - [`replay`]: the replay engine (a trace through any detectors).
//! - [`report`]: `summary.json`, the readable table, `.hgrm` percentile files, charts
//!   (`report::charts`, one file per chart, drawn from the results files) and `report.html`;
//!   atomic file writes.
//!
//! Data flows one way: an engine (`sim` or `replay`) feeds arrivals to
//! [`analysis::DetectorBank`]s, whose exact QoS reports become files in a results directory,
//! from which charts and the report are drawn.

pub mod analysis;
pub mod detector;
pub mod experiment;
pub mod fault;
pub mod replay;
pub mod report;
pub mod sim;
pub mod time;
pub mod trace;

pub use detector::{Arrival, Detector, DetectorSpec};
pub use time::Nanos;
