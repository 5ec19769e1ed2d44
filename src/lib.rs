//! Fast, fused, numerically careful CPU kernels for the layers of a neural network.
//!
//! nnkern implements the layers of chapter 1 of *Deep Learning from Scratch 2* — MatMul,
//! Affine, Sigmoid (and Tanh, ReLU, LeakyReLU, SiLU, GELU), Softmax and LogSoftmax, Cross-Entropy and
//! Softmax-with-Loss — each forward and backward, for `f32` and `f64`. It is for framework
//! authors: the kernels run on your buffers through strided views (transposes cost nothing),
//! write into outputs you provide, answer every bad input with an [`Error`] naming the
//! argument, and give bit-identical results whatever the number of threads. A small layer API
//! ([`layers`]: `Sequential`, SGD/Adam/AdamW, `Trainer`) sits on top.
//!
//! Cargo features: `ndarray` (views of ndarray arrays: `MatRef::try_from(a.view())`,
//! `MatMut::try_from(a.view_mut())`), `gemm` (the `gemm` crate as the GEMM engine).
//! Any slice is a 1-row view (`sigmoid_forward(x.into(), y.into())`), and
//! [`MatRef::from_raw_parts`] takes another tensor type's pointer and strides.
//!
//! | layer | forward | backward |
//! |---|---|---|
//! | [`matmul_forward`] | y = x·W | dx = dy·Wᵀ, dW = xᵀ·dy |
//! | [`affine_forward`] | y = act(x·W + b) | dz = dy⊙act′, dx = dz·Wᵀ, dW = xᵀ·dz, db = Σ dz |
//! | [`sigmoid_forward`] | y = 1/(1+e^(−x)) | dx = dy⊙y⊙(1−y) |
//! | [`activation_forward`] | y = f(x), any [`Activation`] | dx = dy⊙f′, from y or x ([`Saved`]) |
//! | [`softmax_forward`] | y = e^(s−m)/Σe^(s−m) | dx = y⊙(dy − Σ dy⊙y) |
//! | [`cross_entropy_forward`] | L = −(1/N) Σ t·ln p | dp = −t/(N·p) |
//! | [`softmax_cross_entropy`] | L = (1/N) Σ (logsumexp(s) − Σ t·s) | ds = (softmax(s) − t)/N |
//! | [`bce_with_logits`] | L = mean(p·t·softplus(−x) + (1−t)·softplus(x)) | dx = (σ(x)·(1+(p−1)t) − p·t)/(N·C) |
//!
//! Beside the kernels: [`layers`] has the book's layer objects and what composes them (a
//! `Sequential` stack, the `Optimizer` trait with `Sgd` and `Adam`/AdamW, named
//! initialisations, `TwoLayerNet` and a minibatch `Trainer`); [`argmax_rows`], [`accuracy`]
//! and [`gather_rows`] help a training loop. Elementwise and row kernels
//! pick AVX-512, AVX2+FMA, portable (`wide`) or scalar code at run time ([`SimdPath`],
//! [`with_simd_path`], the `NNKERN_SIMD` environment variable).
//!
//! # Example
//!
//! ```
//! use nnkern::{Activation, MatMut, MatRef, affine_forward};
//!
//! // y = sigmoid(x·W + b) for a batch of 2 rows, 3 inputs, 2 outputs
//! let x = [1.0_f32, 2.0, 3.0, 4.0, 5.0, 6.0];
//! let w = [0.1_f32, -0.1, 0.2, -0.2, 0.3, -0.3];
//! let b = [0.0_f32, 0.5];
//! let mut y = [0.0_f32; 4];
//! affine_forward(
//!     MatRef::from_row_major(&x, 2, 3)?,
//!     MatRef::from_row_major(&w, 3, 2)?,
//!     &b,
//!     Activation::Sigmoid,
//!     MatMut::from_row_major(&mut y, 2, 2)?,
//! )?;
//! assert!((y[0] - 1.0 / (1.0 + (-1.4_f32).exp())).abs() < 1e-6);
//! # Ok::<(), nnkern::Error>(())
//! ```
//!
//! # Conventions
//!
//! - **Shapes** follow the book: a minibatch x is N×D (one sample per row), weights W are D×H,
//!   the bias b has length H, outputs are N×H. Losses take N×C logits or probabilities.
//! - **Views.** Matrices are passed as [`MatRef`] / [`MatMut`]: rows, columns and row/column
//!   strides over a slice (or an ndarray view, or raw parts), built only by checked
//!   constructors; a view never touches memory between its elements. `.t()` transposes without a
//!   copy, so backward passes use Wᵀ and xᵀ for free. GEMM operands (x, W, dy…) may be any
//!   view; outputs of elementwise and row kernels need unit column stride.
//! - **Outputs** are caller-provided. An output is overwritten without being read (fill it
//!   with NaN and nothing leaks), except parameter gradients under [`Accum::Add`], which
//!   accumulate. Nothing is allocated per call on the hot paths of contiguous inputs;
//!   [`affine_backward`] takes a reusable [`Workspace`].
//! - **Errors.** Every function validates every argument before touching memory and returns
//!   an [`Error`] naming the operation and the argument, e.g.
//!   `affine_forward: w has 785 rows but x has 784 columns`; it never panics on bad input.
//!   A view holds at most `isize::MAX` elements (like a slice), so no size computed from its
//!   dimensions overflows, and scratch sized from the arguments is reserved fallibly before
//!   any output is written ([`ErrorKind::Alloc`] instead of an abort). A zero-row batch is
//!   valid: nothing per row is written, parameter gradients are zeroed (`Replace`), and a
//!   reduced loss is 0 for `Sum` and NaN for `Mean` (0/0, as PyTorch). Views with no
//!   elements return at once however long their other side; a row kernel with zero columns
//!   is an error.
//! - **Threads.** Elementwise, row and loss kernels split large batches across the current
//!   rayon pool in blocks whose size depends only on the kernel (its cost per element and per
//!   row, measured), the element type and the shape, so a call too small to gain from a
//!   second thread runs on the caller (from a thread outside the pool, where handing work to
//!   it costs two thread wake-ups, a call of less than eight blocks' worth of work does too); they
//!   reduce in a fixed order. Large GEMMs on the
//!   default engine run as tasks of up to 144 rows of C by ≥ 256 columns, cut evenly (up
//!   to 32 a panel, enough for 16 threads), that share the packed operands; each element of
//!   C sums k in blocks fixed by k, in a fixed order, wherever its task runs. On the other
//!   engines a product is cut into up to 4 parts by shape alone, each a single-threaded
//!   engine call. Results are bit-for-bit identical whatever the number of threads. Use `pool.install(..)` to choose the pool. The only process-wide state is the
//!   cached CPU-feature choice; [`with_simd_path`] and [`with_gemm_engine`] overrides are
//!   per thread, read once per call on the calling thread and handed to every block and
//!   GEMM part the call splits off, whichever rayon worker runs it (so results under an
//!   override, too, are the same on any thread count).
//! - **GEMM engines.** nnkern's own packed kernels by default; `matrixmultiply` on request;
//!   with the cargo feature `gemm`, the `gemm` crate's AVX-512 kernels, then the default
//!   ([`GemmEngine`]).
//!
//! # Numerics
//!
//! - Sigmoid is evaluated as num/(1 + e) with e = e^(−|x|) (num = 1 or e), so no exponential
//!   overflows; softmax, log-softmax and every loss subtract the row maximum.
//! - exp ≤ 1 ulp, sigmoid and tanh ≤ 2 ulp in f32 over every input, on every SIMD path
//!   (`tests/suite/accuracy.rs`); ≤ 2 ulp in f64.
//! - The softmax-cross-entropy computes −log p_c as (m − s_c) + ln(1 + Σ_{k≠argmax} e^(s_k−m)),
//!   a sum of non-negative terms, so even a tiny loss keeps full relative precision.
//! - Loss sums accumulate in f64; a loss beyond the type's range is +∞, never NaN.
//! - Non-finite values follow PyTorch: NaN in gives NaN out; sigmoid(±∞) = 1, 0; a −∞ logit
//!   has probability exactly 0; a softmax row that is all −∞ or holds +∞ or NaN is NaN
//!   ([`MaskedRows::Zero`] gives zeros for fully masked rows). A −∞ logit at an integer label
//!   gives loss +∞ with a finite gradient. Where PyTorch forms 0·∞ = NaN (a −∞ logit whose
//!   probability target or class weight is 0), nnkern counts 0, as 0·log 0 = 0.
//! - Ignored rows (`ignore_index`) get exactly zero gradient, even if their logits are NaN.
//! - The binary cross-entropy on logits evaluates softplus(±x) = max(±x, 0) + ln(1 + e^(−|x|)),
//!   so no finite logit overflows; an infinite logit gives the limit (x = +∞ with t = 1 costs
//!   0, where PyTorch gives NaN).
//!
//! # Bad inputs
//!
//! Each kind of bad input, the [`ErrorKind`] it gets and an example of its message; every row
//! is a test in `tests/suite/bad_inputs.rs`, which also checks that nothing was written.
//!
#![doc = include_str!("../docs/bad_inputs.md")]

/// The README's code blocks, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod entry;
mod error;
mod float;
mod gemm;
#[cfg(feature = "ndarray")]
mod interop;
mod kernels;
pub mod layers;
mod mat;
mod ops;
mod par;
mod real;
mod simd;

pub use error::{Error, ErrorKind, Result};
pub use float::Float;
pub use gemm::{GemmEngine, gemm_engine, with_gemm_engine};
pub use kernels::activation::{
    activation_backward, activation_forward, exp_forward, ln_1p_forward, ln_forward, relu_backward,
    relu_forward, sigmoid_backward, sigmoid_forward, tanh_backward, tanh_forward,
};
pub use kernels::affine::{affine_backward, affine_forward, affine_forward_with_z};
pub use kernels::gemm::gemm;
pub use kernels::loss::{
    bce_with_logits, bce_with_logits_backward, bce_with_logits_forward, cross_entropy_backward,
    cross_entropy_forward, softmax_cross_entropy, softmax_cross_entropy_backward,
    softmax_cross_entropy_forward,
};
pub use kernels::matmul::{matmul_backward, matmul_forward};
pub use kernels::optim::{adam_update, sgd_momentum_update, sgd_update};
pub use kernels::select::{accuracy, argmax_rows, gather_rows};
pub use kernels::softmax::{
    log_softmax_backward, log_softmax_forward, softmax_backward, softmax_forward, softmax_forward_with,
};
pub use mat::{MatMut, MatRef};
pub use ops::activation::{Activation, Saved};
pub use ops::affine::AffineGrads;
pub use ops::loss::Targets;
pub use ops::loss::bce::BceOptions;
pub use ops::loss::softmax_ce::CrossEntropyOptions;
pub use ops::optim::{AdamParams, SgdParams};
pub use ops::softmax::{MaskedRows, SoftmaxOptions};
pub use ops::{Accum, Reduction, Workspace};
pub use real::Real;
pub use simd::{SimdPath, simd_path, with_simd_path};
