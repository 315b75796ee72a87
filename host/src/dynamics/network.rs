//! Dynamics analysis of one network under its task: fixed points at the probe input,
//! topology graph, and input-dependent fixed points for tasks with a static input.

use super::fixed_points::{
    add_points, find_fixed_points, sample_starts, trajectory_states, FixedPoint,
    FixedPointAnalysis, FixedPointSettings,
};
use super::topology::{build_topology, unit_pulses, Topology, TopologySettings};
use crate::config::{Experiment, TaskKind};
use crate::model::Model;
use crate::npy::{NpyError, NpzWriter};
use crate::store::nan_as_null;
use crate::task::{MemoryTrial, TaskGen};
use rnndyn_core::task::{Context, Task};
use rnndyn_core::Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// RNG stream of the analysis trials (shared by every network of an experiment).
pub const PROBE_STREAM: u64 = 0xA11A_1515;

/// Settings of a network's dynamics analysis.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DynamicsSettings {
    /// Fixed-point search: starts, tolerances, the core search's parameters.
    pub fixed_points: FixedPointSettings,
    /// Topology: input perturbations and the readout dead zone for node labels.
    pub topology: TopologySettings,
    /// Trials of task input whose states seed the search (default from the experiment).
    pub probe_trials: usize,
}

impl DynamicsSettings {
    /// The settings of the experiment's `[analysis]` table; what it does not set keeps
    /// the defaults of [`FixedPointSettings`] and [`TopologySettings`].
    pub fn from_experiment(exp: &Experiment) -> Self {
        let a = &exp.analysis;
        DynamicsSettings {
            fixed_points: FixedPointSettings {
                starts: a.fixed_point_starts,
                start_noise: a.start_noise,
                residual_tolerance: a.residual_tolerance,
                search: rnndyn_core::fixed_point::FixedPointParams {
                    adam: rnndyn_core::fixed_point::AdamPhase {
                        max_iterations: a.adam_iterations,
                        q_tolerance: a.adam_q_tolerance,
                        ..Default::default()
                    },
                    newton: Default::default(),
                },
                linearize: rnndyn_core::fixed_point::LinearizeParams {
                    slow_tolerance: a.slow_tolerance,
                    unstable_margin: a.unstable_margin,
                },
                ..Default::default()
            },
            topology: TopologySettings {
                perturbations: a.topology_perturbations.clone(),
                readout_deadzone: a.readout_deadzone,
                ..Default::default()
            },
            probe_trials: a.probe_trials,
        }
    }
}

/// Summary of one input value of an input sweep.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SweepPoint {
    /// The constant input x.
    pub input: Vec<f64>,
    /// The task's parameter at this input (sine: ω in rad/step; integration: context index).
    #[serde(with = "nan_as_null")]
    pub parameter: f64,
    /// Unique fixed points found at this input.
    pub fixed_points: usize,
    /// Of those, the stable ones (stability index 0).
    pub stable: usize,
    /// Sine: arg λ of the leading oscillatory mode of the fixed point with an unstable
    /// complex pair (NaN if none).
    #[serde(with = "nan_as_null")]
    pub leading_angle: f64,
    /// Sine: |λ| of that mode (NaN if none).
    #[serde(with = "nan_as_null")]
    pub leading_modulus: f64,
    /// Integration: the eigenvalue modulus closest to 1 over the fixed points, and the
    /// largest modulus of the remaining eigenvalues of that fixed point.
    #[serde(with = "nan_as_null")]
    pub slow_modulus: f64,
    /// Integration: the largest modulus of that fixed point's other eigenvalues.
    #[serde(with = "nan_as_null")]
    pub second_modulus: f64,
    /// Integration: slow modes (||λ| − 1| below the slow tolerance) of that fixed point.
    pub slow_modes: usize,
    /// Integration: the eigenvalue modulus closest to 1 over the slow points (NaN if none;
    /// also NaN in summaries written before rnndyn recorded it). A line attractor without
    /// an exact fixed point shows up here.
    #[serde(default = "not_recorded", with = "nan_as_null")]
    pub slow_point_modulus: f64,
}

fn not_recorded() -> f64 {
    f64::NAN
}

/// Fixed and slow points found at one input of a sweep (states, residuals, q and
/// eigenvalues; the Jacobians and eigenvectors are dropped to keep 51 sine values small).
#[derive(Clone, Debug, Default)]
pub struct SweepPoints {
    /// Unique fixed points at this input.
    pub fixed_points: Vec<FixedPoint>,
    /// Slow points at this input.
    pub slow_points: Vec<FixedPoint>,
}

/// The result for one network.
#[derive(Clone, Debug)]
pub struct NetworkDynamics {
    /// Fixed and slow points at the probe input.
    pub fixed_points: FixedPointAnalysis,
    /// The fixed-point graph: stability, autonomous and input-driven transitions.
    pub topology: Topology,
    /// One row per value of the task's static input (sine: each frequency; integration:
    /// each context); empty for the flip-flop.
    pub sweep: Vec<SweepPoint>,
    /// The points behind each row of `sweep`.
    pub sweep_points: Vec<SweepPoints>,
    /// Wall time of each part: (start states, fixed points, topology, input sweep), seconds.
    pub seconds: [f64; 4],
}

/// What `dynamics.json` holds (also read into the catalog).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DynamicsSummary {
    /// Wall seconds: start states, fixed-point search, topology, input sweep.
    pub seconds: [f64; 4],
    /// Unique fixed points at the probe input.
    pub fixed_points: usize,
    /// Entry k: fixed points with k unstable eigenvalues (|λ| > 1).
    pub count_by_stability_index: Vec<usize>,
    /// Slow points (`None` in summaries written before rnndyn looked for them).
    #[serde(default)]
    pub slow_points: Option<usize>,
    /// Searches run (one per start state).
    pub candidates: usize,
    /// Largest `‖F(h) − h‖` over the fixed points (0 if there are none).
    #[serde(with = "nan_as_null")]
    pub max_residual: f64,
    /// Topology node labels, in fixed-point order.
    pub node_labels: Vec<String>,
    /// The input sweep (see [`NetworkDynamics::sweep`]).
    pub sweep: Vec<SweepPoint>,
}

/// The probe input at which fixed points and topology are computed: flip-flop 0;
/// sine the middle frequency (index `frequencies / 2`: 25 of 51 at the defaults);
/// integration the first context (input `[0, 0, 1, 0]`: zero streams, context one-hot 0).
pub fn probe_input(exp: &Experiment, task: &TaskGen) -> Vec<f64> {
    match task {
        TaskGen::FlipFlop(_) => vec![0.0; 3],
        TaskGen::Sine(s) => vec![s.input_value(s.frequencies() / 2)],
        TaskGen::Integration(_) => {
            let _ = exp;
            vec![0.0, 0.0, 1.0, 0.0]
        }
    }
}

/// Trials (`n × T × I`) at a fixed sweep value, for seeding searches there.
fn sweep_trials(
    task: &TaskGen,
    which: usize,
    n: usize,
    t: usize,
    rng: &mut Rng,
) -> Result<Vec<f64>, String> {
    let i = task.inputs();
    let o = task.outputs();
    let mut xs = vec![0.0; n * t * i];
    let mut ys = vec![0.0; t * o];
    for k in 0..n {
        let x = &mut xs[k * t * i..(k + 1) * t * i];
        match task {
            TaskGen::Sine(s) => s
                .fill_trial(which, t, x, &mut ys)
                .map_err(|e| e.to_string())?,
            TaskGen::Integration(g) => {
                let ctx = if which == 0 {
                    Context::First
                } else {
                    Context::Second
                };
                let b = [rng.uniform_range(-0.5, 0.5), rng.uniform_range(-0.5, 0.5)];
                g.fill_trial(rng, b, ctx, t, x, &mut ys)
                    .map_err(|e| e.to_string())?
            }
            TaskGen::FlipFlop(f) => f
                .fill(rng, 1, t, x, &mut ys[..t * 3])
                .map_err(|e| e.to_string())?,
        }
    }
    Ok(xs)
}

/// Input-free steps after the pulse for [`memory_starts`].
const MEMORY_START_STEPS: usize = 500;

/// The flip-flop's `2^bits` memory states: from the zero state, a pulse with each corner's
/// signs on every channel at `t = 0`, then [`MEMORY_START_STEPS`] steps without input.
fn memory_starts(model: &dyn Model, p: &[f64], bits: usize) -> Result<Vec<Vec<f64>>, String> {
    let s = model.state_dim();
    let mut trial = MemoryTrial::new(model, bits, MEMORY_START_STEPS);
    (0..1usize << bits)
        .map(|corner| {
            trial.run(model, p, corner).map_err(|e| e.to_string())?;
            Ok(trial.states[MEMORY_START_STEPS * s..].to_vec())
        })
        .collect()
}

/// Analyses one network.
pub fn analyze(
    exp: &Experiment,
    model: &dyn Model,
    p: &[f64],
    settings: &DynamicsSettings,
) -> Result<NetworkDynamics, String> {
    let task = TaskGen::new(&exp.task).map_err(|e| e.to_string())?;
    let t = exp.task.trial_steps;
    let s = model.state_dim();
    let mut rng = Rng::stream(exp.seed, PROBE_STREAM);
    let n = settings.probe_trials.max(1);
    let mut xs = vec![0.0; n * t * task.inputs()];
    let mut ys = vec![0.0; n * t * task.outputs()];
    let x_probe = probe_input(exp, &task);
    // Start states come from trajectories at the probe condition (sine: its frequency;
    // integration: its context), so the search starts near the relevant dynamics.
    match &task {
        TaskGen::FlipFlop(_) => task
            .fill(&mut rng, n, t, &mut xs, &mut ys)
            .map_err(|e| e.to_string())?,
        TaskGen::Sine(sine) => xs = sweep_trials(&task, sine.frequencies() / 2, n, t, &mut rng)?,
        TaskGen::Integration(_) => xs = sweep_trials(&task, 0, n, t, &mut rng)?,
    }
    let clock = std::time::Instant::now();
    let states = trajectory_states(model, p, &xs, n, t)?;
    let mut starts = sample_starts(
        &states,
        s,
        settings.fixed_points.starts,
        settings.fixed_points.start_noise,
        &mut rng,
    );
    if let TaskGen::FlipFlop(_) = task {
        // Plus one start per memory: where the state sits after a pulse on every channel
        // and MEMORY_START_STEPS input-free steps. Trajectories visit some corners rarely,
        // and a random sample of 128 states can miss an attractor the network does have.
        starts.extend(memory_starts(model, p, 3)?);
    }
    let t_starts = clock.elapsed().as_secs_f64();
    let fixed_points =
        find_fixed_points(model, p, &x_probe, &starts, &states, &settings.fixed_points);
    let t_fixed = clock.elapsed().as_secs_f64();
    let pulses = match task {
        TaskGen::FlipFlop(_) => unit_pulses(3),
        _ => Vec::new(),
    };
    let topology = build_topology(
        model,
        p,
        &x_probe,
        &fixed_points,
        &pulses,
        &settings.topology,
    );
    let t_topology = clock.elapsed().as_secs_f64();

    let mut sweep = Vec::new();
    let values: Vec<(usize, Vec<f64>, f64)> = match &task {
        TaskGen::FlipFlop(_) => Vec::new(),
        TaskGen::Sine(sine) => (0..sine.frequencies())
            .map(|j| (j, vec![sine.input_value(j)], sine.frequency(j)))
            .collect(),
        TaskGen::Integration(_) => vec![
            (0, vec![0.0, 0.0, 1.0, 0.0], 0.0),
            (1, vec![0.0, 0.0, 0.0, 1.0], 1.0),
        ],
    };
    // Sine has 51 values, so a quarter of the main search's starts each; integration has
    // two (its contexts), whose slow points draw the line attractors, so the full search.
    let per_value = if values.len() <= 2 {
        settings.fixed_points.starts.max(64)
    } else {
        (settings.fixed_points.starts / 4).max(16)
    };
    // Continuation: each value's search also starts from the fixed points found at the probe
    // input and at the previous value. The sampled starts alone (a quarter of the main
    // search's) missed points, so a value equal to the probe input (integration, context
    // 0) counted fewer than `fixed_points.npz`; a known point converges at once.
    let mut previous: Vec<Vec<f64>> = Vec::new();
    let mut sweep_points = Vec::new();
    let lean = |points: &[FixedPoint]| -> Vec<FixedPoint> {
        points
            .iter()
            .map(|f| FixedPoint {
                eigenvectors: Vec::new(),
                jacobian: Vec::new(),
                ..f.clone()
            })
            .collect()
    };
    for (which, x, parameter) in values {
        let trials = sweep_trials(&task, which, n.min(8), t, &mut rng)?;
        let st = trajectory_states(model, p, &trials, n.min(8), t)?;
        let mut starts = sample_starts(
            &st,
            s,
            per_value,
            settings.fixed_points.start_noise,
            &mut rng,
        );
        starts.extend(fixed_points.fixed_points.iter().map(|f| f.state.clone()));
        starts.append(&mut previous);
        let fa = find_fixed_points(model, p, &x, &starts, &st, &settings.fixed_points);
        previous = fa.fixed_points.iter().map(|f| f.state.clone()).collect();
        sweep.push(sweep_point(&fa, x, parameter));
        sweep_points.push(SweepPoints {
            fixed_points: lean(&fa.fixed_points),
            slow_points: lean(&fa.slow_points),
        });
    }
    let t_end = clock.elapsed().as_secs_f64();
    Ok(NetworkDynamics {
        fixed_points,
        topology,
        sweep,
        sweep_points,
        seconds: [
            t_starts,
            t_fixed - t_starts,
            t_topology - t_fixed,
            t_end - t_topology,
        ],
    })
}

fn sweep_point(fa: &FixedPointAnalysis, input: Vec<f64>, parameter: f64) -> SweepPoint {
    let stable = fa
        .fixed_points
        .iter()
        .filter(|f| f.stability_index == 0)
        .count();
    // Sine: the fixed point with an unstable complex pair (the centre of the limit cycle).
    let mut leading_angle = f64::NAN;
    let mut leading_modulus = f64::NAN;
    for f in &fa.fixed_points {
        if let Some(ev) = f.eigenvalues.iter().find(|e| e.im > 0.0) {
            if leading_modulus.is_nan() || ev.modulus() > leading_modulus {
                leading_modulus = ev.modulus();
                leading_angle = ev.arg();
            }
        }
    }
    // Integration: the eigenvalue closest to 1 in modulus, and the next largest modulus.
    let mut slow_modulus = f64::NAN;
    let mut second_modulus = f64::NAN;
    let mut slow_modes = 0;
    for f in &fa.fixed_points {
        if let Some((i, m)) = f
            .eigenvalues
            .iter()
            .map(|e| e.modulus())
            .enumerate()
            .min_by(|a, b| (a.1 - 1.0).abs().total_cmp(&(b.1 - 1.0).abs()))
        {
            if slow_modulus.is_nan() || (m - 1.0).abs() < (slow_modulus - 1.0).abs() {
                slow_modulus = m;
                second_modulus = f
                    .eigenvalues
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| *k != i)
                    .map(|(_, e)| e.modulus())
                    .fold(0.0, f64::max);
                slow_modes = f.slow_modes;
            }
        }
    }
    let slow_point_modulus = fa
        .slow_points
        .iter()
        .flat_map(|f| f.eigenvalues.iter().map(|e| e.modulus()))
        .filter(|m| m.is_finite())
        .min_by(|a, b| (a - 1.0).abs().total_cmp(&(b - 1.0).abs()))
        .unwrap_or(f64::NAN);
    SweepPoint {
        input,
        parameter,
        fixed_points: fa.fixed_points.len(),
        stable,
        leading_angle,
        leading_modulus,
        slow_modulus,
        second_modulus,
        slow_modes,
        slow_point_modulus,
    }
}

impl NetworkDynamics {
    /// The counts and sweep written to `dynamics.json`.
    pub fn summary(&self) -> DynamicsSummary {
        DynamicsSummary {
            seconds: self.seconds,
            fixed_points: self.fixed_points.fixed_points.len(),
            count_by_stability_index: self.fixed_points.count_by_index(),
            slow_points: Some(self.fixed_points.slow_points.len()),
            candidates: self.fixed_points.candidates.len(),
            max_residual: self
                .fixed_points
                .fixed_points
                .iter()
                .map(|f| f.residual)
                .fold(0.0, f64::max),
            node_labels: self.topology.labels.clone(),
            sweep: self.sweep.clone(),
        }
    }

    /// Writes `fixed_points.npz`, `topology.npz`, `topology_labels.txt`, `topology.dot`,
    /// `input_sweep.npz` (tasks with a static input) and `dynamics.json` into `dir`
    /// (`dynamics.json` last: its presence marks a complete analysis).
    pub fn save(&self, dir: &Path, name: &str) -> Result<(), NpyError> {
        self.fixed_points.save(&dir.join("fixed_points.npz"))?;
        self.topology
            .save(&dir.join("topology.npz"), &dir.join("topology_labels.txt"))?;
        let dot = self.topology.to_dot(name);
        crate::npy::write_atomic(&dir.join("topology.dot"), |f| {
            std::io::Write::write_all(f, dot.as_bytes())
        })?;
        if !self.sweep.is_empty() {
            let m = self.sweep.len();
            let i = self.sweep[0].input.len();
            let mut w = NpzWriter::new(dir.join("input_sweep.npz"));
            let col =
                |f: &dyn Fn(&SweepPoint) -> f64| -> Vec<f64> { self.sweep.iter().map(f).collect() };
            w.add(
                "inputs",
                &[m, i],
                &self
                    .sweep
                    .iter()
                    .flat_map(|s| s.input.clone())
                    .collect::<Vec<_>>(),
            )?;
            w.add("parameter", &[m], &col(&|s| s.parameter))?;
            w.add(
                "fixed_points",
                &[m],
                &self
                    .sweep
                    .iter()
                    .map(|s| s.fixed_points as i64)
                    .collect::<Vec<_>>(),
            )?;
            w.add(
                "stable",
                &[m],
                &self
                    .sweep
                    .iter()
                    .map(|s| s.stable as i64)
                    .collect::<Vec<_>>(),
            )?;
            w.add("leading_angle", &[m], &col(&|s| s.leading_angle))?;
            w.add("leading_modulus", &[m], &col(&|s| s.leading_modulus))?;
            w.add("slow_modulus", &[m], &col(&|s| s.slow_modulus))?;
            w.add("second_modulus", &[m], &col(&|s| s.second_modulus))?;
            w.add("slow_point_modulus", &[m], &col(&|s| s.slow_point_modulus))?;
            w.add(
                "slow_modes",
                &[m],
                &self
                    .sweep
                    .iter()
                    .map(|s| s.slow_modes as i64)
                    .collect::<Vec<_>>(),
            )?;
            // Every fixed and slow point of every row, with the row it belongs to.
            let s = self.fixed_points.state_dim;
            for (prefix, pick) in [
                (
                    "point_",
                    (|r: &SweepPoints| &r.fixed_points) as fn(&SweepPoints) -> &Vec<_>,
                ),
                ("slow_", |r: &SweepPoints| &r.slow_points),
            ] {
                let rows: Vec<i64> = self
                    .sweep_points
                    .iter()
                    .enumerate()
                    .flat_map(|(k, r)| std::iter::repeat_n(k as i64, pick(r).len()))
                    .collect();
                let points: Vec<FixedPoint> = self
                    .sweep_points
                    .iter()
                    .flat_map(|r| pick(r).iter().cloned())
                    .collect();
                w.add(&format!("{prefix}value"), &[rows.len()], &rows)?;
                add_points(&mut w, prefix, &points, s)?;
                if prefix == "slow_" {
                    let q: Vec<f64> = points.iter().map(|f| f.q).collect();
                    w.add("slow_q", &[q.len()], &q)?;
                }
            }
            w.finish()?;
        }
        let json = serde_json::to_string_pretty(&self.summary()).unwrap_or_default();
        crate::npy::write_atomic(&dir.join("dynamics.json"), |f| {
            std::io::Write::write_all(f, json.as_bytes())
        })
    }
}

/// Loads a network's saved topology (for distance matrices).
pub fn load_topology(dir: &Path) -> Result<Topology, String> {
    let npz = dir.join("topology.npz");
    let read = |name: &str| crate::npy::read_npz_shaped(&npz, name).map_err(|e| e.to_string());
    let (_, st) = read("stability")?;
    let (_, auto) = read("autonomous")?;
    let (_, un) = read("autonomous_unmatched")?;
    let (pshape, pulses) = read("pulses")?;
    let (_, inp) = read("input_driven")?;
    // Stores analysed before `attracting` existed: index 0 counted as attracting.
    let attracting: Vec<bool> = match read("attracting") {
        Ok((_, a)) => a.iter().map(|&v| v != 0.0).collect(),
        Err(_) => st.iter().map(|&v| v == 0.0).collect(),
    };
    if attracting.len() != st.len() {
        return Err(format!(
            "{}: `attracting` has {} entries for {} nodes",
            npz.display(),
            attracting.len(),
            st.len()
        ));
    }
    let labels_path = dir.join("topology_labels.txt");
    let labels: Vec<String> = std::fs::read_to_string(&labels_path)
        .map_err(|e| format!("{}: {e}", labels_path.display()))?
        .lines()
        .map(str::to_string)
        .collect();
    if labels.len() != st.len() {
        return Err(format!(
            "{}: {} labels for {} nodes",
            labels_path.display(),
            labels.len(),
            st.len()
        ));
    }
    let pi = pshape.get(1).copied().unwrap_or(0);
    let pulses = if pi == 0 {
        Vec::new()
    } else {
        pulses.chunks(pi).map(|c| c.to_vec()).collect()
    };
    Ok(Topology {
        stability: st
            .iter()
            .map(|&v| if v < 0.0 { usize::MAX } else { v as usize })
            .collect(),
        attracting,
        labels,
        autonomous: auto,
        autonomous_unmatched: un,
        pulses,
        inputs: pi,
        input_driven: inp,
    })
}

/// True if the task kind has an input sweep.
pub fn has_sweep(kind: &TaskKind) -> bool {
    !matches!(kind, TaskKind::FlipFlop(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// JSON has no NaN: a sweep point without an oscillatory mode (NaN angle) must still
    /// read back, or the report silently loses the network.
    /// Integration sweeps include the probe input (context 0): there the sweep must find at
    /// least every fixed point of the main analysis (it used to count fewer, from a quarter
    /// of the starts), and the unstable directions used for the topology edges are exactly
    /// the first `stability_index` eigenvalues.
    #[test]
    fn the_sweep_at_the_probe_input_finds_the_main_fixed_points() {
        use crate::config::{default_raw, validate};
        use crate::model::{build, Arch, ModelSpec};
        use rnndyn_core::cell::{InitParams, RecurrentInit};
        use rnndyn_core::{Activation, GruConvention};
        let mut raw = default_raw();
        raw.task.kind = "integration".into();
        raw.analysis.fixed_point_starts = 64;
        let exp = validate(raw, "test").unwrap();
        let mut most = 0;
        for (seed, arch) in [
            (1, Arch::Vanilla),
            (2, Arch::Vanilla),
            (3, Arch::Gru),
            (4, Arch::Lstm),
        ] {
            let spec = ModelSpec {
                arch,
                activation: Activation::Tanh,
                gru_convention: GruConvention::ResetAfterProduct,
                hidden: 16,
                inputs: 4,
                outputs: 1,
            };
            let model = build(&spec).unwrap();
            let init = InitParams {
                recurrent: RecurrentInit::Normal { gain: 2.5 },
                ..Default::default()
            };
            let p: Vec<f64> = model
                .init(&mut Rng::new(seed), &init)
                .iter()
                .map(|&v| v as f64)
                .collect();
            let settings = DynamicsSettings::from_experiment(&exp);
            let d = analyze(&exp, model.as_ref(), &p, &settings).unwrap();
            let main = &d.fixed_points.fixed_points;
            assert_eq!(d.sweep[0].input, d.fixed_points.input);
            assert!(
                d.sweep[0].fixed_points >= main.len(),
                "seed {seed}: sweep {} < main {}",
                d.sweep[0].fixed_points,
                main.len()
            );
            let stable = main.iter().filter(|f| f.stability_index == 0).count();
            assert!(d.sweep[0].stable >= stable, "seed {seed}");
            most = most.max(main.len());
            for f in main {
                let above = f
                    .eigenvalues
                    .iter()
                    .filter(|e| e.modulus() > 1.0 + settings.fixed_points.linearize.unstable_margin)
                    .count();
                assert_eq!(f.stability_index, above);
            }
        }
        assert!(
            most >= 3,
            "the networks should have several fixed points ({most})"
        );
    }

    #[test]
    fn a_sweep_row_written_before_slow_point_moduli_reads_as_unknown() {
        let old = r#"{"input": [0.0, 0.0, 1.0, 0.0], "parameter": 0.0, "fixed_points": 0,
            "stable": 0, "leading_angle": null, "leading_modulus": null,
            "slow_modulus": null, "second_modulus": null, "slow_modes": 0}"#;
        let p: SweepPoint = serde_json::from_str(old).unwrap();
        assert!(p.slow_point_modulus.is_nan() && p.slow_modulus.is_nan());
    }

    #[test]
    fn a_summary_with_undefined_values_reads_back() {
        let point = SweepPoint {
            input: vec![0.0, 0.0, 1.0, 0.0],
            parameter: 0.0,
            fixed_points: 1,
            stable: 1,
            leading_angle: f64::NAN,
            leading_modulus: f64::NAN,
            slow_modulus: 0.999,
            second_modulus: f64::NAN,
            slow_modes: 1,
            slow_point_modulus: f64::NAN,
        };
        let summary = DynamicsSummary {
            seconds: [0.1, 0.2, 0.3, 0.4],
            fixed_points: 0,
            count_by_stability_index: vec![],
            slow_points: Some(4),
            candidates: 128,
            max_residual: f64::NAN,
            node_labels: vec![],
            sweep: vec![point],
        };
        let text = serde_json::to_string(&summary).unwrap();
        assert!(text.contains("\"leading_angle\":null"), "{text}");
        let back: DynamicsSummary = serde_json::from_str(&text).unwrap();
        let p = &back.sweep[0];
        assert!(p.leading_angle.is_nan() && p.leading_modulus.is_nan());
        assert!(p.second_modulus.is_nan() && back.max_residual.is_nan());
        assert_eq!(p.slow_modulus, 0.999);
        assert_eq!(back.slow_points, Some(4));
    }
}
