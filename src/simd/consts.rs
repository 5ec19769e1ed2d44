//! Per-type constants of the math bodies (`Consts`): the bottom of the SIMD layer.

/// Per-type constants of the bodies.
pub trait Consts: Copy + 'static {
    /// The unsigned integer of the type's width.
    type Bits: Copy + Ord;
    /// The bits of `self` as that integer: for non-negative numbers in the order of the
    /// numbers, every negative number and NaN above +∞.
    fn ubits(self) -> Self::Bits;
    const LOG2E: Self;
    /// −(ln 2)’s high part: n·NEG_LN2_HI is exact.
    const NEG_LN2_HI: Self;
    /// −(ln 2 − LN2_HI).
    const NEG_LN2_LO: Self;
    /// 1.5·2^(mantissa bits): adding it rounds to an integer held in the low bits.
    const MAGIC: Self;
    /// exp's input is clamped to [EXP_LO, EXP_HI]: eˣ at EXP_HI (n = 128 or 1024) overflows
    /// to +∞ and at EXP_LO rounds to 0 (under half the smallest subnormal), while both
    /// factors of 2ⁿ stay normal; so results beyond need no select.
    const EXP_HI: Self;
    /// See [`Consts::EXP_HI`].
    const EXP_LO: Self;
    /// MAGIC − 64: with it, [`Lane::pow2i`](super::lane::Lane::pow2i) gives 2^(n+64), a normal number for every n
    /// of an exponential that does not overflow.
    const MAGIC_LESS_64: Self;
    /// 2⁻⁶⁴.
    const POW2_NEG_64: Self;
    /// |x| from which tanh x rounds to ±1.
    const TANH_SAT: Self;
    /// q's coefficients in eʳ − 1 = r + r²·q(r) for |r| ≤ ln2/2: a minimax fit of the error
    /// relative to eʳ (`tests/suite/golden/exp_fit.py`), below 0.01 units of 2⁻ᵖ (p = 24 for
    /// f32, 53 for f64): degree 5 for f32, 10 for f64.
    const EXPM1_POLY: &'static [Self];
    /// The same for 0 ≤ r < ln 2 (expm1 for tanh), fitted to the error relative to eʳ − 1:
    /// degree 5 for f32, 10 for f64.
    const EXPM1_POS_POLY: &'static [Self];
    const K0: Self;
    const K1: Self;
    const K2: Self;
    const KHALF: Self;
    /// +∞.
    const INF: Self;
    /// Veltkamp's splitter 2^⌈p/2⌉ + 1 (p the significand's bits): see `math::two_square`.
    const SPLIT: Self;
    /// 1/√(2π), the normal density's constant.
    const FRAC_1_SQRT_2PI: Self;
    /// [`normal_tail`](super::math::normal_tail)'s clamp: the a where e^(−a²/2) is 0 in the type (so Φ(−a) and a·Φ(−a)
    /// are below half the smallest subnormal, and the GELU is exactly x or −0 beyond).
    const NORMAL_A: Self;
    /// −(1 + 2K/A) with K = 3 and A = [`Consts::NORMAL_A`], exact: the Chebyshev variable is
    /// u = (K + NORMAL_C2·a)/(K + a), which maps a ∈ [0, A] onto [−1, 1].
    const NORMAL_C2: Self;
    /// K = 3.
    const NORMAL_K: Self;
    /// V(a) = (s(a) − 2)/a as a polynomial in u (see [`normal_tail`](super::math::normal_tail)): a Chebyshev fit in
    /// 80-digit arithmetic turned into monomials (`tests/suite/golden/normal_tail_fit.py`); the
    /// omitted Chebyshev terms are below 2⁻⁵⁶ (f64) or 2⁻²⁷ (f32) of V.
    const NORMAL_POLY: &'static [Self];
    /// The smallest positive normal number.
    const MIN_NORMAL: Self;
    /// 2^P (P the stored significand bits): a subnormal times it is normal, exactly.
    const SUBNORMAL_SCALE: Self;
    /// P as a value: [`ln`](super::math::ln) subtracts it from the exponent of a scaled subnormal.
    const SUBNORMAL_BITS: Self;
    /// 2/(2j+1), j = 1..: ln f = 2·atanh(s) = 2s + s·z·P(z), z = s², |s| ≤ 3 − 2√2, summed
    /// until the first omitted term is below 2⁻⁶⁰ relative to 2s (f64: 10 terms); empty
    /// for f32, whose logarithm uses [`Consts::LN_R_POLY`].
    const LN_POLY: &'static [Self];
    /// ln(1 + r) = r − r²/2 + r³·P(r) over r ∈ [√½ − 1, √2 − 1]: P's coefficients, a
    /// minimax fit of the relative error (`tests/suite/golden/ln_fit.py`), for the types whose
    /// logarithm is division-free (f32); empty where `math::ln_reduced` uses the atanh series.
    const LN_R_POLY: &'static [Self];
    /// A quiet NaN.
    const QNAN: Self;
}

/// 2/(2j+1) as the type, j = 1..
macro_rules! atanh_coeffs {
    ($t:ty; $($j:expr),*) => { &[$((2.0_f64 / (2 * $j + 1) as f64) as $t),*] };
}

impl Consts for f32 {
    type Bits = u32;
    #[inline(always)]
    fn ubits(self) -> u32 {
        self.to_bits()
    }
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const NEG_LN2_HI: f32 = -0.693_359_4; // −0x1.63p-1: 9 significant bits, n·NEG_LN2_HI exact
    const NEG_LN2_LO: f32 = 2.121_944_4e-4; // −(ln 2 + NEG_LN2_HI)
    const MAGIC: f32 = 12_582_912.0; // 1.5·2²³
    const EXP_HI: f32 = 89.0; // e⁸⁹ ≈ 4.5e38 > f32::MAX; n = 128 = 64 + 64
    const EXP_LO: f32 = -104.0; // e⁻¹⁰⁴ ≈ 6.8e-46 < 2⁻¹⁵⁰; n = −150 = −75 − 75
    const MAGIC_LESS_64: f32 = 12_582_848.0;
    const POW2_NEG_64: f32 = f32::from_bits((127 - 64) << 23);
    const TANH_SAT: f32 = 9.5;
    const EXPM1_POLY: &'static [f32] = &[
        0.5,
        0.16666648,
        0.04166648,
        0.00833788,
        0.0013933318,
        0.00017327798,
    ];
    const EXPM1_POS_POLY: &'static [f32] = &[
        0.49999997,
        0.1666675,
        0.041658867,
        0.008366372,
        0.0013190338,
        0.0002690083,
    ];
    const K0: f32 = 0.0;
    const K1: f32 = 1.0;
    const K2: f32 = 2.0;
    const KHALF: f32 = 0.5;
    const INF: f32 = f32::INFINITY;
    const SPLIT: f32 = 4097.0; // 2¹² + 1
    const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;
    const NORMAL_A: f32 = 16.0; // e^(−128) < 2⁻¹⁵⁰
    const NORMAL_C2: f32 = -1.375;
    const NORMAL_K: f32 = 3.0;
    const NORMAL_POLY: &'static [f32] = &[
        1.9959502,
        -0.43132028,
        -0.0017933517,
        0.039007984,
        -0.001191126,
        -0.006487063,
        0.0008500896,
        0.0011816876,
        -0.00033759873,
        -0.00018907984,
        9.224498e-05,
        1.8931885e-05,
        -1.35332e-05,
    ];
    const MIN_NORMAL: f32 = f32::MIN_POSITIVE;
    const SUBNORMAL_SCALE: f32 = 8_388_608.0; // 2²³
    const SUBNORMAL_BITS: f32 = 23.0;
    const LN_POLY: &'static [f32] = &[];
    const LN_R_POLY: &'static [f32] = &[
        0.3333333,
        -0.2500082,
        0.20001227,
        -0.16623357,
        0.14201759,
        -0.13160183,
        0.12761575,
        -0.07634493,
    ];
    const QNAN: f32 = f32::NAN;
}

impl Consts for f64 {
    type Bits = u64;
    #[inline(always)]
    fn ubits(self) -> u64 {
        self.to_bits()
    }
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    const NEG_LN2_HI: f64 = f64::from_bits(0xbfe6_2e42_fee0_0000); // 21 significant bits
    const NEG_LN2_LO: f64 = -1.908_214_929_270_587_7e-10; // −(ln 2 + NEG_LN2_HI)
    const MAGIC: f64 = 6_755_399_441_055_744.0; // 1.5·2⁵²
    const EXP_HI: f64 = 710.0; // e⁷¹⁰ ≈ 2.2e308 > f64::MAX; n = 1024 = 512 + 512
    const EXP_LO: f64 = -746.0; // e⁻⁷⁴⁶ ≈ 1.0e-324 < 2⁻¹⁰⁷⁵; n = −1076 = −538 − 538
    const MAGIC_LESS_64: f64 = 6_755_399_441_055_680.0;
    const POW2_NEG_64: f64 = f64::from_bits((1023 - 64) << 52);
    const TANH_SAT: f64 = 19.5;
    const EXPM1_POLY: &'static [f64] = &[
        0.5,
        0.16666666666666688,
        0.041666666666666824,
        0.008333333333313892,
        0.0013888888888777793,
        0.00019841269903378693,
        2.480158755984889e-5,
        2.755722866731031e-6,
        2.755706691436682e-7,
        2.511393803561324e-8,
        2.0978048989099818e-9,
    ];
    const EXPM1_POS_POLY: &'static [f64] = &[
        0.5000000000000001,
        0.1666666666666575,
        0.04166666666692892,
        0.00833333332960453,
        0.0013888889195996618,
        0.00019841253984656185,
        2.4802121835115385e-5,
        2.7545387582397745e-6,
        2.7731727744873653e-7,
        2.3456842546650952e-8,
        2.9012621642651758e-9,
    ];
    const K0: f64 = 0.0;
    const K1: f64 = 1.0;
    const K2: f64 = 2.0;
    const KHALF: f64 = 0.5;
    const INF: f64 = f64::INFINITY;
    const SPLIT: f64 = 134_217_729.0; // 2²⁷ + 1
    const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
    const NORMAL_A: f64 = 48.0; // e^(−1152) < 2⁻¹⁰⁷⁵
    const NORMAL_C2: f64 = -1.125;
    const NORMAL_K: f64 = 3.0;
    const NORMAL_POLY: &'static [f64] = &[
        2.046605351657511,
        -0.47978034833142574,
        -0.019426957302062058,
        0.05396099217471274,
        0.0042602608199911835,
        -0.011718714987649497,
        -0.00044040668438942513,
        0.003042683494287441,
        -0.0002069589452207318,
        -0.0008053612041075573,
        0.00017975727047085468,
        0.00019360105781280736,
        -8.619028599831359e-05,
        -3.615033027790721e-05,
        3.123863073076174e-05,
        2.7736576358957924e-06,
        -8.875726681981525e-06,
        1.362114528976933e-06,
        1.896823866123054e-06,
        -7.650494373766854e-07,
        -2.623289597459168e-07,
        2.1617687699239134e-07,
        9.285013130738744e-09,
        -3.7023346521782246e-08,
        4.185928334667319e-09,
        3.0986669437549215e-09,
        -6.427458158861732e-10,
    ];
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    const SUBNORMAL_SCALE: f64 = 4_503_599_627_370_496.0; // 2⁵²
    const SUBNORMAL_BITS: f64 = 52.0;
    const LN_POLY: &'static [f64] = atanh_coeffs!(f64; 1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
    const LN_R_POLY: &'static [f64] = &[];
    const QNAN: f64 = f64::NAN;
}
