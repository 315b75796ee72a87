//! Representational geometry of network populations (DESIGN §6).
//!
//! Inputs are activity matrices, `datapoints × units` (rows are the same probe inputs for
//! every network, pooled over trials and time). Every measure centres the columns itself.
//!
//! - [`svcca`](mod@svcca): SVCCA (Raghu et al. 2017), split into a per-network [`SvccaReduction`]
//!   and a cheap pairwise step.
//! - [`cka`]: linear, RBF and debiased linear CKA (Kornblith et al. 2019).
//! - [`shape`]: angular Procrustes shape metric with partial whitening (Williams et al.
//!   2021), a true metric.
//! - [`distance`]: pairwise distance matrices over a population (rayon, symmetric,
//!   per-network preparation computed once, thread-count independent).
//! - [`mds`]: classical (Torgerson) MDS and metric SMACOF with stress.
//!
//! Linear algebra on large matrices (SVD, eigen) is faer's, run sequentially inside each
//! rayon task so that results do not depend on the number of threads.

pub mod cka;
pub mod distance;
mod matrix;
pub mod mds;
pub mod shape;
pub mod svcca;
mod svd;

pub use cka::{debiased_linear_cka, linear_cka, rbf_cka, LinearCkaPrep, RbfCkaPrep};
pub use distance::{pairwise_distances, Metric};
pub use matrix::Matrix;
pub use mds::{classical_mds, smacof, stress, validate_distance_matrix, Embedding, SmacofOptions};
pub use shape::{shape_distance, ShapePrep};
pub use svcca::{svcca, SvccaOptions, SvccaReduction, SvccaResult, Truncation};

use faer::Mat;

/// What went wrong in an analysis. Each variant says which input and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AnalysisError {
    /// A flat buffer's length does not match the matrix shape it was given for.
    #[error("a {rows}×{cols} matrix needs {} elements, got {len}", rows.saturating_mul(*cols))]
    ShapeMismatch {
        /// Rows asked for.
        rows: usize,
        /// Columns asked for.
        cols: usize,
        /// Elements supplied.
        len: usize,
    },
    /// An input matrix has no rows or no columns.
    #[error("{what} is empty ({rows}×{cols})")]
    Empty {
        /// Which input (e.g. `network 3`).
        what: String,
        /// Its rows.
        rows: usize,
        /// Its columns.
        cols: usize,
    },
    /// An input has fewer datapoints than the measure needs.
    #[error("{what} has {rows} rows; at least {min} are needed")]
    TooFewRows {
        /// Which input.
        what: String,
        /// Its rows.
        rows: usize,
        /// The least the measure accepts.
        min: usize,
    },
    /// Two inputs compared with each other do not have the same datapoints.
    #[error("row counts differ: {a_what} has {a_rows} rows, {b_what} has {b_rows} (rows must be the same datapoints)")]
    RowMismatch {
        /// The first input.
        a_what: String,
        /// Its rows.
        a_rows: usize,
        /// The second input.
        b_what: String,
        /// Its rows.
        b_rows: usize,
    },
    /// An input holds a NaN or an infinity (the first one found, in row-major order).
    #[error("{what} has a non-finite value {value} at ({row}, {col})")]
    NonFinite {
        /// Which input.
        what: String,
        /// Row of the value.
        row: usize,
        /// Column of the value.
        col: usize,
        /// The value itself.
        value: f64,
    },
    /// Every row of an input is the same, so centring leaves nothing to compare.
    #[error("{what} has zero variance after centring (all rows identical)")]
    ZeroVariance {
        /// Which input.
        what: String,
    },
    /// A distance matrix given to MDS is not square.
    #[error("distance matrix is not square: {rows}×{cols}")]
    NotSquare {
        /// Its rows.
        rows: usize,
        /// Its columns.
        cols: usize,
    },
    /// A distance matrix differs from its transpose beyond the tolerance.
    #[error("distance matrix is not symmetric: d[{i},{j}] = {a} but d[{j},{i}] = {b}")]
    NotSymmetric {
        /// Row of the first entry.
        i: usize,
        /// Column of the first entry.
        j: usize,
        /// `d[i, j]`.
        a: f64,
        /// `d[j, i]`.
        b: f64,
    },
    /// A distance matrix has an entry below zero (beyond the tolerance).
    #[error("distance matrix has a negative entry d[{i},{j}] = {value}")]
    NegativeDistance {
        /// Row of the entry.
        i: usize,
        /// Column of the entry.
        j: usize,
        /// The entry.
        value: f64,
    },
    /// A distance matrix has a diagonal entry other than zero (beyond the tolerance).
    #[error("distance matrix has a non-zero diagonal entry d[{i},{i}] = {value}")]
    NonZeroDiagonal {
        /// Index of the entry.
        i: usize,
        /// The entry.
        value: f64,
    },
    /// An option is out of its range (e.g. an SVCCA variance fraction outside (0, 1]).
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter {
        /// The option's name.
        name: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
    /// A faer decomposition (SVD, eigen) failed to converge.
    #[error("{what} did not converge")]
    Decomposition {
        /// Which decomposition.
        what: &'static str,
    },
    /// The inputs pass the checks but the computation is undefined or unsafe for them
    /// (e.g. distances whose squares would overflow, a debiased HSIC that is not positive).
    #[error("{what}: {reason}")]
    Degenerate {
        /// Which input or step.
        what: String,
        /// Why the measure is undefined.
        reason: String,
    },
    /// A pairwise computation got fewer matrices than it needs.
    #[error("need at least {min} matrices, got {got}")]
    TooFewMatrices {
        /// The least accepted.
        min: usize,
        /// How many were given.
        got: usize,
    },
}

/// Checks an activity matrix: non-empty, at least `min_rows` rows, all finite.
pub(crate) fn check_activity(m: &Matrix, what: &str, min_rows: usize) -> Result<(), AnalysisError> {
    if m.rows() == 0 || m.cols() == 0 {
        return Err(AnalysisError::Empty {
            what: what.to_string(),
            rows: m.rows(),
            cols: m.cols(),
        });
    }
    if m.rows() < min_rows {
        return Err(AnalysisError::TooFewRows {
            what: what.to_string(),
            rows: m.rows(),
            min: min_rows,
        });
    }
    if let Some(k) = m.as_slice().iter().position(|v| !v.is_finite()) {
        return Err(AnalysisError::NonFinite {
            what: what.to_string(),
            row: k / m.cols(),
            col: k % m.cols(),
            value: m.as_slice()[k],
        });
    }
    Ok(())
}

pub(crate) fn check_same_rows(a: &Matrix, b: &Matrix) -> Result<(), AnalysisError> {
    if a.rows() != b.rows() {
        return Err(AnalysisError::RowMismatch {
            a_what: "A".into(),
            a_rows: a.rows(),
            b_what: "B".into(),
            b_rows: b.rows(),
        });
    }
    Ok(())
}

/// Column-centred copy as a faer (column-major) matrix; errors if every column is
/// constant.
pub(crate) fn centred(m: &Matrix, what: &str) -> Result<Mat<f64>, AnalysisError> {
    let (n, p) = m.shape();
    let mut out = Mat::<f64>::zeros(n, p);
    let mut any = false;
    for j in 0..p {
        let mut mean = 0.0;
        for i in 0..n {
            mean += m.get(i, j);
        }
        mean /= n as f64;
        let col = out.col_as_slice_mut(j);
        for i in 0..n {
            col[i] = m.get(i, j) - mean;
            any |= col[i] != 0.0;
        }
    }
    if !any {
        return Err(AnalysisError::ZeroVariance {
            what: what.to_string(),
        });
    }
    Ok(out)
}

/// Squared Frobenius norm of a faer matrix.
pub(crate) fn frob2(m: faer::MatRef<'_, f64>) -> f64 {
    let mut s = 0.0;
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            let v = m[(i, j)];
            s += v * v;
        }
    }
    s
}

/// `lhsᵀ · rhs`, sequential (deterministic whatever the thread count).
pub(crate) fn at_b(lhs: faer::MatRef<'_, f64>, rhs: faer::MatRef<'_, f64>) -> Mat<f64> {
    let mut out = Mat::<f64>::zeros(lhs.ncols(), rhs.ncols());
    faer::linalg::matmul::matmul(
        out.as_mut(),
        faer::Accum::Replace,
        lhs.transpose(),
        rhs,
        1.0,
        faer::Par::Seq,
    );
    out
}

pub(crate) use svd::singular_values;

/// Seeded test data shared by the unit tests.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::Matrix;
    use rnndyn_core::Rng;

    /// Standard normal entries.
    pub fn random_matrix(rows: usize, cols: usize, seed: u64) -> Matrix {
        let mut rng = Rng::new(seed);
        Matrix::from_fn(rows, cols, |_, _| rng.normal())
    }

    /// A random orthogonal matrix (Q of a Gaussian matrix's QR).
    pub fn random_orthogonal(n: usize, seed: u64) -> Matrix {
        let g = random_matrix(n, n, seed).to_faer();
        let q = g.qr().compute_thin_Q();
        Matrix::from_faer(q.as_ref())
    }

    /// `a · b`.
    pub fn matmul(a: &Matrix, b: &Matrix) -> Matrix {
        let p = a.to_faer() * b.to_faer();
        Matrix::from_faer(p.as_ref())
    }
}
