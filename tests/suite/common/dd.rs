//! Double-double arithmetic (about 106 bits): the "better than f64" reference for the f64
//! accuracy test. Error-free transformations (Knuth's TwoSum, FMA-based TwoProd).
//!
//! exp and ln are table-driven, since the accuracy run calls them 10⁸ times per function:
//! eˣ = 2ⁿ·2^(j/64)·eʳ with |r| ≤ ln2/128 and eʳ's Taylor polynomial to r¹¹, ln m = ln c +
//! 2·atanh((m − c)/(m + c)) with c the nearest multiple of 1/128 and an 8-term series. Their
//! tables are built once by the slow, table-free forms kept below (`exp_small`, `ln_series`:
//! Taylor after 8 halvings, and the atanh series at |s| ≤ 0.172), which the test
//! `double_double_tables_match_the_series` also checks them against.

#[derive(Clone, Copy, Debug)]
pub struct DD(pub f64, pub f64);

fn two_sum(a: f64, b: f64) -> DD {
    let s = a + b;
    let bb = s - a;
    DD(s, (a - (s - bb)) + (b - bb))
}

fn quick(a: f64, b: f64) -> DD {
    let s = a + b;
    DD(s, b - (s - a))
}

impl DD {
    pub fn from(x: f64) -> DD {
        DD(x, 0.0)
    }
    pub fn add(self, o: DD) -> DD {
        let s = two_sum(self.0, o.0);
        let t = two_sum(self.1, o.1);
        let s = quick(s.0, s.1 + t.0);
        quick(s.0, s.1 + t.1)
    }
    pub fn neg(self) -> DD {
        DD(-self.0, -self.1)
    }
    pub fn sub(self, o: DD) -> DD {
        self.add(o.neg())
    }
    pub fn mul(self, o: DD) -> DD {
        let p = self.0 * o.0;
        let e = self.0.mul_add(o.0, -p);
        quick(p, e + (self.0 * o.1 + self.1 * o.0))
    }
    pub fn mul_f(self, f: f64) -> DD {
        self.mul(DD::from(f))
    }
    pub fn div(self, o: DD) -> DD {
        let q1 = self.0 / o.0;
        let r = self.sub(o.mul_f(q1));
        let q2 = r.0 / o.0;
        let r = r.sub(o.mul_f(q2));
        let q3 = r.0 / o.0;
        quick(q1, q2).add(DD::from(q3))
    }
    /// self / f for an f64 f: one quotient, its remainder (exact by FMA), a second quotient.
    pub fn div_f(self, f: f64) -> DD {
        let q1 = self.0 / f;
        let p = q1 * f;
        let e = q1.mul_add(f, -p);
        let q2 = (((self.0 - p) - e) + self.1) / f;
        quick(q1, q2)
    }
    /// Multiplies by 2^k exactly (in two steps, so no intermediate overflows).
    pub fn ldexp(self, k: i32) -> DD {
        let h = k / 2;
        let (a, b) = (pow2(h), pow2(k - h));
        DD(self.0 * a * b, self.1 * a * b)
    }
}

/// 2ᵏ for a k of the normal range, from its bits.
fn pow2(k: i32) -> f64 {
    debug_assert!((-1022..=1023).contains(&k));
    f64::from_bits(((k + 1023) as u64) << 52)
}

const LN2: DD = DD(std::f64::consts::LN_2, 2.319_046_813_846_299_6e-17);

/// e^r for |r| ≤ ~0.35 (Taylor after halving 8 times, then squaring back: |r/256| ≤ 1.4·10⁻³,
/// so 12 terms leave a truncation below 10⁻⁴⁰, 10⁻³⁷ after the squarings).
fn exp_small(r: DD) -> DD {
    let r = DD(r.0 / 256.0, r.1 / 256.0);
    let mut term = DD::from(1.0);
    let mut sum = DD::from(1.0);
    for k in 1..=12 {
        term = term.mul(r).div_f(k as f64);
        sum = sum.add(term);
    }
    for _ in 0..8 {
        sum = sum.mul(sum);
    }
    sum
}

/// The tables of exp and ln: 2^(j/64) for j < 64 (from `exp_small`), 1/k! for k ≤ 27,
/// 1/(2j + 1) for j < 8, and ln(c/128) for c in 90..=182 (from `ln_series`).
struct Tables {
    pow2_64: [DD; 64],
    inv_fact: [DD; 28],
    inv_odd: [DD; 8],
    ln_c: [DD; 93],
}

fn tables() -> &'static Tables {
    static T: std::sync::OnceLock<Tables> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let mut fact = 1.0;
        Tables {
            // 2^(j/64) = (e^(j·ln2/128))², the argument within exp_small's |r| ≤ 0.35
            pow2_64: std::array::from_fn(|j| {
                let h = exp_small(LN2.mul_f(j as f64 / 128.0));
                h.mul(h)
            }),
            // k! is exact in f64 up to 22!, and 1/k! divides an exact product below
            inv_fact: std::array::from_fn(|k| {
                if k > 0 {
                    fact *= k as f64;
                }
                if k <= 22 {
                    DD::from(1.0).div_f(fact)
                } else {
                    // 23! and above: 1/22! divided on by the remaining factors
                    (23..=k).fold(DD::from(1.0).div_f(1_124_000_727_777_607_680_000.0), |acc, i| {
                        acc.div_f(i as f64)
                    })
                }
            }),
            inv_odd: std::array::from_fn(|j| DD::from(1.0).div_f((2 * j + 1) as f64)),
            ln_c: std::array::from_fn(|i| ln_series(DD::from((i + 90) as f64 / 128.0))),
        }
    })
}

/// Σ coef[k]·rᵏ for k < len, by Horner in double-double.
fn horner(coef: &[DD], r: DD) -> DD {
    coef.iter().rev().fold(DD::from(0.0), |acc, &c| acc.mul(r).add(c))
}

/// eˣ to about 100 bits (0 below the subnormal range, ∞ above the finite range): x = (64n +
/// j)·ln2/64 + r, |r| ≤ ln2/128 (the product with the double-double ln2 keeps r to 2⁻⁹⁷
/// absolute), eʳ by its Taylor polynomial to r¹¹/11! (the next term is below 2⁻¹¹⁹).
pub fn exp(x: f64) -> DD {
    if x.is_nan() {
        return DD::from(f64::NAN);
    }
    if x > 709.8 {
        return DD::from(f64::INFINITY);
    }
    if x < -746.0 {
        return DD::from(0.0);
    }
    let t = tables();
    let k = (x * (64.0 / std::f64::consts::LN_2)).round();
    let r = DD::from(x).sub(LN2.mul_f(k / 64.0));
    let k = k as i32;
    let (n, j) = (k.div_euclid(64), k.rem_euclid(64) as usize);
    t.pow2_64[j].mul(horner(&t.inv_fact[..12], r)).ldexp(n)
}

/// eˣ − 1 to about 100 bits, also near 0.
pub fn expm1(x: f64) -> DD {
    if x.abs() < 0.5 {
        // x·Σ xᵏ/(k+1)! to k = 26 (the next term is below 0.5²⁸/28! < 10⁻³⁸)
        DD::from(x).mul(horner(&tables().inv_fact[1..], DD::from(x)))
    } else {
        exp(x).sub(DD::from(1.0))
    }
}

/// σ(x) as a double-double.
pub fn sigmoid(x: f64) -> DD {
    if x.is_nan() {
        return DD::from(x);
    }
    let one = DD::from(1.0);
    let e = exp(-x.abs());
    if x >= 0.0 {
        one.div(one.add(e))
    } else {
        e.div(one.add(e))
    }
}

/// x·σ(x) (SiLU) as a double-double; −0 at −∞.
pub fn silu(x: f64) -> DD {
    if x == f64::NEG_INFINITY {
        return DD::from(-0.0);
    }
    if x == f64::INFINITY || x.is_nan() {
        return DD::from(x);
    }
    DD::from(x).mul(sigmoid(x))
}

/// σ of a double-double argument: σ(v.0) corrected to first order in v.1 (|v.1| ≤ 2⁻⁵³|v.0|,
/// so the dropped term v.1²·σ″/2 is below 2⁻¹⁰⁰ relative).
fn sigmoid_dd(v: DD) -> DD {
    // σ(v.0) and σ(−v.0) from one e = e^(−|v.0|): 1/(1 + e) and e/(1 + e)
    let e = exp(-v.0.abs());
    let near = DD::from(1.0).div(DD::from(1.0).add(e));
    let far = e.mul(near);
    let (s, sbar) = if v.0 >= 0.0 { (near, far) } else { (far, near) };
    s.add(s.mul(sbar).mul_f(v.1))
}

/// The tanh GELU x·σ(2√(2/π)(x + 0.044715x³)) as a double-double (the constants are the
/// f64 values the kernels round from); −0 at −∞.
pub fn gelu_tanh(x: f64) -> DD {
    if x == f64::NEG_INFINITY {
        return DD::from(-0.0);
    }
    if x == f64::INFINITY || x.is_nan() {
        return DD::from(x);
    }
    if x.abs() > 1e3 {
        // the gate is exactly 1 or 0 beyond (its argument exceeds 10⁷)
        return DD::from(if x > 0.0 { x } else { -0.0 });
    }
    let c = DD::from(2.0 * (2.0 / std::f64::consts::PI).sqrt());
    let xd = DD::from(x);
    let v = c.mul(xd.add(xd.mul(xd).mul(xd).mul_f(0.044715)));
    xd.mul(sigmoid_dd(v))
}

const FRAC_1_SQRT_2: DD = DD(std::f64::consts::FRAC_1_SQRT_2, -4.833_646_656_726_457e-17);
const FRAC_2_SQRT_PI: DD = DD(std::f64::consts::FRAC_2_SQRT_PI, 1.533_545_961_316_588e-17);
const FRAC_1_SQRT_PI: DD = DD(0.564_189_583_547_756_3, 7.667_729_806_582_94e-18);

/// The exact GELU x·Φ(x) as a double-double, Φ(x) = ½erfc(−x/√2) built from z = |x|/√2
/// (to ~106 bits) and e^(−z²) with z² = x²/2 exact: below z = 3, erf(z) = (2/√π)·e^(−z²)·
/// Σ 2ⁿz^(2n+1)/(1·3·…·(2n+1)) (positive terms, no cancellation; 1 − erf loses at most 15
/// bits); from z = 3, Laplace's continued fraction erfc(z) = e^(−z²)/√π / (z + ½/(z + 1/(z +
/// (3/2)/(z + …)))) at depth 1100/z² + 12 (120 at z = 3: below 10⁻³⁵ relative; its
/// truncation error falls faster than the depth as z grows). Beyond |x| = 40 the result is
/// x or −0 (Φ(−40) < 10⁻³⁴⁹). −0 at −∞.
pub fn gelu(x: f64) -> DD {
    if x == f64::NEG_INFINITY {
        return DD::from(-0.0);
    }
    if x == f64::INFINITY || x.is_nan() {
        return DD::from(x);
    }
    let a = x.abs();
    if a > 40.0 {
        return DD::from(if x > 0.0 { x } else { -0.0 });
    }
    let z = DD::from(a).mul(FRAC_1_SQRT_2);
    // z² = a²/2 exactly as hi + lo; e^(−z²) = e^(−hi)·(1 − lo + lo²/2)
    let a2 = DD::from(a).mul(DD::from(a));
    let (h, l) = (a2.0 * 0.5, a2.1 * 0.5);
    let e = exp(-h).mul(DD::from(1.0).sub(DD::from(l)).add(DD::from(l * l * 0.5)));
    // tail = Φ(−a) = ½erfc(z)
    let tail = if z.0 < 3.0 {
        let two_z2 = DD(2.0 * h, 2.0 * l);
        let mut term = z;
        let mut sum = z;
        let mut n = 0.0;
        loop {
            n += 1.0;
            term = term.mul(two_z2).div_f(2.0 * n + 1.0);
            sum = sum.add(term);
            if term.0.abs() <= 1e-36 * sum.0 {
                break;
            }
        }
        let erf = FRAC_2_SQRT_PI.mul(e).mul(sum);
        DD::from(1.0).sub(erf).mul_f(0.5)
    } else {
        let mut f = z;
        let depth = (1100.0 / (z.0 * z.0)) as usize + 12;
        for n in (1..=depth).rev() {
            f = z.add(DD::from(n as f64 * 0.5).div(f));
        }
        FRAC_1_SQRT_PI.mul(e).div(f).mul_f(0.5)
    };
    let cdf = if x < 0.0 { tail } else { DD::from(1.0).sub(tail) };
    DD::from(x).mul(cdf)
}

/// tanh x as a double-double.
pub fn tanh(x: f64) -> DD {
    if x.is_nan() {
        return DD::from(x);
    }
    let a = x.abs();
    if a > 40.0 {
        return DD::from(1.0_f64.copysign(x));
    }
    if a == 0.0 {
        return DD::from(x);
    }
    let m = expm1(2.0 * a);
    let t = m.div(m.add(DD::from(2.0)));
    if x < 0.0 { t.neg() } else { t }
}

/// ln v for a positive finite double-double v: v = 2ᵏ·m with m ∈ [√½, √2) as in
/// `ln_series`, then c = the nearest multiple of 1/128 to m (exact), s = (m − c)/(m + c),
/// |s| ≤ 0.0028, and ln m = ln c + 2·atanh(s) by 8 terms of the series (the next is below
/// 10⁻⁴²). At c = 1 (ln c = 0) m − 1 is exact, so the result keeps its relative precision
/// near v = 1; elsewhere |ln m| ≥ 0.0023 while |2·atanh(s)| ≤ 0.0056, under 2 bits lost.
fn ln_dd(v: DD) -> DD {
    let (m, k) = reduce(v);
    let c = (m.0 * 128.0).round();
    let cd = DD::from(c / 128.0);
    let s = m.sub(cd).div(m.add(cd));
    let t = tables();
    let atanh = s.mul(horner(&t.inv_odd, s.mul(s)));
    let ln_c = if c == 128.0 {
        DD::from(0.0)
    } else {
        t.ln_c[c as usize - 90]
    };
    ln_c.add(atanh.mul_f(2.0)).add(LN2.mul_f(k as f64))
}

/// v = 2ᵏ·m with m ∈ [√½, √2) (k from the leading part, the scaling exact).
fn reduce(v: DD) -> (DD, i32) {
    let (mut hi, mut k) = (v.0, 0_i32);
    let mut v = v;
    if hi < f64::MIN_POSITIVE {
        v = v.ldexp(64);
        hi = v.0;
        k -= 64;
    }
    let e = ((hi.to_bits() >> 52) & 0x7ff) as i32 - 1023;
    let (mut m, mut k) = (v.ldexp(-e), k + e);
    if m.0 >= std::f64::consts::SQRT_2 {
        m = m.ldexp(-1);
        k += 1;
    }
    (m, k)
}

/// ln v for a positive finite double-double v, table-free (builds the table of `ln_dd`): v = 2ᵏ·m with m ∈ [√½, √2) (k from the
/// leading part, the scaling exact), then ln m = 2·atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.172,
/// summed in double-double until the terms fall below 10⁻³⁴ of s (s² ≤ 0.03: 24 terms); m − 1
/// is exact, so the result keeps its relative precision near v = 1.
fn ln_series(v: DD) -> DD {
    let (m, k) = reduce(v);
    let one = DD::from(1.0);
    let s = m.sub(one).div(m.add(one));
    let inv_odd: Vec<DD> = (0..24).map(|j| one.div_f((2 * j + 1) as f64)).collect();
    s.mul(horner(&inv_odd, s.mul(s)))
        .mul_f(2.0)
        .add(LN2.mul_f(k as f64))
}

/// eˣ for a finite x of the normal range without the tables (for the test of the tables): x
/// = n·ln2 + r, |r| ≤ ln2/2, and `exp_small`.
pub fn exp_by_squaring(x: f64) -> DD {
    let n = (x / std::f64::consts::LN_2).round();
    let r = DD::from(x).sub(LN2.mul_f(n));
    exp_small(r).ldexp(n as i32)
}

/// ln x for a positive finite x without the tables (for the test of the tables).
pub fn ln_by_series(x: f64) -> DD {
    ln_series(DD::from(x))
}

/// ln x to about 100 bits: −∞ at ±0, NaN below 0, +∞ at +∞.
pub fn ln(x: f64) -> DD {
    if x.is_nan() || x < 0.0 {
        return DD::from(f64::NAN);
    }
    if x == 0.0 {
        return DD::from(f64::NEG_INFINITY);
    }
    if x.is_infinite() {
        return DD::from(x);
    }
    ln_dd(DD::from(x))
}

/// ln(1 + x) to about 100 bits (1 + x held exactly as a double-double): ±0 at ±0, −∞ at −1,
/// NaN below −1, +∞ at +∞.
pub fn ln_1p(x: f64) -> DD {
    if x.is_nan() || x < -1.0 {
        return DD::from(f64::NAN);
    }
    if x == -1.0 {
        return DD::from(f64::NEG_INFINITY);
    }
    if x == 0.0 || x.is_infinite() {
        return DD::from(x);
    }
    if x.abs() < 1e-30 {
        // x − x²/2 (the next term is below 10⁻⁹⁰ relative); the series of `ln_dd` would lose
        // a tiny x to underflow in s = x/(2 + x)
        return quick(x, -(x * x) / 2.0);
    }
    ln_dd(two_sum(1.0, x))
}

/// The error of `got` against the double-double `want`, in units `unit` (the f64 spacing
/// at `want`, fractional since `want` is not rounded, or what the test counts as one ulp
/// there); `None` when a special value is wrong.
pub fn ulps(got: f64, want: DD, unit: f64) -> Option<f64> {
    let w = want.0 + want.1;
    if w.is_nan() {
        return got.is_nan().then_some(0.0);
    }
    if w.is_infinite() || got.is_infinite() {
        return (got == w).then_some(0.0);
    }
    if got.is_nan() {
        return None;
    }
    Some(((got - want.0) - want.1).abs() / unit)
}
