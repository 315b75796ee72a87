//! Every cell × activation (× GRU convention) against an independent NumPy implementation:
//! `tests/data/cells_ref.npz`, made by `tests/data/make_cells_ref.py` (which also checks its
//! own gradient against finite differences). States, outputs, loss and the BPTT gradient of
//! every block must match within the tolerance table of `common/mod.rs`, in f64 and f32.

mod common;

use std::collections::HashMap;

use common::{assert_matches, load_npz, Array, Quantity, Scalar};
use rnndyn_core::train::Network;
use rnndyn_core::Activation::{Relu, Tanh};
use rnndyn_core::GruConvention::{ResetAfterProduct, ResetBeforeProduct};
use rnndyn_core::{Activation, Cell, GruCell, LstmCell, Real, UgrnnCell, VanillaCell};

const N: usize = 6;
const I: usize = 3;
const O: usize = 3;
const B: usize = 2;
const T: usize = 7;

fn get<'a>(npz: &'a HashMap<String, Array>, key: &str) -> &'a Array {
    npz.get(key)
        .unwrap_or_else(|| panic!("fixture has no array {key}"))
}

fn to_r<R: Real>(v: &[f64]) -> Vec<R> {
    v.iter().map(|&x| R::from_f64(x)).collect()
}

fn to_f64<R: Real>(v: &[R]) -> Vec<f64> {
    v.iter().map(|x| x.to_f64()).collect()
}

/// Runs one configuration in scalar type `R` and compares it with the fixture.
fn check<R: Real, C: Cell<R>>(cell: C, cfg: &str, npz: &HashMap<String, Array>, scalar: Scalar) {
    let net = Network::<C, O>::new(cell);
    let s = C::STATE;
    let xs = get(npz, "xs");
    let ys = get(npz, "ys");
    assert_eq!(xs.shape, [B, T, I]);
    assert_eq!(ys.shape, [B, T, O]);

    // Parameters: the fixture's blocks, in our storage order, shapes as our blocks.
    let mut p = Vec::with_capacity(net.param_count());
    let blocks: Vec<_> = net.blocks::<R>().into_iter().flatten().collect();
    for b in &blocks {
        let a = get(npz, &format!("{cfg}__{}", b.name));
        let shape_ok = a.shape == [b.rows, b.cols] || (b.rows == 1 && a.shape == [b.cols]);
        assert!(
            shape_ok,
            "{cfg} block {}: fixture shape {:?}, ours ({}, {})",
            b.name, a.shape, b.rows, b.cols
        );
        p.extend(to_r::<R>(&a.data));
    }
    assert_eq!(p.len(), net.param_count(), "{cfg}: parameter count");
    let n_fixture_params = npz
        .keys()
        .filter(|k| k.starts_with(&format!("{cfg}__grad__")))
        .count();
    assert_eq!(
        n_fixture_params,
        blocks.len(),
        "{cfg}: fixture has blocks we do not"
    );

    let xs_r = to_r::<R>(&xs.data);
    let ys_r = to_r::<R>(&ys.data);

    // States and outputs, one sequence at a time from the zero state.
    let mut states = vec![R::ZERO; B * T * s];
    let mut outputs = vec![R::ZERO; B * T * O];
    let s0 = vec![R::ZERO; s];
    for b in 0..B {
        net.run(
            &p,
            &s0,
            &xs_r[b * T * I..(b + 1) * T * I],
            &mut states[b * T * s..(b + 1) * T * s],
            &mut outputs[b * T * O..(b + 1) * T * O],
        )
        .unwrap();
    }
    let ref_states = get(npz, &format!("{cfg}__states"));
    assert_eq!(ref_states.shape, [B, T, s], "{cfg}: state shape");
    assert_matches(
        &format!("{cfg} {scalar:?} states"),
        &to_f64(&states),
        &ref_states.data,
        scalar,
        Quantity::States,
    );
    let ref_out = get(npz, &format!("{cfg}__outputs"));
    assert_matches(
        &format!("{cfg} {scalar:?} outputs"),
        &to_f64(&outputs),
        &ref_out.data,
        scalar,
        Quantity::Outputs,
    );

    // The checked `readout` entry point on the fixture's states gives the fixture's outputs
    // (`run` uses the unchecked one), and refuses a state of the wrong length.
    let ref_states_r = to_r::<R>(&ref_states.data);
    let mut y = vec![R::from_f64(f64::NAN); O];
    let mut readouts = Vec::with_capacity(B * T * O);
    for st in ref_states_r.chunks_exact(s) {
        net.readout(&p, st, &mut y).unwrap();
        readouts.extend_from_slice(&y);
    }
    assert_matches(
        &format!("{cfg} {scalar:?} readout"),
        &to_f64(&readouts),
        &ref_out.data,
        scalar,
        Quantity::Outputs,
    );
    assert!(net.readout(&p, &ref_states_r[..s - 1], &mut y).is_err());

    // Loss (both entry points) and gradient per block.
    let ref_loss = get(npz, &format!("{cfg}__loss")).data[0];
    let mut lscratch = vec![R::ZERO; Network::<C, O>::loss_scratch_len::<R>()];
    let loss = net.loss(&p, &xs_r, &ys_r, B, T, &mut lscratch).unwrap();
    assert_matches(
        &format!("{cfg} {scalar:?} loss"),
        &[loss.to_f64()],
        &[ref_loss],
        scalar,
        Quantity::Loss,
    );
    let mut grad = vec![R::ZERO; p.len()];
    let mut scratch = vec![R::ZERO; Network::<C, O>::bptt_scratch_len::<R>(B, T)];
    let loss2 = net
        .loss_and_grad(&p, &xs_r, &ys_r, B, T, &mut grad, &mut scratch)
        .unwrap();
    assert_matches(
        &format!("{cfg} {scalar:?} loss_and_grad loss"),
        &[loss2.to_f64()],
        &[ref_loss],
        scalar,
        Quantity::Loss,
    );
    let mut off = 0;
    for b in &blocks {
        let g = get(npz, &format!("{cfg}__grad__{}", b.name));
        let ours = to_f64(&grad[off..off + b.len()]);
        assert_matches(
            &format!("{cfg} {scalar:?} dL/d{}", b.name),
            &ours,
            &g.data,
            scalar,
            Quantity::Grad,
        );
        off += b.len();
    }
}

/// Every configuration of the fixture, in scalar type `R`.
fn check_all<R: Real>(scalar: Scalar) {
    let npz = load_npz("cells_ref.npz");
    let acts: [(Activation, &str); 2] = [(Tanh, "tanh"), (Relu, "relu")];
    let mut configs = 0;
    for (act, a) in acts {
        check::<R, _>(
            VanillaCell::<N, I>::new(act),
            &format!("vanilla_{a}"),
            &npz,
            scalar,
        );
        check::<R, _>(
            UgrnnCell::<N, I>::new(act),
            &format!("ugrnn_{a}"),
            &npz,
            scalar,
        );
        check::<R, _>(
            GruCell::<N, I>::new(act, ResetBeforeProduct),
            &format!("gru_before_{a}"),
            &npz,
            scalar,
        );
        check::<R, _>(
            GruCell::<N, I>::new(act, ResetAfterProduct),
            &format!("gru_after_{a}"),
            &npz,
            scalar,
        );
        check::<R, _>(
            LstmCell::<N, I>::new(act),
            &format!("lstm_{a}"),
            &npz,
            scalar,
        );
        configs += 5;
    }
    // Every configuration in the fixture was checked.
    let in_fixture = npz.keys().filter(|k| k.ends_with("__loss")).count();
    assert_eq!(configs, in_fixture);
}

#[test]
fn cells_match_numpy_reference_f64() {
    check_all::<f64>(Scalar::F64);
}

#[test]
fn cells_match_numpy_reference_f32() {
    check_all::<f32>(Scalar::F32);
}
