//! Recurrent cells: the state update `s' = F(s, x)`, its analytic Jacobians, and the
//! vector-Jacobian products used by backpropagation through time.
//!
//! Conventions (row-vector, like JAX/Keras): a weight block of shape `(rows, cols)` is
//! stored row-major and multiplies on the right, `z = h W + x U + b`, so `W` has one row per
//! hidden unit and one column per gate unit; the gate blocks of one cell sit side by side
//! in one contiguous matrix (one product serves every gate). The parameter vector of a cell
//! is the concatenation of its blocks in the order of [`Cell::blocks`].
//!
//! Sizes are const generics (`N` hidden units, `I` inputs). Activation and the GRU
//! convention are runtime values branched outside the inner loops (keeps monomorphisation
//! to one copy per size).
//!
//! Code generation of the batched paths: every cell's `forward_batch` and `backward_batch`
//! is `#[inline(never)]`, so it compiles to the same code whoever calls it. Inlined, LLVM
//! vectorised their row loops differently in the criterion bench and in `rnndyn train`
//! (one change made the bench 10 % faster and the population run 3 % slower). Their
//! per-row updates go through `kernel::zip_map`, whose chunks load everything before they
//! store, so they vectorise although the rows are slices of one shared buffer. The
//! backward rows are called in one match arm per activation, so that each inlined copy sees
//! a constant: with the activation a runtime value inside the unrolled row loop, LLVM built
//! the loop from 1- to 8-lane pieces joined by shuffles.

mod gru;
mod lstm;
mod ugrnn;
mod vanilla;

pub use gru::{GruCell, GruConvention};
pub use lstm::LstmCell;
pub use ugrnn::UgrnnCell;
pub use vanilla::VanillaCell;

use crate::error::check_len;
use crate::rng::Rng;
use crate::Error;
use crate::Real;

/// The nonlinearity φ of a cell's candidate / output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activation {
    /// φ = tanh.
    Tanh,
    /// φ(z) = max(z, 0).
    Relu,
}

impl Activation {
    /// φ(z) (tanh through libm, see [`Real`]).
    #[inline(always)]
    pub fn apply<R: Real>(self, z: R) -> R {
        match self {
            Activation::Tanh => Real::tanh(z),
            Activation::Relu => {
                if z > R::ZERO {
                    z
                } else {
                    R::ZERO
                }
            }
        }
    }

    /// φ of every element (tanh eight lanes at a time, with libm's bits; see `Real`).
    #[inline]
    pub fn apply_in_place<R: Real>(self, zs: &mut [R]) {
        match self {
            Activation::Tanh => R::tanh_in_place(zs),
            Activation::Relu => zs.iter_mut().for_each(|z| *z = self.apply(*z)),
        }
    }

    /// φ on `width` elements from column `col0` of each of `rows` rows `ld` apart (see
    /// [`Real::tanh_rows`]).
    #[inline(always)]
    pub fn apply_rows<R: Real>(
        self,
        data: &mut [R],
        ld: usize,
        col0: usize,
        width: usize,
        rows: usize,
    ) {
        match self {
            Activation::Tanh => R::tanh_rows(data, ld, col0, width, rows),
            Activation::Relu => {
                crate::real::each_row(data, ld, col0, width, rows, |row| self.apply_in_place(row))
            }
        }
    }

    /// φ'(z) expressed through the output y = φ(z) (1 − y² for tanh, `[y > 0]` for ReLU).
    #[inline(always)]
    pub fn derivative_from_output<R: Real>(self, y: R) -> R {
        match self {
            Activation::Tanh => R::ONE - y * y,
            Activation::Relu => {
                if y > R::ZERO {
                    R::ONE
                } else {
                    R::ZERO
                }
            }
        }
    }

    /// Lowercase name, as in configs and stores (`tanh`, `relu`).
    pub fn name(self) -> &'static str {
        match self {
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
        }
    }
}

/// Which argument of `F(s, x)` a Jacobian differentiates (cells' private helper).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wrt {
    State,
    Input,
}

/// What a parameter block is, which decides its initialisation and L2 penalty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// Hidden-to-gate weights (rows = hidden units).
    Recurrent,
    /// Input-to-gate weights (rows = inputs).
    Input,
    /// Biases (one row).
    Bias,
    /// Hidden-to-output readout weights.
    Readout,
    /// Readout bias.
    ReadoutBias,
}

/// One named block of a parameter vector: a row-major `rows × cols` matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamBlock {
    /// Array name in stores and exports (`W`, `U`, `b`, …).
    pub name: &'static str,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// What the block is (decides initialisation and L2).
    pub kind: BlockKind,
}

impl ParamBlock {
    /// Number of entries, `rows × cols`.
    pub const fn len(&self) -> usize {
        self.rows * self.cols
    }
    /// True when the block has no entries.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How recurrent weights are drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RecurrentInit {
    /// Entries ~ N(0, gain² / N).
    Normal {
        /// Scale of the entries (default 1).
        gain: f64,
    },
    /// Each N × N gate block is `gain` × a random orthogonal matrix.
    Orthogonal {
        /// Multiplier of the orthogonal blocks.
        gain: f64,
    },
}

/// Initialisation parameters.
///
/// Defaults (those of the JAX peer and TF1): recurrent weights N(0, 1/N); input weights
/// N(0, 1/I); readout weights N(0, 1/N); biases 0, except the gate biases that make a
/// fresh cell remember: GRU update and reset gates, UGRNN update gate and LSTM forget gate
/// start at `gate_bias = 1`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InitParams {
    /// How recurrent weights are drawn (default `Normal { gain: 1 }`).
    pub recurrent: RecurrentInit,
    /// Input weights are N(0, input_scale² / I) (default 1).
    pub input_scale: f64,
    /// Readout weights are N(0, readout_scale² / N) (default 1).
    pub readout_scale: f64,
    /// Offset of the "remember" gate biases (default 1).
    pub gate_bias: f64,
}

impl Default for InitParams {
    fn default() -> Self {
        InitParams {
            recurrent: RecurrentInit::Normal { gain: 1.0 },
            input_scale: 1.0,
            readout_scale: 1.0,
            gate_bias: 1.0,
        }
    }
}

/// Upper bound on the number of parameter blocks of any cell.
pub const MAX_BLOCKS: usize = 4;

/// A recurrent cell with `HIDDEN` units, `INPUT` inputs and a `STATE`-dimensional state
/// (`HIDDEN`, or `2 · HIDDEN` for the LSTM's `[h; c]`).
///
/// The methods are raw kernels: every slice must have the documented length (callers such
/// as [`crate::train::Network`] and [`crate::fixed_point`] check lengths once and return
/// [`crate::Error::BufferSize`]). On finite input they do not panic.
pub trait Cell<R: Real>: Copy + Send + Sync {
    /// Number of hidden units N.
    const HIDDEN: usize;
    /// Number of inputs I.
    const INPUT: usize;
    /// Dimension of the state the dynamics act on: N, or 2N for the LSTM's `[h; c]`.
    const STATE: usize;
    /// Length of the per-step cache that `forward` fills and `backward` reads
    /// (an upper bound over runtime variants).
    const CACHE: usize;
    /// Work of [`Cell::forward_batch`] / [`Cell::backward_batch`] per row (one trial at one
    /// step); see [`batch_work_len`]. Default `CACHE` (the per-trial default methods keep
    /// every step's cache).
    const WORK_PER_ROW: usize = Self::CACHE;
    /// Work of the batched methods per trial (for example one step's `batch × N` block);
    /// see [`batch_work_len`]. Default 0.
    const WORK_PER_TRIAL: usize = 0;
    /// Work of the batched methods independent of the batch (for example a transposed
    /// weight copy); see [`batch_work_len`]. Default `2 · STATE`.
    const WORK_FIXED: usize = 2 * Self::STATE;

    /// Short lowercase name (`vanilla`, `ugrnn`, `gru`, `lstm`).
    fn name(&self) -> &'static str;
    /// The cell's nonlinearity φ.
    fn activation(&self) -> Activation;

    /// The parameter blocks, in storage order; unused trailing entries are `None`.
    fn blocks(&self) -> [Option<ParamBlock>; MAX_BLOCKS];

    /// Total number of parameters (sum of block lengths).
    fn param_count(&self) -> usize {
        self.blocks().iter().flatten().map(|b| b.len()).sum()
    }

    /// Initial bias of bias unit `j`: the index runs over all [`BlockKind::Bias`] blocks
    /// concatenated in storage order (for the GRU with
    /// [`GruConvention::ResetAfterProduct`], `b` (3N) then `bh` (N)).
    fn initial_bias(&self, j: usize, init: &InitParams) -> f64;

    /// `s_next = F(s, x)`.
    fn step(&self, p: &[R], s: &[R], x: &[R], s_next: &mut [R]);

    /// `s_next = F(s, x)`, keeping in `cache` (length `CACHE`) what `backward` needs.
    fn forward(&self, p: &[R], s: &[R], x: &[R], s_next: &mut [R], cache: &mut [R]);

    /// Vector-Jacobian product of one step: given `ds_next = ∂L/∂s'`, writes
    /// `ds = ∂L/∂s` (overwritten) and adds `∂L/∂p` into `dp` and, if given, `∂L/∂x` into `dx`.
    fn backward(
        &self,
        p: &[R],
        s: &[R],
        x: &[R],
        s_next: &[R],
        cache: &[R],
        ds_next: &[R],
        ds: &mut [R],
        dp: &mut [R],
        dx: Option<&mut [R]>,
    );

    /// State Jacobian `J[a·STATE + b] = ∂F_a/∂s_b` (row-major `STATE × STATE`).
    fn jacobian_state(&self, p: &[R], s: &[R], x: &[R], jac: &mut [R]);

    /// Input Jacobian `J[a·INPUT + k] = ∂F_a/∂x_k` (row-major `STATE × INPUT`).
    fn jacobian_input(&self, p: &[R], s: &[R], x: &[R], jac: &mut [R]);

    /// Runs `batch` sequences for `steps` steps at once.
    ///
    /// `xs` is trial-major (`xs[(b·steps + t)·INPUT + k]`). `states` has length
    /// `(steps + 1)·batch·STATE` and is time-major: the state of trial `b` after `t` steps is
    /// at `(t·batch + b)·STATE`; the caller sets the initial states (`t = 0`), the rest is
    /// written. `work` (length [`batch_work_len`]) receives what
    /// [`Cell::backward_batch`] needs. The default loops [`Cell::forward`] per trial.
    fn forward_batch(
        &self,
        p: &[R],
        xs: &[R],
        batch: usize,
        steps: usize,
        states: &mut [R],
        work: &mut [R],
    ) {
        let (s, i, c) = (Self::STATE, Self::INPUT, Self::CACHE);
        for b in 0..batch {
            for t in 0..steps {
                let (prev, next) = states.split_at_mut((t + 1) * batch * s);
                let row = t * batch + b;
                self.forward(
                    p,
                    &prev[row * s..(row + 1) * s],
                    &xs[(b * steps + t) * i..(b * steps + t + 1) * i],
                    &mut next[b * s..(b + 1) * s],
                    &mut work[row * c..(row + 1) * c],
                );
            }
        }
    }

    /// Backpropagation through time for a batch after [`Cell::forward_batch`] (same `xs`,
    /// `states`, `work`). `dh` (length `steps·batch·HIDDEN`, time-major) holds on entry the
    /// direct loss gradient `∂L/∂h` of every state after step `t` at
    /// `(t·batch + b)·HIDDEN`; its contents on return are unspecified. Adds `∂L/∂p` into
    /// `dp`. The initial states are treated as constants. The default loops
    /// [`Cell::backward`] per trial.
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
        let (s, i, c, n) = (Self::STATE, Self::INPUT, Self::CACHE, Self::HIDDEN);
        let (cache, rest) = work.split_at_mut(batch * steps * c);
        let (ds, rest) = rest.split_at_mut(s);
        let ds_prev = &mut rest[..s];
        for b in 0..batch {
            ds.iter_mut().for_each(|v| *v = R::ZERO);
            for t in (0..steps).rev() {
                let row = t * batch + b;
                for (d, &e) in ds[..n].iter_mut().zip(&dh[row * n..(row + 1) * n]) {
                    *d += e;
                }
                self.backward(
                    p,
                    &states[row * s..(row + 1) * s],
                    &xs[(b * steps + t) * i..(b * steps + t + 1) * i],
                    &states[(row + batch) * s..(row + batch + 1) * s],
                    &cache[row * c..(row + 1) * c],
                    ds,
                    ds_prev,
                    dp,
                    None,
                );
                ds.copy_from_slice(ds_prev);
            }
        }
    }

    /// Length of the work buffer of [`Cell::speed_grad_batch`] for up to `batch` states.
    /// The default (one state at a time) needs a cache, a state and a parameter-gradient
    /// sink.
    fn speed_batch_work_len(&self, batch: usize) -> usize {
        let _ = batch;
        Self::CACHE + Self::STATE + self.param_count()
    }

    /// Prepares `work` (length [`Cell::speed_batch_work_len`]) for
    /// [`Cell::speed_grad_batch`] calls at parameters `p` and input `x` (for example a
    /// transposed weight copy). The default needs nothing.
    fn speed_batch_prepare(&self, p: &[R], x: &[R], work: &mut [R]) {
        let _ = (p, x, work);
    }

    /// For `batch` states (rows of `s`, `batch × STATE`) at input `x`: the residual
    /// `r = F(s, x) − s` and the gradient `g = (J − I)ᵀ r` of the speed `½‖r‖²`, row by row
    /// (`r`, `g` are `batch × STATE`). `work` must have been prepared by
    /// [`Cell::speed_batch_prepare`] with the same `p` and `x`.
    ///
    /// Every row is bit-identical to [`Cell::forward`] followed by [`Cell::backward`] with
    /// `ds_next = r` (minus `r`), whatever the other rows: the default does exactly that; the
    /// GRU's batched version keeps the same summation order per element.
    fn speed_grad_batch(
        &self,
        p: &[R],
        x: &[R],
        batch: usize,
        s: &[R],
        r: &mut [R],
        g: &mut [R],
        work: &mut [R],
    ) {
        let st = Self::STATE;
        let (cache, rest) = work.split_at_mut(Self::CACHE);
        let (f, dp) = rest.split_at_mut(st);
        for b in 0..batch {
            let h = &s[b * st..(b + 1) * st];
            let rb = &mut r[b * st..(b + 1) * st];
            let gb = &mut g[b * st..(b + 1) * st];
            self.forward(p, h, x, f, cache);
            for k in 0..st {
                rb[k] = f[k] - h[k];
            }
            self.backward(p, h, x, f, cache, rb, gb, dp, None);
            for k in 0..st {
                gb[k] -= rb[k];
            }
        }
    }

    /// The hidden part `h` of a state (the readout reads it).
    #[inline(always)]
    fn hidden<'a>(&self, s: &'a [R]) -> &'a [R] {
        &s[..Self::HIDDEN]
    }
}

/// Length of the work buffer of [`Cell::forward_batch`] / [`Cell::backward_batch`] for
/// `batch` sequences of `steps` steps (an upper bound over runtime variants):
/// `batch·steps·WORK_PER_ROW + batch·WORK_PER_TRIAL + WORK_FIXED`, saturating at
/// `usize::MAX` (a size no buffer has) instead of wrapping.
///
/// A `const fn`, so it can size a static or stack array:
///
/// ```
/// use rnndyn_core::cell::{batch_work_len, VanillaCell};
/// type C = VanillaCell<8, 3>;
/// const WORK: usize = batch_work_len::<f32, C>(4, 20);
/// let work = [0.0f32; WORK];
/// assert_eq!(work.len(), 4 * 20 * 8 + 8 * 8);
/// ```
pub const fn batch_work_len<R: Real, C: Cell<R>>(batch: usize, steps: usize) -> usize {
    batch
        .saturating_mul(steps)
        .saturating_mul(C::WORK_PER_ROW)
        .saturating_add(batch.saturating_mul(C::WORK_PER_TRIAL))
        .saturating_add(C::WORK_FIXED)
}

/// Draws a cell's parameters into `p` (length `cell.param_count()`, else
/// [`Error::BufferSize`]).
pub fn init_cell<R: Real, C: Cell<R>>(
    cell: &C,
    p: &mut [R],
    rng: &mut Rng,
    init: &InitParams,
) -> Result<(), Error> {
    check_len(p.len(), cell.param_count())?;
    let mut off = 0;
    let mut bias_off = 0;
    for block in cell.blocks().iter().flatten() {
        let dst = &mut p[off..off + block.len()];
        init_block(block, dst, rng, init, C::HIDDEN, |j| {
            cell.initial_bias(bias_off + j, init)
        });
        off += block.len();
        if block.kind == BlockKind::Bias {
            bias_off += block.len();
        }
    }
    Ok(())
}

/// Initialises one block in place.
pub(crate) fn init_block<R: Real>(
    block: &ParamBlock,
    dst: &mut [R],
    rng: &mut Rng,
    init: &InitParams,
    hidden: usize,
    bias: impl Fn(usize) -> f64,
) {
    match block.kind {
        BlockKind::Recurrent => match init.recurrent {
            RecurrentInit::Normal { gain } => {
                let sd = gain / libm::sqrt(block.rows as f64);
                dst.iter_mut()
                    .for_each(|w| *w = R::from_f64(sd * rng.normal()));
            }
            RecurrentInit::Orthogonal { gain } => {
                dst.iter_mut().for_each(|w| *w = R::from_f64(rng.normal()));
                orthogonalise_square_blocks(dst, block.rows, block.cols, hidden, gain);
            }
        },
        BlockKind::Input => {
            let sd = init.input_scale / libm::sqrt(block.rows.max(1) as f64);
            dst.iter_mut()
                .for_each(|w| *w = R::from_f64(sd * rng.normal()));
        }
        BlockKind::Readout => {
            let sd = init.readout_scale / libm::sqrt(block.rows.max(1) as f64);
            dst.iter_mut()
                .for_each(|w| *w = R::from_f64(sd * rng.normal()));
        }
        BlockKind::Bias => {
            for (j, b) in dst.iter_mut().enumerate() {
                *b = R::from_f64(bias(j));
            }
        }
        BlockKind::ReadoutBias => dst.iter_mut().for_each(|b| *b = R::ZERO),
    }
}

/// Modified Gram–Schmidt on the rows of each `n × n` column block of a row-major
/// `rows × cols` matrix (`rows == n`) to unit length, then the block scaled by `gain` (the
/// projections need unit rows: scaled ones would leave `(gain² − 1)·⟨w, u⟩` behind).
/// In place, no scratch.
fn orthogonalise_square_blocks<R: Real>(
    w: &mut [R],
    rows: usize,
    cols: usize,
    n: usize,
    gain: f64,
) {
    if n == 0 || rows != n {
        return;
    }
    let blocks = cols / n;
    for g in 0..blocks {
        for i in 0..n {
            for k in 0..i {
                let mut d = R::ZERO;
                for j in 0..n {
                    d += w[i * cols + g * n + j] * w[k * cols + g * n + j];
                }
                for j in 0..n {
                    let wk = w[k * cols + g * n + j];
                    w[i * cols + g * n + j] -= d * wk;
                }
            }
            let mut nrm = R::ZERO;
            for j in 0..n {
                nrm += w[i * cols + g * n + j].square();
            }
            let nrm = Real::sqrt(nrm);
            let scale = if nrm > R::ZERO { R::ONE / nrm } else { R::ZERO };
            for j in 0..n {
                w[i * cols + g * n + j] *= scale;
            }
        }
        let gain = R::from_f64(gain);
        for i in 0..n {
            for j in 0..n {
                w[i * cols + g * n + j] *= gain;
            }
        }
    }
}
