//! Binary cross-entropy on logits, with the sigmoid fused: forward, backward, and both in one
//! pass.

use crate::error::Result;
use crate::mat::{MatMut, MatRef};
use crate::ops::KernelFloat;
use crate::ops::{
    Reduction, RowCopies, check_len, check_rows_contiguous, check_shape, copy_len, dims, dims_mut, row_of,
};
use crate::par::{Cost, block_count, map_blocks};
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
fn element<T: KernelFloat>(x: T, t: T, p: T, e: T) -> (T, T) {
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

/// Elements per segment: e^(−|x|) of a segment in one vector pass, then the rest. A segment
/// is part of a row, or, where every operand is dense, crosses rows.
const CHUNK: usize = 64;

/// The column after `col` in a row of `c`, wrapping to 0 (a segment's elements are
/// consecutive in row-major order). A compare: a cycling iterator measured slower at
/// 1024×1000.
#[inline(always)]
fn next_col(col: usize, c: usize) -> usize {
    if col + 1 == c { 0 } else { col + 1 }
}

/// What one call computes: the loss, the gradient, or both.
struct Bce<'a, T> {
    logits: MatRef<'a, T>,
    targets: MatRef<'a, T>,
    opts: BceOptions<'a, T>,
    dloss: Option<&'a [T]>,
}

impl<T: KernelFloat> Bce<'_, T> {
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
        // measured by `cost_per_element` (`bce_fused`; the forward alone, `bce_fwd`, within
        // 6%): one cost for every pass, so that the forward's and the fused pass's loss sums
        // add the same blocks and agree bit for bit
        let g = Cost::new(5570, 700).of::<T>();
        let copies = RowCopies::<T, 3>::new(op, copy, block_count(n, c, g))?;
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
            g,
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

/// The stack arrays of one block: a segment's operands in fixed-size arrays (so the element
/// loop has no bounds checks or branches and vectorizes), its results, and the 8 partial sums.
struct Scratch<T> {
    x: [T; CHUNK],
    t: [T; CHUNK],
    /// pos_weight per element (all ones without it).
    p: [T; CHUNK],
    /// weight per element (all ones without it).
    w: [T; CHUNK],
    e: [T; CHUNK],
    loss: [T; CHUNK],
    grad: [T; CHUNK],
    /// Element (i, j) is added to partial j mod 8, rows in order: the same order whether a
    /// block runs as rows or as one flat run, so the layout does not change the sum.
    acc: [f64; 8],
}

/// One segment of at most [`CHUNK`] consecutive elements of a block.
struct Segment<'s, T> {
    x: &'s [T],
    t: &'s [T],
    w: Option<&'s [T]>,
    /// The column of the first element; the segment wraps to column 0 after column C − 1.
    col0: usize,
    loss: Option<&'s mut [T]>,
    grad: Option<&'s mut [T]>,
    /// The upstream gradient per element (`Reduction::None`).
    up: Option<&'s [T]>,
}

impl<T: KernelFloat> Scratch<T> {
    /// The losses and gradients of one segment of call `k` (`g0` as [`BceBlock::g0`]):
    /// e^(−|x|) as a vector pass, then the element formula over the fixed-size arrays.
    #[inline(always)]
    fn segment<M: Math>(&mut self, k: &Bce<'_, T>, g0: Option<T>, seg: Segment<'_, T>) {
        let s = self;
        let c = k.logits.cols();
        let len = seg.x.len();
        for (o, &v) in s.e.iter_mut().zip(seg.x) {
            *o = -v.abs();
        }
        M::map_inplace(ExpNonPos, &mut s.e[..len]);
        if let Some(p) = k.opts.pos_weight {
            let mut col = seg.col0;
            for o in &mut s.p[..len] {
                *o = p[col];
                col = next_col(col, c);
            }
        }
        if let Some(w) = seg.w {
            s.w[..len].copy_from_slice(w);
        }
        s.x[..len].copy_from_slice(seg.x);
        s.t[..len].copy_from_slice(seg.t);
        for j in 0..len {
            let (l, d) = element(s.x[j], s.t[j], s.p[j], s.e[j]);
            s.loss[j] = s.w[j] * l;
            s.grad[j] = s.w[j] * d;
        }
        let mut col = seg.col0;
        for &l in &s.loss[..len] {
            s.acc[col % 8] += l.to_f64();
            col = next_col(col, c);
        }
        if let Some(out) = seg.loss {
            out.copy_from_slice(&s.loss[..len]);
        }
        if let (Some(out), Some(g0)) = (seg.grad, g0) {
            match seg.up {
                Some(up) => {
                    for ((o, &gv), &u) in out.iter_mut().zip(&s.grad[..len]).zip(up) {
                        *o = u * gv;
                    }
                }
                None => {
                    for (o, &gv) in out.iter_mut().zip(&s.grad[..len]) {
                        *o = g0 * gv;
                    }
                }
            }
        }
    }
}

impl<'a, T: KernelFloat> Kernel for BceBlock<'a, '_, T> {
    type Out = f64;
    #[inline(always)]
    fn run<M: Math>(mut self) -> f64 {
        let k = self.k;
        let c = k.logits.cols();
        let (r0, r1) = (self.r0, self.r1);
        let none = k.opts.reduction == Reduction::None;
        // without weights these stay all ones
        let mut s = Scratch {
            x: [T::ZERO; CHUNK],
            t: [T::ZERO; CHUNK],
            p: [T::ONE; CHUNK],
            w: [T::ONE; CHUNK],
            e: [T::ZERO; CHUNK],
            loss: [T::ZERO; CHUNK],
            grad: [T::ZERO; CHUNK],
            acc: [0.0; 8],
        };
        // dense operands and outputs: the block as one flat run, segments crossing rows (no
        // short partial vectors at each row's end); otherwise row by row
        let flat = |m: &MatRef<'a, T>| -> Option<&'a [T]> { m.subrows(r0, r1).and_then(|v| v.as_flat()) };
        let (xf, tf) = (flat(&k.logits), flat(&k.targets));
        let wf = k.opts.weight.as_ref().map(flat);
        let mut loss = self.loss.take();
        let mut grad = self.grad.take();
        let dense_out = |m: &mut Option<MatMut<'_, T>>| m.as_mut().is_none_or(|m| m.as_flat_mut().is_some());
        let dense_w = wf.is_none_or(|w| w.is_some());
        if let (Some(x), Some(t), true, true, true) =
            (xf, tf, dense_w, dense_out(&mut loss), dense_out(&mut grad))
        {
            let w = wf.flatten();
            let mut lflat = loss.as_mut().and_then(|m| m.as_flat_mut());
            let mut gflat = grad.as_mut().and_then(|m| m.as_flat_mut());
            let total = x.len();
            for f0 in (0..total).step_by(CHUNK) {
                let f1 = (f0 + CHUNK).min(total);
                let seg = Segment {
                    x: &x[f0..f1],
                    t: &t[f0..f1],
                    w: w.map(|w| &w[f0..f1]),
                    col0: f0 % c,
                    loss: lflat.as_deref_mut().map(|l| &mut l[f0..f1]),
                    grad: gflat.as_deref_mut().map(|g| &mut g[f0..f1]),
                    up: k.dloss.filter(|_| none).map(|d| &d[r0 * c + f0..r0 * c + f1]),
                };
                s.segment::<M>(k, self.g0, seg);
            }
            return s.acc.iter().sum();
        }
        let [xb, tb, wb] = &mut *self.bufs;
        for i in r0..r1 {
            let x = row_of(&k.logits, i, xb);
            let t = row_of(&k.targets, i, tb);
            let w = k.opts.weight.as_ref().map(|w| row_of(w, i, wb));
            for j0 in (0..c).step_by(CHUNK) {
                let j1 = (j0 + CHUNK).min(c);
                let seg = Segment {
                    x: &x[j0..j1],
                    t: &t[j0..j1],
                    w: w.map(|w| &w[j0..j1]),
                    col0: j0,
                    loss: loss.as_mut().map(|m| &mut m.row_mut(i - r0)[j0..j1]),
                    grad: grad.as_mut().map(|m| &mut m.row_mut(i - r0)[j0..j1]),
                    up: k.dloss.filter(|_| none).map(|d| &d[i * c + j0..i * c + j1]),
                };
                s.segment::<M>(k, self.g0, seg);
            }
        }
        // the 8 partial sums in a fixed order
        s.acc.iter().sum()
    }
}

/// [`bce_with_logits_forward`](crate::bce_with_logits_forward)'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn bce_with_logits_forward_impl<T: KernelFloat>(
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

/// [`bce_with_logits_backward`](crate::bce_with_logits_backward)'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn bce_with_logits_backward_impl<T: KernelFloat>(
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

/// [`bce_with_logits`](crate::bce_with_logits)'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn bce_with_logits_impl<T: KernelFloat>(
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
