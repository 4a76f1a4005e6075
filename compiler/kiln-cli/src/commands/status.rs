//! `kiln status`: one line per deployment on this machine — what was deployed where, in which
//! mode, and whether it is synced, drifted or behind dist — plus builds in the library's dist/
//! that were never deployed. Read-only; the per-file detail is `kiln check --full`.

use std::process::ExitCode;

use kiln_core::Diagnostic;
use kiln_deploy::drift::FileState;
use kiln_deploy::survey::{Deployment, DeploymentState, survey};
use serde::Serialize;

use crate::args::{GlobalArgs, OutputFormat};
use crate::report::{Reporter, failure};
use crate::settings::Context;

#[derive(Debug, Serialize)]
struct Status {
    deployments: Vec<Deployment>,
    /// `tool/profile` builds in dist/ with no deployment on this machine.
    undeployed: Vec<String>,
}

pub fn run(
    global: &GlobalArgs,
    format: OutputFormat,
    reporter: &Reporter,
) -> Result<ExitCode, Diagnostic> {
    let (_, state) = Context::deploy_env(global)?;
    let mut survey = survey(&state).map_err(|e| failure(&e))?;
    // Builds never deployed and retired tools: only when a library is at hand (status works
    // without one).
    let project = Context::load(global, None).ok().map(Context::open);
    let undeployed = project
        .as_ref()
        .map(|project| survey.undeployed(&project.dist().root))
        .unwrap_or_default();
    if let Some(in_use) = project
        .filter(|project| !project.has_errors())
        .and_then(|project| project.tools_in_use())
    {
        survey.retire(&in_use);
    }
    let status = Status {
        deployments: survey.deployments(),
        undeployed,
    };
    if format == OutputFormat::Json {
        reporter.json(&status);
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    if status.deployments.is_empty() {
        out.push_str("nothing deployed on this machine yet (`kiln deploy PROFILE TOOL`)\n");
    }
    for d in &status.deployments {
        let detail: Vec<String> = d
            .counts
            .iter()
            .filter(|(state, _)| **state != FileState::Synced)
            .map(|(state, n)| format!("{n} {state}"))
            .collect();
        out.push_str(&format!(
            "{:<7} {}/{} ({}, {}) in {}: {} file{}{}\n",
            d.state.as_str(),
            d.tool,
            d.profile,
            d.scope.as_str(),
            d.mode,
            d.root,
            d.files,
            if d.files == 1 { "" } else { "s" },
            if detail.is_empty() {
                String::new()
            } else {
                format!(", {}", detail.join(", "))
            }
        ));
    }
    if !status.undeployed.is_empty() {
        out.push_str(&format!(
            "built, not deployed here: {}\n",
            status.undeployed.join(", ")
        ));
    }
    if status
        .deployments
        .iter()
        .any(|d| d.state == DeploymentState::Drift)
    {
        out.push_str("see the files with `kiln check`; put them back with `kiln check --fix`\n");
    } else if status
        .deployments
        .iter()
        .any(|d| d.state == DeploymentState::Stale)
    {
        out.push_str("dist has newer builds; `kiln deploy` brings them live\n");
    }
    reporter.stderr(&out);
    Ok(ExitCode::SUCCESS)
}
