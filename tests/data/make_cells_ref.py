#!/usr/bin/env python3
"""Reference fixtures for rnndyn's cells: `cells_ref.npz`.

An independent float64 NumPy implementation (batched, matrix-at-a-time; it shares no code
with the Rust core) of every cell -- vanilla, UGRNN, GRU with the reset gate before and after
the recurrent product, LSTM -- with tanh and ReLU, a linear readout, the mean-squared-error
loss and its gradient by hand-written backpropagation through time. The gradient is checked
here against central finite differences of the loss before anything is written.

Conventions (those of rnndyn-core): row vectors, `a = h W + x U + b`; gate blocks side by
side in `W (N, kN)`, `U (I, kN)`, `b (kN,)`; orders [g|c] (UGRNN), [z|r|c] (GRU),
[i|f|g|o] (LSTM); GRU reset-after adds `bh (N,)`; readout `y = h Wo + bo` with
`Wo (N, O)`, `bo (O,)`; zero initial state; LSTM state [h; c].

Keys: `xs (B,T,I)`, `ys (B,T,O)`, and per configuration `<cfg>` in
{vanilla,ugrnn,gru_before,gru_after,lstm}_{tanh,relu}:
`<cfg>__<block>` parameters, `<cfg>__states (B,T,S)`, `<cfg>__outputs (B,T,O)`,
`<cfg>__loss ()`, `<cfg>__grad__<block>` (same shape as the block).

Run from anywhere: `python3 tests/data/make_cells_ref.py` (needs only numpy).
"""

from pathlib import Path

import numpy as np

N, I, O, B, T = 6, 3, 3, 2, 7
SEED = 20240611


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def act(a, kind):
    return np.tanh(a) if kind == "tanh" else np.maximum(a, 0.0)


def dact(y, kind):
    """phi'(a) from y = phi(a)."""
    return 1.0 - y * y if kind == "tanh" else (y > 0.0).astype(float)


def block_shapes(cell):
    k = {"vanilla": 1, "ugrnn": 2, "gru_before": 3, "gru_after": 3, "lstm": 4}[cell]
    shapes = {"W": (N, k * N), "U": (I, k * N), "b": (k * N,)}
    if cell == "gru_after":
        shapes["bh"] = (N,)
    shapes["Wo"] = (N, O)
    shapes["bo"] = (O,)
    return shapes


def state_size(cell):
    return 2 * N if cell == "lstm" else N


def forward(cell, kind, P, xs):
    """Returns states (B,T,S), outputs (B,T,O) and per-step caches."""
    h = np.zeros((B, N))
    c = np.zeros((B, N))
    states, outputs, caches = [], [], []
    for t in range(T):
        x = xs[:, t, :]
        ax = x @ P["U"] + P["b"]
        if cell == "vanilla":
            hn = act(h @ P["W"] + ax, kind)
            cache = dict(h=h, x=x, hn=hn)
        elif cell == "ugrnn":
            a = h @ P["W"] + ax
            g, cand = sigmoid(a[:, :N]), act(a[:, N:], kind)
            hn = g * h + (1.0 - g) * cand
            cache = dict(h=h, x=x, g=g, c=cand)
        elif cell in ("gru_before", "gru_after"):
            W = P["W"]
            z = sigmoid(h @ W[:, :N] + ax[:, :N])
            r = sigmoid(h @ W[:, N:2 * N] + ax[:, N:2 * N])
            if cell == "gru_before":
                hw = None
                cand = act((r * h) @ W[:, 2 * N:] + ax[:, 2 * N:], kind)
            else:
                hw = h @ W[:, 2 * N:] + P["bh"]
                cand = act(ax[:, 2 * N:] + r * hw, kind)
            hn = z * h + (1.0 - z) * cand
            cache = dict(h=h, x=x, z=z, r=r, c=cand, hw=hw)
        else:  # lstm
            a = h @ P["W"] + ax
            i_, f_ = sigmoid(a[:, :N]), sigmoid(a[:, N:2 * N])
            g_, o_ = act(a[:, 2 * N:3 * N], kind), sigmoid(a[:, 3 * N:])
            cn = f_ * c + i_ * g_
            tc = act(cn, kind)
            hn = o_ * tc
            cache = dict(h=h, c=c, x=x, i=i_, f=f_, g=g_, o=o_, t=tc)
            c = cn
        h = hn
        caches.append(cache)
        states.append(np.concatenate([h, c], axis=1) if cell == "lstm" else h)
        outputs.append(h @ P["Wo"] + P["bo"])
    return np.stack(states, 1), np.stack(outputs, 1), caches


def loss_fn(cell, kind, P, xs, ys):
    _, y, _ = forward(cell, kind, P, xs)
    return np.mean((y - ys) ** 2)


def loss_and_grad(cell, kind, P, xs, ys):
    states, y, caches = forward(cell, kind, P, xs)
    loss = np.mean((y - ys) ** 2)
    G = {k: np.zeros_like(v) for k, v in P.items()}
    dy = 2.0 * (y - ys) / y.size  # (B,T,O)
    dh = np.zeros((B, N))  # dL/dh_{t+1} flowing back
    dc = np.zeros((B, N))  # LSTM cell state
    for t in reversed(range(T)):
        C = caches[t]
        hn = states[:, t, :N]
        G["Wo"] += hn.T @ dy[:, t]
        G["bo"] += dy[:, t].sum(0)
        dh = dh + dy[:, t] @ P["Wo"].T
        h, x = C["h"], C["x"]
        if cell == "vanilla":
            da = dh * dact(C["hn"], kind)
            dh_prev = da @ P["W"].T
            G["W"] += h.T @ da
        elif cell == "ugrnn":
            g, cand = C["g"], C["c"]
            dag = dh * (h - cand) * g * (1.0 - g)
            dac = dh * (1.0 - g) * dact(cand, kind)
            da = np.concatenate([dag, dac], 1)
            dh_prev = dh * g + da @ P["W"].T
            G["W"] += h.T @ da
        elif cell in ("gru_before", "gru_after"):
            W = P["W"]
            z, r, cand = C["z"], C["r"], C["c"]
            daz = dh * (h - cand) * z * (1.0 - z)
            dac = dh * (1.0 - z) * dact(cand, kind)
            dh_prev = dh * z
            if cell == "gru_before":
                drh = dac @ W[:, 2 * N:].T
                dar = drh * h * r * (1.0 - r)
                dh_prev = dh_prev + drh * r
                G["W"][:, 2 * N:] += (r * h).T @ dac
            else:
                dhw = dac * r
                dar = dac * C["hw"] * r * (1.0 - r)
                dh_prev = dh_prev + dhw @ W[:, 2 * N:].T
                G["W"][:, 2 * N:] += h.T @ dhw
                G["bh"] += dhw.sum(0)
            dh_prev = dh_prev + daz @ W[:, :N].T + dar @ W[:, N:2 * N].T
            G["W"][:, :N] += h.T @ daz
            G["W"][:, N:2 * N] += h.T @ dar
            da = np.concatenate([daz, dar, dac], 1)
        else:  # lstm
            i_, f_, g_, o_, tc, c = C["i"], C["f"], C["g"], C["o"], C["t"], C["c"]
            dcn = dc + dh * o_ * dact(tc, kind)
            da = np.concatenate(
                [
                    dcn * g_ * i_ * (1.0 - i_),
                    dcn * c * f_ * (1.0 - f_),
                    dcn * i_ * dact(g_, kind),
                    dh * tc * o_ * (1.0 - o_),
                ],
                1,
            )
            dh_prev = da @ P["W"].T
            dc = dcn * f_
            G["W"] += h.T @ da
        G["U"] += x.T @ da
        G["b"] += da.sum(0)
        dh = dh_prev
    return states, y, loss, G


def check_gradient(cell, kind, P, xs, ys, G, eps=1e-6):
    worst = 0.0
    for name, p in P.items():
        flat = p.reshape(-1)
        for k in range(flat.size):
            old = flat[k]
            flat[k] = old + eps
            lp = loss_fn(cell, kind, P, xs, ys)
            flat[k] = old - eps
            lm = loss_fn(cell, kind, P, xs, ys)
            flat[k] = old
            fd = (lp - lm) / (2 * eps)
            an = G[name].reshape(-1)[k]
            err = abs(fd - an) / max(abs(fd), abs(an), 1e-3)
            worst = max(worst, err)
            assert err < 1e-6, f"{cell}_{kind} d/d{name}[{k}]: analytic {an} vs fd {fd}"
    return worst


def main():
    rng = np.random.default_rng(SEED)
    xs = rng.normal(size=(B, T, I))
    ys = rng.normal(size=(B, T, O))
    out = {"xs": xs, "ys": ys}
    for cell in ("vanilla", "ugrnn", "gru_before", "gru_after", "lstm"):
        for kind in ("tanh", "relu"):
            cfg = f"{cell}_{kind}"
            P = {}
            for name, shape in block_shapes(cell).items():
                scale = 0.5 if name.startswith("b") else 0.9 / np.sqrt(shape[0])
                P[name] = rng.normal(scale=scale, size=shape)
            states, y, loss, G = loss_and_grad(cell, kind, P, xs, ys)
            assert states.shape == (B, T, state_size(cell))
            worst = check_gradient(cell, kind, P, xs, ys, G)
            print(f"{cfg:16s} loss {loss:.6f}  grad vs FD worst rel err {worst:.1e}")
            for name in P:
                out[f"{cfg}__{name}"] = P[name]
                out[f"{cfg}__grad__{name}"] = G[name]
            out[f"{cfg}__states"] = states
            out[f"{cfg}__outputs"] = y
            out[f"{cfg}__loss"] = np.array(loss)
    path = Path(__file__).with_name("cells_ref.npz")
    np.savez(path, **out)
    print(f"wrote {path} ({len(out)} arrays)")


if __name__ == "__main__":
    main()
