//! Loss models: Bernoulli, Gilbert–Elliott per packet (netem's parameters), and a two-state
//! process defined in time, so that bursts do not scale with the heartbeat rate.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::time::Nanos;

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(tag = "model", rename_all = "kebab-case", deny_unknown_fields)]
pub enum LossModel {
    #[default]
    None,
    /// Each datagram lost independently with probability `p`.
    Bernoulli { p: f64 },
    /// netem's Gilbert–Elliott, per packet: `p` good→bad, `r` bad→good; loss 1−`h` in bad
    /// (default h = 0: all lost), 1−`k` in good (default k = 1: none lost).
    GilbertElliott {
        p: f64,
        r: f64,
        #[serde(default)]
        h: f64,
        #[serde(default = "one")]
        k: f64,
    },
    /// Good and bad periods of exponential length with means `mean_good` and `mean_bad`;
    /// loss probability `loss_bad` (default 1) and `loss_good` (default 0) within them.
    Bursts {
        mean_good: Nanos,
        mean_bad: Nanos,
        #[serde(default = "one")]
        loss_bad: f64,
        #[serde(default)]
        loss_good: f64,
    },
}

fn one() -> f64 {
    1.0
}

impl LossModel {
    pub fn validate(&self) -> Result<(), String> {
        let probabilities: Vec<(&str, f64)> = match self {
            LossModel::None => vec![],
            LossModel::Bernoulli { p } => vec![("p", *p)],
            LossModel::GilbertElliott { p, r, h, k } => vec![("p", *p), ("r", *r), ("h", *h), ("k", *k)],
            LossModel::Bursts { loss_bad, loss_good, mean_good, mean_bad } => {
                if *mean_good == Nanos::ZERO || *mean_bad == Nanos::ZERO {
                    return Err("`mean_good` and `mean_bad` must be greater than zero".into());
                }
                vec![("loss_bad", *loss_bad), ("loss_good", *loss_good)]
            }
        };
        for (name, p) in probabilities {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("`{name}` = {p}: a probability must be in [0, 1]"));
            }
        }
        Ok(())
    }

    /// The long-run share of datagrams lost (for reports and tests).
    pub fn mean_loss(&self) -> f64 {
        match *self {
            LossModel::None => 0.0,
            LossModel::Bernoulli { p } => p,
            LossModel::GilbertElliott { p, r, h, k } => {
                let bad = if p + r > 0.0 { p / (p + r) } else { 0.0 };
                bad * (1.0 - h) + (1.0 - bad) * (1.0 - k)
            }
            LossModel::Bursts { mean_good, mean_bad, loss_bad, loss_good } => {
                let bad = mean_bad.0 as f64 / (mean_good.0 as f64 + mean_bad.0 as f64);
                bad * loss_bad + (1.0 - bad) * loss_good
            }
        }
    }
}

/// The state of a loss model on one link. Ask it in non-decreasing time order.
#[derive(Clone, Debug)]
pub struct LossProcess {
    model: LossModel,
    bad: bool,
    /// For `Bursts`: when the current period ends.
    switch_at: Option<f64>,
}

impl LossProcess {
    /// Starts in the good state.
    pub fn new(model: &LossModel) -> LossProcess {
        LossProcess { model: model.clone(), bad: false, switch_at: None }
    }

    /// Whether a datagram sent at `t` is lost.
    #[inline(always)]
    pub fn lost(&mut self, t: Nanos, rng: &mut impl Rng) -> bool {
        // (Mutation testing, equivalent: `<=` for `<` in the draws `u < p`, u uniform on
        // [0, 1): they differ only when u equals p exactly, with probability 2^-53; and `>`
        // for `>=` in `t >= switch`, a period ending exactly at a send time, whose switch is
        // a continuous draw.)
        match self.model {
            LossModel::None => false,
            LossModel::Bernoulli { p } => p > 0.0 && rng.random::<f64>() < p,
            LossModel::GilbertElliott { p, r, h, k } => {
                // netem order: move the chain, then decide this packet in the new state.
                let flip = if self.bad { r } else { p };
                if rng.random::<f64>() < flip {
                    self.bad = !self.bad;
                }
                let loss = if self.bad { 1.0 - h } else { 1.0 - k };
                loss > 0.0 && rng.random::<f64>() < loss
            }
            LossModel::Bursts { mean_good, mean_bad, loss_bad, loss_good } => {
                let t = t.0 as f64;
                let mut switch = match self.switch_at {
                    Some(s) => s,
                    None => {
                        let e: f64 = super::ziggurat::standard_exponential(rng);
                        e * mean_good.0 as f64
                    }
                };
                while t >= switch {
                    self.bad = !self.bad;
                    let mean = if self.bad { mean_bad } else { mean_good };
                    let e: f64 = super::ziggurat::standard_exponential(rng);
                    switch += e * mean.0 as f64;
                }
                self.switch_at = Some(switch);
                let loss = if self.bad { loss_bad } else { loss_good };
                loss > 0.0 && rng.random::<f64>() < loss
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn long_run_loss_matches_each_model() {
        let models = [
            LossModel::Bernoulli { p: 0.1 },
            LossModel::GilbertElliott { p: 0.01, r: 0.2, h: 0.0, k: 1.0 },
            LossModel::GilbertElliott { p: 0.05, r: 0.3, h: 0.5, k: 0.99 },
            LossModel::Bursts {
                mean_good: Nanos::from_secs(10),
                mean_bad: Nanos::from_secs(1),
                loss_bad: 1.0,
                loss_good: 0.0,
            },
        ];
        for model in models {
            let mut process = LossProcess::new(&model);
            let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(9);
            let n = 1_000_000u64;
            // 10 ms apart: 10 000 s, about 900 bad periods for `Bursts`.
            let lost = (0..n).filter(|i| process.lost(Nanos(i * 10_000_000), &mut rng)).count();
            let share = lost as f64 / n as f64;
            assert!((share - model.mean_loss()).abs() < 0.01, "{model:?}: {share} vs {}", model.mean_loss());
        }
    }

    #[test]
    fn mean_loss_is_each_models_closed_form() {
        assert_eq!(LossModel::None.mean_loss(), 0.0);
        assert_eq!(LossModel::Bernoulli { p: 0.25 }.mean_loss(), 0.25);
        // Gilbert–Elliott: bad a share p / (p + r) of the time, losing 1 − h there and 1 − k
        // in the good state; a chain that never moves stays good.
        let ge = LossModel::GilbertElliott { p: 0.01, r: 0.04, h: 0.5, k: 0.9 };
        assert!((ge.mean_loss() - (0.2 * 0.5 + 0.8 * 0.1)).abs() < 1e-15, "{}", ge.mean_loss());
        let still = LossModel::GilbertElliott { p: 0.0, r: 0.0, h: 0.0, k: 0.75 };
        assert_eq!(still.mean_loss(), 0.25);
        // A chain that never leaves the bad state ends there.
        let absorbed = LossModel::GilbertElliott { p: 0.1, r: 0.0, h: 0.25, k: 1.0 };
        assert_eq!(absorbed.mean_loss(), 0.75);
        // Bursts: bad 1 s of every 11, losing 0.9 there and 0.01 in the good 10 s.
        let bursts = LossModel::Bursts {
            mean_good: Nanos::from_secs(10),
            mean_bad: Nanos::from_secs(1),
            loss_bad: 0.9,
            loss_good: 0.01,
        };
        assert!((bursts.mean_loss() - (0.9 / 11.0 + 0.1 / 11.0)).abs() < 1e-15, "{}", bursts.mean_loss());
    }

    /// What a file leaves out: Gilbert–Elliott loses everything in the bad state and
    /// nothing in the good (h = 0, k = 1), as netem does; bursts the same (1 and 0).
    #[test]
    fn the_defaults_are_netems() {
        #[derive(Deserialize)]
        struct File {
            loss: LossModel,
        }
        let read = |text: &str| toml::from_str::<File>(text).unwrap().loss;
        assert_eq!(
            read("loss = { model = \"gilbert-elliott\", p = 0.1, r = 0.2 }"),
            LossModel::GilbertElliott { p: 0.1, r: 0.2, h: 0.0, k: 1.0 }
        );
        assert_eq!(
            read("loss = { model = \"bursts\", mean_good = \"1s\", mean_bad = \"2s\" }"),
            LossModel::Bursts {
                mean_good: Nanos::from_secs(1),
                mean_bad: Nanos::from_secs(2),
                loss_bad: 1.0,
                loss_good: 0.0
            }
        );
        assert_eq!(read("loss = { model = \"none\" }"), LossModel::None);
    }

    #[test]
    fn every_probability_and_period_is_checked() {
        let ok = |m: LossModel| assert_eq!(m.validate(), Ok(()), "{m:?}");
        let refused = |m: LossModel, message: &str| assert_eq!(m.validate().unwrap_err(), message, "{m:?}");
        ok(LossModel::None);
        ok(LossModel::Bernoulli { p: 0.0 });
        ok(LossModel::Bernoulli { p: 1.0 });
        refused(LossModel::Bernoulli { p: 1.5 }, "`p` = 1.5: a probability must be in [0, 1]");
        refused(LossModel::Bernoulli { p: -0.5 }, "`p` = -0.5: a probability must be in [0, 1]");
        refused(LossModel::Bernoulli { p: f64::NAN }, "`p` = NaN: a probability must be in [0, 1]");
        let ge = |p, r, h, k| LossModel::GilbertElliott { p, r, h, k };
        ok(ge(0.0, 1.0, 0.0, 1.0));
        for (i, name) in ["p", "r", "h", "k"].into_iter().enumerate() {
            let mut v = [0.5; 4];
            v[i] = 2.0;
            refused(ge(v[0], v[1], v[2], v[3]), &format!("`{name}` = 2: a probability must be in [0, 1]"));
        }
        let s = Nanos::from_secs;
        let bursts =
            |good, bad, loss_bad, loss_good| LossModel::Bursts { mean_good: good, mean_bad: bad, loss_bad, loss_good };
        ok(bursts(Nanos(1), Nanos(1), 1.0, 0.0));
        let periods = "`mean_good` and `mean_bad` must be greater than zero";
        refused(bursts(Nanos::ZERO, s(1), 1.0, 0.0), periods);
        refused(bursts(s(1), Nanos::ZERO, 1.0, 0.0), periods);
        refused(bursts(s(1), s(1), 1.1, 0.0), "`loss_bad` = 1.1: a probability must be in [0, 1]");
        refused(bursts(s(1), s(1), 1.0, -1.0), "`loss_good` = -1: a probability must be in [0, 1]");
    }

    /// A loss of probability zero draws nothing: a model that cannot lose leaves the random
    /// stream as a link without loss leaves it (what a channel draws next, its duplicates,
    /// is then the same), and each model draws exactly what its definition needs.
    #[test]
    fn a_zero_loss_draws_nothing() {
        let fresh = || rand_pcg::Pcg64Mcg::seed_from_u64(4);
        let after = |model: LossModel| {
            let mut process = LossProcess::new(&model);
            let mut rng = fresh();
            let lost = (0..100u64).filter(|&i| process.lost(Nanos(i), &mut rng)).count();
            (lost, rng.random::<u64>())
        };
        let mut untouched = fresh();
        assert_eq!(after(LossModel::None), (0, untouched.random::<u64>()));
        assert_eq!(after(LossModel::Bernoulli { p: 0.0 }), (0, fresh().random::<u64>()));
        // A chain that never leaves its good state, where nothing is lost: one draw a packet,
        // whether to move.
        let mut moved = fresh();
        for _ in 0..100 {
            moved.random::<f64>();
        }
        assert_eq!(after(LossModel::GilbertElliott { p: 0.0, r: 1.0, h: 0.0, k: 1.0 }), (0, moved.random::<u64>()));
        // A good period far longer than the 100 ns asked: the draw of its length only.
        let mut drawn = fresh();
        super::super::ziggurat::standard_exponential(&mut drawn);
        let long = LossModel::Bursts { mean_good: Nanos(1 << 60), mean_bad: Nanos(1), loss_bad: 1.0, loss_good: 0.0 };
        assert_eq!(after(long), (0, drawn.random::<u64>()));
    }

    /// The first good period is exponential like every later one, of mean `mean_good`: over
    /// 4,000 seeds, the first loss (every datagram lost in the bad state, none in the good)
    /// comes after 1 s on average, with a standard deviation of 1 s (each within 4 standard
    /// errors; a period drawn otherwise, e.g. fixed at its mean, fails).
    #[test]
    fn the_first_good_period_is_exponential() {
        let model = LossModel::Bursts {
            mean_good: Nanos::from_secs(1),
            mean_bad: Nanos::from_millis(100),
            loss_bad: 1.0,
            loss_good: 0.0,
        };
        let n = 4_000;
        let firsts: Vec<f64> = (0..n)
            .map(|seed| {
                let mut process = LossProcess::new(&model);
                let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed);
                let first = (0u64..).find(|&i| process.lost(Nanos(i * 100_000), &mut rng)).unwrap();
                first as f64 * 1e-4
            })
            .collect();
        let mean = firsts.iter().sum::<f64>() / n as f64;
        let sd = (firsts.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
        // The mean's standard error is 1/√n; the sd's about √(8/n)/2 for an exponential.
        let se = 1.0 / (n as f64).sqrt();
        assert!((mean - 1.0).abs() < 4.0 * se, "mean {mean}");
        assert!((sd - 1.0).abs() < 4.0 * se * 2f64.sqrt(), "sd {sd}");
    }
}
