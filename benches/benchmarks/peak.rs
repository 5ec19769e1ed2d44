//! The machine's own limits, measured in the same run as the kernels they are yardsticks for.
//!
//! Group `fma_peak/{isa}/{threads}t`: the independent FMA chains of [`super::fma`] on every
//! thread of a pool of 1 and of 2. Throughput is in floating-point operations (an FMA is two),
//! so criterion's "elem/s" is FLOP/s: a GEMM row of `affine_sigmoid_forward` (also in FLOP)
//! divided by this row of the same run and thread count is the GEMM's fraction of peak.

use super::{config, fma};
use criterion::{Criterion, Throughput, criterion_group};
use std::hint::black_box;

fn peak(c: &mut Criterion) {
    let Some((name, _)) = fma::isa() else { return };
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let mut g = c.benchmark_group(format!("fma_peak/{name}/{threads}t"));
        g.throughput(Throughput::Elements((fma::flop_per_call() * threads) as u64));
        g.bench_function("f32", |b| {
            pool.install(|| {
                // one chain set per thread of the pool, each on its own thread
                b.iter(|| pool.broadcast(|_| fma::chains(black_box(fma::STEPS))))
            })
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = peak
}
