//! `kiln deploy`: build (memoised) then materialise dist/ live, plan first, safe by
//! construction: conflicts are listed all at once and nothing is written while any remains.

use std::process::ExitCode;

use kiln_core::Diagnostic;
use kiln_deploy::deploy::{DeployReport, DeployRequest, LinkMode, Target, deploy};
use kiln_deploy::plan::{Action, DeployOptions, DeployPlan};
use serde::Serialize;

use crate::args::{BuildArgs, DeployArgs, GlobalArgs, OutputFormat};
use crate::report::{Reporter, failure};
use crate::settings::{Context, Located};

#[derive(Serialize)]
struct Report<'a> {
    ok: bool,
    dry_run: bool,
    plans: &'a [DeployPlan],
    applied: &'a [kiln_deploy::apply::Applied],
    /// A dry run's secret references, not resolved.
    unresolved_secrets: &'a [String],
    /// References whose value is empty.
    empty_secrets: &'a [String],
}

pub fn run(
    global: &GlobalArgs,
    args: &DeployArgs,
    reporter: &Reporter,
) -> Result<ExitCode, Diagnostic> {
    let build = BuildArgs {
        profile: args.profile.clone(),
        tool: args.tool.clone(),
        all_tools: args.all_tools,
        all: false,
        check: false,
        strict: false,
        explain: false,
        format: OutputFormat::Human,
    };
    let builds = if args.no_build {
        None
    } else {
        let (built, code) = super::build::build_and_report(global, &build, reporter)?;
        if code != ExitCode::SUCCESS || !built.ok() {
            return Ok(code);
        }
        let builds = built.targets();
        // The process ends soon: freeing the library entry by entry would only cost time.
        std::mem::forget(built);
        Some(builds)
    };
    let located = Located::find(global)?;
    let dist = located.location.dist();
    let context = located.config_only(args.profile.as_deref())?;
    let config = context.config;
    // --no-build: what dist holds for the profile (the named tool, or every tool built).
    let builds = match builds {
        Some(builds) => builds,
        None => {
            let profile = config
                .choose_profile(&context.hostname)
                .map(|c| c.name)
                .ok_or_else(|| {
                    Diagnostic::error(
                        "kiln::config::no_profile",
                        "no profile given and none configured for this machine",
                    )
                    .help("name one: `kiln deploy personal --no-build`")
                })?;
            let tools = match &args.tool {
                Some(tool) => vec![tool.clone()],
                None => dist.built_tools(&profile),
            };
            if tools.is_empty() {
                return Err(Diagnostic::error(
                    "kiln::deploy::not_built",
                    format!("nothing is built for profile `{profile}` in dist/"),
                )
                .help(format!(
                    "run `kiln build {profile} --all-tools`, or deploy without --no-build"
                )));
            }
            tools
                .into_iter()
                .map(|tool| (tool, profile.clone()))
                .collect()
        }
    };
    let (env, state) = Context::deploy_env(global)?;
    let op_command = crate::settings::op_command(&config);
    // `op` may sit waiting for a sign-in: a terminal is told what the deploy waits for.
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let waiting = |reference: &str| {
        if terminal {
            eprintln!(
                "waiting for `{}` to resolve {reference} (gives up after {}s)",
                op_command.program,
                op_command.timeout.as_secs()
            );
        }
    };
    let request = DeployRequest {
        dist: &dist,
        builds,
        target: match &args.project {
            Some(dir) => Target::project(dir).map_err(|e| failure(&e))?,
            None => Target::Global,
        },
        mode: match args.mode {
            crate::args::LinkMode::Copy => LinkMode::Copy,
            crate::args::LinkMode::Symlink => LinkMode::Symlink,
        },
        options: DeployOptions {
            adopt: args.adopt,
            backup: args.backup,
            force: args.force,
            overwrite: &[],
            adopt_under: &[],
        },
        dry_run: args.dry_run,
        op_command: op_command.clone(),
        env: &env,
        state: &state,
        waiting_for_secret: &waiting,
        resolved_secrets: None,
    };
    let report = deploy(&request).map_err(|e| failure(&e))?;
    render(&report, args.format, reporter);
    Ok(ExitCode::from(if report.blocked() {
        3
    } else if !report.drifted().is_empty() {
        4
    } else {
        0
    }))
}

fn render(report: &DeployReport, format: OutputFormat, reporter: &Reporter) {
    let blocked = report.blocked();
    match format {
        OutputFormat::Json => reporter.json(&Report {
            ok: !blocked,
            dry_run: report.dry_run,
            plans: &report.plans,
            applied: &report.applied,
            unresolved_secrets: &report.unresolved_secrets,
            empty_secrets: &report.empty_secrets,
        }),
        OutputFormat::Human => {
            let mut out = human(&report.plans, report.dry_run, blocked, reporter);
            for (original, backup) in report.applied.iter().flat_map(|a| &a.backups) {
                out.push_str(&format!("kept the earlier {original} as {backup}\n"));
            }
            if !report.unresolved_secrets.is_empty() {
                out.push_str(&format!(
                    "dry run: {} secret reference(s) not resolved (op is not run; files holding them are compared by their keyed hash): {}\n",
                    report.unresolved_secrets.len(),
                    report.unresolved_secrets.join(", ")
                ));
            }
            reporter.stderr(&out);
        }
    }
    // A warning is a diagnostic: on stderr whatever the format.
    for reference in &report.empty_secrets {
        reporter.stderr(&format!(
            "warning: {reference} resolved to an empty value; check the field name in 1Password\n"
        ));
    }
}

fn human(plans: &[DeployPlan], dry_run: bool, blocked: bool, reporter: &Reporter) -> String {
    let mut out = String::new();
    for plan in plans {
        let count = |f: fn(&Action) -> bool| plan.steps.iter().filter(|s| f(&s.action)).count();
        let adopted = count(|a| matches!(a, Action::Adopt));
        out.push_str(&format!(
            "{} {}/{} ({}): {} create, {} update, {} remove, {} unchanged{}\n",
            reporter.bold(if dry_run || blocked {
                "plan"
            } else {
                "deployed"
            }),
            plan.tool,
            plan.profile,
            plan.scope.as_str(),
            count(|a| matches!(a, Action::Create | Action::Backup { .. })),
            count(|a| matches!(a, Action::Update)),
            count(|a| matches!(a, Action::Remove)),
            count(|a| matches!(a, Action::Keep)),
            if adopted > 0 {
                format!(", {adopted} taken over")
            } else {
                String::new()
            },
        ));
        for step in &plan.steps {
            let line = match &step.action {
                Action::Keep => continue,
                Action::Create | Action::Update | Action::Remove | Action::Adopt if !dry_run => {
                    continue;
                }
                Action::Create => "create".to_string(),
                Action::Update => "update".to_string(),
                Action::Remove => "remove".to_string(),
                Action::Adopt => {
                    "take over (a differing file is kept as NAME.kiln-backup)".to_string()
                }
                Action::Backup { to } => format!("back up to {to}, then write"),
                Action::Conflict { reason } => format!("CONFLICT: {reason}"),
                Action::Drift { reason } => format!("drift, left alone: {reason}"),
                Action::Refused { reason } => format!("REFUSED: {reason}"),
            };
            match &step.through {
                Some(link) => out.push_str(&format!(
                    "  {} → {}  {line}\n",
                    link.display(),
                    step.path.display()
                )),
                None => out.push_str(&format!("  {}  {line}\n", step.path.display())),
            }
        }
    }
    if blocked {
        out.push_str(
            "nothing was written: resolve the conflicts above, or rerun with --adopt (take the files over), \
             --backup (move them aside first) or --force (overwrite)\n",
        );
    } else if dry_run {
        out.push_str("dry run: nothing was written\n");
    }
    let drifted = plans
        .iter()
        .flat_map(|plan| &plan.steps)
        .filter(|step| matches!(step.action, Action::Drift { .. }))
        .count();
    if drifted > 0 {
        out.push_str(&format!(
            "{drifted} file(s) changed since kiln deployed them were left alone (exit 4): `kiln check --diff` shows the changes; rerun with --force to overwrite them, or keep your edit by moving it into the library\n"
        ));
    }
    out
}
