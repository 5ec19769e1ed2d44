//! GEMM, MatMul and Affine against the naive f64 reference over the shape sweep, with
//! contiguous, strided and transposed operands, NaN-filled outputs, and both accumulate modes.

#![allow(clippy::needless_range_loop)] // index loops read as the formulas they check

use crate::common;

use common::checks;
use common::reference as r;
use common::tol::assert_within;
use common::{LAYOUTS, Layout, Rng, SWEEP, Stored};
use nnkern::{
    Accum, Activation, Float, GemmEngine, Workspace, activation_forward, affine_forward, gemm,
    with_gemm_engine,
};

fn layout(i: usize) -> Layout {
    LAYOUTS[i % 3]
}

fn gemm_sweep<T: Float>() {
    let mut rng = Rng::new(1);
    let mut case = 0;
    for &m in &SWEEP {
        for &k in &SWEEP {
            for &n in &SWEEP {
                case += 1;
                checks::gemm::<T>(
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

both_types!(gemm_matches_reference_over_sweep, gemm_sweep);

/// Layer-sized products (C with at most 16 columns): every row count up to 17, so each block
/// of the small-product kernel (4-row blocks and single rows for contiguous rows of A; 4, 8,
/// 12 or 16 accumulator rows for A = Xᵀ; gathered rows otherwise) and each packing of B.
fn small_products<T: Float>() {
    let mut rng = Rng::new(2);
    let mut case = 0;
    for m in 1..=17 {
        for k in [1, 2, 3, 10, 30] {
            for n in [1, 3, 10, 16] {
                case += 1;
                checks::gemm::<T>(
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

both_types!(gemm_small_products_every_row_count, small_products);

fn affine_forward_sweep<T: Float>() {
    let mut rng = Rng::new(2);
    let mut case = 0;
    for &nr in &SWEEP {
        for &d in &SWEEP {
            for &h in &SWEEP {
                case += 1;
                let lay = [layout(case), layout(case / 3), layout(case / 9)];
                checks::affine_forward::<T>(
                    &mut rng,
                    nr,
                    d,
                    h,
                    Activation::ALL[case % Activation::ALL.len()],
                    lay,
                );
            }
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
                checks::affine_backward::<T>(
                    &mut rng,
                    &mut ws,
                    nr,
                    d,
                    h,
                    Activation::ALL[case % Activation::ALL.len()],
                    accum,
                    &lay,
                );
            }
        }
    }
}

both_types!(
    affine_backward_matches_reference_over_sweep,
    affine_backward_sweep
);

/// Products large enough to be cut into parts — by rows (1100×130·130×520: 2 parts) and by
/// columns (130×200·200×1100: 2 parts, the last short), and a tall skinny one (1500×64·64×10,
/// run as its transpose on matrixmultiply), and two that nnkern's own engine cuts into row
/// chunks and blocks of k (2400×300·300×40) or into column panels (40×20·20×2100) — on every
/// engine compiled in, with
/// the bounds of the sweeps. Outputs with unit column stride take the fused epilogue;
/// transposed ones the unfused path.
fn split_products<T: Float>() {
    let mut rng = Rng::new(5);
    let mut ws = Workspace::<T>::new();
    for &(m, k, n) in &[
        (1100, 130, 520),
        (130, 200, 1100),
        (1500, 64, 10),
        (2400, 300, 40),
        (40, 20, 2100),
    ] {
        for &engine in GemmEngine::ALL {
            with_gemm_engine(engine, || {
                checks::gemm::<T>(
                    &mut rng,
                    m,
                    k,
                    n,
                    [Layout::Contiguous, Layout::Transposed, Layout::Strided],
                );
                for (i, &act) in Activation::ALL.iter().enumerate() {
                    let ly = if i == 3 { Layout::Transposed } else { layout(i + 1) };
                    checks::affine_forward::<T>(&mut rng, m, k, n, act, [layout(i), layout(i + 2), ly]);
                    let accum = if i % 2 == 0 { Accum::Replace } else { Accum::Add };
                    checks::affine_backward::<T>(&mut rng, &mut ws, m, k, n, act, accum, &|o| layout(o + i));
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

/// The activation of `affine_forward` is the elementwise kernel's, bit for bit, whatever the
/// output's layout: act(x·W + b) equals `activation_forward(act, ·)` applied to the same
/// layout's x·W + b (Identity), for contiguous, padded and transposed outputs (a transposed
/// output goes through the SIMD body by a buffer of 64), on every activation and SIMD path,
/// at widths each side of the per-part epilogue (16) and of the buffer.
fn activation_bits_in_every_output_layout<T: Float>() {
    let mut rng = Rng::new(17);
    for &(m, k, n) in &[(5, 7, 3), (9, 4, 70), (40, 12, 130)] {
        let x = Stored::<T>::new(&rng.values::<T>(m * k, -3.0, 3.0), m, k, Layout::Contiguous);
        let w = Stored::<T>::new(&rng.values::<T>(k * n, -3.0, 3.0), k, n, Layout::Contiguous);
        let b: Vec<T> = rng
            .values::<T>(n, -3.0, 3.0)
            .into_iter()
            .map(T::from_f64)
            .collect();
        for act in Activation::ALL {
            for out in LAYOUTS {
                common::each_path(|| {
                    let mut z = Stored::<T>::nan(m, n, out);
                    let mut y = Stored::<T>::nan(m, n, out);
                    affine_forward(x.view(), w.view(), &b, Activation::Identity, z.view_mut()).unwrap();
                    affine_forward(x.view(), w.view(), &b, act, y.view_mut()).unwrap();
                    let z = Stored::<T>::new(&z.values(), m, n, Layout::Contiguous);
                    let mut want = Stored::<T>::nan(m, n, Layout::Contiguous);
                    activation_forward(act, z.view(), want.view_mut()).unwrap();
                    let bits = |v: Vec<f64>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(
                        bits(y.values()),
                        bits(want.values()),
                        "{act:?}, {out:?} output, {m}×{k}·{k}×{n}, {:?}",
                        nnkern::simd_path()
                    );
                });
            }
        }
    }
}

#[test]
fn activation_bits_in_every_output_layout_f32() {
    activation_bits_in_every_output_layout::<f32>();
}

#[test]
fn activation_bits_in_every_output_layout_f64() {
    activation_bits_in_every_output_layout::<f64>();
}
