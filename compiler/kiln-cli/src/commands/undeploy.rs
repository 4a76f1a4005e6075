//! `kiln undeploy TOOL…|--all [--project DIR]`: take back what kiln deployed, keeping every
//! byte of the user's.

use std::process::ExitCode;

use kiln_core::Diagnostic;
use kiln_deploy::deploy::{DeployReport, Target};
use kiln_deploy::plan::Action;
use kiln_deploy::undeploy::{UndeployRequest, undeploy};
use serde::Serialize;

use crate::args::{GlobalArgs, OutputFormat, UndeployArgs};
use crate::report::{Reporter, failure};
use crate::settings::Context;

#[derive(Serialize)]
struct Report<'a> {
    ok: bool,
    dry_run: bool,
    plans: &'a [kiln_deploy::plan::DeployPlan],
}

pub fn run(
    global: &GlobalArgs,
    args: &UndeployArgs,
    reporter: &Reporter,
) -> Result<ExitCode, Diagnostic> {
    let (env, state) = Context::deploy_env(global)?;
    let request = UndeployRequest {
        tools: (!args.all).then(|| args.tools.clone()),
        target: match &args.project {
            Some(dir) => Target::project(dir).map_err(|e| failure(&e))?,
            None => Target::Global,
        },
        force: args.force,
        dry_run: args.dry_run,
        env: &env,
        state: &state,
    };
    let report = undeploy(&request).map_err(|e| failure(&e))?;
    let left = left_alone(&report);
    match args.format {
        OutputFormat::Json => reporter.json(&Report {
            ok: left == 0,
            dry_run: report.dry_run,
            plans: &report.plans,
        }),
        OutputFormat::Human => reporter.stderr(&human(&report, args, reporter)),
    }
    Ok(ExitCode::from(if left > 0 { 1 } else { 0 }))
}

fn left_alone(report: &DeployReport) -> usize {
    report
        .plans
        .iter()
        .flat_map(|plan| &plan.steps)
        .filter(|step| matches!(step.action, Action::Drift { .. }))
        .count()
}

fn human(report: &DeployReport, args: &UndeployArgs, reporter: &Reporter) -> String {
    let mut out = String::new();
    if report.plans.is_empty() {
        out.push_str("nothing to undeploy: no deployment of ");
        out.push_str(&if args.all {
            "any tool".to_string()
        } else {
            args.tools.join(", ")
        });
        out.push_str(" here (`kiln status` lists them)\n");
        return out;
    }
    for plan in &report.plans {
        let count = |f: fn(&Action) -> bool| plan.steps.iter().filter(|s| f(&s.action)).count();
        out.push_str(&format!(
            "{} {}/{} ({}): {} removed, {} shared files cleaned, {} released, {} left alone\n",
            reporter.bold(if report.dry_run {
                "would undeploy"
            } else {
                "undeployed"
            }),
            plan.tool,
            plan.profile,
            plan.scope.as_str(),
            count(|a| matches!(a, Action::Remove)),
            count(|a| matches!(a, Action::Update)),
            count(|a| matches!(a, Action::Keep)),
            count(|a| matches!(a, Action::Drift { .. })),
        ));
        for step in &plan.steps {
            let line = match &step.action {
                Action::Drift { reason } => format!("left alone: {reason}"),
                Action::Remove if report.dry_run => "remove".to_string(),
                Action::Update if report.dry_run => "remove kiln's keys".to_string(),
                _ => continue,
            };
            out.push_str(&format!("  {}  {line}\n", step.path.display()));
        }
    }
    if left_alone(report) > 0 {
        out.push_str(
            "files changed since kiln wrote them were left alone: `kiln check` shows them; rerun with --force to remove them too\n",
        );
    }
    out
}
