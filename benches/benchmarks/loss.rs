//! Softmax-cross-entropy forward + backward — fused, split (forward saving the log-sum-exp,
//! then backward), and the unfused composition of the crate's own kernels (softmax,
//! cross-entropy, its gradient, softmax's gradient) — on 1 and 2 threads, with class labels
//! and with probability targets (`*_probs`, the ratio to the label rows beside them), and the
//! forward alone with `Reduction::None` for both; the cross-entropy on probabilities forward +
//! backward; and the binary cross-entropy on logits, fused against split.

use super::{config, prob_rows, values};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use nnkern::{
    BceOptions, CrossEntropyOptions, MatMut, MatRef, Reduction, Targets, bce_with_logits,
    bce_with_logits_backward, bce_with_logits_forward, cross_entropy_backward, cross_entropy_forward,
    softmax_backward, softmax_cross_entropy, softmax_cross_entropy_backward, softmax_cross_entropy_forward,
    softmax_forward,
};

const SHAPES: [(usize, usize); 3] = [(1024, 1000), (4096, 10), (100, 3)];

fn sce(c: &mut Criterion) {
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let mut g = c.benchmark_group(format!("softmax_cross_entropy_fwd_bwd/{threads}t"));
        for (n, k) in SHAPES {
            let x = values(n * k, 4, -5.0, 5.0);
            let t: Vec<usize> = (0..n).map(|i| (i * 7919) % k).collect();
            let (mut p, mut dp, mut dx) = (vec![0.0_f32; n * k], vec![0.0_f32; n * k], vec![0.0_f32; n * k]);
            let mut lse = vec![0.0_f32; n];
            let id = format!("{n}x{k}");
            let opts = CrossEntropyOptions::default();
            g.throughput(Throughput::Elements((n * k) as u64));
            let xv = MatRef::from_row_major(&x, n, k).unwrap();
            let targets = Targets::Classes(&t);
            g.bench_function(BenchmarkId::new("unfused", &id), |b| {
                pool.install(|| {
                    b.iter(|| {
                        let mut loss = [0.0_f32];
                        softmax_forward(xv, MatMut::from_row_major(&mut p, n, k).unwrap()).unwrap();
                        let pv = MatRef::from_row_major(&p, n, k).unwrap();
                        cross_entropy_forward(pv, targets, Reduction::Mean, &mut loss).unwrap();
                        let dpm = MatMut::from_row_major(&mut dp, n, k).unwrap();
                        cross_entropy_backward(pv, targets, Reduction::Mean, &[1.0], dpm).unwrap();
                        let dpv = MatRef::from_row_major(&dp, n, k).unwrap();
                        softmax_backward(pv, dpv, MatMut::from_row_major(&mut dx, n, k).unwrap()).unwrap();
                        loss[0]
                    })
                })
            });
            g.bench_function(BenchmarkId::new("split", &id), |b| {
                pool.install(|| {
                    b.iter(|| {
                        let mut loss = [0.0_f32];
                        softmax_cross_entropy_forward(xv, targets, &opts, &mut loss, Some(&mut lse)).unwrap();
                        let dxm = MatMut::from_row_major(&mut dx, n, k).unwrap();
                        softmax_cross_entropy_backward(xv, &lse, targets, &opts, &[1.0], dxm).unwrap();
                        loss[0]
                    })
                })
            });
            let q = prob_rows(n, k, 7);
            let probs = Targets::Probs(MatRef::from_row_major(&q, n, k).unwrap());
            for (suffix, targets) in [("", targets), ("_probs", probs)] {
                g.bench_function(BenchmarkId::new(format!("fused{suffix}"), &id), |b| {
                    pool.install(|| {
                        b.iter(|| {
                            let mut loss = [0.0_f32];
                            let dxm = MatMut::from_row_major(&mut dx, n, k).unwrap();
                            softmax_cross_entropy(xv, targets, &opts, &[1.0], &mut loss, dxm).unwrap();
                            loss[0]
                        })
                    })
                });
                if !suffix.is_empty() {
                    g.bench_function(BenchmarkId::new(format!("split{suffix}"), &id), |b| {
                        pool.install(|| {
                            b.iter(|| {
                                let mut loss = [0.0_f32];
                                softmax_cross_entropy_forward(xv, targets, &opts, &mut loss, Some(&mut lse))
                                    .unwrap();
                                let dxm = MatMut::from_row_major(&mut dx, n, k).unwrap();
                                softmax_cross_entropy_backward(xv, &lse, targets, &opts, &[1.0], dxm)
                                    .unwrap();
                                loss[0]
                            })
                        })
                    });
                }
                let none = CrossEntropyOptions::default().reduction(Reduction::None);
                let mut per_row = vec![0.0_f32; n];
                g.bench_function(BenchmarkId::new(format!("fwd_none{suffix}"), &id), |b| {
                    pool.install(|| {
                        b.iter(|| {
                            softmax_cross_entropy_forward(xv, targets, &none, &mut per_row, None).unwrap()
                        })
                    })
                });
            }
        }
        g.finish();
    }
}

/// The cross-entropy on probabilities, forward + backward, soft targets, 1 and 2 threads.
fn ce_probs(c: &mut Criterion) {
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let mut g = c.benchmark_group(format!("cross_entropy_probs_fwd_bwd/{threads}t"));
        for (n, k) in SHAPES {
            let p = prob_rows(n, k, 7);
            let q: Vec<f32> = prob_rows(n, k, 7).iter().rev().copied().collect();
            let mut dp = vec![0.0_f32; n * k];
            g.throughput(Throughput::Elements((n * k) as u64));
            let pv = MatRef::from_row_major(&p, n, k).unwrap();
            let targets = Targets::Probs(MatRef::from_row_major(&q, n, k).unwrap());
            g.bench_function(BenchmarkId::new("nnkern", format!("{n}x{k}")), |b| {
                pool.install(|| {
                    b.iter(|| {
                        let mut loss = [0.0_f32];
                        cross_entropy_forward(pv, targets, Reduction::Mean, &mut loss).unwrap();
                        let dpm = MatMut::from_row_major(&mut dp, n, k).unwrap();
                        cross_entropy_backward(pv, targets, Reduction::Mean, &[1.0], dpm).unwrap();
                        loss[0]
                    })
                })
            });
        }
        g.finish();
    }
}

fn bce(c: &mut Criterion) {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let mut g = c.benchmark_group("bce_with_logits_fwd_bwd/1t");
    for (n, k) in SHAPES {
        let x = values(n * k, 5, -5.0, 5.0);
        let t: Vec<f32> = values(n * k, 6, 0.0, 1.0).iter().map(|v| v.round()).collect();
        let mut dx = vec![0.0_f32; n * k];
        let id = format!("{n}x{k}");
        let opts = BceOptions::default();
        g.throughput(Throughput::Elements((n * k) as u64));
        let xv = MatRef::from_row_major(&x, n, k).unwrap();
        let tv = MatRef::from_row_major(&t, n, k).unwrap();
        g.bench_function(BenchmarkId::new("split", &id), |b| {
            pool.install(|| {
                b.iter(|| {
                    let mut loss = [0.0_f32];
                    bce_with_logits_forward(xv, tv, &opts, &mut loss).unwrap();
                    let dxm = MatMut::from_row_major(&mut dx, n, k).unwrap();
                    bce_with_logits_backward(xv, tv, &opts, &[1.0], dxm).unwrap();
                    loss[0]
                })
            })
        });
        g.bench_function(BenchmarkId::new("fused", &id), |b| {
            pool.install(|| {
                b.iter(|| {
                    let mut loss = [0.0_f32];
                    let dxm = MatMut::from_row_major(&mut dx, n, k).unwrap();
                    bce_with_logits(xv, tv, &opts, &[1.0], &mut loss, dxm).unwrap();
                    loss[0]
                })
            })
        });
    }
    g.finish();
}

criterion_group! { name = benches; config = config(); targets = sce, ce_probs, bce }
