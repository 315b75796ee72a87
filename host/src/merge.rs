//! `rnndyn merge`: checks that a store written by shards (e.g. a Slurm job array) holds
//! every network of its experiment exactly once, and rebuilds `catalog.csv` from the
//! per-network files.
//!
//! What it looks at, in `DIR/networks/`:
//! - `<id>/` with `network.json`, `params.npz` and `curve.npy`: a finished network. Its
//!   `network.json` must name the same id as its directory (else: a copied or renamed
//!   directory, i.e. a duplicate; an error).
//! - `<id>/` that is not in the experiment: an *unknown* network (from an earlier version of
//!   the sweep, or another experiment). Reported; it stays in the catalog, which lists what
//!   the store holds.
//! - `.tmp-*`: the temporary file or directory of a process that was killed before its
//!   atomic rename. Harmless (never read); reported, and removed with `--clean`.
//! - `<id>/` without all three files: not produced by rnndyn (a network directory appears
//!   only complete); reported as *incomplete*, removed with `--clean` (the next `train` of
//!   its shard would replace it anyway).
//!
//! Missing networks make the merge fail, naming every missing id and the shards that own
//! them (when the store was set up by `rnndyn slurm`, which records the shard count).

use crate::app::AppError;
use crate::cli::MergeArgs;
use crate::config::{self, Experiment};
use crate::population::Shard;
use crate::store::{NetworkRecord, Store, StoreError, TEMP_PREFIX};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Files every finished network directory holds.
pub const NETWORK_FILES: [&str; 3] = ["network.json", "params.npz", "curve.npy"];

/// What `check` found in a store.
#[derive(Clone, Debug, Default)]
pub struct MergeReport {
    /// Networks the experiment defines.
    pub expected: usize,
    /// Ids of the experiment's networks that are present and complete.
    pub present: usize,
    /// Ids of the experiment with no finished directory, in sweep order, with sweep position.
    pub missing: Vec<(usize, String)>,
    /// Finished networks that the experiment does not define.
    pub unknown: Vec<String>,
    /// Directories whose `network.json` names another id (`(directory name, id inside)`).
    pub mismatched: Vec<(String, String)>,
    /// Directories whose `network.json` cannot be read (`(directory, reason)`).
    pub corrupt: Vec<(PathBuf, String)>,
    /// Leftover temporaries (`.tmp-*`) in the store root and in `networks/`.
    pub temporaries: Vec<PathBuf>,
    /// Network directories lacking some of [`NETWORK_FILES`].
    pub incomplete: Vec<PathBuf>,
    /// Plain files in `networks/` that rnndyn did not write (reported, never removed).
    pub stray_files: Vec<PathBuf>,
}

impl MergeReport {
    /// True when the store holds every network exactly once and nothing unreadable.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty() && self.mismatched.is_empty() && self.corrupt.is_empty()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Looks through a store and compares it with the experiment's sweep. Reads only.
pub fn check(store: &Store, exp: &Experiment) -> Result<MergeReport, StoreError> {
    let mut report = MergeReport {
        expected: exp.networks.len(),
        ..Default::default()
    };
    for entry in std::fs::read_dir(store.root()).map_err(io(store.root()))? {
        let entry = entry.map_err(io(store.root()))?;
        if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            report.temporaries.push(entry.path());
        }
    }
    let dir = store.root().join("networks");
    let mut finished: BTreeSet<String> = BTreeSet::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .map_err(io(&dir))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(io(&dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if name.starts_with(TEMP_PREFIX) {
            report.temporaries.push(path);
            continue;
        }
        if !path.is_dir() {
            report.stray_files.push(path);
            continue;
        }
        if NETWORK_FILES.iter().any(|f| !path.join(f).is_file()) {
            report.incomplete.push(path);
            continue;
        }
        let json = path.join("network.json");
        let record: NetworkRecord = match std::fs::read_to_string(&json)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
        {
            Ok(r) => r,
            Err(reason) => {
                report.corrupt.push((json, reason));
                continue;
            }
        };
        if record.id != name {
            report.mismatched.push((name, record.id));
            continue;
        }
        finished.insert(name);
    }
    let expected: BTreeMap<String, usize> = exp
        .networks
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id(), i))
        .collect();
    for (i, spec) in exp.networks.iter().enumerate() {
        let id = spec.id();
        if finished.contains(&id) {
            report.present += 1;
        } else {
            report.missing.push((i, id));
        }
    }
    report.unknown = finished
        .into_iter()
        .filter(|id| !expected.contains_key(id))
        .collect();
    Ok(report)
}

/// Removes the leftover temporaries and incomplete network directories of a report.
/// Only safe when no process is writing into the store.
pub fn clean(report: &MergeReport) -> Result<usize, StoreError> {
    let mut removed = 0;
    for p in report.temporaries.iter().chain(&report.incomplete) {
        let r = if p.is_dir() {
            std::fs::remove_dir_all(p)
        } else {
            std::fs::remove_file(p)
        };
        match r {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(StoreError::Io {
                    path: p.clone(),
                    source: e,
                })
            }
        }
    }
    Ok(removed)
}

/// The missing networks grouped by the shard of `count` that owns them.
pub fn missing_by_shard(report: &MergeReport, count: usize) -> BTreeMap<usize, Vec<String>> {
    let mut out: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (pos, id) in &report.missing {
        let k = (0..count)
            .find(|&k| Shard { index: k, count }.contains(*pos))
            .unwrap_or(0);
        out.entry(k).or_default().push(id.clone());
    }
    out
}

/// A human-readable account of a report (one finding per line).
pub fn describe(report: &MergeReport, shards: Option<usize>) -> String {
    let mut s = String::new();
    let mut line = |l: String| {
        s.push_str(&l);
        s.push('\n');
    };
    line(format!(
        "{} of {} networks present",
        report.present, report.expected
    ));
    if !report.missing.is_empty() {
        line(format!("{} missing:", report.missing.len()));
        match shards.filter(|&c| c > 0) {
            Some(count) => {
                for (k, ids) in missing_by_shard(report, count) {
                    line(format!("  shard {k}/{count}:"));
                    for id in ids {
                        line(format!("    {id}"));
                    }
                }
            }
            None => {
                for (_, id) in &report.missing {
                    line(format!("  {id}"));
                }
            }
        }
    }
    for (dir, id) in &report.mismatched {
        line(format!("duplicate: directory networks/{dir} holds network {id:?} (a copied or renamed directory; delete it)"));
    }
    for (path, reason) in &report.corrupt {
        line(format!(
            "corrupt: {}: {reason} (delete its directory and rerun its shard)",
            path.display()
        ));
    }
    if !report.unknown.is_empty() {
        line(format!(
            "{} network(s) not in the experiment (kept in the catalog):",
            report.unknown.len()
        ));
        for id in &report.unknown {
            line(format!("  {id}"));
        }
    }
    for p in &report.temporaries {
        line(format!(
            "leftover temporary (from a killed process): {}",
            p.display()
        ));
    }
    for p in &report.incomplete {
        line(format!(
            "incomplete network directory (not written by rnndyn; its shard would replace it): {}",
            p.display()
        ));
    }
    for p in &report.stray_files {
        line(format!("stray file (ignored): {}", p.display()));
    }
    s
}

/// `rnndyn merge --out DIR [--config FILE] [--clean]`.
pub fn run(args: MergeArgs) -> Result<ExitCode, AppError> {
    let store = Store::open(&args.out)?;
    let exp_path = args
        .config
        .clone()
        .unwrap_or_else(|| store.experiment_path());
    let exp = config::load(&exp_path)?;
    let report = check(&store, &exp)?;
    let shards = crate::slurm::recorded_shards(store.root());
    eprint!("{}", describe(&report, shards));
    let leftovers = report.temporaries.len() + report.incomplete.len();
    if leftovers > 0 {
        if args.clean {
            let n = clean(&report)?;
            eprintln!("removed {n} leftover(s)");
        } else {
            eprintln!("(`rnndyn merge --clean` removes the {leftovers} leftover(s); only while no shard is running)");
        }
    }
    if !report.mismatched.is_empty() || !report.corrupt.is_empty() {
        return Err(format!(
            "{}: {} duplicate and {} corrupt network director(ies) (listed above); catalog.csv not rebuilt",
            store.root().display(),
            report.mismatched.len(),
            report.corrupt.len()
        )
        .into());
    }
    let records = store.rebuild_catalog()?;
    eprintln!(
        "catalog: {} ({} rows)",
        store.root().join("catalog.csv").display(),
        records.len()
    );
    if !report.missing.is_empty() {
        let ids: Vec<&str> = report.missing.iter().map(|(_, id)| id.as_str()).collect();
        let hint = match shards {
            Some(count) => {
                let ks: Vec<String> = missing_by_shard(&report, count)
                    .keys()
                    .map(|k| k.to_string())
                    .collect();
                format!(
                    "resume: sbatch --array={} {} (then merge again)",
                    ks.join(","),
                    store
                        .root()
                        .join(crate::slurm::SLURM_DIR)
                        .join("train.sbatch")
                        .display()
                )
            }
            None => format!(
                "resume: rnndyn train --config {} --out {} (trains only what is missing)",
                exp_path.display(),
                store.root().display()
            ),
        };
        return Err(format!(
            "{}: {} of {} networks missing: {}\n{hint}",
            store.root().display(),
            report.missing.len(),
            report.expected,
            ids.join(", ")
        )
        .into());
    }
    eprintln!(
        "{}: complete ({} networks)",
        store.root().display(),
        report.expected
    );
    Ok(ExitCode::SUCCESS)
}
