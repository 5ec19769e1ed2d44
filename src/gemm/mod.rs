//! The GEMM: the public API and its checks here, and the only caller of the GEMM engines.
//!
//! - `packed`: nnkern's own engine (packing, register tiles, its task grid);
//! - `small`: nnkern's kernels for small and narrow products, on every engine;
//! - `parts`: the parallel split of a product into single-threaded calls of the third-party
//!   engines;
//! - `engines`: those engines' calls (`matrixmultiply`; the `gemm` crate with the feature).

mod engines;
mod packed;
mod parts;
mod small;

pub(crate) use parts::is_small_product;

use crate::error::{Error, ErrorKind, Result};
use crate::float::{Float, sealed::Internal};
use crate::mat::{MatMut, MatRef};
use crate::simd::Isa;
use parts::{Job, Split};
use small::{LANES, narrow_pack_b, small_gemm};
use std::cell::Cell;

/// A GEMM engine: the library that runs the products above the small-product threshold.
///
/// [`GemmEngine::Nnkern`] (nnkern's own packed kernels, on the caller's SIMD path) is the
/// default; [`GemmEngine::MatrixMultiply`] (the `matrixmultiply` crate) is always there too.
/// With the cargo feature `gemm`, `GemmEngine::Gemm` (the `gemm` crate with its AVX-512
/// `x86-v4` kernels) is there as well and becomes the default. nnkern's engine cuts a
/// product into tasks that share its packed panels; the other two are called
/// single-threaded on the parts nnkern cuts. Either way results never depend on the thread
/// count (see [`gemm()`]); engines may round differently from each other (nnkern's and
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

/// C ← α·A·B + β·C for any strided views (A: m×k, B: k×n, C: m×n).
///
/// The general matrix product on the calling thread's GEMM engine ([`gemm_engine`]; by
/// default nnkern's own cache-blocked, packed kernels on the runtime-selected AVX-512 /
/// AVX2+FMA / portable path). A and B may be any views,
/// transposes and zero strides included; C any non-aliasing view.
///
/// BLAS conventions: when `beta` is 0, C is never read (NaN or garbage in C does not leak into
/// the result); when `alpha` is 0 or k = 0, A and B are not read and C ← β·C. m = 0 or n = 0
/// is a no-op.
///
/// # Errors
///
/// [`ErrorKind::Shape`] naming `b` if `b.rows() != a.cols()`, naming `c` if C is not
/// `a.rows() × b.cols()`.
///
/// # Example
///
/// ```
/// use nnkern::{MatMut, MatRef, gemm};
///
/// let a = [1.0_f32, 2.0, 3.0, 4.0]; // [[1, 2], [3, 4]]
/// let mut c = [f32::NAN; 4];
/// let a = MatRef::from_row_major(&a, 2, 2)?;
/// // C = A·Aᵀ, β = 0: C's NaNs are never read
/// gemm(1.0, a, a.t(), 0.0, MatMut::from_row_major(&mut c, 2, 2)?)?;
/// assert_eq!(c, [5.0, 11.0, 11.0, 25.0]);
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn gemm<T: Float>(alpha: T, a: MatRef<'_, T>, b: MatRef<'_, T>, beta: T, c: MatMut<'_, T>) -> Result<()> {
    T::gemm(Internal, alpha, a, b, beta, c)
}

/// [`gemm`]'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn gemm_impl<T: Float>(
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
) -> Result<()> {
    const OP: &str = "gemm";
    if b.rows() != a.cols() {
        return Err(Error::new(
            OP,
            "b",
            ErrorKind::Shape,
            format!("has {} rows but a has {} columns", b.rows(), a.cols()),
        ));
    }
    if c.rows() != a.rows() || c.cols() != b.cols() {
        return Err(Error::new(
            OP,
            "c",
            ErrorKind::Shape,
            format!(
                "is {}×{} but a·b is {}×{}",
                c.rows(),
                c.cols(),
                a.rows(),
                b.cols()
            ),
        ));
    }
    gemm_checked(alpha, a, b, beta, c);
    Ok(())
}

/// One product's operands as raw parts of views whose shapes were checked:
/// C (m×n) ← α·A (m×k)·B (k×n) + β·C, then the epilogue on C's rows.
#[derive(Clone, Copy)]
pub(super) struct Operands<'e, T> {
    pub(super) m: usize,
    pub(super) k: usize,
    pub(super) n: usize,
    pub(super) alpha: T,
    pub(super) beta: T,
    pub(super) a: *const T,
    pub(super) rsa: usize,
    pub(super) csa: usize,
    pub(super) b: *const T,
    pub(super) rsb: usize,
    pub(super) csb: usize,
    pub(super) c: *mut T,
    pub(super) rsc: usize,
    pub(super) csc: usize,
    pub(super) epilogue: Option<Epilogue<'e, T>>,
}

/// A per-row epilogue run on each part of C right after the part's product, while the part is
/// still in cache: `f(row, first_col, segment)` gets the row's columns `first_col..` of the
/// part, contiguous.
pub(crate) type Epilogue<'e, T> = &'e (dyn Fn(usize, usize, &mut [T]) + Sync);

/// The body of [`gemm()`] once the shapes agree; crate kernels call it after their own checks
/// (which name their own arguments).
pub(crate) fn gemm_checked<T: Float>(
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
) {
    gemm_then(alpha, a, b, beta, c, None);
}

/// [`gemm_checked`], then `epilogue` on every row of C, part by part. C must have unit column
/// stride when an epilogue is given.
///
/// On nnkern's own engine, large products run as the tasks of `packed`, whose arithmetic per
/// element of C does not depend on the task that computes it. On the other engines they are
/// cut along the rows or the columns of C into parts whose number and size depend only on
/// (m, k, n) — never on the thread count — and each part runs the engine single-threaded on
/// the caller's rayon pool; each element of C is computed by one engine call over the whole
/// of k. Narrow products (n ≤ 16) take nnkern's narrow kernel on either of the first two.
/// So the result is bit-for-bit the same on any number of threads.
pub(crate) fn gemm_then<T: Float>(
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    mut c: MatMut<'_, T>,
    epilogue: Option<Epilogue<'_, T>>,
) {
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    // The caller's SIMD path, read here on the calling thread: every part uses it, whichever
    // rayon worker runs the part.
    let isa = Isa::current();
    // Shapes agreeing is what makes the raw calls in bounds: re-check in every build, so a
    // crate-internal caller that forgot cannot turn into an out-of-bounds access.
    assert!(
        b.rows() == k && c.rows() == m && c.cols() == n && (epilogue.is_none() || c.unit_col_stride()),
        "gemm_then: shape mismatch"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 || alpha == T::ZERO || is_small_product(m, k, n) {
        if k == 0 || alpha == T::ZERO {
            scale(beta, &mut c);
        } else {
            small_gemm(isa, alpha, a, b, beta, c.rb_mut());
        }
        if let Some(f) = epilogue {
            for i in 0..m {
                f(i, 0, c.row_mut(i));
            }
        }
        return;
    }
    let split = Split::plan(m, k, n);
    let engine = gemm_engine();
    // The narrow kernel's route is the same for every part (rows are cut, so each part has
    // all n columns): B is packed once here, on the calling thread, into its reused buffer,
    // and every part reads it.
    let narrow = matches!(engine, GemmEngine::MatrixMultiply | GemmEngine::Nnkern)
        && n <= LANES
        && (split.by_rows || split.parts == 1)
        && a.unit_col_stride()
        && c.unit_col_stride()
        && alpha == T::ONE
        && beta == T::ZERO;
    let op = Operands {
        m,
        k,
        n,
        alpha,
        beta,
        a: a.as_ptr(),
        rsa: a.row_stride(),
        csa: a.col_stride(),
        b: b.as_ptr(),
        rsb: b.row_stride(),
        csb: b.col_stride(),
        c: c.as_mut_ptr(),
        rsc: c.row_stride(),
        csc: c.col_stride(),
        epilogue,
    };
    if engine == GemmEngine::Nnkern && !narrow {
        // SAFETY: m, k, n ≥ 1 and α ≠ 0 (the cases above returned); the pointers and strides
        // are those of views whose shapes agree (asserted above), so every index the product
        // reaches is an element of its view; C is borrowed exclusively for this call, its
        // elements distinct (a `MatMut` guarantees it) and apart from the shared A and B;
        // an epilogue comes only with csc = 1 (asserted above).
        unsafe { packed::Product { isa, op }.run() };
        return;
    }
    let run = |packed: Option<&[T]>| {
        Job {
            engine,
            isa,
            packed,
            split,
            op,
        }
        .run()
    };
    if narrow {
        with_pack_buf::<T, _>(k * LANES, |packed| {
            narrow_pack_b(b, packed);
            run(Some(packed));
        });
    } else {
        run(None);
    }
}

/// Runs `f` on a scratch slice of `len` elements, aligned to 64 bytes (each load of the narrow
/// kernel is one cache line: at the 16-byte alignment of a plain allocation, every load split
/// across two and 4096×512·512×10 ran 15% slower), from the calling thread's reused buffer
/// (it grows to the largest size asked and keeps it), or from a fresh one when that buffer is
/// in use further up this thread's stack (a rayon worker that took another product's task
/// while it waits on its own).
fn with_pack_buf<T: Float, R>(len: usize, f: impl FnOnce(&mut [T]) -> R) -> R {
    const ALIGN: usize = 64;
    let pad = ALIGN / std::mem::size_of::<T>();
    let aligned = |buf: &mut Vec<T>| {
        if buf.len() < len + pad {
            buf.resize(len + pad, T::ZERO);
        }
        // (an offset below `pad` always exists: the allocation is aligned to size_of::<T>())
        let off = buf.as_ptr().align_offset(ALIGN).min(pad);
        f(&mut buf[off..off + len])
    };
    T::pack_buf(Internal).with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => aligned(&mut buf),
        Err(_) => aligned(&mut Vec::new()),
    })
}

/// C ← β·C, with β = 0 writing zeros without reading C.
fn scale<T: Float>(beta: T, c: &mut MatMut<'_, T>) {
    if beta == T::ZERO {
        c.fill(T::ZERO);
    } else if beta != T::ONE {
        for i in 0..c.rows() {
            for j in 0..c.cols() {
                let v = c.at_mut(i, j);
                *v = beta * *v;
            }
        }
    }
}
