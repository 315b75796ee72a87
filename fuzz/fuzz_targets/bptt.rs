//! `Network::loss_and_grad` and `Network::loss` (every cell kind, tanh and ReLU, f32 and
//! f64, small batch and length) never panic, whatever the data (NaN and ±∞ included) and
//! the buffer lengths:
//!
//! - a wrong length of `p`, `xs`, `ys` or `grad`, or a scratch shorter than
//!   `bptt_scratch_len` / `loss_scratch_len`, gives `Err(BufferSize)` (a longer scratch may
//!   be accepted);
//! - on `Ok`, the loss is never negative, and a second run with garbage (NaN) in `grad` and
//!   `scratch` gives the same loss and gradient bit for bit (NaN payloads aside);
//! - on small finite data: the loss and gradient are finite, the loss equals `loss` and
//!   `loss_and_grad_reference`, and the gradient equals the reference's, up to rounding
//!   (the batched path sums in another order).
#![no_main]

#[path = "common.rs"]
#[macro_use]
mod common;

use arbitrary::{Result, Unstructured};
use common::{buffer_len, same, same_all, values, Values};
use rnndyn_core::train::Network;
use rnndyn_core::{
    Activation, Cell, Error, GruCell, GruConvention, LstmCell, Real, UgrnnCell, VanillaCell,
};

const MAX_BATCH: usize = 5;
const MAX_STEPS: usize = 6;

fn nan<R: Real>(len: usize) -> Vec<R> {
    vec![R::from_f64(f64::NAN); len]
}

fn check<R: Real, C: Cell<R>, const O: usize>(cell: C, u: &mut Unstructured<'_>) -> Result<()> {
    let net = Network::<C, O>::new(cell);
    let batch = u.int_in_range(0..=MAX_BATCH)?;
    let steps = u.int_in_range(0..=MAX_STEPS)?;
    let rows = batch * steps;
    let kind = if u.arbitrary()? {
        Values::Raw
    } else {
        Values::Small
    };
    let limit = if u.arbitrary()? { 1.0 } else { 3.0 };

    let np_right = net.param_count();
    let np = buffer_len(u, np_right)?;
    let nx = buffer_len(u, rows * C::INPUT)?;
    let ny = buffer_len(u, rows * O)?;
    let ng = buffer_len(u, np)?;
    let scratch_right = Network::<C, O>::bptt_scratch_len::<R>(batch, steps);
    let nscratch = buffer_len(u, scratch_right)?;
    let lscratch_right = Network::<C, O>::loss_scratch_len::<R>();
    let nlscratch = buffer_len(u, lscratch_right)?;

    let p: Vec<R> = values(u, np, kind, limit)?;
    let xs: Vec<R> = values(u, nx, kind, limit)?;
    let ys: Vec<R> = values(u, ny, kind, limit)?;
    let finite = p.iter().chain(&xs).chain(&ys).all(|v| v.is_finite());
    let sizes_right = np == np_right && nx == rows * C::INPUT && ny == rows * O;

    // loss_and_grad, scratch zeroed, grad zeroed.
    let mut grad = vec![R::ZERO; ng];
    let mut scratch = vec![R::ZERO; nscratch];
    let res = net.loss_and_grad(&p, &xs, &ys, batch, steps, &mut grad, &mut scratch);
    let lg_sizes_right = sizes_right && ng == np;
    match res {
        Err(e) => {
            assert!(
                matches!(e, Error::BufferSize { .. }),
                "loss_and_grad: unexpected {e:?}"
            );
            assert!(
                !lg_sizes_right || nscratch != scratch_right,
                "loss_and_grad refused right sizes: {e:?}"
            );
        }
        Ok(loss) => {
            assert!(lg_sizes_right && nscratch >= scratch_right);
            assert!(!(loss < R::ZERO), "negative loss {loss:?}");
            // Same again with garbage in every output and work buffer.
            let mut grad2 = nan(ng);
            let mut scratch2 = nan(nscratch);
            let loss2 = net
                .loss_and_grad(&p, &xs, &ys, batch, steps, &mut grad2, &mut scratch2)
                .expect("second run");
            assert!(
                same(loss, loss2),
                "loss depends on scratch: {loss:?} vs {loss2:?}"
            );
            assert!(same_all(&grad, &grad2), "gradient depends on scratch");
            if rows == 0 {
                assert!(loss == R::ZERO && grad.iter().all(|&g| g == R::ZERO));
            }
            if kind == Values::Small && finite {
                check_small(&net, &p, &xs, &ys, batch, steps, loss, &grad);
            }
        }
    }

    // loss alone.
    let mut lscratch = vec![R::ZERO; nlscratch];
    match net.loss(&p, &xs, &ys, batch, steps, &mut lscratch) {
        Err(e) => {
            assert!(
                matches!(e, Error::BufferSize { .. }),
                "loss: unexpected {e:?}"
            );
            assert!(!sizes_right || nlscratch != lscratch_right);
        }
        Ok(l) => {
            assert!(sizes_right && nlscratch >= lscratch_right);
            assert!(!(l < R::ZERO), "negative loss {l:?}");
            if kind == Values::Small && finite {
                assert!(l.is_finite(), "loss not finite: {l:?}");
            }
        }
    }
    Ok(())
}

/// Small finite data: finite results that agree with `loss` and the per-trial reference.
#[allow(clippy::too_many_arguments)]
fn check_small<R: Real, C: Cell<R>, const O: usize>(
    net: &Network<C, O>,
    p: &[R],
    xs: &[R],
    ys: &[R],
    batch: usize,
    steps: usize,
    loss: R,
    grad: &[R],
) {
    assert!(loss.is_finite(), "loss not finite: {loss:?}");
    assert!(grad.iter().all(|g| g.is_finite()), "gradient not finite");
    let mut lscratch = vec![R::ZERO; Network::<C, O>::loss_scratch_len::<R>()];
    let l = net.loss(p, xs, ys, batch, steps, &mut lscratch).unwrap();
    let mut g_ref = vec![R::ZERO; p.len()];
    let mut s_ref = vec![R::ZERO; Network::<C, O>::bptt_reference_scratch_len::<R>(steps)];
    let l_ref = net
        .loss_and_grad_reference(p, xs, ys, batch, steps, &mut g_ref, &mut s_ref)
        .unwrap();
    // A mean of squares: each summation order is within a few ulps per term of the others
    // (no cancellation); the states themselves may differ by rounding (ReLU growth over a
    // few steps amplifies that by at most the product of the weights' sizes).
    let eps = R::EPSILON.to_f64();
    let (loss, l, l_ref) = (loss.to_f64(), l.to_f64(), l_ref.to_f64());
    let tol_l = 1e3 * eps * loss.abs().max(1.0);
    assert!(
        (loss - l).abs() <= tol_l,
        "loss_and_grad {loss:e} vs loss {l:e}"
    );
    assert!(
        (loss - l_ref).abs() <= tol_l,
        "loss_and_grad {loss:e} vs reference {l_ref:e}"
    );
    // Gradient: relative to the largest component (sums of signed terms may cancel).
    let scale = g_ref
        .iter()
        .map(|g| g.to_f64().abs())
        .fold(1.0f64, f64::max);
    let err = grad
        .iter()
        .zip(&g_ref)
        .map(|(a, b)| (a.to_f64() - b.to_f64()).abs())
        .fold(0.0f64, f64::max);
    assert!(
        err <= 1e4 * eps * scale,
        "gradient differs from the reference by {err:e} (scale {scale:e})"
    );
}

fn run<R: Real, const N: usize, const I: usize, const O: usize>(
    sel: u8,
    u: &mut Unstructured<'_>,
) -> Result<()> {
    let act = if sel & 1 == 0 {
        Activation::Tanh
    } else {
        Activation::Relu
    };
    match (sel >> 1) % 5 {
        0 => check::<R, _, O>(VanillaCell::<N, I>::new(act), u),
        1 => check::<R, _, O>(UgrnnCell::<N, I>::new(act), u),
        2 => check::<R, _, O>(
            GruCell::<N, I>::new(act, GruConvention::ResetBeforeProduct),
            u,
        ),
        3 => check::<R, _, O>(
            GruCell::<N, I>::new(act, GruConvention::ResetAfterProduct),
            u,
        ),
        _ => check::<R, _, O>(LstmCell::<N, I>::new(act), u),
    }
}

fn dispatch<R: Real>(sel: u8, shape: u8, u: &mut Unstructured<'_>) -> Result<()> {
    match shape % 3 {
        0 => run::<R, 1, 1, 1>(sel, u),
        1 => run::<R, 3, 2, 2>(sel, u),
        _ => run::<R, 5, 1, 3>(sel, u),
    }
}

selector_shape_real_target!(dispatch);
