//! One training step of the 3-bit flip-flop (batch 64, T = 100, f32): data generation,
//! forward + BPTT, Adam — the workload of the JAX peer's `train steps/s`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rnndyn::aligned::AlignedF32;
use rnndyn_core::cell::{
    Cell, GruCell, GruConvention, InitParams, LstmCell, UgrnnCell, VanillaCell,
};
use rnndyn_core::task::{FlipFlop, Task};
use rnndyn_core::train::{Adam, AdamParams, Network};
use rnndyn_core::{Activation, Rng};

const BATCH: usize = 64;
const STEPS: usize = 100;

struct Trainer<C> {
    net: Network<C, 3>,
    params: AlignedF32,
    grad: AlignedF32,
    scratch: Vec<f32>,
    m: AlignedF32,
    v: AlignedF32,
    xs: Vec<f32>,
    ys: Vec<f32>,
    rng: Rng,
    task: FlipFlop,
    t: u64,
}

impl<C: Cell<f32>> Trainer<C> {
    fn new(cell: C) -> Self {
        let net = Network::<C, 3>::new(cell);
        let n = net.param_count::<f32>();
        // Parameters on cache-line boundaries, as `rnndyn train` places them.
        let mut params = AlignedF32::zeros(n);
        net.init(&mut params, &mut Rng::new(1), &InitParams::default())
            .unwrap();
        Trainer {
            net,
            params,
            grad: AlignedF32::zeros(n),
            scratch: vec![0.0; Network::<C, 3>::bptt_scratch_len::<f32>(BATCH, STEPS)],
            m: AlignedF32::zeros(n),
            v: AlignedF32::zeros(n),
            xs: vec![0.0; BATCH * STEPS * 3],
            ys: vec![0.0; BATCH * STEPS * 3],
            rng: Rng::new(2),
            task: FlipFlop::default(),
            t: 0,
        }
    }

    fn step(&mut self) -> f32 {
        self.task
            .fill(&mut self.rng, BATCH, STEPS, &mut self.xs, &mut self.ys)
            .unwrap();
        // Batch and T go in as runtime values, as `rnndyn train` passes them: as constants,
        // LLVM specialised the whole step on them (15–25 % faster at N = 16 than the CLI's
        // code; BENCHMARKS.md, "Shapes as runtime values").
        let loss = self
            .net
            .loss_and_grad(
                &self.params,
                &self.xs,
                &self.ys,
                black_box(BATCH),
                black_box(STEPS),
                &mut self.grad,
                &mut self.scratch,
            )
            .unwrap();
        let mut adam = Adam::resume(&mut self.m, &mut self.v, self.t).unwrap();
        let prm = AdamParams::default();
        adam.update(&mut self.params, &self.grad, &prm, prm.lr)
            .unwrap();
        self.t = adam.steps();
        loss
    }
}

macro_rules! bench_sizes {
    ($group:expr, $name:expr, $make:ident, [$($n:literal),*]) => {
        $(
            let mut tr = Trainer::new($make::<$n>());
            $group.bench_with_input(BenchmarkId::new($name, $n), &$n, |b, _| b.iter(|| tr.step()));
        )*
    };
}

fn vanilla<const N: usize>() -> VanillaCell<N, 3> {
    VanillaCell::new(Activation::Tanh)
}
fn ugrnn<const N: usize>() -> UgrnnCell<N, 3> {
    UgrnnCell::new(Activation::Tanh)
}
fn gru<const N: usize>() -> GruCell<N, 3> {
    GruCell::new(Activation::Tanh, GruConvention::ResetBeforeProduct)
}
fn lstm<const N: usize>() -> LstmCell<N, 3> {
    LstmCell::new(Activation::Tanh)
}

fn train_step(c: &mut Criterion) {
    let mut g = c.benchmark_group("train_step_flipflop_b64_t100_f32");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    bench_sizes!(g, "vanilla", vanilla, [16, 64, 128]);
    bench_sizes!(g, "ugrnn", ugrnn, [16, 64, 128]);
    bench_sizes!(g, "gru", gru, [16, 64, 128]);
    bench_sizes!(g, "lstm", lstm, [16, 64, 128]);
    g.finish();
}

criterion_group!(benches, train_step);
criterion_main!(benches);
