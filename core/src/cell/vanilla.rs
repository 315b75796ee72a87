//! Vanilla RNN: `h' = φ(h W + x U + b)`.

use super::{Activation, BlockKind, Cell, InitParams, ParamBlock, MAX_BLOCKS};
use crate::kernel::{gemv_acc, gemv_t_acc, outer_acc};
use crate::Real;

/// Vanilla (Elman) cell with `N` hidden units and `I` inputs.
///
/// Blocks: `W (N, N)`, `U (I, N)`, `b (N,)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VanillaCell<const N: usize, const I: usize> {
    pub activation: Activation,
}

impl<const N: usize, const I: usize> VanillaCell<N, I> {
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

    fn name(&self) -> &'static str {
        "vanilla"
    }
    fn activation(&self) -> Activation {
        self.activation
    }

    fn blocks(&self) -> [Option<ParamBlock>; MAX_BLOCKS] {
        [
            Some(ParamBlock { name: "W", rows: N, cols: N, kind: BlockKind::Recurrent }),
            Some(ParamBlock { name: "U", rows: I, cols: N, kind: BlockKind::Input }),
            Some(ParamBlock { name: "b", rows: 1, cols: N, kind: BlockKind::Bias }),
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
