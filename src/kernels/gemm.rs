//! The general matrix product: a call of its body in `crate::gemm`.

use crate::error::Result;
use crate::float::Float;
use crate::mat::{MatMut, MatRef};
use crate::simd::Internal;

/// C ← α·A·B + β·C for any strided views (A: m×k, B: k×n, C: m×n).
///
/// The general matrix product on the calling thread's GEMM engine ([`gemm_engine`](crate::gemm_engine); by
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
/// [`ErrorKind::Shape`](crate::ErrorKind::Shape) naming `b` if `b.rows() != a.cols()`, naming `c` if C is not
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
