//! The bottom of the GEMM: the engines (which one a thread uses, and their calls:
//! `matrixmultiply`, and the `gemm` crate with the feature `gemm`, each on one thread) and the
//! GEMM's element trait `GemmFloat`.

use crate::simd::{Internal, SimdFloat};
use std::cell::Cell;

/// A GEMM engine: the library that runs the products above the small-product threshold.
///
/// [`GemmEngine::Nnkern`] (nnkern's own packed kernels, on the caller's SIMD path) is the
/// default; [`GemmEngine::MatrixMultiply`] (the `matrixmultiply` crate) is always there too.
/// With the cargo feature `gemm`, `GemmEngine::Gemm` (the `gemm` crate with its AVX-512
/// `x86-v4` kernels) is there as well and becomes the default. nnkern's engine cuts a
/// product into tasks that share its packed panels; the other two are called
/// single-threaded on the parts nnkern cuts. Either way results never depend on the thread
/// count (see [`gemm()`](fn@crate::gemm)); engines may round differently from each other (nnkern's and
/// matrixmultiply's agree bit for bit on AVX2 where k ≤ 256 or is a multiple of 256, both
/// summing those blocks of k by FMA; nnkern cuts other depths into equal blocks).
///
/// # Example
///
/// ```
/// use nnkern::{GemmEngine, gemm_engine, with_gemm_engine};
///
/// let inside = with_gemm_engine(GemmEngine::MatrixMultiply, gemm_engine);
/// assert_eq!(inside, GemmEngine::MatrixMultiply);
/// assert_eq!(GemmEngine::ALL.len(), if cfg!(feature = "gemm") { 3 } else { 2 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GemmEngine {
    /// nnkern's own packed GEMM (the default without the `gemm` feature): both operands
    /// packed into the calling thread's reused buffer, register tiles of 6×16 f32 / 6×8 f64
    /// (6×32 / 6×16 on AVX-512) summed over ⌈k/256⌉ blocks of k of equal depth, on the
    /// caller's SIMD path, in tasks of up to 144 rows by ≥ 256 columns (cut evenly) that rayon
    /// shares out: up to 32 tasks a panel, enough for 16 threads.
    Nnkern,
    /// The `matrixmultiply` crate (runtime-dispatched AVX-512 / AVX2+FMA / SSE2 kernels).
    MatrixMultiply,
    /// The `gemm` crate with its `x86-v4` (AVX-512) kernels; only with the `gemm` feature.
    #[cfg(feature = "gemm")]
    Gemm,
}

impl GemmEngine {
    /// The engines compiled into this build, the default first.
    pub const ALL: &'static [GemmEngine] = &[
        #[cfg(feature = "gemm")]
        GemmEngine::Gemm,
        GemmEngine::Nnkern,
        GemmEngine::MatrixMultiply,
    ];

    /// The engine's crate name: `matrixmultiply` or `gemm`.
    pub fn name(self) -> &'static str {
        match self {
            GemmEngine::Nnkern => "nnkern",
            GemmEngine::MatrixMultiply => "matrixmultiply",
            #[cfg(feature = "gemm")]
            GemmEngine::Gemm => "gemm",
        }
    }
}

thread_local! {
    static THREAD_ENGINE: Cell<Option<GemmEngine>> = const { Cell::new(None) };
}

/// The engine the GEMM-based kernels called on this thread use: the innermost
/// [`with_gemm_engine`], else the first of [`GemmEngine::ALL`].
///
/// # Example
///
/// ```
/// assert!(nnkern::GemmEngine::ALL.contains(&nnkern::gemm_engine()));
/// ```
pub fn gemm_engine() -> GemmEngine {
    THREAD_ENGINE.with(|c| c.get()).unwrap_or(GemmEngine::ALL[0])
}

/// Runs `f` with the GEMM-based kernels called on this thread (and the parts they hand to
/// rayon) using `engine`; the previous choice is restored afterwards, also if `f` panics.
/// Tests and benches use it to run both engines in one process.
///
/// # Example
///
/// ```
/// use nnkern::{GemmEngine, MatMut, MatRef, gemm, with_gemm_engine};
///
/// let a = [1.0_f64; 4];
/// let mut c = [0.0_f64; 4];
/// with_gemm_engine(GemmEngine::MatrixMultiply, || {
///     let a = MatRef::from_row_major(&a, 2, 2)?;
///     gemm(1.0, a, a, 0.0, MatMut::from_row_major(&mut c, 2, 2)?)
/// })?;
/// assert_eq!(c, [2.0; 4]);
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn with_gemm_engine<R>(engine: GemmEngine, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<GemmEngine>);
    impl Drop for Restore {
        fn drop(&mut self) {
            THREAD_ENGINE.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(THREAD_ENGINE.with(|c| c.replace(Some(engine))));
    f()
}

/// The GEMM's element trait: [`SimdFloat`] with the per-type hooks of the engines.
pub trait GemmFloat: SimdFloat {
    /// The calling thread's reused scratch for packing a GEMM operand (see
    /// `operands::with_pack_buf`).
    fn pack_buf(_: Internal) -> &'static std::thread::LocalKey<std::cell::RefCell<Vec<Self>>>;

    /// C ← α·A·B + β·C on `engine`'s kernel for the type, on the calling thread only.
    ///
    /// # Safety
    ///
    /// - `a` is valid for reads at every `i·rsa + l·csa` (i < m, l < k), `b` at every
    ///   `l·rsb + j·csb` (l < k, j < n), `c` for reads and writes at every `i·rsc + j·csc`
    ///   (i < m, j < n);
    /// - the elements of C are pairwise distinct and overlap neither A nor B;
    /// - no other thread accesses C during the call.
    #[allow(clippy::too_many_arguments)]
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
    );
}

macro_rules! impl_gemm_raw {
    ($t:ty, $mm:path) => {
        impl GemmFloat for $t {
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
