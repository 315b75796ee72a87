//! The 3-bit flip-flop (Sussillo & Barak 2013; definition of `shared/peers/flipflop_jax.py`).

use super::{check_buffers, check_range, Task};
use crate::error::check_len;
use crate::rng::Rng;
use crate::{Error, LengthRule, Real};

/// Whether every channel is forced to pulse at `t = 0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum PulseAtT0 {
    /// Every channel gets a pulse (random sign) at `t = 0`, so targets are always ±1
    /// (the convention of Golub & Sussillo's FixedPointFinder example). The default.
    #[default]
    Yes,
    /// `t = 0` is an ordinary step; a channel's target is 0 until its first pulse.
    No,
}

/// The sign of a pulse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sign {
    /// +1.
    Plus,
    /// −1.
    Minus,
}

impl Sign {
    /// `+1.0` or `-1.0`.
    #[inline]
    pub fn value<R: Real>(self) -> R {
        match self {
            Sign::Plus => R::ONE,
            Sign::Minus => -R::ONE,
        }
    }
}

/// One explicit pulse: channel `channel` receives `sign` at step `t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pulse {
    /// Time step of the pulse.
    pub t: usize,
    /// Input channel (bit) it sets.
    pub channel: usize,
    /// The value the channel is set to.
    pub sign: Sign,
}

/// Parameters of the flip-flop.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlipFlopParams {
    /// Probability that a channel pulses at a step, in `[0, 1]`. Default `0.05`.
    pub p: f64,
    /// Forced pulse on every channel at `t = 0`. Default [`PulseAtT0::Yes`].
    pub pulse_at_t0: PulseAtT0,
}

impl Default for FlipFlopParams {
    fn default() -> Self {
        FlipFlopParams {
            p: 0.05,
            pulse_at_t0: PulseAtT0::Yes,
        }
    }
}

/// The 3-bit flip-flop: 3 inputs, 3 outputs.
///
/// At every step each channel independently pulses with probability `p`; a pulse is `+1`
/// or `-1` with probability ½ each, otherwise the input is 0. Target `k` at step `t` is the
/// value of the most recent pulse on channel `k` at a step `s <= t` (a pulse counts on the
/// step it arrives), or 0 before the first pulse (only possible with [`PulseAtT0::No`]).
///
/// Draw order (pinned by the tests): for each trial, each step, each channel: a pulse is
/// `rng.bernoulli(p)` (not drawn at `t = 0` with [`PulseAtT0::Yes`]); if there is a pulse,
/// its sign is the top bit of `rng.next_u64()` (0 → `+1`).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct FlipFlop {
    params: FlipFlopParams,
}

impl FlipFlop {
    /// Number of bits (channels).
    pub const BITS: usize = 3;

    /// Validates `params`: `p` must be finite and in `[0, 1]`.
    pub fn new(params: FlipFlopParams) -> Result<Self, Error> {
        check_range(params.p, 0.0, 1.0)?;
        Ok(FlipFlop { params })
    }

    /// The validated parameters.
    pub fn params(&self) -> &FlipFlopParams {
        &self.params
    }

    /// Writes one deterministic trial of `steps` steps with the given `pulses` (no other
    /// pulses; later entries for the same `(t, channel)` win). `xs` and `ys` have length
    /// `steps * 3`. A pulse with `t >= steps` or `channel >= 3` is
    /// [`Error::InvalidParameter`].
    pub fn fill_trial<R: Real>(
        steps: usize,
        pulses: &[Pulse],
        xs: &mut [R],
        ys: &mut [R],
    ) -> Result<(), Error> {
        check_buffers::<Self>(1, steps, xs.len(), ys.len())?;
        if pulses
            .iter()
            .any(|p| p.t >= steps || p.channel >= Self::BITS)
        {
            return Err(Error::InvalidParameter);
        }
        xs.fill(R::ZERO);
        for p in pulses {
            xs[p.t * Self::BITS + p.channel] = p.sign.value();
        }
        hold(xs, ys);
        Ok(())
    }

    /// Writes into `ys` the targets of the inputs `xs` (one trial, `steps * 3` each): the
    /// most recent non-zero input per channel, 0 before the first.
    pub fn targets_of<R: Real>(xs: &[R], ys: &mut [R]) -> Result<(), Error> {
        check_len(ys.len(), xs.len())?;
        if !xs.len().is_multiple_of(Self::BITS) {
            return Err(Error::BufferSize {
                expected: xs.len() / Self::BITS * Self::BITS,
                got: xs.len(),
                rule: LengthRule::Exact,
            });
        }
        hold(xs, ys);
        Ok(())
    }
}

/// The `m` (the top 53 bits of a draw) with `m < threshold` exactly when
/// [`Rng::bernoulli`]`(p)` is true: `m · 2^-53 < p` ⟺ `m < p · 2^53` (exact: a power-of-two
/// scaling) ⟺ `m < ⌈p · 2^53⌉`. NaN and p ≤ 0 give 0 (never), p ≥ 1 at least 2^53 (always).
fn bernoulli_threshold(p: f64) -> u64 {
    // `as` saturates (NaN to 0).
    libm::ceil(p * (1u64 << 53) as f64) as u64
}

/// Sample-and-hold of one trial (`xs.len() == ys.len()`, a multiple of 3).
fn hold<R: Real>(xs: &[R], ys: &mut [R]) {
    let mut cur = [R::ZERO; FlipFlop::BITS];
    for (x, y) in xs
        .chunks_exact(FlipFlop::BITS)
        .zip(ys.chunks_exact_mut(FlipFlop::BITS))
    {
        for k in 0..FlipFlop::BITS {
            if x[k] != R::ZERO {
                cur[k] = x[k];
            }
            y[k] = cur[k];
        }
    }
}

impl Task for FlipFlop {
    const INPUTS: usize = 3;
    const OUTPUTS: usize = 3;

    fn fill<R: Real>(
        &self,
        rng: &mut Rng,
        batch: usize,
        steps: usize,
        xs: &mut [R],
        ys: &mut [R],
    ) -> Result<(), Error> {
        check_buffers::<Self>(batch, steps, xs.len(), ys.len())?;
        let n = steps * Self::BITS;
        if n == 0 {
            return Ok(());
        }
        // `rng.bernoulli(p)` as an integer comparison of the same 53 bits (see
        // `bernoulli_threshold`): the branch on it resolves sooner.
        let threshold = bernoulli_threshold(self.params.p);
        for (x, y) in xs.chunks_exact_mut(n).zip(ys.chunks_exact_mut(n)) {
            for (t, xt) in x.chunks_exact_mut(Self::BITS).enumerate() {
                for v in xt.iter_mut() {
                    let forced = t == 0 && self.params.pulse_at_t0 == PulseAtT0::Yes;
                    *v = if forced || (rng.next_u64() >> 11) < threshold {
                        if rng.next_u64() >> 63 == 0 {
                            R::ONE
                        } else {
                            -R::ONE
                        }
                    } else {
                        R::ZERO
                    };
                }
            }
            hold(x, y);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The threshold gives `Rng::bernoulli`'s answer on the same draw, at the boundary
    /// `m = ⌈p · 2^53⌉ − 1, ⌈p · 2^53⌉` and over a stream, for ordinary and edge `p`.
    #[test]
    fn bernoulli_threshold_agrees_with_rng_bernoulli() {
        let two53 = (1u64 << 53) as f64;
        let ps = [
            0.0,
            -0.0,
            -1.0,
            f64::MIN_POSITIVE,
            1.0 / two53,
            1.5 / two53,
            0.05,
            0.1,
            1.0 / 3.0,
            0.5,
            1.0 - f64::EPSILON / 2.0,
            1.0,
            1.5,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        for p in ps {
            let thr = bernoulli_threshold(p);
            for m in [thr.saturating_sub(1), thr, thr.saturating_add(1)] {
                if m < 1 << 53 {
                    let uniform = m as f64 * (1.0 / two53);
                    assert_eq!(m < thr, uniform < p, "p = {p:e}, m = {m}");
                }
            }
            let (mut a, mut b) = (Rng::new(11), Rng::new(11));
            for _ in 0..10_000 {
                assert_eq!(a.bernoulli(p), (b.next_u64() >> 11) < thr, "p = {p:e}");
            }
        }
    }
}
