"""Coefficients of nnkern's division-free f32 logarithm (src/simd/math.rs, `ln_reduced` and
`Consts::LN_R_POLY`): for f in [sqrt(1/2), sqrt(2)) and r = f - 1,

    ln(1 + r) = r - r^2/2 + r^3 * P(r),

with P of degree 7 fitted to minimise the largest error of r^3 * P(r) relative to ln(1 + r)
(the error the result carries) over r in [sqrt(1/2) - 1, sqrt(2) - 1]. The fit is Lawson's
iteration (weighted least squares whose weights converge to the minimax solution) on 4000
Chebyshev points, the target values from 40-digit arithmetic; the coefficients are then
rounded to f32, and the error is printed again with the rounded ones.

The fit's own error (printed, in units of 2^-24 relative) is about 0.11: the f32 logarithm's
measured worst case over every input is 0.86 ulp (README), against 0.84 for the atanh form
with a division it replaced.

Run: python3 tests/suite/golden/ln_fit.py   (needs numpy and mpmath)
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 40
DEGREE = 7
M = 4000


def main():
    a, b = float(mp.sqrt(0.5) - 1), float(mp.sqrt(2) - 1)
    xs = (a + b) / 2 + (b - a) / 2 * np.cos(np.pi * (np.arange(M) + 0.5) / M)
    xs = xs[np.abs(xs) > 1e-6]
    ln = [mp.log1p(mp.mpf(x)) for x in xs]
    g = np.array([float((l - x + mp.mpf(x) ** 2 / 2) / mp.mpf(x) ** 3) for l, x in zip(ln, xs)])
    # the tail's error relative to the result: |r^3 / ln(1 + r)| per unit error of P
    w = np.abs(xs**3 / np.array([float(l) for l in ln]))
    v = np.vander(xs, DEGREE + 1, increasing=True)
    lw = np.ones_like(xs)
    for _ in range(200):
        sw = np.sqrt(lw) * w
        c, *_ = np.linalg.lstsq(v * sw[:, None], g * sw, rcond=None)
        e = np.abs((v @ c - g) * w)
        lw = lw * e
        lw /= lw.sum()
    c32 = c.astype(np.float32)
    e32 = np.abs((v @ c32.astype(np.float64) - g) * w)
    print(f"largest relative error of the tail: {e.max() / 2**-24:.3f} (exact coefficients), "
          f"{e32.max() / 2**-24:.3f} (f32 coefficients), in units of 2^-24")
    print("const LN_R_POLY: &'static [f32] = &[")
    for k in c32:
        print(f"    {str(k)},")
    print("];")


if __name__ == "__main__":
    main()
