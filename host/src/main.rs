use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = rnndyn::cli::Cli::parse();
    match cli.command {
        rnndyn::cli::Command::Run => ExitCode::SUCCESS,
        rnndyn::cli::Command::Compare(args) => report(rnndyn::commands::compare::run(&args)),
        rnndyn::cli::Command::Embed(args) => report(rnndyn::commands::embed::run(&args)),
    }
}

/// Prints an error once and maps it to exit code 2.
fn report<E: std::error::Error>(r: Result<(), E>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rnndyn: {e}");
            ExitCode::from(2)
        }
    }
}
