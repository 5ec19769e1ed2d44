//! Every kernel body compiled once, in this crate, for `f32` and for `f64`.
//!
//! The public kernels are generic over `T: Float`, and Rust compiles a generic function in
//! the crate that calls it. Left as they were, every binary that used nnkern (each example,
//! test and bench here, and every crate of a user) compiled the whole kernel stack again for
//! itself, all four SIMD paths of every kernel (on a 2-core Zen 1, an optimised build of the
//! spiral example took 291 s and of the test suite 486 s, while nnkern itself took 4 s).
//!
//! So each public kernel is a one-line generic function (in `crate::kernels`) that calls a
//! method of [`Entry`], and `Entry`'s impls for `f32` and `f64` are plain functions,
//! monomorphic, compiled here once and linked by the caller (`#[inline(never)]`: a caller's
//! optimiser could otherwise copy the call, and with it the generic body, into its own
//! crate). The method's body calls the kernel's generic body (`*_impl`, in `crate::ops` or
//! `crate::gemm`, generic over their own element trait) at the one type. The call through
//! costs one function call per kernel call; the bits are the same code's.
//!
//! So the layers run: the bodies (which name nothing above them), this module (which names
//! the bodies), the facade [`Float`](crate::Float) (which names `Entry`), the public
//! functions (bounded by `Float`).
//!
//! A kernel reached from the layers without a public function (the fused two-layer step,
//! the optimisers' update over many tensors, each activation's forward and backward) has its
//! entry here too.

use crate::error::Result;
use crate::mat::{MatMut, MatRef};
use crate::ops::activation::{Activation, Saved};
use crate::ops::affine::AffineGrads;
use crate::ops::loss::Targets;
use crate::ops::loss::bce::BceOptions;
use crate::ops::loss::softmax_ce::CrossEntropyOptions;
use crate::ops::optim::{AdamConsts, AdamParams, SgdParams};
use crate::ops::softmax::SoftmaxOptions;
use crate::ops::two_layer::Step;
use crate::ops::{Accum, Reduction, Workspace};
use crate::simd::{Internal, Isa};

/// Declares [`Entry`] with one method per kernel, and implements it for `f32` and `f64` by
/// calling each kernel's generic body at that type.
macro_rules! entries {
    ($(fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty = $body:path;)*) => {
        /// The kernels' bodies at one element type, compiled in this crate (see the module's
        /// notes). Sealed like [`Float`](crate::Float): each method's first argument is a
        /// token only the crate can make. (Some methods take crate-private types, the
        /// instruction-set token `Isa` among them: no code outside the crate can call any
        /// method, hence the `private_interfaces` allowance.)
        #[allow(private_interfaces)]
        pub trait Entry: Sized {
            $(
                #[doc = concat!("`", stringify!($body), "` at this type.")]
                #[allow(clippy::too_many_arguments)]
                fn $name(_: Internal, $($arg: $ty),*) -> $ret;
            )*
        }
        entries!(@impl f32; $(fn $name($($arg: $ty),*) -> $ret = $body;)*);
        entries!(@impl f64; $(fn $name($($arg: $ty),*) -> $ret = $body;)*);
    };
    (@impl $t:ty; $(fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty = $body:path;)*) => {
        #[allow(private_interfaces)]
        impl Entry for $t {
            $(
                #[inline(never)]
                #[allow(clippy::too_many_arguments, clippy::unused_unit)]
                fn $name(_: Internal, $($arg: $ty),*) -> $ret {
                    $body($($arg),*)
                }
            )*
        }
    };
}

entries! {
    fn gemm(alpha: Self, a: MatRef<'_, Self>, b: MatRef<'_, Self>, beta: Self, c: MatMut<'_, Self>) -> Result<()> = crate::gemm::gemm_impl;
    fn exp_forward(x: MatRef<'_, Self>, y: MatMut<'_, Self>) -> Result<()> = crate::ops::activation::exp_forward_impl;
    fn ln_forward(x: MatRef<'_, Self>, y: MatMut<'_, Self>) -> Result<()> = crate::ops::activation::ln_forward_impl;
    fn ln_1p_forward(x: MatRef<'_, Self>, y: MatMut<'_, Self>) -> Result<()> = crate::ops::activation::ln_1p_forward_impl;
    fn affine_forward(x: MatRef<'_, Self>, w: MatRef<'_, Self>, b: &[Self], act: Activation, y: MatMut<'_, Self>) -> Result<()> = crate::ops::affine::affine_forward_impl;
    fn affine_forward_with_z(x: MatRef<'_, Self>, w: MatRef<'_, Self>, b: &[Self], act: Activation, z: MatMut<'_, Self>, y: MatMut<'_, Self>) -> Result<()> = crate::ops::affine::affine_forward_with_z_impl;
    fn bce_with_logits_forward(logits: MatRef<'_, Self>, targets: MatRef<'_, Self>, opts: &BceOptions<'_, Self>, loss: &mut [Self]) -> Result<()> = crate::ops::loss::bce::bce_with_logits_forward_impl;
    fn bce_with_logits_backward(logits: MatRef<'_, Self>, targets: MatRef<'_, Self>, opts: &BceOptions<'_, Self>, dloss: &[Self], dlogits: MatMut<'_, Self>) -> Result<()> = crate::ops::loss::bce::bce_with_logits_backward_impl;
    fn bce_with_logits(logits: MatRef<'_, Self>, targets: MatRef<'_, Self>, opts: &BceOptions<'_, Self>, dloss: &[Self], loss: &mut [Self], dlogits: MatMut<'_, Self>) -> Result<()> = crate::ops::loss::bce::bce_with_logits_impl;
    fn cross_entropy_forward(probs: MatRef<'_, Self>, targets: Targets<'_, Self>, reduction: Reduction, loss: &mut [Self]) -> Result<()> = crate::ops::loss::cross_entropy::cross_entropy_forward_impl;
    fn cross_entropy_backward(probs: MatRef<'_, Self>, targets: Targets<'_, Self>, reduction: Reduction, dloss: &[Self], dprobs: MatMut<'_, Self>) -> Result<()> = crate::ops::loss::cross_entropy::cross_entropy_backward_impl;
    fn softmax_cross_entropy_forward(logits: MatRef<'_, Self>, targets: Targets<'_, Self>, opts: &CrossEntropyOptions<'_, Self>, loss: &mut [Self], lse: Option<&mut [Self]>) -> Result<()> = crate::ops::loss::softmax_ce::softmax_cross_entropy_forward_impl;
    fn softmax_cross_entropy_backward(logits: MatRef<'_, Self>, lse: &[Self], targets: Targets<'_, Self>, opts: &CrossEntropyOptions<'_, Self>, dloss: &[Self], dlogits: MatMut<'_, Self>) -> Result<()> = crate::ops::loss::softmax_ce::softmax_cross_entropy_backward_impl;
    fn softmax_cross_entropy(logits: MatRef<'_, Self>, targets: Targets<'_, Self>, opts: &CrossEntropyOptions<'_, Self>, dloss: &[Self], loss: &mut [Self], dlogits: MatMut<'_, Self>) -> Result<()> = crate::ops::loss::softmax_ce::softmax_cross_entropy_impl;
    fn matmul_forward(x: MatRef<'_, Self>, w: MatRef<'_, Self>, y: MatMut<'_, Self>) -> Result<()> = crate::ops::matmul::matmul_forward_impl;
    fn matmul_backward(x: MatRef<'_, Self>, w: MatRef<'_, Self>, dy: MatRef<'_, Self>, dx: Option<MatMut<'_, Self>>, dw: MatMut<'_, Self>, accum: Accum) -> Result<()> = crate::ops::matmul::matmul_backward_impl;
    fn sgd_update(params: &mut [Self], grads: &[Self], lr: Self) -> Result<()> = crate::ops::optim::sgd_update_impl;
    fn sgd_momentum_update(params: &mut [Self], grads: &[Self], velocity: &mut [Self], hp: &SgdParams<Self>) -> Result<()> = crate::ops::optim::sgd_momentum_update_impl;
    fn adam_update(params: &mut [Self], grads: &[Self], m: &mut [Self], v: &mut [Self], step: u32, hp: &AdamParams<Self>) -> Result<()> = crate::ops::optim::adam_update_impl;
    fn argmax_rows(x: MatRef<'_, Self>, out: &mut [usize]) -> Result<()> = crate::ops::select::argmax_rows_impl;
    fn accuracy(scores: MatRef<'_, Self>, labels: &[usize]) -> Result<f64> = crate::ops::select::accuracy_impl;
    fn gather_rows(x: MatRef<'_, Self>, idx: &[usize], out: MatMut<'_, Self>) -> Result<()> = crate::ops::select::gather_rows_impl;
    fn softmax_forward(x: MatRef<'_, Self>, y: MatMut<'_, Self>) -> Result<()> = crate::ops::softmax::softmax_forward_impl;
    fn softmax_forward_with(x: MatRef<'_, Self>, y: MatMut<'_, Self>, opts: &SoftmaxOptions) -> Result<()> = crate::ops::softmax::softmax_forward_with_impl;
    fn softmax_backward(y: MatRef<'_, Self>, dy: MatRef<'_, Self>, dx: MatMut<'_, Self>) -> Result<()> = crate::ops::softmax::softmax_backward_impl;
    fn log_softmax_forward(x: MatRef<'_, Self>, y: MatMut<'_, Self>) -> Result<()> = crate::ops::softmax::log_softmax_forward_impl;
    fn log_softmax_backward(y: MatRef<'_, Self>, dy: MatRef<'_, Self>, dx: MatMut<'_, Self>) -> Result<()> = crate::ops::softmax::log_softmax_backward_impl;
    fn activation_forward_named(op: &'static str, act: Activation, x: MatRef<'_, Self>, y: MatMut<'_, Self>) -> Result<()> = crate::ops::activation::forward_named_impl;
    fn activation_backward_named(op: &'static str, act: Activation, saved: Saved<'_, Self>, dy: MatRef<'_, Self>, dx: MatMut<'_, Self>) -> Result<()> = crate::ops::activation::backward_named_impl;
    fn affine_backward(x: MatRef<'_, Self>, w: MatRef<'_, Self>, saved: Saved<'_, Self>, dy: MatRef<'_, Self>, act: Activation, grads: AffineGrads<'_, Self>, accum: Accum, ws: &mut Workspace<Self>) -> Result<()> = crate::ops::affine::affine_backward_impl;
    fn sgd_apply(isa: Isa, p: &mut [Self], g: &[Self], b: &mut [Self], hp: &SgdParams<Self>) -> () = crate::ops::optim::sgd_apply_impl;
    fn adam_apply(isa: Isa, p: &mut [Self], g: &[Self], m: &mut [Self], v: &mut [Self], k: &AdamConsts<Self>) -> () = crate::ops::optim::adam_apply_impl;
    fn two_layer_step(isa: Isa, step: Step<'_, Self>) -> Self = crate::simd::dispatch;
}
