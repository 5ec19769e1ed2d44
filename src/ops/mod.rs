//! The kernels' bodies: one file per op family, forward and backward side by side, generic
//! over [`KernelFloat`]. Each body is compiled once per element type by `crate::entry`, and
//! called by its public function in `crate::kernels`.
//!
//! Every body validates all of its arguments (shapes, lengths, strides, labels, options)
//! before it touches memory, and names the offending argument in its [`Error`].

/// Builder-style setters, one per public field of an option struct. The structs are
/// `#[non_exhaustive]` (a field added later breaks nobody), so code outside the crate starts
/// from `default()` and sets what it needs: `CrossEntropyOptions::default().label_smoothing(0.1)`.
macro_rules! setters {
    ($($field:ident: $ty:ty),* $(,)?) => {
        $(
            #[doc = concat!("Sets `", stringify!($field), "` (see the field's documentation).")]
            #[must_use]
            pub fn $field(mut self, $field: $ty) -> Self {
                self.$field = $field;
                self
            }
        )*
    };
}

pub mod activation;
pub mod affine;
pub mod loss;
pub mod matmul;
pub mod optim;
pub mod select;
pub mod softmax;
pub(crate) mod two_layer;

/// The element bound of the kernels' bodies: the layers below them (the scalar arithmetic,
/// the SIMD bodies, the GEMM engines) in one trait. `crate::entry` compiles each body at
/// `f32` and `f64`, and the public [`Float`](crate::Float) includes it, so this layer names
/// neither.
pub trait KernelFloat: GemmFloat {}

impl<T: GemmFloat> KernelFloat for T {}

use crate::error::{Error, ErrorKind, Result};
use crate::gemm::GemmFloat;
use crate::mat::{MatMut, MatRef};
use crate::real::Real;
use crate::simd::{BinaryOp, Isa, Kernel, Math, UnaryOp, dispatch};

/// How a gradient kernel stores into its output: overwrite it, or add to it.
///
/// `Add` implements gradient accumulation (several micro-batches, or a parameter shared by
/// several layers). With `Replace` the output is never read, so it may hold anything (NaN
/// included) beforehand.
///
/// # Example
///
/// ```
/// use nnkern::{Accum, MatMut, MatRef, matmul_backward};
///
/// let x = [1.0_f32, 2.0]; // 1×2
/// let w = [0.0_f32; 6]; // 2×3
/// let dy = [1.0_f32, 1.0, 1.0]; // 1×3
/// let mut dw = [1.0_f32; 6];
/// matmul_backward(
///     MatRef::from_row_major(&x, 1, 2)?,
///     MatRef::from_row_major(&w, 2, 3)?,
///     MatRef::from_row_major(&dy, 1, 3)?,
///     None,
///     MatMut::from_row_major(&mut dw, 2, 3)?,
///     Accum::Add,
/// )?;
/// assert_eq!(dw, [2.0, 2.0, 2.0, 3.0, 3.0, 3.0]); // 1 + xᵀ·dy
/// # Ok::<(), nnkern::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Accum {
    /// out ← g (the output is not read).
    #[default]
    Replace,
    /// out ← out + g.
    Add,
}

impl Accum {
    /// The β of `out ← g + β·out`.
    pub(crate) fn beta<T: KernelFloat>(self) -> T {
        match self {
            Accum::Replace => T::ZERO,
            Accum::Add => T::ONE,
        }
    }

    /// Stores `g` into `out` according to the mode.
    #[inline(always)]
    pub(crate) fn store<T: KernelFloat>(self, out: &mut T, g: T) {
        match self {
            Accum::Replace => *out = g,
            Accum::Add => *out += g,
        }
    }
}

/// How a loss reduces its per-row values (PyTorch's `reduction`).
///
/// The loss output slice has length 1 for `Mean` and `Sum`, and N (one per row) for `None`;
/// the upstream gradient `dloss` of a backward has the same length.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reduction {
    /// One value per row, no reduction.
    None,
    /// The mean over the counted rows (a weighted mean where class weights apply).
    #[default]
    Mean,
    /// The sum over the rows.
    Sum,
}

impl Reduction {
    /// Length of the loss (and `dloss`) slice for `n` rows.
    pub(crate) fn out_len(self, n: usize) -> usize {
        match self {
            Reduction::None => n,
            Reduction::Mean | Reduction::Sum => 1,
        }
    }
}

/// Reusable scratch memory for kernels that need a temporary (e.g. `affine_backward` with an
/// activation, which forms dz = dy ⊙ act′(y)).
///
/// It grows to the largest size asked of it and keeps that memory, so a training loop that
/// reuses one `Workspace` allocates only on its first step.
///
/// # Example
///
/// ```
/// let mut ws = nnkern::Workspace::<f32>::new();
/// assert_eq!(ws.capacity(), 0);
/// ```
#[derive(Debug, Default)]
pub struct Workspace<T> {
    buf: Vec<T>,
}

impl<T: Real> Workspace<T> {
    /// An empty workspace; it allocates on first use.
    pub fn new() -> Self {
        Workspace { buf: Vec::new() }
    }

    /// Elements currently held.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// A scratch slice of `len` elements (contents unspecified), grown fallibly: `op`'s
    /// [`ErrorKind::Alloc`] error if the allocator refuses (nothing else is changed then).
    pub(crate) fn take(&mut self, op: &'static str, len: usize) -> Result<&mut [T]> {
        if self.buf.len() < len {
            reserve(op, "scratch", &mut self.buf, len)?;
            self.buf.resize(len, T::ZERO);
        }
        Ok(&mut self.buf[..len])
    }
}

/// Makes room in `v` for `len` elements in all without aborting: `op`'s [`ErrorKind::Alloc`]
/// error naming `what` (`"scratch"` for a kernel's own buffers) if the allocator refuses or
/// the size in bytes overflows.
pub(crate) fn reserve<T>(op: &'static str, what: &'static str, v: &mut Vec<T>, len: usize) -> Result<()> {
    v.try_reserve_exact(len.saturating_sub(v.len())).map_err(|e| {
        Error::new(
            op,
            what,
            ErrorKind::Alloc,
            format!(
                "of {len} elements ({} bytes) could not be allocated: {e}",
                (len as u128) * std::mem::size_of::<T>() as u128
            ),
        )
    })
}

/// `a·b (+ c)` elements of scratch for `op`, or its [`ErrorKind::Overflow`] error.
pub(crate) fn scratch_len(op: &'static str, a: usize, b: usize, c: usize) -> Result<usize> {
    a.checked_mul(b).and_then(|ab| ab.checked_add(c)).ok_or_else(|| {
        Error::new(
            op,
            "scratch",
            ErrorKind::Overflow,
            format!("of {a}·{b} + {c} elements overflows usize"),
        )
    })
}

/// Row copies for the blocks of a kernel whose strided inputs' rows can be longer than
/// anything it writes (a loss over a broadcast row of 2⁴⁰ logits writes one value): a set of
/// `K` vectors of `len` elements for each block that can run at once (at most one per
/// thread of the current pool), reserved fallibly before any work, and handed out to the
/// blocks. Other kernels copy rows no longer than a row of their output, which exists.
pub(crate) struct RowCopies<T, const K: usize> {
    /// Whether the rows need copies at all (else no set exists and none is handed out).
    copies: bool,
    free: std::sync::Mutex<Vec<[Vec<T>; K]>>,
}

impl<T: KernelFloat, const K: usize> RowCopies<T, K> {
    /// Sets for `blocks` blocks of rows of `len` elements (none when `len` is 0: rows that
    /// need no copy, and then nothing is allocated).
    pub(crate) fn new(op: &'static str, len: usize, blocks: usize) -> Result<Self> {
        let sets = if len == 0 {
            0
        } else {
            blocks.min(rayon::current_num_threads()).max(1)
        };
        let mut free = Vec::new();
        for _ in 0..sets {
            let mut set: [Vec<T>; K] = std::array::from_fn(|_| Vec::new());
            for v in &mut set {
                reserve(op, "scratch", v, len)?;
            }
            free.push(set);
        }
        Ok(RowCopies {
            copies: sets > 0,
            free: std::sync::Mutex::new(free),
        })
    }

    /// Runs `f` with a set of vectors for [`row_of`] (with their reserved capacity, so it
    /// allocates nothing), then puts the set back.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut [Vec<T>; K]) -> R) -> R {
        let empty = || std::array::from_fn(|_| Vec::new());
        if !self.copies {
            return f(&mut empty());
        }
        // (a lock poisoned by a panicking block still guards a valid list)
        let lock = || self.free.lock().unwrap_or_else(|e| e.into_inner());
        let popped = lock().pop();
        let mut set = popped.unwrap_or_else(empty);
        let r = f(&mut set);
        lock().push(set);
        r
    }
}

/// The length of the row copies `m` needs: its columns if they are strided, else 0.
pub(crate) fn copy_len<T: Copy>(m: &MatRef<'_, T>) -> usize {
    if m.unit_col_stride() { 0 } else { m.cols() }
}

// ----- shared validation -------------------------------------------------------------------

/// `arg` must be `rows × cols`; `like` describes where the expectation comes from.
pub(crate) fn check_shape(
    op: &'static str,
    arg: &'static str,
    got: (usize, usize),
    want: (usize, usize),
    like: &str,
) -> Result<()> {
    if got != want {
        return Err(Error::new(
            op,
            arg,
            ErrorKind::Shape,
            format!(
                "is {}×{} but must be {}×{} ({like})",
                got.0, got.1, want.0, want.1
            ),
        ));
    }
    Ok(())
}

/// An output written row by row needs unit column stride.
pub(crate) fn check_rows_contiguous<T: Copy>(
    op: &'static str,
    arg: &'static str,
    m: &MatMut<'_, T>,
) -> Result<()> {
    if !m.unit_col_stride() {
        return Err(Error::new(
            op,
            arg,
            ErrorKind::Stride,
            format!(
                "has column stride {} but this kernel writes rows and needs column stride 1",
                m.col_stride()
            ),
        ));
    }
    Ok(())
}

/// A row kernel needs at least one column.
pub(crate) fn check_has_cols(op: &'static str, arg: &'static str, cols: usize) -> Result<()> {
    if cols == 0 {
        return Err(Error::new(
            op,
            arg,
            ErrorKind::Shape,
            "has 0 columns but a row kernel needs at least 1",
        ));
    }
    Ok(())
}

/// A slice argument must have exactly `want` elements.
pub(crate) fn check_len(
    op: &'static str,
    arg: &'static str,
    got: usize,
    want: usize,
    like: &str,
) -> Result<()> {
    if got != want {
        return Err(Error::new(
            op,
            arg,
            ErrorKind::Length,
            format!("has length {got} but must have {want} ({like})"),
        ));
    }
    Ok(())
}

/// The shape of a view as a tuple.
pub(crate) fn dims<T: Copy>(m: &MatRef<'_, T>) -> (usize, usize) {
    (m.rows(), m.cols())
}

/// The shape of a mutable view as a tuple.
pub(crate) fn dims_mut<T: Copy>(m: &MatMut<'_, T>) -> (usize, usize) {
    (m.rows(), m.cols())
}

// ----- row drivers ---------------------------------------------------------------------------

/// Row `i` of `m` as a contiguous slice: the row itself when its column stride is 1, else a
/// copy in `buf` (the slow path for strided inputs; it allocates once per work block).
#[inline]
pub(crate) fn row_of<'a: 'b, 'b, T: KernelFloat>(
    m: &MatRef<'a, T>,
    i: usize,
    buf: &'b mut Vec<T>,
) -> &'b [T] {
    if m.unit_col_stride() {
        m.row(i)
    } else {
        buf.resize(m.cols(), T::ZERO);
        m.row_into(i, buf)
    }
}

// ----- SIMD elementwise drivers --------------------------------------------------------------

/// y = op(x) over one dense run of elements (`x = None`: in place).
pub(crate) struct FlatUnary<'a, T, O> {
    pub(crate) op: O,
    pub(crate) x: Option<&'a [T]>,
    pub(crate) y: &'a mut [T],
}

impl<T: KernelFloat, O: UnaryOp<T>> Kernel for FlatUnary<'_, T, O> {
    type Out = ();
    #[inline(always)]
    fn run<M: Math>(self) {
        match self.x {
            Some(x) => M::map(self.op, x, self.y),
            None => M::map_inplace(self.op, self.y),
        }
    }
}

/// y = op(x) over a block of rows starting at row `r0` of x (`x = None`: in place).
struct RowsUnary<'a, T, O> {
    op: O,
    x: Option<MatRef<'a, T>>,
    r0: usize,
    y: MatMut<'a, T>,
}

impl<T: KernelFloat, O: UnaryOp<T>> Kernel for RowsUnary<'_, T, O> {
    type Out = ();
    #[inline(always)]
    fn run<M: Math>(mut self) {
        let mut buf = Vec::new();
        for i in 0..self.y.rows() {
            match &self.x {
                Some(x) => {
                    let xr = row_of(x, self.r0 + i, &mut buf);
                    M::map(self.op, xr, self.y.row_mut(i));
                }
                None => M::map_inplace(self.op, self.y.row_mut(i)),
            }
        }
    }
}

/// out = op(a, b) over one dense run.
pub(crate) struct FlatBinary<'a, T, O> {
    pub(crate) op: O,
    pub(crate) a: &'a [T],
    pub(crate) b: &'a [T],
    pub(crate) out: &'a mut [T],
}

impl<T: KernelFloat, O: BinaryOp<T>> Kernel for FlatBinary<'_, T, O> {
    type Out = ();
    #[inline(always)]
    fn run<M: Math>(self) {
        M::map2(self.op, self.a, self.b, self.out);
    }
}

/// out = op(a, b) over a block of rows starting at row `r0` of a and b.
struct RowsBinary<'a, T, O> {
    op: O,
    a: MatRef<'a, T>,
    b: MatRef<'a, T>,
    r0: usize,
    out: MatMut<'a, T>,
}

impl<T: KernelFloat, O: BinaryOp<T>> Kernel for RowsBinary<'_, T, O> {
    type Out = ();
    #[inline(always)]
    fn run<M: Math>(mut self) {
        let (mut abuf, mut bbuf) = (Vec::new(), Vec::new());
        for i in 0..self.out.rows() {
            let ar = row_of(&self.a, self.r0 + i, &mut abuf);
            let br = row_of(&self.b, self.r0 + i, &mut bbuf);
            M::map2(self.op, ar, br, self.out.row_mut(i));
        }
    }
}

/// The cost of one row of an elementwise op on strided views beyond its elements' (a row
/// copied or read through its stride, one slice call per row), in ps: measured by
/// `cost_per_element`'s `relu_fwd_strided` (ReLU on 16 384 rows of one element) less
/// `relu_fwd`.
const STRIDED_ROW_PS: u32 = 2_600;

/// y = op(x) elementwise on the current SIMD path (`x = None`: y ← op(y)); dense operands
/// are split into fixed-size runs of elements, others by row blocks. Shapes are the caller's
/// to check; y has unit column stride.
pub(crate) fn map_unary<T: KernelFloat, O: UnaryOp<T>>(op: O, x: Option<MatRef<'_, T>>, y: MatMut<'_, T>) {
    let path = Isa::current();
    let rows = |y: MatMut<'_, T>| {
        let g = O::COST.plus_row(STRIDED_ROW_PS).of::<T>();
        crate::par::for_each_row_block(y, g, &|r0, blk| dispatch(path, RowsUnary { op, x, r0, y: blk }));
    };
    let xf = match x {
        Some(x) => match x.as_flat() {
            Some(xf) => Some(xf),
            None => return rows(y),
        },
        None => None,
    };
    match y.into_flat() {
        Ok(yf) => {
            crate::par::map_blocks(
                yf.len(),
                1,
                O::COST.of::<T>(),
                yf,
                &|r0, r1, yb: &mut [T]| {
                    let x = xf.map(|xf| &xf[r0..r1]);
                    dispatch(path, FlatUnary { op, x, y: yb })
                },
                &|(), ()| (),
            );
        }
        Err(y) => rows(y),
    }
}

/// out = op(a, b) elementwise on the current SIMD path, split as [`map_unary`]; `out` has
/// unit column stride, shapes are the caller's to check.
pub(crate) fn map_binary<T: KernelFloat, O: BinaryOp<T>>(
    op: O,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    out: MatMut<'_, T>,
) {
    let path = Isa::current();
    let rows = |out: MatMut<'_, T>| {
        let g = O::COST.plus_row(STRIDED_ROW_PS).of::<T>();
        crate::par::for_each_row_block(out, g, &|r0, blk| {
            dispatch(
                path,
                RowsBinary {
                    op,
                    a,
                    b,
                    r0,
                    out: blk,
                },
            )
        });
    };
    let (Some(af), Some(bf)) = (a.as_flat(), b.as_flat()) else {
        return rows(out);
    };
    match out.into_flat() {
        Ok(of) => {
            crate::par::map_blocks(
                of.len(),
                1,
                O::COST.of::<T>(),
                of,
                &|r0, r1, ob: &mut [T]| {
                    dispatch(
                        path,
                        FlatBinary {
                            op,
                            a: &af[r0..r1],
                            b: &bf[r0..r1],
                            out: ob,
                        },
                    )
                },
                &|(), ()| (),
            );
        }
        Err(out) => rows(out),
    }
}
