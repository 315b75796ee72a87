//! Long short-term memory (Hochreiter & Schmidhuber 1997, with forget gate, no peepholes):
//! `i, f, o = σ(h W + x U + b)`, `g = φ(·)`, `c' = f ⊙ c + i ⊙ g`, `h' = o ⊙ φ(c')`.
//! The state is `[h; c]` (dimension 2N), which is what dynamics analysis linearises.

use super::{Activation, BlockKind, Cell, InitParams, ParamBlock, Wrt, MAX_BLOCKS};
use crate::kernel::{
    gemm_acc, gemm_tn_acc, gemv_acc, gemv_t_acc, input_and_bias_grad_acc, input_projection,
    outer_acc, transpose, zip_map,
};
use crate::Real;

/// LSTM cell with `N` hidden units and `I` inputs; state `s = [h; c]` (length `2N`).
///
/// Blocks: `W (N, 4N)` (reads `h` only), `U (I, 4N)`, `b (4N,)`, gate order `[i | f | g | o]`.
/// Cache (per step): `i | f | g | o | φ(c')`, each `N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LstmCell<const N: usize, const I: usize> {
    /// φ of the cell input and output (tanh or ReLU).
    pub activation: Activation,
}

/// The four gate vectors of one step.
struct Gates<'a, R> {
    i: &'a mut [R],
    f: &'a mut [R],
    g: &'a mut [R],
    o: &'a mut [R],
}

impl<const N: usize, const I: usize> LstmCell<N, I> {
    /// A cell with nonlinearity `activation`.
    pub const fn new(activation: Activation) -> Self {
        LstmCell { activation }
    }
    const LD: usize = 4 * N;
    const W: usize = 0;
    const U: usize = 4 * N * N;
    const B: usize = 4 * N * N + 4 * I * N;
    /// Number of parameters.
    pub const PARAMS: usize = 4 * N * N + 4 * I * N + 4 * N;

    #[inline(always)]
    fn gates<R: Real>(&self, p: &[R], s: &[R], x: &[R], gt: Gates<'_, R>) {
        let (w, u, b) = (
            &p[Self::W..Self::U],
            &p[Self::U..Self::B],
            &p[Self::B..Self::PARAMS],
        );
        let h = &s[..N];
        let Gates { i, f, g, o } = gt;
        for (k, v) in [&mut *i, &mut *f, &mut *g, &mut *o].into_iter().enumerate() {
            v.copy_from_slice(&b[k * N..(k + 1) * N]);
            gemv_acc(v, u, Self::LD, k * N, x);
            gemv_acc(v, w, Self::LD, k * N, h);
        }
        let act = self.activation;
        i.iter_mut().for_each(|v| *v = v.sigmoid());
        f.iter_mut().for_each(|v| *v = v.sigmoid());
        g.iter_mut().for_each(|v| *v = act.apply(*v));
        o.iter_mut().for_each(|v| *v = v.sigmoid());
    }

    /// `c' = f ⊙ c + i ⊙ g`, `t = φ(c')`, `h' = o ⊙ t`; writes `[h'; c']` and `t`.
    #[inline(always)]
    fn combine<R: Real>(
        &self,
        s: &[R],
        i: &[R],
        f: &[R],
        g: &[R],
        o: &[R],
        t: &mut [R],
        s_next: &mut [R],
    ) {
        let c = &s[N..2 * N];
        let (hn, cn) = s_next[..2 * N].split_at_mut(N);
        for j in 0..N {
            cn[j] = f[j] * c[j] + i[j] * g[j];
            t[j] = self.activation.apply(cn[j]);
            hn[j] = o[j] * t[j];
        }
    }

    /// Writes the derivatives w.r.t. `v` (`[h; c]` with `m = W`, or `x` with `m = U`) into
    /// the row-major `2N × ld` matrix `jac` (`ld = 2N` or `I`); `rows` is `m`'s row count.
    fn jacobian_block<R: Real>(&self, p: &[R], s: &[R], x: &[R], wrt: Wrt, jac: &mut [R]) {
        let (m, rows, ld) = match wrt {
            Wrt::State => (&p[Self::W..Self::U], N, 2 * N),
            Wrt::Input => (&p[Self::U..Self::B], I, I),
        };
        let (mut i, mut f, mut g, mut o) = ([R::ZERO; N], [R::ZERO; N], [R::ZERO; N], [R::ZERO; N]);
        self.gates(
            p,
            s,
            x,
            Gates {
                i: &mut i,
                f: &mut f,
                g: &mut g,
                o: &mut o,
            },
        );
        let c = &s[N..2 * N];
        // ∂c'_a = ki_a ∂a_i + kf_a ∂a_f + kg_a ∂a_g;  ∂h'_a = ko_a ∂a_o + oφ'_a ∂c'_a.
        let (mut ki, mut kf, mut kg, mut ko, mut od) = (
            [R::ZERO; N],
            [R::ZERO; N],
            [R::ZERO; N],
            [R::ZERO; N],
            [R::ZERO; N],
        );
        for a in 0..N {
            let cn = f[a] * c[a] + i[a] * g[a];
            let t = self.activation.apply(cn);
            ki[a] = g[a] * i[a] * (R::ONE - i[a]);
            kf[a] = c[a] * f[a] * (R::ONE - f[a]);
            kg[a] = i[a] * self.activation.derivative_from_output(g[a]);
            ko[a] = t * o[a] * (R::ONE - o[a]);
            od[a] = o[a] * self.activation.derivative_from_output(t);
        }
        for a in 0..N {
            for k in 0..rows {
                let row = &m[k * Self::LD..(k + 1) * Self::LD];
                let dc = ki[a] * row[a] + kf[a] * row[N + a] + kg[a] * row[2 * N + a];
                jac[a * ld + k] = ko[a] * row[3 * N + a] + od[a] * dc;
                jac[(N + a) * ld + k] = dc;
            }
        }
        // Direct dependence on c (state Jacobian only): ∂c'_a/∂c_a = f_a.
        if wrt == Wrt::State {
            for a in 0..N {
                for b in 0..N {
                    jac[a * ld + N + b] = R::ZERO;
                    jac[(N + a) * ld + N + b] = R::ZERO;
                }
                jac[a * ld + N + a] = od[a] * f[a];
                jac[(N + a) * ld + N + a] = f[a];
            }
        }
    }
}

impl<R: Real, const N: usize, const I: usize> Cell<R> for LstmCell<N, I> {
    const HIDDEN: usize = N;
    const INPUT: usize = I;
    const STATE: usize = 2 * N;
    const CACHE: usize = 5 * N;
    /// Work: gates `[i | f | g | o]`, then their pre-activation gradients
    /// (`steps·batch × 4N`, time-major); `φ(c')` (`steps·batch × N`); `Wᵀ` (`4N × N`);
    /// `dL/dc` of two consecutive steps (`2 × batch × N`).
    const WORK_PER_ROW: usize = 5 * N;
    const WORK_PER_TRIAL: usize = 2 * N;
    const WORK_FIXED: usize = 4 * N * N;

    fn name(&self) -> &'static str {
        "lstm"
    }
    fn activation(&self) -> Activation {
        self.activation
    }

    fn blocks(&self) -> [Option<ParamBlock>; MAX_BLOCKS] {
        [
            Some(ParamBlock {
                name: "W",
                rows: N,
                cols: 4 * N,
                kind: BlockKind::Recurrent,
            }),
            Some(ParamBlock {
                name: "U",
                rows: I,
                cols: 4 * N,
                kind: BlockKind::Input,
            }),
            Some(ParamBlock {
                name: "b",
                rows: 1,
                cols: 4 * N,
                kind: BlockKind::Bias,
            }),
            None,
        ]
    }

    /// The forget gate starts at `init.gate_bias` (remembering); the others at 0.
    fn initial_bias(&self, j: usize, init: &InitParams) -> f64 {
        if (N..2 * N).contains(&j) {
            init.gate_bias
        } else {
            0.0
        }
    }

    #[inline]
    fn step(&self, p: &[R], s: &[R], x: &[R], s_next: &mut [R]) {
        let (mut i, mut f, mut g, mut o) = ([R::ZERO; N], [R::ZERO; N], [R::ZERO; N], [R::ZERO; N]);
        self.gates(
            p,
            s,
            x,
            Gates {
                i: &mut i,
                f: &mut f,
                g: &mut g,
                o: &mut o,
            },
        );
        let mut t = [R::ZERO; N];
        self.combine(s, &i, &f, &g, &o, &mut t, s_next);
    }

    #[inline]
    fn forward(&self, p: &[R], s: &[R], x: &[R], s_next: &mut [R], cache: &mut [R]) {
        let (i, rest) = cache[..5 * N].split_at_mut(N);
        let (f, rest) = rest.split_at_mut(N);
        let (g, rest) = rest.split_at_mut(N);
        let (o, t) = rest.split_at_mut(N);
        self.gates(p, s, x, Gates { i, f, g, o });
        self.combine(s, i, f, g, o, t, s_next);
    }

    #[inline]
    fn backward(
        &self,
        p: &[R],
        s: &[R],
        x: &[R],
        _s_next: &[R],
        cache: &[R],
        ds_next: &[R],
        ds: &mut [R],
        dp: &mut [R],
        dx: Option<&mut [R]>,
    ) {
        let (i, f, g) = (&cache[..N], &cache[N..2 * N], &cache[2 * N..3 * N]);
        let (o, t) = (&cache[3 * N..4 * N], &cache[4 * N..5 * N]);
        let (h, c) = (&s[..N], &s[N..2 * N]);
        let (dh_next, dc_next) = (&ds_next[..N], &ds_next[N..2 * N]);
        let (dh, dc) = ds[..2 * N].split_at_mut(N);
        let (mut dai, mut daf, mut dag, mut dao) =
            ([R::ZERO; N], [R::ZERO; N], [R::ZERO; N], [R::ZERO; N]);
        let act = self.activation;
        for j in 0..N {
            let dcn = dc_next[j] + dh_next[j] * o[j] * act.derivative_from_output(t[j]);
            dao[j] = dh_next[j] * t[j] * o[j] * (R::ONE - o[j]);
            dai[j] = dcn * g[j] * i[j] * (R::ONE - i[j]);
            daf[j] = dcn * c[j] * f[j] * (R::ONE - f[j]);
            dag[j] = dcn * i[j] * act.derivative_from_output(g[j]);
            dc[j] = dcn * f[j];
            dh[j] = R::ZERO;
        }
        let da = [&dai, &daf, &dag, &dao];
        let w = &p[Self::W..Self::U];
        for (k, d) in da.iter().enumerate() {
            gemv_t_acc(dh, w, Self::LD, k * N, &d[..]);
        }
        {
            let dw = &mut dp[Self::W..Self::U];
            for (k, d) in da.iter().enumerate() {
                outer_acc(dw, Self::LD, k * N, h, &d[..]);
            }
        }
        {
            let du = &mut dp[Self::U..Self::B];
            for (k, d) in da.iter().enumerate() {
                outer_acc(du, Self::LD, k * N, x, &d[..]);
            }
        }
        let db = &mut dp[Self::B..Self::PARAMS];
        for (k, d) in da.iter().enumerate() {
            for j in 0..N {
                db[k * N + j] += d[j];
            }
        }
        if let Some(dx) = dx {
            let u = &p[Self::U..Self::B];
            for (k, d) in da.iter().enumerate() {
                gemv_t_acc(dx, u, Self::LD, k * N, &d[..]);
            }
        }
    }

    // Out of line: see "Code generation" in the `cell` module docs.
    #[inline(never)]
    fn forward_batch(
        &self,
        p: &[R],
        xs: &[R],
        batch: usize,
        steps: usize,
        states: &mut [R],
        work: &mut [R],
    ) {
        let (w, u, bias) = (
            &p[Self::W..Self::U],
            &p[Self::U..Self::B],
            &p[Self::B..Self::PARAMS],
        );
        let (ld, bn, bs) = (Self::LD, batch * N, batch * 2 * N);
        let bg = batch * ld;
        let rows = batch * steps;
        let (gate, rest) = work.split_at_mut(rows * ld);
        let tc = &mut rest[..rows * N];
        input_projection::<R, I>(gate, ld, bias, u, xs, batch, steps);
        let act = self.activation;
        for t in 0..steps {
            let zt = &mut gate[t * bg..(t + 1) * bg];
            let tct = &mut tc[t * bn..(t + 1) * bn];
            let (prev, next) = states.split_at_mut((t + 1) * bs);
            let s = &prev[t * bs..];
            gemm_acc(zt, ld, s, 2 * N, w, ld, batch, N, ld);
            R::sigmoid_rows(zt, ld, 0, 2 * N, batch);
            act.apply_rows(zt, ld, 2 * N, N, batch);
            R::sigmoid_rows(zt, ld, 3 * N, N, batch);
            for b in 0..batch {
                let zrow = &zt[b * ld..(b + 1) * ld];
                let c = &s[b * 2 * N + N..(b + 1) * 2 * N];
                let cn = &mut next[b * 2 * N + N..(b + 1) * 2 * N];
                let tr = &mut tct[b * N..(b + 1) * N];
                let (i, f, g) = (&zrow[..N], &zrow[N..2 * N], &zrow[2 * N..3 * N]);
                zip_map(cn, [f, c, i, g], |_, [f, c, i, g]| f * c + i * g);
                tr.copy_from_slice(cn);
            }
            // tanh(c') of the whole batch at once: `tct` is contiguous.
            act.apply_in_place(tct);
            for b in 0..batch {
                let o = &zt[b * ld + 3 * N..(b + 1) * ld];
                let hn = &mut next[b * 2 * N..b * 2 * N + N];
                let tr = &tct[b * N..(b + 1) * N];
                zip_map(hn, [o, tr], |_, [o, t]| o * t);
            }
        }
    }

    // Out of line: see "Code generation" in the `cell` module docs.
    #[inline(never)]
    fn backward_batch(
        &self,
        p: &[R],
        xs: &[R],
        batch: usize,
        steps: usize,
        states: &[R],
        dh: &mut [R],
        dp: &mut [R],
        work: &mut [R],
    ) {
        let (ld, bn, bs) = (Self::LD, batch * N, batch * 2 * N);
        let bg = batch * ld;
        let rows = batch * steps;
        let (gate, rest) = work.split_at_mut(rows * ld);
        let (tc, rest) = rest.split_at_mut(rows * N);
        let (wt, rest) = rest.split_at_mut(ld * N);
        let (dc0, rest) = rest.split_at_mut(bn);
        let dc1 = &mut rest[..bn];
        transpose(wt, &p[Self::W..Self::U], ld, 0, N, ld);
        let (mut dc, mut dc_prev) = (dc0, dc1);
        dc.iter_mut().for_each(|v| *v = R::ZERO);
        let act = self.activation;
        for t in (0..steps).rev() {
            let zt = &mut gate[t * bg..(t + 1) * bg];
            let tct = &tc[t * bn..(t + 1) * bn];
            let s = &states[t * bs..(t + 1) * bs];
            let (dlo, dhi) = dh.split_at_mut(t * bn);
            let dht = &dhi[..bn];
            for b in 0..batch {
                let (i, rest) = zt[b * ld..(b + 1) * ld].split_at_mut(N);
                let (f, rest) = rest.split_at_mut(N);
                let (g, o) = rest.split_at_mut(N);
                let c = &s[b * 2 * N + N..(b + 1) * 2 * N];
                let rows = b * N..(b + 1) * N;
                let (tr, dr, dcr) = (&tct[rows.clone()], &dht[rows.clone()], &dc[rows.clone()]);
                let dcp = &mut dc_prev[rows];
                // One arm per activation: see "Code generation" in the `cell` module docs.
                match act {
                    Activation::Tanh => {
                        backward_row::<R, N>(Activation::Tanh, i, f, g, o, c, tr, dr, dcr, dcp)
                    }
                    Activation::Relu => {
                        backward_row::<R, N>(Activation::Relu, i, f, g, o, c, tr, dr, dcr, dcp)
                    }
                }
            }
            if t > 0 {
                gemm_acc(&mut dlo[(t - 1) * bn..], N, zt, ld, wt, N, batch, ld, N);
            }
            core::mem::swap(&mut dc, &mut dc_prev);
        }
        gemm_tn_acc(
            &mut dp[Self::W..Self::U],
            ld,
            states,
            2 * N,
            gate,
            ld,
            rows,
            N,
            ld,
        );
        let (du, db) = dp[Self::U..Self::PARAMS].split_at_mut(Self::B - Self::U);
        input_and_bias_grad_acc::<R, I>(du, db, gate, ld, xs, batch, steps);
    }

    fn jacobian_state(&self, p: &[R], s: &[R], x: &[R], jac: &mut [R]) {
        self.jacobian_block(p, s, x, Wrt::State, jac);
    }

    fn jacobian_input(&self, p: &[R], s: &[R], x: &[R], jac: &mut [R]) {
        self.jacobian_block(p, s, x, Wrt::Input, jac);
    }
}

/// One row of the batched backward step: the gate gradients overwrite the cached gates
/// `i, f, g, o`, `dcp` gets the gradient of the previous cell state. Every slice is its own
/// argument, so LLVM knows they do not overlap and vectorises the loop (written inside the
/// caller's row loop, it ran scalar after a failed runtime overlap check).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn backward_row<R: Real, const N: usize>(
    act: Activation,
    i: &mut [R],
    f: &mut [R],
    g: &mut [R],
    o: &mut [R],
    c: &[R],
    tr: &[R],
    dr: &[R],
    dcr: &[R],
    dcp: &mut [R],
) {
    let (i, f, g, o) = (&mut i[..N], &mut f[..N], &mut g[..N], &mut o[..N]);
    let (c, tr, dr, dcr, dcp) = (&c[..N], &tr[..N], &dr[..N], &dcr[..N], &mut dcp[..N]);
    for j in 0..N {
        let (iv, fv, gv, ov, tv) = (i[j], f[j], g[j], o[j], tr[j]);
        let dhn = dr[j];
        let dcn = dcr[j] + dhn * ov * act.derivative_from_output(tv);
        o[j] = dhn * tv * ov * (R::ONE - ov);
        i[j] = dcn * gv * iv * (R::ONE - iv);
        f[j] = dcn * c[j] * fv * (R::ONE - fv);
        g[j] = dcn * iv * act.derivative_from_output(gv);
        dcp[j] = dcn * fv;
    }
}
