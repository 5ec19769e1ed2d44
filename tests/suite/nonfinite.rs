//! The non-finite table of the design: ±0, ±∞, NaN, logits ±88, ±1e4 and ±3e38, a row with one
//! −∞, an all −∞ row, a −∞ logit at the label. Expectations are PyTorch's semantics (and the
//! documented differences: 0·log 0 = 0, ignored rows get exactly zero gradient).

#![allow(clippy::needless_range_loop)] // index loops read as the formulas they check

use nnkern::*;

fn row<T: Float>(v: &[f64]) -> Vec<T> {
    v.iter().map(|&x| T::from_f64(x)).collect()
}

fn apply<T: Float>(f: fn(MatRef<'_, T>, MatMut<'_, T>) -> Result<()>, x: &[T]) -> Vec<T> {
    let mut y = vec![T::from_f64(12345.0); x.len()];
    f(
        MatRef::from_row_major(x, 1, x.len()).unwrap(),
        MatMut::from_row_major(&mut y, 1, x.len()).unwrap(),
    )
    .unwrap();
    y
}

fn elementwise<T: Float>() {
    let inf = f64::INFINITY;
    let x = row::<T>(&[
        0.0,
        -0.0,
        inf,
        -inf,
        f64::NAN,
        88.0,
        -88.0,
        1e4,
        -1e4,
        3e38,
        -3e38,
    ]);
    let s = apply(sigmoid_forward, &x);
    assert_eq!(s[0], T::HALF);
    assert_eq!(s[1], T::HALF);
    assert_eq!(s[2], T::ONE);
    assert_eq!(s[3], T::ZERO);
    assert!(s[4].is_nan());
    assert_eq!(s[5], T::ONE); // 1 − e^(−88) rounds to 1 in both types
    let e88 = (-88.0_f64).exp(); // ~6.1e-39: subnormal in f32, must not flush to 0
    assert!(
        s[6] > T::ZERO && (s[6].to_f64() - e88).abs() <= e88 * 1e-6 + 1.5e-45,
        "sigmoid(−88) = {}",
        s[6]
    );
    assert_eq!((s[7], s[8], s[9], s[10]), (T::ONE, T::ZERO, T::ONE, T::ZERO));
    assert!(s.iter().all(|v| v.is_nan() || (*v >= T::ZERO && *v <= T::ONE)));

    let t = apply(tanh_forward, &x);
    assert_eq!(t[0].to_f64().to_bits(), 0.0_f64.to_bits());
    assert_eq!(t[1].to_f64().to_bits(), (-0.0_f64).to_bits());
    assert_eq!((t[2], t[3]), (T::ONE, -T::ONE));
    assert!(t[4].is_nan());
    assert_eq!((t[9], t[10]), (T::ONE, -T::ONE));

    let r = apply(relu_forward, &x);
    assert_eq!((r[0], r[1], r[2], r[3]), (T::ZERO, T::ZERO, T::INFINITY, T::ZERO));
    assert!(r[4].is_nan());
    assert_eq!((r[9], r[10]), (T::from_f64(3e38), T::ZERO));

    // backward: NaN y propagates for sigmoid/tanh; ReLU's select passes dy where y is NaN
    // and gives 0 where y ≤ 0 even for a NaN dy (PyTorch's threshold_backward).
    let y = row::<T>(&[f64::NAN, 0.0, 1.0]);
    let dy = row::<T>(&[1.0, f64::NAN, 2.0]);
    let mut dx = vec![T::ZERO; 3];
    fn v<T: Float>(s: &[T]) -> MatRef<'_, T> {
        MatRef::from_row_major(s, 1, 3).unwrap()
    }
    sigmoid_backward(v(&y), v(&dy), MatMut::from_row_major(&mut dx, 1, 3).unwrap()).unwrap();
    assert!(dx[0].is_nan() && dx[1].is_nan() && dx[2] == T::ZERO);
    relu_backward(v(&y), v(&dy), MatMut::from_row_major(&mut dx, 1, 3).unwrap()).unwrap();
    assert!(dx[0] == T::ONE && dx[1] == T::ZERO && dx[2] == T::from_f64(2.0));
}
both_types!(elementwise_special_values, elementwise);

/// The activations whose gate is σ (SiLU, the tanh GELU) and LeakyReLU at the special values,
/// forward and backward from the input: the limits at ±∞ (where PyTorch's formulas give NaN
/// from ∞·0, documented in `Activation`), NaN kept, ±0 kept with their signs.
fn gated<T: Float>() {
    let inf = f64::INFINITY;
    let x = row::<T>(&[0.0, -0.0, inf, -inf, f64::NAN, 3e38, -3e38, -1e4, 1e4]);
    let fwd = |act: Activation| {
        let mut y = vec![T::from_f64(12345.0); x.len()];
        activation_forward(
            act,
            MatRef::from_row_major(&x, 1, x.len()).unwrap(),
            MatMut::from_row_major(&mut y, 1, x.len()).unwrap(),
        )
        .unwrap();
        y
    };
    let bwd = |act: Activation| {
        let dy = vec![T::ONE; x.len()];
        let mut dx = vec![T::from_f64(12345.0); x.len()];
        activation_backward(
            act,
            Saved::Input(MatRef::from_row_major(&x, 1, x.len()).unwrap()),
            MatRef::from_row_major(&dy, 1, x.len()).unwrap(),
            MatMut::from_row_major(&mut dx, 1, x.len()).unwrap(),
        )
        .unwrap();
        dx
    };
    let bits = |v: T| v.to_f64().to_bits();
    for act in [Activation::Silu, Activation::Gelu, Activation::GeluTanh] {
        let y = fwd(act);
        assert_eq!(bits(y[0]), 0.0_f64.to_bits(), "{act:?}(0)");
        assert_eq!(bits(y[1]), (-0.0_f64).to_bits(), "{act:?}(−0)");
        assert_eq!(y[2], T::INFINITY, "{act:?}(+∞)");
        assert_eq!(bits(y[3]), (-0.0_f64).to_bits(), "{act:?}(−∞) = −0");
        assert!(y[4].is_nan(), "{act:?}(NaN)");
        assert_eq!(y[5], T::from_f64(3e38), "{act:?}(3e38)");
        assert_eq!(bits(y[6]), (-0.0_f64).to_bits(), "{act:?}(−3e38)");
        assert_eq!(bits(y[7]), (-0.0_f64).to_bits(), "{act:?}(−1e4)");
        assert_eq!(y[8], T::from_f64(1e4), "{act:?}(1e4)");
        let g = bwd(act);
        assert_eq!((g[0], g[1]), (T::HALF, T::HALF), "{act:?}′(±0)");
        assert_eq!((g[2], g[3]), (T::ONE, T::ZERO), "{act:?}′(±∞)");
        assert!(g[4].is_nan(), "{act:?}′(NaN)");
        assert_eq!(
            (g[5], g[6], g[7], g[8]),
            (T::ONE, T::ZERO, T::ZERO, T::ONE),
            "{act:?}′ far out"
        );
    }
    let act = Activation::LeakyRelu(0.01);
    let y = fwd(act);
    assert_eq!(bits(y[0]), 0.0_f64.to_bits());
    assert_eq!(bits(y[1]), (-0.0_f64).to_bits(), "leaky_relu(−0) = −0·slope");
    assert_eq!((y[2], y[3]), (T::INFINITY, -T::INFINITY));
    assert!(y[4].is_nan());
    assert_eq!(y[6], T::from_f64(-3e38) * T::from_f64(0.01));
    let g = bwd(act);
    let s = T::from_f64(0.01);
    // PyTorch's leaky_relu_backward: x > 0 ? dy : dy·slope (so NaN x takes the slope)
    assert_eq!((g[0], g[1], g[2], g[3], g[4]), (s, s, T::ONE, s, s));
}
both_types!(gated_activation_special_values, gated);

fn softmax_rows<T: Float>() {
    let inf = f64::INFINITY;
    let p = apply(softmax_forward, &row::<T>(&[1.0, -inf, 2.0]));
    assert_eq!(p[1], T::ZERO, "a −∞ logit has probability exactly 0");
    assert!((p[0] + p[2] - T::ONE).abs() <= T::EPSILON);
    for bad in [
        &[-inf, -inf, -inf][..],
        &[1.0, inf, 2.0],
        &[1.0, f64::NAN, 2.0],
        &[inf, inf, 0.0],
    ] {
        assert!(
            apply(softmax_forward, &row::<T>(bad)).iter().all(|v| v.is_nan()),
            "softmax {bad:?}"
        );
        assert!(
            apply(log_softmax_forward, &row::<T>(bad))
                .iter()
                .all(|v| v.is_nan()),
            "log_softmax {bad:?}"
        );
    }
    // huge logits: no overflow
    assert_eq!(
        apply(softmax_forward, &row::<T>(&[1e4, -1e4, 0.0])),
        row::<T>(&[1.0, 0.0, 0.0])
    );
    assert_eq!(
        apply(softmax_forward, &row::<T>(&[3e38, -3e38])),
        row::<T>(&[1.0, 0.0])
    );
    assert_eq!(
        apply(softmax_forward, &row::<T>(&[3e38, 3e38])),
        row::<T>(&[0.5, 0.5])
    );
    assert_eq!(
        apply(softmax_forward, &row::<T>(&[88.0, 89.0, 89.0]))
            .iter()
            .filter(|v| v.is_finite())
            .count(),
        3
    );
    let lp = apply(log_softmax_forward, &row::<T>(&[0.0, -inf]));
    assert_eq!(lp, row::<T>(&[0.0, -inf]));
    let lp = apply(log_softmax_forward, &row::<T>(&[3e38, -3e38]));
    assert_eq!(lp[0], T::ZERO);
    assert_eq!(lp[1], T::from_f64(-6e38)); // −∞ in f32, −6e38 in f64: exact either way

    // fully masked rows: NaN by default, zeros on request; NaN never becomes zeros.
    let opts = SoftmaxOptions::default().masked_rows(MaskedRows::Zero);
    let zero = |x: &[T]| {
        let mut y = vec![T::ONE; x.len()];
        softmax_forward_with(
            MatRef::from_row_major(x, 1, x.len()).unwrap(),
            MatMut::from_row_major(&mut y, 1, x.len()).unwrap(),
            &opts,
        )
        .unwrap();
        y
    };
    assert_eq!(zero(&row::<T>(&[-inf, -inf])), row::<T>(&[0.0, 0.0]));
    assert!(zero(&row::<T>(&[f64::NAN, -inf])).iter().all(|v| v.is_nan()));
}
both_types!(softmax_special_rows, softmax_rows);

/// Runs the fused loss on one row set; returns (loss, dlogits).
fn sce<T: Float>(
    x: &[f64],
    c: usize,
    t: Targets<'_, T>,
    opts: &CrossEntropyOptions<'_, T>,
) -> (Vec<T>, Vec<T>) {
    let n = x.len() / c;
    let xs = row::<T>(x);
    let len = if opts.reduction == Reduction::None { n } else { 1 };
    let mut loss = vec![T::from_f64(777.0); len];
    let mut d = vec![T::from_f64(777.0); n * c];
    let dl = vec![T::ONE; len];
    softmax_cross_entropy(
        MatRef::from_row_major(&xs, n, c).unwrap(),
        t,
        opts,
        &dl,
        &mut loss,
        MatMut::from_row_major(&mut d, n, c).unwrap(),
    )
    .unwrap();
    // the split forward agrees on the loss
    let mut l2 = vec![T::ZERO; len];
    softmax_cross_entropy_forward(MatRef::from_row_major(&xs, n, c).unwrap(), t, opts, &mut l2, None)
        .unwrap();
    for (a, b) in loss.iter().zip(&l2) {
        assert!(a.to_f64().to_bits() == b.to_f64().to_bits() || (a.is_nan() && b.is_nan()));
    }
    (loss, d)
}

fn losses<T: Float>() {
    let inf = f64::INFINITY;
    let none = CrossEntropyOptions::default().reduction(Reduction::None);
    let mean = CrossEntropyOptions::<T>::default();

    // −∞ logit at the label: +∞ loss, finite gradient p − onehot
    let (l, d) = sce::<T>(&[0.0, -inf], 2, Targets::Classes(&[1]), &mean);
    assert_eq!(l[0], T::INFINITY);
    assert_eq!(d, row::<T>(&[1.0, -1.0]));
    // one −∞ elsewhere: finite, and its gradient exactly 0
    let (l, d) = sce::<T>(&[0.0, -inf, 0.0], 3, Targets::Classes(&[0]), &mean);
    assert!((l[0].to_f64() - 2f64.ln()).abs() < 1e-6);
    assert_eq!(d[1], T::ZERO);
    // all −∞, +∞ or NaN in the row: NaN loss and gradient
    for bad in [&[-inf, -inf][..], &[inf, 0.0], &[f64::NAN, 0.0]] {
        let (l, d) = sce::<T>(bad, 2, Targets::Classes(&[1]), &none);
        assert!(l[0].is_nan() && d.iter().all(|v| v.is_nan()), "{bad:?}");
    }
    // ±3e38: the loss overflows f32 to +∞, never NaN; the gradient stays exact
    let (l, d) = sce::<T>(&[3e38, -3e38], 2, Targets::Classes(&[1]), &mean);
    assert_eq!(l[0], T::from_f64(6e38));
    assert_eq!(d, row::<T>(&[1.0, -1.0]));
    let (l, _) = sce::<T>(&[1e4, -1e4, 0.0], 3, Targets::Classes(&[0]), &mean);
    assert_eq!(l[0], T::ZERO, "a confident correct row has loss exactly 0 here");
    // a tiny loss keeps its relative precision: l = ln(1 + e^(−20))
    let (l, _) = sce::<T>(&[20.0, 0.0], 2, Targets::Classes(&[0]), &mean);
    let want = (-20.0_f64).exp().ln_1p();
    assert!(
        (l[0].to_f64() - want).abs() <= want * 4.0 * T::EPSILON.to_f64(),
        "{} vs {want}",
        l[0]
    );

    // probability targets: a −∞ logit with target 0 contributes 0 (PyTorch: NaN from 0·∞), on
    // a short row (the lane-per-row engine) and a long one (the row engine, which gathers the
    // loss in the exponentials' pass)
    fn probs<T: Float>(q: &[T]) -> Targets<'_, T> {
        Targets::Probs(MatRef::from_row_major(q, 1, q.len()).unwrap())
    }
    for (c, path) in [2, 100].into_iter().flat_map(|c| SimdPath::ALL.map(|p| (c, p))) {
        if !path.is_supported() {
            continue;
        }
        let sce = |x: &[f64], c, t, o| nnkern::with_simd_path(path, || sce::<T>(x, c, t, o)).unwrap();
        let mut x = vec![-inf; c];
        x[0] = 0.0;
        let mut q = vec![0.0; c];
        q[0] = 1.0;
        let qt = row::<T>(&q);
        let (l, d) = sce(&x, c, probs(&qt), &mean);
        assert_eq!(l[0], T::ZERO, "{c} classes, {path}");
        assert_eq!(d, vec![T::ZERO; c], "{c} classes, {path}");
        // … and with target > 0 it is +∞
        let qt = row::<T>(&vec![1.0 / c as f64; c]);
        let (l, _) = sce(&x, c, probs(&qt), &mean);
        assert_eq!(l[0], T::INFINITY, "{c} classes, {path}");
        // a NaN target: NaN loss and gradient
        q[c - 1] = f64::NAN;
        let qt = row::<T>(&q);
        let (l, d) = sce(&vec![0.0; c], c, probs(&qt), &mean);
        assert!(
            l[0].is_nan() && d.iter().all(|v| v.is_nan()),
            "{c} classes, {path}"
        );
    }

    // ignored rows: 0 loss, exactly 0 gradient even with NaN logits; all ignored: Mean is NaN
    let ign = |red| {
        CrossEntropyOptions::default()
            .reduction(red)
            .ignore_index(Some(9))
    };
    let (l, d) = sce::<T>(
        &[f64::NAN, 1.0, 0.0, 1.0],
        2,
        Targets::Classes(&[9, 0]),
        &ign(Reduction::None),
    );
    assert_eq!(l[0], T::ZERO);
    assert!(l[1].is_finite());
    assert_eq!(&d[..2], &row::<T>(&[0.0, 0.0])[..]);
    let (l, d) = sce::<T>(
        &[0.0, 1.0, 0.0, 1.0],
        2,
        Targets::Classes(&[9, 9]),
        &ign(Reduction::Mean),
    );
    assert!(l[0].is_nan(), "PyTorch: mean over zero counted rows is NaN");
    assert!(d.iter().all(|v| *v == T::ZERO));
    let (l, _) = sce::<T>(
        &[0.0, 1.0, 0.0, 1.0],
        2,
        Targets::Classes(&[9, 9]),
        &ign(Reduction::Sum),
    );
    assert_eq!(l[0], T::ZERO);

    // plain cross-entropy on probabilities: p = 0 at the label → +∞ loss, −∞ gradient;
    // p = 0 where the target is 0 contributes exactly 0.
    let p = row::<T>(&[0.0, 1.0]);
    let mut l = [T::ZERO];
    cross_entropy_forward(
        MatRef::from_row_major(&p, 1, 2).unwrap(),
        Targets::Classes(&[0]),
        Reduction::Mean,
        &mut l,
    )
    .unwrap();
    assert_eq!(l[0], T::INFINITY);
    cross_entropy_forward(
        MatRef::from_row_major(&p, 1, 2).unwrap(),
        Targets::Classes(&[1]),
        Reduction::Mean,
        &mut l,
    )
    .unwrap();
    assert_eq!(l[0], T::ZERO);
    let mut d = [T::ZERO; 2];
    cross_entropy_backward(
        MatRef::from_row_major(&p, 1, 2).unwrap(),
        Targets::Classes(&[0]),
        Reduction::Mean,
        &[T::ONE],
        MatMut::from_row_major(&mut d, 1, 2).unwrap(),
    )
    .unwrap();
    assert_eq!(d, [T::NEG_INFINITY, T::ZERO]);
}
both_types!(loss_special_values, losses);

/// A `Mean` whose denominator is 0 while the label smoothing's term is not: every counted row's
/// label has weight 0 (rows labelled 1 ignored, class 0 weighted 0). PyTorch 2.x
/// (`F.cross_entropy(x, t, weight=[0, 1.3], ignore_index=1, label_smoothing=0.58)`) gives a
/// NaN loss (its class term is 0/0), NaN gradients on the counted rows and 0 on the ignored
/// ones; the smoothing term's sum alone would give +∞ and ±∞ gradients.
fn zero_denominator<T: Float>() {
    let x = [0.3, -1.2, 2.0, 0.5, -0.7, 0.1, 1.5, 1.5, -3.0, 4.0];
    let labels = [1, 0, 0, 1, 0];
    let w = [T::ZERO, T::from_f64(1.3)];
    let opts = CrossEntropyOptions::default()
        .weight(Some(&w))
        .ignore_index(Some(1))
        .label_smoothing(T::from_f64(0.58));
    let (l, d) = sce::<T>(&x, 2, Targets::Classes(&labels), &opts);
    assert!(l[0].is_nan(), "loss {:?}", l[0].to_f64());
    for (i, &label) in labels.iter().enumerate() {
        for v in &d[2 * i..2 * i + 2] {
            if label == 1 {
                assert_eq!(v.to_f64().to_bits(), 0f64.to_bits(), "ignored row {i}");
            } else {
                assert!(v.is_nan(), "counted row {i}: {:?}", v.to_f64());
            }
        }
    }
    // the split backward from the forward's log-sum-exp agrees
    let xs = row::<T>(&x);
    let xv = MatRef::from_row_major(&xs, 5, 2).unwrap();
    let t = Targets::Classes(&labels);
    let (mut loss, mut lse, mut d2) = ([T::ZERO], vec![T::ZERO; 5], vec![T::ZERO; 10]);
    softmax_cross_entropy_forward(xv, t, &opts, &mut loss, Some(&mut lse)).unwrap();
    softmax_cross_entropy_backward(
        xv,
        &lse,
        t,
        &opts,
        &[T::ONE],
        MatMut::from_row_major(&mut d2, 5, 2).unwrap(),
    )
    .unwrap();
    assert!(loss[0].is_nan());
    let bits = |v: &[T]| v.iter().map(|e| e.to_f64().to_bits()).collect::<Vec<_>>();
    let nan_or_bits = |v: &[T]| {
        v.iter()
            .map(|e| {
                if e.is_nan() {
                    None
                } else {
                    Some(e.to_f64().to_bits())
                }
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        nan_or_bits(&d2),
        nan_or_bits(&d),
        "split backward: {:?}",
        bits(&d2)
    );
}
both_types!(mean_over_zero_weight_is_nan_as_in_pytorch, zero_denominator);

/// The logarithm runs a block of inputs through a shorter body when every input in it is a
/// positive normal number, else the whole block through the full one: one special input must
/// leave every other element's bits as they were, and get its own special result. Checked on
/// `ln_forward` and on the cross-entropy on probabilities (a special p at a zero target adds
/// exactly 0 to its row, so the row's loss must keep its bits).
fn guarded_blocks<T: Float>() {
    let mut rng = crate::common::Rng::new(0x6c6e);
    // magnitudes from 1e-30 to 1e30: every exponent the fast body meets in practice
    let x: Vec<T> = (0..1000)
        .map(|_| T::from_f64(10f64.powf(rng.range(-30.0, 30.0))))
        .collect();
    let clean = apply(ln_forward, &x);
    let sub = T::MIN_POSITIVE.to_f64() / 4.0;
    let specials = [0.0, -0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, sub];
    for (at, s) in [5, 300, 999].into_iter().flat_map(|at| specials.map(|s| (at, s))) {
        let mut xs = x.clone();
        xs[at] = T::from_f64(s);
        let y = apply(ln_forward, &xs);
        for i in (0..x.len()).filter(|&i| i != at) {
            assert_eq!(
                y[i].to_f64().to_bits(),
                clean[i].to_f64().to_bits(),
                "ln of {} beside {s} at {at}",
                x[i]
            );
        }
        let want = if s == 0.0 { f64::NEG_INFINITY } else { s.ln() };
        crate::common::tol::assert_within::<T>(y[at].to_f64(), want, 2.0, want.abs(), &|| format!("ln {s}"));
    }

    // rows of 300 probabilities (two blocks), every third target 0
    let (n, c) = (2, 300);
    let p: Vec<T> = (0..n * c).map(|_| T::from_f64(rng.range(1e-4, 1.0))).collect();
    let q: Vec<T> = (0..n * c)
        .map(|j| {
            if j % 3 == 0 {
                T::ZERO
            } else {
                T::from_f64(rng.range(0.0, 1.0))
            }
        })
        .collect();
    let ce = |p: &[T]| {
        let mut l = vec![T::ZERO; n];
        cross_entropy_forward(
            MatRef::from_row_major(p, n, c).unwrap(),
            Targets::Probs(MatRef::from_row_major(&q, n, c).unwrap()),
            Reduction::None,
            &mut l,
        )
        .unwrap();
        l
    };
    let clean = ce(&p);
    for (at, s) in [3, 258, c + 297]
        .into_iter()
        .flat_map(|at| specials.map(|s| (at, s)))
    {
        let mut ps = p.clone();
        ps[at] = T::from_f64(s);
        let l = ce(&ps);
        let bits = |v: &[T]| v.iter().map(|x| x.to_f64().to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&l), bits(&clean), "p = {s} at a zero target, element {at}");
    }
}
both_types!(guarded_logarithm_blocks, guarded_blocks);

#[test]
fn zero_row_batches_are_noops() {
    let x: [f32; 0] = [];
    let mut y: [f32; 0] = [];
    softmax_forward(
        MatRef::from_row_major(&x, 0, 5).unwrap(),
        MatMut::from_row_major(&mut y, 0, 5).unwrap(),
    )
    .unwrap();
    let mut loss = [7.0_f32];
    softmax_cross_entropy_forward(
        MatRef::from_row_major(&x, 0, 5).unwrap(),
        Targets::Classes(&[]),
        &CrossEntropyOptions::default().reduction(Reduction::Sum),
        &mut loss,
        None,
    )
    .unwrap();
    assert_eq!(loss[0], 0.0);
}
