//! One monitored link as a stream of deliveries in arrival order.
//!
//! The sender side follows DESIGN.md §3: heartbeats go out on the sender's own clock's send
//! slots (slot k at local time k·η plus jitter, real time = local / clock rate), seq = slot
//! number; slots that fall in a pause are skipped (or one is sent at the resume, with
//! `after-pause = "send-now"`); a crash stops sending, and a recovery restarts the slots
//! from 0 with a new incarnation (or the old one); while an `arbitrary` fault holds the
//! sender, its heartbeats carry the bogus numbers the fault says (drawn, for `random`, from
//! a stream of their own, so the schedule and the link draw what they would draw honestly).
//! The link side (`crate::fault::channel`, shared with the message workloads) applies
//! partitions (cut at send time), loss, congestion, delay and duplication; datagrams
//! already in flight when their sender crashes are still delivered. A small heap reorders arrivals: an arrival is
//! released once the next send is later, since nothing sent later can arrive earlier.
//! Deliveries are handed over in batches ([`LinkStream::fill`]): each is written once, into
//! the batch, and read long after (handing them over one at a time through memory stalled on
//! store forwarding, about a tenth of the cost of a delivery).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand::Rng;

use crate::detector::Arrival;
use crate::experiment::{AfterPause, Link, Node, SeqAfterRestart};
use crate::fault::channel::DatagramCounts;
use crate::fault::channel::{Channel, Fate};
use crate::fault::delay::DelaySampler;
use crate::fault::rng::SimRng;
use crate::fault::{Crash, Cursor, IncarnationLie, Lie, LinkFaults, NodeFaults, SeqLie, Window};
use crate::time::{Clock, Nanos};

/// A heartbeat leaving the sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Send {
    /// Real time.
    pub at: Nanos,
    pub seq: u64,
    pub incarnation: u64,
    /// In the sender's clock.
    pub sent_local: Nanos,
}

/// A datagram reaching the monitor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Delivery {
    /// Real arrival time. Deliveries order by it, then by send time and seq (send order);
    /// two with all fields equal are duplicates and interchangeable.
    pub at: Nanos,
    /// Real send time (for the one-way delay).
    pub sent_at: Nanos,
    pub seq: u64,
    pub incarnation: u64,
    pub sent_local: Nanos,
}

impl Delivery {
    /// The arrival as the detector sees it, at monitor-local time `local_at`.
    pub fn arrival(&self, local_at: Nanos) -> Arrival {
        Arrival { at: local_at, seq: Some(self.seq), incarnation: Some(self.incarnation), sent: Some(self.sent_local) }
    }
}

/// The sender's schedule for one link.
pub struct Sender<'a> {
    interval: u64,
    clock: Clock,
    jitter: u64,
    after_pause: AfterPause,
    seq_after_restart: SeqAfterRestart,
    end: Nanos,
    /// Real time of slot 0 (the start, or the last recovery).
    epoch: Nanos,
    slot: u64,
    /// Added to the slot number to give the seq (non-zero after a `continue` restart).
    seq_base: u64,
    incarnation: u64,
    done: bool,
    /// The heartbeat `send-now` sends when a pause ends: (real time, slot), sent unless a
    /// crash comes first.
    after_resume: Option<(Nanos, u64)>,
    crashes: &'a [Crash],
    next_crash: usize,
    pauses: Cursor<'a, Window>,
    omissions: Cursor<'a, (Window, f64)>,
    rng: SimRng,
    lies: Cursor<'a, (Window, Lie)>,
    lying: Option<Lying>,
    /// `seq = "random"` draws from here, never from `rng`.
    lie_rng: SimRng,
}

/// Where the sender is in the arbitrary window it is sending in.
#[derive(Clone, Copy, Debug)]
struct Lying {
    /// The window's start (which window this is).
    from: Nanos,
    /// The true seq of the window's first heartbeat.
    first_seq: u64,
    /// The seq its incarnation began with.
    incarnation_base: u64,
    /// Heartbeats sent in the window so far.
    sent: u64,
}

impl<'a> Sender<'a> {
    /// `rng` draws jitter and omissions, `lie_rng` an arbitrary fault's random numbers.
    pub fn new(node: &Node, faults: &'a NodeFaults, end: Nanos, rng: SimRng, lie_rng: SimRng) -> Sender<'a> {
        Sender {
            interval: node.interval.0,
            clock: node.clock,
            jitter: node.jitter.0,
            after_pause: node.after_pause,
            seq_after_restart: node.seq_after_restart,
            end,
            epoch: Nanos::ZERO,
            slot: 0,
            seq_base: 0,
            incarnation: 0,
            done: false,
            after_resume: None,
            crashes: &faults.crashes,
            next_crash: 0,
            pauses: Cursor::new(&faults.send_pauses, |w| *w),
            omissions: Cursor::new(&faults.omissions, |o| o.0),
            rng,
            lies: Cursor::new(&faults.arbitrary, |l| l.0),
            lying: None,
            lie_rng,
        }
    }

    /// Real time of `slot` with `jitter` (local ns after the slot).
    #[inline(always)]
    fn real_time(&self, slot: u64, jitter: u64) -> Nanos {
        let offset = Nanos(slot.saturating_mul(self.interval).saturating_add(jitter));
        // An exact clock converts nothing (no division on the hot path).
        self.epoch + self.clock.real(offset)
    }

    /// The next heartbeat sent, or `None` once the sender is gone or the run is over.
    ///
    /// Nothing leaves a node while it is down: every candidate send (a slot, or the one
    /// `send-now` sends at a pause's end) is checked against the next crash first.
    #[inline(always)]
    pub fn next_send(&mut self) -> Option<Send> {
        while !self.done {
            let (t, resumed) = match self.after_resume.take() {
                Some((t, slot)) => (t, Some(slot)),
                None => {
                    let jitter = if self.jitter > 0 { self.rng.random_range(0..self.jitter) } else { 0 };
                    (self.real_time(self.slot, jitter), None)
                }
            };
            if let Some(crash) = self.crashes.get(self.next_crash)
                && t >= crash.from
            {
                self.next_crash += 1;
                match crash.to {
                    None => self.done = true,
                    Some(recovery) => {
                        self.epoch = recovery;
                        self.seq_base = match self.seq_after_restart {
                            SeqAfterRestart::Reset => 0,
                            SeqAfterRestart::Continue => self.seq_base.saturating_add(self.slot),
                        };
                        self.slot = 0;
                        self.incarnation += u64::from(crash.new_incarnation);
                    }
                }
                continue;
            }
            if t >= self.end {
                self.done = true;
                break;
            }
            if let Some(slot) = resumed {
                return Some(self.send(t, slot));
            }
            if let Some(pause) = self.pauses.at(t) {
                // Every slot whose nominal time falls before the resume is missed: the first
                // slot kept is the first whose local time k·η reaches the resume's. (That is
                // always past the current slot, whose nominal time is before the resume; the
                // `max` only guarantees that the loop advances, and mutating it changes
                // nothing: an equivalent mutant.)
                let resume_local = self.clock.local_at_or_after(pause.to - self.epoch).0;
                let first_kept = resume_local.div_ceil(self.interval).max(self.slot + 1);
                self.slot = first_kept;
                if self.after_pause == AfterPause::SendNow {
                    self.after_resume = Some((pause.to, first_kept - 1));
                }
                continue;
            }
            let slot = self.slot;
            self.slot += 1;
            // (`u < p` for a uniform u in [0, 1): see `Channel::send_with` on why `<=` is equivalent.)
            if let Some(&(_, p)) = self.omissions.at(t)
                && self.rng.random::<f64>() < p
            {
                continue;
            }
            return Some(self.send(t, slot));
        }
        None
    }

    fn send(&mut self, at: Nanos, slot: u64) -> Send {
        let mut seq = self.seq_base.saturating_add(slot);
        let mut incarnation = self.incarnation;
        if let Some(&(window, lie)) = self.lies.at(at) {
            (seq, incarnation) = self.lie(window.from, lie, seq, incarnation);
        }
        Send { at, seq, incarnation, sent_local: self.clock.local(at) }
    }

    /// The numbers a heartbeat sent in the arbitrary window beginning at `from` carries
    /// instead of the true `seq` and `incarnation`.
    #[cold]
    fn lie(&mut self, from: Nanos, lie: Lie, seq: u64, incarnation: u64) -> (u64, u64) {
        let state = match &mut self.lying {
            Some(l) if l.from == from => l,
            _ => self.lying.insert(Lying { from, first_seq: seq, incarnation_base: self.seq_base, sent: 0 }),
        };
        let k = state.sent;
        state.sent += 1;
        let seq = match lie.seq {
            SeqLie::Honest => seq,
            SeqLie::Frozen => state.first_seq,
            // The numbers sent before the window in this incarnation, from its first, again
            // and again; when none was sent yet, the first number (there is nothing older).
            SeqLie::ReplayOld => {
                let old = state.first_seq.saturating_sub(state.incarnation_base).max(1);
                state.incarnation_base + k % old
            }
            SeqLie::Random => u64::from(self.lie_rng.random::<u32>()),
        };
        let incarnation = match lie.incarnation {
            IncarnationLie::Honest => incarnation,
            IncarnationLie::Bump => incarnation.saturating_add(1),
        };
        (seq, incarnation)
    }
}

/// The link model and its reorder buffer.
pub struct LinkStream<'a> {
    sender: Sender<'a>,
    lookahead: Option<Send>,
    /// The delay and loss step, shared with the message workloads.
    channel: Channel<'a>,
    heap: BinaryHeap<Reverse<Delivery>>,
}

impl<'a> LinkStream<'a> {
    /// `changes` are the samplers of the link's delay changes (`faults.delay_changes`, in
    /// order), built by the caller.
    pub fn new(
        mut sender: Sender<'a>,
        link: &Link,
        delay: DelaySampler,
        changes: Vec<(Nanos, DelaySampler)>,
        faults: &'a LinkFaults,
        delay_rng: SimRng,
        loss_rng: SimRng,
    ) -> LinkStream<'a> {
        let lookahead = sender.next_send();
        LinkStream {
            sender,
            lookahead,
            channel: Channel::new(&link.loss, link.duplicate, link.fifo, delay, changes, faults, delay_rng, loss_rng),
            heap: BinaryHeap::new(),
        }
    }

    /// What the link's channel did with the heartbeats sent so far.
    pub fn counts(&self) -> DatagramCounts {
        self.channel.counts()
    }

    /// Appends the link's next deliveries, in arrival order (ties in send order), to `out`
    /// until it holds `max` or the link is drained.
    pub fn fill(&mut self, out: &mut Vec<Delivery>, max: usize) {
        // A link with no delay change pending takes a copy of the loop without the check, so
        // that it costs nothing per datagram where no change is declared (or after the last).
        if self.channel.changes_pending() {
            self.fill_with::<true>(out, max)
        } else {
            self.fill_with::<false>(out, max)
        }
    }

    #[inline(always)]
    fn fill_with<const CHANGES: bool>(&mut self, out: &mut Vec<Delivery>, max: usize) {
        // (`max` sizes the batch, not the results: filling one more changes nothing.)
        while out.len() < max {
            if let Some(Reverse(top)) = self.heap.peek()
                && self.lookahead.is_none_or(|send| top.at <= send.at)
            {
                out.push(*top);
                self.heap.pop();
                continue;
            }
            let Some(send) = self.lookahead else { return };
            // The sender and the link draw from separate streams, so asking for the next send
            // first changes no value.
            self.lookahead = self.sender.next_send();
            self.transmit::<CHANGES>(send, out);
        }
    }

    /// Sends one heartbeat over the link. Its delivery goes straight to `out` in the common
    /// case (nothing waiting, one datagram, arriving before the next one leaves); otherwise
    /// through the reorder heap.
    #[inline(always)]
    fn transmit<const CHANGES: bool>(&mut self, send: Send, out: &mut Vec<Delivery>) {
        let Fate::Delivered(copies) = self.channel.send_with::<CHANGES>(send.at) else { return };
        let delivery = |at| Delivery {
            at,
            sent_at: send.at,
            seq: send.seq,
            incarnation: send.incarnation,
            sent_local: send.sent_local,
        };
        // The copies one by one, not through the array's iterator: that iterator lives in
        // memory, and reading it back stalled each delivery on a store (a third of `fill`).
        match copies {
            [Some(at), None] => {
                if self.heap.is_empty() && self.lookahead.is_none_or(|next| at <= next.at) {
                    out.push(delivery(at));
                } else {
                    self.heap.push(Reverse(delivery(at)));
                }
            }
            [first, second] => {
                for at in [first, second].into_iter().flatten() {
                    self.heap.push(Reverse(delivery(at)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::fault::delay::DelayModel;
    use crate::fault::loss::LossModel;
    use crate::fault::rng::stream;

    const CHANGE: Nanos = Nanos::from_secs(10);

    /// Every delivery of a link with 1 ms heartbeats over 60 s, whose delay model is `before`
    /// and then, from 10 s on, each of `after` in turn (at the same instant: the last wins).
    fn deliveries(before: DelayModel, after: &[DelayModel], correlation: f64, seed: u64) -> Vec<Delivery> {
        let node = Node {
            id: "a".into(),
            interval: Nanos::from_millis(1),
            jitter: Nanos::ZERO,
            clock: Clock::EXACT,
            after_pause: AfterPause::Skip,
            seq_after_restart: SeqAfterRestart::Reset,
        };
        let link = Link { delay: before.clone(), loss: LossModel::None, duplicate: 0.0, fifo: false, correlation };
        let (node_faults, link_faults) = (NodeFaults::default(), LinkFaults::default());
        let sampler = |m: &DelayModel| DelaySampler::new(m, correlation, Path::new("")).unwrap();
        let changes = after.iter().map(|m| (CHANGE, sampler(m))).collect();
        let sender =
            Sender::new(&node, &node_faults, Nanos::from_secs(60), stream(seed, "sender"), stream(seed, "lies"));
        let mut link = LinkStream::new(
            sender,
            &link,
            sampler(&before),
            changes,
            &link_faults,
            stream(seed, "delay"),
            stream(seed, "loss"),
        );
        let mut out = Vec::new();
        link.fill(&mut out, usize::MAX);
        out
    }

    /// Every send of a sender of 100 ms heartbeats over 10 s, lying as `lie` from 3 s to 6 s,
    /// beside the honest sends under the same seed.
    fn sends(lie: Lie, faults: NodeFaults) -> (Vec<Send>, Vec<Send>) {
        let node = Node {
            id: "a".into(),
            interval: Nanos::from_millis(100),
            jitter: Nanos::from_millis(5),
            clock: Clock::EXACT,
            after_pause: AfterPause::Skip,
            seq_after_restart: SeqAfterRestart::Reset,
        };
        let window = Window { from: Nanos::from_secs(3), to: Nanos::from_secs(6) };
        let lying = NodeFaults { arbitrary: vec![(window, lie)], ..faults.clone() };
        let all = |f: &NodeFaults| {
            let mut sender = Sender::new(&node, f, Nanos::from_secs(10), stream(1, "sender"), stream(1, "lies"));
            std::iter::from_fn(|| sender.next_send()).collect::<Vec<_>>()
        };
        (all(&lying), all(&faults))
    }

    fn inside(s: &Send) -> bool {
        (Nanos::from_secs(3)..Nanos::from_secs(6)).contains(&s.at)
    }

    #[test]
    fn an_arbitrary_sender_lies_only_in_its_window_and_only_in_its_numbers() {
        let lie = |seq, incarnation| Lie { seq, incarnation };
        for l in [
            lie(SeqLie::Frozen, IncarnationLie::Honest),
            lie(SeqLie::ReplayOld, IncarnationLie::Honest),
            lie(SeqLie::Random, IncarnationLie::Honest),
            lie(SeqLie::Honest, IncarnationLie::Bump),
        ] {
            let (lying, honest) = sends(l, NodeFaults::default());
            assert_eq!(lying.len(), 100, "{l:?}");
            assert_eq!(lying.len(), honest.len());
            for (a, b) in lying.iter().zip(&honest) {
                // The schedule and its jitter are the honest one's.
                assert_eq!((a.at, a.sent_local), (b.at, b.sent_local), "{l:?}");
                if !inside(a) {
                    assert_eq!(a, b, "{l:?}: honest outside the window");
                    continue;
                }
                let k = b.seq - 30;
                match l.seq {
                    SeqLie::Honest => assert_eq!(a.seq, b.seq),
                    SeqLie::Frozen => assert_eq!(a.seq, 30, "the window's first number"),
                    SeqLie::ReplayOld => assert_eq!(a.seq, k % 30, "the 30 sent before, from the first"),
                    SeqLie::Random => assert!(a.seq < 1 << 32),
                }
                let claimed = if l.incarnation == IncarnationLie::Bump { 1 } else { 0 };
                assert_eq!(a.incarnation, claimed, "{l:?}");
            }
        }
        // Random numbers differ from heartbeat to heartbeat.
        let (lying, _) = sends(lie(SeqLie::Random, IncarnationLie::Honest), NodeFaults::default());
        let mut seqs: Vec<u64> = lying.iter().filter(|s| inside(s)).map(|s| s.seq).collect();
        seqs.sort();
        seqs.dedup();
        assert_eq!(seqs.len(), 30);
    }

    #[test]
    fn a_replay_after_a_restart_replays_the_new_incarnation_and_none_yet_repeats_its_first() {
        let crash = |from, to| Crash {
            from: Nanos::from_millis(from),
            to: Some(Nanos::from_millis(to)),
            new_incarnation: true,
        };
        let replay = Lie { seq: SeqLie::ReplayOld, incarnation: IncarnationLie::Honest };
        // Restarted at 2 s: ten heartbeats (seq 0..9) of incarnation 1 before the window.
        let (lying, _) = sends(replay, NodeFaults { crashes: vec![crash(1_000, 2_000)], ..Default::default() });
        let replayed: Vec<u64> = lying.iter().filter(|s| inside(s)).map(|s| s.seq).collect();
        assert_eq!(replayed, (0..30).map(|k| k % 10).collect::<Vec<_>>());
        // Restarted at the window's start: nothing older to replay, its first number repeats.
        let (lying, _) = sends(replay, NodeFaults { crashes: vec![crash(2_500, 3_000)], ..Default::default() });
        assert!(lying.iter().filter(|s| inside(s)).all(|s| s.seq == 0 && s.incarnation == 1));
    }

    fn delay(d: &Delivery) -> u64 {
        d.at.0 - d.sent_at.0
    }

    #[test]
    fn after_a_delay_change_delays_follow_the_new_model() {
        let (mean, base) = (10e6, 2e6);
        let exponential = DelayModel::Exponential { mean: Nanos::from_millis(10), base: Nanos::from_millis(2) };
        let constant = |ms| DelayModel::Constant { value: Nanos::from_millis(ms) };
        // Two changes at one instant: the second (the exponential) wins.
        let all = deliveries(constant(1), &[constant(5), exponential], 0.0, 1);
        let (before, after): (Vec<_>, Vec<_>) = all.iter().partition(|d| d.sent_at < CHANGE);
        assert_eq!(before.len(), 10_000);
        assert!(before.iter().all(|d| delay(d) == 1_000_000), "the old model until the change");
        let n = after.len() as f64;
        assert_eq!(n, 50_000.0);
        assert!(after.iter().all(|d| delay(d) >= 2_000_000 && delay(d) != 5_000_000));
        // The share of draws at or below the closed-form quantile base − mean·ln(1 − p) is
        // Binomial(n, p): within 4 standard deviations of n·p.
        for p in [0.1, 0.5, 0.9, 0.99] {
            let quantile = base - mean * (1.0f64 - p).ln();
            let below = after.iter().filter(|d| delay(d) as f64 <= quantile).count() as f64;
            let sd = (n * p * (1.0 - p)).sqrt();
            assert!((below - n * p).abs() <= 4.0 * sd, "p = {p}: {below} of {n} at or below {quantile} ns");
        }
    }

    #[test]
    fn a_delay_change_keeps_a_correlated_path_correlated() {
        let lognormal = |ms| DelayModel::Lognormal { median: Nanos::from_millis(ms), sigma: 1.0, base: Nanos::ZERO };
        // Both draws map one correlated normal state (innovations of sd √(1 − 0.99²) ≈ 0.14)
        // through medians 1 ms and 100 ms: their ratio is 100·e^(Δz), Δz within ±0.6 (over
        // 4 sd). Were the state restarted at 0, Δz would be the old state, N(0, 1): over 20
        // seeds, some would fall outside.
        for seed in 1..=20 {
            let all = deliveries(lognormal(1), &[lognormal(100)], 0.99, seed);
            let last_before = all.iter().filter(|d| d.sent_at < CHANGE).max_by_key(|d| d.sent_at).unwrap();
            let first_after = all.iter().filter(|d| d.sent_at >= CHANGE).min_by_key(|d| d.sent_at).unwrap();
            let ratio = delay(first_after) as f64 / delay(last_before) as f64;
            assert!((100.0 * (-0.6f64).exp()..100.0 * 0.6f64.exp()).contains(&ratio), "seed {seed}: {ratio}");
        }
    }
}
