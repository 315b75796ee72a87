//! σ and tanh of the training path (`Real::sigmoid_in_place`, `Real::tanh_in_place`: libm's
//! exact bits, eight lanes at a time), called once per row as the cells call them: 6400 rows
//! (B = 64 × T = 100) of N = 16 and N = 64 f32 pre-activations drawn from N(0, 2²). These
//! per-element costs, with the FMA peak, give the lower bound on a training step that
//! BENCHMARKS.md compares with the peer targets.

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use rnndyn_core::{Real, Rng};

const ROWS: usize = 6400;

fn rows_of<const N: usize>(c: &mut Criterion) {
    let mut rng = Rng::new(7);
    let src: Vec<f32> = (0..ROWS * N).map(|_| (2.0 * rng.normal()) as f32).collect();
    let mut g = c.benchmark_group("transcendentals_6400_rows_f32");
    g.throughput(Throughput::Elements((ROWS * N) as u64));
    g.sample_size(30);
    g.bench_function(BenchmarkId::new("sigmoid", N), |b| {
        b.iter_batched_ref(
            || src.clone(),
            |buf| buf.chunks_exact_mut(N).for_each(f32::sigmoid_in_place),
            BatchSize::LargeInput,
        )
    });
    g.bench_function(BenchmarkId::new("tanh", N), |b| {
        b.iter_batched_ref(
            || src.clone(),
            |buf| buf.chunks_exact_mut(N).for_each(f32::tanh_in_place),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn transcendentals(c: &mut Criterion) {
    rows_of::<16>(c);
    rows_of::<64>(c);
}

criterion_group!(benches, transcendentals);
criterion_main!(benches);
