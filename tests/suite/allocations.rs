//! Hot paths allocate nothing per call once warm: the suite's counting global allocator (per thread)
//! around repeated calls on contiguous inputs, on a one-thread pool (so every block runs on
//! the thread that counts). The narrow GEMM kernel packs B into a buffer reused per thread;
//! loss kernels reserve row copies only for strided inputs.

use crate::common::counting::allocations;
use nnkern::*;

#[test]
fn warm_calls_allocate_nothing() {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    pool.install(|| {
        // 4096×512·512×10 is cut into 4 parts that take the narrow kernel. (Products that
        // reach the matrixmultiply engine — the backward's xᵀ·dz, whose A is a transpose —
        // allocate its packing buffers on every call: that is the engine's, not counted here.)
        let (n, d) = (4096, 512);
        let x = vec![0.5_f32; n * d];
        let w = vec![0.25_f32; d * 10];
        let b = vec![0.1_f32; 10];
        let mut y = vec![0.0_f32; n * 10];
        let labels: Vec<usize> = (0..n).map(|i| i % 10).collect();
        let mut loss = [0.0_f32];
        let mut g = vec![0.0_f32; n * 10];
        let xv = MatRef::from_row_major(&x, n, d).unwrap();
        let wv = MatRef::from_row_major(&w, d, 10).unwrap();
        let mut run = || {
            gemm(1.0, xv, wv, 0.0, MatMut::from_row_major(&mut y, n, 10).unwrap()).unwrap();
            affine_forward(
                xv,
                wv,
                &b,
                Activation::Sigmoid,
                MatMut::from_row_major(&mut y, n, 10).unwrap(),
            )
            .unwrap();
            softmax_cross_entropy(
                MatRef::from_row_major(&y, n, 10).unwrap(),
                Targets::Classes(&labels),
                &CrossEntropyOptions::default(),
                &[1.0],
                &mut loss,
                MatMut::from_row_major(&mut g, n, 10).unwrap(),
            )
            .unwrap();
            softmax_forward(
                MatRef::from_row_major(&y, n, 10).unwrap(),
                MatMut::from_row_major(&mut g, n, 10).unwrap(),
            )
            .unwrap();
        };
        // On the matrixmultiply engine, the default build's: the gemm crate's engine (feature
        // `gemm`) takes its packing buffers from the allocator on every call, its own and not
        // nnkern's to change (16 allocations for these four calls, measured)
        with_gemm_engine(GemmEngine::MatrixMultiply, || {
            run(); // warm-up: the packing buffer grows here
            let count = allocations(&mut run);
            assert_eq!(count, 0, "warm calls allocated {count} times");
        });
    });
}

/// nnkern's own GEMM engine packs both operands into the calling thread's reused buffer:
/// warm calls allocate nothing, on a one-thread pool and on a two-thread one (whose worker
/// runs tasks on the panels the caller packed), for a product cut into several panels, blocks
/// of k and tasks, with a transposed A (the backward's xᵀ·dz).
#[test]
fn own_engine_warm_calls_allocate_nothing() {
    let (m, k, n) = (300, 600, 2100);
    let a = vec![0.5_f32; k * m];
    let b = vec![0.25_f32; k * n];
    let mut c = vec![0.0_f32; m * n];
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            with_gemm_engine(GemmEngine::Nnkern, || {
                let av = MatRef::from_row_major(&a, k, m).unwrap().t();
                let bv = MatRef::from_row_major(&b, k, n).unwrap();
                let mut run =
                    || gemm(1.0, av, bv, 0.0, MatMut::from_row_major(&mut c, m, n).unwrap()).unwrap();
                run(); // warm-up: the packing buffer grows here
                let count = allocations(&mut run);
                assert_eq!(
                    count, 0,
                    "warm calls allocated {count} times on {threads} threads"
                );
            })
        });
    }
    assert!(c.iter().all(|&v| v == 0.5 * 0.25 * k as f32));
}
