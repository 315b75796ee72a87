use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = rnndyn::cli::Cli::parse();
    match rnndyn::app::run(cli) {
        Ok(code) => code,
        Err(err) => {
            for line in rnndyn::app::error_lines(err.as_ref()) {
                eprintln!("{line}");
            }
            ExitCode::from(2)
        }
    }
}
