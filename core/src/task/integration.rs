//! Context-dependent integration (Mante et al. 2013).

use super::{check_buffers, check_range, Task};
use crate::rng::Rng;
use crate::{Error, Real};

/// Capacity of [`BiasSet::Levels`].
pub const MAX_BIAS_LEVELS: usize = 8;

/// How a trial's per-stream bias (the "coherence") is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BiasSet {
    /// A magnitude chosen uniformly from `magnitudes[..len]`, with a random sign (½ each).
    /// Default: magnitudes `{0.5, 0.25, 0.1, 0.05}`, i.e. biases
    /// `{±0.5, ±0.25, ±0.1, ±0.05}`.
    Levels {
        /// The magnitudes; only the first `len` are used.
        magnitudes: [f64; MAX_BIAS_LEVELS],
        /// Number of magnitudes in use (1 to [`MAX_BIAS_LEVELS`]).
        len: usize,
    },
    /// Uniform in `[-max, max)`.
    Uniform {
        /// Largest magnitude.
        max: f64,
    },
}

impl BiasSet {
    /// Levels from a slice of at most [`MAX_BIAS_LEVELS`] finite, non-negative magnitudes.
    pub fn levels(magnitudes: &[f64]) -> Result<Self, Error> {
        if magnitudes.is_empty() || magnitudes.len() > MAX_BIAS_LEVELS {
            return Err(Error::InvalidParameter);
        }
        let mut m = [0.0; MAX_BIAS_LEVELS];
        m[..magnitudes.len()].copy_from_slice(magnitudes);
        let set = BiasSet::Levels {
            magnitudes: m,
            len: magnitudes.len(),
        };
        set.validate()?;
        Ok(set)
    }

    fn validate(&self) -> Result<(), Error> {
        match *self {
            BiasSet::Levels { magnitudes, len } => {
                if len == 0 || len > MAX_BIAS_LEVELS {
                    return Err(Error::InvalidParameter);
                }
                magnitudes[..len]
                    .iter()
                    .try_for_each(|&m| check_range(m, 0.0, f64::MAX))
            }
            BiasSet::Uniform { max } => check_range(max, 0.0, f64::MAX),
        }
    }

    /// Draws one bias (levels: `rng.below(len)` then the top bit of `rng.next_u64()`, 0 →
    /// positive; uniform: one `rng.uniform_range(-max, max)`).
    fn draw(&self, rng: &mut Rng) -> f64 {
        match *self {
            BiasSet::Levels { magnitudes, len } => {
                let m = magnitudes
                    .get(rng.below(len as u64) as usize)
                    .copied()
                    .unwrap_or(0.0);
                if rng.next_u64() >> 63 == 0 {
                    m
                } else {
                    -m
                }
            }
            BiasSet::Uniform { max } => rng.uniform_range(-max, max),
        }
    }
}

impl Default for BiasSet {
    fn default() -> Self {
        let mut magnitudes = [0.0; MAX_BIAS_LEVELS];
        magnitudes[..4].copy_from_slice(&[0.5, 0.25, 0.1, 0.05]);
        BiasSet::Levels { magnitudes, len: 4 }
    }
}

/// Which stream the context selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Context {
    /// Integrate stream 1 (context input 1 is on).
    First,
    /// Integrate stream 2 (context input 2 is on).
    Second,
}

impl Context {
    /// 0 for [`Context::First`], 1 for [`Context::Second`].
    pub fn index(self) -> usize {
        match self {
            Context::First => 0,
            Context::Second => 1,
        }
    }
}

/// Parameters of context-dependent integration.
///
/// With the defaults and `T = 100`, the final target is the trial mean of the selected
/// stream: its bias (at most ±0.5) plus noise of standard deviation `1/√100 = 0.1`, so
/// targets stay within about ±0.8 for `T` up to a few hundred steps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IntegrationParams {
    /// Per-trial bias of each stream. Default [`BiasSet::default`].
    pub bias: BiasSet,
    /// Standard deviation of the per-step Gaussian noise on each stream (no `dt`
    /// scaling). Default `1.0`.
    pub noise_std: f64,
    /// Factor on the running sum (the integration time step). Default `0.01`.
    pub scale: f64,
}

impl Default for IntegrationParams {
    fn default() -> Self {
        IntegrationParams {
            bias: BiasSet::default(),
            noise_std: 1.0,
            scale: 0.01,
        }
    }
}

/// Context-dependent integration: inputs `[stream1, stream2, ctx1, ctx2]`, 1 output.
///
/// A trial draws a bias `μ_s` for each stream and a [`Context`] (½ each). Stream `s` at step
/// `t` is `μ_s + noise_std · ξ_{s,t}` with `ξ` standard normal; the context inputs are
/// one-hot (`1, 0` or `0, 1`) for the whole trial. The target is the running integral of
/// the selected stream `c`: `y_t = scale · Σ_{s ≤ t} stream_c(s)` (the step `t` input
/// counts at `t`), summed in `f64` over the inputs as stored in `R`.
///
/// Draw order per trial: bias of stream 1, bias of stream 2 ([`BiasSet`]), context
/// (`rng.below(2)`), then for each step `rng.normal()` for stream 1 and then stream 2.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Integration {
    params: IntegrationParams,
}

impl Integration {
    /// Validates `params`: a valid [`BiasSet`] (1 to [`MAX_BIAS_LEVELS`] finite,
    /// non-negative levels, or a finite non-negative `max`); finite, non-negative
    /// `noise_std`; finite `scale`.
    pub fn new(params: IntegrationParams) -> Result<Self, Error> {
        params.bias.validate()?;
        check_range(params.noise_std, 0.0, f64::MAX)?;
        check_range(params.scale, f64::MIN, f64::MAX)?;
        Ok(Integration { params })
    }

    /// The validated parameters.
    pub fn params(&self) -> &IntegrationParams {
        &self.params
    }

    /// Writes one trial with given stream biases and context (noise from `rng`: one normal
    /// per stream per step). `xs` has length `steps * 4`, `ys` length `steps`. Non-finite
    /// biases are [`Error::InvalidParameter`].
    pub fn fill_trial<R: Real>(
        &self,
        rng: &mut Rng,
        bias: [f64; 2],
        context: Context,
        steps: usize,
        xs: &mut [R],
        ys: &mut [R],
    ) -> Result<(), Error> {
        check_buffers::<Self>(1, steps, xs.len(), ys.len())?;
        bias.iter()
            .try_for_each(|&b| check_range(b, f64::MIN, f64::MAX))?;
        self.write(rng, bias, context, xs, ys);
        Ok(())
    }

    fn write<R: Real>(
        &self,
        rng: &mut Rng,
        bias: [f64; 2],
        context: Context,
        xs: &mut [R],
        ys: &mut [R],
    ) {
        let c = context.index();
        let sigma = self.params.noise_std;
        let mut acc = 0.0f64;
        for (x, y) in xs.chunks_exact_mut(Self::INPUTS).zip(ys.iter_mut()) {
            x[0] = R::from_f64(bias[0] + sigma * rng.normal());
            x[1] = R::from_f64(bias[1] + sigma * rng.normal());
            x[2] = if c == 0 { R::ONE } else { R::ZERO };
            x[3] = if c == 1 { R::ONE } else { R::ZERO };
            acc += x[c].to_f64();
            *y = R::from_f64(self.params.scale * acc);
        }
    }
}

impl Task for Integration {
    const INPUTS: usize = 4;
    const OUTPUTS: usize = 1;

    fn fill<R: Real>(
        &self,
        rng: &mut Rng,
        batch: usize,
        steps: usize,
        xs: &mut [R],
        ys: &mut [R],
    ) -> Result<(), Error> {
        check_buffers::<Self>(batch, steps, xs.len(), ys.len())?;
        if steps == 0 {
            return Ok(());
        }
        let n = steps * Self::INPUTS;
        for (x, y) in xs.chunks_exact_mut(n).zip(ys.chunks_exact_mut(steps)) {
            let b1 = self.params.bias.draw(rng);
            let b2 = self.params.bias.draw(rng);
            let context = if rng.below(2) == 0 {
                Context::First
            } else {
                Context::Second
            };
            self.write(rng, [b1, b2], context, x, y);
        }
        Ok(())
    }
}
