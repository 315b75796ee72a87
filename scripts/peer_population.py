"""Population throughput of the JAX peer only (vmap over P networks, no learning runs).

Calls `bench_population` of /work/shared/peers/flipflop_jax.py (the function its main()
uses for the population lines) and prints one JSON line per (cell, N, P). Usage:

    /work/peers-venv/bin/python scripts/peer_population.py [--runs gru:16:64,gru:64:16]
"""
import argparse
import json
import os
import sys

PEERS = os.environ.get("PEERS_DIR", "/work/shared/peers")
sys.path.insert(0, PEERS)
import flipflop_jax as f  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--runs", default="gru:16:64,gru:64:16", help="cell:N:P,...")
ap.add_argument("--T", type=int, default=100)
ap.add_argument("--B", type=int, default=64)
args = ap.parse_args()
for run in args.runs.split(","):
    cell, n, p = run.split(":")
    r = f.bench_population(cell, int(n), int(p), args.T, args.B)
    print(json.dumps({"kind": "population_bench", "cell": cell, "n": int(n), "P": int(p), **r}),
          flush=True)
