//! Affine forward and backward against bare GEMM and the unfused composition, FLOP throughput.

use super::{config, values};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use nnkern::{
    Accum, Activation, AffineGrads, MatMut, MatRef, Workspace, affine_backward, affine_forward, gemm,
};
use std::hint::black_box;

/// (N, D, H) from the issues: the book's tiny layers, an MNIST-sized layer, a square one.
const SHAPES: [(usize, usize, usize); 4] = [(100, 2, 10), (30, 10, 3), (256, 784, 1024), (4096, 512, 10)];

fn forward(c: &mut Criterion) {
    let mut g = c.benchmark_group("affine_sigmoid_forward_flop");
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
        // correctness once before timing: fused equals the composition
        affine_forward(
            xv,
            wv,
            &b,
            Activation::Sigmoid,
            MatMut::from_row_major(&mut y, n, h).unwrap(),
        )
        .unwrap();
        let mut y2 = vec![0.0_f32; n * h];
        unfused(xv, wv, &b, &mut y2, n, h);
        assert!(
            y.iter().zip(&y2).all(|(a, b)| (a - b).abs() <= 1e-6),
            "fused ≠ unfused"
        );

        g.bench_function(BenchmarkId::new("bare_gemm", &id), |bch| {
            bch.iter(|| gemm(1.0, xv, wv, 0.0, MatMut::from_row_major(&mut y, n, h).unwrap()).unwrap())
        });
        g.bench_function(BenchmarkId::new("unfused", &id), |bch| {
            bch.iter(|| unfused(xv, wv, &b, &mut y, n, h))
        });
        g.bench_function(BenchmarkId::new("nnkern", &id), |bch| {
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
        });
    }
    g.finish();
}

/// GEMM, then a bias pass, then a sigmoid pass over y: three trips through memory.
fn unfused(x: MatRef<'_, f32>, w: MatRef<'_, f32>, b: &[f32], y: &mut [f32], n: usize, h: usize) {
    gemm(1.0, x, w, 0.0, MatMut::from_row_major(y, n, h).unwrap()).unwrap();
    for row in y.chunks_exact_mut(h) {
        for (v, bj) in row.iter_mut().zip(b) {
            *v += bj;
        }
    }
    for v in y.iter_mut() {
        *v = 1.0 / (1.0 + (-*v).exp());
    }
}

fn backward(c: &mut Criterion) {
    let mut g = c.benchmark_group("affine_sigmoid_backward_flop");
    for (n, d, h) in SHAPES {
        let (x, w) = (values(n * d, 4, -1.0, 1.0), values(d * h, 5, -0.1, 0.1));
        let (y, dy) = (values(n * h, 6, 0.0, 1.0), values(n * h, 7, -1.0, 1.0));
        let (mut dx, mut dw, mut db) = (vec![0.0_f32; n * d], vec![0.0_f32; d * h], vec![0.0_f32; h]);
        let xv = MatRef::from_row_major(&x, n, d).unwrap();
        let wv = MatRef::from_row_major(&w, d, h).unwrap();
        let yv = MatRef::from_row_major(&y, n, h).unwrap();
        let dyv = MatRef::from_row_major(&dy, n, h).unwrap();
        let id = format!("{n}x{d}x{h}");
        g.throughput(Throughput::Elements((4 * n * d * h) as u64));
        g.bench_function(BenchmarkId::new("bare_gemm_pair", &id), |bch| {
            bch.iter(|| {
                gemm(
                    1.0,
                    dyv,
                    wv.t(),
                    0.0,
                    MatMut::from_row_major(&mut dx, n, d).unwrap(),
                )
                .unwrap();
                gemm(
                    1.0,
                    xv.t(),
                    dyv,
                    0.0,
                    MatMut::from_row_major(&mut dw, d, h).unwrap(),
                )
                .unwrap();
            })
        });
        let mut ws = Workspace::new();
        g.bench_function(BenchmarkId::new("nnkern", &id), |bch| {
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
        });
    }
    g.finish();
}

criterion_group! { name = benches; config = config(); targets = forward, backward }
