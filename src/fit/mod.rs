//! `fdlab fit`: a network model fitted to an arrival trace, per link, written as an
//! experiment that reproduces the trace's network (docs/fit.md).
//!
//! For each monitored link (monitor → target; links are never pooled: each gets its own
//! model, as an override in the experiment): the heartbeat interval and the sender's jitter
//! ([`loss::sequence`]), the delay distribution chosen by Kolmogorov–Smirnov distance among
//! constant, normal, lognormal with a floor, Pareto and the empirical distribution itself
//! ([`delay`]), the lag-1 autocorrelation of successive delays as the simulator's copula
//! `correlation`, loss as Bernoulli or the simple Gilbert model chosen by a likelihood-ratio
//! test ([`loss`]), duplication, reordering (→ `fifo`) and pause-like gaps, reported as
//! pauses and written as sender pauses rather than folded into loss.
//!
//! Delays need `sent_ns`; without it they are the arrival times' residuals from the
//! sequence-number schedule, relative to their minimum. Without `seq` the sequence numbers
//! are inferred from the arrival gaps. Every such weakness is a note in `fit.json`, in the
//! table and in the experiment file.
//!
//! The trace is held in memory (about 40 bytes a row): fitting needs every delay sorted.
//! Layer: above `report` (it writes its directory through [`crate::report`]'s writer).

pub mod delay;
pub mod loss;
pub mod model;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::report::{OutputError, write_dir_atomic};
use crate::trace::{TraceError, TraceReader};
use delay::{DelayFit, fit_delays, human_s, lag1, normal_scores};
use loss::{Beat, GapKind, LossFit, Pause, fit_gaps, sequence};

/// Heartbeats a link needs before anything can be fitted to it.
pub const MIN_ROWS: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum FitError {
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error("{path}: line {line}: {message}")]
    Bad { path: PathBuf, line: u64, message: String },
    #[error("{path}: {message}")]
    Unfit { path: PathBuf, message: String },
    #[error(transparent)]
    Output(#[from] OutputError),
}

/// How the sequence numbers were known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SeqSource {
    /// The trace's `seq` column.
    Trace,
    /// Inferred from the gaps between arrivals (no `seq` column).
    InferredFromGaps,
}

/// What the delays are measured from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DelayReference {
    /// received_ns − sent_ns, assuming the clocks share an origin.
    OneWay,
    /// received_ns − sent_ns minus its minimum (some were negative: the clocks' offset is
    /// unknown).
    OneWayRelativeToMinimum,
    /// received_ns − seq·interval minus its minimum (no `sent_ns`): the arrival jitter.
    ArrivalRelativeToMinimum,
}

/// Successive delays' dependence.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Autocorrelation {
    /// Pearson lag-1 autocorrelation of the delays in send order.
    pub lag1: f64,
    /// Lag-1 autocorrelation of their normal scores: the simulator's copula ρ.
    pub normal_score_rho: f64,
    /// √((1 − ρ²)/n) (Bartlett, for an AR(1)).
    pub rho_se: f64,
    /// What the experiment's `correlation` is set to: ρ when it is above 3/√n (significant)
    /// and positive (the simulator has no negative correlation), else 0; at most 0.99.
    pub correlation: f64,
}

/// One link's fitted model.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LinkFit {
    /// The monitor's name in the trace ("" without a `monitor` column).
    pub monitor: String,
    pub target: String,
    pub rows: u64,
    /// Distinct heartbeats (rows less duplicates).
    pub heartbeats: u64,
    pub seq_source: SeqSource,
    /// Whether times are from `sent_ns` (else `received_ns`).
    pub send_times: bool,
    pub interval_s: f64,
    /// Width of the sender's uniform jitter (from send times; `None` without them).
    pub jitter_s: Option<f64>,
    pub delay_reference: DelayReference,
    pub delay: DelayFit,
    pub autocorrelation: Autocorrelation,
    pub loss: LossFit,
    pub duplicates: u64,
    /// duplicates / heartbeats: the simulator's `duplicate`.
    pub duplicate_rate: f64,
    pub duplicate_rate_se: f64,
    /// Rows whose seq is below one received before in the same incarnation.
    pub reordered: u64,
    /// Written as `fifo`: true when the trace has sequence numbers and none was reordered.
    pub fifo: bool,
    pub pauses: Vec<Pause>,
    /// (last − first received) / (last − first sent) over the link's heartbeats: 1 when the
    /// clocks run at the same rate.
    pub clock_ratio: Option<f64>,
    /// Sender time (or received time) of the link's first heartbeat, s: the simulation's 0.
    pub start_s: f64,
    /// From the first heartbeat to the last, s.
    pub span_s: f64,
    pub notes: Vec<Note>,
    /// The delays, sorted, in ns, when the empirical distribution is chosen (written as
    /// `delays/link-<i>.csv`, not in fit.json).
    #[serde(skip)]
    pub empirical_delays_ns: Vec<u64>,
}

/// A caveat about a fit; `weak` ones say the model may not reproduce the trace.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Note {
    pub weak: bool,
    pub text: String,
}

/// `fit.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FitReport {
    pub fdlab_version: String,
    /// The trace as given on the command line.
    pub trace: String,
    /// The experiment written (`experiment.toml`) and its seed.
    pub experiment_name: String,
    pub seed: u64,
    pub rows: u64,
    /// Always false: every link gets its own model.
    pub pooled: bool,
    pub links: Vec<LinkFit>,
}

/// A row as fit keeps it.
#[derive(Clone, Copy, Debug)]
struct Row {
    received: u64,
    seq: Option<u64>,
    sent: Option<u64>,
    incarnation: u64,
    line: u64,
}

/// Reads `path` and fits every link.
pub fn fit_trace(path: &Path) -> Result<FitReport, FitError> {
    let mut reader = TraceReader::open(path)?;
    let (has_seq, has_sent) = (reader.has_seq(), reader.has_sent());
    let mut links: BTreeMap<(u32, u32), Vec<Row>> = BTreeMap::new();
    let mut total = 0u64;
    while let Some(row) = reader.next_row()? {
        total += 1;
        let a = row.arrival;
        let missing = |column: &str| FitError::Bad {
            path: path.to_path_buf(),
            line: row.line,
            message: format!("column `{column}` is empty; fit needs it in every row (or no `{column}` column at all)"),
        };
        if has_seq && a.seq.is_none() {
            return Err(missing("seq"));
        }
        if has_sent && a.sent.is_none() {
            return Err(missing("sent_ns"));
        }
        links.entry((row.monitor, row.target)).or_default().push(Row {
            received: a.at.0,
            seq: a.seq,
            sent: a.sent.map(|s| s.0),
            incarnation: a.incarnation.unwrap_or(0),
            line: row.line,
        });
    }
    if links.is_empty() {
        return Err(FitError::Unfit {
            path: path.to_path_buf(),
            message: format!("no heartbeats after the header; fit needs at least {MIN_ROWS} per link"),
        });
    }
    let mut fits = Vec::new();
    for ((monitor, target), rows) in links {
        let (monitor, target) = (reader.name(monitor).to_string(), reader.name(target).to_string());
        fits.push(fit_link(path, monitor, target, rows, has_seq, has_sent)?);
    }
    let stem = path.file_stem().map_or_else(|| "trace".into(), |s| s.to_string_lossy().into_owned());
    Ok(FitReport {
        fdlab_version: env!("CARGO_PKG_VERSION").into(),
        trace: path.display().to_string(),
        experiment_name: format!("{}-model", model::node_id(&stem)),
        seed: 1,
        rows: total,
        pooled: false,
        links: fits,
    })
}

/// `monitor→target`, as `run` and `replay` name a link.
fn link_name(monitor: &str, target: &str) -> String {
    // A trace without a `monitor` column: its monitor is `monitor` in the experiment too.
    if monitor.is_empty() { format!("monitor→{target}") } else { format!("{monitor}→{target}") }
}

fn fit_link(
    path: &Path,
    monitor: String,
    target: String,
    mut rows: Vec<Row>,
    has_seq: bool,
    has_sent: bool,
) -> Result<LinkFit, FitError> {
    let name = link_name(&monitor, &target);
    let unfit = |message: String| FitError::Unfit { path: path.to_path_buf(), message };
    if rows.len() < MIN_ROWS {
        return Err(FitError::Bad {
            path: path.to_path_buf(),
            line: rows[rows.len() - 1].line,
            message: format!(
                "link {name} has {} heartbeat{}; fit needs at least {MIN_ROWS} per link",
                rows.len(),
                if rows.len() == 1 { "" } else { "s" }
            ),
        });
    }
    let time = |r: &Row| r.sent.unwrap_or(r.received);
    let mut notes = Vec::new();
    let mut note = |weak: bool, text: String| notes.push(Note { weak, text });

    // Reordering, in received order.
    let mut reordered = 0u64;
    let mut highest: BTreeMap<u64, u64> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.seq.is_some()) {
        let h = highest.entry(r.incarnation).or_insert(0);
        let s = r.seq.unwrap_or(0);
        if s < *h {
            reordered += 1;
        }
        *h = (*h).max(s);
    }

    let seq_source = if has_seq {
        SeqSource::Trace
    } else {
        // Sequence numbers from the gaps: k intervals between two arrivals are k − 1 lost.
        rows.sort_by_key(|r| (time(r), r.line));
        let mut gaps: Vec<u64> = rows.windows(2).map(|w| time(&w[1]) - time(&w[0])).filter(|&g| g > 0).collect();
        gaps.sort_unstable();
        let Some(&typical) = gaps.get(gaps.len() / 2) else {
            return Err(unfit(format!("link {name}: every heartbeat has the same time; no interval can be seen")));
        };
        let mut seq = 0u64;
        for i in 0..rows.len() {
            if i > 0 {
                let dt = time(&rows[i]) - time(&rows[i - 1]);
                seq += ((dt as f64 / typical as f64).round() as u64).max(1);
            }
            rows[i].seq = Some(seq);
        }
        note(
            true,
            "no `seq` column: sequence numbers inferred from the gaps between arrivals (a gap of k intervals is \
             k − 1 losses); delay variation beyond half an interval reads as loss, and duplicates cannot be seen"
                .into(),
        );
        SeqSource::InferredFromGaps
    };
    // Cannot fail below: every row has a seq now.
    let seq = |r: &Row| r.seq.unwrap_or(0);
    rows.sort_by_key(|r| (r.incarnation, seq(r), r.received, r.line));

    let mut beats: Vec<Beat> = Vec::new();
    for r in &rows {
        if beats.last().is_some_and(|b| b.incarnation == r.incarnation && b.seq == seq(r)) {
            continue;
        }
        beats.push(Beat { incarnation: r.incarnation, seq: seq(r), time: time(r), line: r.line });
    }
    let duplicates = (rows.len() - beats.len()) as u64;
    let incarnations = beats.windows(2).filter(|w| w[0].incarnation != w[1].incarnation).count();
    if incarnations > 0 {
        note(
            true,
            format!(
                "{incarnations} restart(s) (a new incarnation): crashes are not fitted, and the time each target was \
                 down is left out of the loss; declare crashes as faults in the experiment"
            ),
        );
    }
    let Some(mut sequence) = sequence(&beats, has_sent) else {
        return Err(unfit(format!(
            "link {name}: no two heartbeats of one incarnation with increasing seq; the interval cannot be estimated"
        )));
    };
    let loss = fit_gaps(&mut sequence.gaps);
    let interval = sequence.interval;
    let pauses: Vec<Pause> = sequence
        .gaps
        .iter()
        .enumerate()
        .filter_map(|(i, g)| match g {
            Some(GapKind::Pause(evidence)) => Some(Pause {
                after_s: beats[i].time as f64 * 1e-9,
                silence_s: (beats[i + 1].time - beats[i].time) as f64 * 1e-9,
                line: beats[i + 1].line,
                evidence: *evidence,
                missing_seq: beats[i + 1].seq - beats[i].seq - 1,
            }),
            _ => None,
        })
        .collect();

    // Delays in send order.
    let (delays, reference): (Vec<f64>, DelayReference) = if has_sent {
        let raw: Vec<i128> = rows.iter().map(|r| r.received as i128 - r.sent.unwrap_or(0) as i128).collect();
        let min = raw.iter().copied().min().unwrap_or(0);
        if min < 0 {
            note(
                false,
                "some received_ns are earlier than their sent_ns: the clocks differ by an unknown offset, so \
                 delays are one-way delays relative to their minimum (add the true minimum as the delay's base \
                 if you know it)"
                    .into(),
            );
            (raw.iter().map(|d| (d - min) as f64).collect(), DelayReference::OneWayRelativeToMinimum)
        } else {
            note(
                false,
                "one-way delays are received_ns − sent_ns: this assumes the two clocks share an origin (an offset \
                 between them shifts every delay, which no trace shows)"
                    .into(),
            );
            (raw.iter().map(|&d| d as f64).collect(), DelayReference::OneWay)
        }
    } else {
        // Residuals from the schedule, relative to each incarnation's minimum.
        let residual = |r: &Row| r.received as i128 - seq(r) as i128 * interval as i128;
        let mut min_of: BTreeMap<u64, i128> = BTreeMap::new();
        for r in &rows {
            let m = min_of.entry(r.incarnation).or_insert(i128::MAX);
            *m = (*m).min(residual(r));
        }
        note(
            true,
            "no `sent_ns`: delays are the arrival times' residuals from the heartbeat schedule (received − \
             seq·interval) relative to their minimum: the delay's constant part is unknown (written as 0) and the \
             sender's jitter is part of them"
                .into(),
        );
        (
            rows.iter().map(|r| (residual(r) - min_of[&r.incarnation]) as f64).collect(),
            DelayReference::ArrivalRelativeToMinimum,
        )
    };
    let n = delays.len() as f64;
    let rho = lag1(&normal_scores(&delays));
    let rho_se = ((1.0 - rho * rho).max(0.0) / n).sqrt();
    let correlation = if rho > 3.0 / n.sqrt() { rho.min(0.99) } else { 0.0 };
    if rho < -3.0 / n.sqrt() {
        note(
            false,
            format!(
                "successive delays are negatively correlated (ρ = {rho:.3}); the simulator's correlation is ≥ 0, so 0 is written"
            ),
        );
    }
    let autocorrelation = Autocorrelation { lag1: lag1(&delays), normal_score_rho: rho, rho_se, correlation };
    let delay = fit_delays(&delays, correlation);
    if delay.chosen == "empirical" {
        let best = delay
            .candidates
            .iter()
            .filter(|c| c.dist != "empirical")
            .filter_map(|c| c.ks_distance.map(|d| (d, c.dist.as_str())))
            .min_by(|a, b| a.0.total_cmp(&b.0));
        note(
            false,
            format!(
                "no parametric delay model passed the KS test (best: {}, D = {:.4} > {:.4}); the experiment \
                 resamples the trace's delays",
                best.map_or("none", |b| b.1),
                best.map_or(f64::NAN, |b| b.0),
                delay.ks_critical
            ),
        );
    }
    if delays.len() < 100 {
        note(true, format!("only {} delays: every estimate is rough", delays.len()));
    }
    if loss.lost > 0 && loss.runs < 10 {
        note(true, format!("only {} loss runs: the loss model rests on little data", loss.runs));
    }
    if loss.chosen == loss::LossChoice::Gilbert {
        note(
            false,
            "loss is bursty: the simple Gilbert model (every heartbeat lost in the bad state, none in the good) \
             is fitted; the full Gilbert–Elliott model cannot be identified from loss run lengths"
                .into(),
        );
    }
    let by_length = pauses.iter().filter(|p| p.evidence == loss::PauseEvidence::RunLength).count();
    if by_length > 0 {
        note(
            true,
            format!(
                "{by_length} loss run(s) called pauses by their length alone: with sequence numbers that count send \
                 slots (fdlab's `skip` mode) a sender pause and a loss burst leave the same trace"
            ),
        );
    }
    let clock_ratio = has_sent.then(|| {
        let (first, last) = (&beats[0], &beats[beats.len() - 1]);
        let first_received = rows.iter().find(|r| r.line == first.line).map_or(0, |r| r.received);
        let last_received = rows.iter().find(|r| r.line == last.line).map_or(0, |r| r.received);
        let sent_span = last.time.saturating_sub(first.time);
        if sent_span == 0 { 1.0 } else { (last_received as f64 - first_received as f64) / sent_span as f64 }
    });
    if let Some(ratio) = clock_ratio.filter(|r| (r - 1.0).abs() > 1e-4) {
        note(
            true,
            format!(
                "the receiver's clock runs {:+.0} ppm against the sender's: delays drift over the trace, which \
                 the fitted distribution smears",
                (ratio - 1.0) * 1e6
            ),
        );
    }
    let empirical_delays_ns = if delay.chosen == "empirical" {
        let mut d: Vec<u64> = delays.iter().map(|&x| x as u64).collect();
        d.sort_unstable();
        d
    } else {
        Vec::new()
    };
    let duplicate_rate = duplicates as f64 / beats.len() as f64;
    let start = beats.iter().map(|b| b.time).min().unwrap_or(0);
    let end = beats.iter().map(|b| b.time).max().unwrap_or(0);
    Ok(LinkFit {
        monitor,
        target,
        rows: rows.len() as u64,
        heartbeats: beats.len() as u64,
        seq_source,
        send_times: has_sent,
        interval_s: interval as f64 * 1e-9,
        jitter_s: sequence.jitter.map(|j| j as f64 * 1e-9),
        delay_reference: reference,
        delay,
        autocorrelation,
        duplicates,
        duplicate_rate,
        duplicate_rate_se: (duplicate_rate * (1.0 - duplicate_rate).max(0.0) / beats.len() as f64).sqrt(),
        reordered,
        fifo: has_seq && reordered == 0,
        loss,
        pauses,
        clock_ratio,
        start_s: start as f64 * 1e-9,
        span_s: (end - start) as f64 * 1e-9,
        notes,
        empirical_delays_ns,
    })
}

impl FitReport {
    /// `fit.json`.
    pub fn to_json(&self) -> String {
        // Cannot fail: plain data (non-finite numbers are written as null).
        serde_json::to_string_pretty(self).expect("fit report serializes") + "\n"
    }

    /// The readable table.
    pub fn table(&self) -> String {
        let mut t = String::new();
        for l in &self.links {
            let times = if l.send_times { "sent_ns" } else { "received_ns" };
            t += &format!(
                "link {}: {} rows, {} heartbeats over {}; interval {} (from {times})",
                link_name(&l.monitor, &l.target),
                l.rows,
                l.heartbeats,
                human_s(l.span_s),
                human_s(l.interval_s)
            );
            if let Some(j) = l.jitter_s {
                t += &format!(", sender jitter {}", human_s(j));
            }
            t += "\n";
            let d = &l.delay;
            let reference = match l.delay_reference {
                DelayReference::OneWay => "one-way",
                DelayReference::OneWayRelativeToMinimum => "one-way, relative to the minimum",
                DelayReference::ArrivalRelativeToMinimum => "arrival jitter, relative to the minimum",
            };
            t += &format!(
                "  delay ({reference}; n = {}): p50 {}  p90 {}  p99 {}  max {}\n",
                d.n,
                human_s(d.p50_s),
                human_s(d.p90_s),
                human_s(d.p99_s),
                human_s(d.max_s)
            );
            t += &format!("    {:<11} {:<52} {:>9}\n", "candidate", "parameters", "KS");
            for c in &d.candidates {
                let mark = if c.chosen { "*" } else { " " };
                let params = match (&c.params, &c.not_applicable) {
                    (_, Some(why)) => format!("n/a: {why}"),
                    (Some(p), None) => p.describe(),
                    (None, None) => String::new(),
                };
                let ks = c.ks_distance.map_or("-".into(), |d| format!("{d:.4}"));
                let ks = if c.dist == "empirical" { format!("{ks} (halves)") } else { ks };
                t += &format!("  {mark} {:<11} {:<52} {:>9}\n", c.dist, params, ks);
            }
            t += &format!(
                "    KS critical value (5 %, n_eff = {:.0}): {:.4}; chosen: {}\n",
                d.n_effective, d.ks_critical, d.chosen
            );
            let a = &l.autocorrelation;
            t += &format!(
                "  autocorrelation: lag-1 {:.3}, normal-score ρ {:.3} ± {:.3} → correlation = {:.3}\n",
                a.lag1, a.normal_score_rho, a.rho_se, a.correlation
            );
            let s = &l.loss;
            t += &format!(
                "  loss: {:.4} % ± {:.4} ({} of {}), {} runs, longest {}; bernoulli p = {:.5}; gilbert p = {:.5}, \
                 r = {:.4} (mean burst {}); LR = {:.2} (p = {:.2e}) → {}\n",
                s.rate * 100.0,
                s.rate_se * 100.0,
                s.lost,
                s.expected,
                s.runs,
                s.longest_run,
                s.bernoulli.p,
                s.gilbert.p,
                s.gilbert.r,
                s.gilbert.mean_burst.map_or("-".into(), |b| format!("{b:.2}")),
                s.lr_statistic,
                s.lr_p_value,
                match s.chosen {
                    loss::LossChoice::None => "none",
                    loss::LossChoice::Bernoulli => "bernoulli",
                    loss::LossChoice::Gilbert => "gilbert",
                }
            );
            t += &format!(
                "  duplicates: {} ({:.4} %); reordered: {} → fifo = {}\n",
                l.duplicates,
                l.duplicate_rate * 100.0,
                l.reordered,
                l.fifo
            );
            for p in &l.pauses {
                let how = match p.evidence {
                    loss::PauseEvidence::SendGap => "a gap in send times",
                    loss::PauseEvidence::RunLength => "an improbably long loss run",
                };
                t += &format!(
                    "  pause: silence of {} after {} (line {}; {how}, {} seq missing)\n",
                    human_s(p.silence_s),
                    human_s(p.after_s),
                    p.line,
                    p.missing_seq
                );
            }
            for n in &l.notes {
                t += &format!("  {}: {}\n", if n.weak { "weak" } else { "note" }, n.text);
            }
        }
        t
    }
}

/// Where `fdlab fit TRACE` writes by default: `results/<trace file stem>-fit`.
pub fn default_out_dir(trace: &Path) -> PathBuf {
    let stem = trace.file_stem().map_or_else(|| "trace".into(), |s| s.to_string_lossy().into_owned());
    Path::new("results").join(format!("{stem}-fit"))
}

/// The experiment file's name in the output directory.
pub const EXPERIMENT_FILE: &str = "experiment.toml";

/// Fits `trace` and writes `out` (`fit.json`, `experiment.toml`, and `delays/*.csv` for
/// empirical delays) through the results writer: all of it or nothing, never over what
/// fdlab did not write. The experiment is validated before anything is written.
pub fn fit_to_dir(trace: &Path, out: &Path) -> Result<FitReport, FitError> {
    crate::report::check_outside(trace, out, "the input trace")?;
    crate::report::check_replaceable(out)?;
    let report = fit_trace(trace)?;
    let written = model::experiment_files(&report, &out.join(EXPERIMENT_FILE))
        .map_err(|message| FitError::Unfit { path: trace.to_path_buf(), message })?;
    let mut files = vec![(PathBuf::from("fit.json"), report.to_json().into_bytes())];
    files.extend(written);
    write_dir_atomic(out, &files)?;
    Ok(report)
}
