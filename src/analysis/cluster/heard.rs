//! The record of delivered heartbeats, link by link, and the questions rules ask of it.
//!
//! An engine hands over every heartbeat a node handled ([`Heard`]): per link (sender,
//! receiver), when each was sent and when the receiver handled it, 12 bytes a delivery. A
//! rule that answers heartbeats need not take every one as an event: the lease waits only
//! for the deliveries that can change a belief (a follower's from the node it follows, a
//! leader's from its followers: about 2N of the N² links) and asks the record the rest when
//! it needs it ([`HeardIndex`]): the last arrival on a link up to an instant, and the newest
//! heartbeat received on it since its receiver's (re)start.

use std::collections::BTreeMap;

use super::Heartbeat;
use crate::time::Nanos;

/// A delay that does not fit [`HeardLink`]'s 32 bits (4.29 s or more, or a handling time
/// earlier than the send time): its send time is kept apart.
const FAR: u32 = u32::MAX;

/// One link's deliveries in the order its receiver handled them (time order): 12 bytes a
/// delivery, the handling time and the delay (handling − send time) in 32 bits, with the
/// rare delay that does not fit kept apart.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeardLink {
    /// When the receiver handled each (real time; a paused receiver handles it at its resume).
    at: Vec<Nanos>,
    /// `at − sent` in nanoseconds, or [`FAR`].
    delay: Vec<u32>,
    /// (index, send time) of each delivery whose delay is [`FAR`], by index.
    far: Vec<(usize, Nanos)>,
    /// Whether a delivery was pushed earlier than the one before it.
    unsorted: bool,
}

impl HeardLink {
    pub fn with_capacity(deliveries: usize) -> HeardLink {
        // (Mutation testing: `HeardLink::default()` here is equivalent, and so is deleting
        // either field from this expression (it is then `Default`): only the vectors' first
        // allocation differs.)
        HeardLink { at: Vec::with_capacity(deliveries), delay: Vec::with_capacity(deliveries), ..Default::default() }
    }

    fn encode(sent: Nanos, at: Nanos) -> u32 {
        // (Equivalent mutant: `d <= u64::from(FAR)`: a delay of exactly `FAR` nanoseconds is
        // then `d as u32`, which is `FAR` all the same, and `push` keeps its send time apart.)
        match at.0.checked_sub(sent.0) {
            Some(d) if d < u64::from(FAR) => d as u32,
            _ => FAR,
        }
    }

    /// Appends a delivery (sent at `sent`, handled at `at`).
    pub fn push(&mut self, sent: Nanos, at: Nanos) {
        // (Equivalent mutant: `at <= last`: two deliveries at one instant then mark the
        // record unsorted, and the stable sort keeps them in the order they were pushed.)
        self.unsorted |= self.at.last().is_some_and(|&last| at < last);
        let d = Self::encode(sent, at);
        if d == FAR {
            self.far.push((self.at.len(), sent));
        }
        self.at.push(at);
        self.delay.push(d);
    }

    /// Puts a delivery in its place among those already kept in time order (after those of
    /// the same instant).
    fn insert_in_order(&mut self, sent: Nanos, at: Nanos) {
        let i = self.at.partition_point(|&a| a <= at);
        if i == self.at.len() {
            return self.push(sent, at);
        }
        let d = Self::encode(sent, at);
        let k = self.far.partition_point(|f| f.0 < i);
        self.far[k..].iter_mut().for_each(|f| f.0 += 1);
        if d == FAR {
            self.far.insert(k, (i, sent));
        }
        self.at.insert(i, at);
        self.delay.insert(i, d);
    }

    pub fn len(&self) -> usize {
        self.at.len()
    }

    pub fn is_empty(&self) -> bool {
        self.at.is_empty()
    }

    /// When delivery `i` was handled.
    pub fn at(&self, i: usize) -> Nanos {
        self.at[i]
    }

    /// When delivery `i` was sent.
    pub fn sent(&self, i: usize) -> Nanos {
        match self.delay[i] {
            FAR => {
                // Cannot fail: every delivery whose delay is FAR has its send time kept.
                let k = self.far.binary_search_by_key(&i, |f| f.0).expect("a far delivery's send time");
                self.far[k].1
            }
            d => Nanos(self.at[i].0 - u64::from(d)),
        }
    }

    /// The largest send time among deliveries `range`.
    fn newest_sent(&self, range: std::ops::Range<usize>) -> Option<Nanos> {
        let (at, delay) = (&self.at[range.clone()], &self.delay[range.clone()]);
        let near = at.iter().zip(delay).filter(|(_, d)| **d != FAR).map(|(a, &d)| Nanos(a.0 - u64::from(d))).max();
        let lo = self.far.partition_point(|f| f.0 < range.start);
        let far = self.far[lo..].iter().take_while(|f| f.0 < range.end).map(|f| f.1).max();
        near.max(far)
    }

    /// Every delivery as (handled at, sent).
    fn pairs(&self) -> impl Iterator<Item = (Nanos, Nanos)> + '_ {
        (0..self.len()).map(|i| (self.at[i], self.sent(i)))
    }

    /// Puts the deliveries in time order (stable: equal instants keep their order).
    fn sort(&mut self) {
        if self.unsorted {
            let mut pairs: Vec<(Nanos, Nanos)> = self.pairs().collect();
            pairs.sort_by_key(|p| p.0);
            let mut sorted = HeardLink::with_capacity(pairs.len());
            pairs.into_iter().for_each(|(at, sent)| sorted.push(sent, at));
            *self = sorted;
        }
    }

    /// Appends `other`'s deliveries, then puts them all in time order.
    fn append(&mut self, other: HeardLink) {
        for (at, sent) in other.pairs() {
            self.push(sent, at);
        }
        self.sort();
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
        self.links.entry((from, to)).or_default().insert_in_order(sent, at);
    }

    /// A link's whole record at once (taken in time order).
    pub fn insert(&mut self, from: usize, to: usize, mut link: HeardLink) {
        if link.is_empty() {
            return;
        }
        link.sort();
        match self.links.get_mut(&(from, to)) {
            Some(old) => old.append(link),
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
            all.extend(link.pairs().map(|(at, sent)| Heartbeat { from, to, sent, at }));
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
/// most a block's scan, however long the run. A link's blocks are computed the first time
/// it is asked (a rule asks about few of the N² links). Each link also keeps where its last
/// question ended, so that questions whose instants grow (the lease's, mostly) cost only the
/// deliveries between them.
pub struct HeardIndex<'a> {
    links: Vec<IndexedLink<'a>>,
    /// Per sender, the first of its links (links are in (sender, receiver) order).
    outgoing: Vec<usize>,
    incoming: Vec<Vec<usize>>,
    /// Per node, every instant it (re)started, in order.
    starts: Vec<Vec<Nanos>>,
    /// Per link, its last [`HeardIndex::newest_sent`] question and answer.
    cursors: std::cell::RefCell<Vec<Cursor>>,
}

/// A question "the newest send time among deliveries `lo..hi`" and its answer, where `lo`
/// is the first delivery at or after `since`.
#[derive(Clone, Copy, Debug, Default)]
struct Cursor {
    since: Option<Nanos>,
    lo: usize,
    hi: usize,
    newest: Option<Nanos>,
}

struct IndexedLink<'a> {
    from: usize,
    to: usize,
    deliveries: &'a HeardLink,
    /// Per block `b`: the largest `sent` in `[segment start, 64·b)`, where the segment is
    /// the receiver's (re)start that block `b` begins in, and that segment's first index.
    block_newest: std::cell::OnceCell<Vec<(Option<Nanos>, usize)>>,
}

impl IndexedLink<'_> {
    fn blocks(&self, starts: &[Vec<Nanos>]) -> &[(Option<Nanos>, usize)] {
        self.block_newest.get_or_init(|| {
            let deliveries = self.deliveries;
            // Segment starts: the first delivery at or after each (re)start. (Equivalent
            // mutants: any other comparison here, and in the loop below `>` for `<=` or `!=`
            // for `==`: each entry stays the largest `sent` over `[segment, 64·b)` for the
            // `segment` it names, which is all `newest_sent` relies on (it takes an entry
            // only when the question begins at that `segment`); misplaced or missing
            // segment starts only make the shortcut apply less often.)
            let mut boundaries: Vec<usize> = starts
                .get(self.to)
                .map_or(&[][..], |s| &s[..])
                .iter()
                .map(|&r| deliveries.at.partition_point(|&a| a < r))
                .collect();
            boundaries.sort_unstable();
            let mut block_newest = Vec::with_capacity(deliveries.len() / BLOCK + 1);
            let (mut newest, mut segment, mut next_boundary) = (None, 0, 0);
            for i in 0..deliveries.len() {
                while boundaries.get(next_boundary).is_some_and(|&b| b <= i) {
                    if boundaries[next_boundary] == i {
                        (newest, segment) = (None, i);
                    }
                    next_boundary += 1;
                }
                if i % BLOCK == 0 {
                    block_newest.push((newest, segment));
                }
                let sent = deliveries.sent(i);
                newest = Some(newest.map_or(sent, |n: Nanos| n.max(sent)));
            }
            block_newest
        })
    }
}

impl<'a> HeardIndex<'a> {
    /// `starts[x]`: every instant node `x` (re)started, from the lowest (a node's record of
    /// what it received begins afresh at each).
    pub fn new(heard: &'a Heard, n: usize, starts: &[Vec<Nanos>]) -> HeardIndex<'a> {
        let mut links = Vec::with_capacity(heard.links.len());
        let mut incoming = vec![Vec::new(); n];
        let senders = heard.links.keys().next_back().map_or(0, |l| l.0 + 1).max(n);
        let mut outgoing = vec![0; senders + 1];
        for (&(from, to), deliveries) in &heard.links {
            if to < n {
                incoming[to].push(links.len());
            }
            outgoing[from + 1] = links.len() + 1;
            links.push(IndexedLink { from, to, deliveries, block_newest: Default::default() });
        }
        // A sender without links begins where the one before it ends.
        for s in 1..outgoing.len() {
            outgoing[s] = outgoing[s].max(outgoing[s - 1]);
        }
        let cursors = std::cell::RefCell::new(vec![Cursor::default(); links.len()]);
        HeardIndex { links, outgoing, incoming, starts: starts.to_vec(), cursors }
    }

    /// The links into `x`, as link numbers.
    pub fn incoming(&self, x: usize) -> &[usize] {
        self.incoming.get(x).map_or(&[], |l| &l[..])
    }

    /// The link number of `from` → `to`, if anything was delivered on it.
    pub fn link(&self, from: usize, to: usize) -> Option<usize> {
        let (lo, hi) = (*self.outgoing.get(from)?, self.outgoing[from + 1]);
        let k = self.links[lo..hi].binary_search_by_key(&to, |l| l.to).ok()?;
        Some(lo + k)
    }

    /// The sender of link `link`.
    pub fn sender(&self, link: usize) -> usize {
        self.links[link].from
    }

    /// Delivery `i` of link `link`: (sent, handled at), if there is one.
    pub fn delivery(&self, link: usize, i: usize) -> Option<(Nanos, Nanos)> {
        let d = self.links[link].deliveries;
        (i < d.len()).then(|| (d.sent(i), d.at[i]))
    }

    /// When delivery `i` of link `link` was handled, if there is one.
    pub fn handled(&self, link: usize, i: usize) -> Option<Nanos> {
        self.links[link].deliveries.at.get(i).copied()
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
        let l = &self.links[link];
        let at = &l.deliveries.at;
        let counts = |a: Nanos| a < before || (inclusive && a == before);
        let mut cursors = self.cursors.borrow_mut();
        let c = &mut cursors[link];
        // The last question's range ends within this one's: extend it.
        if c.since == Some(since) && (c.hi == c.lo || counts(at[c.hi - 1])) {
            while c.hi < at.len() && counts(at[c.hi]) {
                c.newest = c.newest.max(Some(l.deliveries.sent(c.hi)));
                c.hi += 1;
            }
            return c.newest;
        }
        let lo = self.first_from(link, since, true);
        let hi = self.first_from(link, before, !inclusive).max(lo);
        let block = hi.saturating_sub(1) / BLOCK;
        let newest = if hi == lo {
            None
        // (Equivalent mutants: `>` for `<=` here, and `block + BLOCK` or `block / BLOCK`:
        // they only choose between the direct scan and the block's running maximum, and
        // both are exact wherever taken: a block that begins at or before `lo` has
        // `segment == lo` only when it begins at `lo`, where its maximum is `None` and the
        // scan is of `lo..hi`.)
        } else if block * BLOCK <= lo {
            l.deliveries.newest_sent(lo..hi)
        } else {
            match l.blocks(&self.starts)[block] {
                // The block's running maximum covers exactly [lo, 64·block): `lo` is where
                // the receiver's record began, and no (re)start lies between (or `since`
                // would be it). (Equivalent mutant: the guard `false`, which always scans
                // `lo..hi` directly: slower, the same answer.)
                (newest, segment) if segment == lo => newest.max(l.deliveries.newest_sent(block * BLOCK..hi)),
                _ => l.deliveries.newest_sent(lo..hi),
            }
        };
        *c = Cursor { since: Some(since), lo, hi, newest };
        newest
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
        // The same deliveries pushed in time order.
        let want = |pairs: &[(u64, u64)]| {
            let mut link = HeardLink::default();
            pairs.iter().for_each(|p| link.push(Nanos(p.0), Nanos(p.1)));
            link
        };
        assert_eq!(heard.link(0, 1), Some(&want(&[(1, 10), (3, 20), (4, 20), (0, 25), (5, 30)])));
        // Into a new link: put in order as it is taken.
        let mut link = HeardLink::default();
        for (sent, at) in [(7, 9), (2, 3)] {
            link.push(Nanos(sent), Nanos(at));
        }
        heard.insert(1, 0, link);
        assert_eq!(heard.link(1, 0), Some(&want(&[(2, 3), (7, 9)])));
        // Each handled strictly earlier than the one before (no two at one instant, none
        // later than the one before it): still noticed as out of order.
        let mut link = HeardLink::default();
        for (sent, at) in [(29, 30), (19, 20), (9, 10)] {
            link.push(Nanos(sent), Nanos(at));
        }
        heard.insert(1, 2, link);
        assert_eq!(heard.link(1, 2), Some(&want(&[(9, 10), (19, 20), (29, 30)])));
        heard.links.remove(&(1, 2));
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
        // Questions in random order (each link keeps where its last one ended).
        for _ in 0..3_000 {
            let t = Nanos(rand(10_100));
            let since = starts[0].iter().copied().filter(|&r| r <= t).max().unwrap();
            let inclusive = rand(2) == 0;
            assert_eq!(index.newest_sent(1, 0, since, t, inclusive), direct(since, t, inclusive), "{t:?} {inclusive}");
        }
        assert_eq!(index.newest_sent(0, 1, Nanos(0), Nanos(5_000), true), None, "no such link");
        assert_eq!(index.delivery(0, 1_000), None);
        assert_eq!(index.sender(0), 1);
        // Every delivery, as heartbeats in time order.
        let all = heard.heartbeats();
        assert_eq!(all.len(), 1_000);
        assert!(all.windows(2).all(|w| w[0].at <= w[1].at));
    }

    /// Send times whose delay does not fit 32 bits (4.29 s or more, or a handling time
    /// earlier than the send time, as a replayed trace of skewed clocks can have) are kept
    /// exactly, whichever way the record was built: pushed in order by an engine, put in
    /// place one by one out of order, or a whole link added to one already there.
    #[test]
    fn send_times_whose_delay_does_not_fit_32_bits_are_kept_exactly() {
        let s = Nanos::from_secs;
        let fits = Nanos(u64::from(u32::MAX) - 1);
        // (sent, handled at), in time order of handling.
        let deliveries = [
            (s(0), s(1)),
            (s(1), s(6)),                       // 5 s
            (Nanos(s(7).0 - fits.0), s(7)),     // the largest delay that fits
            (Nanos(s(8).0 - fits.0 - 1), s(8)), // one more: kept apart
            (s(10), s(9)),                      // handled before it was sent
            (s(10), s(10)),
            (s(40), s(50)),
            (Nanos(u64::MAX), s(60)),
        ];
        let expected: Vec<Heartbeat> =
            deliveries.iter().map(|&(sent, at)| Heartbeat { from: 2, to: 1, sent, at }).collect();
        // In order, as an engine hands them over.
        let mut link = HeardLink::default();
        deliveries.iter().for_each(|&(sent, at)| link.push(sent, at));
        assert_eq!(link.far.len(), 5, "four that do not fit, and u64::MAX");
        let mut in_order = Heard::default();
        in_order.insert(2, 1, link.clone());
        // One by one in reverse order, each put in its place.
        let mut one_by_one = Heard::default();
        deliveries.iter().rev().for_each(|&(sent, at)| one_by_one.push(2, 1, sent, at));
        // Two halves, the later first, the earlier added to it.
        let (mut early, mut late) = (HeardLink::default(), HeardLink::default());
        deliveries[..4].iter().for_each(|&(sent, at)| early.push(sent, at));
        deliveries[4..].iter().for_each(|&(sent, at)| late.push(sent, at));
        let mut halves = Heard::default();
        halves.insert(2, 1, late);
        halves.insert(2, 1, early);
        for heard in [&in_order, &one_by_one, &halves] {
            assert_eq!(heard.heartbeats(), expected);
            let index = HeardIndex::new(heard, 3, &[vec![Nanos::ZERO], vec![Nanos::ZERO], vec![Nanos::ZERO]]);
            for (k, &(_, at)) in deliveries.iter().enumerate() {
                let newest = deliveries[..=k].iter().map(|d| d.0).max();
                assert_eq!(index.newest_sent(2, 1, Nanos::ZERO, at, true), newest, "up to {k}");
                assert_eq!(index.delivery(0, k), Some(deliveries[k]));
            }
            assert_eq!(index.newest_sent(2, 1, s(9), s(10), false), Some(s(10)), "only (10 s, 9 s)");
            // Handled in [2 s, 9 s): sent at 1 s, 7 s − fits and 8 s − fits − 1.
            assert_eq!(index.newest_sent(2, 1, s(2), s(9), false), Some(Nanos(s(8).0 - fits.0 - 1)));
        }
    }

    /// Gaps between deliveries and delays around 32 bits (from one below [`FAR`] to two
    /// above it), against the plain list: every delivery read back, the first at or after
    /// any instant, the newest send time in any range.
    #[test]
    fn long_gaps_and_delays_read_back_exactly() {
        let mut x: u64 = 11;
        let mut rand = |k: u64| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (x >> 33) % k
        };
        let big = u64::from(u32::MAX);
        let (mut at, mut list) = (1_000u64, Vec::new());
        for _ in 0..300 {
            at += match rand(10) {
                0 => big + rand(3), // from one below FAR to two above it
                1 => 0,             // the same instant
                _ => rand(1_000),
            };
            let delay = if rand(8) == 0 { big - 1 + rand(3) } else { rand(500) };
            list.push((Nanos(at.saturating_sub(delay)), Nanos(at)));
        }
        let mut link = HeardLink::default();
        list.iter().for_each(|&(sent, at)| link.push(sent, at));
        assert!(link.far.len() > 10, "delays kept apart");
        let mut heard = Heard::default();
        heard.insert(0, 1, link.clone());
        let index = HeardIndex::new(&heard, 2, &[vec![Nanos::ZERO], vec![Nanos::ZERO]]);
        for (i, &(sent, at)) in list.iter().enumerate() {
            assert_eq!((link.at(i), link.sent(i)), (at, sent), "delivery {i}");
            assert_eq!(index.delivery(0, i), Some((sent, at)));
            for probe in [at, Nanos(at.0 + 1), Nanos(at.0 - 1)] {
                let first = list.iter().position(|d| d.1 >= probe).unwrap_or(list.len());
                assert_eq!(index.first_from(0, probe, true), first, "{probe:?}");
                let after = list.iter().position(|d| d.1 > probe).unwrap_or(list.len());
                assert_eq!(index.first_from(0, probe, false), after, "{probe:?}");
            }
        }
        for _ in 0..2_000 {
            let (a, b) = (rand(list.len() as u64) as usize, rand(list.len() as u64) as usize);
            let (since, before) = (list[a.min(b)].1, list[a.max(b)].1);
            let inclusive = rand(2) == 0;
            let direct = list
                .iter()
                .filter(|d| d.1 >= since && (d.1 < before || (inclusive && d.1 == before)))
                .map(|d| d.0)
                .max();
            assert_eq!(index.newest_sent(0, 1, since, before, inclusive), direct);
        }
    }

    /// The running maxima per block of 64 answer for the blocks before the last: delivery k
    /// (index k − 1) is handled at k ms and sent 1 ms before, except in [60, 90), [125, 160)
    /// and [255, 290), which come over a path 40 ms slow, so that there the newest send
    /// since a restart is the last one before the slow stretch (sent at 58, 123 or 253 ms),
    /// in the block before the one the question ends in (blocks begin at k = 65, 129, 257).
    /// The receiver restarts at 100 and 250 ms (neither the start of a block). Questions from
    /// each start to every instant, inclusive and not, and from other instants, asked in
    /// order and then in reverse (so that the link's cursor cannot answer them), against a
    /// direct scan.
    #[test]
    fn the_newest_send_can_come_from_an_earlier_block() {
        let ms = Nanos::from_millis;
        let sent = |k: u64| {
            let slow = (60..90).contains(&k) || (125..160).contains(&k) || (255..290).contains(&k);
            ms(k - if slow { 40 } else { 1 })
        };
        let mut heard = Heard::default();
        for k in 1..400u64 {
            heard.push(0, 1, sent(k), ms(k));
        }
        let restarts = [Nanos::ZERO, ms(100), ms(250)];
        let index = HeardIndex::new(&heard, 2, &[vec![Nanos::ZERO], restarts.to_vec()]);
        let direct = |since: Nanos, before: Nanos, inclusive: bool| {
            (1..400u64)
                .filter(|&k| ms(k) >= since && (ms(k) < before || (inclusive && ms(k) == before)))
                .map(sent)
                .max()
        };
        let mut questions = Vec::new();
        for &since in &restarts {
            for k in since.0 / 1_000_000..402 {
                for inclusive in [false, true] {
                    questions.push((since, ms(k), inclusive));
                }
            }
        }
        // And from instants that are not restarts (the running maxima then do not apply:
        // from 62 ms to 80 ms, the newest is the slow 79's, sent at 39 ms, not 58).
        for since in (1..400).step_by(7) {
            for k in (since..402).step_by(3) {
                questions.push((ms(since), ms(k), k % 2 == 0));
            }
        }
        assert_eq!(index.newest_sent(0, 1, ms(62), ms(80), false), Some(ms(39)));
        for q in questions.iter().chain(questions.iter().rev()) {
            assert_eq!(index.newest_sent(0, 1, q.0, q.1, q.2), direct(q.0, q.1, q.2), "{q:?}");
        }
    }

    /// What a receiver heard before its (re)start does not count after it, even where a
    /// block's running maximum would reach back before it: delivery k (index k − 1) is
    /// handled at k ms; before the restart at 100 ms each was sent 1 ms before (the last at
    /// 98 ms), after it each was sent 90 ms before (a slow path: from 10 ms on), so every
    /// send heard since the restart is older than the last one heard before it. Questions
    /// from the restart that end in a later block (from 129 ms) take that block's maximum
    /// and scan only the block itself; the newest since the restart is sent at k − 91 ms,
    /// never 98 ms.
    #[test]
    fn a_send_heard_before_a_restart_is_not_the_newest_after_it() {
        let ms = Nanos::from_millis;
        let sent = |k: u64| ms(k - if k < 100 { 1 } else { 90 });
        let mut heard = Heard::default();
        for k in 1..300u64 {
            heard.push(0, 1, sent(k), ms(k));
        }
        let index = HeardIndex::new(&heard, 2, &[vec![Nanos::ZERO], vec![Nanos::ZERO, ms(100)]]);
        assert_eq!(index.newest_sent(0, 1, ms(100), ms(200), false), Some(ms(109)));
        assert_eq!(index.newest_sent(0, 1, Nanos::ZERO, ms(100), false), Some(ms(98)));
        for inclusive in [false, true] {
            // Ending in reverse order, so that each is answered afresh rather than by
            // extending the one before.
            for k in (100..=300u64).rev() {
                let newest = (100..300).filter(|&j| j < k || (inclusive && j == k)).map(sent).max();
                assert_eq!(index.newest_sent(0, 1, ms(100), ms(k), inclusive), newest, "{k} {inclusive}");
            }
        }
    }
}
