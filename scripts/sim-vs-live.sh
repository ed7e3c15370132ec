#!/usr/bin/env bash
# Runs experiments/live/sim-vs-live.toml in the simulator and live (3 minutes of real time)
# and compares them (scripts/compare-engines.py: delay quantiles with block-bootstrap
# intervals, loss rate, detection time over 30+ crashes, mistake counts). Keeps the
# comparison and both summaries in results/sim-vs-live/.
#
#   scripts/sim-vs-live.sh [EXPERIMENT.toml]
set -euo pipefail
cd "$(dirname "$0")/.."
exp=${1:-experiments/live/sim-vs-live.toml}
cargo build --release --quiet
fdlab=${CARGO_TARGET_DIR:-target}/release/fdlab
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$fdlab" run "$exp" --trace --no-charts --out "$work/sim" >/dev/null
"$fdlab" live "$exp" --no-charts --out "$work/live" >/dev/null
out=results/sim-vs-live
mkdir -p "$out"
cp "$work/sim/summary.json" "$out/sim-summary.json"
cp "$work/live/summary.json" "$out/live-summary.json"
python3 scripts/compare-engines.py "$work/sim" "$work/live" --out "$out"
