//! `fdlab bench-peers` (hidden): plays many peers at once for the live benchmark
//! (`scripts/bench-live.py`): valid heartbeats from `peers` senders named `p0`, `p1`, …
//! every `interval`, sent to one node, from one thread.

use std::net::{SocketAddr, UdpSocket};

use super::clock::{mono_ns, sleep_until};
use super::wire::{self, Heartbeat};
use crate::time::Nanos;

/// Sends until `duration` has passed; returns how many datagrams were sent.
pub fn play_peers(
    target: SocketAddr,
    peers: usize,
    interval: Nanos,
    duration: Nanos,
    cluster: u64,
) -> std::io::Result<u64> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    let ids: Vec<u32> = (0..peers).map(|i| wire::node_id(&format!("p{i}"))).collect();
    let start = mono_ns();
    let end = start.saturating_add(duration.0);
    // Peer i sends at offset i·interval/peers within each interval, as unsynchronised peers
    // do; datagrams due within the same millisecond leave together.
    let tick = 1_000_000u64.min(interval.0.max(1));
    let mut sent = 0;
    let mut next = 0usize; // the next (seq · peers + i) to send
    let mut t = start;
    while t < end {
        t = t.saturating_add(tick);
        sleep_until(t);
        loop {
            let (seq, i) = ((next / peers) as u64, next % peers);
            let due = start + seq * interval.0 + (i as u64 * interval.0) / peers as u64;
            if due > t || due >= end {
                break;
            }
            let h = Heartbeat { cluster, sender: ids[i], incarnation: 0, seq, sent_ns: mono_ns() - start };
            // A full socket buffer drops, as UDP does: the receiver's count tells.
            if socket.send_to(&wire::encode(&h, None), target).is_ok() {
                sent += 1;
            }
            next += 1;
        }
    }
    Ok(sent)
}
