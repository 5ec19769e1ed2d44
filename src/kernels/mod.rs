//! The public kernels: each a one-line generic function over [`Float`](crate::Float) that
//! calls its body, compiled once per element type in `crate::entry` (whose module notes say
//! why). Their documentation is the API's reference: formula, shapes, errors and an example
//! per function. The bodies, with their checks, live in `crate::ops` (and `crate::gemm`).
//!
//! The top of the crate's layers: nothing below imports this module.

pub mod activation;
pub mod affine;
pub mod gemm;
pub mod loss;
pub mod matmul;
pub mod optim;
pub mod select;
pub mod softmax;
pub(crate) mod two_layer;
