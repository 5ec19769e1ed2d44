//! Shared input decoding for the fuzz targets: a byte reader that yields small dimensions,
//! strided views over NaN-padded storage, and values drawn from a palette of edge cases.

use nnkern::{Activation, MatMut, MatRef, SimdPath, with_simd_path};
use std::sync::OnceLock;

/// Reads decisions from the fuzzer's bytes; past the end it yields zeros.
pub struct Input<'a> {
    bytes: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Input { bytes }
    }

    pub fn byte(&mut self) -> u8 {
        match self.bytes.split_first() {
            Some((&b, rest)) => {
                self.bytes = rest;
                b
            }
            None => 0,
        }
    }

    /// A dimension in 0..=max.
    pub fn dim(&mut self, max: usize) -> usize {
        self.byte() as usize % (max + 1)
    }

    pub fn flag(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    /// A value: mostly moderate, sometimes an edge case (±0, subnormal, huge, ±∞, NaN).
    pub fn value(&mut self) -> f32 {
        let b = self.byte();
        match b {
            0..=199 => (b as f32 - 100.0) / 16.0,
            200..=209 => 0.0,
            210..=214 => -0.0,
            215..=219 => 1.0e-40,
            220..=224 => 3.0e38,
            225..=229 => -3.0e38,
            230..=234 => f32::INFINITY,
            235..=239 => f32::NEG_INFINITY,
            240..=244 => f32::NAN,
            245..=249 => 88.7,
            _ => -104.0,
        }
    }

    /// A bounded, finite value (for oracles that need moderate inputs).
    pub fn moderate(&mut self) -> f32 {
        (self.byte() as f32 - 128.0) / 32.0
    }
}

/// A rows×cols matrix in one of four layouts: row-major, padded rows, column-major, or
/// padded columns (padding is NaN, so a kernel reading it shows in the result).
pub struct Stored {
    pub data: Vec<f32>,
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl Stored {
    pub fn new(inp: &mut Input<'_>, rows: usize, cols: usize, moderate: bool) -> Self {
        let layout = inp.byte() % 4;
        let (rs, cs, len) = match layout {
            0 => (cols, 1, rows * cols),
            1 => (cols + 2, 1, rows * (cols + 2)),
            2 => (1, rows, rows * cols),
            _ => (1, rows + 1, cols * (rows + 1)),
        };
        let mut data = vec![f32::NAN; len];
        for i in 0..rows {
            for j in 0..cols {
                data[i * rs + j * cs] = if moderate { inp.moderate() } else { inp.value() };
            }
        }
        Stored {
            data,
            rows,
            cols,
            rs,
            cs,
        }
    }

    /// A NaN-filled output with unit column stride (padded rows or not).
    pub fn out(inp: &mut Input<'_>, rows: usize, cols: usize) -> Self {
        let pad = inp.byte() as usize % 3;
        let rs = cols + pad;
        Stored {
            data: vec![f32::NAN; rows * rs],
            rows,
            cols,
            rs,
            cs: 1,
        }
    }

    pub fn view(&self) -> MatRef<'_, f32> {
        MatRef::from_strided(&self.data, self.rows, self.cols, self.rs, self.cs).expect("valid layout")
    }

    pub fn view_mut(&mut self) -> MatMut<'_, f32> {
        MatMut::from_strided(&mut self.data, self.rows, self.cols, self.rs, self.cs).expect("valid layout")
    }

    pub fn at(&self, i: usize, j: usize) -> f32 {
        self.data[i * self.rs + j * self.cs]
    }
}

/// Asserts |got − want| ≤ tol·scale + 1e-30, NaN only where the reference is NaN.
#[track_caller]
pub fn close(got: f32, want: f64, scale: f64, tol: f64, what: &str) {
    if want.is_nan() {
        assert!(got.is_nan(), "{what}: got {got}, want NaN");
        return;
    }
    if want.is_infinite() || (want.abs() > f32::MAX as f64) {
        assert!(
            got.is_infinite() && (got > 0.0) == (want > 0.0),
            "{what}: got {got}, want {want}"
        );
        return;
    }
    let err = (got as f64 - want).abs();
    // (an exact result passes whatever the scale: a NaN elsewhere in the formula makes the
    // scale NaN, e.g. the identity's gradient dy with y = NaN)
    assert!(
        err == 0.0 || err <= tol * scale + 1e-30,
        "{what}: got {got}, want {want}, scale {scale}"
    );
}

/// Every activation.
pub const ACTS: &[Activation] = &Activation::ALL;

/// σ in f64 without overflow.
fn sig(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// The tanh GELU's gate argument and its derivative.
fn gelu_v(z: f64) -> (f64, f64) {
    let c = 2.0 * (2.0 / std::f64::consts::PI).sqrt();
    (c * (z + 0.044715 * z * z * z), c * (1.0 + 3.0 * 0.044715 * z * z))
}

/// Φ(z) and φ(z), the standard normal's distribution and density (musl's erfc).
fn normal(z: f64) -> (f64, f64) {
    let pdf = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
    (0.5 * libm::erfc(-z / std::f64::consts::SQRT_2), pdf)
}

/// The absolute error scale, beyond the result's own, of evaluating `act` at z: the tanh
/// GELU's gate argument rounds three times, carried to y by z·σ(v)·σ(−v); the exact GELU's
/// reference rounds z/√2, carried to y by z·f′(z).
pub fn act_eval_scale(act: Activation, z: f64) -> f64 {
    match act {
        Activation::Gelu if z.is_finite() => {
            let (cdf, pdf) = normal(z);
            (z * (cdf + z * pdf)).abs()
        }
        Activation::GeluTanh if z.is_finite() => {
            let (v, _) = gelu_v(z);
            (z * v).abs() * sig(v) * sig(-v)
        }
        _ => 0.0,
    }
}

/// What the backward of `act` reads: the input where its derivative needs it, else y.
pub fn saved_of<'a>(act: Activation, m: MatRef<'a, f32>) -> nnkern::Saved<'a, f32> {
    if act.needs_input() {
        nnkern::Saved::Input(m)
    } else {
        nnkern::Saved::Output(m)
    }
}

/// dy·f′ in f64 from what the backward reads (`saved_of`).
pub fn grad_ref(act: Activation, saved: f64, g: f64) -> f64 {
    let yv = saved;
    match act {
        Activation::Identity => g,
        Activation::Sigmoid => g * (yv * (1.0 - yv)),
        Activation::Tanh => g * (1.0 - yv * yv),
        Activation::Relu => {
            if yv <= 0.0 {
                0.0
            } else {
                g
            }
        }
        Activation::LeakyRelu(s) => {
            if yv > 0.0 {
                g
            } else {
                g * s
            }
        }
        Activation::Silu => {
            let z = saved;
            if z.is_infinite() {
                return if z > 0.0 { g } else { 0.0 };
            }
            g * (sig(z) + z * sig(z) * sig(-z))
        }
        Activation::Gelu => {
            let z = saved;
            if z.is_infinite() {
                return if z > 0.0 { g } else { 0.0 };
            }
            let (cdf, pdf) = normal(z);
            g * (cdf + z * pdf)
        }
        Activation::GeluTanh => {
            let z = saved;
            if z.is_infinite() {
                return if z > 0.0 { g } else { 0.0 };
            }
            let z = z.clamp(-1e3, 1e3);
            let (v, dv) = gelu_v(z);
            g * (sig(v) + z * dv * sig(v) * sig(-v))
        }
        other => panic!("no reference for {other:?}: add one here"),
    }
}

/// The activation in f64 (ReLU keeps NaN, as the kernels do).
pub fn act_ref(act: Activation, z: f64) -> f64 {
    match act {
        Activation::Identity => z,
        Activation::Sigmoid => sig(z),
        Activation::LeakyRelu(s) => {
            if z > 0.0 || z.is_nan() {
                z
            } else {
                s * z
            }
        }
        Activation::Silu if z == f64::NEG_INFINITY => -0.0,
        Activation::Silu => z * sig(z),
        Activation::GeluTanh if z.is_infinite() => {
            if z > 0.0 {
                z
            } else {
                -0.0
            }
        }
        Activation::GeluTanh => z * sig(gelu_v(z.clamp(-1e3, 1e3)).0),
        Activation::Gelu if z.is_infinite() => {
            if z > 0.0 {
                z
            } else {
                -0.0
            }
        }
        Activation::Gelu => z * normal(z).0,
        Activation::Tanh => z.tanh(),
        Activation::Relu => {
            if z > 0.0 || z.is_nan() {
                z
            } else {
                0.0
            }
        }
        other => panic!("no reference for {other:?}: add one here"),
    }
}

/// Rayon pools of 1, 2 and 3 threads, made once per process (a pool per input would cost
/// more than most inputs).
fn pools() -> &'static [rayon::ThreadPool; 3] {
    static POOLS: OnceLock<[rayon::ThreadPool; 3]> = OnceLock::new();
    POOLS.get_or_init(|| {
        std::array::from_fn(|i| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(i + 1)
                .build()
                .expect("a rayon pool")
        })
    })
}

/// Runs `f` on a pool of 1, 2 or 3 threads under a SIMD path this CPU supports, both chosen
/// by the input: the results must not depend on either choice of pool (and the kernels must
/// hand the calling thread's path to every worker).
pub fn in_env<R: Send>(inp: &mut Input<'_>, f: impl FnOnce() -> R + Send) -> R {
    let pool = &pools()[inp.byte() as usize % 3];
    let supported: Vec<SimdPath> = SimdPath::ALL.into_iter().filter(|p| p.is_supported()).collect();
    let path = supported[inp.byte() as usize % supported.len()];
    pool.install(|| with_simd_path(path, f).expect("a supported path"))
}

/// Runs `f` once on each of the pools of 1, 2 and 3 threads under one SIMD path chosen by the
/// input, and asserts that the three results are the same (bit for bit, as `f` reports them).
pub fn same_on_every_pool<R: Send + PartialEq + std::fmt::Debug>(
    inp: &mut Input<'_>,
    f: impl Fn() -> R + Sync,
) -> R {
    let supported: Vec<SimdPath> = SimdPath::ALL.into_iter().filter(|p| p.is_supported()).collect();
    let path = supported[inp.byte() as usize % supported.len()];
    let mut runs = pools()
        .iter()
        .map(|pool| pool.install(|| with_simd_path(path, &f).expect("a supported path")));
    let first = runs.next().expect("three pools");
    for (t, r) in runs.enumerate() {
        assert!(r == first, "{path}: {} threads give another result than 1", t + 2);
    }
    first
}

/// A dimension of a broadcast (stride-0) view that is far larger than memory: 2⁴⁴ to 2⁵⁶ rows,
/// or the most a view of `cols` columns may hold.
pub fn huge(inp: &mut Input<'_>, cols: usize) -> usize {
    match inp.byte() % 4 {
        0 => 1 << 44,
        1 => 1 << 50,
        2 => 1 << 56,
        _ => (isize::MAX as usize) / cols.max(1),
    }
}
