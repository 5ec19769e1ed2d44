//! The lane types that need no CPU check: one element (`f32`, `f64`: compiled inside
//! `#[target_feature]` functions, where LLVM vectorizes the loops over them), `wide`'s
//! portable vectors (`f32x8`, `f64x4`), and [`Std`] (one element over `std`'s exponentials:
//! the scalar baseline).

use super::lane::Lane;
use super::math;
use std::ops::{Add, Div, Mul, Neg, Sub};
use wide::{f32x8, f64x4, u32x8, u64x4};

macro_rules! scalar_lane {
    ($t:ty, $bits:ty, $mant:expr, $bias:expr, $sqrth:expr) => {
        impl Lane for $t {
            type E = $t;
            type Token = ();
            const N: usize = 1;
            // (`mul_add` rounds once on any target: one instruction inside the `fma`
            // functions this lane runs in, see `fma` below)
            const FUSED: bool = true;
            math::lane_exps!();
            #[inline(always)]
            fn token(self) {}
            #[inline(always)]
            fn splat(_: (), v: $t) -> Self {
                v
            }
            #[inline(always)]
            fn load(_: (), s: &[$t]) -> Self {
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
            #[inline(always)]
            fn split_exp(self) -> (Self, Self) {
                let one: $bits = $bias << $mant;
                let b = self.to_bits().wrapping_add(one.wrapping_sub($sqrth));
                let f = <$t>::from_bits((b & ((1 << $mant) - 1)) + $sqrth);
                // the exponent field as a value: 2^P + field, less 2^P + bias (exact)
                let big: $bits = ($bias + $mant) << $mant;
                let k = <$t>::from_bits((b >> $mant) | big) - (<$t>::from_bits(big) + $bias as $t);
                (k, f)
            }
        }
    };
}

scalar_lane!(f32, u32, 23, 127, 0x3F35_04F3);
scalar_lane!(f64, u64, 52, 1023, 0x3FE6_A09E_667F_3BCD);

macro_rules! wide_lane {
    ($v:ty, $t:ty, $u:ty, $bits:ty, $n:expr, $mant:expr, $bias:expr, $sqrth:expr) => {
        impl Lane for $v {
            type E = $t;
            type Token = ();
            const N: usize = $n;
            math::lane_exps!();
            #[inline(always)]
            fn token(self) {}
            #[inline(always)]
            fn splat(_: (), v: $t) -> Self {
                <$v>::splat(v)
            }
            #[inline(always)]
            fn load(_: (), s: &[$t]) -> Self {
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
            #[inline(always)]
            fn split_exp(self) -> (Self, Self) {
                // as the scalar lanes' (wrapping lane arithmetic)
                let one: $bits = $bias << $mant;
                let b = wide::bytemuck::cast::<$v, $u>(self) + <$u>::splat(one.wrapping_sub($sqrth));
                let f =
                    wide::bytemuck::cast::<$u, $v>((b & <$u>::splat((1 << $mant) - 1)) + <$u>::splat($sqrth));
                let big: $bits = ($bias + $mant) << $mant;
                let k = wide::bytemuck::cast::<$u, $v>((b >> $mant) | <$u>::splat(big))
                    - <$v>::splat(<$t>::from_bits(big) + $bias as $t);
                (k, f)
            }
        }
    };
}

wide_lane!(f32x8, f32, u32x8, u32, 8, 23, 127, 0x3F35_04F3);
wide_lane!(f64x4, f64, u64x4, u64, 4, 52, 1023, 0x3FE6_A09E_667F_3BCD);

/// One element whose exponentials are `std`'s (`exp`, `exp_m1`): the scalar path, the benches'
/// baseline, running the same bodies as the vector paths around them.
#[derive(Clone, Copy, Debug)]
pub struct Std<T>(pub T);

macro_rules! std_lane {
    ($t:ty) => {
        impl Lane for Std<$t> {
            type E = $t;
            type Token = ();
            const N: usize = 1;
            #[inline(always)]
            fn token(self) {}
            #[inline(always)]
            fn splat(_: (), v: $t) -> Self {
                Std(v)
            }
            #[inline(always)]
            fn load(_: (), s: &[$t]) -> Self {
                Std(s[0])
            }
            #[inline(always)]
            fn store(self, s: &mut [$t]) {
                s[0] = self.0;
            }
            #[inline(always)]
            fn fma(self, b: Self, c: Self) -> Self {
                // no FMA instruction is assumed on this path: a product and a sum
                Std(self.0 * b.0 + c.0)
            }
            #[inline(always)]
            fn vabs(self) -> Self {
                Std(self.0.vabs())
            }
            #[inline(always)]
            fn vmin(self, o: Self) -> Self {
                Std(self.0.vmin(o.0))
            }
            #[inline(always)]
            fn vmax(self, o: Self) -> Self {
                Std(self.0.vmax(o.0))
            }
            #[inline(always)]
            fn sel_ge(a: Self, b: Self, t: Self, f: Self) -> Self {
                Std(<$t>::sel_ge(a.0, b.0, t.0, f.0))
            }
            #[inline(always)]
            fn sel_gt(a: Self, b: Self, t: Self, f: Self) -> Self {
                Std(<$t>::sel_gt(a.0, b.0, t.0, f.0))
            }
            #[inline(always)]
            fn sel_lt(a: Self, b: Self, t: Self, f: Self) -> Self {
                Std(<$t>::sel_lt(a.0, b.0, t.0, f.0))
            }
            #[inline(always)]
            fn keep_nan(x: Self, y: Self) -> Self {
                Std(<$t>::keep_nan(x.0, y.0))
            }
            #[inline(always)]
            fn copysign(mag: Self, sign: Self) -> Self {
                Std(mag.0.copysign(sign.0))
            }
            #[inline(always)]
            fn pow2i(n_plus_magic: Self, magic: Self) -> Self {
                Std(<$t>::pow2i(n_plus_magic.0, magic.0))
            }
            #[inline(always)]
            fn split_exp(self) -> (Self, Self) {
                let (k, f) = self.0.split_exp();
                (Std(k), Std(f))
            }
            #[inline(always)]
            fn vexp(self) -> Self {
                Std(self.0.exp())
            }
            #[inline(always)]
            fn vexp_nonpos(self) -> Self {
                Std(self.0.exp())
            }
            #[inline(always)]
            fn vexpm1_nonneg(self) -> Self {
                Std(self.0.exp_m1())
            }
        }
        impl Add for Std<$t> {
            type Output = Self;
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                Std(self.0 + o.0)
            }
        }
        impl Sub for Std<$t> {
            type Output = Self;
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                Std(self.0 - o.0)
            }
        }
        impl Mul for Std<$t> {
            type Output = Self;
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                Std(self.0 * o.0)
            }
        }
        impl Div for Std<$t> {
            type Output = Self;
            #[inline(always)]
            fn div(self, o: Self) -> Self {
                Std(self.0 / o.0)
            }
        }
        impl Neg for Std<$t> {
            type Output = Self;
            #[inline(always)]
            fn neg(self) -> Self {
                Std(-self.0)
            }
        }
    };
}

std_lane!(f32);
std_lane!(f64);
