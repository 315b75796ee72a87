//! Pairwise distance matrices over a population of networks.
//!
//! Each network is prepared once (SVD reduction, centred activity, RBF Gram or
//! normalised shape), in parallel. Only pairs `i < j` are computed, in parallel, and the
//! result is mirrored. For SVCCA and linear/debiased CKA the per-network blocks are laid
//! side by side in one column-major matrix `S = [S_1 … S_P]`, and each task computes
//! `S_iᵀ [S_j … S_{j+c}]` for a fixed chunk of `c` networks as one matrix product (one
//! packing of `S_i` serves many pairs).
//!
//! Linear CKA needs only `‖X_iᵀ X_j‖²_F` per pair (`n d_i d_j` multiply-adds as above).
//! With many networks and few datapoints relative to units² it is cheaper as
//! `⟨G_i, G_j⟩_F` of the `n × n` Gram matrices `G_i = X_i X_iᵀ` (`≈ n²/2` per pair after
//! forming each `G_i` once): segment by segment, within a fixed memory budget, the weighted
//! lower-triangle blocks of every `G_i` are formed as the columns of one matrix `U` and
//! tiles `U_Iᵀ U_J` are accumulated. `cka_route` picks the cheaper way.
//!
//! The split into tasks is fixed (not derived from the thread count) and every product
//! runs sequentially, so results are bit-identical for any number of threads.

use super::cka::{LinearCkaPrep, RbfCkaPrep};
use super::shape::ShapePrep;
use super::svcca::{SvccaOptions, SvccaReduction};
use super::{check_activity, frob2, AnalysisError, Matrix};
use faer::Mat;
use rayon::prelude::*;
use std::ops::Range;

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
    RbfCka {
        /// Bandwidth as a fraction of the median pairwise distance between datapoints.
        fraction: f64,
    },
    /// Angular shape distance with partial whitening `alpha` (1 = Procrustes).
    Shape {
        /// Partial whitening, in [0, 1]: 0 whitens fully (CCA-like), 1 not at all.
        alpha: f64,
    },
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
    pairwise_with_budget(mats, metric, GRAM_BUDGET_BYTES)
}

/// [`pairwise_distances`] with the Gram route's memory budget as a parameter (tests force
/// many small segments with a tiny one).
fn pairwise_with_budget(
    mats: &[Matrix],
    metric: &Metric,
    gram_budget: usize,
) -> Result<Matrix, AnalysisError> {
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
            let value = |i: usize, j: usize, xty: f64| -> Result<f64, AnalysisError> {
                Ok(1.0
                    - if debiased {
                        preps[i].debiased_from(&preps[j], xty)?
                    } else {
                        preps[i].linear_from(&preps[j], xty)
                    })
            };
            match cka_route(&blocks, gram_budget) {
                CkaRoute::Cross => batched(&blocks, |i, j, m| value(i, j, frob2(m.as_ref())))?,
                CkaRoute::Gram(plan) => gram_pairs(&blocks, &plan, value)?,
            }
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

/// The most bytes of Gram entries the Gram route holds at once: one segment of every
/// network's Gram matrix (the centred activity and the `P × P` accumulators come on top).
/// Whole lower triangles would take `4 n²` bytes per network (16 MB at n = 2000); a
/// 16 MiB segment over the population stays in cache between being formed and being
/// multiplied (1 GiB segments measured ~1.5× slower to form). Populations for which even
/// one entry per network would not fit take the cross route.
const GRAM_BUDGET_BYTES: usize = 16 << 20;

/// Networks per side of a tile in the Gram route's products: fixed (results do not depend
/// on the thread count), and small enough that 100 networks give 10 tasks.
const GRAM_TILE: usize = 32;

/// Largest Gram block formed in one product (`GRAM_BLOCK_ROWS × GRAM_PANEL`).
const GRAM_PANEL: usize = 64;
const GRAM_BLOCK_ROWS: usize = 512;

/// Time of one Gram-route multiply-add relative to one of the cross route: forming has
/// an inner dimension of only `d` and the segment products stream from cache, while the
/// cross route's products are long and compute-bound (≈ 1.4 measured at n = 2000,
/// d = 64, 100 and 200 networks, 2 cores).
const GRAM_MADD_WEIGHT: f64 = 1.4;

/// `scale · G[r0 .. r0 + rows, c0 .. c0 + cols]` of a Gram matrix `G = X Xᵀ`.
#[derive(Clone, Copy, Debug)]
struct GramBlock {
    r0: usize,
    rows: usize,
    c0: usize,
    cols: usize,
    scale: f64,
}

/// How every network's `n × n` Gram matrix is cut into blocks, and the blocks grouped
/// into segments of at most `budget` bytes over the population.
///
/// Columns are cut into panels; each panel contributes its whole diagonal block (weight
/// 1: both halves are present) and the blocks below it scaled by `√2` (weight 2: they
/// stand for their mirror images too), so the dot product of two networks' block
/// sequences is `⟨G_i, G_j⟩_F = ‖X_iᵀ X_j‖²_F`.
#[derive(Clone, Debug)]
struct GramPlan {
    blocks: Vec<GramBlock>,
    /// Block ranges, in order.
    segments: Vec<Range<usize>>,
    /// Entries per network of the largest segment.
    seg_len: usize,
    /// Entries per network over all segments (`n(n + panel width)/2`).
    entries: usize,
}

impl GramPlan {
    /// `None` if one entry per network of `p` networks already exceeds `budget` bytes.
    fn new(n: usize, p: usize, budget: usize) -> Option<Self> {
        let max_len = budget / std::mem::size_of::<f64>() / p.max(1);
        if max_len == 0 || n == 0 {
            return None;
        }
        // Every block fits in a segment (diagonal `width²`, below `height × width`);
        // panels of at most n/8 keep the diagonal blocks' extra entries within ~n²/16.
        let width = GRAM_PANEL.min(max_len.isqrt()).min(n.div_ceil(8)).max(1);
        let height = GRAM_BLOCK_ROWS.min(max_len / width).max(1);
        let mut blocks = Vec::new();
        for c0 in (0..n).step_by(width) {
            let cols = width.min(n - c0);
            blocks.push(GramBlock {
                r0: c0,
                rows: cols,
                c0,
                cols,
                scale: 1.0,
            });
            for r0 in (c0 + cols..n).step_by(height) {
                blocks.push(GramBlock {
                    r0,
                    rows: height.min(n - r0),
                    c0,
                    cols,
                    scale: std::f64::consts::SQRT_2,
                });
            }
        }
        let mut segments = Vec::new();
        let (mut start, mut len, mut seg_len, mut entries) = (0, 0, 0, 0);
        for (k, b) in blocks.iter().enumerate() {
            let e = b.rows * b.cols;
            if len + e > max_len {
                segments.push(start..k);
                start = k;
                len = 0;
            }
            len += e;
            seg_len = seg_len.max(len);
            entries += e;
        }
        segments.push(start..blocks.len());
        Some(GramPlan {
            blocks,
            segments,
            seg_len,
            entries,
        })
    }
}

/// How the linear-CKA cross terms `‖X_iᵀ X_j‖²_F` are computed.
#[derive(Clone, Debug)]
enum CkaRoute {
    /// `X_iᵀ X_j` in unit space (`batched`).
    Cross,
    /// Inner products of the Gram matrices `X_i X_iᵀ` (`gram_pairs`).
    Gram(GramPlan),
}

/// The cheaper route by weighted multiply-adds. Cross: `n d_i d_j` per pair. Gram: each
/// network's `E ≈ n²/2` Gram entries formed once (`E d_i`, no recomputation: segments
/// stream through all networks) plus `E` per pair, times `GRAM_MADD_WEIGHT`. Gram wins
/// for populations of wide networks on few datapoints (`n²/2` against `n d²` per pair,
/// once the forming is shared by enough pairs, e.g. from ~70 networks at n = 2000,
/// d = 64); cross wins for small populations, narrow networks and many datapoints.
fn cka_route(xs: &[faer::MatRef<'_, f64>], budget: usize) -> CkaRoute {
    let p = xs.len();
    if p < 2 {
        return CkaRoute::Cross;
    }
    let Some(plan) = GramPlan::new(xs[0].nrows(), p, budget) else {
        return CkaRoute::Cross;
    };
    let sum_d: f64 = xs.iter().map(|x| x.ncols() as f64).sum();
    let sum_d2: f64 = xs.iter().map(|x| (x.ncols() as f64).powi(2)).sum();
    let pairs = p as f64 * (p as f64 - 1.0) / 2.0;
    let cross = xs[0].nrows() as f64 * (sum_d * sum_d - sum_d2) / 2.0;
    let gram = GRAM_MADD_WEIGHT * plan.entries as f64 * (sum_d + pairs);
    if gram < cross {
        CkaRoute::Gram(plan)
    } else {
        CkaRoute::Cross
    }
}

/// Runs `f(i, j, ‖X_iᵀ X_j‖²_F)` for all `i < j` as Gram inner products `⟨G_i, G_j⟩_F`.
/// Segment by segment, every network's weighted Gram blocks are formed side by side
/// (`U`, segment length × `P`, one task per network) and `U_Iᵀ U_J` is accumulated for
/// fixed tiles `I ≤ J` of networks (one task per tile, strictly upper part of diagonal
/// tiles only). Segments are added in order and every product is sequential, so the
/// result does not depend on the thread count.
fn gram_pairs<F>(
    xs: &[faer::MatRef<'_, f64>],
    plan: &GramPlan,
    f: F,
) -> Result<PairValues, AnalysisError>
where
    F: Fn(usize, usize, f64) -> Result<f64, AnalysisError> + Sync,
{
    use faer::linalg::matmul::{matmul, triangular, triangular::BlockStructure};
    use faer::{Accum, MatMut, MatRef, Par};
    let p = xs.len();
    let starts: Vec<usize> = (0..p).step_by(GRAM_TILE).collect();
    let nt = starts.len();
    let size = |t: usize| GRAM_TILE.min(p - starts[t]);
    let tiles: Vec<(usize, usize)> = (0..nt).flat_map(|a| (a..nt).map(move |b| (a, b))).collect();
    let mut acc: Vec<Mat<f64>> = tiles
        .iter()
        .map(|&(a, b)| Mat::zeros(size(a), size(b)))
        .collect();
    let mut buf = vec![0.0; p * plan.seg_len];
    for seg in &plan.segments {
        let blocks = &plan.blocks[seg.clone()];
        let len: usize = blocks.iter().map(|b| b.rows * b.cols).sum();
        buf[..p * len]
            .par_chunks_mut(len)
            .zip(xs.par_iter())
            .for_each(|(col, x)| {
                let mut off = 0;
                for b in blocks {
                    let e = b.rows * b.cols;
                    let dst =
                        MatMut::from_column_major_slice_mut(&mut col[off..off + e], b.rows, b.cols);
                    matmul(
                        dst,
                        Accum::Replace,
                        x.subrows(b.r0, b.rows),
                        x.subrows(b.c0, b.cols).transpose(),
                        b.scale,
                        Par::Seq,
                    );
                    off += e;
                }
            });
        let u = MatRef::from_column_major_slice(&buf[..p * len], len, p);
        acc.par_iter_mut()
            .zip(tiles.par_iter())
            .for_each(|(acc, &(a, b))| {
                let lhs = u.subcols(starts[a], size(a)).transpose();
                let rhs = u.subcols(starts[b], size(b));
                if a == b {
                    triangular::matmul(
                        acc.as_mut(),
                        BlockStructure::StrictTriangularUpper,
                        Accum::Add,
                        lhs,
                        BlockStructure::Rectangular,
                        rhs,
                        BlockStructure::Rectangular,
                        1.0,
                        Par::Seq,
                    );
                } else {
                    matmul(acc.as_mut(), Accum::Add, lhs, rhs, 1.0, Par::Seq);
                }
            });
    }
    let mut index = vec![0; nt * nt];
    for (k, &(a, b)) in tiles.iter().enumerate() {
        index[a * nt + b] = k;
    }
    let rows: Vec<Result<PairValues, AnalysisError>> = (0..p)
        .into_par_iter()
        .map(|i| {
            let a = i / GRAM_TILE;
            (i + 1..p)
                .map(|j| {
                    let b = j / GRAM_TILE;
                    let xty = acc[index[a * nt + b]][(i - starts[a], j - starts[b])];
                    f(i, j, xty).map(|v| ((i, j), v))
                })
                .collect()
        })
        .collect();
    let mut out = Vec::new();
    for r in rows {
        out.extend(r?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::tests_support::*;
    use crate::analysis::{debiased_linear_cka, linear_cka, svcca};

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
        // Gram route: 37 networks (two tiles), one segment and many small ones.
        let mats = population(37, 33, 9);
        for budget in [GRAM_BUDGET_BYTES, 8 * 37 * 30] {
            assert!(matches!(route(&mats, budget), CkaRoute::Gram(_)));
            let run = |threads: usize, m: Metric| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| pairwise_with_budget(&mats, &m, budget).unwrap())
            };
            for m in [Metric::LinearCka, Metric::DebiasedCka] {
                let one = run(1, m);
                assert_eq!(one, run(2, m), "{} budget {budget}", m.name());
                assert_eq!(one, run(3, m), "{} budget {budget}", m.name());
            }
        }
    }

    /// `P` networks on `n` datapoints with unequal widths 8–20: a shared 5-D latent read
    /// out differently, plus noise, so the CKA values spread out.
    fn population(p: usize, n: usize, seed: u64) -> Vec<Matrix> {
        let z = random_matrix(n, 5, seed);
        (0..p as u64)
            .map(|i| {
                let d = 8 + (i as usize * 5) % 13;
                let mut x = matmul(&z, &random_matrix(5, d, seed + 1000 + i));
                let noise = random_matrix(n, d, seed + 2000 + i);
                for (v, e) in x.as_mut_slice().iter_mut().zip(noise.as_slice()) {
                    *v += (0.3 + 0.1 * i as f64) * e;
                }
                x
            })
            .collect()
    }

    fn route(mats: &[Matrix], budget: usize) -> CkaRoute {
        let preps: Vec<_> = mats
            .iter()
            .map(|m| LinearCkaPrep::new(m).unwrap())
            .collect();
        let xs: Vec<_> = preps.iter().map(|r| r.x.as_ref()).collect();
        cka_route(&xs, budget)
    }

    /// Checks `pairwise_with_budget` against the per-pair functions (≤ 1e-12), exact
    /// symmetry and zero diagonal; returns the number of Gram segments used.
    fn check_gram_route(mats: &[Matrix], budget: usize) -> usize {
        let CkaRoute::Gram(plan) = route(mats, budget) else {
            panic!(
                "{} networks of {} rows took the cross route",
                mats.len(),
                mats[0].rows()
            );
        };
        let lin = pairwise_with_budget(mats, &Metric::LinearCka, budget).unwrap();
        let deb = pairwise_with_budget(mats, &Metric::DebiasedCka, budget).unwrap();
        for i in 0..mats.len() {
            assert_eq!(lin.get(i, i), 0.0);
            assert_eq!(deb.get(i, i), 0.0);
            for j in 0..mats.len() {
                assert_eq!(lin.get(i, j), lin.get(j, i));
                assert_eq!(deb.get(i, j), deb.get(j, i));
                if i < j {
                    let want = 1.0 - linear_cka(&mats[i], &mats[j]).unwrap();
                    let got = lin.get(i, j);
                    assert!(
                        (got - want).abs() <= 1e-12,
                        "cka ({i}, {j}): {got} vs {want}"
                    );
                    let want = 1.0 - debiased_linear_cka(&mats[i], &mats[j]).unwrap();
                    let got = deb.get(i, j);
                    assert!(
                        (got - want).abs() <= 1e-12,
                        "debiased ({i}, {j}): {got} vs {want}"
                    );
                }
            }
        }
        plan.segments.len()
    }

    #[test]
    fn gram_route_matches_pairwise_calls() {
        // 37 and 70 networks: several tiles of GRAM_TILE, the last one partial.
        for (p, n) in [(6, 30), (9, 41), (13, 60), (37, 33), (70, 45)] {
            let mats = population(p, n, 7 * p as u64 + n as u64);
            assert_eq!(check_gram_route(&mats, GRAM_BUDGET_BYTES), 1, "P = {p}");
        }
    }

    #[test]
    fn gram_route_in_small_segments_matches_pairwise_calls() {
        // 7–40 Gram entries per network per segment: narrow panels, short blocks, many
        // segments (and blocks of other widths than the one-segment plans above).
        for (p, n, per_network) in [(6, 30, 7), (11, 47, 40), (37, 35, 23)] {
            let mats = population(p, n, 31 * p as u64 + n as u64);
            let segments = check_gram_route(&mats, 8 * p * per_network);
            assert!(segments > 20, "P = {p}: {segments} segments");
        }
    }

    #[test]
    fn route_choice() {
        let x = Mat::<f64>::zeros(2000, 64);
        let bench = |p: usize| cka_route(&vec![x.as_ref(); p], GRAM_BUDGET_BYTES);
        // Benchmark shape: 8.2 M (cross) against ≈ 2.1 M multiply-adds per pair.
        assert!(matches!(bench(100), CkaRoute::Gram(_)));
        assert!(matches!(bench(1000), CkaRoute::Gram(_)));
        // Too few pairs to pay for forming the 2000 × 2000 Gram matrices.
        assert!(matches!(bench(20), CkaRoute::Cross));
        assert!(matches!(bench(1), CkaRoute::Cross));
        // Two very wide networks on 10 datapoints: 60 Gram entries each against
        // 10 · 100² multiply-adds for their one pair, so even a single pair takes the Gram
        // route.
        let wide = Mat::<f64>::zeros(10, 100);
        let two = cka_route(&[wide.as_ref(); 2], GRAM_BUDGET_BYTES);
        assert!(matches!(two, CkaRoute::Gram(ref plan) if plan.entries == 60));
        // Narrow networks: n d² per pair is below n²/2.
        let narrow = Mat::<f64>::zeros(2000, 16);
        let xs = vec![narrow.as_ref(); 1000];
        assert!(matches!(cka_route(&xs, GRAM_BUDGET_BYTES), CkaRoute::Cross));
        // No room for one Gram entry per network.
        let mats = population(9, 41, 5);
        assert!(matches!(route(&mats, 8 * 9), CkaRoute::Gram(_)));
        assert!(matches!(route(&mats, 8 * 9 - 1), CkaRoute::Cross));
        // The route changes nothing beyond rounding: forcing the cross route agrees.
        let gram = pairwise_with_budget(&mats, &Metric::LinearCka, GRAM_BUDGET_BYTES).unwrap();
        let cross = pairwise_with_budget(&mats, &Metric::LinearCka, 0).unwrap();
        for (a, b) in gram.as_slice().iter().zip(cross.as_slice()) {
            assert!((a - b).abs() <= 1e-12);
        }
    }

    #[test]
    fn route_follows_the_cost_model() {
        // The documented comparison, written out pair by pair: cross n·d_i·d_j per pair
        // against GRAM_MADD_WEIGHT · E · (Σ d_i + pairs), over populations of unequal
        // widths on both sides of the break-even point.
        let (mut gram, mut cross) = (0, 0);
        for n in [12, 40, 150] {
            for base in [3, 8, 20, 50] {
                for p in 2..=40 {
                    let widths: Vec<usize> = (0..p).map(|i| base + (i * 7) % 5).collect();
                    let mats: Vec<Mat<f64>> = widths.iter().map(|&d| Mat::zeros(n, d)).collect();
                    let xs: Vec<_> = mats.iter().map(|m| m.as_ref()).collect();
                    let plan = GramPlan::new(n, p, GRAM_BUDGET_BYTES).unwrap();
                    let mut cross_madds = 0.0;
                    for i in 0..p {
                        for j in i + 1..p {
                            cross_madds += (n * widths[i] * widths[j]) as f64;
                        }
                    }
                    let sum_d: usize = widths.iter().sum();
                    let pairs = p * (p - 1) / 2;
                    let gram_madds = GRAM_MADD_WEIGHT * (plan.entries * (sum_d + pairs)) as f64;
                    let got = cka_route(&xs, GRAM_BUDGET_BYTES);
                    if gram_madds < cross_madds {
                        assert!(matches!(got, CkaRoute::Gram(_)), "n {n}, p {p}, d {base}");
                        gram += 1;
                    } else {
                        assert!(matches!(got, CkaRoute::Cross), "n {n}, p {p}, d {base}");
                        cross += 1;
                    }
                }
            }
        }
        assert!(gram > 50 && cross > 50, "{gram} gram, {cross} cross");
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
