//! Softmax-cross-entropy forward + backward: fused against the unfused composition of the
//! crate's own kernels (softmax, cross-entropy, its gradient, softmax's gradient).

use super::{config, values};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use nnkern::{
    CrossEntropyOptions, MatMut, MatRef, Reduction, Targets, cross_entropy_backward, cross_entropy_forward,
    softmax_backward, softmax_cross_entropy, softmax_forward,
};

fn sce(c: &mut Criterion) {
    let mut g = c.benchmark_group("softmax_cross_entropy_fwd_bwd_elem");
    for (n, k) in [(1024, 1000), (4096, 10), (100, 3)] {
        let x = values(n * k, 4, -5.0, 5.0);
        let t: Vec<usize> = (0..n).map(|i| (i * 7919) % k).collect();
        let (mut p, mut dp, mut dx) = (vec![0.0_f32; n * k], vec![0.0_f32; n * k], vec![0.0_f32; n * k]);
        let id = format!("{n}x{k}");
        let opts = CrossEntropyOptions::default();
        g.throughput(Throughput::Elements((n * k) as u64));
        g.bench_function(BenchmarkId::new("unfused", &id), |b| {
            b.iter(|| {
                let mut loss = [0.0_f32];
                let xv = MatRef::from_row_major(&x, n, k).unwrap();
                softmax_forward(xv, MatMut::from_row_major(&mut p, n, k).unwrap()).unwrap();
                let pv = MatRef::from_row_major(&p, n, k).unwrap();
                cross_entropy_forward(pv, Targets::Classes(&t), Reduction::Mean, &mut loss).unwrap();
                cross_entropy_backward(
                    pv,
                    Targets::Classes(&t),
                    Reduction::Mean,
                    &[1.0],
                    MatMut::from_row_major(&mut dp, n, k).unwrap(),
                )
                .unwrap();
                softmax_backward(
                    pv,
                    MatRef::from_row_major(&dp, n, k).unwrap(),
                    MatMut::from_row_major(&mut dx, n, k).unwrap(),
                )
                .unwrap();
                loss[0]
            })
        });
        g.bench_function(BenchmarkId::new("fused", &id), |b| {
            b.iter(|| {
                let mut loss = [0.0_f32];
                softmax_cross_entropy(
                    MatRef::from_row_major(&x, n, k).unwrap(),
                    Targets::Classes(&t),
                    &opts,
                    &[1.0],
                    &mut loss,
                    MatMut::from_row_major(&mut dx, n, k).unwrap(),
                )
                .unwrap();
                loss[0]
            })
        });
    }
    g.finish();
}

criterion_group! { name = benches; config = config(); targets = sce }
