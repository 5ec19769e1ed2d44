//! The safe GEMM wrapper: the only caller of the GEMM engine (`matrixmultiply`).

use crate::error::{Error, ErrorKind, Result};
use crate::float::{Float, sealed::Sealed};
use crate::mat::{MatMut, MatRef};

macro_rules! impl_gemm_raw {
    ($t:ty, $kernel:path) => {
        impl Sealed for $t {
            #[inline]
            unsafe fn gemm_raw(
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
                // SAFETY: the caller upholds `gemm_raw`'s contract, which is the engine's:
                // every indexed element in bounds, C non-aliasing and exclusively ours.
                unsafe { $kernel(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
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

/// The body of [`gemm`] once the shapes agree; crate kernels call it after their own checks
/// (which name their own arguments).
pub(crate) fn gemm_checked<T: Float>(
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    mut c: MatMut<'_, T>,
) {
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    // Shapes agreeing is what makes the raw call in bounds: re-check in every build, so a
    // crate-internal caller that forgot cannot turn into an out-of-bounds access.
    assert!(
        b.rows() == k && c.rows() == m && c.cols() == n,
        "gemm_checked: shape mismatch"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 || alpha == T::ZERO {
        scale(beta, &mut c);
        return;
    }
    if m * n * k <= SMALL_GEMM {
        small_gemm(alpha, a, b, beta, c);
        return;
    }
    let cp = c.as_mut_ptr();
    // SAFETY: `MatRef`/`MatMut` constructors proved every element (i, j) with i < rows, j < cols
    // lies inside its slice, and the assert above ties m, k, n to those dims, so every access
    // the engine makes is in bounds. `MatMut` strides never alias (checked at construction), and
    // `c` borrows its slice mutably, so it overlaps neither `a` nor `b` and no other thread can
    // touch it. Strides fit in isize (checked at construction).
    unsafe {
        T::gemm_raw(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            a.row_stride() as isize,
            a.col_stride() as isize,
            b.as_ptr(),
            b.row_stride() as isize,
            b.col_stride() as isize,
            beta,
            cp,
            c.row_stride() as isize,
            c.col_stride() as isize,
        );
    }
}

/// Products up to this many multiply-adds skip the engine: its packing (and the allocation of
/// its packing buffers) costs more than the product itself at the book's layer sizes
/// (30×2·2×10 is 600 multiply-adds).
const SMALL_GEMM: usize = 1 << 14;

/// C ← α·A·B + β·C by direct loops, allocation-free. When rows of C and B are contiguous,
/// each row of C is β·c (or 0: C unread) plus Σ_l (α·a_il)·b_l, vectorized along the row; when
/// columns of B are contiguous (B a transpose, as in backward passes), each element is a dot
/// product of two contiguous runs; other layouts take the element-by-element loop.
fn small_gemm<T: Float>(alpha: T, a: MatRef<'_, T>, b: MatRef<'_, T>, beta: T, mut c: MatMut<'_, T>) {
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    if c.unit_col_stride() && b.unit_col_stride() {
        for i in 0..m {
            let crow = c.row_mut(i);
            if beta == T::ZERO {
                crow.fill(T::ZERO);
            } else if beta != T::ONE {
                crow.iter_mut().for_each(|v| *v = beta * *v);
            }
            for l in 0..k {
                let s = alpha * a.at(i, l);
                for (cv, &bv) in crow.iter_mut().zip(b.row(l)) {
                    *cv += s * bv;
                }
            }
        }
    } else if b.t().unit_col_stride() && a.unit_col_stride() && n > 0 {
        let bt = b.t();
        for i in 0..m {
            let arow = a.row(i);
            for j in 0..n {
                let acc = arow.iter().zip(bt.row(j)).fold(T::ZERO, |s, (&x, &y)| s + x * y);
                let cv = c.at_mut(i, j);
                *cv = if beta == T::ZERO {
                    alpha * acc
                } else {
                    alpha * acc + beta * *cv
                };
            }
        }
    } else {
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
