"""The digits example in PyTorch, for comparison: the same data, split, network
(64→256→128→10, ReLU, nn.Linear's initialisation), Adam lr 1e-3, batch 32, 30 epochs, with the
mean training loss and the test accuracy after each epoch.

    python examples/digits/digits_torch.py [seed] [threads]
"""
import pathlib, struct, sys, time, zlib
import numpy as np
import torch
from torch import nn

# data loading (the same file as the Rust example)
raw = zlib.decompress(pathlib.Path(__file__).with_name("digits.bin.z").read_bytes())
n, d = struct.unpack("<II", raw[4:12])
x = torch.tensor(np.frombuffer(raw, np.uint8, n * d, 12).reshape(n, d) / 16.0, dtype=torch.float32)
t = torch.tensor(np.frombuffer(raw, np.uint8, n, 12 + n * d).astype(np.int64))
split = n * 4 // 5
xtr, ttr, xte, tte = x[:split], t[:split], x[split:], t[split:]

# model and training
torch.manual_seed(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
start = time.perf_counter()
for epoch in range(30):
    perm, total = torch.randperm(split), 0.0
    for i in range(0, split, 32):
        idx = perm[i : i + 32]
        loss = loss_fn(model(xtr[idx]), ttr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item()
    with torch.no_grad():
        acc = (model(xte).argmax(1) == tte).float().mean().item()
    print(f"epoch {epoch + 1:2}: loss {total / -(-split // 32):.4f}, test accuracy {acc:.4f}")
print(f"trained in {time.perf_counter() - start:.2f} s; test accuracy {acc:.4f}")
