//! nnkern's own packed GEMM: the engine [`GemmEngine::Nnkern`](super::GemmEngine::Nnkern).
//!
//! The loop nest of a cache-blocked GEMM, with one register-tile kernel written once over the
//! SIMD layer's [`Math`] paths (LLVM vectorizes its fixed-size arrays inside each path's
//! `#[target_feature]` function):
//!
//! ```text
//! for each panel of NC columns of B                  (jc)
//!   for each block of ≤ KC rows of B / columns of A  (pc, in order)
//!     for each chunk of MCHUNK rows of A             (ic)
//!       pack B[pc.., jc..] into slivers of NR columns (with the first chunk only) and
//!       A[ic.., pc..] into slivers of MR rows, in parallel jobs; both are shared
//!       for each task (MC rows) × (a group of ≥ NC_TASK of the panel's columns), in parallel:
//!         the MR×NR tile over kc for each pair of slivers (down C's columns, or along its
//!         rows when kc is shallow), then into C; the epilogue after k's last block
//! ```
//!
//! **Bits.** Every element of C is computed the same way wherever it lies: per block of k
//! (⌈k/KC⌉ blocks of equal depth, in order of k) a sum of products in order of l, by fused
//! multiply-adds from 0 on the FMA paths, then C ← α·sum + β·C for the first block (β = 0:
//! C unread) and C ← C + α·sum for the others. The tiling, the task grid and the thread
//! count never enter, so the result is the same on any number of threads and any cut of the
//! product; it depends on k's blocking (a function of k alone) and the SIMD path.
//!
//! **Memory.** The B panel and the A chunk live in the calling thread's packing buffer,
//! reused from call to call (no allocation once it has grown to the largest product's size);
//! the tasks, on whichever thread, only read them.

use super::engines::GemmFloat;
use super::operands::{Operands, is_large_product, with_pack_buf};
use crate::simd::{Internal, Isa, Kernel, Math, dispatch};

/// Rows of a register tile.
const MR: usize = 6;
/// Deepest block of k: the sum over k is cut into ⌈k/KC⌉ blocks of equal depth (the last
/// shallower when they do not divide k: ⌈k/blocks⌉ each), added into C in order. Part
/// of the result's definition (see the module docs): a constant, never a tuning knob that
/// changes with the machine. A sliver of B (KC×NR, 16 KiB) stays in L1.
const KC: usize = if cfg!(miri) { 8 } else { 256 };
/// Rows of A per task: the task's packed A block (MC×KC, 144 KiB of f32) stays in L2.
const MC: usize = if cfg!(miri) { 12 } else { 144 };
/// Columns of B per packed panel (KC×NC, 2 MiB of f32, in L3).
const NC: usize = if cfg!(miri) { 48 } else { 2048 };
/// The fewest columns a task covers when a panel's columns are split between tasks: each task
/// re-packs its A block, which costs about one element per NC_TASK multiply-adds.
const NC_TASK: usize = if cfg!(miri) { 16 } else { 256 };
/// Tasks a chunk of rows is cut into, when its shape allows: enough for 16 threads to share
/// evenly.
const TASKS: usize = if cfg!(miri) { 4 } else { 32 };
/// Rows of A packed at once (16 row blocks: 2.3 MiB of f32 at KC = 256), shared by the chunk's
/// tasks.
const MCHUNK: usize = if cfg!(miri) { 2 * MC } else { 16 * MC };
// (Under Miri the blocks shrink, so its small test shapes still take every path, and the
// tasks are fewer: each hand-off between threads costs Miri thousands of steps.)

/// One product on nnkern's engine: its operands, and the caller's SIMD path for every task.
pub(super) struct Product<'e, T> {
    pub(super) isa: Isa,
    pub(super) op: Operands<'e, T>,
}

// SAFETY: a `Product` lives inside one `gemm_then` call, which holds the shared borrows of A
// and B and the exclusive borrow of C for its whole duration. Tasks read A and B and the
// shared packed panel, and write pairwise disjoint tiles of C, so sharing it between the
// rayon tasks of that call races on nothing. T is `Float`, hence `Send + Sync`.
unsafe impl<T: GemmFloat> Sync for Product<'_, T> {}

impl<T: GemmFloat> Product<'_, T> {
    /// Runs the product.
    ///
    /// # Safety
    ///
    /// m, k, n ≥ 1 and α ≠ 0; `a` is valid for reads at every `i·rsa + l·csa` (i < m, l < k),
    /// `b` at every `l·rsb + j·csb` (l < k, j < n), `c` for reads and writes at every
    /// `i·rsc + j·csc` (i < m, j < n); C's elements are pairwise distinct, overlap neither A
    /// nor B, and no one else touches them during the call. With an epilogue, `csc` = 1.
    pub(super) unsafe fn run(&self) {
        // NR: two vector registers of elements on AVX-512 (32 f32, 16 f64), one 64-byte line
        // elsewhere (16 f32, 8 f64: two AVX2 registers); either way the tile's accumulators
        // fill 12 registers, leaving the rest of the 16 (32) for B and the broadcast of A
        // from outside the pool, the whole product on one of its workers: one hand-off
        // instead of two per block of C
        let large = is_large_product(self.op.m, self.op.k, self.op.n);
        crate::par::on_pool(large, || match (self.isa.is_avx512(), std::mem::size_of::<T>()) {
            (true, 4) => self.run_oriented::<32>(),
            (true, _) | (false, 4) => self.run_oriented::<16>(),
            (false, _) => self.run_oriented::<8>(),
        })
    }

    /// [`Product::run_nr`] on C, or on Cᵀ = Bᵀ·Aᵀ when that fills the MR×NR tiles better
    /// (see [`transpose_fills_more`]) and there is no epilogue: a weight gradient xᵀ·dy of a
    /// layer with 10 outputs fills 10 of a tile's 32 (or 16) columns, but 10 of 12 rows as its
    /// transpose. The bits are the same either way (see [`Operands::transposed`]; the tiles
    /// sum over k alike in both).
    fn run_oriented<const NR: usize>(&self) {
        if self.op.epilogue.is_none() && transpose_fills_more(self.op.m, self.op.n, NR) {
            Product {
                isa: self.isa,
                op: self.op.transposed(),
            }
            .run_nr::<NR>();
        } else {
            self.run_nr::<NR>();
        }
    }

    /// [`Product::run`] with register tiles MR×NR.
    fn run_nr<const NR: usize>(&self) {
        let (m, k, n) = (self.op.m, self.op.k, self.op.n);
        let nc_max = NC.min(n).next_multiple_of(NR);
        let rows_max = MCHUNK.min(m).next_multiple_of(MR);
        // k's blocks: as few as KC allows, of equal depth (the last shallower by less than
        // one per block): 784 is 4 × 196, not 3 × 256 + 16, whose shallow last pass over C
        // costs as much memory traffic as a deep one
        let kc_max = k.div_ceil(k.div_ceil(KC));
        // whether a caller outside the pool hands the tasks to it (a worker of the pool does)
        let large = is_large_product(m, k, n);
        with_pack_buf::<T, _>(kc_max * nc_max + rows_max * kc_max, |buf| {
            let (bpack, apack) = buf.split_at_mut(kc_max * nc_max);
            for jc in (0..n).step_by(NC) {
                let nc = NC.min(n - jc);
                let slivers = nc.div_ceil(NR);
                for pc in (0..k).step_by(kc_max) {
                    let kc = kc_max.min(k - pc);
                    for ic in (0..m).step_by(MCHUNK) {
                        let rows = MCHUNK.min(m - ic);
                        let blk = Block {
                            ic,
                            rows,
                            jc,
                            nc,
                            pc,
                            kc,
                            first: pc == 0,
                            last: pc + kc == k,
                        };
                        // the chunk's tasks: its row blocks × the panel's column groups, as
                        // many groups as make TASKS tasks, each ≥ NC_TASK wide; blocks and
                        // groups cut evenly, in whole slivers (sizes differ by one sliver at
                        // most: 256 rows are 126 + 130, not 144 + 112, so that two threads
                        // share the tasks evenly)
                        let row_blocks = rows.div_ceil(MC);
                        let groups = TASKS.div_ceil(row_blocks).min(nc.div_ceil(NC_TASK)).max(1);
                        // row block r's rows (whole slivers of MR, the last cut at `rows`)
                        let rblock = |r: usize| {
                            let (q0, q1) = even_part(rows.div_ceil(MR), row_blocks, r);
                            (q0 * MR, (q1 * MR).min(rows))
                        };
                        let bp = &mut bpack[..kc * slivers * NR];
                        let ap = &mut apack[..rows.next_multiple_of(MR) * kc];
                        // packing: B's column groups (with the chunk's first rows only) and
                        // A's row blocks, each a job of its own
                        let b_jobs = if ic == 0 { groups } else { 0 };
                        {
                            let bsl = Slots::new(bp, kc * NR);
                            let asl = Slots::new(ap, kc);
                            crate::par::for_each_index(b_jobs + row_blocks, large, &|t| {
                                let job = if t < b_jobs {
                                    let (s0, s1) = even_part(slivers, groups, t);
                                    Pack::B(bsl.take(s0, s1), s0)
                                } else {
                                    // (the last block's rows are packed up to a whole sliver)
                                    let (r0, r1) = rblock(t - b_jobs);
                                    Pack::A(asl.take(r0, r1.next_multiple_of(MR)), r0)
                                };
                                dispatch(
                                    self.isa,
                                    PackJob::<T, NR> {
                                        p: self,
                                        blk: &blk,
                                        job,
                                    },
                                );
                            });
                        }
                        let (bp, ap) = (&*bp, &*ap);
                        crate::par::for_each_index(row_blocks * groups, large, &|t| {
                            let (i0, i1) = rblock(t / groups);
                            let (s0, s1) = even_part(slivers, groups, t % groups);
                            let ab = &ap[i0 * kc..i1.next_multiple_of(MR) * kc];
                            self.task::<NR>(&blk, i0, i1 - i0, s0, s1, ab, bp);
                        });
                    }
                }
            }
        });
    }

    /// Rows ic + i0..ic + i0 + mc of C (A's rows packed in `ap`) against slivers s0..s1 of
    /// the packed B panel, then the epilogue on them when this is k's last block.
    #[allow(clippy::too_many_arguments)]
    fn task<const NR: usize>(
        &self,
        blk: &Block,
        i0: usize,
        mc: usize,
        s0: usize,
        s1: usize,
        ap: &[T],
        bp: &[T],
    ) {
        let i0 = blk.ic + i0;
        dispatch(
            self.isa,
            Task::<T, NR> {
                p: self,
                blk,
                i0,
                mc,
                s0,
                s1,
                bp,
                ap,
            },
        );
        if let (true, Some(f)) = (blk.last, self.op.epilogue) {
            let c0 = blk.jc + s0 * NR;
            let cols = (blk.jc + s1 * NR).min(blk.jc + blk.nc) - c0;
            for i in i0..i0 + mc {
                // SAFETY: csc = 1 with an epilogue (`run`'s contract), so row i's columns
                // c0..c0 + cols are consecutive elements of C, inside it (c0 + cols ≤ n);
                // this task alone writes them and no other reference to them lives.
                let seg =
                    unsafe { std::slice::from_raw_parts_mut(self.op.c.add(i * self.op.rsc + c0), cols) };
                f(i, c0, seg);
            }
        }
    }
}

/// Whether an m×n C covered by MR×NR tiles computes at least a tenth fewer padding
/// elements as its transpose (n×m): the useful work is m·n either way, the work done the
/// padded areas ⌈m⌉_MR·⌈n⌉_NR and ⌈n⌉_MR·⌈m⌉_NR. The margin keeps the orientation of
/// products whose tiles are nearly full either way (the transposed C is stored by columns).
fn transpose_fills_more(m: usize, n: usize, nr: usize) -> bool {
    let padded = |rows: usize, cols: usize| rows.next_multiple_of(MR) * cols.next_multiple_of(nr);
    10 * padded(m, n) > 11 * padded(n, m)
}

/// A buffer handed out in disjoint parts to parallel jobs, in units of `unit` elements.
struct Slots<T> {
    ptr: *mut T,
    len: usize,
    unit: usize,
}

// SAFETY: jobs take pairwise disjoint parts (`take`'s contract) of a buffer borrowed
// exclusively for the Slots' life.
unsafe impl<T: Send> Sync for Slots<T> {}

impl<T> Slots<T> {
    fn new(buf: &mut [T], unit: usize) -> Slots<T> {
        Slots {
            ptr: buf.as_mut_ptr(),
            len: buf.len(),
            unit,
        }
    }

    /// Units u0..u1 (cut at the buffer's end). The parts that jobs take must be pairwise
    /// disjoint, and no slice may outlive the Slots: the callers take part t of an
    /// [`even_part`] cut in job t of one `par::for_each_index`.
    #[allow(clippy::mut_from_ref)]
    fn take(&self, u0: usize, u1: usize) -> &mut [T] {
        let s = (u0 * self.unit).min(self.len);
        let e = (u1 * self.unit).clamp(s, self.len);
        // SAFETY: s ≤ e ≤ len: inside the buffer; the jobs' parts are disjoint and each job
        // takes its own (see above), so no two live slices overlap.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(s), e - s) }
    }
}

/// Part `i` (i < parts) of `items` cut into `parts` runs of consecutive items whose lengths
/// differ by one at most: items ⌊items·i/parts⌋..⌊items·(i + 1)/parts⌋.
fn even_part(items: usize, parts: usize, i: usize) -> (usize, usize) {
    (items * i / parts, items * (i + 1) / parts)
}

/// One packing job: B's column group from the given sliver, or A's row block from the given
/// row of the chunk.
enum Pack<'a, T> {
    B(&'a mut [T], usize),
    A(&'a mut [T], usize),
}

struct PackJob<'a, 'e, T, const NR: usize> {
    p: &'a Product<'e, T>,
    blk: &'a Block,
    job: Pack<'a, T>,
}

impl<T: GemmFloat, const NR: usize> Kernel for PackJob<'_, '_, T, NR> {
    type Out = ();
    #[inline(always)]
    fn run<M: Math>(self) {
        let PackJob { p, blk, job } = self;
        match job {
            Pack::B(dst, s0) => pack_b::<T, NR>(p, blk, s0, dst),
            Pack::A(dst, r0) => pack_a(p, blk, r0, dst),
        }
    }
}

/// Where a task's rows, block of k and panel of columns lie.
struct Block {
    /// The chunk's first row and its rows.
    ic: usize,
    rows: usize,
    jc: usize,
    nc: usize,
    pc: usize,
    kc: usize,
    /// k's first block: C ← α·sum + β·C.
    first: bool,
    /// k's last block: the epilogue follows.
    last: bool,
}

/// B[pc..pc + kc, ..] from sliver `s0` of the panel on into `bp`, as slivers of NR columns,
/// each kc rows of NR (zero past the panel's last column).
#[inline(always)]
fn pack_b<T: GemmFloat, const NR: usize>(p: &Product<'_, T>, blk: &Block, s0: usize, bp: &mut [T]) {
    let (pc, kc, jc, nc) = (blk.pc, blk.kc, blk.jc, blk.nc);
    let slivers = bp.len() / (kc * NR);
    if p.op.csb == 1 && jc + (s0 + slivers) * NR <= jc + nc {
        // whole slivers of a row-major B: LB of B's rows at a time, each read in order of
        // memory, one sliver after the other, each sliver's LB rows written as one run (a
        // row at a time, consecutive writes were a sliver apart, 16 KiB, all in one set of
        // the L1: 64×4096·4096×4096 took 4–9% longer)
        const LB: usize = 8;
        for l0 in (0..kc).step_by(LB) {
            let lb = LB.min(kc - l0);
            // (rows pc + l0 + r < k for r < lb, columns j0..j0 + slivers·NR ≤ n: in B)
            let src: [*const T; LB] =
                std::array::from_fn(|r| p.op.b.wrapping_add((pc + l0 + r) * p.op.rsb + jc + s0 * NR));
            for s in 0..slivers {
                let dst = &mut bp[(s * kc + l0) * NR..(s * kc + l0 + lb) * NR];
                for (row, src) in dst.chunks_exact_mut(NR).zip(src) {
                    let row: &mut [T; NR] = row.try_into().expect("NR elements");
                    // SAFETY: NR consecutive elements of B's row (above; r < lb).
                    *row = unsafe { src.add(s * NR).cast::<[T; NR]>().read_unaligned() };
                }
            }
        }
        return;
    }
    for (s, sliver) in bp.chunks_exact_mut(kc * NR).enumerate() {
        let j0 = jc + (s0 + s) * NR;
        let w = NR.min(jc + nc - j0);
        if p.op.rsb == 1 && w == NR {
            // a transposed B (column-major: each column contiguous in k): blocks of 8 of k
            // from each of the NR columns, written out row by row
            const L8: usize = 8;
            // (column j0 + j, rows pc.. of B: column j0 + j < n, `run`'s contract)
            let cols: [*const T; NR] = std::array::from_fn(|j| p.op.b.wrapping_add(pc + (j0 + j) * p.op.csb));
            let whole = kc / L8 * L8;
            for l0 in (0..whole).step_by(L8) {
                // SAFETY: rows pc + l0..pc + l0 + 8 ≤ pc + kc ≤ k of column j0 + j < n:
                // elements of B, consecutive (rsb = 1).
                let blk: [[T; L8]; NR] =
                    std::array::from_fn(|j| unsafe { cols[j].add(l0).cast::<[T; L8]>().read_unaligned() });
                for (l, row) in sliver[l0 * NR..(l0 + L8) * NR].chunks_exact_mut(NR).enumerate() {
                    let row: &mut [T; NR] = row.try_into().expect("NR elements");
                    *row = std::array::from_fn(|j| blk[j][l]);
                }
            }
            for l in whole..kc {
                // SAFETY: row pc + l < k of column j0 + j < n: an element of B.
                let row: [T; NR] = std::array::from_fn(|j| unsafe { *cols[j].add(l) });
                sliver[l * NR..(l + 1) * NR].copy_from_slice(&row);
            }
            continue;
        }
        for (l, row) in sliver.chunks_exact_mut(NR).enumerate() {
            // (row pc + l < k and columns j0..j0 + w ≤ n: elements of B, `run`'s contract)
            let src = p.op.b.wrapping_add((pc + l) * p.op.rsb + j0 * p.op.csb);
            if p.op.csb == 1 && w == NR {
                let row: &mut [T; NR] = row.try_into().expect("NR elements");
                // SAFETY: the NR consecutive elements from `src` are elements of B (above).
                *row = unsafe { src.cast::<[T; NR]>().read_unaligned() };
            } else {
                for (j, o) in row.iter_mut().enumerate() {
                    *o = if j < w {
                        // SAFETY: column j0 + j < n of row pc + l: an element of B (above).
                        unsafe { *src.add(j * p.op.csb) }
                    } else {
                        T::ZERO
                    };
                }
            }
        }
    }
}

/// A task of [`Product::run_nr`], run on the caller's SIMD path.
struct Task<'a, 'e, T, const NR: usize> {
    p: &'a Product<'e, T>,
    blk: &'a Block,
    i0: usize,
    mc: usize,
    s0: usize,
    s1: usize,
    bp: &'a [T],
    ap: &'a [T],
}

impl<T: GemmFloat, const NR: usize> Kernel for Task<'_, '_, T, NR> {
    type Out = ();
    #[inline(always)]
    fn run<M: Math>(self) {
        let Task {
            p,
            blk,
            i0,
            mc,
            s0,
            s1,
            bp,
            ap,
        } = self;
        let kc = blk.kc;
        let slivers_a = mc.div_ceil(MR);
        let slivers_b = s1 - s0;
        // Deep blocks: each sliver of B (kc·NR) stays in L1 while the A block streams past it
        // from L2. Shallow ones are bound by their writes of C: along C's rows. (One loop with
        // the order in its index, not closures: a closure does not inherit the SIMD path's
        // target features, and the tile compiled without them ran 100× slower.)
        let down_columns = kc >= SHALLOW;
        for t in 0..slivers_a * slivers_b {
            let (s, q) = if down_columns {
                (s0 + t / slivers_a, t % slivers_a)
            } else {
                (s0 + t % slivers_b, t / slivers_b)
            };
            let j0 = blk.jc + s * NR;
            let w = NR.min(blk.jc + blk.nc - j0);
            let i = i0 + q * MR;
            let h = MR.min(i0 + mc - i);
            // C's tile is read after the tile's kc·MR·NR multiply-adds: ask for its lines
            // now, so that their way from memory overlaps the arithmetic; every line of a
            // row's w elements when they are consecutive (an AVX-512 f32 row is two or
            // three lines: with its first line alone, the rest missed once per tile; 1–2%
            // of a 1024³ product), else its first and last elements
            let line = if p.op.csc == 1 {
                64 / std::mem::size_of::<T>()
            } else {
                w
            };
            for r in 0..h {
                for t in (0..w).step_by(line).chain([w - 1]) {
                    // SAFETY: (i + r, j0 + t), t < w, is an element of C (see below); a
                    // prefetch reads nothing.
                    prefetch(unsafe { p.op.c.add((i + r) * p.op.rsc + (j0 + t) * p.op.csc) });
                }
            }
            let acc = tile::<M, T, NR>(
                &ap[q * kc * MR..(q + 1) * kc * MR],
                &bp[s * kc * NR..(s + 1) * kc * NR],
            );
            // SAFETY: rows i..i + h < m and columns j0..j0 + w ≤ n of C: elements of C that
            // only this task writes (`run`'s contract).
            unsafe { store::<T, NR>(p, blk.first, i, h, j0, w, &acc) };
        }
    }
}

/// Blocks of k shallower than this take the tiles along C's rows (4096×10·10×512, the
/// backward's dz·Wᵀ of a 10-class head: 1.07–1.09 ms against 1.2–1.6 ms down C's columns).
const SHALLOW: usize = 64;

/// The chunk's rows r0.. of A[.., pc..pc + kc] into `ap` as slivers of MR rows, each kc
/// columns of MR (zero past the chunk's last row).
#[inline(always)]
fn pack_a<T: GemmFloat>(p: &Product<'_, T>, blk: &Block, r0: usize, ap: &mut [T]) {
    let (pc, kc) = (blk.pc, blk.kc);
    for (q, sliver) in ap.chunks_exact_mut(kc * MR).enumerate() {
        let i = blk.ic + r0 + q * MR;
        let h = MR.min(blk.ic + blk.rows - i);
        // (rows i..i + h < m and columns pc..pc + kc ≤ k: elements of A, `run`'s contract;
        // the pointers of rows past h are never read)
        let rows: [*const T; MR] =
            std::array::from_fn(|r| p.op.a.wrapping_add((i + r) * p.op.rsa + pc * p.op.csa));
        // SAFETY: called with r < h and l < kc only: an element of A (above).
        let at = |r: usize, l: usize| unsafe { *rows[r].add(l * p.op.csa) };
        if h == MR && p.op.rsa == 1 {
            for (l, col) in sliver.chunks_exact_mut(MR).enumerate() {
                let col: &mut [T; MR] = col.try_into().expect("MR elements");
                // SAFETY: rows i..i + MR of column pc + l, consecutive (rsa = 1): elements
                // of A (above).
                *col = unsafe { rows[0].add(l * p.op.csa).cast::<[T; MR]>().read_unaligned() };
            }
        } else if h == MR && p.op.csa == 1 {
            // a row-major A (each row contiguous in k): element l of each row in turn, from
            // slices, which LLVM reads row by row in vectors (0.13–0.16 ns an element on
            // AVX-512 and AVX2, against 0.8 for blocks of 8 per row, which it turned into
            // gathers, and ~1 ns through the strides, as below: 4% of a 1024³ product)
            // SAFETY: columns pc..pc + kc ≤ k of row i + r < m (r < h = MR): kc consecutive
            // elements of A (csa = 1), which nothing writes during the call.
            let lines: [&[T]; MR] =
                std::array::from_fn(|r| unsafe { std::slice::from_raw_parts(rows[r], kc) });
            for (l, col) in sliver.chunks_exact_mut(MR).enumerate() {
                for (o, line) in col.iter_mut().zip(&lines) {
                    *o = line[l];
                }
            }
        } else if h == MR {
            for (l, col) in sliver.chunks_exact_mut(MR).enumerate() {
                let col: &mut [T; MR] = col.try_into().expect("MR elements");
                *col = std::array::from_fn(|r| at(r, l));
            }
        } else {
            for (l, col) in sliver.chunks_exact_mut(MR).enumerate() {
                for (r, o) in col.iter_mut().enumerate() {
                    *o = if r < h { at(r, l) } else { T::ZERO };
                }
            }
        }
    }
}

/// The MR×NR register tile: Σ_l a\[l\]ᵢ·b\[l\]ⱼ over the sliver pair, in order of l, by fused
/// multiply-adds from 0 on the FMA paths.
#[inline(always)]
fn tile<M: Math, T: GemmFloat, const NR: usize>(a: &[T], b: &[T]) -> [[T; NR]; MR] {
    let mut acc = [[T::ZERO; NR]; MR];
    for (al, bl) in a.chunks_exact(MR).zip(b.chunks_exact(NR)) {
        let al: &[T; MR] = al.try_into().expect("MR elements");
        let bl: &[T; NR] = bl.try_into().expect("NR elements");
        for i in 0..MR {
            let s = al[i];
            for t in 0..NR {
                acc[i][t] = if M::FMA {
                    s.fused_mul_add(Internal, bl[t], acc[i][t])
                } else {
                    acc[i][t] + s * bl[t]
                };
            }
        }
    }
    acc
}

/// The tile's rows 0..h and columns 0..w into C at (i, j0): C ← α·acc + β·C on k's first
/// block (C unread when β = 0), C ← C + α·acc on the others.
///
/// # Safety
///
/// Rows i..i + h and columns j0..j0 + w address elements of C that the caller alone accesses.
#[inline(always)]
unsafe fn store<T: GemmFloat, const NR: usize>(
    p: &Product<'_, T>,
    first: bool,
    i: usize,
    h: usize,
    j0: usize,
    w: usize,
    acc: &[[T; NR]; MR],
) {
    let (alpha, beta) = (p.op.alpha, p.op.beta);
    if p.op.csc == 1 && h == MR && w == NR {
        // a whole tile into rows of C: a fixed loop, so the accumulators go from their
        // registers straight into the arithmetic (a loop of h rows spilled them to the stack
        // and read them back in pieces that store forwarding could not serve)
        for (r, row) in acc.iter().enumerate() {
            // SAFETY: the caller's contract; with csc = 1 the NR elements are consecutive.
            let dst: &mut [T; NR] = unsafe { &mut *p.op.c.add((i + r) * p.op.rsc + j0).cast::<[T; NR]>() };
            // (indexed loops into a local array, then one store: `array::from_fn` over 32
            // elements was not inlined, and outside the path's `#[target_feature]` function it
            // ran as SSE, 2% of a 1024³ product; loops writing `dst` in place ran scalar)
            let mut out = [T::ZERO; NR];
            if first && beta == T::ZERO {
                for t in 0..NR {
                    out[t] = alpha * row[t];
                }
            } else {
                let old = *dst;
                for t in 0..NR {
                    out[t] = if first {
                        alpha * row[t] + beta * old[t]
                    } else {
                        old[t] + alpha * row[t]
                    };
                }
            }
            *dst = out;
        }
        return;
    }
    for (r, row) in acc.iter().enumerate().take(h) {
        for (t, &v) in row.iter().enumerate().take(w) {
            // SAFETY: the caller's contract: (i + r, j0 + t) is an element of C.
            let d = unsafe { &mut *p.op.c.add((i + r) * p.op.rsc + (j0 + t) * p.op.csc) };
            *d = if !first {
                *d + alpha * v
            } else if beta == T::ZERO {
                alpha * v
            } else {
                alpha * v + beta * *d
            };
        }
    }
}

/// Asks the CPU to bring the cache line at `ptr` into L1 (x86-64; nothing elsewhere).
#[inline(always)]
fn prefetch<T>(ptr: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint that reads nothing and cannot fault, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(ptr.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The orientation rule on the shapes it is for, and on those it must leave alone.
    #[test]
    fn transposes_only_the_badly_filled_products() {
        // xᵀ·dy of a 512-input, 10-output layer: 10 of 32 (16) columns, 10 of 12 rows
        assert!(transpose_fills_more(512, 10, 32));
        assert!(transpose_fills_more(512, 10, 16));
        assert!(transpose_fills_more(300, 12, 16));
        // its transpose, square products and nearly full tiles stay as they are
        assert!(!transpose_fills_more(10, 512, 32));
        assert!(!transpose_fills_more(1024, 1024, 32));
        assert!(!transpose_fills_more(4096, 512, 16));
        assert!(!transpose_fills_more(784, 1000, 32));
    }

    /// C and Cᵀ = Bᵀ·Aᵀ through the same tiles give the same bits, for every tile width,
    /// across k's blocks and a chunk of rows, with strided operands and β ≠ 0: what lets
    /// [`Product::run_oriented`] pick either.
    #[test]
    fn both_orientations_give_the_same_bits() {
        let shapes: &[(usize, usize, usize)] = if cfg!(miri) {
            &[(20, 9, 5), (7, 17, 20)]
        } else {
            &[
                (300, 520, 10),
                (50, 300, 3),
                (10, 40, 300),
                (37, 260, 70),
                (MCHUNK + 7, 3, 9),
            ]
        };
        for &(m, k, n) in shapes {
            same_bits::<f32>(m, k, n);
            same_bits::<f64>(m, k, n);
        }
    }

    fn same_bits<T: GemmFloat>(m: usize, k: usize, n: usize) {
        let mut next = uniform(0x9e37_79b9_u64 ^ (m * 131 + k * 17 + n) as u64);
        let mut values = |len: usize| (0..len).map(|_| T::from_f64(next())).collect::<Vec<T>>();
        let (a, b, c0) = (values(m * k), values(k * (n + 3)), values(m * (n + 2)));
        let run = |nr: usize, transposed: bool| {
            let mut c = c0.clone();
            let scalars = (T::from_f64(1.5), T::from_f64(-0.75));
            run_product((m, k, n), scalars, &a, &b, &mut c, None, nr, transposed);
            c.iter().map(|v| v.to_f64().to_bits()).collect::<Vec<u64>>()
        };
        for nr in [8, 16, 32] {
            assert_eq!(run(nr, false), run(nr, true), "{m}×{k}×{n}, NR = {nr}");
        }
    }

    /// Values in [−1, 1) from a linear congruential generator (the top 24 bits of its state).
    fn uniform(seed: u64) -> impl FnMut() -> f64 {
        let mut state = seed;
        move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 40) as f64 / (1u64 << 24) as f64) * 2.0 - 1.0
        }
    }

    /// C ← α·A·B + β·C, then the epilogue, on MR×`nr` tiles, as C or (`transposed`) as Cᵀ:
    /// A (m×k) column-major, B (k×n) row-major with row stride n + 3, C (m×n) row-major with
    /// row stride n + 2, in buffers of exactly those sizes.
    #[allow(clippy::too_many_arguments)]
    fn run_product<T: GemmFloat>(
        (m, k, n): (usize, usize, usize),
        (alpha, beta): (T, T),
        a: &[T],
        b: &[T],
        c: &mut [T],
        epilogue: Option<super::super::operands::Epilogue<'_, T>>,
        nr: usize,
        transposed: bool,
    ) {
        assert!(a.len() == m * k && b.len() == k * (n + 3) && c.len() == m * (n + 2));
        let op = Operands {
            m,
            k,
            n,
            alpha,
            beta,
            a: a.as_ptr(),
            rsa: 1,
            csa: m,
            b: b.as_ptr(),
            rsb: n + 3,
            csb: 1,
            c: c.as_mut_ptr(),
            rsc: n + 2,
            csc: 1,
            epilogue,
        };
        let p = Product {
            isa: Isa::current(),
            op: if transposed { op.transposed() } else { op },
        };
        match nr {
            8 => p.run_nr::<8>(),
            16 => p.run_nr::<16>(),
            _ => p.run_nr::<32>(),
        }
    }

    /// Every register-tile width (8, 16 and 32: the AVX-512 widths run here too, on this CPU's
    /// path) in f32 and f64, against an f64 reference, on shapes that cross k's blocks, the
    /// row blocks and chunks, the column panels and a partial sliver (and B's whole slivers
    /// over deep blocks: 50×300·300×64), with strided and
    /// transposed operands, β ≠ 0 and an epilogue. The bound is the inner product's
    /// γ(k+2)·(|α|·Σ|a||b| + |β|·|c|): k rounded multiply-adds, then α's and β's products.
    #[test]
    fn every_tile_width_matches_the_reference() {
        let shapes: &[(usize, usize, usize)] = if cfg!(miri) {
            &[(30, 20, 60), (7, 9, 5)]
        } else {
            &[
                (300, 520, 70),
                (MCHUNK + 50, 3, 40),
                (20, 5, NC + 70),
                (1, 1, 1),
                (50, 300, 64),
            ]
        };
        for &(m, k, n) in shapes {
            check::<f32>(m, k, n);
            check::<f64>(m, k, n);
        }
    }

    fn check<T: GemmFloat>(m: usize, k: usize, n: usize) {
        let mut next = uniform(0x2545_f491_u64 ^ (m * 31 + k * 7 + n) as u64);
        // A stored transposed (column-major), B row-major with a padded row stride, C with
        // a padded row stride
        let a: Vec<f64> = (0..m * k).map(|_| next()).collect();
        let b: Vec<f64> = (0..k * (n + 3)).map(|_| next()).collect();
        let c0: Vec<f64> = (0..m * (n + 2)).map(|_| next()).collect();
        let (alpha, beta) = (1.5, -0.75);
        let at = |i: usize, l: usize| a[l * m + i];
        let bt = |l: usize, j: usize| b[l * (n + 3) + j];
        let mark = |i: usize, j: usize| (i * 7 + j * 3) as f64;
        // Σ_l a_il·b_lj and Σ_l |a_il·b_lj| in f64 over the inputs rounded to T, summed in
        // ascending l; once per shape and type (the tile widths share them), by rows of B
        let (mut dot, mut mag) = (vec![0.0; m * n], vec![0.0; m * n]);
        for l in 0..k {
            let b_row: Vec<f64> = (0..n).map(|j| T::from_f64(bt(l, j)).to_f64()).collect();
            for i in 0..m {
                let a_il = T::from_f64(at(i, l)).to_f64();
                let row = i * n..(i + 1) * n;
                for ((d, s), &b_lj) in dot[row.clone()].iter_mut().zip(&mut mag[row]).zip(&b_row) {
                    *d += a_il * b_lj;
                    *s += (a_il * b_lj).abs();
                }
            }
        }
        for (nr, with_epilogue) in [(8, false), (16, true), (32, false), (32, true)] {
            let ta: Vec<T> = a.iter().map(|&v| T::from_f64(v)).collect();
            let tb: Vec<T> = b.iter().map(|&v| T::from_f64(v)).collect();
            let mut tc: Vec<T> = c0.iter().map(|&v| T::from_f64(v)).collect();
            let epi = |i: usize, c_start: usize, seg: &mut [T]| {
                for (j, v) in seg.iter_mut().enumerate() {
                    *v += T::from_f64(mark(i, c_start + j));
                }
            };
            let epilogue: Option<super::super::operands::Epilogue<'_, T>> =
                if with_epilogue { Some(&epi) } else { None };
            let scalars = (T::from_f64(alpha), T::from_f64(beta));
            run_product((m, k, n), scalars, &ta, &tb, &mut tc, epilogue, nr, false);
            let u = T::EPSILON.to_f64() / 2.0;
            let gamma = (k + 2) as f64 * u / (1.0 - (k + 2) as f64 * u);
            for i in 0..m {
                for j in 0..n + 2 {
                    let got = tc[i * (n + 2) + j].to_f64();
                    let old = T::from_f64(c0[i * (n + 2) + j]).to_f64();
                    if j >= n {
                        assert_eq!(got.to_bits(), old.to_bits(), "padding ({i}, {j}) touched");
                        continue;
                    }
                    let (dot, mag) = (dot[i * n + j], mag[i * n + j]);
                    let mut want = alpha * dot + beta * old;
                    let mut bound = gamma * (alpha.abs() * mag + beta.abs() * old.abs());
                    if with_epilogue {
                        want += mark(i, j);
                        bound += u * want.abs();
                    }
                    assert!(
                        (got - want).abs() <= bound,
                        "{m}×{k}×{n}, NR = {nr}, ({i}, {j}): {got} vs {want} (bound {bound:e})"
                    );
                }
            }
        }
    }
}
