//! The blocked LU of `rnndyn_core::linalg::lu` against the unblocked algorithm it
//! replaced, kept here verbatim as the reference:
//! - factors, pivots and permutation sign are bit-identical (f64 and f32, n = 0..=70,
//!   matrices with exact zeros, signed zeros, repeated rows, tiny/huge scale, pivoting);
//! - `solve_transpose` and the forward (L) half of `solve` are bit-identical; the back
//!   (U) half runs each row's dot product in descending instead of ascending k (so that
//!   rows can share it), checked bit for bit against a one-row-at-a-time reference of
//!   that order;
//! - solve residuals are as small as before and as nalgebra's.
//!
//! These run the blocked kernels (hosts); embedded targets run plain loops, which the unit
//! tests in `lu.rs` compare with the blocked ones.
//!
//! Host-only oracle code: std float methods are fine here.
#![allow(clippy::disallowed_methods)]

use rnndyn_core::linalg::{lu_factor, lu_scratch_len, LuError, LuParams};
use rnndyn_core::{Error, Real, Rng};

// ---------------------------------------------------------------------------------------
// Reference: the unblocked code as of commit 591c10f (core/src/linalg/lu.rs).
// ---------------------------------------------------------------------------------------

#[derive(Debug, PartialEq)]
enum RefError {
    ZeroPivot,
    Overflow,
}

/// Unblocked right-looking `P A = L U` (row-axpy rank-1 updates, zero `l` skipped).
/// Returns the permutation sign.
fn ref_factor<R: Real>(n: usize, a: &mut [R], piv: &mut [usize]) -> Result<R, RefError> {
    if n == 0 {
        return Ok(R::ONE);
    }
    let mut col = vec![R::ZERO; n];
    for row in a.chunks_exact(n) {
        for (c, &x) in col.iter_mut().zip(row) {
            *c += x.abs();
        }
    }
    if !col.iter().fold(R::ZERO, |m, &x| m.max(x.abs())).is_finite() {
        return Err(RefError::Overflow);
    }
    let mut sign = R::ONE;
    for k in 0..n {
        let mut p = k;
        let mut best = a[k * n + k].abs();
        for i in k + 1..n {
            let v = a[i * n + k].abs();
            if v > best {
                best = v;
                p = i;
            }
        }
        piv[k] = p;
        if best == R::ZERO {
            return Err(RefError::ZeroPivot);
        }
        if p != k {
            let (top, bottom) = a.split_at_mut(p * n);
            top[k * n..(k + 1) * n].swap_with_slice(&mut bottom[..n]);
            sign = -sign;
        }
        let (top, bottom) = a.split_at_mut((k + 1) * n);
        let rowk = &top[k * n + k..k * n + n];
        let pivot = rowk[0];
        for row in bottom.chunks_exact_mut(n) {
            let row = &mut row[k..];
            let l = row[0] / pivot;
            row[0] = l;
            if l != R::ZERO {
                for (x, &u) in row[1..].iter_mut().zip(&rowk[1..]) {
                    *x -= l * u;
                }
            }
        }
    }
    if a.iter().all(|x| x.is_finite()) {
        Ok(sign)
    } else {
        Err(RefError::Overflow)
    }
}

/// `A x = b` from the factors, one row at a time: forward in ascending k (as before),
/// back substitution in ascending k (`ascending_back`, the old order) or descending k
/// (the new order).
fn ref_solve<R: Real>(n: usize, lu: &[R], piv: &[usize], b: &mut [R], ascending_back: bool) {
    for k in 0..n {
        b.swap(k, piv[k]);
    }
    for i in 1..n {
        let row = &lu[i * n..i * n + i];
        let mut s = b[i];
        for (&l, &x) in row.iter().zip(&b[..i]) {
            s -= l * x;
        }
        b[i] = s;
    }
    for i in (0..n).rev() {
        let row = &lu[i * n + i..(i + 1) * n];
        let mut s = b[i];
        if ascending_back {
            for (&u, &x) in row[1..].iter().zip(&b[i + 1..]) {
                s -= u * x;
            }
        } else {
            for (&u, &x) in row[1..].iter().zip(&b[i + 1..]).rev() {
                s -= u * x;
            }
        }
        b[i] = s / row[0];
    }
}

/// `Aᵀ x = b` from the factors (the old code).
fn ref_solve_transpose<R: Real>(n: usize, lu: &[R], piv: &[usize], b: &mut [R]) {
    for i in 0..n {
        let row = &lu[i * n + i..(i + 1) * n];
        let yi = b[i] / row[0];
        b[i] = yi;
        for (x, &u) in b[i + 1..].iter_mut().zip(&row[1..]) {
            *x -= yi * u;
        }
    }
    for i in (1..n).rev() {
        let zi = b[i];
        let row = &lu[i * n..i * n + i];
        for (x, &l) in b[..i].iter_mut().zip(row) {
            *x -= zi * l;
        }
    }
    for k in (0..n).rev() {
        b.swap(k, piv[k]);
    }
}

// ---------------------------------------------------------------------------------------
// Test matrices.
// ---------------------------------------------------------------------------------------

const KINDS: usize = 10;

/// Matrix of kind `kind` (see the match) in f64; the caller rounds it to `R`. `tiny` and
/// `huge` are the scales for the tiny/huge kinds (type-dependent).
fn matrix(kind: usize, n: usize, rng: &mut Rng, tiny: f64, huge: f64) -> Vec<f64> {
    let mut a: Vec<f64> = (0..n * n).map(|_| rng.normal()).collect();
    match kind {
        // Gaussian: pivoting on most steps.
        0 => {}
        // Diagonally dominant: hardly any pivoting.
        1 => {
            for i in 0..n {
                a[i * n + i] += n as f64;
            }
        }
        // Small integers, half of the zeros negative: exact cancellations, zero `l`s,
        // signed zeros, exactly singular matrices.
        2 => {
            for v in &mut a {
                *v = (rng.below(5) as f64) - 2.0;
                if *v == 0.0 && rng.bernoulli(0.5) {
                    *v = -0.0;
                }
            }
        }
        // Sparse Gaussian (80 % zeros).
        3 => {
            for v in &mut a {
                if rng.bernoulli(0.8) {
                    *v = if rng.bernoulli(0.5) { 0.0 } else { -0.0 };
                }
            }
        }
        // Repeated rows (some scaled or negated): rank-deficient, zero rows after
        // elimination.
        4 => {
            for i in 1..n {
                if rng.bernoulli(0.3) {
                    let src = rng.below(i as u64) as usize;
                    let f = [1.0, -1.0, 2.0, 0.5][rng.below(4) as usize];
                    for j in 0..n {
                        a[i * n + j] = f * a[src * n + j];
                    }
                }
            }
        }
        // Tiny (near the subnormal range) and huge (near overflow) entries.
        5 => a.iter_mut().for_each(|v| *v *= tiny),
        6 => a.iter_mut().for_each(|v| *v *= huge),
        // Row-permuted lower triangle: a pivot search that must go far down, exact zeros.
        7 => {
            for i in 0..n {
                for j in i + 1..n {
                    a[i * n + j] = 0.0;
                }
            }
            for i in (1..n).rev() {
                let p = rng.below(i as u64 + 1) as usize;
                for j in 0..n {
                    a.swap(i * n + j, p * n + j);
                }
            }
        }
        // Rows graded over 12 decades: pivots chosen by scale.
        8 => {
            for i in 0..n {
                let s = 10f64.powi((i % 13) as i32 - 6);
                for j in 0..n {
                    a[i * n + j] *= s;
                }
            }
        }
        // Integer entries with a zero block column and duplicated columns.
        _ => {
            for v in &mut a {
                *v = (rng.below(3) as f64) - 1.0;
            }
            for i in 0..n {
                if n > 2 {
                    a[i * n + n / 2] = 0.0;
                    a[i * n + n - 1] = a[i * n];
                }
            }
        }
    }
    a
}

fn bits<R: Real>(v: &[R]) -> Vec<u64> {
    v.iter().map(|x| x.to_f64().to_bits()).collect()
}

/// Compares the library with the reference on one matrix; returns whether it factored.
fn check_one<R: Real>(n: usize, a64: &[f64], rng: &mut Rng, what: &str) -> bool {
    let a: Vec<R> = a64.iter().map(|&x| R::from_f64(x)).collect();
    let mut want = a.clone();
    let mut want_piv = vec![0usize; n];
    let want_sign = ref_factor(n, &mut want, &mut want_piv);

    let mut got = a.clone();
    let mut piv = vec![usize::MAX; n];
    let mut s = vec![R::ZERO; lu_scratch_len(n)];
    // A negative threshold: only zero pivots, overflow and NaN/∞ are errors.
    let params = LuParams {
        rcond_threshold: -R::ONE,
    };
    let lu = match (lu_factor(n, &mut got, &mut piv, &mut s, &params), want_sign) {
        (Ok(lu), Ok(sign)) => {
            assert_eq!(bits(lu.factors()), bits(&want), "{what}: factors");
            assert_eq!(lu.pivots(), &want_piv[..], "{what}: pivots");
            // ln_abs_det's sign is the permutation sign times the signs of the pivots.
            let (det_sign, _) = lu.ln_abs_det();
            let neg = (0..n).filter(|&i| want[i * n + i] < R::ZERO).count();
            let perm = if neg % 2 == 0 { det_sign } else { -det_sign };
            assert_eq!(perm.to_f64(), sign.to_f64(), "{what}: permutation sign");
            lu
        }
        (Err(LuError::Singular { rcond }), Err(RefError::ZeroPivot)) => {
            assert_eq!(rcond, R::ZERO, "{what}");
            return false;
        }
        (Err(LuError::Core(Error::Overflow)), Err(RefError::Overflow)) => return false,
        (got, want) => panic!("{what}: got {:?}, reference {want:?}", got.map(|_| ())),
    };

    let b: Vec<R> = (0..n).map(|_| R::from_f64(rng.normal())).collect();
    let mut want = b.clone();
    ref_solve(n, lu.factors(), lu.pivots(), &mut want, false);
    let mut x = b.clone();
    if lu.solve(&mut x).is_ok() {
        assert_eq!(bits(&x), bits(&want), "{what}: solve");
    } else {
        assert!(want.iter().any(|v| !v.is_finite()), "{what}: solve failed");
    }
    let mut want = b.clone();
    ref_solve_transpose(n, lu.factors(), lu.pivots(), &mut want);
    let mut x = b;
    if lu.solve_transpose(&mut x).is_ok() {
        assert_eq!(bits(&x), bits(&want), "{what}: solve_transpose");
    } else {
        assert!(
            want.iter().any(|v| !v.is_finite()),
            "{what}: solve_transpose failed"
        );
    }
    true
}

fn check_all<R: Real>(label: &str, tiny: f64, huge: f64) {
    let mut factored = 0;
    let mut total = 0;
    for n in 0..=70 {
        for kind in 0..KINDS {
            for rep in 0..2 {
                let seed = (n * KINDS + kind) as u64 * 2 + rep;
                let mut rng = Rng::new(seed ^ 0x10_b10c);
                let a = matrix(kind, n, &mut rng, tiny, huge);
                let what = format!("{label} n={n} kind={kind} rep={rep}");
                factored += check_one::<R>(n, &a, &mut rng, &what) as usize;
                total += 1;
            }
        }
    }
    // Most cases must factor, or the solve comparisons would test little.
    assert!(
        factored * 2 > total,
        "{label}: only {factored}/{total} factored"
    );
}

#[test]
fn blocked_lu_is_bit_identical_f64() {
    check_all::<f64>("f64", 1e-305, 1e306);
}

#[test]
fn blocked_lu_is_bit_identical_f32() {
    check_all::<f32>("f32", 1e-36, 1e37);
}

// ---------------------------------------------------------------------------------------
// Accuracy of the solves.
// ---------------------------------------------------------------------------------------

/// ‖A x − b‖∞ / (‖A‖∞ ‖x‖∞ + ‖b‖∞): normwise backward error of a computed solution.
fn backward_error(n: usize, a: &[f64], x: &[f64], b: &[f64]) -> f64 {
    let mut r: f64 = 0.0;
    let mut an: f64 = 0.0;
    for i in 0..n {
        let row = &a[i * n..(i + 1) * n];
        let ax: f64 = row.iter().zip(x).map(|(a, x)| a * x).sum();
        r = r.max((ax - b[i]).abs());
        an = an.max(row.iter().map(|v| v.abs()).sum());
    }
    let xn = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let bn = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    r / (an * xn + bn)
}

/// The descending-k back substitution is as accurate as the old ascending one and as
/// nalgebra's LU: backward errors of a few ε on Gaussian and row-graded matrices.
#[test]
fn solve_residual_matches_nalgebra() {
    let (mut ours, mut old, mut theirs) = (0.0f64, 0.0f64, 0.0f64);
    let mut cases = 0;
    for n in (1..=70).step_by(3) {
        for kind in [0, 1, 8] {
            for rep in 0..4u64 {
                let mut rng = Rng::new(0x5e51d ^ (n as u64 * 64 + kind as u64 * 8 + rep));
                let a = matrix(kind, n, &mut rng, 1.0, 1.0);
                let b: Vec<f64> = (0..n).map(|_| rng.normal()).collect();

                let mut w = a.clone();
                let mut piv = vec![0; n];
                let mut s = vec![0.0; lu_scratch_len(n)];
                // Backward errors stay small however ill-conditioned: no rcond threshold.
                let params = LuParams {
                    rcond_threshold: 0.0,
                };
                let lu = lu_factor(n, &mut w, &mut piv, &mut s, &params).unwrap();
                let mut x = b.clone();
                lu.solve(&mut x).unwrap();
                let e_ours = backward_error(n, &a, &x, &b);

                let mut x_old = b.clone();
                ref_solve(n, lu.factors(), lu.pivots(), &mut x_old, true);
                let e_old = backward_error(n, &a, &x_old, &b);

                let m = nalgebra::DMatrix::from_row_slice(n, n, &a);
                let xn = m
                    .lu()
                    .solve(&nalgebra::DVector::from_column_slice(&b))
                    .unwrap();
                let e_theirs = backward_error(n, &a, xn.as_slice(), &b);

                let what = format!("n={n} kind={kind} rep={rep}");
                assert!(e_ours < 4.0 * n as f64 * f64::EPSILON, "{what}: {e_ours:e}");
                ours += e_ours;
                old += e_old;
                theirs += e_theirs;
                cases += 1;
            }
        }
    }
    let c = cases as f64;
    let (ours, old, theirs) = (ours / c, old / c, theirs / c);
    println!("mean backward error: ours {ours:e}, old order {old:e}, nalgebra {theirs:e}");
    assert!(ours <= 1.25 * old, "ours {ours:e} vs old order {old:e}");
    assert!(
        ours <= 1.25 * theirs,
        "ours {ours:e} vs nalgebra {theirs:e}"
    );
}
