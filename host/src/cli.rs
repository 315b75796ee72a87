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
    /// Fixed points, linearised dynamics and topology of a store's networks, of one
    /// network directory, or of a network file (rnndyn or PyTorch layout, .npz).
    FixedPoints(FixedPointsArgs),
    /// Pairwise topological distances of a store's analysed networks.
    Topology(StoreArgs),
    /// Hidden-state geometry of a store: SVCCA and CKA distance matrices.
    Geometry(StoreArgs),
    /// Compare two activity matrices (SVCCA, CKA, Procrustes).
    Compare(crate::commands::compare::CompareArgs),
    /// Embed a distance matrix by MDS (classical or SMACOF).
    Embed(crate::commands::embed::EmbedArgs),
    /// Figures, tables and the report of an analysed store.
    Report(StoreArgs),
}

/// A store to work on.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Population store directory.
    #[arg(value_name = "STORE")]
    pub store: PathBuf,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

/// Layout of a network file given to `fixed-points`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FileLayout {
    /// Decide from the array names (`weight_hh_l0` → PyTorch, `W` → rnndyn).
    Auto,
    Rnndyn,
    Torch,
}

#[derive(Debug, Args)]
pub struct FixedPointsArgs {
    /// A population store, a network directory inside one, or a network `.npz` file.
    #[arg(value_name = "TARGET")]
    pub target: PathBuf,
    /// Print the summary of one network as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Recompute networks that already have results.
    #[arg(long)]
    pub force: bool,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Experiment (task and analysis settings) for a bare `.npz` file (default: built-in).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Layout of a `.npz` file.
    #[arg(long, value_enum, default_value = "auto")]
    pub layout: FileLayout,
    /// Architecture of an rnndyn-layout `.npz` (vanilla, ugrnn, gru, lstm).
    #[arg(long)]
    pub arch: Option<String>,
    /// Activation of a `.npz` network (tanh or relu; PyTorch GRU/LSTM are tanh).
    #[arg(long, default_value = "tanh")]
    pub activation: String,
    /// GRU convention of an rnndyn-layout GRU (`reset-before` or `reset-after`).
    #[arg(long, default_value = "reset-before")]
    pub gru_convention: String,
    /// Readout key prefix in a PyTorch file.
    #[arg(long, default_value = "readout.")]
    pub readout_prefix: String,
    /// Where to write the results for a `.npz` file (default: next to it, `<file>.dynamics/`).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
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
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "print_default_config"
    )]
    pub out: Option<PathBuf>,
    /// Print the built-in default experiment as TOML and exit.
    #[arg(long)]
    pub print_default_config: bool,
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
