"""Golden values for the optimizers: three steps of PyTorch's own torch.optim.SGD, Adam and
AdamW in float64 on fixed parameters and gradients, written to `optim.txt` for
`tests/suite/compose.rs` (`optimizers_match_pytorch`).

p0[i] = sin(0.37·i + 0.1) and the k-th gradient g_k[i] = cos(0.71·i + k) for i < 37, k = 0, 1, 2
(the test makes the same values). Each line: a configuration name, then the 37 parameters after
the three steps.

    pip install torch && python tests/suite/golden/optim_torch.py
"""
import math
import pathlib

import torch

N = 37
CONFIGS = [
    ("sgd", lambda p: torch.optim.SGD(p, lr=0.1)),
    ("sgd_momentum", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
    ("sgd_nesterov_wd", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("adam", lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.95), eps=1e-6)),
    ("adam_l2", lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)),
    ("adamw", lambda p: torch.optim.AdamW(p, lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.3)),
]

lines = []
for name, make in CONFIGS:
    p = torch.tensor([math.sin(0.37 * i + 0.1) for i in range(N)], dtype=torch.float64, requires_grad=True)
    opt = make([p])
    for k in range(3):
        p.grad = torch.tensor([math.cos(0.71 * i + k) for i in range(N)], dtype=torch.float64)
        opt.step()
    lines.append(name + " " + " ".join(repr(v) for v in p.detach().tolist()))
out = pathlib.Path(__file__).with_name("optim.txt")
out.write_text("\n".join(lines) + "\n")
print(f"wrote {out}")
