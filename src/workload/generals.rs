//! The two generals, with a fixed protocol, simulated beside its closed forms.
//!
//! General A sends message 1 to B; B, on receiving it, sends message 2 to A; and so on up to
//! message k: a chain alternating between the generals, each message sent once and lost
//! independently with probability p (the seed's fair-loss link, drawn by
//! `crate::fault::loss`'s Bernoulli process). A general attacks iff it received every message
//! addressed to it (A: the even ones, B: the odd ones; with k = 1, A has none and always
//! attacks). If message j is the first lost, nothing after it is sent: A misses the even
//! messages in j..=k and B the odd ones, so exactly one general attacks iff j = k:
//!
//! - P(disagreement) = p·(1−p)^(k−1): shrinks with k, never zero;
//! - P(both attack) = (1−p)^k: shrinks too, so agreement is bought by attacking less.
//!
//! No finite k makes both certain: the last message's sender never knows it arrived.

use serde::{Deserialize, Serialize};

use crate::fault::loss::{LossModel, LossProcess};
use crate::fault::rng::stream;
use crate::time::Nanos;

/// `[two_generals]` in an experiment file.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GeneralsDecl {
    /// Loss probability of each message.
    pub p: f64,
    /// Depths 1..=max_depth are simulated (default 10).
    #[serde(default = "default_depth")]
    pub max_depth: u32,
    /// Runs per depth (default 100 000).
    #[serde(default = "default_trials")]
    pub trials: u64,
}

fn default_depth() -> u32 {
    10
}
fn default_trials() -> u64 {
    100_000
}

impl GeneralsDecl {
    /// Checks the parameters; the error names the field.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if !(0.0..=1.0).contains(&self.p) {
            return Err(("p", format!("{}: a probability must be in [0, 1]", self.p)));
        }
        if !(1..=1000).contains(&self.max_depth) {
            return Err(("max_depth", "must be between 1 and 1000".into()));
        }
        if !(1..=100_000_000).contains(&self.trials) {
            return Err(("trials", "must be between 1 and 10^8".into()));
        }
        Ok(())
    }
}

/// One depth's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GeneralsRow {
    pub depth: u32,
    pub trials: u64,
    /// Runs in which exactly one general attacked.
    pub disagreements: u64,
    pub both_attacked: u64,
    pub disagreement: f64,
    pub both_attack: f64,
    /// p·(1−p)^(k−1).
    pub disagreement_closed_form: f64,
    /// (1−p)^k.
    pub both_attack_closed_form: f64,
    /// Standard errors of the two estimates (binomial, from the closed forms).
    pub disagreement_se: f64,
    pub both_attack_se: f64,
}

/// `summary.json`'s `two_generals`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GeneralsReport {
    pub p: f64,
    pub rows: Vec<GeneralsRow>,
}

/// Who attacks after one run at depth `k`, given which messages were lost.
pub fn attacks(k: u32, mut lost: impl FnMut(u32) -> bool) -> (bool, bool) {
    let (mut a_got_all, mut b_got_all) = (true, true);
    for i in 1..=k {
        // Message i goes A → B when odd, B → A when even; once one is lost the chain stops
        // and every later message is missed by its addressee.
        let first_missing = lost(i);
        if first_missing {
            for j in i..=k {
                if j % 2 == 1 {
                    b_got_all = false;
                } else {
                    a_got_all = false;
                }
            }
            break;
        }
    }
    (a_got_all, b_got_all)
}

/// `x` to the power `n` by squaring: the steps compiler-rt's `__powidf2` (behind `powi` on
/// x86-64) takes, written out so that the closed forms are the same on every machine
/// (`powi`'s precision is unspecified and may differ by platform).
fn pow_int(mut x: f64, mut n: u32) -> f64 {
    let mut r = 1.0;
    loop {
        if n & 1 == 1 {
            r *= x;
        }
        n >>= 1;
        if n == 0 {
            return r;
        }
        x *= x;
    }
}

/// Simulates depths 1..=max_depth, each from its own stream of `seed`.
pub fn simulate(decl: &GeneralsDecl, seed: u64) -> GeneralsReport {
    let p = decl.p;
    let rows = (1..=decl.max_depth)
        .map(|k| {
            let mut rng = stream(seed, &format!("two-generals/{k}"));
            let mut loss = LossProcess::new(&LossModel::Bernoulli { p });
            let (mut disagreements, mut both) = (0, 0);
            for _ in 0..decl.trials {
                let (a, b) = attacks(k, |_| loss.lost(Nanos::ZERO, &mut rng));
                disagreements += (a != b) as u64;
                both += (a && b) as u64;
            }
            let n = decl.trials as f64;
            let d = p * pow_int(1.0 - p, k - 1);
            let b = pow_int(1.0 - p, k);
            GeneralsRow {
                depth: k,
                trials: decl.trials,
                disagreements,
                both_attacked: both,
                disagreement: disagreements as f64 / n,
                both_attack: both as f64 / n,
                disagreement_closed_form: d,
                both_attack_closed_form: b,
                disagreement_se: (d * (1.0 - d) / n).sqrt(),
                both_attack_se: (b * (1.0 - b) / n).sqrt(),
            }
        })
        .collect();
    GeneralsReport { p, rows }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powers_by_squaring_are_exact_where_they_can_be_and_agree_with_powi() {
        assert_eq!(pow_int(0.3, 0), 1.0);
        assert_eq!(pow_int(0.3, 1), 0.3);
        assert_eq!(pow_int(0.5, 10), 1.0 / 1024.0);
        assert_eq!(pow_int(3.0, 13), 1_594_323.0);
        assert_eq!(pow_int(0.9, 1 << 20), 0.0);
        // The same steps as `powi` here (x86-64), to the bit.
        for x in [0.99, 0.5, 0.3, 0.123_456_789, 1.0 - 1e-9] {
            for n in 0..200u32 {
                assert_eq!(pow_int(x, n).to_bits(), x.powi(n as i32).to_bits(), "{x}^{n}");
            }
        }
    }

    #[test]
    fn only_a_loss_of_the_last_message_splits_the_generals() {
        for k in 1..=6 {
            for first_lost in 1..=k + 1 {
                let (a, b) = attacks(k, |i| i == first_lost);
                assert_eq!(a != b, first_lost == k, "k = {k}, first lost {first_lost}");
                assert_eq!(a && b, first_lost > k);
            }
        }
    }
}
