//! One directed link's delay and loss step, asked one datagram at a time: what both the
//! heartbeat links (`crate::sim::link`, which draws a whole send schedule ahead) and the
//! closed-loop message workloads (`crate::workload`, where an ACK or a timeout causes the
//! next send) do to a datagram, in one place, in one order: a cut (partition) at send time
//! drops it; then the link's loss process and any loss burst; then a pending delay change;
//! duplication (a second copy with its own delay); the delay drawn from the link's sampler
//! plus any delay spike; FIFO links never let a datagram overtake an earlier one. The
//! samplers and loss processes are this module's own, seeded from named streams of the
//! experiment seed, so that a workload never shares draws with the heartbeats or with
//! another workload.

use rand::Rng;

use super::delay::DelaySampler;
use super::loss::{LossModel, LossProcess};
use super::rng::SimRng;
use super::{Cursor, LinkFaults, Window};
use crate::time::Nanos;

/// What the link did with one datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Cut by a partition.
    Cut,
    Lost,
    /// Arrival times of the copies (two when duplicated), in the order drawn.
    Delivered([Option<Nanos>; 2]),
}

/// A directed link asked in non-decreasing send time.
pub struct Channel<'a> {
    delay: DelaySampler,
    changes: std::vec::IntoIter<(Nanos, DelaySampler)>,
    next_change: Nanos,
    loss: LossProcess,
    duplicate: f64,
    fifo: bool,
    last_arrival: Nanos,
    cuts: Cursor<'a, Window>,
    spikes: Cursor<'a, (Window, Nanos)>,
    bursts: Cursor<'a, (Window, f64)>,
    delay_rng: SimRng,
    loss_rng: SimRng,
}

impl<'a> Channel<'a> {
    /// The link's `loss` model, `duplicate` probability and `fifo` setting with its `delay`
    /// sampler; `changes` are the samplers of `faults.delay_changes`, in order; delays draw
    /// from `delay_rng`, losses and duplicates from `loss_rng`.
    #[allow(clippy::too_many_arguments)] // why: each is one of the link's independent models
    pub fn new(
        loss: &LossModel,
        duplicate: f64,
        fifo: bool,
        delay: DelaySampler,
        changes: Vec<(Nanos, DelaySampler)>,
        faults: &'a LinkFaults,
        delay_rng: SimRng,
        loss_rng: SimRng,
    ) -> Channel<'a> {
        let next_change = changes.first().map_or(Nanos::MAX, |c| c.0);
        Channel {
            delay,
            changes: changes.into_iter(),
            next_change,
            loss: LossProcess::new(loss),
            duplicate,
            fifo,
            last_arrival: Nanos::ZERO,
            cuts: Cursor::new(&faults.cuts, |w| *w),
            spikes: Cursor::new(&faults.spikes, |s| s.0),
            bursts: Cursor::new(&faults.bursts, |b| b.0),
            delay_rng,
            loss_rng,
        }
    }

    /// Whether a delay change is still to come (a caller on a hot path may then take
    /// [`Self::send_with`] without the check).
    pub fn changes_pending(&self) -> bool {
        self.next_change != Nanos::MAX
    }

    /// Sends one datagram at `t` (not earlier than the previous send).
    pub fn send(&mut self, t: Nanos) -> Fate {
        self.send_with::<true>(t)
    }

    /// [`Self::send`], checking for a due delay change only when `CHANGES` (a caller that
    /// knows none is pending saves the comparison per datagram).
    #[inline(always)]
    pub fn send_with<const CHANGES: bool>(&mut self, t: Nanos) -> Fate {
        if self.cuts.at(t).is_some() {
            return Fate::Cut;
        }
        // Draws `u < p` with u uniform on [0, 1): `<=` differs only when u equals p exactly
        // (probability 2^-53), so mutants of these comparisons are equivalent.
        let burst_lost = self.bursts.at(t).is_some_and(|&(_, p)| self.loss_rng.random::<f64>() < p);
        if self.loss.lost(t, &mut self.loss_rng) || burst_lost {
            return Fate::Lost;
        }
        if CHANGES && t >= self.next_change {
            self.change_delay(t);
        }
        let extra = self.spikes.at(t).map_or(Nanos::ZERO, |s| s.1);
        let copies = if self.duplicate > 0.0 && self.loss_rng.random::<f64>() < self.duplicate { 2 } else { 1 };
        let mut out = [None; 2];
        for slot in out.iter_mut().take(copies) {
            let mut at = t.saturating_add(self.delay.sample(&mut self.delay_rng)).saturating_add(extra);
            if self.fifo {
                at = at.max(self.last_arrival);
                self.last_arrival = at;
            }
            *slot = Some(at);
        }
        Fate::Delivered(out)
    }

    /// Takes every delay change due at send time `t` (the last one wins); the correlated
    /// delay's state carries over, so a correlated link stays correlated across a change.
    #[cold]
    fn change_delay(&mut self, t: Nanos) {
        while self.next_change <= t {
            let Some((_, sampler)) = self.changes.next() else { break };
            self.delay.replace_model(sampler);
            self.next_change = self.changes.as_slice().first().map_or(Nanos::MAX, |c| c.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::delay::DelayModel;
    use crate::fault::loss::LossModel;

    fn channel(loss: f64, duplicate: f64, faults: &LinkFaults) -> Channel<'_> {
        let delay = DelayModel::Constant { value: Nanos::from_millis(5) };
        let sampler = DelaySampler::new(&delay, 0.0, ".".as_ref()).unwrap();
        let (delay_rng, loss_rng) = (crate::fault::rng::stream(1, "t/delay"), crate::fault::rng::stream(1, "t/loss"));
        Channel::new(&LossModel::Bernoulli { p: loss }, duplicate, false, sampler, vec![], faults, delay_rng, loss_rng)
    }

    #[test]
    fn cuts_come_first_then_loss_then_delay_and_duplicates() {
        let faults = LinkFaults {
            cuts: vec![Window { from: Nanos::from_secs(1), to: Nanos::from_secs(2) }],
            spikes: vec![(Window { from: Nanos::from_secs(3), to: Nanos::from_secs(4) }, Nanos::from_millis(100))],
            ..Default::default()
        };
        let mut c = channel(0.0, 1.0, &faults);
        let ms = Nanos::from_millis;
        assert_eq!(c.send(ms(0)), Fate::Delivered([Some(ms(5)), Some(ms(5))]));
        assert_eq!(c.send(ms(1500)), Fate::Cut);
        assert_eq!(c.send(ms(3000)), Fate::Delivered([Some(ms(3105)), Some(ms(3105))]));
        let none = LinkFaults::default();
        let mut c = channel(1.0, 0.0, &none);
        assert_eq!(c.send(ms(0)), Fate::Lost);
    }
}
