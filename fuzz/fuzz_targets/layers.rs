//! The layer API driven by arbitrary call sequences: MatMul, Affine (every activation), the
//! activation and Softmax layers (forward, inference, backward with and without dx),
//! Softmax-with-Loss, `Sequential` stacks (training steps, prediction, loss), `TwoLayerNet`
//! (forward, backward, step, the fused training step), `Trainer` (epochs on either model,
//! batch and learning-rate setters) and the optimizers (SGD with momentum, Nesterov and
//! weight decay, Adam, AdamW) over changing parameter sets — with inputs of any shape (wrong ones included),
//! edge-case values and hyper-parameters, on pools of 1–3 threads under any SIMD path. Never a
//! panic; every `Err` names its operation and argument; an update refused with an `Err`
//! changes no parameter.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nnkern::layers::{
    Adam, Affine, Init, Layer, MatMul, Optimizer, Relu, Rng, Sequential, Sgd, Sigmoid, Softmax, SoftmaxWithLoss,
    Tanh, Trainer, TwoLayerNet,
};
use nnkern::*;
use nnkern_fuzz::{ACTS, Input, Stored, in_env};

fuzz_target!(|bytes: &[u8]| {
    let mut inp = Input::new(bytes);
    let mut env = Input::new(&bytes[bytes.len().saturating_sub(2)..]);
    in_env(&mut env, || session(&mut inp));
});

/// The width of the layers' inputs and outputs, small so that mismatches are frequent.
fn width(inp: &mut Input<'_>) -> usize {
    inp.dim(6)
}

fn params(inp: &mut Input<'_>, len: usize) -> Vec<f32> {
    (0..len).map(|_| inp.moderate()).collect()
}

/// A learning rate: mostly valid, sometimes NaN, ±∞ or negative.
fn lr(inp: &mut Input<'_>) -> f32 {
    if inp.byte() % 4 == 0 {
        inp.value()
    } else {
        inp.moderate().abs()
    }
}

/// Any optimizer, its hyper-parameters mostly valid.
fn optimizer(inp: &mut Input<'_>) -> Box<dyn Optimizer<f32>> {
    let small = |inp: &mut Input<'_>| if inp.byte() % 8 == 0 { inp.value() } else { inp.moderate().abs().min(0.99) };
    match inp.byte() % 3 {
        0 => Box::new(
            Sgd::new(lr(inp))
                .momentum(small(inp))
                .nesterov(inp.flag())
                .weight_decay(small(inp)),
        ),
        1 => Box::new(Adam::new(AdamParams::default().lr(lr(inp)).beta1(small(inp)).weight_decay(small(inp)))),
        _ => Box::new(Adam::new(AdamParams::adamw(lr(inp), small(inp)))),
    }
}

#[track_caller]
fn named<T>(r: &Result<T>) {
    if let Err(e) = r {
        let msg = e.to_string();
        assert!(!e.op().is_empty() && !e.arg().is_empty(), "{msg}");
        assert!(msg.starts_with(&format!("{}: {} ", e.op(), e.arg())), "{msg}");
    }
}

fn snapshot(layers: &[&dyn Layer<f32>]) -> Vec<u32> {
    layers
        .iter()
        .flat_map(|l| {
            l.params()
                .into_iter()
                .flatten()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn session(inp: &mut Input<'_>) {
    let (d, h) = (width(inp), width(inp));
    let mut mm = MatMul::new(params(inp, d * h), d, h).expect("lengths fit");
    let act = ACTS[inp.byte() as usize % ACTS.len()];
    let mut aff = Affine::new(params(inp, h * d), params(inp, d), h, d, act).expect("lengths fit");
    let mut sig = Sigmoid::<f32>::new();
    let mut tanh = Tanh::<f32>::new();
    let mut relu = Relu::<f32>::new();
    let mut soft = Softmax::<f32>::new();
    let mut swl = SoftmaxWithLoss::<f32>::new();
    let classes = 1 + inp.dim(4);
    let mut net = TwoLayerNet::<f32>::new(
        1 + inp.dim(3),
        1 + inp.dim(12),
        classes,
        &mut Rng::new(inp.byte() as u64),
    );
    let mut adam = optimizer(inp);
    let mut rng = Rng::new(inp.byte() as u64);
    let inits = [Init::HeNormal, Init::HeUniform, Init::XavierNormal, Init::XavierUniform, Init::TorchLinear];
    let mut seq = Sequential::new();
    for _ in 0..inp.dim(4) {
        let (i, o) = (width(inp), width(inp));
        match inp.byte() % 3 {
            0 => seq.add(Box::new(Relu::new())),
            _ => seq.add(Box::new(
                Affine::init(i, o, ACTS[inp.byte() as usize % ACTS.len()], inits[inp.byte() as usize % 5], &mut rng)
                    .expect("small sizes"),
            )),
        }
    }
    let mut trainer = match Trainer::new(inp.dim(40), Sgd::new(lr(inp)), Rng::new(1)) {
        Ok(t) => Some(t),
        Err(e) => {
            named::<()>(&Err(e));
            None
        }
    };
    for _ in 0..24 {
        let (rows, cols) = (inp.dim(9), width(inp));
        let moderate = inp.flag();
        let x = Stored::new(inp, rows, cols, moderate);
        let labels: Vec<usize> = (0..rows + usize::from(inp.byte() % 16 == 0))
            .map(|_| inp.dim(6))
            .collect();
        match inp.byte() % 17 {
            0 => named(&mm.forward(x.view()).map(|_| ())),
            1 => named(&mm.backward(x.view()).map(|_| ())),
            2 => named(&aff.forward(x.view()).map(|_| ())),
            3 => named(&aff.backward(x.view()).map(|_| ())),
            4 => named(&aff.backward_params(x.view())),
            5 => {
                let l: &mut dyn Layer<f32> = match inp.byte() % 4 {
                    0 => &mut sig,
                    1 => &mut tanh,
                    2 => &mut relu,
                    _ => &mut soft,
                };
                named(&l.forward(x.view()).map(|_| ()));
                named(&l.infer(x.view()).map(|_| ()));
                named(&l.backward(x.view()).map(|_| ()));
                named(&l.backward_params(x.view()));
            }
            6 => {
                named(&swl.forward(x.view(), &labels));
                named(&swl.backward(inp.value()).map(|_| ()));
            }
            7 => {
                let mut sgd = Sgd::new(lr(inp));
                let before = snapshot(&[&mm]);
                let r = sgd.step(&mut mm);
                named(&r);
                if r.is_err() {
                    assert_eq!(
                        snapshot(&[&mm]),
                        before,
                        "Sgd::step changed a parameter before its Err"
                    );
                }
            }
            8 => {
                // the layer set changes from step to step: later steps with another set fail
                let before = snapshot(&[&mm, &aff]);
                let r = match inp.byte() % 4 {
                    0 => adam.step(&mut mm),
                    1 => adam.step(&mut aff),
                    2 => adam.step(&mut net),
                    _ => {
                        adam.reset();
                        adam.step(&mut seq)
                    }
                };
                named(&r);
                if r.is_err() {
                    assert_eq!(
                        snapshot(&[&mm, &aff]),
                        before,
                        "an optimizer changed a parameter before its Err"
                    );
                }
            }
            9 => {
                named(&net.forward(x.view(), &labels));
                named(&net.backward());
            }
            10 => {
                let before = snapshot(&[&net.hidden, &net.out]);
                let r = net.train_step(x.view(), &labels, &mut Sgd::new(lr(inp)));
                named(&r);
                if r.is_err() {
                    assert_eq!(
                        snapshot(&[&net.hidden, &net.out]),
                        before,
                        "train_step changed a parameter before its Err"
                    );
                }
            }
            11 => {
                named(&net.predict(x.view()).map(|_| ()));
                named(&net.step(&mut Sgd::new(lr(inp))));
            }
            12 => {
                if let Some(t) = trainer.as_mut() {
                    named(&t.set_batch(inp.dim(40)));
                    named(&t.optimizer_mut().set_lr(lr(inp)));
                }
            }
            13 => {
                if let Some(t) = trainer.as_mut() {
                    // x's width may or may not fit the net's
                    named(&t.epoch(&mut net, x.view(), &labels));
                }
            }
            14 => {
                let before = snapshot(&[&seq]);
                let r = seq.train_step(x.view(), &labels, &mut *adam);
                named(&r);
                if r.is_err() {
                    assert_eq!(snapshot(&[&seq]), before, "Sequential::train_step changed a parameter before its Err");
                }
            }
            15 => {
                named(&seq.predict(x.view()).map(|_| ()));
                named(&seq.loss(x.view(), &labels));
                named(&seq.backward(x.view()).map(|_| ()));
            }
            _ => {
                if let Some(t) = trainer.as_mut() {
                    named(&t.epoch(&mut seq, x.view(), &labels));
                }
            }
        }
    }
}
