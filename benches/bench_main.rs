//! Criterion benches: one file per op family under `benchmarks/`, each group with its baseline
//! (bare GEMM, the scalar loop, or the unfused composition) measured in the same run.
//!
//! `cargo bench` runs all; `cargo bench -- softmax` one family.

mod benchmarks;

criterion::criterion_main!(
    benchmarks::peak::benches,
    benchmarks::linear::benches,
    benchmarks::rowwise::benches,
    benchmarks::loss::benches,
    benchmarks::threads::benches,
    benchmarks::cost::benches,
    benchmarks::training::benches,
    benchmarks::digits::benches
);
