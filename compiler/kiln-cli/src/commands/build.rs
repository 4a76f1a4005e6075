//! `kiln build`: compile profiles into `dist/<tool>/<profile>/` for each tool.

use std::process::ExitCode;

use kiln_build::{
    BuildOutcome, BuildReport, BuildRequest, NoOpShortcut, ProfileChoice, ToolChoice,
};
use kiln_core::Diagnostic;
use serde::Serialize;

use crate::args::{BuildArgs, GlobalArgs, OutputFormat};
use crate::report::Reporter;
use crate::settings::{Environment, Located};

#[derive(Serialize)]
struct Summary<'a> {
    ok: bool,
    check: bool,
    builds: &'a [BuildOutcome],
}

/// What the build arguments ask kiln-build for.
pub fn request(args: &BuildArgs) -> BuildRequest {
    BuildRequest {
        profiles: if args.all {
            ProfileChoice::All
        } else {
            ProfileChoice::Configured(args.profile.clone())
        },
        tools: match (&args.tool, args.all, args.all_tools) {
            (Some(tool), _, _) => ToolChoice::Named(tool.clone()),
            (None, true, _) => ToolChoice::ProfileToolsIfAny,
            (None, false, true) => ToolChoice::ProfileTools,
            (None, false, false) => ToolChoice::Unspecified,
        },
        check: args.check,
        strict: args.strict,
    }
}

/// Runs a build and prints its report; `None` when it printed a failure (exit code given).
pub fn build_and_report(
    global: &GlobalArgs,
    args: &BuildArgs,
    reporter: &Reporter,
) -> Result<(BuildReport, ExitCode), Diagnostic> {
    let located = Located::find(global)?;
    let request = request(args);
    let shortcut = NoOpShortcut::new(&located.location.root, &located.outside_inputs(), &request);
    let progress = crate::report::BarProgress::new(reporter);
    let report = kiln_build::build(
        &request,
        shortcut,
        || Ok(located.load(args.profile.as_deref())?.into_inputs()),
        Some(&progress),
    )?;
    progress.finish();
    let code = render(&report, args, reporter);
    Ok((report, code))
}

pub fn run(
    global: &GlobalArgs,
    args: &BuildArgs,
    reporter: &Reporter,
) -> Result<ExitCode, Diagnostic> {
    let (report, code) = build_and_report(global, args, reporter)?;
    // The process ends right after this: freeing a large library and selection entry by
    // entry would only cost time.
    std::mem::forget(report);
    Ok(code)
}

fn render(report: &BuildReport, args: &BuildArgs, reporter: &Reporter) -> ExitCode {
    let (project, outcomes, diagnostics, failed, stages) = match report {
        BuildReport::UpToDate { summary } => {
            replay(summary, args, reporter);
            return ExitCode::SUCCESS;
        }
        BuildReport::Invalid { project } => {
            reporter.diagnostics(
                project.sources(),
                &project.diagnostics.clone().into_sorted(),
            );
            return ExitCode::from(1);
        }
        BuildReport::Built {
            project,
            outcomes,
            diagnostics,
            failed,
            stages,
        } => (project, outcomes, diagnostics, *failed, stages),
    };
    if Environment::current().timings {
        for stage in stages {
            reporter.stderr(&format!(
                "timing {}: {:.1} ms\n",
                stage.name,
                stage.took.as_secs_f64() * 1000.0
            ));
        }
    }
    let mut problems = project.diagnostics.clone();
    problems.extend(diagnostics.iter().cloned());
    reporter.diagnostics(project.sources(), &problems.into_sorted());
    let stale = outcomes.iter().any(|b| !b.stale.is_empty());
    match args.format {
        OutputFormat::Json => reporter.json(&Summary {
            ok: report.ok(),
            check: args.check,
            builds: outcomes,
        }),
        OutputFormat::Human => reporter.stderr(&human(outcomes, args, reporter, &project.dist())),
    }
    ExitCode::from(u8::from(failed || stale))
}

fn human(
    outcomes: &[BuildOutcome],
    args: &BuildArgs,
    reporter: &Reporter,
    layout: &kiln_store::dist::DistLayout,
) -> String {
    let mut out = String::new();
    for outcome in outcomes {
        let files = outcome.manifest.files.len();
        let target = format!("{}/{}", outcome.tool, outcome.profile);
        if args.check {
            if outcome.stale.is_empty() {
                out.push_str(&format!("up to date {target}: {files} files\n"));
            } else {
                out.push_str(&format!(
                    "{} {target}: {} of {files} files out of date\n",
                    reporter.bold("stale"),
                    outcome.stale.len()
                ));
                for path in &outcome.stale {
                    out.push_str(&format!("  {path}\n"));
                }
            }
        } else {
            out.push_str(&format!(
                "{} {target}: {files} files ({} written, {} unchanged, {} removed); {} units rebuilt, {} fresh\n",
                reporter.bold("built"),
                outcome.written.len(),
                outcome.unchanged,
                outcome.removed.len(),
                outcome.rebuilt.len(),
                outcome.fresh,
            ));
        }
        if args.explain {
            for rebuilt in &outcome.rebuilt {
                out.push_str(&format!("  rebuilt {}: {}\n", rebuilt.unit, rebuilt.reason));
            }
        }
    }
    if !args.check && !outcomes.is_empty() {
        out.push_str(&format!("output in {}\n", layout.root.display()));
    }
    out
}

/// Reports a skipped build from its stamp.
fn replay(summary: &serde_json::Value, args: &BuildArgs, reporter: &Reporter) {
    match args.format {
        OutputFormat::Json => reporter.json(summary),
        OutputFormat::Human => {
            let mut out = String::new();
            for build in summary["builds"].as_array().into_iter().flatten() {
                out.push_str(&format!(
                    "{} {}/{}: {} files; nothing changed since the last build\n",
                    reporter.bold("up to date"),
                    build["tool"].as_str().unwrap_or_default(),
                    build["profile"].as_str().unwrap_or_default(),
                    build["files"].as_u64().unwrap_or(0),
                ));
            }
            reporter.stderr(&out);
        }
    }
}
