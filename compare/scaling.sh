#!/usr/bin/env bash
# Thread scaling of the large cases: the peer bench (nnkern, candle, the gemm crate) and
# PyTorch/numpy at each thread count in THREADS, written to compare/results/scaling-NAME.json
# for compare/report.py.
#   compare/scaling.sh NAME                 # builds the bench with cargo
#   PEERS_BIN=path/to/peers compare/scaling.sh NAME   # a bench binary built elsewhere
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=${1:?usage: compare/scaling.sh NAME}
THREADS=${THREADS:-1 2 4 8 16}
PY=${PYTHON:-python3}
OUTDIR=${OUTDIR:-compare/results}
OPS='(matmul_fwd|affine_sigmoid_fwd|affine_sigmoid_bwd|sigmoid_fwd|softmax_fwd|cross_entropy_fwd_bwd)'
SHAPES='(256x784x1024|1024x1024x1024|4096x512x10|64x4096x4096|16777216|1024x1000|4096x10)'
if [ -z "${PEERS_BIN:-}" ]; then
    cargo bench -p nnkern-compare --bench peers --no-run
    PEERS_BIN=$(ls -t target/release/deps/peers-* | grep -v '\.d$' | head -1)
fi
export CRITERION_HOME=${CRITERION_HOME:-/tmp/nnkern-scaling-criterion}
rm -rf "$CRITERION_HOME"
for t in $THREADS; do
    echo "== $t thread(s)" >&2
    RAYON_NUM_THREADS=$t "$PEERS_BIN" --bench "^${OPS}_${t}t/(nnkern|candle|gemm)/${SHAPES}\$" \
        --warm-up-time 0.1 --measurement-time 0.4 --sample-size 10 >/dev/null
done
mkdir -p "$OUTDIR"
"$PY" compare/report.py extract "$CRITERION_HOME" "$OUTDIR/scaling-rust-$NAME.json"
"$PY" compare/torch_numpy.py --threads "$(echo $THREADS | tr ' ' ,)" --budget 0.15 \
    --cases "^${OPS}/${SHAPES}\$" --out "$OUTDIR/scaling-python-$NAME.json"
"$PY" - "$OUTDIR" "$NAME" <<'PYEOF'
import json, sys
d, name = sys.argv[1], sys.argv[2]
r = json.load(open(f"{d}/scaling-rust-{name}.json"))
p = json.load(open(f"{d}/scaling-python-{name}.json"))
r["meta"].update({k: v for k, v in p["meta"].items() if k in ("numpy", "torch")})
json.dump({"meta": r["meta"], "records": r["records"] + p["records"]},
          open(f"{d}/scaling-{name}.json", "w"), indent=1)
PYEOF
rm "$OUTDIR/scaling-rust-$NAME.json" "$OUTDIR/scaling-python-$NAME.json"
echo "wrote $OUTDIR/scaling-$NAME.json" >&2
