//! Multidimensional scaling of a distance matrix.
//!
//! - [`classical_mds`] (Torgerson): `B = −½ J D⁽²⁾ J`, coordinates `V_k √λ_k` from the top
//!   eigenpairs (negative eigenvalues, from non-Euclidean distances, give zero
//!   coordinates). Each axis's sign is fixed so that its largest-magnitude entry is
//!   positive.
//! - [`smacof`] (metric, unit weights): Guttman transform iterations from the classical
//!   solution and from several seeded random starts; the lowest stress wins.
//!
//! Stress: raw `σ = Σ_{i<j} (d_ij − ‖z_i − z_j‖)²` and Kruskal's stress-1
//! `√(σ / Σ_{i<j} d_ij²)`.

use super::{AnalysisError, Matrix};
use rayon::prelude::*;
use rnndyn_core::Rng;

/// An embedding and its fit.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Embedding {
    /// `n × dims` coordinates.
    #[serde(skip)]
    pub coords: Matrix,
    /// Raw stress `Σ_{i<j} (d_ij − ‖z_i − z_j‖)²`.
    pub raw_stress: f64,
    /// Kruskal's stress-1, `√(raw / Σ_{i<j} d_ij²)`.
    pub stress1: f64,
    /// Classical MDS: the top `dims` eigenvalues of `B` (may be negative).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eigenvalues: Option<Vec<f64>>,
    /// SMACOF: iterations of the winning start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iterations: Option<usize>,
    /// SMACOF: winning start (0 = classical, 1.. = random).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_start: Option<usize>,
}

/// Largest distance MDS accepts: `n² · d²` stays finite in f64 for any `n` below 10^4.
pub const MAX_DISTANCE: f64 = 1e150;

/// Default symmetry tolerance (relative to the largest entry) for distance matrices.
pub const SYMMETRY_TOL: f64 = 1e-9;

/// Checks a distance matrix: square, non-empty, finite, non-negative, zero diagonal and
/// symmetric to `tol × max|d|`.
pub fn validate_distance_matrix(d: &Matrix, tol: f64) -> Result<(), AnalysisError> {
    let (r, c) = d.shape();
    if r != c {
        return Err(AnalysisError::NotSquare { rows: r, cols: c });
    }
    if r == 0 {
        return Err(AnalysisError::Empty {
            what: "distance matrix".into(),
            rows: r,
            cols: c,
        });
    }
    let mut dmax: f64 = 0.0;
    for i in 0..r {
        for j in 0..c {
            let v = d.get(i, j);
            if !v.is_finite() {
                return Err(AnalysisError::NonFinite {
                    what: "distance matrix".into(),
                    row: i,
                    col: j,
                    value: v,
                });
            }
            if v < 0.0 {
                return Err(AnalysisError::NegativeDistance { i, j, value: v });
            }
            dmax = dmax.max(v);
        }
    }
    // MDS works with squared distances summed over all pairs: past this they overflow.
    if dmax > MAX_DISTANCE || (dmax > 0.0 && dmax < 1.0 / MAX_DISTANCE) {
        return Err(AnalysisError::Degenerate {
            what: "distance matrix".into(),
            reason: format!(
                "its largest entry {dmax:e} is outside [{:e}, {MAX_DISTANCE:e}], where squared \
                 distances neither overflow nor underflow in f64; multiply the matrix by a \
                 constant (the embedding scales with it)",
                1.0 / MAX_DISTANCE
            ),
        });
    }
    for i in 0..r {
        if d.get(i, i).abs() > tol * dmax {
            return Err(AnalysisError::NonZeroDiagonal {
                i,
                value: d.get(i, i),
            });
        }
        for j in i + 1..r {
            let (a, b) = (d.get(i, j), d.get(j, i));
            if (a - b).abs() > tol * dmax {
                return Err(AnalysisError::NotSymmetric { i, j, a, b });
            }
        }
    }
    Ok(())
}

fn check_dims(n: usize, dims: usize) -> Result<(), AnalysisError> {
    if dims == 0 || dims > n {
        return Err(AnalysisError::InvalidParameter {
            name: "dims",
            reason: format!("{dims} must be in 1..={n} for {n} points"),
        });
    }
    Ok(())
}

/// Symmetrised copy `(D + Dᵀ)/2` as `n × n` row-major.
fn symmetrised(d: &Matrix) -> Vec<f64> {
    let n = d.rows();
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            out[i * n + j] = if i == j {
                0.0
            } else {
                0.5 * (d.get(i, j) + d.get(j, i))
            };
        }
    }
    out
}

/// Raw stress and stress-1 of `coords` (`n × dims`) against distances `d`.
pub fn stress(d: &Matrix, coords: &Matrix) -> (f64, f64) {
    let sym = symmetrised(d);
    stress_flat(&sym, d.rows(), coords.as_slice(), coords.cols())
}

fn stress_flat(d: &[f64], n: usize, z: &[f64], dims: usize) -> (f64, f64) {
    let mut raw = 0.0;
    let mut norm = 0.0;
    for i in 0..n {
        for j in i + 1..n {
            let e = dist(z, dims, i, j);
            let t = d[i * n + j];
            raw += (t - e) * (t - e);
            norm += t * t;
        }
    }
    let s1 = if norm > 0.0 { (raw / norm).sqrt() } else { 0.0 };
    (raw, s1)
}

#[inline]
fn dist(z: &[f64], dims: usize, i: usize, j: usize) -> f64 {
    let mut s = 0.0;
    for k in 0..dims {
        let t = z[i * dims + k] - z[j * dims + k];
        s += t * t;
    }
    s.sqrt()
}

/// Classical (Torgerson) MDS into `dims` dimensions.
pub fn classical_mds(d: &Matrix, dims: usize) -> Result<Embedding, AnalysisError> {
    validate_distance_matrix(d, SYMMETRY_TOL)?;
    let n = d.rows();
    check_dims(n, dims)?;
    let sym = symmetrised(d);
    // B = -1/2 J D² J.
    let mut b = faer::Mat::<f64>::from_fn(n, n, |i, j| {
        let v = sym[i * n + j];
        -0.5 * v * v
    });
    let mut means = vec![0.0; n];
    for j in 0..n {
        means[j] = b.col_as_slice(j).iter().sum::<f64>() / n as f64;
    }
    let grand = means.iter().sum::<f64>() / n as f64;
    for j in 0..n {
        for i in 0..n {
            b[(i, j)] += grand - means[i] - means[j];
        }
    }
    let evd =
        b.self_adjoint_eigen(faer::Side::Lower)
            .map_err(|_| AnalysisError::Decomposition {
                what: "eigendecomposition",
            })?;
    // faer sorts eigenvalues in non-decreasing order.
    let mut coords = Matrix::zeros(n, dims);
    let mut eigs = Vec::with_capacity(dims);
    for k in 0..dims {
        let idx = n - 1 - k;
        let lam = evd.S()[idx];
        eigs.push(lam);
        let scale = lam.max(0.0).sqrt();
        let v = evd.U().col(idx);
        let mut big = 0usize;
        for i in 0..n {
            if v[i].abs() > v[big].abs() {
                big = i;
            }
        }
        let sign = if v[big] < 0.0 { -1.0 } else { 1.0 };
        for i in 0..n {
            coords.set(i, k, sign * v[i] * scale);
        }
    }
    let (raw, s1) = stress_flat(&sym, n, coords.as_slice(), dims);
    Ok(Embedding {
        coords,
        raw_stress: raw,
        stress1: s1,
        eigenvalues: Some(eigs),
        iterations: None,
        best_start: None,
    })
}

/// SMACOF options.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SmacofOptions {
    /// Embedding dimension (default 2).
    pub dims: usize,
    /// Random starts besides the classical one (default 4).
    pub random_starts: usize,
    /// Iteration cap per start (default 300).
    pub max_iter: usize,
    /// Stop when the relative stress decrease falls below this (default 1e-9).
    pub tol: f64,
    /// Seed of the random starts.
    pub seed: u64,
}

impl Default for SmacofOptions {
    fn default() -> Self {
        SmacofOptions {
            dims: 2,
            random_starts: 4,
            max_iter: 300,
            tol: 1e-9,
            seed: 0,
        }
    }
}

/// Rows per parallel task of the Guttman transform: fixed, so the stress is summed in the
/// same order (chunk partials in index order) whatever the number of threads.
const GUTTMAN_ROWS: usize = 32;

/// One Guttman step: writes `(1/n) B(z) z` into `next` and returns the raw stress of `z`
/// (its distances are the ones the transform needs, so one pass serves both). Rows are
/// independent, so they run in parallel; 2-D and 3-D embeddings get a fixed-size inner loop.
fn guttman_step(d: &[f64], n: usize, dims: usize, z: &[f64], next: &mut [f64]) -> f64 {
    let partials: Vec<f64> = next
        .par_chunks_mut(GUTTMAN_ROWS * dims)
        .enumerate()
        .map(|(c, out)| {
            let i0 = c * GUTTMAN_ROWS;
            match dims {
                2 => guttman_rows::<2>(d, n, z, i0, out),
                3 => guttman_rows::<3>(d, n, z, i0, out),
                _ => guttman_rows_dyn(d, n, dims, z, i0, out),
            }
        })
        .collect();
    partials.iter().sum()
}

/// Rows `i0..` of the Guttman transform for a `D`-dimensional embedding (the same sums in
/// the same order as [`guttman_rows_dyn`]).
fn guttman_rows<const D: usize>(d: &[f64], n: usize, z: &[f64], i0: usize, out: &mut [f64]) -> f64 {
    let inv_n = 1.0 / n as f64;
    let mut stress = 0.0;
    for (r, o) in out.chunks_exact_mut(D).enumerate() {
        let i = i0 + r;
        let mut zi = [0.0; D];
        zi.copy_from_slice(&z[i * D..(i + 1) * D]);
        let drow = &d[i * n..(i + 1) * n];
        let mut acc = [0.0; D];
        for (j, (zj, &t)) in z.chunks_exact(D).zip(drow).enumerate() {
            if j == i {
                continue;
            }
            let mut diff = [0.0; D];
            let mut e2 = 0.0;
            for k in 0..D {
                diff[k] = zi[k] - zj[k];
                e2 += diff[k] * diff[k];
            }
            let e = e2.sqrt();
            if j > i {
                stress += (t - e) * (t - e);
            }
            if e > 0.0 {
                let q = t / e;
                for k in 0..D {
                    acc[k] += q * diff[k];
                }
            }
        }
        for k in 0..D {
            o[k] = inv_n * acc[k];
        }
    }
    stress
}

/// [`guttman_rows`] for any embedding dimension.
fn guttman_rows_dyn(
    d: &[f64],
    n: usize,
    dims: usize,
    z: &[f64],
    i0: usize,
    out: &mut [f64],
) -> f64 {
    let inv_n = 1.0 / n as f64;
    let mut stress = 0.0;
    let mut acc = vec![0.0; dims];
    for (r, o) in out.chunks_exact_mut(dims).enumerate() {
        let i = i0 + r;
        let zi = &z[i * dims..(i + 1) * dims];
        let drow = &d[i * n..(i + 1) * n];
        acc.fill(0.0);
        for (j, (zj, &t)) in z.chunks_exact(dims).zip(drow).enumerate() {
            if j == i {
                continue;
            }
            let mut e2 = 0.0;
            for k in 0..dims {
                let u = zi[k] - zj[k];
                e2 += u * u;
            }
            let e = e2.sqrt();
            if j > i {
                stress += (t - e) * (t - e);
            }
            if e > 0.0 {
                let q = t / e;
                for k in 0..dims {
                    acc[k] += q * (zi[k] - zj[k]);
                }
            }
        }
        for k in 0..dims {
            o[k] = inv_n * acc[k];
        }
    }
    stress
}

/// One SMACOF run from `z` (`n × dims`, row-major); returns (coords, raw stress, iters).
fn smacof_run(
    d: &[f64],
    n: usize,
    dims: usize,
    mut z: Vec<f64>,
    opts: &SmacofOptions,
) -> (Vec<f64>, f64, usize) {
    // Guttman transform with unit weights: z_i ← (1/n) Σ_{j≠i} (d_ij/δ_ij)(z_i − z_j).
    // Majorisation guarantees the stress never increases; stop on a small relative
    // decrease, on a rounding-level increase, or at the iteration cap.
    let mut next = vec![0.0; n * dims];
    let mut after = vec![0.0; n * dims];
    let mut s = guttman_step(d, n, dims, &z, &mut next);
    let mut iters = 0;
    while iters < opts.max_iter {
        // Stress of `next`, and the following transform into `after`.
        let s_next = guttman_step(d, n, dims, &next, &mut after);
        if s_next > s {
            break;
        }
        iters += 1;
        // z ← next, next ← after (the old z buffer is reused).
        std::mem::swap(&mut z, &mut next);
        std::mem::swap(&mut next, &mut after);
        let improved = s - s_next;
        let old = s;
        s = s_next;
        if improved <= opts.tol * old {
            break;
        }
    }
    (z, s, iters)
}

/// Metric SMACOF with unit weights; starts from the classical solution and from
/// `random_starts` seeded random configurations, returns the lowest-stress one.
/// Deterministic for a seed, whatever the number of threads.
pub fn smacof(d: &Matrix, opts: &SmacofOptions) -> Result<Embedding, AnalysisError> {
    validate_distance_matrix(d, SYMMETRY_TOL)?;
    let n = d.rows();
    check_dims(n, opts.dims)?;
    if !(opts.tol >= 0.0 && opts.tol.is_finite()) {
        return Err(AnalysisError::InvalidParameter {
            name: "tol",
            reason: format!("{} is not finite and non-negative", opts.tol),
        });
    }
    let dims = opts.dims;
    let sym = symmetrised(d);
    let classical = classical_mds(d, dims)?;
    let mean_d = if n > 1 {
        sym.iter().sum::<f64>() / (n * (n - 1)) as f64
    } else {
        0.0
    };
    let starts: Vec<Vec<f64>> = std::iter::once(classical.coords.as_slice().to_vec())
        .chain((0..opts.random_starts).map(|s| {
            let mut rng = Rng::stream(opts.seed, s as u64);
            (0..n * dims).map(|_| rng.normal() * mean_d).collect()
        }))
        .collect();
    let runs: Vec<(Vec<f64>, f64, usize)> = starts
        .into_par_iter()
        .map(|z| smacof_run(&sym, n, dims, z, opts))
        .collect();
    let (best, _) = runs
        .iter()
        .enumerate()
        .fold((0usize, f64::INFINITY), |(bi, bs), (i, r)| {
            if r.1 < bs {
                (i, r.1)
            } else {
                (bi, bs)
            }
        });
    let (z, _, iters) = runs.into_iter().nth(best).expect("at least one start");
    let (raw, s1) = stress_flat(&sym, n, &z, dims);
    Ok(Embedding {
        coords: Matrix::new(n, dims, z)?,
        raw_stress: raw,
        stress1: s1,
        eigenvalues: None,
        iterations: Some(iters),
        best_start: Some(best),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_matrices() {
        let ns = Matrix::zeros(2, 3);
        assert!(matches!(
            classical_mds(&ns, 1),
            Err(AnalysisError::NotSquare { .. })
        ));
        let asym = Matrix::new(2, 2, vec![0.0, 1.0, 2.0, 0.0]).unwrap();
        assert!(matches!(
            classical_mds(&asym, 1),
            Err(AnalysisError::NotSymmetric { .. })
        ));
        let neg = Matrix::new(2, 2, vec![0.0, -1.0, -1.0, 0.0]).unwrap();
        assert!(matches!(
            smacof(&neg, &SmacofOptions::default()),
            Err(AnalysisError::NegativeDistance { .. })
        ));
        let nan = Matrix::new(2, 2, vec![0.0, f64::NAN, f64::NAN, 0.0]).unwrap();
        assert!(matches!(
            classical_mds(&nan, 1),
            Err(AnalysisError::NonFinite { .. })
        ));
        let empty = Matrix::zeros(0, 0);
        assert!(matches!(
            classical_mds(&empty, 1),
            Err(AnalysisError::Empty { .. })
        ));
        let ok = Matrix::new(2, 2, vec![0.0, 1.0, 1.0, 0.0]).unwrap();
        assert!(matches!(
            classical_mds(&ok, 3),
            Err(AnalysisError::InvalidParameter { .. })
        ));
    }
}
