//! `kiln deploy`: build (memoised) then materialise dist/ live, plan first, safe by
//! construction: conflicts are listed all at once and nothing is written while any remains.

use std::process::ExitCode;

use kiln_core::Diagnostic;
use kiln_deploy::apply::{apply, lock, read_record, record_path};
use kiln_deploy::plan::{Action, DeployOptions, DeployPlan, DeployRequest, plan, scope_root};
use kiln_model::BuildScope;
use kiln_store::dist::{DistLayout, read_manifest};
use serde::Serialize;

use crate::args::{BuildArgs, DeployArgs, GlobalArgs, OutputFormat};
use crate::report::Reporter;
use crate::settings::Context;

#[derive(Serialize)]
struct Report<'a> {
    ok: bool,
    dry_run: bool,
    plans: &'a [DeployPlan],
    applied: Vec<kiln_deploy::apply::Applied>,
}

pub fn run(
    global: &GlobalArgs,
    args: &DeployArgs,
    reporter: &Reporter,
) -> Result<ExitCode, Diagnostic> {
    let build = BuildArgs {
        profile: args.profile.clone(),
        tool: args.tool.clone(),
        all_tools: args.all_tools,
        all: false,
        check: false,
        strict: false,
        explain: false,
        format: OutputFormat::Human,
    };
    let code = super::build::run(global, &build, reporter)?;
    if code != ExitCode::SUCCESS {
        return Ok(code);
    }
    let context = Context::load(global, args.profile.as_deref())?;
    let profile_name = context.profile()?.name;
    let profile = kiln_core::profile::resolve_profile(
        &context.library,
        &profile_name,
        &context.machine_variables(),
    )
    .map_err(|d| {
        d.into_sorted()
            .into_iter()
            .next()
            .unwrap_or_else(|| Diagnostic::error("kiln::deploy::profile", "no profile"))
    })?;
    let tools: Vec<String> = match &args.tool {
        Some(tool) => vec![tool.clone()],
        None => profile.tools.keys().cloned().collect(),
    };
    // Where each tool lives: its definition's homes (built above, so its problems are known).
    let (registry, _) = kiln_emit::ToolRegistry::for_library(&context.library);
    let (env, state) = Context::deploy_env(&registry)?;
    let scope = if args.project.is_some() {
        BuildScope::Project
    } else {
        BuildScope::Global
    };
    let project = match &args.project {
        Some(dir) => Some(dir.canonicalize().map_err(|e| {
            Diagnostic::error(
                "kiln::deploy::project",
                format!("project `{}` is not usable: {e}", dir.display()),
            )
        })?),
        None => None,
    };
    let layout = DistLayout {
        root: context.location.root.join(context.library.paths().dist),
    };
    let options = DeployOptions {
        adopt: args.adopt,
        backup: args.backup,
        force: args.force,
    };
    let fail = |e: kiln_deploy::plan::DeployError| Diagnostic::error("kiln::deploy::failed", e.0);

    // Plan everything before writing anything; hold the lock while planning for real.
    let _lock = if args.dry_run {
        None
    } else {
        Some(lock(&state).map_err(fail)?)
    };
    let mut manifests = Vec::new();
    for tool in &tools {
        let manifest = read_manifest(&layout.manifest(tool, &profile_name))
            .map_err(|e| fail(kiln_deploy::plan::DeployError(e.to_string())))?
            .ok_or_else(|| {
                Diagnostic::error(
                    "kiln::deploy::not_built",
                    format!("no build of {tool}/{profile_name} in dist"),
                )
                .help(format!("run `kiln build {profile_name} {tool}`"))
            })?;
        manifests.push(manifest);
    }
    // Secrets: every reference in what is about to be deployed, resolved once, before anything
    // is written; any failure stops here.
    let prefix = format!("{}/", scope.as_str());
    let mut references = std::collections::BTreeSet::new();
    for manifest in &manifests {
        let tree = layout.tree(&manifest.tool, &manifest.profile);
        // References are whole values in shared config files (validated), never prose.
        let shared = manifest
            .files
            .iter()
            .filter(|(p, e)| e.merge.is_some() && p.starts_with(&prefix));
        for (path, _) in shared {
            if let Ok(bytes) = std::fs::read(tree.join(path)) {
                references.extend(kiln_deploy::secrets::find_references(&bytes));
            }
        }
    }
    let key = if args.dry_run && !state.join("secret.key").exists() {
        [0; 32] // no keyed hash can exist yet, and a dry run writes nothing
    } else {
        kiln_deploy::secrets::machine_key(&state).map_err(fail)?
    };
    let op = context
        .config
        .string("secrets.op_command")
        .unwrap_or("op")
        .to_string();
    let secrets = kiln_deploy::secrets::Secrets::resolve(&references, &op, key).map_err(fail)?;
    let mut plans = Vec::new();
    let mut records = Vec::new();
    for manifest in &manifests {
        let root = scope_root(&env, scope, project.as_deref());
        let path = record_path(&state, &manifest.tool, &profile_name, scope, &root);
        let previous = read_record(&path).map_err(fail)?;
        let request = DeployRequest {
            layout: &layout,
            manifest,
            scope,
            project: project.as_deref(),
            env: &env,
            previous: previous.as_ref(),
            secrets: Some(&secrets),
            mode: match args.mode {
                crate::args::LinkMode::Copy => kiln_deploy::plan::DeployMode::Copy,
                crate::args::LinkMode::Symlink => kiln_deploy::plan::DeployMode::Symlink {
                    store: state.join("rendered"),
                },
            },
        };
        plans.push(plan(&request, options).map_err(fail)?);
        records.push(path);
    }
    let blocked = plans.iter().any(|p| p.blockers().next().is_some());
    let mut applied = Vec::new();
    if !args.dry_run && !blocked {
        for (plan, path) in plans.iter().zip(&records) {
            applied.push(apply(plan, path).map_err(fail)?);
        }
    }
    match args.format {
        OutputFormat::Json => {
            reporter.json(&Report {
                ok: !blocked,
                dry_run: args.dry_run,
                plans: &plans,
                applied: applied.clone(),
            });
        }
        OutputFormat::Human => reporter.stderr(&human(&plans, args.dry_run, blocked, reporter)),
    }
    Ok(ExitCode::from(if blocked { 3 } else { 0 }))
}

fn human(plans: &[DeployPlan], dry_run: bool, blocked: bool, reporter: &Reporter) -> String {
    let mut out = String::new();
    for plan in plans {
        let count = |f: fn(&Action) -> bool| plan.steps.iter().filter(|s| f(&s.action)).count();
        out.push_str(&format!(
            "{} {}/{} ({}): {} create, {} update, {} remove, {} unchanged\n",
            reporter.bold(if dry_run || blocked {
                "plan"
            } else {
                "deployed"
            }),
            plan.tool,
            plan.profile,
            plan.scope.as_str(),
            count(|a| matches!(a, Action::Create | Action::Adopt | Action::Backup { .. })),
            count(|a| matches!(a, Action::Update)),
            count(|a| matches!(a, Action::Remove)),
            count(|a| matches!(a, Action::Keep)),
        ));
        for step in &plan.steps {
            let line = match &step.action {
                Action::Keep => continue,
                Action::Create | Action::Update | Action::Remove | Action::Adopt if !dry_run => {
                    continue;
                }
                Action::Create => "create".to_string(),
                Action::Update => "update".to_string(),
                Action::Remove => "remove".to_string(),
                Action::Adopt => "adopt (replace the existing file)".to_string(),
                Action::Backup { to } => format!("back up to {to}, then write"),
                Action::Conflict { reason } => format!("CONFLICT: {reason}"),
                Action::Drift { reason } => format!("drift, left alone: {reason}"),
                Action::Refused { reason } => format!("REFUSED: {reason}"),
            };
            out.push_str(&format!("  {}  {line}\n", step.path.display()));
        }
    }
    if blocked {
        out.push_str(
            "nothing was written: resolve the conflicts above, or rerun with --adopt (take the files over), \
             --backup (move them aside first) or --force (overwrite)\n",
        );
    } else if dry_run {
        out.push_str("dry run: nothing was written\n");
    }
    out
}
