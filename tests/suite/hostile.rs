//! Regression tests for hostile input found by an adversarial review: views whose dimensions
//! overflow or that hold no elements, scratch that cannot be allocated, misuse of the layer
//! API and hyper-parameters out of their domain. Each must get an `Err` (or, for empty
//! views, return at once) — never a panic, an abort or a hang. (Thread-count independence
//! under every SIMD override is in `determinism.rs`; subnormal class weights in `losses.rs`.)

use crate::common::spiral;

use nnkern::layers::{
    Adam, Affine, Layer, MatMul, Optimizer, Params, Rng, Sequential, Sgd, SoftmaxWithLoss, Trainer,
    TwoLayerNet,
};
use nnkern::*;
use spiral::spiral;
use std::sync::mpsc;
use std::time::Duration;

#[track_caller]
fn expect_err<T: std::fmt::Debug>(r: Result<T>, op: &str, arg: &str, kind: ErrorKind) -> Error {
    let e = r.expect_err("hostile input must be rejected");
    assert_eq!((e.op(), e.arg(), e.kind()), (op, arg, kind), "{e}");
    assert!(e.to_string().starts_with(&format!("{op}: {arg} ")), "{e}");
    e
}

/// Runs `f` on its own thread and fails if it has not returned within `secs` (a hang would
/// otherwise stall the whole suite).
fn within<R: Send + 'static>(secs: u64, what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .unwrap_or_else(|_| panic!("{what} did not return within {secs} s"))
}

// ----- 2. dimensions whose product overflows -----------------------------------------------

/// A broadcast view of more elements than `isize::MAX` (2⁴⁸ × 2¹⁶ = 2⁶⁴) is refused when it is
/// made: no kernel ever sizes a loop or a buffer from such a product.
#[test]
fn broadcast_views_of_more_than_isize_max_elements() {
    let row = vec![0.5_f32; 1 << 16];
    for (rows, cols, rs, cs) in [
        (1usize << 48, 1usize << 16, 0, 1),
        (1 << 63, 2, 0, 1),
        (usize::MAX, 2, 0, 0),
        (2, usize::MAX, 0, 0),
    ] {
        let e = expect_err(
            MatRef::from_strided(&row, rows, cols, rs, cs),
            "MatRef::from_strided",
            "rows",
            ErrorKind::Overflow,
        );
        assert!(e.to_string().contains("isize::MAX elements"), "{e}");
    }
    // the largest that fits is a valid view
    assert!(MatRef::from_strided(&row, (isize::MAX as usize) >> 16, 1 << 16, 0, 1).is_ok());
}

/// `affine_backward` on broadcast x, y and dy of 2⁴⁴ rows: its scratch (dz, and the per-block
/// column sums) is far beyond any address space. It must be an `Alloc` error with nothing
/// written, for every activation (the identity's scratch is only the column sums).
#[test]
fn affine_backward_with_scratch_beyond_memory() {
    let (n, d, h) = (1usize << 44, 1, 4096);
    let x = [1.0_f32];
    let yrow = vec![0.5_f32; h];
    let w = vec![0.1_f32; d * h];
    let xv = MatRef::from_strided(&x, n, d, 0, 1).unwrap();
    let yv = MatRef::from_strided(&yrow, n, h, 0, 1).unwrap();
    for act in [
        Activation::Identity,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Relu,
    ] {
        let (mut dw, mut db) = (vec![f32::NAN; d * h], vec![f32::NAN; h]);
        let mut ws = Workspace::new();
        let r = affine_backward(
            xv,
            MatRef::from_row_major(&w, d, h).unwrap(),
            yv,
            yv,
            act,
            AffineGrads {
                dx: None,
                dw: MatMut::from_row_major(&mut dw, d, h).unwrap(),
                db: &mut db,
            },
            Accum::Replace,
            &mut ws,
        );
        let cap = ws.capacity();
        expect_err(r, "affine_backward", "scratch", ErrorKind::Alloc);
        assert!(
            dw.iter().chain(&db).all(|v| v.is_nan()),
            "{act:?}: an output was written"
        );
        assert_eq!(cap, 0, "{act:?}: the workspace kept a failed allocation");
    }
}

// ----- 3. scratch that would abort the process --------------------------------------------

/// A loss over one broadcast row of 2⁴⁶ logits with a column stride (so the row would be
/// copied: 256 TiB): `Alloc`, not an abort, for the softmax-cross-entropy and the binary
/// cross-entropy (whose targets and weights are copied too).
#[test]
fn loss_rows_whose_copy_cannot_be_allocated() {
    let v = [0.25_f32];
    let c = 1usize << 46;
    let row = MatRef::from_strided(&v, 1, c, 1, 0).unwrap();
    let mut loss = [f32::NAN];
    let r = softmax_cross_entropy_forward(
        row,
        Targets::Classes(&[3]),
        &CrossEntropyOptions::default(),
        &mut loss,
        None,
    );
    expect_err(r, "softmax_cross_entropy_forward", "scratch", ErrorKind::Alloc);
    let r = bce_with_logits_forward(row, row, &BceOptions::default(), &mut loss);
    expect_err(r, "bce_with_logits_forward", "scratch", ErrorKind::Alloc);
    assert!(loss[0].is_nan(), "the loss was written");
}

/// A layer checks the input's width before it allocates its caches for x's rows, and
/// reserves the caches fallibly.
#[test]
fn layers_check_shapes_before_allocating_and_allocate_fallibly() {
    let v = [1.0_f32; 4];
    let mut mm = MatMul::new(vec![1.0_f32; 8], 2, 4).unwrap();
    // 2⁴⁰ rows of the wrong width: a shape error, not a 16 TiB allocation
    let wrong = MatRef::from_strided(&v, 1 << 40, 3, 0, 1).unwrap();
    expect_err(
        mm.forward(wrong).map(|_| ()),
        "MatMul::forward",
        "x",
        ErrorKind::Shape,
    );
    // 2⁴⁶ rows of the right width: the output cache (2⁴⁸ elements) cannot be allocated
    let right = MatRef::from_strided(&v, 1 << 46, 2, 0, 1).unwrap();
    expect_err(
        mm.forward(right).map(|_| ()),
        "MatMul::forward",
        "scratch",
        ErrorKind::Alloc,
    );
    // and the layer still works afterwards
    let y = mm
        .forward(MatRef::from_row_major(&v[..2], 1, 2).unwrap())
        .unwrap();
    assert_eq!(y.get(0, 3), Some(2.0));
}

// ----- 4. views with no elements -----------------------------------------------------------

/// Views of `usize::MAX` empty rows (or columns) hold nothing: kernels return at once, they do
/// not walk 2⁶⁴ empty rows.
#[test]
fn empty_views_return_at_once_whatever_their_other_side() {
    within(60, "kernels on usize::MAX × 0 views", || {
        let mut buf: [f32; 0] = [];
        let x = MatRef::from_strided(&[] as &[f32], usize::MAX, 0, 1, 1).unwrap();
        let xt = x.t();
        let y = || MatMut::from_strided(&mut [] as &mut [f32], usize::MAX, 0, 0, 1).unwrap();
        sigmoid_forward(x, y()).unwrap();
        tanh_forward(x, y()).unwrap();
        exp_forward(x, y()).unwrap();
        ln_forward(x, y()).unwrap();
        ln_1p_forward(x, y()).unwrap();
        relu_forward(x, y()).unwrap();
        relu_backward(x, x, y()).unwrap();
        sigmoid_backward(x, x, y()).unwrap();
        for act in [
            Activation::Identity,
            Activation::Sigmoid,
            Activation::Tanh,
            Activation::Relu,
        ] {
            activation_forward(act, x, y()).unwrap();
            activation_backward(act, x, x, y()).unwrap();
            // x: N×0, w: 0×0, y: N×0
            let w = MatRef::from_row_major(&[] as &[f32], 0, 0).unwrap();
            affine_forward(x, w, &[], act, y()).unwrap();
            let mut db: [f32; 0] = [];
            affine_backward(
                x,
                w,
                x,
                x,
                act,
                AffineGrads {
                    dx: Some(y()),
                    dw: MatMut::from_row_major(&mut [] as &mut [f32], 0, 0).unwrap(),
                    db: &mut db,
                },
                Accum::Replace,
                &mut Workspace::new(),
            )
            .unwrap();
        }
        matmul_forward(x, MatRef::from_row_major(&[] as &[f32], 0, 0).unwrap(), y()).unwrap();
        // 0 × usize::MAX: a transposed empty view
        gemm(1.0, xt, x, 0.0, MatMut::from_row_major(&mut buf, 0, 0).unwrap()).unwrap();
        sgd_update(&mut [] as &mut [f32], &[], 0.1).unwrap();
        let mut m = y();
        m.fill(1.0);
        let mut empty_rows = MatMut::from_strided(&mut [] as &mut [f32], 0, usize::MAX, 0, 0).unwrap();
        empty_rows.fill(1.0);
        // a layer's cache of such a view
        let mut mm = MatMul::new(Vec::<f32>::new(), 0, 0).unwrap();
        mm.forward(x).unwrap();
        mm.backward(x).unwrap();
    });
}

// ----- 5. the layer API ------------------------------------------------------------------

/// A layer whose parameter and gradient lengths differ (a user's own `Layer`).
struct Lopsided {
    p: Vec<f32>,
    g: Vec<f32>,
}

impl Params<f32> for Lopsided {
    fn visit_params(&mut self, f: &mut dyn FnMut(&mut [f32], &[f32])) {
        f(&mut self.p, &self.g);
    }
}

impl Layer<f32> for Lopsided {
    fn forward(&mut self, x: MatRef<'_, f32>) -> Result<MatRef<'_, f32>> {
        Ok(MatRef::from_row_major(&self.p, 1, self.p.len().min(x.cols())).unwrap())
    }
    fn backward(&mut self, dy: MatRef<'_, f32>) -> Result<MatRef<'_, f32>> {
        self.forward(dy)
    }
}

#[test]
fn optimizers_reject_parameter_sets_that_do_not_fit() {
    let mut bad = Lopsided {
        p: vec![1.0; 3],
        g: vec![1.0; 2],
    };
    expect_err(
        Sgd::new(0.1).step(&mut bad),
        "Sgd::step",
        "grads",
        ErrorKind::Length,
    );
    let mut adam = Adam::new(AdamParams::default());
    expect_err(adam.step(&mut bad), "Adam::step", "grads", ErrorKind::Length);
    let mut momentum = Sgd::new(0.1).momentum(0.9);
    expect_err(momentum.step(&mut bad), "Sgd::step", "grads", ErrorKind::Length);
    assert_eq!(bad.p, [1.0; 3], "nothing is updated");

    // a different layer set on a later step
    let mut a = MatMul::new(vec![1.0_f32; 6], 2, 3).unwrap();
    let mut b = MatMul::new(vec![1.0_f32; 4], 2, 2).unwrap();
    let mut adam = Adam::new(AdamParams::default());
    adam.step(&mut a).unwrap();
    let before = b.params()[0].to_vec();
    let e = expect_err(adam.step(&mut b), "Adam::step", "params", ErrorKind::Length);
    assert!(e.to_string().contains("tensor 0 of length 4"), "{e}");
    assert!(e.to_string().contains("same parameters in the same order"), "{e}");
    let mut both = Sequential::new().push(MatMul::new(vec![1.0_f32; 6], 2, 3).unwrap());
    both.add(Box::new(MatMul::new(vec![1.0_f32; 9], 3, 3).unwrap()));
    expect_err(adam.step(&mut both), "Adam::step", "params", ErrorKind::Length);
    assert_eq!(b.params()[0], &before[..], "nothing is updated");
    adam.step(&mut a).unwrap();
    // SGD with momentum keeps state too, and checks it the same way
    let mut sgd = Sgd::new(0.1).momentum(0.9);
    sgd.step(&mut a).unwrap();
    expect_err(sgd.step(&mut b), "Sgd::step", "params", ErrorKind::Length);
    assert_eq!(b.params()[0], &before[..], "nothing is updated");
    // after a reset the optimizer takes a new set
    sgd.reset();
    sgd.step(&mut b).unwrap();
}

/// The loss layer checks its scores and labels before it sizes its gradient buffer, in the
/// kernel's order: zero classes is a shape error (a label check on zero classes formed
/// `C − 1` in its message and overflowed, found by the `layers` fuzz target).
#[test]
fn loss_layer_checks_before_allocating() {
    let mut swl = SoftmaxWithLoss::<f32>::new();
    let none = MatRef::from_row_major(&[] as &[f32], 2, 0).unwrap();
    expect_err(
        swl.forward(none, &[0, 1]),
        "SoftmaxWithLoss::forward",
        "scores",
        ErrorKind::Shape,
    );
    let big = MatRef::from_strided(&[0.5_f32, 1.0], 1 << 46, 2, 0, 1).unwrap();
    expect_err(
        swl.forward(big, &[0]),
        "SoftmaxWithLoss::forward",
        "targets",
        ErrorKind::Length,
    );
    let e = expect_err(
        softmax_cross_entropy_forward(
            MatRef::from_row_major(&[0.0_f32; 2], 1, 2).unwrap(),
            Targets::Classes(&[5]),
            &CrossEntropyOptions::default(),
            &mut [0.0],
            None,
        ),
        "softmax_cross_entropy_forward",
        "targets",
        ErrorKind::Label,
    );
    assert!(e.to_string().contains("valid labels 0..=1"), "{e}");
}

#[test]
fn trainer_batch_sizes() {
    let (x, t) = spiral::<f32>(10, 3, 1);
    let x = MatRef::from_row_major(&x, 30, 2).unwrap();
    let sgd = || Sgd::new(1.0);
    expect_err(
        Trainer::new(0, sgd(), Rng::new(0)),
        "Trainer::set_batch",
        "batch",
        ErrorKind::Value,
    );
    // a batch larger than the data set is the whole set, not a capacity overflow
    let mut tr = Trainer::new(usize::MAX, sgd(), Rng::new(0)).unwrap();
    let mut net = TwoLayerNet::<f32>::new(2, 4, 3, &mut Rng::new(1));
    let loss = tr.epoch(&mut net, x, &t).unwrap();
    assert!(loss.is_finite());
    // a bad label in the last batch: an error before the first step, the net unchanged
    let before = net.hidden.params()[0].to_vec();
    let mut bad = t.clone();
    *bad.last_mut().unwrap() = 3;
    let mut small = Trainer::new(4, sgd(), Rng::new(0)).unwrap();
    expect_err(
        small.epoch(&mut net, x, &bad),
        "Trainer::epoch",
        "targets",
        ErrorKind::Label,
    );
    assert_eq!(
        net.hidden.params()[0],
        &before[..],
        "the net was trained before the Err"
    );
    expect_err(tr.set_batch(0), "Trainer::set_batch", "batch", ErrorKind::Value);
    assert_eq!(tr.batch(), usize::MAX);
    expect_err(
        tr.optimizer_mut().set_lr(f32::NAN),
        "Sgd::set_lr",
        "lr",
        ErrorKind::Value,
    );
    assert_eq!(tr.optimizer().lr(), 1.0, "the rate is unchanged");
    expect_err(
        Trainer::new(30, Sgd::new(-1.0_f32), Rng::new(0)),
        "Sgd::step",
        "lr",
        ErrorKind::Value,
    );
    // the labels' count and the model's input width, before any step
    expect_err(
        small.epoch(&mut net, x, &t[1..]),
        "Trainer::epoch",
        "t",
        ErrorKind::Length,
    );
    let x3 = MatRef::from_row_major(&[0.0_f32; 9], 3, 3).unwrap();
    expect_err(
        small.epoch(&mut net, x3, &t[..3]),
        "Trainer::epoch",
        "x",
        ErrorKind::Shape,
    );
    let mut seq = Sequential::new()
        .push(Affine::<f32>::new(vec![0.0; 6], vec![0.0; 3], 2, 3, Activation::Relu).unwrap());
    expect_err(
        small.epoch(&mut seq, x3, &t[..3]),
        "Trainer::epoch",
        "x",
        ErrorKind::Shape,
    );
    expect_err(
        small.epoch(&mut seq, x, &bad),
        "Trainer::epoch",
        "targets",
        ErrorKind::Label,
    );
    assert_eq!(seq.params()[0], &[0.0; 6][..]);
}

// ----- 7. hyper-parameters --------------------------------------------------------------------

#[test]
fn hyper_parameters_out_of_their_domain() {
    let (mut p, g, mut m, mut v) = ([1.0_f32; 2], [0.0_f32; 2], [0.0_f32; 2], [0.0_f32; 2]);
    for lr in [f32::NAN, f32::INFINITY, -0.1] {
        expect_err(sgd_update(&mut p, &g, lr), "sgd_update", "lr", ErrorKind::Value);
        let hp = AdamParams::default().lr(lr);
        expect_err(
            adam_update(&mut p, &g, &mut m, &mut v, 1, &hp),
            "adam_update",
            "lr",
            ErrorKind::Value,
        );
    }
    for beta in [1.0, 1.5, -0.1, f32::NAN] {
        let hp = AdamParams::default().beta1(beta);
        expect_err(
            adam_update(&mut p, &g, &mut m, &mut v, 1, &hp),
            "adam_update",
            "beta1",
            ErrorKind::Value,
        );
        let hp = AdamParams::default().beta2(beta);
        expect_err(
            adam_update(&mut p, &g, &mut m, &mut v, 1, &hp),
            "adam_update",
            "beta2",
            ErrorKind::Value,
        );
    }
    for eps in [0.0, -1e-8, f32::NAN, f32::INFINITY] {
        let hp = AdamParams::default().eps(eps);
        expect_err(
            adam_update(&mut p, &g, &mut m, &mut v, 1, &hp),
            "adam_update",
            "eps",
            ErrorKind::Value,
        );
    }
    assert_eq!((p, m, v), ([1.0; 2], [0.0; 2], [0.0; 2]), "nothing is updated");
    // lr = 0 and β = 0 are in the domain
    let hp = AdamParams::default().lr(0.0).beta1(0.0).beta2(0.0);
    adam_update(&mut p, &g, &mut m, &mut v, 1, &hp).unwrap();
    sgd_update(&mut p, &g, 0.0).unwrap();
    // the layer API checks them before touching any parameter
    let mut net = TwoLayerNet::<f32>::new(2, 4, 3, &mut Rng::new(1));
    let before = net.hidden.params()[0].to_vec();
    let x = MatRef::from_row_major(&[0.1_f32, 0.2], 1, 2).unwrap();
    expect_err(
        net.train_step(x, &[1], &mut Sgd::new(f32::NAN)),
        "Sgd::step",
        "lr",
        ErrorKind::Value,
    );
    assert_eq!(net.hidden.params()[0], &before[..]);
    let mut adam = Adam::new(AdamParams::default().beta2(1.0));
    expect_err(
        adam.step(&mut net.hidden),
        "Adam::step",
        "beta2",
        ErrorKind::Value,
    );
    for bad in [
        Sgd::new(0.1_f32).momentum(-0.5),
        Sgd::new(0.1).momentum(f32::NAN),
        Sgd::new(0.1).weight_decay(f32::INFINITY),
        Sgd::new(0.1).nesterov(true),
    ] {
        let e = bad.check().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Value, "{e}");
        expect_err(
            Sgd::with(*bad.hyper()).step(&mut net),
            "Sgd::step",
            e.arg(),
            ErrorKind::Value,
        );
    }
    let wd = AdamParams::adamw(0.1, 0.0).weight_decay(-1.0);
    expect_err(
        Adam::new(wd).step(&mut net),
        "Adam::step",
        "weight_decay",
        ErrorKind::Value,
    );
    assert_eq!(net.hidden.params()[0], &before[..]);
}

// ----- 8. zero-row batches ---------------------------------------------------------------------

/// A zero-row batch is valid: nothing per row is written, a `Sum` is 0 and a `Mean` is NaN
/// (0/0, as PyTorch's mean over no elements), for every loss.
#[test]
fn zero_row_batches_reduce_as_pytorch() {
    let x = MatRef::from_row_major(&[] as &[f32], 0, 3).unwrap();
    for (red, want) in [(Reduction::Sum, 0.0_f32), (Reduction::Mean, f32::NAN)] {
        let same = |got: f32| got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan());
        let mut loss = [7.0_f32];
        let opts = CrossEntropyOptions::default().reduction(red);
        softmax_cross_entropy_forward(x, Targets::Classes(&[]), &opts, &mut loss, None).unwrap();
        assert!(
            same(loss[0]),
            "softmax_cross_entropy_forward {red:?}: {}",
            loss[0]
        );
        let mut loss = [7.0_f32];
        cross_entropy_forward(x, Targets::Classes(&[]), red, &mut loss).unwrap();
        assert!(same(loss[0]), "cross_entropy_forward {red:?}: {}", loss[0]);
        let mut loss = [7.0_f32];
        let opts = BceOptions::default().reduction(red);
        bce_with_logits_forward(x, x, &opts, &mut loss).unwrap();
        assert!(same(loss[0]), "bce_with_logits_forward {red:?}: {}", loss[0]);
    }
}
