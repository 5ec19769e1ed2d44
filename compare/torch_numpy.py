#!/usr/bin/env python3
"""Times PyTorch and numpy on the shapes of the peer comparison (compare/benches/peers.rs).

Writes one JSON file of records {"op", "shape", "threads", "impl", "median_ns"} in the same
terms as the criterion groups, for compare/report.py. Each thread count runs in its own child
process, because OpenBLAS reads its thread count when numpy is imported.

    python3 compare/torch_numpy.py --threads 1,2 --out compare/results/python.json

numpy: OPENBLAS_CORETYPE is removed from the children's environment, so OpenBLAS picks its
kernels for the CPU it finds (on Zen 4/5 its AVX-512 ones; a forced core type can hide them).
PyTorch: the aten kernels that autograd runs are called directly (sigmoid_backward,
_softmax_backward_data, nll_loss_backward, ...), with out= buffers where they exist, so the
figures are PyTorch's kernels without graph bookkeeping: the strongest PyTorch peer.
Either library may be missing; its rows are then left out.
"""
import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time

MATMUL = [(100, 2, 10), (30, 10, 3), (256, 784, 1024), (1024, 1024, 1024), (4096, 512, 10),
          (64, 4096, 4096)]
VECTORS = [4096, 262144, 16777216]
ROWS = [(1024, 1000), (4096, 10), (100, 3)]


def median_ns(f, budget_s):
    """Median time of one call of f, over up to 15 timed batches within about budget_s."""
    f()
    t0 = time.perf_counter_ns()
    f()
    one = max(time.perf_counter_ns() - t0, 1)
    batch = max(1, int(2e6 // one))  # batches of ~2 ms
    samples = max(5, min(15, int(budget_s * 1e9 // (one * batch))))
    times = []
    for _ in range(samples):
        t0 = time.perf_counter_ns()
        for _ in range(batch):
            f()
        times.append((time.perf_counter_ns() - t0) / batch)
    times.sort()
    return times[len(times) // 2]


def cases_numpy(np):
    rng = np.random.default_rng(0)

    def u(*shape, lo=-1.0, hi=1.0):
        return rng.uniform(lo, hi, size=shape).astype(np.float32)

    def sigmoid_into(z):
        np.negative(z, out=z)
        np.exp(z, out=z)
        np.add(z, 1.0, out=z)
        np.reciprocal(z, out=z)

    for (n, d, h) in MATMUL:
        sid = f"{n}x{d}x{h}"
        x, w, b, dy = u(n, d), u(d, h), u(h), u(n, h)
        y, dx, dw, db, dz = (np.empty((n, h), np.float32), np.empty((n, d), np.float32),
                             np.empty((d, h), np.float32), np.empty(h, np.float32),
                             np.empty((n, h), np.float32))
        ys = u(n, h, lo=0.01, hi=0.99)
        yield "matmul_fwd", sid, lambda: np.matmul(x, w, out=y)

        def mm_bwd():
            np.matmul(dy, w.T, out=dx)
            np.matmul(x.T, dy, out=dw)
        yield "matmul_bwd", sid, mm_bwd

        def aff_fwd():
            np.matmul(x, w, out=y)
            np.add(y, b, out=y)
            sigmoid_into(y)
        yield "affine_sigmoid_fwd", sid, aff_fwd

        def aff_bwd():
            np.subtract(1.0, ys, out=dz)
            np.multiply(dz, ys, out=dz)
            np.multiply(dz, dy, out=dz)
            np.matmul(dz, w.T, out=dx)
            np.matmul(x.T, dz, out=dw)
            np.sum(dz, axis=0, out=db)
        yield "affine_sigmoid_bwd", sid, aff_bwd

    for n in VECTORS:
        x, y = u(n, lo=-10.0, hi=10.0), np.empty(n, np.float32)
        ys, dy, dx = u(n, lo=0.0, hi=1.0), u(n), np.empty(n, np.float32)
        yield "exp", str(n), lambda: np.exp(x, out=y)

        def sig_fwd():
            np.negative(x, out=y)
            np.exp(y, out=y)
            np.add(y, 1.0, out=y)
            np.reciprocal(y, out=y)
        yield "sigmoid_fwd", str(n), sig_fwd

        def sig_bwd():
            np.subtract(1.0, ys, out=dx)
            np.multiply(dx, ys, out=dx)
            np.multiply(dx, dy, out=dx)
        yield "sigmoid_bwd", str(n), sig_bwd

    for (n, c) in ROWS:
        sid = f"{n}x{c}"
        x, y = u(n, c, lo=-5.0, hi=5.0), np.empty((n, c), np.float32)
        ys = u(n, c, lo=0.0, hi=1.0)
        ys /= ys.sum(axis=1, keepdims=True)
        dy, dx = u(n, c), np.empty((n, c), np.float32)
        lab = (np.arange(n) * 7 + 3) % c
        rows = np.arange(n)

        def sm_fwd():
            np.subtract(x, x.max(axis=1, keepdims=True), out=y)
            np.exp(y, out=y)
            np.divide(y, y.sum(axis=1, keepdims=True), out=y)
        yield "softmax_fwd", sid, sm_fwd

        def sm_bwd():
            s = (dy * ys).sum(axis=1, keepdims=True)
            np.subtract(dy, s, out=dx)
            np.multiply(dx, ys, out=dx)
        yield "softmax_bwd", sid, sm_bwd

        def ce():
            np.subtract(x, x.max(axis=1, keepdims=True), out=y)
            lsm = y - np.log(np.exp(y).sum(axis=1, keepdims=True))
            loss = -lsm[rows, lab].mean()
            np.exp(lsm, out=dx)
            dx[rows, lab] -= 1.0
            np.divide(dx, n, out=dx)
            return loss
        yield "cross_entropy_fwd_bwd", sid, ce



def cases_torch(torch):
    g = torch.Generator().manual_seed(0)
    aten = torch.ops.aten
    f32 = torch.float32

    def u(*shape, lo=-1.0, hi=1.0):
        return torch.rand(*shape, generator=g, dtype=f32) * (hi - lo) + lo

    for (n, d, h) in MATMUL:
        sid = f"{n}x{d}x{h}"
        x, w, b, dy = u(n, d), u(d, h), u(h), u(n, h)
        y, dx, dw, db = (torch.empty(n, h), torch.empty(n, d), torch.empty(d, h),
                         torch.empty(h))
        ys = u(n, h, lo=0.01, hi=0.99)
        yield "matmul_fwd", sid, lambda: torch.mm(x, w, out=y)

        def mm_bwd():
            torch.mm(dy, w.t(), out=dx)
            torch.mm(x.t(), dy, out=dw)
        yield "matmul_bwd", sid, mm_bwd

        def aff_fwd():
            torch.addmm(b, x, w, out=y)
            y.sigmoid_()
        yield "affine_sigmoid_fwd", sid, aff_fwd

        def aff_bwd():
            dz = aten.sigmoid_backward(dy, ys)
            torch.mm(dz, w.t(), out=dx)
            torch.mm(x.t(), dz, out=dw)
            torch.sum(dz, 0, out=db)
        yield "affine_sigmoid_bwd", sid, aff_bwd

    for n in VECTORS:
        x, y = u(n, lo=-10.0, hi=10.0), torch.empty(n)
        ys, dy, dx = u(n, lo=0.0, hi=1.0), u(n), torch.empty(n)
        yield "copy", str(n), lambda: y.copy_(x)
        yield "exp", str(n), lambda: torch.exp(x, out=y)
        yield "sigmoid_fwd", str(n), lambda: torch.sigmoid(x, out=y)
        yield "sigmoid_bwd", str(n), lambda: aten.sigmoid_backward.grad_input(dy, ys, grad_input=dx)
        xp = u(n, lo=1e-6, hi=100.0)
        yield "ln", str(n), lambda: torch.log(xp, out=y)
        xq = u(n, lo=0.0, hi=10.0)
        yield "ln_1p", str(n), lambda: torch.log1p(xq, out=y)

    for n in VECTORS:
        x, y, dy, dx = u(n, lo=-6.0, hi=6.0), torch.empty(n), u(n), torch.empty(n)
        yield "silu_fwd", str(n), lambda: aten.silu.out(x, out=y)
        yield "silu_bwd", str(n), lambda: aten.silu_backward.grad_input(dy, x, grad_input=dx)
        yield "gelu_fwd", str(n), lambda: aten.gelu.out(x, out=y)
        yield "gelu_bwd", str(n), lambda: aten.gelu_backward.grad_input(dy, x, grad_input=dx)
        yield "gelu_tanh_fwd", str(n), lambda: aten.gelu.out(x, approximate="tanh", out=y)
        yield "gelu_tanh_bwd", str(n), lambda: aten.gelu_backward.grad_input(dy, x, approximate="tanh", grad_input=dx)
        yield "leaky_relu_fwd", str(n), lambda: aten.leaky_relu.out(x, 0.01, out=y)
        yield "leaky_relu_bwd", str(n), lambda: aten.leaky_relu_backward.grad_input(dy, x, 0.01, False, grad_input=dx)

    for (n, c) in ROWS:
        sid = f"{n}x{c}"
        x, y = u(n, c, lo=-5.0, hi=5.0), torch.empty(n, c)
        ys = u(n, c, lo=0.0, hi=1.0)
        ys /= ys.sum(dim=1, keepdim=True)
        dy, dx = u(n, c), torch.empty(n, c)
        lab = (torch.arange(n) * 7 + 3) % c
        one = torch.ones(())
        yield "softmax_fwd", sid, lambda: aten._softmax.out(x, 1, False, out=y)
        yield "softmax_bwd", sid, lambda: aten._softmax_backward_data.out(dy, ys, 1, f32, grad_input=dx)

        def ce():
            lsm = aten._log_softmax(x, 1, False)
            loss, tw = aten.nll_loss_forward(lsm, lab, None, 1, -100)
            gl = aten.nll_loss_backward(one, lsm, lab, None, 1, -100, tw)
            return loss, aten._log_softmax_backward_data(gl, lsm, 1, f32)
        yield "cross_entropy_fwd_bwd", sid, ce

        # probability targets: F.cross_entropy(x, q) and its backward, as autograd runs them
        q = torch.softmax(u(n, c, lo=-2.0, hi=2.0), 1)

        def ce_probs():
            lsm = aten._log_softmax(x, 1, False)
            loss = -(q * lsm).sum() / n
            return loss, aten._log_softmax_backward_data(q * (-1.0 / n), lsm, 1, f32)
        yield "cross_entropy_probs_fwd_bwd", sid, ce_probs

        # label smoothing 0.1: F.cross_entropy(x, lab, label_smoothing=0.1) as ATen runs it
        # (log_softmax, nll_loss, and -lsm.sum(1) for the smoothing term) with its backward
        eps = 0.1

        def ce_smooth():
            lsm = aten._log_softmax(x, 1, False)
            nll, tw = aten.nll_loss_forward(lsm, lab, None, 1, -100)
            loss = nll * (1.0 - eps) - lsm.sum(1).mean() * (eps / c)
            gl = aten.nll_loss_backward(one * (1.0 - eps), lsm, lab, None, 1, -100, tw)
            gl = gl.sub_(eps / (c * n))
            return loss, aten._log_softmax_backward_data(gl, lsm, 1, f32)
        yield "cross_entropy_smooth_fwd_bwd", sid, ce_smooth

        # F.binary_cross_entropy_with_logits(x, t) (mean) and its backward, (σ(x) − t)·g/(N·C)
        tb = u(n, c, lo=0.0, hi=1.0)

        def bce():
            loss = aten.binary_cross_entropy_with_logits(x, tb, None, None, 1)
            return loss, torch.sigmoid(x).sub_(tb).mul_(1.0 / (n * c))
        yield "bce_logits_fwd_bwd", sid, bce

        # the cross-entropy on probabilities, -(t * p.log()).sum(1).mean(), and its backward
        p = torch.softmax(u(n, c, lo=-2.0, hi=2.0), 1)

        def ce_on_probs():
            loss = -(q * torch.log(p)).sum(1).mean()
            return loss, q.div(p).mul_(-1.0 / n)
        yield "ce_on_probs_fwd_bwd", sid, ce_on_probs


def child(threads, budget_s, cases):
    """Runs in a process whose OpenBLAS thread count is already set."""
    out, meta = [], {}
    keep = re.compile(cases)

    def time_all(impl, gen):
        for op, sid, f in gen:
            if keep.search(f"{op}/{sid}"):
                out.append({"op": op, "shape": sid, "threads": threads, "impl": impl,
                            "median_ns": median_ns(f, budget_s)})

    try:
        import numpy as np
    except ImportError:
        np = None
    if np is not None:
        np.seterr(over="ignore")  # exp(−x) of large x in the sigmoid: inf, then 0, as wanted
        meta["numpy"] = np.__version__
        time_all("numpy", cases_numpy(np))
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        torch.set_num_threads(threads)
        meta["torch"] = torch.__version__
        with torch.inference_mode():
            time_all("torch", cases_torch(torch))
    json.dump({"meta": meta, "records": out}, sys.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--out", default="compare/results/python.json")
    ap.add_argument("--budget", type=float, default=0.3, help="seconds per case, about")
    ap.add_argument("--cases", default="", help="regex on 'op/shape': only matching cases")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child, a.budget, a.cases)
        return
    records, meta = [], {}
    for t in [int(s) for s in a.threads.split(",")]:
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(t), OMP_NUM_THREADS=str(t),
                   MKL_NUM_THREADS=str(t))
        env.pop("OPENBLAS_CORETYPE", None)
        print(f"python peers, {t} thread(s)...", file=sys.stderr)
        res = json.loads(subprocess.run(
            [sys.executable, __file__, "--child", str(t), "--budget", str(a.budget),
             "--cases", a.cases],
            env=env, check=True, stdout=subprocess.PIPE).stdout)
        records += res["records"]
        meta = res["meta"]
    meta.update(python=platform.python_version(), machine=platform.machine(),
                cpu=cpu_name(), cores=os.cpu_count())
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    with open(a.out, "w") as fh:
        json.dump({"meta": meta, "records": records}, fh, indent=1)
    print(f"wrote {len(records)} figures to {a.out}", file=sys.stderr)


def cpu_name():
    """The CPU's model name and the widest vector path nnkern takes on it: machines of one
    name differ (an "AMD EPYC" has been Zen 1 with AVX2 and Zen 5 with AVX-512), and the
    path decides most of the elementwise rows."""
    name, flags = platform.processor(), set()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    if "avx512f" in flags:
        return f"{name} (AVX-512)"
    if {"avx2", "fma"} <= flags:
        return f"{name} (AVX2+FMA, no AVX-512)"
    return name


if __name__ == "__main__":
    main()
