//! Small calls on a 1-thread and a 2-thread pool, side by side in one group (`small_calls`,
//! functions `{kernel}/{shape}`): the check that a call too small to gain from a second
//! thread runs on the caller and costs no more on two threads than on one. Parameters:
//!
//! - `1t`, `2t`: called from a worker of a 1- or 2-thread pool (inside `ThreadPool::install`);
//! - `caller-{N}t`: called from the bench's own thread, which no pool owns, on rayon's global
//!   pool of N threads (the machine's cores unless RAYON_NUM_THREADS says otherwise), as a
//!   framework calls: there a split pays two cross-thread wake-ups, so such a call keeps its
//!   blocks on the caller below `COLD_PS` of work (`src/par.rs`).
//!
//! Each kernel at the shapes of its other groups' small rows, and the elementwise kernels on
//! either side of where their measured costs (`src/par.rs`) first cut them into two blocks:
//! GELU (the costliest per element) at 2048 / 4096, sigmoid at 4096 / 8192, ReLU and the
//! sigmoid's backward at 65 536 / 131 072; and around the outside caller's threshold, GELU
//! at 16 384 / 32 768 and the SiLU's backward at 32 768 / 65 536; products that the packed
//! GEMM engine cuts into tasks, below and above the work from which an outside caller splits.

use super::{bce_fused_call, config, prob_rows, values};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use nnkern::{
    Activation, CrossEntropyOptions, MatMut, MatRef, Reduction, Result, Saved, Targets, activation_backward,
    activation_forward, affine_forward, cross_entropy_backward, cross_entropy_forward, matmul_forward,
    relu_forward, sigmoid_backward, sigmoid_forward, softmax_cross_entropy, softmax_forward,
};

type Fwd = fn(MatRef<'_, f32>, MatMut<'_, f32>) -> Result<()>;

/// A named call with its own buffers, run many times.
type Call = (String, u64, Box<dyn FnMut() + Send>);

fn calls() -> Vec<Call> {
    let mut out: Vec<Call> = Vec::new();
    // elementwise, from the costliest per element (sigmoid) to the cheapest (ReLU, the
    // sigmoid's backward from y)
    for len in [4096, 8192, 65_536, 131_072] {
        let fwd: [(&str, Fwd); 2] = [
            ("sigmoid_forward", sigmoid_forward),
            ("relu_forward", relu_forward),
        ];
        for (name, f) in fwd {
            let x = values(len, 1, -10.0, 10.0);
            let mut y = vec![0.0_f32; len];
            out.push((
                format!("{name}/{len}"),
                len as u64,
                Box::new(move || {
                    f(
                        MatRef::from_row_major(&x, 1, len).unwrap(),
                        MatMut::from_row_major(&mut y, 1, len).unwrap(),
                    )
                    .unwrap()
                }),
            ));
        }
        let (y, dy) = (values(len, 2, 0.0, 1.0), values(len, 3, -1.0, 1.0));
        let mut dx = vec![0.0_f32; len];
        out.push((
            format!("sigmoid_backward/{len}"),
            len as u64,
            Box::new(move || {
                sigmoid_backward(
                    MatRef::from_row_major(&y, 1, len).unwrap(),
                    MatRef::from_row_major(&dy, 1, len).unwrap(),
                    MatMut::from_row_major(&mut dx, 1, len).unwrap(),
                )
                .unwrap()
            }),
        ));
    }
    for len in [2048, 4096, 16_384, 32_768] {
        let x = values(len, 1, -5.0, 5.0);
        let mut y = vec![0.0_f32; len];
        out.push((
            format!("gelu_forward/{len}"),
            len as u64,
            Box::new(move || {
                activation_forward(
                    Activation::Gelu,
                    MatRef::from_row_major(&x, 1, len).unwrap(),
                    MatMut::from_row_major(&mut y, 1, len).unwrap(),
                )
                .unwrap()
            }),
        ));
    }
    for len in [32_768, 65_536] {
        let (x, dy) = (values(len, 1, -5.0, 5.0), values(len, 3, -1.0, 1.0));
        let mut dx = vec![0.0_f32; len];
        out.push((
            format!("silu_backward/{len}"),
            len as u64,
            Box::new(move || {
                activation_backward(
                    Activation::Silu,
                    Saved::Input(MatRef::from_row_major(&x, 1, len).unwrap()),
                    MatRef::from_row_major(&dy, 1, len).unwrap(),
                    MatMut::from_row_major(&mut dx, 1, len).unwrap(),
                )
                .unwrap()
            }),
        ));
    }
    for (n, k) in [(100, 3), (4096, 10)] {
        let id = format!("{n}x{k}");
        let elems = (n * k) as u64;
        let x = values(n * k, 4, -5.0, 5.0);
        let mut y = vec![0.0_f32; n * k];
        {
            let x = x.clone();
            out.push((
                format!("softmax_forward/{id}"),
                elems,
                Box::new(move || {
                    softmax_forward(
                        MatRef::from_row_major(&x, n, k).unwrap(),
                        MatMut::from_row_major(&mut y, n, k).unwrap(),
                    )
                    .unwrap()
                }),
            ));
        }
        let labels: Vec<usize> = (0..n).map(|i| (i * 7919) % k).collect();
        let q = prob_rows(n, k, 7);
        for probs in [false, true] {
            let (x, labels, q) = (x.clone(), labels.clone(), q.clone());
            let mut d = vec![0.0_f32; n * k];
            let name = if probs { "sce_fused_probs" } else { "sce_fused" };
            out.push((
                format!("{name}/{id}"),
                elems,
                Box::new(move || {
                    let targets = if probs {
                        Targets::Probs(MatRef::from_row_major(&q, n, k).unwrap())
                    } else {
                        Targets::Classes(&labels)
                    };
                    let mut loss = [0.0_f32];
                    softmax_cross_entropy(
                        MatRef::from_row_major(&x, n, k).unwrap(),
                        targets,
                        &CrossEntropyOptions::default(),
                        &[1.0],
                        &mut loss,
                        MatMut::from_row_major(&mut d, n, k).unwrap(),
                    )
                    .unwrap()
                }),
            ));
        }
        {
            let (p, q) = (prob_rows(n, k, 8), q.clone());
            let mut dp = vec![0.0_f32; n * k];
            out.push((
                format!("ce_probs_fwd_bwd/{id}"),
                elems,
                Box::new(move || {
                    let pv = MatRef::from_row_major(&p, n, k).unwrap();
                    let targets = Targets::Probs(MatRef::from_row_major(&q, n, k).unwrap());
                    let mut loss = [0.0_f32];
                    cross_entropy_forward(pv, targets, Reduction::Mean, &mut loss).unwrap();
                    let dpm = MatMut::from_row_major(&mut dp, n, k).unwrap();
                    cross_entropy_backward(pv, targets, Reduction::Mean, &[1.0], dpm).unwrap()
                }),
            ));
        }
        {
            let x = x.clone();
            let t: Vec<f32> = values(n * k, 6, 0.0, 1.0).iter().map(|v| v.round()).collect();
            let mut d = vec![0.0_f32; n * k];
            out.push((
                format!("bce_fused/{id}"),
                elems,
                Box::new(move || bce_fused_call(&x, &t, &mut d, n, k)),
            ));
        }
    }
    // products the packed engine cuts into several tasks: two below the work from which a
    // caller outside the pool splits them, one above
    for (m, k, n) in [(145, 8, 257), (150, 32, 300), (256, 128, 256)] {
        let (a, b) = (values(m * k, 1, -1.0, 1.0), values(k * n, 2, -1.0, 1.0));
        let mut y = vec![0.0_f32; m * n];
        out.push((
            format!("matmul_forward/{m}x{k}x{n}"),
            (2 * m * k * n) as u64,
            Box::new(move || {
                matmul_forward(
                    MatRef::from_row_major(&a, m, k).unwrap(),
                    MatRef::from_row_major(&b, k, n).unwrap(),
                    MatMut::from_row_major(&mut y, m, n).unwrap(),
                )
                .unwrap()
            }),
        ));
    }
    // the book's spiral layer (300×2·2×10) and a small hidden layer (100×50·50×100)
    for (n, d, h) in [(300, 2, 10), (100, 50, 100)] {
        let (x, w, b) = (
            values(n * d, 1, -1.0, 1.0),
            values(d * h, 2, -0.1, 0.1),
            values(h, 3, -0.1, 0.1),
        );
        let mut y = vec![0.0_f32; n * h];
        out.push((
            format!("affine_sigmoid_forward/{n}x{d}x{h}"),
            (2 * n * d * h) as u64,
            Box::new(move || {
                affine_forward(
                    MatRef::from_row_major(&x, n, d).unwrap(),
                    MatRef::from_row_major(&w, d, h).unwrap(),
                    &b,
                    Activation::Sigmoid,
                    MatMut::from_row_major(&mut y, n, h).unwrap(),
                )
                .unwrap()
            }),
        ));
    }
    out
}

fn small_calls(c: &mut Criterion) {
    let pools: Vec<(usize, rayon::ThreadPool)> = [1, 2]
        .into_iter()
        .map(|t| (t, rayon::ThreadPoolBuilder::new().num_threads(t).build().unwrap()))
        .collect();
    let caller = format!("caller-{}t", rayon::current_num_threads());
    let mut g = c.benchmark_group("small_calls");
    for (name, elems, mut f) in calls() {
        g.throughput(Throughput::Elements(elems));
        for (t, pool) in &pools {
            g.bench_function(BenchmarkId::new(&name, format!("{t}t")), |b| {
                pool.install(|| b.iter(&mut f))
            });
        }
        g.bench_function(BenchmarkId::new(&name, &caller), |b| b.iter(&mut f));
    }
    g.finish();
}

criterion_group! { name = benches; config = config(); targets = small_calls }
