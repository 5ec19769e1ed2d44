//! Results are bit-for-bit identical on 1, 2, 3 and 8 rayon threads: every kernel, on shapes
//! that span many work blocks, run inside custom pools. And concurrency: kernels called at
//! once from many std threads (with per-thread SIMD-path overrides) or from nested rayon jobs
//! give what one call alone gives.

#![allow(clippy::needless_range_loop)] // index loops read as the formulas they check

mod common;

use common::Rng;
use nnkern::*;

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Runs every kernel once and returns all outputs, as bits.
fn run_all(x: &[f32], w: &[f32], b: &[f32], labels: &[usize], n: usize, d: usize, h: usize) -> Vec<Vec<u32>> {
    let mut out = Vec::new();
    let xv = MatRef::from_row_major(x, n, d).unwrap();
    let wv = MatRef::from_row_major(w, d, h).unwrap();
    let mut y = vec![0.0_f32; n * h];
    affine_forward(
        xv,
        wv,
        b,
        Activation::Sigmoid,
        MatMut::from_row_major(&mut y, n, h).unwrap(),
    )
    .unwrap();
    let yv = MatRef::from_row_major(&y, n, h).unwrap();
    let (mut dx, mut dw, mut db) = (vec![0.0_f32; n * d], vec![0.0_f32; d * h], vec![0.0_f32; h]);
    affine_backward(
        xv,
        wv,
        yv,
        yv,
        Activation::Sigmoid,
        AffineGrads {
            dx: Some(MatMut::from_row_major(&mut dx, n, d).unwrap()),
            dw: MatMut::from_row_major(&mut dw, d, h).unwrap(),
            db: &mut db,
        },
        Accum::Replace,
        &mut Workspace::new(),
    )
    .unwrap();
    out.extend([bits(&y), bits(&dx), bits(&dw), bits(&db)]);

    let mut s = vec![0.0_f32; n * d];
    softmax_forward(xv, MatMut::from_row_major(&mut s, n, d).unwrap()).unwrap();
    let mut ls = vec![0.0_f32; n * d];
    log_softmax_forward(xv, MatMut::from_row_major(&mut ls, n, d).unwrap()).unwrap();
    let mut sb = vec![0.0_f32; n * d];
    softmax_backward(
        MatRef::from_row_major(&s, n, d).unwrap(),
        xv,
        MatMut::from_row_major(&mut sb, n, d).unwrap(),
    )
    .unwrap();
    let mut sg = vec![0.0_f32; n * d];
    sigmoid_forward(xv, MatMut::from_row_major(&mut sg, n, d).unwrap()).unwrap();
    out.extend([bits(&s), bits(&ls), bits(&sb), bits(&sg)]);

    for red in [Reduction::Mean, Reduction::Sum, Reduction::None] {
        let opts = CrossEntropyOptions {
            reduction: red,
            label_smoothing: 0.1,
            ..Default::default()
        };
        let len = if red == Reduction::None { n } else { 1 };
        let (mut loss, mut lse, mut g) = (vec![0.0_f32; len], vec![0.0_f32; n], vec![0.0_f32; n * d]);
        softmax_cross_entropy_forward(xv, Targets::Classes(labels), &opts, &mut loss, Some(&mut lse))
            .unwrap();
        out.extend([bits(&loss), bits(&lse)]);
        let dl = vec![1.0_f32; len];
        softmax_cross_entropy(
            xv,
            Targets::Classes(labels),
            &opts,
            &dl,
            &mut loss,
            MatMut::from_row_major(&mut g, n, d).unwrap(),
        )
        .unwrap();
        out.extend([bits(&loss), bits(&g)]);
        cross_entropy_forward(
            MatRef::from_row_major(&s, n, d).unwrap(),
            Targets::Classes(labels),
            red,
            &mut loss,
        )
        .unwrap();
        out.push(bits(&loss));
    }
    // binary cross-entropy: every element weighted, pos_weight, each reduction
    let pw: Vec<f32> = (0..d).map(|k| 0.5 + k as f32 / 8.0).collect();
    let t: Vec<f32> = (0..n * d).map(|e| ((e * 7) % 3) as f32 / 2.0).collect();
    for red in [Reduction::Mean, Reduction::Sum, Reduction::None] {
        let opts = BceOptions {
            reduction: red,
            weight: Some(MatRef::from_strided(&pw, n, d, 0, 1).unwrap()),
            pos_weight: Some(&pw),
        };
        let len = if red == Reduction::None { n * d } else { 1 };
        let (mut loss, mut g) = (vec![0.0_f32; len], vec![0.0_f32; n * d]);
        let t = MatRef::from_row_major(&t, n, d).unwrap();
        bce_with_logits(
            xv,
            t,
            &opts,
            &vec![0.5; len],
            &mut loss,
            MatMut::from_row_major(&mut g, n, d).unwrap(),
        )
        .unwrap();
        out.extend([bits(&loss), bits(&g)]);
    }
    out
}

/// Runs `f` on a 1-thread pool, then three times on pools of 2, 3 and 8 threads, and asserts
/// every run returns the first run's bits.
fn same_on_every_pool(what: &str, f: &(dyn Fn() -> Vec<Vec<u32>> + Sync)) {
    let pool = |t| rayon::ThreadPoolBuilder::new().num_threads(t).build().unwrap();
    let reference = pool(1).install(f);
    for threads in [2, 3, 8] {
        let p = pool(threads);
        for _ in 0..3 {
            assert!(
                p.install(f) == reference,
                "{what}: results differ on {threads} threads"
            );
        }
    }
}

#[test]
fn identical_on_1_2_3_and_8_threads() {
    let (n, d, h) = (2053, 97, 33); // ~6 work blocks of 97-wide rows, odd sizes
    let mut rng = Rng::new(40);
    let f = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
    let x = f(rng.values::<f32>(n * d, -8.0, 8.0));
    let w = f(rng.values::<f32>(d * h, -1.0, 1.0));
    let b = f(rng.values::<f32>(h, -1.0, 1.0));
    let labels: Vec<usize> = (0..n).map(|_| rng.below(d)).collect();
    same_on_every_pool("row kernels", &|| run_all(&x, &w, &b, &labels, n, d, h));
}

/// The GEMM-based kernels on products large enough to be cut into parts (by rows, by
/// columns, and the backward's dW and dx), every activation, every engine compiled in.
#[test]
fn gemm_kernels_identical_on_1_2_3_and_8_threads() {
    for &(n, d, h) in &[(2100, 300, 530), (200, 260, 1500)] {
        let mut rng = Rng::new(41);
        let f = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
        let x = f(rng.values::<f32>(n * d, -2.0, 2.0));
        let w = f(rng.values::<f32>(d * h, -1.0, 1.0));
        let b = f(rng.values::<f32>(h, -1.0, 1.0));
        let dy = f(rng.values::<f32>(n * h, -1.0, 1.0));
        for &engine in GemmEngine::ALL {
            let run = || {
                with_gemm_engine(engine, || {
                    let xv = MatRef::from_row_major(&x, n, d).unwrap();
                    let wv = MatRef::from_row_major(&w, d, h).unwrap();
                    let dyv = MatRef::from_row_major(&dy, n, h).unwrap();
                    let mut out = Vec::new();
                    let mut c = vec![0.0_f32; d * d];
                    gemm(
                        1.0,
                        xv.t(),
                        xv,
                        0.0,
                        MatMut::from_row_major(&mut c, d, d).unwrap(),
                    )
                    .unwrap();
                    out.push(bits(&c));
                    let mut ws = Workspace::new();
                    for act in [
                        Activation::Identity,
                        Activation::Sigmoid,
                        Activation::Tanh,
                        Activation::Relu,
                    ] {
                        let mut y = vec![0.0_f32; n * h];
                        affine_forward(xv, wv, &b, act, MatMut::from_row_major(&mut y, n, h).unwrap())
                            .unwrap();
                        let (mut dx, mut dw, mut db) =
                            (vec![0.0_f32; n * d], vec![0.0_f32; d * h], vec![0.0_f32; h]);
                        affine_backward(
                            xv,
                            wv,
                            MatRef::from_row_major(&y, n, h).unwrap(),
                            dyv,
                            act,
                            AffineGrads {
                                dx: Some(MatMut::from_row_major(&mut dx, n, d).unwrap()),
                                dw: MatMut::from_row_major(&mut dw, d, h).unwrap(),
                                db: &mut db,
                            },
                            Accum::Replace,
                            &mut ws,
                        )
                        .unwrap();
                        out.extend([bits(&y), bits(&dx), bits(&dw), bits(&db)]);
                    }
                    out
                })
            };
            same_on_every_pool(&format!("{n}×{d}×{h} on {}", engine.name()), &run);
        }
    }
}

/// The inputs of `run_all` at a size that spans several work blocks and GEMM parts.
struct Workload {
    x: Vec<f32>,
    w: Vec<f32>,
    b: Vec<f32>,
    labels: Vec<usize>,
    n: usize,
    d: usize,
    h: usize,
}

impl Workload {
    fn new() -> Self {
        let (n, d, h) = (1100, 97, 600);
        let mut rng = Rng::new(42);
        let f = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
        Workload {
            x: f(rng.values::<f32>(n * d, -8.0, 8.0)),
            w: f(rng.values::<f32>(d * h, -1.0, 1.0)),
            b: f(rng.values::<f32>(h, -1.0, 1.0)),
            labels: (0..n).map(|_| rng.below(d)).collect(),
            n,
            d,
            h,
        }
    }

    fn run(&self) -> Vec<Vec<u32>> {
        run_all(&self.x, &self.w, &self.b, &self.labels, self.n, self.d, self.h)
    }
}

/// Many std threads calling every kernel at once — some inside a per-thread SIMD-path
/// override, which must not leak to the others — each get what one call alone gets.
#[test]
fn concurrent_calls_from_std_threads_match_a_lone_call() {
    let work = Workload::new();
    let alone = work.run();
    let scalar_alone = with_simd_path(SimdPath::Scalar, || work.run()).unwrap();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let work = &work;
                s.spawn(move || {
                    (0..3)
                        .map(|_| {
                            if t % 2 == 1 {
                                (true, with_simd_path(SimdPath::Scalar, || work.run()).unwrap())
                            } else {
                                (false, work.run())
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for (t, h) in handles.into_iter().enumerate() {
            for (scalar, got) in h.join().expect("no panic") {
                let want = if scalar { &scalar_alone } else { &alone };
                assert!(
                    &got == want,
                    "thread {t} (scalar path: {scalar}) differs from a lone call"
                );
            }
        }
    });
}

/// Kernels called from inside rayon jobs (nested parallelism on the same pool) match a lone
/// call.
#[test]
fn calls_nested_in_rayon_jobs_match_a_lone_call() {
    use rayon::prelude::*;
    let work = Workload::new();
    let alone = work.run();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
    let results: Vec<Vec<Vec<u32>>> = pool.install(|| (0..6).into_par_iter().map(|_| work.run()).collect());
    for (i, got) in results.iter().enumerate() {
        assert!(got == &alone, "nested job {i} differs from a lone call");
    }
}
