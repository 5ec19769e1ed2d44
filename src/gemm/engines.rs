//! The third-party GEMM engines' calls: `matrixmultiply`, and the `gemm` crate with the
//! feature `gemm`, each on one thread.

use super::GemmEngine;
use crate::float::sealed::{Internal, Sealed};

macro_rules! impl_gemm_raw {
    ($t:ty, $mm:path) => {
        impl Sealed for $t {
            fn pack_buf(_: Internal) -> &'static std::thread::LocalKey<std::cell::RefCell<Vec<Self>>> {
                thread_local! {
                    static BUF: std::cell::RefCell<Vec<$t>> = const { std::cell::RefCell::new(Vec::new()) };
                }
                &BUF
            }

            #[inline]
            unsafe fn gemm_raw(
                _: Internal,
                engine: GemmEngine,
                m: usize,
                k: usize,
                n: usize,
                alpha: Self,
                a: *const Self,
                rsa: isize,
                csa: isize,
                b: *const Self,
                rsb: isize,
                csb: isize,
                beta: Self,
                c: *mut Self,
                rsc: isize,
                csc: isize,
            ) {
                match engine {
                    // SAFETY: the caller upholds `gemm_raw`'s contract, which is the engine's:
                    // every indexed element in bounds, C non-aliasing and exclusively ours.
                    // (nnkern's own engine is never called through here, but the parts of
                    // a product it hands on run on matrixmultiply.)
                    GemmEngine::MatrixMultiply | GemmEngine::Nnkern => unsafe {
                        $mm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc)
                    },
                    // The `gemm` crate computes dst ← α′·dst + β′·lhs·rhs, reading dst only
                    // when asked: so α′ = our β, β′ = our α, and dst is unread when β = 0.
                    // SAFETY: as above; `gemm` has the same contract, and with
                    // `Parallelism::None` it runs on this thread only.
                    #[cfg(feature = "gemm")]
                    GemmEngine::Gemm => unsafe {
                        ::gemm::gemm(
                            m,
                            n,
                            k,
                            c,
                            csc,
                            rsc,
                            beta != 0.0,
                            a,
                            csa,
                            rsa,
                            b,
                            csb,
                            rsb,
                            beta,
                            alpha,
                            false,
                            false,
                            false,
                            ::gemm::Parallelism::None,
                        )
                    },
                }
            }
        }
    };
}

impl_gemm_raw!(f32, matrixmultiply::sgemm);
impl_gemm_raw!(f64, matrixmultiply::dgemm);
