//! Per-network dynamics: trajectories and fixed points on the top principal components
//! (paper Fig. 1b), Jacobian spectra at the fixed points (Fig. 1c), and for the
//! integration task the line attractor of each context (Fig. 5b).

use super::style::{self, Glyph};
use super::{Context, DrawResult, Figure, FigureError, FixedPoints, Pca};
use crate::dynamics::fixed_points::{linearize_at, trajectory_states, FixedPoint};
use crate::dynamics::network::{DynamicsSettings, PROBE_STREAM};
use crate::model::Model;
use crate::npy;
use crate::task::TaskGen;
use plotters::coord::Shift;
use plotters::prelude::*;
use rnndyn_core::task::Context as IntegrationContext;
use rnndyn_core::Rng;

/// Probe trials drawn as trajectories.
const TRAJECTORIES: usize = 6;

/// One network's trajectories and fixed points in PC coordinates.
struct PcaPanel {
    arch: String,
    title: String,
    axis_labels: [String; 3],
    /// Each trajectory: points (PC1, PC2, PC3).
    trajectories: Vec<Vec<[f64; 3]>>,
    /// (PC coordinates, stability index).
    fixed_points: Vec<([f64; 3], i64)>,
    /// Slow points (PC coordinates).
    slow_points: Vec<[f64; 3]>,
}

fn pc3(p: &Pca, h: &[f64]) -> [f64; 3] {
    let v = p.project(h);
    [
        v.first().copied().unwrap_or(0.0),
        v.get(1).copied().unwrap_or(0.0),
        v.get(2).copied().unwrap_or(0.0),
    ]
}

fn pca_panels(ctx: &Context<'_>) -> Result<Vec<PcaPanel>, FigureError> {
    let steps = ctx
        .experiment
        .as_ref()
        .map(|e| e.task.trial_steps)
        .unwrap_or(0);
    let mut panels = Vec::new();
    for r in &ctx.representatives {
        let act_path = ctx.network_file(&r.id, "activity.npy");
        let Some(fps) = FixedPoints::load(&ctx.network_file(&r.id, "fixed_points.npz"))? else {
            continue;
        };
        if !act_path.is_file() {
            continue;
        }
        let act = npy::read_matrix(&act_path)?;
        let pca = Pca::fit(&act, 3)?;
        let t = if steps > 0 && act.rows() % steps == 0 {
            steps
        } else {
            act.rows()
        };
        let trajectories = (0..(act.rows() / t).min(TRAJECTORIES))
            .map(|k| {
                (k * t..(k + 1) * t)
                    .map(|i| pc3(&pca, act.row(i)))
                    .collect()
            })
            .collect();
        let fixed_points = fps
            .states
            .iter()
            .zip(&fps.index)
            .map(|(h, &i)| (pc3(&pca, h), i))
            .collect();
        let slow_points = fps.slow_states.iter().map(|h| pc3(&pca, h)).collect();
        panels.push(PcaPanel {
            arch: r.arch.clone(),
            title: Context::panel_title(r),
            axis_labels: [pca.label(0), pca.label(1), pca.label(2)],
            trajectories,
            fixed_points,
            slow_points,
        });
    }
    Ok(panels)
}

pub(super) struct PcaFigure {
    panels: Vec<PcaPanel>,
}

pub(super) fn pca_figure(ctx: &Context<'_>) -> Result<Option<PcaFigure>, FigureError> {
    let panels = pca_panels(ctx)?;
    Ok((!panels.is_empty()).then_some(PcaFigure { panels }))
}

/// The stability indices present, for the legend (3+ merged).
fn indices_present(points: impl Iterator<Item = i64>) -> Vec<i64> {
    let mut v: Vec<i64> = points.map(|i| i.min(3)).collect();
    v.sort_unstable();
    v.dedup();
    v
}

impl Figure for PcaFigure {
    fn name(&self) -> &'static str {
        "pca_fixed_points"
    }
    fn title(&self) -> String {
        "Hidden-state trajectories and fixed points on the top principal components".into()
    }
    fn size(&self) -> (u32, u32) {
        (
            400 * self.panels.len() as u32 + 20,
            style::TITLE_BAND + style::LEGEND_BAND + 2 * 380 + 10,
        )
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (body, legend) = style::frame(root, &self.title(), 1)?;
        let cells = body
            .margin(0, 10, 10, 10)
            .split_evenly((2, self.panels.len()));
        for (col, p) in self.panels.iter().enumerate() {
            for (row, dim) in [1usize, 2].into_iter().enumerate() {
                let area = &cells[row * self.panels.len() + col];
                let all = p
                    .trajectories
                    .iter()
                    .flatten()
                    .copied()
                    .chain(p.fixed_points.iter().map(|f| f.0))
                    .chain(p.slow_points.iter().copied());
                let pts: Vec<[f64; 3]> = all.collect();
                let x = super::padded_range(pts.iter().map(|q| q[0]), 0.06);
                let y = super::padded_range(pts.iter().map(|q| q[dim]), 0.06);
                let caption = if row == 0 { p.title.as_str() } else { "" };
                let mut c =
                    style::chart(area, caption, x, y, &p.axis_labels[0], &p.axis_labels[dim])?;
                let traj = style::arch_colour(&p.arch).mix(0.45);
                for tr in &p.trajectories {
                    c.draw_series(LineSeries::new(
                        tr.iter().map(|q| (q[0], q[dim])),
                        traj.stroke_width(1),
                    ))?;
                }
                // Slow points under the fixed points.
                c.draw_series(
                    p.slow_points
                        .iter()
                        .map(|q| Cross::new((q[0], q[dim]), 4, style::SLOW_POINT.stroke_width(2))),
                )?;
                // Unstable points first, so stable ones (the memories) stay on top.
                let mut fps: Vec<&([f64; 3], i64)> = p.fixed_points.iter().collect();
                fps.sort_by_key(|f| std::cmp::Reverse(f.1));
                for f in fps {
                    let colour = style::stability_colour(f.1);
                    c.draw_series(std::iter::once(Circle::new(
                        (f.0[0], f.0[dim]),
                        6,
                        colour.filled(),
                    )))?;
                    c.draw_series(std::iter::once(Circle::new(
                        (f.0[0], f.0[dim]),
                        6,
                        WHITE.stroke_width(1),
                    )))?;
                }
            }
        }
        let mut items = Vec::new();
        for p in &self.panels {
            items.push((
                Glyph::Line(style::arch_colour(&p.arch).mix(0.6).to_rgba().into_rgb(), 2),
                format!("{} trajectories", style::arch_label(&p.arch)),
            ));
        }
        for i in indices_present(
            self.panels
                .iter()
                .flat_map(|p| p.fixed_points.iter().map(|f| f.1)),
        ) {
            items.push((
                Glyph::Dot(style::stability_colour(i)),
                style::stability_label(i).to_string(),
            ));
        }
        if self.panels.iter().any(|p| !p.slow_points.is_empty()) {
            items.push((Glyph::Cross(style::SLOW_POINT), "slow points".to_string()));
        }
        style::legend(&legend, &items)
    }
}

trait IntoRgb {
    fn into_rgb(self) -> RGBColor;
}
impl IntoRgb for RGBAColor {
    fn into_rgb(self) -> RGBColor {
        // Blend onto white (legend glyphs are drawn opaque).
        let a = self.3;
        let f = |c: u8| (c as f64 * a + 255.0 * (1.0 - a)).round() as u8;
        RGBColor(f(self.0), f(self.1), f(self.2))
    }
}

/// One network's eigenvalues, per fixed point.
struct SpectrumPanel {
    title: String,
    /// (re, im, stability index of the fixed point).
    eigenvalues: Vec<(f64, f64, i64)>,
    stable: usize,
    saddles: usize,
}

pub(super) struct SpectraFigure {
    panels: Vec<SpectrumPanel>,
    radius: f64,
}

impl SpectraFigure {
    /// The rows drawn: 0 (stable points) and 1 (unstable ones), leaving out a row no panel
    /// has points for (sine networks often have only unstable ones).
    fn rows(&self) -> Vec<usize> {
        let stable = self.panels.iter().any(|p| p.stable > 0);
        let unstable = self.panels.iter().any(|p| p.saddles > 0);
        match (stable, unstable) {
            (true, false) => vec![0],
            (false, true) => vec![1],
            _ => vec![0, 1],
        }
    }
}

pub(super) fn spectra_figure(ctx: &Context<'_>) -> Result<Option<SpectraFigure>, FigureError> {
    let mut panels = Vec::new();
    for r in &ctx.representatives {
        let Some(fps) = FixedPoints::load(&ctx.network_file(&r.id, "fixed_points.npz"))? else {
            continue;
        };
        if fps.states.is_empty() {
            continue;
        }
        let eigenvalues = fps
            .eigenvalues
            .iter()
            .zip(&fps.index)
            .flat_map(|(ev, &i)| ev.iter().map(move |&(re, im)| (re, im, i)))
            .collect();
        let stable = fps.index.iter().filter(|&&i| i == 0).count();
        panels.push(SpectrumPanel {
            title: Context::panel_title(r),
            eigenvalues,
            stable,
            saddles: fps.index.len() - stable,
        });
    }
    if panels.is_empty() {
        return Ok(None);
    }
    let max = panels
        .iter()
        .flat_map(|p| p.eigenvalues.iter())
        .map(|e| e.0.hypot(e.1))
        .filter(|m| m.is_finite())
        .fold(1.0, f64::max);
    Ok(Some(SpectraFigure {
        panels,
        radius: (max * 1.08).max(1.15),
    }))
}

impl Figure for SpectraFigure {
    fn name(&self) -> &'static str {
        "eigenvalue_spectra"
    }
    fn title(&self) -> String {
        "Jacobian eigenvalues at the fixed points (unit circle dashed)".into()
    }
    fn size(&self) -> (u32, u32) {
        (
            400 * self.panels.len() as u32 + 20,
            style::TITLE_BAND + style::LEGEND_BAND + 400 * self.rows().len() as u32,
        )
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (body, legend) = style::frame(root, &self.title(), 1)?;
        let n = self.panels.len();
        let rows = self.rows();
        let cells = body.margin(0, 10, 10, 10).split_evenly((rows.len(), n));
        let r = self.radius;
        let circle: Vec<(f64, f64)> = (0..=240)
            .map(|k| k as f64 * std::f64::consts::TAU / 240.0)
            .map(|a| (a.cos(), a.sin()))
            .collect();
        // Top row: stable fixed points; bottom row: unstable ones (saddles, unstable foci),
        // coloured by index, higher indices on top.
        for (col, p) in self.panels.iter().enumerate() {
            for (ri, &row) in rows.iter().enumerate() {
                let caption = match (row, ri) {
                    (0, _) => format!("{} · {} stable", p.title, p.stable),
                    (_, 0) => format!("{} · {} unstable", p.title, p.saddles),
                    _ => format!("{} unstable", p.saddles),
                };
                let mut c = style::chart(
                    &cells[ri * n + col],
                    &caption,
                    (-r, r),
                    (-r, r),
                    "Re λ",
                    "Im λ",
                )?;
                style::plot_glyph(&mut c, Glyph::Dashed(RGBColor(90, 90, 90)), &circle, 0)?;
                let mut ev: Vec<&(f64, f64, i64)> = p
                    .eigenvalues
                    .iter()
                    .filter(|e| (e.2 == 0) == (row == 0))
                    .collect();
                ev.sort_by_key(|e| e.2);
                for e in ev {
                    let colour = style::stability_colour(e.2);
                    if row == 0 {
                        c.draw_series(std::iter::once(Circle::new(
                            (e.0, e.1),
                            3,
                            colour.mix(0.55).filled(),
                        )))?;
                    } else {
                        c.draw_series(std::iter::once(Cross::new(
                            (e.0, e.1),
                            4,
                            colour.stroke_width(2),
                        )))?;
                    }
                }
            }
        }
        let mut items = vec![];
        for i in indices_present(
            self.panels
                .iter()
                .flat_map(|p| p.eigenvalues.iter().map(|e| e.2)),
        ) {
            let glyph = if i == 0 {
                Glyph::Dot(style::stability_colour(0))
            } else {
                Glyph::Cross(style::stability_colour(i))
            };
            let label = if i == 0 {
                "at stable fixed points".to_string()
            } else {
                format!("at unstable fixed points, {}", style::stability_label(i))
            };
            items.push((glyph, label));
        }
        items.push((Glyph::Dashed(RGBColor(90, 90, 90)), "|λ| = 1".to_string()));
        style::legend(&legend, &items)
    }
}

/// One context of one network, in (PC1, PC2).
#[derive(Default)]
struct ContextDynamics {
    trajectories: Vec<Vec<(f64, f64)>>,
    /// Fixed points and whether each is stable.
    fixed_points: Vec<((f64, f64), bool)>,
    /// Slow points (the analysis' own definition, as in `fixed_points.npz`).
    slow_points: Vec<(f64, f64)>,
    /// Probe states after [`RELAX_STEPS`] steps at the context's input with zero streams:
    /// the fast modes have died out, so they lie along the slow manifold (the line).
    relaxed: Vec<(f64, f64)>,
    /// At each stable fixed point, its slowest real mode drawn across the relaxed states.
    slow_modes: Vec<[(f64, f64); 2]>,
}

/// Input-free steps that take a probe state onto the slow manifold.
const RELAX_STEPS: usize = 50;

/// Integration: fixed points of each context on the top PCs of the probe activity.
struct LinePanel {
    title: String,
    axis_labels: [String; 2],
    contexts: [ContextDynamics; 2],
}

pub(super) struct LineAttractorFigure {
    panels: Vec<LinePanel>,
    /// q = ½‖F(h) − h‖² at or below which a search end is a slow point.
    slow_q_tolerance: f64,
}

impl LineAttractorFigure {
    /// Legend rows: its six entries take about 1600 px in one row.
    fn legend_lines(&self) -> u32 {
        1600u32.div_ceil(400 * self.panels.len().max(1) as u32)
    }
}

const CONTEXT_COLOURS: [RGBColor; 2] = [RGBColor(0, 114, 178), RGBColor(213, 94, 0)];

pub(super) fn line_attractor_figure(
    ctx: &Context<'_>,
) -> Result<Option<LineAttractorFigure>, FigureError> {
    let Some(exp) = ctx.experiment.as_ref() else {
        return Ok(None);
    };
    let task = TaskGen::new(&exp.task)?;
    let TaskGen::Integration(g) = task else {
        return Ok(None);
    };
    let t = exp.task.trial_steps;
    let settings = DynamicsSettings::from_experiment(exp).fixed_points;
    let mut panels = Vec::new();
    for r in &ctx.representatives {
        let act_path = ctx.network_file(&r.id, "activity.npy");
        let sweep_path = ctx.network_file(&r.id, "input_sweep.npz");
        if !act_path.is_file() || !sweep_path.is_file() {
            continue;
        }
        // The points of each context, as the analysis saved them (row k = context k).
        let Some([first, second]) = super::SweepRow::load_all(&sweep_path, 2)?
            .map(<[super::SweepRow; 2]>::try_from)
            .and_then(Result::ok)
        else {
            eprintln!(
                "rnndyn: warning: figure line_attractors: {} has no fixed-point states \
                 (analysed by an older rnndyn); `rnndyn fixed-points STORE --force` saves them",
                sweep_path.display()
            );
            continue;
        };
        let act = npy::read_matrix(&act_path)?;
        let pca = Pca::fit(&act, 2)?;
        let (model, p) = crate::stages::load_network(ctx.store, r)?;
        let s = model.state_dim();
        if s != act.cols() {
            continue;
        }
        let pc = |h: &[f64]| {
            let v = pca.project(h);
            (v[0], v.get(1).copied().unwrap_or(0.0))
        };
        let mut contexts: [ContextDynamics; 2] = Default::default();
        for (k, (context, saved)) in [
            (IntegrationContext::First, first),
            (IntegrationContext::Second, second),
        ]
        .into_iter()
        .enumerate()
        {
            let mut rng = Rng::stream(exp.seed, PROBE_STREAM ^ (0x11E0 + k as u64));
            let trials = 8;
            let mut xs = vec![0.0; trials * t * 4];
            let mut ys = vec![0.0; t];
            for tr in 0..trials {
                let bias = [rng.uniform_range(-0.5, 0.5), rng.uniform_range(-0.5, 0.5)];
                g.fill_trial(
                    &mut rng,
                    bias,
                    context,
                    t,
                    &mut xs[tr * t * 4..(tr + 1) * t * 4],
                    &mut ys,
                )?;
            }
            let states = trajectory_states(model.as_ref(), &p, &xs, trials, t)?;
            let x = if k == 0 {
                [0.0, 0.0, 1.0, 0.0]
            } else {
                [0.0, 0.0, 0.0, 1.0]
            };
            contexts[k].trajectories = (0..trials.min(4))
                .map(|tr| {
                    (0..t)
                        .map(|i| pc(&states[(tr * t + i) * s..(tr * t + i + 1) * s]))
                        .collect()
                })
                .collect();
            contexts[k].fixed_points = saved
                .fixed_points
                .iter()
                .map(|(h, index)| (pc(h), *index == 0))
                .collect();
            contexts[k].slow_points = saved.slow_points.iter().map(|h| pc(h)).collect();
            let relaxed = relaxed_states(model.as_ref(), &p, &x, &states, s, trials * t);
            // The slowest mode of each attractor, from its linearisation (the sweep keeps
            // eigenvalues, not eigenvectors).
            contexts[k].slow_modes = saved
                .fixed_points
                .iter()
                .filter(|(_, index)| *index == 0)
                .map(|(h, _)| {
                    linearize_at(model.as_ref(), &p, &x, h, f64::NAN, f64::NAN, &settings)
                })
                .filter_map(|f| slow_mode_segment(&f, &relaxed, s))
                .map(|[a, b]| [pc(&a), pc(&b)])
                .collect();
            contexts[k].relaxed = relaxed.chunks_exact(s).map(pc).collect();
        }
        panels.push(LinePanel {
            title: Context::panel_title(r),
            axis_labels: [pca.label(0), pca.label(1)],
            contexts,
        });
    }
    Ok((!panels.is_empty()).then_some(LineAttractorFigure {
        panels,
        slow_q_tolerance: settings.slow_q_tolerance,
    }))
}

impl Figure for LineAttractorFigure {
    fn name(&self) -> &'static str {
        "line_attractors"
    }
    fn title(&self) -> String {
        "Line attractors of each context on the top two principal components".into()
    }
    fn size(&self) -> (u32, u32) {
        (
            400 * self.panels.len() as u32 + 20,
            style::TITLE_BAND + style::LEGEND_BAND * self.legend_lines() + 420,
        )
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (body, legend) = style::frame(root, &self.title(), self.legend_lines())?;
        let cells = body
            .margin(0, 10, 10, 10)
            .split_evenly((1, self.panels.len()));
        for (p, area) in self.panels.iter().zip(&cells) {
            let pts: Vec<(f64, f64)> = p
                .contexts
                .iter()
                .flat_map(|c| {
                    c.trajectories
                        .iter()
                        .flatten()
                        .copied()
                        .chain(c.relaxed.iter().copied())
                        .chain(c.fixed_points.iter().map(|f| f.0))
                })
                .collect();
            let x = super::padded_range(pts.iter().map(|q| q.0), 0.06);
            let y = super::padded_range(pts.iter().map(|q| q.1), 0.06);
            let mut c = style::chart(area, &p.title, x, y, &p.axis_labels[0], &p.axis_labels[1])?;
            for (k, cd) in p.contexts.iter().enumerate() {
                for tr in &cd.trajectories {
                    c.draw_series(LineSeries::new(
                        tr.iter().copied(),
                        CONTEXT_COLOURS[k].mix(0.2).stroke_width(1),
                    ))?;
                }
            }
            // Searches that ran off along an unbounded (ReLU) direction stay out of view.
            let inside = |q: &&(f64, f64)| (x.0..=x.1).contains(&q.0) && (y.0..=y.1).contains(&q.1);
            for (k, cd) in p.contexts.iter().enumerate() {
                c.draw_series(
                    cd.relaxed
                        .iter()
                        .filter(inside)
                        .map(|&q| Circle::new(q, 2, CONTEXT_COLOURS[k].mix(0.6).filled())),
                )?;
            }
            for (k, cd) in p.contexts.iter().enumerate() {
                for seg in &cd.slow_modes {
                    c.draw_series(LineSeries::new(
                        seg.iter().copied(),
                        CONTEXT_COLOURS[k].stroke_width(2),
                    ))?;
                }
                let slow: Vec<(f64, f64)> = cd.slow_points.iter().filter(inside).copied().collect();
                style::plot_glyph(&mut c, Glyph::Triangle(CONTEXT_COLOURS[k]), &slow, 4)?;
            }
            for (k, cd) in p.contexts.iter().enumerate() {
                let colour = CONTEXT_COLOURS[k];
                let stable: Vec<(f64, f64)> = cd
                    .fixed_points
                    .iter()
                    .filter(|f| f.1)
                    .map(|f| f.0)
                    .collect();
                let unstable: Vec<(f64, f64)> = cd
                    .fixed_points
                    .iter()
                    .filter(|f| !f.1)
                    .map(|f| f.0)
                    .collect();
                style::plot_glyph(&mut c, Glyph::Cross(colour), &unstable, 5)?;
                style::plot_glyph(&mut c, Glyph::Dot(colour), &stable, 5)?;
            }
        }
        let items = vec![
            (
                Glyph::Dot(CONTEXT_COLOURS[0]),
                "context 1 fixed points (stable)".to_string(),
            ),
            (
                Glyph::Dot(CONTEXT_COLOURS[1]),
                "context 2 fixed points (stable)".to_string(),
            ),
            (
                Glyph::Cross(RGBColor(90, 90, 90)),
                "unstable fixed point".to_string(),
            ),
            (
                Glyph::Line(RGBColor(90, 90, 90), 2),
                "slowest mode of a stable point".to_string(),
            ),
            (
                Glyph::SmallDot(RGBColor(90, 90, 90)),
                format!("state after {RELAX_STEPS} input-free steps"),
            ),
            (
                Glyph::Triangle(RGBColor(90, 90, 90)),
                format!("slow point (½‖F(h) − h‖² ≤ {:.0e})", self.slow_q_tolerance),
            ),
            (
                Glyph::Line(RGBColor(190, 190, 190), 1),
                "trajectories".to_string(),
            ),
        ];
        style::legend(&legend, &items)
    }
}

/// Every tenth probe state (`rows` of length `s`), run [`RELAX_STEPS`] steps at input `x`;
/// states that leave the finite range are dropped.
fn relaxed_states(
    model: &dyn Model,
    p: &[f64],
    x: &[f64],
    states: &[f64],
    s: usize,
    rows: usize,
) -> Vec<f64> {
    let mut out = Vec::new();
    let (mut h, mut next) = (vec![0.0; s], vec![0.0; s]);
    for r in (0..rows).step_by(10) {
        h.copy_from_slice(&states[r * s..(r + 1) * s]);
        for _ in 0..RELAX_STEPS {
            model.step(p, &h, x, &mut next);
            std::mem::swap(&mut h, &mut next);
        }
        if h.iter().all(|v| v.is_finite()) {
            out.extend_from_slice(&h);
        }
    }
    out
}

/// The segment `h* + a·v`, `a` over the span of `relaxed` along `v`, where `v` is the unit
/// eigenvector of the real eigenvalue closest to 1 (none if that eigenvalue is complex or
/// nothing spans it).
fn slow_mode_segment(f: &FixedPoint, relaxed: &[f64], s: usize) -> Option<[Vec<f64>; 2]> {
    let (j, ev) = f.eigenvalues.iter().enumerate().min_by(|a, b| {
        let d = |e: &rnndyn_core::linalg::Eigenvalue<f64>| (e.re - 1.0).hypot(e.im);
        d(a.1).total_cmp(&d(b.1))
    })?;
    if ev.im != 0.0 || f.eigenvectors.len() < (j + 1) * s {
        return None;
    }
    let v = &f.eigenvectors[j * s..(j + 1) * s];
    let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
    if !(norm > 0.0 && norm.is_finite()) {
        return None;
    }
    let along = |h: &[f64]| -> f64 {
        h.iter()
            .zip(&f.state)
            .zip(v)
            .map(|((a, b), c)| (a - b) * c)
            .sum::<f64>()
            / norm
    };
    let (lo, hi) = relaxed
        .chunks_exact(s)
        .map(along)
        .fold((0.0f64, 0.0f64), |(lo, hi), a| (lo.min(a), hi.max(a)));
    if hi - lo <= 0.0 {
        return None;
    }
    let point = |a: f64| -> Vec<f64> {
        f.state
            .iter()
            .zip(v)
            .map(|(h, c)| h + a * c / norm)
            .collect()
    };
    Some([point(lo), point(hi)])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row no network has points for is left out (every sine fixed point is unstable).
    #[test]
    fn spectra_leave_out_an_empty_row() {
        let panel = |stable, saddles| SpectrumPanel {
            title: "net".into(),
            eigenvalues: vec![],
            stable,
            saddles,
        };
        let fig = |panels| SpectraFigure {
            panels,
            radius: 1.2,
        };
        assert_eq!(fig(vec![panel(0, 1), panel(0, 2)]).rows(), [1]);
        assert_eq!(fig(vec![panel(8, 0)]).rows(), [0]);
        assert_eq!(fig(vec![panel(8, 0), panel(0, 1)]).rows(), [0, 1]);
        let one_row = fig(vec![panel(0, 1)]).size().1;
        let two_rows = fig(vec![panel(1, 1)]).size().1;
        assert_eq!(two_rows - one_row, 400);
    }
    use crate::model::{build, Arch, ModelSpec};
    use rnndyn_core::cell::{Activation, GruConvention};
    use rnndyn_core::linalg::Eigenvalue;

    /// `F(h) = relu(h W + b)` with `W = diag(1, ½, ½, ½)`, `b = (0, ½, ½, ½)`: every
    /// `(t, 1, 1, 1)` with `t ≥ 0` is a fixed point (an exact line attractor along e₁), and
    /// the other coordinates approach 1 as `1 + (h − 1)·2⁻ᵏ`.
    #[test]
    fn relaxed_states_and_the_slow_mode_trace_a_line_attractor() {
        let spec = ModelSpec {
            arch: Arch::Vanilla,
            activation: Activation::Relu,
            gru_convention: GruConvention::ResetBeforeProduct,
            hidden: 4,
            inputs: 3,
            outputs: 3,
        };
        let model = build(&spec).unwrap();
        let mut p = vec![0.0; model.param_count()];
        for i in 0..4 {
            p[i * 4 + i] = if i == 0 { 1.0 } else { 0.5 };
        }
        p[16 + 12 + 1..16 + 12 + 4].fill(0.5);
        // 20 "probe states" (every tenth is relaxed: rows 0 and 10).
        let mut states = vec![0.0; 20 * 4];
        for (r, h) in states.chunks_exact_mut(4).enumerate() {
            h.copy_from_slice(&[0.1 * r as f64, 3.0, 0.0, 2.0]);
        }
        let relaxed = relaxed_states(model.as_ref(), &p, &[0.0; 3], &states, 4, 20);
        assert_eq!(relaxed.len(), 2 * 4);
        for (h, t) in relaxed.chunks_exact(4).zip([0.0, 1.0]) {
            assert!((h[0] - t).abs() < 1e-12, "{h:?}");
            for &v in &h[1..] {
                assert!((v - 1.0).abs() < 1e-12, "{h:?}");
            }
        }

        // The fixed point (0.5, 1, 1, 1) with spectrum {1, ½, ½, ½}; the eigenvector of 1 is
        // e₁, given with length 2 to check the normalisation.
        let mut vectors = vec![0.0; 16];
        vectors[0] = 2.0;
        for j in 1..4 {
            vectors[j * 4 + j] = 1.0;
        }
        let value = |re: f64| Eigenvalue { re, im: 0.0 };
        let f = FixedPoint {
            state: vec![0.5, 1.0, 1.0, 1.0],
            residual: 0.0,
            q: 0.0,
            stability_index: 0,
            slow_modes: 1,
            neutral_modes: 1,
            spectral_radius: 1.0,
            leading_angle: 0.0,
            eigenvalues: vec![value(1.0), value(0.5), value(0.5), value(0.5)],
            eigenvectors: vectors,
            jacobian: vec![],
            output: vec![],
        };
        let [a, b] = slow_mode_segment(&f, &relaxed, 4).unwrap();
        assert_eq!(a, vec![0.0, 1.0, 1.0, 1.0]);
        assert_eq!(b, vec![1.0, 1.0, 1.0, 1.0]);

        // A complex slowest pair has no single direction to draw.
        let mut g = f.clone();
        g.eigenvalues[0] = Eigenvalue { re: 0.99, im: 0.1 };
        g.eigenvalues[1] = Eigenvalue { re: 0.99, im: -0.1 };
        assert!(slow_mode_segment(&g, &relaxed, 4).is_none());
    }
}
