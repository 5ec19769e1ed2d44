//! Cross-entropy on probabilities, softmax-cross-entropy (forward with saved log-sum-exp,
//! backward, fused) with arbitrary options, and binary cross-entropy on logits with weights
//! and pos_weight, on arbitrary shapes, labels and values: never a panic; the fused kernels
//! agree with the split ones bit for bit, and moderate inputs match an f64 reference.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nnkern::*;
use nnkern_fuzz::{Input, Stored, close, huge, in_env};

fuzz_target!(|bytes: &[u8]| {
    let mut inp = Input::new(bytes);
    let case = inp.byte() % 4;
    // the last two bytes choose the pool and the SIMD path
    let mut env = Input::new(&bytes[bytes.len().saturating_sub(2)..]);
    in_env(&mut env, || match case {
        0 => sce(&mut inp),
        1 => bce(&mut inp),
        2 => ce(&mut inp),
        _ => hostile(&mut inp),
    });
});

const REDS: [Reduction; 3] = [Reduction::Mean, Reduction::Sum, Reduction::None];

fn shape(inp: &mut Input<'_>) -> (usize, usize) {
    if inp.byte() % 8 == 0 {
        (inp.dim(255) * 4, inp.dim(255) * 4)
    } else {
        (inp.dim(12), inp.dim(24))
    }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn sce(inp: &mut Input<'_>) {
    let (n, c) = shape(inp);
    let moderate = inp.flag();
    let x = Stored::new(inp, n, c, moderate);
    let red = REDS[inp.byte() as usize % 3];
    let probs = inp.byte() % 3 == 0;
    let labels: Vec<usize> = (0..n).map(|_| inp.dim(c + 1)).collect();
    let q = Stored::new(inp, n, c, true);
    let weight: Vec<f32> = (0..if inp.flag() { c } else { inp.dim(3) })
        .map(|_| inp.value())
        .collect();
    let use_weight = inp.flag();
    let ignore = if inp.flag() { Some(inp.dim(c + 2)) } else { None };
    let eps = match inp.byte() % 4 {
        0 => 0.0,
        1 => 0.1,
        2 => inp.value(),
        _ => 1.0,
    };
    let opts = CrossEntropyOptions::default().reduction(red).weight(if use_weight { Some(&weight) } else { None }).ignore_index(ignore).label_smoothing(eps);
    let targets = if probs {
        Targets::Probs(q.view())
    } else {
        Targets::Classes(&labels)
    };
    let len = if red == Reduction::None { n } else { 1 };
    let (mut loss, mut lse) = (vec![f32::NAN; len], vec![f32::NAN; n]);
    let r = softmax_cross_entropy_forward(x.view(), targets, &opts, &mut loss, Some(&mut lse));
    let Ok(()) = r else {
        // rejected: no output written
        assert!(loss.iter().all(|v| v.is_nan()) && lse.iter().all(|v| v.is_nan()));
        return;
    };
    let dl: Vec<f32> = (0..len).map(|_| inp.moderate()).collect();
    let mut g = Stored::out(inp, n, c);
    softmax_cross_entropy_backward(x.view(), &lse, targets, &opts, &dl, g.view_mut()).unwrap();
    let (mut loss2, mut g2) = (vec![f32::NAN; len], Stored::out(inp, n, c));
    g2.rs = g.rs;
    g2.data = vec![f32::NAN; g.data.len()];
    softmax_cross_entropy(x.view(), targets, &opts, &dl, &mut loss2, g2.view_mut()).unwrap();
    // The forward and the fused kernel sum the exponentials in different orders, so their
    // log-sum-exps differ by a few ulps. With class targets (weights ≥ 0) every row's loss is
    // a sum of non-negative terms: the two agree to a few ulps of the loss. Probability
    // "targets" may be anything PyTorch accepts, negative too, and then the row's C terms
    // q·(lse − s) cancel: the bound is C·u of Σ|q|·(|s| + |lse|).
    let wmax = if use_weight {
        weight.iter().fold(1.0_f64, |m, v| m.max(v.abs() as f64))
    } else {
        1.0
    };
    let row_scale = |i: usize| -> f64 {
        if !probs {
            return 0.0;
        }
        let l = (lse[i].abs() as f64).min(1e30);
        wmax * (0..c)
            .map(|j| (q.at(i, j).abs() as f64 + eps.abs() as f64) * ((x.at(i, j).abs() as f64).min(1e30) + l))
            .sum::<f64>()
    };
    for (k, (&a, &b)) in loss.iter().zip(&loss2).enumerate() {
        let spread = match red {
            Reduction::None => row_scale(k),
            Reduction::Sum => (0..n).map(row_scale).sum(),
            Reduction::Mean => (0..n).map(row_scale).sum::<f64>() / n.max(1) as f64,
            other => panic!("no reference for {other:?}: add one here"),
        };
        close(
            a,
            b as f64,
            b.abs() as f64 + spread,
            (c + 8) as f64 * 6e-8,
            "fused loss vs forward loss",
        );
    }
    // The fused gradient uses the exponentials it just computed, the split one recomputes
    // p = e^(s − lse) from the saved, rounded log-sum-exp; p·B − w·q′ then scales their
    // difference (C·u of p, from the C-term sums and |lse|·u) by |B| ≤ Σ|w·q′|.
    let gmax = dl.iter().fold(0.0_f64, |m, v| m.max(v.abs() as f64));
    for i in 0..n {
        let qsum: f64 = if probs {
            (0..c).map(|j| q.at(i, j).abs() as f64).sum::<f64>() + 1.0
        } else {
            2.0
        };
        let lse_mag = (lse[i].abs() as f64).max(1.0);
        for j in 0..c {
            let (a, b) = (g.at(i, j), g2.at(i, j));
            if a.is_nan() || b.is_nan() {
                assert!(
                    a.is_nan() && b.is_nan(),
                    "gradients differ in NaN-ness at ({i},{j})"
                );
            } else {
                let scale = gmax * wmax * qsum * lse_mag;
                close(a, b as f64, scale, (c + 16) as f64 * 6e-8, "grad");
            }
        }
    }
    // log-sum-exp of moderate rows against the reference
    if moderate {
        for i in 0..n {
            let row: Vec<f64> = (0..c).map(|j| x.at(i, j) as f64).collect();
            let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let ln_s = row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            let want = m + ln_s;
            let ignored = !probs && ignore == Some(labels[i]);
            if !ignored {
                // C rounded exponentials summed (C·u relative in the sum, ≤ C·u absolute in
                // its log), then m + ln S, which can cancel: bound by |m| + ln S
                let scale = m.abs() + ln_s.abs() + 1.0;
                close(lse[i], want, scale, (c + 8) as f64 * 6e-8, "lse");
            }
        }
    }
}

fn ce(inp: &mut Input<'_>) {
    let (n, c) = shape(inp);
    let p = Stored::new(inp, n, c, false);
    let red = REDS[inp.byte() as usize % 3];
    let labels: Vec<usize> = (0..n).map(|_| inp.dim(c)).collect();
    let len = if red == Reduction::None { n } else { 1 };
    let mut loss = vec![f32::NAN; len];
    let r = cross_entropy_forward(p.view(), Targets::Classes(&labels), red, &mut loss);
    if r.is_err() {
        assert!(c == 0 || labels.iter().any(|&l| l >= c));
        return;
    }
    let mut g = Stored::out(inp, n, c);
    let dl: Vec<f32> = (0..len).map(|_| inp.moderate()).collect();
    cross_entropy_backward(p.view(), Targets::Classes(&labels), red, &dl, g.view_mut()).unwrap();
    for i in 0..n {
        for j in 0..c {
            let scale = match red {
                Reduction::None => dl[i] as f64,
                Reduction::Mean => dl[0] as f64 / n as f64,
                Reduction::Sum => dl[0] as f64,
                other => panic!("no reference for {other:?}: add one here"),
            };
            let want = if labels[i] == j {
                -scale / p.at(i, j) as f64
            } else {
                0.0
            };
            close(g.at(i, j), want, want.abs(), 4e-7, "cross_entropy_backward");
        }
    }
}

fn bce(inp: &mut Input<'_>) {
    let (n, c) = shape(inp);
    let moderate = inp.flag();
    let x = Stored::new(inp, n, c, moderate);
    let t = Stored::new(inp, n, c, true);
    let red = REDS[inp.byte() as usize % 3];
    let wc: Vec<f32> = (0..c).map(|_| inp.moderate()).collect();
    // a weight per class (row stride 0), per element, or of a wrong row count
    let wrows = if inp.byte() % 16 == 0 { n + 1 } else { n };
    let weight = match inp.byte() % 3 {
        0 => None,
        1 => MatRef::from_strided(&wc, wrows, c, 0, 1).ok(),
        _ => Some(t.view()),
    };
    let pos: Vec<f32> = (0..if inp.byte() % 16 == 0 { inp.dim(4) } else { c })
        .map(|_| inp.moderate())
        .collect();
    let opts = BceOptions::default().reduction(red).weight(weight).pos_weight(if inp.flag() { Some(&pos) } else { None });
    let len = if red == Reduction::None { n * c } else { 1 };
    let mut loss = vec![f32::NAN; len];
    if bce_with_logits_forward(x.view(), t.view(), &opts, &mut loss).is_err() {
        assert!(opts.pos_weight.is_some_and(|p| p.len() != c) || opts.weight.is_some_and(|w| w.rows() != n));
        return;
    }
    let dl: Vec<f32> = (0..len).map(|_| inp.moderate()).collect();
    let mut g = Stored::out(inp, n, c);
    bce_with_logits_backward(x.view(), t.view(), &opts, &dl, g.view_mut()).unwrap();
    let (mut loss2, mut g2) = (vec![f32::NAN; len], Stored::out(inp, n, c));
    g2.rs = g.rs;
    g2.data = vec![f32::NAN; g.data.len()];
    bce_with_logits(x.view(), t.view(), &opts, &dl, &mut loss2, g2.view_mut()).unwrap();
    assert_eq!(bits(&loss), bits(&loss2));
    assert_eq!(bits(&g.data), bits(&g2.data));
    if moderate && red == Reduction::None {
        for i in 0..n {
            for k in 0..c {
                let (xv, tv) = (x.at(i, k) as f64, t.at(i, k) as f64);
                let p = opts.pos_weight.map_or(1.0, |p| p[k] as f64);
                let wv = opts.weight.map_or(1.0, |w| w.get(i, k).unwrap() as f64);
                let sp = |v: f64| v.max(0.0) + (-v.abs()).exp().ln_1p();
                let want = wv * (p * tv * sp(-xv) + (1.0 - tv) * sp(xv));
                let scale = wv.abs() * ((p * tv * sp(-xv)).abs() + ((1.0 - tv) * sp(xv)).abs());
                close(loss[i * c + k], want, scale, 1e-6, "bce loss");
            }
        }
    }
}

/// Losses over broadcast views far larger than memory: one row of 2⁴⁴+ logits with column
/// stride 0 (its copy cannot be allocated), or views of `usize::MAX` empty rows. An `Err`
/// (`Alloc`, `Length`, `Shape`) or a quick `Ok`; never a panic, an abort or a hang, and
/// nothing written on `Err`.
fn hostile(inp: &mut Input<'_>) {
    let v = [inp.value(), inp.value()];
    let red = REDS[inp.byte() as usize % 3];
    // one row: one loss value for every reduction of the softmax-cross-entropy
    let mut loss = [f32::NAN];
    if inp.flag() {
        let c = huge(inp, 1);
        let row = MatRef::from_strided(&v, 1, c, 0, 0).expect("one broadcast row");
        let opts = CrossEntropyOptions::default().reduction(red);
        let r = match inp.byte() % 3 {
            0 => softmax_cross_entropy_forward(row, Targets::Classes(&[1]), &opts, &mut loss, None),
            1 => softmax_cross_entropy_forward(row, Targets::Probs(row), &opts, &mut loss, None),
            _ => {
                let o = BceOptions::default().reduction(red).weight(Some(row)).pos_weight(None);
                bce_with_logits_forward(row, row, &o, &mut loss)
            }
        };
        let e = r.expect_err("a copy beyond memory");
        assert!(matches!(e.kind(), ErrorKind::Alloc | ErrorKind::Length), "{e}");
        assert!(loss[0].is_nan(), "nothing written on Err");
    } else {
        // usize::MAX rows of nothing: a shape error (no columns) or nothing to do
        let x = MatRef::from_strided(&[] as &[f32], usize::MAX, 0, 1, 1).expect("an empty view");
        let opts = CrossEntropyOptions::<f32>::default();
        assert!(softmax_cross_entropy_forward(x, Targets::Probs(x), &opts, &mut loss, None).is_err());
        let o = BceOptions::default().reduction(red);
        // (Reduction::None wants N·C = 0 loss values, not 1)
        let r = bce_with_logits_forward(x, x, &o, &mut loss);
        assert_eq!(r.is_ok(), red != Reduction::None, "{r:?}");
    }
}
