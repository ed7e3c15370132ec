//! Live mode on 127.0.0.1 with ephemeral ports: real processes, real datagrams, real
//! signals. Every test checks, by scanning the process table, that no node it started
//! outlives it, also when it fails (the guard kills leftovers as it drops).
#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{arg, experiments, write};
use fdlab::analysis::DetectorBank;
use fdlab::analysis::GroundTruth;
use fdlab::analysis::results::{Engine, SummaryFile};
use fdlab::detector::DetectorSpec;
use fdlab::live::wire::{self, Heartbeat};
use fdlab::time::Nanos;
use fdlab::trace::TraceReader;

/// The pids of processes whose command line mentions `marker` (a test's unique directory).
fn processes_mentioning(marker: &str) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        if String::from_utf8_lossy(&cmdline).contains(marker) && pid != std::process::id() as i32 {
            found.push(pid);
        }
    }
    found
}

/// A test's directory; dropping it kills any process still mentioning it, so a failing
/// test leaves nothing running either.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox { dir: tempfile::Builder::new().prefix("fdlab-live-test-").tempdir().unwrap() }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn leftovers(&self) -> Vec<i32> {
        // Reaped processes can linger as zombies for a moment: give them time.
        for _ in 0..50 {
            let left = processes_mentioning(arg(self.path()));
            if left.is_empty() {
                return left;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        processes_mentioning(arg(self.path()))
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for pid in processes_mentioning(arg(self.path())) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
}

fn summary(dir: &Path) -> SummaryFile {
    let text = std::fs::read_to_string(dir.join("summary.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Mistakes of `label` on the link monitor ← target, by cause name.
fn causes(s: &SummaryFile, monitor: &str, target: &str, label: &str) -> BTreeMap<String, u64> {
    let r = s
        .results
        .iter()
        .find(|r| r.monitor.as_deref() == Some(monitor) && r.target == target && r.detector == label)
        .unwrap_or_else(|| panic!("no result {monitor} ← {target} {label}"));
    r.qos
        .mistakes_by_cause
        .iter()
        .map(|(c, n)| (serde_json::to_value(c).unwrap().as_str().unwrap().into(), *n))
        .collect()
}

/// Suspicions as (start, end if trusted again), ns.
type Suspicions = Vec<(u64, Option<u64>)>;

/// The suspicions a node logged, per (target, detector).
fn logged(transitions: &Path) -> BTreeMap<(String, String), Suspicions> {
    let mut out: BTreeMap<(String, String), Suspicions> = BTreeMap::new();
    let text = std::fs::read_to_string(transitions).unwrap();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let n = f.len();
        let label = f[2..n - 3].join(",").trim_matches('"').to_string();
        let list = out.entry((f[1].to_string(), label)).or_default();
        let at: u64 = f[n - 2].parse().unwrap();
        match f[n - 3] {
            "suspect" => list.push((at, None)),
            "trust" => {
                let last = list.last_mut().expect("trust after a suspicion");
                assert_eq!(last.1, None, "{line}: trusted twice");
                last.1 = Some(at);
            }
            other => panic!("{other}"),
        }
    }
    out
}

/// One live run of `experiments/live-smoke.toml` (20 s): the pause, the partition and the
/// crash are each seen where they must be, no process outlives the run, and the trace a
/// node wrote replays to exactly the suspicions it logged.
#[test]
fn live_smoke_shows_the_pause_the_partition_and_the_crash() {
    let sandbox = Sandbox::new();
    let out = sandbox.path().join("out");
    let status = Command::new(env!("CARGO_BIN_EXE_fdlab"))
        .args(["live", arg(&experiments().join("live-smoke.toml")), "--no-charts", "--out", arg(&out)])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(sandbox.leftovers(), Vec::<i32>::new(), "node processes outlived the run");
    let s = summary(&out);
    assert_eq!(s.engine, Engine::Live);
    let live = s.live.as_ref().unwrap();
    let actions: Vec<(&str, &str)> = live.actions.iter().map(|a| (a.node.as_str(), a.action.as_str())).collect();
    assert_eq!(actions, [("b", "stop"), ("b", "continue"), ("c", "kill")]);
    let fixed = "fixed:timeout=500ms";
    for label in s.totals.iter().map(|t| t.detector.as_str()) {
        // b stopped for 2.5 s: a and c, which watch it, suspect it (a mistake: b was alive).
        for m in ["a", "c"] {
            assert_eq!(causes(&s, m, "b", label).get("target_pause"), Some(&1), "{m} ← b {label}");
        }
        // {a} | {b, c} for 4 s: seen from both sides, and not between b and c.
        for (m, t) in [("a", "b"), ("b", "a"), ("a", "c"), ("c", "a")] {
            assert_eq!(causes(&s, m, t, label).get("partition"), Some(&1), "{m} ← {t} {label}");
        }
        for (m, t) in [("b", "c"), ("c", "b")] {
            assert_eq!(causes(&s, m, t, label).get("partition"), None, "{m} ← {t} {label}");
        }
        // c was killed: both of its monitors detected it.
        for m in ["a", "b"] {
            let r =
                s.results.iter().find(|r| r.monitor.as_deref() == Some(m) && r.target == "c" && r.detector == label);
            let crashes = &r.unwrap().qos.crashes;
            assert_eq!(crashes.len(), 1);
            let td = crashes[0].detection_time_s.expect("detected");
            if label == fixed {
                // The silence that triggers a 500 ms timeout began at c's last heartbeat,
                // which left at its slot at 15.0 s, 50 ms before the kill (or, if the machine
                // held the sender back, at most one interval before): T_D ∈ [0.4 s, 0.45 s]
                // plus the delay of that last datagram (the model's lognormal, median 2 ms;
                // 100 ms is far in its tail), less the moment between the kill and the
                // kernel's report of the death, which is when the kill is recorded.
                assert!((0.39..0.55).contains(&td), "{m} ← c: T_D {td}");
            } else {
                assert!(td > 0.0 && td < 2.0, "{m} ← c {label}: T_D {td}");
            }
        }
    }
    // The cluster figures come from the nodes' traces, and agree with the simulator's.
    common::assert_live_smoke_cluster(&s);
    // Every node sent, and nothing was rejected on a clean relay.
    assert!(live.send_lateness.as_ref().unwrap().count > 300);
    assert!(live.rejected.is_empty(), "{:?}", live.rejected);
    assert!(live.checks_in_pauses > 0, "b's timers fell due while it was stopped");

    // a was never stopped: its own trace, replayed, gives exactly the suspicions it logged.
    let node = out.join("nodes").join("a");
    let logged = logged(&node.join("transitions.csv"));
    let mut reader = TraceReader::open(&node.join("trace.csv")).unwrap();
    let specs: Vec<DetectorSpec> = s
        .totals
        .iter()
        .map(|t| {
            let mut d = DetectorSpec::parse(&t.detector).unwrap();
            d.fill("interval", "100ms").unwrap();
            d
        })
        .collect();
    let mut banks: BTreeMap<String, DetectorBank> = BTreeMap::new();
    let mut last = Nanos::ZERO;
    while let Some(row) = reader.next_row().unwrap() {
        let target = reader.name(row.target).to_string();
        let bank = banks.entry(target).or_insert_with(|| {
            let mut b = DetectorBank::new(&specs, &GroundTruth::always_up());
            b.record_suspicions();
            b
        });
        bank.on_arrival(&row.arrival);
        last = row.arrival.at;
    }
    let mut compared = 0;
    for (target, bank) in banks {
        for (point, report) in bank.finish(last) {
            // (The node went on a moment after its last heartbeat: what began after it is not
            // in the trace.)
            let mut from_log = logged.get(&(target.clone(), point.label.clone())).cloned().unwrap_or_default();
            from_log.retain(|&(start, _)| start < last.0);
            let replayed: Suspicions = report
                .suspicions
                .iter()
                .map(|&(from, to)| (from.0, (to < last || from == to).then_some(to.0)))
                .collect();
            // The last suspicion may still be open in both (c stays dead).
            assert_eq!(from_log, replayed, "a ← {target} {}", point.label);
            compared += from_log.len();
        }
    }
    assert!(compared >= 2 * 3, "a suspected b and c in the partition and c after its crash: {compared}");
}

/// A live experiment whose node `a` runs a clock at half speed: it sends its 100 ms
/// heartbeats every 200 ms of real time, so `b`'s 150 ms timeout suspects it at every gap,
/// and its own 150 ms timeout lasts 300 ms of real time, so `b`'s 250 ms heartbeats never
/// let it suspect (an unscaled timer would suspect at every one), until b is killed.
const SLOW_CLOCK: &str = r#"
name = "live-slow-clock"
seed = 3
duration = "6s"
detectors = ["fixed:timeout=150ms"]

[defaults]
interval = "100ms"

[[nodes]]
id = "a"
clock_rate = 0.5
[[nodes]]
id = "b"
interval = "250ms"

[monitoring]
mode = "all"

[network]
delay = { dist = "constant", value = "1ms" }

[[faults]]
kind = "crash"
node = "b"
at = "4600ms"
"#;

/// `clock_rate` live: the slow node's real inter-send interval is interval / rate, its
/// `sent_ns` run on its own clock, its timers stretch with it, and the analysis gives the
/// simulator's answer (mistakes on both links, the crash's detection time).
#[test]
fn a_slow_clock_sends_and_times_out_on_its_own_clock_as_the_simulator_says() {
    let sandbox = Sandbox::new();
    let file = write(sandbox.path(), "slow-clock.toml", SLOW_CLOCK);
    let out = sandbox.path().join("out");
    let o = common::fdlab(&["live", arg(&file), "--no-charts", "--out", arg(&out)]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert_eq!(sandbox.leftovers(), Vec::<i32>::new(), "node processes outlived the run");
    let live = summary(&out);
    let timing = live.live.as_ref().unwrap();
    let send = timing.send_lateness.as_ref().unwrap();
    let relay = timing.relay_lateness.as_ref().unwrap();

    // What b received from a: one heartbeat per 200 ms of real time, stamped 100 ms apart
    // on a's clock.
    let mut reader = TraceReader::open(&out.join("trace.csv")).unwrap();
    let mut rows = Vec::new();
    while let Some(row) = reader.next_row().unwrap() {
        if reader.name(row.monitor) == "b" && reader.name(row.target) == "a" {
            rows.push(row.arrival);
        }
    }
    assert!(rows.len() >= 20, "{} heartbeats from a", rows.len());
    let mut real = Vec::new();
    for pair in rows.windows(2) {
        let slots = pair[1].seq.unwrap() - pair[0].seq.unwrap();
        assert!(slots >= 1, "a's heartbeats in order on a FIFO constant-delay link");
        real.push((pair[1].at.0 - pair[0].at.0) as f64 / slots as f64);
        let local = (pair[1].sent.unwrap().0 - pair[0].sent.unwrap().0) as f64 / slots as f64;
        // sent_ns is a's clock at the send: 100 ms a slot, off by at most the send
        // lateness (on a's clock: halved).
        let tolerance = send.max_us * 1e3 * 0.5 + 1e3;
        assert!((local - 100e6).abs() <= tolerance, "Δsent_ns per slot {local} ns, tolerance {tolerance} ns");
    }
    real.sort_by(f64::total_cmp);
    let median = real[real.len() / 2];
    // interval / rate = 200 ms, within the lateness of the send and of the relay's release
    // (p99 each) and 1 ms for the receiving thread to timestamp it.
    let tolerance = (send.p99_us + relay.p99_us) * 1e3 + 1e6;
    assert!((median - 200e6).abs() <= tolerance, "real interval per slot {median} ns, tolerance {tolerance} ns");

    // The simulator's answer for the same file.
    let e = fdlab::experiment::Experiment::load(&file).unwrap();
    let sim = common::simulate(&e).summary;
    let label = "fixed:timeout=150ms";
    let result = |s: &SummaryFile, m: &str, t: &str| {
        s.results
            .iter()
            .find(|r| r.monitor.as_deref() == Some(m) && r.target == t && r.detector == label)
            .unwrap_or_else(|| panic!("no result {m} ← {t}"))
            .qos
            .clone()
    };
    // b ← a: a 200 ms silence after every heartbeat, a mistake at each (about 23 before b's
    // crash at 4.6 s); the live count within 2 of the simulated one (the run's first and
    // last moments).
    let (live_ba, sim_ba) = (result(&live, "b", "a"), result(&sim, "b", "a"));
    assert!(sim_ba.mistakes >= 20, "simulated b ← a: {}", sim_ba.mistakes);
    assert!(live_ba.mistakes.abs_diff(sim_ba.mistakes) <= 2, "b ← a live {} sim {}", live_ba.mistakes, sim_ba.mistakes);
    // a ← b: 250 ms real is 125 ms on a's clock, under its 150 ms timeout: no mistake in
    // either engine, and b's crash detected after 150 ms on a's clock past b's last
    // heartbeat (4.5 s): 0.1 s of a's clock after the crash, in both.
    let (live_ab, sim_ab) = (result(&live, "a", "b"), result(&sim, "a", "b"));
    assert_eq!((live_ab.mistakes, sim_ab.mistakes), (0, 0), "a's timers run on its slow clock");
    let td = |q: &fdlab::analysis::qos::QosReport| q.crashes[0].detection_time_s.expect("b's crash detected");
    let (live_td, sim_td) = (td(&live_ab), td(&sim_ab));
    assert!((sim_td - 0.1).abs() < 0.005, "simulated T_D {sim_td}");
    // The kill lands a moment after its planned instant (recorded when the kernel reports
    // the death), which shortens the live T_D by that moment on a's clock.
    assert!((live_td - sim_td).abs() < 0.02, "T_D live {live_td} sim {sim_td}");
    // a's own log agrees: it never suspected b before the crash.
    let logged = logged(&out.join("nodes").join("a").join("transitions.csv"));
    let kill = timing.actions.iter().find(|x| x.node == "b" && x.action == "kill").unwrap().at_ns;
    let suspicions = logged.get(&("b".to_string(), label.to_string())).cloned().unwrap_or_default();
    assert_eq!(suspicions.len(), 1, "{suspicions:?}");
    assert!(suspicions[0].0 > kill, "a suspected b at {} ns, before its kill at {kill} ns", suspicions[0].0);
}

/// Three nodes for `--netns`: a partition {a} | {b, c} from 2 s to 4 s, and c killed at 5 s.
const NETNS: &str = r#"
name = "live-netns"
seed = 11
duration = "7s"
detectors = ["fixed:timeout=500ms"]

[defaults]
interval = "100ms"

[[nodes]]
id = "a"
[[nodes]]
id = "b"
[[nodes]]
id = "c"

[monitoring]
mode = "all"

[network]
delay = { dist = "constant", value = "1ms" }

[[faults]]
kind = "partition"
at = "2s"
duration = "2s"
groups = [["a"], ["b", "c"]]

[[faults]]
kind = "crash"
node = "c"
at = "5s"
"#;

/// Why network namespaces cannot be tested here, if they cannot: not root, no `ip`, or a
/// kernel or sandbox that refuses to make one (tried with a probe namespace).
fn netns_unavailable() -> Option<String> {
    let uid = nix::unistd::geteuid().as_raw();
    if uid != 0 {
        return Some(format!("not root (uid {uid})"));
    }
    let probe = format!("fdlab-probe-{}", std::process::id());
    match Command::new("ip").args(["netns", "add", &probe]).output() {
        Err(e) => Some(format!("`ip` cannot run: {e}")),
        Ok(o) if !o.status.success() => {
            Some(format!("`ip netns add` refused: {}", String::from_utf8_lossy(&o.stderr).trim()))
        }
        Ok(_) => {
            let _ = Command::new("ip").args(["netns", "delete", &probe]).status();
            None
        }
    }
}

/// The namespaces and veth pairs of the run whose orchestrator has pid `pid` (waiting a
/// moment for the kernel to finish removing them).
fn netns_leftovers(pid: u32) -> Vec<String> {
    let find = || {
        let names = Command::new("ip").args(["netns", "list"]).output().unwrap().stdout;
        let links = Command::new("ip").args(["-o", "link"]).output().unwrap().stdout;
        let (ns, veth) = (fdlab::live::netns::prefix(pid), format!("fdl{pid}v"));
        let mut left: Vec<String> =
            String::from_utf8_lossy(&names).lines().filter(|l| l.starts_with(&ns)).map(str::to_string).collect();
        left.extend(String::from_utf8_lossy(&links).lines().filter(|l| l.contains(&veth)).map(str::to_string));
        left
    };
    for _ in 0..50 {
        if find().is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    find()
}

/// Removes what a failed `--netns` test run left, by orchestrator pid, as it drops.
struct NetnsGuard(u32);

impl Drop for NetnsGuard {
    fn drop(&mut self) {
        for line in netns_leftovers_now(self.0) {
            let name = line.split_whitespace().next().unwrap_or_default().to_string();
            let _ = Command::new("ip").args(["netns", "delete", &name]).status();
        }
    }
}

fn netns_leftovers_now(pid: u32) -> Vec<String> {
    let names = Command::new("ip").args(["netns", "list"]).output().map(|o| o.stdout).unwrap_or_default();
    String::from_utf8_lossy(&names)
        .lines()
        .filter(|l| l.starts_with(&fdlab::live::netns::prefix(pid)))
        .map(str::to_string)
        .collect()
}

/// `fdlab live --netns`: each node in a network namespace of its own, behind a veth pair;
/// the relay's partition and a SIGKILL are detected across them, and no namespace or veth
/// pair is left after a normal end, after Ctrl-C, or after a node dies on its own.
#[test]
fn nodes_in_network_namespaces_detect_a_partition_and_a_crash_and_leave_nothing() {
    if let Some(why) = netns_unavailable() {
        eprintln!("skipped: network namespaces are not available here: {why}");
        return;
    }
    let sandbox = Sandbox::new();
    let file = write(sandbox.path(), "netns.toml", NETNS);
    let live = |out: &Path| {
        Command::new(env!("CARGO_BIN_EXE_fdlab"))
            .args(["live", arg(&file), "--netns", "--no-charts", "--out", arg(out)])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // The namespaces of the run by `pid`, once all three exist (or after 10 s).
    let wait_for_namespaces = |pid: u32| {
        for _ in 0..200 {
            if netns_leftovers_now(pid).len() == 3 && processes_mentioning(arg(sandbox.path())).len() >= 4 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        netns_leftovers_now(pid)
    };

    // A whole run.
    let out = sandbox.path().join("out");
    let child = live(&out);
    let _guard = NetnsGuard(child.id());
    let pid = child.id();
    let seen = wait_for_namespaces(pid);
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert_eq!(seen.len(), 3, "one namespace per node while it ran: {seen:?}");
    assert_eq!(netns_leftovers(pid), Vec::<String>::new(), "left behind after the run");
    assert_eq!(sandbox.leftovers(), Vec::<i32>::new(), "node processes outlived the run");
    let s = summary(&out);
    let label = "fixed:timeout=500ms";
    for (m, t) in [("a", "b"), ("b", "a"), ("a", "c"), ("c", "a")] {
        assert_eq!(causes(&s, m, t, label).get("partition"), Some(&1), "{m} ← {t}: the cut seen from both sides");
    }
    for (m, t) in [("b", "c"), ("c", "b")] {
        assert_eq!(causes(&s, m, t, label).get("partition"), None, "{m} ← {t}");
    }
    for m in ["a", "b"] {
        let r = s.results.iter().find(|r| r.monitor.as_deref() == Some(m) && r.target == "c" && r.detector == label);
        let crashes = &r.unwrap().qos.crashes;
        assert_eq!(crashes.len(), 1);
        let td = crashes[0].detection_time_s.expect("c's crash detected");
        // 500 ms after c's last heartbeat, at most one interval before the kill.
        assert!((0.39..0.55).contains(&td), "{m} ← c: T_D {td}");
    }

    // Ctrl-C once the nodes run: exit 130, nothing left.
    let out = sandbox.path().join("interrupted");
    let child = live(&out);
    let _guard = NetnsGuard(child.id());
    let pid = child.id();
    assert_eq!(wait_for_namespaces(pid).len(), 3);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", common::stderr(&o));
    assert_eq!(netns_leftovers(pid), Vec::<String>::new(), "left behind after Ctrl-C");
    assert_eq!(sandbox.leftovers(), Vec::<i32>::new());

    // A node that dies on its own ends the run with an error naming it, and nothing is left.
    let out = sandbox.path().join("died");
    let child = live(&out);
    let _guard = NetnsGuard(child.id());
    let pid = child.id();
    assert_eq!(wait_for_namespaces(pid).len(), 3);
    let node = processes_mentioning(arg(sandbox.path()))
        .into_iter()
        .find(|&p| {
            let cmdline = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmdline).contains("\0--id\0b\0")
        })
        .expect("node b runs");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(node), nix::sys::signal::Signal::SIGKILL).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(!o.status.success());
    assert!(common::stderr(&o).contains("node `b` exited on its own"), "{}", common::stderr(&o));
    assert_eq!(netns_leftovers(pid), Vec::<String>::new(), "left behind after a node died");
    assert_eq!(sandbox.leftovers(), Vec::<i32>::new());
}

/// `fdlab node --spread`: 64 peers in two groups of 32; every peer hears one heartbeat per
/// interval (seq 0, 1, 2, … in order), and the second group's arrive half an interval after
/// the first's.
#[test]
fn a_spreading_node_sends_each_peer_one_heartbeat_per_interval_at_its_groups_phase() {
    let sandbox = Sandbox::new();
    let sinks: Vec<std::net::UdpSocket> = (0..64).map(|_| std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fdlab"));
    cmd.args(["node", "--id", "n", "--interval", "100ms", "--duration", "1s", "--incarnation", "0", "--spread"])
        .args(["--detector", "fixed:timeout=1s", "--out", arg(&sandbox.path().join("node"))]);
    for (i, sink) in sinks.iter().enumerate() {
        cmd.args(["--peer", &format!("p{i}={}", sink.local_addr().unwrap())]);
        sink.set_nonblocking(true).unwrap();
    }
    let status = cmd.stdout(Stdio::null()).status().unwrap();
    assert!(status.success());
    let start = std::time::Instant::now();
    // Each sink's heartbeats as (seq, sent_ns), in arrival order.
    let heard: Vec<Vec<(u64, u64)>> = sinks
        .iter()
        .map(|sink| {
            let mut got = Vec::new();
            let mut buf = [0u8; 128];
            while let Ok(n) = sink.recv(&mut buf) {
                let h = wire::decode(&buf[..n], 0, None).expect("a valid heartbeat");
                got.push((h.seq, h.sent_ns));
            }
            got
        })
        .collect();
    assert!(start.elapsed().as_secs() < 5);
    for (i, got) in heard.iter().enumerate() {
        let seqs: Vec<u64> = got.iter().map(|h| h.0).collect();
        assert_eq!(seqs, (0..10).collect::<Vec<u64>>(), "peer {i}: one heartbeat per interval, in order");
    }
    // The second group's heartbeat of each slot left 50 ms after the first's (sent_ns,
    // stamped as each group is sent): never early in any slot, and on time in the median
    // slot within the send lateness of a loaded machine. A single slot may be late by what
    // the machine's load does to a thread (66.8 ms once, with the whole suite running on two
    // cores): a wall-clock bound on each slot would test the machine, not the schedule.
    let mut phases: Vec<i64> = heard[0].iter().zip(&heard[40]).map(|(a, b)| b.1 as i64 - a.1 as i64).collect();
    for (slot, phase) in phases.iter().enumerate() {
        assert!(*phase >= 45_000_000, "slot {slot}: the second group only {phase} ns after the first");
    }
    phases.sort_unstable();
    let median = phases[phases.len() / 2];
    assert!((45_000_000..60_000_000).contains(&median), "the second group {median} ns after the first (median)");
    assert_eq!(sandbox.leftovers(), Vec::<i32>::new());
}

/// Ctrl-C in the middle of a live run: exit 130, no node left, no results directory.
#[test]
fn an_interrupted_live_run_leaves_nothing_behind() {
    let sandbox = Sandbox::new();
    let out = sandbox.path().join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fdlab"))
        .args(["live", arg(&experiments().join("live-smoke.toml")), "--no-charts", "--out", arg(&out)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the three nodes run.
    for _ in 0..100 {
        if processes_mentioning(arg(sandbox.path())).len() >= 4 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(processes_mentioning(arg(sandbox.path())).len() >= 4, "the orchestrator and three nodes");
    std::thread::sleep(std::time::Duration::from_millis(500));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert_eq!(sandbox.leftovers(), Vec::<i32>::new());
    assert!(!out.exists());
    let entries: Vec<PathBuf> = std::fs::read_dir(sandbox.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(entries.is_empty(), "left behind: {entries:?}");
}

/// What live mode cannot honour is refused by name before anything starts.
#[test]
fn fields_live_mode_cannot_honour_are_refused_by_name() {
    let sandbox = Sandbox::new();
    let base = std::fs::read_to_string(experiments().join("live-smoke.toml")).unwrap();
    for (change, field) in [
        (base.replace("node = \"b\"\n", "node = \"b\"\nwhat = \"sender\"\n"), "faults[0].what"),
        (base.clone() + "\n[engine]\nresume_order = \"datagrams-first\"\n", "engine.resume_order"),
        (
            base.clone()
                + "\n[[workloads]]\nname = \"w\"\nclient = \"a\"\nserver = \"b\"\nprotocol = \"stubborn\"\nevery = \"1s\"\n",
            "workloads",
        ),
        (base.clone() + "\n[two_generals]\np = 0.1\nmax_depth = 3\ntrials = 100\n", "two_generals"),
    ] {
        let path = write(sandbox.path(), "e.toml", &change);
        let o = common::fdlab(&["live", arg(&path), "--out", arg(&sandbox.path().join("out"))]);
        let err = common::stderr(&o);
        assert!(!o.status.success());
        assert!(err.contains(&format!("`{field}`")), "{field}: {err}");
        // Refused before the run is announced.
        assert!(!err.contains("running"), "{field}: {err}");
    }
    assert!(!sandbox.path().join("out").exists());
}

/// A node counts and drops every datagram that is not a valid heartbeat of its cluster
/// from a peer it watches, and with a key, forged and replayed ones too.
#[test]
fn a_node_rejects_garbage_forgeries_and_replays() {
    let sandbox = Sandbox::new();
    let key = b"the cluster's secret";
    let key_file = sandbox.path().join("key");
    std::fs::write(&key_file, key).unwrap();
    let out = sandbox.path().join("node");
    let mut node = Command::new(env!("CARGO_BIN_EXE_fdlab"))
        .args(["node", "--id", "a", "--monitor", "b", "--cluster", "9", "--duration", "3s", "--incarnation", "0"])
        .args(["--detector", "fixed:timeout=1s", "--key-file", arg(&key_file), "--out", arg(&out)])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(node.stdout.take().unwrap()), &mut line).unwrap();
    let addr: std::net::SocketAddr = line.trim().strip_prefix("listening ").unwrap().parse().unwrap();
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let hb = |seq: u64| Heartbeat { cluster: 9, sender: wire::node_id("b"), incarnation: 1, seq, sent_ns: 0 };
    let send = |bytes: &[u8]| socket.send_to(bytes, addr).unwrap();
    send(b"not a heartbeat at all");
    send(&wire::encode(&hb(0), Some(key))[..30]);
    send(&wire::encode(&Heartbeat { cluster: 8, ..hb(0) }, Some(key)));
    send(&wire::encode(&hb(0), None));
    send(&wire::encode(&hb(0), Some(b"a guess at the key")));
    send(&wire::encode(&Heartbeat { sender: wire::node_id("z"), ..hb(0) }, Some(key)));
    for seq in [1, 2, 1, 2] {
        send(&wire::encode(&hb(seq), Some(key)));
    }
    send(&wire::encode(&Heartbeat { incarnation: 0, ..hb(3) }, Some(key)));
    let status = node.wait().unwrap();
    assert!(status.success());
    let timing: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join(fdlab::live::node::timing_file(0))).unwrap()).unwrap();
    let rejected = &timing["rejected"];
    let count = |k: &str| rejected[k].as_u64().unwrap_or(0);
    assert_eq!(count("garbage"), 1);
    assert_eq!(count("truncated"), 1);
    assert_eq!(count("wrong-cluster"), 1);
    assert_eq!(count("unauthenticated"), 1);
    assert_eq!(count("bad-tag"), 1);
    assert_eq!(count("unknown-sender"), 1);
    assert_eq!(count("replayed"), 2);
    assert_eq!(count("stale-incarnation"), 1);
    assert_eq!(timing["accepted"], 2);
    // Only the two genuine heartbeats reached the trace.
    let trace = std::fs::read_to_string(out.join("trace.csv")).unwrap();
    assert_eq!(trace.lines().count(), 3, "{trace}");

    // Its files are its own: a second node into the same directory is refused, and a
    // restart (`--append`) continues them, after cutting off a half-written row, without
    // overwriting the first incarnation's counts.
    std::fs::write(out.join("trace.csv"), trace.clone() + "a,b,123").unwrap();
    let node = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_fdlab"))
            .args(["node", "--id", "a", "--monitor", "b", "--cluster", "9", "--duration", "300ms"])
            .args(["--incarnation", "0", "--detector", "fixed:timeout=1s", "--out", arg(&out)])
            .args(extra)
            .stdout(Stdio::null())
            .output()
            .unwrap()
    };
    let refused = node(&[]);
    assert!(!refused.status.success());
    assert!(common::stderr(&refused).contains("trace.csv: already exists"), "{}", common::stderr(&refused));
    assert!(node(&["--append"]).status.success());
    assert_eq!(std::fs::read_to_string(out.join("trace.csv")).unwrap(), trace, "the half row is gone, no header again");
    let first: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("timing-0.json")).unwrap()).unwrap();
    assert_eq!(first["accepted"], 2, "the first run's counts are kept");
    let second: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("timing-0-1.json")).unwrap()).unwrap();
    assert_eq!(second["accepted"], 0);
    // A file of the user's is never continued (cutting its "half row" off would lose it), and
    // neither file is touched when one is not a node's.
    let theirs = "my notes, without a final newline";
    std::fs::write(out.join("transitions.csv"), theirs).unwrap();
    let refused = node(&["--append"]);
    assert!(!refused.status.success());
    let err = common::stderr(&refused);
    assert!(err.contains("transitions.csv: not a file a node wrote"), "{err}");
    assert_eq!(std::fs::read_to_string(out.join("transitions.csv")).unwrap(), theirs);
    assert_eq!(std::fs::read_to_string(out.join("trace.csv")).unwrap(), trace);
    // A node killed while writing the header left a beginning of it: continued.
    std::fs::write(out.join("transitions.csv"), &fdlab::live::node::TRANSITIONS_HEADER[..7]).unwrap();
    assert!(node(&["--append"]).status.success());
    assert_eq!(std::fs::read_to_string(out.join("transitions.csv")).unwrap(), fdlab::live::node::TRANSITIONS_HEADER);
    // One configuration given twice would write every transition twice under one label.
    let twice = node(&["--append", "--detector", "fixed:timeout=1000ms"]);
    assert!(!twice.status.success());
    let err = common::stderr(&twice);
    assert!(err.contains("`fixed:timeout=1s` is the same configuration as --detector number 1"), "{err}");
    assert_eq!(sandbox.leftovers(), Vec::<i32>::new());
}

/// `fdlab node` refuses, before it binds or writes anything, peers it could never reach or
/// that make no sense, and an epoch that is wall-clock time rather than a monotonic reading.
#[test]
fn a_node_refuses_peers_it_cannot_reach_and_an_epoch_far_ahead() {
    let sandbox = Sandbox::new();
    let out = sandbox.path().join("n");
    let node = |extra: &[&str]| {
        let o = common::fdlab(
            &[&["node", "--id", "a", "-d", "fixed:timeout=300ms", "--duration", "300ms", "--out", arg(&out)], extra]
                .concat(),
        );
        assert!(!o.status.success(), "{extra:?}");
        common::stderr(&o)
    };
    for (extra, says) in [
        (vec!["--peer", "b=10.1.2.3:7000"], "--peer b=10.1.2.3:7000: not reachable from --listen 127.0.0.1:0"),
        (vec!["--peer", "b=[::1]:9"], "--peer b=[::1]:9: an IPv6 address, and --listen 127.0.0.1:0 is IPv4"),
        (vec!["--peer", "a=127.0.0.1:9"], "--peer a=127.0.0.1:9: that is this node's own --id"),
        (
            vec!["--peer", "b=127.0.0.1:9", "--peer", "b=127.0.0.1:10"],
            "--peer b=127.0.0.1:10: `b` is given twice (also at 127.0.0.1:9)",
        ),
        (
            vec!["--peer", "b=127.0.0.1:9", "--epoch-ns", "1764800000000000000"],
            "ahead of this machine's CLOCK_MONOTONIC",
        ),
    ] {
        let err = node(&extra);
        assert!(err.contains(says), "{extra:?}: {err}");
    }
    assert!(!out.exists(), "nothing written for a refused node");
}
