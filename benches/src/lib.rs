//! Bench helpers shared by the bench targets.

use rnndyn::analysis::Matrix;
use rnndyn_core::Rng;

/// Rows (probe datapoints) and units of each network's activity.
pub const ROWS: usize = 2000;
pub const UNITS: usize = 64;
const LATENT: usize = 10;

/// Seeded activity of `networks` networks: shared probe latents `Z` (2000 × 10, standard
/// normal), per network `tanh(Z W_i / √10) + 0.05 ε` with `W_i` (10 × 64) and `ε` standard
/// normal. The NumPy peer (`benches/peers/geometry_numpy.py`) draws the same distributions.
pub fn activity_population(networks: usize, seed: u64) -> Vec<Matrix> {
    let mut rng = Rng::new(seed);
    let z: Vec<f64> = (0..ROWS * LATENT).map(|_| rng.normal()).collect();
    (0..networks)
        .map(|i| {
            let mut r = Rng::stream(seed, i as u64 + 1);
            let w: Vec<f64> = (0..LATENT * UNITS)
                .map(|_| r.normal() / (LATENT as f64).sqrt())
                .collect();
            Matrix::from_fn(ROWS, UNITS, |t, u| {
                let s: f64 = (0..LATENT)
                    .map(|k| z[t * LATENT + k] * w[k * UNITS + u])
                    .sum();
                s.tanh() + 0.05 * r.normal()
            })
        })
        .collect()
}
