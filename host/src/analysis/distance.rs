//! Pairwise distance matrices over a population of networks.
//!
//! Each network is prepared once (SVD reduction, centred activity, RBF Gram or
//! normalised shape), in parallel. Only pairs `i < j` are computed, in parallel, and the
//! result is mirrored. For SVCCA and linear/debiased CKA the per-network blocks are laid
//! side by side in one column-major matrix `S = [S_1 … S_P]`, and each task computes
//! `S_iᵀ [S_j … S_{j+c}]` for a fixed chunk of `c` networks as one matrix product (one
//! packing of `S_i` serves many pairs). The split into tasks is fixed (not derived from the
//! thread count) and every product runs sequentially, so results are bit-identical for
//! any number of threads.

use super::cka::{LinearCkaPrep, RbfCkaPrep};
use super::shape::ShapePrep;
use super::svcca::{SvccaOptions, SvccaReduction};
use super::{check_activity, frob2, AnalysisError, Matrix};
use faer::Mat;
use rayon::prelude::*;

/// `((i, j), value)` for the pairs a task computed.
type PairValues = Vec<((usize, usize), f64)>;

/// Networks per task in the batched products: a task multiplies the blocks of `ROWS`
/// networks (transposed) by the blocks of `CHUNK` networks.
const CHUNK: usize = 8;
const ROWS: usize = 4;

/// A dissimilarity between two activity matrices.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Metric {
    /// `1 − mean canonical correlation`.
    Svcca(SvccaOptions),
    /// `1 − linear CKA`.
    LinearCka,
    /// `1 − debiased linear CKA` (may be slightly negative or exceed 1: the estimator is
    /// unbiased, not bounded).
    DebiasedCka,
    /// `1 − RBF CKA`, bandwidth `fraction × median distance`.
    RbfCka { fraction: f64 },
    /// Angular shape distance with partial whitening `alpha` (1 = Procrustes).
    Shape { alpha: f64 },
}

impl Metric {
    /// A short name (`svcca`, `cka`, `cka-debiased`, `cka-rbf`, `procrustes`).
    pub fn name(&self) -> &'static str {
        match self {
            Metric::Svcca(_) => "svcca",
            Metric::LinearCka => "cka",
            Metric::DebiasedCka => "cka-debiased",
            Metric::RbfCka { .. } => "cka-rbf",
            Metric::Shape { .. } => "procrustes",
        }
    }
}

fn label(i: usize) -> String {
    format!("matrix {i}")
}

fn relabel(e: AnalysisError, i: usize) -> AnalysisError {
    super::svcca::rename(e, &label(i))
}

/// First error in index order (deterministic), else the values.
fn in_order<T>(v: Vec<Result<T, AnalysisError>>) -> Result<Vec<T>, AnalysisError> {
    v.into_iter().collect()
}

/// The `P × P` distance matrix between `mats` (each datapoints × units, same rows).
/// Zero diagonal, exactly symmetric.
pub fn pairwise_distances(mats: &[Matrix], metric: &Metric) -> Result<Matrix, AnalysisError> {
    if mats.is_empty() {
        return Err(AnalysisError::TooFewMatrices { min: 1, got: 0 });
    }
    for (i, m) in mats.iter().enumerate() {
        check_activity(m, &label(i), 2)?;
        if m.rows() != mats[0].rows() {
            return Err(AnalysisError::RowMismatch {
                a_what: label(0),
                a_rows: mats[0].rows(),
                b_what: label(i),
                b_rows: m.rows(),
            });
        }
    }
    let p = mats.len();
    let pairs: Vec<(usize, usize)> = (0..p)
        .flat_map(|i| (i + 1..p).map(move |j| (i, j)))
        .collect();
    let values: PairValues = match metric {
        Metric::Svcca(opts) => {
            opts.validate()?;
            let preps = in_order(
                mats.par_iter()
                    .enumerate()
                    .map(|(i, m)| SvccaReduction::new(m, opts).map_err(|e| relabel(e, i)))
                    .collect(),
            )?;
            let blocks: Vec<_> = preps.iter().map(|r| r.basis()).collect();
            batched(&blocks, |i, j, m| {
                Ok(1.0 - preps[i].finish(&preps[j], m, opts.epsilon)?.mean)
            })?
        }
        Metric::LinearCka | Metric::DebiasedCka => {
            let debiased = matches!(metric, Metric::DebiasedCka);
            let preps = in_order(
                mats.par_iter()
                    .enumerate()
                    .map(|(i, m)| LinearCkaPrep::new(m).map_err(|e| relabel(e, i)))
                    .collect(),
            )?;
            let blocks: Vec<_> = preps.iter().map(|r| r.x.as_ref()).collect();
            batched(&blocks, |i, j, m| {
                let xty = frob2(m.as_ref());
                Ok(1.0
                    - if debiased {
                        preps[i].debiased_from(&preps[j], xty)?
                    } else {
                        preps[i].linear_from(&preps[j], xty)
                    })
            })?
        }
        Metric::RbfCka { fraction } => {
            let preps = in_order(
                mats.par_iter()
                    .enumerate()
                    .map(|(i, m)| RbfCkaPrep::new(m, *fraction).map_err(|e| relabel(e, i)))
                    .collect(),
            )?;
            let v = in_order(
                pairs
                    .par_iter()
                    .map(|&(i, j)| preps[i].compare(&preps[j]).map(|c| ((i, j), 1.0 - c)))
                    .collect(),
            )?;
            v
        }
        Metric::Shape { alpha } => {
            let preps = in_order(
                mats.par_iter()
                    .enumerate()
                    .map(|(i, m)| ShapePrep::new(m, *alpha).map_err(|e| relabel(e, i)))
                    .collect(),
            )?;
            in_order(
                pairs
                    .par_iter()
                    .map(|&(i, j)| preps[i].distance(&preps[j]).map(|d| ((i, j), d)))
                    .collect(),
            )?
        }
    };
    let mut out = Matrix::zeros(p, p);
    for ((i, j), v) in values {
        out.set(i, j, v);
        out.set(j, i, v);
    }
    Ok(out)
}

/// Runs `f(i, j, S_iᵀ S_j)` for all `i < j` using chunked products over a stacked copy
/// of the blocks.
fn batched<F>(blocks: &[faer::MatRef<'_, f64>], f: F) -> Result<PairValues, AnalysisError>
where
    F: Fn(usize, usize, Mat<f64>) -> Result<f64, AnalysisError> + Sync,
{
    let p = blocks.len();
    let n = blocks[0].nrows();
    let mut offsets = Vec::with_capacity(p + 1);
    offsets.push(0usize);
    for b in blocks {
        offsets.push(offsets.last().unwrap() + b.ncols());
    }
    let total = offsets[p];
    let mut stack = Mat::<f64>::zeros(n, total);
    for (b, &off) in blocks.iter().zip(&offsets) {
        stack.as_mut().subcols_mut(off, b.ncols()).copy_from(*b);
    }
    // Fixed tiling (independent of the thread count): row block [i0, i0 + ROWS) against
    // column chunks starting at i0 + 1; pairs with j <= i inside a tile are skipped, so
    // every pair i < j is computed exactly once.
    let tasks: Vec<(usize, usize)> = (0..p)
        .step_by(ROWS)
        .flat_map(|i0| (i0 + 1..p).step_by(CHUNK).map(move |j0| (i0, j0)))
        .collect();
    let results: Vec<Result<PairValues, AnalysisError>> = tasks
        .par_iter()
        .map(|&(i0, j0)| {
            let i1 = (i0 + ROWS).min(p);
            let j1 = (j0 + CHUNK).min(p);
            let lhs = stack
                .as_ref()
                .subcols(offsets[i0], offsets[i1] - offsets[i0]);
            let rhs = stack
                .as_ref()
                .subcols(offsets[j0], offsets[j1] - offsets[j0]);
            let g = super::at_b(lhs, rhs);
            let mut vals = Vec::new();
            for i in i0..i1 {
                let r0 = offsets[i] - offsets[i0];
                for j in j0.max(i + 1)..j1 {
                    let c0 = offsets[j] - offsets[j0];
                    let blk = g
                        .as_ref()
                        .submatrix(r0, c0, blocks[i].ncols(), blocks[j].ncols())
                        .to_owned();
                    vals.push(f(i, j, blk).map(|v| ((i, j), v))?);
                }
            }
            Ok(vals)
        })
        .collect();
    let mut out = Vec::new();
    for r in results {
        out.extend(r?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::tests_support::*;
    use crate::analysis::{linear_cka, svcca};

    #[test]
    fn batched_matches_pairwise_calls() {
        let mats: Vec<Matrix> = (0..11)
            .map(|s| random_matrix(40, 3 + s as usize % 4, s))
            .collect();
        let d = pairwise_distances(&mats, &Metric::LinearCka).unwrap();
        let o = SvccaOptions::default();
        let s = pairwise_distances(&mats, &Metric::Svcca(o)).unwrap();
        for i in 0..mats.len() {
            assert_eq!(d.get(i, i), 0.0);
            for j in 0..mats.len() {
                assert_eq!(d.get(i, j), d.get(j, i));
                if i != j {
                    let want = 1.0 - linear_cka(&mats[i], &mats[j]).unwrap();
                    assert!((d.get(i, j) - want).abs() < 1e-12);
                    let want = svcca(&mats[i], &mats[j], &o).unwrap().distance;
                    assert!((s.get(i, j) - want).abs() < 1e-12);
                }
            }
        }
    }

    #[test]
    fn same_result_for_any_thread_count() {
        let mats: Vec<Matrix> = (0..9).map(|s| random_matrix(50, 5, 100 + s)).collect();
        let run = |threads: usize, m: Metric| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| pairwise_distances(&mats, &m).unwrap())
        };
        for m in [
            Metric::Svcca(SvccaOptions::default()),
            Metric::LinearCka,
            Metric::RbfCka { fraction: 0.5 },
            Metric::Shape { alpha: 0.5 },
        ] {
            assert_eq!(run(1, m), run(3, m), "{}", m.name());
        }
    }

    #[test]
    fn row_mismatch_names_the_matrix() {
        let mats = vec![random_matrix(10, 2, 1), random_matrix(11, 2, 2)];
        let e = pairwise_distances(&mats, &Metric::LinearCka).unwrap_err();
        assert!(
            matches!(e, AnalysisError::RowMismatch { b_rows: 11, .. }),
            "{e}"
        );
    }
}
