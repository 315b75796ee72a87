//! Linearised dynamics at a fixed point: Jacobian, eigen decomposition, stability index,
//! slow modes and oscillation angles.

use crate::cell::Cell;
use crate::error::{check_len, check_scratch};
use crate::linalg::eig::{
    eigen, eigen_scratch_len, Balance, ComputeLeft, EigParams, Eigenvalue, Sort,
};
use crate::{Error, Real};

/// Parameters of [`linearize`] and [`summarize`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinearizeParams {
    /// A mode is slow when `||λ| − 1| < slow_tolerance` (default 0.02).
    pub slow_tolerance: f64,
    /// A mode is unstable when `|λ| > 1 + unstable_margin` (default 1e-6). Neutral modes
    /// (line attractors, directions the map ignores) have `|λ| = 1` computed only up to
    /// rounding: about 1e-13 for a simple eigenvalue in f64, 1e-8 for a double one, so
    /// without a margin they would count as unstable at random. A mode at `1 + 1e-6`
    /// needs ≈ 700 000 steps to double a perturbation.
    pub unstable_margin: f64,
}

impl Default for LinearizeParams {
    fn default() -> Self {
        LinearizeParams {
            slow_tolerance: 0.02,
            unstable_margin: 1e-6,
        }
    }
}

/// Summary of the linearisation at one fixed point (discrete-time map: `|λ| > 1` unstable).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Linearization<R> {
    /// Number of eigenvalues with `|λ| > 1 + unstable_margin` (unstable dimensions; a
    /// complex pair counts twice). With eigenvalues sorted by decreasing modulus, these are
    /// the first `stability_index`.
    pub stability_index: usize,
    /// Number of eigenvalues with `||λ| − 1| < slow_tolerance`.
    pub slow_modes: usize,
    /// Number of eigenvalues with `||λ| − 1| ≤ unstable_margin`: neutral modes (a line or
    /// plane of fixed points, or a bifurcation). A point with index 0 is an attractor only
    /// if it has none.
    pub neutral_modes: usize,
    /// Largest `|λ|`.
    pub spectral_radius: R,
    /// `arg λ` of the largest-modulus eigenvalue with positive imaginary part (0 if all are
    /// real): the rotation per step of the leading oscillatory mode.
    pub leading_angle: R,
}

/// Minimum scratch length of [`linearize`] for a `state`-dimensional cell (a longer
/// buffer is accepted).
pub const fn linearize_scratch_len(state: usize) -> usize {
    state * state + eigen_scratch_len(state, ComputeLeft::No)
}

/// Linearises `F(·, x)` at `h`: writes the state Jacobian (`jacobian`, row-major
/// `S × S`), its eigenvalues sorted by decreasing modulus (`values`, length `S`) and right
/// eigenvectors (`vectors`, row `j` for `values[j]`, layout of [`crate::linalg::eig`]).
pub fn linearize<R: Real, C: Cell<R>>(
    cell: &C,
    p: &[R],
    x: &[R],
    h: &[R],
    params: &LinearizeParams,
    jacobian: &mut [R],
    values: &mut [Eigenvalue<R>],
    vectors: &mut [R],
    scratch: &mut [R],
) -> Result<Linearization<R>, Error> {
    let s = C::STATE;
    check_len(p.len(), cell.param_count())?;
    check_len(x.len(), C::INPUT)?;
    check_len(h.len(), s)?;
    check_len(jacobian.len(), s * s)?;
    check_len(values.len(), s)?;
    check_len(vectors.len(), s * s)?;
    let need = linearize_scratch_len(s);
    check_scratch(scratch.len(), need)?;
    let scratch = &mut scratch[..need];
    if h.iter().chain(x).chain(p).any(|v| !v.is_finite()) {
        return Err(Error::NonFinite);
    }
    cell.jacobian_state(p, h, x, jacobian);
    let (work, eig_scratch) = scratch.split_at_mut(s * s);
    work.copy_from_slice(jacobian);
    let eig_params = EigParams {
        sort: Sort::ByModulusDescending,
        ..Default::default()
    };
    match eigen(s, work, values, vectors, None, eig_scratch, &eig_params) {
        // The QR iteration cycled on some Jacobians with many exact zeros (ReLU units that
        // are off) after scaling-only balancing; the default balancing now permutes those
        // rows out first. Kept as a safety net: the same matrix unbalanced converges.
        // The Jacobian is still intact.
        Err(Error::NoConvergence) => {
            work.copy_from_slice(jacobian);
            let unbalanced = EigParams {
                balance: Balance::None,
                ..eig_params
            };
            eigen(s, work, values, vectors, None, eig_scratch, &unbalanced)?;
        }
        other => other?,
    }
    Ok(summarize(values, params))
}

/// Stability index, slow modes, spectral radius and leading angle of a spectrum.
pub fn summarize<R: Real>(values: &[Eigenvalue<R>], params: &LinearizeParams) -> Linearization<R> {
    let tol = R::from_f64(params.slow_tolerance);
    let margin = R::from_f64(params.unstable_margin);
    let unstable_above = R::ONE + margin;
    let mut out = Linearization {
        stability_index: 0,
        slow_modes: 0,
        neutral_modes: 0,
        spectral_radius: R::ZERO,
        leading_angle: R::ZERO,
    };
    let mut leading_osc = -R::ONE;
    for v in values {
        let m = v.modulus();
        if m > unstable_above {
            out.stability_index += 1;
        }
        if (m - R::ONE).abs() < tol {
            out.slow_modes += 1;
        }
        if (m - R::ONE).abs() <= margin {
            out.neutral_modes += 1;
        }
        out.spectral_radius = out.spectral_radius.max(m);
        if v.im > R::ZERO && m > leading_osc {
            leading_osc = m;
            out.leading_angle = v.arg();
        }
    }
    out
}
