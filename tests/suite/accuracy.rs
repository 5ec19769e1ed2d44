//! Accuracy of the SIMD exp, ln, ln_1p, sigmoid, tanh, SiLU and both GELUs, in ULPs against an
//! f64 reference: every one of the 2³² f32 bit patterns on every SIMD path (exp, ln and ln_1p
//! ≤ 1 ULP, sigmoid
//! ≤ 2, tanh ≤ 2, SiLU ≤ 2.5, the tanh GELU ≤ 2, the exact GELU ≤ 2.5 — SiLU ≤ 3, the tanh
//! GELU ≤ 2.5 and the exact GELU ≤ 4 on the portable and scalar paths, which have no FMA —,
//! subnormal results included,
//! special values exact),
//! and 10⁸ seeded f64 inputs per function and path (the same bounds against a double-double
//! reference).
//!
//! SiLU and GELU are x·σ(v): where σ(v) is subnormal (x below about −87 in f32, −708 in f64)
//! the result keeps the absolute accuracy of that subnormal, |x| times its spacing, which
//! counts as the ulp there. The GELU's gate argument v = 2√(2/π)(x + 0.044715x³) takes three
//! roundings, which the function's own condition carries to y as 3·|x·v|·σ(v)·σ(−v) units of
//! u: that term is added to the ulp (in the negative tail, where y is tiny and the function
//! ill-conditioned, it dominates; elsewhere it is below an ulp). The exact GELU has no such
//! allowance: its tail keeps full relative precision (its f32 reference is musl's erfc in f64,
//! whose argument's rounding erfc's condition 2z² ≤ 256 carries to below 2⁻⁴⁴ relative).
//! Where Φ(x) is subnormal, |x| times the smallest subnormal counts as its ulp, as for σ.
//!
//! Release mode only, and `#[ignore]`d by default (minutes of CPU):
//! `cargo test --release --test suite -- --ignored --nocapture accuracy::` (`.ci/run` runs it).

use crate::common;

use nnkern::{
    Activation, MatMut, MatRef, SimdPath, activation_forward, exp_forward, ln_1p_forward, ln_forward,
    sigmoid_forward, tanh_forward, with_simd_path,
};
use rayon::prelude::*;

type Kernel<T> = fn(MatRef<'_, T>, MatMut<'_, T>) -> nnkern::Result<()>;

struct Func {
    name: &'static str,
    /// The bound on the paths with FMA (AVX-512, AVX2), and on the others.
    bound: f64,
    bound_no_fma: f64,
    f32k: Kernel<f32>,
    reference: fn(f64) -> f64,
    /// (the subnormal floor, the absolute slack in units of u) at x: see [`allowance`].
    gated: bool,
}

/// Whether the path computes with FMA: SiLU and the GELU round x·σ's quotient once inside an
/// FMA there, and twice (a product, then the sum) on the portable and scalar paths.
fn has_fma(path: SimdPath) -> bool {
    matches!(path, SimdPath::Avx512 | SimdPath::Avx2)
}

/// eˣ in f64 (`std`'s), with its saturated values (+0 below −746, +∞ above 710) returned
/// without the call: the same bits, but glibc's exp reports those through `errno`, a slow path
/// that about half of the f32 bit patterns (|x| ≥ 2⁹) would take on every reference.
fn exp_ref(x: f64) -> f64 {
    if x < -746.0 {
        0.0
    } else if x > 710.0 {
        f64::INFINITY
    } else {
        x.exp()
    }
}

/// σ(x) in f64 without overflow.
fn sig(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + exp_ref(-x))
    } else {
        let e = exp_ref(x);
        e / (1.0 + e)
    }
}

/// The tanh GELU's gate argument v(x).
fn gelu_v(x: f64) -> f64 {
    2.0 * (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)
}

/// What counts as one ulp of a gated function at x, beyond the spacing at the result: |x|
/// times the smallest subnormal (σ's absolute accuracy in its subnormal tail), and for the
/// GELU its gate argument's three roundings, 3·|x·v|·σ(v)·σ(−v)·u (see the module's notes).
fn allowance(name: &str, x: f64, min_sub: f64, u: f64) -> (f64, f64) {
    match name {
        "silu" | "gelu" => (x.abs() * min_sub, 0.0),
        "gelu_tanh" => {
            let v = gelu_v(x);
            (x.abs() * min_sub, 3.0 * (x * v).abs() * sig(v) * sig(-v) * u)
        }
        _ => (0.0, 0.0),
    }
}

/// x·Φ(x) in f64 (`common::reference::gelu`, musl's erfc), with the limits at ±∞.
fn gelu_ref(x: f64) -> f64 {
    if x.is_infinite() {
        if x > 0.0 { x } else { -0.0 }
    } else {
        common::reference::gelu(x).0
    }
}

fn funcs() -> [Func; 8] {
    [
        Func {
            name: "exp",
            bound: 1.0,
            bound_no_fma: 1.0,
            f32k: exp_forward,
            reference: exp_ref,
            gated: false,
        },
        Func {
            name: "ln",
            bound: 1.0,
            bound_no_fma: 1.0,
            f32k: ln_forward,
            reference: f64::ln,
            gated: false,
        },
        Func {
            name: "ln_1p",
            bound: 1.0,
            bound_no_fma: 1.0,
            f32k: ln_1p_forward,
            reference: f64::ln_1p,
            gated: false,
        },
        Func {
            name: "sigmoid",
            bound: 2.0,
            bound_no_fma: 2.0,
            f32k: sigmoid_forward,
            reference: sig,
            gated: false,
        },
        Func {
            name: "tanh",
            bound: 2.0,
            bound_no_fma: 2.0,
            f32k: tanh_forward,
            reference: f64::tanh,
            gated: false,
        },
        Func {
            name: "silu",
            bound: 2.5,
            bound_no_fma: 3.0,
            f32k: |x, y| activation_forward(Activation::Silu, x, y),
            reference: |x| {
                if x.is_infinite() && x < 0.0 {
                    -0.0
                } else {
                    x * sig(x)
                }
            },
            gated: true,
        },
        Func {
            name: "gelu_tanh",
            bound: 2.0,
            bound_no_fma: 2.5,
            f32k: |x, y| activation_forward(Activation::GeluTanh, x, y),
            reference: |x| {
                if x.is_infinite() {
                    if x > 0.0 { x } else { -0.0 }
                } else {
                    x * sig(gelu_v(x))
                }
            },
            gated: true,
        },
        Func {
            name: "gelu",
            bound: 2.5,
            bound_no_fma: 4.0,
            f32k: |x, y| activation_forward(Activation::Gelu, x, y),
            reference: gelu_ref,
            gated: true,
        },
    ]
}

/// Whether the function `name` is checked in this run: all of them, unless the environment
/// variable `ACCURACY_ONLY` lists some (comma-separated, e.g. `ACCURACY_ONLY=ln,ln_1p`: for
/// working on one function; CI sets nothing).
fn selected(name: &str) -> bool {
    std::env::var("ACCURACY_ONLY").map_or(true, |v| v.split(',').any(|n| n.trim() == name))
}

/// One ulp of f32 at the reference value `want` (the spacing 2^(e−23) at its exponent e,
/// 2⁻¹⁴⁹ below the normal range), or `floor` where that is larger, plus `slack`: the unit
/// of the error at one input, for every path.
fn unit_f32(want: f64, (floor, slack): (f64, f64)) -> f64 {
    let a = want.abs();
    // built from bits (the exhaustive run calls this 2³² times per function)
    let spacing = if a < f32::MIN_POSITIVE as f64 {
        2f64.powi(-149)
    } else {
        f64::from_bits(((a.to_bits() >> 52) - 23) << 52)
    };
    spacing.max(floor) + slack
}

/// The error of `got` against the reference `want`, in units `unit` (see [`unit_f32`]);
/// `None` when a special value is wrong.
fn ulps_f32(got: f32, want: f64, unit: f64) -> Option<f64> {
    if want.is_nan() {
        return got.is_nan().then_some(0.0);
    }
    let rounded = want as f32;
    if rounded.is_infinite() || got.is_infinite() {
        return (got == rounded).then_some(0.0);
    }
    if got.is_nan() {
        return None;
    }
    Some((got as f64 - want).abs() / unit)
}

/// The f64 spacing at `v`: 2^(e−52) for a normal v with exponent e, 2⁻¹⁰⁷⁴ below, built from
/// bits (`powi` underflows to 0 for such exponents).
fn spacing_f64(v: f64) -> f64 {
    let e = ((v.abs().to_bits() >> 52) & 0x7ff) as i64 - 1023;
    let s = e - 52;
    if s >= -1022 {
        f64::from_bits(((s + 1023) as u64) << 52)
    } else {
        f64::from_bits(1u64 << (s + 1074).max(0))
    }
}

/// (max ULP error, an input where it occurs); a wrong special value counts as ∞.
fn worst(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    if b.0 > a.0 { b } else { a }
}

/// One block of inputs, their references, units and the units' reciprocals, and the outputs
/// of one path: buffers a worker reuses from block to block (fresh ones per block cost as much
/// in page faults as the checks themselves).
struct Block<T, R> {
    x: Vec<T>,
    want: Vec<R>,
    unit: Vec<f64>,
    /// 1/unit, or NaN where the reference is a special value (NaN, or ±∞ once rounded to the
    /// output type), so that such inputs always reach the exact judgement.
    inv: Vec<f64>,
    y: Vec<T>,
}

impl<T, R> Default for Block<T, R> {
    fn default() -> Self {
        Block {
            x: Vec::new(),
            want: Vec::new(),
            unit: Vec::new(),
            inv: Vec::new(),
            y: Vec::new(),
        }
    }
}

/// Fills `block.unit` from `unit` at each (input, reference), and `block.inv` with its
/// reciprocal, or NaN where `special` says the reference is a special value.
fn fill_units<T: Copy, R>(
    block: &mut Block<T, R>,
    unit: impl Fn(T, &R) -> f64,
    special: impl Fn(&R) -> bool,
) {
    let Block {
        x,
        want,
        unit: u,
        inv,
        ..
    } = block;
    u.clear();
    u.extend(x.iter().zip(want.iter()).map(|(&xi, w)| unit(xi, w)));
    inv.clear();
    inv.extend(
        u.iter()
            .zip(want.iter())
            .map(|(&ui, w)| if special(w) { f64::NAN } else { 1.0 / ui }),
    );
}

/// For each path, the worst error of `kernel` over the inputs `x` (one row) against their
/// references `want`, in units `unit` (one per input), with the first input where it occurs.
///
/// This runs 2³² times per function, so each output is first screened cheaply: `diff` (the
/// distance |y − want|, NaN or ∞ where a special value is involved) times the precomputed
/// 1/unit, which is within 2⁻⁵² relative of the quotient diff/unit. Only an output whose
/// screened error exceeds the running maximum less 2⁻⁵⁰ relative, or is not finite, is judged
/// in full: the exact quotient, or `exact` (which judges special values: `None` when one is
/// wrong) where the screen gave no finite figure. So every output that could raise the
/// maximum is judged exactly, and the maximum (and where it first occurs) is the one the
/// quotient gives at every input.
fn worst_per_path<T: nnkern::Float, R>(
    paths: &[SimdPath],
    kernel: Kernel<T>,
    block: &mut Block<T, R>,
    diff: impl Fn(T, &R) -> f64,
    exact: impl Fn(T, &R, f64) -> Option<f64>,
) -> Vec<(f64, f64)> {
    let Block {
        x,
        want,
        unit,
        inv,
        y,
    } = block;
    y.resize(x.len(), T::ZERO);
    // (1 − 2⁻⁵⁰): below the screen's rounding (two roundings of 2⁻⁵³ each) with room to spare
    let margin = 1.0 - 2f64.powi(-50);
    paths
        .iter()
        .map(|&path| {
            with_simd_path(path, || {
                kernel(
                    MatRef::from_row_major(x, 1, x.len()).unwrap(),
                    MatMut::from_row_major(y, 1, x.len()).unwrap(),
                )
                .unwrap()
            })
            .unwrap();
            let (mut max, mut at, mut screen) = (0.0_f64, 0usize, 0.0_f64);
            for (i, ((&yi, wi), &r)) in y.iter().zip(want.iter()).zip(inv.iter()).enumerate() {
                let e = diff(yi, wi) * r;
                if e > screen || e.is_nan() {
                    let e = if e.is_finite() {
                        diff(yi, wi) / unit[i]
                    } else {
                        exact(yi, wi, unit[i]).unwrap_or(f64::INFINITY)
                    };
                    if e > max {
                        (max, at, screen) = (e, i, e * margin);
                    }
                }
            }
            (max, x[at].to_f64())
        })
        .collect()
}

/// The per-path worst of two blocks of inputs.
fn worst_of(a: Vec<(f64, f64)>, b: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    a.into_iter().zip(b).map(|(p, q)| worst(p, q)).collect()
}

#[test]
#[ignore = "exhaustive: run with --release -- --ignored"]
fn every_f32_input_on_every_path() {
    let paths: Vec<SimdPath> = SimdPath::ALL.into_iter().filter(|p| p.is_supported()).collect();
    let mut failures = Vec::new();
    for f in funcs().into_iter().filter(|f| selected(f.name)) {
        let start = std::time::Instant::now();
        // per block of 2¹⁶ inputs: the reference once, then every path checked against it
        let per_path = (0u32..1 << 16)
            .into_par_iter()
            .map_init(Block::default, |b, hi| {
                b.x.clear();
                b.x.extend((0..1u32 << 16).map(|lo| f32::from_bits(hi << 16 | lo)));
                b.want.clear();
                b.want.extend(b.x.iter().map(|&v| (f.reference)(v as f64)));
                let (min_sub, u) = (2f64.powi(-149), 2f64.powi(-24));
                fill_units(
                    b,
                    |xi, &w| {
                        let a = if f.gated {
                            allowance(f.name, xi as f64, min_sub, u)
                        } else {
                            (0.0, 0.0)
                        };
                        unit_f32(w, a)
                    },
                    // a reference that rounds to ±∞ is a special value too
                    |&w| (w as f32).is_infinite() || w.is_nan(),
                );
                worst_per_path(
                    &paths,
                    f.f32k,
                    b,
                    |y, &w| (y as f64 - w).abs(),
                    |y, &w, u| ulps_f32(y, w, u),
                )
            })
            .reduce(|| vec![(0.0, 0.0); paths.len()], worst_of);
        // (the time of each function's sweep: what CI's budget is spent on)
        println!("f32 {:<8} {:.0} s", f.name, start.elapsed().as_secs_f64());
        for (path, (err, at)) in paths.iter().zip(per_path) {
            println!(
                "f32 {:<8} {:<9} max {err:.3} ULP (at x = {at:e})",
                f.name,
                path.name()
            );
            let bound = if has_fma(*path) { f.bound } else { f.bound_no_fma };
            if err > bound {
                failures.push(format!("{} on {path}: {err} ULP at {at:e} > {bound}", f.name));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
#[ignore = "10⁸ inputs per function and path: run with --release -- --ignored"]
fn f64_seeded_inputs_on_every_path() {
    const N: usize = 100_000_000;
    const CHUNK: usize = 1 << 16;
    let specials = [
        0.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        709.78,
        709.79,
        -708.4,
        -745.1,
        -745.2,
        1e-300,
        5e-324,
        19.0,
        20.0,
        0.55,
        1.0,
        -1.0,
        2.0,
        f64::MAX,
        -1e-300,
    ];
    let paths: Vec<SimdPath> = SimdPath::ALL.into_iter().filter(|p| p.is_supported()).collect();
    // double-double references (about 100 bits), computed once per input
    type Case = (&'static str, Kernel<f64>, fn(f64) -> common::dd::DD, (f64, f64));
    let refs: [Case; 8] = [
        ("exp", exp_forward, common::dd::exp, (2.0, 2.0)),
        ("ln", ln_forward, common::dd::ln, (1.0, 1.0)),
        ("ln_1p", ln_1p_forward, common::dd::ln_1p, (1.0, 1.0)),
        ("sigmoid", sigmoid_forward, common::dd::sigmoid, (2.0, 2.0)),
        ("tanh", tanh_forward, common::dd::tanh, (2.0, 2.0)),
        (
            "silu",
            |x, y| activation_forward(Activation::Silu, x, y),
            common::dd::silu,
            (2.5, 3.0),
        ),
        (
            "gelu_tanh",
            |x, y| activation_forward(Activation::GeluTanh, x, y),
            common::dd::gelu_tanh,
            (2.0, 2.5),
        ),
        (
            "gelu",
            |x, y| activation_forward(Activation::Gelu, x, y),
            common::dd::gelu,
            (2.5, 4.0),
        ),
    ];
    let mut failures = Vec::new();
    for (name, kernel, reference, (bound_fma, bound_no_fma)) in refs.into_iter().filter(|r| selected(r.0)) {
        let start = std::time::Instant::now();
        let per_path = (0..N.div_ceil(CHUNK))
            .into_par_iter()
            .map_init(Block::default, |b, c| {
                let mut rng = common::Rng::new(c as u64);
                b.x.clear();
                b.x.extend((0..CHUNK).map(|i| match i % 5 {
                    // the whole range, by random bit patterns
                    0 => f64::from_bits(rng.next_u64()),
                    // where the functions are not saturated
                    1 => rng.range(-40.0, 40.0),
                    2 => rng.range(-750.0, 710.0),
                    // near 0 (ln_1p's hard region), and near 1 (ln's)
                    3 => rng.range(-1.0, 1.0) * 2f64.powi(-(rng.below(60) as i32)),
                    _ => 1.0 + rng.range(-1.0, 1.0) * 2f64.powi(-(rng.below(60) as i32)),
                }));
                if c == 0 {
                    b.x[..specials.len()].copy_from_slice(&specials);
                }
                b.want.clear();
                b.want.extend(b.x.iter().map(|&v| reference(v)));
                let (min_sub, u) = (f64::from_bits(1), 2f64.powi(-53));
                fill_units(
                    b,
                    |xi, w| {
                        let (floor, slack) = allowance(name, xi, min_sub, u);
                        spacing_f64(w.0 + w.1).max(floor) + slack
                    },
                    |w| !(w.0 + w.1).is_finite(),
                );
                worst_per_path(
                    &paths,
                    kernel,
                    b,
                    |y, w| ((y - w.0) - w.1).abs(),
                    |y, &w, u| common::dd::ulps(y, w, u),
                )
            })
            .reduce(|| vec![(0.0, 0.0); paths.len()], worst_of);
        println!("f64 {name:<8} {:.0} s", start.elapsed().as_secs_f64());
        for (path, (err, at)) in paths.iter().zip(per_path) {
            println!(
                "f64 {name:<8} {:<9} max {err:.3} ULP (at x = {at:e})",
                path.name()
            );
            let bound = if has_fma(*path) { bound_fma } else { bound_no_fma };
            if err > bound {
                failures.push(format!("f64 {name} on {path}: {err} ULP at {at:e} > {bound}"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The reference's shortcut gives `std`'s bits: on every f64 from −10⁴ to 10⁴ in steps of 1/8
/// (the saturated ranges and both edges), and at ±∞ and NaN.
#[test]
fn exp_reference_shortcut_is_std_exp() {
    let xs = (-80_000..=80_000).map(|i| i as f64 / 8.0);
    for x in xs.chain([-746.0, -745.9, 709.7, 710.0, f64::INFINITY, f64::NEG_INFINITY]) {
        assert_eq!(exp_ref(x).to_bits(), x.exp().to_bits(), "x = {x}");
    }
    assert!(exp_ref(f64::NAN).is_nan());
}

/// The double-double exp and ln, table-driven for speed, agree with their table-free forms
/// (`exp_small`'s 8 halvings and squarings, the long atanh series) on 2·10⁵ inputs: exp within
/// 2⁻⁹² relative on [−670, 700] (each form is within about 2⁻⁹⁵ of eˣ there: ln 2's
/// double-double rounding times |x|, and the squarings' doubling of exp_small's error; below
/// −670 the result's low part becomes subnormal in both), ln within 2⁻¹⁰⁰ on 2^±1000 and
/// near 1.
#[test]
fn double_double_tables_match_the_series() {
    use common::dd::{self, DD};
    let rel = |a: DD, b: DD| (((a.0 - b.0) + (a.1 - b.1)) / b.0).abs();
    let mut rng = common::Rng::new(95);
    for i in 0..100_000 {
        let x = rng.range(-670.0, 700.0);
        let e = rel(dd::exp(x), dd::exp_by_squaring(x));
        assert!(e <= 2f64.powi(-92), "exp({x:e}): {e:e} relative");
        let v = if i % 2 == 0 {
            rng.range(-1000.0, 1000.0).exp2()
        } else {
            1.0 + rng.range(-1.0, 1.0) * 2f64.powi(-(rng.below(60) as i32))
        };
        if v != 1.0 {
            let e = rel(dd::ln(v), dd::ln_by_series(v));
            assert!(e <= 2f64.powi(-100), "ln({v:e}): {e:e} relative");
        }
    }
}

#[test]
fn special_values_exact_on_every_path() {
    common::each_path(|| {
        let x = [
            0.0_f32,
            -0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            1e-45,
            -1e-45,
        ];
        let run = |k: Kernel<f32>| {
            let mut y = [7.0_f32; 7];
            k(
                MatRef::from_row_major(&x, 1, 7).unwrap(),
                MatMut::from_row_major(&mut y, 1, 7).unwrap(),
            )
            .unwrap();
            y
        };
        let e = run(exp_forward);
        assert_eq!(&e[..4], &[1.0, 1.0, f32::INFINITY, 0.0]);
        assert!(e[4].is_nan());
        assert_eq!((e[5], e[6]), (1.0, 1.0));
        let s = run(sigmoid_forward);
        assert_eq!(&s[..4], &[0.5, 0.5, 1.0, 0.0]);
        assert!(s[4].is_nan());
        let t = run(tanh_forward);
        assert_eq!(t[0].to_bits(), 0.0_f32.to_bits());
        assert_eq!(t[1].to_bits(), (-0.0_f32).to_bits());
        assert_eq!((t[2], t[3]), (1.0, -1.0));
        assert!(t[4].is_nan());
        assert_eq!((t[5], t[6]), (1e-45, -1e-45), "tanh of a subnormal is itself");
        // ln: −∞ at ±0, +∞ at +∞, NaN for a negative input (−∞ and the negative subnormal
        // included) and NaN; the smallest subnormal's ln is 149·(−ln 2)
        let l = run(ln_forward);
        assert_eq!(&l[..3], &[f32::NEG_INFINITY, f32::NEG_INFINITY, f32::INFINITY]);
        assert!(l[3].is_nan() && l[4].is_nan() && l[6].is_nan());
        assert_eq!(l[5], (-149.0 * std::f64::consts::LN_2) as f32);
        // ln_1p: ±0 kept, +∞, NaN below −1 and for NaN, a subnormal is itself
        let l1 = run(ln_1p_forward);
        assert_eq!(l1[0].to_bits(), 0.0_f32.to_bits());
        assert_eq!(l1[1].to_bits(), (-0.0_f32).to_bits());
        assert_eq!(l1[2], f32::INFINITY);
        assert!(l1[3].is_nan() && l1[4].is_nan());
        assert_eq!((l1[5], l1[6]), (1e-45, -1e-45), "ln_1p of a subnormal is itself");
        let mut m = [0.0_f32; 3];
        ln_1p_forward(
            MatRef::from_row_major(&[-1.0, -1.5, 1.0], 1, 3).unwrap(),
            MatMut::from_row_major(&mut m, 1, 3).unwrap(),
        )
        .unwrap();
        assert_eq!(m[0], f32::NEG_INFINITY);
        assert!(m[1].is_nan());
        assert_eq!(m[2], std::f32::consts::LN_2);
    });
}

/// The AVX-512 path's explicit vector kernels (`vscalef` for the power of two) give the AVX2
/// path's bits: every 4099th f32 bit pattern through exp, sigmoid and tanh, and the
/// exponential-and-sum passes of softmax and the fused softmax-cross-entropy on rows of every
/// length to 40 (each tail of the 16-wide chunks), 64, 100 and 1000 (long rows, each row's
/// maximum read with the row before), in f32 and f64. Skipped where
/// the CPU lacks either path.
#[test]
fn avx512_kernels_give_the_avx2_bits() {
    if !(SimdPath::Avx512.is_supported() && SimdPath::Avx2.is_supported()) {
        eprintln!("AVX-512 or AVX2 not supported here: skipped");
        return;
    }
    let xs: Vec<f32> = (0..=u32::MAX / 4099).map(|i| f32::from_bits(i * 4099)).collect();
    for f in funcs() {
        let run = |path| {
            let mut y = vec![0.0_f32; xs.len()];
            with_simd_path(path, || {
                (f.f32k)(
                    MatRef::from_row_major(&xs, 1, xs.len()).unwrap(),
                    MatMut::from_row_major(&mut y, 1, xs.len()).unwrap(),
                )
                .unwrap()
            })
            .unwrap();
            y
        };
        let (a, b) = (run(SimdPath::Avx512), run(SimdPath::Avx2));
        for ((x, p), q) in xs.iter().zip(&a).zip(&b) {
            assert_eq!(
                p.to_bits(),
                q.to_bits(),
                "{} at x = {x:e}: {p:e} vs {q:e}",
                f.name
            );
        }
    }
    rows_agree::<f32>();
    rows_agree::<f64>();
}

fn rows_agree<T: nnkern::Float + std::fmt::Debug>() {
    use nnkern::{CrossEntropyOptions, Targets, softmax_cross_entropy, softmax_forward};
    let mut rng = common::Rng::new(4099);
    for c in (1..=40).chain([64, 100, 1000]) {
        let n = 3;
        let mut s: Vec<T> = (0..n * c).map(|_| T::from_f64(rng.normal() * 4.0)).collect();
        // a tie at the maximum in one row (the fused kernel counts the maxima apart), and a
        // last row of zeros of both signs (a tie of equal maxima whose bits differ)
        if c > 2 {
            s[1] = s[0].max(s[1]);
            s[0] = s[1];
            for (j, v) in s[2 * c..].iter_mut().enumerate() {
                *v = if j % 3 == 1 { T::ZERO } else { -T::ZERO };
            }
        }
        let labels: Vec<usize> = (0..n).map(|i| (i * 7) % c).collect();
        let run = |path| {
            let (mut p, mut d, mut loss) = (vec![T::ZERO; n * c], vec![T::ZERO; n * c], [T::ZERO]);
            with_simd_path(path, || {
                let x = MatRef::from_row_major(&s, n, c).unwrap();
                softmax_forward(x, MatMut::from_row_major(&mut p, n, c).unwrap()).unwrap();
                let opts = CrossEntropyOptions::default();
                let d = MatMut::from_row_major(&mut d, n, c).unwrap();
                softmax_cross_entropy(x, Targets::Classes(&labels), &opts, &[T::ONE], &mut loss, d).unwrap();
            })
            .unwrap();
            (p, d, loss)
        };
        let (a, b) = (run(SimdPath::Avx512), run(SimdPath::Avx2));
        let bits = |v: &[T]| v.iter().map(|x| x.to_f64().to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.0), bits(&b.0), "softmax, {c} columns");
        assert_eq!(
            bits(&a.1),
            bits(&b.1),
            "softmax-cross-entropy gradient, {c} columns"
        );
        assert_eq!(bits(&a.2), bits(&b.2), "softmax-cross-entropy loss, {c} columns");
    }
}
