"""Single-network train-step throughput of the JAX peer only (no learning runs).

Calls `bench_single` of /work/shared/peers/flipflop_jax.py (the same function its main()
uses for the `train_step_bench` lines) for every cell and size, and prints one JSON line
each. Usage:

    /work/peers-venv/bin/python scripts/peer_train_step.py [--sizes 16,64,128] [--T 100] [--B 64]
"""
import argparse
import json
import os
import sys

PEERS = os.environ.get("PEERS_DIR", "/work/shared/peers")
sys.path.insert(0, PEERS)
import flipflop_jax as f  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--sizes", default="16,64,128")
ap.add_argument("--cells", default=",".join(f.CELLS))
ap.add_argument("--T", type=int, default=100)
ap.add_argument("--B", type=int, default=64)
args = ap.parse_args()
for n in [int(s) for s in args.sizes.split(",")]:
    for cell in args.cells.split(","):
        r = f.bench_single(cell, n, args.T, args.B)
        print(json.dumps({"kind": "train_step_bench", "cell": cell, "n": n, **r}), flush=True)
