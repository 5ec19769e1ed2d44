//! Composition beyond the book's net: `Sequential` stacks (against the same layers called by
//! hand and against central differences), inference mode, backward without dx, boxed and
//! borrowed layers, the optimizers against their formulas (SGD with momentum, Nesterov and
//! weight decay; Adam with an L2 term; AdamW) on every SIMD path and against PyTorch's own
//! `torch.optim` (golden values from `tests/suite/golden/optim_torch.py`), the initialisers' moments,
//! and the row helpers (argmax, accuracy, gathering) against plain loops.

#![allow(clippy::needless_range_loop)] // index loops read as the formulas they check

use crate::common;

use common::tol::{GRAD_STEP, OPTIM_ROUNDINGS, assert_grad, assert_within};
use nnkern::layers::Rng;
use nnkern::layers::{
    Adam, Affine, Init, Layer, MatMul, Optimizer, Params, Relu, Sequential, Sgd, Sigmoid, Softmax,
    SoftmaxWithLoss, Tanh, Trainer, TwoLayerNet,
};
use nnkern::{Activation, AdamParams, ErrorKind, Float, MatMut, MatRef, SgdParams};

fn m<T: Copy>(v: &[T], r: usize, c: usize) -> MatRef<'_, T> {
    MatRef::from_row_major(v, r, c).unwrap()
}

fn wave<T: Float>(n: usize, f: f64) -> Vec<T> {
    (0..n).map(|i| T::from_f64((i as f64 * f).sin())).collect()
}

fn bits<T: Float>(v: &[&[T]]) -> Vec<f64> {
    v.iter().flat_map(|s| s.iter().map(|x| x.to_f64())).collect()
}

// ----- optimizers --------------------------------------------------------------------------

/// Three steps of each optimizer on one tensor against the formulas of PyTorch's
/// `torch.optim` documentation written out in f64 from the very (rounded) values the kernel
/// gets, within `OPTIM_ROUNDINGS` per step.
fn optimizers_follow_their_formulas<T: Float>() {
    let n = 37;
    let mut rng = common::Rng::new(11);
    let p0: Vec<f64> = (0..n).map(|_| T::from_f64(rng.normal()).to_f64()).collect();
    let grads: Vec<Vec<f64>> = (0..3)
        .map(|_| (0..n).map(|_| T::from_f64(rng.normal()).to_f64()).collect())
        .collect();
    let r = |v: f64| T::from_f64(v).to_f64();
    let tv = |v: &[f64]| v.iter().map(|&e| T::from_f64(e)).collect::<Vec<T>>();
    // SGD: momentum, Nesterov, weight decay
    for (mu, nesterov, wd) in [
        (0.0, false, 0.0),
        (0.9, false, 0.0),
        (0.9, true, 0.01),
        (0.5, false, 0.1),
        (0.0, false, 0.05),
    ] {
        let hp = SgdParams::default()
            .lr(T::from_f64(0.1))
            .momentum(T::from_f64(mu))
            .nesterov(nesterov)
            .weight_decay(T::from_f64(wd));
        let (lr, mu, wd) = (r(0.1), r(mu), r(wd));
        let (mut p, mut b) = (tv(&p0), vec![T::ZERO; n]);
        let (mut pr, mut br, mut scale) = (p0.clone(), vec![0.0; n], vec![0.0; n]);
        for (k, g) in grads.iter().enumerate() {
            nnkern::sgd_momentum_update(&mut p, &tv(g), &mut b, &hp).unwrap();
            for i in 0..n {
                let mut gi = g[i] + wd * pr[i];
                if mu != 0.0 {
                    br[i] = if k == 0 { gi } else { mu * br[i] + gi };
                    gi = if nesterov { gi + mu * br[i] } else { br[i] };
                }
                scale[i] += pr[i].abs() + (lr * gi).abs();
                pr[i] -= lr * gi;
            }
        }
        for i in 0..n {
            assert_within::<T>(p[i].to_f64(), pr[i], OPTIM_ROUNDINGS, scale[i], &|| {
                format!("SGD μ {mu} nesterov {nesterov} λ {wd}, element {i}")
            });
        }
    }
    // Adam (with and without an L2 term) and AdamW
    for (wd, decoupled) in [(0.0, false), (0.1, false), (0.01, true), (0.3, true)] {
        let hp = AdamParams::default()
            .lr(T::from_f64(0.01))
            .beta1(T::from_f64(0.8))
            .beta2(T::from_f64(0.95))
            .eps(T::from_f64(1e-6))
            .weight_decay(T::from_f64(wd))
            .decoupled_weight_decay(decoupled);
        let (lr, b1, b2, eps, wd) = (r(0.01), r(0.8), r(0.95), r(1e-6), r(wd));
        let (mut p, mut mm, mut vv) = (tv(&p0), vec![T::ZERO; n], vec![T::ZERO; n]);
        let (mut pr, mut mr, mut vr, mut scale) = (p0.clone(), vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        for (k, g) in grads.iter().enumerate() {
            let step = k as i32 + 1;
            nnkern::adam_update(&mut p, &tv(g), &mut mm, &mut vv, step as u32, &hp).unwrap();
            for i in 0..n {
                let mut gi = g[i];
                let before = pr[i];
                if decoupled {
                    pr[i] *= 1.0 - lr * wd;
                } else {
                    gi += wd * pr[i];
                }
                mr[i] = b1 * mr[i] + (1.0 - b1) * gi;
                vr[i] = b2 * vr[i] + (1.0 - b2) * gi * gi;
                let mh = mr[i] / (1.0 - b1.powi(step));
                let vh = vr[i] / (1.0 - b2.powi(step));
                let upd = lr * mh / (vh.sqrt() + eps);
                scale[i] += before.abs() + upd.abs() + (gi - g[i]).abs();
                pr[i] -= upd;
            }
        }
        for i in 0..n {
            assert_within::<T>(p[i].to_f64(), pr[i], OPTIM_ROUNDINGS, scale[i], &|| {
                format!("Adam λ {wd} decoupled {decoupled}, element {i}")
            });
        }
    }
}
both_types!(optimizer_formulas, optimizers_follow_their_formulas);

/// One parameter tensor and its gradient, for the optimizers.
struct One {
    p: Vec<f64>,
    g: Vec<f64>,
}

impl Params<f64> for One {
    fn visit_params(&mut self, f: &mut dyn FnMut(&mut [f64], &[f64])) {
        f(&mut self.p, &self.g);
    }
}

/// Three steps of each optimizer against PyTorch's own `torch.optim` in float64
/// (`tests/suite/golden/optim_torch.py` → `optim.txt`), within `OPTIM_ROUNDINGS` per step on the
/// magnitudes each step rounds.
#[test]
fn optimizers_match_pytorch() {
    let golden = include_str!("golden/optim.txt");
    let n = 37;
    let mut seen = 0;
    for line in golden.lines() {
        let mut words = line.split_whitespace();
        let name = words.next().unwrap();
        let want: Vec<f64> = words.map(|w| w.parse().unwrap()).collect();
        assert_eq!(want.len(), n, "{name}");
        let adam = |lr, wd, decoupled| {
            AdamParams::default()
                .lr(lr)
                .beta1(0.8)
                .beta2(0.95)
                .eps(1e-6)
                .weight_decay(wd)
                .decoupled_weight_decay(decoupled)
        };
        let (mut opt, wd): (Box<dyn Optimizer<f64>>, f64) = match name {
            "sgd" => (Box::new(Sgd::new(0.1)), 0.0),
            "sgd_momentum" => (Box::new(Sgd::new(0.1).momentum(0.9)), 0.0),
            "sgd_nesterov_wd" => (
                Box::new(Sgd::new(0.1).momentum(0.9).nesterov(true).weight_decay(0.01)),
                0.01,
            ),
            "adam" => (Box::new(Adam::new(adam(0.01, 0.0, false))), 0.0),
            "adam_l2" => (Box::new(Adam::new(adam(0.01, 0.1, false))), 0.1),
            "adamw" => (Box::new(Adam::new(adam(0.01, 0.3, true))), 0.3),
            other => panic!("unknown configuration {other}"),
        };
        let p0: Vec<f64> = (0..n).map(|i| (0.37 * i as f64 + 0.1).sin()).collect();
        let mut one = One {
            p: p0,
            g: vec![0.0; n],
        };
        let mut scale = vec![0.0; n];
        for k in 0..3 {
            one.g = (0..n).map(|i| (0.71 * i as f64 + k as f64).cos()).collect();
            let before = one.p.clone();
            opt.step(&mut one).unwrap();
            for i in 0..n {
                scale[i] += before[i].abs() + (one.p[i] - before[i]).abs() + wd * before[i].abs();
            }
        }
        for i in 0..n {
            assert_within::<f64>(one.p[i], want[i], 3.0 * OPTIM_ROUNDINGS, scale[i], &|| {
                format!("{name}, element {i}")
            });
        }
        seen += 1;
    }
    assert_eq!(seen, 6);
}

/// The updates are elementwise with no fused multiply-add: the same bits on every SIMD path
/// and for every length (tails of every size against the 16-wide body).
#[test]
fn optimizer_updates_are_identical_on_every_simd_path() {
    let run = || {
        let mut out = Vec::new();
        for n in [0, 1, 15, 16, 17, 33, 100] {
            let g = wave::<f32>(n, 0.7);
            let mut p = wave::<f32>(n, 0.3);
            let (mut m1, mut v1, mut b) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
            for step in 1..4 {
                nnkern::adam_update(&mut p, &g, &mut m1, &mut v1, step, &AdamParams::adamw(0.01, 0.1))
                    .unwrap();
                let hp = SgdParams::default()
                    .lr(0.1)
                    .momentum(0.9)
                    .nesterov(true)
                    .weight_decay(0.01);
                nnkern::sgd_momentum_update(&mut p, &g, &mut b, &hp).unwrap();
            }
            out.extend(p.iter().map(|v| v.to_bits()));
        }
        out
    };
    let want = run();
    for path in nnkern::SimdPath::ALL.into_iter().filter(|p| p.is_supported()) {
        assert_eq!(nnkern::with_simd_path(path, run).unwrap(), want, "{path}");
    }
}

#[test]
fn optimizers_reject_bad_state_and_keep_their_step_count() {
    let mut layer = MatMul::new(vec![1.0_f32; 4], 2, 2).unwrap();
    layer.forward(m(&[1.0, 2.0], 1, 2)).unwrap();
    layer.backward(m(&[1.0, 1.0], 1, 2)).unwrap();
    let mut adam = Adam::new(AdamParams::default());
    adam.step(&mut layer).unwrap();
    adam.step(&mut layer).unwrap();
    assert_eq!(adam.steps(), 2);
    adam.set_lr(f32::NAN).unwrap_err();
    assert_eq!(adam.lr(), 1e-3);
    adam.reset();
    assert_eq!(adam.steps(), 0);
    let (mut p, mut b) = ([1.0_f32; 3], [0.0_f32; 2]);
    let hp = SgdParams::default().momentum(0.9);
    let e = nnkern::sgd_momentum_update(&mut p, &[1.0; 3], &mut b, &hp).unwrap_err();
    assert_eq!(
        (e.op(), e.arg(), e.kind()),
        ("sgd_momentum_update", "velocity", ErrorKind::Length)
    );
    // without momentum the buffer is not used, so an empty one is fine
    nnkern::sgd_momentum_update(&mut p, &[1.0; 3], &mut [], &SgdParams::default()).unwrap();
    assert_eq!(p, [0.99; 3]);
}

// ----- Sequential --------------------------------------------------------------------------

/// A stack equals the same layers called by hand, bit for bit: forward, loss, backward (the
/// first layer without dx), and the optimizer step over the whole parameter set.
fn stack_equals_layers_by_hand<T: Float>() {
    let (n, d, h, c) = (9, 5, 24, 7); // wider than 16: TwoLayerNet goes layer by layer
    let x = wave::<T>(n * d, 0.37);
    let t: Vec<usize> = (0..n).map(|i| (i * 3) % c).collect();
    let make = |seed| {
        TwoLayerNet::<T>::with(d, h, c, Activation::Tanh, Init::XavierNormal, &mut Rng::new(seed)).unwrap()
    };
    let mut by_hand = make(4);
    let mut net = make(4);
    let mut seq = Sequential::new().push(make(4).hidden).push(make(4).out);
    let mut opt_a = Sgd::new(T::from_f64(0.1))
        .momentum(T::from_f64(0.9))
        .nesterov(true);
    let mut opt_b = Sgd::new(T::from_f64(0.1))
        .momentum(T::from_f64(0.9))
        .nesterov(true);
    let mut opt_c = Sgd::new(T::from_f64(0.1))
        .momentum(T::from_f64(0.9))
        .nesterov(true);
    for _ in 0..3 {
        let la = by_hand.forward(m(&x, n, d), &t).unwrap();
        by_hand.backward().unwrap();
        opt_a.step(&mut by_hand).unwrap();
        let lb = net.train_step(m(&x, n, d), &t, &mut opt_b).unwrap();
        let lc = seq.train_step(m(&x, n, d), &t, &mut opt_c).unwrap();
        assert_eq!(la.to_f64().to_bits(), lb.to_f64().to_bits());
        assert_eq!(la.to_f64().to_bits(), lc.to_f64().to_bits());
    }
    let want = bits(&[by_hand.hidden.params(), by_hand.out.params()].concat());
    assert_eq!(bits(&[net.hidden.params(), net.out.params()].concat()), want);
    assert_eq!(bits(&seq.params()), want);
    // inference: the same scores as a training forward, and the loss of those scores
    let pred: Vec<f64> = {
        let s = seq.predict(m(&x, n, d)).unwrap();
        (0..n)
            .flat_map(|i| s.row_iter(i).map(|v| v.to_f64()).collect::<Vec<_>>())
            .collect()
    };
    let fwd: Vec<f64> = {
        let s = seq.forward(m(&x, n, d)).unwrap();
        (0..n)
            .flat_map(|i| s.row_iter(i).map(|v| v.to_f64()).collect::<Vec<_>>())
            .collect()
    };
    assert_eq!(pred, fwd);
    let mut swl = SoftmaxWithLoss::new();
    let l = swl.forward(seq.forward(m(&x, n, d)).unwrap(), &t).unwrap();
    assert_eq!(seq.loss(m(&x, n, d), &t).unwrap().to_f64(), l.to_f64());
}
both_types!(stack_by_hand, stack_equals_layers_by_hand);

/// A stack's parameter gradients and dx (through `Layer::backward`) against central
/// differences of the loss, with every kind of layer in it (MatMul, Affine with and without a
/// fused activation, standalone Sigmoid and Tanh, a nested stack, Softmax before a linear
/// layer).
#[test]
fn stack_gradients_match_central_differences() {
    let (n, d) = (4, 3);
    let mut rng = Rng::new(8);
    let inner = Sequential::new()
        .push(Affine::<f64>::init(6, 5, Activation::Sigmoid, Init::XavierUniform, &mut rng).unwrap())
        .push(Tanh::new());
    let mut seq = Sequential::new()
        .push(MatMul::new(wave::<f64>(d * 6, 0.9), d, 6).unwrap())
        .push(Sigmoid::new())
        .push(inner)
        .push(Softmax::new())
        .push(Affine::init(5, 3, Activation::Identity, Init::TorchLinear, &mut rng).unwrap());
    assert_eq!(seq.out_width(d), Some(3));
    assert_eq!(seq.out_width(d + 1), None);
    let x = wave::<f64>(n * d, 1.1);
    let t = [0, 2, 1, 2];
    let mut swl = SoftmaxWithLoss::new();
    let mut loss =
        |seq: &mut Sequential<f64>, x: &[f64]| swl.forward(seq.forward(m(x, n, d)).unwrap(), &t).unwrap();
    loss(&mut seq, &x);
    let ds: Vec<f64> = {
        let mut l2 = SoftmaxWithLoss::new();
        l2.forward(seq.forward(m(&x, n, d)).unwrap(), &t).unwrap();
        let g = l2.backward(1.0).unwrap();
        (0..n).flat_map(|i| g.row_iter(i).collect::<Vec<_>>()).collect()
    };
    let dx: Vec<f64> = {
        let g = seq.backward(m(&ds, n, 3)).unwrap();
        (0..n).flat_map(|i| g.row_iter(i).collect::<Vec<_>>()).collect()
    };
    let grads: Vec<Vec<f64>> = seq.grads().into_iter().map(|g| g.to_vec()).collect();
    assert_eq!(grads.len(), 5); // MatMul's W, the inner Affine's W and b, the last W and b
    for (which, g) in grads.iter().enumerate() {
        for e in 0..g.len() {
            let mut at = |delta: f64| {
                let mut k = 0;
                seq.visit_params(&mut |p, _| {
                    if k == which {
                        p[e] += delta;
                    }
                    k += 1;
                });
                let l = loss(&mut seq, &x);
                let mut k = 0;
                seq.visit_params(&mut |p, _| {
                    if k == which {
                        p[e] -= delta;
                    }
                    k += 1;
                });
                l
            };
            let numeric = (at(GRAD_STEP) - at(-GRAD_STEP)) / (2.0 * GRAD_STEP);
            assert_grad(g[e], numeric, &|| format!("tensor {which}, element {e}"));
        }
    }
    for e in 0..n * d {
        let mut xp = x.clone();
        xp[e] += GRAD_STEP;
        let lp = loss(&mut seq, &xp);
        xp[e] -= 2.0 * GRAD_STEP;
        let lm = loss(&mut seq, &xp);
        assert_grad(dx[e], (lp - lm) / (2.0 * GRAD_STEP), &|| format!("dx[{e}]"));
    }
}

/// Inference mode gives forward's values and leaves forward's cache: a backward after an
/// `infer` on other data is the backward of the last `forward`. `backward_params` gives
/// `backward`'s parameter gradients bit for bit.
#[test]
fn infer_keeps_the_cache_and_backward_params_matches_backward() {
    let mk = || -> Vec<Box<dyn Layer<f32>>> {
        vec![
            Box::new(MatMul::new(wave(12, 0.3), 4, 3).unwrap()),
            Box::new(Affine::new(wave(12, 0.5), wave(3, 0.2), 4, 3, Activation::Sigmoid).unwrap()),
            Box::new(Affine::new(wave(12, 0.5), wave(3, 0.2), 4, 3, Activation::Relu).unwrap()),
            Box::new(
                Sequential::new()
                    .push(Relu::new())
                    .push(MatMul::new(wave(12, 0.7), 4, 3).unwrap()),
            ),
        ]
    };
    let (x1, x2, dy) = (wave::<f32>(20, 0.9), wave::<f32>(12, 1.7), wave::<f32>(15, 2.3));
    for (a, b) in mk().iter_mut().zip(mk().iter_mut()) {
        let y: Vec<f32> = {
            let y = a.forward(m(&x1, 5, 4)).unwrap();
            (0..5).flat_map(|i| y.row_iter(i).collect::<Vec<_>>()).collect()
        };
        let yi: Vec<f32> = {
            let y = a.infer(m(&x1, 5, 4)).unwrap();
            (0..5).flat_map(|i| y.row_iter(i).collect::<Vec<_>>()).collect()
        };
        assert_eq!(y, yi);
        a.infer(m(&x2, 3, 4)).unwrap(); // other data, other batch size
        a.backward(m(&dy, 5, 3)).unwrap();
        b.forward(m(&x1, 5, 4)).unwrap();
        b.backward_params(m(&dy, 5, 3)).unwrap();
        assert_eq!(a.grads(), b.grads());
        assert!(!a.grads().is_empty());
    }
}

/// Boxed and borrowed layers are layers and parameter sets; an empty stack is the identity.
#[test]
fn boxed_borrowed_and_empty() {
    let mut boxed: Box<dyn Layer<f64>> = Box::new(MatMul::new(vec![1.0], 1, 1).unwrap());
    boxed.forward(m(&[2.0], 1, 1)).unwrap();
    boxed.backward(m(&[1.0], 1, 1)).unwrap();
    Sgd::new(0.5).step(&mut boxed).unwrap();
    assert_eq!(boxed.params()[0], &[0.0]);
    let mut layer = MatMul::new(vec![1.0], 1, 1).unwrap();
    let mut borrowed = &mut layer;
    Layer::forward(&mut borrowed, m(&[2.0], 1, 1)).unwrap();
    let mut empty = Sequential::<f64>::new();
    assert_eq!(empty.forward(m(&[1.0, 2.0], 1, 2)).unwrap().get(0, 1), Some(2.0));
    assert_eq!(empty.backward(m(&[3.0, 4.0], 1, 2)).unwrap().get(0, 0), Some(3.0));
    assert!(empty.params().is_empty());
    let e = empty
        .train_step(m(&[1.0, 2.0], 1, 2), &[5], &mut Sgd::new(0.1))
        .unwrap_err();
    assert_eq!(
        (e.op(), e.arg(), e.kind()),
        ("Sequential::train_step", "targets", ErrorKind::Label)
    );
}

/// `Trainer::fit` calls its hook once per epoch, in order, lets it change the learning rate,
/// and stops at its first `Err`.
#[test]
fn fit_runs_the_evaluation_hook() {
    let (x, t) = common::spiral::spiral::<f32>(20, 3, 0);
    let x = m(&x, 60, 2);
    let mut rng = Rng::new(1);
    let mut seq = Sequential::new()
        .push(Affine::init(2, 8, Activation::Relu, Init::HeUniform, &mut rng).unwrap())
        .push(Affine::init(8, 3, Activation::Identity, Init::XavierNormal, &mut rng).unwrap());
    let mut tr = Trainer::new(16, Adam::new(AdamParams::default()), rng).unwrap();
    let mut seen = Vec::new();
    tr.fit(&mut seq, x, &t, 4, |net, opt, e, loss| {
        seen.push(e);
        assert!(loss.is_finite());
        assert!(nnkern::accuracy(net.predict(x)?, &t)? >= 0.0);
        opt.set_lr(opt.lr() * 0.5)
    })
    .unwrap();
    assert_eq!(seen, [0, 1, 2, 3]);
    assert_eq!(tr.optimizer().lr(), 1e-3 / 16.0);
    let e = tr
        .fit(&mut seq, x, &t, 5, |_, opt, _, _| opt.set_lr(-1.0))
        .unwrap_err();
    assert_eq!(e.arg(), "lr");
}

// ----- initialisers ------------------------------------------------------------------------

/// Each scheme's sample mean and variance against its distribution's (within 6 standard
/// errors: for n draws, the mean's standard error is σ/√n and the variance's σ²·√(2/n) for a
/// normal, σ²·√(0.8/n) for a uniform), its bounds, and the same bits for the same seed.
#[test]
fn initialisers_draw_their_distributions() {
    let (d, h) = (200, 300);
    let n = (d * h) as f64;
    for (init, var, bound) in [
        (Init::Normal { std: 0.01 }, 1e-4, f64::INFINITY),
        (Init::HeNormal, 2.0 / d as f64, f64::INFINITY),
        (Init::HeUniform, 2.0 / d as f64, (6.0 / d as f64).sqrt()),
        (Init::XavierNormal, 2.0 / (d + h) as f64, f64::INFINITY),
        (
            Init::XavierUniform,
            2.0 / (d + h) as f64,
            (6.0 / (d + h) as f64).sqrt(),
        ),
        (Init::TorchLinear, 1.0 / (3.0 * d as f64), 1.0 / (d as f64).sqrt()),
    ] {
        let a = Affine::<f64>::init(d, h, Activation::Identity, init, &mut Rng::new(5)).unwrap();
        let b = Affine::<f64>::init(d, h, Activation::Identity, init, &mut Rng::new(5)).unwrap();
        assert_eq!(a.params(), b.params(), "{init:?}: same seed, same layer");
        let w = a.params()[0];
        let mean = w.iter().sum::<f64>() / n;
        let v = w.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
        let rel = if bound.is_finite() {
            (0.8 / n).sqrt()
        } else {
            (2.0 / n).sqrt()
        };
        assert!(mean.abs() <= 6.0 * (var / n).sqrt(), "{init:?}: mean {mean}");
        assert!(
            (v - var).abs() <= 6.0 * var * rel,
            "{init:?}: variance {v}, want {var}"
        );
        assert!(
            w.iter().all(|x| x.abs() <= bound),
            "{init:?}: a draw beyond ±{bound}"
        );
        let bias = a.params()[1];
        if init == Init::TorchLinear {
            assert!(bias.iter().all(|x| x.abs() <= bound) && bias.iter().any(|&x| x != 0.0));
        } else {
            assert!(bias.iter().all(|&x| x == 0.0), "{init:?}: bias not 0");
        }
    }
    let e = Affine::<f32>::init(
        2,
        2,
        Activation::Identity,
        Init::Normal { std: f64::NAN },
        &mut Rng::new(0),
    )
    .unwrap_err();
    assert_eq!(
        (e.op(), e.arg(), e.kind()),
        ("Affine::init", "init", ErrorKind::Value)
    );
    let e = Affine::<f32>::init(
        usize::MAX,
        2,
        Activation::Identity,
        Init::HeNormal,
        &mut Rng::new(0),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Overflow);
}

// ----- row helpers -------------------------------------------------------------------------

#[test]
fn argmax_accuracy_and_gather_against_loops() {
    let (n, c) = (7, 5);
    let mut v = wave::<f32>(n * c, 0.77);
    v[2 * c + 3] = f32::NAN; // NaN wins, as PyTorch's argmax
    v[2 * c + 4] = f32::NAN; // (the first one)
    v[4 * c + 1] = v[4 * c + 3].max(v[4 * c + 1]); // a tie: the first index
    v[4 * c + 3] = v[4 * c + 1];
    let want: Vec<usize> = (0..n)
        .map(|i| {
            let row = &v[i * c..(i + 1) * c];
            if let Some(j) = row.iter().position(|x| x.is_nan()) {
                return j;
            }
            let mut b = 0;
            for j in 1..c {
                if row[j] > row[b] {
                    b = j;
                }
            }
            b
        })
        .collect();
    let mut got = vec![0; n];
    nnkern::argmax_rows(m(&v, n, c), &mut got).unwrap();
    assert_eq!(got, want);
    // the same through a transposed (column-major) view
    let tv: Vec<f32> = (0..c)
        .flat_map(|j| (0..n).map(|i| v[i * c + j]).collect::<Vec<_>>())
        .collect();
    let mut got_t = vec![0; n];
    nnkern::argmax_rows(MatRef::from_col_major(&tv, n, c).unwrap(), &mut got_t).unwrap();
    assert_eq!(got_t, want);
    let labels: Vec<usize> = (0..n)
        .map(|i| if i % 2 == 0 { want[i] } else { (want[i] + 1) % c })
        .collect();
    assert_eq!(nnkern::accuracy(m(&v, n, c), &labels).unwrap(), 4.0 / 7.0);
    assert!(nnkern::accuracy(m(&v[..0], 0, c), &[]).unwrap().is_nan());
    // gathering into a transposed output
    let idx = [6, 0, 3, 3];
    let mut out = vec![0.0_f32; 4 * c];
    nnkern::gather_rows(m(&v, n, c), &idx, MatMut::from_col_major(&mut out, 4, c).unwrap()).unwrap();
    for (k, &i) in idx.iter().enumerate() {
        for j in 0..c {
            assert_eq!(out[j * 4 + k].to_bits(), v[i * c + j].to_bits());
        }
    }
    // bad input
    let e = nnkern::gather_rows(
        m(&v, n, c),
        &[1, 7],
        MatMut::from_row_major(&mut out[..2 * c], 2, c).unwrap(),
    )
    .unwrap_err();
    assert_eq!(
        (e.op(), e.arg(), e.kind()),
        ("gather_rows", "idx", ErrorKind::Value)
    );
    assert_eq!(e.to_string(), "gather_rows: idx [1] is 7 but x has 7 rows");
    let e = nnkern::gather_rows(
        m(&v, n, c),
        &[1],
        MatMut::from_row_major(&mut out[..2 * c], 2, c).unwrap(),
    )
    .unwrap_err();
    assert_eq!((e.arg(), e.kind()), ("out", ErrorKind::Shape));
    let e = nnkern::argmax_rows(m(&v, n, c), &mut got[..3]).unwrap_err();
    assert_eq!(
        (e.op(), e.arg(), e.kind()),
        ("argmax_rows", "out", ErrorKind::Length)
    );
    let e = nnkern::accuracy(m(&v[..0], n, 0), &labels).unwrap_err();
    assert_eq!((e.arg(), e.kind()), ("scores", ErrorKind::Shape));
    let e = nnkern::accuracy(m(&v, n, c), &labels[1..]).unwrap_err();
    assert_eq!((e.arg(), e.kind()), ("labels", ErrorKind::Length));
    // row access
    let mv = m(&v, n, c);
    assert_eq!(mv.row_slice(1), Some(&v[c..2 * c]));
    assert_eq!(mv.row_slice(n), None);
    assert_eq!(mv.t().row_slice(0), None);
    assert_eq!(mv.t().row_iter(1).count(), n);
    assert_eq!(mv.row_iter(n).count(), 0);
}
