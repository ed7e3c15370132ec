#!/usr/bin/env bash
# Runs an experiment in N shards on this machine, JOBS at a time, with GNU parallel when it
# is installed and xargs -P otherwise, then merges them: the results are byte for byte those
# of `fdlab run EXP` done whole (tests/shard.rs). The same commands spread over machines:
# run each `fdlab run --shard I/N` anywhere, copy the shard directories together, merge.
#
#   scripts/shard/local.sh EXP.toml N [JOBS] [OUT] [-- extra run arguments, e.g. --replications 20]
#
# Shards go to OUT.shards/I-of-N (kept for a re-merge; delete them afterwards), the merge to
# OUT (default results/<experiment file stem>). FDLAB points to the binary (default: the
# release build under $CARGO_TARGET_DIR or target/).
set -euo pipefail
if [ "$#" -lt 2 ]; then
    sed -n '2,12p' "$0" >&2
    exit 2
fi
exp=$1 n=$2
shift 2
jobs=2
out=""
if [ "$#" -gt 0 ] && [ "$1" != "--" ]; then jobs=$1; shift; fi
if [ "$#" -gt 0 ] && [ "$1" != "--" ]; then out=$1; shift; fi
if [ "$#" -gt 0 ] && [ "$1" = "--" ]; then shift; fi
out=${out:-results/$(basename "$exp" .toml)}
fdlab=${FDLAB:-"${CARGO_TARGET_DIR:-target}/release/fdlab"}
shards="$out.shards"
mkdir -p "$shards"
# Each shard: one process, one thread (JOBS processes share the machine's cores).
run_one() {
    "$fdlab" run "$exp" --shard "$1/$n" --threads 1 --out "$shards/$1-of-$n" "${@:2}"
}
export -f run_one
export fdlab exp n shards
if command -v parallel >/dev/null; then
    seq 0 $((n - 1)) | parallel --halt now,fail=1 -j "$jobs" run_one {} "$@"
else
    seq 0 $((n - 1)) | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {} "$@"
fi
dirs=()
for ((i = 0; i < n; i++)); do dirs+=("$shards/$i-of-$n"); done
"$fdlab" merge "${dirs[@]}" --out "$out" --no-charts
