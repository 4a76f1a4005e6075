//! `kiln deploy` as one call: take the lock, read the dist manifests, resolve every secret
//! before the first write, plan every build, and apply only when nothing blocks.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use kiln_model::{BuildScope, DeployRecord, DistManifest};
use kiln_store::dist::{DistLayout, read_manifest};

use crate::apply::{
    Applied, apply, lock, owned, pending_path, per_profile_records, read_pending, read_record,
    record_path, remove_state_file, write_pending,
};
use crate::error::DeployError;
use crate::location::DeployEnv;
use crate::plan::{DeployMode, DeployOptions, DeployPlan, PlanRequest, plan, scope_root};
use crate::secrets::{Secrets, find_references, machine_key, may_hold_secrets};

/// Where to deploy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The global scope, into the home directory (and the tools' relocated homes).
    Global,
    /// The project scope, into this folder (canonical, see [`Target::project`]).
    Project(PathBuf),
}

impl Target {
    /// A project folder as given on the command line, made canonical (it must exist).
    pub fn project(dir: &Path) -> Result<Target, DeployError> {
        dir.canonicalize()
            .map(Target::Project)
            .map_err(|e| DeployError::Project {
                path: dir.display().to_string(),
                reason: e.to_string(),
            })
    }

    /// Where a deploy record's files are: the home, or the project it names.
    pub fn of_record(record: &kiln_model::DeployRecord) -> Target {
        match record.scope {
            BuildScope::Global => Target::Global,
            BuildScope::Project => Target::Project(PathBuf::from(&record.root)),
        }
    }

    pub(crate) fn scope(&self) -> BuildScope {
        match self {
            Target::Global => BuildScope::Global,
            Target::Project(_) => BuildScope::Project,
        }
    }

    pub(crate) fn project_dir(&self) -> Option<&Path> {
        match self {
            Target::Global => None,
            Target::Project(dir) => Some(dir),
        }
    }
}

/// Copy files, or link read-only ones into kiln's rendered store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LinkMode {
    /// Regular files.
    #[default]
    Copy,
    /// Symlinks for rules, skills, commands and agents.
    Symlink,
}

impl LinkMode {
    /// How a deploy record's files were put in place: symlink mode when any links into
    /// kiln's store (absolute; a skill's own links are relative and exist in copy mode too).
    pub fn of_record(record: &kiln_model::DeployRecord) -> LinkMode {
        let store_link = |entry: &kiln_model::RecordEntry| {
            entry
                .link
                .as_deref()
                .is_some_and(|l| Path::new(l).is_absolute())
        };
        if record.files.values().any(store_link) {
            LinkMode::Symlink
        } else {
            LinkMode::Copy
        }
    }
}

/// What to deploy.
pub struct DeployRequest<'a> {
    /// The library's dist folder.
    pub dist: &'a DistLayout,
    /// The (tool, profile) builds to deploy.
    pub builds: Vec<(String, String)>,
    /// Global or a project.
    pub target: Target,
    /// Copy or symlink.
    pub mode: LinkMode,
    /// What to do with files kiln did not write, and with drift.
    pub options: DeployOptions<'a>,
    /// Plan only; write nothing (not even the lock or the machine key).
    pub dry_run: bool,
    /// The 1Password CLI and its timeout.
    pub op_command: crate::secrets::OpCommand,
    /// Home and relocation variables.
    pub env: &'a DeployEnv,
    /// kiln's state folder (`$XDG_STATE_HOME/kiln`): records, lock, machine key, store.
    pub state: &'a Path,
    /// Told each secret reference before `op` is asked for it (a terminal shows the wait).
    pub waiting_for_secret: &'a dyn Fn(&str),
    /// Secrets an earlier step of the same run resolved (`kiln sync` resolves them before a
    /// promotion): used when they cover every reference, so `op` is asked once per run.
    pub resolved_secrets: Option<&'a Secrets>,
}

/// What a deploy did, or would do.
#[derive(Debug)]
pub struct DeployReport {
    /// Whether nothing was written on purpose.
    pub dry_run: bool,
    /// One plan per build.
    pub plans: Vec<DeployPlan>,
    /// What applying each plan did (empty for a dry run or a blocked deploy).
    pub applied: Vec<Applied>,
    /// A dry run's secret references, which it does not resolve (`op` is not run).
    pub unresolved_secrets: Vec<String>,
    /// Secret references whose value is empty.
    pub empty_secrets: Vec<String>,
}

impl DeployReport {
    /// Whether a conflict or refusal kept the deploy from writing anything.
    pub fn blocked(&self) -> bool {
        self.plans.iter().any(|p| p.blockers().next().is_some())
    }

    /// The files the user changed since kiln deployed them, which the deploy left alone.
    pub fn drifted(&self) -> Vec<&crate::plan::Step> {
        self.plans
            .iter()
            .flat_map(|plan| &plan.steps)
            .filter(|step| matches!(step.action, crate::plan::Action::Drift { .. }))
            .collect()
    }
}

/// Plans every build and, unless it is a dry run or anything blocks, applies them all.
pub fn deploy(request: &DeployRequest<'_>) -> Result<DeployReport, DeployError> {
    let scope = request.target.scope();
    // Plan everything before writing anything; hold the lock while planning for real.
    let _lock = if request.dry_run {
        None
    } else {
        Some(lock(request.state)?)
    };
    let manifests = read_manifests(request)?;
    let resolved;
    let secrets = match request.resolved_secrets {
        Some(earlier)
            if !request.dry_run && earlier.covers(&references_of(request, &manifests, scope)) =>
        {
            earlier
        }
        _ => {
            resolved = resolve_secrets(request, &manifests, scope)?;
            &resolved
        }
    };
    let root = scope_root(request.env, scope, request.target.project_dir());
    // Each build's plan stands alone (its own record, its own files): planned in parallel.
    // (Only what planning needs is shared with the workers.)
    let (state, dist, project, env, options, mode) = (
        request.state,
        request.dist,
        request.target.project_dir(),
        request.env,
        request.options,
        request.mode,
    );
    let planned: Vec<(DeployPlan, PlannedRecord)> = manifests
        .par_iter()
        .map(|manifest| {
            let path = record_path(state, &manifest.tool, scope, &root);
            // Another profile deployed here before (or an older kiln's per-profile record):
            // what it wrote is this deploy's to update or prune.
            let retired = per_profile_records(state, &manifest.tool, scope, &root);
            let mut earlier = Vec::new();
            for other in &retired {
                earlier.extend(read_record(other)?);
            }
            let previous = owned(read_record(&path)?, earlier);
            let pending = read_pending(&path);
            let env = env.knowing(&manifest.tool, &manifest.homes);
            let plan_request = PlanRequest {
                layout: dist,
                manifest,
                scope,
                project,
                env: &env,
                previous: previous.as_ref(),
                pending: &pending,
                secrets: Some(secrets),
                mode: match mode {
                    LinkMode::Copy => DeployMode::Copy,
                    LinkMode::Symlink => DeployMode::Symlink {
                        store: state.join("rendered"),
                    },
                },
            };
            let plan = plan(&plan_request, options)?;
            Ok((
                plan,
                PlannedRecord {
                    path,
                    retired,
                    pending,
                    previous,
                },
            ))
        })
        .collect::<Result<_, DeployError>>()?;
    let (plans, records): (Vec<DeployPlan>, Vec<PlannedRecord>) = planned.into_iter().unzip();
    let mut report = DeployReport {
        dry_run: request.dry_run,
        plans,
        applied: Vec::new(),
        unresolved_secrets: secrets
            .unresolved_references()
            .map(str::to_string)
            .collect(),
        empty_secrets: secrets.empty_values().to_vec(),
    };
    if !request.dry_run {
        // Temporary files a killed run left (one may hold a resolved secret).
        remove_leftover_temps(&report.plans, request.state);
    }
    if !request.dry_run && !report.blocked() {
        // Only a plan that writes a live file needs its journal (a no-op deploy writes nothing).
        for (plan, record) in report.plans.iter().zip(&records) {
            if plan.writes() {
                write_pending(&record.path, plan, &record.pending)?;
            }
        }
        for (plan, record) in report.plans.iter().zip(&records) {
            report
                .applied
                .push(apply(plan, &record.path, record.unchanged_from())?);
            // Also an earlier run's journal, now that the record is current.
            remove_state_file(&pending_path(&record.path))?;
            // Only once the new record holds everything they owned.
            for old in &record.retired {
                remove_state_file(old)?;
            }
        }
    }
    // The process ends soon after a deploy: the manifests and earlier records (an entry per
    // file) are not freed entry by entry.
    std::mem::forget(manifests);
    std::mem::forget(records);
    Ok(report)
}

/// Where one build's record goes, and what was there before.
struct PlannedRecord {
    path: PathBuf,
    /// Per-profile records this deploy's record replaces.
    retired: Vec<PathBuf>,
    /// An interrupted deploy's journal.
    pending: Vec<DeployRecord>,
    /// The record as read (with what the retired ones owned).
    previous: Option<DeployRecord>,
}

impl PlannedRecord {
    /// The record file's content as read, when that file alone held it (no per-profile record
    /// folded in): an apply that ends with the same content leaves the file alone.
    fn unchanged_from(&self) -> Option<&DeployRecord> {
        self.retired
            .is_empty()
            .then_some(self.previous.as_ref())
            .flatten()
    }
}

/// Removes kiln's temporary files (`.kiln-*.tmp`, `.kiln-link-*`) from every folder a plan
/// writes into and from the records folder; a failure to remove one is not an error. (A killed
/// run's temporary file stands beside a file it did not get to write, which this run writes:
/// folders where nothing is written are not listed, so a no-op deploy reads none.)
fn remove_leftover_temps(plans: &[DeployPlan], state: &Path) {
    let folders: BTreeSet<PathBuf> = plans
        .iter()
        .flat_map(|plan| &plan.steps)
        .filter(|step| step.writes())
        .filter_map(|step| step.path.parent().map(Path::to_path_buf))
        .chain([
            state.to_path_buf(),
            state.join("records"),
            state.join("rendered"),
        ])
        .collect();
    for folder in folders {
        kiln_store::fs::remove_leftover_temps(&folder);
    }
}

/// The secrets of one deployment, resolved (`kiln sync` needs them before it promotes a live
/// file, to turn a pasted value back into its reference); a dry run's are left unresolved.
pub fn deployment_secrets(request: &DeployRequest<'_>) -> Result<Secrets, DeployError> {
    let manifests = read_manifests(request)?;
    resolve_secrets(request, &manifests, request.target.scope())
}

fn read_manifests(request: &DeployRequest<'_>) -> Result<Vec<DistManifest>, DeployError> {
    request
        .builds
        .iter()
        .map(|(tool, profile)| {
            read_manifest(&request.dist.manifest(tool, profile))
                .map_err(|e| DeployError::Dist(e.to_string()))?
                .ok_or_else(|| DeployError::NotBuilt {
                    tool: tool.clone(),
                    profile: profile.clone(),
                })
        })
        .collect()
}

/// Every secret reference in what is about to be deployed.
fn references_of(
    request: &DeployRequest<'_>,
    manifests: &[DistManifest],
    scope: BuildScope,
) -> BTreeSet<String> {
    let prefix = format!("{}/", scope.as_str());
    let mut references = BTreeSet::new();
    for manifest in manifests {
        let tree = request.dist.tree(&manifest.tool, &manifest.profile);
        // References are whole values in shared config files (validated), never prose.
        let shared = manifest
            .files
            .iter()
            .filter(|(p, e)| may_hold_secrets(e) && p.starts_with(&prefix));
        for (path, _) in shared {
            if let Ok(bytes) = std::fs::read(tree.join(path)) {
                references.extend(find_references(&bytes));
            }
        }
    }
    references
}

/// Every secret reference in what is about to be deployed, resolved once, before anything is
/// written; any failure stops the deploy here.
fn resolve_secrets(
    request: &DeployRequest<'_>,
    manifests: &[DistManifest],
    scope: BuildScope,
) -> Result<Secrets, DeployError> {
    let references = references_of(request, manifests, scope);
    if request.dry_run {
        // `op` is not run: files holding secrets are compared by their keyed hash. Without a
        // machine key no keyed hash can exist yet, and a dry run writes nothing.
        let key = crate::secrets::existing_machine_key(request.state).unwrap_or([0; 32]);
        return Ok(Secrets::unresolved(references, key));
    }
    let key = machine_key(request.state)?;
    Secrets::resolve_with(
        &references,
        &request.op_command,
        key,
        request.waiting_for_secret,
    )
}
