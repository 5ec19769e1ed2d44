//! Deterministic work splitting over rows on the caller's rayon pool.
//!
//! Work is cut into blocks of rows whose size depends only on the shape (never on the thread
//! count), and block results are combined by a binary tree whose shape depends only on the
//! number of blocks. So every result, reductions included, is bit-for-bit the same on 1 thread
//! or 64. Work that fits in one block runs inline on the calling thread without touching rayon.

use crate::mat::MatMut;

/// Elements per work block: big enough (128 KiB of f32) that a rayon task costs well under 1%
/// of the block's time, small enough that a 1024×1000 batch still splits into ~30 blocks.
const BLOCK_ELEMS: usize = 1 << 15;

/// Rows per block for `rows` rows of `cols` elements (at least 1): as many blocks as
/// [`BLOCK_ELEMS`] asks for, of equal size but for the last (4096 rows of 10 are two blocks
/// of 2048, not 3276 and 820, so two threads share them evenly).
pub(crate) fn rows_per_block(rows: usize, cols: usize) -> usize {
    let most = (BLOCK_ELEMS / cols.max(1)).max(1);
    rows.div_ceil(rows.div_ceil(most).max(1)).max(1)
}

/// Per-row outputs that can be cut between rows: a row-major view, a slice with one entry per
/// row (or an empty slice, which stays empty), or a tuple of those.
pub(crate) trait RowSplit: Send + Sized {
    /// Rows `0..k` and `k..`.
    fn split_at_row(self, k: usize) -> (Self, Self);
}

impl<S: Send> RowSplit for &mut [S] {
    fn split_at_row(self, k: usize) -> (Self, Self) {
        let at = if self.is_empty() { 0 } else { k };
        self.split_at_mut(at)
    }
}

impl<T: Copy + Send> RowSplit for MatMut<'_, T> {
    fn split_at_row(self, k: usize) -> (Self, Self) {
        self.split_rows(k)
    }
}

impl RowSplit for () {
    fn split_at_row(self, _k: usize) -> (Self, Self) {
        ((), ())
    }
}

impl<A: RowSplit, B: RowSplit> RowSplit for (A, B) {
    fn split_at_row(self, k: usize) -> (Self, Self) {
        let (a0, a1) = self.0.split_at_row(k);
        let (b0, b1) = self.1.split_at_row(k);
        ((a0, b0), (a1, b1))
    }
}

/// Runs `f(first_row, end_row, parts)` on each block of `rows_per_block(rows, cols)` rows, where
/// `parts` holds the rows `first_row..end_row` of `out`, and combines the block results with
/// `combine` in a fixed tree order (`R::default()` when there are no elements: `rows` or
/// `cols` is 0).
pub(crate) fn map_blocks<P, R, F, C>(rows: usize, cols: usize, out: P, f: &F, combine: &C) -> R
where
    P: RowSplit,
    R: Send + Default,
    F: Fn(usize, usize, P) -> R + Sync,
    C: Fn(R, R) -> R + Sync,
{
    // No elements, whatever the other dimension: nothing to split (a view of usize::MAX
    // empty rows must not cost usize::MAX / BLOCK_ELEMS blocks).
    if rows == 0 || cols == 0 {
        return R::default();
    }
    let per = rows_per_block(rows, cols);
    let blocks = rows.div_ceil(per);
    let t = Tree {
        per,
        rows,
        // one block runs inline: no need to ask the pool
        parallel: blocks > 1 && parallel(),
    };
    t.run(out, 0, blocks, f, combine)
}

/// Whether splitting work through `rayon::join` can help: false on a one-thread pool, where a
/// join called from outside the pool would only hand the work to the pool's thread and wait
/// (a cross-thread wake-up, ~10–40 µs here) for no gain. The split and the combining order
/// are the same either way.
pub(crate) fn parallel() -> bool {
    rayon::current_num_threads() > 1
}

/// The fixed block tree of [`map_blocks`].
#[derive(Clone, Copy)]
struct Tree {
    per: usize,
    rows: usize,
    parallel: bool,
}

impl Tree {
    fn run<P, R, F, C>(self, out: P, b0: usize, b1: usize, f: &F, combine: &C) -> R
    where
        P: RowSplit,
        R: Send,
        F: Fn(usize, usize, P) -> R + Sync,
        C: Fn(R, R) -> R + Sync,
    {
        let per = self.per;
        if b1 - b0 == 1 {
            // (b0·per < rows, so neither this nor the end overflows)
            let r0 = b0 * per;
            return f(r0, r0 + per.min(self.rows - r0), out);
        }
        let mid = b0 + (b1 - b0) / 2;
        let (top, bottom) = out.split_at_row((mid - b0) * per);
        let (l, r) = if self.parallel {
            rayon::join(
                || self.run(top, b0, mid, f, combine),
                || self.run(bottom, mid, b1, f, combine),
            )
        } else {
            (
                self.run(top, b0, mid, f, combine),
                self.run(bottom, mid, b1, f, combine),
            )
        };
        combine(l, r)
    }
}

/// Runs `f(first_row, block)` over row blocks of `out` in parallel (no result).
pub(crate) fn for_each_row_block<T, F>(out: MatMut<'_, T>, f: &F)
where
    T: Copy + Send,
    F: Fn(usize, MatMut<'_, T>) + Sync,
{
    let (rows, cols) = (out.rows(), out.cols());
    map_blocks(rows, cols, out, &|r0, _, blk| f(r0, blk), &|(), ()| ());
}

/// A buffer with one `width`-element slot per work block of [`map_blocks`] (blocks of `per`
/// rows, `per` from [`rows_per_block`]): it splits at block boundaries, so each block gets
/// its own slot, e.g. for per-block partial sums combined afterwards in block order.
pub(crate) struct PerBlock<'a, U> {
    /// `blocks · width` elements.
    pub data: &'a mut [U],
    /// Elements per slot.
    pub width: usize,
    /// Rows per block.
    pub per: usize,
}

impl<U: Send> RowSplit for PerBlock<'_, U> {
    fn split_at_row(self, k: usize) -> (Self, Self) {
        // `map_blocks` only splits at block boundaries: k is a multiple of `per`.
        let (top, bottom) = self.data.split_at_mut(k / self.per * self.width);
        let (width, per) = (self.width, self.per);
        (
            PerBlock {
                data: top,
                width,
                per,
            },
            PerBlock {
                data: bottom,
                width,
                per,
            },
        )
    }
}

impl<P: RowSplit> RowSplit for Option<P> {
    fn split_at_row(self, k: usize) -> (Self, Self) {
        match self {
            Some(p) => {
                let (a, b) = p.split_at_row(k);
                (Some(a), Some(b))
            }
            None => (None, None),
        }
    }
}
