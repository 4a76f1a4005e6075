//! `kiln-cli`: the `kiln` binary, top of the pipeline. It turns command-line arguments and the
//! environment into settings ([`settings`]), runs one command (`commands/<verb>.rs`), and is the
//! only crate that prints: diagnostics through miette on stderr, machine output as JSON on
//! stdout.

mod args;
mod commands;
mod report;
mod settings;

use std::process::ExitCode;

use clap::Parser;

/// Runs `kiln` with the process's arguments and environment.
pub fn main() -> ExitCode {
    // Crash tests only: abort at the N-th failpoint (see kiln_store::fs::failpoint).
    let environment = settings::Environment::current();
    if let Some(n) = environment.failpoint {
        kiln_store::fs::arm_failpoint(n);
    }
    let args = args::Cli::parse();
    let reporter = report::Reporter::new(args.global.color, environment.no_color);
    match commands::run(args, &reporter) {
        Ok(code) => code,
        Err(failure) => {
            reporter.failure(&failure);
            ExitCode::from(1)
        }
    }
}
