//! Elementwise activations and row-wise softmax / log-softmax against the f64 reference over
//! the shape sweep, strided and transposed inputs, NaN-filled outputs.

#![allow(clippy::needless_range_loop)] // index loops read as the formulas they check

use crate::common;

use common::checks::{self, OUT_LAYOUTS};
use common::tol::{self, assert_within};
use common::{LAYOUTS, Rng, SWEEP, SWEEP_NONZERO};
use nnkern::{Activation, Float, MatMut, MatRef};

fn activations_sweep<T: Float>() {
    let mut rng = Rng::new(10);
    let mut case = 0;
    for &n in &SWEEP {
        for &c in &SWEEP {
            for act in Activation::ALL {
                case += 1;
                checks::activation_forward::<T>(
                    &mut rng,
                    n,
                    c,
                    act,
                    [LAYOUTS[case % 3], OUT_LAYOUTS[case % 2]],
                );
            }
        }
    }
}
both_types!(activations_forward_match_reference, activations_sweep);

fn activation_grads_sweep<T: Float>() {
    let mut rng = Rng::new(11);
    let mut case = 0;
    for &n in &SWEEP {
        for &c in &SWEEP {
            for act in Activation::ALL {
                case += 1;
                let lay = [LAYOUTS[case % 3], LAYOUTS[(case / 3) % 3], OUT_LAYOUTS[case % 2]];
                checks::activation_backward::<T>(&mut rng, n, c, act, lay);
            }
        }
    }
}
both_types!(activations_backward_match_reference, activation_grads_sweep);

fn softmax_sweep<T: Float>() {
    let mut rng = Rng::new(12);
    let mut case = 0;
    for &n in &SWEEP {
        for &c in &SWEEP_NONZERO {
            case += 1;
            let lay = [
                LAYOUTS[case % 3],
                OUT_LAYOUTS[case % 2],
                OUT_LAYOUTS[(case + 1) % 2],
            ];
            checks::softmax_forward::<T>(&mut rng, n, c, lay);
        }
    }
}
both_types!(softmax_and_log_softmax_match_reference, softmax_sweep);

fn softmax_backward_sweep<T: Float>() {
    let mut rng = Rng::new(13);
    let mut case = 0;
    for &n in &SWEEP {
        for &c in &SWEEP_NONZERO {
            case += 1;
            let lay = [
                LAYOUTS[case % 3],
                LAYOUTS[(case + 1) % 3],
                LAYOUTS[(case + 2) % 3],
                OUT_LAYOUTS[case % 2],
                OUT_LAYOUTS[(case + 1) % 2],
            ];
            checks::softmax_backward::<T>(&mut rng, n, c, lay);
        }
    }
}
both_types!(softmax_backward_matches_reference, softmax_backward_sweep);

#[test]
fn large_batch_splits_rows_and_matches_small_batches() {
    // 3000×100 spans ~10 work blocks: each row must equal the same row computed alone.
    let (n, c) = (3000, 100);
    let mut rng = Rng::new(14);
    let x: Vec<f32> = rng
        .values::<f32>(n * c, -10.0, 10.0)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let mut y = vec![f32::NAN; n * c];
    nnkern::softmax_forward(
        MatRef::from_row_major(&x, n, c).unwrap(),
        MatMut::from_row_major(&mut y, n, c).unwrap(),
    )
    .unwrap();
    for i in (0..n).step_by(97) {
        let mut one = vec![0.0_f32; c];
        nnkern::softmax_forward(
            MatRef::from_row_major(&x[i * c..(i + 1) * c], 1, c).unwrap(),
            MatMut::from_row_major(&mut one, 1, c).unwrap(),
        )
        .unwrap();
        assert_eq!(&y[i * c..(i + 1) * c], &one[..], "row {i}");
    }
}

/// Every activation against PyTorch's own float64 values (`tests/suite/golden/activations_torch.py`
/// → `activations.txt`): forward and the derivative from the input, on x ∈ [−6, 6], in both
/// types on every path, within `tol::GOLDEN_ACT_ROUNDINGS` of |y| (of |dy/dx|·(1 + |x|) for
/// the derivative); the GELUs' scale adds |x|, the absolute error of PyTorch's ½x(1 + tanh u)
/// and ½x(1 + erf(x/√2)), whose sums cancel for negative x.
fn activations_match_pytorch<T: Float>() {
    let golden = include_str!("golden/activations.txt");
    let mut seen = 0;
    for line in golden.lines() {
        let mut words = line.split_whitespace();
        let name = words.next().unwrap();
        let act = match name {
            "silu" => Activation::Silu,
            "gelu_tanh" => Activation::GeluTanh,
            "gelu" => Activation::Gelu,
            "leaky_relu" => Activation::LeakyRelu(0.01),
            "sigmoid" => Activation::Sigmoid,
            "tanh" => Activation::Tanh,
            other => panic!("no activation for {other}"),
        };
        seen += 1;
        let v: Vec<f64> = words.map(|w| w.parse().unwrap()).collect();
        let (xs, ys, gs): (Vec<f64>, Vec<f64>, Vec<f64>) = (
            v.iter().step_by(3).copied().collect(),
            v.iter().skip(1).step_by(3).copied().collect(),
            v.iter().skip(2).step_by(3).copied().collect(),
        );
        for (i, &x) in xs.iter().enumerate() {
            assert_eq!(
                x,
                -6.0 + 12.0 * i as f64 / 240.0,
                "{name}: the inputs the script made"
            );
        }
        let n = xs.len();
        let x: Vec<T> = xs.iter().map(|&v| T::from_f64(v)).collect();
        let ones = vec![T::ONE; n];
        let (mut y, mut g) = (vec![T::NAN; n], vec![T::NAN; n]);
        nnkern::activation_forward(act, MatRef::from(&x[..]), MatMut::from(&mut y[..])).unwrap();
        nnkern::activation_backward(
            act,
            nnkern::Saved::Input(MatRef::from(&x[..])),
            MatRef::from(&ones[..]),
            MatMut::from(&mut g[..]),
        )
        .unwrap();
        let cancel = if matches!(act, Activation::Gelu | Activation::GeluTanh) {
            1.0
        } else {
            0.0
        };
        for i in 0..n {
            // the input's own rounding to T carried through |f′| (for y) and |f″| ≤ 1 (for
            // dy/dx): the |g·x| and |x| terms (zero in f64, where x is exact)
            let xa = xs[i].abs();
            assert_within::<T>(
                y[i].to_f64(),
                ys[i],
                tol::GOLDEN_ACT_ROUNDINGS,
                ys[i].abs() + (gs[i] * xs[i]).abs() + cancel * xa,
                &|| format!("{name}({}) against PyTorch", xs[i]),
            );
            assert_within::<T>(
                g[i].to_f64(),
                gs[i],
                tol::GOLDEN_ACT_ROUNDINGS,
                gs[i].abs() * (1.0 + xa) + xa + cancel * (1.0 + xa).powi(2),
                &|| format!("{name}′({}) against PyTorch", xs[i]),
            );
        }
    }
    assert_eq!(seen, 6, "every function of the golden file");
}
both_types!(activations_match_pytorch_golden, activations_match_pytorch);
