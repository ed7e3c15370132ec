//! The relay: a user-space UDP fault injector between live nodes (this kernel has no netem).
//!
//! Every directed link (sender → monitor) has a socket of its own on the relay; the sender
//! is told that address for that peer, so the relay knows the link of every datagram by the
//! socket it came in on. Each datagram then meets the simulator's link model (the same
//! [`crate::fault::channel::Channel`], with its models and counts) and the same fault timeline
//! (cuts, delay spikes, loss bursts, by real time since the epoch) as in a simulation
//! (DESIGN.md §2 point 7): cut, lost (Bernoulli, Gilbert–Elliott, bursts), delayed
//! (any delay distribution, autocorrelated or not, FIFO or not) and duplicated, then
//! released at its time to the monitor's current address (which changes when a node
//! restarts; while a node is down its datagrams go nowhere, as to a closed port).
//!
//! Receiving runs on one tokio thread (a task per link socket); releases run on one thread
//! that sleeps until 200 µs before the next release and spins the rest, so releases are
//! microseconds late without a core spent per link. Each release's lateness is recorded.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use hdrhistogram::Histogram;

use super::clock::{SPIN, mono_ns, sleep_until};
use crate::experiment::Link;
use crate::fault::LinkFaults;
use crate::fault::channel::{Channel, DatagramCounts, Fate};
use crate::fault::delay::{DelaySampler, EmpiricalError};
use crate::fault::rng::stream;
use crate::time::Nanos;

/// One directed link through the relay: datagrams from node `from` to node `to`.
#[derive(Clone, Debug)]
pub struct RelayLink {
    pub from: usize,
    pub to: usize,
    pub model: Link,
    pub faults: LinkFaults,
}

/// A datagram waiting for its release: (release instant on the monotonic clock, arrival
/// order), link, bytes.
type Pending = Reverse<((u64, u64), usize, Vec<u8>)>;

struct Shared {
    queue: Mutex<BinaryHeap<Pending>>,
    wake: Condvar,
    /// Each node's current address (`None` while down).
    dest: Mutex<Vec<Option<SocketAddr>>>,
    counts: Mutex<Vec<DatagramCounts>>,
    lateness: Mutex<Histogram<u64>>,
}

/// A relay bound to its link sockets, not yet running.
pub struct Relay {
    links: Vec<RelayLink>,
    sockets: Vec<UdpSocket>,
    /// Per link: its delay model's sampler and those of its later delay changes.
    samplers: Vec<(DelaySampler, Vec<(Nanos, DelaySampler)>)>,
    shared: Arc<Shared>,
    seed: u64,
}

/// What a relay did, when it stopped.
#[derive(Debug)]
pub struct RelayReport {
    /// Per link, in the order given: sent = datagrams received from the sender.
    pub counts: Vec<DatagramCounts>,
    /// How late each release was (ns).
    pub lateness: Histogram<u64>,
}

/// A running relay.
pub struct RelayHandle {
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Relay {
    /// Binds one socket per link on `ip` (ephemeral ports); `nodes` is the number of nodes;
    /// `base_dir` resolves empirical delay distributions.
    pub fn bind(
        links: Vec<RelayLink>,
        nodes: usize,
        ip: std::net::IpAddr,
        seed: u64,
        base_dir: &Path,
    ) -> Result<Relay, RelayError> {
        let mut sockets = Vec::new();
        let mut samplers = Vec::new();
        for l in &links {
            let socket = UdpSocket::bind((ip, 0)).map_err(RelayError::Io)?;
            super::clock::large_receive_buffer(&socket);
            sockets.push(socket);
            let changes = l
                .faults
                .delay_changes
                .iter()
                .map(|(at, model)| Ok((*at, DelaySampler::new(model, l.model.correlation, base_dir)?)))
                .collect::<Result<Vec<_>, EmpiricalError>>()?;
            samplers.push((DelaySampler::new(&l.model.delay, l.model.correlation, base_dir)?, changes));
        }
        let shared = Arc::new(Shared {
            queue: Mutex::new(BinaryHeap::new()),
            wake: Condvar::new(),
            dest: Mutex::new(vec![None; nodes]),
            counts: Mutex::new(vec![DatagramCounts::default(); links.len()]),
            lateness: Mutex::new(Histogram::new(3).expect("a 3-digit histogram")),
        });
        Ok(Relay { links, sockets, samplers, shared, seed })
    }

    /// The address a sender uses for link `i`.
    pub fn addr(&self, i: usize) -> SocketAddr {
        // A bound socket has an address.
        self.sockets[i].local_addr().expect("a bound socket")
    }

    /// Starts forwarding, with real time measured from `epoch` (monotonic ns).
    pub fn start(self, epoch: u64) -> Result<RelayHandle, RelayError> {
        let stop = Arc::new(AtomicBool::new(false));
        let Relay { links, sockets, samplers, shared, seed } = self;
        let senders: Vec<UdpSocket> = sockets.iter().map(UdpSocket::try_clone).collect::<Result<_, _>>()?;
        let release = {
            let (shared, stop, links_to) = (shared.clone(), stop.clone(), links.iter().map(|l| l.to).collect());
            std::thread::Builder::new()
                .name("relay-release".into())
                .spawn(move || release_loop(&shared, &stop, &senders, links_to))?
        };
        let receive = {
            let (shared, stop) = (shared.clone(), stop.clone());
            std::thread::Builder::new()
                .name("relay-receive".into())
                .spawn(move || receive_loop(shared, stop, links, sockets, samplers, seed, epoch))?
        };
        Ok(RelayHandle { shared, stop, threads: vec![release, receive] })
    }

    /// Sets where node `node` can be reached (`None`: down).
    pub fn set_dest(&self, node: usize, addr: Option<SocketAddr>) {
        set_dest(&self.shared, node, addr);
    }
}

fn set_dest(shared: &Shared, node: usize, addr: Option<SocketAddr>) {
    shared.dest.lock().unwrap_or_else(PoisonError::into_inner)[node] = addr;
}

impl RelayHandle {
    /// Sets where node `node` can be reached (`None`: down).
    pub fn set_dest(&self, node: usize, addr: Option<SocketAddr>) {
        set_dest(&self.shared, node, addr);
    }

    /// Stops both threads and reports.
    pub fn stop(self) -> RelayReport {
        self.stop.store(true, Ordering::Relaxed);
        self.shared.wake.notify_all();
        for t in self.threads {
            let _ = t.join();
        }
        RelayReport {
            counts: self.shared.counts.lock().unwrap_or_else(PoisonError::into_inner).clone(),
            lateness: self.shared.lateness.lock().unwrap_or_else(PoisonError::into_inner).clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("relay: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Empirical(#[from] EmpiricalError),
}

/// One link's model state, owned by its receiving task: the simulator's channel, asked at
/// each datagram's time at the relay.
struct LinkState<'a> {
    link: usize,
    channel: Channel<'a>,
}

impl<'a> LinkState<'a> {
    /// Link `link` with its `model`, `faults` and delay samplers, its draws from streams of
    /// `seed` named by `name`.
    fn new(
        link: usize,
        model: &Link,
        faults: &'a LinkFaults,
        sampler: (DelaySampler, Vec<(Nanos, DelaySampler)>),
        seed: u64,
        name: &str,
    ) -> LinkState<'a> {
        let (delay_rng, loss_rng) = (stream(seed, &format!("{name}/delay")), stream(seed, &format!("{name}/loss")));
        let channel =
            Channel::new(&model.loss, model.duplicate, model.fifo, sampler.0, sampler.1, faults, delay_rng, loss_rng);
        LinkState { link, channel }
    }

    /// The release times (since the epoch) of a datagram that reached the relay at `t`:
    /// none (cut or lost), one, or two (duplicated), as the simulator's link gives them.
    fn fate(&mut self, t: Nanos) -> Vec<Nanos> {
        match self.channel.send(t) {
            Fate::Cut | Fate::Lost => Vec::new(),
            Fate::Delivered(copies) => copies.into_iter().flatten().collect(),
        }
    }
}

fn receive_loop(
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    links: Vec<RelayLink>,
    sockets: Vec<UdpSocket>,
    samplers: Vec<(DelaySampler, Vec<(Nanos, DelaySampler)>)>,
    seed: u64,
    epoch: u64,
) {
    // A datagram's time at the relay is read when this thread runs: real-time class, as the
    // release thread.
    super::clock::realtime();
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
    runtime.block_on(async {
        let order = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut tasks = Vec::new();
        for (i, ((socket, sampler), link)) in sockets.into_iter().zip(samplers).zip(links).enumerate() {
            let (shared, stop, order) = (shared.clone(), stop.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let Ok(()) = socket.set_nonblocking(true) else { return };
                let Ok(socket) = tokio::net::UdpSocket::from_std(socket) else { return };
                let name = format!("live/relay/{}->{}", link.from, link.to);
                let mut state = LinkState::new(i, &link.model, &link.faults, sampler, seed, &name);
                let mut buf = vec![0u8; 2048];
                while !stop.load(Ordering::Relaxed) {
                    let received =
                        tokio::time::timeout(std::time::Duration::from_millis(50), socket.recv_from(&mut buf)).await;
                    let Ok(Ok((n, _))) = received else { continue };
                    let t = Nanos(mono_ns().saturating_sub(epoch));
                    let fates = state.fate(t);
                    shared.counts.lock().unwrap_or_else(PoisonError::into_inner)[state.link] = state.channel.counts();
                    if fates.is_empty() {
                        continue;
                    }
                    let mut queue = shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
                    for at in fates {
                        let k = order.fetch_add(1, Ordering::Relaxed);
                        queue.push(Reverse(((epoch.saturating_add(at.0), k), state.link, buf[..n].to_vec())));
                    }
                    drop(queue);
                    shared.wake.notify_one();
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
}

fn release_loop(shared: &Shared, stop: &AtomicBool, senders: &[UdpSocket], links_to: Vec<usize>) {
    super::clock::realtime();
    let mut queue = shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
    while !stop.load(Ordering::Relaxed) {
        let Some(Reverse(((at, _), _, _))) = queue.peek() else {
            queue = shared
                .wake
                .wait_timeout(queue, std::time::Duration::from_millis(50))
                .map_or_else(|e| e.into_inner().0, |r| r.0);
            continue;
        };
        let at = *at;
        let now = mono_ns();
        if at > now + SPIN {
            // Sleep until just before it, or until an earlier datagram comes in.
            let wait = std::time::Duration::from_nanos(at - now - SPIN);
            queue = shared.wake.wait_timeout(queue, wait).map_or_else(|e| e.into_inner().0, |r| r.0);
            continue;
        }
        drop(queue);
        sleep_until(at);
        queue = shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
        // Release everything due (the head may have changed to an earlier one meanwhile).
        let now = mono_ns();
        while queue.peek().is_some_and(|Reverse(((t, _), _, _))| *t <= now) {
            let Some(Reverse(((t, _), link, bytes))) = queue.pop() else { break };
            let dest = shared.dest.lock().unwrap_or_else(PoisonError::into_inner)[links_to[link]];
            if let Some(dest) = dest {
                let _ = senders[link].send_to(&bytes, dest);
            }
            let _ = shared.lateness.lock().unwrap_or_else(PoisonError::into_inner).record(mono_ns().saturating_sub(t));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::Window;
    use crate::fault::delay::DelayModel;
    use crate::fault::loss::LossModel;

    fn state<'a>(model: &Link, faults: &'a LinkFaults) -> LinkState<'a> {
        let sampler = |m: &DelayModel| DelaySampler::new(m, model.correlation, Path::new(".")).unwrap();
        let changes = faults.delay_changes.iter().map(|(at, m)| (*at, sampler(m))).collect();
        LinkState::new(0, model, faults, (sampler(&model.delay), changes), 1, "t")
    }

    #[test]
    fn each_datagram_meets_the_link_model_and_its_faults() {
        let model = Link {
            delay: DelayModel::Constant { value: Nanos::from_millis(5) },
            loss: LossModel::None,
            duplicate: 0.0,
            fifo: true,
            correlation: 0.0,
        };
        let ms = Nanos::from_millis;
        let faults = LinkFaults {
            cuts: vec![Window { from: ms(100), to: ms(200) }],
            spikes: vec![(Window { from: ms(300), to: ms(400) }, ms(50))],
            bursts: vec![(Window { from: ms(500), to: ms(600) }, 1.0)],
            delay_changes: vec![(ms(650), DelayModel::Constant { value: ms(9) })],
        };
        let mut s = state(&model, &faults);
        assert_eq!(s.fate(ms(10)), vec![ms(15)]);
        assert_eq!(s.fate(ms(150)), vec![], "cut");
        assert_eq!(s.fate(ms(350)), vec![ms(405)], "a spike adds its delay");
        // FIFO: the next one may not overtake it.
        assert_eq!(s.fate(ms(351)), vec![ms(406)]);
        assert_eq!(s.fate(ms(550)), vec![], "a certain loss burst");
        assert_eq!(s.fate(ms(640)), vec![ms(645)]);
        assert_eq!(s.fate(ms(700)), vec![ms(709)], "the route changed at 650 ms");
        let c = s.channel.counts();
        assert_eq!((c.sent, c.cut, c.lost, c.duplicated), (7, 1, 1, 0));
        let dup = Link { duplicate: 1.0, ..model };
        let none = LinkFaults::default();
        let mut s = state(&dup, &none);
        assert_eq!(s.fate(ms(10)), vec![ms(15), ms(15)]);
        assert_eq!(s.channel.counts().duplicated, 1);
    }

    #[test]
    fn bernoulli_loss_drops_its_share() {
        let model = Link {
            delay: DelayModel::Constant { value: Nanos(0) },
            loss: LossModel::Bernoulli { p: 0.2 },
            duplicate: 0.0,
            fifo: false,
            correlation: 0.0,
        };
        let none = LinkFaults::default();
        let mut s = state(&model, &none);
        for i in 0..100_000 {
            s.fate(Nanos(i));
        }
        let c = s.channel.counts();
        // Binomial(100000, 0.2): sd 126; 5 sd.
        assert!((c.lost as f64 - 20_000.0).abs() < 632.0, "{}", c.lost);
    }

    #[test]
    fn a_running_relay_forwards_with_the_model_delay() {
        let model = Link {
            delay: DelayModel::Constant { value: Nanos::from_millis(20) },
            loss: LossModel::None,
            duplicate: 0.0,
            fifo: true,
            correlation: 0.0,
        };
        let relay = Relay::bind(
            vec![RelayLink { from: 0, to: 1, model, faults: LinkFaults::default() }],
            2,
            "127.0.0.1".parse().unwrap(),
            1,
            Path::new("."),
        )
        .unwrap();
        let target = UdpSocket::bind("127.0.0.1:0").unwrap();
        target.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
        relay.set_dest(1, Some(target.local_addr().unwrap()));
        let entry = relay.addr(0);
        let handle = relay.start(mono_ns()).unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        let sent = mono_ns();
        sender.send_to(b"hello", entry).unwrap();
        let mut buf = [0u8; 16];
        let (n, _) = target.recv_from(&mut buf).unwrap();
        let took = mono_ns() - sent;
        assert_eq!(&buf[..n], b"hello");
        // At least the model's 20 ms (never early); an upper bound would test the machine.
        assert!(took >= 20_000_000, "{took} ns");
        let report = handle.stop();
        assert_eq!(report.counts[0].sent, 1);
        assert_eq!(report.lateness.len(), 1);
    }
}
