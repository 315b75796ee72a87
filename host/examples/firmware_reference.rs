//! Host reference of the firmware example: runs the firmware's computation
//! (`firmware/src/scenario.rs`, the same source file) on the host, with the parameters read
//! from a network directory of a population store instead of the exported `const` arrays,
//! and prints the same lines as the device. `firmware/run-qemu.sh` compares the two.
//!
//! ```text
//! cargo run --release -p rnndyn --example firmware_reference -- firmware/network
//! ```

use rnndyn::model::Arch;
use rnndyn_core::cell::GruCell;
use std::io::Write;
use std::process::ExitCode;

#[path = "../../firmware/src/scenario.rs"]
mod scenario;

struct Stdout(std::io::StdoutLock<'static>);

impl scenario::Sink for Stdout {
    fn write(&mut self, bytes: &[u8]) {
        let _ = self.0.write_all(bytes);
    }
}

/// The host has no instruction counter: every count prints as 0.
struct NoClock;

impl scenario::Clock for NoClock {
    fn instructions(&mut self) -> u64 {
        0
    }
}

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: firmware_reference NETWORK_DIR");
        return ExitCode::from(2);
    };
    let net = match rnndyn::export::load_network(std::path::Path::new(&dir)) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("firmware_reference: {e}");
            return ExitCode::from(2);
        }
    };
    let s = &net.spec;
    if s.arch != Arch::Gru
        || (s.hidden, s.inputs, s.outputs) != (scenario::N, scenario::I, scenario::O)
    {
        eprintln!(
            "firmware_reference: the firmware scenario needs a GRU-16 with 3 inputs and 3 outputs"
        );
        return ExitCode::from(2);
    }
    let cell = GruCell::<{ scenario::N }, { scenario::I }>::new(s.activation, s.gru_convention);
    let mut out = Stdout(std::io::stdout().lock());
    match scenario::run(&net.record.id, cell, &net.params, &mut out, &mut NoClock) {
        Ok(_) => {
            scenario::Line::new(&mut out).str("done ok").end();
            ExitCode::SUCCESS
        }
        Err(e) => {
            scenario::Line::new(&mut out)
                .str("error")
                .key("core")
                .str(scenario::error_name(e))
                .end();
            ExitCode::FAILURE
        }
    }
}
