//! Update-gate RNN (Collins, Sohl-Dickstein & Sussillo 2017):
//! `g = σ(h W_g + x U_g + b_g)`, `c = φ(h W_c + x U_c + b_c)`, `h' = g ⊙ h + (1 − g) ⊙ c`.

use super::{Activation, BlockKind, Cell, InitParams, ParamBlock, MAX_BLOCKS};
use crate::kernel::{
    add_product, gemm_acc, gemm_tn_acc, gemv_acc, gemv_t_acc, input_and_bias_grad_acc,
    input_projection, outer_acc, transpose, zip_map,
};
use crate::Real;

/// UGRNN cell with `N` hidden units and `I` inputs.
///
/// Blocks: `W (N, 2N)`, `U (I, 2N)`, `b (2N,)`, gate order `[g | c]`.
/// Cache (per step): `g (N) | c (N)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UgrnnCell<const N: usize, const I: usize> {
    /// φ of the candidate (tanh or ReLU).
    pub activation: Activation,
}

impl<const N: usize, const I: usize> UgrnnCell<N, I> {
    /// A cell with nonlinearity `activation`.
    pub const fn new(activation: Activation) -> Self {
        UgrnnCell { activation }
    }
    const LD: usize = 2 * N;
    const W: usize = 0;
    const U: usize = 2 * N * N;
    const B: usize = 2 * N * N + 2 * I * N;
    /// Number of parameters.
    pub const PARAMS: usize = 2 * N * N + 2 * I * N + 2 * N;

    /// Gate values `g = σ(a_g)` and candidate `c = φ(a_c)`.
    #[inline(always)]
    fn gates<R: Real>(&self, p: &[R], s: &[R], x: &[R], g: &mut [R], c: &mut [R]) {
        let (w, u, b) = (
            &p[Self::W..Self::U],
            &p[Self::U..Self::B],
            &p[Self::B..Self::PARAMS],
        );
        let h = &s[..N];
        g.copy_from_slice(&b[..N]);
        c.copy_from_slice(&b[N..]);
        gemv_acc(g, u, Self::LD, 0, x);
        gemv_acc(c, u, Self::LD, N, x);
        gemv_acc(g, w, Self::LD, 0, h);
        gemv_acc(c, w, Self::LD, N, h);
        let act = self.activation;
        g.iter_mut().for_each(|v| *v = v.sigmoid());
        c.iter_mut().for_each(|v| *v = act.apply(*v));
    }

    /// `h' = g ⊙ h + (1 − g) ⊙ c`.
    #[inline(always)]
    fn combine<R: Real>(h: &[R], g: &[R], c: &[R], out: &mut [R]) {
        for j in 0..N {
            out[j] = g[j] * h[j] + (R::ONE - g[j]) * c[j];
        }
    }

    /// Per-unit coefficients of the Jacobians: `∂h'_a/∂a_g,a` and `∂h'_a/∂a_c,a`, plus `g`.
    #[inline(always)]
    fn jacobian_coefficients<R: Real>(
        &self,
        p: &[R],
        s: &[R],
        x: &[R],
        g: &mut [R; N],
        kg: &mut [R; N],
        kc: &mut [R; N],
    ) {
        let mut c = [R::ZERO; N];
        self.gates(p, s, x, g, &mut c);
        for a in 0..N {
            kg[a] = (s[a] - c[a]) * g[a] * (R::ONE - g[a]);
            kc[a] = (R::ONE - g[a]) * self.activation.derivative_from_output(c[a]);
        }
    }
}

impl<R: Real, const N: usize, const I: usize> Cell<R> for UgrnnCell<N, I> {
    const HIDDEN: usize = N;
    const INPUT: usize = I;
    const STATE: usize = N;
    const CACHE: usize = 2 * N;
    /// Work: gates `[g | c]`, then `[dag | dac]` (`steps·batch × 2N`, time-major), and
    /// `Wᵀ` (`2N × N`).
    const WORK_PER_ROW: usize = 2 * N;
    const WORK_PER_TRIAL: usize = 0;
    const WORK_FIXED: usize = 2 * N * N;

    fn name(&self) -> &'static str {
        "ugrnn"
    }
    fn activation(&self) -> Activation {
        self.activation
    }

    fn blocks(&self) -> [Option<ParamBlock>; MAX_BLOCKS] {
        [
            Some(ParamBlock {
                name: "W",
                rows: N,
                cols: 2 * N,
                kind: BlockKind::Recurrent,
            }),
            Some(ParamBlock {
                name: "U",
                rows: I,
                cols: 2 * N,
                kind: BlockKind::Input,
            }),
            Some(ParamBlock {
                name: "b",
                rows: 1,
                cols: 2 * N,
                kind: BlockKind::Bias,
            }),
            None,
        ]
    }

    /// The update gate `g` starts at `init.gate_bias` (remembering), the candidate at 0.
    fn initial_bias(&self, j: usize, init: &InitParams) -> f64 {
        if j < N {
            init.gate_bias
        } else {
            0.0
        }
    }

    #[inline]
    fn step(&self, p: &[R], s: &[R], x: &[R], s_next: &mut [R]) {
        let mut g = [R::ZERO; N];
        let mut c = [R::ZERO; N];
        self.gates(p, s, x, &mut g, &mut c);
        Self::combine(&s[..N], &g, &c, &mut s_next[..N]);
    }

    #[inline]
    fn forward(&self, p: &[R], s: &[R], x: &[R], s_next: &mut [R], cache: &mut [R]) {
        let (g, c) = cache[..2 * N].split_at_mut(N);
        self.gates(p, s, x, g, c);
        Self::combine(&s[..N], g, c, &mut s_next[..N]);
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
        let (g, c) = (&cache[..N], &cache[N..2 * N]);
        let h = &s[..N];
        let mut dag = [R::ZERO; N];
        let mut dac = [R::ZERO; N];
        for j in 0..N {
            let dh = ds_next[j];
            dag[j] = dh * (h[j] - c[j]) * g[j] * (R::ONE - g[j]);
            dac[j] = dh * (R::ONE - g[j]) * self.activation.derivative_from_output(c[j]);
            ds[j] = dh * g[j];
        }
        let w = &p[Self::W..Self::U];
        gemv_t_acc(&mut ds[..N], w, Self::LD, 0, &dag);
        gemv_t_acc(&mut ds[..N], w, Self::LD, N, &dac);
        {
            let dw = &mut dp[Self::W..Self::U];
            outer_acc(dw, Self::LD, 0, h, &dag);
            outer_acc(dw, Self::LD, N, h, &dac);
        }
        {
            let du = &mut dp[Self::U..Self::B];
            outer_acc(du, Self::LD, 0, x, &dag);
            outer_acc(du, Self::LD, N, x, &dac);
        }
        let db = &mut dp[Self::B..Self::PARAMS];
        for j in 0..N {
            db[j] += dag[j];
            db[N + j] += dac[j];
        }
        if let Some(dx) = dx {
            let u = &p[Self::U..Self::B];
            gemv_t_acc(dx, u, Self::LD, 0, &dag);
            gemv_t_acc(dx, u, Self::LD, N, &dac);
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
        let (ld, bn) = (Self::LD, batch * N);
        let bg = batch * ld;
        let gate = &mut work[..steps * bg];
        input_projection::<R, I>(gate, ld, bias, u, xs, batch, steps);
        let act = self.activation;
        for t in 0..steps {
            let zt = &mut gate[t * bg..(t + 1) * bg];
            let (prev, next) = states.split_at_mut((t + 1) * bn);
            let h = &prev[t * bn..];
            gemm_acc(zt, ld, h, N, w, ld, batch, N, ld);
            R::sigmoid_rows(zt, ld, 0, N, batch);
            act.apply_rows(zt, ld, N, N, batch);
            for b in 0..batch {
                let (g, c) = zt[b * ld..(b + 1) * ld].split_at(N);
                let hr = &h[b * N..(b + 1) * N];
                let out = &mut next[b * N..(b + 1) * N];
                zip_map(out, [g, hr, c], |_, [g, h, c]| g * h + (R::ONE - g) * c);
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
        let (ld, bn) = (Self::LD, batch * N);
        let bg = batch * ld;
        let rows = batch * steps;
        let (gate, rest) = work.split_at_mut(rows * ld);
        let wt = &mut rest[..ld * N];
        transpose(wt, &p[Self::W..Self::U], ld, 0, N, ld);
        let act = self.activation;
        for t in (0..steps).rev() {
            let zt = &mut gate[t * bg..(t + 1) * bg];
            let h = &states[t * bn..(t + 1) * bn];
            let (dlo, dhi) = dh.split_at_mut(t * bn);
            let dht = &dhi[..bn];
            for b in 0..batch {
                let (g, c) = zt[b * ld..(b + 1) * ld].split_at_mut(N);
                let hr = &h[b * N..(b + 1) * N];
                let dr = &dht[b * N..(b + 1) * N];
                if t > 0 {
                    // Direct path h → h' (g ⊙ h) into dL/dh of the previous step.
                    let dprev = &mut dlo[(t - 1) * bn + b * N..(t - 1) * bn + (b + 1) * N];
                    add_product(dprev, dr, g);
                }
                // One arm per activation: see "Code generation" in the `cell` module docs.
                match act {
                    Activation::Tanh => backward_row::<R, N>(Activation::Tanh, g, c, hr, dr),
                    Activation::Relu => backward_row::<R, N>(Activation::Relu, g, c, hr, dr),
                }
            }
            if t > 0 {
                gemm_acc(&mut dlo[(t - 1) * bn..], N, zt, ld, wt, N, batch, ld, N);
            }
        }
        gemm_tn_acc(
            &mut dp[Self::W..Self::U],
            ld,
            states,
            N,
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
        let (mut g, mut kg, mut kc) = ([R::ZERO; N], [R::ZERO; N], [R::ZERO; N]);
        self.jacobian_coefficients(p, s, x, &mut g, &mut kg, &mut kc);
        let w = &p[Self::W..Self::U];
        for a in 0..N {
            for b in 0..N {
                let row = &w[b * Self::LD..];
                jac[a * N + b] = kg[a] * row[a] + kc[a] * row[N + a];
            }
            jac[a * N + a] += g[a];
        }
    }

    fn jacobian_input(&self, p: &[R], s: &[R], x: &[R], jac: &mut [R]) {
        let (mut g, mut kg, mut kc) = ([R::ZERO; N], [R::ZERO; N], [R::ZERO; N]);
        self.jacobian_coefficients(p, s, x, &mut g, &mut kg, &mut kc);
        let u = &p[Self::U..Self::B];
        for a in 0..N {
            for k in 0..I {
                let row = &u[k * Self::LD..];
                jac[a * I + k] = kg[a] * row[a] + kc[a] * row[N + a];
            }
        }
    }
}

/// One row of the batched backward step: `g` and `c` (gate outputs) become the gradients of
/// their pre-activations. Every slice is its own argument so LLVM knows they do not overlap
/// and vectorises the loop without a runtime overlap check.
#[inline(always)]
fn backward_row<R: Real, const N: usize>(
    act: Activation,
    g: &mut [R],
    c: &mut [R],
    hr: &[R],
    dr: &[R],
) {
    let (g, c, hr, dr) = (&mut g[..N], &mut c[..N], &hr[..N], &dr[..N]);
    for j in 0..N {
        let (dhv, gv, cv) = (dr[j], g[j], c[j]);
        g[j] = dhv * (hr[j] - cv) * gv * (R::ONE - gv);
        c[j] = dhv * (R::ONE - gv) * act.derivative_from_output(cv);
    }
}
