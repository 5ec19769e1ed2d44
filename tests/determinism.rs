//! Results are bit-for-bit identical on 1, 2, 3 and 8 rayon threads: every kernel, on shapes
//! that span many work blocks, run inside custom pools.

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
    out
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
    let reference = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| run_all(&x, &w, &b, &labels, n, d, h));
    for threads in [2, 3, 8] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        for _ in 0..3 {
            let got = pool.install(|| run_all(&x, &w, &b, &labels, n, d, h));
            assert!(got == reference, "results differ on {threads} threads");
        }
    }
}
