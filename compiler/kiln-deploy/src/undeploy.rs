//! `kiln undeploy` as one call: for each deploy record of the chosen tools in one root, plan
//! the deploy of nothing against it — every file kiln created is removed (with the folders it
//! created, once empty), kiln's keys leave shared files (the user's bytes stay as they are),
//! files kiln adopted are released — and retire the record. A file the user changed since is
//! left alone (and stays recorded) unless forced.

use std::path::PathBuf;

use kiln_model::{DistManifest, MANIFEST_VERSION};
use kiln_store::dist::DistLayout;

use crate::apply::{apply, lock, read_record};
use crate::deploy::{DeployReport, Target};
use crate::error::DeployError;
use crate::location::DeployEnv;
use crate::plan::{Action, DeployMode, DeployOptions, PlanRequest, plan, scope_root};
use crate::secrets::{Secrets, existing_machine_key};

/// What to undeploy.
pub struct UndeployRequest<'a> {
    /// The tools (`None`: every tool deployed into the target).
    pub tools: Option<Vec<String>>,
    /// Global or a project.
    pub target: Target,
    /// Remove files the user changed since kiln wrote them, too.
    pub force: bool,
    /// Plan only; write nothing.
    pub dry_run: bool,
    /// Home and relocation variables.
    pub env: &'a DeployEnv,
    /// kiln's state folder.
    pub state: &'a std::path::Path,
}

/// Undeploys every matching record; the report's plans say what each removal did or would do.
pub fn undeploy(request: &UndeployRequest<'_>) -> Result<DeployReport, DeployError> {
    let scope = request.target.scope();
    let _lock = if request.dry_run {
        None
    } else {
        Some(lock(request.state)?)
    };
    let root = scope_root(request.env, scope, request.target.project_dir());
    let root_text = root.display().to_string();
    let paths = crate::apply::record_files(request.state);
    // Only the machine key is needed: removals compare hashes, nothing is resolved.
    let secrets = existing_machine_key(request.state)
        .map(|key| Secrets::resolve(&Default::default(), &Default::default(), key))
        .transpose()?;
    let nowhere = DistLayout {
        root: PathBuf::new(),
    };
    let mut report = DeployReport {
        dry_run: request.dry_run,
        plans: Vec::new(),
        applied: Vec::new(),
        unresolved_secrets: Vec::new(),
        empty_secrets: Vec::new(),
    };
    for path in paths {
        let Some(record) = read_record(&path)? else {
            continue;
        };
        let wanted = request
            .tools
            .as_ref()
            .is_none_or(|tools| tools.contains(&record.tool));
        if !wanted || record.scope != scope || record.root != root_text {
            continue;
        }
        let nothing = DistManifest {
            version: MANIFEST_VERSION,
            tool: record.tool.clone(),
            profile: record.profile.clone(),
            files: Default::default(),
            omitted: Vec::new(),
            homes: record.homes.clone(),
        };
        let env = request.env.knowing(&record.tool, &record.homes);
        let planned = plan(
            &PlanRequest {
                layout: &nowhere,
                manifest: &nothing,
                scope,
                project: request.target.project_dir(),
                env: &env,
                previous: Some(&record),
                pending: &[],
                secrets: secrets.as_ref(),
                mode: DeployMode::Copy,
            },
            DeployOptions {
                force: request.force,
                ..DeployOptions::default()
            },
        )?;
        let mut planned = planned;
        planned.record.manifest = record.manifest.clone();
        if !request.dry_run {
            let applied = apply(&planned, &path, None)?;
            // Retired once nothing of it is left; drifted files keep it (for `--force`).
            let left = planned
                .steps
                .iter()
                .any(|step| matches!(step.action, Action::Drift { .. }));
            if !left {
                crate::apply::remove_state_file(&path)?;
            }
            report.applied.push(applied);
        }
        report.plans.push(planned);
    }
    Ok(report)
}
