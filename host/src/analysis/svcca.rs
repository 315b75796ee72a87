//! SVCCA (Raghu et al. 2017): SVD reduction of each network's activity, then CCA between
//! the reduced matrices.
//!
//! **Variance criterion.** The number of kept directions `k` is the smallest with
//! `Σ_{i<k} s_i² ≥ fraction · Σ_i s_i²` — the *squared* singular values, i.e. the
//! variance. The widely used google/svcca notebook sums the plain singular values
//! (`np.sum(s[:i]) / np.sum(s) >= 0.99`), which keeps more directions than 99 % of the
//! variance needs; we do it right (DESIGN §6).
//!
//! **CCA.** The reduced matrix is `A = X V_k = U_k S_k` (centred `X = U S Vᵀ`). The
//! numerically stable route is QR of each reduced matrix and the SVD of `Q_aᵀ Q_b`; since
//! the columns of `U_k S_k` are already orthogonal, `Q_a = U_k` (up to column signs, which
//! do not change singular values), so the reduction stores `U_k` and the pairwise step is
//! one `k_a × k_b` product and its singular values. With a ridge `ε > 0` (added to the
//! covariances `AᵀA/(n−1)`, as in the google/svcca `cca_core`), the whitened
//! cross-covariance is `diag(f_a) U_aᵀU_b diag(f_b)` with `f_i = √(c_i / (c_i + ε))`,
//! `c_i = s_i² / (n − 1)`.

use super::{
    at_b, centred, check_activity, check_same_rows, singular_values, AnalysisError, Matrix,
};
use faer::Mat;

/// How many SVD directions to keep.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Truncation {
    /// Smallest `k` keeping this fraction of the variance (squared singular values),
    /// in `(0, 1]`.
    VarianceFraction(f64),
    /// A fixed number of directions (capped at the numerical rank).
    Components(usize),
}

impl Default for Truncation {
    fn default() -> Self {
        Truncation::VarianceFraction(0.99)
    }
}

/// SVCCA options.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SvccaOptions {
    /// Directions kept per network (default: 99 % of the variance).
    pub truncation: Truncation,
    /// Ridge added to the covariance matrices in CCA (default 0).
    pub epsilon: f64,
}

impl Default for SvccaOptions {
    fn default() -> Self {
        SvccaOptions {
            truncation: Truncation::default(),
            epsilon: 0.0,
        }
    }
}

impl SvccaOptions {
    pub(crate) fn validate(&self) -> Result<(), AnalysisError> {
        match self.truncation {
            Truncation::VarianceFraction(f) if !(f > 0.0 && f <= 1.0) => {
                return Err(AnalysisError::InvalidParameter {
                    name: "variance fraction",
                    reason: format!("{f} is not in (0, 1]"),
                })
            }
            Truncation::Components(0) => {
                return Err(AnalysisError::InvalidParameter {
                    name: "components",
                    reason: "must be at least 1".into(),
                })
            }
            _ => {}
        }
        if !(self.epsilon >= 0.0 && self.epsilon.is_finite()) {
            return Err(AnalysisError::InvalidParameter {
                name: "epsilon",
                reason: format!("{} is not a finite non-negative number", self.epsilon),
            });
        }
        Ok(())
    }
}

/// One network's SVD reduction: an orthonormal basis `U_k` (`rows × k`) of its top-`k`
/// directions and their singular values. Compute once per network; pair with
/// [`SvccaReduction::compare`].
#[derive(Clone, Debug)]
pub struct SvccaReduction {
    basis: Mat<f64>,
    singular_values: Vec<f64>,
    all_singular_values: Vec<f64>,
}

/// SVCCA between two networks.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SvccaResult {
    /// Canonical correlations, non-increasing, `min(k_a, k_b)` of them.
    pub correlations: Vec<f64>,
    /// Mean canonical correlation (the SVCCA similarity).
    pub mean: f64,
    /// `1 − mean`.
    pub distance: f64,
    /// Directions kept for A.
    pub k_a: usize,
    /// Directions kept for B.
    pub k_b: usize,
}

impl SvccaReduction {
    /// Centres `x` (datapoints × units) and keeps its top directions.
    pub fn new(x: &Matrix, opts: &SvccaOptions) -> Result<Self, AnalysisError> {
        opts.validate()?;
        check_activity(x, "activity", 2)?;
        let xc = centred(x, "activity")?;
        let svd = xc
            .thin_svd()
            .map_err(|_| AnalysisError::Decomposition { what: "SVD" })?;
        let s: Vec<f64> = (0..svd.S().dim()).map(|i| svd.S()[i]).collect();
        // Numerical rank: directions below this carry no signal, only rounding.
        let (n, p) = x.shape();
        let tol = s[0] * (n.max(p) as f64) * f64::EPSILON;
        let rank = s.iter().take_while(|&&v| v > tol).count().max(1);
        let k = match opts.truncation {
            Truncation::Components(k) => k.min(rank),
            Truncation::VarianceFraction(f) => {
                // Squares of `s_i / s_0`: the plain squares underflow to zero for activity
                // of order 1e-160 (and overflow above 1e150), which broke scale invariance.
                let share = |v: f64| (v / s[0]) * (v / s[0]);
                let total: f64 = s.iter().map(|&v| share(v)).sum();
                let mut acc = 0.0;
                let mut k = s.len();
                for (i, &v) in s.iter().enumerate() {
                    acc += share(v);
                    // Relative slack so that `fraction = 1` is reached despite rounding.
                    if acc >= f * total * (1.0 - 8.0 * f64::EPSILON) {
                        k = i + 1;
                        break;
                    }
                }
                k.min(rank)
            }
        };
        let u = svd.U();
        let basis = Mat::from_fn(n, k, |i, j| u[(i, j)]);
        Ok(SvccaReduction {
            basis,
            singular_values: s[..k].to_vec(),
            all_singular_values: s,
        })
    }

    /// Number of kept directions.
    pub fn k(&self) -> usize {
        self.basis.ncols()
    }

    /// Number of datapoints.
    pub fn rows(&self) -> usize {
        self.basis.nrows()
    }

    /// Singular values of the kept directions.
    pub fn singular_values(&self) -> &[f64] {
        &self.singular_values
    }

    /// All singular values of the centred activity.
    pub fn all_singular_values(&self) -> &[f64] {
        &self.all_singular_values
    }

    /// The orthonormal basis `U_k` (`rows × k`).
    pub fn basis(&self) -> faer::MatRef<'_, f64> {
        self.basis.as_ref()
    }

    /// SVCCA against another network's reduction (ridge `epsilon`, see the module docs).
    pub fn compare(
        &self,
        other: &SvccaReduction,
        epsilon: f64,
    ) -> Result<SvccaResult, AnalysisError> {
        if self.rows() != other.rows() {
            return Err(AnalysisError::RowMismatch {
                a_what: "A".into(),
                a_rows: self.rows(),
                b_what: "B".into(),
                b_rows: other.rows(),
            });
        }
        let m = at_b(self.basis.as_ref(), other.basis.as_ref());
        self.finish(other, m, epsilon)
    }

    /// Finishes a comparison from `m = U_aᵀ U_b` (shared with the batched pairwise path).
    pub(crate) fn finish(
        &self,
        other: &SvccaReduction,
        mut m: Mat<f64>,
        epsilon: f64,
    ) -> Result<SvccaResult, AnalysisError> {
        if epsilon > 0.0 {
            let n1 = (self.rows() as f64 - 1.0).max(1.0);
            let f = |s: f64| {
                let c = s * s / n1;
                (c / (c + epsilon)).sqrt()
            };
            for j in 0..m.ncols() {
                let fb = f(other.singular_values[j]);
                for i in 0..m.nrows() {
                    m[(i, j)] *= f(self.singular_values[i]) * fb;
                }
            }
        }
        let mut rho = singular_values(m.as_ref())?;
        for r in &mut rho {
            *r = r.clamp(0.0, 1.0);
        }
        let mean = rho.iter().sum::<f64>() / rho.len() as f64;
        Ok(SvccaResult {
            correlations: rho,
            mean,
            distance: 1.0 - mean,
            k_a: self.k(),
            k_b: other.k(),
        })
    }
}

/// SVCCA between two activity matrices with the same rows.
pub fn svcca(a: &Matrix, b: &Matrix, opts: &SvccaOptions) -> Result<SvccaResult, AnalysisError> {
    check_same_rows(a, b)?;
    let ra = SvccaReduction::new(a, opts).map_err(|e| rename(e, "A"))?;
    let rb = SvccaReduction::new(b, opts).map_err(|e| rename(e, "B"))?;
    ra.compare(&rb, opts.epsilon)
}

/// Replaces the generic "activity" label in an error by the input's name.
pub(crate) fn rename(e: AnalysisError, name: &str) -> AnalysisError {
    match e {
        AnalysisError::Empty { rows, cols, .. } => AnalysisError::Empty {
            what: name.to_string(),
            rows,
            cols,
        },
        AnalysisError::TooFewRows { rows, min, .. } => AnalysisError::TooFewRows {
            what: name.to_string(),
            rows,
            min,
        },
        AnalysisError::NonFinite {
            row, col, value, ..
        } => AnalysisError::NonFinite {
            what: name.to_string(),
            row,
            col,
            value,
        },
        AnalysisError::ZeroVariance { .. } => AnalysisError::ZeroVariance {
            what: name.to_string(),
        },
        AnalysisError::Degenerate { reason, .. } => AnalysisError::Degenerate {
            what: name.to_string(),
            reason,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::tests_support::*;

    #[test]
    fn self_similarity_is_one() {
        let x = random_matrix(200, 12, 1);
        let r = svcca(&x, &x, &SvccaOptions::default()).unwrap();
        assert!((r.mean - 1.0).abs() < 1e-12, "{r:?}");
        assert!(r.distance.abs() < 1e-12);
    }

    #[test]
    fn variance_criterion_uses_squared_singular_values() {
        // Columns with standard deviations 10, 1, 0.1 (orthogonal by construction):
        // variance shares 0.990, 0.0099, 0.000099 -> k = 1 for 0.99 by variance,
        // whereas summing plain singular values (share 10/11.1 = 0.90) would keep 2.
        let n = 400;
        let x = Matrix::from_fn(n, 3, |i, j| {
            let t = i as f64 / n as f64 * std::f64::consts::TAU;
            let base = [(t).sin(), (2.0 * t).sin(), (3.0 * t).sin()][j];
            base * [10.0, 1.0, 0.1][j]
        });
        let r = SvccaReduction::new(
            &x,
            &SvccaOptions {
                truncation: Truncation::VarianceFraction(0.99),
                epsilon: 0.0,
            },
        )
        .unwrap();
        assert_eq!(r.k(), 1);
    }

    #[test]
    fn fixed_k_and_bad_options() {
        let x = random_matrix(50, 6, 2);
        let opts = SvccaOptions {
            truncation: Truncation::Components(3),
            epsilon: 0.0,
        };
        assert_eq!(SvccaReduction::new(&x, &opts).unwrap().k(), 3);
        let bad = SvccaOptions {
            truncation: Truncation::VarianceFraction(1.5),
            epsilon: 0.0,
        };
        assert!(matches!(
            SvccaReduction::new(&x, &bad),
            Err(AnalysisError::InvalidParameter { .. })
        ));
    }

    #[test]
    fn ridge_lowers_correlations() {
        let x = random_matrix(100, 5, 3);
        let y = random_matrix(100, 5, 4);
        let a = svcca(&x, &y, &SvccaOptions::default()).unwrap();
        let b = svcca(
            &x,
            &y,
            &SvccaOptions {
                epsilon: 0.1,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(b.mean < a.mean);
    }
}
