//! Every cell (vanilla, UGRNN, GRU in both conventions, LSTM; tanh and ReLU; f32 and f64;
//! a few const sizes): `step`, `forward`, `backward`, `jacobian_state` and `jacobian_input`
//! never panic, whatever the parameters, state and input (NaN and ±∞ included), and:
//!
//! - `step` and `forward` give the same next state bit for bit, and `backward` gives the
//!   same `ds`/`dp` with and without `dx`, whatever the buffers held before (always);
//! - the hidden state of a tanh cell stays in [-1, 1] (vanilla and LSTM always; GRU and
//!   UGRNN, convex combinations of `h` and a tanh, when `h` is in [-1, 1]);
//! - on small finite values: every output is finite and `backward` is the transposed
//!   Jacobian applied to `ds_next` (`ds = J_sᵀ ds_next`, `dx = J_xᵀ ds_next`, f64 and f32
//!   with tolerances scaled by the size of the terms).
#![no_main]

#[path = "common.rs"]
mod common;

use arbitrary::{Result, Unstructured};
use common::{same_all, values, Values};
use libfuzzer_sys::fuzz_target;
use rnndyn_core::{
    Activation, Cell, GruCell, GruConvention, LstmCell, Real, UgrnnCell, VanillaCell,
};

/// Where a tanh cell keeps its hidden state in [-1, 1].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bound {
    /// Whatever the state (`φ(·)` or `o ⊙ φ(c')` with |o| ≤ 1).
    Always,
    /// When the incoming hidden state is in [-1, 1] (`g ⊙ h + (1 − g) ⊙ φ(·)`).
    IfStateBounded,
    /// No bound (ReLU).
    None,
}

fn nan<R: Real>(len: usize) -> Vec<R> {
    vec![R::from_f64(f64::NAN); len]
}

fn max_abs<R: Real>(v: &[R]) -> f64 {
    v.iter().map(|x| x.to_f64().abs()).fold(0.0, f64::max)
}

/// `out[b] = Σ_a m[a·cols + b] · v[a]` in f64 (`m` is `v.len() × cols`).
fn transposed_product<R: Real>(m: &[R], cols: usize, v: &[R]) -> Vec<f64> {
    let mut out = vec![0.0; cols];
    for (a, &va) in v.iter().enumerate() {
        for (b, o) in out.iter_mut().enumerate() {
            *o += m[a * cols + b].to_f64() * va.to_f64();
        }
    }
    out
}

fn check<R: Real, C: Cell<R>>(cell: C, bound: Bound, u: &mut Unstructured<'_>) -> Result<()> {
    let (st, ni, nh) = (C::STATE, C::INPUT, C::HIDDEN);
    let np = cell.param_count();
    let kind = if u.arbitrary()? {
        Values::Raw
    } else {
        Values::Small
    };
    let limit = if u.arbitrary()? { 1.0 } else { 4.0 };
    let p: Vec<R> = values(u, np, kind, limit)?;
    let s: Vec<R> = values(u, st, kind, limit)?;
    let x: Vec<R> = values(u, ni, kind, limit)?;
    let ds_next: Vec<R> = values(u, st, kind, limit)?;
    let all_finite = p
        .iter()
        .chain(&s)
        .chain(&x)
        .chain(&ds_next)
        .all(|v| v.is_finite());

    // step == forward, bit for bit, whatever `s_next` and the cache held.
    let mut s1 = vec![R::ZERO; st];
    cell.step(&p, &s, &x, &mut s1);
    let mut s2 = nan(st);
    let mut cache = nan(C::CACHE);
    cell.forward(&p, &s, &x, &mut s2, &mut cache);
    assert!(same_all(&s1, &s2), "step {s1:?} != forward {s2:?}");

    // The tanh bound on the hidden part.
    let h_in_range = s[..nh].iter().all(|v| v.is_finite() && v.abs() <= R::ONE);
    if bound == Bound::Always || (bound == Bound::IfStateBounded && h_in_range) {
        for v in &s1[..nh] {
            assert!(
                !(v.abs() > R::ONE),
                "tanh cell left [-1, 1]: {v:?} (state {s:?})"
            );
        }
    }

    // backward with and without dx: same ds and dp; the buffers' old contents do not leak
    // (ds is overwritten, dp accumulated into).
    let mut ds = nan(st);
    let mut dp = vec![R::ZERO; np];
    let mut dx = vec![R::ZERO; ni];
    cell.backward(
        &p,
        &s,
        &x,
        &s2,
        &cache,
        &ds_next,
        &mut ds,
        &mut dp,
        Some(&mut dx),
    );
    let mut ds_b = vec![R::ZERO; st];
    let mut dp_b = vec![R::ZERO; np];
    cell.backward(
        &p, &s, &x, &s2, &cache, &ds_next, &mut ds_b, &mut dp_b, None,
    );
    assert!(same_all(&ds, &ds_b) && same_all(&dp, &dp_b));

    let mut js = nan(st * st);
    cell.jacobian_state(&p, &s, &x, &mut js);
    let mut ji = nan(st * ni);
    cell.jacobian_input(&p, &s, &x, &mut ji);

    if kind == Values::Small && all_finite {
        for (what, v) in [
            ("step", &s1),
            ("ds", &ds),
            ("dp", &dp),
            ("dx", &dx),
            ("jacobian_state", &js),
            ("jacobian_input", &ji),
        ] {
            assert!(v.iter().all(|x| x.is_finite()), "{what} not finite: {v:?}");
        }
        // Vector-Jacobian product == transposed Jacobian times ds_next. Every term is a
        // product of at most two parameters, a state or input entry, a ds_next entry and
        // gate derivatives (≤ 1), and each sum has O(state + input) terms.
        let eps = R::EPSILON.to_f64();
        let pm = 1.0 + max_abs(&p);
        let scale = pm
            * pm
            * (1.0 + max_abs(&s))
            * (1.0 + max_abs(&x))
            * (1.0 + max_abs(&ds_next))
            * (st + ni + 1) as f64;
        let tol = 16.0 * (st + ni + 1) as f64 * eps * scale;
        let ds_ref = transposed_product(&js, st, &ds_next);
        for (b, (&got, &want)) in ds.iter().zip(&ds_ref).enumerate() {
            let err = (got.to_f64() - want).abs();
            assert!(
                err <= tol,
                "ds[{b}] = {got:?}, J_sᵀ ds_next = {want:e} (err {err:e} > {tol:e})"
            );
        }
        let dx_ref = transposed_product(&ji, ni, &ds_next);
        for (k, (&got, &want)) in dx.iter().zip(&dx_ref).enumerate() {
            let err = (got.to_f64() - want).abs();
            assert!(
                err <= tol,
                "dx[{k}] = {got:?}, J_xᵀ ds_next = {want:e} (err {err:e} > {tol:e})"
            );
        }
    }
    Ok(())
}

fn run<R: Real, const N: usize, const I: usize>(sel: u8, u: &mut Unstructured<'_>) -> Result<()> {
    let act = if sel & 1 == 0 {
        Activation::Tanh
    } else {
        Activation::Relu
    };
    let tanh = act == Activation::Tanh;
    let gated = if tanh {
        Bound::IfStateBounded
    } else {
        Bound::None
    };
    match (sel >> 1) % 5 {
        0 => check::<R, _>(
            VanillaCell::<N, I>::new(act),
            if tanh { Bound::Always } else { Bound::None },
            u,
        ),
        1 => check::<R, _>(UgrnnCell::<N, I>::new(act), gated, u),
        2 => check::<R, _>(
            GruCell::<N, I>::new(act, GruConvention::ResetBeforeProduct),
            gated,
            u,
        ),
        3 => check::<R, _>(
            GruCell::<N, I>::new(act, GruConvention::ResetAfterProduct),
            gated,
            u,
        ),
        _ => check::<R, _>(
            LstmCell::<N, I>::new(act),
            if tanh { Bound::Always } else { Bound::None },
            u,
        ),
    }
}

fn dispatch<R: Real>(sel: u8, u: &mut Unstructured<'_>) -> Result<()> {
    match sel / 16 % 3 {
        0 => run::<R, 1, 1>(sel, u),
        1 => run::<R, 2, 3>(sel, u),
        _ => run::<R, 5, 2>(sel, u),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(sel) = u.arbitrary::<u8>() else {
        return;
    };
    let Ok(real) = u.arbitrary::<bool>() else {
        return;
    };
    let _ = if real {
        dispatch::<f32>(sel, &mut u)
    } else {
        dispatch::<f64>(sel, &mut u)
    };
});
