//! `kiln status`: one line per deployment on this machine — what was deployed where, in which
//! mode, and whether it is synced, drifted or behind dist — plus builds in the library's dist/
//! that were never deployed. Read-only; the per-file detail is `kiln check --full`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use kiln_core::Diagnostic;
use kiln_store::dist::DistLayout;
use serde::Serialize;

use super::check::{Survey, survey, tool_registry};
use crate::args::{GlobalArgs, OutputFormat};
use crate::report::Reporter;
use crate::settings::Context;

#[derive(Debug, Serialize)]
struct Deployment {
    tool: String,
    profile: String,
    scope: &'static str,
    root: String,
    /// `copy`, `symlink`, or `mixed` (symlink mode still copies files a tool rewrites).
    mode: &'static str,
    files: usize,
    /// File counts by state (`synced`, `modified`, `missing`, `mode`, `stale`).
    counts: BTreeMap<&'static str, usize>,
    /// `synced`, `drift` (files edited, deleted or retyped) or `stale` (dist moved on).
    state: &'static str,
}

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
    let Survey {
        records,
        files,
        origins,
        ..
    } = survey(&tool_registry(global, false))?;
    let mut deployments: Vec<Deployment> = records
        .iter()
        .map(|(_, record)| {
            let links = record.files.values().filter(|e| e.link.is_some()).count();
            Deployment {
                tool: record.tool.clone(),
                profile: record.profile.clone(),
                scope: record.scope.as_str(),
                root: record.root.clone(),
                mode: match links {
                    0 => "copy",
                    n if n == record.files.len() => "symlink",
                    _ => "mixed",
                },
                files: record.files.len(),
                counts: BTreeMap::new(),
                state: "synced",
            }
        })
        .collect();
    for (file, (index, _)) in files.iter().zip(&origins) {
        *deployments[*index].counts.entry(file.state).or_default() += 1;
    }
    for deployment in &mut deployments {
        let drifted = ["modified", "missing", "mode"]
            .iter()
            .any(|state| deployment.counts.contains_key(state));
        deployment.state = if drifted {
            "drift"
        } else if deployment.counts.contains_key("stale") {
            "stale"
        } else {
            "synced"
        };
    }
    // Builds never deployed: only when a library is at hand (status works without one).
    let deployed: BTreeSet<(String, String)> = records
        .iter()
        .map(|(_, r)| (r.tool.clone(), r.profile.clone()))
        .collect();
    let mut undeployed = Vec::new();
    if let Ok(context) = Context::load(global, None) {
        let layout = DistLayout {
            root: context.location.root.join(context.library.paths().dist),
        };
        let mut tools: Vec<_> = std::fs::read_dir(&layout.root)
            .map(|entries| entries.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        tools.sort();
        for tool_dir in tools.iter().filter(|p| p.is_dir()) {
            let Some(tool) = tool_dir.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let mut profiles: Vec<String> = std::fs::read_dir(tool_dir)
                .map(|entries| {
                    entries
                        .flatten()
                        .filter_map(|e| {
                            let name = e.file_name().to_string_lossy().into_owned();
                            name.strip_suffix(".manifest.json").map(str::to_string)
                        })
                        .collect()
                })
                .unwrap_or_default();
            profiles.sort();
            for profile in profiles {
                if !deployed.contains(&(tool.to_string(), profile.clone())) {
                    undeployed.push(format!("{tool}/{profile}"));
                }
            }
        }
    }
    let status = Status {
        deployments,
        undeployed,
    };
    if format == OutputFormat::Json {
        reporter.json(&serde_json::to_value(&status).unwrap_or_default());
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
            .filter(|(state, _)| **state != "synced")
            .map(|(state, n)| format!("{n} {state}"))
            .collect();
        out.push_str(&format!(
            "{:<7} {}/{} ({}, {}) in {}: {} file{}{}\n",
            d.state,
            d.tool,
            d.profile,
            d.scope,
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
    if status.deployments.iter().any(|d| d.state == "drift") {
        out.push_str("see the files with `kiln check`; put them back with `kiln check --fix`\n");
    } else if status.deployments.iter().any(|d| d.state == "stale") {
        out.push_str("dist has newer builds; `kiln deploy` brings them live\n");
    }
    reporter.stderr(&out);
    Ok(ExitCode::SUCCESS)
}
