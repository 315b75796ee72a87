#!/usr/bin/env python3
"""Reference values for rnndyn's geometry analyses (host/tests/geometry.rs).

An independent NumPy/SciPy implementation, deliberately computed by different routes
from the Rust code where possible:
  - SVCCA: covariance-form CCA (Σ_aa^{-1/2} Σ_ab Σ_bb^{-1/2}, inverse square roots by
    eigh) on the reduced matrices X V_k, instead of the QR/basis route; k from the
    *squared* singular values (variance), not the google/svcca notebook's plain sum.
  - Linear CKA: sample-space HSIC tr(K H L H) with n x n Gram matrices (Rust: feature
    space).
  - RBF CKA: scipy.spatial.distance.pdist/squareform distances, sigma = 0.5 x
    sqrt(median of the n^2 squared distances), diagonal zeros included, as Kornblith's
    code (for an even count this differs slightly from the median distance).
  - Debiased CKA: the unbiased HSIC of Song et al. (2012) on n x n Grams with zeroed
    diagonals (Rust: Kornblith's feature-space form).
  - Shape metric: explicit orthogonal Procrustes rotation (zero-padded to equal width)
    and arccos of the aligned inner product (Rust: nuclear norm of Z_aᵀ Z_b).
  - Classical MDS: eigh of the double-centred squared distances.

Run: python3 tests/data/make_geometry_ref.py  (writes tests/data/geometry_ref.npz)
"""
import os

import numpy as np
from scipy.spatial.distance import pdist, squareform

rng = np.random.default_rng(20191208)
N = 48
Z = rng.standard_normal((N, 6))  # shared "probe" latents: networks see the same inputs


def activity(units, latent=4, noise=0.1):
    z = Z[:, :latent]
    w = rng.standard_normal((latent, units)) * np.linspace(2.0, 0.5, latent)[:, None]
    return np.tanh(z @ w + 0.3) + noise * rng.standard_normal((N, units)) + 1.5


A = activity(6)
B = activity(5)
C = activity(8, latent=6, noise=0.3)


def centre(x):
    return x - x.mean(axis=0, keepdims=True)


def inv_sqrt(m):
    lam, v = np.linalg.eigh(m)
    return (v / np.sqrt(lam)) @ v.T


def svcca(x, y, frac=0.99, k=None, eps=0.0):
    def reduce(m):
        m = centre(m)
        _, s, vt = np.linalg.svd(m, full_matrices=False)
        if k is None:
            share = np.cumsum(s**2) / np.sum(s**2)
            kk = int(np.searchsorted(share, frac) + 1)
        else:
            kk = k
        return m @ vt[:kk].T

    a, b = reduce(x), reduce(y)
    n = a.shape[0]
    saa = a.T @ a / (n - 1) + eps * np.eye(a.shape[1])
    sbb = b.T @ b / (n - 1) + eps * np.eye(b.shape[1])
    sab = a.T @ b / (n - 1)
    rho = np.linalg.svd(inv_sqrt(saa) @ sab @ inv_sqrt(sbb), compute_uv=False)
    return np.clip(rho, 0.0, 1.0)


def hmat(n):
    return np.eye(n) - np.ones((n, n)) / n


def cka_from_grams(k, l):
    h = hmat(k.shape[0])
    kc, lc = h @ k @ h, h @ l @ h
    return np.sum(kc * lc) / (np.linalg.norm(kc) * np.linalg.norm(lc))


def linear_cka(x, y):
    x, y = centre(x), centre(y)
    return cka_from_grams(x @ x.T, y @ y.T)


def rbf_gram(x, frac):
    d = squareform(pdist(x))
    # Kornblith: sigma^2 = frac^2 * median of the n^2 squared distances (diagonal
    # included); for an even count NumPy averages the two middle squared distances.
    sigma = frac * np.sqrt(np.median(d**2))
    return np.exp(-(d**2) / (2 * sigma**2))


def rbf_cka(x, y, frac=0.5):
    return cka_from_grams(rbf_gram(x, frac), rbf_gram(y, frac))


def hsic_unbiased(k, l):
    n = k.shape[0]
    k = k.copy()
    l = l.copy()
    np.fill_diagonal(k, 0.0)
    np.fill_diagonal(l, 0.0)
    one = np.ones(n)
    t1 = np.trace(k @ l)
    t2 = (one @ k @ one) * (one @ l @ one) / ((n - 1) * (n - 2))
    t3 = 2.0 / (n - 2) * (one @ k @ l @ one)
    return (t1 + t2 - t3) / (n * (n - 3))


def debiased_cka(x, y):
    x, y = centre(x), centre(y)
    k, l = x @ x.T, y @ y.T
    return hsic_unbiased(k, l) / np.sqrt(hsic_unbiased(k, k) * hsic_unbiased(l, l))


def shape_phi(x, alpha):
    x = centre(x)
    if alpha < 1.0:
        c = x.T @ x / x.shape[0]
        lam, v = np.linalg.eigh(c)
        lam = np.maximum(lam, lam.max() * 1e-12)
        x = x @ ((v * (alpha + (1 - alpha) / np.sqrt(lam))) @ v.T)
    return x / np.linalg.norm(x)


def shape_distance(x, y, alpha=1.0):
    a, b = shape_phi(x, alpha), shape_phi(y, alpha)
    p = max(a.shape[1], b.shape[1])
    a = np.pad(a, ((0, 0), (0, p - a.shape[1])))
    b = np.pad(b, ((0, 0), (0, p - b.shape[1])))
    u, _, vt = np.linalg.svd(a.T @ b)
    q = u @ vt  # optimal rotation of a onto b
    return np.arccos(np.clip(np.sum((a @ q) * b), -1.0, 1.0))


def classical_mds(d, dims):
    n = d.shape[0]
    h = hmat(n)
    bm = -0.5 * h @ (d**2) @ h
    lam, v = np.linalg.eigh(bm)
    order = np.argsort(lam)[::-1][:dims]
    lam, v = lam[order], v[:, order]
    for k in range(dims):
        big = np.argmax(np.abs(v[:, k]))
        if v[big, k] < 0:
            v[:, k] = -v[:, k]
    coords = v * np.sqrt(np.maximum(lam, 0.0))
    e = squareform(pdist(coords))
    iu = np.triu_indices(n, 1)
    raw = np.sum((d[iu] - e[iu]) ** 2)
    return coords, lam, raw, np.sqrt(raw / np.sum(d[iu] ** 2))


out = {"A": A, "B": B, "C": C}
for name, (x, y) in {"ab": (A, B), "ac": (A, C), "bc": (B, C)}.items():
    rho = svcca(x, y)
    out[f"svcca_corr_{name}"] = rho
    out[f"svcca_mean_{name}"] = np.array([rho.mean()])
    out[f"svcca_k3_corr_{name}"] = svcca(x, y, k=3)
    out[f"svcca_eps_corr_{name}"] = svcca(x, y, eps=0.05)
    out[f"cka_linear_{name}"] = np.array([linear_cka(x, y)])
    out[f"cka_rbf_{name}"] = np.array([rbf_cka(x, y, 0.5)])
    out[f"cka_debiased_{name}"] = np.array([debiased_cka(x, y)])
    out[f"procrustes_{name}"] = np.array([shape_distance(x, y, 1.0)])
    out[f"shape_half_{name}"] = np.array([shape_distance(x, y, 0.5)])
    out[f"shape_zero_{name}"] = np.array([shape_distance(x, y, 0.0)])

# MDS: a Euclidean configuration (3-D points) and a non-Euclidean distance matrix.
P = rng.standard_normal((12, 3)) * np.array([3.0, 1.5, 0.5])
D_euc = squareform(pdist(P))
D_l1 = squareform(pdist(rng.standard_normal((12, 4)), metric="cityblock"))
for name, d in {"euc": D_euc, "l1": D_l1}.items():
    coords, lam, raw, s1 = classical_mds(d, 2)
    out[f"mds_{name}_D"] = d
    out[f"mds_{name}_coords"] = coords
    out[f"mds_{name}_eig"] = lam
    out[f"mds_{name}_stress"] = np.array([raw, s1])

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "geometry_ref.npz")
np.savez(path, **out)
print(f"wrote {path} ({os.path.getsize(path)} bytes, {len(out)} arrays)")
