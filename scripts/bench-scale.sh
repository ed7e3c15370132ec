#!/usr/bin/env bash
# The scale benchmarks of README "Performance" (issue #18): one simulated day of 100 nodes
# all watching each other (9,900 links, 1 s heartbeats, one φ), and one simulated day of
# 1,000 nodes each watched by a ring of 9 (Akka's `monitored-by-nr-of-members`, 9,000 links).
# Prints wall time and peak memory of each. With OLD=path/to/an/older/fdlab, runs it too,
# interleaved, so that the two are compared in one run on a shared machine.
#
#   scripts/bench-scale.sh [DURATION]        (default 1d)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-1d}
cargo build --release --quiet
new=$(pwd)/target/release/fdlab
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
experiment() { # NAME NODES MODE
    printf 'name = "%s"\nseed = 1\nduration = "%s"\ndetectors = ["phi:threshold=8"]\n' "$1" "$duration"
    printf '[defaults]\ninterval = "1s"\njitter = "20ms"\n'
    printf '[monitoring]\n%s\n' "$3"
    printf '[network]\ndelay = { dist = "lognormal", median = "1ms", sigma = 0.5 }\n'
    printf '[network.loss]\nmodel = "gilbert-elliott"\np = 0.01\nr = 0.5\n'
    for i in $(seq -w 1 "$2"); do printf '[[nodes]]\nid = "n%s"\n' "$i"; done
}
experiment all-100 100 'mode = "all"' > "$work/all-100.toml"
experiment ring-1000 1000 $'mode = "ring"\nk = 9' > "$work/ring-1000.toml"
for e in all-100 ring-1000; do
    for b in ${OLD:+old} new; do
        bin=$new
        [ "$b" = old ] && bin=$OLD
        /usr/bin/time -f "$e $duration ($b): %e s wall, %M KiB peak" \
            "$bin" run "$work/$e.toml" --out "$work/out-$e-$b" --allow-large --no-charts >/dev/null 2>"$work/err"
        tail -n 1 "$work/err"
        rm -rf "$work/out-$e-$b"
    done
done
