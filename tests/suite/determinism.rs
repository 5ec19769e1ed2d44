//! Results are bit-for-bit identical on 1, 2, 3 and 8 rayon threads: every kernel, on shapes
//! that span many work blocks, run inside custom pools. And concurrency: kernels called at
//! once from many std threads (with per-thread SIMD-path overrides) or from nested rayon jobs
//! give what one call alone gives.

#![allow(clippy::needless_range_loop)] // index loops read as the formulas they check

use crate::common;

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
        let opts = CrossEntropyOptions::default().reduction(red).label_smoothing(0.1);
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
        // on probabilities: the softmax rows as both p and t
        let q = MatRef::from_row_major(&s, n, d).unwrap();
        cross_entropy_forward(q, Targets::Probs(q), red, &mut loss).unwrap();
        let mut dp = vec![0.0_f32; n * d];
        cross_entropy_backward(
            q,
            Targets::Probs(q),
            red,
            &dl,
            MatMut::from_row_major(&mut dp, n, d).unwrap(),
        )
        .unwrap();
        out.extend([bits(&loss), bits(&dp)]);
    }
    // binary cross-entropy: every element weighted, pos_weight, each reduction
    let pw: Vec<f32> = (0..d).map(|k| 0.5 + k as f32 / 8.0).collect();
    let t: Vec<f32> = (0..n * d).map(|e| ((e * 7) % 3) as f32 / 2.0).collect();
    for red in [Reduction::Mean, Reduction::Sum, Reduction::None] {
        let opts = BceOptions::default()
            .reduction(red)
            .weight(Some(MatRef::from_strided(&pw, n, d, 0, 1).unwrap()))
            .pos_weight(Some(&pw));
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
fn same_on_every_pool<B: PartialEq + Send>(what: &str, f: &(dyn Fn() -> Vec<Vec<B>> + Sync)) {
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
    // odd sizes; 2 (the cross-entropy on labels) to 71 (BCE) work blocks a kernel, by their
    // costs in src/par.rs (the Affine backward's one block of dz: the GEMM test covers it)
    let (n, d, h) = (2053, 97, 33);
    let mut rng = Rng::new(40);
    let f = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
    let x = f(rng.values::<f32>(n * d, -8.0, 8.0));
    let w = f(rng.values::<f32>(d * h, -1.0, 1.0));
    let b = f(rng.values::<f32>(h, -1.0, 1.0));
    let labels: Vec<usize> = (0..n).map(|_| rng.below(d)).collect();
    same_on_every_pool("row kernels", &|| run_all(&x, &w, &b, &labels, n, d, h));
}

/// The GEMM-based kernels on products large enough to be cut into parts (by rows, by
/// columns, and the backward's dW and dx; a 12-output layer's dW runs as its transpose on
/// nnkern's engine), every activation, every engine compiled in, under
/// every SIMD override this CPU supports (the path picks nnkern's tiles and every engine's
/// epilogue).
#[test]
fn gemm_kernels_identical_on_1_2_3_and_8_threads() {
    for &(n, d, h) in &[(2100, 300, 530), (200, 260, 1500), (2100, 300, 12)] {
        let mut rng = Rng::new(41);
        let f = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
        let x = f(rng.values::<f32>(n * d, -2.0, 2.0));
        let w = f(rng.values::<f32>(d * h, -1.0, 1.0));
        let b = f(rng.values::<f32>(h, -1.0, 1.0));
        let dy = f(rng.values::<f32>(n * h, -1.0, 1.0));
        for (&engine, path) in GemmEngine::ALL.iter().flat_map(|e| {
            SimdPath::ALL
                .into_iter()
                .filter(|p| p.is_supported())
                .map(move |p| (e, p))
        }) {
            let run = || {
                with_simd_path(path, || {
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
                        out.push(bits_of(&c));
                        let mut ws = Workspace::new();
                        for act in Activation::ALL {
                            out.extend(affine_round_trip(xv, wv, &b, dyv, act, &mut ws));
                        }
                        out
                    })
                })
                .unwrap()
            };
            same_on_every_pool(&format!("{n}×{d}×{h} on {} under {path}", engine.name()), &run);
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

fn bits_of<T: Float>(v: &[T]) -> Vec<u64> {
    v.iter().map(|x| x.to_f64().to_bits()).collect()
}

/// `affine_forward` then `affine_backward` (with dx) of y = act(x·W + b) for upstream `dy`,
/// outputs pre-filled with NaN: the bits of y, dx, dW and db.
fn affine_round_trip<T: Float>(
    x: MatRef<'_, T>,
    w: MatRef<'_, T>,
    b: &[T],
    dy: MatRef<'_, T>,
    act: Activation,
    ws: &mut Workspace<T>,
) -> [Vec<u64>; 4] {
    let (n, d, h) = (x.rows(), x.cols(), w.cols());
    let (mut y, mut z) = (vec![T::NAN; n * h], vec![T::NAN; n * h]);
    affine_forward_with_z(
        x,
        w,
        b,
        act,
        MatMut::from_row_major(&mut z, n, h).unwrap(),
        MatMut::from_row_major(&mut y, n, h).unwrap(),
    )
    .unwrap();
    let (mut dx, mut dw, mut db) = (vec![T::NAN; n * d], vec![T::NAN; d * h], vec![T::NAN; h]);
    // the backward reads z where the activation's derivative needs it, else y
    let saved = if act.needs_input() {
        Saved::Input(MatRef::from_row_major(&z, n, h).unwrap())
    } else {
        Saved::Output(MatRef::from_row_major(&y, n, h).unwrap())
    };
    affine_backward(
        x,
        w,
        saved,
        dy,
        act,
        AffineGrads {
            dx: Some(MatMut::from_row_major(&mut dx, n, d).unwrap()),
            dw: MatMut::from_row_major(&mut dw, d, h).unwrap(),
            db: &mut db,
        },
        Accum::Replace,
        ws,
    )
    .unwrap();
    [bits_of(&y), bits_of(&dx), bits_of(&dw), bits_of(&db)]
}

/// Inputs of [`every_public_kernel`]: `x` N×D (also the logits and probabilities of the row
/// kernels), `w` D×H and a narrow `w10` D×10, `b` H, `dy` N×H, labels below D.
struct Inputs<T> {
    x: Vec<T>,
    xpos: Vec<T>,
    w: Vec<T>,
    w10: Vec<T>,
    b: Vec<T>,
    dy: Vec<T>,
    labels: Vec<usize>,
    n: usize,
    d: usize,
    h: usize,
}

impl<T: Float> Inputs<T> {
    /// Shapes that split everywhere: N×D spans several row blocks; N×D·D×H (by columns) and
    /// N×D·D×10 (by rows, the narrow kernel) are cut into several GEMM parts.
    fn new(seed: u64) -> Self {
        let (n, d, h) = (1600, 400, 800);
        let mut rng = Rng::new(seed);
        let mut vals = |len: usize, lo: f64, hi: f64| -> Vec<T> {
            rng.values::<T>(len, lo, hi)
                .into_iter()
                .map(T::from_f64)
                .collect()
        };
        Inputs {
            x: vals(n * d, -6.0, 6.0),
            xpos: vals(n * d, 0.01, 1.0),
            w: vals(d * h, -0.2, 0.2),
            w10: vals(d * 10, -0.2, 0.2),
            b: vals(h, -1.0, 1.0),
            dy: vals(n * h, -1.0, 1.0),
            labels: (0..n).map(|i| (i * 7919) % d).collect(),
            n,
            d,
            h,
        }
    }
}

/// Every public kernel once, each output as bits.
fn every_public_kernel<T: Float>(inp: &Inputs<T>) -> Vec<Vec<u64>> {
    let (n, d, h) = (inp.n, inp.d, inp.h);
    let x = MatRef::from_row_major(&inp.x, n, d).unwrap();
    let xpos = MatRef::from_row_major(&inp.xpos, n, d).unwrap();
    let w = MatRef::from_row_major(&inp.w, d, h).unwrap();
    let w10 = MatRef::from_row_major(&inp.w10, d, 10).unwrap();
    let dy = MatRef::from_row_major(&inp.dy, n, h).unwrap();
    let nd = || vec![T::NAN; n * d];
    let mut out = Vec::new();

    // GEMM, wide and narrow, and the matmul layer
    let mut c = vec![T::NAN; n * h];
    gemm(
        T::ONE,
        x,
        w,
        T::ZERO,
        MatMut::from_row_major(&mut c, n, h).unwrap(),
    )
    .unwrap();
    let mut c10 = vec![T::NAN; n * 10];
    gemm(
        T::ONE,
        x,
        w10,
        T::ZERO,
        MatMut::from_row_major(&mut c10, n, 10).unwrap(),
    )
    .unwrap();
    let mut y = vec![T::NAN; n * h];
    matmul_forward(x, w, MatMut::from_row_major(&mut y, n, h).unwrap()).unwrap();
    let (mut dx, mut dw) = (nd(), vec![T::NAN; d * h]);
    matmul_backward(
        x,
        w,
        dy,
        Some(MatMut::from_row_major(&mut dx, n, d).unwrap()),
        MatMut::from_row_major(&mut dw, d, h).unwrap(),
        Accum::Replace,
    )
    .unwrap();
    out.extend([
        bits_of(&c),
        bits_of(&c10),
        bits_of(&y),
        bits_of(&dx),
        bits_of(&dw),
    ]);

    // affine forward and backward, every activation, wide and narrow
    let mut ws = Workspace::new();
    for act in Activation::ALL {
        for (wm, hh, bb) in [(w, h, &inp.b[..]), (w10, 10, &inp.b[..10])] {
            let dyv = MatRef::from_row_major(&inp.dy[..n * hh], n, hh).unwrap();
            out.extend(affine_round_trip(x, wm, bb, dyv, act, &mut ws));
        }
        // elementwise forward and backward
        let mut a = nd();
        activation_forward(act, x, MatMut::from_row_major(&mut a, n, d).unwrap()).unwrap();
        let mut g = nd();
        let saved = if act.needs_input() {
            Saved::Input(x)
        } else {
            Saved::Output(MatRef::from_row_major(&a, n, d).unwrap())
        };
        activation_backward(act, saved, xpos, MatMut::from_row_major(&mut g, n, d).unwrap()).unwrap();
        out.extend([bits_of(&a), bits_of(&g)]);
    }
    let mut e = nd();
    exp_forward(x, MatMut::from_row_major(&mut e, n, d).unwrap()).unwrap();
    let (mut ln, mut ln1) = (nd(), nd());
    ln_forward(xpos, MatMut::from_row_major(&mut ln, n, d).unwrap()).unwrap();
    ln_1p_forward(x, MatMut::from_row_major(&mut ln1, n, d).unwrap()).unwrap();
    out.extend([bits_of(&ln), bits_of(&ln1)]);
    let (mut s1, mut s2, mut s3, mut s4) = (nd(), nd(), nd(), nd());
    sigmoid_forward(x, MatMut::from_row_major(&mut s1, n, d).unwrap()).unwrap();
    sigmoid_backward(xpos, x, MatMut::from_row_major(&mut s2, n, d).unwrap()).unwrap();
    tanh_forward(x, MatMut::from_row_major(&mut s3, n, d).unwrap()).unwrap();
    tanh_backward(xpos, x, MatMut::from_row_major(&mut s4, n, d).unwrap()).unwrap();
    let (mut r1, mut r2) = (nd(), nd());
    relu_forward(x, MatMut::from_row_major(&mut r1, n, d).unwrap()).unwrap();
    relu_backward(x, xpos, MatMut::from_row_major(&mut r2, n, d).unwrap()).unwrap();
    out.extend([e, s1, s2, s3, s4, r1, r2].iter().map(|v| bits_of(v)));

    // softmax family
    let (mut p, mut pz, mut lp, mut dp, mut dlp) = (nd(), nd(), nd(), nd(), nd());
    softmax_forward(x, MatMut::from_row_major(&mut p, n, d).unwrap()).unwrap();
    let zero_rows = SoftmaxOptions::default().masked_rows(MaskedRows::Zero);
    softmax_forward_with(x, MatMut::from_row_major(&mut pz, n, d).unwrap(), &zero_rows).unwrap();
    log_softmax_forward(x, MatMut::from_row_major(&mut lp, n, d).unwrap()).unwrap();
    let pv = MatRef::from_row_major(&p, n, d).unwrap();
    softmax_backward(pv, x, MatMut::from_row_major(&mut dp, n, d).unwrap()).unwrap();
    log_softmax_backward(
        MatRef::from_row_major(&lp, n, d).unwrap(),
        x,
        MatMut::from_row_major(&mut dlp, n, d).unwrap(),
    )
    .unwrap();
    out.extend([p.as_slice(), &pz, &lp, &dp, &dlp].iter().map(|v| bits_of(v)));

    // losses: class and probability targets, every reduction, with options
    let classes = Targets::Classes(&inp.labels);
    let probs = Targets::Probs(pv);
    let weight: Vec<T> = (0..d).map(|c| T::from_f64(0.5 + (c % 5) as f64 / 4.0)).collect();
    for red in [Reduction::Mean, Reduction::Sum, Reduction::None] {
        let len = if red == Reduction::None { n } else { 1 };
        let dl = vec![T::from_f64(0.75); len];
        for (targets, opts) in [
            (
                classes,
                CrossEntropyOptions::default()
                    .reduction(red)
                    .label_smoothing(T::from_f64(0.1))
                    .weight(Some(&weight)),
            ),
            (probs, CrossEntropyOptions::default().reduction(red)),
        ] {
            let (mut loss, mut lse, mut g, mut g2) = (vec![T::NAN; len], vec![T::NAN; n], nd(), nd());
            softmax_cross_entropy_forward(x, targets, &opts, &mut loss, Some(&mut lse)).unwrap();
            softmax_cross_entropy_backward(
                x,
                &lse,
                targets,
                &opts,
                &dl,
                MatMut::from_row_major(&mut g, n, d).unwrap(),
            )
            .unwrap();
            let mut loss2 = vec![T::NAN; len];
            softmax_cross_entropy(
                x,
                targets,
                &opts,
                &dl,
                &mut loss2,
                MatMut::from_row_major(&mut g2, n, d).unwrap(),
            )
            .unwrap();
            out.extend([&loss, &lse, &g, &loss2, &g2].iter().map(|v| bits_of(v)));
        }
        for targets in [classes, probs] {
            let (mut loss, mut g) = (vec![T::NAN; len], nd());
            cross_entropy_forward(xpos, targets, red, &mut loss).unwrap();
            cross_entropy_backward(
                xpos,
                targets,
                red,
                &dl,
                MatMut::from_row_major(&mut g, n, d).unwrap(),
            )
            .unwrap();
            out.extend([bits_of(&loss), bits_of(&g)]);
        }
        // the same elements as rows of 10 classes: the cross-entropy on probabilities' short-row
        // passes (a group of rows per vector pass, one flat gradient pass), over many blocks
        let (ns, cs) = (n * d / 10, 10);
        let (ps, qs) = (
            MatRef::from_row_major(&inp.xpos, ns, cs).unwrap(),
            MatRef::from_row_major(p.as_slice(), ns, cs).unwrap(),
        );
        let slen = if red == Reduction::None { ns } else { 1 };
        let (mut loss, mut g) = (vec![T::NAN; slen], nd());
        cross_entropy_forward(ps, Targets::Probs(qs), red, &mut loss).unwrap();
        let dl = vec![T::from_f64(0.75); slen];
        let gm = MatMut::from_row_major(&mut g, ns, cs).unwrap();
        cross_entropy_backward(ps, Targets::Probs(qs), red, &dl, gm).unwrap();
        out.extend([bits_of(&loss), bits_of(&g)]);
        let blen = if red == Reduction::None { n * d } else { 1 };
        let opts = BceOptions::default()
            .reduction(red)
            .weight(Some(MatRef::from_strided(&weight, n, d, 0, 1).unwrap()))
            .pos_weight(Some(&weight));
        let dbl = vec![T::from_f64(0.75); blen];
        let (mut l1, mut l2, mut g1, mut g2) = (vec![T::NAN; blen], vec![T::NAN; blen], nd(), nd());
        bce_with_logits_forward(x, xpos, &opts, &mut l1).unwrap();
        bce_with_logits_backward(
            x,
            xpos,
            &opts,
            &dbl,
            MatMut::from_row_major(&mut g1, n, d).unwrap(),
        )
        .unwrap();
        bce_with_logits(
            x,
            xpos,
            &opts,
            &dbl,
            &mut l2,
            MatMut::from_row_major(&mut g2, n, d).unwrap(),
        )
        .unwrap();
        out.extend([&l1, &l2, &g1, &g2].iter().map(|v| bits_of(v)));
    }

    // the lane-per-row loss kernels (at most 16 classes)
    let labels10: Vec<usize> = inp.labels.iter().map(|l| l % 10).collect();
    let logits10 = MatRef::from_row_major(&c10, n, 10).unwrap();
    for red in [Reduction::Mean, Reduction::None] {
        let len = if red == Reduction::None { n } else { 1 };
        let opts = CrossEntropyOptions::default().reduction(red);
        let (mut loss, mut g) = (vec![T::NAN; len], vec![T::NAN; n * 10]);
        softmax_cross_entropy(
            logits10,
            Targets::Classes(&labels10),
            &opts,
            &vec![T::ONE; len],
            &mut loss,
            MatMut::from_row_major(&mut g, n, 10).unwrap(),
        )
        .unwrap();
        out.extend([bits_of(&loss), bits_of(&g)]);
    }

    // optimizers
    let (mut ps, mut pa, mut m, mut v) = (inp.x.clone(), inp.x.clone(), inp.xpos.clone(), inp.xpos.clone());
    sgd_update(&mut ps, &inp.xpos, T::from_f64(0.1)).unwrap();
    adam_update(&mut pa, &inp.xpos, &mut m, &mut v, 3, &AdamParams::default()).unwrap();
    out.extend([&ps, &pa, &m, &v].iter().map(|v| bits_of(v)));
    out
}

/// Every public kernel, under every SIMD override this CPU supports, gives the same bits on
/// pools of 1, 2, 3 and 8 threads and called from a thread outside any pool: the path chosen
/// on the calling thread reaches every block and every GEMM part, whichever worker runs it.
/// f32 and f64.
#[test]
fn every_public_kernel_identical_on_every_pool_under_every_simd_override() {
    fn check<T: Float>(seed: u64) {
        let inp = Inputs::<T>::new(seed);
        let pool = |t| rayon::ThreadPoolBuilder::new().num_threads(t).build().unwrap();
        for path in SimdPath::ALL.into_iter().filter(|p| p.is_supported()) {
            let run = || with_simd_path(path, || every_public_kernel(&inp)).unwrap();
            let reference = pool(1).install(run);
            let same = |got: Vec<Vec<u64>>, on: &str| {
                let first_diff = got.iter().zip(&reference).position(|(a, b)| a != b);
                assert!(
                    first_diff.is_none(),
                    "{}: under {path}, output #{first_diff:?} differs {on}",
                    T::NAME
                );
            };
            for threads in [2, 3, 8] {
                let p = pool(threads);
                for rep in 0..2 {
                    same(p.install(run), &format!("on {threads} threads (run {rep})"));
                }
            }
            // from this thread, which no pool owns: calls under `COLD_PS` (src/par.rs) keep their
            // blocks here, the larger ones hand them to the global pool
            same(run(), "when called from outside any pool");
        }
    }
    check::<f32>(43);
    check::<f64>(44);
}
