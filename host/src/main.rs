use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = rnndyn::cli::Cli::parse();
    match cli.command {
        rnndyn::cli::Command::Run => ExitCode::SUCCESS,
    }
}
