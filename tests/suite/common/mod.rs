//! Shared test support: a seeded RNG, operand layouts, naive f64 reference kernels and the
//! one place where tolerances are defined (`tol`).
#![allow(dead_code)]

pub mod checks;
pub mod counting;
pub mod dd;
pub mod reference;
#[path = "../../../examples/support/spiral.rs"]
pub mod spiral;
pub mod tol;

use nnkern::{Float, MatMut, MatRef};

/// The crate's seeded generator (SplitMix64) with the helpers the tests need.
pub struct Rng(nnkern::layers::Rng);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(nnkern::layers::Rng::new(seed))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        self.0.uniform()
    }
    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }
    /// Standard normal.
    pub fn normal(&mut self) -> f64 {
        self.0.normal()
    }
    pub fn below(&mut self, n: usize) -> usize {
        self.0.below(n)
    }
    /// `len` values uniform in [lo, hi), rounded to T and returned as f64 (so the reference
    /// sees exactly the values the kernel sees).
    pub fn values<T: Float>(&mut self, len: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..len)
            .map(|_| T::from_f64(self.range(lo, hi)).to_f64())
            .collect()
    }
}

/// How a test operand is laid out in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Row-major, no padding.
    Contiguous,
    /// Row-major with 3 elements of NaN padding after each row (row stride cols + 3).
    Strided,
    /// Stored as the row-major transpose and viewed through `.t()` (column-major).
    Transposed,
}

pub const LAYOUTS: [Layout; 3] = [Layout::Contiguous, Layout::Strided, Layout::Transposed];

/// A rows×cols matrix stored in a given layout.
pub struct Stored<T> {
    pub data: Vec<T>,
    pub rows: usize,
    pub cols: usize,
    pub layout: Layout,
}

impl<T: Float> Stored<T> {
    /// Stores the row-major values `v` (rows×cols) in `layout`; padding holds NaN.
    pub fn new(v: &[f64], rows: usize, cols: usize, layout: Layout) -> Self {
        assert_eq!(v.len(), rows * cols);
        let data = match layout {
            Layout::Contiguous => v.iter().map(|&x| T::from_f64(x)).collect(),
            Layout::Strided => {
                let rs = cols + 3;
                let mut d = vec![T::NAN; rows * rs];
                for i in 0..rows {
                    for j in 0..cols {
                        d[i * rs + j] = T::from_f64(v[i * cols + j]);
                    }
                }
                d
            }
            Layout::Transposed => {
                let mut d = vec![T::NAN; rows * cols];
                for i in 0..rows {
                    for j in 0..cols {
                        d[j * rows + i] = T::from_f64(v[i * cols + j]);
                    }
                }
                d
            }
        };
        Stored {
            data,
            rows,
            cols,
            layout,
        }
    }

    /// An output buffer in `layout`, every element (padding too) NaN, to prove `Replace`
    /// outputs are never read.
    pub fn nan(rows: usize, cols: usize, layout: Layout) -> Self {
        let len = match layout {
            Layout::Strided => rows * (cols + 3),
            _ => rows * cols,
        };
        Stored {
            data: vec![T::NAN; len],
            rows,
            cols,
            layout,
        }
    }

    /// An output buffer holding `v` (for `Accum::Add`).
    pub fn filled(v: &[f64], rows: usize, cols: usize, layout: Layout) -> Self {
        Self::new(v, rows, cols, layout)
    }

    fn strides(&self) -> (usize, usize) {
        match self.layout {
            Layout::Contiguous => (self.cols, 1),
            Layout::Strided => (self.cols + 3, 1),
            Layout::Transposed => (1, self.rows),
        }
    }

    pub fn view(&self) -> MatRef<'_, T> {
        let (rs, cs) = self.strides();
        MatRef::from_strided(&self.data, self.rows, self.cols, rs, cs).unwrap()
    }

    pub fn view_mut(&mut self) -> MatMut<'_, T> {
        let (rs, cs) = self.strides();
        MatMut::from_strided(&mut self.data, self.rows, self.cols, rs, cs).unwrap()
    }

    /// The logical values, row-major, as f64.
    pub fn values(&self) -> Vec<f64> {
        let (rs, cs) = self.strides();
        let mut out = Vec::with_capacity(self.rows * self.cols);
        for i in 0..self.rows {
            for j in 0..self.cols {
                out.push(self.data[i * rs + j * cs].to_f64());
            }
        }
        out
    }

    /// True when every padding element is still NaN (nothing was written outside the view).
    pub fn padding_untouched(&self) -> bool {
        if self.layout != Layout::Strided {
            return true;
        }
        let rs = self.cols + 3;
        (0..self.rows).all(|i| (self.cols..rs).all(|j| self.data[i * rs + j].is_nan()))
    }
}

/// Shapes on and around block edges, as the crate's issues ask.
pub const SWEEP: [usize; 10] = [0, 1, 2, 3, 15, 16, 17, 127, 128, 129];

/// The sweep without 0 (row kernels need at least one column).
pub const SWEEP_NONZERO: [usize; 9] = [1, 2, 3, 15, 16, 17, 127, 128, 129];

/// Runs `f` once on every SIMD path this CPU supports (a thread-local choice, so tests
/// running in parallel do not disturb each other).
pub fn each_path(f: impl Fn()) {
    for path in nnkern::SimdPath::ALL {
        if path.is_supported() {
            nnkern::with_simd_path(path, &f).unwrap();
        }
    }
}

/// Runs a generic test body for f32 and f64, each on every supported SIMD path.
#[macro_export]
macro_rules! both_types {
    ($name:ident, $body:ident) => {
        mod $name {
            #[test]
            fn f32() {
                $crate::common::each_path(super::$body::<f32>);
            }
            #[test]
            fn f64() {
                $crate::common::each_path(super::$body::<f64>);
            }
        }
    };
}
