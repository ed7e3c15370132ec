//! What an engine hands the writer (`crate::report::write_results`): the summary and
//! whatever else the engine could observe. Engine-neutral: the simulator fills every part,
//! replay the parts a trace can give, live mode its own.

use hdrhistogram::Histogram;

use super::results::SummaryFile;
use crate::time::Nanos;
use crate::trace::spill::TraceSpill;

/// Everything a run produces for its results directory.
pub struct RunOutput {
    pub summary: SummaryFile,
    /// One-way delay of accepted heartbeats (ns), all links; `None` where it is not known
    /// (a trace without `sent_ns`, or whose hosts' clocks differ).
    pub delay: Option<Histogram<u64>>,
    /// Inter-arrival time of accepted heartbeats (ns), all links.
    pub interarrival: Option<Histogram<u64>>,
    /// The delivered arrivals, when recorded: [`TraceSpill::rows`] reads them back in
    /// received order.
    pub trace: Option<TraceSpill>,
    /// Heartbeats handed to the detectors, all links.
    pub deliveries: u64,
    /// The injected faults with levels sampled around them, for the timeline chart (the
    /// simulator's).
    pub timeline: Option<FaultTimeline>,
    /// Every node's belief around the longest split-brain episode (`[cluster]` runs with one).
    pub leaders: Option<super::cluster::timeline::LeaderTimeline>,
    /// Each message workload's delivery latency (first send to first application, ns), by
    /// name, in file order (the simulator's).
    pub workload_latency: Vec<(String, Histogram<u64>)>,
}

/// The faults an engine sampled the levels around, with the samples.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultTimeline {
    pub faults: Vec<FaultView>,
    /// Sampled levels, ordered by fault window and time.
    pub levels: Vec<LevelSample>,
    /// (fault view id, real arrival time) of heartbeats on the sampled links, ordered.
    pub arrivals: Vec<(usize, Nanos)>,
}

/// An injected fault as the timeline chart shows it: one representative monitored link,
/// the fault's window and the sampled view around it (seconds, real time).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct FaultView {
    pub id: usize,
    pub kind: String,
    pub node: Option<String>,
    pub monitor: String,
    pub target: String,
    pub from_s: f64,
    /// `null` for a crash without recovery.
    pub to_s: Option<f64>,
    pub view_from_s: f64,
    pub view_to_s: f64,
}

/// One sampled level: a row of every level file (`timeline/levels.csv` of a simulation,
/// `levels.csv` of a replay), whose one schema is [`LEVELS_HEADER`].
#[derive(Clone, Debug, PartialEq)]
pub struct LevelSample {
    /// The fault view the sample belongs to (a simulation's timeline), or `None` for
    /// periodic samples (a replay's `--every`).
    pub fault: Option<usize>,
    /// Real time (a simulation) or the trace's time (a replay).
    pub at: Nanos,
    /// Empty where a trace names no monitor.
    pub monitor: String,
    pub target: String,
    pub detector: String,
    pub level: f64,
    pub threshold: f64,
    pub suspected: bool,
}

/// The header of every level file.
pub const LEVELS_HEADER: &str = "fault,time_ns,monitor,target,detector,level,threshold,suspected\n";

impl LevelSample {
    /// The sample as a row to write.
    pub fn row(&self) -> LevelRow<'_> {
        LevelRow {
            fault: self.fault,
            at: self.at,
            monitor: &self.monitor,
            target: &self.target,
            detector: &self.detector,
            level: self.level,
            threshold: self.threshold,
            suspected: self.suspected,
        }
    }
}

/// A [`LevelSample`] borrowed, as written (a replay streams millions without building one).
#[derive(Clone, Copy, Debug)]
pub struct LevelRow<'a> {
    pub fault: Option<usize>,
    pub at: Nanos,
    pub monitor: &'a str,
    pub target: &'a str,
    pub detector: &'a str,
    pub level: f64,
    pub threshold: f64,
    pub suspected: bool,
}

impl LevelRow<'_> {
    /// Writes the row under [`LEVELS_HEADER`].
    pub fn write(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        use crate::trace::csv_field;
        match self.fault {
            Some(f) => write!(out, "{f},")?,
            None => out.write_all(b",")?,
        }
        writeln!(
            out,
            "{},{},{},{},{},{},{}",
            self.at.0,
            csv_field(self.monitor),
            csv_field(self.target),
            csv_field(self.detector),
            self.level,
            self.threshold,
            self.suspected
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows as the level files hold them: the fault or an empty field, labels with commas
    /// quoted, levels as Rust prints them (infinite included), one row a line.
    #[test]
    fn level_rows_are_written_under_the_header() {
        let sample = LevelSample {
            fault: Some(3),
            at: Nanos(1_500_000_001),
            monitor: "a".into(),
            target: "b".into(),
            detector: "phi:threshold=8,window=100".into(),
            level: f64::INFINITY,
            threshold: 8.0,
            suspected: true,
        };
        let periodic =
            LevelSample { fault: None, monitor: String::new(), level: 0.25, suspected: false, ..sample.clone() };
        let mut out = Vec::new();
        sample.row().write(&mut out).unwrap();
        periodic.row().write(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "3,1500000001,a,b,\"phi:threshold=8,window=100\",inf,8,true\n\
             ,1500000001,,b,\"phi:threshold=8,window=100\",0.25,8,false\n"
        );
        assert_eq!(LEVELS_HEADER.matches(',').count(), 7, "eight fields a row, as written");
    }
}
