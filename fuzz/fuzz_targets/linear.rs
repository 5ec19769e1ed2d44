//! gemm, matmul and affine (forward and backward, every activation and accumulate mode) on
//! arbitrary shapes, layouts and values, plus raw view constructors on arbitrary lengths and
//! strides: never a panic; `Ok` results match an f64 reference.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nnkern::*;
use nnkern_fuzz::{
    ACTS, Input, Stored, act_eval_scale, act_ref, close, grad_ref, huge, in_env, same_on_every_pool, saved_of,
};

fuzz_target!(|bytes: &[u8]| {
    let mut inp = Input::new(bytes);
    let case = inp.byte() % 5;
    // the last two bytes choose the pool and the SIMD path
    let mut env = Input::new(&bytes[bytes.len().saturating_sub(2)..]);
    in_env(&mut env, || match case {
        0 => views(&mut inp),
        1 => gemm_case(&mut inp),
        2 => affine_fwd(&mut inp),
        3 => affine_bwd(&mut inp),
        _ => hostile(&mut inp),
    });
});

/// `affine_backward` on broadcast x, y and dy of 2⁵⁰ rows or more (the most a view of H
/// columns may hold, at the extreme): its scratch is beyond any address space, so the answer
/// is an `Alloc` error with nothing written — never an abort, a panic or a hang.
fn hostile(inp: &mut Input<'_>) {
    let (d, h) = (1 + inp.dim(3), 16 + inp.dim(48));
    let n = match inp.byte() % 3 {
        0 => 1 << 50,
        1 => 1 << 56,
        _ => (isize::MAX as usize) / h,
    };
    let act = ACTS[inp.byte() as usize % ACTS.len()];
    let xrow: Vec<f32> = (0..d).map(|_| inp.value()).collect();
    let yrow: Vec<f32> = (0..h).map(|_| inp.value()).collect();
    let w: Vec<f32> = (0..d * h).map(|_| inp.value()).collect();
    let x = MatRef::from_strided(&xrow, n, d, 0, 1).expect("a broadcast view within isize::MAX");
    let y = MatRef::from_strided(&yrow, n, h, 0, 1).expect("a broadcast view within isize::MAX");
    let (mut dw, mut db) = (vec![f32::NAN; d * h], vec![f32::NAN; h]);
    let r = affine_backward(
        x,
        MatRef::from_row_major(&w, d, h).unwrap(),
        saved_of(act, y),
        y,
        act,
        AffineGrads {
            dx: None,
            dw: MatMut::from_row_major(&mut dw, d, h).unwrap(),
            db: &mut db,
        },
        Accum::Replace,
        &mut Workspace::new(),
    );
    let e = r.expect_err("scratch beyond memory");
    assert_eq!(e.kind(), ErrorKind::Alloc, "{e}");
    assert!(dw.iter().chain(&db).all(|v| v.is_nan()), "nothing written on Err");
    // a huge broadcast row count with no columns is nothing to do
    let none = MatRef::from_strided(&xrow, huge(inp, 1), 0, 0, 1).expect("an empty view");
    let mut out: [f32; 0] = [];
    gemm(
        1.0,
        none.t(),
        none,
        0.0,
        MatMut::from_row_major(&mut out, 0, 0).unwrap(),
    )
    .unwrap();
}

/// Constructors with arbitrary (also absurd) lengths and strides: Ok or Err, and an Ok view
/// reads only inside its slice.
fn views(inp: &mut Input<'_>) {
    let len = inp.dim(64);
    let big = |inp: &mut Input<'_>| match inp.byte() % 4 {
        0 => usize::MAX - inp.byte() as usize,
        1 => usize::MAX / 2 + inp.byte() as usize,
        _ => inp.byte() as usize % 16,
    };
    let (rows, cols, rs, cs) = (big(inp), big(inp), big(inp), big(inp));
    let data = vec![1.0_f32; len];
    let mut mdata = vec![1.0_f32; len];
    if let Ok(v) = MatRef::from_strided(&data, rows, cols, rs, cs) {
        for i in 0..v.rows().min(16) {
            for j in 0..v.cols().min(16) {
                assert_eq!(v.get(i, j), Some(1.0));
            }
        }
        let t = v.t();
        assert_eq!((t.rows(), t.cols()), (v.cols(), v.rows()));
    }
    if let Ok(mut v) = MatMut::from_strided(&mut mdata, rows, cols, rs, cs) {
        // a mutable view's elements are distinct: writing each once and reading back works
        let (r, c) = (v.rows().min(8), v.cols().min(8));
        let mut k = 0.0;
        for i in 0..r {
            for j in 0..c {
                assert!(v.set(i, j, k));
                k += 1.0;
            }
        }
        let mut k = 0.0;
        for i in 0..r {
            for j in 0..c {
                assert_eq!(v.get(i, j), Some(k));
                k += 1.0;
            }
        }
    }
    let _ = MatRef::from_row_major(&data, rows, cols);
    let _ = MatRef::from_col_major(&data, rows, cols);
    let _ = MatMut::from_row_major(&mut mdata, rows, cols);
}

fn dims(inp: &mut Input<'_>) -> (usize, usize, usize) {
    // mostly small; sometimes large enough for the engine and for parts
    if inp.byte() % 8 == 0 {
        (inp.dim(255) * 4, inp.dim(63), inp.dim(255) * 4)
    } else {
        (inp.dim(20), inp.dim(20), inp.dim(20))
    }
}

/// A possibly mismatched second dimension (so shape errors are exercised too).
fn maybe_wrong(inp: &mut Input<'_>, d: usize) -> usize {
    if inp.byte() % 16 == 0 { inp.dim(20) } else { d }
}

fn gemm_case(inp: &mut Input<'_>) {
    let (m, k, n) = dims(inp);
    let moderate = inp.flag();
    let a = Stored::new(inp, m, k, moderate);
    let kb = maybe_wrong(inp, k);
    let b = Stored::new(inp, kb, n, moderate);
    let mut c = Stored::new(inp, m, n, true);
    let c0 = c.data.clone();
    let beta = if inp.flag() { 0.0 } else { 0.5 };
    let alpha = if inp.flag() { 1.0 } else { -2.0 };
    let r = gemm(alpha, a.view(), b.view(), beta, c.view_mut());
    if kb != k {
        assert!(r.is_err());
        assert!(
            c.data.iter().zip(&c0).all(|(x, y)| x.to_bits() == y.to_bits()),
            "no write on Err"
        );
        return;
    }
    r.unwrap();
    // the same bits on pools of 1, 2 and 3 threads (large shapes are cut into parts)
    same_on_every_pool(inp, || {
        let mut c2 = Stored {
            data: c0.clone(),
            rows: m,
            cols: n,
            rs: c.rs,
            cs: c.cs,
        };
        gemm(alpha, a.view(), b.view(), beta, c2.view_mut()).unwrap();
        c2.data.iter().map(|v| v.to_bits()).collect::<Vec<u32>>()
    });
    if moderate {
        let cs = Stored { data: c0, ..c };
        for i in 0..m {
            for j in 0..n {
                let (mut s, mut abs) = (0.0_f64, 0.0_f64);
                for l in 0..k {
                    let p = a.at(i, l) as f64 * b.at(l, j) as f64;
                    s += p;
                    abs += p.abs();
                }
                let old = if beta == 0.0 { 0.0 } else { cs.at(i, j) as f64 };
                let want = alpha as f64 * s + beta as f64 * old;
                let scale = 2.0 * abs + old.abs();
                let got = c.data[i * c.rs + j * c.cs];
                close(got, want, scale, (k + 4) as f64 * 6e-8, "gemm");
            }
        }
    }
}

fn affine_fwd(inp: &mut Input<'_>) {
    let (n, d, h) = dims(inp);
    let act = ACTS[inp.byte() as usize % ACTS.len()];
    let moderate = inp.flag();
    let x = Stored::new(inp, n, d, moderate);
    let w = Stored::new(inp, d, h, moderate);
    let hb = maybe_wrong(inp, h);
    let b: Vec<f32> = (0..hb).map(|_| inp.moderate()).collect();
    let mut y = if inp.byte() % 4 == 0 {
        Stored::new(inp, n, h, true)
    } else {
        Stored::out(inp, n, h)
    };
    let r = affine_forward(x.view(), w.view(), &b, act, y.view_mut());
    if hb != h {
        assert!(r.is_err());
        return;
    }
    r.unwrap();
    if moderate {
        for i in 0..n {
            for j in 0..h {
                let (mut s, mut abs) = (b[j] as f64, b[j].abs() as f64);
                for l in 0..d {
                    let p = x.at(i, l) as f64 * w.at(l, j) as f64;
                    s += p;
                    abs += p.abs();
                }
                let want = act_ref(act, s);
                close(
                    y.at(i, j),
                    want,
                    abs + want.abs() + act_eval_scale(act, s),
                    (d + 8) as f64 * 6e-8,
                    "affine_forward",
                );
            }
        }
    }
}

fn affine_bwd(inp: &mut Input<'_>) {
    let (n, d, h) = dims(inp);
    let act = ACTS[inp.byte() as usize % ACTS.len()];
    let accum = if inp.flag() { Accum::Add } else { Accum::Replace };
    let x = Stored::new(inp, n, d, true);
    let w = Stored::new(inp, d, h, true);
    let y = Stored::new(inp, n, h, true);
    let dy_moderate = inp.flag();
    let dy = Stored::new(inp, n, h, dy_moderate);
    let want_dx = inp.flag();
    let dxc = maybe_wrong(inp, d);
    let mut dx = Stored::new(inp, n, dxc, true);
    let mut dw = Stored::new(inp, d, h, true);
    let dw0 = dw.data.clone();
    let db_len = maybe_wrong(inp, h);
    let mut db = vec![0.25_f32; db_len];
    let mut ws = Workspace::new();
    let r = affine_backward(
        x.view(),
        w.view(),
        saved_of(act, y.view()),
        dy.view(),
        act,
        AffineGrads {
            dx: if want_dx { Some(dx.view_mut()) } else { None },
            dw: dw.view_mut(),
            db: &mut db,
        },
        accum,
        &mut ws,
    );
    if (want_dx && dx.cols != d) || db_len != h {
        assert!(r.is_err());
        return;
    }
    r.unwrap();
    if !dy_moderate {
        return;
    }
    // dW against the reference (the other outputs follow the same paths)
    let dz = |i: usize, j: usize| {
        let (yv, g) = (y.at(i, j) as f64, dy.at(i, j) as f64);
        grad_ref(act, yv, g)
    };
    let old = Stored { data: dw0, ..dw };
    for l in 0..d {
        for j in 0..h {
            let (mut s, mut abs) = (0.0, 0.0);
            for i in 0..n {
                let p = x.at(i, l) as f64 * dz(i, j);
                s += p;
                abs += (x.at(i, l) as f64 * dy.at(i, j) as f64).abs() * 8.0;
            }
            let base = if accum == Accum::Add {
                old.at(l, j) as f64
            } else {
                0.0
            };
            let got = dw.data[l * dw.rs + j * dw.cs];
            close(
                got,
                s + base,
                abs + base.abs(),
                (n + 8) as f64 * 6e-8,
                "affine_backward dW",
            );
        }
    }
}
