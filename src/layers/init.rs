//! Named weight initialisations for [`Affine`](super::Affine).

use super::Rng;
use crate::error::{Error, ErrorKind, Result};
use crate::float::Float;
use crate::ops::reserve;

/// How [`Affine::init`](super::Affine::init) draws a D→H layer's weights W (D×H) and bias b
/// (fan-in D, fan-out H), with the formulas of PyTorch's `torch.nn.init`.
///
/// | scheme | W | b |
/// |---|---|---|
/// | `Normal { std }` (the book's, `std` = 0.01) | N(0, std²) | 0 |
/// | `HeNormal` (`kaiming_normal_`, gain √2: ReLU) | N(0, 2/D) | 0 |
/// | `HeUniform` (`kaiming_uniform_`, gain √2) | U(±√(6/D)) | 0 |
/// | `XavierNormal` (`xavier_normal_`) | N(0, 2/(D+H)) | 0 |
/// | `XavierUniform` (`xavier_uniform_`) | U(±√(6/(D+H))) | 0 |
/// | `TorchLinear` (`nn.Linear`'s default) | U(±1/√D) | U(±1/√D) |
///
/// Draws come from the caller's seeded [`Rng`]: the same seed gives the same layer.
///
/// # Example
///
/// ```
/// use nnkern::layers::{Affine, Init, Layer};
/// use nnkern::{Activation, layers::Rng};
///
/// let l = Affine::<f64>::init(100, 10, Activation::Identity, Init::TorchLinear, &mut Rng::new(3))?;
/// assert!(l.params().iter().flat_map(|p| p.iter()).all(|w| w.abs() <= 0.1));
/// # Ok::<(), nnkern::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Init {
    /// W ~ N(0, std²), b = 0 (the book uses std = 0.01).
    Normal {
        /// The standard deviation (finite, ≥ 0).
        std: f64,
    },
    /// He/Kaiming normal for ReLU: W ~ N(0, 2/D), b = 0.
    HeNormal,
    /// He/Kaiming uniform for ReLU: W ~ U(−√(6/D), √(6/D)), b = 0.
    HeUniform,
    /// Xavier/Glorot normal: W ~ N(0, 2/(D+H)), b = 0.
    XavierNormal,
    /// Xavier/Glorot uniform: W ~ U(±√(6/(D+H))), b = 0.
    XavierUniform,
    /// PyTorch's `nn.Linear` default: W and b ~ U(−1/√D, 1/√D).
    TorchLinear,
}

impl Default for Init {
    /// The book's: `Normal { std: 0.01 }`.
    fn default() -> Self {
        Init::Normal { std: 0.01 }
    }
}

/// A distribution to draw from: N(0, σ²), U(−a, a), or the constant 0.
#[derive(Clone, Copy)]
enum Dist {
    Normal(f64),
    Uniform(f64),
    Zero,
}

impl Dist {
    fn sample(self, rng: &mut Rng) -> f64 {
        match self {
            Dist::Normal(s) => s * rng.normal(),
            Dist::Uniform(a) => a * (2.0 * rng.uniform() - 1.0),
            Dist::Zero => 0.0,
        }
    }
}

impl Init {
    /// The distributions of W and b for fan-in `d` and fan-out `h` (a fan of 0 counts as 1, as
    /// the draws then fill nothing or a bias alone).
    fn dists(self, d: usize, h: usize) -> (Dist, Dist) {
        let fan_in = d.max(1) as f64;
        let fans = (d + h).max(1) as f64;
        match self {
            Init::Normal { std } => (Dist::Normal(std), Dist::Zero),
            Init::HeNormal => (Dist::Normal((2.0 / fan_in).sqrt()), Dist::Zero),
            Init::HeUniform => (Dist::Uniform((6.0 / fan_in).sqrt()), Dist::Zero),
            Init::XavierNormal => (Dist::Normal((2.0 / fans).sqrt()), Dist::Zero),
            Init::XavierUniform => (Dist::Uniform((6.0 / fans).sqrt()), Dist::Zero),
            Init::TorchLinear => {
                let a = 1.0 / fan_in.sqrt();
                (Dist::Uniform(a), Dist::Uniform(a))
            }
        }
    }

    /// W (D×H, row-major) then b (H), drawn in that order from `rng`.
    pub(crate) fn draw<T: Float>(
        self,
        op: &'static str,
        d: usize,
        h: usize,
        rng: &mut Rng,
    ) -> Result<(Vec<T>, Vec<T>)> {
        if let Init::Normal { std } = self
            && !(std >= 0.0 && std.is_finite())
        {
            return Err(Error::new(
                op,
                "init",
                ErrorKind::Value,
                format!("has std {std} but a standard deviation must be finite and ≥ 0"),
            ));
        }
        let Some(n) = d.checked_mul(h) else {
            return Err(Error::new(
                op,
                "h",
                ErrorKind::Overflow,
                format!("× d = {h}×{d} weights overflows usize"),
            ));
        };
        let (dw, db) = self.dists(d, h);
        let (mut w, mut b) = (Vec::new(), Vec::new());
        reserve(op, "d", &mut w, n)?;
        reserve(op, "h", &mut b, h)?;
        w.extend((0..n).map(|_| T::from_f64(dw.sample(rng))));
        b.extend((0..h).map(|_| T::from_f64(db.sample(rng))));
        Ok((w, b))
    }
}
