//! The spiral data set of *Deep Learning from Scratch 2*, chapter 1 (the examples', the
//! tests' and the benches' data; not part of the kernel API).

use nnkern::Float;
use nnkern::layers::Rng;

/// `classes` arms of `per_class` points in 2-D. Point i of arm j has radius r = i/per_class
/// and angle θ = 4j + 4r + 0.2·N(0, 1); its coordinates are (r·sin θ, r·cos θ).
///
/// Returns (x: row-major (classes·per_class)×2, labels: class index per row), rows grouped by
/// class as in the book.
pub fn spiral<T: Float>(per_class: usize, classes: usize, seed: u64) -> (Vec<T>, Vec<usize>) {
    let rows = per_class * classes;
    let (mut x, mut t) = (Vec::with_capacity(2 * rows), Vec::with_capacity(rows));
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
    (x, t)
}
