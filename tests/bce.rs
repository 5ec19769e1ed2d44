//! Binary cross-entropy on logits (forward, backward, fused) against the f64 reference, for
//! every reduction, with and without per-element weights (dense, and per class through a
//! stride-0 view) and pos_weight, hard and soft targets, strided and transposed views; plus
//! its non-finite table.

#![allow(clippy::needless_range_loop)] // index loops read as the formulas they check

mod common;

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
