//! The record of delivered heartbeats, link by link, and the questions rules ask of it.
//!
//! An engine hands over every heartbeat a node handled ([`Heard`]): per link (sender,
//! receiver), when each was sent and when the receiver handled it, 16 bytes a delivery. A
//! rule that answers heartbeats need not take every one as an event: the lease waits only
//! for the deliveries that can change a belief (a follower's from the node it follows, a
//! leader's from its followers: about 2N of the N² links) and asks the record the rest when
//! it needs it ([`HeardIndex`]): the last arrival on a link up to an instant, and the newest
//! heartbeat received on it since its receiver's (re)start.

use std::collections::BTreeMap;

use super::Heartbeat;
use crate::time::Nanos;

/// One link's deliveries in the order its receiver handled them (time order).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeardLink {
    /// When the receiver handled each (real time; a paused receiver handles it at its resume).
    pub at: Vec<Nanos>,
    /// When its sender sent it (real time).
    pub sent: Vec<Nanos>,
}

impl HeardLink {
    pub fn with_capacity(deliveries: usize) -> HeardLink {
        // (Mutation testing: `HeardLink::default()` here is equivalent: only the vectors'
        // first allocation differs.)
        HeardLink { at: Vec::with_capacity(deliveries), sent: Vec::with_capacity(deliveries) }
    }

    pub fn push(&mut self, sent: Nanos, at: Nanos) {
        self.sent.push(sent);
        self.at.push(at);
    }

    pub fn len(&self) -> usize {
        self.at.len()
    }

    pub fn is_empty(&self) -> bool {
        self.at.is_empty()
    }

    /// Puts the deliveries in time order (stable: equal instants keep their order).
    fn sort(&mut self) {
        if !self.at.is_sorted() {
            let mut pairs: Vec<(Nanos, Nanos)> = self.at.iter().copied().zip(self.sent.iter().copied()).collect();
            pairs.sort_by_key(|p| p.0);
            (self.at, self.sent) = pairs.into_iter().unzip();
        }
    }
}

/// Every delivered heartbeat of a run, by link (sender, receiver) as node indices.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Heard {
    links: BTreeMap<(usize, usize), HeardLink>,
}

impl Heard {
    /// A heartbeat `from` → `to`, sent at `sent`, handled at `at`. Each link's deliveries
    /// are kept in time order (one handled earlier than the last is put in its place, after
    /// those of the same instant: cheap for the time-ordered input engines hand over).
    pub fn push(&mut self, from: usize, to: usize, sent: Nanos, at: Nanos) {
        let link = self.links.entry((from, to)).or_default();
        let i = link.at.partition_point(|&a| a <= at);
        link.at.insert(i, at);
        link.sent.insert(i, sent);
    }

    /// A link's whole record at once (taken in time order).
    pub fn insert(&mut self, from: usize, to: usize, mut link: HeardLink) {
        if link.is_empty() {
            return;
        }
        link.sort();
        match self.links.get_mut(&(from, to)) {
            Some(old) => {
                old.at.extend(link.at);
                old.sent.extend(link.sent);
                old.sort();
            }
            None => {
                self.links.insert((from, to), link);
            }
        }
    }

    /// The deliveries on a link (empty if none).
    pub fn link(&self, from: usize, to: usize) -> Option<&HeardLink> {
        self.links.get(&(from, to))
    }

    /// How many deliveries in all.
    pub fn len(&self) -> usize {
        self.links.values().map(HeardLink::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.links.values().all(HeardLink::is_empty)
    }

    /// Every delivery as a [`Heartbeat`], in time order; at one instant by receiver, then
    /// sender, then the order the receiver handled them (for rules that take every
    /// heartbeat as an event).
    pub fn heartbeats(&self) -> Vec<Heartbeat> {
        let mut all: Vec<Heartbeat> = Vec::with_capacity(self.len());
        for (&(from, to), link) in &self.links {
            all.extend(link.at.iter().zip(&link.sent).map(|(&at, &sent)| Heartbeat { from, to, sent, at }));
        }
        all.sort_by_key(|h| (h.at, h.to, h.from));
        all
    }
}

/// Deliveries per block of [`HeardIndex`]'s running maxima.
const BLOCK: usize = 64;

/// The record of delivered heartbeats, ready for a rule's questions: links by receiver, and
/// per link the newest send time received up to each block of 64 deliveries since the
/// receiver's last (re)start, so that "the newest heartbeat since the restart" costs at
/// most a block's scan, however long the run.
pub struct HeardIndex<'a> {
    links: Vec<IndexedLink<'a>>,
    by_pair: BTreeMap<(usize, usize), usize>,
    incoming: Vec<Vec<usize>>,
}

struct IndexedLink<'a> {
    from: usize,
    deliveries: &'a HeardLink,
    /// Per block `b`: the largest `sent` in `[segment start, 64·b)`, where the segment is
    /// the receiver's (re)start that block `b` begins in, and that segment's first index.
    block_newest: Vec<(Option<Nanos>, usize)>,
}

impl<'a> HeardIndex<'a> {
    /// `starts[x]`: every instant node `x` (re)started, from the lowest (a node's record of
    /// what it received begins afresh at each).
    pub fn new(heard: &'a Heard, n: usize, starts: &[Vec<Nanos>]) -> HeardIndex<'a> {
        let mut links = Vec::new();
        let mut by_pair = BTreeMap::new();
        let mut incoming = vec![Vec::new(); n];
        for (&(from, to), deliveries) in &heard.links {
            // Segment starts: the first delivery at or after each (re)start.
            let mut boundaries: Vec<usize> = starts
                .get(to)
                .map_or(&[][..], |s| &s[..])
                .iter()
                .map(|&r| deliveries.at.partition_point(|&a| a < r))
                .collect();
            boundaries.sort_unstable();
            let mut block_newest = Vec::with_capacity(deliveries.len() / BLOCK + 1);
            let (mut newest, mut segment, mut next_boundary) = (None, 0, 0);
            for (i, &sent) in deliveries.sent.iter().enumerate() {
                while boundaries.get(next_boundary).is_some_and(|&b| b <= i) {
                    if boundaries[next_boundary] == i {
                        (newest, segment) = (None, i);
                    }
                    next_boundary += 1;
                }
                if i % BLOCK == 0 {
                    block_newest.push((newest, segment));
                }
                newest = Some(newest.map_or(sent, |n: Nanos| n.max(sent)));
            }
            if to < n {
                incoming[to].push(links.len());
            }
            by_pair.insert((from, to), links.len());
            links.push(IndexedLink { from, deliveries, block_newest });
        }
        HeardIndex { links, by_pair, incoming }
    }

    /// The links into `x`, as link numbers.
    pub fn incoming(&self, x: usize) -> &[usize] {
        self.incoming.get(x).map_or(&[], |l| &l[..])
    }

    /// The link number of `from` → `to`, if anything was delivered on it.
    pub fn link(&self, from: usize, to: usize) -> Option<usize> {
        self.by_pair.get(&(from, to)).copied()
    }

    /// The sender of link `link`.
    pub fn sender(&self, link: usize) -> usize {
        self.links[link].from
    }

    /// Delivery `i` of link `link`: (sent, handled at), if there is one.
    pub fn delivery(&self, link: usize, i: usize) -> Option<(Nanos, Nanos)> {
        let d = self.links[link].deliveries;
        Some((*d.sent.get(i)?, d.at[i]))
    }

    /// The first delivery of `link` handled at or after `at` (`inclusive`) or after it.
    pub fn first_from(&self, link: usize, at: Nanos, inclusive: bool) -> usize {
        let d = &self.links[link].deliveries.at;
        if inclusive { d.partition_point(|&a| a < at) } else { d.partition_point(|&a| a <= at) }
    }

    /// When the last delivery of `from` → `to` handled at or before `upto` was handled.
    pub fn last_arrival(&self, from: usize, to: usize, upto: Nanos) -> Option<Nanos> {
        let d = &self.links[self.link(from, to)?].deliveries.at;
        d.partition_point(|&a| a <= upto).checked_sub(1).map(|i| d[i])
    }

    /// The largest send time among the deliveries of `from` → `to` handled at or after
    /// `since` (a (re)start of the receiver) and before `before` (or at it, if `inclusive`).
    pub fn newest_sent(&self, from: usize, to: usize, since: Nanos, before: Nanos, inclusive: bool) -> Option<Nanos> {
        let link = self.link(from, to)?;
        let lo = self.first_from(link, since, true);
        let hi = self.first_from(link, before, !inclusive);
        let l = &self.links[link];
        if hi <= lo {
            return None;
        }
        let block = (hi - 1) / BLOCK;
        let scan = |from: usize| l.deliveries.sent[from..hi].iter().copied().max();
        match l.block_newest[block] {
            // The block's running maximum covers exactly [lo, 64·block): `lo` is where the
            // receiver's record began, and no (re)start lies between (or `since` would be it).
            (newest, segment) if segment == lo && block * BLOCK > lo => {
                newest.into_iter().chain(scan(block * BLOCK)).max()
            }
            _ => scan(lo),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A link's whole record handed over out of time order is put in order, stably (two
    /// deliveries handled at 20 keep their order: sent 3, then sent 4), and merged into what
    /// the link already holds (one handled at 25, pushed before); an empty record adds no
    /// link, so the index knows none on it either.
    #[test]
    fn a_links_record_is_inserted_in_time_order_and_an_empty_one_adds_nothing() {
        let mut heard = Heard::default();
        assert_eq!((heard.is_empty(), heard.len()), (true, 0));
        heard.push(0, 1, Nanos(0), Nanos(25));
        assert!(!heard.is_empty());
        let mut link = HeardLink::with_capacity(4);
        for (sent, at) in [(5, 30), (1, 10), (3, 20), (4, 20)] {
            link.push(Nanos(sent), Nanos(at));
        }
        assert_eq!((link.len(), link.is_empty()), (4, false));
        heard.insert(0, 1, link);
        let want = |pairs: &[(u64, u64)]| HeardLink {
            sent: pairs.iter().map(|p| Nanos(p.0)).collect(),
            at: pairs.iter().map(|p| Nanos(p.1)).collect(),
        };
        assert_eq!(heard.link(0, 1), Some(&want(&[(1, 10), (3, 20), (4, 20), (0, 25), (5, 30)])));
        // Into a new link: put in order as it is taken.
        let mut link = HeardLink::default();
        for (sent, at) in [(7, 9), (2, 3)] {
            link.push(Nanos(sent), Nanos(at));
        }
        heard.insert(1, 0, link);
        assert_eq!(heard.link(1, 0), Some(&want(&[(2, 3), (7, 9)])));
        heard.insert(2, 0, HeardLink::default());
        assert_eq!((heard.link(2, 0), heard.len(), heard.is_empty()), (None, 7, false));
        let index = HeardIndex::new(&heard, 3, &vec![vec![Nanos(0)]; 3]);
        assert_eq!((index.link(2, 0), index.incoming(0), index.incoming(2)), (None, &[1][..], &[][..]));
        // Link numbers follow (sender, receiver): 0 → 1 is link 0, 1 → 0 link 1.
        assert_eq!((index.link(0, 1), index.link(1, 0), index.sender(1)), (Some(0), Some(1), 1));
    }

    /// Against a direct scan, on a link with reordering (send times out of order), a
    /// receiver that restarts three times (once twice at one instant, once with no delivery
    /// before the next), and queries at every instant, inclusive and not.
    #[test]
    fn the_newest_send_and_last_arrival_match_a_direct_scan() {
        let mut heard = Heard::default();
        let mut x: u64 = 7;
        let mut rand = |k: u64| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (x >> 33) % k
        };
        let mut deliveries = Vec::new();
        for k in 0..1_000u64 {
            let at = k * 10 + rand(3);
            deliveries.push((Nanos(at.saturating_sub(rand(400))), Nanos(at)));
        }
        // Pushed out of order: the record sorts it.
        deliveries.swap(5, 9);
        for &(sent, at) in &deliveries {
            heard.push(1, 0, sent, at);
        }
        deliveries.sort_by_key(|d| d.1);
        assert_eq!(heard.len(), 1_000);
        let starts = vec![vec![Nanos(0), Nanos(2_500), Nanos(2_500), Nanos(6_401), Nanos(6_402)], vec![Nanos(0)]];
        let index = HeardIndex::new(&heard, 2, &starts);
        assert_eq!(
            (index.incoming(0), index.incoming(1), index.link(1, 0), index.link(0, 1)),
            (&[0][..], &[][..], Some(0), None)
        );
        let direct = |since: Nanos, before: Nanos, inclusive: bool| {
            deliveries
                .iter()
                .filter(|d| d.1 >= since && (d.1 < before || (inclusive && d.1 == before)))
                .map(|d| d.0)
                .max()
        };
        let mut checked = 0;
        for t in (0..10_100).step_by(7) {
            let t = Nanos(t);
            let since = starts[0].iter().copied().filter(|&r| r <= t).max().unwrap();
            for inclusive in [false, true] {
                assert_eq!(
                    index.newest_sent(1, 0, since, t, inclusive),
                    direct(since, t, inclusive),
                    "{t:?} {inclusive}"
                );
                checked += 1;
            }
            let last = deliveries.iter().filter(|d| d.1 <= t).map(|d| d.1).max();
            assert_eq!(index.last_arrival(1, 0, t), last);
        }
        assert!(checked > 2_000);
        assert_eq!(index.newest_sent(0, 1, Nanos(0), Nanos(5_000), true), None, "no such link");
        assert_eq!(index.delivery(0, 1_000), None);
        assert_eq!(index.sender(0), 1);
        // Every delivery, as heartbeats in time order.
        let all = heard.heartbeats();
        assert_eq!(all.len(), 1_000);
        assert!(all.windows(2).all(|w| w[0].at <= w[1].at));
    }
}
