//! Every kind of bad input gets an `Err` naming the operation and the argument — never a panic,
//! and never a write to any output. One test per kind.

#![allow(clippy::needless_range_loop)] // index loops read as the formulas they check

use nnkern::*;

#[track_caller]
fn expect(r: Result<()>, op: &str, arg: &str, kind: ErrorKind, says: &str) {
    let e = r.expect_err("bad input must be rejected");
    assert_eq!((e.op(), e.arg(), e.kind()), (op, arg, kind), "{e}");
    let msg = e.to_string();
    assert!(msg.starts_with(&format!("{op}: {arg} ")), "{msg}");
    assert!(msg.contains(says), "message {msg:?} should contain {says:?}");
}

fn m(v: &[f32], r: usize, c: usize) -> MatRef<'_, f32> {
    MatRef::from_row_major(v, r, c).unwrap()
}

fn mm(v: &mut [f32], r: usize, c: usize) -> MatMut<'_, f32> {
    MatMut::from_row_major(v, r, c).unwrap()
}

#[test]
fn slice_length_wrong_for_view() {
    let d = [0.0_f32; 5];
    expect(
        MatRef::from_row_major(&d, 2, 3).map(|_| ()),
        "MatRef::from_row_major",
        "data",
        ErrorKind::Length,
        "needs exactly 6 elements for a 2×3 view but has 5",
    );
    let d7 = [0.0_f32; 7];
    expect(
        MatRef::from_row_major(&d7, 2, 3).map(|_| ()),
        "MatRef::from_row_major",
        "data",
        ErrorKind::Length,
        "but has 7",
    );
    let mut d = [0.0_f32; 5];
    expect(
        MatMut::from_col_major(&mut d, 3, 2).map(|_| ()),
        "MatMut::from_col_major",
        "data",
        ErrorKind::Length,
        "needs exactly 6",
    );
}

#[test]
fn stride_steps_out_of_slice() {
    let d = [0.0_f32; 10];
    // 3×3 with row stride 4 needs 2·4 + 2 + 1 = 11 elements
    expect(
        MatRef::from_strided(&d, 3, 3, 4, 1).map(|_| ()),
        "MatRef::from_strided",
        "data",
        ErrorKind::Length,
        "needs at least 11 elements",
    );
}

#[test]
fn strides_that_overflow() {
    let d = [0.0_f32; 4];
    expect(
        MatRef::from_strided(&d, 3, 2, usize::MAX / 2, 1).map(|_| ()),
        "MatRef::from_strided",
        "strides",
        ErrorKind::Overflow,
        "overflows",
    );
    expect(
        MatRef::from_strided(&d, 1, 2, 1, usize::MAX).map(|_| ()),
        "MatRef::from_strided",
        "strides",
        ErrorKind::Stride,
        "exceed isize::MAX",
    );
}

#[test]
fn dimensions_whose_product_overflows() {
    let d = [0.0_f32; 4];
    expect(
        MatRef::from_row_major(&d, usize::MAX, 2).map(|_| ()),
        "MatRef::from_row_major",
        "rows",
        ErrorKind::Overflow,
        "overflows usize",
    );
}

#[test]
fn aliasing_output_strides() {
    let mut d = [0.0_f32; 8];
    expect(
        MatMut::from_strided(&mut d, 2, 2, 1, 1).map(|_| ()),
        "MatMut::from_strided",
        "strides",
        ErrorKind::Stride,
        "share memory",
    );
    expect(
        MatMut::from_strided(&mut d, 4, 2, 0, 1).map(|_| ()),
        "MatMut::from_strided",
        "strides",
        ErrorKind::Stride,
        "share memory",
    );
    // the same strides are fine for an input
    assert!(MatRef::from_strided(&d, 4, 2, 0, 1).is_ok());
}

#[test]
fn gemm_shapes_wrong_in_each_dimension() {
    let (a, b) = ([0.0_f32; 6], [0.0_f32; 8]);
    let mut c = [f32::NAN; 8];
    expect(
        gemm(1.0, m(&a, 2, 3), m(&b, 2, 4), 0.0, mm(&mut c, 2, 4)),
        "gemm",
        "b",
        ErrorKind::Shape,
        "has 2 rows but a has 3 columns",
    );
    expect(
        gemm(1.0, m(&a, 3, 2), m(&b, 2, 4), 0.0, mm(&mut c, 2, 4)),
        "gemm",
        "c",
        ErrorKind::Shape,
        "is 2×4 but a·b is 3×4",
    );
    expect(
        gemm(1.0, m(&a, 2, 3), m(&b[..6], 3, 2), 0.0, mm(&mut c[..6], 2, 3)),
        "gemm",
        "c",
        ErrorKind::Shape,
        "is 2×3 but a·b is 2×2",
    );
    assert!(c.iter().all(|v| v.is_nan()), "nothing written");
}

#[test]
fn matmul_and_affine_shapes_wrong_in_each_dimension() {
    let x = [0.0_f32; 784 * 2];
    let w = [0.0_f32; 785 * 3];
    let b = [0.0_f32; 4];
    let mut y = [f32::NAN; 6];
    // the design's own example
    expect(
        affine_forward(
            m(&x, 2, 784),
            m(&w, 785, 3),
            &b[..3],
            Activation::Sigmoid,
            mm(&mut y, 2, 3),
        ),
        "affine_forward",
        "w",
        ErrorKind::Shape,
        "has 785 rows but x has 784 columns",
    );
    let w = &w[..784 * 3];
    expect(
        affine_forward(
            m(&x, 2, 784),
            m(w, 784, 3),
            &b,
            Activation::Identity,
            mm(&mut y, 2, 3),
        ),
        "affine_forward",
        "b",
        ErrorKind::Length,
        "has length 4 but must have 3",
    );
    expect(
        affine_forward(
            m(&x, 2, 784),
            m(w, 784, 3),
            &b[..3],
            Activation::Identity,
            mm(&mut y, 3, 2),
        ),
        "affine_forward",
        "y",
        ErrorKind::Shape,
        "is 3×2 but must be 2×3",
    );
    expect(
        affine_forward(
            m(&x, 2, 784),
            m(w, 784, 3),
            &b[..3],
            Activation::Identity,
            mm(&mut y[..4], 2, 2),
        ),
        "affine_forward",
        "y",
        ErrorKind::Shape,
        "is 2×2 but must be 2×3",
    );
    expect(
        matmul_forward(m(&x, 2, 784), m(w, 784, 3), mm(&mut y, 1, 6)),
        "matmul_forward",
        "y",
        ErrorKind::Shape,
        "is 1×6",
    );
    assert!(y.iter().all(|v| v.is_nan()), "nothing written");
}

#[test]
fn backward_gradient_shapes_wrong() {
    let (x, w, y, dy) = ([0.0_f32; 6], [0.0_f32; 12], [0.0_f32; 8], [0.0_f32; 8]);
    let (mut dx, mut dw, mut db) = ([f32::NAN; 6], [f32::NAN; 12], [f32::NAN; 4]);
    let mut ws = Workspace::new();
    let run = |dxs: (usize, usize),
               dws: (usize, usize),
               dbn: usize,
               dys: (usize, usize),
               dx: &mut [f32],
               dw: &mut [f32],
               db: &mut [f32],
               ws: &mut Workspace<f32>| {
        affine_backward(
            m(&x, 2, 3),
            m(&w, 3, 4),
            m(&y, 2, 4),
            m(&dy[..dys.0 * dys.1], dys.0, dys.1),
            Activation::Tanh,
            AffineGrads {
                dx: Some(mm(&mut dx[..dxs.0 * dxs.1], dxs.0, dxs.1)),
                dw: mm(&mut dw[..dws.0 * dws.1], dws.0, dws.1),
                db: &mut db[..dbn],
            },
            Accum::Replace,
            ws,
        )
    };
    expect(
        run((2, 3), (3, 4), 4, (2, 3), &mut dx, &mut dw, &mut db, &mut ws),
        "affine_backward",
        "dy",
        ErrorKind::Shape,
        "is 2×3 but must be 2×4",
    );
    expect(
        run((3, 2), (3, 4), 4, (2, 4), &mut dx, &mut dw, &mut db, &mut ws),
        "affine_backward",
        "dx",
        ErrorKind::Shape,
        "is 3×2 but must be 2×3",
    );
    expect(
        run((2, 3), (4, 3), 4, (2, 4), &mut dx, &mut dw, &mut db, &mut ws),
        "affine_backward",
        "dw",
        ErrorKind::Shape,
        "is 4×3 but must be 3×4",
    );
    expect(
        run((2, 3), (3, 4), 3, (2, 4), &mut dx, &mut dw, &mut db, &mut ws),
        "affine_backward",
        "db",
        ErrorKind::Length,
        "has length 3 but must have 4",
    );
    assert!(
        dx.iter().chain(&dw).chain(&db).all(|v| v.is_nan()),
        "nothing written"
    );
    let mut dw2 = [0.0_f32; 12];
    expect(
        matmul_backward(
            m(&x, 2, 3),
            m(&w, 3, 4),
            m(&dy[..6], 2, 3),
            None,
            mm(&mut dw2, 3, 4),
            Accum::Add,
        ),
        "matmul_backward",
        "dy",
        ErrorKind::Shape,
        "is 2×3 but must be 2×4",
    );
}

#[test]
fn activation_arguments_out_of_domain() {
    let (x, dy) = ([0.5_f32; 6], [1.0_f32; 6]);
    let w = [0.0_f32; 6];
    let (mut y, mut z, mut dx) = ([f32::NAN; 6], [f32::NAN; 6], [f32::NAN; 6]);
    // a derivative that needs the input, handed the output
    expect(
        activation_backward(Activation::Silu, m(&x, 2, 3), m(&dy, 2, 3), mm(&mut dx, 2, 3)),
        "activation_backward",
        "saved",
        ErrorKind::Value,
        "is the output y, but the derivative of silu needs the input",
    );
    expect(
        activation_backward(
            Activation::LeakyRelu(-0.5),
            Saved::Output(m(&x, 2, 3)),
            m(&dy, 2, 3),
            mm(&mut dx, 2, 3),
        ),
        "activation_backward",
        "saved",
        ErrorKind::Value,
        "the derivative of leaky_relu needs the input",
    );
    let (mut dxa, mut dw, mut db) = ([f32::NAN; 4], [f32::NAN; 6], [f32::NAN; 3]);
    expect(
        affine_backward(
            m(&x[..4], 2, 2),
            m(&w, 2, 3),
            m(&x, 2, 3),
            m(&dy, 2, 3),
            Activation::GeluTanh,
            AffineGrads {
                dx: Some(mm(&mut dxa, 2, 2)),
                dw: mm(&mut dw, 2, 3),
                db: &mut db,
            },
            Accum::Replace,
            &mut Workspace::new(),
        ),
        "affine_backward",
        "saved",
        ErrorKind::Value,
        "needs the input: pass Saved::Input",
    );
    // a LeakyReLU slope that is not finite
    expect(
        activation_forward(Activation::LeakyRelu(f64::NAN), m(&x, 2, 3), mm(&mut y, 2, 3)),
        "activation_forward",
        "act",
        ErrorKind::Value,
        "the slope must be finite",
    );
    expect(
        affine_forward_with_z(
            m(&x[..4], 2, 2),
            m(&w, 2, 3),
            &[0.0; 3],
            Activation::LeakyRelu(f64::INFINITY),
            mm(&mut z, 2, 3),
            mm(&mut y, 2, 3),
        ),
        "affine_forward_with_z",
        "act",
        ErrorKind::Value,
        "the slope must be finite",
    );
    // z of the wrong shape
    expect(
        affine_forward_with_z(
            m(&x[..4], 2, 2),
            m(&w, 2, 3),
            &[0.0; 3],
            Activation::Silu,
            mm(&mut z, 3, 2),
            mm(&mut y, 2, 3),
        ),
        "affine_forward_with_z",
        "z",
        ErrorKind::Shape,
        "is 3×2 but must be 2×3",
    );
    assert!(
        y.iter().chain(&z).chain(&dx).chain(&dxa).all(|v| v.is_nan()),
        "nothing written"
    );
}

#[test]
fn row_kernels_with_zero_columns() {
    let x: [f32; 0] = [];
    let mut y: [f32; 0] = [];
    expect(
        softmax_forward(m(&x, 3, 0), mm(&mut y, 3, 0)),
        "softmax_forward",
        "x",
        ErrorKind::Shape,
        "has 0 columns",
    );
    expect(
        log_softmax_backward(m(&x, 3, 0), m(&x, 3, 0), mm(&mut y, 3, 0)),
        "log_softmax_backward",
        "y",
        ErrorKind::Shape,
        "has 0 columns",
    );
    let mut l = [0.0_f32];
    expect(
        softmax_cross_entropy_forward(
            m(&x, 3, 0),
            Targets::Classes(&[0, 0, 0]),
            &CrossEntropyOptions::default(),
            &mut l,
            None,
        ),
        "softmax_cross_entropy_forward",
        "logits",
        ErrorKind::Shape,
        "has 0 columns",
    );
}

#[test]
fn row_kernel_output_needs_unit_column_stride() {
    let x = [0.0_f32; 6];
    let mut y = [f32::NAN; 6];
    let yt = MatMut::from_col_major(&mut y, 2, 3).unwrap();
    expect(
        softmax_forward(m(&x, 2, 3), yt),
        "softmax_forward",
        "y",
        ErrorKind::Stride,
        "needs column stride 1",
    );
    let yt = MatMut::from_col_major(&mut y, 2, 3).unwrap();
    expect(
        sigmoid_forward(m(&x, 2, 3), yt),
        "sigmoid_forward",
        "y",
        ErrorKind::Stride,
        "column stride 2",
    );
    let yt = MatMut::from_col_major(&mut y, 2, 3).unwrap();
    expect(
        ln_forward(m(&x, 2, 3), yt),
        "ln_forward",
        "y",
        ErrorKind::Stride,
        "column stride 2",
    );
    assert!(y.iter().all(|v| v.is_nan()));
}

#[test]
fn elementwise_shape_mismatch() {
    let x = [0.0_f32; 6];
    let mut y = [0.0_f32; 6];
    expect(
        tanh_forward(m(&x, 2, 3), mm(&mut y, 3, 2)),
        "tanh_forward",
        "y",
        ErrorKind::Shape,
        "is 3×2 but must be 2×3",
    );
    expect(
        ln_1p_forward(m(&x, 2, 3), mm(&mut y, 3, 2)),
        "ln_1p_forward",
        "y",
        ErrorKind::Shape,
        "is 3×2 but must be 2×3",
    );
    expect(
        relu_backward(m(&x, 2, 3), m(&x, 3, 2), mm(&mut y, 2, 3)),
        "relu_backward",
        "dy",
        ErrorKind::Shape,
        "is 3×2",
    );
    expect(
        softmax_backward(m(&x, 2, 3), m(&x, 2, 3), mm(&mut y, 6, 1)),
        "softmax_backward",
        "dx",
        ErrorKind::Shape,
        "is 6×1",
    );
}

#[test]
fn labels_out_of_range() {
    let x = [0.0_f32; 6];
    let mut l = [0.0_f32];
    let opts = CrossEntropyOptions::default();
    expect(
        softmax_cross_entropy_forward(m(&x, 2, 3), Targets::Classes(&[0, 3]), &opts, &mut l, None),
        "softmax_cross_entropy_forward",
        "targets",
        ErrorKind::Label,
        "[1] is 3 but there are 3 classes (valid labels 0..=2)",
    );
    expect(
        cross_entropy_forward(m(&x, 2, 3), Targets::Classes(&[7, 0]), Reduction::Mean, &mut l),
        "cross_entropy_forward",
        "targets",
        ErrorKind::Label,
        "[0] is 7",
    );
    // a label equal to ignore_index may lie outside 0..C
    let ign = CrossEntropyOptions::default().ignore_index(Some(100));
    assert!(
        softmax_cross_entropy_forward(m(&x, 2, 3), Targets::Classes(&[0, 100]), &ign, &mut l, None).is_ok()
    );
}

#[test]
fn targets_of_the_wrong_size() {
    let x = [0.0_f32; 6];
    let mut l = [0.0_f32];
    let opts = CrossEntropyOptions::default();
    expect(
        softmax_cross_entropy_forward(m(&x, 2, 3), Targets::Classes(&[0]), &opts, &mut l, None),
        "softmax_cross_entropy_forward",
        "targets",
        ErrorKind::Length,
        "has length 1 but must have 2",
    );
    let q = [0.0_f32; 6];
    expect(
        softmax_cross_entropy_forward(m(&x, 2, 3), Targets::Probs(m(&q, 3, 2)), &opts, &mut l, None),
        "softmax_cross_entropy_forward",
        "targets",
        ErrorKind::Shape,
        "is 3×2 but must be 2×3",
    );
}

#[test]
fn loss_and_gradient_buffers_of_the_wrong_length() {
    let x = [0.0_f32; 6];
    let mut l = [0.0_f32; 2];
    let none = CrossEntropyOptions::default().reduction(Reduction::None);
    expect(
        softmax_cross_entropy_forward(
            m(&x, 2, 3),
            Targets::Classes(&[0, 1]),
            &CrossEntropyOptions::default(),
            &mut l,
            None,
        ),
        "softmax_cross_entropy_forward",
        "loss",
        ErrorKind::Length,
        "has length 2 but must have 1",
    );
    expect(
        softmax_cross_entropy_forward(m(&x, 2, 3), Targets::Classes(&[0, 1]), &none, &mut l[..1], None),
        "softmax_cross_entropy_forward",
        "loss",
        ErrorKind::Length,
        "must have 2 (one per row",
    );
    let mut lse = [0.0_f32; 3];
    expect(
        softmax_cross_entropy_forward(
            m(&x, 2, 3),
            Targets::Classes(&[0, 1]),
            &none,
            &mut l,
            Some(&mut lse),
        ),
        "softmax_cross_entropy_forward",
        "lse",
        ErrorKind::Length,
        "has length 3",
    );
    let mut d = [0.0_f32; 6];
    expect(
        softmax_cross_entropy_backward(
            m(&x, 2, 3),
            &lse[..2],
            Targets::Classes(&[0, 1]),
            &none,
            &[1.0],
            mm(&mut d, 2, 3),
        ),
        "softmax_cross_entropy_backward",
        "dloss",
        ErrorKind::Length,
        "has length 1 but must have 2",
    );
    expect(
        softmax_cross_entropy(
            m(&x, 2, 3),
            Targets::Classes(&[0, 1]),
            &none,
            &[1.0, 1.0],
            &mut l,
            mm(&mut d, 3, 2),
        ),
        "softmax_cross_entropy",
        "dlogits",
        ErrorKind::Shape,
        "is 3×2 but must be 2×3",
    );
    expect(
        cross_entropy_backward(
            m(&x, 2, 3),
            Targets::Classes(&[0, 1]),
            Reduction::Sum,
            &[],
            mm(&mut d, 2, 3),
        ),
        "cross_entropy_backward",
        "dloss",
        ErrorKind::Length,
        "has length 0",
    );
}

#[test]
fn loss_options_out_of_domain() {
    let x = [0.0_f32; 6];
    let mut l = [0.0_f32];
    let run = |opts: &CrossEntropyOptions<'_, f32>, t: Targets<'_, f32>, l: &mut [f32]| {
        softmax_cross_entropy_forward(m(&x, 2, 3), t, opts, l, None)
    };
    let op = "softmax_cross_entropy_forward";
    for eps in [-0.1_f32, 1.5, f32::NAN] {
        let o = CrossEntropyOptions::default().label_smoothing(eps);
        expect(
            run(&o, Targets::Classes(&[0, 1]), &mut l),
            op,
            "label_smoothing",
            ErrorKind::Value,
            "must lie in [0, 1]",
        );
    }
    let w = [1.0_f32, -1.0, 1.0];
    let o = CrossEntropyOptions::default().weight(Some(&w));
    expect(
        run(&o, Targets::Classes(&[0, 1]), &mut l),
        op,
        "weight",
        ErrorKind::Value,
        "[1] is -1 but class weights must be finite and ≥ 0",
    );
    let w = [1.0_f32, f32::NAN, 1.0];
    let o = CrossEntropyOptions::default().weight(Some(&w));
    expect(
        run(&o, Targets::Classes(&[0, 1]), &mut l),
        op,
        "weight",
        ErrorKind::Value,
        "[1] is NaN",
    );
    let w = [1.0_f32; 2];
    let o = CrossEntropyOptions::default().weight(Some(&w));
    expect(
        run(&o, Targets::Classes(&[0, 1]), &mut l),
        op,
        "weight",
        ErrorKind::Length,
        "has length 2 but must have 3",
    );
    let q = [0.0_f32; 6];
    let o = CrossEntropyOptions::default().ignore_index(Some(0));
    expect(
        run(&o, Targets::Probs(m(&q, 2, 3)), &mut l),
        op,
        "ignore_index",
        ErrorKind::Value,
        "class-index targets only",
    );
}

#[test]
fn binary_cross_entropy_arguments_of_the_wrong_size() {
    let x = [0.0_f32; 6];
    let t5 = [0.0_f32; 6];
    let opts = BceOptions::default();
    let mut loss = [f32::NAN];
    expect(
        bce_with_logits_forward(m(&x, 2, 3), m(&t5, 3, 2), &opts, &mut loss),
        "bce_with_logits_forward",
        "targets",
        ErrorKind::Shape,
        "is 3×2 but must be 2×3",
    );
    let w = [1.0_f32; 3];
    let bad_w = BceOptions::default().weight(Some(m(&w, 1, 3)));
    expect(
        bce_with_logits_forward(m(&x, 2, 3), m(&t5, 2, 3), &bad_w, &mut loss),
        "bce_with_logits_forward",
        "weight",
        ErrorKind::Shape,
        "is 1×3 but must be 2×3",
    );
    let bad_p = BceOptions::default().pos_weight(Some(&[1.0, 2.0]));
    expect(
        bce_with_logits_forward(m(&x, 2, 3), m(&t5, 2, 3), &bad_p, &mut loss),
        "bce_with_logits_forward",
        "pos_weight",
        ErrorKind::Length,
        "has length 2 but must have 3",
    );
    let none = BceOptions::default().reduction(Reduction::None);
    expect(
        bce_with_logits_forward(m(&x, 2, 3), m(&t5, 2, 3), &none, &mut loss),
        "bce_with_logits_forward",
        "loss",
        ErrorKind::Length,
        "has length 1 but must have 6",
    );
    let mut g = [f32::NAN; 6];
    expect(
        bce_with_logits_backward(m(&x, 2, 3), m(&t5, 2, 3), &opts, &[1.0, 1.0], mm(&mut g, 2, 3)),
        "bce_with_logits_backward",
        "dloss",
        ErrorKind::Length,
        "has length 2 but must have 1",
    );
    expect(
        bce_with_logits(
            m(&x, 2, 3),
            m(&t5, 2, 3),
            &opts,
            &[1.0],
            &mut loss,
            MatMut::from_col_major(&mut g, 2, 3).unwrap(),
        ),
        "bce_with_logits",
        "dlogits",
        ErrorKind::Stride,
        "needs column stride 1",
    );
    assert!(
        loss[0].is_nan() && g.iter().all(|v| v.is_nan()),
        "no output written"
    );
}

#[test]
fn optimizer_arguments() {
    let mut p = [1.0_f32; 4];
    expect(
        sgd_update(&mut p, &[0.5; 3], 0.1),
        "sgd_update",
        "grads",
        ErrorKind::Length,
        "has length 3 but must have 4 (params.len)",
    );
    let (mut m, mut v) = ([0.0_f32; 4], [0.0_f32; 4]);
    expect(
        adam_update(&mut p, &[0.5; 4], &mut m, &mut v, 0, &AdamParams::default()),
        "adam_update",
        "step",
        ErrorKind::Value,
        "is 0 but steps count from 1",
    );
    assert_eq!(p, [1.0; 4], "nothing written");
}

/// Every test the crate docs' table of bad inputs (`docs/bad_inputs.md`) names exists, in
/// the file it names (`tests/suite/bad_inputs.rs` unless a row says otherwise).
#[test]
fn the_table_of_bad_inputs_names_tests_that_exist() {
    let table = include_str!("../../docs/bad_inputs.md");
    let rows: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| bad input"))
        .collect();
    assert!(rows.len() >= 20, "the table has {} rows", rows.len());
    let mut named = 0;
    for row in rows {
        let cell = row
            .trim_end()
            .trim_end_matches('|')
            .rsplit('|')
            .next()
            .unwrap()
            .trim();
        // `file.rs`: `test`, `test`; … or just `test`, `test`
        for part in cell.split(';') {
            let (file, tests) = match part.split_once("`: ") {
                Some((file, tests)) => (file.trim().trim_matches('`').to_string(), tests),
                None => ("bad_inputs.rs".to_string(), part),
            };
            // compiled in (no file access at run time: the test runs under Miri too)
            let source = match file.as_str() {
                "bad_inputs.rs" => include_str!("bad_inputs.rs"),
                "hostile.rs" => include_str!("hostile.rs"),
                "compose.rs" => include_str!("compose.rs"),
                "interop.rs" => include_str!("../interop.rs"),
                other => panic!("docs/bad_inputs.md names tests/{other}: add it to this list"),
            };
            for name in tests
                .split(',')
                .map(|t| t.trim().trim_matches('`'))
                .filter(|t| !t.is_empty())
            {
                assert!(
                    source.contains(&format!("fn {name}(")),
                    "docs/bad_inputs.md names {name}, which {file} does not define"
                );
                named += 1;
            }
        }
    }
    assert!(named >= 25, "{named} tests named");
}
