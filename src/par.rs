//! Deterministic work splitting over rows on the caller's rayon pool.
//!
//! Work is cut into blocks of rows whose size depends only on the kernel's measured cost
//! ([`Cost`]), the element type and the shape (never on the thread count), and block results are combined by a binary tree whose shape depends only on the
//! number of blocks. So every result, reductions included, is bit-for-bit the same on 1 thread
//! or 64. Work that fits in one block runs inline on the calling thread without touching rayon,
//! and so, in the same blocks, does work under [`COLD_PS`] from a thread outside the pool.

use crate::mat::MatMut;

/// One thread's time a work block aims for, in picoseconds of [`Cost`]: a call of less work
/// than this is one block and runs on the caller. 16 µs on the machine the costs were
/// measured on. There a block handed to another thread costs the caller about 2 µs (a ReLU of
/// 4096 elements forced into two blocks went from 0.6 to 2.3 µs on two threads), and a
/// kernel's own set-up per block (a partial lane group, its partial sums) about 0.5 µs: blocks
/// of 8–16 µs (see [`rows_per_block`]) keep the set-up under 6% and let a call of 16 µs or
/// more share its work at a gain (two blocks of 8 µs: about 10 µs on two threads).
const BLOCK_PS: u64 = 16_000_000;

/// The least work, in picoseconds of [`Cost`], that a call from a thread outside the pool
/// hands to the pool: 8 blocks' worth, 128 µs on the reference machine. From outside, a split
/// cannot start on the caller: rayon injects the whole tree into the pool, wakes a worker and
/// puts the caller to sleep until the last block ends, so the call pays two cross-thread
/// wake-ups. Measured on a 2-core Zen 3 (2026-12-07, a spin loop of W µs split in two from
/// the main thread, 2-thread global pool): W = 8 → 24 µs, 16 → 30, 32 → 27–41, 64 → 51;
/// gelu on 4096 elements (two blocks) went from 9.6 µs on one thread to 17.8 on two. Below
/// this much work such a call runs its blocks in order on the caller: the same blocks, the
/// same combining tree, the same bits. A call from a worker of the pool (inside
/// `ThreadPool::install`, or from a kernel that is itself a block) splits from two blocks
/// up, as a block handed to a spinning neighbour costs about 2 µs.
const COLD_PS: u64 = 8 * BLOCK_PS;

/// What a kernel costs on one thread, per element and per row, in picoseconds of f32 work:
/// measured by the `cost_per_element` bench group (`cargo bench --bench bench_main --
/// cost_per_element`) on the reference machine (a 2-core Zen 1 with AVX2, 2026-12-06), where
/// elementwise kernels run on 16 384 elements and row kernels on 16 rows of 1000 (the cost
/// per element) and 1600 rows of 10 (the rest is the cost per row). On another machine the
/// same blocks take more or less time (the arithmetic-bound kernels gain most from wider
/// vectors): the costs are constants, never measured at run time.
///
/// The block sizes it gives depend on the kernel, the element type and the shape, never on
/// the thread count, so results stay bit-for-bit the same on any pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cost {
    elem: u32,
    row: u32,
}

impl Cost {
    /// A kernel of `elem` ps per element and `row` ps per row.
    pub(crate) const fn new(elem: u32, row: u32) -> Cost {
        Cost { elem, row }
    }

    /// An elementwise kernel of `elem` ps per element.
    pub(crate) const fn elem(elem: u32) -> Cost {
        Cost { elem, row: 0 }
    }

    /// The same cost with `row` ps more per row (a kernel run row by row on strided views).
    pub(crate) const fn plus_row(self, row: u32) -> Cost {
        Cost {
            elem: self.elem,
            row: self.row.saturating_add(row),
        }
    }

    /// Whether an elementwise body is long enough to run four streams at once on the
    /// one-element lanes (see `simd::lane::X4`): a transcendental body (1000 ps or more) is a
    /// chain of dependent operations that keeps the FMA pipes idle one stream at a time; a
    /// short one (a product, a select: 120–200 ps) is bound by memory, and measured 3× slower
    /// in four streams, whose bounds and overlap checks LLVM's vectorizer then gives up on.
    pub(crate) const fn interleaved(self) -> bool {
        self.elem >= 1000
    }

    /// The cost for element type `T`: ×2 per element for 8-byte types (half the lanes per
    /// vector, twice the bytes), the same per row.
    pub(crate) const fn of<T>(self) -> Grain {
        let wide = if std::mem::size_of::<T>() > 4 { 2 } else { 1 };
        Grain {
            elem: self.elem as u64 * wide,
            row: self.row as u64,
        }
    }
}

/// A [`Cost`] for one element type: what the splitters take.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Grain {
    elem: u64,
    row: u64,
}

/// Rows per block for `rows` rows of `cols` elements of work `g` (at least 1): the fewest
/// blocks that hold at most [`BLOCK_PS`] each, rounded up to a power of two, of equal size
/// but for the last. So a pool of 2, 4, 8 or 16 threads gets equal shares of the halving
/// tree of [`map_blocks`] (11 blocks on two threads would take 6 blocks' time, 16 blocks
/// 8 blocks' of a smaller size), and in a call cut into several, every block but the last
/// costs more than half of [`BLOCK_PS`] (whole rows permitting).
pub(crate) fn rows_per_block(rows: usize, cols: usize, g: Grain) -> usize {
    let per_row = row_work(cols, g);
    let most = usize::try_from(BLOCK_PS / per_row).unwrap_or(usize::MAX).max(1);
    let blocks = rows.div_ceil(most).max(1);
    let blocks = blocks.checked_next_power_of_two().unwrap_or(blocks);
    rows.div_ceil(blocks).max(1)
}

/// The work of one row of `cols` elements, in picoseconds (at least 1). (u64 products of
/// usize and u32 values: saturating, so a view of 2⁶³ elements is one row per block, not an
/// overflow.)
fn row_work(cols: usize, g: Grain) -> u64 {
    (cols as u64).saturating_mul(g.elem).saturating_add(g.row).max(1)
}

/// How many blocks of [`rows_per_block`] rows `rows` rows make (what [`map_blocks`] runs).
pub(crate) fn block_count(rows: usize, cols: usize, g: Grain) -> usize {
    rows.div_ceil(rows_per_block(rows, cols, g))
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

/// Runs `f(first_row, end_row, parts)` on each block of `rows_per_block(rows, cols, g)` rows, where
/// `parts` holds the rows `first_row..end_row` of `out`, and combines the block results with
/// `combine` in a fixed tree order (`R::default()` when there are no elements: `rows` or
/// `cols` is 0).
pub(crate) fn map_blocks<P, R, F, C>(rows: usize, cols: usize, g: Grain, out: P, f: &F, combine: &C) -> R
where
    P: RowSplit,
    R: Send + Default,
    F: Fn(usize, usize, P) -> R + Sync,
    C: Fn(R, R) -> R + Sync,
{
    // No elements, whatever the other dimension: nothing to split (a view of usize::MAX
    // empty rows must not cost one block per row).
    if rows == 0 || cols == 0 {
        return R::default();
    }
    let per = rows_per_block(rows, cols, g);
    let blocks = rows.div_ceil(per);
    let t = Tree {
        per,
        rows,
        // one block runs inline: no need to ask the pool
        parallel: blocks > 1 && worth_splitting(row_work(cols, g).saturating_mul(rows as u64) >= COLD_PS),
    };
    t.run(out, 0, blocks, f, combine)
}

/// Whether a call cut into two or more blocks (or tasks) should run them through
/// `rayon::join`. Never on a one-thread pool, where a join called from outside the pool would
/// only hand the work to the pool's thread and wait. On a larger pool, from one of its
/// workers always; from any other thread only for `large` work (at least [`COLD_PS`] for the
/// row kernels). Either way the blocks and their combining order are the same.
fn worth_splitting(large: bool) -> bool {
    splits(
        large,
        rayon::current_thread_index().is_some(),
        rayon::current_num_threads(),
    )
}

/// [`worth_splitting`] for a caller that is (`in_pool`) or is not a worker of a pool of
/// `threads` threads.
fn splits(large: bool, in_pool: bool, threads: usize) -> bool {
    threads > 1 && (in_pool || large)
}

/// Runs `f` on a worker of the current rayon pool when called from outside the pool with
/// `large` work (and the pool has two or more threads), on the caller otherwise. For a call
/// that splits its work many times in a row (the packed GEMM: twice per block of C): from
/// outside, each split hands its work to the pool and puts the caller to sleep until it is
/// done, and each such wake-up cost about 40 µs on a 2-core Zen 4 (256×784·784×1024, eight
/// splits, two threads: 2.53–2.87 ms from outside the pool before, 2.34–2.55 ms with this,
/// 2.42–2.51 ms inside it; `docs/performance.md`); once on a worker, the splits are plain
/// joins. Where `f` runs changes nothing in its result.
pub(crate) fn on_pool<R: Send>(large: bool, f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_none() && splits(large, false, rayon::current_num_threads()) {
        rayon::scope(|_| f())
    } else {
        f()
    }
}

/// Runs `f(i)` for every i < `count`, halving the range across `rayon::join` where
/// [`worth_splitting`]`(large)` (in order on the caller otherwise). For work whose result does
/// not depend on which thread runs each index (the GEMM's tasks and parts); `large` says
/// whether the whole call is worth a split from outside the pool.
pub(crate) fn for_each_index(count: usize, large: bool, f: &(dyn Fn(usize) + Sync)) {
    fn go(t0: usize, t1: usize, f: &(dyn Fn(usize) + Sync)) {
        if t1 - t0 == 1 {
            f(t0);
        } else {
            let mid = t0 + (t1 - t0) / 2;
            rayon::join(|| go(t0, mid, f), || go(mid, t1, f));
        }
    }
    if count > 1 && worth_splitting(large) {
        go(0, count, f);
    } else {
        (0..count).for_each(f);
    }
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

/// Runs `f(first_row, block)` over the row blocks of `out` for work `g`, in parallel (no
/// result).
pub(crate) fn for_each_row_block<T, F>(out: MatMut<'_, T>, g: Grain, f: &F)
where
    T: Copy + Send,
    F: Fn(usize, MatMut<'_, T>) + Sync,
{
    let (rows, cols) = (out.rows(), out.cols());
    map_blocks(rows, cols, g, out, &|r0, _, blk| f(r0, blk), &|(), ()| ());
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks of `rows` rows of `cols` for `g`: (rows per block, blocks).
    fn cut(rows: usize, cols: usize, g: Grain) -> (usize, usize) {
        let per = rows_per_block(rows, cols, g);
        (per, rows.div_ceil(per))
    }

    #[test]
    fn blocks_follow_the_cost_per_element() {
        // 1000 ps per element: 16 000 elements per block at most
        let g = Cost::elem(1000).of::<f32>();
        assert_eq!(cut(16_000, 1, g), (16_000, 1));
        // one element more: two equal halves, not a full block and a remainder of one
        assert_eq!(cut(16_001, 1, g), (8001, 2));
        // three blocks' work: four blocks, so that two or four threads share them evenly
        assert_eq!(cut(40_000, 1, g), (10_000, 4));
        assert_eq!(cut(40_001, 1, g), (10_001, 4));
        // a kernel 10× cheaper takes 10× the elements in one block
        assert_eq!(cut(160_000, 1, Cost::elem(100).of::<f32>()), (160_000, 1));
        // f64 costs twice per element: half the elements per block
        assert_eq!(cut(16_000, 1, Cost::elem(1000).of::<f64>()), (8000, 2));
    }

    #[test]
    fn blocks_count_the_cost_per_row() {
        // rows of 10 at 1000 ps per element and 6000 per row: 16 µs / 16 ns = 1000 rows
        let g = Cost::new(1000, 6000).of::<f32>();
        assert_eq!(cut(1000, 10, g), (1000, 1));
        // 5 blocks' work: 8 blocks of 512 rows
        assert_eq!(cut(4096, 10, g), (512, 8));
        // the strided form of an elementwise op: its per-row term alone
        let g = Cost::elem(0).plus_row(2000).of::<f32>();
        assert_eq!(cut(8000, 1, g), (8000, 1));
        assert_eq!(cut(8001, 1, g), (4001, 2));
    }

    #[test]
    fn a_caller_outside_the_pool_splits_only_large_work() {
        assert!(!splits(false, false, 2));
        assert!(splits(true, false, 2));
        // a worker of the pool splits whatever the work (the caller decides on two blocks)
        assert!(splits(false, true, 2));
        // one thread: never
        assert!(!splits(true, true, 1) && !splits(true, false, 1));
    }

    /// For every block of `rows` elements at 1000 ps each, whether it ran on the calling
    /// thread (from the test's own thread, which no pool owns).
    fn blocks_on_caller(rows: usize) -> Vec<bool> {
        let g = Cost::elem(1000).of::<f32>();
        let caller = std::thread::current().id();
        map_blocks(
            rows,
            1,
            g,
            (),
            &|_, _, ()| vec![std::thread::current().id() == caller],
            &|mut a: Vec<bool>, b| {
                a.extend(b);
                a
            },
        )
    }

    #[test]
    fn small_calls_from_outside_the_pool_run_on_the_caller() {
        // 2 and 8 blocks (20 and 100 µs) below COLD_PS: every one on this thread, whatever
        // the global pool
        assert_eq!(blocks_on_caller(20_000), [true; 2]);
        assert_eq!(blocks_on_caller(100_000), [true; 8]);
        // 8 blocks of 16 µs (COLD_PS): handed to the global pool when it has two threads
        let big = blocks_on_caller(128_000);
        assert_eq!(big.len(), 8);
        if rayon::current_num_threads() > 1 {
            assert_eq!(big, [false; 8]);
        } else {
            assert_eq!(big, [true; 8]);
        }
    }

    #[test]
    fn small_index_ranges_from_outside_the_pool_run_on_the_caller() {
        let caller = std::thread::current().id();
        for large in [false, true] {
            let here = std::sync::Mutex::new(Vec::new());
            for_each_index(4, large, &|i| {
                here.lock()
                    .unwrap()
                    .push((i, std::thread::current().id() == caller))
            });
            let mut here = here.into_inner().unwrap();
            here.sort();
            let on_caller = !large || rayon::current_num_threads() == 1;
            assert_eq!(here, (0..4).map(|i| (i, on_caller)).collect::<Vec<_>>());
        }
    }

    #[test]
    fn huge_rows_neither_overflow_nor_vanish() {
        // a row whose cost overflows u64 is one block per row (3 rows: 3 blocks, not 4)
        let g = Cost::new(u32::MAX, u32::MAX).of::<f64>();
        assert_eq!(cut(3, usize::MAX, g), (1, 3));
        // a kernel of no measured cost counts 1 ps a row: blocks of up to 16 million rows
        let (per, blocks) = cut(1 << 40, 1, Cost::elem(0).of::<f32>());
        assert!(per <= 16_000_000 && per * blocks >= 1 << 40 && per * (blocks - 1) < 1 << 40);
        assert!(blocks.is_power_of_two());
        // more blocks than a power of two can count: as many as the cost asks for
        assert_eq!(
            cut(usize::MAX, 1, Cost::elem(16_000_000).of::<f32>()),
            (1, usize::MAX)
        );
    }
}
