//! `kiln check`: the drift checker over deploy records — every file kiln deployed is synced,
//! drifted (modified, missing, mode or type changed) or stale (dist moved on since).

use std::process::ExitCode;

use kiln_core::Diagnostic;
use kiln_deploy::drift::FileState;
use kiln_deploy::survey::{repair, survey};

use crate::args::{CheckArgs, GlobalArgs};
use crate::report::{Reporter, failure};
use crate::settings::Context;

pub fn run(
    args: &CheckArgs,
    global: &GlobalArgs,
    reporter: &Reporter,
) -> Result<ExitCode, Diagnostic> {
    if let Some(manifest) = &args.manifest {
        return run_manifest(manifest, args, global, reporter);
    }
    let (env, state) = Context::deploy_env(global)?;
    let mut survey = survey(&state).map_err(|e| failure(&e))?;
    if let Some(in_use) = Context::tools_in_use(global) {
        survey.retire(&in_use);
    }
    let mut repaired = Vec::new();
    if args.fix {
        // The 1Password command comes from the configuration; without a library, the default.
        let op_command = || {
            Context::load(global, None)
                .map(|context| crate::settings::op_command(&context.config))
                .unwrap_or_default()
        };
        let repairs = repair(&mut survey, &env, args.dry_run, op_command);
        for problem in &repairs.failed {
            reporter.stderr(&format!("not restored: {problem}\n"));
        }
        repaired = repairs.done;
    }
    if args.diff {
        reporter.stdout(&diffs(&survey));
    }
    let counts = survey.counts();
    let drift = survey.drift();
    if args.json {
        reporter.json(&serde_json::json!({ "synced": !drift, "counts": counts, "files": survey.files, "repairs": repaired }));
        return Ok(ExitCode::from(u8::from(drift)));
    }
    let mut out = String::new();
    for repair in &repaired {
        out.push_str(&format!("{repair}\n"));
    }
    let detail = |d: &Option<String>| d.as_ref().map(|d| format!("  — {d}")).unwrap_or_default();
    for file in survey
        .files
        .iter()
        .filter(|f| args.full || f.state != FileState::Synced)
    {
        if args.full {
            out.push_str(&format!(
                "{:<9} {}/{} ({})  {}{}\n",
                file.state.as_str(),
                file.tool,
                file.profile,
                file.scope,
                file.path,
                detail(&file.detail)
            ));
        } else {
            out.push_str(&format!(
                "{:<9} {}{}\n",
                file.state.as_str(),
                file.path,
                detail(&file.detail)
            ));
        }
    }
    let summary: Vec<String> = counts
        .iter()
        .map(|(state, n)| format!("{n} {state}"))
        .collect();
    out.push_str(&format!(
        "{}: {} deployments, {}\n",
        reporter.bold(if drift { "drift" } else { "synced" }),
        survey.records.len(),
        if summary.is_empty() {
            "no files".to_string()
        } else {
            summary.join(", ")
        }
    ));
    reporter.stderr(&out);
    Ok(ExitCode::from(u8::from(drift)))
}

/// A unified diff per drifted file, from what kiln deployed to what is live.
fn diffs(survey: &kiln_deploy::survey::Survey) -> String {
    let mut out = String::new();
    for file in survey
        .files
        .iter()
        .filter(|f| f.state == FileState::Modified)
    {
        let live = std::fs::read(&file.path).unwrap_or_default();
        match survey.wanted(file) {
            Ok(Some(wanted)) => match (std::str::from_utf8(&wanted), std::str::from_utf8(&live)) {
                (Ok(wanted), Ok(live)) => out.push_str(
                    &similar::TextDiff::from_lines(wanted, live)
                        .unified_diff()
                        .context_radius(3)
                        .header(
                            &format!("{} (kiln)", file.path),
                            &format!("{} (live)", file.path),
                        )
                        .to_string(),
                ),
                _ => out.push_str(&format!("binary files differ: {}\n", file.path)),
            },
            Ok(None) => out.push_str(&format!(
                "{}: kiln deployed a symlink here; `kiln check --fix` puts it back\n",
                file.path
            )),
            Err(error) => out.push_str(&format!("{}: not shown: {error}\n", file.path)),
        }
    }
    out
}

/// `kiln check --manifest FILE`: exit 0 synced, 1 drift, 2 an invalid manifest.
fn run_manifest(
    path: &std::path::Path,
    args: &CheckArgs,
    global: &GlobalArgs,
    reporter: &Reporter,
) -> Result<ExitCode, Diagnostic> {
    use kiln_deploy::pairs::{PairState, check_pairs};
    let spec = match kiln_core::document::read_file::<kiln_model::CheckManifestSpec>(
        path,
        kiln_core::source::Format::Json,
        kiln_model::schema::DocumentKind::CheckManifest,
    ) {
        Ok(spec) => spec,
        Err((source, problems)) => {
            let sources = source
                .map(|source| (source.path.clone(), std::sync::Arc::new(source)))
                .into_iter()
                .collect();
            reporter.diagnostics(&sources, &problems.into_sorted());
            return Ok(ExitCode::from(2));
        }
    };
    let (env, _) = Context::deploy_env(global)?;
    let base = path.parent().unwrap_or(std::path::Path::new("."));
    let report =
        check_pairs(&spec, base, &env.home, args.fix, args.dry_run).map_err(|e| failure(&e))?;
    let drift = !report.synced;
    if args.json {
        reporter.json(&report);
        return Ok(ExitCode::from(u8::from(drift)));
    }
    let mut out = String::new();
    for repair in &report.repairs {
        out.push_str(&format!(
            "{} {} → {}\n",
            if args.dry_run { "would copy" } else { "copied" },
            repair.from.display(),
            repair.to.display()
        ));
    }
    for file in report
        .files
        .iter()
        .filter(|f| args.full || f.state != PairState::Synced)
    {
        out.push_str(&format!(
            "{:<10} {}  ⇄  {}\n",
            format!("{:?}", file.state).to_lowercase(),
            file.a.display(),
            file.b.display()
        ));
    }
    let summary: Vec<String> = report
        .counts
        .iter()
        .map(|(state, n)| format!("{n} {}", serialize_name(state)))
        .collect();
    out.push_str(&format!(
        "{}: {}\n",
        reporter.bold(if drift { "drift" } else { "synced" }),
        summary.join(", ")
    ));
    reporter.stderr(&out);
    Ok(ExitCode::from(u8::from(drift)))
}

/// A state's name as JSON spells it (`missing_a`).
fn serialize_name(state: &impl serde::Serialize) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
