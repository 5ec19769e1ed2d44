//! MatMul: y = x·W, forward and backward.

use super::{Accum, check_shape, dims, dims_mut};
use crate::error::{Error, ErrorKind, Result};
use crate::float::Float;
use crate::gemm::gemm_checked;
use crate::mat::{MatMut, MatRef};
use crate::simd::Internal;

/// Checks x: N×D against w: D×H, naming `w` when they disagree.
pub(crate) fn check_xw<T: Float>(op: &'static str, x: &MatRef<'_, T>, w: &MatRef<'_, T>) -> Result<()> {
    if w.rows() != x.cols() {
        return Err(Error::new(
            op,
            "w",
            ErrorKind::Shape,
            format!("has {} rows but x has {} columns", w.rows(), x.cols()),
        ));
    }
    Ok(())
}

/// y = x·W.
///
/// Shapes: x: N×D, w: D×H, y: N×H. All three may be any views (transposes and strides
/// included); y must not alias. y is overwritten, never read.
///
/// # Errors
///
/// [`ErrorKind::Shape`] naming `w` if `w.rows() != x.cols()`, naming `y` if y is not N×H.
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

/// [`matmul_forward`]'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn matmul_forward_impl<T: Float>(
    x: MatRef<'_, T>,
    w: MatRef<'_, T>,
    y: MatMut<'_, T>,
) -> Result<()> {
    const OP: &str = "matmul_forward";
    check_xw(OP, &x, &w)?;
    check_shape(OP, "y", dims_mut(&y), (x.rows(), w.cols()), "x.rows × w.cols")?;
    gemm_checked(T::ONE, x, w, T::ZERO, y);
    Ok(())
}

/// Checks the operands of a MatMul/Affine backward and writes dx = dy·Wᵀ and dW (±)= xᵀ·dy.
pub(crate) fn check_backward<T: Float>(
    op: &'static str,
    x: &MatRef<'_, T>,
    w: &MatRef<'_, T>,
    dy: &MatRef<'_, T>,
    dx: &Option<MatMut<'_, T>>,
    dw: &MatMut<'_, T>,
) -> Result<()> {
    check_xw(op, x, w)?;
    check_shape(op, "dy", dims(dy), (x.rows(), w.cols()), "x.rows × w.cols")?;
    if let Some(dx) = dx {
        check_shape(op, "dx", dims_mut(dx), dims(x), "the shape of x")?;
    }
    check_shape(op, "dw", dims_mut(dw), dims(w), "the shape of w")?;
    Ok(())
}

/// dx = dz·Wᵀ and dW ← xᵀ·dz (+ dW) once shapes are checked.
pub(crate) fn backward_products<T: Float>(
    x: MatRef<'_, T>,
    w: MatRef<'_, T>,
    dz: MatRef<'_, T>,
    dx: Option<MatMut<'_, T>>,
    dw: MatMut<'_, T>,
    accum: Accum,
) {
    if let Some(dx) = dx {
        gemm_checked(T::ONE, dz, w.t(), T::ZERO, dx);
    }
    gemm_checked(T::ONE, x.t(), dz, accum.beta(), dw);
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
/// [`ErrorKind::Shape`] naming `w`, `dy`, `dx` or `dw` when its shape does not fit x.
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

/// [`matmul_backward`]'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn matmul_backward_impl<T: Float>(
    x: MatRef<'_, T>,
    w: MatRef<'_, T>,
    dy: MatRef<'_, T>,
    dx: Option<MatMut<'_, T>>,
    dw: MatMut<'_, T>,
    accum: Accum,
) -> Result<()> {
    check_backward("matmul_backward", &x, &w, &dy, &dx, &dw)?;
    backward_products(x, w, dy, dx, dw, accum);
    Ok(())
}
