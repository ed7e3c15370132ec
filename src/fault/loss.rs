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
}
