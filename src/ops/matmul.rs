//! MatMul: y = x·W, forward and backward.

use super::{Accum, check_shape, dims, dims_mut};
use crate::error::{Error, ErrorKind, Result};
use crate::gemm::gemm_checked;
use crate::mat::{MatMut, MatRef};
use crate::ops::KernelFloat;

/// Checks x: N×D against w: D×H, naming `w` when they disagree.
pub(crate) fn check_xw<T: KernelFloat>(op: &'static str, x: &MatRef<'_, T>, w: &MatRef<'_, T>) -> Result<()> {
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

/// [`matmul_forward`](crate::matmul_forward)'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn matmul_forward_impl<T: KernelFloat>(
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
pub(crate) fn check_backward<T: KernelFloat>(
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
pub(crate) fn backward_products<T: KernelFloat>(
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

/// [`matmul_backward`](crate::matmul_backward)'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn matmul_backward_impl<T: KernelFloat>(
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
