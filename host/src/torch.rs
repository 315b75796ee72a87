//! Conversion between PyTorch weights and rnndyn's flat parameter vectors (pure array maths,
//! no file I/O).
//!
//! # PyTorch side
//! A single-layer, unidirectional `nn.RNN` (`nonlinearity` `tanh` or `relu`), `nn.GRU` or
//! `nn.LSTM` (no `proj_size`) plus an `nn.Linear` readout, as a state dict:
//!
//! | key            | shape     | notes                                              |
//! |----------------|-----------|----------------------------------------------------|
//! | `weight_ih_l0` | `(kH, I)` | gate blocks stacked by rows                        |
//! | `weight_hh_l0` | `(kH, H)` |                                                    |
//! | `bias_ih_l0`   | `(kH,)`   | optional (`bias=False`): zeros                     |
//! | `bias_hh_l0`   | `(kH,)`   | optional (`bias=False`): zeros                     |
//! | `readout.weight` | `(O, H)`|                                                    |
//! | `readout.bias` | `(O,)`    | optional (`bias=False`): zeros                     |
//!
//! with `k = 1` (RNN), `3` (GRU, gate order `r, z, n`) or `4` (LSTM, order `i, f, g, o`).
//! PyTorch uses column vectors: `r = σ(W_ir x + b_ir + W_hr h + b_hr)`,
//! `n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`, `h' = (1 − z) ⊙ n + z ⊙ h`.
//! Key prefixes are configurable through [`Keys`] (e.g. `rnn.` for a submodule).
//! The RNN's nonlinearity is a module attribute, not a weight: pass it to the cell yourself.
//!
//! # rnndyn side
//! Row-vector convention `z = h W + x U + b`, blocks row-major, gate blocks side by side,
//! cell blocks then the readout (see `rnndyn_core::cell` and `rnndyn_core::train::bptt`):
//!
//! | cell | blocks in order                                                       |
//! |------|-----------------------------------------------------------------------|
//! | RNN  | `W (H, H)`, `U (I, H)`, `b (H)`                                       |
//! | GRU  | `W (H, 3H)`, `U (I, 3H)`, `b (3H)` in order `z, r, c`, then `bh (H)`     |
//! | LSTM | `W (H, 4H)`, `U (I, 4H)`, `b (4H)` in order `i, f, g, o`               |
//!
//! followed by `Wo (H, O)` and `bo (O)`. The GRU layout is rnndyn's
//! `GruConvention::ResetAfterProduct` (PyTorch's): `c = φ(x U_c + b_c + r ⊙ (h W_c + bh))`,
//! `h' = z ⊙ h + (1 − z) ⊙ c` — the same update as PyTorch's with `z` its update gate.
//!
//! # Biases
//! Import sums `bias_ih + bias_hh` into `b`, except the GRU candidate: `b_c = b_in`,
//! `bh = b_hn` (they are not interchangeable, `b_hn` sits inside the reset product).
//! Export puts `b` in `bias_ih` and zeros in `bias_hh`, except `bias_hh`'s `n` block,
//! which receives `bh`. So `import(export(p)) == p` bit for bit, and `export(import(d))` is
//! `d` up to moving the summed biases into `bias_ih`.

use std::collections::BTreeMap;
use std::fmt;

/// A dense row-major (C-order) `f64` array, as stored in a `.npy` file.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// Values in row-major order; length is the product of `shape`.
    pub data: Vec<f64>,
}

impl Array {
    /// An array of `shape` holding `data` (length checked against the shape).
    pub fn new(shape: Vec<usize>, data: Vec<f64>) -> Result<Self, TorchError> {
        let expected = shape.iter().product::<usize>();
        if data.len() != expected {
            return Err(TorchError::DataLength {
                shape,
                expected,
                got: data.len(),
            });
        }
        Ok(Array { shape, data })
    }

    /// Zeros of `shape`.
    pub fn zeros(shape: Vec<usize>) -> Self {
        let n = shape.iter().product();
        Array {
            shape,
            data: vec![0.0; n],
        }
    }
}

/// A PyTorch-style state dict: key → array.
pub type StateDict = BTreeMap<String, Array>;

/// The PyTorch recurrent module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TorchCell {
    /// `nn.RNN` (tanh or relu): 1 block.
    Rnn,
    /// `nn.GRU`: 3 blocks.
    Gru,
    /// `nn.LSTM`: 4 blocks.
    Lstm,
}

impl TorchCell {
    /// Gate blocks `k` of `weight_ih_l0 (kH, I)`.
    pub fn gates(self) -> usize {
        match self {
            TorchCell::Rnn => 1,
            TorchCell::Gru => 3,
            TorchCell::Lstm => 4,
        }
    }

    /// For rnndyn block `j` (in rnndyn's gate order), the PyTorch gate index.
    fn torch_gate(self, j: usize) -> usize {
        match self {
            // rnndyn [z | r | c]  ←  PyTorch [r, z, n]
            TorchCell::Gru => [1, 0, 2][j],
            TorchCell::Rnn | TorchCell::Lstm => j,
        }
    }
}

impl fmt::Display for TorchCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TorchCell::Rnn => "RNN",
            TorchCell::Gru => "GRU",
            TorchCell::Lstm => "LSTM",
        })
    }
}

/// Hidden, input and output sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Dims {
    /// Hidden size `H`.
    pub hidden: usize,
    /// Inputs per time step `I`.
    pub inputs: usize,
    /// Outputs per time step `O`.
    pub outputs: usize,
}

impl fmt::Display for Dims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "H={}, I={}, O={}",
            self.hidden, self.inputs, self.outputs
        )
    }
}

/// Key prefixes of the recurrent module and of the readout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys {
    /// Before `weight_ih_l0` etc. Default `""`.
    pub rnn: String,
    /// Before `weight` / `bias` of the readout. Default `"readout."`.
    pub readout: String,
}

impl Default for Keys {
    fn default() -> Self {
        Keys {
            rnn: String::new(),
            readout: "readout.".into(),
        }
    }
}

impl Keys {
    fn w_ih(&self) -> String {
        format!("{}weight_ih_l0", self.rnn)
    }
    fn w_hh(&self) -> String {
        format!("{}weight_hh_l0", self.rnn)
    }
    fn b_ih(&self) -> String {
        format!("{}bias_ih_l0", self.rnn)
    }
    fn b_hh(&self) -> String {
        format!("{}bias_hh_l0", self.rnn)
    }
    fn ro_w(&self) -> String {
        format!("{}weight", self.readout)
    }
    fn ro_b(&self) -> String {
        format!("{}bias", self.readout)
    }
    /// The six keys in PyTorch's `state_dict()` order: `weight_ih_l0`, `weight_hh_l0`,
    /// `bias_ih_l0`, `bias_hh_l0`, readout `weight`, readout `bias`.
    pub fn all(&self) -> [String; 6] {
        [
            self.w_ih(),
            self.w_hh(),
            self.b_ih(),
            self.b_hh(),
            self.ro_w(),
            self.ro_b(),
        ]
    }
}

/// Why a conversion failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TorchError {
    /// A required array (`weight_ih_l0`, `weight_hh_l0` or the readout `weight`) is absent.
    #[error("missing array `{key}`")]
    Missing {
        /// The full key, prefix included.
        key: String,
    },
    /// An array has the wrong number of dimensions or the wrong sizes.
    #[error("array `{key}` has shape {got:?}, expected {expected}")]
    Shape {
        /// The full key, prefix included.
        key: String,
        /// The expected shape as text, e.g. `[12]` or `[4H, H]`.
        expected: String,
        /// The shape found.
        got: Vec<usize>,
    },
    /// An imported array holds a NaN or an infinity.
    #[error("array `{key}` contains NaN or infinity")]
    NonFinite {
        /// The full key, prefix included.
        key: String,
    },
    /// A key under the recurrent or readout prefix is not one of the six known keys (a
    /// multi-layer, bidirectional or projected module).
    #[error(
        "unexpected array `{key}` (only single-layer, unidirectional modules without \
         projection and a readout are supported)"
    )]
    Unexpected {
        /// The unexpected key.
        key: String,
    },
    /// An array's data length is not the product of its shape.
    #[error("array of shape {shape:?} needs {expected} values, got {got}")]
    DataLength {
        /// The array's shape.
        shape: Vec<usize>,
        /// Values the shape needs.
        expected: usize,
        /// Values present.
        got: usize,
    },
    /// On export, the parameter vector's length is not `param_count(cell, dims)`.
    #[error("{cell} parameter vector for {dims} has {expected} values, got {got}")]
    ParamLength {
        /// The PyTorch module.
        cell: TorchCell,
        /// The sizes given.
        dims: Dims,
        /// Values the layout needs.
        expected: usize,
        /// Values given.
        got: usize,
    },
    /// The hidden size is 0 (`weight_hh_l0` has no columns on import, or `dims.hidden` is
    /// 0 on export).
    #[error("hidden size must be at least 1")]
    EmptyHidden,
}

/// A converted network: sizes and rnndyn's flat parameter vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Imported {
    /// Sizes inferred from the state dict.
    pub dims: Dims,
    /// rnndyn's flat parameter vector, blocks as in `blocks` (length `param_count`).
    pub params: Vec<f64>,
}

/// rnndyn's blocks for `cell` in storage order: `(name, rows, cols)`.
pub fn blocks(cell: TorchCell, dims: Dims) -> Vec<(&'static str, usize, usize)> {
    let (h, i, o, k) = (dims.hidden, dims.inputs, dims.outputs, cell.gates());
    let mut v = vec![("W", h, k * h), ("U", i, k * h), ("b", 1, k * h)];
    if cell == TorchCell::Gru {
        v.push(("bh", 1, h));
    }
    v.extend([("Wo", h, o), ("bo", 1, o)]);
    v
}

/// Length of rnndyn's parameter vector for `cell` and `dims`.
pub fn param_count(cell: TorchCell, dims: Dims) -> usize {
    blocks(cell, dims).iter().map(|&(_, r, c)| r * c).sum()
}

/// Offsets of the blocks of [`blocks`].
struct Offsets {
    w: usize,
    u: usize,
    b: usize,
    bh: usize,
    wo: usize,
    bo: usize,
}

fn offsets(cell: TorchCell, d: Dims) -> Offsets {
    let kh = cell.gates() * d.hidden;
    let w = 0;
    let u = w + d.hidden * kh;
    let b = u + d.inputs * kh;
    let bh = b + kh;
    let wo = bh + if cell == TorchCell::Gru { d.hidden } else { 0 };
    let bo = wo + d.hidden * d.outputs;
    Offsets {
        w,
        u,
        b,
        bh,
        wo,
        bo,
    }
}

fn get<'a>(sd: &'a StateDict, key: &str) -> Result<&'a Array, TorchError> {
    sd.get(key)
        .ok_or_else(|| TorchError::Missing { key: key.into() })
}

/// A 2-D array's `(rows, cols)`.
fn matrix_dims(key: &str, a: &Array, expected: &str) -> Result<(usize, usize), TorchError> {
    match a.shape[..] {
        [r, c] => Ok((r, c)),
        _ => Err(TorchError::Shape {
            key: key.into(),
            expected: expected.into(),
            got: a.shape.clone(),
        }),
    }
}

fn expect_shape(key: &str, a: &Array, shape: &[usize]) -> Result<(), TorchError> {
    if a.shape != shape {
        return Err(TorchError::Shape {
            key: key.into(),
            expected: format!("{shape:?}"),
            got: a.shape.clone(),
        });
    }
    if a.data.len() != a.shape.iter().product::<usize>() {
        return Err(TorchError::DataLength {
            shape: a.shape.clone(),
            expected: a.shape.iter().product(),
            got: a.data.len(),
        });
    }
    if a.data.iter().any(|x| !x.is_finite()) {
        return Err(TorchError::NonFinite { key: key.into() });
    }
    Ok(())
}

/// Sizes implied by the state dict's shapes (checks only the shapes that define them).
pub fn infer_dims(cell: TorchCell, sd: &StateDict, keys: &Keys) -> Result<Dims, TorchError> {
    let k = cell.gates();
    let key = keys.w_hh();
    let (rows, hidden) = matrix_dims(&key, get(sd, &key)?, &format!("[{k}H, H]"))?;
    if hidden == 0 {
        return Err(TorchError::EmptyHidden);
    }
    if rows != k * hidden {
        return Err(TorchError::Shape {
            key,
            expected: format!("[{}, {hidden}]", k * hidden),
            got: vec![rows, hidden],
        });
    }
    let key = keys.w_ih();
    let (_, inputs) = matrix_dims(&key, get(sd, &key)?, &format!("[{}, I]", k * hidden))?;
    let key = keys.ro_w();
    let (outputs, _) = matrix_dims(&key, get(sd, &key)?, &format!("[O, {hidden}]"))?;
    Ok(Dims {
        hidden,
        inputs,
        outputs,
    })
}

/// Converts a PyTorch state dict (default [`Keys`]) to rnndyn's parameter vector.
pub fn import(cell: TorchCell, sd: &StateDict) -> Result<Imported, TorchError> {
    import_with(cell, sd, &Keys::default())
}

/// [`import`] with explicit key prefixes.
///
/// Every key starting with either prefix must be one of the six known keys (so a
/// multi-layer, bidirectional or projected module is an error, not silently truncated).
pub fn import_with(cell: TorchCell, sd: &StateDict, keys: &Keys) -> Result<Imported, TorchError> {
    let known = keys.all();
    if let Some(key) = sd.keys().find(|key| {
        (key.starts_with(&keys.rnn) || key.starts_with(&keys.readout)) && !known.contains(key)
    }) {
        return Err(TorchError::Unexpected { key: key.clone() });
    }
    let d = infer_dims(cell, sd, keys)?;
    let (h, i, o, k) = (d.hidden, d.inputs, d.outputs, cell.gates());
    let kh = k * h;

    let w_ih = get(sd, &keys.w_ih())?;
    expect_shape(&keys.w_ih(), w_ih, &[kh, i])?;
    let w_hh = get(sd, &keys.w_hh())?;
    expect_shape(&keys.w_hh(), w_hh, &[kh, h])?;
    let zeros_kh = Array::zeros(vec![kh]);
    let optional = |key: String, shape: &[usize], zeros: &'_ Array| -> Result<Array, TorchError> {
        match sd.get(&key) {
            Some(a) => {
                expect_shape(&key, a, shape)?;
                Ok(a.clone())
            }
            None => Ok(zeros.clone()),
        }
    };
    let b_ih = optional(keys.b_ih(), &[kh], &zeros_kh)?;
    let b_hh = optional(keys.b_hh(), &[kh], &zeros_kh)?;
    let ro_w = get(sd, &keys.ro_w())?;
    expect_shape(&keys.ro_w(), ro_w, &[o, h])?;
    let ro_b = optional(keys.ro_b(), &[o], &Array::zeros(vec![o]))?;

    let off = offsets(cell, d);
    let mut p = vec![0.0; param_count(cell, d)];
    for j in 0..k {
        let g = cell.torch_gate(j);
        for n in 0..h {
            let row = g * h + n; // PyTorch row of this gate unit
            let col = j * h + n; // rnndyn column
            for m in 0..h {
                p[off.w + m * kh + col] = w_hh.data[row * h + m];
            }
            for x in 0..i {
                p[off.u + x * kh + col] = w_ih.data[row * i + x];
            }
            let gru_candidate = cell == TorchCell::Gru && j == 2;
            if gru_candidate {
                p[off.b + col] = b_ih.data[row];
                p[off.bh + n] = b_hh.data[row];
            } else {
                // Adding a zero `bias_hh` (what export writes) would turn a -0.0 into +0.0.
                let (a, b) = (b_ih.data[row], b_hh.data[row]);
                p[off.b + col] = if b == 0.0 { a } else { a + b };
            }
        }
    }
    for m in 0..h {
        for y in 0..o {
            p[off.wo + m * o + y] = ro_w.data[y * h + m];
        }
    }
    p[off.bo..off.bo + o].copy_from_slice(&ro_b.data);
    Ok(Imported { dims: d, params: p })
}

/// Converts rnndyn's parameter vector to a PyTorch state dict (default [`Keys`]).
pub fn export(cell: TorchCell, dims: Dims, params: &[f64]) -> Result<StateDict, TorchError> {
    export_with(cell, dims, params, &Keys::default())
}

/// [`export`] with explicit key prefixes.
pub fn export_with(
    cell: TorchCell,
    dims: Dims,
    params: &[f64],
    keys: &Keys,
) -> Result<StateDict, TorchError> {
    if dims.hidden == 0 {
        return Err(TorchError::EmptyHidden);
    }
    let expected = param_count(cell, dims);
    if params.len() != expected {
        return Err(TorchError::ParamLength {
            cell,
            dims,
            expected,
            got: params.len(),
        });
    }
    let (h, i, o, k) = (dims.hidden, dims.inputs, dims.outputs, cell.gates());
    let kh = k * h;
    let off = offsets(cell, dims);
    let mut w_ih = Array::zeros(vec![kh, i]);
    let mut w_hh = Array::zeros(vec![kh, h]);
    let mut b_ih = Array::zeros(vec![kh]);
    let mut b_hh = Array::zeros(vec![kh]);
    for j in 0..k {
        let g = cell.torch_gate(j);
        for n in 0..h {
            let row = g * h + n;
            let col = j * h + n;
            for m in 0..h {
                w_hh.data[row * h + m] = params[off.w + m * kh + col];
            }
            for x in 0..i {
                w_ih.data[row * i + x] = params[off.u + x * kh + col];
            }
            b_ih.data[row] = params[off.b + col];
            if cell == TorchCell::Gru && j == 2 {
                b_hh.data[row] = params[off.bh + n];
            }
        }
    }
    let mut ro_w = Array::zeros(vec![o, h]);
    for m in 0..h {
        for y in 0..o {
            ro_w.data[y * h + m] = params[off.wo + m * o + y];
        }
    }
    let ro_b = Array {
        shape: vec![o],
        data: params[off.bo..off.bo + o].to_vec(),
    };
    Ok(StateDict::from([
        (keys.w_ih(), w_ih),
        (keys.w_hh(), w_hh),
        (keys.b_ih(), b_ih),
        (keys.b_hh(), b_hh),
        (keys.ro_w(), ro_w),
        (keys.ro_b(), ro_b),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dims() -> Dims {
        Dims {
            hidden: 3,
            inputs: 2,
            outputs: 2,
        }
    }

    fn ramp(n: usize) -> Vec<f64> {
        (0..n).map(|v| v as f64 * 0.25 - 1.0).collect()
    }

    #[test]
    fn round_trip_is_exact() {
        for cell in [TorchCell::Rnn, TorchCell::Gru, TorchCell::Lstm] {
            let p = ramp(param_count(cell, dims()));
            let sd = export(cell, dims(), &p).unwrap();
            let back = import(cell, &sd).unwrap();
            assert_eq!(back.dims, dims());
            assert_eq!(back.params, p, "{cell}");
        }
    }

    #[test]
    fn gru_layout_sizes() {
        let d = dims();
        assert_eq!(
            param_count(TorchCell::Gru, d),
            3 * 9 + 3 * 6 + 9 + 3 + 6 + 2
        );
        assert_eq!(param_count(TorchCell::Lstm, d), 4 * 9 + 4 * 6 + 12 + 6 + 2);
        assert_eq!(param_count(TorchCell::Rnn, d), 9 + 6 + 3 + 6 + 2);
    }

    #[test]
    fn errors_name_key_and_shape() {
        let cell = TorchCell::Lstm;
        let sd = export(cell, dims(), &ramp(param_count(cell, dims()))).unwrap();

        let mut bad = sd.clone();
        bad.insert("bias_hh_l0".into(), Array::zeros(vec![11]));
        let e = import(cell, &bad).unwrap_err();
        assert_eq!(
            e,
            TorchError::Shape {
                key: "bias_hh_l0".into(),
                expected: "[12]".into(),
                got: vec![11]
            }
        );
        assert!(e.to_string().contains("bias_hh_l0") && e.to_string().contains("[11]"));

        let mut bad = sd.clone();
        bad.insert("weight_hh_l0".into(), Array::zeros(vec![9, 3]));
        let e = import(cell, &bad).unwrap_err();
        assert!(
            matches!(&e, TorchError::Shape { key, got, .. } if key == "weight_hh_l0" && got == &[9, 3])
        );

        let mut bad = sd.clone();
        bad.remove("readout.weight");
        assert_eq!(
            import(cell, &bad),
            Err(TorchError::Missing {
                key: "readout.weight".into()
            })
        );

        let mut bad = sd.clone();
        bad.insert("weight_ih_l1".into(), Array::zeros(vec![12, 3]));
        assert_eq!(
            import(cell, &bad),
            Err(TorchError::Unexpected {
                key: "weight_ih_l1".into()
            })
        );

        let mut bad = sd.clone();
        bad.get_mut("weight_ih_l0").unwrap().data[0] = f64::NAN;
        assert_eq!(
            import(cell, &bad),
            Err(TorchError::NonFinite {
                key: "weight_ih_l0".into()
            })
        );

        assert!(matches!(
            export(cell, dims(), &[0.0; 3]),
            Err(TorchError::ParamLength { .. })
        ));
        assert!(matches!(
            Array::new(vec![2, 2], vec![0.0; 3]),
            Err(TorchError::DataLength { .. })
        ));
    }

    #[test]
    fn missing_biases_are_zero_and_prefixes_work() {
        let cell = TorchCell::Gru;
        let keys = Keys {
            rnn: "rnn.".into(),
            readout: "head.".into(),
        };
        let p = ramp(param_count(cell, dims()));
        let mut sd = export_with(cell, dims(), &p, &keys).unwrap();
        assert!(sd.contains_key("rnn.weight_ih_l0") && sd.contains_key("head.bias"));
        sd.insert("other.thing".into(), Array::zeros(vec![1]));
        assert_eq!(import_with(cell, &sd, &keys).unwrap().params, p);
        for key in ["rnn.bias_ih_l0", "rnn.bias_hh_l0", "head.bias"] {
            sd.remove(key);
        }
        let q = import_with(cell, &sd, &keys).unwrap().params;
        let off = offsets(cell, dims());
        assert_eq!(&q[..off.b], &p[..off.b]);
        assert!(q[off.b..off.wo].iter().all(|&v| v == 0.0));
        assert_eq!(&q[off.wo..off.bo], &p[off.wo..off.bo]);
        assert!(q[off.bo..].iter().all(|&v| v == 0.0));
    }
}
