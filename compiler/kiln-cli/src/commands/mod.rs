//! One file per command. Each returns the process exit code, or a diagnostic when it could
//! not run at all.

mod build;
mod check;
mod config;
mod deploy;
mod dev;
mod diff;
mod graph;
mod resolve;
mod status;
mod tools;
mod validate;

use std::process::ExitCode;

use kiln_core::Diagnostic;
use kiln_core::profile::{Profile, resolve_profile};
use kiln_core::selection::{Selection, select};
use kiln_core::validate::validate as validate_library;

use crate::args::{Cli, Command, ConfigCommand};
use crate::report::Reporter;
use crate::settings::Context;

/// Runs the command the user asked for.
pub fn run(cli: Cli, reporter: &Reporter) -> Result<ExitCode, Diagnostic> {
    match cli.command {
        Command::Validate { format } => validate::run(&cli.global, format, reporter),
        Command::Resolve { profile, format } => {
            resolve::run(&cli.global, profile.as_deref(), format, reporter)
        }
        Command::Graph { profile, format } => {
            graph::run(&cli.global, profile.as_deref(), format, reporter)
        }
        Command::Config {
            command: ConfigCommand::Show { profile, format },
        } => config::show(&cli.global, profile.as_deref(), format, reporter),
        Command::Dev { command } => dev::run(&cli.global, command, reporter),
        Command::Tools { tool, format } => {
            tools::run(&cli.global, tool.as_deref(), format, reporter)
        }
        Command::Diff {
            profile_a,
            profile_b,
            tool,
            format,
        } => diff::run(
            &cli.global,
            [&profile_a, &profile_b],
            tool.as_deref(),
            format,
            reporter,
        ),
        Command::Build(args) => build::run(&cli.global, &args, reporter),
        Command::Deploy(args) => deploy::run(&cli.global, &args, reporter),
        Command::Check(args) => check::run(&args, &cli.global, reporter),
        Command::Status { format } => status::run(&cli.global, format, reporter),
    }
}

/// A profile resolved and selected on a library that validated, or the exit code after the
/// problems were printed.
pub struct Resolved {
    pub profile: Profile,
    pub selection: Selection,
    pub because: String,
}

/// Loads the library, validates all of it (printing every problem) and resolves one profile.
pub fn resolve_checked(
    context: &Context,
    reporter: &Reporter,
) -> Result<Result<Resolved, ExitCode>, Diagnostic> {
    let choice = context.profile()?;
    let mut diagnostics = context.diagnostics.clone();
    diagnostics.extend(validate_library(
        &context.library,
        &context.machine_variables(),
        &kiln_emit::ToolRegistry::known_tools(&context.library),
    ));
    let has_errors = diagnostics.has_errors();
    reporter.diagnostics(&context.library.sources, &diagnostics.into_sorted());
    if has_errors {
        return Ok(Err(ExitCode::from(1)));
    }
    let profile =
        match resolve_profile(&context.library, &choice.name, &context.machine_variables()) {
            Ok(profile) => profile,
            Err(problems) => {
                reporter.diagnostics(&context.library.sources, &problems.into_sorted());
                return Ok(Err(ExitCode::from(1)));
            }
        };
    // Warnings of this selection were printed by validation already.
    let (selection, problems) = select(&context.library, &profile);
    match selection {
        Some(selection) => Ok(Ok(Resolved {
            profile,
            selection,
            because: choice.because,
        })),
        None => {
            reporter.diagnostics(&context.library.sources, &problems.into_sorted());
            Ok(Err(ExitCode::from(1)))
        }
    }
}
