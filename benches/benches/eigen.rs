//! Non-symmetric eigen decomposition of random dense `n × n` f64 matrices (`n` = 64, 128):
//! rnndyn-core (eigenvalues + right eigenvectors, and eigenvalues only) vs nalgebra's
//! Schur eigenvalues (no eigenvectors available) vs faer's eigendecomposition
//! (sequential: faer is built without its `rayon` feature here).
//!
//! Run: `cargo bench -p rnndyn-benches --bench eigen`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rnndyn_core::linalg::{
    eigen, eigen_scratch_len, eigenvalues, eigenvalues_scratch_len, ComputeLeft, EigParams,
    Eigenvalue,
};
use rnndyn_core::Rng;
use std::hint::black_box;
use std::time::Duration;

fn random_matrix(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..n * n).map(|_| rng.normal()).collect()
}

fn bench_eigen(c: &mut Criterion) {
    let mut group = c.benchmark_group("eigen");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for n in [64usize, 128] {
        let a = random_matrix(n, 2024 + n as u64);
        let params = EigParams::default();

        let mut work = vec![0.0; n * n];
        let mut values = vec![Eigenvalue::default(); n];
        let mut right = vec![0.0; n * n];
        let mut scratch = vec![0.0; eigen_scratch_len(n, ComputeLeft::No)];
        group.bench_with_input(BenchmarkId::new("rnndyn/values+vectors", n), &n, |b, &n| {
            b.iter(|| {
                work.copy_from_slice(&a);
                eigen(
                    n,
                    &mut work,
                    &mut values,
                    &mut right,
                    None,
                    &mut scratch,
                    &params,
                )
                .unwrap();
                black_box(&right);
            })
        });

        let mut scratch = vec![0.0; eigenvalues_scratch_len(n)];
        group.bench_with_input(BenchmarkId::new("rnndyn/values", n), &n, |b, &n| {
            b.iter(|| {
                work.copy_from_slice(&a);
                eigenvalues(n, &mut work, &mut values, &mut scratch, &params).unwrap();
                black_box(&values);
            })
        });

        let m = nalgebra::DMatrix::from_row_slice(n, n, &a);
        group.bench_with_input(BenchmarkId::new("nalgebra/schur-values", n), &n, |b, _| {
            b.iter(|| {
                let s = nalgebra::linalg::Schur::try_new(m.clone(), f64::EPSILON, 100_000)
                    .expect("nalgebra Schur converges on a Gaussian matrix");
                black_box(s.complex_eigenvalues());
            })
        });

        let f = faer::Mat::<f64>::from_fn(n, n, |i, j| a[i * n + j]);
        group.bench_with_input(BenchmarkId::new("faer/values+vectors", n), &n, |b, _| {
            b.iter(|| black_box(f.eigen().expect("faer evd")))
        });
        group.bench_with_input(BenchmarkId::new("faer/values", n), &n, |b, _| {
            b.iter(|| black_box(f.eigenvalues().expect("faer evd")))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_eigen);
criterion_main!(benches);
