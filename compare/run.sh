#!/usr/bin/env bash
# The peer comparison, start to finish: criterion benches of nnkern and its Rust peers at 1
# and 2 threads, PyTorch and numpy on the same cases, then compare/REPORT.md and
# compare/report.png. Extra arguments go to criterion (a filter, say). Needs python3 with
# numpy (and PyTorch, matplotlib for their parts); about 25 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export CRITERION_HOME="$PWD/target/compare-criterion"
rm -rf "$CRITERION_HOME"
for t in ${THREADS:-1 2}; do
    RAYON_NUM_THREADS=$t cargo bench -p nnkern-compare --bench peers -- "$@"
done
mkdir -p compare/results
"$PY" compare/report.py extract "$CRITERION_HOME" compare/results/rust.json
"$PY" compare/torch_numpy.py --threads "$(echo ${THREADS:-1 2} | tr ' ' ,)" --out compare/results/python.json
"$PY" compare/report.py
