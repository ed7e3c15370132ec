#!/usr/bin/env bash
# What cluster views cost (docs/split-brain.md, "Cost"): 100 nodes all-to-all (9,900 links),
# 1 s heartbeats, one simulated hour, one φ configuration; the same run without `[cluster]`,
# with the two view rules, and with all three rules (the lease keeps every heartbeat).
# Prints wall time and peak memory of each, interleaved over ROUNDS rounds (default 2).
#
#   scripts/bench-cluster.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
nodes=$(for i in $(seq -w 1 100); do printf '[[nodes]]\nid = "n%s"\n' "$i"; done)
base="name = \"bench-cluster\"
seed = 1
duration = \"${DURATION:-1h}\"
detectors = [\"phi:threshold=8\"]
[defaults]
interval = \"1s\"
jitter = \"20ms\"
$nodes
[monitoring]
mode = \"all\"
[network]
delay = { dist = \"lognormal\", median = \"1ms\", sigma = 0.5 }
[network.loss]
model = \"gilbert-elliott\"
p = 0.01
r = 0.5
"
printf '%s' "$base" > "$work/none.toml"
printf '%s\n[cluster]\nrules = ["lowest-unsuspected", "majority"]\n' "$base" > "$work/views.toml"
printf '%s\n[cluster]\nrules = ["lowest-unsuspected", "majority", "lease"]\nlease = "4s"\nlease_margin = "1s"\n' "$base" > "$work/lease.toml"
for r in $(seq 1 "$rounds"); do
    for v in none views lease; do
        /usr/bin/time -f "$v round $r: %e s wall, %M KiB peak" \
            ./target/release/fdlab run "$work/$v.toml" --out "$work/out-$v-$r" --allow-large >/dev/null 2>"$work/err"
        tail -n 1 "$work/err"
    done
done
