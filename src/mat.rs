//! `MatRef` / `MatMut`: checked, strided, copy-free matrix views over slices.

use crate::error::{Error, ErrorKind, Result};
use std::fmt;
use std::marker::PhantomData;
use std::ptr::NonNull;

/// The number of slice elements a `rows × cols` view with strides `rs`, `cs` spans:
/// `(rows−1)·rs + (cols−1)·cs + 1`, or 0 for an empty view; `None` if it overflows `usize`.
fn extent(rows: usize, cols: usize, rs: usize, cs: usize) -> Option<usize> {
    if rows == 0 || cols == 0 {
        return Some(0);
    }
    (rows - 1)
        .checked_mul(rs)?
        .checked_add((cols - 1).checked_mul(cs)?)?
        .checked_add(1)
}

/// Checks dimensions, strides and slice length shared by both view kinds.
fn check_view(op: &'static str, len: usize, rows: usize, cols: usize, rs: usize, cs: usize) -> Result<()> {
    if rs > isize::MAX as usize || cs > isize::MAX as usize {
        return Err(Error::new(
            op,
            "strides",
            ErrorKind::Stride,
            format!("({rs}, {cs}) exceed isize::MAX"),
        ));
    }
    let need = extent(rows, cols, rs, cs).ok_or_else(|| {
        Error::new(
            op,
            "strides",
            ErrorKind::Overflow,
            format!(
                "({rs}, {cs}) for a {rows}×{cols} view reach past usize::MAX \
                 ((rows−1)·row_stride + (cols−1)·col_stride overflows)"
            ),
        )
    })?;
    // Every element must be addressable by an `isize` count, as for a slice: a kernel sizes
    // its loops and its scratch from rows·cols, and a broadcast view (stride 0) could
    // otherwise claim more elements than any size computation can hold.
    if rows.checked_mul(cols).is_none_or(|e| e > isize::MAX as usize) {
        return Err(Error::new(
            op,
            "rows",
            ErrorKind::Overflow,
            format!(
                "× cols = {rows}×{cols} is more than isize::MAX elements (a view, like a slice, \
                 holds at most isize::MAX)"
            ),
        ));
    }
    if need > len {
        return Err(Error::new(
            op,
            "data",
            ErrorKind::Length,
            format!(
                "needs at least {need} elements for a {rows}×{cols} view with strides \
                 ({rs}, {cs}) but has {len}"
            ),
        ));
    }
    Ok(())
}

/// An immutable `rows × cols` view: element (i, j) is `data[i·row_stride + j·col_stride]`.
///
/// Built only by checked constructors, so every element of the view lies inside its slice
/// (or, for [`from_raw_parts`](Self::from_raw_parts) and the `ndarray` conversions, is an
/// element the caller's view owns: a view never reads memory between its elements).
/// Any strides are allowed, zero included (a zero row stride broadcasts one row to all rows).
/// [`t`](Self::t) transposes by swapping the strides, without copying. `MatRef` is `Copy`.
///
/// # Example
///
/// ```
/// use nnkern::MatRef;
///
/// // 2×3, row-major
/// let data = [1.0_f32, 2.0, 3.0, 4.0, 5.0, 6.0];
/// let a = MatRef::from_row_major(&data, 2, 3)?;
/// assert_eq!(a.get(1, 2), Some(6.0));
/// // its 3×2 transpose, no copy
/// let at = a.t();
/// assert_eq!((at.rows(), at.cols()), (3, 2));
/// assert_eq!(at.get(2, 1), Some(6.0));
/// # Ok::<(), nnkern::Error>(())
/// ```
pub struct MatRef<'a, T> {
    /// Element (0, 0). Invariant: for every i < rows and j < cols, `ptr + i·rs + j·cs` is an
    /// initialised `T` of one allocation, readable and not written for `'a`; the largest such
    /// offset times `size_of::<T>()` fits in `isize`; rows·cols ≤ isize::MAX.
    ptr: NonNull<T>,
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
    _borrow: PhantomData<&'a [T]>,
}

impl<T> Clone for MatRef<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for MatRef<'_, T> {}

// SAFETY: a `MatRef` is a shared borrow of `T`s (like `&'a [T]`), so it may cross or be
// shared between threads exactly when `&T` may: when `T: Sync`.
unsafe impl<T: Sync> Send for MatRef<'_, T> {}
// SAFETY: as above; `&MatRef` only gives out shared reads.
unsafe impl<T: Sync> Sync for MatRef<'_, T> {}

/// A mutable `rows × cols` view: element (i, j) is `data[i·row_stride + j·col_stride]`.
///
/// Like [`MatRef`], but the constructors also require that no two elements share a memory
/// location (strides may not alias), so kernels may write every element independently, on
/// any thread. Kernels that write row by row (elementwise and row kernels) additionally need
/// a unit column stride; GEMM outputs may use any non-aliasing strides.
///
/// # Example
///
/// ```
/// use nnkern::MatMut;
///
/// let mut buf = [0.0_f64; 8];
/// // a 2×3 view with row stride 4 (one element of padding per row)
/// let mut y = MatMut::from_strided(&mut buf, 2, 3, 4, 1)?;
/// y.set(1, 2, 7.0);
/// assert_eq!(buf[6], 7.0);
/// # Ok::<(), nnkern::Error>(())
/// ```
pub struct MatMut<'a, T> {
    /// Element (0, 0). Invariant: as [`MatRef`]'s, with every element also writable and
    /// borrowed exclusively for `'a`, and no two (i, j) at the same location.
    ptr: NonNull<T>,
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
    _borrow: PhantomData<&'a mut [T]>,
}

// SAFETY: a `MatMut` is an exclusive borrow of `T`s (like `&'a mut [T]`): it may move to
// another thread when `T: Send`.
unsafe impl<T: Send> Send for MatMut<'_, T> {}
// SAFETY: `&MatMut` only gives out shared reads (`get`, `rb`), as `&&mut [T]` does.
unsafe impl<T: Sync> Sync for MatMut<'_, T> {}

impl<T> fmt::Debug for MatRef<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MatRef")
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .field("row_stride", &self.rs)
            .field("col_stride", &self.cs)
            .finish()
    }
}

impl<T> fmt::Debug for MatMut<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MatMut")
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .field("row_stride", &self.rs)
            .field("col_stride", &self.cs)
            .finish()
    }
}

impl<'a, T> MatRef<'a, T> {
    /// The view of `data`'s elements at these dimensions (the caller checked them: every
    /// element inside `data`).
    fn of_slice(data: &'a [T], rows: usize, cols: usize, rs: usize, cs: usize) -> Self {
        MatRef {
            ptr: NonNull::from(data).cast(),
            rows,
            cols,
            rs,
            cs,
            _borrow: PhantomData,
        }
    }
}

/// A 1×len view of a slice (row-major), so an elementwise kernel runs on a flat buffer:
/// `sigmoid_forward(x.into(), y.into())`.
///
/// # Example
///
/// ```
/// let x = [0.0_f32, 1.0, -1.0];
/// let mut y = [9.0_f32; 3];
/// nnkern::sigmoid_forward(x[..].into(), (&mut y[..]).into())?;
/// assert_eq!(y[0], 0.5);
/// # Ok::<(), nnkern::Error>(())
/// ```
impl<'a, T> From<&'a [T]> for MatRef<'a, T> {
    fn from(data: &'a [T]) -> Self {
        // a slice holds at most isize::MAX bytes: every size check holds
        MatRef::of_slice(data, 1, data.len(), data.len(), 1)
    }
}

/// A 1×len mutable view of a slice (row-major), for elementwise kernels on flat buffers.
///
/// # Example
///
/// ```
/// let mut y = vec![0.0_f64; 4];
/// let view: nnkern::MatMut<'_, f64> = y.as_mut_slice().into();
/// assert_eq!((view.rows(), view.cols()), (1, 4));
/// ```
impl<'a, T> From<&'a mut [T]> for MatMut<'a, T> {
    fn from(data: &'a mut [T]) -> Self {
        let len = data.len();
        MatMut::of_slice(data, 1, len, len, 1)
    }
}

impl<'a, T> MatMut<'a, T> {
    /// The view of `data`'s elements at these dimensions (the caller checked them: every
    /// element inside `data`, none sharing a location).
    fn of_slice(data: &'a mut [T], rows: usize, cols: usize, rs: usize, cs: usize) -> Self {
        MatMut {
            ptr: NonNull::from(data).cast(),
            rows,
            cols,
            rs,
            cs,
            _borrow: PhantomData,
        }
    }
}

/// Checks what a raw view needs beyond the caller's promises — a non-null pointer (returned as
/// the view's `NonNull`), strides and an extent whose byte offsets fit in `isize` (as
/// `pointer::add` requires).
fn check_raw<T>(
    op: &'static str,
    ptr: *const T,
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
) -> Result<NonNull<T>> {
    let Some(nn) = NonNull::new(ptr.cast_mut()) else {
        return Err(Error::new(op, "ptr", ErrorKind::Value, "is null".to_string()));
    };
    check_view(op, usize::MAX, rows, cols, rs, cs)?;
    let need = extent(rows, cols, rs, cs).unwrap_or(usize::MAX);
    if need
        .checked_mul(size_of::<T>())
        .is_none_or(|b| b > isize::MAX as usize)
    {
        return Err(Error::new(
            op,
            "strides",
            ErrorKind::Overflow,
            format!("({rs}, {cs}) for a {rows}×{cols} view span more than isize::MAX bytes"),
        ));
    }
    Ok(nn)
}

impl<'a, T: Copy> MatRef<'a, T> {
    /// A `rows × cols` view of a row-major slice (row stride `cols`, column stride 1).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Length`] if `data.len() != rows·cols`; [`ErrorKind::Overflow`] if
    /// `rows·cols` overflows `usize`.
    ///
    /// # Example
    ///
    /// ```
    /// let x = nnkern::MatRef::from_row_major(&[1.0_f32, 2.0, 3.0, 4.0], 2, 2)?;
    /// assert_eq!(x.get(1, 0), Some(3.0));
    /// # Ok::<(), nnkern::Error>(())
    /// ```
    pub fn from_row_major(data: &'a [T], rows: usize, cols: usize) -> Result<Self> {
        check_exact("MatRef::from_row_major", data.len(), rows, cols)?;
        Ok(MatRef::of_slice(data, rows, cols, cols, 1))
    }

    /// A `rows × cols` view of a column-major slice (row stride 1, column stride `rows`).
    ///
    /// # Errors
    ///
    /// As [`from_row_major`](Self::from_row_major).
    ///
    /// # Example
    ///
    /// ```
    /// let x = nnkern::MatRef::from_col_major(&[1.0_f32, 2.0, 3.0, 4.0], 2, 2)?;
    /// assert_eq!(x.get(1, 0), Some(2.0));
    /// # Ok::<(), nnkern::Error>(())
    /// ```
    pub fn from_col_major(data: &'a [T], rows: usize, cols: usize) -> Result<Self> {
        check_exact("MatRef::from_col_major", data.len(), rows, cols)?;
        Ok(MatRef::of_slice(data, rows, cols, 1, rows))
    }

    /// A `rows × cols` view with explicit strides: element (i, j) is
    /// `data[i·row_stride + j·col_stride]`. Any strides are allowed, zero included.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Length`] if the view reaches past the end of `data`;
    /// [`ErrorKind::Overflow`] if `(rows−1)·row_stride + (cols−1)·col_stride` overflows, or
    /// if the view has more than `isize::MAX` elements (rows·cols: a broadcast view is
    /// limited like a slice); [`ErrorKind::Stride`] if a stride exceeds `isize::MAX`.
    ///
    /// # Example
    ///
    /// ```
    /// // the bias vector b broadcast to 3 rows: row stride 0
    /// let b = [0.5_f32, -0.5];
    /// let bb = nnkern::MatRef::from_strided(&b, 3, 2, 0, 1)?;
    /// assert_eq!(bb.get(2, 1), Some(-0.5));
    /// # Ok::<(), nnkern::Error>(())
    /// ```
    pub fn from_strided(
        data: &'a [T],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Result<Self> {
        check_view(
            "MatRef::from_strided",
            data.len(),
            rows,
            cols,
            row_stride,
            col_stride,
        )?;
        Ok(MatRef::of_slice(data, rows, cols, row_stride, col_stride))
    }

    /// A view over memory the caller describes by a pointer and strides: element (i, j) is
    /// at `ptr.add(i·row_stride + j·col_stride)`. For a framework's own tensor type; the
    /// `ndarray` conversions are built on it. Memory between the elements is never read, so
    /// the elements may interleave with memory borrowed elsewhere (a column slice of a
    /// matrix another thread writes the other columns of).
    ///
    /// # Safety
    ///
    /// - `ptr` is aligned for `T` (even when the view is empty);
    /// - every element (i < rows, j < cols) lies in the same allocation as `ptr`, is an
    ///   initialised `T`, and is not written by anyone for the lifetime `'a`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Value`] naming `ptr` if it is null; [`ErrorKind::Stride`] if a stride
    /// exceeds `isize::MAX`; [`ErrorKind::Overflow`] if the offsets of the view overflow or
    /// reach past `isize::MAX` bytes, or the view has more than `isize::MAX` elements.
    ///
    /// # Example
    ///
    /// ```
    /// let data = [1.0_f32, 2.0, 3.0, 4.0, 5.0, 6.0];
    /// // column 1 of a 3×2 row-major matrix, as a 3×1 view
    /// // SAFETY: elements 1, 3, 5 of `data`, which outlives the view and is not written
    /// let col = unsafe { nnkern::MatRef::from_raw_parts(data.as_ptr().add(1), 3, 1, 2, 1)? };
    /// assert_eq!(col.get(2, 0), Some(6.0));
    /// # Ok::<(), nnkern::Error>(())
    /// ```
    pub unsafe fn from_raw_parts(
        ptr: *const T,
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Result<Self> {
        let ptr = check_raw("MatRef::from_raw_parts", ptr, rows, cols, row_stride, col_stride)?;
        Ok(MatRef {
            ptr,
            rows,
            cols,
            rs: row_stride,
            cs: col_stride,
            _borrow: PhantomData,
        })
    }

    /// The transpose, `cols × rows`, sharing the same memory (strides swapped, nothing copied).
    ///
    /// # Example
    ///
    /// ```
    /// let x = nnkern::MatRef::from_row_major(&[1.0_f32, 2.0, 3.0], 1, 3)?;
    /// assert_eq!(x.t().rows(), 3);
    /// # Ok::<(), nnkern::Error>(())
    /// ```
    #[must_use]
    pub fn t(self) -> MatRef<'a, T> {
        MatRef {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Distance in elements between (i, j) and (i+1, j).
    pub fn row_stride(&self) -> usize {
        self.rs
    }

    /// Distance in elements between (i, j) and (i, j+1).
    pub fn col_stride(&self) -> usize {
        self.cs
    }

    /// Element (i, j), or `None` if `i ≥ rows` or `j ≥ cols`.
    pub fn get(&self, i: usize, j: usize) -> Option<T> {
        (i < self.rows && j < self.cols).then(|| self.at(i, j))
    }

    /// Rows `start..end` as a view, or `None` if the range is not inside `0..rows`.
    ///
    /// # Example
    ///
    /// ```
    /// let x = nnkern::MatRef::from_row_major(&[1.0_f32, 2.0, 3.0, 4.0], 2, 2)?;
    /// assert_eq!(x.subrows(1, 2).unwrap().get(0, 1), Some(4.0));
    /// # Ok::<(), nnkern::Error>(())
    /// ```
    pub fn subrows(&self, start: usize, end: usize) -> Option<MatRef<'a, T>> {
        if start > end || end > self.rows {
            return None;
        }
        let rows = end - start;
        let ptr = if rows == 0 || self.cols == 0 {
            self.ptr
        } else {
            // SAFETY: row `start` < `self.rows` exists and has an element, so its offset is
            // inside the view's allocation (the invariant).
            unsafe { self.ptr.add(start * self.rs) }
        };
        Some(MatRef { ptr, rows, ..*self })
    }

    /// Row `i` as a slice: `Some` when `i < rows` and the row's elements are adjacent (column
    /// stride 1, or at most one column); `None` otherwise (use [`MatRef::row_iter`] then).
    ///
    /// # Example
    ///
    /// ```
    /// let m = nnkern::MatRef::from_row_major(&[1.0_f32, 2.0, 3.0, 4.0], 2, 2)?;
    /// assert_eq!(m.row_slice(1), Some(&[3.0, 4.0][..]));
    /// assert_eq!(m.t().row_slice(0), None); // a transposed row is strided
    /// assert_eq!(m.row_slice(2), None);
    /// # Ok::<(), nnkern::Error>(())
    /// ```
    pub fn row_slice(&self, i: usize) -> Option<&'a [T]> {
        (i < self.rows && self.unit_col_stride()).then(|| self.row(i))
    }

    /// The elements of row `i` in column order, whatever the strides (empty if `i ≥ rows`).
    ///
    /// # Example
    ///
    /// ```
    /// let m = nnkern::MatRef::from_row_major(&[1.0_f32, 2.0, 3.0, 4.0], 2, 2)?;
    /// assert_eq!(m.t().row_iter(0).collect::<Vec<_>>(), [1.0, 3.0]);
    /// # Ok::<(), nnkern::Error>(())
    /// ```
    pub fn row_iter(&self, i: usize) -> impl ExactSizeIterator<Item = T> + 'a {
        let view = *self;
        let cols = if i < self.rows { self.cols } else { 0 };
        (0..cols).map(move |j| view.at(i, j))
    }

    /// Row `i` as a slice when the column stride is 1 (crate-internal: callers checked `i`).
    #[inline]
    pub(crate) fn row(&self, i: usize) -> &'a [T] {
        debug_assert!(self.unit_col_stride());
        if self.cols == 0 {
            return &[];
        }
        if i >= self.rows {
            out_of_range();
        }
        // SAFETY: row i exists (checked) and its `cols` elements are adjacent (unit column
        // stride or one column), so they form one slice of the view's elements (invariant).
        unsafe { std::slice::from_raw_parts(self.ptr.add(i * self.rs).as_ptr(), self.cols) }
    }

    /// Element (i, j) for in-range indices (crate-internal; out of range panics).
    #[inline]
    pub(crate) fn at(&self, i: usize, j: usize) -> T
    where
        T: Copy,
    {
        if i >= self.rows || j >= self.cols {
            out_of_range();
        }
        // SAFETY: (i, j) is in range (checked), so it is an element of the view (invariant).
        unsafe { *self.ptr.add(i * self.rs + j * self.cs).as_ptr() }
    }

    /// True when each row is a contiguous slice.
    #[inline]
    pub(crate) fn unit_col_stride(&self) -> bool {
        self.cs == 1 || self.cols <= 1
    }

    /// Copies row `i` into `buf` (len ≥ cols) unless it is already contiguous; returns the row.
    #[inline]
    pub(crate) fn row_into<'b>(&self, i: usize, buf: &'b mut [T]) -> &'b [T]
    where
        'a: 'b,
    {
        if self.unit_col_stride() {
            self.row(i)
        } else {
            for (j, v) in buf[..self.cols].iter_mut().enumerate() {
                *v = self.at(i, j);
            }
            &buf[..self.cols]
        }
    }

    /// The elements as one row-major slice, when rows follow each other without gaps.
    pub(crate) fn as_flat(&self) -> Option<&'a [T]> {
        let dense = self.unit_col_stride() && (self.rs == self.cols || self.rows <= 1);
        // SAFETY: dense rows follow each other without gaps, so the rows·cols elements from
        // (0, 0) are exactly the view's elements (invariant).
        dense.then(|| unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.rows * self.cols) })
    }

    /// Pointer to element (0, 0) (crate-internal, for the GEMM engine).
    pub(crate) fn as_ptr(&self) -> *const T {
        self.ptr.as_ptr()
    }
}

/// A crate-internal caller passed an index outside the view: a bug in nnkern, never a
/// user's bad input (those are `Err`s). Out of line, so each check is one compare.
#[cold]
#[inline(never)]
#[track_caller]
fn out_of_range() -> ! {
    panic!("nnkern: index outside a view (internal error)")
}

/// `rows·cols` must equal `len` exactly for the contiguous constructors.
fn check_exact(op: &'static str, len: usize, rows: usize, cols: usize) -> Result<()> {
    let need = rows.checked_mul(cols).ok_or_else(|| {
        Error::new(
            op,
            "rows",
            ErrorKind::Overflow,
            format!("× cols = {rows}×{cols} overflows usize"),
        )
    })?;
    if need != len {
        return Err(Error::new(
            op,
            "data",
            ErrorKind::Length,
            format!("needs exactly {need} elements for a {rows}×{cols} view but has {len}"),
        ));
    }
    Ok(())
}

/// No two elements of a `rows × cols` view with these strides share a location: rows (or
/// columns) nest without interleaving. Sufficient, and exact for the layouts kernels produce.
fn non_aliasing(rows: usize, cols: usize, rs: usize, cs: usize) -> bool {
    if rows == 0 || cols == 0 {
        return true;
    }
    match (rows > 1, cols > 1) {
        (false, false) => true,
        (true, false) => rs >= 1,
        (false, true) => cs >= 1,
        (true, true) => {
            (cs >= 1 && cols.checked_mul(cs).is_some_and(|w| rs >= w))
                || (rs >= 1 && rows.checked_mul(rs).is_some_and(|h| cs >= h))
        }
    }
}

/// A mutable view's elements must not share a location ([`ErrorKind::Stride`] otherwise).
fn check_distinct(op: &'static str, rows: usize, cols: usize, rs: usize, cs: usize) -> Result<()> {
    if non_aliasing(rows, cols, rs, cs) {
        return Ok(());
    }
    Err(Error::new(
        op,
        "strides",
        ErrorKind::Stride,
        format!(
            "({rs}, {cs}) make elements of a {rows}×{cols} output share memory; a mutable \
             view needs row_stride ≥ cols·col_stride or col_stride ≥ rows·row_stride"
        ),
    ))
}

impl<'a, T: Copy> MatMut<'a, T> {
    /// A mutable `rows × cols` view of a row-major slice.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Length`] if `data.len() != rows·cols`; [`ErrorKind::Overflow`] if
    /// `rows·cols` overflows.
    ///
    /// # Example
    ///
    /// ```
    /// let mut buf = vec![0.0_f32; 6];
    /// let y = nnkern::MatMut::from_row_major(&mut buf, 2, 3)?;
    /// assert_eq!(y.cols(), 3);
    /// # Ok::<(), nnkern::Error>(())
    /// ```
    pub fn from_row_major(data: &'a mut [T], rows: usize, cols: usize) -> Result<Self> {
        check_exact("MatMut::from_row_major", data.len(), rows, cols)?;
        Ok(MatMut::of_slice(data, rows, cols, cols, 1))
    }

    /// A mutable `rows × cols` view of a column-major slice.
    ///
    /// # Errors
    ///
    /// As [`from_row_major`](Self::from_row_major).
    ///
    /// # Example
    ///
    /// ```
    /// let mut buf = vec![0.0_f32; 6];
    /// let y = nnkern::MatMut::from_col_major(&mut buf, 2, 3)?;
    /// assert_eq!(y.col_stride(), 2);
    /// # Ok::<(), nnkern::Error>(())
    /// ```
    pub fn from_col_major(data: &'a mut [T], rows: usize, cols: usize) -> Result<Self> {
        check_exact("MatMut::from_col_major", data.len(), rows, cols)?;
        Ok(MatMut::of_slice(data, rows, cols, 1, rows))
    }

    /// A mutable view with explicit strides.
    ///
    /// # Errors
    ///
    /// As [`MatRef::from_strided`], and [`ErrorKind::Stride`] if two elements of the view
    /// would share a location (e.g. a zero stride along a dimension longer than 1, or rows
    /// that interleave).
    ///
    /// # Example
    ///
    /// ```
    /// let mut buf = vec![0.0_f32; 4];
    /// let err = nnkern::MatMut::from_strided(&mut buf, 2, 2, 1, 1).unwrap_err();
    /// assert_eq!(err.kind(), nnkern::ErrorKind::Stride);
    /// # let _ = err;
    /// ```
    pub fn from_strided(
        data: &'a mut [T],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Result<Self> {
        const OP: &str = "MatMut::from_strided";
        check_view(OP, data.len(), rows, cols, row_stride, col_stride)?;
        check_distinct(OP, rows, cols, row_stride, col_stride)?;
        Ok(MatMut::of_slice(data, rows, cols, row_stride, col_stride))
    }

    /// A mutable view over memory the caller describes by a pointer and strides: element
    /// (i, j) is at `ptr.add(i·row_stride + j·col_stride)`. Memory between the elements is
    /// never read or written.
    ///
    /// # Safety
    ///
    /// - `ptr` is aligned for `T` (even when the view is empty);
    /// - every element (i < rows, j < cols) lies in the same allocation as `ptr`, is an
    ///   initialised `T`, and is accessed by nobody else (read or written) for `'a`.
    ///
    /// # Errors
    ///
    /// As [`MatRef::from_raw_parts`], and [`ErrorKind::Stride`] if two elements would share a
    /// location (as [`MatMut::from_strided`]).
    ///
    /// # Example
    ///
    /// ```
    /// let mut data = [0.0_f64; 6];
    /// // the 3×1 column 1 of a 3×2 row-major matrix
    /// // SAFETY: elements 1, 3, 5 of `data`, used only through the view while it lives
    /// let mut col = unsafe { nnkern::MatMut::from_raw_parts(data.as_mut_ptr().add(1), 3, 1, 2, 1)? };
    /// col.fill(1.0);
    /// assert_eq!(data, [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]);
    /// # Ok::<(), nnkern::Error>(())
    /// ```
    pub unsafe fn from_raw_parts(
        ptr: *mut T,
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Result<Self> {
        const OP: &str = "MatMut::from_raw_parts";
        let ptr = check_raw(OP, ptr, rows, cols, row_stride, col_stride)?;
        check_distinct(OP, rows, cols, row_stride, col_stride)?;
        Ok(MatMut {
            ptr,
            rows,
            cols,
            rs: row_stride,
            cs: col_stride,
            _borrow: PhantomData,
        })
    }

    /// The transpose, sharing the same memory.
    ///
    /// # Example
    ///
    /// ```
    /// let mut buf = vec![0.0_f32; 6];
    /// let y = nnkern::MatMut::from_row_major(&mut buf, 2, 3)?.t();
    /// assert_eq!((y.rows(), y.cols()), (3, 2));
    /// # Ok::<(), nnkern::Error>(())
    /// ```
    #[must_use]
    pub fn t(self) -> MatMut<'a, T> {
        MatMut {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }

    /// A shorter-lived immutable view of the same elements.
    pub fn rb(&self) -> MatRef<'_, T> {
        MatRef {
            ptr: self.ptr,
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
            _borrow: PhantomData,
        }
    }

    /// A shorter-lived mutable view of the same elements (to pass to a kernel and keep `self`).
    pub fn rb_mut(&mut self) -> MatMut<'_, T> {
        MatMut {
            ptr: self.ptr,
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
            _borrow: PhantomData,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Distance in elements between (i, j) and (i+1, j).
    pub fn row_stride(&self) -> usize {
        self.rs
    }

    /// Distance in elements between (i, j) and (i, j+1).
    pub fn col_stride(&self) -> usize {
        self.cs
    }

    /// Element (i, j), or `None` if out of range.
    pub fn get(&self, i: usize, j: usize) -> Option<T> {
        self.rb().get(i, j)
    }

    /// Writes element (i, j); returns `false` (and writes nothing) if out of range.
    pub fn set(&mut self, i: usize, j: usize, value: T) -> bool {
        if i < self.rows && j < self.cols {
            *self.at_mut(i, j) = value;
            true
        } else {
            false
        }
    }

    /// Sets every element of the view to `value`.
    pub fn fill(&mut self, value: T) {
        if self.cols == 0 {
            return; // no elements, however many (empty) rows
        }
        for i in 0..self.rows {
            for j in 0..self.cols {
                *self.at_mut(i, j) = value;
            }
        }
    }

    /// True when each row is a contiguous slice.
    #[inline]
    pub(crate) fn unit_col_stride(&self) -> bool {
        self.cs == 1 || self.cols <= 1
    }

    /// Row `i` as a mutable slice; the column stride is 1 (crate-internal, `i` checked).
    #[inline]
    pub(crate) fn row_mut(&mut self, i: usize) -> &mut [T] {
        debug_assert!(self.unit_col_stride());
        if self.cols == 0 {
            return &mut [];
        }
        if i >= self.rows {
            out_of_range();
        }
        // SAFETY: row i exists (checked); its `cols` adjacent elements are the view's own,
        // exclusively borrowed through `&mut self` (invariant).
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(i * self.rs).as_ptr(), self.cols) }
    }

    /// Element (i, j) as a mutable reference (crate-internal; out of range panics).
    #[inline]
    pub(crate) fn at_mut(&mut self, i: usize, j: usize) -> &mut T {
        if i >= self.rows || j >= self.cols {
            out_of_range();
        }
        // SAFETY: (i, j) is in range (checked), an element exclusively borrowed through
        // `&mut self` (invariant).
        unsafe { &mut *self.ptr.add(i * self.rs + j * self.cs).as_ptr() }
    }

    /// Splits into rows `0..k` and `k..rows` (crate-internal, unit column stride, `k ≤ rows`).
    pub(crate) fn split_rows(self, k: usize) -> (MatMut<'a, T>, MatMut<'a, T>) {
        debug_assert!(self.unit_col_stride() && k <= self.rows);
        if k > self.rows {
            out_of_range();
        }
        let bottom = if k == self.rows || self.cols == 0 {
            self.ptr
        } else {
            // SAFETY: row k < rows exists and has an element: its offset is in the view's
            // allocation (invariant).
            unsafe { self.ptr.add(k * self.rs) }
        };
        // The two parts hold disjoint sets of the view's elements (rows 0..k and k..rows;
        // no two elements share a location), so each may be borrowed exclusively.
        (
            MatMut { rows: k, ..self },
            MatMut {
                ptr: bottom,
                rows: self.rows - k,
                ..self
            },
        )
    }

    /// The elements as one row-major slice, when rows follow each other without gaps.
    pub(crate) fn as_flat_mut(&mut self) -> Option<&mut [T]> {
        let dense = self.unit_col_stride() && (self.rs == self.cols || self.rows <= 1);
        let len = self.rows * self.cols;
        // SAFETY: dense rows follow each other without gaps: the `len` elements from (0, 0)
        // are exactly the view's, exclusively borrowed through `&mut self` (invariant).
        dense.then(|| unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), len) })
    }

    /// Consumes the view into its row-major slice, when rows follow each other without gaps.
    pub(crate) fn into_flat(self) -> Result<&'a mut [T], Self> {
        let dense = self.unit_col_stride() && (self.rs == self.cols || self.rows <= 1);
        let len = self.rows * self.cols;
        if dense {
            // SAFETY: as in `as_flat_mut`; the view is consumed, its borrow passes to the slice.
            Ok(unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), len) })
        } else {
            Err(self)
        }
    }

    /// Pointer to element (0, 0) (crate-internal, for the GEMM engine).
    pub(crate) fn as_mut_ptr(&mut self) -> *mut T {
        self.ptr.as_ptr()
    }
}
