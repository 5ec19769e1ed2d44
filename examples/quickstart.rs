//! One forward and backward pass of the book's two-layer net
//! (Affine 2→10 + Sigmoid, Affine 10→3, Softmax-with-Loss) on a toy batch, then a few SGD
//! steps to show the loss going down.
//!
//! Run: `cargo run --release --example quickstart`

use nnkern::{
    Accum, Activation, AffineGrads, CrossEntropyOptions, MatMut, MatRef, Targets, Workspace, affine_backward,
    affine_forward, softmax_cross_entropy,
};

/// A tiny seeded generator for the weights (0.01·N(0, 1), as the book initialises them).
fn randn(state: &mut u64) -> f32 {
    let mut u = || {
        *state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*state >> 40) as f32 + 0.5) / (1u64 << 24) as f32
    };
    let (a, b) = (u(), u());
    (-2.0 * a.ln()).sqrt() * (std::f32::consts::TAU * b).cos()
}

fn main() -> Result<(), nnkern::Error> {
    // Toy batch: N = 6 points in 2-D, 3 classes.
    let (n, d, h, c) = (6, 2, 10, 3);
    let x = [
        0.1_f32, 0.2, -0.3, 0.4, 0.5, -0.6, -0.7, -0.1, 0.9, 0.3, -0.2, -0.8,
    ];
    let t = [0_usize, 1, 2, 1, 0, 2];

    let mut rng = 42_u64;
    let mut w1: Vec<f32> = (0..d * h).map(|_| 0.01 * randn(&mut rng)).collect();
    let mut b1 = vec![0.0_f32; h];
    let mut w2: Vec<f32> = (0..h * c).map(|_| 0.01 * randn(&mut rng)).collect();
    let mut b2 = vec![0.0_f32; c];

    // Activations and gradients live in buffers we own; the kernels only fill them.
    let (mut a1, mut s) = (vec![0.0_f32; n * h], vec![0.0_f32; n * c]);
    let (mut ds, mut da1) = (vec![0.0_f32; n * c], vec![0.0_f32; n * h]);
    let (mut dw1, mut db1) = (vec![0.0_f32; d * h], vec![0.0_f32; h]);
    let (mut dw2, mut db2) = (vec![0.0_f32; h * c], vec![0.0_f32; c]);
    let mut ws = Workspace::new();
    let opts = CrossEntropyOptions::default(); // mean over the batch
    let lr = 1.0_f32;

    for step in 0..=200 {
        let xv = MatRef::from_row_major(&x, n, d)?;
        // forward: a1 = sigmoid(x·W1 + b1) fused; s = a1·W2 + b2
        affine_forward(
            xv,
            MatRef::from_row_major(&w1, d, h)?,
            &b1,
            Activation::Sigmoid,
            MatMut::from_row_major(&mut a1, n, h)?,
        )?;
        affine_forward(
            MatRef::from_row_major(&a1, n, h)?,
            MatRef::from_row_major(&w2, h, c)?,
            &b2,
            Activation::Identity,
            MatMut::from_row_major(&mut s, n, c)?,
        )?;
        // loss and d scores in one pass: L = mean(logsumexp(s) − s_t), ds = (softmax(s) − onehot(t))/N
        let mut loss = [0.0_f32];
        softmax_cross_entropy(
            MatRef::from_row_major(&s, n, c)?,
            Targets::Classes(&t),
            &opts,
            &[1.0],
            &mut loss,
            MatMut::from_row_major(&mut ds, n, c)?,
        )?;
        // backward through both layers
        affine_backward(
            MatRef::from_row_major(&a1, n, h)?,
            MatRef::from_row_major(&w2, h, c)?,
            MatRef::from_row_major(&s, n, c)?,
            MatRef::from_row_major(&ds, n, c)?,
            Activation::Identity,
            AffineGrads {
                dx: Some(MatMut::from_row_major(&mut da1, n, h)?),
                dw: MatMut::from_row_major(&mut dw2, h, c)?,
                db: &mut db2,
            },
            Accum::Replace,
            &mut ws,
        )?;
        affine_backward(
            xv,
            MatRef::from_row_major(&w1, d, h)?,
            MatRef::from_row_major(&a1, n, h)?,
            MatRef::from_row_major(&da1, n, h)?,
            Activation::Sigmoid,
            AffineGrads {
                dx: None,
                dw: MatMut::from_row_major(&mut dw1, d, h)?,
                db: &mut db1,
            },
            Accum::Replace,
            &mut ws,
        )?;
        if step == 0 {
            println!(
                "first pass: loss {:.6} (ln 3 = {:.6} for an untrained net)",
                loss[0],
                3f32.ln()
            );
            println!("  |dW1| = {:.3e}, |dW2| = {:.3e}", norm(&dw1), norm(&dw2));
        } else if step % 50 == 0 {
            println!("step {step:3}: loss {:.6}", loss[0]);
        }
        // plain SGD
        for (p, g) in w1
            .iter_mut()
            .chain(b1.iter_mut())
            .chain(w2.iter_mut())
            .chain(b2.iter_mut())
            .zip(dw1.iter().chain(&db1).chain(&dw2).chain(&db2))
        {
            *p -= lr * g;
        }
    }
    Ok(())
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}
