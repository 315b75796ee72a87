//! Sine-wave generation (Sussillo & Barak 2013).

use super::{check_buffers, check_range, Task};
use crate::rng::Rng;
use crate::{Error, Real};

/// Which frequency indices `j ∈ 0..J` trials are drawn from (held-out frequencies are the
/// rest; [`Sine::fill_trial`] accepts any `j < J` for sweeps).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum FrequencySet {
    /// Every `j` in `0..J`. The default.
    #[default]
    All,
    /// The `j` with `j % step == offset` (`Every { step: 2, offset: 0 }`: every other
    /// frequency, starting with the lowest).
    Every {
        /// Period of the selection (0 selects nothing).
        step: usize,
        /// The selected residue (`offset ≥ step` selects nothing).
        offset: usize,
    },
    /// The complement of `Every { step, offset }` (the held-out set of that split).
    AllBut {
        /// Period of the held-out selection (0 holds out nothing).
        step: usize,
        /// The held-out residue.
        offset: usize,
    },
}

impl FrequencySet {
    /// Whether index `j` belongs to the set (for `J = frequencies`).
    pub fn contains(self, j: usize, frequencies: usize) -> bool {
        j < frequencies
            && match self {
                FrequencySet::All => true,
                FrequencySet::Every { step, offset } => step != 0 && j % step == offset,
                FrequencySet::AllBut { step, offset } => step == 0 || j % step != offset,
            }
    }

    /// Number of members among `0..frequencies`.
    pub fn count(self, frequencies: usize) -> usize {
        (0..frequencies)
            .filter(|&j| self.contains(j, frequencies))
            .count()
    }

    /// The `k`-th member in increasing order, if any.
    pub fn nth(self, k: usize, frequencies: usize) -> Option<usize> {
        (0..frequencies)
            .filter(|&j| self.contains(j, frequencies))
            .nth(k)
    }
}

/// Parameters of the sine-wave task.
///
/// The defaults put the slowest period at `2π / 0.1 ≈ 63` steps (1.6 periods in a
/// `T = 100` trial, 3.2 in `T = 200`) and the fastest at `2π / 0.6 ≈ 10.5` steps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SineParams {
    /// Number of frequencies `J`, at least 1. Default `51`.
    pub frequencies: usize,
    /// `ω_0` in radians per step. Default `0.1`.
    pub omega_min: f64,
    /// `ω_{J-1}` in radians per step, at most π. Default `0.6`.
    pub omega_max: f64,
    /// Added to `j / J` to make the input. Default `0.25`.
    pub input_offset: f64,
    /// Frequencies drawn by [`Task::fill`]. Default [`FrequencySet::All`].
    pub set: FrequencySet,
}

impl Default for SineParams {
    fn default() -> Self {
        SineParams {
            frequencies: 51,
            omega_min: 0.1,
            omega_max: 0.6,
            input_offset: 0.25,
            set: FrequencySet::All,
        }
    }
}

/// Sine-wave generation: 1 static input, 1 output.
///
/// A trial has a frequency index `j`; the input is `j / J + input_offset` at every step
/// and the target at step `t = 0, 1, …, T − 1` is `sin(ω_j t)` (phase 0 at the first step,
/// so `y_0 = 0`), with `ω_j = ω_min + (ω_max − ω_min) j / (J − 1)` spaced linearly.
///
/// Draw order: one `rng.below(count)` per trial picks the member of the
/// [`FrequencySet`] (in increasing order of `j`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sine {
    params: SineParams,
    count: usize,
}

impl Default for Sine {
    fn default() -> Self {
        let params = SineParams::default();
        Sine {
            params,
            count: params.frequencies,
        }
    }
}

impl Sine {
    /// Validates `params`: `J ≥ 1`; `0 < omega_min ≤ omega_max ≤ π`; a finite offset; a
    /// frequency set with at least one member in `0..J` (and `step ≥ 1`).
    pub fn new(params: SineParams) -> Result<Self, Error> {
        if params.frequencies == 0 {
            return Err(Error::InvalidParameter);
        }
        check_range(params.omega_max, 0.0, core::f64::consts::PI)?;
        check_range(params.omega_min, f64::MIN_POSITIVE, params.omega_max)?;
        check_range(params.input_offset, f64::MIN, f64::MAX)?;
        if let FrequencySet::Every { step: 0, .. } | FrequencySet::AllBut { step: 0, .. } =
            params.set
        {
            return Err(Error::InvalidParameter);
        }
        let count = params.set.count(params.frequencies);
        if count == 0 {
            return Err(Error::InvalidParameter);
        }
        Ok(Sine { params, count })
    }

    /// The validated parameters.
    pub fn params(&self) -> &SineParams {
        &self.params
    }

    /// Number of frequencies `J`.
    pub fn frequencies(&self) -> usize {
        self.params.frequencies
    }

    /// `ω_j` in radians per step (linear in `j`; extrapolates for `j ≥ J`).
    pub fn frequency(&self, j: usize) -> f64 {
        let p = &self.params;
        if p.frequencies < 2 {
            return p.omega_min;
        }
        p.omega_min + (p.omega_max - p.omega_min) * (j as f64 / (p.frequencies - 1) as f64)
    }

    /// The static input of frequency `j`: `j / J + input_offset`.
    pub fn input_value(&self, j: usize) -> f64 {
        j as f64 / self.params.frequencies as f64 + self.params.input_offset
    }

    /// The index `j < J` whose input is nearest to `x`, if `x` lies within half a spacing
    /// of one.
    pub fn index_of_input(&self, x: f64) -> Option<usize> {
        let jf = Real::floor((x - self.params.input_offset) * self.params.frequencies as f64 + 0.5);
        if jf.is_finite() && jf >= 0.0 && jf < self.params.frequencies as f64 {
            Some(jf as usize)
        } else {
            None
        }
    }

    /// Writes one trial of frequency `j` (any `j < J`, held out or not; else
    /// [`Error::InvalidParameter`]); `xs` and `ys` have length `steps`.
    pub fn fill_trial<R: Real>(
        &self,
        j: usize,
        steps: usize,
        xs: &mut [R],
        ys: &mut [R],
    ) -> Result<(), Error> {
        check_buffers::<Self>(1, steps, xs.len(), ys.len())?;
        if j >= self.params.frequencies {
            return Err(Error::InvalidParameter);
        }
        self.write(j, xs, ys);
        Ok(())
    }

    fn write<R: Real>(&self, j: usize, xs: &mut [R], ys: &mut [R]) {
        let u = R::from_f64(self.input_value(j));
        let w = self.frequency(j);
        xs.fill(u);
        for (t, y) in ys.iter_mut().enumerate() {
            *y = R::from_f64(Real::sin(w * t as f64));
        }
    }
}

impl Task for Sine {
    const INPUTS: usize = 1;
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
        for (x, y) in xs.chunks_exact_mut(steps).zip(ys.chunks_exact_mut(steps)) {
            let k = rng.below(self.count as u64) as usize;
            // `k < count`, so a member exists; fall back to the first frequency regardless.
            let j = self.params.set.nth(k, self.params.frequencies).unwrap_or(0);
            self.write(j, x, y);
        }
        Ok(())
    }
}
