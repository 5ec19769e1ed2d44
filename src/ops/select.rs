//! Row selection helpers a training loop needs around the kernels: the arg-max of each row,
//! classification accuracy, and gathering a minibatch's rows by index.

use super::{check_has_cols, check_len, check_shape};
use crate::error::{Error, ErrorKind, Result};
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
/// [`ErrorKind::Shape`] naming `x` if C = 0; [`ErrorKind::Length`] naming `out` if its
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

/// [`argmax_rows`]'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn argmax_rows_impl<T: Float>(x: MatRef<'_, T>, out: &mut [usize]) -> Result<()> {
    const OP: &str = "argmax_rows";
    check_len(OP, "out", out.len(), x.rows(), "x.rows")?;
    check_has_cols(OP, "x", x.cols())?;
    for (i, o) in out.iter_mut().enumerate() {
        *o = argmax(x.row_iter(i));
    }
    Ok(())
}

/// The index of the first largest value (the first NaN if there is one); 0 for no values.
fn argmax<T: Float>(row: impl Iterator<Item = T>) -> usize {
    let mut best: Option<(usize, T)> = None;
    for (j, v) in row.enumerate() {
        if v.is_nan() {
            return j;
        }
        match best {
            Some((_, b)) if v <= b => {}
            _ => best = Some((j, v)),
        }
    }
    best.map_or(0, |(j, _)| j)
}

/// The fraction of rows whose arg-max (as [`argmax_rows`]) is the row's label:
/// (1/N)·#{i : argmax(xᵢ) = tᵢ}; NaN for N = 0 (a mean over nothing, as PyTorch's).
///
/// Shapes: `scores` N×C with C ≥ 1, `labels` of length N (any values: a label ≥ C is simply
/// never predicted).
///
/// # Errors
///
/// [`ErrorKind::Shape`] naming `scores` if C = 0; [`ErrorKind::Length`] naming `labels` if
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

/// [`accuracy`]'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn accuracy_impl<T: Float>(scores: MatRef<'_, T>, labels: &[usize]) -> Result<f64> {
    const OP: &str = "accuracy";
    check_len(OP, "labels", labels.len(), scores.rows(), "scores.rows")?;
    check_has_cols(OP, "scores", scores.cols())?;
    let hits = labels
        .iter()
        .enumerate()
        .filter(|&(i, &t)| argmax(scores.row_iter(i)) == t)
        .count();
    Ok(hits as f64 / labels.len() as f64)
}

/// out row k = x row idx\[k\]: gathers a minibatch (any strides on either side).
///
/// Shapes: `x` N×D, `idx` of length B with every index below N, `out` B×D.
///
/// # Errors
///
/// [`ErrorKind::Shape`] naming `out` if it is not B×D; [`ErrorKind::Value`] naming `idx` for
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

/// [`gather_rows`]'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn gather_rows_impl<T: Float>(
    x: MatRef<'_, T>,
    idx: &[usize],
    mut out: MatMut<'_, T>,
) -> Result<()> {
    const OP: &str = "gather_rows";
    check_shape(
        OP,
        "out",
        (out.rows(), out.cols()),
        (idx.len(), x.cols()),
        "idx.len × x.cols",
    )?;
    if let Some((k, &i)) = idx.iter().enumerate().find(|&(_, &i)| i >= x.rows()) {
        return Err(Error::new(
            OP,
            "idx",
            ErrorKind::Value,
            format!("[{k}] is {i} but x has {} rows", x.rows()),
        ));
    }
    for (k, &i) in idx.iter().enumerate() {
        match (x.row_slice(i), out.unit_col_stride()) {
            (Some(src), true) => out.row_mut(k).copy_from_slice(src),
            _ => {
                for (j, v) in x.row_iter(i).enumerate() {
                    *out.at_mut(k, j) = v;
                }
            }
        }
    }
    Ok(())
}
