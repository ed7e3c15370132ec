//! Replications: the same experiment under R independent seeds, reported pooled and with its
//! spread (`fdlab run --replications R`).
//!
//! Replication 0 runs under the experiment's own seed, so one replication is the plain run;
//! replication r > 0 under [`seed_of`]`(seed, r)`, a stream of the experiment's seed named
//! `replication/r` (the same derivation as every other stream, `crate::fault::rng`). Every
//! link, fault process and delay is drawn afresh in each.
//!
//! Two intervals are given, because users of simulation studies expect both:
//!
//! - the **headline**, `mistake_rate_per_s_ci95` as in a single run: the exact Poisson
//!   (Garwood) interval of the pooled count over the pooled observed time. The integer
//!   accumulators of every replication are added ([`pool`]), so the pooled figures are what one
//!   run as long as all replications together would give. It is exact for any count, zero
//!   included, and is the tightest honest interval when mistakes are independent;
//! - the **t-interval across replications** (`replications.mistake_rate_per_s.ci95_t`): mean ±
//!   t(0.975, R − 1) · sd / √R of the R per-replication rates, the textbook interval of
//!   independent replications. It assumes nothing about how mistakes cluster within a run, so
//!   when it is much wider than the Poisson interval the mistakes are overdispersed (random
//!   faults differ between replications) and it is the one to believe; with few replications or
//!   no mistakes it is wide or degenerate (zero width when every replication saw the same rate).
//!
//! The t quantiles are a table (ν ≤ 30) and a Cornish–Fisher series beyond, both plain
//! arithmetic, so the interval is the same bits on every machine.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::QosReport;
use super::qos::{DetectionBasis, Exact};
use super::results::{LinkEntry, ResultEntry, SummaryFile, TotalEntry, totals};
use super::stats::DurationStats;
use crate::experiment::ValidExperiment;
use crate::fault::rng::stream;

/// The most replications a run takes (each is a whole simulation).
pub const MAX_REPLICATIONS: u32 = 1_000_000;

/// The seed of replication `r` of an experiment seeded `seed`: the seed itself for
/// replication 0, else the first draw of the stream `replication/r`.
pub fn seed_of(seed: u64, r: u32) -> u64 {
    use rand::RngCore;
    if r == 0 { seed } else { stream(seed, &format!("replication/{r}")).next_u64() }
}

/// Whether `count` replications of `e` can be reported.
pub fn check(e: &ValidExperiment, count: u32) -> Result<(), String> {
    if count > MAX_REPLICATIONS {
        return Err(format!("{count} is more than {MAX_REPLICATIONS}"));
    }
    if count > 1 && e.cluster.is_some() {
        return Err(format!(
            "{count} replications of an experiment with [cluster] (`{}`): split-brain figures are not yet pooled \
             across replications; run the replications as separate seeds (--seed)",
            e.name
        ));
    }
    Ok(())
}

/// What a results file says about its replications (top level of `summary.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplicationsInfo {
    pub count: u32,
    /// Each replication's seed, in order; the first is the experiment's.
    pub seeds: Vec<u64>,
    /// Which interval is the headline, and the other one shown.
    pub headline_interval: String,
    pub other_interval: String,
}

const HEADLINE: &str = "mistake_rate_per_s_ci95: exact Poisson (Garwood) over the pooled count and observed time \
                        of all replications";
const OTHER: &str = "replications.mistake_rate_per_s.ci95_t: Student t across the per-replication rates \
                     (mean ± t(0.975, R−1)·sd/√R)";

/// One figure in every replication and its spread: `values` per replication (`null` where
/// the figure does not exist in that replication), the rest over the values that exist.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FigureSpread {
    pub values: Vec<Option<f64>>,
    pub mean: Option<f64>,
    /// Sample standard deviation (n − 1); `null` with fewer than two values.
    pub sd: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// mean ± t(0.975, n − 1) · sd / √n; `null` with fewer than two values.
    pub ci95_t: Option<[f64; 2]>,
}

impl FigureSpread {
    pub fn of(values: Vec<Option<f64>>) -> FigureSpread {
        let xs: Vec<f64> = values.iter().flatten().copied().collect();
        let n = xs.len();
        let mean = (n > 0).then(|| xs.iter().sum::<f64>() / n as f64);
        let sd = mean
            .filter(|_| n >= 2)
            .map(|m| (xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1) as f64).sqrt());
        let ci95_t = mean.zip(sd).map(|(m, sd)| {
            let half = t_975(n as u64 - 1) * sd / (n as f64).sqrt();
            [m - half, m + half]
        });
        let min = xs.iter().copied().reduce(f64::min);
        let max = xs.iter().copied().reduce(f64::max);
        FigureSpread { values, mean, sd, min, max, ci95_t }
    }
}

/// The spread of an entry's figures across replications (`results[].replications`,
/// `totals[].replications`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub mistakes: Vec<u64>,
    pub observed_up_s: Vec<f64>,
    pub mistake_rate_per_s: FigureSpread,
    pub mistakes_per_day: FigureSpread,
    pub query_accuracy: FigureSpread,
    pub mistake_duration_mean_s: FigureSpread,
    pub detection_time_mean_s: FigureSpread,
    pub detection_time_p99_s: FigureSpread,
    /// How many of `mistakes.csv`'s rows for this entry each replication listed (its rows
    /// come in replication order; the file's `replication` column says which).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mistakes_listed: Vec<usize>,
}

/// The figures of one replication that [`Spread`] follows.
struct Figures {
    mistakes: u64,
    observed_up_s: f64,
    rate: Option<f64>,
    per_day: Option<f64>,
    query_accuracy: Option<f64>,
    mistake_mean: Option<f64>,
    detection_mean: Option<f64>,
    detection_p99: Option<f64>,
    listed: usize,
}

impl Figures {
    fn of_result(q: &QosReport) -> Figures {
        Figures {
            mistakes: q.mistakes,
            observed_up_s: q.observed_up_s,
            rate: q.mistake_rate_per_s,
            per_day: q.mistakes_per_day,
            query_accuracy: q.query_accuracy,
            mistake_mean: q.mistake_duration_s.mean,
            detection_mean: q.detection_time_s.mean,
            detection_p99: q.detection_time_s.p99,
            listed: q.mistakes_listed,
        }
    }

    fn of_total(t: &TotalEntry) -> Figures {
        Figures {
            mistakes: t.mistakes,
            observed_up_s: t.observed_up_s,
            rate: t.mistake_rate_per_s,
            per_day: t.mistakes_per_day,
            query_accuracy: t.query_accuracy,
            mistake_mean: t.mistake_duration_s.mean,
            detection_mean: t.detection_time_s.mean,
            detection_p99: t.detection_time_s.p99,
            listed: 0,
        }
    }
}

fn spread(figures: &[Figures], with_listed: bool) -> Spread {
    let f = |get: fn(&Figures) -> Option<f64>| FigureSpread::of(figures.iter().map(get).collect());
    Spread {
        mistakes: figures.iter().map(|f| f.mistakes).collect(),
        observed_up_s: figures.iter().map(|f| f.observed_up_s).collect(),
        mistake_rate_per_s: f(|f| f.rate),
        mistakes_per_day: f(|f| f.per_day),
        query_accuracy: f(|f| f.query_accuracy),
        mistake_duration_mean_s: f(|f| f.mistake_mean),
        detection_time_mean_s: f(|f| f.detection_mean),
        detection_time_p99_s: f(|f| f.detection_p99),
        mistakes_listed: if with_listed { figures.iter().map(|f| f.listed).collect() } else { Vec::new() },
    }
}

/// One summary from every replication's (each with the same entries in the same order, as the
/// simulator produces them): with one, it unchanged; with more, every entry's accumulators
/// added ([`pool_reports`]), the totals computed from the pooled entries, datagram counts
/// added, and each entry and total given its [`Spread`].
pub fn pool(mut summaries: Vec<SummaryFile>, seeds: Vec<u64>) -> SummaryFile {
    if summaries.len() == 1 {
        // Cannot fail: checked to hold one.
        return summaries.pop().expect("one summary");
    }
    let total_spreads: Vec<Spread> = (0..summaries[0].totals.len())
        .map(|i| spread(&summaries.iter().map(|s| Figures::of_total(&s.totals[i])).collect::<Vec<_>>(), false))
        .collect();
    let mut reps: Vec<std::vec::IntoIter<ResultEntry>> =
        summaries.iter_mut().map(|s| std::mem::take(&mut s.results).into_iter()).collect();
    let mut results = Vec::new();
    // Cannot fail below: every replication has the entries of the first.
    while let Some(first) = reps[0].next() {
        let mut entries = vec![first];
        entries.extend(reps[1..].iter_mut().map(|r| r.next().expect("the same entries in every replication")));
        let figures: Vec<Figures> = entries.iter().map(|e| Figures::of_result(&e.qos)).collect();
        let mut entries = entries.into_iter();
        let mut pooled = entries.next().expect("one entry");
        let qos = std::mem::replace(
            &mut pooled.qos,
            QosReport::from_exact(Exact::default(), None, BTreeMap::new(), DetectionBasis::Crashes),
        );
        pooled.qos = pool_reports(std::iter::once(qos).chain(entries.map(|e| e.qos)).collect());
        pooled.replications = Some(spread(&figures, true));
        results.push(pooled);
    }
    let mut links: Vec<LinkEntry> = std::mem::take(&mut summaries[0].links);
    for s in &summaries[1..] {
        for (sum, l) in links.iter_mut().zip(&s.links) {
            sum.sent += l.sent;
            sum.lost += l.lost;
            sum.cut += l.cut;
            sum.duplicated += l.duplicated;
            sum.delivered += l.delivered;
        }
    }
    let mut summary = summaries.swap_remove(0);
    summary.totals = totals(&results);
    for (t, s) in summary.totals.iter_mut().zip(total_spreads) {
        t.replications = Some(s);
    }
    summary.results = results;
    summary.links = links;
    summary.replications = Some(ReplicationsInfo {
        count: seeds.len() as u32,
        seeds,
        headline_interval: HEADLINE.into(),
        other_interval: OTHER.into(),
    });
    summary
}

/// One link and configuration over several replications: the integer accumulators added
/// (up time, wrongly suspected time, mistake and detection histograms, recurrences), counts
/// by cause added, crashes, censored suspicions and listed mistakes one replication after
/// another; the figures computed from the sums. Detection times come from the replications
/// whose basis is the crashes when any had a crash (as totals over links do).
pub fn pool_reports(reports: Vec<QosReport>) -> QosReport {
    let basis = if reports.iter().any(|r| r.detection_basis == DetectionBasis::Crashes) {
        DetectionBasis::Crashes
    } else {
        DetectionBasis::PerHeartbeatEstimate
    };
    let mut exact = Exact::default();
    let mut recurrence = DurationStats::default();
    let mut by_cause = BTreeMap::new();
    let (mut heartbeats, mut censored_count, mut censored_s, mut crashes, mut listed) =
        (0, 0, Vec::new(), Vec::new(), Vec::new());
    let any_recurrence = reports.iter().any(|r| r.mistake_recurrence_s.is_some());
    for r in reports {
        exact.add(&r.exact, r.detection_basis == basis);
        recurrence.add(&r.recurrence);
        for (c, n) in r.mistakes_by_cause {
            *by_cause.entry(c).or_insert(0) += n;
        }
        heartbeats += r.heartbeats;
        censored_count += r.censored.count;
        censored_s.extend(r.censored.durations_so_far_s);
        crashes.extend(r.crashes);
        listed.extend(r.listed);
    }
    let recurrence_summary = any_recurrence.then(|| recurrence.summary());
    QosReport {
        heartbeats,
        censored: super::qos::Censored { count: censored_count, durations_so_far_s: censored_s },
        crashes,
        mistakes_listed: listed.len(),
        listed,
        recurrence,
        ..QosReport::from_exact(exact, recurrence_summary, by_cause, basis)
    }
}

/// t(0.975, ν): the two-sided 95 % quantile of Student's t with ν degrees of freedom.
pub fn t_975(nu: u64) -> f64 {
    // ν = 1..30, to the last bit of f64 (computed with mpmath at 30 digits).
    const TABLE: [f64; 30] = [
        12.706204736174705,
        4.302652729749464,
        3.1824463052837095,
        2.7764451051977943,
        2.5705818356363155,
        2.44691185114497,
        2.3646242515927853,
        2.3060041352041667,
        2.2621571627982053,
        2.228138851986275,
        2.2009851600916397,
        2.178812829667229,
        2.1603686564627926,
        2.144786687917804,
        2.1314495455597755,
        2.1199052992212546,
        2.109815577833317,
        2.1009220402410387,
        2.0930240544083096,
        2.085963447265865,
        2.0796138447276804,
        2.0738730679040263,
        2.0686576104190486,
        2.063898561628026,
        2.0595385527532977,
        2.055529438642873,
        2.0518305164802855,
        2.048407141795245,
        2.0452296421327043,
        2.042272456301238,
    ];
    match nu {
        // (The series below would also give +∞ at ν = 0, dividing by 0; the arm says so.)
        0 => f64::INFINITY,
        1..=30 => TABLE[nu as usize - 1],
        _ => {
            // Cornish–Fisher (Abramowitz & Stegun 26.7.5), four terms: low by 2.7e-8 at ν = 31,
            // 1e-9 at 60, 1e-10 at 100, and within a few ulps from ν = 1000 (tested).
            let z: f64 = 1.959_963_984_540_054;
            let v = nu as f64;
            let z2 = z * z;
            let (z3, z5, z7, z9) = (z2 * z, z2 * z2 * z, z2 * z2 * z2 * z, z2 * z2 * z2 * z2 * z);
            let g1 = (z3 + z) / 4.0;
            let g2 = (5.0 * z5 + 16.0 * z3 + 3.0 * z) / 96.0;
            let g3 = (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / 384.0;
            let g4 = (79.0 * z9 + 776.0 * z7 + 1482.0 * z5 - 1920.0 * z3 - 945.0 * z) / 92160.0;
            z + g1 / v + g2 / (v * v) + g3 / (v * v * v) + g4 / (v * v * v * v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_meet_the_series_and_known_values() {
        // mpmath at 30 digits, and the series' own error there (the series is the first four
        // terms of an asymptotic expansion, so the bound shrinks as ν grows: each of its
        // terms and coefficients matters at some ν).
        for (nu, t, within) in [
            (31, 2.0395134463964086, 3e-8),
            (40, 2.0210753903062734, 8e-9),
            (60, 2.0002978220142604, 1e-9),
            (100, 1.9839715185235522, 1e-10),
            (1000, 1.9623390808264085, 2e-15),
        ] {
            assert!((t_975(nu) - t).abs() < within, "ν = {nu}: {} vs {t}", t_975(nu));
        }
        assert!((t_975(30) - t_975(31)) > 0.0 && (t_975(30) - t_975(31)) < 0.01);
        assert!(t_975(0).is_infinite());
    }

    #[test]
    fn spread_of_known_values() {
        let s = FigureSpread::of(vec![Some(1.0), None, Some(3.0)]);
        assert_eq!((s.mean, s.min, s.max), (Some(2.0), Some(1.0), Some(3.0)));
        assert_eq!(s.sd, Some(2f64.sqrt()));
        let [lo, hi] = s.ci95_t.unwrap();
        let half = 12.706204736174705 * 2f64.sqrt() / 2f64.sqrt();
        assert_eq!((lo, hi), (2.0 - half, 2.0 + half));
        // Three values: n − 1 = 2 (two would not tell dividing by n − 1 from multiplying).
        let three = FigureSpread::of(vec![Some(1.0), Some(6.0), Some(2.0)]);
        assert_eq!((three.mean, three.sd, three.min, three.max), (Some(3.0), Some(7f64.sqrt()), Some(1.0), Some(6.0)));
        let half = 4.302652729749464 * 7f64.sqrt() / 3f64.sqrt();
        assert_eq!(three.ci95_t, Some([3.0 - half, 3.0 + half]));
        // The same spread 2.5e15 higher: the deviations squared are exact, while
        // Σ(x + m)(x − m), equal in exact arithmetic, rounds one product (1.5e16 + 27).
        let far = FigureSpread::of([1.0, 6.0, 2.0].into_iter().map(|d| Some(2.5e15 + d)).collect());
        assert_eq!((far.mean, far.sd), (Some(2.5e15 + 3.0), Some(7f64.sqrt())));
        let one = FigureSpread::of(vec![Some(5.0)]);
        assert_eq!((one.mean, one.sd, one.ci95_t), (Some(5.0), None, None));
        let none = FigureSpread::of(vec![None, None]);
        assert_eq!((none.mean, none.min), (None, None));
    }

    /// Four replications pooled against the same four seeds run one by one: every count and
    /// integer accumulator of every entry is the sum of the single runs' (detection times
    /// from the replications of the pooled basis only), crashes and listed mistakes follow
    /// one another, each spread lists the single runs' figures, the totals are those of the
    /// pooled entries, and the datagram counts add. Node `c` crashes at random (mean 15 min
    /// in 20), so some replications of its links have crashes and some do not; every count
    /// is non-zero somewhere (loss, duplicates, a partition's cuts, censored suspicions).
    #[test]
    fn pooled_replications_are_the_sums_of_the_single_runs() {
        use crate::analysis::qos::Cause;
        use crate::experiment::Experiment;
        use crate::sim::RunOptions;
        let head = "name = \"pool\"\nseed = 2\nduration = \"20m\"\ndetectors = [\"phi:threshold=1|8\", \"fixed:timeout=1500ms\"]\n";
        // And a partition of `b` over the last 10 s: suspicions still open at the end (censored).
        let crash = "[[faults]]\nkind = \"crash\"\nnode = \"c\"\nmttf = \"15m\"\nmttr = \"20s\"\n\
                     [[faults]]\nkind = \"partition\"\nat = \"1190s\"\nduration = \"10s\"\nfrom = [\"b\"]\nto = [\"a\", \"c\"]\n";
        let text = format!("{head}{}{crash}", crate::experiment::THREE_LOSSY_NODES);
        let e = Experiment::from_toml(std::path::Path::new("pool.toml"), &text).unwrap();
        let run = |seed: u64, replications: u32| {
            let options = RunOptions { seed: Some(seed), replications, threads: 1, ..RunOptions::default() };
            crate::sim::run(&e, &options, &|_| {}).unwrap().summary
        };
        let pooled = run(2, 4);
        let singles: Vec<SummaryFile> = (0..4).map(|r| run(seed_of(2, r), 1)).collect();
        let seeds: Vec<u64> = (0..4).map(|r| seed_of(2, r)).collect();
        let info = pooled.replications.as_ref().unwrap();
        assert_eq!((info.count, &info.seeds), (4, &seeds));
        let mut mixed = 0;
        for (i, p) in pooled.results.iter().enumerate() {
            let reps: Vec<&QosReport> = singles.iter().map(|s| &s.results[i].qos).collect();
            let what = &p.detector;
            assert!(
                singles.iter().all(|s| s.results[i].detector == *what),
                "{what}: the same entries in the same order"
            );
            let sum = |f: fn(&QosReport) -> u64| reps.iter().map(|r| f(r)).sum::<u64>();
            let q = &p.qos;
            assert_eq!(q.mistakes, sum(|r| r.mistakes), "{what}");
            assert_eq!(q.exact.mistakes.count(), sum(|r| r.exact.mistakes.count()), "{what}");
            let weighted: f64 = reps.iter().map(|r| r.exact.mistakes.mean_s().unwrap_or(0.0) * r.mistakes as f64).sum();
            let pooled_mean = q.exact.mistakes.mean_s().unwrap_or(0.0) * q.mistakes as f64;
            assert!((pooled_mean - weighted).abs() <= 1e-9 * weighted, "{what}: {pooled_mean} against {weighted}");
            let max = reps.iter().filter_map(|r| r.mistake_duration_s.max).reduce(f64::max);
            assert_eq!(q.mistake_duration_s.max, max, "{what}");
            assert_eq!(q.exact.up.0, sum(|r| r.exact.up.0), "{what}");
            assert_eq!(q.exact.wrong_ns, reps.iter().map(|r| r.exact.wrong_ns).sum::<u128>(), "{what}");
            assert_eq!(q.heartbeats, sum(|r| r.heartbeats), "{what}");
            assert_eq!(q.censored.count, sum(|r| r.censored.count), "{what}");
            assert_eq!(q.recurrence.count(), sum(|r| r.recurrence.count()), "{what}");
            for cause in [Cause::Network, Cause::TargetPause, Cause::Recovery] {
                let n = |r: &QosReport| r.mistakes_by_cause.get(&cause).copied().unwrap_or(0);
                assert_eq!(n(q), reps.iter().map(|r| n(r)).sum::<u64>(), "{what} {cause:?}");
            }
            let crashes: Vec<_> = reps.iter().flat_map(|r| r.crashes.clone()).collect();
            assert_eq!(q.crashes, crashes, "{what}");
            let listed: Vec<_> = reps.iter().flat_map(|r| r.listed.clone()).collect();
            assert_eq!((&q.listed, q.mistakes_listed), (&listed, listed.len()), "{what}");
            // Detection times: from the replications of the pooled basis.
            let any_crash = reps.iter().any(|r| r.detection_basis == DetectionBasis::Crashes);
            let basis = if any_crash { DetectionBasis::Crashes } else { DetectionBasis::PerHeartbeatEstimate };
            mixed += usize::from(reps.iter().any(|r| r.detection_basis != basis));
            assert_eq!(q.detection_basis, basis, "{what}");
            let of_basis = reps.iter().filter(|r| r.detection_basis == basis);
            assert_eq!(q.exact.detection.count(), of_basis.map(|r| r.exact.detection.count()).sum::<u64>(), "{what}");
            // The spread lists each replication's own figures.
            let spread = p.replications.as_ref().unwrap();
            assert_eq!(spread.mistakes, reps.iter().map(|r| r.mistakes).collect::<Vec<_>>(), "{what}");
            assert_eq!(spread.observed_up_s, reps.iter().map(|r| r.observed_up_s).collect::<Vec<_>>(), "{what}");
            let rates: Vec<Option<f64>> = reps.iter().map(|r| r.mistake_rate_per_s).collect();
            assert_eq!(spread.mistake_rate_per_s, FigureSpread::of(rates), "{what}");
            let p99: Vec<Option<f64>> = reps.iter().map(|r| r.detection_time_s.p99).collect();
            assert_eq!(spread.detection_time_p99_s.values, p99, "{what}");
            assert_eq!(spread.mistakes_listed, reps.iter().map(|r| r.mistakes_listed).collect::<Vec<_>>(), "{what}");
        }
        assert!(mixed > 0, "some entry pools replications of both bases");
        assert!(pooled.results.iter().any(|p| p.qos.censored.count > 0), "some suspicion is censored");
        assert!(pooled.results.iter().any(|p| p.qos.mistakes > 0 && p.qos.exact.detection.count() > 0));
        // Totals: those of the pooled entries, with each replication's own totals spread.
        let again = totals(&pooled.results);
        for (t, (a, i)) in pooled.totals.iter().zip(again.iter().zip(0..)) {
            assert_eq!((&t.detector, t.mistakes, t.observed_up_s), (&a.detector, a.mistakes, a.observed_up_s));
            let spread = t.replications.as_ref().unwrap();
            assert_eq!(spread.mistakes, singles.iter().map(|s| s.totals[i].mistakes).collect::<Vec<_>>());
            let means: Vec<Option<f64>> = singles.iter().map(|s| s.totals[i].detection_time_s.mean).collect();
            assert_eq!(spread.detection_time_mean_s.values, means);
            assert!(spread.mistakes_listed.is_empty());
        }
        for (l, i) in pooled.links.iter().zip(0..) {
            let sum = |f: fn(&LinkEntry) -> u64| singles.iter().map(|s| f(&s.links[i])).sum::<u64>();
            let counts = (l.sent, l.lost, l.cut, l.duplicated, l.delivered);
            let expected =
                (sum(|l| l.sent), sum(|l| l.lost), sum(|l| l.cut), sum(|l| l.duplicated), sum(|l| l.delivered));
            assert_eq!(counts, expected, "{} → {}", l.monitor, l.target);
            assert!(l.lost > 0 && l.duplicated > 0 && l.delivered > 0);
            assert_eq!(l.cut > 0, l.monitor != "b" && l.target == "b", "{} → {}", l.monitor, l.target);
        }
    }

    /// Up to the bound, and one replication only of an experiment with `[cluster]` (whose
    /// split-brain figures are not pooled), named in the error.
    #[test]
    fn the_replications_a_run_takes() {
        use crate::experiment::Experiment;
        let plain = "name = \"p\"\nseed = 1\nduration = \"1m\"\ndetectors = [\"phi\"]\n";
        let e = |cluster: &str| {
            let text = format!("{plain}{}{cluster}", crate::experiment::THREE_LOSSY_NODES);
            Experiment::from_toml(std::path::Path::new("r.toml"), &text).unwrap()
        };
        let (e, clustered) = (e(""), e("[cluster]\nrules = [\"majority\"]\n"));
        assert_eq!(check(&e, MAX_REPLICATIONS), Ok(()));
        assert_eq!(check(&e, MAX_REPLICATIONS + 1), Err("1000001 is more than 1000000".into()));
        assert_eq!((check(&clustered, 0), check(&clustered, 1)), (Ok(()), Ok(())));
        for count in [2, 3] {
            let error = check(&clustered, count).unwrap_err();
            assert!(
                error.starts_with(&format!("{count} replications of an experiment with [cluster] (`p`)")),
                "{error}"
            );
        }
    }

    #[test]
    fn replication_seeds_are_fixed_and_distinct() {
        assert_eq!(seed_of(7, 0), 7);
        let seeds: Vec<u64> = (0..100).map(|r| seed_of(7, r)).collect();
        let distinct: std::collections::BTreeSet<_> = seeds.iter().collect();
        assert_eq!(distinct.len(), 100);
        assert_eq!(seeds, (0..100).map(|r| seed_of(7, r)).collect::<Vec<_>>());
        assert_ne!(seed_of(7, 1), seed_of(8, 1));
    }
}
