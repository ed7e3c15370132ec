//! What a replay keeps beyond its links' detectors, measured: the `lease` rule's record of
//! every heartbeat heard, and long node names, each against the share of the memory
//! estimate that counts it (`lease_record_bytes`, `link_name_bytes`), which `replay`
//! checks against 80 % of the machine's memory as the trace is read.
//!
//! A counting allocator measures each replay's peak; this file holds one test so that
//! nothing else allocates meanwhile.

use std::path::Path;

use fdlab::detector::DetectorSpec;
use fdlab::experiment::{ClusterSettings, LeaderRule, lease_record_bytes, link_name_bytes};
use fdlab::replay::{ReplayConfig, replay_from};
use fdlab::time::Nanos;
use fdlab::trace::TraceReader;

#[path = "common/counting.rs"]
mod counting;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

/// The peak memory of replaying `text` (already in memory) with `rules` and two detector
/// configurations, above what was allocated before; and how many results it gave.
fn peak_of(text: &str, rules: Vec<LeaderRule>) -> (usize, usize) {
    let config = ReplayConfig {
        trace: "t.csv".into(),
        detectors: vec![DetectorSpec::parse("fixed:timeout=1s").unwrap(), DetectorSpec::parse("phi").unwrap()],
        cluster: Some(ClusterSettings {
            rules: Some(rules),
            lease: Some(Nanos::from_millis(500)),
            ..ClusterSettings::default()
        }),
        ..ReplayConfig::default()
    };
    let (results, peak) = counting::peak_of(|| {
        let mut reader = TraceReader::new(Path::new("t.csv"), text.as_bytes()).unwrap();
        replay_from(&mut reader, &config, None).unwrap().summary.results.len()
    });
    (peak, results)
}

/// Two nodes heartbeating each other every 50 ms, `rows` heartbeats in all, with names
/// `m` and `a` repeated `name` times.
fn trace(rows: u64, name: usize) -> String {
    let (m, a) = ("m".repeat(name), "a".repeat(name));
    let mut text = String::from("monitor,target,sent_ns,received_ns\n");
    for k in 0..rows {
        let (monitor, target) = if k % 2 == 0 { (&m, &a) } else { (&a, &m) };
        let sent = k * 25_000_000;
        text += &format!("{monitor},{target},{sent},{}\n", sent + 2_000_000);
    }
    text
}

#[test]
fn the_lease_record_and_long_names_stay_within_their_share_of_the_estimate() {
    // The lease rule's record of 300,000 heartbeats: at least the 12 bytes a heartbeat it
    // holds, at most the 25 the estimate counts (room to grow, and the record's index).
    let rows = 300_000;
    let text = trace(rows, 1);
    let (with_lease, results) = peak_of(&text, vec![LeaderRule::Lease, LeaderRule::Majority]);
    let (without, same) = peak_of(&text, vec![LeaderRule::Majority]);
    assert_eq!((results, same), (4, 4));
    let record = with_lease.saturating_sub(without) as u128;
    assert!(
        (12 * u128::from(rows)..=lease_record_bytes(u128::from(rows))).contains(&record),
        "the lease record took {record} bytes for {rows} heartbeats (peaks {with_lease} and {without})"
    );

    // Names of 100,000 bytes: every copy the estimate counts, on the two links.
    let short = trace(1_000, 1);
    let long = trace(1_000, 100_000);
    let (short_peak, _) = peak_of(&short, vec![LeaderRule::Majority]);
    let (long_peak, _) = peak_of(&long, vec![LeaderRule::Majority]);
    let names = long_peak.saturating_sub(short_peak) as u128;
    let counted = 2 * (link_name_bytes(200_000, 2) - link_name_bytes(2, 2));
    assert!(
        (400_000..=counted).contains(&names),
        "long names took {names} bytes more, the estimate counts {counted} (peaks {long_peak} and {short_peak})"
    );
}
