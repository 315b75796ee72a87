//! Same seed → bit-identical initial parameters, losses and gradients; different seeds →
//! different parameters; initial biases follow the documented scheme.

use rnndyn_core::cell::{BlockKind, InitParams, RecurrentInit};
use rnndyn_core::train::Network;
use rnndyn_core::Activation::{Relu, Tanh};
use rnndyn_core::GruConvention::{ResetAfterProduct, ResetBeforeProduct};
use rnndyn_core::{Cell, GruCell, LstmCell, Rng, UgrnnCell, VanillaCell};

const N: usize = 6;
const I: usize = 3;
const O: usize = 2;
const B: usize = 3;
const T: usize = 8;

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Initial parameters, loss and gradient for one seed.
fn run<C: Cell<f64>>(
    net: &Network<C, O>,
    seed: u64,
    init: &InitParams,
) -> (Vec<f64>, f64, Vec<f64>) {
    let mut p = vec![0.0; net.param_count()];
    net.init(&mut p, &mut Rng::stream(seed, 0), init).unwrap();
    let mut data = Rng::stream(seed, 1);
    let xs: Vec<f64> = (0..B * T * I).map(|_| data.normal()).collect();
    let ys: Vec<f64> = (0..B * T * O).map(|_| data.normal()).collect();
    let mut grad = vec![0.0; p.len()];
    let mut scratch = vec![0.0; Network::<C, O>::bptt_scratch_len::<f64>(B, T)];
    let loss = net
        .loss_and_grad(&p, &xs, &ys, B, T, &mut grad, &mut scratch)
        .unwrap();
    (p, loss, grad)
}

fn check_determinism<C: Cell<f64> + core::fmt::Debug>(cell: C) {
    let net = Network::<C, O>::new(cell);
    for init in [
        InitParams::default(),
        InitParams {
            recurrent: RecurrentInit::Orthogonal { gain: 0.9 },
            ..Default::default()
        },
    ] {
        let (p1, l1, g1) = run(&net, 42, &init);
        let (p2, l2, g2) = run(&net, 42, &init);
        assert_eq!(bits(&p1), bits(&p2), "{cell:?}: params differ for one seed");
        assert_eq!(
            l1.to_bits(),
            l2.to_bits(),
            "{cell:?}: loss differs for one seed"
        );
        assert_eq!(
            bits(&g1),
            bits(&g2),
            "{cell:?}: gradient differs for one seed"
        );
        assert!(l1.is_finite() && l1 > 0.0);
        let (p3, l3, _) = run(&net, 43, &init);
        assert_ne!(
            bits(&p1),
            bits(&p3),
            "{cell:?}: seeds 42 and 43 give the same params"
        );
        assert_ne!(l1.to_bits(), l3.to_bits());
    }
}

/// The biases of a fresh network, as (block name, values).
fn initial_biases<C: Cell<f64>>(cell: C, gate_bias: f64) -> Vec<(&'static str, Vec<f64>)> {
    let net = Network::<C, O>::new(cell);
    let mut p = vec![f64::NAN; net.param_count()];
    let init = InitParams {
        gate_bias,
        ..Default::default()
    };
    net.init(&mut p, &mut Rng::new(1), &init).unwrap();
    assert!(p.iter().all(|v| v.is_finite()));
    let mut out = Vec::new();
    let mut off = 0;
    for b in net.blocks::<f64>().iter().flatten() {
        if b.rows == 1 {
            out.push((b.name, p[off..off + b.len()].to_vec()));
        }
        off += b.len();
    }
    out
}

fn gates(parts: &[(usize, f64)]) -> Vec<f64> {
    parts
        .iter()
        .flat_map(|&(n, v)| std::iter::repeat_n(v, n))
        .collect()
}

#[test]
fn same_seed_same_bits_for_every_cell() {
    for act in [Tanh, Relu] {
        check_determinism(VanillaCell::<N, I>::new(act));
        check_determinism(UgrnnCell::<N, I>::new(act));
        for conv in [ResetBeforeProduct, ResetAfterProduct] {
            check_determinism(GruCell::<N, I>::new(act, conv));
        }
        check_determinism(LstmCell::<N, I>::new(act));
    }
}

#[test]
fn initial_biases_follow_the_scheme() {
    let gb = 1.25;
    let zero_o = ("bo", vec![0.0; O]);
    assert_eq!(
        initial_biases(VanillaCell::<N, I>::new(Tanh), gb),
        vec![("b", vec![0.0; N]), zero_o.clone()]
    );
    assert_eq!(
        initial_biases(UgrnnCell::<N, I>::new(Tanh), gb),
        vec![("b", gates(&[(N, gb), (N, 0.0)])), zero_o.clone()]
    );
    assert_eq!(
        initial_biases(GruCell::<N, I>::new(Tanh, ResetBeforeProduct), gb),
        vec![("b", gates(&[(2 * N, gb), (N, 0.0)])), zero_o.clone()]
    );
    assert_eq!(
        initial_biases(GruCell::<N, I>::new(Tanh, ResetAfterProduct), gb),
        vec![
            ("b", gates(&[(2 * N, gb), (N, 0.0)])),
            ("bh", vec![0.0; N]),
            zero_o.clone()
        ]
    );
    assert_eq!(
        initial_biases(LstmCell::<N, I>::new(Relu), gb),
        vec![("b", gates(&[(N, 0.0), (N, gb), (2 * N, 0.0)])), zero_o]
    );
}

#[test]
fn parameter_counts() {
    assert_eq!(
        Cell::<f64>::param_count(&VanillaCell::<N, I>::new(Tanh)),
        N * N + I * N + N
    );
    assert_eq!(
        Cell::<f64>::param_count(&UgrnnCell::<N, I>::new(Tanh)),
        2 * (N * N + I * N + N)
    );
    assert_eq!(
        Cell::<f64>::param_count(&GruCell::<N, I>::new(Tanh, ResetBeforeProduct)),
        3 * (N * N + I * N + N)
    );
    assert_eq!(
        Cell::<f64>::param_count(&GruCell::<N, I>::new(Tanh, ResetAfterProduct)),
        3 * (N * N + I * N + N) + N
    );
    assert_eq!(
        Cell::<f64>::param_count(&LstmCell::<N, I>::new(Tanh)),
        4 * (N * N + I * N + N)
    );
    assert_eq!(<LstmCell<N, I> as Cell<f64>>::STATE, 2 * N);
}

/// Orthogonal init: every N × N gate block `W` of the recurrent weights has
/// `W Wᵀ = gain² I`, for gains below, at and above 1.
fn check_orthogonal<C: Cell<f64> + core::fmt::Debug>(cell: C) {
    let net = Network::<C, O>::new(cell);
    for gain in [0.5, 0.9, 1.0, 1.5] {
        let init = InitParams {
            recurrent: RecurrentInit::Orthogonal { gain },
            ..Default::default()
        };
        let mut p = vec![0.0; net.param_count()];
        net.init(&mut p, &mut Rng::new(3), &init).unwrap();
        let mut offset = 0;
        let mut checked = 0;
        for b in net.blocks::<f64>().iter().flatten() {
            if b.kind == BlockKind::Recurrent {
                assert_eq!(b.rows, N);
                let w = &p[offset..offset + b.len()];
                for g in 0..b.cols / N {
                    for i in 0..N {
                        for k in 0..N {
                            let d: f64 = (0..N)
                                .map(|j| w[i * b.cols + g * N + j] * w[k * b.cols + g * N + j])
                                .sum();
                            let want = if i == k { gain * gain } else { 0.0 };
                            assert!(
                                (d - want).abs() < 1e-12,
                                "{cell:?} gain {gain}: (W Wᵀ)[{i}, {k}] = {d} in gate block {g}"
                            );
                        }
                    }
                    checked += 1;
                }
            }
            offset += b.len();
        }
        assert!(checked >= 1, "{cell:?}: no recurrent block");
    }
}

#[test]
fn orthogonal_init_scales_an_orthogonal_matrix_by_the_gain() {
    check_orthogonal(VanillaCell::<N, I>::new(Tanh));
    check_orthogonal(UgrnnCell::<N, I>::new(Tanh));
    check_orthogonal(GruCell::<N, I>::new(Tanh, ResetBeforeProduct));
    check_orthogonal(LstmCell::<N, I>::new(Tanh));
}
