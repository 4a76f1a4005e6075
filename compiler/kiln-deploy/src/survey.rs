//! What is deployed on this machine and how it stands: every deploy record, each file it names
//! judged by the drift model ([`crate::drift`]) and against the dist build it came from. Read
//! only; `kiln check`, `kiln status` and `kiln check --fix` ([`repair`]) stand on it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use kiln_model::{BuildScope, DeployRecord};
use serde::Serialize;

use crate::apply::{read_record, restore};
use crate::drift::{FileState, assess};
use crate::error::DeployError;
use crate::location::{DeployEnv, locate, write_through};
use crate::secrets::{Secrets, existing_machine_key, find_references};

/// One file kiln deployed, and how it stands.
#[derive(Clone, Debug, Serialize)]
pub struct FileReport {
    /// The tool.
    pub tool: String,
    /// The profile.
    pub profile: String,
    /// The scope.
    pub scope: &'static str,
    /// The live path.
    pub path: String,
    /// Synced, drifted (modified, missing, mode) or stale.
    pub state: FileState,
    /// What exactly differs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Which record (index into [`Survey::records`]) it came from.
    #[serde(skip)]
    pub record: usize,
    /// Its path in the record.
    #[serde(skip)]
    pub relative: String,
}

/// Every deploy record on this machine and the state of each file it names.
pub struct Survey {
    /// The records, sorted by file name.
    pub records: Vec<(PathBuf, DeployRecord)>,
    /// Every recorded file.
    pub files: Vec<FileReport>,
    /// The machine key, when one exists (for files that hold secrets).
    key: Option<[u8; 32]>,
}

/// Why a dist build has moved on from what is deployed.
fn stale_detail(gone: bool) -> String {
    if gone {
        "no longer built; kiln deploy removes it".to_string()
    } else {
        "dist has a newer build; run kiln deploy".to_string()
    }
}

/// Reads every deploy record under `state` and judges each file it names (writes nothing).
pub fn survey(state: &Path) -> Result<Survey, DeployError> {
    let paths = crate::apply::record_files(state);
    let mut records = Vec::new();
    for path in paths {
        if let Some(record) = read_record(&path)? {
            records.push((path, record));
        }
    }
    let key = existing_machine_key(state);
    let mut files = Vec::new();
    for (index, (_, record)) in records.iter().enumerate() {
        // What dist holds now, to tell a stale deploy (dist moved on) from a synced one.
        let current = record.manifest.as_ref().and_then(|path| {
            kiln_store::dist::read_manifest(Path::new(path))
                .ok()
                .flatten()
        });
        let prefix = format!("{}/", record.scope.as_str());
        for (relative, entry) in &record.files {
            let path = entry
                .live
                .as_ref()
                .map_or_else(|| Path::new(&record.root).join(relative), PathBuf::from);
            let (state, detail) = match assess(&path, entry, key.as_ref()) {
                Err(reason) => (reason.state(), reason.detail()),
                Ok(()) => match current
                    .as_ref()
                    .map(|c| c.files.get(&format!("{prefix}{relative}")))
                {
                    Some(Some(now)) if now.hash != entry.dist_hash => {
                        (FileState::Stale, Some(stale_detail(false)))
                    }
                    Some(None) => (FileState::Stale, Some(stale_detail(true))),
                    _ => (FileState::Synced, None),
                },
            };
            files.push(FileReport {
                tool: record.tool.clone(),
                profile: record.profile.clone(),
                scope: record.scope.as_str(),
                path: path.display().to_string(),
                state,
                detail,
                record: index,
                relative: relative.clone(),
            });
        }
    }
    Ok(Survey {
        records,
        files,
        key,
    })
}

impl Survey {
    /// File counts by state.
    pub fn counts(&self) -> BTreeMap<FileState, usize> {
        let mut counts = BTreeMap::new();
        for file in &self.files {
            *counts.entry(file.state).or_default() += 1;
        }
        counts
    }

    /// Whether any file is not synced.
    pub fn drift(&self) -> bool {
        self.files.iter().any(|f| f.state != FileState::Synced)
    }

    /// What `check --fix` would write for a drifted file (`None`: a symlink), for showing the
    /// difference. A file that holds a secret is an error, so no value is ever shown.
    pub fn wanted(&self, file: &FileReport) -> Result<Option<Vec<u8>>, DeployError> {
        let record = &self.records[file.record].1;
        let entry = &record.files[&file.relative];
        Ok(
            match crate::apply::restoration(
                record,
                &file.relative,
                entry,
                Path::new(&file.path),
                None,
            )? {
                crate::apply::Restoration::File { bytes, .. } => Some(bytes),
                crate::apply::Restoration::Link { .. } => None,
            },
        )
    }

    /// Marks every file of a deployment whose tool is not in `in_use` (the machine's tools)
    /// as retired: never synced, until `kiln undeploy` takes it back.
    pub fn retire(&mut self, in_use: &BTreeSet<String>) {
        for file in &mut self.files {
            if !in_use.contains(&file.tool) {
                file.state = FileState::Retired;
                file.detail = Some(format!(
                    "{} is no longer used on this machine; run `kiln undeploy {}`",
                    file.tool, file.tool
                ));
            }
        }
    }

    /// One summary per deployment (record).
    pub fn deployments(&self) -> Vec<Deployment> {
        let mut deployments: Vec<Deployment> = self
            .records
            .iter()
            .map(|(_, record)| {
                // Links into the store (a skill's own relative links exist in copy mode too).
                let links = record
                    .files
                    .values()
                    .filter(|e| {
                        e.link
                            .as_deref()
                            .is_some_and(|l| Path::new(l).is_absolute())
                    })
                    .count();
                Deployment {
                    tool: record.tool.clone(),
                    profile: record.profile.clone(),
                    scope: record.scope,
                    root: record.root.clone(),
                    mode: match links {
                        0 => "copy",
                        n if n == record.files.len() => "symlink",
                        _ => "mixed",
                    },
                    files: record.files.len(),
                    counts: BTreeMap::new(),
                    state: DeploymentState::Synced,
                }
            })
            .collect();
        for file in &self.files {
            *deployments[file.record]
                .counts
                .entry(file.state)
                .or_default() += 1;
        }
        for deployment in &mut deployments {
            deployment.state = if deployment.counts.contains_key(&FileState::Retired) {
                DeploymentState::Retired
            } else if deployment.counts.keys().any(|s| s.is_drift()) {
                DeploymentState::Drift
            } else if deployment.counts.contains_key(&FileState::Stale) {
                DeploymentState::Stale
            } else {
                DeploymentState::Synced
            };
        }
        deployments
    }

    /// `tool/profile` builds in `dist` with no deployment on this machine.
    pub fn undeployed(&self, dist: &Path) -> Vec<String> {
        let deployed: BTreeSet<(&str, &str)> = self
            .records
            .iter()
            .map(|(_, r)| (r.tool.as_str(), r.profile.as_str()))
            .collect();
        let mut tools: Vec<PathBuf> = std::fs::read_dir(dist)
            .map(|entries| entries.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        tools.sort();
        let mut undeployed = Vec::new();
        for tool_dir in tools.iter().filter(|p| p.is_dir()) {
            let Some(tool) = tool_dir.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let mut profiles: Vec<String> = std::fs::read_dir(tool_dir)
                .map(|entries| {
                    entries
                        .flatten()
                        .filter_map(|e| {
                            let name = e.file_name().to_string_lossy().into_owned();
                            name.strip_suffix(".manifest.json").map(str::to_string)
                        })
                        .collect()
                })
                .unwrap_or_default();
            profiles.sort();
            for profile in profiles {
                if !deployed.contains(&(tool, profile.as_str())) {
                    undeployed.push(format!("{tool}/{profile}"));
                }
            }
        }
        undeployed
    }
}

/// How one deployment stands as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeploymentState {
    /// Every file synced.
    Synced,
    /// Some file edited, deleted or retyped.
    Drift,
    /// dist moved on.
    Stale,
    /// Its tool is no longer used on this machine; `kiln undeploy` takes it back.
    Retired,
}

impl DeploymentState {
    /// `synced`, `drift`, `stale` or `retired`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentState::Synced => "synced",
            DeploymentState::Drift => "drift",
            DeploymentState::Stale => "stale",
            DeploymentState::Retired => "retired",
        }
    }
}

/// One deployment on this machine.
#[derive(Clone, Debug, Serialize)]
pub struct Deployment {
    /// The tool.
    pub tool: String,
    /// The profile.
    pub profile: String,
    /// The scope.
    pub scope: BuildScope,
    /// The root deployed into.
    pub root: String,
    /// `copy`, `symlink`, or `mixed` (symlink mode still copies files a tool rewrites).
    pub mode: &'static str,
    /// How many files.
    pub files: usize,
    /// File counts by state.
    pub counts: BTreeMap<FileState, usize>,
    /// The whole deployment's state.
    pub state: DeploymentState,
}

/// What `kiln check --fix` did.
#[derive(Debug, Default)]
pub struct Repairs {
    /// `restored PATH` or (dry run) `would restore PATH`.
    pub done: Vec<String>,
    /// `PATH: why it was not restored`.
    pub failed: Vec<String>,
}

/// Puts back every drifted file a deploy record can restore (stale ones need `kiln deploy`):
/// the dist bytes, kiln's keys in a shared file, or the symlink, at the location kiln deploys
/// to now (a record's stored live path is never trusted). Secrets are resolved with
/// `op_command` only when a file that holds one needs restoring.
pub fn repair(
    survey: &mut Survey,
    env: &DeployEnv,
    dry_run: bool,
    op_command: impl FnOnce() -> crate::secrets::OpCommand,
) -> Repairs {
    let mut repairs = Repairs::default();
    let secrets = if dry_run {
        None
    } else {
        secrets_for_repair(survey, op_command)
    };
    let key = survey.key;
    for file in &mut survey.files {
        if !repairable(file.state) {
            continue;
        }
        if dry_run {
            repairs.done.push(format!("would restore {}", file.path));
            continue;
        }
        let record = &survey.records[file.record].1;
        let entry = &record.files[&file.relative];
        let live = Path::new(&file.path);
        let location = locate(
            &env.knowing(&record.tool, &record.homes),
            &record.tool,
            record.scope,
            Some(Path::new(&record.root)),
            &file.relative,
        );
        // Through the user's link, as deploy writes (never replacing the link).
        let location = match entry.link {
            Some(_) => Ok(None),
            None => write_through(&location, record.scope, &env.allow_roots),
        }
        .map(|through| through.unwrap_or(location));
        let location = match location {
            Ok(location) => location,
            Err(refusal) => {
                repairs.failed.push(format!("{}: {}", file.path, refusal.0));
                continue;
            }
        };
        if location.path() != live {
            repairs.failed.push(format!(
                "{}: kiln now deploys this file to `{}` (a relocation variable changed, or the record was edited); run `kiln deploy`",
                file.path,
                location.path().display()
            ));
            continue;
        }
        match restore(
            record,
            &file.relative,
            entry,
            &location,
            &env.allow_roots,
            secrets.as_ref(),
        ) {
            Ok(backup) => {
                repairs.done.push(match backup {
                    Some(backup) => format!(
                        "restored {} (the edited file is kept as {})",
                        file.path,
                        backup.display()
                    ),
                    None => format!("restored {}", file.path),
                });
                (file.state, file.detail) = match assess(live, entry, key.as_ref()) {
                    Ok(()) => (FileState::Synced, None),
                    Err(reason) => (reason.state(), reason.detail()),
                };
            }
            Err(error) => repairs.failed.push(format!("{}: {error}", file.path)),
        }
    }
    repairs
}

/// Drift `--fix` puts back from the records (stale files need `kiln deploy`).
fn repairable(state: FileState) -> bool {
    state.is_drift()
}

/// Resolves the secrets the drifted files that hold them need, once each, as `kiln deploy`
/// would; `None` (those files are then reported, not restored) when there are none or
/// resolving fails.
fn secrets_for_repair(
    survey: &Survey,
    op_command: impl FnOnce() -> crate::secrets::OpCommand,
) -> Option<Secrets> {
    let mut references = BTreeSet::new();
    for file in survey.files.iter().filter(|f| repairable(f.state)) {
        let record = &survey.records[file.record].1;
        if !record.files[&file.relative].hash.is_keyed() {
            continue;
        }
        let dist = crate::apply::dist_file(record, &file.relative);
        if let Some(bytes) = dist.and_then(|path| std::fs::read(path).ok()) {
            references.extend(find_references(&bytes));
        }
    }
    if references.is_empty() {
        return None;
    }
    let key = survey.key?;
    Secrets::resolve(&references, &op_command(), key).ok()
}
