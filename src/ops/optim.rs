//! Parameter updates: SGD and Adam.

use super::check_len;
use crate::error::{Error, ErrorKind, Result};
use crate::float::Float;

/// Plain SGD: p ← p − lr·g, elementwise.
///
/// Shapes: `params` and `grads` have the same length.
///
/// # Errors
///
/// [`ErrorKind::Length`] naming `grads` if the lengths differ; [`ErrorKind::Value`] naming
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
    check_len("sgd_update", "grads", grads.len(), params.len(), "params.len")?;
    check_lr("sgd_update", lr)?;
    for (p, &g) in params.iter_mut().zip(grads) {
        *p -= lr * g;
    }
    Ok(())
}

/// Hyper-parameters of [`adam_update`] (defaults as in Kingma & Ba and PyTorch).
///
/// # Example
///
/// ```
/// let hp = nnkern::AdamParams::<f32> { lr: 0.01, ..Default::default() };
/// assert_eq!(hp.beta1, 0.9);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct AdamParams<T> {
    /// Step size (default 0.001).
    pub lr: T,
    /// Decay of the first moment (default 0.9).
    pub beta1: T,
    /// Decay of the second moment (default 0.999).
    pub beta2: T,
    /// Added to √v̂ (default 1e-8).
    pub eps: T,
}

impl<T: Float> Default for AdamParams<T> {
    fn default() -> Self {
        AdamParams {
            lr: T::from_f64(1e-3),
            beta1: T::from_f64(0.9),
            beta2: T::from_f64(0.999),
            eps: T::from_f64(1e-8),
        }
    }
}

/// One Adam step (number `step` ≥ 1):
/// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², p ← p − lr·m̂/(√v̂ + ε) with
/// m̂ = m/(1−β₁^step), v̂ = v/(1−β₂^step).
///
/// Shapes: `params`, `grads`, `m`, `v` have the same length; `m` and `v` start at zero and
/// are kept between steps.
///
/// # Errors
///
/// [`ErrorKind::Length`] naming `grads`, `m` or `v`; [`ErrorKind::Value`] naming `step` if it
/// is 0, `lr` unless it is finite and ≥ 0, `beta1` or `beta2` unless it lies in [0, 1), or
/// `eps` unless it is finite and > 0 (β = 1 would divide by 1 − βᵗ = 0, and ε = 0 gives
/// 0/0 = NaN for a gradient that has been 0). Nothing is updated then.
///
/// # Example
///
/// ```
/// use nnkern::{AdamParams, adam_update};
///
/// let (mut p, mut m, mut v) = ([1.0_f64], [0.0], [0.0]);
/// adam_update(&mut p, &[2.0], &mut m, &mut v, 1, &AdamParams { lr: 0.1, ..Default::default() })?;
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
    const OP: &str = "adam_update";
    let n = params.len();
    check_len(OP, "grads", grads.len(), n, "params.len")?;
    check_len(OP, "m", m.len(), n, "params.len")?;
    check_len(OP, "v", v.len(), n, "params.len")?;
    if step == 0 {
        return Err(Error::new(
            OP,
            "step",
            ErrorKind::Value,
            "is 0 but steps count from 1",
        ));
    }
    check_adam(OP, hp)?;
    let bias = |beta: T| T::ONE - T::from_f64(beta.to_f64().powi(step.min(i32::MAX as u32) as i32));
    let (c1, c2) = (bias(hp.beta1), bias(hp.beta2));
    for (((p, &g), mi), vi) in params.iter_mut().zip(grads).zip(m.iter_mut()).zip(v.iter_mut()) {
        *mi = hp.beta1 * *mi + (T::ONE - hp.beta1) * g;
        *vi = hp.beta2 * *vi + (T::ONE - hp.beta2) * g * g;
        *p -= hp.lr * (*mi / c1) / ((*vi / c2).sqrt() + hp.eps);
    }
    Ok(())
}

/// A learning rate must be finite and ≥ 0 (PyTorch's optimizers reject a negative one; NaN
/// or ±∞ would turn every parameter into NaN or ±∞).
pub(crate) fn check_lr<T: Float>(op: &'static str, lr: T) -> Result<()> {
    if !(lr >= T::ZERO && lr.is_finite()) {
        return Err(Error::new(
            op,
            "lr",
            ErrorKind::Value,
            format!("is {lr} but a learning rate must be finite and ≥ 0"),
        ));
    }
    Ok(())
}

/// Adam's hyper-parameters: lr as [`check_lr`], β₁ and β₂ in [0, 1) (β = 1 makes the bias
/// correction 1 − βᵗ zero, so every step divides by 0), ε finite and > 0 (with ε = 0 a
/// gradient that has been 0 so far gives 0/0 = NaN).
pub(crate) fn check_adam<T: Float>(op: &'static str, hp: &AdamParams<T>) -> Result<()> {
    check_lr(op, hp.lr)?;
    for (arg, beta) in [("beta1", hp.beta1), ("beta2", hp.beta2)] {
        if !(beta >= T::ZERO && beta < T::ONE) {
            return Err(Error::new(
                op,
                arg,
                ErrorKind::Value,
                format!("is {beta} but must lie in [0, 1)"),
            ));
        }
    }
    if !(hp.eps > T::ZERO && hp.eps.is_finite()) {
        return Err(Error::new(
            op,
            "eps",
            ErrorKind::Value,
            format!("is {} but must be finite and > 0", hp.eps),
        ));
    }
    Ok(())
}
