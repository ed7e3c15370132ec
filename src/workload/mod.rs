//! The seed's link layer (REFERENCES.md §5, §7): operations sent over simulated links by
//! fair-loss, stubborn, perfect and FIFO-perfect links, retransmission timeouts, exactly-once
//! processing across session breaks, and the two generals.
//!
//! - [`rto`]: retransmission timeout policies, fixed and RFC 6298.
//! - [`spec`]: a `[[workloads]]` entry as experiment files declare it, and its checks.
//! - [`engine`]: the closed-loop client/server simulation and its ground truth.
//! - [`report`]: the counts it reports (`summary.json`'s `workloads`).
//! - [`generals`]: the two generals' depth-k chain, simulated beside its closed forms.
//!
//! This layer sits between `fault` (whose models it uses) and `experiment` (whose schema
//! declares workloads with [`spec::WorkloadDecl`]); the simulator wires experiments to it.

pub mod engine;
pub mod generals;
pub mod report;
pub mod rto;
pub mod spec;

pub use report::WorkloadReport;
pub use spec::{AfterBreak, Dedup, Operation, Protocol, WorkloadDecl};
