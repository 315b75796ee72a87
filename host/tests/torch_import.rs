//! PyTorch import checked against NumPy: `tests/data/torch_ref.npz` (made by
//! `tests/data/make_torch_ref.py`, which runs PyTorch's documented RNN/GRU/LSTM equations on
//! PyTorch-layout weights) is converted with `rnndyn::torch::import`, and trajectories of
//! rnndyn's layout must match NumPy's to 1e-10. The same script writes
//! `tests/data/torch_ref.safetensors` with its own NumPy writer (GRU and LSTM, F64, plus F32,
//! F16 and BF16 copies of the weights): read with `rnndyn::safetensors_file`, it must give the
//! `.npz`'s arrays bit for bit and the same trajectories.
//!
//! The trajectories here come from a small f64 transcription of rnndyn's row-vector
//! equations (below), not from `rnndyn_core`'s cells: the GRU/LSTM cells are being written on
//! another branch. Once they land, `step_ours` should call `Cell::step` instead.

use std::path::PathBuf;

use rnndyn::torch::{blocks, export, import, Array, Dims, StateDict, TorchCell};

/// Absolute tolerance for every comparison with NumPy (both sides are f64 with a handful of
/// operations per step; differences come only from summation order and libm vs NumPy ulps).
const TOL: f64 = 1e-10;

const B: usize = 2;
const T: usize = 8;

enum Source {
    Npz(PathBuf),
    Safetensors(StateDict),
}

struct Ref {
    source: Source,
}

fn data_path(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(name);
    assert!(
        path.is_file(),
        "{} missing (run tests/data/make_torch_ref.py)",
        path.display()
    );
    path
}

impl Ref {
    fn open() -> Self {
        Ref {
            source: Source::Npz(data_path("torch_ref.npz")),
        }
    }

    fn open_safetensors() -> Self {
        let path = data_path("torch_ref.safetensors");
        let sd = rnndyn::safetensors_file::read(&path).unwrap_or_else(|e| panic!("{e}"));
        Ref {
            source: Source::Safetensors(sd),
        }
    }

    fn array(&mut self, name: &str) -> Array {
        match &self.source {
            Source::Npz(path) => {
                let (shape, data) =
                    rnndyn::npy::read_npz_shaped(path, name).unwrap_or_else(|e| panic!("{e}"));
                Array::new(shape, data).unwrap()
            }
            Source::Safetensors(sd) => sd
                .get(name)
                .unwrap_or_else(|| panic!("torch_ref.safetensors: no tensor {name}"))
                .clone(),
        }
    }

    /// The PyTorch state dict of `cell` (keys without the `cell/` prefix).
    fn state_dict(&mut self, cell: &str) -> StateDict {
        PT_KEYS
            .into_iter()
            .map(|k| (k.to_string(), self.array(&format!("{cell}/{k}"))))
            .collect()
    }
}

const PT_KEYS: [&str; 6] = [
    "weight_ih_l0",
    "weight_hh_l0",
    "bias_ih_l0",
    "bias_hh_l0",
    "readout.weight",
    "readout.bias",
];

#[derive(Clone, Copy, PartialEq)]
enum Act {
    Tanh,
    Relu,
}

fn sigmoid(a: f64) -> f64 {
    1.0 / (1.0 + (-a).exp())
}

/// Offset of block `name` in rnndyn's parameter vector.
fn offset(cell: TorchCell, d: Dims, name: &str) -> usize {
    let mut off = 0;
    for (n, r, c) in blocks(cell, d) {
        if n == name {
            return off;
        }
        off += r * c;
    }
    panic!("no block {name}")
}

/// One step of rnndyn's equations (row-vector convention, `z = h W + x U + b`):
/// - vanilla: `h' = φ(h W + x U + b)`;
/// - GRU `[z | r | c]`, reset after the product: `z, r = σ(·)`,
///   `c = tanh(x U_c + b_c + r ⊙ (h W_c + bh))`, `h' = z ⊙ h + (1 − z) ⊙ c`;
/// - LSTM `[i | f | g | o]`: `c' = σ(f) c + σ(i) tanh(g)`, `h' = σ(o) tanh(c')`.
fn step_ours(
    cell: TorchCell,
    act: Act,
    d: Dims,
    p: &[f64],
    x: &[f64],
    h: &mut [f64],
    c: &mut [f64],
) {
    let (nh, ni) = (d.hidden, d.inputs);
    let kh = cell.gates() * nh;
    let (w, u, b) = (
        offset(cell, d, "W"),
        offset(cell, d, "U"),
        offset(cell, d, "b"),
    );
    // a = x U + b and r = h W, kept apart for the GRU candidate.
    let mut a = p[b..b + kh].to_vec();
    let mut r = vec![0.0; kh];
    for j in 0..kh {
        for i in 0..ni {
            a[j] += x[i] * p[u + i * kh + j];
        }
        for m in 0..nh {
            r[j] += h[m] * p[w + m * kh + j];
        }
    }
    match cell {
        TorchCell::Rnn => {
            for n in 0..nh {
                let z = a[n] + r[n];
                h[n] = if act == Act::Tanh {
                    z.tanh()
                } else {
                    z.max(0.0)
                };
            }
        }
        TorchCell::Gru => {
            let bh = offset(cell, d, "bh");
            for n in 0..nh {
                let z = sigmoid(a[n] + r[n]);
                let rg = sigmoid(a[nh + n] + r[nh + n]);
                let cand = (a[2 * nh + n] + rg * (r[2 * nh + n] + p[bh + n])).tanh();
                h[n] = z * h[n] + (1.0 - z) * cand;
            }
        }
        TorchCell::Lstm => {
            for n in 0..nh {
                let g = |k: usize| a[k * nh + n] + r[k * nh + n];
                c[n] = sigmoid(g(1)) * c[n] + sigmoid(g(0)) * g(2).tanh();
                h[n] = sigmoid(g(3)) * c[n].tanh();
            }
        }
    }
}

/// `y = h Wo + bo`.
fn readout_ours(cell: TorchCell, d: Dims, p: &[f64], h: &[f64]) -> Vec<f64> {
    let (wo, bo) = (offset(cell, d, "Wo"), offset(cell, d, "bo"));
    (0..d.outputs)
        .map(|o| {
            p[bo + o]
                + (0..d.hidden)
                    .map(|m| h[m] * p[wo + m * d.outputs + o])
                    .sum::<f64>()
        })
        .collect()
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}

fn assert_close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}");
    let err = max_diff(got, want);
    assert!(err <= TOL, "{what}: max |diff| {err:e} > {TOL:e}");
}

fn check(name: &str, cell: TorchCell, act: Act) {
    check_ref(Ref::open(), name, cell, act);
}

fn check_ref(mut r: Ref, name: &str, cell: TorchCell, act: Act) {
    let sd = r.state_dict(name);
    let imported = import(cell, &sd).unwrap();
    let d = imported.dims;
    assert_eq!(
        d,
        Dims {
            hidden: 5,
            inputs: 3,
            outputs: 2
        }
    );
    let p = &imported.params;

    let x = r.array(&format!("{name}/x"));
    let h0 = r.array(&format!("{name}/h0"));
    let hs = r.array(&format!("{name}/hs"));
    let ys = r.array(&format!("{name}/ys"));
    let (c0, cs) = if cell == TorchCell::Lstm {
        (
            Some(r.array(&format!("{name}/c0"))),
            Some(r.array(&format!("{name}/cs"))),
        )
    } else {
        (None, None)
    };
    assert_eq!(x.shape, [B, T, d.inputs]);
    assert_eq!(hs.shape, [B, T, d.hidden]);
    let nh = d.hidden;
    for b in 0..B {
        let mut h = h0.data[b * nh..(b + 1) * nh].to_vec();
        let mut c = c0
            .as_ref()
            .map_or(vec![0.0; nh], |c0| c0.data[b * nh..(b + 1) * nh].to_vec());
        for t in 0..T {
            let xt = &x.data[(b * T + t) * d.inputs..(b * T + t + 1) * d.inputs];
            step_ours(cell, act, d, p, xt, &mut h, &mut c);
            let at = (b * T + t) * nh..(b * T + t + 1) * nh;
            assert_close(&format!("{name} h[b={b}, t={t}]"), &h, &hs.data[at.clone()]);
            if let Some(cs) = &cs {
                assert_close(&format!("{name} c[b={b}, t={t}]"), &c, &cs.data[at]);
            }
            let y = readout_ours(cell, d, p, &h);
            let ot = (b * T + t) * d.outputs..(b * T + t + 1) * d.outputs;
            assert_close(&format!("{name} y[b={b}, t={t}]"), &y, &ys.data[ot]);
        }
    }

    // Export gives back PyTorch's weights exactly and its biases up to where they sit.
    let back = export(cell, d, p).unwrap();
    for k in [
        "weight_ih_l0",
        "weight_hh_l0",
        "readout.weight",
        "readout.bias",
    ] {
        assert_eq!(back[k], sd[k], "{name} {k}");
    }
    let (bi, bh) = (&sd["bias_ih_l0"].data, &sd["bias_hh_l0"].data);
    let (ei, eh) = (&back["bias_ih_l0"].data, &back["bias_hh_l0"].data);
    for j in 0..cell.gates() * nh {
        if cell == TorchCell::Gru && j >= 2 * nh {
            assert_eq!((ei[j], eh[j]), (bi[j], bh[j]), "{name} candidate bias {j}");
        } else {
            assert_eq!((ei[j], eh[j]), (bi[j] + bh[j], 0.0), "{name} bias {j}");
        }
    }
    assert_eq!(
        import(cell, &back).unwrap().params,
        *p,
        "{name}: import of export"
    );
}

#[test]
fn rnn_tanh_matches_numpy() {
    check("rnn_tanh", TorchCell::Rnn, Act::Tanh);
}

#[test]
fn rnn_relu_matches_numpy() {
    check("rnn_relu", TorchCell::Rnn, Act::Relu);
}

#[test]
fn gru_matches_numpy() {
    check("gru", TorchCell::Gru, Act::Tanh);
}

#[test]
fn lstm_matches_numpy() {
    check("lstm", TorchCell::Lstm, Act::Tanh);
}

#[test]
fn gru_safetensors_matches_numpy() {
    check_ref(Ref::open_safetensors(), "gru", TorchCell::Gru, Act::Tanh);
}

#[test]
fn lstm_safetensors_matches_numpy() {
    check_ref(Ref::open_safetensors(), "lstm", TorchCell::Lstm, Act::Tanh);
}

/// The `.safetensors` fixture (written by NumPy, not by the `safetensors` crate) holds the
/// `.npz`'s arrays bit for bit as F64, and their F32, F16 and BF16 roundings.
#[test]
fn safetensors_fixture_matches_npz() {
    let (mut npz, mut st) = (Ref::open(), Ref::open_safetensors());
    let Source::Safetensors(all) = &st.source else {
        unreachable!()
    };
    assert_eq!(all.len(), 40, "{:?}", all.keys().collect::<Vec<_>>());
    for (cell, extra) in [
        ("gru", &["x", "h0", "hs", "ys"][..]),
        ("lstm", &["x", "h0", "hs", "ys", "c0", "cs"][..]),
    ] {
        for k in PT_KEYS.iter().chain(extra) {
            let name = format!("{cell}/{k}");
            let (a, b) = (npz.array(&name), st.array(&name));
            assert_eq!(a.shape, b.shape, "{name}");
            let bits = |x: &Array| x.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a), bits(&b), "{name}");
        }
    }
    type Round = fn(f64) -> f64;
    let rounds: [(&str, &str, Round); 3] = [
        ("gru", "gru_f32", |v| f64::from(v as f32)),
        ("gru", "gru_f16", |v| half::f16::from_f64(v).to_f64()),
        ("lstm", "lstm_bf16", |v| {
            half::bf16::from_f32(v as f32).to_f64()
        }),
    ];
    for (cell, copy, round) in rounds {
        for k in PT_KEYS {
            let a = npz.array(&format!("{cell}/{k}"));
            let b = st.array(&format!("{copy}/{k}"));
            assert_eq!(a.shape, b.shape, "{copy}/{k}");
            let want: Vec<u64> = a.data.iter().map(|&v| round(v).to_bits()).collect();
            let got: Vec<u64> = b.data.iter().map(|v| v.to_bits()).collect();
            assert_eq!(got, want, "{copy}/{k}");
            // A real rounding: the low-precision copies differ from the f64 weights.
            assert_ne!(a.data, b.data, "{copy}/{k}");
        }
        // And import as a network of the same size.
        let cellk = if cell == "gru" {
            TorchCell::Gru
        } else {
            TorchCell::Lstm
        };
        let imported = import(cellk, &st.state_dict(copy)).unwrap();
        assert_eq!(
            imported.dims,
            Dims {
                hidden: 5,
                inputs: 3,
                outputs: 2
            }
        );
    }
}

/// The reference data is discriminating: swapping PyTorch's r and z blocks (a wrong gate
/// order) makes the converted network disagree with NumPy on the first step.
#[test]
fn swapped_gru_gates_are_detected() {
    let mut r = Ref::open();
    let mut sd = r.state_dict("gru");
    for key in ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"] {
        let a = sd.get_mut(key).unwrap();
        let block = a.data.len() / 3; // rows 0..H (r) and H..2H (z)
        let (first, rest) = a.data.split_at_mut(block);
        first.swap_with_slice(&mut rest[..block]);
    }
    let imported = import(TorchCell::Gru, &sd).unwrap();
    let (d, p) = (imported.dims, &imported.params);
    let x = r.array("gru/x");
    let h0 = r.array("gru/h0");
    let hs = r.array("gru/hs");
    let mut h = h0.data[..5].to_vec();
    let mut c = vec![0.0; 5];
    step_ours(
        TorchCell::Gru,
        Act::Tanh,
        d,
        p,
        &x.data[..3],
        &mut h,
        &mut c,
    );
    let err = max_diff(&h, &hs.data[..5]);
    assert!(err > 1e-3, "{err}");
}
