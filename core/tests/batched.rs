//! The batched BPTT path (`Network::loss_and_grad`, `Cell::forward_batch` /
//! `Cell::backward_batch`) against the per-trial reference (`loss_and_grad_reference`):
//! every cell × activation × GRU convention, several batch sizes and lengths (including
//! B = 1 and sizes that are not multiples of the register tile), f64 and f32. Also checks
//! the trait's default (per-trial) batched methods through a wrapper cell.

use rnndyn_core::cell::{Activation, ParamBlock, MAX_BLOCKS};
use rnndyn_core::train::Network;
use rnndyn_core::Activation::{Relu, Tanh};
use rnndyn_core::GruConvention::{ResetAfterProduct, ResetBeforeProduct};
use rnndyn_core::{Cell, GruCell, LstmCell, Real, Rng, UgrnnCell, VanillaCell};

const O: usize = 3;

/// Delegates the per-trial methods only, so the trait's default batched methods run.
#[derive(Clone, Copy, Debug)]
struct PerTrial<C>(C);

impl<R: Real, C: Cell<R>> Cell<R> for PerTrial<C> {
    const HIDDEN: usize = C::HIDDEN;
    const INPUT: usize = C::INPUT;
    const STATE: usize = C::STATE;
    const CACHE: usize = C::CACHE;
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn activation(&self) -> Activation {
        self.0.activation()
    }
    fn blocks(&self) -> [Option<ParamBlock>; MAX_BLOCKS] {
        self.0.blocks()
    }
    fn param_count(&self) -> usize {
        self.0.param_count()
    }
    fn initial_bias(&self, j: usize, init: &rnndyn_core::cell::InitParams) -> f64 {
        self.0.initial_bias(j, init)
    }
    fn step(&self, p: &[R], s: &[R], x: &[R], s_next: &mut [R]) {
        self.0.step(p, s, x, s_next)
    }
    fn forward(&self, p: &[R], s: &[R], x: &[R], s_next: &mut [R], cache: &mut [R]) {
        self.0.forward(p, s, x, s_next, cache)
    }
    fn backward(
        &self,
        p: &[R],
        s: &[R],
        x: &[R],
        s_next: &[R],
        cache: &[R],
        ds_next: &[R],
        ds: &mut [R],
        dp: &mut [R],
        dx: Option<&mut [R]>,
    ) {
        self.0.backward(p, s, x, s_next, cache, ds_next, ds, dp, dx)
    }
    fn jacobian_state(&self, p: &[R], s: &[R], x: &[R], jac: &mut [R]) {
        self.0.jacobian_state(p, s, x, jac)
    }
    fn jacobian_input(&self, p: &[R], s: &[R], x: &[R], jac: &mut [R]) {
        self.0.jacobian_input(p, s, x, jac)
    }
}

/// Largest |a − b| relative to the largest |b| (and at least 1e-3 absolute scale).
fn rel_err<R: Real>(a: &[R], b: &[R]) -> f64 {
    let scale = b.iter().map(|v| v.to_f64().abs()).fold(1e-3f64, f64::max);
    a.iter()
        .zip(b)
        .map(|(x, y)| (x.to_f64() - y.to_f64()).abs())
        .fold(0.0f64, f64::max)
        / scale
}

fn compare<R: Real, C: Cell<R> + core::fmt::Debug>(cell: C, batch: usize, steps: usize, tol: f64) {
    let net = Network::<C, O>::new(cell);
    let np = net.param_count();
    let ni = C::INPUT;
    let mut rng = Rng::new(1000 + (batch * 31 + steps) as u64);
    let mut p = vec![R::ZERO; np];
    net.init(&mut p, &mut rng, &Default::default()).unwrap();
    // Perturb the biases too (init leaves most at 0) and use larger weights.
    for v in p.iter_mut() {
        *v = R::from_f64(v.to_f64() * 1.3 + 0.1 * rng.normal());
    }
    // Sparse inputs (flip-flop-like) mixed with dense ones.
    let xs: Vec<R> = (0..batch * steps * ni)
        .map(|_| {
            if rng.bernoulli(0.3) {
                R::from_f64(rng.normal())
            } else {
                R::ZERO
            }
        })
        .collect();
    let ys: Vec<R> = (0..batch * steps * O)
        .map(|_| R::from_f64(rng.normal()))
        .collect();
    let mut g_ref = vec![R::ZERO; np];
    let mut s_ref = vec![R::ZERO; Network::<C, O>::bptt_reference_scratch_len::<R>(steps)];
    let l_ref = net
        .loss_and_grad_reference(&p, &xs, &ys, batch, steps, &mut g_ref, &mut s_ref)
        .unwrap();
    let mut g = vec![R::from_f64(f64::NAN); np];
    let mut s = vec![R::from_f64(f64::NAN); Network::<C, O>::bptt_scratch_len::<R>(batch, steps)];
    let l = net
        .loss_and_grad(&p, &xs, &ys, batch, steps, &mut g, &mut s)
        .unwrap();
    let what = format!("{cell:?} B={batch} T={steps}");
    let el = rel_err(&[l], &[l_ref]);
    assert!(el <= tol, "{what}: loss {l:?} vs {l_ref:?}");
    let eg = rel_err(&g, &g_ref);
    assert!(eg <= tol, "{what}: gradient rel err {eg:e}");
    // Deterministic: a second run is bit-identical (scratch reused as is).
    let mut g2 = vec![R::ZERO; np];
    let l2 = net
        .loss_and_grad(&p, &xs, &ys, batch, steps, &mut g2, &mut s)
        .unwrap();
    assert!(l2 == l && g2 == g, "{what}: not deterministic");

    // The trait's default batched methods (per-trial loop), with the default work size
    // (`batch·steps·CACHE + 2·STATE`).
    assert_eq!(
        rnndyn_core::cell::batch_work_len::<R, PerTrial<C>>(batch, steps),
        batch * steps * C::CACHE + 2 * C::STATE
    );
    let wnet = Network::<PerTrial<C>, O>::new(PerTrial(cell));
    let mut gw = vec![R::ZERO; np];
    let mut sw = vec![R::ZERO; Network::<PerTrial<C>, O>::bptt_scratch_len::<R>(batch, steps)];
    let lw = wnet
        .loss_and_grad(&p, &xs, &ys, batch, steps, &mut gw, &mut sw)
        .unwrap();
    assert!(rel_err(&[lw], &[l_ref]) <= tol, "{what}: default loss");
    let ew = rel_err(&gw, &g_ref);
    assert!(ew <= tol, "{what}: default gradient rel err {ew:e}");
}

const SHAPES: [(usize, usize); 6] = [(1, 1), (1, 7), (3, 5), (4, 9), (7, 4), (9, 12)];

fn all_cells<R: Real, const N: usize, const I: usize>(tol: f64) {
    for &(b, t) in &SHAPES {
        for act in [Tanh, Relu] {
            compare::<R, _>(VanillaCell::<N, I>::new(act), b, t, tol);
            compare::<R, _>(UgrnnCell::<N, I>::new(act), b, t, tol);
            compare::<R, _>(GruCell::<N, I>::new(act, ResetBeforeProduct), b, t, tol);
            compare::<R, _>(GruCell::<N, I>::new(act, ResetAfterProduct), b, t, tol);
            compare::<R, _>(LstmCell::<N, I>::new(act), b, t, tol);
        }
    }
}

#[test]
fn batched_matches_reference_f64() {
    const TOL: f64 = 1e-12;
    all_cells::<f64, 1, 1>(TOL);
    all_cells::<f64, 3, 2>(TOL);
    all_cells::<f64, 5, 3>(TOL);
    all_cells::<f64, 16, 3>(TOL);
    all_cells::<f64, 21, 4>(TOL);
}

#[test]
fn batched_matches_reference_f32() {
    const TOL: f64 = 1e-5;
    all_cells::<f32, 1, 1>(TOL);
    all_cells::<f32, 5, 3>(TOL);
    all_cells::<f32, 16, 3>(TOL);
    all_cells::<f32, 21, 4>(TOL);
}

#[test]
fn flip_flop_batch_matches_reference() {
    // The benchmark's shape, smaller T.
    compare::<f32, _>(
        GruCell::<32, 3>::new(Tanh, ResetBeforeProduct),
        64,
        20,
        1e-5,
    );
    compare::<f64, _>(LstmCell::<20, 3>::new(Tanh), 64, 20, 1e-12);
}

/// An empty batch (`batch = 0` or `steps = 0`) is a valid call: no panic, nothing added to
/// the gradient, and the same loss as the per-trial reference. (Found by the `bptt` fuzz
/// target: the reset-before GRU sliced `[2N..]` of an empty gate buffer.)
fn empty<C: Cell<f64> + core::fmt::Debug>(cell: C) {
    let net = Network::<C, O>::new(cell);
    let np = net.param_count();
    let mut p = vec![0.0; np];
    net.init(&mut p, &mut Rng::new(5), &Default::default())
        .unwrap();
    for (batch, steps) in [(0, 3), (2, 0), (0, 0)] {
        let xs = vec![0.0; batch * steps * C::INPUT];
        let ys = vec![0.0; batch * steps * O];
        let mut g = vec![0.0; np];
        let mut s = vec![0.0; Network::<C, O>::bptt_scratch_len::<f64>(batch, steps)];
        let l = net
            .loss_and_grad(&p, &xs, &ys, batch, steps, &mut g, &mut s)
            .unwrap();
        let mut g_ref = vec![0.0; np];
        let mut s_ref = vec![0.0; Network::<C, O>::bptt_reference_scratch_len::<f64>(steps)];
        let l_ref = net
            .loss_and_grad_reference(&p, &xs, &ys, batch, steps, &mut g_ref, &mut s_ref)
            .unwrap();
        let what = format!("{cell:?} B={batch} T={steps}");
        assert_eq!(l.to_bits(), l_ref.to_bits(), "{what}: loss {l} vs {l_ref}");
        assert!(g.iter().all(|&v| v == 0.0), "{what}: gradient {g:?}");
    }
}

#[test]
fn empty_batches_are_no_ops() {
    for act in [Tanh, Relu] {
        empty(VanillaCell::<4, 2>::new(act));
        empty(UgrnnCell::<4, 2>::new(act));
        empty(GruCell::<4, 2>::new(act, ResetBeforeProduct));
        empty(GruCell::<4, 2>::new(act, ResetAfterProduct));
        empty(LstmCell::<4, 2>::new(act));
    }
}

/// Every cell reports the short lowercase name its trait documents (the `architectures`
/// key of an experiment and the store's `arch` column), one per architecture, and the
/// activation it was built with.
#[test]
fn cells_report_their_name_and_activation() {
    fn check<C: Cell<f64>>(cell: C, name: &str, act: Activation) {
        assert_eq!(cell.name(), name);
        assert_eq!(cell.activation(), act);
    }
    for act in [Tanh, Relu] {
        check(VanillaCell::<3, 2>::new(act), "vanilla", act);
        check(UgrnnCell::<3, 2>::new(act), "ugrnn", act);
        for conv in [ResetBeforeProduct, ResetAfterProduct] {
            check(GruCell::<3, 2>::new(act, conv), "gru", act);
        }
        check(LstmCell::<3, 2>::new(act), "lstm", act);
    }
}
