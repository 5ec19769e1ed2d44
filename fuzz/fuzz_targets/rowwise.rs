//! Elementwise and row kernels — activations forward and backward, softmax (both masked-row
//! modes), log-softmax, their backwards, SGD and Adam — on arbitrary shapes, layouts and
//! values, on every SIMD path: never a panic; `Ok` results match an f64 reference.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nnkern::*;
use nnkern_fuzz::{ACTS, Input, Stored, act_eval_scale, act_ref, close, grad_ref, in_env, saved_of};

fuzz_target!(|bytes: &[u8]| {
    let mut inp = Input::new(bytes);
    let case = inp.byte() % 4;
    // the last two bytes choose the pool and the SIMD path
    let mut env = Input::new(&bytes[bytes.len().saturating_sub(2)..]);
    in_env(&mut env, || match case {
        0 => activations(&mut inp),
        1 => softmaxes(&mut inp),
        2 => softmax_grads(&mut inp),
        _ => optimizers(&mut inp),
    });
});

fn shape(inp: &mut Input<'_>) -> (usize, usize) {
    if inp.byte() % 8 == 0 {
        (inp.dim(255) * 8, inp.dim(255) * 2)
    } else {
        (inp.dim(12), inp.dim(40))
    }
}

fn activations(inp: &mut Input<'_>) {
    let (n, d) = shape(inp);
    let act = ACTS[inp.byte() as usize % ACTS.len()];
    let x = Stored::new(inp, n, d, false);
    let dn = if inp.byte() % 16 == 0 { inp.dim(5) } else { n };
    let mut y = Stored::out(inp, dn, d);
    let r = activation_forward(act, x.view(), y.view_mut());
    if dn != n {
        assert!(r.is_err());
        return;
    }
    r.unwrap();
    for i in 0..n {
        for j in 0..d {
            let xv = x.at(i, j) as f64;
            let want = act_ref(act, xv);
            close(y.at(i, j), want, want.abs() + act_eval_scale(act, xv), 3e-7, "activation_forward");
        }
    }
    let dy = Stored::new(inp, n, d, true);
    let mut dx = Stored::out(inp, n, d);
    activation_backward(act, saved_of(act, y.view()), dy.view(), dx.view_mut()).unwrap();
    for i in 0..n {
        for j in 0..d {
            let (yv, g) = (y.at(i, j) as f64, dy.at(i, j) as f64);
            let want = grad_ref(act, yv, g);
            let scale = g.abs() * (1.0 + yv.abs()) * (1.0 + yv.abs());
            // the gated derivatives' 24 roundings (tests/suite/common/tol.rs), the others' 3 and margin
            let tol = if act.needs_input() { 1.5e-6 } else { 4e-7 };
            close(dx.at(i, j), want, scale, tol, "activation_backward");
        }
    }
}

/// Reference softmax of one row (NaN for rows with NaN or +∞, or all −∞).
fn softmax_ref(row: &[f64]) -> Vec<f64> {
    let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if row.iter().any(|v| v.is_nan()) || !m.is_finite() {
        return vec![f64::NAN; row.len()];
    }
    let e: Vec<f64> = row.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

fn softmaxes(inp: &mut Input<'_>) {
    let (n, c) = shape(inp);
    let x = Stored::new(inp, n, c, false);
    let zero_masked = inp.flag();
    let mut y = Stored::out(inp, n, c);
    let opts = SoftmaxOptions::default().masked_rows(if zero_masked { MaskedRows::Zero } else { MaskedRows::Nan });
    let r = softmax_forward_with(x.view(), y.view_mut(), &opts);
    if c == 0 {
        assert!(r.is_err());
        return;
    }
    r.unwrap();
    let mut ly = Stored::out(inp, n, c);
    log_softmax_forward(x.view(), ly.view_mut()).unwrap();
    for i in 0..n {
        let row: Vec<f64> = (0..c).map(|j| x.at(i, j) as f64).collect();
        let all_neg_inf = row.iter().all(|&v| v == f64::NEG_INFINITY);
        let p = softmax_ref(&row);
        for j in 0..c {
            let want = if all_neg_inf && zero_masked { 0.0 } else { p[j] };
            close(
                y.at(i, j),
                want,
                want.abs() + 1e-38,
                64.0 * 6e-8 + c as f64 * 6e-8,
                "softmax",
            );
            // log-softmax: ln p, compared where p is a normal f32 (else only its sign and NaN-ness)
            let l = ly.at(i, j);
            if p[j].is_nan() {
                assert!(l.is_nan(), "log_softmax NaN row");
            } else if p[j] > 1e-30 {
                close(
                    l,
                    p[j].ln(),
                    p[j].ln().abs() + 1.0,
                    64.0 * 6e-8 + c as f64 * 6e-8,
                    "log_softmax",
                );
            } else {
                assert!(l <= 0.0 || l.is_nan(), "log_softmax {l} > 0");
            }
        }
    }
}

fn softmax_grads(inp: &mut Input<'_>) {
    let (n, c) = shape(inp);
    let x = Stored::new(inp, n, c, true);
    let dy = Stored::new(inp, n, c, true);
    let mut y = Stored::out(inp, n, c);
    if softmax_forward(x.view(), y.view_mut()).is_err() {
        assert_eq!(c, 0);
        return;
    }
    let mut dx = Stored::out(inp, n, c);
    softmax_backward(y.view(), dy.view(), dx.view_mut()).unwrap();
    for i in 0..n {
        let dot: f64 = (0..c).map(|j| y.at(i, j) as f64 * dy.at(i, j) as f64).sum();
        let dabs: f64 = (0..c)
            .map(|j| (y.at(i, j) as f64 * dy.at(i, j) as f64).abs())
            .sum();
        for j in 0..c {
            let yv = y.at(i, j) as f64;
            let want = yv * (dy.at(i, j) as f64 - dot);
            let scale = yv * (dy.at(i, j).abs() as f64 + dabs);
            close(
                dx.at(i, j),
                want,
                scale,
                (c + 4) as f64 * 6e-8,
                "softmax_backward",
            );
        }
    }
    let mut ly = Stored::out(inp, n, c);
    log_softmax_forward(x.view(), ly.view_mut()).unwrap();
    let mut ldx = Stored::out(inp, n, c);
    log_softmax_backward(ly.view(), dy.view(), ldx.view_mut()).unwrap();
    for i in 0..n {
        let sum: f64 = (0..c).map(|j| dy.at(i, j) as f64).sum();
        let sabs: f64 = (0..c).map(|j| dy.at(i, j).abs() as f64).sum();
        for j in 0..c {
            let p = (ly.at(i, j) as f64).exp();
            let want = dy.at(i, j) as f64 - p * sum;
            let scale = dy.at(i, j).abs() as f64 + p * sabs * 2.0;
            close(
                ldx.at(i, j),
                want,
                scale,
                (c + 8) as f64 * 6e-8,
                "log_softmax_backward",
            );
        }
    }
}

fn optimizers(inp: &mut Input<'_>) {
    let n = inp.dim(64);
    let gl = if inp.byte() % 16 == 0 { inp.dim(64) } else { n };
    let p0: Vec<f32> = (0..n).map(|_| inp.value()).collect();
    let g: Vec<f32> = (0..gl).map(|_| inp.value()).collect();
    let lr = if inp.byte() % 8 == 0 {
        inp.value()
    } else {
        inp.moderate()
    };
    let mut p = p0.clone();
    let r = sgd_update(&mut p, &g, lr);
    if gl != n || !(lr >= 0.0 && lr.is_finite()) {
        assert!(r.is_err());
        assert!(p.iter().zip(&p0).all(|(a, b)| a.to_bits() == b.to_bits()));
        return;
    }
    r.unwrap();
    // (the f64 oracle does not overflow where f32 does: it holds for moderate rates only)
    for k in (0..n).filter(|_| lr <= 16.0) {
        let want = p0[k] as f64 - lr as f64 * g[k] as f64;
        let scale = p0[k].abs() as f64 + (lr as f64 * g[k] as f64).abs();
        close(p[k], want, scale, 2.5e-7, "sgd_update");
    }
    let (mut m, mut v) = (vec![0.0_f32; n], vec![0.0_f32; n]);
    let step = inp.byte() as u32 % 4;
    let mut hp = AdamParams::default();
    if inp.flag() {
        hp.beta1 = inp.value();
        hp.beta2 = inp.value();
        hp.eps = inp.value();
    }
    let p1 = p.clone();
    let r = adam_update(&mut p, &g, &mut m, &mut v, step, &hp);
    let beta_ok = |b: f32| (0.0..1.0).contains(&b);
    let ok = step != 0 && beta_ok(hp.beta1) && beta_ok(hp.beta2) && hp.eps > 0.0 && hp.eps.is_finite();
    assert_eq!(r.is_ok(), ok, "{hp:?} step {step}");
    if !ok {
        assert!(
            p.iter().zip(&p1).all(|(a, b)| a.to_bits() == b.to_bits()),
            "no update on Err"
        );
    }
}
