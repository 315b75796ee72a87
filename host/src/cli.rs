//! Command-line interface: raw clap flags. `app.rs` turns them into validated settings.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Train populations of small recurrent networks, find their fixed points and compare
/// them by representational geometry and by dynamical topology.
#[derive(Debug, Parser)]
#[command(name = "rnndyn", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole study (train, analyse, report) on the default or a given experiment.
    Run(RunArgs),
    /// Train every network of an experiment's sweep into a population store.
    Train(TrainArgs),
    /// Export a trained network, e.g. as Rust `const` items for a no_std firmware.
    Export(ExportArgs),
}

/// Options shared by commands that train.
#[derive(Debug, Args, Clone)]
pub struct PopulationArgs {
    /// Experiment file (TOML); the built-in default experiment if omitted.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Process only shard K of N of the sweep (e.g. `3/8`, 0-based K).
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub population: PopulationArgs,
    /// Population store directory (created if missing; resumed if partly done).
    #[arg(long, value_name = "DIR", required_unless_present = "print_default_config")]
    pub out: Option<PathBuf>,
    /// Print the built-in default experiment as TOML and exit.
    #[arg(long)]
    pub print_default_config: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write Rust source (`const` dims, activation, cell and `f32` parameter arrays) for the
    /// network directory NETWORK_DIR (`STORE/networks/<id>`).
    #[arg(long, value_name = "NETWORK_DIR")]
    pub rust: PathBuf,
    /// Output file.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub population: PopulationArgs,
    /// Output directory (default: ./rnndyn-study).
    #[arg(long, value_name = "DIR", default_value = "rnndyn-study")]
    pub out: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }
}
