//! One training epoch of the digits example's net (64→256→128→10, ReLU, Adam, batch 32, 1 437
//! rows): the `Sequential` stack driven by `Trainer` against the same epoch written with the
//! raw kernels (fused Affine+ReLU forward, the fused softmax-cross-entropy, `affine_backward`
//! with the first layer's dx skipped, `adam_update` per tensor) — the cost of the layer API —
//! and the Adam update alone per parameter (1 024 parameters in L1, the net's 50 826 in L2,
//! and 4M in memory: 28 bytes move per parameter, so the larger sizes measure bandwidth).

use super::config;

#[path = "../../examples/digits/data.rs"]
mod digits_data;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use nnkern::layers::Rng;
use nnkern::layers::{Adam, Affine, Init, Layer, Sequential, Trainer};
use nnkern::{
    Accum, Activation, AdamParams, AffineGrads, CrossEntropyOptions, MatMut, MatRef, Targets, Workspace,
    adam_update, affine_backward, affine_forward, gather_rows, softmax_cross_entropy,
};

const D: usize = digits_data::WIDTH;
const BATCH: usize = 32;

/// The net's layers' sizes.
const SIZES: [(usize, usize); 3] = [(64, 256), (256, 128), (128, 10)];

fn stack(rng: &mut Rng) -> Sequential<f32> {
    let mut net = Sequential::new();
    for (k, &(d, h)) in SIZES.iter().enumerate() {
        let act = if k < 2 {
            Activation::Relu
        } else {
            Activation::Identity
        };
        net.add(Box::new(Affine::init(d, h, act, Init::TorchLinear, rng).unwrap()));
    }
    net
}

/// The same net held as plain vectors, trained with kernel calls.
struct Raw {
    w: Vec<Vec<f32>>,
    b: Vec<Vec<f32>>,
    dw: Vec<Vec<f32>>,
    db: Vec<Vec<f32>>,
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    ys: Vec<Vec<f32>>,
    dys: Vec<Vec<f32>>,
    xb: Vec<f32>,
    tb: Vec<usize>,
    ws: Workspace<f32>,
    step: u32,
}

impl Raw {
    fn new(net: &Sequential<f32>) -> Self {
        let p = net.params();
        let w: Vec<Vec<f32>> = p.iter().step_by(2).map(|s| s.to_vec()).collect();
        let b: Vec<Vec<f32>> = p.iter().skip(1).step_by(2).map(|s| s.to_vec()).collect();
        let zeros = |v: &Vec<Vec<f32>>| v.iter().map(|s| vec![0.0; s.len()]).collect::<Vec<_>>();
        let all: Vec<Vec<f32>> = p.iter().map(|s| vec![0.0; s.len()]).collect();
        Raw {
            dw: zeros(&w),
            db: zeros(&b),
            m: all.clone(),
            v: all,
            ys: SIZES.iter().map(|&(_, h)| vec![0.0; BATCH * h]).collect(),
            dys: SIZES.iter().map(|&(_, h)| vec![0.0; BATCH * h]).collect(),
            w,
            b,
            xb: vec![0.0; BATCH * D],
            tb: vec![0; BATCH],
            ws: Workspace::new(),
            step: 0,
        }
    }

    fn epoch(&mut self, x: MatRef<'_, f32>, t: &[usize], order: &[usize], hp: &AdamParams<f32>) -> f32 {
        let acts = [Activation::Relu, Activation::Relu, Activation::Identity];
        let mut total = 0.0;
        for idx in order.chunks(BATCH) {
            let n = idx.len();
            gather_rows(
                x,
                idx,
                MatMut::from_row_major(&mut self.xb[..n * D], n, D).unwrap(),
            )
            .unwrap();
            for (o, &i) in self.tb.iter_mut().zip(idx) {
                *o = t[i];
            }
            for (k, &(d, h)) in SIZES.iter().enumerate() {
                let (prev, cur) = self.ys.split_at_mut(k);
                let input = if k == 0 {
                    &self.xb[..n * d]
                } else {
                    &prev[k - 1][..n * d]
                };
                affine_forward(
                    MatRef::from_row_major(input, n, d).unwrap(),
                    MatRef::from_row_major(&self.w[k], d, h).unwrap(),
                    &self.b[k],
                    acts[k],
                    MatMut::from_row_major(&mut cur[0][..n * h], n, h).unwrap(),
                )
                .unwrap();
            }
            let mut loss = [0.0];
            softmax_cross_entropy(
                MatRef::from_row_major(&self.ys[2][..n * 10], n, 10).unwrap(),
                Targets::Classes(&self.tb[..n]),
                &CrossEntropyOptions::default(),
                &[1.0],
                &mut loss,
                MatMut::from_row_major(&mut self.dys[2][..n * 10], n, 10).unwrap(),
            )
            .unwrap();
            total += loss[0];
            for k in (0..3).rev() {
                let (d, h) = SIZES[k];
                let (lo, hi) = self.dys.split_at_mut(k);
                let input = if k == 0 {
                    &self.xb[..n * d]
                } else {
                    &self.ys[k - 1][..n * d]
                };
                affine_backward(
                    MatRef::from_row_major(input, n, d).unwrap(),
                    MatRef::from_row_major(&self.w[k], d, h).unwrap(),
                    MatRef::from_row_major(&self.ys[k][..n * h], n, h).unwrap(),
                    MatRef::from_row_major(&hi[0][..n * h], n, h).unwrap(),
                    acts[k],
                    AffineGrads {
                        dx: (k > 0).then(|| MatMut::from_row_major(&mut lo[k - 1][..n * d], n, d).unwrap()),
                        dw: MatMut::from_row_major(&mut self.dw[k], d, h).unwrap(),
                        db: &mut self.db[k],
                    },
                    Accum::Replace,
                    &mut self.ws,
                )
                .unwrap();
            }
            self.step += 1;
            for k in 0..3 {
                let (m, v) = (&mut self.m[2 * k..2 * k + 2], &mut self.v[2 * k..2 * k + 2]);
                adam_update(&mut self.w[k], &self.dw[k], &mut m[0], &mut v[0], self.step, hp).unwrap();
                adam_update(&mut self.b[k], &self.db[k], &mut m[1], &mut v[1], self.step, hp).unwrap();
            }
        }
        total / order.len().div_ceil(BATCH) as f32
    }
}

fn digits(c: &mut Criterion) {
    // the example's data: its training rows
    let data = digits_data::load().expect("the example's data");
    let [(xv, t), _] = data.split().unwrap();
    let n = t.len();
    let hp = AdamParams::default().lr(1e-3);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let mut g = c.benchmark_group("digits_epoch/1t");
    g.throughput(Throughput::Elements(n as u64));
    let mut rng = Rng::new(0);
    let mut net = stack(&mut rng);
    let mut raw = Raw::new(&net);
    let mut trainer = Trainer::new(BATCH, Adam::new(hp), Rng::new(1)).unwrap();
    let mut order: Vec<usize> = (0..n).collect();
    Rng::new(1).shuffle(&mut order);
    g.bench_function(BenchmarkId::new("sequential", n), |b| {
        b.iter(|| pool.install(|| trainer.epoch(&mut net, xv, t).unwrap()))
    });
    g.bench_function(BenchmarkId::new("raw_kernels", n), |b| {
        b.iter(|| pool.install(|| raw.epoch(xv, t, &order, &hp)))
    });
    g.finish();

    // on the calling thread (the update never splits): no pool, whose hand-off would cost
    // more than a small update
    let mut g = c.benchmark_group("adam_update/1t");
    for len in [1024, 50_826, 1 << 22] {
        let grads = super::values(len, 3, -1.0, 1.0);
        let mut p = super::values(len, 4, -1.0, 1.0);
        let (mut m, mut v) = (vec![0.0; len], vec![0.0; len]);
        let mut step = 0;
        g.throughput(Throughput::Elements(len as u64));
        // baseline: the plain loop of the formula (what `adam_update` was before)
        g.bench_function(BenchmarkId::new("scalar_loop", len), |b| {
            let (mut p, mut m, mut v) = (p.clone(), m.clone(), v.clone());
            let mut step = 0;
            b.iter(|| {
                step += 1;
                let c1 = 1.0 - hp.beta1.powi(step);
                let c2 = 1.0 - hp.beta2.powi(step);
                for (((p, &g), m), v) in p.iter_mut().zip(&grads).zip(m.iter_mut()).zip(v.iter_mut()) {
                    *m = hp.beta1 * *m + (1.0 - hp.beta1) * g;
                    *v = hp.beta2 * *v + (1.0 - hp.beta2) * g * g;
                    *p -= hp.lr * (*m / c1) / ((*v / c2).sqrt() + hp.eps);
                }
            })
        });
        g.bench_function(BenchmarkId::new("adam", len), |b| {
            b.iter(|| {
                step += 1;
                adam_update(&mut p, &grads, &mut m, &mut v, step, &hp).unwrap()
            })
        });
    }
    g.finish();
}

criterion_group! { name = benches; config = config(); targets = digits }
