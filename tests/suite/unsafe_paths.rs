//! Small cases that reach every `unsafe` block of the crate — the GEMM engine call on whole
//! products and on parts, nnkern's own engine (packing, tiles, the shared panels), the per-part epilogue's raw row slices, the packed small product's
//! uninitialized buffer, the narrow-product kernel's raw row slices, and the SIMD dispatch on the paths this CPU (or Miri) has — checked
//! against the reference. Sized for `cargo +nightly miri test --test suite -- unsafe_paths::`, where the
//! crate shrinks its parallel thresholds so these shapes are cut into parts too.

use crate::common;

use common::checks;
use common::{Layout, Rng, each_path};
use nnkern::{Accum, Activation, Float, GemmEngine, Workspace, with_gemm_engine};

const L: [Layout; 3] = [Layout::Contiguous, Layout::Strided, Layout::Transposed];

fn linear<T: Float>() {
    let mut rng = Rng::new(90);
    let mut ws = Workspace::new();
    // (m, k, n): packed small product; the engine on one part; parts by rows; parts by
    // columns — under Miri, whose thresholds are lower; natively the cuts need larger shapes
    // — and, on nnkern's own engine, several blocks of k, row chunks and column panels
    let shapes = if cfg!(miri) {
        [(5, 3, 7), (12, 10, 12), (40, 8, 20), (12, 10, 40), (30, 20, 60)]
    } else {
        [
            (5, 3, 7),
            (30, 25, 30),
            (1100, 8, 600),
            (100, 50, 1100),
            (2400, 300, 70),
        ]
    };
    for &engine in GemmEngine::ALL {
        // under Miri the third-party engines take the first four shapes (their calls on whole
        // products and on parts); the block-crossing fifth is for nnkern's engine, the one
        // whose packing and tiles are this crate's unsafe code, and it is most of Miri's time
        let upto = if cfg!(miri) && engine != GemmEngine::Nnkern {
            4
        } else {
            shapes.len()
        };
        with_gemm_engine(engine, || {
            for (i, &(m, k, n)) in shapes[..upto].iter().enumerate() {
                checks::gemm::<T>(&mut rng, m, k, n, [L[i % 3], L[(i + 1) % 3], L[(i + 2) % 3]]);
                let act = Activation::ALL[i % Activation::ALL.len()];
                // unit-stride y takes the fused epilogue on raw row slices
                checks::affine_forward::<T>(&mut rng, m, k, n, act, [L[i % 3], L[(i + 2) % 3], L[i % 2]]);
                let accum = if i % 2 == 0 { Accum::Replace } else { Accum::Add };
                checks::affine_backward::<T>(&mut rng, &mut ws, m, k, n, act, accum, &|o| L[(o + i) % 3]);
            }
        })
    }
}

/// Narrow products (n ≤ 16) past the small-product size take the narrow kernel (raw row
/// slices of A and C, whole and in row parts) when A and C have unit column stride, and the
/// packed engine on their transpose when A is column-major.
fn narrow<T: Float>() {
    let mut rng = Rng::new(92);
    let shapes = if cfg!(miri) {
        [(40, 10, 9), (64, 8, 10)]
    } else {
        [(300, 64, 10), (4096, 130, 16)]
    };
    for &(m, k, n) in &shapes {
        checks::gemm::<T>(&mut rng, m, k, n, [Layout::Contiguous; 3]);
        checks::gemm::<T>(
            &mut rng,
            m,
            k,
            n,
            [Layout::Strided, Layout::Transposed, Layout::Strided],
        );
        checks::affine_forward::<T>(&mut rng, m, k, n, Activation::Sigmoid, [Layout::Contiguous; 3]);
        // A column-major, as in a weight gradient xᵀ·dy: the packed engine, which runs a
        // product this narrow as its transpose (C stored by columns)
        checks::gemm::<T>(
            &mut rng,
            m,
            k,
            n,
            [Layout::Transposed, Layout::Contiguous, Layout::Strided],
        );
    }
}

#[test]
fn narrow_products() {
    narrow::<f32>();
    narrow::<f64>();
}

#[test]
fn gemm_and_affine_f32() {
    linear::<f32>();
}

#[test]
fn gemm_and_affine_f64() {
    linear::<f64>();
}

fn rowwise<T: Float>() {
    let mut rng = Rng::new(91);
    for (n, c) in [(3, 5), (2, 33)] {
        for act in Activation::ALL {
            checks::activation_forward::<T>(&mut rng, n, c, act, [Layout::Strided, Layout::Contiguous]);
        }
        checks::softmax_forward::<T>(
            &mut rng,
            n,
            c,
            [Layout::Transposed, Layout::Contiguous, Layout::Strided],
        );
        checks::bce::<T>(&mut rng, n, c, nnkern::Reduction::Sum, n + c);
        // dense rows: the cross-entropy on probabilities' flat passes (short rows) and the
        // vector logarithm
        checks::ce_probs::<T>(&mut rng, n, c, true, n + c, [Layout::Contiguous; 3]);
    }
    let _ = Activation::Identity;
}

/// Every path natively; under Miri the portable one (`wide`'s vectors, the path Miri's CPU
/// model selects), since Miri perturbs libm's exp — the scalar path's — beyond its ulp bounds.
#[test]
fn simd_dispatch_every_path() {
    if cfg!(miri) {
        nnkern::with_simd_path(nnkern::SimdPath::Portable, || {
            rowwise::<f32>();
            rowwise::<f64>();
        })
        .unwrap();
    } else {
        each_path(rowwise::<f32>);
        each_path(rowwise::<f64>);
    }
}

/// The lane loss kernel (class targets, at most 16 classes) moves whole groups of 16
/// contiguous rows in and out of its lane layout with the path's transposes (AVX-512, f32:
/// register permutes, `unsafe`); strided logits and gradients take the element-by-element
/// moves. Both must give the same bits — the fused loss and gradient, the forward's
/// log-sum-exp and the split backward's gradient — for every class count, batches of whole
/// groups and with a partial one, with default options and with every option set.
fn lane_transposes<T: Float>() {
    use nnkern::{
        CrossEntropyOptions, MatMut, MatRef, Reduction, Targets, softmax_cross_entropy,
        softmax_cross_entropy_backward, softmax_cross_entropy_forward,
    };
    let mut rng = Rng::new(92);
    for c in 1..=16 {
        for n in [16, 37] {
            for options in [false, true] {
                let x: Vec<T> = rng
                    .values::<T>(n * c, -8.0, 8.0)
                    .into_iter()
                    .map(T::from_f64)
                    .collect();
                let labels: Vec<usize> = (0..n).map(|_| rng.below(c)).collect();
                let w: Vec<T> = rng
                    .values::<T>(c, 0.0, 2.0)
                    .into_iter()
                    .map(T::from_f64)
                    .collect();
                let dl: Vec<T> = rng
                    .values::<T>(n, -1.0, 1.0)
                    .into_iter()
                    .map(T::from_f64)
                    .collect();
                let opts = if options {
                    CrossEntropyOptions::default()
                        .reduction(Reduction::None)
                        .weight(Some(&w))
                        .ignore_index(Some(labels[n / 2]))
                        .label_smoothing(T::from_f64(0.1))
                } else {
                    CrossEntropyOptions::default()
                };
                let (dloss, out) = if options { (&dl[..], n) } else { (&[T::ONE][..], 1) };
                // (loss, gradient, log-sum-exp, split gradient) with logits and gradients of
                // row stride `rs` (c: contiguous; c + 3: strided)
                let run = |rs: usize| {
                    let mut xs = vec![T::ZERO; n * rs];
                    for i in 0..n {
                        xs[i * rs..i * rs + c].copy_from_slice(&x[i * c..(i + 1) * c]);
                    }
                    let xv = MatRef::from_strided(&xs, n, c, rs, 1).unwrap();
                    let t = Targets::Classes(&labels);
                    let (mut loss, mut lse, mut d, mut d2) = (
                        vec![T::ZERO; out],
                        vec![T::ZERO; n],
                        vec![T::ZERO; n * rs],
                        vec![T::ZERO; n * rs],
                    );
                    let dv = MatMut::from_strided(&mut d, n, c, rs, 1).unwrap();
                    softmax_cross_entropy(xv, t, &opts, dloss, &mut loss, dv).unwrap();
                    let mut loss2 = vec![T::ZERO; out];
                    softmax_cross_entropy_forward(xv, t, &opts, &mut loss2, Some(&mut lse)).unwrap();
                    let dv2 = MatMut::from_strided(&mut d2, n, c, rs, 1).unwrap();
                    softmax_cross_entropy_backward(xv, &lse, t, &opts, dloss, dv2).unwrap();
                    let rows = |v: &[T]| -> Vec<u64> {
                        (0..n)
                            .flat_map(|i| v[i * rs..i * rs + c].iter().map(|e| e.to_f64().to_bits()))
                            .collect()
                    };
                    let bits = |v: &[T]| -> Vec<u64> { v.iter().map(|e| e.to_f64().to_bits()).collect() };
                    (bits(&loss), rows(&d), bits(&loss2), bits(&lse), rows(&d2))
                };
                assert_eq!(run(c), run(c + 3), "{c} classes, {n} rows, options {options}");
            }
        }
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "the transposes are AVX-512 code, which Miri's CPU does not have"
)]
fn lane_loss_transposes_give_the_element_moves_bits() {
    each_path(lane_transposes::<f32>);
    each_path(lane_transposes::<f64>);
}
