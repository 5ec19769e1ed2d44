//! Softmax-cross-entropy on logits: the book's SoftmaxWithLoss, fused and stable, with
//! PyTorch's `cross_entropy` options (reduction, class weights, ignore_index, label smoothing).

use super::lanes::{LaneRows, lane_rows};
use super::{Targets, check_loss_len, check_targets, reduce_blocks, reduce_rows, row_scale};
use crate::error::{Error, ErrorKind, Result};
use crate::mat::{MatMut, MatRef};
use crate::ops::KernelFloat;
use crate::ops::{
    Reduction, RowCopies, check_has_cols, check_len, check_rows_contiguous, check_shape, copy_len, dims,
    dims_mut,
};
use crate::par::{Cost, Grain, block_count};
use crate::simd::{self, ACC, Exp, ExpNonPos, Internal, Isa, Kernel, Math, combine, dispatch};

/// Options of the softmax-cross-entropy kernels, with the semantics of PyTorch's
/// `torch.nn.functional.cross_entropy`.
///
/// With class-index targets t, weights w (1 if `None`), smoothing ε and C classes, row n's
/// loss is `(1−ε)·w[t_n]·(−log p[n,t_n]) + (ε/C)·Σ_c w_c·(−log p[n,c])`, and `Mean` divides
/// the sum over rows by `Σ_n w[t_n]` over the rows not ignored. Rows whose label equals
/// `ignore_index` contribute 0 to the loss and get a zero gradient. A `Mean` whose denominator
/// is 0 (every row ignored, or the label of every row counted weighted 0) is NaN, as in
/// PyTorch, whose class term is then 0/0 whatever label smoothing adds; so is the gradient
/// of every row counted (the ignored rows' stays 0).
///
/// With probability targets q, the smoothed target is `q′ = (1−ε)·q + ε/C`, row n's loss is
/// `Σ_c w_c·q′_c·(−log p[n,c])`, and `Mean` divides by N (weights do not enter the
/// denominator, as in PyTorch). `ignore_index` is not allowed with probability targets.
///
/// # Example
///
/// ```
/// use nnkern::{CrossEntropyOptions, Reduction};
///
/// let w = [1.0_f32, 2.0, 0.5];
/// let opts = CrossEntropyOptions::default()
///     .reduction(Reduction::Sum)
///     .weight(Some(&w))
///     .ignore_index(Some(3))
///     .label_smoothing(0.1);
/// assert_eq!(CrossEntropyOptions::<f32>::default().reduction, Reduction::Mean);
/// # let _ = opts;
/// ```
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct CrossEntropyOptions<'a, T> {
    /// How per-row losses are reduced (default `Mean`).
    pub reduction: Reduction,
    /// Per-class weights, length C, each finite and ≥ 0 (default: all 1).
    pub weight: Option<&'a [T]>,
    /// A label whose rows are skipped (class-index targets only; default: none). It may lie
    /// outside `0..C` (PyTorch's default is −100).
    pub ignore_index: Option<usize>,
    /// Label smoothing ε in [0, 1] (default 0).
    pub label_smoothing: T,
}

impl<'a, T> CrossEntropyOptions<'a, T> {
    setters!(reduction: Reduction, weight: Option<&'a [T]>, ignore_index: Option<usize>, label_smoothing: T);
}

/// The validated problem: everything a row needs besides its logits and target.
pub(super) struct Plan<'a, T> {
    pub(super) c: usize,
    pub(super) red: Reduction,
    /// The class weights: the caller's, or a copy scaled by a power of two (see [`plan`]).
    pub(super) weight: Option<&'a [T]>,
    pub(super) ignore: Option<usize>,
    /// 1 − ε.
    pub(super) keep: T,
    /// ε / C.
    pub(super) spread: T,
    /// Σ_c w_c (C without weights).
    pub(super) w_all: T,
    /// The `Mean` denominator.
    pub(super) denom: T,
}

impl<T: KernelFloat> Plan<'_, T> {
    #[inline(always)]
    pub(super) fn w(&self, c: usize) -> T {
        self.weight.map_or(T::ONE, |w| w[c])
    }

    /// The smoothing's coefficients of probability targets, a_c = (1−ε)·q_c + ε/C (before
    /// class weights).
    pub(super) fn coefs(&self) -> TargetCoefs<T> {
        TargetCoefs {
            keep: self.keep,
            spread: self.spread,
        }
    }
}

/// a·v, with 0 when a = 0 (so a zero coefficient times an infinite −log p is 0, not NaN).
#[inline(always)]
pub(super) fn mulz<T: KernelFloat>(a: T, v: T) -> T {
    if a == T::ZERO { T::ZERO } else { a * v }
}

/// Checks the options, labels and targets, and works out what every row needs. `scaled` is
/// the caller's (empty) storage for the class weights if they must be rescaled.
fn plan<'a, T: KernelFloat>(
    op: &'static str,
    logits: &MatRef<'_, T>,
    targets: &Targets<'_, T>,
    opts: &CrossEntropyOptions<'a, T>,
    scaled: &'a mut Vec<T>,
) -> Result<Plan<'a, T>> {
    let (n, c) = dims(logits);
    check_has_cols(op, "logits", c)?;
    let eps = opts.label_smoothing;
    if !(eps >= T::ZERO && eps <= T::ONE) {
        return Err(Error::new(
            op,
            "label_smoothing",
            ErrorKind::Value,
            format!("is {eps} but must lie in [0, 1]"),
        ));
    }
    if let Some(w) = opts.weight {
        check_len(op, "weight", w.len(), c, "one weight per class (logits.cols)")?;
        if let Some((i, &bad)) = w
            .iter()
            .enumerate()
            .find(|&(_, &v)| !(v >= T::ZERO && v.is_finite()))
        {
            return Err(Error::new(
                op,
                "weight",
                ErrorKind::Value,
                format!("[{i}] is {bad} but class weights must be finite and ≥ 0"),
            ));
        }
    }
    if let (Targets::Probs(_), Some(ii)) = (targets, opts.ignore_index) {
        return Err(Error::new(
            op,
            "ignore_index",
            ErrorKind::Value,
            format!("is Some({ii}) but ignore_index applies to class-index targets only"),
        ));
    }
    check_targets(op, targets, n, c, opts.ignore_index)?;
    let w_all = opts.weight.map_or(T::from_usize(c), |w| w.iter().copied().sum());
    let denom = match (targets, opts.weight) {
        // without weights, the number of rows counted (exact, as PyTorch's count)
        (Targets::Classes(t), None) => match opts.ignore_index {
            None => T::from_usize(n),
            Some(ii) => T::from_usize(t.iter().map(|&l| usize::from(l != ii)).sum()),
        },
        (Targets::Classes(t), Some(w)) => t
            .iter()
            .filter(|&&l| Some(l) != opts.ignore_index)
            .map(|&l| w[l])
            .sum(),
        (Targets::Probs(_), _) => T::from_usize(n),
    };
    let mut weight = opts.weight;
    let (mut w_all, mut denom) = (w_all, denom);
    if let (Reduction::Mean, Some(w)) = (opts.reduction, opts.weight)
        && denom > T::ZERO
        && denom < T::EPSILON
    {
        // A tiny weight sum (subnormal weights, say): g = dloss/Σw would overflow, and the
        // weights' products flush to zero. The mean is the same for weights scaled by any
        // s > 0, so they are scaled by a power of two — exactly: the largest weight stays
        // below MAX/2⁸ and none is made smaller — until Σw is at least about 1.
        // (in log2 and in two halves: 2ᵏ itself can exceed f64's range for f64 weights)
        let max = w.iter().fold(0.0_f64, |m, &v| m.max(v.to_f64()));
        let room = (T::MAX.to_f64().log2() - 8.0 - max.log2()).floor();
        let k = (-denom.to_f64().log2()).ceil().min(room);
        if k >= 1.0 {
            let k = k as i32;
            let (s1, s2) = (2f64.powi(k / 2), 2f64.powi(k - k / 2));
            let scale = |v: T| T::from_f64(v.to_f64() * s1 * s2);
            scaled.extend(w.iter().map(|&v| scale(v)));
            weight = Some(&scaled[..]);
            (w_all, denom) = (scale(w_all), scale(denom));
        }
    }
    // A zero weight sum (every row ignored, or every counted row's label weighted 0) makes the
    // mean NaN, as PyTorch's 0/0 class term does, even where label smoothing's term is not 0
    // (alone it would give +∞ and ±∞ gradients): a NaN denominator carries that into the
    // loss and into every counted row's gradient, while ignored rows keep their zeros.
    if denom == T::ZERO {
        denom = T::NAN;
    }
    Ok(Plan {
        c,
        red: opts.reduction,
        weight,
        ignore: opts.ignore_index,
        keep: T::ONE - eps,
        spread: eps / T::from_usize(c),
        w_all,
        denom,
    })
}

/// Row statistics of the log-sum-exp, computed so that −log p is accurate even when tiny:
/// lse = m + ln(1 + rest), with m = max s at index `a` and rest = Σ_{c≠a} e^(s_c − m).
/// Then −log p_c = (m − s_c) + ln_1p(rest), a sum of two non-negative terms.
struct Lse<T> {
    m: T,
    l1: T,
    /// 1 / (1 + rest): p_c = e^(s_c − m) · inv.
    inv: T,
}

impl<T: KernelFloat> Lse<T> {
    /// The statistics of a row whose log-softmax is NaN (it holds NaN or +∞, or is all −∞).
    fn nan() -> Lse<T> {
        Lse {
            m: T::NAN,
            l1: T::NAN,
            inv: T::NAN,
        }
    }

    /// The statistics from the maximum `m`, the sum of the exponentials of the logits other
    /// than `m`, and the number of logits equal to `m`: all but one of those add e⁰ = 1 each
    /// to `rest`, after the small terms have been summed.
    #[inline(always)]
    fn from_rest(m: T, (others, tops): (T, T)) -> Lse<T> {
        let rest = others + (tops - T::ONE);
        Lse {
            m,
            l1: rest.ln_1p_lse(Internal),
            inv: T::ONE / (T::ONE + rest),
        }
    }

    /// The statistics of row `s` with its exponentials e^(s − max s) written into `e` on the
    /// SIMD path `M`.
    #[inline(always)]
    fn of_simd<M: Math>(s: &[T], e: &mut [T]) -> Lse<T> {
        let m = simd::max(s);
        if !m.is_finite() {
            e.fill(T::NAN);
            return Self::nan();
        }
        Self::from_rest(m, M::exp_shift_rest(s, m, e))
    }

    /// [`Lse::of_simd`] given the row maximum `m`; returns also the maximum of the next
    /// row `next` (of the same length), read in the same pass.
    #[inline(always)]
    fn of_simd_next<M: Math>(s: &[T], m: T, e: &mut [T], next: &[T]) -> (Lse<T>, T) {
        if !m.is_finite() {
            e.fill(T::NAN);
            return (Self::nan(), simd::max(next));
        }
        let (rest, mx) = M::exp_shift_rest_next(s, m, e, next);
        (Self::from_rest(m, rest), mx)
    }

    /// The loss Σ_c a_c·(−log p_c) = Σ_c a_c·(m − s_c) + ln(1 + rest)·Σ_c a_c of a row of
    /// unweighted probability targets, from `t1` = Σ_c a_c·(m − s_c) and `b` = Σ_c a_c: two
    /// non-negative terms for targets ≥ 0, so no cancellation (NaN for a NaN row).
    fn prob_loss(&self, t1: T, b: T) -> T {
        if self.m.is_nan() { T::NAN } else { t1 + self.l1 * b }
    }

    /// The statistics from the row maximum `m` and the exponentials `e`: `rest` sums every
    /// term but one maximum's, so a confident row's tiny `rest` keeps its precision.
    /// Non-finite `m` gives NaN statistics and a NaN `e`.
    #[inline(always)]
    fn from_exps_max(s: &[T], m: T, e: &mut [T]) -> Lse<T> {
        if !m.is_finite() {
            e.fill(T::NAN);
            return Self::nan();
        }
        Self::from_rest(m, simd::sum_except_max(s, m, e))
    }

    /// From a saved log-sum-exp (the backward of a split forward/backward).
    fn from_saved(lse: T) -> Lse<T> {
        Lse {
            m: lse,
            l1: T::ZERO,
            inv: T::ONE,
        }
    }

    fn lse(&self) -> T {
        self.m + self.l1
    }

    /// −log p_c for logit s_c.
    #[inline(always)]
    fn nlp(&self, s: T) -> T {
        (self.m - s) + self.l1
    }
}

/// Σ_c f(s_c, q_c, w_c) over a row with class weights w, in 16 interleaved partial sums
/// combined pairwise (the order of [`simd::map2_sum`]).
#[inline(always)]
fn sum_terms<T: KernelFloat>(s: &[T], q: &[T], w: &[T], f: impl Fn(T, T, T) -> T) -> T {
    let mut acc = [T::ZERO; simd::ACC];
    for (j, ((&sc, &qc), &wc)) in s.iter().zip(q).zip(w).enumerate() {
        acc[j % simd::ACC] += f(sc, qc, wc);
    }
    simd::combine(acc)
}

/// The coefficients of a row of unweighted probability targets, a_c = keep·q_c + spread
/// (keep = 1 − ε, spread = ε/C for label smoothing ε over C classes).
#[derive(Clone, Copy, Debug)]
pub(super) struct TargetCoefs<T> {
    keep: T,
    spread: T,
}

impl<T: KernelFloat> TargetCoefs<T> {
    /// a_c.
    #[inline(always)]
    pub(super) fn a(self, q: T) -> T {
        q * self.keep + self.spread
    }

    /// a_c·(m − s_c) as [`mulz`]: 0 where a_c is 0 (whatever m − s_c is, +∞ included), NaN
    /// where a_c is NaN.
    #[inline(always)]
    fn term(self, s: T, m: T, q: T) -> T {
        mulz(self.a(q), m - s)
    }
}

/// Σ_c a_c·(m − s_c) ([`TargetCoefs::term`]) and Σ_c q_c over a row `s` with maximum `m` and
/// its targets `q` (as long as `s`), each in 16 interleaved partial sums (element j into
/// partial j mod 16) combined pairwise, in one pass without a buffer: with
/// Σ_c a_c = (1−ε)·Σq + ε, the loss is Σ_c a_c·(m − s_c) + ln(1 + rest)·Σ_c a_c
/// ([`Lse::prob_loss`]).
#[inline(always)]
fn target_sums<T: KernelFloat>(s: &[T], m: T, q: &[T], c: TargetCoefs<T>) -> (T, T) {
    let (mut la, mut qa) = ([T::ZERO; ACC], [T::ZERO; ACC]);
    let q = &q[..s.len()];
    let full = s.len() / ACC * ACC;
    for (sc, qc) in s[..full].chunks_exact(ACC).zip(q[..full].chunks_exact(ACC)) {
        for i in 0..ACC {
            la[i] += c.term(sc[i], m, qc[i]);
            qa[i] += qc[i];
        }
    }
    for (i, (&sv, &qv)) in s[full..].iter().zip(&q[full..]).enumerate() {
        la[i] += c.term(sv, m, qv);
        qa[i] += qv;
    }
    (combine(la), combine(qa))
}

/// The gradient pass of a row of unweighted probability targets with its loss terms:
/// d_c ← g·(d_c·a − a_c) (d holding e^(s_c − m) on entry, a = B/(1 + rest)), returning
/// Σ_c a_c·(m − s_c) as [`target_sums`] does.
#[inline(always)]
fn grad_target_terms<T: KernelFloat>(
    s: &[T],
    m: T,
    q: &[T],
    c: TargetCoefs<T>,
    g: T,
    a: T,
    d: &mut [T],
) -> T {
    let mut la = [T::ZERO; ACC];
    let (s, q) = (&s[..d.len()], &q[..d.len()]);
    let ((sg, st), (qg, qt)) = (s.as_chunks::<ACC>(), q.as_chunks::<ACC>());
    let (dg, dt) = d.as_chunks_mut::<ACC>();
    for ((sc, qc), dc) in sg.iter().zip(qg).zip(dg) {
        // whole arrays: an indexed loop compiled to pieces of vectors (see `simd::dot`)
        la = std::array::from_fn(|i| la[i] + c.term(sc[i], m, qc[i]));
        *dc = std::array::from_fn(|i| g * (dc[i] * a - c.a(qc[i])));
    }
    for (i, ((&sv, &qv), o)) in st.iter().zip(qt).zip(dt).enumerate() {
        la[i] += c.term(sv, m, qv);
        *o = g * (*o * a - c.a(qv));
    }
    combine(la)
}

/// Row `i`'s loss (not yet reduced). Probability targets: Σ_c a_c·(−log p_c) with
/// a_c = w_c·((1−ε)·q_c + ε/C), a zero a_c's term 0 (see [`mulz`]); without class weights
/// as Σ_c a_c·(m − s_c) + ln(1 + rest)·Σ_c a_c ([`target_sums`]); `q` is the row's targets
/// ([`Targets::prob_row`], in place or a copy: the same order of operations either way).
#[inline(always)]
fn row_loss<M: Math, T: KernelFloat>(
    p: &Plan<'_, T>,
    s: &[T],
    st: &Lse<T>,
    targets: &Targets<'_, T>,
    i: usize,
    q: &[T],
) -> T {
    if st.m.is_nan() {
        return T::NAN;
    }
    match *targets {
        Targets::Classes(t) => {
            let t = t[i];
            let mut l = mulz(p.keep * p.w(t), st.nlp(s[t]));
            if p.spread != T::ZERO {
                let smooth: T = (0..p.c).map(|c| mulz(p.w(c), st.nlp(s[c]))).sum();
                l += p.spread * smooth;
            }
            l
        }
        Targets::Probs(_) => {
            let c = p.coefs();
            match p.weight {
                None => {
                    let (t1, sum_q) = target_sums(s, st.m, q, c);
                    st.prob_loss(t1, prob_b(p, sum_q))
                }
                Some(w) => sum_terms(s, q, w, |sc, qc, wc| mulz(wc * c.a(qc), st.nlp(sc))),
            }
        }
    }
}

/// B = Σ_c a_c = (1−ε)·Σq + C·(ε/C) of a row of unweighted probability targets from its
/// Σq, as [`row_grad`] computes it.
#[inline(always)]
fn prob_b<T: KernelFloat>(p: &Plan<'_, T>, sum_q: T) -> T {
    p.keep * sum_q + p.spread * T::from_usize(p.c)
}

/// Writes row `i`'s gradient g·∂l/∂s into `d`, which holds e^(s_c − m) on entry; `q` as in
/// [`row_loss`].
#[inline(always)]
fn row_grad<M: Math, T: KernelFloat>(
    p: &Plan<'_, T>,
    st: &Lse<T>,
    targets: &Targets<'_, T>,
    i: usize,
    g: T,
    d: &mut [T],
    q: &[T],
) {
    match *targets {
        Targets::Classes(t) => {
            let t = t[i];
            // ∂l/∂s_c = p_c·A − (1−ε)·w_t·[c = t] − (ε/C)·w_c,  A = (1−ε)·w_t + (ε/C)·Σw:
            // one branch-free pass over the row (vectorized on the SIMD paths), then the
            // label's element with its extra term, by the same operations in the same order.
            let kw = p.keep * p.w(t);
            let a = (kw + p.spread * p.w_all) * st.inv;
            let e_t = d[t];
            match (p.weight, p.spread == T::ZERO) {
                (None, true) => d.iter_mut().for_each(|o| *o = g * (*o * a - T::ZERO)),
                (None, false) => d.iter_mut().for_each(|o| *o = g * (*o * a - p.spread)),
                (Some(w), _) => d
                    .iter_mut()
                    .zip(w)
                    .for_each(|(o, &wc)| *o = g * (*o * a - p.spread * wc)),
            }
            d[t] = g * ((e_t * a - p.spread * p.w(t)) - kw);
        }
        Targets::Probs(_) => {
            // ∂l/∂s_c = p_c·B − a_c,  B = Σ_c a_c,  a_c = w_c·((1−ε)·q_c + ε/C); without
            // weights B = (1−ε)·Σq + C·(ε/C), one plain sum over the targets
            let c = p.coefs();
            let b = match p.weight {
                None => prob_b(p, simd::sum(&q[..d.len()])),
                Some(w) => sum_terms(d, q, w, |_, qc, wc| wc * c.a(qc)),
            };
            let a = b * st.inv;
            let q = &q[..d.len()];
            match p.weight {
                None => d
                    .iter_mut()
                    .zip(q)
                    .for_each(|(o, &qc)| *o = g * (*o * a - c.a(qc))),
                Some(w) => d
                    .iter_mut()
                    .zip(q)
                    .zip(w)
                    .for_each(|((o, &qc), &wc)| *o = g * (*o * a - wc * c.a(qc))),
            }
        }
    }
}

/// The coefficients of unweighted probability targets, whose long rows sum their loss terms
/// without a buffer ([`target_sums`], [`grad_target_terms`]); `None` for labels or class
/// weights.
fn plain_probs<T: KernelFloat>(p: &Plan<'_, T>, targets: &Targets<'_, T>) -> Option<TargetCoefs<T>> {
    match (targets, p.weight) {
        (Targets::Probs(_), None) => Some(p.coefs()),
        _ => None,
    }
}

fn is_ignored<T>(p: &Plan<'_, T>, targets: &Targets<'_, T>, i: usize) -> bool {
    match targets {
        Targets::Classes(t) => p.ignore.is_some_and(|ii| t[i] == ii),
        Targets::Probs(_) => false,
    }
}

/// [`softmax_cross_entropy_forward`](crate::softmax_cross_entropy_forward)'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn softmax_cross_entropy_forward_impl<T: KernelFloat>(
    logits: MatRef<'_, T>,
    targets: Targets<'_, T>,
    opts: &CrossEntropyOptions<'_, T>,
    loss: &mut [T],
    lse: Option<&mut [T]>,
) -> Result<()> {
    const OP: &str = "softmax_cross_entropy_forward";
    let mut scaled = Vec::new();
    let p = plan(OP, &logits, &targets, opts, &mut scaled)?;
    let (n, c) = dims(&logits);
    check_loss_len(OP, "loss", loss.len(), p.red, n)?;
    if let Some(l) = &lse {
        check_len(OP, "lse", l.len(), n, "one per row")?;
    }
    let extra: &mut [T] = match lse {
        Some(l) => l,
        None => &mut [],
    };
    let path = Isa::current();
    if lane_rows(&logits) {
        let block = |r0: usize, r1: usize, ls: &mut [T], lse: &mut [T]| {
            let k = LaneRows {
                p: &p,
                logits,
                targets,
                dloss: &[],
                r0,
                rows: r1 - r0,
                d: None,
                ls,
                lse,
                saved: None,
            };
            dispatch(path, k)
        };
        let g = cost(Pass::Loss, &targets);
        reduce_blocks(n, c, g, p.red, p.denom.to_f64(), loss, extra, &block);
        return Ok(());
    }
    // a strided row is copied, into scratch reserved before any output is written (the
    // row of a broadcast view can be far longer than the n values written)
    let len = match targets {
        Targets::Probs(q) => copy_len(&logits).max(copy_len(&q)),
        Targets::Classes(_) => copy_len(&logits),
    };
    let g = cost(Pass::Loss, &targets);
    let copies = RowCopies::<T, 2>::new(OP, len, block_count(n, c, g))?;
    reduce_rows(
        n,
        c,
        g,
        p.red,
        p.denom.to_f64(),
        loss,
        extra,
        &copies,
        &|i, bufs| {
            let [buf, qbuf] = bufs;
            let k = ForwardRow {
                p: &p,
                s: crate::ops::row_of(&logits, i, buf),
                targets: &targets,
                i,
                q: targets.prob_row(i, qbuf),
            };
            dispatch(path, k)
        },
    );
    Ok(())
}

/// [`softmax_cross_entropy_backward`](crate::softmax_cross_entropy_backward)'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn softmax_cross_entropy_backward_impl<T: KernelFloat>(
    logits: MatRef<'_, T>,
    lse: &[T],
    targets: Targets<'_, T>,
    opts: &CrossEntropyOptions<'_, T>,
    dloss: &[T],
    dlogits: MatMut<'_, T>,
) -> Result<()> {
    const OP: &str = "softmax_cross_entropy_backward";
    let mut scaled = Vec::new();
    let p = plan(OP, &logits, &targets, opts, &mut scaled)?;
    let (n, c) = dims(&logits);
    check_len(OP, "lse", lse.len(), n, "one per row")?;
    check_loss_len(OP, "dloss", dloss.len(), p.red, n)?;
    check_shape(OP, "dlogits", dims_mut(&dlogits), (n, c), "the shape of logits")?;
    check_rows_contiguous(OP, "dlogits", &dlogits)?;
    let path = Isa::current();
    let g = cost(Pass::Backward, &targets);
    if lane_rows(&logits) {
        crate::par::for_each_row_block(dlogits, g, &|r0, blk: MatMut<'_, T>| {
            let rows = blk.rows();
            let k = LaneRows {
                p: &p,
                logits,
                targets,
                dloss,
                r0,
                rows,
                d: Some(blk),
                ls: &mut [],
                lse: &mut [],
                saved: Some(lse),
            };
            dispatch(path, k);
        });
        return Ok(());
    }
    crate::par::for_each_row_block(dlogits, g, &|r0, blk: MatMut<'_, T>| {
        dispatch(
            path,
            SplitBackward {
                p: &p,
                logits,
                lse,
                targets,
                dloss,
                r0,
                blk,
            },
        )
    });
    Ok(())
}

/// One row of the forward: its log-sum-exp statistics with the SIMD path's exponentials, 64
/// at a time in a stack buffer (the forward has no N×C output to hold them; the maximum's own
/// term left out of `rest` exactly, it is e⁰ = 1, each chunk summed in interleaved
/// partials), then its loss; returns (loss, log-sum-exp).
struct ForwardRow<'a, 'p, T> {
    p: &'p Plan<'p, T>,
    s: &'a [T],
    targets: &'a Targets<'a, T>,
    i: usize,
    /// The row's probability targets (empty for labels).
    q: &'a [T],
}

impl<T: KernelFloat> Kernel for ForwardRow<'_, '_, T> {
    type Out = (T, T);
    #[inline(always)]
    fn run<M: Math>(self) -> (T, T) {
        const CHUNK: usize = 64;
        let s = self.s;
        let m = simd::max(s);
        let st = if m.is_finite() {
            let mut buf = [T::ZERO; CHUNK];
            let (mut others, mut tops) = (T::ZERO, T::ZERO);
            for chunk in s.chunks(CHUNK) {
                let (o, t) = M::exp_shift_rest(chunk, m, &mut buf[..chunk.len()]);
                others += o;
                tops += t;
            }
            Lse::from_rest(m, (others, tops))
        } else {
            Lse::nan()
        };
        let l = if is_ignored(self.p, self.targets, self.i) {
            T::ZERO
        } else {
            row_loss::<M, T>(self.p, s, &st, self.targets, self.i, self.q)
        };
        (l, st.lse())
    }
}

/// Rows r0.. of the split backward: p = e^(s − lse) on the SIMD path, then the gradient.
struct SplitBackward<'a, 'p, T> {
    p: &'p Plan<'p, T>,
    logits: MatRef<'a, T>,
    lse: &'a [T],
    targets: Targets<'a, T>,
    dloss: &'a [T],
    r0: usize,
    blk: MatMut<'a, T>,
}

impl<T: KernelFloat> Kernel for SplitBackward<'_, '_, T> {
    type Out = ();
    #[inline(always)]
    fn run<M: Math>(mut self) {
        let p = self.p;
        let (mut buf, mut qbuf) = (Vec::new(), Vec::new());
        for r in 0..self.blk.rows() {
            let i = self.r0 + r;
            let d = self.blk.row_mut(r);
            if is_ignored(p, &self.targets, i) {
                d.fill(T::ZERO);
                continue;
            }
            let s = crate::ops::row_of(&self.logits, i, &mut buf);
            let st = Lse::from_saved(self.lse[i]);
            for (o, &v) in d.iter_mut().zip(s) {
                *o = v - st.m;
            }
            M::map_inplace(Exp, d);
            let g = row_scale(p.red, self.dloss, p.denom, i);
            let q = self.targets.prob_row(i, &mut qbuf);
            row_grad::<M, T>(p, &st, &self.targets, i, g, d, q);
        }
    }
}

/// [`softmax_cross_entropy`](crate::softmax_cross_entropy)'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn softmax_cross_entropy_impl<T: KernelFloat>(
    logits: MatRef<'_, T>,
    targets: Targets<'_, T>,
    opts: &CrossEntropyOptions<'_, T>,
    dloss: &[T],
    loss: &mut [T],
    dlogits: MatMut<'_, T>,
) -> Result<()> {
    const OP: &str = "softmax_cross_entropy";
    let mut scaled = Vec::new();
    let p = plan(OP, &logits, &targets, opts, &mut scaled)?;
    let (n, c) = dims(&logits);
    check_loss_len(OP, "dloss", dloss.len(), p.red, n)?;
    check_loss_len(OP, "loss", loss.len(), p.red, n)?;
    check_shape(OP, "dlogits", dims_mut(&dlogits), (n, c), "the shape of logits")?;
    check_rows_contiguous(OP, "dlogits", &dlogits)?;
    let path = Isa::current();
    let block = |r0: usize, _: usize, ls: &mut [T], blk: MatMut<'_, T>| {
        let k = FusedBlock {
            p: &p,
            logits,
            targets,
            dloss,
            r0,
            blk,
            ls,
        };
        dispatch(path, k)
    };
    let g = cost(Pass::Loss, &targets);
    reduce_blocks(n, c, g, p.red, p.denom.to_f64(), loss, dlogits, &block);
    Ok(())
}

/// A pass of the softmax-cross-entropy, for its cost.
#[derive(Clone, Copy)]
enum Pass {
    /// The forward or the fused forward+backward: one cost for both, so that their loss sums
    /// add the same blocks and agree bit for bit.
    Loss,
    /// The backward from the saved log-sum-exp.
    Backward,
}

/// The measured cost of a pass (`cost_per_element`: `sce_fused` for [`Pass::Loss`], whose
/// forward alone, `sce_fwd`, measured within 6% per element; `sce_bwd`; the same with `_probs`
/// for probability targets), which sizes its work blocks.
fn cost<T: KernelFloat>(pass: Pass, targets: &Targets<'_, T>) -> Grain {
    let probs = matches!(targets, Targets::Probs(_));
    match (pass, probs) {
        (Pass::Loss, false) => Cost::new(1900, 21_500),
        (Pass::Loss, true) => Cost::new(2350, 26_000),
        (Pass::Backward, false) => Cost::new(1980, 14_600),
        (Pass::Backward, true) => Cost::new(2070, 14_800),
    }
    .of::<T>()
}

/// One block of rows of the fused forward+backward; returns the block's loss sum (f64).
/// Rows of fewer than 64 columns are processed this many at a time.
const GROUP: usize = 64;

struct FusedBlock<'a, 'p, T> {
    p: &'p Plan<'p, T>,
    logits: MatRef<'a, T>,
    targets: Targets<'a, T>,
    dloss: &'a [T],
    r0: usize,
    blk: MatMut<'a, T>,
    ls: &'a mut [T],
}

impl<T: KernelFloat> Kernel for FusedBlock<'_, '_, T> {
    type Out = f64;
    #[inline(always)]
    fn run<M: Math>(mut self) -> f64 {
        let p = self.p;
        if lane_rows(&self.logits) {
            let rows = self.blk.rows();
            return LaneRows {
                p,
                logits: self.logits,
                targets: self.targets,
                dloss: self.dloss,
                r0: self.r0,
                rows,
                d: Some(self.blk),
                ls: self.ls,
                lse: &mut [],
                saved: None,
            }
            .run::<M>();
        }
        let (mut buf, mut qbuf) = (Vec::new(), Vec::new());
        let (rows, cols) = (self.blk.rows(), self.blk.cols());
        // Short rows go in groups: each row's maximum kept, the shifted logits of the whole
        // group exponentiated in one flat vector pass, then each row finished. Long rows
        // one at a time, each staying in L1 across its passes.
        let group = if cols < 64 && self.blk.as_flat_mut().is_some() {
            GROUP
        } else {
            1
        };
        let mut acc = 0.0_f64;
        let mut maxes = [T::ZERO; GROUP];
        // long rows of a unit-stride view: each row's maximum is read in the pass that
        // exponentiates the row before it
        let lockstep = group == 1 && self.logits.unit_col_stride();
        let mut m_next = None;
        let plain = plain_probs(p, &self.targets);
        for g0 in (0..rows).step_by(group) {
            let g1 = (g0 + group).min(rows);
            if group > 1 {
                for r in g0..g1 {
                    let s = crate::ops::row_of(&self.logits, self.r0 + r, &mut buf);
                    let m = simd::max(s);
                    maxes[r - g0] = m;
                    for (o, &v) in self.blk.row_mut(r).iter_mut().zip(s) {
                        *o = v - m;
                    }
                }
                if let Some(f) = self.blk.as_flat_mut() {
                    M::map_inplace(ExpNonPos, &mut f[g0 * cols..g1 * cols]);
                }
            }
            for r in g0..g1 {
                let i = self.r0 + r;
                let s = crate::ops::row_of(&self.logits, i, &mut buf);
                let d = self.blk.row_mut(r);
                // this row's maximum, if the row before read it (taken here, so that an
                // ignored row's maximum never passes to the row after it)
                let m_here = m_next.take();
                let l = if is_ignored(p, &self.targets, i) {
                    d.fill(T::ZERO);
                    T::ZERO
                } else {
                    let g = row_scale(p.red, self.dloss, p.denom, i);
                    // the target row once, for both (a strided one is copied)
                    let q = self.targets.prob_row(i, &mut qbuf);
                    let st = if group > 1 {
                        Lse::from_exps_max(s, maxes[r - g0], d)
                    } else if lockstep {
                        let m = m_here.unwrap_or_else(|| simd::max(s));
                        let next = if r + 1 < rows { self.logits.row(i + 1) } else { &[] };
                        let (st, mx) = Lse::of_simd_next::<M>(s, m, d, next);
                        m_next = Some(mx);
                        st
                    } else {
                        Lse::of_simd::<M>(s, d)
                    };
                    match plain {
                        // unweighted probability targets: the loss terms summed in the
                        // gradient's pass, after a plain sum of the targets for B
                        Some(coefs) => {
                            let b = prob_b(p, simd::sum(&q[..cols]));
                            let t1 = grad_target_terms(s, st.m, q, coefs, g, b * st.inv, d);
                            st.prob_loss(t1, b)
                        }
                        None => {
                            let l = row_loss::<M, T>(p, s, &st, &self.targets, i, q);
                            row_grad::<M, T>(p, &st, &self.targets, i, g, d, q);
                            l
                        }
                    }
                };
                if let Some(o) = self.ls.get_mut(r) {
                    *o = l;
                }
                acc += l.to_f64();
            }
        }
        acc
    }
}
