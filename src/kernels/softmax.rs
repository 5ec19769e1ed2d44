//! Softmax and log-softmax, forward and backward: calls of the bodies in `crate::ops::softmax`.

use crate::error::Result;
use crate::float::Float;
use crate::mat::{MatMut, MatRef};
use crate::ops::softmax::SoftmaxOptions;
use crate::simd::Internal;

/// Row-wise softmax: y_k = e^(x_k − m) / Σ_i e^(x_i − m), m = max_i x_i.
///
/// Subtracting the row maximum keeps every exponential in [0, 1], so no finite logit
/// overflows. Shapes: x and y are N×C (C ≥ 1); x may be any view, y needs unit column stride.
///
/// Non-finite rows (as PyTorch): a −∞ logit gets probability exactly 0; a row holding +∞ or
/// NaN, or all −∞, is NaN in every column ([`softmax_forward_with`] can return zeros for the
/// all-−∞ row instead).
///
/// # Errors
///
/// [`ErrorKind::Shape`](crate::ErrorKind::Shape) naming `x` if C = 0 or `y` if its shape
/// differs; [`ErrorKind::Stride`](crate::ErrorKind::Stride) naming `y` if its column stride is
/// not 1.
///
/// # Example
///
/// ```
/// use nnkern::{MatMut, MatRef, softmax_forward};
///
/// let x = [1000.0_f32, 1000.0, f32::NEG_INFINITY];
/// let mut y = [0.0_f32; 3];
/// softmax_forward(MatRef::from_row_major(&x, 1, 3)?, MatMut::from_row_major(&mut y, 1, 3)?)?;
/// assert_eq!(y, [0.5, 0.5, 0.0]);
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn softmax_forward<T: Float>(x: MatRef<'_, T>, y: MatMut<'_, T>) -> Result<()> {
    T::softmax_forward(Internal, x, y)
}

/// [`softmax_forward`] with options (what a fully masked row gives).
///
/// # Errors
///
/// As [`softmax_forward`].
///
/// # Example
///
/// ```
/// use nnkern::{MaskedRows, MatMut, MatRef, SoftmaxOptions, softmax_forward_with};
///
/// let x = [f32::NEG_INFINITY; 2];
/// let mut y = [f32::NAN; 2];
/// let opts = SoftmaxOptions::default().masked_rows(MaskedRows::Zero);
/// let (xv, yv) = (MatRef::from_row_major(&x, 1, 2)?, MatMut::from_row_major(&mut y, 1, 2)?);
/// softmax_forward_with(xv, yv, &opts)?;
/// assert_eq!(y, [0.0, 0.0]);
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn softmax_forward_with<T: Float>(
    x: MatRef<'_, T>,
    y: MatMut<'_, T>,
    opts: &SoftmaxOptions,
) -> Result<()> {
    T::softmax_forward_with(Internal, x, y, opts)
}

/// The gradient of softmax from its output: dx = y ⊙ (dy − Σ_k dy_k·y_k), per row.
///
/// Shapes: y, dy, dx are N×C (C ≥ 1); y and dy may be any views; dx needs unit column
/// stride and is overwritten.
///
/// # Errors
///
/// [`ErrorKind::Shape`](crate::ErrorKind::Shape) naming `y` if C = 0, or `dy`/`dx` if its
/// shape differs from y's; [`ErrorKind::Stride`](crate::ErrorKind::Stride) naming `dx`.
///
/// # Example
///
/// ```
/// use nnkern::{MatMut, MatRef, softmax_backward};
///
/// let y = [0.5_f64, 0.5];
/// let dy = [1.0_f64, 0.0];
/// let mut dx = [0.0_f64; 2];
/// softmax_backward(
///     MatRef::from_row_major(&y, 1, 2)?,
///     MatRef::from_row_major(&dy, 1, 2)?,
///     MatMut::from_row_major(&mut dx, 1, 2)?,
/// )?;
/// assert_eq!(dx, [0.25, -0.25]);
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn softmax_backward<T: Float>(y: MatRef<'_, T>, dy: MatRef<'_, T>, dx: MatMut<'_, T>) -> Result<()> {
    T::softmax_backward(Internal, y, dy, dx)
}

/// Row-wise log-softmax: y_k = (x_k − m) − ln Σ_i e^(x_i − m), m = max_i x_i.
///
/// Shapes and non-finite rules as [`softmax_forward`]: a −∞ logit gives −∞; a row holding +∞
/// or NaN, or all −∞, is NaN.
///
/// # Errors
///
/// As [`softmax_forward`].
///
/// # Example
///
/// ```
/// use nnkern::{MatMut, MatRef, log_softmax_forward};
///
/// let x = [0.0_f64, 0.0];
/// let mut y = [0.0_f64; 2];
/// log_softmax_forward(MatRef::from_row_major(&x, 1, 2)?, MatMut::from_row_major(&mut y, 1, 2)?)?;
/// assert_eq!(y, [-std::f64::consts::LN_2; 2]);
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn log_softmax_forward<T: Float>(x: MatRef<'_, T>, y: MatMut<'_, T>) -> Result<()> {
    T::log_softmax_forward(Internal, x, y)
}

/// The gradient of log-softmax from its output: dx = dy − e^y ⊙ Σ_k dy_k, per row.
///
/// Shapes as [`softmax_backward`].
///
/// # Errors
///
/// As [`softmax_backward`].
///
/// # Example
///
/// ```
/// use nnkern::{MatMut, MatRef, log_softmax_backward};
///
/// let y = [-std::f64::consts::LN_2; 2]; // log(0.5)
/// let dy = [1.0_f64, 0.0];
/// let mut dx = [0.0_f64; 2];
/// log_softmax_backward(
///     MatRef::from_row_major(&y, 1, 2)?,
///     MatRef::from_row_major(&dy, 1, 2)?,
///     MatMut::from_row_major(&mut dx, 1, 2)?,
/// )?;
/// assert!((dx[0] - 0.5).abs() < 1e-15 && (dx[1] + 0.5).abs() < 1e-15);
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn log_softmax_backward<T: Float>(y: MatRef<'_, T>, dy: MatRef<'_, T>, dx: MatMut<'_, T>) -> Result<()> {
    T::log_softmax_backward(Internal, y, dy, dx)
}
