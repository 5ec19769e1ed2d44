//! The slice drivers, written once over [`Lane`]: each path's `Math` calls them with its own
//! lane type (one element, `wide`'s vectors, `Std`, 512-bit registers). Whole lane values
//! first, then the tail as one partial value (masked on AVX-512, padded elsewhere), so a
//! result never depends on where an element sits in the slice.

use super::lane::Lane;
use super::ops::{BinaryOp, UnaryOp};

/// y = op(x) elementwise (`x` as long as `y`), or y ← op(y) for `x = None`.
#[inline(always)]
pub(crate) fn map<L: Lane, O: UnaryOp<L::E>>(t: L::Token, op: O, x: Option<&[L::E]>, y: &mut [L::E]) {
    let len = y.len();
    if L::N == 1 {
        // one element a lane: a plain loop over the body, which LLVM vectorizes. A `for` loop,
        // not `for_each`: that one runs the body inside `Iterator::fold`, a generic function
        // LLVM may leave out of line for a large body, where it is compiled without the
        // caller's target features (every FMA then a library call: 60× slower, measured)
        let one = |v: L::E| {
            let mut r = [v];
            op.apply(L::load(t, &r)).store(&mut r);
            r[0]
        };
        match x {
            Some(x) => {
                for (o, &v) in y.iter_mut().zip(&x[..len]) {
                    *o = one(v);
                }
            }
            None => {
                for o in y.iter_mut() {
                    *o = one(*o);
                }
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
        for ((o, &u), &v) in out.iter_mut().zip(a).zip(b) {
            let mut r = [u];
            op.apply(L::load(t, &r), L::load(t, &[v])).store(&mut r);
            *o = r[0];
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
