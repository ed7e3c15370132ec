//! A link's sequence numbers: the heartbeat interval, the sender's jitter, pause-like gaps,
//! and loss (Bernoulli or the simple Gilbert model) from the gaps between the sequence
//! numbers received.
//!
//! Loss is read as a chain of indicators, one per heartbeat sent between the first and the
//! last received (each received heartbeat starts a piece; a pause or a new incarnation
//! breaks it). Bernoulli: every heartbeat lost with probability p. The simple Gilbert model
//! (netem's Gilbert–Elliott with h = 0, k = 1: every heartbeat in the bad state is lost,
//! none in the good) is a Markov chain on the indicators: p = P(lost | previous received),
//! r = P(received | previous lost); its maximum-likelihood estimates are transition
//! frequencies. Bernoulli is the Gilbert model with r = 1 − p, so the likelihood ratio
//! 2(ℓ_G − ℓ_B) is χ²(1) under Bernoulli; Gilbert is chosen when it rejects Bernoulli at 5 %.
//! The full Gilbert–Elliott (losses in the good state, deliveries in the bad) has four
//! parameters that loss run lengths cannot separate (a hidden Markov chain: different
//! parameter sets give the same run-length distributions), so it is not fitted.
//!
//! Pauses: a sender that stalls and numbers heartbeats by a counter leaves a gap in send
//! times with no sequence number missing; with `sent_ns` such a gap (longer than the
//! sequence numbers explain by more than half an interval plus the jitter) is a pause. In
//! fdlab's own `skip` mode the sequence number is the slot number, so a pause leaves
//! missing numbers with regular send times on both sides, exactly like a loss burst: no
//! column tells them apart. There a loss run is called a pause when the loss model fitted to
//! the other runs makes a run that long improbable (below [`PAUSE_RUN_PROBABILITY`] that any
//! run is so long); the evidence is recorded.

use serde::{Deserialize, Serialize};

/// A loss run is called a pause when, under the loss model fitted to the other runs, the
/// chance that any of the runs is at least that long is below this.
pub const PAUSE_RUN_PROBABILITY: f64 = 1e-3;

/// Loss runs needed besides a long one before it can be judged improbable.
pub const MIN_RUNS_FOR_PAUSES: usize = 5;

/// One distinct heartbeat (the first copy received), in send order.
#[derive(Clone, Copy, Debug)]
pub struct Beat {
    pub incarnation: u64,
    pub seq: u64,
    /// Sender time when known, else received time.
    pub time: u64,
    pub line: u64,
}

/// The gap after a beat, to the next beat of the same incarnation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GapKind {
    /// Heartbeats lost in between (0: none).
    Lost(u64),
    /// A pause, with its evidence.
    Pause(PauseEvidence),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PauseEvidence {
    /// The send times jump further than the sequence numbers explain.
    SendGap,
    /// Sequence numbers missing in a run the fitted loss model makes improbable.
    RunLength,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Pause {
    /// Sender time (or received time without `sent_ns`) of the last heartbeat before it.
    pub after_s: f64,
    /// The silence: from that heartbeat to the next one.
    pub silence_s: f64,
    /// The trace line of the heartbeat that ended it.
    pub line: u64,
    pub evidence: PauseEvidence,
    /// Sequence numbers missing in it.
    pub missing_seq: u64,
}

/// Transition counts of the loss indicators.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transitions {
    pub received_received: u64,
    pub received_lost: u64,
    pub lost_lost: u64,
    pub lost_received: u64,
}

impl Transitions {
    pub fn from_gaps(gaps: impl Iterator<Item = u64>) -> Transitions {
        let mut t = Transitions::default();
        for g in gaps {
            t.add(g, 1);
        }
        t
    }

    /// Adds (`sign` = 1) or removes (−1) the transitions of one gap of `lost` heartbeats.
    fn add(&mut self, lost: u64, sign: i64) {
        let step = |x: &mut u64, by: u64| *x = (*x as i64 + sign * by as i64) as u64;
        if lost == 0 {
            step(&mut self.received_received, 1);
        } else {
            step(&mut self.received_lost, 1);
            step(&mut self.lost_lost, lost - 1);
            step(&mut self.lost_received, 1);
        }
    }

    fn lost(&self) -> u64 {
        self.received_lost + self.lost_lost
    }

    fn total(&self) -> u64 {
        self.received_received + self.received_lost + self.lost_lost + self.lost_received
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BernoulliFit {
    pub p: f64,
    /// √(p(1 − p)/N), N the heartbeats in the chain.
    pub p_se: f64,
    pub log_likelihood: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GilbertFit {
    /// P(lost | previous received): netem's p (good → bad).
    pub p: f64,
    pub p_se: f64,
    /// P(received | previous lost): netem's r (bad → good).
    pub r: f64,
    pub r_se: f64,
    /// 1/r, heartbeats (`None` without losses).
    pub mean_burst: Option<f64>,
    /// p/(p + r).
    pub loss_rate: f64,
    pub log_likelihood: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossChoice {
    None,
    Bernoulli,
    Gilbert,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LossFit {
    /// Heartbeats sent between the first and last received, pauses left out.
    pub expected: u64,
    pub lost: u64,
    pub rate: f64,
    /// Binomial standard error √(rate(1 − rate)/expected) (understates bursty loss).
    pub rate_se: f64,
    pub runs: u64,
    pub longest_run: u64,
    pub transitions: Transitions,
    pub bernoulli: BernoulliFit,
    pub gilbert: GilbertFit,
    /// 2(ℓ_Gilbert − ℓ_Bernoulli), χ²(1) under Bernoulli.
    pub lr_statistic: f64,
    pub lr_p_value: f64,
    pub chosen: LossChoice,
}

/// x·ln(y), 0 when x = 0.
fn xlny(x: u64, y: f64) -> f64 {
    if x == 0 { 0.0 } else { x as f64 * libm::log(y) }
}

fn share(a: u64, b: u64) -> f64 {
    if a + b == 0 { 0.0 } else { a as f64 / (a + b) as f64 }
}

/// Fits both models to the transitions and chooses by the likelihood-ratio test.
pub fn fit_loss(t: Transitions, runs: &[u64]) -> LossFit {
    let n = t.total();
    let lost = t.lost();
    let p_b = share(lost, n - lost);
    let ll_b = xlny(lost, p_b) + xlny(n - lost, 1.0 - p_b);
    let p_g = share(t.received_lost, t.received_received);
    let r_g = share(t.lost_received, t.lost_lost);
    let ll_g = xlny(t.received_lost, p_g)
        + xlny(t.received_received, 1.0 - p_g)
        + xlny(t.lost_received, r_g)
        + xlny(t.lost_lost, 1.0 - r_g);
    let lr = (2.0 * (ll_g - ll_b)).max(0.0);
    let p_value = crate::analysis::distributions::chi2_1_sf(lr);
    let chosen = if lost == 0 {
        LossChoice::None
    } else if p_value < 0.05 {
        // (`<=` is an equivalent mutant: a p-value of exactly 0.05 needs an LR statistic of
        // exactly 3.8414588…, which counts of transitions hit only by a floating-point fluke.)
        LossChoice::Gilbert
    } else {
        LossChoice::Bernoulli
    };
    let se = |p: f64, m: u64| if m == 0 { 0.0 } else { (p * (1.0 - p) / m as f64).sqrt() };
    LossFit {
        expected: lost + t.received_received + t.lost_received,
        lost,
        rate: p_b,
        rate_se: se(p_b, n),
        runs: runs.len() as u64,
        longest_run: runs.iter().copied().max().unwrap_or(0),
        transitions: t,
        bernoulli: BernoulliFit { p: p_b, p_se: se(p_b, n), log_likelihood: ll_b },
        gilbert: GilbertFit {
            p: p_g,
            p_se: se(p_g, t.received_lost + t.received_received),
            r: r_g,
            r_se: se(r_g, t.lost_received + t.lost_lost),
            mean_burst: (r_g > 0.0).then(|| 1.0 / r_g),
            loss_rate: if p_g + r_g > 0.0 { p_g / (p_g + r_g) } else { 0.0 },
            log_likelihood: ll_g,
        },
        lr_statistic: lr,
        lr_p_value: p_value,
        chosen,
    }
}

/// P(a loss run is at least `length` long | it started) under the chosen model.
fn run_at_least(fit: &LossFit, length: u64) -> f64 {
    let stay = match fit.chosen {
        LossChoice::None => 0.0,
        LossChoice::Bernoulli => fit.bernoulli.p,
        LossChoice::Gilbert => 1.0 - fit.gilbert.r,
    };
    libm::pow(stay, length as f64 - 1.0)
}

/// The interval, jitter and gaps of a link's beats.
#[derive(Clone, Debug)]
pub struct Sequence {
    /// Heartbeat interval, ns: the least-squares slope of time on seq, rounded to the
    /// microsecond.
    pub interval: u64,
    /// The first estimate (median spacing), ns.
    pub interval_rough: f64,
    /// Sender jitter (uniform width), ns, when send times are known.
    pub jitter: Option<u64>,
    /// `gaps[i]`: between `beats[i]` and `beats[i + 1]`; `None` across incarnations.
    pub gaps: Vec<Option<GapKind>>,
}

/// Estimates the interval from the spacing of `beats` (send times when `sent`), and with
/// send times the jitter and the pauses that show as gaps in them.
pub fn sequence(beats: &[Beat], sent: bool) -> Option<Sequence> {
    // Pairs of successive beats of one incarnation. (Beats are distinct, so `>` against
    // `>=` on their seq is an equivalent mutant.)
    let pairs: Vec<(usize, u64, f64)> = beats
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[0].incarnation == w[1].incarnation && w[1].seq > w[0].seq)
        .map(|(i, w)| (i, w[1].seq - w[0].seq, w[1].time as f64 - w[0].time as f64))
        .collect();
    let mut singles: Vec<f64> = pairs.iter().filter(|p| p.1 == 1).map(|p| p.2).collect();
    if singles.is_empty() {
        singles = pairs.iter().map(|p| p.2 / p.1 as f64).collect();
    }
    if singles.is_empty() {
        return None;
    }
    singles.sort_by(f64::total_cmp);
    let rough = singles[singles.len() / 2];
    if rough <= 0.0 {
        return None;
    }
    // Regular sending puts two heartbeats' send times at most the jitter off their slots'
    // spacing; more than half an interval beyond that is a pause.
    let jitter_rough =
        pairs.iter().filter(|p| p.1 == 1).map(|p| (p.2 - rough).abs()).filter(|&e| e < rough / 2.0).fold(0.0, f64::max);
    // (`>` against `>=`: equal only by a floating-point fluke, an equivalent mutant.)
    let is_pause = |&(_, dseq, dt): &(usize, u64, f64)| sent && dt - dseq as f64 * rough > rough / 2.0 + jitter_rough;
    // The interval: the least-squares slope of time on seq, with an intercept per segment
    // (a new incarnation or a pause starts one), so that neither shifts the slope.
    let mut joined = vec![false; beats.len().saturating_sub(1)];
    for p in pairs.iter().filter(|p| !is_pause(p)) {
        joined[p.0] = true;
    }
    let (mut sxy, mut sxx) = (0.0, 0.0);
    let mut start = 0;
    for end in 1..=beats.len() {
        if end < beats.len() && joined[end - 1] {
            continue;
        }
        let segment = &beats[start..end];
        // Relative to the segment's first beat: small numbers, no loss of precision.
        let x = |b: &Beat| (b.seq - segment[0].seq) as f64;
        let y = |b: &Beat| (b.time - segment[0].time) as f64;
        let n = segment.len() as f64;
        let (mx, my) = (segment.iter().map(x).sum::<f64>() / n, segment.iter().map(y).sum::<f64>() / n);
        for b in segment {
            sxy += (x(b) - mx) * (y(b) - my);
            sxx += (x(b) - mx) * (x(b) - mx);
        }
        start = end;
    }
    let exact = if sxx > 0.0 { sxy / sxx } else { rough };
    let interval = ((exact / 1000.0).round() * 1000.0).max(1000.0) as u64;
    let jitter = sent.then(|| {
        let (mut lo, mut hi) = (0.0f64, 0.0f64);
        for p in pairs.iter().filter(|p| !is_pause(p)) {
            let e = p.2 - p.1 as f64 * interval as f64;
            lo = lo.min(e);
            hi = hi.max(e);
        }
        let j = ((hi - lo) / 2.0 / 1000.0).round() as u64 * 1000;
        j.min(interval.saturating_sub(1000))
    });
    let mut gaps = vec![None; beats.len().saturating_sub(1)];
    for p in &pairs {
        gaps[p.0] = Some(if is_pause(p) { GapKind::Pause(PauseEvidence::SendGap) } else { GapKind::Lost(p.1 - 1) });
    }
    Some(Sequence { interval, interval_rough: rough, jitter, gaps })
}

/// Fits the loss models to the gaps, turning loss runs the model makes improbable into
/// pauses (in place), and gives the fit.
pub fn fit_gaps(gaps: &mut [Option<GapKind>]) -> LossFit {
    loop {
        let lost = |g: &Option<GapKind>| match g {
            Some(GapKind::Lost(n)) => Some(*n),
            _ => None,
        };
        let runs: Vec<u64> = gaps.iter().filter_map(lost).filter(|&n| n > 0).collect();
        let fit = fit_loss(Transitions::from_gaps(gaps.iter().filter_map(lost)), &runs);
        let Some((longest_at, longest)) = gaps
            .iter()
            .enumerate()
            .filter_map(|(i, g)| lost(g).map(|n| (i, n)))
            .max_by_key(|&(i, n)| (n, usize::MAX - i))
        else {
            return fit;
        };
        // (A run of 1 is never improbable, P(run ≥ 1) = 1: `<` against `==` is an
        // equivalent mutant. A run of 2 is judged, and a pause only where losses are rarer
        // than about one in 10⁵ heartbeats: `<=` is not killed by any test.)
        if longest < 2 || runs.len() <= MIN_RUNS_FOR_PAUSES {
            return fit;
        }
        // The model of the other runs: is a run this long among them improbable?
        let mut others = fit.transitions;
        others.add(longest, -1);
        let other_runs: Vec<u64> = {
            let mut r = runs.clone();
            let at = r.iter().position(|&n| n == longest).expect("the longest run is a run");
            r.remove(at);
            r
        };
        // (`other_runs` fills only `rest`'s report fields, unused here: removing another run
        // of the list is an equivalent mutant.)
        let rest = fit_loss(others, &other_runs);
        let any_so_long = 1.0 - libm::pow(1.0 - run_at_least(&rest, longest), runs.len() as f64);
        if any_so_long >= PAUSE_RUN_PROBABILITY {
            return fit;
        }
        gaps[longest_at] = Some(GapKind::Pause(PauseEvidence::RunLength));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beats(seqs: &[u64], step: u64) -> Vec<Beat> {
        seqs.iter().map(|&s| Beat { incarnation: 0, seq: s, time: s * step, line: s + 2 }).collect()
    }

    #[test]
    fn transitions_of_gaps() {
        let t = Transitions::from_gaps([0, 3, 0, 1].into_iter());
        assert_eq!(t, Transitions { received_received: 2, received_lost: 2, lost_lost: 2, lost_received: 2 });
    }

    #[test]
    fn bernoulli_and_gilbert_estimates_by_hand() {
        // Runs of 2 and 1 among 6 received→received: 11 transitions, one per heartbeat after the first.
        let t = Transitions::from_gaps([0, 0, 0, 2, 0, 0, 0, 1].into_iter());
        let fit = fit_loss(t, &[2, 1]);
        assert_eq!(fit.lost, 3);
        assert_eq!(fit.expected, 3 + 6 + 2);
        assert!((fit.bernoulli.p - 3.0 / 11.0).abs() < 1e-15);
        assert!((fit.gilbert.p - 2.0 / 8.0).abs() < 1e-15);
        assert!((fit.gilbert.r - 2.0 / 3.0).abs() < 1e-15);
        assert_eq!(fit.chosen, LossChoice::Bernoulli);
        assert_eq!(fit_loss(Transitions::from_gaps([0, 0].into_iter()), &[]).chosen, LossChoice::None);
        // The log-likelihoods, the statistic and its χ²(1) p-value, erfc(√(x/2)).
        let ln = f64::ln;
        let ll_b = 3.0 * ln(3.0 / 11.0) + 8.0 * ln(8.0 / 11.0);
        let ll_g = 2.0 * ln(2.0 / 8.0) + 6.0 * ln(6.0 / 8.0) + 2.0 * ln(2.0 / 3.0) + ln(1.0 / 3.0);
        assert!((fit.bernoulli.log_likelihood - ll_b).abs() < 1e-12);
        assert!((fit.gilbert.log_likelihood - ll_g).abs() < 1e-12);
        assert!((fit.lr_statistic - 2.0 * (ll_g - ll_b)).abs() < 1e-12);
        let p_value = statrs::function::erf::erfc((fit.lr_statistic / 2.0).sqrt());
        assert!((fit.lr_p_value - p_value).abs() < 1e-12, "{} {p_value}", fit.lr_p_value);
        // Binomial standard errors over the transitions each estimate counts.
        let se = |p: f64, m: f64| (p * (1.0 - p) / m).sqrt();
        assert!((fit.bernoulli.p_se - se(3.0 / 11.0, 11.0)).abs() < 1e-15);
        assert!((fit.rate_se - se(3.0 / 11.0, 11.0)).abs() < 1e-15);
        assert!((fit.gilbert.p_se - se(0.25, 8.0)).abs() < 1e-15);
        assert!((fit.gilbert.r_se - se(2.0 / 3.0, 3.0)).abs() < 1e-15);
        assert_eq!(fit.gilbert.mean_burst, Some(1.5));
        assert!((fit.gilbert.loss_rate - 0.25 / (0.25 + 2.0 / 3.0)).abs() < 1e-15);
        assert_eq!((fit.runs, fit.longest_run), (2, 2));
    }

    fn gaps(received: usize, runs: &[u64]) -> Vec<Option<GapKind>> {
        let mut g = vec![Some(GapKind::Lost(0)); received];
        g.extend(runs.iter().map(|&n| Some(GapKind::Lost(n))));
        g
    }

    #[test]
    fn a_loss_run_the_other_runs_make_improbable_is_a_pause() {
        // Ten single losses, then a run of 30: under Bernoulli (p ≈ 1 %) a run of 30 has
        // probability p^29.
        let mut g = gaps(1000, &[1; 10]);
        g.push(Some(GapKind::Lost(30)));
        let fit = fit_gaps(&mut g);
        assert_eq!(g[1010], Some(GapKind::Pause(PauseEvidence::RunLength)));
        assert_eq!((fit.lost, fit.runs, fit.longest_run, fit.chosen), (10, 10, 1, LossChoice::Bernoulli));
        // With four other runs only, nothing is judged.
        let mut g = gaps(1000, &[1, 1, 1, 1, 30]);
        let fit = fit_gaps(&mut g);
        assert_eq!((fit.lost, fit.runs), (34, 5));
        assert!(g.iter().all(|x| !matches!(x, Some(GapKind::Pause(_)))));
    }

    #[test]
    fn under_bursty_loss_a_long_run_is_judged_against_the_burst_length() {
        // Runs of 1 to 5, four of each: Gilbert with r = 20/60 = 1/3. A run of 12 has
        // P(≥ 12) = (2/3)^11 ≈ 0.012, and some run of 21 that long 1 − (1 − 0.012)^21 ≈ 0.22:
        // loss. A run of 40: (2/3)^39 ≈ 1.4·10⁻⁷, about 3·10⁻⁶ for any: a pause.
        let bursts: Vec<u64> = (1..=5).flat_map(|n| [n; 4]).collect();
        for (long, pause) in [(12, false), (40, true)] {
            let mut runs = bursts.clone();
            runs.push(long);
            let mut g = gaps(500, &runs);
            let fit = fit_gaps(&mut g);
            assert_eq!(fit.chosen, LossChoice::Gilbert);
            assert_eq!(matches!(g[520], Some(GapKind::Pause(PauseEvidence::RunLength))), pause, "{long}");
            assert_eq!(fit.longest_run, if pause { 5 } else { long });
            let rest = fit_loss(Transitions::from_gaps(bursts.iter().copied()), &bursts);
            assert!((rest.gilbert.r - 1.0 / 3.0).abs() < 1e-12);
            let p = run_at_least(&rest, long);
            assert!((p - (2.0f64 / 3.0).powi(long as i32 - 1)).abs() < 1e-12);
        }
    }

    #[test]
    fn a_stall_is_a_pause_only_beyond_half_an_interval_plus_the_jitter() {
        // 100 ms slots, each sent 0–39 ms late (k·7919 mod 40 ms), seq 20 lost; then a stall
        // of S after seq 50 (seq 50 and 51 leave 30 and 29 ms late: the pair's excess is
        // S − 1 ms). The jitter seen is 39 ms, so a pause needs an excess over 50 + 39 ms.
        let ms = 1_000_000;
        for (stall, pause) in [(70 * ms, false), (100 * ms, true)] {
            let b: Vec<Beat> = (0..100u64)
                .filter(|&k| k != 20)
                .map(|k| Beat {
                    incarnation: 0,
                    seq: k,
                    time: k * 100 * ms + (k * 7919 % 40) * ms + if k > 50 { stall } else { 0 },
                    line: k + 2,
                })
                .collect();
            let s = sequence(&b, true).unwrap();
            assert!((90.0 * ms as f64..110.0 * ms as f64).contains(&s.interval_rough), "{}", s.interval_rough);
            let kind = if pause { GapKind::Pause(PauseEvidence::SendGap) } else { GapKind::Lost(0) };
            assert_eq!(s.gaps[49], Some(kind), "stall {stall}");
            assert_eq!(s.gaps[19], Some(GapKind::Lost(1)));
        }
        // Without a single step (every other heartbeat lost), the rough interval is the spacing
        // over the seq advance.
        let s = sequence(&beats(&[0, 2, 4, 6, 8], 100_000_000), true).unwrap();
        assert_eq!(s.interval_rough, 100_000_000.0);
        assert_eq!(s.gaps, vec![Some(GapKind::Lost(1)); 4]);
    }

    #[test]
    fn a_restart_that_continues_the_numbering_is_no_gap() {
        // Incarnation 0 sends seq 0..10; the restarted sender goes on from 20 in incarnation 1.
        let mut b = beats(&(0..10).collect::<Vec<_>>(), 100_000_000);
        b.extend((20..30).map(|s| Beat { incarnation: 1, seq: s, time: s * 100_000_000, line: s }));
        let mut s = sequence(&b, true).unwrap();
        assert_eq!(s.gaps[9], None);
        assert_eq!(fit_gaps(&mut s.gaps).lost, 0);
    }

    #[test]
    fn interval_jitter_and_a_send_gap_pause() {
        // Counter sequence numbers, 100 ms apart, with a 5 s stall after seq 3.
        let mut b = beats(&[0, 1, 2, 3, 4, 5, 6], 100_000_000);
        for x in &mut b[4..] {
            x.time += 5_000_000_000;
        }
        let s = sequence(&b, true).unwrap();
        assert_eq!(s.interval, 100_000_000);
        assert_eq!(s.jitter, Some(0));
        assert_eq!(s.gaps[3], Some(GapKind::Pause(PauseEvidence::SendGap)));
        assert_eq!(s.gaps[2], Some(GapKind::Lost(0)));
        // Without send times the same gap is not judged.
        assert_eq!(sequence(&b, false).unwrap().gaps[3], Some(GapKind::Lost(0)));
    }
}
