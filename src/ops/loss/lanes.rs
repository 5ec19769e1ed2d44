//! The lane-per-row engine of the softmax-cross-entropy: rows of at most 16 classes, with
//! class-index or probability targets, [`LANES`] rows at a time with a vector lane per row
//! (also the fused training step's loss, `mean_lane_group`).

use super::Targets;
use super::row_scale;
use super::softmax_ce::{Plan, mulz};
use crate::mat::{MatMut, MatRef};
use crate::ops::KernelFloat;
use crate::ops::Reduction;
use crate::simd::{Exp, ExpNonPos, Internal, Kernel, LANES, Math, unrolled};

/// Rows of at most this many classes (logits of unit column stride) take the lane-per-row
/// kernel, [`LaneRows`].
const LANE_COLS: usize = 16;

/// Rows r0..r0 + rows of at most [`LANE_COLS`] classes (logits of unit column stride; the
/// targets labels or probabilities of any layout): the loss, and the gradient (fused) or the
/// log-sum-exp (forward), a vector lane per row.
pub(super) struct LaneRows<'a, 'p, T> {
    pub(super) p: &'p Plan<'p, T>,
    pub(super) logits: MatRef<'a, T>,
    pub(super) targets: Targets<'a, T>,
    pub(super) dloss: &'a [T],
    pub(super) r0: usize,
    pub(super) rows: usize,
    /// The gradient's rows (the fused kernel), or none (the forward).
    pub(super) d: Option<MatMut<'a, T>>,
    /// Per-row losses (`Reduction::None`), else empty.
    pub(super) ls: &'a mut [T],
    /// Per-row log-sum-exp (the forward, when asked), else empty.
    pub(super) lse: &'a mut [T],
    /// The saved per-row log-sum-exp of the split backward (then `d` is the gradient and
    /// there is no loss), else `None`.
    pub(super) saved: Option<&'a [T]>,
}

/// Whether the lane-per-row kernel takes these rows.
pub(super) fn lane_rows<T: KernelFloat>(logits: &MatRef<'_, T>) -> bool {
    logits.cols() <= LANE_COLS && logits.unit_col_stride()
}

impl<T: KernelFloat> Kernel for LaneRows<'_, '_, T> {
    type Out = f64;
    #[inline(always)]
    fn run<M: Math>(self) -> f64 {
        match self.logits.cols() {
            1 => self.lanes::<M, 1>(),
            2 => self.lanes::<M, 2>(),
            3 => self.lanes::<M, 3>(),
            4 => self.lanes::<M, 4>(),
            5..=8 => self.lanes::<M, 8>(),
            9 | 11 | 12 => self.lanes::<M, 12>(),
            10 => self.lanes::<M, 10>(),
            _ => self.lanes::<M, 16>(),
        }
    }
}

impl<T: KernelFloat> LaneRows<'_, '_, T> {
    /// The loss and the gradient or log-sum-exp of rows of C ≤ [`LANE_COLS`] classes,
    /// [`LANES`] rows at a time with a vector lane per row: the group's logits (and
    /// probability targets) transposed into a column-major buffer of `W` ≥ C columns, then
    /// every per-row step (maximum, exponentials, rest, ln(1 + rest), the target terms, the
    /// gradient) is one vector operation per column, and the gradient is transposed back.
    /// `W` is a constant (1–4, 8, 10, 12 or 16: ten classes, a common count, get their own),
    /// so that the compiler keeps each column a vector; the columns past C hold −∞ logits,
    /// whose exponential is 0 and which are never the maximum of a row with a finite one,
    /// and zero target coefficients. The last group is padded with zero rows, so each row's
    /// arithmetic is the same wherever it lies. A whole group of contiguous rows moves in and
    /// out by the path's transposes ([`Math::rows_to_lanes`]) where it has them.
    #[inline(always)]
    #[allow(clippy::needless_range_loop)] // lane k indexes every column array alike
    fn lanes<M: Math, const W: usize>(mut self) -> f64 {
        let p = self.p;
        let (rows, c) = (self.rows, self.logits.cols());
        // column j of the group in x[j] (lane k: row g0 + k); e and a likewise
        let mut x = [[T::NEG_INFINITY; LANES]; W];
        let mut e = [[T::ZERO; LANES]; W];
        // probability targets: the coefficients of `prob_coefs`, 0 past C
        let mut a = [[T::ZERO; LANES]; W];
        let uniform_g = match p.red {
            _ if self.d.is_none() => Some(T::ZERO),
            Reduction::None => None,
            red => Some(row_scale(red, self.dloss, p.denom, 0)),
        };
        let mut acc = 0.0_f64;
        for g0 in (0..rows).step_by(LANES) {
            let n = LANES.min(rows - g0);
            let i0 = self.r0 + g0;
            to_lanes::<T, M, W>(&self.logits, i0, n, &mut x);
            // per row: the upstream factor and the label (ignored rows and padding: t = MAX,
            // masked in the group's math; probability targets ignore no row)
            let mut t = [usize::MAX; LANES];
            let mut g = [T::ZERO; LANES];
            for k in 0..n {
                let i = i0 + k;
                if let Targets::Classes(labels) = self.targets {
                    if p.ignore == Some(labels[i]) {
                        continue;
                    }
                    t[k] = labels[i];
                }
                g[k] = uniform_g.unwrap_or_else(|| self.dloss[i]);
            }
            let mut sl = [T::ZERO; LANES];
            if let Some(saved) = self.saved {
                sl[..n].copy_from_slice(&saved[i0..i0 + n]);
            }
            let (l, lse) = match (self.targets, self.saved) {
                (Targets::Classes(_), None) => {
                    lane_group::<T, M, W>(p, n, &x, &t, &g, &mut e, self.d.is_some())
                }
                (Targets::Classes(_), Some(_)) => {
                    lane_backward::<T, M, W>(p, &x, &t, &g, &sl, &mut e);
                    ([T::ZERO; LANES], [T::ZERO; LANES])
                }
                (Targets::Probs(q), saved) => {
                    to_lanes::<T, M, W>(&q, i0, n, &mut a);
                    prob_coefs(p, &mut a);
                    if saved.is_none() {
                        prob_group::<T, M, W>(&x, &a, &g, &mut e, self.d.is_some())
                    } else {
                        saved_exps::<T, M, W>(&x, &sl, &mut e);
                        prob_grad(&a, &g, &coef_sum(&a), &mut e);
                        ([T::ZERO; LANES], [T::ZERO; LANES])
                    }
                }
            };
            // (the split backward has no loss and no log-sum-exp to write)
            if self.saved.is_none() {
                let mut group_sum = 0.0_f64;
                for k in 0..n {
                    if let Some(o) = self.ls.get_mut(g0 + k) {
                        *o = l[k];
                    }
                    group_sum += l[k].to_f64();
                }
                acc += group_sum;
                for k in 0..n {
                    if let Some(o) = self.lse.get_mut(g0 + k) {
                        *o = lse[k];
                    }
                }
            }
            let Some(d) = self.d.as_mut() else {
                continue;
            };
            let whole = n == LANES
                && d.as_flat_mut()
                    .and_then(|f| f.get_mut(g0 * c..(g0 + LANES) * c))
                    .is_some_and(|s| M::lanes_to_rows(&e, c, s));
            if !whole {
                for k in 0..n {
                    let d = d.row_mut(g0 + k);
                    unrolled!(W, |j| {
                        if j < c {
                            d[j] = e[j][k];
                        }
                    });
                }
            }
        }
        acc
    }
}

/// One group of [`LANES`] rows in lane layout (lane k: row k of the group; `x[j]` column j,
/// −∞ past C): returns each lane's loss and log-sum-exp, and leaves in `e` the gradient
/// g·(p_c·A − (ε/C)·w_c − [c = t]·(1−ε)·w_t) when `grad` (else the exponentials). `t[k]` is
/// the lane's label, `usize::MAX` for an ignored or padding row (loss and gradient 0);
/// `g[k]` its upstream factor. The loss of a row whose maximum is not finite is NaN
/// (weighted), as in `row_loss`; `n` is how many lanes hold rows.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // lane k indexes every column array alike
fn lane_group<T: KernelFloat, M: Math, const W: usize>(
    p: &Plan<'_, T>,
    n: usize,
    x: &[[T; LANES]; W],
    t: &[usize; LANES],
    g: &[T; LANES],
    e: &mut [[T; LANES]; W],
    grad: bool,
) -> ([T; LANES], [T; LANES]) {
    let c = p.c;
    let (m, l1, inv) = lane_lse::<T, M, W>(x, e);
    // the label's logit, weight and float form
    let (tf, w_t) = lane_labels(p, t);
    // (a select per column, not an indexed load per lane: the lanes stay in vectors)
    let mut s_t = [T::ZERO; LANES];
    unrolled!(W, |j| {
        let jf = T::from_usize(j);
        for k in 0..LANES {
            s_t[k] = if tf[k] == jf { x[j][k] } else { s_t[k] };
        }
    });
    // the loss (−log p_t = (m − s_t) + ln(1 + rest), weighted; NaN for a row with a
    // non-finite maximum) and the gradient's coefficients, a lane per row
    let (mut kw, mut a, mut l, mut lse) = (
        [T::ZERO; LANES],
        [T::ZERO; LANES],
        [T::ZERO; LANES],
        [T::ZERO; LANES],
    );
    for k in 0..LANES {
        kw[k] = p.keep * w_t[k];
        a[k] = (kw[k] + p.spread * p.w_all) * inv[k];
        let nlp = (m[k] - s_t[k]) + l1[k];
        let lk = if m[k].is_nan() { T::NAN } else { mulz(kw[k], nlp) };
        l[k] = if tf[k] < T::ZERO { T::ZERO } else { lk };
        lse[k] = m[k] + l1[k];
    }
    if p.spread != T::ZERO {
        for k in 0..n {
            if t[k] != usize::MAX && !m[k].is_nan() {
                let nlp = |j: usize| (m[k] - x[j][k]) + l1[k];
                let smooth: T = (0..c).map(|j| mulz(p.w(j), nlp(j))).sum();
                l[k] += p.spread * smooth;
            }
        }
    }
    if grad {
        // (a row with a non-finite maximum has rest = NaN, so A = NaN and a NaN gradient)
        lane_grad::<T, W>(p, &tf, g, &kw, &a, e);
    }
    (l, lse)
}

/// The log-sum-exp statistics of a lane group (lane layout as [`lane_group`]): per lane
/// the maximum m (NaN where it is not finite: the whole row is then NaN), l1 = ln(1 + rest)
/// and 1/(1 + rest), where rest sums the exponentials e^(x − m) other than one maximum's;
/// those exponentials are left in `e`.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // lane k indexes every column array alike
fn lane_lse<T: KernelFloat, M: Math, const W: usize>(
    x: &[[T; LANES]; W],
    e: &mut [[T; LANES]; W],
) -> ([T; LANES], [T; LANES], [T; LANES]) {
    let mut m = [T::NEG_INFINITY; LANES];
    unrolled!(W, |j| {
        for k in 0..LANES {
            m[k] = if x[j][k] > m[k] { x[j][k] } else { m[k] };
        }
    });
    for v in m.iter_mut() {
        *v = if v.is_finite() { *v } else { T::NAN };
    }
    unrolled!(W, |j| {
        for k in 0..LANES {
            e[j][k] = x[j][k] - m[k];
        }
    });
    M::map_inplace(ExpNonPos, e.as_flattened_mut());
    // rest = Σ of the terms other than the maximum's, + 1 per repeated maximum
    let (mut rest, mut tops) = ([T::ZERO; LANES], [T::ZERO; LANES]);
    unrolled!(W, |j| {
        for k in 0..LANES {
            let top = x[j][k] == m[k];
            rest[k] += if top { T::ZERO } else { e[j][k] };
            tops[k] += if top { T::ONE } else { T::ZERO };
        }
    });
    let mut l1 = [T::ZERO; LANES];
    let mut inv = [T::ZERO; LANES];
    for k in 0..LANES {
        rest[k] += tops[k] - T::ONE;
        l1[k] = rest[k];
        inv[k] = T::ONE / (T::ONE + rest[k]);
    }
    T::ln_1p_lanes(Internal, &mut l1);
    (m, l1, inv)
}

/// The gradient g·(p_c·A − (ε/C)·w_c − [c = t]·(1−ε)·w_t) of a lane group from its
/// probabilities p_c·(1 + rest) in `e` (overwritten), with kw = (1−ε)·w_t and
/// a = ((1−ε)·w_t + (ε/C)·Σw)/(1 + rest) per lane, by the operations of `row_grad` in its
/// order; lanes whose label `tf` is −1 get 0.
#[inline(always)]
fn lane_grad<T: KernelFloat, const W: usize>(
    p: &Plan<'_, T>,
    tf: &[T; LANES],
    g: &[T; LANES],
    kw: &[T; LANES],
    a: &[T; LANES],
    e: &mut [[T; LANES]; W],
) {
    // (ε/C)·w_j, 0 past C
    let mut sw = [T::ZERO; W];
    for (j, v) in sw.iter_mut().enumerate().take(p.c) {
        *v = p.spread * p.w(j);
    }
    unrolled!(W, |j| {
        let jf = T::from_usize(j);
        for k in 0..LANES {
            let base = e[j][k] * a[k] - sw[j];
            let v = if tf[k] == jf { base - kw[k] } else { base };
            e[j][k] = if tf[k] < T::ZERO { T::ZERO } else { g[k] * v };
        }
    });
}

/// The split backward's group (lane layout as [`lane_group`]): p_c = e^(s_c − lse) from
/// each lane's saved log-sum-exp `lse`, then the gradient into `e`, as the row-wise
/// `softmax_ce::SplitBackward` computes it (A without the 1/(1 + rest) factor, which the saved lse
/// already holds).
#[inline(always)]
#[allow(clippy::needless_range_loop)] // lane k indexes every column array alike
fn lane_backward<T: KernelFloat, M: Math, const W: usize>(
    p: &Plan<'_, T>,
    x: &[[T; LANES]; W],
    t: &[usize; LANES],
    g: &[T; LANES],
    lse: &[T; LANES],
    e: &mut [[T; LANES]; W],
) {
    saved_exps::<T, M, W>(x, lse, e);
    let (tf, w_t) = lane_labels(p, t);
    let (mut kw, mut a) = ([T::ZERO; LANES], [T::ZERO; LANES]);
    for k in 0..LANES {
        kw[k] = p.keep * w_t[k];
        a[k] = kw[k] + p.spread * p.w_all;
    }
    lane_grad::<T, W>(p, &tf, g, &kw, &a, e);
}

/// p_c = e^(x_c − lse) of a lane group (lane layout as [`lane_group`]) from each lane's
/// saved log-sum-exp, into `e`: the split backward's probabilities.
#[inline(always)]
fn saved_exps<T: KernelFloat, M: Math, const W: usize>(
    x: &[[T; LANES]; W],
    lse: &[T; LANES],
    e: &mut [[T; LANES]; W],
) {
    unrolled!(W, |j| {
        for k in 0..LANES {
            e[j][k] = x[j][k] - lse[k];
        }
    });
    M::map_inplace(Exp, e.as_flattened_mut());
}

/// Rows i0..i0 + n of `m` (C = `m.cols()` ≤ W columns, any layout) into lane layout:
/// `x[j][k] = m[i0 + k, j]` for j < C, and 0 in lanes n.. of those columns (a padded
/// group); the columns past C are left as they are. A whole group of contiguous rows takes
/// the path's transpose where it has one.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // lane k indexes every column array alike
fn to_lanes<T: KernelFloat, M: Math, const W: usize>(
    m: &MatRef<'_, T>,
    i0: usize,
    n: usize,
    x: &mut [[T; LANES]; W],
) {
    let c = m.cols();
    if n < LANES {
        x[..c].iter_mut().for_each(|col| *col = [T::ZERO; LANES]);
    }
    let slab = match m.as_flat() {
        Some(f) if n == LANES => f.get(i0 * c..(i0 + LANES) * c),
        _ => None,
    };
    if slab.is_some_and(|s| M::rows_to_lanes(s, c, x)) {
        return;
    }
    for k in 0..n {
        if m.unit_col_stride() {
            let row = m.row(i0 + k);
            unrolled!(W, |j| {
                if j < c {
                    x[j][k] = row[j];
                }
            });
        } else {
            unrolled!(W, |j| {
                if j < c {
                    x[j][k] = m.at(i0 + k, j);
                }
            });
        }
    }
}

/// Probability targets in lane layout (`a[j][k]`: lane k's target of class j, 0 past C)
/// made, in place, the coefficients a_c = w_c·((1−ε)·q_c + ε/C) of the loss
/// Σ_c a_c·(−log p_c) and of its gradient p_c·Σa − a_c (w_c = 1 without weights, an exact
/// factor); the columns past C stay 0.
#[inline(always)]
fn prob_coefs<T: KernelFloat, const W: usize>(p: &Plan<'_, T>, a: &mut [[T; LANES]; W]) {
    unrolled!(W, |j| {
        if j < p.c {
            let (w, c) = (p.w(j), p.coefs());
            for v in a[j].iter_mut() {
                *v = w * c.a(*v);
            }
        }
    });
}

/// One group of probability-target rows in lane layout (as [`lane_group`], with `a` the
/// coefficients of [`prob_coefs`]): returns each lane's loss Σ_c a_c·(−log p_c) (a zero
/// a_c's term 0, as `mulz`: a −∞ logit with target 0 adds nothing; NaN for a row whose
/// log-sum-exp is NaN, as `row_loss`) and log-sum-exp, and leaves in `e` the gradient
/// g·(p_c·B − a_c), B = Σ_c a_c, when `grad` (else the exponentials).
#[inline(always)]
#[allow(clippy::needless_range_loop)] // lane k indexes every column array alike
fn prob_group<T: KernelFloat, M: Math, const W: usize>(
    x: &[[T; LANES]; W],
    a: &[[T; LANES]; W],
    g: &[T; LANES],
    e: &mut [[T; LANES]; W],
    grad: bool,
) -> ([T; LANES], [T; LANES]) {
    let (m, l1, inv) = lane_lse::<T, M, W>(x, e);
    let (mut l, mut b, mut lse) = ([T::ZERO; LANES], coef_sum(a), [T::ZERO; LANES]);
    unrolled!(W, |j| {
        for k in 0..LANES {
            let ak = a[j][k];
            let nlp = (m[k] - x[j][k]) + l1[k];
            l[k] += if ak != T::ZERO { ak * nlp } else { T::ZERO };
        }
    });
    for k in 0..LANES {
        lse[k] = m[k] + l1[k];
        l[k] = if lse[k].is_nan() { T::NAN } else { l[k] };
        // p_c = e_c/(1 + rest): B/(1 + rest) scales the exponentials
        b[k] *= inv[k];
    }
    if grad {
        prob_grad(a, g, &b, e);
    }
    (l, lse)
}

/// Σ_c a_c per lane, over the columns in order (0 past C): the gradient's B.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // lane k indexes every column array alike
fn coef_sum<T: KernelFloat, const W: usize>(a: &[[T; LANES]; W]) -> [T; LANES] {
    let mut b = [T::ZERO; LANES];
    unrolled!(W, |j| {
        for k in 0..LANES {
            b[k] += a[j][k];
        }
    });
    b
}

/// The gradient g·(e_c·b − a_c) of probability-target lanes into `e` (which holds e_c),
/// with b = Σ_c a_c over what turns e_c into p_c (1/(1 + rest), or 1 from a saved
/// log-sum-exp).
#[inline(always)]
fn prob_grad<T: KernelFloat, const W: usize>(
    a: &[[T; LANES]; W],
    g: &[T; LANES],
    b: &[T; LANES],
    e: &mut [[T; LANES]; W],
) {
    unrolled!(W, |j| {
        for k in 0..LANES {
            e[j][k] = g[k] * (e[j][k] * b[k] - a[j][k]);
        }
    });
}

/// Each lane's label as a float (−1: none, so that the label masks are vector compares;
/// exact for C ≤ 16) and its class weight (0: none), from the group's labels `t`
/// (`usize::MAX`: an ignored or padding row). Branch-free per lane, so that it vectorizes.
#[inline(always)]
fn lane_labels<T: KernelFloat>(p: &Plan<'_, T>, t: &[usize; LANES]) -> ([T; LANES], [T; LANES]) {
    let (mut tf, mut w_t) = ([T::ZERO; LANES], [T::ZERO; LANES]);
    for k in 0..LANES {
        tf[k] = if t[k] == usize::MAX {
            -T::ONE
        } else {
            T::from_usize(t[k])
        };
    }
    match p.weight {
        None => {
            for k in 0..LANES {
                w_t[k] = if tf[k] < T::ZERO { T::ZERO } else { T::ONE };
            }
        }
        Some(w) => {
            for k in 0..LANES {
                if t[k] != usize::MAX {
                    w_t[k] = w[t[k]];
                }
            }
        }
    }
    (tf, w_t)
}

/// The mean softmax cross-entropy over `rows` rows with class targets and the default
/// options, for one group of [`LANES`] of them in lane layout (as [`lane_group`]; `t[k]` is
/// `usize::MAX` for a padding lane): each lane's loss, and the gradient (upstream factor 1,
/// so 1/rows per row) in `e`. The same arithmetic as [`softmax_cross_entropy`](crate::softmax_cross_entropy) with
/// `CrossEntropyOptions::default()` and `dloss = [1]`; the fused training step's loss.
#[inline(always)]
pub(crate) fn mean_lane_group<T: KernelFloat, M: Math, const W: usize>(
    c: usize,
    rows: usize,
    n: usize,
    x: &[[T; LANES]; W],
    t: &[usize; LANES],
    e: &mut [[T; LANES]; W],
) -> [T; LANES] {
    let p = Plan {
        c,
        red: Reduction::Mean,
        weight: None,
        ignore: None,
        keep: T::ONE,
        spread: T::ZERO,
        w_all: T::from_usize(c),
        denom: T::from_usize(rows),
    };
    let mut g = [T::ZERO; LANES];
    g[..n].fill(row_scale(p.red, &[T::ONE], p.denom, 0));
    lane_group::<T, M, W>(&p, n, x, t, &g, e, true).0
}
