//! Adam (Kingma & Ba 2015, bias-corrected) and gradient-norm clipping, in place.

use crate::error::check_len;
use crate::kernel::norm2;
use crate::{Error, Real};

/// Adam hyper-parameters. Defaults: `lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamParams {
    /// Step size, for callers without a schedule: [`Adam::update`] takes the step size
    /// as its own argument (default 1e-3).
    pub lr: f64,
    /// First-moment decay β₁ (default 0.9).
    pub beta1: f64,
    /// Second-moment decay β₂ (default 0.999).
    pub beta2: f64,
    /// ε added to √v̂ in the denominator (default 1e-8).
    pub eps: f64,
}

impl Default for AdamParams {
    fn default() -> Self {
        AdamParams {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

impl AdamParams {
    /// `Ok` for `0 ≤ beta1, beta2 < 1`, finite `eps > 0` and finite `lr ≥ 0`; otherwise
    /// [`Error::InvalidParameter`] (`beta1 = 1` would divide by `1 − 1` and turn every
    /// parameter into NaN).
    pub fn check(&self, lr: f64) -> Result<(), Error> {
        let beta = |b: f64| (0.0..1.0).contains(&b);
        if beta(self.beta1)
            && beta(self.beta2)
            && self.eps > 0.0
            && self.eps.is_finite()
            && lr >= 0.0
            && lr.is_finite()
        {
            Ok(())
        } else {
            Err(Error::InvalidParameter)
        }
    }
}

/// Adam state over caller-owned moment buffers (each the length of the parameters).
#[derive(Debug)]
pub struct Adam<'a, R: Real> {
    m: &'a mut [R],
    v: &'a mut [R],
    t: u64,
}

impl<'a, R: Real> Adam<'a, R> {
    /// Starts at step 0 with zeroed moments.
    pub fn new(m: &'a mut [R], v: &'a mut [R]) -> Result<Self, Error> {
        check_len(v.len(), m.len())?;
        m.iter_mut().for_each(|x| *x = R::ZERO);
        v.iter_mut().for_each(|x| *x = R::ZERO);
        Ok(Adam { m, v, t: 0 })
    }

    /// Resumes from saved moments and step count.
    pub fn resume(m: &'a mut [R], v: &'a mut [R], t: u64) -> Result<Self, Error> {
        check_len(v.len(), m.len())?;
        Ok(Adam { m, v, t })
    }

    /// Number of updates applied so far.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// One bias-corrected update `p ← p − lr · m̂ / (√v̂ + eps)` with learning rate `lr`
    /// (pass `params.lr` or a scheduled value).
    pub fn update(
        &mut self,
        p: &mut [R],
        g: &[R],
        params: &AdamParams,
        lr: f64,
    ) -> Result<(), Error> {
        check_len(p.len(), self.m.len())?;
        check_len(g.len(), self.m.len())?;
        params.check(lr)?;
        self.t += 1;
        let b1 = R::from_f64(params.beta1);
        let b2 = R::from_f64(params.beta2);
        let one = R::ONE;
        // Bias corrections in f64: beta^t underflows gracefully, exact for t = 1.
        let t = self.t.min(i32::MAX as u64) as i32;
        let c1 = 1.0 - libm::pow(params.beta1, t as f64);
        let c2 = 1.0 - libm::pow(params.beta2, t as f64);
        let step = R::from_f64(lr / c1);
        let inv_c2 = R::from_f64(1.0 / c2);
        let eps = R::from_f64(params.eps);
        for (((pi, &gi), mi), vi) in p
            .iter_mut()
            .zip(g)
            .zip(self.m.iter_mut())
            .zip(self.v.iter_mut())
        {
            *mi = b1 * *mi + (one - b1) * gi;
            *vi = b2 * *vi + (one - b2) * gi * gi;
            *pi -= step * *mi / (Real::sqrt(*vi * inv_c2) + eps);
        }
        Ok(())
    }
}

/// Euclidean norm of a gradient (overflow-safe).
pub fn grad_norm<R: Real>(g: &[R]) -> R {
    norm2(g)
}

/// Scales `g` so that its Euclidean norm is at most `max_norm`; returns the norm before
/// clipping. A non-finite norm leaves `g` unchanged (the caller records divergence).
pub fn clip_grad_norm<R: Real>(g: &mut [R], max_norm: R) -> R {
    let norm = norm2(g);
    if norm.is_finite() && norm > max_norm && norm > R::ZERO {
        let s = max_norm / norm;
        g.iter_mut().for_each(|x| *x *= s);
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hyper-parameters that would turn the parameters into NaN or ∞ are refused before the
    /// step counter or the moments move.
    #[test]
    fn invalid_hyper_parameters_are_refused() {
        let (mut m, mut v) = ([0.0f64; 2], [0.0f64; 2]);
        let mut adam = Adam::new(&mut m, &mut v).unwrap();
        let mut p = [1.0f64, 2.0];
        let g = [0.5, -0.5];
        let ok = AdamParams::default();
        for (bad, lr) in [
            (AdamParams { beta1: 1.0, ..ok }, 1e-3),
            (AdamParams { beta2: -0.1, ..ok }, 1e-3),
            (AdamParams { eps: 0.0, ..ok }, 1e-3),
            (
                AdamParams {
                    eps: f64::NAN,
                    ..ok
                },
                1e-3,
            ),
            (ok, f64::INFINITY),
            (ok, -1e-3),
        ] {
            assert_eq!(
                adam.update(&mut p, &g, &bad, lr),
                Err(Error::InvalidParameter)
            );
        }
        assert_eq!((adam.steps(), p), (0, [1.0, 2.0]));
        adam.update(&mut p, &g, &ok, 1e-3).unwrap();
        assert_eq!(adam.steps(), 1);
        assert!(p[0] < 1.0 && p[1] > 2.0);
    }

    /// A NaN anywhere gives a NaN norm (so the caller records divergence), even when every
    /// other entry is zero; the gradient is left as it was.
    #[test]
    fn a_nan_gradient_has_a_nan_norm() {
        for g in [[f64::NAN, 0.0, 0.0], [0.0, f64::NAN, 3.0], [f64::NAN; 3]] {
            let mut c = g;
            assert!(clip_grad_norm(&mut c, 1.0).is_nan(), "{g:?}");
            assert!(grad_norm(&g).is_nan());
            assert_eq!(c.map(f64::to_bits), g.map(f64::to_bits));
        }
        assert_eq!(grad_norm(&[3.0f64, 4.0]), 5.0);
    }

    /// An infinite norm is divergence too: scaling by `max_norm / ∞ = 0` would zero the
    /// finite entries and turn the infinite ones into NaN, so the gradient is left as it was.
    #[test]
    fn an_infinite_gradient_is_left_unchanged() {
        for g in [[f64::INFINITY, 1.0, -2.0], [0.0, f64::NEG_INFINITY, 0.0]] {
            let mut c = g;
            assert_eq!(clip_grad_norm(&mut c, 1.0), f64::INFINITY, "{g:?}");
            assert_eq!(c.map(f64::to_bits), g.map(f64::to_bits));
        }
    }

    /// A zero gradient stays zero whatever the bound: a negative bound is below its norm 0,
    /// and scaling by `max_norm / 0 = −∞` would give NaN.
    #[test]
    fn a_zero_gradient_stays_zero_for_any_bound() {
        for max_norm in [1.0f64, 0.0, -1.0] {
            let mut g = [0.0f64; 3];
            assert_eq!(clip_grad_norm(&mut g, max_norm), 0.0);
            assert_eq!(g, [0.0; 3], "bound {max_norm}");
        }
    }

    #[test]
    fn first_adam_step_moves_each_parameter_by_lr() {
        // With bias correction, step 1 is lr · g/|g| (up to eps) for every coordinate.
        let mut p = [1.0f64, -2.0, 3.0];
        let g = [0.5, -4.0, 1e-3];
        let (mut m, mut v) = ([0.0; 3], [0.0; 3]);
        let mut adam = Adam::new(&mut m, &mut v).unwrap();
        let prm = AdamParams {
            lr: 0.01,
            ..Default::default()
        };
        adam.update(&mut p, &g, &prm, prm.lr).unwrap();
        assert!((p[0] - 0.99).abs() < 1e-7);
        assert!((p[1] + 1.99).abs() < 1e-7);
        assert!((p[2] - 2.99).abs() < 1e-4);
    }

    #[test]
    fn adam_minimises_a_quadratic() {
        let mut p = [5.0f64, -3.0];
        let (mut m, mut v) = ([0.0; 2], [0.0; 2]);
        let mut adam = Adam::new(&mut m, &mut v).unwrap();
        let prm = AdamParams {
            lr: 0.05,
            ..Default::default()
        };
        for _ in 0..3000 {
            let g = [2.0 * (p[0] - 1.0), 2.0 * (p[1] + 1.0)];
            adam.update(&mut p, &g, &prm, prm.lr).unwrap();
        }
        assert!(
            (p[0] - 1.0).abs() < 1e-3 && (p[1] + 1.0).abs() < 1e-3,
            "{p:?}"
        );
    }

    #[test]
    fn clipping_bounds_the_norm() {
        let mut g = [3.0f32, 4.0];
        let n = clip_grad_norm(&mut g, 1.0);
        assert_eq!(n, 5.0);
        assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6);
        let mut h = [0.3f32, 0.4];
        clip_grad_norm(&mut h, 1.0);
        assert_eq!(h, [0.3, 0.4]);
    }

    #[test]
    fn mismatched_buffers_are_an_error() {
        let (mut m, mut v) = ([0.0f64; 2], [0.0; 3]);
        assert!(Adam::new(&mut m, &mut v).is_err());
    }
}
