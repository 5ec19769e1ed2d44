//! Optimizers over any [`Params`]: SGD (momentum, Nesterov, weight decay), Adam and AdamW.
//! Each owns its state (momentum buffers, moments), sized on the first step from the
//! parameter set it is handed, and checks every later set against it before updating.

use super::Params;
use crate::error::{Error, ErrorKind, Result};
use crate::float::Float;
use crate::kernels::optim::{adam_apply, sgd_apply};
use crate::ops::optim::{AdamConsts, AdamParams, SgdParams, check_adam, check_lr, check_sgd};
use crate::ops::reserve;
use crate::simd::Isa;

/// Updates a set of parameters from their gradients, keeping whatever state it needs between
/// steps. Hand it the same parameter set (same tensors, same order) at every step.
///
/// # Example
///
/// Any optimizer drives any model:
///
/// ```
/// use nnkern::layers::{Adam, Layer, MatMul, Optimizer, Sgd};
/// use nnkern::{AdamParams, MatRef};
///
/// fn train(opt: &mut dyn Optimizer<f64>) -> nnkern::Result<f64> {
///     let mut layer = MatMul::new(vec![1.0], 1, 1)?;
///     for _ in 0..50 {
///         let y = layer.forward(MatRef::from_row_major(&[1.0], 1, 1)?)?.get(0, 0).unwrap();
///         layer.backward(MatRef::from_row_major(&[y - 3.0], 1, 1)?)?; // L = (y − 3)²/2
///         opt.step(&mut layer)?;
///     }
///     Ok(layer.params()[0][0])
/// }
/// assert!((train(&mut Sgd::new(0.3))? - 3.0).abs() < 1e-6);
/// assert!((train(&mut Adam::new(AdamParams::default().lr(0.3)))? - 3.0).abs() < 0.1);
/// # Ok::<(), nnkern::Error>(())
/// ```
pub trait Optimizer<T: Float> {
    /// Checks the hyper-parameters: what [`step`](Self::step) checks before it updates
    /// anything.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Value`] naming the first hyper-parameter out of its domain.
    fn check(&self) -> Result<()>;

    /// One update of every parameter of `params` from its gradient.
    ///
    /// # Errors
    ///
    /// Before any update: [`ErrorKind::Value`] naming a hyper-parameter out of its domain;
    /// [`ErrorKind::Length`] naming `grads` if a parameter and its gradient differ in length,
    /// or `params` if the set differs from the one the state was sized for;
    /// [`ErrorKind::Alloc`] if the state cannot be allocated.
    fn step(&mut self, params: &mut dyn Params<T>) -> Result<()>;

    /// The learning rate.
    fn lr(&self) -> T;

    /// Sets the learning rate for the following steps (a schedule).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Value`] naming `lr` unless it is finite and ≥ 0 (the rate is unchanged).
    fn set_lr(&mut self, lr: T) -> Result<()>;

    /// Forgets the state (momentum, moments, step count): the next step starts afresh and may
    /// take another parameter set.
    fn reset(&mut self);
}

impl<T: Float, O: Optimizer<T> + ?Sized> Optimizer<T> for Box<O> {
    fn check(&self) -> Result<()> {
        (**self).check()
    }
    fn step(&mut self, params: &mut dyn Params<T>) -> Result<()> {
        (**self).step(params)
    }
    fn lr(&self) -> T {
        (**self).lr()
    }
    fn set_lr(&mut self, lr: T) -> Result<()> {
        (**self).set_lr(lr)
    }
    fn reset(&mut self) {
        (**self).reset()
    }
}

/// Visits every (parameter, gradient) pair of `params` without changing anything and checks
/// that each pair has one length and that `fits(k, len)` holds for the k-th pair: `op`'s
/// [`ErrorKind::Length`] error naming `grads` or `params` for the first that does not.
/// Returns the number of pairs.
fn check_pairs<T: Float>(
    op: &'static str,
    params: &mut dyn Params<T>,
    fits: &mut dyn FnMut(usize, usize) -> bool,
) -> Result<usize> {
    let mut k = 0;
    let mut bad = None;
    params.visit_params(&mut |p, g| {
        if bad.is_none() {
            if p.len() != g.len() {
                bad = Some((
                    "grads",
                    format!(
                        "of parameter tensor {k} has length {} but the parameter has {}",
                        g.len(),
                        p.len()
                    ),
                ));
            } else if !fits(k, p.len()) {
                bad = Some((
                    "params",
                    format!(
                        "hand parameter tensor {k} of length {} that the optimizer's state does \
                         not have (pass the same parameters in the same order at every step)",
                        p.len()
                    ),
                ));
            }
        }
        k += 1;
    });
    match bad {
        Some((arg, detail)) => Err(Error::new(op, arg, ErrorKind::Length, detail)),
        None => Ok(k),
    }
}

/// `S` buffers per parameter tensor (momentum: 1, Adam's moments: 2), sized on the first
/// step, each as long as its tensor.
#[derive(Debug)]
struct Slots<T, const S: usize> {
    bufs: Vec<[Vec<T>; S]>,
}

impl<T: Float, const S: usize> Slots<T, S> {
    const fn new() -> Self {
        Slots { bufs: Vec::new() }
    }

    /// Checks `params` (and sizes the buffers on the first step); nothing is updated.
    fn prepare(&mut self, op: &'static str, params: &mut dyn Params<T>) -> Result<()> {
        if self.bufs.is_empty() {
            let mut lens = Vec::new();
            check_pairs(op, params, &mut |_, len| {
                lens.push(len);
                true
            })?;
            let mut bufs = Vec::with_capacity(lens.len());
            for len in lens {
                let mut slot: [Vec<T>; S] = std::array::from_fn(|_| Vec::new());
                for b in &mut slot {
                    reserve(op, "params", b, len)?;
                    b.resize(len, T::ZERO);
                }
                bufs.push(slot);
            }
            self.bufs = bufs;
            return Ok(());
        }
        let bufs = &self.bufs;
        let count = check_pairs(op, params, &mut |k, len| {
            bufs.get(k).is_some_and(|b| b.iter().all(|v| v.len() == len))
        })?;
        if count != bufs.len() {
            return Err(Error::new(
                op,
                "params",
                ErrorKind::Length,
                format!(
                    "hand {count} parameter tensors but the optimizer's state is for {} (pass the \
                     same parameters in the same order at every step)",
                    bufs.len()
                ),
            ));
        }
        Ok(())
    }
}

/// Stochastic gradient descent as PyTorch's `torch.optim.SGD` (no dampening), through
/// [`sgd_momentum_update`](crate::sgd_momentum_update): g ← g + λp; b ← μb + g; p ← p − lr·(g + μb if Nesterov, else b).
/// With μ = 0 (the default) it is the book's p ← p − lr·g and keeps no state.
///
/// # Example
///
/// ```
/// use nnkern::layers::{Layer, MatMul, Optimizer, Sgd};
///
/// let mut layer = MatMul::new(vec![1.0_f32], 1, 1)?;
/// let x = [2.0_f32];
/// layer.forward(nnkern::MatRef::from_row_major(&x, 1, 1)?)?;
/// layer.backward(nnkern::MatRef::from_row_major(&[1.0], 1, 1)?)?; // dW = 2
/// Sgd::new(0.5).step(&mut layer)?;
/// assert_eq!(layer.params()[0], &[0.0]);
/// let mut nesterov = Sgd::new(0.1).momentum(0.9).nesterov(true).weight_decay(1e-4);
/// nesterov.step(&mut layer)?;
/// # Ok::<(), nnkern::Error>(())
/// ```
#[derive(Debug)]
pub struct Sgd<T> {
    hp: SgdParams<T>,
    velocity: Slots<T, 1>,
}

impl<T: Float> Sgd<T> {
    /// Plain SGD with learning rate `lr` (checked at each step).
    pub fn new(lr: T) -> Self {
        Self::with(SgdParams {
            lr,
            ..Default::default()
        })
    }

    /// SGD with every hyper-parameter given.
    pub fn with(hp: SgdParams<T>) -> Self {
        Sgd {
            hp,
            velocity: Slots::new(),
        }
    }

    /// The same with momentum μ.
    #[must_use]
    pub fn momentum(mut self, momentum: T) -> Self {
        self.hp.momentum = momentum;
        self
    }

    /// The same with Nesterov momentum on or off.
    #[must_use]
    pub fn nesterov(mut self, on: bool) -> Self {
        self.hp.nesterov = on;
        self
    }

    /// The same with L2 weight decay λ.
    #[must_use]
    pub fn weight_decay(mut self, weight_decay: T) -> Self {
        self.hp.weight_decay = weight_decay;
        self
    }

    /// The hyper-parameters.
    pub fn hyper(&self) -> &SgdParams<T> {
        &self.hp
    }
}

impl<T: Float> Optimizer<T> for Sgd<T> {
    fn check(&self) -> Result<()> {
        check_sgd("Sgd::step", &self.hp)
    }
    fn step(&mut self, params: &mut dyn Params<T>) -> Result<()> {
        const OP: &str = "Sgd::step";
        check_sgd(OP, &self.hp)?;
        let (hp, isa) = (self.hp, Isa::current());
        // checked above, for every tensor: the updates themselves cannot fail
        if hp.momentum == T::ZERO {
            check_pairs(OP, params, &mut |_, _| true)?;
            params.visit_params(&mut |p, g| sgd_apply(isa, p, g, &mut [], &hp));
            return Ok(());
        }
        self.velocity.prepare(OP, params)?;
        let (bufs, mut k) = (&mut self.velocity.bufs, 0);
        params.visit_params(&mut |p, g| {
            sgd_apply(isa, p, g, &mut bufs[k][0], &hp);
            k += 1;
        });
        Ok(())
    }
    fn lr(&self) -> T {
        self.hp.lr
    }
    fn set_lr(&mut self, lr: T) -> Result<()> {
        check_lr("Sgd::set_lr", lr)?;
        self.hp.lr = lr;
        Ok(())
    }
    fn reset(&mut self) {
        self.velocity = Slots::new();
    }
}

/// Adam (Kingma & Ba) or, with [`AdamParams::decoupled_weight_decay`], AdamW (Loshchilov &
/// Hutter), as PyTorch's `torch.optim.Adam` / `AdamW`, through [`adam_update`](crate::adam_update) on the SIMD
/// path. Its moments are kept per parameter tensor, in visiting order, allocated on the first
/// step.
///
/// # Example
///
/// ```
/// use nnkern::AdamParams;
/// use nnkern::layers::{Adam, Layer, MatMul, Optimizer};
///
/// let mut layer = MatMul::new(vec![1.0_f64], 1, 1)?;
/// layer.forward(nnkern::MatRef::from_row_major(&[2.0], 1, 1)?)?;
/// layer.backward(nnkern::MatRef::from_row_major(&[1.0], 1, 1)?)?;
/// let mut adam = Adam::new(AdamParams::default().lr(0.1));
/// adam.step(&mut layer)?;
/// assert!((layer.params()[0][0] - 0.9).abs() < 1e-6);
/// let mut adamw = Adam::new(AdamParams::adamw(0.1, 0.01));
/// adamw.step(&mut layer)?;
/// # Ok::<(), nnkern::Error>(())
/// ```
#[derive(Debug)]
pub struct Adam<T> {
    hp: AdamParams<T>,
    step: u32,
    moments: Slots<T, 2>,
}

impl<T: Float> Adam<T> {
    /// An optimizer with hyper-parameters `hp` (checked at each step).
    pub fn new(hp: AdamParams<T>) -> Self {
        Adam {
            hp,
            step: 0,
            moments: Slots::new(),
        }
    }

    /// The hyper-parameters.
    pub fn hyper(&self) -> &AdamParams<T> {
        &self.hp
    }

    /// The number of steps taken since creation or [`reset`](Optimizer::reset).
    pub fn steps(&self) -> u32 {
        self.step
    }
}

impl<T: Float> Optimizer<T> for Adam<T> {
    fn check(&self) -> Result<()> {
        check_adam("Adam::step", &self.hp)
    }
    fn step(&mut self, params: &mut dyn Params<T>) -> Result<()> {
        const OP: &str = "Adam::step";
        check_adam(OP, &self.hp)?;
        self.moments.prepare(OP, params)?;
        // checked above, for every tensor: the updates themselves cannot fail
        self.step = self.step.saturating_add(1);
        let (consts, isa) = (AdamConsts::new(&self.hp, self.step), Isa::current());
        let (bufs, mut k) = (&mut self.moments.bufs, 0);
        params.visit_params(&mut |p, g| {
            let [m, v] = &mut bufs[k];
            adam_apply(isa, p, g, m, v, &consts);
            k += 1;
        });
        Ok(())
    }
    fn lr(&self) -> T {
        self.hp.lr
    }
    fn set_lr(&mut self, lr: T) -> Result<()> {
        check_lr("Adam::set_lr", lr)?;
        self.hp.lr = lr;
        Ok(())
    }
    fn reset(&mut self) {
        self.step = 0;
        self.moments = Slots::new();
    }
}
