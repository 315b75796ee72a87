//! The application: turns parsed CLI flags into validated settings once, runs a command,
//! and reports errors with context.

use crate::cli::{Cli, Command, ExportArgs, PopulationArgs, RunArgs, TrainArgs};
use crate::config::{self, Experiment};
use crate::population::{self, Shard, TrainOptions};
use crate::store::Store;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

/// Any error a command reports (printed once by `main`, exit code 2).
pub type AppError = Box<dyn std::error::Error + Send + Sync>;

/// Raised by Ctrl-C: long loops check it and stop cleanly, keeping finished work.
pub static CANCEL: AtomicBool = AtomicBool::new(false);

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode, AppError> {
    match cli.command {
        Command::Train(args) => train(args),
        Command::Run(args) => run_study(args),
        Command::Export(args) => export(args),
    }
}

/// Loads the experiment named by `--config`, or the built-in default.
pub fn experiment(args: &PopulationArgs) -> Result<(Experiment, String), AppError> {
    match &args.config {
        Some(path) => {
            let exp = config::load(path)?;
            let text = std::fs::read_to_string(path)?;
            Ok((exp, text))
        }
        None => {
            let text = config::default_toml();
            Ok((config::parse(&text, "<built-in default>")?, text))
        }
    }
}

/// Parses `K/N`.
pub fn parse_shard(s: &str) -> Result<Shard, AppError> {
    let err = || -> AppError { format!("--shard {s:?}: expected K/N with 0 <= K < N, e.g. 0/4").into() };
    let (k, n) = s.split_once('/').ok_or_else(err)?;
    let index: usize = k.trim().parse().map_err(|_| err())?;
    let count: usize = n.trim().parse().map_err(|_| err())?;
    if count == 0 || index >= count {
        return Err(err());
    }
    Ok(Shard { index, count })
}

fn train_options(args: &PopulationArgs) -> Result<TrainOptions, AppError> {
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    if args.threads == Some(0) {
        return Err("--threads 0: need at least one thread".into());
    }
    Ok(TrainOptions { threads: args.threads, shard, progress: !args.quiet })
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
    let opts = train_options(&args.population)?;
    install_ctrlc();
    let store = Store::create(out, &text)?;
    let summary = population::train_population(&exp, &store, &opts, &CANCEL)?;
    eprintln!(
        "{} networks in {}: {} trained now, {} already done, {} passed, {} diverged",
        summary.total,
        out.display(),
        summary.trained,
        summary.already_done,
        summary.passed,
        summary.diverged
    );
    if summary.cancelled {
        eprintln!("interrupted: rerun the same command to resume");
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::SUCCESS)
}

fn export(args: ExportArgs) -> Result<ExitCode, AppError> {
    crate::export::export_rust(&args.rust, &args.out)?;
    eprintln!("wrote {} (from {})", args.out.display(), args.rust.display());
    Ok(ExitCode::SUCCESS)
}

fn run_study(args: RunArgs) -> Result<ExitCode, AppError> {
    let (exp, text) = experiment(&args.population)?;
    let opts = train_options(&args.population)?;
    install_ctrlc();
    let store = Store::create(&args.out, &text)?;
    let summary = population::train_population(&exp, &store, &opts, &CANCEL)?;
    if summary.cancelled {
        eprintln!("interrupted: rerun the same command to resume");
        return Ok(ExitCode::from(130));
    }
    let records = store.rebuild_catalog()?;
    let passed = records.iter().filter(|r| r.passed).count();
    eprintln!("trained {} networks ({} passed); catalog: {}", records.len(), passed, args.out.join("catalog.csv").display());
    Ok(ExitCode::SUCCESS)
}
