//! Network namespaces for `fdlab live --netns`: each node process runs in a network
//! namespace of its own, joined to the orchestrator's (the root namespace, where the relay
//! runs) by a veth pair, so that its heartbeats cross a real network interface and a real
//! routing step instead of the loopback device.
//!
//! Layout of a run by orchestrator pid P with nodes 0..n: namespace `fdlab-P-i`; veth pair
//! `fdlPvi` (root side, address 10.A.B.(4i+1)/30) and `eth0` (inside, 10.A.B.(4i+2)/30,
//! default route via the root side), with 10.A.B.0/24 a block no interface on the machine
//! uses yet. The relay binds 0.0.0.0 in the root namespace; node i sends to its own
//! gateway 10.A.B.(4i+1), which is the root namespace, where the relay's sockets are.
//!
//! Everything is made and removed with `ip` (iproute2) through `std::process`: it is what a
//! user would type, needs no crate, and its errors are readable. Cleanup: [`Namespaces`]
//! removes what it made when dropped (normal end, an error, a node that died); the signal
//! handler of `fdlab live` calls [`remove_all`] (Ctrl-C, SIGTERM, SIGHUP); and a run removes
//! the namespaces of earlier runs whose orchestrator is gone (killed with SIGKILL, which
//! nothing can catch) before it makes its own.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("--netns needs root (network namespaces and veth pairs are made with `ip`); this process's uid is {uid}")]
    NotRoot { uid: u32 },
    #[error("--netns needs iproute2's `ip` with network namespaces: `ip netns list` {message}")]
    Unavailable { message: String },
    #[error("--netns: `ip {args}` failed: {message}")]
    Command { args: String, message: String },
    #[error("--netns: no free 10.x.y.0/24 block for the nodes' addresses")]
    NoAddresses,
}

/// The namespaces of this process's run and their veth pairs' root sides, by name, for
/// [`remove_all`].
static MADE: Mutex<BTreeSet<(String, String)>> = Mutex::new(BTreeSet::new());

fn made() -> std::sync::MutexGuard<'static, BTreeSet<(String, String)>> {
    MADE.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs `ip ARGS`; its stderr is the error.
fn ip(args: &[&str]) -> Result<String, NetnsError> {
    let fail = |message: String| NetnsError::Command { args: args.join(" "), message };
    let out = Command::new("ip").args(args).output().map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        return Err(fail(String::from_utf8_lossy(&out.stderr).trim().to_string()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether network namespaces can be made here: root, and an `ip` that lists them.
pub fn available() -> Result<(), NetnsError> {
    let uid = nix::unistd::geteuid().as_raw();
    if uid != 0 {
        return Err(NetnsError::NotRoot { uid });
    }
    match Command::new("ip").args(["netns", "list"]).output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(NetnsError::Unavailable { message: String::from_utf8_lossy(&o.stderr).trim().to_string() }),
        Err(e) => Err(NetnsError::Unavailable { message: format!("could not run: {e}") }),
    }
}

/// The names of the namespaces that exist now.
pub fn list() -> Vec<String> {
    ip(&["netns", "list"])
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// The prefix of the namespaces of the run whose orchestrator has pid `pid`.
pub fn prefix(pid: u32) -> String {
    format!("fdlab-{pid}-")
}

/// Removes the namespaces of earlier runs whose orchestrator is no longer running (their
/// veth pairs go with them).
fn remove_orphans() {
    for name in list() {
        let Some(pid) =
            name.strip_prefix("fdlab-").and_then(|r| r.split('-').next()).and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = ip(&["netns", "delete", &name]);
        }
    }
}

/// One node's place: the namespace to run it in and its address there.
#[derive(Clone, Debug)]
pub struct Place {
    pub namespace: String,
    /// The node's address inside its namespace.
    pub addr: Ipv4Addr,
    /// The root side of its veth pair: where it reaches the relay.
    pub gateway: Ipv4Addr,
    /// The root side's name.
    pub veth: String,
}

/// The namespaces of one run; dropping it removes them.
#[derive(Debug)]
pub struct Namespaces {
    pub places: Vec<Place>,
}

impl Namespaces {
    /// Makes one namespace per node (after removing orphans of killed runs); on an error,
    /// what was made is removed again.
    pub fn make(nodes: usize) -> Result<Namespaces, NetnsError> {
        available()?;
        remove_orphans();
        let pid = std::process::id();
        let block = free_block(pid)?;
        let mut made = Namespaces { places: Vec::new() };
        for i in 0..nodes {
            let namespace = format!("{}{i}", prefix(pid));
            let veth = format!("fdl{pid}v{i}");
            let base = u32::from(block) + 4 * i as u32;
            let (gateway, addr) = (Ipv4Addr::from(base + 1), Ipv4Addr::from(base + 2));
            ip(&["netns", "add", &namespace])?;
            self::made().insert((namespace.clone(), veth.clone()));
            made.places.push(Place { namespace: namespace.clone(), addr, gateway, veth: veth.clone() });
            let ns = namespace.as_str();
            ip(&["link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", ns])?;
            ip(&["addr", "add", &format!("{gateway}/30"), "dev", &veth])?;
            ip(&["link", "set", &veth, "up"])?;
            ip(&["-n", ns, "addr", "add", &format!("{addr}/30"), "dev", "eth0"])?;
            ip(&["-n", ns, "link", "set", "eth0", "up"])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            ip(&["-n", ns, "route", "add", "default", "via", &gateway.to_string()])?;
        }
        Ok(made)
    }

    /// A command that runs `program` in node `i`'s namespace.
    pub fn command(&self, i: usize, program: &std::path::Path) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.places[i].namespace]).arg(program);
        cmd
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for p in &self.places {
            remove(&p.namespace, &p.veth);
        }
    }
}

/// Deletes a node's veth pair at once (the kernel would remove it with the namespace, but
/// only once the namespace's last process is gone), then the namespace.
fn remove(namespace: &str, veth: &str) {
    let _ = ip(&["link", "delete", veth]);
    let _ = ip(&["netns", "delete", namespace]);
    made().remove(&(namespace.to_string(), veth.to_string()));
}

/// Removes every namespace this process made and has not removed (the signal handler's
/// cleanup, after the nodes are killed).
pub fn remove_all() {
    let names: Vec<(String, String)> = made().iter().cloned().collect();
    for (namespace, veth) in names {
        remove(&namespace, &veth);
    }
}

/// A 10.A.B.0/24 block for the run: chosen from the orchestrator's pid (so that concurrent
/// runs differ) and skipped while any address or route on the machine is in it.
fn free_block(pid: u32) -> Result<Ipv4Addr, NetnsError> {
    let taken = ip(&["-4", "route", "show", "table", "all"])? + &ip(&["-4", "-o", "addr", "show"])?;
    let start = pid % (64 * 256);
    for k in 0..64 * 256 {
        let n = (start + k) % (64 * 256);
        let (a, b) = (128 + n / 256, n % 256);
        let needle = format!(" 10.{a}.{b}.");
        let route = format!("\n10.{a}.{b}.");
        if !taken.contains(&needle) && !taken.contains(&route) && !taken.starts_with(&route[1..]) {
            return Ok(Ipv4Addr::new(10, a as u8, b as u8, 0));
        }
    }
    Err(NetnsError::NoAddresses)
}
