//! Binary cross-entropy on logits (forward, backward, fused) against the f64 reference, for
//! every reduction, with and without per-element weights (dense, and per class through a
//! stride-0 view) and pos_weight, hard and soft targets, strided and transposed views; plus
//! its non-finite table.

#![allow(clippy::needless_range_loop)] // index loops read as the formulas they check

use crate::common;

use common::checks;
use common::{Rng, SWEEP};
use nnkern::{BceOptions, Float, MatMut, MatRef, Reduction, bce_with_logits, bce_with_logits_forward};

const REDS: [Reduction; 3] = [Reduction::Mean, Reduction::Sum, Reduction::None];

fn sweep<T: Float>() {
    let mut rng = Rng::new(60);
    let mut case = 0usize;
    for &n in &SWEEP {
        for &c in &SWEEP {
            for red in REDS {
                case += 1;
                checks::bce::<T>(&mut rng, n, c, red, case);
            }
        }
    }
}
both_types!(bce_matches_reference_over_sweep, sweep);

/// Logits at the edges of the range and beyond, every target kind: the limits, no NaN from
/// finite or infinite logits, NaN in → NaN out.
fn nonfinite<T: Float>() {
    let big = T::from_f64(3.0e38_f64.min(T::MAX.to_f64()));
    let (inf, nan) = (T::INFINITY, T::NAN);
    // (x, t, loss, grad) with pos_weight 1, weight 1, Reduction::None, dloss 1
    let zero = T::ZERO;
    let one = T::ONE;
    let cases = [
        (big, zero, big, one),
        (big, one, zero, zero),
        (-big, zero, zero, zero),
        (-big, one, big, -one),
        (inf, zero, inf, one),
        (inf, one, zero, zero),
        (-inf, zero, zero, zero),
        (-inf, one, inf, -one),
        (nan, one, nan, nan),
        (zero, nan, nan, nan),
    ];
    for (x, t, l, g) in cases {
        let opts = BceOptions::default().reduction(Reduction::None);
        let (mut loss, mut dx) = ([T::NAN], [T::NAN]);
        bce_with_logits(
            MatRef::from_row_major(&[x], 1, 1).unwrap(),
            MatRef::from_row_major(&[t], 1, 1).unwrap(),
            &opts,
            &[one],
            &mut loss,
            MatMut::from_row_major(&mut dx, 1, 1).unwrap(),
        )
        .unwrap();
        let same = |a: T, b: T| (a.is_nan() && b.is_nan()) || a == b;
        assert!(same(loss[0], l), "loss of x={x} t={t}: {} want {l}", loss[0]);
        assert!(same(dx[0], g), "grad of x={x} t={t}: {} want {g}", dx[0]);
    }
    // a sum that overflows the type is +inf, not NaN
    if T::MAX.to_f64() < 1e300 {
        let x = [big, big];
        let mut loss = [T::NAN];
        let opts = BceOptions::default().reduction(Reduction::Sum);
        bce_with_logits_forward(
            MatRef::from_row_major(&x, 1, 2).unwrap(),
            MatRef::from_row_major(&[zero, zero], 1, 2).unwrap(),
            &opts,
            &mut loss,
        )
        .unwrap();
        assert_eq!(loss[0], T::INFINITY);
    }
    // Mean over no elements is NaN, as PyTorch
    let mut loss = [T::ZERO];
    bce_with_logits_forward(
        MatRef::<T>::from_row_major(&[], 0, 3).unwrap(),
        MatRef::<T>::from_row_major(&[], 0, 3).unwrap(),
        &BceOptions::default(),
        &mut loss,
    )
    .unwrap();
    assert!(loss[0].is_nan());
}
both_types!(bce_nonfinite_table, nonfinite);

/// The layout does not change a bit: dense operands run as one flat pass over a block,
/// strided ones row by row, and both add element (n, k) into the same partial sum in the
/// same order. Logits and targets as transposed views, weights with padded rows and a
/// gradient with padded rows give the dense call's loss and gradient exactly, for every
/// reduction, with and without pos_weight; short rows (segments crossing rows) and long ones
/// (several segments per row).
fn layout<T: Float>() {
    let mut rng = Rng::new(61);
    for (n, c) in [(37, 13), (9, 3), (5, 150)] {
        let len = n * c;
        let vals = |rng: &mut Rng, lo: f64, hi: f64| -> Vec<T> {
            (0..len).map(|_| T::from_f64(rng.range(lo, hi))).collect()
        };
        let (x, t, w) = (
            vals(&mut rng, -8.0, 8.0),
            vals(&mut rng, 0.0, 1.0),
            vals(&mut rng, 0.5, 2.0),
        );
        let p: Vec<T> = (0..c).map(|k| T::from_f64(0.5 + k as f64 / 7.0)).collect();
        // the transposed storage of x and t, read back through transposed views
        let tr = |v: &[T]| -> Vec<T> { (0..len).map(|e| v[(e % n) * c + e / n]).collect() };
        let (xt, tt) = (tr(&x), tr(&t));
        // weights with rows padded to c + 3
        let mut wp = vec![T::NAN; n * (c + 3)];
        for i in 0..n {
            wp[i * (c + 3)..i * (c + 3) + c].copy_from_slice(&w[i * c..i * c + c]);
        }
        for red in REDS {
            for pos in [false, true] {
                let out_len = if red == Reduction::None { len } else { 1 };
                let up: Vec<T> = (0..out_len).map(|_| T::from_f64(rng.range(-2.0, 2.0))).collect();
                let dense_opts = BceOptions::default()
                    .reduction(red)
                    .weight(Some(MatRef::from_row_major(&w, n, c).unwrap()))
                    .pos_weight(pos.then_some(&p[..]));
                let (mut l1, mut g1) = (vec![T::NAN; out_len], vec![T::NAN; len]);
                bce_with_logits(
                    MatRef::from_row_major(&x, n, c).unwrap(),
                    MatRef::from_row_major(&t, n, c).unwrap(),
                    &dense_opts,
                    &up,
                    &mut l1,
                    MatMut::from_row_major(&mut g1, n, c).unwrap(),
                )
                .unwrap();
                let strided_opts = BceOptions::default()
                    .reduction(red)
                    .weight(Some(MatRef::from_strided(&wp, n, c, c + 3, 1).unwrap()))
                    .pos_weight(pos.then_some(&p[..]));
                let (mut l2, mut g2) = (vec![T::NAN; out_len], vec![T::NAN; n * (c + 1)]);
                bce_with_logits(
                    MatRef::from_strided(&xt, n, c, 1, n).unwrap(),
                    MatRef::from_strided(&tt, n, c, 1, n).unwrap(),
                    &strided_opts,
                    &up,
                    &mut l2,
                    MatMut::from_strided(&mut g2, n, c, c + 1, 1).unwrap(),
                )
                .unwrap();
                let bits = |v: &[T]| v.iter().map(|e| e.to_f64().to_bits()).collect::<Vec<_>>();
                let what = format!("{n}x{c} {red:?} pos_weight {pos}");
                assert_eq!(bits(&l1), bits(&l2), "loss, {what}");
                let g2d: Vec<T> = (0..len).map(|e| g2[(e / c) * (c + 1) + e % c]).collect();
                assert_eq!(bits(&g1), bits(&g2d), "gradient, {what}");
            }
        }
    }
}
both_types!(bce_layout_does_not_change_a_bit, layout);
