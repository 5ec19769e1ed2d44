//! Each kernel's cost per element on one thread (`cost_per_element`, functions
//! `{kernel}/{shape}`): the measurements that size its work blocks (`src/par.rs`, `Cost`).
//! Elementwise kernels run on 16 384 elements, a block's worth that stays in L2; row kernels
//! on 1600 rows of 10 and 16 rows of 1000 (16 000 elements each), so that the two give the
//! cost per element (long rows) and the cost per row (the difference).

use super::{bce_fused_call, config, prob_rows, values};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use nnkern::{
    Activation, BceOptions, CrossEntropyOptions, MatMut, MatRef, Reduction, Saved, Targets,
    activation_backward, activation_forward, bce_with_logits_forward, cross_entropy_backward,
    cross_entropy_forward, exp_forward, ln_1p_forward, ln_forward, log_softmax_backward, log_softmax_forward,
    softmax_backward, softmax_cross_entropy, softmax_cross_entropy_backward, softmax_cross_entropy_forward,
    softmax_forward,
};

/// A named call with its own buffers and its element count.
type Call = (String, usize, Box<dyn FnMut() + Send>);

/// Elements of an elementwise call.
const LEN: usize = 16_384;

fn unary(
    name: &str,
    f: fn(MatRef<'_, f32>, MatMut<'_, f32>) -> nnkern::Result<()>,
    lo: f32,
    hi: f32,
) -> Call {
    let x = values(LEN, 1, lo, hi);
    let mut y = vec![0.0_f32; LEN];
    let run = move || {
        f(
            MatRef::from_row_major(&x, 1, LEN).unwrap(),
            MatMut::from_row_major(&mut y, 1, LEN).unwrap(),
        )
        .unwrap()
    };
    (format!("{name}/{LEN}"), LEN, Box::new(run))
}

fn elementwise() -> Vec<Call> {
    let mut out = vec![
        unary("exp", exp_forward, -10.0, 10.0),
        unary("ln", ln_forward, 0.01, 100.0),
        unary("ln_1p", ln_1p_forward, -0.5, 100.0),
    ];
    {
        // ReLU on a column of 16 384 one-element rows of stride 2: the strided path's cost
        // per row (less `relu_fwd`'s per element)
        let x = values(2 * LEN, 1, -1.0, 1.0);
        let mut y = vec![0.0_f32; LEN];
        let run = move || {
            activation_forward(
                Activation::Relu,
                MatRef::from_strided(&x, LEN, 1, 2, 1).unwrap(),
                MatMut::from_row_major(&mut y, LEN, 1).unwrap(),
            )
            .unwrap()
        };
        out.push((format!("relu_fwd_strided/{LEN}x1"), LEN, Box::new(run)));
    }
    for act in Activation::ALL {
        let name = act.name();
        let x = values(LEN, 2, -6.0, 6.0);
        let dy = values(LEN, 3, -1.0, 1.0);
        let mut y = vec![0.0_f32; LEN];
        activation_forward(
            act,
            MatRef::from_row_major(&x, 1, LEN).unwrap(),
            MatMut::from_row_major(&mut y, 1, LEN).unwrap(),
        )
        .unwrap();
        {
            let (x, mut y) = (x.clone(), y.clone());
            let run = move || {
                activation_forward(
                    act,
                    MatRef::from_row_major(&x, 1, LEN).unwrap(),
                    MatMut::from_row_major(&mut y, 1, LEN).unwrap(),
                )
                .unwrap()
            };
            out.push((format!("{name}_fwd/{LEN}"), LEN, Box::new(run)));
        }
        let mut saved = vec![("from_input", x)];
        if !act.needs_input() {
            saved.push(("from_output", y));
        }
        for (how, s) in saved {
            let dy = dy.clone();
            let mut dx = vec![0.0_f32; LEN];
            let input = how == "from_input";
            let run = move || {
                let m = MatRef::from_row_major(&s, 1, LEN).unwrap();
                let saved = if input { Saved::Input(m) } else { Saved::Output(m) };
                activation_backward(
                    act,
                    saved,
                    MatRef::from_row_major(&dy, 1, LEN).unwrap(),
                    MatMut::from_row_major(&mut dx, 1, LEN).unwrap(),
                )
                .unwrap()
            };
            out.push((format!("{name}_bwd_{how}/{LEN}"), LEN, Box::new(run)));
        }
    }
    out
}

/// Class labels or rows of probabilities.
fn targets<'a>(probs: bool, labels: &'a [usize], q: &'a [f32], n: usize, k: usize) -> Targets<'a, f32> {
    if probs {
        Targets::Probs(MatRef::from_row_major(q, n, k).unwrap())
    } else {
        Targets::Classes(labels)
    }
}

type RowFwd = fn(MatRef<'_, f32>, MatMut<'_, f32>) -> nnkern::Result<()>;
type RowBwd = fn(MatRef<'_, f32>, MatRef<'_, f32>, MatMut<'_, f32>) -> nnkern::Result<()>;

fn rows(n: usize, k: usize) -> Vec<Call> {
    let id = format!("{n}x{k}");
    let len = n * k;
    let x = values(len, 4, -5.0, 5.0);
    let dy = values(len, 5, -1.0, 1.0);
    let mut out: Vec<Call> = Vec::new();
    let fwd: [(&str, RowFwd, RowBwd); 2] = [
        ("softmax", softmax_forward, softmax_backward),
        ("log_softmax", log_softmax_forward, log_softmax_backward),
    ];
    for (name, f, b) in fwd {
        let mut y = vec![0.0_f32; len];
        f(
            MatRef::from_row_major(&x, n, k).unwrap(),
            MatMut::from_row_major(&mut y, n, k).unwrap(),
        )
        .unwrap();
        {
            let (x, mut y) = (x.clone(), y.clone());
            let run = move || {
                f(
                    MatRef::from_row_major(&x, n, k).unwrap(),
                    MatMut::from_row_major(&mut y, n, k).unwrap(),
                )
                .unwrap()
            };
            out.push((format!("{name}_fwd/{id}"), len, Box::new(run)));
        }
        let (dy, mut dx) = (dy.clone(), vec![0.0_f32; len]);
        let run = move || {
            b(
                MatRef::from_row_major(&y, n, k).unwrap(),
                MatRef::from_row_major(&dy, n, k).unwrap(),
                MatMut::from_row_major(&mut dx, n, k).unwrap(),
            )
            .unwrap()
        };
        out.push((format!("{name}_bwd/{id}"), len, Box::new(run)));
    }
    let labels: Vec<usize> = (0..n).map(|i| (i * 7919) % k).collect();
    let q = prob_rows(n, k, 7);
    for probs in [false, true] {
        let tag = if probs { "_probs" } else { "" };
        {
            let (x, labels, q, mut d) = (x.clone(), labels.clone(), q.clone(), vec![0.0_f32; len]);
            let run = move || {
                let mut loss = [0.0_f32];
                softmax_cross_entropy(
                    MatRef::from_row_major(&x, n, k).unwrap(),
                    targets(probs, &labels, &q, n, k),
                    &CrossEntropyOptions::default(),
                    &[1.0],
                    &mut loss,
                    MatMut::from_row_major(&mut d, n, k).unwrap(),
                )
                .unwrap()
            };
            out.push((format!("sce_fused{tag}/{id}"), len, Box::new(run)));
        }
        let mut lse = vec![0.0_f32; n];
        {
            let (x, labels, q) = (x.clone(), labels.clone(), q.clone());
            let mut lse = lse.clone();
            let run = move || {
                let mut loss = [0.0_f32];
                softmax_cross_entropy_forward(
                    MatRef::from_row_major(&x, n, k).unwrap(),
                    targets(probs, &labels, &q, n, k),
                    &CrossEntropyOptions::default(),
                    &mut loss,
                    Some(&mut lse),
                )
                .unwrap()
            };
            out.push((format!("sce_fwd{tag}/{id}"), len, Box::new(run)));
        }
        softmax_cross_entropy_forward(
            MatRef::from_row_major(&x, n, k).unwrap(),
            targets(probs, &labels, &q, n, k),
            &CrossEntropyOptions::default(),
            &mut [0.0],
            Some(&mut lse),
        )
        .unwrap();
        let (x, labels, q, mut d) = (x.clone(), labels.clone(), q.clone(), vec![0.0_f32; len]);
        let run = move || {
            softmax_cross_entropy_backward(
                MatRef::from_row_major(&x, n, k).unwrap(),
                &lse,
                targets(probs, &labels, &q, n, k),
                &CrossEntropyOptions::default(),
                &[1.0],
                MatMut::from_row_major(&mut d, n, k).unwrap(),
            )
            .unwrap()
        };
        out.push((format!("sce_bwd{tag}/{id}"), len, Box::new(run)));
    }
    {
        let p = prob_rows(n, k, 8);
        {
            let (p, q) = (p.clone(), q.clone());
            let run = move || {
                let mut loss = [0.0_f32];
                let t = targets(true, &[], &q, n, k);
                cross_entropy_forward(
                    MatRef::from_row_major(&p, n, k).unwrap(),
                    t,
                    Reduction::Mean,
                    &mut loss,
                )
                .unwrap()
            };
            out.push((format!("ce_probs_fwd/{id}"), len, Box::new(run)));
        }
        let mut dp = vec![0.0_f32; len];
        let run = move || {
            cross_entropy_backward(
                MatRef::from_row_major(&p, n, k).unwrap(),
                targets(true, &[], &q, n, k),
                Reduction::Mean,
                &[1.0],
                MatMut::from_row_major(&mut dp, n, k).unwrap(),
            )
            .unwrap()
        };
        out.push((format!("ce_probs_bwd/{id}"), len, Box::new(run)));
    }
    for (pass, name) in [(false, "ce_labels_fwd"), (true, "ce_labels_bwd")] {
        let (p, labels, mut dp) = (prob_rows(n, k, 9), labels.clone(), vec![0.0_f32; len]);
        let run = move || {
            let pv = MatRef::from_row_major(&p, n, k).unwrap();
            if pass {
                let d = MatMut::from_row_major(&mut dp, n, k).unwrap();
                cross_entropy_backward(pv, Targets::Classes(&labels), Reduction::Mean, &[1.0], d).unwrap()
            } else {
                cross_entropy_forward(pv, Targets::Classes(&labels), Reduction::Mean, &mut [0.0]).unwrap()
            }
        };
        out.push((format!("{name}/{id}"), len, Box::new(run)));
    }
    {
        let t: Vec<f32> = values(len, 6, 0.0, 1.0).iter().map(|v| v.round()).collect();
        {
            let (x, t) = (x.clone(), t.clone());
            let run = move || {
                let mut loss = [0.0_f32];
                bce_with_logits_forward(
                    MatRef::from_row_major(&x, n, k).unwrap(),
                    MatRef::from_row_major(&t, n, k).unwrap(),
                    &BceOptions::default(),
                    &mut loss,
                )
                .unwrap()
            };
            out.push((format!("bce_fwd/{id}"), len, Box::new(run)));
        }
        let mut d = vec![0.0_f32; len];
        let run = move || bce_fused_call(&x, &t, &mut d, n, k);
        out.push((format!("bce_fused/{id}"), len, Box::new(run)));
    }
    out
}

fn cost_per_element(c: &mut Criterion) {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let mut g = c.benchmark_group("cost_per_element");
    let mut calls = elementwise();
    calls.extend(rows(1600, 10));
    calls.extend(rows(16, 1000));
    for (name, elems, mut f) in calls {
        g.throughput(Throughput::Elements(elems as u64));
        let (kernel, shape) = name.split_once('/').unwrap();
        g.bench_function(BenchmarkId::new(kernel, shape), |b| {
            pool.install(|| b.iter(&mut f))
        });
    }
    g.finish();
}

criterion_group! { name = benches; config = config(); targets = cost_per_element }
