//! `kiln diff A B [TOOL]`: what differs between two profiles — the selection, then every
//! output file, as unified diffs. Built in memory; nothing is written.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use kiln_build::emit_in_memory;
use kiln_core::Diagnostic;
use kiln_core::artifact::Artifact;
use kiln_core::diagnostic::did_you_mean;
use kiln_core::profile::{Profile, resolve_profile};
use kiln_core::selection::{Selection, select};
use kiln_emit::{EmitRequest, ToolRegistry};
use kiln_model::BuildScope;
use serde::Serialize;
use similar::TextDiff;

use crate::args::{GlobalArgs, OutputFormat};
use crate::report::Reporter;
use crate::settings::Context;

#[derive(Serialize)]
struct Report {
    same: bool,
    only_in_a: Vec<String>,
    only_in_b: Vec<String>,
    files: Vec<FileDiff>,
}

#[derive(Serialize)]
struct FileDiff {
    tool: String,
    path: String,
    change: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    diff: String,
}

pub fn run(
    global: &GlobalArgs,
    profiles: [&String; 2],
    tool: Option<&str>,
    format: OutputFormat,
    reporter: &Reporter,
) -> Result<ExitCode, Diagnostic> {
    let context = Context::load(global, None)?;
    let library = &context.library;
    let mut diagnostics = context.diagnostics.clone();
    diagnostics.extend(kiln_core::validate::validate(
        library,
        &context.machine_variables(),
        &ToolRegistry::known_tools(library),
    ));
    let (registry, tool_problems) = ToolRegistry::for_library(library);
    diagnostics.extend(tool_problems);
    if diagnostics.has_errors() {
        reporter.diagnostics(&library.sources, &diagnostics.into_sorted());
        return Ok(ExitCode::from(2));
    }
    let mut resolved: Vec<(Profile, Selection)> = Vec::new();
    for name in profiles {
        let profile = match resolve_profile(library, name, &context.machine_variables()) {
            Ok(profile) => profile,
            Err(problems) => {
                reporter.diagnostics(&library.sources, &problems.into_sorted());
                return Ok(ExitCode::from(2));
            }
        };
        let (selection, problems) = select(library, &profile);
        let Some(selection) = selection else {
            reporter.diagnostics(&library.sources, &problems.into_sorted());
            return Ok(ExitCode::from(2));
        };
        resolved.push((profile, selection));
    }
    let ids = |s: &Selection| s.ids().map(ToString::to_string).collect::<BTreeSet<_>>();
    let (a_ids, b_ids) = (ids(&resolved[0].1), ids(&resolved[1].1));
    let only_in_a: Vec<String> = a_ids.difference(&b_ids).cloned().collect();
    let only_in_b: Vec<String> = b_ids.difference(&a_ids).cloned().collect();

    let tools: BTreeSet<String> = match tool {
        Some(tool) => {
            if registry.get(tool).is_none() {
                return Err(Diagnostic::error(
                    "kiln::diff::unknown_tool",
                    format!("unknown tool `{tool}`"),
                )
                .maybe_help(did_you_mean(tool, registry.names())));
            }
            BTreeSet::from([tool.to_string()])
        }
        None => resolved
            .iter()
            .flat_map(|(p, _)| p.tools.keys().cloned())
            .collect(),
    };
    let mut files = Vec::new();
    for tool_name in &tools {
        let definition = registry.get(tool_name).expect("checked or listed");
        let mut outputs: Vec<BTreeMap<String, Artifact>> = Vec::new();
        for (profile, selection) in &resolved {
            let request = EmitRequest {
                library,
                profile,
                selection,
                tool: definition,
                scopes: BuildScope::ALL.to_vec(),
                registry: &registry,
            };
            match emit_in_memory(&request) {
                Ok((artifacts, _)) => outputs.push(artifacts),
                Err(problems) => {
                    reporter.diagnostics(&library.sources, &problems.into_sorted());
                    return Ok(ExitCode::from(2));
                }
            }
        }
        let paths: BTreeSet<&String> = outputs[0].keys().chain(outputs[1].keys()).collect();
        for path in paths {
            let (a, b) = (outputs[0].get(path), outputs[1].get(path));
            let (change, diff) = match (a, b) {
                (Some(a), Some(b)) if a.bytes == b.bytes => continue,
                (Some(a), Some(b)) => ("changed", unified(&a.bytes, &b.bytes, path, profiles)),
                (Some(a), None) => ("only in a", unified(&a.bytes, b"", path, profiles)),
                (None, Some(b)) => ("only in b", unified(b"", &b.bytes, path, profiles)),
                (None, None) => continue,
            };
            files.push(FileDiff {
                tool: tool_name.clone(),
                path: path.clone(),
                change,
                diff,
            });
        }
    }
    let same = only_in_a.is_empty() && only_in_b.is_empty() && files.is_empty();
    match format {
        OutputFormat::Json => reporter.json(&Report {
            same,
            only_in_a,
            only_in_b,
            files,
        }),
        OutputFormat::Human => {
            let mut out = String::new();
            if same {
                out.push_str(&format!(
                    "profiles `{}` and `{}` produce the same output\n",
                    profiles[0], profiles[1]
                ));
            }
            for id in &only_in_a {
                out.push_str(&format!("- {id}  (only in {})\n", profiles[0]));
            }
            for id in &only_in_b {
                out.push_str(&format!("+ {id}  (only in {})\n", profiles[1]));
            }
            for file in &files {
                out.push_str(&format!(
                    "\n{} {}/{} ({})\n",
                    reporter.bold("==="),
                    file.tool,
                    file.path,
                    file.change
                ));
                out.push_str(&file.diff);
            }
            reporter.stdout(&out);
        }
    }
    Ok(ExitCode::from(u8::from(!same)))
}

fn unified(a: &[u8], b: &[u8], path: &str, profiles: [&String; 2]) -> String {
    match (std::str::from_utf8(a), std::str::from_utf8(b)) {
        (Ok(a), Ok(b)) => TextDiff::from_lines(a, b)
            .unified_diff()
            .context_radius(3)
            .header(
                &format!("{}/{path}", profiles[0]),
                &format!("{}/{path}", profiles[1]),
            )
            .to_string(),
        _ => "binary files differ\n".to_string(),
    }
}
