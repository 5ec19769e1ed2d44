//! The fused two-layer training step: a call of its body in `crate::ops::two_layer`.

use crate::float::Float;
use crate::ops::two_layer::Step;
use crate::simd::{Internal, Isa};

/// One fused training step on `isa`'s path, its loss returned: the step's `dispatch`,
/// compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn run_step<T: Float>(isa: Isa, step: Step<'_, T>) -> T {
    T::two_layer_step(Internal, isa, step)
}
