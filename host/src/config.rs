//! Experiment configuration: the raw TOML file (serde) and its validation into typed
//! settings. Every error names the file, the key and the bad value.

use crate::model::Arch;
use rnndyn_core::cell::GruConvention;
use rnndyn_core::Activation;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Why a configuration was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be opened or read (including text that is not UTF-8).
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The file, as given.
        file: String,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The text is not valid TOML or has an unknown key, the file is larger than
    /// `MAX_CONFIG_BYTES`, or `with_training_steps` cannot set the key.
    #[error("{file}: {message}")]
    Parse {
        /// The file, as named in messages.
        file: String,
        /// What is wrong, with the key or line where known.
        message: String,
    },
    /// A key has a value of the wrong type or outside its allowed range, or the settings
    /// together are unusable (empty or oversized sweep, too much memory per network).
    #[error("{file}: `{key}` = {value}: {reason}")]
    Invalid {
        /// The file, as named in messages.
        file: String,
        /// The dotted key (`training.steps`, `population.hidden_sizes[2]`), or the keys
        /// whose product is too large (`training.batch × task.trial_steps`).
        key: String,
        /// The offending value as written, or as shown by the check.
        value: String,
        /// Why the value is rejected (with the line number for type errors).
        reason: String,
    },
}

/// The experiment file as written by the user. Unknown keys are errors.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawExperiment {
    /// Free-form name of the experiment.
    #[serde(default = "default_name")]
    pub name: String,
    /// Master seed: every network's RNG stream derives from it and the network's spec.
    #[serde(default)]
    pub seed: u64,
    /// `[task]`: the task and its parameters.
    #[serde(default)]
    pub task: RawTask,
    /// `[population]`: the lists swept to make the population.
    #[serde(default)]
    pub population: RawPopulation,
    /// `[training]`: optimisation settings shared by every network.
    #[serde(default)]
    pub training: RawTraining,
    /// `[analysis]`: fixed-point, topology and similarity settings.
    #[serde(default)]
    pub analysis: RawAnalysis,
}

fn default_name() -> String {
    "default".into()
}

/// `[task]`: which task and its parameters.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawTask {
    /// `flipflop`, `sine` or `integration`.
    pub kind: String,
    /// Time steps per trial.
    pub trial_steps: usize,
    /// Success criterion: evaluation MSE below this (default depends on the task).
    pub max_eval_mse: Option<f64>,
    /// `[task.flipflop]`: flip-flop parameters.
    #[serde(default)]
    pub flipflop: RawFlipFlop,
    /// `[task.sine]`: sine-wave parameters.
    #[serde(default)]
    pub sine: RawSine,
    /// `[task.integration]`: context-dependent integration parameters.
    #[serde(default)]
    pub integration: RawIntegration,
}

impl Default for RawTask {
    fn default() -> Self {
        RawTask {
            kind: "flipflop".into(),
            trial_steps: 100,
            max_eval_mse: None,
            flipflop: RawFlipFlop::default(),
            sine: RawSine::default(),
            integration: RawIntegration::default(),
        }
    }
}

/// Largest `[task.flipflop] hold_steps` accepted (a memory check, not a workload).
pub const MAX_HOLD_STEPS: usize = 100_000;

/// `[task.flipflop]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawFlipFlop {
    /// Probability that a channel pulses at a step, in `(0, 1]` (default 0.05).
    pub pulse_probability: f64,
    /// Whether every channel gets a pulse at `t = 0`, so targets are ±1 from the start
    /// (default `true`); if `false`, a target is 0 until its channel's first pulse.
    pub pulse_at_t0: bool,
    /// Passing also needs every one of the 8 memories held this many input-free steps
    /// after a pulse (see `population::flipflop_retention`); 0 turns the check off.
    pub hold_steps: usize,
}

impl Default for RawFlipFlop {
    fn default() -> Self {
        RawFlipFlop {
            pulse_probability: 0.05,
            pulse_at_t0: true,
            hold_steps: 1000,
        }
    }
}

/// `[task.sine]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawSine {
    /// Number of frequencies `J`, at least 1 (default 51).
    pub frequencies: usize,
    /// Lowest angular frequency `ω_0`, in radians per step (default 0.1).
    pub min_omega: f64,
    /// Highest angular frequency `ω_{J-1}`, in radians per step (default 0.6); frequencies are
    /// spaced linearly and need `0 < min_omega <= max_omega < π`.
    pub max_omega: f64,
    /// Train on every `train_every`-th frequency (1 = all); the others are held out.
    pub train_every: usize,
}

impl Default for RawSine {
    fn default() -> Self {
        RawSine {
            frequencies: 51,
            min_omega: 0.1,
            max_omega: 0.6,
            train_every: 1,
        }
    }
}

/// `[task.integration]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawIntegration {
    /// Std of the per-step noise on each stream.
    pub noise_std: f64,
    /// Per-trial stream biases are drawn from ± these magnitudes (at most 8).
    pub bias_levels: Vec<f64>,
    /// Target = scale × running sum of the selected stream.
    pub scale: f64,
}

impl Default for RawIntegration {
    fn default() -> Self {
        let p = rnndyn_core::task::IntegrationParams::default();
        let levels = match p.bias {
            rnndyn_core::task::BiasSet::Levels { magnitudes, len } => magnitudes[..len].to_vec(),
            rnndyn_core::task::BiasSet::Uniform { max } => vec![max],
        };
        RawIntegration {
            noise_std: p.noise_std,
            bias_levels: levels,
            scale: p.scale,
        }
    }
}

/// `[population]`: the sweep. Every combination is one network.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawPopulation {
    /// Architectures: `vanilla`, `ugrnn`, `gru`, `lstm` (default all four).
    pub architectures: Vec<String>,
    /// Activations `φ`: `tanh`, `relu` (default both).
    pub activations: Vec<String>,
    /// Hidden sizes `N`, each one of `model::SUPPORTED_SIZES` (default `[16, 32]`).
    pub hidden_sizes: Vec<i64>,
    /// L2 penalty strengths `λ` (penalty `½ λ Σ w²` over weights, not biases; default `[0.0]`).
    pub l2: Vec<f64>,
    /// Base learning rates of Adam (default `[1e-2]`).
    pub learning_rates: Vec<f64>,
    /// Number of seeds (replicates) per combination: seeds 0..seeds.
    pub seeds: u64,
    /// `reset-before` (Cho 2014 / TF1, default) or `reset-after` (PyTorch / cuDNN).
    pub gru_convention: String,
}

impl Default for RawPopulation {
    fn default() -> Self {
        RawPopulation {
            architectures: vec![
                "vanilla".into(),
                "ugrnn".into(),
                "gru".into(),
                "lstm".into(),
            ],
            activations: vec!["tanh".into(), "relu".into()],
            hidden_sizes: vec![16, 32],
            l2: vec![0.0],
            learning_rates: vec![1e-2],
            seeds: 2,
            gru_convention: "reset-before".into(),
        }
    }
}

/// `[training]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawTraining {
    /// Adam updates per network (default 800).
    pub steps: u64,
    /// Trials per training batch (default 64).
    pub batch: usize,
    /// Gradient-norm clipping threshold (0 = off).
    pub clip_norm: f64,
    /// Learning-rate schedule: `constant`, or `exponential` (× `decay` every `decay_steps`).
    pub schedule: String,
    /// Learning-rate factor per `decay_steps` under `exponential`, in `(0, 1]` (default 0.5).
    pub decay: f64,
    /// Steps over which the rate falls by `decay` under `exponential` (default 1000).
    pub decay_steps: u64,
    /// Trials in the fixed evaluation set.
    pub eval_trials: usize,
    /// Gain of the recurrent weights (std gain/sqrt(N), or gain × orthogonal).
    pub recurrent_gain: f64,
    /// `normal` or `orthogonal` recurrent initialisation.
    pub recurrent_init: String,
    /// Offset of the "remember" gate biases (GRU/UGRNN update gate, LSTM forget gate).
    pub gate_bias: f64,
}

impl Default for RawTraining {
    fn default() -> Self {
        RawTraining {
            steps: 800,
            batch: 64,
            clip_norm: 10.0,
            schedule: "constant".into(),
            decay: 0.5,
            decay_steps: 1000,
            eval_trials: 256,
            recurrent_gain: 1.0,
            recurrent_init: "normal".into(),
            gate_bias: 1.0,
        }
    }
}

/// `[analysis]`: fixed points and geometry settings.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawAnalysis {
    /// Networks compared in `analysis/` (distance matrices, MDS, silhouettes, p-values):
    /// `passed` (met the task's success criterion; the paper compares solutions) or `all`
    /// (every network that did not diverge).
    pub networks: String,
    /// Start states for the fixed-point search per network.
    pub fixed_point_starts: usize,
    /// Std of the Gaussian noise added to start states.
    pub start_noise: f64,
    /// Residual ‖F(h) − h‖ below which a candidate is a fixed point.
    pub residual_tolerance: f64,
    /// Trials of probe input used for hidden-state collection.
    pub probe_trials: usize,
    /// SVCCA variance fraction.
    pub svcca_variance: f64,
    /// Adam iterations of the fixed-point search before Newton (0 = Newton only).
    pub adam_iterations: usize,
    /// The Adam phase hands over to Newton once q = ½‖F(h) − h‖² is below this.
    pub adam_q_tolerance: f64,
    /// A mode of a fixed point's Jacobian is slow when `||λ| − 1|` is below this.
    pub slow_tolerance: f64,
    /// A mode is unstable when `|λ| > 1 +` this (neutral modes are 1 only up to rounding).
    pub unstable_margin: f64,
    /// Topology: sizes of the perturbations along each unstable direction (each applied
    /// with both signs).
    pub topology_perturbations: Vec<f64>,
    /// Topology: readout components with `|y|` below this count as 0 in node labels.
    pub readout_deadzone: f64,
}

impl Default for RawAnalysis {
    fn default() -> Self {
        RawAnalysis {
            networks: NetworkSet::Passed.name().into(),
            fixed_point_starts: 128,
            start_noise: 0.05,
            residual_tolerance: 1e-10,
            probe_trials: 16,
            svcca_variance: 0.99,
            adam_iterations: 300,
            adam_q_tolerance: 1e-3,
            slow_tolerance: 0.02,
            unstable_margin: 1e-6,
            topology_perturbations: vec![1e-3, 1e-2],
            readout_deadzone: 0.5,
        }
    }
}

/// `[analysis] networks`: which networks the population comparisons are over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetworkSet {
    /// Networks that met the task's success criterion.
    Passed,
    /// Every network that did not diverge.
    All,
}

impl NetworkSet {
    /// The setting named by `[analysis] networks` (`passed` or `all`), or `None`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "passed" => Some(NetworkSet::Passed),
            "all" => Some(NetworkSet::All),
            _ => None,
        }
    }
    /// The `[analysis] networks` name of the setting.
    pub fn name(&self) -> &'static str {
        match self {
            NetworkSet::Passed => "passed",
            NetworkSet::All => "all",
        }
    }
}

/// Learning-rate schedule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Schedule {
    /// The base learning rate at every step.
    Constant,
    /// `lr · decay^(step / decay_steps)`.
    Exponential {
        /// Factor applied per `decay_steps` steps, in `(0, 1]`.
        decay: f64,
        /// Steps over which the rate is multiplied by `decay` (applied continuously, not in jumps).
        decay_steps: u64,
    },
}

impl Schedule {
    /// Learning rate at training step `step` (from 0) for base rate `base`.
    pub fn learning_rate(&self, base: f64, step: u64) -> f64 {
        match *self {
            Schedule::Constant => base,
            Schedule::Exponential { decay, decay_steps } => {
                base * decay.powf(step as f64 / decay_steps as f64)
            }
        }
    }
}

/// Which task, with validated parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum TaskKind {
    /// The 3-bit flip-flop.
    FlipFlop(RawFlipFlop),
    /// Sine-wave generation.
    Sine(RawSine),
    /// Context-dependent integration.
    Integration(RawIntegration),
}

impl TaskKind {
    /// The `[task] kind` name: `flipflop`, `sine` or `integration`.
    pub fn name(&self) -> &'static str {
        match self {
            TaskKind::FlipFlop(_) => "flipflop",
            TaskKind::Sine(_) => "sine",
            TaskKind::Integration(_) => "integration",
        }
    }
    /// Inputs per time step: flip-flop 3, sine 1, integration 4.
    pub fn inputs(&self) -> usize {
        match self {
            TaskKind::FlipFlop(_) => 3,
            TaskKind::Sine(_) => 1,
            TaskKind::Integration(_) => 4,
        }
    }
    /// Outputs per time step: flip-flop 3, sine and integration 1.
    pub fn outputs(&self) -> usize {
        match self {
            TaskKind::FlipFlop(_) => 3,
            TaskKind::Sine(_) | TaskKind::Integration(_) => 1,
        }
    }
    /// Default success threshold on the evaluation MSE, for trials of `steps` steps.
    /// Flip-flop: 0.01, a hundredth of a zero output's MSE (1), the criterion the project's
    /// learning test and the JAX peer use. Sine and integration: a tenth of a zero output's
    /// MSE (sine 0.5 → 0.05; integration: see [`integration_zero_output_mse`], 0.0325 at the
    /// defaults with `T = 100` → 0.00325).
    pub fn default_max_eval_mse(&self, steps: usize) -> f64 {
        match self {
            TaskKind::FlipFlop(_) => 0.01,
            TaskKind::Sine(_) => 0.05,
            TaskKind::Integration(p) => 0.1 * integration_zero_output_mse(p, steps),
        }
    }
}

/// Expected MSE of an output held at zero on the integration task: the target at step
/// `t = 1..=T` is `scale · (b t + noise)` with `E[noise²] = σ² t`, so the mean over steps is
/// `scale² (E[b²] mean(t²) + σ² mean(t))`. A fixed absolute threshold would be meaningless
/// here: at the defaults a network that outputs nothing already scores 0.0325.
pub fn integration_zero_output_mse(p: &RawIntegration, steps: usize) -> f64 {
    let t = steps.max(1) as f64;
    let mean_t = (t + 1.0) / 2.0;
    let mean_t2 = (t + 1.0) * (2.0 * t + 1.0) / 6.0;
    let levels = &p.bias_levels;
    let bias2 = if levels.is_empty() {
        0.0
    } else {
        levels.iter().map(|b| b * b).sum::<f64>() / levels.len() as f64
    };
    p.scale * p.scale * (bias2 * mean_t2 + p.noise_std * p.noise_std * mean_t)
}

/// Validated task settings.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskSettings {
    /// The task and its parameters.
    pub kind: TaskKind,
    /// Time steps per trial (`[task] trial_steps`, at least 1).
    pub trial_steps: usize,
    /// Success threshold on the evaluation MSE: `[task] max_eval_mse`, or if unset
    /// `TaskKind::default_max_eval_mse` for these trial steps.
    pub max_eval_mse: f64,
}

/// One network of the sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkSpec {
    /// Recurrent architecture.
    pub arch: Arch,
    /// Activation `φ` of the cell.
    pub activation: Activation,
    /// GRU candidate convention (`[population] gru_convention`, the same for the whole sweep);
    /// used only by GRU networks and not part of `id`.
    pub gru_convention: GruConvention,
    /// Hidden size `N`.
    pub hidden: usize,
    /// L2 penalty strength `λ` (penalty `½ λ Σ w²` over weights, not biases).
    pub l2: f64,
    /// Base learning rate of Adam.
    pub learning_rate: f64,
    /// Replicate index, from 0 to `[population] seeds` − 1; the network's RNG streams derive
    /// from the master seed and `stream_key`, which includes it.
    pub seed: u64,
}

impl NetworkSpec {
    /// A unique, filesystem-safe identifier, stable across versions of the sweep
    /// (adding sizes or seeds does not rename existing networks).
    pub fn id(&self) -> String {
        format!(
            "{}-{}-n{}-l2_{}-lr_{}-s{}",
            self.arch.name(),
            self.activation.name(),
            self.hidden,
            short_float(self.l2),
            short_float(self.learning_rate),
            self.seed
        )
    }

    /// A 64-bit key for the network's RNG streams, derived from its id (FNV-1a), so a
    /// network's numbers do not depend on its position in the sweep or on thread count.
    pub fn stream_key(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.id().bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h
    }
}

fn short_float(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else {
        format!("{x:e}")
    }
}

/// Validated training settings.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingSettings {
    /// Adam updates per network (`[training] steps`).
    pub steps: u64,
    /// Trials per training batch (`[training] batch`).
    pub batch: usize,
    /// Gradient-norm clipping threshold; `None` when `[training] clip_norm` is 0.
    pub clip_norm: Option<f64>,
    /// Learning-rate schedule.
    pub schedule: Schedule,
    /// Trials in the fixed evaluation set (`[training] eval_trials`).
    pub eval_trials: usize,
    /// Weight initialisation: recurrent init and gain and the gate-bias offset from
    /// `[training]`; input and readout scales at the core defaults (1).
    pub init: rnndyn_core::cell::InitParams,
}

/// A validated experiment.
#[derive(Clone, Debug, PartialEq)]
pub struct Experiment {
    /// The experiment's `name` (default `default`).
    pub name: String,
    /// Master seed (`seed`, default 0, at most `i64::MAX`).
    pub seed: u64,
    /// Validated `[task]` settings.
    pub task: TaskSettings,
    /// Validated `[training]` settings.
    pub training: TrainingSettings,
    /// The `[analysis]` settings as written (their values are checked).
    pub analysis: RawAnalysis,
    /// `[analysis] networks`, parsed.
    pub network_set: NetworkSet,
    /// Every network of the sweep, in sweep order: architecture, activation, hidden size,
    /// L2, learning rate, seed (the last varies fastest).
    pub networks: Vec<NetworkSpec>,
    /// The file as parsed (saved into the store so a run can be reproduced).
    pub raw: RawExperiment,
}

/// The built-in default experiment (the 3-bit flip-flop across the four architectures).
pub fn default_raw() -> RawExperiment {
    RawExperiment {
        name: default_name(),
        seed: 0,
        task: RawTask::default(),
        population: RawPopulation::default(),
        training: RawTraining::default(),
        analysis: RawAnalysis::default(),
    }
}

/// The default experiment as TOML text (what `--print-default-config` prints), with
/// `[task] max_eval_mse` as a comment: its default depends on the task, so a fixed value
/// would go stale when the user changes `kind`.
pub fn default_toml() -> String {
    let text = toml::to_string_pretty(&default_raw()).unwrap_or_default();
    let note =
        "# max_eval_mse: a network passes if its evaluation MSE is below this. Unset, it is\n\
                # flipflop 0.01 (a zero output scores 1); sine 0.05 and integration a tenth of\n\
                # a zero output's MSE (integration: computed from [task.integration] and\n\
                # trial_steps, 0.00325 at the defaults).\n\
                # max_eval_mse = 0.01\n";
    // The comment goes at the end of the `[task]` keys, before its sub-tables.
    match text
        .find("[task]\n")
        .and_then(|t| text[t..].find("\n\n").map(|e| t + e + 1))
    {
        Some(at) => format!("{}{note}{}", &text[..at], &text[at..]),
        None => text,
    }
}

/// The first setting in which two experiments differ, as (key, value in `a`, value in
/// `b`); an unset key reads `(not set)`. `None` if they are equal.
pub fn first_difference(a: &RawExperiment, b: &RawExperiment) -> Option<(String, String, String)> {
    let (Ok(va), Ok(vb)) = (toml::Value::try_from(a), toml::Value::try_from(b)) else {
        // Not reached for these plain types; still report that they differ.
        return (a != b).then(|| ("experiment".into(), "?".into(), "?".into()));
    };
    fn walk(
        key: &str,
        a: Option<&toml::Value>,
        b: Option<&toml::Value>,
    ) -> Option<(String, String, String)> {
        if let (Some(toml::Value::Table(ta)), Some(toml::Value::Table(tb))) = (a, b) {
            // Sorted keys: the report does not depend on field order.
            let keys: std::collections::BTreeSet<&String> = ta.keys().chain(tb.keys()).collect();
            return keys.into_iter().find_map(|k| {
                let sub = if key.is_empty() {
                    k.clone()
                } else {
                    format!("{key}.{k}")
                };
                walk(&sub, ta.get(k), tb.get(k))
            });
        }
        let show = |v: Option<&toml::Value>| v.map_or("(not set)".to_string(), |v| v.to_string());
        (a != b).then(|| (key.to_string(), show(a), show(b)))
    }
    walk("", Some(&va), Some(&vb))
}

/// Reads and validates an experiment file.
pub fn load(path: &Path) -> Result<Experiment, ConfigError> {
    use std::io::Read;
    let file = path.display().to_string();
    let read_err = |source| ConfigError::Read {
        file: file.clone(),
        source,
    };
    // Bounded: `--config /dev/zero` (or a data file passed by mistake) is refused, not read
    // until memory runs out.
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(read_err)?
        .take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(read_err)?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(ConfigError::Parse {
            file,
            message: format!(
                "larger than {} KiB; an experiment file is a few hundred lines",
                MAX_CONFIG_BYTES / 1024
            ),
        });
    }
    parse(&text, &file)
}

/// Largest experiment file read.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Parses and validates experiment text; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Experiment, ConfigError> {
    let syntax = |e: toml::de::Error| ConfigError::Parse {
        file: file.into(),
        message: e.to_string().trim_end().to_string(),
    };
    let de = toml::Deserializer::parse(text).map_err(syntax)?;
    // The path to the value that did not fit its type (`training.steps`), so that type
    // errors read like the range checks of `validate`.
    let raw: RawExperiment = serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        match inner.span().filter(|_| key != "." && !key.is_empty()) {
            Some(span) => {
                let line = text
                    .get(..span.start)
                    .map_or(0, |t| t.matches('\n').count())
                    + 1;
                let message = inner.message();
                if message.starts_with("unknown field") {
                    ConfigError::Parse {
                        file: file.into(),
                        message: format!("`{key}`: {message} (line {line})"),
                    }
                } else {
                    ConfigError::Invalid {
                        file: file.into(),
                        key,
                        value: text.get(span).unwrap_or("?").trim().to_string(),
                        reason: format!("{message} (line {line})"),
                    }
                }
            }
            None => syntax(inner),
        }
    })?;
    validate(raw, file)
}

/// The experiment text with `[training] steps` set to `steps` (re-serialised: the file's
/// comments and layout are not kept).
pub fn with_training_steps(text: &str, file: &str, steps: u64) -> Result<String, ConfigError> {
    let parse_err = |message: String| ConfigError::Parse {
        file: file.into(),
        message,
    };
    let mut table: toml::Table =
        toml::from_str(text).map_err(|e| parse_err(e.to_string().trim_end().to_string()))?;
    let training = table
        .entry("training")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let toml::Value::Table(training) = training else {
        return Err(parse_err("`training` must be a table".into()));
    };
    let steps = i64::try_from(steps)
        .map_err(|_| parse_err(format!("--steps {steps}: larger than TOML integers allow")))?;
    training.insert("steps".into(), toml::Value::Integer(steps));
    toml::to_string(&table).map_err(|e| parse_err(e.to_string()))
}

/// Turns a raw experiment into typed settings.
pub fn validate(raw: RawExperiment, file: &str) -> Result<Experiment, ConfigError> {
    let bad = |key: &str, value: String, reason: &str| ConfigError::Invalid {
        file: file.into(),
        key: key.into(),
        value,
        reason: reason.into(),
    };
    // A store saves its experiment as TOML, whose integers are signed 64-bit.
    if raw.seed > i64::MAX as u64 {
        return Err(bad(
            "seed",
            raw.seed.to_string(),
            &format!(
                "must be at most {} (TOML integers are signed 64-bit)",
                i64::MAX
            ),
        ));
    }
    // Every task section is checked, not only the one `kind` selects: a bad value in a
    // section the user edited should not pass unnoticed until they switch tasks.
    let f = &raw.task.flipflop;
    if !(f.pulse_probability > 0.0 && f.pulse_probability <= 1.0) {
        return Err(bad(
            "task.flipflop.pulse_probability",
            f.pulse_probability.to_string(),
            "must be in (0, 1]",
        ));
    }
    if f.hold_steps > MAX_HOLD_STEPS {
        return Err(bad(
            "task.flipflop.hold_steps",
            f.hold_steps.to_string(),
            &format!("must be at most {MAX_HOLD_STEPS} (0 turns the check off)"),
        ));
    }
    let s = &raw.task.sine;
    if s.frequencies < 1 {
        return Err(bad(
            "task.sine.frequencies",
            s.frequencies.to_string(),
            "must be at least 1",
        ));
    }
    if !(s.min_omega > 0.0 && s.min_omega < std::f64::consts::PI) {
        return Err(bad(
            "task.sine.min_omega",
            s.min_omega.to_string(),
            "need 0 < min_omega <= max_omega < pi",
        ));
    }
    if !(s.max_omega >= s.min_omega && s.max_omega < std::f64::consts::PI) {
        return Err(bad(
            "task.sine.max_omega",
            format!("{} (min_omega {})", s.max_omega, s.min_omega),
            "need 0 < min_omega <= max_omega < pi",
        ));
    }
    if s.train_every < 1 {
        return Err(bad(
            "task.sine.train_every",
            s.train_every.to_string(),
            "must be at least 1",
        ));
    }
    let g = &raw.task.integration;
    if !(g.noise_std.is_finite() && g.noise_std >= 0.0) {
        return Err(bad(
            "task.integration.noise_std",
            g.noise_std.to_string(),
            "must be a finite number >= 0",
        ));
    }
    if !(g.scale.is_finite() && g.scale > 0.0) {
        return Err(bad(
            "task.integration.scale",
            g.scale.to_string(),
            "must be a positive number",
        ));
    }
    if g.bias_levels.is_empty() || g.bias_levels.len() > rnndyn_core::task::MAX_BIAS_LEVELS {
        return Err(bad(
            "task.integration.bias_levels",
            format!("{:?}", g.bias_levels),
            &format!(
                "need 1 to {} magnitudes",
                rnndyn_core::task::MAX_BIAS_LEVELS
            ),
        ));
    }
    for (i, &b) in g.bias_levels.iter().enumerate() {
        if !(b.is_finite() && b >= 0.0) {
            return Err(bad(
                &format!("task.integration.bias_levels[{i}]"),
                b.to_string(),
                "must be a finite number >= 0",
            ));
        }
    }
    let kind = match raw.task.kind.as_str() {
        "flipflop" => TaskKind::FlipFlop(f.clone()),
        "sine" => TaskKind::Sine(s.clone()),
        "integration" => TaskKind::Integration(g.clone()),
        other => {
            return Err(bad(
                "task.kind",
                format!("{other:?}"),
                "unknown task (expected flipflop, sine or integration)",
            ));
        }
    };
    if raw.task.trial_steps < 1 {
        return Err(bad(
            "task.trial_steps",
            raw.task.trial_steps.to_string(),
            "must be at least 1",
        ));
    }
    let max_eval_mse = raw
        .task
        .max_eval_mse
        .unwrap_or_else(|| kind.default_max_eval_mse(raw.task.trial_steps));
    if !(max_eval_mse.is_finite() && max_eval_mse > 0.0) {
        return Err(bad(
            "task.max_eval_mse",
            max_eval_mse.to_string(),
            "must be a positive number",
        ));
    }
    let task = TaskSettings {
        kind,
        trial_steps: raw.task.trial_steps,
        max_eval_mse,
    };

    let p = &raw.population;
    let mut archs = Vec::new();
    for (i, a) in p.architectures.iter().enumerate() {
        let arch = Arch::parse(a).ok_or_else(|| {
            bad(
                &format!("population.architectures[{i}]"),
                format!("{a:?}"),
                "unknown architecture (expected vanilla, ugrnn, gru or lstm)",
            )
        })?;
        archs.push(arch);
    }
    let mut acts = Vec::new();
    for (i, a) in p.activations.iter().enumerate() {
        let act = match a.as_str() {
            "tanh" => Activation::Tanh,
            "relu" => Activation::Relu,
            _ => {
                return Err(bad(
                    &format!("population.activations[{i}]"),
                    format!("{a:?}"),
                    "unknown activation (expected tanh or relu)",
                ))
            }
        };
        acts.push(act);
    }
    let mut sizes = Vec::new();
    for (i, &n) in p.hidden_sizes.iter().enumerate() {
        if n <= 0 {
            return Err(bad(
                &format!("population.hidden_sizes[{i}]"),
                n.to_string(),
                "hidden size must be positive",
            ));
        }
        let n = n as usize;
        if !crate::model::SUPPORTED_SIZES.contains(&n) {
            return Err(bad(
                &format!("population.hidden_sizes[{i}]"),
                n.to_string(),
                &format!(
                    "unsupported hidden size (supported: {:?})",
                    crate::model::SUPPORTED_SIZES
                ),
            ));
        }
        sizes.push(n);
    }
    for (i, &l2) in p.l2.iter().enumerate() {
        if !(l2.is_finite() && l2 >= 0.0) {
            return Err(bad(
                &format!("population.l2[{i}]"),
                l2.to_string(),
                "must be a finite number >= 0",
            ));
        }
    }
    for (i, &lr) in p.learning_rates.iter().enumerate() {
        if !(lr.is_finite() && lr > 0.0) {
            return Err(bad(
                &format!("population.learning_rates[{i}]"),
                lr.to_string(),
                "must be a positive number",
            ));
        }
    }
    let gru_convention = match p.gru_convention.as_str() {
        "reset-before" => GruConvention::ResetBeforeProduct,
        "reset-after" => GruConvention::ResetAfterProduct,
        other => {
            return Err(bad(
                "population.gru_convention",
                format!("{other:?}"),
                "expected reset-before or reset-after",
            ));
        }
    };
    let lists: [(&str, usize); 6] = [
        ("population.architectures", archs.len()),
        ("population.activations", acts.len()),
        ("population.hidden_sizes", sizes.len()),
        ("population.l2", p.l2.len()),
        ("population.learning_rates", p.learning_rates.len()),
        ("population.seeds", p.seeds as usize),
    ];
    for (key, len) in lists {
        if len == 0 {
            return Err(bad(
                key,
                if key == "population.seeds" {
                    "0".into()
                } else {
                    "[]".into()
                },
                "the sweep is empty",
            ));
        }
    }
    let count = lists
        .iter()
        .fold(1usize, |n, &(_, len)| n.saturating_mul(len));
    if count > MAX_NETWORKS {
        let keys: Vec<&str> = lists
            .iter()
            .map(|(k, _)| k.trim_start_matches("population."))
            .collect();
        let lens: Vec<String> = lists.iter().map(|(_, n)| n.to_string()).collect();
        return Err(bad(
            &format!("population.{}", keys.join(" × ")),
            format!("{} = {count} networks", lens.join(" × ")),
            &format!("the sweep may list at most {MAX_NETWORKS} networks"),
        ));
    }
    let mut networks = Vec::new();
    for &arch in &archs {
        for &activation in &acts {
            for &hidden in &sizes {
                for &l2 in &p.l2 {
                    for &learning_rate in &p.learning_rates {
                        for seed in 0..p.seeds {
                            networks.push(NetworkSpec {
                                arch,
                                activation,
                                gru_convention,
                                hidden,
                                l2,
                                learning_rate,
                                seed,
                            });
                        }
                    }
                }
            }
        }
    }
    let mut ids: Vec<String> = networks.iter().map(|n| n.id()).collect();
    ids.sort();
    if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
        return Err(bad(
            "population",
            w[0].clone(),
            "the sweep lists the same network twice",
        ));
    }

    let t = &raw.training;
    if t.steps == 0 {
        return Err(bad("training.steps", "0".into(), "must be at least 1"));
    }
    if t.batch == 0 {
        return Err(bad("training.batch", "0".into(), "must be at least 1"));
    }
    if t.eval_trials == 0 {
        return Err(bad(
            "training.eval_trials",
            "0".into(),
            "must be at least 1",
        ));
    }
    if !(t.clip_norm.is_finite() && t.clip_norm >= 0.0) {
        return Err(bad(
            "training.clip_norm",
            t.clip_norm.to_string(),
            "must be >= 0 (0 disables clipping)",
        ));
    }
    // Checked under `constant` too, for the same reason as the task sections.
    if !(t.decay > 0.0 && t.decay <= 1.0) {
        return Err(bad(
            "training.decay",
            t.decay.to_string(),
            "must be in (0, 1]",
        ));
    }
    if t.decay_steps == 0 {
        return Err(bad(
            "training.decay_steps",
            "0".into(),
            "must be at least 1",
        ));
    }
    let schedule = match t.schedule.as_str() {
        "constant" => Schedule::Constant,
        "exponential" => Schedule::Exponential {
            decay: t.decay,
            decay_steps: t.decay_steps,
        },
        other => {
            return Err(bad(
                "training.schedule",
                format!("{other:?}"),
                "expected constant or exponential",
            ))
        }
    };
    if !(t.recurrent_gain.is_finite() && t.recurrent_gain > 0.0) {
        return Err(bad(
            "training.recurrent_gain",
            t.recurrent_gain.to_string(),
            "must be positive",
        ));
    }
    let recurrent = match t.recurrent_init.as_str() {
        "normal" => rnndyn_core::cell::RecurrentInit::Normal {
            gain: t.recurrent_gain,
        },
        "orthogonal" => rnndyn_core::cell::RecurrentInit::Orthogonal {
            gain: t.recurrent_gain,
        },
        other => {
            return Err(bad(
                "training.recurrent_init",
                format!("{other:?}"),
                "expected normal or orthogonal",
            ))
        }
    };
    if !t.gate_bias.is_finite() {
        return Err(bad(
            "training.gate_bias",
            t.gate_bias.to_string(),
            "must be finite",
        ));
    }
    let init = rnndyn_core::cell::InitParams {
        recurrent,
        gate_bias: t.gate_bias,
        ..Default::default()
    };
    let training = TrainingSettings {
        steps: t.steps,
        batch: t.batch,
        clip_norm: if t.clip_norm > 0.0 {
            Some(t.clip_norm)
        } else {
            None
        },
        schedule,
        eval_trials: t.eval_trials,
        init,
    };

    let largest = sizes.iter().copied().max().unwrap_or(0);
    check_memory(&raw, largest).map_err(|(key, value, reason)| bad(key, value, &reason))?;

    let a = &raw.analysis;
    let network_set = NetworkSet::parse(&a.networks).ok_or_else(|| {
        bad(
            "analysis.networks",
            format!("{:?}", a.networks),
            "expected passed or all",
        )
    })?;
    if a.fixed_point_starts == 0 {
        return Err(bad(
            "analysis.fixed_point_starts",
            "0".into(),
            "must be at least 1",
        ));
    }
    if !(a.start_noise.is_finite() && a.start_noise >= 0.0) {
        return Err(bad(
            "analysis.start_noise",
            a.start_noise.to_string(),
            "must be >= 0",
        ));
    }
    if !(a.residual_tolerance.is_finite() && a.residual_tolerance > 0.0) {
        return Err(bad(
            "analysis.residual_tolerance",
            a.residual_tolerance.to_string(),
            "must be positive",
        ));
    }
    if !(a.adam_q_tolerance.is_finite() && a.adam_q_tolerance > 0.0) {
        return Err(bad(
            "analysis.adam_q_tolerance",
            a.adam_q_tolerance.to_string(),
            "must be positive",
        ));
    }
    if !(a.slow_tolerance.is_finite() && a.slow_tolerance >= 0.0) {
        return Err(bad(
            "analysis.slow_tolerance",
            a.slow_tolerance.to_string(),
            "must be >= 0",
        ));
    }
    if !(a.unstable_margin.is_finite() && a.unstable_margin >= 0.0) {
        return Err(bad(
            "analysis.unstable_margin",
            a.unstable_margin.to_string(),
            "must be >= 0",
        ));
    }
    if a.topology_perturbations.is_empty() {
        return Err(bad(
            "analysis.topology_perturbations",
            "[]".into(),
            "must list at least one size",
        ));
    }
    if let Some(v) = a
        .topology_perturbations
        .iter()
        .find(|v| !(v.is_finite() && **v > 0.0))
    {
        return Err(bad(
            "analysis.topology_perturbations",
            v.to_string(),
            "every size must be positive",
        ));
    }
    if !(a.readout_deadzone.is_finite() && a.readout_deadzone >= 0.0) {
        return Err(bad(
            "analysis.readout_deadzone",
            a.readout_deadzone.to_string(),
            "must be >= 0",
        ));
    }
    if a.probe_trials == 0 {
        return Err(bad(
            "analysis.probe_trials",
            "0".into(),
            "must be at least 1",
        ));
    }
    if !(a.svcca_variance > 0.0 && a.svcca_variance <= 1.0) {
        return Err(bad(
            "analysis.svcca_variance",
            a.svcca_variance.to_string(),
            "must be in (0, 1]",
        ));
    }

    Ok(Experiment {
        name: raw.name.clone(),
        seed: raw.seed,
        task,
        training,
        analysis: raw.analysis.clone(),
        network_set,
        networks,
        raw,
    })
}

/// Most networks one sweep may list.
pub const MAX_NETWORKS: usize = 1_000_000;

/// Most memory one network's training, evaluation or analysis may need, by the estimate of
/// `check_memory`: a guard against a mistyped size (which would otherwise end in an
/// allocation failure), far above any study here (the 480-network population peaks at 97 MB).
pub const MAX_NETWORK_BYTES: u64 = 16 << 30;

/// Most sine frequencies: the analysis sweeps every one of them.
pub const MAX_FREQUENCIES: usize = 100_000;

/// Checks that no single network needs more than [`MAX_NETWORK_BYTES`] for the buffers that
/// grow with the settings, at hidden size `hidden`: the BPTT work of a batch (states, gate
/// caches and their gradients, bounded by 16·N values per trial step), the loss curve, the
/// f64 evaluation and probe sets, the probe activity and the fixed-point starts. On failure:
/// the key, its value and why.
fn check_memory(raw: &RawExperiment, hidden: usize) -> Result<(), (&'static str, String, String)> {
    let (t, tr, a) = (raw.task.trial_steps as u64, &raw.training, &raw.analysis);
    let h = hidden as u64;
    if raw.task.sine.frequencies > MAX_FREQUENCIES {
        return Err((
            "task.sine.frequencies",
            raw.task.sine.frequencies.to_string(),
            format!("must be at most {MAX_FREQUENCIES}"),
        ));
    }
    // Values per trial step: at most 4 inputs + 3 outputs for every task.
    let io = 8u64;
    let needs: [(&'static str, String, u64); 5] = [
        (
            "training.batch × task.trial_steps",
            format!("{} × {}", tr.batch, t),
            mul(&[tr.batch as u64, t + 1, 16 * h + 2 * io, 4]),
        ),
        ("training.steps", tr.steps.to_string(), mul(&[tr.steps, 4])),
        (
            "training.eval_trials × task.trial_steps",
            format!("{} × {}", tr.eval_trials, t),
            mul(&[tr.eval_trials as u64, t, io, 8]),
        ),
        (
            "analysis.probe_trials × task.trial_steps",
            format!("{} × {}", a.probe_trials, t),
            mul(&[a.probe_trials as u64, t, h + io, 8]),
        ),
        (
            "analysis.fixed_point_starts",
            a.fixed_point_starts.to_string(),
            mul(&[a.fixed_point_starts as u64, 16 * h + io, 8]),
        ),
    ];
    for (key, value, bytes) in needs {
        if bytes > MAX_NETWORK_BYTES {
            return Err((
                key,
                value,
                format!(
                    "one network would need about {} of memory at hidden size {hidden} \
                     (limit {})",
                    human_bytes(bytes),
                    human_bytes(MAX_NETWORK_BYTES)
                ),
            ));
        }
    }
    Ok(())
}

/// Saturating product.
fn mul(factors: &[u64]) -> u64 {
    factors.iter().fold(1u64, |p, &f| p.saturating_mul(f))
}

/// `1.2 TiB`-style size for messages.
fn human_bytes(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", units[u])
}

/// Where a configuration came from (for messages).
pub fn describe_source(path: Option<&PathBuf>) -> String {
    path.map(|p| p.display().to_string())
        .unwrap_or_else(|| "<built-in default>".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_default_documents_max_eval_mse_and_stays_valid() {
        let text = default_toml();
        assert_eq!(parse(&text, "printed").unwrap().raw, default_raw());
        // Uncommenting the suggested line gives the default's own threshold.
        let set = text.replace("# max_eval_mse = 0.01", "max_eval_mse = 0.01");
        assert_ne!(
            set, text,
            "the printed default lacks `# max_eval_mse = 0.01`"
        );
        let exp = parse(&set, "uncommented").unwrap();
        assert_eq!(exp.raw.task.max_eval_mse, Some(0.01));
        assert_eq!(
            exp.task.max_eval_mse,
            parse(&text, "printed").unwrap().task.max_eval_mse
        );
    }

    #[test]
    fn first_difference_names_key_and_both_values() {
        let a = default_raw();
        assert_eq!(first_difference(&a, &a.clone()), None);
        let mut b = a.clone();
        b.training.steps = 7;
        b.population.seeds = 5;
        // Keys are visited in sorted order: `population` before `training`.
        assert_eq!(
            first_difference(&a, &b),
            Some(("population.seeds".into(), "2".into(), "5".into()))
        );
        let mut c = a.clone();
        c.task.max_eval_mse = Some(0.02);
        assert_eq!(
            first_difference(&a, &c),
            Some((
                "task.max_eval_mse".into(),
                "(not set)".into(),
                "0.02".into()
            ))
        );
    }
}
