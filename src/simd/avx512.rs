//! The AVX-512 path's slice kernels: the bodies of `math.rs` on explicit 512-bit vectors
//! (16 f32 or 8 f64 lanes), where the power of two of an exponential is applied by one
//! `vscalef` (a·2^⌊b⌋, rounded once) instead of exponent-bit arithmetic and two products.
//! `vscalef` rounds exactly where those two products did (the first exact, the second once),
//! so this path gives the other vector paths' bits; it only takes fewer instructions (eˣ for
//! x ≤ 0: 15 per vector, against 19 for the same body vectorized by LLVM, which builds 2ⁿ
//! with integer shifts and adds and applies it in two products).
//!
//! Soundness: a vector here is made only from an [`Avx512`] token (its `Lane::splat` and
//! `Lane::load` take one), and a token only by [`Avx512::new`], an `unsafe` function whose
//! precondition is that the CPU has AVX-512 F, BW, DQ, VL and FMA, which the crate checks once
//! (`SimdPath::Avx512` is only chosen when they were detected). Every other operation takes a
//! vector, so it runs only where one was made.

/// The proof that this CPU has AVX-512 F, BW, DQ, VL and FMA: the token of the 512-bit lane
/// types.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx512(());

impl Avx512 {
    /// # Safety
    ///
    /// The CPU supports avx512f, avx512bw, avx512dq, avx512vl, avx2 and fma.
    #[inline(always)]
    pub(crate) unsafe fn new() -> Avx512 {
        Avx512(())
    }
}

use super::consts::Consts;
use super::lane::Lane;
use super::math;
use super::ops::{BinaryOp, UnaryOp};
use super::{ACC, Internal, combine, drive};
use std::arch::x86_64::*;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// The operations of one 512-bit vector type, through its intrinsics.
macro_rules! zmm_lane {
    ($name:ident, $v:ty, $t:ty, $n:expr, $mask:ty, maskz_loadu = $maskz_loadu:ident,
     mask_storeu = $mask_storeu:ident,
     set1 = $set1:ident, loadu = $loadu:ident, storeu = $storeu:ident,
     fmadd = $fmadd:ident, add = $add:ident, sub = $sub:ident, mul = $mul:ident,
     div = $div:ident, min = $min:ident, max = $max:ident, cmp = $cmp:ident,
     blend = $blend:ident, and = $and:ident, andnot = $andnot:ident, or = $or:ident,
     xor = $xor:ident, scalef = $scalef:ident, pow2i = |$pn:ident, $pm:ident| $pow2i:block, split_exp = |$sx:ident| $split_exp:block) => {
        /// One 512-bit vector: made only with an [`Avx512`] token.
        #[derive(Clone, Copy)]
        struct $name($v);

        // SAFETY (every block of this impl): a value of this type, and so a call of any of
        // these methods, exists only where an `Avx512` token was made: the CPU has AVX-512
        // F, BW, DQ, VL and FMA, the features of every intrinsic used here.
        impl Lane for $name {
            type E = $t;
            type Token = Avx512;
            const N: usize = $n;
            const FUSED: bool = true;
            math::lane_exps!();
            #[inline(always)]
            fn token(self) -> Avx512 {
                Avx512(())
            }
            #[inline(always)]
            fn splat(_: Avx512, v: $t) -> Self {
                // SAFETY: see the impl (the token is the proof).
                Self(unsafe { $set1(v) })
            }
            #[inline(always)]
            fn load(_: Avx512, s: &[$t]) -> Self {
                let s = &s[..$n];
                // SAFETY: see the impl; `s` holds the $n elements read.
                Self(unsafe { $loadu(s.as_ptr()) })
            }
            #[inline(always)]
            fn load_partial(_: Avx512, s: &[$t]) -> Self {
                let m = ((1u32 << s.len().min($n)) - 1) as $mask;
                // SAFETY: see the impl; the mask reads only the elements of `s`.
                Self(unsafe { $maskz_loadu(m, s.as_ptr()) })
            }
            #[inline(always)]
            fn store_partial(self, s: &mut [$t]) {
                let m = ((1u32 << s.len().min($n)) - 1) as $mask;
                // SAFETY: see the impl; the mask writes only the elements of `s`.
                unsafe { $mask_storeu(s.as_mut_ptr(), m, self.0) }
            }
            #[inline(always)]
            fn store(self, s: &mut [$t]) {
                let s = &mut s[..$n];
                // SAFETY: see the impl; `s` holds the $n elements written.
                unsafe { $storeu(s.as_mut_ptr(), self.0) }
            }
            #[inline(always)]
            fn fma(self, b: Self, c: Self) -> Self {
                // SAFETY: see the impl.
                Self(unsafe { $fmadd(self.0, b.0, c.0) })
            }
            #[inline(always)]
            fn vabs(self) -> Self {
                // SAFETY: see the impl.
                Self(unsafe { $andnot($set1(-0.0), self.0) })
            }
            #[inline(always)]
            fn vmin(self, o: Self) -> Self {
                // SAFETY: see the impl.
                Self(unsafe { $min(self.0, o.0) })
            }
            #[inline(always)]
            fn vmax(self, o: Self) -> Self {
                // SAFETY: see the impl.
                Self(unsafe { $max(self.0, o.0) })
            }
            #[inline(always)]
            fn sel_ge(a: Self, b: Self, t: Self, f: Self) -> Self {
                // SAFETY: see the impl.
                Self(unsafe { $blend($cmp::<_CMP_GE_OQ>(a.0, b.0), f.0, t.0) })
            }
            #[inline(always)]
            fn sel_gt(a: Self, b: Self, t: Self, f: Self) -> Self {
                // SAFETY: see the impl.
                Self(unsafe { $blend($cmp::<_CMP_GT_OQ>(a.0, b.0), f.0, t.0) })
            }
            #[inline(always)]
            fn sel_lt(a: Self, b: Self, t: Self, f: Self) -> Self {
                // SAFETY: see the impl.
                Self(unsafe { $blend($cmp::<_CMP_LT_OQ>(a.0, b.0), f.0, t.0) })
            }
            #[inline(always)]
            fn keep_nan(x: Self, y: Self) -> Self {
                // SAFETY: see the impl.
                Self(unsafe { $blend($cmp::<_CMP_UNORD_Q>(x.0, x.0), y.0, x.0) })
            }
            #[inline(always)]
            fn copysign(mag: Self, sign: Self) -> Self {
                // SAFETY: see the impl.
                Self(unsafe {
                    let s = $set1(-0.0);
                    $or($andnot(s, mag.0), $and(sign.0, s))
                })
            }
            #[inline(always)]
            fn clamp_lo(x: Self, lo: Self) -> Self {
                // SAFETY: see the impl. `max(a, b)` is `if a > b { a } else { b }`.
                Self(unsafe { $max(lo.0, x.0) })
            }
            #[inline(always)]
            fn clamp_hi(x: Self, hi: Self) -> Self {
                // SAFETY: see the impl. `min(a, b)` is `if a < b { a } else { b }`.
                Self(unsafe { $min(hi.0, x.0) })
            }
            #[inline(always)]
            fn pow2i(n_plus_magic: Self, magic: Self) -> Self {
                // SAFETY: see the impl.
                let ($pn, $pm) = (n_plus_magic.0, magic.0);
                // SAFETY: see the impl. (A block, as for `split_exp` below.)
                Self(unsafe { $pow2i })
            }
            #[inline(always)]
            fn split_exp(self) -> (Self, Self) {
                let $sx = self.0;
                // SAFETY: see the impl. (A block, not a closure: a closure's body would be
                // compiled out of line, without the caller's target features, every
                // intrinsic a call.)
                let (k, f) = unsafe { $split_exp };
                (Self(k), Self(f))
            }
            #[inline(always)]
            fn scalef(self, n: Self) -> Option<Self> {
                // SAFETY: see the impl.
                Some(Self(unsafe { $scalef(self.0, n.0) }))
            }
        }

        impl Add for $name {
            type Output = Self;
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                // SAFETY: as for the `Lane` impl.
                Self(unsafe { $add(self.0, o.0) })
            }
        }
        impl Sub for $name {
            type Output = Self;
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                // SAFETY: as for the `Lane` impl.
                Self(unsafe { $sub(self.0, o.0) })
            }
        }
        impl Mul for $name {
            type Output = Self;
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                // SAFETY: as for the `Lane` impl.
                Self(unsafe { $mul(self.0, o.0) })
            }
        }
        impl Div for $name {
            type Output = Self;
            #[inline(always)]
            fn div(self, o: Self) -> Self {
                // SAFETY: as for the `Lane` impl.
                Self(unsafe { $div(self.0, o.0) })
            }
        }
        impl Neg for $name {
            type Output = Self;
            #[inline(always)]
            fn neg(self) -> Self {
                // SAFETY: as for the `Lane` impl.
                Self(unsafe { $xor(self.0, $set1(-0.0)) })
            }
        }
    };
}

zmm_lane!(
    Z32,
    __m512,
    f32,
    16,
    __mmask16,
    maskz_loadu = _mm512_maskz_loadu_ps,
    mask_storeu = _mm512_mask_storeu_ps,
    set1 = _mm512_set1_ps,
    loadu = _mm512_loadu_ps,
    storeu = _mm512_storeu_ps,
    fmadd = _mm512_fmadd_ps,
    add = _mm512_add_ps,
    sub = _mm512_sub_ps,
    mul = _mm512_mul_ps,
    div = _mm512_div_ps,
    min = _mm512_min_ps,
    max = _mm512_max_ps,
    cmp = _mm512_cmp_ps_mask,
    blend = _mm512_mask_blend_ps,
    and = _mm512_and_ps,
    andnot = _mm512_andnot_ps,
    or = _mm512_or_ps,
    xor = _mm512_xor_ps,
    scalef = _mm512_scalef_ps,
    pow2i = |nm, magic| {
        let n = _mm512_sub_epi32(_mm512_castps_si512(nm), _mm512_castps_si512(magic));
        _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(
            n,
            _mm512_set1_epi32(127),
        )))
    },
    // the scalar lanes' bit steps (`Lane::split_exp`), on 16 lanes
    split_exp = |x| {
        const SQRTH: i32 = 0x3F35_04F3;
        let b = _mm512_add_epi32(_mm512_castps_si512(x), _mm512_set1_epi32(0x3F80_0000 - SQRTH));
        let frac = _mm512_and_si512(b, _mm512_set1_epi32(0x007F_FFFF));
        let f = _mm512_castsi512_ps(_mm512_add_epi32(frac, _mm512_set1_epi32(SQRTH)));
        let kb = _mm512_or_si512(_mm512_srli_epi32::<23>(b), _mm512_set1_epi32(0x4B00_0000));
        (
            _mm512_sub_ps(_mm512_castsi512_ps(kb), _mm512_set1_ps(8_388_608.0 + 127.0)),
            f,
        )
    }
);

zmm_lane!(
    Z64,
    __m512d,
    f64,
    8,
    __mmask8,
    maskz_loadu = _mm512_maskz_loadu_pd,
    mask_storeu = _mm512_mask_storeu_pd,
    set1 = _mm512_set1_pd,
    loadu = _mm512_loadu_pd,
    storeu = _mm512_storeu_pd,
    fmadd = _mm512_fmadd_pd,
    add = _mm512_add_pd,
    sub = _mm512_sub_pd,
    mul = _mm512_mul_pd,
    div = _mm512_div_pd,
    min = _mm512_min_pd,
    max = _mm512_max_pd,
    cmp = _mm512_cmp_pd_mask,
    blend = _mm512_mask_blend_pd,
    and = _mm512_and_pd,
    andnot = _mm512_andnot_pd,
    or = _mm512_or_pd,
    xor = _mm512_xor_pd,
    scalef = _mm512_scalef_pd,
    pow2i = |nm, magic| {
        let n = _mm512_sub_epi64(_mm512_castpd_si512(nm), _mm512_castpd_si512(magic));
        _mm512_castsi512_pd(_mm512_slli_epi64::<52>(_mm512_add_epi64(
            n,
            _mm512_set1_epi64(1023),
        )))
    },
    split_exp = |x| {
        const SQRTH: i64 = 0x3FE6_A09E_667F_3BCD;
        let b = _mm512_add_epi64(
            _mm512_castpd_si512(x),
            _mm512_set1_epi64(0x3FF0_0000_0000_0000 - SQRTH),
        );
        let frac = _mm512_and_si512(b, _mm512_set1_epi64(0x000F_FFFF_FFFF_FFFF));
        let f = _mm512_castsi512_pd(_mm512_add_epi64(frac, _mm512_set1_epi64(SQRTH)));
        let kb = _mm512_or_si512(
            _mm512_srli_epi64::<52>(b),
            _mm512_set1_epi64(0x4330_0000_0000_0000),
        );
        (
            _mm512_sub_pd(
                _mm512_castsi512_pd(kb),
                _mm512_set1_pd(4_503_599_627_370_496.0 + 1023.0),
            ),
            f,
        )
    }
);

/// An element type with AVX-512 slice kernels.
pub trait ZFloat: Copy + Consts {
    /// y = op(x) elementwise (`x.len() == y.len()`), or y ← op(y) for `x = None`.
    ///
    /// # Safety
    ///
    /// The CPU supports AVX-512 F and DQ.
    unsafe fn z_map<O: UnaryOp<Self>>(_: Internal, op: O, x: Option<&[Self]>, y: &mut [Self]);
    /// out = op(a, b) elementwise (equal lengths).
    ///
    /// # Safety
    ///
    /// As for [`ZFloat::z_map`].
    unsafe fn z_map2<O: BinaryOp<Self>>(_: Internal, op: O, a: &[Self], b: &[Self], out: &mut [Self]);
    /// y = e^(x − m); returns Σ y in the 16 partial sums of [`super::Math::exp_shift_sum`].
    ///
    /// # Safety
    ///
    /// As for [`ZFloat::z_map`].
    unsafe fn z_exp_shift_sum(_: Internal, x: &[Self], m: Self, y: &mut [Self]) -> Self;
    /// y = e^(x − m); returns (Σ y over x ≠ m, the count of x = m) in the partial sums of
    /// [`super::Math::exp_shift_rest`], and, given the next row (of x's length), its 16
    /// lane maxima over its whole 16-element chunks, as [`super::max`] takes them.
    ///
    /// # Safety
    ///
    /// As for [`ZFloat::z_map`].
    unsafe fn z_exp_shift_rest(
        _: Internal,
        x: &[Self],
        m: Self,
        y: &mut [Self],
        next: Option<&[Self]>,
    ) -> ((Self, Self), [Self; ACC]);
    /// Lane layout from 16 contiguous rows of `c` elements: `x[j][k] = src[k·c + j]` for
    /// j < c (the other columns untouched), by the permutes of [`rows_to_lanes_f32`];
    /// false, and nothing written, where the type has no such kernel (f64) or the sizes do
    /// not fit (c = 0, c > W, W > 16, `src` shorter than 16·c).
    ///
    /// # Safety
    ///
    /// As for [`ZFloat::z_map`].
    unsafe fn z_rows_to_lanes<const W: usize>(
        _: Internal,
        src: &[Self],
        c: usize,
        x: &mut [[Self; ACC]; W],
    ) -> bool;
    /// The inverse: `dst[k·c + j] = e[j][k]` for j < c, k < 16; false as above (`dst`
    /// shorter than 16·c).
    ///
    /// # Safety
    ///
    /// As for [`ZFloat::z_map`].
    unsafe fn z_lanes_to_rows<const W: usize>(
        _: Internal,
        e: &[[Self; ACC]; W],
        c: usize,
        dst: &mut [Self],
    ) -> bool;
}

/// The slice kernels of one element type over its vector type `$z` (`$k` vectors per 16
/// elements, the accumulators of the reductions).
macro_rules! zfloat {
    ($t:ty, $z:ident, $n:expr, $k:expr, $mask:ty, $maskz_loadu:ident, $mask_storeu:ident,
     $mask_add:ident, $cmp:ident, $rows_to_lanes:ident, $lanes_to_rows:ident) => {
        impl ZFloat for $t {
            #[inline(always)]
            unsafe fn z_rows_to_lanes<const W: usize>(
                _: Internal,
                src: &[$t],
                c: usize,
                x: &mut [[$t; ACC]; W],
            ) -> bool {
                // SAFETY: the caller holds the precondition (AVX-512 F).
                unsafe { $rows_to_lanes::<W>(src, c, x) }
            }

            #[inline(always)]
            unsafe fn z_lanes_to_rows<const W: usize>(
                _: Internal,
                e: &[[$t; ACC]; W],
                c: usize,
                dst: &mut [$t],
            ) -> bool {
                // SAFETY: as above.
                unsafe { $lanes_to_rows::<W>(e, c, dst) }
            }

            #[inline(always)]
            unsafe fn z_map<O: UnaryOp<$t>>(_: Internal, op: O, x: Option<&[$t]>, y: &mut [$t]) {
                // SAFETY: the caller holds this function's precondition, `map`'s.
                unsafe { map(op, x, y) }
            }

            #[inline(always)]
            unsafe fn z_map2<O: BinaryOp<$t>>(_: Internal, op: O, a: &[$t], b: &[$t], out: &mut [$t]) {
                // SAFETY: as above.
                unsafe { map2(op, a, b, out) }
            }

            #[inline(always)]
            unsafe fn z_exp_shift_sum(_: Internal, x: &[$t], m: $t, y: &mut [$t]) -> $t {
                // SAFETY: as above.
                let (acc, _, _) = unsafe { shift_exp_sums::<false, false>(x, m, y, &[]) };
                combine(acc)
            }

            #[inline(always)]
            unsafe fn z_exp_shift_rest(
                _: Internal,
                x: &[$t],
                m: $t,
                y: &mut [$t],
                next: Option<&[$t]>,
            ) -> (($t, $t), [$t; ACC]) {
                // SAFETY: as above.
                let (acc, tops, nx) = unsafe {
                    match next {
                        Some(next) => shift_exp_sums::<true, true>(x, m, y, next),
                        None => shift_exp_sums::<true, false>(x, m, y, &[]),
                    }
                };
                ((combine(acc), tops), nx)
            }
        }

        /// [`ZFloat::z_map`]: the driver over 512-bit vectors (a masked tail), or over the
        /// one-element body vectorized under these features for an op without `ZMM`.
        ///
        /// # Safety
        ///
        /// The CPU supports AVX-512 F, BW, DQ, VL and FMA.
        #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
        #[inline]
        unsafe fn map<O: UnaryOp<$t>>(op: O, x: Option<&[$t]>, y: &mut [$t]) {
            if O::ZMM {
                // SAFETY: this function's precondition.
                let t = unsafe { Avx512::new() };
                drive::map::<$z, O>(t, op, x, y)
            } else {
                drive::map::<$t, O>((), op, x, y)
            }
        }

        /// [`ZFloat::z_map2`], as [`map`].
        ///
        /// # Safety
        ///
        /// As for [`map`].
        #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
        #[inline]
        unsafe fn map2<O: BinaryOp<$t>>(op: O, a: &[$t], b: &[$t], out: &mut [$t]) {
            if O::ZMM {
                // SAFETY: this function's precondition.
                let t = unsafe { Avx512::new() };
                drive::map2::<$z, O>(t, op, a, b, out)
            } else {
                drive::map2::<$t, O>((), op, a, b, out)
            }
        }

        /// One vector of [`shift_exp_sums`]: e = e^(v − m) added to the sums `acc` over the
        /// lanes of `live`; with `REST`, only over those whose v is not m (NaN included), the
        /// others counted in `tops`.
        #[inline(always)]
        fn shift_exp_step<const REST: bool>(v: $z, mv: $z, live: $mask, acc: &mut $z, tops: &mut u32) -> $z {
            let e = math::exp_nonpos(v - mv);
            // SAFETY: a `$z` exists only where the CPU has AVX-512 (see the vector type).
            unsafe {
                let keep = if REST {
                    live & $cmp::<_CMP_NEQ_UQ>(v.0, mv.0)
                } else {
                    live
                };
                *acc = $z($mask_add(acc.0, keep, acc.0, e.0));
                if REST {
                    *tops += (live & !keep).count_ones();
                }
            }
            e
        }

        /// y = e^(x − m) over 16-element chunks, summed into 16 partial sums (index mod
        /// 16), the Vector path's order; with `REST`, the elements equal to `m` are left out
        /// of the sum and counted instead (a whole number: the Vector path's partial counts
        /// of ones sum to the same float). The tail chunk is masked: its absent elements
        /// neither load nor store and add nothing (their lanes of the sum are kept as they
        /// were, as the Vector path's zero padding leaves them).
        ///
        /// # Safety
        ///
        /// The CPU supports AVX-512 F, BW, DQ, VL and FMA.
        #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
        #[inline]
        unsafe fn shift_exp_sums<const REST: bool, const NEXT: bool>(
            x: &[$t],
            m: $t,
            y: &mut [$t],
            next: &[$t],
        ) -> ([$t; ACC], $t, [$t; ACC]) {
            // SAFETY: this function's precondition.
            let t = unsafe { Avx512::new() };
            let mv = $z::splat(t, m);
            let mut acc = [$z::splat(t, 0.0); $k];
            let mut tops = 0_u32;
            let mut nmax = [$z::splat(t, <$t>::NEG_INFINITY); $k];
            let len = x.len().min(y.len());
            let full = len / $n * $n;
            // the next row's maxima run over its whole 16-element chunks only
            let next_full = if NEXT {
                next.len().min(len) / ACC * ACC
            } else {
                0
            };
            for (i, (xc, yc)) in x[..full]
                .chunks_exact($n)
                .zip(y[..full].chunks_exact_mut($n))
                .enumerate()
            {
                let j = (i * $n) % ACC / $n;
                if NEXT && (i + 1) * $n <= next_full {
                    // `vmax(a, b)` is `if a > b { a } else { b }`: `max`'s lane step
                    nmax[j] = $z::load(t, &next[i * $n..]).vmax(nmax[j]);
                }
                shift_exp_step::<REST>($z::load(t, xc), mv, !0, &mut acc[j], &mut tops).store(yc);
            }
            let tail = len - full;
            if tail > 0 {
                let mk: $mask = ((1u32 << tail) - 1) as $mask;
                let j = full % ACC / $n;
                // SAFETY: the masks read and write only the `tail` elements from `full`,
                // which exist.
                unsafe {
                    let v = $z($maskz_loadu(mk, x[full..].as_ptr()));
                    let e = shift_exp_step::<REST>(v, mv, mk, &mut acc[j], &mut tops);
                    $mask_storeu(y[full..].as_mut_ptr(), mk, e.0);
                }
            }
            let (mut a, mut nx) = ([0.0 as $t; ACC], [<$t>::NEG_INFINITY; ACC]);
            for j in 0..$k {
                acc[j].store(&mut a[j * $n..]);
                nmax[j].store(&mut nx[j * $n..]);
            }
            (a, tops as $t, nx)
        }
    };
}

mod f32_kernels {
    use super::*;
    zfloat!(
        f32,
        Z32,
        16,
        1,
        __mmask16,
        _mm512_maskz_loadu_ps,
        _mm512_mask_storeu_ps,
        _mm512_mask_add_ps,
        _mm512_cmp_ps_mask,
        rows_to_lanes_f32,
        lanes_to_rows_f32
    );
}

mod f64_kernels {
    use super::*;
    zfloat!(
        f64,
        Z64,
        8,
        2,
        __mmask8,
        _mm512_maskz_loadu_pd,
        _mm512_mask_storeu_pd,
        _mm512_mask_add_pd,
        _mm512_cmp_pd_mask,
        no_rows_to_lanes,
        no_lanes_to_rows
    );
}

// ----- 16-row transposes (f32) --------------------------------------------------------------

/// The permutes of a transpose between 16 contiguous rows of c ≤ 16 elements (row k at k·c:
/// c vectors of 16) and lane layout (c column vectors, lane k row k), for each c (index
/// c − 1) and each of the c output vectors: for every output lane, its position (0–31) in
/// the pair of source vectors that holds it, and for each pair of sources (2p, 2p + 1) the
/// output lanes it supplies. Built at compile time.
struct Permutes {
    idx: [[[u8; 16]; 16]; 16],
    from_pair: [[[u16; 8]; 16]; 16],
}

/// The tables of one direction, for every c. Rows to lanes: lane k of column j is element
/// f = k·c + j, in source pair f / 32 at position f mod 32. Lanes to rows: lane i of output
/// vector o is element f = 16·o + i, row f / c and column j = f mod c: lane f / c of column
/// vector j, in source pair j / 2 at position f / c + 16·(j mod 2).
const fn permutes(rows_to_lanes: bool) -> Permutes {
    let mut t = Permutes {
        idx: [[[0; 16]; 16]; 16],
        from_pair: [[[0; 8]; 16]; 16],
    };
    let mut c = 1;
    while c <= 16 {
        let mut o = 0;
        while o < c {
            let mut i = 0;
            while i < 16 {
                let (pair, pos) = if rows_to_lanes {
                    let f = i * c + o;
                    (f / 32, f % 32)
                } else {
                    let f = 16 * o + i;
                    let j = f % c;
                    (j / 2, f / c + 16 * (j % 2))
                };
                t.idx[c - 1][o][i] = pos as u8;
                t.from_pair[c - 1][o][pair] |= 1 << i;
                i += 1;
            }
            o += 1;
        }
        c += 1;
    }
    t
}

static ROWS_TO_LANES: Permutes = permutes(true);
static LANES_TO_ROWS: Permutes = permutes(false);

/// The c output vectors (c ≤ W ≤ 16, the rest zero) of a transpose from its c source
/// vectors `v` (zero past c): each output is one two-source permute per pair of sources,
/// merged by the pairs' lane masks.
///
/// # Safety
///
/// The CPU supports AVX-512 F.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn permute16<const W: usize>(v: &[__m512; 16], t: &Permutes, c: usize) -> [__m512; 16] {
    let (idx, from) = (&t.idx[c - 1], &t.from_pair[c - 1]);
    let mut out = [_mm512_setzero_ps(); 16];
    for o in 0..W.min(16) {
        if o < c {
            // SAFETY: `idx[o]` holds the 16 bytes read.
            let ix = _mm512_cvtepu8_epi32(unsafe { _mm_loadu_si128(idx[o].as_ptr().cast()) });
            let mut r = _mm512_permutex2var_ps(v[0], ix, v[1]);
            for p in 1..8 {
                if 2 * p < c {
                    let q = _mm512_permutex2var_ps(v[2 * p], ix, v[2 * p + 1]);
                    r = _mm512_mask_mov_ps(r, from[o][p], q);
                }
            }
            out[o] = r;
        }
    }
    out
}

/// The transpose of `src`'s first c vectors into `dst`'s first c vectors by the permutes `t`
/// (both directions: a lane layout `[[f32; 16]; W]` is c vectors once flattened); false,
/// nothing written, unless c ≤ W ≤ 16 and both slices hold 16·c elements.
///
/// # Safety
///
/// The CPU supports AVX-512 F.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn transpose16<const W: usize>(src: &[f32], t: &Permutes, c: usize, dst: &mut [f32]) -> bool {
    if c == 0 || c > W || W > 16 || src.len() < 16 * c || dst.len() < 16 * c {
        return false;
    }
    let mut v = [_mm512_setzero_ps(); 16];
    for (s, vs) in v.iter_mut().enumerate().take(c) {
        // SAFETY: elements 16·s .. 16·s + 16 ≤ 16·c of `src` are read.
        *vs = unsafe { _mm512_loadu_ps(src[16 * s..16 * s + 16].as_ptr()) };
    }
    // SAFETY: the caller's precondition.
    let out = unsafe { permute16::<W>(&v, t, c) };
    for (s, r) in out.into_iter().enumerate().take(c) {
        // SAFETY: elements 16·s .. 16·s + 16 ≤ 16·c of `dst` are written.
        unsafe { _mm512_storeu_ps(dst[16 * s..16 * s + 16].as_mut_ptr(), r) };
    }
    true
}

/// [`ZFloat::z_rows_to_lanes`] for f32: the c vectors of the 16 rows, permuted into columns
/// (about c·c/2 permutes, against 32·c scalar loads and stores element by element).
///
/// # Safety
///
/// The CPU supports AVX-512 F.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn rows_to_lanes_f32<const W: usize>(src: &[f32], c: usize, x: &mut [[f32; ACC]; W]) -> bool {
    // SAFETY: the caller's precondition.
    unsafe { transpose16::<W>(src, &ROWS_TO_LANES, c, x.as_flattened_mut()) }
}

/// [`ZFloat::z_lanes_to_rows`] for f32: the c columns permuted into the 16 rows' c vectors.
///
/// # Safety
///
/// The CPU supports AVX-512 F.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn lanes_to_rows_f32<const W: usize>(e: &[[f32; ACC]; W], c: usize, dst: &mut [f32]) -> bool {
    // SAFETY: the caller's precondition.
    unsafe { transpose16::<W>(e.as_flattened(), &LANES_TO_ROWS, c, dst) }
}

/// f64 keeps the element-by-element transposes (its 16 lanes are two vectors).
///
/// # Safety
///
/// None (the signature of [`rows_to_lanes_f32`]).
#[inline(always)]
unsafe fn no_rows_to_lanes<const W: usize>(_: &[f64], _: usize, _: &mut [[f64; ACC]; W]) -> bool {
    false
}

/// As [`no_rows_to_lanes`].
///
/// # Safety
///
/// None.
#[inline(always)]
unsafe fn no_lanes_to_rows<const W: usize>(_: &[[f64; ACC]; W], _: usize, _: &mut [f64]) -> bool {
    false
}
