//! Cross-entropy on probabilities (the book's layer), forward and backward; the target types
//! and loss plumbing shared with the fused softmax-cross-entropy.

use super::{
    Reduction, RowCopies, check_has_cols, check_len, check_rows_contiguous, check_shape, dims, dims_mut,
};
use crate::error::{Error, ErrorKind, Result};
use crate::float::Float;
use crate::mat::{MatMut, MatRef};
use crate::par::{RowSplit, map_blocks};

/// The targets of a classification loss over N rows of C classes.
///
/// # Example
///
/// ```
/// use nnkern::{MatRef, Targets};
///
/// let labels = [2_usize, 0];
/// let by_index: Targets<'_, f32> = Targets::Classes(&labels);
/// let onehot = [0.0_f32, 0.0, 1.0, 1.0, 0.0, 0.0];
/// let by_prob = Targets::Probs(MatRef::from_row_major(&onehot, 2, 3)?);
/// # let _ = (by_index, by_prob);
/// # Ok::<(), nnkern::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Targets<'a, T> {
    /// One class index per row, each in `0..C` (or equal to the loss's `ignore_index`).
    Classes(&'a [usize]),
    /// An N×C matrix of target probabilities (one-hot or soft); any view.
    Probs(MatRef<'a, T>),
}

/// Checks targets against N×C; `ignore` is a label allowed outside `0..C`.
pub(crate) fn check_targets<T: Float>(
    op: &'static str,
    targets: &Targets<'_, T>,
    n: usize,
    c: usize,
    ignore: Option<usize>,
) -> Result<()> {
    match targets {
        Targets::Classes(t) => {
            check_len(op, "targets", t.len(), n, "one class index per row")?;
            // a branch-free scan first (it vectorizes), the position only for the message
            let invalid = |l: usize| l >= c && Some(l) != ignore;
            if t.iter().fold(false, |any, &l| any | invalid(l))
                && let Some((i, &bad)) = t.iter().enumerate().find(|&(_, &l)| invalid(l))
            {
                return Err(Error::new(
                    op,
                    "targets",
                    ErrorKind::Label,
                    match c.checked_sub(1) {
                        Some(last) => {
                            format!("[{i}] is {bad} but there are {c} classes (valid labels 0..={last})")
                        }
                        None => format!("[{i}] is {bad} but there are no classes"),
                    },
                ));
            }
            Ok(())
        }
        Targets::Probs(p) => check_shape(op, "targets", dims(p), (n, c), "one probability row per row"),
    }
}

/// Checks the loss slice's length against the reduction.
pub(crate) fn check_loss_len(
    op: &'static str,
    arg: &'static str,
    len: usize,
    red: Reduction,
    n: usize,
) -> Result<()> {
    let like = match red {
        Reduction::None => "one per row for Reduction::None",
        _ => "1 for Reduction::Mean or Sum",
    };
    check_len(op, arg, len, red.out_len(n), like)
}

/// Evaluates `row(i, buf) = (loss_i, extra_i)` for every row (`buf` is the block's vector
/// from `copies`, for rows of strided inputs), through [`reduce_blocks`]; writes `extra_i`
/// into `extra` unless it is empty.
#[allow(clippy::too_many_arguments)]
pub(crate) fn reduce_rows<T, F>(
    n: usize,
    c: usize,
    red: Reduction,
    denom: f64,
    loss: &mut [T],
    extra: &mut [T],
    copies: &RowCopies<T, 1>,
    row: &F,
) where
    T: Float,
    F: Fn(usize, &mut Vec<T>) -> (T, T) + Sync,
{
    reduce_blocks(n, c, red, denom, loss, extra, &|r0, r1, ls, xs: &mut [T]| {
        copies.with(|[buf]| {
            let mut acc = 0.0_f64;
            for (k, i) in (r0..r1).enumerate() {
                let (l, x) = row(i, buf);
                if let Some(o) = ls.get_mut(k) {
                    *o = l;
                }
                if let Some(o) = xs.get_mut(k) {
                    *o = x;
                }
                acc += l.to_f64();
            }
            acc
        })
    });
}

/// Runs `block(r0, r1, losses, out)` on the row blocks of [`map_blocks`], where `losses`
/// holds the block's rows of `loss` (`Reduction::None`; else it is empty) and `out` its rows
/// of `out`, and each block returns the sum of its losses in f64. Writes the sum (`Sum`) or
/// sum / `denom` (`Mean`) into `loss[0]`. The block sums are added in a fixed order, so a
/// loss that fits the type is never lost to intermediate overflow and the result does not
/// depend on the thread count.
pub(crate) fn reduce_blocks<T, P, F>(
    n: usize,
    c: usize,
    red: Reduction,
    denom: f64,
    loss: &mut [T],
    out: P,
    block: &F,
) where
    T: Float,
    P: RowSplit,
    F: Fn(usize, usize, &mut [T], P) -> f64 + Sync,
{
    let per_row: &mut [T] = if red == Reduction::None {
        &mut *loss
    } else {
        &mut []
    };
    let sum: f64 = map_blocks(
        n,
        c,
        (per_row, out),
        &|r0, r1, (ls, o): (&mut [T], P)| block(r0, r1, ls, o),
        &|a, b| a + b,
    );
    store_reduced(red, sum, denom, loss);
}

/// Writes the reduced loss (`Sum`: `sum`; `Mean`: `sum / denom`) into `loss[0]`; nothing for
/// `None`, whose per-row values are already in place.
pub(crate) fn store_reduced<T: Float>(red: Reduction, sum: f64, denom: f64, loss: &mut [T]) {
    match red {
        Reduction::None => {}
        Reduction::Mean => loss[0] = T::from_f64(sum / denom),
        Reduction::Sum => loss[0] = T::from_f64(sum),
    }
}

/// The upstream gradient for row `i`: `dloss[i]` for `Reduction::None`, `dloss[0] / denom`
/// for `Mean`, `dloss[0]` for `Sum`.
#[inline]
pub(crate) fn row_scale<T: Float>(red: Reduction, dloss: &[T], denom: T, i: usize) -> T {
    match red {
        Reduction::None => dloss[i],
        Reduction::Mean => dloss[0] / denom,
        Reduction::Sum => dloss[0],
    }
}

/// −t·ln p with 0·ln 0 = 0 (a zero target contributes nothing, whatever p is).
#[inline(always)]
fn xlogy_neg<T: Float>(t: T, p: T) -> T {
    if t == T::ZERO { T::ZERO } else { -(t * p.ln()) }
}

/// Cross-entropy of probabilities (the book's layer): l_n = −Σ_k t_nk·ln p_nk, reduced.
///
/// With class indices, l_n = −ln p[n, t_n]. `Reduction::Mean` divides by the batch size N
/// (not by C or the number of dimensions); N = 0 gives NaN for `Mean`, 0 for `Sum`.
/// Shapes: probs: N×C (C ≥ 1), targets: N labels or an N×C matrix, loss: 1 (`Mean`, `Sum`)
/// or N (`None`).
///
/// Numerics: no ε is added to p; p = 0 at a positive target gives +∞, and a zero target
/// contributes exactly 0 whatever its p (0·ln 0 = 0). For training, prefer
/// [`softmax_cross_entropy_forward`](crate::softmax_cross_entropy_forward), which never
/// forms p and is exact where this loses precision.
///
/// # Errors
///
/// [`ErrorKind::Shape`] naming `probs` if C = 0 or `targets` if its shape differs;
/// [`ErrorKind::Length`] naming `targets` or `loss`; [`ErrorKind::Label`] naming `targets`
/// for a label ≥ C.
///
/// # Example
///
/// ```
/// use nnkern::{MatRef, Reduction, Targets, cross_entropy_forward};
///
/// let p = [0.5_f64, 0.5, 0.25, 0.75];
/// let mut loss = [0.0];
/// cross_entropy_forward(
///     MatRef::from_row_major(&p, 2, 2)?,
///     Targets::Classes(&[0, 1]),
///     Reduction::Mean,
///     &mut loss,
/// )?;
/// assert!((loss[0] - (-(0.5_f64.ln()) - 0.75_f64.ln()) / 2.0).abs() < 1e-15);
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn cross_entropy_forward<T: Float>(
    probs: MatRef<'_, T>,
    targets: Targets<'_, T>,
    reduction: Reduction,
    loss: &mut [T],
) -> Result<()> {
    const OP: &str = "cross_entropy_forward";
    let (n, c) = dims(&probs);
    check_has_cols(OP, "probs", c)?;
    check_targets(OP, &targets, n, c, None)?;
    check_loss_len(OP, "loss", loss.len(), reduction, n)?;
    // (probabilities are read in place: no row copies)
    let copies = RowCopies::new(OP, 0, 0)?;
    reduce_rows(n, c, reduction, n as f64, loss, &mut [], &copies, &|i, _| {
        let l = match targets {
            Targets::Classes(t) => -probs.at(i, t[i]).ln(),
            Targets::Probs(tp) => (0..c).map(|k| xlogy_neg(tp.at(i, k), probs.at(i, k))).sum(),
        };
        (l, T::ZERO)
    });
    Ok(())
}

/// The gradient of [`cross_entropy_forward`]: dp_nk = −g_n·t_nk / p_nk.
///
/// g_n is `dloss[0]/N` (`Mean`), `dloss[0]` (`Sum`) or `dloss[n]` (`None`). A zero target gives
/// exactly 0 (also where p = 0); p = 0 at a positive target gives −∞·g. Shapes: probs, dprobs:
/// N×C (dprobs with unit column stride, overwritten); dloss: 1 or N as the reduction.
///
/// # Errors
///
/// As [`cross_entropy_forward`], plus [`ErrorKind::Shape`]/[`ErrorKind::Stride`] naming
/// `dprobs` and [`ErrorKind::Length`] naming `dloss`.
///
/// # Example
///
/// ```
/// use nnkern::{MatMut, MatRef, Reduction, Targets, cross_entropy_backward};
///
/// let p = [0.5_f32, 0.5];
/// let mut dp = [0.0_f32; 2];
/// cross_entropy_backward(
///     MatRef::from_row_major(&p, 1, 2)?,
///     Targets::Classes(&[1]),
///     Reduction::Mean,
///     &[1.0],
///     MatMut::from_row_major(&mut dp, 1, 2)?,
/// )?;
/// assert_eq!(dp, [0.0, -2.0]);
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn cross_entropy_backward<T: Float>(
    probs: MatRef<'_, T>,
    targets: Targets<'_, T>,
    reduction: Reduction,
    dloss: &[T],
    dprobs: MatMut<'_, T>,
) -> Result<()> {
    const OP: &str = "cross_entropy_backward";
    let (n, c) = dims(&probs);
    check_has_cols(OP, "probs", c)?;
    check_targets(OP, &targets, n, c, None)?;
    check_loss_len(OP, "dloss", dloss.len(), reduction, n)?;
    check_shape(OP, "dprobs", dims_mut(&dprobs), (n, c), "the shape of probs")?;
    check_rows_contiguous(OP, "dprobs", &dprobs)?;
    let denom = T::from_usize(n);
    crate::par::for_each_row_block(dprobs, &|r0, mut blk: MatMut<'_, T>| {
        for r in 0..blk.rows() {
            let i = r0 + r;
            let g = row_scale(reduction, dloss, denom, i);
            let out = blk.row_mut(r);
            for (k, o) in out.iter_mut().enumerate() {
                let t = match targets {
                    Targets::Classes(l) => {
                        if l[i] == k {
                            T::ONE
                        } else {
                            T::ZERO
                        }
                    }
                    Targets::Probs(tp) => tp.at(i, k),
                };
                *o = if t == T::ZERO {
                    T::ZERO
                } else {
                    -(g * t) / probs.at(i, k)
                };
            }
        }
    });
    Ok(())
}
