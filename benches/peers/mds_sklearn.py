"""MDS of a 1000 x 1000 distance matrix: scikit-learn's SMACOF (the peer) vs `rnndyn embed`.

Usage: python benches/peers/mds_sklearn.py RNNDYN_BINARY [N]

Makes a seeded distance matrix (N points in 8-D from four clusters, like a population of
four architectures, plus per-point noise), runs scikit-learn's metric SMACOF from the
classical (Torgerson) start and `rnndyn embed --method smacof --starts 0` (the same
start) on the same matrix, three times each, and prints the best wall time and the
Kruskal stress-1 of each embedding, computed here by one formula for both.
"""
import subprocess
import sys
import tempfile
import time

import numpy as np
from sklearn.manifold import MDS


def stress1(d, x):
    e = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    iu = np.triu_indices_from(d, 1)
    return float(np.sqrt(((d[iu] - e[iu]) ** 2).sum() / (d[iu] ** 2).sum()))


def sklearn_mds(**kw):
    """Metric SMACOF from the classical start, one run (scikit-learn's defaults otherwise)."""
    return MDS(
        n_components=2,
        metric_mds=True,
        metric="precomputed",
        init="classical_mds",
        n_init=1,
        random_state=0,
        **kw,
    )


def main():
    exe = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    rng = np.random.default_rng(2019)
    centres = rng.normal(size=(4, 8)) * 3.0
    pts = centres[rng.integers(0, 4, n)] + rng.normal(size=(n, 8))
    d = np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1))
    with tempfile.TemporaryDirectory() as tmp:
        dpath, xpath = f"{tmp}/d.npy", f"{tmp}/x.npy"
        np.save(dpath, d)
        ours, theirs, theirs300 = [], [], []
        for _ in range(3):
            t = time.perf_counter()
            subprocess.run(
                [exe, "embed", dpath, "--method", "smacof", "--starts", "0", "--out", xpath],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            x_sk = sklearn_mds().fit_transform(d)
            theirs.append(time.perf_counter() - t)
            # Equal work: rnndyn's default stops at a 1e-9 relative decrease or 300
            # iterations (300 here); scikit-learn's eps = 1e-6 stops far earlier.
            t = time.perf_counter()
            m300 = sklearn_mds(max_iter=300, eps=1e-12)
            x_sk300 = m300.fit_transform(d)
            theirs300.append(time.perf_counter() - t)
        x_ours = np.load(xpath)
    print(f"n = {n}")
    print(f"scikit-learn SMACOF (classical init): best {min(theirs):.3f} s, stress-1 {stress1(d, x_sk):.6f}")
    print(f"scikit-learn SMACOF, 300 iterations ({m300.n_iter_} run): best {min(theirs300):.3f} s, stress-1 {stress1(d, x_sk300):.6f}")
    print(f"rnndyn embed (process incl. .npy I/O): best {min(ours):.3f} s, stress-1 {stress1(d, x_ours):.6f}")
    print(f"ratio (sklearn defaults / rnndyn): {min(theirs) / min(ours):.2f}x")
    print(f"ratio (sklearn 300 iterations / rnndyn): {min(theirs300) / min(ours):.2f}x")


if __name__ == "__main__":
    main()
