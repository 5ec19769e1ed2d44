//! `Lane`: the operations the math bodies need, over one vector type per instruction set,
//! and `X4`, four values of a lane type as one. The lane types themselves sit above the math
//! bodies that their exponentials call: one element, `wide`'s vectors and `Std` in
//! `portable.rs`, 512-bit registers in `avx512.rs`.
//!
//! A value of a lane type is the proof that its instruction set is present: the constructors
//! ([`Lane::splat`], [`Lane::load`]) take the type's [`Lane::Token`], and a value hands its
//! token on ([`Lane::token`]), so a body makes its constants from its argument. The portable
//! types' token is `()`; the AVX-512 types' token can only be made where the CPU was checked.

use super::consts::Consts;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// One lane type of the math bodies in `math.rs`.
pub trait Lane:
    Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self> + Neg<Output = Self>
{
    /// The element type.
    type E: Consts;
    /// The proof that this type's instructions may run (`()` where they always may).
    type Token: Copy;
    /// Elements per lane value.
    const N: usize;
    /// Whether [`Lane::fma`] rounds once (a fused multiply-add instruction) on this type:
    /// then `a.fma(b, -(a·b))` is the exact rounding error of a product. Where it is false
    /// the bodies use an FMA-free form of the same exact value (so the choice never shows in
    /// the result).
    const FUSED: bool = false;
    /// The token this value proves.
    fn token(self) -> Self::Token;
    /// Every lane `v`.
    fn splat(t: Self::Token, v: Self::E) -> Self;
    /// Loads `N` elements from the front of `s` (`s.len() ≥ N`).
    fn load(t: Self::Token, s: &[Self::E]) -> Self;
    /// Stores `N` elements to the front of `s` (`s.len() ≥ N`).
    fn store(self, s: &mut [Self::E]);
    /// Loads the `s.len() < N` elements of `s`, the other lanes 0 (a slice's tail).
    #[inline(always)]
    fn load_partial(t: Self::Token, s: &[Self::E]) -> Self {
        let mut buf = [Self::E::K0; 16];
        let n = s.len().min(Self::N);
        buf[..n].copy_from_slice(&s[..n]);
        Self::load(t, &buf)
    }
    /// Stores the first `s.len() < N` lanes to `s` (a slice's tail).
    #[inline(always)]
    fn store_partial(self, s: &mut [Self::E]) {
        let mut buf = [Self::E::K0; 16];
        self.store(&mut buf);
        let n = s.len().min(Self::N);
        s[..n].copy_from_slice(&buf[..n]);
    }
    /// self·b + c, fused where the target has FMA.
    fn fma(self, b: Self, c: Self) -> Self;
    fn vabs(self) -> Self;
    /// Minimum; NaN handling unspecified (the bodies fix NaN lanes at the end).
    fn vmin(self, o: Self) -> Self;
    /// Maximum; NaN handling unspecified.
    fn vmax(self, o: Self) -> Self;
    /// `if a ≥ b { t } else { f }` per lane (false for NaN).
    fn sel_ge(a: Self, b: Self, t: Self, f: Self) -> Self;
    /// `if a > b { t } else { f }` per lane (false for NaN).
    fn sel_gt(a: Self, b: Self, t: Self, f: Self) -> Self;
    /// `if a < b { t } else { f }` per lane (false for NaN).
    fn sel_lt(a: Self, b: Self, t: Self, f: Self) -> Self;
    /// `if x is NaN { x } else { y }` per lane.
    fn keep_nan(x: Self, y: Self) -> Self;
    /// |mag| with the sign bit of `sign`.
    fn copysign(mag: Self, sign: Self) -> Self;
    /// 2ⁿ for lanes holding integers n within the normal exponent range, built from the bits
    /// of `n + magic` (`magic` = 1.5·2^(mantissa bits), which rounds n into the low bits).
    fn pow2i(n_plus_magic: Self, magic: Self) -> Self;
    /// (k, f) with self = 2ᵏ·f and f ∈ [√½, √2), k as a value, for a positive normal (or
    /// +∞: k = the top exponent + 1, f = 1) self; any lanes for other inputs (the caller
    /// replaces them). From the bits: adding 1's bits less √½'s moves the exponent field up by
    /// one exactly where the significand is ≥ √2 (whose fraction bits are √½'s), and the
    /// fraction left over, put under √½'s exponent again, is f.
    fn split_exp(self) -> (Self, Self);
    /// `if lo > x { lo } else { x }` per lane (x when it is NaN): [`Lane::sel_gt`]'s clamp
    /// from below, one instruction where the lane type has a maximum of these semantics.
    #[inline(always)]
    fn clamp_lo(x: Self, lo: Self) -> Self {
        Self::sel_gt(lo, x, lo, x)
    }
    /// `if x > hi { hi } else { x }` per lane (x when it is NaN), as [`Lane::clamp_lo`].
    #[inline(always)]
    fn clamp_hi(x: Self, hi: Self) -> Self {
        Self::sel_gt(x, hi, hi, x)
    }
    /// self·2ⁿ for lanes holding integers n, rounded once, where the lane type has it as
    /// one instruction (AVX-512's `vscalef`); `None` elsewhere, and the bodies build the
    /// power of two from exponent bits instead (the same result, in more operations).
    #[inline(always)]
    fn scalef(self, _n: Self) -> Option<Self> {
        None
    }
    /// eˣ: `math::exp` on the vector lanes; the scalar baseline's `Std` calls `std`'s.
    fn vexp(self) -> Self;
    /// eˣ for x ≤ 0 or NaN: `math::exp_nonpos` (exp's bits); `Std` calls `std`'s exp.
    fn vexp_nonpos(self) -> Self;
    /// eˣ − 1 for 0 ≤ x ≤ 2·TANH_SAT: `math::expm1_nonneg`; `Std` calls `std`'s.
    fn vexpm1_nonneg(self) -> Self;
}

/// Four values of a lane type, each operation applied to the four in turn: the one-element
/// drivers run four independent streams of a slice through one body at once, so the
/// vectorized loop issues four exponentials' (or divisions') dependency chains side by side
/// instead of one after the other. A transcendental body is a chain of ~40 dependent
/// operations; one stream at a time, the scheduler holds too few of them to keep the FMA
/// pipes busy (sigmoid on AVX2: 1.05 ns per element with one stream, 0.70 with four,
/// measured on the 2-core Zen 3). Every element still goes through exactly the operations
/// it would alone, so the bits are the same. The whole-vector drivers take four consecutive
/// vectors as one `X4` in the same way. Never loaded partially: the default partial loads
/// hold at most 16 elements.
#[derive(Clone, Copy, Debug)]
pub(crate) struct X4<L>(pub [L; 4]);

/// The four values of `$a` (each an `X4`) through `$f`, written out four times (a closure
/// called four times may be left out of line, compiled without the caller's target features).
macro_rules! each {
    (|$($v:ident),+| $f:expr; $($a:expr),+) => {
        X4([
            { $(let $v = $a.0[0];)+ $f },
            { $(let $v = $a.0[1];)+ $f },
            { $(let $v = $a.0[2];)+ $f },
            { $(let $v = $a.0[3];)+ $f },
        ])
    };
}

macro_rules! x4_op {
    ($tr:ident, $f:ident) => {
        impl<L: Lane> $tr for X4<L> {
            type Output = Self;
            #[inline(always)]
            fn $f(self, o: Self) -> Self {
                each!(|a, b| a.$f(b); self, o)
            }
        }
    };
}

x4_op!(Add, add);
x4_op!(Sub, sub);
x4_op!(Mul, mul);
x4_op!(Div, div);

impl<L: Lane> Neg for X4<L> {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        each!(|a| -a; self)
    }
}

impl<L: Lane> Lane for X4<L> {
    type E = L::E;
    type Token = L::Token;
    const N: usize = 4 * L::N;
    const FUSED: bool = L::FUSED;
    #[inline(always)]
    fn token(self) -> L::Token {
        self.0[0].token()
    }
    #[inline(always)]
    fn splat(t: L::Token, v: L::E) -> Self {
        let s = L::splat(t, v);
        X4([s, s, s, s])
    }
    #[inline(always)]
    fn load(t: L::Token, s: &[L::E]) -> Self {
        let n = L::N;
        X4([
            L::load(t, s),
            L::load(t, &s[n..]),
            L::load(t, &s[2 * n..]),
            L::load(t, &s[3 * n..]),
        ])
    }
    #[inline(always)]
    fn store(self, s: &mut [L::E]) {
        let n = L::N;
        self.0[0].store(s);
        self.0[1].store(&mut s[n..]);
        self.0[2].store(&mut s[2 * n..]);
        self.0[3].store(&mut s[3 * n..]);
    }
    #[inline(always)]
    fn fma(self, b: Self, c: Self) -> Self {
        each!(|a, b, c| a.fma(b, c); self, b, c)
    }
    #[inline(always)]
    fn vabs(self) -> Self {
        each!(|a| a.vabs(); self)
    }
    #[inline(always)]
    fn vmin(self, o: Self) -> Self {
        each!(|a, b| a.vmin(b); self, o)
    }
    #[inline(always)]
    fn vmax(self, o: Self) -> Self {
        each!(|a, b| a.vmax(b); self, o)
    }
    #[inline(always)]
    fn sel_ge(a: Self, b: Self, t: Self, f: Self) -> Self {
        each!(|a, b, t, f| L::sel_ge(a, b, t, f); a, b, t, f)
    }
    #[inline(always)]
    fn sel_gt(a: Self, b: Self, t: Self, f: Self) -> Self {
        each!(|a, b, t, f| L::sel_gt(a, b, t, f); a, b, t, f)
    }
    #[inline(always)]
    fn sel_lt(a: Self, b: Self, t: Self, f: Self) -> Self {
        each!(|a, b, t, f| L::sel_lt(a, b, t, f); a, b, t, f)
    }
    #[inline(always)]
    fn keep_nan(x: Self, y: Self) -> Self {
        each!(|x, y| L::keep_nan(x, y); x, y)
    }
    #[inline(always)]
    fn copysign(mag: Self, sign: Self) -> Self {
        each!(|m, s| L::copysign(m, s); mag, sign)
    }
    #[inline(always)]
    fn pow2i(n_plus_magic: Self, magic: Self) -> Self {
        each!(|n, m| L::pow2i(n, m); n_plus_magic, magic)
    }
    #[inline(always)]
    fn split_exp(self) -> (Self, Self) {
        // (written out, not `array::map`: that one may be left out of line, compiled
        // without the caller's target features, and ln on 512-bit lanes ran 10× slower)
        let [a, b, c, d] = self.0;
        let (a, b, c, d) = (a.split_exp(), b.split_exp(), c.split_exp(), d.split_exp());
        (X4([a.0, b.0, c.0, d.0]), X4([a.1, b.1, c.1, d.1]))
    }
    #[inline(always)]
    fn clamp_lo(x: Self, lo: Self) -> Self {
        each!(|x, lo| L::clamp_lo(x, lo); x, lo)
    }
    #[inline(always)]
    fn clamp_hi(x: Self, hi: Self) -> Self {
        each!(|x, hi| L::clamp_hi(x, hi); x, hi)
    }
    #[inline(always)]
    fn scalef(self, n: Self) -> Option<Self> {
        let [a, b, c, d] = self.0;
        let [na, nb, nc, nd] = n.0;
        Some(X4([a.scalef(na)?, b.scalef(nb)?, c.scalef(nc)?, d.scalef(nd)?]))
    }
    #[inline(always)]
    fn vexp(self) -> Self {
        each!(|a| a.vexp(); self)
    }
    #[inline(always)]
    fn vexp_nonpos(self) -> Self {
        each!(|a| a.vexp_nonpos(); self)
    }
    #[inline(always)]
    fn vexpm1_nonneg(self) -> Self {
        each!(|a| a.vexpm1_nonneg(); self)
    }
}
