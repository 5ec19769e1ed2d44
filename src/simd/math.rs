//! The math bodies, written once over [`Lane`]: exp, expm1 (for tanh), sigmoid, tanh, the
//! standard normal's tail Φ(−|x|) (for the exact GELU), ln and ln(1 + x).
//!
//! exp(x) = 2ⁿ·e^r with n = round(x/ln 2) and r = x − n·ln 2 (Cody–Waite, two constants so
//! that n·LN2_HI is exact even without FMA), |r| ≤ ln2/2; e^r = 1 + (r + r²·q(r)) with q a
//! minimax polynomial (degree 5 for f32, 10 for f64: e^r of degree 7 and 12, fit error below
//! 0.01 units of the type's 2⁻ᵖ; [`Consts::EXPM1_POLY`]), evaluated by Horner. 2ⁿ is applied as two
//! factors 2^⌈n/2⌉·2^⌊n/2⌋ so results down to the smallest subnormal come out right, or, on
//! AVX-512, by one `vscalef` that rounds the same exact product once.

use super::consts::Consts;
use super::lane::Lane;

/// The exponentials of a lane type that runs these bodies ([`Lane::vexp`],
/// [`Lane::vexp_nonpos`], [`Lane::vexpm1_nonneg`]), written into its `Lane` impl.
macro_rules! lane_exps {
    () => {
        #[inline(always)]
        fn vexp(self) -> Self {
            $crate::simd::math::exp(self)
        }
        #[inline(always)]
        fn vexp_nonpos(self) -> Self {
            $crate::simd::math::exp_nonpos(self)
        }
        #[inline(always)]
        fn vexpm1_nonneg(self) -> Self {
            $crate::simd::math::expm1_nonneg(self)
        }
    };
}
pub(crate) use lane_exps;

/// Horner evaluation of Σ c_k·r^k.
#[inline(always)]
fn horner<L: Lane>(r: L, c: &[L::E]) -> L {
    let t = r.token();
    let mut p = L::splat(t, c[c.len() - 1]);
    for &ck in c[..c.len() - 1].iter().rev() {
        p = p.fma(r, L::splat(t, ck));
    }
    p
}

/// Splits x into n = round(x/ln 2) (as `n + MAGIC`, and as a float) and r = x − n·ln 2.
#[inline(always)]
fn reduce<L: Lane>(x: L) -> (L, L, L) {
    let t = x.token();
    let magic = L::splat(t, L::E::MAGIC);
    let nm = x.fma(L::splat(t, L::E::LOG2E), magic);
    let n = nm - magic;
    let r = n.fma(L::splat(t, L::E::NEG_LN2_HI), x);
    let r = n.fma(L::splat(t, L::E::NEG_LN2_LO), r);
    (nm, n, r)
}

/// eˣ: ≤ 1 ulp on the whole range, subnormal results included; e^(+∞) = +∞, e^(−∞) = 0,
/// NaN → NaN.
#[inline(always)]
pub(crate) fn exp<L: Lane>(x: L) -> L {
    let t = x.token();
    // Clamps that keep NaN (the comparison is false for it, so x passes through): NaN then
    // flows through the arithmetic, and e^(±big) overflows or underflows by itself.
    let lo = L::splat(t, L::E::EXP_LO);
    let hi = L::splat(t, L::E::EXP_HI);
    let xc = L::clamp_hi(L::clamp_lo(x, lo), hi);
    let (_, n, r) = reduce(xc);
    // e^r = 1 + (r + r²·q(r)): the small part is formed first, so only the final addition
    // rounds at the result's scale (≤ 1 ulp also without FMA).
    let q = horner(r, L::E::EXPM1_POLY);
    let p = L::splat(t, L::E::K1) + (r * r).fma(q, r);
    if let Some(v) = p.scalef(n) {
        // p·2ⁿ rounded once, as the two products below round (the first is exact)
        return v;
    }
    // 2ⁿ = 2^n1 · 2^(n − n1) with n1 = round(n/2): each factor stays a normal number.
    let magic = L::splat(t, L::E::MAGIC);
    let n1m = n.fma(L::splat(t, L::E::KHALF), magic);
    let n1 = n1m - magic;
    let n2m = (n - n1) + magic;
    p * L::pow2i(n1m, magic) * L::pow2i(n2m, magic)
}

/// eˣ for x ≤ 0 (or NaN): [`exp`]'s result bit for bit in fewer operations. With n ≤ 0,
/// 2ⁿ = 2^(n+64)·2⁻⁶⁴ where 2^(n+64) is normal down to exp's lowest n (−150 for f32, −1076
/// for f64): p·2^(n+64) is exact and the product with 2⁻⁶⁴ rounds once, as exp's two
/// factors do. No upper clamp is needed. Used for e^(x − max) and e^(−|x|).
#[inline(always)]
pub(crate) fn exp_nonpos<L: Lane>(x: L) -> L {
    let t = x.token();
    let lo = L::splat(t, L::E::EXP_LO);
    let xc = L::clamp_lo(x, lo);
    let (nm, n, r) = reduce(xc);
    let q = horner(r, L::E::EXPM1_POLY);
    let p = L::splat(t, L::E::K1) + (r * r).fma(q, r);
    if let Some(v) = p.scalef(n) {
        return v;
    }
    p * L::pow2i(nm, L::splat(t, L::E::MAGIC_LESS_64)) * L::splat(t, L::E::POW2_NEG_64)
}

/// eʸ − 1 for 0 ≤ y ≤ 2·TANH_SAT, accurate relative to the result also near 0. With
/// n = ⌊y/ln 2⌋ and 0 ≤ r < ln 2, expm1(y) = (2ⁿ − 1) + 2ⁿ·expm1(r), expm1(r) = r + r²·q(r):
/// every term is non-negative, so nothing cancels and one FMA rounds the sum.
#[inline(always)]
pub(crate) fn expm1_nonneg<L: Lane>(y: L) -> L {
    let t = y.token();
    let magic = L::splat(t, L::E::MAGIC);
    let nm = y.fma(L::splat(t, L::E::LOG2E), -L::splat(t, L::E::KHALF)) + magic;
    let n = nm - magic;
    let r = n.fma(L::splat(t, L::E::NEG_LN2_HI), y);
    let r = n.fma(L::splat(t, L::E::NEG_LN2_LO), r);
    let q = horner(r, L::E::EXPM1_POS_POLY);
    let pm = (r * r).fma(q, r);
    let s = L::pow2i(nm, magic);
    s.fma(pm, s - L::splat(t, L::E::K1))
}

/// σ(x) = num/(1 + e) with e = e^(−|x|), num = 1 for x ≥ 0 and e for x < 0: no overflow for
/// any x, one division. The rounding of d = 1 + e is compensated: with d_lo = e − (d − 1)
/// (exact, as 1 ≥ e) and q = num/d, σ = q − q·d_lo/d, where 1/d is q (x ≥ 0) or 1 − q (x < 0).
/// Error ≤ exp's + the division's, under 2 ulp.
#[inline(always)]
pub(crate) fn sigmoid<L: Lane>(x: L) -> L {
    sigmoid_from_exp(x, (-x.vabs()).vexp_nonpos())
}

/// (σ(x), σ(−x)) = (σ(x), 1 − σ(x)), each to [`sigmoid`]'s accuracy from one exponential:
/// derivatives use σ(x)·σ(−x) without the cancellation of 1 − σ(x).
#[inline(always)]
pub(crate) fn sigmoid_pair<L: Lane>(x: L) -> (L, L) {
    let e = (-x.vabs()).vexp_nonpos();
    (sigmoid_from_exp(x, e), sigmoid_from_exp(-x, e))
}

/// [`sigmoid`] given e = e^(−|x|) from any exp.
#[inline(always)]
pub(crate) fn sigmoid_from_exp<L: Lane>(x: L, e: L) -> L {
    let (q, inv_d, d_lo) = sigmoid_parts(x, e);
    // The correction is ~2⁻²⁴·q: its own rounding is negligible. An FMA subtracts it where
    // the path has one (one operation fewer); elsewhere it is a product and a difference.
    (-(q * inv_d)).fma(d_lo, q)
}

/// The parts of [`sigmoid_from_exp`]: σ(x) = q − q·(1/d)·d_lo with q = num/d, d = 1 + e
/// rounded and d_lo its rounding error.
#[inline(always)]
fn sigmoid_parts<L: Lane>(x: L, e: L) -> (L, L, L) {
    let t = x.token();
    let one = L::splat(t, L::E::K1);
    let zero = L::splat(t, L::E::K0);
    let d = one + e;
    let d_lo = e - (d - one);
    let num = L::sel_ge(x, zero, one, e);
    let q = num / d;
    let inv_d = L::sel_ge(x, zero, q, one - q);
    (q, inv_d, d_lo)
}

/// x·σ(v) (SiLU for v = x, the tanh GELU's gate), rounded once from σ's quotient q:
/// x·σ(v) = x·q − (x·q)·(1/d)·d_lo, the product x·q kept exact inside one FMA, so the error
/// is the division's and the FMA's roundings (about 1 ulp) instead of σ's 2 ulp plus a product.
/// Where σ(v) is 0 (v → −∞) the result is −0 (also for x = −∞, where x·0 would be NaN); x = +∞
/// gives +∞; NaN stays NaN.
#[inline(always)]
pub(crate) fn times_sigmoid<L: Lane>(x: L, v: L) -> L {
    let t = x.token();
    let zero = L::splat(t, L::E::K0);
    let (q, inv_d, d_lo) = sigmoid_parts(v, (-v.vabs()).vexp_nonpos());
    let p = x * q;
    // (σ > 0: the sign is x's, also for x = −0, where the sum of the zeros would be +0)
    let y = L::copysign(x.fma(q, -((p * inv_d) * d_lo)), x);
    // x = ±∞: the correction is ∞·0; the plain product is right there (or q = 0, below)
    let y = L::sel_ge(x.vabs(), L::splat(t, L::E::INF), p, y);
    L::keep_nan(x, L::sel_gt(q, zero, y, -zero))
}

/// tanh x = sign(x)·m/(m + 2), m = expm1(2|x|), |x| clamped where tanh rounds to ±1. The
/// rounding of d = m + 2 is compensated as in [`sigmoid`] (d_lo by Fast2Sum, larger operand
/// first; 1/d = (1 − q)/2 with q = m/d).
#[inline(always)]
pub(crate) fn tanh<L: Lane>(x: L) -> L {
    let t = x.token();
    let a = x.vabs().vmin(L::splat(t, L::E::TANH_SAT));
    tanh_from_expm1(x, (a + a).vexpm1_nonneg())
}

/// [`tanh`] given m = expm1(2·min(|x|, TANH_SAT)) from any expm1.
#[inline(always)]
pub(crate) fn tanh_from_expm1<L: Lane>(x: L, m: L) -> L {
    let t = x.token();
    let two = L::splat(t, L::E::K2);
    let d = m + two;
    let d_lo = L::sel_gt(m, two, two - (d - m), m - (d - two));
    let q = m / d;
    let inv_d = (L::splat(t, L::E::K1) - q) * L::splat(t, L::E::KHALF);
    // (the correction fused as in [`sigmoid_from_exp`])
    let t = (-(q * inv_d)).fma(d_lo, q);
    L::keep_nan(x, L::copysign(t, x))
}

/// (a², its rounding error) exactly, for 0 ≤ a ≤ [`Consts::NORMAL_A`] (or NaN): one FMA where
/// the lane type has fused ones ([`Lane::FUSED`]); elsewhere Veltkamp's split a = a_hi + a_lo
/// into halves whose products are exact, then Dekker's product. Both give the exact error,
/// so every path gets the same two values.
#[inline(always)]
fn two_square<L: Lane>(a: L) -> (L, L) {
    let sq = a * a;
    if L::FUSED {
        return (sq, a.fma(a, -sq));
    }
    let t = a.token();
    let p = a * L::splat(t, L::E::SPLIT);
    let hi = p - (p - a);
    let lo = a - hi;
    let err = ((hi * hi - sq) + (hi + hi) * lo) + lo * lo;
    (sq, err)
}

/// The standard normal's tail Φ(−a) = (e + e_lo)/s for a = |x| clamped to
/// [`Consts::NORMAL_A`] (NaN kept), as its parts (s, e, e_lo, a): e + e_lo = e^(−a²/2) =
/// √(2π)·φ(a) to about 0.4 u, and s = √(2π)/m(a) with m(a) = Φ(−a)/φ(a) Mills' ratio.
///
/// s(a) = 2 + a·V(a), where V runs smoothly from 1.596 at a = 0 to √(2π) as a → ∞; V is a
/// polynomial (Horner) in u = (K + NORMAL_C2·a)/(K + a), K = 3, which maps [0, A] onto
/// [−1, 1]. Near a = 0 the error of V is damped by a·V/s; elsewhere the leading a·c₀ is
/// added last, so the rest of V is damped too. Nothing cancels: Φ(−a) is a
/// quotient of positive terms all the way down the tail, and the exponent −a²/2 is carried
/// exactly (a² as a sum of two values, the second folded in to first order), so the tail
/// keeps full relative precision — the erf form ½(1 + erf(x/√2)) loses every digit below
/// x ≈ −6 in f32.
#[inline(always)]
pub(crate) fn normal_tail<L: Lane>(x: L) -> (L, L, L, L) {
    let t = x.token();
    let a = L::clamp_hi(x.vabs(), L::splat(t, L::E::NORMAL_A));
    let kk = L::splat(t, L::E::NORMAL_K);
    let den = kk + a;
    let u = a.fma(L::splat(t, L::E::NORMAL_C2), kk) / den;
    // s = a·c₀ + (2 + a·(V − c₀)): the large term a·c₀ rounds only in the last FMA, and
    // V − c₀ = u·P(u) carries its own error into s at a fifth of its weight or less
    let c = L::E::NORMAL_POLY;
    let w = u * horner(u, &c[1..]);
    let s = a.fma(L::splat(t, c[0]), a.fma(w, L::splat(t, L::E::K2)));
    let (sq, sq_lo) = two_square(a);
    let half = L::splat(t, L::E::KHALF);
    // e^(−(sq + sq_lo)/2) = e^(−sq/2)·(1 − sq_lo/2 + O(sq_lo²)); sq/2 is exact
    let (e, e_lo) = exp_nonpos_split(-(sq * half));
    let e_lo = e.fma(-(sq_lo * half), e_lo);
    (s, e, e_lo, a)
}

/// eˣ for x ≤ 0 (or NaN) as an unevaluated sum hi + lo, to about 0.4 u (the reduction's
/// rounding): [`exp_nonpos`]'s polynomial 1 + m kept as two values (Fast2Sum, |m| < 1) and
/// both scaled by 2ⁿ (exactly, where the result is normal). hi is `exp_nonpos`'s result
/// except on AVX-512, whose `vscalef` path rounds the same value differently only below the
/// normal range.
#[inline(always)]
fn exp_nonpos_split<L: Lane>(x: L) -> (L, L) {
    let t = x.token();
    let xc = L::clamp_lo(x, L::splat(t, L::E::EXP_LO));
    let (nm, _, r) = reduce(xc);
    let q = horner(r, L::E::EXPM1_POLY);
    let m = (r * r).fma(q, r);
    let one = L::splat(t, L::E::K1);
    let p = one + m;
    let p_lo = (one - p) + m;
    let scale = L::pow2i(nm, L::splat(t, L::E::MAGIC_LESS_64));
    let k = L::splat(t, L::E::POW2_NEG_64);
    ((p * scale) * k, (p_lo * scale) * k)
}

/// The positive normal finite numbers, [MIN_NORMAL, +∞), as a guarded op's range (see
/// [`UnaryOp::fast_range`](super::ops::UnaryOp::fast_range)).
pub(crate) fn pos_normal<T: Consts>() -> (T, T) {
    (T::MIN_NORMAL, T::INF)
}

/// ln y + c/y for y > 0 (other lanes: anything, the callers replace them): a subnormal y is
/// scaled by 2^P first (and P taken off its exponent), then [`ln_reduced`]. `c` (for
/// ln(1 + x)) is the rounding error of y = 1 + x: ln(y + c) = ln y + c/y to within (c/y)²/2,
/// below u² relative. For a normal y the scaling multiplies by 1 and subtracts 0, so these
/// are [`ln_normal`]'s bits there.
#[inline(always)]
fn ln_core<L: Lane>(y: L, c: Option<L>) -> L {
    let t = y.token();
    let (one, zero) = (L::splat(t, L::E::K1), L::splat(t, L::E::K0));
    let min = L::splat(t, L::E::MIN_NORMAL);
    let ys = y * L::sel_lt(y, min, L::splat(t, L::E::SUBNORMAL_SCALE), one);
    let (k, f) = ys.split_exp();
    let k = k - L::sel_lt(y, min, L::splat(t, L::E::SUBNORMAL_BITS), zero);
    ln_reduced::<L, false>(k, f, c.map(|c| c / y))
}

/// ln y (−ln y for `NEG`) for a positive normal finite y (in [`pos_normal`]): [`ln_reduced`]
/// without the subnormal scaling, so the same bits as [`ln`] (negated: exactly) there, in
/// fewer operations. Other lanes: anything.
#[inline(always)]
pub(crate) fn ln_normal<L: Lane, const NEG: bool>(y: L) -> L {
    let (k, f) = y.split_exp();
    ln_reduced::<L, NEG>(k, f, None)
}

/// k·ln 2 + ln f + e (for `NEG` its exact negation: the last subtraction and FMA take
/// negated operands, and rounding is symmetric) for f ∈ [√½, √2), e a small correction (see [`ln_core`]). r = f − 1 is exact (Sterbenz),
/// and ln f = r − r²/2 + T with the tail T from one of two forms:
///
/// - f32 ([`Consts::LN_R_POLY`] not empty): T = r³·P(r), P a minimax fit over the interval
///   (no division);
/// - f64: s = r/(2 + r), ln f = 2·atanh(s) = r − r²/2 + s·(r²/2 + R(s²)) with R = z·P(z) the
///   atanh series' tail ([`Consts::LN_POLY`]): a polynomial in r would need about twenty
///   terms for f64's precision.
///
/// The sum is arranged so that r, the largest term, is added last but one and k·ln2 (its
/// high part exact) last: every smaller term carries its rounding at a fraction of the
/// result's ulp, so the result is within 1 ulp.
#[inline(always)]
fn ln_reduced<L: Lane, const NEG: bool>(k: L, f: L, e: Option<L>) -> L {
    let t = k.token();
    let r = f - L::splat(t, L::E::K1);
    let hfsq = L::splat(t, L::E::KHALF) * (r * r);
    // k·ln2 = k·LN2_HI (exact: few bits in each) + k·LN2_LO
    let low = k * -L::splat(t, L::E::NEG_LN2_LO);
    let low = match e {
        Some(e) => low + e,
        None => low,
    };
    let lo = if L::E::LN_R_POLY.is_empty() {
        let s = r / (L::splat(t, L::E::K2) + r);
        let z = s * s;
        let tail = z * horner(z, L::E::LN_POLY);
        s.fma(hfsq + tail, low)
    } else {
        (r * r * r).fma(horner(r, L::E::LN_R_POLY), low)
    };
    if NEG {
        k.fma(L::splat(t, L::E::NEG_LN2_HI), (hfsq - lo) - r)
    } else {
        k.fma(-L::splat(t, L::E::NEG_LN2_HI), r - (hfsq - lo))
    }
}

/// The non-finite and out-of-domain lanes of ln(y): +∞ at y = +∞, −∞ at y = ±0, NaN below
/// 0 and for NaN; `v` elsewhere.
#[inline(always)]
fn ln_specials<L: Lane>(y: L, v: L) -> L {
    let t = y.token();
    let (zero, inf) = (L::splat(t, L::E::K0), L::splat(t, L::E::INF));
    let v = L::sel_ge(y, inf, inf, v);
    let v = L::sel_gt(y, zero, v, L::sel_lt(y, zero, L::splat(t, L::E::QNAN), -inf));
    L::keep_nan(y, v)
}

/// ln x: within 1 ulp over every input, subnormals included; ln(+∞) = +∞, ln(±0) = −∞,
/// ln of a negative number or NaN is NaN. Branch-free ([`ln_core`]); [`ln_normal`] gives
/// the same bits on positive normal x.
#[inline(always)]
pub(crate) fn ln<L: Lane>(x: L) -> L {
    ln_specials(x, ln_core(x, None))
}

/// ln(1 + x), accurate relative to the result also for tiny x: y = 1 + x rounded, its error
/// c = x − (y − 1) (or 1 − (y − x) for x > 1: Fast2Sum with the larger operand first, exact)
/// corrects ln y by c/y. ln_1p(±0) = ±0, ln_1p(−1) = −∞, NaN below −1, ln_1p(+∞) = +∞.
#[inline(always)]
pub(crate) fn ln_1p<L: Lane>(x: L) -> L {
    let t = x.token();
    let one = L::splat(t, L::E::K1);
    let y = one + x;
    let c = L::sel_gt(x, one, one - (y - x), x - (y - one));
    let v = ln_specials(y, ln_core(y, Some(c)));
    // ±0 (and NaN) as they are: the sum above turns −0 into +0
    L::sel_gt(x.vabs(), L::splat(t, L::E::K0), v, x)
}
