//! Command-line interface (clap).

use clap::{Parser, Subcommand};

/// Train populations of small recurrent networks, find their fixed points and compare
/// them by geometry and topology.
#[derive(Debug, Parser)]
#[command(name = "rnndyn", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the default study.
    Run,
    /// Compare two activity matrices (SVCCA, CKA, Procrustes).
    Compare(crate::commands::compare::CompareArgs),
    /// Embed a distance matrix by MDS (classical or SMACOF).
    Embed(crate::commands::embed::EmbedArgs),
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
