//! Affine: y = act(x·W + b), forward and backward, with the activation fused.

use super::activation::{ActFn, ActVisitor, Activation, Fwd, GradIn, GradOut, Saved, activate_in_place};
use super::matmul::{backward_products, check_backward, check_xw};
use super::{Accum, Workspace, check_len, check_shape, dims_mut, map_unary, row_of, scratch_len};
use crate::error::Result;
use crate::gemm::{gemm_checked, gemm_then, is_small_product};
use crate::mat::{MatMut, MatRef};
use crate::ops::KernelFloat;
use crate::par::{PerBlock, map_blocks, rows_per_block};
use crate::simd::{Isa, Kernel, Math, dispatch};
use std::marker::PhantomData;

/// [`affine_forward`](crate::affine_forward)'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn affine_forward_impl<T: KernelFloat>(
    x: MatRef<'_, T>,
    w: MatRef<'_, T>,
    b: &[T],
    act: Activation,
    y: MatMut<'_, T>,
) -> Result<()> {
    forward_checked("affine_forward", x, w, b, act, y)
}

/// [`affine_forward`](crate::affine_forward) once its arguments are named by `op`.
fn forward_checked<T: KernelFloat>(
    op: &'static str,
    x: MatRef<'_, T>,
    w: MatRef<'_, T>,
    b: &[T],
    act: Activation,
    mut y: MatMut<'_, T>,
) -> Result<()> {
    act.check(op, "act")?;
    check_xw(op, &x, &w)?;
    check_len(op, "b", b.len(), w.cols(), "w.cols")?;
    check_shape(op, "y", dims_mut(&y), (x.rows(), w.cols()), "x.rows × w.cols")?;
    let (n, d, h) = (x.rows(), x.cols(), w.cols());
    if n == 0 || h == 0 {
        return Ok(()); // y has no elements, however long its other side
    }
    // Rows of at least 16 outputs take the fused epilogue per part; shorter rows would each
    // leave a scalar tail in it, so they are activated in one flat pass after the product.
    if y.unit_col_stride() && !is_small_product(n, d, h) && h >= EPILOGUE_MIN_COLS {
        // y ← x·W (β = 0: y unread), then, part by part while it is in cache,
        // y ← act(y + b) in one pass per row.
        let path = Isa::current();
        let epilogue = |_: usize, c0: usize, seg: &mut [T]| {
            dispatch(
                path,
                BiasAct {
                    act,
                    b: &b[c0..c0 + seg.len()],
                    y: seg,
                },
            )
        };
        gemm_then(T::ONE, x, w, T::ZERO, y, Some(&epilogue));
        return Ok(());
    }
    if y.unit_col_stride() {
        // Small products and short rows: y ← x·W (β = 0: the direct small-product loops, or
        // the narrow kernel), y ← y + b, then y ← act(y) in one flat pass.
        gemm_checked(T::ONE, x, w, T::ZERO, y.rb_mut());
        for i in 0..y.rows() {
            for (v, &bj) in y.row_mut(i).iter_mut().zip(b) {
                *v += bj;
            }
        }
        act.apply_inplace(y);
        return Ok(());
    }
    // Outputs with a column stride: y ← b broadcast, y ← x·W + y, then y ← act(y).
    for i in 0..y.rows() {
        for (j, &bj) in b.iter().enumerate() {
            *y.at_mut(i, j) = bj;
        }
    }
    gemm_checked(T::ONE, x, w, T::ONE, y.rb_mut());
    act.apply_inplace(y);
    Ok(())
}

/// [`affine_forward_with_z`](crate::affine_forward_with_z)'s body: compiled once per element type, in this crate (see `crate::entry`).
pub(crate) fn affine_forward_with_z_impl<T: KernelFloat>(
    x: MatRef<'_, T>,
    w: MatRef<'_, T>,
    b: &[T],
    act: Activation,
    mut z: MatMut<'_, T>,
    mut y: MatMut<'_, T>,
) -> Result<()> {
    const OP: &str = "affine_forward_with_z";
    act.check(OP, "act")?;
    check_xw(OP, &x, &w)?;
    check_shape(OP, "z", dims_mut(&z), (x.rows(), w.cols()), "x.rows × w.cols")?;
    check_shape(OP, "y", dims_mut(&y), (x.rows(), w.cols()), "x.rows × w.cols")?;
    forward_checked(OP, x, w, b, Activation::Identity, z.rb_mut())?;
    if y.unit_col_stride() {
        struct V<'a, T>(MatRef<'a, T>, MatMut<'a, T>);
        impl<T: KernelFloat> ActVisitor<T> for V<'_, T> {
            type Out = ();
            fn visit<A: ActFn<T>>(self, a: A) {
                map_unary(Fwd(a), Some(self.0), self.1)
            }
        }
        act.visit(V(z.rb(), y));
        return Ok(());
    }
    for i in 0..y.rows() {
        for j in 0..y.cols() {
            *y.at_mut(i, j) = *z.at_mut(i, j);
        }
    }
    act.apply_inplace(y);
    Ok(())
}

/// Output widths from which `affine_forward` applies bias and activation per GEMM part.
const EPILOGUE_MIN_COLS: usize = 16;

/// y ← act(y + b) over one contiguous run of a row (b: the bias of those columns).
struct BiasAct<'a, T> {
    act: Activation,
    b: &'a [T],
    y: &'a mut [T],
}

impl<T: KernelFloat> Kernel for BiasAct<'_, T> {
    type Out = ();
    #[inline(always)]
    fn run<M: Math>(self) {
        for (v, &bj) in self.y.iter_mut().zip(self.b) {
            *v += bj;
        }
        activate_in_place::<T, M>(self.act, self.y);
    }
}

/// The gradient outputs of [`affine_backward`](crate::affine_backward).
///
/// `dx` is optional (a first layer does not need it) and always overwritten; `dw` and `db`
/// are stored per the `accum` argument of `affine_backward`.
#[derive(Debug)]
pub struct AffineGrads<'a, T> {
    /// dx = dz·Wᵀ, N×D, or `None` to skip it.
    pub dx: Option<MatMut<'a, T>>,
    /// dW = xᵀ·dz, D×H.
    pub dw: MatMut<'a, T>,
    /// db = Σ over rows of dz, length H.
    pub db: &'a mut [T],
}

/// [`affine_backward`](crate::affine_backward)'s body: compiled once per element type, in this crate (see
/// `crate::entry`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn affine_backward_impl<T: KernelFloat>(
    x: MatRef<'_, T>,
    w: MatRef<'_, T>,
    saved: Saved<'_, T>,
    dy: MatRef<'_, T>,
    act: Activation,
    grads: AffineGrads<'_, T>,
    accum: Accum,
    ws: &mut Workspace<T>,
) -> Result<()> {
    const OP: &str = "affine_backward";
    let AffineGrads { dx, dw, db } = grads;
    let y = *saved.mat();
    act.check(OP, "act")?;
    check_backward(OP, &x, &w, &dy, &dx, &dw)?;
    check_shape(
        OP,
        "saved",
        (y.rows(), y.cols()),
        (x.rows(), w.cols()),
        "x.rows × w.cols",
    )?;
    act.check_saved(OP, "saved", &saved)?;
    check_len(OP, "db", db.len(), w.cols(), "w.cols")?;
    let (n, h) = (x.rows(), w.cols());

    // One pass over dy (and y): dz = dy ⊙ act′(y) into the scratch, block by block, each block
    // also summing its dz rows into its own slot of partial column sums; the slots are then
    // added in block order, so db does not depend on the thread count.
    // (the derivative's cost: the column sums add one vector addition per element, within
    // its measurement's spread)
    let g = act.grad_cost::<T>(matches!(saved, Saved::Output(_))).of::<T>();
    let per = rows_per_block(n, h, g);
    let blocks = n.div_ceil(per);
    let identity = act == Activation::Identity;
    // partial column sums per block, then dz (N×H) unless it is dy itself: sized checked
    // and reserved fallibly (x and y may be broadcast views of far more rows than exist)
    let dz_len = if identity { 0 } else { scratch_len(OP, n, h, 0)? };
    let scratch = ws.take(OP, scratch_len(OP, blocks, h, dz_len)?)?;
    let (partials, dz_buf) = scratch.split_at_mut(blocks * h);
    let path = Isa::current();
    let slots = PerBlock {
        data: &mut *partials,
        width: h,
        per,
    };
    // the identity's dz is dy itself: nothing to store
    let dzm =
        (!identity).then(|| MatMut::from_row_major(&mut *dz_buf, n, h).expect("dz buffer is exactly n·h"));
    map_blocks(
        n,
        h,
        g,
        (dzm, slots),
        &|r0, r1, (dz, s): (Option<MatMut<'_, T>>, PerBlock<'_, T>)| {
            dispatch(
                path,
                DzBlock {
                    act,
                    saved,
                    dy,
                    r0,
                    r1,
                    dz,
                    sums: s.data,
                },
            )
        },
        &|(), ()| (),
    );
    for (j, o) in db.iter_mut().enumerate() {
        let mut s = T::ZERO;
        for blk in 0..blocks {
            s += partials[blk * h + j];
        }
        accum.store(o, s);
    }
    let dz = if identity {
        dy
    } else {
        MatRef::from_row_major(&*dz_buf, n, h).expect("dz buffer is exactly n·h")
    };
    backward_products(x, w, dz, dx, dw, accum);
    Ok(())
}

/// Rows r0..r1: dz = dy ⊙ act′ (stored unless the activation is the identity, where dz is
/// dy itself) and `sums` ← Σ of those dz rows.
struct DzBlock<'a, T> {
    act: Activation,
    saved: Saved<'a, T>,
    dy: MatRef<'a, T>,
    r0: usize,
    r1: usize,
    dz: Option<MatMut<'a, T>>,
    sums: &'a mut [T],
}

impl<T: KernelFloat> Kernel for DzBlock<'_, T> {
    type Out = ();
    #[inline(always)]
    fn run<M: Math>(self) {
        struct V<'a, T, M>(DzBlock<'a, T>, PhantomData<M>);
        impl<T: KernelFloat, M: Math> ActVisitor<T> for V<'_, T, M> {
            type Out = ();
            #[inline(always)]
            fn visit<A: ActFn<T>>(self, a: A) {
                self.0.rows::<M, A>(a)
            }
        }
        let act = self.act;
        act.visit(V::<T, M>(self, PhantomData));
    }
}

impl<T: KernelFloat> DzBlock<'_, T> {
    /// The block's rows for the activation `a`.
    #[inline(always)]
    fn rows<M: Math, A: ActFn<T>>(self, act: A) {
        let DzBlock {
            saved,
            dy,
            r0,
            r1,
            mut dz,
            sums,
            ..
        } = self;
        sums.fill(T::ZERO);
        // dense operands: one pass of the derivative over the whole block, then the sums (a
        // call per row costs more than its arithmetic on narrow layers)
        let (sv, dyv) = match saved {
            Saved::Output(m) | Saved::Input(m) => (m, dy),
        };
        if let (Some(dz), Some(sf), Some(gf)) = (dz.as_mut(), sv.as_flat(), dyv.as_flat()) {
            let h = sums.len();
            if let Some(out) = dz.as_flat_mut() {
                let (a, b) = (&sf[r0 * h..r1 * h], &gf[r0 * h..r1 * h]);
                match saved {
                    Saved::Output(_) => M::map2(GradOut(act), a, b, out),
                    Saved::Input(_) => M::map2(GradIn(act), a, b, out),
                }
                for row in out.chunks_exact(h.max(1)) {
                    for (s, &v) in sums.iter_mut().zip(row) {
                        *s += v;
                    }
                }
                return;
            }
        }
        let (mut ybuf, mut dybuf) = (Vec::new(), Vec::new());
        for i in r0..r1 {
            let g = row_of(&dy, i, &mut dybuf);
            let Some(dz) = dz.as_mut() else {
                for (s, &v) in sums.iter_mut().zip(g) {
                    *s += v;
                }
                continue;
            };
            let out = dz.row_mut(i - r0);
            match saved {
                Saved::Output(y) => M::map2(GradOut(act), row_of(&y, i, &mut ybuf), g, out),
                Saved::Input(z) => M::map2(GradIn(act), row_of(&z, i, &mut ybuf), g, out),
            }
            for (s, &v) in sums.iter_mut().zip(out.iter()) {
                *s += v;
            }
        }
    }
}
