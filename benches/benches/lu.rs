//! LU factorisation and solves of a random well-conditioned `n × n` f64 matrix (`n` = 64,
//! the GRU-64 Newton step of the fixed-point search): rnndyn-core `lu_factor` (with its
//! default rcond estimate), `determinant` (the factorisation alone), one `solve` and one
//! `solve_transpose` on the factors, and nalgebra's LU for reference.
//!
//! Run: `cargo bench -p rnndyn-benches --bench lu`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rnndyn_core::linalg::{determinant, lu_factor, lu_scratch_len, LuParams};
use rnndyn_core::Rng;
use std::hint::black_box;
use std::time::Duration;

/// Gaussian entries plus `n·I`: diagonally dominant enough to be well conditioned, but
/// partial pivoting still swaps rows now and then.
fn random_matrix(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    let mut a: Vec<f64> = (0..n * n).map(|_| rng.normal()).collect();
    for i in 0..n {
        a[i * n + i] += n as f64;
    }
    a
}

fn bench_lu(c: &mut Criterion) {
    let mut group = c.benchmark_group("lu");
    group
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    // The size of the Newton systems of a GRU-64 fixed-point search.
    {
        let n = 64usize;
        let a = random_matrix(n, 4242 + n as u64);
        let mut rng = Rng::new(7);
        let b: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        let params = LuParams::default();
        let mut work = vec![0.0; n * n];
        let mut piv = vec![0usize; n];
        let mut scratch = vec![0.0; lu_scratch_len(n)];

        group.bench_with_input(BenchmarkId::new("rnndyn/lu_factor", n), &n, |bch, &n| {
            bch.iter(|| {
                work.copy_from_slice(&a);
                let lu = lu_factor(n, &mut work, &mut piv, &mut scratch, &params).unwrap();
                black_box(lu.rcond());
            })
        });
        group.bench_with_input(BenchmarkId::new("rnndyn/determinant", n), &n, |bch, &n| {
            bch.iter(|| {
                work.copy_from_slice(&a);
                black_box(determinant(n, &mut work, &mut piv, &mut scratch).unwrap());
            })
        });

        work.copy_from_slice(&a);
        let lu = lu_factor(n, &mut work, &mut piv, &mut scratch, &params).unwrap();
        let mut x = b.clone();
        group.bench_with_input(BenchmarkId::new("rnndyn/solve", n), &n, |bch, _| {
            bch.iter(|| {
                x.copy_from_slice(&b);
                lu.solve(&mut x).unwrap();
                black_box(&x);
            })
        });
        group.bench_with_input(
            BenchmarkId::new("rnndyn/solve_transpose", n),
            &n,
            |bch, _| {
                bch.iter(|| {
                    x.copy_from_slice(&b);
                    lu.solve_transpose(&mut x).unwrap();
                    black_box(&x);
                })
            },
        );

        let m = nalgebra::DMatrix::from_row_slice(n, n, &a);
        let nb = nalgebra::DVector::from_column_slice(&b);
        group.bench_with_input(BenchmarkId::new("nalgebra/lu", n), &n, |bch, _| {
            bch.iter(|| black_box(m.clone().lu()))
        });
        let nlu = m.clone().lu();
        group.bench_with_input(BenchmarkId::new("nalgebra/solve", n), &n, |bch, _| {
            bch.iter(|| black_box(nlu.solve(&nb)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_lu);
criterion_main!(benches);
