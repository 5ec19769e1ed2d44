//! The GEMM: the public API and its checks here, and the only caller of the GEMM engines.
//! Its files are layers, each importing only those below it, bottom first:
//!
//! - `engines`: the engine a thread uses, the third-party engines' calls (`matrixmultiply`;
//!   the `gemm` crate with the feature) and the GEMM's element trait `GemmFloat`;
//! - `operands`: one product's raw operands, its size class, the thread's packing buffer;
//! - `small`: nnkern's kernels for small and narrow products, on every engine;
//! - `packed`: nnkern's own engine (packing, register tiles, its task grid);
//! - `parts`: the parallel split of a product into single-threaded calls of the third-party
//!   engines;
//! - this file: the public API, its checks and the choice among the above.

mod engines;
mod operands;
mod packed;
mod parts;
mod small;

pub(crate) use engines::GemmFloat;
pub use engines::{GemmEngine, gemm_engine, with_gemm_engine};
pub(crate) use operands::{Epilogue, is_small_product};

use crate::error::{Error, ErrorKind, Result};
use crate::mat::{MatMut, MatRef};
use crate::simd::Isa;
use operands::{Operands, with_pack_buf};
use parts::{Job, Split};
use small::{LANES, narrow_pack_b, small_gemm};

/// [`gemm()`](crate::gemm())'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn gemm_impl<T: GemmFloat>(
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

/// The body of [`gemm()`](crate::gemm()) once the shapes agree; crate kernels call it after their own checks
/// (which name their own arguments).
pub(crate) fn gemm_checked<T: GemmFloat>(
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
pub(crate) fn gemm_then<T: GemmFloat>(
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

/// C ← β·C, with β = 0 writing zeros without reading C.
fn scale<T: GemmFloat>(beta: T, c: &mut MatMut<'_, T>) {
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
