//! Gated recurrent unit (Cho et al. 2014), in both conventions for where the reset gate
//! acts (see [`GruConvention`]).

use super::{Activation, BlockKind, Cell, InitParams, ParamBlock, Wrt, MAX_BLOCKS};
use crate::kernel::{
    add_product, col_sum_acc, gemm_acc, gemm_tn_acc, gemv_acc, gemv_t_acc, input_and_bias_grad_acc,
    input_projection, outer_acc, transpose, zip_map,
};
use crate::Real;

/// Where the reset gate `r` multiplies the recurrent candidate term.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GruConvention {
    /// `c = φ((r ⊙ h) W_c + x U_c + b_c)` — Cho et al. 2014, TensorFlow 1, the JAX peer.
    ResetBeforeProduct,
    /// `c = φ(x U_c + b_c + r ⊙ (h W_c + bh))` — PyTorch, cuDNN, Keras `reset_after=True`;
    /// adds the recurrent candidate bias block `bh (N,)`.
    ResetAfterProduct,
}

/// GRU cell with `N` hidden units and `I` inputs:
/// `z = σ(h W_z + x U_z + b_z)`, `r = σ(h W_r + x U_r + b_r)`, candidate `c` per
/// [`GruConvention`], `h' = z ⊙ h + (1 − z) ⊙ c`.
///
/// Blocks: `W (N, 3N)`, `U (I, 3N)`, `b (3N,)` in gate order `[z | r | c]`, and for
/// [`GruConvention::ResetAfterProduct`] also `bh (N,)`.
/// Cache (per step): `z (N) | r (N) | c (N) | hw (N)` where `hw = h W_c + bh` (after-product
/// convention only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GruCell<const N: usize, const I: usize> {
    /// φ of the candidate (tanh or ReLU).
    pub activation: Activation,
    /// Where the reset gate acts: before or after the recurrent product.
    pub convention: GruConvention,
}

impl<const N: usize, const I: usize> GruCell<N, I> {
    /// A GRU with nonlinearity `activation` and reset `convention`.
    pub const fn new(activation: Activation, convention: GruConvention) -> Self {
        GruCell {
            activation,
            convention,
        }
    }
    const LD: usize = 3 * N;
    const W: usize = 0;
    const U: usize = 3 * N * N;
    const B: usize = 3 * N * N + 3 * I * N;
    const BH: usize = 3 * N * N + 3 * I * N + 3 * N;

    /// Number of parameters (depends on the convention).
    pub const fn params(&self) -> usize {
        match self.convention {
            GruConvention::ResetBeforeProduct => Self::BH,
            GruConvention::ResetAfterProduct => Self::BH + N,
        }
    }

    /// Gates and candidate. `rh` receives `r ⊙ h` (before-product) or `h W_c + bh`
    /// (after-product).
    #[inline(always)]
    fn gates<R: Real>(
        &self,
        p: &[R],
        s: &[R],
        x: &[R],
        z: &mut [R],
        r: &mut [R],
        c: &mut [R],
        rh: &mut [R],
    ) {
        let (w, u, b) = (
            &p[Self::W..Self::U],
            &p[Self::U..Self::B],
            &p[Self::B..Self::BH],
        );
        let h = &s[..N];
        z.copy_from_slice(&b[..N]);
        r.copy_from_slice(&b[N..2 * N]);
        c.copy_from_slice(&b[2 * N..]);
        gemv_acc(z, u, Self::LD, 0, x);
        gemv_acc(r, u, Self::LD, N, x);
        gemv_acc(c, u, Self::LD, 2 * N, x);
        gemv_acc(z, w, Self::LD, 0, h);
        gemv_acc(r, w, Self::LD, N, h);
        z.iter_mut().for_each(|v| *v = v.sigmoid());
        r.iter_mut().for_each(|v| *v = v.sigmoid());
        match self.convention {
            GruConvention::ResetBeforeProduct => {
                for j in 0..N {
                    rh[j] = r[j] * h[j];
                }
                gemv_acc(c, w, Self::LD, 2 * N, rh);
            }
            GruConvention::ResetAfterProduct => {
                rh.copy_from_slice(&p[Self::BH..Self::BH + N]);
                gemv_acc(rh, w, Self::LD, 2 * N, h);
                for j in 0..N {
                    c[j] += r[j] * rh[j];
                }
            }
        }
        let act = self.activation;
        c.iter_mut().for_each(|v| *v = act.apply(*v));
    }

    /// `h' = z ⊙ h + (1 − z) ⊙ c`.
    #[inline(always)]
    fn combine<R: Real>(h: &[R], z: &[R], c: &[R], out: &mut [R]) {
        for j in 0..N {
            out[j] = z[j] * h[j] + (R::ONE - z[j]) * c[j];
        }
    }

    /// Writes `J[a·rows + k] = ∂h'_a/∂v_k` for `v = h` (`m = W`, `rows = N`) or `v = x`
    /// (`m = U`, `rows = I`), `m` being the `(rows, 3N)` block.
    fn jacobian<R: Real>(&self, p: &[R], s: &[R], x: &[R], wrt: Wrt, jac: &mut [R]) {
        let (m, rows) = match wrt {
            Wrt::State => (&p[Self::W..Self::U], N),
            Wrt::Input => (&p[Self::U..Self::B], I),
        };
        let diag = wrt == Wrt::State;
        let (mut z, mut r, mut c, mut rh) =
            ([R::ZERO; N], [R::ZERO; N], [R::ZERO; N], [R::ZERO; N]);
        self.gates(p, s, x, &mut z, &mut r, &mut c, &mut rh);
        let h = &s[..N];
        // h'_a = z_a h_a + (1 − z_a) c_a, so ∂h'_a = kz_a ∂a_z,a + kc_a ∂a_c,a (+ z_a δ).
        let mut kz = [R::ZERO; N];
        let mut kc = [R::ZERO; N];
        for a in 0..N {
            kz[a] = (h[a] - c[a]) * z[a] * (R::ONE - z[a]);
            kc[a] = (R::ONE - z[a]) * self.activation.derivative_from_output(c[a]);
        }
        match self.convention {
            GruConvention::ResetAfterProduct => {
                // a_c = x U_c + b_c + r ⊙ hw: ∂a_c,a = r_a ∂hw_a + hw_a r_a(1 − r_a) ∂a_r,a,
                // where ∂hw_a/∂h_b = W_c[b, a] and ∂hw_a/∂x = 0.
                let mut kr = [R::ZERO; N];
                for a in 0..N {
                    kr[a] = kc[a] * rh[a] * r[a] * (R::ONE - r[a]);
                }
                let w = &p[Self::W..Self::U];
                for a in 0..N {
                    for k in 0..rows {
                        let row = &m[k * Self::LD..];
                        let mut v = kz[a] * row[a] + kr[a] * row[N + a];
                        v += if diag {
                            kc[a] * r[a] * w[k * Self::LD + 2 * N + a]
                        } else {
                            kc[a] * row[2 * N + a]
                        };
                        jac[a * rows + k] = v;
                    }
                }
            }
            GruConvention::ResetBeforeProduct => {
                // a_c = (r ⊙ h) W_c + x U_c + b_c:
                // ∂a_c,a/∂v_k = [v = h] r_k W_c[k, a] + [v = x] U_c[k, a]
                //             + Σ_j W_c[j, a] h_j r_j(1 − r_j) M_r[k, j].
                let w = &p[Self::W..Self::U];
                let mut q = [R::ZERO; N];
                for j in 0..N {
                    q[j] = h[j] * r[j] * (R::ONE - r[j]);
                }
                // t[a] = Σ_j M_r[k, j] q_j W_c[j, a], `JAC_ROWS` rows k at a time. Rows come from
                // `chunks` and results go through `get`, so no bounds check (panic) is left.
                for (kb, block) in m.chunks(JAC_ROWS * Self::LD).enumerate() {
                    let mut coef = [[R::ZERO; JAC_ROWS]; N];
                    for (row, i) in block.chunks_exact(Self::LD).zip(0..JAC_ROWS) {
                        for j in 0..N {
                            coef[j][i] = row[N + j] * q[j];
                        }
                    }
                    let t = reset_before_rows::<R, N>(&coef, w, Self::LD);
                    for (row, (t, k)) in block
                        .chunks_exact(Self::LD)
                        .zip(t.iter().zip(JAC_ROWS * kb..))
                    {
                        let rk = if diag {
                            r.get(k).copied().unwrap_or(R::ONE)
                        } else {
                            R::ONE
                        };
                        for a in 0..N {
                            let direct = rk * row[2 * N + a];
                            if let Some(out) = jac.get_mut(a * rows + k) {
                                *out = kz[a] * row[a] + kc[a] * (direct + t[a]);
                            }
                        }
                    }
                }
            }
        }
        if diag {
            for a in 0..N {
                jac[a * rows + a] += z[a];
            }
        }
    }
}

/// Rows per block of the reset-before Jacobian's `O(N³)` product: 4 where vector registers
/// make the register tile pay, 1 elsewhere (on a Cortex-M4F it would only grow the code).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const JAC_ROWS: usize = 4;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const JAC_ROWS: usize = 1;

/// `t[i][a] = Σ_j coef[j][i] · W_c[j, a]` for `JAC_ROWS` rows `i`, each sum in ascending
/// `j` (the same bits as one axpy per `j`); `W_c[j, ·]` is `w[j·ld + 2N..][..N]`. Tiles of
/// `JAC_ROWS` rows × 8 columns stay in registers, where one axpy per `j` reloads and stores
/// the whole row each time. Written with `get` and iterators so that no bounds check
/// (panic) is left in the firmware; not inlined, as it runs once per block of rows.
#[inline(never)]
fn reset_before_rows<R: Real, const N: usize>(
    coef: &[[R; JAC_ROWS]; N],
    w: &[R],
    ld: usize,
) -> [[R; N]; JAC_ROWS] {
    const TILE: usize = 8;
    let mut t = [[R::ZERO; N]; JAC_ROWS];
    let mut a0 = 0;
    while a0 + TILE <= N {
        let mut acc = [[R::ZERO; TILE]; JAC_ROWS];
        for (wrow, c) in w.chunks_exact(ld).zip(coef) {
            if let Some(seg) = wrow.get(2 * N + a0..2 * N + a0 + TILE) {
                for (acc, &ci) in acc.iter_mut().zip(c) {
                    for (v, &wv) in acc.iter_mut().zip(seg) {
                        *v += ci * wv;
                    }
                }
            }
        }
        for (ti, acc) in t.iter_mut().zip(&acc) {
            if let Some(out) = ti.get_mut(a0..a0 + TILE) {
                for (o, &v) in out.iter_mut().zip(acc) {
                    *o = v;
                }
            }
        }
        a0 += TILE;
    }
    for a in a0..N {
        let mut acc = [R::ZERO; JAC_ROWS];
        for (wrow, c) in w.chunks_exact(ld).zip(coef) {
            if let Some(&wv) = wrow.get(2 * N + a) {
                for (v, &ci) in acc.iter_mut().zip(c) {
                    *v += ci * wv;
                }
            }
        }
        for (ti, &v) in t.iter_mut().zip(&acc) {
            ti[a] = v;
        }
    }
    t
}

impl<R: Real, const N: usize, const I: usize> Cell<R> for GruCell<N, I> {
    const HIDDEN: usize = N;
    const INPUT: usize = I;
    const STATE: usize = N;
    const CACHE: usize = 4 * N;
    /// Work: gates `[z | r | c]`, then `[daz | dar | dac]` (`steps·batch × 3N`); `r ⊙ h`
    /// (before-product) or `hw = h W_c + bh`, then `dhw` (after-product)
    /// (`steps·batch × N`); `Wᵀ` (`3N × N`); `d(r ⊙ h)` of one step (`batch × N`).
    const WORK_PER_ROW: usize = 4 * N;
    const WORK_PER_TRIAL: usize = N;
    const WORK_FIXED: usize = 3 * N * N;

    fn name(&self) -> &'static str {
        "gru"
    }
    fn activation(&self) -> Activation {
        self.activation
    }

    fn blocks(&self) -> [Option<ParamBlock>; MAX_BLOCKS] {
        [
            Some(ParamBlock {
                name: "W",
                rows: N,
                cols: 3 * N,
                kind: BlockKind::Recurrent,
            }),
            Some(ParamBlock {
                name: "U",
                rows: I,
                cols: 3 * N,
                kind: BlockKind::Input,
            }),
            Some(ParamBlock {
                name: "b",
                rows: 1,
                cols: 3 * N,
                kind: BlockKind::Bias,
            }),
            match self.convention {
                GruConvention::ResetBeforeProduct => None,
                GruConvention::ResetAfterProduct => Some(ParamBlock {
                    name: "bh",
                    rows: 1,
                    cols: N,
                    kind: BlockKind::Bias,
                }),
            },
        ]
    }

    fn param_count(&self) -> usize {
        self.params()
    }

    /// Update and reset gates start at `init.gate_bias`; candidate biases (`b_c`, `bh`) at 0.
    fn initial_bias(&self, j: usize, init: &InitParams) -> f64 {
        if j < 2 * N {
            init.gate_bias
        } else {
            0.0
        }
    }

    #[inline]
    fn step(&self, p: &[R], s: &[R], x: &[R], s_next: &mut [R]) {
        let (mut z, mut r, mut rh) = ([R::ZERO; N], [R::ZERO; N], [R::ZERO; N]);
        let c = &mut s_next[..N];
        self.gates(p, s, x, &mut z, &mut r, c, &mut rh);
        for j in 0..N {
            c[j] = z[j] * s[j] + (R::ONE - z[j]) * c[j];
        }
    }

    #[inline]
    fn forward(&self, p: &[R], s: &[R], x: &[R], s_next: &mut [R], cache: &mut [R]) {
        let (z, rest) = cache[..4 * N].split_at_mut(N);
        let (r, rest) = rest.split_at_mut(N);
        let (c, rh) = rest.split_at_mut(N);
        self.gates(p, s, x, z, r, c, rh);
        Self::combine(&s[..N], z, c, &mut s_next[..N]);
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
        let (z, r, c, hw) = (
            &cache[..N],
            &cache[N..2 * N],
            &cache[2 * N..3 * N],
            &cache[3 * N..4 * N],
        );
        let h = &s[..N];
        let w = &p[Self::W..Self::U];
        let mut daz = [R::ZERO; N];
        let mut dar = [R::ZERO; N];
        let mut dac = [R::ZERO; N];
        for j in 0..N {
            let dh = ds_next[j];
            daz[j] = dh * (h[j] - c[j]) * z[j] * (R::ONE - z[j]);
            dac[j] = dh * (R::ONE - z[j]) * self.activation.derivative_from_output(c[j]);
            ds[j] = dh * z[j];
        }
        match self.convention {
            GruConvention::ResetBeforeProduct => {
                // a_c = (r ⊙ h) W_c + ...: d(r ⊙ h) = W_c dac.
                let mut drh = [R::ZERO; N];
                gemv_t_acc(&mut drh, w, Self::LD, 2 * N, &dac);
                let mut rh = [R::ZERO; N];
                for j in 0..N {
                    rh[j] = r[j] * h[j];
                    dar[j] = drh[j] * h[j] * r[j] * (R::ONE - r[j]);
                    ds[j] += drh[j] * r[j];
                }
                outer_acc(&mut dp[Self::W..Self::U], Self::LD, 2 * N, &rh, &dac);
            }
            GruConvention::ResetAfterProduct => {
                // a_c = ... + r ⊙ hw, hw = h W_c + bh: dhw = r ⊙ dac, dr = hw ⊙ dac.
                let mut dhw = [R::ZERO; N];
                for j in 0..N {
                    dhw[j] = dac[j] * r[j];
                    dar[j] = dac[j] * hw[j] * r[j] * (R::ONE - r[j]);
                }
                gemv_t_acc(&mut ds[..N], w, Self::LD, 2 * N, &dhw);
                outer_acc(&mut dp[Self::W..Self::U], Self::LD, 2 * N, h, &dhw);
                let dbh = &mut dp[Self::BH..Self::BH + N];
                for j in 0..N {
                    dbh[j] += dhw[j];
                }
            }
        }
        gemv_t_acc(&mut ds[..N], w, Self::LD, 0, &daz);
        gemv_t_acc(&mut ds[..N], w, Self::LD, N, &dar);
        {
            let dw = &mut dp[Self::W..Self::U];
            outer_acc(dw, Self::LD, 0, h, &daz);
            outer_acc(dw, Self::LD, N, h, &dar);
        }
        {
            let du = &mut dp[Self::U..Self::B];
            outer_acc(du, Self::LD, 0, x, &daz);
            outer_acc(du, Self::LD, N, x, &dar);
            outer_acc(du, Self::LD, 2 * N, x, &dac);
        }
        let db = &mut dp[Self::B..Self::BH];
        for j in 0..N {
            db[j] += daz[j];
            db[N + j] += dar[j];
            db[2 * N + j] += dac[j];
        }
        if let Some(dx) = dx {
            let u = &p[Self::U..Self::B];
            gemv_t_acc(dx, u, Self::LD, 0, &daz);
            gemv_t_acc(dx, u, Self::LD, N, &dar);
            gemv_t_acc(dx, u, Self::LD, 2 * N, &dac);
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
            &p[Self::B..Self::BH],
        );
        let (ld, bn) = (Self::LD, batch * N);
        let bg = batch * ld;
        let rows = batch * steps;
        if rows == 0 {
            // Nothing to run (and the `2N..` gate slices below would be out of range).
            return;
        }
        let (gate, rest) = work.split_at_mut(rows * ld);
        let extra = &mut rest[..rows * N];
        input_projection::<R, I>(gate, ld, bias, u, xs, batch, steps);
        let act = self.activation;
        let before = self.convention == GruConvention::ResetBeforeProduct;
        if !before {
            let bh = &p[Self::BH..Self::BH + N];
            for row in extra.chunks_exact_mut(N) {
                row.copy_from_slice(bh);
            }
        }
        for t in 0..steps {
            let zt = &mut gate[t * bg..(t + 1) * bg];
            let ex = &mut extra[t * bn..(t + 1) * bn];
            let (prev, next) = states.split_at_mut((t + 1) * bn);
            let h = &prev[t * bn..];
            // Update and reset gates: one product for both.
            gemm_acc(zt, ld, h, N, w, ld, batch, N, 2 * N);
            R::sigmoid_rows(zt, ld, 0, 2 * N, batch);
            if before {
                for b in 0..batch {
                    let r = &zt[b * ld + N..b * ld + 2 * N];
                    let hr = &h[b * N..(b + 1) * N];
                    let rh = &mut ex[b * N..(b + 1) * N];
                    zip_map(rh, [r, hr], |_, [r, h]| r * h);
                }
                gemm_acc(&mut zt[2 * N..], ld, ex, N, &w[2 * N..], ld, batch, N, N);
            } else {
                gemm_acc(ex, N, h, N, &w[2 * N..], ld, batch, N, N);
                for b in 0..batch {
                    let (zr, c) = zt[b * ld..(b + 1) * ld].split_at_mut(2 * N);
                    let hw = &ex[b * N..(b + 1) * N];
                    zip_map(c, [&zr[N..], hw], |c, [r, hw]| c + r * hw);
                }
            }
            act.apply_rows(zt, ld, 2 * N, N, batch);
            for b in 0..batch {
                let (zr, c) = zt[b * ld..(b + 1) * ld].split_at(2 * N);
                let hr = &h[b * N..(b + 1) * N];
                let out = &mut next[b * N..(b + 1) * N];
                zip_map(out, [zr, hr, c], |_, [z, h, c]| z * h + (R::ONE - z) * c);
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
        if rows == 0 {
            return;
        }
        let (gate, rest) = work.split_at_mut(rows * ld);
        let (extra, rest) = rest.split_at_mut(rows * N);
        let (wt, rest) = rest.split_at_mut(ld * N);
        let drh = &mut rest[..bn];
        transpose(wt, &p[Self::W..Self::U], ld, 0, N, ld);
        let act = self.activation;
        let before = self.convention == GruConvention::ResetBeforeProduct;
        for t in (0..steps).rev() {
            let zt = &mut gate[t * bg..(t + 1) * bg];
            let ex = &mut extra[t * bn..(t + 1) * bn];
            let h = &states[t * bn..(t + 1) * bn];
            let (dlo, dhi) = dh.split_at_mut(t * bn);
            let dht = &dhi[..bn];
            for b in 0..batch {
                let zrow = &mut zt[b * ld..(b + 1) * ld];
                let hr = &h[b * N..(b + 1) * N];
                let dr = &dht[b * N..(b + 1) * N];
                if t > 0 {
                    // Direct path z ⊙ h.
                    let dprev = &mut dlo[(t - 1) * bn + b * N..(t - 1) * bn + (b + 1) * N];
                    add_product(dprev, dr, zrow);
                }
                let (z, rest) = zrow.split_at_mut(N);
                let (r, c) = rest.split_at_mut(N);
                let exr = &mut ex[b * N..(b + 1) * N];
                // One arm per activation: see "Code generation" in the `cell` module docs.
                use Activation::{Relu, Tanh};
                match (before, act) {
                    (true, Tanh) => backward_row::<R, N, true>(Tanh, z, r, c, exr, hr, dr),
                    (true, Relu) => backward_row::<R, N, true>(Relu, z, r, c, exr, hr, dr),
                    (false, Tanh) => backward_row::<R, N, false>(Tanh, z, r, c, exr, hr, dr),
                    (false, Relu) => backward_row::<R, N, false>(Relu, z, r, c, exr, hr, dr),
                }
            }
            if before {
                // d(r ⊙ h) = dac W_cᵀ.
                drh.iter_mut().for_each(|v| *v = R::ZERO);
                gemm_acc(drh, N, &zt[2 * N..], ld, &wt[2 * N * N..], N, batch, N, N);
                for b in 0..batch {
                    let r = &mut zt[b * ld + N..b * ld + 2 * N];
                    let hr = &h[b * N..(b + 1) * N];
                    let d = &drh[b * N..(b + 1) * N];
                    if t > 0 {
                        let dprev = &mut dlo[(t - 1) * bn + b * N..(t - 1) * bn + (b + 1) * N];
                        add_product(dprev, d, r);
                    }
                    reset_gradient::<R, N>(r, hr, d);
                }
            }
            if t > 0 {
                let dprev = &mut dlo[(t - 1) * bn..];
                gemm_acc(dprev, N, zt, ld, wt, N, batch, 2 * N, N);
                if !before {
                    gemm_acc(dprev, N, ex, N, &wt[2 * N * N..], N, batch, N, N);
                }
            }
        }
        let dw = &mut dp[Self::W..Self::U];
        gemm_tn_acc(dw, ld, states, N, gate, ld, rows, N, 2 * N);
        if before {
            gemm_tn_acc(
                &mut dw[2 * N..],
                ld,
                extra,
                N,
                &gate[2 * N..],
                ld,
                rows,
                N,
                N,
            );
        } else {
            gemm_tn_acc(&mut dw[2 * N..], ld, states, N, extra, N, rows, N, N);
            col_sum_acc(&mut dp[Self::BH..Self::BH + N], extra, N, 0, rows);
        }
        let (du, db) = dp[Self::U..Self::BH].split_at_mut(Self::B - Self::U);
        input_and_bias_grad_acc::<R, I>(du, db, gate, ld, xs, batch, steps);
    }

    /// Work: `Wᵀ` (`3N × N`) and `b + x U` (`3N`), both from [`Cell::speed_batch_prepare`];
    /// gates `[z | r | c]`, later `[daz | dar | dac]` (`batch × 3N`); `r ⊙ h` or `hw`, later
    /// `dhw` (`batch × N`); one product (`batch × N`).
    fn speed_batch_work_len(&self, batch: usize) -> usize {
        3 * N * N + 3 * N + batch * 5 * N
    }

    fn speed_batch_prepare(&self, p: &[R], x: &[R], work: &mut [R]) {
        let ld = Self::LD;
        let (wt, rest) = work.split_at_mut(ld * N);
        transpose(wt, &p[Self::W..Self::U], ld, 0, N, ld);
        // `b + x U` per gate, summed exactly as `gates` does.
        let base = &mut rest[..ld];
        base.copy_from_slice(&p[Self::B..Self::BH]);
        let u = &p[Self::U..Self::B];
        for g in 0..3 {
            gemv_acc(&mut base[g * N..(g + 1) * N], u, ld, g * N, x);
        }
    }

    /// Batched `forward` + `backward` with the per-state summation order: every
    /// `gemv_acc` becomes a `gemm_acc` (both sequential over the reduction index) and every
    /// `gemv_t_acc` a `gemm_acc` against `Wᵀ` into a zeroed buffer that is then added.
    fn speed_grad_batch(
        &self,
        p: &[R],
        _x: &[R],
        batch: usize,
        s: &[R],
        res: &mut [R],
        grad: &mut [R],
        work: &mut [R],
    ) {
        let ld = Self::LD;
        let w = &p[Self::W..Self::U];
        let (wt, rest) = work.split_at_mut(ld * N);
        let (base, rest) = rest.split_at_mut(ld);
        let (gate, rest) = rest.split_at_mut(batch * ld);
        let (ex, rest) = rest.split_at_mut(batch * N);
        let tmp = &mut rest[..batch * N];
        let s = &s[..batch * N];
        let act = self.activation;
        let before = self.convention == GruConvention::ResetBeforeProduct;
        // Forward.
        for row in gate.chunks_exact_mut(ld) {
            row.copy_from_slice(base);
        }
        gemm_acc(gate, ld, s, N, w, ld, batch, N, 2 * N);
        for b in 0..batch {
            let zr = &mut gate[b * ld..b * ld + 2 * N];
            R::sigmoid_in_place(zr);
            let hr = &s[b * N..(b + 1) * N];
            let e = &mut ex[b * N..(b + 1) * N];
            if before {
                for j in 0..N {
                    e[j] = zr[N + j] * hr[j];
                }
            } else {
                e.copy_from_slice(&p[Self::BH..Self::BH + N]);
            }
        }
        if before {
            gemm_acc(&mut gate[2 * N..], ld, ex, N, &w[2 * N..], ld, batch, N, N);
        } else {
            gemm_acc(ex, N, s, N, &w[2 * N..], ld, batch, N, N);
        }
        for b in 0..batch {
            let (zr, c) = gate[b * ld..(b + 1) * ld].split_at_mut(2 * N);
            let hr = &s[b * N..(b + 1) * N];
            let rr = &mut res[b * N..(b + 1) * N];
            let e = &ex[b * N..(b + 1) * N];
            if !before {
                for j in 0..N {
                    c[j] += zr[N + j] * e[j];
                }
            }
            act.apply_in_place(c);
            for j in 0..N {
                let f = zr[j] * hr[j] + (R::ONE - zr[j]) * c[j];
                rr[j] = f - hr[j];
            }
        }
        // Backward with ds_next = r: gates become [daz | dar | dac], `grad` the direct
        // terms, `ex` (after-product) dhw.
        for b in 0..batch {
            let (z, rest) = gate[b * ld..(b + 1) * ld].split_at_mut(N);
            let (r, c) = rest.split_at_mut(N);
            let hr = &s[b * N..(b + 1) * N];
            let dr = &res[b * N..(b + 1) * N];
            let ds = &mut grad[b * N..(b + 1) * N];
            let e = &mut ex[b * N..(b + 1) * N];
            for j in 0..N {
                let (dh, zv, cv) = (dr[j], z[j], c[j]);
                z[j] = dh * (hr[j] - cv) * zv * (R::ONE - zv);
                let dac = dh * (R::ONE - zv) * act.derivative_from_output(cv);
                c[j] = dac;
                ds[j] = dh * zv;
                if !before {
                    let (rv, hw) = (r[j], e[j]);
                    e[j] = dac * rv;
                    r[j] = dac * hw * rv * (R::ONE - rv);
                }
            }
        }
        tmp.iter_mut().for_each(|v| *v = R::ZERO);
        if before {
            // d(r ⊙ h) = dac W_cᵀ.
            gemm_acc(tmp, N, &gate[2 * N..], ld, &wt[2 * N * N..], N, batch, N, N);
            for b in 0..batch {
                let r = &mut gate[b * ld + N..b * ld + 2 * N];
                let hr = &s[b * N..(b + 1) * N];
                let d = &tmp[b * N..(b + 1) * N];
                let ds = &mut grad[b * N..(b + 1) * N];
                for j in 0..N {
                    let rv = r[j];
                    r[j] = d[j] * hr[j] * rv * (R::ONE - rv);
                    ds[j] += d[j] * rv;
                }
            }
        } else {
            gemm_acc(tmp, N, ex, N, &wt[2 * N * N..], N, batch, N, N);
            for (d, &t) in grad[..batch * N].iter_mut().zip(tmp.iter()) {
                *d += t;
            }
        }
        for gi in 0..2 {
            tmp.iter_mut().for_each(|v| *v = R::ZERO);
            gemm_acc(
                tmp,
                N,
                &gate[gi * N..],
                ld,
                &wt[gi * N * N..],
                N,
                batch,
                N,
                N,
            );
            for (d, &t) in grad[..batch * N].iter_mut().zip(tmp.iter()) {
                *d += t;
            }
        }
        for (d, &v) in grad[..batch * N].iter_mut().zip(res[..batch * N].iter()) {
            *d -= v;
        }
    }

    fn jacobian_state(&self, p: &[R], s: &[R], x: &[R], jac: &mut [R]) {
        self.jacobian(p, s, x, Wrt::State, jac);
    }

    fn jacobian_input(&self, p: &[R], s: &[R], x: &[R], jac: &mut [R]) {
        self.jacobian(p, s, x, Wrt::Input, jac);
    }
}

/// One row of the batched backward step: `z`, `r`, `c` (gate outputs) become the gradients
/// of their pre-activations (`r` only after the product, `BEFORE == false`, where `exr`
/// holds `h W_c + b_hc` and becomes its gradient). Every slice is its own argument: written
/// inside the caller's row loop, LLVM could not rule out overlap and ran it scalar.
#[inline(always)]
fn backward_row<R: Real, const N: usize, const BEFORE: bool>(
    act: Activation,
    z: &mut [R],
    r: &mut [R],
    c: &mut [R],
    exr: &mut [R],
    hr: &[R],
    dr: &[R],
) {
    let (z, r, c, exr, hr, dr) = (
        &mut z[..N],
        &mut r[..N],
        &mut c[..N],
        &mut exr[..N],
        &hr[..N],
        &dr[..N],
    );
    for j in 0..N {
        let (dhv, zv, cv) = (dr[j], z[j], c[j]);
        z[j] = dhv * (hr[j] - cv) * zv * (R::ONE - zv);
        let dac = dhv * (R::ONE - zv) * act.derivative_from_output(cv);
        c[j] = dac;
        if !BEFORE {
            // a_c = … + r ⊙ hw: dhw = r ⊙ dac, dr = hw ⊙ dac.
            let (rv, hw) = (r[j], exr[j]);
            r[j] = dac * hw * rv * (R::ONE - rv);
            exr[j] = dac * rv;
        }
    }
}

/// Reset before the product: `r` becomes the gradient of its pre-activation from
/// `d = d(r ⊙ h)` (separate arguments, as in [`backward_row`]).
#[inline(always)]
fn reset_gradient<R: Real, const N: usize>(r: &mut [R], hr: &[R], d: &[R]) {
    let (r, hr, d) = (&mut r[..N], &hr[..N], &d[..N]);
    for j in 0..N {
        let rv = r[j];
        r[j] = d[j] * hr[j] * rv * (R::ONE - rv);
    }
}
