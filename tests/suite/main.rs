//! nnkern's correctness suite, one test binary: each module below was its own integration
//! test before, and is still run on its own by name (`cargo test --release --test suite --
//! linear::`). One binary compiles and links the generic kernels once for all of them: with a
//! binary per module each instantiated them again, at opt-level 3, and the release build of
//! the tests dominated CI's time.
//!
//! - `accuracy`: the SIMD functions' ULP error over every f32 input and 10⁸ f64 inputs
//!   (`#[ignore]`d: `-- --ignored accuracy::`);
//! - `linear`, `rowwise`, `losses`, `bce`: each kernel against the f64 references of
//!   `common::reference`, over shape sweeps, layouts, both types and every SIMD path;
//! - `properties`: the same checks on random shapes and layouts (proptest);
//! - `gradcheck`: backward kernels against central differences;
//! - `determinism`: identical bits on any thread count and pool;
//! - `nonfinite`: the documented non-finite semantics;
//! - `bad_inputs`, `hostile`: an `Err` naming the argument for every bad input, never a panic;
//! - `allocations`: warm hot paths allocate nothing;
//! - `layout`: the source's layering (element traits, the SIMD and GEMM folders);
//! - `layers`, `compose`: the layer API, training, composition and the optimizers;
//! - `unsafe_paths`: the code behind each `unsafe` block, sized for Miri.
//!
//! (`tests/interop.rs`, the ndarray views, stays a binary of its own: it needs the `ndarray`
//! feature, and is small.)

#[macro_use]
mod common;

mod accuracy;
mod allocations;
mod bad_inputs;
mod bce;
mod compose;
mod determinism;
mod gradcheck;
mod hostile;
mod layers;
mod layout;
mod linear;
mod losses;
mod nonfinite;
mod properties;
mod rowwise;
mod unsafe_paths;

/// Counts each thread's allocations (`allocations`, `layers`); forwards to the system
/// allocator.
#[global_allocator]
static GLOBAL: common::counting::Counting = common::counting::Counting;
