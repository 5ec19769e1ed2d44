"""Golden values for the activations: PyTorch's own F.silu, F.gelu (exact) and F.gelu(approximate='tanh'),
F.leaky_relu(0.01), F.sigmoid and F.tanh in float64, forward and the derivative (autograd with
an upstream gradient of 1), written to `activations.txt` for `tests/suite/rowwise.rs`
(`activations_match_pytorch`).

The inputs x_i = -6 + 12·i/240 for i ≤ 240 (the test makes the same values), where PyTorch's
float64 formulas are accurate (beyond, the GELUs' 1 + tanh u and 1 + erf cancel in their negative
tails).
Each line: the function's name, then x, y and dy/dx triples.

    pip install torch && python tests/suite/golden/activations_torch.py
"""
import pathlib

import torch
import torch.nn.functional as F

FUNCS = [
    ("silu", F.silu),
    ("gelu_tanh", lambda v: F.gelu(v, approximate="tanh")),
    ("gelu", F.gelu),
    ("leaky_relu", lambda v: F.leaky_relu(v, 0.01)),
    ("sigmoid", torch.sigmoid),
    ("tanh", torch.tanh),
]

lines = []
for name, f in FUNCS:
    x = torch.tensor([-6.0 + 12.0 * i / 240 for i in range(241)], dtype=torch.float64, requires_grad=True)
    y = f(x)
    (g,) = torch.autograd.grad(y.sum(), x)
    vals = []
    for xi, yi, gi in zip(x.tolist(), y.tolist(), g.tolist()):
        vals += [repr(xi), repr(yi), repr(gi)]
    lines.append(" ".join([name] + vals))

out = pathlib.Path(__file__).with_name("activations.txt")
out.write_text("\n".join(lines) + "\n")
print(f"wrote {out}")
