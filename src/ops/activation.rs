//! Elementwise activations: sigmoid, tanh, ReLU, identity; forward and backward.
//!
//! Each backward takes the forward's *output* y (not its input): every derivative here is a
//! function of y, so a layer keeps y and nothing else.

use super::{
    check_rows_contiguous, check_shape, dims, dims_mut, map_rows, map_rows2, map_unary, map_unary_inplace,
};
use crate::error::Result;
use crate::float::Float;
use crate::mat::{MatMut, MatRef};
use crate::simd::Unary;

/// An elementwise activation, applied after an affine map or on its own.
///
/// | variant | y = f(x) | f′ as a function of y |
/// |---|---|---|
/// | `Identity` | x | 1 |
/// | `Sigmoid` | 1/(1+e^(−x)) | y·(1−y) |
/// | `Tanh` | tanh x | 1−y² |
/// | `Relu` | max(x, 0) | 1 if y > 0 else 0 |
///
/// Non-finite values follow PyTorch: NaN in gives NaN out; sigmoid(±∞) = 1 / 0,
/// tanh(±∞) = ±1, relu(+∞) = +∞, relu(−∞) = 0. ReLU's backward passes dy where y > 0 or y is
/// NaN and gives exactly 0 elsewhere (a select, so a NaN dy at y ≤ 0 gives 0, as PyTorch).
///
/// # Example
///
/// ```
/// use nnkern::Activation;
///
/// assert_eq!(Activation::Sigmoid.apply(0.0_f32), 0.5);
/// assert_eq!(Activation::Relu.apply(-3.0_f64), 0.0);
/// // derivative from the output: sigmoid′ = y(1−y)
/// assert_eq!(Activation::Sigmoid.grad_from_output(0.5_f32, 1.0), 0.25);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
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
}

impl Activation {
    /// Every activation, in declaration order (for tests and benches that cover them all).
    ///
    /// # Example
    ///
    /// ```
    /// use nnkern::Activation;
    ///
    /// assert!(Activation::ALL.contains(&Activation::Tanh));
    /// assert_eq!(Activation::ALL[0], Activation::Identity);
    /// ```
    pub const ALL: [Activation; 4] = [
        Activation::Identity,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Relu,
    ];

    /// f(x) for one value.
    #[inline(always)]
    pub fn apply<T: Float>(self, x: T) -> T {
        match self {
            Activation::Identity => x,
            Activation::Sigmoid => sigmoid(x),
            Activation::Tanh => x.tanh(),
            Activation::Relu => {
                if x > T::ZERO || x.is_nan() {
                    x
                } else {
                    T::ZERO
                }
            }
        }
    }

    /// dx = dy·f′, with f′ computed from the forward output y.
    #[inline(always)]
    pub fn grad_from_output<T: Float>(self, y: T, dy: T) -> T {
        match self {
            Activation::Identity => dy,
            // d/dx sigmoid(x) = sigmoid(x)·(1 − sigmoid(x))
            Activation::Sigmoid => dy * (y * (T::ONE - y)),
            // d/dx tanh(x) = 1 − tanh²(x)
            Activation::Tanh => dy * (T::ONE - y * y),
            // a select, not a product: PyTorch's threshold_backward
            Activation::Relu => {
                if y <= T::ZERO {
                    T::ZERO
                } else {
                    dy
                }
            }
        }
    }

    /// The name used in messages and benches.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
        }
    }

    /// The SIMD body of the activation, where it has one (sigmoid, tanh).
    pub(crate) fn unary(self) -> Option<Unary> {
        match self {
            Activation::Sigmoid => Some(Unary::Sigmoid),
            Activation::Tanh => Some(Unary::Tanh),
            Activation::Identity | Activation::Relu => None,
        }
    }

    /// y ← f(y) for a whole output, on the SIMD path where f has one. An output with a column
    /// stride (a transposed y) goes through the same SIMD body, a row at a time via a small
    /// contiguous buffer, so it gets the bits of a contiguous output.
    pub(crate) fn apply_inplace<T: Float>(self, mut y: MatMut<'_, T>) {
        if y.cols() == 0 {
            return; // no elements, however many rows
        }
        let op = match self {
            Activation::Identity => return,
            Activation::Relu => {
                for i in 0..y.rows() {
                    for j in 0..y.cols() {
                        let v = y.at_mut(i, j);
                        *v = self.apply(*v);
                    }
                }
                return;
            }
            Activation::Sigmoid => Unary::Sigmoid,
            Activation::Tanh => Unary::Tanh,
        };
        if y.unit_col_stride() {
            return map_unary_inplace(op, y);
        }
        const CHUNK: usize = 64;
        let mut buf = [T::ZERO; CHUNK];
        for i in 0..y.rows() {
            for j0 in (0..y.cols()).step_by(CHUNK) {
                let n = CHUNK.min(y.cols() - j0);
                for (k, v) in buf[..n].iter_mut().enumerate() {
                    *v = *y.at_mut(i, j0 + k);
                }
                map_unary_inplace(op, MatMut::from(&mut buf[..n]));
                for (k, v) in buf[..n].iter().enumerate() {
                    *y.at_mut(i, j0 + k) = *v;
                }
            }
        }
    }
}

/// The logistic function, stable for every input: with e = e^(−|x|) ≤ 1, σ(x) = 1/(1+e) for
/// x ≥ 0 and e/(1+e) = e^x/(1+e^x) for x < 0. No exponential overflows, results down in the
/// subnormal range keep their precision, and the numerator is a select, not a branch (random
/// signs would otherwise mispredict half the time). NaN stays NaN.
#[inline(always)]
fn sigmoid<T: Float>(x: T) -> T {
    let e = (-x.abs()).exp();
    let num = if x >= T::ZERO { T::ONE } else { e };
    num / (T::ONE + e)
}

/// y = f(x) elementwise, for an [`Activation`] chosen at run time.
///
/// Shapes: x and y are both N×D. x may be any view; y needs unit column stride.
///
/// # Errors
///
/// [`ErrorKind::Shape`](crate::ErrorKind::Shape) naming `y` if its shape differs from x's;
/// [`ErrorKind::Stride`](crate::ErrorKind::Stride) naming `y` if its column stride is not 1.
///
/// # Example
///
/// ```
/// use nnkern::{Activation, MatMut, MatRef, activation_forward};
///
/// let x = [-1.0_f32, 0.0, 2.0];
/// let mut y = [0.0_f32; 3];
/// activation_forward(
///     Activation::Relu,
///     MatRef::from_row_major(&x, 1, 3)?,
///     MatMut::from_row_major(&mut y, 1, 3)?,
/// )?;
/// assert_eq!(y, [0.0, 0.0, 2.0]);
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn activation_forward<T: Float>(act: Activation, x: MatRef<'_, T>, y: MatMut<'_, T>) -> Result<()> {
    forward_named("activation_forward", act, x, y)
}

/// dx = dy ⊙ f′, with f′ computed from the forward output y.
///
/// Shapes: y, dy and dx are all N×D. y and dy may be any views; dx needs unit column
/// stride. dx is overwritten (never read).
///
/// # Errors
///
/// [`ErrorKind::Shape`](crate::ErrorKind::Shape) naming `dy` or `dx` if its shape differs
/// from y's; [`ErrorKind::Stride`](crate::ErrorKind::Stride) naming `dx` if its column stride
/// is not 1.
///
/// # Example
///
/// ```
/// use nnkern::{Activation, MatMut, MatRef, activation_backward};
///
/// let y = [0.5_f64, 0.0];
/// let dy = [1.0_f64, 1.0];
/// let mut dx = [0.0_f64; 2];
/// activation_backward(
///     Activation::Tanh,
///     MatRef::from_row_major(&y, 1, 2)?,
///     MatRef::from_row_major(&dy, 1, 2)?,
///     MatMut::from_row_major(&mut dx, 1, 2)?,
/// )?;
/// assert_eq!(dx, [0.75, 1.0]); // 1 − y²
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn activation_backward<T: Float>(
    act: Activation,
    y: MatRef<'_, T>,
    dy: MatRef<'_, T>,
    dx: MatMut<'_, T>,
) -> Result<()> {
    backward_named("activation_backward", act, y, dy, dx)
}

fn forward_named<T: Float>(
    op: &'static str,
    act: Activation,
    x: MatRef<'_, T>,
    y: MatMut<'_, T>,
) -> Result<()> {
    check_shape(op, "y", dims_mut(&y), dims(&x), "the shape of x")?;
    check_rows_contiguous(op, "y", &y)?;
    // Dispatch once per call, so each loop body is one straight-line function of x.
    match act {
        Activation::Identity => unary(x, y, |v| v),
        Activation::Sigmoid => map_unary(Unary::Sigmoid, x, y),
        Activation::Tanh => map_unary(Unary::Tanh, x, y),
        Activation::Relu => unary(x, y, |v| Activation::Relu.apply(v)),
    }
    Ok(())
}

fn unary<T: Float>(x: MatRef<'_, T>, y: MatMut<'_, T>, f: impl Fn(T) -> T + Sync) {
    map_rows(x, y, &|xr: &[T], yr: &mut [T]| {
        for (o, &v) in yr.iter_mut().zip(xr) {
            *o = f(v);
        }
    });
}

fn binary<T: Float>(y: MatRef<'_, T>, dy: MatRef<'_, T>, dx: MatMut<'_, T>, f: impl Fn(T, T) -> T + Sync) {
    map_rows2(y, dy, dx, &|yr: &[T], dyr: &[T], dxr: &mut [T]| {
        for ((o, &yv), &g) in dxr.iter_mut().zip(yr).zip(dyr) {
            *o = f(yv, g);
        }
    });
}

fn backward_named<T: Float>(
    op: &'static str,
    act: Activation,
    y: MatRef<'_, T>,
    dy: MatRef<'_, T>,
    dx: MatMut<'_, T>,
) -> Result<()> {
    check_shape(op, "dy", dims(&dy), dims(&y), "the shape of y")?;
    check_shape(op, "dx", dims_mut(&dx), dims(&y), "the shape of y")?;
    check_rows_contiguous(op, "dx", &dx)?;
    match act {
        Activation::Identity => binary(y, dy, dx, |_, g| g),
        Activation::Sigmoid => binary(y, dy, dx, |yv, g| Activation::Sigmoid.grad_from_output(yv, g)),
        Activation::Tanh => binary(y, dy, dx, |yv, g| Activation::Tanh.grad_from_output(yv, g)),
        Activation::Relu => binary(y, dy, dx, |yv, g| Activation::Relu.grad_from_output(yv, g)),
    }
    Ok(())
}

macro_rules! activation_pair {
    ($act:ident, $fwd:ident, $bwd:ident, $fwd_doc:literal, $bwd_doc:literal, $x:expr, $y:expr, $dx:expr) => {
        #[doc = $fwd_doc]
        ///
        /// Shapes: x and y are N×D; y needs unit column stride. See [`Activation`] for the
        /// non-finite semantics.
        ///
        /// # Errors
        ///
        /// As [`activation_forward`].
        ///
        /// # Example
        ///
        /// ```
        #[doc = concat!("use nnkern::{MatMut, MatRef, ", stringify!($fwd), "};")]
        /// let x = [0.0_f64];
        /// let mut y = [f64::NAN];
        #[doc = concat!(stringify!($fwd), "(MatRef::from_row_major(&x, 1, 1)?, MatMut::from_row_major(&mut y, 1, 1)?)?;")]
        #[doc = concat!("assert_eq!(y[0], ", stringify!($y), ");")]
        /// # Ok::<(), nnkern::Error>(())
        /// ```
        pub fn $fwd<T: Float>(x: MatRef<'_, T>, y: MatMut<'_, T>) -> Result<()> {
            forward_named(stringify!($fwd), Activation::$act, x, y)
        }

        #[doc = $bwd_doc]
        ///
        /// Shapes: y, dy and dx are N×D; dx needs unit column stride and is overwritten.
        ///
        /// # Errors
        ///
        /// As [`activation_backward`].
        ///
        /// # Example
        ///
        /// ```
        #[doc = concat!("use nnkern::{MatMut, MatRef, ", stringify!($bwd), "};")]
        #[doc = concat!("let y = [", stringify!($y), "_f64];")]
        /// let dy = [1.0_f64];
        /// let mut dx = [f64::NAN];
        #[doc = concat!(stringify!($bwd), "(MatRef::from_row_major(&y, 1, 1)?, MatRef::from_row_major(&dy, 1, 1)?, MatMut::from_row_major(&mut dx, 1, 1)?)?;")]
        #[doc = concat!("assert_eq!(dx[0], ", stringify!($dx), ");")]
        /// # Ok::<(), nnkern::Error>(())
        /// ```
        pub fn $bwd<T: Float>(y: MatRef<'_, T>, dy: MatRef<'_, T>, dx: MatMut<'_, T>) -> Result<()> {
            backward_named(stringify!($bwd), Activation::$act, y, dy, dx)
        }
    };
}

activation_pair!(
    Sigmoid,
    sigmoid_forward,
    sigmoid_backward,
    "y = σ(x) = 1/(1+e^(−x)) elementwise, stable for every finite x (no overflow).",
    "dx = dy ⊙ y ⊙ (1−y), from the forward output y = σ(x).",
    0.0,
    0.5,
    0.25
);
activation_pair!(
    Tanh,
    tanh_forward,
    tanh_backward,
    "y = tanh(x) elementwise.",
    "dx = dy ⊙ (1−y²), from the forward output y = tanh(x).",
    0.0,
    0.0,
    1.0
);
activation_pair!(
    Relu,
    relu_forward,
    relu_backward,
    "y = max(x, 0) elementwise (NaN stays NaN).",
    "dx = dy where y > 0 (or y is NaN), else exactly 0, from the forward output y.",
    0.0,
    0.0,
    0.0
);

/// y = eˣ elementwise (the SIMD exponential of the crate: ≤ 1 ulp in f32 on every input).
///
/// Shapes: x and y are N×D; x may be any view, y needs unit column stride. e^(+∞) = +∞,
/// e^(−∞) = 0, NaN → NaN; results in the subnormal range are kept.
///
/// # Errors
///
/// As [`activation_forward`].
///
/// # Example
///
/// ```
/// use nnkern::{MatMut, MatRef, exp_forward};
///
/// let x = [0.0_f32, 1.0, f32::NEG_INFINITY];
/// let mut y = [0.0_f32; 3];
/// exp_forward(MatRef::from_row_major(&x, 1, 3)?, MatMut::from_row_major(&mut y, 1, 3)?)?;
/// assert_eq!(y, [1.0, std::f32::consts::E, 0.0]);
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn exp_forward<T: Float>(x: MatRef<'_, T>, y: MatMut<'_, T>) -> Result<()> {
    const OP: &str = "exp_forward";
    check_shape(OP, "y", dims_mut(&y), dims(&x), "the shape of x")?;
    check_rows_contiguous(OP, "y", &y)?;
    map_unary(Unary::Exp, x, y);
    Ok(())
}
