//! nnkern beside its peers, same shapes, same inputs, one process per thread count.
//!
//! Groups are named `{op}_{T}t` (T = rayon's thread count, set with RAYON_NUM_THREADS, which
//! candle reads too); inside a group the function is the implementation and the parameter the
//! shape. `compare/run.sh` runs this at 1 and 2 threads and `compare/report.py` turns the
//! results into `compare/REPORT.md`.
//!
//! Peers are written the way their users write them: candle through `Tensor` ops and
//! `candle_nn::ops`, ndarray through `dot`, arithmetic operators and `mapv`, rten-vecmath
//! through its SIMD ops, and the `gemm` and `matrixmultiply` crates called directly for bare
//! GEMM. Backward passes of candle and ndarray are the textbook formulas in their ops
//! (candle's autograd would run the same ops after a forward).

use candle_core::{Device, Tensor};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, criterion_group, criterion_main};
use ndarray::{Array1, Array2, Axis};
use nnkern::{
    Accum, Activation, AffineGrads, CrossEntropyOptions, GemmEngine, MatMut, MatRef, Saved, Targets,
    Workspace, with_gemm_engine,
};
use nnkern_compare::{MATMUL, ROWS, VECTORS, labels, mm_id, rows_id, values};
use rayon::prelude::*;
use rten_simd::{SimdOp, SimdUnaryOp};
use std::hint::black_box;
use std::mem::MaybeUninit;
use std::time::Duration;

#[path = "../../benches/benchmarks/fma.rs"]
mod fma;

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1200))
        .sample_size(15)
        .configure_from_args()
}

fn threads() -> usize {
    rayon::current_num_threads()
}

const ENGINES: [(&str, GemmEngine); 2] = [("nnkern", GemmEngine::Nnkern), ("nnkern_gemm", GemmEngine::Gemm)];

fn tensor(v: &[f32], shape: (usize, usize)) -> Tensor {
    Tensor::from_slice(v, shape, &Device::Cpu).unwrap()
}

fn array(v: &[f32], shape: (usize, usize)) -> Array2<f32> {
    Array2::from_shape_vec(shape, v.to_vec()).unwrap()
}

fn sig(v: f32) -> f32 {
    1.0 / (1.0 + (-v).exp())
}

/// C ← A·B through the `gemm` crate, row-major, on rayon's threads.
#[allow(clippy::too_many_arguments)]
fn gemm_crate(m: usize, k: usize, n: usize, a: &[f32], a_t: bool, b: &[f32], b_t: bool, c: &mut [f32]) {
    // strides of row-major A (m×k) or of Aᵀ stored k×m
    let (a_rs, a_cs) = if a_t { (1, m as isize) } else { (k as isize, 1) };
    let (b_rs, b_cs) = if b_t { (1, k as isize) } else { (n as isize, 1) };
    let par = match threads() {
        1 => gemm::Parallelism::None,
        t => gemm::Parallelism::Rayon(t),
    };
    // SAFETY: every index below m, k, n with these strides lies inside a, b and c, whose
    // lengths the callers size as m·k, k·n and m·n; c is exclusively borrowed.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            0.0,
            1.0,
            false,
            false,
            false,
            par,
        )
    }
}

/// nnkern's fused softmax-cross-entropy (mean loss and d logits of N×C logits `x`) as the
/// row "nnkern" of group `g`.
fn sce_row(
    g: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    x: &[f32],
    (n, cl): (usize, usize),
    targets: Targets<'_, f32>,
    opts: &CrossEntropyOptions<'_, f32>,
) {
    let mut d = vec![0.0_f32; n * cl];
    let mut loss = [0.0_f32];
    g.bench_function(BenchmarkId::new("nnkern", id), |b| {
        b.iter(|| {
            nnkern::softmax_cross_entropy(
                MatRef::from_row_major(x, n, cl).unwrap(),
                targets,
                opts,
                &[1.0],
                &mut loss,
                MatMut::from_row_major(&mut d, n, cl).unwrap(),
            )
            .unwrap()
        })
    });
}

fn matmul(c: &mut Criterion) {
    let t = threads();
    let mut fwd = c.benchmark_group(format!("matmul_fwd_{t}t"));
    for s @ (n, d, h) in MATMUL {
        let id = mm_id(s);
        let (x, w) = (values(n * d, 1, -1.0, 1.0), values(d * h, 2, -1.0, 1.0));
        let mut y = vec![0.0_f32; n * h];
        for (name, eng) in ENGINES {
            fwd.bench_function(BenchmarkId::new(name, &id), |b| {
                b.iter(|| {
                    with_gemm_engine(eng, || {
                        nnkern::matmul_forward(
                            MatRef::from_row_major(&x, n, d).unwrap(),
                            MatRef::from_row_major(&w, d, h).unwrap(),
                            MatMut::from_row_major(&mut y, n, h).unwrap(),
                        )
                        .unwrap()
                    })
                })
            });
        }
        let (xt, wt) = (tensor(&x, (n, d)), tensor(&w, (d, h)));
        fwd.bench_function(BenchmarkId::new("candle", &id), |b| {
            b.iter(|| black_box(xt.matmul(&wt).unwrap()))
        });
        let (xa, wa) = (array(&x, (n, d)), array(&w, (d, h)));
        fwd.bench_function(BenchmarkId::new("ndarray", &id), |b| {
            b.iter(|| black_box(xa.dot(&wa)))
        });
        fwd.bench_function(BenchmarkId::new("gemm", &id), |b| {
            b.iter(|| gemm_crate(n, d, h, &x, false, &w, false, &mut y))
        });
        fwd.bench_function(BenchmarkId::new("matrixmultiply", &id), |b| {
            // SAFETY: row-major n×d, d×h and n×h buffers of exactly those lengths.
            b.iter(|| unsafe {
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
    fwd.finish();

    let mut bwd = c.benchmark_group(format!("matmul_bwd_{t}t"));
    for s @ (n, d, h) in MATMUL {
        let id = mm_id(s);
        let (x, w, dy) = (
            values(n * d, 1, -1.0, 1.0),
            values(d * h, 2, -1.0, 1.0),
            values(n * h, 3, -1.0, 1.0),
        );
        let (mut dx, mut dw) = (vec![0.0_f32; n * d], vec![0.0_f32; d * h]);
        for (name, eng) in ENGINES {
            bwd.bench_function(BenchmarkId::new(name, &id), |b| {
                b.iter(|| {
                    with_gemm_engine(eng, || {
                        nnkern::matmul_backward(
                            MatRef::from_row_major(&x, n, d).unwrap(),
                            MatRef::from_row_major(&w, d, h).unwrap(),
                            MatRef::from_row_major(&dy, n, h).unwrap(),
                            Some(MatMut::from_row_major(&mut dx, n, d).unwrap()),
                            MatMut::from_row_major(&mut dw, d, h).unwrap(),
                            Accum::Replace,
                        )
                        .unwrap()
                    })
                })
            });
        }
        let (xt, wt, dyt) = (tensor(&x, (n, d)), tensor(&w, (d, h)), tensor(&dy, (n, h)));
        bwd.bench_function(BenchmarkId::new("candle", &id), |b| {
            b.iter(|| {
                let dx = dyt.matmul(&wt.t().unwrap()).unwrap();
                let dw = xt.t().unwrap().matmul(&dyt).unwrap();
                black_box((dx, dw))
            })
        });
        let (xa, wa, dya) = (array(&x, (n, d)), array(&w, (d, h)), array(&dy, (n, h)));
        bwd.bench_function(BenchmarkId::new("ndarray", &id), |b| {
            b.iter(|| black_box((dya.dot(&wa.t()), xa.t().dot(&dya))))
        });
        bwd.bench_function(BenchmarkId::new("gemm", &id), |b| {
            b.iter(|| {
                gemm_crate(n, h, d, &dy, false, &w, true, &mut dx);
                gemm_crate(d, n, h, &x, true, &dy, false, &mut dw);
            })
        });
    }
    bwd.finish();
}

fn affine_sigmoid(c: &mut Criterion) {
    let t = threads();
    let mut fwd = c.benchmark_group(format!("affine_sigmoid_fwd_{t}t"));
    for s @ (n, d, h) in MATMUL {
        let id = mm_id(s);
        let (x, w, bias) = (
            values(n * d, 1, -1.0, 1.0),
            values(d * h, 2, -1.0, 1.0),
            values(h, 4, -1.0, 1.0),
        );
        let mut y = vec![0.0_f32; n * h];
        for (name, eng) in ENGINES {
            fwd.bench_function(BenchmarkId::new(name, &id), |b| {
                b.iter(|| {
                    with_gemm_engine(eng, || {
                        nnkern::affine_forward(
                            MatRef::from_row_major(&x, n, d).unwrap(),
                            MatRef::from_row_major(&w, d, h).unwrap(),
                            &bias,
                            Activation::Sigmoid,
                            MatMut::from_row_major(&mut y, n, h).unwrap(),
                        )
                        .unwrap()
                    })
                })
            });
        }
        let (xt, wt) = (tensor(&x, (n, d)), tensor(&w, (d, h)));
        let bt = Tensor::from_slice(&bias, h, &Device::Cpu).unwrap();
        fwd.bench_function(BenchmarkId::new("candle", &id), |b| {
            b.iter(|| {
                let z = xt.matmul(&wt).unwrap().broadcast_add(&bt).unwrap();
                black_box(candle_nn::ops::sigmoid(&z).unwrap())
            })
        });
        let (xa, wa, ba) = (array(&x, (n, d)), array(&w, (d, h)), Array1::from(bias.clone()));
        fwd.bench_function(BenchmarkId::new("ndarray", &id), |b| {
            b.iter(|| black_box((xa.dot(&wa) + &ba).mapv_into(sig)))
        });
    }
    fwd.finish();

    let mut bwd = c.benchmark_group(format!("affine_sigmoid_bwd_{t}t"));
    for s @ (n, d, h) in MATMUL {
        let id = mm_id(s);
        let (x, w, y, dy) = (
            values(n * d, 1, -1.0, 1.0),
            values(d * h, 2, -1.0, 1.0),
            values(n * h, 5, 0.01, 0.99),
            values(n * h, 3, -1.0, 1.0),
        );
        let (mut dx, mut dw, mut db) = (vec![0.0_f32; n * d], vec![0.0_f32; d * h], vec![0.0_f32; h]);
        let mut ws = Workspace::new();
        for (name, eng) in ENGINES {
            bwd.bench_function(BenchmarkId::new(name, &id), |b| {
                b.iter(|| {
                    with_gemm_engine(eng, || {
                        nnkern::affine_backward(
                            MatRef::from_row_major(&x, n, d).unwrap(),
                            MatRef::from_row_major(&w, d, h).unwrap(),
                            MatRef::from_row_major(&y, n, h).unwrap(),
                            MatRef::from_row_major(&dy, n, h).unwrap(),
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
        let (xt, wt, yt, dyt) = (
            tensor(&x, (n, d)),
            tensor(&w, (d, h)),
            tensor(&y, (n, h)),
            tensor(&dy, (n, h)),
        );
        bwd.bench_function(BenchmarkId::new("candle", &id), |b| {
            b.iter(|| {
                let dz = dyt.mul(&yt.mul(&yt.affine(-1.0, 1.0).unwrap()).unwrap()).unwrap();
                let dx = dz.matmul(&wt.t().unwrap()).unwrap();
                let dw = xt.t().unwrap().matmul(&dz).unwrap();
                let db = dz.sum(0).unwrap();
                black_box((dx, dw, db))
            })
        });
        let (xa, wa, ya, dya) = (
            array(&x, (n, d)),
            array(&w, (d, h)),
            array(&y, (n, h)),
            array(&dy, (n, h)),
        );
        bwd.bench_function(BenchmarkId::new("ndarray", &id), |b| {
            b.iter(|| {
                let dz = &dya * &ya.mapv(|v| v * (1.0 - v));
                black_box((dz.dot(&wa.t()), xa.t().dot(&dz), dz.sum_axis(Axis(0))))
            })
        });
    }
    bwd.finish();
}

/// SiLU, the exact and the tanh GELU and LeakyReLU(0.01), forward and backward from x, beside candle's
/// forward ops (candle has no separate backward kernels); PyTorch's aten kernels are timed by
/// `torch_numpy.py` under the same op names.
fn gated(c: &mut Criterion) {
    let t = threads();
    for act in [
        Activation::Silu,
        Activation::Gelu,
        Activation::GeluTanh,
        Activation::LeakyRelu(0.01),
    ] {
        let name = act.name();
        let mut fwd = c.benchmark_group(format!("{name}_fwd_{t}t"));
        for len in VECTORS {
            let x = values(len, 1, -6.0, 6.0);
            let mut y = vec![0.0_f32; len];
            fwd.bench_function(BenchmarkId::new("nnkern", len), |b| {
                b.iter(|| {
                    nnkern::activation_forward(
                        act,
                        MatRef::from_row_major(&x, 1, len).unwrap(),
                        MatMut::from_row_major(&mut y, 1, len).unwrap(),
                    )
                    .unwrap()
                })
            });
            let xt = Tensor::from_slice(&x, len, &Device::Cpu).unwrap();
            fwd.bench_function(BenchmarkId::new("candle", len), |b| match act {
                Activation::Silu => b.iter(|| black_box(xt.silu().unwrap())),
                Activation::Gelu => b.iter(|| black_box(xt.gelu_erf().unwrap())),
                Activation::GeluTanh => b.iter(|| black_box(xt.gelu().unwrap())),
                _ => b.iter(|| black_box(candle_nn::ops::leaky_relu(&xt, 0.01).unwrap())),
            });
        }
        fwd.finish();
        let mut bwd = c.benchmark_group(format!("{name}_bwd_{t}t"));
        for len in VECTORS {
            let (x, dy) = (values(len, 2, -6.0, 6.0), values(len, 3, -1.0, 1.0));
            let mut dx = vec![0.0_f32; len];
            bwd.bench_function(BenchmarkId::new("nnkern", len), |b| {
                b.iter(|| {
                    nnkern::activation_backward(
                        act,
                        Saved::Input(MatRef::from_row_major(&x, 1, len).unwrap()),
                        MatRef::from_row_major(&dy, 1, len).unwrap(),
                        MatMut::from_row_major(&mut dx, 1, len).unwrap(),
                    )
                    .unwrap()
                })
            });
        }
        bwd.finish();
    }
}

type Unary = fn(MatRef<'_, f32>, MatMut<'_, f32>) -> nnkern::Result<()>;

fn elementwise(c: &mut Criterion) {
    let t = threads();
    let ops: [(&str, Unary); 2] = [
        ("exp", nnkern::exp_forward),
        ("sigmoid_fwd", nnkern::sigmoid_forward),
    ];
    for (op, ours) in ops {
        let exp = op == "exp";
        let mut g = c.benchmark_group(format!("{op}_{t}t"));
        for len in VECTORS {
            let x = values(len, 1, -10.0, 10.0);
            let mut y = vec![0.0_f32; len];
            g.bench_function(BenchmarkId::new("nnkern", len), |b| {
                b.iter(|| {
                    ours(
                        MatRef::from_row_major(&x, 1, len).unwrap(),
                        MatMut::from_row_major(&mut y, 1, len).unwrap(),
                    )
                    .unwrap()
                })
            });
            let mut out = vec![MaybeUninit::<f32>::uninit(); len];
            g.bench_function(BenchmarkId::new("rten_vecmath", len), |b| {
                if exp {
                    b.iter(|| black_box(rten_vecmath::Exp {}.map(&x, &mut out).as_ptr()))
                } else {
                    b.iter(|| black_box(rten_vecmath::Sigmoid {}.map(&x, &mut out).as_ptr()))
                }
            });
            let xt = Tensor::from_slice(&x, len, &Device::Cpu).unwrap();
            g.bench_function(BenchmarkId::new("candle", len), |b| {
                if exp {
                    b.iter(|| black_box(xt.exp().unwrap()))
                } else {
                    b.iter(|| black_box(candle_nn::ops::sigmoid(&xt).unwrap()))
                }
            });
            let xa = Array1::from(x.clone());
            // closures, as a user writes them (a fn pointer would block inlining)
            g.bench_function(BenchmarkId::new("ndarray", len), |b| {
                if exp {
                    b.iter(|| black_box(xa.mapv(|v| v.exp())))
                } else {
                    b.iter(|| black_box(xa.mapv(|v| 1.0 / (1.0 + (-v).exp()))))
                }
            });
        }
        g.finish();
    }

    let mut g = c.benchmark_group(format!("sigmoid_bwd_{t}t"));
    for len in VECTORS {
        let (y, dy) = (values(len, 2, 0.0, 1.0), values(len, 3, -1.0, 1.0));
        let mut dx = vec![0.0_f32; len];
        g.bench_function(BenchmarkId::new("nnkern", len), |b| {
            b.iter(|| {
                nnkern::sigmoid_backward(
                    MatRef::from_row_major(&y, 1, len).unwrap(),
                    MatRef::from_row_major(&dy, 1, len).unwrap(),
                    MatMut::from_row_major(&mut dx, 1, len).unwrap(),
                )
                .unwrap()
            })
        });
        let (yt, dyt) = (
            Tensor::from_slice(&y, len, &Device::Cpu).unwrap(),
            Tensor::from_slice(&dy, len, &Device::Cpu).unwrap(),
        );
        g.bench_function(BenchmarkId::new("candle", len), |b| {
            b.iter(|| black_box(dyt.mul(&yt.mul(&yt.affine(-1.0, 1.0).unwrap()).unwrap()).unwrap()))
        });
        let (ya, dya) = (Array1::from(y.clone()), Array1::from(dy.clone()));
        g.bench_function(BenchmarkId::new("ndarray", len), |b| {
            b.iter(|| black_box(&dya * &ya.mapv(|v| v * (1.0 - v))))
        });
    }
    g.finish();
}

/// Row-wise softmax in ndarray, as a user writes it.
fn ndarray_softmax(x: &Array2<f32>) -> Array2<f32> {
    let mut y = x.clone();
    for mut row in y.rows_mut() {
        let m = row.fold(f32::NEG_INFINITY, |a, &v| a.max(v));
        row.mapv_inplace(|v| (v - m).exp());
        let s = row.sum();
        row /= s;
    }
    y
}

fn rowwise(c: &mut Criterion) {
    let t = threads();
    let mut g = c.benchmark_group(format!("softmax_fwd_{t}t"));
    for s @ (n, cl) in ROWS {
        let id = rows_id(s);
        let x = values(n * cl, 1, -5.0, 5.0);
        let mut y = vec![0.0_f32; n * cl];
        g.bench_function(BenchmarkId::new("nnkern", &id), |b| {
            b.iter(|| {
                nnkern::softmax_forward(
                    MatRef::from_row_major(&x, n, cl).unwrap(),
                    MatMut::from_row_major(&mut y, n, cl).unwrap(),
                )
                .unwrap()
            })
        });
        let mut out = vec![MaybeUninit::<f32>::uninit(); n * cl];
        g.bench_function(BenchmarkId::new("rten_vecmath", &id), |b| {
            b.iter(|| {
                for (xr, yr) in x.chunks_exact(cl).zip(out.chunks_exact_mut(cl)) {
                    black_box(rten_vecmath::Softmax::new(xr, yr).dispatch());
                }
            })
        });
        let xt = tensor(&x, (n, cl));
        g.bench_function(BenchmarkId::new("candle", &id), |b| {
            b.iter(|| black_box(candle_nn::ops::softmax_last_dim(&xt).unwrap()))
        });
        let xa = array(&x, (n, cl));
        g.bench_function(BenchmarkId::new("ndarray", &id), |b| {
            b.iter(|| black_box(ndarray_softmax(&xa)))
        });
    }
    g.finish();

    let mut g = c.benchmark_group(format!("softmax_bwd_{t}t"));
    for s @ (n, cl) in ROWS {
        let id = rows_id(s);
        let mut y = values(n * cl, 1, 0.0, 1.0);
        for r in y.chunks_exact_mut(cl) {
            let sum: f32 = r.iter().sum();
            r.iter_mut().for_each(|v| *v /= sum);
        }
        let dy = values(n * cl, 3, -1.0, 1.0);
        let mut dx = vec![0.0_f32; n * cl];
        g.bench_function(BenchmarkId::new("nnkern", &id), |b| {
            b.iter(|| {
                nnkern::softmax_backward(
                    MatRef::from_row_major(&y, n, cl).unwrap(),
                    MatRef::from_row_major(&dy, n, cl).unwrap(),
                    MatMut::from_row_major(&mut dx, n, cl).unwrap(),
                )
                .unwrap()
            })
        });
        let (yt, dyt) = (tensor(&y, (n, cl)), tensor(&dy, (n, cl)));
        g.bench_function(BenchmarkId::new("candle", &id), |b| {
            b.iter(|| {
                let s = dyt.mul(&yt).unwrap().sum_keepdim(1).unwrap();
                black_box(yt.mul(&dyt.broadcast_sub(&s).unwrap()).unwrap())
            })
        });
        let (ya, dya) = (array(&y, (n, cl)), array(&dy, (n, cl)));
        g.bench_function(BenchmarkId::new("ndarray", &id), |b| {
            b.iter(|| {
                let s = (&dya * &ya).sum_axis(Axis(1)).insert_axis(Axis(1));
                black_box(&ya * &(&dya - &s))
            })
        });
    }
    g.finish();

    // Softmax-with-loss, forward and backward: mean cross-entropy over class labels and
    // d logits = (softmax − onehot)/N.
    let mut g = c.benchmark_group(format!("cross_entropy_fwd_bwd_{t}t"));
    for s @ (n, cl) in ROWS {
        let id = rows_id(s);
        let x = values(n * cl, 1, -5.0, 5.0);
        let lab = labels(n, cl);
        let opts = CrossEntropyOptions::default();
        sce_row(&mut g, &id, &x, s, Targets::Classes(&lab), &opts);
        let xt = tensor(&x, (n, cl));
        let lab32: Vec<u32> = lab.iter().map(|&l| l as u32).collect();
        let tt = Tensor::from_slice(&lab32, n, &Device::Cpu).unwrap();
        let mut onehot = vec![0.0_f32; n * cl];
        for (i, &l) in lab.iter().enumerate() {
            onehot[i * cl + l] = 1.0;
        }
        let ot = tensor(&onehot, (n, cl));
        g.bench_function(BenchmarkId::new("candle", &id), |b| {
            b.iter(|| {
                let lsm = candle_nn::ops::log_softmax(&xt, 1).unwrap();
                let loss = candle_nn::loss::nll(&lsm, &tt)
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap();
                let d = lsm
                    .exp()
                    .unwrap()
                    .sub(&ot)
                    .unwrap()
                    .affine(1.0 / n as f64, 0.0)
                    .unwrap();
                black_box((loss, d))
            })
        });
        let (xa, oa) = (array(&x, (n, cl)), array(&onehot, (n, cl)));
        g.bench_function(BenchmarkId::new("ndarray", &id), |b| {
            b.iter(|| {
                let mut lsm = xa.clone();
                for mut row in lsm.rows_mut() {
                    let m = row.fold(f32::NEG_INFINITY, |a, &v| a.max(v));
                    let lse = m + row.mapv(|v| (v - m).exp()).sum().ln();
                    row -= lse;
                }
                let loss = -lab.iter().enumerate().map(|(i, &l)| lsm[[i, l]]).sum::<f32>() / n as f32;
                let d = (lsm.mapv(f32::exp) - &oa) / n as f32;
                black_box((loss, d))
            })
        });
    }
    g.finish();
}

/// Soft targets: each row a softmax of seeded values.
fn soft(n: usize, cl: usize, seed: u64) -> Vec<f32> {
    let mut q = values(n * cl, seed, -2.0, 2.0);
    for row in q.chunks_mut(cl) {
        row.iter_mut().for_each(|v| *v = v.exp());
        let s: f32 = row.iter().sum();
        row.iter_mut().for_each(|v| *v /= s);
    }
    q
}

/// The logarithm, and the losses on probability targets: softmax-cross-entropy with soft
/// targets (loss and d logits) and the cross-entropy on probabilities (loss and d p).
fn logarithm(c: &mut Criterion) {
    let t = threads();
    let mut g = c.benchmark_group(format!("ln_{t}t"));
    for len in VECTORS {
        let x = values(len, 1, 1e-6, 100.0);
        let mut y = vec![0.0_f32; len];
        g.bench_function(BenchmarkId::new("nnkern", len), |b| {
            b.iter(|| {
                nnkern::ln_forward(
                    MatRef::from_row_major(&x, 1, len).unwrap(),
                    MatMut::from_row_major(&mut y, 1, len).unwrap(),
                )
                .unwrap()
            })
        });
        let xt = Tensor::from_slice(&x, len, &Device::Cpu).unwrap();
        g.bench_function(BenchmarkId::new("candle", len), |b| {
            b.iter(|| black_box(xt.log().unwrap()))
        });
        let xa = Array1::from(x.clone());
        g.bench_function(BenchmarkId::new("ndarray", len), |b| {
            b.iter(|| black_box(xa.mapv(|v| v.ln())))
        });
    }
    g.finish();

    // (candle has no log1p)
    let mut g = c.benchmark_group(format!("ln_1p_{t}t"));
    for len in VECTORS {
        let x = values(len, 1, 0.0, 10.0);
        let mut y = vec![0.0_f32; len];
        g.bench_function(BenchmarkId::new("nnkern", len), |b| {
            b.iter(|| {
                nnkern::ln_1p_forward(
                    MatRef::from_row_major(&x, 1, len).unwrap(),
                    MatMut::from_row_major(&mut y, 1, len).unwrap(),
                )
                .unwrap()
            })
        });
        let xa = Array1::from(x.clone());
        g.bench_function(BenchmarkId::new("ndarray", len), |b| {
            b.iter(|| black_box(xa.mapv(|v| v.ln_1p())))
        });
    }
    g.finish();

    let mut g = c.benchmark_group(format!("cross_entropy_probs_fwd_bwd_{t}t"));
    for s @ (n, cl) in ROWS {
        let id = rows_id(s);
        let x = values(n * cl, 1, -5.0, 5.0);
        let q = soft(n, cl, 7);
        let opts = CrossEntropyOptions::default();
        sce_row(
            &mut g,
            &id,
            &x,
            s,
            Targets::Probs(MatRef::from_row_major(&q, n, cl).unwrap()),
            &opts,
        );
        let (xt, qt) = (tensor(&x, (n, cl)), tensor(&q, (n, cl)));
        g.bench_function(BenchmarkId::new("candle", &id), |b| {
            b.iter(|| {
                // loss = −Σ q·log_softmax(x) / N; d = (softmax(x)·Σ_c q − q)/N
                let lsm = candle_nn::ops::log_softmax(&xt, 1).unwrap();
                let loss = (lsm
                    .mul(&qt)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap())
                    / -(n as f32);
                let qs = qt.sum_keepdim(1).unwrap();
                let d = lsm
                    .exp()
                    .unwrap()
                    .broadcast_mul(&qs)
                    .unwrap()
                    .sub(&qt)
                    .unwrap()
                    .affine(1.0 / n as f64, 0.0)
                    .unwrap();
                black_box((loss, d))
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group(format!("ce_on_probs_fwd_bwd_{t}t"));
    for s @ (n, cl) in ROWS {
        let id = rows_id(s);
        let (p, q) = (soft(n, cl, 1), soft(n, cl, 7));
        let mut d = vec![0.0_f32; n * cl];
        let mut loss = [0.0_f32];
        g.bench_function(BenchmarkId::new("nnkern", &id), |b| {
            b.iter(|| {
                let (pv, tq) = (
                    MatRef::from_row_major(&p, n, cl).unwrap(),
                    Targets::Probs(MatRef::from_row_major(&q, n, cl).unwrap()),
                );
                nnkern::cross_entropy_forward(pv, tq, nnkern::Reduction::Mean, &mut loss).unwrap();
                let dm = MatMut::from_row_major(&mut d, n, cl).unwrap();
                nnkern::cross_entropy_backward(pv, tq, nnkern::Reduction::Mean, &[1.0], dm).unwrap()
            })
        });
        let (pt, qt) = (tensor(&p, (n, cl)), tensor(&q, (n, cl)));
        g.bench_function(BenchmarkId::new("candle", &id), |b| {
            b.iter(|| {
                // loss = −Σ q·ln p / N; d p = −q/(p·N)
                let loss = pt
                    .log()
                    .unwrap()
                    .mul(&qt)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap()
                    / -(n as f32);
                let d = qt.div(&pt).unwrap().affine(-1.0 / n as f64, 0.0).unwrap();
                black_box((loss, d))
            })
        });
        let (pa, qa) = (array(&p, (n, cl)), array(&q, (n, cl)));
        g.bench_function(BenchmarkId::new("ndarray", &id), |b| {
            b.iter(|| {
                let loss = -(&qa * &pa.mapv(f32::ln)).sum() / n as f32;
                let d = -(&qa / &pa) / n as f32;
                black_box((loss, d))
            })
        });
    }
    g.finish();
}

/// Two more losses that frameworks call, forward and backward: the softmax-cross-entropy
/// over class labels with label smoothing 0.1, and the binary cross-entropy on logits (mean
/// over N·C, targets in [0, 1]).
fn smoothing_bce(c: &mut Criterion) {
    let t = threads();
    const EPS: f32 = 0.1;
    let mut g = c.benchmark_group(format!("cross_entropy_smooth_fwd_bwd_{t}t"));
    for s @ (n, cl) in ROWS {
        let id = rows_id(s);
        let x = values(n * cl, 1, -5.0, 5.0);
        let lab = labels(n, cl);
        let opts = CrossEntropyOptions::default().label_smoothing(EPS);
        sce_row(&mut g, &id, &x, s, Targets::Classes(&lab), &opts);
        let xt = tensor(&x, (n, cl));
        let lab32: Vec<u32> = lab.iter().map(|&l| l as u32).collect();
        let tt = Tensor::from_slice(&lab32, n, &Device::Cpu).unwrap();
        // the smoothed target (1 − ε)·onehot + ε/C, which the gradient subtracts
        let mut smooth = vec![EPS / cl as f32; n * cl];
        for (i, &l) in lab.iter().enumerate() {
            smooth[i * cl + l] += 1.0 - EPS;
        }
        let st = tensor(&smooth, (n, cl));
        g.bench_function(BenchmarkId::new("candle", &id), |b| {
            b.iter(|| {
                // loss = (1 − ε)·nll + ε·(−Σ lsm)/(N·C); d = (softmax − smoothed target)/N
                let lsm = candle_nn::ops::log_softmax(&xt, 1).unwrap();
                let nll = candle_nn::loss::nll(&lsm, &tt)
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap();
                let all = lsm.sum_all().unwrap().to_scalar::<f32>().unwrap();
                let loss = (1.0 - EPS) * nll - EPS * all / (n * cl) as f32;
                let d = lsm
                    .exp()
                    .unwrap()
                    .sub(&st)
                    .unwrap()
                    .affine(1.0 / n as f64, 0.0)
                    .unwrap();
                black_box((loss, d))
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group(format!("bce_logits_fwd_bwd_{t}t"));
    for s @ (n, cl) in ROWS {
        let id = rows_id(s);
        let x = values(n * cl, 1, -5.0, 5.0);
        let tg = values(n * cl, 7, 0.0, 1.0);
        let mut d = vec![0.0_f32; n * cl];
        let mut loss = [0.0_f32];
        let opts = nnkern::BceOptions::default();
        g.bench_function(BenchmarkId::new("nnkern", &id), |b| {
            b.iter(|| {
                nnkern::bce_with_logits(
                    MatRef::from_row_major(&x, n, cl).unwrap(),
                    MatRef::from_row_major(&tg, n, cl).unwrap(),
                    &opts,
                    &[1.0],
                    &mut loss,
                    MatMut::from_row_major(&mut d, n, cl).unwrap(),
                )
                .unwrap()
            })
        });
        let (xt, tt) = (tensor(&x, (n, cl)), tensor(&tg, (n, cl)));
        g.bench_function(BenchmarkId::new("candle", &id), |b| {
            b.iter(|| {
                // candle's own loss (through σ and two logarithms); d = (σ(x) − t)/(N·C)
                let loss = candle_nn::loss::binary_cross_entropy_with_logit(&xt, &tt)
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap();
                let d = candle_nn::ops::sigmoid(&xt)
                    .unwrap()
                    .sub(&tt)
                    .unwrap()
                    .affine(1.0 / (n * cl) as f64, 0.0)
                    .unwrap();
                black_box((loss, d))
            })
        });
    }
    g.finish();
}

/// The machine's copy bandwidth in the same run, the ceiling of every memory-bound
/// elementwise kernel (one read and one write per element): `copy_from_slice` over one
/// contiguous part per thread (rayon's pool, as nnkern's kernels use it).
fn copy(c: &mut Criterion) {
    let t = threads();
    let mut g = c.benchmark_group(format!("copy_{t}t"));
    for len in VECTORS {
        let x = values(len, 1, -1.0, 1.0);
        let mut y = vec![0.0_f32; len];
        let part = len.div_ceil(t);
        g.bench_function(BenchmarkId::new("memcpy", len), |b| {
            b.iter(|| {
                if t == 1 {
                    y.copy_from_slice(&x);
                } else {
                    y.par_chunks_mut(part)
                        .zip(x.par_chunks(part))
                        .for_each(|(o, i)| o.copy_from_slice(i));
                }
                black_box(y.as_ptr())
            })
        });
    }
    g.finish();
}

/// The machine's FMA peak in the same run, the ceiling of every GEMM row: the independent
/// FMA chains of `benches/benchmarks/fma.rs` (the crate's own bench uses the same file) on
/// every thread of rayon's pool. The parameter is `{isa}:{FLOP per call}`, so the report turns
/// the median into FLOP/s without knowing the vector width.
fn fma_peak(c: &mut Criterion) {
    let Some((isa, _)) = fma::isa() else { return };
    let t = threads();
    let flop = fma::flop_per_call() * t;
    let mut g = c.benchmark_group(format!("fma_peak_{t}t"));
    g.bench_function(BenchmarkId::new("machine", format!("{isa}:{flop}")), |b| {
        b.iter(|| rayon::broadcast(|_| fma::chains(black_box(fma::STEPS))))
    });
    g.finish();
}

criterion_group! {
    name = peers;
    config = config();
    targets = fma_peak, copy, matmul, affine_sigmoid, elementwise, gated, rowwise, logarithm, smoothing_bce
}
criterion_main!(peers);
