//! The experiment's task as a runtime value over the core's task generators.

use crate::config::{TaskKind, TaskSettings};
use rnndyn_core::task::{
    BiasSet, FlipFlop, FlipFlopParams, FrequencySet, Integration, IntegrationParams, PulseAtT0,
    Sine, SineParams, Task,
};
use rnndyn_core::{Error, Real, Rng};

/// One of the three tasks, validated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TaskGen {
    FlipFlop(FlipFlop),
    Sine(Sine),
    Integration(Integration),
}

impl TaskGen {
    /// Builds the core generator from validated settings.
    pub fn new(settings: &TaskSettings) -> Result<TaskGen, Error> {
        Ok(match &settings.kind {
            TaskKind::FlipFlop(f) => TaskGen::FlipFlop(FlipFlop::new(FlipFlopParams {
                p: f.pulse_probability,
                pulse_at_t0: if f.pulse_at_t0 {
                    PulseAtT0::Yes
                } else {
                    PulseAtT0::No
                },
            })?),
            TaskKind::Sine(s) => TaskGen::Sine(Sine::new(SineParams {
                frequencies: s.frequencies,
                omega_min: s.min_omega,
                omega_max: s.max_omega,
                set: if s.train_every <= 1 {
                    FrequencySet::All
                } else {
                    FrequencySet::Every {
                        step: s.train_every,
                        offset: 0,
                    }
                },
                ..Default::default()
            })?),
            TaskKind::Integration(g) => {
                TaskGen::Integration(Integration::new(IntegrationParams {
                    bias: BiasSet::levels(&g.bias_levels)?,
                    noise_std: g.noise_std,
                    scale: g.scale,
                })?)
            }
        })
    }

    pub fn inputs(&self) -> usize {
        match self {
            TaskGen::FlipFlop(_) => FlipFlop::INPUTS,
            TaskGen::Sine(_) => Sine::INPUTS,
            TaskGen::Integration(_) => Integration::INPUTS,
        }
    }

    pub fn outputs(&self) -> usize {
        match self {
            TaskGen::FlipFlop(_) => FlipFlop::OUTPUTS,
            TaskGen::Sine(_) => Sine::OUTPUTS,
            TaskGen::Integration(_) => Integration::OUTPUTS,
        }
    }

    /// Fills `batch` trials (trial-major `(B, T, ·)` layout).
    pub fn fill<R: Real>(
        &self,
        rng: &mut Rng,
        batch: usize,
        steps: usize,
        xs: &mut [R],
        ys: &mut [R],
    ) -> Result<(), Error> {
        match self {
            TaskGen::FlipFlop(t) => t.fill(rng, batch, steps, xs, ys),
            TaskGen::Sine(t) => t.fill(rng, batch, steps, xs, ys),
            TaskGen::Integration(t) => t.fill(rng, batch, steps, xs, ys),
        }
    }

    /// Whether one output is "right": the flip-flop needs the right sign; the others need
    /// to be within 0.1 of the target.
    pub fn is_correct(&self, target: f64, output: f64) -> bool {
        match self {
            TaskGen::FlipFlop(_) => target * output > 0.0,
            _ => (target - output).abs() < 0.1,
        }
    }
}
