//! Affine+Sigmoid forward and backward against bare GEMM and the unfused composition, FLOP
//! throughput, on 1 and 2 threads and every GEMM engine compiled in (`--features gemm` adds
//! the `gemm` crate's).
//!
//! Group `affine_sigmoid_{forward,backward}/{engine}/{threads}t`, one function per variant,
//! parameter the shape N×D×H:
//! - `bare_gemm`: `gemm` alone (forward: x·W; backward: dz·Wᵀ and xᵀ·dz);
//! - `unfused`: the GEMMs plus separate passes over memory (forward: bias, then sigmoid;
//!   backward: dz = dy ⊙ σ′, then db as column sums);
//! - `fused`: `affine_forward` / `affine_backward`;
//! - `engine_direct` (1 thread, matrixmultiply): `matrixmultiply::sgemm` called directly on
//!   the whole product, to show what cutting products into parts costs on one thread.

use super::{config, values};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use nnkern::{
    Accum, Activation, AffineGrads, GemmEngine, MatMut, MatRef, Workspace, affine_backward, affine_forward,
    gemm, sigmoid_backward, with_gemm_engine,
};
use std::hint::black_box;

/// (N, D, H) from the issue: the book's tiny layers, an MNIST-sized layer, a square one, a
/// tall-skinny classifier head, and a wide layer on a small batch.
const SHAPES: [(usize, usize, usize); 6] = [
    (100, 2, 10),
    (30, 10, 3),
    (256, 784, 1024),
    (1024, 1024, 1024),
    (4096, 512, 10),
    (64, 4096, 4096),
];

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

fn forward(c: &mut Criterion) {
    for &engine in GemmEngine::ALL {
        for threads in [1, 2] {
            let pool = pool(threads);
            let mut g = c.benchmark_group(format!("affine_sigmoid_forward/{}/{threads}t", engine.name()));
            for (n, d, h) in SHAPES {
                let (x, w, b) = (
                    values(n * d, 1, -1.0, 1.0),
                    values(d * h, 2, -0.1, 0.1),
                    values(h, 3, -0.1, 0.1),
                );
                let mut y = vec![0.0_f32; n * h];
                let xv = MatRef::from_row_major(&x, n, d).unwrap();
                let wv = MatRef::from_row_major(&w, d, h).unwrap();
                let id = format!("{n}x{d}x{h}");
                g.throughput(Throughput::Elements((2 * n * d * h) as u64));
                let run = |f: &mut (dyn FnMut() + Send)| pool.install(|| with_gemm_engine(engine, f));
                // correctness once before timing: fused equals the composition
                let mut y2 = vec![0.0_f32; n * h];
                run(&mut || {
                    affine_forward(
                        xv,
                        wv,
                        &b,
                        Activation::Sigmoid,
                        MatMut::from_row_major(&mut y, n, h).unwrap(),
                    )
                    .unwrap();
                    unfused_forward(xv, wv, &b, &mut y2, n, h);
                });
                assert!(
                    y.iter().zip(&y2).all(|(a, b)| (a - b).abs() <= 1e-6),
                    "fused ≠ unfused"
                );

                g.bench_function(BenchmarkId::new("bare_gemm", &id), |bch| {
                    run(&mut || {
                        bch.iter(|| {
                            gemm(1.0, xv, wv, 0.0, MatMut::from_row_major(&mut y, n, h).unwrap()).unwrap()
                        })
                    })
                });
                if threads == 1 && engine == GemmEngine::MatrixMultiply && n * d * h > 1 << 14 {
                    g.bench_function(BenchmarkId::new("engine_direct", &id), |bch| {
                        // SAFETY: x is n×d, w d×h and y n×h, all dense row-major slices of
                        // exactly those lengths; y is exclusively borrowed.
                        bch.iter(|| unsafe {
                            matrixmultiply::sgemm(
                                n,
                                d,
                                h,
                                1.0,
                                x.as_ptr(),
                                d as isize,
                                1,
                                w.as_ptr(),
                                h as isize,
                                1,
                                0.0,
                                y.as_mut_ptr(),
                                h as isize,
                                1,
                            )
                        })
                    });
                }
                g.bench_function(BenchmarkId::new("unfused", &id), |bch| {
                    run(&mut || bch.iter(|| unfused_forward(xv, wv, &b, &mut y, n, h)))
                });
                g.bench_function(BenchmarkId::new("fused", &id), |bch| {
                    run(&mut || {
                        bch.iter(|| {
                            affine_forward(
                                xv,
                                wv,
                                black_box(&b),
                                Activation::Sigmoid,
                                MatMut::from_row_major(&mut y, n, h).unwrap(),
                            )
                            .unwrap()
                        })
                    })
                });
            }
            g.finish();
        }
    }
}

/// The activations whose derivative needs the pre-activation, fused into Affine on the default
/// engine and thread count: bare GEMM (the floor), the fused forward without and with z kept,
/// the unfused composition (GEMM, bias pass, `activation_forward`), and the backward from z.
fn gated(c: &mut Criterion) {
    for act in [
        Activation::LeakyRelu(0.01),
        Activation::Silu,
        Activation::Gelu,
        Activation::GeluTanh,
    ] {
        let mut g = c.benchmark_group(format!("affine_{}", act.name()));
        for (n, d, h) in [(256, 784, 1024), (4096, 512, 10)] {
            let (x, w, b) = (
                values(n * d, 1, -1.0, 1.0),
                values(d * h, 2, -0.1, 0.1),
                values(h, 3, -0.1, 0.1),
            );
            let (mut y, mut z) = (vec![0.0_f32; n * h], vec![0.0_f32; n * h]);
            let (mut dx, mut dw, mut db) = (vec![0.0_f32; n * d], vec![0.0_f32; d * h], vec![0.0_f32; h]);
            let dy = values(n * h, 4, -1.0, 1.0);
            let xv = MatRef::from_row_major(&x, n, d).unwrap();
            let wv = MatRef::from_row_major(&w, d, h).unwrap();
            let id = format!("{n}x{d}x{h}");
            g.throughput(Throughput::Elements((2 * n * d * h) as u64));
            g.bench_function(BenchmarkId::new("bare_gemm", &id), |bch| {
                bch.iter(|| gemm(1.0, xv, wv, 0.0, MatMut::from_row_major(&mut y, n, h).unwrap()).unwrap())
            });
            g.bench_function(BenchmarkId::new("fused", &id), |bch| {
                bch.iter(|| {
                    affine_forward(
                        xv,
                        wv,
                        black_box(&b),
                        act,
                        MatMut::from_row_major(&mut y, n, h).unwrap(),
                    )
                    .unwrap()
                })
            });
            g.bench_function(BenchmarkId::new("fused_with_z", &id), |bch| {
                bch.iter(|| {
                    nnkern::affine_forward_with_z(
                        xv,
                        wv,
                        black_box(&b),
                        act,
                        MatMut::from_row_major(&mut z, n, h).unwrap(),
                        MatMut::from_row_major(&mut y, n, h).unwrap(),
                    )
                    .unwrap()
                })
            });
            g.bench_function(BenchmarkId::new("unfused", &id), |bch| {
                bch.iter(|| {
                    gemm(1.0, xv, wv, 0.0, MatMut::from_row_major(&mut z, n, h).unwrap()).unwrap();
                    for row in z.chunks_exact_mut(h) {
                        for (v, bj) in row.iter_mut().zip(&b) {
                            *v += bj;
                        }
                    }
                    nnkern::activation_forward(
                        act,
                        MatRef::from_row_major(&z, n, h).unwrap(),
                        MatMut::from_row_major(&mut y, n, h).unwrap(),
                    )
                    .unwrap()
                })
            });
            let mut ws = Workspace::new();
            g.bench_function(BenchmarkId::new("backward_from_z", &id), |bch| {
                bch.iter(|| {
                    affine_backward(
                        xv,
                        wv,
                        nnkern::Saved::Input(MatRef::from_row_major(&z, n, h).unwrap()),
                        MatRef::from_row_major(&dy, n, h).unwrap(),
                        act,
                        AffineGrads {
                            dx: Some(MatMut::from_row_major(&mut dx, n, d).unwrap()),
                            dw: MatMut::from_row_major(&mut dw, d, h).unwrap(),
                            db: &mut db,
                        },
                        Accum::Replace,
                        &mut ws,
                    )
                    .unwrap()
                })
            });
        }
        g.finish();
    }
}

/// GEMM, then a bias pass, then the crate's sigmoid as a pass of its own: three trips through
/// memory.
fn unfused_forward(x: MatRef<'_, f32>, w: MatRef<'_, f32>, b: &[f32], y: &mut [f32], n: usize, h: usize) {
    gemm(1.0, x, w, 0.0, MatMut::from_row_major(y, n, h).unwrap()).unwrap();
    for row in y.chunks_exact_mut(h) {
        for (v, bj) in row.iter_mut().zip(b) {
            *v += bj;
        }
    }
    let z = y.to_vec();
    nnkern::sigmoid_forward(
        MatRef::from_row_major(&z, n, h).unwrap(),
        MatMut::from_row_major(y, n, h).unwrap(),
    )
    .unwrap();
}

fn backward(c: &mut Criterion) {
    for &engine in GemmEngine::ALL {
        for threads in [1, 2] {
            let pool = pool(threads);
            let mut g = c.benchmark_group(format!("affine_sigmoid_backward/{}/{threads}t", engine.name()));
            for (n, d, h) in SHAPES {
                let (x, w) = (values(n * d, 4, -1.0, 1.0), values(d * h, 5, -0.1, 0.1));
                let (y, dy) = (values(n * h, 6, 0.0, 1.0), values(n * h, 7, -1.0, 1.0));
                let (mut dx, mut dw, mut db) = (vec![0.0_f32; n * d], vec![0.0_f32; d * h], vec![0.0_f32; h]);
                let mut dz = vec![0.0_f32; n * h];
                let xv = MatRef::from_row_major(&x, n, d).unwrap();
                let wv = MatRef::from_row_major(&w, d, h).unwrap();
                let yv = MatRef::from_row_major(&y, n, h).unwrap();
                let dyv = MatRef::from_row_major(&dy, n, h).unwrap();
                let id = format!("{n}x{d}x{h}");
                g.throughput(Throughput::Elements((4 * n * d * h) as u64));
                let run = |f: &mut (dyn FnMut() + Send)| pool.install(|| with_gemm_engine(engine, f));
                let products = |dz: &[f32], dx: &mut [f32], dw: &mut [f32]| {
                    let dzv = MatRef::from_row_major(dz, n, h).unwrap();
                    gemm(1.0, dzv, wv.t(), 0.0, MatMut::from_row_major(dx, n, d).unwrap()).unwrap();
                    gemm(1.0, xv.t(), dzv, 0.0, MatMut::from_row_major(dw, d, h).unwrap()).unwrap();
                };
                g.bench_function(BenchmarkId::new("bare_gemm", &id), |bch| {
                    run(&mut || bch.iter(|| products(&dy, &mut dx, &mut dw)))
                });
                g.bench_function(BenchmarkId::new("unfused", &id), |bch| {
                    run(&mut || {
                        bch.iter(|| {
                            sigmoid_backward(yv, dyv, MatMut::from_row_major(&mut dz, n, h).unwrap())
                                .unwrap();
                            db.fill(0.0);
                            for row in dz.chunks_exact(h) {
                                for (s, v) in db.iter_mut().zip(row) {
                                    *s += v;
                                }
                            }
                            products(&dz, &mut dx, &mut dw);
                        })
                    })
                });
                let mut ws = Workspace::new();
                g.bench_function(BenchmarkId::new("fused", &id), |bch| {
                    run(&mut || {
                        bch.iter(|| {
                            affine_backward(
                                xv,
                                wv,
                                yv,
                                dyv,
                                Activation::Sigmoid,
                                AffineGrads {
                                    dx: Some(MatMut::from_row_major(&mut dx, n, d).unwrap()),
                                    dw: MatMut::from_row_major(&mut dw, d, h).unwrap(),
                                    db: &mut db,
                                },
                                Accum::Replace,
                                &mut ws,
                            )
                            .unwrap()
                        })
                    })
                });
            }
            g.finish();
        }
    }
}

criterion_group! { name = benches; config = config(); targets = forward, backward, gated }
