//! Views of `ndarray` arrays (cargo feature `ndarray`).
//!
//! `MatRef::try_from(a.view())` and `MatMut::try_from(a.view_mut())` take any 2-D view,
//! sliced and strided ones included, without copying. ndarray allows negative strides (a
//! reversed axis, `s![..;-1]`); nnkern's views do not, so such a view gets a clear
//! [`ErrorKind::Stride`] error (call `.as_standard_layout()` on it first, or invert the axis
//! back with `invert_axis`).

use crate::error::{Error, ErrorKind, Result};
use crate::mat::{MatMut, MatRef};
use ndarray::{ArrayView2, ArrayViewMut2};

/// The strides of a 2-D view as nnkern's (non-negative) strides. An axis of length ≤ 1
/// has no step between elements, so its stride is irrelevant and read as 0.
fn strides(op: &'static str, dim: (usize, usize), strides: &[isize]) -> Result<(usize, usize)> {
    let one = |len: usize, s: isize, axis: usize| -> Result<usize> {
        if len <= 1 {
            return Ok(0);
        }
        usize::try_from(s).map_err(|_| {
            Error::new(
                op,
                "view",
                ErrorKind::Stride,
                format!(
                    "has stride {s} along axis {axis}: a reversed (negative-stride) axis is not \
                     supported; use .as_standard_layout() or invert_axis first"
                ),
            )
        })
    };
    Ok((one(dim.0, strides[0], 0)?, one(dim.1, strides[1], 1)?))
}

/// An ndarray 2-D view as a [`MatRef`], without copying: rows and columns as the array's
/// axes 0 and 1, strides as its strides.
///
/// # Errors
///
/// [`ErrorKind::Stride`] naming `view` if a stride is negative.
///
/// # Example
///
/// ```
/// use ndarray::{array, s};
/// use nnkern::MatRef;
///
/// let a = array![[1.0_f32, 2.0, 3.0], [4.0, 5.0, 6.0]];
/// // every second column: a 2×2 strided view
/// let v = MatRef::try_from(a.slice(s![.., ..;2]))?;
/// assert_eq!((v.get(1, 1), v.col_stride()), (Some(6.0), 2));
/// # Ok::<(), nnkern::Error>(())
/// ```
impl<'a, T: Copy> TryFrom<ArrayView2<'a, T>> for MatRef<'a, T> {
    type Error = Error;

    fn try_from(view: ArrayView2<'a, T>) -> Result<Self> {
        const OP: &str = "MatRef::try_from(ArrayView2)";
        let (rs, cs) = strides(OP, view.dim(), view.strides())?;
        let (rows, cols) = view.dim();
        // SAFETY: an `ArrayView2<'a, T>` guarantees that each of its elements, at
        // ptr + i·stride0 + j·stride1, is an initialised, aligned `T` of one allocation,
        // shared-borrowed for 'a; the strides are the view's own (a length-≤1 axis adds no
        // offset whatever its stride), and `MatRef` reads nothing but those elements.
        unsafe { MatRef::from_raw_parts(view.as_ptr(), rows, cols, rs, cs) }
    }
}

/// An ndarray 2-D mutable view as a [`MatMut`], without copying.
///
/// # Errors
///
/// [`ErrorKind::Stride`] naming `view` if a stride is negative, or naming `strides` if the
/// layout is one nnkern cannot prove free of aliasing (rows and columns interleaved).
///
/// # Example
///
/// ```
/// use ndarray::{Array2, s};
/// use nnkern::MatMut;
///
/// let mut a = Array2::<f32>::zeros((3, 4));
/// // write the 3×2 middle columns through a strided view
/// let mut v = MatMut::try_from(a.slice_mut(s![.., 1..3]))?;
/// v.fill(1.0);
/// assert_eq!(a.row(0).to_vec(), [0.0, 1.0, 1.0, 0.0]);
/// # Ok::<(), nnkern::Error>(())
/// ```
impl<'a, T: Copy> TryFrom<ArrayViewMut2<'a, T>> for MatMut<'a, T> {
    type Error = Error;

    fn try_from(mut view: ArrayViewMut2<'a, T>) -> Result<Self> {
        const OP: &str = "MatMut::try_from(ArrayViewMut2)";
        let (rs, cs) = strides(OP, view.dim(), view.strides())?;
        let (rows, cols) = view.dim();
        // SAFETY: an `ArrayViewMut2<'a, T>` exclusively borrows its elements for 'a, each an
        // initialised, aligned `T` of one allocation at the view's strides, no two at the same
        // location; the view is consumed, so its borrow passes to the `MatMut`, which touches
        // nothing but those elements.
        unsafe { MatMut::from_raw_parts(view.as_mut_ptr(), rows, cols, rs, cs) }
    }
}
