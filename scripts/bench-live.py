#!/usr/bin/env python3
"""Live-mode benchmark: how precisely `fdlab node` keeps its heartbeat schedule, and how
many peers one node can serve.

    python3 scripts/bench-live.py [--fdlab target/release/fdlab] [--seconds 10] [--peers 1000] [--spread]

1. Send lateness (how long after its slot's deadline each heartbeat left) at 100 Hz and
   1 kHz, one peer.
2. One node at 10 Hz sending to and watching K peers (K = 10 ... 4000): this script plays
   the K peers (`fdlab bench-peers`: valid heartbeats, docs/live.md) and sinks what the
   node sends. Reports send lateness p50/p99/max, the node's CPU time per peer, and the largest K
   whose p99 stays under 1 ms. With --spread the node spreads its peers' heartbeats over
   the interval (`fdlab node --spread`: groups of 32 peers, each group at its own phase);
   without it every peer's heartbeat is due at the slot's one deadline (sent with
   sendmmsg, 64 a call).

Numbers depend on the machine and on what else runs: compare runs made together. The
node asks for the real-time scheduling class (it has it as root); the JSON says whether it
got it.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time


def quantile(buckets, q):
    total = sum(c for _, c in buckets)
    if total == 0:
        return None
    need = q * total
    seen = 0
    for value, count in buckets:
        seen += count
        if seen >= need:
            return value
    return buckets[-1][0]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_node(fdlab, interval, peers, seconds, workdir, spread=False):
    """Starts a node sending every `interval` to `peers` fake peers and watching them;
    plays the peers; returns (timing json, cpu seconds)."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.settimeout(0.2)
    sink_addr = "127.0.0.1:%d" % sink.getsockname()[1]
    names = ["p%d" % i for i in range(peers)]  # the names `fdlab bench-peers` plays
    out = tempfile.mkdtemp(dir=workdir)
    args = [fdlab, "node", "--id", "bench", "--interval", interval, "--duration", "%ds" % seconds,
            "--incarnation", "0", "--detector", "fixed:timeout=1s", "--out", out]
    if spread:
        args.append("--spread")
    for n in names:
        args += ["--peer", "%s=%s" % (n, sink_addr)]
    # Long argument lists go through a response of the shell's limits: fine up to ~10^4 peers.
    node = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = node.stdout.readline().decode()
    addr = line.strip().split(" ", 1)[1]
    stop = threading.Event()

    def drain():
        while not stop.is_set():
            try:
                sink.recv(2048)
            except socket.timeout:
                pass

    def play():
        subprocess.run([fdlab, "bench-peers", "--target", addr, "--peers", str(peers), "--interval", "100ms",
                        "--duration", "%ds" % seconds], stdout=subprocess.DEVNULL, check=True)

    threads = [threading.Thread(target=drain, daemon=True), threading.Thread(target=play, daemon=True)]
    for t in threads:
        t.start()
    cpu = 0.0
    while node.poll() is None:
        try:
            cpu = cpu_seconds(node.pid)
        except OSError:
            pass
        time.sleep(0.2)
    stop.set()
    with open(os.path.join(out, "timing-0.json")) as f:
        timing = json.load(f)
    return timing, cpu


def describe(timing):
    b = timing["send_lateness"]["buckets"]
    return {
        "sent": timing["sent"],
        "accepted": timing["accepted"],
        "realtime": timing["realtime"],
        "send_lateness_us": {
            "p50": quantile(b, 0.5) / 1e3,
            "p99": quantile(b, 0.99) / 1e3,
            "max": b[-1][0] / 1e3,
        },
    }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--fdlab", default="target/release/fdlab")
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--peers", default="10,100,1000,2000,4000")
    p.add_argument("--spread", action="store_true", help="the node spreads its peers over the interval")
    p.add_argument("--no-rates", action="store_true", help="skip the 100 Hz and 1 kHz runs")
    a = p.parse_args()
    report = {"machine": os.uname().nodename, "cores": os.cpu_count(), "seconds": a.seconds, "spread": a.spread,
              "load_average": os.getloadavg(), "rates": {}, "peers": []}
    with tempfile.TemporaryDirectory() as work:
        for interval, name in [] if a.no_rates else [("10ms", "100 Hz"), ("1ms", "1 kHz")]:
            timing, _ = run_node(a.fdlab, interval, 1, a.seconds, work)
            report["rates"][name] = describe(timing)
            print(name, json.dumps(report["rates"][name]), file=sys.stderr)
        best = 0
        for k in [int(x) for x in a.peers.split(",")]:
            timing, cpu = run_node(a.fdlab, "100ms", k, a.seconds, work, a.spread)
            d = describe(timing)
            d["peers"] = k
            d["cpu_s"] = cpu
            d["cpu_us_per_peer_per_s"] = cpu / k / a.seconds * 1e6
            report["peers"].append(d)
            print(k, "peers", json.dumps(d), file=sys.stderr)
            if d["send_lateness_us"]["p99"] <= 1000:
                best = max(best, k)
        report["most_peers_with_p99_under_1ms"] = best
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
