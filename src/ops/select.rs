//! Row selection helpers a training loop needs around the kernels: the arg-max of each row,
//! classification accuracy, and gathering a minibatch's rows by index.

use super::{check_has_cols, check_len, check_shape};
use crate::error::{Error, ErrorKind, Result};
use crate::mat::{MatMut, MatRef};
use crate::ops::KernelFloat;

/// [`argmax_rows`](crate::argmax_rows)'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn argmax_rows_impl<T: KernelFloat>(x: MatRef<'_, T>, out: &mut [usize]) -> Result<()> {
    const OP: &str = "argmax_rows";
    check_len(OP, "out", out.len(), x.rows(), "x.rows")?;
    check_has_cols(OP, "x", x.cols())?;
    for (i, o) in out.iter_mut().enumerate() {
        *o = argmax(x.row_iter(i));
    }
    Ok(())
}

/// The index of the first largest value (the first NaN if there is one); 0 for no values.
fn argmax<T: KernelFloat>(row: impl Iterator<Item = T>) -> usize {
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

/// [`accuracy`](crate::accuracy)'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn accuracy_impl<T: KernelFloat>(scores: MatRef<'_, T>, labels: &[usize]) -> Result<f64> {
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

/// [`gather_rows`](crate::gather_rows)'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn gather_rows_impl<T: KernelFloat>(
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
