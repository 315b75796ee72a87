//! Fixed points of one network at one input: start states from trajectories, the core's
//! Adam + Newton search on every start (in parallel), tolerance, deduplication, outliers,
//! and the linearisation at each unique fixed point.

use crate::model::Model;
use crate::npy::{NpyError, NpzWriter};
use rayon::prelude::*;
use rnndyn_core::fixed_point::{
    AdamPhase, FixedPointParams, FixedPointReport, LinearizeParams, NewtonPhase, Stop,
};
use rnndyn_core::linalg::Eigenvalue;
use rnndyn_core::{Error as CoreError, Rng};
use std::path::Path;

/// Starts per call of the core's batched search (rows of the Adam phase's matrix products).
pub const SEARCH_BATCH: usize = 32;

/// Settings of the search. Defaults are documented per field.
#[derive(Clone, Debug, PartialEq)]
pub struct FixedPointSettings {
    /// Start states sampled from trajectories (default 256).
    pub starts: usize,
    /// Std of the Gaussian noise added to each start state (default 0.05).
    pub start_noise: f64,
    /// Keep candidates with `‖F(h) − h‖ ≤` this (default 1e-10).
    pub residual_tolerance: f64,
    /// Two fixed points closer than `dedup_tolerance · max(1, ‖h‖)` are one (default 1e-6).
    pub dedup_tolerance: f64,
    /// Fixed points farther from the trajectories' centroid than `outlier_scale` × the
    /// trajectories' RMS radius are outliers (default 10).
    pub outlier_scale: f64,
    /// A search that stalled (residual above `residual_tolerance`) with `q = ½‖F(h) − h‖²`
    /// at or below this found a slow point (default 1e-6: the state moves by at most
    /// ≈ 1.4e-3 per step there).
    pub slow_q_tolerance: f64,
    /// Slow points closer than `slow_dedup_tolerance · max(1, ‖h‖)` to a fixed point or to
    /// a slow point with smaller q are not kept (default 1e-2).
    pub slow_dedup_tolerance: f64,
    /// The core search (default: Adam ≤ 300 iterations to q < 1e-8, then Newton).
    pub search: FixedPointParams,
    /// Slow-mode tolerance of the linearisation (default 0.02).
    pub linearize: LinearizeParams,
}

impl Default for FixedPointSettings {
    fn default() -> Self {
        FixedPointSettings {
            starts: 256,
            start_noise: 0.05,
            residual_tolerance: 1e-10,
            dedup_tolerance: 1e-6,
            outlier_scale: 10.0,
            slow_q_tolerance: 1e-6,
            slow_dedup_tolerance: 1e-2,
            search: FixedPointParams {
                adam: AdamPhase {
                    max_iterations: 300,
                    q_tolerance: 1e-8,
                    ..Default::default()
                },
                newton: NewtonPhase::default(),
            },
            linearize: LinearizeParams::default(),
        }
    }
}

/// What became of a candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CandidateStatus {
    /// A unique fixed point (index into `fixed_points`).
    Kept(usize),
    /// Residual above the tolerance.
    NotConverged,
    /// Converged onto an already found fixed point (its index).
    Duplicate(usize),
    /// Too far from the trajectories.
    Outlier,
    /// The search returned an error (non-finite state).
    Failed,
    /// Not converged, but stalled at a small q: a slow point (index into `slow_points`).
    Slow(usize),
}

impl CandidateStatus {
    /// Numeric code saved in `fixed_points.npz`: 0 kept, 1 not converged, 2 duplicate,
    /// 3 outlier, 4 failed, 5 slow point.
    pub fn code(self) -> i64 {
        match self {
            CandidateStatus::Kept(_) => 0,
            CandidateStatus::NotConverged => 1,
            CandidateStatus::Duplicate(_) => 2,
            CandidateStatus::Outlier => 3,
            CandidateStatus::Failed => 4,
            CandidateStatus::Slow(_) => 5,
        }
    }
    /// Index of the slow point this candidate found, or −1.
    pub fn slow_point(self) -> i64 {
        match self {
            CandidateStatus::Slow(i) => i as i64,
            _ => -1,
        }
    }
    /// Index of the fixed point this candidate found (kept or duplicate), or −1.
    pub fn fixed_point(self) -> i64 {
        match self {
            CandidateStatus::Kept(i) | CandidateStatus::Duplicate(i) => i as i64,
            _ => -1,
        }
    }
}

/// Numeric code of a stop reason (saved): 0 converged, 1 max iterations, 2 singular,
/// 3 stalled, 4 diverged, 5 skipped.
pub fn stop_code(s: Stop) -> i64 {
    match s {
        Stop::Converged => 0,
        Stop::MaxIterations => 1,
        Stop::Singular => 2,
        Stop::Stalled => 3,
        Stop::Diverged => 4,
        Stop::Skipped => 5,
    }
}

/// One search from one start state.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// The state the search started from (length S).
    pub start: Vec<f64>,
    /// The state it ended at (the start itself if the search failed before moving).
    pub end: Vec<f64>,
    /// The core search's report (iterations, residual, q, why it stopped); `None` when the
    /// search returned an error.
    pub report: Option<FixedPointReport<f64>>,
    /// What became of the candidate.
    pub status: CandidateStatus,
}

/// A unique fixed point (or slow point) with its linearisation.
#[derive(Clone, Debug)]
pub struct FixedPoint {
    /// The state h* (length S; `[h; c]` for the LSTM).
    pub state: Vec<f64>,
    /// `‖F(h) − h‖` where the search ended.
    pub residual: f64,
    /// `½‖F(h) − h‖²` where the search ended.
    pub q: f64,
    /// Number of |λ| > 1.
    pub stability_index: usize,
    /// Number of ||λ| − 1| < tolerance.
    pub slow_modes: usize,
    /// Number of ||λ| − 1| ≤ the unstable margin (neutral: the point is not isolated or
    /// not attracting along them).
    pub neutral_modes: usize,
    /// Largest |λ| (NaN if the eigen solver failed).
    pub spectral_radius: f64,
    /// arg λ of the leading oscillatory mode (0 if none).
    pub leading_angle: f64,
    /// Eigenvalues by decreasing modulus.
    pub eigenvalues: Vec<Eigenvalue<f64>>,
    /// Right eigenvectors, row `j` for eigenvalue `j` (complex pairs as re/im rows).
    pub eigenvectors: Vec<f64>,
    /// State Jacobian, row-major.
    pub jacobian: Vec<f64>,
    /// Readout at the fixed point.
    pub output: Vec<f64>,
}

/// All fixed points of one network at one input.
#[derive(Clone, Debug)]
pub struct FixedPointAnalysis {
    /// State dimension S (N, or 2N for the LSTM).
    pub state_dim: usize,
    /// Readout dimension O (so `outputs` is (0, O), not (0, 0), when nothing was found).
    pub output_dim: usize,
    /// The constant input x the fixed points are of.
    pub input: Vec<f64>,
    /// Every search, in start order.
    pub candidates: Vec<Candidate>,
    /// Unique fixed points, best residual first.
    pub fixed_points: Vec<FixedPoint>,
    /// Slow points, smallest q first (see [`FixedPointSettings::slow_q_tolerance`]).
    pub slow_points: Vec<FixedPoint>,
}

impl FixedPointAnalysis {
    /// Number of fixed points with each stability index (index `k` = k unstable dims).
    /// Points whose spectrum could not be computed are not counted here (see
    /// [`FixedPointAnalysis::unknown_spectra`]).
    pub fn count_by_index(&self) -> Vec<usize> {
        let known = || {
            self.fixed_points
                .iter()
                .map(|f| f.stability_index)
                .filter(|&k| k != usize::MAX)
        };
        let mut c = vec![0; known().max().unwrap_or(0) + 1];
        for k in known() {
            c[k] += 1;
        }
        c
    }

    /// Fixed points kept with an unknown spectrum (the eigen solver failed on their
    /// Jacobian; `stability_index` is `usize::MAX`, −1 in the `.npz`).
    pub fn unknown_spectra(&self) -> usize {
        self.fixed_points
            .iter()
            .filter(|f| f.stability_index == usize::MAX)
            .count()
    }

    /// Index of the fixed point within `tol · max(1, ‖h‖)` of `h`, if any (nearest).
    pub fn match_state(&self, h: &[f64], tol: f64) -> Option<usize> {
        let mut best = None;
        let mut best_d = f64::INFINITY;
        for (i, f) in self.fixed_points.iter().enumerate() {
            let d = dist(&f.state, h);
            if d < best_d {
                best_d = d;
                best = Some(i);
            }
        }
        best.filter(|_| best_d <= tol * norm(h).max(1.0))
    }
}

/// `{prefix}states` (P, S), `{prefix}residuals` (P,), `{prefix}stability_index` (P,) and
/// `{prefix}eigenvalues_re` / `_im` (P, S) of `points`.
pub(crate) fn add_points(
    w: &mut NpzWriter,
    prefix: &str,
    points: &[FixedPoint],
    s: usize,
) -> Result<(), NpyError> {
    let k = points.len();
    let flat =
        |f: &dyn Fn(&FixedPoint) -> Vec<f64>| -> Vec<f64> { points.iter().flat_map(f).collect() };
    w.add(
        &format!("{prefix}states"),
        &[k, s],
        &flat(&|f| f.state.clone()),
    )?;
    w.add(
        &format!("{prefix}residuals"),
        &[k],
        &flat(&|f| vec![f.residual]),
    )?;
    let idx: Vec<i64> = points
        .iter()
        .map(|f| index_code(f.stability_index))
        .collect();
    w.add(&format!("{prefix}stability_index"), &[k], &idx)?;
    for (part, name) in [(0, "re"), (1, "im")] {
        let v = flat(&|f| {
            f.eigenvalues
                .iter()
                .map(|e| if part == 0 { e.re } else { e.im })
                .collect()
        });
        w.add(&format!("{prefix}eigenvalues_{name}"), &[k, s], &v)?;
    }
    Ok(())
}

/// A stability index as saved: −1 for an unknown spectrum.
fn index_code(k: usize) -> i64 {
    if k == usize::MAX {
        -1
    } else {
        k as i64
    }
}

pub(crate) fn norm(a: &[f64]) -> f64 {
    a.iter().map(|x| x * x).sum::<f64>().sqrt()
}

pub(crate) fn dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// Runs `trials` (each `T × I`, concatenated) from the zero state and returns every state
/// visited, `(trials · T) × S` row-major.
pub fn trajectory_states(
    model: &dyn Model,
    p: &[f64],
    xs: &[f64],
    trials: usize,
    steps: usize,
) -> Result<Vec<f64>, String> {
    let (s, i, o) = (model.state_dim(), model.spec().inputs, model.spec().outputs);
    let mut states = vec![0.0; trials * steps * s];
    let mut outputs = vec![0.0; steps * o];
    let s0 = vec![0.0; s];
    for t in 0..trials {
        model
            .run(
                p,
                &s0,
                &xs[t * steps * i..(t + 1) * steps * i],
                &mut states[t * steps * s..(t + 1) * steps * s],
                &mut outputs,
            )
            .map_err(|e| e.to_string())?;
    }
    Ok(states)
}

/// Samples `count` start states from `states` (rows of length `s`) plus N(0, noise²).
pub fn sample_starts(
    states: &[f64],
    s: usize,
    count: usize,
    noise: f64,
    rng: &mut Rng,
) -> Vec<Vec<f64>> {
    let rows = states.len() / s.max(1);
    (0..count)
        .map(|_| {
            let r = rng.below(rows as u64) as usize;
            states[r * s..(r + 1) * s]
                .iter()
                .map(|&v| v + noise * rng.normal())
                .collect()
        })
        .collect()
}

/// Finds the fixed points of `model` at input `x` from `starts`; `reference` are the
/// trajectory states (rows of length S) that define outliers.
pub fn find_fixed_points(
    model: &dyn Model,
    p: &[f64],
    x: &[f64],
    starts: &[Vec<f64>],
    reference: &[f64],
    settings: &FixedPointSettings,
) -> FixedPointAnalysis {
    let s = model.state_dim();
    // Starts go through the core's batched search in fixed blocks of `SEARCH_BATCH` (by
    // index, so the blocks do not depend on the thread count); each candidate's result is
    // bit-identical to the one-start search anyway.
    let batch = SEARCH_BATCH.min(starts.len()).max(1);
    let scratch_len = model.fixed_point_batch_scratch_len(batch);
    let mut candidates: Vec<Candidate> = starts
        .par_chunks(batch)
        .map_init(
            || {
                (
                    vec![0.0; scratch_len],
                    vec![0usize; s + batch],
                    vec![0.0; batch * s],
                    vec![Err(CoreError::NonFinite); batch],
                )
            },
            |(scratch, piv, hs, reports), chunk| {
                let b = chunk.len();
                for (row, start) in hs.chunks_exact_mut(s).zip(chunk) {
                    row.copy_from_slice(start);
                }
                let scratch_len = model.fixed_point_batch_scratch_len(b);
                let whole = model.find_fixed_points_batch(
                    p,
                    x,
                    &mut hs[..b * s],
                    b,
                    &settings.search,
                    &mut reports[..b],
                    &mut scratch[..scratch_len],
                    &mut piv[..s + b],
                );
                chunk
                    .iter()
                    .enumerate()
                    .map(|(k, start)| {
                        let h = hs[k * s..(k + 1) * s].to_vec();
                        match (whole, reports[k]) {
                            (Ok(()), Ok(report)) => {
                                let ok = report.residual <= settings.residual_tolerance
                                    && h.iter().all(|v| v.is_finite());
                                Candidate {
                                    start: start.clone(),
                                    end: h,
                                    report: Some(report),
                                    status: if ok {
                                        CandidateStatus::Kept(usize::MAX)
                                    } else {
                                        CandidateStatus::NotConverged
                                    },
                                }
                            }
                            _ => Candidate {
                                start: start.clone(),
                                end: if whole.is_ok() { h } else { start.clone() },
                                report: None,
                                status: CandidateStatus::Failed,
                            },
                        }
                    })
                    .collect::<Vec<_>>()
            },
        )
        .flatten()
        .collect();

    // Outlier radius from the reference states.
    let rows = reference.len() / s.max(1);
    let mut centroid = vec![0.0; s];
    for r in 0..rows {
        for k in 0..s {
            centroid[k] += reference[r * s + k] / rows.max(1) as f64;
        }
    }
    let rms = if rows > 0 {
        ((0..rows)
            .map(|r| dist(&reference[r * s..(r + 1) * s], &centroid).powi(2))
            .sum::<f64>()
            / rows as f64)
            .sqrt()
    } else {
        f64::INFINITY
    };
    let outlier_radius = settings.outlier_scale * rms.max(1e-12);

    // Deduplicate converged candidates, best residual first (ties by index: deterministic).
    let mut order: Vec<usize> = (0..candidates.len())
        .filter(|&i| matches!(candidates[i].status, CandidateStatus::Kept(_)))
        .collect();
    order.sort_by(|&a, &b| {
        let ra = candidates[a]
            .report
            .map(|r| r.residual)
            .unwrap_or(f64::INFINITY);
        let rb = candidates[b]
            .report
            .map(|r| r.residual)
            .unwrap_or(f64::INFINITY);
        ra.total_cmp(&rb).then(a.cmp(&b))
    });
    let mut unique: Vec<usize> = Vec::new();
    for &c in &order {
        let h = &candidates[c].end;
        if dist(h, &centroid) > outlier_radius {
            candidates[c].status = CandidateStatus::Outlier;
            continue;
        }
        let tol = settings.dedup_tolerance * norm(h).max(1.0);
        match unique
            .iter()
            .position(|&u| dist(&candidates[u].end, h) <= tol)
        {
            Some(k) => candidates[c].status = CandidateStatus::Duplicate(k),
            None => {
                candidates[c].status = CandidateStatus::Kept(unique.len());
                unique.push(c);
            }
        }
    }

    // Slow points: searches that stalled at a small but nonzero q (local minima of q, e.g.
    // along an approximate line attractor), smallest q first, away from every fixed point
    // and from each other. Outliers stay "not converged".
    let q_of = |c: &Candidate| c.report.map(|r| r.q).unwrap_or(f64::INFINITY);
    let mut slow_order: Vec<usize> = (0..candidates.len())
        .filter(|&i| {
            let c = &candidates[i];
            c.status == CandidateStatus::NotConverged
                && q_of(c) <= settings.slow_q_tolerance
                && c.end.iter().all(|v| v.is_finite())
        })
        .collect();
    slow_order.sort_by(|&a, &b| {
        q_of(&candidates[a])
            .total_cmp(&q_of(&candidates[b]))
            .then(a.cmp(&b))
    });
    let mut slow: Vec<usize> = Vec::new();
    for &c in &slow_order {
        let h = &candidates[c].end;
        let tol = settings.slow_dedup_tolerance * norm(h).max(1.0);
        let near = |u: &usize| dist(&candidates[*u].end, h) <= tol;
        if dist(h, &centroid) > outlier_radius || unique.iter().any(near) || slow.iter().any(near) {
            continue;
        }
        candidates[c].status = CandidateStatus::Slow(slow.len());
        slow.push(c);
    }

    let describe = |ids: &[usize]| -> Vec<FixedPoint> {
        ids.par_iter()
            .map(|&c| linearized_point(model, p, x, &candidates[c], settings))
            .collect()
    };
    let fixed_points = describe(&unique);
    let slow_points = describe(&slow);

    FixedPointAnalysis {
        state_dim: s,
        output_dim: model.spec().outputs,
        input: x.to_vec(),
        candidates,
        fixed_points,
        slow_points,
    }
}

/// The linearisation and readout at a candidate's end state.
fn linearized_point(
    model: &dyn Model,
    p: &[f64],
    x: &[f64],
    candidate: &Candidate,
    settings: &FixedPointSettings,
) -> FixedPoint {
    let residual = candidate.report.map(|r| r.residual).unwrap_or(f64::NAN);
    let q = candidate.report.map(|r| r.q).unwrap_or(f64::NAN);
    linearize_at(model, p, x, &candidate.end, residual, q, settings)
}

/// The linearisation and readout at state `h` (a saved fixed or slow point), with the
/// search's `residual` and `q` recorded as given.
pub fn linearize_at(
    model: &dyn Model,
    p: &[f64],
    x: &[f64],
    h: &[f64],
    residual: f64,
    q: f64,
    settings: &FixedPointSettings,
) -> FixedPoint {
    let (s, o) = (model.state_dim(), model.spec().outputs);
    let mut jac = vec![0.0; s * s];
    let mut values = vec![Eigenvalue::default(); s];
    let mut vectors = vec![0.0; s * s];
    let mut scratch = vec![0.0; rnndyn_core::fixed_point::linearize_scratch_len(s)];
    let lin = model.linearize(
        p,
        x,
        h,
        &settings.linearize,
        &mut jac,
        &mut values,
        &mut vectors,
        &mut scratch,
    );
    let mut output = vec![0.0; o];
    // The sizes come from the model itself; NaN marks the impossible mismatch.
    if model.readout(p, h, &mut output).is_err() {
        output.fill(f64::NAN);
    }
    match lin {
        Ok(l) => FixedPoint {
            state: h.to_vec(),
            residual,
            q,
            stability_index: l.stability_index,
            slow_modes: l.slow_modes,
            neutral_modes: l.neutral_modes,
            spectral_radius: l.spectral_radius,
            leading_angle: l.leading_angle,
            eigenvalues: values,
            eigenvectors: vectors,
            jacobian: jac,
            output,
        },
        // The eigen solver failed (should not happen on a finite Jacobian): keep the point,
        // mark its spectrum unknown.
        Err(_) => FixedPoint {
            state: h.to_vec(),
            residual,
            q,
            stability_index: usize::MAX,
            slow_modes: 0,
            neutral_modes: 0,
            spectral_radius: f64::NAN,
            leading_angle: f64::NAN,
            eigenvalues: vec![
                Eigenvalue {
                    re: f64::NAN,
                    im: f64::NAN
                };
                s
            ],
            eigenvectors: vec![f64::NAN; s * s],
            jacobian: jac,
            output,
        },
    }
}

impl FixedPointAnalysis {
    /// Saves everything as one `.npz` (float64 unless noted; K fixed points, C candidates,
    /// S state dimension):
    ///
    /// | name | shape | meaning |
    /// |---|---|---|
    /// | `input` | (I,) | the constant input |
    /// | `states` | (K, S) | fixed points |
    /// | `residuals` | (K,) | ‖F(h) − h‖ |
    /// | `stability_index` | (K,) int64 | number of \|λ\| > 1 + 1e-6 (`unstable_margin`) |
    /// | `slow_modes` | (K,) int64 | number of \|\|λ\| − 1\| < tol |
    /// | `neutral_modes` | (K,) int64 | number of \|\|λ\| − 1\| ≤ `unstable_margin` |
    /// | `eigenvalues_re`, `eigenvalues_im` | (K, S) | by decreasing modulus |
    /// | `eigenvectors` | (K, S, S) | row j = right eigenvector of λ_j (pairs: re, im rows) |
    /// | `jacobians` | (K, S, S) | dF/dh at each fixed point |
    /// | `outputs` | (K, O) | readout at each fixed point |
    /// | `candidate_start`, `candidate_end` | (C, S) | each search's start and end |
    /// | `candidate_residual`, `candidate_q` | (C,) | final residual and q |
    /// | `candidate_adam_iterations`, `candidate_newton_iterations` | (C,) int64 | |
    /// | `candidate_adam_stop`, `candidate_newton_stop` | (C,) int64 | 0 converged, 1 max iterations, 2 singular, 3 stalled, 4 diverged, 5 skipped |
    /// | `candidate_status` | (C,) int64 | 0 kept, 1 not converged, 2 duplicate, 3 outlier, 4 failed, 5 slow point |
    /// | `candidate_fixed_point` | (C,) int64 | index of the fixed point found, or −1 |
    /// | `candidate_slow_point` | (C,) int64 | index of the slow point found, or −1 |
    /// | `slow_states` | (L, S) | slow points (L of them), smallest q first |
    /// | `slow_q`, `slow_residuals` | (L,) | q = ½‖F(h) − h‖² and ‖F(h) − h‖ there |
    /// | `slow_stability_index` | (L,) int64 | number of \|λ\| > 1 there (−1: unknown) |
    /// | `slow_eigenvalues_re`, `slow_eigenvalues_im` | (L, S) | by decreasing modulus |
    pub fn save(&self, path: &Path) -> Result<(), NpyError> {
        let (k, s, c) = (
            self.fixed_points.len(),
            self.state_dim,
            self.candidates.len(),
        );
        let o = self.output_dim;
        let flat = |f: &dyn Fn(&FixedPoint) -> Vec<f64>| -> Vec<f64> {
            self.fixed_points.iter().flat_map(f).collect()
        };
        let mut w = NpzWriter::new(path);
        w.add("input", &[self.input.len()], &self.input)?;
        add_points(&mut w, "", &self.fixed_points, s)?;
        let slow: Vec<i64> = self
            .fixed_points
            .iter()
            .map(|f| f.slow_modes as i64)
            .collect();
        w.add("slow_modes", &[k], &slow)?;
        let neutral: Vec<i64> = self
            .fixed_points
            .iter()
            .map(|f| f.neutral_modes as i64)
            .collect();
        w.add("neutral_modes", &[k], &neutral)?;
        w.add(
            "eigenvectors",
            &[k, s, s],
            &flat(&|f| f.eigenvectors.clone()),
        )?;
        w.add("jacobians", &[k, s, s], &flat(&|f| f.jacobian.clone()))?;
        w.add("outputs", &[k, o], &flat(&|f| f.output.clone()))?;
        let cflat = |f: &dyn Fn(&Candidate) -> Vec<f64>| -> Vec<f64> {
            self.candidates.iter().flat_map(f).collect()
        };
        let cint =
            |f: &dyn Fn(&Candidate) -> i64| -> Vec<i64> { self.candidates.iter().map(f).collect() };
        w.add("candidate_start", &[c, s], &cflat(&|x| x.start.clone()))?;
        w.add("candidate_end", &[c, s], &cflat(&|x| x.end.clone()))?;
        w.add(
            "candidate_residual",
            &[c],
            &cflat(&|x| vec![x.report.map(|r| r.residual).unwrap_or(f64::NAN)]),
        )?;
        w.add(
            "candidate_q",
            &[c],
            &cflat(&|x| vec![x.report.map(|r| r.q).unwrap_or(f64::NAN)]),
        )?;
        w.add(
            "candidate_adam_iterations",
            &[c],
            &cint(&|x| x.report.map(|r| r.adam_iterations as i64).unwrap_or(-1)),
        )?;
        w.add(
            "candidate_newton_iterations",
            &[c],
            &cint(&|x| x.report.map(|r| r.newton_iterations as i64).unwrap_or(-1)),
        )?;
        w.add(
            "candidate_adam_stop",
            &[c],
            &cint(&|x| x.report.map(|r| stop_code(r.adam_stop)).unwrap_or(-1)),
        )?;
        w.add(
            "candidate_newton_stop",
            &[c],
            &cint(&|x| x.report.map(|r| stop_code(r.newton_stop)).unwrap_or(-1)),
        )?;
        w.add("candidate_status", &[c], &cint(&|x| x.status.code()))?;
        w.add(
            "candidate_fixed_point",
            &[c],
            &cint(&|x| x.status.fixed_point()),
        )?;
        w.add(
            "candidate_slow_point",
            &[c],
            &cint(&|x| x.status.slow_point()),
        )?;
        add_points(&mut w, "slow_", &self.slow_points, s)?;
        let q: Vec<f64> = self.slow_points.iter().map(|f| f.q).collect();
        w.add("slow_q", &[q.len()], &q)?;
        w.finish()
    }

    /// JSON summary: every fixed point with state, residual, stability index, eigenvalues.
    pub fn to_json(&self) -> serde_json::Value {
        let fps: Vec<serde_json::Value> = self
            .fixed_points
            .iter()
            .map(|f| {
                serde_json::json!({
                    "state": f.state,
                    "residual": f.residual,
                    "stability_index": f.stability_index,
                    "slow_modes": f.slow_modes,
                    "neutral_modes": f.neutral_modes,
                    "spectral_radius": f.spectral_radius,
                    "output": f.output,
                    "eigenvalues": f.eigenvalues.iter().map(|e| [e.re, e.im]).collect::<Vec<_>>(),
                })
            })
            .collect();
        let counts = |st: fn(&CandidateStatus) -> bool| {
            self.candidates.iter().filter(|c| st(&c.status)).count()
        };
        serde_json::json!({
            "input": self.input,
            "fixed_points": fps,
            "count_by_stability_index": self.count_by_index(),
            "candidates": {
                "total": self.candidates.len(),
                "kept": counts(|s| matches!(s, CandidateStatus::Kept(_))),
                "duplicate": counts(|s| matches!(s, CandidateStatus::Duplicate(_))),
                "not_converged": counts(|s| matches!(s, CandidateStatus::NotConverged)),
                "outlier": counts(|s| matches!(s, CandidateStatus::Outlier)),
                "failed": counts(|s| matches!(s, CandidateStatus::Failed)),
                "slow": counts(|s| matches!(s, CandidateStatus::Slow(_))),
            },
            "slow_points": self.slow_points.iter().map(|f| serde_json::json!({
                "state": f.state,
                "q": f.q,
                "residual": f.residual,
                "stability_index": f.stability_index,
                "spectral_radius": f.spectral_radius,
            })).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{build, Arch, ModelSpec};
    use rnndyn_core::cell::{Activation, GruConvention};

    const N: usize = 4;
    const EPS: f64 = 1e-4;

    /// A ReLU vanilla network with no fixed point but a line of slow points:
    /// `F(h) = relu(h W + b)` with `W = diag(1, ½, ½, ½)`, `b = (ε, ½, ½, ½)`. Along
    /// `h = (t, 1, 1, 1)`, `t > −ε`, the state drifts by exactly ε per step:
    /// `q = ½‖F(h) − h‖² = ε²/2` there and larger everywhere else.
    fn slow_line() -> (Box<dyn Model>, Vec<f64>) {
        let spec = ModelSpec {
            arch: Arch::Vanilla,
            activation: Activation::Relu,
            gru_convention: GruConvention::ResetBeforeProduct,
            hidden: N,
            inputs: 3,
            outputs: 3,
        };
        let model = build(&spec).unwrap();
        let mut p = vec![0.0; model.param_count()];
        for i in 0..N {
            p[i * N + i] = if i == 0 { 1.0 } else { 0.5 };
        }
        let b = N * N + 3 * N;
        p[b] = EPS;
        p[b + 1..b + N].fill(0.5);
        (model, p)
    }

    fn starts_along_the_line(count: usize) -> Vec<Vec<f64>> {
        let mut rng = Rng::new(7);
        (0..count)
            .map(|k| {
                let mut h = vec![k as f64 / count as f64, 1.0, 1.0, 1.0];
                for v in &mut h[1..] {
                    *v += 0.2 * rng.normal();
                }
                h
            })
            .collect()
    }

    #[test]
    fn a_line_of_slow_points_is_found_and_no_fixed_point_is_invented() {
        let (model, p) = slow_line();
        let starts = starts_along_the_line(24);
        let reference: Vec<f64> = starts.iter().flatten().copied().collect();
        let settings = FixedPointSettings::default();
        let a = find_fixed_points(
            model.as_ref(),
            &p,
            &[0.0; 3],
            &starts,
            &reference,
            &settings,
        );
        assert!(
            a.fixed_points.is_empty(),
            "{} fixed points",
            a.fixed_points.len()
        );
        assert!(
            a.slow_points.len() >= 5,
            "{} slow points",
            a.slow_points.len()
        );
        for (k, f) in a.slow_points.iter().enumerate() {
            assert!(
                (f.q - EPS * EPS / 2.0).abs() < 1e-3 * EPS * EPS,
                "q = {:e}",
                f.q
            );
            assert!(
                (f.residual - EPS).abs() < 1e-3 * EPS,
                "residual {:e}",
                f.residual
            );
            for &v in &f.state[1..] {
                assert!((v - 1.0).abs() < 1e-6, "state {:?}", f.state);
            }
            // Spectrum {1, ½, ½, ½}: stable, one slow mode.
            assert_eq!((f.stability_index, f.slow_modes), (0, 1));
            assert!((f.spectral_radius - 1.0).abs() < 1e-12);
            if k > 0 {
                assert!(f.q >= a.slow_points[k - 1].q, "smallest q first");
            }
            for g in &a.slow_points[..k] {
                let tol = settings.slow_dedup_tolerance * norm(&f.state).max(1.0);
                assert!(dist(&f.state, &g.state) > tol, "duplicates kept");
            }
        }
        // Every candidate marked slow points at a slow point within the dedup distance or is
        // itself one.
        let marked = a
            .candidates
            .iter()
            .filter(|c| matches!(c.status, CandidateStatus::Slow(_)))
            .count();
        assert_eq!(marked, a.slow_points.len());

        // Saved for NumPy: the slow arrays and the candidates' links to them.
        let path = std::env::temp_dir().join(format!("rnndyn-slow-{}.npz", std::process::id()));
        a.save(&path).unwrap();
        let read = |name: &str| crate::npy::read_npz_shaped(&path, name).unwrap();
        let l = a.slow_points.len();
        assert_eq!(
            read("slow_states"),
            (
                vec![l, N],
                a.slow_points.iter().flat_map(|f| f.state.clone()).collect()
            )
        );
        assert_eq!(read("slow_q").0, vec![l]);
        assert_eq!(read("slow_eigenvalues_re").0, vec![l, N]);
        assert_eq!(read("states").0, vec![0, N]);
        // The readout's width even with no fixed point, so arrays of networks concatenate.
        assert_eq!(read("outputs").0, vec![0, model.spec().outputs]);
        let links = read("candidate_slow_point").1;
        let codes = read("candidate_status").1;
        for (c, (&link, &code)) in a.candidates.iter().zip(links.iter().zip(&codes)) {
            assert_eq!(link, c.status.slow_point() as f64);
            assert_eq!(code == 5.0, link >= 0.0);
        }
        std::fs::remove_file(&path).unwrap();

        // Below ε²/2 nothing qualifies.
        let strict = FixedPointSettings {
            slow_q_tolerance: 1e-10,
            ..FixedPointSettings::default()
        };
        let b = find_fixed_points(model.as_ref(), &p, &[0.0; 3], &starts, &reference, &strict);
        assert!(b.slow_points.is_empty() && b.fixed_points.is_empty());
        assert!(b
            .candidates
            .iter()
            .all(|c| c.status == CandidateStatus::NotConverged));
    }
}
