"""Checks an `rnndyn export --torch` file against PyTorch's equations (NumPy only).

Usage: python3 torch_forward.py EXPORT.npz CELL PROBE_INPUTS.npy ACTIVITY.npy [RNN_PREFIX [READOUT_PREFIX]]

CELL is rnn_tanh, rnn_relu, gru or lstm. The state dict in EXPORT.npz is run with PyTorch's
documented recurrences (`step` of make_torch_ref.py: gate orders r, z, n and i, f, g, o, the
GRU's reset applied after the product) from a zero state on the probe inputs (trials, T, I),
and compared with the hidden states rnndyn saved for the same network in ACTIVITY.npy
((trials * T, S), float32; S = H, or 2H for the LSTM's [h; c]). Exits non-zero on a mismatch.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_torch_ref import step  # noqa: E402


def main(path, cell, inputs_path, activity_path, rnn="", readout="readout."):
    sd = np.load(path)
    p = {k: sd[rnn + k].astype(np.float64) for k in
         ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]}
    w_out = sd[readout + "weight"].astype(np.float64)
    b_out = sd[readout + "bias"].astype(np.float64)
    assert all(sd[k].dtype == np.float32 for k in sd.files), "export is float32"
    xs = np.load(inputs_path).astype(np.float64)  # (trials, T, I)
    trials, T, _ = xs.shape
    H = p["weight_hh_l0"].shape[1]
    states = np.load(activity_path).astype(np.float64)
    states = states.reshape(trials, T, states.shape[1])
    worst = 0.0
    for k in range(trials):
        h, c = np.zeros(H), np.zeros(H)
        for t in range(T):
            h, c = step(cell, p, xs[k, t], h, c)
            s = np.concatenate([h, c]) if cell == "lstm" else h
            worst = max(worst, float(np.max(np.abs(s - states[k, t]))))
        y = w_out @ h + b_out
        assert np.all(np.isfinite(y))
    # activity.npy is float32: agreement to float32 rounding of O(1) states.
    print(json.dumps({"cell": cell, "max_abs_diff": worst}))
    if worst > 1e-5:
        sys.exit(f"{path}: PyTorch's equations differ from rnndyn's activity by {worst}")


if __name__ == "__main__":
    main(*sys.argv[1:])
