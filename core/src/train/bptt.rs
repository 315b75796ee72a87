//! A cell plus a linear readout, and backpropagation through time.
//!
//! Parameter vector = cell blocks followed by the readout `Wo (N, O)` and `bo (O,)`.
//! Sequences are laid out trial-major: `xs[(b·T + t)·I + k]`, `ys[(b·T + t)·O + k]`
//! (NumPy shape `(B, T, I)` / `(B, T, O)`). The initial state is zero.

use crate::cell::{
    batch_work_len, init_block, init_cell, BlockKind, Cell, InitParams, ParamBlock, MAX_BLOCKS,
};
use crate::error::{check_len, check_scratch};
use crate::kernel::{gemm_acc, gemm_tn_acc, gemv_acc, gemv_t_acc, outer_acc, transpose};
use crate::rng::Rng;
use crate::{Error, Real};

/// A recurrent cell `C` with a linear readout to `O` outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network<C, const O: usize> {
    /// The recurrent cell; the readout `Wo (N, O)`, `bo (O,)` follows its parameters.
    pub cell: C,
}

/// Upper bound on the number of blocks of a network (cell blocks + readout).
pub const NETWORK_BLOCKS: usize = MAX_BLOCKS + 2;

impl<C, const O: usize> Network<C, O> {
    /// The network of `cell` and an `O`-output readout.
    pub const fn new(cell: C) -> Self {
        Network { cell }
    }
}

/// Byte boundary [`Network::loss_and_grad`] starts its work at inside the caller's scratch:
/// one cache line, one AVX-512 vector. With the scratch 4 bytes off that boundary, the
/// f32 training step at N = 64 took 3–21 % longer on a Zen 5 (AVX-512), since every
/// 64-byte row load then spans two cache lines (BENCHMARKS.md, "Aligned buffers").
pub const SCRATCH_ALIGN: usize = 64;

/// Elements of `R` that [`Network::bptt_scratch_len`] adds so that the work can start at a
/// [`SCRATCH_ALIGN`]-byte boundary wherever the caller's buffer starts.
const fn scratch_align_slack<R>() -> usize {
    let size = core::mem::size_of::<R>();
    if size == 0 {
        0
    } else {
        SCRATCH_ALIGN.div_ceil(size)
    }
}

/// Elements from the start of `buf` to its first [`SCRATCH_ALIGN`]-byte boundary: at most
/// the slack (`SCRATCH_ALIGN` bytes' worth of `R`); 0 if no boundary falls within it. For
/// callers that place their own buffers on cache lines (e.g. the host's weights).
pub fn scratch_align_offset<R>(buf: &[R]) -> usize {
    let off = buf.as_ptr().align_offset(SCRATCH_ALIGN);
    if off <= scratch_align_slack::<R>() {
        off
    } else {
        0
    }
}

/// The part of `buf` (of length `need`, which includes the slack) that starts at the
/// first [`SCRATCH_ALIGN`]-byte boundary (see [`scratch_align_offset`]) and has
/// `need − slack` elements. Where the buffer sits never changes a result, only the speed.
fn aligned_window<R>(buf: &mut [R]) -> &mut [R] {
    let slack = scratch_align_slack::<R>().min(buf.len());
    let len = buf.len() - slack;
    let off = scratch_align_offset(buf).min(slack);
    &mut buf[off..off + len]
}

impl<C, const O: usize> Network<C, O> {
    /// Minimum length of the scratch buffer [`Network::loss_and_grad`] needs for `batch`
    /// sequences of `steps` time steps (a longer buffer is accepted), including
    /// [`SCRATCH_ALIGN`] bytes of slack so that the work starts at a cache-line boundary.
    /// A `const fn`: it can size a static or stack array (see the
    /// [module example](crate::train)). Saturates at `usize::MAX`, a length no buffer
    /// has, instead of wrapping.
    pub const fn bptt_scratch_len<R: Real>(batch: usize, steps: usize) -> usize
    where
        C: Cell<R>,
    {
        // Saturating: a size past `usize` asks for a buffer no caller has, so the length
        // check fails instead of the arithmetic wrapping.
        let rows = batch.saturating_mul(steps);
        // No buffer holds more than isize::MAX bytes; past that, report usize::MAX.
        if rows
            .saturating_add(batch)
            .saturating_mul(16 * (C::STATE + O))
            > isize::MAX as usize
        {
            return usize::MAX;
        }
        (rows.saturating_add(batch))
            .saturating_mul(C::STATE)
            .saturating_add(rows.saturating_mul(C::HIDDEN + O))
            .saturating_add(O * C::HIDDEN)
            .saturating_add(batch_work_len::<R, C>(batch, steps))
            .saturating_add(scratch_align_slack::<R>())
    }

    /// Minimum length of the scratch buffer [`Network::loss_and_grad_reference`] needs for
    /// `steps` time steps (a longer buffer is accepted; `const fn`, saturating).
    pub const fn bptt_reference_scratch_len<R: Real>(steps: usize) -> usize
    where
        C: Cell<R>,
    {
        steps
            .saturating_add(1)
            .saturating_mul(C::STATE)
            .saturating_add(steps.saturating_mul(C::CACHE))
            .saturating_add(2 * C::STATE + O)
    }

    /// Minimum length of the scratch buffer [`Network::loss`] needs (a longer buffer is
    /// accepted; `const fn`).
    pub const fn loss_scratch_len<R: Real>() -> usize
    where
        C: Cell<R>,
    {
        2 * C::STATE + O
    }

    /// Number of parameters of the network whose cell has `cell_params` parameters (the
    /// cell's blocks, then the readout `Wo` and `bo`). A `const fn` for sizing arrays:
    /// [`Network::param_count`] is `param_count_for(cell.param_count())`, and every cell has a
    /// `const` count (`VanillaCell::PARAMS`, `UgrnnCell::PARAMS`, `LstmCell::PARAMS`,
    /// `GruCell::params`, which depends on the convention).
    pub const fn param_count_for<R: Real>(cell_params: usize) -> usize
    where
        C: Cell<R>,
    {
        cell_params + C::HIDDEN * O + O
    }

    /// Parameter blocks of the whole network in storage order (cell, then readout).
    pub fn blocks<R: Real>(&self) -> [Option<ParamBlock>; NETWORK_BLOCKS]
    where
        C: Cell<R>,
    {
        let mut out = [None; NETWORK_BLOCKS];
        let cb = self.cell.blocks();
        let mut k = 0;
        for b in cb.iter().flatten() {
            out[k] = Some(*b);
            k += 1;
        }
        out[k] = Some(ParamBlock {
            name: "Wo",
            rows: C::HIDDEN,
            cols: O,
            kind: BlockKind::Readout,
        });
        out[k + 1] = Some(ParamBlock {
            name: "bo",
            rows: 1,
            cols: O,
            kind: BlockKind::ReadoutBias,
        });
        out
    }

    /// Total number of parameters (for a `const`, see [`Network::param_count_for`]).
    pub fn param_count<R: Real>(&self) -> usize
    where
        C: Cell<R>,
    {
        Self::param_count_for::<R>(self.cell.param_count())
    }

    /// Draws fresh parameters (see [`InitParams`] for the scheme).
    pub fn init<R: Real>(&self, p: &mut [R], rng: &mut Rng, init: &InitParams) -> Result<(), Error>
    where
        C: Cell<R>,
    {
        check_len(p.len(), self.param_count())?;
        let nc = self.cell.param_count();
        init_cell(&self.cell, &mut p[..nc], rng, init)?;
        let blocks = self.blocks();
        let mut off = nc;
        for b in blocks
            .iter()
            .flatten()
            .filter(|b| matches!(b.kind, BlockKind::Readout | BlockKind::ReadoutBias))
        {
            init_block(b, &mut p[off..off + b.len()], rng, init, C::HIDDEN, |_| 0.0);
            off += b.len();
        }
        Ok(())
    }

    /// `y = h Wo + bo` for the hidden part of state `s` (`p` of length
    /// [`Network::param_count`], `s` of `C::STATE`, `y` of `O`, else [`Error::BufferSize`]).
    pub fn readout<R: Real>(&self, p: &[R], s: &[R], y: &mut [R]) -> Result<(), Error>
    where
        C: Cell<R>,
    {
        check_len(p.len(), self.param_count())?;
        check_len(s.len(), C::STATE)?;
        check_len(y.len(), O)?;
        self.readout_sized(p, s, y);
        Ok(())
    }

    /// [`Network::readout`] for callers that have checked the lengths.
    #[inline(always)]
    fn readout_sized<R: Real>(&self, p: &[R], s: &[R], y: &mut [R])
    where
        C: Cell<R>,
    {
        let wo = self.cell.param_count();
        let bo = wo + C::HIDDEN * O;
        y[..O].copy_from_slice(&p[bo..bo + O]);
        gemv_acc(&mut y[..O], &p[wo..bo], O, 0, self.cell.hidden(s));
    }

    fn check_batch<R: Real>(
        &self,
        p: &[R],
        xs: &[R],
        ys: &[R],
        batch: usize,
        steps: usize,
    ) -> Result<(), Error>
    where
        C: Cell<R>,
    {
        // Saturating: a size past `usize` matches no buffer instead of wrapping to one.
        let rows = batch.saturating_mul(steps);
        check_len(p.len(), self.param_count())?;
        check_len(xs.len(), rows.saturating_mul(C::INPUT))?;
        check_len(ys.len(), rows.saturating_mul(O))?;
        Ok(())
    }

    /// Runs one sequence from state `s0`: writes every state (`steps × STATE`) and output
    /// (`steps × O`).
    pub fn run<R: Real>(
        &self,
        p: &[R],
        s0: &[R],
        xs: &[R],
        states: &mut [R],
        outputs: &mut [R],
    ) -> Result<(), Error>
    where
        C: Cell<R>,
    {
        let (s, i) = (C::STATE, C::INPUT);
        check_len(p.len(), self.param_count())?;
        check_len(s0.len(), s)?;
        if i == 0 {
            return Err(Error::InvalidParameter);
        }
        let steps = xs.len() / i;
        check_len(xs.len(), steps * i)?;
        check_len(states.len(), steps.saturating_mul(s))?;
        check_len(outputs.len(), steps.saturating_mul(O))?;
        for t in 0..steps {
            let (done, rest) = states.split_at_mut(t * s);
            let prev = if t == 0 { s0 } else { &done[(t - 1) * s..] };
            let next = &mut rest[..s];
            self.cell.step(p, prev, &xs[t * i..(t + 1) * i], next);
            self.readout_sized(p, next, &mut outputs[t * O..(t + 1) * O]);
        }
        Ok(())
    }

    /// Mean squared error over `batch × steps × O` (zero initial state); `scratch` has at
    /// least [`Network::loss_scratch_len`] elements.
    pub fn loss<R: Real>(
        &self,
        p: &[R],
        xs: &[R],
        ys: &[R],
        batch: usize,
        steps: usize,
        scratch: &mut [R],
    ) -> Result<R, Error>
    where
        C: Cell<R>,
    {
        self.check_batch(p, xs, ys, batch, steps)?;
        let need = Self::loss_scratch_len::<R>();
        check_scratch(scratch.len(), need)?;
        let scratch = &mut scratch[..need];
        let (s, i) = (C::STATE, C::INPUT);
        let (a, rest) = scratch.split_at_mut(s);
        let (b, y) = rest.split_at_mut(s);
        let mut sum = R::ZERO;
        for bi in 0..batch {
            a.iter_mut().for_each(|v| *v = R::ZERO);
            for t in 0..steps {
                let row = bi * steps + t;
                self.cell.step(p, a, &xs[row * i..(row + 1) * i], b);
                self.readout_sized(p, b, y);
                for k in 0..O {
                    sum += (y[k] - ys[row * O + k]).square();
                }
                a.copy_from_slice(b);
            }
        }
        Ok(sum / R::from_usize((batch * steps * O).max(1)))
    }

    /// Mean squared error and its gradient (written into `grad`, overwritten) for a batch
    /// of sequences, by backpropagation through time over the whole batch at once
    /// ([`Cell::forward_batch`], [`Cell::backward_batch`]: the recurrent products are
    /// `batch × N` by `N × kN` matrix products). `scratch` has at least
    /// [`Network::bptt_scratch_len`] elements (only that many are used; shorter is
    /// [`Error::BufferSize`]). Allocation-free. The loss is summed per output over the rows
    /// (time-major), then over the outputs in order; it can differ in the last bits from
    /// [`Network::loss_and_grad_reference`]'s, which sums trial by trial.
    pub fn loss_and_grad<R: Real>(
        &self,
        p: &[R],
        xs: &[R],
        ys: &[R],
        batch: usize,
        steps: usize,
        grad: &mut [R],
        scratch: &mut [R],
    ) -> Result<R, Error>
    where
        C: Cell<R>,
    {
        self.check_batch(p, xs, ys, batch, steps)?;
        check_len(grad.len(), p.len())?;
        let need = Self::bptt_scratch_len::<R>(batch, steps);
        check_scratch(scratch.len(), need)?;
        let scratch = aligned_window(&mut scratch[..need]);
        let (s, n) = (C::STATE, C::HIDDEN);
        let rows = batch * steps;
        let wo = self.cell.param_count();
        let bo = wo + n * O;
        let (states, rest) = scratch.split_at_mut((rows + batch) * s);
        let (dh, rest) = rest.split_at_mut(rows * n);
        let (e, rest) = rest.split_at_mut(rows * O);
        let (wot, work) = rest.split_at_mut(O * n);
        grad.iter_mut().for_each(|g| *g = R::ZERO);
        states[..batch * s].iter_mut().for_each(|v| *v = R::ZERO);
        self.cell.forward_batch(p, xs, batch, steps, states, work);
        // Readout of every state after a step: e = bo + h Wo (time-major rows).
        let hs = &states[batch * s..];
        for row in e.chunks_exact_mut(O) {
            row.copy_from_slice(&p[bo..bo + O]);
        }
        gemm_acc(e, O, hs, s, &p[wo..bo], O, rows, n, O);
        let scale = R::TWO / R::from_usize((rows * O).max(1));
        // The squared errors are summed per output (rows in time-major order), and the `O`
        // sums added in order at the end: one running sum was a chain of `rows · O`
        // dependent adds, 16 µs of a 245 µs vanilla 16 step. Only the loss value depends
        // on this order, not the gradient.
        let mut sums = [R::ZERO; O];
        // dbo = Σ e in row order, summed here: as a pass of its own it was a chain of
        // dependent adds after this one's.
        let mut dbo = [R::ZERO; O];
        for t in 0..steps {
            for b in 0..batch {
                let er = &mut e[(t * batch + b) * O..(t * batch + b + 1) * O];
                let yr = &ys[(b * steps + t) * O..(b * steps + t + 1) * O];
                for k in 0..O {
                    let err = er[k] - yr[k];
                    sums[k] += err * err;
                    er[k] = scale * err;
                    dbo[k] += er[k];
                }
            }
        }
        let sum = sums.iter().fold(R::ZERO, |acc, &v| acc + v);
        // dL/dh = e Woᵀ (with a transposed copy of Wo: axpy form).
        transpose(wot, &p[wo..bo], O, 0, n, O);
        dh.iter_mut().for_each(|v| *v = R::ZERO);
        gemm_acc(dh, n, e, O, wot, n, rows, O, n);
        // dWoᵀ = eᵀ H, then transposed into place.
        wot.iter_mut().for_each(|v| *v = R::ZERO);
        gemm_tn_acc(wot, n, e, O, hs, s, rows, O, n);
        for i in 0..n {
            for k in 0..O {
                grad[wo + i * O + k] += wot[k * n + i];
            }
        }
        grad[bo..bo + O].copy_from_slice(&dbo);
        self.cell
            .backward_batch(p, xs, batch, steps, states, dh, &mut grad[..wo], work);
        Ok(sum / R::from_usize((rows * O).max(1)))
    }

    /// Per-trial reference implementation of [`Network::loss_and_grad`] (matrix-vector
    /// products through [`Cell::forward`] / [`Cell::backward`]); `scratch` has at least
    /// [`Network::bptt_reference_scratch_len`] elements. Allocation-free.
    pub fn loss_and_grad_reference<R: Real>(
        &self,
        p: &[R],
        xs: &[R],
        ys: &[R],
        batch: usize,
        steps: usize,
        grad: &mut [R],
        scratch: &mut [R],
    ) -> Result<R, Error>
    where
        C: Cell<R>,
    {
        self.check_batch(p, xs, ys, batch, steps)?;
        check_len(grad.len(), p.len())?;
        let need = Self::bptt_reference_scratch_len::<R>(steps);
        check_scratch(scratch.len(), need)?;
        let scratch = &mut scratch[..need];
        let (s, i, c) = (C::STATE, C::INPUT, C::CACHE);
        let n = C::HIDDEN;
        let wo = self.cell.param_count();
        let bo = wo + n * O;
        let (states, rest) = scratch.split_at_mut((steps + 1) * s);
        let (cache, rest) = rest.split_at_mut(steps * c);
        let (ds, rest) = rest.split_at_mut(s);
        let (ds_prev, e) = rest.split_at_mut(s);
        grad.iter_mut().for_each(|g| *g = R::ZERO);
        let scale = R::TWO / R::from_usize((batch * steps * O).max(1));
        let mut sum = R::ZERO;
        for bi in 0..batch {
            let xs_b = &xs[bi * steps * i..(bi + 1) * steps * i];
            let ys_b = &ys[bi * steps * O..(bi + 1) * steps * O];
            states[..s].iter_mut().for_each(|v| *v = R::ZERO);
            for t in 0..steps {
                let (prev, next) = states.split_at_mut((t + 1) * s);
                self.cell.forward(
                    p,
                    &prev[t * s..],
                    &xs_b[t * i..(t + 1) * i],
                    &mut next[..s],
                    &mut cache[t * c..(t + 1) * c],
                );
            }
            ds.iter_mut().for_each(|v| *v = R::ZERO);
            for t in (0..steps).rev() {
                let s_next = &states[(t + 1) * s..(t + 2) * s];
                // Readout error at step t, added into dL/ds_{t+1}.
                self.readout_sized(p, s_next, e);
                for k in 0..O {
                    let err = e[k] - ys_b[t * O + k];
                    sum += err * err;
                    e[k] = scale * err;
                    grad[bo + k] += e[k];
                }
                let h = &s_next[..n];
                outer_acc(&mut grad[wo..bo], O, 0, h, e);
                gemv_t_acc(&mut ds[..n], &p[wo..bo], O, 0, e);
                self.cell.backward(
                    p,
                    &states[t * s..(t + 1) * s],
                    &xs_b[t * i..(t + 1) * i],
                    s_next,
                    &cache[t * c..(t + 1) * c],
                    ds,
                    ds_prev,
                    &mut grad[..wo],
                    None,
                );
                ds.copy_from_slice(ds_prev);
            }
        }
        Ok(sum / R::from_usize((batch * steps * O).max(1)))
    }

    /// Adds the L2 penalty `½ λ Σ w²` over weight blocks (recurrent, input, readout; not
    /// biases) to `grad` and returns its value.
    pub fn add_l2<R: Real>(&self, p: &[R], grad: &mut [R], l2: R) -> Result<R, Error>
    where
        C: Cell<R>,
    {
        check_len(p.len(), self.param_count())?;
        check_len(grad.len(), p.len())?;
        if l2 == R::ZERO {
            return Ok(R::ZERO);
        }
        let mut off = 0;
        let mut pen = R::ZERO;
        for b in self.blocks().iter().flatten() {
            if matches!(
                b.kind,
                BlockKind::Recurrent | BlockKind::Input | BlockKind::Readout
            ) {
                for k in off..off + b.len() {
                    pen += p[k] * p[k];
                    grad[k] += l2 * p[k];
                }
            }
            off += b.len();
        }
        Ok(R::HALF * l2 * pen)
    }
}
