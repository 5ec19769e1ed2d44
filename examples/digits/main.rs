//! Handwritten digits with a multilayer perceptron built from nnkern's layers: the UCI
//! Optical Recognition of Handwritten Digits set as scikit-learn ships it (1 797 images of
//! 8×8 pixels, 10 classes; E. Alpaydin and C. Kaynak, UCI Machine Learning Repository, 1998,
//! https://doi.org/10.24432/C50P49, CC BY 4.0), exported once by `export.py` into
//! `digits.bin.z`, split 80/20.
//!
//! A 64→256→128→10 ReLU network (PyTorch's `nn.Linear` initialisation), Adam with lr 10⁻³,
//! batch 32, 30 epochs — the set-up of `digits_torch.py`, the same program in PyTorch. Prints
//! the test accuracy after each epoch and a confusion matrix, and draws the loss and accuracy
//! curves into a PNG.
//!
//! ```text
//! cargo run --release --example digits -- [--epochs N] [--seed S] [--hidden 256,128] [--out digits.png]
//! ```

mod data;
#[path = "../support/mod.rs"]
mod support;

use data::{Digits, WIDTH, load};
use nnkern::layers::Rng;
use nnkern::layers::{Adam, Affine, Init, Sequential, Trainer};
use nnkern::{Activation, AdamParams, MatRef, accuracy, argmax_rows};
use std::process::ExitCode;
use std::time::Instant;
use support::plot::{Canvas, DARK, INK};

struct Config {
    epochs: usize,
    seed: u64,
    hidden: Vec<usize>,
    out: String,
}

fn parse() -> Result<Config, lexopt::Error> {
    use lexopt::prelude::*;
    let mut cfg = Config {
        epochs: 30,
        seed: 0,
        hidden: vec![256, 128],
        out: "digits.png".into(),
    };
    let mut p = lexopt::Parser::from_env();
    while let Some(arg) = p.next()? {
        match arg {
            Long("epochs") => cfg.epochs = p.value()?.parse()?,
            Long("seed") => cfg.seed = p.value()?.parse()?,
            Long("hidden") => {
                cfg.hidden = p
                    .value()?
                    .parse_with(|v| v.split(',').map(str::parse).collect())?
            }
            Long("out") => cfg.out = p.value()?.string()?,
            _ => {
                return Err(
                    format!("{} (flags: --epochs, --seed, --hidden, --out)", arg.unexpected()).into(),
                );
            }
        }
    }
    Ok(cfg)
}

/// What a run produced: per-epoch training loss, training and test accuracy, and its time.
#[derive(Default)]
struct Run {
    loss: Vec<f64>,
    train_acc: Vec<f64>,
    test_acc: Vec<f64>,
    seconds: f64,
}

/// Builds the MLP and trains it, evaluating after every epoch.
fn train(data: &Digits, cfg: &Config, show: bool) -> nnkern::Result<(Run, Sequential<f32>)> {
    let [(xtr, ttr), (xte, tte)] = data.split()?;
    let mut rng = Rng::new(cfg.seed);
    let (mut net, mut width) = (Sequential::new(), WIDTH);
    for &h in &cfg.hidden {
        let layer = Affine::init(width, h, Activation::Relu, Init::TorchLinear, &mut rng)?;
        (net, width) = (net.push(layer), h);
    }
    let out = Affine::init(width, 10, Activation::Identity, Init::TorchLinear, &mut rng)?;
    net = net.push(out);
    // Adam's defaults are PyTorch's: lr 0.001, betas (0.9, 0.999), eps 1e-8
    let mut trainer = Trainer::new(32, Adam::new(AdamParams::default()), rng)?;
    let (mut run, start) = (Run::default(), Instant::now());
    let bar = show.then(|| support::Progress::new(cfg.epochs));
    trainer.fit(&mut net, xtr, ttr, cfg.epochs, |net, _, epoch, loss| {
        run.loss.push(f64::from(loss));
        run.train_acc.push(accuracy(net.predict(xtr)?, ttr)?);
        run.test_acc.push(accuracy(net.predict(xte)?, tte)?);
        if let Some(bar) = &bar {
            let acc = format!(" test accuracy {:.4}", run.test_acc[epoch]);
            bar.epoch(epoch + 1, f64::from(loss), &acc);
        }
        Ok(())
    })?;
    run.seconds = start.elapsed().as_secs_f64();
    if let Some(bar) = bar {
        bar.finish();
    }
    Ok((run, net))
}

fn main() -> ExitCode {
    match parse()
        .map_err(|e| e.to_string())
        .and_then(|cfg| run(&cfg).map_err(|e| e.to_string()))
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("digits: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cfg: &Config) -> Result<(), Box<dyn std::error::Error>> {
    let data = load()?;
    let n = data.t.len();
    println!(
        "digits: {n} images 8×8, {} for training, {} for testing; MLP 64→{}→10 (ReLU), Adam lr 0.001, batch 32, {} epochs",
        data.train,
        n - data.train,
        cfg.hidden
            .iter()
            .map(|h| h.to_string())
            .collect::<Vec<_>>()
            .join("→"),
        cfg.epochs
    );
    let (run, mut net) = train(&data, cfg, true)?;
    for e in (0..cfg.epochs).filter(|e| e % 5 == 4 || *e == 0) {
        println!(
            "| epoch {:3} | loss {:.4} | train accuracy {:.4} | test accuracy {:.4}",
            e + 1,
            run.loss[e],
            run.train_acc[e],
            run.test_acc[e]
        );
    }
    let test_acc = run.test_acc.last().copied().unwrap_or(f64::NAN);
    println!(
        "trained in {:.2} s (with an evaluation of both sets after each epoch)",
        run.seconds
    );
    println!("test accuracy {test_acc:.4}");

    // confusion matrix on the test set: rows are the true digits, columns the predictions
    let n_test = n - data.train;
    let scores = net.predict(MatRef::from_row_major(
        &data.x[data.train * WIDTH..],
        n_test,
        WIDTH,
    )?)?;
    let mut pred = vec![0; n_test];
    argmax_rows(scores, &mut pred)?;
    let mut conf = [[0usize; 10]; 10];
    for (&p, &t) in pred.iter().zip(&data.t[data.train..]) {
        conf[t][p] += 1;
    }
    println!("confusion matrix (test set; row: true digit, column: predicted)");
    println!("     {}", (0..10).map(|j| format!("{j:4}")).collect::<String>());
    for (i, row) in conf.iter().enumerate() {
        println!(
            "  {i}: {}",
            row.iter().map(|c| format!("{c:4}")).collect::<String>()
        );
    }

    let mut c = Canvas::new(960, 520, [255, 255, 255]);
    let title = "HANDWRITTEN DIGITS: MLP TRAINED WITH NNKERN";
    c.text((960 - Canvas::text_width(title, 3)) / 2, 14, title, 3, INK);
    let top = run.loss.iter().copied().fold(0.0, f64::max).max(1e-9) * 1.05;
    c.chart((80, 80, 360, 340), &[(&run.loss, DARK[2])], top, "TRAINING LOSS");
    let accs = [(&run.train_acc[..], DARK[1]), (&run.test_acc[..], DARK[0])];
    c.chart((540, 80, 360, 340), &accs, 1.0, "ACCURACY: GREEN TRAIN, RED TEST");
    let summary = format!(
        "TEST ACCURACY {:.1}%   {} EPOCHS, BATCH 32, ADAM LR 0.001",
        test_acc * 100.0,
        cfg.epochs
    );
    c.text((960 - Canvas::text_width(&summary, 2)) / 2, 480, &summary, 2, INK);
    c.write_png(std::path::Path::new(&cfg.out))?;
    println!("wrote {}", cfg.out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example's own run reaches the accuracy PyTorch reaches with the same set-up
    /// (0.969–0.980 over seeds): at least 0.96 on the test set after 30 epochs.
    #[test]
    fn reaches_96_percent_test_accuracy() {
        let data = load().unwrap();
        let cfg = Config {
            epochs: 30,
            seed: 0,
            hidden: vec![256, 128],
            out: String::new(),
        };
        let (run, _) = train(&data, &cfg, false).unwrap();
        let acc = *run.test_acc.last().unwrap();
        assert!(acc >= 0.96, "test accuracy {acc}");
        assert!(run.loss[29] < run.loss[0] / 10.0, "loss {:?}", run.loss);
    }
}
