//! Tolerances: the one place where the test suite decides how close is close enough.
//!
//! Every check is a forward rounding-error bound of the form
//!
//! ```text
//! |computed − reference| ≤ n · u · scale + floor
//! ```
//!
//! where u = ε/2 is the unit roundoff of the kernel's type, `scale` is the sum of the
//! magnitudes the computation rounds (so cancellation cannot hide an error), `n` counts the
//! roundings along the way (standard analysis, Higham, *Accuracy and Stability of Numerical
//! Algorithms*, ch. 3: a sum or dot product of k terms has error ≤ γ_k·Σ|terms|,
//! γ_k = k·u/(1−k·u) ≈ k·u), and `floor` = the type's smallest normal number absorbs results
//! that underflow into subnormals. The reference is evaluated in f64 from the very values the
//! kernel received; for f32 kernels its own error (2⁻⁵³) is negligible, for f64 kernels it has
//! the same unit roundoff, so its bound counts once more (`REF_FACTOR`).
//!
//! A wrong formula (a missing max subtraction, a bias added twice, a divisor of C instead of
//! N) is off by O(1) relative error: these bounds are O(k·u), millions of times tighter.

use nnkern::Float;

/// Unit roundoff of T.
pub fn u<T: Float>() -> f64 {
    T::EPSILON.to_f64() / 2.0
}

/// 1 for f32 (the f64 reference is exact to f32's eyes), 2 for f64 (the reference's own
/// rounding error has the same bound as the kernel's).
pub fn ref_factor<T: Float>() -> f64 {
    if T::EPSILON.to_f64() > 1e-10 { 1.0 } else { 2.0 }
}

/// The exponent range beyond which e^x underflows to 0 in T: a logit further than this
/// below the row maximum contributes nothing, and the rounding of (s − m) no longer matters.
pub fn exp_cap<T: Float>() -> f64 {
    -T::MIN_POSITIVE.to_f64().ln() + 30.0
}

/// Asserts `|got − want| ≤ n·u·scale + floor` (with `ref_factor`), NaN matching NaN and
/// infinities matching exactly.
#[track_caller]
pub fn assert_within<T: Float>(got: f64, want: f64, n: f64, scale: f64, what: &dyn Fn() -> String) {
    let bound = n * ref_factor::<T>() * u::<T>() * scale;
    assert_bounded::<T>(got, want, bound, &|| {
        format!("{} ({n} roundings × scale {scale:e})", what())
    });
}

/// Asserts `|got − want| ≤ bound + floor` for a bound already in absolute terms (a running
/// error bound, which counts `ref_factor` itself), NaN matching NaN and infinities matching
/// exactly.
#[track_caller]
pub fn assert_bounded<T: Float>(got: f64, want: f64, bound: f64, what: &dyn Fn() -> String) {
    if want.is_nan() || got.is_nan() {
        assert!(
            got.is_nan() && want.is_nan(),
            "{}: got {got}, want {want}",
            what()
        );
        return;
    }
    if want.is_infinite() || got.is_infinite() {
        assert_eq!(got, want, "{}", what());
        return;
    }
    let bound = bound + T::MIN_POSITIVE.to_f64();
    let err = (got - want).abs();
    assert!(
        err <= bound,
        "{}: got {got:e}, want {want:e}, error {err:e} > bound {bound:e} ({}, {} path)",
        what(),
        T::NAME,
        nnkern::simd_path()
    );
}

/// GEMM, bias and activation on top: y = act(Σ_l a_l·b_l + bias).
///
/// The dot product of k terms plus the bias is a sum of k + 1 rounded products: error
/// ≤ γ_(k+1)·scale with scale = Σ|a_l·b_l| + |bias| (+1 rounding for α/β scaling). The
/// activation is Lipschitz with constant `lip` (sigmoid ¼, tanh and ReLU 1) and adds its own
/// `act_roundings` relative roundings of |y|.
pub fn gemm_bound(k: usize, absdot: f64) -> (f64, f64) {
    ((k + 3) as f64, absdot)
}

/// Sigmoid: ≤ 2 ulp on every path (proven for every f32 input by `tests/suite/accuracy.rs`), and
/// 1 ulp ≤ 2u relative: 4u, plus one u for the scalar reference formula's own rounding in f64.
pub const SIGMOID_ROUNDINGS: f64 = 5.0;

/// Tanh: ≤ 2 ulp on every path (`tests/suite/accuracy.rs`), 1 ulp ≤ 2u relative: 4u.
pub const TANH_ROUNDINGS: f64 = 4.0;

/// LeakyReLU: slope·x rounds once (1u), and so does the f64 reference's product (1u).
pub const LEAKY_ROUNDINGS: f64 = 2.0;

/// SiLU and the tanh GELU, y = x·σ(v): ≤ 3 ulp on every path (`tests/suite/accuracy.rs`; 2.5 and 2
/// where the path has FMA), 1 ulp ≤ 2u relative: 6u, plus the f64 reference's own (σ's
/// exponential, sum and quotient, and the product: 4u). The GELU's gate argument adds an
/// absolute error of its own (`checks::act_eval_error`).
pub const GATE_ROUNDINGS: f64 = 10.0;

/// The exact GELU, x·Φ(x): ≤ 2.5 ulp where the path has FMA and ≤ 4 on the others
/// (`tests/suite/accuracy.rs`), 1 ulp ≤ 2u relative: 8u, plus the f64 reference's own (erfc ≤ 1
/// ulp, the halving, the product: 4u; its argument's rounding is `checks::act_eval_error`).
pub const GELU_ROUNDINGS: f64 = 12.0;

/// Derivatives from the input, dy·(σ(v) + x·v′·σ(v)·σ(−v)) (SiLU: v = x, v′ = 1), relative to
/// the magnitudes |dy|·(1 + |x|)², which bound |σ| + |x·v′|·σσ̄ + |v|·σσ̄ for |x| ≤ 15: σ and
/// σ̄ ≤ 2 ulp each (8u), x·v′ and its two factors' products (3u), the sum and dy's product
/// (2u), v′'s two roundings (2u), v's three carried through ∂σ/∂v = σσ̄ (3u), and the f64
/// reference's own (6u): 24u.
pub const GATE_GRAD_ROUNDINGS: f64 = 24.0;

/// The activations against PyTorch's float64 formulas: ours within `GATE_ROUNDINGS` (9u) or
/// `GATE_GRAD_ROUNDINGS`' budget of the same scales, PyTorch's own (its exponential or tanh,
/// the sum and the products: ≤ 6u), and the margin of the wider scale of the derivative: 16u.
pub const GOLDEN_ACT_ROUNDINGS: f64 = 16.0;

/// Derivatives from y: sigmoid dy·(y·(1−y)) and tanh dy·(1−y·y) take 3 roundings of the
/// magnitudes |dy|·|y|·(|1| + |y|) (1−y and 1−y² cancel, so the scale holds both terms).
pub const ACT_GRAD_ROUNDINGS: f64 = 3.0;

/// Central-difference gradient check in f64: with step h = 1e-6, the truncation error is
/// h²/6·|f‴| ≈ 2·10⁻¹³ and the rounding error ε₆₄·|f|/h ≈ 2·10⁻¹⁰·|f|; a relative tolerance of
/// 10⁻⁶ on (1 + |g|) sits four orders above both and six below any wrong derivative.
pub const GRAD_STEP: f64 = 1e-6;
/// See [`GRAD_STEP`].
pub const GRAD_TOL: f64 = 1e-6;

/// Asserts an analytic gradient against a central difference.
#[track_caller]
pub fn assert_grad(analytic: f64, numeric: f64, what: &dyn Fn() -> String) {
    let bound = GRAD_TOL * (1.0 + analytic.abs());
    assert!(
        (analytic - numeric).abs() <= bound,
        "{}: analytic {analytic:e} vs numeric {numeric:e} (bound {bound:e})",
        what()
    );
}

/// Binary cross-entropy on logits, per element: e = e^(−|x|) (≤ 2 ulp, 4u), carried into
/// ln(1+e) by its condition number e/((1+e)·ln(1+e)) ≤ 1, and ln(1+e) itself (≤ 3 ulp from
/// the atanh series, tested in `src/simd`: 6u) — 10u relative to softplus's logarithm; then
/// max(±x, 0) + ln(1+e) (1, no cancellation: both terms ≥ 0), the coefficients p·t and 1−t
/// (2), their products (2), the sum of the two terms (1) and the weight (1): 17 roundings of
/// the magnitudes. The f64
/// reference uses PyTorch's form (1−t)·x − lw·ln σ(x), which cancels, so the scale holds the
/// magnitudes of both forms' terms.
pub const BCE_ROUNDINGS: f64 = 17.0;

/// Its gradient: σ(±x) from e (4u carried with factor ≤ 1), 1+e and a division (2), the two
/// coefficient products (3), the difference (1), the weight and the upstream factor (2), and
/// Mean's division of dloss (1): 13 roundings of the magnitudes of both terms.
pub const BCE_GRAD_ROUNDINGS: f64 = 13.0;

/// One optimizer step against its formula evaluated in f64, per element, relative to the
/// magnitudes the step rounds (|p| and |Δp|): Adam's second moment β₂v + (1−β₂)·g² (4
/// roundings, carried into √v at half weight: 2, the square root itself: 1), the product with
/// 1/√c₂ (1, plus 2 in forming 1/√c₂), + ε (1), the first moment (3), lr/c₁ (2: c₁ from a
/// power in f64 and the division), the product and the quotient (2), the L2 term g + λp or the
/// AdamW factor 1 − lr·λ and its product (3), and the final subtraction (1): 22. SGD with
/// momentum rounds fewer (g + λp: 2, μb + g: 2, Nesterov's g + μb: 2, lr·g: 1, subtraction:
/// 1). Errors carried between steps through m and v shrink by β < 1, so over k steps the
/// bound is k times this, on the sum of each step's magnitudes.
pub const OPTIM_ROUNDINGS: f64 = 22.0;
