//! `fdlab fit` against known models: traces simulated from an experiment whose network is
//! known, fitted, and the experiment the fit writes simulated again.
//!
//! Tolerances come from the sample size, never from watching the test pass: each is four
//! standard errors (a false failure about once in 16 000 per comparison), with the standard
//! error derived in a comment where it is used. A fitted model simulated again differs from
//! the trace by the trace's own sampling noise twice over (once in the fitted parameters,
//! once in the trace's sample statistic) and by the new run's: √3 standard errors of one
//! sample, bounded by 4·√3 SE.

use std::path::{Path, PathBuf};

use fdlab::experiment::Experiment;
use fdlab::fault::delay::DelayModel;
use fdlab::fault::loss::LossModel;
use fdlab::fit::delay::{DelayParams, lognormal_standard_errors};
use fdlab::fit::loss::{LossChoice, PauseEvidence};
use fdlab::fit::{DelayReference, FitReport, LinkFit, SeqSource, fit_trace};
use statrs::distribution::{ContinuousCDF, Normal};

mod common;
use common::{arg, fdlab, stderr};

/// Four standard errors.
const K: f64 = 4.0;

/// An experiment of one link, b watching a, with `network` as its `[network]` table and
/// `extra` appended (faults).
fn experiment(duration: &str, jitter: &str, network: &str, extra: &str) -> String {
    format!(
        "name = \"known\"\nseed = 7\nduration = \"{duration}\"\ndetectors = [\"fixed:timeout=1s\"]\n\
         [defaults]\ninterval = \"100ms\"\njitter = \"{jitter}\"\n[[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n\
         [monitoring]\nmode = \"pairs\"\npairs = [[\"b\", \"a\"]]\n[network]\n{network}\n{extra}"
    )
}

/// Runs the experiment file at `file` with `--trace` into `dir/<name>` and gives the trace.
fn simulate(file: &Path, dir: &Path, name: &str) -> PathBuf {
    let out = dir.join(name);
    let o = fdlab(&["run", arg(file), "--trace", "--no-charts", "--threads", "1", "--out", arg(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    out.join("trace.csv")
}

/// Fits `trace` with the binary into `dir/<name>`; gives fit.json read back (typed) and the
/// experiment written.
fn fit(trace: &Path, dir: &Path, name: &str) -> (FitReport, PathBuf) {
    let out = dir.join(name);
    let o = fdlab(&["fit", arg(trace), "--out", arg(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: FitReport = serde_json::from_slice(&std::fs::read(out.join("fit.json")).unwrap()).unwrap();
    (report, out.join("experiment.toml"))
}

/// Simulates `text`, fits its trace, validates and simulates the fitted experiment, and
/// fits that trace too: (first fit, the fitted experiment's path, the re-simulation's fit).
fn round_trip(text: &str, dir: &Path) -> (LinkFit, PathBuf, LinkFit) {
    let file = common::write(dir, "known.toml", text);
    let trace = simulate(&file, dir, "run");
    let (report, fitted) = fit(&trace, dir, "fit");
    let o = fdlab(&["validate", arg(&fitted)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let again = simulate(&fitted, dir, "rerun");
    let refit = fit_trace(&again).unwrap();
    assert_eq!(report.links.len(), 1);
    (report.links[0].clone(), fitted, refit.links[0].clone())
}

fn link(fitted: &Path) -> fdlab::experiment::LinkSettings {
    let e = Experiment::load(fitted).unwrap();
    e.network.links[0].settings.clone()
}

fn chosen(l: &LinkFit) -> DelayParams {
    l.delay.candidates.iter().find(|c| c.chosen).unwrap().params.clone().unwrap()
}

#[test]
fn lognormal_delay_and_bernoulli_loss_are_recovered_and_reproduced() {
    let dir = tempfile::tempdir().unwrap();
    let (base, median, sigma, p) = (500_000.0, 2_000_000.0, 0.5, 0.02);
    let network = "delay = { dist = \"lognormal\", median = \"2ms\", sigma = 0.5, base = \"500us\" }\n\
                   loss = { model = \"bernoulli\", p = 0.02 }";
    let (l, fitted, again) = round_trip(&experiment("1h", "2ms", network, ""), dir.path());
    let n = l.delay.n as f64;
    // 36 000 slots less 2 % lost.
    assert!((34_000.0..36_000.0).contains(&n), "{n}");
    assert_eq!((l.seq_source, l.delay_reference), (SeqSource::Trace, DelayReference::OneWay));
    assert_eq!(l.interval_s, 0.1);
    // Jitter: uniform on [0, J), J = 2 ms; the estimate is half the range of the differences
    // of successive jitters, triangular on (−J, J). P(a difference within ε of J) =
    // ε²/(2J²), so with n pairs the largest misses J by more than ε = J·√(20/n) with
    // probability e^−10; the estimate is rounded to the microsecond.
    let j = l.jitter_s.unwrap();
    assert!((j - 0.002).abs() <= 0.002 * (20.0 / n).sqrt() + 1e-6, "{j}");

    // The delay: lognormal chosen, its three parameters within 4 SE of the truth, the SE by
    // the delta method from the sample quantiles' asymptotic covariance at the true model
    // (lognormal_standard_errors; n independent delays).
    assert_eq!(l.delay.chosen, "lognormal");
    let [base_se, median_se, sigma_se] = lognormal_standard_errors(base, median, sigma, n);
    let DelayParams::Lognormal { base_s, median_s, sigma: s, .. } = chosen(&l) else { panic!() };
    assert!((base_s * 1e9 - base).abs() < K * base_se, "base {base_s} ± {base_se}");
    assert!((median_s * 1e9 - median).abs() < K * median_se, "median {median_s} ± {median_se}");
    assert!((s - sigma).abs() < K * sigma_se, "σ {s} ± {sigma_se}");
    // Every other parametric candidate is farther from the sample.
    let ks = |name: &str| l.delay.candidates.iter().find(|c| c.dist == name).unwrap().ks_distance.unwrap();
    assert!(ks("lognormal") < l.delay.ks_critical);
    for other in ["constant", "normal", "pareto"] {
        assert!(ks(other) > ks("lognormal"), "{other}");
    }
    // Independent delays: ρ̂ has SE 1/√n, and 0 is written.
    assert!(l.autocorrelation.normal_score_rho.abs() < K / n.sqrt());
    assert_eq!(l.autocorrelation.correlation, 0.0);

    // Loss: Bernoulli kept (the LR test rejects it at 5 % only by chance), p̂ within 4 binomial
    // SE √(p(1 − p)/N) of p.
    let big_n = l.loss.expected as f64;
    let se_p = (p * (1.0 - p) / big_n).sqrt();
    assert!((l.loss.bernoulli.p - p).abs() < K * se_p, "{}", l.loss.bernoulli.p);
    assert_eq!(l.loss.chosen, LossChoice::Bernoulli);
    assert!(l.pauses.is_empty(), "{:?}", l.pauses);
    assert_eq!((l.duplicates, l.reordered, l.fifo), (0, 0, true));

    // The experiment written says so.
    let settings = link(&fitted);
    assert!(matches!(settings.loss, Some(LossModel::Bernoulli { p }) if (p - l.loss.bernoulli.p).abs() < 1e-12));
    assert!(matches!(settings.delay, Some(DelayModel::Lognormal { sigma, .. }) if sigma == s));
    let e = Experiment::load(&fitted).unwrap();
    assert_eq!(e.duration, fdlab::Nanos::from_secs(3600));
    assert!(e.description.contains("fitted by fdlab fit from trace.csv"), "{}", e.description);
    assert!(e.description.ends_with(" heartbeats on 1 link)"), "{}", e.description);

    // Simulated, it reproduces the trace: each percentile within 4·√3 SE, the SE of a sample
    // p-quantile being √(p(1 − p)/n)/f(q_p), f(q) = φ(z_p)/(σ (q − base)) the true density.
    for (p, got, want) in [
        (0.5, again.delay.p50_s, l.delay.p50_s),
        (0.9, again.delay.p90_s, l.delay.p90_s),
        (0.99, again.delay.p99_s, l.delay.p99_s),
    ] {
        let z = Normal::new(0.0, 1.0).unwrap().inverse_cdf(p);
        let q = base + median * (sigma * z).exp();
        let density = (-z * z / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt() / (sigma * (q - base));
        let se = (p * (1.0 - p) / n).sqrt() / density * 1e-9;
        assert!((got - want).abs() < K * 3f64.sqrt() * se, "p{p}: {got} vs {want} (SE {se})");
    }
    assert!((again.loss.rate - l.loss.rate).abs() < K * 3f64.sqrt() * se_p, "{} vs {}", again.loss.rate, l.loss.rate);
    assert_eq!(again.interval_s, 0.1);
}

#[test]
fn bursty_loss_is_fitted_as_gilbert_and_a_constant_delay_as_constant() {
    let dir = tempfile::tempdir().unwrap();
    // netem's Gilbert: p = 0.01 good → bad, r = 0.25 bad → good: mean bursts of 4, 3.8 % lost.
    let (p, r) = (0.01, 0.25);
    let network =
        "delay = { dist = \"constant\", value = \"2ms\" }\nloss = { model = \"gilbert-elliott\", p = 0.01, r = 0.25 }";
    let (l, fitted, again) = round_trip(&experiment("2h", "0", network, ""), dir.path());
    // The delay is exactly 2 ms, every candidate but the constant one inapplicable.
    assert_eq!(l.delay.chosen, "constant");
    assert_eq!(chosen(&l), DelayParams::Constant { value_s: 0.002 });
    assert_eq!(l.delay.candidates.iter().find(|c| c.dist == "constant").unwrap().ks_distance, Some(0.0));
    assert!(l.delay.candidates.iter().filter(|c| c.not_applicable.is_some()).count() >= 2);
    assert!(
        matches!(link(&fitted).delay, Some(DelayModel::Constant { value }) if value == fdlab::Nanos::from_millis(2))
    );
    assert_eq!(l.jitter_s, Some(0.0));

    // Gilbert chosen, decisively: the LR statistic of bursts of 4 is in the hundreds.
    assert_eq!(l.loss.chosen, LossChoice::Gilbert);
    assert!(l.loss.lr_p_value < 1e-6, "{}", l.loss.lr_p_value);
    // p̂ and r̂ are transition frequencies: binomial SE √(p(1 − p)/m), m the transitions out of
    // the state (received, lost).
    let t = l.loss.transitions;
    let se = |x: f64, m: u64| (x * (1.0 - x) / m as f64).sqrt();
    let from_good = t.received_received + t.received_lost;
    let from_bad = t.lost_lost + t.lost_received;
    assert!((l.loss.gilbert.p - p).abs() < K * se(p, from_good), "p {}", l.loss.gilbert.p);
    assert!((l.loss.gilbert.r - r).abs() < K * se(r, from_bad), "r {}", l.loss.gilbert.r);
    assert!(l.pauses.is_empty(), "{:?}", l.pauses);
    assert!(matches!(link(&fitted).loss, Some(LossModel::GilbertElliott { h, k, .. }) if h == 0.0 && k == 1.0));

    // Re-simulated: Gilbert again, the same loss rate and burst length within 4·√3 SE. The
    // loss rate's SE under bursts: the losses L are the sum of B geometric burst lengths
    // (CV² = 1 − r) over a renewal count B whose CV² is about 1 (good periods dominate the
    // cycle and are geometric), so Var(L)/L² ≈ (1 − r)/B + 1/B ≤ 2/B: SE ≈ rate·√(2/B).
    assert_eq!(again.loss.chosen, LossChoice::Gilbert);
    let rate_se = l.loss.rate * (2.0 / l.loss.runs as f64).sqrt();
    assert!(
        (again.loss.rate - l.loss.rate).abs() < K * 3f64.sqrt() * rate_se,
        "{} vs {}",
        again.loss.rate,
        l.loss.rate
    );
    assert!((again.loss.gilbert.r - l.loss.gilbert.r).abs() < K * 3f64.sqrt() * se(r, from_bad));
    assert_eq!(again.delay.chosen, "constant");
    assert_eq!(again.delay.p99_s, 0.002);
}

#[test]
fn normal_delay_correlated_and_no_loss() {
    let dir = tempfile::tempdir().unwrap();
    let rho = 0.6;
    let network = "delay = { dist = \"normal\", mean = \"20ms\", sd = \"3ms\" }\ncorrelation = 0.6\nfifo = false";
    let (l, fitted, again) = round_trip(&experiment("1h", "0", network, ""), dir.path());
    let n = l.delay.n as f64;
    // No loss at all: none chosen, none written, none re-simulated.
    assert_eq!((l.loss.lost, l.loss.runs, l.loss.chosen), (0, 0, LossChoice::None));
    assert_eq!(l.heartbeats, 36_000);
    assert!(matches!(link(&fitted).loss, Some(LossModel::None)));
    assert_eq!(again.loss.lost, 0);
    // The copula's ρ: the lag-1 autocorrelation of an AR(1) has SE √((1 − ρ²)/n) (Bartlett).
    let rho_se = ((1.0 - rho * rho) / n).sqrt();
    assert!((l.autocorrelation.normal_score_rho - rho).abs() < K * rho_se, "{:?}", l.autocorrelation);
    assert_eq!(link(&fitted).correlation, Some(l.autocorrelation.correlation));
    assert!((again.autocorrelation.normal_score_rho - rho).abs() < K * 3f64.sqrt() * rho_se);
    // Normal chosen; mean and sd within 4 SE, inflated for the correlation: the mean of an
    // AR(1) has variance σ²/n·(1 + ρ)/(1 − ρ), the variance (1 + ρ²)/(1 − ρ²) times 2σ⁴/n.
    assert_eq!(l.delay.chosen, "normal");
    let DelayParams::Normal { mean_s, sd_s, .. } = chosen(&l) else { panic!() };
    let mean_se = 0.003 / n.sqrt() * ((1.0 + rho) / (1.0 - rho)).sqrt();
    let sd_se = 0.003 / (2.0 * n).sqrt() * ((1.0 + rho * rho) / (1.0 - rho * rho)).sqrt();
    assert!((mean_s - 0.020).abs() < K * mean_se, "{mean_s}");
    assert!((sd_s - 0.003).abs() < K * sd_se, "{sd_s}");
    // The effective sample size shrinks the KS test's power accordingly.
    assert!(
        (l.delay.n_effective - n * (1.0 - l.autocorrelation.correlation) / (1.0 + l.autocorrelation.correlation)).abs()
            < 1.0
    );
}

/// A trace whose sender numbers heartbeats by a counter: 100 ms apart, delays 1–2 ms in a
/// fixed pattern, every 50th heartbeat lost, and a 3 s stall after seq 500 (send times jump,
/// no sequence number is missing).
fn counter_trace(with_sent: bool) -> String {
    counter_trace_from(with_sent, 0)
}

/// [`counter_trace`] with every time `offset` ns later.
fn counter_trace_from(with_sent: bool, offset: u64) -> String {
    let mut text =
        String::from(if with_sent { "target,received_ns,seq,sent_ns\n" } else { "target,received_ns,seq\n" });
    for seq in 0..1200u64 {
        if seq % 50 == 7 {
            continue;
        }
        let sent = offset + seq * 100_000_000 + if seq > 500 { 3_000_000_000 } else { 0 };
        let received = sent + 1_000_000 + (seq * 7919 % 1000) * 1000;
        if with_sent {
            text += &format!("a,{received},{seq},{sent}\n");
        } else {
            text += &format!("a,{received},{seq}\n");
        }
    }
    text
}

#[test]
fn a_stall_of_a_counting_sender_is_a_pause_by_its_send_times_not_loss() {
    let dir = tempfile::tempdir().unwrap();
    let trace = common::write(dir.path(), "stall.csv", &counter_trace(true));
    let (report, fitted) = fit(&trace, dir.path(), "fit");
    let l = &report.links[0];
    assert_eq!(l.pauses.len(), 1, "{:?}", l.pauses);
    let pause = &l.pauses[0];
    assert_eq!(pause.evidence, PauseEvidence::SendGap);
    assert_eq!(pause.missing_seq, 0);
    assert!((pause.silence_s - 3.1).abs() < 1e-9 && (pause.after_s - 50.0).abs() < 1e-9, "{pause:?}");
    // Seq 501 is on line 2 + 501 − 10 (ten of seq 0..=500 are missing: 7, 57, …, 457).
    assert_eq!(pause.line, 2 + 501 - 10);
    // Loss is the 24 single losses only (1200 slots, 1 in 50), Bernoulli.
    assert_eq!((l.loss.lost, l.loss.runs, l.loss.longest_run), (24, 24, 1));
    assert_eq!(l.loss.chosen, LossChoice::Bernoulli);
    assert_eq!(l.interval_s, 0.1);
    // Written as a sender pause half an interval after the last heartbeat, for the silence
    // less one interval.
    let e = Experiment::load(&fitted).unwrap();
    let faults = serde_json::to_value(&e.faults).unwrap();
    assert_eq!(faults.as_array().unwrap().len(), 1);
    assert_eq!(faults[0]["kind"], "pause");
    assert_eq!(faults[0]["what"], "sender");
    assert_eq!(faults[0]["at"], "50050ms");
    assert_eq!(faults[0]["duration"], "3s");
    // In the simulation's time, whenever the trace began: the same trace 1000 s later
    // gives the same fault.
    let later = common::write(dir.path(), "stall-later.csv", &counter_trace_from(true, 1_000_000_000_000));
    let (_, fitted_later) = fit(&later, dir.path(), "fit-later");
    let faults_later = serde_json::to_value(&Experiment::load(&fitted_later).unwrap().faults).unwrap();
    assert_eq!(faults_later, faults);
    // Without send times the same stall cannot be seen as one: no pause, and the note says
    // the delays are arrival residuals.
    let trace = common::write(dir.path(), "stall-unsent.csv", &counter_trace(false));
    let l = &fit_trace(&trace).unwrap().links[0];
    assert!(l.pauses.is_empty());
    assert_eq!(l.delay_reference, DelayReference::ArrivalRelativeToMinimum);
    assert!(l.notes.iter().any(|n| n.weak && n.text.contains("no `sent_ns`")));
}

/// Two monitors see the same two stalls of one target: each becomes one sender pause of
/// the target (the two links' windows are the same and merged), not one per link.
#[test]
fn a_targets_pause_seen_by_two_monitors_is_written_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("monitor,target,received_ns,seq,sent_ns\n");
    for seq in 0..1500u64 {
        let stalls = u64::from(seq > 500) + u64::from(seq > 1000);
        let sent = seq * 100_000_000 + stalls * 3_000_000_000;
        text += &format!("m1,a,{},{seq},{sent}\nm2,a,{},{seq},{sent}\n", sent + 1_000_000, sent + 2_000_000);
    }
    let trace = common::write(dir.path(), "two.csv", &text);
    let (report, fitted) = fit(&trace, dir.path(), "fit");
    assert_eq!(report.links.len(), 2);
    assert!(report.links.iter().all(|l| l.pauses.len() == 2), "{:?}", report.links[0].pauses);
    let e = Experiment::load(&fitted).unwrap();
    let faults = serde_json::to_value(&e.faults).unwrap();
    let windows: Vec<(&str, &str, &str)> = faults
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["node"].as_str().unwrap(), f["at"].as_str().unwrap(), f["duration"].as_str().unwrap()))
        .collect();
    // After seq 500 (50 s) and after seq 1000 (100 s of slots plus the first stall's 3 s).
    assert_eq!(windows, [("a", "50050ms", "3s"), ("a", "103050ms", "3s")]);
    // The nodes: only the target has an interval of its own; nothing was duplicated.
    let ids: Vec<(&str, Option<fdlab::Nanos>)> = e.nodes.iter().map(|n| (n.id.as_str(), n.settings.interval)).collect();
    assert_eq!(ids, [("a", Some(fdlab::Nanos::from_millis(100))), ("m1", None), ("m2", None)]);
    assert!(!std::fs::read_to_string(&fitted).unwrap().contains("duplicate"));
}

#[test]
fn a_pause_in_skip_mode_is_told_from_loss_by_its_length() {
    let dir = tempfile::tempdir().unwrap();
    let p = 0.01;
    let network =
        "delay = { dist = \"lognormal\", median = \"2ms\", sigma = 0.3 }\nloss = { model = \"bernoulli\", p = 0.01 }";
    let pause = "[[faults]]\nkind = \"pause\"\nnode = \"a\"\nwhat = \"sender\"\nat = \"30m\"\nduration = \"5s\"";
    let (l, fitted, again) = round_trip(&experiment("1h", "0", network, pause), dir.path());
    assert_eq!(l.pauses.len(), 1, "{:?}", l.pauses);
    let found = &l.pauses[0];
    assert_eq!(found.evidence, PauseEvidence::RunLength);
    // Slots 18 000 to 18 049 skipped: 50 missing, silence 5.1 s (plus any loss next to it).
    assert!((50..=53).contains(&found.missing_seq), "{found:?}");
    assert!((found.after_s - 1799.9).abs() < 0.31, "{found:?}");
    // The loss estimate leaves it out: p̂ within 4 binomial SE of p.
    let se = (p * (1.0 - p) / l.loss.expected as f64).sqrt();
    assert!((l.loss.bernoulli.p - p).abs() < K * se, "{}", l.loss.bernoulli.p);
    assert_eq!(l.loss.chosen, LossChoice::Bernoulli);
    assert!(l.notes.iter().any(|n| n.weak && n.text.contains("by their length")));
    // Written as a pause, and re-simulated it is found again.
    let e = Experiment::load(&fitted).unwrap();
    assert_eq!(e.faults.len(), 1);
    assert_eq!(again.pauses.len(), 1);
    assert!((again.pauses[0].silence_s - found.silence_s).abs() < 0.35);
}

#[test]
fn bad_input_is_named_never_a_panic_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &[&str])] = &[
        ("empty.csv", "", &["empty.csv", "line 1", "empty"]),
        ("header.csv", "target,received_ns,seq\n", &["header.csv", "no heartbeats"]),
        ("one.csv", "target,received_ns,seq\na,5,0\n", &["one.csv: line 2", "1 heartbeat", "at least 3"]),
        ("noseq.csv", "target,received_ns,seq\na,5,0\na,7,\na,9,2\n", &["noseq.csv: line 3", "`seq` is empty"]),
        ("nosent.csv", "target,received_ns,sent_ns\na,5,1\na,7,3\na,9,\n", &["nosent.csv: line 4", "`sent_ns`"]),
        ("garbled.csv", "target,received_ns,seq\na,5,0\na,7,x\n", &["garbled.csv: line 3", "column `seq`"]),
        ("nocolumn.csv", "target,seq\na,0\n", &["nocolumn.csv", "no `received_ns` column"]),
        ("same.csv", "target,received_ns\na,5\na,5\na,5\n", &["same.csv", "same time"]),
        ("stuck.csv", "target,received_ns,seq\na,5,3\na,7,3\na,9,3\n", &["stuck.csv", "increasing seq"]),
    ];
    for (name, text, wanted) in cases {
        let trace = common::write(dir.path(), name, text);
        let out = dir.path().join(format!("{name}-out"));
        let o = fdlab(&["fit", arg(&trace), "--out", arg(&out)]);
        let e = stderr(&o);
        assert!(!o.status.success(), "{name}");
        assert!(!e.contains("panicked"), "{name}: {e}");
        for w in *wanted {
            assert!(e.contains(w), "{name}: `{w}` not in {e}");
        }
        assert!(!out.exists(), "{name}: wrote {}", out.display());
    }
}

#[test]
fn without_seq_the_sequence_is_inferred_from_the_gaps_and_said_to_be() {
    let dir = tempfile::tempdir().unwrap();
    // Every 100 ms with 1 ms delay; slots 5 and 6 missing.
    let mut text = String::from("target,received_ns\n");
    for slot in (0..40u64).filter(|s| !(5..=6).contains(s)) {
        text += &format!("a,{}\n", slot * 100_000_000 + 1_000_000);
    }
    let trace = common::write(dir.path(), "plain.csv", &text);
    let l = &fit_trace(&trace).unwrap().links[0];
    assert_eq!(l.seq_source, SeqSource::InferredFromGaps);
    assert_eq!((l.loss.lost, l.loss.runs, l.heartbeats), (2, 1, 38));
    assert_eq!(l.interval_s, 0.1);
    assert!(!l.fifo);
    assert!(l.notes.iter().any(|n| n.weak && n.text.contains("no `seq` column")));
}

#[test]
fn the_output_directory_is_owned_and_a_users_file_is_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let trace = common::write(dir.path(), "t.csv", &counter_trace(true));
    let out = dir.path().join("out");
    // A second fit replaces the first (fdlab wrote it)…
    fit(&trace, dir.path(), "out");
    fit(&trace, dir.path(), "out");
    // …but not once a user's file is in it.
    std::fs::write(out.join("mine.txt"), "keep").unwrap();
    let o = fdlab(&["fit", arg(&trace), "--out", arg(&out)]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("mine.txt"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(out.join("mine.txt")).unwrap(), "keep");
    // Nor a directory holding the trace.
    let o = fdlab(&["fit", arg(&trace), "--out", arg(dir.path())]);
    assert!(!o.status.success() && stderr(&o).contains("the input trace"), "{}", stderr(&o));
    assert_eq!(fdlab::fit::default_out_dir(Path::new("x/demo.csv")), Path::new("results/demo-fit"));
}

#[test]
fn empirical_delays_are_written_beside_the_experiment_and_resampled() {
    let dir = tempfile::tempdir().unwrap();
    // Two delay modes (1 ms and 5 ms, alternating in blocks): no single parametric candidate fits.
    let mut text = String::from("target,received_ns,seq,sent_ns\n");
    for seq in 0..4000u64 {
        let sent = seq * 100_000_000;
        let delay = if (seq / 3) % 2 == 0 { 1_000_000 } else { 5_000_000 } + (seq * 7919 % 100) * 1000;
        text += &format!("a,{},{seq},{sent}\n", sent + delay);
    }
    let trace = common::write(dir.path(), "modes.csv", &text);
    let (report, fitted) = fit(&trace, dir.path(), "fit");
    let l = &report.links[0];
    assert_eq!(l.delay.chosen, "empirical");
    assert!(l.notes.iter().any(|n| n.text.contains("no parametric delay model passed")));
    let delays = std::fs::read_to_string(fitted.parent().unwrap().join("delays/link-0.csv")).unwrap();
    assert_eq!(delays.lines().count(), 4001);
    // Simulated, the delays are the trace's, resampled: within its range, the upper mode at
    // the 90th percentile, and still no parametric fit.
    let again = &fit_trace(&simulate(&fitted, dir.path(), "rerun")).unwrap().links[0];
    assert!(again.delay.min_s >= l.delay.min_s && again.delay.max_s <= l.delay.max_s, "{:?}", again.delay);
    assert!((0.005..0.0051).contains(&again.delay.p90_s), "{}", again.delay.p90_s);
    assert_eq!(again.delay.chosen, "empirical");
    // A run into the fit's own directory would delete the experiment it reads (fdlab wrote
    // the directory, so it could replace it): refused, and the directory is as it was.
    let fit_dir = fitted.parent().unwrap();
    let before = std::fs::read(&fitted).unwrap();
    let o = fdlab(&["run", arg(&fitted), "--no-charts", "--out", arg(fit_dir)]);
    assert!(!o.status.success() && stderr(&o).contains("holds the experiment file"), "{}", stderr(&o));
    // So is a run of another experiment that reads its delays from there.
    let elsewhere = common::write(
        dir.path(),
        "elsewhere.toml",
        &String::from_utf8(before.clone()).unwrap().replace("delays/link-0.csv", "fit/delays/link-0.csv"),
    );
    let o = fdlab(&["run", arg(&elsewhere), "--no-charts", "--out", arg(fit_dir)]);
    assert!(!o.status.success() && stderr(&o).contains("holds the empirical delay trace"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&fitted).unwrap(), before);
    assert_eq!(std::fs::read_to_string(fit_dir.join("delays/link-0.csv")).unwrap(), delays);
}

#[test]
fn every_link_of_a_cluster_trace_gets_its_own_model() {
    let dir = tempfile::tempdir().unwrap();
    // Three nodes watching each other (six links); the links into c lose 5 %, the others 1 %.
    let text = "name = \"three\"\nseed = 3\nduration = \"30m\"\ndetectors = [\"fixed:timeout=1s\"]\n\
                [defaults]\ninterval = \"100ms\"\n[[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n[[nodes]]\nid = \"c\"\n\
                [network]\ndelay = { dist = \"constant\", value = \"1ms\" }\nloss = { model = \"bernoulli\", p = 0.01 }\n\
                [[network.links]]\nfrom = \"a\"\nto = \"c\"\nloss = { model = \"bernoulli\", p = 0.05 }\n\
                [[network.links]]\nfrom = \"b\"\nto = \"c\"\nloss = { model = \"bernoulli\", p = 0.05 }\n";
    let file = common::write(dir.path(), "three.toml", text);
    let trace = simulate(&file, dir.path(), "run");
    let (report, fitted) = fit(&trace, dir.path(), "fit");
    assert!(!report.pooled);
    assert_eq!(report.links.len(), 6);
    for l in &report.links {
        let p = if l.monitor == "c" { 0.05 } else { 0.01 };
        // Binomial SE over the link's 18 000 slots.
        let se = (p * (1.0 - p) / l.loss.expected as f64).sqrt();
        assert!((l.loss.bernoulli.p - p).abs() < K * se, "{}→{}: {}", l.target, l.monitor, l.loss.bernoulli.p);
    }
    let e = Experiment::load(&fitted).unwrap();
    assert_eq!(e.monitoring.pairs.len(), 6);
    assert_eq!(e.network.links.len(), 6);
    for (l, over) in report.links.iter().zip(&e.network.links) {
        assert_eq!((&over.from, &over.to), (&l.target, &l.monitor));
        // The model chosen for that link, with its parameters (the LR test picks Gilbert on a
        // Bernoulli link 5 % of the time; either way the rate is the link's).
        let want = match l.loss.chosen {
            LossChoice::Bernoulli => LossModel::Bernoulli { p: l.loss.bernoulli.p },
            LossChoice::Gilbert => {
                LossModel::GilbertElliott { p: l.loss.gilbert.p, r: l.loss.gilbert.r, h: 0.0, k: 1.0 }
            }
            LossChoice::None => LossModel::None,
        };
        assert_eq!(over.settings.loss.as_ref(), Some(&want));
    }
    // Three or more false rejections among six links at 5 % each: probability 0.2 %.
    assert!(report.links.iter().filter(|l| l.loss.chosen == LossChoice::Bernoulli).count() >= 4);
}

/// Names an experiment cannot hold become distinct node ids, numbered from 2 in the order
/// met; and the rest of the file written from the trace: its duration (the span to one
/// interval after the last heartbeat, to the nearest second), its description and detectors.
#[test]
fn names_an_experiment_cannot_hold_become_distinct_node_ids() {
    let dir = tempfile::tempdir().unwrap();
    // No monitor column (the monitor is called `monitor`), and a target already called that,
    // and three whose names differ only in a character an id cannot hold (a comma, a slash
    // and a quote): all three become `x_y`, so two of them are numbered.
    let mut text = String::from("target,received_ns,seq\n");
    for seq in 0..26u64 {
        let at = seq * 100_000_000;
        text += &format!(
            "monitor,{},{seq}\n\"x,y\",{},{seq}\nx/y,{},{seq}\n\"x\"\"y\",{},{seq}\n",
            at + 1_000_000,
            at + 2_000_000,
            at + 3_000_000,
            at + 4_000_000
        );
    }
    let trace = common::write(dir.path(), "names.csv", &text);
    let (report, fitted) = fit(&trace, dir.path(), "fit");
    let e = Experiment::load(&fitted).unwrap();
    let ids: Vec<&str> = e.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["monitor", "monitor-2", "x_y", "x_y-2", "x_y-3"]);
    // Each weak note once in the question, with every link it concerns (26 heartbeats a
    // link: every link has the same weak notes).
    let weak: Vec<&str> = report.links[0].notes.iter().filter(|n| n.weak).map(|n| n.text.as_str()).collect();
    assert!(!weak.is_empty());
    for text in weak {
        let all = "monitor-2→monitor, monitor-2→x_y, monitor-2→x_y-2, monitor-2→x_y-3";
        let question = e.question.as_deref().unwrap();
        assert_eq!(question.matches(&format!("{text} ({all})")).count(), 1, "{text}: {question}");
    }
    let pairs: Vec<[&str; 2]> = e.monitoring.pairs.iter().map(|[m, t]| [m.as_str(), t.as_str()]).collect();
    assert_eq!(pairs, [["monitor-2", "monitor"], ["monitor-2", "x_y"], ["monitor-2", "x_y-2"], ["monitor-2", "x_y-3"]]);
    // 26 heartbeats 100 ms apart: a span of 2.5 s, and one interval more is 2.6 s: 3 s.
    assert_eq!(e.duration, fdlab::Nanos::from_secs(3));
    assert!(e.description.ends_with("(104 heartbeats on 4 links)"), "{}", e.description);
    // φ at Akka's threshold, and a fixed timeout of five intervals.
    let labels: Vec<String> = e.detectors.iter().flat_map(|d| d.points()).map(|p| p.label).collect();
    assert_eq!(labels, ["phi:threshold=8", "fixed:timeout=500ms"]);
}

#[test]
fn a_restart_is_noted_and_its_downtime_is_not_loss() {
    let dir = tempfile::tempdir().unwrap();
    let p = 0.01;
    let network = "delay = { dist = \"constant\", value = \"1ms\" }\nloss = { model = \"bernoulli\", p = 0.01 }";
    let crash = "[[faults]]\nkind = \"crash\"\nnode = \"a\"\nat = \"10m\"\ndown = \"30s\"";
    let file = common::write(dir.path(), "known.toml", &experiment("30m", "0", network, crash));
    let trace = simulate(&file, dir.path(), "run");
    let l = &fit_trace(&trace).unwrap().links[0];
    assert!(l.notes.iter().any(|n| n.weak && n.text.starts_with("1 restart")), "{:?}", l.notes);
    // 300 slots of downtime would be 1.7 % more loss: p̂ stays within 4 binomial SE of p.
    let se = (p * (1.0 - p) / l.loss.expected as f64).sqrt();
    assert!((l.loss.bernoulli.p - p).abs() < K * se, "{}", l.loss.bernoulli.p);
    assert!(l.pauses.is_empty());
}

#[test]
fn duplication_and_reordering_are_measured_and_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = 0.05;
    // Delays spread over several intervals reorder heartbeats (not FIFO).
    let network = "delay = { dist = \"lognormal\", median = \"80ms\", sigma = 0.8 }\nduplicate = 0.05\nfifo = false";
    let (l, fitted, again) = round_trip(&experiment("1h", "0", network, ""), dir.path());
    // duplicates / distinct heartbeats: binomial SE √(d(1 − d)/n).
    let se = (d * (1.0 - d) / l.heartbeats as f64).sqrt();
    assert!((l.duplicate_rate - d).abs() < K * se, "{}", l.duplicate_rate);
    assert_eq!(l.rows, l.heartbeats + l.duplicates);
    assert!(l.reordered > 100, "{}", l.reordered);
    assert!(!l.fifo);
    let settings = link(&fitted);
    assert_eq!((settings.duplicate, settings.fifo), (Some(l.duplicate_rate), Some(false)));
    assert!((again.duplicate_rate - l.duplicate_rate).abs() < K * 3f64.sqrt() * se);
    assert!(again.reordered > 100);
    // Duplicates are not losses.
    assert_eq!(l.loss.lost, 0);
}
