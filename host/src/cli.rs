//! Command-line interface: raw clap flags. `app.rs` turns them into validated settings.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Train populations of small recurrent networks, find their fixed points and compare
/// them by representational geometry and by dynamical topology.
#[derive(Debug, Parser)]
#[command(name = "rnndyn", version, about, long_about = None)]
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands of `rnndyn`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole study (train, analyse, report) on the default or a given experiment.
    Run(RunArgs),
    /// Train every network of an experiment's sweep into a population store.
    Train(TrainArgs),
    /// Fixed points, linearised dynamics and topology of a store's networks, of one
    /// network directory, or of a network file (rnndyn or PyTorch layout, .npz or .safetensors).
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
    /// Check that a (sharded) store holds every network of its experiment; rebuild its catalog.
    Merge(MergeArgs),
    /// Write (and with --submit, submit) Slurm job-array scripts that train a population.
    Slurm(SlurmArgs),
    /// Export a trained network: as Rust `const` items for a no_std firmware (--rust) or as
    /// a PyTorch state dict in a `.npz` or `.safetensors` file (--torch).
    Export(ExportArgs),
}

/// A store to work on.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Population store directory.
    #[arg(value_name = "STORE")]
    pub store: PathBuf,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N", value_parser = threads_in_range)]
    pub threads: Option<usize>,
}

/// Layout of a network file given to `fixed-points`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FileLayout {
    /// Decide from the array names (`weight_hh_l0` → PyTorch, `W` → rnndyn).
    Auto,
    /// rnndyn's blocks (`W`, `U`, `b`, `Wo`, `bo`; `bh` for a reset-after GRU), as in a
    /// store's `params.npz`.
    Rnndyn,
    /// A PyTorch state dict (`weight_ih_l0`, `weight_hh_l0`, ..., readout `weight` and `bias`).
    Torch,
}

/// Arguments of `rnndyn fixed-points`.
#[derive(Debug, Args)]
pub struct FixedPointsArgs {
    /// A population store, a network directory inside one, or a network file
    /// (`.npz`, or `.safetensors` with F32/F64/F16/BF16 tensors).
    #[arg(value_name = "TARGET")]
    pub target: PathBuf,
    /// Print the results as one JSON document on stdout: for a network directory or file its
    /// fixed points and topology; for a store an array with each analysed network's `id`
    /// and `dynamics.json` summary.
    #[arg(long)]
    pub json: bool,
    /// Recompute a store's networks that already have results (a network directory or
    /// file given directly is always analysed, and its result files rewritten).
    #[arg(long)]
    pub force: bool,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N", value_parser = threads_in_range)]
    pub threads: Option<usize>,
    /// Experiment (task and analysis settings) for a bare network file (default: built-in).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Layout of a network file (`.npz` or `.safetensors`).
    #[arg(long, value_enum, default_value = "auto")]
    pub layout: FileLayout,
    /// Architecture of an rnndyn-layout network file (vanilla, ugrnn, gru, lstm); a PyTorch
    /// file's cell follows from its shapes, and a different --arch is an error.
    #[arg(long)]
    pub arch: Option<String>,
    /// Activation of a network file: tanh (default) or relu. PyTorch GRU and LSTM cells are
    /// always tanh, so relu with one of them is an error.
    #[arg(long, value_name = "NAME")]
    pub activation: Option<String>,
    /// GRU convention of an rnndyn-layout GRU: `reset-before` (default) or `reset-after`.
    /// A PyTorch GRU is reset-after, so `reset-before` with one is an error; a cell that is
    /// not a GRU takes no convention.
    #[arg(long, value_name = "NAME")]
    pub gru_convention: Option<String>,
    /// Readout key prefix in a PyTorch file.
    #[arg(long, default_value = "readout.")]
    pub readout_prefix: String,
    /// Where to write the results for a network file (default: next to it, `<file>.dynamics/`
    /// with the whole file name, e.g. `net.npz.dynamics/`).
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
    #[arg(long, value_name = "N", value_parser = threads_in_range)]
    pub threads: Option<usize>,
    /// Training steps per network, overriding `[training] steps` of the experiment (the
    /// store's copy of the experiment records the value used).
    #[arg(long, value_name = "N")]
    pub steps: Option<u64>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Arguments of `rnndyn train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Experiment, threads, step count and progress bar.
    #[command(flatten)]
    pub population: PopulationArgs,
    /// Process only shard K of N of the sweep (e.g. `3/8`, 0-based K; sweep positions i with
    /// i % N == K), or `slurm` to take K and N from SLURM_ARRAY_TASK_ID/_COUNT.
    /// A sharded run does not rewrite catalog.csv: run `rnndyn merge` when all shards are done.
    #[arg(long, value_name = "K/N|slurm")]
    pub shard: Option<String>,
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

/// Arguments of `rnndyn merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Population store directory.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Experiment whose networks must all be present (default: DIR/experiment.toml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Remove leftovers of killed processes (`.tmp-*`, incomplete network directories).
    /// Only while no shard is running.
    #[arg(long)]
    pub clean: bool,
}

/// Arguments of `rnndyn slurm`.
#[derive(Debug, Args)]
pub struct SlurmArgs {
    /// Experiment file (TOML); the built-in default experiment if omitted.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Population store directory on a filesystem shared by the compute nodes.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Number of array tasks (shards of the sweep).
    #[arg(long, value_name = "N")]
    pub array: usize,
    /// Slurm partition.
    #[arg(long, value_name = "P")]
    pub partition: Option<String>,
    /// Time limit per job (Slurm syntax, e.g. 02:00:00).
    #[arg(long, value_name = "T")]
    pub time: Option<String>,
    /// CPUs per array task (also the task's training threads; default 1).
    #[arg(long, value_name = "C")]
    pub cpus_per_task: Option<u32>,
    /// Memory per job (Slurm syntax, e.g. 2G).
    #[arg(long, value_name = "M")]
    pub mem: Option<String>,
    /// Extra sbatch option for both jobs, verbatim (repeatable), e.g. --sbatch-arg=--account=lab.
    #[arg(long = "sbatch-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub sbatch_arg: Vec<String>,
    /// Submit: the array with `sbatch`, then the merge job depending on it.
    #[arg(long)]
    pub submit: bool,
}

/// `export`: exactly one of `--rust` and `--torch`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("format").required(true).args(["rust", "torch"])))]
pub struct ExportArgs {
    /// Write Rust source (`const` dims, activation, cell and `f32` parameter arrays) for the
    /// network directory NETWORK_DIR (`STORE/networks/<id>`).
    #[arg(long, value_name = "NETWORK_DIR")]
    pub rust: Option<PathBuf>,
    /// Write the network directory NETWORK_DIR as a PyTorch state dict (float32) in a
    /// `.npz` (`numpy.load`) or `.safetensors` file (`safetensors.torch.load_file`), by the
    /// extension of -o: `weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0` of an `nn.RNN`
    /// (tanh or relu), `nn.GRU` or `nn.LSTM`, and `readout.weight`, `readout.bias` of an
    /// `nn.Linear`. Vanilla, reset-after GRU (tanh) and LSTM (tanh) networks only: UGRNN,
    /// reset-before GRU and relu GRU/LSTM have no PyTorch module.
    #[arg(long, value_name = "NETWORK_DIR")]
    pub torch: Option<PathBuf>,
    /// Output file (`.rs` for --rust; `.npz` or `.safetensors` for --torch).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub out: PathBuf,
    /// With --torch: key prefix of the recurrent module's arrays, e.g. `rnn.` for
    /// `rnn.weight_ih_l0` (default: none; `fixed-points` finds it from the `weight_hh_l0` key).
    #[arg(long, value_name = "PREFIX", conflicts_with = "rust")]
    pub rnn_prefix: Option<String>,
    /// With --torch: key prefix of the readout's arrays (default `readout.`, as
    /// `fixed-points --readout-prefix`).
    #[arg(long, value_name = "PREFIX", conflicts_with = "rust")]
    pub readout_prefix: Option<String>,
}

/// Arguments of `rnndyn run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Experiment, threads, step count and progress bar.
    #[command(flatten)]
    pub population: PopulationArgs,
    /// Output directory: the population store, its analyses and the report.
    #[arg(long, value_name = "DIR", default_value = "rnndyn-study")]
    pub out: PathBuf,
}

/// Most worker threads a command accepts: far more than any machine this runs on has cores,
/// and a mistyped count would otherwise start that many threads at once.
pub const MAX_THREADS: usize = 1024;

/// `--threads N`: a whole number in `1..=MAX_THREADS`.
fn threads_in_range(s: &str) -> Result<usize, String> {
    let n: usize = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a whole number"))?;
    if n == 0 || n > MAX_THREADS {
        return Err(format!("{n}: need 1 to {MAX_THREADS} threads"));
    }
    Ok(n)
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
