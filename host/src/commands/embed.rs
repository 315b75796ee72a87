//! `rnndyn embed D.npy --method classical|smacof --dims 2 [--out coords.npy] [--json]`:
//! MDS of a distance matrix.
//!
//! Prints the stress (raw and Kruskal stress-1; eigenvalues for classical MDS,
//! iterations and winning start for SMACOF) and either writes the `n × dims` coordinates
//! to `--out` (float64 `.npy`, atomically) or prints them. JSON fields:
//! `{"method", "n", "dims", "raw_stress", "stress1", "eigenvalues"?, "iterations"?,
//! "best_start"?, "out"?, "coords"?}`.

use super::compare::CommandError;
use crate::analysis::{self, mds::SmacofOptions};
use crate::npy;
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::PathBuf;

/// MDS method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EmbedMethod {
    /// Classical (Torgerson) MDS.
    Classical,
    /// Metric SMACOF (classical start plus seeded random starts).
    Smacof,
}

/// Embed a distance matrix in a few dimensions.
#[derive(Debug, Clone, Args)]
pub struct EmbedArgs {
    /// Distance matrix (.npy, square, symmetric, non-negative).
    pub distances: PathBuf,
    /// MDS method.
    #[arg(long, value_enum, default_value_t = EmbedMethod::Smacof)]
    pub method: EmbedMethod,
    /// Embedding dimension.
    #[arg(long, default_value_t = 2)]
    pub dims: usize,
    /// Write the coordinates here (.npy) instead of printing them.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// SMACOF: random starts besides the classical one.
    #[arg(long, default_value_t = 4)]
    pub starts: usize,
    /// SMACOF: seed of the random starts.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// SMACOF: iteration cap per start.
    #[arg(long, default_value_t = 300)]
    pub max_iter: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The result of `embed`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EmbedReport {
    /// `classical` or `smacof`.
    pub method: &'static str,
    /// Number of points (rows of the distance matrix).
    pub n: usize,
    /// Dimensions of the embedding.
    pub dims: usize,
    /// Coordinates, stress and, per method, eigenvalues or iteration counts.
    #[serde(flatten)]
    pub embedding: analysis::Embedding,
    /// Where the coordinates were written (`--out`), if anywhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out: Option<String>,
    /// The coordinates, one row per point, when no `--out` was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coords: Option<Vec<Vec<f64>>>,
}

/// Loads the matrix, embeds it and writes `--out` if given.
pub fn embed(args: &EmbedArgs) -> Result<EmbedReport, CommandError> {
    let d = npy::read_matrix(&args.distances)?;
    let ctx = |source| CommandError::Analysis {
        context: format!("embedding {}", args.distances.display()),
        source,
    };
    let (method, e) = match args.method {
        EmbedMethod::Classical => (
            "classical",
            analysis::classical_mds(&d, args.dims).map_err(ctx)?,
        ),
        EmbedMethod::Smacof => {
            let opts = SmacofOptions {
                dims: args.dims,
                random_starts: args.starts,
                max_iter: args.max_iter,
                seed: args.seed,
                ..Default::default()
            };
            ("smacof", analysis::smacof(&d, &opts).map_err(ctx)?)
        }
    };
    let coords = match &args.out {
        Some(p) => {
            npy::write_matrix(p, &e.coords)?;
            None
        }
        None => Some(
            (0..e.coords.rows())
                .map(|i| e.coords.row(i).to_vec())
                .collect(),
        ),
    };
    Ok(EmbedReport {
        method,
        n: d.rows(),
        dims: args.dims,
        embedding: e,
        out: args.out.as_ref().map(|p| p.display().to_string()),
        coords,
    })
}

/// Runs `embed`, printing to stdout.
pub fn run(args: &EmbedArgs) -> Result<(), CommandError> {
    let r = embed(args)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let s = serde_json::to_string_pretty(&r).map_err(std::io::Error::other)?;
        writeln!(out, "{s}")?;
        return Ok(());
    }
    writeln!(
        out,
        "method:     {} ({} points → {} dims)",
        r.method, r.n, r.dims
    )?;
    writeln!(out, "raw stress: {:.10e}", r.embedding.raw_stress)?;
    writeln!(out, "stress-1:   {:.10}", r.embedding.stress1)?;
    if let Some(ev) = &r.embedding.eigenvalues {
        let list: Vec<String> = ev.iter().map(|v| format!("{v:.6e}")).collect();
        writeln!(out, "eigenvalues: {}", list.join(" "))?;
    }
    if let (Some(it), Some(b)) = (r.embedding.iterations, r.embedding.best_start) {
        writeln!(out, "iterations: {it} (best start {b}; 0 = classical)")?;
    }
    match (&r.out, &r.coords) {
        (Some(p), _) => writeln!(out, "coordinates written to {p}")?,
        (None, Some(c)) => {
            for row in c {
                let s: Vec<String> = row.iter().map(|v| format!("{v:.8}")).collect();
                writeln!(out, "{}", s.join(" "))?;
            }
        }
        _ => {}
    }
    Ok(())
}
