//! One definition per activation: its forward, its derivative from the input x, and — where
//! the derivative is a function of the output alone — from the output y. Each body is written
//! once over [`Lane`], so the elementwise kernels, the fused Affine epilogue and backward, the
//! layers and the fused training step run the same code on every SIMD path and on contiguous
//! and strided outputs alike.
//!
//! Adding an activation: a type here, a variant, its name and its arm in
//! [`Activation::visit`](super::Activation::visit) in `mod.rs`.

use crate::ops::KernelFloat;
use crate::par::Cost;
use crate::simd::consts::Consts;
use crate::simd::lane::Lane;
use crate::simd::math;
use crate::simd::{BinaryOp, UnaryOp};

/// One activation's definition, for element type `T`.
pub(crate) trait ActFn<T: KernelFloat>: Copy + Send + Sync + 'static {
    /// As [`UnaryOp::ZMM`]: whether the AVX-512 path runs the bodies on explicit registers.
    const ZMM: bool = true;
    /// The measured costs of its bodies, which size their work blocks.
    const COSTS: Costs;
    /// Whether the forward is the identity (the kernels then skip the pass).
    const IDENTITY: bool = false;
    /// f(x).
    fn fwd<L: Lane<E = T>>(self, x: L) -> L;
    /// dy·f′(x), from the input.
    fn grad_in<L: Lane<E = T>>(self, x: L, dy: L) -> L;
    /// Whether f′ is a function of y = f(x) alone, so that [`ActFn::grad_out`] applies.
    fn reads_output(self) -> bool;
    /// dy·f′ from the output y (only where [`ActFn::reads_output`]).
    fn grad_out<L: Lane<E = T>>(self, y: L, dy: L) -> L;
}

/// The costs per element of an activation's bodies (`crate::par::Cost`, measured by the
/// `cost_per_element` bench group: `{name}_fwd`, `{name}_bwd_from_input`,
/// `{name}_bwd_from_output`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Costs {
    /// [`ActFn::fwd`].
    pub fwd: Cost,
    /// [`ActFn::grad_in`].
    pub grad_in: Cost,
    /// [`ActFn::grad_out`] (never read where [`ActFn::reads_output`] is false).
    pub grad_out: Cost,
}

impl Costs {
    const fn ps(fwd: u32, grad_in: u32, grad_out: u32) -> Costs {
        Costs {
            fwd: Cost::elem(fwd),
            grad_in: Cost::elem(grad_in),
            grad_out: Cost::elem(grad_out),
        }
    }
}

/// The forward of an activation as a slice op.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fwd<A>(pub A);

impl<T: KernelFloat, A: ActFn<T>> UnaryOp<T> for Fwd<A> {
    const ZMM: bool = A::ZMM;
    const COST: Cost = A::COSTS.fwd;
    #[inline(always)]
    fn apply<L: Lane<E = T>>(self, x: L) -> L {
        self.0.fwd(x)
    }
}

/// dx = dy·f′(x) as a slice op over (x, dy).
#[derive(Clone, Copy, Debug)]
pub(crate) struct GradIn<A>(pub A);

impl<T: KernelFloat, A: ActFn<T>> BinaryOp<T> for GradIn<A> {
    const ZMM: bool = A::ZMM;
    const COST: Cost = A::COSTS.grad_in;
    #[inline(always)]
    fn apply<L: Lane<E = T>>(self, x: L, dy: L) -> L {
        self.0.grad_in(x, dy)
    }
}

/// dx = dy·f′ from y as a slice op over (y, dy).
#[derive(Clone, Copy, Debug)]
pub(crate) struct GradOut<A>(pub A);

impl<T: KernelFloat, A: ActFn<T>> BinaryOp<T> for GradOut<A> {
    const ZMM: bool = A::ZMM;
    const COST: Cost = A::COSTS.grad_out;
    #[inline(always)]
    fn apply<L: Lane<E = T>>(self, y: L, dy: L) -> L {
        self.0.grad_out(y, dy)
    }
}

/// `c` in every lane of `x`'s type.
#[inline(always)]
fn k<T: KernelFloat, L: Lane<E = T>>(x: L, c: f64) -> L {
    L::splat(x.token(), T::from_f64(c))
}

/// y = x.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Identity;

impl<T: KernelFloat> ActFn<T> for Identity {
    const COSTS: Costs = Costs::ps(120, 125, 120);
    const IDENTITY: bool = true;
    #[inline(always)]
    fn fwd<L: Lane<E = T>>(self, x: L) -> L {
        x
    }
    #[inline(always)]
    fn grad_in<L: Lane<E = T>>(self, _: L, dy: L) -> L {
        dy
    }
    #[inline(always)]
    fn reads_output(self) -> bool {
        true
    }
    #[inline(always)]
    fn grad_out<L: Lane<E = T>>(self, _: L, dy: L) -> L {
        dy
    }
}

/// y = σ(x) = 1/(1 + e^(−x)), compensated (≤ 2 ulp); f′ = y(1 − y).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sigmoid;

impl<T: KernelFloat> ActFn<T> for Sigmoid {
    const COSTS: Costs = Costs::ps(2360, 3630, 175);
    #[inline(always)]
    fn fwd<L: Lane<E = T>>(self, x: L) -> L {
        math::sigmoid(x)
    }
    #[inline(always)]
    fn grad_in<L: Lane<E = T>>(self, x: L, dy: L) -> L {
        // σ(x)·σ(−x): both factors to their own precision, no 1 − σ cancellation
        let (s, sbar) = math::sigmoid_pair(x);
        dy * (s * sbar)
    }
    #[inline(always)]
    fn reads_output(self) -> bool {
        true
    }
    #[inline(always)]
    fn grad_out<L: Lane<E = T>>(self, y: L, dy: L) -> L {
        dy * (y * (k(y, 1.0) - y))
    }
}

/// y = tanh x (compensated); f′ = 1 − y².
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tanh;

impl<T: KernelFloat> ActFn<T> for Tanh {
    const COSTS: Costs = Costs::ps(3830, 4080, 180);
    // e^(2|x|) − 1 has no power of two for `vscalef` to take over: on explicit 512-bit
    // registers it measured slower than the one-element body vectorized by LLVM
    const ZMM: bool = false;
    #[inline(always)]
    fn fwd<L: Lane<E = T>>(self, x: L) -> L {
        math::tanh(x)
    }
    #[inline(always)]
    fn grad_in<L: Lane<E = T>>(self, x: L, dy: L) -> L {
        self.grad_out(math::tanh(x), dy)
    }
    #[inline(always)]
    fn reads_output(self) -> bool {
        true
    }
    #[inline(always)]
    fn grad_out<L: Lane<E = T>>(self, y: L, dy: L) -> L {
        dy * (k(y, 1.0) - y * y)
    }
}

/// y = max(x, 0) (NaN stays NaN, −0 gives +0); f′ = 1 where x > 0 (or NaN), else exactly 0
/// (a select: a NaN dy where x ≤ 0 gives 0, as PyTorch's `threshold_backward`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Relu;

impl<T: KernelFloat> ActFn<T> for Relu {
    const COSTS: Costs = Costs::ps(130, 165, 170);
    #[inline(always)]
    fn fwd<L: Lane<E = T>>(self, x: L) -> L {
        let zero = k(x, 0.0);
        L::sel_ge(zero, x, zero, x)
    }
    #[inline(always)]
    fn grad_in<L: Lane<E = T>>(self, x: L, dy: L) -> L {
        self.grad_out(x, dy)
    }
    #[inline(always)]
    fn reads_output(self) -> bool {
        true
    }
    #[inline(always)]
    fn grad_out<L: Lane<E = T>>(self, y: L, dy: L) -> L {
        // y > 0 exactly where x > 0, and y is NaN exactly where x is
        let zero = k(y, 0.0);
        L::sel_ge(zero, y, zero, dy)
    }
}

/// y = x for x > 0, slope·x otherwise (PyTorch's `leaky_relu`); f′ = 1 or slope by the same
/// test. From the output only for slope ≥ 0 (then y > 0 exactly where x > 0).
#[derive(Clone, Copy, Debug)]
pub(crate) struct LeakyRelu<T> {
    pub(crate) slope: T,
}

impl<T: KernelFloat> ActFn<T> for LeakyRelu<T> {
    const COSTS: Costs = Costs::ps(155, 195, 190);
    #[inline(always)]
    fn fwd<L: Lane<E = T>>(self, x: L) -> L {
        let s = L::splat(x.token(), self.slope);
        L::sel_gt(x, k(x, 0.0), x, x * s)
    }
    #[inline(always)]
    fn grad_in<L: Lane<E = T>>(self, x: L, dy: L) -> L {
        let s = L::splat(x.token(), self.slope);
        L::sel_gt(x, k(x, 0.0), dy, dy * s)
    }
    #[inline(always)]
    fn reads_output(self) -> bool {
        self.slope >= T::ZERO
    }
    #[inline(always)]
    fn grad_out<L: Lane<E = T>>(self, y: L, dy: L) -> L {
        self.grad_in(y, dy)
    }
}

/// d/dx of x·σ(v(x)) = σ(v) + x·σ(v)·σ(−v)·v′ for the gate argument v and its derivative v′
/// (both at `xm`: x, or x clamped where σ(v)·σ(−v) is 0 already, so that the product stays
/// finite), times dy; at x = ±∞ the limits 1 and 0 (where the sum would be ∞·0).
#[inline(always)]
fn gate_grad<L: Lane>(x: L, xm: L, s: L, sbar: L, dv: L, dy: L) -> L {
    let t = x.token();
    let (zero, one) = (L::splat(t, L::E::K0), L::splat(t, L::E::K1));
    let g = s + (xm * dv) * (s * sbar);
    let inf = L::splat(t, L::E::INF);
    let limit = L::sel_gt(x, zero, one, zero);
    // |x| = ∞: the limit; NaN fails both tests and stays NaN through g
    let g = L::sel_ge(x.vabs(), inf, limit, g);
    dy * g
}

/// y = x·σ(x) (SiLU, swish); f′ = σ(x)·(1 + x·σ(−x)), from the input.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Silu;

impl<T: KernelFloat> ActFn<T> for Silu {
    const COSTS: Costs = Costs::ps(3390, 4120, 4120);
    #[inline(always)]
    fn fwd<L: Lane<E = T>>(self, x: L) -> L {
        math::times_sigmoid(x, x)
    }
    #[inline(always)]
    fn grad_in<L: Lane<E = T>>(self, x: L, dy: L) -> L {
        let (s, sbar) = math::sigmoid_pair(x);
        gate_grad(x, x, s, sbar, k(x, 1.0), dy)
    }
    #[inline(always)]
    fn reads_output(self) -> bool {
        false
    }
    #[inline(always)]
    fn grad_out<L: Lane<E = T>>(self, _: L, dy: L) -> L {
        dy
    }
}

/// √(2/π).
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
/// The cubic coefficient of the tanh approximation.
const GELU_CUBIC: f64 = 0.044_715;
/// |x| beyond which the gate of the tanh GELU is exactly 0 or 1 in f32 and f64 alike (its
/// argument exceeds 10⁷): the polynomial is evaluated at x clamped to it, so x³ never
/// overflows.
const GELU_CLAMP: f64 = 1.0e3;

/// y = ½x·(1 + tanh(√(2/π)·(x + 0.044715x³))), PyTorch's `gelu(approximate='tanh')`, as
/// x·σ(v) with v = 2√(2/π)·(x + 0.044715x³) (½(1 + tanh u) = σ(2u)): no cancellation in the
/// negative tail. f′ = σ(v) + x·σ(v)·σ(−v)·v′, v′ = 2√(2/π)·(1 + 3·0.044715x²).
#[derive(Clone, Copy, Debug)]
pub(crate) struct GeluTanh;

impl GeluTanh {
    /// (x clamped to ±[`GELU_CLAMP`], and v and v′ there).
    #[inline(always)]
    fn arg<T: KernelFloat, L: Lane<E = T>>(x: L) -> (L, L, L) {
        let xc = L::clamp_hi(L::clamp_lo(x, k(x, -GELU_CLAMP)), k(x, GELU_CLAMP));
        let x2 = xc * xc;
        let v = (xc * k(x, 2.0 * SQRT_2_OVER_PI)) * x2.fma(k(x, GELU_CUBIC), k(x, 1.0));
        let dv = x2.fma(
            k(x, 6.0 * SQRT_2_OVER_PI * GELU_CUBIC),
            k(x, 2.0 * SQRT_2_OVER_PI),
        );
        (xc, v, dv)
    }
}

impl<T: KernelFloat> ActFn<T> for GeluTanh {
    const COSTS: Costs = Costs::ps(4180, 4750, 4750);
    #[inline(always)]
    fn fwd<L: Lane<E = T>>(self, x: L) -> L {
        let (_, v, _) = Self::arg(x);
        math::times_sigmoid(x, v)
    }
    #[inline(always)]
    fn grad_in<L: Lane<E = T>>(self, x: L, dy: L) -> L {
        let (xc, v, dv) = Self::arg(x);
        let (s, sbar) = math::sigmoid_pair(v);
        gate_grad(x, xc, s, sbar, dv, dy)
    }
    #[inline(always)]
    fn reads_output(self) -> bool {
        false
    }
    #[inline(always)]
    fn grad_out<L: Lane<E = T>>(self, _: L, dy: L) -> L {
        dy
    }
}

/// y = x·Φ(x), Φ the standard normal distribution (PyTorch's `gelu`, `approximate='none'`),
/// from [`math::normal_tail`]: with Φ(−|x|) = e/s and q = x/s, y = q·e for x < 0 and
/// x − q·e for x ≥ 0 (Φ(−|x|) ≤ ½ there, so nothing cancels). Where e^(−x²/2) is 0
/// (|x| at the clamp or beyond, ±∞ included) y is exactly x or −0.
/// f′ = Φ(x) + x·φ(x), φ(x) = e/√(2π).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Gelu;

impl<T: KernelFloat> ActFn<T> for Gelu {
    const COSTS: Costs = Costs::ps(5150, 3690, 3690);
    #[inline(always)]
    fn fwd<L: Lane<E = T>>(self, x: L) -> L {
        let (s, e, e_lo, _) = math::normal_tail(x);
        let zero = k(x, 0.0);
        // x/s = q + q_lo: q = x·(1/s), its residual x − q·s exact in one FMA (where the path
        // has FMA; elsewhere q_lo is noise at q's rounding level). With e + e_lo, x·Φ(−|x|) =
        // q·e + corr rounds once, in the last FMA, instead of at the quotient, the
        // exponential and the product.
        let inv = k(x, 1.0) / s;
        let q = x * inv;
        let q_lo = (-q).fma(s, x) * inv;
        let corr = q_lo.fma(e, q * e_lo);
        let y = L::sel_ge(x, zero, x - q.fma(e, corr), q.fma(e, corr));
        // the sign is x's, also for x = −0 (where x − q·e would be +0)
        let y = L::copysign(y, x);
        let limit = L::sel_ge(x, zero, x, -zero);
        L::keep_nan(x, L::sel_gt(e, zero, y, limit))
    }
    #[inline(always)]
    fn grad_in<L: Lane<E = T>>(self, x: L, dy: L) -> L {
        let (s, e, _, a) = math::normal_tail(x);
        let zero = k(x, 0.0);
        let w = e / s;
        let phi = e * L::splat(x.token(), T::FRAC_1_SQRT_2PI);
        // x clamped (φ = 0 there): the limits 1 and 0 at ±∞ come out of the sum itself
        let xc = L::copysign(a, x);
        let cdf = L::sel_ge(x, zero, k(x, 1.0) - w, w);
        dy * xc.fma(phi, cdf)
    }
    #[inline(always)]
    fn reads_output(self) -> bool {
        false
    }
    #[inline(always)]
    fn grad_out<L: Lane<E = T>>(self, _: L, dy: L) -> L {
        dy
    }
}
