//! The book's layers: they learn the spiral data set as the book's numpy version does, their
//! gradients match central differences, the optimizers match their formulas, and training
//! allocates nothing after the first step; the fused training step matches an f64 reference
//! within a running error bound.

#![allow(clippy::needless_range_loop)] // index loops read as the formulas they check

use crate::common;

use crate::common::counting::allocs;
use common::spiral::spiral;
use common::tol::{GRAD_STEP, assert_grad};
use nnkern::layers::Rng;
use nnkern::layers::{
    Adam, Affine, Init, Layer, MatMul, Optimizer, Params, Relu, Sequential, Sgd, Sigmoid, Softmax, Tanh,
    Trainer, TwoLayerNet,
};
use nnkern::{Activation, AdamParams, Float, MatRef};

/// Trains the book's net with the book's hyper-parameters; returns (final epoch loss,
/// training accuracy).
fn train<T: Float>(seed: u64) -> (f64, f64) {
    let (x, t) = spiral::<T>(100, 3, seed);
    let mut rng = Rng::new(seed + 1);
    let mut net = TwoLayerNet::<T>::new(2, 10, 3, &mut rng);
    let mut trainer = Trainer::new(30, Sgd::new(T::ONE), rng).unwrap();
    let xv = MatRef::from_row_major(&x, t.len(), 2).unwrap();
    let last = trainer.fit(&mut net, xv, &t, 300, |_, _, _, _| Ok(())).unwrap();
    let scores = net.predict(xv).unwrap();
    let mut correct = 0;
    for (i, &label) in t.iter().enumerate() {
        let row: Vec<f64> = scores.row_iter(i).map(|v| v.to_f64()).collect();
        let best = (0..3).fold(0, |b, j| if row[j] > row[b] { j } else { b });
        correct += usize::from(best == label);
    }
    (last.to_f64(), correct as f64 / t.len() as f64)
}

/// The book's numpy run falls to loss 0.11 with training accuracy 0.97 after 300 epochs.
/// Runs differ by seed (data noise, initial weights, shuffling), so "learns what the book's
/// version learns" is: loss ≤ 0.15 and accuracy ≥ 0.95 for most (≥ 16 of 20) seeds.
fn spiral_learns<T: Float>() {
    let mut good = 0;
    let mut report = Vec::new();
    for seed in 0..20 {
        let (loss, acc) = train::<T>(seed);
        assert!(
            loss.is_finite() && loss < 0.5,
            "seed {seed}: the net did not learn (loss {loss})"
        );
        if loss <= 0.15 && acc >= 0.95 {
            good += 1;
        }
        report.push(format!("seed {seed:2}: loss {loss:.4} accuracy {acc:.3}"));
    }
    println!(
        "{} — {good} of 20 seeds reach loss ≤ 0.15 and accuracy ≥ 0.95\n{}",
        T::NAME,
        report.join("\n")
    );
    assert!(
        good >= 16,
        "only {good} of 20 seeds reached loss ≤ 0.15 and accuracy ≥ 0.95"
    );
}

#[test]
fn spiral_learns_f32() {
    spiral_learns::<f32>();
}

#[test]
fn spiral_learns_f64() {
    spiral_learns::<f64>();
}

#[test]
fn training_allocates_nothing_after_the_first_step() {
    let (x, t) = spiral::<f32>(100, 3, 3);
    let mut rng = Rng::new(4);
    let mut net = TwoLayerNet::<f32>::new(2, 10, 3, &mut rng);
    let x = MatRef::from_row_major(&x, 300, 2).unwrap();
    let mut trainer = Trainer::new(30, Sgd::new(1.0).momentum(0.9), rng).unwrap();
    trainer.epoch(&mut net, x, &t).unwrap(); // first epoch: buffers are sized here
    let before = allocs();
    for _ in 0..5 {
        trainer.epoch(&mut net, x, &t).unwrap();
    }
    assert_eq!(allocs() - before, 0, "steady-state training allocated");
    // a stack, with Adam, through the trainer and directly, forward in both modes
    let mut rng = Rng::new(5);
    let mut seq = Sequential::new()
        .push(Affine::init(2, 16, Activation::Relu, Init::HeNormal, &mut rng).unwrap())
        .push(Affine::init(16, 8, Activation::Tanh, Init::XavierUniform, &mut rng).unwrap())
        .push(Affine::init(8, 3, Activation::Identity, Init::TorchLinear, &mut rng).unwrap());
    let mut trainer = Trainer::new(30, Adam::new(AdamParams::adamw(0.01, 0.01)), rng).unwrap();
    // (on the matrixmultiply engine: the `gemm` crate's engine allocates its own packing
    // buffers in the 300-row products of `predict` and `loss`, two per call — the engine's,
    // not the layers', as in `tests/suite/allocations.rs`)
    let steady = nnkern::with_gemm_engine(nnkern::GemmEngine::MatrixMultiply, || {
        trainer.epoch(&mut seq, x, &t).unwrap(); // first call: buffers are sized here
        seq.predict(x).unwrap();
        seq.loss(x, &t).unwrap();
        let before = allocs();
        for _ in 0..3 {
            trainer.epoch(&mut seq, x, &t).unwrap();
            seq.predict(x).unwrap();
            seq.loss(x, &t).unwrap();
        }
        allocs() - before
    });
    assert_eq!(steady, 0, "steady-state training of a stack allocated");
    // the other layers too, at a fixed batch size
    let xs: Vec<f32> = (0..60).map(|i| (i as f32 * 0.37).sin()).collect();
    let xv = MatRef::from_row_major(&xs, 6, 10).unwrap();
    let mut layers: Vec<Box<dyn Layer<f32>>> = vec![
        Box::new(Sigmoid::new()),
        Box::new(Tanh::new()),
        Box::new(Relu::new()),
        Box::new(Softmax::new()),
        Box::new(MatMul::new(vec![0.1; 100], 10, 10).unwrap()),
    ];
    for l in layers.iter_mut() {
        l.forward(xv).unwrap();
        l.infer(xv).unwrap();
        l.backward(xv).unwrap();
        l.backward_params(xv).unwrap();
        let before = allocs();
        for _ in 0..3 {
            l.forward(xv).unwrap();
            l.infer(xv).unwrap();
            l.backward(xv).unwrap();
            l.backward_params(xv).unwrap();
        }
        assert_eq!(allocs() - before, 0);
    }
}

#[test]
fn two_layer_net_gradients_match_central_differences() {
    let (x, t) = spiral::<f64>(4, 3, 5);
    let mut rng = Rng::new(6);
    let mut net = TwoLayerNet::<f64>::new(2, 5, 3, &mut rng);
    // larger weights than the book's 0.01, so every path carries a visible gradient
    net.hidden.visit_params(&mut |p, _| {
        p.iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v = ((i as f64) * 0.7).sin())
    });
    net.out.visit_params(&mut |p, _| {
        p.iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v = ((i as f64) * 1.3).cos())
    });
    let xv = MatRef::from_row_major(&x, 12, 2).unwrap();
    net.forward(xv, &t).unwrap();
    net.backward().unwrap();
    let grads: Vec<Vec<f64>> = net
        .hidden
        .grads()
        .into_iter()
        .chain(net.out.grads())
        .map(|g| g.to_vec())
        .collect();
    let nparams = grads.len();
    for which in 0..nparams {
        let len = grads[which].len();
        for e in 0..len {
            let mut eval = |delta: f64| {
                let mut k = 0;
                let mut bump = |p: &mut [f64], _: &[f64]| {
                    if k == which {
                        p[e] += delta;
                    }
                    k += 1;
                };
                net.hidden.visit_params(&mut bump);
                net.out.visit_params(&mut bump);
                let l = net.forward(xv, &t).unwrap();
                let mut k = 0;
                let mut undo = |p: &mut [f64], _: &[f64]| {
                    if k == which {
                        p[e] -= delta;
                    }
                    k += 1;
                };
                net.hidden.visit_params(&mut undo);
                net.out.visit_params(&mut undo);
                l
            };
            let numeric = (eval(GRAD_STEP) - eval(-GRAD_STEP)) / (2.0 * GRAD_STEP);
            assert_grad(grads[which][e], numeric, &|| {
                format!("param tensor {which}, element {e}")
            });
        }
    }
}

#[test]
fn sgd_and_adam_follow_their_formulas() {
    let mut rng = common::Rng::new(7);
    let p0: Vec<f64> = (0..37).map(|_| rng.normal()).collect();
    let g: Vec<f64> = (0..37).map(|_| rng.normal()).collect();
    let mut p = p0.clone();
    nnkern::sgd_update(&mut p, &g, 0.3).unwrap();
    for i in 0..37 {
        assert_eq!(p[i], p0[i] - 0.3 * g[i]);
    }
    // Adam, three steps, against the formulas written out in f64
    let hp = AdamParams::default().lr(0.01).beta1(0.8).beta2(0.95).eps(1e-6);
    let (mut p, mut m, mut v) = (p0.clone(), vec![0.0; 37], vec![0.0; 37]);
    let (mut pr, mut mr, mut vr) = (p0.clone(), vec![0.0; 37], vec![0.0; 37]);
    for step in 1..=3u32 {
        nnkern::adam_update(&mut p, &g, &mut m, &mut v, step, &hp).unwrap();
        for i in 0..37 {
            mr[i] = 0.8 * mr[i] + 0.2 * g[i];
            vr[i] = 0.95 * vr[i] + 0.05 * g[i] * g[i];
            let mh = mr[i] / (1.0 - 0.8f64.powi(step as i32));
            let vh = vr[i] / (1.0 - 0.95f64.powi(step as i32));
            pr[i] -= 0.01 * mh / (vh.sqrt() + 1e-6);
        }
    }
    for i in 0..37 {
        assert!(
            (p[i] - pr[i]).abs() <= 1e-15 * (1.0 + pr[i].abs()),
            "{} vs {}",
            p[i],
            pr[i]
        );
    }
    assert!(nnkern::adam_update(&mut p, &g, &mut m, &mut v, 0, &hp).is_err());
    assert!(nnkern::sgd_update(&mut p, &g[..3], 0.1).is_err());
}

#[test]
fn adam_trains_the_spiral_net_too() {
    let (x, t) = spiral::<f32>(100, 3, 8);
    let mut rng = Rng::new(9);
    let mut net = TwoLayerNet::<f32>::new(2, 10, 3, &mut rng);
    let mut adam = Adam::new(AdamParams::default().lr(0.05));
    let xv = MatRef::from_row_major(&x, 300, 2).unwrap();
    let first = net.forward(xv, &t).unwrap();
    let mut last = first;
    for _ in 0..500 {
        last = net.forward(xv, &t).unwrap();
        net.backward().unwrap();
        adam.step(&mut net).unwrap();
    }
    assert!(last < 0.5 * first, "Adam: loss {first} → {last}");
}

#[test]
fn layers_reject_bad_shapes_with_errors() {
    let mut a = Affine::<f32>::new(vec![0.0; 6], vec![0.0; 3], 2, 3, Activation::Sigmoid).unwrap();
    let x = [0.0_f32; 9];
    let e = a.forward(MatRef::from_row_major(&x, 3, 3).unwrap()).unwrap_err();
    // the layer checks the width itself, before it sizes its caches from x's rows
    assert_eq!(
        e.to_string(),
        "Affine::forward: x has 3 columns but the layer's input width is 2"
    );
    assert!(Affine::<f32>::new(vec![0.0; 6], vec![0.0; 2], 2, 3, Activation::Identity).is_err());
    assert!(MatMul::<f32>::new(vec![0.0; 5], 2, 3).is_err());
    let mut net = TwoLayerNet::<f32>::new(2, 4, 3, &mut Rng::new(0));
    let e = net
        .forward(MatRef::from_row_major(&x[..4], 2, 2).unwrap(), &[0, 3])
        .unwrap_err();
    assert_eq!(e.kind(), nnkern::ErrorKind::Label);
}

/// The fused training step against an f64 reference with a running error bound
/// (`common::checks::two_layer_step`): every width at and around the lane and bucket edges
/// (1, 4, 5, 8, 9, 16 classes; hidden and input widths 1 to 16), batches of one, part of,
/// exactly and more than one 16-row group, every hidden activation, every SIMD path.
fn train_step_matches_reference<T: Float>() {
    const SHAPES: [[usize; 3]; 10] = [
        [2, 10, 3],
        [1, 1, 1],
        [16, 16, 16],
        [3, 5, 4],
        [5, 16, 5],
        [16, 2, 8],
        [7, 9, 9],
        [4, 12, 16],
        [10, 3, 2],
        [2, 7, 12],
    ];
    common::each_path(|| {
        let mut rng = common::Rng::new(11);
        for (s, &shape) in SHAPES.iter().enumerate() {
            for n in [1, 7, 16, 30, 33] {
                let act = Activation::ALL[(s + n) % Activation::ALL.len()];
                common::checks::two_layer_step::<T>(&mut rng, n, shape, act);
            }
        }
    });
}

#[test]
fn train_step_matches_reference_f32() {
    train_step_matches_reference::<f32>();
}

#[test]
fn train_step_matches_reference_f64() {
    train_step_matches_reference::<f64>();
}

#[test]
fn train_step_rejects_bad_inputs_and_falls_back_beyond_16_wide() {
    let mut net = TwoLayerNet::<f32>::new(2, 4, 3, &mut Rng::new(0));
    let mut sgd = Sgd::new(1.0);
    let x = [0.5_f32; 12];
    let before: Vec<Vec<f32>> = net.hidden.params().iter().map(|p| p.to_vec()).collect();
    let e = net
        .train_step(MatRef::from_row_major(&x, 4, 3).unwrap(), &[0, 1, 2, 0], &mut sgd)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "TwoLayerNet::train_step: x is 4×3 but must be 4×2 (N × the input width)"
    );
    let xv = MatRef::from_row_major(&x, 6, 2).unwrap();
    let e = net.train_step(xv, &[0, 1, 2], &mut sgd).unwrap_err();
    assert_eq!(e.kind(), nnkern::ErrorKind::Length);
    assert!(e.to_string().contains("targets"), "{e}");
    let e = net.train_step(xv, &[0, 1, 2, 3, 0, 1], &mut sgd).unwrap_err();
    assert_eq!(e.kind(), nnkern::ErrorKind::Label);
    assert!(e.to_string().contains("[3] is 3"), "{e}");
    // a failed step changes nothing
    let after: Vec<Vec<f32>> = net.hidden.params().iter().map(|p| p.to_vec()).collect();
    assert_eq!(before, after);
    // wider than the fused kernel: the layer path, same result as forward/backward/step
    let (d, h, c, n) = (3, 20, 4, 9);
    let xs: Vec<f32> = (0..n * d).map(|i| (i as f32 * 0.71).sin()).collect();
    let t: Vec<usize> = (0..n).map(|i| i % c).collect();
    let xv = MatRef::from_row_major(&xs, n, d).unwrap();
    let mut a = TwoLayerNet::<f32>::new(d, h, c, &mut Rng::new(3));
    let mut b = TwoLayerNet::<f32>::new(d, h, c, &mut Rng::new(3));
    let la = a.train_step(xv, &t, &mut sgd).unwrap();
    let lb = b.forward(xv, &t).unwrap();
    b.backward().unwrap();
    b.step(&mut sgd).unwrap();
    assert_eq!(la.to_bits(), lb.to_bits());
    assert_eq!(a.out.params(), b.out.params());
    assert_eq!(a.hidden.params(), b.hidden.params());
}
