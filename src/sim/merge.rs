//! A monitor's incoming links merged into one stream of deliveries in arrival order.
//!
//! Each link's deliveries come in arrival order already; the merge takes them a batch at a
//! time (a few KB per link, so that many links stay in cache) and keeps each link's next
//! delivery in a heap. Ties at one instant go by the rest of [`Delivery`]'s order (the
//! earlier send first, then seq), then by link order, so the merged order is a function of
//! the deliveries alone: the same on any thread. A monitor of one link needs no heap.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::collections::binary_heap::PeekMut;

use super::link::Delivery;
use crate::time::Nanos;

/// Where a merge takes each link's deliveries from.
pub trait Streams {
    /// Appends link `link`'s next deliveries, in arrival order, to `out`: up to `max`, or
    /// more if the implementation hands them in larger chunks (none once the link has no
    /// more).
    fn fill(&mut self, link: usize, out: &mut Vec<Delivery>, max: usize);
}

/// Deliveries taken from a link at a time.
pub const BATCH: usize = 128;

/// A link's deliveries taken but not yet merged.
pub struct Batch {
    items: Vec<Delivery>,
    next: usize,
}

impl Batch {
    fn new<S: Streams + ?Sized>(streams: &mut S, link: usize) -> Batch {
        let mut items = Vec::with_capacity(BATCH);
        streams.fill(link, &mut items, BATCH);
        Batch { items, next: 0 }
    }

    fn peek(&self) -> Option<&Delivery> {
        self.items.get(self.next)
    }

    fn pop<S: Streams + ?Sized>(&mut self, streams: &mut S, link: usize) -> Option<Delivery> {
        let d = *self.items.get(self.next)?;
        self.next += 1;
        if self.next == self.items.len() {
            self.items.clear();
            self.next = 0;
            streams.fill(link, &mut self.items, BATCH);
        }
        Some(d)
    }
}

/// The merged stream of `links` links.
pub enum Merge {
    One(Batch),
    Many { batches: Vec<Batch>, heads: BinaryHeap<Reverse<(Delivery, usize)>> },
}

impl Merge {
    /// Starts merging links `0..links` of `streams`.
    pub fn new<S: Streams + ?Sized>(streams: &mut S, links: usize) -> Merge {
        if links == 1 {
            return Merge::One(Batch::new(streams, 0));
        }
        let mut batches: Vec<Batch> = (0..links).map(|i| Batch::new(streams, i)).collect();
        let mut heads = BinaryHeap::new();
        for (i, batch) in batches.iter_mut().enumerate() {
            if let Some(d) = batch.pop(streams, i) {
                heads.push(Reverse((d, i)));
            }
        }
        Merge::Many { batches, heads }
    }

    /// When the next delivery arrives, if any is left.
    pub fn peek(&self) -> Option<Nanos> {
        match self {
            Merge::One(batch) => batch.peek().map(|d| d.at),
            Merge::Many { heads, .. } => heads.peek().map(|Reverse((d, _))| d.at),
        }
    }

    /// The next delivery and its link.
    pub fn pop<S: Streams + ?Sized>(&mut self, streams: &mut S) -> Option<(Delivery, usize)> {
        match self {
            Merge::One(batch) => batch.pop(streams, 0).map(|d| (d, 0)),
            Merge::Many { batches, heads } => {
                // The link's next delivery takes the head's place: one sift down, not a pop's
                // sift to the bottom and a push's sift up.
                let mut top = heads.peek_mut()?;
                let Reverse((d, i)) = *top;
                match batches[i].pop(streams, i) {
                    Some(following) => *top = Reverse((following, i)),
                    None => drop(PeekMut::pop(top)),
                }
                Some((d, i))
            }
        }
    }

    /// Hands every delivery before `horizon` to `f`, link by link (all of link 0's, then
    /// link 1's, ...), each link's in arrival order; what is left merges as before.
    ///
    /// For stretches of time in which a monitor's links do not interact (no pause whose
    /// shared buffer could fill, no crash, no arrival-ordered output): each link's state
    /// then stays in cache while its deliveries go through, instead of the merge visiting
    /// every link in turn, and the heap is rebuilt once per stretch instead of sifted once
    /// per delivery. Each link sees the same deliveries in the same order as through
    /// [`Merge::pop`].
    pub fn drain_before<S: Streams + ?Sized>(
        &mut self,
        streams: &mut S,
        horizon: Nanos,
        mut f: impl FnMut(usize, &Delivery),
    ) {
        match self {
            Merge::One(batch) => {
                while batch.peek().is_some_and(|d| d.at < horizon) {
                    // Cannot fail: peeked.
                    let d = batch.pop(streams, 0).expect("peeked");
                    f(0, &d);
                }
            }
            Merge::Many { batches, heads } => {
                let mut next: Vec<Option<Delivery>> = vec![None; batches.len()];
                for Reverse((d, i)) in std::mem::take(heads).into_vec() {
                    next[i] = Some(d);
                }
                let mut left = Vec::with_capacity(batches.len());
                for (i, (batch, head)) in batches.iter_mut().zip(next).enumerate() {
                    let mut head = head;
                    while let Some(d) = head.filter(|d| d.at < horizon) {
                        f(i, &d);
                        head = batch.pop(streams, i);
                    }
                    if let Some(d) = head {
                        left.push(Reverse((d, i)));
                    }
                }
                *heads = BinaryHeap::from(left);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Links as lists of deliveries, counting how many were taken per fill.
    struct Lists {
        links: Vec<std::collections::VecDeque<Delivery>>,
        fills: Vec<usize>,
    }

    impl Streams for Lists {
        fn fill(&mut self, link: usize, out: &mut Vec<Delivery>, max: usize) {
            let before = out.len();
            while out.len() < max {
                let Some(d) = self.links[link].pop_front() else { break };
                out.push(d);
            }
            self.fills.push(out.len() - before);
        }
    }

    fn d(at: u64, sent_at: u64, seq: u64) -> Delivery {
        Delivery { at: Nanos(at), sent_at: Nanos(sent_at), seq, incarnation: 0, sent_local: Nanos(sent_at) }
    }

    fn merged(links: Vec<Vec<Delivery>>) -> Vec<(u64, u64, usize)> {
        let n = links.len();
        let mut lists = Lists { links: links.into_iter().map(Into::into).collect(), fills: Vec::new() };
        let mut merge = Merge::new(&mut lists, n);
        let mut out = Vec::new();
        while let Some(at) = merge.peek() {
            let (d, link) = merge.pop(&mut lists).unwrap();
            assert_eq!(d.at, at, "peek names the delivery pop returns");
            out.push((d.at.0, d.seq, link));
        }
        assert_eq!(merge.pop(&mut lists), None);
        out
    }

    #[test]
    fn links_merge_in_arrival_order_with_ties_by_send_then_link() {
        let a = vec![d(10, 5, 0), d(30, 25, 1), d(30, 29, 2), d(50, 45, 3)];
        let b = vec![d(20, 15, 0), d(30, 25, 1), d(40, 35, 2)];
        let c = vec![d(30, 20, 7)];
        assert_eq!(
            merged(vec![a, b, c]),
            [
                (10, 0, 0),
                (20, 0, 1),
                // At 30: sent at 20 (c), then sent at 25 (a before b: link order), then at 29.
                (30, 7, 2),
                (30, 1, 0),
                (30, 1, 1),
                (30, 2, 0),
                (40, 2, 1),
                (50, 3, 0),
            ]
        );
    }

    #[test]
    fn batches_are_refilled_and_empty_links_are_skipped() {
        // Three batches' worth on one link, nothing on another, a few on a third.
        let long: Vec<Delivery> = (0..2 * BATCH as u64 + 5).map(|i| d(2 * i, i, i)).collect();
        let short = vec![d(1, 0, 0), d(3 + 2 * BATCH as u64, 0, 1)];
        let out = merged(vec![long.clone(), vec![], short]);
        assert_eq!(out.len(), long.len() + 2);
        assert!(out.windows(2).all(|w| w[0].0 <= w[1].0), "in arrival order");
        assert_eq!(out[1], (1, 0, 2));
        assert_eq!(out.iter().filter(|o| o.2 == 0).count(), long.len());
        // One link alone: no heap, the same stream.
        let alone = merged(vec![long.clone()]);
        assert_eq!(alone, long.iter().map(|x| (x.at.0, x.seq, 0)).collect::<Vec<_>>());
    }

    #[test]
    fn a_drain_hands_each_link_its_deliveries_before_the_horizon_and_the_rest_merges_on() {
        // Three links over several batches, with ties at the horizon and a link that ends.
        let links: Vec<Vec<Delivery>> = (0..3u64)
            .map(|l| (0..(BATCH as u64 + 40) * (l + 1) / 2).map(|i| d(3 * i + l, 3 * i, i)).collect())
            .collect();
        let whole = merged(links.clone());
        for horizon in [0u64, 1, 2, 3, 300, 301, 302, 3 * BATCH as u64, 3 * BATCH as u64 + 1, u64::MAX] {
            let n = links.len();
            let mut lists = Lists { links: links.iter().cloned().map(Into::into).collect(), fills: Vec::new() };
            let mut merge = Merge::new(&mut lists, n);
            let mut drained = Vec::new();
            merge.drain_before(&mut lists, Nanos(horizon), |link, d| drained.push((d.at.0, d.seq, link)));
            // Link by link, each in arrival order: the merged order, grouped by link.
            let mut expected: Vec<_> = whole.iter().copied().filter(|o| o.0 < horizon).collect();
            expected.sort_by_key(|o| o.2);
            assert_eq!(drained, expected, "horizon {horizon}");
            let mut rest = Vec::new();
            while let Some((d, link)) = merge.pop(&mut lists) {
                rest.push((d.at.0, d.seq, link));
            }
            assert_eq!(rest, whole.iter().copied().filter(|o| o.0 >= horizon).collect::<Vec<_>>());
        }
        // One link: no heap, the same.
        let mut lists = Lists { links: vec![links[2].clone().into()], fills: Vec::new() };
        let mut merge = Merge::new(&mut lists, 1);
        let mut drained = Vec::new();
        merge.drain_before(&mut lists, Nanos(302), |link, d| drained.push((d.at.0, link)));
        assert_eq!(drained, (0..100).map(|i| (3 * i + 2, 0)).collect::<Vec<_>>());
        assert_eq!(merge.peek(), Some(Nanos(302)));
    }

    #[test]
    fn a_link_is_asked_for_a_batch_at_a_time() {
        let long: Vec<Delivery> = (0..BATCH as u64 * 2).map(|i| d(i, i, i)).collect();
        let mut lists = Lists { links: vec![long.into()], fills: Vec::new() };
        let mut merge = Merge::new(&mut lists, 1);
        while merge.pop(&mut lists).is_some() {}
        assert_eq!(lists.fills, [BATCH, BATCH, 0]);
    }
}
