//! Elementwise and row kernels on the dispatched SIMD path against the same kernels forced onto
//! the scalar path (and, for the bandwidth-bound sizes, a plain memory copy), element
//! throughput, single call (rayon uses the pool's threads; run with RAYON_NUM_THREADS=1 for
//! single-thread figures).

use super::{config, values};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use nnkern::{Activation, MatMut, MatRef, Result, Saved, SimdPath, with_simd_path};
use std::hint::black_box;

type Fwd = fn(MatRef<'_, f32>, MatMut<'_, f32>) -> Result<()>;
type Bwd = fn(MatRef<'_, f32>, MatRef<'_, f32>, MatMut<'_, f32>) -> Result<()>;

/// Runs `f` on the scalar path or on the dispatched one.
fn on(path: Option<SimdPath>, f: impl FnOnce()) {
    match path {
        Some(p) => with_simd_path(p, f).unwrap(),
        None => f(),
    }
}

const PATHS: [(&str, Option<SimdPath>); 2] = [("scalar", Some(SimdPath::Scalar)), ("nnkern", None)];

fn elementwise(c: &mut Criterion) {
    // (the logarithms on positive inputs: their domain)
    let fwd: [(&str, Fwd, f32, f32); 5] = [
        ("exp", nnkern::exp_forward, -10.0, 10.0),
        ("ln", nnkern::ln_forward, 1e-6, 100.0),
        ("ln_1p", nnkern::ln_1p_forward, 0.0, 10.0),
        ("sigmoid", nnkern::sigmoid_forward, -10.0, 10.0),
        ("tanh", nnkern::tanh_forward, -10.0, 10.0),
    ];
    for (name, f, lo, hi) in fwd {
        let mut g = c.benchmark_group(format!("{name}_elem"));
        for len in [4096, 262_144, 16_777_216] {
            let x = values(len, 1, lo, hi);
            let mut y = vec![0.0_f32; len];
            g.throughput(Throughput::Elements(len as u64));
            if len == 16_777_216 {
                g.bench_function(BenchmarkId::new("copy", len), |b| {
                    b.iter(|| y.copy_from_slice(black_box(&x)))
                });
            }
            for (label, path) in PATHS {
                g.bench_function(BenchmarkId::new(label, len), |b| {
                    b.iter(|| {
                        on(path, || {
                            f(
                                MatRef::from_row_major(&x, 1, len).unwrap(),
                                MatMut::from_row_major(&mut y, 1, len).unwrap(),
                            )
                            .unwrap()
                        })
                    })
                });
            }
        }
        g.finish();
    }
    let mut g = c.benchmark_group("sigmoid_backward_elem");
    for len in [4096, 262_144, 16_777_216] {
        let (yv, dy) = (values(len, 2, 0.0, 1.0), values(len, 3, -1.0, 1.0));
        let mut dx = vec![0.0_f32; len];
        g.throughput(Throughput::Elements(len as u64));
        g.bench_function(BenchmarkId::new("nnkern", len), |b| {
            b.iter(|| {
                nnkern::sigmoid_backward(
                    MatRef::from_row_major(&yv, 1, len).unwrap(),
                    MatRef::from_row_major(&dy, 1, len).unwrap(),
                    MatMut::from_row_major(&mut dx, 1, len).unwrap(),
                )
                .unwrap()
            })
        });
    }
    g.finish();
}

/// Every activation forward and backward (from what its backward reads: y, or x where the
/// derivative needs it) through `activation_forward` / `activation_backward`, with a copy of
/// the same length as the memory-bound baseline.
fn activations(c: &mut Criterion) {
    for act in Activation::ALL {
        let mut g = c.benchmark_group(format!("act_{}", act.name()));
        for len in [262_144, 16_777_216] {
            let x = values(len, 4, -6.0, 6.0);
            let dy = values(len, 5, -1.0, 1.0);
            let mut y = vec![0.0_f32; len];
            let mut dx = vec![0.0_f32; len];
            g.throughput(Throughput::Elements(len as u64));
            g.bench_function(BenchmarkId::new("copy", len), |b| {
                b.iter(|| y.copy_from_slice(black_box(&x)))
            });
            g.bench_function(BenchmarkId::new("fwd", len), |b| {
                b.iter(|| {
                    nnkern::activation_forward(
                        act,
                        MatRef::from_row_major(&x, 1, len).unwrap(),
                        MatMut::from_row_major(&mut y, 1, len).unwrap(),
                    )
                    .unwrap()
                })
            });
            let saved = if act.needs_input() { &x } else { &y };
            let saved_mat = MatRef::from_row_major(saved, 1, len).unwrap();
            let saved = if act.needs_input() {
                Saved::Input(saved_mat)
            } else {
                Saved::Output(saved_mat)
            };
            g.bench_function(BenchmarkId::new("bwd", len), |b| {
                b.iter(|| {
                    nnkern::activation_backward(
                        act,
                        saved,
                        MatRef::from_row_major(&dy, 1, len).unwrap(),
                        MatMut::from_row_major(&mut dx, 1, len).unwrap(),
                    )
                    .unwrap()
                })
            });
        }
        g.finish();
    }
}

fn rows(c: &mut Criterion) {
    let fwd: [(&str, Fwd, Bwd); 2] = [
        ("softmax", nnkern::softmax_forward, nnkern::softmax_backward),
        (
            "log_softmax",
            nnkern::log_softmax_forward,
            nnkern::log_softmax_backward,
        ),
    ];
    for (name, f, bk) in fwd {
        let mut g = c.benchmark_group(format!("{name}_elem"));
        for (n, k) in [(1024, 1000), (4096, 10), (100, 3)] {
            let x = values(n * k, 4, -5.0, 5.0);
            let dy = values(n * k, 5, -1.0, 1.0);
            let mut y = vec![0.0_f32; n * k];
            let mut dx = vec![0.0_f32; n * k];
            let id = format!("{n}x{k}");
            g.throughput(Throughput::Elements((n * k) as u64));
            for (label, path) in PATHS {
                g.bench_function(BenchmarkId::new(format!("fwd_{label}"), &id), |b| {
                    b.iter(|| {
                        on(path, || {
                            f(
                                MatRef::from_row_major(&x, n, k).unwrap(),
                                MatMut::from_row_major(&mut y, n, k).unwrap(),
                            )
                            .unwrap()
                        })
                    })
                });
                g.bench_function(BenchmarkId::new(format!("bwd_{label}"), &id), |b| {
                    b.iter(|| {
                        on(path, || {
                            bk(
                                MatRef::from_row_major(&y, n, k).unwrap(),
                                MatRef::from_row_major(&dy, n, k).unwrap(),
                                MatMut::from_row_major(&mut dx, n, k).unwrap(),
                            )
                            .unwrap()
                        })
                    })
                });
            }
        }
        g.finish();
    }
}

criterion_group! { name = benches; config = config(); targets = elementwise, activations, rows }
