//! The sealed `Float` trait: `f32` and `f64`, one kernel body for both.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

pub(crate) mod sealed {
    pub use crate::simd::Internal;

    /// Per-type hooks that only the crate may implement and call. Being unnameable outside the
    /// crate, it seals [`Float`](super::Float) to `f32` and `f64`.
    pub trait Sealed: Copy + crate::simd::SimdFloat + crate::entry::Entry {
        /// The calling thread's reused scratch for packing a GEMM operand (see
        /// `gemm::with_pack_buf`).
        fn pack_buf(_: Internal) -> &'static std::thread::LocalKey<std::cell::RefCell<Vec<Self>>>;

        /// C ← α·A·B + β·C on `engine`'s kernel for the type, on the calling thread only.
        ///
        /// # Safety
        ///
        /// - `a` is valid for reads at every `i·rsa + l·csa` (i < m, l < k), `b` at every
        ///   `l·rsb + j·csb` (l < k, j < n), `c` for reads and writes at every `i·rsc + j·csc`
        ///   (i < m, j < n);
        /// - the elements of C are pairwise distinct and overlap neither A nor B;
        /// - no other thread accesses C during the call.
        #[allow(clippy::too_many_arguments)]
        unsafe fn gemm_raw(
            _: Internal,
            engine: crate::gemm::GemmEngine,
            m: usize,
            k: usize,
            n: usize,
            alpha: Self,
            a: *const Self,
            rsa: isize,
            csa: isize,
            b: *const Self,
            rsb: isize,
            csb: isize,
            beta: Self,
            c: *mut Self,
            rsc: isize,
            csc: isize,
        );
    }
}

/// A floating-point element type of nnkern's kernels: implemented for `f32` and `f64` only.
///
/// Every kernel is generic over `Float`, so one body serves both types. The trait is sealed:
/// it carries private per-type hooks (the GEMM kernel, the AVX-512 slice kernels) that users
/// neither implement nor call — each takes a token only the crate can make, so not even a
/// `T: Float` bound (which brings supertrait methods into scope) reaches them:
///
/// ```compile_fail
/// fn fma<T: nnkern::Float>(x: T) -> T {
///     x.fused_mul_add(x, x) // a hook: its first argument is a token nnkern keeps to itself
/// }
/// ```
///
/// Its methods are the ones the kernels need, with `std`'s semantics for each type.
///
/// # Example
///
/// ```
/// use nnkern::Float;
///
/// fn logistic<T: Float>(x: T) -> T {
///     T::ONE / (T::ONE + (-x).exp())
/// }
/// assert_eq!(logistic(0.0_f32), 0.5);
/// assert_eq!(logistic(0.0_f64), 0.5);
/// assert_eq!(f32::from_f64(0.1), 0.1_f32);
/// ```
pub trait Float:
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

macro_rules! impl_float {
    ($t:ident) => {
        impl Float for $t {
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

impl_float!(f32);
impl_float!(f64);
