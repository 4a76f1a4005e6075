//! `kiln sync`: for every tool and target the machine configuration names, build, plan the
//! deploy, compare live files with the library (kiln_deploy::sync), promote what the flags
//! allow, and deploy. One tool's failure does not stop the others.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kiln_core::Diagnostic;
use kiln_deploy::deploy::{DeployRequest, LinkMode, Target, deploy, deployment_secrets};
use kiln_deploy::plan::DeployOptions;
use kiln_deploy::secrets::Secrets;
use kiln_deploy::sync::{Compared, Comparison, compare, promote};
use kiln_model::{MachineToolSpec, SyncMode, SyncScope};
use serde::Serialize;

use crate::args::{BuildArgs, GlobalArgs, OutputFormat, Prefer, SyncArgs};
use crate::report::Reporter;
use crate::settings::{Context, Located};

/// One tool deployed into one root.
#[derive(Serialize)]
struct TargetReport {
    tool: String,
    /// `global` or the project folder.
    target: String,
    /// `synced`, `pending`, `error`, `retired`, `undeployed`, `would sync`.
    outcome: String,
    written: usize,
    removed: usize,
    /// Live files that differ from the library, with what sync does about them.
    entries: Vec<Entry>,
    /// Library files promotion wrote, by component.
    promoted: BTreeMap<String, Vec<String>>,
    /// Promoted library files in which pasted secret values went back to their references.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    re_referenced: BTreeMap<String, Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize)]
struct Entry {
    #[serde(flatten)]
    compared: Compared,
    /// What sync does, or would do.
    action: String,
    /// Still waiting for a decision after this run (or, in a dry run, would be).
    pending: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    diff: Option<String>,
}

#[derive(Serialize)]
struct Report<'a> {
    ok: bool,
    pending: usize,
    dry_run: bool,
    profile: &'a str,
    targets: &'a [TargetReport],
}

pub fn run(
    global: &GlobalArgs,
    args: &SyncArgs,
    reporter: &Reporter,
) -> Result<ExitCode, Diagnostic> {
    let located = Located::find(global)?;
    let library = located.location.root.clone();
    let dist = located.location.dist();
    let context = located.config_only(args.profile.as_deref())?;
    let config = &context.config;
    let tools = config.machine_tools().ok_or_else(|| {
        Diagnostic::error(
            "kiln::sync::no_tools",
            "the machine configuration names no tools to sync",
        )
        .help("add `tools = [\"claude-code\", \"codex\"]` (or `[tools.<name>]` tables) to ~/.config/kiln/config.toml")
    })?;
    let profile = config
        .choose_profile(&context.hostname)
        .map(|c| c.name)
        .ok_or_else(|| {
            Diagnostic::error(
                "kiln::config::no_profile",
                "no profile given and none configured for this machine",
            )
            .help("set `profile = \"personal\"` in ~/.config/kiln/config.toml, or pass --profile")
        })?;
    let (env, state) = Context::deploy_env(global)?;
    let op_command = crate::settings::op_command(config);
    let mut targets = Vec::new();
    for (tool, spec) in &tools {
        let build = |reporter: &Reporter| -> Result<(), String> {
            let (report, code) = super::build::build_and_report(
                global,
                &BuildArgs {
                    profile: Some(profile.clone()),
                    tool: Some(tool.clone()),
                    all_tools: false,
                    all: false,
                    check: false,
                    strict: false,
                    explain: false,
                    format: OutputFormat::Human,
                },
                reporter,
            )
            .map_err(|d| d.message.clone())?;
            if code != ExitCode::SUCCESS || !report.ok() {
                return Err(format!("the build of {tool} failed (above)"));
            }
            Ok(())
        };
        let built = build(reporter);
        for target in target_list(spec, env.home.as_path()) {
            let shown = match &target {
                Ok(Target::Project(dir)) => dir.display().to_string(),
                Ok(Target::Global) => "global".to_string(),
                Err((dir, _)) => dir.clone(),
            };
            let mut report = TargetReport {
                tool: tool.clone(),
                target: shown,
                outcome: String::new(),
                written: 0,
                removed: 0,
                entries: Vec::new(),
                promoted: BTreeMap::new(),
                re_referenced: BTreeMap::new(),
                error: None,
            };
            let result = match (&built, target) {
                (Err(error), _) => Err(error.clone()),
                (_, Err((_, error))) => Err(error),
                (Ok(()), Ok(target)) => {
                    let one = OneTarget {
                        args,
                        tool,
                        profile: &profile,
                        spec,
                        target,
                        dist: &dist,
                        library: &library,
                        env: &env,
                        state: &state,
                        op_command: &op_command,
                    };
                    one.sync(&mut report, &|| build(reporter))
                }
            };
            if let Err(error) = result {
                report.outcome = "error".to_string();
                report.error = Some(error);
            }
            targets.push(report);
        }
    }
    targets.extend(retired(args, &tools, &env, &state));
    let pending = targets
        .iter()
        .flat_map(|t| &t.entries)
        .filter(|e| e.pending)
        .count();
    let failed = targets.iter().any(|t| t.outcome == "error");
    let ok = !failed && (pending == 0 || args.dry_run);
    match args.format {
        OutputFormat::Json => reporter.json(&Report {
            ok,
            pending,
            dry_run: args.dry_run,
            profile: &profile,
            targets: &targets,
        }),
        OutputFormat::Human => reporter.stderr(&human(&targets, args, pending, reporter)),
    }
    Ok(ExitCode::from(
        if failed || (pending > 0 && args.no_promote) {
            1
        } else if pending > 0 && !args.dry_run {
            2
        } else {
            0
        },
    ))
}

/// The roots one tool is deployed into: the home, and each listed project (a project that
/// does not exist is an error for that target only).
fn target_list(spec: &MachineToolSpec, home: &Path) -> Vec<Result<Target, (String, String)>> {
    let scope = spec.scope.unwrap_or(if spec.projects.is_empty() {
        SyncScope::Global
    } else {
        SyncScope::Both
    });
    let mut out = Vec::new();
    if scope != SyncScope::Project {
        out.push(Ok(Target::Global));
    }
    if scope != SyncScope::Global {
        for project in &spec.projects {
            let dir = match project.strip_prefix("~/") {
                Some(rest) => home.join(rest),
                None => PathBuf::from(project),
            };
            out.push(Target::project(&dir).map_err(|e| (dir.display().to_string(), e.to_string())));
        }
    }
    out
}

/// Everything one (tool, target) needs.
struct OneTarget<'a> {
    args: &'a SyncArgs,
    tool: &'a str,
    profile: &'a str,
    spec: &'a MachineToolSpec,
    target: Target,
    dist: &'a kiln_store::dist::DistLayout,
    library: &'a Path,
    env: &'a kiln_deploy::location::DeployEnv,
    state: &'a Path,
    op_command: &'a kiln_deploy::secrets::OpCommand,
}

impl OneTarget<'_> {
    fn request<'r>(&'r self, dry_run: bool, options: DeployOptions<'r>) -> DeployRequest<'r> {
        DeployRequest {
            dist: self.dist,
            builds: vec![(self.tool.to_string(), self.profile.to_string())],
            target: self.target.clone(),
            mode: match self.spec.mode {
                Some(SyncMode::Symlink) => LinkMode::Symlink,
                _ => LinkMode::Copy,
            },
            options,
            dry_run,
            op_command: self.op_command.clone(),
            env: self.env,
            state: self.state,
            waiting_for_secret: &|_| {},
            resolved_secrets: None,
        }
    }

    fn sync(
        &self,
        report: &mut TargetReport,
        rebuild: &dyn Fn() -> Result<(), String>,
    ) -> Result<(), String> {
        let args = self.args;
        let (planned, compared) = plan_and_compare(
            &self.request(true, DeployOptions::default()),
            self.dist,
            self.library,
        )?;
        let tie = |c: &Compared| {
            matches!(
                c.comparison,
                Comparison::BothAdvanced | Comparison::EqualMtimeDifferentContent
            )
        };
        let to_promote: Vec<&Compared> = compared
            .iter()
            .filter(|c| {
                args.apply_promote
                    && c.promotable()
                    && (c.comparison == Comparison::LiveNewer
                        || (tie(c) && args.prefer == Some(Prefer::Live)))
            })
            .collect();
        let overwrite: Vec<String> = compared
            .iter()
            .filter(|c| args.force || (tie(c) && args.prefer == Some(Prefer::Source)))
            .filter(|c| c.comparison.is_pending())
            .map(|c| c.relative.clone())
            .collect();
        // The deployment's secrets, resolved once for the whole run: promotion turns a pasted
        // value back into its reference, diffs mask values, and the deploy uses them. A dry
        // run never runs `op`.
        let secrets = if args.dry_run {
            None
        } else {
            Some(
                deployment_secrets(&self.request(false, DeployOptions::default()))
                    .map_err(|e| e.to_string())?,
            )
        };
        for c in &compared {
            let decided = to_promote.iter().any(|p| p.relative == c.relative)
                || overwrite.contains(&c.relative);
            let action = if c.comparison == Comparison::SourceNewer {
                if args.dry_run {
                    "would deploy SOURCE → LIVE"
                } else {
                    "deployed SOURCE → LIVE"
                }
                .to_string()
            } else if c.comparison == Comparison::AdoptCandidate {
                if args.adopt_new && args.dry_run {
                    "would adopt: copied into components/skills/ and selected by the profile"
                        .to_string()
                } else {
                    "adoptable: `kiln sync --apply-promote --adopt-new` makes it a component (or delete it)"
                        .to_string()
                }
            } else if to_promote.iter().any(|p| p.relative == c.relative) {
                if args.dry_run {
                    "would promote LIVE → SOURCE"
                } else {
                    "promoted LIVE → SOURCE"
                }
                .to_string()
            } else if overwrite.contains(&c.relative) {
                if args.dry_run {
                    "would discard the live edit"
                } else {
                    "discarded the live edit"
                }
                .to_string()
            } else if c.promotable() {
                let how = if tie(c) {
                    "--apply-promote --prefer live keeps the live edit, --prefer source the library's"
                } else {
                    "--apply-promote moves it into the library, --force discards it"
                };
                let verb = if args.dry_run {
                    "would promote"
                } else {
                    "pending: would promote"
                };
                format!(
                    "{verb} LIVE → SOURCE ({}); {how}",
                    c.promote_to.as_deref().unwrap_or_default()
                )
            } else {
                format!(
                    "pending: a compiled output, never promoted — edit {} instead (then sync), or --force discards the live edit",
                    if c.edit_instead.is_empty() {
                        c.components.join(", ")
                    } else {
                        c.edit_instead.join(", ")
                    }
                )
            };
            let diff = (args.diff && c.comparison.is_pending())
                .then(|| diff_of(c, secrets.as_ref()))
                .flatten();
            report.entries.push(Entry {
                compared: c.clone(),
                action,
                pending: c.comparison.is_pending() && !decided,
                diff,
            });
        }
        if args.dry_run {
            report.outcome = "would sync".to_string();
            report.written = planned.plans.iter().map(|p| writes(p).0).sum();
            report.removed = planned.plans.iter().map(|p| writes(p).1).sum();
            return Ok(());
        }
        if !to_promote.is_empty() {
            let dirty = if args.allow_dirty_source {
                Vec::new()
            } else {
                dirty_sources(self.library, &to_promote).map_err(|error| {
                    format!("promotion refused: {error}; rerun with --allow-dirty-source to promote anyway")
                })?
            };
            if !dirty.is_empty() {
                return Err(format!(
                    "promotion refused: {} ha(s) uncommitted changes in the library's git working tree; commit or stash them, or rerun with --allow-dirty-source",
                    dirty.join(", ")
                ));
            }
            let promoted =
                promote(&to_promote, self.library, secrets.as_ref()).map_err(|e| e.to_string())?;
            report.promoted = promoted.components;
            report.re_referenced = promoted.re_referenced;
        }
        // After the promotion, which may still refuse: nothing is adopted then.
        let adopted = if args.adopt_new {
            self.adopt(&compared, report)?
        } else {
            Vec::new()
        };
        if !to_promote.is_empty() || !adopted.is_empty() {
            rebuild()?;
        }
        // A promoted file's edit is in the library now: what dist makes of it (the footer
        // back at the end of a SKILL.md) replaces the live file.
        let mut overwrite = overwrite;
        overwrite.extend(to_promote.iter().map(|c| c.relative.clone()));
        let options = DeployOptions {
            force: args.force,
            overwrite: &overwrite,
            adopt_under: &adopted,
            ..DeployOptions::default()
        };
        let mut request = self.request(false, options);
        request.resolved_secrets = secrets.as_ref();
        let deployed = deploy(&request).map_err(|e| e.to_string())?;
        if deployed.blocked() {
            return Err(
                "files kiln did not write are in the way (`kiln deploy` lists them; --adopt or --backup there)"
                    .to_string(),
            );
        }
        for applied in &deployed.applied {
            report.written += applied.written.len();
            report.removed += applied.removed.len();
        }
        let pending = report.entries.iter().any(|e| e.pending);
        report.outcome = if pending { "pending" } else { "synced" }.to_string();
        Ok(())
    }
}

impl OneTarget<'_> {
    /// `--adopt-new`: each hand-made skill folder beside kiln's becomes a component (copied
    /// byte for byte, as `kiln import` reads skills) selected by the profile. Returns the
    /// folders adopted (relative to the root), which the deploy then takes over; a folder
    /// that cannot be adopted (a component of that name exists) is reported and left alone.
    fn adopt(
        &self,
        compared: &[Compared],
        report: &mut TargetReport,
    ) -> Result<Vec<String>, String> {
        let mut by_folder: BTreeMap<(PathBuf, String), BTreeSet<String>> = BTreeMap::new();
        for c in compared
            .iter()
            .filter(|c| c.comparison == Comparison::AdoptCandidate)
        {
            let Some((folder, name)) = c.relative.rsplit_once('/') else {
                continue;
            };
            let depth = c.relative.split('/').count();
            let Some(root) = c.path.ancestors().nth(depth) else {
                continue;
            };
            by_folder
                .entry((root.to_path_buf(), folder.to_string()))
                .or_default()
                .insert(name.to_string());
        }
        let mut adopted = Vec::new();
        for ((root, folder), names) in by_folder {
            let request = kiln_import::ImportRequest {
                tool: self.tool,
                source: &root,
                scope: match self.target {
                    Target::Global => kiln_import::ImportScope::Global,
                    Target::Project(_) => kiln_import::ImportScope::Project,
                },
                components: &self.library.join("components"),
                profiles: &self.library.join("profiles"),
                profile: self.profile,
            };
            let plan = kiln_import::plan_skill_folders(&request, &folder, &names)
                .map_err(|e| e.to_string())?;
            kiln_import::apply(&plan, &request).map_err(|e| e.to_string())?;
            for item in &plan.items {
                let entry = report
                    .entries
                    .iter_mut()
                    .find(|e| e.compared.relative == item.source);
                let taken = matches!(
                    item.outcome,
                    kiln_import::Outcome::Imported
                        | kiln_import::Outcome::ImportedWithWarnings
                        | kiln_import::Outcome::Unchanged
                );
                if let Some(entry) = entry {
                    entry.action = if taken {
                        format!(
                            "adopted as skill:{} (components/skills/{}/, selected by profiles/{})",
                            item.id.as_deref().unwrap_or_default(),
                            item.id.as_deref().unwrap_or_default(),
                            plan.profile
                        )
                    } else {
                        format!(
                            "not adopted: {}",
                            item.reason.clone().unwrap_or_else(|| {
                                "a component of that name exists with other content; rename the folder".to_string()
                            })
                        )
                    };
                }
                if taken {
                    adopted.push(item.source.clone());
                }
            }
        }
        Ok(adopted)
    }
}

/// A dry run of the deploy (no secret is resolved), and what the comparator makes of it.
pub(crate) fn plan_and_compare(
    request: &DeployRequest<'_>,
    dist: &kiln_store::dist::DistLayout,
    library: &Path,
) -> Result<(kiln_deploy::deploy::DeployReport, Vec<Compared>), String> {
    let planned = deploy(request).map_err(|e| e.to_string())?;
    let mut compared = Vec::new();
    for (tool, profile) in &request.builds {
        let manifest = kiln_store::dist::read_manifest(&dist.manifest(tool, profile))
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no build of {tool}/{profile} in dist"))?;
        let tree = dist.tree(tool, profile);
        for plan in planned
            .plans
            .iter()
            .filter(|p| &p.tool == tool && &p.profile == profile)
        {
            compared.extend(compare(
                plan,
                &manifest,
                &tree,
                library,
                std::time::SystemTime::now(),
            ));
        }
    }
    Ok((planned, compared))
}

/// The comparator over one deployment as its record describes it (tool, profile, root,
/// mode), against dist as built: `kiln status` and `kiln doctor` (read-only).
pub(crate) fn compare_deployment(
    record: &kiln_model::DeployRecord,
    dist: &kiln_store::dist::DistLayout,
    library: &Path,
    env: &kiln_deploy::location::DeployEnv,
    state: &Path,
    op_command: &kiln_deploy::secrets::OpCommand,
) -> Result<Vec<Compared>, String> {
    let request = DeployRequest {
        dist,
        builds: vec![(record.tool.clone(), record.profile.clone())],
        target: Target::of_record(record),
        mode: LinkMode::of_record(record),
        options: DeployOptions::default(),
        dry_run: true,
        op_command: op_command.clone(),
        env,
        state,
        waiting_for_secret: &|_| {},
        resolved_secrets: None,
    };
    plan_and_compare(&request, dist, library).map(|(_, compared)| compared)
}

/// Files a plan writes and removes.
fn writes(plan: &kiln_deploy::plan::DeployPlan) -> (usize, usize) {
    use kiln_deploy::plan::Action;
    let count = |f: fn(&Action) -> bool| plan.steps.iter().filter(|s| f(&s.action)).count();
    (
        count(|a| {
            matches!(
                a,
                Action::Create | Action::Update | Action::Adopt | Action::Backup { .. }
            )
        }),
        count(|a| matches!(a, Action::Remove)),
    )
}

/// dist → live, unified. A file that holds resolved secrets is compared with the values in
/// place (so only the edit shows) and every value is masked as `«op://…»`; without resolved
/// secrets (a dry run) its diff is not shown.
fn diff_of(compared: &Compared, secrets: Option<&Secrets>) -> Option<String> {
    let mut wanted = std::fs::read(compared.dist_file.as_ref()?).ok()?;
    if compared.holds_secrets {
        match secrets {
            Some(secrets) => wanted = secrets.substitute(&wanted).0,
            None => {
                return Some(
                    "diff not shown: this file holds resolved secrets and a dry run does not resolve them; run without --dry-run to see it with the values masked\n"
                        .to_string(),
                );
            }
        }
    }
    let live = std::fs::read(&compared.path).unwrap_or_default();
    let (wanted, live) = (
        String::from_utf8_lossy(&wanted),
        String::from_utf8_lossy(&live),
    );
    let diff = similar::TextDiff::from_lines(wanted.as_ref(), live.as_ref())
        .unified_diff()
        .header(
            &format!("{} (library)", compared.relative),
            &format!("{} (live)", compared.relative),
        )
        .to_string();
    Some(match secrets {
        Some(secrets) if compared.holds_secrets => secrets.mask(&diff),
        _ => diff,
    })
}

/// Library files of the promotion with uncommitted changes (the library's git status, read
/// with gix; nothing when the library is not a git working tree).
fn dirty_sources(library: &Path, entries: &[&Compared]) -> Result<Vec<String>, String> {
    let paths: BTreeSet<&str> = entries
        .iter()
        .filter_map(|c| c.promote_to.as_deref())
        .collect();
    kiln_core::git::dirty_paths(library, &paths.into_iter().collect::<Vec<_>>())
}

/// Deployments of tools the configuration no longer names: reported, or undeployed with
/// --allow-delete.
fn retired(
    args: &SyncArgs,
    tools: &[(String, MachineToolSpec)],
    env: &kiln_deploy::location::DeployEnv,
    state: &Path,
) -> Vec<TargetReport> {
    let configured: BTreeSet<&str> = tools.iter().map(|(t, _)| t.as_str()).collect();
    let Ok(survey) = kiln_deploy::survey::survey(state) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (_, record) in &survey.records {
        if configured.contains(record.tool.as_str()) {
            continue;
        }
        let target = Target::of_record(record);
        if !seen.insert((record.tool.clone(), record.root.clone())) {
            continue;
        }
        let mut report = TargetReport {
            tool: record.tool.clone(),
            target: match &target {
                Target::Global => "global".to_string(),
                Target::Project(dir) => dir.display().to_string(),
            },
            outcome: "retired".to_string(),
            written: 0,
            removed: 0,
            entries: Vec::new(),
            promoted: BTreeMap::new(),
            re_referenced: BTreeMap::new(),
            error: None,
        };
        if args.allow_delete {
            let request = kiln_deploy::undeploy::UndeployRequest {
                tools: Some(vec![record.tool.clone()]),
                target,
                force: false,
                dry_run: args.dry_run,
                env,
                state,
            };
            match kiln_deploy::undeploy::undeploy(&request) {
                Ok(done) => {
                    report.outcome = if args.dry_run {
                        "would undeploy"
                    } else {
                        "undeployed"
                    }
                    .to_string();
                    report.removed = done
                        .plans
                        .iter()
                        .flat_map(|p| &p.steps)
                        .filter(|s| matches!(s.action, kiln_deploy::plan::Action::Remove))
                        .count();
                }
                Err(error) => {
                    report.outcome = "error".to_string();
                    report.error = Some(error.to_string());
                }
            }
        }
        out.push(report);
    }
    out
}

fn human(targets: &[TargetReport], args: &SyncArgs, pending: usize, reporter: &Reporter) -> String {
    let mut out = String::new();
    for target in targets {
        out.push_str(&format!(
            "{} {} ({}): {}",
            reporter.bold(&target.outcome),
            target.tool,
            target.target,
            match target.outcome.as_str() {
                "retired" => "no longer in the machine configuration; `kiln sync --allow-delete` undeploys it".to_string(),
                "undeployed" | "would undeploy" => format!("{} file(s) removed", target.removed),
                "error" => target.error.clone().unwrap_or_default(),
                _ => format!("{} written, {} removed", target.written, target.removed),
            }
        ));
        out.push('\n');
        for (component, files) in &target.promoted {
            out.push_str(&format!("  promoted {component}: {}\n", files.join(", ")));
        }
        for (file, references) in &target.re_referenced {
            out.push_str(&format!(
                "  {file}: the live file held the value of {}; the library has the reference instead (kiln resolves references only in MCP and settings files)\n",
                references.join(", ")
            ));
        }
        for entry in &target.entries {
            let c = &entry.compared;
            if c.comparison == Comparison::SourceNewer {
                continue;
            }
            let times = match (c.live_mtime, c.source_mtime) {
                (Some(live), Some(source)) => format!(", mtime live {live} / library {source}"),
                _ => String::new(),
            };
            let hashes = match (&c.live_hash, &c.dist_hash) {
                (Some(live), Some(dist)) => format!(", live {live} / library {dist}"),
                _ => String::new(),
            };
            out.push_str(&format!(
                "  {} [{}{}{}]\n    {}\n",
                c.path.display(),
                serde_json::to_value(c.comparison)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                hashes,
                times,
                entry.action
            ));
            if let Some(diff) = &entry.diff {
                for line in diff.lines() {
                    out.push_str(&format!("    {line}\n"));
                }
            }
        }
    }
    if pending > 0 {
        out.push_str(&format!(
            "{pending} live edit(s) wait for a decision{}: nothing of them was changed\n",
            if args.dry_run { "" } else { " (exit 2)" }
        ));
    } else if args.dry_run {
        out.push_str("dry run: nothing was written\n");
    }
    out
}
