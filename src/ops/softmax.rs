//! Softmax and log-softmax over each row, forward and backward.

use super::{check_has_cols, check_rows_contiguous, check_shape, dims, dims_mut, row_of};
use crate::error::Result;
use crate::mat::{MatMut, MatRef};
use crate::ops::KernelFloat;
use crate::par::Cost;
use crate::simd::{self, Exp, ExpNonPos, Isa, Kernel, Math, dispatch};

/// What softmax gives for a fully masked row (every logit −∞).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MaskedRows {
    /// NaN in every column, as PyTorch's `softmax`.
    #[default]
    Nan,
    /// Zeros: the row contributes nothing (convenient for attention masks).
    Zero,
}

/// Options of [`softmax_forward_with`](crate::softmax_forward_with).
///
/// # Example
///
/// ```
/// use nnkern::{MaskedRows, SoftmaxOptions};
///
/// let opts = SoftmaxOptions::default().masked_rows(MaskedRows::Zero);
/// assert_ne!(opts, SoftmaxOptions::default());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct SoftmaxOptions {
    /// The result for rows whose logits are all −∞.
    pub masked_rows: MaskedRows,
}

impl SoftmaxOptions {
    setters!(masked_rows: MaskedRows);
}

/// Rows narrower than this are processed as one flat run per block (several rows per vector);
/// wider rows one at a time, so each stays in L1 across the passes.
const FLAT_COLS: usize = 256;

/// Elements of the stack buffer holding the exponentials of a group of short log-softmax rows.
const SCRATCH: usize = 2048;

#[derive(Clone, Copy)]
enum RowOp {
    Softmax(MaskedRows),
    LogSoftmax,
    SoftmaxBackward,
    LogSoftmaxBackward,
}

impl RowOp {
    /// Measured by the `cost_per_element` bench group (`softmax_fwd`, `softmax_bwd`,
    /// `log_softmax_fwd`, `log_softmax_bwd`).
    fn cost(self) -> Cost {
        match self {
            RowOp::Softmax(_) => Cost::new(1720, 18_300),
            RowOp::SoftmaxBackward => Cost::new(425, 9_500),
            RowOp::LogSoftmax => Cost::new(1755, 21_500),
            RowOp::LogSoftmaxBackward => Cost::new(1795, 10_200),
        }
    }
}

/// One block of rows of a row kernel: `a` (x, or y for backward) and `b` (dy for backward)
/// from row `r0`, into `out`.
struct RowBlock<'a, T> {
    op: RowOp,
    a: MatRef<'a, T>,
    b: MatRef<'a, T>,
    r0: usize,
    out: MatMut<'a, T>,
}

impl<T: KernelFloat> RowBlock<'_, T> {
    /// Softmax pass A for row i: y = x − m (or −∞ for a masked row under `MaskedRows::Zero`).
    #[inline(always)]
    fn shift_row(&mut self, i: usize, masked: MaskedRows, buf: &mut Vec<T>) {
        let xr = row_of(&self.a, self.r0 + i, buf);
        let m = simd::max(xr);
        let yr = self.out.row_mut(i);
        if m == T::NEG_INFINITY && masked == MaskedRows::Zero && !xr.iter().any(|v| v.is_nan()) {
            yr.fill(T::NEG_INFINITY);
        } else {
            for (o, &v) in yr.iter_mut().zip(xr) {
                *o = v - m;
            }
        }
    }

    /// Softmax pass C for row i: y ← y·(1/Σy) (zeros for a masked row, whose sum is 0).
    #[inline(always)]
    fn normalize_row(&mut self, i: usize) {
        let yr = self.out.row_mut(i);
        let s = simd::sum(yr);
        if s == T::ZERO {
            yr.fill(T::ZERO);
        } else {
            let inv = T::ONE / s;
            yr.iter_mut().for_each(|o| *o *= inv);
        }
    }
}

impl<T: KernelFloat> Kernel for RowBlock<'_, T> {
    type Out = ();
    #[inline(always)]
    fn run<M: Math>(mut self) {
        let (mut abuf, mut bbuf) = (Vec::new(), Vec::new());
        let rows = self.out.rows();
        match self.op {
            RowOp::Softmax(masked) => {
                if self.out.cols() < FLAT_COLS && self.out.as_flat_mut().is_some() {
                    for i in 0..rows {
                        self.shift_row(i, masked, &mut abuf);
                    }
                    if let Some(flat) = self.out.as_flat_mut() {
                        M::map_inplace(ExpNonPos, flat);
                    }
                    for i in 0..rows {
                        self.normalize_row(i);
                    }
                } else {
                    // long rows: max, then e^(x − m) and its sum in one pass, then one scaling
                    for i in 0..rows {
                        let xr = row_of(&self.a, self.r0 + i, &mut abuf);
                        let m = simd::max(xr);
                        let yr = self.out.row_mut(i);
                        if m == T::NEG_INFINITY
                            && masked == MaskedRows::Zero
                            && !xr.iter().any(|v| v.is_nan())
                        {
                            yr.fill(T::ZERO);
                            continue;
                        }
                        let inv = T::ONE / M::exp_shift_sum(xr, m, yr);
                        yr.iter_mut().for_each(|o| *o *= inv);
                    }
                }
            }
            RowOp::LogSoftmax => {
                let cols = self.out.cols();
                if cols < FLAT_COLS && self.out.as_flat_mut().is_some() {
                    // short rows: y = x − m row by row, then the exponentials of a group of
                    // rows as one flat run into a stack buffer, then y −= ln Σ per row
                    let mut e = [T::ZERO; SCRATCH];
                    let group = (SCRATCH / cols).max(1);
                    for g0 in (0..rows).step_by(group) {
                        let g1 = (g0 + group).min(rows);
                        for i in g0..g1 {
                            let xr = row_of(&self.a, self.r0 + i, &mut abuf);
                            let m = simd::max(xr);
                            for (o, &v) in self.out.row_mut(i).iter_mut().zip(xr) {
                                *o = v - m;
                            }
                        }
                        let flat = self.out.as_flat_mut().expect("checked dense above");
                        let run = &flat[g0 * cols..g1 * cols];
                        M::map(ExpNonPos, run, &mut e[..run.len()]);
                        for i in g0..g1 {
                            let k = (i - g0) * cols;
                            let ls = simd::sum(&e[k..k + cols]).ln();
                            self.out.row_mut(i).iter_mut().for_each(|o| *o -= ls);
                        }
                    }
                } else {
                    for i in 0..rows {
                        let xr = row_of(&self.a, self.r0 + i, &mut abuf);
                        let m = simd::max(xr);
                        let yr = self.out.row_mut(i);
                        // Σ e^(x − m), using y as scratch, then y = (x − m) − ln Σ
                        let ls = M::exp_shift_sum(xr, m, yr).ln();
                        for (o, &v) in yr.iter_mut().zip(xr) {
                            *o = (v - m) - ls;
                        }
                    }
                }
            }
            RowOp::SoftmaxBackward => {
                for i in 0..rows {
                    let yr = row_of(&self.a, self.r0 + i, &mut abuf);
                    let dyr = row_of(&self.b, self.r0 + i, &mut bbuf);
                    let dot = simd::dot(yr, dyr);
                    for ((o, &yv), &g) in self.out.row_mut(i).iter_mut().zip(yr).zip(dyr) {
                        *o = yv * (g - dot);
                    }
                }
            }
            RowOp::LogSoftmaxBackward => {
                // short dense rows: e^y for the whole block in one flat vector pass first
                let ya = self.a.subrows(self.r0, self.r0 + rows).and_then(|v| v.as_flat());
                let short = self.out.cols() < FLAT_COLS;
                let flat = match (ya, self.out.as_flat_mut()) {
                    (Some(yf), Some(df)) if short => {
                        M::map(Exp, yf, df);
                        true
                    }
                    _ => false,
                };
                for i in 0..rows {
                    let dyr = row_of(&self.b, self.r0 + i, &mut bbuf);
                    let s = simd::sum(dyr);
                    if !flat {
                        let yr = row_of(&self.a, self.r0 + i, &mut abuf);
                        M::map(Exp, yr, self.out.row_mut(i));
                    }
                    let dxr = self.out.row_mut(i);
                    for (o, &g) in dxr.iter_mut().zip(dyr) {
                        *o = g - *o * s;
                    }
                }
            }
        }
    }
}

/// Runs a row op over all rows, in parallel blocks, on the current SIMD path.
fn run_rows<T: KernelFloat>(op: RowOp, a: MatRef<'_, T>, b: MatRef<'_, T>, out: MatMut<'_, T>) {
    let path = Isa::current();
    crate::par::for_each_row_block(out, op.cost().of::<T>(), &|r0, blk| {
        dispatch(
            path,
            RowBlock {
                op,
                a,
                b,
                r0,
                out: blk,
            },
        )
    });
}

fn check_row_op<T: KernelFloat>(op: &'static str, x: &MatRef<'_, T>, y: &MatMut<'_, T>) -> Result<()> {
    check_has_cols(op, "x", x.cols())?;
    check_shape(op, "y", dims_mut(y), dims(x), "the shape of x")?;
    check_rows_contiguous(op, "y", y)
}

fn check_row_backward<T: KernelFloat>(
    op: &'static str,
    y: &MatRef<'_, T>,
    dy: &MatRef<'_, T>,
    dx: &MatMut<'_, T>,
) -> Result<()> {
    check_has_cols(op, "y", y.cols())?;
    check_shape(op, "dy", dims(dy), dims(y), "the shape of y")?;
    check_shape(op, "dx", dims_mut(dx), dims(y), "the shape of y")?;
    check_rows_contiguous(op, "dx", dx)
}

/// [`softmax_forward`](crate::softmax_forward)'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn softmax_forward_impl<T: KernelFloat>(x: MatRef<'_, T>, y: MatMut<'_, T>) -> Result<()> {
    softmax_named("softmax_forward", x, y, &SoftmaxOptions::default())
}

/// [`softmax_forward_with`](crate::softmax_forward_with)'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn softmax_forward_with_impl<T: KernelFloat>(
    x: MatRef<'_, T>,
    y: MatMut<'_, T>,
    opts: &SoftmaxOptions,
) -> Result<()> {
    softmax_named("softmax_forward_with", x, y, opts)
}

fn softmax_named<T: KernelFloat>(
    op: &'static str,
    x: MatRef<'_, T>,
    y: MatMut<'_, T>,
    opts: &SoftmaxOptions,
) -> Result<()> {
    check_row_op(op, &x, &y)?;
    run_rows(RowOp::Softmax(opts.masked_rows), x, x, y);
    Ok(())
}

/// [`softmax_backward`](crate::softmax_backward)'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn softmax_backward_impl<T: KernelFloat>(
    y: MatRef<'_, T>,
    dy: MatRef<'_, T>,
    dx: MatMut<'_, T>,
) -> Result<()> {
    check_row_backward("softmax_backward", &y, &dy, &dx)?;
    run_rows(RowOp::SoftmaxBackward, y, dy, dx);
    Ok(())
}

/// [`log_softmax_forward`](crate::log_softmax_forward)'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn log_softmax_forward_impl<T: KernelFloat>(x: MatRef<'_, T>, y: MatMut<'_, T>) -> Result<()> {
    check_row_op("log_softmax_forward", &x, &y)?;
    run_rows(RowOp::LogSoftmax, x, x, y);
    Ok(())
}

/// [`log_softmax_backward`](crate::log_softmax_backward)'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn log_softmax_backward_impl<T: KernelFloat>(
    y: MatRef<'_, T>,
    dy: MatRef<'_, T>,
    dx: MatMut<'_, T>,
) -> Result<()> {
    check_row_backward("log_softmax_backward", &y, &dy, &dx)?;
    run_rows(RowOp::LogSoftmaxBackward, y, dy, dx);
    Ok(())
}
