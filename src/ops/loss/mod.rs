//! The losses: the fused softmax-cross-entropy on logits (`softmax_ce`, with its lane-per-row
//! engine for short rows, `lanes`), the cross-entropy on probabilities (`cross_entropy`) and
//! the binary cross-entropy on logits (`bce`); here, what they share: the target types, their
//! checks, and the reduction of per-row losses over blocks of rows.

pub mod bce;
pub mod cross_entropy;
mod lanes;
pub mod softmax_ce;

pub(crate) use lanes::mean_lane_group;

use super::{Reduction, RowCopies, check_len, check_shape, dims};
use crate::error::{Error, ErrorKind, Result};
use crate::mat::MatRef;
use crate::ops::KernelFloat;
use crate::par::{Grain, RowSplit, map_blocks};

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

impl<T: KernelFloat> Targets<'_, T> {
    /// Row `i` of probability targets as a slice: the row itself when its column stride is
    /// 1, else a copy in `buf`; empty for class labels.
    #[inline(always)]
    pub(crate) fn prob_row<'b>(&self, i: usize, buf: &'b mut Vec<T>) -> &'b [T]
    where
        Self: 'b,
    {
        match self {
            Targets::Probs(q) => super::row_of(q, i, buf),
            Targets::Classes(_) => &[],
        }
    }
}

/// Checks targets against N×C; `ignore` is a label allowed outside `0..C`.
pub(crate) fn check_targets<T: KernelFloat>(
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

/// Evaluates `row(i, bufs) = (loss_i, extra_i)` for every row (`bufs` are the block's
/// vectors from `copies`, for rows of strided inputs), through [`reduce_blocks`] for work
/// `g`; writes
/// `extra_i` into `extra` unless it is empty.
#[allow(clippy::too_many_arguments)]
pub(crate) fn reduce_rows<T, F, const K: usize>(
    n: usize,
    c: usize,
    g: Grain,
    red: Reduction,
    denom: f64,
    loss: &mut [T],
    extra: &mut [T],
    copies: &RowCopies<T, K>,
    row: &F,
) where
    T: KernelFloat,
    F: Fn(usize, &mut [Vec<T>; K]) -> (T, T) + Sync,
{
    reduce_blocks(n, c, g, red, denom, loss, extra, &|r0, r1, ls, xs: &mut [T]| {
        copies.with(|buf| {
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

/// Runs `block(r0, r1, losses, out)` on the row blocks of [`map_blocks`] for work `g`, where `losses`
/// holds the block's rows of `loss` (`Reduction::None`; else it is empty) and `out` its rows
/// of `out`, and each block returns the sum of its losses in f64. Writes the sum (`Sum`) or
/// sum / `denom` (`Mean`) into `loss[0]`. The block sums are added in a fixed order, so a
/// loss that fits the type is never lost to intermediate overflow and the result does not
/// depend on the thread count.
#[allow(clippy::too_many_arguments)]
pub(crate) fn reduce_blocks<T, P, F>(
    n: usize,
    c: usize,
    g: Grain,
    red: Reduction,
    denom: f64,
    loss: &mut [T],
    out: P,
    block: &F,
) where
    T: KernelFloat,
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
        g,
        (per_row, out),
        &|r0, r1, (ls, o): (&mut [T], P)| block(r0, r1, ls, o),
        &|a, b| a + b,
    );
    store_reduced(red, sum, denom, loss);
}

/// Writes the reduced loss (`Sum`: `sum`; `Mean`: `sum / denom`) into `loss[0]`; nothing for
/// `None`, whose per-row values are already in place.
pub(crate) fn store_reduced<T: KernelFloat>(red: Reduction, sum: f64, denom: f64, loss: &mut [T]) {
    match red {
        Reduction::None => {}
        Reduction::Mean => loss[0] = T::from_f64(sum / denom),
        Reduction::Sum => loss[0] = T::from_f64(sum),
    }
}

/// The upstream gradient for row `i`: `dloss[i]` for `Reduction::None`, `dloss[0] / denom`
/// for `Mean`, `dloss[0]` for `Sum`.
#[inline]
pub(crate) fn row_scale<T: KernelFloat>(red: Reduction, dloss: &[T], denom: T, i: usize) -> T {
    match red {
        Reduction::None => dloss[i],
        Reduction::Mean => dloss[0] / denom,
        Reduction::Sum => dloss[0],
    }
}
