//! Cross-entropy on probabilities and the softmax-cross-entropy (forward, backward from the
//! saved log-sum-exp, and fused) against the f64 reference, for both target kinds, every
//! reduction, class weights, ignore_index and label smoothing, alone and combined.

#![allow(clippy::needless_range_loop)] // index loops read as the formulas they check

use crate::common;

use common::checks::{self, Case, Kind};
use common::{LAYOUTS, Layout, Rng, SWEEP, SWEEP_NONZERO};
use nnkern::{Float, MatRef, Reduction, Targets};

fn sce_sweep<T: Float>() {
    let mut rng = Rng::new(20);
    let mut i = 0;
    for &n in &SWEEP {
        for &c in &SWEEP_NONZERO {
            i += 1;
            let kind = [Kind::Classes, Kind::Soft, Kind::OneHot][i % 3];
            let case = Case {
                n,
                c,
                kind,
                red: i / 3,
                weighted: (i / 9) % 2 == 1,
                tiny_weights: false,
                ignore: if matches!(kind, Kind::Classes) {
                    (i / 2) % 3
                } else {
                    0
                },
                eps: [0.0, 0.1, 1.0][(i / 5) % 3],
                layout: LAYOUTS[(i / 7) % 3],
            };
            checks::sce::<T>(&mut rng, &case);
        }
    }
}
both_types!(softmax_cross_entropy_over_sweep, sce_sweep);

/// Class weights in the subnormal range (a weight sum whose reciprocal overflows the type):
/// every reduction and target kind, long and short rows, with and without smoothing and
/// ignored rows. `Mean` divides by the weight sum last, so its gradients stay finite (they
/// were ±∞ or NaN when dloss/Σw was formed first).
fn sce_subnormal_weights<T: Float>() {
    let mut rng = Rng::new(23);
    for &(n, c) in &[(3, 3), (37, 10), (40, 300)] {
        for red in 0..3 {
            for (i, kind) in [Kind::Classes, Kind::Soft].into_iter().enumerate() {
                for eps in [0.0, 0.25] {
                    checks::sce::<T>(
                        &mut rng,
                        &Case {
                            n,
                            c,
                            kind,
                            red,
                            weighted: true,
                            tiny_weights: true,
                            ignore: if i == 0 { red % 2 } else { 0 },
                            eps,
                            layout: LAYOUTS[(red + i) % 3],
                        },
                    );
                }
            }
        }
    }
}
both_types!(
    softmax_cross_entropy_subnormal_class_weights,
    sce_subnormal_weights
);

/// Every combination of options, on a few shapes.
fn sce_option_grid<T: Float>() {
    let mut rng = Rng::new(21);
    for &(n, c) in &[(1, 1), (7, 5), (33, 17)] {
        for kind in [Kind::Classes, Kind::Soft, Kind::OneHot] {
            for red in 0..3 {
                for weighted in [false, true] {
                    let ignores: &[usize] = if matches!(kind, Kind::Classes) {
                        &[0, 1, 2]
                    } else {
                        &[0]
                    };
                    for &ignore in ignores {
                        for eps in [0.0, 0.25, 1.0] {
                            let layout = LAYOUTS[(red + ignore) % 3];
                            checks::sce::<T>(
                                &mut rng,
                                &Case {
                                    n,
                                    c,
                                    kind,
                                    red,
                                    weighted,
                                    tiny_weights: false,
                                    ignore,
                                    eps,
                                    layout,
                                },
                            );
                        }
                    }
                }
            }
        }
    }
}
both_types!(softmax_cross_entropy_every_option_combination, sce_option_grid);

/// Every target kind with every class count up to 17 (the kernels take rows of at most 16
/// classes a lane per row, padded to 1–4, 8, 10, 12 or 16 columns) and batches that do and do
/// not fill their 16-row groups, the options and layouts cycling.
fn sce_short_rows<T: Float>() {
    let mut rng = Rng::new(22);
    let mut i = 0;
    for c in 1..=17 {
        for n in [1, 16, 37] {
            for kind in [Kind::Classes, Kind::Soft, Kind::OneHot] {
                i += 1;
                checks::sce::<T>(
                    &mut rng,
                    &Case {
                        n,
                        c,
                        kind,
                        red: i % 3,
                        weighted: (i / 3) % 2 == 1,
                        tiny_weights: false,
                        ignore: if matches!(kind, Kind::Classes) {
                            (i / 2) % 3
                        } else {
                            0
                        },
                        eps: [0.0, 0.1, 1.0][(i / 4) % 3],
                        layout: LAYOUTS[(i / 5) % 3],
                    },
                );
            }
        }
    }
}
both_types!(softmax_cross_entropy_short_rows, sce_short_rows);

fn ce_probs_sweep<T: Float>() {
    let mut rng = Rng::new(22);
    let mut case = 0;
    for &n in &SWEEP {
        for &c in &SWEEP_NONZERO {
            case += 1;
            let soft = case % 2 == 0;
            let ld = if soft { Layout::Contiguous } else { Layout::Strided };
            checks::ce_probs::<T>(
                &mut rng,
                n,
                c,
                soft,
                case / 2,
                [LAYOUTS[case % 3], LAYOUTS[(case + 1) % 3], ld],
            );
        }
    }
}
both_types!(cross_entropy_on_probabilities_over_sweep, ce_probs_sweep);

#[test]
fn mean_divides_by_batch_size_not_classes() {
    // The book's slip: dividing by ndim instead of N. 4 rows, 3 classes, uniform p = 1/3.
    let p = [1.0_f64 / 3.0; 12];
    let mut loss = [0.0];
    nnkern::cross_entropy_forward(
        MatRef::from_row_major(&p, 4, 3).unwrap(),
        Targets::Classes(&[0, 1, 2, 0]),
        Reduction::Mean,
        &mut loss,
    )
    .unwrap();
    assert!((loss[0] - 3.0_f64.ln()).abs() < 1e-15, "{}", loss[0]);
}

/// Fuzzing regression (`fuzz/` target `losses`): a long row of equal logits but one, in a
/// padded column-major view, on every path. Its log-sum-exp m + ln(1 + rest) cancels (m < 0 <
/// ln S), so its error is bounded by the C-term sum's C·u relative to |m| + ln S, not to the
/// result; the fuzz oracle had used the result.
fn long_equal_rows<T: Float>() {
    let (n, c) = (3, 452);
    let mut x = vec![-4.0; n * c];
    x[0] = -3.8125;
    let sx = common::Stored::<T>::new(&x, n, c, Layout::Transposed);
    let mut loss = [T::NAN];
    let mut lse = vec![T::NAN; n];
    let labels = [0, 1, 2];
    nnkern::softmax_cross_entropy_forward(
        sx.view(),
        Targets::Classes(&labels),
        &Default::default(),
        &mut loss,
        Some(&mut lse),
    )
    .unwrap();
    for i in 0..n {
        let row = &x[i * c..(i + 1) * c];
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let ln_s = row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        common::tol::assert_within::<T>(lse[i].to_f64(), m + ln_s, (c + 4) as f64, m.abs() + ln_s, &|| {
            format!("lse of row {i}")
        });
    }
}
both_types!(lse_of_long_rows_that_cancel, long_equal_rows);

/// Fuzzing regression (`fuzz/` target `losses`): the forward alone sums scalar exponentials,
/// the fused kernel its SIMD ones, so their losses may differ in the last bits — never by more
/// than a few ulps of the loss (a sum of non-negative terms). The row the fuzzer found, then
/// seeded random rows, on every path.
fn fused_matches_forward<T: Float>() {
    let mut rng = Rng::new(23);
    let found: Vec<f64> = [3.65625; 4]
        .into_iter()
        .chain([-1.9375])
        .chain([-4.0; 15])
        .collect();
    let mut rows = vec![(found, 1, 20)];
    for c in [3, 20, 100, 1000] {
        rows.push((checks::logits::<T>(&mut rng, 7 * c), 7, c));
    }
    for (x, n, c) in rows {
        let xt: Vec<T> = x.iter().map(|&v| T::from_f64(v)).collect();
        let xv = MatRef::from_row_major(&xt, n, c).unwrap();
        let labels: Vec<usize> = (0..n).map(|i| (i * 7) % c).collect();
        let opts = nnkern::CrossEntropyOptions::default().reduction(Reduction::None);
        let (mut a, mut b) = (vec![T::NAN; n], vec![T::NAN; n]);
        nnkern::softmax_cross_entropy_forward(xv, Targets::Classes(&labels), &opts, &mut a, None).unwrap();
        let mut g = vec![T::ZERO; n * c];
        let gm = nnkern::MatMut::from_row_major(&mut g, n, c).unwrap();
        nnkern::softmax_cross_entropy(xv, Targets::Classes(&labels), &opts, &vec![T::ONE; n], &mut b, gm)
            .unwrap();
        for i in 0..n {
            common::tol::assert_within::<T>(a[i].to_f64(), b[i].to_f64(), 8.0, b[i].to_f64().abs(), &|| {
                format!("row {i} of {n}×{c}")
            });
        }
    }
}
both_types!(
    fused_and_forward_losses_agree_to_a_few_ulps,
    fused_matches_forward
);

/// Long rows read each row's maximum in the pass over the row before it: an ignored row
/// between rows far apart must not hand its own maximum on. Rows around −400 and +400 (e^800
/// overflows both types, so a row scaled by another row's maximum would be NaN), the middle
/// one ignored; each loss matches the forward's, and the gradient is finite (0 on the ignored
/// row).
fn ignored_long_row_between_distant_rows<T: Float>() {
    let mut rng = Rng::new(24);
    let (n, c) = (4, 100);
    let offsets = [0.0, -400.0, 400.0, 0.0];
    let x: Vec<T> = checks::logits::<T>(&mut rng, n * c)
        .iter()
        .enumerate()
        .map(|(k, &v)| T::from_f64(v + offsets[k / c]))
        .collect();
    let labels = [3, 7, 11, 13];
    let opts = nnkern::CrossEntropyOptions::default()
        .reduction(Reduction::None)
        .ignore_index(Some(7));
    let xv = MatRef::from_row_major(&x, n, c).unwrap();
    let (mut a, mut b) = (vec![T::NAN; n], vec![T::NAN; n]);
    nnkern::softmax_cross_entropy_forward(xv, Targets::Classes(&labels), &opts, &mut a, None).unwrap();
    let mut g = vec![T::NAN; n * c];
    let gm = nnkern::MatMut::from_row_major(&mut g, n, c).unwrap();
    nnkern::softmax_cross_entropy(xv, Targets::Classes(&labels), &opts, &[T::ONE; 4], &mut b, gm).unwrap();
    for i in 0..n {
        common::tol::assert_within::<T>(a[i].to_f64(), b[i].to_f64(), 8.0, b[i].to_f64().abs(), &|| {
            format!("row {i}")
        });
    }
    assert!(g.iter().all(|v| v.is_finite()), "a non-finite gradient");
    assert!(
        g[c..2 * c].iter().all(|&v| v == T::ZERO),
        "the ignored row's gradient"
    );
}
both_types!(
    ignored_long_row_hands_on_no_maximum,
    ignored_long_row_between_distant_rows
);

/// Fuzzing regressions (`fuzz/` target `losses`): probability "targets" far from a
/// distribution (all −4, as PyTorch accepts) make B = Σ w·q′ large, and ∂l/∂s = p·B − w·q′
/// scales p's rounding by |B|. The split backward's p = e^(s − lse) carries |lse|·u from the
/// saved log-sum-exp and the forward's C-term sum, the fused one its own sum: both stay
/// within (C + 16)·u·|g|·(Σ|q| + 1)·max(|lse|, 1) of the f64 truth.
fn split_and_fused_grads_with_large_targets<T: Float>() {
    let (n, c) = (4, 1020);
    let mut x = vec![-4.0; n * c];
    for (i, v) in x.iter_mut().enumerate().take(6) {
        *v = if i < 5 { 3.96875 } else { -2.40625 };
    }
    let xt: Vec<T> = x.iter().map(|&v| T::from_f64(v)).collect();
    let q = vec![T::from_f64(-4.0); n * c];
    let xv = MatRef::from_row_major(&xt, n, c).unwrap();
    let targets = Targets::Probs(MatRef::from_row_major(&q, n, c).unwrap());
    let opts = nnkern::CrossEntropyOptions::default();
    let dl = [T::from_f64(-4.0)];
    let (mut loss, mut lse) = ([T::NAN], vec![T::NAN; n]);
    nnkern::softmax_cross_entropy_forward(xv, targets, &opts, &mut loss, Some(&mut lse)).unwrap();
    let mut split = vec![T::NAN; n * c];
    let sm = nnkern::MatMut::from_row_major(&mut split, n, c).unwrap();
    nnkern::softmax_cross_entropy_backward(xv, &lse, targets, &opts, &dl, sm).unwrap();
    let mut fused = vec![T::NAN; n * c];
    let fm = nnkern::MatMut::from_row_major(&mut fused, n, c).unwrap();
    nnkern::softmax_cross_entropy(xv, targets, &opts, &dl, &mut loss, fm).unwrap();
    // The fused loss against the forward's (fuzz finding 4): with these targets the row's
    // terms q·(lse − s) cancel, so they agree to C·u of Σ|q|·(|s| + |lse|), not of the loss.
    let (mut fwd, mut lse2) = ([T::NAN], vec![T::NAN; n]);
    nnkern::softmax_cross_entropy_forward(xv, targets, &opts, &mut fwd, Some(&mut lse2)).unwrap();
    let spread: f64 = (0..n)
        .map(|i| {
            (0..c)
                .map(|j| 4.0 * (x[i * c + j].abs() + lse2[i].to_f64().abs()))
                .sum::<f64>()
        })
        .sum::<f64>()
        / n as f64;
    common::tol::assert_within::<T>(fwd[0].to_f64(), loss[0].to_f64(), (c + 8) as f64, spread, &|| {
        "fused loss vs forward loss".to_string()
    });
    let g = -4.0 / n as f64;
    for i in 0..n {
        let row = &x[i * c..(i + 1) * c];
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = row.iter().map(|v| (v - m).exp()).sum();
        let b = -4.0 * c as f64;
        let scale = g.abs() * (4.0 * c as f64 + 1.0) * (m + sum.ln()).abs().max(1.0);
        for j in 0..c {
            let want = g * ((row[j] - m).exp() / sum * b + 4.0);
            for (name, got) in [("split", split[i * c + j]), ("fused", fused[i * c + j])] {
                common::tol::assert_within::<T>(got.to_f64(), want, (c + 16) as f64, scale, &|| {
                    format!("{name} ({i},{j})")
                });
            }
        }
    }
}
both_types!(
    split_and_fused_gradients_with_large_targets,
    split_and_fused_grads_with_large_targets
);
