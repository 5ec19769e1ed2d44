//! Views over memory that is not one owned slice: flat slices as 1-row views, raw parts
//! (interleaved views written from two threads at once), and — with the `ndarray` feature —
//! ndarray's sliced, strided, transposed and reversed views. Integer-valued operands keep
//! every product and sum exact, so results are compared for equality with an independent
//! reference (a plain triple loop, or ndarray's own `dot`). Sized for Miri too
//! (`cargo +nightly miri test --test interop --features ndarray`).

use nnkern::{
    Activation, ErrorKind, MatMut, MatRef, affine_forward, exp_forward, matmul_forward, sigmoid_forward,
};

/// x[i][j] = small integers, different for each (i, j) and seed
fn ints(rows: usize, cols: usize, seed: usize) -> Vec<f64> {
    (0..rows * cols)
        .map(|e| ((e * 7 + seed * 13) % 11) as f64 - 5.0)
        .collect()
}

/// C = A·B by a triple loop over element accessors
fn product(a: &MatRef<'_, f64>, b: &MatRef<'_, f64>) -> Vec<f64> {
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|p| a.get(i, p).unwrap() * b.get(p, j).unwrap()).sum();
        }
    }
    c
}

#[test]
fn a_slice_is_a_one_row_view_with_the_matrix_bits() {
    let x: Vec<f32> = (0..37).map(|i| i as f32 * 0.37 - 6.0).collect();
    let (mut flat, mut mat) = (vec![f32::NAN; 37], vec![f32::NAN; 37]);
    sigmoid_forward(x[..].into(), flat.as_mut_slice().into()).unwrap();
    let xm = MatRef::from_strided(&x, 1, 37, 37, 1).unwrap();
    sigmoid_forward(xm, MatMut::from_row_major(&mut mat, 1, 37).unwrap()).unwrap();
    assert_eq!(
        flat.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        mat.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    let v: MatRef<'_, f32> = x[..].into();
    assert_eq!((v.rows(), v.cols(), v.get(0, 36)), (1, 37, Some(x[36])));
    // an empty slice is a 1×0 view: an elementwise kernel has nothing to do
    let empty: [f32; 0] = [];
    let mut out: [f32; 0] = [];
    exp_forward(empty[..].into(), out[..].as_mut().into()).unwrap();
    // a length mismatch between two flat buffers is a shape error naming y
    let mut short = vec![0.0_f32; 36];
    let err = sigmoid_forward(x[..].into(), short.as_mut_slice().into()).unwrap_err();
    assert!(err.to_string().contains('y'), "{err}");
}

#[test]
fn raw_parts_views_read_and_write_only_their_elements() {
    // a 3×4 row-major buffer; its columns 1 and 3 as a 3×2 view (column stride 2)
    let data = ints(3, 4, 1);
    // SAFETY: elements (i, 1 + 2j) of `data`, which outlives the view and is not written
    let a = unsafe { MatRef::from_raw_parts(data.as_ptr().add(1), 3, 2, 4, 2) }.unwrap();
    assert_eq!(a.get(2, 1), Some(data[2 * 4 + 3]));
    let w = ints(2, 5, 2);
    let w = MatRef::from_row_major(&w, 2, 5).unwrap();
    let want = product(&a, &w);
    let mut y = vec![f64::NAN; 15];
    matmul_forward(a, w, MatMut::from_row_major(&mut y, 3, 5).unwrap()).unwrap();
    assert_eq!(y, want);
}

#[test]
fn interleaved_views_are_written_from_two_threads_at_once() {
    // the even and the odd columns of one 6×8 buffer, each a 6×4 output written on its own
    // thread: neither view touches the other's elements
    let (m, k, n) = (6, 3, 4);
    let x = ints(m, k, 3);
    let (w0, w1) = (ints(k, n, 4), ints(k, n, 5));
    let x = MatRef::from_row_major(&x, m, k).unwrap();
    let (w0, w1) = (
        MatRef::from_row_major(&w0, k, n).unwrap(),
        MatRef::from_row_major(&w1, k, n).unwrap(),
    );
    let mut buf = vec![f64::NAN; m * 2 * n];
    let p = buf.as_mut_ptr();
    // SAFETY: the two views hold the even and the odd elements of `buf`, disjoint; `buf` is
    // not used while they live
    let (even, odd) = unsafe {
        (
            MatMut::from_raw_parts(p, m, n, 2 * n, 2).unwrap(),
            MatMut::from_raw_parts(p.add(1), m, n, 2 * n, 2).unwrap(),
        )
    };
    let (r0, r1) = rayon::join(
        || matmul_forward(x, w0, even),
        || affine_forward(x, w1, &[1.0; 4], Activation::Identity, odd),
    );
    r0.unwrap();
    r1.unwrap();
    let (p0, p1) = (product(&x, &w0), product(&x, &w1));
    for i in 0..m {
        for j in 0..n {
            assert_eq!(buf[i * 2 * n + 2 * j], p0[i * n + j], "({i}, {j}) even");
            assert_eq!(buf[i * 2 * n + 2 * j + 1], p1[i * n + j] + 1.0, "({i}, {j}) odd");
        }
    }
}

#[test]
fn raw_parts_errors_name_the_argument() {
    // SAFETY: refused by the checks under test before any pointer arithmetic or access
    let err = unsafe { MatRef::<f32>::from_raw_parts(std::ptr::null(), 2, 2, 2, 1) }.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Value);
    assert!(err.to_string().contains("ptr"), "{err}");
    let x = [0.0_f32; 4];
    // offsets past isize::MAX bytes: refused before any pointer arithmetic
    // SAFETY: refused by the checks under test before any pointer arithmetic or access
    let err = unsafe { MatRef::from_raw_parts(x.as_ptr(), 2, 2, isize::MAX as usize / 2, 1) }.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Overflow, "{err}");
    // SAFETY: refused by the checks under test before any pointer arithmetic or access
    let err = unsafe { MatRef::from_raw_parts(x.as_ptr(), 2, 2, usize::MAX, 1) }.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Stride, "{err}");
    let mut y = [0.0_f32; 4];
    // rows that overlap: a mutable view refuses them
    // SAFETY: refused by the checks under test before any pointer arithmetic or access
    let err = unsafe { MatMut::from_raw_parts(y.as_mut_ptr(), 2, 2, 1, 1) }.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Stride);
    assert!(err.to_string().contains("strides"), "{err}");
}

#[cfg(feature = "ndarray")]
mod with_ndarray {
    use super::*;
    use ndarray::{Array2, Axis, s};

    fn array(rows: usize, cols: usize, seed: usize) -> Array2<f64> {
        Array2::from_shape_vec((rows, cols), ints(rows, cols, seed)).unwrap()
    }

    #[test]
    fn every_layout_of_view_multiplies_as_ndarray_does() {
        let big = array(9, 10, 1);
        let w = array(5, 4, 2);
        let wt = array(4, 5, 3); // used transposed
        let xs = [
            big.slice(s![..3, ..5]),                  // a block: row stride 10
            big.slice(s![1..7;2, ..;2]),              // both axes stepped
            big.slice(s![..5, 2..5]).reversed_axes(), // transposed: 3×5, column-major
        ];
        for (case, x) in xs.into_iter().enumerate() {
            for (wcase, w) in [w.view(), wt.t()].into_iter().enumerate() {
                let want = x.dot(&w);
                let mut y = Array2::<f64>::from_elem((x.nrows(), 4), f64::NAN);
                matmul_forward(
                    x.try_into().unwrap(),
                    w.try_into().unwrap(),
                    y.view_mut().try_into().unwrap(),
                )
                .unwrap();
                assert_eq!(y, want, "x case {case}, w case {wcase}");
            }
        }
    }

    #[test]
    fn outputs_go_into_sliced_and_transposed_views() {
        let x = array(3, 5, 4);
        let w = array(5, 2, 5);
        let want = x.dot(&w);
        // columns 1..3 of a wider array: the rest stays as it was
        let mut y = Array2::<f64>::from_elem((3, 4), -7.0);
        matmul_forward(
            x.view().try_into().unwrap(),
            w.view().try_into().unwrap(),
            y.slice_mut(s![.., 1..3]).try_into().unwrap(),
        )
        .unwrap();
        assert_eq!(y.slice(s![.., 1..3]), want);
        assert!(
            y.slice(s![.., 0])
                .iter()
                .chain(y.slice(s![.., 3]).iter())
                .all(|&v| v == -7.0)
        );
        // yᵀ into a column-major (transposed) view
        let mut yt = Array2::<f64>::from_elem((2, 3), f64::NAN);
        matmul_forward(
            x.view().try_into().unwrap(),
            w.view().try_into().unwrap(),
            yt.view_mut().reversed_axes().try_into().unwrap(),
        )
        .unwrap();
        assert_eq!(yt.t(), want);
    }

    #[test]
    fn the_two_halves_of_a_split_view_are_written_in_parallel() {
        // split_at along the columns gives two mutable views whose rows interleave in memory
        let x = array(4, 3, 6);
        let (w0, w1) = (array(3, 2, 7), array(3, 3, 8));
        let mut y = Array2::<f64>::from_elem((4, 5), f64::NAN);
        let (left, right) = y.view_mut().split_at(Axis(1), 2);
        let (r0, r1) = rayon::join(
            || {
                matmul_forward(
                    x.view().try_into().unwrap(),
                    w0.view().try_into().unwrap(),
                    left.try_into().unwrap(),
                )
            },
            || {
                matmul_forward(
                    x.view().try_into().unwrap(),
                    w1.view().try_into().unwrap(),
                    right.try_into().unwrap(),
                )
            },
        );
        r0.unwrap();
        r1.unwrap();
        assert_eq!(y.slice(s![.., ..2]), x.dot(&w0));
        assert_eq!(y.slice(s![.., 2..]), x.dot(&w1));
    }

    #[test]
    fn a_reversed_axis_is_a_clear_error() {
        let a = array(3, 4, 9);
        let err = MatRef::try_from(a.slice(s![..;-1, ..])).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Stride);
        assert!(
            err.to_string().contains("view") && err.to_string().contains("axis 0"),
            "{err}"
        );
        let mut b = array(3, 4, 9);
        let err = MatMut::try_from(b.slice_mut(s![.., ..;-2])).unwrap_err();
        assert!(err.to_string().contains("axis 1"), "{err}");
        // a reversed axis of length 1 has no step: it is accepted
        let one = MatRef::try_from(a.slice(s![1..2;-1, ..])).unwrap();
        assert_eq!((one.rows(), one.get(0, 3)), (1, Some(a[[1, 3]])));
    }

    #[test]
    fn empty_views_convert() {
        let a = Array2::<f32>::zeros((0, 4));
        let v = MatRef::try_from(a.view()).unwrap();
        assert_eq!((v.rows(), v.cols()), (0, 4));
        let mut b = Array2::<f32>::zeros((3, 0));
        let v = MatMut::try_from(b.view_mut()).unwrap();
        assert_eq!((v.rows(), v.cols()), (3, 0));
    }
}
