//! The only place with SIMD and CPU-specific code: vector exp, sigmoid, tanh, the activations'
//! bodies, row reductions, and the run-time choice of instruction set.
//!
//! Organised by function, not by instruction set: `lane.rs` is the one vector interface
//! (`Lane`, whose values are made only from their instruction set's token), `math.rs` holds
//! each math body once over it (exp, expm1, sigmoid, tanh, x·σ(v)), `ops.rs` makes a function
//! a type (`UnaryOp`, `BinaryOp`: the activations' definitions in `ops/activation/defs.rs` are
//! such types too), and `drive.rs` holds the slice drivers (map, map in place, binary map),
//! written once. Each path only picks its lane type: 512-bit registers on
//! [`SimdPath::Avx512`] (`avx512.rs`, with one `vscalef` for each power of two and masked
//! tails; the other vector paths' bits in fewer instructions), one element compiled under
//! `avx2,fma` on [`SimdPath::Avx2`] (LLVM vectorizes the driver's loop), `wide`'s vectors on
//! [`SimdPath::Portable`] (SSE2, NEON, wasm), and on [`SimdPath::Scalar`] one element whose
//! exponentials are `std`'s, kept as the benches' baseline. The path is chosen once per
//! process from the CPU (or the `NNKERN_SIMD` environment variable), can be overridden per
//! thread with [`with_simd_path`], is read once per kernel call on the calling thread and
//! handed to every work block, and is dispatched once per block, never per vector.

#[cfg(target_arch = "x86_64")]
mod avx512;
pub(crate) mod consts;
pub(crate) mod drive;
pub(crate) mod lane;
pub(crate) mod math;
pub(crate) mod ops;
pub(crate) mod portable;

/// Off x86-64 there are no AVX-512 kernels: the trait is empty.
#[cfg(not(target_arch = "x86_64"))]
mod avx512 {
    /// An element type (no AVX-512 kernels on this architecture).
    pub trait ZFloat {}
    impl ZFloat for f32 {}
    impl ZFloat for f64 {}
}

use crate::error::{Error, ErrorKind, Result};
use crate::real::Real;
use consts::Consts;
pub(crate) use drive::ACC;
use lane::Lane;
pub(crate) use ops::{BinaryOp, Exp, ExpNonPos, Ln, Ln1p, UnaryOp};
use portable::Std;
use std::cell::Cell;
use std::fmt;
use std::sync::OnceLock;

/// An instruction-set path of the elementwise and row kernels.
///
/// # Example
///
/// ```
/// use nnkern::{SimdPath, simd_path, with_simd_path};
///
/// // The portable path runs everywhere; the kernels called inside use it.
/// let p = with_simd_path(SimdPath::Portable, || simd_path())?;
/// assert_eq!(p, SimdPath::Portable);
/// # Ok::<(), nnkern::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SimdPath {
    /// AVX-512 (F, BW, DQ, VL) with FMA: 16 f32 lanes.
    Avx512,
    /// AVX2 with FMA: 8 f32 lanes.
    Avx2,
    /// `wide`'s portable vectors (8 f32 / 4 f64 lanes on SSE2, NEON, wasm128).
    Portable,
    /// Scalar loops over `std`'s `exp` and `exp_m1` (no vector instructions).
    Scalar,
}

impl SimdPath {
    /// Every path, best first.
    pub const ALL: [SimdPath; 4] = [
        SimdPath::Avx512,
        SimdPath::Avx2,
        SimdPath::Portable,
        SimdPath::Scalar,
    ];

    /// The name accepted by `NNKERN_SIMD`: `avx512`, `avx2`, `portable` or `scalar`.
    pub fn name(self) -> &'static str {
        match self {
            SimdPath::Avx512 => "avx512",
            SimdPath::Avx2 => "avx2",
            SimdPath::Portable => "portable",
            SimdPath::Scalar => "scalar",
        }
    }

    /// Whether this CPU can run the path.
    pub fn is_supported(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            SimdPath::Avx512 => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512dq")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(target_arch = "x86_64")]
            SimdPath::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(not(target_arch = "x86_64"))]
            SimdPath::Avx512 | SimdPath::Avx2 => false,
            SimdPath::Portable | SimdPath::Scalar => true,
        }
    }
}

impl fmt::Display for SimdPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

static PROCESS_PATH: OnceLock<SimdPath> = OnceLock::new();

thread_local! {
    static THREAD_PATH: Cell<Option<SimdPath>> = const { Cell::new(None) };
}

/// The process default: `NNKERN_SIMD` if it names a supported path, else the best supported.
fn process_path() -> SimdPath {
    *PROCESS_PATH.get_or_init(|| {
        let best = SimdPath::ALL
            .into_iter()
            .find(|p| p.is_supported())
            .unwrap_or(SimdPath::Portable);
        match std::env::var("NNKERN_SIMD") {
            Ok(v) => SimdPath::ALL
                .into_iter()
                .find(|p| p.name() == v.trim().to_ascii_lowercase() && p.is_supported())
                .unwrap_or(best),
            Err(_) => best,
        }
    })
}

/// The path the kernels called on this thread use now.
///
/// It is the innermost [`with_simd_path`] on this thread, else the process default: the
/// `NNKERN_SIMD` environment variable (`avx512`, `avx2`, `portable`, `scalar`) when it names a
/// path this CPU supports, else the best path the CPU supports.
///
/// # Example
///
/// ```
/// assert!(nnkern::simd_path().is_supported());
/// ```
pub fn simd_path() -> SimdPath {
    THREAD_PATH.with(|c| c.get()).unwrap_or_else(process_path)
}

/// Runs `f` with the kernels called on this thread (and the work they hand to rayon) using
/// `path`; the previous choice is restored afterwards, also if `f` panics.
///
/// This is how tests and benches cover every path on one machine. Kernels read the path once
/// per call, so a call's result never mixes paths.
///
/// # Errors
///
/// [`ErrorKind::Value`] naming `path` if this CPU cannot run it.
///
/// # Example
///
/// ```
/// use nnkern::{MatMut, MatRef, SimdPath, sigmoid_forward, with_simd_path};
///
/// let x = [0.0_f32; 4];
/// let mut y = [0.0_f32; 4];
/// with_simd_path(SimdPath::Scalar, || {
///     sigmoid_forward(MatRef::from_row_major(&x, 1, 4)?, MatMut::from_row_major(&mut y, 1, 4)?)
/// })??;
/// assert_eq!(y, [0.5; 4]);
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn with_simd_path<R>(path: SimdPath, f: impl FnOnce() -> R) -> Result<R> {
    if !path.is_supported() {
        return Err(Error::new(
            "with_simd_path",
            "path",
            ErrorKind::Value,
            format!("is {path} but this CPU does not support it"),
        ));
    }
    struct Restore(Option<SimdPath>);
    impl Drop for Restore {
        fn drop(&mut self) {
            THREAD_PATH.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(THREAD_PATH.with(|c| c.replace(Some(path))));
    Ok(f())
}

/// The first argument of every per-type hook of the element traits (`SimdFloat` here,
/// `ZFloat` in `avx512.rs`, `GemmFloat` in the GEMM, `Entry`): a value only the crate can
/// make. The hooks are reachable through a public `T: Float` bound (supertrait methods are),
/// so without it code outside the crate could call them; with it, it cannot.
#[derive(Clone, Copy, Debug)]
pub struct Internal;

/// The SIMD layer's element trait: [`Real`] with vector bodies: `f32` (with `wide::f32x8`) and
/// `f64` (with `f64x4`).
pub trait SimdFloat: Real + Lane<E = Self, Token = ()> + Consts + avx512::ZFloat {
    /// The portable vector type.
    type Wide: Lane<E = Self, Token = ()>;
    /// The scalar path's lane: one element over `std`'s exponentials.
    type Std: Lane<E = Self, Token = ()>;

    /// ln(1 + x) for x ≥ 0 (or NaN, +∞) within 1 ulp: the log-sum-exp's ln(1 + rest), on
    /// the fastest accurate scalar route for the type.
    fn ln_1p_lse(self, _: Internal) -> Self;
    /// [`ln_1p_lse`](SimdFloat::ln_1p_lse) of each of 16 lanes (x ≥ 0 or NaN): the lane-per-row
    /// kernels' ln(1 + rest). For f32 a branch-free f64 body that vectorizes (within 1 ulp
    /// once rounded to f32, x < 2²⁹); for f64 `ln_1p` lane by lane.
    fn ln_1p_lanes(_: Internal, x: &mut [Self; LANES]);
    /// self·a + b rounded once: one instruction where the caller's context enables FMA (the
    /// `Vector` path, see [`Math::FMA`]); a slow library call elsewhere.
    fn fused_mul_add(self, _: Internal, a: Self, b: Self) -> Self;
}

impl SimdFloat for f32 {
    type Wide = wide::f32x8;
    type Std = Std<f32>;

    #[inline(always)]
    fn ln_1p_lse(self, _: Internal) -> f32 {
        ln_1p_via_f64(self as f64) as f32
    }

    #[inline(always)]
    fn ln_1p_lanes(_: Internal, x: &mut [f32; LANES]) {
        for v in x.iter_mut() {
            *v = ln_1p_f64_body(*v as f64) as f32;
        }
    }

    #[inline(always)]
    fn fused_mul_add(self, _: Internal, a: f32, b: f32) -> f32 {
        self.mul_add(a, b)
    }
}

impl SimdFloat for f64 {
    type Wide = wide::f64x4;
    type Std = Std<f64>;

    #[inline(always)]
    fn ln_1p_lse(self, _: Internal) -> f64 {
        self.ln_1p()
    }

    #[inline(always)]
    fn ln_1p_lanes(_: Internal, x: &mut [f64; LANES]) {
        for v in x.iter_mut() {
            *v = v.ln_1p();
        }
    }

    #[inline(always)]
    fn fused_mul_add(self, _: Internal, a: f64, b: f64) -> f64 {
        self.mul_add(a, b)
    }
}

/// ln(1 + e) for e ∈ [0, 1] (or NaN), branch-free so that a loop of it vectorizes: with
/// s = e/(2 + e) ∈ [0, ⅓], ln(1 + e) = 2·atanh(s) = 2s·Σ_k s^(2k)/(2k+1), summed to 7 terms for
/// f32 and 16 for f64 (truncation below (1/9)^K/(2K+1) < u). No cancellation: s carries 2
/// roundings and the series and the product 1–2 more, so the result is within 3 ulp
/// (measured: 2.83 ulp worst over every 16th f32 in [0, 1]).
#[inline(always)]
pub(crate) fn ln_1p_unit<T: Real>(e: T) -> T {
    let s = e / (T::from_f64(2.0) + e);
    let z = s * s;
    let terms = if T::EPSILON.to_f64() > 1e-10 { 7 } else { 16 };
    let mut acc = T::from_f64(1.0 / (2 * terms - 1) as f64);
    for k in (0..terms - 1).rev() {
        acc = acc * z + T::from_f64(1.0 / (2 * k + 1) as f64);
    }
    (s + s) * acc
}

/// ln(1 + x) in f64 for x ≥ 0: a three-term series below 2⁻²⁰ (truncation x⁴/4, relative
/// x³/4 < 2⁻⁶²), else ln of 1 + x, which is exact in f64 for any f32 x below 2²⁹ and rounded
/// once (2⁻⁵³) above. Accurate to f64 precision for f32 inputs — hence within 1 ulp of f32 once
/// rounded — and several times faster than `f32::ln_1p`. For f64 inputs it would lose
/// precision below 2⁻²⁰, so f64 keeps `ln_1p`.
#[inline(always)]
fn ln_1p_via_f64(x: f64) -> f64 {
    if x < 1.0 / (1 << 20) as f64 {
        x * (1.0 - x * (0.5 - x / 3.0))
    } else {
        (1.0 + x).ln()
    }
}

/// Runs `$body` with `$j` bound to each index below the constant `$w` (at most 16), unrolled
/// by hand. For loops over the 16-lane rows of a small array of accumulators or columns: with
/// no loop over those rows left, the compiler vectorizes each row's 16-lane loop as it stands,
/// where it otherwise (depending on the count) turned the outer loop into gathers and
/// scatters across the rows.
macro_rules! unrolled {
    ($w:expr, |$j:ident| $body:block) => {
        $crate::simd::unrolled!(@ $w, $j, $body, 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)
    };
    (@ $w:expr, $j:ident, $body:block, $($n:literal)*) => {
        $(
            if $n < $w {
                let $j: usize = $n;
                $body
            }
        )*
    };
}
pub(crate) use unrolled;

/// Lanes of the lane-per-row kernels: 16 rows at a time, one f32 AVX-512 register.
pub(crate) const LANES: usize = 16;

/// ln(1 + x) in f64 for x ≥ 0 up to 2²⁹ (or NaN), branch-free: y = 1 + x with its rounding
/// error c = x − (y − 1) (exact: Fast2Sum for x ≤ 1, and y is exact above), y = 2ᵏ·f with
/// f ∈ [√½, √2), then ln(1 + x) = k·ln 2 + 2·atanh(s), s = (f − 1 + c·2⁻ᵏ)/(f + 1),
/// |s| ≤ 0.172, the atanh series to s¹⁷ (truncation below 10⁻¹³ relative; its polynomial in
/// s² by Estrin's scheme). Error under 10⁻¹⁵ relative: far below f32's half ulp, so the f32
/// result is within 1 ulp.
#[inline(always)]
fn ln_1p_f64_body(x: f64) -> f64 {
    const SQRT_HALF_BITS: u64 = 0x3FE6_A09E_667F_3BCD;
    const ONE_BITS: u64 = 0x3FF0_0000_0000_0000;
    let y = 1.0 + x;
    let c = x - (y - 1.0);
    // the exponent of y/√½ … : k = 0 for y ∈ [√½, √2)
    let b = y.to_bits().wrapping_add(ONE_BITS - SQRT_HALF_BITS);
    let kb = b >> 52;
    let f = f64::from_bits((b & 0x000F_FFFF_FFFF_FFFF) + SQRT_HALF_BITS);
    // (wrapping: a NaN input's bits give a meaningless k, and its result is replaced below)
    let two_pow_neg_k = f64::from_bits(2046_u64.wrapping_sub(kb) << 52);
    // k as a float from its bits: 2⁵² + (k + 1023) − (2⁵² + 1023)
    let k = f64::from_bits(kb | 0x4330_0000_0000_0000) - (4_503_599_627_370_496.0 + 1023.0);
    let s = ((f - 1.0) + c * two_pow_neg_k) / (f + 1.0);
    // Σ_{j≤8} z^j/(2j+1) by Estrin's scheme (pairs, then pairs of pairs): a dependency
    // chain of 7 operations instead of Horner's 16; every term is positive and z ≤ 0.03, so
    // the order of the additions costs nothing in accuracy
    let z = s * s;
    let inv_odd = |j: i32| 1.0 / (2 * j + 1) as f64;
    let (z2, q) = (z * z, |j: i32| inv_odd(j) + inv_odd(j + 1) * z);
    let z4 = z2 * z2;
    let (lo, hi) = (q(0) + q(2) * z2, q(4) + q(6) * z2);
    let acc = (lo + hi * z4) + inv_odd(8) * (z4 * z4);
    let r = k * std::f64::consts::LN_2 + (s + s) * acc;
    if x.is_nan() { x } else { r }
}

/// The slice-level math of one path.
pub(crate) trait Math {
    /// Whether this path's code is compiled with FMA enabled, so that
    /// [`SimdFloat::fused_mul_add`] is one instruction.
    const FMA: bool = false;
    /// y = op(x) elementwise (`x.len() == y.len()`).
    fn map<T: SimdFloat, O: UnaryOp<T>>(op: O, x: &[T], y: &mut [T]);
    /// y ← op(y) in place.
    fn map_inplace<T: SimdFloat, O: UnaryOp<T>>(op: O, y: &mut [T]);
    /// out = op(a, b) elementwise (equal lengths).
    fn map2<T: SimdFloat, O: BinaryOp<T>>(op: O, a: &[T], b: &[T], out: &mut [T]);
    /// acc[j mod 16] += op(a_j, b_j) in order of j, for equal-length `a` and `b` of at most
    /// [`SUM_BLOCK`] elements: [`Math::map2`] into a stack buffer, then added; a path may
    /// fuse the two.
    #[inline(always)]
    fn map2_acc<T: SimdFloat, O: BinaryOp<T>>(op: O, a: &[T], b: &[T], acc: &mut [T; ACC]) {
        let mut buf = [T::ZERO; SUM_BLOCK];
        let out = &mut buf[..a.len()];
        Self::map2(op, a, b, out);
        add_groups(acc, out);
    }
    /// y = e^(x − m) elementwise; returns Σ y (softmax's numerators and denominator in one
    /// pass). The sum runs in 16 interleaved partial sums, like [`sum`].
    #[inline(always)]
    fn exp_shift_sum<T: SimdFloat>(x: &[T], m: T, y: &mut [T]) -> T {
        for (o, &v) in y.iter_mut().zip(x) {
            *o = v - m;
        }
        Self::map_inplace(ExpNonPos, y);
        sum(y)
    }
    /// y = e^(x − m) elementwise, m = max x finite; returns (Σ of y over the elements that
    /// are not equal to m, how many are): the log-sum-exp's `rest` without the maximum's
    /// own term e⁰ = 1, whose addition would round away a tiny rest. The sum runs in 16
    /// interleaved partial sums; every path gives the same bits for the same exponentials.
    #[inline(always)]
    fn exp_shift_rest<T: SimdFloat>(x: &[T], m: T, y: &mut [T]) -> (T, T) {
        for (o, &v) in y.iter_mut().zip(x) {
            *o = v - m;
        }
        Self::map_inplace(ExpNonPos, y);
        sum_except_max(x, m, y)
    }
    /// [`Math::exp_shift_rest`] of row `x`, and [`max`] of the next row `next` (of the same
    /// length): a path may read the next row while it computes this one's exponentials, so
    /// that the next row's own first pass does not wait on memory.
    #[inline(always)]
    fn exp_shift_rest_next<T: SimdFloat>(x: &[T], m: T, y: &mut [T], next: &[T]) -> ((T, T), T) {
        (Self::exp_shift_rest(x, m, y), max(next))
    }
    /// The lane layout of 16 contiguous rows of `c` ≤ W elements, `x[j][k] = src[k·c + j]`
    /// (j < c; `src` holds 16·c elements), when the path has a kernel for it (AVX-512, f32:
    /// register permutes); false, and nothing written, where it has not: the caller then
    /// moves the elements one by one.
    #[inline(always)]
    fn rows_to_lanes<T: SimdFloat, const W: usize>(src: &[T], c: usize, x: &mut [[T; LANES]; W]) -> bool {
        let _ = (src, c, x);
        false
    }
    /// The inverse of [`Math::rows_to_lanes`]: `dst[k·c + j] = e[j][k]`; false as there.
    #[inline(always)]
    fn lanes_to_rows<T: SimdFloat, const W: usize>(e: &[[T; LANES]; W], c: usize, dst: &mut [T]) -> bool {
        let _ = (e, c, dst);
        false
    }
}

/// The one-element bodies, vectorized by LLVM inside `#[target_feature]` dispatch functions.
pub(crate) struct Vector;
/// The bodies on `wide` vectors.
pub(crate) struct Portable;
/// `std`'s scalar `exp`/`exp_m1` under the same compensated sigmoid and tanh.
pub(crate) struct Scalar;

impl Math for Vector {
    const FMA: bool = true;
    #[inline(always)]
    fn map<T: SimdFloat, O: UnaryOp<T>>(op: O, x: &[T], y: &mut [T]) {
        drive::map::<T, O>((), op, Some(x), y)
    }
    #[inline(always)]
    fn map_inplace<T: SimdFloat, O: UnaryOp<T>>(op: O, y: &mut [T]) {
        drive::map::<T, O>((), op, None, y)
    }
    #[inline(always)]
    fn map2<T: SimdFloat, O: BinaryOp<T>>(op: O, a: &[T], b: &[T], out: &mut [T]) {
        drive::map2::<T, O>((), op, a, b, out)
    }
    /// Without the buffer: each value goes straight into its partial sum (the same values in
    /// the same order).
    #[inline(always)]
    fn map2_acc<T: SimdFloat, O: BinaryOp<T>>(op: O, a: &[T], b: &[T], acc: &mut [T; ACC]) {
        drive::map2_acc::<T, O>((), op, a, b, acc)
    }
    #[inline(always)]
    fn exp_shift_sum<T: SimdFloat>(x: &[T], m: T, y: &mut [T]) -> T {
        let mut acc = [T::ZERO; ACC];
        // the padding's e^(−∞ − m) = 0 leaves its partial sums as they are (for m = −∞ or
        // NaN every real element is NaN too, and so is the sum either way)
        chunks16(x, y, T::NEG_INFINITY, |xc, yc| {
            for i in 0..ACC {
                let e = math::exp_nonpos(xc[i] - m);
                yc[i] = e;
                acc[i] += e;
            }
        });
        combine(acc)
    }
    #[inline(always)]
    fn exp_shift_rest<T: SimdFloat>(x: &[T], m: T, y: &mut [T]) -> (T, T) {
        let (mut acc, mut ones) = ([T::ZERO; ACC], [T::ZERO; ACC]);
        chunks16(x, y, T::NEG_INFINITY, |xc, yc| {
            for i in 0..ACC {
                let e = math::exp_nonpos(xc[i] - m);
                yc[i] = e;
                let top = xc[i] == m;
                acc[i] += if top { T::ZERO } else { e };
                ones[i] += if top { T::ONE } else { T::ZERO };
            }
        });
        (combine(acc), combine(ones))
    }
}

impl Math for Portable {
    #[inline(always)]
    fn map<T: SimdFloat, O: UnaryOp<T>>(op: O, x: &[T], y: &mut [T]) {
        drive::map::<T::Wide, O>((), op, Some(x), y)
    }
    #[inline(always)]
    fn map_inplace<T: SimdFloat, O: UnaryOp<T>>(op: O, y: &mut [T]) {
        drive::map::<T::Wide, O>((), op, None, y)
    }
    #[inline(always)]
    fn map2<T: SimdFloat, O: BinaryOp<T>>(op: O, a: &[T], b: &[T], out: &mut [T]) {
        drive::map2::<T::Wide, O>((), op, a, b, out)
    }
}

impl Math for Scalar {
    #[inline(always)]
    fn map<T: SimdFloat, O: UnaryOp<T>>(op: O, x: &[T], y: &mut [T]) {
        drive::map::<T::Std, O>((), op, Some(x), y)
    }
    #[inline(always)]
    fn map_inplace<T: SimdFloat, O: UnaryOp<T>>(op: O, y: &mut [T]) {
        drive::map::<T::Std, O>((), op, None, y)
    }
    #[inline(always)]
    fn map2<T: SimdFloat, O: BinaryOp<T>>(op: O, a: &[T], b: &[T], out: &mut [T]) {
        drive::map2::<T::Std, O>((), op, a, b, out)
    }
}

/// A block of work generic over the path's math; `run` must be `#[inline(always)]` so that it
/// is compiled inside the dispatch function's `#[target_feature]` context.
pub(crate) trait Kernel {
    type Out;
    fn run<M: Math>(self) -> Self::Out;
}

/// A [`SimdPath`] that this CPU was checked to support: the proof [`dispatch`] needs before it
/// runs code compiled for the path's instruction set.
///
/// It can only be made by [`Isa::current`] (from [`simd_path`], which only yields supported
/// paths), so a safe caller cannot reach AVX-512 code on a CPU
/// without it. A kernel reads it once per call, on the calling thread, and hands the value to
/// every block of work it splits off: the rayon workers that run those blocks never read
/// their own (possibly different) thread's choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Isa(SimdPath);

impl Isa {
    /// The calling thread's path: the innermost [`with_simd_path`], else the process default.
    #[inline]
    pub(crate) fn current() -> Isa {
        Isa(simd_path())
    }

    /// Whether the path's vectors are 512 bits wide.
    #[inline]
    pub(crate) fn is_avx512(self) -> bool {
        self.0 == SimdPath::Avx512
    }
}

/// Runs `k` on `isa`'s path.
#[inline]
pub(crate) fn dispatch<K: Kernel>(isa: Isa, k: K) -> K::Out {
    match isa.0 {
        #[cfg(target_arch = "x86_64")]
        SimdPath::Avx512 => {
            // SAFETY: an `Isa` holds only a path that `is_supported` accepted (`Isa::current`
            // takes `simd_path`, which yields only such paths), and
            // `Avx512` is supported only when avx512f/bw/dq/vl, avx2 and fma were detected.
            unsafe { run_avx512(k) }
        }
        #[cfg(target_arch = "x86_64")]
        SimdPath::Avx2 => {
            // SAFETY: as above; `Avx2` is supported only when avx2 and fma were detected.
            unsafe { run_avx2(k) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        SimdPath::Avx512 | SimdPath::Avx2 => k.run::<Portable>(),
        SimdPath::Portable => k.run::<Portable>(),
        SimdPath::Scalar => k.run::<Scalar>(),
    }
}

/// # Safety
///
/// The CPU supports avx512f, avx512bw, avx512dq, avx512vl, avx2 and fma.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
unsafe fn run_avx512<K: Kernel>(k: K) -> K::Out {
    k.run::<Avx512>()
}

/// The AVX-512 path: [`Vector`]'s loops, with the exponential slice kernels on explicit
/// 512-bit vectors (`avx512.rs`). Private to this module and used only by [`run_avx512`],
/// whose precondition is that the CPU has AVX-512.
#[cfg(target_arch = "x86_64")]
struct Avx512;

#[cfg(target_arch = "x86_64")]
impl Math for Avx512 {
    const FMA: bool = true;
    #[inline(always)]
    fn map<T: SimdFloat, O: UnaryOp<T>>(op: O, x: &[T], y: &mut [T]) {
        // SAFETY: `Avx512` runs only inside `run_avx512`: the CPU has AVX-512.
        unsafe { T::z_map(Internal, op, Some(x), y) }
    }
    #[inline(always)]
    fn map_inplace<T: SimdFloat, O: UnaryOp<T>>(op: O, y: &mut [T]) {
        // SAFETY: as above.
        unsafe { T::z_map(Internal, op, None, y) }
    }
    #[inline(always)]
    fn map2<T: SimdFloat, O: BinaryOp<T>>(op: O, a: &[T], b: &[T], out: &mut [T]) {
        // SAFETY: as above.
        unsafe { T::z_map2(Internal, op, a, b, out) }
    }
    #[inline(always)]
    fn exp_shift_sum<T: SimdFloat>(x: &[T], m: T, y: &mut [T]) -> T {
        // SAFETY: as for `map`.
        unsafe { T::z_exp_shift_sum(Internal, x, m, y) }
    }
    #[inline(always)]
    fn exp_shift_rest<T: SimdFloat>(x: &[T], m: T, y: &mut [T]) -> (T, T) {
        // SAFETY: as for `map`.
        unsafe { T::z_exp_shift_rest(Internal, x, m, y, None).0 }
    }
    #[inline(always)]
    fn exp_shift_rest_next<T: SimdFloat>(x: &[T], m: T, y: &mut [T], next: &[T]) -> ((T, T), T) {
        if next.len() != x.len() || x.len() < ACC {
            return (Self::exp_shift_rest(x, m, y), max(next));
        }
        // SAFETY: as for `map`.
        let (rest, acc) = unsafe { T::z_exp_shift_rest(Internal, x, m, y, Some(next)) };
        // `max`'s final fold: the 16 lane maxima in order, then the elements past them
        let full = next.len() / ACC * ACC;
        let mut mx = T::NEG_INFINITY;
        for &v in acc.iter().chain(&next[full..]) {
            mx = if v > mx { v } else { mx };
        }
        (rest, mx)
    }
    #[inline(always)]
    fn rows_to_lanes<T: SimdFloat, const W: usize>(src: &[T], c: usize, x: &mut [[T; LANES]; W]) -> bool {
        // SAFETY: as for `map`.
        unsafe { T::z_rows_to_lanes::<W>(Internal, src, c, x) }
    }
    #[inline(always)]
    fn lanes_to_rows<T: SimdFloat, const W: usize>(e: &[[T; LANES]; W], c: usize, dst: &mut [T]) -> bool {
        // SAFETY: as for `map`.
        unsafe { T::z_lanes_to_rows::<W>(Internal, e, c, dst) }
    }
}

/// # Safety
///
/// The CPU supports avx2 and fma.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_avx2<K: Kernel>(k: K) -> K::Out {
    k.run::<Vector>()
}

// ----- row reductions: 16 independent accumulators, a fixed order per path ------------------
// Rows shorter than 16 take a plain sequential loop: the accumulators would cost more than
// they save.

/// The elements [`map2_sum`] hands [`Math::map2_acc`] at a time (a stack buffer's length on
/// the paths that map first and add after).
const SUM_BLOCK: usize = 256;

/// Runs `body` over the 16-element chunks of `x` and `y` (equal lengths), the last one
/// padded with `pad` (in `x`) and 0 (in `y`), of which only the real elements are written
/// back. Every chunk has the same shape, so a body's accumulators stay in registers (a tail
/// loop indexing them at run time would keep them in memory).
#[inline(always)]
fn chunks16<T: SimdFloat>(x: &[T], y: &mut [T], pad: T, mut body: impl FnMut(&[T; ACC], &mut [T; ACC])) {
    let full = x.len() / ACC * ACC;
    for (xc, yc) in x[..full].chunks_exact(ACC).zip(y[..full].chunks_exact_mut(ACC)) {
        if let (Ok(xc), Ok(yc)) = (<&[T; ACC]>::try_from(xc), <&mut [T; ACC]>::try_from(yc)) {
            body(xc, yc);
        }
    }
    let (xt, yt) = (&x[full..], &mut y[full..]);
    if !xt.is_empty() {
        // element by element (a short copy of run-time length would be a library call)
        let mut xb = [pad; ACC];
        let mut yb = [T::ZERO; ACC];
        unrolled!(ACC, |i| {
            if let (Some(&v), Some(&w)) = (xt.get(i), yt.get(i)) {
                xb[i] = v;
                yb[i] = w;
            }
        });
        body(&xb, &mut yb);
        unrolled!(ACC, |i| {
            if let Some(o) = yt.get_mut(i) {
                *o = yb[i];
            }
        });
    }
}

/// (Σ e over the elements whose `x` is not `m`, how many are `m`), in 16 interleaved
/// partial sums: the second half of [`Math::exp_shift_rest`].
#[inline(always)]
pub(crate) fn sum_except_max<T: SimdFloat>(x: &[T], m: T, e: &[T]) -> (T, T) {
    let (mut acc, mut ones) = ([T::ZERO; ACC], [T::ZERO; ACC]);
    // whole arrays (see `dot`)
    let mut add = |xc: &[T; ACC], ec: &[T; ACC]| {
        acc = std::array::from_fn(|i| acc[i] + if xc[i] == m { T::ZERO } else { ec[i] });
        ones = std::array::from_fn(|i| ones[i] + if xc[i] == m { T::ONE } else { T::ZERO });
    };
    let (xg, xt) = x.as_chunks::<ACC>();
    let (eg, et) = e[..x.len()].as_chunks::<ACC>();
    for (xc, ec) in xg.iter().zip(eg) {
        add(xc, ec);
    }
    if !xt.is_empty() {
        let (mut xb, mut eb) = ([T::NEG_INFINITY; ACC], [T::ZERO; ACC]);
        unrolled!(ACC, |i| {
            if let (Some(&v), Some(&w)) = (xt.get(i), et.get(i)) {
                xb[i] = v;
                eb[i] = w;
            }
        });
        add(&xb, &eb);
    }
    (combine(acc), combine(ones))
}

/// max over `x` (NaN ignored, −∞ for an empty slice): the row maximum of softmax.
#[inline(always)]
pub(crate) fn max<T: SimdFloat>(x: &[T]) -> T {
    if x.len() < ACC {
        return x.iter().fold(T::NEG_INFINITY, |m, &v| if v > m { v } else { m });
    }
    let mut acc = [T::NEG_INFINITY; ACC];
    let (groups, tail) = x.as_chunks::<ACC>();
    for c in groups {
        // whole arrays (see `dot`)
        acc = std::array::from_fn(|i| if c[i] > acc[i] { c[i] } else { acc[i] });
    }
    let mut m = T::NEG_INFINITY;
    for &v in acc.iter().chain(tail) {
        m = if v > m { v } else { m };
    }
    m
}

/// Σ x, in 16 interleaved partial sums combined pairwise.
#[inline(always)]
pub(crate) fn sum<T: SimdFloat>(x: &[T]) -> T {
    if x.len() < ACC {
        return x.iter().fold(T::ZERO, |s, &v| s + v);
    }
    let mut acc = [T::ZERO; ACC];
    add_groups(&mut acc, x);
    combine(acc)
}

/// Σ op(a, b) over equal-length slices, without an output: blocks of 256 elements through
/// [`Math::map2_acc`], summed in 16 interleaved partial sums (element j into
/// partial j mod 16, the partials combined pairwise), so the order depends on neither the
/// path nor the block size.
///
/// Rows shorter than 64 take the one-element body in a loop instead, with no buffer or
/// driver to set up (a vector pass per short row measured 1.4× slower on the probability
/// targets' loss); rows shorter than 16 are summed in order, as [`sum`] does. On the paths
/// with FMA the one-element body gives the vector lanes' values exactly; on the portable and
/// scalar paths (whose vectors round a product and a sum separately) it may differ from them
/// in the last bit. Either way a row's result depends only on its length and values.
#[inline(always)]
pub(crate) fn map2_sum<M: Math, T: SimdFloat, O: BinaryOp<T>>(op: O, a: &[T], b: &[T]) -> T {
    if a.len() < ACC {
        return a
            .iter()
            .zip(b)
            .fold(T::ZERO, |s, (&x, &y)| s + op.apply::<T>(x, y));
    }
    let mut acc = [T::ZERO; ACC];
    if a.len() < 64 {
        for (j, (&x, &y)) in a.iter().zip(b).enumerate() {
            acc[j % ACC] += op.apply::<T>(x, y);
        }
        return combine(acc);
    }
    for (ca, cb) in a.chunks(SUM_BLOCK).zip(b.chunks(SUM_BLOCK)) {
        let n = ca.len().min(cb.len());
        M::map2_acc(op, &ca[..n], &cb[..n], &mut acc);
    }
    combine(acc)
}

/// acc[j mod 16] += x_j over `x`, in order of j: the whole groups of 16 as whole-array adds
/// (see [`dot`]), then the tail.
#[inline(always)]
fn add_groups<T: SimdFloat>(acc: &mut [T; ACC], x: &[T]) {
    let (groups, tail) = x.as_chunks::<ACC>();
    for c in groups {
        *acc = std::array::from_fn(|i| acc[i] + c[i]);
    }
    for (i, &v) in tail.iter().enumerate() {
        acc[i] += v;
    }
}

/// Σ a·b, in 16 interleaved partial sums.
#[inline(always)]
pub(crate) fn dot<T: SimdFloat>(a: &[T], b: &[T]) -> T {
    let n = a.len().min(b.len());
    if n < ACC {
        return a.iter().zip(b).fold(T::ZERO, |s, (&x, &y)| s + x * y);
    }
    let mut acc = [T::ZERO; ACC];
    let ((ag, at), (bg, bt)) = (a[..n].as_chunks::<ACC>(), b[..n].as_chunks::<ACC>());
    for (ca, cb) in ag.iter().zip(bg) {
        // whole arrays (`from_fn` over groups of `as_chunks`), which LLVM keeps in vector
        // registers: an indexed loop (`acc[i] += …` for i in 0..16) compiled to 2- and
        // 4-lane pieces joined by shuffles, even on AVX-512
        acc = std::array::from_fn(|i| acc[i] + ca[i] * cb[i]);
    }
    for (i, (&u, &v)) in at.iter().zip(bt).enumerate() {
        acc[i] += u * v;
    }
    combine(acc)
}

/// The 16 partial sums of a reduction, added pairwise (a fixed order).
#[inline(always)]
pub(crate) fn combine<T: SimdFloat>(mut acc: [T; ACC]) -> T {
    let mut w = ACC;
    while w > 1 {
        w /= 2;
        for i in 0..w {
            acc[i] += acc[i + w];
        }
    }
    acc[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ulps between `got` (of type T) and the exact value `want`: |got − want| in units of
    /// T's spacing at `want` (2^⌊log₂|want|⌋·ε, or the subnormal spacing).
    fn ulps<T: SimdFloat>(got: T, want: f64) -> f64 {
        let eps = T::EPSILON.to_f64();
        let floor = T::MIN_POSITIVE.to_f64();
        let spacing = if want.abs() < floor {
            floor * eps
        } else {
            want.abs().log2().floor().exp2() * eps
        };
        (got.to_f64() - want).abs() / spacing
    }

    /// exp_nonpos gives exp's bits for every 17th f32 x ≤ 0 (every 997th in debug builds),
    /// for every f32 in [−104, −87] (where results turn subnormal and then 0), for −0, −∞ and
    /// NaN, and for 10⁶ seeded f64 values spread over [−760, 0].
    #[test]
    fn exp_nonpos_is_exp_bit_for_bit() {
        let step = if cfg!(debug_assertions) { 997 } else { 17 };
        let same = |x: f32| {
            assert_eq!(math::exp_nonpos(x).to_bits(), math::exp(x).to_bits(), "{x:e}");
        };
        let from = (-0.0_f32).to_bits();
        (from..=f32::NEG_INFINITY.to_bits())
            .step_by(step)
            .for_each(|b| same(f32::from_bits(b)));
        ((-87.0_f32).to_bits()..=(-104.0_f32).to_bits())
            .step_by(if cfg!(debug_assertions) { 7 } else { 1 })
            .for_each(|b| same(f32::from_bits(b)));
        for x in [-0.0_f32, f32::NEG_INFINITY, f32::NAN, -103.9, -87.4] {
            let (a, b) = (math::exp_nonpos(x), math::exp(x));
            assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()), "{x:e}");
        }
        let mut s = 0x2545_F491_4F6C_DD1D_u64;
        for _ in 0..1_000_000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let x = -760.0 * ((s >> 11) as f64 / (1u64 << 53) as f64);
            assert_eq!(math::exp_nonpos(x).to_bits(), math::exp(x).to_bits(), "{x:e}");
        }
        assert!(math::exp_nonpos(f64::NAN).is_nan());
        assert_eq!(math::exp_nonpos(f64::NEG_INFINITY), 0.0);
    }

    /// ln_1p_lanes for f32 within 1 ulp of the exact ln(1 + x) (f64's `ln_1p`, exact to f32's
    /// eyes) for every 7th f32 in [0, 2²⁹) (every 331st in debug builds), for 0, the
    /// smallest subnormal, and NaN.
    #[test]
    fn ln_1p_lanes_f32_within_1_ulp() {
        let step = if cfg!(debug_assertions) { 331 } else { 7 };
        let top = (536_870_912.0_f32).to_bits();
        let mut worst = 0.0_f64;
        let mut lanes = [0.0_f32; LANES];
        let mut xs = [0.0_f32; LANES];
        let mut bits = (0..top).step_by(step).peekable();
        while bits.peek().is_some() {
            for (x, b) in xs.iter_mut().zip(bits.by_ref()) {
                *x = f32::from_bits(b);
            }
            lanes.copy_from_slice(&xs);
            f32::ln_1p_lanes(Internal, &mut lanes);
            for (&x, &l) in xs.iter().zip(&lanes) {
                worst = worst.max(ulps(l, (x as f64).ln_1p()));
            }
        }
        assert!(worst <= 1.0, "{worst} ulp");
        let mut special = [0.0_f32; LANES];
        special[1] = f32::from_bits(1);
        special[2] = f32::NAN;
        f32::ln_1p_lanes(Internal, &mut special);
        assert_eq!(special[0].to_bits(), 0);
        assert_eq!(special[1], f32::from_bits(1));
        assert!(special[2].is_nan());
    }

    /// ln_1p_unit within 3 ulp over [0, 1]: every 16th f32 (2^26 values) against f64's
    /// `ln_1p` (exact to f32's eyes), and 10^6 seeded f64 values against `ln_1p` (≤ 1 ulp
    /// itself, so ≤ 4 between them).
    #[test]
    fn ln_1p_unit_within_3_ulp() {
        let mut worst = 0.0_f64;
        let top = 1.0_f32.to_bits();
        for bits in (0..=top).step_by(16) {
            let e = f32::from_bits(bits);
            worst = worst.max(ulps(ln_1p_unit(e), (e as f64).ln_1p()));
        }
        assert!(worst <= 3.0, "f32: {worst} ulp");
        let mut s = 0x9E37_79B9_7F4A_7C15_u64;
        let mut worst = 0.0_f64;
        for _ in 0..1_000_000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let e = (s >> 11) as f64 / (1u64 << 53) as f64;
            worst = worst.max(ulps(ln_1p_unit(e), e.ln_1p()));
        }
        assert!(worst <= 4.0, "f64: {worst} ulp");
        assert!(ln_1p_unit(f64::NAN).is_nan());
    }
}
