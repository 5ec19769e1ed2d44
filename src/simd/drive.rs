//! The slice drivers, written once over [`Lane`]: each path's `Math` calls them with its own
//! lane type (one element, `wide`'s vectors, `Std`, 512-bit registers). Whole lane values
//! first, then the tail as one partial value (masked on AVX-512, padded elsewhere), so a
//! result never depends on where an element sits in the slice.

use super::ACC;
use super::lane::Lane;
use super::math::Consts;
use super::ops::{BinaryOp, UnaryOp};
use std::ops::AddAssign;

/// The elements a guarded op's fast body is chosen for at a time (see [`UnaryOp::GUARDED`]):
/// its inputs are checked in one pass that stays in L1, then mapped.
const GUARD_BLOCK: usize = 256;

/// Whether every one of `x` lies in `range` ([`UnaryOp::fast_range`]): from the smallest and
/// the largest bit pattern (true for none), one unsigned minimum and maximum per vector (a
/// test per element, counted, measured 6% slower in the cross-entropy's forward). A `for`
/// loop, not `fold`: see [`map_one`].
#[inline(always)]
fn in_range<T: Consts>(x: &[T], (lo, hi): (T, T)) -> bool {
    let (mut min, mut max) = (hi.ubits(), lo.ubits());
    for &v in x {
        let b = v.ubits();
        min = min.min(b);
        max = max.max(b);
    }
    min >= lo.ubits() && max < hi.ubits()
}

/// [`map`] on one-element lanes, through `apply_fast` for `FAST`: a plain loop over the body,
/// which LLVM vectorizes. A `for` loop, not `for_each`: that one runs the body inside
/// `Iterator::fold`, a generic function LLVM may leave out of line for a large body, where it
/// is compiled without the caller's target features (every FMA then a library call: 60×
/// slower, measured). (A loop per choice: one loop with the choice inside it would run both
/// bodies and select.)
#[inline(always)]
fn map_one<L: Lane, O: UnaryOp<L::E>, const FAST: bool>(
    t: L::Token,
    op: O,
    x: Option<&[L::E]>,
    y: &mut [L::E],
) {
    let one = |v: L::E| {
        let mut r = [v];
        let v = L::load(t, &r);
        if FAST { op.apply_fast(v) } else { op.apply(v) }.store(&mut r);
        r[0]
    };
    match x {
        Some(x) => {
            for (o, &v) in y.iter_mut().zip(x) {
                *o = one(v);
            }
        }
        None => {
            for o in y.iter_mut() {
                *o = one(*o);
            }
        }
    }
}

/// op(u, v) on one-element lanes, through `apply_fast` for `FAST`.
#[inline(always)]
fn one2<L: Lane, O: BinaryOp<L::E>, const FAST: bool>(t: L::Token, op: O, u: L::E, v: L::E) -> L::E {
    let mut r = [u];
    let (u, v) = (L::load(t, &r), L::load(t, &[v]));
    if FAST { op.apply_fast(u, v) } else { op.apply(u, v) }.store(&mut r);
    r[0]
}

/// [`map2`] on one-element lanes, as [`map_one`].
#[inline(always)]
fn map2_one<L: Lane, O: BinaryOp<L::E>, const FAST: bool>(
    t: L::Token,
    op: O,
    a: &[L::E],
    b: &[L::E],
    out: &mut [L::E],
) {
    for ((o, &u), &v) in out.iter_mut().zip(a).zip(b) {
        *o = one2::<L, O, FAST>(t, op, u, v);
    }
}

/// acc[j mod 16] += op(a_j, b_j) in order of j, on one-element lanes (`a`, `b` of equal
/// length, one guarded block): [`map2`]'s values, guard included, without an output.
#[inline(always)]
pub(crate) fn map2_acc<L: Lane, O: BinaryOp<L::E>>(
    t: L::Token,
    op: O,
    a: &[L::E],
    b: &[L::E],
    acc: &mut [L::E; ACC],
) where
    L::E: AddAssign,
{
    if O::GUARDED && in_range(b, op.fast_range()) {
        acc_partials(a, b, acc, |u, v| one2::<L, O, true>(t, op, u, v));
    } else {
        acc_partials(a, b, acc, |u, v| one2::<L, O, false>(t, op, u, v));
    }
}

/// acc[j mod 16] += f(a_j, b_j): whole groups of 16 (fixed-size arrays, which LLVM keeps in
/// vector registers), then the tail.
#[inline(always)]
fn acc_partials<T: Copy + AddAssign>(a: &[T], b: &[T], acc: &mut [T; ACC], f: impl Fn(T, T) -> T) {
    let full = a.len().min(b.len()) / ACC * ACC;
    for (ca, cb) in a[..full].chunks_exact(ACC).zip(b[..full].chunks_exact(ACC)) {
        if let (Ok(ca), Ok(cb)) = (<&[T; ACC]>::try_from(ca), <&[T; ACC]>::try_from(cb)) {
            for i in 0..ACC {
                acc[i] += f(ca[i], cb[i]);
            }
        }
    }
    for (i, (&u, &v)) in a[full..].iter().zip(&b[full..]).enumerate() {
        acc[i] += f(u, v);
    }
}

/// y = op(x) elementwise (`x` as long as `y`), or y ← op(y) for `x = None`.
#[inline(always)]
pub(crate) fn map<L: Lane, O: UnaryOp<L::E>>(t: L::Token, op: O, x: Option<&[L::E]>, y: &mut [L::E]) {
    let len = y.len();
    if L::N == 1 {
        let x = x.map(|x| &x[..len]);
        if !O::GUARDED {
            return map_one::<L, O, false>(t, op, x, y);
        }
        // a guarded op runs a block through its fast body when every input is in its range
        // (the same bits as `apply` there, so the choice never shows in the result)
        for (i, yc) in y.chunks_mut(GUARD_BLOCK).enumerate() {
            let xc = x.map(|x| &x[i * GUARD_BLOCK..i * GUARD_BLOCK + yc.len()]);
            if in_range(xc.unwrap_or(yc), op.fast_range()) {
                map_one::<L, O, true>(t, op, xc, yc);
            } else {
                map_one::<L, O, false>(t, op, xc, yc);
            }
        }
        return;
    }
    let full = len / L::N * L::N;
    match x {
        Some(x) => {
            let x = &x[..len];
            for (xc, yc) in x[..full].chunks_exact(L::N).zip(y[..full].chunks_exact_mut(L::N)) {
                op.apply(L::load(t, xc)).store(yc);
            }
            if full < len {
                op.apply(L::load_partial(t, &x[full..]))
                    .store_partial(&mut y[full..]);
            }
        }
        None => {
            for yc in y[..full].chunks_exact_mut(L::N) {
                op.apply(L::load(t, yc)).store(yc);
            }
            if full < len {
                let v = L::load_partial(t, &y[full..]);
                op.apply(v).store_partial(&mut y[full..]);
            }
        }
    }
}

/// out = op(a, b) elementwise (`a` and `b` as long as `out`).
#[inline(always)]
pub(crate) fn map2<L: Lane, O: BinaryOp<L::E>>(t: L::Token, op: O, a: &[L::E], b: &[L::E], out: &mut [L::E]) {
    let len = out.len();
    let (a, b) = (&a[..len], &b[..len]);
    if L::N == 1 {
        if !O::GUARDED {
            return map2_one::<L, O, false>(t, op, a, b, out);
        }
        for ((ac, bc), oc) in a
            .chunks(GUARD_BLOCK)
            .zip(b.chunks(GUARD_BLOCK))
            .zip(out.chunks_mut(GUARD_BLOCK))
        {
            if in_range(bc, op.fast_range()) {
                map2_one::<L, O, true>(t, op, ac, bc, oc);
            } else {
                map2_one::<L, O, false>(t, op, ac, bc, oc);
            }
        }
        return;
    }
    let full = len / L::N * L::N;
    for ((ac, bc), oc) in a[..full]
        .chunks_exact(L::N)
        .zip(b[..full].chunks_exact(L::N))
        .zip(out[..full].chunks_exact_mut(L::N))
    {
        op.apply(L::load(t, ac), L::load(t, bc)).store(oc);
    }
    if full < len {
        let (u, v) = (L::load_partial(t, &a[full..]), L::load_partial(t, &b[full..]));
        op.apply(u, v).store_partial(&mut out[full..]);
    }
}
