//! The two-phase fixed-point search (see the module docs).

use crate::cell::Cell;
use crate::error::{check_len, check_scratch};
use crate::kernel::{axpy, norm2};
use crate::linalg::lu::{lu_factor, lu_scratch_len, LuError, LuParams};
use crate::{Error, Real};

/// The Adam phase. Defaults: `lr = 1e-2` decaying by ×0.5 every 1000 iterations,
/// `max_iterations = 5000`, stop when `q < q_tolerance = 1e-10` (the FixedPointFinder
/// convention).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamPhase {
    /// Initial step size (default 1e-2).
    pub learning_rate: f64,
    /// Factor the step size is multiplied by every `decay_every` iterations, applied
    /// smoothly: `lr · decay^(it / decay_every)` (default 0.5).
    pub decay: f64,
    /// Iterations per `decay` factor (default 1000; 0 counts as 1).
    pub decay_every: usize,
    /// Iteration cap (default 5000; 0 skips the phase).
    pub max_iterations: usize,
    /// Stop once `q = ½‖F(h) − h‖²` is below this (default 1e-10).
    pub q_tolerance: f64,
    /// Adam's first-moment decay β₁ (default 0.9).
    pub beta1: f64,
    /// Adam's second-moment decay β₂ (default 0.999).
    pub beta2: f64,
    /// Adam's ε in the denominator (default 1e-8).
    pub eps: f64,
}

impl AdamPhase {
    /// `Ok` for `0 ≤ beta1, beta2 < 1`, finite `eps > 0`, finite `learning_rate ≥ 0` and
    /// `decay ≥ 0`, and `q_tolerance` not NaN; otherwise [`Error::InvalidParameter`].
    pub fn check(&self) -> Result<(), Error> {
        let beta = |b: f64| (0.0..1.0).contains(&b);
        let finite_nonnegative = |v: f64| v >= 0.0 && v.is_finite();
        if beta(self.beta1)
            && beta(self.beta2)
            && self.eps > 0.0
            && self.eps.is_finite()
            && finite_nonnegative(self.learning_rate)
            && finite_nonnegative(self.decay)
            && !self.q_tolerance.is_nan()
        {
            Ok(())
        } else {
            Err(Error::InvalidParameter)
        }
    }
}

impl Default for AdamPhase {
    fn default() -> Self {
        AdamPhase {
            learning_rate: 1e-2,
            decay: 0.5,
            decay_every: 1000,
            max_iterations: 5000,
            q_tolerance: 1e-10,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// The Newton phase. Defaults: at most 50 iterations, stop at `‖F(h) − h‖ ≤ 1e-13`,
/// Levenberg–Marquardt damping starting at `1e-6 · (1 + ‖J − I‖²_max)` and ×10 per
/// rejected step (at most 12 rejections per iteration).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NewtonPhase {
    /// Iteration cap (default 50; 0 skips the phase).
    pub max_iterations: usize,
    /// Stop once `‖F(h) − h‖₂` is at most this (default 1e-13).
    pub residual_tolerance: f64,
    /// First damping λ of a rejected full step, relative to `1 + max diag (AᵀA)` with
    /// `A = J − I` (default 1e-6).
    pub initial_damping: f64,
    /// Damped steps tried per iteration, λ ×10 each, before the phase stops as stalled
    /// (default 12).
    pub max_rejections: usize,
}

impl Default for NewtonPhase {
    fn default() -> Self {
        NewtonPhase {
            max_iterations: 50,
            residual_tolerance: 1e-13,
            initial_damping: 1e-6,
            max_rejections: 12,
        }
    }
}

/// Parameters of [`find_fixed_point`]. Set `adam.max_iterations = 0` for Newton only, or
/// `newton.max_iterations = 0` for Adam only.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct FixedPointParams {
    /// The first phase: Adam on `q`.
    pub adam: AdamPhase,
    /// The second phase: damped Newton on `F(h) − h`.
    pub newton: NewtonPhase,
}

/// Why a phase stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stop {
    /// Reached its tolerance.
    Converged,
    /// Hit its iteration cap.
    MaxIterations,
    /// `J − I` singular and no damped step helped.
    Singular,
    /// No step reduced the residual (at the floating-point floor, or a bad start).
    Stalled,
    /// The state or residual became NaN/Inf.
    Diverged,
    /// The phase did not run (zero iterations allowed).
    Skipped,
}

/// What happened to one candidate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FixedPointReport<R> {
    /// Final `‖F(h) − h‖₂`.
    pub residual: R,
    /// Final `q = ½ residual²`.
    pub q: R,
    /// Iterations the Adam phase ran.
    pub adam_iterations: usize,
    /// Iterations the Newton phase ran.
    pub newton_iterations: usize,
    /// Why the Adam phase stopped.
    pub adam_stop: Stop,
    /// Why the Newton phase stopped.
    pub newton_stop: Stop,
}

impl<R: Real> FixedPointReport<R> {
    /// Why the search as a whole stopped (the Newton phase's reason if it ran).
    pub fn stop(&self) -> Stop {
        if self.newton_stop == Stop::Skipped {
            self.adam_stop
        } else {
            self.newton_stop
        }
    }
}

/// Minimum scratch length of [`find_fixed_point`] for `cell` (a longer buffer is accepted):
/// two `S × S` matrices, a few state
/// vectors, the cell's forward cache and a parameter-sized buffer (the Adam phase gets
/// `Jᵀ r` from the cell's vector-Jacobian product, `O(N·kN)` instead of a full Jacobian).
pub fn fixed_point_scratch_len<R: Real, C: Cell<R>>(cell: &C) -> usize {
    fixed_point_scratch_len_for(C::STATE, C::CACHE, cell.param_count())
}

/// [`fixed_point_scratch_len`] from the sizes (`const`, for static buffers): state dimension,
/// the cell's `CACHE` and its parameter count.
pub const fn fixed_point_scratch_len_for(state: usize, cache: usize, params: usize) -> usize {
    2 * state * state + 8 * state + lu_scratch_len(state) + cache + params
}

/// `r = F(h) − h`, returns `‖r‖`.
fn residual<R: Real, C: Cell<R>>(
    cell: &C,
    p: &[R],
    x: &[R],
    h: &[R],
    f: &mut [R],
    r: &mut [R],
) -> R {
    cell.step(p, h, x, f);
    for k in 0..r.len() {
        r[k] = f[k] - h[k];
    }
    norm2(r)
}

/// Writes `A = J − I` (row-major) at `h`.
fn jacobian_minus_identity<R: Real, C: Cell<R>>(cell: &C, p: &[R], x: &[R], h: &[R], a: &mut [R]) {
    let s = h.len();
    cell.jacobian_state(p, h, x, a);
    for k in 0..s {
        a[k * s + k] -= R::ONE;
    }
}

/// Searches for a fixed point of `h ↦ F(h, x)` starting from `h` (overwritten with the
/// result). `p` are the cell's parameters, `x` the fixed input (length `INPUT`).
///
/// `scratch` has at least [`fixed_point_scratch_len`] elements and `pivots` at least `STATE`
/// (work buffers: only that many are used). Errors only on wrong buffer lengths or non-finite
/// inputs; a search that fails to converge is reported in the returned [`FixedPointReport`].
pub fn find_fixed_point<R: Real, C: Cell<R>>(
    cell: &C,
    p: &[R],
    x: &[R],
    h: &mut [R],
    params: &FixedPointParams,
    scratch: &mut [R],
    pivots: &mut [usize],
) -> Result<FixedPointReport<R>, Error> {
    let s = C::STATE;
    check_len(p.len(), cell.param_count())?;
    check_len(x.len(), C::INPUT)?;
    check_len(h.len(), s)?;
    let need = fixed_point_scratch_len(cell);
    check_scratch(scratch.len(), need)?;
    check_scratch(pivots.len(), s)?;
    let (scratch, pivots) = (&mut scratch[..need], &mut pivots[..s]);
    params.adam.check()?;
    if h.iter().chain(x).chain(p).any(|v| !v.is_finite()) {
        return Err(Error::NonFinite);
    }
    let sc = Split::new(scratch, s, C::CACHE, cell.param_count());
    let (f, r, g, mom1, mom2) = (sc.f, sc.r, sc.g, sc.mom1, sc.mom2);
    let (cache, dp) = (sc.cache, sc.dp);

    let mut report = FixedPointReport {
        residual: R::ZERO,
        q: R::ZERO,
        adam_iterations: 0,
        newton_iterations: 0,
        adam_stop: Stop::Skipped,
        newton_stop: Stop::Skipped,
    };

    // Phase 1: Adam on q.
    let ad = params.adam;
    if ad.max_iterations > 0 {
        mom1.iter_mut().for_each(|v| *v = R::ZERO);
        mom2.iter_mut().for_each(|v| *v = R::ZERO);
        let (b1, b2) = (R::from_f64(ad.beta1), R::from_f64(ad.beta2));
        let eps = R::from_f64(ad.eps);
        let q_tol = R::from_f64(ad.q_tolerance);
        report.adam_stop = Stop::MaxIterations;
        for it in 0..ad.max_iterations {
            cell.forward(p, h, x, f, cache);
            for k in 0..s {
                r[k] = f[k] - h[k];
            }
            let res = norm2(r);
            let q = R::HALF * res * res;
            if !q.is_finite() {
                report.adam_stop = Stop::Diverged;
                break;
            }
            if q < q_tol {
                report.adam_stop = Stop::Converged;
                break;
            }
            // g = (J − I)ᵀ r = Jᵀ r − r, Jᵀ r by the cell's vector-Jacobian product.
            cell.backward(p, h, x, f, cache, r, g, dp, None);
            for k in 0..s {
                g[k] -= r[k];
            }
            let t = (it + 1) as f64;
            let lr =
                ad.learning_rate * libm::pow(ad.decay, it as f64 / ad.decay_every.max(1) as f64);
            let c1 = 1.0 - libm::pow(ad.beta1, t);
            let c2 = 1.0 - libm::pow(ad.beta2, t);
            let step = R::from_f64(lr / c1);
            let inv_c2 = R::from_f64(1.0 / c2);
            for k in 0..s {
                mom1[k] = b1 * mom1[k] + (R::ONE - b1) * g[k];
                mom2[k] = b2 * mom2[k] + (R::ONE - b2) * g[k] * g[k];
                h[k] -= step * mom1[k] / (Real::sqrt(mom2[k] * inv_c2) + eps);
            }
            report.adam_iterations = it + 1;
        }
    }

    newton_phase(cell, p, x, h, &params.newton, &mut report, scratch, pivots);
    Ok(report)
}

/// The scratch of [`find_fixed_point`], split.
struct Split<'a, R> {
    a: &'a mut [R],
    m: &'a mut [R],
    f: &'a mut [R],
    r: &'a mut [R],
    g: &'a mut [R],
    mom1: &'a mut [R],
    mom2: &'a mut [R],
    trial: &'a mut [R],
    delta: &'a mut [R],
    best: &'a mut [R],
    cache: &'a mut [R],
    dp: &'a mut [R],
    lu: &'a mut [R],
}

impl<'a, R> Split<'a, R> {
    fn new(scratch: &'a mut [R], s: usize, cache: usize, params: usize) -> Self {
        let (a, rest) = scratch.split_at_mut(s * s);
        let (m, rest) = rest.split_at_mut(s * s);
        let (f, rest) = rest.split_at_mut(s);
        let (r, rest) = rest.split_at_mut(s);
        let (g, rest) = rest.split_at_mut(s);
        let (mom1, rest) = rest.split_at_mut(s);
        let (mom2, rest) = rest.split_at_mut(s);
        let (trial, rest) = rest.split_at_mut(s);
        let (delta, rest) = rest.split_at_mut(s);
        let (best, rest) = rest.split_at_mut(s);
        let (cache, rest) = rest.split_at_mut(cache);
        let (dp, lu) = rest.split_at_mut(params);
        Split {
            a,
            m,
            f,
            r,
            g,
            mom1,
            mom2,
            trial,
            delta,
            best,
            cache,
            dp,
            lu,
        }
    }
}

/// Phase 2 from `h` (overwritten): Newton with Levenberg–Marquardt fallback. Fills the
/// Newton fields, `residual` and `q` of `report`. Buffers as checked by the callers.
#[allow(clippy::too_many_arguments)]
fn newton_phase<R: Real, C: Cell<R>>(
    cell: &C,
    p: &[R],
    x: &[R],
    h: &mut [R],
    nt: &NewtonPhase,
    report: &mut FixedPointReport<R>,
    scratch: &mut [R],
    pivots: &mut [usize],
) {
    let s = C::STATE;
    let sc = Split::new(scratch, s, C::CACHE, cell.param_count());
    let (a, m, f, r, g, mom1) = (sc.a, sc.m, sc.f, sc.r, sc.g, sc.mom1);
    let (trial, delta, best, lu_scratch) = (sc.trial, sc.delta, sc.best, sc.lu);
    let nt = *nt;
    let mut res = residual(cell, p, x, h, f, r);
    if nt.max_iterations > 0 && res.is_finite() {
        let tol = R::from_f64(nt.residual_tolerance);
        report.newton_stop = Stop::MaxIterations;
        let lu_params = LuParams::default();
        for it in 0..nt.max_iterations {
            if res <= tol {
                report.newton_stop = Stop::Converged;
                break;
            }
            report.newton_iterations = it + 1;
            jacobian_minus_identity(cell, p, x, h, a);
            // Full Newton step: solve (J − I) δ = −r.
            m.copy_from_slice(a);
            let mut accepted = false;
            let mut singular = false;
            match lu_factor(s, m, pivots, lu_scratch, &lu_params) {
                Ok(lu) => {
                    for k in 0..s {
                        delta[k] = -r[k];
                    }
                    if lu.solve(delta).is_ok() {
                        for k in 0..s {
                            trial[k] = h[k] + delta[k];
                        }
                        let new_res = residual(cell, p, x, trial, f, g);
                        if new_res.is_finite() && new_res < res {
                            h.copy_from_slice(trial);
                            r.copy_from_slice(g);
                            res = new_res;
                            accepted = true;
                        }
                    }
                }
                Err(LuError::Singular { .. }) => singular = true,
                Err(LuError::Core(e)) => {
                    if e == Error::NonFinite {
                        report.newton_stop = Stop::Diverged;
                        break;
                    }
                    singular = true;
                }
            }
            if accepted {
                continue;
            }
            // Levenberg–Marquardt: ((J−I)ᵀ(J−I) + λ I) δ = −(J−I)ᵀ r, growing λ until the
            // residual drops. `AᵀA` and `Aᵀr` do not depend on λ: built once (into `m`, then
            // kept in `a`, which this iteration no longer needs; `Aᵀr` in the Adam moment
            // buffer), each sum accumulated in the order of `k` (row-wise axpy form).
            let atr = &mut *mom1;
            m.iter_mut().for_each(|v| *v = R::ZERO);
            atr.iter_mut().for_each(|v| *v = R::ZERO);
            for k in 0..s {
                let arow = &a[k * s..(k + 1) * s];
                for i in 0..s {
                    let aki = arow[i];
                    axpy(&mut m[i * s..(i + 1) * s], aki, arow);
                    atr[i] += aki * r[k];
                }
            }
            a.copy_from_slice(m);
            let ata = &*a;
            let mut diag_max = R::ZERO;
            for j in 0..s {
                diag_max = diag_max.max(ata[j * s + j]);
            }
            let mut lambda = R::from_f64(nt.initial_damping) * (R::ONE + diag_max);
            best.copy_from_slice(h);
            for _ in 0..nt.max_rejections {
                // m = AᵀA + λI, delta = −Aᵀ r
                m.copy_from_slice(ata);
                for i in 0..s {
                    m[i * s + i] += lambda;
                    delta[i] = -atr[i];
                }
                let solved = match lu_factor(
                    s,
                    m,
                    pivots,
                    lu_scratch,
                    &LuParams {
                        rcond_threshold: R::ZERO,
                    },
                ) {
                    Ok(lu) => lu.solve(delta).is_ok(),
                    Err(_) => false,
                };
                if solved {
                    for k in 0..s {
                        trial[k] = best[k] + delta[k];
                    }
                    let new_res = residual(cell, p, x, trial, f, g);
                    if new_res.is_finite() && new_res < res {
                        h.copy_from_slice(trial);
                        r.copy_from_slice(g);
                        res = new_res;
                        accepted = true;
                        break;
                    }
                }
                lambda *= R::from_f64(10.0);
            }
            if !accepted {
                report.newton_stop = if singular {
                    Stop::Singular
                } else {
                    Stop::Stalled
                };
                if res <= tol {
                    report.newton_stop = Stop::Converged;
                }
                break;
            }
        }
        if report.newton_stop == Stop::MaxIterations && res <= tol {
            report.newton_stop = Stop::Converged;
        }
    } else if !res.is_finite() {
        report.newton_stop = Stop::Diverged;
    }
    report.residual = res;
    report.q = R::HALF * res * res;
}

/// Minimum scratch length of [`find_fixed_points_batch`] for up to `batch` starts (a longer
/// buffer is accepted): the per-start
/// scratch of [`find_fixed_point`] (for the Newton phase), five `batch × S` blocks (states,
/// residuals, gradients, Adam moments) and the cell's [`Cell::speed_batch_work_len`].
pub fn fixed_point_batch_scratch_len<R: Real, C: Cell<R>>(cell: &C, batch: usize) -> usize {
    fixed_point_scratch_len(cell) + 5 * batch * C::STATE + cell.speed_batch_work_len(batch)
}

/// [`find_fixed_point`] on `batch` start states at once (rows of `hs`, `batch × STATE`,
/// overwritten with the results; `reports` gets one entry per row).
///
/// The Adam phase runs on all rows together through the cell's batched
/// [`Cell::speed_grad_batch`] (matrix–matrix products instead of one matrix–vector product
/// per start); a row leaves the batch when it converges or diverges. Then each row gets the
/// Newton phase on its own. Every row's result is bit-identical to [`find_fixed_point`] from
/// the same start, whatever the other rows and the batch size: per-row arithmetic is the
/// same, in the same order.
///
/// `scratch` has at least [`fixed_point_batch_scratch_len`] elements, `pivots` at least
/// `STATE + batch` (LU pivots, then the map of active rows). Errors on
/// wrong buffer lengths or non-finite `p` / `x`; a row with a non-finite start gets
/// `Err(Error::NonFinite)` in `reports`, like [`find_fixed_point`].
#[allow(clippy::too_many_arguments)]
pub fn find_fixed_points_batch<R: Real, C: Cell<R>>(
    cell: &C,
    p: &[R],
    x: &[R],
    hs: &mut [R],
    batch: usize,
    params: &FixedPointParams,
    reports: &mut [Result<FixedPointReport<R>, Error>],
    scratch: &mut [R],
    pivots: &mut [usize],
) -> Result<(), Error> {
    let s = C::STATE;
    check_len(p.len(), cell.param_count())?;
    check_len(x.len(), C::INPUT)?;
    check_len(hs.len(), batch.saturating_mul(s))?;
    check_len(reports.len(), batch)?;
    let need = fixed_point_batch_scratch_len(cell, batch);
    check_scratch(scratch.len(), need)?;
    check_scratch(pivots.len(), s.saturating_add(batch))?;
    let (scratch, pivots) = (&mut scratch[..need], &mut pivots[..s + batch]);
    params.adam.check()?;
    if x.iter().chain(p).any(|v| !v.is_finite()) {
        return Err(Error::NonFinite);
    }
    let (newton_scratch, rest) = scratch.split_at_mut(fixed_point_scratch_len(cell));
    let (hb, rest) = rest.split_at_mut(batch * s);
    let (rb, rest) = rest.split_at_mut(batch * s);
    let (gb, rest) = rest.split_at_mut(batch * s);
    let (m1, rest) = rest.split_at_mut(batch * s);
    let (m2, work) = rest.split_at_mut(batch * s);
    let (piv, index) = pivots.split_at_mut(s);

    let mut na = 0;
    for b in 0..batch {
        let h = &hs[b * s..(b + 1) * s];
        if h.iter().any(|v| !v.is_finite()) {
            reports[b] = Err(Error::NonFinite);
            continue;
        }
        reports[b] = Ok(FixedPointReport {
            residual: R::ZERO,
            q: R::ZERO,
            adam_iterations: 0,
            newton_iterations: 0,
            adam_stop: Stop::Skipped,
            newton_stop: Stop::Skipped,
        });
        index[na] = b;
        hb[na * s..(na + 1) * s].copy_from_slice(h);
        na += 1;
    }

    // Phase 1: Adam on q, all active rows at once (same arithmetic as `find_fixed_point`).
    let ad = params.adam;
    if ad.max_iterations > 0 && na > 0 {
        m1.iter_mut().for_each(|v| *v = R::ZERO);
        m2.iter_mut().for_each(|v| *v = R::ZERO);
        for &b in &index[..na] {
            if let Ok(rep) = &mut reports[b] {
                rep.adam_stop = Stop::MaxIterations;
            }
        }
        let (b1, b2) = (R::from_f64(ad.beta1), R::from_f64(ad.beta2));
        let eps = R::from_f64(ad.eps);
        let q_tol = R::from_f64(ad.q_tolerance);
        let work = &mut work[..cell.speed_batch_work_len(batch)];
        cell.speed_batch_prepare(p, x, work);
        for it in 0..ad.max_iterations {
            if na == 0 {
                break;
            }
            cell.speed_grad_batch(
                p,
                x,
                na,
                &hb[..na * s],
                &mut rb[..na * s],
                &mut gb[..na * s],
                work,
            );
            let t = (it + 1) as f64;
            let lr =
                ad.learning_rate * libm::pow(ad.decay, it as f64 / ad.decay_every.max(1) as f64);
            let c1 = 1.0 - libm::pow(ad.beta1, t);
            let c2 = 1.0 - libm::pow(ad.beta2, t);
            let step = R::from_f64(lr / c1);
            let inv_c2 = R::from_f64(1.0 / c2);
            let mut keep = 0;
            for k in 0..na {
                let orig = index[k];
                let res = norm2(&rb[k * s..(k + 1) * s]);
                let q = R::HALF * res * res;
                let stop = if !q.is_finite() {
                    Some(Stop::Diverged)
                } else if q < q_tol {
                    Some(Stop::Converged)
                } else {
                    None
                };
                if let Some(stop) = stop {
                    hs[orig * s..(orig + 1) * s].copy_from_slice(&hb[k * s..(k + 1) * s]);
                    if let Ok(rep) = &mut reports[orig] {
                        rep.adam_stop = stop;
                    }
                    continue;
                }
                {
                    let (h, g) = (&mut hb[k * s..(k + 1) * s], &gb[k * s..(k + 1) * s]);
                    let (mo1, mo2) = (&mut m1[k * s..(k + 1) * s], &mut m2[k * s..(k + 1) * s]);
                    for j in 0..s {
                        mo1[j] = b1 * mo1[j] + (R::ONE - b1) * g[j];
                        mo2[j] = b2 * mo2[j] + (R::ONE - b2) * g[j] * g[j];
                        h[j] -= step * mo1[j] / (Real::sqrt(mo2[j] * inv_c2) + eps);
                    }
                }
                if let Ok(rep) = &mut reports[orig] {
                    rep.adam_iterations = it + 1;
                }
                if keep != k {
                    index[keep] = orig;
                    hb.copy_within(k * s..(k + 1) * s, keep * s);
                    m1.copy_within(k * s..(k + 1) * s, keep * s);
                    m2.copy_within(k * s..(k + 1) * s, keep * s);
                }
                keep += 1;
            }
            na = keep;
        }
    }
    for k in 0..na {
        let orig = index[k];
        hs[orig * s..(orig + 1) * s].copy_from_slice(&hb[k * s..(k + 1) * s]);
    }

    // Phase 2: Newton, row by row.
    for (b, rep) in reports.iter_mut().enumerate() {
        if let Ok(rep) = rep {
            newton_phase(
                cell,
                p,
                x,
                &mut hs[b * s..(b + 1) * s],
                &params.newton,
                rep,
                newton_scratch,
                piv,
            );
        }
    }
    Ok(())
}
