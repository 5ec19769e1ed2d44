//! Reference checks of one case each (a shape, layouts, options), shared by the sweeps of the
//! test files and by the property tests, so both hold every kernel to the same bounds.

#![allow(clippy::needless_range_loop)] // index loops read as the formulas they check

use super::LAYOUTS;
use super::reference::{self as r, RefOpts, RefReduction, RefTargets};
use super::tol::exp_cap;
use super::tol::{self, assert_bounded, assert_within};
use super::{Layout, Rng, Stored};
use nnkern::{
    Accum, Activation, AffineGrads, BceOptions, CrossEntropyOptions, Float, MatRef, Reduction, Targets,
    Workspace,
};

/// (Lipschitz constant, relative roundings) of each activation.
pub fn act_error(act: Activation) -> (f64, f64) {
    match act {
        Activation::Identity => (1.0, 0.0),
        Activation::Relu => (1.0, 0.0),
        Activation::LeakyRelu(s) => (s.abs().max(1.0), tol::LEAKY_ROUNDINGS),
        Activation::Sigmoid => (0.25, tol::SIGMOID_ROUNDINGS),
        Activation::Tanh => (1.0, tol::TANH_ROUNDINGS),
        // max |f′|: SiLU 1.0998 (at x ≈ 2.40), the tanh GELU 1.1289 (at x ≈ 1.50)
        Activation::Silu => (1.1, tol::GATE_ROUNDINGS),
        Activation::GeluTanh => (1.13, tol::GATE_ROUNDINGS),
        // max f′ = Φ(√2) + √2·φ(√2) ≈ 1.1289
        Activation::Gelu => (1.13, tol::GELU_ROUNDINGS),
        other => panic!("no reference for {other:?}: add one here"),
    }
}

/// The absolute error, in units of u, of evaluating `act` at z beyond its relative roundings:
/// for the tanh GELU the three roundings of its gate's argument v = 2√(2/π)(z + 0.044715z³),
/// carried to y = z·σ(v) by ∂y/∂v = z·σ(v)·σ(−v): 3·|v|·|z|·σ(v)·σ(−v). For the exact GELU
/// the reference's own rounding of z/√2, carried to y: |z·f′(z)|.
pub fn act_eval_error(act: Activation, z: f64) -> f64 {
    match act {
        Activation::Gelu => (z * r::gelu(z).1).abs(),
        Activation::GeluTanh => {
            let (v, _) = r::gelu_tanh_arg(z);
            3.0 * (v * z).abs() * r::sigmoid(v) * r::sigmoid(-v)
        }
        _ => 0.0,
    }
}

pub fn act_ref(act: Activation, z: f64) -> f64 {
    match act {
        Activation::Identity => z,
        Activation::Sigmoid => r::sigmoid(z),
        Activation::Tanh => z.tanh(),
        Activation::Relu => r::relu(z),
        Activation::LeakyRelu(s) => {
            if z > 0.0 {
                z
            } else {
                s * z
            }
        }
        Activation::Silu => z * r::sigmoid(z),
        Activation::GeluTanh => z * r::sigmoid(r::gelu_tanh_arg(z).0),
        Activation::Gelu => r::gelu(z).0,
        other => panic!("no reference for {other:?}: add one here"),
    }
}

/// dy·f′ from what the backward reads ([`Activation::needs_input`]): the input z for SiLU
/// and GELU, else the output y.
pub fn act_grad_ref(act: Activation, saved: f64, dy: f64) -> f64 {
    let y = saved;
    match act {
        Activation::Identity => dy,
        Activation::Sigmoid => dy * y * (1.0 - y),
        Activation::Tanh => dy * (1.0 - y * y),
        Activation::Relu => {
            if y > 0.0 {
                dy
            } else {
                0.0
            }
        }
        Activation::LeakyRelu(s) => {
            if y > 0.0 {
                dy
            } else {
                s * dy
            }
        }
        Activation::Silu => {
            let (z, s) = (saved, r::sigmoid(saved));
            dy * (s + z * s * r::sigmoid(-z))
        }
        Activation::GeluTanh => {
            let z = saved;
            let (v, dv) = r::gelu_tanh_arg(z);
            let s = r::sigmoid(v);
            dy * (s + z * dv * s * r::sigmoid(-v))
        }
        Activation::Gelu => dy * r::gelu(saved).1,
        other => panic!("no reference for {other:?}: add one here"),
    }
}

/// The range the saved matrix of a backward test is drawn from: the output's range, or the
/// input's where the derivative reads the input.
pub fn saved_range(act: Activation) -> (f64, f64) {
    match act {
        Activation::Sigmoid => (0.0, 1.0),
        _ if act.needs_input() => (-4.0, 4.0),
        _ => (-1.0, 1.0),
    }
}

/// The relative roundings of a derivative from what the backward reads, of the magnitudes
/// |dy|·(1 + |saved|)² (`tol::ACT_GRAD_ROUNDINGS`, `tol::GATE_GRAD_ROUNDINGS`).
pub fn act_grad_roundings(act: Activation) -> f64 {
    if act.needs_input() {
        tol::GATE_GRAD_ROUNDINGS
    } else {
        tol::ACT_GRAD_ROUNDINGS
    }
}

/// The matrix a backward reads for `act`, as the kernels take it.
pub fn saved<'a, T: Float>(act: Activation, m: MatRef<'a, T>) -> nnkern::Saved<'a, T> {
    if act.needs_input() {
        nnkern::Saved::Input(m)
    } else {
        nnkern::Saved::Output(m)
    }
}

/// gemm on one shape and layout of (A, B, C): β = 0 on a NaN output, then α = 2, β = ½ on a
/// filled one.
pub fn gemm<T: Float>(rng: &mut Rng, m: usize, k: usize, n: usize, [la, lb, lc]: [Layout; 3]) {
    let a = rng.values::<T>(m * k, -1.0, 1.0);
    let b = rng.values::<T>(k * n, -1.0, 1.0);
    let c0 = rng.values::<T>(m * n, -1.0, 1.0);
    let sa = Stored::<T>::new(&a, m, k, la);
    let sb = Stored::<T>::new(&b, k, n, lb);
    let mut out = Stored::<T>::nan(m, n, lc);
    nnkern::gemm(T::ONE, sa.view(), sb.view(), T::ZERO, out.view_mut()).unwrap();
    let (y, s) = r::matmul(&a, m, k, &b, n);
    let got = out.values();
    assert!(out.padding_untouched());
    for e in 0..m * n {
        assert_within::<T>(got[e], y[e], (k + 3) as f64, s[e], &|| {
            format!("gemm β=0 {m}×{k}×{n} {la:?}/{lb:?}/{lc:?} at {e}")
        });
    }
    let mut out = Stored::<T>::filled(&c0, m, n, lc);
    let (two, half) = (T::from_f64(2.0), T::from_f64(0.5));
    nnkern::gemm(two, sa.view(), sb.view(), half, out.view_mut()).unwrap();
    let got = out.values();
    for e in 0..m * n {
        let want = 2.0 * y[e] + 0.5 * c0[e];
        assert_within::<T>(
            got[e],
            want,
            (k + 4) as f64,
            2.0 * s[e] + 0.5 * c0[e].abs(),
            &|| format!("gemm α=2 β=½ {m}×{k}×{n} at {e}"),
        );
    }
}
/// affine_forward on one shape, activation and layout of (x, W, y), y NaN-filled.
pub fn affine_forward<T: Float>(
    rng: &mut Rng,
    nr: usize,
    d: usize,
    h: usize,
    act: Activation,
    [lx, lw, ly]: [Layout; 3],
) {
    let x = rng.values::<T>(nr * d, -2.0, 2.0);
    let w = rng.values::<T>(d * h, -1.0, 1.0);
    let b = rng.values::<T>(h, -1.0, 1.0);
    let sx = Stored::<T>::new(&x, nr, d, lx);
    let sw = Stored::<T>::new(&w, d, h, lw);
    let bt: Vec<T> = b.iter().map(|&v| T::from_f64(v)).collect();
    let mut y = Stored::<T>::nan(nr, h, ly);
    nnkern::affine_forward(sx.view(), sw.view(), &bt, act, y.view_mut()).unwrap();
    assert!(y.padding_untouched());
    let (z, s) = r::matmul(&x, nr, d, &w, h);
    let got = y.values();
    let (lip, rr) = act_error(act);
    for i in 0..nr {
        for j in 0..h {
            let e = i * h + j;
            let want = act_ref(act, z[e] + b[j]);
            let scale = (d + 3) as f64 * lip * (s[e] + b[j].abs())
                + rr * want.abs()
                + act_eval_error(act, z[e] + b[j]);
            assert_within::<T>(got[e], want, 1.0, scale, &|| {
                format!("affine_forward {act:?} {nr}×{d}·{d}×{h} {lx:?}/{lw:?}/{ly:?} at ({i},{j})")
            });
        }
    }
}
/// affine_backward on one shape, activation and accumulate mode; `lay(i)` is the layout of
/// the i-th of (x, W, y, dy, dx, dW).
#[allow(clippy::too_many_arguments)]
pub fn affine_backward<T: Float>(
    rng: &mut Rng,
    ws: &mut Workspace<T>,
    nr: usize,
    d: usize,
    h: usize,
    act: Activation,
    accum: Accum,
    lay: &dyn Fn(usize) -> Layout,
) {
    let x = rng.values::<T>(nr * d, -2.0, 2.0);
    let w = rng.values::<T>(d * h, -1.0, 1.0);
    let (ylo, yhi) = saved_range(act);
    let y = rng.values::<T>(nr * h, ylo, yhi);
    let dy = rng.values::<T>(nr * h, -1.0, 1.0);
    let dw0 = rng.values::<T>(d * h, -1.0, 1.0);
    let db0 = rng.values::<T>(h, -1.0, 1.0);
    let sx = Stored::<T>::new(&x, nr, d, lay(0));
    let sw = Stored::<T>::new(&w, d, h, lay(1));
    let sy = Stored::<T>::new(&y, nr, h, lay(2));
    let sdy = Stored::<T>::new(&dy, nr, h, lay(3));
    let mut dx = Stored::<T>::nan(nr, d, lay(4));
    let mut dw = match accum {
        Accum::Replace => Stored::<T>::nan(d, h, lay(5)),
        Accum::Add => Stored::<T>::filled(&dw0, d, h, lay(5)),
        other => panic!("no reference for {other:?}: add one here"),
    };
    let mut db: Vec<T> = match accum {
        Accum::Replace => vec![T::NAN; h],
        Accum::Add => db0.iter().map(|&v| T::from_f64(v)).collect(),
        other => panic!("no reference for {other:?}: add one here"),
    };
    let grads = AffineGrads {
        dx: Some(dx.view_mut()),
        dw: dw.view_mut(),
        db: &mut db,
    };
    nnkern::affine_backward(
        sx.view(),
        sw.view(),
        saved(act, sy.view()),
        sdy.view(),
        act,
        grads,
        accum,
        ws,
    )
    .unwrap();
    assert!(dx.padding_untouched() && dw.padding_untouched());

    let dz: Vec<f64> = (0..nr * h).map(|e| act_grad_ref(act, y[e], dy[e])).collect();
    // |dz| scale including the roundings of forming dz itself
    let dzs: Vec<f64> = (0..nr * h)
        .map(|e| dy[e].abs() * (1.0 + y[e].abs()).powi(2))
        .collect();
    let (dx_ref, dx_s) = r::matmul(&dz, nr, h, &r::transpose(&w, d, h), d);
    let (dxs_scale, _) = r::matmul(
        &dzs,
        nr,
        h,
        &r::transpose(&w, d, h).iter().map(|v| v.abs()).collect::<Vec<_>>(),
        d,
    );
    let gdx = dx.values();
    let agr = act_grad_roundings(act);
    for e in 0..nr * d {
        let scale = (h + 3) as f64 * dx_s[e] + agr * dxs_scale[e];
        assert_within::<T>(gdx[e], dx_ref[e], 1.0, scale, &|| {
            format!("dx {act:?} {nr}×{d}×{h} at {e}")
        });
    }
    let xt = r::transpose(&x, nr, d);
    let (dw_ref, dw_s) = r::matmul(&xt, d, nr, &dz, h);
    let (dws_scale, _) = r::matmul(&xt.iter().map(|v| v.abs()).collect::<Vec<_>>(), d, nr, &dzs, h);
    let gdw = dw.values();
    for e in 0..d * h {
        let base = if accum == Accum::Add { dw0[e] } else { 0.0 };
        let scale = (nr + 4) as f64 * (dw_s[e] + base.abs()) + agr * dws_scale[e];
        assert_within::<T>(gdw[e], dw_ref[e] + base, 1.0, scale, &|| {
            format!("dW {act:?} {accum:?} {nr}×{d}×{h} at {e}")
        });
    }
    for j in 0..h {
        let base = if accum == Accum::Add { db0[j] } else { 0.0 };
        let want: f64 = (0..nr).map(|i| dz[i * h + j]).sum::<f64>() + base;
        let scale: f64 = (0..nr).map(|i| dz[i * h + j].abs()).sum::<f64>() * (nr + 4) as f64
            + base.abs() * 2.0
            + agr * (0..nr).map(|i| dzs[i * h + j]).sum::<f64>();
        assert_within::<T>(db[j].to_f64(), want, 1.0, scale, &|| {
            format!("db {act:?} {nr}×{d}×{h} at {j}")
        });
    }
}

/// Output layouts of row kernels: unit column stride only.
pub const OUT_LAYOUTS: [Layout; 2] = [Layout::Contiguous, Layout::Strided];

/// `act` forward on an n×c input in layouts [x, y] (sigmoid, tanh and ReLU through their
/// named kernels, the others through `activation_forward`).
pub fn activation_forward<T: Float>(
    rng: &mut Rng,
    n: usize,
    c: usize,
    act: Activation,
    [lx, ly]: [Layout; 2],
) {
    let x = rng.values::<T>(n * c, -30.0, 30.0);
    let sx = Stored::<T>::new(&x, n, c, lx);
    let mut y = Stored::<T>::nan(n, c, ly);
    match act {
        Activation::Sigmoid => nnkern::sigmoid_forward(sx.view(), y.view_mut()),
        Activation::Tanh => nnkern::tanh_forward(sx.view(), y.view_mut()),
        Activation::Relu => nnkern::relu_forward(sx.view(), y.view_mut()),
        _ => nnkern::activation_forward(act, sx.view(), y.view_mut()),
    }
    .unwrap();
    assert!(y.padding_untouched());
    let (lip, rr) = act_error(act);
    for (e, &g) in y.values().iter().enumerate() {
        let want = act_ref(act, x[e]);
        // the function's own roundings, plus the input's rounding carried through its
        // Lipschitz constant (the `1.0·lip` term: x itself is exact here)
        assert_within::<T>(g, want, 1.0, rr * want.abs() + act_eval_error(act, x[e]), &|| {
            format!("{act:?} {n}×{c} x={} (lip {lip})", x[e])
        });
    }
}

/// `act` backward on n×c, layouts [saved, dy, dx]: from the output y, or from the input
/// where the derivative needs it (sigmoid, tanh and ReLU through their named kernels).
pub fn activation_backward<T: Float>(
    rng: &mut Rng,
    n: usize,
    c: usize,
    act: Activation,
    [ly, ldy, ldx]: [Layout; 3],
) {
    let (lo, hi) = match act {
        Activation::Relu | Activation::LeakyRelu(_) => (-2.0, 2.0),
        _ => saved_range(act),
    };
    let y = rng.values::<T>(n * c, lo, hi);
    let dy = rng.values::<T>(n * c, -3.0, 3.0);
    let sy = Stored::<T>::new(&y, n, c, ly);
    let sdy = Stored::<T>::new(&dy, n, c, ldy);
    let mut dx = Stored::<T>::nan(n, c, ldx);
    match act {
        Activation::Sigmoid => nnkern::sigmoid_backward(sy.view(), sdy.view(), dx.view_mut()),
        Activation::Tanh => nnkern::tanh_backward(sy.view(), sdy.view(), dx.view_mut()),
        Activation::Relu => nnkern::relu_backward(sy.view(), sdy.view(), dx.view_mut()),
        _ => nnkern::activation_backward(act, saved(act, sy.view()), sdy.view(), dx.view_mut()),
    }
    .unwrap();
    assert!(dx.padding_untouched());
    for (e, &g) in dx.values().iter().enumerate() {
        let scale = dy[e].abs() * (1.0 + y[e].abs()) * (1.0 + y[e].abs());
        assert_within::<T>(
            g,
            act_grad_ref(act, y[e], dy[e]),
            act_grad_roundings(act),
            scale,
            &|| format!("{act:?} backward {n}×{c} at saved={} dy={}", y[e], dy[e]),
        );
    }
}

/// Logits spread wide enough that some exponentials underflow.
pub fn logits<T: Float>(rng: &mut Rng, len: usize) -> Vec<f64> {
    let spread = if rng.uniform() < 0.5 { 5.0 } else { 60.0 };
    rng.values::<T>(len, -spread, spread)
}

/// Softmax and log-softmax forward on n×c logits, layouts [x, y, log y].
pub fn softmax_forward<T: Float>(rng: &mut Rng, n: usize, c: usize, [lx, ly, lly]: [Layout; 3]) {
    let x = logits::<T>(rng, n * c);
    let sx = Stored::<T>::new(&x, n, c, lx);
    let mut y = Stored::<T>::nan(n, c, ly);
    let mut ly = Stored::<T>::nan(n, c, lly);
    nnkern::softmax_forward(sx.view(), y.view_mut()).unwrap();
    nnkern::log_softmax_forward(sx.view(), ly.view_mut()).unwrap();
    assert!(y.padding_untouched() && ly.padding_untouched());
    let (gy, gly) = (y.values(), ly.values());
    for i in 0..n {
        let row = &x[i * c..(i + 1) * c];
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let p = r::softmax(row);
        let lp = r::log_softmax(row);
        let lns = (r::logsumexp(row) - m).abs();
        for k in 0..c {
            let dm = (row[k] - m).abs().min(exp_cap::<T>());
            // e^(x−m): the argument's rounding (u·|x−m|) and exp (2u); the sum of C
            // positive terms (C·u); the division (u).
            assert_within::<T>(gy[i * c + k], p[k], dm + c as f64 + 4.0, p[k], &|| {
                format!("softmax {n}×{c} ({i},{k})")
            });
            // (x−m) − ln S: rounding of x−m, of ln S (its argument carries C·u), the
            // subtraction.
            let scale = (row[k] - m).abs() + lns + (c + 2) as f64 + lp[k].abs();
            assert_within::<T>(gly[i * c + k], lp[k], 2.0, scale, &|| {
                format!("log_softmax {n}×{c} ({i},{k})")
            });
        }
    }
}

/// Softmax and log-softmax backward on n×c, layouts [y, log y, dy, dx, d log].
pub fn softmax_backward<T: Float>(
    rng: &mut Rng,
    n: usize,
    c: usize,
    [lay_y, lay_ly, lay_dy, lay_dx, lay_ldx]: [Layout; 5],
) {
    let x = logits::<T>(rng, n * c);
    let mut y = Vec::with_capacity(n * c);
    let mut ly = Vec::with_capacity(n * c);
    for i in 0..n {
        let row = &x[i * c..(i + 1) * c];
        y.extend(r::softmax(row).into_iter().map(|v| T::from_f64(v).to_f64()));
        ly.extend(r::log_softmax(row).into_iter().map(|v| T::from_f64(v).to_f64()));
    }
    let dy = rng.values::<T>(n * c, -1.0, 1.0);
    let sy = Stored::<T>::new(&y, n, c, lay_y);
    let sly = Stored::<T>::new(&ly, n, c, lay_ly);
    let sdy = Stored::<T>::new(&dy, n, c, lay_dy);
    let mut dx = Stored::<T>::nan(n, c, lay_dx);
    let mut ldx = Stored::<T>::nan(n, c, lay_ldx);
    nnkern::softmax_backward(sy.view(), sdy.view(), dx.view_mut()).unwrap();
    nnkern::log_softmax_backward(sly.view(), sdy.view(), ldx.view_mut()).unwrap();
    let (gdx, gldx) = (dx.values(), ldx.values());
    for i in 0..n {
        let yr = &y[i * c..(i + 1) * c];
        let lyr = &ly[i * c..(i + 1) * c];
        let dyr = &dy[i * c..(i + 1) * c];
        let dot: f64 = yr.iter().zip(dyr).map(|(a, b)| a * b).sum();
        let adot: f64 = yr.iter().zip(dyr).map(|(a, b)| (a * b).abs()).sum();
        let sdy: f64 = dyr.iter().sum();
        let asdy: f64 = dyr.iter().map(|v| v.abs()).sum();
        for k in 0..c {
            let want = yr[k] * (dyr[k] - dot);
            // dot of C terms (C·u·Σ|y·dy|), the difference and the product (2u).
            let scale = yr[k] * (dyr[k].abs() + dot.abs() + c as f64 * adot);
            assert_within::<T>(gdx[i * c + k], want, 3.0, scale, &|| {
                format!("softmax_backward {n}×{c}")
            });
            let e = lyr[k].exp();
            let want = dyr[k] - e * sdy;
            // sum of C terms (C·u·Σ|dy|), exp (2u), product and difference (2u).
            let scale = dyr[k].abs() + e * (sdy.abs() + c as f64 * asdy);
            assert_within::<T>(gldx[i * c + k], want, 5.0, scale, &|| {
                format!("log_softmax_backward {n}×{c}")
            });
        }
    }
}

pub fn red_pair(i: usize) -> (Reduction, RefReduction) {
    [
        (Reduction::Mean, RefReduction::Mean),
        (Reduction::Sum, RefReduction::Sum),
        (Reduction::None, RefReduction::None),
    ][i % 3]
}

/// Target kinds: class indices, soft probabilities, one-hot probabilities.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Classes,
    Soft,
    OneHot,
}

pub struct Case {
    pub n: usize,
    pub c: usize,
    pub kind: Kind,
    pub red: usize,
    pub weighted: bool,
    /// Class weights scaled into the type's subnormal range (with `weighted`): a weight sum
    /// whose reciprocal overflows.
    pub tiny_weights: bool,
    /// 0: none, 1: a valid class (rows with it are ignored), 2: a label outside 0..C.
    pub ignore: usize,
    pub eps: f64,
    pub layout: Layout,
}

pub fn sce<T: Float>(rng: &mut Rng, k: &Case) {
    let (n, c) = (k.n, k.c);
    let spread = if rng.uniform() < 0.5 { 4.0 } else { 40.0 };
    let x = rng.values::<T>(n * c, -spread, spread);
    let labels: Vec<usize> = (0..n).map(|_| rng.below(c)).collect();
    let ignore = match k.ignore {
        1 => Some(labels.first().copied().unwrap_or(0)),
        2 => Some(c + 5),
        _ => None,
    };
    let (targets_ref, tstore): (RefTargets, Option<Stored<T>>) = match k.kind {
        Kind::Classes => (RefTargets::Classes(labels.clone()), None),
        Kind::Soft | Kind::OneHot => {
            let mut q = vec![0.0; n * c];
            for i in 0..n {
                if let Kind::OneHot = k.kind {
                    q[i * c + labels[i]] = 1.0;
                } else {
                    let raw: Vec<f64> = (0..c).map(|_| rng.uniform()).collect();
                    let s: f64 = raw.iter().sum();
                    for j in 0..c {
                        q[i * c + j] = T::from_f64(raw[j] / s).to_f64();
                    }
                }
            }
            let st = Stored::<T>::new(&q, n, c, LAYOUTS[(k.red + 1) % 3]);
            (RefTargets::Probs(q), Some(st))
        }
    };
    let weight: Option<Vec<f64>> = k.weighted.then(|| {
        let mut w = rng.values::<T>(c, 0.0, 2.0);
        w[rng.below(c)] = 0.0;
        if k.tiny_weights {
            // ~2⁶ subnormal steps: Σw is far below 1/MAX
            let tiny = T::MIN_POSITIVE.to_f64() * T::EPSILON.to_f64() * 64.0;
            w.iter_mut().for_each(|v| *v = T::from_f64(*v * tiny).to_f64());
        }
        w
    });
    let wt: Option<Vec<T>> = weight
        .as_ref()
        .map(|w| w.iter().map(|&v| T::from_f64(v)).collect());
    let (red, rred) = red_pair(k.red);
    let eps_t = T::from_f64(k.eps);
    // With class targets, the weighted mean (divided by the weight sum) is the same for
    // weights scaled by any s > 0: the reference (and the bounds below) take them scaled by a
    // power of two, exactly, so that the largest is about 1 — subnormal weights would
    // otherwise lose precision in the reference's own f64 products, and the reciprocal of
    // their sum overflow f64. (Probability targets divide by N: no such invariance.)
    let weight = match (&weight, rred, k.kind) {
        (Some(w), RefReduction::Mean, Kind::Classes) => {
            let max = w.iter().fold(0.0_f64, |m, &v| m.max(v));
            let k = if max > 0.0 { -max.log2().floor() as i32 } else { 0 };
            let (s1, s2) = (2f64.powi(k / 2), 2f64.powi(k - k / 2));
            Some(w.iter().map(|&v| v * s1 * s2).collect::<Vec<f64>>())
        }
        _ => weight.clone(),
    };
    let ropts = RefOpts {
        reduction: rred,
        weight: weight.clone(),
        ignore: if matches!(k.kind, Kind::Classes) {
            ignore
        } else {
            None
        },
        eps: eps_t.to_f64(),
    };
    let opts = CrossEntropyOptions::default()
        .reduction(red)
        .weight(wt.as_deref())
        .ignore_index(ropts.ignore)
        .label_smoothing(eps_t);
    let out_len = if red == Reduction::None { n } else { 1 };
    let dloss = rng.values::<T>(out_len, 0.5, 2.0);
    let dloss_t: Vec<T> = dloss.iter().map(|&v| T::from_f64(v)).collect();
    let (want_loss, want_grad, scales) = r::softmax_cross_entropy(&x, n, c, &targets_ref, &ropts, &dloss);
    let sx = Stored::<T>::new(&x, n, c, k.layout);
    let targets: Targets<'_, T> = match &tstore {
        None => Targets::Classes(&labels),
        Some(st) => Targets::Probs(st.view()),
    };
    let what = |s: &str| {
        format!(
            "{s} {n}×{c} {:?} {red:?} w={} tiny={} ii={ignore:?} eps={}",
            k.kind, k.weighted, k.tiny_weights, k.eps
        )
    };

    // per-row error budget: see tol.rs; C-term sums twice, the rounding of (s − m) in exp.
    let coefs = r::coefficients(&targets_ref, &ropts, n, c);
    let row_dm = row_spans::<T>(&x, n, c);
    let roundings = |i: usize| (2 * c + 8) as f64 + row_dm[i];
    let denom: f64 = match (&targets_ref, rred) {
        (_, RefReduction::Mean) => {
            if let RefTargets::Classes(l) = &targets_ref {
                (0..n)
                    .filter(|&i| Some(l[i]) != ropts.ignore)
                    .map(|i| weight.as_ref().map_or(1.0, |w| w[l[i]]))
                    .sum()
            } else {
                n as f64
            }
        }
        _ => 1.0,
    };
    let check_loss = |got: &[T], label: &str| match rred {
        RefReduction::None => {
            for i in 0..n {
                assert_within::<T>(got[i].to_f64(), want_loss[i], roundings(i), scales[i], &|| {
                    what(label)
                });
            }
        }
        _ => {
            let scale: f64 = (0..n).map(|i| roundings(i) * scales[i]).sum::<f64>() / denom;
            assert_within::<T>(got[0].to_f64(), want_loss[0], 1.0, scale, &|| what(label));
        }
    };
    // `extra(i)`: roundings beyond the fused kernel's; the backward from a saved lse pays for
    // lse's own rounding (u·|lse|) and that of s − lse, both carried into e^(s − lse).
    let check_grad = |got: &[f64], label: &str, extra: &dyn Fn(usize) -> f64| {
        for i in 0..n {
            let g = match rred {
                RefReduction::None => dloss[i],
                RefReduction::Sum => dloss[0],
                RefReduction::Mean => dloss[0] / denom,
            };
            let p = r::softmax(&x[i * c..(i + 1) * c]);
            for j in 0..c {
                let e = i * c + j;
                let scale = match &coefs[i] {
                    None => 0.0,
                    Some(a) => g.abs() * (p[j] * a.iter().map(|v| v.abs()).sum::<f64>() + a[j].abs()),
                };
                assert_within::<T>(
                    got[e],
                    want_grad[e],
                    (c + 8) as f64 + 2.0 * row_dm[i] + extra(i),
                    scale,
                    &|| format!("{} at ({i},{j})", what(label)),
                );
            }
        }
    };

    // forward, saving lse
    let mut loss = vec![T::NAN; out_len];
    let mut lse = vec![T::NAN; n];
    nnkern::softmax_cross_entropy_forward(sx.view(), targets, &opts, &mut loss, Some(&mut lse)).unwrap();
    check_loss(&loss, "forward loss");
    for i in 0..n {
        let want = r::logsumexp(&x[i * c..(i + 1) * c]);
        assert_within::<T>(
            lse[i].to_f64(),
            want,
            (c + 6) as f64 + row_dm[i],
            want.abs() + 1.0,
            &|| what("lse"),
        );
    }
    // forward without lse gives the same loss, bit for bit
    let mut loss2 = vec![T::NAN; out_len];
    nnkern::softmax_cross_entropy_forward(sx.view(), targets, &opts, &mut loss2, None).unwrap();
    assert_eq!(
        loss.iter().map(|v| v.to_f64().to_bits()).collect::<Vec<_>>(),
        loss2.iter().map(|v| v.to_f64().to_bits()).collect::<Vec<_>>()
    );
    // backward from lse
    let mut d = Stored::<T>::nan(
        n,
        c,
        if k.red.is_multiple_of(2) {
            Layout::Contiguous
        } else {
            Layout::Strided
        },
    );
    nnkern::softmax_cross_entropy_backward(sx.view(), &lse, targets, &opts, &dloss_t, d.view_mut()).unwrap();
    assert!(d.padding_untouched());
    let lse_ref: Vec<f64> = (0..n).map(|i| r::logsumexp(&x[i * c..(i + 1) * c])).collect();
    check_grad(&d.values(), "backward", &|i| {
        2.0 * lse_ref[i].abs() + row_dm[i] + 2.0
    });
    // fused
    let mut loss3 = vec![T::NAN; out_len];
    let mut d3 = Stored::<T>::nan(n, c, Layout::Contiguous);
    nnkern::softmax_cross_entropy(sx.view(), targets, &opts, &dloss_t, &mut loss3, d3.view_mut()).unwrap();
    check_loss(&loss3, "fused loss");
    check_grad(&d3.values(), "fused grad", &|_| 0.0);
}

/// Per row of the N×C logits x: the largest distance of a logit below the row's maximum
/// (capped at `exp_cap`), the magnitude of the (s − m) the exponentials round.
fn row_spans<T: Float>(x: &[f64], n: usize, c: usize) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let row = &x[i * c..(i + 1) * c];
            let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            row.iter()
                .map(|v| (v - m).abs())
                .fold(0.0, f64::max)
                .min(exp_cap::<T>())
        })
        .collect()
}

/// Cross-entropy on probabilities, forward and backward, one case: soft (sparse) or one-hot
/// targets, reduction `red_idx % 3`, layouts [p, q, dp].
pub fn ce_probs<T: Float>(
    rng: &mut Rng,
    n: usize,
    c: usize,
    soft: bool,
    red_idx: usize,
    [lp, lq, ld]: [Layout; 3],
) {
    let p = rng.values::<T>(n * c, 0.01, 1.0);
    let labels: Vec<usize> = (0..n).map(|_| rng.below(c)).collect();
    let q: Vec<f64> = if soft {
        // sparse soft targets: about half are exactly 0
        (0..n * c)
            .map(|_| {
                if rng.uniform() < 0.5 {
                    0.0
                } else {
                    T::from_f64(rng.uniform()).to_f64()
                }
            })
            .collect()
    } else {
        (0..n * c)
            .map(|e| if labels[e / c] == e % c { 1.0 } else { 0.0 })
            .collect()
    };
    let (red, rred) = red_pair(red_idx);
    let sp = Stored::<T>::new(&p, n, c, lp);
    let sq = Stored::<T>::new(&q, n, c, lq);
    let targets = if soft {
        Targets::Probs(sq.view())
    } else {
        Targets::Classes(&labels)
    };
    let rows: Vec<f64> = (0..n)
        .map(|i| {
            (0..c)
                .filter(|&k| q[i * c + k] != 0.0)
                .map(|k| -q[i * c + k] * p[i * c + k].ln())
                .sum()
        })
        .collect();
    let out_len = if red == Reduction::None { n } else { 1 };
    let mut loss = vec![T::NAN; out_len];
    nnkern::cross_entropy_forward(sp.view(), targets, red, &mut loss).unwrap();
    // ln (2u) and a product (u) per term, C-term sum (C·u), the reduction (in f64).
    let scale_row = |i: usize| -> f64 { rows[i].abs() * (c + 4) as f64 };
    match rred {
        RefReduction::None => {
            for i in 0..n {
                assert_within::<T>(loss[i].to_f64(), rows[i], 1.0, scale_row(i), &|| {
                    format!("ce rows {n}×{c}")
                });
            }
        }
        _ => {
            let sum: f64 = rows.iter().sum();
            let sscale: f64 = (0..n).map(scale_row).sum();
            let (want, scale) = if rred == RefReduction::Mean {
                (sum / n as f64, sscale / n as f64)
            } else {
                (sum, sscale)
            };
            assert_within::<T>(loss[0].to_f64(), want, 1.0, scale + want.abs(), &|| {
                format!("ce {red:?} {n}×{c}")
            });
        }
    }
    let dloss = rng.values::<T>(out_len, 0.5, 2.0);
    let dloss_t: Vec<T> = dloss.iter().map(|&v| T::from_f64(v)).collect();
    let mut d = Stored::<T>::nan(n, c, ld);
    nnkern::cross_entropy_backward(sp.view(), targets, red, &dloss_t, d.view_mut()).unwrap();
    for (e, &g) in d.values().iter().enumerate() {
        let gi = match rred {
            RefReduction::None => dloss[e / c],
            RefReduction::Sum => dloss[0],
            RefReduction::Mean => dloss[0] / n as f64,
        };
        let want = if q[e] == 0.0 { 0.0 } else { -gi * q[e] / p[e] };
        assert_within::<T>(g, want, 4.0, want.abs(), &|| {
            format!("ce backward {red:?} {n}×{c} at {e}")
        });
    }
}

/// Binary cross-entropy on logits — forward, backward and fused — on one n×c case; `case`
/// picks the options: weight none / dense / per class (a stride-0 view), pos_weight or not,
/// hard or soft targets, logit spread, layouts.
pub fn bce<T: Float>(rng: &mut Rng, n: usize, c: usize, red: Reduction, case: usize) {
    // weight: 0 none, 1 dense, 2 per class (row stride 0); pos_weight on odd cases
    let weight_kind = case % 3;
    let with_pos = case % 2 == 1;
    let soft = case % 5 < 2;
    let spread = if case.is_multiple_of(4) { 60.0 } else { 6.0 };
    let x = rng.values::<T>(n * c, -spread, spread);
    let t: Vec<f64> = (0..n * c)
        .map(|_| {
            if soft {
                T::from_f64(rng.uniform()).to_f64()
            } else {
                rng.below(2) as f64
            }
        })
        .collect();
    let wv = rng.values::<T>(n * c, 0.0, 2.0);
    let wc = rng.values::<T>(c, 0.0, 2.0);
    let pw = rng.values::<T>(c, 0.0, 4.0);
    let (lx, lt) = (LAYOUTS[case % 3], LAYOUTS[(case / 3) % 3]);
    let sx = Stored::<T>::new(&x, n, c, lx);
    let st = Stored::<T>::new(&t, n, c, lt);
    let sw = Stored::<T>::new(&wv, n, c, LAYOUTS[(case / 9) % 3]);
    let wct: Vec<T> = wc.iter().map(|&v| T::from_f64(v)).collect();
    let pwt: Vec<T> = pw.iter().map(|&v| T::from_f64(v)).collect();
    let weight = match weight_kind {
        1 => Some(sw.view()),
        2 => Some(MatRef::from_strided(&wct, n, c, 0, 1).unwrap()),
        _ => None,
    };
    let w_at = |i: usize, k: usize| match weight_kind {
        1 => wv[i * c + k],
        2 => wc[k],
        _ => 1.0,
    };
    let p_at = |k: usize| if with_pos { pw[k] } else { 1.0 };
    let opts = BceOptions::default()
        .reduction(red)
        .weight(weight)
        .pos_weight(with_pos.then_some(&pwt[..]));
    let what = |s: &str| format!("{s} {n}×{c} {red:?} w{weight_kind} pos{with_pos} soft{soft}");

    // reference, per element
    let count = n * c;
    let mut want = vec![0.0; count];
    let mut grad = vec![0.0; count];
    let mut scale = vec![0.0; count];
    let mut gscale = vec![0.0; count];
    for i in 0..n {
        for k in 0..c {
            let e = i * c + k;
            let (l, g, s, gs) = r::bce(x[e], t[e], p_at(k));
            let w = w_at(i, k);
            (want[e], grad[e], scale[e], gscale[e]) = (w * l, w * g, w * s, w * gs);
        }
    }
    let out_len = if red == Reduction::None { count } else { 1 };
    let up: Vec<f64> = (0..out_len)
        .map(|_| T::from_f64(rng.range(-2.0, 2.0)).to_f64())
        .collect();
    let upt: Vec<T> = up.iter().map(|&v| T::from_f64(v)).collect();

    let check_loss = |got: &[T]| match red {
        Reduction::None => {
            for e in 0..count {
                assert_within::<T>(got[e].to_f64(), want[e], tol::BCE_ROUNDINGS, scale[e], &|| {
                    what("loss") + &format!(" at {e}")
                });
            }
        }
        _ => {
            let div = if red == Reduction::Mean { count as f64 } else { 1.0 };
            let sum: f64 = want.iter().sum();
            let s: f64 = scale.iter().sum();
            assert_within::<T>(
                got[0].to_f64(),
                sum / div,
                tol::BCE_ROUNDINGS + count as f64 + 2.0,
                s / div,
                &|| what("reduced loss"),
            );
        }
    };
    let check_grad = |got: &Stored<T>| {
        let g = got.values();
        for e in 0..count {
            let (u, div) = match red {
                Reduction::None => (up[e], 1.0),
                Reduction::Mean => (up[0], count as f64),
                Reduction::Sum => (up[0], 1.0),
                other => panic!("no reference for {other:?}: add one here"),
            };
            assert_within::<T>(
                g[e],
                u * grad[e] / div,
                tol::BCE_GRAD_ROUNDINGS,
                (u * gscale[e] / div).abs(),
                &|| what("grad") + &format!(" at {e} x={} t={}", x[e], t[e]),
            );
        }
        assert!(got.padding_untouched());
    };

    let mut loss = vec![T::NAN; out_len];
    nnkern::bce_with_logits_forward(sx.view(), st.view(), &opts, &mut loss).unwrap();
    check_loss(&loss);

    let lg = LAYOUTS[(case / 2) % 2]; // contiguous or padded (rows contiguous)
    let mut dx = Stored::<T>::nan(n, c, lg);
    nnkern::bce_with_logits_backward(sx.view(), st.view(), &opts, &upt, dx.view_mut()).unwrap();
    check_grad(&dx);

    let mut loss2 = vec![T::NAN; out_len];
    let mut dx2 = Stored::<T>::nan(n, c, lg);
    nnkern::bce_with_logits(sx.view(), st.view(), &opts, &upt, &mut loss2, dx2.view_mut()).unwrap();
    check_loss(&loss2);
    check_grad(&dx2);
    if cfg!(miri) {
        // Miri perturbs each libm result (exp, ln) at random: two runs may differ in the
        // last bits, so only the reference checks above apply there
        return;
    }
    // the fused kernel computes the same values as the split ones
    // (NaN padding compares as NaN: a NaN's sign and payload may change in conversion)
    let bits = |v: &[T]| {
        v.iter()
            .map(|x| {
                if x.is_nan() {
                    u64::MAX
                } else {
                    x.to_f64().to_bits()
                }
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(bits(&loss2), bits(&loss), "{}", what("fused loss"));
    assert_eq!(bits(&dx2.data), bits(&dx.data), "{}", what("fused grad"));
}

/// SGD and one Adam step (from a random state at step `step`) on `len` parameters.
///
/// SGD: p − lr·g, 2 roundings of |p| + |lr·g|. Adam, step s = lr·(m/c₁)/(√(v/c₂) + ε):
/// - m = β₁m₀ + (1−β₁)g may cancel, so its 3 roundings are of |β₁m₀| + |(1−β₁)g|, not of
///   |m|; s is linear in m, so they reach s as 3·u·|lr/(c₁·den)|·(|β₁m₀| + |(1−β₁)g|),
///   den = √(v/c₂) + ε;
/// - v's terms are all ≥ 0 (4 roundings of |v|, halved by the square root), the bias
///   corrections c = 1 − βᵗ, whose βᵗ is rounded to T (relative error u·βᵗ/c ≤ u/c once the
///   difference is taken, and 1 for the difference), the two quotients by c, the square
///   root, + ε, the product by lr and the quotient: 10 + 1/c₁ + 1/c₂ roundings of |s|;
/// - the subtraction p − s: 1 rounding of |p| + |s|.
pub fn optimizers<T: Float>(rng: &mut Rng, len: usize, lr: f64, step: u32) {
    let p0 = rng.values::<T>(len, -2.0, 2.0);
    let g = rng.values::<T>(len, -3.0, 3.0);
    let t = |v: &[f64]| v.iter().map(|&x| T::from_f64(x)).collect::<Vec<T>>();
    let lr_t = T::from_f64(lr);
    let lr = lr_t.to_f64();
    let mut p = t(&p0);
    nnkern::sgd_update(&mut p, &t(&g), lr_t).unwrap();
    for i in 0..len {
        let want = p0[i] - lr * g[i];
        assert_within::<T>(p[i].to_f64(), want, 2.0, p0[i].abs() + (lr * g[i]).abs(), &|| {
            format!("sgd_update [{i}]")
        });
    }
    let m0 = rng.values::<T>(len, -1.0, 1.0);
    let v0 = rng.values::<T>(len, 0.0, 1.0);
    let hp = nnkern::AdamParams::<T>::default().lr(lr_t);
    let (b1, b2, eps) = (hp.beta1.to_f64(), hp.beta2.to_f64(), hp.eps.to_f64());
    let (mut p, mut m, mut v) = (t(&p0), t(&m0), t(&v0));
    nnkern::adam_update(&mut p, &t(&g), &mut m, &mut v, step, &hp).unwrap();
    let (c1, c2) = (1.0 - b1.powi(step as i32), 1.0 - b2.powi(step as i32));
    for i in 0..len {
        let mi = b1 * m0[i] + (1.0 - b1) * g[i];
        let vi = b2 * v0[i] + (1.0 - b2) * g[i] * g[i];
        let den = (vi / c2).sqrt() + eps;
        let upd = lr * (mi / c1) / den;
        let m_terms = (b1 * m0[i]).abs() + ((1.0 - b1) * g[i]).abs();
        let scale =
            (11.0 + 1.0 / c1 + 1.0 / c2) * upd.abs() + 3.0 * (lr / (c1 * den)).abs() * m_terms + p0[i].abs();
        assert_within::<T>(p[i].to_f64(), p0[i] - upd, 1.0, scale, &|| {
            format!("adam_update [{i}] step {step}")
        });
        assert_within::<T>(
            m[i].to_f64(),
            mi,
            3.0,
            (b1 * m0[i]).abs() + ((1.0 - b1) * g[i]).abs(),
            &|| format!("adam m [{i}]"),
        );
        assert_within::<T>(v[i].to_f64(), vi, 4.0, vi.abs(), &|| format!("adam v [{i}]"));
    }
}

/// A first-order running error bound: the value of a reference quantity in f64 and a bound
/// on how far the kernel's T result may lie from it (Higham's running error analysis, ch. 3:
/// each stage's own roundings, as in `tol.rs`, plus its inputs' bounds carried through its
/// partial derivatives).
#[derive(Clone, Copy, Debug, Default)]
struct Bounded {
    v: f64,
    e: f64,
}

/// Σ_l a_l·b_l (+ `bias`) of k products, each operand with its bound: the sum's own error
/// γ_(k+1)·(Σ|a·b| + |bias|) (any summation order) plus Σ (|a|·e_b + |b|·e_a).
fn dot_bounded(terms: impl Iterator<Item = (Bounded, Bounded)>, bias: f64, u: f64) -> Bounded {
    let (mut v, mut mag, mut carried, mut k) = (bias, bias.abs(), 0.0, 1.0);
    for (a, b) in terms {
        v += a.v * b.v;
        mag += (a.v * b.v).abs();
        carried += a.v.abs() * b.e + b.v.abs() * a.e;
        k += 1.0;
    }
    Bounded {
        v,
        e: k * u * mag + carried,
    }
}

/// The fused training step (`TwoLayerNet::train_step`) on one shape and hidden activation,
/// against an f64 reference of the loss, the four gradients and the updated parameters,
/// each within its running error bound: the affine sums γ_(k+1) (`tol::gemm_bound`), the
/// activation's Lipschitz constant and roundings (`act_error`), the loss and dL/ds with the
/// softmax-cross-entropy's budgets of [`sce`] plus the scores' bounds carried through
/// ∂p_c/∂s_k = p_c(δ_ck − p_k) (|δp_c| ≤ 2·p_c·max_k |δs_k|, |δL_n| ≤ 2·max_k |δs_k|), the
/// activation's derivative with `tol::ACT_GRAD_ROUNDINGS`, and the update's two roundings.
pub fn two_layer_step<T: Float>(rng: &mut Rng, n: usize, [d, h, c]: [usize; 3], act: Activation) {
    use nnkern::layers::{Affine, Layer, Sgd, TwoLayerNet};
    let x = rng.values::<T>(n * d, -2.0, 2.0);
    let t: Vec<usize> = (0..n).map(|_| rng.below(c)).collect();
    let w1 = rng.values::<T>(d * h, -1.5, 1.5);
    let b1 = rng.values::<T>(h, -0.5, 0.5);
    let w2 = rng.values::<T>(h * c, -1.5, 1.5);
    let b2 = rng.values::<T>(c, -0.5, 0.5);
    let lr = 0.5;
    let tv = |v: &[f64]| v.iter().map(|&e| T::from_f64(e)).collect::<Vec<T>>();
    let mut net = TwoLayerNet::<T>::new(d, h, c, &mut nnkern::layers::Rng::new(0));
    net.hidden = Affine::new(tv(&w1), tv(&b1), d, h, act).unwrap();
    net.out = Affine::new(tv(&w2), tv(&b2), h, c, Activation::Identity).unwrap();
    let xt = tv(&x);
    let loss = net
        .train_step(
            MatRef::from_row_major(&xt, n, d).unwrap(),
            &t,
            &mut Sgd::new(T::from_f64(lr)),
        )
        .unwrap();

    let u = tol::u::<T>() * tol::ref_factor::<T>();
    let exact = |v: f64| Bounded { v, e: 0.0 };
    let (lip, act_r) = act_error(act);
    // forward, row by row
    let mut ys = vec![Bounded::default(); n * h];
    let mut zs = vec![Bounded::default(); n * h];
    let mut ss = vec![0.0; n * c];
    let mut s_err = vec![0.0_f64; n];
    for i in 0..n {
        for j in 0..h {
            let z = dot_bounded(
                (0..d).map(|q| (exact(x[i * d + q]), exact(w1[q * h + j]))),
                b1[j],
                u,
            );
            let y = act_ref(act, z.v);
            // the kinks of ReLU and LeakyReLU: within the bound of 0 either side may be taken
            let kinked = matches!(act, Activation::Relu | Activation::LeakyRelu(_));
            let kink = kinked && z.v.abs() <= z.e;
            zs[i * h + j] = z;
            ys[i * h + j] = Bounded {
                v: y,
                e: lip * z.e
                    + act_r * u * y.abs()
                    + act_eval_error(act, z.v) * u
                    + if kink { lip * z.e } else { 0.0 },
            };
        }
        for k in 0..c {
            let s = dot_bounded((0..h).map(|j| (ys[i * h + j], exact(w2[j * c + k]))), b2[k], u);
            ss[i * c + k] = s.v;
            s_err[i] = s_err[i].max(s.e);
        }
    }
    let opts = RefOpts {
        reduction: RefReduction::Mean,
        weight: None,
        ignore: None,
        eps: 0.0,
    };
    let (want_loss, ds_ref, scales) =
        r::softmax_cross_entropy(&ss, n, c, &RefTargets::Classes(t.clone()), &opts, &[1.0]);
    let row_dm = row_spans::<T>(&ss, n, c);
    let nf = n as f64;
    let loss_e: f64 = (0..n)
        .map(|i| (((2 * c + 8) as f64 + row_dm[i]) * u * scales[i] + 2.0 * s_err[i]) / nf)
        .sum::<f64>()
        + u * want_loss[0].abs();
    let what = |s: &str| format!("{s}: {n}×{d}→{h}→{c} {act:?}");
    assert_bounded::<T>(loss.to_f64(), want_loss[0], loss_e, &|| what("loss"));
    let mut ds = vec![Bounded::default(); n * c];
    for i in 0..n {
        let p = r::softmax(&ss[i * c..(i + 1) * c]);
        for k in 0..c {
            let onehot = if t[i] == k { 1.0 } else { 0.0 };
            let own = ((c + 8) as f64 + 2.0 * row_dm[i]) * u * (p[k] + onehot) / nf;
            ds[i * c + k] = Bounded {
                v: ds_ref[i * c + k],
                e: own + 2.0 * p[k] * s_err[i] / nf,
            };
        }
    }
    // backward
    let mut dz = vec![Bounded::default(); n * h];
    for i in 0..n {
        for j in 0..h {
            let dh = dot_bounded((0..c).map(|k| (ds[i * c + k], exact(w2[j * c + k]))), 0.0, u);
            let y = ys[i * h + j];
            let (v, e) = match act {
                Activation::Identity => (dh.v, dh.e),
                Activation::Relu => {
                    let v = act_grad_ref(act, y.v, dh.v);
                    // near the kink either branch may be taken
                    (v, dh.e + if y.v <= y.e { dh.v.abs() } else { 0.0 })
                }
                Activation::Sigmoid => {
                    let v = dh.v * y.v * (1.0 - y.v);
                    let e = (y.v * (1.0 - y.v)).abs() * dh.e
                        + dh.v.abs() * (1.0 - 2.0 * y.v).abs() * y.e
                        + tol::ACT_GRAD_ROUNDINGS * u * dh.v.abs() * y.v.abs() * (1.0 + y.v.abs());
                    (v, e)
                }
                Activation::Tanh => {
                    let v = dh.v * (1.0 - y.v * y.v);
                    let e = (1.0 - y.v * y.v).abs() * dh.e
                        + 2.0 * dh.v.abs() * y.v.abs() * y.e
                        + tol::ACT_GRAD_ROUNDINGS * u * dh.v.abs() * (1.0 + y.v * y.v);
                    (v, e)
                }
                Activation::LeakyRelu(sl) => {
                    let v = act_grad_ref(act, y.v, dh.v);
                    // near the kink either branch may be taken: |1 − slope|·|dh| apart
                    let kink = if y.v.abs() <= y.e {
                        (1.0 - sl).abs() * dh.v.abs()
                    } else {
                        0.0
                    };
                    (v, sl.abs().max(1.0) * dh.e + u * dh.v.abs() + kink)
                }
                Activation::Silu | Activation::GeluTanh | Activation::Gelu => {
                    // from the pre-activation z: f′ is Lipschitz with constant ½ for SiLU
                    // (max |f″| = 0.5 at 0), 0.8 for the tanh GELU (max |f″| ≈ 0.80 at 0)
                    // and 2φ(0) ≈ 0.80 for the exact GELU (f″ = φ(z)·(2 − z²))
                    let z = zs[i * h + j];
                    let lip2 = if act == Activation::Silu { 0.5 } else { 0.8 };
                    let g = act_grad_ref(act, z.v, 1.0);
                    let e = g.abs() * dh.e
                        + lip2 * dh.v.abs() * z.e
                        + tol::GATE_GRAD_ROUNDINGS * u * dh.v.abs() * (1.0 + z.v.abs()).powi(2);
                    (dh.v * g, e)
                }
                other => panic!("no reference for {other:?}: add one here"),
            };
            dz[i * h + j] = Bounded { v, e };
        }
    }
    let one = exact(1.0);
    let want_w1: Vec<Bounded> = (0..d * h)
        .map(|e| {
            let (q, j) = (e / h, e % h);
            dot_bounded((0..n).map(|i| (exact(x[i * d + q]), dz[i * h + j])), 0.0, u)
        })
        .collect();
    let want_b1: Vec<Bounded> = (0..h)
        .map(|j| dot_bounded((0..n).map(|i| (one, dz[i * h + j])), 0.0, u))
        .collect();
    let want_w2: Vec<Bounded> = (0..h * c)
        .map(|e| {
            let (j, k) = (e / c, e % c);
            dot_bounded((0..n).map(|i| (ys[i * h + j], ds[i * c + k])), 0.0, u)
        })
        .collect();
    let want_b2: Vec<Bounded> = (0..c)
        .map(|k| dot_bounded((0..n).map(|i| (one, ds[i * c + k])), 0.0, u))
        .collect();
    // the update p − lr·g: lr·(g's bound) + two roundings of |p| + |lr·g|
    let params0 = [&w1, &b1, &w2, &b2];
    let grads = net.hidden.grads().into_iter().chain(net.out.grads());
    let params = net.hidden.params().into_iter().chain(net.out.params());
    let wants = [want_w1, want_b1, want_w2, want_b2];
    let names = ["W1", "b1", "W2", "b2"];
    for (((g, p), want), (name, p0)) in grads.zip(params).zip(&wants).zip(names.iter().zip(params0)) {
        assert_eq!((g.len(), p.len()), (want.len(), want.len()));
        for e in 0..want.len() {
            let w = want[e];
            assert_bounded::<T>(g[e].to_f64(), w.v, w.e, &|| {
                format!("{} d{name}[{e}]", what("gradient"))
            });
            let step = lr * w.v;
            let bound = lr * w.e + 2.0 * u * (p0[e].abs() + step.abs());
            assert_bounded::<T>(p[e].to_f64(), p0[e] - step, bound, &|| {
                format!("{} {name}[{e}]", what("updated"))
            });
        }
    }
}
