//! Row selection and scoring: calls of the bodies in `crate::ops::select`.

use crate::error::Result;
use crate::float::Float;
use crate::mat::{MatMut, MatRef};
use crate::simd::Internal;

/// out\[i\] = the column of row i's largest element (the first one on ties), for an N×C view
/// of any strides; as PyTorch's `argmax(dim=1)`, a NaN counts as larger than every number
/// (the first NaN of a row wins).
///
/// Shapes: `x` N×C with C ≥ 1, `out` of length N.
///
/// # Errors
///
/// [`ErrorKind::Shape`](crate::ErrorKind::Shape) naming `x` if C = 0; [`ErrorKind::Length`](crate::ErrorKind::Length) naming `out` if its
/// length is not N.
///
/// # Example
///
/// ```
/// let s = nnkern::MatRef::from_row_major(&[0.1_f32, 0.7, 0.2, 0.5, 0.5, f32::NAN], 2, 3)?;
/// let mut out = [0; 2];
/// nnkern::argmax_rows(s, &mut out)?;
/// assert_eq!(out, [1, 2]);
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn argmax_rows<T: Float>(x: MatRef<'_, T>, out: &mut [usize]) -> Result<()> {
    T::argmax_rows(Internal, x, out)
}

/// The fraction of rows whose arg-max (as [`argmax_rows`]) is the row's label:
/// (1/N)·#{i : argmax(xᵢ) = tᵢ}; NaN for N = 0 (a mean over nothing, as PyTorch's).
///
/// Shapes: `scores` N×C with C ≥ 1, `labels` of length N (any values: a label ≥ C is simply
/// never predicted).
///
/// # Errors
///
/// [`ErrorKind::Shape`](crate::ErrorKind::Shape) naming `scores` if C = 0; [`ErrorKind::Length`](crate::ErrorKind::Length) naming `labels` if
/// its length is not N.
///
/// # Example
///
/// ```
/// let s = nnkern::MatRef::from_row_major(&[0.1_f64, 0.9, 0.8, 0.2], 2, 2)?;
/// assert_eq!(nnkern::accuracy(s, &[1, 1])?, 0.5);
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn accuracy<T: Float>(scores: MatRef<'_, T>, labels: &[usize]) -> Result<f64> {
    T::accuracy(Internal, scores, labels)
}

/// out row k = x row idx\[k\]: gathers a minibatch (any strides on either side).
///
/// Shapes: `x` N×D, `idx` of length B with every index below N, `out` B×D.
///
/// # Errors
///
/// [`ErrorKind::Shape`](crate::ErrorKind::Shape) naming `out` if it is not B×D; [`ErrorKind::Value`](crate::ErrorKind::Value) naming `idx` for
/// the first index ≥ N. Nothing is written then.
///
/// # Example
///
/// ```
/// let x = nnkern::MatRef::from_row_major(&[1.0_f32, 2.0, 3.0, 4.0, 5.0, 6.0], 3, 2)?;
/// let mut buf = [0.0; 4];
/// nnkern::gather_rows(x, &[2, 0], nnkern::MatMut::from_row_major(&mut buf, 2, 2)?)?;
/// assert_eq!(buf, [5.0, 6.0, 1.0, 2.0]);
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn gather_rows<T: Float>(x: MatRef<'_, T>, idx: &[usize], out: MatMut<'_, T>) -> Result<()> {
    T::gather_rows(Internal, x, idx, out)
}
