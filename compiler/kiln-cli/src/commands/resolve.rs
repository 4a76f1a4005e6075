//! `kiln resolve PROFILE`: the selected components in order, each with why it is in, and the
//! effective variables.

use std::collections::BTreeMap;
use std::process::ExitCode;

use kiln_core::Diagnostic;
use kiln_core::profile::Variable;
use kiln_core::selection::{Reason, Selected};
use kiln_model::{ComponentKind, ProfileToolSpec, Scope};
use serde::Serialize;

use crate::args::{GlobalArgs, OutputFormat};
use crate::report::Reporter;

#[derive(Serialize)]
struct Report<'a> {
    profile: &'a str,
    chosen_by: &'a str,
    chain: &'a [String],
    tools: &'a BTreeMap<String, ProfileToolSpec>,
    components: Vec<Entry<'a>>,
    variables: &'a BTreeMap<String, Variable>,
}

#[derive(Serialize)]
struct Entry<'a> {
    kind: ComponentKind,
    priority: i32,
    source: &'a str,
    #[serde(flatten)]
    selected: &'a Selected,
}

pub fn run(
    global: &GlobalArgs,
    profile: Option<&str>,
    format: OutputFormat,
    reporter: &Reporter,
) -> Result<ExitCode, Diagnostic> {
    let (project, resolved, because) = match super::resolve_configured(global, profile, reporter)? {
        Ok(resolved) => resolved,
        Err(code) => return Ok(code),
    };
    let library = &project.library;
    let entries: Vec<Entry<'_>> = resolved
        .selection
        .components
        .iter()
        .map(|selected| {
            let component = &library.components[&selected.id];
            Entry {
                kind: selected.id.kind,
                priority: component.priority(),
                source: &component.source,
                selected,
            }
        })
        .collect();
    let profile = &resolved.profile;
    match format {
        OutputFormat::Json => reporter.json(&Report {
            profile: &profile.name,
            chosen_by: &because,
            chain: &profile.chain,
            tools: &profile.tools,
            components: entries,
            variables: &profile.variables,
        }),
        OutputFormat::Human => {
            let mut out = String::new();
            out.push_str(&format!("profile {}", reporter.bold(&profile.name)));
            if let Some(description) = &profile.description {
                out.push_str(&format!(" — {description}"));
            }
            out.push('\n');
            out.push_str(&format!("chain: {}\n", profile.chain.join(" → ")));
            let tools: Vec<&str> = profile.tools.keys().map(String::as_str).collect();
            out.push_str(&format!(
                "tools: {}\n",
                if tools.is_empty() {
                    "(none)".to_string()
                } else {
                    tools.join(", ")
                }
            ));
            let width = entries
                .iter()
                .map(|e| e.selected.id.id.len())
                .max()
                .unwrap_or(0);
            for kind in ComponentKind::ALL {
                let of_kind: Vec<&Entry<'_>> = entries.iter().filter(|e| e.kind == kind).collect();
                if of_kind.is_empty() {
                    continue;
                }
                out.push_str(&format!(
                    "\n{} ({})\n",
                    reporter.bold(kind.folder()),
                    of_kind.len()
                ));
                for entry in of_kind {
                    let scopes = scope_text(entry.selected);
                    let reasons: Vec<String> = entry
                        .selected
                        .reasons
                        .iter()
                        .map(Reason::to_string)
                        .collect();
                    out.push_str(&format!(
                        "  {:<width$}  {:>4}  {}{}\n",
                        entry.selected.id.id,
                        entry.priority,
                        scopes,
                        reasons.join("; "),
                    ));
                }
            }
            if !profile.variables.is_empty() {
                out.push_str(&format!("\n{}\n", reporter.bold("variables")));
                let width = profile.variables.keys().map(String::len).max().unwrap_or(0);
                for (name, variable) in &profile.variables {
                    out.push_str(&format!(
                        "  {name:<width$} = {}  ({})\n",
                        variable.value, variable.origin
                    ));
                }
            }
            reporter.stdout(&out);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn scope_text(selected: &Selected) -> String {
    if selected.scopes.is_empty() {
        return String::new();
    }
    let names: Vec<&str> = selected
        .scopes
        .iter()
        .map(|scope| match scope {
            Scope::Global => "global",
            Scope::Project => "project",
            Scope::Any => "any",
        })
        .collect();
    format!("[{}] ", names.join(", "))
}
