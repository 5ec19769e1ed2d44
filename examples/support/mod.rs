//! What the examples share: the picture (`plot`) and a progress bar. (Each example uses part
//! of it.)
#![allow(dead_code)]

pub mod plot;

use std::io::Write;

/// Redraws a one-line progress bar on stderr: `[####....] epoch 3/30 loss 0.1234` plus `extra`.
pub fn progress(epoch: usize, epochs: usize, loss: f64, extra: &str) {
    let width = 30;
    let done = epoch * width / epochs.max(1);
    let bar: String = (0..width).map(|i| if i < done { '#' } else { '.' }).collect();
    let mut err = std::io::stderr();
    let _ = write!(err, "\r[{bar}] epoch {epoch}/{epochs} loss {loss:.4}{extra}");
    let _ = err.flush();
}

/// Clears the progress bar's line.
pub fn clear_progress() {
    eprint!("\r\x1b[K");
}
