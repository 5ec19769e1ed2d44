"""Exports the UCI Optical Recognition of Handwritten Digits set, as scikit-learn ships it
(`sklearn.datasets.load_digits`: 1 797 images of 8×8 pixels with values 0–16, 10 classes), into
`digits.bin.z`, the file `examples/digits` reads. Run once; the file is kept in the repository.

Data: E. Alpaydin and C. Kaynak, "Optical Recognition of Handwritten Digits", UCI Machine
Learning Repository (1998), https://doi.org/10.24432/C50P49, licensed CC BY 4.0.

Format (then compressed with zlib): b"NNKD", the row count N and the width 64 as little-endian
u32, N·64 pixel bytes (row-major), N label bytes. The rows are shuffled once with a fixed seed,
so the first 80% are the training set and the rest the test set for every reader.

    pip install scikit-learn numpy && python examples/digits/export.py
"""
import pathlib
import struct
import zlib

import numpy as np
from sklearn.datasets import load_digits

d = load_digits()
x = d.data.astype(np.uint8)
t = d.target.astype(np.uint8)
order = np.random.RandomState(0).permutation(len(t))
x, t = x[order], t[order]
raw = b"NNKD" + struct.pack("<II", *x.shape) + x.tobytes() + t.tobytes()
out = pathlib.Path(__file__).with_name("digits.bin.z")
out.write_bytes(zlib.compress(raw, 9))
print(f"{out}: {x.shape[0]} rows × {x.shape[1]}, {out.stat().st_size} bytes")
