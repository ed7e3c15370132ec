//! One heartbeat to many peers in few system calls: `sendmmsg(2)` hands the kernel up to
//! [`BATCH`] datagrams at once, where `send_to` costs one system call each. A node with a
//! thousand peers sends 10,000 datagrams a second at 10 Hz; most of each loopback send is
//! the kernel delivering it, but the call's entry and exit and the per-call socket locking
//! are saved (docs/live.md, "Benchmark", has the figures).
//!
//! The send lateness of a datagram sent in a batch is taken when the call that carried it
//! returned: no earlier instant is known for it, so the figure errs late, never early.

use std::io::IoSlice;
use std::net::{SocketAddr, UdpSocket};
use std::ops::Range;
use std::os::fd::AsRawFd;

use nix::sys::socket::{ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, sendmmsg};

use super::clock::mono_ns;

/// The most datagrams one `sendmmsg` call carries (the kernel's own limit is 1024).
pub const BATCH: usize = 64;

/// A node's peers' addresses, ready for `sendmmsg`.
pub struct Batch {
    peers: Vec<SocketAddr>,
    addrs: Vec<Option<SockaddrStorage>>,
    headers: MultiHeaders<SockaddrStorage>,
}

impl Batch {
    pub fn new(peers: &[SocketAddr]) -> Batch {
        Batch {
            peers: peers.to_vec(),
            addrs: peers.iter().map(|&p| Some(SockaddrStorage::from(p))).collect(),
            headers: MultiHeaders::preallocate(BATCH.min(peers.len()).max(1), None),
        }
    }

    pub fn len(&self) -> usize {
        self.addrs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }

    /// Sends `bytes` to the peers in `peers` (indices into the list given to [`Batch::new`]),
    /// [`BATCH`] at a time; `sent(at)` is called once per datagram handed over, with the
    /// monotonic instant (ns) its call returned. A datagram the kernel refuses (a peer that
    /// is down, a full buffer) is skipped, as a failed `send_to` is: UDP promises nothing.
    /// Returns the datagrams the kernel refused and the last refusal's error (an address this
    /// socket cannot reach, a full buffer), which the caller counts and reports.
    pub fn send(
        &mut self,
        socket: &UdpSocket,
        bytes: &[u8],
        peers: Range<usize>,
        mut sent: impl FnMut(u64),
    ) -> (u64, Option<(SocketAddr, nix::errno::Errno)>) {
        let mut refused = (0, None);
        let fd = socket.as_raw_fd();
        let end = peers.end.min(self.addrs.len());
        let mut i = peers.start;
        while i < end {
            let n = (end - i).min(BATCH);
            let slices: Vec<[IoSlice<'_>; 1]> = (0..n).map(|_| [IoSlice::new(bytes)]).collect();
            let no_cmsgs: [ControlMessage<'_>; 0] = [];
            let result = sendmmsg(fd, &mut self.headers, &slices, &self.addrs[i..i + n], no_cmsgs, MsgFlags::empty())
                .map(|r| r.count());
            let at = mono_ns();
            match result {
                Ok(done) if done > 0 => {
                    (0..done).for_each(|_| sent(at));
                    i += done;
                }
                // The first datagram was refused (the call reports its error): skip it.
                Ok(_) => {
                    refused.0 += 1;
                    i += 1;
                }
                Err(e) => {
                    refused = (refused.0 + 1, Some((self.peers[i], e)));
                    i += 1;
                }
            }
        }
        refused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_peer_gets_the_datagram_once() {
        let receivers: Vec<UdpSocket> = (0..150).map(|_| UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
        let addrs: Vec<SocketAddr> = receivers.iter().map(|r| r.local_addr().unwrap()).collect();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut batch = Batch::new(&addrs);
        let mut count = 0;
        assert_eq!(batch.send(&socket, b"heartbeat", 0..batch.len(), |_| count += 1), (0, None));
        assert_eq!(count, 150);
        for r in &receivers {
            r.set_read_timeout(Some(std::time::Duration::from_secs(2))).unwrap();
            let mut buf = [0u8; 64];
            let n = r.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"heartbeat");
            r.set_nonblocking(true).unwrap();
            assert!(r.recv(&mut buf).is_err(), "one datagram each");
        }
        // A sub-range reaches only its peers.
        let mut count = 0;
        batch.send(&socket, b"again", 10..20, |_| count += 1);
        assert_eq!(count, 10);
    }

    /// A datagram the kernel refuses (a remote address from a loopback socket) is skipped,
    /// counted and its error returned; the others still go.
    #[test]
    fn refused_datagrams_are_counted_with_their_error() {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        let remote: SocketAddr = "10.1.2.3:7000".parse().unwrap();
        let peers = [remote, receiver.local_addr().unwrap(), remote];
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut batch = Batch::new(&peers);
        let mut count = 0;
        let (refused, error) = batch.send(&socket, b"heartbeat", 0..3, |_| count += 1);
        assert_eq!((refused, count), (2, 1));
        let (addr, errno) = error.unwrap();
        assert_eq!((addr, errno), (remote, nix::errno::Errno::EINVAL));
        receiver.set_read_timeout(Some(std::time::Duration::from_secs(2))).unwrap();
        let mut buf = [0u8; 64];
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"heartbeat");
    }
}
