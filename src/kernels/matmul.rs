//! MatMul (y = x·W), forward and backward: calls of the bodies in `crate::ops::matmul`.

use crate::error::Result;
use crate::float::Float;
use crate::mat::{MatMut, MatRef};
use crate::ops::Accum;
use crate::simd::Internal;

/// y = x·W.
///
/// Shapes: x: N×D, w: D×H, y: N×H. All three may be any views (transposes and strides
/// included); y must not alias. y is overwritten, never read.
///
/// # Errors
///
/// [`ErrorKind::Shape`](crate::ErrorKind::Shape) naming `w` if `w.rows() != x.cols()`, naming `y` if y is not N×H.
///
/// # Example
///
/// ```
/// use nnkern::{MatMut, MatRef, matmul_forward};
///
/// let x = [1.0_f32, 2.0]; // 1×2
/// let w = [1.0_f32, 0.0, 1.0, 0.0, 1.0, 1.0]; // 2×3
/// let mut y = [0.0_f32; 3];
/// matmul_forward(
///     MatRef::from_row_major(&x, 1, 2)?,
///     MatRef::from_row_major(&w, 2, 3)?,
///     MatMut::from_row_major(&mut y, 1, 3)?,
/// )?;
/// assert_eq!(y, [1.0, 2.0, 3.0]);
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn matmul_forward<T: Float>(x: MatRef<'_, T>, w: MatRef<'_, T>, y: MatMut<'_, T>) -> Result<()> {
    T::matmul_forward(Internal, x, w, y)
}

/// The gradients of y = x·W: dx = dy·Wᵀ, dW = xᵀ·dy.
///
/// Shapes: x: N×D, w: D×H, dy: N×H, dx: N×D, dw: D×H. `dx` is optional (the first layer
/// of a network does not need it) and always overwritten; `dw` is stored per `accum`
/// ([`Accum::Add`] accumulates). Views may be strided or transposed; outputs must not alias.
/// With N = 0, dW is zeroed (`Replace`) or left as is (`Add`).
///
/// # Errors
///
/// [`ErrorKind::Shape`](crate::ErrorKind::Shape) naming `w`, `dy`, `dx` or `dw` when its shape does not fit x.
///
/// # Example
///
/// ```
/// use nnkern::{Accum, MatMut, MatRef, matmul_backward};
///
/// let x = [1.0_f64, 2.0]; // 1×2
/// let w = [1.0_f64, 2.0]; // 2×1
/// let dy = [3.0_f64]; // 1×1
/// let (mut dx, mut dw) = ([0.0; 2], [0.0; 2]);
/// matmul_backward(
///     MatRef::from_row_major(&x, 1, 2)?,
///     MatRef::from_row_major(&w, 2, 1)?,
///     MatRef::from_row_major(&dy, 1, 1)?,
///     Some(MatMut::from_row_major(&mut dx, 1, 2)?),
///     MatMut::from_row_major(&mut dw, 2, 1)?,
///     Accum::Replace,
/// )?;
/// assert_eq!(dx, [3.0, 6.0]);
/// assert_eq!(dw, [3.0, 6.0]);
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn matmul_backward<T: Float>(
    x: MatRef<'_, T>,
    w: MatRef<'_, T>,
    dy: MatRef<'_, T>,
    dx: Option<MatMut<'_, T>>,
    dw: MatMut<'_, T>,
    accum: Accum,
) -> Result<()> {
    T::matmul_backward(Internal, x, w, dy, dx, dw, accum)
}
