//! The one drift model: how a live file differs from what kiln last deployed there. The
//! planner uses it to decide whether a file is kiln's to update or the user's edit to leave
//! alone; `kiln check`, `kiln status` (and `kiln sync`) report it.

use std::path::{Path, PathBuf};

use kiln_model::{FileMode, RecordEntry};
use serde::Serialize;

use crate::error::DeployError;
use crate::merge::owned_values;
use crate::secrets::hash_like;

/// How a live file differs from its deploy record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DriftReason {
    /// The file is gone.
    Missing,
    /// The file exists but cannot be read.
    Unreadable,
    /// Its content changed since kiln deployed it.
    Modified,
    /// In a file shared with the user: kiln's keys were edited (the user's may change freely).
    KeysEdited,
    /// A file shared with the user no longer parses.
    Unparsable(String),
    /// Only its permission bits changed.
    Mode {
        /// What the file has now.
        live: FileMode,
        /// What kiln gave it.
        recorded: FileMode,
    },
    /// kiln wrote a regular file; a symlink is there now.
    ReplacedBySymlink,
    /// kiln wrote a symlink (symlink mode); a regular file is there now.
    SymlinkReplacedByFile,
    /// kiln's symlink now points somewhere else.
    Relinked(PathBuf),
    /// A directory or another kind of file is there now.
    NotAFile,
}

impl DriftReason {
    /// The state `kiln check` reports: `missing`, `mode` or `modified`.
    pub fn state(&self) -> FileState {
        match self {
            DriftReason::Missing => FileState::Missing,
            DriftReason::Mode { .. } => FileState::Mode,
            _ => FileState::Modified,
        }
    }

    /// Whether deploying again simply repairs it (nothing of the user's is lost): a missing
    /// file is written again, a changed mode is set again.
    pub fn repaired_by_deploy(&self) -> bool {
        matches!(self, DriftReason::Missing | DriftReason::Mode { .. })
    }

    /// The sentence for `kiln check`'s detail column (`None`: the state says it all).
    pub fn detail(&self) -> Option<String> {
        match self {
            DriftReason::Missing | DriftReason::Modified => None,
            other => Some(other.to_string()),
        }
    }
}

impl std::fmt::Display for DriftReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DriftReason::Missing => f.write_str("deleted since kiln deployed it"),
            DriftReason::Unreadable => f.write_str("unreadable"),
            DriftReason::Modified => f.write_str("modified since kiln deployed it"),
            DriftReason::KeysEdited => f.write_str("kiln's keys were edited since the last deploy"),
            DriftReason::Unparsable(message) => write!(f, "does not parse: {message}"),
            DriftReason::Mode { live, recorded } => write!(f, "mode {live}, kiln wrote {recorded}"),
            DriftReason::ReplacedBySymlink => f.write_str("type changed: replaced by a symlink"),
            DriftReason::SymlinkReplacedByFile => {
                f.write_str("type changed: symlink replaced by a regular file")
            }
            DriftReason::Relinked(target) => write!(f, "now links to `{}`", target.display()),
            DriftReason::NotAFile => f.write_str("is no longer a regular file"),
        }
    }
}

impl Serialize for DriftReason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The state of one deployed file, as `kiln check` and `kiln status` count it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileState {
    /// As kiln deployed it, and dist has not moved on.
    Synced,
    /// Edited (content, kiln's keys, type or link).
    Modified,
    /// Deleted.
    Missing,
    /// Only the permission bits changed.
    Mode,
    /// As kiln deployed it, but dist has a newer build (or no longer builds it).
    Stale,
    /// Left by a tool this machine no longer uses (its configuration dropped it): still
    /// there until `kiln undeploy`.
    Retired,
}

impl FileState {
    /// `synced`, `modified`, `missing`, `mode`, `stale` or `retired`.
    pub fn as_str(self) -> &'static str {
        match self {
            FileState::Synced => "synced",
            FileState::Modified => "modified",
            FileState::Missing => "missing",
            FileState::Mode => "mode",
            FileState::Stale => "stale",
            FileState::Retired => "retired",
        }
    }

    /// Drift the user made (as opposed to synced or stale).
    pub fn is_drift(self) -> bool {
        matches!(
            self,
            FileState::Modified | FileState::Missing | FileState::Mode
        )
    }
}

impl std::fmt::Display for FileState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is at a live path.
pub(crate) enum Live {
    Missing,
    Symlink(PathBuf),
    File {
        bytes: Vec<u8>,
        mode: FileMode,
        /// Its identity and times when read.
        stat: Option<kiln_model::LiveStat>,
    },
    /// A directory, a socket, …: `what` it is, for messages.
    Other(&'static str),
}

impl Live {
    /// Reads a live path without following a symlink at it.
    pub(crate) fn read(path: &Path) -> Result<Live, DeployError> {
        let metadata = match std::fs::symlink_metadata(path) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Live::Missing);
            }
            Err(error) => {
                return Err(DeployError::Io(format!(
                    "failed to inspect `{}`: {error}",
                    path.display()
                )));
            }
        };
        if metadata.file_type().is_symlink() {
            let target = std::fs::read_link(path).map_err(|e| {
                DeployError::Io(format!("failed to read the link `{}`: {e}", path.display()))
            })?;
            return Ok(Live::Symlink(target));
        }
        if metadata.is_dir() {
            return Ok(Live::Other("a directory"));
        }
        if !metadata.is_file() {
            return Ok(Live::Other("not a regular file"));
        }
        let bytes = std::fs::read(path)
            .map_err(|e| DeployError::Io(format!("failed to read `{}`: {e}", path.display())))?;
        Ok(Live::File {
            bytes,
            mode: FileMode(kiln_store::fs::mode_of(&metadata)),
            stat: crate::seen::live_stat(&metadata),
        })
    }

    /// What kind of thing is there, for messages (`a symlink`, `a directory`, …).
    pub(crate) fn what(&self) -> &'static str {
        match self {
            Live::Missing => "nothing",
            Live::Symlink(_) => "a symlink",
            Live::File { .. } => "a regular file",
            Live::Other(what) => what,
        }
    }
}

/// Compares what is live with what kiln recorded; `key` is the machine key for files that
/// hold secrets (their hashes are keyed). `Ok` when the file is as kiln left it.
pub(crate) fn compare(
    live: &Live,
    entry: &RecordEntry,
    key: Option<&[u8; 32]>,
) -> Result<(), DriftReason> {
    if let Some(link) = &entry.link {
        // Symlink mode: the live path must still be kiln's symlink to a store file; a skill's
        // own (relative) link must still name its sibling.
        return match live {
            // kiln's link, but its store file is gone: deploying again puts it back.
            Live::Symlink(target)
                if target == Path::new(link) && target.is_absolute() && !target.is_file() =>
            {
                Err(DriftReason::Missing)
            }
            Live::Symlink(target) if target == Path::new(link) => Ok(()),
            Live::Symlink(target) => Err(DriftReason::Relinked(target.clone())),
            Live::File { .. } => Err(DriftReason::SymlinkReplacedByFile),
            Live::Missing => Err(DriftReason::Missing),
            Live::Other(_) => Err(DriftReason::NotAFile),
        };
    }
    let (bytes, mode) = match live {
        Live::Missing => return Err(DriftReason::Missing),
        Live::Symlink(_) => return Err(DriftReason::ReplacedBySymlink),
        Live::Other(_) => return Err(DriftReason::NotAFile),
        Live::File { bytes, mode, .. } => (bytes, *mode),
    };
    if let (Some(format), Some(expected)) = (entry.merge, &entry.owned_hash) {
        let text = String::from_utf8_lossy(bytes);
        let values = owned_values(format, &text, &entry.owned_keys)
            .map_err(|error| DriftReason::Unparsable(error.message))?;
        let hashed = hash_like(
            expected,
            &serde_json::to_vec(&values).unwrap_or_default(),
            key,
        );
        return if &hashed == expected {
            Ok(())
        } else {
            Err(DriftReason::KeysEdited)
        };
    }
    if hash_like(&entry.hash, bytes, key) != entry.hash {
        return Err(DriftReason::Modified);
    }
    if mode != entry.mode {
        return Err(DriftReason::Mode {
            live: mode,
            recorded: entry.mode,
        });
    }
    Ok(())
}

/// Reads `path` and compares it with its record (for `kiln check`): `Ok` when synced.
pub fn assess(path: &Path, entry: &RecordEntry, key: Option<&[u8; 32]>) -> Result<(), DriftReason> {
    match Live::read(path) {
        Ok(live) => compare(&live, entry, key),
        Err(_) => Err(DriftReason::Unreadable),
    }
}

/// Whether a recorded hash is keyed (the file held a resolved secret).
pub fn holds_secret(entry: &RecordEntry) -> bool {
    entry.hash.is_keyed()
}
