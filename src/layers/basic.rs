//! The book's layers: MatMul, Affine (with a fused activation), the activation layers,
//! Softmax and Softmax-with-Loss.

use super::Rng;
use super::{Buf, Init, Layer, Params, check_dy, check_input};
use crate::error::Result;
use crate::float::Float;
use crate::kernels::activation::{activation_backward, activation_forward};
use crate::kernels::affine::{affine_backward, affine_forward, affine_forward_with_z};
use crate::kernels::loss::softmax_cross_entropy;
use crate::kernels::matmul::{matmul_backward, matmul_forward};
use crate::kernels::softmax::{softmax_backward, softmax_forward};
use crate::mat::{MatMut, MatRef};
use crate::ops::activation::{Activation, Saved};
use crate::ops::affine::AffineGrads;
use crate::ops::loss::Targets;
use crate::ops::loss::softmax_ce::CrossEntropyOptions;
use crate::ops::{Accum, Workspace};

/// Checks that dy has the shape of the last output (x's rows × H, for a D→H layer whose
/// cached input is `x`) and, when `want_dx`, sizes the dx buffer to x's rows × D: the view a
/// backward kernel writes dx into.
fn dx_out<'a, T: Float>(
    op: &'static str,
    dy: &MatRef<'_, T>,
    x: &Buf<T>,
    (d, h): (usize, usize),
    dx: &'a mut Buf<T>,
    want_dx: bool,
) -> Result<Option<MatMut<'a, T>>> {
    check_dy(op, dy, (x.rows, h))?;
    if !want_dx {
        return Ok(None);
    }
    dx.shape(op, x.rows, d)?;
    Ok(Some(dx.view_mut()))
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
    yi: Buf<T>,
    dx: Buf<T>,
}

impl<T: Float> MatMul<T> {
    /// A layer with the D×H row-major weights `w`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Length`](crate::ErrorKind::Length) if `w.len() != d·h`.
    pub fn new(w: Vec<T>, d: usize, h: usize) -> Result<Self> {
        MatRef::from_row_major(&w, d, h)?;
        Ok(MatMul {
            dw: vec![T::ZERO; w.len()],
            w,
            d,
            h,
            x: Buf::default(),
            y: Buf::default(),
            yi: Buf::default(),
            dx: Buf::default(),
        })
    }

    /// dW (and dx into the layer's buffer when `want_dx`) for upstream dy.
    fn grads(&mut self, dy: MatRef<'_, T>, want_dx: bool) -> Result<()> {
        const OP: &str = "MatMul::backward";
        let dx = dx_out(OP, &dy, &self.x, (self.d, self.h), &mut self.dx, want_dx)?;
        matmul_backward(
            self.x.view(),
            MatRef::from_row_major(&self.w, self.d, self.h)?,
            dy,
            dx,
            MatMut::from_row_major(&mut self.dw, self.d, self.h)?,
            Accum::Replace,
        )
    }

    /// y = x·W into the training buffer (keeping a copy of x) or, for inference, the other.
    fn apply(&mut self, op: &'static str, x: MatRef<'_, T>, train: bool) -> Result<MatRef<'_, T>> {
        check_input(op, &x, self.d)?;
        let y = if train { &mut self.y } else { &mut self.yi };
        y.shape(op, x.rows(), self.h)?;
        if train {
            self.x.copy_from(op, x)?;
        }
        matmul_forward(x, MatRef::from_row_major(&self.w, self.d, self.h)?, y.view_mut())?;
        Ok(y.view())
    }
}

impl<T: Float> Params<T> for MatMul<T> {
    fn visit_params(&mut self, f: &mut dyn FnMut(&mut [T], &[T])) {
        f(&mut self.w, &self.dw);
    }
}

impl<T: Float> Layer<T> for MatMul<T> {
    fn forward(&mut self, x: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
        self.apply("MatMul::forward", x, true)
    }
    fn infer(&mut self, x: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
        self.apply("MatMul::infer", x, false)
    }
    fn backward(&mut self, dy: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
        self.grads(dy, true)?;
        Ok(self.dx.view())
    }
    fn backward_params(&mut self, dy: MatRef<'_, T>) -> Result<()> {
        self.grads(dy, false)
    }
    fn out_width(&self, in_width: usize) -> Option<usize> {
        (in_width == self.d).then_some(self.h)
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
    pub(crate) w: Vec<T>,
    pub(crate) b: Vec<T>,
    pub(crate) dw: Vec<T>,
    pub(crate) db: Vec<T>,
    pub(crate) d: usize,
    pub(crate) h: usize,
    pub(crate) act: Activation,
    x: Buf<T>,
    /// The pre-activation, kept in training for the activations whose derivative needs it.
    z: Buf<T>,
    y: Buf<T>,
    yi: Buf<T>,
    dx: Buf<T>,
    ws: Workspace<T>,
}

impl<T: Float> Affine<T> {
    /// A layer with D×H row-major weights `w`, bias `b` (length H) and activation `act`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Length`](crate::ErrorKind::Length) if `w.len() != d·h` or `b.len() != h`.
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
            z: Buf::default(),
            y: Buf::default(),
            yi: Buf::default(),
            dx: Buf::default(),
            ws: Workspace::new(),
        })
    }

    fn grads(&mut self, dy: MatRef<'_, T>, want_dx: bool) -> Result<()> {
        const OP: &str = "Affine::backward";
        let dx = dx_out(OP, &dy, &self.x, (self.d, self.h), &mut self.dx, want_dx)?;
        let saved = if self.act.needs_input() {
            Saved::Input(self.z.view())
        } else {
            Saved::Output(self.y.view())
        };
        affine_backward(
            self.x.view(),
            MatRef::from_row_major(&self.w, self.d, self.h)?,
            saved,
            dy,
            self.act,
            AffineGrads {
                dx,
                dw: MatMut::from_row_major(&mut self.dw, self.d, self.h)?,
                db: &mut self.db,
            },
            Accum::Replace,
            &mut self.ws,
        )
    }

    /// y = act(x·W + b) into the training buffer (keeping a copy of x) or, for inference,
    /// the other.
    fn apply(&mut self, op: &'static str, x: MatRef<'_, T>, train: bool) -> Result<MatRef<'_, T>> {
        check_input(op, &x, self.d)?;
        let y = if train { &mut self.y } else { &mut self.yi };
        y.shape(op, x.rows(), self.h)?;
        if train {
            self.x.copy_from(op, x)?;
        }
        let w = MatRef::from_row_major(&self.w, self.d, self.h)?;
        if train && self.act.needs_input() {
            self.z.shape(op, x.rows(), self.h)?;
            affine_forward_with_z(x, w, &self.b, self.act, self.z.view_mut(), y.view_mut())?;
        } else {
            affine_forward(x, w, &self.b, self.act, y.view_mut())?;
        }
        Ok(y.view())
    }

    /// A D→H layer with activation `act`, its weights and bias drawn by `init` from `rng`
    /// (fan-in D, fan-out H).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Overflow`](crate::ErrorKind::Overflow)(crate::ErrorKind::Overflow) naming `h` if D·H overflows,
    /// [`ErrorKind::Alloc`](crate::ErrorKind::Alloc)(crate::ErrorKind::Alloc) naming `d` or `h` if the parameters
    /// cannot be allocated,
    /// [`ErrorKind::Value`](crate::ErrorKind::Value)(crate::ErrorKind::Value) naming `init` for a negative or
    /// non-finite standard deviation.
    ///
    /// # Example
    ///
    /// ```
    /// use nnkern::layers::{Affine, Init, Layer};
    /// use nnkern::{Activation, layers::Rng};
    ///
    /// let layer = Affine::<f32>::init(64, 128, Activation::Relu, Init::HeNormal, &mut Rng::new(0))?;
    /// let w = layer.params()[0];
    /// let var = w.iter().map(|v| v * v).sum::<f32>() / w.len() as f32;
    /// assert!((var - 2.0 / 64.0).abs() < 0.003); // He: Var W = 2 / fan-in
    /// # Ok::<(), nnkern::Error>(())
    /// ```
    pub fn init(d: usize, h: usize, act: Activation, init: Init, rng: &mut Rng) -> Result<Self> {
        let (w, b) = init.draw("Affine::init", d, h, rng)?;
        Self::new(w, b, d, h, act)
    }
}

impl<T: Float> Params<T> for Affine<T> {
    fn visit_params(&mut self, f: &mut dyn FnMut(&mut [T], &[T])) {
        f(&mut self.w, &self.dw);
        f(&mut self.b, &self.db);
    }
}

impl<T: Float> Layer<T> for Affine<T> {
    fn forward(&mut self, x: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
        self.apply("Affine::forward", x, true)
    }
    fn infer(&mut self, x: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
        self.apply("Affine::infer", x, false)
    }
    fn backward(&mut self, dy: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
        self.grads(dy, true)?;
        Ok(self.dx.view())
    }
    fn backward_params(&mut self, dy: MatRef<'_, T>) -> Result<()> {
        self.grads(dy, false)
    }
    fn out_width(&self, in_width: usize) -> Option<usize> {
        (in_width == self.d).then_some(self.h)
    }
    fn params(&self) -> Vec<&[T]> {
        vec![&self.w, &self.b]
    }
    fn grads(&self) -> Vec<&[T]> {
        vec![&self.dw, &self.db]
    }
}

/// An elementwise activation layer over an [`Activation`]: keeps its output for backward, or
/// its input where the derivative needs it ([`Activation::needs_input`]).
#[derive(Debug)]
pub struct Act<T> {
    act: Activation,
    x: Buf<T>,
    y: Buf<T>,
    yi: Buf<T>,
    dx: Buf<T>,
}

impl<T: Float> Act<T> {
    /// The layer for `act`.
    pub fn new(act: Activation) -> Self {
        Act {
            act,
            x: Buf::default(),
            y: Buf::default(),
            yi: Buf::default(),
            dx: Buf::default(),
        }
    }
}

impl<T: Float> Params<T> for Act<T> {}

impl<T: Float> Layer<T> for Act<T> {
    fn forward(&mut self, x: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
        self.y.shape("Act::forward", x.rows(), x.cols())?;
        if self.act.needs_input() {
            self.x.copy_from("Act::forward", x)?;
        }
        activation_forward(self.act, x, self.y.view_mut())?;
        Ok(self.y.view())
    }
    fn infer(&mut self, x: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
        self.yi.shape("Act::infer", x.rows(), x.cols())?;
        activation_forward(self.act, x, self.yi.view_mut())?;
        Ok(self.yi.view())
    }
    fn backward(&mut self, dy: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
        const OP: &str = "Act::backward";
        check_dy(OP, &dy, (self.y.rows, self.y.cols))?;
        self.dx.shape(OP, self.y.rows, self.y.cols)?;
        let saved = if self.act.needs_input() {
            Saved::Input(self.x.view())
        } else {
            Saved::Output(self.y.view())
        };
        activation_backward(self.act, saved, dy, self.dx.view_mut())?;
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

        impl<T: Float> Params<T> for $name<T> {}

        impl<T: Float> Layer<T> for $name<T> {
            fn forward(&mut self, x: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
                self.0.forward(x)
            }
            fn infer(&mut self, x: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
                self.0.infer(x)
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
act_layer!(
    Silu,
    Silu,
    "The SiLU layer: y = x·σ(x), dx = dy⊙σ(x)⊙(1 + x⊙σ(−x)); keeps its input."
);
act_layer!(
    Gelu,
    Gelu,
    "The GELU layer: y = x·Φ(x), dx = dy⊙(Φ(x) + x⊙φ(x)) (PyTorch's `gelu`); keeps its input."
);
act_layer!(
    GeluTanh,
    GeluTanh,
    "The GELU layer, tanh form (PyTorch's `approximate='tanh'`); keeps its input."
);

/// The Softmax layer (row-wise): y = softmax(x), dx = y⊙(dy − Σ dy⊙y).
#[derive(Debug, Default)]
pub struct Softmax<T> {
    y: Buf<T>,
    yi: Buf<T>,
    dx: Buf<T>,
}

impl<T: Float> Softmax<T> {
    /// A Softmax layer.
    pub fn new() -> Self {
        Softmax {
            y: Buf::default(),
            yi: Buf::default(),
            dx: Buf::default(),
        }
    }
}

impl<T: Float> Params<T> for Softmax<T> {}

impl<T: Float> Layer<T> for Softmax<T> {
    fn forward(&mut self, x: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
        self.y.shape("Softmax::forward", x.rows(), x.cols())?;
        softmax_forward(x, self.y.view_mut())?;
        Ok(self.y.view())
    }
    fn infer(&mut self, x: MatRef<'_, T>) -> Result<MatRef<'_, T>> {
        self.yi.shape("Softmax::infer", x.rows(), x.cols())?;
        softmax_forward(x, self.yi.view_mut())?;
        Ok(self.yi.view())
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
        self.forward_named("SoftmaxWithLoss::forward", scores, labels)
    }

    /// [`forward`](Self::forward), its errors naming `op`.
    pub(crate) fn forward_named(
        &mut self,
        op: &'static str,
        scores: MatRef<'_, T>,
        labels: &[usize],
    ) -> Result<T> {
        // the kernel's checks, before the gradient's buffer is sized from the scores
        crate::ops::check_has_cols(op, "scores", scores.cols())?;
        crate::ops::loss::check_targets(
            op,
            &Targets::<T>::Classes(labels),
            scores.rows(),
            scores.cols(),
            None,
        )?;
        self.ds.shape(op, scores.rows(), scores.cols())?;
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
    /// [`ErrorKind::Alloc`](crate::ErrorKind::Alloc) if the scaled gradient's buffer cannot be allocated (only when
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
