//! Opt-in fast approximations for inference on a device (feature `fast-math`).
//!
//! Explicit functions only: nothing here replaces the libm maths of [`crate::Real`], and no
//! gradient, training or fixed-point code calls them (their Jacobians would no longer match
//! the map). Use them to *run* a trained network when speed matters more than the last
//! digits; everything else in the core stays bit-identical between host and device.
//!
//! The exponential is micromath's (`2^n` from the exponent bits times a 4-term series on
//! the fraction, about 1e-3 relative error); tanh and the logistic function are built on it.
//! Measured errors (test `fast_math::tests`, sweep of `[-12, 12]` in steps of 1e-3):
//! `|tanh_f32 − tanhf| = 1.05e-3`, `|sigmoid_f32 − σ| = 5.3e-4`; one GRU-16 step on random
//! states in `[-1, 1]^16` and every input in `{-1, 0, 1}^3`, weights at gain 1 and 3, both
//! conventions: `|h'_fast − h'_libm| ≤ 1.42e-3` (vanilla-16: 1.06e-3). The tests assert
//! these with about 15 % headroom.

use crate::cell::{Activation, GruCell, GruConvention, VanillaCell};
use crate::error::check_len;
use crate::kernel::gemv_acc;
use crate::{Error, LengthRule};

/// `e^x` (micromath): about 1e-3 relative error, 0 below `x ≈ −87`, ∞ above `x ≈ 88`.
#[inline]
// core/clippy.toml bans micromath's methods everywhere else: this module is the opt-in home
// of the approximations, and every fast function goes through this one call.
#[allow(clippy::disallowed_methods)]
pub fn exp_f32(x: f32) -> f32 {
    micromath::F32(x).exp().0
}

/// `tanh x = 1 − 2 / (e^{2x} + 1)` with [`exp_f32`]; exactly ±1 for `|x| > 9` (where
/// `tanhf` rounds to ±1 too). Absolute error ≤ 1.2e-3.
#[inline]
pub fn tanh_f32(x: f32) -> f32 {
    if x > 9.0 {
        1.0
    } else if x < -9.0 {
        -1.0
    } else {
        1.0 - 2.0 / (exp_f32(2.0 * x) + 1.0)
    }
}

/// Logistic function `σ(x) = 1 / (1 + e^{−x})` with [`exp_f32`]. Absolute error ≤ 6e-4;
/// in `[0, 1]` for every finite `x`.
#[inline]
pub fn sigmoid_f32(x: f32) -> f32 {
    if x < -87.0 {
        0.0
    } else {
        1.0 / (1.0 + exp_f32(-x))
    }
}

/// φ of an [`Activation`] with the fast tanh (ReLU is exact).
#[inline]
pub fn activation_f32(act: Activation, z: f32) -> f32 {
    match act {
        Activation::Tanh => tanh_f32(z),
        Activation::Relu => {
            if z > 0.0 {
                z
            } else {
                0.0
            }
        }
    }
}

/// One step `h' = F(h, x)` of a [`GruCell`] with the fast σ and φ: the same map as
/// `Cell::<f32>::step` (same parameter layout, both conventions) up to the approximation
/// error. `p` is the cell's parameter vector (`cell.params()`, a network's parameter
/// vector may be longer: the readout after the cell is ignored), `s` and `s_next` have
/// length `N`, `x` length `I`.
pub fn gru_step<const N: usize, const I: usize>(
    cell: &GruCell<N, I>,
    p: &[f32],
    s: &[f32],
    x: &[f32],
    s_next: &mut [f32],
) -> Result<(), Error> {
    let ld = 3 * N;
    let (u0, b0, bh0) = (
        3 * N * N,
        3 * N * N + 3 * I * N,
        3 * N * N + 3 * I * N + 3 * N,
    );
    if p.len() < cell.params() {
        return Err(Error::BufferSize {
            expected: cell.params(),
            got: p.len(),
            rule: LengthRule::Exact,
        });
    }
    check_len(s.len(), N)?;
    check_len(x.len(), I)?;
    check_len(s_next.len(), N)?;
    let (w, u, b) = (&p[..u0], &p[u0..b0], &p[b0..bh0]);
    let (mut z, mut r, mut c, mut rh) = ([0.0f32; N], [0.0f32; N], [0.0f32; N], [0.0f32; N]);
    z.copy_from_slice(&b[..N]);
    r.copy_from_slice(&b[N..2 * N]);
    c.copy_from_slice(&b[2 * N..]);
    gemv_acc(&mut z, u, ld, 0, x);
    gemv_acc(&mut r, u, ld, N, x);
    gemv_acc(&mut c, u, ld, 2 * N, x);
    gemv_acc(&mut z, w, ld, 0, s);
    gemv_acc(&mut r, w, ld, N, s);
    z.iter_mut().for_each(|v| *v = sigmoid_f32(*v));
    r.iter_mut().for_each(|v| *v = sigmoid_f32(*v));
    match cell.convention {
        GruConvention::ResetBeforeProduct => {
            for ((o, &rj), &hj) in rh.iter_mut().zip(&r).zip(s) {
                *o = rj * hj;
            }
            gemv_acc(&mut c, w, ld, 2 * N, &rh);
        }
        GruConvention::ResetAfterProduct => {
            rh.copy_from_slice(&p[bh0..bh0 + N]);
            gemv_acc(&mut rh, w, ld, 2 * N, s);
            for ((cj, &rj), &hw) in c.iter_mut().zip(&r).zip(&rh) {
                *cj += rj * hw;
            }
        }
    }
    let act = cell.activation;
    for (((o, &zj), &hj), &cj) in s_next.iter_mut().zip(&z).zip(s).zip(&c) {
        *o = zj * hj + (1.0 - zj) * activation_f32(act, cj);
    }
    Ok(())
}

/// One step `h' = φ(h W + x U + b)` of a [`VanillaCell`] with the fast φ (lengths as in
/// [`gru_step`]).
pub fn vanilla_step<const N: usize, const I: usize>(
    cell: &VanillaCell<N, I>,
    p: &[f32],
    s: &[f32],
    x: &[f32],
    s_next: &mut [f32],
) -> Result<(), Error> {
    let (u0, b0) = (N * N, N * N + I * N);
    if p.len() < VanillaCell::<N, I>::PARAMS {
        return Err(Error::BufferSize {
            expected: VanillaCell::<N, I>::PARAMS,
            got: p.len(),
            rule: LengthRule::Exact,
        });
    }
    check_len(s.len(), N)?;
    check_len(x.len(), I)?;
    check_len(s_next.len(), N)?;
    let mut z = [0.0f32; N];
    z.copy_from_slice(&p[b0..b0 + N]);
    gemv_acc(&mut z, &p[u0..b0], N, 0, x);
    gemv_acc(&mut z, &p[..u0], N, 0, s);
    for (o, &zj) in s_next.iter_mut().zip(&z) {
        *o = activation_f32(cell.activation, zj);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::{init_cell, Cell, InitParams};
    use crate::Rng;
    use std::println;

    /// Largest `|f(x) − g(x)|` over `x ∈ [-12, 12]` in steps of 1e-3.
    fn sweep(f: impl Fn(f32) -> f32, g: impl Fn(f32) -> f32) -> f32 {
        let mut worst = 0.0f32;
        for k in -12_000..=12_000 {
            let x = k as f32 * 1e-3;
            worst = worst.max(libm::fabsf(f(x) - g(x)));
        }
        worst
    }

    #[test]
    fn scalar_functions_are_close_to_libm() {
        let e_tanh = sweep(tanh_f32, libm::tanhf);
        let e_sig = sweep(sigmoid_f32, |x| 1.0 / (1.0 + libm::expf(-x)));
        println!("fast-math: max |tanh_f32 - tanhf| = {e_tanh:.3e}, max |sigmoid_f32 - sigma| = {e_sig:.3e}");
        assert!(e_tanh <= 1.2e-3, "tanh error {e_tanh}");
        assert!(e_sig <= 6.0e-4, "sigmoid error {e_sig}");
        // Saturation and range.
        assert_eq!(tanh_f32(50.0), 1.0);
        assert_eq!(tanh_f32(-50.0), -1.0);
        for &x in &[-1e30f32, -200.0, -88.0, -20.0, 0.0, 20.0, 88.0, 200.0, 1e30] {
            let s = sigmoid_f32(x);
            assert!((0.0..=1.0).contains(&s), "sigmoid({x}) = {s}");
            let t = tanh_f32(x);
            assert!((-1.0..=1.0).contains(&t), "tanh({x}) = {t}");
        }
        assert_eq!(activation_f32(Activation::Relu, -0.5), 0.0);
        assert_eq!(activation_f32(Activation::Relu, 0.5), 0.5);
    }

    /// Max |fast − libm| of one step over random states in [-1, 1]^N and every flip-flop
    /// input pattern in {-1, 0, 1}^3, for weights drawn with `gain`.
    fn gru_sweep(convention: GruConvention, gain: f64, seed: u64) -> f32 {
        const N: usize = 16;
        const I: usize = 3;
        let cell = GruCell::<N, I>::new(Activation::Tanh, convention);
        let mut p = [0.0f32; 3 * N * N + 3 * I * N + 4 * N];
        let np = cell.params();
        let mut rng = Rng::new(seed);
        let init = InitParams {
            recurrent: crate::cell::RecurrentInit::Normal { gain },
            input_scale: gain,
            gate_bias: 1.0,
            ..Default::default()
        };
        init_cell::<f32, _>(&cell, &mut p[..np], &mut rng, &init).unwrap();
        let p = &p[..np];
        let mut worst = 0.0f32;
        for _ in 0..200 {
            let mut s = [0.0f32; N];
            s.iter_mut()
                .for_each(|v| *v = rng.uniform_range(-1.0, 1.0) as f32);
            for pattern in 0..27 {
                let x = [
                    (pattern % 3) as f32 - 1.0,
                    ((pattern / 3) % 3) as f32 - 1.0,
                    (pattern / 9) as f32 - 1.0,
                ];
                let (mut exact, mut fast) = ([0.0f32; N], [0.0f32; N]);
                Cell::<f32>::step(&cell, p, &s, &x, &mut exact);
                gru_step(&cell, p, &s, &x, &mut fast).unwrap();
                for (a, b) in exact.iter().zip(&fast) {
                    worst = worst.max(libm::fabsf(a - b));
                }
            }
        }
        worst
    }

    #[test]
    fn gru_step_is_close_to_libm_step() {
        let mut overall = 0.0f32;
        for (convention, gain) in [
            (GruConvention::ResetBeforeProduct, 1.0),
            (GruConvention::ResetBeforeProduct, 3.0),
            (GruConvention::ResetAfterProduct, 1.0),
            (GruConvention::ResetAfterProduct, 3.0),
        ] {
            let e = gru_sweep(convention, gain, 7);
            println!(
                "fast-math: GRU-16 {convention:?} gain {gain}: max |h'_fast - h'_libm| = {e:.3e}"
            );
            overall = overall.max(e);
        }
        assert!(overall <= 1.6e-3, "GRU step error {overall}");
    }

    #[test]
    fn vanilla_step_is_close_to_libm_step() {
        const N: usize = 16;
        const I: usize = 3;
        let cell = VanillaCell::<N, I>::new(Activation::Tanh);
        let mut p = [0.0f32; VanillaCell::<N, I>::PARAMS];
        let mut rng = Rng::new(3);
        init_cell::<f32, _>(&cell, &mut p, &mut rng, &InitParams::default()).unwrap();
        let mut worst = 0.0f32;
        for _ in 0..500 {
            let mut s = [0.0f32; N];
            s.iter_mut()
                .for_each(|v| *v = rng.uniform_range(-1.0, 1.0) as f32);
            let x = [
                rng.normal() as f32,
                rng.normal() as f32,
                rng.normal() as f32,
            ];
            let (mut exact, mut fast) = ([0.0f32; N], [0.0f32; N]);
            Cell::<f32>::step(&cell, &p, &s, &x, &mut exact);
            vanilla_step(&cell, &p, &s, &x, &mut fast).unwrap();
            for (a, b) in exact.iter().zip(&fast) {
                worst = worst.max(libm::fabsf(a - b));
            }
        }
        println!("fast-math: vanilla-16 max |h'_fast - h'_libm| = {worst:.3e}");
        assert!(worst <= 1.2e-3, "vanilla step error {worst}");
    }

    #[test]
    fn wrong_lengths_are_errors() {
        let cell = GruCell::<4, 3>::new(Activation::Tanh, GruConvention::ResetBeforeProduct);
        let p = [0.0f32; 10];
        let mut out = [0.0f32; 4];
        assert!(gru_step(&cell, &p, &[0.0; 4], &[0.0; 3], &mut out).is_err());
        let p = [0.0f32; 3 * 16 + 3 * 12 + 12];
        assert!(gru_step(&cell, &p, &[0.0; 3], &[0.0; 3], &mut out).is_err());
        assert!(gru_step(&cell, &p, &[0.0; 4], &[0.0; 3], &mut out).is_ok());
    }
}
