//! The book's spiral data set and a small seeded random number generator.

use crate::error::{Error, ErrorKind, Result};
use crate::float::Float;
use crate::ops::reserve;

/// A small, fast, seeded generator (SplitMix64) for weight initialisation, shuffling and
/// synthetic data. Not for cryptography.
///
/// # Example
///
/// ```
/// let mut a = nnkern::data::Rng::new(7);
/// let mut b = nnkern::data::Rng::new(7);
/// assert_eq!(a.next_u64(), b.next_u64());
/// assert!((0.0..1.0).contains(&a.uniform()));
/// ```
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose whole sequence is determined by `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal N(0, 1) (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // in (0, 1]
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Uniform in 0..n (n > 0; 0 for n = 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            ((self.next_u64() as u128 * n as u128) >> 64) as usize
        }
    }

    /// Shuffles `v` in place (Fisher–Yates).
    pub fn shuffle<X>(&mut self, v: &mut [X]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

/// The spiral data set of *Deep Learning from Scratch 2*, chapter 1: `classes` arms of
/// `per_class` points in 2-D. Point i of arm j has radius r = i/per_class and angle
/// θ = 4j + 4r + 0.2·N(0, 1); its coordinates are (r·sin θ, r·cos θ).
///
/// Returns (x: row-major (classes·per_class)×2, labels: class index per row), rows grouped by
/// class as in the book.
///
/// # Errors
///
/// [`ErrorKind::Overflow`] naming `per_class` if classes·per_class·2 overflows `usize`;
/// [`ErrorKind::Alloc`] naming `per_class` if the data cannot be allocated.
///
/// # Example
///
/// ```
/// let (x, t) = nnkern::data::spiral::<f32>(100, 3, 1)?;
/// assert_eq!((x.len(), t.len()), (600, 300));
/// assert_eq!((t[0], t[299]), (0, 2));
/// # Ok::<(), nnkern::Error>(())
/// ```
pub fn spiral<T: Float>(per_class: usize, classes: usize, seed: u64) -> Result<(Vec<T>, Vec<usize>)> {
    const OP: &str = "spiral";
    let rows = per_class.checked_mul(classes);
    let Some((rows, elems)) = rows.and_then(|r| Some((r, r.checked_mul(2)?))) else {
        return Err(Error::new(
            OP,
            "per_class",
            ErrorKind::Overflow,
            format!("× classes × 2 = {per_class}×{classes}×2 overflows usize"),
        ));
    };
    let (mut x, mut t) = (Vec::new(), Vec::new());
    reserve(OP, "per_class", &mut x, elems)?;
    reserve(OP, "per_class", &mut t, rows)?;
    let mut rng = Rng::new(seed);
    for j in 0..classes {
        for i in 0..per_class {
            let rate = i as f64 / per_class as f64;
            let theta = j as f64 * 4.0 + 4.0 * rate + rng.normal() * 0.2;
            x.push(T::from_f64(rate * theta.sin()));
            x.push(T::from_f64(rate * theta.cos()));
            t.push(j);
        }
    }
    Ok((x, t))
}
