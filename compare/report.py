#!/usr/bin/env python3
"""Turns the peer comparison's figures into compare/REPORT.md and compare/report.png.

    python3 compare/report.py extract CRITERION_DIR OUT.json   # criterion results -> records
    python3 compare/report.py                                  # records -> REPORT.md + PNG

Records are {"op", "shape", "threads", "impl", "median_ns"}; criterion's come from the
`peers` bench (groups `{op}_{T}t`, functions = implementations, parameters = shapes), the
Python ones from compare/torch_numpy.py. Ratios are speed ratios: a peer's median time divided
by nnkern's, so above 1.0 nnkern is faster. Thread scaling comes from the same records at
several thread counts; compare/results/scaling-*.json, where present, hold runs on a larger
machine.
"""
import glob
import json
import os
import re
import subprocess
import sys
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from torch_numpy import cpu_name  # noqa: E402  (one definition of the machine's name)
RES = os.path.join(HERE, "results")

OPS = [
    ("matmul_fwd", "MatMul forward: y = x·W"),
    ("matmul_bwd", "MatMul backward: dx = dy·Wᵀ, dW = xᵀ·dy"),
    ("affine_sigmoid_fwd", "Affine + sigmoid forward: y = σ(x·W + b)"),
    ("affine_sigmoid_bwd", "Affine + sigmoid backward: dz = dy·y(1−y), dx, dW, db"),
    ("exp", "exp, elementwise"),
    ("sigmoid_fwd", "Sigmoid forward, elementwise"),
    ("sigmoid_bwd", "Sigmoid backward: dx = dy·y(1−y)"),
    ("silu_fwd", "SiLU forward: y = x·σ(x)"),
    ("silu_bwd", "SiLU backward from x"),
    ("gelu_fwd", "GELU (exact, erf form) forward"),
    ("gelu_bwd", "GELU (exact) backward from x"),
    ("gelu_tanh_fwd", "GELU (tanh form) forward"),
    ("gelu_tanh_bwd", "GELU (tanh form) backward from x"),
    ("leaky_relu_fwd", "LeakyReLU(0.01) forward"),
    ("leaky_relu_bwd", "LeakyReLU(0.01) backward from x"),
    ("softmax_fwd", "Softmax forward, by rows (N×C)"),
    ("softmax_bwd", "Softmax backward, by rows (N×C)"),
    ("cross_entropy_fwd_bwd", "Softmax-with-loss: mean cross-entropy and d logits (N×C)"),
    ("ln", "ln, elementwise"),
    ("ln_1p", "ln(1 + x), elementwise"),
    ("cross_entropy_probs_fwd_bwd",
     "Softmax-with-loss, probability targets: mean cross-entropy and d logits (N×C)"),
    ("ce_on_probs_fwd_bwd", "Cross-entropy on probabilities −Σt·ln p / N, and d p (N×C)"),
    ("cross_entropy_smooth_fwd_bwd",
     "Softmax-with-loss, label smoothing 0.1: mean cross-entropy and d logits (N×C)"),
    ("bce_logits_fwd_bwd", "Binary cross-entropy on logits (mean over N·C) and d logits"),
    ("copy", "Copy y = x (the memory bandwidth: no nnkern row)"),
]
# The machine's FMA peak of the same run (group `fma_peak_{T}t`, shape `{isa}:{FLOP per
# call}`), and the floating-point operations of each GEMM op per N·D·H: a product is 2, the
# backward's two products (dx and dW) 4; the elementwise work beside them is not counted.
PEAK = "fma_peak"
GEMM_FLOP = {"matmul_fwd": 2, "matmul_bwd": 4, "affine_sigmoid_fwd": 2, "affine_sigmoid_bwd": 4}
# Memory-bound kernels set beside the copy of the same run: the bytes each moves, in copies
# (y = f(x) reads and writes one array each, as a copy does; a backward reads two).
COPY_BYTES = {"exp": 1.0, "sigmoid_fwd": 1.0, "ln": 1.0, "ln_1p": 1.0, "silu_fwd": 1.0,
              "gelu_fwd": 1.0, "gelu_tanh_fwd": 1.0, "leaky_relu_fwd": 1.0,
              "sigmoid_bwd": 1.5, "silu_bwd": 1.5, "gelu_bwd": 1.5, "gelu_tanh_bwd": 1.5,
              "leaky_relu_bwd": 1.5}
OURS = "nnkern"
OURS_GEMM = "nnkern_gemm"
IMPLS = [OURS, OURS_GEMM, "candle", "ndarray", "gemm", "matrixmultiply", "rten_vecmath",
         "numpy", "torch", "memcpy"]
LABEL = {OURS: "nnkern", OURS_GEMM: "nnkern (gemm engine)", "rten_vecmath": "rten-vecmath"}
# Cases where thread scaling is reported: large enough for threads to matter.
LARGE = {"256x784x1024", "1024x1024x1024", "4096x512x10", "64x4096x4096", "16777216",
         "262144", "1024x1000", "4096x10"}


def extract(crit_dir, out):
    """Reads criterion's per-benchmark results into records."""
    recs = []
    pat = re.compile(r"^(%s)_(\d+)t$" % "|".join([op for op, _ in OPS] + [PEAK]))
    for bj in glob.glob(os.path.join(crit_dir, "*", "*", "*", "new", "benchmark.json")):
        with open(bj) as fh:
            b = json.load(fh)
        m = pat.match(b["group_id"])
        if not m:
            continue
        with open(os.path.join(os.path.dirname(bj), "estimates.json")) as fh:
            est = json.load(fh)
        recs.append({"op": m.group(1), "shape": b["value_str"], "threads": int(m.group(2)),
                     "impl": b["function_id"], "median_ns": est["median"]["point_estimate"]})
    recs.sort(key=lambda r: (r["op"], r["shape"], r["threads"], r["impl"]))
    meta = {"cpu": cpu_name(), "cores": os.cpu_count(), "crates": crate_versions(),
            "nnkern_rev": git_rev()}
    with open(out, "w") as fh:
        json.dump({"meta": meta, "records": recs}, fh, indent=1)
    print(f"wrote {len(recs)} figures to {out}", file=sys.stderr)


def crate_versions():
    lock = os.path.join(HERE, "..", "Cargo.lock")
    want = {"candle-core", "candle-nn", "rten-vecmath", "ndarray", "gemm", "matrixmultiply"}
    out, name = {}, None
    try:
        with open(lock) as fh:
            for line in fh:
                if line.startswith("name = "):
                    name = line.split('"')[1]
                elif line.startswith("version = ") and name in want:
                    out[name] = line.split('"')[1]
    except OSError:
        pass
    return out


def git_rev():
    try:
        return subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def load(path):
    if not os.path.exists(path):
        return {"meta": {}, "records": []}
    with open(path) as fh:
        return json.load(fh)


def load_runs(kind):
    """compare/results/{kind}.json and {kind}-*.json (repeated runs) merged: the fastest
    median of each case over the runs, the same rule for every implementation, so a burst of
    load from elsewhere on a shared machine in one run does not decide a row."""
    paths = sorted(glob.glob(os.path.join(RES, f"{kind}.json"))
                   + glob.glob(os.path.join(RES, f"{kind}-*.json")))
    best, meta = {}, {}
    for path in paths:
        d = load(path)
        meta = d["meta"] or meta
        for r in d["records"]:
            key = (r["op"], r["shape"], r["threads"], r["impl"])
            if key not in best or r["median_ns"] < best[key]["median_ns"]:
                best[key] = r
    if paths:
        meta = dict(meta, runs=len(paths))
    return {"meta": meta, "records": list(best.values())}


def fmt_t(ns):
    if ns is None:
        return ""
    if ns < 1e3:
        return f"{ns:.0f} ns"
    if ns < 1e6:
        return f"{ns / 1e3:.3g} µs"
    return f"{ns / 1e6:.3g} ms"


def fmt_r(r):
    if r is None:
        return ""
    s = f"{r:.2f}×"
    return s if r >= 1.0 else f"**{s}**"


# The order: layer shapes (tiny to large), vector lengths, row shapes.
SHAPES = ["100x2x10", "30x10x3", "256x784x1024", "1024x1024x1024", "4096x512x10",
          "64x4096x4096", "4096", "262144", "16777216", "1024x1000", "4096x10", "100x3"]


def shape_key(s):
    return (SHAPES.index(s) if s in SHAPES else len(SHAPES), s)


def table(recs):
    """{(op, shape, threads): {impl: ns}}"""
    t = defaultdict(dict)
    for r in recs:
        t[(r["op"], r["shape"], r["threads"])][r["impl"]] = r["median_ns"]
    return t


def peak_flops(tab, th):
    """(isa, FLOP/s) of the FMA peak measured at `th` threads, or None."""
    for (op, shape, t), row in tab.items():
        if op == PEAK and t == th and "machine" in row:
            isa, flop = shape.split(":")
            return isa, float(flop) / row["machine"] * 1e9
    return None


def frac_peak(tab, op, shape, th, ns):
    """A GEMM op's FLOP/s at `ns` as a fraction of the same run's peak at `th` threads."""
    pk = peak_flops(tab, th)
    if op not in GEMM_FLOP or pk is None or not ns:
        return None
    n, d, h = (int(v) for v in shape.split("x"))
    return GEMM_FLOP[op] * n * d * h / ns * 1e9 / pk[1]


def fmt_f(f):
    return "" if f is None else f"{f:.2f}"


def best_peer(row):
    peers = {k: v for k, v in row.items() if k not in (OURS, OURS_GEMM)}
    if not peers:
        return None, None
    k = min(peers, key=peers.get)
    return k, peers[k]


def ratios(tab):
    """Rows of (op, shape, threads, ours_ns, peer, peer_ns, ratio, ratio_gemm)."""
    out = []
    for (op, shape, th), row in tab.items():
        if OURS not in row:
            continue
        peer, pns = best_peer(row)
        if peer is None:
            continue
        rg = pns / row[OURS_GEMM] if OURS_GEMM in row else None
        out.append((op, shape, th, row[OURS], peer, pns, pns / row[OURS], rg))
    order = {op: i for i, (op, _) in enumerate(OPS)}
    out.sort(key=lambda r: (order[r[0]], r[2], shape_key(r[1])))
    return out


def write_md(tab, rows, meta, pymeta, scaling, md_path, png_name):
    L = []
    crates = meta.get("crates", {})
    L.append("# nnkern beside its peers\n")
    L.append(f"Machine: {meta.get('cpu', '?')}, {meta.get('cores', '?')} cores. nnkern "
             f"`{meta.get('nnkern_rev', '?')}`, f32, row-major, median times. Peers: "
             + ", ".join(f"{k} {v}" for k, v in sorted(crates.items()))
             + (f", numpy {pymeta['numpy']}" if "numpy" in pymeta else "")
             + (f", PyTorch {pymeta['torch']}" if "torch" in pymeta else "") + ".\n")
    L.append("Reproduce: `compare/run.sh` (criterion groups in `compare/benches/peers.rs` at "
             "RAYON_NUM_THREADS=1 and 2, then `compare/torch_numpy.py`, then this report; "
             f"{meta.get('runs', 1)} run(s), each case's fastest median kept, for every "
             "implementation alike). "
             "Ratio = best peer's time ÷ nnkern's time: above 1.0× nnkern is faster; "
             "**bold** rows are the gaps. nnkern is the default build (its own GEMM "
             "engine); where shown, *gemm engine* is the `gemm` feature's engine.\n")
    L.append(f"![ratios]({png_name})\n")
    n_ok = sum(1 for r in rows if r[6] >= 1.0)
    L.append(f"## Summary\n\n{n_ok} of {len(rows)} rows at ≥ 1.0× the best peer "
             "(default build).\n")
    gaps = [r for r in rows if r[6] < 1.0]
    if gaps:
        L.append("Gaps (nnkern slower than the best peer):\n")
        L.append("| op | shape | threads | nnkern | best peer | ratio | gemm engine ratio "
                 "| nnkern ÷ peak | best peer ÷ peak |")
        L.append("|---|---|---|---|---|---|---|---|---|")
        for op, shape, th, ours, peer, pns, r, rg in gaps:
            L.append(f"| {op} | {shape} | {th} | {fmt_t(ours)} | {LABEL.get(peer, peer)} "
                     f"{fmt_t(pns)} | {fmt_r(r)} | {fmt_r(rg)} "
                     f"| {fmt_f(frac_peak(tab, op, shape, th, ours))} "
                     f"| {fmt_f(frac_peak(tab, op, shape, th, pns))} |")
        L.append("")
    peaks = [(th, peak_flops(tab, th)) for th in sorted({k[2] for k in tab})]
    peaks = [(th, pk) for th, pk in peaks if pk]
    if peaks:
        L.append("## The machine's FMA peak\n")
        L.append("Independent FMA chains on the widest vector registers (`fma_peak` in "
                 "`compare/benches/peers.rs`, the chains of `benches/benchmarks/fma.rs`), in the "
                 "same run as every row: the GEMM tables' *÷ peak* columns are a product's "
                 "FLOP/s (2·N·D·H for a forward, 4·N·D·H for a backward's dx and dW) over this.\n")
        L.append("| threads | vectors | peak |")
        L.append("|---|---|---|")
        for th, (isa, f) in peaks:
            L.append(f"| {th} | {isa} | {f / 1e9:.1f} GFLOP/s |")
        L.append("")
    for op, title in OPS:
        keys = sorted((k for k in tab if k[0] == op), key=lambda k: (k[2], shape_key(k[1])))
        if not keys:
            continue
        impls = [i for i in IMPLS if any(i in tab[k] for k in keys)]
        has_g = OURS_GEMM in impls
        L.append(f"## {title}\n")
        head = ["shape", "threads"] + [LABEL.get(i, i) for i in impls] + ["vs best peer"]
        if has_g:
            head.append("gemm engine vs best")
        has_p = op in GEMM_FLOP and peaks
        if has_p:
            head += ["nnkern ÷ peak", "best peer ÷ peak"]
        L.append("| " + " | ".join(head) + " |")
        L.append("|" + "---|" * len(head))
        for k in keys:
            row = tab[k]
            _, pns = best_peer(row)
            cells = [k[1], str(k[2])] + [fmt_t(row.get(i)) for i in impls]
            cells.append(fmt_r(pns / row[OURS] if pns and OURS in row else None))
            if has_g:
                cells.append(fmt_r(pns / row[OURS_GEMM] if pns and OURS_GEMM in row else None))
            if has_p:
                cells.append(fmt_f(frac_peak(tab, op, k[1], k[2], row.get(OURS))))
                cells.append(fmt_f(frac_peak(tab, op, k[1], k[2], pns)))
            L.append("| " + " | ".join(cells) + " |")
        L.append("")
    big = "16777216"
    lines = []
    for op, _ in OPS:
        if op not in COPY_BYTES:
            continue
        for th in sorted({k[2] for k in tab if k[0] == op and k[1] == big}):
            ours = tab.get((op, big, th), {}).get(OURS)
            # the faster copy of the run (memcpy split over the threads, or PyTorch's copy_)
            cp = min(tab.get(("copy", big, th), {}).values(), default=None)
            if ours and cp:
                frac = COPY_BYTES[op] * cp / ours
                cell = f"{frac:.2f}" if frac >= 0.9 else f"**{frac:.2f}**"
                lines.append(f"| {op} | {th} | {fmt_t(ours)} | {fmt_t(cp)} | "
                             f"{COPY_BYTES[op]:g} | {cell} |")
    if lines:
        L.append("## Memory-bound kernels against the copy bandwidth\n")
        L.append(f"{big} elements (64 MiB per array, far beyond the caches). Fraction = the "
                 "bytes the kernel moves, in copies, × the copy's time ÷ nnkern's time: 1.0 "
                 "runs at the copy's bandwidth; **bold** below 0.9.\n")
        L.append("| op | threads | nnkern | copy (fastest) | bytes, in copies | fraction |")
        L.append("|---|---|---|---|---|---|")
        L.extend(lines)
        L.append("")
    L.append("## Thread scaling\n")
    L.append("Speed-up over one thread of the same implementation (median times), large cases. "
             "ndarray, matrixmultiply and rten-vecmath run on one thread whatever the "
             "setting, so they are left out.\n")
    for label, tab_s, m in scaling:
        ths = sorted({k[2] for k in tab_s})
        if len(ths) < 2:
            continue
        L.append(f"### {label}: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, nnkern "
                 f"`{m.get('nnkern_rev', '?')}`"
                 + (f", PyTorch {m['torch']}, numpy {m.get('numpy', '?')}" if "torch" in m else "")
                 + "\n")
        impls = [i for i in (OURS, OURS_GEMM, "candle", "gemm", "torch", "numpy")
                 if any(i in r for r in tab_s.values())]
        head = ["op", "shape", "impl"] + [f"{t}t" for t in ths]
        L.append("| " + " | ".join(head) + " |")
        L.append("|" + "---|" * len(head))
        order = {op: i for i, (op, _) in enumerate(OPS)}
        cases = sorted({(k[0], k[1]) for k in tab_s if k[1] in LARGE},
                       key=lambda c: (order[c[0]], shape_key(c[1])))
        for op, shape in cases:
            for i in impls:
                base = tab_s.get((op, shape, ths[0]), {}).get(i)
                if base is None:
                    continue
                cells = [op, shape, LABEL.get(i, i)]
                for t in ths:
                    v = tab_s.get((op, shape, t), {}).get(i)
                    cells.append(f"{base / v:.2f}× ({fmt_t(v)})" if v else "")
                L.append("| " + " | ".join(cells) + " |")
        L.append("")
    with open(md_path, "w") as fh:
        fh.write("\n".join(L))
    print(f"wrote {md_path}", file=sys.stderr)


def write_png(rows, scaling, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is missing: no PNG (pip install matplotlib)", file=sys.stderr)
        return
    big = [s for s in scaling if len({k[2] for k in s[1]}) > 2]
    ncols = 2 if big else 1
    fig, axes = plt.subplots(1, ncols, figsize=(15 if big else 10, max(8, 0.18 * len(rows))),
                             gridspec_kw={"width_ratios": [3, 2]} if big else None)
    ax = axes[0] if big else axes
    labels = [f"{op} {shape} {th}t" for op, shape, th, *_ in rows]
    vals = [r[6] for r in rows]
    colors = ["tab:green" if v >= 1.0 else "tab:red" for v in vals]
    y = range(len(rows))
    ax.barh(y, vals, color=colors, height=0.7)
    ax.set_xscale("log", base=2)
    ax.axvline(1.0, color="black", lw=1)
    ax.set_yticks(list(y))
    ax.set_yticklabels(labels, fontsize=6)
    ax.invert_yaxis()
    ax.set_xlabel("best peer's time ÷ nnkern's time (log scale; > 1: nnkern faster)")
    ax.set_title("nnkern vs the fastest of candle, rten-vecmath, ndarray, gemm,\n"
                 "matrixmultiply, numpy and PyTorch (f32, 1 and 2 threads)")
    if big:
        label, tab_s, m = big[0]
        ax2 = axes[1]
        ths = sorted({k[2] for k in tab_s})
        for op, shape, impl, style in [
            ("matmul_fwd", "1024x1024x1024", OURS, "-o"),
            ("matmul_fwd", "1024x1024x1024", "torch", "--o"),
            ("affine_sigmoid_fwd", "256x784x1024", OURS, "-s"),
            ("affine_sigmoid_fwd", "256x784x1024", "torch", "--s"),
            ("affine_sigmoid_bwd", "256x784x1024", OURS, "-^"),
            ("affine_sigmoid_bwd", "256x784x1024", "torch", "--^"),
            ("sigmoid_fwd", "16777216", OURS, "-d"),
            ("sigmoid_fwd", "16777216", "torch", "--d"),
            ("cross_entropy_fwd_bwd", "1024x1000", OURS, "-v"),
            ("cross_entropy_fwd_bwd", "1024x1000", "torch", "--v"),
        ]:
            base = tab_s.get((op, shape, ths[0]), {}).get(impl)
            pts = [(t, base / tab_s[(op, shape, t)][impl]) for t in ths
                   if base and impl in tab_s.get((op, shape, t), {})]
            if pts:
                ax2.plot(*zip(*pts), style, label=f"{LABEL.get(impl, impl)} {op} {shape}")
        ax2.plot(ths, ths, ":", color="gray", label="linear")
        ax2.set_xscale("log", base=2)
        ax2.set_yscale("log", base=2)
        ax2.set_xlabel("threads")
        ax2.set_ylabel("speed-up over 1 thread")
        ax2.set_title(f"Thread scaling, {label}\n({m.get('cpu', '?')}, {m.get('cores', '?')} cores)")
        ax2.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}", file=sys.stderr)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "extract":
        extract(sys.argv[2], sys.argv[3])
        return
    rust, py = load_runs("rust"), load_runs("python")
    recs = rust["records"] + py["records"]
    if not recs:
        sys.exit("no figures in compare/results: run compare/run.sh first")
    tab = table(recs)
    scaling = [("this machine", tab, rust["meta"])]
    for path in sorted(glob.glob(os.path.join(RES, "scaling-*.json"))):
        d = json.load(open(path))
        name = os.path.basename(path)[len("scaling-"):-len(".json")]
        scaling.append((f"`{name}`", table(d["records"]), d["meta"]))
    rows = ratios(tab)
    write_md(tab, rows, rust["meta"], py["meta"], scaling, os.path.join(HERE, "REPORT.md"),
             "report.png")
    write_png(rows, scaling, os.path.join(HERE, "report.png"))


if __name__ == "__main__":
    main()
