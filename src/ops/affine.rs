//! Affine: y = act(x·W + b), forward and backward, with the activation fused.

use super::activation::Activation;
use super::matmul::{backward_products, check_backward, check_xw};
use super::{Accum, Workspace, check_len, check_shape, dims_mut};
use crate::error::Result;
use crate::float::Float;
use crate::gemm::gemm_checked;
use crate::mat::{MatMut, MatRef};

/// y = act(x·W + b), the dense layer.
///
/// Shapes: x: N×D, w: D×H, b: H (broadcast over the rows), y: N×H. x and w may be any views
/// (transposes and strides included); y any non-aliasing view. y is overwritten, never read.
/// See [`Activation`] for the available activations and their non-finite semantics.
///
/// # Errors
///
/// [`ErrorKind::Shape`](crate::ErrorKind::Shape) naming `w` if `w.rows() != x.cols()` or
/// `y` if y is not N×H; [`ErrorKind::Length`](crate::ErrorKind::Length) naming `b` if
/// `b.len() != H`.
///
/// # Example
///
/// ```
/// use nnkern::{Activation, MatMut, MatRef, affine_forward};
///
/// let x = [1.0_f32, -1.0]; // 1×2
/// let w = [2.0_f32, 0.0, 0.0, 2.0]; // 2×2
/// let b = [0.0_f32, 0.5];
/// let mut y = [0.0_f32; 2];
/// affine_forward(
///     MatRef::from_row_major(&x, 1, 2)?,
///     MatRef::from_row_major(&w, 2, 2)?,
///     &b,
///     Activation::Relu,
///     MatMut::from_row_major(&mut y, 1, 2)?,
/// )?;
/// assert_eq!(y, [2.0, 0.0]); // relu([2, −1.5])
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn affine_forward<T: Float>(
    x: MatRef<'_, T>,
    w: MatRef<'_, T>,
    b: &[T],
    act: Activation,
    mut y: MatMut<'_, T>,
) -> Result<()> {
    const OP: &str = "affine_forward";
    check_xw(OP, &x, &w)?;
    check_len(OP, "b", b.len(), w.cols(), "w.cols")?;
    check_shape(OP, "y", dims_mut(&y), (x.rows(), w.cols()), "x.rows × w.cols")?;
    // y ← b (broadcast), then y ← x·W + y, then y ← act(y).
    let unit = y.unit_col_stride();
    for i in 0..y.rows() {
        if unit {
            y.row_mut(i).copy_from_slice(b);
        } else {
            for (j, &bj) in b.iter().enumerate() {
                *y.at_mut(i, j) = bj;
            }
        }
    }
    gemm_checked(T::ONE, x, w, T::ONE, y.rb_mut());
    act.apply_inplace(y);
    Ok(())
}

/// The gradient outputs of [`affine_backward`].
///
/// `dx` is optional (a first layer does not need it) and always overwritten; `dw` and `db`
/// are stored per the `accum` argument of `affine_backward`.
#[derive(Debug)]
pub struct AffineGrads<'a, T> {
    /// dx = dz·Wᵀ, N×D, or `None` to skip it.
    pub dx: Option<MatMut<'a, T>>,
    /// dW = xᵀ·dz, D×H.
    pub dw: MatMut<'a, T>,
    /// db = Σ over rows of dz, length H.
    pub db: &'a mut [T],
}

/// The gradients of y = act(x·W + b):
/// dz = dy ⊙ act′(y), dx = dz·Wᵀ, dW = xᵀ·dz, db = Σ_rows dz.
///
/// act′ is computed from the forward output y (see [`Activation`]), so no pre-activation
/// needs to be kept. Shapes: x: N×D, w: D×H, y and dy: N×H, and the [`AffineGrads`]
/// dx: N×D, dw: D×H, db: H. `ws` holds dz (N×H) between the passes when the activation is
/// not the identity; reuse one [`Workspace`] across steps and nothing is allocated after
/// the first. With N = 0, dW and db are zeroed (`Replace`) or left as they are (`Add`).
///
/// # Errors
///
/// [`ErrorKind::Shape`](crate::ErrorKind::Shape) naming `w`, `y`, `dy`, `dx` or `dw` when its
/// shape does not fit x; [`ErrorKind::Length`](crate::ErrorKind::Length) naming `db` if its
/// length is not H.
///
/// # Example
///
/// ```
/// use nnkern::{Accum, Activation, AffineGrads, MatMut, MatRef, Workspace, affine_backward};
///
/// let x = [1.0_f32, 2.0]; // 1×2
/// let w = [0.5_f32, -0.5]; // 2×1
/// let y = [0.5_f32]; // sigmoid output
/// let dy = [1.0_f32];
/// let (mut dx, mut dw, mut db) = ([0.0_f32; 2], [0.0_f32; 2], [0.0_f32; 1]);
/// affine_backward(
///     MatRef::from_row_major(&x, 1, 2)?,
///     MatRef::from_row_major(&w, 2, 1)?,
///     MatRef::from_row_major(&y, 1, 1)?,
///     MatRef::from_row_major(&dy, 1, 1)?,
///     Activation::Sigmoid,
///     AffineGrads {
///         dx: Some(MatMut::from_row_major(&mut dx, 1, 2)?),
///         dw: MatMut::from_row_major(&mut dw, 2, 1)?,
///         db: &mut db,
///     },
///     Accum::Replace,
///     &mut Workspace::new(),
/// )?;
/// assert_eq!(db, [0.25]); // dz = 1·0.5·(1−0.5)
/// assert_eq!(dw, [0.25, 0.5]);
/// assert_eq!(dx, [0.125, -0.125]);
/// # Ok::<(), nnkern::Error>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn affine_backward<T: Float>(
    x: MatRef<'_, T>,
    w: MatRef<'_, T>,
    y: MatRef<'_, T>,
    dy: MatRef<'_, T>,
    act: Activation,
    grads: AffineGrads<'_, T>,
    accum: Accum,
    ws: &mut Workspace<T>,
) -> Result<()> {
    const OP: &str = "affine_backward";
    let AffineGrads { dx, dw, db } = grads;
    check_backward(OP, &x, &w, &dy, &dx, &dw)?;
    check_shape(
        OP,
        "y",
        (y.rows(), y.cols()),
        (x.rows(), w.cols()),
        "x.rows × w.cols",
    )?;
    check_len(OP, "db", db.len(), w.cols(), "w.cols")?;
    let (n, h) = (x.rows(), w.cols());

    let scratch = ws.take(if act == Activation::Identity { h } else { n * h + h });
    let (colsum, dz_buf) = scratch.split_at_mut(h);
    let dz = if act == Activation::Identity {
        dy
    } else {
        let dzm = MatMut::from_row_major(&mut dz_buf[..n * h], n, h).expect("dz buffer is exactly n·h");
        // dz = dy ⊙ act′(y): the activation's backward kernel, into the scratch
        super::activation::activation_backward(act, y, dy, dzm)?;
        MatRef::from_row_major(&dz_buf[..n * h], n, h).expect("dz buffer is exactly n·h")
    };

    // db: column sums of dz in row order (deterministic), then stored per `accum`.
    colsum.fill(T::ZERO);
    let mut buf = Vec::new();
    for i in 0..n {
        let row = super::row_of(&dz, i, &mut buf);
        for (s, &v) in colsum.iter_mut().zip(row) {
            *s += v;
        }
    }
    for (o, &s) in db.iter_mut().zip(colsum.iter()) {
        accum.store(o, s);
    }
    backward_products(x, w, dz, dx, dw, accum);
    Ok(())
}
