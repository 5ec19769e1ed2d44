//! The spiral training run (the book's TwoLayerNet, batch 30): one whole step (forward, loss,
//! backward, SGD update) and the 300-epoch run: the fused step (`TwoLayerNet::train_step`,
//! what `Trainer` runs) against the same net layer by layer (forward, backward, step: the
//! fused layer kernels, ten calls) and the loop written with the crate's unfused kernels.

use super::config;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use nnkern::layers::Rng;
use spiral::spiral;

#[path = "../../examples/support/spiral.rs"]
mod spiral;
use nnkern::layers::{Sgd, Trainer, TwoLayerNet};
use nnkern::{
    Accum, MatMut, MatRef, Reduction, Targets, cross_entropy_backward, cross_entropy_forward,
    matmul_backward, matmul_forward, sgd_update, sigmoid_backward, sigmoid_forward, softmax_backward,
    softmax_forward,
};

/// The two-layer net as separate kernel calls: MatMul, bias, Sigmoid, MatMul, bias, Softmax,
/// cross-entropy, and their backwards, each a pass of its own.
fn m(v: &[f32], r: usize, c: usize) -> MatRef<'_, f32> {
    MatRef::from_row_major(v, r, c).unwrap()
}

struct Unfused {
    w1: Vec<f32>,
    b1: Vec<f32>,
    w2: Vec<f32>,
    b2: Vec<f32>,
    bufs: [Vec<f32>; 10],
}

impl Unfused {
    fn new(rng: &mut Rng) -> Self {
        let mut r = |n: usize| (0..n).map(|_| 0.01 * rng.normal() as f32).collect::<Vec<f32>>();
        let (w1, w2) = (r(20), r(30));
        let z = |n: usize| vec![0.0_f32; n];
        Unfused {
            w1,
            b1: z(10),
            w2,
            b2: z(3),
            bufs: [
                z(300),
                z(300),
                z(90),
                z(90),
                z(90),
                z(90),
                z(300),
                z(300),
                z(20),
                z(30),
            ],
        }
    }

    fn step(&mut self, x: &[f32], t: &[usize], lr: f32) -> f32 {
        let n = t.len();
        let [z1, a1, s, p, dp, ds, da1, dz1, dw1, dw2] = &mut self.bufs;
        matmul_forward(
            m(x, n, 2),
            m(&self.w1, 2, 10),
            MatMut::from_row_major(&mut z1[..n * 10], n, 10).unwrap(),
        )
        .unwrap();
        for row in z1[..n * 10].chunks_exact_mut(10) {
            row.iter_mut().zip(&self.b1).for_each(|(v, b)| *v += b);
        }
        sigmoid_forward(
            m(&z1[..n * 10], n, 10),
            MatMut::from_row_major(&mut a1[..n * 10], n, 10).unwrap(),
        )
        .unwrap();
        matmul_forward(
            m(&a1[..n * 10], n, 10),
            m(&self.w2, 10, 3),
            MatMut::from_row_major(&mut s[..n * 3], n, 3).unwrap(),
        )
        .unwrap();
        for row in s[..n * 3].chunks_exact_mut(3) {
            row.iter_mut().zip(&self.b2).for_each(|(v, b)| *v += b);
        }
        softmax_forward(
            m(&s[..n * 3], n, 3),
            MatMut::from_row_major(&mut p[..n * 3], n, 3).unwrap(),
        )
        .unwrap();
        let mut loss = [0.0_f32];
        cross_entropy_forward(
            m(&p[..n * 3], n, 3),
            Targets::Classes(t),
            Reduction::Mean,
            &mut loss,
        )
        .unwrap();
        cross_entropy_backward(
            m(&p[..n * 3], n, 3),
            Targets::Classes(t),
            Reduction::Mean,
            &[1.0],
            MatMut::from_row_major(&mut dp[..n * 3], n, 3).unwrap(),
        )
        .unwrap();
        softmax_backward(
            m(&p[..n * 3], n, 3),
            m(&dp[..n * 3], n, 3),
            MatMut::from_row_major(&mut ds[..n * 3], n, 3).unwrap(),
        )
        .unwrap();
        let mut db2 = [0.0_f32; 3];
        for row in ds[..n * 3].chunks_exact(3) {
            db2.iter_mut().zip(row).for_each(|(d, v)| *d += v);
        }
        matmul_backward(
            m(&a1[..n * 10], n, 10),
            m(&self.w2, 10, 3),
            m(&ds[..n * 3], n, 3),
            Some(MatMut::from_row_major(&mut da1[..n * 10], n, 10).unwrap()),
            MatMut::from_row_major(dw2, 10, 3).unwrap(),
            Accum::Replace,
        )
        .unwrap();
        sigmoid_backward(
            m(&a1[..n * 10], n, 10),
            m(&da1[..n * 10], n, 10),
            MatMut::from_row_major(&mut dz1[..n * 10], n, 10).unwrap(),
        )
        .unwrap();
        let mut db1 = [0.0_f32; 10];
        for row in dz1[..n * 10].chunks_exact(10) {
            db1.iter_mut().zip(row).for_each(|(d, v)| *d += v);
        }
        matmul_backward(
            m(x, n, 2),
            m(&self.w1, 2, 10),
            m(&dz1[..n * 10], n, 10),
            None,
            MatMut::from_row_major(dw1, 2, 10).unwrap(),
            Accum::Replace,
        )
        .unwrap();
        sgd_update(&mut self.w1, dw1, lr).unwrap();
        sgd_update(&mut self.b1, &db1, lr).unwrap();
        sgd_update(&mut self.w2, dw2, lr).unwrap();
        sgd_update(&mut self.b2, &db2, lr).unwrap();
        loss[0]
    }
}

/// 300 epochs of 10 shuffled batches of 30 over the 300 points (2-D), as `Trainer` runs
/// them, with `step` in place of the fused step; returns the last batch loss.
fn epochs(x: &[f32], t: &[usize], mut rng: Rng, mut step: impl FnMut(&[f32], &[usize]) -> f32) -> f32 {
    let mut order: Vec<usize> = (0..300).collect();
    let (mut xb, mut tb) = (vec![0.0_f32; 60], vec![0usize; 30]);
    let mut last = 0.0;
    for _ in 0..300 {
        rng.shuffle(&mut order);
        for s in 0..10 {
            for k in 0..30 {
                let i = order[s * 30 + k];
                xb[2 * k..2 * k + 2].copy_from_slice(&x[2 * i..2 * i + 2]);
                tb[k] = t[i];
            }
            last = step(&xb, &tb);
        }
    }
    last
}

fn training(c: &mut Criterion) {
    let (x, t) = spiral::<f32>(100, 3, 1984);
    let mut g = c.benchmark_group("spiral_training");
    g.throughput(Throughput::Elements(1));
    let (xb, tb) = (&x[..60], &t[..30]);
    let mut net = TwoLayerNet::<f32>::new(2, 10, 3, &mut Rng::new(1));
    let mut sgd = Sgd::new(1.0);
    let xv = MatRef::from_row_major(xb, 30, 2).unwrap();
    g.bench_function(BenchmarkId::new("step_unfused", 30), |b| {
        let mut u = Unfused::new(&mut Rng::new(1));
        b.iter(|| u.step(xb, tb, 1.0))
    });
    g.bench_function(BenchmarkId::new("step_layer_by_layer", 30), |b| {
        b.iter(|| {
            let l = net.forward(xv, tb).unwrap();
            net.backward().unwrap();
            net.step(&mut sgd).unwrap();
            l
        })
    });
    g.bench_function(BenchmarkId::new("step_nnkern", 30), |b| {
        b.iter(|| net.train_step(xv, tb, &mut sgd).unwrap())
    });
    g.bench_function(BenchmarkId::new("run_300_epochs_unfused", 30), |b| {
        b.iter(|| {
            let mut rng = Rng::new(2);
            let mut u = Unfused::new(&mut rng);
            epochs(&x, &t, rng, |xb, tb| u.step(xb, tb, 1.0))
        })
    });
    g.bench_function(BenchmarkId::new("run_300_epochs_layer_by_layer", 30), |b| {
        b.iter(|| {
            let mut rng = Rng::new(2);
            let mut net = TwoLayerNet::<f32>::new(2, 10, 3, &mut rng);
            epochs(&x, &t, rng, |xb, tb| {
                let l = net.forward(m(xb, 30, 2), tb).unwrap();
                net.backward().unwrap();
                net.step(&mut Sgd::new(1.0)).unwrap();
                l
            })
        })
    });
    g.bench_function(BenchmarkId::new("run_300_epochs_nnkern", 30), |b| {
        b.iter(|| {
            let mut rng = Rng::new(2);
            let mut net = TwoLayerNet::<f32>::new(2, 10, 3, &mut rng);
            let mut tr = Trainer::new(30, Sgd::new(1.0), rng).unwrap();
            let xv = MatRef::from_row_major(&x, 300, 2).unwrap();
            tr.fit(&mut net, xv, &t, 300, |_, _, _, _| Ok(())).unwrap()
        })
    });
    g.finish();
}

criterion_group! { name = benches; config = config(); targets = training }
