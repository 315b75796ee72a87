use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = rnndyn::cli::Cli::parse();
    match rnndyn::app::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("rnndyn: error: {err}");
            let mut source = err.source();
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::from(2)
        }
    }
}
