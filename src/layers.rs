//! The book's layer objects over the kernels: they own their parameters, gradients, caches and
//! scratch, and allocate nothing after the first call at a given batch size (smaller batches
//! reuse the memory of larger ones).
//!
//! Like the book's layers, `forward` keeps what `backward` needs (the input for MatMul and
//! Affine, the output for activations), and gradients overwrite (`Accum::Replace`).

use crate::data::Rng;
use crate::error::{Error, ErrorKind, Result};
use crate::float::Float;
use crate::mat::{MatMut, MatRef};
use crate::ops::activation::{Activation, activation_backward, activation_forward};
use crate::ops::affine::{AffineGrads, affine_backward, affine_forward};
use crate::ops::cross_entropy::Targets;
use crate::ops::matmul::{matmul_backward, matmul_forward};
use crate::ops::optim::{AdamParams, adam_update, check_adam, check_lr, sgd_update};
use crate::ops::softmax::{softmax_backward, softmax_forward};
use crate::ops::softmax_cross_entropy::{CrossEntropyOptions, softmax_cross_entropy};
use crate::ops::two_layer::{self, MAX_WIDTH};
use crate::ops::{Accum, Workspace, check_shape, reserve, scratch_len};
use crate::simd::{Isa, dispatch};

/// A growable row-major matrix buffer: resizing never gives memory back.
#[derive(Debug, Default)]
struct Buf<T> {
    data: Vec<T>,
    rows: usize,
    cols: usize,
}

impl<T: Float> Buf<T> {
    /// Makes the buffer rows×cols, growing it fallibly: `op`'s [`ErrorKind::Overflow`] or
    /// [`ErrorKind::Alloc`] error (and the buffer unchanged) if it cannot.
    fn shape(&mut self, op: &'static str, rows: usize, cols: usize) -> Result<()> {
        let n = scratch_len(op, rows, cols, 0)?;
        if self.data.len() < n {
            reserve(op, "scratch", &mut self.data, n)?;
            self.data.resize(n, T::ZERO);
        }
        self.rows = rows;
        self.cols = cols;
        Ok(())
    }
    fn view(&self) -> MatRef<'_, T> {
        MatRef::from_row_major(&self.data[..self.rows * self.cols], self.rows, self.cols)
            .expect("a buffer holds rows·cols elements")
    }
    fn view_mut(&mut self) -> MatMut<'_, T> {
        let n = self.rows * self.cols;
        MatMut::from_row_major(&mut self.data[..n], self.rows, self.cols)
            .expect("a buffer holds rows·cols elements")
    }
    /// Copies `x` (any view) into the buffer, row-major (errors as [`Buf::shape`]).
    fn copy_from(&mut self, op: &'static str, x: MatRef<'_, T>) -> Result<()> {
        self.shape(op, x.rows(), x.cols())?;
        let c = x.cols();
        if let Some(flat) = x.as_flat() {
            self.data[..flat.len()].copy_from_slice(flat);
            return Ok(());
        }
        if c == 0 {
            return Ok(()); // no elements, however many rows
        }
        for i in 0..x.rows() {
            for j in 0..c {
                self.data[i * c + j] = x.at(i, j);
            }
        }
        Ok(())
    }
}

/// The upstream gradient must have the shape of the layer's last output.
fn check_dy<T: Copy>(op: &'static str, dy: &MatRef<'_, T>, last: (usize, usize)) -> Result<()> {
    check_shape(op, "dy", (dy.rows(), dy.cols()), last, "the last output's shape")
}

/// A layer's input x must have the layer's input width `d`: checked before anything is
/// allocated for x's rows.
fn check_input<T: Copy>(op: &'static str, x: &MatRef<'_, T>, d: usize) -> Result<()> {
    if x.cols() != d {
        return Err(Error::new(
            op,
            "x",
            ErrorKind::Shape,
            format!("has {} columns but the layer's input width is {d}", x.cols()),
        ));
    }
    Ok(())
}

/// A layer with a forward and a backward pass, as in the book.
///
/// # Example
///
/// ```
/// use nnkern::MatRef;
/// use nnkern::layers::{Layer, Sigmoid};
///
/// let mut s = Sigmoid::<f32>::new();
/// let x = [0.0_f32, 0.0];
/// let y = s.forward(MatRef::from_row_major(&x, 1, 2)?)?;
/// assert_eq!(y.get(0, 1), Some(0.5));
/// let dx = s.backward(MatRef::from_row_major(&[1.0, 1.0], 1, 2)?)?;
/// assert_eq!(dx.get(0, 0), Some(0.25));
/// # Ok::<(), nnkern::Error>(())
/// ```
pub trait Layer<T: Float> {
    /// y = f(x); the result is the layer's own buffer, valid until the next call.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Shape`] naming `x` for an input of the wrong width (checked before the
    /// layer sizes anything from x's rows), the kernel's error for other bad input, and
    /// [`ErrorKind::Alloc`] if the layer's caches for x's rows cannot be allocated.
    fn forward(&mut self, x: MatRef<'_, T>) -> Result<MatRef<'_, T>>;

    /// dx from dy = ∂L/∂y, using what the last `forward` kept; parameter gradients are
    /// overwritten.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Shape`] naming `dy` if it does not have the shape of the last output.
    fn backward(&mut self, dy: MatRef<'_, T>) -> Result<MatRef<'_, T>>;

    /// Calls `f(param, grad)` for each parameter tensor (the book's `params` and `grads`).
    fn visit_params(&mut self, _f: &mut dyn FnMut(&mut [T], &[T])) {}

    /// The parameters, in the order of [`visit_params`](Self::visit_params).
    fn params(&self) -> Vec<&[T]> {
        Vec::new()
    }

    /// The gradients of the last `backward`, in the same order.
    fn grads(&self) -> Vec<&[T]> {
        Vec::new()
    }
}

/// MatMul: y = x·W (W: D×H), dx = dy·Wᵀ, dW = xᵀ·dy.
#[derive(Debug)]
pub struct MatMul<T> {
    w: Vec<T>,
    dw: Vec<T>,
    d: usize,
    h: usize,
    x: Buf<T>,
    y: Buf<T>,
    dx: Buf<T>,
}

impl<T: Float> MatMul<T> {
    /// A layer with the D×H row-major weights `w`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Length`] if `w.len() != d·h`.
    pub fn new(w: Vec<T>, d: usize, h: usize) -> Result<Self> {
        MatRef::from_row_major(&w, d, h)?;
        Ok(MatMul {
            dw: vec![T::ZERO; w.len()],
            w,
            d,
            h,
            x: Buf::default(),
            y: Buf::default(),
            dx: Buf::default(),
        })
    }
}

impl<T: Float> Layer<T> for MatMul<T> {
    fn forward(&mut self, x: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
        const OP: &str = "MatMul::forward";
        check_input(OP, &x, self.d)?;
        self.y.shape(OP, x.rows(), self.h)?;
        self.x.copy_from(OP, x)?;
        matmul_forward(
            x,
            MatRef::from_row_major(&self.w, self.d, self.h)?,
            self.y.view_mut(),
        )?;
        Ok(self.y.view())
    }
    fn backward(&mut self, dy: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
        const OP: &str = "MatMul::backward";
        check_dy(OP, &dy, (self.x.rows, self.h))?;
        self.dx.shape(OP, self.x.rows, self.d)?;
        matmul_backward(
            self.x.view(),
            MatRef::from_row_major(&self.w, self.d, self.h)?,
            dy,
            Some(self.dx.view_mut()),
            MatMut::from_row_major(&mut self.dw, self.d, self.h)?,
            Accum::Replace,
        )?;
        Ok(self.dx.view())
    }
    fn visit_params(&mut self, f: &mut dyn FnMut(&mut [T], &[T])) {
        f(&mut self.w, &self.dw);
    }
    fn params(&self) -> Vec<&[T]> {
        vec![&self.w]
    }
    fn grads(&self) -> Vec<&[T]> {
        vec![&self.dw]
    }
}

/// Affine with a fused activation: y = act(x·W + b), backward through both.
#[derive(Debug)]
pub struct Affine<T> {
    w: Vec<T>,
    b: Vec<T>,
    dw: Vec<T>,
    db: Vec<T>,
    d: usize,
    h: usize,
    act: Activation,
    x: Buf<T>,
    y: Buf<T>,
    dx: Buf<T>,
    ws: Workspace<T>,
}

impl<T: Float> Affine<T> {
    /// A layer with D×H row-major weights `w`, bias `b` (length H) and activation `act`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Length`] if `w.len() != d·h` or `b.len() != h`.
    pub fn new(w: Vec<T>, b: Vec<T>, d: usize, h: usize, act: Activation) -> Result<Self> {
        MatRef::from_row_major(&w, d, h)?;
        crate::ops::check_len("Affine::new", "b", b.len(), h, "h")?;
        Ok(Affine {
            dw: vec![T::ZERO; w.len()],
            db: vec![T::ZERO; h],
            w,
            b,
            d,
            h,
            act,
            x: Buf::default(),
            y: Buf::default(),
            dx: Buf::default(),
            ws: Workspace::new(),
        })
    }

    /// The parameter gradients dW and db of the last `forward` for upstream `dy`, without
    /// dx: what a network's first layer needs (its input needs no gradient), saving the
    /// dx = dz·Wᵀ product.
    ///
    /// # Errors
    ///
    /// As [`Layer::backward`]: a shape error if dy is not N×H.
    ///
    /// # Example
    ///
    /// ```
    /// use nnkern::layers::{Affine, Layer};
    /// use nnkern::{Activation, MatRef};
    ///
    /// let mut layer = Affine::new(vec![2.0_f64], vec![0.0], 1, 1, Activation::Identity)?;
    /// layer.forward(MatRef::from_row_major(&[3.0], 1, 1)?)?;
    /// layer.backward_params(MatRef::from_row_major(&[1.0], 1, 1)?)?;
    /// assert_eq!(layer.grads(), vec![&[3.0][..], &[1.0][..]]); // dW = x·dy, db = dy
    /// # Ok::<(), nnkern::Error>(())
    /// ```
    pub fn backward_params(&mut self, dy: MatRef<'_, T>) -> Result<()> {
        self.grads(dy, false)
    }

    fn grads(&mut self, dy: MatRef<'_, T>, want_dx: bool) -> Result<()> {
        const OP: &str = "Affine::backward";
        check_dy(OP, &dy, (self.x.rows, self.h))?;
        if want_dx {
            self.dx.shape(OP, self.x.rows, self.d)?;
        }
        affine_backward(
            self.x.view(),
            MatRef::from_row_major(&self.w, self.d, self.h)?,
            self.y.view(),
            dy,
            self.act,
            AffineGrads {
                dx: if want_dx { Some(self.dx.view_mut()) } else { None },
                dw: MatMut::from_row_major(&mut self.dw, self.d, self.h)?,
                db: &mut self.db,
            },
            Accum::Replace,
            &mut self.ws,
        )
    }

    /// A D→H layer initialised as the book does: W = scale·N(0, 1), b = 0.
    pub fn random(d: usize, h: usize, act: Activation, scale: f64, rng: &mut Rng) -> Self {
        let w = (0..d * h).map(|_| T::from_f64(scale * rng.normal())).collect();
        Self::new(w, vec![T::ZERO; h], d, h, act).expect("lengths match by construction")
    }
}

impl<T: Float> Layer<T> for Affine<T> {
    fn forward(&mut self, x: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
        const OP: &str = "Affine::forward";
        check_input(OP, &x, self.d)?;
        self.y.shape(OP, x.rows(), self.h)?;
        self.x.copy_from(OP, x)?;
        affine_forward(
            x,
            MatRef::from_row_major(&self.w, self.d, self.h)?,
            &self.b,
            self.act,
            self.y.view_mut(),
        )?;
        Ok(self.y.view())
    }
    fn backward(&mut self, dy: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
        self.grads(dy, true)?;
        Ok(self.dx.view())
    }
    fn visit_params(&mut self, f: &mut dyn FnMut(&mut [T], &[T])) {
        f(&mut self.w, &self.dw);
        f(&mut self.b, &self.db);
    }
    fn params(&self) -> Vec<&[T]> {
        vec![&self.w, &self.b]
    }
    fn grads(&self) -> Vec<&[T]> {
        vec![&self.dw, &self.db]
    }
}

/// An elementwise activation layer over an [`Activation`]: keeps its output for backward.
#[derive(Debug)]
pub struct Act<T> {
    act: Activation,
    y: Buf<T>,
    dx: Buf<T>,
}

impl<T: Float> Act<T> {
    /// The layer for `act`.
    pub fn new(act: Activation) -> Self {
        Act {
            act,
            y: Buf::default(),
            dx: Buf::default(),
        }
    }
}

impl<T: Float> Layer<T> for Act<T> {
    fn forward(&mut self, x: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
        self.y.shape("Act::forward", x.rows(), x.cols())?;
        activation_forward(self.act, x, self.y.view_mut())?;
        Ok(self.y.view())
    }
    fn backward(&mut self, dy: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
        const OP: &str = "Act::backward";
        check_dy(OP, &dy, (self.y.rows, self.y.cols))?;
        self.dx.shape(OP, self.y.rows, self.y.cols)?;
        activation_backward(self.act, self.y.view(), dy, self.dx.view_mut())?;
        Ok(self.dx.view())
    }
}

macro_rules! act_layer {
    ($name:ident, $act:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug)]
        pub struct $name<T>(Act<T>);

        impl<T: Float> $name<T> {
            /// A new layer (buffers are allocated on the first forward).
            pub fn new() -> Self {
                $name(Act::new(Activation::$act))
            }
        }

        impl<T: Float> Default for $name<T> {
            fn default() -> Self {
                Self::new()
            }
        }

        impl<T: Float> Layer<T> for $name<T> {
            fn forward(&mut self, x: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
                self.0.forward(x)
            }
            fn backward(&mut self, dy: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
                self.0.backward(dy)
            }
        }
    };
}

act_layer!(
    Sigmoid,
    Sigmoid,
    "The Sigmoid layer: y = 1/(1+e^(−x)), dx = dy⊙y⊙(1−y)."
);
act_layer!(Tanh, Tanh, "The Tanh layer: y = tanh x, dx = dy⊙(1−y²).");
act_layer!(
    Relu,
    Relu,
    "The ReLU layer: y = max(x, 0), dx = dy where y > 0, else 0."
);

/// The Softmax layer (row-wise): y = softmax(x), dx = y⊙(dy − Σ dy⊙y).
#[derive(Debug, Default)]
pub struct Softmax<T> {
    y: Buf<T>,
    dx: Buf<T>,
}

impl<T: Float> Softmax<T> {
    /// A Softmax layer.
    pub fn new() -> Self {
        Softmax {
            y: Buf::default(),
            dx: Buf::default(),
        }
    }
}

impl<T: Float> Layer<T> for Softmax<T> {
    fn forward(&mut self, x: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
        self.y.shape("Softmax::forward", x.rows(), x.cols())?;
        softmax_forward(x, self.y.view_mut())?;
        Ok(self.y.view())
    }
    fn backward(&mut self, dy: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
        const OP: &str = "Softmax::backward";
        check_dy(OP, &dy, (self.y.rows, self.y.cols))?;
        self.dx.shape(OP, self.y.rows, self.y.cols)?;
        softmax_backward(self.y.view(), dy, self.dx.view_mut())?;
        Ok(self.dx.view())
    }
}

/// Softmax-with-Loss: the mean cross-entropy of softmax(scores) against class labels, fused
/// (`softmax_cross_entropy`): forward computes the loss and the gradient in one pass;
/// backward scales it by the upstream dout.
#[derive(Debug, Default)]
pub struct SoftmaxWithLoss<T> {
    ds: Buf<T>,
    dx: Buf<T>,
}

impl<T: Float> SoftmaxWithLoss<T> {
    /// The loss layer.
    pub fn new() -> Self {
        SoftmaxWithLoss {
            ds: Buf::default(),
            dx: Buf::default(),
        }
    }

    /// L = (1/N)·Σ_n (logsumexp(s_n) − s_n,t_n).
    ///
    /// # Errors
    ///
    /// As [`softmax_cross_entropy`]: labels out of range, a label count other than N.
    pub fn forward(&mut self, scores: MatRef<'_, T>, labels: &[usize]) -> Result<T> {
        const OP: &str = "SoftmaxWithLoss::forward";
        // the kernel's checks, before the gradient's buffer is sized from the scores
        crate::ops::check_has_cols(OP, "scores", scores.cols())?;
        crate::ops::cross_entropy::check_targets(
            OP,
            &Targets::<T>::Classes(labels),
            scores.rows(),
            scores.cols(),
            None,
        )?;
        self.ds.shape(OP, scores.rows(), scores.cols())?;
        let mut loss = [T::ZERO];
        softmax_cross_entropy(
            scores,
            Targets::Classes(labels),
            &CrossEntropyOptions::default(),
            &[T::ONE],
            &mut loss,
            self.ds.view_mut(),
        )?;
        Ok(loss[0])
    }

    /// d scores = dout·(softmax(s) − onehot(t))/N.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Alloc`] if the scaled gradient's buffer cannot be allocated (only when
    /// `dout` ≠ 1: with 1 the forward's buffer is returned as it is).
    pub fn backward(&mut self, dout: T) -> Result<MatRef<'_, T>> {
        if dout == T::ONE {
            return Ok(self.ds.view());
        }
        self.dx
            .shape("SoftmaxWithLoss::backward", self.ds.rows, self.ds.cols)?;
        let n = self.ds.rows * self.ds.cols;
        for (o, &g) in self.dx.data[..n].iter_mut().zip(&self.ds.data[..n]) {
            *o = dout * g;
        }
        Ok(self.dx.view())
    }
}

/// Plain SGD over a layer's parameters: p ← p − lr·g.
///
/// # Example
///
/// ```
/// use nnkern::layers::{Layer, MatMul, Sgd};
///
/// let mut layer = MatMul::new(vec![1.0_f32], 1, 1)?;
/// let x = [2.0_f32];
/// layer.forward(nnkern::MatRef::from_row_major(&x, 1, 1)?)?;
/// layer.backward(nnkern::MatRef::from_row_major(&[1.0], 1, 1)?)?; // dW = 2
/// Sgd { lr: 0.5 }.step(&mut layer)?;
/// assert_eq!(layer.params()[0], &[0.0]);
/// # Ok::<(), nnkern::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Sgd<T> {
    /// The learning rate.
    pub lr: T,
}

impl<T: Float> Sgd<T> {
    /// One update of every parameter of `layer`.
    ///
    /// # Errors
    ///
    /// Before any update: [`ErrorKind::Value`] naming `lr` if it is not finite and ≥ 0;
    /// [`ErrorKind::Length`] naming `grads` if the layer hands a parameter and a gradient of
    /// different lengths.
    pub fn step(&self, layer: &mut dyn Layer<T>) -> Result<()> {
        const OP: &str = "Sgd::step";
        check_lr(OP, self.lr)?;
        check_param_pairs(OP, &mut [&mut *layer], &mut |_, _| true)?;
        // (checked above: these updates cannot fail)
        let mut result = Ok(());
        layer.visit_params(&mut |p, g| {
            if result.is_ok() {
                result = sgd_update(p, g, self.lr);
            }
        });
        result
    }
}

/// Visits every (parameter, gradient) pair of `layers` without changing anything and checks
/// that each pair has one length and that `fits(k, len)` holds for the k-th pair: `op`'s
/// [`ErrorKind::Length`] error naming `grads` or `layers` for the first that does not.
/// Returns the number of pairs.
fn check_param_pairs<T: Float>(
    op: &'static str,
    layers: &mut [&mut dyn Layer<T>],
    fits: &mut dyn FnMut(usize, usize) -> bool,
) -> Result<usize> {
    let mut k = 0;
    let mut bad = None;
    for layer in layers.iter_mut() {
        layer.visit_params(&mut |p, g| {
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
                        "layers",
                        format!(
                            "hand parameter tensor {k} of length {} that the optimizer's state \
                             does not have (pass the same layers in the same order at every step)",
                            p.len()
                        ),
                    ));
                }
            }
            k += 1;
        });
    }
    match bad {
        Some((arg, detail)) => Err(Error::new(op, arg, ErrorKind::Length, detail)),
        None => Ok(k),
    }
}

/// Adam over the parameters of one or more layers (its moments are kept per parameter, in
/// visiting order; allocated on the first step).
///
/// # Example
///
/// ```
/// use nnkern::AdamParams;
/// use nnkern::layers::{Adam, Layer, MatMul};
///
/// let mut layer = MatMul::new(vec![1.0_f64], 1, 1)?;
/// layer.forward(nnkern::MatRef::from_row_major(&[2.0], 1, 1)?)?;
/// layer.backward(nnkern::MatRef::from_row_major(&[1.0], 1, 1)?)?;
/// let mut adam = Adam::new(AdamParams { lr: 0.1, ..Default::default() });
/// adam.step(&mut [&mut layer])?;
/// assert!((layer.params()[0][0] - 0.9).abs() < 1e-6);
/// # Ok::<(), nnkern::Error>(())
/// ```
#[derive(Debug)]
pub struct Adam<T> {
    hp: AdamParams<T>,
    step: u32,
    moments: Vec<(Vec<T>, Vec<T>)>,
}

impl<T: Float> Adam<T> {
    /// An optimizer with hyper-parameters `hp`.
    pub fn new(hp: AdamParams<T>) -> Self {
        Adam {
            hp,
            step: 0,
            moments: Vec::new(),
        }
    }

    /// One update of every parameter of `layers`; pass the same layers in the same order at
    /// every step.
    ///
    /// The parameter set is checked against the optimizer's state before anything is
    /// updated: the first step sizes the moments from it, later steps must hand tensors of
    /// the same number and lengths.
    ///
    /// # Errors
    ///
    /// Before any update: [`ErrorKind::Value`] naming a hyper-parameter out of its domain (see
    /// [`adam_update`]); [`ErrorKind::Length`] naming `layers` if the parameter set differs
    /// from the one of the first step, or naming `grads` if a layer hands a parameter and a
    /// gradient of different lengths; [`ErrorKind::Alloc`] if the moments cannot be
    /// allocated.
    pub fn step(&mut self, layers: &mut [&mut dyn Layer<T>]) -> Result<()> {
        const OP: &str = "Adam::step";
        check_adam(OP, &self.hp)?;
        if self.moments.is_empty() {
            let mut lens = Vec::new();
            check_param_pairs(OP, layers, &mut |_, len| {
                lens.push(len);
                true
            })?;
            let mut moments = Vec::with_capacity(lens.len());
            for len in lens {
                let (mut m, mut v) = (Vec::new(), Vec::new());
                reserve(OP, "scratch", &mut m, len)?;
                reserve(OP, "scratch", &mut v, len)?;
                m.resize(len, T::ZERO);
                v.resize(len, T::ZERO);
                moments.push((m, v));
            }
            self.moments = moments;
        } else {
            let moments = &self.moments;
            let count = check_param_pairs(OP, layers, &mut |k, len| {
                moments.get(k).is_some_and(|(m, _)| m.len() == len)
            })?;
            if count != moments.len() {
                return Err(Error::new(
                    OP,
                    "layers",
                    ErrorKind::Length,
                    format!(
                        "hand {count} parameter tensors but the optimizer's state is for {} (pass \
                         the same layers in the same order at every step)",
                        moments.len()
                    ),
                ));
            }
        }
        self.step = self.step.saturating_add(1);
        let mut k = 0;
        let (hp, step, moments) = (self.hp, self.step, &mut self.moments);
        let mut result = Ok(());
        for layer in layers.iter_mut() {
            layer.visit_params(&mut |p, g| {
                let (m, v) = &mut moments[k];
                if result.is_ok() {
                    result = adam_update(p, g, m, v, step, &hp);
                }
                k += 1;
            });
        }
        result
    }
}

/// The book's TwoLayerNet: Affine(D→H) + Sigmoid (fused), Affine(H→C), Softmax-with-Loss.
///
/// # Example
///
/// ```
/// use nnkern::MatRef;
/// use nnkern::data::Rng;
/// use nnkern::layers::{Sgd, TwoLayerNet};
///
/// let mut net = TwoLayerNet::<f32>::new(2, 10, 3, &mut Rng::new(0));
/// let x = [0.1_f32, 0.2, -0.3, 0.4];
/// let loss = net.forward(MatRef::from_row_major(&x, 2, 2)?, &[0, 2])?;
/// // untrained (weights 0.01·N(0, 1)): scores differ by ~0.01, so the loss is near ln 3
/// assert!((loss - 3f32.ln()).abs() < 0.05);
/// net.backward()?;
/// net.step(&Sgd { lr: 1.0 })?;
/// # Ok::<(), nnkern::Error>(())
/// ```
#[derive(Debug)]
pub struct TwoLayerNet<T> {
    /// Affine D→H with the sigmoid fused.
    pub hidden: Affine<T>,
    /// Affine H→C (scores).
    pub out: Affine<T>,
    /// The loss layer.
    pub loss: SoftmaxWithLoss<T>,
}

impl<T: Float> TwoLayerNet<T> {
    /// Weights 0.01·N(0, 1), biases 0, as in the book.
    pub fn new(input: usize, hidden: usize, classes: usize, rng: &mut Rng) -> Self {
        TwoLayerNet {
            hidden: Affine::random(input, hidden, Activation::Sigmoid, 0.01, rng),
            out: Affine::random(hidden, classes, Activation::Identity, 0.01, rng),
            loss: SoftmaxWithLoss::new(),
        }
    }

    /// The class scores (N×C) of a batch.
    ///
    /// # Errors
    ///
    /// A shape error if x is not N×D.
    pub fn predict(&mut self, x: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
        let h = self.hidden.forward(x)?;
        self.out.forward(h)
    }

    /// The mean loss of a batch with labels `t`; keeps what backward needs.
    ///
    /// # Errors
    ///
    /// A shape or label error.
    pub fn forward(&mut self, x: MatRef<'_, T>, t: &[usize]) -> Result<T> {
        let h = self.hidden.forward(x)?;
        let s = self.out.forward(h)?;
        self.loss.forward(s, t)
    }

    /// Gradients of every parameter for the last `forward`.
    ///
    /// # Errors
    ///
    /// None unless `forward` failed before.
    pub fn backward(&mut self) -> Result<()> {
        let ds = self.loss.backward(T::ONE)?;
        let dh = self.out.backward(ds)?;
        // the input layer's dx would be the gradient of the data: skipped
        self.hidden.backward_params(dh)
    }

    /// One SGD update of all parameters.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Value`] naming `lr` if the learning rate is not finite and ≥ 0 (nothing
    /// is updated).
    pub fn step(&mut self, sgd: &Sgd<T>) -> Result<()> {
        check_lr("TwoLayerNet::step", sgd.lr)?;
        sgd.step(&mut self.hidden)?;
        sgd.step(&mut self.out)
    }

    /// One whole training step on a batch: `forward(x, t)`, `backward()` and `step(sgd)` in
    /// one call; returns the batch's mean loss L = (1/N)·Σ_n (logsumexp(s_n) − s_n,t_n).
    ///
    /// When the input width, hidden width and class count are all at most 16 and the output
    /// layer has no activation (the book's net: 2, 10, 3), the step is one fused kernel: the
    /// batch goes through 16 rows at a time with a vector lane per row, the hidden layer,
    /// scores, loss and every gradient computed in registers, each parameter gradient's
    /// terms summed across the lanes and the groups in a fixed order (on the calling thread:
    /// the same result on any thread count). It computes what the layer-by-layer path computes, with the sums in another
    /// order (so the two agree to rounding, not bit for bit); `grads()` of both layers then
    /// hold the step's gradients. It does not fill the layers' forward caches (their
    /// `backward` refers to their last `forward`). Other shapes go layer by layer.
    ///
    /// # Errors
    ///
    /// A shape error naming `x` if x is not N×D with N ≥ 1; a length or label error naming
    /// `targets` if `t` has other than N labels or one outside 0..C.
    ///
    /// # Example
    ///
    /// ```
    /// use nnkern::MatRef;
    /// use nnkern::data::Rng;
    /// use nnkern::layers::{Sgd, TwoLayerNet};
    ///
    /// let mut net = TwoLayerNet::<f32>::new(2, 10, 3, &mut Rng::new(0));
    /// let x = MatRef::from_row_major(&[0.1_f32, 0.2, -0.3, 0.4], 2, 2)?;
    /// let first = net.train_step(x, &[0, 2], &Sgd { lr: 1.0 })?;
    /// for _ in 0..200 {
    ///     net.train_step(x, &[0, 2], &Sgd { lr: 1.0 })?;
    /// }
    /// assert!(net.train_step(x, &[0, 2], &Sgd { lr: 1.0 })? < first);
    /// # Ok::<(), nnkern::Error>(())
    /// ```
    pub fn train_step(&mut self, x: MatRef<'_, T>, t: &[usize], sgd: &Sgd<T>) -> Result<T> {
        const OP: &str = "TwoLayerNet::train_step";
        let (d, h, c) = (self.hidden.d, self.hidden.h, self.out.h);
        let n = x.rows();
        let fused = d <= MAX_WIDTH
            && h <= MAX_WIDTH
            && c <= MAX_WIDTH
            && self.out.d == h
            && self.out.act == Activation::Identity
            && x.unit_col_stride();
        check_lr(OP, sgd.lr)?;
        if !fused || n == 0 {
            let loss = self.forward(x, t)?;
            self.backward()?;
            self.step(sgd)?;
            return Ok(loss);
        }
        check_shape(OP, "x", (n, x.cols()), (n, d), "N × the input width")?;
        crate::ops::cross_entropy::check_targets(OP, &Targets::<T>::Classes(t), n, c, None)?;
        let (hid, out) = (&mut self.hidden, &mut self.out);
        let loss = dispatch(
            Isa::current(),
            two_layer::Step {
                x,
                t,
                act: hid.act,
                dims: (d, h, c),
                params: two_layer::Params {
                    w1: &hid.w,
                    b1: &hid.b,
                    w2: &out.w,
                    b2: &out.b,
                },
                grads: two_layer::Grads {
                    w1: &mut hid.dw,
                    b1: &mut hid.db,
                    w2: &mut out.dw,
                    b2: &mut out.db,
                },
            },
        );
        self.step(sgd)?;
        Ok(loss)
    }
}

/// Minibatch SGD over a data set, as in the book's `Trainer`: each epoch shuffles the rows,
/// then runs forward, backward and an update on every batch. Its buffers are reused, so
/// epochs after the first allocate nothing.
///
/// # Example
///
/// ```
/// use nnkern::data::{Rng, spiral};
/// use nnkern::layers::{Sgd, Trainer, TwoLayerNet};
///
/// let (x, t) = spiral::<f32>(100, 3, 1)?;
/// let mut rng = Rng::new(2);
/// let mut net = TwoLayerNet::new(2, 10, 3, &mut rng);
/// let mut trainer = Trainer::new(30, Sgd { lr: 1.0 }, rng)?;
/// let first = trainer.epoch(&mut net, &x, &t)?;
/// for _ in 0..20 {
///     trainer.epoch(&mut net, &x, &t)?;
/// }
/// assert!(trainer.epoch(&mut net, &x, &t)? < first);
/// # Ok::<(), nnkern::Error>(())
/// ```
#[derive(Debug)]
pub struct Trainer<T> {
    batch: usize,
    sgd: Sgd<T>,
    rng: Rng,
    order: Vec<usize>,
    xb: Vec<T>,
    tb: Vec<usize>,
}

impl<T: Float> Trainer<T> {
    /// A trainer with minibatches of `batch` rows, shuffling with `rng`. A batch larger than
    /// the data set is the whole set.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Value`] naming `batch` if it is 0, or `lr` if the learning rate is not
    /// finite and ≥ 0.
    pub fn new(batch: usize, sgd: Sgd<T>, rng: Rng) -> Result<Self> {
        let mut t = Trainer {
            batch: 1,
            sgd,
            rng,
            order: Vec::new(),
            xb: Vec::new(),
            tb: Vec::new(),
        };
        t.set_batch(batch)?;
        t.set_sgd(sgd)?;
        Ok(t)
    }

    /// Rows per minibatch.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Sets the rows per minibatch for the following epochs.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Value`] naming `batch` if it is 0 (the setting is unchanged).
    pub fn set_batch(&mut self, batch: usize) -> Result<()> {
        if batch == 0 {
            return Err(Error::new(
                "Trainer::set_batch",
                "batch",
                ErrorKind::Value,
                "is 0 but a minibatch needs at least 1 row",
            ));
        }
        self.batch = batch;
        Ok(())
    }

    /// The optimizer.
    pub fn sgd(&self) -> Sgd<T> {
        self.sgd
    }

    /// Sets the optimizer for the following steps.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Value`] naming `lr` if it is not finite and ≥ 0 (the setting is
    /// unchanged).
    pub fn set_sgd(&mut self, sgd: Sgd<T>) -> Result<()> {
        check_lr("Trainer::set_sgd", sgd.lr)?;
        self.sgd = sgd;
        Ok(())
    }

    /// One epoch over the N×D rows `x` (row-major) with labels `t`; returns the mean of the
    /// batch losses.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Length`] naming `x` if `x.len()` is not the
    /// net's input width times `t.len()`; [`ErrorKind::Label`] naming `targets` if a label is
    /// not below the net's class count; [`ErrorKind::Alloc`] if the batch buffers cannot be
    /// allocated — all before any step, so the net is unchanged. Other errors come from the
    /// kernels.
    pub fn epoch(&mut self, net: &mut TwoLayerNet<T>, x: &[T], t: &[usize]) -> Result<T> {
        const OP: &str = "Trainer::epoch";
        let n = t.len();
        let d = net.hidden.d;
        match n.checked_mul(d) {
            Some(nd) => crate::ops::check_len(OP, "x", x.len(), nd, "t.len × input width")?,
            None => {
                return Err(Error::new(
                    OP,
                    "t",
                    ErrorKind::Overflow,
                    format!("has {n} labels: × the input width {d} overflows usize"),
                ));
            }
        }
        // every label before the first step: a bad one in the last batch must not leave the
        // net trained on the batches before it
        crate::ops::cross_entropy::check_targets(OP, &Targets::<T>::Classes(t), n, net.out.h, None)?;
        check_lr(OP, self.sgd.lr)?;
        // (a batch beyond the data set is the whole set: its buffers are sized from both)
        let batch = self.batch.min(n);
        if self.order.len() != n {
            self.order.clear();
            reserve(OP, "scratch", &mut self.order, n)?;
            self.order.extend(0..n);
        }
        // batch·d ≤ n·d, which was checked
        reserve(OP, "scratch", &mut self.xb, batch * d)?;
        reserve(OP, "scratch", &mut self.tb, batch)?;
        self.xb.resize(self.xb.len().max(batch * d), T::ZERO);
        self.tb.resize(self.tb.len().max(batch), 0);
        self.rng.shuffle(&mut self.order);
        let mut total = 0.0;
        let steps = n.div_ceil(batch.max(1));
        for idx in self.order.chunks(batch.max(1)) {
            for (k, &i) in idx.iter().enumerate() {
                self.xb[k * d..(k + 1) * d].copy_from_slice(&x[i * d..(i + 1) * d]);
                self.tb[k] = t[i];
            }
            let b = idx.len();
            let loss = net.train_step(
                MatRef::from_row_major(&self.xb[..b * d], b, d)?,
                &self.tb[..b],
                &self.sgd,
            )?;
            total += loss.to_f64();
        }
        Ok(T::from_f64(total / steps.max(1) as f64))
    }
}
