//! Cross-entropy on probabilities (the book's layer), forward and backward, on the SIMD path:
//! each row's −Σ t·ln p through the vector logarithm, summed in 16 interleaved partials.

use super::{Targets, check_loss_len, check_targets, reduce_blocks, row_scale};
use crate::error::Result;
use crate::mat::{MatMut, MatRef};
use crate::ops::KernelFloat;
use crate::ops::{
    Reduction, RowCopies, check_has_cols, check_rows_contiguous, check_shape, copy_len, dims, dims_mut,
    row_of,
};
use crate::par::{Cost, block_count};
use crate::simd::{self, BinaryOp, Isa, Kernel, Math, dispatch, lane::Lane, math};

/// −t·ln p with 0·ln 0 = 0: a zero target contributes nothing, whatever p is (a NaN target
/// stays NaN: it is returned as it is, as a zero target is, a ±0 that adds nothing).
#[derive(Clone, Copy, Debug)]
struct NegXLogY;

impl NegXLogY {
    /// t·v where t ≠ 0, else t (±0, or NaN).
    #[inline(always)]
    fn times<T: KernelFloat, L: Lane<E = T>>(t: L, v: L) -> L {
        L::sel_gt(t.vabs(), L::splat(t.token(), T::ZERO), t * v, t)
    }
}

impl<T: KernelFloat> BinaryOp<T> for NegXLogY {
    // (runs inside the forward's rows, which carry their own cost)
    const COST: Cost = Cost::elem(1830);
    const GUARDED: bool = true;
    #[inline(always)]
    fn apply<L: Lane<E = T>>(self, t: L, p: L) -> L {
        Self::times(t, -math::ln(p))
    }
    /// −ln p straight from the division-free body on positive normal p (the bits of
    /// −`ln`, negated exactly).
    #[inline(always)]
    fn apply_fast<L: Lane<E = T>>(self, t: L, p: L) -> L {
        Self::times(t, math::ln_normal::<L, true>(p))
    }
    #[inline(always)]
    fn fast_range(self) -> (T, T) {
        math::pos_normal()
    }
}

/// dp = −g·t/p over a run of elements, 0 where t = 0 (also where p = 0): branch-free, so the
/// SIMD paths vectorize it.
#[inline(always)]
fn neg_t_over_p<T: KernelFloat>(out: &mut [T], t: &[T], p: &[T], g: T) {
    for ((o, &t), &p) in out.iter_mut().zip(t).zip(p) {
        let v = -(g * t) / p;
        *o = if t == T::ZERO { T::ZERO } else { v };
    }
}

/// Rows r0..r1 of the forward; returns their loss sum (f64) and writes each row's loss into
/// `ls` unless it is empty. Rows of fewer than 16 probabilities, dense, go through the
/// logarithm a group of rows at a time (one vector pass over up to 256 elements), each row
/// then summed in order: the order of [`simd::map2_sum`] on one row, and its values on the
/// paths with FMA (see there for the others).
struct ForwardBlock<'a, 'b, T> {
    probs: MatRef<'a, T>,
    targets: Targets<'a, T>,
    r0: usize,
    r1: usize,
    ls: &'b mut [T],
    bufs: &'b mut [Vec<T>; 2],
}

impl<T: KernelFloat> Kernel for ForwardBlock<'_, '_, T> {
    type Out = f64;
    #[inline(always)]
    fn run<M: Math>(self) -> f64 {
        let c = self.probs.cols();
        if let (Targets::Probs(q), Some(pf), true) = (self.targets, self.probs.as_flat(), c < simd::ACC)
            && let Some(qf) = q.as_flat()
        {
            return self.short_rows::<M>(c, pf, qf);
        }
        let [pbuf, tbuf] = self.bufs;
        let mut acc = 0.0_f64;
        for (k, i) in (self.r0..self.r1).enumerate() {
            let l = match self.targets {
                Targets::Classes(t) => -self.probs.at(i, t[i]).ln(),
                Targets::Probs(_) => {
                    let p = row_of(&self.probs, i, pbuf);
                    simd::map2_sum::<M, T, _>(NegXLogY, self.targets.prob_row(i, tbuf), p)
                }
            };
            if let Some(o) = self.ls.get_mut(k) {
                *o = l;
            }
            acc += l.to_f64();
        }
        acc
    }
}

/// [`cross_entropy_forward`](crate::cross_entropy_forward)'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn cross_entropy_forward_impl<T: KernelFloat>(
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
    // strided rows are copied, into scratch reserved before any output is written
    let len = match targets {
        Targets::Probs(q) => copy_len(&probs).max(copy_len(&q)),
        Targets::Classes(_) => 0,
    };
    // measured by `cost_per_element` (`ce_probs_fwd`, `ce_labels_fwd`)
    let g = match targets {
        Targets::Probs(_) => Cost::new(1830, 2_200),
        Targets::Classes(_) => Cost::new(10, 7_700),
    }
    .of::<T>();
    let copies = RowCopies::<T, 2>::new(OP, len, block_count(n, c, g))?;
    let path = Isa::current();
    let block = |r0: usize, r1: usize, ls: &mut [T], _: ()| {
        copies.with(|bufs| {
            let k = ForwardBlock {
                probs,
                targets,
                r0,
                r1,
                ls,
                bufs,
            };
            dispatch(path, k)
        })
    };
    reduce_blocks(n, c, g, reduction, n as f64, loss, (), &block);
    Ok(())
}

/// [`cross_entropy_backward`](crate::cross_entropy_backward)'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn cross_entropy_backward_impl<T: KernelFloat>(
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
    let path = Isa::current();
    // measured by `cost_per_element` (`ce_probs_bwd`, `ce_labels_bwd`)
    let g = match targets {
        Targets::Probs(_) => Cost::new(395, 200),
        Targets::Classes(_) => Cost::new(120, 5_800),
    }
    .of::<T>();
    crate::par::for_each_row_block(dprobs, g, &|r0, blk: MatMut<'_, T>| {
        let k = BackwardBlock {
            probs,
            targets,
            reduction,
            dloss,
            denom,
            r0,
            blk,
        };
        dispatch(path, k)
    });
    Ok(())
}

impl<T: KernelFloat> ForwardBlock<'_, '_, T> {
    /// The forward over dense rows of `c` < 16 columns (`pf`, `qf`: the whole matrices).
    #[inline(always)]
    fn short_rows<M: Math>(self, c: usize, pf: &[T], qf: &[T]) -> f64 {
        const GROUP: usize = 256;
        let per = (GROUP / c).max(1);
        let mut buf = [T::ZERO; GROUP];
        let mut acc = 0.0_f64;
        for g0 in (self.r0..self.r1).step_by(per) {
            let g1 = (g0 + per).min(self.r1);
            let (t, p) = (&qf[g0 * c..g1 * c], &pf[g0 * c..g1 * c]);
            let out = &mut buf[..t.len()];
            M::map2(NegXLogY, t, p, out);
            for (k, row) in out.chunks(c).enumerate() {
                let l = row.iter().fold(T::ZERO, |s, &v| s + v);
                if let Some(o) = self.ls.get_mut(g0 - self.r0 + k) {
                    *o = l;
                }
                acc += l.to_f64();
            }
        }
        acc
    }
}

/// Rows r0.. of the backward (one branch-free pass per row, vectorized on the SIMD paths).
struct BackwardBlock<'a, T> {
    probs: MatRef<'a, T>,
    targets: Targets<'a, T>,
    reduction: Reduction,
    dloss: &'a [T],
    denom: T,
    r0: usize,
    blk: MatMut<'a, T>,
}

impl<T: KernelFloat> Kernel for BackwardBlock<'_, T> {
    type Out = ();
    #[inline(always)]
    fn run<M: Math>(mut self) {
        // one flat pass where the upstream gradient is one value and every row is dense
        let rows = self.blk.rows();
        if let (Targets::Probs(q), false) = (self.targets, self.reduction == Reduction::None) {
            let g = row_scale(self.reduction, self.dloss, self.denom, 0);
            let cols = self.blk.cols();
            let span = self.r0 * cols..(self.r0 + rows) * cols;
            if let (Some(pf), Some(qf), Some(out)) =
                (self.probs.as_flat(), q.as_flat(), self.blk.as_flat_mut())
            {
                neg_t_over_p(out, &qf[span.clone()], &pf[span], g);
                return;
            }
        }
        let (mut pbuf, mut tbuf) = (Vec::new(), Vec::new());
        for r in 0..self.blk.rows() {
            let i = self.r0 + r;
            let g = row_scale(self.reduction, self.dloss, self.denom, i);
            let out = self.blk.row_mut(r);
            match self.targets {
                Targets::Classes(l) => {
                    out.fill(T::ZERO);
                    out[l[i]] = -g / self.probs.at(i, l[i]);
                }
                Targets::Probs(_) => {
                    let p = row_of(&self.probs, i, &mut pbuf);
                    neg_t_over_p(out, self.targets.prob_row(i, &mut tbuf), p, g);
                }
            }
        }
    }
}
