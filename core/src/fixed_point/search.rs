//! The two-phase fixed-point search (see the module docs).

use crate::cell::Cell;
use crate::error::check_len;
use crate::kernel::norm2;
use crate::linalg::lu::{lu_factor, lu_scratch_len, LuError, LuParams};
use crate::{Error, Real};

/// The Adam phase. Defaults: `lr = 1e-2` decaying by ×0.5 every 1000 iterations,
/// `max_iterations = 5000`, stop when `q < q_tolerance = 1e-10` (the FixedPointFinder
/// convention).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamPhase {
    pub learning_rate: f64,
    pub decay: f64,
    pub decay_every: usize,
    pub max_iterations: usize,
    pub q_tolerance: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
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
    pub max_iterations: usize,
    pub residual_tolerance: f64,
    pub initial_damping: f64,
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
    pub adam: AdamPhase,
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
    pub adam_iterations: usize,
    pub newton_iterations: usize,
    pub adam_stop: Stop,
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

/// Scratch length of [`find_fixed_point`] for `cell`: two `S × S` matrices, a few state
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
/// Errors only on wrong buffer lengths or non-finite inputs; a search that fails to converge
/// is reported in the returned [`FixedPointReport`].
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
    check_len(scratch.len(), fixed_point_scratch_len(cell))?;
    check_len(pivots.len(), s)?;
    if h.iter().chain(x).chain(p).any(|v| !v.is_finite()) {
        return Err(Error::NonFinite);
    }
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
    let (cache, rest) = rest.split_at_mut(C::CACHE);
    let (dp, lu_scratch) = rest.split_at_mut(cell.param_count());

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

    // Phase 2: Newton with Levenberg–Marquardt fallback.
    let nt = params.newton;
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
            // residual drops.
            let mut diag_max = R::ZERO;
            for j in 0..s {
                let mut d = R::ZERO;
                for i in 0..s {
                    d += a[i * s + j] * a[i * s + j];
                }
                diag_max = diag_max.max(d);
            }
            let mut lambda = R::from_f64(nt.initial_damping) * (R::ONE + diag_max);
            best.copy_from_slice(h);
            for _ in 0..nt.max_rejections {
                // m = AᵀA + λI, delta = −Aᵀ r
                for i in 0..s {
                    for j in 0..s {
                        let mut acc = R::ZERO;
                        for k in 0..s {
                            acc += a[k * s + i] * a[k * s + j];
                        }
                        m[i * s + j] = acc;
                    }
                    m[i * s + i] += lambda;
                    let mut acc = R::ZERO;
                    for k in 0..s {
                        acc += a[k * s + i] * r[k];
                    }
                    delta[i] = -acc;
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
    Ok(report)
}
