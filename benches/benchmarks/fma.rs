//! Independent FMA chains on the widest vector registers this CPU has: the machine's
//! floating-point peak, the yardstick for the GEMM rows. Shared by `benchmarks::peak` and the
//! peer comparison's `fma_peak` group (`compare/benches/peers.rs` includes this file), so both
//! divide by the same measurement. Plain functions: no criterion here.
//!
//! Each chain is one accumulator register, updated by an FMA whose latency the other chains
//! hide: 12 chains fill two 4-cycle-latency pipes with room to spare and leave 4 of the 16
//! AVX2 registers for the operands (16 chains spilled to the stack and measured half the
//! rate); AVX-512's 32 registers hold 24.

/// FMA steps per chain per call: about 1 ms of work at 100 GFLOP/s a core.
pub const STEPS: usize = 1 << 16;

/// The widest FMA path of this CPU, as (name, f32 lanes over all chains), or `None` (no FMA
/// vectors: no peak row).
pub fn isa() -> Option<(&'static str, usize)> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Some(("avx512", 24 * 16));
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            return Some(("avx2", 12 * 8));
        }
    }
    None
}

/// Floating-point operations of one `chains(STEPS)` call on one thread (an FMA is two).
pub fn flop_per_call() -> usize {
    isa().map_or(0, |(_, lanes)| 2 * lanes * STEPS)
}

/// Runs `steps` rounds of the chains on the path [`isa`] names, returning a value that depends
/// on every chain (so none is optimised away); 0 where [`isa`] is `None`.
pub fn chains(steps: usize) -> f32 {
    match isa() {
        // SAFETY: `isa` named AVX-512F only where it detected it.
        #[cfg(target_arch = "x86_64")]
        Some(("avx512", _)) => unsafe { chains_avx512(steps) },
        // SAFETY: `isa` names no other path than AVX2+FMA, and only where it detected both.
        #[cfg(target_arch = "x86_64")]
        Some(_) => unsafe { chains_avx2(steps) },
        _ => 0.0,
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn chains_avx2(steps: usize) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = [_mm256_set1_ps(0.0); 12];
    let (a, b) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
    for _ in 0..steps {
        for v in acc.iter_mut() {
            *v = _mm256_fmadd_ps(*v, a, b);
        }
    }
    let mut s = _mm256_setzero_ps();
    for v in acc {
        s = _mm256_add_ps(s, v);
    }
    _mm256_cvtss_f32(s)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn chains_avx512(steps: usize) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = [_mm512_set1_ps(0.0); 24];
    let (a, b) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
    for _ in 0..steps {
        for v in acc.iter_mut() {
            *v = _mm512_fmadd_ps(*v, a, b);
        }
    }
    let mut s = _mm512_setzero_ps();
    for v in acc {
        s = _mm512_add_ps(s, v);
    }
    _mm512_reduce_add_ps(s)
}
