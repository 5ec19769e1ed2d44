//! Central-difference gradient checks in f64 for every backward: the analytic gradient of a
//! scalar objective L = Σ g ⊙ forward(·) (g a fixed random upstream gradient) against
//! (L(v + h) − L(v − h)) / 2h for every input element.

#![allow(clippy::needless_range_loop)] // index loops read as the formulas they check

use crate::common;

use common::Rng;
use common::tol::{GRAD_STEP, assert_grad};
use nnkern::*;

fn mat(v: &[f64], r: usize, c: usize) -> MatRef<'_, f64> {
    MatRef::from_row_major(v, r, c).unwrap()
}

/// Checks ∂L/∂v[e] for every e, with `f(v)` the objective.
fn check_all(name: &str, v: &[f64], analytic: &[f64], f: &dyn Fn(&[f64]) -> f64) {
    let mut p = v.to_vec();
    for e in 0..v.len() {
        let h = GRAD_STEP * (1.0 + v[e].abs());
        p[e] = v[e] + h;
        let up = f(&p);
        p[e] = v[e] - h;
        let down = f(&p);
        p[e] = v[e];
        assert_grad(analytic[e], (up - down) / (2.0 * h), &|| {
            format!("{name} element {e}")
        });
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn affine_and_matmul_gradients() {
    let (n, d, h) = (5, 4, 3);
    let mut rng = Rng::new(30);
    let x: Vec<f64> = (0..n * d).map(|_| rng.normal()).collect();
    let w: Vec<f64> = (0..d * h).map(|_| rng.normal()).collect();
    let b: Vec<f64> = (0..h).map(|_| rng.normal()).collect();
    let g: Vec<f64> = (0..n * h).map(|_| rng.normal()).collect();
    for act in Activation::ALL {
        let fwd = |x: &[f64], w: &[f64], b: &[f64]| -> Vec<f64> {
            let mut y = vec![0.0; n * h];
            affine_forward(
                mat(x, n, d),
                mat(w, d, h),
                b,
                act,
                MatMut::from_row_major(&mut y, n, h).unwrap(),
            )
            .unwrap();
            y
        };
        // the forward that keeps z gives the same y; the backward reads what it needs
        let y = fwd(&x, &w, &b);
        let (mut z, mut y2) = (vec![0.0; n * h], vec![0.0; n * h]);
        affine_forward_with_z(
            mat(&x, n, d),
            mat(&w, d, h),
            &b,
            act,
            MatMut::from_row_major(&mut z, n, h).unwrap(),
            MatMut::from_row_major(&mut y2, n, h).unwrap(),
        )
        .unwrap();
        assert!(
            y.iter().zip(&y2).all(|(a, b)| a.to_bits() == b.to_bits()),
            "{act:?}: y with z kept"
        );
        let saved = if act.needs_input() {
            Saved::Input(mat(&z, n, h))
        } else {
            Saved::Output(mat(&y, n, h))
        };
        let (mut dx, mut dw, mut db) = (vec![0.0; n * d], vec![0.0; d * h], vec![0.0; h]);
        affine_backward(
            mat(&x, n, d),
            mat(&w, d, h),
            saved,
            mat(&g, n, h),
            act,
            AffineGrads {
                dx: Some(MatMut::from_row_major(&mut dx, n, d).unwrap()),
                dw: MatMut::from_row_major(&mut dw, d, h).unwrap(),
                db: &mut db,
            },
            Accum::Replace,
            &mut Workspace::new(),
        )
        .unwrap();
        let name = act.name();
        check_all(&format!("affine/{name} dx"), &x, &dx, &|v| {
            dot(&fwd(v, &w, &b), &g)
        });
        check_all(&format!("affine/{name} dW"), &w, &dw, &|v| {
            dot(&fwd(&x, v, &b), &g)
        });
        check_all(&format!("affine/{name} db"), &b, &db, &|v| {
            dot(&fwd(&x, &w, v), &g)
        });
    }
    // MatMul
    let mm = |x: &[f64], w: &[f64]| -> Vec<f64> {
        let mut y = vec![0.0; n * h];
        matmul_forward(
            mat(x, n, d),
            mat(w, d, h),
            MatMut::from_row_major(&mut y, n, h).unwrap(),
        )
        .unwrap();
        y
    };
    let (mut dx, mut dw) = (vec![0.0; n * d], vec![0.0; d * h]);
    matmul_backward(
        mat(&x, n, d),
        mat(&w, d, h),
        mat(&g, n, h),
        Some(MatMut::from_row_major(&mut dx, n, d).unwrap()),
        MatMut::from_row_major(&mut dw, d, h).unwrap(),
        Accum::Replace,
    )
    .unwrap();
    check_all("matmul dx", &x, &dx, &|v| dot(&mm(v, &w), &g));
    check_all("matmul dW", &w, &dw, &|v| dot(&mm(&x, v), &g));
}

type Fwd = fn(MatRef<'_, f64>, MatMut<'_, f64>) -> Result<()>;
type Bwd = fn(MatRef<'_, f64>, MatRef<'_, f64>, MatMut<'_, f64>) -> Result<()>;

#[test]
fn elementwise_and_row_gradients() {
    let (n, c) = (4, 6);
    let mut rng = Rng::new(31);
    // away from ReLU's kink at 0
    let x: Vec<f64> = (0..n * c)
        .map(|_| {
            let v = rng.range(0.1, 3.0);
            if rng.uniform() < 0.5 { -v } else { v }
        })
        .collect();
    let g: Vec<f64> = (0..n * c).map(|_| rng.normal()).collect();
    let ops: [(&str, Fwd, Bwd); 5] = [
        ("sigmoid", sigmoid_forward, sigmoid_backward),
        ("tanh", tanh_forward, tanh_backward),
        ("relu", relu_forward, relu_backward),
        ("softmax", softmax_forward, softmax_backward),
        ("log_softmax", log_softmax_forward, log_softmax_backward),
    ];
    for (name, f, b) in ops {
        let fwd = |v: &[f64]| -> Vec<f64> {
            let mut y = vec![0.0; n * c];
            f(mat(v, n, c), MatMut::from_row_major(&mut y, n, c).unwrap()).unwrap();
            y
        };
        let y = fwd(&x);
        let mut dx = vec![0.0; n * c];
        b(
            mat(&y, n, c),
            mat(&g, n, c),
            MatMut::from_row_major(&mut dx, n, c).unwrap(),
        )
        .unwrap();
        check_all(name, &x, &dx, &|v| dot(&fwd(v), &g));
    }
}

#[test]
fn cross_entropy_gradients() {
    let (n, c) = (3, 4);
    let mut rng = Rng::new(32);
    let p: Vec<f64> = (0..n * c).map(|_| rng.range(0.05, 1.0)).collect();
    let q: Vec<f64> = (0..n * c)
        .map(|e| if e % 3 == 0 { 0.0 } else { rng.uniform() })
        .collect();
    let labels = [1usize, 3, 0];
    for red in [Reduction::Mean, Reduction::Sum, Reduction::None] {
        let len = if red == Reduction::None { n } else { 1 };
        let gl: Vec<f64> = (0..len).map(|_| rng.range(0.5, 2.0)).collect();
        for soft in [false, true] {
            let t = |qv: &[f64]| -> Vec<f64> { qv.to_vec() };
            let qq = t(&q);
            let targets = if soft {
                Targets::Probs(mat(&qq, n, c))
            } else {
                Targets::Classes(&labels)
            };
            let f = |v: &[f64]| -> f64 {
                let mut l = vec![0.0; len];
                cross_entropy_forward(mat(v, n, c), targets, red, &mut l).unwrap();
                dot(&l, &gl)
            };
            let mut d = vec![0.0; n * c];
            cross_entropy_backward(
                mat(&p, n, c),
                targets,
                red,
                &gl,
                MatMut::from_row_major(&mut d, n, c).unwrap(),
            )
            .unwrap();
            check_all(&format!("cross_entropy {red:?} soft={soft}"), &p, &d, &f);
        }
    }
}

#[test]
fn softmax_cross_entropy_gradients_every_option() {
    let (n, c) = (5, 4);
    let mut rng = Rng::new(33);
    let x: Vec<f64> = (0..n * c).map(|_| 2.0 * rng.normal()).collect();
    let labels = [0usize, 3, 2, 3, 1];
    let q: Vec<f64> = (0..n * c).map(|_| rng.uniform()).collect();
    let w = [0.5, 2.0, 0.0, 1.5];
    for red in [Reduction::Mean, Reduction::Sum, Reduction::None] {
        let len = if red == Reduction::None { n } else { 1 };
        let gl: Vec<f64> = (0..len).map(|_| rng.range(0.5, 2.0)).collect();
        for soft in [false, true] {
            for weight in [None, Some(&w[..])] {
                for ignore in [None, Some(3)] {
                    if soft && ignore.is_some() {
                        continue;
                    }
                    for eps in [0.0, 0.3, 1.0] {
                        let targets = if soft {
                            Targets::Probs(mat(&q, n, c))
                        } else {
                            Targets::Classes(&labels)
                        };
                        let opts = CrossEntropyOptions::default()
                            .reduction(red)
                            .weight(weight)
                            .ignore_index(ignore)
                            .label_smoothing(eps);
                        let f = |v: &[f64]| -> f64 {
                            let mut l = vec![0.0; len];
                            softmax_cross_entropy_forward(mat(v, n, c), targets, &opts, &mut l, None)
                                .unwrap();
                            dot(&l, &gl)
                        };
                        let mut d = vec![0.0; n * c];
                        let mut l = vec![0.0; len];
                        softmax_cross_entropy(
                            mat(&x, n, c),
                            targets,
                            &opts,
                            &gl,
                            &mut l,
                            MatMut::from_row_major(&mut d, n, c).unwrap(),
                        )
                        .unwrap();
                        check_all(
                            &format!(
                                "sce {red:?} soft={soft} w={} ii={ignore:?} eps={eps}",
                                weight.is_some()
                            ),
                            &x,
                            &d,
                            &f,
                        );
                    }
                }
            }
        }
    }
}
