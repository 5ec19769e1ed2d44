//! Elementwise functions as types: each is one body over [`Lane`], so every path (AVX-512,
//! AVX2, portable, scalar) runs it through the same slice drivers (`drive.rs`), and a new
//! function is one new type, with no per-path enum or op code to extend.

use super::consts::Consts;
use super::lane::Lane;
use super::math;
use crate::par::Cost;

/// y = f(x) for one lane value: a function the slice drivers map over a slice.
pub trait UnaryOp<T>: Copy + Send + Sync {
    /// Whether the AVX-512 path runs it on explicit 512-bit registers (true) or on the
    /// one-element body vectorized by LLVM under the same target features (false: for a
    /// body without a power of two for `vscalef` to take over, which measured slower on
    /// explicit registers).
    const ZMM: bool = true;
    /// Its measured cost per element, which sizes its work blocks.
    const COST: Cost;
    /// f(x) lane by lane.
    fn apply<L: Lane<E = T>>(self, x: L) -> L;
    /// Whether [`UnaryOp::apply_fast`] is a cheaper body than `apply` on the inputs in
    /// [`UnaryOp::fast_range`]: the one-element drivers then check a block of inputs first
    /// and run the block through it when every input is in the range.
    const GUARDED: bool = false;
    /// `apply`'s bits for every input in [`UnaryOp::fast_range`] (other lanes: anything).
    #[inline(always)]
    fn apply_fast<L: Lane<E = T>>(self, x: L) -> L {
        self.apply(x)
    }
    /// [lo, hi) with 0 ≤ lo < hi ≤ +∞, as the bits of the numbers ([`Consts::ubits`]): so
    /// no negative number and no NaN is in it. Only read where `GUARDED`.
    #[inline(always)]
    fn fast_range(self) -> (T, T)
    where
        T: Consts,
    {
        (T::K0, T::INF)
    }
}

/// out = f(a, b) for lane values: a derivative's dx from (x or y, dy).
pub trait BinaryOp<T>: Copy + Send + Sync {
    /// As [`UnaryOp::ZMM`].
    const ZMM: bool = true;
    /// As [`UnaryOp::COST`].
    const COST: Cost;
    /// f(a, b) lane by lane.
    fn apply<L: Lane<E = T>>(self, a: L, b: L) -> L;
    /// As [`UnaryOp::GUARDED`], for the inputs `b` only.
    const GUARDED: bool = false;
    /// As [`UnaryOp::apply_fast`].
    #[inline(always)]
    fn apply_fast<L: Lane<E = T>>(self, a: L, b: L) -> L {
        self.apply(a, b)
    }
    /// As [`UnaryOp::fast_range`], for `b`.
    #[inline(always)]
    fn fast_range(self) -> (T, T)
    where
        T: Consts,
    {
        (T::K0, T::INF)
    }
}

/// eˣ (≤ 1 ulp).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Exp;

impl<T> UnaryOp<T> for Exp {
    const COST: Cost = Cost::elem(1500);
    #[inline(always)]
    fn apply<L: Lane<E = T>>(self, x: L) -> L {
        x.vexp()
    }
}

/// eˣ for x ≤ 0 or NaN (shifted logits): [`Exp`]'s bits in fewer operations.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ExpNonPos;

impl<T> UnaryOp<T> for ExpNonPos {
    // (runs inside row kernels, which carry their own costs: exp's as a bound)
    const COST: Cost = Cost::elem(1500);
    #[inline(always)]
    fn apply<L: Lane<E = T>>(self, x: L) -> L {
        x.vexp_nonpos()
    }
}

/// ln x (≤ 1 ulp): [`math::ln`] on every lane type, the scalar path's included (`std`'s f32
/// `ln_1p` measured 1.29 ulp, so that path does not call `std` here as it does for exp).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ln;

impl<T: Consts> UnaryOp<T> for Ln {
    const COST: Cost = Cost::elem(1350);
    const GUARDED: bool = true;
    #[inline(always)]
    fn apply<L: Lane<E = T>>(self, x: L) -> L {
        math::ln(x)
    }
    #[inline(always)]
    fn apply_fast<L: Lane<E = T>>(self, x: L) -> L {
        math::ln_normal::<L, false>(x)
    }
    #[inline(always)]
    fn fast_range(self) -> (T, T) {
        math::pos_normal()
    }
}

/// ln(1 + x) (≤ 1 ulp): [`math::ln_1p`] on every lane type.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ln1p;

impl<T> UnaryOp<T> for Ln1p {
    const COST: Cost = Cost::elem(2400);
    #[inline(always)]
    fn apply<L: Lane<E = T>>(self, x: L) -> L {
        math::ln_1p(x)
    }
}
