//! Task examples: one trial's inputs, targets and network outputs, one passing network per
//! architecture (paper Fig. 1a for the flip-flop, 4a for sine, 5a for integration).

use super::style::{self, Glyph};
use super::{Context, DrawResult, Figure, FigureError};
use crate::dynamics::network::PROBE_STREAM;
use crate::task::TaskGen;
use plotters::coord::Shift;
use plotters::prelude::*;
use rnndyn_core::task::Context as IntegrationContext;
use rnndyn_core::Rng;

/// One network's run on the example trial.
struct Run {
    arch: String,
    title: String,
    /// T × O.
    outputs: Vec<f64>,
}

pub(super) struct TaskExamples {
    task: String,
    steps: usize,
    inputs: usize,
    outputs: usize,
    /// T × I.
    xs: Vec<f64>,
    /// T × O.
    ys: Vec<f64>,
    /// Description of the trial (sine frequency, integration context).
    trial: String,
    runs: Vec<Run>,
}

pub(super) fn figure(ctx: &Context<'_>) -> Result<Option<TaskExamples>, FigureError> {
    let Some(exp) = ctx.experiment.as_ref() else {
        return Ok(None);
    };
    if ctx.representatives.is_empty() {
        return Ok(None);
    }
    let task = TaskGen::new(&exp.task)?;
    let (steps, ni, no) = (exp.task.trial_steps, task.inputs(), task.outputs());
    let mut xs = vec![0.0; steps * ni];
    let mut ys = vec![0.0; steps * no];
    let mut rng = Rng::stream(exp.seed, PROBE_STREAM ^ 0xF16);
    let trial = match &task {
        TaskGen::FlipFlop(_) => {
            // The probe trial with the most pulses among a few (a trial with no pulse on a
            // channel says little).
            let mut best = (0usize, xs.clone(), ys.clone());
            for _ in 0..8 {
                task.fill(&mut rng, 1, steps, &mut xs, &mut ys)?;
                let pulses = (0..ni)
                    .map(|c| (0..steps).filter(|&t| xs[t * ni + c] != 0.0).count().min(3))
                    .sum::<usize>();
                if pulses > best.0 {
                    best = (pulses, xs.clone(), ys.clone());
                }
            }
            if best.0 > 0 {
                (xs, ys) = (best.1, best.2);
            }
            String::new()
        }
        TaskGen::Sine(s) => {
            let j = s.frequencies() / 2;
            s.fill_trial(j, steps, &mut xs, &mut ys)?;
            format!(
                "ω = {:.3} rad/step, static input {:.2}",
                s.frequency(j),
                s.input_value(j)
            )
        }
        TaskGen::Integration(g) => {
            let bias = [rng.uniform_range(-0.3, 0.3), rng.uniform_range(-0.3, 0.3)];
            g.fill_trial(
                &mut rng,
                bias,
                IntegrationContext::First,
                steps,
                &mut xs,
                &mut ys,
            )?;
            "context 1: integrate stream 1".to_string()
        }
    };
    let mut runs = Vec::new();
    for r in &ctx.representatives {
        let (model, p) = crate::stages::load_network(ctx.store, r)?;
        if model.spec().inputs != ni || model.spec().outputs != no {
            continue;
        }
        let s = model.state_dim();
        let mut states = vec![0.0; steps * s];
        let mut out = vec![0.0; steps * no];
        model.run(&p, &vec![0.0; s], &xs, &mut states, &mut out)?;
        runs.push(Run {
            arch: r.arch.clone(),
            title: Context::panel_title(r),
            outputs: out,
        });
    }
    if runs.is_empty() {
        return Ok(None);
    }
    Ok(Some(TaskExamples {
        task: ctx.task.clone(),
        steps,
        inputs: ni,
        outputs: no,
        xs,
        ys,
        trial,
        runs,
    }))
}

impl TaskExamples {
    /// Rows of panels: flip-flop one per channel; integration inputs then output; sine one.
    fn rows(&self) -> usize {
        match self.task.as_str() {
            "flipflop" => self.outputs,
            "integration" => 2,
            _ => 1,
        }
    }
}

impl Figure for TaskExamples {
    fn name(&self) -> &'static str {
        "task_examples"
    }
    fn title(&self) -> String {
        let task = match self.task.as_str() {
            "flipflop" => "3-bit flip-flop",
            "sine" => "sine wave generation",
            "integration" => "context-dependent integration",
            other => other,
        };
        format!("Task examples: {task}")
    }
    fn size(&self) -> (u32, u32) {
        let rows = self.rows() as u32;
        let panel_h = if rows >= 3 { 210 } else { 280 };
        (
            380 * self.runs.len() as u32 + 20,
            super::style::TITLE_BAND + style::LEGEND_BAND + rows * panel_h + 10,
        )
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let mut title = self.title();
        if !self.trial.is_empty() {
            title = format!("{title} ({})", self.trial);
        }
        let (body, legend) = style::frame(root, &title, 1)?;
        let rows = self.rows();
        let panels = body
            .margin(0, 10, 10, 10)
            .split_evenly((rows, self.runs.len()));
        let t_max = self.steps.saturating_sub(1).max(1) as f64;
        let series = |v: &[f64], stride: usize, c: usize| -> Vec<(f64, f64)> {
            (0..self.steps)
                .map(|t| (t as f64, v[t * stride + c]))
                .collect()
        };
        for (col, run) in self.runs.iter().enumerate() {
            let colour = style::arch_colour(&run.arch);
            for row in 0..rows {
                let area = &panels[row * self.runs.len() + col];
                let caption = if row == 0 { run.title.as_str() } else { "" };
                let x_desc = if row + 1 == rows { "time step" } else { "" };
                match self.task.as_str() {
                    "flipflop" => {
                        let y_desc = if col == 0 {
                            format!("channel {}", row + 1)
                        } else {
                            String::new()
                        };
                        let mut c = style::chart(
                            area,
                            caption,
                            (0.0, t_max),
                            (-1.35, 1.35),
                            x_desc,
                            &y_desc,
                        )?;
                        let pulses: Vec<(f64, f64)> = series(&self.xs, self.inputs, row);
                        c.draw_series(LineSeries::new(pulses, style::INPUT.stroke_width(2)))?;
                        style::plot_glyph(
                            &mut c,
                            Glyph::Dashed(BLACK),
                            &series(&self.ys, self.outputs, row),
                            0,
                        )?;
                        c.draw_series(LineSeries::new(
                            series(&run.outputs, self.outputs, row),
                            colour.stroke_width(3),
                        ))?;
                    }
                    "integration" if row == 0 => {
                        let ins: Vec<f64> = (0..2)
                            .flat_map(|k| (0..self.steps).map(move |t| (t, k)))
                            .map(|(t, k)| self.xs[t * self.inputs + k])
                            .collect();
                        let y = super::padded_range(ins, 0.05);
                        let y_desc = if col == 0 { "input streams" } else { "" };
                        let mut c = style::chart(area, caption, (0.0, t_max), y, x_desc, y_desc)?;
                        c.draw_series(LineSeries::new(
                            series(&self.xs, self.inputs, 1),
                            RGBColor(200, 200, 200).stroke_width(1),
                        ))?;
                        c.draw_series(LineSeries::new(
                            series(&self.xs, self.inputs, 0),
                            style::INPUT.stroke_width(2),
                        ))?;
                    }
                    _ => {
                        let out = series(&run.outputs, self.outputs, 0);
                        let tgt = series(&self.ys, self.outputs, 0);
                        let inp = if self.task == "sine" {
                            series(&self.xs, self.inputs, 0)
                        } else {
                            Vec::new()
                        };
                        let y = super::padded_range(
                            out.iter().chain(&tgt).chain(&inp).map(|p| p.1),
                            0.08,
                        );
                        let y_desc = if col == 0 { "output" } else { "" };
                        let mut c = style::chart(area, caption, (0.0, t_max), y, x_desc, y_desc)?;
                        if !inp.is_empty() {
                            c.draw_series(LineSeries::new(inp, style::INPUT.stroke_width(2)))?;
                        }
                        style::plot_glyph(&mut c, Glyph::Dashed(BLACK), &tgt, 0)?;
                        c.draw_series(LineSeries::new(out, colour.stroke_width(3)))?;
                    }
                }
            }
        }
        let mut items = vec![];
        match self.task.as_str() {
            "integration" => {
                items.push((
                    Glyph::Line(style::INPUT, 2),
                    "stream 1 (relevant)".to_string(),
                ));
                items.push((
                    Glyph::Line(RGBColor(200, 200, 200), 2),
                    "stream 2 (ignored)".to_string(),
                ));
            }
            "flipflop" => items.push((Glyph::Line(style::INPUT, 2), "input pulses".to_string())),
            _ => items.push((Glyph::Line(style::INPUT, 2), "input".to_string())),
        }
        items.push((Glyph::Dashed(BLACK), "target".to_string()));
        for run in &self.runs {
            items.push((
                Glyph::Line(style::arch_colour(&run.arch), 3),
                format!("{} output", style::arch_label(&run.arch)),
            ));
        }
        style::legend(&legend, &items)
    }
}
