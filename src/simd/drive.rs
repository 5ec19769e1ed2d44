//! The slice drivers, written once over [`Lane`]: each path's `Math` calls them with its own
//! lane type (one element, `wide`'s vectors, `Std`, 512-bit registers). Whole lane values
//! first, then the tail as one partial value (masked on AVX-512, padded elsewhere), so a
//! result never depends on where an element sits in the slice.

use super::consts::Consts;
use super::lane::{Lane, X4};
use super::ops::{BinaryOp, UnaryOp};
use crate::par::Cost;
use std::ops::AddAssign;

/// Accumulators per reduction: 16 f32 lanes fill one AVX-512 register.
pub(crate) const ACC: usize = 16;

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

/// The elements a long body ([`Cost::interleaved`](crate::par::Cost::interleaved)) takes as
/// four streams at a time: each chunk of 128 is four streams of 32 (`y[j]`, `y[32 + j]`,
/// `y[64 + j]`, `y[96 + j]` go through one [`X4`] body together), so memory is still read and
/// written front to back (streams over the whole slice measured up to 1.8× slower on 16.7M
/// elements, out of cache), and each stream is four AVX2 vectors of f32; the rest of a slice
/// goes one by one.
const STREAM_CHUNK: usize = 128;

/// How many of `len` elements a long body ([`Cost::interleaved`]) takes four at a time, in
/// whole groups of `group`: the one-element drivers' chunks of four streams
/// ([`STREAM_CHUNK`]) and the whole-vector drivers' four consecutive vectors (`4·L::N`),
/// each group one [`X4`] body, so four dependency chains issue side by side. None for a short
/// body (a constant 0 there, so only the one-at-a-time loop is compiled). Each element goes
/// through the same operations as alone, so the bits are the same.
#[inline(always)]
fn grouped(len: usize, group: usize, cost: Cost) -> usize {
    if cost.interleaved() {
        len / group * group
    } else {
        0
    }
}

/// The first `4·q` elements of `y` as four streams of `q = len/4`, the rest returned.
#[inline(always)]
fn quarters<T>(y: &mut [T]) -> ([&mut [T]; 4], &mut [T]) {
    let q = y.len() / 4;
    let (y0, r) = y.split_at_mut(q);
    let (y1, r) = r.split_at_mut(q);
    let (y2, r) = r.split_at_mut(q);
    let (y3, tail) = r.split_at_mut(q);
    ([y0, y1, y2, y3], tail)
}

/// As [`quarters`], for an input as long as the output.
#[inline(always)]
fn quarters_in<T>(x: &[T]) -> ([&[T]; 4], &[T]) {
    let q = x.len() / 4;
    (
        [&x[..q], &x[q..2 * q], &x[2 * q..3 * q], &x[3 * q..4 * q]],
        &x[4 * q..],
    )
}

/// op on four elements from the four streams, as one [`X4`] value. A function, not a
/// closure: a closure may be left out of line for a large body, compiled without the
/// caller's target features (every FMA a library call: 30× slower, measured).
#[inline(always)]
fn four<L: Lane, O: UnaryOp<L::E>, const FAST: bool>(t: L::Token, op: O, mut r: [L::E; 4]) -> [L::E; 4] {
    let v = X4::<L>::load(t, &r);
    if FAST { op.apply_fast(v) } else { op.apply(v) }.store(&mut r);
    r
}

/// As [`four`], for a binary op.
#[inline(always)]
fn four2<L: Lane, O: BinaryOp<L::E>, const FAST: bool>(
    t: L::Token,
    op: O,
    mut u: [L::E; 4],
    v: [L::E; 4],
) -> [L::E; 4] {
    let (u4, v4) = (X4::<L>::load(t, &u), X4::<L>::load(t, &v));
    if FAST {
        op.apply_fast(u4, v4)
    } else {
        op.apply(u4, v4)
    }
    .store(&mut u);
    u
}

/// [`map`] on one-element lanes, through `apply_fast` for `FAST`: a plain loop over the body,
/// which LLVM vectorizes; a long body ([`Cost::interleaved`](crate::par::Cost::interleaved))
/// runs four streams at once ([`X4`], [`STREAM_CHUNK`]), then the rest one by one. A `for`
/// loop, not `for_each`: that one runs the body inside `Iterator::fold`, a generic function
/// LLVM may leave out of line for a large body, where it is compiled without the caller's
/// target features (every FMA then a library call: 60× slower, measured). (A loop per
/// choice: one loop with the choice inside it would run both bodies and select.)
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
    let full = grouped(y.len(), STREAM_CHUNK, O::COST);
    match x {
        Some(x) => {
            let x = &x[..y.len()];
            for (yc, xc) in y[..full]
                .chunks_exact_mut(STREAM_CHUNK)
                .zip(x[..full].chunks_exact(STREAM_CHUNK))
            {
                let ([x0, x1, x2, x3], _) = quarters_in(xc);
                let ([y0, y1, y2, y3], _) = quarters(yc);
                for j in 0..y0.len() {
                    [y0[j], y1[j], y2[j], y3[j]] = four::<L, O, FAST>(t, op, [x0[j], x1[j], x2[j], x3[j]]);
                }
            }
            for (o, &v) in y[full..].iter_mut().zip(&x[full..]) {
                *o = one(v);
            }
        }
        None => {
            for yc in y[..full].chunks_exact_mut(STREAM_CHUNK) {
                let ([y0, y1, y2, y3], _) = quarters(yc);
                for j in 0..y0.len() {
                    [y0[j], y1[j], y2[j], y3[j]] = four::<L, O, FAST>(t, op, [y0[j], y1[j], y2[j], y3[j]]);
                }
            }
            for o in y[full..].iter_mut() {
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

/// [`map2`] on one-element lanes, four streams at once as [`map_one`].
#[inline(always)]
fn map2_one<L: Lane, O: BinaryOp<L::E>, const FAST: bool>(
    t: L::Token,
    op: O,
    a: &[L::E],
    b: &[L::E],
    out: &mut [L::E],
) {
    let full = grouped(out.len(), STREAM_CHUNK, O::COST);
    let (a, b) = (&a[..out.len()], &b[..out.len()]);
    for ((oc, ac), bc) in out[..full]
        .chunks_exact_mut(STREAM_CHUNK)
        .zip(a[..full].chunks_exact(STREAM_CHUNK))
        .zip(b[..full].chunks_exact(STREAM_CHUNK))
    {
        let ([a0, a1, a2, a3], _) = quarters_in(ac);
        let ([b0, b1, b2, b3], _) = quarters_in(bc);
        let ([o0, o1, o2, o3], _) = quarters(oc);
        for j in 0..o0.len() {
            [o0[j], o1[j], o2[j], o3[j]] =
                four2::<L, O, FAST>(t, op, [a0[j], a1[j], a2[j], a3[j]], [b0[j], b1[j], b2[j], b3[j]]);
        }
    }
    for ((o, &u), &v) in out[full..].iter_mut().zip(&a[full..]).zip(&b[full..]) {
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
    let quad = grouped(len, 4 * L::N, O::COST);
    match x {
        Some(x) => {
            let x = &x[..len];
            for (xc, yc) in x[..quad]
                .chunks_exact(4 * L::N)
                .zip(y[..quad].chunks_exact_mut(4 * L::N))
            {
                op.apply(X4::<L>::load(t, xc)).store(yc);
            }
            for (xc, yc) in x[quad..full]
                .chunks_exact(L::N)
                .zip(y[quad..full].chunks_exact_mut(L::N))
            {
                op.apply(L::load(t, xc)).store(yc);
            }
            if full < len {
                op.apply(L::load_partial(t, &x[full..]))
                    .store_partial(&mut y[full..]);
            }
        }
        None => {
            for yc in y[..quad].chunks_exact_mut(4 * L::N) {
                op.apply(X4::<L>::load(t, yc)).store(yc);
            }
            for yc in y[quad..full].chunks_exact_mut(L::N) {
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
    let quad = grouped(len, 4 * L::N, O::COST);
    for ((ac, bc), oc) in a[..quad]
        .chunks_exact(4 * L::N)
        .zip(b[..quad].chunks_exact(4 * L::N))
        .zip(out[..quad].chunks_exact_mut(4 * L::N))
    {
        op.apply(X4::<L>::load(t, ac), X4::<L>::load(t, bc)).store(oc);
    }
    for ((ac, bc), oc) in a[quad..full]
        .chunks_exact(L::N)
        .zip(b[quad..full].chunks_exact(L::N))
        .zip(out[quad..full].chunks_exact_mut(L::N))
    {
        op.apply(L::load(t, ac), L::load(t, bc)).store(oc);
    }
    if full < len {
        let (u, v) = (L::load_partial(t, &a[full..]), L::load_partial(t, &b[full..]));
        op.apply(u, v).store_partial(&mut out[full..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::ops::{Exp, Ln};

    /// A long binary body (so [`Cost::interleaved`]): a quotient and an exponential.
    #[derive(Clone, Copy)]
    struct Quot;

    impl<T: Consts> BinaryOp<T> for Quot {
        const COST: Cost = Cost::elem(2000);
        fn apply<L: Lane<E = T>>(self, a: L, b: L) -> L {
            let one = L::splat(a.token(), T::K1);
            (-a.vabs()).vexp_nonpos() / (one + b * b)
        }
    }

    /// Seeded values over every bit pattern (NaN, ±∞ and subnormals included) and over
    /// [−20, 20].
    fn values(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|i| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                if i % 2 == 0 {
                    f64::from_bits(s)
                } else {
                    (s >> 11) as f64 / (1u64 << 53) as f64 * 40.0 - 20.0
                }
            })
            .collect()
    }

    /// [`values`] of a length, seeded by `seed` and the length, in the element type.
    fn inputs<T>(len: usize, seed: u64, cast: fn(f64) -> T) -> Vec<T> {
        values(len, seed + len as u64).into_iter().map(cast).collect()
    }

    fn same<T: Consts>(got: &[T], want: &[T], what: &str) {
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(g.ubits() == w.ubits(), "{what}: element {i} of {}", got.len());
        }
    }

    /// The one-element drivers, four streams at once for a long body, give every element
    /// the bits of the body applied to it alone, for every length from 0 to 70 (shorter than
    /// a chunk of streams), around one and two chunks (128, 256: also a guarded block) and
    /// beyond, in
    /// and out of place, unary and binary, f32 and f64.
    fn streams_give_single_element_bits<T: Consts + Lane<E = T, Token = ()>>(cast: fn(f64) -> T) {
        let lens = (0..=70).chain([127, 128, 129, 255, 256, 257, 1031]);
        for len in lens {
            let (x, b) = (inputs(len, 0x9E37_79B9, cast), inputs(len, 0x7F4A_7C15, cast));
            let alone =
                |f: &dyn Fn(T, T) -> T| -> Vec<T> { x.iter().zip(&b).map(|(&u, &v)| f(u, v)).collect() };
            let mut y = vec![T::K0; len];
            map::<T, _>((), Exp, Some(&x), &mut y);
            same(&y, &alone(&|u, _| Exp.apply(u)), "exp");
            let mut z = x.clone();
            map::<T, _>((), Exp, None, &mut z);
            same(&z, &y, "exp in place");
            map::<T, _>((), Ln, Some(&x), &mut y);
            same(&y, &alone(&|u, _| Ln.apply(u)), "ln (guarded)");
            map2::<T, _>((), Quot, &x, &b, &mut y);
            same(&y, &alone(&|u, v| Quot.apply(u, v)), "binary");
        }
    }

    #[test]
    fn streams_give_single_element_bits_f32() {
        assert!(<Exp as UnaryOp<f32>>::COST.interleaved() && <Quot as BinaryOp<f32>>::COST.interleaved());
        streams_give_single_element_bits::<f32>(|v| v as f32);
    }

    #[test]
    fn streams_give_single_element_bits_f64() {
        streams_give_single_element_bits::<f64>(|v| v);
    }

    /// The drivers of one path over whole slices, and over each element as a slice of its
    /// own (a one-element partial vector on the vector lanes).
    struct WholeAndAlone<'a, T>(&'a [T], &'a [T]);

    impl<T: crate::simd::SimdFloat> crate::simd::Kernel for WholeAndAlone<'_, T> {
        /// (exp whole, exp alone, binary whole, binary alone).
        type Out = [Vec<T>; 4];
        fn run<M: crate::simd::Math>(self) -> [Vec<T>; 4] {
            let (x, b) = (self.0, self.1);
            let mut out: [Vec<T>; 4] = std::array::from_fn(|_| vec![T::K0; x.len()]);
            M::map(Exp, x, &mut out[0]);
            M::map2(Quot, x, b, &mut out[2]);
            for i in 0..x.len() {
                M::map(Exp, &x[i..=i], &mut out[1][i..=i]);
                M::map2(Quot, &x[i..=i], &b[i..=i], &mut out[3][i..=i]);
            }
            out
        }
    }

    /// On every path this CPU has, the whole-vector drivers (four vectors at a time for a
    /// long body) give every element the bits of the element run alone: lengths around
    /// one, two and three groups of four vectors of either width (8 and 16 f32 lanes) and
    /// beyond, f32 and f64.
    fn vector_groups_give_single_element_bits<T: crate::simd::SimdFloat>(cast: fn(f64) -> T) {
        use crate::simd::{Isa, SimdPath, dispatch, with_simd_path};
        let lens = (0..=70).chain([127, 128, 129, 191, 192, 193, 1031]);
        for path in SimdPath::ALL.into_iter().filter(|p| p.is_supported()) {
            for len in lens.clone() {
                let (x, b) = (inputs(len, 0x51ED_270B, cast), inputs(len, 0x2545_F491, cast));
                let [ew, ea, bw, ba] =
                    with_simd_path(path, || dispatch(Isa::current(), WholeAndAlone(&x, &b))).unwrap();
                same(&ew, &ea, &format!("exp on {}", path.name()));
                same(&bw, &ba, &format!("binary on {}", path.name()));
            }
        }
    }

    #[test]
    fn vector_groups_give_single_element_bits_f32() {
        vector_groups_give_single_element_bits::<f32>(|v| v as f32);
    }

    #[test]
    fn vector_groups_give_single_element_bits_f64() {
        vector_groups_give_single_element_bits::<f64>(|v| v);
    }
}
