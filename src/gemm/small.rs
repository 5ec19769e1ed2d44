//! nnkern's kernels for the products the engines handle badly: small products by direct
//! loops, and narrow ones (n ≤ 16) from B packed once.

use super::engines::GemmFloat;
use crate::mat::{MatMut, MatRef};
use crate::simd::{Internal, Isa, Kernel, Math, dispatch, unrolled};
use std::mem::MaybeUninit;

/// C ← α·A·B + β·C by direct loops, allocation-free.
///
/// When B fits [`PACK`] once its rows are padded to a multiple of [`LANES`], B is copied into
/// a zero-padded stack buffer and each row of C is built [`LANES`] columns at a time in a
/// fixed-size accumulator (a vector register on the SIMD paths), summing over k in order:
/// no read-modify-write of C per term. Otherwise each element is a dot product.
pub(super) fn small_gemm<T: GemmFloat>(
    isa: Isa,
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
) {
    let (k, n) = (a.cols(), b.cols());
    let nb = n.next_multiple_of(LANES);
    if k * nb <= PACK {
        dispatch(isa, SmallPacked { alpha, a, b, beta, c });
    } else {
        small_dots(alpha, a, b, beta, c);
    }
}

/// Accumulator width of the packed small product: one AVX-512 register of f32.
pub(super) const LANES: usize = 16;
/// Elements of the stack buffer B is packed into (16 KiB of f32).
const PACK: usize = 4096;

struct SmallPacked<'a, T> {
    alpha: T,
    a: MatRef<'a, T>,
    b: MatRef<'a, T>,
    beta: T,
    c: MatMut<'a, T>,
}

impl<T: GemmFloat> Kernel for SmallPacked<'_, T> {
    type Out = ();
    #[inline(always)]
    fn run<M: Math>(self) {
        let SmallPacked {
            alpha,
            a,
            b,
            beta,
            mut c,
        } = self;
        let (m, k, n) = (a.rows(), a.cols(), b.cols());
        let nb = n.next_multiple_of(LANES);
        // Uninitialized storage (zeroing 16 KiB would cost more than a book-sized product);
        // every element read below is written first.
        let mut buf = [MaybeUninit::<T>::uninit(); PACK];
        if nb == LANES {
            // one register-wide row each (the zero padding as part of it, not a separate fill)
            for (l, dst) in buf[..k * nb].chunks_exact_mut(LANES).enumerate() {
                let dst: &mut [MaybeUninit<T>; LANES] = dst.try_into().expect("LANES elements");
                *dst = [MaybeUninit::new(T::ZERO); LANES];
                if b.unit_col_stride() {
                    let br = b.row(l);
                    unrolled!(LANES, |j| {
                        if j < n {
                            dst[j].write(br[j]);
                        }
                    });
                } else {
                    for (j, d) in dst.iter_mut().enumerate().take(n) {
                        d.write(b.at(l, j));
                    }
                }
            }
        }
        let rest = if nb == LANES { 0 } else { k };
        for (l, dst) in buf[..rest * nb].chunks_exact_mut(nb).enumerate() {
            let (head, pad) = dst.split_at_mut(n);
            if b.unit_col_stride() {
                for (d, &v) in head.iter_mut().zip(b.row(l)) {
                    d.write(v);
                }
            } else {
                for (j, d) in head.iter_mut().enumerate() {
                    d.write(b.at(l, j));
                }
            }
            pad.iter_mut().for_each(|d| {
                d.write(T::ZERO);
            });
        }
        // SAFETY: k·nb ≤ PACK (checked by `small_gemm`), and the loop above wrote each of the
        // first k·nb elements; MaybeUninit<T> has T's layout.
        let packed: &[T] = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<T>(), k * nb) };
        if alpha == T::ONE
            && beta == T::ZERO
            && n <= LANES
            && k > 0
            && let Some(cf) = c.as_flat_mut()
        {
            // The layer-sized case (C dense, n ≤ 16, so nb = 16): C in blocks of rows, each
            // row one accumulator register over k, a block's rows independent FMA chains that
            // share each row of packed B (one chain alone waits on the FMA latency k times).
            // Blocks of 4 rows when A's rows are contiguous; all of C at once (≤ 16 rows) when
            // its columns are (A = Xᵀ of a row-major X, as in dW = Xᵀ·dZ); else row by row,
            // each row of A gathered (k ≤ PACK/16) into a buffer.
            if a.unit_col_stride() {
                let quads = m / 4 * 4;
                for i0 in (0..quads).step_by(4) {
                    let r = [a.row(i0), a.row(i0 + 1), a.row(i0 + 2), a.row(i0 + 3)];
                    let at = |l: usize| [r[0][l], r[1][l], r[2][l], r[3][l]];
                    outer_block::<M, T, 4, _>(4, packed, &at, n, cf, i0);
                }
                for i in quads..m {
                    let ar = a.row(i);
                    let at = |l: usize| [ar[l]];
                    outer_block::<M, T, 1, _>(1, packed, &at, n, cf, i);
                }
            } else if m <= LANES && a.t().unit_col_stride() {
                let at_t = a.t();
                let at = |l: usize| at_t.row(l);
                match m {
                    0..=4 => outer_block::<M, T, 4, _>(m, packed, &at, n, cf, 0),
                    5..=8 => outer_block::<M, T, 8, _>(m, packed, &at, n, cf, 0),
                    9..=12 => outer_block::<M, T, 12, _>(m, packed, &at, n, cf, 0),
                    _ => outer_block::<M, T, 16, _>(m, packed, &at, n, cf, 0),
                }
            } else {
                let mut abuf = [T::ZERO; PACK / LANES];
                for i in 0..m {
                    let ar = a.row_into(i, &mut abuf);
                    let at = |l: usize| [ar[l]];
                    outer_block::<M, T, 1, _>(1, packed, &at, n, cf, i);
                }
            }
            return;
        }
        for i in 0..m {
            for j0 in (0..n).step_by(LANES) {
                let mut acc = [T::ZERO; LANES];
                for l in 0..k {
                    let s = a.at(i, l);
                    let bl: &[T; LANES] = packed[l * nb + j0..][..LANES].try_into().expect("LANES elements");
                    for t in 0..LANES {
                        acc[t] += s * bl[t];
                    }
                }
                let store = |cv: &mut T, v: T| {
                    *cv = if beta == T::ZERO {
                        alpha * v
                    } else {
                        alpha * v + beta * *cv
                    };
                };
                if c.unit_col_stride() {
                    c.row_mut(i)[j0..]
                        .iter_mut()
                        .zip(acc)
                        .for_each(|(cv, v)| store(cv, v));
                } else {
                    for (t, &v) in acc.iter().enumerate().take(n - j0) {
                        store(c.at_mut(i, j0 + t), v);
                    }
                }
            }
        }
    }
}

/// B (k×n, n ≤ [`LANES`]) into `packed` as k rows of [`LANES`], zero-padded, for [`narrow`].
pub(super) fn narrow_pack_b<T: GemmFloat>(b: MatRef<'_, T>, packed: &mut [T]) {
    let n = b.cols();
    for (l, row) in packed.chunks_exact_mut(LANES).enumerate() {
        for (j, o) in row.iter_mut().enumerate() {
            *o = if j < n { b.at(l, j) } else { T::ZERO };
        }
    }
}

/// C ← A·B for a narrow C (n ≤ [`LANES`]) whose rows and A's rows are contiguous, from B
/// packed by [`narrow_pack_b`] (k rows of 16, zero-padded): rows of C are computed
/// 2 or 4 at a time (each load of B serving all of them), each row as two
/// interleaved accumulator chains over k (l mod 2) added at the end. The result of a row
/// does not depend on which rows share its part. Runs on `isa`, the caller's path.
///
/// # Safety
///
/// `a` addresses an m×k matrix with row stride `rsa` (rows may overlap: A is only read) and
/// unit column stride, `packed` holds k·[`LANES`] elements, `c` an m×n matrix with row stride
/// `rsc` ≥ n and unit column stride whose rows from `c` to the end of its last row are
/// exclusively the caller's; C overlaps neither A nor `packed`.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn narrow<T: GemmFloat>(
    isa: Isa,
    m: usize,
    k: usize,
    n: usize,
    a: *const T,
    rsa: usize,
    packed: &[T],
    c: *mut T,
    rsc: usize,
) {
    if m == 0 {
        return;
    }
    // SAFETY: A's rows 0..m span (m−1)·rsa + k elements from `a`, and C's (m−1)·rsc + n from
    // `c`, exclusively ours (caller's contract); shared A and exclusive C do not overlap.
    let (af, cf) = unsafe {
        (
            std::slice::from_raw_parts(a, (m - 1) * rsa + k),
            std::slice::from_raw_parts_mut(c, (m - 1) * rsc + n),
        )
    };
    dispatch(
        isa,
        Narrow {
            wide: isa.is_avx512(),
            m,
            af,
            rsa,
            k,
            n,
            packed,
            cf,
            rsc,
        },
    );
}

struct Narrow<'a, T> {
    /// The path's vectors are 512 bits wide.
    wide: bool,
    m: usize,
    af: &'a [T],
    rsa: usize,
    k: usize,
    n: usize,
    packed: &'a [T],
    cf: &'a mut [T],
    rsc: usize,
}

impl<T: GemmFloat> Kernel for Narrow<'_, T> {
    type Out = ();
    #[inline(always)]
    fn run<M: Math>(self) {
        let Narrow {
            wide,
            m,
            af,
            rsa,
            k,
            n,
            packed,
            cf,
            rsc,
        } = self;
        let mut store = |i: usize, sum: &[T; LANES]| store_row(cf, i * rsc, n, rsc == n, sum);
        let row = |i: usize| &af[i * rsa..i * rsa + k];
        // R rows at a time share each load of B; leftover rows go one at a time through the
        // same arithmetic (two chains per row, l mod 2), so a row's result does not depend on
        // its group. R·2 chains·(16 lanes ÷ the register's) accumulators: 8 registers for 4
        // rows of 512 bits, and for 2 rows of 256 (4 rows there need 16, all of AVX2's, and
        // spill: 4096×512·512×10 took 1.6–2.2 ms against 0.86–0.91 ms here, on AVX2)
        if wide {
            in_groups::<M, T, 4>(m, &row, packed, k, &mut store);
        } else {
            in_groups::<M, T, 2>(m, &row, packed, k, &mut store);
        }
    }
}

/// The rows of a narrow product R at a time, the rest one by one, each stored by `store`.
#[inline(always)]
fn in_groups<'a, M: Math, T: GemmFloat + 'a, const R: usize>(
    m: usize,
    row: &impl Fn(usize) -> &'a [T],
    packed: &[T],
    k: usize,
    store: &mut impl FnMut(usize, &[T; LANES]),
) {
    let full = m / R * R;
    for i in (0..full).step_by(R) {
        let sums = narrow_rows::<M, T, R>(std::array::from_fn(|r| row(i + r)), packed, k);
        for (r, sum) in sums.iter().enumerate() {
            store(i + r, sum);
        }
    }
    for i in full..m {
        let [sum] = narrow_rows::<M, T, 1>([row(i)], packed, k);
        store(i, &sum);
    }
}

/// Writes row `acc[..n]` of C at offset `o` of `cf`. In a dense C (rows back to back, written
/// in order) the whole 16-lane vector is stored where `cf` has room: the lanes past the row
/// land on the next row, which is written after.
#[inline(always)]
fn store_row<T: GemmFloat>(cf: &mut [T], o: usize, n: usize, dense: bool, acc: &[T; LANES]) {
    match cf.get_mut(o..o + LANES) {
        Some(dst) if dense => {
            let dst: &mut [T; LANES] = dst.try_into().expect("LANES elements");
            *dst = *acc;
        }
        _ => cf[o..o + n].copy_from_slice(&acc[..n]),
    }
}

/// R rows of a narrow product: two accumulator chains per row (even and odd l), added at the
/// end.
#[inline(always)]
fn narrow_rows<M: Math, T: GemmFloat, const R: usize>(
    ars: [&[T]; R],
    packed: &[T],
    k: usize,
) -> [[T; LANES]; R] {
    let mut even = [[T::ZERO; LANES]; R];
    let mut odd = [[T::ZERO; LANES]; R];
    let pairs = k / 2;
    for (p, bq) in packed.chunks_exact(2 * LANES).take(pairs).enumerate() {
        let (b0, b1) = bq.split_at(LANES);
        for r in 0..R {
            axpy16::<M, T>(&mut even[r], ars[r][2 * p], b0);
            axpy16::<M, T>(&mut odd[r], ars[r][2 * p + 1], b1);
        }
    }
    if k % 2 == 1 {
        let bl = &packed[(k - 1) * LANES..k * LANES];
        for r in 0..R {
            axpy16::<M, T>(&mut even[r], ars[r][k - 1], bl);
        }
    }
    let mut sums = [[T::ZERO; LANES]; R];
    for r in 0..R {
        for t in 0..LANES {
            sums[r][t] = even[r][t] + odd[r][t];
        }
    }
    sums
}

/// Rows i0..i0 + rows (≤ R) of C = A·B (C dense with n ≤ 16 columns, B packed in rows of 16)
/// as a sum of outer products over l: R accumulator rows each gain A[i, l]·B[l, :] per step
/// (`at(l)` holds A[i0 + i, l] for i < rows; the rows past it gain 0), so R independent FMA
/// chains share each row of B. Each element is Σ_l A[i, l]·B[l, j] in the order of l,
/// whatever the block, so results do not depend on the blocking. A row is stored as a whole
/// register where C has room past it (the lanes past the row land on the next row, written
/// after), the last row of C exactly.
#[inline(always)]
fn outer_block<M: Math, T: GemmFloat, const R: usize, C: AsRef<[T]>>(
    rows: usize,
    packed: &[T],
    at: &impl Fn(usize) -> C,
    n: usize,
    cf: &mut [T],
    i0: usize,
) {
    let mut acc = [[T::ZERO; LANES]; R];
    for (l, bl) in packed.chunks_exact(LANES).enumerate() {
        let col = at(l);
        let col = col.as_ref();
        unrolled!(R, |i| {
            axpy16::<M, T>(&mut acc[i], col.get(i).copied().unwrap_or(T::ZERO), bl);
        });
    }
    unrolled!(R, |i| {
        if i < rows {
            let o = (i0 + i) * n;
            if let Some(dst) = cf.get_mut(o..o + LANES) {
                let dst: &mut [T; LANES] = dst.try_into().expect("LANES elements");
                *dst = acc[i];
            } else {
                cf[o..o + n].iter_mut().zip(acc[i]).for_each(|(d, v)| *d = v);
            }
        }
    });
}

/// acc ← acc + s·b over 16 lanes (one vector register on AVX-512 for f32).
#[inline(always)]
fn axpy16<M: Math, T: GemmFloat>(acc: &mut [T; LANES], s: T, b: &[T]) {
    let b: &[T; LANES] = b.try_into().expect("LANES elements");
    for t in 0..LANES {
        acc[t] = if M::FMA {
            s.fused_mul_add(Internal, b[t], acc[t])
        } else {
            acc[t] + s * b[t]
        };
    }
}

/// C ← α·A·B + β·C one dot product per element (B too large to pack).
fn small_dots<T: GemmFloat>(alpha: T, a: MatRef<'_, T>, b: MatRef<'_, T>, beta: T, mut c: MatMut<'_, T>) {
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    for i in 0..m {
        for j in 0..n {
            let mut acc = T::ZERO;
            for l in 0..k {
                acc += a.at(i, l) * b.at(l, j);
            }
            let cv = c.at_mut(i, j);
            *cv = if beta == T::ZERO {
                alpha * acc
            } else {
                alpha * acc + beta * *cv
            };
        }
    }
}
