//! Sigmoid and softmax against their scalar loops and a memory copy, element throughput.

use super::{config, values};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use nnkern::{MatMut, MatRef, sigmoid_forward, softmax_backward, softmax_forward};
use std::hint::black_box;

fn sigmoid(c: &mut Criterion) {
    let mut g = c.benchmark_group("sigmoid_elem");
    for len in [4096, 262_144] {
        let x = values(len, 1, -10.0, 10.0);
        let mut y = vec![0.0_f32; len];
        g.throughput(Throughput::Elements(len as u64));
        g.bench_function(BenchmarkId::new("copy", len), |b| {
            b.iter(|| y.copy_from_slice(black_box(&x)))
        });
        g.bench_function(BenchmarkId::new("scalar", len), |b| {
            b.iter(|| {
                for (o, &v) in y.iter_mut().zip(black_box(&x)) {
                    *o = 1.0 / (1.0 + (-v).exp());
                }
            })
        });
        g.bench_function(BenchmarkId::new("nnkern", len), |b| {
            b.iter(|| {
                sigmoid_forward(
                    MatRef::from_row_major(&x, 1, len).unwrap(),
                    MatMut::from_row_major(&mut y, 1, len).unwrap(),
                )
                .unwrap()
            })
        });
    }
    g.finish();
}

/// The textbook loop: max, exp and sum, divide.
fn softmax_scalar(x: &[f32], y: &mut [f32], c: usize) {
    for (xr, yr) in x.chunks_exact(c).zip(y.chunks_exact_mut(c)) {
        let m = xr.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        let mut s = 0.0;
        for (o, &v) in yr.iter_mut().zip(xr) {
            *o = (v - m).exp();
            s += *o;
        }
        for o in yr.iter_mut() {
            *o /= s;
        }
    }
}

fn softmax(c: &mut Criterion) {
    let mut g = c.benchmark_group("softmax_elem");
    for (n, k) in [(1024, 1000), (4096, 10), (100, 3)] {
        let x = values(n * k, 2, -5.0, 5.0);
        let dy = values(n * k, 3, -1.0, 1.0);
        let mut y = vec![0.0_f32; n * k];
        let mut dx = vec![0.0_f32; n * k];
        let id = format!("{n}x{k}");
        g.throughput(Throughput::Elements((n * k) as u64));
        g.bench_function(BenchmarkId::new("fwd_scalar", &id), |b| {
            b.iter(|| softmax_scalar(black_box(&x), &mut y, k))
        });
        g.bench_function(BenchmarkId::new("fwd_nnkern", &id), |b| {
            b.iter(|| {
                softmax_forward(
                    MatRef::from_row_major(&x, n, k).unwrap(),
                    MatMut::from_row_major(&mut y, n, k).unwrap(),
                )
                .unwrap()
            })
        });
        g.bench_function(BenchmarkId::new("bwd_nnkern", &id), |b| {
            b.iter(|| {
                softmax_backward(
                    MatRef::from_row_major(&y, n, k).unwrap(),
                    MatRef::from_row_major(&dy, n, k).unwrap(),
                    MatMut::from_row_major(&mut dx, n, k).unwrap(),
                )
                .unwrap()
            })
        });
    }
    g.finish();
}

criterion_group! { name = benches; config = config(); targets = sigmoid, softmax }
