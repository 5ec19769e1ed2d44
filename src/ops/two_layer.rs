//! One whole training step of a small two-layer net (Affine + activation, Affine,
//! softmax-with-loss) in one kernel, a vector lane per row: the book's TwoLayerNet at the
//! sizes where a call per layer costs more than its arithmetic.
//!
//! Layer by layer, a step is ten kernel calls (two affine forwards, the loss, two affine
//! backwards, four updates), each with its checks, its dispatch and its passes over outputs
//! of a few hundred elements. Here the batch goes through in groups of [`LANES`] rows: the
//! group's inputs are transposed once into columns (lane k: row k), and then every hidden
//! unit, score and gradient term is one vector operation over the group, with the weights
//! broadcast. Each parameter gradient's terms of a group are summed across the lanes in a
//! fixed tree straight from registers, and the groups' sums are added in order, so the result
//! does not depend on the thread count (the step runs on the calling thread). (Keeping the
//! sums per lane in memory across the groups and reducing them at the end was 40% slower at
//! batch 30: every reduction then reloads a just-stored vector lane by lane.)

use super::loss::mean_lane_group;
use crate::mat::MatRef;
use crate::ops::KernelFloat;
use crate::ops::activation::{ActFn, ActVisitor, Activation, GradIn, GradOut, activate_in_place};
use crate::simd::{Kernel, LANES, Math};
use std::marker::PhantomData;

/// The largest input width, hidden width and class count the fused step takes.
pub(crate) const MAX_WIDTH: usize = LANES;

/// The parameters of the net: W1 (D×H), b1 (H), W2 (H×C), b2 (C), row-major.
pub(crate) struct Params<'a, T> {
    pub(crate) w1: &'a [T],
    pub(crate) b1: &'a [T],
    pub(crate) w2: &'a [T],
    pub(crate) b2: &'a [T],
}

/// Their gradients, same shapes.
pub(crate) struct Grads<'a, T> {
    pub(crate) w1: &'a mut [T],
    pub(crate) b1: &'a mut [T],
    pub(crate) w2: &'a mut [T],
    pub(crate) b2: &'a mut [T],
}

/// The step over x (N×D, unit column stride) with labels `t` (validated, each < C):
/// h = act(x·W1 + b1), s = h·W2 + b2, L = mean_n (logsumexp(s_n) − s_n,t_n); writes dW1, db1,
/// dW2, db2 of L and returns L. Widths D, H, C ≤ [`MAX_WIDTH`], N ≥ 1.
pub(crate) struct Step<'a, T> {
    pub(crate) x: MatRef<'a, T>,
    pub(crate) t: &'a [usize],
    pub(crate) act: Activation,
    pub(crate) dims: (usize, usize, usize),
    pub(crate) params: Params<'a, T>,
    pub(crate) grads: Grads<'a, T>,
}

impl<T: KernelFloat> Kernel for Step<'_, T> {
    type Out = T;
    #[inline(always)]
    fn run<M: Math>(self) -> T {
        // the loss's columns: C rounded up to 4, 8 or 16 (the padding columns hold −∞)
        match self.dims.2 {
            0..=4 => self.lanes::<M, 4>(),
            5..=8 => self.lanes::<M, 8>(),
            _ => self.lanes::<M, 16>(),
        }
    }
}

/// g ← g·act′, from the output `y` where the derivative allows it, else from the input `z`.
#[inline(always)]
fn activation_grad<T: KernelFloat, M: Math>(act: Activation, y: &[T], z: &[T], g: &mut [T]) {
    struct V<'a, T, M>(&'a [T], &'a [T], &'a mut [T], PhantomData<M>);
    impl<T: KernelFloat, M: Math> ActVisitor<T> for V<'_, T, M> {
        type Out = ();
        #[inline(always)]
        fn visit<A: ActFn<T>>(self, a: A) {
            let V(y, z, g, _) = self;
            if A::IDENTITY {
                return;
            }
            let mut up = [T::ZERO; LANES * MAX_WIDTH];
            let up = &mut up[..g.len()];
            up.copy_from_slice(g);
            if a.reads_output() {
                M::map2(GradOut(a), y, up, g)
            } else {
                M::map2(GradIn(a), z, up, g)
            }
        }
    }
    act.visit(V::<T, M>(y, z, g, PhantomData));
}

/// Σ of the [`LANES`] = 16 lanes in a fixed tree (lane k + lane k + 8, then k + 4, k + 2,
/// k + 1), the same order on every path.
#[inline(always)]
fn lane_sum<T: KernelFloat>(a: &[T; LANES]) -> T {
    let mut v = *a;
    for k in 0..8 {
        v[k] += v[k + 8];
    }
    for k in 0..4 {
        v[k] += v[k + 4];
    }
    for k in 0..2 {
        v[k] += v[k + 2];
    }
    v[0] + v[1]
}

/// x ⊙ y over one lane vector.
#[inline(always)]
fn mul<T: KernelFloat>(x: &[T; LANES], y: &[T; LANES]) -> [T; LANES] {
    std::array::from_fn(|k| x[k] * y[k])
}

/// a ← a + x·w over one lane vector (w broadcast).
#[inline(always)]
fn add_scaled<T: KernelFloat>(a: &mut [T; LANES], x: &[T; LANES], w: T) {
    for k in 0..LANES {
        a[k] += x[k] * w;
    }
}

impl<T: KernelFloat> Step<'_, T> {
    #[inline(always)]
    #[allow(clippy::needless_range_loop)] // j, q, c index weights and columns alike
    fn lanes<M: Math, const W: usize>(self) -> T {
        let Step {
            x,
            t,
            act,
            dims: (d, h, c),
            params: p,
            grads: g,
        } = self;
        let rows = x.rows();
        for o in [&mut *g.w1, &mut *g.b1, &mut *g.w2, &mut *g.b2] {
            o.fill(T::ZERO);
        }
        // the group's columns: inputs, hidden outputs (then their gradients), scores, dscores
        let mut xs = [[T::ZERO; LANES]; MAX_WIDTH];
        let mut hs = [[T::ZERO; LANES]; MAX_WIDTH];
        // the pre-activations, kept for the activations whose derivative needs them
        let mut zs = [[T::ZERO; LANES]; MAX_WIDTH];
        let keep_z = act.needs_input();
        let mut dz = [[T::ZERO; LANES]; MAX_WIDTH];
        let mut s = [[T::NEG_INFINITY; LANES]; W];
        let mut ds = [[T::ZERO; LANES]; W];
        let mut loss = 0.0_f64;
        for g0 in (0..rows).step_by(LANES) {
            let n = LANES.min(rows - g0);
            // padding lanes: zero inputs (finite everywhere below) and no label (zero gradient)
            if n < LANES {
                xs[..d].iter_mut().for_each(|col| *col = [T::ZERO; LANES]);
            }
            let mut lab = [usize::MAX; LANES];
            for k in 0..n {
                for (q, &v) in x.row(g0 + k).iter().enumerate() {
                    xs[q][k] = v;
                }
                lab[k] = t[g0 + k];
            }
            // forward: h = act(x·W1 + b1), s = h·W2 + b2
            for j in 0..h {
                let mut z = [p.b1[j]; LANES];
                for q in 0..d {
                    add_scaled(&mut z, &xs[q], p.w1[q * h + j]);
                }
                hs[j] = z;
            }
            if keep_z {
                zs[..h].copy_from_slice(&hs[..h]);
            }
            activate_in_place::<T, M>(act, hs[..h].as_flattened_mut());
            for (cc, sc) in s.iter_mut().enumerate().take(c) {
                let mut v = [p.b2[cc]; LANES];
                for j in 0..h {
                    add_scaled(&mut v, &hs[j], p.w2[j * c + cc]);
                }
                *sc = v;
            }
            // the loss and dL/ds (zero on padding lanes)
            let l = mean_lane_group::<T, M, W>(c, rows, n, &s, &lab, &mut ds);
            loss += l[..n].iter().fold(0.0, |a, &v| a + v.to_f64());
            // backward: dW2 += hᵀ·ds, db2 += Σ ds, dh = ds·W2ᵀ, dz = act′(h)·dh,
            // dW1 += xᵀ·dz, db1 += Σ dz; each parameter's terms of the group summed across
            // the lanes straight from registers, the groups' sums added in order
            for (o, dsc) in g.b2.iter_mut().zip(&ds) {
                *o += lane_sum(dsc);
            }
            for j in 0..h {
                let mut dh = [T::ZERO; LANES];
                for cc in 0..c {
                    g.w2[j * c + cc] += lane_sum(&mul(&hs[j], &ds[cc]));
                    add_scaled(&mut dh, &ds[cc], p.w2[j * c + cc]);
                }
                dz[j] = dh;
            }
            activation_grad::<T, M>(
                act,
                hs[..h].as_flattened(),
                zs[..h].as_flattened(),
                dz[..h].as_flattened_mut(),
            );
            for j in 0..h {
                g.b1[j] += lane_sum(&dz[j]);
                for q in 0..d {
                    g.w1[q * h + j] += lane_sum(&mul(&xs[q], &dz[j]));
                }
            }
        }
        T::from_f64(loss / rows as f64)
    }
}
