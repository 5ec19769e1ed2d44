//! The public facade `Float`: the element traits of the crate's layers in one bound.
//!
//! Each layer has its own element trait, and none imports a layer above it: `real.rs` holds
//! the scalar arithmetic ([`Real`]), the SIMD layer's `SimdFloat` adds the vector bodies on
//! top of it, the GEMM's `GemmFloat` the engine calls and packing buffers on top of that
//! (the kernels' bodies in `crate::ops` take `KernelFloat`, which is `GemmFloat` by another
//! name), and `entry.rs`'s `Entry` the bodies compiled once per type. `Float` is their sum,
//! the one bound of the public kernels (`crate::kernels`); it adds no items of its own.

use crate::entry::Entry;
use crate::gemm::GemmFloat;
use crate::real::Real;

pub(crate) mod sealed {
    /// The crate-private element traits, gathered: unnameable outside the crate, it seals
    /// [`Float`](super::Float) to `f32` and `f64`. Every hook it brings takes a token only the
    /// crate can make (`simd::Internal`) as its first argument.
    pub trait Sealed: crate::gemm::GemmFloat + crate::entry::Entry {}
}

/// A floating-point element type of nnkern's kernels: implemented for `f32` and `f64` only.
///
/// Every kernel is generic over `Float`, so one body serves both types. Its scalar items
/// (constants, conversions, `exp`, `ln`, `max`, …) are those of its supertrait [`Real`],
/// usable directly on any `T: Float`. The trait is sealed: it also carries private per-type
/// hooks (the GEMM engine calls, the SIMD slice kernels) that users neither implement nor
/// call — each takes a token only the crate can make, so not even a `T: Float` bound (which
/// brings supertrait methods into scope) reaches them:
///
/// ```compile_fail
/// fn fma<T: nnkern::Float>(x: T) -> T {
///     x.fused_mul_add(x, x) // a hook: its first argument is a token nnkern keeps to itself
/// }
/// ```
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
/// // a concrete type's associated functions need `Real` in scope:
/// use nnkern::Real;
/// assert_eq!(f32::from_f64(0.1), 0.1_f32);
/// ```
pub trait Float: Real + sealed::Sealed {}

impl<T: Real + GemmFloat + Entry> sealed::Sealed for T {}
impl Float for f32 {}
impl Float for f64 {}
