//! The fixed-point search (`find_fixed_point`, `find_fixed_points_batch`) and `linearize`
//! never panic, whatever the parameters (NaN, ±∞, huge), starts, inputs, search settings
//! and buffer lengths, and:
//!
//! - wrong buffer lengths give `Err(BufferSize)` (a longer scratch may be accepted), invalid
//!   Adam settings `Err(InvalidParameter)`, non-finite parameters/input/start
//!   `Err(NonFinite)`; anything else is `Ok`;
//! - every report is consistent: `q = ½ residual²` bit for bit, `residual` never negative,
//!   finite unless the Newton phase reports `Diverged`, a finite residual belongs to a
//!   finite state and is `‖F(h) − h‖` of the returned state, `Converged` means within the
//!   tolerance, iteration counts within their caps and matching the stop reasons;
//! - every row of the batch search equals the single-start search from the same start bit
//!   for bit (documented: "whatever the other rows and the batch size");
//! - `linearize` at the result: the Jacobian is `jacobian_state`'s, the eigenvalues are
//!   sorted by decreasing modulus and the summary is `summarize` of them.
#![no_main]

#[path = "common.rs"]
#[macro_use]
mod common;

use arbitrary::{Result, Unstructured};
use common::{buffer_len, same, same_all, value, values, Values};
use rnndyn_core::fixed_point::{
    find_fixed_point, find_fixed_points_batch, fixed_point_batch_scratch_len,
    fixed_point_scratch_len, linearize, linearize_scratch_len, summarize, AdamPhase,
    FixedPointParams, FixedPointReport, LinearizeParams, NewtonPhase, Stop,
};
use rnndyn_core::linalg::Eigenvalue;
use rnndyn_core::{
    Activation, Cell, Error, GruCell, GruConvention, LstmCell, Real, UgrnnCell, VanillaCell,
};

const MAX_BATCH: usize = 4;

/// A setting: usually a sensible value from `good`, sometimes any value.
fn setting(u: &mut Unstructured<'_>, good: &[f64]) -> Result<f64> {
    let sel: u8 = u.arbitrary()?;
    if sel < 224 {
        Ok(good[sel as usize % good.len()])
    } else {
        value(u)
    }
}

fn params(u: &mut Unstructured<'_>) -> Result<FixedPointParams> {
    let adam = AdamPhase {
        learning_rate: setting(u, &[1e-2, 0.1, 1.0, 0.0, 1e3])?,
        decay: setting(u, &[0.5, 1.0, 0.0, 2.0])?,
        decay_every: u.int_in_range(0..=8)?,
        max_iterations: u.int_in_range(0..=40)?,
        q_tolerance: setting(u, &[1e-10, 0.0, 1e-3, -1.0, f64::INFINITY])?,
        beta1: setting(u, &[0.9, 0.0, 0.5, 0.999_999])?,
        beta2: setting(u, &[0.999, 0.0, 0.9])?,
        eps: setting(u, &[1e-8, 1e-300, 1.0])?,
    };
    let newton = NewtonPhase {
        max_iterations: u.int_in_range(0..=20)?,
        residual_tolerance: setting(u, &[1e-13, 0.0, 1e-6, -1.0, f64::INFINITY])?,
        initial_damping: setting(u, &[1e-6, 0.0, 1.0, 1e30])?,
        max_rejections: u.int_in_range(0..=16)?,
    };
    Ok(FixedPointParams { adam, newton })
}

/// The report's fields agree with each other, with the settings and with the state.
fn check_report<R: Real, C: Cell<R>>(
    cell: &C,
    p: &[R],
    x: &[R],
    h: &[R],
    fp: &FixedPointParams,
    rep: &FixedPointReport<R>,
) {
    let res = rep.residual;
    assert!(
        same(rep.q, R::HALF * res * res),
        "q {:?} for residual {res:?}",
        rep.q
    );
    assert!(!(res < R::ZERO), "negative residual {res:?}");
    if !res.is_finite() {
        assert_eq!(rep.newton_stop, Stop::Diverged, "{rep:?}");
    } else {
        assert!(
            h.iter().all(|v| v.is_finite()),
            "finite residual, state {h:?}"
        );
        // residual == ‖F(h) − h‖ of the returned state (recomputed in f64).
        let mut f = vec![R::ZERO; C::STATE];
        cell.step(p, h, x, &mut f);
        let r: Vec<f64> = f.iter().zip(h).map(|(a, b)| (*a - *b).to_f64()).collect();
        let scale = r.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let want = if scale == 0.0 || !scale.is_finite() {
            scale
        } else {
            scale * r.iter().map(|v| (v / scale).powi(2)).sum::<f64>().sqrt()
        };
        let got = res.to_f64();
        // Relative, plus a few of the smallest subnormals: below MIN_POSITIVE the
        // components carry fewer significant bits than EPSILON says.
        let subnormal = R::MIN_POSITIVE.to_f64() * R::EPSILON.to_f64();
        let tol = 16.0 * C::STATE as f64 * (R::EPSILON.to_f64() * want + subnormal);
        assert!(
            (got - want).abs() <= tol,
            "residual {got:e} but ‖F(h) − h‖ = {want:e}"
        );
    }
    // Adam phase.
    let ad = &fp.adam;
    assert!(rep.adam_iterations <= ad.max_iterations);
    match rep.adam_stop {
        Stop::Skipped => assert_eq!(ad.max_iterations, 0, "{rep:?}"),
        Stop::MaxIterations => assert_eq!(rep.adam_iterations, ad.max_iterations, "{rep:?}"),
        Stop::Converged | Stop::Diverged => {
            assert!(rep.adam_iterations < ad.max_iterations, "{rep:?}")
        }
        other => panic!("Adam stopped by {other:?}"),
    }
    if ad.max_iterations > 0 {
        assert_ne!(rep.adam_stop, Stop::Skipped);
    }
    // Newton phase.
    let nt = &fp.newton;
    assert!(rep.newton_iterations <= nt.max_iterations, "{rep:?}");
    match rep.newton_stop {
        Stop::Skipped => assert!(nt.max_iterations == 0 && res.is_finite(), "{rep:?}"),
        Stop::Converged => assert!(
            res <= R::from_f64(nt.residual_tolerance),
            "converged at residual {res:?} > {:e}",
            nt.residual_tolerance
        ),
        Stop::MaxIterations => {
            assert_eq!(rep.newton_iterations, nt.max_iterations, "{rep:?}")
        }
        _ => {}
    }
    if rep.newton_iterations > 0 {
        assert_ne!(rep.newton_stop, Stop::Skipped);
    }
    assert_eq!(
        rep.stop(),
        if rep.newton_stop == Stop::Skipped {
            rep.adam_stop
        } else {
            rep.newton_stop
        }
    );
}

fn same_report<R: Real>(a: &FixedPointReport<R>, b: &FixedPointReport<R>) -> bool {
    same(a.residual, b.residual)
        && same(a.q, b.q)
        && a.adam_iterations == b.adam_iterations
        && a.newton_iterations == b.newton_iterations
        && a.adam_stop == b.adam_stop
        && a.newton_stop == b.newton_stop
}

fn check_linearize<R: Real, C: Cell<R>>(
    cell: &C,
    p: &[R],
    x: &[R],
    h: &[R],
    lp: &LinearizeParams,
    u: &mut Unstructured<'_>,
) -> Result<()> {
    let st = C::STATE;
    let nj = buffer_len(u, st * st)?;
    let nv = buffer_len(u, st)?;
    let nvec = buffer_len(u, st * st)?;
    let nscratch = buffer_len(u, linearize_scratch_len(st))?;
    let mut jac = vec![R::from_f64(f64::NAN); nj];
    let mut vals = vec![Eigenvalue::<R>::default(); nv];
    let mut vecs = vec![R::from_f64(f64::NAN); nvec];
    let mut scratch = vec![R::from_f64(f64::NAN); nscratch];
    let sizes_right = nj == st * st && nv == st && nvec == st * st;
    let finite = p.iter().chain(x).chain(h).all(|v| v.is_finite());
    match linearize(
        cell,
        p,
        x,
        h,
        lp,
        &mut jac,
        &mut vals,
        &mut vecs,
        &mut scratch,
    ) {
        Ok(lin) => {
            assert!(sizes_right && nscratch >= linearize_scratch_len(st) && finite);
            let mut js = vec![R::ZERO; st * st];
            cell.jacobian_state(p, h, x, &mut js);
            assert!(
                same_all(&jac, &js),
                "linearize's Jacobian is not jacobian_state's"
            );
            assert!(vals.iter().all(|v| v.re.is_finite() && v.im.is_finite()));
            let moduli: Vec<R> = vals.iter().map(|v| v.modulus()).collect();
            assert!(
                moduli.windows(2).all(|w| !(w[0] < w[1])),
                "eigenvalues not sorted by modulus: {vals:?}"
            );
            assert!(lin.stability_index <= st && lin.slow_modes <= st);
            assert!(!lin.spectral_radius.is_nan() && lin.spectral_radius >= R::ZERO);
            let angle = lin.leading_angle;
            assert!(
                angle >= R::ZERO && angle <= R::PI,
                "leading angle {angle:?}"
            );
            let again = summarize(&vals, lp);
            assert!(
                again.stability_index == lin.stability_index
                    && again.slow_modes == lin.slow_modes
                    && same(again.spectral_radius, lin.spectral_radius)
                    && same(again.leading_angle, lin.leading_angle),
                "summary {lin:?} vs summarize {again:?}"
            );
        }
        Err(Error::BufferSize { .. }) => {
            assert!(!(sizes_right && nscratch >= linearize_scratch_len(st)));
        }
        Err(e) => {
            assert!(sizes_right, "{e:?} before the length checks");
            if !finite {
                assert_eq!(e, Error::NonFinite);
            } else {
                // The eigen solver may give up or overflow on extreme Jacobians.
                assert!(
                    matches!(e, Error::NoConvergence | Error::Overflow | Error::NonFinite),
                    "linearize: {e:?}"
                );
            }
        }
    }
    Ok(())
}

fn check<R: Real, C: Cell<R>>(cell: C, u: &mut Unstructured<'_>) -> Result<()> {
    let st = C::STATE;
    let np = cell.param_count();
    let kind = if u.arbitrary()? {
        Values::Raw
    } else {
        Values::Small
    };
    let limit = *u.choose(&[1.0, 4.0, 1e6])?;
    let fp = params(u)?;
    let adam_ok = fp.adam.check().is_ok();
    let batch = u.int_in_range(0..=MAX_BATCH)?;

    let p: Vec<R> = values(u, np, kind, limit)?;
    let x: Vec<R> = values(u, C::INPUT, kind, limit)?;
    let starts: Vec<R> = values(u, batch * st, kind, limit.min(4.0))?;
    let px_finite = p.iter().chain(&x).all(|v| v.is_finite());

    // Single starts (right lengths except, sometimes, scratch and pivots).
    let single_len = fixed_point_scratch_len(&cell);
    let mut singles: Vec<(Vec<R>, core::result::Result<FixedPointReport<R>, Error>)> = Vec::new();
    for b in 0..batch {
        let nscratch = buffer_len(u, single_len)?;
        let npiv = buffer_len(u, st)?;
        let mut h = starts[b * st..(b + 1) * st].to_vec();
        let mut scratch = vec![R::from_f64(f64::NAN); nscratch];
        let mut piv = vec![usize::MAX; npiv];
        let res = find_fixed_point(&cell, &p, &x, &mut h, &fp, &mut scratch, &mut piv);
        // Scratch and pivots may be longer than needed.
        let lengths_ok = npiv >= st && nscratch >= single_len;
        let finite = px_finite && starts[b * st..(b + 1) * st].iter().all(|v| v.is_finite());
        match &res {
            Ok(rep) => {
                assert!(lengths_ok && adam_ok && finite);
                check_report(&cell, &p, &x, &h, &fp, rep);
            }
            Err(Error::BufferSize { .. }) => assert!(!lengths_ok),
            Err(Error::InvalidParameter) => assert!(lengths_ok && !adam_ok),
            Err(Error::NonFinite) => assert!(lengths_ok && adam_ok && !finite),
            Err(e) => panic!("find_fixed_point: {e:?}"),
        }
        match res {
            Ok(_) | Err(Error::InvalidParameter | Error::NonFinite) => {
                if res.is_err() {
                    assert!(
                        same_all(&h, &starts[b * st..(b + 1) * st]),
                        "h changed on Err"
                    );
                } else {
                    check_linearize(&cell, &p, &x, &h, &LinearizeParams::default(), u)?;
                }
                singles.push((h, res));
            }
            // Redo with the right lengths for the comparison with the batch.
            Err(_) => {
                let mut h = starts[b * st..(b + 1) * st].to_vec();
                let mut scratch = vec![R::ZERO; single_len];
                let mut piv = vec![0; st];
                let res = find_fixed_point(&cell, &p, &x, &mut h, &fp, &mut scratch, &mut piv);
                singles.push((h, res));
            }
        }
    }

    // The batch: every row as the single search, bit for bit.
    let batch_len = fixed_point_batch_scratch_len(&cell, batch);
    let nscratch = buffer_len(u, batch_len)?;
    let npiv = buffer_len(u, st + batch)?;
    let nrep = buffer_len(u, batch)?;
    let nhs = buffer_len(u, batch * st)?;
    let mut hs: Vec<R> = (0..nhs)
        .map(|k| starts.get(k).copied().unwrap_or(R::ZERO))
        .collect();
    let mut reports = vec![Err(Error::Singular); nrep];
    let mut scratch = vec![R::from_f64(f64::NAN); nscratch];
    let mut piv = vec![usize::MAX; npiv];
    // Scratch and pivots may be longer than needed; the rest is exact.
    let lengths_ok =
        npiv >= st + batch && nrep == batch && nhs == batch * st && nscratch >= batch_len;
    let res = find_fixed_points_batch(
        &cell,
        &p,
        &x,
        &mut hs,
        batch,
        &fp,
        &mut reports,
        &mut scratch,
        &mut piv,
    );
    match res {
        Ok(()) => {
            assert!(lengths_ok && adam_ok && px_finite);
            for (b, (h1, r1)) in singles.iter().enumerate() {
                let hb = &hs[b * st..(b + 1) * st];
                let rb = &reports[b];
                let equal = match (r1, rb) {
                    (Ok(a), Ok(c)) => same_report(a, c),
                    (Err(a), Err(c)) => a == c,
                    _ => false,
                };
                assert!(
                    equal && same_all(h1, hb),
                    "row {b}: single {r1:?} {h1:?}, batch {rb:?} {hb:?}"
                );
            }
        }
        Err(Error::BufferSize { .. }) => assert!(!lengths_ok),
        Err(e) => {
            assert!(lengths_ok, "{e:?} before the length checks");
            match e {
                Error::InvalidParameter => assert!(!adam_ok),
                Error::NonFinite => assert!(adam_ok && !px_finite),
                e => panic!("find_fixed_points_batch: {e:?}"),
            }
            // Then every single search failed the same way.
            for (_, r1) in &singles {
                assert_eq!(*r1, Err(e));
            }
        }
    }

    // linearize at a fuzzed (possibly non-finite) state as well.
    let h: Vec<R> = values(u, st, kind, limit)?;
    let lp = LinearizeParams {
        slow_tolerance: setting(u, &[0.02, 0.0, 1.0])?,
        unstable_margin: setting(u, &[1e-6, 0.0, 1e-3])?,
    };
    check_linearize(&cell, &p, &x, &h, &lp, u)
}

fn run<R: Real, const N: usize, const I: usize>(sel: u8, u: &mut Unstructured<'_>) -> Result<()> {
    let act = if sel & 1 == 0 {
        Activation::Tanh
    } else {
        Activation::Relu
    };
    match (sel >> 1) % 5 {
        0 => check::<R, _>(VanillaCell::<N, I>::new(act), u),
        1 => check::<R, _>(UgrnnCell::<N, I>::new(act), u),
        2 => check::<R, _>(
            GruCell::<N, I>::new(act, GruConvention::ResetBeforeProduct),
            u,
        ),
        3 => check::<R, _>(
            GruCell::<N, I>::new(act, GruConvention::ResetAfterProduct),
            u,
        ),
        _ => check::<R, _>(LstmCell::<N, I>::new(act), u),
    }
}

fn dispatch<R: Real>(sel: u8, shape: u8, u: &mut Unstructured<'_>) -> Result<()> {
    match shape % 2 {
        0 => run::<R, 2, 1>(sel, u),
        _ => run::<R, 3, 2>(sel, u),
    }
}

selector_shape_real_target!(dispatch);
