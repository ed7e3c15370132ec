//! The simulator against closed forms (REFERENCES.md §1), hand-computed engine-rule
//! scenarios (DESIGN.md §3), determinism, and parity with replay.

use std::path::Path;

use fdlab::analysis::output::RunOutput as SimOutput;
use fdlab::analysis::qos::DetectionBasis;
use fdlab::detector::phi::{phi_logistic, y_star};
use fdlab::detector::{Arrival, DetectorSpec};
use fdlab::experiment::{Experiment, ValidExperiment};
use fdlab::replay::{CrashDecl, ReplayConfig, replay_from};
use fdlab::report::summary::ResultEntry;
use fdlab::sim::{RunOptions, run};
use fdlab::time::Nanos;
use fdlab::trace::{TraceReader, TraceWriter};

/// Two nodes, b watches a; `body` adds network, faults and anything else.
fn experiment(seed: u64, duration: &str, detectors: &str, body: &str) -> ValidExperiment {
    let text = format!(
        "name = \"t\"\nseed = {seed}\nduration = \"{duration}\"\ndetectors = [{detectors}]\n{body}\n\
         [[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n[monitoring]\nmode = \"pairs\"\npairs = [[\"b\", \"a\"]]\n"
    );
    Experiment::from_toml(Path::new("test.toml"), &text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn simulate(e: &ValidExperiment, trace: bool) -> SimOutput {
    let options = RunOptions {
        seed: None,
        base_dir: ".".into(),
        record_trace: trace,
        scratch_dir: None,
        threads: 1,
        ..Default::default()
    };
    run(e, &options, &|_| {}).unwrap()
}

/// The recorded trace, read back in received order.
fn trace(out: &SimOutput) -> Vec<(String, String, Arrival)> {
    let rows = out.trace.as_ref().expect("a recorded trace").rows().unwrap();
    rows.map(|r| r.map(|(m, t, a)| (m.to_string(), t.to_string(), a)).unwrap()).collect()
}

fn result<'a>(out: &'a SimOutput, label: &str) -> &'a ResultEntry {
    out.summary.results.iter().find(|r| r.detector == label).unwrap_or_else(|| panic!("no result {label}"))
}

const CONSTANT_LINK: &str = "[network]\ndelay = { dist = \"constant\", value = \"5ms\" }\n";

#[test]
fn fixed_timeout_with_bernoulli_loss_matches_the_closed_form_over_seeds() {
    let (eta, p) = (0.1f64, 0.3f64);
    for seed in [1, 2, 3] {
        let body = format!("{CONSTANT_LINK}loss = {{ model = \"bernoulli\", p = {p} }}\n");
        let e = experiment(seed, "1d", "\"fixed:timeout=150ms|250ms|330ms\"", &body);
        let out = simulate(&e, false);
        for (label, timeout, k) in
            [("fixed:timeout=150ms", 0.15, 1), ("fixed:timeout=250ms", 0.25, 2), ("fixed:timeout=330ms", 0.33, 3)]
        {
            let r = &result(&out, label).qos;
            let count = r.mistakes as f64;
            let rate = (1.0 - p) * p.powi(k) / eta;
            let measured = r.mistake_rate_per_s.unwrap();
            assert!(
                (measured - rate).abs() <= 4.0 * count.sqrt() / r.observed_up_s,
                "seed {seed} {label}: {measured} vs {rate}"
            );
            let expected_tm = eta * (k as f64 + 1.0 + p / (1.0 - p)) - timeout;
            let sd = eta * p.sqrt() / (1.0 - p);
            let mean_tm = r.mistake_duration_s.mean.unwrap();
            assert!(
                (mean_tm - expected_tm).abs() <= 4.0 * sd / count.sqrt(),
                "seed {seed} {label}: {mean_tm} vs {expected_tm}"
            );
            assert_eq!(r.mistakes_by_cause.keys().map(|c| format!("{c:?}")).collect::<Vec<_>>(), ["Network"]);
        }
    }
}

#[test]
fn crash_detection_time_is_uniform_on_d_plus_t_minus_eta_to_d_plus_t() {
    // Many crash-recovery cycles; d = 5 ms, T = 250 ms, η = 100 ms: T_D ∈ (155, 255] ms, mean 205.
    for seed in [4, 5] {
        let body =
            format!("{CONSTANT_LINK}[[faults]]\nkind = \"crash\"\nnode = \"a\"\nmttf = \"20s\"\nmttr = \"2s\"\n");
        let e = experiment(seed, "1d", "\"fixed:timeout=250ms\"", &body);
        let out = simulate(&e, false);
        let r = &result(&out, "fixed:timeout=250ms").qos;
        // A crash that lasts less than the detection time is rightly never detected; one
        // that lasts longer than d + T always is. Only the latter give an unbiased sample.
        for c in &r.crashes {
            let down = c.recovered_at_s.unwrap() - c.at_s;
            match c.detection_time_s {
                None => assert!(down <= 0.255 + 1e-9, "a {down} s crash went undetected"),
                Some(t) => assert!(t <= down + 1e-9, "detected after recovery"),
            }
        }
        let times: Vec<f64> = r
            .crashes
            .iter()
            .filter(|c| c.recovered_at_s.unwrap() - c.at_s > 0.255)
            .map(|c| c.detection_time_s.expect("a crash longer than d + T is detected"))
            .collect();
        assert!(times.len() > 3000, "{} crashes", times.len());
        for &t in &times {
            assert!(t > 0.155 - 1e-9 && t <= 0.255 + 1e-9, "T_D {t}");
        }
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        // Uniform on an interval of η: standard deviation η/√12 per crash.
        let tolerance = 4.0 * 0.1 / 12f64.sqrt() / (times.len() as f64).sqrt();
        assert!((mean - 0.205).abs() < tolerance, "seed {seed}: mean {mean}");
        // After each detected crash's recovery the first heartbeat needs d to arrive: a
        // mistake of 5 ms from the recovery on. A crash too short to be detected still
        // causes a mistake after its recovery when the silence it made (from the last slot
        // sent before it to the first slot after it, slots every η from each start) exceeds
        // T: cause `recovery` too. The link loses nothing, so there is no other mistake.
        let detected = r.crashes.iter().filter(|c| c.detection_time_s.is_some()).count() as u64;
        let (mut epoch, mut short) = (0.0, 0);
        for c in &r.crashes {
            let recovery = c.recovered_at_s.unwrap();
            let last_slot = epoch + ((c.at_s - epoch) / 0.1 - 1e-9).floor() * 0.1;
            if c.detection_time_s.is_none() && recovery - last_slot > 0.25 {
                short += 1;
            }
            epoch = recovery;
        }
        assert!(short > 0, "seed {seed}: the scenario should have short crashes that cause mistakes");
        assert_eq!(r.mistakes, detected + short, "seed {seed}");
        assert_eq!(r.mistakes_by_cause.get(&fdlab::analysis::qos::Cause::Recovery).copied(), Some(detected + short));
        assert!((r.mistake_duration_s.max.unwrap() - 0.005).abs() < 1e-9);
    }
}

#[test]
fn phi_with_constant_delay_crosses_where_the_formula_says() {
    let e = experiment(1, "1h", "\"phi:threshold=8,pause=500ms,min_std=20ms,first=100ms\"", CONSTANT_LINK);
    let out = simulate(&e, false);
    let r = &result(&out, "phi:threshold=8,first=100ms,min_std=20ms,pause=500ms").qos;
    // Per heartbeat, suspect_at − sent = d + η + pause + min_std·y*(8) once the window holds
    // only η (the median is well past the first 1000 heartbeats).
    let expected = 0.005 + 0.1 + 0.5 + 0.02 * y_star(phi_logistic, 8.0).unwrap();
    let p50 = r.detection_time_s.p50.unwrap();
    assert!((p50 - expected).abs() / expected < 1e-3, "{p50} vs {expected}");
    assert_eq!(r.mistakes, 0);
}

const PAUSED_MONITOR: &str =
    "[[faults]]\nkind = \"pause\"\nnode = \"b\"\nwhat = \"monitor\"\nat = \"10s\"\nduration = \"1s\"\n";

#[test]
fn resume_order_decides_whether_a_paused_monitor_suspects() {
    let net = "[network]\ndelay = { dist = \"constant\", value = \"1ms\" }\n";
    // Last arrival before the pause 9.901 s; the 300 ms crossing (10.201 s) falls in the pause.
    let timers = experiment(1, "20s", "\"fixed:timeout=300ms\"", &format!("{net}{PAUSED_MONITOR}"));
    let out = simulate(&timers, false);
    let r = &result(&out, "fixed:timeout=300ms").qos;
    // Timers first: the check fires at 11 s, then the buffered heartbeats restore trust at once.
    assert_eq!(r.mistakes, 1);
    assert_eq!(r.mistake_duration_s.max, Some(0.0));
    assert_eq!(r.mistakes_by_cause.get(&fdlab::analysis::qos::Cause::MonitorPause), Some(&1));
    let datagrams = experiment(
        1,
        "20s",
        "\"fixed:timeout=300ms\"",
        &format!("{net}[engine]\nresume_order = \"datagrams-first\"\n{PAUSED_MONITOR}"),
    );
    let out = simulate(&datagrams, false);
    assert_eq!(result(&out, "fixed:timeout=300ms").qos.mistakes, 0);
}

fn seqs(out: &SimOutput) -> Vec<u64> {
    trace(out).iter().map(|(_, _, a)| a.seq.unwrap()).collect()
}

#[test]
fn a_full_receive_buffer_drops_the_newest() {
    let net = "[network]\ndelay = { dist = \"constant\", value = \"1ms\" }\n";
    let e =
        experiment(1, "20s", "\"fixed:timeout=300ms\"", &format!("{net}[engine]\nrecv_buffer = 3\n{PAUSED_MONITOR}"));
    let out = simulate(&e, true);
    let got = seqs(&out);
    // Seqs 100..=109 arrive during the pause: 100, 101, 102 are kept, 103..=109 dropped.
    assert!(got.contains(&102) && !got.contains(&103) && !got.contains(&109) && got.contains(&110));
    assert_eq!(out.summary.links[0].delivered, out.summary.links[0].sent - 7);
    // The kept ones are delivered at the resume instant, 11 s.
    let at_resume: Vec<u64> =
        trace(&out).iter().filter(|(_, _, a)| a.at == Nanos::from_secs(11)).map(|(_, _, a)| a.seq.unwrap()).collect();
    assert_eq!(at_resume, vec![100, 101, 102]);
}

#[test]
fn a_paused_sender_skips_its_missed_slots_or_sends_one_at_once() {
    let pause = "[[faults]]\nkind = \"pause\"\nnode = \"a\"\nwhat = \"sender\"\nat = \"10s\"\nduration = \"1s\"\n";
    let e = experiment(1, "12s", "\"fixed:timeout=300ms\"", &format!("{CONSTANT_LINK}{pause}"));
    let got = seqs(&simulate(&e, true));
    let expected: Vec<u64> = (0..100).chain(110..120).collect();
    assert_eq!(got, expected, "slots 100..=109 fall in the pause and are skipped");
    let e = experiment(
        1,
        "12s",
        "\"fixed:timeout=300ms\"",
        &format!("[defaults]\nafter_pause = \"send-now\"\n{CONSTANT_LINK}{pause}"),
    );
    let got = seqs(&simulate(&e, true));
    let expected: Vec<u64> = (0..100).chain([109]).chain(110..120).collect();
    assert_eq!(got, expected, "one heartbeat at the resume carries the last missed slot");
}

#[test]
fn datagrams_in_flight_at_a_crash_are_delivered() {
    let body = "[network]\ndelay = { dist = \"constant\", value = \"500ms\" }\n[[faults]]\nkind = \"crash\"\nnode = \"a\"\nat = \"10050ms\"\n";
    let e = experiment(1, "20s", "\"fixed:timeout=300ms\"", body);
    let out = simulate(&e, true);
    let last = trace(&out).last().unwrap().2;
    // Seq 100 left at 10.0 s, before the crash at 10.05 s, and arrives at 10.5 s.
    assert_eq!((last.seq, last.at), (Some(100), Nanos(10_500_000_000)));
    let r = &result(&out, "fixed:timeout=300ms").qos;
    assert!((r.crashes[0].detection_time_s.unwrap() - 0.75).abs() < 1e-9);
    assert_eq!(r.mistakes, 0);
}

#[test]
fn link_counts_cover_what_each_monitor_observed() {
    // Three nodes watching each other, a lossless 5 ms link, 100 ms heartbeats for 20 s; a
    // crashes (crash-stop) at 10.05 s. a's heartbeats: slots 0..=100 (0 s to 10.0 s). a stops
    // observing at its crash, so its incoming links count what was sent before it.
    let text = "name = \"t\"\nseed = 3\nduration = \"20s\"\ndetectors = [\"fixed:timeout=300ms\"]\n\
         [network]\ndelay = { dist = \"constant\", value = \"5ms\" }\n\
         [[faults]]\nkind = \"crash\"\nnode = \"a\"\nat = \"10050ms\"\n\
         [[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n[[nodes]]\nid = \"c\"\n[monitoring]\nmode = \"all\"\n";
    let e = Experiment::from_toml(Path::new("test.toml"), text).unwrap();
    let out = simulate(&e, false);
    let counts: Vec<(&str, &str, u64, u64)> =
        out.summary.links.iter().map(|l| (l.monitor.as_str(), l.target.as_str(), l.sent, l.delivered)).collect();
    assert_eq!(
        counts,
        vec![
            ("a", "b", 101, 101),
            ("a", "c", 101, 101),
            ("b", "a", 101, 101),
            ("b", "c", 200, 200),
            ("c", "a", 101, 101),
            ("c", "b", 200, 200),
        ]
    );
    assert_eq!(out.deliveries, 101 * 4 + 200 * 2);
}

#[test]
fn a_crashed_monitor_censors_what_it_suspected_and_restarts_with_fresh_detectors() {
    // a sends every 100 ms, 5 ms away; its sender stalls from 9.5 s to 10.5 s, and the
    // monitor b crashes at 10.05 s and restarts 5 s later. Before the crash b hears seq 0..=94
    // (the last at 9.405 s), so the 300 ms timeout suspects from 9.705 s: censored at the
    // crash after 0.345 s. Datagrams reaching b while it is down are lost; the restarted b
    // hears seq 151..=199 from 15.105 s on. Observed: [0.005, 10.05) and [15.105, 20).
    let body = "[network]\ndelay = { dist = \"constant\", value = \"5ms\" }\n\
        [[faults]]\nkind = \"pause\"\nnode = \"a\"\nwhat = \"sender\"\nat = \"9500ms\"\nduration = \"1s\"\n\
        [[faults]]\nkind = \"crash\"\nnode = \"b\"\nat = \"10050ms\"\ndown = \"5s\"\n";
    let e = experiment(1, "20s", "\"fixed:timeout=300ms\"", body);
    let out = simulate(&e, true);
    assert_eq!(seqs(&out), (0..=94).chain(151..=199).collect::<Vec<u64>>());
    let r = &result(&out, "fixed:timeout=300ms").qos;
    assert_eq!(r.heartbeats, 144);
    assert!((r.observed_up_s - 14.94).abs() < 1e-9, "{}", r.observed_up_s);
    assert_eq!(r.mistakes, 0);
    assert_eq!(r.censored.count, 1);
    assert!((r.censored.durations_so_far_s[0] - 0.345).abs() < 1e-9);
    assert_eq!(out.summary.links[0].delivered, 144);

    // a crash-stops at 8 s, while b observes: b suspects from 8.205 s and still does when it
    // crashes, so the crash was detected in 0.205 s.
    let crash_b = "[[faults]]\nkind = \"crash\"\nnode = \"b\"\nat = \"10050ms\"\ndown = \"5s\"\n";
    let crash_a = |at: &str| format!("[[faults]]\nkind = \"crash\"\nnode = \"a\"\nat = \"{at}\"\n");
    let body = format!("{CONSTANT_LINK}{crash_b}{}", crash_a("8s"));
    let out = simulate(&experiment(1, "20s", "\"fixed:timeout=300ms\"", &body), false);
    let r = &result(&out, "fixed:timeout=300ms").qos;
    assert!(r.crashes[0].observed);
    assert!((r.crashes[0].detection_time_s.unwrap() - 0.205).abs() < 1e-9);
    assert_eq!(out.summary.totals[0].crashes, 1);

    // a crash-stops at 12 s, while b is down: nobody observes it, and the restarted b never
    // hears a again, so observation ends at b's crash.
    let body = format!("{CONSTANT_LINK}{crash_b}{}", crash_a("12s"));
    let out = simulate(&experiment(1, "20s", "\"fixed:timeout=300ms\"", &body), false);
    let r = &result(&out, "fixed:timeout=300ms").qos;
    assert_eq!((r.crashes[0].observed, r.crashes[0].detection_time_s), (false, None));
    assert_eq!(r.heartbeats, 101);
    assert!((r.observed_up_s - 10.045).abs() < 1e-9, "{}", r.observed_up_s);
    assert_eq!((out.summary.totals[0].crashes, out.summary.totals[0].crashes_detected), (0, 0));

    // b is paused from 9 s to 11 s and crashes at 10 s for 2 s: what it buffered during the
    // pause dies with it, its resume at 11 s finds it down, and it hears seq 120 on.
    let body = format!(
        "{CONSTANT_LINK}[[faults]]\nkind = \"pause\"\nnode = \"b\"\nwhat = \"monitor\"\nat = \"9s\"\nduration = \"2s\"\n\
         [[faults]]\nkind = \"crash\"\nnode = \"b\"\nat = \"10s\"\ndown = \"2s\"\n"
    );
    let out = simulate(&experiment(1, "20s", "\"fixed:timeout=300ms\"", &body), true);
    assert_eq!(seqs(&out), (0..=89).chain(120..=199).collect::<Vec<u64>>());
}

#[test]
fn a_fast_clock_sends_more_often_and_stamps_its_own_time() {
    let e = experiment(1, "100s", "\"fixed:timeout=300ms\"", &format!("{CONSTANT_LINK}[[nodes]]\nid = \"c\"\n"));
    drop(e);
    let text = "name = \"t\"\nseed = 1\nduration = \"100s\"\ndetectors = [\"fixed:timeout=300ms\"]\n\
        [network]\ndelay = { dist = \"constant\", value = \"5ms\" }\n\
        [[nodes]]\nid = \"a\"\nclock_rate = 1.25\n[[nodes]]\nid = \"b\"\n[monitoring]\nmode = \"pairs\"\npairs = [[\"b\", \"a\"]]\n";
    let e = Experiment::from_toml(Path::new("drift.toml"), text).unwrap();
    let out = simulate(&e, true);
    // Slots every 100 ms of a's clock = 80 ms of real time: 1250 in 100 s.
    assert_eq!(out.summary.links[0].sent, 1250);
    let (_, _, a) = trace(&out)[10];
    // sent_ns is in the sender's clock (slot 10 = 1 s), received_ns in real time (0.8 s + 5 ms).
    assert_eq!((a.seq, a.sent, a.at), (Some(10), Some(Nanos::from_secs(1)), Nanos(805_000_000)));
}

const LOSSY: &str = "[network]\ndelay = { dist = \"lognormal\", median = \"3ms\", sigma = 0.8 }\nloss = { model = \"gilbert-elliott\", p = 0.01, r = 0.3 }\ncorrelation = 0.5\nduplicate = 0.01\n[[faults]]\nkind = \"pause\"\nnode = \"a\"\nat = \"100s\"\nduration = \"3s\"\n[[faults]]\nkind = \"crash\"\nnode = \"a\"\nat = \"500s\"\ndown = \"30s\"\n";

#[test]
fn same_seed_same_bytes_other_seed_other_arrivals_and_detectors_do_not_change_arrivals() {
    let one = experiment(7, "15m", "\"phi:threshold=1..8\", \"fixed:timeout=300ms\"", LOSSY);
    let a = simulate(&one, true);
    let b = simulate(&one, true);
    assert_eq!(a.summary.to_json(), b.summary.to_json());
    let other = experiment(8, "15m", "\"phi:threshold=1..8\", \"fixed:timeout=300ms\"", LOSSY);
    let c = simulate(&other, true);
    assert_ne!(trace(&a), trace(&c));
    let more = experiment(7, "15m", "\"phi:threshold=1..8\", \"fixed:timeout=300ms\", \"chen:alpha=200ms\"", LOSSY);
    let d = simulate(&more, true);
    assert_eq!(trace(&a), trace(&d), "adding a detector changed the arrivals");
}

/// One monitor of three links, with everything that makes links interact at the monitor
/// (pauses that fill its receive buffer, a crash with recovery, a target crash, sample
/// windows for the timeline): the same results on 1, 2 and 3 threads (its detector groups
/// take their deliveries from the first group), with and without a trace (links in arrival
/// order throughout, or one by one between the monitor's pauses and crashes). Half an hour
/// of 100 ms heartbeats: 9 chunks a link (`sim::monitor::chunk`), more than a channel holds.
#[test]
fn a_monitors_shared_deliveries_give_the_same_results_on_any_thread_count() {
    let text = "name = \"t\"\nseed = 9\nduration = \"30m\"\n\
        detectors = [\"phi:threshold=2..8\", \"fixed:timeout=250ms\", \"chen:alpha=50ms\"]\n\
        [engine]\nrecv_buffer = 3\n\
        [defaults]\ninterval = \"100ms\"\njitter = \"10ms\"\n\
        [network]\ndelay = { dist = \"lognormal\", median = \"2ms\", sigma = 0.8 }\nloss = { model = \"bernoulli\", p = 0.05 }\n\
        [[nodes]]\nid = \"m\"\n[[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n[[nodes]]\nid = \"c\"\n\
        [monitoring]\nmode = \"pairs\"\npairs = [[\"m\", \"a\"], [\"m\", \"b\"], [\"m\", \"c\"]]\n\
        [[faults]]\nkind = \"pause\"\nnode = \"m\"\nat = \"30s\"\nduration = \"2s\"\n\
        [[faults]]\nkind = \"pause\"\nnode = \"m\"\nat = \"100s\"\nduration = \"700ms\"\n\
        [[faults]]\nkind = \"crash\"\nnode = \"m\"\nat = \"150s\"\ndown = \"5s\"\n\
        [[faults]]\nkind = \"crash\"\nnode = \"b\"\nat = \"200s\"\n";
    let e = Experiment::from_toml(Path::new("t.toml"), text).unwrap();
    let run_with = |threads, record_trace| {
        run(&e, &RunOptions { threads, record_trace, base_dir: ".".into(), ..Default::default() }, &|_| {}).unwrap()
    };
    let one = run_with(1, true);
    let json = one.summary.to_json();
    // The buffer of 3 overflowed in the pauses, and the crash of b was detected.
    assert!(one.summary.links.iter().map(|l| l.delivered).sum::<u64>() > 0);
    assert!(json.contains("\"crashes\""), "{json}");
    let timeline = |o: &fdlab::analysis::output::RunOutput| {
        let t = o.timeline.as_ref().expect("a timeline");
        (t.arrivals.clone(), t.levels.len())
    };
    for threads in [1, 2, 3] {
        for record_trace in [false, true] {
            let other = run_with(threads, record_trace);
            assert_eq!(other.summary.to_json(), json, "{threads} threads, trace {record_trace}");
            assert_eq!(timeline(&other), timeline(&one), "{threads} threads, trace {record_trace}");
            if record_trace {
                assert_eq!(trace(&other), trace(&one), "{threads} threads");
            }
        }
    }
}

#[test]
fn threads_do_not_change_results() {
    let text = "name = \"t\"\nseed = 3\nduration = \"10m\"\ndetectors = [\"phi:threshold=4|8\", \"fixed:timeout=300ms\"]\n\
        [network]\ndelay = { dist = \"exponential\", mean = \"2ms\", base = \"1ms\" }\nloss = { model = \"bernoulli\", p = 0.02 }\n\
        [[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n[[nodes]]\nid = \"c\"\n[[nodes]]\nid = \"d\"\n\
        [[faults]]\nkind = \"partition\"\nat = \"60s\"\nduration = \"5s\"\ngroups = [[\"a\", \"b\"], [\"c\", \"d\"]]\n";
    let e = Experiment::from_toml(Path::new("t.toml"), text).unwrap();
    let run_with = |threads| {
        run(
            &e,
            &RunOptions {
                seed: None,
                base_dir: ".".into(),
                record_trace: false,
                scratch_dir: None,
                threads,
                ..Default::default()
            },
            &|_| {},
        )
        .unwrap()
    };
    let (one, two) = (run_with(1), run_with(2));
    assert_eq!(one.summary.to_json(), two.summary.to_json());
    // One monitor: its detectors are split across threads, each regenerating the arrivals.
    let single = experiment(5, "10m", "\"phi:threshold=1..8\", \"fixed:timeout=300ms\", \"chen:alpha=100ms\"", LOSSY);
    let run_single = |threads| {
        run(
            &single,
            &RunOptions {
                seed: None,
                base_dir: ".".into(),
                record_trace: true,
                scratch_dir: None,
                threads,
                ..Default::default()
            },
            &|_| {},
        )
        .unwrap()
    };
    let (a, b, c) = (run_single(1), run_single(2), run_single(3));
    assert_eq!(a.summary.to_json(), b.summary.to_json());
    assert_eq!(a.summary.to_json(), c.summary.to_json());
    assert_eq!(trace(&a), trace(&b));
    assert_eq!(a.delay.as_ref().map(|h| h.len()), b.delay.as_ref().map(|h| h.len()));
    // The partition cut a↔c, a↔d, b↔c, b↔d both ways: 8 of 12 links, and caused mistakes.
    let cut: Vec<u64> = one.summary.links.iter().map(|l| l.cut).collect();
    assert_eq!(cut.iter().filter(|&&c| c == 50).count(), 8, "{cut:?}");
    let partition_mistakes: u64 = one
        .summary
        .totals
        .iter()
        .filter(|t| t.detector == "fixed:timeout=300ms")
        .map(|t| t.mistakes_by_cause[&fdlab::analysis::qos::Cause::Partition])
        .sum();
    assert_eq!(partition_mistakes, 8);
}

#[test]
fn sim_then_trace_then_replay_gives_the_same_metrics() {
    let body = "[network]\ndelay = { dist = \"lognormal\", median = \"3ms\", sigma = 0.8 }\nloss = { model = \"bernoulli\", p = 0.05 }\n\
        [[faults]]\nkind = \"crash\"\nnode = \"a\"\nat = \"700s\"\n";
    let e = experiment(
        11,
        "15m",
        "\"phi:threshold=1..8\", \"fixed:timeout=150ms|300ms\", \"chen:alpha=100ms\", \"empirical:threshold=0.999\"",
        body,
    );
    let sim = simulate(&e, true);
    let mut w = TraceWriter::new(Vec::new(), true).unwrap();
    for (m, t, a) in &trace(&sim) {
        w.write(m, t, a).unwrap();
    }
    let text = w.into_inner();
    let mut reader = TraceReader::new(Path::new("sim.csv"), text.as_slice()).unwrap();
    let config = ReplayConfig {
        trace: "sim.csv".into(),
        detectors: e.detectors.clone(),
        crashes: vec![CrashDecl::stop("a", Nanos::from_secs(700))],
        monitor_crashes: vec![],
        end: Some(e.duration),
        ..ReplayConfig::default()
    };
    let replayed = replay_from(&mut reader, &config, None).unwrap().summary;
    assert_eq!(sim.summary.results.len(), replayed.results.len());
    for (s, r) in sim.summary.results.iter().zip(&replayed.results) {
        assert_eq!(s.detector, r.detector);
        let json = |q: &fdlab::analysis::QosReport| serde_json::to_string(q).unwrap();
        assert_eq!(json(&s.qos), json(&r.qos), "{}", s.detector);
    }
    assert!(sim.summary.results.iter().any(|r| r.qos.mistakes > 0), "the scenario should produce mistakes");
    // Every mistake is listed, with the same total duration as the distribution's.
    for r in &sim.summary.results {
        let closed: Vec<_> = r.qos.listed.iter().filter(|m| !m.censored).collect();
        assert_eq!(closed.len() as u64, r.qos.mistakes);
        assert_eq!(r.qos.listed.len() as u64, r.qos.mistakes + r.qos.censored.count);
        let total: f64 = closed.iter().map(|m| (m.end - m.start).as_secs_f64()).sum();
        let expected = r.qos.mistake_duration_s.mean.unwrap_or(0.0) * r.qos.mistakes as f64;
        assert!((total - expected).abs() < 1e-6, "{}", r.detector);
    }
    assert_eq!(sim.summary.mistakes_csv(), replayed.mistakes_csv());
}

#[test]
fn sim_then_trace_then_replay_agrees_across_crash_recovery_and_monitor_crashes() {
    // b and c watch a, c watches b. a is down twice (a new incarnation, then the old one
    // numbering from 0 again, which `dedup` must not mistake for duplicates); b, a target
    // and a monitor, is down once; c, a monitor, crashes for good before the end.
    let text = "name = \"t\"\nseed = 5\nduration = \"15m\"\nreceive = \"dedup\"\n\
        detectors = [\"phi:threshold=1..8\", \"fixed:timeout=150ms|300ms\", \"chen:alpha=100ms\"]\n\
        [network]\ndelay = { dist = \"lognormal\", median = \"3ms\", sigma = 0.8 }\n\
        loss = { model = \"bernoulli\", p = 0.05 }\n\
        [[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n[[nodes]]\nid = \"c\"\n\
        [monitoring]\nmode = \"pairs\"\npairs = [[\"b\", \"a\"], [\"c\", \"a\"], [\"c\", \"b\"]]\n\
        [[faults]]\nkind = \"crash\"\nnode = \"a\"\nat = \"100s\"\ndown = \"30s\"\n\
        [[faults]]\nkind = \"crash\"\nnode = \"a\"\nat = \"400s\"\ndown = \"20s\"\nnew_incarnation = false\n\
        [[faults]]\nkind = \"crash\"\nnode = \"b\"\nat = \"250s\"\ndown = \"40s\"\n\
        [[faults]]\nkind = \"crash\"\nnode = \"c\"\nat = \"700s\"\n";
    let e = Experiment::from_toml(Path::new("test.toml"), text).unwrap_or_else(|e| panic!("{e}"));
    let sim = simulate(&e, true);
    let mut w = TraceWriter::new(Vec::new(), true).unwrap();
    for (m, t, a) in &trace(&sim) {
        w.write(m, t, a).unwrap();
    }
    let text = w.into_inner();
    let s = Nanos::from_secs;
    let config = ReplayConfig {
        trace: "sim.csv".into(),
        detectors: e.detectors.clone(),
        crashes: vec![
            CrashDecl::down("a", s(400), s(420)),
            CrashDecl::down("a", s(100), s(130)),
            CrashDecl::down("b", s(250), s(290)),
        ],
        monitor_crashes: vec![CrashDecl::down("b", s(250), s(290)), CrashDecl::stop("c", s(700))],
        end: Some(e.duration),
        ..ReplayConfig::default()
    };
    let replayed = replay_from(&mut TraceReader::new(Path::new("sim.csv"), text.as_slice()).unwrap(), &config, None)
        .unwrap_or_else(|e| panic!("{e}"))
        .summary;
    let key = |r: &ResultEntry| (r.monitor.clone(), r.target.clone(), r.detector.clone());
    let json = |r: &ResultEntry| serde_json::to_string(&r.qos).unwrap();
    let replayed_totals = replayed.totals;
    let replayed: std::collections::BTreeMap<_, _> = replayed.results.iter().map(|r| (key(r), json(r))).collect();
    assert_eq!(sim.summary.results.len(), replayed.len());
    for r in &sim.summary.results {
        assert_eq!(Some(&json(r)), replayed.get(&key(r)), "{:?}", key(r));
    }
    // The totals too (the replay meets the links in another order; sums agree to rounding).
    assert_eq!(sim.summary.totals.len(), replayed_totals.len());
    for (s, r) in sim.summary.totals.iter().zip(&replayed_totals) {
        assert_eq!(
            (&s.detector, s.links, s.mistakes, s.crashes, s.crashes_detected),
            (&r.detector, r.links, r.mistakes, r.crashes, r.crashes_detected)
        );
        assert_eq!(
            (s.detection_basis, &s.detection_time_s.count, &s.mistakes_by_cause),
            (r.detection_basis, &r.detection_time_s.count, &r.mistakes_by_cause)
        );
        assert!((s.observed_up_s - r.observed_up_s).abs() < 1e-6 * s.observed_up_s, "{}", s.detector);
        assert!(
            s.detection_histogram.to_histogram() == r.detection_histogram.to_histogram()
                && s.mistake_histogram.to_histogram() == r.mistake_histogram.to_histogram(),
            "{}",
            s.detector
        );
    }
    // The scenario exercises what it claims: each link saw its monitor restart or stop, and
    // crashes were detected after a recovery and by a restarted monitor.
    let fixed = |m: &str, t: &str| {
        sim.summary
            .results
            .iter()
            .find(|r| {
                (r.monitor.as_deref(), r.target.as_str(), r.detector.as_str()) == (Some(m), t, "fixed:timeout=300ms")
            })
            .unwrap()
    };
    let b_on_a = &fixed("b", "a").qos;
    assert_eq!(b_on_a.crashes.len(), 2);
    assert!(b_on_a.crashes.iter().all(|c| c.observed && c.detection_time_s.is_some()));
    assert!(b_on_a.observed_up_s < 900.0 - 50.0 - 40.0 + 1.0, "b was down 40 s and a 50 s");
    let c_on_b = &fixed("c", "b").qos;
    assert!(c_on_b.observed_up_s < 700.0 - 40.0 + 1e-9);
    assert!(c_on_b.crashes[0].detection_time_s.is_some());
}

#[test]
fn totals_report_detection_over_crashes_or_else_every_links_estimate() {
    let text = |faults: &str| {
        format!(
            "name = \"t\"\nseed = 3\nduration = \"10m\"\ndetectors = [\"fixed:timeout=300ms\", \"phi\"]\n\
             [defaults]\ninterval = \"100ms\"\n[network]\ndelay = {{ dist = \"constant\", value = \"5ms\" }}\n\
             [[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n[[nodes]]\nid = \"c\"\n[monitoring]\nmode = \"all\"\n{faults}"
        )
    };
    // No crash: the totals carry every link's per-heartbeat estimate (six links, each with
    // its heartbeats), and the fixed timeout's estimate is its timeout plus the 5 ms delay.
    let out = simulate(&Experiment::from_toml(Path::new("t.toml"), &text("")).unwrap(), false);
    let fixed = out.summary.totals.iter().find(|t| t.detector == "fixed:timeout=300ms").unwrap();
    assert_eq!((fixed.links, fixed.detection_basis), (6, DetectionBasis::PerHeartbeatEstimate));
    let heartbeats: u64 =
        out.summary.results.iter().filter(|r| r.detector == fixed.detector).map(|r| r.qos.heartbeats).sum();
    assert_eq!(fixed.detection_time_s.count, heartbeats);
    assert_eq!(fixed.detection_time_s.max, Some(0.305));
    assert_eq!(fixed.detection_histogram.to_histogram().len(), heartbeats);
    assert!(marked(&out.summary.table()));
    // One crash: only the links watching it count, over that crash.
    let crash = "[[faults]]\nkind = \"crash\"\nnode = \"a\"\nat = \"5m\"\n";
    let out = simulate(&Experiment::from_toml(Path::new("t.toml"), &text(crash)).unwrap(), false);
    let fixed = out.summary.totals.iter().find(|t| t.detector == "fixed:timeout=300ms").unwrap();
    assert_eq!((fixed.detection_basis, fixed.detection_time_s.count, fixed.crashes), (DetectionBasis::Crashes, 2, 2));
    assert!(!marked(&out.summary.table()));
}

/// Whether a table row (not the legend) marks a detection time as an estimate.
fn marked(table: &str) -> bool {
    table.lines().filter(|l| !l.starts_with("T_M:")).any(|l| l.contains('~'))
}

fn load_error(text: &str) -> String {
    Experiment::from_toml(Path::new("bad.toml"), text).unwrap_err().to_string()
}

#[test]
fn bad_experiment_files_get_their_documented_errors() {
    let good = "name = \"t\"\nseed = 1\nduration = \"1m\"\ndetectors = [\"phi\"]\n[[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n";
    Experiment::from_toml(Path::new("good.toml"), good).unwrap();
    let cases: Vec<(String, Vec<&str>)> = vec![
        (good.replace("seed = 1", "seed = = 1"), vec!["bad.toml", "line 2"]),
        (good.replace("seed = 1", "seed = 1\nsede = 2"), vec!["bad.toml", "line 3", "sede"]),
        (format!("{good}[network]\nloss = {{ model = \"bernoulli\", p = 1.5 }}\n"), vec!["network.loss", "[0, 1]"]),
        (
            format!("{good}[network]\ndelay = {{ dist = \"constant\", value = \"-5ms\" }}\n"),
            vec!["bad.toml", "negative"],
        ),
        (format!("{good}[network]\ndelay = {{ dist = \"gaussian\", mean = \"5ms\" }}\n"), vec!["bad.toml", "gaussian"]),
        (
            format!("{good}[[faults]]\nkind = \"crash\"\nnode = \"z\"\nat = \"10s\"\n"),
            vec!["faults[0].node", "no node `z`"],
        ),
        (
            format!(
                "{good}[[faults]]\nkind = \"crash\"\nnode = \"a\"\nat = \"10s\"\ndown = \"20s\"\n[[faults]]\nkind = \"crash\"\nnode = \"a\"\nat = \"20s\"\n"
            ),
            vec!["faults", "overlap"],
        ),
        (
            format!("{good}[[faults]]\nkind = \"crash\"\nnode = \"a\"\nat = \"5m\"\n"),
            vec!["faults[0].at", "end of the run"],
        ),
        (good.replace("detectors = [\"phi\"]", "detectors = []"), vec!["detectors", "at least one"]),
        (good.replace("detectors = [\"phi\"]", "detectors = [\"phi:treshold=3\"]"), vec!["bad.toml", "treshold"]),
        (good.replace("[[nodes]]\nid = \"b\"\n", ""), vec!["nodes", "two nodes"]),
        (
            format!("{good}[monitoring]\nmode = \"pairs\"\npairs = [[\"a\", \"q\"]]\n"),
            vec!["monitoring.pairs[0]", "no node `q`"],
        ),
        (format!("{good}[defaults]\njitter = \"200ms\"\n"), vec!["jitter", "shorter than the heartbeat interval"]),
        (
            format!(
                "{good}[[faults]]\nkind = \"partition\"\nat = \"1s\"\nduration = \"1s\"\nfrom = [\"a\"]\nto = [\"zz\"]\n"
            ),
            vec!["faults[0].to", "no node `zz`"],
        ),
        // Every fault time is checked against the run (a fault after the end would write an
        // inverted window and never happen).
        (
            format!("{good}[[faults]]\nkind = \"pause\"\nnode = \"a\"\nat = \"2m\"\nduration = \"1s\"\n"),
            vec!["faults[0].at", "end of the run (1m)"],
        ),
        (
            format!(
                "{good}[[faults]]\nkind = \"partition\"\nat = \"1m\"\nduration = \"1s\"\ngroups = [[\"a\"], [\"b\"]]\n"
            ),
            vec!["faults[0].at", "end of the run"],
        ),
        (
            format!("{good}[[faults]]\nkind = \"delay-spike\"\nat = \"90s\"\nduration = \"1s\"\nextra = \"1s\"\n"),
            vec!["faults[0].at", "end of the run"],
        ),
        (
            format!("{good}[[faults]]\nkind = \"loss-burst\"\nat = \"61s\"\nduration = \"1s\"\np = 0.5\n"),
            vec!["faults[0].at", "end of the run"],
        ),
        (
            format!("{good}[[faults]]\nkind = \"omission\"\nnode = \"a\"\np = 0.5\nat = \"70s\"\n"),
            vec!["faults[0].at", "end of the run"],
        ),
        (
            format!("{good}[[faults]]\nkind = \"pause\"\nnode = \"a\"\nat = \"2s\"\nduration = \"200000d\"\n"),
            vec!["faults[0].duration", "146 years"],
        ),
        (good.replace("duration = \"1m\"", "duration = \"60000d\""), vec!["duration", "146 years"]),
        // A random process that would draw 1.8 · 10^9 crashes is refused, not drawn.
        (
            good.replace("duration = \"1m\"", "duration = \"1h\"")
                + "[[faults]]\nkind = \"crash\"\nnode = \"a\"\nmttf = \"1us\"\nmttr = \"1us\"\n",
            vec!["faults[0].mttf", "1800000000 events", "at most 1000000"],
        ),
        (
            format!(
                "{good}[[faults]]\nkind = \"pause\"\nnode = \"a\"\nevery = \"1ns\"\ndurations = {{ dist = \"constant\", value = \"1ns\" }}\n"
            ),
            vec!["faults[0].every", "events"],
        ),
    ];
    for (text, needles) in cases {
        let err = load_error(&text);
        for needle in needles {
            assert!(err.contains(needle), "`{needle}` not in: {err}\n--- file:\n{text}");
        }
    }
}

#[test]
fn runs_that_would_overflow_or_never_end_are_refused_or_finish() {
    let good = "name = \"t\"\nseed = 1\nduration = \"1m\"\ndetectors = [\"fixed:timeout=1s\"]\n[[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n";
    // A 30000-day interval (its timeline padding overflowed): runs, and sends one heartbeat.
    let e = Experiment::from_toml(
        Path::new("t.toml"),
        &good.replace("[[nodes]]\nid = \"a\"\n", "[[nodes]]\nid = \"a\"\ninterval = \"30000d\"\n"),
    )
    .unwrap();
    let out = simulate(&e, false);
    assert_eq!(out.summary.links.iter().find(|l| l.target == "a").unwrap().sent, 1);
    // A pause that runs past the end: its window is cut at the end, not inverted.
    let pause = "[[faults]]\nkind = \"pause\"\nnode = \"a\"\nat = \"50s\"\nduration = \"1h\"\n";
    let out = simulate(&Experiment::from_toml(Path::new("t.toml"), &format!("{good}{pause}")).unwrap(), false);
    assert!(
        out.timeline.as_ref().unwrap().faults.iter().all(|f| f.view_from_s <= f.view_to_s && f.view_to_s <= 60.0),
        "{:?}",
        out.timeline.as_ref().unwrap().faults
    );
    // A 1 ns interval for an hour (3.6 · 10^12 heartbeats a link) is refused before it runs,
    // with the estimate; `allow_large` would run it.
    let e = Experiment::from_toml(
        Path::new("t.toml"),
        &good
            .replace("duration = \"1m\"", "duration = \"1h\"")
            .replace("[[nodes]]\nid = \"a\"\n", "[defaults]\ninterval = \"1ns\"\n[[nodes]]\nid = \"a\"\n"),
    )
    .unwrap();
    let err = run(&e, &RunOptions::default(), &|_| {}).err().expect("refused").to_string();
    assert!(err.contains("7200000000002 deliveries") && err.contains("--allow-large"), "{err}");
    // Validating a 100,000-node all-to-all experiment does not list its 10^10 links.
    let mut nodes = String::new();
    for i in 0..100_000 {
        nodes.push_str(&format!("[[nodes]]\nid = \"n{i}\"\n"));
    }
    let huge = format!("name = \"t\"\nseed = 1\nduration = \"1m\"\ndetectors = [\"phi\"]\n{nodes}");
    let err = load_error(&huge);
    assert!(err.contains("monitoring") && err.contains("9999900000 monitored links"), "{err}");
}

#[test]
fn drop_stale_ignores_a_restarted_sender_unless_it_announces_a_new_incarnation() {
    // a crashes at 10 s and restarts at 12 s; its slots restart at 0. 100 heartbeats (seq
    // 0..99) were seen before the crash.
    let run_with = |new_incarnation: bool| {
        let text = format!(
            "name = \"t\"\nseed = 1\nduration = \"30s\"\ndetectors = [\"fixed:timeout=300ms\"]\nreceive = \"drop-stale\"\n\
             {CONSTANT_LINK}[[faults]]\nkind = \"crash\"\nnode = \"a\"\nat = \"10s\"\ndown = \"2s\"\nnew_incarnation = {new_incarnation}\n\
             [[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n[monitoring]\nmode = \"pairs\"\npairs = [[\"b\", \"a\"]]\n"
        );
        simulate(&Experiment::from_toml(Path::new("t.toml"), &text).unwrap(), false)
    };
    let fresh = run_with(true);
    let r = &result(&fresh, "fixed:timeout=300ms").qos;
    // New incarnation: heard again 5 ms after the restart; the only mistake is that 5 ms.
    assert_eq!(r.mistakes, 1);
    assert!((r.mistake_duration_s.max.unwrap() - 0.005).abs() < 1e-9);
    let stale = run_with(false);
    let r = &result(&stale, "fixed:timeout=300ms").qos;
    // Same incarnation: seq 0..=99 after the restart are "old" and dropped; trust returns only
    // when seq 100 arrives, 10 s after the restart (22.005 s).
    assert_eq!(r.mistakes, 1);
    assert!((r.mistake_duration_s.max.unwrap() - 10.005).abs() < 1e-9, "{:?}", r.mistake_duration_s);
    assert_eq!(stale.summary.links[0].delivered, fresh.summary.links[0].delivered - 100);
}

#[test]
fn dedup_drops_duplicates_and_raw_counts_them() {
    let body = "[network]\ndelay = { dist = \"uniform\", min = \"1ms\", max = \"30ms\" }\nduplicate = 0.2\n";
    let raw = simulate(&experiment(3, "10m", "\"fixed:timeout=300ms\"", body), false);
    let text = format!(
        "name = \"t\"\nseed = 3\nduration = \"10m\"\ndetectors = [\"fixed:timeout=300ms\"]\nreceive = \"dedup\"\n{body}\
         [[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n[monitoring]\nmode = \"pairs\"\npairs = [[\"b\", \"a\"]]\n"
    );
    let dedup = simulate(&Experiment::from_toml(Path::new("t.toml"), &text).unwrap(), false);
    let (r, d) = (&raw.summary.links[0], &dedup.summary.links[0]);
    assert_eq!((r.sent, r.duplicated), (d.sent, d.duplicated), "the same seed sends and duplicates alike");
    assert!((r.duplicated as f64 / r.sent as f64 - 0.2).abs() < 0.01);
    assert_eq!(r.delivered, r.sent + r.duplicated);
    assert_eq!(d.delivered, d.sent);
}

#[test]
fn omission_drops_that_share_of_a_live_nodes_heartbeats() {
    let body = format!(
        "{CONSTANT_LINK}[[faults]]\nkind = \"omission\"\nnode = \"a\"\np = 0.25\nat = \"100s\"\nduration = \"200s\"\n"
    );
    let out = simulate(&experiment(9, "400s", "\"fixed:timeout=150ms\"", &body), false);
    // 4000 slots, 2000 of them in the window: about 500 omitted.
    let sent = out.summary.links[0].sent as f64;
    assert!((4000.0 - sent - 500.0).abs() < 4.0 * (2000.0f64 * 0.25 * 0.75).sqrt(), "sent {sent}");
    // Each omission is a 200 ms gap > 150 ms: a mistake, so mistakes ≈ omissions not followed by another.
    let r = &result(&out, "fixed:timeout=150ms").qos;
    assert!(r.mistakes > 300 && r.mistakes < 500, "{}", r.mistakes);
}

#[test]
fn empirical_delays_come_from_a_trace() {
    let dir = tempfile::tempdir().unwrap();
    // A trace whose one-way delays are 2 ms (90 %) and 40 ms (10 %).
    let mut w = TraceWriter::new(Vec::new(), false).unwrap();
    for i in 0..1000u64 {
        let delay = if i % 10 == 0 { 40_000_000 } else { 2_000_000 };
        let sent = i * 100_000_000;
        w.write(
            "",
            "x",
            &fdlab::detector::Arrival {
                at: Nanos(sent + delay),
                seq: Some(i),
                incarnation: None,
                sent: Some(Nanos(sent)),
            },
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("delays.csv"), w.into_inner()).unwrap();
    let text = "name = \"t\"\nseed = 1\nduration = \"1h\"\ndetectors = [\"fixed:timeout=300ms\"]\n\
        [network]\ndelay = { dist = \"empirical\", trace = \"delays.csv\" }\n\
        [[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n[monitoring]\nmode = \"pairs\"\npairs = [[\"b\", \"a\"]]\n";
    let e = Experiment::from_toml(&dir.path().join("t.toml"), text).unwrap();
    let out = run(
        &e,
        &RunOptions {
            seed: None,
            base_dir: dir.path().into(),
            record_trace: false,
            scratch_dir: None,
            threads: 1,
            ..Default::default()
        },
        &|_| {},
    )
    .unwrap();
    let delays = out.delay.as_ref().unwrap();
    let slow = delays.count_between(39_000_000, 41_000_000) as f64 / delays.len() as f64;
    assert!((slow - 0.1).abs() < 0.01, "{slow}");
    assert_eq!(delays.count_between(2_500_000, 39_000_000), 0);
    // A missing trace is an error naming the file.
    let e = Experiment::from_toml(&dir.path().join("t.toml"), &text.replace("delays.csv", "nope.csv")).unwrap();
    let err = run(
        &e,
        &RunOptions {
            seed: None,
            base_dir: dir.path().into(),
            record_trace: false,
            scratch_dir: None,
            threads: 1,
            ..Default::default()
        },
        &|_| {},
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("nope.csv"), "{err}");
}

#[test]
fn a_fast_monitor_clock_measures_everything_in_its_own_time() {
    let text = "name = \"t\"\nseed = 1\nduration = \"20s\"\ndetectors = [\"fixed:timeout=300ms\"]\n\
        [network]\ndelay = { dist = \"constant\", value = \"5ms\" }\n\
        [[faults]]\nkind = \"crash\"\nnode = \"a\"\nat = \"10030ms\"\n\
        [[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\nclock_rate = 2.0\n[monitoring]\nmode = \"pairs\"\npairs = [[\"b\", \"a\"]]\n";
    let out = simulate(&Experiment::from_toml(Path::new("drift.toml"), text).unwrap(), true);
    // b sees a's 100 ms heartbeats 200 ms apart, and stamps arrivals in its own clock.
    assert_eq!(out.interarrival.as_ref().unwrap().value_at_quantile(0.5) / 1_000_000, 200);
    assert_eq!(trace(&out)[1].2.at, Nanos(210_000_000)); // sent at 0.1 s, arrives 0.105 s real
    let r = &result(&out, "fixed:timeout=300ms").qos;
    assert_eq!(r.mistakes, 0);
    // Last arrival 20.010 s, suspicion 20.310 s, crash 20.060 s, all in b's clock.
    assert!((r.crashes[0].detection_time_s.unwrap() - 0.25).abs() < 1e-9, "{:?}", r.crashes);
    assert!((r.crashes[0].at_s - 20.06).abs() < 1e-9);
}

/// The per-heartbeat detection estimate (no crash to measure) is the time from a send to
/// the suspicion it would end in, on the monitor's time line, whichever node's clock runs
/// fast: a constant 5 ms delay and a 300 ms timeout give the same estimate for every
/// heartbeat, however long the run (the clocks drift apart by 10 s a minute here).
#[test]
fn the_per_heartbeat_estimate_does_not_drift_with_the_clocks() {
    for (a, b, want) in [
        // b's clock at twice real time: 2 × 5 ms on the way, then 300 ms of b's clock.
        ("", "clock_rate = 2.0\n", 0.310),
        // a's clock fast, b's exact: a's timestamps run ahead of b's time line.
        ("clock_rate = 1.25\n", "", 0.305),
        // Both off, differently.
        ("clock_rate = 0.8\n", "clock_rate = 1.25\n", 0.30625),
    ] {
        let text = format!(
            "name = \"t\"\nseed = 1\nduration = \"60s\"\ndetectors = [\"fixed:timeout=300ms\"]\n\
             [network]\ndelay = {{ dist = \"constant\", value = \"5ms\" }}\n\
             [[nodes]]\nid = \"a\"\n{a}[[nodes]]\nid = \"b\"\n{b}[monitoring]\nmode = \"pairs\"\npairs = [[\"b\", \"a\"]]\n"
        );
        let out = simulate(&Experiment::from_toml(Path::new("drift.toml"), &text).unwrap(), false);
        let r = &result(&out, "fixed:timeout=300ms").qos;
        assert_eq!(r.mistakes, 0, "{a}{b}");
        let d = &r.detection_time_s;
        assert!(d.count > 400, "{a}{b}: {d:?}");
        for v in [d.mean, d.p50, d.p99, d.max] {
            // Within the histogram's 3 significant digits.
            assert!((v.unwrap() - want).abs() < want * 1e-3, "{a}{b}: {d:?}");
        }
    }
}

#[test]
fn nothing_leaves_a_node_while_it_is_down_whatever_pauses_overlap_its_crash() {
    let sender_pause =
        "[[faults]]\nkind = \"pause\"\nnode = \"a\"\nwhat = \"sender\"\nat = \"10s\"\nduration = \"2s\"\n";
    let crash = |at: &str, down: &str| format!("[[faults]]\nkind = \"crash\"\nnode = \"a\"\nat = \"{at}\"\n{down}");
    for after_pause in ["send-now", "skip"] {
        // Paused over [10 s, 12 s], crash-stopped at 11 s: the heartbeat `send-now` would
        // send at the resume is never sent, so the last heartbeat is seq 99 (9.9 s, heard at
        // 9.905 s) and the 300 ms timeout suspects at 10.205 s, before the crash: a mistake
        // of 0.795 s that the crash ends, and detection at once (T_D = 0).
        let body =
            format!("[defaults]\nafter_pause = \"{after_pause}\"\n{CONSTANT_LINK}{sender_pause}{}", crash("11s", ""));
        let out = simulate(&experiment(1, "20s", "\"fixed:timeout=300ms\"", &body), true);
        assert_eq!(seqs(&out), (0..100).collect::<Vec<u64>>(), "{after_pause}");
        let r = &result(&out, "fixed:timeout=300ms").qos;
        assert_eq!(r.crashes[0].detection_time_s, Some(0.0), "{after_pause}");
        assert_eq!(r.mistakes, 1);
        assert!((r.mistake_duration_s.max.unwrap() - 0.795).abs() < 1e-9, "{after_pause}");

        // Down over [11 s, 11.5 s] inside the pause: the restart's slots 0..=4 fall in the
        // pause; with `send-now` one heartbeat leaves at the resume (12 s, the last missed
        // slot, 4), else slot 5 at 12 s; then slots to 14 (12.9 s). Nothing leaves while down.
        let body = format!(
            "[defaults]\nafter_pause = \"{after_pause}\"\n{CONSTANT_LINK}{sender_pause}{}",
            crash("11s", "down = \"500ms\"\n")
        );
        let out = simulate(&experiment(1, "13s", "\"fixed:timeout=300ms\"", &body), true);
        let sent: Vec<(u64, u64)> =
            trace(&out).iter().map(|(_, _, a)| (a.incarnation.unwrap(), a.sent.unwrap().0 / 1_000_000)).collect();
        assert!(sent.iter().all(|&(_, ms)| !(11_000..11_500).contains(&ms)), "{after_pause}: sent while down");
        let after: Vec<u64> =
            trace(&out).iter().filter(|(_, _, a)| a.incarnation == Some(1)).map(|(_, _, a)| a.seq.unwrap()).collect();
        let expected: Vec<u64> = if after_pause == "send-now" { (4..15).collect() } else { (5..15).collect() };
        assert_eq!(after, expected, "{after_pause}");
    }
}

#[test]
fn a_monitor_paused_across_its_own_crash_buffers_nothing_while_down() {
    // b (the monitor) is paused over [10 s, 12 s] and down over [11 s, 15 s]: datagrams
    // buffered before the crash die with it, nothing reaches it while down, and the pause's
    // end at 12 s (while down) delivers nothing. It hears seq 0..=99 before the pause
    // (9.905 s) and again from the first heartbeat sent after its restart (15.0 s, seq 150).
    let body = format!(
        "{CONSTANT_LINK}[[faults]]\nkind = \"pause\"\nnode = \"b\"\nwhat = \"monitor\"\nat = \"10s\"\nduration = \"2s\"\n\
         [[faults]]\nkind = \"crash\"\nnode = \"b\"\nat = \"11s\"\ndown = \"4s\"\n"
    );
    let out = simulate(&experiment(1, "20s", "\"fixed:timeout=300ms\"", &body), true);
    assert_eq!(seqs(&out), (0..100).chain(150..200).collect::<Vec<u64>>());
    let r = &result(&out, "fixed:timeout=300ms").qos;
    // Observed [0.005, 11) and [15.005, 20); the pause hid the silence until the crash, so
    // what b would have suspected from 10.205 s is censored at 11 s.
    assert!((r.observed_up_s - (10.995 + 4.995)).abs() < 1e-9, "{}", r.observed_up_s);
    assert_eq!((r.mistakes, r.censored.count), (0, 1));
}

#[test]
fn seq_after_restart_decides_whether_dedup_hears_a_restarted_node_without_a_new_incarnation() {
    // a (100 ms heartbeats, 5 ms away) is down over [10 s, 12 s] and comes back in its old
    // incarnation; b drops what it has seen.
    let run_with = |seq: &str| {
        let text = format!(
            "name = \"t\"\nseed = 1\nduration = \"40s\"\ndetectors = [\"fixed:timeout=300ms\", \"chen:alpha=100ms\"]\n\
             receive = \"dedup\"\n[defaults]\nseq_after_restart = \"{seq}\"\n{CONSTANT_LINK}\
             [[faults]]\nkind = \"crash\"\nnode = \"a\"\nat = \"10s\"\ndown = \"2s\"\nnew_incarnation = false\n\
             [[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n[monitoring]\nmode = \"pairs\"\npairs = [[\"b\", \"a\"]]\n"
        );
        simulate(&Experiment::from_toml(Path::new("t.toml"), &text).unwrap(), true)
    };
    // `reset` (the default): the restarted a numbers from 0 again, and seq 0..=99 were seen
    // before the crash, so dedup drops them: a is not heard until seq 100, 10 s after its
    // restart (22.005 s), a mistake of 10.005 s from the recovery on.
    let reset = run_with("reset");
    let r = &result(&reset, "fixed:timeout=300ms").qos;
    assert_eq!(r.mistakes, 1);
    assert!((r.mistake_duration_s.max.unwrap() - 10.005).abs() < 1e-9, "{:?}", r.mistake_duration_s);
    assert_eq!(seqs(&reset), (0..100).chain(100..280).collect::<Vec<u64>>());
    // `continue`: numbering resumes after the last slot before the crash (seq 100 at 12 s),
    // so nothing repeats: heard 5 ms after the restart.
    let cont = run_with("continue");
    let r = &result(&cont, "fixed:timeout=300ms").qos;
    assert_eq!(r.mistakes, 1);
    assert!((r.mistake_duration_s.max.unwrap() - 0.005).abs() < 1e-9, "{:?}", r.mistake_duration_s);
    assert_eq!(seqs(&cont), (0..380).collect::<Vec<u64>>());
    assert_eq!(cont.summary.links[0].delivered, reset.summary.links[0].delivered + 100);
}

#[test]
fn totals_are_computed_from_integers_over_every_mistake() {
    // Three nodes, all watching all, lossy: the totals of each configuration must equal
    // what a direct computation over every listed mistake and every link gives.
    let text = "name = \"t\"\nseed = 9\nduration = \"20m\"\ndetectors = [\"fixed:timeout=150ms|400ms\", \"phi:threshold=1|3,pause=0\"]\n\
         [network]\ndelay = { dist = \"lognormal\", median = \"3ms\", sigma = 0.9 }\nloss = { model = \"bernoulli\", p = 0.1 }\n\
         [[faults]]\nkind = \"crash\"\nnode = \"a\"\nat = \"300s\"\ndown = \"20s\"\n\
         [[nodes]]\nid = \"a\"\n[[nodes]]\nid = \"b\"\n[[nodes]]\nid = \"c\"\n";
    let out = simulate(&Experiment::from_toml(Path::new("t.toml"), text).unwrap(), false);
    for t in &out.summary.totals {
        let rs: Vec<&ResultEntry> = out.summary.results.iter().filter(|r| r.detector == t.detector).collect();
        assert_eq!(rs.len(), 6);
        let listed: Vec<_> = rs.iter().flat_map(|r| r.qos.listed.iter().filter(|m| !m.censored)).collect();
        assert!(listed.len() > 10, "{}: the scenario should make mistakes", t.detector);
        assert_eq!(t.mistakes, listed.len() as u64);
        let sum_ns: u128 = listed.iter().map(|m| (m.end - m.start).0 as u128).sum();
        assert_eq!(t.mistake_duration_s.mean, Some(sum_ns as f64 / listed.len() as f64 / 1e9), "{}", t.detector);
        let max_ns = listed.iter().map(|m| (m.end - m.start).0).max().unwrap();
        assert_eq!(t.mistake_duration_s.max, Some(max_ns as f64 / 1e9));
        let up_ns: u128 = rs.iter().map(|r| r.qos.exact.up.0 as u128).sum();
        assert_eq!(t.observed_up_s, up_ns as f64 / 1e9);
        let wrong_ns: u128 = rs.iter().flat_map(|r| r.qos.listed.iter()).map(|m| (m.end - m.start).0 as u128).sum();
        assert_eq!(t.query_accuracy, Some((up_ns - wrong_ns) as f64 / up_ns as f64), "{}", t.detector);
        assert_eq!(t.mistake_rate_per_s, Some(listed.len() as f64 / (up_ns as f64 / 1e9)));
        assert_eq!(t.mistakes_per_day, t.mistake_rate_per_s.map(|r| r * 86_400.0));
        let by_cause: u64 = t.mistakes_by_cause.values().sum();
        assert_eq!(by_cause, t.mistakes);
        // Detection over the crashes of a, on both links that watch it.
        assert_eq!(t.detection_time_s.count, 2, "{}", t.detector);
        let detections: Vec<f64> = rs.iter().flat_map(|r| &r.qos.crashes).filter_map(|c| c.detection_time_s).collect();
        let mean = t.detection_time_s.mean.unwrap();
        assert!((mean - detections.iter().sum::<f64>() / 2.0).abs() < 1e-12, "{}", t.detector);
    }
}

#[test]
fn replay_names_a_mistake_after_a_short_crash_recovery_as_the_simulator_does() {
    // Heartbeats every 100 ms from 0 to 2 s, none at 1.0..=1.2 s: the 250 ms timeout
    // crosses at 0.9 + 0.25 = 1.15 s. Declared down over [0.95 s, 1.25 s), the crossing
    // detects the crash (T_D 0.2 s) and the suspicion outlives the recovery (`recovery`).
    // Declared down over [0.95 s, 1.05 s), the crossing comes after the recovery: a mistake
    // caused by the crash's silence, also `recovery`, not `network`.
    let mut text = String::from("target,received_ns\n");
    for i in (0..=20u64).filter(|i| !(10..=12).contains(i)) {
        text.push_str(&format!("a,{}\n", i * 100_000_000));
    }
    let replay_with = |crash: CrashDecl| {
        let config = ReplayConfig {
            trace: "t.csv".into(),
            detectors: vec![DetectorSpec::parse("fixed:timeout=250ms").unwrap()],
            crashes: vec![crash],
            monitor_crashes: vec![],
            end: None,
            ..ReplayConfig::default()
        };
        let mut reader = TraceReader::new(Path::new("t.csv"), text.as_bytes()).unwrap();
        replay_from(&mut reader, &config, None).unwrap().summary
    };
    let ms = Nanos::from_millis;
    let long = replay_with(CrashDecl::down("a", ms(950), ms(1250)));
    let q = &long.results[0].qos;
    assert_eq!(q.crashes[0].detection_time_s, Some(0.2));
    assert_eq!(q.mistakes_by_cause.get(&fdlab::analysis::qos::Cause::Recovery), Some(&1));
    let short = replay_with(CrashDecl::down("a", ms(950), ms(1050)));
    let q = &short.results[0].qos;
    assert_eq!(q.crashes[0].detection_time_s, None);
    assert_eq!(q.mistakes, 1);
    assert_eq!(q.mistakes_by_cause.keys().copied().collect::<Vec<_>>(), [fdlab::analysis::qos::Cause::Recovery]);
}

#[test]
fn loss_bursts_and_delay_spikes_act_on_what_is_sent_in_their_window() {
    // 100 ms heartbeats over a lossless 5 ms link for 5 minutes; a loss burst over
    // [60 s, 160 s) (1000 sends) and a 1 s delay spike over [200 s, 210 s) (100 sends).
    let run_with = |p: &str| {
        let body = format!(
            "{CONSTANT_LINK}[[faults]]\nkind = \"loss-burst\"\nat = \"60s\"\nduration = \"100s\"\np = {p}\n\
             [[faults]]\nkind = \"delay-spike\"\nat = \"200s\"\nduration = \"10s\"\nextra = \"1s\"\n"
        );
        simulate(&experiment(2, "5m", "\"fixed:timeout=300ms\"", &body), true)
    };
    let all = run_with("1");
    let link = &all.summary.links[0];
    assert_eq!((link.sent, link.lost), (3000, 1000));
    let sent_ms = |a: &Arrival| a.sent.unwrap().0 / 1_000_000;
    let rows = trace(&all);
    assert!(rows.iter().all(|(_, _, a)| !(60_000..160_000).contains(&sent_ms(a))));
    // Inside the spike each heartbeat takes 1.005 s, outside 5 ms.
    for (_, _, a) in &rows {
        let delay = a.at.0 - a.sent.unwrap().0;
        let spiked = (200_000..210_000).contains(&sent_ms(a));
        assert_eq!(delay, if spiked { 1_005_000_000 } else { 5_000_000 }, "sent at {} ms", sent_ms(a));
    }
    // p = 0.5: about half of the 1000 sends in the window are lost (binomial, sd 15.8).
    let half = run_with("0.5");
    let lost = half.summary.links[0].lost as f64;
    assert!((lost - 500.0).abs() < 4.0 * 15.8, "{lost}");
    // Every loss is in the window: outside it, all 2000 sends arrive.
    let outside = trace(&half).iter().filter(|(_, _, a)| !(60_000..160_000).contains(&sent_ms(a))).count();
    assert_eq!(outside, 2000);
    assert_eq!(half.summary.links[0].sent, 3000);
}

#[test]
fn a_heartbeat_arriving_at_the_runs_last_instant_is_not_delivered() {
    // Slot 100 leaves at 10 s and arrives at 10.005 s, the end of the run: the run covers
    // [0, end), so it is sent but not delivered.
    let out = simulate(&experiment(1, "10005ms", "\"fixed:timeout=300ms\"", CONSTANT_LINK), true);
    let link = &out.summary.links[0];
    assert_eq!((link.sent, link.delivered), (101, 100));
    assert_eq!(seqs(&out).last(), Some(&99));
}

#[test]
fn a_monitor_crash_and_the_end_of_its_pause_in_one_gap_between_deliveries_come_in_time_order() {
    // a sends every 100 ms, 5 ms away, so heartbeats reach b at x.x05 s. b (the monitor) is
    // stalled from 10 s and crashes (for 1 s) just before or exactly as its stall would end,
    // with no delivery in between. Before the stall b last heard seq 99 (9.905 s), so the
    // 300 ms timeout crosses at 10.205 s, during the stall.
    let run_with = |crash_at: &str| {
        let body = format!(
            "{CONSTANT_LINK}[[faults]]\nkind = \"pause\"\nnode = \"b\"\nwhat = \"monitor\"\nat = \"10s\"\nduration = \"1002ms\"\n\
             [[faults]]\nkind = \"crash\"\nnode = \"b\"\nat = \"{crash_at}\"\ndown = \"1s\"\n"
        );
        let out = simulate(&experiment(1, "20s", "\"fixed:timeout=300ms\"", &body), false);
        result(&out, "fixed:timeout=300ms").qos.clone()
    };
    // The crash (11.001 s) comes first: the buffered heartbeats die with b, and what it would
    // have suspected since 10.205 s is censored at the crash (0.796 s). The stall's end at
    // 11.002 s finds a fresh b that has heard nothing: no check fires, no mistake.
    let q = run_with("11001ms");
    assert_eq!((q.mistakes, q.censored.count), (0, 1));
    assert!((q.censored.durations_so_far_s[0] - 0.796).abs() < 1e-9, "{:?}", q.censored);
    // At a tie (both at 11.002 s) the stall ends first: its check fires (timers first), then
    // the buffered heartbeats restore trust at once: a zero-length mistake caused by the
    // monitor's pause; the crash then finds nothing to censor.
    let q = run_with("11002ms");
    assert_eq!((q.mistakes, q.censored.count), (1, 0), "{:?}", q.listed);
    assert_eq!(q.mistake_duration_s.max, Some(0.0));
    assert_eq!(q.mistakes_by_cause.keys().copied().collect::<Vec<_>>(), [fdlab::analysis::qos::Cause::MonitorPause]);
}

#[test]
fn a_restarted_monitor_hears_a_heartbeat_arriving_at_its_restart_instant() {
    // b is down over [10 s, 12.005 s); seq 120 leaves at 12 s and arrives at 12.005 s, the
    // instant b is up again: heard. Seqs 100..=119 reached b while it was down.
    let body = format!("{CONSTANT_LINK}[[faults]]\nkind = \"crash\"\nnode = \"b\"\nat = \"10s\"\ndown = \"2005ms\"\n");
    let out = simulate(&experiment(1, "13s", "\"fixed:timeout=300ms\"", &body), true);
    assert_eq!(seqs(&out), (0..100).chain(120..130).collect::<Vec<u64>>());
}

#[test]
fn chart_samples_at_a_delivery_instant_see_the_heartbeat_and_the_last_is_the_runs_end() {
    // a's sender stalls over [10 s, 12 s): the chart's window is [8 s, 14 s] (2 s either
    // side), sampled every 10 ms, 601 samples; heartbeats leave every 100 ms and arrive 10 ms
    // later, on sample instants. The run ends at 14 s, the window's last sample.
    let body = "[network]\ndelay = { dist = \"constant\", value = \"10ms\" }\n\
        [[faults]]\nkind = \"pause\"\nnode = \"a\"\nwhat = \"sender\"\nat = \"10s\"\nduration = \"2s\"\n";
    let out = simulate(&experiment(1, "14s", "\"fixed:timeout=300ms\"", body), false);
    let samples: Vec<(u64, f64)> =
        out.timeline.as_ref().unwrap().levels.iter().map(|l| (l.at.0 / 1_000_000, l.level)).collect();
    assert_eq!(samples.len(), 601);
    assert_eq!((samples[0].0, samples[600].0), (8_000, 14_000));
    let at = |ms: u64| samples.iter().find(|s| s.0 == ms).unwrap().1;
    // At 8.010 s a heartbeat arrives: the sample sees it (silence 0), not the 100 ms before.
    assert_eq!(at(8_010), 0.0);
    assert!((at(8_000) - 0.09).abs() < 1e-12);
    // The last heartbeat before the stall arrived at 9.910 s; at 12.000 s the silence is 2.09 s.
    assert!((at(12_000) - 2.09).abs() < 1e-12);
    // The first after it left at 12 s and arrived at 12.010 s.
    assert_eq!(at(12_010), 0.0);
    assert!(out.timeline.as_ref().unwrap().levels.iter().all(|l| (l.level >= l.threshold) == l.suspected));

    // The monitor b crashes at 13 s for 500 ms, inside the window: samples before the crash
    // see the detector before it; the one at the crash's instant, a fresh detector that has
    // heard nothing (level 0), as every sample until b hears a again (13.510 s).
    let crash = format!("{body}[[faults]]\nkind = \"crash\"\nnode = \"b\"\nat = \"13s\"\ndown = \"500ms\"\n");
    let out = simulate(&experiment(1, "14s", "\"fixed:timeout=300ms\"", &crash), false);
    let samples: Vec<(u64, f64)> =
        out.timeline.as_ref().unwrap().levels.iter().map(|l| (l.at.0 / 1_000_000, l.level)).collect();
    let at = |ms: u64| samples.iter().find(|s| s.0 == ms).unwrap().1;
    assert!((at(12_990) - 0.08).abs() < 1e-12);
    assert_eq!((at(13_000), at(13_300), at(13_500)), (0.0, 0.0, 0.0));
    assert!((at(13_600) - 0.09).abs() < 1e-12);
}
