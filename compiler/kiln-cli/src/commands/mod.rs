//! One file per command. Each returns the process exit code, or a diagnostic when it could
//! not run at all.

mod build;
mod check;
mod config;
mod deploy;
mod dev;
mod diff;
mod doctor;
mod graph;
mod import;
mod resolve;
mod status;
mod sync;
mod tools;
mod undeploy;
mod validate;

use std::process::ExitCode;

use kiln_build::{Project, Resolved};
use kiln_core::Diagnostic;

use crate::args::{Cli, Command, ConfigCommand, GlobalArgs};
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
        Command::Config {
            command: ConfigCommand::Set { key, value },
        } => config::write(&key, Some(&value), reporter),
        Command::Config {
            command: ConfigCommand::Unset { key },
        } => config::write(&key, None, reporter),
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
        Command::Undeploy(args) => undeploy::run(&cli.global, &args, reporter),
        Command::Import(args) => import::run(&cli.global, &args, reporter),
        Command::Sync(args) => sync::run(&cli.global, &args, reporter),
        Command::Doctor { format } => doctor::run(&cli.global, format, reporter),
        Command::Check(args) => check::run(&args, &cli.global, reporter),
        Command::Status { format } => status::run(&cli.global, format, reporter),
    }
}

/// Opens the project (load, validate, register tools), printing every problem found; the exit
/// code 1 when any is an error.
pub fn open_project(
    global: &GlobalArgs,
    profile: Option<&str>,
    reporter: &Reporter,
) -> Result<Result<Project, ExitCode>, Diagnostic> {
    let project = Context::load(global, profile)?.open();
    let problems = project.diagnostics.clone().into_sorted();
    reporter.diagnostics(project.sources(), &problems);
    if project.has_errors() {
        return Ok(Err(ExitCode::from(1)));
    }
    Ok(Ok(project))
}

/// A valid project's configured profile, resolved, with why it was chosen; every problem is
/// printed and the exit code is 1 when it does not resolve.
pub fn resolve_configured(
    global: &GlobalArgs,
    profile: Option<&str>,
    reporter: &Reporter,
) -> Result<Result<(Project, Resolved, String), ExitCode>, Diagnostic> {
    let project = match open_project(global, profile, reporter)? {
        Ok(project) => project,
        Err(code) => return Ok(Err(code)),
    };
    let choice = project.choose_profile()?;
    match project.resolve(&choice.name) {
        Ok(resolved) => Ok(Ok((project, resolved, choice.because))),
        Err(problems) => {
            reporter.diagnostics(project.sources(), &problems.into_sorted());
            Ok(Err(ExitCode::from(1)))
        }
    }
}
