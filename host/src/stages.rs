//! The analysis stages over a population store: fixed points and topology per network,
//! hidden-state collection, distance matrices (geometry and topology), embeddings, and
//! the quantitative findings. Each stage reads and writes the store, so it can run on
//! its own (`rnndyn fixed-points`, `rnndyn topology`, ...) or as part of `rnndyn run`.

use crate::analysis::{
    pairwise_distances, smacof, Matrix, Metric, SmacofOptions, SvccaOptions, Truncation,
};
use crate::config::{self, Experiment};
use crate::dynamics::network::{
    self, load_topology, DynamicsSettings, DynamicsSummary, PROBE_STREAM,
};
use crate::dynamics::topology_distance;
use crate::model::{self, Model};
use crate::npy;
use crate::store::{self, NetworkRecord, Store};
use crate::task::TaskGen;
use rayon::prelude::*;
use rnndyn_core::Rng;
use serde::Serialize;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Any stage error, as text with context.
pub type StageError = Box<dyn std::error::Error + Send + Sync>;

/// Loads a stored network: its model and f64 parameters.
pub fn load_network(
    store: &Store,
    record: &NetworkRecord,
) -> Result<(Box<dyn Model>, Vec<f64>), StageError> {
    let spec = record
        .model_spec()
        .map_err(|e| format!("{}: {e}", store.network_dir(&record.id).display()))?;
    let model = model::build(&spec)?;
    let shapes = store::block_shapes(&model.blocks());
    let p = store.params_f64(&record.id, &shapes)?;
    Ok((model, p))
}

/// The experiment a store was made from.
pub fn store_experiment(store: &Store) -> Result<Experiment, StageError> {
    Ok(config::load(&store.experiment_path())?)
}

/// Networks that analyses use: trained and not diverged.
pub fn analysable(records: &[NetworkRecord]) -> Vec<NetworkRecord> {
    records.iter().filter(|r| !r.diverged).cloned().collect()
}

/// Fixed points, linearisation and topology of every network (resumable: networks with a
/// `dynamics.json` are skipped unless `force`). Returns (analysed now, skipped).
pub fn fixed_points_stage(
    exp: &Experiment,
    store: &Store,
    records: &[NetworkRecord],
    force: bool,
    cancel: &AtomicBool,
    say: &(dyn Fn(String) + Sync),
) -> Result<(usize, usize), StageError> {
    let settings = DynamicsSettings::from_experiment(exp);
    let todo: Vec<&NetworkRecord> = records
        .iter()
        .filter(|r| force || !store.network_dir(&r.id).join("dynamics.json").is_file())
        .collect();
    let skipped = records.len() - todo.len();
    let results: Vec<Result<bool, StageError>> = todo
        .par_iter()
        .map(|r| {
            if cancel.load(Ordering::Relaxed) {
                return Ok(false);
            }
            let (model, p) = load_network(store, r)?;
            let d = network::analyze(exp, model.as_ref(), &p, &settings)
                .map_err(|e| format!("{}: {e}", r.id))?;
            d.save(&store.network_dir(&r.id), &r.id)?;
            say(format!(
                "{:<40} fixed points {:>3}  by stability index {:?}  slow points {}",
                r.id,
                d.fixed_points.fixed_points.len(),
                d.fixed_points.count_by_index(),
                d.fixed_points.slow_points.len()
            ));
            Ok(true)
        })
        .collect();
    let mut done = 0;
    for r in results {
        done += r? as usize;
    }
    Ok((done, skipped))
}

/// Reads a network's `dynamics.json`: `None` if it has none (not analysed, e.g. diverged);
/// a file that exists but does not parse is a warning naming it, then `None`, so one bad
/// file leaves a visible gap in the report instead of stopping it.
pub fn dynamics_summary(store: &Store, id: &str) -> Option<DynamicsSummary> {
    let p = store.network_dir(id).join("dynamics.json");
    let text = std::fs::read_to_string(&p).ok()?;
    match serde_json::from_str(&text) {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!(
                "rnndyn: warning: {}: {e}; left out of the fixed-point tables (`rnndyn fixed-points {} --force` redoes it)",
                p.display(),
                store.root().display()
            );
            None
        }
    }
}

/// Writes `analysis/networks.txt`: the network order of every matrix in `analysis/`.
fn write_order(dir: &Path, records: &[NetworkRecord]) -> Result<(), StageError> {
    let text: String = records.iter().map(|r| format!("{}\n", r.id)).collect();
    store::write_atomic(&dir.join("networks.txt"), text.as_bytes())?;
    Ok(())
}

/// Pairwise topological distances → `analysis/topology_distances.npy`.
pub fn topology_stage(store: &Store, records: &[NetworkRecord]) -> Result<Matrix, StageError> {
    let tops: Vec<_> = records
        .par_iter()
        .map(|r| load_topology(&store.network_dir(&r.id)).map_err(|e| format!("{}: {e}", r.id)))
        .collect::<Result<_, _>>()?;
    let n = tops.len();
    let pairs: Vec<(usize, usize)> = (0..n)
        .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
        .collect();
    let vals: Vec<f64> = pairs
        .par_iter()
        .map(|&(i, j)| topology_distance(&tops[i], &tops[j], 0.5))
        .collect();
    let mut d = vec![0.0; n * n];
    for (&(i, j), &v) in pairs.iter().zip(&vals) {
        d[i * n + j] = v;
        d[j * n + i] = v;
    }
    let m = Matrix::new(n, n, d)?;
    let dir = store.analysis_dir()?;
    npy::write_matrix(dir.join("topology_distances.npy"), &m)?;
    write_order(&dir, records)?;
    Ok(m)
}

/// The shared probe trials of an experiment: inputs and targets, `(trials, T, ·)` flat.
pub fn probe_trials(exp: &Experiment) -> Result<(Vec<f64>, Vec<f64>), StageError> {
    let task = TaskGen::new(&exp.task)?;
    let (n, t) = (exp.analysis.probe_trials, exp.task.trial_steps);
    let mut xs = vec![0.0; n * t * task.inputs()];
    let mut ys = vec![0.0; n * t * task.outputs()];
    let mut rng = Rng::stream(exp.seed, PROBE_STREAM ^ 0x6E0);
    task.fill(&mut rng, n, t, &mut xs, &mut ys)?;
    Ok((xs, ys))
}

/// Hidden states of a network on the shared probe trials, `(trials · T) × S`
/// (S = N, or 2N for the LSTM's [h; c]).
pub fn activity(exp: &Experiment, model: &dyn Model, p: &[f64]) -> Result<Matrix, StageError> {
    let (n, t) = (exp.analysis.probe_trials, exp.task.trial_steps);
    let (xs, _) = probe_trials(exp)?;
    let states = crate::dynamics::fixed_points::trajectory_states(model, p, &xs, n, t)?;
    Ok(Matrix::new(n * t, model.state_dim(), states)?)
}

/// SVCCA and linear CKA distance matrices → `analysis/{svcca,cka}_distances.npy`; each
/// network's probe activity is saved as `networks/<id>/activity.npy` (float32,
/// `(trials · T, S)`), the probe inputs and targets as `analysis/probe_{inputs,targets}.npy`
/// (`(trials, T, I)`, `(trials, T, O)`).
pub fn geometry_stage(
    exp: &Experiment,
    store: &Store,
    records: &[NetworkRecord],
) -> Result<(Matrix, Matrix), StageError> {
    let (xs, ys) = probe_trials(exp)?;
    let (n, t) = (exp.analysis.probe_trials, exp.task.trial_steps);
    let dir = store.analysis_dir()?;
    npy::write_array(
        dir.join("probe_inputs.npy"),
        &[n, t, exp.task.kind.inputs()],
        &xs,
    )?;
    npy::write_array(
        dir.join("probe_targets.npy"),
        &[n, t, exp.task.kind.outputs()],
        &ys,
    )?;
    let acts: Vec<Matrix> = records
        .par_iter()
        .map(|r| -> Result<Matrix, StageError> {
            let (model, p) = load_network(store, r)?;
            let a = activity(exp, model.as_ref(), &p)?;
            let f: Vec<f32> = a.as_slice().iter().map(|&v| v as f32).collect();
            npy::write_array(
                store.network_dir(&r.id).join("activity.npy"),
                &[a.rows(), a.cols()],
                &f,
            )?;
            Ok(a)
        })
        .collect::<Result<_, _>>()?;
    let svcca = Metric::Svcca(SvccaOptions {
        truncation: Truncation::VarianceFraction(exp.analysis.svcca_variance),
        epsilon: 1e-10,
    });
    let d_svcca = pairwise_distances(&acts, &svcca)?;
    let d_cka = pairwise_distances(&acts, &Metric::LinearCka)?;
    let dir = store.analysis_dir()?;
    npy::write_matrix(dir.join("svcca_distances.npy"), &d_svcca)?;
    npy::write_matrix(dir.join("cka_distances.npy"), &d_cka)?;
    write_order(&dir, records)?;
    Ok((d_svcca, d_cka))
}

/// 2-D embeddings (SMACOF started from classical MDS) → `analysis/mds_<name>.npy`.
pub fn embed_stage(store: &Store, name: &str, d: &Matrix) -> Result<(Matrix, f64), StageError> {
    let n = d.rows();
    let coords = if n >= 3 {
        let e = smacof(d, &SmacofOptions::default())?;
        (e.coords, e.stress1)
    } else {
        (Matrix::new(n, 2, vec![0.0; n * 2])?, 0.0)
    };
    npy::write_matrix(
        store.analysis_dir()?.join(format!("mds_{name}.npy")),
        &coords.0,
    )?;
    Ok(coords)
}

/// Mean silhouette score of a labelling under a precomputed distance matrix (Rousseeuw
/// 1987): near 1 = tight, separated clusters; near 0 = no structure. Points in singleton
/// clusters score 0.
pub fn silhouette(d: &Matrix, labels: &[usize]) -> f64 {
    let n = labels.len();
    if n < 2 {
        return 0.0;
    }
    let k = labels.iter().max().map(|m| m + 1).unwrap_or(0);
    if k < 2 {
        return 0.0;
    }
    let mut total = 0.0;
    for i in 0..n {
        let mut sum = vec![0.0; k];
        let mut cnt = vec![0usize; k];
        for j in 0..n {
            if i != j {
                sum[labels[j]] += d.get(i, j);
                cnt[labels[j]] += 1;
            }
        }
        let own = labels[i];
        if cnt[own] == 0 {
            continue;
        }
        let a = sum[own] / cnt[own] as f64;
        let b = (0..k)
            .filter(|&c| c != own && cnt[c] > 0)
            .map(|c| sum[c] / cnt[c] as f64)
            .fold(f64::INFINITY, f64::min);
        if b.is_finite() {
            let m = a.max(b);
            total += if m > 0.0 { (b - a) / m } else { 0.0 };
        }
    }
    total / n as f64
}

/// Permutation test: fraction of `permutations` label shuffles whose silhouette is at
/// least the observed one (a p-value, seeded).
pub fn silhouette_p_value(d: &Matrix, labels: &[usize], permutations: usize, seed: u64) -> f64 {
    let observed = silhouette(d, labels);
    let mut rng = Rng::new(seed);
    let mut perm = labels.to_vec();
    let mut hits = 0usize;
    for _ in 0..permutations {
        for i in (1..perm.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            perm.swap(i, j);
        }
        if silhouette(d, &perm) >= observed - 1e-12 {
            hits += 1;
        }
    }
    (hits + 1) as f64 / (permutations + 1) as f64
}

/// The quantitative findings of the study.
#[derive(Clone, Debug, Serialize)]
pub struct Findings {
    pub networks: usize,
    pub passed: usize,
    pub silhouette_svcca_by_arch: f64,
    pub silhouette_svcca_by_activation: f64,
    pub silhouette_cka_by_arch: f64,
    pub silhouette_topology_by_arch: f64,
    pub silhouette_topology_by_activation: f64,
    pub p_value_svcca_by_arch: f64,
    pub p_value_topology_by_arch: f64,
    /// Flip-flop: passing networks whose topology is the canonical one (8 stable corners,
    /// flip logic for every pulse); `None` for other tasks.
    pub canonical_topology: Option<usize>,
    pub passed_with_dynamics: usize,
    pub mds_stress1_svcca: f64,
    pub mds_stress1_topology: f64,
}

/// Category indices of a string attribute (sorted category order).
pub fn categories(values: &[String]) -> Vec<usize> {
    let mut cats: Vec<&String> = values.iter().collect();
    cats.sort();
    cats.dedup();
    values
        .iter()
        .map(|v| cats.iter().position(|c| *c == v).unwrap_or(0))
        .collect()
}
