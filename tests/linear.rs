//! GEMM, MatMul and Affine against the naive f64 reference over the shape sweep, with
//! contiguous, strided and transposed operands, NaN-filled outputs, and both accumulate modes.

#![allow(clippy::needless_range_loop)] // index loops read as the formulas they check

mod common;

use common::reference as r;
use common::tol::{self, assert_within};
use common::{LAYOUTS, Layout, Rng, SWEEP, Stored};
use nnkern::{
    Accum, Activation, AffineGrads, Float, GemmEngine, Workspace, affine_backward, affine_forward, gemm,
    with_gemm_engine,
};

const ACTS: [Activation; 4] = [
    Activation::Identity,
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::Relu,
];

fn layout(i: usize) -> Layout {
    LAYOUTS[i % 3]
}

/// (Lipschitz constant, relative roundings) of each activation.
fn act_error(act: Activation) -> (f64, f64) {
    match act {
        Activation::Identity => (1.0, 0.0),
        Activation::Relu => (1.0, 0.0),
        Activation::Sigmoid => (0.25, tol::SIGMOID_ROUNDINGS),
        Activation::Tanh => (1.0, tol::TANH_ROUNDINGS),
    }
}

fn act_ref(act: Activation, z: f64) -> f64 {
    match act {
        Activation::Identity => z,
        Activation::Sigmoid => r::sigmoid(z),
        Activation::Tanh => z.tanh(),
        Activation::Relu => r::relu(z),
    }
}

fn act_grad_ref(act: Activation, y: f64, dy: f64) -> f64 {
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
    }
}

fn gemm_sweep<T: Float>() {
    let mut rng = Rng::new(1);
    let mut case = 0;
    for &m in &SWEEP {
        for &k in &SWEEP {
            for &n in &SWEEP {
                case += 1;
                check_gemm::<T>(
                    &mut rng,
                    m,
                    k,
                    n,
                    [layout(case), layout(case / 3), layout(case / 9)],
                );
            }
        }
    }
}

/// gemm on one shape and layout of (A, B, C): β = 0 on a NaN output, then α = 2, β = ½ on a
/// filled one.
fn check_gemm<T: Float>(rng: &mut Rng, m: usize, k: usize, n: usize, [la, lb, lc]: [Layout; 3]) {
    let a = rng.values::<T>(m * k, -1.0, 1.0);
    let b = rng.values::<T>(k * n, -1.0, 1.0);
    let c0 = rng.values::<T>(m * n, -1.0, 1.0);
    let sa = Stored::<T>::new(&a, m, k, la);
    let sb = Stored::<T>::new(&b, k, n, lb);
    let mut out = Stored::<T>::nan(m, n, lc);
    gemm(T::ONE, sa.view(), sb.view(), T::ZERO, out.view_mut()).unwrap();
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
    gemm(two, sa.view(), sb.view(), half, out.view_mut()).unwrap();
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
both_types!(gemm_matches_reference_over_sweep, gemm_sweep);

fn affine_forward_sweep<T: Float>() {
    let mut rng = Rng::new(2);
    let mut case = 0;
    for &nr in &SWEEP {
        for &d in &SWEEP {
            for &h in &SWEEP {
                case += 1;
                let lay = [layout(case), layout(case / 3), layout(case / 9)];
                check_affine_forward::<T>(&mut rng, nr, d, h, ACTS[case % 4], lay);
            }
        }
    }
}

/// affine_forward on one shape, activation and layout of (x, W, y), y NaN-filled.
fn check_affine_forward<T: Float>(
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
    affine_forward(sx.view(), sw.view(), &bt, act, y.view_mut()).unwrap();
    assert!(y.padding_untouched());
    let (z, s) = r::matmul(&x, nr, d, &w, h);
    let got = y.values();
    let (lip, rr) = act_error(act);
    for i in 0..nr {
        for j in 0..h {
            let e = i * h + j;
            let want = act_ref(act, z[e] + b[j]);
            let scale = (d + 3) as f64 * lip * (s[e] + b[j].abs()) + rr * want.abs();
            assert_within::<T>(got[e], want, 1.0, scale, &|| {
                format!("affine_forward {act:?} {nr}×{d}·{d}×{h} {lx:?}/{lw:?}/{ly:?} at ({i},{j})")
            });
        }
    }
}
both_types!(affine_forward_matches_reference_over_sweep, affine_forward_sweep);

/// Backward of MatMul (identity activation) and Affine with each activation; dx, dW, db
/// checked against the reference; Replace on NaN outputs and Add on filled ones.
fn affine_backward_sweep<T: Float>() {
    let mut rng = Rng::new(3);
    let mut ws = Workspace::<T>::new();
    let mut case = 0;
    for &nr in &SWEEP {
        for &d in &SWEEP {
            for &h in &SWEEP {
                case += 1;
                let accum = if case % 5 == 0 { Accum::Add } else { Accum::Replace };
                let lay = |o: usize| layout(case / 3usize.pow(o as u32));
                check_affine_backward::<T>(&mut rng, &mut ws, nr, d, h, ACTS[case % 4], accum, &lay);
            }
        }
    }
}

/// affine_backward on one shape, activation and accumulate mode; `lay(i)` is the layout of
/// the i-th of (x, W, y, dy, dx, dW).
#[allow(clippy::too_many_arguments)]
fn check_affine_backward<T: Float>(
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
    let (ylo, yhi) = match act {
        Activation::Sigmoid => (0.0, 1.0),
        Activation::Tanh => (-1.0, 1.0),
        _ => (-1.0, 1.0),
    };
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
    };
    let mut db: Vec<T> = match accum {
        Accum::Replace => vec![T::NAN; h],
        Accum::Add => db0.iter().map(|&v| T::from_f64(v)).collect(),
    };
    let grads = AffineGrads {
        dx: Some(dx.view_mut()),
        dw: dw.view_mut(),
        db: &mut db,
    };
    affine_backward(sx.view(), sw.view(), sy.view(), sdy.view(), act, grads, accum, ws).unwrap();
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
    for e in 0..nr * d {
        let scale = (h + 3) as f64 * dx_s[e] + tol::ACT_GRAD_ROUNDINGS * dxs_scale[e];
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
        let scale = (nr + 4) as f64 * (dw_s[e] + base.abs()) + tol::ACT_GRAD_ROUNDINGS * dws_scale[e];
        assert_within::<T>(gdw[e], dw_ref[e] + base, 1.0, scale, &|| {
            format!("dW {act:?} {accum:?} {nr}×{d}×{h} at {e}")
        });
    }
    for j in 0..h {
        let base = if accum == Accum::Add { db0[j] } else { 0.0 };
        let want: f64 = (0..nr).map(|i| dz[i * h + j]).sum::<f64>() + base;
        let scale: f64 = (0..nr).map(|i| dz[i * h + j].abs()).sum::<f64>() * (nr + 4) as f64
            + base.abs() * 2.0
            + tol::ACT_GRAD_ROUNDINGS * (0..nr).map(|i| dzs[i * h + j]).sum::<f64>();
        assert_within::<T>(db[j].to_f64(), want, 1.0, scale, &|| {
            format!("db {act:?} {nr}×{d}×{h} at {j}")
        });
    }
}
both_types!(
    affine_backward_matches_reference_over_sweep,
    affine_backward_sweep
);

/// Products large enough to be cut into parts — by rows (1100×130·130×520: 2 parts) and by
/// columns (130×200·200×1100: 2 parts, the last short), and a tall skinny one (1500×64·64×10,
/// run as its transpose on matrixmultiply) — on every engine compiled in, with
/// the bounds of the sweeps. Outputs with unit column stride take the fused epilogue;
/// transposed ones the unfused path.
fn split_products<T: Float>() {
    let mut rng = Rng::new(5);
    let mut ws = Workspace::<T>::new();
    for &(m, k, n) in &[(1100, 130, 520), (130, 200, 1100), (1500, 64, 10)] {
        for &engine in GemmEngine::ALL {
            with_gemm_engine(engine, || {
                check_gemm::<T>(
                    &mut rng,
                    m,
                    k,
                    n,
                    [Layout::Contiguous, Layout::Transposed, Layout::Strided],
                );
                for (i, &act) in ACTS.iter().enumerate() {
                    let ly = if i == 3 { Layout::Transposed } else { layout(i + 1) };
                    check_affine_forward::<T>(&mut rng, m, k, n, act, [layout(i), layout(i + 2), ly]);
                    let accum = if i % 2 == 0 { Accum::Replace } else { Accum::Add };
                    check_affine_backward::<T>(&mut rng, &mut ws, m, k, n, act, accum, &|o| layout(o + i));
                }
            })
        }
    }
}

#[test]
fn split_products_f32() {
    split_products::<f32>();
}

#[test]
fn split_products_f64() {
    split_products::<f64>();
}

/// matmul_forward / matmul_backward are the identity-activation affine without bias; check
/// them directly on a smaller sweep, dx omitted half the time.
fn matmul_sweep<T: Float>() {
    let mut rng = Rng::new(4);
    let sizes = [0usize, 1, 3, 16, 17, 129];
    let mut case = 0;
    for &nr in &sizes {
        for &d in &sizes {
            for &h in &sizes {
                case += 1;
                let x = rng.values::<T>(nr * d, -1.0, 1.0);
                let w = rng.values::<T>(d * h, -1.0, 1.0);
                let dy = rng.values::<T>(nr * h, -1.0, 1.0);
                let sx = Stored::<T>::new(&x, nr, d, layout(case));
                let sw = Stored::<T>::new(&w, d, h, layout(case + 1));
                let sdy = Stored::<T>::new(&dy, nr, h, layout(case + 2));
                let mut y = Stored::<T>::nan(nr, h, layout(case / 3));
                nnkern::matmul_forward(sx.view(), sw.view(), y.view_mut()).unwrap();
                let (yr, ys) = r::matmul(&x, nr, d, &w, h);
                for (e, &g) in y.values().iter().enumerate() {
                    assert_within::<T>(g, yr[e], (d + 3) as f64, ys[e], &|| {
                        format!("matmul y {nr}×{d}×{h}")
                    });
                }
                let mut dx = Stored::<T>::nan(nr, d, layout(case / 2));
                let mut dw = Stored::<T>::nan(d, h, layout(case / 5));
                let want_dx = case % 2 == 0;
                let dxv = if want_dx { Some(dx.view_mut()) } else { None };
                nnkern::matmul_backward(
                    sx.view(),
                    sw.view(),
                    sdy.view(),
                    dxv,
                    dw.view_mut(),
                    Accum::Replace,
                )
                .unwrap();
                let (dxr, dxs) = r::matmul(&dy, nr, h, &r::transpose(&w, d, h), d);
                let (dwr, dws) = r::matmul(&r::transpose(&x, nr, d), d, nr, &dy, h);
                if want_dx {
                    for (e, &g) in dx.values().iter().enumerate() {
                        assert_within::<T>(g, dxr[e], (h + 3) as f64, dxs[e], &|| {
                            format!("matmul dx {nr}×{d}×{h}")
                        });
                    }
                } else {
                    assert!(
                        dx.data.iter().all(|v| v.is_nan()),
                        "dx = None must leave dx untouched"
                    );
                }
                for (e, &g) in dw.values().iter().enumerate() {
                    assert_within::<T>(g, dwr[e], (nr + 3) as f64, dws[e], &|| {
                        format!("matmul dW {nr}×{d}×{h}")
                    });
                }
            }
        }
    }
}
both_types!(matmul_matches_reference, matmul_sweep);

#[test]
fn gemm_alpha_zero_does_not_read_operands() {
    // BLAS convention: α = 0 → C ← β·C without reading A or B (NaN there does not leak).
    let a = [f32::NAN; 4];
    let mut c = [1.0_f32, 2.0, 3.0, 4.0];
    let av = nnkern::MatRef::from_row_major(&a, 2, 2).unwrap();
    gemm(
        0.0,
        av,
        av,
        2.0,
        nnkern::MatMut::from_row_major(&mut c, 2, 2).unwrap(),
    )
    .unwrap();
    assert_eq!(c, [2.0, 4.0, 6.0, 8.0]);
}

#[test]
fn gemm_broadcast_zero_stride_operand() {
    // B's rows all alias one row (row stride 0): allowed for inputs.
    let a = [1.0_f64, 2.0, 3.0];
    let b = [1.0_f64, -1.0];
    let mut c = [f64::NAN; 2];
    gemm(
        1.0,
        nnkern::MatRef::from_row_major(&a, 1, 3).unwrap(),
        nnkern::MatRef::from_strided(&b, 3, 2, 0, 1).unwrap(),
        0.0,
        nnkern::MatMut::from_row_major(&mut c, 1, 2).unwrap(),
    )
    .unwrap();
    assert_eq!(c, [6.0, -6.0]);
}
