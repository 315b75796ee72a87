//! Sharding a population (Slurm job arrays, DESIGN.md §9): shards partition the sweep and
//! the pairs exactly; a shard killed midway and rerun gives the same store as one
//! uninterrupted single-machine run; `merge` finds what is missing, duplicated or left over.

use proptest::prelude::*;
use rnndyn::config::{self, Experiment};
use rnndyn::merge;
use rnndyn::population::{pair_count, train_population, Pairs, Shard, TrainOptions};
use rnndyn::store::Store;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Every sweep position is in exactly one shard, and `positions` lists exactly the
    /// positions `contains` accepts, in increasing order.
    #[test]
    fn shards_partition_the_sweep(count in 1usize..50, len in 0usize..400) {
        let mut owner = vec![None; len];
        for index in 0..count {
            let shard = Shard::new(index, count).unwrap();
            let listed: Vec<usize> = shard.positions(len).collect();
            let accepted: Vec<usize> = (0..len).filter(|&p| shard.contains(p)).collect();
            prop_assert_eq!(&listed, &accepted);
            for p in listed {
                prop_assert!(owner[p].is_none(), "position {} in shards {:?} and {}", p, owner[p], index);
                owner[p] = Some(index);
            }
        }
        prop_assert!(owner.iter().all(Option::is_some));
        // Balanced: shard sizes differ by at most one.
        let sizes: Vec<usize> = (0..count).map(|k| Shard::new(k, count).unwrap().positions(len).count()).collect();
        prop_assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
    }

    /// Every pair i < j < n is in exactly one shard's `pairs(n)`; blocks are balanced and
    /// the assignment is a pure function of (n, index, count).
    #[test]
    fn shards_partition_the_pairs(count in 1usize..50, n in 0usize..60) {
        let mut seen = BTreeSet::new();
        let mut sizes = Vec::new();
        for index in 0..count {
            let shard = Shard::new(index, count).unwrap();
            let pairs: Vec<(usize, usize)> = shard.pairs(n).collect();
            prop_assert_eq!(pairs.len(), shard.pairs(n).len());
            prop_assert_eq!(&pairs, &shard.pairs(n).collect::<Vec<_>>());
            sizes.push(pairs.len());
            for (i, j) in pairs {
                prop_assert!(i < j && j < n, "bad pair ({}, {}) for n = {}", i, j, n);
                prop_assert!(seen.insert((i, j)), "pair ({}, {}) in two shards", i, j);
            }
        }
        prop_assert_eq!(seen.len(), pair_count(n));
        prop_assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
        let all: Vec<(usize, usize)> = (0..n).flat_map(|i| (i + 1..n).map(move |j| (i, j))).collect();
        prop_assert_eq!(Pairs::all(n).collect::<Vec<_>>(), all);
    }
}

#[test]
fn shard_new_checks_bounds() {
    assert!(Shard::new(0, 1).is_some());
    assert!(Shard::new(3, 3).is_none());
    assert!(Shard::new(0, 0).is_none());
}

const TINY: &str = r#"
name = "shards-test"
seed = 11

[task]
kind = "flipflop"
trial_steps = 16

[task.flipflop]
pulse_probability = 0.1
pulse_at_t0 = true

[population]
architectures = ["vanilla", "gru"]
activations = ["tanh"]
hidden_sizes = [8]
l2 = [0.0]
learning_rates = [0.01]
seeds = 3
gru_convention = "reset-before"

[training]
steps = 60
batch = 4
clip_norm = 10.0
schedule = "constant"
decay = 0.5
decay_steps = 1000
eval_trials = 8
recurrent_gain = 1.0
recurrent_init = "normal"
gate_bias = 1.0
"#;

fn tiny() -> Experiment {
    config::parse(TINY, "<shards test>").unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("shards-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn opts(shard: Option<Shard>) -> TrainOptions {
    TrainOptions {
        threads: Some(1),
        shard,
        progress: false,
    }
}

/// The float32 bits of every array of a network's `params.npz`, by name (the store
/// writes float32, which f64 holds exactly).
fn params_bits(dir: &Path) -> Vec<(String, Vec<u64>, Vec<u32>)> {
    let path = dir.join("params.npz");
    let mut names = rnndyn::npy::npz_names(&path).unwrap();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let (shape, data) = rnndyn::npy::read_npz_shaped(&path, &name).unwrap();
            let shape = shape.into_iter().map(|d| d as u64).collect();
            let bits = data.into_iter().map(|v| (v as f32).to_bits()).collect();
            (name, shape, bits)
        })
        .collect()
}

/// Asserts two stores hold the same networks with identical numbers and the same catalog.
fn assert_same_store(a: &Store, b: &Store, exp: &Experiment) {
    let ca = std::fs::read_to_string(a.root().join("catalog.csv")).unwrap();
    let cb = std::fs::read_to_string(b.root().join("catalog.csv")).unwrap();
    assert_eq!(ca, cb, "catalogs differ");
    assert_eq!(ca.lines().count(), exp.networks.len() + 1);
    for spec in &exp.networks {
        let id = spec.id();
        let (mut ra, mut rb) = (a.record(&id).unwrap(), b.record(&id).unwrap());
        ra.train_seconds = 0.0;
        rb.train_seconds = 0.0;
        assert_eq!(format!("{ra:?}"), format!("{rb:?}"), "record of {id}");
        assert_eq!(
            params_bits(&a.network_dir(&id)),
            params_bits(&b.network_dir(&id)),
            "params of {id}"
        );
        let curve = |s: &Store| std::fs::read(s.network_dir(&id).join("curve.npy")).unwrap();
        assert_eq!(curve(a), curve(b), "curve of {id}");
    }
}

#[test]
fn killed_shard_reruns_to_the_same_store() {
    let exp = tiny();
    let never = AtomicBool::new(false);

    // Reference: one uninterrupted single-machine run.
    let ref_dir = scratch("reference");
    let reference = Store::create(&ref_dir, TINY).unwrap();
    let s = train_population(&exp, &reference, &opts(None), &never).unwrap();
    assert_eq!((s.total, s.trained, s.cancelled), (6, 6, false));

    // Sharded into one store: shard 0 of 2 is interrupted after its first network.
    let dir = scratch("sharded");
    let store = Store::create(&dir, TINY).unwrap();
    let shard0 = Shard::new(0, 2).unwrap();
    let shard1 = Shard::new(1, 2).unwrap();
    let cancel = AtomicBool::new(false);
    let interrupted = std::thread::scope(|scope| {
        let nets = dir.join("networks");
        let cancel = &cancel;
        let watcher = scope.spawn(move || loop {
            let finished = std::fs::read_dir(&nets)
                .map(|d| {
                    d.flatten()
                        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                        .count()
                })
                .unwrap_or(0);
            if finished >= 1 || cancel.load(Ordering::SeqCst) {
                cancel.store(true, Ordering::SeqCst);
                return;
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        });
        let s = train_population(&exp, &store, &opts(Some(shard0)), cancel).unwrap();
        cancel.store(true, Ordering::SeqCst);
        watcher.join().unwrap();
        s
    });
    eprintln!(
        "shard 0/2 interrupted after {} of 3 networks (cancelled: {})",
        interrupted.trained, interrupted.cancelled
    );
    assert_eq!(interrupted.total, 3);
    assert!(interrupted.trained >= 1);
    // A shard never writes the catalog.
    assert!(!dir.join("catalog.csv").exists());

    // Shard 1 runs to the end; then it is "killed" after the fact: one finished network is
    // lost and the temporaries of a dying process are left behind.
    let s = train_population(&exp, &store, &opts(Some(shard1)), &never).unwrap();
    assert_eq!((s.total, s.trained), (3, 3));
    let lost = exp.networks[1].id();
    std::fs::remove_dir_all(store.network_dir(&lost)).unwrap();
    let tmp_dir = dir
        .join("networks")
        .join(format!(".tmp-node7-4242-0-{lost}"));
    std::fs::create_dir_all(&tmp_dir).unwrap();
    std::fs::write(tmp_dir.join("params.npz"), b"PK\x03\x04 truncated").unwrap();
    std::fs::write(dir.join(".tmp-node7-4242-1-catalog.csv"), b"id,task\n").unwrap();

    // merge sees exactly what is missing and what is left over.
    let report = merge::check(&store, &exp).unwrap();
    assert!(!report.is_complete());
    let missing: BTreeSet<String> = report.missing.iter().map(|(_, id)| id.clone()).collect();
    let mut want: BTreeSet<String> = exp
        .networks
        .iter()
        .enumerate()
        .filter(|(i, n)| shard0.contains(*i) && !store.network_dir(&n.id()).exists())
        .map(|(_, n)| n.id())
        .collect();
    assert_eq!(want.len(), 3 - interrupted.trained);
    want.insert(lost.clone());
    assert_eq!(missing, want);
    assert_eq!(report.temporaries.len(), 2);
    let by_shard = merge::missing_by_shard(&report, 2);
    assert_eq!(by_shard.get(&1), Some(&vec![lost.clone()]));

    // Rerun both shards (as a resubmitted array would), then merge.
    for shard in [shard0, shard1] {
        let s = train_population(&exp, &store, &opts(Some(shard)), &never).unwrap();
        assert!(!s.cancelled);
        assert_eq!(s.trained + s.already_done, 3);
    }
    let report = merge::check(&store, &exp).unwrap();
    assert!(
        report.is_complete(),
        "{}",
        merge::describe(&report, Some(2))
    );
    assert_eq!((report.present, report.unknown.len()), (6, 0));
    assert_eq!(merge::clean(&report).unwrap(), 2);
    assert!(merge::check(&store, &exp).unwrap().temporaries.is_empty());
    store.rebuild_catalog().unwrap();

    assert_same_store(&reference, &store, &exp);
    let _ = std::fs::remove_dir_all(&ref_dir);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn merge_reports_duplicates_and_unknown_networks() {
    let exp = tiny();
    let never = AtomicBool::new(false);
    let dir = scratch("duplicates");
    let store = Store::create(&dir, TINY).unwrap();
    train_population(&exp, &store, &opts(None), &never).unwrap();
    let id = exp.networks[0].id();
    let copy = dir.join("networks").join("copied-by-hand");
    std::fs::create_dir_all(&copy).unwrap();
    for f in merge::NETWORK_FILES {
        std::fs::copy(store.network_dir(&id).join(f), copy.join(f)).unwrap();
    }
    let report = merge::check(&store, &exp).unwrap();
    assert_eq!(
        report.mismatched,
        vec![("copied-by-hand".to_string(), id.clone())]
    );
    assert!(!report.is_complete());
    std::fs::remove_dir_all(&copy).unwrap();

    // A smaller sweep than the store holds: the extra networks are reported as unknown.
    let fewer = config::parse(&TINY.replace("seeds = 3", "seeds = 2"), "<fewer>").unwrap();
    let report = merge::check(&store, &fewer).unwrap();
    assert!(report.is_complete());
    assert_eq!(report.unknown.len(), 2);
    assert!(report.unknown.iter().all(|u| u.ends_with("-s2")));
    let _ = std::fs::remove_dir_all(&dir);
}
