//! Binary cross-entropy on logits (forward, backward, fused) against the f64 reference, for
//! every reduction, with and without per-element weights (dense, and per class through a
//! stride-0 view) and pos_weight, hard and soft targets, strided and transposed views; plus
//! its non-finite table.

#![allow(clippy::needless_range_loop)] // index loops read as the formulas they check

mod common;

use common::reference as r;
use common::tol::{self, assert_within};
use common::{LAYOUTS, Rng, SWEEP, Stored};
use nnkern::{
    BceOptions, Float, MatMut, MatRef, Reduction, bce_with_logits, bce_with_logits_backward,
    bce_with_logits_forward,
};

const REDS: [Reduction; 3] = [Reduction::Mean, Reduction::Sum, Reduction::None];

fn sweep<T: Float>() {
    let mut rng = Rng::new(60);
    let mut case = 0usize;
    for &n in &SWEEP {
        for &c in &SWEEP {
            for red in REDS {
                case += 1;
                // weight: 0 none, 1 dense, 2 per class (row stride 0); pos_weight on odd cases
                let weight_kind = case % 3;
                let with_pos = case % 2 == 1;
                let soft = case % 5 < 2;
                let spread = if case % 4 == 0 { 60.0 } else { 6.0 };
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
                let opts = BceOptions {
                    reduction: red,
                    weight,
                    pos_weight: with_pos.then_some(&pwt[..]),
                };
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
                            assert_within::<T>(
                                got[e].to_f64(),
                                want[e],
                                tol::BCE_ROUNDINGS,
                                scale[e],
                                &|| what("loss") + &format!(" at {e}"),
                            );
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
                        };
                        assert_within::<T>(
                            g[e],
                            u * grad[e] / div,
                            tol::BCE_GRAD_ROUNDINGS,
                            (u * gscale[e] / div).abs(),
                            &|| what("grad") + &format!(" at {e}"),
                        );
                    }
                    assert!(got.padding_untouched());
                };

                let mut loss = vec![T::NAN; out_len];
                bce_with_logits_forward(sx.view(), st.view(), &opts, &mut loss).unwrap();
                check_loss(&loss);

                let lg = LAYOUTS[(case / 2) % 2]; // contiguous or padded (rows contiguous)
                let mut dx = Stored::<T>::nan(n, c, lg);
                bce_with_logits_backward(sx.view(), st.view(), &opts, &upt, dx.view_mut()).unwrap();
                check_grad(&dx);

                let mut loss2 = vec![T::NAN; out_len];
                let mut dx2 = Stored::<T>::nan(n, c, lg);
                bce_with_logits(sx.view(), st.view(), &opts, &upt, &mut loss2, dx2.view_mut()).unwrap();
                // the fused kernel computes the same values as the split ones
                let bits = |v: &[T]| v.iter().map(|x| x.to_f64().to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&loss2), bits(&loss), "{}", what("fused loss"));
                assert_eq!(bits(&dx2.data), bits(&dx.data), "{}", what("fused grad"));
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
        let opts = BceOptions {
            reduction: Reduction::None,
            ..Default::default()
        };
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
        let opts = BceOptions {
            reduction: Reduction::Sum,
            ..Default::default()
        };
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
