//! `Real`: the scalar arithmetic of the element types, `f32` and `f64`: the bottom of the
//! element traits. It imports nothing from the crate; the SIMD layer's `SimdFloat`, the GEMM's
//! `GemmFloat` and the public facade [`Float`](crate::Float) build on it.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

mod sealed {
    /// Unnameable outside the crate: it seals [`Real`](super::Real) to `f32` and `f64`.
    pub trait Sealed {}
}

/// The scalar arithmetic of nnkern's element types, `f32` and `f64`: constants, conversions
/// and the elementary functions, with `std`'s semantics for each type.
///
/// It is the first supertrait of [`Float`](crate::Float), the bound of every kernel: generic
/// code bounded by `T: Float` calls these items directly (`T::ONE`, `x.exp()`). Code that
/// names a concrete type (`f32::from_f64`) needs `Real` itself in scope, as any trait's
/// associated functions do. Sealed: implemented for `f32` and `f64` only.
///
/// # Example
///
/// ```
/// use nnkern::Real;
///
/// fn logistic<T: Real>(x: T) -> T {
///     T::ONE / (T::ONE + (-x).exp())
/// }
/// assert_eq!(logistic(0.0_f32), 0.5);
/// assert_eq!(logistic(0.0_f64), 0.5);
/// assert_eq!(f32::from_f64(0.1), 0.1_f32);
/// assert_eq!(<f64 as Real>::NAME, "f64");
/// ```
pub trait Real:
    sealed::Sealed
    + Copy
    + Send
    + Sync
    + Debug
    + Display
    + Default
    + PartialEq
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
    + 'static
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// 1/2.
    const HALF: Self;
    /// +∞.
    const INFINITY: Self;
    /// −∞.
    const NEG_INFINITY: Self;
    /// A quiet NaN.
    const NAN: Self;
    /// Machine epsilon: the distance from 1 to the next larger value (2⁻²³ or 2⁻⁵²).
    const EPSILON: Self;
    /// The largest finite value.
    const MAX: Self;
    /// The smallest positive normal value.
    const MIN_POSITIVE: Self;
    /// The type's name, `"f32"` or `"f64"`, for messages and reports.
    const NAME: &'static str;

    /// The nearest value to `v` (round to nearest, ties to even).
    fn from_f64(v: f64) -> Self;
    /// `self` widened (or kept) as `f64`, exactly.
    fn to_f64(self) -> f64;
    /// `n` rounded to the nearest value of the type.
    fn from_usize(n: usize) -> Self;
    /// eˣ.
    fn exp(self) -> Self;
    /// Natural logarithm; ln(0) = −∞, ln(x < 0) = NaN.
    fn ln(self) -> Self;
    /// ln(1 + x), accurate near 0.
    fn ln_1p(self) -> Self;
    /// eˣ − 1, accurate near 0.
    fn exp_m1(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// |x|.
    fn abs(self) -> Self;
    /// The larger of two values; if one is NaN, the other (IEEE maxNum, as `f32::max`).
    fn max(self, other: Self) -> Self;
    /// The smaller of two values; if one is NaN, the other (IEEE minNum, as `f32::min`).
    fn min(self, other: Self) -> Self;
    /// True for NaN.
    fn is_nan(self) -> bool;
    /// True unless ±∞ or NaN.
    fn is_finite(self) -> bool;
    /// √x.
    fn sqrt(self) -> Self;
}

macro_rules! impl_real {
    ($t:ident) => {
        impl sealed::Sealed for $t {}

        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const HALF: Self = 0.5;
            const INFINITY: Self = $t::INFINITY;
            const NEG_INFINITY: Self = $t::NEG_INFINITY;
            const NAN: Self = $t::NAN;
            const EPSILON: Self = $t::EPSILON;
            const MAX: Self = $t::MAX;
            const MIN_POSITIVE: Self = $t::MIN_POSITIVE;
            const NAME: &'static str = stringify!($t);

            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn from_usize(n: usize) -> Self {
                n as $t
            }
            #[inline(always)]
            fn exp(self) -> Self {
                $t::exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                $t::ln(self)
            }
            #[inline(always)]
            fn ln_1p(self) -> Self {
                $t::ln_1p(self)
            }
            #[inline(always)]
            fn exp_m1(self) -> Self {
                $t::exp_m1(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                $t::tanh(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                $t::abs(self)
            }
            #[inline(always)]
            fn max(self, other: Self) -> Self {
                $t::max(self, other)
            }
            #[inline(always)]
            fn min(self, other: Self) -> Self {
                $t::min(self, other)
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                $t::is_nan(self)
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                $t::is_finite(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                $t::sqrt(self)
            }
        }
    };
}

impl_real!(f32);
impl_real!(f64);
