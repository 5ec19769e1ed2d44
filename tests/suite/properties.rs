//! Property tests: arbitrary view geometry never panics (constructors answer Ok or Err), GEMM
//! through arbitrary valid strided views matches the naive reference, and every kernel
//! matches the f64 reference on random shapes, layouts, options, types and SIMD paths.

#![allow(clippy::needless_range_loop)] // index loops read as the formulas they check

use crate::common;

use common::checks::{self, Case, Kind};
use common::reference as r;
use common::tol::assert_within;
use common::{LAYOUTS, Layout, Rng};
use nnkern::{Accum, Activation, MatMut, MatRef, Reduction, SimdPath, Workspace, gemm, with_simd_path};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any (len, rows, cols, strides) is accepted exactly when every element is in bounds,
    /// and then every element is readable.
    #[test]
    fn view_constructors_never_panic(len in 0usize..64, rows in 0usize..12, cols in 0usize..12,
                                     rs in prop_oneof![0usize..16, Just(usize::MAX), Just(usize::MAX / 3)],
                                     cs in prop_oneof![0usize..16, Just(usize::MAX)]) {
        let data = vec![1.0_f32; len];
        let need = if rows == 0 || cols == 0 { Some(0) } else {
            (rows - 1).checked_mul(rs).and_then(|a| (cols - 1).checked_mul(cs).and_then(|b| a.checked_add(b))).and_then(|v| v.checked_add(1))
        };
        let fits = rs <= isize::MAX as usize && cs <= isize::MAX as usize && need.is_some_and(|n| n <= len);
        match MatRef::from_strided(&data, rows, cols, rs, cs) {
            Ok(v) => {
                prop_assert!(fits);
                for i in 0..rows { for j in 0..cols { prop_assert_eq!(v.get(i, j), Some(1.0)); } }
                prop_assert_eq!(v.get(rows, 0), None);
            }
            Err(_) => prop_assert!(!fits),
        }
        let mut data = vec![0.0_f32; len];
        if let Ok(mut v) = MatMut::from_strided(&mut data, rows, cols, rs, cs) {
            prop_assert!(fits);
            // writes land on distinct elements: the count of written cells equals rows·cols
            for i in 0..rows { for j in 0..cols { v.set(i, j, 1.0); } }
            prop_assert_eq!(data.iter().filter(|&&x| x == 1.0).count(), rows * cols);
        }
    }

    /// GEMM with padded/transposed strided operands equals the reference.
    #[test]
    fn gemm_on_random_strided_views(m in 0usize..9, k in 0usize..9, n in 0usize..9,
                                    pa in 0usize..3, pb in 0usize..3, pc in 0usize..3,
                                    ta: bool, tb: bool, tc: bool, seed: u64) {
        let mut rng = common::Rng::new(seed);
        let a = rng.values::<f64>(m * k, -1.0, 1.0);
        let b = rng.values::<f64>(k * n, -1.0, 1.0);
        // store a rows×cols matrix row-major (or transposed) with `pad` extra per line
        fn store(v: &[f64], rows: usize, cols: usize, pad: usize, t: bool) -> (Vec<f64>, usize, usize) {
            let (outer, inner) = if t { (cols, rows) } else { (rows, cols) };
            let ld = inner + pad;
            let mut d = vec![f64::NAN; outer * ld];
            for i in 0..rows { for j in 0..cols {
                let at = if t { j * ld + i } else { i * ld + j };
                d[at] = v[i * cols + j];
            } }
            if t { (d, 1, ld) } else { (d, ld, 1) }
        }
        let (da, ra, ca) = store(&a, m, k, pa, ta);
        let (db, rb, cb) = store(&b, k, n, pb, tb);
        let (mut dc, rc, cc) = store(&vec![0.0; m * n], m, n, pc, tc);
        dc.iter_mut().for_each(|x| *x = f64::NAN);
        gemm(1.0,
             MatRef::from_strided(&da, m, k, ra, ca).unwrap(),
             MatRef::from_strided(&db, k, n, rb, cb).unwrap(),
             0.0,
             MatMut::from_strided(&mut dc, m, n, rc, cc).unwrap()).unwrap();
        let (want, s) = r::matmul(&a, m, k, &b, n);
        for i in 0..m { for j in 0..n {
            assert_within::<f64>(dc[i * rc + j * cc], want[i * n + j], (k + 3) as f64, s[i * n + j], &|| format!("{m}×{k}×{n}"));
        } }
    }
}

/// Runs `f` for f32 or f64 on SIMD path `path` (skipped where the CPU lacks it).
fn on(path: usize, f: impl Fn()) {
    let p = SimdPath::ALL[path % 4];
    if p.is_supported() {
        with_simd_path(p, f).unwrap();
    }
}

fn lay(i: usize) -> Layout {
    LAYOUTS[i % 3]
}

fn out_lay(i: usize) -> Layout {
    checks::OUT_LAYOUTS[i % 2]
}

/// Every kernel on random shapes and random strided / transposed views, for f32 and f64 on a
/// random SIMD path, against the f64 reference with the bounds of `common::tol` — the same
/// checks the sweeps run on their fixed grids.
mod every_kernel {
    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn gemm_and_affine(m in 0usize..40, k in 0usize..40, n in 0usize..40, l in 0usize..729,
                           act in 0usize..Activation::ALL.len(), add: bool, f64_: bool, path in 0usize..4, seed: u64) {
            let mut rng = Rng::new(seed);
            let accum = if add { Accum::Add } else { Accum::Replace };
            let run = |rng: &mut Rng| {
                if f64_ {
                    checks::gemm::<f64>(rng, m, k, n, [lay(l), lay(l / 3), lay(l / 9)]);
                    checks::affine_forward::<f64>(rng, m, k, n, Activation::ALL[act], [lay(l / 27), lay(l / 81), lay(l / 243)]);
                    checks::affine_backward::<f64>(rng, &mut Workspace::new(), m, k, n, Activation::ALL[act], accum, &|o| lay(l / 3usize.pow(o as u32)));
                } else {
                    checks::gemm::<f32>(rng, m, k, n, [lay(l), lay(l / 3), lay(l / 9)]);
                    checks::affine_forward::<f32>(rng, m, k, n, Activation::ALL[act], [lay(l / 27), lay(l / 81), lay(l / 243)]);
                    checks::affine_backward::<f32>(rng, &mut Workspace::new(), m, k, n, Activation::ALL[act], accum, &|o| lay(l / 3usize.pow(o as u32)));
                }
            };
            on(path, || run(&mut Rng::new(seed ^ 1)));
            run(&mut rng);
        }

        #[test]
        fn activations_and_softmax(n in 0usize..40, c in 1usize..300, l in 0usize..243, which in 0usize..Activation::ALL.len(),
                                   f64_: bool, path in 0usize..4, seed: u64) {
            on(path, || {
                let mut rng = Rng::new(seed);
                if f64_ {
                    checks::activation_forward::<f64>(&mut rng, n, c, Activation::ALL[which], [lay(l), out_lay(l)]);
                    checks::activation_backward::<f64>(&mut rng, n, c, Activation::ALL[which], [lay(l), lay(l / 3), out_lay(l / 9)]);
                    checks::softmax_forward::<f64>(&mut rng, n, c, [lay(l / 3), out_lay(l), out_lay(l / 2)]);
                    checks::softmax_backward::<f64>(&mut rng, n, c, [lay(l), lay(l / 3), lay(l / 9), out_lay(l / 27), out_lay(l / 81)]);
                } else {
                    checks::activation_forward::<f32>(&mut rng, n, c, Activation::ALL[which], [lay(l), out_lay(l)]);
                    checks::activation_backward::<f32>(&mut rng, n, c, Activation::ALL[which], [lay(l), lay(l / 3), out_lay(l / 9)]);
                    checks::softmax_forward::<f32>(&mut rng, n, c, [lay(l / 3), out_lay(l), out_lay(l / 2)]);
                    checks::softmax_backward::<f32>(&mut rng, n, c, [lay(l), lay(l / 3), lay(l / 9), out_lay(l / 27), out_lay(l / 81)]);
                }
            });
        }

        #[test]
        fn losses(n in 0usize..40, c in 1usize..80, kind in 0usize..3, red in 0usize..3, weighted: bool, tiny_weights: bool,
                  ignore in 0usize..3, eps in prop_oneof![Just(0.0), Just(1.0), 0.0f64..1.0], l in 0usize..27,
                  bce_case in 0usize..120, f64_: bool, path in 0usize..4, seed: u64) {
            let kind = [Kind::Classes, Kind::Soft, Kind::OneHot][kind];
            let ignore = if matches!(kind, Kind::Classes) { ignore } else { 0 };
            let case = Case { n, c, kind, red, weighted, tiny_weights, ignore, eps, layout: lay(l) };
            let reduction = [Reduction::Mean, Reduction::Sum, Reduction::None][red];
            on(path, || {
                let mut rng = Rng::new(seed);
                if f64_ {
                    checks::sce::<f64>(&mut rng, &case);
                    checks::ce_probs::<f64>(&mut rng, n, c, kind_soft(kind), red, [lay(l), lay(l / 3), out_lay(l / 9)]);
                    checks::bce::<f64>(&mut rng, n, c, reduction, bce_case);
                } else {
                    checks::sce::<f32>(&mut rng, &case);
                    checks::ce_probs::<f32>(&mut rng, n, c, kind_soft(kind), red, [lay(l), lay(l / 3), out_lay(l / 9)]);
                    checks::bce::<f32>(&mut rng, n, c, reduction, bce_case);
                }
            });
        }

        #[test]
        // (a negative learning rate is an error, as in PyTorch: `hostile.rs` checks it)
        fn optimizers(len in 0usize..100, lr in 0.0f64..2.0, step in 1u32..50, f64_: bool, seed: u64) {
            let mut rng = Rng::new(seed);
            if f64_ { checks::optimizers::<f64>(&mut rng, len, lr, step) } else { checks::optimizers::<f32>(&mut rng, len, lr, step) }
        }
    }

    fn kind_soft(k: Kind) -> bool {
        matches!(k, Kind::Soft)
    }
}
