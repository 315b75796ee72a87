#!/usr/bin/env python3
"""Write torch_ref.npz: PyTorch-layout weights and hidden trajectories for the host test
`host/tests/torch_import.rs` (NumPy only; torch is not needed).

Run from anywhere:  python3 tests/data/make_torch_ref.py

The recurrences are PyTorch's, transcribed from its documentation (torch.nn.RNN, GRU, LSTM;
column-vector convention, gate blocks stacked by rows of weight_ih_l0 / weight_hh_l0):

  RNN : h' = act(W_ih x + b_ih + W_hh h + b_hh),        act = tanh or relu
  GRU : r  = sigmoid(W_ir x + b_ir + W_hr h + b_hr)      gate order in the weights: r, z, n
        z  = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h' = (1 - z) * n + z * h
  LSTM: i, f, o = sigmoid(W_i* x + b_i* + W_h* h + b_h*)  gate order: i, f, g, o
        g  = tanh(W_ig x + b_ig + W_hg h + b_hg)
        c' = f * c + i * g;   h' = o * tanh(c')
  readout (nn.Linear): y = readout.weight h + readout.bias

Sizes: H=5, I=3, O=2, T=8, batch B=2, float64, random non-zero initial state.
Keys: "<cell>/<pytorch key>" for cell in rnn_tanh, rnn_relu, gru, lstm, with pytorch key one of
weight_ih_l0 (kH, I), weight_hh_l0 (kH, H), bias_ih_l0 (kH,), bias_hh_l0 (kH,),
readout.weight (O, H), readout.bias (O,); and "<cell>/x" (B, T, I), "<cell>/h0" (B, H),
"<cell>/hs" (B, T, H) = state after each step, "<cell>/ys" (B, T, O) = readout of hs; for the
LSTM also "<cell>/c0" (B, H) and "<cell>/cs" (B, T, H).

Also writes torch_ref.safetensors (written here with the ~20-line writer `save_safetensors`,
plain NumPy, no `safetensors` package): the same "gru/*" and "lstm/*" arrays as F64 (bit
for bit those of torch_ref.npz), plus the six GRU weights as F32 ("gru_f32/<key>") and F16
("gru_f16/<key>", NumPy's correctly rounded float64 -> float16) and the six LSTM weights as
BF16 ("lstm_bf16/<key>": float64 -> float32 -> bfloat16, each rounded to nearest even).
"""
import json
import os
import struct

import numpy as np

H, I, O, T, B = 5, 3, 2, 8, 2
SEED = 20190
GATES = {"rnn_tanh": 1, "rnn_relu": 1, "gru": 3, "lstm": 4}


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def step(cell, p, x, h, c):
    """One PyTorch step for one sample (column vectors as 1-D arrays)."""
    gi = p["weight_ih_l0"] @ x + p["bias_ih_l0"]  # (kH,)
    gh = p["weight_hh_l0"] @ h + p["bias_hh_l0"]
    if cell == "rnn_tanh":
        return np.tanh(gi + gh), c
    if cell == "rnn_relu":
        return np.maximum(gi + gh, 0.0), c
    if cell == "gru":
        i_r, i_z, i_n = np.split(gi, 3)
        h_r, h_z, h_n = np.split(gh, 3)
        r = sigmoid(i_r + h_r)
        z = sigmoid(i_z + h_z)
        n = np.tanh(i_n + r * h_n)
        return (1.0 - z) * n + z * h, c
    if cell == "lstm":
        a_i, a_f, a_g, a_o = np.split(gi + gh, 4)
        c2 = sigmoid(a_f) * c + sigmoid(a_i) * np.tanh(a_g)
        return sigmoid(a_o) * np.tanh(c2), c2
    raise ValueError(cell)


PT_KEYS = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "readout.weight", "readout.bias"]


def to_bf16_bits(a):
    """float64 -> float32 -> bfloat16 (round to nearest even), as uint16 bit patterns."""
    bits = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def save_safetensors(path, tensors, metadata):
    """The safetensors format: u64 little-endian header length, JSON header
    {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}} padded
    with spaces to a multiple of 8, then the row-major little-endian bytes of each tensor.
    `tensors`: name -> (dtype name, array already of that dtype's width). Tensors are laid out
    by decreasing element size, then name (as the reference writer does), so each is aligned."""
    order = sorted(tensors, key=lambda n: (-tensors[n][1].dtype.itemsize, n))
    header, chunks, offset = {}, [], 0
    for name in order:
        dtype, a = tensors[name]
        raw = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in chunks:
            f.write(raw)


def main():
    rng = np.random.default_rng(SEED)
    out = {}
    for cell, k in GATES.items():
        s = 1.0 / np.sqrt(H)  # PyTorch's default init range, U(-1/sqrt(H), 1/sqrt(H))
        p = {
            "weight_ih_l0": rng.uniform(-s, s, (k * H, I)) * 2.0,
            "weight_hh_l0": rng.uniform(-s, s, (k * H, H)) * 2.0,
            "bias_ih_l0": rng.uniform(-s, s, (k * H,)),
            "bias_hh_l0": rng.uniform(-s, s, (k * H,)),
            "readout.weight": rng.uniform(-s, s, (O, H)),
            "readout.bias": rng.uniform(-s, s, (O,)),
        }
        x = rng.normal(size=(B, T, I))
        h0 = rng.uniform(-0.5, 0.5, (B, H))
        c0 = rng.uniform(-0.5, 0.5, (B, H))
        if cell == "rnn_relu":
            h0 = np.abs(h0)
        hs = np.zeros((B, T, H))
        cs = np.zeros((B, T, H))
        for b in range(B):
            h, c = h0[b], c0[b]
            for t in range(T):
                h, c = step(cell, p, x[b, t], h, c)
                hs[b, t], cs[b, t] = h, c
        ys = hs @ p["readout.weight"].T + p["readout.bias"]
        for key, v in p.items():
            out[f"{cell}/{key}"] = v
        out[f"{cell}/x"] = x
        out[f"{cell}/h0"] = h0
        out[f"{cell}/hs"] = hs
        out[f"{cell}/ys"] = ys
        if cell == "lstm":
            out[f"{cell}/c0"] = c0
            out[f"{cell}/cs"] = cs
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_ref.npz")
    np.savez(path, **{k: np.ascontiguousarray(v, dtype=np.float64) for k, v in out.items()})
    print(f"wrote {path}: {len(out)} arrays")

    st = {k: ("F64", np.asarray(v, dtype=np.float64)) for k, v in out.items() if k.split("/")[0] in ("gru", "lstm")}
    for key in PT_KEYS:
        st[f"gru_f32/{key}"] = ("F32", out[f"gru/{key}"].astype(np.float32))
        st[f"gru_f16/{key}"] = ("F16", out[f"gru/{key}"].astype(np.float16))
        st[f"lstm_bf16/{key}"] = ("BF16", to_bf16_bits(out[f"lstm/{key}"]))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_ref.safetensors")
    save_safetensors(path, st, {"format": "pt", "generator": "tests/data/make_torch_ref.py"})
    print(f"wrote {path}: {len(st)} tensors")


if __name__ == "__main__":
    main()
