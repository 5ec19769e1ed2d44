//! Naive f64 reference kernels: the textbook formulas, one loop at a time, no cleverness.

/// y = a·b (m×k · k×n), and Σ_l |a_il·b_lj| per element (the rounding-error scale).
///
/// Each element is summed over l in ascending order, as the textbook loop does; the loops run
/// row by row over slices (i, then l, then j) so that Miri, which interprets the tests and
/// spends most of the GEMM tests' time here, does 40% of the work of indexed i-j-l loops.
pub fn matmul(a: &[f64], m: usize, k: usize, b: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    assert_eq!((a.len(), b.len()), (m * k, k * n));
    let mut y = vec![0.0; m * n];
    let mut s = vec![0.0; m * n];
    if n == 0 {
        return (y, s);
    }
    for ((a_row, y_row), s_row) in a
        .chunks_exact(k.max(1))
        .zip(y.chunks_exact_mut(n))
        .zip(s.chunks_exact_mut(n))
    {
        for (&a_il, b_row) in a_row.iter().zip(b.chunks_exact(n)) {
            for ((y_ij, s_ij), &b_lj) in y_row.iter_mut().zip(s_row.iter_mut()).zip(b_row) {
                let p = a_il * b_lj;
                *y_ij += p;
                *s_ij += p.abs();
            }
        }
    }
    (y, s)
}

/// The transpose of a rows×cols row-major matrix.
pub fn transpose(a: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let mut t = vec![0.0; a.len()];
    for i in 0..rows {
        for j in 0..cols {
            t[j * rows + i] = a[i * cols + j];
        }
    }
    t
}

/// σ(x) without overflow: 1/(1 + e^(−x)) for x ≥ 0, e^x/(1 + e^x) below (so the tail keeps
/// its subnormal values where 1/(1 + e^(−x)) would divide by ∞).
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// The tanh GELU's gate argument v = 2√(2/π)(x + 0.044715x³) and v′ (y = x·σ(v)).
pub fn gelu_tanh_arg(x: f64) -> (f64, f64) {
    let c = 2.0 * (2.0 / std::f64::consts::PI).sqrt();
    (c * (x + 0.044715 * x * x * x), c * (1.0 + 3.0 * 0.044715 * x * x))
}

/// The exact GELU x·Φ(x) = ½x·erfc(−x/√2) and its derivative Φ(x) + x·φ(x), through musl's
/// erfc (≤ 1 ulp); the rounding of x/√2 is carried by erfc's condition 2z²: about |x·f′(x)|·u
/// absolute (`checks::act_eval_error`).
pub fn gelu(x: f64) -> (f64, f64) {
    let cdf = 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2);
    let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
    (x * cdf, cdf + x * pdf)
}

pub fn relu(x: f64) -> f64 {
    if x > 0.0 || x.is_nan() { x } else { 0.0 }
}

/// Softmax of one row, max-subtracted.
pub fn softmax(x: &[f64]) -> Vec<f64> {
    let m = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = x.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

/// Log-softmax of one row.
pub fn log_softmax(x: &[f64]) -> Vec<f64> {
    let m = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let s: f64 = x.iter().map(|v| (v - m).exp()).sum();
    x.iter().map(|v| v - m - s.ln()).collect()
}

/// Logsumexp of one row.
pub fn logsumexp(x: &[f64]) -> f64 {
    let m = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    m + x.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
}

#[derive(Clone, Debug)]
pub enum RefTargets {
    Classes(Vec<usize>),
    Probs(Vec<f64>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RefReduction {
    None,
    Mean,
    Sum,
}

#[derive(Clone, Debug)]
pub struct RefOpts {
    pub reduction: RefReduction,
    pub weight: Option<Vec<f64>>,
    pub ignore: Option<usize>,
    pub eps: f64,
}

/// The per-row coefficient vector a (length C) with loss_n = Σ_c a_c·(−log p_c):
/// class targets: a = (1−ε)·w_t·e_t + (ε/C)·w; probability targets: a_c = w_c·((1−ε)q_c + ε/C).
/// Ignored rows get None.
pub fn coefficients(t: &RefTargets, o: &RefOpts, n: usize, c: usize) -> Vec<Option<Vec<f64>>> {
    let w = |k: usize| o.weight.as_ref().map_or(1.0, |w| w[k]);
    (0..n)
        .map(|i| match t {
            RefTargets::Classes(l) => {
                if Some(l[i]) == o.ignore {
                    return None;
                }
                let mut a: Vec<f64> = (0..c).map(|k| o.eps / c as f64 * w(k)).collect();
                a[l[i]] += (1.0 - o.eps) * w(l[i]);
                Some(a)
            }
            RefTargets::Probs(q) => Some(
                (0..c)
                    .map(|k| w(k) * ((1.0 - o.eps) * q[i * c + k] + o.eps / c as f64))
                    .collect(),
            ),
        })
        .collect()
}

/// PyTorch's `cross_entropy` on logits (N×C, row-major) with the options; returns
/// (loss: 1 or N values, d logits for upstream `dloss`, per-row loss scales for tolerances).
pub fn softmax_cross_entropy(
    logits: &[f64],
    n: usize,
    c: usize,
    t: &RefTargets,
    o: &RefOpts,
    dloss: &[f64],
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let coef = coefficients(t, o, n, c);
    let w = |k: usize| o.weight.as_ref().map_or(1.0, |w| w[k]);
    let mut rows = vec![0.0; n];
    let mut scales = vec![0.0; n];
    for i in 0..n {
        if let Some(a) = &coef[i] {
            let lp = log_softmax(&logits[i * c..(i + 1) * c]);
            // 0·∞ counts as 0 (a zero coefficient times −log 0).
            rows[i] = (0..c).filter(|&k| a[k] != 0.0).map(|k| -a[k] * lp[k]).sum();
            scales[i] = (0..c)
                .filter(|&k| a[k] != 0.0)
                .map(|k| a[k].abs() * (1.0 - lp[k]))
                .sum();
        }
    }
    let denom = match t {
        RefTargets::Classes(l) => (0..n).filter(|&i| Some(l[i]) != o.ignore).map(|i| w(l[i])).sum(),
        RefTargets::Probs(_) => n as f64,
    };
    let loss = match o.reduction {
        RefReduction::None => rows.clone(),
        RefReduction::Sum => vec![rows.iter().sum()],
        // (a zero denominator: every row ignored, or every weight of the rows' labels 0, is
        // 0/0 = NaN in PyTorch, whose class term divides w[t]·… by it, whatever the smoothing
        // term adds)
        RefReduction::Mean if denom == 0.0 => vec![f64::NAN],
        RefReduction::Mean => vec![rows.iter().sum::<f64>() / denom],
    };
    let mut grad = vec![0.0; n * c];
    for i in 0..n {
        let Some(a) = &coef[i] else { continue };
        let g = match o.reduction {
            RefReduction::None => dloss[i],
            RefReduction::Sum => dloss[0],
            // (as the loss: each row's class-term gradient is −w[t]·g/0 = NaN in PyTorch, and
            // the softmax backward spreads it over the row; ignored rows keep 0)
            RefReduction::Mean if denom == 0.0 => f64::NAN,
            RefReduction::Mean => dloss[0] / denom,
        };
        let p = softmax(&logits[i * c..(i + 1) * c]);
        let sa: f64 = a.iter().sum();
        for k in 0..c {
            // d/ds_k Σ_j a_j·(lse − s_j) = p_k·Σ_j a_j − a_k
            grad[i * c + k] = g * (p[k] * sa - a[k]);
        }
    }
    (loss, grad, scales)
}

/// Binary cross-entropy on a logit, as PyTorch computes it, in f64:
/// ℓ = (1−t)·x − lw·ln σ(x), lw = 1 + (p−1)·t, and ∂ℓ/∂x = lw·σ(x) − p·t. Returns
/// (ℓ, ∂ℓ/∂x, the magnitudes of ℓ's terms, the magnitudes of the gradient's terms).
pub fn bce(x: f64, t: f64, p: f64) -> (f64, f64, f64, f64) {
    let lw = 1.0 + (p - 1.0) * t;
    // ln σ(x) = min(x, 0) − ln(1 + e^(−|x|))
    let log_sig = x.min(0.0) - (-x.abs()).exp().ln_1p();
    let loss = (1.0 - t) * x - lw * log_sig;
    let sig = if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        x.exp() / (1.0 + x.exp())
    };
    let grad = lw * sig - p * t;
    let sp = |v: f64| v.max(0.0) + (-v.abs()).exp().ln_1p();
    // lw = 1 + (p−1)·t itself cancels when t ≈ 1 and p ≪ 1: its rounding is relative to
    // 1 + |(p−1)·t|, not to lw, so the scales carry that magnitude.
    let lw_mag = 1.0 + ((p - 1.0) * t).abs();
    let scale =
        ((1.0 - t) * x).abs() + (lw_mag * log_sig).abs() + (p * t * sp(-x)).abs() + ((1.0 - t) * sp(x)).abs();
    let gscale = (lw_mag * sig).abs() + (p * t).abs() + ((1.0 - t) * sig).abs() + (p * t * (1.0 - sig)).abs();
    (loss, grad, scale, gscale)
}
