//! The population store: a directory NumPy users can read with no rnndyn installed.
//!
//! ```text
//! DIR/store.json                 format marker and version
//! DIR/experiment.toml            the experiment the store was made from
//! DIR/catalog.csv                one row per network (rebuilt from the per-network files)
//! DIR/networks/<id>/network.json spec and final metrics of one network
//! DIR/networks/<id>/params.npz   parameter blocks (float32, shapes as documented)
//! DIR/networks/<id>/curve.npy    training loss per step (float32)
//! ```
//! Every file is written atomically (temporary file + rename); a network directory appears
//! only when it is complete, so shards of a sweep can share one store without locks.

use crate::config::NetworkSpec;
use crate::model::{Arch, ModelSpec};
use crate::npy::{self, NpyError};
use rnndyn_core::cell::GruConvention;
use rnndyn_core::Activation;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Name of the format in `store.json`.
pub const FORMAT: &str = "rnndyn-store";
/// Version of the store layout; a store of another version is refused.
pub const FORMAT_VERSION: u32 = 1;

/// Why the store could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file or directory of the store could not be read, written, created, renamed or
    /// removed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The directory is not a store: `store.json` is missing or unreadable or names another
    /// format, or `Store::create` was given a non-empty directory without `store.json`.
    #[error("{path}: not an rnndyn store ({reason})")]
    NotAStore {
        /// The directory, or its `store.json`.
        path: PathBuf,
        /// Why it is not a store.
        reason: String,
    },
    /// `store.json` has a format version other than `FORMAT_VERSION`.
    #[error("{path}: store format version {found} is not supported by this rnndyn (it reads version {FORMAT_VERSION})")]
    Version {
        /// The `store.json` file.
        path: PathBuf,
        /// The version it records.
        found: u32,
    },
    /// A JSON file of the store (`store.json`, `network.json`) does not parse, or the
    /// catalog could not be written as CSV.
    #[error("{path}: corrupt or truncated: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parser's or writer's message.
        reason: String,
    },
    /// A parameter block is missing, has the wrong shape or holds a non-finite value.
    #[error("{path}: array `{name}`: {reason}")]
    Array {
        /// The `.npz` or `.safetensors` file holding the blocks.
        path: PathBuf,
        /// The block's name (`W`, `U`, `b`, ...).
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading or writing an `.npy` / `.npz` file (or writing any file atomically) failed.
    #[error(transparent)]
    Npy(#[from] NpyError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `path` atomically (temporary sibling, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    npy::write_atomic(path, |w| w.write_all(bytes)).map_err(StoreError::from)
}

/// Prefix of every temporary file or directory in a store (`rnndyn merge` reports them).
pub const TEMP_PREFIX: &str = ".tmp-";

/// A unique temporary sibling of `path`: `.tmp-<host>-<pid>-<n>-<name>`. The host name
/// keeps processes on different machines sharing one store (Slurm array tasks often get the
/// same pid on different nodes) from ever picking the same temporary name.
pub fn temp_path(path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(
        "{TEMP_PREFIX}{}-{}-{}-{name}",
        host_tag(),
        std::process::id(),
        n
    ))
}

/// This machine's host name, reduced to `[A-Za-z0-9_]` (at most 32 characters).
fn host_tag() -> &'static str {
    static TAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TAG.get_or_init(|| {
        let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .or_else(|| std::env::var("COMPUTERNAME").ok())
            .unwrap_or_default();
        let tag: String = raw
            .trim()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(32)
            .collect();
        if tag.is_empty() {
            "host".into()
        } else {
            tag
        }
    })
}

/// `store.json`.
#[derive(Debug, Serialize, Deserialize)]
struct Marker {
    format: String,
    version: u32,
    created_by: String,
}

/// Per-network record (`network.json`), also one row of the catalog.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct NetworkRecord {
    /// The network's id (`NetworkSpec::id`), also its directory name under `networks/`.
    pub id: String,
    /// The task (`[task] kind`): `flipflop`, `sine` or `integration`.
    pub task: String,
    /// Architecture: `vanilla`, `ugrnn`, `gru` or `lstm`.
    pub arch: String,
    /// Activation: `tanh` or `relu`.
    pub activation: String,
    /// GRU convention, `reset-before` or `reset-after` (recorded for every architecture; only
    /// the GRU uses it).
    pub gru_convention: String,
    /// Hidden size `N`.
    pub hidden: usize,
    /// Inputs per time step `I`.
    pub inputs: usize,
    /// Outputs per time step `O`.
    pub outputs: usize,
    /// L2 penalty strength `λ`.
    pub l2: f64,
    /// Base learning rate of Adam.
    pub learning_rate: f64,
    /// Replicate index within the sweep (not the experiment's master seed).
    pub seed: u64,
    /// Training steps run: the length of `curve.npy` (fewer than `[training] steps` if the
    /// network diverged).
    pub train_steps: u64,
    /// Mean training loss over the last 100 steps (MSE, without the L2 penalty).
    #[serde(with = "nan_as_null")]
    pub final_loss: f64,
    /// MSE on the fixed evaluation set (NaN if diverged).
    #[serde(with = "nan_as_null")]
    pub eval_mse: f64,
    /// Task accuracy on the evaluation set (flip-flop: fraction of outputs with the right
    /// sign; other tasks: fraction within 0.1 of the target).
    #[serde(with = "nan_as_null")]
    pub eval_accuracy: f64,
    /// Flip-flop: fraction of the 8 memories held for `hold_steps` input-free steps (NaN for
    /// other tasks, with the check off, or in stores written before it existed).
    #[serde(with = "nan_as_null", default = "nan")]
    pub retention: f64,
    /// Whether the network met the success criterion: evaluation MSE below `max_eval_mse` and,
    /// on the flip-flop with `hold_steps > 0`, every memory held (`retention` 1).
    pub passed: bool,
    /// Whether training stopped on a NaN/Inf loss, gradient norm or parameter.
    pub diverged: bool,
    /// Step at which the loss or gradient became NaN/Inf (if diverged).
    pub diverged_at_step: Option<u64>,
    /// Wall-clock seconds spent training and evaluating the network.
    pub train_seconds: f64,
    /// Version of rnndyn that wrote the record.
    pub rnndyn_version: String,
}

impl NetworkRecord {
    /// The model this record describes.
    pub fn model_spec(&self) -> Result<ModelSpec, String> {
        let arch =
            Arch::parse(&self.arch).ok_or_else(|| format!("unknown arch {:?}", self.arch))?;
        let activation = match self.activation.as_str() {
            "tanh" => Activation::Tanh,
            "relu" => Activation::Relu,
            other => return Err(format!("unknown activation {other:?}")),
        };
        let gru_convention = parse_gru_convention(&self.gru_convention)?;
        Ok(ModelSpec {
            arch,
            activation,
            gru_convention,
            hidden: self.hidden,
            inputs: self.inputs,
            outputs: self.outputs,
        })
    }
}

/// The store's name of a GRU convention: `reset-before` or `reset-after`.
pub fn gru_convention_name(c: GruConvention) -> &'static str {
    match c {
        GruConvention::ResetBeforeProduct => "reset-before",
        GruConvention::ResetAfterProduct => "reset-after",
    }
}

/// Parses a GRU convention name as written by `gru_convention_name`; the error names an
/// unknown value.
pub fn parse_gru_convention(s: &str) -> Result<GruConvention, String> {
    match s {
        "reset-before" => Ok(GruConvention::ResetBeforeProduct),
        "reset-after" => Ok(GruConvention::ResetAfterProduct),
        other => Err(format!("unknown GRU convention {other:?}")),
    }
}

/// A network's parameters as named blocks (name, shape, values).
#[derive(Clone, Debug, PartialEq)]
pub struct NamedArrays {
    /// One `(name, shape, row-major float32 values)` per parameter block, in the model's block
    /// order.
    pub arrays: Vec<(String, Vec<u64>, Vec<f32>)>,
}

/// Whether `dir` is a directory with at least one entry.
pub fn has_entries(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some())
}

/// An opened store.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Creates the store directory (or opens it if it is already a store of this version).
    pub fn create(root: &Path, experiment_toml: &str) -> Result<Store, StoreError> {
        let marker = root.join("store.json");
        // Never scatter a store's files through an unrelated directory.
        if !marker.exists() && has_entries(root) {
            return Err(StoreError::NotAStore {
                path: root.to_path_buf(),
                reason: "the directory is not empty and has no store.json; use a new or empty \
                         directory"
                    .into(),
            });
        }
        std::fs::create_dir_all(root.join("networks")).map_err(io_err(root))?;
        if marker.exists() {
            let s = Store::open(root)?;
            return Ok(s);
        }
        let m = Marker {
            format: FORMAT.into(),
            version: FORMAT_VERSION,
            created_by: format!("rnndyn {}", env!("CARGO_PKG_VERSION")),
        };
        write_atomic(
            &marker,
            serde_json::to_string_pretty(&m)
                .unwrap_or_default()
                .as_bytes(),
        )?;
        let exp = root.join("experiment.toml");
        if !exp.exists() {
            write_atomic(&exp, experiment_toml.as_bytes())?;
        }
        Ok(Store {
            root: root.to_path_buf(),
        })
    }

    /// Opens an existing store, checking its format and version.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        let marker = root.join("store.json");
        let text = std::fs::read_to_string(&marker).map_err(|e| StoreError::NotAStore {
            path: root.to_path_buf(),
            reason: format!("cannot read store.json: {e}"),
        })?;
        let m: Marker = serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
            path: marker.clone(),
            reason: e.to_string(),
        })?;
        if m.format != FORMAT {
            return Err(StoreError::NotAStore {
                path: marker,
                reason: format!("format is {:?}", m.format),
            });
        }
        if m.version != FORMAT_VERSION {
            return Err(StoreError::Version {
                path: marker,
                found: m.version,
            });
        }
        Ok(Store {
            root: root.to_path_buf(),
        })
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The experiment file saved in the store.
    pub fn experiment_path(&self) -> PathBuf {
        self.root.join("experiment.toml")
    }

    /// Directory of network `id`, `<root>/networks/<id>` (it may not exist, or may be
    /// incomplete: see `has_network`).
    pub fn network_dir(&self, id: &str) -> PathBuf {
        self.root.join("networks").join(id)
    }

    /// Directory for store-level analysis outputs.
    pub fn analysis_dir(&self) -> Result<PathBuf, StoreError> {
        let d = self.root.join("analysis");
        std::fs::create_dir_all(&d).map_err(io_err(&d))?;
        Ok(d)
    }

    /// True if the network is complete in the store.
    pub fn has_network(&self, id: &str) -> bool {
        self.network_dir(id).join("network.json").is_file()
    }

    /// Writes a finished network as one atomic directory rename.
    pub fn save_network(
        &self,
        record: &NetworkRecord,
        params: &NamedArrays,
        curve: &[f32],
    ) -> Result<(), StoreError> {
        let final_dir = self.network_dir(&record.id);
        let tmp = temp_path(&final_dir);
        std::fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
        write_npz(&tmp.join("params.npz"), params)?;
        npy::write_array(tmp.join("curve.npy"), &[curve.len()], curve)?;
        let json = serde_json::to_string_pretty(record).unwrap_or_default();
        std::fs::write(tmp.join("network.json"), json).map_err(io_err(&tmp))?;
        if final_dir.exists() {
            // A stale partial directory (no network.json) from an older crash.
            std::fs::remove_dir_all(&final_dir).map_err(io_err(&final_dir))?;
        }
        std::fs::rename(&tmp, &final_dir).map_err(io_err(&final_dir))
    }

    /// Reads one network's record.
    pub fn record(&self, id: &str) -> Result<NetworkRecord, StoreError> {
        let p = self.network_dir(id).join("network.json");
        let text = std::fs::read_to_string(&p).map_err(io_err(&p))?;
        serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
            path: p,
            reason: e.to_string(),
        })
    }

    /// All complete networks, sorted by id.
    pub fn records(&self) -> Result<Vec<NetworkRecord>, StoreError> {
        let dir = self.root.join("networks");
        let mut out = Vec::new();
        let entries = std::fs::read_dir(&dir).map_err(io_err(&dir))?;
        for e in entries {
            let e = e.map_err(io_err(&dir))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !e.path().join("network.json").is_file() {
                continue;
            }
            out.push(self.record(&name)?);
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Reads a network's parameters as f64 (in the block order of `blocks`).
    pub fn params_f64(
        &self,
        id: &str,
        blocks: &[(String, Vec<u64>)],
    ) -> Result<Vec<f64>, StoreError> {
        let p = self.network_dir(id).join("params.npz");
        read_npz_blocks(&p, blocks)
    }

    /// Rebuilds `catalog.csv` from the per-network records; returns them.
    pub fn rebuild_catalog(&self) -> Result<Vec<NetworkRecord>, StoreError> {
        let records = self.records()?;
        let path = self.root.join("catalog.csv");
        let mut w = csv::Writer::from_writer(Vec::new());
        for r in &records {
            w.serialize(CatalogRow::from(r))
                .map_err(|e| StoreError::Corrupt {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
        }
        let bytes = w.into_inner().map_err(|e| StoreError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        write_atomic(&path, &bytes)?;
        Ok(records)
    }
}

/// A catalog row (flat, CSV-friendly).
#[derive(Serialize)]
struct CatalogRow<'a> {
    id: &'a str,
    task: &'a str,
    arch: &'a str,
    activation: &'a str,
    gru_convention: &'a str,
    hidden: usize,
    l2: f64,
    learning_rate: f64,
    seed: u64,
    train_steps: u64,
    final_loss: f64,
    eval_mse: f64,
    eval_accuracy: f64,
    retention: f64,
    passed: bool,
    diverged: bool,
    diverged_at_step: String,
}

impl<'a> From<&'a NetworkRecord> for CatalogRow<'a> {
    fn from(r: &'a NetworkRecord) -> Self {
        CatalogRow {
            id: &r.id,
            task: &r.task,
            arch: &r.arch,
            activation: &r.activation,
            gru_convention: &r.gru_convention,
            hidden: r.hidden,
            l2: r.l2,
            learning_rate: r.learning_rate,
            seed: r.seed,
            train_steps: r.train_steps,
            final_loss: r.final_loss,
            eval_mse: r.eval_mse,
            eval_accuracy: r.eval_accuracy,
            retention: r.retention,
            passed: r.passed,
            diverged: r.diverged,
            diverged_at_step: r
                .diverged_at_step
                .map(|s| s.to_string())
                .unwrap_or_default(),
        }
    }
}

/// Writes named float32 arrays into an `.npz` atomically.
pub fn write_npz(path: &Path, arrays: &NamedArrays) -> Result<(), StoreError> {
    let mut npz = npy::NpzWriter::new(path);
    for (name, shape, data) in &arrays.arrays {
        let shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        npz.add(name, &shape, data)?;
    }
    Ok(npz.finish()?)
}

/// Reads the named blocks of an `.npz` (float32 or float64) and concatenates them as f64,
/// checking every shape and that every value is finite.
pub fn read_npz_blocks(path: &Path, blocks: &[(String, Vec<u64>)]) -> Result<Vec<f64>, StoreError> {
    let mut out = Vec::new();
    for (name, shape) in blocks {
        let (found, m) = npy::read_npz_array_with_shape(path, name)?;
        check_block(path, name, shape, &found, m.as_slice())?;
        out.extend_from_slice(m.as_slice());
    }
    Ok(out)
}

/// One parameter block's shape and values against the expected shape: a 1-D block may be
/// stored as a row or column, and a one-row weight block 1-D (earlier rnndyn versions wrote
/// `U` of a one-input task that way; same values, so those stores still load).
fn check_block(
    path: &Path,
    name: &str,
    shape: &[u64],
    found: &[u64],
    values: &[f64],
) -> Result<(), StoreError> {
    let bad = |reason: String| StoreError::Array {
        path: path.to_path_buf(),
        name: name.to_string(),
        reason,
    };
    let ok = match (shape, found) {
        ([n], [m]) => m == n,
        ([n], [r, c]) => r * c == *n && (*r == 1 || *c == 1),
        ([1, c], [n]) => n == c,
        ([r, c], [fr, fc]) => (fr, fc) == (r, c),
        _ => false,
    };
    if !ok {
        return Err(bad(format!("shape {found:?}, expected {shape:?}")));
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(bad(format!(
            "non-finite value {} at flat index {i}",
            values[i]
        )));
    }
    Ok(())
}

/// Like [`read_npz_blocks`], from arrays already read (e.g. a `.safetensors` file at
/// `path`, which errors name).
pub fn state_dict_blocks(
    path: &Path,
    sd: &crate::torch::StateDict,
    blocks: &[(String, Vec<u64>)],
) -> Result<Vec<f64>, StoreError> {
    let mut out = Vec::new();
    for (name, shape) in blocks {
        let bad = |reason: String| StoreError::Array {
            path: path.to_path_buf(),
            name: name.clone(),
            reason,
        };
        let a = sd.get(name).ok_or_else(|| {
            bad(format!(
                "missing (present: {:?})",
                sd.keys().collect::<Vec<_>>()
            ))
        })?;
        let found: Vec<u64> = a.shape.iter().map(|&d| d as u64).collect();
        check_block(path, name, shape, &found, &a.data)?;
        out.extend_from_slice(&a.data);
    }
    Ok(out)
}

/// Parameter blocks of a model as (name, shape): biases 1-D, weight matrices 2-D (also
/// with one row, e.g. `U` of a one-input task is `(1, k·N)`), as the README documents.
pub fn block_shapes(blocks: &[rnndyn_core::cell::ParamBlock]) -> Vec<(String, Vec<u64>)> {
    use rnndyn_core::cell::BlockKind;
    blocks
        .iter()
        .map(|b| {
            let shape = match b.kind {
                BlockKind::Bias | BlockKind::ReadoutBias => vec![b.len() as u64],
                _ => vec![b.rows as u64, b.cols as u64],
            };
            (b.name.to_string(), shape)
        })
        .collect()
}

/// Splits a flat parameter vector into named arrays.
pub fn named_params(blocks: &[rnndyn_core::cell::ParamBlock], p: &[f32]) -> NamedArrays {
    let mut off = 0;
    let mut arrays = Vec::new();
    for (b, (name, shape)) in blocks.iter().zip(block_shapes(blocks)) {
        arrays.push((name, shape, p[off..off + b.len()].to_vec()));
        off += b.len();
    }
    NamedArrays { arrays }
}

/// Makes the record of a spec before training.
pub fn record_for(spec: &NetworkSpec, task: &str, inputs: usize, outputs: usize) -> NetworkRecord {
    NetworkRecord {
        id: spec.id(),
        task: task.into(),
        arch: spec.arch.name().into(),
        activation: spec.activation.name().into(),
        gru_convention: gru_convention_name(spec.gru_convention).into(),
        hidden: spec.hidden,
        inputs,
        outputs,
        l2: spec.l2,
        learning_rate: spec.learning_rate,
        seed: spec.seed,
        train_steps: 0,
        final_loss: f64::NAN,
        eval_mse: f64::NAN,
        eval_accuracy: f64::NAN,
        retention: f64::NAN,
        passed: false,
        diverged: false,
        diverged_at_step: None,
        train_seconds: 0.0,
        rnndyn_version: env!("CARGO_PKG_VERSION").into(),
    }
}

fn nan() -> f64 {
    f64::NAN
}

/// JSON has no NaN: store it as `null` and read `null` back as NaN (`#[serde(with = …)]`).
pub(crate) mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_none()
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{self, Arch, ModelSpec};

    /// A one-input GRU (the sine task's shape).
    fn sine_gru() -> Box<dyn crate::model::Model> {
        model::build(&ModelSpec {
            arch: Arch::Gru,
            activation: Activation::Tanh,
            gru_convention: GruConvention::ResetAfterProduct,
            hidden: 8,
            inputs: 1,
            outputs: 1,
        })
        .unwrap()
    }

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rnndyn-store-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// `network.json` → record → `catalog.csv` keeps every f64 bit for bit (serde_json's
    /// default float parser is off by one ulp on some values, e.g. this `eval_mse`).
    #[test]
    fn records_read_back_bit_for_bit() {
        let mut rng = rnndyn_core::Rng::new(11);
        for k in 0..2000 {
            let v = if k == 0 {
                0.011876692344458685
            } else {
                rng.uniform_range(-6.0, 3.0).exp2() * rng.uniform_range(1.0, 2.0)
            };
            let text = format!(
                r#"{{"id":"a","task":"flipflop","arch":"gru","activation":"tanh",
                "gru_convention":"reset_after","hidden":8,"inputs":3,"outputs":3,"l2":{v:?},
                "learning_rate":{v:?},"seed":1,"train_steps":10,"final_loss":{v:?},
                "eval_mse":{v:?},"eval_accuracy":{v:?},"retention":null,"passed":true,
                "diverged":false,"diverged_at_step":null,"train_seconds":{v:?},
                "rnndyn_version":"0"}}"#
            );
            let r: NetworkRecord = serde_json::from_str(&text).unwrap();
            for got in [
                r.l2,
                r.learning_rate,
                r.final_loss,
                r.eval_mse,
                r.eval_accuracy,
            ] {
                assert_eq!(got.to_bits(), v.to_bits(), "{v:?} read as {got:?}");
            }
            let back: NetworkRecord =
                serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
            assert_eq!(back.eval_mse.to_bits(), v.to_bits());
        }
    }

    #[test]
    fn state_dict_blocks_check_names_shapes_and_values() {
        use crate::torch::{Array, StateDict};
        let path = Path::new("net.safetensors");
        let blocks = vec![
            ("W".to_string(), vec![2, 3]),
            ("U".to_string(), vec![1, 3]),
            ("b".to_string(), vec![3]),
        ];
        let arr = |shape: Vec<usize>, v: f64| {
            let n = shape.iter().product();
            Array::new(shape, vec![v; n]).unwrap()
        };
        let sd = |u: Vec<usize>, b: Vec<usize>| -> StateDict {
            [
                ("W", arr(vec![2, 3], 1.0)),
                ("U", arr(u, 2.0)),
                ("b", arr(b, 3.0)),
            ]
            .into_iter()
            .map(|(k, a)| (k.to_string(), a))
            .collect()
        };
        let want = [vec![1.0; 6], vec![2.0; 3], vec![3.0; 3]].concat();
        // 1-D U of one input and a (1, n) or (n, 1) bias are accepted, as for .npz.
        for (u, b) in [
            (vec![1, 3], vec![3]),
            (vec![3], vec![1, 3]),
            (vec![1, 3], vec![3, 1]),
        ] {
            assert_eq!(state_dict_blocks(path, &sd(u, b), &blocks).unwrap(), want);
        }
        for (u, b, key) in [
            (vec![3, 1], vec![3], "`U`"),
            (vec![1, 3], vec![2, 2], "`b`"),
        ] {
            let e = state_dict_blocks(path, &sd(u, b), &blocks)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("net.safetensors: ") && e.contains(key), "{e}");
        }
        let mut missing = sd(vec![1, 3], vec![3]);
        missing.remove("U");
        let e = state_dict_blocks(path, &missing, &blocks)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`U`") && e.contains("missing"), "{e}");
        let mut nan = sd(vec![1, 3], vec![3]);
        nan.get_mut("W").unwrap().data[4] = f64::NAN;
        let e = state_dict_blocks(path, &nan, &blocks)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`W`") && e.contains("flat index 4"), "{e}");
    }

    #[test]
    fn weights_are_2d_and_biases_1d_even_with_one_input() {
        let m = sine_gru();
        let p: Vec<f32> = (0..m.param_count()).map(|i| i as f32).collect();
        let dir = scratch("shapes");
        let path = dir.join("params.npz");
        write_npz(&path, &named_params(&m.blocks(), &p)).unwrap();
        let header = |name: &str| npy::read_npz_array_with_shape(&path, name).unwrap().0;
        assert_eq!(header("W"), [8, 24]);
        assert_eq!(header("U"), [1, 24]);
        assert_eq!(header("b"), [24]);
        assert_eq!(header("bh"), [8]);
        assert_eq!(header("Wo"), [8, 1]);
        assert_eq!(header("bo"), [1]);
        let back = read_npz_blocks(&path, &block_shapes(&m.blocks())).unwrap();
        assert_eq!(back, p.iter().map(|&v| v as f64).collect::<Vec<_>>());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn legacy_one_dimensional_u_still_loads_but_a_column_does_not() {
        let m = sine_gru();
        let p: Vec<f32> = (0..m.param_count()).map(|i| i as f32).collect();
        let mut named = named_params(&m.blocks(), &p);
        let dir = scratch("legacy");
        let path = dir.join("params.npz");
        // Earlier versions wrote `U` as (24,).
        let u = named.arrays.iter_mut().find(|a| a.0 == "U").unwrap();
        u.1 = vec![24];
        write_npz(&path, &named).unwrap();
        let back = read_npz_blocks(&path, &block_shapes(&m.blocks())).unwrap();
        assert_eq!(back, p.iter().map(|&v| v as f64).collect::<Vec<_>>());
        // A (24, 1) `U` is a different matrix (24 inputs), not an old file: refused.
        let u = named.arrays.iter_mut().find(|a| a.0 == "U").unwrap();
        u.1 = vec![24, 1];
        write_npz(&path, &named).unwrap();
        let e = read_npz_blocks(&path, &block_shapes(&m.blocks()))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("params.npz") && e.contains("`U`") && e.contains("[24, 1]"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
