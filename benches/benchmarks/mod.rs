//! Bench groups and shared helpers.

pub mod cost;
pub mod digits;
pub mod fma;
pub mod linear;
pub mod loss;
pub mod peak;
pub mod rowwise;
pub mod threads;
pub mod training;

use criterion::Criterion;
use std::time::Duration;

/// Short, repeatable settings: these machines are shared, so ratios within a group matter,
/// not absolute times.
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

/// Deterministic pseudo-random values in [lo, hi).
pub fn values(len: usize, seed: u64, lo: f32, hi: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            lo + (hi - lo) * ((s >> 40) as f32 / (1u64 << 24) as f32)
        })
        .collect()
}

/// Rows of probabilities: each row a softmax of seeded values (every entry positive, rows
/// summing to 1).
pub fn prob_rows(n: usize, k: usize, seed: u64) -> Vec<f32> {
    let mut q = values(n * k, seed, -2.0, 2.0);
    for row in q.chunks_mut(k) {
        row.iter_mut().for_each(|v| *v = v.exp());
        let s: f32 = row.iter().sum();
        row.iter_mut().for_each(|v| *v /= s);
    }
    q
}

/// The fused BCE with logits over n×k logits `x` and targets `t` (default options, upstream
/// gradient 1), its gradient into `d`: one call, as the thread and cost groups time it.
pub fn bce_fused_call(x: &[f32], t: &[f32], d: &mut [f32], n: usize, k: usize) {
    let mut loss = [0.0_f32];
    nnkern::bce_with_logits(
        nnkern::MatRef::from_row_major(x, n, k).unwrap(),
        nnkern::MatRef::from_row_major(t, n, k).unwrap(),
        &nnkern::BceOptions::default(),
        &[1.0],
        &mut loss,
        nnkern::MatMut::from_row_major(d, n, k).unwrap(),
    )
    .unwrap()
}
