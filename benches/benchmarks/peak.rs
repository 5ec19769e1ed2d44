//! The machine's own limits, measured in the same run as the kernels they are yardsticks for.
//!
//! Group `fma_peak/{isa}/{threads}t`: independent chains of fused multiply-adds on the widest
//! vector registers this CPU has (AVX-512 where present, else AVX2+FMA; none elsewhere), on
//! every thread of the pool. Throughput is in floating-point operations (an FMA is two), so
//! criterion's "elem/s" is FLOP/s: a GEMM row of `affine_sigmoid_forward` (also in FLOP)
//! divided by this row of the same run and thread count is the GEMM's fraction of peak.
//!
//! Each chain is one accumulator register, updated by an FMA whose latency the other chains
//! hide: 12 chains fill two 4-cycle-latency pipes with room to spare and leave 4 of the 16
//! AVX2 registers for the operands (16 chains spilled to the stack and measured half the
//! rate here); AVX-512's 32 registers hold 24.

use super::config;
use criterion::{Criterion, Throughput, criterion_group};
use std::hint::black_box;

/// FMA steps per chain per call: about 1 ms of work at 100 GFLOP/s a core.
const STEPS: usize = 1 << 16;

fn peak(c: &mut Criterion) {
    #[cfg(target_arch = "x86_64")]
    {
        let isa = if std::arch::is_x86_feature_detected!("avx512f") {
            Some(("avx512", 24 * 16))
        } else if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            Some(("avx2", 12 * 8))
        } else {
            None
        };
        let Some((name, lanes)) = isa else { return };
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut g = c.benchmark_group(format!("fma_peak/{name}/{threads}t"));
            g.throughput(Throughput::Elements((2 * lanes * STEPS * threads) as u64));
            g.bench_function("f32", |b| {
                pool.install(|| {
                    b.iter(|| {
                        // one chain set per thread of the pool, each on its own thread
                        pool.broadcast(|_| fma_chains(black_box(STEPS)))
                    })
                })
            });
            g.finish();
        }
    }
}

/// Runs `steps` rounds of independent FMA chains on the widest registers, returning a value
/// that depends on every chain (so none is optimised away).
#[cfg(target_arch = "x86_64")]
fn fma_chains(steps: usize) -> f32 {
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: AVX-512F was detected.
        unsafe { chains_avx512(steps) }
    } else {
        // SAFETY: the caller ran this only after detecting AVX2 and FMA.
        unsafe { chains_avx2(steps) }
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

criterion_group! {
    name = benches;
    config = config();
    targets = peak
}
