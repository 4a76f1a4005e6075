//! `kiln build`: compile profiles into `dist/<tool>/<profile>/` for each tool.

use std::process::ExitCode;

use kiln_build::{BuildOptions, BuildOutcome, build_tool};
use kiln_core::Diagnostic;
use kiln_core::diagnostic::did_you_mean;
use kiln_core::profile::{Profile, resolve_profile};
use kiln_core::selection::{Selection, select};
use kiln_emit::{EmitRequest, ToolRegistry};
use kiln_model::{BuildScope, ToolScope};
use kiln_store::dist::DistLayout;
use kiln_store::hash::json_hash;
use kiln_store::stamp::Stamp;
use rayon::prelude::*;
use serde::Serialize;

use crate::args::{BuildArgs, GlobalArgs, OutputFormat};
use crate::report::Reporter;
use crate::settings::Located;

#[derive(Serialize)]
struct Summary<'a> {
    ok: bool,
    check: bool,
    builds: Vec<&'a BuildOutcome>,
}

struct Job<'a> {
    profile: &'a Profile,
    selection: &'a Selection,
    tool: String,
    scopes: Vec<BuildScope>,
}

pub fn run(
    global: &GlobalArgs,
    args: &BuildArgs,
    reporter: &Reporter,
) -> Result<ExitCode, Diagnostic> {
    let located = Located::find(global)?;
    let paths = kiln_core::library::library_paths(&located.location.root);
    let layout = DistLayout {
        root: located.location.root.join(&paths.dist),
    };
    // The no-op shortcut: nothing in the library, the configuration or the arguments changed
    // and the dist trees are as the last build left them.
    let arguments = serde_json::json!({
        "profile": args.profile, "tool": args.tool, "all_tools": args.all_tools, "all": args.all, "strict": args.strict,
    });
    let stamp_path = Stamp::path(&layout, &json_hash(&arguments)["blake3:".len()..][..16]);
    let key = json_hash(&serde_json::json!({
        "kiln": kiln_build::KILN_VERSION,
        "outside": located.outside_inputs(),
        "library": kiln_core::library::stat_digest(&located.location.root, &paths),
        "arguments": arguments,
    }));
    let stamp = Stamp::load(&stamp_path);
    if !args.check
        && let Some(stamp) = &stamp
        && stamp.is_current(&layout, &key)
    {
        replay(&stamp.summary, args, reporter);
        return Ok(ExitCode::SUCCESS);
    }
    // Even when the library changed, dist may be exactly as the last build left it; then the
    // files of units that stay fresh need no stat.
    let dist_intact = stamp
        .as_ref()
        .is_some_and(|stamp| stamp.dist_is_current(&layout));
    let timings = Timings::new();
    let context = located.load(args.profile.as_deref())?;
    timings.mark("load");
    let library = &context.library;
    let mut diagnostics = context.diagnostics.clone();
    diagnostics.extend(kiln_core::validate::validate(
        library,
        &context.machine_variables(),
        &ToolRegistry::known_tools(library),
    ));
    timings.mark("validate");
    let (registry, tool_problems) = ToolRegistry::for_library(library);
    diagnostics.extend(tool_problems);
    if diagnostics.has_errors() {
        reporter.diagnostics(&library.sources, &diagnostics.into_sorted());
        return Ok(ExitCode::from(1));
    }

    let profile_names: Vec<String> = if args.all {
        library.profiles.keys().cloned().collect()
    } else {
        vec![context.profile()?.name]
    };
    timings.mark("tools");
    let mut resolved = Vec::new();
    for name in &profile_names {
        let profile =
            resolve_profile(library, name, &context.machine_variables()).map_err(first_error)?;
        let (selection, problems) = select(library, &profile);
        let selection = selection.ok_or_else(|| first_error(problems))?;
        resolved.push((profile, selection));
    }

    let mut jobs = Vec::new();
    for (profile, selection) in &resolved {
        let tools: Vec<String> = match (&args.tool, args.all_tools || args.all) {
            (Some(tool), _) => vec![tool.clone()],
            (None, true) => profile.tools.keys().cloned().collect(),
            (None, false) => {
                return Err(Diagnostic::error(
                    "kiln::build::no_tool",
                    "name a tool, or pass --all-tools",
                )
                .help(format!(
                    "profile `{}` lists: {}",
                    profile.name,
                    if profile.tools.is_empty() {
                        "no tools".to_string()
                    } else {
                        profile.tools.keys().cloned().collect::<Vec<_>>().join(", ")
                    }
                )));
            }
        };
        if tools.is_empty() && !args.all {
            return Err(Diagnostic::error(
                "kiln::build::no_tools",
                format!("profile `{}` lists no tools", profile.name),
            )
            .help("add `\"tools\": { \"claude-code\": {} }` to the profile, or name a tool"));
        }
        for tool in tools {
            if registry.get(&tool).is_none() {
                return Err(Diagnostic::error(
                    "kiln::build::unknown_tool",
                    format!("unknown tool `{tool}`"),
                )
                .maybe_help(did_you_mean(&tool, registry.names())));
            }
            let scopes = match profile.tools.get(&tool).and_then(|t| t.scope) {
                Some(ToolScope::Global) => vec![BuildScope::Global],
                Some(ToolScope::Project) => vec![BuildScope::Project],
                Some(ToolScope::Both) | None => BuildScope::ALL.to_vec(),
            };
            jobs.push(Job {
                profile,
                selection,
                tool,
                scopes,
            });
        }
    }

    let progress = crate::report::BarProgress::new(reporter);
    let hashes = kiln_build::FileHashes::compute(library);
    let options = BuildOptions {
        check: args.check,
        strict: args.strict,
        progress: Some(&progress),
        hashes: Some(&hashes),
        dist_intact,
    };
    timings.mark("resolve");
    let outcomes: Vec<Result<BuildOutcome, kiln_core::Diagnostics>> = jobs
        .par_iter()
        .map(|job| {
            let tool = registry.get(&job.tool).expect("checked above");
            let request = EmitRequest {
                library,
                profile: job.profile,
                selection: job.selection,
                tool,
                scopes: job.scopes.clone(),
                registry: &registry,
            };
            build_tool(&request, &layout, options)
        })
        .collect();

    progress.finish();
    timings.mark("build");
    let mut problems = kiln_core::Diagnostics::new();
    problems.extend(diagnostics);
    let mut built = Vec::new();
    let mut failed = false;
    for outcome in &outcomes {
        match outcome {
            Ok(outcome) => {
                problems.extend(outcome.diagnostics.iter().cloned());
                built.push(outcome);
            }
            Err(errors) => {
                failed = true;
                problems.extend(errors.iter().cloned());
            }
        }
    }
    reporter.diagnostics(&library.sources, &problems.into_sorted());
    let stale = built.iter().any(|b| !b.stale.is_empty());
    if !args.check && !failed {
        let builds: Vec<(String, String)> = built
            .iter()
            .map(|b| (b.tool.clone(), b.profile.clone()))
            .collect();
        let (dirs, files) = kiln_store::stamp::snapshot(&layout, &builds);
        let summary = serde_json::to_value(Summary {
            ok: true,
            check: false,
            builds: built.clone(),
        })
        .unwrap_or_default();
        // A failure to save the stamp only costs the next no-op its shortcut.
        let _ = Stamp {
            key,
            dirs,
            files,
            summary: settled(summary),
        }
        .save(&stamp_path);
    }
    match args.format {
        OutputFormat::Json => reporter.json(&Summary {
            ok: !failed && !stale,
            check: args.check,
            builds: built.clone(),
        }),
        OutputFormat::Human => {
            let mut out = String::new();
            for outcome in &built {
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
            if !args.check && !built.is_empty() {
                out.push_str(&format!("output in {}\n", layout.root.display()));
            }
            reporter.stderr(&out);
        }
    }
    let code = ExitCode::from(u8::from(failed || stale));
    // The process ends right after this: freeing a large library, selection and cache entry
    // by entry would only cost time.
    drop(built);
    std::mem::forget(outcomes);
    std::mem::forget(jobs);
    std::mem::forget(resolved);
    std::mem::forget(registry);
    std::mem::forget(context);
    Ok(code)
}

/// Stage timings on stderr when `KILN_TIMINGS` is set (for profiling kiln itself).
struct Timings {
    start: Option<std::cell::Cell<std::time::Instant>>,
}

impl Timings {
    fn new() -> Timings {
        Timings {
            start: std::env::var_os("KILN_TIMINGS")
                .map(|_| std::cell::Cell::new(std::time::Instant::now())),
        }
    }

    fn mark(&self, stage: &str) {
        if let Some(start) = &self.start {
            let now = std::time::Instant::now();
            eprintln!(
                "timing {stage}: {:.1} ms",
                (now - start.get()).as_secs_f64() * 1000.0
            );
            start.set(now);
        }
    }
}

/// A build summary as a repeat of it would report it: nothing written, removed or rebuilt;
/// every unit fresh and every file unchanged.
fn settled(mut summary: serde_json::Value) -> serde_json::Value {
    for build in summary["builds"].as_array_mut().into_iter().flatten() {
        let rebuilt = build["rebuilt"].as_array().map_or(0, Vec::len) as u64;
        let written = build["written"].as_array().map_or(0, Vec::len) as u64;
        build["fresh"] = (build["fresh"].as_u64().unwrap_or(0) + rebuilt).into();
        build["unchanged"] = (build["unchanged"].as_u64().unwrap_or(0) + written).into();
        for key in ["written", "removed", "rebuilt", "stale"] {
            build[key] = serde_json::json!([]);
        }
    }
    summary
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

fn first_error(diagnostics: kiln_core::Diagnostics) -> Diagnostic {
    diagnostics
        .into_sorted()
        .into_iter()
        .find(Diagnostic::is_error)
        .unwrap_or_else(|| {
            Diagnostic::error("kiln::build::resolve", "the profile does not resolve")
        })
}
