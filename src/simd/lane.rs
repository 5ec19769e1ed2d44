//! `Lane`: the operations the math bodies need, for one element (`f32`, `f64`: compiled inside
//! `#[target_feature]` functions, where LLVM vectorizes the loops over them) and for `wide`'s
//! portable vectors (`f32x8`, `f64x4`).

use std::ops::{Add, Div, Mul, Neg, Sub};
use wide::{f32x8, f64x4, u32x8, u64x4};

/// One lane type of the math bodies in `math.rs`.
pub trait Lane:
    Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self> + Neg<Output = Self>
{
    /// The element type.
    type E: Copy;
    /// Elements per lane value.
    const N: usize;
    fn splat(v: Self::E) -> Self;
    /// Loads `N` elements from the front of `s` (`s.len() ≥ N`).
    fn load(s: &[Self::E]) -> Self;
    /// Stores `N` elements to the front of `s` (`s.len() ≥ N`).
    fn store(self, s: &mut [Self::E]);
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
}

macro_rules! scalar_lane {
    ($t:ty, $bits:ty, $mant:expr, $bias:expr) => {
        impl Lane for $t {
            type E = $t;
            const N: usize = 1;
            #[inline(always)]
            fn splat(v: $t) -> Self {
                v
            }
            #[inline(always)]
            fn load(s: &[$t]) -> Self {
                s[0]
            }
            #[inline(always)]
            fn store(self, s: &mut [$t]) {
                s[0] = self;
            }
            #[inline(always)]
            fn fma(self, b: Self, c: Self) -> Self {
                // Only used where the enclosing function enables `fma`: one instruction.
                self.mul_add(b, c)
            }
            #[inline(always)]
            fn vabs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn vmin(self, o: Self) -> Self {
                if self < o { self } else { o }
            }
            #[inline(always)]
            fn vmax(self, o: Self) -> Self {
                if self > o { self } else { o }
            }
            #[inline(always)]
            fn sel_ge(a: Self, b: Self, t: Self, f: Self) -> Self {
                if a >= b { t } else { f }
            }
            #[inline(always)]
            fn sel_gt(a: Self, b: Self, t: Self, f: Self) -> Self {
                if a > b { t } else { f }
            }
            #[inline(always)]
            fn sel_lt(a: Self, b: Self, t: Self, f: Self) -> Self {
                if a < b { t } else { f }
            }
            #[inline(always)]
            fn keep_nan(x: Self, y: Self) -> Self {
                if x.is_nan() { x } else { y }
            }
            #[inline(always)]
            fn copysign(mag: Self, sign: Self) -> Self {
                <$t>::copysign(mag, sign)
            }
            #[inline(always)]
            fn pow2i(n_plus_magic: Self, magic: Self) -> Self {
                let n = n_plus_magic.to_bits().wrapping_sub(magic.to_bits());
                <$t>::from_bits(n.wrapping_add($bias) << $mant)
            }
        }
    };
}

scalar_lane!(f32, u32, 23, 127);
scalar_lane!(f64, u64, 52, 1023);

macro_rules! wide_lane {
    ($v:ty, $t:ty, $u:ty, $n:expr, $mant:expr, $bias:expr) => {
        impl Lane for $v {
            type E = $t;
            const N: usize = $n;
            #[inline(always)]
            fn splat(v: $t) -> Self {
                <$v>::splat(v)
            }
            #[inline(always)]
            fn load(s: &[$t]) -> Self {
                let a: [$t; $n] = s[..$n].try_into().expect("a full lane");
                <$v>::new(a)
            }
            #[inline(always)]
            fn store(self, s: &mut [$t]) {
                s[..$n].copy_from_slice(&self.to_array());
            }
            #[inline(always)]
            fn fma(self, b: Self, c: Self) -> Self {
                self.mul_add(b, c)
            }
            #[inline(always)]
            fn vabs(self) -> Self {
                <$v>::abs(self)
            }
            #[inline(always)]
            fn vmin(self, o: Self) -> Self {
                <$v>::fast_min(self, o)
            }
            #[inline(always)]
            fn vmax(self, o: Self) -> Self {
                <$v>::fast_max(self, o)
            }
            #[inline(always)]
            fn sel_ge(a: Self, b: Self, t: Self, f: Self) -> Self {
                a.simd_ge(b).select(t, f)
            }
            #[inline(always)]
            fn sel_gt(a: Self, b: Self, t: Self, f: Self) -> Self {
                a.simd_gt(b).select(t, f)
            }
            #[inline(always)]
            fn sel_lt(a: Self, b: Self, t: Self, f: Self) -> Self {
                a.simd_lt(b).select(t, f)
            }
            #[inline(always)]
            fn keep_nan(x: Self, y: Self) -> Self {
                x.is_nan().select(x, y)
            }
            #[inline(always)]
            fn copysign(mag: Self, sign: Self) -> Self {
                let s = <$v>::splat(-0.0);
                (mag & !s) | (sign & s)
            }
            #[inline(always)]
            fn pow2i(n_plus_magic: Self, magic: Self) -> Self {
                let n: $u =
                    wide::bytemuck::cast::<$v, $u>(n_plus_magic) - wide::bytemuck::cast::<$v, $u>(magic);
                wide::bytemuck::cast::<$u, $v>((n + <$u>::splat($bias)) << $mant)
            }
        }
    };
}

wide_lane!(f32x8, f32, u32x8, 8, 23, 127);
wide_lane!(f64x4, f64, u64x4, 4, 52, 1023);
