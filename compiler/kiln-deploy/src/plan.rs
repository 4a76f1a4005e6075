//! The deploy plan: for every file of a (tool, profile, scope) build, what deploying it would
//! do — create, update, keep, remove, adopt, back up — or why it cannot (a conflict with a file
//! kiln did not write, drift in a file the user edited, a path the sandbox refuses). Computed
//! completely before anything is written; `--dry-run` and deploy share it, and whether a file
//! kiln deployed before is still kiln's to change is the drift model's call
//! ([`crate::drift`]), the same one `kiln check` and `kiln status` report.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use kiln_model::{
    BuildScope, ComponentKind, DeployRecord, DistManifest, FileMode, ManifestEntry, RECORD_VERSION,
    RecordEntry, RecordedHash,
};
use kiln_store::dist::DistLayout;
use kiln_store::hash::content_hash;
use serde::Serialize;

use crate::drift::{DriftReason, Live, compare};
pub use crate::error::DeployError;
use crate::location::{DeployEnv, Location, SandboxChecks, check_relative, locate, write_through};
use crate::merge::{MergeFormat, merge, owned_values};
use crate::secrets::{Secrets, may_hold_secrets};

/// How to treat files kiln did not write, and files the user changed.
#[derive(Clone, Copy, Debug, Default)]
pub struct DeployOptions<'a> {
    /// Take ownership of conflicting files (their content is replaced).
    pub adopt: bool,
    /// Move conflicting files aside to `<name>.kiln-backup` first.
    pub backup: bool,
    /// Overwrite conflicts and drifted files.
    pub force: bool,
    /// Paths (relative to the root) whose live edit is discarded, as `force` does for all
    /// (`kiln sync --prefer source`).
    pub overwrite: &'a [String],
    /// Folders (relative to the root) whose files kiln did not write it takes over, as
    /// `adopt` does everywhere: `kiln sync --adopt-new` has just copied them into the library
    /// byte for byte, so replacing them loses nothing.
    pub adopt_under: &'a [String],
}

/// How read-only files are put in place.
#[derive(Clone, Debug, Default)]
pub enum DeployMode {
    /// Regular files (the default).
    #[default]
    Copy,
    /// Symlinks into kiln's rendered store (content-addressed files under this folder, which
    /// a rebuild never changes), for rules, skills, commands and agents only; files a tool
    /// rewrites itself (settings, MCP configs) are always copied.
    Symlink {
        /// The store folder (`$XDG_STATE_HOME/kiln/rendered`).
        store: PathBuf,
    },
}

/// What deploying one file does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// The file does not exist; kiln writes it.
    Create,
    /// kiln's file (or kiln's keys) changed in dist; kiln rewrites it.
    Update,
    /// Already as dist says.
    Keep,
    /// kiln deployed it earlier, dist no longer has it, and it is unchanged: removed.
    Remove,
    /// A file kiln did not write; `--adopt` takes it over.
    Adopt,
    /// A file kiln did not write; `--backup` moves it aside first.
    Backup {
        /// Where the original goes.
        to: String,
    },
    /// A file kiln did not write is in the way (nothing is written while any conflict remains).
    Conflict {
        /// What is in the way.
        reason: String,
    },
    /// The user changed kiln's file since the last deploy: left alone (`--force` overwrites).
    Drift {
        /// What changed.
        reason: DriftReason,
    },
    /// The path is refused by the sandbox.
    Refused {
        /// Why.
        reason: String,
    },
}

/// One file of the plan.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// The dist path below the scope (`.claude/rules/a.md`).
    pub relative: String,
    /// The live path.
    pub path: PathBuf,
    /// What happens.
    #[serde(flatten)]
    pub action: Action,
    /// The bytes to write (create, update, adopt, backup).
    #[serde(skip)]
    pub bytes: Option<Vec<u8>>,
    /// The mode to give the file.
    #[serde(skip)]
    pub mode: u32,
    /// The record entry after this step (None: not recorded).
    #[serde(skip)]
    pub entry: Option<RecordEntry>,
    /// Symlink mode: the store file the live path links to (written first when missing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<PathBuf>,
    /// For updates of shared files: the live file's hash when planned, and how to merge again
    /// if it changed before the write (compare-and-swap).
    #[serde(skip)]
    pub shared: Option<SharedUpdate>,
    /// The user's symlink this step writes through (`path` is the file it leads to).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub through: Option<PathBuf>,
}

/// What a shared-file update needs to be redone against a newer live file.
#[derive(Clone, Debug)]
pub struct SharedUpdate {
    /// `blake3:` hash of the live text the update was planned against.
    pub seen: String,
    /// The file's syntax.
    pub format: MergeFormat,
    /// kiln's fragment.
    pub fragment: serde_json::Value,
    /// The keys kiln owns now.
    pub owned: Vec<String>,
    /// The keys kiln owned before.
    pub previously_owned: Vec<String>,
}

/// A complete plan.
#[derive(Clone, Debug, Serialize)]
pub struct DeployPlan {
    /// The tool.
    pub tool: String,
    /// The profile.
    pub profile: String,
    /// The scope.
    pub scope: BuildScope,
    /// Every file, sorted by dist path.
    pub steps: Vec<Step>,
    /// How many files were kept on their stat alone (unchanged identity and times since kiln
    /// recorded them): neither dist nor the live file was read.
    pub kept_by_stat: usize,
    /// The record to write once applied.
    #[serde(skip)]
    pub record: DeployRecord,
}

impl DeployPlan {
    /// Steps that block the deploy (conflicts and refusals).
    pub fn blockers(&self) -> impl Iterator<Item = &Step> {
        self.steps
            .iter()
            .filter(|s| matches!(s.action, Action::Conflict { .. } | Action::Refused { .. }))
    }

    /// Whether anything would be written.
    pub fn writes(&self) -> bool {
        self.steps.iter().any(Step::writes)
    }
}

impl Step {
    /// Whether this step writes (or removes) its live file.
    pub fn writes(&self) -> bool {
        matches!(
            self.action,
            Action::Create
                | Action::Update
                | Action::Remove
                | Action::Adopt
                | Action::Backup { .. }
        )
    }
}

/// What to plan: one built (tool, profile), one scope, into one root.
pub struct PlanRequest<'a> {
    /// Where dist is.
    pub layout: &'a DistLayout,
    /// The dist manifest.
    pub manifest: &'a DistManifest,
    /// The scope to deploy.
    pub scope: BuildScope,
    /// The project root (project scope).
    pub project: Option<&'a Path>,
    /// Home and relocation variables.
    pub env: &'a DeployEnv,
    /// The previous record for this root, if any.
    pub previous: Option<&'a DeployRecord>,
    /// The record an interrupted deploy meant to write (its journal), if one was left: a file
    /// that holds exactly what it meant to write is kiln's, though no record says so yet.
    pub pending: &'a [DeployRecord],
    /// Resolved secrets (and the key for hashing files that hold them).
    pub secrets: Option<&'a Secrets>,
    /// Copy or symlink.
    pub mode: DeployMode,
}

/// How recorded hashes are computed: plain for ordinary files, keyed for files that hold
/// resolved secrets (see [`Secrets::keyed_hash`]).
#[derive(Clone, Copy)]
struct Hashing<'a> {
    secrets: Option<&'a Secrets>,
}

impl Hashing<'_> {
    fn of(self, bytes: &[u8], secret: bool) -> RecordedHash {
        match self.secrets {
            Some(secrets) if secret => secrets.keyed_hash(bytes),
            _ => RecordedHash::Plain(content_hash(bytes)),
        }
    }

    fn json_of<T: Serialize>(self, value: &T, secret: bool) -> RecordedHash {
        self.of(&serde_json::to_vec(value).unwrap_or_default(), secret)
    }
}

/// The root a scope deploys into, for the record.
pub fn scope_root(env: &DeployEnv, scope: BuildScope, project: Option<&Path>) -> PathBuf {
    match (scope, project) {
        (BuildScope::Project, Some(project)) => project.to_path_buf(),
        _ => env.home.clone(),
    }
}

/// Plans deploying `request`.
pub fn plan(
    request: &PlanRequest<'_>,
    options: DeployOptions<'_>,
) -> Result<DeployPlan, DeployError> {
    let manifest = request.manifest;
    let tree = request.layout.tree(&manifest.tool, &manifest.profile);
    let prefix = format!("{}/", request.scope.as_str());
    let key = request.secrets.map(Secrets::key);
    let mut known = request
        .previous
        .map(|r| r.files.clone())
        .unwrap_or_default();
    for (relative, meant) in request.pending.iter().flat_map(|p| &p.files) {
        if check_relative(relative).is_err() {
            continue;
        }
        let location = locate(
            request.env,
            &manifest.tool,
            request.scope,
            request.project,
            relative,
        );
        let path = match write_through(&location, request.scope, &request.env.allow_roots) {
            Ok(Some(target)) => target.path(),
            _ => location.path(),
        };
        if compare(&Live::read(&path)?, meant, key).is_ok() {
            known.insert(relative.clone(), meant.clone());
        }
    }
    let previous_files = &known;
    let now = crate::seen::now_ns();
    let mut sandbox = SandboxChecks::default();
    let mut kept_by_stat = 0;
    let mut steps = Vec::new();
    let mut wanted = BTreeSet::new();
    let hashing = Hashing {
        secrets: request.secrets,
    };
    for (dist_path, entry) in &manifest.files {
        let Some(relative) = dist_path.strip_prefix(&prefix) else {
            continue;
        };
        wanted.insert(relative.to_string());
        let location = locate(
            request.env,
            &manifest.tool,
            request.scope,
            request.project,
            relative,
        );
        let step = match sandbox.check(&location, request.scope, &request.env.allow_roots) {
            Err(refusal) => step(relative, &location, Action::Refused { reason: refusal.0 }),
            Ok(())
                if let Some(kept) = unchanged_since_deployed(
                    request,
                    relative,
                    &location,
                    entry,
                    previous_files.get(relative),
                ) =>
            {
                kept_by_stat += 1;
                kept
            }
            Ok(()) => {
                let dist_bytes = std::fs::read(tree.join(dist_path)).map_err(|e| {
                    DeployError::Dist(format!(
                        "failed to read `{dist_path}` from dist: {e}; run `kiln build` first"
                    ))
                })?;
                if content_hash(&dist_bytes) != entry.hash {
                    return Err(DeployError::Dist(format!(
                        "dist file `{dist_path}` does not match its manifest; run `kiln build` again"
                    )));
                }
                // Secrets are substituted before anything is compared, so an unchanged deploy of
                // a file holding one is still a no-op.
                let (bytes, secret) = match request.secrets {
                    Some(secrets) if may_hold_secrets(entry) => secrets.substitute(&dist_bytes),
                    _ => (dist_bytes, false),
                };
                // A link the user made (dotfiles) is written through, and stays a link; a
                // link kiln made (symlink mode) is kiln's to replace.
                let links_here = matches!(request.mode, DeployMode::Symlink { .. })
                    && !secret
                    && read_only(entry);
                let kiln_link = previous_files
                    .get(relative)
                    .is_some_and(|p| p.link.is_some());
                let through = if links_here || kiln_link {
                    None
                } else {
                    match write_through(&location, request.scope, &request.env.allow_roots) {
                        Ok(through) => through,
                        Err(refusal) => {
                            steps.push(step(
                                relative,
                                &location,
                                Action::Refused { reason: refusal.0 },
                            ));
                            continue;
                        }
                    }
                };
                let target = through.as_ref().unwrap_or(&location);
                let file = Planned {
                    relative,
                    location: target,
                    entry,
                    previous: previous_files.get(relative),
                    secret,
                    hashing,
                    key,
                    options,
                    now,
                };
                let live = Live::read(&target.path())?;
                let mut planned = match (entry.merge, &request.mode) {
                    (Some(format), _) => plan_merge(&file, format, &bytes, &live)?,
                    // A skill's own link (to a sibling file) stays a link in every mode.
                    (None, _) if entry.link.is_some() => {
                        let text = entry.link.as_deref().unwrap_or_default();
                        plan_link(&file, bytes, PathBuf::from(text), &live)
                    }
                    (None, DeployMode::Symlink { store }) if links_here => {
                        let hash = content_hash(&bytes);
                        let target = store.join(hash.trim_start_matches("blake3:"));
                        plan_link(&file, bytes, target, &live)
                    }
                    (None, _) => plan_owned(&file, bytes, &live),
                };
                if secret && request.secrets.is_some_and(Secrets::is_unresolved) {
                    planned = by_keyed_hash(&file, planned, &live);
                }
                planned.through = through.is_some().then(|| location.path());
                planned
            }
        };
        steps.push(step);
    }
    // Files kiln deployed before that dist no longer has.
    for (relative, recorded) in previous_files {
        if wanted.contains(relative) || check_relative(relative).is_err() {
            continue;
        }
        let location = locate(
            request.env,
            &manifest.tool,
            request.scope,
            request.project,
            relative,
        );
        if sandbox
            .check(&location, request.scope, &request.env.allow_roots)
            .is_err()
        {
            continue;
        }
        match write_through(&location, request.scope, &request.env.allow_roots) {
            // Kiln's keys leave a shared file behind the user's link; a file of its own that
            // the user's link leads to is released, never deleted through the link.
            Ok(Some(target)) if recorded.merge.is_some() => {
                let mut removal = plan_removal(relative, &target, recorded, key, options)?;
                removal.through = Some(location.path());
                steps.push(removal);
            }
            Ok(Some(_)) | Err(_) if recorded.link.is_none() => {
                steps.push(step(relative, &location, Action::Keep));
            }
            _ => steps.push(plan_removal(relative, &location, recorded, key, options)?),
        }
    }
    steps.sort_by(|a, b| a.relative.cmp(&b.relative));
    let root = scope_root(request.env, request.scope, request.project);
    let files = steps
        .iter()
        .filter_map(|s| {
            let mut entry = s.entry.clone()?;
            entry.live = Some(s.path.display().to_string());
            Some((s.relative.clone(), entry))
        })
        .collect();
    let record = DeployRecord {
        version: RECORD_VERSION,
        tool: manifest.tool.clone(),
        profile: manifest.profile.clone(),
        scope: request.scope,
        root: root.display().to_string(),
        manifest: Some(
            request
                .layout
                .manifest(&manifest.tool, &manifest.profile)
                .display()
                .to_string(),
        ),
        files,
        created_dirs: request
            .previous
            .into_iter()
            .chain(request.pending)
            .flat_map(|r| r.created_dirs.clone())
            .collect(),
        homes: manifest.homes.clone(),
        seal: None,
    };
    Ok(DeployPlan {
        tool: manifest.tool.clone(),
        profile: manifest.profile.clone(),
        scope: request.scope,
        steps,
        kept_by_stat,
        record,
    })
}

/// A file deployed before from the same dist bytes, whose live identity and times are still
/// what kiln recorded once they had settled: kept without reading dist or the live file.
/// Shared files (kiln's keys among the user's, and the only files that may hold secrets) and
/// links always take the full comparison.
fn unchanged_since_deployed(
    request: &PlanRequest<'_>,
    relative: &str,
    location: &Location,
    entry: &ManifestEntry,
    previous: Option<&RecordEntry>,
) -> Option<Step> {
    let previous = previous?;
    let seen = previous.seen.as_ref()?;
    let links_here = matches!(request.mode, DeployMode::Symlink { .. }) && read_only(entry);
    let path = location.path();
    let same_place = previous.live.as_deref() == Some(path.to_str()?);
    if may_hold_secrets(entry)
        || entry.link.is_some()
        || links_here
        || previous.link.is_some()
        || previous.merge.is_some()
        || previous.dist_hash != entry.hash
        || previous.mode != entry.mode
        || !same_place
        || !crate::seen::unchanged(&path, seen)
    {
        return None;
    }
    let mut kept = step(relative, location, Action::Keep);
    kept.mode = previous.mode.bits();
    kept.entry = Some(previous.clone());
    Some(kept)
}

fn step(relative: &str, location: &Location, action: Action) -> Step {
    Step {
        relative: relative.to_string(),
        path: location.path(),
        action,
        bytes: None,
        mode: FileMode::DEFAULT.bits(),
        entry: None,
        link: None,
        shared: None,
        through: None,
    }
}

/// Whether a dist file may be a symlink: it comes only from rules, skills, commands, agents
/// (and context fragments they include), which tools read and never rewrite.
fn read_only(entry: &ManifestEntry) -> bool {
    entry.merge.is_none()
        && entry.components.iter().all(|c| {
            c.split_once(':')
                .and_then(|(kind, _)| ComponentKind::from_prefix(kind))
                .is_some_and(|kind| {
                    matches!(
                        kind,
                        ComponentKind::Rule
                            | ComponentKind::Skill
                            | ComponentKind::Command
                            | ComponentKind::Agent
                            | ComponentKind::Context
                    )
                })
        })
}

/// One dist file being planned.
struct Planned<'a> {
    relative: &'a str,
    location: &'a Location,
    entry: &'a ManifestEntry,
    previous: Option<&'a RecordEntry>,
    /// The bytes hold a resolved secret.
    secret: bool,
    hashing: Hashing<'a>,
    /// The machine key, to compare with keyed hashes in the record.
    key: Option<&'a [u8; 32]>,
    options: DeployOptions<'a>,
    /// When planning began (ns since the epoch): which live files are settled enough to
    /// record their stat.
    now: i64,
}

impl Planned<'_> {
    fn step(&self, action: Action) -> Step {
        step(self.relative, self.location, action)
    }

    /// Whether a file kiln did not write here is taken over (`--adopt`, or a folder sync
    /// just adopted).
    fn adopts(&self) -> bool {
        self.options.adopt
            || self.options.adopt_under.iter().any(|folder| {
                self.relative
                    .strip_prefix(folder.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
            })
    }

    /// The user's change to a file kiln deployed before, which deploy leaves alone; `None`
    /// when the file is as kiln left it, only needs repairing (deleted, mode changed), or
    /// `--force` overwrites it.
    fn drift(&self, live: &Live, previous: &RecordEntry) -> Option<DriftReason> {
        match compare(live, previous, self.key) {
            Ok(()) => None,
            Err(reason)
                if reason.repaired_by_deploy()
                    || self.options.force
                    || self.options.overwrite.iter().any(|p| p == self.relative) =>
            {
                None
            }
            Err(reason) => Some(reason),
        }
    }

    fn left_alone(&self, reason: DriftReason, mut result: Step) -> Step {
        result.action = Action::Drift { reason };
        result.entry = self.previous.cloned();
        result
    }
}

/// Plans a file whose live path should be a symlink to `target`: in symlink mode the store
/// file holding these bytes (absolute), or the sibling file a skill's own link names
/// (relative; deployed as a file of its own).
fn plan_link(file: &Planned<'_>, bytes: Vec<u8>, target: PathBuf, live: &Live) -> Step {
    let hash = content_hash(&bytes);
    let mut result = file.step(Action::Keep);
    result.mode = file.entry.mode.bits();
    let recorded = RecordEntry {
        hash: RecordedHash::Plain(hash),
        mode: file.entry.mode,
        dist_hash: file.entry.hash.clone(),
        merge: None,
        owned_keys: Vec::new(),
        owned_hash: None,
        created: file.previous.is_none_or(|p| p.created),
        link: Some(target.display().to_string()),
        live: None,
        created_parents: Vec::new(),
        seen: None,
    };
    let write = |mut s: Step, action: Action| {
        s.action = action;
        s.bytes = Some(bytes.clone());
        s.link = Some(target.clone());
        s.entry = Some(recorded.clone());
        s
    };
    if let Live::Symlink(current) = live
        && *current == target
        && (target.is_relative() || target.is_file())
    {
        result.entry = Some(recorded.clone());
        return result;
    }
    match (live, file.previous) {
        (Live::Missing, _) => write(result, Action::Create),
        (_, Some(previous)) => match file.drift(live, previous) {
            Some(reason) => file.left_alone(reason, result),
            None => write(result, Action::Update),
        },
        (Live::File { .. }, None) if file.options.force || file.adopts() => {
            write(result, Action::Adopt)
        }
        (Live::File { .. }, None) => {
            result.action = Action::Conflict {
                reason: "exists and was not written by kiln".to_string(),
            };
            result
        }
        (Live::Symlink(current), None) => {
            result.action = Action::Conflict {
                reason: format!("is a symlink to `{}` kiln did not make", current.display()),
            };
            result
        }
        (Live::Other(what), None) => {
            result.action = Action::Conflict {
                reason: format!("is {what}"),
            };
            result
        }
    }
}

/// A dry run resolves no secret, so a file holding one cannot be merged and compared: it is
/// unchanged when dist is what was deployed and the live file still has the keyed hash kiln
/// recorded; otherwise the plan stands (an update that the real deploy may find is a no-op).
fn by_keyed_hash(file: &Planned<'_>, mut planned: Step, live: &Live) -> Step {
    let Some(previous) = file.previous else {
        return planned;
    };
    if planned.action == Action::Update
        && previous.dist_hash == file.entry.hash
        && compare(live, previous, file.key).is_ok()
    {
        planned.action = Action::Keep;
        planned.bytes = None;
        planned.shared = None;
        planned.entry = Some(previous.clone());
    }
    planned
}

fn is_empty_container(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Array(items) => items.is_empty(),
        serde_json::Value::Object(members) => members.is_empty(),
        _ => false,
    }
}

fn plan_owned(file: &Planned<'_>, bytes: Vec<u8>, live: &Live) -> Step {
    let Planned {
        entry,
        previous,
        secret,
        hashing,
        options,
        ..
    } = *file;
    // A file holding a secret is 0600 whatever dist says.
    let mode = if secret {
        FileMode::PRIVATE
    } else {
        entry.mode
    };
    let target_hash = hashing.of(&bytes, secret);
    let recorded = |created: bool| RecordEntry {
        hash: target_hash.clone(),
        mode,
        dist_hash: entry.hash.clone(),
        merge: None,
        owned_keys: Vec::new(),
        owned_hash: None,
        created,
        link: None,
        live: None,
        created_parents: Vec::new(),
        seen: None,
    };
    let created_before = previous.is_some_and(|p| p.created);
    let mut result = file.step(Action::Keep);
    result.mode = mode.bits();
    let write = |mut s: Step, action: Action, created: bool| {
        s.action = action;
        s.bytes = Some(bytes.clone());
        s.entry = Some(recorded(created));
        s
    };
    // Already exactly what dist holds (whoever put it there): nothing to write.
    let is_target = |live: &Live| match live {
        Live::File {
            bytes: live,
            mode: live_mode,
            ..
        } => (hashing.of(live, secret) == target_hash).then_some(*live_mode == mode),
        _ => None,
    };
    // Read and found as kiln wants it: its stat, once settled, spares the next deploy the read.
    let kept = |created: bool| {
        let mut entry = recorded(created);
        if let Live::File { stat, .. } = live
            && !secret
        {
            entry.seen = crate::seen::settled(*stat, file.now);
        }
        entry
    };
    match (live, previous) {
        (Live::Missing, _) => write(result, Action::Create, previous.is_none() || created_before),
        (_, Some(previous)) => {
            let drift = file.drift(live, previous);
            match (is_target(live), drift) {
                (Some(true), _) => {
                    result.entry = Some(kept(created_before));
                    result
                }
                (_, Some(reason)) => file.left_alone(reason, result),
                (_, None) => write(result, Action::Update, created_before),
            }
        }
        (Live::File { .. }, None) => match is_target(live) {
            Some(true) => {
                result.entry = Some(kept(false));
                result
            }
            Some(false) => write(result, Action::Update, false),
            None if options.force => write(result, Action::Update, false),
            None if file.adopts() => write(result, Action::Adopt, false),
            None if options.backup => {
                let to = backup_path(&file.location.path());
                write(
                    result,
                    Action::Backup {
                        to: to.display().to_string(),
                    },
                    false,
                )
            }
            None => {
                result.action = Action::Conflict {
                    reason: "exists and was not written by kiln".to_string(),
                };
                result
            }
        },
        (other, None) => {
            result.action = Action::Conflict {
                reason: format!("is {}", other.what()),
            };
            result
        }
    }
}

/// `<name>.kiln-backup`, or `.kiln-backup.1`, `.2`, … when taken: a backup is never overwritten.
pub fn backup_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let first = path.with_file_name(format!("{name}.kiln-backup"));
    if std::fs::symlink_metadata(&first).is_err() {
        return first;
    }
    (1..)
        .map(|n| path.with_file_name(format!("{name}.kiln-backup.{n}")))
        .find(|candidate| std::fs::symlink_metadata(candidate).is_err())
        .unwrap_or(first)
}

/// The JSON value of a merge fragment from dist (TOML fragments are converted).
pub fn fragment_value(format: MergeFormat, bytes: &[u8]) -> Result<serde_json::Value, DeployError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| DeployError::Dist("a merge fragment is not UTF-8".to_string()))?;
    match format {
        MergeFormat::Toml => toml::from_str::<toml::Table>(text)
            .map_err(|e| DeployError::Dist(format!("a TOML merge fragment does not parse: {e}")))
            .and_then(|table| {
                serde_json::to_value(table).map_err(|e| DeployError::Dist(e.to_string()))
            }),
        MergeFormat::Json | MergeFormat::Jsonc => serde_json::from_str(text)
            .map_err(|e| DeployError::Dist(format!("a JSON merge fragment does not parse: {e}"))),
    }
}

fn plan_merge(
    file: &Planned<'_>,
    format: MergeFormat,
    dist_bytes: &[u8],
    live: &Live,
) -> Result<Step, DeployError> {
    let Planned {
        entry,
        previous,
        secret,
        hashing,
        options,
        ..
    } = *file;
    let fragment = fragment_value(format, dist_bytes)?;
    let owned = &entry.owned_keys;
    let previously_owned: Vec<String> = previous.map(|p| p.owned_keys.clone()).unwrap_or_default();
    let mut result = file.step(Action::Keep);
    let path = file.location.path();
    let fail = |e: crate::merge::MergeError| {
        DeployError::Unparsable(format!(
            "`{}` does not parse ({}:{}: {}); kiln never replaces a shared file it cannot read — fix it or move it aside",
            path.display(),
            e.line,
            e.column,
            e.message
        ))
    };
    // `before`: the live text kiln merged into (`None`: kiln creates the file).
    let recorded =
        |text: &str, created: bool, before: Option<&str>| -> Result<RecordEntry, DeployError> {
            let values = owned_values(format, text, owned).map_err(fail)?;
            let mut created_parents = absent_parents(format, before, owned).map_err(fail)?;
            created_parents.extend(previous.into_iter().flat_map(|p| p.created_parents.clone()));
            created_parents.sort();
            created_parents.dedup();
            Ok(RecordEntry {
                hash: hashing.of(text.as_bytes(), secret),
                mode: entry.mode,
                dist_hash: entry.hash.clone(),
                merge: Some(format),
                owned_keys: owned.clone(),
                owned_hash: Some(hashing.json_of(&values, secret)),
                created,
                link: None,
                live: None,
                created_parents,
                seen: None,
            })
        };
    let (bytes, mode) = match live {
        Live::Missing => {
            let text = merge(format, None, &fragment, owned, &[]).map_err(fail)?;
            result.entry = Some(recorded(&text, true, None)?);
            result.bytes = Some(text.into_bytes());
            result.mode = if secret {
                FileMode::PRIVATE.bits()
            } else {
                entry.mode.bits()
            };
            result.action = Action::Create;
            return Ok(result);
        }
        Live::Symlink(_) | Live::Other(_) => {
            result.action = Action::Conflict {
                reason: format!("is {}; kiln merges only into regular files", live.what()),
            };
            result.entry = previous.cloned();
            return Ok(result);
        }
        Live::File { bytes, mode, .. } => (bytes, *mode),
    };
    let text = std::str::from_utf8(bytes)
        .map_err(|_| DeployError::Unparsable(format!("`{}` is not UTF-8", path.display())))?;
    // A shared file keeps its mode, unless kiln puts a secret in it.
    result.mode = if secret { FileMode::PRIVATE } else { mode }.bits();
    let mode_changes = result.mode != mode.bits();
    if let Some(previous) = previous
        && previous.owned_hash.is_some()
    {
        // Did the user change kiln's keys since the last deploy? Not when they already hold
        // exactly what dist wants (a deploy that stopped between writing the file and its
        // record).
        let same_keys = previous.owned_keys == *owned;
        let current = owned_values(format, text, &previous.owned_keys).map_err(fail)?;
        let wanted = if same_keys {
            current.clone()
        } else {
            owned_values(format, text, owned).map_err(fail)?
        };
        let already_target = wanted
            .iter()
            .all(|(key, value)| value.as_ref() == fragment.pointer(key))
            && previous
                .owned_keys
                .iter()
                .all(|key| owned.contains(key) || current.get(key).is_none_or(Option::is_none));
        if !already_target && let Some(reason) = file.drift(live, previous) {
            return Ok(file.left_alone(reason, result));
        }
        // The whole file as kiln left it, kiln's keys already what dist wants: nothing to
        // merge, and the record entry stands (no second parse to recompute it).
        if already_target
            && same_keys
            && !mode_changes
            && previous.dist_hash == entry.hash
            && hashing.of(text.as_bytes(), secret) == previous.hash
        {
            result.entry = Some(previous.clone());
            return Ok(result);
        }
    } else if !options.force && !options.adopt {
        // First deploy into an existing file: the user's own entries under kiln's keys are
        // conflicts (equal ones are fine).
        let current = owned_values(format, text, owned).map_err(fail)?;
        let clashing: Vec<&String> = current
            .iter()
            // An empty list or table loses nothing when kiln fills it.
            .filter(|(k, v)| {
                v.as_ref().is_some_and(|v| !is_empty_container(v))
                    && v.as_ref() != fragment.pointer(k)
            })
            .map(|(k, _)| k)
            .collect();
        if !clashing.is_empty() {
            result.action = Action::Conflict {
                reason: format!(
                    "already has {} that kiln would replace",
                    clashing
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            return Ok(result);
        }
    }
    let merged = merge(format, Some(text), &fragment, owned, &previously_owned).map_err(fail)?;
    result.entry = Some(recorded(
        &merged,
        previous.is_some_and(|p| p.created),
        Some(text),
    )?);
    if merged != text || mode_changes {
        result.action = Action::Update;
        result.bytes = Some(merged.into_bytes());
        result.shared = Some(SharedUpdate {
            seen: content_hash(text.as_bytes()),
            format,
            fragment: fragment.clone(),
            owned: owned.clone(),
            previously_owned: previously_owned.clone(),
        });
    }
    Ok(result)
}

/// The parents of kiln's keys (`/mcpServers` of `/mcpServers/memory`) that `text` lacks, so
/// kiln's merge creates them; every parent when there is no text yet.
fn absent_parents(
    format: MergeFormat,
    text: Option<&str>,
    owned: &[String],
) -> Result<Vec<String>, crate::merge::MergeError> {
    let mut parents: Vec<String> = owned
        .iter()
        .flat_map(|key| {
            let segments: Vec<&str> = key.split('/').skip(1).collect();
            (1..segments.len())
                .map(move |n| format!("/{}", segments[..n].join("/")))
                .collect::<Vec<_>>()
        })
        .collect();
    parents.sort();
    parents.dedup();
    let Some(text) = text else {
        return Ok(parents);
    };
    let present = owned_values(format, text, &parents)?;
    Ok(parents
        .into_iter()
        .filter(|parent| present.get(parent).is_none_or(Option::is_none))
        .collect())
}

/// `text` without kiln's keys, and without the parents kiln created for them once they are
/// empty (deepest first).
fn without_kiln_keys(
    format: MergeFormat,
    text: &str,
    recorded: &RecordEntry,
) -> Result<String, crate::merge::MergeError> {
    let empty = serde_json::json!({});
    let mut out = merge(format, Some(text), &empty, &[], &recorded.owned_keys)?;
    let mut parents = recorded.created_parents.clone();
    parents.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count()));
    for parent in parents {
        let value = owned_values(format, &out, std::slice::from_ref(&parent))?;
        if value.get(&parent).and_then(Option::as_ref) == Some(&empty) {
            out = merge(
                format,
                Some(&out),
                &empty,
                &[],
                std::slice::from_ref(&parent),
            )?;
        }
    }
    Ok(out)
}

fn plan_removal(
    relative: &str,
    location: &Location,
    recorded: &RecordEntry,
    key: Option<&[u8; 32]>,
    options: DeployOptions<'_>,
) -> Result<Step, DeployError> {
    let path = location.path();
    let mut result = step(relative, location, Action::Remove);
    let live = Live::read(&path)?;
    if let Some(format) = recorded.merge {
        // A shared file: kiln's keys are removed, the file stays.
        let Live::File { bytes, mode, .. } = live else {
            result.action = Action::Keep;
            return Ok(result);
        };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let merged = without_kiln_keys(format, &text, recorded).map_err(|e| {
            DeployError::Unparsable(format!(
                "`{}` does not parse: {}",
                path.display(),
                e.message
            ))
        })?;
        result.mode = mode.bits();
        // A shared file kiln created and nothing else wrote into goes, too.
        let nothing_left = recorded.created
            && fragment_value(format, merged.as_bytes())
                .is_ok_and(|value| value == serde_json::json!({}));
        result.action = if nothing_left {
            Action::Remove
        } else if merged == text {
            Action::Keep
        } else {
            Action::Update
        };
        result.bytes = Some(merged.into_bytes());
        return Ok(result);
    }
    result.action = match (&live, compare(&live, recorded, key)) {
        (Live::Missing, _) => Action::Keep,
        // Only what kiln created is ever deleted: an adopted file is released, not removed.
        (_, _) if !recorded.created => Action::Keep,
        (_, Ok(())) | (_, Err(DriftReason::Mode { .. })) => Action::Remove,
        (_, Err(_)) if options.force => Action::Remove,
        (_, Err(reason)) => {
            result.entry = Some(recorded.clone());
            Action::Drift { reason }
        }
    };
    Ok(result)
}
