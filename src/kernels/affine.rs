//! Affine (y = act(x·W + b)), forward and backward: calls of the bodies in `crate::ops::affine`.

use crate::error::Result;
use crate::float::Float;
use crate::mat::{MatMut, MatRef};
use crate::ops::activation::{Activation, Saved};
use crate::ops::affine::AffineGrads;
use crate::ops::{Accum, Workspace};
use crate::simd::Internal;

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
    y: MatMut<'_, T>,
) -> Result<()> {
    T::affine_forward(Internal, x, w, b, act, y)
}

/// z = x·W + b and y = act(z): [`affine_forward`] that also keeps the pre-activation z, for
/// the activations whose derivative needs it ([`Activation::needs_input`]: SiLU, GELU).
///
/// z is written by the product's own epilogue (the bias added per part while it is in
/// cache), then y = act(z) in one SIMD pass; y gets exactly the bits of [`affine_forward`].
/// Pass `Saved::Input(z)` to [`affine_backward`].
///
/// Shapes: x: N×D, w: D×H, b: H, z and y: N×H, any non-aliasing views.
///
/// # Errors
///
/// As [`affine_forward`], and [`ErrorKind::Shape`](crate::ErrorKind::Shape) naming `z` if z
/// is not N×H.
///
/// # Example
///
/// ```
/// use nnkern::{Activation, MatMut, MatRef, affine_forward_with_z};
///
/// let x = [1.0_f32, -1.0]; // 1×2
/// let w = [2.0_f32, 0.0, 0.0, 2.0]; // 2×2
/// let b = [0.0_f32, 0.0];
/// let (mut z, mut y) = ([0.0_f32; 2], [0.0_f32; 2]);
/// affine_forward_with_z(
///     MatRef::from_row_major(&x, 1, 2)?,
///     MatRef::from_row_major(&w, 2, 2)?,
///     &b,
///     Activation::Silu,
///     MatMut::from_row_major(&mut z, 1, 2)?,
///     MatMut::from_row_major(&mut y, 1, 2)?,
/// )?;
/// assert_eq!(z, [2.0, -2.0]);
/// assert_eq!(y[0], 2.0 * Activation::Sigmoid.apply(2.0_f32)); // x·σ(x)
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn affine_forward_with_z<T: Float>(
    x: MatRef<'_, T>,
    w: MatRef<'_, T>,
    b: &[T],
    act: Activation,
    z: MatMut<'_, T>,
    y: MatMut<'_, T>,
) -> Result<()> {
    T::affine_forward_with_z(Internal, x, w, b, act, z, y)
}

/// The gradients of y = act(z), z = x·W + b:
/// dz = dy ⊙ act′, dx = dz·Wᵀ, dW = xᵀ·dz, db = Σ_rows dz.
///
/// act′ is computed from what the forward saved (`saved`): the output y (a `MatRef` passed as
/// is, or [`Saved::Output`]) for the activations whose derivative is a function of y, or the
/// pre-activation z ([`Saved::Input`], kept by [`affine_forward_with_z`]) for any
/// activation. Shapes: x: N×D, w: D×H, the saved y or z and dy: N×H, and the [`AffineGrads`]
/// dx: N×D, dw: D×H, db: H. `ws` holds dz (N×H) between the passes when the activation is
/// not the identity; reuse one [`Workspace`] across steps and nothing is allocated after
/// the first. With N = 0, dW and db are zeroed (`Replace`) or left as they are (`Add`).
///
/// # Errors
///
/// [`ErrorKind::Shape`](crate::ErrorKind::Shape) naming `w`, `saved`, `dy`, `dx` or `dw` when
/// its shape does not fit x; [`ErrorKind::Length`](crate::ErrorKind::Length) naming `db` if
/// its length is not H; [`ErrorKind::Value`](crate::ErrorKind::Value) naming `saved` if it is
/// the output y of an activation whose derivative needs z, or `act` for a non-finite
/// LeakyReLU slope.
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
pub fn affine_backward<'s, T: Float>(
    x: MatRef<'_, T>,
    w: MatRef<'_, T>,
    saved: impl Into<Saved<'s, T>>,
    dy: MatRef<'_, T>,
    act: Activation,
    grads: AffineGrads<'_, T>,
    accum: Accum,
    ws: &mut Workspace<T>,
) -> Result<()> {
    T::affine_backward(Internal, x, w, saved.into(), dy, act, grads, accum, ws)
}
