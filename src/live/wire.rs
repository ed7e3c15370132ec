//! The heartbeat datagram: a small versioned binary layout (docs/wire.md), validated field
//! by field, optionally authenticated with HMAC-SHA256, and a replay window per sender.
//!
//! Layout of version 1 (big-endian, 48 bytes, 80 with a tag):
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | magic `FDLB` |
//! | 4 | 1 | version, 1 |
//! | 5 | 1 | flags: bit 0 = a 32-byte HMAC-SHA256 tag follows; other bits 0 |
//! | 6 | 2 | reserved, 0 |
//! | 8 | 8 | cluster id |
//! | 16 | 4 | sender id ([`node_id`] of the sender's name) |
//! | 20 | 4 | reserved, 0 |
//! | 24 | 8 | incarnation |
//! | 32 | 8 | seq (the sender's send slot) |
//! | 40 | 8 | send time, ns in the sender's clock |
//! | 48 | 32 | tag: HMAC-SHA256 over bytes 0..48 under the shared key (flag bit 0 only) |
//!
//! Decoding never panics, whatever the bytes: every datagram is either a [`Heartbeat`] or a
//! [`Reject`] naming why, and a node counts the rejects by reason.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const MAGIC: [u8; 4] = *b"FDLB";
pub const VERSION: u8 = 1;
/// The length of a datagram without a tag.
pub const BODY: usize = 48;
/// The length of the tag.
pub const TAG: usize = 32;
const FLAG_TAG: u8 = 1;

/// One heartbeat as carried on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    pub cluster: u64,
    pub sender: u32,
    pub incarnation: u64,
    pub seq: u64,
    pub sent_ns: u64,
}

/// Why a datagram was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reject {
    /// Shorter than its layout says (or not even a header).
    Truncated,
    /// Longer than its layout says.
    TooLong,
    /// Not `FDLB`: not an fdlab heartbeat.
    Garbage,
    /// A version this build does not speak.
    WrongVersion,
    /// Unknown flag bits or non-zero reserved fields.
    BadHeader,
    /// Another cluster's heartbeat.
    WrongCluster,
    /// The node has a key and the datagram carries no tag.
    Unauthenticated,
    /// The tag does not match the key: forged or corrupted.
    BadTag,
    /// Seen before, or older than the replay window, in the sender's current incarnation.
    Replayed,
    /// From an incarnation older than one already heard from the same sender.
    StaleIncarnation,
    /// A valid heartbeat from a sender this node neither monitors nor knows.
    UnknownSender,
}

impl Reject {
    pub const ALL: [Reject; 11] = [
        Reject::Truncated,
        Reject::TooLong,
        Reject::Garbage,
        Reject::WrongVersion,
        Reject::BadHeader,
        Reject::WrongCluster,
        Reject::Unauthenticated,
        Reject::BadTag,
        Reject::Replayed,
        Reject::StaleIncarnation,
        Reject::UnknownSender,
    ];
}

/// The wire id of a node name: FNV-1a, 32 bits. Names are what users write; ids are what
/// fits a datagram. Nodes check at start that the names they know have distinct ids.
pub fn node_id(name: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

fn mac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length")
}

/// Encodes a heartbeat, with a tag when `key` is given.
pub fn encode(h: &Heartbeat, key: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(BODY + TAG);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(if key.is_some() { FLAG_TAG } else { 0 });
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&h.cluster.to_be_bytes());
    out.extend_from_slice(&h.sender.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&h.incarnation.to_be_bytes());
    out.extend_from_slice(&h.seq.to_be_bytes());
    out.extend_from_slice(&h.sent_ns.to_be_bytes());
    if let Some(key) = key {
        let mut m = mac(key);
        m.update(&out);
        out.extend_from_slice(&m.finalize().into_bytes());
    }
    out
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(x)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_be_bytes(x)
}

/// Decodes and checks one datagram for a node of `cluster` holding `key` (if any). Without
/// a key, a tag is ignored (it cannot be checked); with one, a datagram must carry a tag
/// that matches.
pub fn decode(bytes: &[u8], cluster: u64, key: Option<&[u8]>) -> Result<Heartbeat, Reject> {
    if bytes.len() < 6 {
        return Err(if bytes.len() >= 4 && bytes[..4] != MAGIC { Reject::Garbage } else { Reject::Truncated });
    }
    if bytes[..4] != MAGIC {
        return Err(Reject::Garbage);
    }
    if bytes[4] != VERSION {
        return Err(Reject::WrongVersion);
    }
    let flags = bytes[5];
    if flags & !FLAG_TAG != 0 {
        return Err(Reject::BadHeader);
    }
    let tagged = flags & FLAG_TAG != 0;
    let expected = if tagged { BODY + TAG } else { BODY };
    if bytes.len() < expected {
        return Err(Reject::Truncated);
    }
    if bytes.len() > expected {
        return Err(Reject::TooLong);
    }
    if bytes[6..8] != [0, 0] || bytes[20..24] != [0, 0, 0, 0] {
        return Err(Reject::BadHeader);
    }
    match (key, tagged) {
        (Some(_), false) => return Err(Reject::Unauthenticated),
        (Some(key), true) => {
            let mut m = mac(key);
            m.update(&bytes[..BODY]);
            m.verify_slice(&bytes[BODY..]).map_err(|_| Reject::BadTag)?;
        }
        (None, _) => {}
    }
    let h = Heartbeat {
        cluster: u64_at(bytes, 8),
        sender: u32_at(bytes, 16),
        incarnation: u64_at(bytes, 24),
        seq: u64_at(bytes, 32),
        sent_ns: u64_at(bytes, 40),
    };
    if h.cluster != cluster {
        return Err(Reject::WrongCluster);
    }
    Ok(h)
}

/// How many sequence numbers below the highest one the replay window remembers.
pub const WINDOW: u64 = 64;

/// The anti-replay window of one sender (as IPsec's): its newest incarnation, the highest
/// seq heard in it and which of the [`WINDOW`] seqs below were heard. A seq heard before,
/// one older than the window and any datagram of an older incarnation are rejected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplayWindow {
    state: Option<(u64, u64, u64)>,
}

impl ReplayWindow {
    /// Whether `(incarnation, seq)` is new; if so it is remembered.
    pub fn accept(&mut self, incarnation: u64, seq: u64) -> Result<(), Reject> {
        let Some((inc, highest, seen)) = self.state else {
            self.state = Some((incarnation, seq, 1));
            return Ok(());
        };
        if incarnation < inc {
            return Err(Reject::StaleIncarnation);
        }
        if incarnation > inc {
            self.state = Some((incarnation, seq, 1));
            return Ok(());
        }
        if seq > highest {
            let shift = seq - highest;
            let seen = if shift >= WINDOW { 0 } else { seen << shift };
            // (Bit 0 is clear after a shift: `^ 1` would be the same, an equivalent mutant.)
            self.state = Some((inc, seq, seen | 1));
            return Ok(());
        }
        let back = highest - seq;
        if back >= WINDOW || seen & (1 << back) != 0 {
            return Err(Reject::Replayed);
        }
        // (The bit is clear, checked above: `^` would be the same, an equivalent mutant.)
        self.state = Some((inc, highest, seen | (1 << back)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: &[u8] = b"a shared secret";

    fn hb() -> Heartbeat {
        Heartbeat { cluster: 7, sender: node_id("b"), incarnation: 3, seq: 42, sent_ns: 1_234_567_890 }
    }

    #[test]
    fn the_layout_is_the_documented_one() {
        let bytes = encode(&hb(), None);
        assert_eq!(bytes.len(), 48);
        assert_eq!(&bytes[..8], b"FDLB\x01\x00\x00\x00");
        assert_eq!(&bytes[8..16], &7u64.to_be_bytes());
        assert_eq!(&bytes[16..20], &node_id("b").to_be_bytes());
        assert_eq!(&bytes[24..32], &3u64.to_be_bytes());
        assert_eq!(&bytes[32..40], &42u64.to_be_bytes());
        assert_eq!(&bytes[40..48], &1_234_567_890u64.to_be_bytes());
        let tagged = encode(&hb(), Some(KEY));
        assert_eq!((tagged.len(), tagged[5]), (80, 1));
        assert_eq!(&tagged[..4], b"FDLB");
        assert_eq!(&tagged[6..48], &bytes[6..48]);
        // FNV-1a's published test vectors.
        assert_eq!(node_id(""), 0x811c_9dc5);
        assert_eq!(node_id("a"), 0xe40c_292c);
        assert_eq!(node_id("foobar"), 0xbf9c_f968);
    }

    #[test]
    fn valid_datagrams_round_trip_and_each_defect_is_named() {
        assert_eq!(decode(&encode(&hb(), None), 7, None), Ok(hb()));
        assert_eq!(decode(&encode(&hb(), Some(KEY)), 7, Some(KEY)), Ok(hb()));
        assert_eq!(decode(&encode(&hb(), Some(KEY)), 7, None), Ok(hb()), "a tag without a key is not checked");
        let plain = encode(&hb(), None);
        assert_eq!(decode(&plain, 8, None), Err(Reject::WrongCluster));
        assert_eq!(decode(&plain, 7, Some(KEY)), Err(Reject::Unauthenticated));
        assert_eq!(decode(&encode(&hb(), Some(b"another key")), 7, Some(KEY)), Err(Reject::BadTag));
        assert_eq!(decode(&plain[..47], 7, None), Err(Reject::Truncated));
        assert_eq!(decode(&plain[..3], 7, None), Err(Reject::Truncated));
        assert_eq!(decode(b"", 7, None), Err(Reject::Truncated));
        assert_eq!(decode(b"GET / HTTP/1.1", 7, None), Err(Reject::Garbage));
        assert_eq!(decode(b"GET ", 7, None), Err(Reject::Garbage));
        // Six bytes are enough to read the version and the flags.
        assert_eq!(decode(b"FDLB\x02\x00", 7, None), Err(Reject::WrongVersion));
        assert_eq!(decode(b"FDLB\x01\x04", 7, None), Err(Reject::BadHeader));
        assert_eq!(decode(b"FDLB\x01", 7, None), Err(Reject::Truncated));
        let mut long = plain.clone();
        long.push(0);
        assert_eq!(decode(&long, 7, None), Err(Reject::TooLong));
        let with = |at: usize, value: u8| {
            let mut b = plain.clone();
            b[at] = value;
            decode(&b, 7, None)
        };
        assert_eq!(with(4, 2), Err(Reject::WrongVersion));
        assert_eq!(with(5, 2), Err(Reject::BadHeader));
        assert_eq!(with(7, 1), Err(Reject::BadHeader));
        assert_eq!(with(23, 1), Err(Reject::BadHeader));
        // The tag flag on a datagram without a tag: too short for what it claims.
        assert_eq!(with(5, 1), Err(Reject::Truncated));
    }

    #[test]
    fn the_replay_window_takes_each_seq_once_and_only_the_newest_incarnation() {
        let mut w = ReplayWindow::default();
        assert_eq!(w.accept(1, 10), Ok(()));
        assert_eq!(w.accept(1, 10), Err(Reject::Replayed));
        assert_eq!(w.accept(1, 8), Ok(()), "late but new");
        assert_eq!(w.accept(1, 8), Err(Reject::Replayed));
        assert_eq!(w.accept(1, 11), Ok(()));
        assert_eq!(w.accept(1, 9), Ok(()));
        assert_eq!(w.accept(1, 11 + WINDOW - 1), Ok(()));
        assert_eq!(w.accept(1, 11), Err(Reject::Replayed), "still in the window: seen");
        assert_eq!(w.accept(1, 12), Ok(()), "at the window's far edge, unseen");
        assert_eq!(w.accept(1, 10), Err(Reject::Replayed), "beyond the window");
        assert_eq!(w.accept(1, 1000), Ok(()));
        assert_eq!(w.accept(1, 999), Ok(()), "a jump clears the window");
        assert_eq!(w.accept(0, 5000), Err(Reject::StaleIncarnation));
        assert_eq!(w.accept(2, 0), Ok(()), "a restart numbers from 0 again");
        assert_eq!(w.accept(2, 0), Err(Reject::Replayed));
        assert_eq!(w.accept(1, 2000), Err(Reject::StaleIncarnation));
        assert_eq!(w.accept(u64::MAX, u64::MAX), Ok(()));
        assert_eq!(w.accept(u64::MAX, 0), Err(Reject::Replayed));
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic_and_never_pass_with_a_key(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            let _ = decode(&bytes, 7, None);
            prop_assert!(decode(&bytes, 7, Some(KEY)).is_err());
        }

        #[test]
        fn every_mutation_of_a_tagged_datagram_is_rejected(
            h in (any::<u64>(), any::<u32>(), any::<u64>(), any::<u64>(), any::<u64>()),
            at in 0usize..80,
            flip in 1u8..=255,
            cut in 0usize..80,
        ) {
            let h = Heartbeat { cluster: h.0, sender: h.1, incarnation: h.2, seq: h.3, sent_ns: h.4 };
            let bytes = encode(&h, Some(KEY));
            prop_assert_eq!(decode(&bytes, h.cluster, Some(KEY)), Ok(h));
            let mut flipped = bytes.clone();
            flipped[at] ^= flip;
            prop_assert!(decode(&flipped, h.cluster, Some(KEY)).is_err());
            prop_assert!(decode(&bytes[..cut], h.cluster, Some(KEY)).is_err());
            // Without a key, a datagram that decodes is exactly the one sent, or a changed
            // field is reported as that field (never a panic).
            if let Ok(got) = decode(&flipped, h.cluster, None) {
                prop_assert!(at >= BODY || got != h || flipped[..BODY] == bytes[..BODY]);
            }
        }

        #[test]
        fn a_replayed_datagram_is_rejected_whatever_came_between(seqs in proptest::collection::vec(0u64..200, 1..100)) {
            let mut w = ReplayWindow::default();
            let mut accepted = std::collections::BTreeSet::new();
            for &s in &seqs {
                if w.accept(5, s).is_ok() {
                    prop_assert!(accepted.insert(s), "seq {} accepted twice", s);
                }
            }
        }
    }
}
