//! `kiln build` as one call: the no-op shortcut, opening the project, resolving the profiles,
//! the jobs, the parallel builds, and the stamp for the next no-op.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kiln_core::{Diagnostic, Diagnostics};
use kiln_emit::EmitRequest;
use kiln_store::dist::DistLayout;
use kiln_store::hash::json_hash;
use kiln_store::stamp::Stamp;
use rayon::prelude::*;
use serde::Serialize;

use crate::project::{Project, ProjectInputs, Resolved, ToolChoice};
use crate::tool_build::{BuildOptions, BuildOutcome, FileHashes, Progress, build_tool};

/// Which profiles to build.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProfileChoice {
    /// The configured profile (command line, `KILN_PROFILE`, the configuration's `profile` or
    /// `[hosts]` entry); the flag's value is part of the no-op key.
    Configured(Option<String>),
    /// Every profile of the library.
    All,
}

/// What to build.
#[derive(Clone, Debug, Serialize)]
pub struct BuildRequest {
    /// The profiles.
    pub profiles: ProfileChoice,
    /// The tools of each.
    #[serde(serialize_with = "serialize_tools")]
    pub tools: ToolChoice,
    /// Write nothing; report what is out of date.
    #[serde(skip)]
    pub check: bool,
    /// What a tool cannot express is an error.
    pub strict: bool,
}

fn serialize_tools<S: serde::Serializer>(tools: &ToolChoice, s: S) -> Result<S::Ok, S::Error> {
    match tools {
        ToolChoice::Unspecified => s.serialize_none(),
        ToolChoice::Named(name) => s.serialize_str(name),
        ToolChoice::ProfileTools => s.serialize_str("*"),
        ToolChoice::ProfileToolsIfAny => s.serialize_str("*?"),
    }
}

/// How long a stage took (for `KILN_TIMINGS`).
#[derive(Clone, Debug)]
pub struct Stage {
    /// `load`, `validate`, `resolve`, `build`.
    pub name: &'static str,
    /// Its wall time.
    pub took: Duration,
}

/// What a build did.
pub enum BuildReport {
    /// Nothing in the library, the configuration, the arguments or dist changed since the
    /// last build: skipped without reading the library. The summary is what that build
    /// reported, as a repeat would report it.
    UpToDate {
        /// `{ "ok", "check", "builds": [{ "tool", "profile", "files", … }] }`.
        summary: serde_json::Value,
    },
    /// The library has errors (all of them in the project's diagnostics); nothing was built.
    Invalid {
        /// The project, for its diagnostics and sources.
        project: Box<Project>,
    },
    /// The builds ran.
    Built {
        /// The project (its diagnostics hold the library's warnings).
        project: Box<Project>,
        /// Every successful (profile, tool) build.
        outcomes: Vec<BuildOutcome>,
        /// Warnings of the builds, and the errors of the ones that failed.
        diagnostics: Diagnostics,
        /// Whether a build failed.
        failed: bool,
        /// Stage timings.
        stages: Vec<Stage>,
    },
}

impl BuildReport {
    /// Every (tool, profile) the build covers, built or up to date.
    pub fn targets(&self) -> Vec<(String, String)> {
        match self {
            BuildReport::UpToDate { summary } => summary["builds"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|b| {
                    let text = |key: &str| b[key].as_str().unwrap_or_default().to_string();
                    (text("tool"), text("profile"))
                })
                .collect(),
            BuildReport::Invalid { .. } => Vec::new(),
            BuildReport::Built { outcomes, .. } => outcomes
                .iter()
                .map(|o| (o.tool.clone(), o.profile.clone()))
                .collect(),
        }
    }

    /// Whether everything asked for was built (and, in check mode, is up to date).
    pub fn ok(&self) -> bool {
        match self {
            BuildReport::UpToDate { .. } => true,
            BuildReport::Invalid { .. } => false,
            BuildReport::Built {
                outcomes, failed, ..
            } => !failed && outcomes.iter().all(|o| o.stale.is_empty()),
        }
    }
}

/// The no-op shortcut: the stamp of the last successful build with the same arguments.
pub struct NoOpShortcut {
    layout: DistLayout,
    path: PathBuf,
    key: String,
    stamp: Option<Stamp>,
}

impl NoOpShortcut {
    /// The stamp for `request` on the library at `root`. `outside` is everything outside the
    /// library that can change the result (configuration layers, relevant environment,
    /// hostname), from the settings stage.
    pub fn new(root: &Path, outside: &serde_json::Value, request: &BuildRequest) -> NoOpShortcut {
        let paths = kiln_core::library::library_paths(root);
        let layout = DistLayout {
            root: root.join(&paths.dist),
        };
        let arguments = serde_json::to_value(request).unwrap_or_default();
        let path = Stamp::path(&layout, &json_hash(&arguments)["blake3:".len()..][..16]);
        let key = json_hash(&serde_json::json!({
            "kiln": crate::KILN_VERSION,
            "builtin_tools": kiln_emit::tools::builtin_digest(),
            "outside": outside,
            "library": kiln_core::library::stat_digest(root, &paths),
            "arguments": arguments,
        }));
        let stamp = Stamp::load(&path);
        NoOpShortcut {
            layout,
            path,
            key,
            stamp,
        }
    }

    /// The last build's summary, when nothing can have changed since.
    fn current(&self) -> Option<&serde_json::Value> {
        self.stamp
            .as_ref()
            .filter(|stamp| stamp.is_current(&self.layout, &self.key))
            .map(|stamp| &stamp.summary)
    }

    /// Even when the library changed, dist may be exactly as the last build left it; then
    /// the files of units that stay fresh need no stat.
    fn dist_intact(&self) -> bool {
        self.stamp
            .as_ref()
            .is_some_and(|stamp| stamp.dist_is_current(&self.layout))
    }

    fn save(self, built: &[BuildOutcome]) {
        let builds: Vec<(String, String)> = built
            .iter()
            .map(|b| (b.tool.clone(), b.profile.clone()))
            .collect();
        let (dirs, files) = kiln_store::stamp::snapshot(&self.layout, &builds);
        let summary = serde_json::json!({ "ok": true, "check": false, "builds": built });
        // A failure to save the stamp only costs the next no-op its shortcut.
        let _ = Stamp {
            key: self.key,
            dirs,
            files,
            summary: settled(summary),
        }
        .save(&self.path);
    }
}

/// Runs a build: the shortcut first (never in check mode), then `open` (the settings stage
/// loading the library) and the whole pipeline.
pub fn build(
    request: &BuildRequest,
    shortcut: NoOpShortcut,
    open: impl FnOnce() -> Result<ProjectInputs, Diagnostic>,
    progress: Option<&dyn Progress>,
) -> Result<BuildReport, Diagnostic> {
    if !request.check
        && let Some(summary) = shortcut.current()
    {
        return Ok(BuildReport::UpToDate {
            summary: summary.clone(),
        });
    }
    let mut stages = Vec::new();
    let mut clock = Instant::now();
    let mut mark = |name: &'static str| {
        let now = Instant::now();
        stages.push(Stage {
            name,
            took: now - clock,
        });
        clock = now;
    };
    let inputs = open()?;
    mark("load");
    let project = Project::open(inputs);
    mark("validate");
    if project.has_errors() {
        return Ok(BuildReport::Invalid {
            project: Box::new(project),
        });
    }
    let names = match &request.profiles {
        ProfileChoice::All => project.profile_names(),
        ProfileChoice::Configured(_) => vec![project.choose_profile()?.name],
    };
    let resolved: Vec<Resolved> = names
        .iter()
        .map(|name| project.resolve(name).map_err(first_error))
        .collect::<Result<_, _>>()?;
    let jobs = project.jobs(&resolved, &request.tools)?;
    let hashes = FileHashes::compute(&project.library);
    mark("resolve");
    let layout = project.dist();
    let options = BuildOptions {
        check: request.check,
        strict: request.strict,
        progress,
        hashes: Some(&hashes),
        dist_intact: shortcut.dist_intact(),
    };
    let results: Vec<Result<BuildOutcome, Diagnostics>> = jobs
        .par_iter()
        .map(|job| {
            let emit = EmitRequest {
                library: &project.library,
                profile: &job.resolved.profile,
                selection: &job.resolved.selection,
                tool: &job.tool,
                scopes: job.scopes.clone(),
                registry: &project.registry,
            };
            build_tool(&emit, &layout, options)
        })
        .collect();
    mark("build");
    let mut diagnostics = Diagnostics::new();
    let mut outcomes = Vec::new();
    let mut failed = false;
    for result in results {
        match result {
            Ok(outcome) => {
                diagnostics.extend(outcome.diagnostics.iter().cloned());
                outcomes.push(outcome);
            }
            Err(errors) => {
                failed = true;
                diagnostics.extend(errors);
            }
        }
    }
    if !request.check && !failed {
        shortcut.save(&outcomes);
    }
    // The process usually ends right after a build: freeing a large selection entry by entry
    // would only cost time, so the resolved profiles and jobs are handed back with the project.
    std::mem::forget(jobs);
    std::mem::forget(resolved);
    std::mem::forget(hashes);
    Ok(BuildReport::Built {
        project: Box::new(project),
        outcomes,
        diagnostics,
        failed,
        stages,
    })
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

/// The first error of a profile that does not resolve.
fn first_error(diagnostics: Diagnostics) -> Diagnostic {
    diagnostics
        .into_sorted()
        .into_iter()
        .find(Diagnostic::is_error)
        .unwrap_or_else(|| {
            Diagnostic::error("kiln::build::resolve", "the profile does not resolve")
        })
}
