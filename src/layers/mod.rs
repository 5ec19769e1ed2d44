//! Layer objects over the kernels, and what composes them into a network: they own their
//! parameters, gradients, caches and scratch, and allocate nothing after the first call at a
//! given batch size (smaller batches reuse the memory of larger ones).
//!
//! - [`Layer`]: the book's forward/backward interface, plus an inference mode
//!   ([`Layer::infer`]) that keeps nothing for backward, and a backward without dx
//!   ([`Layer::backward_params`]) for a network's first layer. Implemented by [`MatMul`],
//!   [`Affine`] (with a fused activation), [`Act`] and the activation layers, [`Softmax`],
//!   [`Sequential`], and `Box<dyn Layer<T>>` / `&mut L`.
//! - [`Sequential`]: a stack of layers that is itself a layer, with the fused
//!   softmax-cross-entropy at its end ([`Sequential::train_step`]).
//! - [`Optimizer`]: [`Sgd`] (momentum, Nesterov, weight decay) and [`Adam`] (and AdamW), each
//!   owning its state, over any [`Params`] — a layer, a stack, a [`TwoLayerNet`].
//! - [`Init`]: named weight initialisations (the book's, He/Kaiming, Xavier/Glorot, PyTorch's
//!   `nn.Linear` default) for [`Affine::init`].
//! - [`TwoLayerNet`] and [`Trainer`]: the book's network and minibatch loop, for any
//!   [`Model`] and optimizer.
//!
//! Like the book's layers, `forward` keeps what `backward` needs (the input for MatMul and
//! Affine, the output for activations), and gradients overwrite (`Accum::Replace`).
//!
//! # Example
//!
//! A 2→16→3 ReLU network trained with Adam on three noisy clusters:
//!
//! ```
//! use nnkern::layers::{Adam, Affine, Init, Rng, Sequential};
//! use nnkern::{Activation, AdamParams, MatRef};
//!
//! let mut rng = Rng::new(1);
//! let t: Vec<usize> = (0..150).map(|i| i % 3).collect();
//! let x: Vec<f32> = t.iter()
//!     .flat_map(|&c| [(c as f64 * 2.1).cos(), (c as f64 * 2.1).sin()])
//!     .map(|v| (v + 0.3 * rng.normal()) as f32)
//!     .collect();
//! let x = MatRef::from_row_major(&x, 150, 2)?;
//! let mut net = Sequential::new()
//!     .push(Affine::init(2, 16, Activation::Relu, Init::HeNormal, &mut rng)?)
//!     .push(Affine::init(16, 3, Activation::Identity, Init::XavierUniform, &mut rng)?);
//! let mut adam = Adam::new(AdamParams::default().lr(0.05));
//! let first = net.train_step(x, &t, &mut adam)?;
//! for _ in 0..200 {
//!     net.train_step(x, &t, &mut adam)?;
//! }
//! assert!(net.train_step(x, &t, &mut adam)? < 0.5 * first);
//! # Ok::<(), nnkern::Error>(())
//! ```

mod basic;
mod init;
mod net;
mod optim;
mod rng;
mod sequential;

pub use basic::{Act, Affine, Gelu, GeluTanh, MatMul, Relu, Sigmoid, Silu, Softmax, SoftmaxWithLoss, Tanh};
pub use init::Init;
pub use net::{Model, Trainer, TwoLayerNet};
pub use optim::{Adam, Optimizer, Sgd};
pub use rng::Rng;
pub use sequential::Sequential;

use crate::error::{Error, ErrorKind, Result};
use crate::float::Float;
use crate::mat::{MatMut, MatRef};
use crate::ops::{check_shape, reserve, scratch_len};

/// A growable row-major matrix buffer: resizing never gives memory back.
#[derive(Debug, Default)]
pub(crate) struct Buf<T> {
    pub(crate) data: Vec<T>,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
}

impl<T: Float> Buf<T> {
    /// Makes the buffer rows×cols, growing it fallibly: `op`'s [`ErrorKind::Overflow`] or
    /// [`ErrorKind::Alloc`] error (and the buffer unchanged) if it cannot.
    pub(crate) fn shape(&mut self, op: &'static str, rows: usize, cols: usize) -> Result<()> {
        let n = scratch_len(op, rows, cols, 0)?;
        if self.data.len() < n {
            reserve(op, "scratch", &mut self.data, n)?;
            self.data.resize(n, T::ZERO);
        }
        self.rows = rows;
        self.cols = cols;
        Ok(())
    }
    pub(crate) fn view(&self) -> MatRef<'_, T> {
        MatRef::from_row_major(&self.data[..self.rows * self.cols], self.rows, self.cols)
            .expect("a buffer holds rows·cols elements")
    }
    pub(crate) fn view_mut(&mut self) -> MatMut<'_, T> {
        let n = self.rows * self.cols;
        MatMut::from_row_major(&mut self.data[..n], self.rows, self.cols)
            .expect("a buffer holds rows·cols elements")
    }
    /// Copies `x` (any view) into the buffer, row-major (errors as [`Buf::shape`]).
    pub(crate) fn copy_from(&mut self, op: &'static str, x: MatRef<'_, T>) -> Result<()> {
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
pub(crate) fn check_dy<T: Copy>(op: &'static str, dy: &MatRef<'_, T>, last: (usize, usize)) -> Result<()> {
    check_shape(op, "dy", (dy.rows(), dy.cols()), last, "the last output's shape")
}

/// A layer's input x must have the layer's input width `d`: checked before anything is
/// allocated for x's rows.
pub(crate) fn check_input<T: Copy>(op: &'static str, x: &MatRef<'_, T>, d: usize) -> Result<()> {
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

/// A set of parameter tensors, each with its gradient, visited in a fixed order: what an
/// [`Optimizer`] updates. Every [`Layer`] is one (a layer without parameters implements it
/// with the default, empty body: `impl Params<f32> for MyLayer {}`); so are a
/// [`Sequential`] and a [`TwoLayerNet`]. A model of your own implements it to be trained by
/// the optimizers.
///
/// # Example
///
/// ```
/// use nnkern::layers::{Optimizer, Params, Sgd};
///
/// /// One free parameter vector, with its gradient.
/// struct Bias { b: Vec<f32>, db: Vec<f32> }
///
/// impl Params<f32> for Bias {
///     fn visit_params(&mut self, f: &mut dyn FnMut(&mut [f32], &[f32])) {
///         f(&mut self.b, &self.db);
///     }
/// }
///
/// let mut p = Bias { b: vec![1.0, 2.0], db: vec![1.0, -1.0] };
/// Sgd::new(0.5).step(&mut p)?;
/// assert_eq!(p.b, [0.5, 2.5]);
/// # Ok::<(), nnkern::Error>(())
/// ```
pub trait Params<T: Float> {
    /// Calls `f(param, grad)` for each parameter tensor, always in the same order (the book's
    /// `params` and `grads`). The default visits nothing.
    fn visit_params(&mut self, _f: &mut dyn FnMut(&mut [T], &[T])) {}
}

/// A layer with a forward and a backward pass, as in the book.
///
/// The output of `forward`, `infer` and `backward` is the layer's own buffer, valid until the
/// next call. `backward` refers to the last `forward` (never to an `infer`).
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
pub trait Layer<T: Float>: Params<T> {
    /// y = f(x), keeping what `backward` needs.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Shape`] naming `x` for an input of the wrong width (checked before the
    /// layer sizes anything from x's rows), the kernel's error for other bad input, and
    /// [`ErrorKind::Alloc`] if the layer's caches for x's rows cannot be allocated.
    fn forward(&mut self, x: MatRef<'_, T>) -> Result<MatRef<'_, T>>;

    /// y = f(x) for inference: the same values as `forward`, keeping nothing for backward (no
    /// copy of x) and leaving the last `forward`'s cache as it was. The default runs
    /// `forward` (right for a layer whose only cache is its output, if a later `backward`
    /// may refer to this call).
    ///
    /// # Errors
    ///
    /// As [`Layer::forward`].
    fn infer(&mut self, x: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
        self.forward(x)
    }

    /// dx from dy = ∂L/∂y, using what the last `forward` kept; parameter gradients are
    /// overwritten.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Shape`] naming `dy` if it does not have the shape of the last output.
    fn backward(&mut self, dy: MatRef<'_, T>) -> Result<MatRef<'_, T>>;

    /// The parameter gradients of the last `forward` for upstream `dy`, without dx: what a
    /// network's first layer needs (its input needs no gradient). [`Affine`] and [`MatMul`]
    /// save their dx = dz·Wᵀ product; the default runs `backward`.
    ///
    /// # Errors
    ///
    /// As [`Layer::backward`].
    fn backward_params(&mut self, dy: MatRef<'_, T>) -> Result<()> {
        self.backward(dy).map(|_| ())
    }

    /// The width of the output for an input of width `in_width`, or `None` if the layer does
    /// not take that width. The default keeps the width (elementwise and row-wise layers).
    fn out_width(&self, in_width: usize) -> Option<usize> {
        Some(in_width)
    }

    /// The parameters, in the order of [`Params::visit_params`].
    fn params(&self) -> Vec<&[T]> {
        Vec::new()
    }

    /// The gradients of the last `backward`, in the same order.
    fn grads(&self) -> Vec<&[T]> {
        Vec::new()
    }
}

/// Forwards every method to the layer behind the pointer: a boxed layer, or a borrowed one,
/// is a layer (and a boxed or borrowed parameter set is a parameter set).
macro_rules! forward_layer {
    ($($ty:ty),*) => {$(
        impl<T: Float, L: Layer<T> + ?Sized> Layer<T> for $ty {
            fn forward(&mut self, x: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
                (**self).forward(x)
            }
            fn infer(&mut self, x: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
                (**self).infer(x)
            }
            fn backward(&mut self, dy: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
                (**self).backward(dy)
            }
            fn backward_params(&mut self, dy: MatRef<'_, T>) -> Result<()> {
                (**self).backward_params(dy)
            }
            fn out_width(&self, in_width: usize) -> Option<usize> {
                (**self).out_width(in_width)
            }
            fn params(&self) -> Vec<&[T]> {
                (**self).params()
            }
            fn grads(&self) -> Vec<&[T]> {
                (**self).grads()
            }
        }

        impl<T: Float, L: Params<T> + ?Sized> Params<T> for $ty {
            fn visit_params(&mut self, f: &mut dyn FnMut(&mut [T], &[T])) {
                (**self).visit_params(f)
            }
        }
    )*};
}

forward_layer!(Box<L>, &mut L);
