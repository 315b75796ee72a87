//! Pairwise SVCCA and linear CKA distance matrices over 1000 networks of 2000 × 64
//! activity (499 500 pairs): one timed run each, on all cores (set `RAYON_NUM_THREADS`).
//! Too long for criterion's repeated sampling; the 100-network figures are in `geometry`.
//!
//! Run: `cargo bench -p rnndyn-benches --bench pairwise_1000` (≈ 4 minutes on 2 cores,
//! ≈ 3 GB of memory). `PAIRWISE_NETWORKS=200` runs a smaller population,
//! `PAIRWISE_METRICS=linear_cka` one metric.

use rnndyn::analysis::{pairwise_distances, Metric, SvccaOptions};
use rnndyn_benches::activity_population;
use std::time::Instant;

fn main() {
    let networks = std::env::var("PAIRWISE_NETWORKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000usize);
    let t = Instant::now();
    let pop = activity_population(networks, 2019);
    println!(
        "{networks} networks generated in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    // `PAIRWISE_METRICS=linear_cka` (comma-separated) runs a subset.
    let only = std::env::var("PAIRWISE_METRICS").ok();
    for (name, metric) in [
        ("svcca", Metric::Svcca(SvccaOptions::default())),
        ("linear_cka", Metric::LinearCka),
    ] {
        if only
            .as_deref()
            .is_some_and(|o| !o.split(',').any(|m| m == name))
        {
            continue;
        }
        let t = Instant::now();
        let d = pairwise_distances(&pop, &metric).expect("pairwise distances");
        let secs = t.elapsed().as_secs_f64();
        let mean = (0..networks)
            .flat_map(|i| (i + 1..networks).map(move |j| (i, j)))
            .map(|(i, j)| d.get(i, j))
            .sum::<f64>()
            / (networks * (networks - 1) / 2) as f64;
        println!("pairwise {name}: {secs:.2} s (mean distance {mean:.6})");
    }
}
