//! `rnndyn compare A.npy B.npy --metric …`: similarity of two activity matrices
//! (datapoints × units, same rows).
//!
//! Prints the similarity and the distance (and SVCCA's canonical correlations), as JSON
//! with `--json`:
//! `{"metric", "a", "b", "similarity", "distance", "correlations"?, "k_a"?, "k_b"?}`.
//! For `procrustes`, `distance` is the angle in radians and `similarity` its cosine.

use crate::analysis::{self, svcca::SvccaOptions, svcca::Truncation, AnalysisError, Matrix};
use crate::npy::{self, NpyError};
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::PathBuf;

/// Similarity measure for `compare`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompareMetric {
    /// SVCCA: mean canonical correlation of the top SVD directions.
    Svcca,
    /// Linear CKA.
    Cka,
    /// RBF-kernel CKA.
    CkaRbf,
    /// Debiased linear CKA.
    CkaDebiased,
    /// Angular Procrustes shape distance (partial whitening with --alpha).
    Procrustes,
}

/// Compare two networks' activity matrices.
#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// First activity matrix (.npy, datapoints × units).
    pub a: PathBuf,
    /// Second activity matrix (.npy, same datapoints).
    pub b: PathBuf,
    /// Similarity measure.
    #[arg(long, value_enum, default_value_t = CompareMetric::Svcca)]
    pub metric: CompareMetric,
    /// SVCCA: keep the top directions explaining this fraction of the variance.
    #[arg(long, default_value_t = 0.99)]
    pub variance: f64,
    /// SVCCA: keep a fixed number of directions instead (overrides --variance); at most
    /// the number of units, capped at each matrix's numerical rank (printed as k_a, k_b).
    #[arg(long)]
    pub k: Option<usize>,
    /// SVCCA: ridge added to the covariances in CCA.
    #[arg(long, default_value_t = 0.0)]
    pub epsilon: f64,
    /// RBF CKA: bandwidth as a fraction of the median pairwise distance.
    #[arg(long, default_value_t = 0.5)]
    pub rbf_fraction: f64,
    /// Procrustes: partial whitening, 1 = none (Procrustes), 0 = full (CCA-like).
    #[arg(long, default_value_t = 1.0)]
    pub alpha: f64,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Errors of `compare` / `embed`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// An input or output `.npy` file could not be read or written.
    #[error(transparent)]
    Npy(#[from] NpyError),
    /// The analysis rejected its inputs.
    #[error("{context}: {source}")]
    Analysis {
        /// What was being done, with the file names.
        context: String,
        /// Why the analysis failed.
        #[source]
        source: AnalysisError,
    },
    /// Writing the report to standard output failed.
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
}

/// The result of `compare`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CompareReport {
    /// The metric's name: `svcca`, `cka`, `cka-rbf`, `cka-debiased` or `procrustes`.
    pub metric: &'static str,
    /// Path of the first activity matrix.
    pub a: String,
    /// Path of the second activity matrix.
    pub b: String,
    /// Similarity: mean canonical correlation (SVCCA), CKA, or the cosine of the
    /// Procrustes angle.
    pub similarity: f64,
    /// `1 − similarity`, except for `procrustes`, where it is the angle itself (radians).
    pub distance: f64,
    /// SVCCA only: the canonical correlations, largest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlations: Option<Vec<f64>>,
    /// SVCCA only: directions kept for the first matrix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k_a: Option<usize>,
    /// SVCCA only: directions kept for the second matrix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k_b: Option<usize>,
}

/// Loads both files and computes the report.
pub fn compare(args: &CompareArgs) -> Result<CompareReport, CommandError> {
    let mut a = npy::read_matrix(&args.a)?;
    let mut b = npy::read_matrix(&args.b)?;
    to_safe_scale(&mut a);
    to_safe_scale(&mut b);
    compare_matrices(args, &a, &b)
}

/// Multiplies `m` by a power of two (exact) when its largest entry is so large or so small
/// that Gram matrices and SVDs would overflow or underflow. Every metric here is invariant
/// to scaling either matrix, so the result is unchanged; ordinary data is left as it is.
fn to_safe_scale(m: &mut Matrix) {
    let max = m.as_slice().iter().fold(0.0f64, |acc, v| acc.max(v.abs()));
    if !(max.is_finite() && max > 0.0) || (2f64.powi(-64)..=2f64.powi(64)).contains(&max) {
        return;
    }
    // 2^-e with max = f · 2^e, 0.5 ≤ f < 1: the largest entry lands in [0.5, 1).
    let e = max.log2().floor() as i32 + 1;
    // Two steps: 2^-e alone is not representable for the largest and smallest e.
    let half = -e / 2;
    for k in [half, -e - half] {
        let factor = 2f64.powi(k);
        m.as_mut_slice().iter_mut().for_each(|v| *v *= factor);
    }
}

/// Computes the report for matrices already in memory.
pub fn compare_matrices(
    args: &CompareArgs,
    a: &Matrix,
    b: &Matrix,
) -> Result<CompareReport, CommandError> {
    let ctx = |source| CommandError::Analysis {
        context: format!("comparing {} with {}", args.a.display(), args.b.display()),
        source,
    };
    let mut report = CompareReport {
        metric: match args.metric {
            CompareMetric::Svcca => "svcca",
            CompareMetric::Cka => "cka",
            CompareMetric::CkaRbf => "cka-rbf",
            CompareMetric::CkaDebiased => "cka-debiased",
            CompareMetric::Procrustes => "procrustes",
        },
        a: args.a.display().to_string(),
        b: args.b.display().to_string(),
        similarity: f64::NAN,
        distance: f64::NAN,
        correlations: None,
        k_a: None,
        k_b: None,
    };
    let sim = match args.metric {
        CompareMetric::Svcca => {
            // More directions than units is a typo, not a request the rank cap should hide.
            if let Some(k) = args.k {
                if k == 0 {
                    return Err(ctx(AnalysisError::InvalidParameter {
                        name: "--k",
                        reason: "must be at least 1".into(),
                    }));
                }
                for (path, m) in [(&args.a, a), (&args.b, b)] {
                    let units = m.shape().1;
                    if k > units {
                        return Err(ctx(AnalysisError::InvalidParameter {
                            name: "--k",
                            reason: format!(
                                "{k} directions asked for, but {} has {units} units",
                                path.display()
                            ),
                        }));
                    }
                }
            }
            let opts = SvccaOptions {
                truncation: match args.k {
                    Some(k) => Truncation::Components(k),
                    None => Truncation::VarianceFraction(args.variance),
                },
                epsilon: args.epsilon,
            };
            let r = analysis::svcca(a, b, &opts).map_err(ctx)?;
            report.k_a = Some(r.k_a);
            report.k_b = Some(r.k_b);
            report.correlations = Some(r.correlations);
            r.mean
        }
        CompareMetric::Cka => analysis::linear_cka(a, b).map_err(ctx)?,
        CompareMetric::CkaRbf => analysis::rbf_cka(a, b, args.rbf_fraction).map_err(ctx)?,
        CompareMetric::CkaDebiased => analysis::debiased_linear_cka(a, b).map_err(ctx)?,
        CompareMetric::Procrustes => {
            let d = analysis::shape_distance(a, b, args.alpha).map_err(ctx)?;
            report.similarity = d.cos();
            report.distance = d;
            return Ok(report);
        }
    };
    report.similarity = sim;
    report.distance = 1.0 - sim;
    Ok(report)
}

/// `v` to 10 decimals; a value that rounds to zero prints as `0.0000000000`, not with the
/// sign of a rounding residue (debiased CKA of a matrix with itself is 1 + 2e-16).
fn ten_places(v: f64) -> String {
    let s = format!("{v:.10}");
    match s.strip_prefix('-') {
        Some(rest) if rest.bytes().all(|b| b == b'0' || b == b'.') => rest.to_string(),
        _ => s,
    }
}

/// Runs `compare`, printing to stdout.
pub fn run(args: &CompareArgs) -> Result<(), CommandError> {
    let report = compare(args)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let s = serde_json::to_string_pretty(&report).map_err(std::io::Error::other)?;
        writeln!(out, "{s}")?;
    } else {
        writeln!(out, "metric:     {}", report.metric)?;
        writeln!(out, "similarity: {}", ten_places(report.similarity))?;
        writeln!(out, "distance:   {}", ten_places(report.distance))?;
        if let (Some(c), Some(ka), Some(kb)) = (&report.correlations, report.k_a, report.k_b) {
            writeln!(out, "kept:       k_a = {ka}, k_b = {kb}")?;
            let list: Vec<String> = c.iter().map(|v| format!("{v:.6}")).collect();
            writeln!(out, "canonical correlations: {}", list.join(" "))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::ten_places;

    #[test]
    fn a_rounding_residue_prints_without_its_sign() {
        assert_eq!(ten_places(-2.220446049250313e-16), "0.0000000000");
        assert_eq!(ten_places(-0.0), "0.0000000000");
        assert_eq!(ten_places(-1e-10), "-0.0000000001");
        assert_eq!(ten_places(0.25), "0.2500000000");
        assert_eq!(ten_places(f64::NAN), "NaN");
    }
}
