//! Centred kernel alignment (Kornblith et al. 2019).
//!
//! - Linear: `CKA = ‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F)` on column-centred `X`, `Y`, computed in
//!   feature space (units × units products), which is cheap when units ≪ datapoints.
//! - RBF: Gram `K_ij = exp(−‖x_i − x_j‖² / (2σ²))` with `σ = fraction × median distance`,
//!   precisely `σ² = fraction² × median of the n² squared distances`, diagonal zeros
//!   included, as in Kornblith's reference code (`threshold² × median(sq_distances)`;
//!   NumPy's median averages the two middle values of an even count); then
//!   `⟨HKH, HLH⟩ / (‖HKH‖ ‖HLH‖)`.
//! - Debiased linear: the unbiased HSIC estimator (Song et al. 2012) in Kornblith's
//!   feature-space form (`feature_space_linear_cka(debiased=True)`); needs `n ≥ 4`.
//!
//! Distance = 1 − CKA.

use super::{at_b, centred, check_activity, check_same_rows, frob2, AnalysisError, Matrix};
use crate::analysis::svcca::rename;
use faer::Mat;

/// One network's preparation for linear (and debiased linear) CKA: the centred activity,
/// `‖XᵀX‖_F`, and the row sums of squares used by the debiased estimator.
#[derive(Clone, Debug)]
pub struct LinearCkaPrep {
    pub(crate) x: Mat<f64>,
    self_hsic: f64,
    row_sq: Vec<f64>,
    sq_norm: f64,
}

impl LinearCkaPrep {
    /// Centres `x` (datapoints × units).
    pub fn new(x: &Matrix) -> Result<Self, AnalysisError> {
        check_activity(x, "activity", 2)?;
        let xc = centred(x, "activity")?;
        let g = at_b(xc.as_ref(), xc.as_ref());
        let self_hsic = frob2(g.as_ref());
        let n = xc.nrows();
        let mut row_sq = vec![0.0; n];
        for j in 0..xc.ncols() {
            let c = xc.col_as_slice(j);
            for i in 0..n {
                row_sq[i] += c[i] * c[i];
            }
        }
        let sq_norm = row_sq.iter().sum();
        Ok(LinearCkaPrep {
            x: xc,
            self_hsic,
            row_sq,
            sq_norm,
        })
    }

    /// Number of datapoints.
    pub fn rows(&self) -> usize {
        self.x.nrows()
    }

    fn check_rows(&self, other: &Self) -> Result<(), AnalysisError> {
        if self.rows() != other.rows() {
            return Err(AnalysisError::RowMismatch {
                a_what: "A".into(),
                a_rows: self.rows(),
                b_what: "B".into(),
                b_rows: other.rows(),
            });
        }
        Ok(())
    }

    /// Linear CKA against another network.
    pub fn linear(&self, other: &Self) -> Result<f64, AnalysisError> {
        self.check_rows(other)?;
        let xty = frob2(at_b(self.x.as_ref(), other.x.as_ref()).as_ref());
        Ok(self.linear_from(other, xty))
    }

    /// Linear CKA from `‖XᵀY‖²_F` (the batched pairwise path computes that product).
    pub(crate) fn linear_from(&self, other: &Self, xty: f64) -> f64 {
        (xty / (self.self_hsic.sqrt() * other.self_hsic.sqrt())).clamp(0.0, 1.0)
    }

    /// Debiased linear CKA against another network.
    pub fn debiased(&self, other: &Self) -> Result<f64, AnalysisError> {
        self.check_rows(other)?;
        let xty = frob2(at_b(self.x.as_ref(), other.x.as_ref()).as_ref());
        self.debiased_from(other, xty)
    }

    pub(crate) fn debiased_from(&self, other: &Self, xty: f64) -> Result<f64, AnalysisError> {
        let n = self.rows();
        if n < 4 {
            return Err(AnalysisError::TooFewRows {
                what: "activity (debiased CKA)".into(),
                rows: n,
                min: 4,
            });
        }
        let nf = n as f64;
        let helper = |xty: f64, rx: &[f64], ry: &[f64], nx: f64, ny: f64| {
            let dot: f64 = rx.iter().zip(ry).map(|(a, b)| a * b).sum();
            xty - nf / (nf - 2.0) * dot + nx * ny / ((nf - 1.0) * (nf - 2.0))
        };
        let num = helper(
            xty,
            &self.row_sq,
            &other.row_sq,
            self.sq_norm,
            other.sq_norm,
        );
        let dx = helper(
            self.self_hsic,
            &self.row_sq,
            &self.row_sq,
            self.sq_norm,
            self.sq_norm,
        );
        let dy = helper(
            other.self_hsic,
            &other.row_sq,
            &other.row_sq,
            other.sq_norm,
            other.sq_norm,
        );
        if !(dx > 0.0 && dy > 0.0) {
            return Err(AnalysisError::Degenerate {
                what: "debiased CKA".into(),
                reason: "unbiased HSIC of an input with itself is not positive".into(),
            });
        }
        Ok(num / (dx.sqrt() * dy.sqrt()))
    }
}

/// Linear CKA between two activity matrices with the same rows.
pub fn linear_cka(a: &Matrix, b: &Matrix) -> Result<f64, AnalysisError> {
    check_same_rows(a, b)?;
    let pa = LinearCkaPrep::new(a).map_err(|e| rename(e, "A"))?;
    let pb = LinearCkaPrep::new(b).map_err(|e| rename(e, "B"))?;
    pa.linear(&pb)
}

/// Debiased linear CKA between two activity matrices with the same rows (`n ≥ 4`).
pub fn debiased_linear_cka(a: &Matrix, b: &Matrix) -> Result<f64, AnalysisError> {
    check_same_rows(a, b)?;
    let pa = LinearCkaPrep::new(a).map_err(|e| rename(e, "A"))?;
    let pb = LinearCkaPrep::new(b).map_err(|e| rename(e, "B"))?;
    pa.debiased(&pb)
}

/// One network's centred RBF Gram matrix (`n × n`; memory `8 n²` bytes) and its norm.
#[derive(Clone, Debug)]
pub struct RbfCkaPrep {
    gram: Mat<f64>,
    norm: f64,
    sigma: f64,
}

impl RbfCkaPrep {
    /// The centred RBF Gram of `x` with `σ = fraction × median pairwise distance`.
    pub fn new(x: &Matrix, fraction: f64) -> Result<Self, AnalysisError> {
        if !(fraction > 0.0 && fraction.is_finite()) {
            return Err(AnalysisError::InvalidParameter {
                name: "rbf bandwidth fraction",
                reason: format!("{fraction} is not a finite positive number"),
            });
        }
        check_activity(x, "activity", 2)?;
        let xc = centred(x, "activity")?;
        let n = xc.nrows();
        let dots = {
            let mut out = Mat::<f64>::zeros(n, n);
            faer::linalg::matmul::matmul(
                out.as_mut(),
                faer::Accum::Replace,
                xc.as_ref(),
                xc.as_ref().transpose(),
                1.0,
                faer::Par::Seq,
            );
            out
        };
        let mut sq = Mat::<f64>::zeros(n, n);
        for j in 0..n {
            for i in 0..n {
                let v = if i == j {
                    0.0
                } else {
                    // Symmetric by construction: the same expression for (i, j) and (j, i).
                    let (a, b) = if i < j { (i, j) } else { (j, i) };
                    (dots[(a, a)] + dots[(b, b)] - 2.0 * dots[(a, b)]).max(0.0)
                };
                sq[(i, j)] = v;
            }
        }
        let mut all: Vec<f64> = (0..n).flat_map(|j| sq.col_as_slice(j).to_vec()).collect();
        let median = median_in_place(&mut all);
        if median <= 0.0 {
            return Err(AnalysisError::Degenerate {
                what: "activity".into(),
                reason: "median pairwise distance is zero (RBF bandwidth undefined)".into(),
            });
        }
        let sigma2 = fraction * fraction * median;
        let mut gram = Mat::<f64>::zeros(n, n);
        for j in 0..n {
            for i in 0..n {
                gram[(i, j)] = (-sq[(i, j)] / (2.0 * sigma2)).exp();
            }
        }
        center_gram(&mut gram);
        let norm = frob2(gram.as_ref()).sqrt();
        if norm <= 0.0 {
            return Err(AnalysisError::Degenerate {
                what: "activity".into(),
                reason: "centred RBF Gram matrix is zero".into(),
            });
        }
        Ok(RbfCkaPrep {
            gram,
            norm,
            sigma: sigma2.sqrt(),
        })
    }

    /// The bandwidth σ used.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }

    /// RBF CKA against another network.
    pub fn compare(&self, other: &Self) -> Result<f64, AnalysisError> {
        if self.gram.nrows() != other.gram.nrows() {
            return Err(AnalysisError::RowMismatch {
                a_what: "A".into(),
                a_rows: self.gram.nrows(),
                b_what: "B".into(),
                b_rows: other.gram.nrows(),
            });
        }
        let mut dot = 0.0;
        for j in 0..self.gram.ncols() {
            let a = self.gram.col_as_slice(j);
            let b = other.gram.col_as_slice(j);
            dot += a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        }
        Ok((dot / (self.norm * other.norm)).clamp(0.0, 1.0))
    }
}

/// RBF CKA between two activity matrices (bandwidth `fraction` × median distance;
/// Kornblith's default fraction is 0.5).
pub fn rbf_cka(a: &Matrix, b: &Matrix, fraction: f64) -> Result<f64, AnalysisError> {
    check_same_rows(a, b)?;
    let pa = RbfCkaPrep::new(a, fraction).map_err(|e| rename(e, "A"))?;
    let pb = RbfCkaPrep::new(b, fraction).map_err(|e| rename(e, "B"))?;
    pa.compare(&pb)
}

/// NumPy's median (mean of the two middle values for even counts).
fn median_in_place(v: &mut [f64]) -> f64 {
    let n = v.len();
    let mid = n / 2;
    let (_, &mut upper, _) = v.select_nth_unstable_by(mid, |a, b| a.total_cmp(b));
    if n % 2 == 1 {
        upper
    } else {
        let lower = v[..mid].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        0.5 * (lower + upper)
    }
}

/// `H K H` in place (`H = I − 11ᵀ/n`), for a symmetric `K`.
fn center_gram(k: &mut Mat<f64>) {
    let n = k.nrows();
    let mut means = vec![0.0; n];
    for j in 0..n {
        means[j] = k.col_as_slice(j).iter().sum::<f64>() / n as f64;
    }
    let grand = means.iter().sum::<f64>() / n as f64;
    for j in 0..n {
        for i in 0..n {
            k[(i, j)] += grand - means[i] - means[j];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::tests_support::*;

    #[test]
    fn self_similarity_and_symmetry() {
        let x = random_matrix(60, 7, 11);
        let y = random_matrix(60, 4, 12);
        assert!((linear_cka(&x, &x).unwrap() - 1.0).abs() < 1e-12);
        assert!((rbf_cka(&x, &x, 0.5).unwrap() - 1.0).abs() < 1e-12);
        assert!((debiased_linear_cka(&x, &x).unwrap() - 1.0).abs() < 1e-12);
        let (a, b) = (linear_cka(&x, &y).unwrap(), linear_cka(&y, &x).unwrap());
        assert!((a - b).abs() < 1e-12);
        let (a, b) = (rbf_cka(&x, &y, 0.5).unwrap(), rbf_cka(&y, &x, 0.5).unwrap());
        assert!((a - b).abs() < 1e-12);
        let (a, b) = (
            debiased_linear_cka(&x, &y).unwrap(),
            debiased_linear_cka(&y, &x).unwrap(),
        );
        assert!((a - b).abs() < 1e-12);
    }

    #[test]
    fn median_matches_numpy() {
        assert_eq!(median_in_place(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median_in_place(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn linear_cka_of_independent_noise_is_small() {
        let x = random_matrix(2000, 3, 21);
        let y = random_matrix(2000, 3, 22);
        assert!(linear_cka(&x, &y).unwrap() < 0.05);
    }
}
