//! Elementwise activations: identity, sigmoid, tanh, ReLU, LeakyReLU, SiLU and the GELU
//! (exact and tanh form); forward and backward.
//!
//! Each activation is one definition (`defs.rs`): its forward, its derivative from the input
//! and, where the derivative is a function of the output alone, from the output. A backward
//! takes what was saved ([`Saved`]): the output y where that suffices (identity, sigmoid,
//! tanh, ReLU, LeakyReLU with slope ≥ 0), else the pre-activation x.

mod defs;

pub(crate) use defs::{ActFn, Fwd, GradIn, GradOut};

use super::{
    FlatBinary, FlatUnary, check_rows_contiguous, check_shape, dims, dims_mut, map_binary, map_unary,
};
use crate::error::{Error, ErrorKind, Result};
use crate::mat::{MatMut, MatRef};
use crate::ops::KernelFloat;
use crate::par::Cost;
use crate::simd::{Exp, Isa, Ln, Ln1p, Math, dispatch};
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

/// An elementwise activation, applied after an affine map or on its own.
///
/// | variant | y = f(x) | f′ | backward reads |
/// |---|---|---|---|
/// | `Identity` | x | 1 | y (or x) |
/// | `Sigmoid` | 1/(1+e^(−x)) | y·(1−y) | y (or x) |
/// | `Tanh` | tanh x | 1−y² | y (or x) |
/// | `Relu` | max(x, 0) | 1 if x > 0 else 0 | y (or x) |
/// | `LeakyRelu(s)` | x if x > 0 else s·x | 1 if x > 0 else s | y if s ≥ 0 (or x) |
/// | `Silu` | x·σ(x) | σ(x)·(1 + x·σ(−x)) | x |
/// | `Gelu` | x·Φ(x) = ½x·(1 + erf(x/√2)) | Φ(x) + x·φ(x) | x |
/// | `GeluTanh` | ½x·(1 + tanh(√(2/π)(x + 0.044715x³))) | see [`Activation::GeluTanh`] | x |
///
/// Accuracy, measured over every f32 input and 10⁸ f64 inputs on every SIMD path
/// (`tests/suite/accuracy.rs`): sigmoid and tanh ≤ 2 ulp; SiLU ≤ 2.5 ulp and the tanh GELU ≤ 2 ulp
/// on the AVX-512 and AVX2 paths, where x·σ is rounded once inside an FMA (≤ 3 and ≤ 2.5 on
/// the portable and scalar paths, which have no FMA). Where σ is subnormal (x below about −87
/// in f32, −708 in f64) the product keeps that subnormal's absolute accuracy. The GELU's gate
/// argument v = 2√(2/π)(x + 0.044715x³) rounds three times, which the function's own
/// condition carries to y as 3·|x·v|·σ(v)·σ(−v)·u on top of the ulps: below an ulp except in
/// the negative tail, where y is tiny and the function ill-conditioned (the result is then the
/// exact GELU of an input within 3 roundings of x). The exact GELU ≤ 2.5 ulp on the AVX-512
/// and AVX2 paths (measured: 1.97 for x ≥ −1, 2.09 below, in f32; 1.99 in f64) and ≤ 4 on
/// the others (measured 3.45 and 3.72), with no allowance for conditioning: its tail is a
/// quotient of positive terms with the exponent −x²/2 carried exactly, so it keeps full
/// relative precision down to the underflow (where Φ(x) is subnormal the product keeps that
/// subnormal's absolute accuracy). LeakyReLU rounds once (slope·x).
///
/// Non-finite values: NaN in gives NaN out. sigmoid(±∞) = 1 / 0, tanh(±∞) = ±1,
/// relu(+∞) = +∞, relu(−∞) = 0, leaky_relu(−∞) = −∞ (s > 0), silu(+∞) = gelu(+∞) = +∞ as in
/// PyTorch. silu(−∞) = gelu(−∞) = −0 (both GELUs) and their derivatives at ±∞ are the limits
/// 1 (+∞) and 0 (−∞), where PyTorch's formulas give NaN (∞·0). ReLU's backward passes dy where x > 0 or x
/// is NaN and gives exactly 0 elsewhere (a select, so a NaN dy at x ≤ 0 gives 0, as PyTorch).
///
/// # Example
///
/// ```
/// use nnkern::Activation;
///
/// assert_eq!(Activation::Sigmoid.apply(0.0_f32), 0.5);
/// assert_eq!(Activation::Relu.apply(-3.0_f64), 0.0);
/// assert_eq!(Activation::LeakyRelu(0.1).apply(-3.0_f64), -0.30000000000000004);
/// // sigmoid′ = y(1−y), from the output …
/// assert_eq!(Activation::Sigmoid.grad_from_output(0.5_f32, 1.0), Some(0.25));
/// // … while SiLU′ needs the input
/// assert_eq!(Activation::Silu.grad_from_output(0.5_f32, 1.0), None);
/// assert_eq!(Activation::Silu.grad_from_input(0.0_f32, 1.0), 0.5);
/// ```
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub enum Activation {
    /// y = x.
    #[default]
    Identity,
    /// y = 1/(1+e^(−x)), evaluated without overflow for every finite x.
    Sigmoid,
    /// y = tanh x.
    Tanh,
    /// y = max(x, 0).
    Relu,
    /// y = x for x > 0, else slope·x (PyTorch's `leaky_relu(x, negative_slope)`; its default
    /// slope is 0.01). The slope must be finite.
    LeakyRelu(f64),
    /// y = x·σ(x) (SiLU, also called swish).
    Silu,
    /// PyTorch's `gelu(x)` (`approximate='none'`): y = x·Φ(x) = ½x·(1 + erf(x/√2)), Φ the
    /// standard normal distribution, evaluated without the cancellation of 1 + erf for
    /// negative x (Φ(x) = e^(−x²/2)/s(|x|) there, s from a Chebyshev series, so the result
    /// keeps its relative precision down to the underflow near x = −14 in f32 and −38 in
    /// f64). f′ = Φ(x) + x·φ(x), φ(x) = e^(−x²/2)/√(2π).
    Gelu,
    /// PyTorch's `gelu(x, approximate='tanh')`: y = ½x·(1 + tanh u), u = √(2/π)·(x +
    /// 0.044715x³), evaluated as x·σ(2u) (the same function, without the cancellation of
    /// 1 + tanh u for negative x). f′ = σ(2u) + x·σ(2u)·σ(−2u)·2u′, u′ = √(2/π)·(1 +
    /// 0.134145x²).
    GeluTanh,
}

impl PartialEq for Activation {
    fn eq(&self, o: &Self) -> bool {
        match (self, o) {
            // the slope's bits: a total equivalence (Eq, Hash), −0 ≠ +0
            (Activation::LeakyRelu(a), Activation::LeakyRelu(b)) => a.to_bits() == b.to_bits(),
            _ => std::mem::discriminant(self) == std::mem::discriminant(o),
        }
    }
}

impl Eq for Activation {}

impl Hash for Activation {
    fn hash<H: Hasher>(&self, h: &mut H) {
        std::mem::discriminant(self).hash(h);
        if let Activation::LeakyRelu(s) = self {
            s.to_bits().hash(h);
        }
    }
}

/// What an activation's backward reads: the saved output y, or the saved input (for Affine,
/// the pre-activation z = x·W + b).
///
/// A `MatRef` converts into `Saved::Output`, so `activation_backward(act, y, dy, dx)` reads
/// as before for the activations whose derivative is a function of y. Every activation
/// accepts `Input`; `Output` is an error for those that need the input ([`Activation::Silu`],
/// [`Activation::Gelu`], [`Activation::GeluTanh`], and [`Activation::LeakyRelu`] with a
/// negative slope).
///
/// # Example
///
/// ```
/// use nnkern::{Activation, MatMut, MatRef, Saved, activation_backward};
///
/// let x = [0.0_f32, 1.0];
/// let dy = [1.0_f32, 1.0];
/// let mut dx = [0.0_f32; 2];
/// activation_backward(
///     Activation::Silu,
///     Saved::Input(MatRef::from_row_major(&x, 1, 2)?),
///     MatRef::from_row_major(&dy, 1, 2)?,
///     MatMut::from_row_major(&mut dx, 1, 2)?,
/// )?;
/// assert_eq!(dx[0], 0.5); // σ(0)·(1 + 0)
/// # Ok::<(), nnkern::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Saved<'a, T> {
    /// The forward's output y = f(x).
    Output(MatRef<'a, T>),
    /// The forward's input x (the pre-activation).
    Input(MatRef<'a, T>),
}

impl<'a, T> Saved<'a, T> {
    /// The saved matrix, whichever it is.
    pub fn mat(&self) -> &MatRef<'a, T> {
        match self {
            Saved::Output(m) | Saved::Input(m) => m,
        }
    }
}

impl<'a, T> From<MatRef<'a, T>> for Saved<'a, T> {
    fn from(y: MatRef<'a, T>) -> Self {
        Saved::Output(y)
    }
}

/// A computation generic over one activation's definition, run by [`Activation::visit`].
pub(crate) trait ActVisitor<T: KernelFloat> {
    type Out;
    fn visit<A: ActFn<T>>(self, a: A) -> Self::Out;
}

impl Activation {
    /// Every activation, in declaration order (LeakyReLU with PyTorch's default slope 0.01),
    /// for tests and benches that cover them all.
    ///
    /// # Example
    ///
    /// ```
    /// use nnkern::Activation;
    ///
    /// assert!(Activation::ALL.contains(&Activation::Tanh));
    /// assert_eq!(Activation::ALL[0], Activation::Identity);
    /// ```
    pub const ALL: [Activation; 8] = [
        Activation::Identity,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Relu,
        Activation::LeakyRelu(0.01),
        Activation::Silu,
        Activation::Gelu,
        Activation::GeluTanh,
    ];

    /// Runs `v` on this activation's definition: the one place that maps a variant to its
    /// type, so every kernel is generic over the definition and dispatched once per call.
    #[inline(always)]
    pub(crate) fn visit<T: KernelFloat, V: ActVisitor<T>>(self, v: V) -> V::Out {
        match self {
            Activation::Identity => v.visit(defs::Identity),
            Activation::Sigmoid => v.visit(defs::Sigmoid),
            Activation::Tanh => v.visit(defs::Tanh),
            Activation::Relu => v.visit(defs::Relu),
            Activation::LeakyRelu(s) => v.visit(defs::LeakyRelu {
                slope: T::from_f64(s),
            }),
            Activation::Silu => v.visit(defs::Silu),
            Activation::Gelu => v.visit(defs::Gelu),
            Activation::GeluTanh => v.visit(defs::GeluTanh),
        }
    }

    /// The name used in messages and benches (PyTorch's, lower case).
    ///
    /// # Example
    ///
    /// ```
    /// assert_eq!(nnkern::Activation::GeluTanh.name(), "gelu_tanh");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::LeakyRelu(_) => "leaky_relu",
            Activation::Silu => "silu",
            Activation::Gelu => "gelu",
            Activation::GeluTanh => "gelu_tanh",
        }
    }

    /// Whether the derivative needs the forward's input (the pre-activation): then a layer
    /// keeps x (or z) for backward, and [`Saved::Output`] is an error.
    ///
    /// # Example
    ///
    /// ```
    /// use nnkern::Activation;
    ///
    /// assert!(!Activation::Sigmoid.needs_input());
    /// assert!(Activation::Silu.needs_input());
    /// assert!(Activation::LeakyRelu(-0.5).needs_input());
    /// ```
    pub fn needs_input(self) -> bool {
        struct V;
        impl ActVisitor<f64> for V {
            type Out = bool;
            fn visit<A: ActFn<f64>>(self, a: A) -> bool {
                !a.reads_output()
            }
        }
        self.visit(V)
    }

    /// The measured cost per element of its derivative from the output y (`from_output`)
    /// or from the input x, which sizes the work blocks of a backward pass.
    pub(crate) fn grad_cost<T: KernelFloat>(self, from_output: bool) -> Cost {
        struct V(bool);
        impl<T: KernelFloat> ActVisitor<T> for V {
            type Out = Cost;
            fn visit<A: ActFn<T>>(self, _: A) -> Cost {
                if self.0 {
                    A::COSTS.grad_out
                } else {
                    A::COSTS.grad_in
                }
            }
        }
        self.visit::<T, _>(V(from_output))
    }

    /// f(x) for one value on the calling thread's SIMD path ([`Activation::apply`]'s body).
    pub(crate) fn apply_one<T: KernelFloat>(self, x: T) -> T {
        let mut y = [x];
        self.apply_slice(None, &mut y);
        y[0]
    }

    /// y ← f(x) (or f(y) in place) over one run on the current path.
    fn apply_slice<T: KernelFloat>(self, x: Option<&[T]>, y: &mut [T]) {
        struct V<'a, T> {
            x: Option<&'a [T]>,
            y: &'a mut [T],
        }
        impl<T: KernelFloat> ActVisitor<T> for V<'_, T> {
            type Out = ();
            fn visit<A: ActFn<T>>(self, a: A) {
                dispatch(
                    Isa::current(),
                    FlatUnary {
                        op: Fwd(a),
                        x: self.x,
                        y: self.y,
                    },
                )
            }
        }
        self.visit(V { x, y });
    }

    /// dy·f′ for one value on the current path, from the input x (`input`) or the output y.
    pub(crate) fn grad_one<T: KernelFloat>(self, input: bool, v: T, dy: T) -> T {
        struct V<'a, T> {
            v: &'a [T],
            dy: &'a [T],
            out: &'a mut [T],
            input: bool,
        }
        impl<T: KernelFloat> ActVisitor<T> for V<'_, T> {
            type Out = ();
            fn visit<A: ActFn<T>>(self, a: A) {
                let (v, dy, out) = (self.v, self.dy, self.out);
                if self.input {
                    dispatch(
                        Isa::current(),
                        FlatBinary {
                            op: GradIn(a),
                            a: v,
                            b: dy,
                            out,
                        },
                    )
                } else {
                    dispatch(
                        Isa::current(),
                        FlatBinary {
                            op: GradOut(a),
                            a: v,
                            b: dy,
                            out,
                        },
                    )
                }
            }
        }
        let mut g = [dy];
        self.visit(V {
            v: &[v],
            dy: &[dy],
            out: &mut g,
            input,
        });
        g[0]
    }

    /// `Err` naming `arg` for a non-finite LeakyReLU slope.
    pub(crate) fn check(self, op: &'static str, arg: &'static str) -> Result<()> {
        match self {
            Activation::LeakyRelu(s) if !s.is_finite() => Err(Error::new(
                op,
                arg,
                ErrorKind::Value,
                format!("is LeakyRelu({s}): the slope must be finite"),
            )),
            _ => Ok(()),
        }
    }

    /// `Err` naming `arg` when `saved` is the output but the derivative needs the input.
    pub(crate) fn check_saved<T>(
        self,
        op: &'static str,
        arg: &'static str,
        saved: &Saved<'_, T>,
    ) -> Result<()> {
        if matches!(saved, Saved::Output(_)) && self.needs_input() {
            return Err(Error::new(
                op,
                arg,
                ErrorKind::Value,
                format!(
                    "is the output y, but the derivative of {} needs the input: pass Saved::Input \
                     (for Affine, the z that affine_forward_with_z keeps)",
                    self.name()
                ),
            ));
        }
        Ok(())
    }

    /// y ← f(y) for a whole output, on the SIMD path. An output with a column stride (a
    /// transposed y) goes through the same SIMD body, a row at a time via a small contiguous
    /// buffer, so it gets the bits of a contiguous output.
    pub(crate) fn apply_inplace<T: KernelFloat>(self, mut y: MatMut<'_, T>) {
        if y.cols() == 0 || self == Activation::Identity {
            return; // no elements, however many rows; or nothing to do
        }
        if y.unit_col_stride() {
            struct V<'a, T>(MatMut<'a, T>);
            impl<T: KernelFloat> ActVisitor<T> for V<'_, T> {
                type Out = ();
                fn visit<A: ActFn<T>>(self, a: A) {
                    map_unary(Fwd(a), None, self.0)
                }
            }
            return self.visit(V(y));
        }
        const CHUNK: usize = 64;
        let mut buf = [T::ZERO; CHUNK];
        for i in 0..y.rows() {
            for j0 in (0..y.cols()).step_by(CHUNK) {
                let n = CHUNK.min(y.cols() - j0);
                for (k, v) in buf[..n].iter_mut().enumerate() {
                    *v = *y.at_mut(i, j0 + k);
                }
                self.apply_slice(None, &mut buf[..n]);
                for (k, v) in buf[..n].iter().enumerate() {
                    *y.at_mut(i, j0 + k) = *v;
                }
            }
        }
    }
}

/// y ← f(y) over a run, on the path `M` the caller is compiled for (the Affine epilogue and
/// the fused step call it inside their own dispatch).
#[inline(always)]
pub(crate) fn activate_in_place<T: KernelFloat, M: Math>(act: Activation, y: &mut [T]) {
    struct V<'a, T, M>(&'a mut [T], PhantomData<M>);
    impl<T: KernelFloat, M: Math> ActVisitor<T> for V<'_, T, M> {
        type Out = ();
        #[inline(always)]
        fn visit<A: ActFn<T>>(self, a: A) {
            if !A::IDENTITY {
                M::map_inplace(Fwd(a), self.0)
            }
        }
    }
    act.visit(V::<T, M>(y, PhantomData));
}

pub(crate) fn forward_named_impl<T: KernelFloat>(
    op: &'static str,
    act: Activation,
    x: MatRef<'_, T>,
    y: MatMut<'_, T>,
) -> Result<()> {
    act.check(op, "act")?;
    check_shape(op, "y", dims_mut(&y), dims(&x), "the shape of x")?;
    check_rows_contiguous(op, "y", &y)?;
    struct V<'a, T> {
        x: MatRef<'a, T>,
        y: MatMut<'a, T>,
    }
    impl<T: KernelFloat> ActVisitor<T> for V<'_, T> {
        type Out = ();
        fn visit<A: ActFn<T>>(self, a: A) {
            map_unary(Fwd(a), Some(self.x), self.y)
        }
    }
    // dispatched once per call, so each loop body is one straight-line function of x
    act.visit(V { x, y });
    Ok(())
}

pub(crate) fn backward_named_impl<T: KernelFloat>(
    op: &'static str,
    act: Activation,
    saved: Saved<'_, T>,
    dy: MatRef<'_, T>,
    dx: MatMut<'_, T>,
) -> Result<()> {
    act.check(op, "act")?;
    let s = *saved.mat();
    check_shape(op, "dy", dims(&dy), dims(&s), "the shape of the saved y or x")?;
    check_shape(op, "dx", dims_mut(&dx), dims(&s), "the shape of the saved y or x")?;
    check_rows_contiguous(op, "dx", &dx)?;
    act.check_saved(op, "saved", &saved)?;
    struct V<'a, T> {
        saved: Saved<'a, T>,
        dy: MatRef<'a, T>,
        dx: MatMut<'a, T>,
    }
    impl<T: KernelFloat> ActVisitor<T> for V<'_, T> {
        type Out = ();
        fn visit<A: ActFn<T>>(self, a: A) {
            match self.saved {
                Saved::Output(y) => map_binary(GradOut(a), y, self.dy, self.dx),
                Saved::Input(x) => map_binary(GradIn(a), x, self.dy, self.dx),
            }
        }
    }
    act.visit(V { saved, dy, dx });
    Ok(())
}

/// [`exp_forward`](crate::exp_forward)'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn exp_forward_impl<T: KernelFloat>(x: MatRef<'_, T>, y: MatMut<'_, T>) -> Result<()> {
    map_checked("exp_forward", Exp, x, y)
}

/// [`ln_forward`](crate::ln_forward)'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn ln_forward_impl<T: KernelFloat>(x: MatRef<'_, T>, y: MatMut<'_, T>) -> Result<()> {
    map_checked("ln_forward", Ln, x, y)
}

/// [`ln_1p_forward`](crate::ln_1p_forward)'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn ln_1p_forward_impl<T: KernelFloat>(x: MatRef<'_, T>, y: MatMut<'_, T>) -> Result<()> {
    map_checked("ln_1p_forward", Ln1p, x, y)
}

/// y = op(x) after the checks of the plain elementwise kernels (`y` of x's shape, unit column
/// stride), errors naming `op_name`.
fn map_checked<T: KernelFloat, O: crate::simd::UnaryOp<T>>(
    op_name: &'static str,
    op: O,
    x: MatRef<'_, T>,
    y: MatMut<'_, T>,
) -> Result<()> {
    check_shape(op_name, "y", dims_mut(&y), dims(&x), "the shape of x")?;
    check_rows_contiguous(op_name, "y", &y)?;
    map_unary(op, Some(x), y);
    Ok(())
}
