//! The digits data set of `export.py` (shared with the digits bench).

use nnkern::MatRef;

/// The data set: pixels scaled to [0, 1] (N×64, row-major) and labels, the first 80% for
/// training.
pub struct Digits {
    pub x: Vec<f32>,
    pub t: Vec<usize>,
    pub train: usize,
}

/// Pixels per image (8×8).
pub const WIDTH: usize = 64;

impl Digits {
    /// (x, labels) of the training set, then of the test set.
    pub fn split(&self) -> nnkern::Result<[(MatRef<'_, f32>, &[usize]); 2]> {
        let (n, k) = (self.t.len(), self.train);
        let (xtr, xte) = self.x.split_at(k * WIDTH);
        Ok([
            (MatRef::from_row_major(xtr, k, WIDTH)?, &self.t[..k]),
            (MatRef::from_row_major(xte, n - k, WIDTH)?, &self.t[k..]),
        ])
    }
}

/// Reads `digits.bin.z` (compiled into the binary), checking its format.
pub fn load() -> Result<Digits, String> {
    let raw = miniz_oxide::inflate::decompress_to_vec_zlib(include_bytes!("digits.bin.z"))
        .map_err(|e| format!("digits.bin.z: {e:?}"))?;
    let word = |at: usize| u32::from_le_bytes([raw[at], raw[at + 1], raw[at + 2], raw[at + 3]]) as usize;
    if raw.len() < 12 || &raw[..4] != b"NNKD" || word(8) != WIDTH || raw.len() != 12 + word(4) * (WIDTH + 1) {
        return Err("digits.bin.z: not the export.py format".into());
    }
    let n = word(4);
    let x = raw[12..12 + n * WIDTH]
        .iter()
        .map(|&p| f32::from(p) / 16.0)
        .collect();
    let t = raw[12 + n * WIDTH..].iter().map(|&c| usize::from(c)).collect();
    Ok(Digits {
        x,
        t,
        train: n * 4 / 5,
    })
}
