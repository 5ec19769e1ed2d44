"""Coefficients of the standard normal tail used by nnkern's exact GELU (src/simd/math.rs,
`normal_tail`): Phi(-a) = exp(-a^2/2) / s(a) for a >= 0, with

    s(a) = sqrt(2*pi) / m(a) = 2 + a * V(a),   m(a) = Phi(-a) / phi(a)  (Mills' ratio).

V runs smoothly from 1.596 at a = 0 to sqrt(2*pi) = 2.507 as a -> oo, so it is a
well-conditioned target. It is fitted as a Chebyshev series in

    u = (K + C2*a) / (K + a),   K = 3,   C2 = -(1 + 2K/A),

which maps a in [0, A] onto [-1, 1] (A = 48 for f64, 16 for f32: beyond, exp(-a^2/2) is 0
in the type), then converted to monomials in u (their magnitudes decay, so Horner's rule is
well-conditioned), all in 80-digit arithmetic. The series is cut where the next eight
Chebyshev coefficients are below 2^-57 (f64) or 2^-28 (f32) of V.

Run: python3 tests/suite/golden/normal_tail_fit.py   (needs mpmath)
"""
import struct

import mpmath as mp

mp.mp.dps = 80
SQRT_2PI = mp.sqrt(2 * mp.pi)


def v_of(a):
    mills = mp.erfc(a / mp.sqrt(2)) / 2 * mp.exp(a * a / 2) * SQRT_2PI
    if a == 0:
        return mp.diff(lambda t: SQRT_2PI / (mp.erfc(t / mp.sqrt(2)) / 2 * mp.exp(t * t / 2) * SQRT_2PI), 0)
    return (SQRT_2PI / mills - 2) / a


def fit(k, a_max, bits, nodes=160):
    c2 = -(1 + 2 * k / a_max)
    xs = [mp.cos(mp.pi * (j + mp.mpf(1) / 2) / nodes) for j in range(nodes)]
    fs = [v_of(k * (1 - u) / (u - c2)) for u in xs]
    cheb = []
    for n in range(70):
        c = 2 * mp.fsum(fs[j] * mp.cos(mp.pi * n * (j + mp.mpf(1) / 2) / nodes) for j in range(nodes)) / nodes
        cheb.append(c / 2 if n == 0 else c)
    tol = mp.mpf(2) ** -bits * mp.mpf("1.5")
    n_terms = next(n for n in range(70) if all(abs(c) < tol for c in cheb[n:n + 8]))
    # Chebyshev -> monomial: T_0 = 1, T_1 = u, T_{n+1} = 2u T_n - T_{n-1}
    polys = [[mp.mpf(1)], [mp.mpf(0), mp.mpf(1)]]
    while len(polys) < n_terms:
        t1, t0 = polys[-1], polys[-2]
        nxt = [mp.mpf(0)] + [2 * x for x in t1]
        for i, x in enumerate(t0):
            nxt[i] -= x
        polys.append(nxt)
    mono = [mp.mpf(0)] * n_terms
    for c, t in zip(cheb[:n_terms], polys):
        for i, x in enumerate(t):
            mono[i] += c * x
    return c2, mono


def shortest(v, single):
    """The shortest decimal that rounds to the same f32 (single) or f64 as v."""
    x = float(v)
    if not single:
        return repr(x)
    target = struct.unpack("f", struct.pack("f", x))[0]
    for d in range(1, 12):
        t = f"{target:.{d}e}"
        if struct.unpack("f", struct.pack("f", float(t)))[0] == target:
            return repr(float(t))
    return repr(target)


for name, a_max, bits in [("f64", 48, 57), ("f32", 16, 28)]:
    c2, mono = fit(mp.mpf(3), mp.mpf(a_max), bits)
    print(f"// {name}: A = {a_max}, C2 = {mp.nstr(c2, 20)}, {len(mono)} terms")
    for m in mono:
        print("    " + shortest(m, name == "f32") + ",")
