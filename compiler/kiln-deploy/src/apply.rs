//! Applying a plan: take the deploy lock, write every create/update with the store's atomic
//! primitive (a conflict anywhere means nothing is written), move originals aside for
//! `--backup`, remove what kiln created and no longer builds, then write the record.

use std::path::{Path, PathBuf};

use kiln_model::DeployRecord;
use kiln_store::fs::{FsError, atomic_write, remove_file_and_empty_parents};

use crate::plan::{Action, DeployError, DeployPlan};

/// What applying did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    /// Files written.
    pub written: Vec<String>,
    /// Files removed.
    pub removed: Vec<String>,
    /// Backups made: (original, backup).
    pub backups: Vec<(String, String)>,
    /// Whether the record changed.
    pub record_written: bool,
}

/// `$XDG_STATE_HOME/kiln` (default `~/.local/state/kiln`).
pub fn state_dir(home: &Path, xdg_state_home: Option<&Path>) -> PathBuf {
    xdg_state_home
        .map_or_else(|| home.join(".local/state"), Path::to_path_buf)
        .join("kiln")
}

/// The record file of a (tool, scope, root). Ownership is not by profile: deploying another
/// profile of the tool into the same root takes over what the last one deployed there.
pub fn record_path(
    state: &Path,
    tool: &str,
    scope: kiln_model::BuildScope,
    root: &Path,
) -> PathBuf {
    state.join("records").join(format!(
        "{tool}--{}--{}.json",
        scope.as_str(),
        root_key(root)
    ))
}

fn root_key(root: &Path) -> String {
    blake3::hash(root.display().to_string().as_bytes()).to_hex()[..16].to_string()
}

/// Records of the same (tool, scope, root) under the per-profile names earlier kiln versions
/// wrote (`{tool}--{profile}--{scope}--{root}.json`), sorted: a deploy folds them into the one
/// record and retires them.
pub fn per_profile_records(
    state: &Path,
    tool: &str,
    scope: kiln_model::BuildScope,
    root: &Path,
) -> Vec<PathBuf> {
    let prefix = format!("{tool}--");
    let suffix = format!("--{}--{}.json", scope.as_str(), root_key(root));
    let Ok(entries) = std::fs::read_dir(state.join("records")) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .filter(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.len() > prefix.len() + suffix.len()
                && name.starts_with(&prefix)
                && name.ends_with(&suffix)
        })
        .map(|entry| entry.path())
        .collect();
    found.sort();
    found
}

/// What kiln owns in a root, from the record and any per-profile ones still there: the record's
/// entries win, the others add the files and folders only they name.
pub fn owned(record: Option<DeployRecord>, per_profile: Vec<DeployRecord>) -> Option<DeployRecord> {
    let mut others = per_profile.into_iter();
    let mut owned = record.or_else(|| others.next())?;
    for other in others {
        for (path, entry) in other.files {
            owned.files.entry(path).or_insert(entry);
        }
        owned.created_dirs.extend(other.created_dirs);
    }
    owned.created_dirs.sort();
    owned.created_dirs.dedup();
    Some(owned)
}

/// The journal of a deploy in progress beside its record (`….pending.json`): the record the
/// deploy means to write, written before the first live write and removed after the record.
/// A run killed in between leaves it, so the next one knows the files it had written.
pub fn pending_path(record: &Path) -> PathBuf {
    record.with_extension("pending.json")
}

/// Whether a file in `records/` is a record (not a journal, not a temporary file).
pub fn is_record_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    name.ends_with(".json") && !name.ends_with(".pending.json") && !name.starts_with('.')
}

/// Every record file under `state/records/`, sorted (journals and temporary files left out).
pub fn record_files(state: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(state.join("records"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| is_record_file(p))
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    paths
}

/// How many interrupted attempts a journal remembers (each may have written some files).
const JOURNAL_DEPTH: usize = 16;

/// Reads a deploy's journal: every attempt since the last completed deploy, oldest first (an
/// unreadable or unsealed one is ignored: it only ever adds ownership).
pub fn read_pending(record: &Path) -> Vec<DeployRecord> {
    let path = pending_path(record);
    let Ok(Some(bytes)) = kiln_store::fs::read_optional(&path) else {
        return Vec::new();
    };
    let attempts: Vec<DeployRecord> = serde_json::from_slice(&bytes).unwrap_or_default();
    let key = crate::secrets::existing_machine_key(state_of(&path));
    attempts
        .into_iter()
        .filter(|attempt| {
            key.as_ref()
                .zip(attempt.seal.as_ref())
                .is_some_and(|(key, seal)| *seal == seal_of(attempt, key))
        })
        .collect()
}

/// Adds this attempt to the deploy's journal (see [`pending_path`]), keeping the earlier
/// interrupted ones: a file one of them wrote is still kiln's.
pub fn write_pending(
    record: &Path,
    plan: &DeployPlan,
    earlier: &[DeployRecord],
) -> Result<(), DeployError> {
    let pending = pending_path(record);
    let key = crate::secrets::machine_key(state_of(&pending))?;
    let mut attempts: Vec<DeployRecord> = earlier
        .iter()
        .skip(earlier.len().saturating_sub(JOURNAL_DEPTH - 1))
        .cloned()
        .collect();
    let mut attempt = plan.record.clone();
    attempt.seal = Some(seal_of(&attempt, &key));
    attempts.push(attempt);
    let mut bytes = serde_json::to_vec_pretty(&attempts).unwrap_or_default();
    bytes.push(b'\n');
    atomic_write(&pending, &bytes, 0o600).map_err(fs)
}

/// Removes a state file that may already be gone.
pub fn remove_state_file(path: &Path) -> Result<(), DeployError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(DeployError::Io(format!(
            "failed to remove `{}`: {e}",
            path.display()
        ))),
        _ => Ok(()),
    }
}

/// Reads a record (`Ok(None)` when there is none; an unreadable record is an error, because
/// guessing ownership could clobber a user's file).
pub fn read_record(path: &Path) -> Result<Option<DeployRecord>, DeployError> {
    let record: DeployRecord = match kiln_store::fs::read_optional(path) {
        Ok(None) => return Ok(None),
        Ok(Some(bytes)) => serde_json::from_slice(&bytes).map_err(|e| {
            DeployError::Record(format!(
                "deploy record `{}` is unreadable ({e}); move it aside to start over (kiln will then treat existing files as conflicts)",
                path.display()
            ))
        })?,
        Err(error) => return Err(DeployError::Record(error.to_string())),
    };
    let state = state_of(path);
    let sealed = match (&record.seal, crate::secrets::existing_machine_key(state)) {
        (Some(seal), Some(key)) => *seal == seal_of(&record, &key),
        (Some(_), None) => false,
        // Written before records were sealed: trusted until this machine seals its first.
        (None, _) => !state.join(SEALED_MARKER).exists(),
    };
    if !sealed {
        return Err(DeployError::Record(format!(
            "deploy record `{}` was changed outside kiln (its seal does not match), so kiln will not act on it; move it aside and deploy again (kiln will then treat existing files as conflicts)",
            path.display()
        )));
    }
    Ok(Some(record))
}

/// Present once this machine writes sealed records: from then on an unsealed one is refused.
const SEALED_MARKER: &str = "records.sealed";

/// The state folder of a file under `state/records/`.
fn state_of(record: &Path) -> &Path {
    record
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("."))
}

fn seal_of(record: &DeployRecord, key: &[u8; 32]) -> String {
    let mut unsealed = record.clone();
    unsealed.seal = None;
    crate::secrets::keyed_hash(key, &serde_json::to_vec(&unsealed).unwrap_or_default()).to_string()
}

/// The bytes of `record`, sealed with the machine key of the state folder it is written to.
fn sealed_bytes(record: &DeployRecord, path: &Path) -> Result<Vec<u8>, DeployError> {
    let state = state_of(path);
    let key = crate::secrets::machine_key(state)?;
    let marker = state.join(SEALED_MARKER);
    if !marker.exists() {
        atomic_write(&marker, b"records here are sealed with secret.key\n", 0o600).map_err(fs)?;
    }
    let mut sealed = record.clone();
    sealed.seal = Some(seal_of(record, &key));
    let mut bytes = serde_json::to_vec_pretty(&sealed).unwrap_or_default();
    bytes.push(b'\n');
    Ok(bytes)
}

/// A held deploy lock; released when dropped (and by the OS if the process dies).
pub struct DeployLock {
    _file: std::fs::File,
}

/// Takes the OS lock that serialises deploys on this machine (waits for a running one).
pub fn lock(state: &Path) -> Result<DeployLock, DeployError> {
    use fs4::fs_std::FileExt;
    std::fs::create_dir_all(state)
        .map_err(|e| DeployError::Lock(format!("failed to create `{}`: {e}", state.display())))?;
    let path = state.join("deploy.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| DeployError::Lock(format!("failed to open `{}`: {e}", path.display())))?;
    file.lock_exclusive()
        .map_err(|e| DeployError::Lock(format!("failed to lock `{}`: {e}", path.display())))?;
    Ok(DeployLock { _file: file })
}

fn fs(error: FsError) -> DeployError {
    DeployError::Io(error.to_string())
}

/// Applies a plan that has no blockers and writes its record to `record_path`.
///
/// `on_disk`: the record file's content as read before planning, if known; when the new
/// record has the same content, the file is not serialised and sealed again.
pub fn apply(
    plan: &DeployPlan,
    record_path: &Path,
    on_disk: Option<&DeployRecord>,
) -> Result<Applied, DeployError> {
    if let Some(blocker) = plan.blockers().next() {
        return Err(DeployError::Blocked(format!(
            "`{}` blocks the deploy: {:?}",
            blocker.path.display(),
            blocker.action
        )));
    }
    let mut applied = Applied::default();
    let mut record = plan.record.clone();
    let root = PathBuf::from(&record.root);
    // Removals first (a folder kiln removes may be where a file now goes), then every plain
    // file in one batch (parallel fsyncs, one per directory), then the rest in plan order.
    for step in &plan.steps {
        if step.action == Action::Remove {
            let stop = created_dir_stop(&root, &step.path, &record);
            kiln_store::fs::failpoint("remove");
            remove_file_and_empty_parents(&step.path, &stop).map_err(fs)?;
            kiln_store::fs::failpoint("removed");
            applied.removed.push(step.path.display().to_string());
        }
    }
    // Taking over a file kiln did not write never loses it: differing bytes are kept aside.
    for step in plan.steps.iter().filter(|s| s.action == Action::Adopt) {
        if let Some(to) = keep_aside(&step.path, step.bytes.as_deref())? {
            applied
                .backups
                .push((step.path.display().to_string(), to.display().to_string()));
        }
    }
    let plain: Vec<&crate::plan::Step> = plan.steps.iter().filter(|s| is_plain_write(s)).collect();
    for step in &plain {
        note_created_dirs(&root, &step.path, &mut record);
    }
    let batch: Vec<kiln_store::fs::FileWrite<'_>> = plain
        .iter()
        .map(|step| kiln_store::fs::FileWrite {
            path: &step.path,
            bytes: step.bytes.as_deref().unwrap_or_default(),
            mode: step.mode,
        })
        .collect();
    kiln_store::fs::write_files(&batch).map_err(fs)?;
    applied
        .written
        .extend(plain.iter().map(|s| s.path.display().to_string()));
    // What was just written, as the next deploy will find it untouched (shared files are always
    // compared in full; files written within the clock's last tick are read next time instead,
    // and recorded then).
    let now = crate::seen::now_ns();
    for step in &plain {
        if let Some(entry) = record.files.get_mut(&step.relative)
            && entry.merge.is_none()
        {
            entry.seen = crate::seen::stat_settled(&step.path, now);
        }
    }
    for step in &plan.steps {
        let display = step.path.display().to_string();
        match &step.action {
            _ if is_plain_write(step) => {}
            Action::Update if step.shared.is_some() => {
                let shared = step.shared.as_ref().expect("checked");
                write_shared(step, shared, &mut record)?;
                applied.written.push(display);
            }
            Action::Create | Action::Update | Action::Adopt => {
                let target = step.link.as_ref().expect("a plain write is batched");
                note_created_dirs(&root, &step.path, &mut record);
                link(
                    target,
                    step.bytes.as_deref().unwrap_or_default(),
                    step.mode,
                    &step.path,
                )?;
                applied.written.push(display);
            }
            Action::Backup { to } => {
                kiln_store::fs::failpoint("backup");
                std::fs::rename(&step.path, to).map_err(|e| {
                    DeployError::Io(format!("failed to move `{display}` to `{to}`: {e}"))
                })?;
                applied.backups.push((display.clone(), to.clone()));
                let bytes = step.bytes.as_deref().unwrap_or_default();
                atomic_write(&step.path, bytes, step.mode).map_err(fs)?;
                applied.written.push(display);
            }
            Action::Remove
            | Action::Keep
            | Action::Drift { .. }
            | Action::Conflict { .. }
            | Action::Refused { .. } => {}
        }
    }
    applied.written.sort();
    // A folder the user removed leaves the record when kiln next writes or removes here (an
    // undeploy skips a missing one); a no-op deploy stats none.
    if plan.writes() {
        record.created_dirs.retain(|dir| root.join(dir).is_dir());
    }
    record.created_dirs.sort();
    record.created_dirs.dedup();
    if on_disk.is_some_and(|before| same_content(before, &record)) {
        return Ok(applied);
    }
    let bytes = sealed_bytes(&record, record_path)?;
    if kiln_store::fs::read_optional(record_path)
        .ok()
        .flatten()
        .as_deref()
        != Some(bytes.as_slice())
    {
        atomic_write(record_path, &bytes, 0o600).map_err(fs)?;
        applied.record_written = true;
    }
    Ok(applied)
}

/// Whether two records say the same (their seals aside).
fn same_content(a: &DeployRecord, b: &DeployRecord) -> bool {
    let DeployRecord {
        version,
        tool,
        profile,
        scope,
        root,
        manifest,
        files,
        created_dirs,
        homes,
        seal: _,
    } = a;
    *version == b.version
        && *tool == b.tool
        && *profile == b.profile
        && *scope == b.scope
        && *root == b.root
        && *manifest == b.manifest
        && *created_dirs == b.created_dirs
        && *homes == b.homes
        && *files == b.files
}

/// Copies a regular file at `path` whose bytes are not `wanted` (`None`: whatever they are) to `<name>.kiln-backup` (or
/// the next free `.kiln-backup.N`), keeping its mode; returns where.
fn keep_aside(path: &Path, wanted: Option<&[u8]>) -> Result<Option<PathBuf>, DeployError> {
    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        return Ok(None);
    };
    if !metadata.is_file() {
        return Ok(None);
    }
    let bytes = std::fs::read(path)
        .map_err(|e| DeployError::Io(format!("failed to read `{}`: {e}", path.display())))?;
    if Some(bytes.as_slice()) == wanted {
        return Ok(None);
    }
    let to = crate::plan::backup_path(path);
    atomic_write(&to, &bytes, kiln_store::fs::mode_of(&metadata)).map_err(fs)?;
    Ok(Some(to))
}

/// A create, update or adoption of a whole regular file (no link, not an update merged into a
/// shared file).
fn is_plain_write(step: &crate::plan::Step) -> bool {
    match step.action {
        Action::Update => step.link.is_none() && step.shared.is_none(),
        Action::Create | Action::Adopt => step.link.is_none(),
        _ => false,
    }
}

/// Writes an update of a shared file without losing another program's write to it.
///
/// kiln's keys are merged into the file as it is now, and the result is swapped in atomically
/// ([`kiln_store::fs::exchange`]). The swap hands back the file it displaced: when that is not
/// the text kiln merged into, another program wrote in between, and its changes are carried
/// onto kiln's text ([`crate::merge::rebase`]) and swapped in again, until a swap displaces
/// exactly what kiln put there. Where the system cannot swap, a compare-then-rename is used
/// (see the README for what that leaves possible).
fn write_shared(
    step: &crate::plan::Step,
    shared: &crate::plan::SharedUpdate,
    record: &mut DeployRecord,
) -> Result<(), DeployError> {
    let path = &step.path;
    let merge_into = |live: Option<&str>| {
        crate::merge::merge(
            shared.format,
            live,
            &shared.fragment,
            &shared.owned,
            &shared.previously_owned,
        )
        .map(String::into_bytes)
        .map_err(|e| changed_unparsable(path, &e.message))
    };
    let mut base = read_text(path)?;
    let mut put = match &base {
        Some(text) if kiln_store::hash::content_hash(text.as_bytes()) == shared.seen => {
            step.bytes.clone().unwrap_or_default()
        }
        live => merge_into(live.as_deref())?,
    };
    for _ in 0..SWAP_ATTEMPTS {
        let displaced = match kiln_store::fs::exchange(path, &put, step.mode).map_err(fs)? {
            kiln_store::fs::Exchanged::Unsupported => {
                return write_shared_by_compare(step, shared, record);
            }
            kiln_store::fs::Exchanged::Created => None,
            kiln_store::fs::Exchanged::Displaced(bytes) => Some(bytes),
        };
        if displaced.as_deref() == base.as_deref().map(str::as_bytes) {
            note_shared_hash(record, &step.relative, &put);
            return Ok(());
        }
        // Another program wrote between kiln's read and its swap: keep its change.
        let Some(displaced) = displaced else {
            // It removed the file; kiln's text stands.
            note_shared_hash(record, &step.relative, &put);
            return Ok(());
        };
        let theirs = match String::from_utf8(displaced) {
            Ok(text) => text,
            Err(error) => return Err(put_back(path, error.as_bytes(), step.mode, "is not UTF-8")),
        };
        let ours = String::from_utf8_lossy(&put).into_owned();
        let rebased = match crate::merge::rebase(shared.format, &ours, base.as_deref(), &theirs) {
            Ok(text) => text,
            Err(error) => return Err(put_back(path, theirs.as_bytes(), step.mode, &error.message)),
        };
        base = Some(ours);
        put = rebased.into_bytes();
    }
    Err(DeployError::Contended(format!(
        "`{}` kept changing while kiln tried to write it ({SWAP_ATTEMPTS} attempts); every other write to it was kept — run kiln deploy again",
        path.display()
    )))
}

/// How many times a shared file is swapped before kiln gives up on a busy file.
const SWAP_ATTEMPTS: usize = 8;

fn read_text(path: &Path) -> Result<Option<String>, DeployError> {
    match kiln_store::fs::read_optional(path).map_err(fs)? {
        None => Ok(None),
        Some(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| DeployError::Unparsable(format!("`{}` is not UTF-8", path.display()))),
    }
}

fn changed_unparsable(path: &Path, message: &str) -> DeployError {
    DeployError::Unparsable(format!(
        "`{}` changed while kiln wrote it and no longer parses: {message}",
        path.display()
    ))
}

/// Swaps another program's displaced text back in when kiln cannot carry it over, and says why.
fn put_back(path: &Path, theirs: &[u8], mode: u32, why: &str) -> DeployError {
    match kiln_store::fs::exchange(path, theirs, mode) {
        Ok(_) => changed_unparsable(path, why),
        Err(error) => DeployError::Io(format!(
            "`{}` changed while kiln wrote it ({why}) and putting the other program's text back failed: {error}",
            path.display()
        )),
    }
}

fn note_shared_hash(record: &mut DeployRecord, relative: &str, bytes: &[u8]) {
    if let Some(entry) = record.files.get_mut(relative)
        && !entry.hash.is_keyed()
    {
        entry.hash = kiln_model::RecordedHash::Plain(kiln_store::hash::content_hash(bytes));
    }
}

/// [`write_shared`] where files cannot be swapped: the file is re-read just before the rename
/// and kiln's keys merged again when it changed (up to three times). A write landing between
/// that re-read and the rename is lost.
fn write_shared_by_compare(
    step: &crate::plan::Step,
    shared: &crate::plan::SharedUpdate,
    record: &mut DeployRecord,
) -> Result<(), DeployError> {
    let mut seen = shared.seen.clone();
    let mut bytes = step.bytes.clone().unwrap_or_default();
    for _ in 0..3 {
        if kiln_store::fs::replace_if_unchanged(&step.path, &bytes, step.mode, &seen).map_err(fs)? {
            note_shared_hash(record, &step.relative, &bytes);
            return Ok(());
        }
        let live = read_text(&step.path)?;
        seen = live
            .as_deref()
            .map(|text| kiln_store::hash::content_hash(text.as_bytes()))
            .unwrap_or_default();
        bytes = crate::merge::merge(
            shared.format,
            live.as_deref(),
            &shared.fragment,
            &shared.owned,
            &shared.previously_owned,
        )
        .map_err(|e| changed_unparsable(&step.path, &e.message))?
        .into_bytes();
    }
    Err(DeployError::Contended(format!(
        "`{}` kept changing while kiln tried to write it (3 attempts); nothing of it was lost — run kiln deploy again",
        step.path.display()
    )))
}

/// Symlink mode: writes the store file if missing (content-addressed, so never changed
/// afterwards), then points `path` at it by renaming a fresh symlink over it (atomic). A
/// relative target is a skill's own link to a sibling file, which is deployed by itself.
pub fn link(target: &Path, bytes: &[u8], mode: u32, path: &Path) -> Result<(), DeployError> {
    if target.is_absolute() && !target.is_file() {
        atomic_write(target, bytes, mode).map_err(fs)?;
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| DeployError::Io(format!("failed to create `{}`: {e}", dir.display())))?;
    let temp = dir.join(format!(".kiln-link-{}", std::process::id()));
    let _ = std::fs::remove_file(&temp);
    #[cfg(unix)]
    std::os::unix::fs::symlink(target, &temp).map_err(|e| {
        DeployError::Io(format!(
            "failed to create a symlink at `{}`: {e}",
            temp.display()
        ))
    })?;
    #[cfg(not(unix))]
    return Err(DeployError::Io(
        "symlink mode needs a Unix system".to_string(),
    ));
    kiln_store::fs::failpoint("link-rename");
    std::fs::rename(&temp, path).map_err(|e| {
        DeployError::Io(format!(
            "failed to replace `{}` with a symlink: {e}",
            path.display()
        ))
    })?;
    Ok(())
}

/// The dist file a recorded path was deployed from: `dist/<tool>/<profile>/<scope>/<relative>`,
/// beside the manifest the record names (`None` for a record without one).
pub fn dist_file(record: &DeployRecord, relative: &str) -> Option<PathBuf> {
    let manifest = Path::new(record.manifest.as_ref()?);
    Some(
        manifest
            .with_file_name(&record.profile)
            .join(record.scope.as_str())
            .join(relative),
    )
}

/// What putting a recorded file back writes.
pub enum Restoration {
    /// The symlink to kiln's rendered store file (holding `bytes`).
    Link {
        target: PathBuf,
        bytes: Vec<u8>,
        mode: u32,
    },
    /// The file's whole new content.
    File { bytes: Vec<u8>, mode: u32 },
}

/// What putting back one recorded file at `live` would write: the dist bytes, the live file
/// with kiln's keys merged back, or the symlink. Refused when dist has moved on since the
/// deploy (that needs `kiln deploy`, or every `--fix` would "restore" a file the record does
/// not describe). Files holding secrets need `secrets` resolved (their values are kept
/// nowhere).
pub fn restoration(
    record: &DeployRecord,
    relative: &str,
    entry: &kiln_model::RecordEntry,
    live: &Path,
    secrets: Option<&crate::secrets::Secrets>,
) -> Result<Restoration, DeployError> {
    let holds_secret = entry.hash.is_keyed();
    if holds_secret && secrets.is_none() {
        return Err(DeployError::Secret(format!(
            "`{}` holds a secret that was not resolved; run `kiln deploy --force`",
            live.display()
        )));
    }
    let dist = dist_file(record, relative).ok_or_else(|| {
        DeployError::Record(
            "the record does not name its dist manifest; run `kiln deploy --force`".to_string(),
        )
    })?;
    let bytes = std::fs::read(&dist).map_err(|e| {
        DeployError::Dist(format!(
            "failed to read `{}`: {e}; run `kiln build` and `kiln deploy`",
            dist.display()
        ))
    })?;
    if kiln_store::hash::content_hash(&bytes) != entry.dist_hash {
        return Err(DeployError::Dist(format!(
            "dist has moved on since `{}` was deployed; run `kiln deploy` (with --force to overwrite the edit)",
            live.display()
        )));
    }
    let bytes = match secrets {
        Some(secrets) if holds_secret => secrets.substitute(&bytes).0,
        _ => bytes,
    };
    let mode = entry.mode.bits();
    if let Some(target) = &entry.link {
        return Ok(Restoration::Link {
            target: PathBuf::from(target),
            bytes,
            mode,
        });
    }
    let Some(format) = entry.merge else {
        return Ok(Restoration::File { bytes, mode });
    };
    let fragment = crate::plan::fragment_value(format, &bytes)?;
    let current = std::fs::read_to_string(live).ok();
    let merged = crate::merge::merge(
        format,
        current.as_deref(),
        &fragment,
        &entry.owned_keys,
        &entry.owned_keys,
    )
    .map_err(|e| {
        DeployError::Unparsable(format!(
            "`{}` does not parse: {}",
            live.display(),
            e.message
        ))
    })?;
    let keep_mode = std::fs::metadata(live)
        .map(|m| kiln_store::fs::mode_of(&m))
        .unwrap_or(mode);
    Ok(Restoration::File {
        bytes: merged.into_bytes(),
        mode: keep_mode,
    })
}

/// Puts back what kiln deployed at `location` (where kiln deploys `relative` now, never a path
/// read from the record; see [`restoration`]). A hand edit is never discarded: the edited
/// file is first copied to `<name>.kiln-backup` (returned).
pub fn restore(
    record: &DeployRecord,
    relative: &str,
    entry: &kiln_model::RecordEntry,
    location: &crate::location::Location,
    allow_roots: &[PathBuf],
    secrets: Option<&crate::secrets::Secrets>,
) -> Result<Option<PathBuf>, DeployError> {
    // The record is read back from disk, so hold the live path to the same sandbox a deploy
    // would: below its root, through no symlink that leaves it.
    crate::location::check_relative(relative).map_err(|r| DeployError::Refused(r.0))?;
    crate::location::check_sandbox(location, record.scope, allow_roots)
        .map_err(|r| DeployError::Refused(r.0))?;
    let live = &location.path();
    let restoration = restoration(record, relative, entry, live, secrets)?;
    // A regular file whose content the user changed is kept aside first.
    let wanted = match &restoration {
        Restoration::File { bytes, .. } => Some(bytes.as_slice()),
        Restoration::Link { .. } => None,
    };
    let backup = keep_aside(live, wanted)?;
    match restoration {
        Restoration::Link {
            target,
            bytes,
            mode,
        } => link(&target, &bytes, mode, live)?,
        Restoration::File { bytes, mode } => atomic_write(live, &bytes, mode).map_err(fs)?,
    }
    Ok(backup)
}

/// Records the directories a write is about to create below the root.
fn note_created_dirs(root: &Path, path: &Path, record: &mut DeployRecord) {
    let Ok(relative) = path.strip_prefix(root) else {
        return;
    };
    let mut current = root.to_path_buf();
    let components: Vec<_> = relative.components().collect();
    for component in &components[..components.len().saturating_sub(1)] {
        current.push(component);
        if std::fs::symlink_metadata(&current).is_err()
            && let Ok(dir) = current.strip_prefix(root)
        {
            record
                .created_dirs
                .push(dir.to_string_lossy().replace('\\', "/"));
        }
    }
}

/// Empty parents are removed up to (not including) the deepest ancestor kiln did not create.
fn created_dir_stop(root: &Path, path: &Path, record: &DeployRecord) -> PathBuf {
    let mut stop = path
        .parent()
        .map_or_else(|| root.to_path_buf(), Path::to_path_buf);
    while stop != root
        && let Ok(relative) = stop.strip_prefix(root)
        && record.created_dirs.iter().any(|d| Path::new(d) == relative)
    {
        stop = stop
            .parent()
            .map_or_else(|| root.to_path_buf(), Path::to_path_buf);
    }
    stop
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::MergeFormat;
    use crate::plan::{SharedUpdate, Step};

    #[test]
    fn a_displaced_text_kiln_cannot_carry_over_is_swapped_back() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("settings.json");
        // kiln's text is in place; the other program's (unparsable) text was displaced.
        std::fs::write(&path, "{\"kiln\": true}\n").expect("write");
        let error = put_back(&path, b"{ not json", 0o644, "it does not parse");
        assert!(matches!(error, DeployError::Unparsable(_)), "{error:?}");
        assert_eq!(std::fs::read(&path).expect("read"), b"{ not json");
    }

    #[test]
    fn a_concurrent_change_to_a_shared_file_is_merged_not_lost() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("settings.json");
        std::fs::write(&path, "{\n  \"user\": 1\n}\n").expect("write");
        let planned_against = kiln_store::hash::content_hash(b"{\n  \"user\": 1\n}\n");
        // Someone else writes between planning and applying.
        std::fs::write(&path, "{\n  \"user\": 2,\n  \"other\": true\n}\n").expect("write");
        let fragment = serde_json::json!({ "mcpServers": { "kiln": { "command": "x" } } });
        let owned = vec!["/mcpServers/kiln".to_string()];
        let planned = crate::merge::merge(
            MergeFormat::Json,
            Some("{\n  \"user\": 1\n}\n"),
            &fragment,
            &owned,
            &[],
        )
        .expect("merge");
        let step = Step {
            relative: "settings.json".into(),
            path: path.clone(),
            action: crate::plan::Action::Update,
            bytes: Some(planned.into_bytes()),
            mode: 0o644,
            entry: None,
            link: None,
            through: None,
            shared: Some(SharedUpdate {
                seen: planned_against,
                format: MergeFormat::Json,
                fragment,
                owned,
                previously_owned: Vec::new(),
            }),
        };
        let mut record = DeployRecord {
            version: 1,
            tool: "t".into(),
            profile: "p".into(),
            scope: kiln_model::BuildScope::Global,
            root: dir.path().display().to_string(),
            manifest: None,
            files: std::collections::BTreeMap::new(),
            created_dirs: Vec::new(),
            homes: Vec::new(),
            seal: None,
        };
        write_shared(&step, step.shared.as_ref().expect("shared"), &mut record).expect("written");
        let value: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
        assert_eq!(value["user"], 2, "the other writer's change was lost");
        assert_eq!(value["other"], true);
        assert_eq!(value["mcpServers"]["kiln"]["command"], "x");
    }
}
