//! Property tests: arbitrary view geometry never panics (constructors answer Ok or Err), and
//! GEMM through arbitrary valid strided views matches the naive reference.

#![allow(clippy::needless_range_loop)] // index loops read as the formulas they check

mod common;

use common::reference as r;
use common::tol::assert_within;
use nnkern::{MatMut, MatRef, gemm};
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
