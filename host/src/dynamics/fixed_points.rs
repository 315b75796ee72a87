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
}

impl CandidateStatus {
    /// Numeric code saved in `fixed_points.npz`: 0 kept, 1 not converged, 2 duplicate,
    /// 3 outlier, 4 failed.
    pub fn code(self) -> i64 {
        match self {
            CandidateStatus::Kept(_) => 0,
            CandidateStatus::NotConverged => 1,
            CandidateStatus::Duplicate(_) => 2,
            CandidateStatus::Outlier => 3,
            CandidateStatus::Failed => 4,
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
    pub start: Vec<f64>,
    pub end: Vec<f64>,
    pub report: Option<FixedPointReport<f64>>,
    pub status: CandidateStatus,
}

/// A unique fixed point with its linearisation.
#[derive(Clone, Debug)]
pub struct FixedPoint {
    pub state: Vec<f64>,
    pub residual: f64,
    /// Number of |λ| > 1.
    pub stability_index: usize,
    /// Number of ||λ| − 1| < tolerance.
    pub slow_modes: usize,
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
    pub state_dim: usize,
    pub input: Vec<f64>,
    pub candidates: Vec<Candidate>,
    pub fixed_points: Vec<FixedPoint>,
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

    let o = model.spec().outputs;
    let fixed_points: Vec<FixedPoint> = unique
        .par_iter()
        .map(|&c| {
            let h = &candidates[c].end;
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
            model.readout(p, h, &mut output);
            let residual = candidates[c].report.map(|r| r.residual).unwrap_or(f64::NAN);
            match lin {
                Ok(l) => FixedPoint {
                    state: h.clone(),
                    residual,
                    stability_index: l.stability_index,
                    slow_modes: l.slow_modes,
                    spectral_radius: l.spectral_radius,
                    leading_angle: l.leading_angle,
                    eigenvalues: values,
                    eigenvectors: vectors,
                    jacobian: jac,
                    output,
                },
                // The eigen solver failed (should not happen on a finite Jacobian): keep the
                // point, mark its spectrum unknown.
                Err(_) => FixedPoint {
                    state: h.clone(),
                    residual,
                    stability_index: usize::MAX,
                    slow_modes: 0,
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
        })
        .collect();

    FixedPointAnalysis {
        state_dim: s,
        input: x.to_vec(),
        candidates,
        fixed_points,
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
    /// | `stability_index` | (K,) int64 | number of \|λ\| > 1 |
    /// | `slow_modes` | (K,) int64 | number of \|\|λ\| − 1\| < tol |
    /// | `eigenvalues_re`, `eigenvalues_im` | (K, S) | by decreasing modulus |
    /// | `eigenvectors` | (K, S, S) | row j = right eigenvector of λ_j (pairs: re, im rows) |
    /// | `jacobians` | (K, S, S) | dF/dh at each fixed point |
    /// | `outputs` | (K, O) | readout at each fixed point |
    /// | `candidate_start`, `candidate_end` | (C, S) | each search's start and end |
    /// | `candidate_residual`, `candidate_q` | (C,) | final residual and q |
    /// | `candidate_adam_iterations`, `candidate_newton_iterations` | (C,) int64 | |
    /// | `candidate_adam_stop`, `candidate_newton_stop` | (C,) int64 | 0 converged, 1 max iterations, 2 singular, 3 stalled, 4 diverged, 5 skipped |
    /// | `candidate_status` | (C,) int64 | 0 kept, 1 not converged, 2 duplicate, 3 outlier, 4 failed |
    /// | `candidate_fixed_point` | (C,) int64 | index of the fixed point found, or −1 |
    pub fn save(&self, path: &Path) -> Result<(), NpyError> {
        let (k, s, c) = (
            self.fixed_points.len(),
            self.state_dim,
            self.candidates.len(),
        );
        let o = self
            .fixed_points
            .first()
            .map(|f| f.output.len())
            .unwrap_or(0);
        let flat = |f: &dyn Fn(&FixedPoint) -> Vec<f64>| -> Vec<f64> {
            self.fixed_points.iter().flat_map(f).collect()
        };
        let mut w = NpzWriter::new(path);
        w.add("input", &[self.input.len()], &self.input)?;
        w.add("states", &[k, s], &flat(&|f| f.state.clone()))?;
        w.add("residuals", &[k], &flat(&|f| vec![f.residual]))?;
        let idx: Vec<i64> = self
            .fixed_points
            .iter()
            .map(|f| {
                if f.stability_index == usize::MAX {
                    -1
                } else {
                    f.stability_index as i64
                }
            })
            .collect();
        w.add("stability_index", &[k], &idx)?;
        let slow: Vec<i64> = self
            .fixed_points
            .iter()
            .map(|f| f.slow_modes as i64)
            .collect();
        w.add("slow_modes", &[k], &slow)?;
        w.add(
            "eigenvalues_re",
            &[k, s],
            &flat(&|f| f.eigenvalues.iter().map(|e| e.re).collect()),
        )?;
        w.add(
            "eigenvalues_im",
            &[k, s],
            &flat(&|f| f.eigenvalues.iter().map(|e| e.im).collect()),
        )?;
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
            }
        })
    }
}
