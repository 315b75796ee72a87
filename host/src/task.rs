//! The experiment's task as a runtime value over the core's task generators.

use crate::config::{TaskKind, TaskSettings};
use crate::model::Model;
use rnndyn_core::task::{
    BiasSet, FlipFlop, FlipFlopParams, FrequencySet, Integration, IntegrationParams, PulseAtT0,
    Sine, SineParams, Task,
};
use rnndyn_core::{Error, Real, Rng};

/// One of the three tasks, validated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TaskGen {
    /// The 3-bit flip-flop.
    FlipFlop(FlipFlop),
    /// Sine-wave generation.
    Sine(Sine),
    /// Context-dependent integration.
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

    /// Inputs per time step: flip-flop 3, sine 1, integration 4.
    pub fn inputs(&self) -> usize {
        match self {
            TaskGen::FlipFlop(_) => FlipFlop::INPUTS,
            TaskGen::Sine(_) => Sine::INPUTS,
            TaskGen::Integration(_) => Integration::INPUTS,
        }
    }

    /// Outputs per time step: flip-flop 3, sine and integration 1.
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

/// Sign of channel `k` in flip-flop memory `corner` (bit `k` set: +1).
pub fn corner_sign(corner: usize, k: usize) -> f64 {
    if corner >> k & 1 == 1 {
        1.0
    } else {
        -1.0
    }
}

/// A flip-flop memory trial: from the zero state, a pulse with a corner's signs on every
/// channel at `t = 0`, then `hold_steps` steps without input (buffers reused across corners).
pub struct MemoryTrial {
    bits: usize,
    xs: Vec<f64>,
    s0: Vec<f64>,
    /// `(hold_steps + 1, S)` states of the last run.
    pub states: Vec<f64>,
    /// `(hold_steps + 1, bits)` outputs of the last run.
    pub outputs: Vec<f64>,
}

impl MemoryTrial {
    /// Buffers for trials of `hold_steps + 1` steps (the pulse, then `hold_steps` without
    /// input) of `model`, whose inputs and outputs are the `bits` channels (3 for the flip-flop).
    pub fn new(model: &dyn Model, bits: usize, hold_steps: usize) -> Self {
        let (s, t) = (model.state_dim(), hold_steps + 1);
        MemoryTrial {
            bits,
            xs: vec![0.0; t * bits],
            s0: vec![0.0; s],
            states: vec![0.0; t * s],
            outputs: vec![0.0; t * bits],
        }
    }

    /// Runs the trial of memory `corner` (`0..2^bits`).
    pub fn run(&mut self, model: &dyn Model, p: &[f64], corner: usize) -> Result<(), Error> {
        self.xs.fill(0.0);
        for k in 0..self.bits {
            self.xs[k] = corner_sign(corner, k);
        }
        model.run(p, &self.s0, &self.xs, &mut self.states, &mut self.outputs)
    }
}
