"""Extracts tests/data/relu_jacobian.npz: a 64 x 64 Jacobian on which the Francis QR
cycles when the matrix is balanced (it converges unbalanced).

Source: fixed point 0 of network `vanilla-relu-n64-l2_0-lr_1e-2-s0` of the paper-scale
population (50 of its 64 ReLU units are off there, so 50 rows are exactly zero):

    cargo run --release -- run --config configs/paper-flipflop-480.toml --out paper480
    python3 tests/data/make_relu_jacobian.py paper480

(training is deterministic, so the same network and Jacobian come back bit for bit).
"""
import sys

import numpy as np

store = sys.argv[1]
z = np.load(f"{store}/networks/vanilla-relu-n64-l2_0-lr_1e-2-s0/fixed_points.npz")
jac = np.ascontiguousarray(z["jacobians"][0], dtype=np.float64)
assert jac.shape == (64, 64)
np.savez("tests/data/relu_jacobian.npz", jacobian=jac)
print("zero rows:", int((np.abs(jac).sum(axis=1) == 0).sum()))
