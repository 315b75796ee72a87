//! `.safetensors` input and output of state dicts (the `safetensors` crate).
//!
//! A `.safetensors` file is an 8-byte little-endian header length, a JSON header
//! `{name: {"dtype", "shape", "data_offsets"}}` (plus an optional `__metadata__` map) and
//! the tensors' raw little-endian, row-major bytes. Reading accepts `F32`, `F64`, `F16` and
//! `BF16` tensors, converted exactly to `f64`; any other dtype is refused naming the tensor.
//! A malformed file (bad header length, invalid JSON, offsets that do not tile the data)
//! gives a [`SafetensorsError`] naming the file, never a panic. Writing produces `F32`
//! tensors and is atomic (temporary file, sync, rename; see [`crate::npy::write_atomic`]).

use crate::torch::{Array, StateDict};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// What went wrong reading or writing a `.safetensors` file. Every variant names the
/// file (`<bytes>` for in-memory input).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SafetensorsError {
    /// Reading the file, or writing it atomically, failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// The `safetensors` crate rejects the file (header length, JSON header, offsets), or
    /// cannot serialise the tensors.
    #[error("{path}: not a valid .safetensors file: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// The `safetensors` crate's message.
        reason: String,
    },
    /// A tensor's dtype is not `F32`, `F64`, `F16` or `BF16`.
    #[error(
        "{path}: tensor {name:?} has dtype {dtype}; rnndyn reads F32, F64, F16 and BF16 tensors"
    )]
    Dtype {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// The dtype found, as the `safetensors` crate names it (`I64`, `U8`, ...).
        dtype: String,
    },
    /// A tensor's data length does not match its shape.
    #[error("{path}: tensor {name:?}: {reason}")]
    Tensor {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// On writing, two tensors have the same name.
    #[error("{path}: duplicate tensor name {name:?}")]
    DuplicateName {
        /// The file.
        path: PathBuf,
        /// The repeated name.
        name: String,
    },
}

/// True if `path` ends in `.safetensors` (any case).
pub fn is_safetensors(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("safetensors"))
}

/// Every tensor of the `.safetensors` file at `path`, as `f64` arrays.
pub fn read(path: &Path) -> Result<StateDict, SafetensorsError> {
    let bytes = std::fs::read(path).map_err(|source| SafetensorsError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    read_bytes(&bytes, path)
}

/// Every tensor of a `.safetensors` file held in `bytes`; errors name `path`.
pub fn read_bytes(bytes: &[u8], path: &Path) -> Result<StateDict, SafetensorsError> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| SafetensorsError::Format {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut sd = StateDict::new();
    for (name, view) in st.iter() {
        let data = decode(view.dtype(), view.data()).ok_or_else(|| SafetensorsError::Dtype {
            path: path.to_path_buf(),
            name: name.to_string(),
            dtype: format!("{:?}", view.dtype()),
        })?;
        let array =
            Array::new(view.shape().to_vec(), data).map_err(|e| SafetensorsError::Tensor {
                path: path.to_path_buf(),
                name: name.to_string(),
                reason: e.to_string(),
            })?;
        sd.insert(name.to_string(), array);
    }
    Ok(sd)
}

/// Little-endian values of `dtype` as `f64` (exact for every accepted dtype), or `None`
/// for a dtype rnndyn does not read.
fn decode(dtype: Dtype, data: &[u8]) -> Option<Vec<f64>> {
    fn each<const N: usize>(data: &[u8], f: impl Fn([u8; N]) -> f64) -> Vec<f64> {
        data.chunks_exact(N)
            .map(|c| f(c.try_into().expect("chunks_exact yields N bytes")))
            .collect()
    }
    Some(match dtype {
        Dtype::F64 => each(data, f64::from_le_bytes),
        Dtype::F32 => each(data, |b| f64::from(f32::from_le_bytes(b))),
        Dtype::F16 => each(data, |b| half::f16::from_le_bytes(b).to_f64()),
        Dtype::BF16 => each(data, |b| half::bf16::from_le_bytes(b).to_f64()),
        _ => return None,
    })
}

/// The bytes of a `.safetensors` file holding `tensors` (name, shape, values) as `F32`,
/// with `__metadata__` `{"format": "pt"}` (what `safetensors.torch.save_file` writes).
/// Errors name `path`.
pub fn to_bytes(
    tensors: &[(&str, &[usize], &[f32])],
    path: &Path,
) -> Result<Vec<u8>, SafetensorsError> {
    let mut raw: Vec<(&str, &[usize], Vec<u8>)> = Vec::with_capacity(tensors.len());
    for &(name, shape, data) in tensors {
        if raw.iter().any(|(n, _, _)| *n == name) {
            return Err(SafetensorsError::DuplicateName {
                path: path.to_path_buf(),
                name: name.to_string(),
            });
        }
        let bytes = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        raw.push((name, shape, bytes));
    }
    let mut views = Vec::with_capacity(raw.len());
    for (name, shape, bytes) in &raw {
        let view = TensorView::new(Dtype::F32, shape.to_vec(), bytes).map_err(|e| {
            SafetensorsError::Tensor {
                path: path.to_path_buf(),
                name: name.to_string(),
                reason: e.to_string(),
            }
        })?;
        views.push((*name, view));
    }
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize(views, Some(metadata)).map_err(|e| SafetensorsError::Format {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Writes `tensors` (name, shape, values) as an `F32` `.safetensors` file, atomically.
pub fn write_f32(
    path: &Path,
    tensors: &[(&str, &[usize], &[f32])],
) -> Result<(), SafetensorsError> {
    let bytes = to_bytes(tensors, path)?;
    crate::npy::write_atomic(path, |w| w.write_all(&bytes)).map_err(|e| match e {
        crate::npy::NpyError::Io { path, source } => SafetensorsError::Io { path, source },
        other => SafetensorsError::Io {
            path: path.to_path_buf(),
            source: io::Error::other(other.to_string()),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> PathBuf {
        PathBuf::from("net.safetensors")
    }

    /// A file of one tensor `name` of `dtype` and `shape` with raw bytes `data`.
    fn one(name: &str, dtype: Dtype, shape: &[usize], data: &[u8]) -> Vec<u8> {
        let v = TensorView::new(dtype, shape.to_vec(), data).unwrap();
        safetensors::serialize([(name, v)], None).unwrap()
    }

    #[test]
    fn f32_round_trip_is_bit_exact() {
        let w = [0.1f32, -0.0, 3.4028235e38, 1.0e-45, -2.5, 7.0];
        let b = [1.5f32, f32::MIN_POSITIVE];
        let bytes = to_bytes(&[("w", &[2, 3], &w), ("b", &[2], &b)], &p()).unwrap();
        let sd = read_bytes(&bytes, &p()).unwrap();
        assert_eq!(sd.len(), 2);
        assert_eq!(sd["w"].shape, vec![2, 3]);
        assert_eq!(sd["b"].shape, vec![2]);
        let back: Vec<u32> = sd["w"].data.iter().map(|&v| (v as f32).to_bits()).collect();
        assert_eq!(back, w.map(f32::to_bits));
        let back: Vec<u32> = sd["b"].data.iter().map(|&v| (v as f32).to_bits()).collect();
        assert_eq!(back, b.map(f32::to_bits));
        // The header says what safetensors.torch writes.
        let st = SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(st.tensor("w").unwrap().dtype(), Dtype::F32);
    }

    /// rnndyn parameters (f32 values) → PyTorch state dict → `.safetensors` file → state
    /// dict → rnndyn parameters gives the same bits, for every exportable cell.
    #[test]
    fn torch_state_dict_round_trip_through_a_file() {
        use crate::torch::{self, Dims, Keys, TorchCell};
        let dir = std::env::temp_dir().join(format!("rnndyn-st-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dims = Dims {
            hidden: 4,
            inputs: 3,
            outputs: 2,
        };
        let keys = Keys {
            rnn: "rnn.".into(),
            readout: "head.".into(),
        };
        for cell in [TorchCell::Rnn, TorchCell::Gru, TorchCell::Lstm] {
            let n = torch::param_count(cell, dims);
            // Values with full f32 mantissas, signed zeros and extremes.
            let params: Vec<f64> = (0..n)
                .map(|i| match i % 7 {
                    0 => -0.0,
                    1 => f64::from(f32::MIN_POSITIVE),
                    2 => f64::from(3.0e38f32),
                    _ => f64::from((i as f32 * 0.7310586).sin() / 3.0),
                })
                .collect();
            let sd = torch::export_with(cell, dims, &params, &keys).unwrap();
            let order = keys.all();
            let data: Vec<Vec<f32>> = order
                .iter()
                .map(|k| sd[k].data.iter().map(|&v| v as f32).collect())
                .collect();
            let tensors: Vec<(&str, &[usize], &[f32])> = order
                .iter()
                .zip(&data)
                .map(|(k, d)| (k.as_str(), sd[k].shape.as_slice(), d.as_slice()))
                .collect();
            let path = dir.join(format!("{cell}.safetensors"));
            write_f32(&path, &tensors).unwrap();
            let back = read(&path).unwrap();
            assert_eq!(back, sd, "{cell}");
            let imported = torch::import_with(cell, &back, &keys).unwrap();
            assert_eq!(imported.dims, dims);
            // Bit for bit what the in-memory conversion gives, and the parameters' bits.
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            let direct = torch::import_with(cell, &sd, &keys).unwrap();
            assert_eq!(bits(&imported.params), bits(&direct.params), "{cell}");
            assert_eq!(bits(&imported.params), bits(&params), "{cell}");
        }
        // Atomic: nothing but the three files.
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["GRU.safetensors", "LSTM.safetensors", "RNN.safetensors"]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn f16_bf16_f64_are_read_exactly() {
        let vals = [0.5f64, -1.25, 3.0, 0.0];
        let f64s: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
        let f16s: Vec<u8> = vals
            .iter()
            .flat_map(|&v| half::f16::from_f64(v).to_le_bytes())
            .collect();
        let bf16s: Vec<u8> = vals
            .iter()
            .flat_map(|&v| half::bf16::from_f64(v).to_le_bytes())
            .collect();
        for (dtype, data) in [(Dtype::F64, f64s), (Dtype::F16, f16s), (Dtype::BF16, bf16s)] {
            let sd = read_bytes(&one("x", dtype, &[2, 2], &data), &p()).unwrap();
            assert_eq!(sd["x"].shape, vec![2, 2], "{dtype:?}");
            assert_eq!(sd["x"].data, vals, "{dtype:?}");
        }
        // Values an f16 / bf16 cannot hold exactly come back as the rounded value.
        let third = 1.0f64 / 3.0;
        let h = half::f16::from_f64(third);
        let sd = read_bytes(&one("x", Dtype::F16, &[1], &h.to_le_bytes()), &p()).unwrap();
        assert_eq!(sd["x"].data, vec![h.to_f64()]);
        let h = half::bf16::from_f64(third);
        let sd = read_bytes(&one("x", Dtype::BF16, &[1], &h.to_le_bytes()), &p()).unwrap();
        assert_eq!(sd["x"].data, vec![h.to_f64()]);
    }

    #[test]
    fn other_dtypes_are_refused_naming_tensor_and_dtype() {
        let data: Vec<u8> = [1i64, 2].iter().flat_map(|v| v.to_le_bytes()).collect();
        let e = read_bytes(&one("rnn.weight_hh_l0", Dtype::I64, &[2], &data), &p())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("net.safetensors") && e.contains("rnn.weight_hh_l0") && e.contains("I64"),
            "{e}"
        );
        let e = read_bytes(&one("m", Dtype::U8, &[3], &[1, 2, 3]), &p())
            .unwrap_err()
            .to_string();
        assert!(e.contains("U8") && e.contains("\"m\""), "{e}");
    }

    #[test]
    fn corrupt_files_are_errors_naming_the_file() {
        let good = to_bytes(&[("w", &[2, 2], &[1.0f32, 2.0, 3.0, 4.0])], &p()).unwrap();
        let mut cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"garbage".to_vec(),
            b"PK\x03\x04 this is a zip, not safetensors".to_vec(),
            good[..good.len() - 1].to_vec(),
            good[..12].to_vec(),
            [good.clone(), vec![0u8; 4]].concat(),
        ];
        // Header length beyond the file; header that is not JSON.
        let mut huge = good.clone();
        huge[..8].copy_from_slice(&(1u64 << 40).to_le_bytes());
        cases.push(huge);
        let mut not_json = good.clone();
        not_json[8] = b'[';
        cases.push(not_json);
        // Every prefix of a valid file.
        cases.extend((0..good.len()).map(|n| good[..n].to_vec()));
        for bytes in cases {
            let e = read_bytes(&bytes, &p()).unwrap_err();
            assert!(e.to_string().starts_with("net.safetensors: "), "{e}");
        }
        // Missing file.
        let e = read(Path::new("/nonexistent/x.safetensors")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/x.safetensors"), "{e}");
    }

    #[test]
    fn shape_data_mismatch_and_duplicates_are_errors() {
        let e = to_bytes(&[("w", &[2, 3], &[1.0f32; 5])], &p()).unwrap_err();
        assert!(e.to_string().contains("\"w\""), "{e}");
        let e = to_bytes(&[("w", &[1], &[1.0f32]), ("w", &[1], &[2.0f32])], &p()).unwrap_err();
        assert!(e.to_string().contains("duplicate"), "{e}");
    }

    #[test]
    fn extension_detection() {
        assert!(is_safetensors(Path::new("a/b.safetensors")));
        assert!(is_safetensors(Path::new("B.SafeTensors")));
        assert!(!is_safetensors(Path::new("b.npz")));
        assert!(!is_safetensors(Path::new("safetensors")));
    }
}
