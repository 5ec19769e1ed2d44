//! Trains the book's two-layer net on the spiral data set and draws what it learned.
//!
//! Run: `cargo run --release --example spiral` (add `-- --help` for the flags).
//!
//! Affine 2→10 + Sigmoid, Affine 10→3, Softmax-with-Loss; weights 0.01·N(0, 1), biases 0;
//! SGD with learning rate 1.0, batches of 30, 300 epochs, the data shuffled every epoch.
//! Writes `spiral.png`: the decision regions with the training points, and the loss curve.

#[path = "../support/mod.rs"]
mod support;

use nnkern::layers::Rng;
use nnkern::layers::{Sgd, Trainer, TwoLayerNet};
use nnkern::{Float, MatRef};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use support::Progress;
use support::plot::{Canvas, DARK, GRID, INK, LIGHT};

const USAGE: &str =
    "usage: spiral [--epochs N] [--hidden N] [--lr X] [--batch N] [--seed N] [--out PATH] [--dtype f32|f64]

Trains the two-layer net of Deep Learning from Scratch 2, chapter 1, on the spiral data set.

  --epochs N      passes over the data (default 300)
  --hidden N      hidden units (default 10)
  --lr X          SGD learning rate (default 1.0)
  --batch N       minibatch size (default 30)
  --seed N        seed of the data, the weights and the shuffling (default 1984)
  --out PATH      picture to write (default spiral.png)
  --dtype T       f32 or f64 (default f32)";

#[derive(Debug)]
struct Config {
    epochs: usize,
    hidden: usize,
    lr: f64,
    batch: usize,
    seed: u64,
    out: PathBuf,
    f64: bool,
}

/// The flags (`None` for `--help`).
fn parse() -> Result<Option<Config>, lexopt::Error> {
    use lexopt::prelude::*;
    let mut c = Config {
        epochs: 300,
        hidden: 10,
        lr: 1.0,
        batch: 30,
        seed: 1984,
        out: PathBuf::from("spiral.png"),
        f64: false,
    };
    let positive = |v: usize, flag: &str| {
        if v > 0 {
            Ok(v)
        } else {
            Err(lexopt::Error::from(format!(
                "--{flag} takes a positive integer, got 0"
            )))
        }
    };
    let mut p = lexopt::Parser::from_env();
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => return Ok(None),
            Long("epochs") => c.epochs = positive(p.value()?.parse()?, "epochs")?,
            Long("hidden") => c.hidden = positive(p.value()?.parse()?, "hidden")?,
            Long("batch") => c.batch = positive(p.value()?.parse()?, "batch")?,
            Long("lr") => {
                c.lr = p.value()?.parse()?;
                if !(c.lr.is_finite() && c.lr > 0.0) {
                    return Err(format!("--lr takes a positive number, got {}", c.lr).into());
                }
            }
            Long("seed") => c.seed = p.value()?.parse()?,
            Long("out") => c.out = p.value()?.into(),
            Long("dtype") => {
                c.f64 = match p.value()?.string()?.as_str() {
                    "f32" => false,
                    "f64" => true,
                    other => return Err(format!("--dtype takes f32 or f64, got {other:?}").into()),
                }
            }
            _ => return Err(arg.unexpected()),
        }
    }
    Ok(Some(c))
}

fn main() -> ExitCode {
    let cfg = match parse() {
        Ok(Some(c)) => c,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("spiral: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = if cfg.f64 {
        run::<f64>(&cfg)
    } else {
        run::<f32>(&cfg)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("spiral: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run<T: Float>(cfg: &Config) -> Result<(), Box<dyn std::error::Error>> {
    let (per_class, classes) = (100, 3);
    let (x, t) = support::spiral::spiral::<T>(per_class, classes, cfg.seed);
    let n = t.len();
    let mut rng = Rng::new(cfg.seed.wrapping_add(1));
    let mut net = TwoLayerNet::<T>::new(2, cfg.hidden, classes, &mut rng);
    let sgd = Sgd::new(T::from_f64(cfg.lr));
    let iters = n.div_ceil(cfg.batch);
    println!(
        "spiral: {n} points, {classes} classes; net 2→{}→{classes} ({}); SGD lr {}, batch {}, {} epochs × {iters} steps",
        cfg.hidden,
        T::NAME,
        cfg.lr,
        cfg.batch,
        cfg.epochs
    );

    let mut trainer = Trainer::new(cfg.batch, sgd, rng)?;
    let xv = MatRef::from_row_major(&x, n, 2)?;
    let mut curve = Vec::with_capacity(cfg.epochs);
    let mut busy = Duration::ZERO;
    let report_every = (cfg.epochs / 15).max(1);
    let bar = Progress::new(cfg.epochs);
    for epoch in 1..=cfg.epochs {
        let start = Instant::now();
        let avg = trainer.epoch(&mut net, xv, &t)?.to_f64();
        busy += start.elapsed();
        curve.push(avg);
        bar.epoch(epoch, avg, "");
        if epoch % report_every == 0 || epoch == 1 {
            bar.println(format!("| epoch {epoch:4} | loss {avg:.4}"));
        }
    }
    bar.finish();
    let steps = cfg.epochs * iters;
    println!(
        "trained in {:.2} ms ({} steps, {:.2} µs per step)",
        busy.as_secs_f64() * 1e3,
        steps,
        busy.as_secs_f64() * 1e6 / steps as f64
    );

    // accuracy on the training set, and the picture
    let accuracy = nnkern::accuracy(net.predict(xv)?, &t)?;
    let final_loss = *curve.last().unwrap_or(&f64::NAN);
    draw(cfg, &mut net, &x, &t, &curve, final_loss, accuracy)?;
    println!("wrote {}", cfg.out.display());
    println!("final loss {final_loss:.4}, training accuracy {accuracy:.4}");
    Ok(())
}

fn draw<T: Float>(
    cfg: &Config,
    net: &mut TwoLayerNet<T>,
    x: &[T],
    t: &[usize],
    curve: &[f64],
    final_loss: f64,
    accuracy: f64,
) -> Result<(), Box<dyn std::error::Error>> {
    let (w, h) = (960, 580);
    let mut c = Canvas::new(w, h, [255, 255, 255]);
    let title = "SPIRAL DATA: TWO-LAYER NET TRAINED WITH NNKERN";
    c.text((w as i64 - Canvas::text_width(title, 3)) / 2, 14, title, 3, INK);

    // left: decision regions over [-1.2, 1.2]², one prediction per pixel
    let (px, py, side) = (50_i64, 80_i64, 400_usize);
    let lim = 1.2;
    let to_world = |p: usize| -lim + 2.0 * lim * (p as f64 + 0.5) / side as f64;
    let grid: Vec<T> = (0..side * side)
        .flat_map(|k| [T::from_f64(to_world(k % side)), T::from_f64(-to_world(k / side))])
        .collect();
    let scores = net.predict(MatRef::from_row_major(&grid, side * side, 2)?)?;
    let mut class = vec![0; side * side];
    nnkern::argmax_rows(scores, &mut class)?;
    for (k, &cl) in class.iter().enumerate() {
        c.set(px + (k % side) as i64, py + (k / side) as i64, LIGHT[cl % 3]);
    }
    for (i, &ti) in t.iter().enumerate() {
        let to_px = |v: f64| (v + lim) / (2.0 * lim) * side as f64;
        let (sx, sy) = (
            px as f64 + to_px(x[2 * i].to_f64()),
            py as f64 + to_px(-x[2 * i + 1].to_f64()),
        );
        c.disc(sx, sy, 4.5, INK);
        c.disc(sx, sy, 3.5, DARK[ti % 3]);
    }
    frame(&mut c, px, py, side as i64);
    c.text(px, py - 22, "DECISION REGIONS AND DATA", 2, INK);
    for (v, label) in [(-1.0, "-1"), (0.0, "0"), (1.0, "1")] {
        let at = ((v + lim) / (2.0 * lim) * side as f64) as i64;
        c.text(
            px + at - Canvas::text_width(label, 2) / 2,
            py + side as i64 + 8,
            label,
            2,
            INK,
        );
        c.text(
            px - 10 - Canvas::text_width(label, 2),
            py + side as i64 - at - 7,
            label,
            2,
            INK,
        );
    }

    // right: the loss curve
    let top = curve.iter().cloned().fold(0.0_f64, f64::max).max(1e-9) * 1.05;
    c.chart(
        (560, 80, 360, 400),
        &[(curve, DARK[2])],
        top,
        "TRAINING LOSS (MEAN PER EPOCH)",
    );
    let summary = format!(
        "FINAL LOSS {final_loss:.3}   ACCURACY {:.1}%   {} EPOCHS, BATCH {}, LR {}, {}",
        accuracy * 100.0,
        cfg.epochs,
        cfg.batch,
        cfg.lr,
        T::NAME
    );
    c.text(
        (w as i64 - Canvas::text_width(&summary, 2)) / 2,
        h as i64 - 30,
        &summary,
        2,
        INK,
    );
    c.write_png(&cfg.out)?;
    Ok(())
}

/// The left and bottom axes of a panel (and its other two edges, lighter).
fn frame(c: &mut Canvas, x: i64, y: i64, side: i64) {
    c.rect(x, y, 2, side, INK);
    c.rect(x, y + side, side, 2, INK);
    c.rect(x + side, y, 1, side, GRID);
    c.rect(x, y, side, 1, GRID);
}
