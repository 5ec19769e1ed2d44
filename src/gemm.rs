//! The safe GEMM wrapper: the only caller of the GEMM engines, and where large products are
//! split into parts for rayon.

use crate::error::{Error, ErrorKind, Result};
use crate::float::{
    Float,
    sealed::{Internal, Sealed},
};
use crate::mat::{MatMut, MatRef};
use crate::simd::{Isa, Kernel, Math, dispatch, unrolled};
use std::cell::Cell;
use std::mem::MaybeUninit;

/// A GEMM engine: the library that runs the products above the small-product threshold.
///
/// [`GemmEngine::MatrixMultiply`] (the `matrixmultiply` crate) is always there and is the
/// default. With the cargo feature `gemm`, `GemmEngine::Gemm` (the `gemm` crate with its
/// AVX-512 `x86-v4` kernels) is there too and becomes the default. Both are called
/// single-threaded on the parts nnkern cuts, so results never depend on the thread count
/// (see [`gemm()`]); the two engines may round differently from each other.
///
/// # Example
///
/// ```
/// use nnkern::{GemmEngine, gemm_engine, with_gemm_engine};
///
/// let inside = with_gemm_engine(GemmEngine::MatrixMultiply, gemm_engine);
/// assert_eq!(inside, GemmEngine::MatrixMultiply);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GemmEngine {
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
        GemmEngine::MatrixMultiply,
    ];

    /// The engine's crate name: `matrixmultiply` or `gemm`.
    pub fn name(self) -> &'static str {
        match self {
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
                    GemmEngine::MatrixMultiply => unsafe {
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

/// C ← α·A·B + β·C for any strided views (A: m×k, B: k×n, C: m×n).
///
/// The general matrix product on the crate's GEMM engine (cache-blocked, with the engine's
/// runtime-selected AVX-512 / AVX2+FMA / SSE2 microkernels). A and B may be any views,
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
/// Large products are cut along the rows or the columns of C into parts whose number and
/// size depend only on (m, k, n) — never on the thread count — and each part runs the engine
/// single-threaded on the caller's rayon pool. Each element of C is computed by one engine
/// call over the whole of k, so the result is bit-for-bit the same on any number of threads.
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
    let narrow = engine == GemmEngine::MatrixMultiply
        && n <= LANES
        && (split.by_rows || split.parts == 1)
        && a.unit_col_stride()
        && c.unit_col_stride()
        && alpha == T::ONE
        && beta == T::ZERO;
    let (rsc, csc) = (c.row_stride(), c.col_stride());
    let c_ptr = c.as_mut_ptr();
    let run = |packed: Option<&[T]>| {
        Job {
            engine,
            isa,
            packed,
            split,
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
            c: c_ptr,
            rsc,
            csc,
            epilogue,
        }
        .run(0, split.parts)
    };
    if narrow {
        with_pack_buf::<T, _>(k * LANES, |packed| {
            pack_narrow(b, packed);
            run(Some(packed));
        });
    } else {
        run(None);
    }
}

/// Products up to this many multiply-adds skip the engine: its packing (and the allocation of
/// its packing buffers) costs more than the product itself at the book's layer sizes
/// (30×2·2×10 is 600 multiply-adds).
const SMALL_GEMM: usize = if cfg!(miri) { 1 << 8 } else { 1 << 14 };

/// Whether an m×k·k×n product takes the direct loops rather than the engine.
pub(crate) fn is_small_product(m: usize, k: usize, n: usize) -> bool {
    m.saturating_mul(n).saturating_mul(k) <= SMALL_GEMM
}

/// Products below this many multiply-adds run as one part: ~40 µs on one core, where a
/// rayon hand-off (~1–5 µs) would cost more than the second core saves.
const PAR_MIN_WORK: usize = if cfg!(miri) { 1 << 12 } else { 1 << 22 };
/// The least multiply-adds in a part.
const PART_WORK: usize = if cfg!(miri) { 1 << 11 } else { 1 << 21 };
/// The least rows (or columns) in a part: with fewer, the engine's repacking of the operand
/// every part shares (B for row parts, A for column parts) costs more than a few percent (at
/// 256, 256×784·784×1024 lost 12% on one thread; at 512, up to 5%). 384 still cuts a side of
/// 784 (the backward's dx of an MNIST layer) in two.
const MIN_PART: usize = if cfg!(miri) { 16 } else { 384 };
/// The most parts: 2 threads get 2 or 4, and one thread pays little for the cut.
const MAX_PARTS: usize = 4;
/// Part boundaries are multiples of this (the engines' tile heights and widths divide it).
const PART_ALIGN: usize = if cfg!(miri) { 16 } else { 64 };
// (Under Miri the thresholds shrink, so its small test shapes still take every path.)

/// Parts of C narrower than this (and at least 4× taller) run as their transpose on
/// matrixmultiply.
const SKINNY: usize = 32;

/// How C is cut: along its rows or its columns, in `parts` parts of `size` (the last shorter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Split {
    by_rows: bool,
    size: usize,
    parts: usize,
}

impl Split {
    /// The cut for an m×k·k×n product: along the longer side of C, so the operand each part
    /// re-packs is the smaller one (A, m×k, when cutting columns; B, k×n, when cutting rows).
    /// A function of the shape alone.
    fn plan(m: usize, k: usize, n: usize) -> Split {
        let by_rows = m > n;
        let dim = if by_rows { m } else { n };
        let work = m.saturating_mul(n).saturating_mul(k);
        let parts = if work < PAR_MIN_WORK {
            1
        } else {
            (dim / MIN_PART).min(work / PART_WORK).clamp(1, MAX_PARTS)
        };
        let size = dim.div_ceil(parts).next_multiple_of(PART_ALIGN).min(dim);
        Split {
            by_rows,
            size,
            parts: dim.div_ceil(size),
        }
    }
}

/// One product cut into parts: raw pointers and strides of views the caller checked.
struct Job<'e, T> {
    engine: GemmEngine,
    /// The caller's SIMD path, for the parts that run nnkern's own kernel.
    isa: Isa,
    /// B packed for the narrow kernel, when the parts take it.
    packed: Option<&'e [T]>,
    split: Split,
    m: usize,
    k: usize,
    n: usize,
    alpha: T,
    beta: T,
    a: *const T,
    rsa: usize,
    csa: usize,
    b: *const T,
    rsb: usize,
    csb: usize,
    c: *mut T,
    rsc: usize,
    csc: usize,
    epilogue: Option<Epilogue<'e, T>>,
}

// SAFETY: a `Job` lives inside one `gemm_then` call, which holds the shared borrows of A and B
// and the exclusive borrow of C for its whole duration. Its parts read A and B (shared reads
// are fine from any thread) and write pairwise disjoint sets of C's elements (distinct rows or
// distinct columns of a view whose elements are pairwise distinct), so sharing it between the
// rayon tasks of that call races on nothing. T is `Float`, hence `Send + Sync`.
unsafe impl<T: Float> Sync for Job<'_, T> {}

impl<T: Float> Job<'_, T> {
    /// Runs parts `p0..p1`, halving the range across `rayon::join` (inline when it is one part,
    /// in order when the pool has one thread).
    fn run(&self, p0: usize, p1: usize) {
        if p1 - p0 == 1 {
            self.part(p0);
        } else if !crate::par::parallel() {
            (p0..p1).for_each(|p| self.part(p));
        } else {
            let mid = p0 + (p1 - p0) / 2;
            rayon::join(|| self.run(p0, mid), || self.run(mid, p1));
        }
    }

    /// Part `p`: the engine on its rows (or columns) of C, then the epilogue on them.
    fn part(&self, p: usize) {
        let Split { by_rows, size, .. } = self.split;
        let dim = if by_rows { self.m } else { self.n };
        let (s, e) = (p * size, ((p + 1) * size).min(dim));
        let (r0, rows, c0, cols) = if by_rows {
            (s, e - s, 0, self.n)
        } else {
            (0, self.m, s, e - s)
        };
        // SAFETY: r0 < m and c0 < n (s < dim since p < parts), so the offset pointers address
        // elements of A (row r0), B (column c0) and C ((r0, c0)) that the checked views
        // contain; the part's rows×k·k×cols product then stays inside those views. Parts
        // write disjoint elements of C (see `Job`'s Sync), and this part's are touched by no
        // other thread during the call.
        unsafe {
            let (a, b, c) = (
                self.a.add(r0 * self.rsa),
                self.b.add(c0 * self.csb),
                self.c.add(r0 * self.rsc + c0 * self.csc),
            );
            let (rsa, csa, rsb, csb) = (
                self.rsa as isize,
                self.csa as isize,
                self.rsb as isize,
                self.csb as isize,
            );
            let (rsc, csc) = (self.rsc as isize, self.csc as isize);
            // matrixmultiply's kernels suit a wide C better than a tall skinny one (a 4096×10
            // product measured ~1.15–1.2× faster as its transpose); the gemm crate makes that
            // choice itself. The transpose is strides only.
            if let Some(packed) = self.packed {
                // SAFETY: as above: rows `rows` of A from `a` (each k contiguous elements:
                // `packed` is given only for A and C of unit column stride) and of C from `c`
                // (each of all n = `cols` columns, contiguous), all whole rows of this part.
                narrow(self.isa, rows, self.k, cols, a, self.rsa, packed, c, self.rsc);
            } else if self.engine == GemmEngine::MatrixMultiply && cols < SKINNY && rows >= 4 * cols {
                T::gemm_raw(
                    Internal,
                    self.engine,
                    cols,
                    self.k,
                    rows,
                    self.alpha,
                    b,
                    csb,
                    rsb,
                    a,
                    csa,
                    rsa,
                    self.beta,
                    c,
                    csc,
                    rsc,
                );
            } else {
                T::gemm_raw(
                    Internal,
                    self.engine,
                    rows,
                    self.k,
                    cols,
                    self.alpha,
                    a,
                    rsa,
                    csa,
                    b,
                    rsb,
                    csb,
                    self.beta,
                    c,
                    rsc,
                    csc,
                );
            }
        }
        if let Some(f) = self.epilogue {
            for i in r0..r0 + rows {
                // SAFETY: C has unit column stride when there is an epilogue (asserted in
                // `gemm_then`), so row i's columns c0..c0+cols are `cols` consecutive
                // elements of C, inside the view; they belong to this part alone and no other
                // reference to them exists while the slice lives.
                let seg = unsafe { std::slice::from_raw_parts_mut(self.c.add(i * self.rsc + c0), cols) };
                f(i, c0, seg);
            }
        }
    }
}

/// C ← α·A·B + β·C by direct loops, allocation-free.
///
/// When B fits [`PACK`] once its rows are padded to a multiple of [`LANES`], B is copied into
/// a zero-padded stack buffer and each row of C is built [`LANES`] columns at a time in a
/// fixed-size accumulator (a vector register on the SIMD paths), summing over k in order:
/// no read-modify-write of C per term. Otherwise each element is a dot product.
fn small_gemm<T: Float>(isa: Isa, alpha: T, a: MatRef<'_, T>, b: MatRef<'_, T>, beta: T, c: MatMut<'_, T>) {
    let (k, n) = (a.cols(), b.cols());
    let nb = n.next_multiple_of(LANES);
    if k * nb <= PACK {
        dispatch(isa, SmallPacked { alpha, a, b, beta, c });
    } else {
        small_dots(alpha, a, b, beta, c);
    }
}

/// Accumulator width of the packed small product: one AVX-512 register of f32.
const LANES: usize = 16;
/// Elements of the stack buffer B is packed into (16 KiB of f32).
const PACK: usize = 4096;

struct SmallPacked<'a, T> {
    alpha: T,
    a: MatRef<'a, T>,
    b: MatRef<'a, T>,
    beta: T,
    c: MatMut<'a, T>,
}

impl<T: Float> Kernel for SmallPacked<'_, T> {
    type Out = ();
    #[inline(always)]
    fn run<M: Math>(self) {
        let SmallPacked {
            alpha,
            a,
            b,
            beta,
            mut c,
        } = self;
        let (m, k, n) = (a.rows(), a.cols(), b.cols());
        let nb = n.next_multiple_of(LANES);
        // Uninitialized storage (zeroing 16 KiB would cost more than a book-sized product);
        // every element read below is written first.
        let mut buf = [MaybeUninit::<T>::uninit(); PACK];
        if nb == LANES {
            // one register-wide row each (the zero padding as part of it, not a separate fill)
            for (l, dst) in buf[..k * nb].chunks_exact_mut(LANES).enumerate() {
                let dst: &mut [MaybeUninit<T>; LANES] = dst.try_into().expect("LANES elements");
                *dst = [MaybeUninit::new(T::ZERO); LANES];
                if b.unit_col_stride() {
                    let br = b.row(l);
                    unrolled!(LANES, |j| {
                        if j < n {
                            dst[j].write(br[j]);
                        }
                    });
                } else {
                    for (j, d) in dst.iter_mut().enumerate().take(n) {
                        d.write(b.at(l, j));
                    }
                }
            }
        }
        let rest = if nb == LANES { 0 } else { k };
        for (l, dst) in buf[..rest * nb].chunks_exact_mut(nb).enumerate() {
            let (head, pad) = dst.split_at_mut(n);
            if b.unit_col_stride() {
                for (d, &v) in head.iter_mut().zip(b.row(l)) {
                    d.write(v);
                }
            } else {
                for (j, d) in head.iter_mut().enumerate() {
                    d.write(b.at(l, j));
                }
            }
            pad.iter_mut().for_each(|d| {
                d.write(T::ZERO);
            });
        }
        // SAFETY: k·nb ≤ PACK (checked by `small_gemm`), and the loop above wrote each of the
        // first k·nb elements; MaybeUninit<T> has T's layout.
        let packed: &[T] = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<T>(), k * nb) };
        if alpha == T::ONE
            && beta == T::ZERO
            && n <= LANES
            && k > 0
            && let Some(cf) = c.as_flat_mut()
        {
            // The layer-sized case (C dense, n ≤ 16, so nb = 16): C in blocks of rows, each
            // row one accumulator register over k, a block's rows independent FMA chains that
            // share each row of packed B (one chain alone waits on the FMA latency k times).
            // Blocks of 4 rows when A's rows are contiguous; all of C at once (≤ 16 rows) when
            // its columns are (A = Xᵀ of a row-major X, as in dW = Xᵀ·dZ); else row by row,
            // each row of A gathered (k ≤ PACK/16) into a buffer.
            if a.unit_col_stride() {
                let quads = m / 4 * 4;
                for i0 in (0..quads).step_by(4) {
                    let r = [a.row(i0), a.row(i0 + 1), a.row(i0 + 2), a.row(i0 + 3)];
                    let at = |l: usize| [r[0][l], r[1][l], r[2][l], r[3][l]];
                    outer_block::<M, T, 4, _>(4, packed, &at, n, cf, i0);
                }
                for i in quads..m {
                    let ar = a.row(i);
                    let at = |l: usize| [ar[l]];
                    outer_block::<M, T, 1, _>(1, packed, &at, n, cf, i);
                }
            } else if m <= LANES && a.t().unit_col_stride() {
                let at_t = a.t();
                let at = |l: usize| at_t.row(l);
                match m {
                    0..=4 => outer_block::<M, T, 4, _>(m, packed, &at, n, cf, 0),
                    5..=8 => outer_block::<M, T, 8, _>(m, packed, &at, n, cf, 0),
                    9..=12 => outer_block::<M, T, 12, _>(m, packed, &at, n, cf, 0),
                    _ => outer_block::<M, T, 16, _>(m, packed, &at, n, cf, 0),
                }
            } else {
                let mut abuf = [T::ZERO; PACK / LANES];
                for i in 0..m {
                    let ar = a.row_into(i, &mut abuf);
                    let at = |l: usize| [ar[l]];
                    outer_block::<M, T, 1, _>(1, packed, &at, n, cf, i);
                }
            }
            return;
        }
        for i in 0..m {
            for j0 in (0..n).step_by(LANES) {
                let mut acc = [T::ZERO; LANES];
                for l in 0..k {
                    let s = a.at(i, l);
                    let bl: &[T; LANES] = packed[l * nb + j0..][..LANES].try_into().expect("LANES elements");
                    for t in 0..LANES {
                        acc[t] += s * bl[t];
                    }
                }
                let store = |cv: &mut T, v: T| {
                    *cv = if beta == T::ZERO {
                        alpha * v
                    } else {
                        alpha * v + beta * *cv
                    };
                };
                if c.unit_col_stride() {
                    c.row_mut(i)[j0..]
                        .iter_mut()
                        .zip(acc)
                        .for_each(|(cv, v)| store(cv, v));
                } else {
                    for (t, &v) in acc.iter().enumerate().take(n - j0) {
                        store(c.at_mut(i, j0 + t), v);
                    }
                }
            }
        }
    }
}

/// B (k×n, n ≤ [`LANES`]) into `packed` as k rows of [`LANES`], zero-padded, for [`narrow`].
fn pack_narrow<T: Float>(b: MatRef<'_, T>, packed: &mut [T]) {
    let n = b.cols();
    for (l, row) in packed.chunks_exact_mut(LANES).enumerate() {
        for (j, o) in row.iter_mut().enumerate() {
            *o = if j < n { b.at(l, j) } else { T::ZERO };
        }
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

/// C ← A·B for a narrow C (n ≤ [`LANES`]) whose rows and A's rows are contiguous, from B
/// packed by [`pack_narrow`] (k rows of 16, zero-padded): rows of C are computed
/// [`NARROW_ROWS`] at a time (each load of B serving all of them), each row as two
/// interleaved accumulator chains over k (l mod 2) added at the end. The result of a row
/// does not depend on which rows share its part. Runs on `isa`, the caller's path.
///
/// # Safety
///
/// `a` addresses an m×k matrix with row stride `rsa` (rows may overlap: A is only read) and
/// unit column stride, `packed` holds k·[`LANES`] elements, `c` an m×n matrix with row stride
/// `rsc` ≥ n and unit column stride whose rows from `c` to the end of its last row are
/// exclusively the caller's; C overlaps neither A nor `packed`.
#[allow(clippy::too_many_arguments)]
unsafe fn narrow<T: Float>(
    isa: Isa,
    m: usize,
    k: usize,
    n: usize,
    a: *const T,
    rsa: usize,
    packed: &[T],
    c: *mut T,
    rsc: usize,
) {
    if m == 0 {
        return;
    }
    // SAFETY: A's rows 0..m span (m−1)·rsa + k elements from `a`, and C's (m−1)·rsc + n from
    // `c`, exclusively ours (caller's contract); shared A and exclusive C do not overlap.
    let (af, cf) = unsafe {
        (
            std::slice::from_raw_parts(a, (m - 1) * rsa + k),
            std::slice::from_raw_parts_mut(c, (m - 1) * rsc + n),
        )
    };
    dispatch(
        isa,
        Narrow {
            m,
            af,
            rsa,
            k,
            n,
            packed,
            cf,
            rsc,
        },
    );
}

struct Narrow<'a, T> {
    m: usize,
    af: &'a [T],
    rsa: usize,
    k: usize,
    n: usize,
    packed: &'a [T],
    cf: &'a mut [T],
    rsc: usize,
}

impl<T: Float> Kernel for Narrow<'_, T> {
    type Out = ();
    #[inline(always)]
    fn run<M: Math>(self) {
        let Narrow {
            m,
            af,
            rsa,
            k,
            n,
            packed,
            cf,
            rsc,
        } = self;
        let mut store = |i: usize, sum: &[T; LANES]| store_row(cf, i * rsc, n, rsc == n, sum);
        let row = |i: usize| &af[i * rsa..i * rsa + k];
        // NARROW_ROWS rows at a time share each load of B; leftover rows go one at a time through
        // the same arithmetic (two chains per row, l mod 2), so a row's result does not
        // depend on its group.
        let full = m / NARROW_ROWS * NARROW_ROWS;
        for i in (0..full).step_by(NARROW_ROWS) {
            let sums = narrow_rows::<M, T, NARROW_ROWS>(std::array::from_fn(|r| row(i + r)), packed, k);
            for (r, sum) in sums.iter().enumerate() {
                store(i + r, sum);
            }
        }
        for i in full..m {
            let [sum] = narrow_rows::<M, T, 1>([row(i)], packed, k);
            store(i, &sum);
        }
    }
}

/// Writes row `acc[..n]` of C at offset `o` of `cf`. In a dense C (rows back to back, written
/// in order) the whole 16-lane vector is stored where `cf` has room: the lanes past the row
/// land on the next row, which is written after.
#[inline(always)]
fn store_row<T: Float>(cf: &mut [T], o: usize, n: usize, dense: bool, acc: &[T; LANES]) {
    match cf.get_mut(o..o + LANES) {
        Some(dst) if dense => {
            let dst: &mut [T; LANES] = dst.try_into().expect("LANES elements");
            *dst = *acc;
        }
        _ => cf[o..o + n].copy_from_slice(&acc[..n]),
    }
}

/// Rows of C computed together in [`narrow`] (each load of B serves all of them).
const NARROW_ROWS: usize = 4;

/// R rows of a narrow product: two accumulator chains per row (even and odd l), added at the
/// end.
#[inline(always)]
fn narrow_rows<M: Math, T: Float, const R: usize>(ars: [&[T]; R], packed: &[T], k: usize) -> [[T; LANES]; R] {
    let mut even = [[T::ZERO; LANES]; R];
    let mut odd = [[T::ZERO; LANES]; R];
    let pairs = k / 2;
    for (p, bq) in packed.chunks_exact(2 * LANES).take(pairs).enumerate() {
        let (b0, b1) = bq.split_at(LANES);
        for r in 0..R {
            axpy16::<M, T>(&mut even[r], ars[r][2 * p], b0);
            axpy16::<M, T>(&mut odd[r], ars[r][2 * p + 1], b1);
        }
    }
    if k % 2 == 1 {
        let bl = &packed[(k - 1) * LANES..k * LANES];
        for r in 0..R {
            axpy16::<M, T>(&mut even[r], ars[r][k - 1], bl);
        }
    }
    let mut sums = [[T::ZERO; LANES]; R];
    for r in 0..R {
        for t in 0..LANES {
            sums[r][t] = even[r][t] + odd[r][t];
        }
    }
    sums
}

/// Rows i0..i0 + rows (≤ R) of C = A·B (C dense with n ≤ 16 columns, B packed in rows of 16)
/// as a sum of outer products over l: R accumulator rows each gain A[i, l]·B[l, :] per step
/// (`at(l)` holds A[i0 + i, l] for i < rows; the rows past it gain 0), so R independent FMA
/// chains share each row of B. Each element is Σ_l A[i, l]·B[l, j] in the order of l,
/// whatever the block, so results do not depend on the blocking. A row is stored as a whole
/// register where C has room past it (the lanes past the row land on the next row, written
/// after), the last row of C exactly.
#[inline(always)]
fn outer_block<M: Math, T: Float, const R: usize, C: AsRef<[T]>>(
    rows: usize,
    packed: &[T],
    at: &impl Fn(usize) -> C,
    n: usize,
    cf: &mut [T],
    i0: usize,
) {
    let mut acc = [[T::ZERO; LANES]; R];
    for (l, bl) in packed.chunks_exact(LANES).enumerate() {
        let col = at(l);
        let col = col.as_ref();
        unrolled!(R, |i| {
            axpy16::<M, T>(&mut acc[i], col.get(i).copied().unwrap_or(T::ZERO), bl);
        });
    }
    unrolled!(R, |i| {
        if i < rows {
            let o = (i0 + i) * n;
            if let Some(dst) = cf.get_mut(o..o + LANES) {
                let dst: &mut [T; LANES] = dst.try_into().expect("LANES elements");
                *dst = acc[i];
            } else {
                cf[o..o + n].iter_mut().zip(acc[i]).for_each(|(d, v)| *d = v);
            }
        }
    });
}

/// acc ← acc + s·b over 16 lanes (one vector register on AVX-512 for f32).
#[inline(always)]
fn axpy16<M: Math, T: Float>(acc: &mut [T; LANES], s: T, b: &[T]) {
    let b: &[T; LANES] = b.try_into().expect("LANES elements");
    for t in 0..LANES {
        acc[t] = if M::FMA {
            s.fused_mul_add(Internal, b[t], acc[t])
        } else {
            acc[t] + s * b[t]
        };
    }
}

/// C ← α·A·B + β·C one dot product per element (B too large to pack).
fn small_dots<T: Float>(alpha: T, a: MatRef<'_, T>, b: MatRef<'_, T>, beta: T, mut c: MatMut<'_, T>) {
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    for i in 0..m {
        for j in 0..n {
            let mut acc = T::ZERO;
            for l in 0..k {
                acc += a.at(i, l) * b.at(l, j);
            }
            let cv = c.at_mut(i, j);
            *cv = if beta == T::ZERO {
                alpha * acc
            } else {
                alpha * acc + beta * *cv
            };
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The cut depends on the shape alone, along C's longer side, in at most `MAX_PARTS`
    /// aligned parts of at least `MIN_PART` (the last may be shorter), covering C exactly.
    #[test]
    #[cfg_attr(miri, ignore)] // the thresholds differ under Miri
    fn split_plan() {
        let one = |by_rows, dim| Split {
            by_rows,
            size: dim,
            parts: 1,
        };
        assert_eq!(Split::plan(100, 100, 100), one(false, 100)); // 1M multiply-adds: one part
        assert_eq!(
            Split::plan(256, 784, 1024),
            Split {
                by_rows: false,
                size: 512,
                parts: 2
            }
        );
        assert_eq!(
            Split::plan(1024, 1024, 1024),
            Split {
                by_rows: false,
                size: 512,
                parts: 2
            }
        );
        assert_eq!(
            Split::plan(64, 4096, 4096),
            Split {
                by_rows: false,
                size: 1024,
                parts: 4
            }
        );
        assert_eq!(
            Split::plan(4096, 512, 10),
            Split {
                by_rows: true,
                size: 1024,
                parts: 4
            }
        );
        assert_eq!(
            Split::plan(2100, 300, 530),
            Split {
                by_rows: true,
                size: 576,
                parts: 4
            }
        );
        for (m, k, n) in [
            (5000, 7, 333),
            (777, 999, 1500),
            (513, 4096, 513),
            (100_000, 1, 100),
        ] {
            let s = Split::plan(m, k, n);
            let dim = if s.by_rows { m } else { n };
            assert_eq!(s.by_rows, m > n);
            assert!((1..=MAX_PARTS).contains(&s.parts));
            assert!(s.parts == 1 || (s.size.is_multiple_of(PART_ALIGN) && s.size >= MIN_PART));
            assert!(
                s.size * (s.parts - 1) < dim && s.size * s.parts >= dim,
                "{s:?} for {m}×{k}×{n}"
            );
        }
    }
}
