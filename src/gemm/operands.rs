//! One product's operands, its size class, and the calling thread's packing buffer: what the
//! kernels, the split and the API above share.

use super::engines::GemmFloat;
use crate::simd::Internal;

/// Products up to this many multiply-adds skip the engine: its packing (and the allocation of
/// its packing buffers) costs more than the product itself at the book's layer sizes
/// (30×2·2×10 is 600 multiply-adds).
const SMALL_GEMM: usize = if cfg!(miri) { 1 << 8 } else { 1 << 14 };

/// The multiply-adds of an m×k·k×n product (saturating).
pub(super) fn macs(m: usize, k: usize, n: usize) -> usize {
    m.saturating_mul(n).saturating_mul(k)
}

/// Whether an m×k·k×n product takes the direct loops rather than the engine.
pub(crate) fn is_small_product(m: usize, k: usize, n: usize) -> bool {
    macs(m, k, n) <= SMALL_GEMM
}

/// Products below this many multiply-adds run as one part: ~40 µs on one core, where a
/// rayon hand-off (~1–5 µs) would cost more than the second core saves.
const PAR_MIN_WORK: usize = if cfg!(miri) { 1 << 12 } else { 1 << 22 };
/// Whether an m×k·k×n product is large: at least [`PAR_MIN_WORK`] multiply-adds. Only a
/// large product is cut into parts (`parts::Split::plan`), and only a large product's tasks on the
/// packed engine are handed to the pool by a caller outside it (see `par::for_each_index`).
/// From outside, each split pays two cross-thread wake-ups (about 18 µs on a 2-core Zen 3),
/// and the packed engine splits twice per block of C (packing, then the tasks): 145×8·8×257
/// went from 24 µs on one thread to 49 on two, 150×32·32×300 from 55 to 68, while
/// 200×64·64×300 (3.8M) gained (122 → 108).
pub(super) fn is_large_product(m: usize, k: usize, n: usize) -> bool {
    macs(m, k, n) >= PAR_MIN_WORK
}

/// One product's operands as raw parts of views whose shapes were checked:
/// C (m×n) ← α·A (m×k)·B (k×n) + β·C, then the epilogue on C's rows.
#[derive(Clone, Copy)]
pub(super) struct Operands<'e, T> {
    pub(super) m: usize,
    pub(super) k: usize,
    pub(super) n: usize,
    pub(super) alpha: T,
    pub(super) beta: T,
    pub(super) a: *const T,
    pub(super) rsa: usize,
    pub(super) csa: usize,
    pub(super) b: *const T,
    pub(super) rsb: usize,
    pub(super) csb: usize,
    pub(super) c: *mut T,
    pub(super) rsc: usize,
    pub(super) csc: usize,
    pub(super) epilogue: Option<Epilogue<'e, T>>,
}

impl<T: Copy> Operands<'_, T> {
    /// The same product as Cᵀ (n×m) ← α·Bᵀ (n×k)·Aᵀ (k×m) + β·Cᵀ: the same elements and
    /// pointers, strides swapped. Each element of C is the same sum of the same products
    /// (a·b = b·a exactly), so an engine that sums over k the same way in either orientation
    /// gives the same bits. No epilogue (it works on C's rows).
    pub(super) fn transposed(self) -> Self {
        debug_assert!(self.epilogue.is_none(), "an epilogue works on C's rows");
        Operands {
            m: self.n,
            n: self.m,
            a: self.b,
            rsa: self.csb,
            csa: self.rsb,
            b: self.a,
            rsb: self.csa,
            csb: self.rsa,
            rsc: self.csc,
            csc: self.rsc,
            ..self
        }
    }
}

/// A per-row epilogue run on each part of C right after the part's product, while the part is
/// still in cache: `f(row, first_col, segment)` gets the row's columns `first_col..` of the
/// part, contiguous.
pub(crate) type Epilogue<'e, T> = &'e (dyn Fn(usize, usize, &mut [T]) + Sync);

/// Runs `f` on a scratch slice of `len` elements, aligned to 64 bytes (each load of the narrow
/// kernel is one cache line: at the 16-byte alignment of a plain allocation, every load split
/// across two and 4096×512·512×10 ran 15% slower), from the calling thread's reused buffer
/// (it grows to the largest size asked and keeps it), or from a fresh one when that buffer is
/// in use further up this thread's stack (a rayon worker that took another product's task
/// while it waits on its own).
pub(super) fn with_pack_buf<T: GemmFloat, R>(len: usize, f: impl FnOnce(&mut [T]) -> R) -> R {
    const ALIGN: usize = 64;
    let pad = ALIGN / std::mem::size_of::<T>();
    let aligned = |buf: &mut Vec<T>| {
        if buf.len() < len + pad {
            buf.resize(len + pad, T::ZERO);
        }
        // (an offset below `pad` always exists: the allocation is aligned to size_of::<T>())
        let off = buf.as_ptr().align_offset(ALIGN).min(pad);
        f(&mut buf[off..off + len])
    };
    T::pack_buf(Internal).with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => aligned(&mut buf),
        Err(_) => aligned(&mut Vec::new()),
    })
}
