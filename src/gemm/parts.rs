//! The parallel split for the third-party engines: a large product cut along C's rows or
//! columns into parts fixed by its shape, each one single-threaded engine call (or the narrow
//! kernel) on the caller's rayon pool.

use super::engines::{GemmEngine, GemmFloat};
use super::operands::{Operands, is_large_product, macs};
use super::small::narrow;
use crate::simd::{Internal, Isa};

/// The least multiply-adds in a part.
const PART_WORK: usize = if cfg!(miri) { 1 << 11 } else { 1 << 21 };
/// The least rows (or columns) in a part: with fewer, the engine's repacking of the operand
/// every part shares (B for row parts, A for column parts) costs more than a few percent (at
/// 256, 256×784·784×1024 lost 12% on one thread; at 512, up to 5%). 384 still cuts a side of
/// 784 (the backward's dx of an MNIST layer) in two.
const MIN_PART: usize = if cfg!(miri) { 16 } else { 384 };
/// The most parts: 2 threads get 2 or 4, and one thread pays little for the cut.
const MAX_PARTS: usize = 4;
/// Part boundaries are multiples of this (the engines' tile heights and widths divide it).
const PART_ALIGN: usize = if cfg!(miri) { 16 } else { 64 };
// (Under Miri the thresholds shrink, so its small test shapes still take every path.)

/// Parts of C narrower than this (and at least 4× taller) run as their transpose on
/// matrixmultiply.
const SKINNY: usize = 32;

/// How C is cut: along its rows or its columns, in `parts` parts of `size` (the last shorter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Split {
    pub(super) by_rows: bool,
    pub(super) size: usize,
    pub(super) parts: usize,
}

impl Split {
    /// The cut for an m×k·k×n product: along the longer side of C, so the operand each part
    /// re-packs is the smaller one (A, m×k, when cutting columns; B, k×n, when cutting rows).
    /// A function of the shape alone.
    pub(super) fn plan(m: usize, k: usize, n: usize) -> Split {
        let by_rows = m > n;
        let dim = if by_rows { m } else { n };
        let parts = if is_large_product(m, k, n) {
            (dim / MIN_PART)
                .min(macs(m, k, n) / PART_WORK)
                .clamp(1, MAX_PARTS)
        } else {
            1
        };
        let size = dim.div_ceil(parts).next_multiple_of(PART_ALIGN).min(dim);
        Split {
            by_rows,
            size,
            parts: dim.div_ceil(size),
        }
    }
}

/// One product cut into parts: raw pointers and strides of views the caller checked.
pub(super) struct Job<'e, T> {
    pub(super) engine: GemmEngine,
    /// The caller's SIMD path, for the parts that run nnkern's own kernel.
    pub(super) isa: Isa,
    /// B packed for the narrow kernel, when the parts take it.
    pub(super) packed: Option<&'e [T]>,
    pub(super) split: Split,
    /// The product.
    pub(super) op: Operands<'e, T>,
}

// SAFETY: a `Job` lives inside one `gemm_then` call, which holds the shared borrows of A and B
// and the exclusive borrow of C for its whole duration. Its parts read A and B (shared reads
// are fine from any thread) and write pairwise disjoint sets of C's elements (distinct rows or
// distinct columns of a view whose elements are pairwise distinct), so sharing it between the
// rayon tasks of that call races on nothing. T is `Float`, hence `Send + Sync`.
unsafe impl<T: GemmFloat> Sync for Job<'_, T> {}

impl<T: GemmFloat> Job<'_, T> {
    /// Runs every part, across the caller's rayon pool (a product of several parts is large:
    /// see [`is_large_product`]).
    pub(super) fn run(&self) {
        crate::par::for_each_index(self.split.parts, true, &|p| self.part(p));
    }

    /// Part `p`: the engine on its rows (or columns) of C, then the epilogue on them.
    fn part(&self, p: usize) {
        let Split { by_rows, size, .. } = self.split;
        let dim = if by_rows { self.op.m } else { self.op.n };
        let (s, e) = (p * size, ((p + 1) * size).min(dim));
        let (r0, rows, c0, cols) = if by_rows {
            (s, e - s, 0, self.op.n)
        } else {
            (0, self.op.m, s, e - s)
        };
        // SAFETY: r0 < m and c0 < n (s < dim since p < parts), so the offset pointers address
        // elements of A (row r0), B (column c0) and C ((r0, c0)) that the checked views
        // contain; the part's rows×k·k×cols product then stays inside those views. Parts
        // write disjoint elements of C (see `Job`'s Sync), and this part's are touched by no
        // other thread during the call.
        unsafe {
            let (a, b, c) = (
                self.op.a.add(r0 * self.op.rsa),
                self.op.b.add(c0 * self.op.csb),
                self.op.c.add(r0 * self.op.rsc + c0 * self.op.csc),
            );
            let (rsa, csa, rsb, csb) = (
                self.op.rsa as isize,
                self.op.csa as isize,
                self.op.rsb as isize,
                self.op.csb as isize,
            );
            let (rsc, csc) = (self.op.rsc as isize, self.op.csc as isize);
            // matrixmultiply's kernels suit a wide C better than a tall skinny one (a 4096×10
            // product measured ~1.15–1.2× faster as its transpose); the gemm crate makes that
            // choice itself. The transpose is strides only.
            if let Some(packed) = self.packed {
                // SAFETY: as above: rows `rows` of A from `a` (each k contiguous elements:
                // `packed` is given only for A and C of unit column stride) and of C from `c`
                // (each of all n = `cols` columns, contiguous), all whole rows of this part.
                narrow(
                    self.isa,
                    rows,
                    self.op.k,
                    cols,
                    a,
                    self.op.rsa,
                    packed,
                    c,
                    self.op.rsc,
                );
            } else if self.engine == GemmEngine::MatrixMultiply && cols < SKINNY && rows >= 4 * cols {
                T::gemm_raw(
                    Internal,
                    self.engine,
                    cols,
                    self.op.k,
                    rows,
                    self.op.alpha,
                    b,
                    csb,
                    rsb,
                    a,
                    csa,
                    rsa,
                    self.op.beta,
                    c,
                    csc,
                    rsc,
                );
            } else {
                T::gemm_raw(
                    Internal,
                    self.engine,
                    rows,
                    self.op.k,
                    cols,
                    self.op.alpha,
                    a,
                    rsa,
                    csa,
                    b,
                    rsb,
                    csb,
                    self.op.beta,
                    c,
                    rsc,
                    csc,
                );
            }
        }
        if let Some(f) = self.op.epilogue {
            for i in r0..r0 + rows {
                // SAFETY: C has unit column stride when there is an epilogue (asserted in
                // `gemm_then`), so row i's columns c0..c0+cols are `cols` consecutive
                // elements of C, inside the view; they belong to this part alone and no other
                // reference to them exists while the slice lives.
                let seg =
                    unsafe { std::slice::from_raw_parts_mut(self.op.c.add(i * self.op.rsc + c0), cols) };
                f(i, c0, seg);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cut depends on the shape alone, along C's longer side, in at most `MAX_PARTS`
    /// aligned parts of at least `MIN_PART` (the last may be shorter), covering C exactly.
    #[test]
    #[cfg_attr(miri, ignore)] // the thresholds differ under Miri
    fn split_plan() {
        let one = |by_rows, dim| Split {
            by_rows,
            size: dim,
            parts: 1,
        };
        assert_eq!(Split::plan(100, 100, 100), one(false, 100)); // 1M multiply-adds: one part
        assert_eq!(
            Split::plan(256, 784, 1024),
            Split {
                by_rows: false,
                size: 512,
                parts: 2
            }
        );
        assert_eq!(
            Split::plan(1024, 1024, 1024),
            Split {
                by_rows: false,
                size: 512,
                parts: 2
            }
        );
        assert_eq!(
            Split::plan(64, 4096, 4096),
            Split {
                by_rows: false,
                size: 1024,
                parts: 4
            }
        );
        assert_eq!(
            Split::plan(4096, 512, 10),
            Split {
                by_rows: true,
                size: 1024,
                parts: 4
            }
        );
        assert_eq!(
            Split::plan(2100, 300, 530),
            Split {
                by_rows: true,
                size: 576,
                parts: 4
            }
        );
        for (m, k, n) in [
            (5000, 7, 333),
            (777, 999, 1500),
            (513, 4096, 513),
            (100_000, 1, 100),
        ] {
            let s = Split::plan(m, k, n);
            let dim = if s.by_rows { m } else { n };
            assert_eq!(s.by_rows, m > n);
            assert!((1..=MAX_PARTS).contains(&s.parts));
            assert!(s.parts == 1 || (s.size.is_multiple_of(PART_ALIGN) && s.size >= MIN_PART));
            assert!(
                s.size * (s.parts - 1) < dim && s.size * s.parts >= dim,
                "{s:?} for {m}×{k}×{n}"
            );
        }
    }
}
