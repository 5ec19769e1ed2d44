//! The activations' public kernels, elementwise exp and logarithms: each a call of its body in
//! `crate::ops::activation`.

use crate::error::Result;
use crate::float::Float;
use crate::mat::{MatMut, MatRef};
use crate::ops::activation::{Activation, Saved};
use crate::simd::Internal;

/// One value at a time: the scalar forms of the slice kernels, with their bits.
impl Activation {
    /// f(x) for one value: the bits the kernels give on the calling thread's SIMD path.
    ///
    /// # Example
    ///
    /// ```
    /// use nnkern::Activation;
    ///
    /// assert_eq!(Activation::Sigmoid.apply(0.0_f32), 0.5);
    /// assert_eq!(Activation::Relu.apply(-2.0_f64), 0.0);
    /// ```
    #[inline]
    pub fn apply<T: Float>(self, x: T) -> T {
        self.apply_one(x)
    }

    /// dy·f′(x), from the input x.
    ///
    /// # Example
    ///
    /// ```
    /// use nnkern::Activation;
    ///
    /// // σ′(0) = ¼
    /// assert_eq!(Activation::Sigmoid.grad_from_input(0.0_f32, 2.0), 0.5);
    /// ```
    #[inline]
    pub fn grad_from_input<T: Float>(self, x: T, dy: T) -> T {
        self.grad_one(true, x, dy)
    }

    /// dy·f′ from the forward's output y, where f′ is a function of y ([`None`] where it is
    /// not: see [`Activation::needs_input`]).
    ///
    /// # Example
    ///
    /// ```
    /// use nnkern::Activation;
    ///
    /// // tanh′ = 1 − y²
    /// assert_eq!(Activation::Tanh.grad_from_output(0.5_f64, 1.0), Some(0.75));
    /// assert_eq!(Activation::Gelu.grad_from_output(0.5_f64, 1.0), None); // needs x
    /// ```
    #[inline]
    pub fn grad_from_output<T: Float>(self, y: T, dy: T) -> Option<T> {
        if self.needs_input() {
            return None;
        }
        Some(self.grad_one(false, y, dy))
    }
}

/// y = f(x) elementwise, for an [`Activation`] chosen at run time.
///
/// Shapes: x and y are both N×D. x may be any view; y needs unit column stride.
///
/// # Errors
///
/// [`ErrorKind::Shape`](crate::ErrorKind::Shape) naming `y` if its shape differs from x's;
/// [`ErrorKind::Stride`](crate::ErrorKind::Stride) naming `y` if its column stride is not 1;
/// [`ErrorKind::Value`](crate::ErrorKind::Value) naming `act` for a non-finite LeakyReLU
/// slope.
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

/// dx = dy ⊙ f′, with f′ computed from what the forward saved: its output y (a `MatRef`
/// passed as is, or [`Saved::Output`]) or its input x ([`Saved::Input`]); see
/// [`Activation::needs_input`].
///
/// Shapes: the saved matrix, dy and dx are all N×D. The saved matrix and dy may be any views;
/// dx needs unit column stride. dx is overwritten (never read).
///
/// # Errors
///
/// [`ErrorKind::Shape`](crate::ErrorKind::Shape) naming `dy` or `dx` if its shape differs
/// from the saved matrix's; [`ErrorKind::Stride`](crate::ErrorKind::Stride) naming `dx` if
/// its column stride is not 1; [`ErrorKind::Value`](crate::ErrorKind::Value) naming `saved`
/// if it is the output of an activation whose derivative needs the input, or `act` for a
/// non-finite LeakyReLU slope.
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
pub fn activation_backward<'a, T: Float>(
    act: Activation,
    saved: impl Into<Saved<'a, T>>,
    dy: MatRef<'_, T>,
    dx: MatMut<'_, T>,
) -> Result<()> {
    backward_named("activation_backward", act, saved.into(), dy, dx)
}

/// Every activation's forward: [`forward_named_impl`](crate::ops::activation::forward_named_impl), compiled once per element type in this
/// crate (see `crate::entry`).
fn forward_named<T: Float>(
    op: &'static str,
    act: Activation,
    x: MatRef<'_, T>,
    y: MatMut<'_, T>,
) -> Result<()> {
    T::activation_forward_named(Internal, op, act, x, y)
}

/// Every activation's backward: [`backward_named_impl`](crate::ops::activation::backward_named_impl), compiled once per element type in
/// this crate (see `crate::entry`).
fn backward_named<T: Float>(
    op: &'static str,
    act: Activation,
    saved: Saved<'_, T>,
    dy: MatRef<'_, T>,
    dx: MatMut<'_, T>,
) -> Result<()> {
    T::activation_backward_named(Internal, op, act, saved, dy, dx)
}

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
    T::exp_forward(Internal, x, y)
}

/// y = ln x elementwise (the crate's SIMD logarithm: within 1 ulp on every input, f32 and f64).
///
/// Shapes: x and y are N×D; x may be any view, y needs unit column stride. ln(+∞) = +∞,
/// ln(±0) = −∞, ln of a negative number or of NaN is NaN (as PyTorch's `torch.log`);
/// subnormal inputs are exact to the same bound.
///
/// # Errors
///
/// As [`activation_forward`].
///
/// # Example
///
/// ```
/// use nnkern::{MatMut, MatRef, ln_forward};
///
/// let x = [1.0_f32, std::f32::consts::E, 0.0, -1.0];
/// let mut y = [7.0_f32; 4];
/// ln_forward(MatRef::from_row_major(&x, 1, 4)?, MatMut::from_row_major(&mut y, 1, 4)?)?;
/// assert_eq!(&y[..3], &[0.0, 1.0, f32::NEG_INFINITY]);
/// assert!(y[3].is_nan());
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn ln_forward<T: Float>(x: MatRef<'_, T>, y: MatMut<'_, T>) -> Result<()> {
    T::ln_forward(Internal, x, y)
}

/// y = ln(1 + x) elementwise, accurate relative to the result also where x is tiny (within
/// 1 ulp on every input, f32 and f64).
///
/// Shapes: x and y are N×D; x may be any view, y needs unit column stride. ln_1p(±0) = ±0,
/// ln_1p(−1) = −∞, ln_1p(+∞) = +∞, NaN below −1 and for NaN (as PyTorch's `torch.log1p`).
///
/// # Errors
///
/// As [`activation_forward`].
///
/// # Example
///
/// ```
/// use nnkern::{MatMut, MatRef, ln_1p_forward};
///
/// let x = [0.0_f64, 1e-20, -1.0, std::f64::consts::E - 1.0];
/// let mut y = [7.0_f64; 4];
/// ln_1p_forward(MatRef::from_row_major(&x, 1, 4)?, MatMut::from_row_major(&mut y, 1, 4)?)?;
/// assert_eq!(&y[..3], &[0.0, 1e-20, f64::NEG_INFINITY]);
/// assert!((y[3] - 1.0).abs() <= f64::EPSILON);
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn ln_1p_forward<T: Float>(x: MatRef<'_, T>, y: MatMut<'_, T>) -> Result<()> {
    T::ln_1p_forward(Internal, x, y)
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
            backward_named(stringify!($bwd), Activation::$act, Saved::Output(y), dy, dx)
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
