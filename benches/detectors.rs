//! ns per heartbeat for each detector: record the arrival, then compute `suspect_at`
//! (what the analysis does for every heartbeat), window 1000.
//!
//! cargo bench --bench detectors

use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main};
use fdlab::detector::{Arrival, DetectorSpec};
use fdlab::time::Nanos;

/// 100 ms heartbeats with deterministic jitter (an LCG, so the bench needs no RNG crate).
fn arrivals(n: usize) -> Vec<Arrival> {
    let mut state = 0x9E3779B97F4A7C15u64;
    let mut t = 0u64;
    (0..n)
        .map(|seq| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            t += 95_000_000 + (state >> 33) % 10_000_000;
            Arrival { at: Nanos(t), seq: Some(seq as u64), incarnation: None, sent: None }
        })
        .collect()
}

fn per_heartbeat(c: &mut Criterion) {
    // 10k arrivals (~560 KB) stay in cache, as the arrival being processed does in replay and
    // simulation; a larger input would measure memory bandwidth instead of the detector.
    let input = arrivals(10_000);
    let mut group = c.benchmark_group("heartbeat+suspect_at");
    group.throughput(Throughput::Elements(input.len() as u64));
    for spec in [
        "fixed:timeout=500ms",
        "phi:threshold=8,window=1000",
        "phi:threshold=8,window=1000,exact=true",
        "phi-exp:threshold=8,window=1000",
        "chen:alpha=200ms,interval=100ms,window=1000",
        "2w:alpha=200ms,interval=100ms,small=1,large=1000",
        "bertier:interval=100ms,window=1000",
        "empirical:threshold=0.99,window=1000",
        "eventually-perfect",
    ] {
        let spec = DetectorSpec::parse(spec).unwrap();
        let threshold = spec.points()[0].threshold;
        group.bench_with_input(BenchmarkId::from_parameter(spec.points()[0].label.clone()), &input, |b, input| {
            b.iter(|| {
                let mut d = spec.build();
                let mut acc = 0u64;
                for a in input {
                    d.heartbeat(a, threshold);
                    acc = acc.wrapping_add(d.suspect_at(threshold, a.at).map_or(0, |t| t.0));
                }
                black_box(acc)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, per_heartbeat);
criterion_main!(benches);
