//! Vanilla RNN: `h' = φ(h W + x U + b)`.

use super::{Activation, BlockKind, Cell, InitParams, ParamBlock, MAX_BLOCKS};
use crate::kernel::{
    gemm_acc, gemm_tn_acc, gemv_acc, gemv_t_acc, input_and_bias_grad_acc, input_projection,
    outer_acc, transpose,
};
use crate::Real;

/// Vanilla (Elman) cell with `N` hidden units and `I` inputs.
///
/// Blocks: `W (N, N)`, `U (I, N)`, `b (N,)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VanillaCell<const N: usize, const I: usize> {
    /// φ of the state update (tanh or ReLU).
    pub activation: Activation,
}

impl<const N: usize, const I: usize> VanillaCell<N, I> {
    /// A cell with nonlinearity `activation`.
    pub const fn new(activation: Activation) -> Self {
        VanillaCell { activation }
    }
    const W: usize = 0;
    const U: usize = N * N;
    const B: usize = N * N + I * N;
    /// Number of parameters.
    pub const PARAMS: usize = N * N + I * N + N;

    #[inline(always)]
    fn preactivation<R: Real>(p: &[R], s: &[R], x: &[R], z: &mut [R]) {
        z.copy_from_slice(&p[Self::B..Self::B + N]);
        gemv_acc(z, &p[Self::U..Self::B], N, 0, x);
        gemv_acc(z, &p[Self::W..Self::U], N, 0, s);
    }
}

impl<R: Real, const N: usize, const I: usize> Cell<R> for VanillaCell<N, I> {
    const HIDDEN: usize = N;
    const INPUT: usize = I;
    const STATE: usize = N;
    const CACHE: usize = 0;
    /// Work: `dZ` (`steps·batch × N`, time-major) and `Wᵀ` (`N × N`).
    const WORK_PER_ROW: usize = N;
    const WORK_PER_TRIAL: usize = 0;
    const WORK_FIXED: usize = N * N;

    fn name(&self) -> &'static str {
        "vanilla"
    }
    fn activation(&self) -> Activation {
        self.activation
    }

    fn blocks(&self) -> [Option<ParamBlock>; MAX_BLOCKS] {
        [
            Some(ParamBlock {
                name: "W",
                rows: N,
                cols: N,
                kind: BlockKind::Recurrent,
            }),
            Some(ParamBlock {
                name: "U",
                rows: I,
                cols: N,
                kind: BlockKind::Input,
            }),
            Some(ParamBlock {
                name: "b",
                rows: 1,
                cols: N,
                kind: BlockKind::Bias,
            }),
            None,
        ]
    }

    fn initial_bias(&self, _j: usize, _init: &InitParams) -> f64 {
        0.0
    }

    #[inline]
    fn step(&self, p: &[R], s: &[R], x: &[R], s_next: &mut [R]) {
        let z = &mut s_next[..N];
        Self::preactivation(p, s, x, z);
        let act = self.activation;
        z.iter_mut().for_each(|v| *v = act.apply(*v));
    }

    #[inline]
    fn forward(&self, p: &[R], s: &[R], x: &[R], s_next: &mut [R], _cache: &mut [R]) {
        self.step(p, s, x, s_next);
    }

    #[inline]
    fn backward(
        &self,
        p: &[R],
        s: &[R],
        x: &[R],
        s_next: &[R],
        _cache: &[R],
        ds_next: &[R],
        ds: &mut [R],
        dp: &mut [R],
        dx: Option<&mut [R]>,
    ) {
        let mut dz = [R::ZERO; N];
        for j in 0..N {
            dz[j] = ds_next[j] * self.activation.derivative_from_output(s_next[j]);
        }
        ds[..N].iter_mut().for_each(|v| *v = R::ZERO);
        gemv_t_acc(&mut ds[..N], &p[Self::W..Self::U], N, 0, &dz);
        outer_acc(&mut dp[Self::W..Self::U], N, 0, &s[..N], &dz);
        outer_acc(&mut dp[Self::U..Self::B], N, 0, x, &dz);
        for j in 0..N {
            dp[Self::B + j] += dz[j];
        }
        if let Some(dx) = dx {
            gemv_t_acc(dx, &p[Self::U..Self::B], N, 0, &dz);
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
        _work: &mut [R],
    ) {
        let (w, u, bias) = (
            &p[Self::W..Self::U],
            &p[Self::U..Self::B],
            &p[Self::B..Self::PARAMS],
        );
        let bn = batch * N;
        // Pre-activations b + x U of every step, written where the states will go.
        let next = &mut states[bn..(steps + 1) * bn];
        input_projection::<R, I>(next, N, bias, u, xs, batch, steps);
        let act = self.activation;
        for t in 0..steps {
            let (prev, next) = states.split_at_mut((t + 1) * bn);
            let z = &mut next[..bn];
            gemm_acc(z, N, &prev[t * bn..], N, w, N, batch, N, N);
            act.apply_in_place(z);
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
        let bn = batch * N;
        let rows = batch * steps;
        let (dz, rest) = work.split_at_mut(rows * N);
        let wt = &mut rest[..N * N];
        transpose(wt, &p[Self::W..Self::U], N, 0, N, N);
        let act = self.activation;
        for t in (0..steps).rev() {
            let dzt = &mut dz[t * bn..(t + 1) * bn];
            let h = &states[(t + 1) * bn..(t + 2) * bn];
            for ((d, &g), &y) in dzt.iter_mut().zip(&dh[t * bn..(t + 1) * bn]).zip(h) {
                *d = g * act.derivative_from_output(y);
            }
            if t > 0 {
                gemm_acc(&mut dh[(t - 1) * bn..t * bn], N, dzt, N, wt, N, batch, N, N);
            }
        }
        gemm_tn_acc(&mut dp[Self::W..Self::U], N, states, N, dz, N, rows, N, N);
        let (du, db) = dp[Self::U..Self::PARAMS].split_at_mut(Self::B - Self::U);
        input_and_bias_grad_acc::<R, I>(du, db, dz, N, xs, batch, steps);
    }

    fn jacobian_state(&self, p: &[R], s: &[R], x: &[R], jac: &mut [R]) {
        let mut h = [R::ZERO; N];
        self.step(p, s, x, &mut h);
        for a in 0..N {
            let d = self.activation.derivative_from_output(h[a]);
            for b in 0..N {
                jac[a * N + b] = d * p[Self::W + b * N + a];
            }
        }
    }

    fn jacobian_input(&self, p: &[R], s: &[R], x: &[R], jac: &mut [R]) {
        let mut h = [R::ZERO; N];
        self.step(p, s, x, &mut h);
        for a in 0..N {
            let d = self.activation.derivative_from_output(h[a]);
            for k in 0..I {
                jac[a * I + k] = d * p[Self::U + k * N + a];
            }
        }
    }
}
