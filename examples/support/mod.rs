//! What the examples share: the picture (`plot`), the spiral data (`spiral`) and a progress
//! bar. (Each example uses part of it.)
#![allow(dead_code)]

pub mod plot;
pub mod spiral;

use indicatif::{ProgressBar, ProgressStyle};

/// An epoch progress bar on stderr (`[####....] epoch 3/30 loss 0.1234 …`), drawn only when
/// stderr is a terminal.
pub struct Progress(ProgressBar);

impl Progress {
    pub fn new(epochs: usize) -> Self {
        let bar = ProgressBar::new(epochs as u64);
        let style = ProgressStyle::with_template("[{bar:30}] epoch {pos}/{len} {msg}")
            .expect("a valid template")
            .progress_chars("##.");
        bar.set_style(style);
        Progress(bar)
    }

    /// Shows `epoch` done, with its loss and `extra` after it.
    pub fn epoch(&self, epoch: usize, loss: f64, extra: &str) {
        self.0.set_position(epoch as u64);
        self.0.set_message(format!("loss {loss:.4}{extra}"));
    }

    /// Prints a line above the bar.
    pub fn println(&self, line: impl AsRef<str>) {
        if self.0.is_hidden() {
            println!("{}", line.as_ref());
        } else {
            self.0.println(line);
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}
