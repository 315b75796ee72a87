//! Angular shape metric (Williams, Kunz, Kornblith & Linderman 2021).
//!
//! Each network's activity `X` is mapped once to `φ_α(X)`: centred columns, partially
//! whitened by `W_α = V diag(α + (1 − α) λ^{−1/2}) Vᵀ` where `C = XᵀX / n = V diag(λ) Vᵀ`,
//! then scaled to unit Frobenius norm. The distance is
//! `θ(X, Y) = arccos ‖φ_α(X)ᵀ φ_α(Y)‖_*` (nuclear norm), the angle between the two
//! points minimised over orthogonal transformations; it is a metric on the equivalence
//! classes for every fixed `α ∈ [0, 1]` (triangle inequality included). `α = 1` is the
//! plain Procrustes angular distance; `α = 0` whitens fully (a CCA-like metric).
//! Different unit counts are allowed (equivalent to zero-padding the smaller one).
//! Eigenvalues of `C` below `1e-12 · λ_max` are clamped there before `λ^{−1/2}`.

use super::{
    at_b, centred, check_activity, check_same_rows, frob2, singular_values, AnalysisError, Matrix,
};
use crate::analysis::svcca::rename;
use faer::Mat;

/// Below this angle (radians) the distance is recomputed from the aligned residual.
const SMALL_ANGLE: f64 = 1e-2;

/// One network's normalised, partially whitened activity `φ_α(X)`.
#[derive(Clone, Debug)]
pub struct ShapePrep {
    z: Mat<f64>,
}

impl ShapePrep {
    /// Computes `φ_α(x)` for `alpha ∈ [0, 1]`.
    pub fn new(x: &Matrix, alpha: f64) -> Result<Self, AnalysisError> {
        if !(0.0..=1.0).contains(&alpha) {
            return Err(AnalysisError::InvalidParameter {
                name: "alpha",
                reason: format!("{alpha} is not in [0, 1]"),
            });
        }
        check_activity(x, "activity", 2)?;
        let mut z = centred(x, "activity")?;
        if alpha < 1.0 {
            let n = z.nrows() as f64;
            let mut c = at_b(z.as_ref(), z.as_ref());
            for j in 0..c.ncols() {
                for i in 0..c.nrows() {
                    c[(i, j)] /= n;
                }
            }
            let evd = c
                .self_adjoint_eigen(faer::Side::Lower)
                .map_err(|_| AnalysisError::Decomposition { what: "eigen" })?;
            let p = c.nrows();
            let lam: Vec<f64> = (0..p).map(|i| evd.S()[i]).collect();
            let lmax = lam.iter().copied().fold(0.0, f64::max);
            let floor = lmax * 1e-12;
            let v = evd.U();
            let w = Mat::from_fn(p, p, |i, j| {
                let mut s = 0.0;
                for k in 0..p {
                    let l = lam[k].max(floor);
                    s += v[(i, k)] * (alpha + (1.0 - alpha) / l.sqrt()) * v[(j, k)];
                }
                s
            });
            z = &z * &w;
        }
        let norm = frob2(z.as_ref()).sqrt();
        if norm.is_nan() || norm <= 0.0 {
            return Err(AnalysisError::ZeroVariance {
                what: "activity".into(),
            });
        }
        for j in 0..z.ncols() {
            for v in z.col_as_slice_mut(j) {
                *v /= norm;
            }
        }
        Ok(ShapePrep { z })
    }

    /// Angular distance to another network (radians, in `[0, π/2]`).
    pub fn distance(&self, other: &Self) -> Result<f64, AnalysisError> {
        if self.z.nrows() != other.z.nrows() {
            return Err(AnalysisError::RowMismatch {
                a_what: "A".into(),
                a_rows: self.z.nrows(),
                b_what: "B".into(),
                b_rows: other.z.nrows(),
            });
        }
        let m = at_b(self.z.as_ref(), other.z.as_ref());
        let nuc: f64 = singular_values(m.as_ref())?.iter().sum();
        let theta = nuc.clamp(-1.0, 1.0).acos();
        if theta >= SMALL_ANGLE {
            return Ok(theta);
        }
        // Near 0, `acos(1 − ε) ≈ √(2ε)` turns rounding in the nuclear norm into an angle of
        // ~1e-8 for identical inputs. The chord between the aligned points does not cancel:
        // with `M = U Σ Vᵀ` the best rotation is `Q = U Vᵀ`, `‖Z_a Q − Z_b‖ = 2 sin(θ / 2)`.
        // Both are zero-padded to the same width so that `Q` is square and orthogonal.
        let (n, p) = (self.z.nrows(), self.z.ncols().max(other.z.ncols()));
        let pad =
            |z: &Mat<f64>| Mat::from_fn(n, p, |i, j| if j < z.ncols() { z[(i, j)] } else { 0.0 });
        let (za, zb) = (pad(&self.z), pad(&other.z));
        let svd = at_b(za.as_ref(), zb.as_ref())
            .thin_svd()
            .map_err(|_| AnalysisError::Decomposition { what: "SVD" })?;
        let q = svd.U() * svd.V().transpose();
        let chord = frob2((&za * &q - &zb).as_ref()).sqrt();
        Ok(2.0 * (0.5 * chord).min(1.0).asin())
    }
}

/// Angular shape distance between two activity matrices with the same rows
/// (`alpha = 1`: Procrustes; `alpha = 0`: fully whitened).
pub fn shape_distance(a: &Matrix, b: &Matrix, alpha: f64) -> Result<f64, AnalysisError> {
    check_same_rows(a, b)?;
    let pa = ShapePrep::new(a, alpha).map_err(|e| rename(e, "A"))?;
    let pb = ShapePrep::new(b, alpha).map_err(|e| rename(e, "B"))?;
    pa.distance(&pb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::tests_support::*;

    #[test]
    fn zero_on_rotated_copy() {
        let x = random_matrix(80, 6, 31);
        let q = random_orthogonal(6, 32);
        let y = matmul(&x, &q);
        for alpha in [0.0, 0.5, 1.0] {
            let d = shape_distance(&x, &y, alpha).unwrap();
            assert!(d < 1e-6, "alpha {alpha}: {d}");
        }
    }

    #[test]
    fn small_angles_are_exact_to_rounding() {
        // Identical and rotated inputs give rounding-level angles, not √ε ≈ 1e-8.
        let x = random_matrix(80, 6, 41);
        let y = matmul(&x, &random_orthogonal(6, 42));
        // The same activity with two silent units more (a different width).
        let wide = Matrix::from_fn(80, 8, |i, j| if j < 6 { y.row(i)[j] } else { 0.0 });
        for alpha in [0.0, 0.5, 1.0] {
            assert!(
                shape_distance(&x, &wide, alpha).unwrap() < 1e-13,
                "alpha {alpha}"
            );
            assert!(
                shape_distance(&x, &x, alpha).unwrap() < 1e-13,
                "alpha {alpha}"
            );
            assert!(
                shape_distance(&x, &y, alpha).unwrap() < 1e-13,
                "alpha {alpha}"
            );
        }
        // A known small angle: Z_b = cos t · Z_a + sin t · W, with W of unit norm on rows
        // where Z_a is zero, so Z_aᵀ W = 0 and the nuclear norm is exactly cos t.
        let n = 40;
        let unit = |lo: usize, f: fn(usize, usize) -> f64| {
            let m = Mat::from_fn(2 * n, 3, |i, j| {
                if (lo..lo + n).contains(&i) {
                    f(i, j)
                } else {
                    0.0
                }
            });
            let norm = frob2(m.as_ref()).sqrt();
            &m * (1.0 / norm)
        };
        let za = unit(0, |i, j| ((i * 7 + j * 3) % 11) as f64 - 5.0);
        let w = unit(n, |i, j| ((i * 5 + j) % 13) as f64 - 6.0);
        let pa = ShapePrep { z: za.clone() };
        for t in [1e-9f64, 1e-6, 1e-3, 0.3] {
            let z = &za * t.cos() + &w * t.sin();
            let pb = ShapePrep { z };
            let d = pa.distance(&pb).unwrap();
            assert!((d - t).abs() <= 1e-14 + 1e-9 * t, "t {t}: {d}");
        }
    }

    #[test]
    fn bad_alpha() {
        let x = random_matrix(10, 2, 1);
        assert!(matches!(
            shape_distance(&x, &x, 1.5),
            Err(AnalysisError::InvalidParameter { .. })
        ));
    }
}
