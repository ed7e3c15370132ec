#!/usr/bin/env python3
"""Writes experiments/traces/demo.csv: 10 minutes of 100 ms heartbeats over a lossy,
jittery link (2 ms base delay, exponential jitter with a 3 ms mean, 2 % loss, one 1.5 s
stall at 300 s). Deterministic: the same file every time."""
import random
import sys

random.seed(42)
out = open(sys.argv[1] if len(sys.argv) > 1 else "experiments/traces/demo.csv", "w")
rows = []
for seq in range(6000):
    sent = seq * 100_000_000
    if random.random() < 0.02 or 300_000_000_000 <= sent < 301_500_000_000:
        continue
    received = sent + 2_000_000 + int(random.expovariate(1 / 3_000_000))
    rows.append((received, seq, sent))
rows.sort()
out.write("target,received_ns,seq,sent_ns\n")
for received, seq, sent in rows:
    out.write(f"node-b,{received},{seq},{sent}\n")
