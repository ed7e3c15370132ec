#!/usr/bin/env bash
# Regenerates the committed results shown in README.md: the quickstart and the threshold
# sweep (summary, percentile files, charts, report.html), and a screenshot of the
# quickstart's report taken by headless Chromium when it is installed.
#
#   scripts/regenerate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked
for experiment in quickstart sweep; do
    ./target/release/fdlab run "experiments/$experiment.toml" --out "results/$experiment"
done
if command -v chromium >/dev/null; then
    report="$PWD/results/quickstart/report.html"
    profile=$(mktemp -d)
    chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
        --disable-component-update --disable-sync --user-data-dir="$profile" --hide-scrollbars \
        --window-size=1280,2600 --virtual-time-budget=10000 \
        --screenshot="results/screenshots/quickstart-report.png" "file://$report" 2>/dev/null
    rm -rf "$profile"
fi
