//! Seeded task generators that write a batch of trials into caller-owned buffers.
//!
//! Three tasks from Maheswaranathan et al. (2019): the 3-bit [flip-flop](FlipFlop),
//! [sine-wave generation](Sine) (Sussillo & Barak 2013) and
//! [context-dependent integration](Integration) (Mante et al. 2013).
//!
//! # Layout
//! Trial-major, like a C-ordered NumPy array of shape `(B, T, I)` / `(B, T, O)`:
//! input `k` of trial `b` at step `t` is `xs[(b * T + t) * I + k]`, target `k` is
//! `ys[(b * T + t) * O + k]`. The network reads `xs[t]` and its readout after that step is
//! compared with `ys[t]` (`h_{t+1} = F(h_t, x_t)`, `ŷ_t = readout(h_{t+1})`).
//!
//! # Randomness
//! Every generator draws from the portable [`Rng`] in a documented order (trial by trial,
//! then step by step), so a seed gives bit-identical buffers on every target, and a batch of
//! `B` trials equals `B` consecutive batches of one trial drawn from the same generator.
//! Numbers are generated in `f64` and rounded once to `R`.

mod flipflop;
mod integration;
mod sine;

pub use flipflop::{FlipFlop, FlipFlopParams, Pulse, PulseAtT0, Sign};
pub use integration::{BiasSet, Context, Integration, IntegrationParams, MAX_BIAS_LEVELS};
pub use sine::{FrequencySet, Sine, SineParams};

use crate::error::check_len;
use crate::rng::Rng;
use crate::{Error, LengthRule, Real};

/// A task generator: fills `batch` trials of `steps` steps into caller buffers.
pub trait Task {
    /// Input channels per step.
    const INPUTS: usize;
    /// Target channels per step.
    const OUTPUTS: usize;

    /// Writes `batch` fresh trials of `steps` steps, drawing from `rng`.
    ///
    /// `xs.len()` must be `batch * steps * INPUTS` and `ys.len()` must be
    /// `batch * steps * OUTPUTS`, else [`Error::BufferSize`] (and nothing is written, and
    /// `rng` is not advanced).
    fn fill<R: Real>(
        &self,
        rng: &mut Rng,
        batch: usize,
        steps: usize,
        xs: &mut [R],
        ys: &mut [R],
    ) -> Result<(), Error>;

    /// Length of the input buffer for `batch` trials of `steps` steps (`None` on overflow).
    fn input_len(batch: usize, steps: usize) -> Option<usize> {
        batch.checked_mul(steps)?.checked_mul(Self::INPUTS)
    }

    /// Length of the target buffer for `batch` trials of `steps` steps (`None` on overflow).
    fn output_len(batch: usize, steps: usize) -> Option<usize> {
        batch.checked_mul(steps)?.checked_mul(Self::OUTPUTS)
    }
}

/// Checks both buffer lengths of a `(batch, steps)` fill.
pub(crate) fn check_buffers<T: Task>(
    batch: usize,
    steps: usize,
    xs: usize,
    ys: usize,
) -> Result<(), Error> {
    let ex = T::input_len(batch, steps).ok_or(Error::BufferSize {
        expected: usize::MAX,
        got: xs,
        rule: LengthRule::Exact,
    })?;
    check_len(xs, ex)?;
    let ey = T::output_len(batch, steps).ok_or(Error::BufferSize {
        expected: usize::MAX,
        got: ys,
        rule: LengthRule::Exact,
    })?;
    check_len(ys, ey)
}

/// `Ok` if `x` is finite and `lo <= x <= hi`, else [`Error::InvalidParameter`].
pub(crate) fn check_range(x: f64, lo: f64, hi: f64) -> Result<(), Error> {
    if x.is_finite() && lo <= x && x <= hi {
        Ok(())
    } else {
        Err(Error::InvalidParameter)
    }
}
