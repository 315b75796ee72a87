#![allow(clippy::disallowed_methods)] // host-only test code: std maths checks the core independently.
//! Fixed-point refinement on maps with a known fixed point: Newton converges
//! quadratically to residual ≤ 1e-12 (f64), and the Adam phase alone reaches its q
//! tolerance; a failed search is reported, not a panic.

use rnndyn_core::cell::{Cell, InitParams, RecurrentInit};
use rnndyn_core::fixed_point::{
    find_fixed_point, find_fixed_points_batch, fixed_point_batch_scratch_len,
    fixed_point_scratch_len, AdamPhase, FixedPointParams, FixedPointReport, NewtonPhase, Stop,
};
use rnndyn_core::{Activation, GruCell, GruConvention, LstmCell, Rng, VanillaCell};

const N: usize = 12;
const I: usize = 3;

/// A vanilla tanh network with a planted fixed point h*: b = atanh(h*) − h* W (x = 0).
fn planted(seed: u64) -> (VanillaCell<N, I>, Vec<f64>, Vec<f64>) {
    let cell = VanillaCell::<N, I>::new(Activation::Tanh);
    let mut p = vec![0.0f64; Cell::<f64>::param_count(&cell)];
    let mut rng = Rng::new(seed);
    let init = InitParams {
        recurrent: RecurrentInit::Normal { gain: 1.5 },
        ..Default::default()
    };
    rnndyn_core::cell::init_cell(&cell, &mut p, &mut rng, &init).unwrap();
    let h: Vec<f64> = (0..N).map(|_| rng.uniform_range(-0.6, 0.6)).collect();
    let b0 = N * N + I * N;
    for j in 0..N {
        let mut z = 0.0;
        for i in 0..N {
            z += h[i] * p[i * N + j];
        }
        p[b0 + j] = libm::atanh(h[j]) - z;
    }
    (cell, p, h)
}

fn residual<C: Cell<f64>>(cell: &C, p: &[f64], h: &[f64]) -> f64 {
    let mut f = vec![0.0; h.len()];
    cell.step(p, h, &vec![0.0; C::INPUT], &mut f);
    f.iter()
        .zip(h)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        .sqrt()
}

fn newton_only(iters: usize) -> FixedPointParams {
    FixedPointParams {
        adam: AdamPhase {
            max_iterations: 0,
            ..Default::default()
        },
        newton: NewtonPhase {
            max_iterations: iters,
            residual_tolerance: 0.0,
            ..Default::default()
        },
    }
}

#[test]
fn newton_converges_quadratically_to_the_planted_fixed_point() {
    for seed in 0..8 {
        let (cell, p, hstar) = planted(seed);
        let mut rng = Rng::new(100 + seed);
        let start: Vec<f64> = hstar.iter().map(|&v| v + 0.05 * rng.normal()).collect();
        let mut scratch = vec![0.0; fixed_point_scratch_len::<f64, _>(&cell)];
        let mut piv = vec![0usize; N];
        // Residual after k Newton iterations, k = 0..6.
        let mut res = Vec::new();
        for k in 0..7 {
            let mut h = start.clone();
            if k > 0 {
                find_fixed_point(
                    &cell,
                    &p,
                    &[0.0; I],
                    &mut h,
                    &newton_only(k),
                    &mut scratch,
                    &mut piv,
                )
                .unwrap();
            }
            res.push(residual(&cell, &p, &h));
        }
        // Quadratic: once in the basin, r_{k+1} ≤ C r_k² until the rounding floor.
        let mut quadratic_steps = 0;
        for k in 0..6 {
            if res[k] < 1e-2 && res[k] > 1e-7 {
                assert!(
                    res[k + 1] <= 50.0 * res[k] * res[k],
                    "seed {seed}: residuals {res:?}"
                );
                quadratic_steps += 1;
            }
        }
        assert!(quadratic_steps >= 1, "seed {seed}: residuals {res:?}");
        let mut h = start.clone();
        let params = FixedPointParams {
            adam: AdamPhase {
                max_iterations: 0,
                ..Default::default()
            },
            ..Default::default()
        };
        let r = find_fixed_point(
            &cell,
            &p,
            &[0.0; I],
            &mut h,
            &params,
            &mut scratch,
            &mut piv,
        )
        .unwrap();
        assert!(r.residual <= 1e-12, "seed {seed}: {r:?}");
        assert_eq!(r.stop(), Stop::Converged);
        let err = h
            .iter()
            .zip(&hstar)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(err < 1e-10, "seed {seed}: |h − h*| = {err}");
    }
}

#[test]
fn adam_alone_reaches_its_tolerance() {
    for seed in 0..4 {
        let (cell, p, _) = planted(seed);
        let mut rng = Rng::new(200 + seed);
        let mut scratch = vec![0.0; fixed_point_scratch_len::<f64, _>(&cell)];
        let mut piv = vec![0usize; N];
        let (_, _, hstar) = planted(seed);
        let mut h: Vec<f64> = hstar.iter().map(|&v| v + 0.05 * rng.normal()).collect();
        let params = FixedPointParams {
            adam: AdamPhase {
                max_iterations: 20_000,
                q_tolerance: 1e-10,
                learning_rate: 1e-3,
                decay: 1.0,
                ..Default::default()
            },
            newton: NewtonPhase {
                max_iterations: 0,
                ..Default::default()
            },
        };
        let r = find_fixed_point(
            &cell,
            &p,
            &[0.0; I],
            &mut h,
            &params,
            &mut scratch,
            &mut piv,
        )
        .unwrap();
        assert_eq!(r.adam_stop, Stop::Converged, "seed {seed}: {r:?}");
        assert!(r.q < 1e-10, "seed {seed}: {r:?}");
        assert_eq!(r.newton_stop, Stop::Skipped);
    }
}

/// Contracting GRU and LSTM maps: the search agrees with plain iteration of the map.
#[test]
fn gated_cells_agree_with_iteration_of_a_contraction() {
    fn check<C: Cell<f64>>(cell: C) {
        let mut p = vec![0.0f64; Cell::<f64>::param_count(&cell)];
        let init = InitParams {
            recurrent: RecurrentInit::Normal { gain: 0.3 },
            ..Default::default()
        };
        rnndyn_core::cell::init_cell(&cell, &mut p, &mut Rng::new(9), &init).unwrap();
        let x = [0.3, -0.2, 0.1];
        let s = C::STATE;
        let mut h = vec![0.0; s];
        let mut next = vec![0.0; s];
        for _ in 0..20_000 {
            cell.step(&p, &h, &x, &mut next);
            std::mem::swap(&mut h, &mut next);
        }
        let mut found = vec![0.5; s];
        let mut scratch = vec![0.0; fixed_point_scratch_len::<f64, _>(&cell)];
        let mut piv = vec![0usize; s];
        let r = find_fixed_point(
            &cell,
            &p,
            &x,
            &mut found,
            &FixedPointParams::default(),
            &mut scratch,
            &mut piv,
        )
        .unwrap();
        assert!(r.residual <= 1e-12, "{}: {r:?}", cell.name());
        let err = found
            .iter()
            .zip(&h)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(err < 1e-9, "{}: {err}", cell.name());
    }
    check(GruCell::<N, I>::new(
        Activation::Tanh,
        GruConvention::ResetBeforeProduct,
    ));
    check(GruCell::<N, I>::new(
        Activation::Tanh,
        GruConvention::ResetAfterProduct,
    ));
    check(LstmCell::<N, I>::new(Activation::Tanh));
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let (cell, p, _) = planted(1);
    let mut scratch = vec![0.0; fixed_point_scratch_len::<f64, _>(&cell)];
    let mut piv = vec![0usize; N];
    let mut h = vec![f64::NAN; N];
    assert!(find_fixed_point(
        &cell,
        &p,
        &[0.0; I],
        &mut h,
        &FixedPointParams::default(),
        &mut scratch,
        &mut piv
    )
    .is_err());
    let mut h = vec![0.0; N - 1];
    assert!(find_fixed_point(
        &cell,
        &p,
        &[0.0; I],
        &mut h,
        &FixedPointParams::default(),
        &mut scratch,
        &mut piv
    )
    .is_err());
    let mut short = vec![0.0; 3];
    let mut h = vec![0.0; N];
    assert!(find_fixed_point(
        &cell,
        &p,
        &[0.0; I],
        &mut h,
        &FixedPointParams::default(),
        &mut short,
        &mut piv
    )
    .is_err());
}

/// The batched search (Adam on all starts at once, rows leaving the batch as they converge)
/// gives every start exactly the result of the one-start search, whatever the batch size and
/// the other rows; a non-finite start is an error in its own slot only.
#[test]
fn batched_search_matches_the_one_start_search_bit_for_bit() {
    fn check<C: Cell<f64>>(cell: C, gain: f64, q_tolerance: f64) {
        let mut p = vec![0.0f64; Cell::<f64>::param_count(&cell)];
        let init = InitParams {
            recurrent: RecurrentInit::Normal { gain },
            ..Default::default()
        };
        let mut rng = Rng::new(21);
        rnndyn_core::cell::init_cell(&cell, &mut p, &mut rng, &init).unwrap();
        // Every block nonzero: the default init leaves the GRU's `bh` at zero.
        for v in &mut p {
            *v += 0.05 * rng.normal();
        }
        let x = [0.3, -0.2, 0.0];
        let s = C::STATE;
        let starts = 23;
        let mut hs: Vec<f64> = (0..starts * s).map(|_| 0.3 * rng.normal()).collect();
        hs[5 * s + 1] = f64::NAN;
        let params = FixedPointParams {
            adam: AdamPhase {
                max_iterations: 300,
                q_tolerance,
                ..Default::default()
            },
            newton: NewtonPhase::default(),
        };
        // One start at a time.
        let mut scratch = vec![0.0; fixed_point_scratch_len::<f64, _>(&cell)];
        let mut piv = vec![0usize; s];
        let mut single = hs.clone();
        let single_reports: Vec<_> = single
            .chunks_exact_mut(s)
            .map(|h| find_fixed_point(&cell, &p, &x, h, &params, &mut scratch, &mut piv))
            .collect();
        assert!(single_reports[5].is_err());
        let iters: std::collections::BTreeSet<usize> = single_reports
            .iter()
            .flatten()
            .map(|r| r.adam_iterations)
            .collect();
        assert!(
            iters.len() > 3,
            "{} gain {gain}: rows should leave the batch at different times: {iters:?}",
            cell.name()
        );
        for batch in [starts, 7, 1] {
            let mut batched = hs.clone();
            let mut reports = vec![Err(rnndyn_core::Error::NonFinite); starts];
            let mut scratch = vec![0.0; fixed_point_batch_scratch_len::<f64, _>(&cell, batch)];
            let mut piv = vec![0usize; s + batch];
            for (k, (rows, reps)) in batched
                .chunks_mut(batch * s)
                .zip(reports.chunks_mut(batch))
                .enumerate()
            {
                let b = reps.len();
                let len = fixed_point_batch_scratch_len::<f64, _>(&cell, b);
                find_fixed_points_batch(
                    &cell,
                    &p,
                    &x,
                    rows,
                    b,
                    &params,
                    reps,
                    &mut scratch[..len],
                    &mut piv[..s + b],
                )
                .unwrap_or_else(|e| panic!("{} batch {batch} block {k}: {e:?}", cell.name()));
            }
            assert_eq!(reports, single_reports, "{} batch {batch}", cell.name());
            for (i, (a, b)) in batched.iter().zip(&single).enumerate() {
                assert!(
                    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                    "{} batch {batch}: element {i}: {a} vs {b}",
                    cell.name()
                );
            }
        }
    }
    for act in [Activation::Tanh, Activation::Relu] {
        for conv in [
            GruConvention::ResetBeforeProduct,
            GruConvention::ResetAfterProduct,
        ] {
            check(GruCell::<N, I>::new(act, conv), 1.5, 1e-2);
            check(GruCell::<N, I>::new(act, conv), 0.5, 1e-4);
        }
        check(VanillaCell::<N, I>::new(act), 1.5, 1e-2);
        check(LstmCell::<N, I>::new(act), 1.2, 1e-2);
    }
}

/// The Jacobian of a trained vanilla ReLU network at a fixed point (64 × 64, 50 zero rows:
/// units that are off) on which the Francis QR cycles when the matrix is balanced.
/// `linearize` falls back to the unbalanced matrix; the spectrum must match nalgebra's.
/// Fixture made by `tests/data/make_relu_jacobian.py`.
#[test]
fn linearize_survives_a_jacobian_where_balanced_qr_cycles() {
    use rnndyn_core::fixed_point::{linearize, linearize_scratch_len, LinearizeParams};
    use rnndyn_core::linalg::{
        eigen, eigen_scratch_len, Balance, ComputeLeft, EigParams, Eigenvalue, Sort,
    };
    use rnndyn_core::Error;
    use std::io::Read;
    const S: usize = 64;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/relu_jacobian.npz"
    );
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut bytes = Vec::new();
    zip.by_name("jacobian.npy")
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    let m: Vec<f64> = npyz::NpyFile::new(&bytes[..]).unwrap().into_vec().unwrap();
    assert_eq!(m.len(), S * S);

    // Precondition (the case this guards): QR after scaling-only balancing does not
    // converge on it.
    let (mut work, mut values) = (m.clone(), vec![Eigenvalue::default(); S]);
    let mut vectors = vec![0.0; S * S];
    let mut scratch = vec![0.0; eigen_scratch_len(S, ComputeLeft::No)];
    let scaled_only = eigen(
        S,
        &mut work,
        &mut values,
        &mut vectors,
        None,
        &mut scratch,
        &EigParams {
            balance: Balance::Scale,
            ..EigParams::default()
        },
    );
    assert_eq!(scaled_only, Err(Error::NoConvergence));
    // The default balancing first permutes the 50 zero rows out of the way (their
    // eigenvalue 0 is isolated exactly) and converges without the fallback.
    let mut work = m.clone();
    let mut direct = vec![Eigenvalue::default(); S];
    eigen(
        S,
        &mut work,
        &mut direct,
        &mut vectors,
        None,
        &mut scratch,
        &EigParams {
            sort: Sort::ByModulusDescending,
            ..EigParams::default()
        },
    )
    .expect("permute-and-scale balancing converges");
    assert_eq!(
        direct.iter().filter(|v| v.re == 0.0 && v.im == 0.0).count(),
        50
    );

    // A ReLU cell whose Jacobian is exactly `m`: every unit on (h = 0, x = 0, b = 1), so
    // J = Wᵀ in the row-vector convention; W = mᵀ.
    let cell = VanillaCell::<S, I>::new(Activation::Relu);
    let mut p = vec![0.0f64; Cell::<f64>::param_count(&cell)];
    for i in 0..S {
        for j in 0..S {
            p[i * S + j] = m[j * S + i];
        }
    }
    let b0 = S * S + I * S;
    p[b0..b0 + S].fill(1.0);
    let (h, x) = ([0.0; S], [0.0; I]);
    let mut jac = vec![0.0; S * S];
    let mut scratch = vec![0.0; linearize_scratch_len(S)];
    let lin = linearize(
        &cell,
        &p,
        &x,
        &h,
        &LinearizeParams::default(),
        &mut jac,
        &mut values,
        &mut vectors,
        &mut scratch,
    )
    .unwrap();
    assert_eq!(jac, m, "the cell reproduces the fixture's Jacobian");
    // Oracle: nalgebra's Schur form of the transpose (same spectrum; run uncapped on `m`
    // itself, nalgebra's QR had not finished after minutes).
    let mt = nalgebra::DMatrix::from_row_slice(S, S, &m).transpose();
    let schur = nalgebra::linalg::Schur::try_new(mt, f64::EPSILON, 100_000)
        .expect("nalgebra Schur of the transpose converges")
        .complex_eigenvalues();
    let mut theirs: Vec<f64> = schur.iter().map(|c| c.norm()).collect();
    theirs.sort_by(|a, b| b.total_cmp(a));
    for ((v, d), t) in values.iter().zip(&direct).zip(&theirs) {
        assert!((v.modulus() - t).abs() < 1e-9, "{} vs {t}", v.modulus());
        assert!((d.modulus() - t).abs() < 1e-9, "{} vs {t}", d.modulus());
    }
    assert_eq!(lin.stability_index, 0);
    assert!((lin.spectral_radius - 0.67036457).abs() < 1e-8);
}

/// Finite weights whose pre-activation is ∞ − ∞: F(h) is NaN in every unit. The search must
/// report that, not "converged with residual 0" (the norm of an all-NaN vector was 0).
#[test]
fn a_nan_map_is_not_a_converged_fixed_point() {
    let cell = VanillaCell::<N, I>::new(Activation::Tanh);
    let mut p = vec![0.0f64; Cell::<f64>::param_count(&cell)];
    // W rows 0 and 1 are all 1e308: h = (2, −2, 0, …) gives 2e308 − 2e308 = ∞ − ∞.
    p[..2 * N].fill(1e308);
    let mut h = vec![0.0; N];
    h[0] = 2.0;
    h[1] = -2.0;
    let mut scratch = vec![0.0; fixed_point_scratch_len::<f64, _>(&cell)];
    let mut piv = vec![0usize; N];
    let r = find_fixed_point(
        &cell,
        &p,
        &[0.0; I],
        &mut h,
        &FixedPointParams::default(),
        &mut scratch,
        &mut piv,
    )
    .unwrap();
    assert_ne!(r.stop(), Stop::Converged, "{r:?}");
    assert!(!r.residual.is_finite(), "{r:?}");
}

/// A mode is unstable only beyond `1 + unstable_margin`: neutral modes (|λ| = 1 up to
/// rounding) do not count, and a complex pair above the margin counts twice.
#[test]
fn the_stability_index_ignores_neutral_modes_within_the_margin() {
    use rnndyn_core::fixed_point::{summarize, LinearizeParams};
    use rnndyn_core::linalg::Eigenvalue;
    let ev = |re: f64, im: f64| Eigenvalue { re, im };
    let c = std::f64::consts::FRAC_1_SQRT_2 * (1.0 + 1e-3);
    let values = [
        ev(c, c),
        ev(c, -c),
        ev(1.0 + 2e-13, 0.0),
        ev(-(1.0 - 1e-14), 0.0),
        ev(0.5, 0.0),
    ];
    let params = LinearizeParams::default();
    let lin = summarize(&values, &params);
    assert_eq!(lin.stability_index, 2);
    assert_eq!(lin.slow_modes, 4);
    assert_eq!(lin.neutral_modes, 2);
    // Without a margin the rounding error decides.
    let strict = LinearizeParams {
        unstable_margin: 0.0,
        ..params
    };
    assert_eq!(summarize(&values, &strict).stability_index, 3);
    // A margin larger than the pair's excess makes every mode stable.
    let wide = LinearizeParams {
        unstable_margin: 2e-3,
        ..params
    };
    assert_eq!(summarize(&values, &wide).stability_index, 0);
    assert_eq!(summarize(&values, &wide).neutral_modes, 4);
}

/// Every Adam parameter outside its documented range is `InvalidParameter`, from both
/// searches, each checked alone (the others valid); the boundary values inside are accepted.
#[test]
fn adam_parameters_outside_their_ranges_are_rejected() {
    use rnndyn_core::Error;
    let (cell, p, hstar) = planted(3);
    let x = [0.0; I];
    let base = AdamPhase {
        max_iterations: 2,
        ..Default::default()
    };
    let run = |adam: AdamPhase| {
        let params = FixedPointParams {
            adam,
            newton: NewtonPhase {
                max_iterations: 1,
                ..Default::default()
            },
        };
        let mut scratch = vec![0.0; fixed_point_scratch_len::<f64, _>(&cell)];
        let mut piv = vec![0usize; N];
        let mut h = hstar.clone();
        let single = find_fixed_point(&cell, &p, &x, &mut h, &params, &mut scratch, &mut piv);
        let mut hs = hstar.clone();
        let mut reports = vec![Err(Error::NonFinite); 1];
        let mut scratch = vec![0.0; fixed_point_batch_scratch_len::<f64, _>(&cell, 1)];
        let mut piv = vec![0usize; N + 1];
        let batched = find_fixed_points_batch(
            &cell,
            &p,
            &x,
            &mut hs,
            1,
            &params,
            &mut reports,
            &mut scratch,
            &mut piv,
        );
        (single.map(|_| ()), batched)
    };
    let bad: [fn(&mut AdamPhase); 11] = [
        |a| a.beta1 = 1.0,
        |a| a.beta1 = -0.1,
        |a| a.beta2 = 1.0,
        |a| a.beta2 = -0.1,
        |a| a.eps = 0.0,
        |a| a.eps = f64::INFINITY,
        |a| a.learning_rate = -1e-3,
        |a| a.learning_rate = f64::INFINITY,
        |a| a.decay = -0.5,
        |a| a.decay = f64::INFINITY,
        |a| a.q_tolerance = f64::NAN,
    ];
    let edge: [fn(&mut AdamPhase); 5] = [
        |_| {},
        |a| (a.beta1, a.beta2) = (0.0, 0.0),
        |a| (a.learning_rate, a.decay) = (0.0, 0.0),
        |a| a.eps = f64::MIN_POSITIVE,
        |a| a.q_tolerance = f64::NEG_INFINITY,
    ];
    for set in bad {
        let mut adam = base;
        set(&mut adam);
        let invalid = Err(Error::InvalidParameter);
        assert_eq!(run(adam), (invalid, invalid), "{adam:?}");
    }
    for set in edge {
        let mut adam = base;
        set(&mut adam);
        assert_eq!(run(adam), (Ok(()), Ok(())), "{adam:?}");
    }
}

/// A vanilla ReLU cell `h ↦ relu(h W + b)` (row-vector convention, `x = 0`), `W` row-major.
fn relu_map<const S: usize>(w: &[f64], b: &[f64]) -> (VanillaCell<S, 1>, Vec<f64>) {
    let cell = VanillaCell::<S, 1>::new(Activation::Relu);
    let mut p = vec![0.0f64; Cell::<f64>::param_count(&cell)];
    p[..S * S].copy_from_slice(w);
    p[S * S + S..].copy_from_slice(b);
    (cell, p)
}

fn search<C: Cell<f64>>(
    cell: &C,
    p: &[f64],
    h: &mut [f64],
    params: &FixedPointParams,
) -> FixedPointReport<f64> {
    let mut scratch = vec![0.0; fixed_point_scratch_len::<f64, _>(cell)];
    let mut piv = vec![0usize; C::STATE];
    let x = vec![0.0; C::INPUT];
    find_fixed_point(cell, p, &x, h, params, &mut scratch, &mut piv).unwrap()
}

fn newton_with(newton: NewtonPhase) -> FixedPointParams {
    FixedPointParams {
        adam: AdamPhase {
            max_iterations: 0,
            ..Default::default()
        },
        newton,
    }
}

/// No Adam phase and a single Newton iteration.
fn one_newton_iteration() -> FixedPointParams {
    newton_with(NewtonPhase {
        max_iterations: 1,
        ..Default::default()
    })
}

/// A line of fixed points: `J − I` is exactly singular everywhere on the (affine) map, so
/// every Newton iteration is a Levenberg–Marquardt step. One iteration is exactly
/// `δ = −(AᵀA + λI)⁻¹ Aᵀr` with `A = J − I`, `λ = 1e-6·(1 + max diag AᵀA)` (checked against
/// nalgebra), and the search ends on the line.
#[test]
fn levenberg_marquardt_steps_reach_a_line_of_fixed_points() {
    // z0 = h0 (eigenvalue 1), z1 = h0/2 + h1/2 + 1/2, z2 = h1/4 + h2/4 + 1/2; every unit on.
    let w = [1.0, 0.5, 0.0, 0.0, 0.5, 0.25, 0.0, 0.0, 0.25];
    let (cell, p) = relu_map::<3>(&w, &[0.0, 0.5, 0.5]);
    let start = [1.0, 1.5, 0.8];
    let f = |h: &[f64]| -> Vec<f64> {
        let mut out = vec![0.0; 3];
        cell.step(&p, h, &[0.0], &mut out);
        out
    };
    let r0: Vec<f64> = f(&start).iter().zip(&start).map(|(a, b)| a - b).collect();
    // A = J − I = Wᵀ − I.
    let a = nalgebra::Matrix3::from_row_slice(&w).transpose() - nalgebra::Matrix3::identity();
    let ata = a.transpose() * a;
    let lambda = 1e-6 * (1.0 + ata.diagonal().max());
    let r = nalgebra::Vector3::from_column_slice(&r0);
    let delta = -(ata + lambda * nalgebra::Matrix3::identity())
        .try_inverse()
        .unwrap()
        * a.transpose()
        * r;
    let expected = (r + a * delta).norm();
    assert!(expected < 1e-5 * r.norm(), "{expected}");

    let mut h = start;
    let one = search(&cell, &p, &mut h, &one_newton_iteration());
    assert_eq!(
        (one.newton_iterations, one.newton_stop),
        (1, Stop::MaxIterations)
    );
    assert!(
        (one.residual - expected).abs() < 1e-3 * expected,
        "{} vs {expected}",
        one.residual
    );
    for k in 0..3 {
        assert!((h[k] - (start[k] + delta[k])).abs() < 1e-9, "{h:?}");
    }

    let mut h = start;
    let rep = search(&cell, &p, &mut h, &newton_with(NewtonPhase::default()));
    assert_eq!(rep.newton_stop, Stop::Converged, "{rep:?}");
    assert!(rep.newton_iterations >= 2, "{rep:?}");
    assert!(
        rep.residual <= 1e-13 && residual(&cell, &p, &h) <= 1e-13,
        "{rep:?}"
    );
    assert!((h[1] - (h[0] + 1.0)).abs() < 1e-12, "{h:?}");
    assert!((h[2] - (0.25 * h[1] + 0.5) / 0.75).abs() < 1e-12, "{h:?}");
}

/// `h ↦ relu(0.9 h − 1)` from h = 2: the full Newton step jumps to the virtual fixed point
/// −10 of the linear piece (residual 10 > 1.2) and is rejected; the damped step
/// `δ = −0.12 / (0.01 + λ)` helps only once λ > 0.0275, i.e. after five ×10 rejections from
/// λ = 1.01e-6. With five allowed the iteration is Stalled and `h` untouched; with six it
/// moves past the kink.
#[test]
fn levenberg_marquardt_damping_grows_tenfold_per_rejection() {
    let (cell, p) = relu_map::<1>(&[0.9], &[-1.0]);
    let one_iteration = |max_rejections| NewtonPhase {
        max_iterations: 1,
        max_rejections,
        ..Default::default()
    };
    let mut h = [2.0];
    let rep = search(&cell, &p, &mut h, &newton_with(one_iteration(5)));
    assert_eq!(h, [2.0]);
    assert_eq!(
        (rep.newton_iterations, rep.newton_stop),
        (1, Stop::Stalled),
        "{rep:?}"
    );
    assert!((rep.residual - 1.2).abs() < 1e-15, "{rep:?}");

    let rep = search(&cell, &p, &mut h, &newton_with(one_iteration(6)));
    assert_eq!(
        (rep.newton_iterations, rep.newton_stop),
        (1, Stop::MaxIterations),
        "{rep:?}"
    );
    let lambda = 1.01e-6 * 1e5;
    let expected = 2.0 - 0.12 / (0.01 + lambda);
    assert!((h[0] - expected).abs() < 1e-12, "{h:?} vs {expected}");
    assert_eq!(rep.residual, h[0], "past the kink F(h) = 0");

    // With the default phase the search goes on from there to the fixed point 0.
    let rep = search(&cell, &p, &mut h, &newton_with(NewtonPhase::default()));
    assert_eq!(rep.newton_stop, Stop::Converged, "{rep:?}");
    assert_eq!(h, [0.0]);
}

/// The Newton phase counts its iterations and is Converged exactly when its last step
/// reaches the tolerance: with the cap at the iteration count of an uncapped search it is
/// Converged, one fewer is MaxIterations with the residual still above the tolerance.
#[test]
fn newton_stop_at_the_iteration_cap_depends_on_the_last_residual() {
    for seed in 0..4 {
        let (cell, p, hstar) = planted(seed);
        let mut rng = Rng::new(300 + seed);
        let start: Vec<f64> = hstar.iter().map(|&v| v + 0.05 * rng.normal()).collect();
        let tolerance = 1e-13;
        let capped = |max_iterations| {
            newton_with(NewtonPhase {
                max_iterations,
                residual_tolerance: tolerance,
                ..Default::default()
            })
        };
        let mut h = start.clone();
        let free = search(&cell, &p, &mut h, &capped(50));
        assert_eq!(free.newton_stop, Stop::Converged, "seed {seed}: {free:?}");
        let n = free.newton_iterations;
        assert!(n >= 2, "seed {seed}: {free:?}");
        let mut h = start.clone();
        let at = search(&cell, &p, &mut h, &capped(n));
        assert_eq!(at, free, "seed {seed}");
        let mut h = start.clone();
        let before = search(&cell, &p, &mut h, &capped(n - 1));
        assert_eq!(
            before.newton_stop,
            Stop::MaxIterations,
            "seed {seed}: {before:?}"
        );
        assert_eq!(before.newton_iterations, n - 1, "seed {seed}");
        assert!(before.residual > tolerance, "seed {seed}: {before:?}");
        let recomputed = residual(&cell, &p, &h);
        assert!(
            (before.residual - recomputed).abs() <= 1e-12 * recomputed,
            "seed {seed}: {before:?} vs {recomputed}"
        );
    }
}

/// At an exact fixed point (q = 0): the Adam test `q < q_tolerance` is strict, so a zero
/// tolerance runs to the cap; the Newton test `‖r‖ ≤ tolerance` is inclusive, so a zero
/// tolerance is met without a step. A phase with no iterations is Skipped.
#[test]
fn tolerances_at_an_exact_fixed_point() {
    // relu(h W + b) with W = I/2, b = (1, 2): fixed point (2, 4), exact in binary.
    let (cell, p) = relu_map::<2>(&[0.5, 0.0, 0.0, 0.5], &[1.0, 2.0]);
    let params = |q_tolerance, adam_iterations| FixedPointParams {
        adam: AdamPhase {
            max_iterations: adam_iterations,
            q_tolerance,
            ..Default::default()
        },
        newton: NewtonPhase {
            residual_tolerance: 0.0,
            ..Default::default()
        },
    };
    // The batched search agrees (two rows: the fixed point twice).
    let both = |params: &FixedPointParams, h: &mut [f64; 2]| {
        let mut hs = [h[0], h[1], h[0], h[1]];
        let rep = search(&cell, &p, h, params);
        let mut reports = vec![Err(rnndyn_core::Error::NonFinite); 2];
        let mut scratch = vec![0.0; fixed_point_batch_scratch_len::<f64, _>(&cell, 2)];
        let mut piv = [0usize; 4];
        find_fixed_points_batch(
            &cell,
            &p,
            &[0.0],
            &mut hs,
            2,
            params,
            &mut reports,
            &mut scratch,
            &mut piv,
        )
        .unwrap();
        assert_eq!(reports, [Ok(rep), Ok(rep)]);
        assert_eq!(hs, [h[0], h[1], h[0], h[1]]);
        rep
    };
    let mut h = [2.0, 4.0];
    let rep = both(&params(0.0, 7), &mut h);
    assert_eq!(
        (rep.adam_stop, rep.adam_iterations),
        (Stop::MaxIterations, 7)
    );
    assert_eq!(
        (rep.newton_stop, rep.newton_iterations),
        (Stop::Converged, 0)
    );
    assert_eq!((h, rep.residual, rep.q), ([2.0, 4.0], 0.0, 0.0));
    let rep = both(&params(f64::MIN_POSITIVE, 7), &mut h);
    assert_eq!((rep.adam_stop, rep.adam_iterations), (Stop::Converged, 0));
    let rep = both(&params(0.0, 0), &mut h);
    assert_eq!((rep.adam_stop, rep.adam_iterations), (Stop::Skipped, 0));
    assert_eq!(rep.stop(), Stop::Converged);
}

/// With a zero tolerance the Newton phase runs until no step lowers the residual (the
/// rounding floor): it stops there as Stalled (or Converged on an exact zero), long before
/// the cap, since a step that leaves the residual equal is not progress.
#[test]
fn newton_stops_at_the_rounding_floor() {
    for seed in 0..8 {
        let (cell, p, hstar) = planted(seed);
        let mut h = hstar.clone();
        let rep = search(&cell, &p, &mut h, &newton_only(50));
        assert!(
            matches!(rep.newton_stop, Stop::Stalled | Stop::Converged),
            "seed {seed}: {rep:?}"
        );
        assert!(
            rep.newton_iterations < 50 && rep.residual < 1e-14,
            "seed {seed}: {rep:?}"
        );
    }
}

/// A Jacobian that overflows while `F(h)` stays finite (LSTM, |W| = 1e308, c = 8: the
/// forget-gate path `σ'(0)·c·W` is already ∞) is Diverged, not Singular.
#[test]
fn an_overflowing_jacobian_is_diverged() {
    const S: usize = 2;
    let cell = LstmCell::<S, 1>::new(Activation::Tanh);
    let mut p = vec![1e308f64; 4 * S * S];
    p.resize(Cell::<f64>::param_count(&cell), 0.0);
    let mut h = [0.0, 0.0, 8.0, 8.0]; // [h; c]
    let mut f = [0.0; 2 * S];
    cell.step(&p, &h, &[0.0], &mut f);
    assert!(f.iter().all(|v| v.is_finite()), "{f:?}");
    let mut jac = [0.0; 4 * S * S];
    cell.jacobian_state(&p, &h, &[0.0], &mut jac);
    assert!(jac.iter().any(|v| !v.is_finite()), "{jac:?}");
    let rep = search(&cell, &p, &mut h, &newton_only(5));
    assert_eq!(
        (rep.newton_stop, rep.newton_iterations),
        (Stop::Diverged, 1),
        "{rep:?}"
    );
    assert!(rep.residual.is_finite());
}

/// The leading angle is `arg λ` of the largest-modulus eigenvalue with positive imaginary
/// part, whatever its modulus and whatever larger real eigenvalues come first.
#[test]
fn the_leading_angle_is_that_of_the_largest_oscillatory_mode() {
    use rnndyn_core::fixed_point::{summarize, LinearizeParams};
    use rnndyn_core::linalg::Eigenvalue;
    let polar = |m: f64, t: f64| Eigenvalue {
        re: m * t.cos(),
        im: m * t.sin(),
    };
    let params = LinearizeParams::default();
    // All inside the unit circle: a stable spiral.
    let spiral = [
        polar(0.5, 0.3),
        polar(0.5, -0.3),
        polar(0.25, 2.0),
        polar(0.25, -2.0),
    ];
    assert_eq!(summarize(&spiral, &params).leading_angle, spiral[0].arg());
    // Conjugate listed first, larger real modes before it.
    let values = [
        Eigenvalue { re: -3.0, im: 0.0 },
        Eigenvalue { re: 2.0, im: 0.0 },
        polar(0.9, -1.1),
        polar(0.9, 1.1),
        polar(0.7, 0.4),
        polar(0.7, -0.4),
    ];
    let lin = summarize(&values, &params);
    assert_eq!(lin.leading_angle, values[3].arg());
    assert!(lin.leading_angle > 1.0);
    assert_eq!(lin.spectral_radius, 3.0);
    let real = [
        Eigenvalue { re: -0.5, im: 0.0 },
        Eigenvalue { re: 0.2, im: 0.0 },
    ];
    assert_eq!(summarize(&real, &params).leading_angle, 0.0);
}

/// The counting thresholds at their boundaries (values exact in binary): unstable is
/// `|λ| > 1 + margin`, neutral `||λ| − 1| ≤ margin`, slow `||λ| − 1| < slow_tolerance`.
#[test]
fn summarize_thresholds_at_their_boundaries() {
    use rnndyn_core::fixed_point::{summarize, LinearizeParams};
    use rnndyn_core::linalg::Eigenvalue;
    let real = |re: f64| Eigenvalue { re, im: 0.0 };
    let params = LinearizeParams {
        slow_tolerance: 0.25,
        unstable_margin: 0.125,
    };
    // 1.125 = 1 + margin: neutral and slow, not unstable. 1.25 = 1 + slow tolerance:
    // unstable, not slow. Moduli 0.875 and 0.75 likewise below 1.
    let lin = summarize(
        &[real(1.25), real(1.125), real(-0.875), real(-0.75)],
        &params,
    );
    assert_eq!(lin.stability_index, 1);
    assert_eq!(lin.neutral_modes, 2);
    assert_eq!(lin.slow_modes, 2);
}

/// `h ↦ relu(0.75 h − 1)` from h = 12 (r = −4): the full Newton step lands on −4, the
/// virtual fixed point of the linear piece, where F = 0 and the residual is 4 again. A step
/// that does not lower the residual is rejected; the damped step that follows stops just
/// short of −4 and lowers it.
#[test]
fn a_newton_step_that_does_not_lower_the_residual_is_rejected() {
    let (cell, p) = relu_map::<1>(&[0.75], &[-1.0]);
    let mut h = [12.0];
    let rep = search(&cell, &p, &mut h, &one_newton_iteration());
    assert_eq!(
        (rep.newton_iterations, rep.newton_stop),
        (1, Stop::MaxIterations)
    );
    assert!(h[0] > -4.0 && h[0] < -3.9, "{h:?}");
    assert!(rep.residual < 4.0, "{rep:?}");
}
