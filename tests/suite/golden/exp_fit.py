"""Coefficients of nnkern's exponentials (src/simd/consts.rs, `EXPM1_POLY` and `EXPM1_POS_POLY`;
used by src/simd/math.rs `exp`, `exp_nonpos` and `expm1_nonneg`). Both write

    e^r - 1 = r + r^2 * Q(r),

Q a polynomial fitted by Remez's exchange algorithm (60-digit arithmetic, extrema located on a
grid of 6000 points) to minimise the largest error the result carries:

- EXPM1_POLY, for exp: r in [-ln2/2, ln2/2] (with margin for the rounding of the reduction),
  error of r^2 * Q(r) relative to e^r;
- EXPM1_POS_POLY, for expm1 in tanh: r in [0, ln 2) (same margin), error relative to e^r - 1.

The coefficients are rounded to the type one at a time (see `fit_rounded`). The degrees: f32
exp 5 (degree 4 fits to 0.051 units of 2^-24, and the exhaustive test then measured exp at
1.010 ulp: over its bound of 1; degree 5 fits to 0.007); f32 expm1 5, f64 exp and expm1 10,
each below 0.01 units of the type's 2^-p (p = 24 for f32, 53 for f64). The Taylor polynomials
these replace had 1 (f32 exp), 3 (f32 expm1), 3 (f64 exp) and 6 (f64 expm1) more terms.

Run: python3 tests/suite/golden/exp_fit.py   (needs mpmath; about two minutes)
"""
import struct

import mpmath as mp

mp.mp.dps = 60
GRID = 6000


def remez(f, w, lo, hi, m, iters=25):
    """Coefficients c_0..c_m minimising max |w(r) (f(r) - sum c_k r^k)| on [lo, hi], and that
    maximum (on the grid)."""
    n = m + 2
    pts = [(lo + hi) / 2 - (hi - lo) / 2 * mp.cos(mp.pi * i / (n - 1)) for i in range(n)]
    grid = [lo + (hi - lo) * mp.mpf(i) / GRID for i in range(GRID + 1)]
    fg, wg = [f(x) for x in grid], [w(x) for x in grid]
    best = None
    for _ in range(iters):
        a, b = mp.matrix(n, n), mp.matrix(n, 1)
        for i, x in enumerate(pts):
            for k in range(m + 1):
                a[i, k] = w(x) * x**k
            a[i, m + 1] = (-1) ** i
            b[i] = w(x) * f(x)
        sol = mp.lu_solve(a, b)
        c = [sol[k] for k in range(m + 1)]
        err = []
        for x, fx, wx in zip(grid, fg, wg):
            p = mp.mpf(0)
            for ck in reversed(c):
                p = p * x + ck
            err.append(wx * (fx - p))
        emax = max(abs(e) for e in err)
        if best is None or emax < best[1]:
            best = (c, emax)
        # one extremum per run of equal sign; drop the smaller end ones beyond n
        runs, cur = [], [0]
        for j in range(1, len(err)):
            if (err[j] >= 0) == (err[cur[-1]] >= 0):
                cur.append(j)
            else:
                runs.append(cur)
                cur = [j]
        runs.append(cur)
        ext = [max(r, key=lambda j: abs(err[j])) for r in runs]
        while len(ext) > n:
            ext = ext[1:] if abs(err[ext[0]]) < abs(err[ext[-1]]) else ext[:-1]
        if len(ext) < n:
            break
        pts = [grid[j] for j in ext]
    return best


def q(r):
    return (mp.expm1(r) - r) / r**2 if r != 0 else mp.mpf(1) / 2


def to_type(v, ty):
    """v rounded to the type (f32 through struct, f64 as Python's float), as an mpf."""
    v = float(v)
    if ty == "f32":
        v = struct.unpack("f", struct.pack("f", v))[0]
    return mp.mpf(v)


def fit_rounded(f, w, lo, hi, m, ty):
    """Remez fits whose coefficients are rounded to the type one at a time, lowest first, each
    fit after the first taking the rounded ones as fixed: the rounding of each coefficient is
    absorbed by the ones above it (rounding all of a fit's coefficients at once cost f32's
    degree-5 exp fit 16 times its error). Returns the coefficients and the final fit error."""
    fixed = []
    for j in range(m + 1):
        def fj(r, j=j):
            s = sum(ck * r**k for k, ck in enumerate(fixed))
            # (at r = 0, on exp's grid, the weight below is 0: the value there is unused)
            return (f(r) - s) / r**j if r != 0 else f(r)
        c, emax = remez(fj, lambda r, j=j: w(r) * r**j, lo, hi, m - j)
        fixed.append(to_type(c[0], ty))
    return fixed, emax


def shortest(v, ty):
    if ty == "f64":
        return repr(float(v)).replace("e-0", "e-")
    x = float(v)
    for digits in range(6, 12):
        s = f"{x:.{digits}g}"
        if to_type(s, "f32") == v:
            return s.replace("e-0", "e-")
    raise ValueError(v)


def main():
    half = mp.mpf("0.34660")  # ln2/2 = 0.3465736 plus the reduction's rounding
    # [0, ln 2) with the same margin; this grid misses r = 0, where r^2/expm1(r) is 0/0
    lo_pos, hi_pos = mp.mpf("0.0005"), mp.mpf("0.6940")
    cases = [
        ("f32", "EXPM1_POLY", 24, 5, -half, half, lambda r: r**2 / mp.exp(r)),
        ("f64", "EXPM1_POLY", 53, 10, -half, half, lambda r: r**2 / mp.exp(r)),
        ("f32", "EXPM1_POS_POLY", 24, 5, -lo_pos, hi_pos, lambda r: r**2 / mp.expm1(r)),
        ("f64", "EXPM1_POS_POLY", 53, 10, -lo_pos, hi_pos, lambda r: r**2 / mp.expm1(r)),
    ]
    for ty, name, p, m, lo, hi, w in cases:
        c, emax = fit_rounded(q, w, lo, hi, m, ty)
        print(f"// {ty} {name}: degree {m}, fit error {mp.nstr(emax * 2**p, 3)} units of 2^-{p}")
        print(f"const {name}: &'static [{ty}] = &[")
        for ck in c:
            print(f"    {shortest(ck, ty)},")
        print("];")


if __name__ == "__main__":
    main()
