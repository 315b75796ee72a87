//! Cross-crate integration tests of the `rnndyn` library: one binary.
//!
//! Index:
//! - `config_*`: bad experiment files give specific errors naming the key and value; the
//!   printed default round-trips; `[analysis] networks` defaults to `passed`.
//! - `store_*`: the population store rejects corrupt files and other versions.
//! - `population_*`: thread-count independence (training and every analysis stage), the
//!   same trained bits on every build (AVX-512, AVX2, SSE2), divergence recorded per
//!   network.
//! - `flipflop_*`: every architecture × activation learns the 3-bit flip-flop; every
//!   passing network has the canonical topology (8 stable corners, flip logic, saddles
//!   between neighbouring corners); fixed points are refined to residual ≤ 1e-10.
//! - `sine_*`, `integration_*`: the other two tasks learn, and their input-dependent fixed
//!   points have the expected linearisation (oscillation angle ≈ ω; a line attractor).
//! - `topology_distance_*`: zero for a network with itself and a unit-permuted copy,
//!   symmetric, small between solutions of the same task.
//!
//! Trained populations are shared between tests through `OnceLock`s (trained once per run).

use rnndyn::config::{self, Experiment};
use rnndyn::dynamics::network::{analyze, load_topology, DynamicsSettings};
use rnndyn::dynamics::topology::{
    check_flipflop_canonical, corner_distance, saddle_connections, topology_distance,
};
use rnndyn::population::{train_population, TrainOptions};
use rnndyn::stages;
use rnndyn::store::Store;
use rnndyn_core::task::{Integration, IntegrationParams};
use rnndyn_core::{Rng, Task};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::OnceLock;

/// A fresh directory under cargo's per-target temporary dir.
fn temp_dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("rnndyn-tests-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// An experiment file: the given sweep, everything else default.
fn experiment_toml(
    task: &str,
    archs: &[&str],
    acts: &[&str],
    sizes: &[usize],
    seeds: u64,
    steps: u64,
    lr: f64,
) -> String {
    let list = |v: &[&str]| {
        v.iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let sizes = sizes
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "seed = 1\n[task]\nkind = \"{task}\"\ntrial_steps = 100\n\
         [population]\narchitectures = [{}]\nactivations = [{}]\nhidden_sizes = [{sizes}]\nl2 = [0.0]\n\
         learning_rates = [{lr:e}]\nseeds = {seeds}\ngru_convention = \"reset-before\"\n\
         [training]\nsteps = {steps}\nbatch = 64\nclip_norm = 10.0\nschedule = \"constant\"\ndecay = 0.5\n\
         decay_steps = 1000\neval_trials = 64\nrecurrent_gain = 1.0\nrecurrent_init = \"normal\"\ngate_bias = 1.0\n\
         [analysis]\nfixed_point_starts = 128\nstart_noise = 0.05\nresidual_tolerance = 1e-10\nprobe_trials = 16\nsvcca_variance = 0.99\n",
        list(archs),
        list(acts)
    )
}

/// Trains an experiment into a fresh store and returns both.
fn train(name: &str, toml: &str, threads: usize) -> (Experiment, Store) {
    let exp = config::parse(toml, name).unwrap();
    let dir = temp_dir(name);
    let store = Store::create(&dir, toml).unwrap();
    let opts = TrainOptions {
        threads: Some(threads),
        shard: None,
        progress: false,
    };
    let summary = train_population(&exp, &store, &opts, &AtomicBool::new(false)).unwrap();
    assert_eq!(summary.trained, exp.networks.len());
    (exp, store)
}

// ----------------------------------------------------------------------------- config

fn config_error(toml: &str) -> String {
    config::parse(toml, "bad.toml")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_else(|| panic!("accepted:\n{toml}"))
}

#[test]
fn config_unknown_key_is_named() {
    let e = config_error("[training]\nstepz = 3\n");
    assert!(e.contains("bad.toml") && e.contains("stepz"), "{e}");
}

#[test]
fn config_unknown_architecture_is_named() {
    let t = experiment_toml(
        "flipflop",
        &["gru", "transformer"],
        &["tanh"],
        &[8],
        1,
        10,
        1e-3,
    );
    let e = config_error(&t);
    assert!(
        e.contains("population.architectures[1]") && e.contains("transformer"),
        "{e}"
    );
}

#[test]
fn config_negative_size_is_named() {
    let t = experiment_toml("flipflop", &["gru"], &["tanh"], &[8], 1, 10, 1e-3)
        .replace("hidden_sizes = [8]", "hidden_sizes = [-3]");
    let e = config_error(&t);
    assert!(
        e.contains("population.hidden_sizes[0]") && e.contains("-3"),
        "{e}"
    );
}

#[test]
fn config_unsupported_size_lists_supported_ones() {
    let t = experiment_toml("flipflop", &["gru"], &["tanh"], &[7], 1, 10, 1e-3);
    let e = config_error(&t);
    assert!(
        e.contains("hidden_sizes[0]") && e.contains("supported"),
        "{e}"
    );
}

#[test]
fn config_empty_sweep_is_an_error() {
    let t = experiment_toml("flipflop", &[], &["tanh"], &[8], 1, 10, 1e-3);
    let e = config_error(&t);
    assert!(
        e.contains("population.architectures") && e.contains("empty"),
        "{e}"
    );
    let t = experiment_toml("flipflop", &["gru"], &["tanh"], &[8], 0, 10, 1e-3);
    assert!(config_error(&t).contains("population.seeds"));
}

#[test]
fn config_wrong_type_is_named() {
    let e = config_error("[training]\nsteps = \"many\"\n");
    assert!(e.contains("bad.toml") && e.contains("steps"), "{e}");
}

#[test]
fn config_unknown_task_is_named() {
    let e = config_error("[task]\nkind = \"chess\"\ntrial_steps = 10\n");
    assert!(e.contains("task.kind") && e.contains("chess"), "{e}");
}

#[test]
fn config_sections_the_task_does_not_use_are_still_checked() {
    // A flip-flop experiment with a bad sine, integration or schedule setting: the value
    // would only bite after switching `kind` or `schedule`, so it is refused now.
    let t = experiment_toml("flipflop", &["gru"], &["tanh"], &[8], 1, 10, 1e-3);
    assert!(config::parse(&t, "ok.toml").is_ok());
    for (section, line, key, value) in [
        (
            "[task.sine]",
            "min_omega = -0.1",
            "task.sine.min_omega",
            "-0.1",
        ),
        ("[task.sine]", "max_omega = 4.0", "task.sine.max_omega", "4"),
        (
            "[task.sine]",
            "frequencies = 0",
            "task.sine.frequencies",
            "0",
        ),
        (
            "[task.integration]",
            "noise_std = -1.0",
            "task.integration.noise_std",
            "-1",
        ),
        (
            "[task.flipflop]",
            "pulse_probability = 0.0",
            "pulse_probability",
            "0",
        ),
    ] {
        let bad = format!("{t}\n{section}\n{line}\n");
        let e = config_error(&bad);
        assert!(e.contains(key) && e.contains(value), "{line}: {e}");
    }
    let bad = t.replace("decay = 0.5\n", "decay = 0.0\n");
    let e = config_error(&bad);
    assert!(e.contains("training.decay") && e.contains('0'), "{e}");
}

#[test]
fn config_analysis_networks_is_checked_and_defaults_to_passed() {
    let e = config_error("[analysis]\nnetworks = \"some\"\n");
    assert!(
        e.contains("bad.toml") && e.contains("analysis.networks") && e.contains("some"),
        "{e}"
    );
    // An experiment written before the key existed (a store's experiment.toml) still loads.
    let t = experiment_toml("flipflop", &["gru"], &["tanh"], &[8], 1, 10, 1e-3);
    assert!(!t.contains("networks ="));
    let exp = config::parse(&t, "old.toml").unwrap();
    assert_eq!(exp.network_set, config::NetworkSet::Passed);
    let all = t.replace("[analysis]\n", "[analysis]\nnetworks = \"all\"\n");
    let exp = config::parse(&all, "all.toml").unwrap();
    assert_eq!(exp.network_set, config::NetworkSet::All);
}

#[test]
fn config_default_round_trips() {
    let text = config::default_toml();
    let exp = config::parse(&text, "default").unwrap();
    assert_eq!(exp.raw, config::default_raw());
    assert!(!exp.networks.is_empty());
}

#[test]
fn config_paper_scale_population_is_480_networks() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../configs/paper-flipflop-480.toml");
    let exp = config::load(&path).unwrap();
    assert_eq!(exp.networks.len(), 4 * 2 * 3 * 2 * 10);
}

// ----------------------------------------------------------------------------- store

#[test]
fn store_rejects_other_versions_and_non_stores() {
    let dir = temp_dir("version");
    Store::create(&dir, "").unwrap();
    let marker = dir.join("store.json");
    let text = std::fs::read_to_string(&marker)
        .unwrap()
        .replace("\"version\": 1", "\"version\": 99");
    std::fs::write(&marker, text).unwrap();
    let e = Store::open(&dir).unwrap_err().to_string();
    assert!(e.contains("version 99") && e.contains("store.json"), "{e}");
    let e = Store::open(&temp_dir("not-a-store"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("not an rnndyn store"), "{e}");
}

#[test]
fn store_corrupt_params_name_the_file() {
    let t = experiment_toml("flipflop", &["vanilla"], &["tanh"], &[4], 1, 3, 1e-3);
    let (_, store) = train("corrupt", &t, 1);
    let rec = store.records().unwrap().remove(0);
    let p = store.network_dir(&rec.id).join("params.npz");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let e = stages::load_network(&store, &rec)
        .err()
        .expect("truncated file accepted")
        .to_string();
    assert!(e.contains("params.npz"), "{e}");
}

#[test]
fn store_nan_weights_are_rejected() {
    let t = experiment_toml("flipflop", &["vanilla"], &["tanh"], &[4], 1, 3, 1e-3);
    let (_, store) = train("nan-weights", &t, 1);
    let rec = store.records().unwrap().remove(0);
    let dir = store.network_dir(&rec.id);
    let (model, p) = stages::load_network(&store, &rec).unwrap();
    let mut named = rnndyn::store::named_params(
        &model.blocks(),
        &p.iter().map(|&v| v as f32).collect::<Vec<_>>(),
    );
    named.arrays[0].2[0] = f32::NAN;
    rnndyn::store::write_npz(&dir.join("params.npz"), &named).unwrap();
    let e = stages::load_network(&store, &rec)
        .err()
        .expect("NaN accepted")
        .to_string();
    assert!(e.contains("params.npz") && e.contains("non-finite"), "{e}");
}

// ----------------------------------------------------------------------------- population

#[test]
fn population_is_independent_of_thread_count() {
    let t = experiment_toml("flipflop", &["gru", "lstm"], &["tanh"], &[8], 2, 20, 1e-2);
    let (_, a) = train("threads1", &t, 1);
    let (_, b) = train("threads2", &t, 2);
    let ca = std::fs::read_to_string(a.root().join("catalog.csv")).unwrap();
    let cb = std::fs::read_to_string(b.root().join("catalog.csv")).unwrap();
    assert_eq!(ca, cb);
    for r in a.records().unwrap() {
        let (m, pa) = stages::load_network(&a, &r).unwrap();
        let (_, pb) = stages::load_network(&b, &r).unwrap();
        assert_eq!(pa, pb, "{}", r.id);
        assert_eq!(pa.len(), m.param_count());
    }

    // The analysis stages (parallel over networks and over starts) give the same bits on
    // one thread and on two: every array of fixed_points.npz and of analysis/.
    let mut exp = config::parse(&t, "threads").unwrap();
    exp.network_set = config::NetworkSet::All; // 20 steps: nothing passes yet
    let analyse = |store: &Store, threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let recs = store.records().unwrap();
            stages::fixed_points_stage(&exp, store, &recs, false, &AtomicBool::new(false), &|_| {})
                .unwrap();
            stages::topology_stage(&exp, store, &recs).unwrap();
            stages::geometry_stage(&exp, store, &recs).unwrap();
        });
    };
    analyse(&a, 1);
    analyse(&b, 2);
    let arrays = |path: &std::path::Path| {
        rnndyn::npy::npz_names(path)
            .unwrap()
            .into_iter()
            .map(|n| {
                let (shape, v) = rnndyn::npy::read_npz_shaped(path, &n).unwrap();
                (n, shape, v.iter().map(|x| x.to_bits()).collect::<Vec<_>>())
            })
            .collect::<Vec<_>>()
    };
    let mut compared = 0;
    for r in a.records().unwrap() {
        let fa = a.network_dir(&r.id).join("fixed_points.npz");
        let fb = b.network_dir(&r.id).join("fixed_points.npz");
        let (xa, xb) = (arrays(&fa), arrays(&fb));
        assert!(
            xa.iter().any(|(n, _, _)| n.starts_with("states")),
            "{}",
            r.id
        );
        assert_eq!(xa, xb, "{}: fixed_points.npz", r.id);
        compared += 1;
    }
    for name in ["topology_distances", "svcca_distances", "cka_distances"] {
        let f = |s: &Store| {
            let m =
                rnndyn::npy::read_matrix(s.root().join(format!("analysis/{name}.npy"))).unwrap();
            (
                m.rows(),
                m.as_slice().iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            )
        };
        let (ma, mb) = (f(&a), f(&b));
        assert_eq!(ma.0, 4, "{name}");
        assert_eq!(ma, mb, "{name}");
        compared += 1;
    }
    assert_eq!(compared, 4 + 3);
}

/// FNV-1a (64 bit) of every trained parameter's bits, network by network, for
/// [`population_bits_are_the_same_on_every_build`].
fn parameter_fingerprint(store: &Store) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    for r in store.records().unwrap() {
        let (_, p) = stages::load_network(store, &r).unwrap();
        eat(r.id.as_bytes());
        for v in p {
            eat(&v.to_bits().to_le_bytes());
        }
    }
    h
}

/// Training gives the same bits whatever the CPU features the host build was compiled for
/// (`.cargo/config.toml` compiles for the building machine): the kernels never reassociate
/// or contract, so SIMD width does not change a result. The constant was computed on a
/// Zen 5 with the default (`target-cpu=native`, AVX-512) build and checked with
/// `RUSTFLAGS="-C target-cpu=x86-64-v3"` (AVX2) and `RUSTFLAGS=""` (SSE2) builds. A change
/// of the training numerics changes it on purpose: update it from the failure message.
#[test]
fn population_bits_are_the_same_on_every_build() {
    let t = experiment_toml(
        "flipflop",
        &["vanilla", "ugrnn", "gru", "lstm"],
        &["tanh", "relu"],
        &[8],
        1,
        30,
        1e-2,
    );
    let (_, store) = train("bits", &t, 2);
    let got = parameter_fingerprint(&store);
    assert_eq!(
        got, 0x6675_95ad_02cf_bcd7,
        "parameter fingerprint {got:#018x}"
    );
}

#[test]
fn population_records_divergence_and_goes_on() {
    // A huge learning rate without clipping blows a ReLU network up.
    let t = experiment_toml(
        "flipflop",
        &["vanilla"],
        &["relu", "tanh"],
        &[8],
        1,
        30,
        1e3,
    )
    .replace("clip_norm = 10.0", "clip_norm = 0.0");
    let (_, store) = train("diverge", &t, 2);
    let recs = store.records().unwrap();
    assert_eq!(recs.len(), 2, "both networks are in the store");
    let relu = recs.iter().find(|r| r.activation == "relu").unwrap();
    assert!(
        relu.diverged && relu.diverged_at_step.is_some() && !relu.passed,
        "{relu:?}"
    );
    let catalog = std::fs::read_to_string(store.root().join("catalog.csv")).unwrap();
    assert!(catalog.contains("true"), "{catalog}");
}

// ----------------------------------------------------------------------------- flip-flop

/// A vanilla tanh network of 4 units (3 used, one per bit, no coupling): unit k gets
/// `u · pulse k`, keeps `a` times its state, and output k reads it with gain `g`.
fn one_unit_per_bit(a: f64, u: f64, g: f64) -> (Box<dyn rnndyn::model::Model>, Vec<f64>) {
    let spec = rnndyn::model::ModelSpec {
        arch: rnndyn::model::Arch::Vanilla,
        activation: rnndyn_core::Activation::Tanh,
        gru_convention: rnndyn_core::GruConvention::ResetBeforeProduct,
        hidden: 4,
        inputs: 3,
        outputs: 3,
    };
    let model = rnndyn::model::build(&spec).unwrap();
    let mut p = Vec::new();
    for b in model.blocks() {
        let mut block = vec![0.0; b.rows * b.cols];
        for k in 0..3 {
            match b.name {
                "W" => block[k * b.cols + k] = a,
                "U" => block[k * b.cols + k] = u,
                "Wo" => block[k * b.cols + k] = g,
                _ => {}
            }
        }
        p.extend(block);
    }
    assert_eq!(p.len(), model.param_count());
    (model, p)
}

#[test]
fn flipflop_retention_tells_attractors_from_leaky_memories() {
    use rnndyn::population::flipflop_retention;
    // a = 1.5: each unit has two stable states h* = tanh(1.5 h*) ≈ ±0.8586 (attractors).
    let (bistable, p) = one_unit_per_bit(1.5, 2.0, 1.0 / 0.8586);
    assert_eq!(flipflop_retention(bistable.as_ref(), &p, 3, 1000), 1.0);
    // a = 0.99 in tanh's linear range: the memory leaks ≈ 1 % a step, and the output
    // (gain 10) starts at ≈ 1. It holds for 20 steps ...
    let (leaky, p) = one_unit_per_bit(0.99, 0.1, 10.0);
    assert_eq!(flipflop_retention(leaky.as_ref(), &p, 3, 20), 1.0);
    // ... but not for 1000 steps: no corner is held.
    assert_eq!(flipflop_retention(leaky.as_ref(), &p, 3, 1000), 0.0);
}

/// Every architecture × activation at N = 64 (the paper's smallest size), trained once:
/// documented budget 1000 steps of Adam at lr 5e-3, batch 64, T = 100.
fn flipflop_population() -> &'static (Experiment, Store) {
    static P: OnceLock<(Experiment, Store)> = OnceLock::new();
    P.get_or_init(|| {
        let t = experiment_toml(
            "flipflop",
            &["vanilla", "ugrnn", "gru", "lstm"],
            &["tanh", "relu"],
            &[64],
            1,
            1000,
            5e-3,
        );
        let (exp, store) = train("flipflop", &t, 2);
        let records = store.records().unwrap();
        stages::fixed_points_stage(
            &exp,
            &store,
            &records,
            false,
            &AtomicBool::new(false),
            &|_| {},
        )
        .unwrap();
        (exp, store)
    })
}

#[test]
fn flipflop_every_architecture_and_activation_learns() {
    let (_, store) = flipflop_population();
    for r in store.records().unwrap() {
        assert!(
            r.passed && r.eval_mse < 0.01 && r.retention == 1.0,
            "{} eval MSE {}, retention {} (diverged {})",
            r.id,
            r.eval_mse,
            r.retention,
            r.diverged
        );
    }
}

#[test]
fn flipflop_passing_networks_have_the_canonical_topology() {
    let (_, store) = flipflop_population();
    let passing: Vec<_> = store
        .records()
        .unwrap()
        .into_iter()
        .filter(|r| r.passed)
        .collect();
    assert_eq!(passing.len(), 8);
    for r in &passing {
        let s = stages::dynamics_summary(store, &r.id).unwrap();
        assert!(
            s.max_residual <= 1e-10,
            "{}: residual {}",
            r.id,
            s.max_residual
        );
        let t = load_topology(&store.network_dir(&r.id)).unwrap();
        check_flipflop_canonical(&t, 3).unwrap_or_else(|e| panic!("{}: {e}", r.id));
        // Saddles with one unstable direction connect neighbouring corners.
        let mut checked = 0;
        for (node, targets) in saddle_connections(&t) {
            let corners: Vec<&String> = targets.iter().filter(|l| l.starts_with("0:")).collect();
            if corners.len() == 2 && targets.len() == 2 {
                assert_eq!(
                    corner_distance(corners[0], corners[1]),
                    Some(1),
                    "{}: saddle {node} joins {corners:?}",
                    r.id
                );
                checked += 1;
            }
        }
        assert!(checked >= 1, "{}: no saddle between two corners", r.id);
    }
}

#[test]
fn flipflop_topology_distance_properties() {
    let (exp, store) = flipflop_population();
    let recs: Vec<_> = store
        .records()
        .unwrap()
        .into_iter()
        .filter(|r| r.passed)
        .collect();
    let tops: Vec<_> = recs
        .iter()
        .map(|r| load_topology(&store.network_dir(&r.id)).unwrap())
        .collect();
    for a in &tops {
        assert_eq!(topology_distance(a, a, 0.5), 0.0);
        for b in &tops {
            let (ab, ba) = (topology_distance(a, b, 0.5), topology_distance(b, a, 0.5));
            assert!((ab - ba).abs() < 1e-15);
            // Solutions of one task share the canonical stable-corner structure.
            assert!(ab < 0.5, "distance {ab} between two solutions");
        }
    }
    // A unit-permuted copy of a vanilla network has the same topology.
    let r = recs.iter().find(|r| r.arch == "vanilla").unwrap();
    let (model, p) = stages::load_network(store, r).unwrap();
    let n = model.spec().hidden;
    let perm: Vec<usize> = (0..n).map(|i| (i * 7 + 3) % n).collect(); // 7 is coprime with 64
    let mut q = p.clone();
    let (w, u, b, wo) = (0, n * n, n * n + 3 * n, n * n + 3 * n + n);
    for i in 0..n {
        for j in 0..n {
            q[w + perm[i] * n + perm[j]] = p[w + i * n + j];
        }
        for k in 0..3 {
            q[u + k * n + perm[i]] = p[u + k * n + i];
            q[wo + perm[i] * 3 + k] = p[wo + i * 3 + k];
        }
        q[b + perm[i]] = p[b + i];
    }
    let mut settings = DynamicsSettings::from_experiment(exp);
    // No start noise: the permuted network's starts are then exactly the permuted starts.
    settings.fixed_points.start_noise = 0.0;
    let original = analyze(exp, model.as_ref(), &p, &settings).unwrap();
    let permuted = analyze(exp, model.as_ref(), &q, &settings).unwrap();
    assert_eq!(
        topology_distance(&original.topology, &permuted.topology, 0.5),
        0.0
    );
}

// ----------------------------------------------------------------------------- sine, integration

/// Documented budgets of the sine and integration test populations (vanilla and GRU, tanh,
/// N = 32, one seed, batch 64, T = 100). Sine: 3000 steps at a constant learning rate of
/// 1e-3 (at 1e-2 the vanilla network stays at MSE ≈ 0.5; at 1e-3 it passes within ≈ 400
/// steps, GRU within ≈ 250). Integration: 5000 steps at 3e-3, halved every 1500 steps
/// (a constant 1e-2 leaves vanilla at the zero-output MSE).
const SINE_STEPS: u64 = 3000;
const SINE_LEARNING_RATE: f64 = 1e-3;
const INTEGRATION_STEPS: u64 = 5000;
const INTEGRATION_LEARNING_RATE: f64 = 3e-3;

fn other_task_population(
    task: &'static str,
    steps: u64,
    lr: f64,
    decay: bool,
) -> (Experiment, Store) {
    let mut t = experiment_toml(task, &["vanilla", "gru"], &["tanh"], &[32], 1, steps, lr);
    if decay {
        t = t
            .replace("schedule = \"constant\"", "schedule = \"exponential\"")
            .replace("decay_steps = 1000", "decay_steps = 1500");
        assert!(t.contains("exponential") && t.contains("decay_steps = 1500"));
    }
    let (exp, store) = train(task, &t, 2);
    let records = store.records().unwrap();
    stages::fixed_points_stage(
        &exp,
        &store,
        &records,
        false,
        &AtomicBool::new(false),
        &|_| {},
    )
    .unwrap();
    (exp, store)
}

fn sine_population() -> &'static (Experiment, Store) {
    static P: OnceLock<(Experiment, Store)> = OnceLock::new();
    P.get_or_init(|| other_task_population("sine", SINE_STEPS, SINE_LEARNING_RATE, false))
}

fn integration_population() -> &'static (Experiment, Store) {
    static P: OnceLock<(Experiment, Store)> = OnceLock::new();
    P.get_or_init(|| {
        other_task_population(
            "integration",
            INTEGRATION_STEPS,
            INTEGRATION_LEARNING_RATE,
            true,
        )
    })
}

#[test]
fn sine_gru_and_vanilla_learn() {
    let (exp, store) = sine_population();
    assert_eq!(exp.task.max_eval_mse, 0.05);
    let records = store.records().unwrap();
    assert_eq!(records.len(), 2);
    for r in records {
        assert!(
            r.eval_mse < exp.task.max_eval_mse,
            "{}: eval MSE {}",
            r.id,
            r.eval_mse
        );
    }
}

/// The linearised angle overestimates ω: the limit cycle saturates the units, which slows
/// it relative to the linear rotation at its unstable centre. Measured on trained vanilla
/// and GRU networks: +3 % … +46 %, largest at the slowest frequencies (under two periods
/// in a trial). The test asks for what the design states — one unstable complex pair per
/// input whose angle tracks ω — with that bias bounded.
const SINE_ANGLE_MAX_RELATIVE_ERROR: f64 = 0.6;
/// Least Pearson correlation between the angle and ω across the 51 inputs (0.98, the
/// report's threshold for a network that tracks ω).
const SINE_ANGLE_MIN_CORRELATION: f64 = rnndyn::report::SINE_MIN_CORRELATION;

#[test]
fn sine_oscillation_angle_tracks_the_commanded_frequency() {
    let (_, store) = sine_population();
    for r in store.records().unwrap().iter() {
        assert!(r.passed, "{}", r.id);
        let s = stages::dynamics_summary(store, &r.id).unwrap();
        assert_eq!(s.sweep.len(), 51, "{}: one entry per frequency", r.id);
        let pts = rnndyn::report::sine_angles(&s);
        assert!(
            pts.len() * 10 >= s.sweep.len() * 9,
            "{}: only {} of {} inputs have an unstable complex pair",
            r.id,
            pts.len(),
            s.sweep.len()
        );
        for &(omega, angle) in &pts {
            assert!(
                ((angle - omega) / omega).abs() < SINE_ANGLE_MAX_RELATIVE_ERROR,
                "{}: angle {angle} vs omega {omega}",
                r.id
            );
        }
        let corr = rnndyn::report::correlation(&pts);
        assert!(
            corr > SINE_ANGLE_MIN_CORRELATION,
            "{}: correlation of angle with omega {corr}",
            r.id
        );
    }
    // The report's finding counts the same networks as tracking ω.
    let f = rnndyn::report::findings(store, &store.records().unwrap()).unwrap();
    let t = f
        .sine_frequency_tracking
        .expect("a sine store has the finding");
    assert_eq!((t.networks, t.tracking), (2, 2), "{t:?}");
    let bias = t.median_relative_error.unwrap();
    assert!(bias.abs() < SINE_ANGLE_MAX_RELATIVE_ERROR, "{bias}");
    assert!(f.integration_line_attractors.is_none() && f.canonical_topology.is_none());
}

#[test]
fn integration_networks_learn() {
    let (exp, store) = integration_population();
    // The default criterion is relative to an output held at zero (0.0325 at T = 100).
    let zero = config::integration_zero_output_mse(&Default::default(), 100);
    assert!((zero - 0.0325).abs() < 1e-3, "{zero}");
    // The closed form against the generator itself (4000 trials: ≈ 2 % standard error).
    let gen = Integration::new(IntegrationParams::default()).unwrap();
    let (trials, steps) = (4000, 100);
    let mut xs = vec![0.0f64; trials * steps * 4];
    let mut ys = vec![0.0f64; trials * steps];
    gen.fill(&mut Rng::new(3), trials, steps, &mut xs, &mut ys)
        .unwrap();
    let empirical = ys.iter().map(|y| y * y).sum::<f64>() / ys.len() as f64;
    assert!(
        (empirical / zero - 1.0).abs() < 0.08,
        "{empirical} vs {zero}"
    );
    assert!((exp.task.max_eval_mse - 0.1 * zero).abs() < 1e-15);
    let records = store.records().unwrap();
    assert_eq!(records.len(), 2);
    for r in records {
        assert!(
            r.eval_mse < exp.task.max_eval_mse,
            "{}: eval MSE {}",
            r.id,
            r.eval_mse
        );
    }
}

#[test]
fn integration_vanilla_has_a_line_attractor_per_context() {
    let (_, store) = integration_population();
    let r = store
        .records()
        .unwrap()
        .into_iter()
        .find(|r| r.arch == "vanilla" && r.passed)
        .expect("a passing vanilla network");
    let s = stages::dynamics_summary(store, &r.id).unwrap();
    assert_eq!(s.sweep.len(), 2, "one entry per context");
    for p in &s.sweep {
        // One mode with |λ| ≈ 1 (time constant ≳ 50 steps, half a trial or more), every
        // other mode fast.
        assert!(
            (p.slow_modulus - 1.0).abs() < 0.02,
            "{}: context {}: slow |λ| = {}",
            r.id,
            p.parameter,
            p.slow_modulus
        );
        assert!(
            p.second_modulus < 0.9,
            "{}: context {}: second |λ| = {}",
            r.id,
            p.parameter,
            p.second_modulus
        );
    }
    // The report's finding counts this network among the line attractors.
    let records = store.records().unwrap();
    let f = rnndyn::report::findings(store, &records).unwrap();
    let l = f
        .integration_line_attractors
        .expect("an integration store has the finding");
    let passed = records.iter().filter(|r| r.passed).count();
    assert_eq!(l.networks, passed, "{l:?}");
    assert!((1..=passed).contains(&l.line_attractors), "{l:?}");
    assert!(f.sine_frequency_tracking.is_none());
}
