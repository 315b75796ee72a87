//! Representational geometry: pairwise SVCCA and linear CKA over a population of 100
//! networks (2000 datapoints × 64 units each), and MDS of 1000 points.
//!
//! Data: `rnndyn_benches::activity_population` (low-rank-ish activity like a trained
//! RNN's; the NumPy peer `benches/peers/geometry_numpy.py` draws the same distributions).
//! The 1000-network figures come from `benches/benches/pairwise_1000.rs`.
//!
//! Run: `cargo bench -p rnndyn-benches --bench geometry`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rnndyn::analysis::{
    classical_mds, pairwise_distances, smacof, Matrix, Metric, SmacofOptions, SvccaOptions,
    SvccaReduction,
};
use rnndyn_benches::activity_population;
use rnndyn_core::Rng;
use std::hint::black_box;

const NETWORKS: usize = 100;

fn points(n: usize, seed: u64) -> Matrix {
    // Distances between 1000 points in 5-D (anisotropic), embedded in 2-D.
    let mut rng = Rng::new(seed);
    let p: Vec<f64> = (0..n * 5)
        .map(|k| rng.normal() * [3.0, 2.0, 1.0, 0.5, 0.25][k % 5])
        .collect();
    Matrix::from_fn(n, n, |i, j| {
        (0..5)
            .map(|k| (p[i * 5 + k] - p[j * 5 + k]).powi(2))
            .sum::<f64>()
            .sqrt()
    })
}

fn bench_pairwise(c: &mut Criterion) {
    let pop = activity_population(NETWORKS, 2019);
    let ks: Vec<usize> = pop
        .iter()
        .take(5)
        .map(|m| {
            SvccaReduction::new(m, &SvccaOptions::default())
                .unwrap()
                .k()
        })
        .collect();
    eprintln!("SVCCA k (99% variance) of the first networks: {ks:?}");
    let mut g = c.benchmark_group("pairwise_100x2000x64");
    g.sample_size(10);
    g.bench_function("svcca", |b| {
        b.iter(|| {
            black_box(pairwise_distances(&pop, &Metric::Svcca(SvccaOptions::default())).unwrap())
        })
    });
    g.bench_function("linear_cka", |b| {
        b.iter(|| black_box(pairwise_distances(&pop, &Metric::LinearCka).unwrap()))
    });
    g.bench_function("svcca_reduction_one_network", |b| {
        b.iter(|| black_box(SvccaReduction::new(&pop[0], &SvccaOptions::default()).unwrap()))
    });
    g.finish();
}

fn bench_mds(c: &mut Criterion) {
    let n = 1000;
    let d = points(n, 7);
    let mut g = c.benchmark_group("mds");
    g.sample_size(10);
    g.bench_with_input(BenchmarkId::new("classical", n), &d, |b, d| {
        b.iter(|| black_box(classical_mds(d, 2).unwrap()))
    });
    let opts = SmacofOptions {
        random_starts: 1,
        ..Default::default()
    };
    g.bench_with_input(BenchmarkId::new("smacof_2starts", n), &d, |b, d| {
        b.iter(|| black_box(smacof(d, &opts).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, bench_pairwise, bench_mds);
criterion_main!(benches);
