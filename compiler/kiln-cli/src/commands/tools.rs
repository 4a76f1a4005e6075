//! `kiln tools [TOOL]`: the tool definitions in use — built-in or the library's own — and,
//! for one tool, its outputs per kind and scope, what it cannot express, and its notes.

use std::process::ExitCode;

use kiln_core::Diagnostic;
use kiln_core::diagnostic::did_you_mean;
use kiln_emit::ToolRegistry;
use kiln_emit::tools::ToolOrigin;
use kiln_model::ComponentKind;
use serde::Serialize;

use crate::args::{GlobalArgs, OutputFormat};
use crate::report::Reporter;
use crate::settings::Context;

#[derive(Serialize)]
struct ToolSummary<'a> {
    name: &'a str,
    description: Option<&'a str>,
    origin: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    definition: Option<&'a kiln_model::ToolSpec>,
}

/// Where a home puts its prefix, per system: `$CLAUDE_CONFIG_DIR/`, `macos: ~/Library/…`.
fn home_text(home: &kiln_model::HomeSpec) -> String {
    let place = |place: &kiln_model::HomePlace| {
        let root = match (&place.env, &place.default) {
            (Some(env), Some(default)) => format!("${env} (else ~/{default})"),
            (Some(env), None) => format!("${env}"),
            (None, Some(default)) => format!("~/{default}"),
            (None, None) => "~".to_string(),
        };
        format!("{root}/{}", home.replacement(place))
    };
    let mut parts = Vec::new();
    if !home.place.is_empty() {
        parts.push(place(&home.place));
    }
    for (os, specific) in [
        ("linux", &home.linux),
        ("macos", &home.macos),
        ("windows", &home.windows),
    ] {
        if let Some(specific) = specific {
            parts.push(format!("{os}: {}", place(specific)));
        }
    }
    parts.join("; ")
}

pub fn run(
    global: &GlobalArgs,
    tool: Option<&str>,
    format: OutputFormat,
    reporter: &Reporter,
) -> Result<ExitCode, Diagnostic> {
    let context = Context::load(global, None)?;
    let (registry, problems) = ToolRegistry::for_library(&context.library);
    if problems.has_errors() {
        reporter.diagnostics(&context.library.sources, &problems.into_sorted());
        return Ok(ExitCode::from(1));
    }
    let origin = |o: &ToolOrigin| match o {
        ToolOrigin::Builtin => "built-in".to_string(),
        ToolOrigin::Library(path) => format!("library ({path})"),
    };
    let names: Vec<&str> = match tool {
        Some(name) => {
            if registry.get(name).is_none() {
                return Err(Diagnostic::error(
                    "kiln::tools::unknown",
                    format!("unknown tool `{name}`"),
                )
                .maybe_help(did_you_mean(name, registry.names())));
            }
            vec![name]
        }
        None => registry.names().collect(),
    };
    let summaries: Vec<ToolSummary<'_>> = names
        .iter()
        .map(|name| {
            let definition = registry.get(name).expect("listed");
            ToolSummary {
                name,
                description: definition.spec.description.as_deref(),
                origin: origin(&definition.origin),
                definition: tool.is_some().then_some(&definition.spec),
            }
        })
        .collect();
    match format {
        OutputFormat::Json => reporter.json(&summaries),
        OutputFormat::Human => {
            let mut out = String::new();
            if tool.is_none() {
                let width = names.iter().map(|n| n.len()).max().unwrap_or(0);
                for summary in &summaries {
                    out.push_str(&format!(
                        "{:<width$}  {}  [{}]\n",
                        summary.name,
                        summary.description.unwrap_or_default(),
                        summary.origin
                    ));
                }
                out.push_str("\n`kiln tools <tool>` shows where each kind goes and what a tool cannot express.\n");
            } else {
                let definition = &registry.get(names[0]).expect("checked").spec;
                out.push_str(&format!(
                    "{} — {}\n",
                    reporter.bold(&definition.name),
                    definition.description.as_deref().unwrap_or_default()
                ));
                for kind in ComponentKind::ALL {
                    if kind == ComponentKind::Context {
                        continue;
                    }
                    out.push_str(&format!("\n{}\n", reporter.bold(kind.folder())));
                    let outputs: Vec<_> = definition
                        .outputs
                        .iter()
                        .filter(|o| o.kind == kind)
                        .collect();
                    if outputs.is_empty() {
                        let reason = definition
                            .unsupported
                            .get(&kind)
                            .map_or("no output", String::as_str);
                        out.push_str(&format!("  not expressible: {reason}\n"));
                    }
                    for output in outputs {
                        out.push_str(&format!(
                            "  {:<7} {:<18} {}{}\n",
                            output.scope.as_str(),
                            serde_json::to_value(output.strategy)
                                .ok()
                                .and_then(|v| v.as_str().map(str::to_string))
                                .unwrap_or_default(),
                            output.path,
                            output
                                .key
                                .as_ref()
                                .map(|k| format!("  → {k}"))
                                .unwrap_or_default()
                        ));
                        if let Some(when) = &output.when {
                            out.push_str(&format!("          only when: {when}\n"));
                        }
                        if let Some(yields) = &output.yields_to {
                            out.push_str(&format!(
                                "          yields to: {} ({})\n",
                                yields.capability(),
                                if yields.any_scope() {
                                    "when the profile builds a tool that provides it"
                                } else {
                                    "when another tool of the profile provides it where the component lands"
                                }
                            ));
                        }
                        if !output.provides.is_empty() {
                            let provides: Vec<String> =
                                output.provides.iter().map(ToString::to_string).collect();
                            out.push_str(&format!("          provides: {}\n", provides.join(", ")));
                        }
                    }
                }
                if !definition.homes.is_empty() {
                    out.push_str(&format!("\n{}\n", reporter.bold("homes (global files)")));
                    for home in &definition.homes {
                        out.push_str(&format!("  {:<16} {}\n", home.prefix, home_text(home)));
                    }
                }
                if !definition.notes.is_empty() {
                    out.push_str(&format!("\n{}\n", reporter.bold("notes")));
                    for note in &definition.notes {
                        out.push_str(&format!("  - {note}\n"));
                    }
                }
            }
            reporter.stdout(&out);
        }
    }
    Ok(ExitCode::SUCCESS)
}
