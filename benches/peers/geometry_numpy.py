#!/usr/bin/env python3
"""NumPy peer for benches/benches/geometry.rs: pairwise SVCCA and linear CKA over 100
networks of 2000 x 64 activity, and (optionally) classical MDS of 1000 points.

A careful implementation: every network's centring, SVD (SVCCA) and ||X^T X||_F (CKA)
are computed once and cached; the pairwise step is then one (k_a x n)(n x k_b) product
plus a small SVD (SVCCA) or one (64 x n)(n x 64) product (CKA). Two variants of the
pairwise step are timed:
  - loop:    a Python loop over the 4950 pairs (the usual way);
  - stacked: one big product of the stacked caches, S^T S, then per-pair blocks
             (BLAS-3 efficiency; what a NumPy expert would do).
Same data distribution as the Rust bench: shared latents Z (2000 x 10), per network
tanh(Z W / sqrt(10)) + 0.05 noise, W (10 x 64) standard normal.

Run: python3 benches/peers/geometry_numpy.py [REPEATS]  (threads: OPENBLAS_NUM_THREADS)
     python3 benches/peers/geometry_numpy.py 1 --networks 1000
With --networks above 100 only the loop variants run, once each (the stacked caches would
need (1000 * 64)^2 doubles = 33 GB); the Rust side is benches/benches/pairwise_1000.rs.
"""
import sys
import time

import numpy as np

NETWORKS, ROWS, UNITS, LATENT = 100, 2000, 64, 10


def population(networks=NETWORKS, seed=2019):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((ROWS, LATENT))
    return [
        np.tanh(z @ (rng.standard_normal((LATENT, UNITS)) / np.sqrt(LATENT)))
        + 0.05 * rng.standard_normal((ROWS, UNITS))
        for _ in range(networks)
    ]


def svcca_reduce(x, frac=0.99):
    x = x - x.mean(axis=0)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    share = np.cumsum(s**2) / np.sum(s**2)
    k = int(np.searchsorted(share, frac) + 1)
    return np.ascontiguousarray(u[:, :k])


def pairwise_svcca_loop(pop):
    red = [svcca_reduce(x) for x in pop]
    p = len(red)
    d = np.zeros((p, p))
    for i in range(p):
        ui = red[i].T.copy()
        for j in range(i + 1, p):
            rho = np.linalg.svd(ui @ red[j], compute_uv=False)
            d[i, j] = d[j, i] = 1.0 - np.clip(rho, 0, 1).mean()
    return d, [r.shape[1] for r in red]


def pairwise_svcca_stacked(pop):
    red = [svcca_reduce(x) for x in pop]
    off = np.concatenate([[0], np.cumsum([r.shape[1] for r in red])])
    s = np.hstack(red)
    g = s.T @ s
    p = len(red)
    d = np.zeros((p, p))
    for i in range(p):
        for j in range(i + 1, p):
            rho = np.linalg.svd(g[off[i]:off[i + 1], off[j]:off[j + 1]], compute_uv=False)
            d[i, j] = d[j, i] = 1.0 - np.clip(rho, 0, 1).mean()
    return d


def cka_prep(x):
    x = x - x.mean(axis=0)
    return x, np.linalg.norm(x.T @ x)


def pairwise_cka_loop(pop):
    prep = [cka_prep(x) for x in pop]
    p = len(prep)
    d = np.zeros((p, p))
    for i in range(p):
        xi = prep[i][0].T.copy()
        for j in range(i + 1, p):
            xty = np.linalg.norm(xi @ prep[j][0]) ** 2
            d[i, j] = d[j, i] = 1.0 - xty / (prep[i][1] * prep[j][1])
    return d


def pairwise_cka_stacked(pop):
    prep = [cka_prep(x) for x in pop]
    s = np.hstack([x for x, _ in prep])
    g = s.T @ s
    p = len(prep)
    d = np.zeros((p, p))
    for i in range(p):
        for j in range(i + 1, p):
            blk = g[i * UNITS:(i + 1) * UNITS, j * UNITS:(j + 1) * UNITS]
            d[i, j] = d[j, i] = 1.0 - np.sum(blk * blk) / (prep[i][1] * prep[j][1])
    return d


def classical_mds(d, dims=2):
    n = d.shape[0]
    d2 = d**2
    b = -0.5 * (d2 - d2.mean(0)[None, :] - d2.mean(1)[:, None] + d2.mean())
    lam, v = np.linalg.eigh(b)
    idx = np.argsort(lam)[::-1][:dims]
    return v[:, idx] * np.sqrt(np.maximum(lam[idx], 0))


def best_of(f, repeats):
    times = []
    out = None
    for _ in range(repeats):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return min(times), float(np.median(times)), out


def main_large(networks):
    pop = population(networks)
    print(f"numpy {np.__version__}; {networks} networks of {ROWS}x{UNITS}; one run each")
    t, _, (d, ks) = best_of(lambda: pairwise_svcca_loop(pop), 1)
    iu = np.triu_indices(networks, 1)
    print(f"svcca_loop        {t:.2f} s  (mean distance {d[iu].mean():.6f})")
    t, _, c = best_of(lambda: pairwise_cka_loop(pop), 1)
    print(f"linear_cka_loop   {t:.2f} s  (mean distance {c[iu].mean():.6f})")


def main():
    args = sys.argv[1:]
    if "--networks" in args:
        k = args.index("--networks")
        networks = int(args[k + 1])
        del args[k:k + 2]
        if networks > NETWORKS:
            return main_large(networks)
    repeats = int(args[0]) if args else 3
    pop = population()
    print(f"numpy {np.__version__}; {NETWORKS} networks of {ROWS}x{UNITS}; best/median of {repeats}")
    t, m, (d_loop, ks) = best_of(lambda: pairwise_svcca_loop(pop), repeats)
    print(f"SVCCA k (99% variance): min {min(ks)} median {int(np.median(ks))} max {max(ks)}")
    print(f"svcca_loop        best {t:.3f} s  median {m:.3f} s")
    t, m, d_st = best_of(lambda: pairwise_svcca_stacked(pop), repeats)
    print(f"svcca_stacked     best {t:.3f} s  median {m:.3f} s  (max diff vs loop {np.abs(d_st - d_loop).max():.1e})")
    t, m, c_loop = best_of(lambda: pairwise_cka_loop(pop), repeats)
    print(f"linear_cka_loop   best {t:.3f} s  median {m:.3f} s")
    t, m, c_st = best_of(lambda: pairwise_cka_stacked(pop), repeats)
    print(f"linear_cka_stacked best {t:.3f} s  median {m:.3f} s  (max diff vs loop {np.abs(c_st - c_loop).max():.1e})")
    t0 = time.perf_counter()
    red = [svcca_reduce(x) for x in pop]
    print(f"svcca reductions only: {time.perf_counter() - t0:.3f} s ({len(red)} SVDs)")
    rng = np.random.default_rng(7)
    pts = rng.standard_normal((1000, 5)) * np.array([3.0, 2.0, 1.0, 0.5, 0.25])
    dm = np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1))
    t, m, _ = best_of(lambda: classical_mds(dm), repeats)
    print(f"classical_mds_1000 best {t:.3f} s  median {m:.3f} s")


if __name__ == "__main__":
    main()
