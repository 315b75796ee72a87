//! Figures of the report, after Maheswaranathan et al. (NeurIPS 2019).
//!
//! Every figure is drawn once per backend from the same prepared data: `figures/<name>.svg`
//! (plotters' SVG backend) and `figures/<name>.png` (bitmap backend, text placed by `bitmap.rs`). Text goes through
//! `ab_glyph` with the DejaVu Sans font bundled in `host/assets/` (its licence beside it),
//! so rendering needs no fontconfig or freetype and looks the same on every machine.
//!
//! | file | what it shows | paper |
//! |---|---|---|
//! | `task_examples` | inputs, targets and outputs of one trial, one network per architecture | Fig. 1a, 4a, 5a |
//! | `pca_fixed_points` | hidden trajectories, fixed points (by stability index) and slow points on the top PCs | Fig. 1b, 4b, 5b |
//! | `eigenvalue_spectra` | Jacobian eigenvalues at the fixed points against the unit circle | Fig. 1c |
//! | `mds` | MDS of the population under SVCCA and under topological distance | Fig. 1d, 1f |
//! | `sine_frequency` | leading eigen-angle vs target frequency, every network | Fig. 4c |
//! | `integration_eigenvalues` | sorted eigenvalue moduli, mean ± s.e. per architecture | Fig. 5c |
//! | `line_attractors` | per context: fixed points, slowest mode, relaxed states, slow points on the top PCs | Fig. 5b |
//!
//! A figure whose inputs are missing from the store is skipped; a figure that fails to
//! render is reported as a warning and the others are still drawn.

mod bitmap;
mod dynamics;
mod population;
mod style;
mod task_examples;

use crate::analysis::Matrix;
use crate::npy;
use crate::store::{NetworkRecord, Store};
use bitmap::PngBackend;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Any figure error.
pub type FigureError = Box<dyn std::error::Error + Send + Sync>;
type DrawResult = Result<(), FigureError>;

/// The bundled font (DejaVu Sans, Bitstream Vera licence: `host/assets/DejaVuSans.LICENSE`).
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
/// Family name every text style of the figures uses.
const FAMILY: &str = "sans-serif";

/// Registers the bundled font under [`FAMILY`] (once per process).
fn register_font() -> Result<(), FigureError> {
    static DONE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        [
            FontStyle::Normal,
            FontStyle::Bold,
            FontStyle::Italic,
            FontStyle::Oblique,
        ]
        .into_iter()
        .all(|s| plotters::style::register_font(FAMILY, s, FONT).is_ok())
    });
    if ok {
        Ok(())
    } else {
        Err("the bundled font could not be loaded".into())
    }
}

/// A figure with its data prepared; drawn identically on every backend.
trait Figure {
    /// File stem under `figures/`.
    fn name(&self) -> &'static str;
    /// Title shown in the report.
    fn title(&self) -> String;
    /// Size in pixels (PNG) and user units (SVG).
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static;
}

/// Draws `fig` into `dir/<name>.svg` and `dir/<name>.png` (each written to a temporary
/// sibling and renamed, so a reader never sees half a figure).
fn render(dir: &Path, fig: &impl Figure) -> Result<(), FigureError> {
    let name = fig.name();
    let svg_tmp = dir.join(format!(".tmp-{}-{name}.svg", std::process::id()));
    let png_tmp = dir.join(format!(".tmp-{}-{name}.png", std::process::id()));
    let result = (|| -> DrawResult {
        {
            let root = SVGBackend::new(&svg_tmp, fig.size()).into_drawing_area();
            root.fill(&WHITE)?;
            fig.draw(&root)?;
            root.present()?;
        }
        {
            let font = ab_glyph::FontRef::try_from_slice(FONT)
                .map_err(|_| FigureError::from("the bundled font could not be loaded"))?;
            let root =
                PngBackend::new(BitMapBackend::new(&png_tmp, fig.size()), font).into_drawing_area();
            root.fill(&WHITE)?;
            fig.draw(&root)?;
            root.present()?;
        }
        std::fs::rename(&svg_tmp, dir.join(format!("{name}.svg")))?;
        std::fs::rename(&png_tmp, dir.join(format!("{name}.png")))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&svg_tmp);
        let _ = std::fs::remove_file(&png_tmp);
    }
    result
}

/// Renders every figure the store supports into `figures/`; returns (title, path relative
/// to the store root) of each PNG, in report order.
pub fn render_all(
    store: &Store,
    records: &[NetworkRecord],
) -> Result<Vec<(String, String)>, FigureError> {
    register_font()?;
    let dir = store.root().join("figures");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let ctx = Context::new(store, records);
    let mut out = Vec::new();
    let mut emit = |fig: Result<Option<FigureBox>, FigureError>, what: &str| {
        let fig = match fig {
            Ok(Some(f)) => f,
            Ok(None) => return,
            Err(e) => {
                eprintln!("rnndyn: warning: figure {what}: {e}");
                return;
            }
        };
        match fig.render(&dir) {
            Ok(()) => out.push((fig.title(), format!("figures/{}.png", fig.name()))),
            Err(e) => eprintln!("rnndyn: warning: figure {}: {e}", fig.name()),
        }
    };
    emit(
        task_examples::figure(&ctx).map(|f| f.map(FigureBox::Task)),
        "task_examples",
    );
    emit(
        dynamics::pca_figure(&ctx).map(|f| f.map(FigureBox::Pca)),
        "pca_fixed_points",
    );
    emit(
        dynamics::spectra_figure(&ctx).map(|f| f.map(FigureBox::Spectra)),
        "eigenvalue_spectra",
    );
    emit(
        population::mds_figure(&ctx).map(|f| f.map(FigureBox::Mds)),
        "mds",
    );
    emit(
        population::sine_figure(&ctx).map(|f| f.map(FigureBox::Sine)),
        "sine_frequency",
    );
    emit(
        population::integration_eigen_figure(&ctx).map(|f| f.map(FigureBox::IntegrationEigen)),
        "integration_eigenvalues",
    );
    emit(
        dynamics::line_attractor_figure(&ctx).map(|f| f.map(FigureBox::LineAttractors)),
        "line_attractors",
    );
    Ok(out)
}

/// The figures as one type (the [`Figure`] trait has a generic method, so no `dyn`).
enum FigureBox {
    Task(task_examples::TaskExamples),
    Pca(dynamics::PcaFigure),
    Spectra(dynamics::SpectraFigure),
    Mds(population::MdsFigure),
    Sine(population::SineFigure),
    IntegrationEigen(population::IntegrationEigenFigure),
    LineAttractors(dynamics::LineAttractorFigure),
}

impl FigureBox {
    fn name(&self) -> &'static str {
        match self {
            FigureBox::Task(f) => f.name(),
            FigureBox::Pca(f) => f.name(),
            FigureBox::Spectra(f) => f.name(),
            FigureBox::Mds(f) => f.name(),
            FigureBox::Sine(f) => f.name(),
            FigureBox::IntegrationEigen(f) => f.name(),
            FigureBox::LineAttractors(f) => f.name(),
        }
    }
    fn title(&self) -> String {
        match self {
            FigureBox::Task(f) => f.title(),
            FigureBox::Pca(f) => f.title(),
            FigureBox::Spectra(f) => f.title(),
            FigureBox::Mds(f) => f.title(),
            FigureBox::Sine(f) => f.title(),
            FigureBox::IntegrationEigen(f) => f.title(),
            FigureBox::LineAttractors(f) => f.title(),
        }
    }
    fn render(&self, dir: &Path) -> Result<(), FigureError> {
        match self {
            FigureBox::Task(f) => render(dir, f),
            FigureBox::Pca(f) => render(dir, f),
            FigureBox::Spectra(f) => render(dir, f),
            FigureBox::Mds(f) => render(dir, f),
            FigureBox::Sine(f) => render(dir, f),
            FigureBox::IntegrationEigen(f) => render(dir, f),
            FigureBox::LineAttractors(f) => render(dir, f),
        }
    }
}

/// What the figures share: the store, its records, its task, and one representative
/// network per architecture.
struct Context<'a> {
    store: &'a Store,
    records: &'a [NetworkRecord],
    /// The store's experiment (None if `experiment.toml` is missing or invalid).
    experiment: Option<crate::config::Experiment>,
    /// Task name of the records ("flipflop", "sine", "integration").
    task: String,
    /// One network per architecture present, in [`style::ARCHS`] order.
    representatives: Vec<&'a NetworkRecord>,
}

impl<'a> Context<'a> {
    fn new(store: &'a Store, records: &'a [NetworkRecord]) -> Self {
        let experiment = crate::stages::store_experiment(store).ok();
        let task = experiment
            .as_ref()
            .map(|e| e.task.kind.name().to_string())
            .or_else(|| records.first().map(|r| r.task.clone()))
            .unwrap_or_default();
        let representatives = style::ARCHS
            .iter()
            .filter_map(|arch| {
                records
                    .iter()
                    .filter(|r| r.arch == *arch && !r.diverged && r.eval_mse.is_finite())
                    .min_by(|a, b| {
                        let key = |r: &NetworkRecord| {
                            let dir = store.network_dir(&r.id);
                            let analysed = dir.join("fixed_points.npz").is_file()
                                && dir.join("activity.npy").is_file();
                            (!r.passed, !analysed)
                        };
                        key(a)
                            .cmp(&key(b))
                            .then(a.eval_mse.total_cmp(&b.eval_mse))
                            .then(a.id.cmp(&b.id))
                    })
            })
            .collect();
        Context {
            store,
            records,
            experiment,
            task,
            representatives,
        }
    }

    fn network_file(&self, id: &str, name: &str) -> PathBuf {
        self.store.network_dir(id).join(name)
    }

    /// Panel title of a representative network: architecture, activation, and a mark if
    /// it did not pass the task criterion.
    fn panel_title(r: &NetworkRecord) -> String {
        let mut t = format!(
            "{} ({}, N={})",
            style::arch_label(&r.arch),
            r.activation,
            r.hidden
        );
        if !r.passed {
            t.push_str(" – not passed");
        }
        t
    }
}

/// Fixed points of one network as saved in `fixed_points.npz`.
struct FixedPoints {
    /// K × S.
    states: Vec<Vec<f64>>,
    /// Stability index per fixed point (−1 if unknown).
    index: Vec<i64>,
    /// Eigenvalues (re, im) per fixed point, by decreasing modulus.
    eigenvalues: Vec<Vec<(f64, f64)>>,
    /// Slow points, L × S (none in files written before rnndyn looked for them).
    slow_states: Vec<Vec<f64>>,
}

impl FixedPoints {
    fn load(path: &Path) -> Result<Option<FixedPoints>, FigureError> {
        if !path.is_file() {
            return Ok(None);
        }
        let (shape, states) = npy::read_npz_shaped(path, "states")?;
        let (_, index) = npy::read_npz_shaped(path, "stability_index")?;
        let (_, re) = npy::read_npz_shaped(path, "eigenvalues_re")?;
        let (_, im) = npy::read_npz_shaped(path, "eigenvalues_im")?;
        let k = shape.first().copied().unwrap_or(0);
        let s = shape.get(1).copied().unwrap_or(0);
        if states.len() != k * s || index.len() != k || re.len() != k * s || im.len() != k * s {
            return Err(format!("{}: inconsistent array shapes", path.display()).into());
        }
        // Rows of length S (the last partial row, if any, is left out).
        let rows = |v: &[f64]| -> Vec<Vec<f64>> {
            v.chunks_exact(s.max(1)).map(<[f64]>::to_vec).collect()
        };
        let slow_states = if npy::npz_names(path)?.iter().any(|n| n == "slow_states") {
            let (shape, v) = npy::read_npz_shaped(path, "slow_states")?;
            if v.len() != shape.first().copied().unwrap_or(0) * s {
                return Err(format!("{}: inconsistent slow_states shape", path.display()).into());
            }
            rows(&v)
        } else {
            Vec::new()
        };
        Ok(Some(FixedPoints {
            slow_states,
            states: rows(&states),
            index: index.iter().map(|&v| v as i64).collect(),
            eigenvalues: (0..k)
                .map(|i| (0..s).map(|j| (re[i * s + j], im[i * s + j])).collect())
                .collect(),
        }))
    }
}

/// Fixed and slow points saved for one row of `input_sweep.npz` (sine: one frequency;
/// integration: one context).
struct SweepRow {
    /// Fixed points and their stability index (−1 if unknown).
    fixed_points: Vec<(Vec<f64>, i64)>,
    slow_points: Vec<Vec<f64>>,
}

impl SweepRow {
    /// Every row of `path` (`rows` of them); `None` if the file was written before rnndyn
    /// saved the points (no `point_states`). Each array is read once.
    fn load_all(path: &Path, rows: usize) -> Result<Option<Vec<SweepRow>>, FigureError> {
        if !npy::npz_names(path)?.iter().any(|n| n == "point_states") {
            return Ok(None);
        }
        let mut out: Vec<SweepRow> = (0..rows)
            .map(|_| SweepRow {
                fixed_points: Vec::new(),
                slow_points: Vec::new(),
            })
            .collect();
        for prefix in ["point_", "slow_"] {
            let (shape, states) = npy::read_npz_shaped(path, &format!("{prefix}states"))?;
            let (_, value) = npy::read_npz_shaped(path, &format!("{prefix}value"))?;
            let (_, index) = npy::read_npz_shaped(path, &format!("{prefix}stability_index"))?;
            let p = shape.first().copied().unwrap_or(0);
            let s = shape.get(1).copied().unwrap_or(0);
            if states.len() != p * s || value.len() != p || index.len() != p {
                let e = format!("{}: inconsistent {prefix}* array shapes", path.display());
                return Err(e.into());
            }
            for i in 0..p {
                let k = value[i];
                let whole = k >= 0.0 && k.fract() == 0.0;
                let Some(row) = whole.then(|| out.get_mut(k as usize)).flatten() else {
                    let e = format!(
                        "{}: {prefix}value {} out of range",
                        path.display(),
                        value[i]
                    );
                    return Err(e.into());
                };
                let h = states[i * s..(i + 1) * s].to_vec();
                if prefix == "point_" {
                    row.fixed_points.push((h, index[i] as i64));
                } else {
                    row.slow_points.push(h);
                }
            }
        }
        Ok(Some(out))
    }
}

/// Principal axes of a point cloud.
struct Pca {
    mean: Vec<f64>,
    /// Unit principal axes, by decreasing variance.
    axes: Vec<Vec<f64>>,
    /// Fraction of the total variance along each axis.
    explained: Vec<f64>,
}

impl Pca {
    /// Top `k` principal axes of the rows of `x` (covariance eigendecomposition with faer;
    /// each axis signed so that its largest loading is positive).
    fn fit(x: &Matrix, k: usize) -> Result<Pca, FigureError> {
        let (n, s) = (x.rows(), x.cols());
        if n < 2 || s == 0 {
            return Err("too few states for PCA".into());
        }
        let mut mean = vec![0.0; s];
        for i in 0..n {
            for (m, v) in mean.iter_mut().zip(x.row(i)) {
                *m += v / n as f64;
            }
        }
        let mut cov = faer::Mat::<f64>::zeros(s, s);
        let mut z = vec![0.0; s];
        for i in 0..n {
            for (zj, (v, m)) in z.iter_mut().zip(x.row(i).iter().zip(&mean)) {
                *zj = v - m;
            }
            for a in 0..s {
                for b in 0..=a {
                    cov[(a, b)] += z[a] * z[b];
                }
            }
        }
        let evd = cov
            .self_adjoint_eigen(faer::Side::Lower)
            .map_err(|_| "PCA eigendecomposition failed")?;
        let total: f64 = (0..s).map(|i| evd.S()[i].max(0.0)).sum();
        let k = k.min(s);
        let mut axes = Vec::with_capacity(k);
        let mut explained = Vec::with_capacity(k);
        for c in 0..k {
            // faer sorts eigenvalues in non-decreasing order.
            let idx = s - 1 - c;
            let mut v: Vec<f64> = (0..s).map(|i| evd.U()[(i, idx)]).collect();
            let big = v
                .iter()
                .copied()
                .fold(0.0f64, |m, a| if a.abs() > m.abs() { a } else { m });
            if big < 0.0 {
                v.iter_mut().for_each(|a| *a = -*a);
            }
            axes.push(v);
            explained.push(if total > 0.0 {
                evd.S()[idx].max(0.0) / total
            } else {
                0.0
            });
        }
        Ok(Pca {
            mean,
            axes,
            explained,
        })
    }

    fn project(&self, h: &[f64]) -> Vec<f64> {
        self.axes
            .iter()
            .map(|a| {
                a.iter()
                    .zip(h.iter().zip(&self.mean))
                    .map(|(w, (v, m))| w * (v - m))
                    .sum()
            })
            .collect()
    }

    /// Axis label "PC<k+1> (xx% var.)".
    fn label(&self, k: usize) -> String {
        match self.explained.get(k) {
            Some(e) => format!("PC{} ({:.0}% var.)", k + 1, 100.0 * e),
            None => format!("PC{}", k + 1),
        }
    }
}

/// `(lo, hi)` covering `values` with a relative margin (a unit range around a constant).
fn padded_range(values: impl IntoIterator<Item = f64>, margin: f64) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.into_iter().filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (-1.0, 1.0);
    }
    let span = hi - lo;
    if span <= 1e-12 * (1.0 + lo.abs().max(hi.abs())) {
        return (lo - 0.5, hi + 0.5);
    }
    (lo - margin * span, hi + margin * span)
}
