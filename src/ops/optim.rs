//! Parameter updates: SGD (with momentum, Nesterov and weight decay) and Adam / AdamW, on the
//! SIMD path.
//!
//! The updates are elementwise with no sums, so every path (and every vector width) gives the
//! same bits: each element goes through the same IEEE operations in the same order, and no
//! multiply-add is fused. The kernels run on the calling thread.

use super::check_len;
use crate::error::{Error, ErrorKind, Result};
use crate::ops::KernelFloat;
use crate::real::Real;
use crate::simd::{Isa, Kernel, Math, dispatch};

/// Elements per unrolled chunk: one AVX-512 register of f32.
const CHUNK: usize = 16;

/// [`sgd_update`](crate::sgd_update)'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn sgd_update_impl<T: KernelFloat>(params: &mut [T], grads: &[T], lr: T) -> Result<()> {
    check_len("sgd_update", "grads", grads.len(), params.len(), "params.len")?;
    check_lr("sgd_update", lr)?;
    for (p, &g) in params.iter_mut().zip(grads) {
        *p -= lr * g;
    }
    Ok(())
}

/// Hyper-parameters of [`sgd_momentum_update`](crate::sgd_momentum_update) and [`layers::Sgd`](crate::layers::Sgd), as in
/// PyTorch's `torch.optim.SGD` (no dampening).
///
/// # Example
///
/// ```
/// let hp = nnkern::SgdParams::<f32>::default().lr(0.1).momentum(0.9);
/// assert!(!hp.nesterov);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct SgdParams<T> {
    /// Step size (default 0.01).
    pub lr: T,
    /// Momentum μ (default 0: plain SGD).
    pub momentum: T,
    /// Nesterov momentum (needs μ > 0; default off).
    pub nesterov: bool,
    /// L2 penalty λ added to the gradient: g ← g + λp (default 0).
    pub weight_decay: T,
}

impl<T> SgdParams<T> {
    setters!(lr: T, momentum: T, nesterov: bool, weight_decay: T);
}

impl<T: Real> Default for SgdParams<T> {
    fn default() -> Self {
        SgdParams {
            lr: T::from_f64(0.01),
            momentum: T::ZERO,
            nesterov: false,
            weight_decay: T::ZERO,
        }
    }
}

/// [`sgd_momentum_update`](crate::sgd_momentum_update)'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn sgd_momentum_update_impl<T: KernelFloat>(
    params: &mut [T],
    grads: &[T],
    velocity: &mut [T],
    hp: &SgdParams<T>,
) -> Result<()> {
    const OP: &str = "sgd_momentum_update";
    let n = params.len();
    check_len(OP, "grads", grads.len(), n, "params.len")?;
    check_sgd(OP, hp)?;
    if hp.momentum != T::ZERO {
        check_len(OP, "velocity", velocity.len(), n, "params.len")?;
    }
    sgd_apply_impl(Isa::current(), params, grads, velocity, hp);
    Ok(())
}

/// [`sgd_apply`](crate::kernels::optim::sgd_apply)'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn sgd_apply_impl<T: KernelFloat>(isa: Isa, p: &mut [T], g: &[T], b: &mut [T], hp: &SgdParams<T>) {
    dispatch(isa, SgdKernel { p, g, b, hp: *hp });
}

/// The SGD update over one run of elements (lengths checked by the caller).
struct SgdKernel<'a, T> {
    p: &'a mut [T],
    g: &'a [T],
    b: &'a mut [T],
    hp: SgdParams<T>,
}

impl<T: KernelFloat> SgdKernel<'_, T> {
    #[inline(always)]
    fn one(hp: &SgdParams<T>, p: &mut T, g: T, b: Option<&mut T>) {
        let g = if hp.weight_decay == T::ZERO {
            g
        } else {
            g + hp.weight_decay * *p
        };
        let g = match b {
            Some(b) => {
                *b = hp.momentum * *b + g;
                if hp.nesterov { g + hp.momentum * *b } else { *b }
            }
            None => g,
        };
        *p -= hp.lr * g;
    }
}

impl<T: KernelFloat> Kernel for SgdKernel<'_, T> {
    type Out = ();
    #[inline(always)]
    fn run<M: Math>(self) {
        let hp = self.hp;
        // fixed-size chunks: no bounds checks in the body, which the compiler vectorizes
        let (ph, pt) = self.p.as_chunks_mut::<CHUNK>();
        let (gh, gt) = self.g.as_chunks::<CHUNK>();
        if hp.momentum == T::ZERO {
            for (pc, gc) in ph.iter_mut().zip(gh) {
                for i in 0..CHUNK {
                    Self::one(&hp, &mut pc[i], gc[i], None);
                }
            }
            for (p, &g) in pt.iter_mut().zip(gt) {
                Self::one(&hp, p, g, None);
            }
            return;
        }
        let (bh, bt) = self.b.as_chunks_mut::<CHUNK>();
        for ((pc, gc), bc) in ph.iter_mut().zip(gh).zip(bh) {
            for i in 0..CHUNK {
                Self::one(&hp, &mut pc[i], gc[i], Some(&mut bc[i]));
            }
        }
        for ((p, &g), b) in pt.iter_mut().zip(gt).zip(bt) {
            Self::one(&hp, p, g, Some(b));
        }
    }
}

/// Hyper-parameters of [`adam_update`](crate::adam_update) and [`layers::Adam`](crate::layers::Adam) (defaults as
/// in Kingma & Ba and PyTorch's `Adam`; [`AdamParams::adamw`] for `AdamW`).
///
/// # Example
///
/// ```
/// let hp = nnkern::AdamParams::<f32>::default().lr(0.01);
/// assert_eq!(hp.beta1, 0.9);
/// let w = nnkern::AdamParams::<f32>::adamw(1e-3, 0.01);
/// assert!(w.decoupled_weight_decay);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct AdamParams<T> {
    /// Step size (default 0.001).
    pub lr: T,
    /// Decay of the first moment (default 0.9).
    pub beta1: T,
    /// Decay of the second moment (default 0.999).
    pub beta2: T,
    /// Added to √v̂ (default 1e-8).
    pub eps: T,
    /// Weight decay λ (default 0): an L2 term g ← g + λp (Adam), or with
    /// `decoupled_weight_decay` p ← p·(1 − lr·λ) before the step (AdamW).
    pub weight_decay: T,
    /// Apply `weight_decay` to the parameters directly (AdamW, Loshchilov & Hutter) instead of
    /// through the gradient (default false).
    pub decoupled_weight_decay: bool,
}

impl<T: Real> Default for AdamParams<T> {
    fn default() -> Self {
        AdamParams {
            lr: T::from_f64(1e-3),
            beta1: T::from_f64(0.9),
            beta2: T::from_f64(0.999),
            eps: T::from_f64(1e-8),
            weight_decay: T::ZERO,
            decoupled_weight_decay: false,
        }
    }
}

impl<T: Real> AdamParams<T> {
    setters!(lr: T, beta1: T, beta2: T, eps: T, weight_decay: T, decoupled_weight_decay: bool);

    /// AdamW's hyper-parameters: step size `lr`, decoupled weight decay `weight_decay`
    /// (PyTorch's default is 0.01), the other fields at their defaults.
    pub fn adamw(lr: T, weight_decay: T) -> Self {
        AdamParams {
            lr,
            weight_decay,
            decoupled_weight_decay: true,
            ..Default::default()
        }
    }
}

/// [`adam_update`](crate::adam_update)'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn adam_update_impl<T: KernelFloat>(
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
    adam_apply_impl(Isa::current(), params, grads, m, v, &AdamConsts::new(hp, step));
    Ok(())
}

/// [`adam_apply`](crate::kernels::optim::adam_apply)'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn adam_apply_impl<T: KernelFloat>(
    isa: Isa,
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    k: &AdamConsts<T>,
) {
    dispatch(isa, AdamKernel { p, g, m, v, k: *k });
}

/// The per-step constants of one Adam update.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AdamConsts<T> {
    b1: T,
    b2: T,
    one_b1: T,
    one_b2: T,
    step_size: T,
    inv_sqrt_c2: T,
    eps: T,
    l2: T,
    shrink: T,
}

impl<T: KernelFloat> AdamConsts<T> {
    /// The constants of step number `step` (≥ 1) with hyper-parameters `hp` (both checked by
    /// the caller): cᵢ = 1 − βᵢ^step in f64, then lr/c₁ and 1/√c₂ rounded once to T.
    pub(crate) fn new(hp: &AdamParams<T>, step: u32) -> Self {
        let bias = |beta: T| 1.0 - beta.to_f64().powi(step.min(i32::MAX as u32) as i32);
        let (c1, c2) = (bias(hp.beta1), bias(hp.beta2));
        let decoupled = hp.decoupled_weight_decay;
        AdamConsts {
            b1: hp.beta1,
            b2: hp.beta2,
            one_b1: T::ONE - hp.beta1,
            one_b2: T::ONE - hp.beta2,
            step_size: T::from_f64(hp.lr.to_f64() / c1),
            inv_sqrt_c2: T::from_f64(1.0 / c2.sqrt()),
            eps: hp.eps,
            l2: if decoupled { T::ZERO } else { hp.weight_decay },
            shrink: if decoupled {
                T::ONE - hp.lr * hp.weight_decay
            } else {
                T::ONE
            },
        }
    }

    #[inline(always)]
    fn one(&self, p: &mut T, g: T, m: &mut T, v: &mut T) {
        // (without weight decay, g and p go through unchanged: p·1 = p)
        let g = if self.l2 == T::ZERO { g } else { g + self.l2 * *p };
        let q = *p * self.shrink;
        *m = self.b1 * *m + self.one_b1 * g;
        *v = self.b2 * *v + self.one_b2 * (g * g);
        *p = q - self.step_size * *m / (v.sqrt() * self.inv_sqrt_c2 + self.eps);
    }
}

/// The Adam update over one run of elements (lengths checked by the caller).
struct AdamKernel<'a, T> {
    p: &'a mut [T],
    g: &'a [T],
    m: &'a mut [T],
    v: &'a mut [T],
    k: AdamConsts<T>,
}

impl<T: KernelFloat> Kernel for AdamKernel<'_, T> {
    type Out = ();
    #[inline(always)]
    fn run<M: Math>(self) {
        let k = self.k;
        // fixed-size chunks: no bounds checks in the body, which the compiler vectorizes
        let (ph, pt) = self.p.as_chunks_mut::<CHUNK>();
        let (gh, gt) = self.g.as_chunks::<CHUNK>();
        let (mh, mt) = self.m.as_chunks_mut::<CHUNK>();
        let (vh, vt) = self.v.as_chunks_mut::<CHUNK>();
        for (((pc, gc), mc), vc) in ph.iter_mut().zip(gh).zip(mh).zip(vh) {
            for i in 0..CHUNK {
                k.one(&mut pc[i], gc[i], &mut mc[i], &mut vc[i]);
            }
        }
        for (((p, &g), m), v) in pt.iter_mut().zip(gt).zip(mt).zip(vt) {
            k.one(p, g, m, v);
        }
    }
}

/// A learning rate must be finite and ≥ 0 (PyTorch's optimizers reject a negative one; NaN
/// or ±∞ would turn every parameter into NaN or ±∞).
pub(crate) fn check_lr<T: KernelFloat>(op: &'static str, lr: T) -> Result<()> {
    check_nonneg(op, "lr", lr, "a learning rate")
}

/// `value` (argument `arg`, a `what`) must be finite and ≥ 0.
fn check_nonneg<T: KernelFloat>(op: &'static str, arg: &'static str, value: T, what: &str) -> Result<()> {
    if !(value >= T::ZERO && value.is_finite()) {
        return Err(Error::new(
            op,
            arg,
            ErrorKind::Value,
            format!("is {value} but {what} must be finite and ≥ 0"),
        ));
    }
    Ok(())
}

/// SGD's hyper-parameters: lr, μ and λ finite and ≥ 0; Nesterov only with μ > 0 (without
/// momentum it would be plain SGD under another name: PyTorch refuses it too).
pub(crate) fn check_sgd<T: KernelFloat>(op: &'static str, hp: &SgdParams<T>) -> Result<()> {
    check_lr(op, hp.lr)?;
    check_nonneg(op, "momentum", hp.momentum, "a momentum")?;
    check_nonneg(op, "weight_decay", hp.weight_decay, "a weight decay")?;
    if hp.nesterov && hp.momentum == T::ZERO {
        return Err(Error::new(
            op,
            "nesterov",
            ErrorKind::Value,
            "is set but Nesterov momentum needs momentum > 0",
        ));
    }
    Ok(())
}

/// Adam's hyper-parameters: lr and λ as [`check_lr`], β₁ and β₂ in [0, 1) (β = 1 makes the
/// bias correction 1 − βᵗ zero, so every step divides by 0), ε finite and > 0 (with ε = 0 a
/// gradient that has been 0 so far gives 0/0 = NaN).
pub(crate) fn check_adam<T: KernelFloat>(op: &'static str, hp: &AdamParams<T>) -> Result<()> {
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
    check_nonneg(op, "weight_decay", hp.weight_decay, "a weight decay")
}
