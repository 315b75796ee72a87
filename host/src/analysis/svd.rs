//! Singular values of a small dense matrix (SVCCA's `k × k` correlation blocks, the
//! Procrustes `d × d` cross product), through nalgebra.
//!
//! faer's SVD is tuned for large matrices: for 42 × 42 it took 147 µs here against
//! nalgebra's 80 µs, and SVCCA over 1000 networks computes 499 500 of them. (A hand-written
//! Golub–Kahan values-only SVD was measured too: no faster than nalgebra, so not kept.)

use super::AnalysisError;
use nalgebra::DMatrix;

/// Iteration cap of the bidiagonal QR per singular value (nalgebra's count is total).
const ITERATIONS_PER_VALUE: usize = 100;

/// Singular values (non-increasing) of `a`.
pub(crate) fn singular_values(a: faer::MatRef<'_, f64>) -> Result<Vec<f64>, AnalysisError> {
    let (rows, cols) = (a.nrows(), a.ncols());
    if rows == 0 || cols == 0 {
        return Ok(Vec::new());
    }
    let failed = AnalysisError::Decomposition { what: "SVD" };
    let mut finite = true;
    let m = DMatrix::from_fn(rows, cols, |i, j| {
        let v = a[(i, j)];
        finite &= v.is_finite();
        v
    });
    if !finite {
        return Err(failed);
    }
    let cap = ITERATIONS_PER_VALUE * rows.min(cols);
    let svd = m.try_svd(false, false, f64::EPSILON, cap).ok_or(failed)?;
    let mut s: Vec<f64> = svd.singular_values.iter().copied().collect();
    s.sort_by(|x, y| y.total_cmp(x));
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::tests_support::{random_matrix, random_orthogonal};
    use faer::Mat;

    fn check(a: faer::MatRef<'_, f64>, what: &str) {
        let ours = singular_values(a).unwrap();
        let mut want = a.singular_values().unwrap();
        want.sort_by(|x, y| y.total_cmp(x));
        assert_eq!(ours.len(), want.len(), "{what}");
        let top = want.first().copied().unwrap_or(0.0);
        let dim = a.nrows().max(a.ncols()) as f64;
        for (k, (o, w)) in ours.iter().zip(&want).enumerate() {
            assert!(
                (o - w).abs() <= 8.0 * dim * f64::EPSILON * top,
                "{what}: σ{k} = {o:e}, faer {w:e} (σ₁ = {top:e})"
            );
        }
    }

    #[test]
    fn matches_faer_on_random_shapes() {
        for (seed, (r, c)) in [
            (1, 1),
            (1, 7),
            (7, 1),
            (2, 2),
            (3, 5),
            (5, 3),
            (13, 13),
            (42, 40),
            (40, 42),
            (64, 64),
            (70, 9),
        ]
        .into_iter()
        .enumerate()
        {
            let a = random_matrix(r, c, 300 + seed as u64).to_faer();
            check(a.as_ref(), &format!("{r}×{c}"));
        }
    }

    #[test]
    fn exact_cases() {
        // Orthogonal: every singular value is 1 (the SVCCA self-comparison).
        let q = random_orthogonal(30, 5).to_faer();
        let s = singular_values(q.as_ref()).unwrap();
        assert!(s.iter().all(|v| (v - 1.0).abs() < 1e-14), "{s:?}");
        // Zero matrix, and a diagonal with zeros and a wide range of scales.
        let z = Mat::<f64>::zeros(6, 4);
        assert_eq!(singular_values(z.as_ref()).unwrap(), vec![0.0; 4]);
        let diag = [3.0, 0.0, -1e-9, 2.5e6, 0.0, 7.0];
        let m = Mat::<f64>::from_fn(6, 6, |i, j| if i == j { diag[i] } else { 0.0 });
        let s = singular_values(m.as_ref()).unwrap();
        assert_eq!(s, vec![2.5e6, 7.0, 3.0, 1e-9, 0.0, 0.0]);
        assert!(singular_values(Mat::<f64>::zeros(0, 3).as_ref())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn rank_deficient_and_scaled() {
        // Rank 3 out of 20, and the same matrix scaled by 1e150 and 1e-150.
        let u = random_matrix(25, 3, 11).to_faer();
        let v = random_matrix(3, 20, 12).to_faer();
        let a = &u * &v;
        check(a.as_ref(), "rank 3");
        let s = singular_values(a.as_ref()).unwrap();
        assert!(s[3..].iter().all(|&x| x <= 1e-13 * s[0]), "{s:?}");
        for f in [1e150, 1e-150] {
            let b = Mat::<f64>::from_fn(25, 20, |i, j| a[(i, j)] * f);
            let t = singular_values(b.as_ref()).unwrap();
            for (x, y) in s.iter().zip(&t) {
                assert!((x * f - y).abs() <= 1e-13 * s[0] * f, "{x:e} vs {y:e}");
            }
        }
        // A zero row and column inside (a zero appears on the bidiagonal).
        let mut c = random_matrix(9, 9, 13).to_faer();
        for k in 0..9 {
            c[(4, k)] = 0.0;
            c[(k, 6)] = 0.0;
        }
        check(c.as_ref(), "zero row and column");
    }

    #[test]
    fn non_finite_is_an_error() {
        let mut a = random_matrix(4, 4, 1).to_faer();
        a[(2, 1)] = f64::NAN;
        assert!(singular_values(a.as_ref()).is_err());
        // Shapes with nothing to iterate on, where a NaN would pass straight through.
        for (r, c) in [(1, 1), (1, 3), (3, 1)] {
            for v in [f64::NAN, f64::INFINITY] {
                let m = Mat::<f64>::from_fn(r, c, |i, j| if i + j == 0 { v } else { 1.0 });
                assert!(singular_values(m.as_ref()).is_err(), "{r}×{c} {v}");
            }
        }
    }
}
