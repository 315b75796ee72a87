//! NumPy `.npy` / `.npz` input and output.
//!
//! Reading: `float32` or `float64`, either byte order, C or Fortran order, 1-D or 2-D,
//! into a row-major [`Matrix`] (a 1-D array of length `n` becomes an `n × 1` column);
//! [`read_npz_shaped`] reads any number of dimensions. Fortran-order (column-major) data,
//! as `np.save(f, a.T)` writes them, are reordered into row-major order on reading.
//! The header is parsed here, with checked arithmetic and a length check against the
//! bytes actually present, so a malformed or hostile file gives an [`NpyError`], never a
//! panic or a huge allocation ([`read_matrix_bytes`] is the fuzz entry point).
//!
//! Writing goes through the `npyz` crate and is atomic: data go to a temporary file in
//! the destination directory, which is flushed, synced and renamed over the target.
//!
//! `.npz` archives are ZIP files of `.npy` members named `<array>.npy`. We read and write
//! them with the `zip` crate directly (stored or deflated members; no bzip2/zstd, whose
//! C sources `npyz`'s `npz` feature would pull in through zip's default features).

use crate::analysis::Matrix;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// Header text larger than this is rejected (NumPy itself caps headers at 10 000 bytes
/// unless asked otherwise).
const MAX_HEADER_LEN: usize = 1 << 20;

/// What went wrong reading or writing an `.npy` / `.npz` file. Every variant names the
/// file (`<bytes>` for in-memory input).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NpyError {
    /// Opening, reading, writing, syncing or renaming a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file (an `.npz` member reads as `<archive>/<name>.npy`).
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// The data do not start with the `.npy` magic string `\x93NUMPY`.
    #[error("{path}: not a .npy file (bad magic string)")]
    BadMagic {
        /// The file.
        path: PathBuf,
    },
    /// The data end before the preamble, the header or the array data do.
    #[error("{path}: truncated: {what} needs {expected} bytes, {found} present")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// The part cut short: `preamble`, `header` or `data`.
        what: &'static str,
        /// Bytes needed (counted from the start of the file, or of the data for `data`).
        expected: u64,
        /// Bytes present, counted the same way.
        found: u64,
    },
    /// The format version is not 1, 2 or 3.
    #[error("{path}: unsupported .npy format version {major}.{minor}")]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// Major version byte.
        major: u8,
        /// Minor version byte.
        minor: u8,
    },
    /// The header is longer than 1 MiB, is not ASCII/UTF-8 text, is not a Python dict
    /// literal, or lacks `descr`, `fortran_order` or `shape` (or has them with the wrong type).
    #[error("{path}: malformed header: {reason}")]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// What is wrong with the header.
        reason: String,
    },
    /// The dtype is not `float32` or `float64` (either byte order) or little-endian `int64`,
    /// or is a structured dtype.
    #[error("{path}: unsupported dtype {dtype:?} (expected float32, float64 or int64)")]
    UnsupportedDtype {
        /// The file.
        path: PathBuf,
        /// The header's `descr` (`structured dtype` for a structured one).
        dtype: String,
    },
    /// A matrix was asked for but the array is neither 1-D nor 2-D.
    #[error("{path}: expected a 1-D or 2-D array, found {ndim}-D shape {shape:?}")]
    WrongNdim {
        /// The file.
        path: PathBuf,
        /// Number of dimensions found.
        ndim: usize,
        /// The header's shape.
        shape: Vec<u64>,
    },
    /// The element count or byte size of the header's shape overflows.
    #[error("{path}: array of shape {shape:?} is too large")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The header's shape.
        shape: Vec<u64>,
    },
    /// An `.npz` archive has no member `<name>.npy`.
    #[error("{path}: no array named {name:?} (present: {present:?})")]
    MissingArray {
        /// The archive.
        path: PathBuf,
        /// The array asked for.
        name: String,
        /// The arrays the archive holds, sorted.
        present: Vec<String>,
    },
    /// The `.npz` file is not a ZIP archive the `zip` crate can read (I/O errors are `Io`).
    #[error("{path}: bad .npz archive: {reason}")]
    Zip {
        /// The archive.
        path: PathBuf,
        /// The `zip` crate's message.
        reason: String,
    },
    /// On writing, the product of the shape is not the number of data elements.
    #[error("{path}: shape {shape:?} does not match {len} data elements")]
    ShapeMismatch {
        /// The file being written (`<bytes>` for `to_npy_bytes`).
        path: PathBuf,
        /// The shape given.
        shape: Vec<u64>,
        /// Number of data elements given.
        len: usize,
    },
    /// `NpzWriter::add` was given a name already added to the archive.
    #[error("{path}: duplicate array name {name:?}")]
    DuplicateName {
        /// The archive.
        path: PathBuf,
        /// The repeated name.
        name: String,
    },
}

fn bytes_path() -> PathBuf {
    PathBuf::from("<bytes>")
}

fn io_err(path: &Path, source: io::Error) -> NpyError {
    NpyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

// ---------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------

/// The decoded header of an `.npy` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NpyHeader {
    /// The `descr` string, e.g. `<f8`.
    pub descr: String,
    /// `fortran_order`.
    pub fortran_order: bool,
    /// `shape`.
    pub shape: Vec<u64>,
    /// Offset of the first data byte.
    pub data_offset: usize,
}

/// Reads a 1-D or 2-D float array from an `.npy` file.
pub fn read_matrix(path: impl AsRef<Path>) -> Result<Matrix, NpyError> {
    let path = path.as_ref();
    let mut file = fs::File::open(path).map_err(|e| io_err(path, e))?;
    // Bounded reads: a device (`/dev/zero`) or a large file that is not an `.npy` fails on
    // its first bytes instead of being read whole.
    let mut bytes = Vec::new();
    (&mut file)
        .take(12 + MAX_HEADER_LEN as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| io_err(path, e))?;
    let header = parse_header(&bytes, path)?;
    let item = header
        .descr
        .get(2..)
        .and_then(|d| d.parse::<u64>().ok())
        .unwrap_or(8)
        .max(1);
    let data = header
        .shape
        .iter()
        .try_fold(item, |n, &d| n.checked_mul(d))
        .unwrap_or(u64::MAX);
    // One byte past the data, so trailing bytes are still reported.
    let want = (header.data_offset as u64)
        .saturating_add(data)
        .saturating_add(1);
    if want > bytes.len() as u64 {
        file.take(want - bytes.len() as u64)
            .read_to_end(&mut bytes)
            .map_err(|e| io_err(path, e))?;
    }
    parse_matrix(&bytes, path)
}

/// Reads a 1-D or 2-D float array from the bytes of an `.npy` file.
pub fn read_matrix_bytes(bytes: &[u8]) -> Result<Matrix, NpyError> {
    parse_matrix(bytes, &bytes_path())
}

/// Parses the header of an `.npy` file held in memory.
pub fn parse_header(bytes: &[u8], path: &Path) -> Result<NpyHeader, NpyError> {
    if bytes.len() < 8 || &bytes[..6] != MAGIC {
        let prefix = &bytes[..bytes.len().min(6)];
        if bytes.len() < 8 && !bytes.is_empty() && MAGIC.starts_with(prefix) {
            return Err(NpyError::Truncated {
                path: path.to_path_buf(),
                what: "preamble",
                expected: 10,
                found: bytes.len() as u64,
            });
        }
        return Err(NpyError::BadMagic {
            path: path.to_path_buf(),
        });
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (len_bytes, utf8) = match major {
        1 => (2usize, false),
        2 => (4, false),
        3 => (4, true),
        _ => {
            return Err(NpyError::UnsupportedVersion {
                path: path.to_path_buf(),
                major,
                minor,
            })
        }
    };
    let pre = 8 + len_bytes;
    if bytes.len() < pre {
        return Err(NpyError::Truncated {
            path: path.to_path_buf(),
            what: "preamble",
            expected: pre as u64,
            found: bytes.len() as u64,
        });
    }
    let header_len = if len_bytes == 2 {
        u16::from_le_bytes([bytes[8], bytes[9]]) as usize
    } else {
        u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize
    };
    if header_len > MAX_HEADER_LEN {
        return Err(NpyError::BadHeader {
            path: path.to_path_buf(),
            reason: format!("header length {header_len} exceeds {MAX_HEADER_LEN}"),
        });
    }
    let end = pre + header_len;
    if bytes.len() < end {
        return Err(NpyError::Truncated {
            path: path.to_path_buf(),
            what: "header",
            expected: end as u64,
            found: bytes.len() as u64,
        });
    }
    let raw = &bytes[pre..end];
    // Versions 1 and 2 are latin-1 (in practice ASCII), version 3 is UTF-8.
    let text = if utf8 || raw.is_ascii() {
        std::str::from_utf8(raw).ok()
    } else {
        None
    };
    let text = text.ok_or_else(|| NpyError::BadHeader {
        path: path.to_path_buf(),
        reason: "header is not ASCII/UTF-8 text".into(),
    })?;
    let bad = |reason: String| NpyError::BadHeader {
        path: path.to_path_buf(),
        reason,
    };
    let dict = literal::parse_dict(text).map_err(bad)?;
    let mut descr = None;
    let mut fortran = None;
    let mut shape = None;
    for (k, v) in dict {
        match (k.as_str(), v) {
            ("descr", literal::Value::Str(s)) => descr = Some(s),
            ("descr", _) => {
                return Err(NpyError::UnsupportedDtype {
                    path: path.to_path_buf(),
                    dtype: "structured dtype".into(),
                })
            }
            ("fortran_order", literal::Value::Bool(b)) => fortran = Some(b),
            ("shape", literal::Value::Tuple(t)) => shape = Some(t),
            (key @ ("fortran_order" | "shape"), _) => {
                return Err(bad(format!("{key:?} has the wrong type")))
            }
            _ => {}
        }
    }
    Ok(NpyHeader {
        descr: descr.ok_or_else(|| bad("missing key 'descr'".into()))?,
        fortran_order: fortran.ok_or_else(|| bad("missing key 'fortran_order'".into()))?,
        shape: shape.ok_or_else(|| bad("missing key 'shape'".into()))?,
        data_offset: end,
    })
}

#[derive(Clone, Copy)]
enum Float {
    F32,
    F64,
    /// Little-endian int64 (read as f64: integer arrays this crate writes).
    I64,
}

fn parse_matrix(bytes: &[u8], path: &Path) -> Result<Matrix, NpyError> {
    let (shape, values) = parse_values(bytes, path)?;
    let (rows, cols) = match shape.as_slice() {
        [n] => (*n as usize, 1),
        [r, c] => (*r as usize, *c as usize),
        s => {
            return Err(NpyError::WrongNdim {
                path: path.to_path_buf(),
                ndim: s.len(),
                shape: s.to_vec(),
            })
        }
    };
    let too_large = || NpyError::TooLarge {
        path: path.to_path_buf(),
        shape: shape.clone(),
    };
    Matrix::new(rows, cols, values).map_err(|_| too_large())
}

/// Header shape and values in row-major (C) order, as f64, of a float `.npy` of any number
/// of dimensions. Fortran-order (column-major) data are reordered here.
fn parse_values(bytes: &[u8], path: &Path) -> Result<(Vec<u64>, Vec<f64>), NpyError> {
    let h = parse_header(bytes, path)?;
    let (little, float) = match h.descr.as_str() {
        "<f8" => (true, Float::F64),
        ">f8" => (false, Float::F64),
        "<f4" => (true, Float::F32),
        ">f4" => (false, Float::F32),
        "=f8" | "|f8" => (cfg!(target_endian = "little"), Float::F64),
        "=f4" | "|f4" => (cfg!(target_endian = "little"), Float::F32),
        "<i8" => (true, Float::I64),
        other => {
            return Err(NpyError::UnsupportedDtype {
                path: path.to_path_buf(),
                dtype: other.to_string(),
            })
        }
    };
    let item = match float {
        Float::F32 => 4u64,
        Float::F64 | Float::I64 => 8,
    };
    let too_large = || NpyError::TooLarge {
        path: path.to_path_buf(),
        shape: h.shape.clone(),
    };
    let count = h
        .shape
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d))
        .ok_or_else(too_large)?;
    let nbytes = count.checked_mul(item).ok_or_else(too_large)?;
    let data = &bytes[h.data_offset..];
    if (data.len() as u64) < nbytes {
        return Err(NpyError::Truncated {
            path: path.to_path_buf(),
            what: "data",
            expected: nbytes,
            found: data.len() as u64,
        });
    }
    let count = count as usize;
    let mut values = Vec::with_capacity(count);
    match float {
        Float::F64 | Float::I64 => {
            for c in data[..count * 8].chunks_exact(8) {
                let a: [u8; 8] = c.try_into().expect("chunk of 8");
                values.push(match (float, little) {
                    (Float::I64, _) => i64::from_le_bytes(a) as f64,
                    (_, true) => f64::from_le_bytes(a),
                    (_, false) => f64::from_be_bytes(a),
                });
            }
        }
        Float::F32 => {
            for c in data[..count * 4].chunks_exact(4) {
                let a: [u8; 4] = c.try_into().expect("chunk of 4");
                values.push(f64::from(if little {
                    f32::from_le_bytes(a)
                } else {
                    f32::from_be_bytes(a)
                }));
            }
        }
    }
    if h.fortran_order {
        // Every dimension fits in usize: their product is `count`, checked above.
        let dims: Vec<usize> = h.shape.iter().map(|&d| d as usize).collect();
        values = fortran_to_c(&dims, &values);
    }
    Ok((h.shape, values))
}

/// Reorders the values of an array of shape `shape` stored in Fortran (column-major) order
/// into C (row-major) order: element `(i0, …, ik)` sits at `i0 + d0·(i1 + d1·(…))` in
/// `f`. A 2-D array is transposed; an array with at most one dimension larger than 1 is
/// returned unchanged (both orders coincide).
pub fn fortran_to_c(shape: &[usize], f: &[f64]) -> Vec<f64> {
    if f.is_empty() || shape.iter().filter(|&&d| d > 1).count() <= 1 {
        return f.to_vec();
    }
    debug_assert_eq!(shape.iter().product::<usize>(), f.len());
    // No zero dimension here (`f` is not empty), so every partial product is at most
    // `f.len()` and none overflows.
    let nd = shape.len();
    let mut stride = vec![1usize; nd];
    for k in 1..nd {
        stride[k] = stride[k - 1] * shape[k - 1];
    }
    let mut out = Vec::with_capacity(f.len());
    let mut idx = vec![0usize; nd];
    let mut off = 0usize;
    for _ in 0..f.len() {
        out.push(f[off]);
        // Next C-order index: the last axis runs fastest.
        for k in (0..nd).rev() {
            idx[k] += 1;
            off += stride[k];
            if idx[k] < shape[k] {
                break;
            }
            off -= stride[k] * shape[k];
            idx[k] = 0;
        }
    }
    out
}

/// A tiny parser for the Python literal subset found in `.npy` headers: a dict of string
/// keys to strings, booleans, integer tuples (and, to reject them cleanly, lists).
mod literal {
    #[derive(Debug)]
    pub enum Value {
        Str(String),
        Bool(bool),
        Tuple(Vec<u64>),
        Other,
    }

    struct P<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl P<'_> {
        fn ws(&mut self) {
            while self.i < self.s.len() && (self.s[self.i] as char).is_ascii_whitespace() {
                self.i += 1;
            }
        }
        fn peek(&mut self) -> Option<u8> {
            self.ws();
            self.s.get(self.i).copied()
        }
        fn expect(&mut self, c: u8) -> Result<(), String> {
            match self.peek() {
                Some(x) if x == c => {
                    self.i += 1;
                    Ok(())
                }
                Some(x) => Err(format!(
                    "expected {:?} at byte {}, found {:?}",
                    c as char, self.i, x as char
                )),
                None => Err(format!("expected {:?}, found end of header", c as char)),
            }
        }
        fn string(&mut self) -> Result<String, String> {
            let q = self.peek().ok_or("expected a string")?;
            if q != b'\'' && q != b'"' {
                return Err(format!("expected a string at byte {}", self.i));
            }
            self.i += 1;
            let start = self.i;
            while self.i < self.s.len() && self.s[self.i] != q {
                if self.s[self.i] == b'\\' {
                    return Err("escape sequences are not supported in header strings".into());
                }
                self.i += 1;
            }
            if self.i >= self.s.len() {
                return Err("unterminated string".into());
            }
            let out = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
            self.i += 1;
            Ok(out)
        }
        fn int(&mut self) -> Result<u64, String> {
            self.ws();
            let start = self.i;
            while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
                self.i += 1;
            }
            if start == self.i {
                return Err(format!("expected a non-negative integer at byte {start}"));
            }
            let txt = std::str::from_utf8(&self.s[start..self.i]).map_err(|e| e.to_string())?;
            // Python 2 long suffix.
            if self.i < self.s.len() && (self.s[self.i] == b'L' || self.s[self.i] == b'l') {
                self.i += 1;
            }
            txt.parse::<u64>()
                .map_err(|_| format!("dimension {txt} is too large"))
        }
        fn word(&mut self) -> &str {
            self.ws();
            let start = self.i;
            while self.i < self.s.len() && self.s[self.i].is_ascii_alphanumeric() {
                self.i += 1;
            }
            std::str::from_utf8(&self.s[start..self.i]).unwrap_or("")
        }
        fn seq(&mut self, close: u8) -> Result<Vec<u64>, String> {
            let mut out = Vec::new();
            loop {
                if self.peek() == Some(close) {
                    self.i += 1;
                    return Ok(out);
                }
                if out.len() >= 64 {
                    return Err("too many dimensions".into());
                }
                out.push(self.int()?);
                match self.peek() {
                    Some(b',') => self.i += 1,
                    Some(c) if c == close => {}
                    _ => return Err("malformed shape tuple".into()),
                }
            }
        }
        fn value(&mut self) -> Result<Value, String> {
            match self.peek() {
                Some(b'\'') | Some(b'"') => Ok(Value::Str(self.string()?)),
                Some(b'(') => {
                    self.i += 1;
                    Ok(Value::Tuple(self.seq(b')')?))
                }
                Some(b'[') => {
                    // A structured dtype: skip to the matching bracket (bounded depth).
                    let mut depth = 0usize;
                    while self.i < self.s.len() {
                        match self.s[self.i] {
                            b'[' | b'(' => depth += 1,
                            b']' | b')' => {
                                depth = depth.saturating_sub(1);
                                if depth == 0 {
                                    self.i += 1;
                                    return Ok(Value::Other);
                                }
                            }
                            _ => {}
                        }
                        self.i += 1;
                    }
                    Err("unterminated list".into())
                }
                Some(c) if c.is_ascii_digit() => {
                    self.int()?;
                    Ok(Value::Other)
                }
                Some(_) => {
                    let at = self.i;
                    match self.word() {
                        "True" => Ok(Value::Bool(true)),
                        "False" => Ok(Value::Bool(false)),
                        w => Err(format!("unexpected token {w:?} at byte {at}")),
                    }
                }
                None => Err("unexpected end of header".into()),
            }
        }
    }

    pub fn parse_dict(text: &str) -> Result<Vec<(String, Value)>, String> {
        let mut p = P {
            s: text.as_bytes(),
            i: 0,
        };
        p.expect(b'{')?;
        let mut out = Vec::new();
        loop {
            if p.peek() == Some(b'}') {
                p.i += 1;
                break;
            }
            let k = p.string()?;
            p.expect(b':')?;
            let v = p.value()?;
            out.push((k, v));
            match p.peek() {
                Some(b',') => p.i += 1,
                Some(b'}') => {}
                _ => return Err("expected ',' or '}' in header dict".into()),
            }
        }
        p.ws();
        if p.i != p.s.len() {
            return Err("trailing characters after header dict".into());
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------

mod sealed {
    pub trait Sealed {}
}

/// Element types that can be written: `f64`, `f32`, `i64`, `i32`, `u64`, `u32`, `u8`,
/// `bool`.
pub trait Element: npyz::AutoSerialize + sealed::Sealed + Copy {}
macro_rules! element {
    ($($t:ty),*) => {$(impl sealed::Sealed for $t {} impl Element for $t {})*};
}
element!(f64, f32, i64, i32, u64, u32, u8, bool);

/// The bytes of an `.npy` file holding `data` (row-major) with the given `shape`.
pub fn to_npy_bytes<T: Element>(shape: &[usize], data: &[T]) -> Result<Vec<u8>, NpyError> {
    let expected = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if expected != Some(data.len()) {
        return Err(NpyError::ShapeMismatch {
            path: bytes_path(),
            shape: shape.iter().map(|&d| d as u64).collect(),
            len: data.len(),
        });
    }
    use npyz::WriterBuilder;
    let shape64: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let mut buf = Vec::with_capacity(128 + std::mem::size_of_val(data));
    let mut w = npyz::WriteOptions::<T>::new()
        .default_dtype()
        .shape(&shape64)
        .writer(&mut buf)
        .begin_nd()
        .map_err(|e| io_err(&bytes_path(), e))?;
    w.extend(data.iter().copied())
        .map_err(|e| io_err(&bytes_path(), e))?;
    w.finish().map_err(|e| io_err(&bytes_path(), e))?;
    Ok(buf)
}

/// Writes an `.npy` file atomically.
pub fn write_array<T: Element>(
    path: impl AsRef<Path>,
    shape: &[usize],
    data: &[T],
) -> Result<(), NpyError> {
    let path = path.as_ref();
    let bytes = to_npy_bytes(shape, data).map_err(|e| rename_path(e, path))?;
    write_atomic(path, |f| f.write_all(&bytes))
}

/// Writes a matrix as a 2-D `float64` `.npy` file, atomically.
pub fn write_matrix(path: impl AsRef<Path>, m: &Matrix) -> Result<(), NpyError> {
    write_array(path, &[m.rows(), m.cols()], m.as_slice())
}

fn rename_path(e: NpyError, path: &Path) -> NpyError {
    match e {
        NpyError::ShapeMismatch { shape, len, .. } => NpyError::ShapeMismatch {
            path: path.to_path_buf(),
            shape,
            len,
        },
        NpyError::Io { source, .. } => io_err(path, source),
        other => other,
    }
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes through `f` into a temporary file next to `path`, syncs it and renames it over
/// `path`; on error the temporary file is removed and `path` is untouched.
pub fn write_atomic(
    path: &Path,
    f: impl FnOnce(&mut io::BufWriter<fs::File>) -> io::Result<()>,
) -> Result<(), NpyError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| {
            io_err(
                path,
                io::Error::new(io::ErrorKind::InvalidInput, "not a file path"),
            )
        })?
        .to_string_lossy()
        .into_owned();
    let tmp = dir.join(format!(
        ".{name}.tmp.{}.{}",
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| -> io::Result<()> {
        let file = fs::File::create(&tmp)?;
        let mut w = io::BufWriter::new(file);
        f(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(path, e));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// .npz
// ---------------------------------------------------------------------------------------

/// Collects named arrays and writes them as one `.npz` archive (uncompressed, like
/// `np.savez`), atomically, on [`NpzWriter::finish`].
#[derive(Debug)]
pub struct NpzWriter {
    path: PathBuf,
    members: Vec<(String, Vec<u8>)>,
}

impl NpzWriter {
    /// A writer for the archive at `path` (nothing is written until `finish`).
    pub fn new(path: impl AsRef<Path>) -> Self {
        NpzWriter {
            path: path.as_ref().to_path_buf(),
            members: Vec::new(),
        }
    }

    /// Adds an array `name` (read back in NumPy as `np.load(path)[name]`).
    pub fn add<T: Element>(
        &mut self,
        name: &str,
        shape: &[usize],
        data: &[T],
    ) -> Result<&mut Self, NpyError> {
        if self.members.iter().any(|(n, _)| n == name) {
            return Err(NpyError::DuplicateName {
                path: self.path.clone(),
                name: name.to_string(),
            });
        }
        let bytes = to_npy_bytes(shape, data).map_err(|e| rename_path(e, &self.path))?;
        self.members.push((name.to_string(), bytes));
        Ok(self)
    }

    /// Adds a matrix as a 2-D `float64` array.
    pub fn add_matrix(&mut self, name: &str, m: &Matrix) -> Result<&mut Self, NpyError> {
        self.add(name, &[m.rows(), m.cols()], m.as_slice())
    }

    /// Writes the archive atomically.
    pub fn finish(self) -> Result<(), NpyError> {
        let NpzWriter { path, members } = self;
        write_atomic(&path, |w| {
            let mut zip = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
            for (name, bytes) in &members {
                let opts = zip::write::FileOptions::default()
                    .compression_method(zip::CompressionMethod::Stored)
                    .large_file(bytes.len() as u64 >= u32::MAX as u64);
                zip.start_file(format!("{name}.npy"), opts)
                    .map_err(zip_io)?;
                zip.write_all(bytes)?;
            }
            let cursor = zip.finish().map_err(zip_io)?;
            w.write_all(cursor.get_ref())
        })
    }
}

fn zip_io(e: zip::result::ZipError) -> io::Error {
    match e {
        zip::result::ZipError::Io(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

fn zip_err(path: &Path, e: zip::result::ZipError) -> NpyError {
    match e {
        zip::result::ZipError::Io(e) => io_err(path, e),
        other => NpyError::Zip {
            path: path.to_path_buf(),
            reason: other.to_string(),
        },
    }
}

/// The names of the arrays in an `.npz` archive, in archive order.
pub fn npz_names(path: impl AsRef<Path>) -> Result<Vec<String>, NpyError> {
    let path = path.as_ref();
    let file = fs::File::open(path).map_err(|e| io_err(path, e))?;
    let mut archive =
        zip::ZipArchive::new(io::BufReader::new(file)).map_err(|e| zip_err(path, e))?;
    let mut names = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(|e| zip_err(path, e))?;
        if let Some(n) = entry.name().strip_suffix(".npy") {
            names.push(n.to_string());
        }
    }
    Ok(names)
}

/// Reads the 1-D or 2-D float array `name` from an `.npz` archive.
pub fn read_npz_array(path: impl AsRef<Path>, name: &str) -> Result<Matrix, NpyError> {
    let (bytes, member_path) = read_npz_member(path.as_ref(), name)?;
    parse_matrix(&bytes, &member_path)
}

/// Reads the 1-D or 2-D float array `name` from an `.npz` archive with the shape in its
/// header (a matrix alone cannot tell `(n,)` from `(n, 1)`).
pub fn read_npz_array_with_shape(
    path: impl AsRef<Path>,
    name: &str,
) -> Result<(Vec<u64>, Matrix), NpyError> {
    let (bytes, member_path) = read_npz_member(path.as_ref(), name)?;
    let shape = parse_header(&bytes, &member_path)?.shape;
    Ok((shape, parse_matrix(&bytes, &member_path)?))
}

/// Reads the float (or int64, as f64) array `name` of any shape from an `.npz` archive,
/// with its shape and row-major values (a Fortran-order member, e.g. `np.savez(f, W=W.T)`,
/// is reordered).
pub fn read_npz_shaped(
    path: impl AsRef<Path>,
    name: &str,
) -> Result<(Vec<usize>, Vec<f64>), NpyError> {
    let (bytes, member_path) = read_npz_member(path.as_ref(), name)?;
    let (shape, values) = parse_values(&bytes, &member_path)?;
    Ok((shape.iter().map(|&d| d as usize).collect(), values))
}

/// The raw `.npy` bytes of member `name` of an `.npz` archive and a path naming it.
fn read_npz_member(path: &Path, name: &str) -> Result<(Vec<u8>, PathBuf), NpyError> {
    let file = fs::File::open(path).map_err(|e| io_err(path, e))?;
    let mut archive =
        zip::ZipArchive::new(io::BufReader::new(file)).map_err(|e| zip_err(path, e))?;
    let member = format!("{name}.npy");
    let member_path = path.join(&member);
    let mut present: Vec<String> = archive
        .file_names()
        .filter_map(|n| n.strip_suffix(".npy"))
        .map(str::to_string)
        .collect();
    present.sort();
    let mut entry = match archive.by_name(&member) {
        Ok(e) => e,
        Err(zip::result::ZipError::FileNotFound) => {
            return Err(NpyError::MissingArray {
                path: path.to_path_buf(),
                name: name.to_string(),
                present,
            });
        }
        Err(e) => return Err(zip_err(path, e)),
    };
    let mut bytes = Vec::with_capacity(entry.size().min(1 << 30) as usize);
    entry
        .read_to_end(&mut bytes)
        .map_err(|e| io_err(&member_path, e))?;
    Ok((bytes, member_path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_bytes(dict: &str, data: &[u8]) -> Vec<u8> {
        let mut h = dict.to_string();
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(h.len() as u16).to_le_bytes());
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn roundtrip_f64_bytes() {
        let m = Matrix::from_fn(3, 4, |i, j| i as f64 * 10.0 + j as f64 - 0.5);
        let b = to_npy_bytes(&[3, 4], m.as_slice()).unwrap();
        assert_eq!(read_matrix_bytes(&b).unwrap(), m);
    }

    #[test]
    fn big_endian_fortran_f32() {
        // 2x3 matrix [[1,2,3],[4,5,6]] in Fortran order: 1,4,2,5,3,6.
        let mut data = Vec::new();
        for v in [1.0f32, 4.0, 2.0, 5.0, 3.0, 6.0] {
            data.extend_from_slice(&v.to_be_bytes());
        }
        let b = header_bytes(
            "{'descr': '>f4', 'fortran_order': True, 'shape': (2, 3), }",
            &data,
        );
        let m = read_matrix_bytes(&b).unwrap();
        assert_eq!(m.shape(), (2, 3));
        assert_eq!(m.as_slice(), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }

    fn f8_bytes(values: impl IntoIterator<Item = f64>) -> Vec<u8> {
        values.into_iter().flat_map(f64::to_le_bytes).collect()
    }

    /// An `.npz` of hand-made `.npy` members (stored, as `np.savez` writes them).
    fn npz_of(path: &Path, members: &[(&str, Vec<u8>)]) {
        let mut zip = zip::ZipWriter::new(fs::File::create(path).unwrap());
        for (name, bytes) in members {
            let opts = zip::write::FileOptions::default()
                .compression_method(zip::CompressionMethod::Stored);
            zip.start_file(format!("{name}.npy"), opts).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rnndyn-npy-{tag}-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn fortran_order_2d_reads_as_c_order() {
        // [[0, 1, 2], [10, 11, 12]] stored column by column.
        let c_order = [0.0, 1.0, 2.0, 10.0, 11.0, 12.0];
        let b = header_bytes(
            "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
            &f8_bytes([0.0, 10.0, 1.0, 11.0, 2.0, 12.0]),
        );
        let (shape, values) = parse_values(&b, Path::new("f.npy")).unwrap();
        assert_eq!((shape, values), (vec![2, 3], c_order.to_vec()));
        assert_eq!(read_matrix_bytes(&b).unwrap().as_slice(), &c_order);
        // A row or a column: both orders are the same bytes.
        for shape in ["(1, 6)", "(6, 1)", "(6,)"] {
            let b = header_bytes(
                &format!("{{'descr': '<f8', 'fortran_order': True, 'shape': {shape}, }}"),
                &f8_bytes(c_order),
            );
            assert_eq!(parse_values(&b, Path::new("f.npy")).unwrap().1, c_order);
        }
    }

    #[test]
    fn fortran_order_3d_reads_as_c_order_from_npz() {
        let (d0, d1, d2) = (2usize, 3usize, 4usize);
        let value = |i: usize, j: usize, k: usize| (100 * i + 10 * j + k) as f64;
        let mut c_order = Vec::new();
        for i in 0..d0 {
            for j in 0..d1 {
                for k in 0..d2 {
                    c_order.push(value(i, j, k));
                }
            }
        }
        // Fortran order: the first axis runs fastest.
        let mut f_order = Vec::new();
        for k in 0..d2 {
            for j in 0..d1 {
                for i in 0..d0 {
                    f_order.push(value(i, j, k));
                }
            }
        }
        let dir = temp_dir("f3");
        let p = dir.join("a.npz");
        let header = |fortran: &str| {
            format!("{{'descr': '<f8', 'fortran_order': {fortran}, 'shape': (2, 3, 4), }}")
        };
        npz_of(
            &p,
            &[
                ("f", header_bytes(&header("True"), &f8_bytes(f_order))),
                (
                    "c",
                    header_bytes(&header("False"), &f8_bytes(c_order.clone())),
                ),
                // Fortran order keeps the checks: too few data bytes is still `Truncated`.
                ("short", header_bytes(&header("True"), &[0u8; 8 * 23])),
            ],
        );
        assert_eq!(read_npz_shaped(&p, "f").unwrap(), (vec![2, 3, 4], c_order));
        assert_eq!(
            read_npz_shaped(&p, "f").unwrap(),
            read_npz_shaped(&p, "c").unwrap()
        );
        assert!(matches!(
            read_npz_shaped(&p, "short"),
            Err(NpyError::Truncated { what: "data", .. })
        ));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn fortran_order_keeps_dtype_and_shape_checks() {
        let b = header_bytes(
            "{'descr': '<i4', 'fortran_order': True, 'shape': (2, 2), }",
            &[0u8; 16],
        );
        assert!(matches!(
            read_matrix_bytes(&b),
            Err(NpyError::UnsupportedDtype { .. })
        ));
        let b = header_bytes(
            "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2, 2), }",
            &[0u8; 64],
        );
        assert!(matches!(
            read_matrix_bytes(&b),
            Err(NpyError::WrongNdim { ndim: 3, .. })
        ));
        // Empty and huge-but-empty shapes: no data, no overflow.
        for shape in ["(0, 3)", "(18446744073709551615, 0, 7)"] {
            let b = header_bytes(
                &format!("{{'descr': '<f8', 'fortran_order': True, 'shape': {shape}, }}"),
                &[],
            );
            let (_, values) = parse_values(&b, Path::new("f.npy")).unwrap();
            assert!(values.is_empty());
        }
    }

    /// `np.savez(f, weight_hh_l0=np.asfortranarray(W))`: a Fortran-order PyTorch weight
    /// imports to the same network as the C-order one.
    #[test]
    fn fortran_order_torch_weight_imports_like_c_order() {
        use crate::torch::{self, Array, Dims, StateDict, TorchCell};
        let cell = TorchCell::Gru;
        let dims = Dims {
            hidden: 3,
            inputs: 2,
            outputs: 2,
        };
        let p: Vec<f64> = (0..torch::param_count(cell, dims))
            .map(|v| (v as f64 * 0.37).sin())
            .collect();
        let sd = torch::export(cell, dims, &p).unwrap();
        let dir = temp_dir("torchf");
        let (c_path, f_path) = (dir.join("c.npz"), dir.join("f.npz"));
        let mut c_members = Vec::new();
        let mut f_members = Vec::new();
        for (name, a) in &sd {
            let c_bytes = to_npy_bytes(&a.shape, &a.data).unwrap();
            let f_bytes = if name == "weight_hh_l0" {
                let (rows, cols) = (a.shape[0], a.shape[1]);
                let column_major = (0..cols)
                    .flat_map(|j| (0..rows).map(move |i| (i, j)))
                    .map(|(i, j)| a.data[i * cols + j]);
                header_bytes(
                    &format!(
                        "{{'descr': '<f8', 'fortran_order': True, 'shape': ({rows}, {cols}), }}"
                    ),
                    &f8_bytes(column_major),
                )
            } else {
                c_bytes.clone()
            };
            c_members.push((name.as_str(), c_bytes));
            f_members.push((name.as_str(), f_bytes));
        }
        npz_of(&c_path, &c_members);
        npz_of(&f_path, &f_members);
        let load = |path: &Path| -> StateDict {
            npz_names(path)
                .unwrap()
                .into_iter()
                .map(|n| {
                    let (shape, data) = read_npz_shaped(path, &n).unwrap();
                    (n, Array::new(shape, data).unwrap())
                })
                .collect()
        };
        let (c_sd, f_sd) = (load(&c_path), load(&f_path));
        assert_eq!(c_sd, sd);
        assert_eq!(f_sd, sd);
        let imported = torch::import(cell, &f_sd).unwrap();
        assert_eq!(imported, torch::import(cell, &c_sd).unwrap());
        assert_eq!(imported.params, p);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn one_d_is_a_column() {
        let b = header_bytes(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
            &[1.5f64.to_le_bytes(), 2.5f64.to_le_bytes()].concat(),
        );
        let m = read_matrix_bytes(&b).unwrap();
        assert_eq!(m.shape(), (2, 1));
    }

    #[test]
    fn malformed_inputs_are_specific_errors() {
        assert!(matches!(
            read_matrix_bytes(b"PK\x03\x04hello"),
            Err(NpyError::BadMagic { .. })
        ));
        assert!(matches!(
            read_matrix_bytes(b"\x93NUM"),
            Err(NpyError::Truncated { .. })
        ));
        let b = header_bytes(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (4, 4), }",
            &[0u8; 8 * 15],
        );
        assert!(matches!(
            read_matrix_bytes(&b),
            Err(NpyError::Truncated { what: "data", .. })
        ));
        let b = header_bytes(
            "{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }",
            &[0u8; 8],
        );
        assert!(matches!(
            read_matrix_bytes(&b),
            Err(NpyError::UnsupportedDtype { .. })
        ));
        let b = header_bytes(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 1), }",
            &[0u8; 8],
        );
        assert!(matches!(
            read_matrix_bytes(&b),
            Err(NpyError::WrongNdim { ndim: 3, .. })
        ));
        let b = header_bytes(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (18446744073709551615, 3), }",
            &[],
        );
        assert!(matches!(
            read_matrix_bytes(&b),
            Err(NpyError::TooLarge { .. })
        ));
        let b = header_bytes("{'descr': '<f8', 'shape': (1,), }", &[0u8; 8]);
        assert!(matches!(
            read_matrix_bytes(&b),
            Err(NpyError::BadHeader { .. })
        ));
        let b = header_bytes(
            "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }",
            &[0u8; 8],
        );
        assert!(matches!(
            read_matrix_bytes(&b),
            Err(NpyError::UnsupportedDtype { .. })
        ));
    }

    #[test]
    fn mutated_and_truncated_bytes_never_panic() {
        let m = Matrix::from_fn(3, 2, |i, j| (i + j) as f64);
        let good = to_npy_bytes(&[3, 2], m.as_slice()).unwrap();
        for len in 0..good.len() {
            assert!(read_matrix_bytes(&good[..len]).is_err(), "prefix {len}");
        }
        for pos in 0..good.len() {
            for v in [0u8, b' ', b'(', b')', b',', b'9', b'\'', b'}', 0x80, 0xff] {
                let mut b = good.clone();
                b[pos] = v;
                let _ = read_matrix_bytes(&b);
            }
        }
    }

    #[test]
    fn errors_name_the_file() {
        let e = read_matrix("/nonexistent/dir/x.npy").unwrap_err();
        assert!(e.to_string().contains("/nonexistent/dir/x.npy"), "{e}");
    }

    #[test]
    fn npz_roundtrip_and_missing_name() {
        let dir = std::env::temp_dir().join(format!("rnndyn-npz-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.npz");
        let m = Matrix::from_fn(2, 3, |i, j| (i * 3 + j) as f64);
        let mut w = NpzWriter::new(&p);
        w.add_matrix("m", &m).unwrap();
        w.add("v", &[3], &[1.0f32, 2.0, 3.0]).unwrap();
        assert!(matches!(
            w.add("m", &[1], &[1.0f64]),
            Err(NpyError::DuplicateName { .. })
        ));
        w.finish().unwrap();
        assert_eq!(read_npz_array(&p, "m").unwrap(), m);
        assert_eq!(
            read_npz_array(&p, "v").unwrap().as_slice(),
            &[1.0, 2.0, 3.0]
        );
        assert!(matches!(
            read_npz_array(&p, "nope"),
            Err(NpyError::MissingArray { .. })
        ));
        let mut names = npz_names(&p).unwrap();
        names.sort();
        assert_eq!(names, ["m", "v"]);
        let q = dir.join("b.npy");
        write_matrix(&q, &m).unwrap();
        assert_eq!(read_matrix(&q).unwrap(), m);
        // No temporary files left behind.
        let leftovers: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp."))
            .collect();
        assert!(leftovers.is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }
}
