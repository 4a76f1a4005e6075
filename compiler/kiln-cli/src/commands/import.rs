//! `kiln import TOOL PATH`: one tool's configuration into the library, item by item.

use std::process::ExitCode;

use kiln_core::Diagnostic;
use kiln_import::{ImportPlan, ImportRequest, ImportScope, Outcome, apply, plan};
use serde::Serialize;

use crate::args::{GlobalArgs, ImportArgs, ImportScopeArg, OutputFormat};
use crate::report::{Reporter, failure};
use crate::settings::Located;

#[derive(Serialize)]
struct Report<'a> {
    ok: bool,
    dry_run: bool,
    #[serde(flatten)]
    plan: &'a ImportPlan,
    summary: std::collections::BTreeMap<&'static str, std::collections::BTreeMap<Outcome, usize>>,
    files_written: usize,
}

pub fn run(
    global: &GlobalArgs,
    args: &ImportArgs,
    reporter: &Reporter,
) -> Result<ExitCode, Diagnostic> {
    let located = Located::find(global)?;
    let root = &located.location.root;
    let paths = kiln_core::library::library_paths(root);
    let (components, profiles) = (root.join(&paths.components), root.join(&paths.profiles));
    let request = ImportRequest {
        tool: &args.tool,
        source: &args.path,
        scope: match args.scope {
            ImportScopeArg::Global => ImportScope::Global,
            ImportScopeArg::Project => ImportScope::Project,
        },
        components: &components,
        profiles: &profiles,
        profile: &args.profile,
    };
    let plan = plan(&request, args.force).map_err(|e| failure(&e))?;
    let applied = if args.dry_run {
        Default::default()
    } else {
        apply(&plan, &request).map_err(|e| failure(&e))?
    };
    let ok = !plan.incomplete();
    match args.format {
        OutputFormat::Json => reporter.json(&Report {
            ok,
            dry_run: args.dry_run,
            plan: &plan,
            summary: plan.summary(),
            files_written: applied.files,
        }),
        OutputFormat::Human => reporter.stderr(&human(&plan, args, applied.files, reporter)),
    }
    Ok(ExitCode::from(if ok { 0 } else { 1 }))
}

fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Imported => "imported",
        Outcome::ImportedWithWarnings => "imported with warnings",
        Outcome::Unchanged => "unchanged",
        Outcome::Exists => "exists, left alone",
        Outcome::Skipped => "skipped",
        Outcome::NotImported => "not imported",
    }
}

fn human(plan: &ImportPlan, args: &ImportArgs, written: usize, reporter: &Reporter) -> String {
    let mut out = String::new();
    for item in &plan.items {
        let what = match &item.id {
            Some(id) => format!("{}:{id}", item.kind),
            None => item.kind.to_string(),
        };
        match item.outcome {
            Outcome::NotImported | Outcome::Skipped | Outcome::Exists => {
                let reason = match item.outcome {
                    Outcome::Exists => {
                        "the library holds other bytes there; rerun with --force to overwrite"
                            .to_string()
                    }
                    _ => item.reason.clone().unwrap_or_default(),
                };
                out.push_str(&format!(
                    "  {} {what} ({}): {reason}\n",
                    outcome_name(item.outcome),
                    item.source
                ));
            }
            _ => {}
        }
        for warning in &item.warnings {
            out.push_str(&format!("  warning: {what} ({}): {warning}\n", item.source));
        }
    }
    out.push_str(&format!(
        "{} {} ({}) from {}:\n",
        reporter.bold(if args.dry_run {
            "import plan"
        } else {
            "imported"
        }),
        plan.tool,
        plan.scope.as_str(),
        args.path.display()
    ));
    for (kind, outcomes) in plan.summary() {
        let parts: Vec<String> = outcomes
            .iter()
            .map(|(outcome, n)| format!("{n} {}", outcome_name(*outcome)))
            .collect();
        out.push_str(&format!("  {kind}: {}\n", parts.join(", ")));
    }
    if args.dry_run {
        out.push_str("dry run: nothing was written\n");
    } else {
        out.push_str(&format!(
            "{written} library file(s) written; profile `{}` {}\n",
            args.profile,
            if plan.profile_changes {
                "written"
            } else {
                "unchanged"
            }
        ));
    }
    if plan.incomplete() {
        out.push_str("some items could not be imported (listed above; exit 1): they stay only in the tool's files\n");
    }
    out
}
