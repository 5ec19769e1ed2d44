//! Elementwise activations and row-wise softmax / log-softmax against the f64 reference over
//! the shape sweep, strided and transposed inputs, NaN-filled outputs.

#![allow(clippy::needless_range_loop)] // index loops read as the formulas they check

mod common;

use common::checks::{self, OUT_LAYOUTS};
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
