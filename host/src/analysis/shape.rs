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
        Ok(nuc.clamp(-1.0, 1.0).acos())
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
    fn bad_alpha() {
        let x = random_matrix(10, 2, 1);
        assert!(matches!(
            shape_distance(&x, &x, 1.5),
            Err(AnalysisError::InvalidParameter { .. })
        ));
    }
}
