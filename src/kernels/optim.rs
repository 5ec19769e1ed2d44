//! The optimisers' updates: calls of the bodies in `crate::ops::optim`.

use crate::error::Result;
use crate::float::Float;
use crate::ops::optim::{AdamConsts, AdamParams, SgdParams};
use crate::simd::{Internal, Isa};

/// Plain SGD: p ← p − lr·g, elementwise.
///
/// Shapes: `params` and `grads` have the same length.
///
/// # Errors
///
/// [`ErrorKind::Length`](crate::ErrorKind::Length) naming `grads` if the lengths differ; [`ErrorKind::Value`](crate::ErrorKind::Value) naming
/// `lr` unless it is finite and ≥ 0. Nothing is updated then.
///
/// # Example
///
/// ```
/// let mut p = [1.0_f32, 2.0];
/// nnkern::sgd_update(&mut p, &[0.5, -1.0], 0.1)?;
/// assert_eq!(p, [0.95, 2.1]);
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn sgd_update<T: Float>(params: &mut [T], grads: &[T], lr: T) -> Result<()> {
    T::sgd_update(Internal, params, grads, lr)
}

/// One SGD step with momentum, as PyTorch's `SGD` with `dampening = 0`, elementwise:
/// g ← g + λp; b ← μb + g; g ← g + μb (Nesterov) or g ← b; p ← p − lr·g.
///
/// Shapes: `params`, `grads` and `velocity` (the momentum buffer b) have the same length;
/// `velocity` starts at zero and is kept between steps (with μ = 0 it is not read or written
/// and may be empty).
///
/// # Errors
///
/// [`ErrorKind::Length`](crate::ErrorKind::Length) naming `grads` or `velocity`; [`ErrorKind::Value`](crate::ErrorKind::Value) naming `lr`,
/// `momentum` or `weight_decay` unless it is finite and ≥ 0, or `nesterov` if it is set with
/// μ = 0 (PyTorch refuses it too). Nothing is updated then.
///
/// # Example
///
/// ```
/// use nnkern::{SgdParams, sgd_momentum_update};
///
/// let hp = SgdParams::default().lr(0.5).momentum(0.9);
/// let (mut p, mut b) = ([1.0_f64], [0.0]);
/// sgd_momentum_update(&mut p, &[1.0], &mut b, &hp)?; // b = 1, p = 1 − 0.5
/// sgd_momentum_update(&mut p, &[1.0], &mut b, &hp)?; // b = 1.9, p = 0.5 − 0.95
/// assert!((p[0] + 0.45).abs() < 1e-12);
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn sgd_momentum_update<T: Float>(
    params: &mut [T],
    grads: &[T],
    velocity: &mut [T],
    hp: &SgdParams<T>,
) -> Result<()> {
    T::sgd_momentum_update(Internal, params, grads, velocity, hp)
}

/// [`sgd_momentum_update`] without its checks, on `isa`'s path: for callers that checked the
/// lengths (the velocity's only when μ ≠ 0) and the hyper-parameters once for many tensors.
pub(crate) fn sgd_apply<T: Float>(isa: Isa, p: &mut [T], g: &[T], b: &mut [T], hp: &SgdParams<T>) {
    T::sgd_apply(Internal, isa, p, g, b, hp)
}

/// One Adam (or AdamW) step, number `step` ≥ 1, elementwise as PyTorch's `Adam`/`AdamW`:
/// g ← g + λp (Adam with λ > 0) or p ← p·(1 − lr·λ) (AdamW);
/// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
/// p ← p − (lr/c₁)·m / (√v/√c₂ + ε), with cᵢ = 1 − βᵢ^step (so m/c₁ and v/c₂ are the
/// bias-corrected moments m̂ and v̂).
///
/// Shapes: `params`, `grads`, `m`, `v` have the same length; `m` and `v` start at zero and
/// are kept between steps.
///
/// # Errors
///
/// [`ErrorKind::Length`](crate::ErrorKind::Length) naming `grads`, `m` or `v`; [`ErrorKind::Value`](crate::ErrorKind::Value) naming `step` if it
/// is 0, `lr` or `weight_decay` unless it is finite and ≥ 0, `beta1` or `beta2` unless it
/// lies in [0, 1), or `eps` unless it is finite and > 0 (β = 1 would divide by 1 − βᵗ = 0,
/// and ε = 0 gives 0/0 = NaN for a gradient that has been 0). Nothing is updated then.
///
/// # Example
///
/// ```
/// use nnkern::{AdamParams, adam_update};
///
/// let (mut p, mut m, mut v) = ([1.0_f64], [0.0], [0.0]);
/// adam_update(&mut p, &[2.0], &mut m, &mut v, 1, &AdamParams::default().lr(0.1))?;
/// assert!((p[0] - 0.9).abs() < 1e-6); // the first step moves each parameter by ≈ lr
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn adam_update<T: Float>(
    params: &mut [T],
    grads: &[T],
    m: &mut [T],
    v: &mut [T],
    step: u32,
    hp: &AdamParams<T>,
) -> Result<()> {
    T::adam_update(Internal, params, grads, m, v, step, hp)
}

/// [`adam_update`] without its checks, on `isa`'s path, with the step's constants computed
/// once ([`AdamConsts::new`]) for many tensors.
pub(crate) fn adam_apply<T: Float>(
    isa: Isa,
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    k: &AdamConsts<T>,
) {
    T::adam_apply(Internal, isa, p, g, m, v, k)
}
