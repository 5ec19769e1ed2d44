//! Cross-entropy on probabilities and the softmax-cross-entropy (forward, backward from the
//! saved log-sum-exp, and fused) against the f64 reference, for both target kinds, every
//! reduction, class weights, ignore_index and label smoothing, alone and combined.

#![allow(clippy::needless_range_loop)] // index loops read as the formulas they check

mod common;

use common::reference::{self as r, RefOpts, RefReduction, RefTargets};
use common::tol::{assert_within, exp_cap};
use common::{LAYOUTS, Layout, Rng, SWEEP, SWEEP_NONZERO, Stored};
use nnkern::{CrossEntropyOptions, Float, MatRef, Reduction, Targets};

fn red_pair(i: usize) -> (Reduction, RefReduction) {
    [
        (Reduction::Mean, RefReduction::Mean),
        (Reduction::Sum, RefReduction::Sum),
        (Reduction::None, RefReduction::None),
    ][i % 3]
}

/// Target kinds: class indices, soft probabilities, one-hot probabilities.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Classes,
    Soft,
    OneHot,
}

struct Case {
    n: usize,
    c: usize,
    kind: Kind,
    red: usize,
    weighted: bool,
    /// 0: none, 1: a valid class (rows with it are ignored), 2: a label outside 0..C.
    ignore: usize,
    eps: f64,
    layout: Layout,
}

fn run_sce<T: Float>(rng: &mut Rng, k: &Case) {
    let (n, c) = (k.n, k.c);
    let spread = if rng.uniform() < 0.5 { 4.0 } else { 40.0 };
    let x = rng.values::<T>(n * c, -spread, spread);
    let labels: Vec<usize> = (0..n).map(|_| rng.below(c)).collect();
    let ignore = match k.ignore {
        1 => Some(labels.first().copied().unwrap_or(0)),
        2 => Some(c + 5),
        _ => None,
    };
    let (targets_ref, tstore): (RefTargets, Option<Stored<T>>) = match k.kind {
        Kind::Classes => (RefTargets::Classes(labels.clone()), None),
        Kind::Soft | Kind::OneHot => {
            let mut q = vec![0.0; n * c];
            for i in 0..n {
                if let Kind::OneHot = k.kind {
                    q[i * c + labels[i]] = 1.0;
                } else {
                    let raw: Vec<f64> = (0..c).map(|_| rng.uniform()).collect();
                    let s: f64 = raw.iter().sum();
                    for j in 0..c {
                        q[i * c + j] = T::from_f64(raw[j] / s).to_f64();
                    }
                }
            }
            let st = Stored::<T>::new(&q, n, c, LAYOUTS[(k.red + 1) % 3]);
            (RefTargets::Probs(q), Some(st))
        }
    };
    let weight: Option<Vec<f64>> = k.weighted.then(|| {
        let mut w = rng.values::<T>(c, 0.0, 2.0);
        w[rng.below(c)] = 0.0;
        w
    });
    let wt: Option<Vec<T>> = weight
        .as_ref()
        .map(|w| w.iter().map(|&v| T::from_f64(v)).collect());
    let (red, rred) = red_pair(k.red);
    let eps_t = T::from_f64(k.eps);
    let ropts = RefOpts {
        reduction: rred,
        weight: weight.clone(),
        ignore: if matches!(k.kind, Kind::Classes) {
            ignore
        } else {
            None
        },
        eps: eps_t.to_f64(),
    };
    let opts = CrossEntropyOptions {
        reduction: red,
        weight: wt.as_deref(),
        ignore_index: ropts.ignore,
        label_smoothing: eps_t,
    };
    let out_len = if red == Reduction::None { n } else { 1 };
    let dloss = rng.values::<T>(out_len, 0.5, 2.0);
    let dloss_t: Vec<T> = dloss.iter().map(|&v| T::from_f64(v)).collect();
    let (want_loss, want_grad, scales) = r::softmax_cross_entropy(&x, n, c, &targets_ref, &ropts, &dloss);
    let sx = Stored::<T>::new(&x, n, c, k.layout);
    let targets: Targets<'_, T> = match &tstore {
        None => Targets::Classes(&labels),
        Some(st) => Targets::Probs(st.view()),
    };
    let what = |s: &str| {
        format!(
            "{s} {n}×{c} {:?} {red:?} w={} ii={ignore:?} eps={}",
            k.kind, k.weighted, k.eps
        )
    };

    // per-row error budget: see tol.rs; C-term sums twice, the rounding of (s − m) in exp.
    let coefs = r::coefficients(&targets_ref, &ropts, n, c);
    let row_dm: Vec<f64> = (0..n)
        .map(|i| {
            let row = &x[i * c..(i + 1) * c];
            let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            row.iter()
                .map(|v| (v - m).abs())
                .fold(0.0, f64::max)
                .min(exp_cap::<T>())
        })
        .collect();
    let roundings = |i: usize| (2 * c + 8) as f64 + row_dm[i];
    let denom: f64 = match (&targets_ref, rred) {
        (_, RefReduction::Mean) => {
            if let RefTargets::Classes(l) = &targets_ref {
                (0..n)
                    .filter(|&i| Some(l[i]) != ropts.ignore)
                    .map(|i| weight.as_ref().map_or(1.0, |w| w[l[i]]))
                    .sum()
            } else {
                n as f64
            }
        }
        _ => 1.0,
    };
    let check_loss = |got: &[T], label: &str| match rred {
        RefReduction::None => {
            for i in 0..n {
                assert_within::<T>(got[i].to_f64(), want_loss[i], roundings(i), scales[i], &|| {
                    what(label)
                });
            }
        }
        _ => {
            let scale: f64 = (0..n).map(|i| roundings(i) * scales[i]).sum::<f64>() / denom;
            assert_within::<T>(got[0].to_f64(), want_loss[0], 1.0, scale, &|| what(label));
        }
    };
    // `extra(i)`: roundings beyond the fused kernel's; the backward from a saved lse pays for
    // lse's own rounding (u·|lse|) and that of s − lse, both carried into e^(s − lse).
    let check_grad = |got: &[f64], label: &str, extra: &dyn Fn(usize) -> f64| {
        for i in 0..n {
            let g = match rred {
                RefReduction::None => dloss[i],
                RefReduction::Sum => dloss[0],
                RefReduction::Mean => dloss[0] / denom,
            };
            let p = r::softmax(&x[i * c..(i + 1) * c]);
            for j in 0..c {
                let e = i * c + j;
                let scale = match &coefs[i] {
                    None => 0.0,
                    Some(a) => g.abs() * (p[j] * a.iter().map(|v| v.abs()).sum::<f64>() + a[j].abs()),
                };
                assert_within::<T>(
                    got[e],
                    want_grad[e],
                    (c + 8) as f64 + 2.0 * row_dm[i] + extra(i),
                    scale,
                    &|| format!("{} at ({i},{j})", what(label)),
                );
            }
        }
    };

    // forward, saving lse
    let mut loss = vec![T::NAN; out_len];
    let mut lse = vec![T::NAN; n];
    nnkern::softmax_cross_entropy_forward(sx.view(), targets, &opts, &mut loss, Some(&mut lse)).unwrap();
    check_loss(&loss, "forward loss");
    for i in 0..n {
        let want = r::logsumexp(&x[i * c..(i + 1) * c]);
        assert_within::<T>(
            lse[i].to_f64(),
            want,
            (c + 6) as f64 + row_dm[i],
            want.abs() + 1.0,
            &|| what("lse"),
        );
    }
    // forward without lse gives the same loss, bit for bit
    let mut loss2 = vec![T::NAN; out_len];
    nnkern::softmax_cross_entropy_forward(sx.view(), targets, &opts, &mut loss2, None).unwrap();
    assert_eq!(
        loss.iter().map(|v| v.to_f64().to_bits()).collect::<Vec<_>>(),
        loss2.iter().map(|v| v.to_f64().to_bits()).collect::<Vec<_>>()
    );
    // backward from lse
    let mut d = Stored::<T>::nan(
        n,
        c,
        if k.red.is_multiple_of(2) {
            Layout::Contiguous
        } else {
            Layout::Strided
        },
    );
    nnkern::softmax_cross_entropy_backward(sx.view(), &lse, targets, &opts, &dloss_t, d.view_mut()).unwrap();
    assert!(d.padding_untouched());
    let lse_ref: Vec<f64> = (0..n).map(|i| r::logsumexp(&x[i * c..(i + 1) * c])).collect();
    check_grad(&d.values(), "backward", &|i| {
        2.0 * lse_ref[i].abs() + row_dm[i] + 2.0
    });
    // fused
    let mut loss3 = vec![T::NAN; out_len];
    let mut d3 = Stored::<T>::nan(n, c, Layout::Contiguous);
    nnkern::softmax_cross_entropy(sx.view(), targets, &opts, &dloss_t, &mut loss3, d3.view_mut()).unwrap();
    check_loss(&loss3, "fused loss");
    check_grad(&d3.values(), "fused grad", &|_| 0.0);
}

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
                ignore: if matches!(kind, Kind::Classes) {
                    (i / 2) % 3
                } else {
                    0
                },
                eps: [0.0, 0.1, 1.0][(i / 5) % 3],
                layout: LAYOUTS[(i / 7) % 3],
            };
            run_sce::<T>(&mut rng, &case);
        }
    }
}
both_types!(softmax_cross_entropy_over_sweep, sce_sweep);

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
                            run_sce::<T>(
                                &mut rng,
                                &Case {
                                    n,
                                    c,
                                    kind,
                                    red,
                                    weighted,
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

fn ce_probs_sweep<T: Float>() {
    let mut rng = Rng::new(22);
    let mut case = 0;
    for &n in &SWEEP {
        for &c in &SWEEP_NONZERO {
            case += 1;
            let p = rng.values::<T>(n * c, 0.01, 1.0);
            let labels: Vec<usize> = (0..n).map(|_| rng.below(c)).collect();
            let soft = case % 2 == 0;
            let q: Vec<f64> = if soft {
                // sparse soft targets: about half are exactly 0
                (0..n * c)
                    .map(|_| {
                        if rng.uniform() < 0.5 {
                            0.0
                        } else {
                            T::from_f64(rng.uniform()).to_f64()
                        }
                    })
                    .collect()
            } else {
                (0..n * c)
                    .map(|e| if labels[e / c] == e % c { 1.0 } else { 0.0 })
                    .collect()
            };
            let (red, rred) = red_pair(case / 2);
            let sp = Stored::<T>::new(&p, n, c, LAYOUTS[case % 3]);
            let sq = Stored::<T>::new(&q, n, c, LAYOUTS[(case + 1) % 3]);
            let targets = if soft {
                Targets::Probs(sq.view())
            } else {
                Targets::Classes(&labels)
            };
            let rows: Vec<f64> = (0..n)
                .map(|i| {
                    (0..c)
                        .filter(|&k| q[i * c + k] != 0.0)
                        .map(|k| -q[i * c + k] * p[i * c + k].ln())
                        .sum()
                })
                .collect();
            let out_len = if red == Reduction::None { n } else { 1 };
            let mut loss = vec![T::NAN; out_len];
            nnkern::cross_entropy_forward(sp.view(), targets, red, &mut loss).unwrap();
            // ln (2u) and a product (u) per term, C-term sum (C·u), the reduction (in f64).
            let scale_row = |i: usize| -> f64 { rows[i].abs() * (c + 4) as f64 };
            match rred {
                RefReduction::None => {
                    for i in 0..n {
                        assert_within::<T>(loss[i].to_f64(), rows[i], 1.0, scale_row(i), &|| {
                            format!("ce rows {n}×{c}")
                        });
                    }
                }
                _ => {
                    let sum: f64 = rows.iter().sum();
                    let sscale: f64 = (0..n).map(scale_row).sum();
                    let (want, scale) = if rred == RefReduction::Mean {
                        (sum / n as f64, sscale / n as f64)
                    } else {
                        (sum, sscale)
                    };
                    assert_within::<T>(loss[0].to_f64(), want, 1.0, scale + want.abs(), &|| {
                        format!("ce {red:?} {n}×{c}")
                    });
                }
            }
            let dloss = rng.values::<T>(out_len, 0.5, 2.0);
            let dloss_t: Vec<T> = dloss.iter().map(|&v| T::from_f64(v)).collect();
            let mut d = Stored::<T>::nan(
                n,
                c,
                if case % 2 == 0 {
                    Layout::Contiguous
                } else {
                    Layout::Strided
                },
            );
            nnkern::cross_entropy_backward(sp.view(), targets, red, &dloss_t, d.view_mut()).unwrap();
            for (e, &g) in d.values().iter().enumerate() {
                let gi = match rred {
                    RefReduction::None => dloss[e / c],
                    RefReduction::Sum => dloss[0],
                    RefReduction::Mean => dloss[0] / n as f64,
                };
                let want = if q[e] == 0.0 { 0.0 } else { -gi * q[e] / p[e] };
                assert_within::<T>(g, want, 4.0, want.abs(), &|| {
                    format!("ce backward {red:?} {n}×{c} at {e}")
                });
            }
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
