//! Property tests (f64) of every cell × activation (× GRU convention):
//!
//! - analytic `jacobian_state` / `jacobian_input` against finite differences;
//! - `backward` (VJP) against the analytic Jacobians (`ds = Jᵀ ds'`, `dx += J_xᵀ ds'`),
//!   its `dp` against finite differences of `⟨ds', F(s, x; p)⟩`, `ds` overwritten,
//!   `dp`/`dx` accumulated;
//! - `forward` gives bit-identical states to `step`;
//! - the BPTT gradient of `Network::loss_and_grad` (+ `add_l2`) against finite differences
//!   of `Network::loss` (+ the L2 penalty) for every parameter of every block;
//! - `add_l2` on exactly the weight blocks (the finite differences above only check that its
//!   value and gradient agree);
//! - `Adam::update` against a naive transcription of Kingma & Ba's Algorithm 1, with `eps`
//!   large enough to matter.
//!
//! Finite differences are kink-aware so that ReLU cells can be tested at random points:
//! for each coordinate we form the third-order one-sided estimates
//! `D₊ = (−11 F(v) + 18 F(v+e) − 9 F(v+2e) + 2 F(v+3e)) / 6e` and the mirrored `D₋`
//! (each exact up to O(e³) where F is smooth on its side; their mean up to O(e⁴), which
//! matters: over six recurrent steps the loss has large higher derivatives, and plain
//! central differences at any step size miss 1e-6 relative on some entries). Where
//! `|D₊ − D₋|` exceeds smooth-function round-off, a ReLU kink lies within `3e` of the point
//! and the case is rejected (`prop_assume`); otherwise `(D₊ + D₋)/2` is the reference.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rnndyn_core::cell::BlockKind;
use rnndyn_core::train::{Adam, AdamParams, Network};
use rnndyn_core::Activation::{Relu, Tanh};
use rnndyn_core::GruConvention::{ResetAfterProduct, ResetBeforeProduct};
use rnndyn_core::{Cell, GruCell, LstmCell, UgrnnCell, VanillaCell};

/// Finite-difference step.
const FD_STEP: f64 = 1e-4;
/// Required relative accuracy of analytic derivatives against finite differences.
const REL_TOL: f64 = 1e-6;
/// Relative error is measured against `max(|a|, |b|, FLOOR · max-abs entry of the whole
/// Jacobian/gradient)`, so that entries that are tiny compared with their neighbours are
/// compared at a sensible absolute scale (FD round-off is ~1e-12 of that scale).
const FLOOR: f64 = 1e-3;
/// `|D₊ − D₋|` above this (relative to `max(1, |F|)`) means a kink is within reach
/// (smooth functions give ~1e-11).
const KINK_TOL: f64 = 1e-9;
/// Agreement of two analytic computations (VJP vs explicit Jacobian).
const ANALYTIC_TOL: f64 = 1e-11;
/// BPTT sizes.
const B: usize = 2;
const T: usize = 6;
const O: usize = 2;
const LAMBDA: f64 = 0.1;

/// Random raw material, sliced per cell (the largest cell needs less than this).
#[derive(Clone, Debug)]
struct Data {
    p: Vec<f64>,
    s: Vec<f64>,
    x: Vec<f64>,
    ds_next: Vec<f64>,
    xs: Vec<f64>,
    ys: Vec<f64>,
}

const MAX_P: usize = 1024;
const MAX_S: usize = 16;
const MAX_X: usize = 4;

fn data() -> impl Strategy<Value = Data> {
    let u = || -1.0f64..1.0;
    (
        0.5f64..1.5,
        prop::collection::vec(u(), MAX_P),
        prop::collection::vec(u(), MAX_S),
        prop::collection::vec(u(), MAX_X),
        prop::collection::vec(u(), MAX_S),
        prop::collection::vec(u(), B * T * MAX_X),
        prop::collection::vec(u(), B * T * O),
    )
        .prop_map(|(scale, mut p, mut s, x, ds_next, xs, ys)| {
            p.iter_mut().for_each(|w| *w *= scale);
            // LSTM cell states may exceed 1 in magnitude.
            s.iter_mut().for_each(|v| *v *= 1.5);
            Data {
                p,
                s,
                x,
                ds_next,
                xs,
                ys,
            }
        })
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

/// `Ok(())` if every `a[k]` matches `b[k]` to `tol` relative (with the floor described
/// above); the message names the first mismatch via `label(k)`.
fn assert_close(
    a: &[f64],
    b: &[f64],
    tol: f64,
    label: &dyn Fn(usize) -> String,
) -> Result<(), TestCaseError> {
    let scale = FLOOR * max_abs(a).max(max_abs(b));
    for (k, (&x, &y)) in a.iter().zip(b).enumerate() {
        let den = x.abs().max(y.abs()).max(scale).max(f64::MIN_POSITIVE);
        let err = (x - y).abs() / den;
        prop_assert!(
            err <= tol,
            "{}: analytic {x:e} vs reference {y:e} (rel err {err:e})",
            label(k)
        );
    }
    Ok(())
}

/// Kink-aware derivative of `f(v + δ)` (vector-valued, length `m`) at δ = 0.
fn fd(m: usize, f: &mut dyn FnMut(f64, &mut [f64])) -> Result<Vec<f64>, TestCaseError> {
    let e = FD_STEP;
    let mut vals: Vec<Vec<f64>> = vec![vec![0.0; m]; 7];
    for (k, val) in vals.iter_mut().enumerate() {
        f((k as f64 - 3.0) * e, val);
    }
    let mut out = vec![0.0; m];
    for j in 0..m {
        let v = |k: i32| vals[(k + 3) as usize][j];
        // Third-order one-sided stencils; their mean is fourth-order where F is smooth.
        let plus = (-11.0 * v(0) + 18.0 * v(1) - 9.0 * v(2) + 2.0 * v(3)) / (6.0 * e);
        let minus = (11.0 * v(0) - 18.0 * v(-1) + 9.0 * v(-2) - 2.0 * v(-3)) / (6.0 * e);
        prop_assume!(
            (plus - minus).abs() <= KINK_TOL * v(0).abs().max(1.0),
            "kink within 3e"
        );
        out[j] = 0.5 * (plus + minus);
    }
    Ok(out)
}

fn cell_label<C: Cell<f64> + core::fmt::Debug>(cell: &C) -> String {
    format!("{cell:?} N={} I={}", C::HIDDEN, C::INPUT)
}

/// Analytic state and input Jacobians against finite differences.
fn check_jacobians<C: Cell<f64> + core::fmt::Debug>(
    cell: C,
    d: &Data,
) -> Result<(), TestCaseError> {
    let (ns, ni) = (C::STATE, C::INPUT);
    let p = &d.p[..cell.param_count()];
    let (s, x) = (&d.s[..ns], &d.x[..ni]);
    let name = cell_label(&cell);

    let mut js = vec![0.0; ns * ns];
    cell.jacobian_state(p, s, x, &mut js);
    let mut fd_js = vec![0.0; ns * ns];
    for b in 0..ns {
        let col = fd(ns, &mut |delta, out| {
            let mut sp = s.to_vec();
            sp[b] += delta;
            cell.step(p, &sp, x, out);
        })?;
        for a in 0..ns {
            fd_js[a * ns + b] = col[a];
        }
    }
    assert_close(&js, &fd_js, REL_TOL, &|k| {
        format!("{name} dF/ds[{}, {}]", k / ns, k % ns)
    })?;

    let mut jx = vec![0.0; ns * ni];
    cell.jacobian_input(p, s, x, &mut jx);
    let mut fd_jx = vec![0.0; ns * ni];
    for k in 0..ni {
        let col = fd(ns, &mut |delta, out| {
            let mut xp = x.to_vec();
            xp[k] += delta;
            cell.step(p, s, &xp, out);
        })?;
        for a in 0..ns {
            fd_jx[a * ni + k] = col[a];
        }
    }
    assert_close(&jx, &fd_jx, REL_TOL, &|k| {
        format!("{name} dF/dx[{}, {}]", k / ni, k % ni)
    })
}

/// `forward` equals `step` bit for bit; `backward` is the transpose of the Jacobians for
/// `ds`/`dx`, overwrites `ds`, accumulates `dp`/`dx`, and its `dp` matches finite
/// differences.
fn check_backward<C: Cell<f64> + core::fmt::Debug>(cell: C, d: &Data) -> Result<(), TestCaseError> {
    let (ns, ni, np) = (C::STATE, C::INPUT, cell.param_count());
    let p = &d.p[..np];
    let (s, x, g) = (&d.s[..ns], &d.x[..ni], &d.ds_next[..ns]);
    let name = cell_label(&cell);

    let mut s_step = vec![0.0; ns];
    cell.step(p, s, x, &mut s_step);
    let mut s_fwd = vec![0.0; ns];
    let mut cache = vec![f64::NAN; C::CACHE];
    cell.forward(p, s, x, &mut s_fwd, &mut cache);
    prop_assert_eq!(
        s_step.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        s_fwd.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        "{}: forward differs from step",
        name
    );

    // Garbage in ds (must be overwritten), offsets in dp and dx (must be accumulated onto).
    let mut ds = vec![1e3; ns];
    let dp0: Vec<f64> = (0..np).map(|k| 0.25 * k as f64).collect();
    let dx0: Vec<f64> = (0..ni).map(|k| -0.5 + k as f64).collect();
    let mut dp = dp0.clone();
    let mut dx = dx0.clone();
    cell.backward(p, s, x, &s_fwd, &cache, g, &mut ds, &mut dp, Some(&mut dx));

    let mut js = vec![0.0; ns * ns];
    cell.jacobian_state(p, s, x, &mut js);
    let jt_g: Vec<f64> = (0..ns)
        .map(|b| (0..ns).map(|a| js[a * ns + b] * g[a]).sum())
        .collect();
    assert_close(&ds, &jt_g, ANALYTIC_TOL, &|k| {
        format!("{name} backward ds[{k}]")
    })?;

    let mut jx = vec![0.0; ns * ni];
    cell.jacobian_input(p, s, x, &mut jx);
    let jxt_g: Vec<f64> = (0..ni)
        .map(|k| dx0[k] + (0..ns).map(|a| jx[a * ni + k] * g[a]).sum::<f64>())
        .collect();
    assert_close(&dx, &jxt_g, ANALYTIC_TOL, &|k| {
        format!("{name} backward dx[{k}]")
    })?;

    // Without dx the rest is unchanged.
    let mut ds2 = vec![-7.0; ns];
    let mut dp2 = dp0.clone();
    cell.backward(p, s, x, &s_fwd, &cache, g, &mut ds2, &mut dp2, None);
    prop_assert_eq!(&ds2, &ds);
    prop_assert_eq!(&dp2, &dp);

    let dp_delta: Vec<f64> = dp.iter().zip(&dp0).map(|(a, b)| a - b).collect();
    let mut fd_dp = vec![0.0; np];
    for k in 0..np {
        let v = fd(1, &mut |delta, out| {
            let mut pp = p.to_vec();
            pp[k] += delta;
            let mut sn = vec![0.0; ns];
            cell.step(&pp, s, x, &mut sn);
            out[0] = sn.iter().zip(g).map(|(a, b)| a * b).sum();
        })?;
        fd_dp[k] = v[0];
    }
    // dp0 is added exactly only up to rounding: compare the increments at FD accuracy.
    assert_close(&dp_delta, &fd_dp, REL_TOL, &|k| {
        format!("{name} backward dp[{k}]")
    })
}

/// BPTT gradient (with L2) against finite differences of the loss (with L2).
fn check_bptt<C: Cell<f64> + core::fmt::Debug>(cell: C, d: &Data) -> Result<(), TestCaseError> {
    let net = Network::<C, O>::new(cell);
    let np = net.param_count();
    let ni = C::INPUT;
    let p = &d.p[..np];
    let xs = &d.xs[..B * T * ni];
    let ys = &d.ys[..B * T * O];
    let name = cell_label(&cell);

    let mut grad = vec![f64::NAN; np];
    let mut scratch = vec![0.0; Network::<C, O>::bptt_scratch_len::<f64>(B, T)];
    let loss = net
        .loss_and_grad(p, xs, ys, B, T, &mut grad, &mut scratch)
        .unwrap();
    let pen = net.add_l2(p, &mut grad, LAMBDA).unwrap();
    prop_assert!(pen > 0.0);

    let mut lscratch = vec![0.0; Network::<C, O>::loss_scratch_len::<f64>()];
    let loss2 = net.loss(p, xs, ys, B, T, &mut lscratch).unwrap();
    prop_assert!(
        (loss - loss2).abs() <= 1e-13 * loss.abs().max(1.0),
        "{name}: loss {loss} vs {loss2}"
    );

    let mut fd_grad = vec![0.0; np];
    let mut junk = vec![0.0; np];
    for k in 0..np {
        let v = fd(1, &mut |delta, out| {
            let mut pp = p.to_vec();
            pp[k] += delta;
            out[0] = net.loss(&pp, xs, ys, B, T, &mut lscratch).unwrap()
                + net.add_l2(&pp, &mut junk, LAMBDA).unwrap();
        })?;
        fd_grad[k] = v[0];
    }
    let blocks = net.blocks::<f64>();
    let block_of = |k: usize| {
        let mut off = 0;
        for b in blocks.iter().flatten() {
            if k < off + b.len() {
                return format!("{}[{}]", b.name, k - off);
            }
            off += b.len();
        }
        format!("?[{k}]")
    };
    assert_close(&grad, &fd_grad, REL_TOL, &|k| {
        format!("{name} dL/d{}", block_of(k))
    })
}

/// Adam sizes: parameters and steps.
const ADAM_P: usize = 5;
const ADAM_STEPS: usize = 4;

/// Hyper-parameters and a gradient sequence for [`check_adam`]. `eps` is drawn from
/// `[1e-3, 1]`, comparable to `√v̂ ≈ |g|`, so that a wrong sign or placement of `eps` shows
/// (the default 1e-8 hides it below any sensible tolerance).
fn adam_case() -> impl Strategy<Value = (AdamParams, Vec<f64>, Vec<f64>)> {
    (
        0.0f64..0.99,
        0.0f64..0.999,
        1e-3f64..1.0,
        1e-3f64..0.1,
        prop::collection::vec(-2.0f64..2.0, ADAM_P),
        prop::collection::vec(-1.0f64..1.0, ADAM_P * ADAM_STEPS),
    )
        .prop_map(|(beta1, beta2, eps, lr, p, gs)| {
            (
                AdamParams {
                    lr,
                    beta1,
                    beta2,
                    eps,
                },
                p,
                gs,
            )
        })
}

/// `Adam::update` against Algorithm 1 of Kingma & Ba (2015) written out naively:
/// `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`, `m̂ = m/(1−β₁ᵗ)`, `v̂ = v/(1−β₂ᵗ)`,
/// `p ← p − lr·m̂/(√v̂ + ε)`, with `βᵗ` as a running product. The two differ only in rounding
/// (the core folds `1/(1−β₁ᵗ)` into the step and uses `pow`): a few ulps of the update per
/// step, and an update can reach `lr·|m̂|/ε ≲ 0.1 · 1/1e-3 = 100`, hence 1e-12 relative to
/// `max(1, |p|)` (worst seen: 2.2e-16).
fn check_adam(prm: &AdamParams, p0: &[f64], gs: &[f64]) -> Result<(), TestCaseError> {
    let n = p0.len();
    let (mut m, mut v) = (vec![f64::NAN; n], vec![f64::NAN; n]);
    let mut adam = Adam::new(&mut m, &mut v).unwrap();
    let mut p = p0.to_vec();
    let (mut rm, mut rv, mut rp) = (vec![0.0; n], vec![0.0; n], p0.to_vec());
    let (mut b1t, mut b2t) = (1.0, 1.0);
    for (t, g) in gs.chunks_exact(n).enumerate() {
        adam.update(&mut p, g, prm, prm.lr).unwrap();
        prop_assert_eq!(adam.steps(), t as u64 + 1);
        b1t *= prm.beta1;
        b2t *= prm.beta2;
        for k in 0..n {
            rm[k] = prm.beta1 * rm[k] + (1.0 - prm.beta1) * g[k];
            rv[k] = prm.beta2 * rv[k] + (1.0 - prm.beta2) * g[k] * g[k];
            let m_hat = rm[k] / (1.0 - b1t);
            let v_hat = rv[k] / (1.0 - b2t);
            rp[k] -= prm.lr * m_hat / (libm::sqrt(v_hat) + prm.eps);
        }
        for k in 0..n {
            let err = (p[k] - rp[k]).abs() / rp[k].abs().max(1.0);
            prop_assert!(
                err <= 1e-12,
                "{prm:?} step {}: p[{k}] = {:e}, reference {:e}",
                t + 1,
                p[k],
                rp[k]
            );
        }
    }
    Ok(())
}

/// Runs `$check(cell, data)` for every cell × activation × GRU convention at size (N, I).
macro_rules! for_every_cell {
    ($n:literal, $i:literal, $check:ident, $d:expr) => {{
        for act in [Tanh, Relu] {
            $check(VanillaCell::<$n, $i>::new(act), $d)?;
            $check(UgrnnCell::<$n, $i>::new(act), $d)?;
            for conv in [ResetBeforeProduct, ResetAfterProduct] {
                $check(GruCell::<$n, $i>::new(act, conv), $d)?;
            }
            $check(LstmCell::<$n, $i>::new(act), $d)?;
        }
    }};
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, max_global_rejects: 4096, ..ProptestConfig::default() })]

    #[test]
    fn jacobians_match_finite_differences_n5_i3(d in data()) {
        for_every_cell!(5, 3, check_jacobians, &d);
    }

    #[test]
    fn jacobians_match_finite_differences_n4_i2(d in data()) {
        for_every_cell!(4, 2, check_jacobians, &d);
    }

    /// N = 13 runs the GRU's tiled reset-before product through a full 8-column tile, the
    /// column remainder and a partial block of rows (the smaller sizes only reach the last).
    #[test]
    fn gru_jacobians_match_finite_differences_n13_i3(d in data()) {
        for act in [Tanh, Relu] {
            for conv in [ResetBeforeProduct, ResetAfterProduct] {
                check_jacobians(GruCell::<13, 3>::new(act, conv), &d)?;
            }
        }
    }

    /// N = 16 runs a second 8-column tile (columns 8..16) of the reset-before product, so a
    /// wrong tile offset shows (N = 13 only has the tile at column 0, where it is 0).
    #[test]
    fn gru_jacobians_match_finite_differences_n16_i3(d in data()) {
        for act in [Tanh, Relu] {
            for conv in [ResetBeforeProduct, ResetAfterProduct] {
                check_jacobians(GruCell::<16, 3>::new(act, conv), &d)?;
            }
        }
    }

    #[test]
    fn backward_is_the_jacobian_transpose_n5_i3(d in data()) {
        for_every_cell!(5, 3, check_backward, &d);
    }

    #[test]
    fn backward_is_the_jacobian_transpose_n4_i2(d in data()) {
        for_every_cell!(4, 2, check_backward, &d);
    }

    #[test]
    fn bptt_gradient_matches_finite_differences_n5_i3(d in data()) {
        for_every_cell!(5, 3, check_bptt, &d);
    }

    #[test]
    fn bptt_gradient_matches_finite_differences_n4_i2(d in data()) {
        for_every_cell!(4, 2, check_bptt, &d);
    }
}

proptest! {
    #[test]
    fn adam_matches_the_textbook_update((prm, p, gs) in adam_case()) {
        check_adam(&prm, &p, &gs)?;
    }
}

/// `add_l2` penalises exactly the weight blocks (recurrent, input, readout) and no bias:
/// it adds `λ w` to the gradient there and nothing elsewhere, and returns `½ λ Σ w²`.
fn check_l2<C: Cell<f64> + core::fmt::Debug>(cell: C) {
    let net = Network::<C, O>::new(cell);
    let np = net.param_count();
    let p: Vec<f64> = (0..np).map(|k| 0.9 - 0.013 * k as f64).collect();
    let g0: Vec<f64> = (0..np).map(|k| k as f64).collect();
    let mut grad = g0.clone();
    let pen = net.add_l2(&p, &mut grad, LAMBDA).unwrap();
    let label = cell_label(&cell);
    let (mut sum_sq, mut off) = (0.0, 0);
    for b in net.blocks::<f64>().iter().flatten() {
        let weight = matches!(
            b.kind,
            BlockKind::Recurrent | BlockKind::Input | BlockKind::Readout
        );
        for k in off..off + b.len() {
            let want = if weight {
                sum_sq += p[k] * p[k];
                g0[k] + LAMBDA * p[k]
            } else {
                g0[k]
            };
            assert_eq!(grad[k], want, "{label} d{}[{}]", b.name, k - off);
        }
        off += b.len();
    }
    assert_eq!(off, np);
    let want_pen = 0.5 * LAMBDA * sum_sq;
    assert!(
        (pen - want_pen).abs() <= 1e-14 * want_pen,
        "{pen} vs {want_pen}"
    );
}

#[test]
fn l2_penalty_covers_exactly_the_weight_blocks() {
    check_l2(VanillaCell::<5, 3>::new(Tanh));
    check_l2(UgrnnCell::<5, 3>::new(Tanh));
    for conv in [ResetBeforeProduct, ResetAfterProduct] {
        check_l2(GruCell::<5, 3>::new(Tanh, conv));
    }
    check_l2(LstmCell::<5, 3>::new(Tanh));
}

/// The parameter layout every test above slices from `Data` fits.
#[test]
fn data_sizes_suffice() {
    let lstm = Network::<LstmCell<5, 3>, O>::new(LstmCell::new(Tanh));
    assert!(lstm.param_count::<f64>() <= MAX_P);
    let gru = Network::<GruCell<5, 3>, O>::new(GruCell::new(Tanh, ResetAfterProduct));
    assert!(gru.param_count::<f64>() <= MAX_P);
    assert!(GruCell::<16, 3>::new(Tanh, ResetAfterProduct).params() <= MAX_P);
    const { assert!(<GruCell<16, 3> as Cell<f64>>::STATE <= MAX_S) };
    const { assert!(<LstmCell<5, 3> as Cell<f64>>::STATE <= MAX_S) };
}
