//! Live mode: the third engine. Real processes send real UDP heartbeats through a
//! fault-injecting relay, and real signals crash and pause them (DESIGN.md §1).
//!
//! - [`wire`]: the heartbeat datagram (versioned, validated, optionally authenticated).
//! - [`node`]: `fdlab node`, one process: sends, receives, detects, writes what it saw.
//! - [`relay`]: the user-space fault injector between nodes (this kernel has no netem).
//! - [`clock`]: the monotonic clock all processes share, and a precise sleep.
//! - [`batch`]: one heartbeat to many peers in few system calls (`sendmmsg`).
//! - [`netns`]: network namespaces and veth pairs for `fdlab live --netns`.
//! - here: the orchestrator of `fdlab live EXPERIMENT.toml` ([`run`]): it starts the relay
//!   and one `fdlab node` process per node on 127.0.0.1 (or each in a network namespace of
//!   its own, [`netns`]), applies the experiment's fault
//!   timeline (crash = SIGKILL, recovery = a restart with a new incarnation, pause =
//!   SIGSTOP and SIGCONT, partitions, spikes and loss bursts in the relay), stops everything
//!   at the end (also on an error or when a node dies unexpectedly: no process is left
//!   behind), merges the nodes' traces and replays them through the one analysis with its
//!   own record of what it did as the ground truth.
//!
//! One clock: every process on the machine reads the same `CLOCK_MONOTONIC`, so the
//! orchestrator hands each node the run's epoch and all times (sends, receipts, signals)
//! are ns since it, and one-way delays are exact. Nodes on different machines
//! (`fdlab node` by hand) have their own epochs; `sent_ns` is then in the sender's clock
//! and one-way delays carry an unknown offset (replay reports rows received "before" they
//! were sent, and leaves delays out).

pub mod batch;
pub mod clock;
pub mod load;
pub mod netns;
pub mod node;
pub mod relay;
pub mod wire;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::analysis::output::{FaultTimeline, RunOutput};
use crate::analysis::results::{Engine, LatenessSummary, LiveAction, LiveReport};
use crate::experiment::{ReceivePolicy, ResumeOrder, SeqAfterRestart, ValidExperiment};
use crate::fault::{Fault, PauseTarget, Timeline};
use crate::replay::{CrashDecl, CutDecl, ReplayConfig, ReplayError};
use crate::time::Nanos;
use crate::trace::{HEADER_WITH_MONITOR, TraceError, TraceReader};
use clock::{mono_ns, sleep_until};
use relay::{Relay, RelayError, RelayLink};

/// The most nodes a live run starts on one machine (a process each).
pub const MAX_NODES: usize = 64;
/// The most heartbeats per second a live run may send through the relay on one machine.
pub const MAX_RATE: f64 = 20_000.0;

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("{path}: `{field}`: {message}")]
    Unsupported { path: PathBuf, field: String, message: String },
    #[error("{path}: too large for live mode on one machine: {message}")]
    TooLarge { path: PathBuf, message: String },
    #[error(transparent)]
    Relay(#[from] RelayError),
    #[error(transparent)]
    Netns(#[from] netns::NetnsError),
    #[error("starting node `{node}` ({program}): {message}")]
    Start { node: String, program: PathBuf, message: String },
    #[error("node `{node}` exited on its own ({status}) at {at}; its last words: {stderr}")]
    NodeDied { node: String, status: String, at: Nanos, stderr: String },
    #[error("interrupted")]
    Interrupted,
    #[error("{path}: {source}")]
    File { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error(transparent)]
    Replay(#[from] ReplayError),
}

/// How to run live.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// The `fdlab` binary the nodes run (default: this one).
    pub program: PathBuf,
    /// A shared key: heartbeats carry an HMAC-SHA256 tag.
    pub key: Option<Vec<u8>>,
    /// Time given to the processes to start before slot 0.
    pub startup: Nanos,
    /// Run each node in a network namespace of its own, joined to the relay by a veth
    /// pair (`fdlab live --netns`; root only, refused otherwise; [`netns`]).
    pub netns: bool,
}

impl Default for LiveOptions {
    fn default() -> LiveOptions {
        LiveOptions {
            program: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("fdlab")),
            key: None,
            startup: Nanos::from_millis(500),
            netns: false,
        }
    }
}

/// What a live run gives: the results (as every engine's) and the lateness histograms
/// behind `summary.live` (ns).
pub struct LiveOutput {
    pub output: RunOutput,
    pub send_lateness: Histogram<u64>,
    pub check_lateness: Histogram<u64>,
    pub relay_lateness: Histogram<u64>,
}

/// What live mode cannot honour is refused by name (the field, as the file spells it), as
/// is a run too large for one machine.
pub fn check(e: &ValidExperiment, path: &Path) -> Result<(), LiveError> {
    let refuse = |field: &str, message: &str| LiveError::Unsupported {
        path: path.to_path_buf(),
        field: field.to_string(),
        message: message.to_string(),
    };
    if e.engine.resume_order != ResumeOrder::default() {
        return Err(refuse(
            "engine.resume_order",
            "live mode cannot honour it: the runtime decides what a resumed node does first",
        ));
    }
    if e.engine.recv_buffer != crate::experiment::EngineRules::default().recv_buffer {
        return Err(refuse("engine.recv_buffer", "live mode cannot honour it: the kernel's socket buffer decides"));
    }
    if !e.workloads.is_empty() {
        return Err(refuse(
            "workloads",
            "live mode does not run message workloads yet (they are simulated only: `fdlab run`)",
        ));
    }
    if e.two_generals.is_some() {
        return Err(refuse("two_generals", "the two generals are simulated only (`fdlab run`)"));
    }
    for (i, f) in e.faults().iter().enumerate() {
        match f {
            Fault::Pause { what, .. } if *what != PauseTarget::Node => {
                return Err(refuse(
                    &format!("faults[{i}].what"),
                    "live mode pauses whole processes (SIGSTOP): only `what = \"node\"` can be honoured",
                ));
            }
            Fault::Omission { .. } => {
                return Err(refuse(&format!("faults[{i}].kind"), "live mode does not inject omissions yet"));
            }
            Fault::Arbitrary { .. } => {
                return Err(refuse(
                    &format!("faults[{i}].kind"),
                    "live mode does not forge heartbeats yet (`arbitrary` is simulated only)",
                ));
            }
            _ => {}
        }
    }
    let n = e.nodes.len();
    if n > MAX_NODES {
        return Err(LiveError::TooLarge {
            path: path.to_path_buf(),
            message: format!("{n} nodes, one process each; at most {MAX_NODES}"),
        });
    }
    let links = e.monitored_links();
    let rate: f64 = links.iter().map(|&(_, t)| 1e9 / e.node(t).interval.0 as f64).sum();
    if rate > MAX_RATE {
        return Err(LiveError::TooLarge {
            path: path.to_path_buf(),
            message: format!(
                "{} monitored links send {rate:.0} heartbeats a second through the relay; at most {MAX_RATE:.0} \
                 (lengthen the intervals or monitor fewer links)",
                links.len()
            ),
        });
    }
    Ok(())
}

/// The live children, by pid, for the signal handler: [`kill_all`] kills them before the
/// process exits on SIGINT, SIGTERM or SIGHUP.
static CHILDREN: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

fn children() -> std::sync::MutexGuard<'static, BTreeSet<i32>> {
    CHILDREN.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Set by [`kill_all`]: the process is going down (a signal came), so nodes that die from
/// now on were killed by it, not on their own.
static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);

/// Whether [`kill_all`] has been called: a run that sees its nodes die then reports
/// [`LiveError::Interrupted`], not a node's death, and the caller that installed the
/// signal handler lets it finish (exit 130 after removing what was written).
pub fn shutting_down() -> bool {
    SHUTTING_DOWN.load(Ordering::SeqCst)
}

/// Kills every node process this process started and has not reaped (SIGKILL also ends a
/// stopped process), then removes the network namespaces it made (`--netns`).
pub fn kill_all() {
    SHUTTING_DOWN.store(true, Ordering::SeqCst);
    for &pid in children().iter() {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    }
    netns::remove_all();
}

fn signal(child: &Child, sig: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig);
}

/// One node's process while it runs.
struct Running {
    child: Child,
    stopped: bool,
}

/// Every node's process; dropping it kills and reaps them all.
struct Nodes {
    procs: Vec<Option<Running>>,
}

impl Nodes {
    fn reap(&mut self, i: usize) {
        if let Some(mut r) = self.procs[i].take() {
            signal(&r.child, nix::sys::signal::Signal::SIGKILL);
            let _ = r.child.wait();
            children().remove(&(r.child.id() as i32));
        }
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for i in 0..self.procs.len() {
            self.reap(i);
        }
    }
}

/// A fault action at a time since the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    /// Resumptions and restarts first when times tie, then stops and kills.
    Continue(usize),
    Restart(usize),
    Stop(usize),
    Kill(usize),
}

fn actions(timeline: &Timeline) -> Vec<(Nanos, Action)> {
    let mut list = Vec::new();
    for (i, f) in timeline.nodes.iter().enumerate() {
        for c in &f.crashes {
            list.push((c.from, Action::Kill(i)));
            if let Some(to) = c.to {
                list.push((to, Action::Restart(i)));
            }
        }
        for w in &f.send_pauses {
            list.push((w.from, Action::Stop(i)));
            list.push((w.to, Action::Continue(i)));
        }
    }
    list.sort();
    list
}

/// Everything a node process is started with.
struct Launch<'a> {
    e: &'a ValidExperiment,
    opts: &'a LiveOptions,
    work: &'a Path,
    epoch: u64,
    cluster: u64,
    peers: Vec<Vec<(String, SocketAddr)>>,
    watches: Vec<Vec<String>>,
    labels: Vec<String>,
    /// The nodes' namespaces (`--netns`), or none: all on 127.0.0.1.
    spaces: Option<&'a netns::Namespaces>,
}

impl Launch<'_> {
    fn spawn(
        &self,
        i: usize,
        incarnation: u64,
        seq_start: u64,
        append: bool,
    ) -> Result<(Child, SocketAddr), LiveError> {
        let node = self.e.node(i);
        let dir = self.work.join("nodes").join(&node.id);
        std::fs::create_dir_all(&dir).map_err(|source| LiveError::File { path: dir.clone(), source })?;
        let stderr_path = dir.join("stderr.log");
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stderr_path)
            .map_err(|source| LiveError::File { path: stderr_path.clone(), source })?;
        let (mut cmd, listen) = match self.spaces {
            Some(spaces) => (spaces.command(i, &self.opts.program), format!("{}:0", spaces.places[i].addr)),
            None => (Command::new(&self.opts.program), "127.0.0.1:0".to_string()),
        };
        cmd.arg("node")
            .args(["--id", &node.id, "--listen", &listen])
            .args(["--interval", &format!("{}ns", node.interval.0)])
            .args(["--jitter", &format!("{}ns", node.jitter.0)])
            .args([
                "--after-pause",
                if node.after_pause == crate::experiment::AfterPause::SendNow { "send-now" } else { "skip" },
            ])
            .args(["--receive", policy_name(self.e.receive)])
            .args(["--cluster", &self.cluster.to_string()])
            .args(["--incarnation", &incarnation.to_string(), "--seq-start", &seq_start.to_string()])
            .args(["--epoch-ns", &self.epoch.to_string()])
            .args(["--duration", &format!("{}ns", self.e.duration.0)])
            .args(["--seed", &self.e.seed.to_string(), "--die-with-parent"])
            // Exactly the simulator's clock: the rate in parts per 10^9, written back exactly.
            .args(["--clock-rate", &format!("{}", node.clock.rate())])
            .arg("--out")
            .arg(&dir);
        if append {
            cmd.arg("--append");
        }
        for (id, addr) in &self.peers[i] {
            cmd.args(["--peer", &format!("{id}={addr}")]);
        }
        for id in &self.watches[i] {
            cmd.args(["--monitor", id]);
        }
        for label in &self.labels {
            cmd.args(["--detector", label]);
        }
        if let Some(key) = &self.opts.key {
            cmd.env("FDLAB_KEY", hex(key));
        }
        let start_error =
            |message: String| LiveError::Start { node: node.id.clone(), program: self.opts.program.clone(), message };
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| start_error(e.to_string()))?;
        children().insert(child.id() as i32);
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            // Keep draining, so the node never blocks on a full pipe.
            for _ in lines {}
        });
        let line = rx.recv_timeout(Duration::from_secs(10));
        let addr = match line {
            Ok(Some(Ok(l))) => l.strip_prefix("listening ").and_then(|a| a.trim().parse().ok()),
            _ => None,
        };
        match addr {
            Some(addr) => Ok((child, addr)),
            None => {
                signal(&child, nix::sys::signal::Signal::SIGKILL);
                let _ = child.wait();
                children().remove(&(child.id() as i32));
                let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                Err(start_error(format!("it did not report its address within 10 s; stderr: {}", stderr.trim())))
            }
        }
    }
}

fn policy_name(p: ReceivePolicy) -> &'static str {
    match p {
        ReceivePolicy::Raw => "raw",
        ReceivePolicy::Dedup => "dedup",
        ReceivePolicy::DropStale => "drop-stale",
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs `e` live, writing the nodes' files under `work` (a directory of the caller's, e.g.
/// a results directory being staged) and the merged `trace.csv` and `transitions.csv`
/// there; `interrupted` is polled (Ctrl-C), and `progress` told how far the run has come
/// (time since its epoch) several times a second. `base_dir` resolves empirical
/// distributions.
pub fn run(
    e: &ValidExperiment,
    path: &Path,
    base_dir: &Path,
    work: &Path,
    opts: &LiveOptions,
    interrupted: &AtomicBool,
    progress: &dyn Fn(Nanos),
) -> Result<LiveOutput, LiveError> {
    check(e, path)?;
    let n = e.nodes.len();
    let ids: Vec<String> = e.node_ids().iter().map(|s| s.to_string()).collect();
    let monitored = e.monitored_links();
    let timeline = Timeline::build(e.faults(), n, e.duration, &monitored, e.seed, base_dir)
        .map_err(|err| LiveError::Relay(RelayError::Empirical(err)))?;
    // One relay link per monitored link, in the heartbeat's direction (target → monitor).
    let links: Vec<RelayLink> = monitored
        .iter()
        .map(|&(m, t)| RelayLink { from: t, to: m, model: e.link(t, m), faults: timeline.link(t, m).clone() })
        .collect();
    // Declared before the nodes, so that it is dropped (the namespaces removed) after they
    // are killed and reaped.
    let spaces = if opts.netns { Some(netns::Namespaces::make(n)?) } else { None };
    // With namespaces the relay listens on every address of the root namespace, and each
    // node reaches it at its own veth pair's root side.
    let relay_ip = if spaces.is_some() { "0.0.0.0" } else { "127.0.0.1" };
    let relay = Relay::bind(links, n, relay_ip.parse().expect("an address"), e.seed, base_dir)?;
    let mut peers = vec![Vec::new(); n];
    let mut watches = vec![Vec::new(); n];
    for (i, &(m, t)) in monitored.iter().enumerate() {
        let mut addr = relay.addr(i);
        if let Some(spaces) = &spaces {
            addr.set_ip(spaces.places[t].gateway.into());
        }
        peers[t].push((ids[m].clone(), addr));
        watches[m].push(ids[t].clone());
    }
    let labels: Vec<String> = e.detectors.iter().flat_map(|s| s.points()).map(|p| p.label).collect();
    let epoch = mono_ns().saturating_add(opts.startup.0).saturating_add(20_000_000 * n as u64);
    let launch = Launch { e, opts, work, epoch, cluster: e.seed, peers, watches, labels, spaces: spaces.as_ref() };
    let mut nodes = Nodes { procs: (0..n).map(|_| None).collect() };
    let mut incarnation = vec![0u64; n];
    let mut started_at = vec![Nanos::ZERO; n];
    let mut seq_start = vec![0u64; n];
    for i in 0..n {
        let (child, addr) = launch.spawn(i, 0, 0, false)?;
        relay.set_dest(i, Some(addr));
        nodes.procs[i] = Some(Running { child, stopped: false });
    }
    let relay = relay.start(epoch)?;
    let now = || Nanos(mono_ns().saturating_sub(epoch));
    let mut record: Vec<LiveAction> = Vec::new();
    let entry = |node: usize, action: &str, at: Nanos| LiveAction {
        node: ids[node].clone(),
        action: action.to_string(),
        at_ns: at.0,
    };
    // Waits until `t` (since the epoch), watching for Ctrl-C and for nodes that die.
    let wait_until = |t: Nanos, nodes: &mut Nodes| -> Result<(), LiveError> {
        loop {
            if interrupted.load(Ordering::Relaxed) || shutting_down() {
                return Err(LiveError::Interrupted);
            }
            for (i, slot) in nodes.procs.iter_mut().enumerate() {
                if let Some(r) = slot
                    && let Ok(Some(status)) = r.child.try_wait()
                {
                    // Killed by the shutdown between the check above and this one.
                    if shutting_down() {
                        return Err(LiveError::Interrupted);
                    }
                    children().remove(&(r.child.id() as i32));
                    *slot = None;
                    // A node ends by itself at the run's end (its --duration).
                    if status.success() && now() >= e.duration {
                        continue;
                    }
                    let log = work.join("nodes").join(&ids[i]).join("stderr.log");
                    let stderr = std::fs::read_to_string(log).unwrap_or_default();
                    return Err(LiveError::NodeDied {
                        node: ids[i].clone(),
                        status: status.to_string(),
                        at: now(),
                        stderr: stderr.trim().to_string(),
                    });
                }
            }
            progress(now());
            let left = t.0.saturating_sub(now().0);
            if left == 0 {
                return Ok(());
            }
            if left > 60_000_000 {
                std::thread::sleep(Duration::from_millis(50));
            } else {
                sleep_until(epoch.saturating_add(t.0));
            }
        }
    };
    let result = (|| -> Result<(), LiveError> {
        for (at, action) in actions(&timeline) {
            wait_until(at, &mut nodes)?;
            match action {
                Action::Kill(i) => {
                    if nodes.procs[i].is_some() {
                        nodes.reap(i);
                        relay.set_dest(i, None);
                        record.push(entry(i, "kill", now()));
                    }
                }
                Action::Restart(i) => {
                    if nodes.procs[i].is_none() {
                        let node = e.node(i);
                        let crash = timeline.nodes[i].crashes.iter().find(|c| c.to == Some(at));
                        incarnation[i] += u64::from(crash.is_some_and(|c| c.new_incarnation));
                        if node.seq_after_restart == SeqAfterRestart::Continue {
                            // The slots the last incarnation had sent (one per interval from its start).
                            let last = record.iter().rev().find(|a| a.node == ids[i] && a.action == "kill");
                            let up = last.map_or(0, |k| k.at_ns.saturating_sub(started_at[i].0));
                            // (slots of its own clock: local time k·η)
                            seq_start[i] += node.clock.local_at_or_after(Nanos(up)).0.div_ceil(node.interval.0);
                        } else {
                            seq_start[i] = 0;
                        }
                        let t = now();
                        record.push(entry(i, "restart", t));
                        started_at[i] = t;
                        let (child, addr) = launch.spawn(i, incarnation[i], seq_start[i], true)?;
                        relay.set_dest(i, Some(addr));
                        nodes.procs[i] = Some(Running { child, stopped: false });
                    }
                }
                Action::Stop(i) => {
                    if let Some(r) = nodes.procs[i].as_mut().filter(|r| !r.stopped) {
                        signal(&r.child, nix::sys::signal::Signal::SIGSTOP);
                        r.stopped = true;
                        record.push(entry(i, "stop", now()));
                    }
                }
                Action::Continue(i) => {
                    if let Some(r) = nodes.procs[i].as_mut().filter(|r| r.stopped) {
                        signal(&r.child, nix::sys::signal::Signal::SIGCONT);
                        r.stopped = false;
                        record.push(entry(i, "continue", now()));
                    }
                }
            }
        }
        wait_until(e.duration, &mut nodes)
    })();
    // Stop every node: continue the stopped, ask all to end (they flush), then kill what
    // is left after 3 s.
    for r in nodes.procs.iter_mut().flatten() {
        if r.stopped {
            signal(&r.child, nix::sys::signal::Signal::SIGCONT);
        }
        signal(&r.child, nix::sys::signal::Signal::SIGTERM);
    }
    let deadline = mono_ns() + 3_000_000_000;
    for i in 0..n {
        if let Some(r) = nodes.procs[i].as_mut() {
            while mono_ns() < deadline && matches!(r.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        nodes.reap(i);
    }
    let relay_report = relay.stop();
    result?;

    // Ground truth from the record, cut at the run's end.
    let end = e.duration;
    let mut crashes = Vec::new();
    let mut pauses = Vec::new();
    for id in &ids {
        let mine: Vec<&LiveAction> = record.iter().filter(|a| a.node == *id && a.at_ns < end.0).collect();
        let mut open: Option<(&str, u64)> = None;
        for a in mine {
            match (a.action.as_str(), open) {
                ("kill", _) => {
                    // A kill during a pause ends the pause there.
                    if let Some(("stop", from)) = open {
                        pauses.push(CrashDecl::down(id, Nanos(from), Nanos(a.at_ns.max(from + 1))));
                    }
                    open = Some(("kill", a.at_ns));
                }
                ("restart", Some(("kill", from))) => {
                    crashes.push(CrashDecl::down(id, Nanos(from), Nanos(a.at_ns.max(from + 1))));
                    open = None;
                }
                ("stop", None) => open = Some(("stop", a.at_ns)),
                ("continue", Some(("stop", from))) => {
                    pauses.push(CrashDecl::down(id, Nanos(from), Nanos(a.at_ns.max(from + 1))));
                    open = None;
                }
                _ => {}
            }
        }
        match open {
            Some(("kill", from)) => crashes.push(CrashDecl::stop(id, Nanos(from))),
            Some((_, from)) => pauses.push(CrashDecl::down(id, Nanos(from), end.max(Nanos(from + 1)))),
            None => {}
        }
    }
    let mut cuts = Vec::new();
    for &(m, t) in &monitored {
        for w in &timeline.link(t, m).cuts {
            cuts.push(CutDecl { from: ids[t].clone(), to: ids[m].clone(), at: w.from, until: w.to });
        }
    }

    let trace = merge_traces(work, &ids, end)?;
    // Check lateness from the suspicions the nodes logged, except those that fell due while
    // their node was stopped (the timer could not fire; that is the pause, not the timer).
    let mut check_lateness = Histogram::new(3).expect("a 3-digit histogram");
    let mut checks_in_pauses = 0;
    for (monitor, at, fired) in merge_transitions(work, &ids, end)? {
        let paused = pauses.iter().any(|p| p.node == monitor && p.from <= at && p.to.is_none_or(|to| at < to));
        if paused {
            checks_in_pauses += 1;
        } else {
            let _ = check_lateness.record(fired.0.saturating_sub(at.0));
        }
    }
    let targets: BTreeSet<&str> = monitored.iter().map(|&(_, t)| ids[t].as_str()).collect();
    let monitors: BTreeSet<&str> = monitored.iter().map(|&(m, _)| ids[m].as_str()).collect();
    let config = ReplayConfig {
        trace,
        detectors: e.detectors.clone(),
        crashes: crashes.iter().filter(|c| targets.contains(c.node.as_str())).cloned().collect(),
        monitor_crashes: crashes.iter().filter(|c| monitors.contains(c.node.as_str())).cloned().collect(),
        end: Some(end),
        pauses,
        cuts,
        link_counts: monitored
            .iter()
            .zip(&relay_report.counts)
            .map(|(&(m, t), c)| ((ids[m].clone(), ids[t].clone()), *c))
            .collect(),
        // The nodes' traces carry every node's view: the cluster figures come from the
        // replay, with the orchestrator's record of crashes and pauses as ground truth.
        cluster: e.cluster.clone(),
        // Each node's detectors ran on its own clock, and it stamped its heartbeats with it:
        // the analysis does too.
        clocks: (0..n).filter(|&i| !e.node(i).clock.is_exact()).map(|i| (ids[i].clone(), e.node(i).clock)).collect(),
        ..ReplayConfig::default()
    };
    let mut output = crate::replay::replay(&config, None)?;
    output.timeline = Some(fault_timeline(e, &timeline, &monitored, &config, &output.summary.totals)?);

    let mut send_lateness = Histogram::new(3).expect("a 3-digit histogram");
    let mut live = LiveReport {
        checks_in_pauses,
        authenticated: opts.key.is_some(),
        receive_policy: if opts.key.is_some() && e.receive == ReceivePolicy::Raw {
            "dedup (the replay window of authenticated heartbeats)".to_string()
        } else {
            policy_name(e.receive).to_string()
        },
        actions: record,
        ..LiveReport::default()
    };
    for id in &ids {
        let dir = work.join("nodes").join(id);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|source| LiveError::File { path: dir.clone(), source })?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("timing-")))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|source| LiveError::File { path: f.clone(), source })?;
            // A node writes it atomically; one that cannot be read was never completed.
            let Ok(t) = serde_json::from_str::<node::NodeTiming>(&text) else { continue };
            t.send_lateness.add_to(&mut send_lateness);
            live.skipped_slots += t.skipped_slots;
            for (reason, count) in t.rejected {
                let name = serde_json::to_value(reason).ok().and_then(|v| v.as_str().map(str::to_string));
                *live.rejected.entry(name.unwrap_or_default()).or_default() += count;
            }
        }
    }
    live.send_lateness = LatenessSummary::of(&send_lateness);
    live.check_lateness = LatenessSummary::of(&check_lateness);
    live.relay_lateness = LatenessSummary::of(&relay_report.lateness);
    let summary = &mut output.summary;
    summary.experiment = e.name.clone();
    summary.seed = Some(e.seed);
    summary.engine = Engine::Live;
    summary.experiment_config = Some(serde_json::to_value(&**e).expect("experiment serializes"));
    summary.live = Some(live);
    Ok(LiveOutput { output, send_lateness, check_lateness, relay_lateness: relay_report.lateness })
}

/// The faults to chart with the levels sampled around them, as the simulator samples them
/// (`sim::fault_views`: the faults' planned windows; the signals came within milliseconds of
/// them, `live.actions` has the instants), from the merged trace.
fn fault_timeline(
    e: &ValidExperiment,
    timeline: &Timeline,
    monitored: &[(usize, usize)],
    config: &ReplayConfig,
    totals: &[crate::analysis::results::TotalEntry],
) -> Result<FaultTimeline, LiveError> {
    use crate::analysis::sampling::{DEFAULT_TARGET_PER_DAY, chosen_labels, sampled_labels};
    let sampled = chosen_labels(&e.detectors, totals, DEFAULT_TARGET_PER_DAY, &sampled_labels(&e.detectors));
    let views = crate::sim::fault_views(e, timeline, monitored).into_iter().map(|(fv, _, view)| (fv, view)).collect();
    Ok(crate::replay::timeline::sample_views(config, views, &sampled)?)
}

/// Merges the nodes' traces (each in its node's receive order) into `work/trace.csv` in
/// receive order, dropping rows after `end`.
fn merge_traces(work: &Path, ids: &[String], end: Nanos) -> Result<PathBuf, LiveError> {
    let mut readers = Vec::new();
    for id in ids {
        let path = work.join("nodes").join(id).join("trace.csv");
        if std::fs::metadata(&path).is_ok_and(|m| m.len() > 0) {
            // A node killed for good (a crash-stop) may have left half a row.
            node::cut_partial_row(&path).map_err(|source| LiveError::File { path: path.clone(), source })?;
            readers.push(TraceReader::open(&path)?);
        }
    }
    let out_path = work.join("trace.csv");
    let file = std::fs::File::create(&out_path).map_err(|source| LiveError::File { path: out_path.clone(), source })?;
    let mut out = BufWriter::new(file);
    let io = |source| LiveError::File { path: out_path.clone(), source };
    out.write_all(HEADER_WITH_MONITOR.as_bytes()).map_err(io)?;
    let mut heads: Vec<Option<crate::trace::TraceRow>> =
        readers.iter_mut().map(|r| r.next_row()).collect::<Result<_, _>>()?;
    loop {
        let next = heads.iter().enumerate().filter_map(|(i, h)| Some((h.as_ref()?.arrival.at, i))).min();
        let Some((at, i)) = next else { break };
        let row = heads[i].take().expect("the head chosen");
        if at <= end {
            let r = &readers[i];
            let a = row.arrival;
            let opt = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_default();
            writeln!(
                out,
                "{},{},{},{},{},{}",
                r.name(row.monitor),
                r.name(row.target),
                a.at.0,
                opt(a.seq),
                opt(a.sent.map(|s| s.0)),
                opt(a.incarnation)
            )
            .map_err(io)?;
        }
        heads[i] = readers[i].next_row()?;
    }
    out.flush().map_err(io)?;
    Ok(out_path)
}

/// Concatenates the nodes' suspicion logs into `work/transitions.csv`, ordered by time,
/// dropping what came after `end`; returns each suspicion the timer noticed as (monitor,
/// crossing, fired).
fn merge_transitions(work: &Path, ids: &[String], end: Nanos) -> Result<Vec<(String, Nanos, Nanos)>, LiveError> {
    let mut rows: Vec<(u64, String)> = Vec::new();
    let mut fired = Vec::new();
    for id in ids {
        let path = work.join("nodes").join(id).join("transitions.csv");
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        // The detector label may hold commas (quoted nowhere: it is the third field of six),
        // so fields are read from both ends.
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split(',').collect();
            let n = fields.len();
            if n < 6 {
                continue;
            }
            let Ok(at) = fields[n - 2].parse::<u64>() else { continue };
            if at > end.0 {
                continue;
            }
            if fields[n - 3] == "suspect"
                && let Ok(f) = fields[n - 1].parse::<u64>()
            {
                fired.push((fields[0].to_string(), Nanos(at), Nanos(f)));
            }
            rows.push((at, line.to_string()));
        }
    }
    rows.sort();
    let mut text = String::from(node::TRANSITIONS_HEADER);
    for (_, line) in rows {
        text.push_str(&line);
        text.push('\n');
    }
    let path = work.join("transitions.csv");
    std::fs::write(&path, text).map_err(|source| LiveError::File { path, source })?;
    Ok(fired)
}
