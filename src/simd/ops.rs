//! Elementwise functions as types: each is one body over [`Lane`], so every path (AVX-512,
//! AVX2, portable, scalar) runs it through the same slice drivers (`drive.rs`), and a new
//! function is one new type, with no per-path enum or op code to extend.

use super::lane::Lane;
use super::math;

/// y = f(x) for one lane value: a function the slice drivers map over a slice.
pub trait UnaryOp<T>: Copy + Send + Sync {
    /// Whether the AVX-512 path runs it on explicit 512-bit registers (true) or on the
    /// one-element body vectorized by LLVM under the same target features (false: for a
    /// body without a power of two for `vscalef` to take over, which measured slower on
    /// explicit registers).
    const ZMM: bool = true;
    /// f(x) lane by lane.
    fn apply<L: Lane<E = T>>(self, x: L) -> L;
}

/// out = f(a, b) for lane values: a derivative's dx from (x or y, dy).
pub trait BinaryOp<T>: Copy + Send + Sync {
    /// As [`UnaryOp::ZMM`].
    const ZMM: bool = true;
    /// f(a, b) lane by lane.
    fn apply<L: Lane<E = T>>(self, a: L, b: L) -> L;
}

/// eˣ (≤ 1 ulp).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Exp;

impl<T> UnaryOp<T> for Exp {
    #[inline(always)]
    fn apply<L: Lane<E = T>>(self, x: L) -> L {
        x.vexp()
    }
}

/// eˣ for x ≤ 0 or NaN (shifted logits): [`Exp`]'s bits in fewer operations.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ExpNonPos;

impl<T> UnaryOp<T> for ExpNonPos {
    #[inline(always)]
    fn apply<L: Lane<E = T>>(self, x: L) -> L {
        x.vexp_nonpos()
    }
}

/// ln x (≤ 1 ulp): [`math::ln`] on every lane type, the scalar path's included (`std`'s f32
/// `ln_1p` measured 1.29 ulp, so that path does not call `std` here as it does for exp).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ln;

impl<T> UnaryOp<T> for Ln {
    #[inline(always)]
    fn apply<L: Lane<E = T>>(self, x: L) -> L {
        math::ln(x)
    }
}

/// ln(1 + x) (≤ 1 ulp): [`math::ln_1p`] on every lane type.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ln1p;

impl<T> UnaryOp<T> for Ln1p {
    #[inline(always)]
    fn apply<L: Lane<E = T>>(self, x: L) -> L {
        math::ln_1p(x)
    }
}
