"""Converts the JAX peer's trained GRU (fixedpoints_jax.py, $PEERS_DATA/gru64_flipflop_params.npz)
to rnndyn's layout, so both fixed-point finders run on the very same network.

The peer's GRU is rnndyn's reset-before-product GRU with the same row-vector convention:
W = [Wzr | Wc] (n, 3n) in gate order z, r, c; U = [Uzr | Uc]; b = [bzr | bc].
Usage: python3 convert_peer_gru.py PEER.npz OUT.npz
"""
import sys

import numpy as np

src = np.load(sys.argv[1])
out = {
    "W": np.concatenate([src["Wzr"], src["Wc"]], axis=1),
    "U": np.concatenate([src["Uzr"], src["Uc"]], axis=1),
    "b": np.concatenate([src["bzr"], src["bc"]]),
    "Wo": src["Wo"],
    "bo": src["bo"],
}
np.savez(sys.argv[2], **{k: v.astype(np.float32) for k, v in out.items()})
print({k: v.shape for k, v in out.items()})
