//! The analysis stages over a population store: fixed points and topology per network,
//! hidden-state collection, distance matrices (geometry and topology), embeddings, and
//! the quantitative findings. Each stage reads and writes the store, so it can run on
//! its own (`rnndyn fixed-points`, `rnndyn topology`, ...) or as part of `rnndyn run`.

use crate::analysis::{
    pairwise_distances, smacof, Matrix, Metric, SmacofOptions, SvccaOptions, Truncation,
};
use crate::config::{self, Experiment, NetworkSet};
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

/// Whether `[analysis] networks` puts a network into the population comparisons.
pub fn in_set(set: NetworkSet, r: &NetworkRecord) -> bool {
    !r.diverged && (set == NetworkSet::All || r.passed)
}

/// The networks the population comparisons (`analysis/` matrices, embeddings, findings)
/// are over, in the given order.
pub fn compared(records: &[NetworkRecord], set: NetworkSet) -> Vec<NetworkRecord> {
    records.iter().filter(|r| in_set(set, r)).cloned().collect()
}

/// "24 passing networks of 32", or "30 networks of 32 (24 passing)" when the set holds
/// networks that failed the task, or "0 of 32 networks": says in the report and figures
/// what was compared.
pub fn describe_set(compared: &[&NetworkRecord], total: usize) -> String {
    let passing = compared.iter().filter(|r| r.passed).count();
    let n = compared.len();
    let noun = if n == 1 { "network" } else { "networks" };
    if n == 0 {
        format!("0 of {total} networks")
    } else if passing == n {
        format!("{n} passing {noun} of {total}")
    } else {
        format!("{n} {noun} of {total} ({passing} passing)")
    }
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

/// Pairwise topological distances of the compared networks (`[analysis] networks` among
/// `records`) → `analysis/topology_distances.npy`.
pub fn topology_stage(
    exp: &Experiment,
    store: &Store,
    records: &[NetworkRecord],
) -> Result<Matrix, StageError> {
    let records = compared(records, exp.network_set);
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
    write_order(&dir, &records)?;
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

/// SVCCA and linear CKA distance matrices of the compared networks (`[analysis] networks`
/// among `records`) → `analysis/{svcca,cka}_distances.npy`; the probe activity of every
/// network in `records` is saved as `networks/<id>/activity.npy` (float32,
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
    let (chosen, acts): (Vec<NetworkRecord>, Vec<Matrix>) = records
        .iter()
        .zip(acts)
        .filter(|(r, _)| in_set(exp.network_set, r))
        .map(|(r, a)| (r.clone(), a))
        .unzip();
    // No compared network: empty matrices, so no stale rows from an earlier run remain.
    let (d_svcca, d_cka) = if acts.is_empty() {
        (Matrix::zeros(0, 0), Matrix::zeros(0, 0))
    } else {
        (
            pairwise_distances(&acts, &svcca)?,
            pairwise_distances(&acts, &Metric::LinearCka)?,
        )
    };
    let dir = store.analysis_dir()?;
    npy::write_matrix(dir.join("svcca_distances.npy"), &d_svcca)?;
    npy::write_matrix(dir.join("cka_distances.npy"), &d_cka)?;
    write_order(&dir, &chosen)?;
    Ok((d_svcca, d_cka))
}

/// A 2-D embedding of a distance matrix (SMACOF started from classical MDS) and its
/// stress-1. Up to two points embed exactly (origin; ±d/2 on the first axis), stress 0;
/// stress is `None` below two points, where there is nothing to fit.
pub fn embed(d: &Matrix) -> Result<(Matrix, Option<f64>), StageError> {
    let n = d.rows();
    if n >= 3 {
        let e = smacof(d, &SmacofOptions::default())?;
        return Ok((e.coords, Some(e.stress1)));
    }
    let mut xy = Matrix::zeros(n, 2);
    if n == 2 {
        let half = 0.5 * 0.5 * (d.get(0, 1) + d.get(1, 0));
        xy.set(0, 0, -half);
        xy.set(1, 0, half);
    }
    Ok((xy, (n == 2).then_some(0.0)))
}

/// [`embed`], saved as `analysis/mds_<name>.npy` (rows as in `analysis/networks.txt`).
pub fn embed_stage(
    store: &Store,
    name: &str,
    d: &Matrix,
) -> Result<(Matrix, Option<f64>), StageError> {
    let (xy, stress) = embed(d)?;
    npy::write_matrix(store.analysis_dir()?.join(format!("mds_{name}.npy")), &xy)?;
    Ok((xy, stress))
}

/// Mean silhouette score of a labelling under a precomputed distance matrix (Rousseeuw
/// 1987): near 1 = tight, separated clusters; near 0 = no structure. Points in singleton
/// clusters score 0. `None` (undefined) unless there are at least 2 clusters and fewer
/// clusters than points (as scikit-learn): with every point its own cluster, or one
/// cluster, there is nothing to compare.
pub fn silhouette(d: &Matrix, labels: &[usize]) -> Option<f64> {
    let n = labels.len();
    let mut distinct = labels.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 2 || distinct.len() >= n || d.rows() != n || d.cols() != n {
        return None;
    }
    let k = distinct.last().map_or(0, |m| m + 1);
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
    Some(total / n as f64)
}

/// Permutation test: fraction of `permutations` label shuffles whose silhouette is at
/// least the observed one (a p-value, seeded); `None` where the silhouette is undefined.
pub fn silhouette_p_value(
    d: &Matrix,
    labels: &[usize],
    permutations: usize,
    seed: u64,
) -> Option<f64> {
    let observed = silhouette(d, labels)?;
    let mut rng = Rng::new(seed);
    let mut perm = labels.to_vec();
    let mut hits = 0usize;
    for _ in 0..permutations {
        for i in (1..perm.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            perm.swap(i, j);
        }
        // A shuffle keeps the label counts, so its silhouette is defined too.
        if silhouette(d, &perm).is_some_and(|s| s >= observed - 1e-12) {
            hits += 1;
        }
    }
    Some((hits + 1) as f64 / (permutations + 1) as f64)
}

/// Which networks the findings are over.
#[derive(Clone, Debug, Serialize)]
pub struct ComparedSet {
    /// `[analysis] networks`: `passed` or `all` (non-diverged).
    pub rule: String,
    /// How many networks that is.
    pub count: usize,
    /// Ids in the row order of the `analysis/` matrices.
    pub ids: Vec<String>,
}

/// Sine (paper Fig. 4): over the passing networks with an input sweep, how many have at
/// (nearly) every frequency a fixed point whose leading complex mode is unstable, with arg λ
/// following ω. The thresholds are the ones `tests/tests.rs` holds trained networks to.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SineTracking {
    /// Passing networks with an input sweep.
    pub networks: usize,
    /// Networks with an unstable complex pair at ≥ 90 % of the frequencies and a Pearson
    /// correlation of arg λ with ω above 0.98 over those.
    pub tracking: usize,
    /// Median over the networks of each one's median (arg λ − ω) / ω: the linearisation's
    /// bias (positive: the linear rotation is faster than the limit cycle).
    pub median_relative_error: Option<f64>,
}

/// Integration (paper Fig. 5): over the passing networks with an input sweep, how many have
/// in both contexts a mode within 0.02 of |λ| = 1 (a time constant of 50 steps or more,
/// half a trial) at a fixed point, or at a slow point in a context without fixed points.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LineAttractors {
    /// Passing networks with an input sweep.
    pub networks: usize,
    /// Of those, the networks with a slow mode in both contexts.
    pub line_attractors: usize,
    /// Median over networks and contexts of the largest other modulus at that point.
    pub median_second_modulus: Option<f64>,
}

/// The quantitative findings of the study. Silhouettes, p-values and stresses are `None`
/// (JSON null) where undefined: too few networks or clusters, or a matrix missing.
#[derive(Clone, Debug, Serialize)]
pub struct Findings {
    /// Networks in the store.
    pub networks: usize,
    /// Of those, the ones that meet the task's success criterion.
    pub passed: usize,
    /// The networks the silhouettes, p-values and embeddings are over.
    pub compared: ComparedSet,
    /// Silhouette of the architecture labels under the SVCCA distances.
    pub silhouette_svcca_by_arch: Option<f64>,
    /// Silhouette of the activation labels under the SVCCA distances.
    pub silhouette_svcca_by_activation: Option<f64>,
    /// Silhouette of the architecture labels under the linear-CKA distances.
    pub silhouette_cka_by_arch: Option<f64>,
    /// Silhouette of the architecture labels under the topology distances.
    pub silhouette_topology_by_arch: Option<f64>,
    /// Silhouette of the activation labels under the topology distances.
    pub silhouette_topology_by_activation: Option<f64>,
    /// Permutation p-value (199 shuffles) of `silhouette_svcca_by_arch`.
    pub p_value_svcca_by_arch: Option<f64>,
    /// Permutation p-value (199 shuffles) of `silhouette_topology_by_arch`.
    pub p_value_topology_by_arch: Option<f64>,
    /// Flip-flop: passing networks whose topology is the canonical one (8 stable corners,
    /// flip logic for every pulse); `None` for other tasks.
    pub canonical_topology: Option<usize>,
    /// Sine: does the linearised oscillation follow ω (see [`SineTracking`]); `None` for
    /// other tasks.
    pub sine_frequency_tracking: Option<SineTracking>,
    /// Integration: line attractors in both contexts (see [`LineAttractors`]); `None` for
    /// other tasks.
    pub integration_line_attractors: Option<LineAttractors>,
    /// Passing networks whose dynamics analysis is in the store.
    pub passed_with_dynamics: usize,
    /// Kruskal stress-1 of the 2-D SMACOF embedding of the SVCCA distances.
    pub mds_stress1_svcca: Option<f64>,
    /// Kruskal stress-1 of the 2-D SMACOF embedding of the topology distances.
    pub mds_stress1_topology: Option<f64>,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, passed: bool, diverged: bool) -> NetworkRecord {
        NetworkRecord {
            id: id.into(),
            task: "flipflop".into(),
            arch: "gru".into(),
            activation: "tanh".into(),
            gru_convention: "reset-before".into(),
            hidden: 8,
            inputs: 3,
            outputs: 3,
            l2: 0.0,
            learning_rate: 1e-2,
            seed: 0,
            train_steps: 10,
            final_loss: 0.0,
            eval_mse: 0.0,
            eval_accuracy: 1.0,
            retention: 1.0,
            passed,
            diverged,
            diverged_at_step: None,
            train_seconds: 0.0,
            rnndyn_version: String::new(),
        }
    }

    /// Distances of points on a line.
    fn line(xs: &[f64]) -> Matrix {
        let n = xs.len();
        let d = (0..n * n).map(|k| (xs[k / n] - xs[k % n]).abs()).collect();
        Matrix::new(n, n, d).unwrap()
    }

    #[test]
    fn compared_set_follows_the_rule() {
        let recs = [
            record("pass", true, false),
            record("fail", false, false),
            record("diverged", false, true),
        ];
        let ids = |set| -> Vec<String> { compared(&recs, set).into_iter().map(|r| r.id).collect() };
        assert_eq!(ids(NetworkSet::Passed), ["pass"]);
        assert_eq!(ids(NetworkSet::All), ["pass", "fail"]);
        let refs: Vec<&NetworkRecord> = recs[..2].iter().collect();
        assert_eq!(describe_set(&refs[..1], 3), "1 passing network of 3");
        assert_eq!(describe_set(&refs, 3), "2 networks of 3 (1 passing)");
        assert_eq!(describe_set(&[], 3), "0 of 3 networks");
    }

    #[test]
    fn silhouette_is_undefined_without_two_real_clusters() {
        let d = line(&[0.0, 1.0]);
        // Two singleton clusters, or a single cluster: nothing to compare.
        assert_eq!(silhouette(&d, &[0, 1]), None);
        assert_eq!(silhouette(&d, &[0, 0]), None);
        assert_eq!(silhouette_p_value(&d, &[0, 1], 19, 1), None);
        assert_eq!(silhouette(&Matrix::zeros(0, 0), &[]), None);
        // Labels that do not match the matrix.
        assert_eq!(silhouette(&line(&[0.0, 1.0, 2.0]), &[0, 1]), None);
    }

    #[test]
    fn silhouette_scores_separated_clusters_near_one() {
        let d = line(&[0.0, 0.1, 0.2, 10.0, 10.1, 10.2]);
        let s = silhouette(&d, &[0, 0, 0, 1, 1, 1]).unwrap();
        assert!(s > 0.95, "{s}");
        // Interleaved labels on the same points: no structure.
        let s = silhouette(&d, &[0, 1, 0, 1, 0, 1]).unwrap();
        assert!(s < 0.1, "{s}");
        // Of the 70 labellings of 8 points into 4 + 4, 2 give the same split: p ≈ 0.03.
        let d = line(&[0.0, 0.1, 0.2, 0.3, 10.0, 10.1, 10.2, 10.3]);
        let p = silhouette_p_value(&d, &[0, 0, 0, 0, 1, 1, 1, 1], 199, 3).unwrap();
        assert!(p < 0.08, "{p}");
    }

    #[test]
    fn small_embeddings_are_exact() {
        let (xy, stress) = embed(&line(&[0.0, 3.0])).unwrap();
        assert_eq!(xy.shape(), (2, 2));
        let dx = xy.get(1, 0) - xy.get(0, 0);
        let dy = xy.get(1, 1) - xy.get(0, 1);
        assert!(((dx * dx + dy * dy).sqrt() - 3.0).abs() < 1e-12);
        assert_eq!(stress, Some(0.0));
        let (xy, stress) = embed(&line(&[5.0])).unwrap();
        assert_eq!((xy.shape(), xy.as_slice()), ((1, 2), &[0.0, 0.0][..]));
        assert_eq!(stress, None);
        let (xy, stress) = embed(&Matrix::zeros(0, 0)).unwrap();
        assert_eq!((xy.shape(), stress), ((0, 2), None));
    }
}
