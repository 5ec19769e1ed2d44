//! Cross-entropy on probabilities (the book's layer), forward and backward.

use super::{Targets, check_loss_len, check_targets, reduce_rows, row_scale};
use crate::error::Result;
use crate::float::Float;
use crate::mat::{MatMut, MatRef};
use crate::ops::{Reduction, RowCopies, check_has_cols, check_rows_contiguous, check_shape, dims, dims_mut};

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
/// [`ErrorKind::Shape`](crate::ErrorKind::Shape) naming `probs` if C = 0 or `targets` if its shape differs;
/// [`ErrorKind::Length`](crate::ErrorKind::Length) naming `targets` or `loss`; [`ErrorKind::Label`](crate::ErrorKind::Label) naming `targets`
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
/// As [`cross_entropy_forward`], plus [`ErrorKind::Shape`](crate::ErrorKind::Shape)/[`ErrorKind::Stride`](crate::ErrorKind::Stride) naming
/// `dprobs` and [`ErrorKind::Length`](crate::ErrorKind::Length) naming `dloss`.
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
