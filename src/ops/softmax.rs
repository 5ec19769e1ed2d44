//! Softmax and log-softmax over each row, forward and backward.

use super::{check_has_cols, check_rows_contiguous, check_shape, dims, dims_mut, map_rows, map_rows2};
use crate::error::Result;
use crate::float::Float;
use crate::mat::{MatMut, MatRef};

/// What softmax gives for a fully masked row (every logit −∞).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MaskedRows {
    /// NaN in every column, as PyTorch's `softmax`.
    #[default]
    Nan,
    /// Zeros: the row contributes nothing (convenient for attention masks).
    Zero,
}

/// Options of [`softmax_forward_with`].
///
/// # Example
///
/// ```
/// use nnkern::{MaskedRows, SoftmaxOptions};
///
/// let opts = SoftmaxOptions { masked_rows: MaskedRows::Zero };
/// assert_ne!(opts, SoftmaxOptions::default());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SoftmaxOptions {
    /// The result for rows whose logits are all −∞.
    pub masked_rows: MaskedRows,
}

/// The row maximum, ignoring NaN (NaN still propagates through the sum that follows).
#[inline]
pub(crate) fn row_max<T: Float>(x: &[T]) -> T {
    x.iter().fold(T::NEG_INFINITY, |m, &v| m.max(v))
}

/// One row: y = e^(x−m) / Σ e^(x−m) with m = max x.
fn softmax_row<T: Float>(x: &[T], y: &mut [T], masked: MaskedRows) {
    let m = row_max(x);
    if m == T::NEG_INFINITY && masked == MaskedRows::Zero && !x.iter().any(|v| v.is_nan()) {
        y.fill(T::ZERO);
        return;
    }
    let mut s = T::ZERO;
    for (o, &v) in y.iter_mut().zip(x) {
        let e = (v - m).exp();
        *o = e;
        s += e;
    }
    for o in y.iter_mut() {
        *o /= s;
    }
}

/// One row: y = (x−m) − ln Σ e^(x−m).
fn log_softmax_row<T: Float>(x: &[T], y: &mut [T]) {
    let m = row_max(x);
    let s: T = x.iter().map(|&v| (v - m).exp()).sum();
    let ls = s.ln();
    for (o, &v) in y.iter_mut().zip(x) {
        *o = (v - m) - ls;
    }
}

fn check_row_op<T: Float>(op: &'static str, x: &MatRef<'_, T>, y: &MatMut<'_, T>) -> Result<()> {
    check_has_cols(op, "x", x.cols())?;
    check_shape(op, "y", dims_mut(y), dims(x), "the shape of x")?;
    check_rows_contiguous(op, "y", y)
}

fn check_row_backward<T: Float>(
    op: &'static str,
    y: &MatRef<'_, T>,
    dy: &MatRef<'_, T>,
    dx: &MatMut<'_, T>,
) -> Result<()> {
    check_has_cols(op, "y", y.cols())?;
    check_shape(op, "dy", dims(dy), dims(y), "the shape of y")?;
    check_shape(op, "dx", dims_mut(dx), dims(y), "the shape of y")?;
    check_rows_contiguous(op, "dx", dx)
}

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
    softmax_named("softmax_forward", x, y, SoftmaxOptions::default())
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
/// let opts = SoftmaxOptions { masked_rows: MaskedRows::Zero };
/// softmax_forward_with(MatRef::from_row_major(&x, 1, 2)?, MatMut::from_row_major(&mut y, 1, 2)?, opts)?;
/// assert_eq!(y, [0.0, 0.0]);
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn softmax_forward_with<T: Float>(
    x: MatRef<'_, T>,
    y: MatMut<'_, T>,
    opts: SoftmaxOptions,
) -> Result<()> {
    softmax_named("softmax_forward_with", x, y, opts)
}

fn softmax_named<T: Float>(
    op: &'static str,
    x: MatRef<'_, T>,
    y: MatMut<'_, T>,
    opts: SoftmaxOptions,
) -> Result<()> {
    check_row_op(op, &x, &y)?;
    map_rows(x, y, &|xr: &[T], yr: &mut [T]| {
        softmax_row(xr, yr, opts.masked_rows)
    });
    Ok(())
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
    check_row_backward("softmax_backward", &y, &dy, &dx)?;
    map_rows2(y, dy, dx, &|yr: &[T], dyr: &[T], dxr: &mut [T]| {
        let dot: T = yr.iter().zip(dyr).map(|(&a, &b)| a * b).sum();
        for ((o, &yv), &g) in dxr.iter_mut().zip(yr).zip(dyr) {
            *o = yv * (g - dot);
        }
    });
    Ok(())
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
    check_row_op("log_softmax_forward", &x, &y)?;
    map_rows(x, y, &|xr: &[T], yr: &mut [T]| log_softmax_row(xr, yr));
    Ok(())
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
    check_row_backward("log_softmax_backward", &y, &dy, &dx)?;
    map_rows2(y, dy, dx, &|yr: &[T], dyr: &[T], dxr: &mut [T]| {
        let s: T = dyr.iter().copied().sum();
        for ((o, &yv), &g) in dxr.iter_mut().zip(yr).zip(dyr) {
            *o = g - yv.exp() * s;
        }
    });
    Ok(())
}
