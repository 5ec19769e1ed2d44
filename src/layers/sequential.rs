//! A stack of layers that is itself a layer, trained with the fused softmax-cross-entropy at
//! its end.

use super::{Buf, Layer, Optimizer, Params, SoftmaxWithLoss};
use crate::error::{Error, ErrorKind, Result};
use crate::float::Float;
use crate::kernels::loss::softmax_cross_entropy_forward;
use crate::mat::MatRef;
use crate::ops::loss::softmax_ce::CrossEntropyOptions;
use crate::ops::loss::{Targets, check_targets};

/// Layers applied in order: y = fₖ(…f₂(f₁(x))). Each layer's output is the next one's input,
/// read from the layer's own buffer (no copies between layers); backward runs in reverse, the
/// first layer computing its parameter gradients only ([`Layer::backward_params`]). A
/// `Sequential` is a [`Layer`] (so stacks nest) and a [`Params`] for any
/// [`Optimizer`]. With no layers it is the identity.
///
/// [`train_step`](Sequential::train_step) puts the mean softmax-cross-entropy against class
/// labels at the end (the fused kernel: loss and gradient in one pass), and
/// [`predict`](Sequential::predict) runs the stack in inference mode.
///
/// Its layers are `Send` (every layer of this crate is), so a stack can move to another
/// thread or run inside a rayon pool.
///
/// After the first call at a batch size nothing is allocated (every layer and the loss reuse
/// their buffers; smaller batches reuse those of larger ones).
///
/// # Example
///
/// ```
/// use nnkern::layers::{Affine, Init, Optimizer, Sequential, Sgd};
/// use nnkern::{Activation, MatRef, layers::Rng};
///
/// let mut rng = Rng::new(0);
/// let mut net = Sequential::<f32>::new()
///     .push(Affine::init(4, 8, Activation::Relu, Init::HeNormal, &mut rng)?)
///     .push(Affine::init(8, 3, Activation::Identity, Init::TorchLinear, &mut rng)?);
/// let x = MatRef::from_row_major(&[0.5_f32; 8], 2, 4)?;
/// let mut sgd = Sgd::new(0.1).momentum(0.9);
/// let loss = net.train_step(x, &[0, 2], &mut sgd)?;
/// assert!(loss.is_finite());
/// assert_eq!(net.predict(x)?.cols(), 3);
/// # Ok::<(), nnkern::Error>(())
/// ```
#[derive(Default)]
pub struct Sequential<T> {
    layers: Vec<Box<dyn Layer<T> + Send>>,
    loss: SoftmaxWithLoss<T>,
    /// The output (and dx) of an empty stack: a copy of its input.
    ident: Buf<T>,
}

impl<T> std::fmt::Debug for Sequential<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sequential({} layers)", self.layers.len())
    }
}

impl<T: Float> Sequential<T> {
    /// An empty stack.
    pub fn new() -> Self {
        Sequential {
            layers: Vec::new(),
            loss: SoftmaxWithLoss::new(),
            ident: Buf::default(),
        }
    }

    /// The stack with `layer` appended (builder form of [`add`](Self::add)).
    #[must_use]
    pub fn push(mut self, layer: impl Layer<T> + Send + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// Appends a boxed layer.
    pub fn add(&mut self, layer: Box<dyn Layer<T> + Send>) {
        self.layers.push(layer);
    }

    /// The layers, in order.
    pub fn layers(&self) -> &[Box<dyn Layer<T> + Send>] {
        &self.layers
    }

    /// The layers, in order, to inspect or change one.
    pub fn layers_mut(&mut self) -> &mut [Box<dyn Layer<T> + Send>] {
        &mut self.layers
    }

    /// The class scores (N×C) of a batch, in inference mode ([`Layer::infer`]): nothing is
    /// kept for backward and the last `forward` is left as it was.
    ///
    /// # Errors
    ///
    /// The first layer's error for an input it does not take (a shape error naming `x`).
    pub fn predict(&mut self, x: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
        self.infer(x)
    }

    /// One training step on a batch: forward, the mean softmax-cross-entropy
    /// L = (1/N)·Σ_n (logsumexp(s_n) − s_n,t_n) of the scores s against labels `t` and its
    /// gradient (one fused kernel), backward through every layer, then `opt.step(self)`.
    /// Returns L.
    ///
    /// # Errors
    ///
    /// A layer's error (a shape error naming `x` for input of the wrong width); a length or
    /// label error naming `targets` if `t` has other than N labels or one outside 0..C; the
    /// optimizer's errors. Nothing is updated unless every check passed.
    pub fn train_step(&mut self, x: MatRef<'_, T>, t: &[usize], opt: &mut dyn Optimizer<T>) -> Result<T> {
        opt.check()?;
        let loss = {
            let s = forward_all(&mut self.layers, &mut self.ident, x, false)?;
            self.loss.forward_named("Sequential::train_step", s, t)?
        };
        let ds = self.loss.backward(T::ONE)?;
        backward_all(&mut self.layers, &mut self.ident, ds, false)?;
        opt.step(self)?;
        Ok(loss)
    }

    /// The mean softmax-cross-entropy of the scores against labels `t`, in inference mode
    /// (no gradient, nothing kept).
    ///
    /// # Errors
    ///
    /// As [`train_step`](Self::train_step), without the optimizer's.
    pub fn loss(&mut self, x: MatRef<'_, T>, t: &[usize]) -> Result<T> {
        let s = forward_all(&mut self.layers, &mut self.ident, x, true)?;
        let mut loss = [T::ZERO];
        softmax_cross_entropy_forward(
            s,
            Targets::Classes(t),
            &CrossEntropyOptions::default(),
            &mut loss,
            None,
        )?;
        Ok(loss[0])
    }

    /// The number of classes (the output width) for input width `in_width`, checked for
    /// labels before a step.
    pub(crate) fn check_labels(&self, op: &'static str, in_width: usize, t: &[usize]) -> Result<()> {
        let Some(c) = self.out_width(in_width) else {
            return Err(Error::new(
                op,
                "x",
                ErrorKind::Shape,
                format!("has {in_width} columns, which the stack's layers do not take"),
            ));
        };
        check_targets(op, &Targets::<T>::Classes(t), t.len(), c, None)
    }
}

/// Runs the layers in order on `x` (`infer`: inference mode); an empty stack copies x.
fn forward_all<'a, T: Float>(
    layers: &'a mut [Box<dyn Layer<T> + Send>],
    ident: &'a mut Buf<T>,
    x: MatRef<'_, T>,
    infer: bool,
) -> Result<MatRef<'a, T>> {
    let Some((first, rest)) = layers.split_first_mut() else {
        ident.copy_from("Sequential::forward", x)?;
        return Ok(ident.view());
    };
    let y = if infer { first.infer(x)? } else { first.forward(x)? };
    if rest.is_empty() {
        Ok(y)
    } else {
        forward_all(rest, ident, y, infer)
    }
}

/// Runs backward from the last layer to the first; the first computes dx only if `want_dx`.
/// Returns the first layer's dx (or, for an empty stack, a copy of dy) when `want_dx`.
fn backward_all<'a, T: Float>(
    layers: &'a mut [Box<dyn Layer<T> + Send>],
    ident: &'a mut Buf<T>,
    dy: MatRef<'_, T>,
    want_dx: bool,
) -> Result<Option<MatRef<'a, T>>> {
    let Some((last, rest)) = layers.split_last_mut() else {
        if !want_dx {
            return Ok(None);
        }
        ident.copy_from("Sequential::backward", dy)?;
        return Ok(Some(ident.view()));
    };
    if rest.is_empty() && !want_dx {
        last.backward_params(dy)?;
        return Ok(None);
    }
    let dx = last.backward(dy)?;
    if rest.is_empty() {
        Ok(Some(dx))
    } else {
        backward_all(rest, ident, dx, want_dx)
    }
}

impl<T: Float> Params<T> for Sequential<T> {
    fn visit_params(&mut self, f: &mut dyn FnMut(&mut [T], &[T])) {
        for l in &mut self.layers {
            l.visit_params(f);
        }
    }
}

impl<T: Float> Layer<T> for Sequential<T> {
    fn forward(&mut self, x: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
        forward_all(&mut self.layers, &mut self.ident, x, false)
    }
    fn infer(&mut self, x: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
        forward_all(&mut self.layers, &mut self.ident, x, true)
    }
    fn backward(&mut self, dy: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
        let dx = backward_all(&mut self.layers, &mut self.ident, dy, true)?;
        Ok(dx.expect("backward_all returns dx when asked"))
    }
    fn backward_params(&mut self, dy: MatRef<'_, T>) -> Result<()> {
        backward_all(&mut self.layers, &mut self.ident, dy, false).map(|_| ())
    }
    fn out_width(&self, in_width: usize) -> Option<usize> {
        self.layers.iter().try_fold(in_width, |w, l| l.out_width(w))
    }
    fn params(&self) -> Vec<&[T]> {
        self.layers.iter().flat_map(|l| l.params()).collect()
    }
    fn grads(&self) -> Vec<&[T]> {
        self.layers.iter().flat_map(|l| l.grads()).collect()
    }
}
