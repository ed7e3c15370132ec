//! The seed's link layer against its closed forms and invariants (issue #16).
//!
//! Closed forms hold under the conditions stated in each test: delay bounded (uniform
//! 4–6 ms each way, so every RTT is at most 12 ms), a fixed RTO of 50 ms (above the largest
//! RTT), one operation in flight, the server ACKing every copy, data and ACK each lost
//! independently with probability p. Statistical tolerances are 4 standard errors of the
//! mean, the standard error computed from the run's own per-operation values (a fixed seed:
//! the test is deterministic; 4 SE leaves a correct implementation a 1-in-15 000 chance of
//! failing on a new seed).

use std::path::Path;

use fdlab::experiment::{Experiment, ValidExperiment};
use fdlab::sim::workloads::run_one;
use fdlab::workload::engine::Outcome;
use proptest::prelude::*;

fn experiment(network: &str, workload: &str, duration: &str) -> ValidExperiment {
    let text = format!(
        r#"
        name = "links"
        seed = 1
        duration = "{duration}"
        detectors = ["fixed:timeout=1s"]
        [network]
        {network}
        [[nodes]]
        id = "a"
        [[nodes]]
        id = "b"
        [[workloads]]
        name = "w"
        client = "a"
        server = "b"
        {workload}
        "#
    );
    Experiment::from_toml("links.toml".as_ref(), &text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn run(e: &ValidExperiment, seed: u64) -> Outcome {
    run_one(e, 0, seed, Path::new(".")).unwrap()
}

const BOUNDED: &str = r#"delay = { dist = "uniform", min = "4ms", max = "6ms" }"#;

/// Mean and standard error of the mean.
fn mean_se(xs: impl Iterator<Item = f64>) -> (f64, f64) {
    let xs: Vec<f64> = xs.collect();
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

fn close(what: &str, (mean, se): (f64, f64), expected: f64) {
    assert!(se > 0.0 || mean == expected, "{what}: no variation");
    assert!((mean - expected).abs() <= 4.0 * se, "{what}: {mean} ± {se} (SE), expected {expected}");
}

#[test]
fn a_fair_loss_link_delivers_one_minus_p() {
    for p in [0.1, 0.3] {
        let e = experiment(
            &format!("{BOUNDED}\nloss = {{ model = \"bernoulli\", p = {p} }}"),
            r#"protocol = "fair-loss"
               every = "10ms""#,
            "30m",
        );
        let o = run(&e, 1);
        assert_eq!(o.report.issued, 180_000);
        assert_eq!(o.report.retransmissions, 0);
        // Binomial: SE = √(p(1−p)/n).
        close("delivered share", mean_se(o.ops.iter().map(|op| (op.applied > 0) as u8 as f64)), 1.0 - p);
        // Sent once, applied at most once.
        assert!(o.ops.iter().all(|op| op.copies_sent == 1 && op.applied <= 1));
    }
}

#[test]
fn a_stubborn_link_matches_its_closed_forms() {
    for p in [0.1, 0.2, 0.4] {
        let e = experiment(
            &format!("{BOUNDED}\nloss = {{ model = \"bernoulli\", p = {p} }}"),
            r#"protocol = "stubborn"
               operation = "add"
               every = "100ms"
               count = 20000
               rto = { policy = "fixed", timeout = "50ms" }"#,
            "2h",
        );
        let o = run(&e, 7);
        let r = &o.report;
        assert_eq!((r.issued, r.applied, r.unfinished, r.session_breaks), (20_000, 20_000, 0, 0), "p = {p}");
        let q = 1.0 - p;
        // Each round trip gets through with (1−p)²: sends are geometric with mean 1/(1−p)².
        close("sends per op", mean_se(o.ops.iter().map(|op| op.copies_sent as f64)), 1.0 / (q * q));
        // Each send reaches the server with 1−p: 1/(1−p) copies, all applied without dedup.
        close("copies reaching the server", mean_se(o.ops.iter().map(|op| op.copies_reached as f64)), 1.0 / q);
        close("extra adds", mean_se(o.ops.iter().map(|op| op.applied as f64 - 1.0)), p / q);
        assert_eq!(r.applications, r.copies_reached_server);
        assert_eq!(r.final_state as u64, r.applications);
        // The first application waits for the first data copy through: geometric failures of
        // RTO each, then the one-way delay (mean 5 ms): d + RTO·p/(1−p).
        let latency_ms = o.ops.iter().map(|op| (op.first_applied.unwrap().0 - op.first_sent.unwrap().0) as f64 / 1e6);
        close("first-application latency (ms)", mean_se(latency_ms), 5.0 + 50.0 * p / q);
        // The RTO is above every RTT: no retransmission is premature.
        assert_eq!(r.spurious_retransmissions, 0);
        // The links' own facts: every datagram the protocol sent, each copy that reached a
        // node (none down, every operation done long before the end), and the link model's
        // loss and delay.
        let (data, ack) = (&r.data_link, &r.ack_link);
        assert_eq!(
            (data.sent, data.arrived, data.cut, data.duplicated),
            (r.transmissions, r.copies_reached_server, 0, 0)
        );
        assert_eq!(data.sent - data.lost, data.arrived);
        // Without dedup the server ACKs every copy that reached it.
        assert_eq!(
            (ack.sent, ack.arrived, ack.sent - ack.lost),
            (r.copies_reached_server, r.acks_received, ack.arrived)
        );
        for (what, l) in [("data", data), ("ack", ack)] {
            let n = l.sent as f64;
            let share = l.lost as f64 / n;
            close(&format!("{what} loss, p = {p}"), (share, (p * q / n).sqrt()), p);
            // Uniform 4–6 ms: mean 5 ms, SD 2/√12 ms; every delay within its bounds (the
            // histogram's 3 digits above).
            let d = l.delay.as_ref().unwrap();
            close(&format!("{what} delay (ms)"), (d.mean_ms, (2.0 / 12f64.sqrt()) / (l.arrived as f64).sqrt()), 5.0);
            assert!(d.p50_ms > 4.0 && d.max_ms <= 6.0 * 1.001 && d.p50_ms <= d.max_ms, "{what}: {d:?}");
        }
    }
}

const CONSTANT_5MS: &str = r#"delay = { dist = "constant", value = "5ms" }"#;

/// A partition of the link a → b (the workload's data link) from `at` for `duration`.
fn cut_a_to_b(at: &str, duration: &str) -> String {
    format!("[[faults]]\nkind = \"partition\"\nat = \"{at}\"\nduration = \"{duration}\"\nfrom = [\"a\"]\nto = [\"b\"]")
}

/// A workload's link facts by hand: constant 5 ms each way, four operations sent once; the
/// one at 200 ms falls in a cut of the data link, the one at 995 ms arrives when the run ends
/// at 1 s: the run's end is not in it (half-open, as every window), so it never arrived.
#[test]
fn a_workloads_links_count_cuts_and_what_is_still_on_the_way() {
    let e = experiment(
        CONSTANT_5MS,
        &format!(
            "protocol = \"fair-loss\"\nschedule = [\"100ms\", \"200ms\", \"300ms\", \"995ms\"]\n{}",
            cut_a_to_b("150ms", "100ms")
        ),
        "1s",
    );
    let r = run(&e, 1).report;
    let (data, ack) = (&r.data_link, &r.ack_link);
    assert_eq!((data.sent, data.cut, data.lost, data.duplicated, data.arrived), (4, 1, 0, 0, 2));
    assert_eq!((ack.sent, ack.cut, ack.lost, ack.duplicated, ack.arrived), (2, 0, 0, 0, 2));
    for l in [data, ack] {
        let d = l.delay.as_ref().unwrap();
        assert_eq!(d.mean_ms, 5.0);
        assert!((d.max_ms - 5.0).abs() <= 5.0 * 1e-3, "{d:?}");
    }
    // Two ACKs reached the client, which a fair-loss client does not wait for.
    assert_eq!((r.applied, r.copies_reached_server, r.acks_received), (2, 2, 0));
    // The other extreme: the data link cut for the whole run. Nothing arrives, no ACK is
    // sent, and there is no delay to summarize.
    let cut = experiment(
        CONSTANT_5MS,
        &format!(
            "protocol = \"stubborn\"\nevery = \"100ms\"\nrto = {{ policy = \"fixed\", timeout = \"50ms\" }}\n{}",
            cut_a_to_b("0s", "1s")
        ),
        "1s",
    );
    let c = run(&cut, 1).report;
    assert!(c.data_link.sent > 10, "{:?}", c.data_link);
    assert_eq!((c.data_link.cut, c.data_link.arrived, &c.data_link.delay), (c.data_link.sent, 0, &None));
    assert_eq!((c.ack_link.sent, c.ack_link.arrived, &c.ack_link.delay), (0, 0, &None));
    // The table `fdlab run` prints: two of four never applied, one data datagram cut, no
    // ACK lost, 5 ms latency; the default operation adds: the counter at 2 of 4.
    let out = fdlab::sim::run(&e, &Default::default(), &|_| {}).unwrap();
    let table = out.summary.workload_table();
    let row: Vec<&str> = table.lines().find(|l| l.starts_with("w ")).unwrap().split_whitespace().collect();
    assert_eq!(
        row,
        ["w", "fair-loss", "add", "none", "4", "2", "0", "0", "0", "0", "0", "1/0", "5.00ms", "5.00ms", "2", "(4)"],
        "{table}"
    );
}

#[test]
fn without_loss_no_retransmission_is_spurious_and_below_the_rtt_every_one_is() {
    let e = experiment(
        &format!("{BOUNDED}\nduplicate = 0.1"),
        r#"protocol = "stubborn"
           every = "100ms"
           count = 5000
           rto = { policy = "fixed", timeout = "50ms" }"#,
        "20m",
    );
    let r = run(&e, 3).report;
    assert_eq!((r.retransmissions, r.spurious_retransmissions), (0, 0));
    // An RTO of 7 ms is below most RTTs (8–12 ms): its retransmissions are premature, and
    // the counter sees them (every one: nothing is ever lost).
    let e = experiment(
        BOUNDED,
        r#"protocol = "stubborn"
           every = "100ms"
           count = 5000
           rto = { policy = "fixed", timeout = "7ms" }"#,
        "20m",
    );
    let r = run(&e, 3).report;
    assert!(r.retransmissions > 1000, "{r:?}");
    assert_eq!(r.spurious_retransmissions, r.retransmissions);
}

#[test]
fn without_dedup_duplicated_adds_apply_twice_exactly_as_often_as_extra_copies_arrive() {
    let e = experiment(
        r#"delay = { dist = "uniform", min = "1ms", max = "30ms" }
           duplicate = 0.2
           loss = { model = "bernoulli", p = 0.1 }"#,
        r#"protocol = "stubborn"
           operation = "add"
           window = 4
           every = "20ms"
           count = 20000
           rto = { policy = "rfc6298", min_rto = "200ms" }"#,
        "1h",
    );
    let o = run(&e, 11);
    let r = &o.report;
    assert_eq!(r.unfinished, 0);
    let extra_copies: u64 = o.ops.iter().map(|op| op.copies_reached.saturating_sub(1) as u64).sum();
    assert!(r.extra_applications > 1000, "{r:?}");
    assert_eq!(r.extra_applications, extra_copies);
    assert!(o.ops.iter().any(|op| op.applied == 2 && op.copies_sent == 1), "a duplicate alone applies twice");
    assert_eq!(r.final_state - r.intended_state, r.extra_applications as i64);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Without session breaks, under loss, duplication and reordering, `perfect` applies
    /// every operation exactly once and `fifo-perfect` also in order.
    #[test]
    fn perfect_links_apply_every_operation_exactly_once(
        seed in 0u64..1_000_000,
        loss in 0.0f64..0.4,
        duplicate in 0.0f64..0.5,
        window in 1u64..8,
        fifo in any::<bool>(),
        adaptive in any::<bool>(),
    ) {
        let protocol = if fifo { "fifo-perfect" } else { "perfect" };
        // max_rto 2 s: a 60 s back-off could outlast the run, and the property needs it drained.
        let rto = if adaptive { r#"{ policy = "rfc6298", min_rto = "200ms", max_rto = "2s" }"# } else { r#"{ policy = "fixed", timeout = "20ms" }"# };
        let e = experiment(
            &format!("delay = {{ dist = \"uniform\", min = \"1ms\", max = \"40ms\" }}\nloss = {{ model = \"bernoulli\", p = {loss} }}\nduplicate = {duplicate}"),
            &format!("protocol = \"{protocol}\"\noperation = \"transfer\"\nwindow = {window}\nevery = \"10ms\"\ncount = 400\nrto = {rto}"),
            "2h",
        );
        let o = run(&e, seed);
        let r = &o.report;
        prop_assert_eq!(r.unfinished, 0);
        prop_assert!(o.ops.iter().all(|op| op.applied == 1), "{:?}", r);
        prop_assert_eq!((r.extra_applications, r.money_created, r.money_destroyed), (0, 0, 0));
        prop_assert_eq!(r.final_state, r.intended_state);
        if fifo {
            prop_assert_eq!(r.out_of_order, 0);
            prop_assert_eq!(o.applications, (0..400).collect::<Vec<usize>>());
        }
    }
}

#[test]
fn reordering_is_real_without_the_reorder_buffer() {
    // The property above would be empty if nothing were ever reordered: `perfect` on the same
    // links applies some operations out of order.
    let e = experiment(
        r#"delay = { dist = "uniform", min = "1ms", max = "40ms" }
           loss = { model = "bernoulli", p = 0.2 }"#,
        r#"protocol = "perfect"
           window = 6
           every = "10ms"
           count = 2000
           rto = { policy = "fixed", timeout = "20ms" }"#,
        "30m",
    );
    let r = run(&e, 5).report;
    assert!(r.out_of_order > 100, "{r:?}");
    assert_eq!(r.extra_applications, 0);
}

/// Two nodes over 1–20 ms links with `loss` and `duplicate`, a crash-recovery of the server
/// b (`crash` = (at, down)) and a cut of its ACKs to a (`cut` = (at, duration)), and the
/// workload `w` (a client, b server, `protocol = "perfect"`) with the lines `workload`.
fn with_breaks(
    duration: &str,
    loss: f64,
    duplicate: f64,
    crash: (&str, &str),
    cut: (&str, &str),
    workload: &str,
) -> ValidExperiment {
    let text = format!(
        r#"
        name = "breaks"
        seed = 1
        duration = "{duration}"
        detectors = ["fixed:timeout=1s"]
        [network]
        delay = {{ dist = "uniform", min = "1ms", max = "20ms" }}
        loss = {{ model = "bernoulli", p = {loss} }}
        duplicate = {duplicate}
        [[nodes]]
        id = "a"
        [[nodes]]
        id = "b"
        [[faults]]
        kind = "crash"
        node = "b"
        at = "{}"
        down = "{}"
        [[faults]]
        kind = "partition"
        at = "{}"
        duration = "{}"
        from = ["b"]
        to = ["a"]
        [[workloads]]
        name = "w"
        client = "a"
        server = "b"
        protocol = "perfect"
        {workload}
        "#,
        crash.0, crash.1, cut.0, cut.1
    );
    Experiment::from_toml("breaks.toml".as_ref(), &text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Across session breaks (a server crash-recovery and an ACK partition longer than the
    /// session timeout), a dedup table that survives them still applies every operation
    /// exactly once; one kept per session re-applies exactly the ambiguous operations the
    /// server had already applied.
    #[test]
    fn a_persistent_dedup_table_is_exactly_once_across_session_breaks(
        seed in 0u64..1_000_000,
        loss in 0.0f64..0.3,
        duplicate in 0.0f64..0.3,
        window in 1u64..6,
        persistent in any::<bool>(),
    ) {
        let dedup = if persistent { "persistent" } else { "session" };
        let e = with_breaks(
            "10m",
            loss,
            duplicate,
            ("1m", "3s"),
            ("3m", "20s"),
            &format!(
                "operation = \"transfer\"\ndedup = \"{dedup}\"\nwindow = {window}\nevery = \"100ms\"\nstop = \"8m\"\n\
                 session_timeout = \"5s\"\nrto = {{ policy = \"fixed\", timeout = \"60ms\" }}"
            ),
        );
        let o = run(&e, seed);
        let r = &o.report;
        prop_assert_eq!(r.session_breaks, 2);
        prop_assert_eq!((r.unfinished, r.never_applied), (0, 0));
        // The ACK partition outlasts the session: operations were in flight at its break.
        prop_assert!(r.ambiguous > 0);
        if persistent {
            prop_assert!(o.ops.iter().all(|op| op.applied == 1), "{:?}", r);
            prop_assert_eq!((r.money_created, r.money_destroyed), (0, 0));
        } else {
            // Each retried operation that had been applied is applied once more, no other.
            prop_assert_eq!(r.extra_applications, r.ambiguous_applied);
            prop_assert!(o.ops.iter().all(|op| op.applied == 1 + op.applied_before_break as u32));
        }
    }
}

#[test]
fn bad_workloads_are_refused_naming_the_field() {
    let refused = |workload: &str, field: &str| {
        let text = format!(
            "name = \"x\"\nseed = 1\nduration = \"1m\"\ndetectors = [\"fixed:timeout=1s\"]\n[[nodes]]\nid = \"a\"\n\
             [[nodes]]\nid = \"b\"\n[[workloads]]\nname = \"w\"\nclient = \"a\"\nserver = \"b\"\n{workload}"
        );
        match Experiment::from_toml("x.toml".as_ref(), &text) {
            Err(fdlab::experiment::ExperimentError::Invalid { field: f, .. }) => assert_eq!(f, field, "{workload}"),
            Err(other) => assert!(other.to_string().contains(field), "{other} should name {field}"),
            Ok(_) => panic!("accepted: {workload}"),
        }
    };
    refused("protocol = \"stubborn\"", "workloads[0].every");
    refused("protocol = \"stubborn\"\nevery = \"0s\"", "workloads[0].every");
    refused("protocol = \"stubborn\"\nevery = \"1s\"\nschedule = [\"1s\"]", "workloads[0].schedule");
    refused("protocol = \"stubborn\"\nschedule = [\"2s\", \"1s\"]", "workloads[0].schedule");
    refused("protocol = \"perfect\"\nevery = \"1s\"\ndedup = \"none\"", "workloads[0].dedup");
    refused("protocol = \"stubborn\"\nevery = \"1s\"\nwindow = 0", "workloads[0].window");
    refused(
        "protocol = \"stubborn\"\nevery = \"1s\"\nrto = { policy = \"fixed\", timeout = \"0s\" }",
        "workloads[0].rto",
    );
    refused(
        "protocol = \"stubborn\"\nevery = \"1s\"\nrto = { policy = \"rfc6298\", min_rto = \"2s\", max_rto = \"1s\" }",
        "workloads[0].rto",
    );
    refused("protocol = \"stubborn\"\nevery = \"1s\"\nclient = \"z\"", "client");
    refused("protocol = \"stubborn\"\nevery = \"1s\"\nretries = 3", "retries");
    // An unknown variant: serde names the value and its line (13: `protocol`).
    refused("protocol = \"lossy\"\nevery = \"1s\"", "line 13");
    // An unknown node is named with its field.
    let text = "name = \"x\"\nseed = 1\nduration = \"1m\"\ndetectors = [\"fixed:timeout=1s\"]\n[[nodes]]\nid = \"a\"\n\
                [[nodes]]\nid = \"b\"\n[[workloads]]\nname = \"w\"\nclient = \"a\"\nserver = \"q\"\nprotocol = \
                \"stubborn\"\nevery = \"1s\"";
    match Experiment::from_toml("x.toml".as_ref(), text) {
        Err(fdlab::experiment::ExperimentError::Invalid { field, .. }) => assert_eq!(field, "workloads[0].server"),
        other => panic!("{other:?}"),
    }
}

/// Issue 16 item 7: the retransmission series is binned from the engine's per-retransmission
/// facts. Over seeds under loss, the buckets add up to the report's counts; each spurious
/// retransmission is one of the retransmissions (its send time among theirs, each at most
/// once); without loss none is spurious; a run in which nothing is retransmitted gets a
/// whole series of zeros, and one whose last retransmission falls at the run's last instant
/// counts it in the last bucket.
#[test]
fn retransmissions_over_time_are_the_engines_own_facts() {
    use fdlab::workload::report::RETRANSMISSION_BUCKETS;
    let lossy = r#"delay = { dist = "uniform", min = "4ms", max = "6ms" }
        loss = { model = "bernoulli", p = 0.2 }
        duplicate = 0.1"#;
    let stubborn = r#"protocol = "stubborn"
        every = "20ms"
        rto = { policy = "fixed", timeout = "9ms" }"#;
    for seed in 1..=5 {
        let o = run(&experiment(lossy, stubborn, "60s"), seed);
        let series = o.report.retransmissions_over_time.as_ref().unwrap();
        assert_eq!(series.retransmissions.len(), RETRANSMISSION_BUCKETS);
        assert_eq!(series.bucket_s, 0.5);
        assert_eq!(series.retransmissions.iter().sum::<u64>(), o.report.retransmissions);
        assert_eq!(series.spurious.iter().sum::<u64>(), o.report.spurious_retransmissions);
        assert!(o.report.spurious_retransmissions > 0, "a 9 ms RTO under 8–12 ms RTTs is often premature");
        let mut pool = o.retransmitted_at.clone();
        for at in &o.spurious_at {
            let i = pool.iter().position(|t| t == at).unwrap_or_else(|| panic!("{at} was not a retransmission"));
            pool.swap_remove(i);
        }
        for (i, (&r, &s)) in series.retransmissions.iter().zip(&series.spurious).enumerate() {
            assert!(s <= r, "bucket {i}: {s} spurious of {r}");
        }
    }
    // No loss, an RTO above every RTT: nothing retransmitted, every bucket empty.
    let quiet = run(
        &experiment(
            BOUNDED,
            r#"protocol = "stubborn"
        every = "20ms"
        rto = { policy = "fixed", timeout = "50ms" }"#,
            "60s",
        ),
        1,
    );
    let series = quiet.report.retransmissions_over_time.unwrap();
    assert_eq!(series.retransmissions, vec![0; RETRANSMISSION_BUCKETS]);
    assert_eq!(series.spurious, vec![0; RETRANSMISSION_BUCKETS]);
    // One operation at 0 into a partition to the end: its timeouts at 1 s, 2 s, ... fall due
    // up to the run's last instant (the run is 10 s − 1 ns long, the last one at 9 s); the
    // ninth is in the last bucket.
    let cut = run(
        &experiment(
            "delay = { dist = \"constant\", value = \"1ms\" }\n[[faults]]\nkind = \"partition\"\nat = \"0s\"\nduration = \"1h\"\ngroups = [[\"a\"], [\"b\"]]",
            "protocol = \"stubborn\"\nschedule = [\"0s\"]\nrto = { policy = \"fixed\", timeout = \"1s\" }\nsession_timeout = \"1h\"",
            "9000000001ns",
        ),
        1,
    );
    assert_eq!(cut.retransmitted_at.last(), Some(&fdlab::time::Nanos::from_secs(9)));
    let series = cut.report.retransmissions_over_time.unwrap();
    assert_eq!(series.retransmissions.iter().sum::<u64>(), 9);
    assert_eq!(series.retransmissions[RETRANSMISSION_BUCKETS - 1], 1);
    // A fair-loss link never retransmits: no series.
    let once = run(&experiment(BOUNDED, "protocol = \"fair-loss\"\nevery = \"20ms\"", "10s"), 1);
    assert!(once.report.retransmissions_over_time.is_none());
}

/// Workload latency `.hgrm` files: one per workload, through the results writer, holding
/// exactly the engine's histogram (its count is the operations applied, its max the
/// report's maximum latency).
#[test]
fn each_workload_writes_its_latency_percentiles() {
    let e = Experiment::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/retransmission.toml")).unwrap();
    let options = fdlab::sim::RunOptions {
        base_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments"),
        ..Default::default()
    };
    let out = fdlab::sim::run(&e, &options, &|_| {}).unwrap();
    let files = fdlab::report::outputs(&out);
    for w in &out.summary.workloads {
        let name = format!("workload-latency/{}.hgrm", w.name);
        let (_, bytes) =
            files.iter().find(|(p, _)| p.to_str() == Some(name.as_str())).unwrap_or_else(|| panic!("{name}"));
        let text = String::from_utf8(bytes.clone()).unwrap();
        let rows = fdlab::report::hgrm::parse_rows(&text);
        let (max_ms, quantile, count) = *rows.last().unwrap();
        assert_eq!((quantile, count), (1.0, w.applied), "{name}");
        let reported = w.latency.as_ref().unwrap().max_ms;
        // The file prints the highest value equivalent to the max, to the microsecond.
        assert!(max_ms >= reported - 1e-3 && max_ms <= reported * 1.001 + 1e-3, "{name}: {max_ms} against {reported}");
    }
    // Written through the staging writer, listed in the manifest.
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out");
    let writer = fdlab::report::ResultsWriter::begin(&target).unwrap();
    fdlab::report::write_results(writer, &out, &|_| {}).unwrap();
    let manifest = std::fs::read_to_string(target.join(".fdlab-manifest")).unwrap();
    for w in &out.summary.workloads {
        let name = format!("workload-latency/{}.hgrm", w.name);
        assert!(target.join(&name).is_file() && manifest.contains(&name), "{name}");
    }
    // A name that could not be a file name is refused, naming the field.
    for bad in ["../up", "a b", ".hidden", ""] {
        let text = format!(
            "name = \"x\"\nseed = 1\nduration = \"1m\"\ndetectors = [\"fixed:timeout=1s\"]\n[[nodes]]\nid = \"a\"\n\
             [[nodes]]\nid = \"b\"\n[[workloads]]\nname = \"{bad}\"\nclient = \"a\"\nserver = \"b\"\n\
             protocol = \"stubborn\"\nevery = \"1s\""
        );
        match Experiment::from_toml("x.toml".as_ref(), &text) {
            Err(fdlab::experiment::ExperimentError::Invalid { field, .. }) => assert_eq!(field, "workloads[0].name"),
            other => panic!("`{bad}`: {:?}", other.map(|_| ())),
        }
    }
}

/// A 1 µs RTO over a constant 10 ms path (RTT 20 ms): each operation sends a copy every
/// microsecond until the ACK of its first copy arrives, exactly 20 ms later (ACKs go before
/// timeouts at one instant), so 20 000 copies, of which every one after the first is
/// spurious, found when that first ACK arrives. Over a 100 ms path, 200 000 copies of one
/// operation: the spurious count is made once per copy (a scan from each ACK's copy took
/// time quadratic in the copies, hours here).
#[test]
fn a_retransmission_timeout_far_below_the_round_trip_sends_a_copy_every_rto() {
    for (delay_ms, ops, copies) in [(10u64, 2u64, 20_000u64), (100, 1, 200_000)] {
        let e = experiment(
            &format!("delay = {{ dist = \"constant\", value = \"{delay_ms}ms\" }}"),
            &format!(
                "protocol = \"stubborn\"\nevery = \"1s\"\ncount = {ops}\nrto = {{ policy = \"fixed\", timeout = \"1us\" }}"
            ),
            "3s",
        );
        let o = run(&e, 1);
        let r = &o.report;
        assert_eq!((r.issued, r.transmissions), (ops, ops * copies), "{r:?}");
        assert_eq!((r.retransmissions, r.spurious_retransmissions), (ops * (copies - 1), ops * (copies - 1)));
        assert_eq!((r.applications, r.acks_received), (ops * copies, ops * copies));
        // The ground truth: issued (and sent at once) at i s.
        let at: Vec<u64> = (0..ops).map(|i| i * 1_000_000_000).collect();
        assert_eq!(o.ops.iter().map(|op| op.issued_at.0).collect::<Vec<_>>(), at);
        assert_eq!(
            o.ops.iter().map(|op| op.first_sent.map(|t| t.0)).collect::<Vec<_>>(),
            at.iter().map(|&t| Some(t)).collect::<Vec<_>>()
        );
        // Found spurious in the order sent: op i's copies k = 1 .. copies - 1, at i s + k µs.
        let expected: Vec<u64> =
            (0..ops).flat_map(|i| (1..copies).map(move |k| i * 1_000_000_000 + k * 1_000)).collect();
        assert_eq!(o.spurious_at.iter().map(|t| t.0).collect::<Vec<_>>(), expected);
        // The estimate bounds them: one operation in flight, a copy per µs for the run.
        let bound = e.workloads[0].transmission_bound(e.duration, 0);
        assert_eq!(bound, u128::from(ops + 3_000_001));
        assert_eq!(e.estimate().workload_transmissions, bound);
    }
}

/// The bound on a workload's transmissions against a link that loses everything, where the
/// client retransmits for the whole run: tight for a fixed RTO (one copy per RTO), within a
/// factor of about two for RFC 6298's back-off.
#[test]
fn the_transmission_bound_is_close_when_nothing_is_ever_acknowledged() {
    let lost = r#"delay = { dist = "constant", value = "1ms" }
                  loss = { model = "bernoulli", p = 1.0 }"#;
    let one = "protocol = \"stubborn\"\nschedule = [\"0s\"]\nsession_timeout = \"1000s\"\n";
    // Fixed 10 ms over 10 s: copies at 0, 10 ms, ..., 9.99 s.
    let e = experiment(lost, &format!("{one}rto = {{ policy = \"fixed\", timeout = \"10ms\" }}"), "10s");
    let r = run(&e, 1).report;
    assert_eq!(r.transmissions, 1000);
    assert_eq!(e.workloads[0].transmission_bound(e.duration, 0), 1002);
    // RFC 6298 from 10 ms, doubling to 1 s: copies at 0, 10, 30, 70, 150, 310, 630 ms and
    // 1.27 s, then every second to 99.27 s: 8 + 98 = 106. Levels ⌈log2 100⌉ = 7; the bound is
    // 1 + 2 · ((1 + 0 + 1) · 8 + 100 + 1) = 235.
    let e = experiment(
        lost,
        &format!("{one}rto = {{ policy = \"rfc6298\", min_rto = \"10ms\", max_rto = \"1s\", initial = \"10ms\" }}"),
        "100s",
    );
    let r = run(&e, 1).report;
    assert_eq!(r.transmissions, 106);
    assert_eq!(e.workloads[0].transmission_bound(e.duration, 0), 235);
    // Breaks add a resend per operation in flight each: 3 breaks, window 1.
    assert_eq!(e.workloads[0].transmission_bound(e.duration, 3), 235 + 2 * 8 * 3 + 3);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Whatever the loss, duplication, window, policy and breaks, a workload never sends more
    /// than the estimate's bound (which sizes the run's memory and refuses runaway RTOs).
    #[test]
    fn a_workload_never_sends_more_than_its_bound(
        seed in 0u64..1_000_000,
        loss in 0.0f64..0.9,
        duplicate in 0.0f64..0.5,
        window in 1u64..8,
        adaptive in any::<bool>(),
        rto_us in 1u64..30_000,
        every_ms in 1u64..200,
    ) {
        let rto = if adaptive {
            format!("{{ policy = \"rfc6298\", min_rto = \"{rto_us}us\", max_rto = \"500ms\", initial = \"500ms\" }}")
        } else {
            format!("{{ policy = \"fixed\", timeout = \"{rto_us}us\" }}")
        };
        let e = with_breaks(
            "20s",
            loss,
            duplicate,
            ("5s", "1s"),
            ("12s", "3s"),
            &format!("window = {window}\nevery = \"{every_ms}ms\"\nsession_timeout = \"1s\"\nrto = {rto}"),
        );
        let r = run(&e, seed).report;
        prop_assert!(r.session_breaks >= 2, "{:?}", r);
        let bound = e.workloads[0].transmission_bound(e.duration, u128::from(r.session_breaks));
        prop_assert!(u128::from(r.transmissions) <= bound, "{} > {bound}", r.transmissions);
        prop_assert!(u128::from(r.transmissions) <= e.estimate().workload_transmissions);
    }
}
