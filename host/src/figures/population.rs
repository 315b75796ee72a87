//! Population-level figures: MDS embeddings under SVCCA and topological distance (paper
//! Fig. 1d, 1f), eigen-angle vs frequency for the sine task (Fig. 4c) and sorted
//! eigenvalue moduli for the integration task (Fig. 5c).

use super::style::{self, Glyph};
use super::{Context, DrawResult, Figure, FigureError, FixedPoints};
use crate::npy;
use crate::store::NetworkRecord;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;

/// Points (x, y) of one curve.
type Curve = Vec<(f64, f64)>;

/// One network's point in a scatter.
struct Point {
    arch: String,
    activation: String,
    x: f64,
    y: f64,
}

/// Draws points grouped by (architecture, activation) with the house markers.
fn scatter<DB: DrawingBackend>(
    c: &mut ChartContext<
        '_,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    points: &[Point],
    r: i32,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let mut groups: BTreeMap<(usize, &str), Vec<(f64, f64)>> = BTreeMap::new();
    for p in points {
        let a = style::ARCHS
            .iter()
            .position(|a| *a == p.arch)
            .unwrap_or(style::ARCHS.len());
        groups
            .entry((a, p.activation.as_str()))
            .or_default()
            .push((p.x, p.y));
    }
    for ((a, act), pts) in groups {
        let colour = style::arch_colour(style::ARCHS.get(a).copied().unwrap_or(""));
        style::plot_glyph(c, style::activation_glyph(act, colour), &pts, r)?;
    }
    Ok(())
}

/// Legend entries: the architectures present (colour) and the activations present (marker).
fn population_legend(points: &[Point]) -> Vec<(Glyph, String)> {
    let mut items = Vec::new();
    for a in style::ARCHS {
        if points.iter().any(|p| p.arch == a) {
            items.push((Glyph::Dot(style::arch_colour(a)), style::arch_label(a)));
        }
    }
    let grey = RGBColor(110, 110, 110);
    for act in ["tanh", "relu"] {
        if points.iter().any(|p| p.activation == act) {
            let label = if act == "relu" { "ReLU" } else { "tanh" };
            items.push((style::activation_glyph(act, grey), label.to_string()));
        }
    }
    items
}

pub(super) struct MdsFigure {
    /// (panel title, points).
    panels: Vec<(String, Vec<Point>)>,
    /// Which networks are embedded, e.g. "24 passing networks of 32".
    what: String,
}

pub(super) fn mds_figure(ctx: &Context<'_>) -> Result<Option<MdsFigure>, FigureError> {
    let dir = ctx.store.root().join("analysis");
    let Ok(order) = std::fs::read_to_string(dir.join("networks.txt")) else {
        return Ok(None);
    };
    let by_id: BTreeMap<&str, &NetworkRecord> =
        ctx.records.iter().map(|r| (r.id.as_str(), r)).collect();
    let ids: Vec<&str> = order.lines().filter(|l| !l.is_empty()).collect();
    if ids.is_empty() {
        return Ok(None);
    }
    let embedded: Vec<&NetworkRecord> =
        ids.iter().filter_map(|id| by_id.get(id).copied()).collect();
    let what = crate::stages::describe_set(&embedded, ctx.records.len());
    let mut panels = Vec::new();
    for (file, title) in [
        ("mds_svcca.npy", "Geometry: SVCCA distance"),
        ("mds_topology.npy", "Topology: fixed-point graph distance"),
    ] {
        let path = dir.join(file);
        if !path.is_file() {
            continue;
        }
        let m = npy::read_matrix(&path)?;
        if m.rows() != ids.len() || m.cols() < 2 {
            eprintln!(
                "rnndyn: warning: figure mds: {} has shape {:?}, expected ({}, 2)",
                path.display(),
                m.shape(),
                ids.len()
            );
            continue;
        }
        let points = ids
            .iter()
            .enumerate()
            .filter_map(|(i, id)| {
                by_id.get(id).map(|r| Point {
                    arch: r.arch.clone(),
                    activation: r.activation.clone(),
                    x: m.get(i, 0),
                    y: m.get(i, 1),
                })
            })
            .collect();
        panels.push((title.to_string(), points));
    }
    Ok((!panels.is_empty()).then_some(MdsFigure { panels, what }))
}

impl Figure for MdsFigure {
    fn name(&self) -> &'static str {
        "mds"
    }
    fn title(&self) -> String {
        format!("MDS embedding ({})", self.what)
    }
    fn size(&self) -> (u32, u32) {
        (
            560 * self.panels.len() as u32 + 20,
            style::TITLE_BAND + style::LEGEND_BAND + 540,
        )
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (body, legend) = style::frame(root, &self.title(), 1)?;
        let cells = body
            .margin(0, 10, 10, 10)
            .split_evenly((1, self.panels.len()));
        for ((title, points), area) in self.panels.iter().zip(&cells) {
            // Equal scales on both axes: MDS distances are isotropic.
            let (x0, x1) = super::padded_range(points.iter().map(|p| p.x), 0.08);
            let (y0, y1) = super::padded_range(points.iter().map(|p| p.y), 0.08);
            let half = ((x1 - x0).max(y1 - y0)) / 2.0;
            let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
            let mut c = style::chart(
                area,
                title,
                (cx - half, cx + half),
                (cy - half, cy + half),
                "MDS 1",
                "MDS 2",
            )?;
            scatter(&mut c, points, 6)?;
            // Networks at zero distance (or within a pixel) share one marker; say how many.
            let xy: Vec<(f64, f64)> = points.iter().map(|p| (p.x, p.y)).collect();
            let tol = 2.0 * half / f64::from(area.dim_in_pixel().0.max(1));
            c.draw_series(stacks(&xy, tol).into_iter().map(|(at, k)| {
                EmptyElement::at(at) + Text::new(format!("×{k}"), (7, -17), style::text(13))
            }))?;
        }
        let points: Vec<Point> = self
            .panels
            .iter()
            .flat_map(|p| p.1.iter())
            .map(|p| Point {
                arch: p.arch.clone(),
                activation: p.activation.clone(),
                x: 0.0,
                y: 0.0,
            })
            .collect();
        style::legend(&legend, &population_legend(&points))
    }
}

/// Groups of at least two points within `tol` of the group's first point (in x order) on
/// both axes: where each group sits and how many it holds.
fn stacks(points: &[(f64, f64)], tol: f64) -> Vec<((f64, f64), usize)> {
    let mut order: Vec<usize> = (0..points.len())
        .filter(|&i| points[i].0.is_finite() && points[i].1.is_finite())
        .collect();
    order.sort_by(|&a, &b| points[a].0.total_cmp(&points[b].0));
    let mut taken = vec![false; points.len()];
    let mut groups = Vec::new();
    for (k, &i) in order.iter().enumerate() {
        if taken[i] {
            continue;
        }
        let (x, y) = points[i];
        let mut count = 1;
        for &j in order[k + 1..]
            .iter()
            .take_while(|&&j| points[j].0 - x <= tol)
        {
            if !taken[j] && (points[j].1 - y).abs() <= tol {
                taken[j] = true;
                count += 1;
            }
        }
        if count > 1 {
            groups.push(((x, y), count));
        }
    }
    groups
}

/// Sine: leading eigen-angle against the target frequency of each input.
pub(super) struct SineFigure {
    /// Per network: points (ω, arg λ), with the network's arch and activation.
    networks: Vec<(String, String, Curve)>,
    omega: (f64, f64),
    /// Indices of trained frequencies (others held out), if not all.
    held_out: Vec<f64>,
}

pub(super) fn sine_figure(ctx: &Context<'_>) -> Result<Option<SineFigure>, FigureError> {
    if ctx.task != "sine" {
        return Ok(None);
    }
    let mut networks = Vec::new();
    let any_passed = ctx.records.iter().any(|r| r.passed);
    for r in ctx
        .records
        .iter()
        .filter(|r| !r.diverged && (r.passed || !any_passed))
    {
        let path = ctx.network_file(&r.id, "input_sweep.npz");
        if !path.is_file() {
            continue;
        }
        let (_, omega) = npy::read_npz_shaped(&path, "parameter")?;
        let (_, angle) = npy::read_npz_shaped(&path, "leading_angle")?;
        let pts: Vec<(f64, f64)> = omega
            .iter()
            .zip(&angle)
            .map(|(&w, &a)| (w, a.abs()))
            .collect();
        networks.push((r.arch.clone(), r.activation.clone(), pts));
    }
    if networks.is_empty() {
        return Ok(None);
    }
    let mut held_out = Vec::new();
    if let Some(crate::config::TaskKind::Sine(s)) = ctx.experiment.as_ref().map(|e| &e.task.kind) {
        if s.train_every > 1 {
            let gen = crate::task::TaskGen::new(
                &ctx.experiment
                    .as_ref()
                    .map(|e| e.task.clone())
                    .ok_or("no experiment")?,
            )?;
            if let crate::task::TaskGen::Sine(g) = gen {
                held_out = (0..g.frequencies())
                    .filter(|j| j % s.train_every != 0)
                    .map(|j| g.frequency(j))
                    .collect();
            }
        }
    }
    let omega = super::padded_range(networks.iter().flat_map(|n| n.2.iter().map(|p| p.0)), 0.05);
    Ok(Some(SineFigure {
        networks,
        omega,
        held_out,
    }))
}

/// The part of y = x inside both axis ranges. plotters clamps an end outside the plot area
/// onto its edge, so a segment drawn to `(y_max, y_max)` past the last ω ended at
/// `(ω_max, y_max)`: a line of the wrong slope, labelled identity.
fn identity_segment(x: (f64, f64), y: (f64, f64)) -> [(f64, f64); 2] {
    let (lo, hi) = (x.0.max(y.0), x.1.min(y.1));
    [(lo, lo), (hi, hi)]
}

impl Figure for SineFigure {
    fn name(&self) -> &'static str {
        "sine_frequency"
    }
    fn title(&self) -> String {
        format!(
            "Sine task: leading eigenvalue angle vs target frequency ({} networks)",
            self.networks.len()
        )
    }
    fn size(&self) -> (u32, u32) {
        (900, style::TITLE_BAND + style::LEGEND_BAND + 640)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (body, legend) = style::frame(root, &self.title(), 1)?;
        let area = body.margin(0, 10, 60, 60);
        let y_max = self
            .networks
            .iter()
            .flat_map(|n| n.2.iter().map(|p| p.1))
            .filter(|v| v.is_finite())
            .fold(self.omega.1, f64::max)
            * 1.05;
        let lo = self.omega.0.min(0.0);
        let mut c = style::chart(
            &area,
            "",
            (lo, self.omega.1),
            (lo, y_max),
            "target frequency ω (rad / step)",
            "arg λ of leading mode (rad / step)",
        )?;
        for &w in &self.held_out {
            c.draw_series(std::iter::once(PathElement::new(
                vec![(w, lo), (w, y_max)],
                RGBColor(220, 220, 220).stroke_width(6),
            )))?;
        }
        let identity = identity_segment((lo, self.omega.1), (lo, y_max));
        style::plot_glyph(&mut c, Glyph::Dashed(BLACK), &identity, 0)?;
        for (arch, _, pts) in &self.networks {
            let colour = style::arch_colour(arch);
            let finite: Vec<(f64, f64)> = pts.iter().copied().filter(|p| p.1.is_finite()).collect();
            c.draw_series(LineSeries::new(finite, colour.mix(0.5).stroke_width(1)))?;
        }
        let points: Vec<Point> = self
            .networks
            .iter()
            .flat_map(|(a, act, pts)| {
                pts.iter().map(|p| Point {
                    arch: a.clone(),
                    activation: act.clone(),
                    x: p.0,
                    y: p.1,
                })
            })
            .collect();
        scatter(&mut c, &points, 4)?;
        let mut items = population_legend(&points);
        items.push((Glyph::Dashed(BLACK), "identity".to_string()));
        if !self.held_out.is_empty() {
            items.push((
                Glyph::Band(RGBColor(170, 170, 170)),
                "held-out frequency".to_string(),
            ));
        }
        style::legend(&legend, &items)
    }
}

/// Integration: sorted eigenvalue moduli at the fixed points, mean ± s.e. per architecture.
pub(super) struct IntegrationEigenFigure {
    /// (arch, networks, per rank (mean, s.e.)).
    archs: Vec<(String, usize, Curve)>,
}

/// Ranks shown.
const RANKS: usize = 12;

pub(super) fn integration_eigen_figure(
    ctx: &Context<'_>,
) -> Result<Option<IntegrationEigenFigure>, FigureError> {
    if ctx.task != "integration" {
        return Ok(None);
    }
    let any_passed = ctx.records.iter().any(|r| r.passed);
    let mut archs = Vec::new();
    for a in style::ARCHS {
        // Per network: the sorted moduli averaged over its fixed points.
        let mut per_net: Vec<Vec<f64>> = Vec::new();
        for r in ctx
            .records
            .iter()
            .filter(|r| r.arch == a && !r.diverged && (r.passed || !any_passed))
        {
            let Some(fps) = FixedPoints::load(&ctx.network_file(&r.id, "fixed_points.npz"))? else {
                continue;
            };
            if fps.eigenvalues.is_empty() {
                continue;
            }
            let k = fps.eigenvalues[0].len().min(RANKS);
            let mut mean = vec![0.0; k];
            for ev in &fps.eigenvalues {
                let mut m: Vec<f64> = ev.iter().map(|e| e.0.hypot(e.1)).collect();
                m.sort_by(|x, y| y.total_cmp(x));
                for (acc, v) in mean.iter_mut().zip(m) {
                    *acc += v / fps.eigenvalues.len() as f64;
                }
            }
            per_net.push(mean);
        }
        if per_net.is_empty() {
            continue;
        }
        let ranks = per_net.iter().map(Vec::len).min().unwrap_or(0);
        let n = per_net.len() as f64;
        let stats = (0..ranks)
            .map(|j| {
                let m = per_net.iter().map(|v| v[j]).sum::<f64>() / n;
                let var = if n > 1.0 {
                    per_net.iter().map(|v| (v[j] - m).powi(2)).sum::<f64>() / (n - 1.0)
                } else {
                    0.0
                };
                (m, (var / n).sqrt())
            })
            .collect();
        archs.push((a.to_string(), per_net.len(), stats));
    }
    Ok((!archs.is_empty()).then_some(IntegrationEigenFigure { archs }))
}

impl Figure for IntegrationEigenFigure {
    fn name(&self) -> &'static str {
        "integration_eigenvalues"
    }
    fn title(&self) -> String {
        "Integration task: sorted eigenvalue moduli at the fixed points (mean ± s.e.)".into()
    }
    fn size(&self) -> (u32, u32) {
        (900, style::TITLE_BAND + style::LEGEND_BAND + 600)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (body, legend) = style::frame(root, &self.title(), 1)?;
        let area = body.margin(0, 10, 120, 120);
        let ranks = self.archs.iter().map(|a| a.2.len()).max().unwrap_or(1);
        let y_lo = self
            .archs
            .iter()
            .flat_map(|a| a.2.iter().map(|s| s.0 - s.1))
            .fold(1.0, f64::min)
            .max(0.0);
        let y_hi = self
            .archs
            .iter()
            .flat_map(|a| a.2.iter().map(|s| s.0 + s.1))
            .fold(1.0, f64::max);
        let pad = 0.05 * (y_hi - y_lo).max(0.1);
        let mut c = style::chart(
            &area,
            "",
            (0.5, ranks as f64 + 0.5),
            (y_lo - pad, y_hi + pad),
            "eigenvalue rank (by modulus)",
            "|λ|",
        )?;
        style::plot_glyph(
            &mut c,
            Glyph::Dashed(RGBColor(90, 90, 90)),
            &[(0.5, 1.0), (ranks as f64 + 0.5, 1.0)],
            0,
        )?;
        let n = self.archs.len() as f64;
        let mut items = Vec::new();
        for (k, (arch, count, stats)) in self.archs.iter().enumerate() {
            let colour = style::arch_colour(arch);
            // Small horizontal offsets so error bars of different architectures do not overlap.
            let dx = (k as f64 - (n - 1.0) / 2.0) * 0.08;
            let pts: Vec<(f64, f64)> = stats
                .iter()
                .enumerate()
                .map(|(j, s)| (j as f64 + 1.0 + dx, s.0))
                .collect();
            c.draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))?;
            for (&(x, m), s) in pts.iter().zip(stats) {
                if s.1 > 0.0 {
                    c.draw_series(std::iter::once(PathElement::new(
                        vec![(x, m - s.1), (x, m + s.1)],
                        colour.stroke_width(2),
                    )))?;
                }
            }
            style::plot_glyph(&mut c, Glyph::Dot(colour), &pts, 4)?;
            items.push((
                Glyph::Dot(colour),
                format!("{} (n={count})", style::arch_label(arch)),
            ));
        }
        items.push((Glyph::Dashed(RGBColor(90, 90, 90)), "|λ| = 1".to_string()));
        style::legend(&legend, &items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coincident_points_are_counted_once_per_stack() {
        let pts = [
            (0.5, 0.5),
            (0.0, 0.0),
            (1e-4, -1e-4),
            (0.0, 0.0),
            (0.5, 0.5 + 2e-3), // apart on y only
            (f64::NAN, 0.0),
            (-0.2, 0.3),
        ];
        assert_eq!(stacks(&pts, 1e-3), vec![((0.0, 0.0), 3)]);
        assert_eq!(stacks(&pts, 1e-2), vec![((0.0, 0.0), 3), ((0.5, 0.5), 2)]);
        assert!(stacks(&pts, 0.0).len() == 1 && stacks(&pts, 0.0)[0].1 == 2);
        assert!(stacks(&pts[..2], 1.0).len() == 1 && stacks(&[], 1.0).is_empty());
    }

    #[test]
    fn the_identity_line_stays_on_y_equals_x_inside_both_ranges() {
        // ω up to 0.62 with an outlying angle of 1.8: the old segment ended at (1.8, 1.8),
        // outside the ω axis.
        for (x, y) in [
            ((0.0, 0.62), (0.0, 1.8)),
            ((0.0, 2.0), (0.0, 0.7)),
            ((-0.1, 0.6), (0.0, 0.6)),
        ] {
            let [a, b] = identity_segment(x, y);
            for p in [a, b] {
                assert_eq!(p.0, p.1);
                assert!(x.0 <= p.0 && p.0 <= x.1 && y.0 <= p.1 && p.1 <= y.1);
            }
            assert_eq!(b.0, x.1.min(y.1));
        }
    }
}
