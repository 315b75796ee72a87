"""Reproduces stored networks' forward passes with NumPy alone (no rnndyn installed).

Usage: python3 numpy_forward.py STORE PROBE_INPUTS.npy

For every network in STORE/catalog.csv: rebuild the cell from params.npz with the documented
layout (row-vector convention z = h W + x U + b, gate blocks side by side), run it from h = 0 on
the probe inputs (trials, T, I) and compare with the hidden states rnndyn saved in
networks/<id>/activity.npy (float32). Exits non-zero on a mismatch.
"""
import csv
import json
import sys

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def act(name):
    return np.tanh if name == "tanh" else (lambda z: np.maximum(z, 0.0))


def step(rec, p, h, x):
    n = int(rec["hidden"])
    phi = act(rec["activation"])
    arch = rec["arch"]
    if arch == "vanilla":
        return phi(h @ p["W"] + x @ p["U"] + p["b"])
    if arch == "ugrnn":
        a = h @ p["W"] + x @ p["U"] + p["b"]
        g, c = sigmoid(a[:n]), phi(a[n:])
        return g * h + (1 - g) * c
    if arch == "gru":
        W, U, b = p["W"], p["U"], p["b"]
        a = h @ W[:, : 2 * n] + x @ U[:, : 2 * n] + b[: 2 * n]
        z, r = sigmoid(a[:n]), sigmoid(a[n:])
        if rec["gru_convention"] == "reset-after":
            c = phi(x @ U[:, 2 * n:] + b[2 * n:] + r * (h @ W[:, 2 * n:] + p["bh"]))
        else:
            c = phi((r * h) @ W[:, 2 * n:] + x @ U[:, 2 * n:] + b[2 * n:])
        return z * h + (1 - z) * c
    if arch == "lstm":
        hh, cc = h[:n], h[n:]
        a = hh @ p["W"] + x @ p["U"] + p["b"]
        i, f, g, o = sigmoid(a[:n]), sigmoid(a[n:2 * n]), phi(a[2 * n:3 * n]), sigmoid(a[3 * n:])
        c2 = f * cc + i * g
        return np.concatenate([o * phi(c2), c2])
    raise ValueError(arch)


def main(store, inputs_path):
    rows = list(csv.DictReader(open(f"{store}/catalog.csv")))
    xs = np.load(inputs_path)  # (trials, T, I)
    worst = 0.0
    for rec in rows:
        if rec["diverged"] == "true":
            continue
        net = f"{store}/networks/{rec['id']}"
        p = {k: v.astype(np.float64) for k, v in np.load(f"{net}/params.npz").items()}
        states = np.load(f"{net}/activity.npy").astype(np.float64)  # (trials*T, S)
        trials, T, _ = xs.shape
        S = states.shape[1]
        states = states.reshape(trials, T, S)
        for k in range(trials):
            h = np.zeros(S)
            for t in range(T):
                h = step(rec, p, h, xs[k, t])
                worst = max(worst, float(np.max(np.abs(h - states[k, t]))))
        y = states[0, -1, : int(rec["hidden"])] @ p["Wo"] + p["bo"]
        assert np.all(np.isfinite(y))
    # activity.npy is float32: agreement to float32 rounding of O(1) states.
    print(json.dumps({"networks": len(rows), "max_abs_diff": worst}))
    if worst > 1e-5:
        sys.exit(f"forward pass differs from rnndyn's by {worst}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
