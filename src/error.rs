//! The crate's one error type.

use std::fmt;

/// What kind of bad input an [`Error`] reports.
///
/// The kind lets a framework map nnkern's errors onto its own (a shape error becomes its shape
/// error, and so on) without parsing messages.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Dimensions of two arguments disagree, or a dimension is zero where that is not allowed.
    Shape,
    /// A slice is shorter (or longer) than the dimensions and strides require.
    Length,
    /// A stride is not allowed here: outputs whose elements would alias, a column stride other
    /// than one where a row kernel needs unit stride, or a stride whose product overflows.
    Stride,
    /// A class index is out of range.
    Label,
    /// An option or scalar argument is out of its domain (negative weights, label smoothing
    /// outside `[0, 1]`, a combination of options that is not supported).
    Value,
    /// Dimensions whose product does not fit: a view of more than `isize::MAX` elements, or
    /// a size computed from dimensions that overflows `usize`.
    Overflow,
    /// Scratch memory a kernel needs (sized from its arguments: e.g. the rows of a broadcast
    /// input it must copy) could not be allocated. Nothing was written.
    Alloc,
}

/// A bad argument to an nnkern function.
///
/// Every public function validates all of its arguments before it reads or writes any memory,
/// and answers bad input with this error, never with a panic. Scratch memory sized from the
/// arguments is reserved fallibly before any output is written, so a request the allocator
/// refuses is an [`ErrorKind::Alloc`] error, never an abort. The message names the operation,
/// the argument, what was expected and what came, e.g.
/// `affine_forward: w has 785 rows but x has 784 columns`.
///
/// # Example
///
/// ```
/// use nnkern::{ErrorKind, MatRef};
///
/// let data = [1.0_f32; 5];
/// let err = MatRef::from_row_major(&data, 2, 3).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Length);
/// assert_eq!(err.arg(), "data");
/// assert!(err.to_string().contains("needs exactly 6 elements for a 2×3 view but has 5"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    op: &'static str,
    arg: &'static str,
    kind: ErrorKind,
    detail: String,
}

impl Error {
    /// Builds an error for argument `arg` of operation `op`; `detail` completes the sentence
    /// that starts with the argument's name (e.g. `"has 785 rows but x has 784 columns"`).
    pub(crate) fn new(
        op: &'static str,
        arg: &'static str,
        kind: ErrorKind,
        detail: impl Into<String>,
    ) -> Self {
        Error {
            op,
            arg,
            kind,
            detail: detail.into(),
        }
    }

    /// The operation that rejected its input, e.g. `"affine_forward"`.
    pub fn op(&self) -> &'static str {
        self.op
    }

    /// The name of the offending argument, as in the function's signature, e.g. `"w"`.
    pub fn arg(&self) -> &'static str {
        self.arg
    }

    /// What kind of bad input this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} {}", self.op, self.arg, self.detail)
    }
}

impl std::error::Error for Error {}

/// The result type of every fallible nnkern function.
pub type Result<T, E = Error> = std::result::Result<T, E>;
