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
    deployments: Vec<Row>,
    /// `tool/profile` builds in dist/ with no deployment on this machine.
    undeployed: Vec<String>,
}

/// One deployment, with what `kiln sync` would do about its live edits.
#[derive(Debug, Serialize)]
struct Row {
    #[serde(flatten)]
    deployment: Deployment,
    /// Live edits `kiln sync --apply-promote` would move into the library.
    would_promote: usize,
    /// Edits on both sides (or ties) that need `--prefer live|source`.
    needs_tie_break: usize,
    /// Seconds since the epoch when kiln last wrote the deployment's record.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_deploy: Option<u64>,
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
    let context = Context::load(global, None).ok();
    let library = context.as_ref().map(|c| c.location.clone());
    let project = context.map(Context::open);
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
    let (env, _) = Context::deploy_env(global)?;
    let op_command = kiln_deploy::secrets::OpCommand::default();
    let deployments = survey
        .deployments()
        .into_iter()
        .zip(&survey.records)
        .map(|(deployment, (path, record))| {
            let compared = library.as_ref().and_then(|library| {
                super::sync::compare_deployment(
                    record,
                    &library.dist(),
                    &library.root,
                    &env,
                    &state,
                    &op_command,
                )
                .ok()
            });
            let (would_promote, needs_tie_break) = sync_counts(compared.as_deref());
            let last_deploy = std::fs::metadata(path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_secs());
            Row {
                deployment,
                would_promote,
                needs_tie_break,
                last_deploy,
            }
        })
        .collect();
    let status = Status {
        deployments,
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
    for row in &status.deployments {
        let d = &row.deployment;
        let mut detail: Vec<String> = d
            .counts
            .iter()
            .filter(|(state, _)| **state != FileState::Synced)
            .map(|(state, n)| format!("{n} {state}"))
            .collect::<Vec<String>>();
        if row.would_promote > 0 {
            detail.push(format!("{} would promote", row.would_promote));
        }
        if row.needs_tie_break > 0 {
            detail.push(format!("{} need --prefer", row.needs_tie_break));
        }
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
        .any(|r| r.deployment.state == DeploymentState::Drift)
    {
        out.push_str("see the files with `kiln check`; put them back with `kiln check --fix`\n");
    } else if status
        .deployments
        .iter()
        .any(|r| r.deployment.state == DeploymentState::Stale)
    {
        out.push_str("dist has newer builds; `kiln deploy` brings them live\n");
    }
    reporter.stdout(&out);
    Ok(ExitCode::SUCCESS)
}

/// What the sync comparator found in one deployment: (would promote, needs a tie-break).
fn sync_counts(compared: Option<&[kiln_deploy::sync::Compared]>) -> (usize, usize) {
    use kiln_deploy::sync::Comparison;
    let compared = compared.unwrap_or_default();
    let promote = compared
        .iter()
        .filter(|c| c.comparison == Comparison::LiveNewer && c.promotable())
        .count();
    let ties = compared
        .iter()
        .filter(|c| {
            matches!(
                c.comparison,
                Comparison::BothAdvanced | Comparison::EqualMtimeDifferentContent
            )
        })
        .count();
    (promote, ties)
}
