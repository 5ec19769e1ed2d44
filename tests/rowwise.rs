//! Elementwise activations and row-wise softmax / log-softmax against the f64 reference over
//! the shape sweep, strided and transposed inputs, NaN-filled outputs.

#![allow(clippy::needless_range_loop)] // index loops read as the formulas they check

mod common;

use common::reference as r;
use common::tol::{self, assert_within, exp_cap};
use common::{LAYOUTS, Layout, Rng, SWEEP, SWEEP_NONZERO, Stored};
use nnkern::{Float, MatMut, MatRef, Result};

/// Output layouts of row kernels: unit column stride only.
const OUT_LAYOUTS: [Layout; 2] = [Layout::Contiguous, Layout::Strided];

type Fwd<T> = fn(MatRef<'_, T>, MatMut<'_, T>) -> Result<()>;
type Bwd<T> = fn(MatRef<'_, T>, MatRef<'_, T>, MatMut<'_, T>) -> Result<()>;
/// (name, kernel, reference, roundings)
type FwdCase<T> = (&'static str, Fwd<T>, fn(f64) -> f64, f64);
/// (name, kernel, reference, y range low, y range high)
type BwdCase<T> = (&'static str, Bwd<T>, fn(f64, f64) -> f64, f64, f64);

fn activations_sweep<T: Float>() {
    let mut rng = Rng::new(10);
    let fwd: [FwdCase<T>; 3] = [
        (
            "sigmoid",
            nnkern::sigmoid_forward,
            r::sigmoid,
            tol::SIGMOID_ROUNDINGS,
        ),
        ("tanh", nnkern::tanh_forward, f64::tanh, tol::TANH_ROUNDINGS),
        ("relu", nnkern::relu_forward, r::relu, 0.0),
    ];
    let mut case = 0;
    for &n in &SWEEP {
        for &c in &SWEEP {
            for (name, f, reff, rr) in fwd {
                case += 1;
                let x = rng.values::<T>(n * c, -30.0, 30.0);
                let sx = Stored::<T>::new(&x, n, c, LAYOUTS[case % 3]);
                let mut y = Stored::<T>::nan(n, c, OUT_LAYOUTS[case % 2]);
                f(sx.view(), y.view_mut()).unwrap();
                assert!(y.padding_untouched());
                for (e, &g) in y.values().iter().enumerate() {
                    let want = reff(x[e]);
                    // the function's own roundings, plus the input's rounding carried
                    // through a derivative bounded by 1
                    assert_within::<T>(g, want, 1.0, rr * want.abs(), &|| {
                        format!("{name} {n}×{c} x={}", x[e])
                    });
                }
            }
        }
    }
}
both_types!(activations_forward_match_reference, activations_sweep);

fn activation_grads_sweep<T: Float>() {
    let mut rng = Rng::new(11);
    let bwd: [BwdCase<T>; 3] = [
        (
            "sigmoid",
            nnkern::sigmoid_backward,
            |y, g| g * y * (1.0 - y),
            0.0,
            1.0,
        ),
        ("tanh", nnkern::tanh_backward, |y, g| g * (1.0 - y * y), -1.0, 1.0),
        (
            "relu",
            nnkern::relu_backward,
            |y, g| if y > 0.0 { g } else { 0.0 },
            -2.0,
            2.0,
        ),
    ];
    let mut case = 0;
    for &n in &SWEEP {
        for &c in &SWEEP {
            for (name, f, reff, lo, hi) in bwd {
                case += 1;
                let y = rng.values::<T>(n * c, lo, hi);
                let dy = rng.values::<T>(n * c, -3.0, 3.0);
                let sy = Stored::<T>::new(&y, n, c, LAYOUTS[case % 3]);
                let sdy = Stored::<T>::new(&dy, n, c, LAYOUTS[(case / 3) % 3]);
                let mut dx = Stored::<T>::nan(n, c, OUT_LAYOUTS[case % 2]);
                f(sy.view(), sdy.view(), dx.view_mut()).unwrap();
                assert!(dx.padding_untouched());
                for (e, &g) in dx.values().iter().enumerate() {
                    let scale = dy[e].abs() * (1.0 + y[e].abs()) * (1.0 + y[e].abs());
                    assert_within::<T>(g, reff(y[e], dy[e]), tol::ACT_GRAD_ROUNDINGS, scale, &|| {
                        format!("{name}_backward {n}×{c}")
                    });
                }
            }
        }
    }
}
both_types!(activations_backward_match_reference, activation_grads_sweep);

/// Logits spread wide enough that some exponentials underflow.
fn logits<T: Float>(rng: &mut Rng, len: usize) -> Vec<f64> {
    let spread = if rng.uniform() < 0.5 { 5.0 } else { 60.0 };
    rng.values::<T>(len, -spread, spread)
}

fn softmax_sweep<T: Float>() {
    let mut rng = Rng::new(12);
    let mut case = 0;
    for &n in &SWEEP {
        for &c in &SWEEP_NONZERO {
            case += 1;
            let x = logits::<T>(&mut rng, n * c);
            let sx = Stored::<T>::new(&x, n, c, LAYOUTS[case % 3]);
            let mut y = Stored::<T>::nan(n, c, OUT_LAYOUTS[case % 2]);
            let mut ly = Stored::<T>::nan(n, c, OUT_LAYOUTS[(case + 1) % 2]);
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
    }
}
both_types!(softmax_and_log_softmax_match_reference, softmax_sweep);

fn softmax_backward_sweep<T: Float>() {
    let mut rng = Rng::new(13);
    let mut case = 0;
    for &n in &SWEEP {
        for &c in &SWEEP_NONZERO {
            case += 1;
            let x = logits::<T>(&mut rng, n * c);
            let mut y = Vec::with_capacity(n * c);
            let mut ly = Vec::with_capacity(n * c);
            for i in 0..n {
                let row = &x[i * c..(i + 1) * c];
                y.extend(r::softmax(row).into_iter().map(|v| T::from_f64(v).to_f64()));
                ly.extend(r::log_softmax(row).into_iter().map(|v| T::from_f64(v).to_f64()));
            }
            let dy = rng.values::<T>(n * c, -1.0, 1.0);
            let sy = Stored::<T>::new(&y, n, c, LAYOUTS[case % 3]);
            let sly = Stored::<T>::new(&ly, n, c, LAYOUTS[(case + 1) % 3]);
            let sdy = Stored::<T>::new(&dy, n, c, LAYOUTS[(case + 2) % 3]);
            let mut dx = Stored::<T>::nan(n, c, OUT_LAYOUTS[case % 2]);
            let mut ldx = Stored::<T>::nan(n, c, OUT_LAYOUTS[(case + 1) % 2]);
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
    }
}
both_types!(softmax_backward_matches_reference, softmax_backward_sweep);

#[test]
fn large_batch_splits_rows_and_matches_small_batches() {
    // 3000×100 spans ~10 work blocks: each row must equal the same row computed alone.
    let (n, c) = (3000, 100);
    let mut rng = Rng::new(14);
    let x: Vec<f32> = rng
        .values::<f32>(n * c, -10.0, 10.0)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let mut y = vec![f32::NAN; n * c];
    nnkern::softmax_forward(
        MatRef::from_row_major(&x, n, c).unwrap(),
        MatMut::from_row_major(&mut y, n, c).unwrap(),
    )
    .unwrap();
    for i in (0..n).step_by(97) {
        let mut one = vec![0.0_f32; c];
        nnkern::softmax_forward(
            MatRef::from_row_major(&x[i * c..(i + 1) * c], 1, c).unwrap(),
            MatMut::from_row_major(&mut one, 1, c).unwrap(),
        )
        .unwrap();
        assert_eq!(&y[i * c..(i + 1) * c], &one[..], "row {i}");
    }
}
