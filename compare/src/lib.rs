//! Inputs and shapes shared by the peer comparison (`benches/peers.rs`).
//!
//! Every implementation in one bench group reads the same inputs, generated here, and writes
//! into buffers allocated outside the timed loop where its API allows it.

/// GEMM-shaped cases, as (N, D, H): x is N×D, W is D×H, y is N×H.
pub const MATMUL: [(usize, usize, usize); 6] = [
    (100, 2, 10),
    (30, 10, 3),
    (256, 784, 1024),
    (1024, 1024, 1024),
    (4096, 512, 10),
    (64, 4096, 4096),
];

/// Elementwise cases: vector lengths.
pub const VECTORS: [usize; 3] = [4096, 262_144, 16_777_216];

/// Row cases (softmax, cross-entropy), as (N, C).
pub const ROWS: [(usize, usize); 3] = [(1024, 1000), (4096, 10), (100, 3)];

/// Deterministic pseudo-random values in [lo, hi] (nnkern's seeded generator; `hi` itself only
/// by rounding).
pub fn values(len: usize, seed: u64, lo: f32, hi: f32) -> Vec<f32> {
    let mut rng = nnkern::layers::Rng::new(seed);
    (0..len)
        .map(|_| (lo as f64 + (hi - lo) as f64 * rng.uniform()) as f32)
        .collect()
}

/// N class labels in 0..C.
pub fn labels(n: usize, c: usize) -> Vec<usize> {
    (0..n).map(|i| (i * 7 + 3) % c).collect()
}

/// The label of a GEMM-shaped case, `NxDxH`.
pub fn mm_id((n, d, h): (usize, usize, usize)) -> String {
    format!("{n}x{d}x{h}")
}

/// The label of a row case, `NxC`.
pub fn rows_id((n, c): (usize, usize)) -> String {
    format!("{n}x{c}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_in_range_and_repeatable() {
        let a = values(1000, 7, -2.0, 3.0);
        assert!(a.iter().all(|&v| (-2.0..=3.0).contains(&v)));
        assert_eq!(a, values(1000, 7, -2.0, 3.0));
        assert_ne!(a, values(1000, 8, -2.0, 3.0));
    }
}
