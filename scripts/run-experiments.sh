#!/usr/bin/env bash
# Runs every experiment in experiments/ (the suite; experiments/bench/ holds benchmarks) and
# regenerates its results directory results/<name>/ (summary, percentile files, charts,
# report.html), then results/index.html, which lists every experiment with its question and
# answer and links its report, and a screenshot of the quickstart's report taken by headless
# Chromium when it is installed. Each experiment runs in under a minute here.
#
#   scripts/run-experiments.sh            # all of them
#   scripts/run-experiments.sh gc-pause   # some, by name (the index is rewritten anyway)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked
# Built where cargo builds: $CARGO_TARGET_DIR when set (a shared machine, a worktree).
fdlab="${CARGO_TARGET_DIR:-target}/release/fdlab"
if [ "$#" -gt 0 ]; then
    names=("$@")
else
    names=()
    for file in experiments/*.toml; do
        names+=("$(basename "$file" .toml)")
    done
fi
for name in "${names[@]}"; do
    echo "== $name" >&2
    "$fdlab" run "experiments/$name.toml" --out "results/$name" >/dev/null
done
"$fdlab" index --experiments experiments --results results
if command -v chromium >/dev/null; then
    report="$PWD/results/quickstart/report.html"
    profile=$(mktemp -d)
    chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
        --disable-component-update --disable-sync --user-data-dir="$profile" --hide-scrollbars \
        --window-size=1280,2600 --virtual-time-budget=10000 \
        --screenshot="results/screenshots/quickstart-report.png" "file://$report" 2>/dev/null
    rm -rf "$profile"
fi
