//! Binary cross-entropy on logits, with the sigmoid fused: forward, backward, and both in one
//! pass.

use crate::error::Result;
use crate::float::Float;
use crate::mat::{MatMut, MatRef};
use crate::ops::{
    Reduction, RowCopies, check_len, check_rows_contiguous, check_shape, copy_len, dims, dims_mut, row_of,
};
use crate::par::{map_blocks, rows_per_block};
use crate::simd::{ExpNonPos, Isa, Kernel, Math, dispatch, ln_1p_unit};

/// Options of the binary cross-entropy on logits: those of PyTorch's
/// `binary_cross_entropy_with_logits(input, target, weight, pos_weight, reduction)`.
///
/// # Example
///
/// ```
/// use nnkern::{BceOptions, MatRef, Reduction};
///
/// // a weight per class is a view of C values with row stride 0 (broadcast over the rows)
/// let per_class = [1.0_f32, 2.0, 0.5];
/// let opts = BceOptions::default()
///     .reduction(Reduction::Sum)
///     .weight(Some(MatRef::from_strided(&per_class, 4, 3, 0, 1)?))
///     .pos_weight(Some(&[3.0, 1.0, 1.0]));
/// # let _ = opts;
/// # Ok::<(), nnkern::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct BceOptions<'a, T> {
    /// `None`: one loss per element (N×C, row-major); `Mean`: the sum over the N·C elements
    /// divided by N·C (weights do not change the divisor, as in PyTorch); `Sum`.
    pub reduction: Reduction,
    /// w: a weight per element, N×C; any view, so a weight per class (row stride 0) or per row
    /// (column stride 0) needs no copy.
    pub weight: Option<MatRef<'a, T>>,
    /// p: the weight of the positive term, one per class (length C), broadcast over the rows.
    pub pos_weight: Option<&'a [T]>,
}

impl<'a, T> BceOptions<'a, T> {
    setters!(reduction: Reduction, weight: Option<MatRef<'a, T>>, pos_weight: Option<&'a [T]>);
}

impl<T> Default for BceOptions<'_, T> {
    fn default() -> Self {
        BceOptions {
            reduction: Reduction::Mean,
            weight: None,
            pos_weight: None,
        }
    }
}

/// The loss of one element and its derivative in x, both per unit weight, from e = e^(−|x|):
/// ℓ = p·t·softplus(−x) + (1−t)·softplus(x), ∂ℓ/∂x = (1−t)·σ(x) − p·t·σ(−x).
///
/// softplus(±x) = max(±x, 0) + ln(1+e) and σ(±x) ∈ {1/(1+e), e/(1+e)} — no exponential
/// overflows, no 1 − σ cancels. A zero coefficient times an infinite softplus is 0 (the
/// limit), so x = +∞ with t = 1 gives ℓ = 0, not NaN. Branch-free (selects), so a loop of it
/// vectorizes.
#[inline(always)]
fn element<T: Float>(x: T, t: T, p: T, e: T) -> (T, T) {
    let l1p = ln_1p_unit(e);
    let (sp_pos, sp_neg) = (x.max(T::ZERO) + l1p, (-x).max(T::ZERO) + l1p);
    let (a, b) = (T::ONE / (T::ONE + e), e / (T::ONE + e));
    let (sig_pos, sig_neg) = if x >= T::ZERO { (a, b) } else { (b, a) };
    let (cp, cn) = (p * t, T::ONE - t);
    let times = |c: T, s: T| if c == T::ZERO { T::ZERO } else { c * s };
    let loss = times(cp, sp_neg) + times(cn, sp_pos);
    // NaN x keeps NaN (x.max(0) would drop it)
    let loss = if x.is_nan() { x } else { loss };
    (loss, cn * sig_pos - cp * sig_neg)
}

/// Elements per chunk of a row: e^(−|x|) of a chunk in one vector pass, then the rest.
const CHUNK: usize = 64;

/// What one call computes: the loss, the gradient, or both.
struct Bce<'a, T> {
    logits: MatRef<'a, T>,
    targets: MatRef<'a, T>,
    opts: BceOptions<'a, T>,
    dloss: Option<&'a [T]>,
}

impl<T: Float> Bce<'_, T> {
    /// Checks every argument; `loss` and `dlogits` are the outputs this call writes.
    fn check(&self, op: &'static str, loss: Option<&[T]>, dlogits: Option<&MatMut<'_, T>>) -> Result<()> {
        let (n, c) = dims(&self.logits);
        check_shape(op, "targets", dims(&self.targets), (n, c), "the shape of logits")?;
        if let Some(w) = &self.opts.weight {
            check_shape(op, "weight", dims(w), (n, c), "the shape of logits")?;
        }
        if let Some(p) = self.opts.pos_weight {
            check_len(op, "pos_weight", p.len(), c, "one per column of logits")?;
        }
        let (len, like) = match self.opts.reduction {
            // (n·c cannot overflow: a view holds at most isize::MAX elements)
            Reduction::None => (n * c, "N·C for Reduction::None"),
            _ => (1, "1 for Reduction::Mean or Sum"),
        };
        if let Some(l) = loss {
            check_len(op, "loss", l.len(), len, like)?;
        }
        if let Some(d) = self.dloss {
            check_len(op, "dloss", d.len(), len, like)?;
        }
        if let Some(g) = dlogits {
            check_shape(op, "dlogits", dims_mut(g), (n, c), "the shape of logits")?;
            check_rows_contiguous(op, "dlogits", g)?;
        }
        Ok(())
    }

    /// Writes the loss (when `loss` is given) and the gradient (when `dlogits` is), in one
    /// pass over row blocks; the reduced sum runs in f64 in a fixed order.
    fn run(&self, op: &'static str, loss: Option<&mut [T]>, dlogits: Option<MatMut<'_, T>>) -> Result<()> {
        let (n, c) = dims(&self.logits);
        let red = self.opts.reduction;
        // (a view holds at most isize::MAX elements: no overflow)
        let count = n * c;
        // rows of strided operands are copied: the copies are reserved before anything is
        // written (a broadcast row can be far longer than the one loss value written)
        let copy = [Some(&self.logits), Some(&self.targets), self.opts.weight.as_ref()]
            .into_iter()
            .flatten()
            .map(copy_len)
            .max()
            .unwrap_or(0);
        let copies = RowCopies::<T, 3>::new(op, copy, n.div_ceil(rows_per_block(n, c)))?;
        let per_elem = loss.is_some() && red == Reduction::None;
        let (loss_mat, loss_out) = match loss {
            Some(l) if per_elem => (
                Some(MatMut::from_row_major(l, n, c).expect("checked length")),
                None,
            ),
            other => (None, other),
        };
        // upstream scale for Mean / Sum
        let g0 = self.dloss.map(|d| match red {
            Reduction::None => T::ONE,
            Reduction::Mean => d[0] / T::from_usize(count),
            Reduction::Sum => d[0],
        });
        let path = Isa::current();
        let sum = map_blocks(
            n,
            c,
            (loss_mat, dlogits),
            &|r0, r1, (lm, gm): (Option<MatMut<'_, T>>, Option<MatMut<'_, T>>)| {
                // (the block's buffers are taken outside the dispatch, so that the whole block
                // compiles inside the path's #[target_feature] function)
                copies.with(|bufs| {
                    dispatch(
                        path,
                        BceBlock {
                            k: self,
                            bufs,
                            r0,
                            r1,
                            g0,
                            loss: lm,
                            grad: gm,
                        },
                    )
                })
            },
            &|a, b| a + b,
        );
        if let Some(out) = loss_out {
            out[0] = match red {
                Reduction::Mean => T::from_f64(sum / count as f64),
                _ => T::from_f64(sum),
            };
        }
        Ok(())
    }
}

/// Rows r0..r1 of one call: losses (per element or summed) and gradients.
struct BceBlock<'a, 'k, T> {
    k: &'k Bce<'a, T>,
    /// Vectors for the row copies of strided logits, targets and weights.
    bufs: &'k mut [Vec<T>; 3],
    r0: usize,
    r1: usize,
    /// The upstream factor for `Mean` / `Sum` (None: no gradient).
    g0: Option<T>,
    loss: Option<MatMut<'a, T>>,
    grad: Option<MatMut<'a, T>>,
}

impl<T: Float> Kernel for BceBlock<'_, '_, T> {
    type Out = f64;
    #[inline(always)]
    fn run<M: Math>(mut self) -> f64 {
        let k = self.k;
        let [xb, tb, wb] = &mut *self.bufs;
        let c = k.logits.cols();
        let red = k.opts.reduction;
        let mut acc = [0.0_f64; 8];
        let mut e = [T::ZERO; CHUNK];
        let mut lbuf = [T::ZERO; CHUNK];
        let mut gbuf = [T::ZERO; CHUNK];
        // without weights these stay all ones
        let (mut pa, mut wa) = ([T::ONE; CHUNK], [T::ONE; CHUNK]);
        let (mut xa, mut ta) = ([T::ZERO; CHUNK], [T::ZERO; CHUNK]);
        for i in self.r0..self.r1 {
            let x = row_of(&k.logits, i, xb);
            let t = row_of(&k.targets, i, tb);
            let w = k.opts.weight.as_ref().map(|w| row_of(w, i, wb));
            for j0 in (0..c).step_by(CHUNK) {
                let len = CHUNK.min(c - j0);
                let (xs, ts) = (&x[j0..j0 + len], &t[j0..j0 + len]);
                for (o, &v) in e.iter_mut().zip(xs) {
                    *o = -v.abs();
                }
                M::map_inplace(ExpNonPos, &mut e[..len]);
                // the chunk's operands in fixed-size arrays (made once per block), so the loop
                // below has no bounds checks or branches and vectorizes
                if let Some(p) = k.opts.pos_weight {
                    pa[..len].copy_from_slice(&p[j0..j0 + len]);
                }
                if let Some(w) = w {
                    wa[..len].copy_from_slice(&w[j0..j0 + len]);
                }
                xa[..len].copy_from_slice(xs);
                ta[..len].copy_from_slice(ts);
                for j in 0..len {
                    let (l, d) = element(xa[j], ta[j], pa[j], e[j]);
                    lbuf[j] = wa[j] * l;
                    gbuf[j] = wa[j] * d;
                }
                for (j, &l) in lbuf[..len].iter().enumerate() {
                    acc[j % 8] += l.to_f64();
                }
                let r = i - self.r0;
                if let Some(lm) = self.loss.as_mut() {
                    lm.row_mut(r)[j0..j0 + len].copy_from_slice(&lbuf[..len]);
                }
                if let (Some(gm), Some(g0)) = (self.grad.as_mut(), self.g0) {
                    let out = &mut gm.row_mut(r)[j0..j0 + len];
                    match red {
                        Reduction::None => {
                            let up = &k.dloss.expect("given with a gradient")[i * c + j0..][..len];
                            for ((o, &gv), &u) in out.iter_mut().zip(&gbuf[..len]).zip(up) {
                                *o = u * gv;
                            }
                        }
                        _ => {
                            for (o, &gv) in out.iter_mut().zip(&gbuf[..len]) {
                                *o = g0 * gv;
                            }
                        }
                    }
                }
            }
        }
        // the 8 partial sums in a fixed order
        acc.iter().sum()
    }
}

/// Binary cross-entropy on logits: ℓ_nk = w_nk·[p_k·t_nk·softplus(−x_nk) + (1−t_nk)·softplus(x_nk)],
/// reduced — that is −w·[p·t·ln σ(x) + (1−t)·ln(1−σ(x))] without forming σ(x).
///
/// softplus(x) = ln(1+eˣ) is evaluated as max(x, 0) + ln(1 + e^(−|x|)): no overflow for any
/// finite logit (±3e38 included) and no cancellation: e^(−|x|) runs in one vector pass per
/// chunk of a row and ln(1 + e) is an atanh series (≤ 3 ulp), so each element is accurate to a few
/// ULPs. Shapes: logits and targets N×C (any views; targets are probabilities, usually 0 or
/// 1, used as given, as PyTorch does); [`BceOptions`] `weight` N×C and `pos_weight` C; loss
/// N·C values (row-major) for `Reduction::None`, else 1. `Mean` divides by N·C (NaN when it
/// is 0, as PyTorch). Sums run in f64 in a fixed order: the result does not depend on the
/// thread count.
///
/// Non-finite values: NaN anywhere in an element gives NaN for it. An infinite logit gives
/// the limit: x = +∞ costs (1−t)·∞ and x = −∞ costs p·t·∞, with 0·∞ = 0, so a confident
/// correct prediction (x = +∞, t = 1) costs 0. PyTorch gives NaN there (it computes
/// (1−t)·x − …, and 0·∞ is NaN); this is the one documented difference. A loss beyond the
/// type's range is +∞, never NaN.
///
/// # Errors
///
/// [`ErrorKind::Shape`](crate::ErrorKind::Shape) naming `targets` or `weight` if not N×C;
/// [`ErrorKind::Length`](crate::ErrorKind::Length) naming `pos_weight` (≠ C) or `loss`.
///
/// # Example
///
/// ```
/// use nnkern::{BceOptions, MatRef, Reduction, bce_with_logits_forward};
///
/// let x = [0.0_f64, 2.0];
/// let t = [1.0_f64, 0.0];
/// let mut loss = [0.0; 2];
/// let opts = BceOptions::default().reduction(Reduction::None);
/// bce_with_logits_forward(
///     MatRef::from_row_major(&x, 1, 2)?,
///     MatRef::from_row_major(&t, 1, 2)?,
///     &opts,
///     &mut loss,
/// )?;
/// assert!((loss[0] - 2.0_f64.ln()).abs() < 1e-15); // −ln σ(0)
/// assert!((loss[1] - (1.0 + 2.0_f64.exp()).ln()).abs() < 1e-15); // softplus(2)
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn bce_with_logits_forward<T: Float>(
    logits: MatRef<'_, T>,
    targets: MatRef<'_, T>,
    opts: &BceOptions<'_, T>,
    loss: &mut [T],
) -> Result<()> {
    let k = Bce {
        logits,
        targets,
        opts: *opts,
        dloss: None,
    };
    const OP: &str = "bce_with_logits_forward";
    k.check(OP, Some(loss), None)?;
    k.run(OP, Some(loss), None)
}

/// The gradient of [`bce_with_logits_forward`]:
/// dx_nk = g_nk·w_nk·[(1−t_nk)·σ(x_nk) − p_k·t_nk·σ(−x_nk)] (= g·w·(σ(x) − t) without
/// `pos_weight`).
///
/// g_nk is `dloss[n·C + k]` (`None`), `dloss[0]` (`Sum`) or `dloss[0]/(N·C)` (`Mean`). Both
/// σ(x) and σ(−x) come from e^(−|x|), so the gradient is accurate for every logit and finite
/// for infinite ones. Shapes as the forward; dlogits N×C with unit column stride,
/// overwritten; dloss as the forward's loss.
///
/// # Errors
///
/// As [`bce_with_logits_forward`], naming `dloss` for its length, plus
/// [`ErrorKind::Shape`](crate::ErrorKind::Shape)/[`ErrorKind::Stride`](crate::ErrorKind::Stride)
/// naming `dlogits`.
///
/// # Example
///
/// ```
/// use nnkern::{BceOptions, MatMut, MatRef, bce_with_logits_backward};
///
/// let x = [0.0_f32, 0.0];
/// let t = [1.0_f32, 0.0];
/// let mut dx = [f32::NAN; 2];
/// bce_with_logits_backward(
///     MatRef::from_row_major(&x, 1, 2)?,
///     MatRef::from_row_major(&t, 1, 2)?,
///     &BceOptions::default(), // Mean over 2 elements
///     &[1.0],
///     MatMut::from_row_major(&mut dx, 1, 2)?,
/// )?;
/// assert_eq!(dx, [-0.25, 0.25]); // (σ(0) − t) / 2
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn bce_with_logits_backward<T: Float>(
    logits: MatRef<'_, T>,
    targets: MatRef<'_, T>,
    opts: &BceOptions<'_, T>,
    dloss: &[T],
    dlogits: MatMut<'_, T>,
) -> Result<()> {
    let k = Bce {
        logits,
        targets,
        opts: *opts,
        dloss: Some(dloss),
    };
    const OP: &str = "bce_with_logits_backward";
    k.check(OP, None, Some(&dlogits))?;
    k.run(OP, None, Some(dlogits))
}

/// Forward and backward of [`bce_with_logits_forward`] in one pass: each logit is read once,
/// e^(−|x|) computed once for the loss and the gradient.
///
/// Writes the loss as the forward does and the gradient as [`bce_with_logits_backward`]
/// does with upstream gradient `dloss` (pass `&[1.0]` for a loss that is the objective).
///
/// # Errors
///
/// As [`bce_with_logits_forward`] and [`bce_with_logits_backward`].
///
/// # Example
///
/// ```
/// use nnkern::{BceOptions, MatMut, MatRef, Reduction, bce_with_logits};
///
/// let x = [3.0e38_f32, -3.0e38]; // far beyond e^x's range
/// let t = [0.0_f32, 0.0];
/// let (mut loss, mut dx) = ([0.0_f32], [0.0_f32; 2]);
/// let opts = BceOptions::default().reduction(Reduction::Sum);
/// bce_with_logits(
///     MatRef::from_row_major(&x, 1, 2)?,
///     MatRef::from_row_major(&t, 1, 2)?,
///     &opts,
///     &[1.0],
///     &mut loss,
///     MatMut::from_row_major(&mut dx, 1, 2)?,
/// )?;
/// assert_eq!(loss, [3.0e38]); // softplus(3e38) + softplus(−3e38)
/// assert_eq!(dx, [1.0, 0.0]); // σ(x) − t
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn bce_with_logits<T: Float>(
    logits: MatRef<'_, T>,
    targets: MatRef<'_, T>,
    opts: &BceOptions<'_, T>,
    dloss: &[T],
    loss: &mut [T],
    dlogits: MatMut<'_, T>,
) -> Result<()> {
    let k = Bce {
        logits,
        targets,
        opts: *opts,
        dloss: Some(dloss),
    };
    const OP: &str = "bce_with_logits";
    k.check(OP, Some(loss), Some(&dlogits))?;
    k.run(OP, Some(loss), Some(dlogits))
}
