//! The application: turns parsed CLI flags into validated settings once, runs a command,
//! and reports errors with context.

use crate::cli::{
    Cli, Command, ExportArgs, FileLayout, FixedPointsArgs, PopulationArgs, RunArgs, StoreArgs,
    TrainArgs,
};
use crate::config::{self, Experiment};
use crate::dynamics::network::{self, DynamicsSettings};
use crate::model::{self, Arch, ModelSpec};
use crate::population::{self, Shard, TrainOptions};
use crate::stages;
use crate::store::{NetworkRecord, Store};
use rnndyn_core::GruConvention;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Any error a command reports (printed once by `main`, exit code 2).
pub type AppError = Box<dyn std::error::Error + Send + Sync>;

/// The lines `main` prints for an error: the message, then each cause that adds
/// something (a cause whose text the lines so far already contain is skipped, e.g. the
/// `io::Error` inside `a.npy: No such file or directory`).
pub fn error_lines(err: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut lines = vec![format!("rnndyn: error: {err}")];
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !lines.iter().any(|l| l.contains(&text)) {
            lines.push(format!("  caused by: {text}"));
        }
        source = s.source();
    }
    lines
}

/// Raised by Ctrl-C: long loops check it and stop cleanly, keeping finished work.
pub static CANCEL: AtomicBool = AtomicBool::new(false);

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode, AppError> {
    match cli.command {
        Command::Train(args) => train(args),
        Command::Run(args) => run_study(args),
        Command::FixedPoints(args) => fixed_points(args),
        Command::Topology(args) => with_threads(args.threads, || topology(&args)),
        Command::Geometry(args) => with_threads(args.threads, || geometry(&args)),
        Command::Compare(args) => {
            crate::commands::compare::run(&args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Embed(args) => {
            crate::commands::embed::run(&args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Report(args) => with_threads(args.threads, || report(&args)),
        Command::Merge(args) => crate::merge::run(args),
        Command::Slurm(args) => crate::slurm::run(args),
        Command::Export(args) => export(args),
    }
}

/// Loads the experiment named by `--config`, or the built-in default.
pub fn experiment(args: &PopulationArgs) -> Result<(Experiment, String), AppError> {
    let (exp, text, file) = match &args.config {
        Some(path) => {
            let exp = config::load(path)?;
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            (exp, text, path.display().to_string())
        }
        None => {
            let text = config::default_toml();
            let file = "<built-in default>".to_string();
            (config::parse(&text, &file)?, text, file)
        }
    };
    match args.steps {
        None => Ok((exp, text)),
        Some(steps) => {
            let text = config::with_training_steps(&text, &file, steps)?;
            let exp = config::parse(&text, &format!("{file} with --steps {steps}"))?;
            Ok((exp, text))
        }
    }
}

/// Creates the store at `out`, or opens it to resume: then its experiment must be the one
/// given (same settings; comments and layout may differ), or the population would mix two.
pub fn store_for(
    out: &Path,
    exp: &Experiment,
    text: &str,
    args: &PopulationArgs,
) -> Result<Store, AppError> {
    let saved = out.join("experiment.toml");
    if !saved.exists()
        && out.join("store.json").is_file()
        && crate::store::has_entries(&out.join("networks"))
    {
        return Err(format!(
            "{}: the store has networks but no experiment.toml, so they cannot be checked against \
             {}; put the store's experiment file back, or use another --out",
            out.display(),
            config::describe_source(args.config.as_ref()),
        )
        .into());
    }
    if saved.is_file() {
        let existing = config::load(&saved)?;
        if let Some((key, was, now)) = config::first_difference(&existing.raw, &exp.raw) {
            let steps = args
                .steps
                .map(|n| format!(" with --steps {n}"))
                .unwrap_or_default();
            return Err(format!(
                "{}: the store was made from a different experiment than {}{steps} (first difference: `{key}` is {was} in the store, {now} now); use another --out, or --config {}",
                out.display(),
                config::describe_source(args.config.as_ref()),
                saved.display()
            )
            .into());
        }
    }
    Ok(Store::create(out, text)?)
}

/// Parses `K/N`, or `slurm` (the array task's shard, from Slurm's environment).
pub fn parse_shard(s: &str) -> Result<Shard, AppError> {
    if s == "slurm" {
        return Ok(crate::slurm::shard_from_env(|k| std::env::var(k).ok())?);
    }
    let err =
        || -> AppError { format!("--shard {s:?}: expected K/N with 0 <= K < N, e.g. 0/4").into() };
    let (k, n) = s.split_once('/').ok_or_else(err)?;
    let index: usize = k.trim().parse().map_err(|_| err())?;
    let count: usize = n.trim().parse().map_err(|_| err())?;
    if count == 0 || index >= count {
        return Err(err());
    }
    Ok(Shard { index, count })
}

fn train_options(args: &PopulationArgs, shard: Option<&str>) -> Result<TrainOptions, AppError> {
    let shard = shard.map(parse_shard).transpose()?;
    if args.threads == Some(0) {
        return Err("--threads 0: need at least one thread".into());
    }
    Ok(TrainOptions {
        threads: args.threads,
        shard,
        progress: !args.quiet,
    })
}

fn install_ctrlc() {
    // Only the first handler installation succeeds; later ones are harmless no-ops.
    let _ = ctrlc::set_handler(|| {
        if CANCEL.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\nrnndyn: interrupted; finishing cleanly (press Ctrl-C again to abort)");
    });
}

fn train(args: TrainArgs) -> Result<ExitCode, AppError> {
    if args.print_default_config {
        print!("{}", config::default_toml());
        return Ok(ExitCode::SUCCESS);
    }
    let out = args.out.as_ref().ok_or("--out DIR is required")?;
    let (exp, text) = experiment(&args.population)?;
    let opts = train_options(&args.population, args.shard.as_deref())?;
    install_ctrlc();
    let store = store_for(out, &exp, &text, &args.population)?;
    let summary = population::train_population(&exp, &store, &opts, &CANCEL)?;
    eprintln!("{}", summary.describe(out, opts.shard));
    if summary.cancelled {
        eprintln!("rerun the same command to resume");
        return Ok(ExitCode::from(130));
    }
    if let Some(s) = opts.shard {
        eprintln!("shard {}/{} done; catalog.csv is rebuilt by `rnndyn merge --out {}` once every shard is done", s.index, s.count, out.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn export(args: ExportArgs) -> Result<ExitCode, AppError> {
    // clap's `format` group guarantees exactly one of --rust and --torch.
    if let Some(dir) = &args.rust {
        let record = crate::export::export_rust(dir, &args.out)?;
        warn_if_diverged(&record, dir);
        eprintln!("wrote {} (from {})", args.out.display(), dir.display());
    } else if let Some(dir) = &args.torch {
        let defaults = crate::torch::Keys::default();
        let keys = crate::torch::Keys {
            rnn: args.rnn_prefix.clone().unwrap_or(defaults.rnn),
            readout: args.readout_prefix.clone().unwrap_or(defaults.readout),
        };
        let e = crate::export::export_torch(dir, &args.out, &keys)?;
        warn_if_diverged(&e.record, dir);
        eprintln!(
            "wrote {} (from {}): state dict of {}; keys {}",
            args.out.display(),
            dir.display(),
            e.modules(),
            e.order.join(", ")
        );
    } else {
        return Err("export needs --rust NETWORK_DIR or --torch NETWORK_DIR".into());
    }
    Ok(ExitCode::SUCCESS)
}

/// A diverged network is still exported or analysed on request, but never silently.
fn warn_if_diverged(record: &crate::store::NetworkRecord, dir: &Path) {
    if record.diverged {
        let step = record
            .diverged_at_step
            .map(|s| format!(" at step {s}"))
            .unwrap_or_default();
        eprintln!(
            "warning: {}: network {} diverged during training{step}; its parameters are not a trained network",
            dir.display(),
            record.id
        );
    }
}

fn run_study(args: RunArgs) -> Result<ExitCode, AppError> {
    let (exp, text) = experiment(&args.population)?;
    // No --shard: `run` analyses the whole population (shards: `train --shard`, `merge`).
    let opts = train_options(&args.population, None)?;
    install_ctrlc();
    let store = store_for(&args.out, &exp, &text, &args.population)?;
    let mut timings = StageTimings::default();
    let clock = Instant::now();
    let summary = population::train_population(&exp, &store, &opts, &CANCEL)?;
    timings.lap("train", &clock);
    eprintln!("{}", summary.describe(&args.out, None));
    if summary.cancelled {
        eprintln!("rerun the same command to resume");
        return Ok(ExitCode::from(130));
    }
    // `train_population` has just rebuilt the catalog.
    let records = stages::analysable(&store.records()?);
    let threads = args.population.threads;
    let out = args.out.clone();
    with_threads(threads, move || {
        eprintln!("analysing the dynamics of {} networks", records.len());
        let clock = Instant::now();
        let (done, skipped) =
            stages::fixed_points_stage(&exp, &store, &records, false, &CANCEL, &say)?;
        timings.lap("fixed points", &clock);
        if CANCEL.load(Ordering::Relaxed) {
            return Ok(ExitCode::from(130));
        }
        eprintln!("fixed points: {done} analysed, {skipped} already done");
        // Always run (even for 0 or 1 compared networks), so every matrix in analysis/
        // covers the networks of this run's analysis/networks.txt.
        let clock = Instant::now();
        stages::topology_stage(&exp, &store, &records)?;
        timings.lap("topology distances", &clock);
        let clock = Instant::now();
        stages::geometry_stage(&exp, &store, &records)?;
        timings.lap("geometry, embedding, findings", &clock);
        let clock = Instant::now();
        let path = crate::report::write_report(&store)?;
        timings.lap("report and figures", &clock);
        timings.save(&store)?;
        eprintln!("stage times (s): {}", timings.line());
        eprintln!("report: {}", path.display());
        eprintln!("store: {}", out.display());
        Ok(ExitCode::SUCCESS)
    })
}

/// Wall time of each stage of `rnndyn run` in this invocation (a resumed run only counts
/// what it did), saved as `analysis/timings.json`.
#[derive(Default)]
struct StageTimings {
    stages: Vec<(String, f64)>,
}

impl StageTimings {
    fn lap(&mut self, stage: &str, since: &Instant) {
        self.stages
            .push((stage.into(), since.elapsed().as_secs_f64()));
    }

    fn line(&self) -> String {
        self.stages
            .iter()
            .map(|(s, t)| format!("{s} {t:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A JSON object with the stages in the order they ran (serde_json's map would sort
    /// the keys alphabetically).
    fn json(&self) -> Result<String, AppError> {
        let mut fields = Vec::with_capacity(self.stages.len());
        for (stage, secs) in &self.stages {
            let key = serde_json::to_string(stage)?;
            fields.push(format!("  {key}: {}", serde_json::Value::from(*secs)));
        }
        Ok(format!("{{\n{}\n}}\n", fields.join(",\n")))
    }

    fn save(&self, store: &Store) -> Result<(), AppError> {
        let text = self.json()?;
        crate::store::write_atomic(&store.analysis_dir()?.join("timings.json"), text.as_bytes())?;
        Ok(())
    }
}

/// Runs `f` on a pool of `threads` workers (all cores if `None`).
fn with_threads<T>(
    threads: Option<usize>,
    f: impl FnOnce() -> Result<T, AppError> + Send,
) -> Result<T, AppError>
where
    T: Send,
{
    if threads == Some(0) {
        return Err("--threads 0: need at least one thread".into());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()?;
    pool.install(f)
}

fn say(line: String) {
    eprintln!("{line}");
}

fn fixed_points(args: FixedPointsArgs) -> Result<ExitCode, AppError> {
    install_ctrlc();
    let target = args.target.clone();
    with_threads(args.threads, move || {
        if target.join("store.json").is_file() {
            let store = Store::open(&target)?;
            let exp = stages::store_experiment(&store)?;
            let records = stages::analysable(&store.records()?);
            let (done, skipped) =
                stages::fixed_points_stage(&exp, &store, &records, args.force, &CANCEL, &say)?;
            eprintln!(
                "fixed points: {done} networks analysed, {skipped} already done, in {}",
                target.display()
            );
            if args.json {
                println!("{}", store_json(&store, &records)?);
            }
            if CANCEL.load(Ordering::Relaxed) {
                return Ok(ExitCode::from(130));
            }
            return Ok(ExitCode::SUCCESS);
        }
        if target.join("network.json").is_file() {
            let root = target.parent().and_then(|p| p.parent()).ok_or_else(|| {
                format!(
                    "{}: a network directory must sit in STORE/networks/",
                    target.display()
                )
            })?;
            let store = Store::open(root)?;
            let exp = stages::store_experiment(&store)?;
            let id = target
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let record = store.record(&id)?;
            warn_if_diverged(&record, &target);
            let (model, p) = stages::load_network(&store, &record)?;
            let d = network::analyze(
                &exp,
                model.as_ref(),
                &p,
                &DynamicsSettings::from_experiment(&exp),
            )?;
            d.save(&target, &id)?;
            return emit(&d, args.json, &target);
        }
        if target.is_file() {
            return fixed_points_file(&args);
        }
        Err(format!(
            "{}: not a population store, a network directory or a network file",
            target.display()
        )
        .into())
    })
}

/// `fixed-points STORE --json`: one array, an entry `{"id", "dynamics"}` per analysed
/// network (`dynamics` is its `dynamics.json`; the full arrays stay in the store's files,
/// too large for a whole population on stdout).
fn store_json(store: &Store, records: &[crate::store::NetworkRecord]) -> Result<String, AppError> {
    // A struct keeps `id` first (serde_json's map would sort it after `dynamics`).
    #[derive(serde::Serialize)]
    struct StoreEntry<'a> {
        id: &'a str,
        dynamics: serde_json::Value,
    }
    let mut entries = Vec::with_capacity(records.len());
    for r in records {
        let path = store.network_dir(&r.id).join("dynamics.json");
        // Missing only if the run was interrupted before this network.
        if !path.is_file() {
            continue;
        }
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let summary: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        entries.push(StoreEntry {
            id: &r.id,
            dynamics: summary,
        });
    }
    Ok(serde_json::to_string_pretty(&entries)?)
}

fn emit(
    d: &network::NetworkDynamics,
    json: bool,
    dir: &std::path::Path,
) -> Result<ExitCode, AppError> {
    if json {
        let mut v = d.fixed_points.to_json();
        v["topology"] =
            serde_json::json!({ "labels": d.topology.labels, "stability": d.topology.stability });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        eprintln!(
            "{} fixed points (by stability index {:?}), {} slow points; results in {}",
            d.fixed_points.fixed_points.len(),
            d.fixed_points.count_by_index(),
            d.fixed_points.slow_points.len(),
            dir.display()
        );
        let [a, b, c, e] = d.seconds;
        eprintln!("time: start states {a:.3} s, fixed points {b:.3} s, topology {c:.3} s, input sweep {e:.3} s");
    }
    Ok(ExitCode::SUCCESS)
}

/// `fixed-points FILE.npz|FILE.safetensors`: a network in rnndyn's or PyTorch's layout.
fn fixed_points_file(args: &FixedPointsArgs) -> Result<ExitCode, AppError> {
    let path = &args.target;
    let exp = match &args.config {
        Some(c) => config::load(c)?,
        None => config::parse(&config::default_toml(), "<built-in default>")?,
    };
    let npz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"));
    if !npz && !crate::safetensors_file::is_safetensors(path) {
        return Err(format!(
            "{}: expected a store, a network directory, or a `.npz` / `.safetensors` network file",
            path.display()
        )
        .into());
    }
    // A `.safetensors` file is read whole (its arrays are small); a `.npz` member by member.
    let tensors = if crate::safetensors_file::is_safetensors(path) {
        Some(crate::safetensors_file::read(path)?)
    } else {
        None
    };
    let names = match &tensors {
        Some(sd) => sd.keys().cloned().collect(),
        None => crate::npy::npz_names(path)?,
    };
    let present = if names.is_empty() {
        "none".to_string()
    } else {
        format!("{names:?}")
    };
    let is_torch = match args.layout {
        FileLayout::Torch => true,
        FileLayout::Rnndyn => false,
        FileLayout::Auto => names.iter().any(|n| n.ends_with("weight_hh_l0")),
    };
    let activation = match args.activation.as_deref() {
        None | Some("tanh") => rnndyn_core::Activation::Tanh,
        Some("relu") => rnndyn_core::Activation::Relu,
        Some(other) => return Err(format!("--activation {other:?}: expected tanh or relu").into()),
    };
    let convention = args
        .gru_convention
        .as_deref()
        .map(crate::store::parse_gru_convention)
        .transpose()
        .map_err(|e| format!("--gru-convention: {e}; expected reset-before or reset-after"))?;
    let (spec, params) = if is_torch {
        let sd = match tensors {
            Some(sd) => sd,
            None => {
                let mut sd = crate::torch::StateDict::new();
                for n in &names {
                    let (shape, data) = crate::npy::read_npz_shaped(path, n)?;
                    sd.insert(
                        n.clone(),
                        crate::torch::Array::new(shape, data)
                            .map_err(|e| format!("{}: {n}: {e}", path.display()))?,
                    );
                }
                sd
            }
        };
        let hh = names
            .iter()
            .find(|n| n.ends_with("weight_hh_l0"))
            .ok_or_else(|| {
                format!(
                    "{}: no weight_hh_l0 array (not a PyTorch RNN/GRU/LSTM); arrays present: {present}",
                    path.display()
                )
            })?;
        let rnn_prefix = hh.trim_end_matches("weight_hh_l0").to_string();
        let shape = &sd[hh].shape;
        let (rows, cols) = (
            shape.first().copied().unwrap_or(0),
            shape.get(1).copied().unwrap_or(0),
        );
        let (cell, arch, conv) = match (cols > 0 && rows % cols == 0).then(|| rows / cols) {
            Some(1) => (
                crate::torch::TorchCell::Rnn,
                Arch::Vanilla,
                GruConvention::ResetBeforeProduct,
            ),
            Some(3) => (
                crate::torch::TorchCell::Gru,
                Arch::Gru,
                GruConvention::ResetAfterProduct,
            ),
            Some(4) => (
                crate::torch::TorchCell::Lstm,
                Arch::Lstm,
                GruConvention::ResetBeforeProduct,
            ),
            _ => {
                return Err(format!(
                    "{}: {hh} has shape {shape:?}; expected (k·H, H) with k = 1, 3 or 4",
                    path.display()
                )
                .into())
            }
        };
        // The layout fixes the cell: a contradicting --arch is a mistake, not a choice.
        if let Some(name) = &args.arch {
            if Arch::parse(name) != Some(arch) {
                return Err(format!(
                    "{}: --arch {name} contradicts the file: {hh} of shape {shape:?} is a PyTorch {cell}, i.e. --arch {}",
                    path.display(),
                    arch.name()
                )
                .into());
            }
        }
        // PyTorch's GRU and LSTM have no activation or convention to choose: an option
        // that says otherwise would analyse a network the file does not hold.
        if activation == rnndyn_core::Activation::Relu && arch != Arch::Vanilla {
            return Err(format!(
                "{}: --activation relu contradicts the file: a PyTorch {cell} is always tanh",
                path.display()
            )
            .into());
        }
        match convention {
            Some(c) if arch != Arch::Gru => {
                return Err(format!(
                    "{}: --gru-convention {} given, but the file holds a PyTorch {cell}, not a GRU",
                    path.display(),
                    crate::store::gru_convention_name(c)
                )
                .into())
            }
            Some(GruConvention::ResetBeforeProduct) => {
                return Err(format!(
                    "{}: --gru-convention reset-before contradicts the file: a PyTorch GRU applies the reset gate after the recurrent product (reset-after)",
                    path.display()
                )
                .into())
            }
            _ => {}
        }
        let keys = crate::torch::Keys {
            rnn: rnn_prefix,
            readout: args.readout_prefix.clone(),
        };
        let imported = crate::torch::import_with(cell, &sd, &keys)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let d = imported.dims;
        (
            ModelSpec {
                arch,
                activation,
                gru_convention: conv,
                hidden: d.hidden,
                inputs: d.inputs,
                outputs: d.outputs,
            },
            imported.params,
        )
    } else {
        // Without `W` the file is no network (or a PyTorch one under --layout rnndyn): say
        // that, rather than ask for --arch.
        if !names.iter().any(|n| n == "W") {
            let what = if args.layout == FileLayout::Auto {
                "not a network file of either layout: no `W` (rnndyn layout) and no \
                 `weight_hh_l0` (PyTorch layout) array"
            } else if names.iter().any(|n| n.ends_with("weight_hh_l0")) {
                "not an rnndyn-layout network file (--layout rnndyn): no `W` array; its \
                 `weight_hh_l0` is the PyTorch layout (drop --layout rnndyn)"
            } else {
                "not an rnndyn-layout network file (--layout rnndyn): no `W` array"
            };
            return Err(format!("{}: {what}; arrays present: {present}", path.display()).into());
        }
        let arch_name = args.arch.as_deref().ok_or_else(|| {
            format!(
                "{}: an rnndyn-layout network file needs --arch (vanilla, ugrnn, gru or lstm)",
                path.display()
            )
        })?;
        let arch = Arch::parse(arch_name)
            .ok_or_else(|| format!("--arch {arch_name:?}: expected vanilla, ugrnn, gru or lstm"))?;
        let conv = match convention {
            Some(c) if arch != Arch::Gru => {
                return Err(format!(
                    "--gru-convention {} given with --arch {}: only a GRU has a convention",
                    crate::store::gru_convention_name(c),
                    arch.name()
                )
                .into())
            }
            Some(c) => c,
            None => GruConvention::ResetBeforeProduct,
        };
        let shape_of = |name: &str| -> Result<Vec<usize>, AppError> {
            match &tensors {
                Some(sd) => sd.get(name).map(|a| a.shape.clone()).ok_or_else(|| {
                    format!(
                        "{}: no array named {name:?} (present: {names:?})",
                        path.display()
                    )
                    .into()
                }),
                None => Ok(crate::npy::read_npz_shaped(path, name)?.0),
            }
        };
        let (wshape, ushape, oshape) = (shape_of("W")?, shape_of("U")?, shape_of("Wo")?);
        // The hidden size is read from `W`: check its rank first, or a (1, N, N) `W` would
        // be reported as hidden size 1.
        if wshape.len() != 2 {
            let gates = match arch {
                Arch::Vanilla => "N",
                Arch::Ugrnn => "2N",
                Arch::Gru => "3N",
                Arch::Lstm => "4N",
            };
            return Err(format!(
                "{}: array `W` has shape {wshape:?}; expected 2-D (N, {gates}) for --arch {}",
                path.display(),
                arch.name()
            )
            .into());
        }
        let hidden = wshape.first().copied().unwrap_or(0);
        let spec = ModelSpec {
            arch,
            activation,
            gru_convention: conv,
            hidden,
            // `U` is (I, k·N); a 1-D `U` (files from earlier versions) means one input.
            inputs: match ushape.as_slice() {
                [_] => 1,
                s => s.first().copied().unwrap_or(0),
            },
            outputs: oshape.get(1).copied().unwrap_or(1),
        };
        let m = model::build(&spec).map_err(|e| format!("{}: {e}", path.display()))?;
        let shapes = crate::store::block_shapes(&m.blocks());
        // Exactly the model's blocks, as the PyTorch reader requires its keys.
        let extra: Vec<&String> = names
            .iter()
            .filter(|n| !shapes.iter().any(|(b, _)| b == *n))
            .collect();
        if !extra.is_empty() {
            let expected: Vec<&String> = shapes.iter().map(|(b, _)| b).collect();
            let hint = if extra.iter().any(|n| *n == "bh") && arch == Arch::Gru {
                " (`bh` belongs to a reset-after GRU: pass --gru-convention reset-after)"
            } else {
                ""
            };
            return Err(format!(
                "{}: unexpected arrays {extra:?} for a {} network (expected {expected:?}){hint}",
                path.display(),
                arch.name()
            )
            .into());
        }
        // Biases are 1-D (README); the store's reader also takes a row or column.
        for (name, shape) in &shapes {
            if shape.len() == 1 {
                let found = shape_of(name)?;
                if found.len() != 1 {
                    return Err(format!(
                        "{}: array `{name}` has shape {found:?}; a bias is 1-D, expected {shape:?}",
                        path.display()
                    )
                    .into());
                }
            }
        }
        let p = match &tensors {
            Some(sd) => crate::store::state_dict_blocks(path, sd, &shapes)?,
            None => crate::store::read_npz_blocks(path, &shapes)?,
        };
        (spec, p)
    };
    if (spec.inputs, spec.outputs) != (exp.task.kind.inputs(), exp.task.kind.outputs()) {
        return Err(format!(
            "{}: the network has {} inputs and {} outputs but the task {} has {} and {} (choose the task with --config)",
            path.display(),
            spec.inputs,
            spec.outputs,
            exp.task.kind.name(),
            exp.task.kind.inputs(),
            exp.task.kind.outputs()
        )
        .into());
    }
    if let Some(bad) = params.iter().position(|v| !v.is_finite()) {
        return Err(format!(
            "{}: parameter {bad} is {} (NaN/Inf weights)",
            path.display(),
            params[bad]
        )
        .into());
    }
    let m = model::build(&spec).map_err(|e| format!("{}: {e}", path.display()))?;
    if params.len() != m.param_count() {
        return Err(format!(
            "{}: {} parameters, the model needs {}",
            path.display(),
            params.len(),
            m.param_count()
        )
        .into());
    }
    let d = network::analyze(
        &exp,
        m.as_ref(),
        &params,
        &DynamicsSettings::from_experiment(&exp),
    )?;
    // `<file name>.dynamics`: `net.npz` and `net.safetensors` must not share results.
    let out = args.out.clone().unwrap_or_else(|| {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".dynamics");
        path.with_file_name(name)
    });
    if out.exists() && !out.is_dir() {
        return Err(format!(
            "{}: the results directory is an existing file (choose another --out)",
            out.display()
        )
        .into());
    }
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    d.save(&out, &name)?;
    emit(&d, args.json, &out)
}

/// The store's networks that did not diverge; an error if it has none at all, a warning if
/// every one diverged (the stages then write empty results, as `rnndyn run` does).
fn analysable_records(store: &Store, display: &Path) -> Result<Vec<NetworkRecord>, AppError> {
    let all = store.records()?;
    if all.is_empty() {
        return Err(format!(
            "{}: no trained networks (run `rnndyn train --out {}` first)",
            display.display(),
            display.display()
        )
        .into());
    }
    let records = stages::analysable(&all);
    if records.is_empty() {
        eprintln!(
            "warning: {}: all {} networks diverged in training; there is nothing to analyse",
            display.display(),
            all.len()
        );
    }
    Ok(records)
}

fn topology(args: &StoreArgs) -> Result<ExitCode, AppError> {
    let store = Store::open(&args.store)?;
    let exp = stages::store_experiment(&store)?;
    let analysable = analysable_records(&store, &args.store)?;
    let any = !analysable.is_empty();
    let records: Vec<_> = analysable
        .into_iter()
        .filter(|r| store.network_dir(&r.id).join("dynamics.json").is_file())
        .collect();
    if any && records.is_empty() {
        return Err(format!(
            "{}: no analysed networks (run `rnndyn fixed-points {}` first)",
            args.store.display(),
            args.store.display()
        )
        .into());
    }
    let d = stages::topology_stage(&exp, &store, &records)?;
    eprintln!(
        "topological distances of {} networks ([analysis] networks = {:?}): {}",
        d.rows(),
        exp.network_set.name(),
        store
            .root()
            .join("analysis/topology_distances.npy")
            .display()
    );
    Ok(ExitCode::SUCCESS)
}

fn geometry(args: &StoreArgs) -> Result<ExitCode, AppError> {
    let store = Store::open(&args.store)?;
    let exp = stages::store_experiment(&store)?;
    let records = analysable_records(&store, &args.store)?;
    let (d, _) = stages::geometry_stage(&exp, &store, &records)?;
    if d.rows() == 0 && !records.is_empty() {
        eprintln!(
            "warning: no network to compare ([analysis] networks = {:?} selects none of the {} trained); \
             `networks = \"all\"` compares every network that did not diverge",
            exp.network_set.name(),
            records.len()
        );
    }
    eprintln!(
        "SVCCA and CKA distances of {} networks ([analysis] networks = {:?}) in {}",
        d.rows(),
        exp.network_set.name(),
        store.root().join("analysis").display()
    );
    Ok(ExitCode::SUCCESS)
}

fn report(args: &StoreArgs) -> Result<ExitCode, AppError> {
    let store = Store::open(&args.store)?;
    // The report reads the store's settings: fail here, as the other stages do, rather
    // than describe the store with the built-in defaults.
    stages::store_experiment(&store)?;
    let records = analysable_records(&store, &args.store)?;
    if !records.is_empty()
        && !records
            .iter()
            .any(|r| store.network_dir(&r.id).join("dynamics.json").is_file())
    {
        eprintln!(
            "warning: {}: no network has been analysed yet; the report has the training \
             results only (run `rnndyn fixed-points {}`, `topology` and `geometry` first)",
            args.store.display(),
            args.store.display()
        );
    }
    let path = crate::report::write_report(&store)?;
    eprintln!("report: {}", path.display());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::{error_lines, StageTimings};

    #[derive(Debug)]
    struct Outer {
        message: String,
        source: std::io::Error,
    }
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.message)
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.source)
        }
    }

    #[test]
    fn error_lines_skip_causes_the_message_repeats() {
        let cause = || std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let repeated = Outer {
            message: "a.npy: no such file".into(),
            source: cause(),
        };
        assert_eq!(
            error_lines(&repeated),
            ["rnndyn: error: a.npy: no such file"]
        );
        let new_info = Outer {
            message: "cannot load a.npy".into(),
            source: cause(),
        };
        assert_eq!(
            error_lines(&new_info),
            [
                "rnndyn: error: cannot load a.npy",
                "  caused by: no such file"
            ]
        );
    }

    #[test]
    fn timings_keep_stage_order() {
        let t = StageTimings {
            stages: vec![
                ("train".into(), 1.5),
                ("fixed points".into(), 0.25),
                ("geometry, \"embedding\"".into(), 2.0),
            ],
        };
        let text = t.json().unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["fixed points"], 0.25);
        assert_eq!(parsed["geometry, \"embedding\""], 2.0);
        let train = text.find("\"train\"").unwrap();
        let fixed = text.find("\"fixed points\"").unwrap();
        let geometry = text.find("\"geometry").unwrap();
        assert!(train < fixed && fixed < geometry, "{text}");
    }
}
