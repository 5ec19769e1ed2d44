#!/usr/bin/env bash
# The peer comparison, start to finish: criterion benches of nnkern and its Rust peers at 1
# and 2 threads, PyTorch and numpy on the same cases, REPEAT times (default 2; the report keeps
# each case's fastest median, for every implementation alike), then compare/REPORT.md and
# compare/report.png. Extra arguments go to criterion (a filter, say). Needs python3 with
# numpy (and PyTorch, matplotlib for their parts); about 15 minutes a repetition on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
THREADS=${THREADS:-1 2}
export CRITERION_HOME="$PWD/target/compare-criterion"
mkdir -p compare/results
rm -f compare/results/rust*.json compare/results/python*.json
for rep in $(seq "${REPEAT:-2}"); do
    rm -rf "$CRITERION_HOME"
    for t in $THREADS; do
        RAYON_NUM_THREADS=$t cargo bench -p nnkern-compare --bench peers -- "$@"
    done
    "$PY" compare/report.py extract "$CRITERION_HOME" "compare/results/rust-$rep.json"
    "$PY" compare/torch_numpy.py --threads "$(echo $THREADS | tr ' ' ,)" \
        --out "compare/results/python-$rep.json"
done
"$PY" compare/report.py
