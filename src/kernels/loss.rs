//! The losses: the fused softmax-cross-entropy, the cross-entropy on probabilities and the
//! binary cross-entropy on logits, calls of their bodies in `crate::ops::loss`.

use crate::error::Result;
use crate::float::Float;
use crate::mat::{MatMut, MatRef};
use crate::ops::Reduction;
use crate::ops::loss::Targets;
use crate::ops::loss::bce::BceOptions;
use crate::ops::loss::softmax_ce::CrossEntropyOptions;
use crate::simd::Internal;

/// Softmax-cross-entropy loss of logits s: l_n = logsumexp(s_n) − Σ_k t_nk·s_nk (with the
/// options' weights, smoothing and ignore_index), reduced.
///
/// The log-sum-exp subtracts the row maximum, so no finite logit overflows. `lse`, if given
/// (length N), receives each row's log-sum-exp for [`softmax_cross_entropy_backward`].
/// Shapes: logits N×C (any view, C ≥ 1); targets N labels or N×C; loss 1 (`Mean`, `Sum`) or
/// N (`None`).
///
/// Non-finite rows: a row holding NaN or +∞, or all −∞, has NaN loss (its softmax is NaN).
/// A −∞ logit at the label gives +∞; a −∞ logit whose target (or weight) is 0 contributes 0
/// (PyTorch gives NaN there, from 0·∞). A loss too large for the type is +∞, never NaN.
///
/// # Errors
///
/// [`ErrorKind::Shape`](crate::ErrorKind::Shape) naming `logits` (C = 0) or `targets`; [`ErrorKind::Length`](crate::ErrorKind::Length) naming
/// `targets`, `weight`, `loss` or `lse`; [`ErrorKind::Label`](crate::ErrorKind::Label) naming `targets`;
/// [`ErrorKind::Value`](crate::ErrorKind::Value) naming `label_smoothing`, `weight` or `ignore_index`.
///
/// # Example
///
/// ```
/// use nnkern::{CrossEntropyOptions, MatRef, Targets, softmax_cross_entropy_forward};
///
/// let logits = [0.0_f64, 0.0, 0.0, 0.0]; // 2×2, uniform
/// let mut loss = [0.0];
/// softmax_cross_entropy_forward(
///     MatRef::from_row_major(&logits, 2, 2)?,
///     Targets::Classes(&[0, 1]),
///     &CrossEntropyOptions::default(),
///     &mut loss,
///     None,
/// )?;
/// assert!((loss[0] - std::f64::consts::LN_2).abs() < 1e-15);
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn softmax_cross_entropy_forward<T: Float>(
    logits: MatRef<'_, T>,
    targets: Targets<'_, T>,
    opts: &CrossEntropyOptions<'_, T>,
    loss: &mut [T],
    lse: Option<&mut [T]>,
) -> Result<()> {
    T::softmax_cross_entropy_forward(Internal, logits, targets, opts, loss, lse)
}

/// The gradient of [`softmax_cross_entropy_forward`] from its saved log-sum-exp:
/// d logits = g_n·(w-weighted softmax(s) − smoothed target), per row.
///
/// For class targets (weights w, smoothing ε): ∂l_n/∂s_c = p_c·((1−ε)w_t + (ε/C)Σw)
/// − (1−ε)w_t·[c = t] − (ε/C)·w_c; without options this is the book's p − onehot(t). For
/// probability targets: ∂l_n/∂s_c = p_c·Σ_k w_k q′_k − w_c q′_c. g_n is `dloss[0]/denominator`
/// (`Mean`, the denominator as in [`CrossEntropyOptions`]), `dloss[0]` (`Sum`) or `dloss[n]`
/// (`None`). Ignored rows get exactly 0. Shapes: logits and dlogits N×C (dlogits with unit
/// column stride, overwritten), lse N, dloss 1 or N as the reduction.
///
/// # Errors
///
/// As [`softmax_cross_entropy_forward`], plus [`ErrorKind::Length`](crate::ErrorKind::Length) naming `lse` or `dloss`,
/// and [`ErrorKind::Shape`](crate::ErrorKind::Shape)/[`ErrorKind::Stride`](crate::ErrorKind::Stride) naming `dlogits`.
///
/// # Example
///
/// ```
/// use nnkern::{CrossEntropyOptions, MatMut, MatRef, Targets, softmax_cross_entropy_backward};
///
/// let logits = [0.0_f32, 0.0]; // 1×2
/// let lse = [std::f32::consts::LN_2];
/// let mut d = [0.0_f32; 2];
/// softmax_cross_entropy_backward(
///     MatRef::from_row_major(&logits, 1, 2)?,
///     &lse,
///     Targets::Classes(&[1]),
///     &CrossEntropyOptions::default(),
///     &[1.0],
///     MatMut::from_row_major(&mut d, 1, 2)?,
/// )?;
/// assert_eq!(d, [0.5, -0.5]); // softmax − onehot
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn softmax_cross_entropy_backward<T: Float>(
    logits: MatRef<'_, T>,
    lse: &[T],
    targets: Targets<'_, T>,
    opts: &CrossEntropyOptions<'_, T>,
    dloss: &[T],
    dlogits: MatMut<'_, T>,
) -> Result<()> {
    T::softmax_cross_entropy_backward(Internal, logits, lse, targets, opts, dloss, dlogits)
}

/// Forward and backward in one pass over the logits: the loss of
/// [`softmax_cross_entropy_forward`] and d logits of [`softmax_cross_entropy_backward`],
/// without an N×C temporary (each row's exponentials are computed once, in d logits).
///
/// This is the book's `SoftmaxWithLoss` forward + backward: with default options the loss is
/// the mean over rows of logsumexp(s) − s_t and d logits = (softmax(s) − onehot(t))·dloss/N.
/// Shapes: logits and dlogits N×C (dlogits with unit column stride, overwritten); dloss and
/// loss of length 1 (`Mean`, `Sum`) or N (`None`).
///
/// # Errors
///
/// As [`softmax_cross_entropy_forward`] and [`softmax_cross_entropy_backward`].
///
/// # Example
///
/// ```
/// use nnkern::{CrossEntropyOptions, MatMut, MatRef, Targets, softmax_cross_entropy};
///
/// let logits = [2.0_f32, 0.0, 0.0, 2.0]; // 2×2
/// let mut loss = [0.0_f32];
/// let mut d = [0.0_f32; 4];
/// softmax_cross_entropy(
///     MatRef::from_row_major(&logits, 2, 2)?,
///     Targets::Classes(&[0, 1]),
///     &CrossEntropyOptions::default(),
///     &[1.0],
///     &mut loss,
///     MatMut::from_row_major(&mut d, 2, 2)?,
/// )?;
/// let p = 1.0 / (1.0 + (-2.0_f32).exp());
/// assert!((loss[0] + p.ln()).abs() < 1e-6);
/// assert!((d[0] - (p - 1.0) / 2.0).abs() < 1e-7);
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn softmax_cross_entropy<T: Float>(
    logits: MatRef<'_, T>,
    targets: Targets<'_, T>,
    opts: &CrossEntropyOptions<'_, T>,
    dloss: &[T],
    loss: &mut [T],
    dlogits: MatMut<'_, T>,
) -> Result<()> {
    T::softmax_cross_entropy(Internal, logits, targets, opts, dloss, loss, dlogits)
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
/// [`softmax_cross_entropy_forward`], which never
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
    T::cross_entropy_forward(Internal, probs, targets, reduction, loss)
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
    T::cross_entropy_backward(Internal, probs, targets, reduction, dloss, dprobs)
}

/// Binary cross-entropy on logits: ℓ_nk = w_nk·[p_k·t_nk·softplus(−x_nk) + (1−t_nk)·softplus(x_nk)],
/// reduced — that is −w·[p·t·ln σ(x) + (1−t)·ln(1−σ(x))] without forming σ(x).
///
/// softplus(x) = ln(1+eˣ) is evaluated as max(x, 0) + ln(1 + e^(−|x|)): no overflow for any
/// finite logit (±3e38 included) and no cancellation: e^(−|x|) runs in one vector pass per
/// segment of up to 64 elements and ln(1 + e) is an atanh series (≤ 3 ulp), so each element is
/// accurate to a few ULPs. Where logits, targets, weights and outputs are all
/// dense, segments cross rows (short rows cost no more per element than long ones). Shapes:
/// logits and targets N×C (any views; targets are probabilities, usually 0 or 1, used as
/// given, as PyTorch does); [`BceOptions`] `weight` N×C and `pos_weight` C; loss N·C values
/// (row-major) for `Reduction::None`, else 1. `Mean` divides by N·C (NaN when it is 0, as
/// PyTorch). Sums run in f64 in a fixed order (element (n, k) into partial k mod 8, rows in
/// order): the result depends neither on the thread count nor on the views' layout.
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
    T::bce_with_logits_forward(Internal, logits, targets, opts, loss)
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
    T::bce_with_logits_backward(Internal, logits, targets, opts, dloss, dlogits)
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
    T::bce_with_logits(Internal, logits, targets, opts, dloss, loss, dlogits)
}
