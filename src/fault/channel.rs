//! One directed link's delay and loss step, asked one datagram at a time: what both the
//! heartbeat links (`crate::sim::link`, which draws a whole send schedule ahead) and the
//! closed-loop message workloads (`crate::workload`, where an ACK or a timeout causes the
//! next send) do to a datagram, in one place, in one order: a cut (partition) at send time
//! drops it; then the link's loss process and any loss burst; then a pending delay change;
//! duplication (a second copy with its own delay); the delay drawn from the link's sampler
//! plus any delay spike; FIFO links never let a datagram overtake an earlier one. The
//! samplers and loss processes are this module's own, seeded from named streams of the
//! experiment seed, so that a workload never shares draws with the heartbeats or with
//! another workload. The channel also counts what it did ([`DatagramCounts`]): every
//! engine's datagram accounting (the simulator's links, live mode's relay, the workloads)
//! is this one.

use rand::Rng;

use super::delay::{BATCH, DelaySampler};
use super::loss::{LossModel, LossProcess};
use super::rng::SimRng;
use super::{Cursor, LinkFaults, Window};
use crate::time::Nanos;

/// What happened to the datagrams of one link on the way (the simulator and the relay know;
/// a trace records only what arrived).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DatagramCounts {
    pub sent: u64,
    pub lost: u64,
    /// Dropped by a partition.
    pub cut: u64,
    pub duplicated: u64,
}

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
    /// Delays drawn ahead (`ahead[taken..]` not yet used), once no delay change is pending:
    /// a change replaces the sampler, which would make delays drawn ahead by the old one
    /// use draws that belong to the new one.
    ahead: [Nanos; BATCH],
    taken: usize,
    counts: DatagramCounts,
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
            ahead: [Nanos::ZERO; BATCH],
            taken: BATCH,
            counts: DatagramCounts::default(),
        }
    }

    /// What the channel did with the datagrams sent so far.
    pub fn counts(&self) -> DatagramCounts {
        self.counts
    }

    /// Whether a delay change is still to come (a caller on a hot path may then take
    /// [`Self::send_with`] without the check). (Mutation testing, equivalent: `true`. Delays
    /// are then drawn one at a time and the check made for every datagram, which gives the
    /// same values from the same draws, only slower: see [`Self::next_delay`].)
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
        self.counts.sent += 1;
        if self.cuts.at(t).is_some() {
            self.counts.cut += 1;
            return Fate::Cut;
        }
        // Draws `u < p` with u uniform on [0, 1): `<=` differs only when u equals p exactly
        // (probability 2^-53), so mutants of these comparisons are equivalent (here and in
        // the duplication draw below).
        let burst_lost = self.bursts.at(t).is_some_and(|&(_, p)| self.loss_rng.random::<f64>() < p);
        if self.loss.lost(t, &mut self.loss_rng) || burst_lost {
            self.counts.lost += 1;
            return Fate::Lost;
        }
        // (Mutation testing, equivalent: `||` for `&&`. `change_delay` takes only the changes
        // due at `t`, so calling it when none is due changes nothing; without `CHANGES` none
        // is pending and `next_change` is the end of time.)
        if CHANGES && t >= self.next_change {
            self.change_delay(t);
        }
        let extra = self.spikes.at(t).map_or(Nanos::ZERO, |s| s.1);
        let duplicated = self.duplicate > 0.0 && self.loss_rng.random::<f64>() < self.duplicate;
        // Straight-line, not a loop filling the array: the caller then gets the arrival
        // times in registers instead of reading back what was just stored.
        let first = self.arrival(t, extra);
        let second = if duplicated {
            self.counts.duplicated += 1;
            Some(self.arrival(t, extra))
        } else {
            None
        };
        Fate::Delivered([Some(first), second])
    }

    /// A copy sent at `t` arrives after the next delay and any spike's `extra`; on a FIFO
    /// link, not before the copy ahead of it.
    #[inline(always)]
    fn arrival(&mut self, t: Nanos, extra: Nanos) -> Nanos {
        let mut at = t.saturating_add(self.next_delay()).saturating_add(extra);
        if self.fifo {
            at = at.max(self.last_arrival);
            self.last_arrival = at;
        }
        at
    }

    /// The next delay of the link's sampler: one drawn ahead, or, while a delay change is
    /// pending, one drawn now. Either way the same value from the same draws.
    #[inline(always)]
    fn next_delay(&mut self) -> Nanos {
        if let Some(&d) = self.ahead.get(self.taken) {
            self.taken += 1;
            return d;
        }
        if self.changes_pending() {
            return self.delay.sample(&mut self.delay_rng);
        }
        self.delay.sample_batch(&mut self.delay_rng, &mut self.ahead);
        self.taken = 1;
        self.ahead[0]
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
        let counts = c.counts();
        assert_eq!((counts.sent, counts.cut, counts.lost, counts.duplicated), (3, 1, 0, 2));
        let none = LinkFaults::default();
        let mut c = channel(1.0, 0.0, &none);
        assert_eq!(c.send(ms(0)), Fate::Lost);
        assert_eq!(c.counts(), DatagramCounts { sent: 1, lost: 1, cut: 0, duplicated: 0 });
    }

    /// The delays a channel gives (drawn ahead in batches once no change is pending) are
    /// those of its samplers asked one datagram at a time, in order, from the same stream:
    /// before a change, across it (the batch is not drawn while it is pending), and after,
    /// with losses and duplicates between them.
    #[test]
    fn delays_drawn_ahead_are_the_ones_drawn_one_at_a_time() {
        let ms = Nanos::from_millis;
        let lognormal = |median| DelayModel::Lognormal { median: ms(median), sigma: 0.5, base: ms(1) };
        let sampler = |m: &DelayModel| DelaySampler::new(m, 0.3, ".".as_ref()).unwrap();
        let change = Nanos::from_secs(5);
        let faults = LinkFaults::default();
        let stream = |name| crate::fault::rng::stream(3, name);
        let mut c = Channel::new(
            &LossModel::Bernoulli { p: 0.2 },
            0.1,
            false,
            sampler(&lognormal(2)),
            vec![(change, sampler(&lognormal(40)))],
            &faults,
            stream("delay"),
            stream("loss"),
        );
        // The reference: the same samplers, one draw per copy, the change taken by hand.
        let mut reference = sampler(&lognormal(2));
        let mut rng = stream("delay");
        let mut changed = false;
        let (mut copies, mut after) = (0, 0);
        for i in 0..2000u64 {
            let t = ms(10 * i);
            let Fate::Delivered(got) = c.send_with::<true>(t) else { continue };
            if t >= change && !changed {
                reference.replace_model(sampler(&lognormal(40)));
                changed = true;
            }
            for at in got.into_iter().flatten() {
                assert_eq!(at, t + reference.sample(&mut rng), "datagram sent at {t:?}");
                copies += 1;
                after += usize::from(changed);
            }
        }
        assert!(copies > 3 * BATCH && after > 3 * BATCH, "{copies} copies, {after} after the change");
    }

    /// A loss burst of probability p loses a datagram sent in its window when the uniform
    /// draw falls below p: all of them at p = 1, about a quarter at p = ¼ (10,000 sends,
    /// within 4 standard deviations of 2,500), none outside the windows.
    #[test]
    fn a_loss_burst_loses_by_its_probability() {
        let s = Nanos::from_secs;
        let faults = LinkFaults {
            bursts: vec![(Window { from: s(1), to: s(2) }, 1.0), (Window { from: s(3), to: s(13) }, 0.25)],
            ..Default::default()
        };
        let mut c = channel(0.0, 0.0, &faults);
        let (mut lost, mut sent) = ([0u32; 3], [0u32; 3]);
        for i in 0..14_000u64 {
            let t = Nanos::from_millis(i);
            let k = faults.bursts.iter().position(|b| b.0.contains(t)).unwrap_or(2);
            sent[k] += 1;
            lost[k] += u32::from(c.send(t) == Fate::Lost);
        }
        assert_eq!(sent, [1_000, 10_000, 3_000]);
        let sd = (10_000.0f64 * 0.25 * 0.75).sqrt();
        assert!((f64::from(lost[1]) - 2_500.0).abs() <= 4.0 * sd, "{} of 10,000 lost at p = 1/4", lost[1]);
        assert_eq!((lost[0], lost[2]), (1_000, 0));
    }

    /// Without duplication a channel draws nothing but its losses from the loss stream: the
    /// datagrams it loses are exactly those its loss process, asked alone with the same
    /// stream, loses (a draw for duplication would shift every later loss).
    #[test]
    fn without_duplication_the_losses_are_the_loss_process_alone() {
        let none = LinkFaults::default();
        let mut c = channel(0.3, 0.0, &none);
        let mut alone = LossProcess::new(&LossModel::Bernoulli { p: 0.3 });
        let mut rng = crate::fault::rng::stream(1, "t/loss");
        let mut lost = 0;
        for i in 0..1_000u64 {
            let t = Nanos::from_millis(i);
            let expected = alone.lost(t, &mut rng);
            assert_eq!(c.send(t) == Fate::Lost, expected, "datagram {i}");
            lost += u32::from(expected);
        }
        assert!((200..400).contains(&lost), "{lost}");
    }
}
