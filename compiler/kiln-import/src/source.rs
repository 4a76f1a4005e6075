//! Reading the source folder (never following a symlink out of it) and writing library files.

use std::path::{Path, PathBuf};

use crate::Content;

/// The source folder cannot be read, or a library file cannot be written.
#[derive(Debug, thiserror::Error)]
#[error("{action} `{}`: {reason}", path.display())]
pub struct SourceError {
    action: &'static str,
    path: PathBuf,
    reason: String,
}

impl SourceError {
    pub(crate) fn new(action: &'static str, path: &Path, reason: String) -> SourceError {
        SourceError {
            action,
            path: path.to_path_buf(),
            reason,
        }
    }
}

pub(crate) fn check_folder(path: &Path) -> Result<(), SourceError> {
    match std::fs::metadata(path) {
        Ok(metadata) if metadata.is_dir() => Ok(()),
        Ok(_) => Err(SourceError {
            action: "cannot import from",
            path: path.to_path_buf(),
            reason: "it is not a folder".to_string(),
        }),
        Err(error) => Err(SourceError {
            action: "cannot import from",
            path: path.to_path_buf(),
            reason: error.to_string(),
        }),
    }
}

/// One entry below a folder, found without following symlinks.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    /// `/`-separated path below the walked folder.
    pub relative: String,
    pub path: PathBuf,
    pub kind: EntryKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum EntryKind {
    File,
    Dir,
    Symlink,
    /// A name that is not UTF-8, a socket, a device, or an unreadable entry (the reason).
    Unusable(String),
}

/// Every entry below `dir` (not `dir` itself), sorted by path, depth first; symlinks are
/// reported as such and never followed. A missing `dir` has no entries.
pub(crate) fn walk(dir: &Path) -> Vec<Entry> {
    let mut entries = Vec::new();
    if !dir.is_dir() {
        return entries;
    }
    let walker = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .follow_links(false)
        .sort_by_file_name();
    for entry in walker {
        match entry {
            Ok(entry) => {
                let relative = entry
                    .path()
                    .strip_prefix(dir)
                    .unwrap_or(entry.path())
                    .to_path_buf();
                let (relative, kind) = match relative.to_str() {
                    Some(text) => (text.replace('\\', "/"), kind_of(entry.file_type())),
                    None => (
                        relative.to_string_lossy().replace('\\', "/"),
                        EntryKind::Unusable("its name is not UTF-8".to_string()),
                    ),
                };
                entries.push(Entry {
                    relative,
                    path: entry.path().to_path_buf(),
                    kind,
                });
            }
            Err(error) => {
                let path = error.path().map(Path::to_path_buf).unwrap_or_default();
                entries.push(Entry {
                    relative: path
                        .strip_prefix(dir)
                        .unwrap_or(&path)
                        .to_string_lossy()
                        .replace('\\', "/"),
                    path,
                    kind: EntryKind::Unusable(error.to_string()),
                });
            }
        }
    }
    entries
}

fn kind_of(file_type: std::fs::FileType) -> EntryKind {
    if file_type.is_symlink() {
        EntryKind::Symlink
    } else if file_type.is_dir() {
        EntryKind::Dir
    } else if file_type.is_file() {
        EntryKind::File
    } else {
        EntryKind::Unusable("it is not a regular file, folder or symlink".to_string())
    }
}

/// A text file's content, or why it cannot be imported as text.
pub(crate) fn read_text(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot be read: {e}"))?;
    if bytes.contains(&0) {
        return Err("holds a NUL byte, so it is not a text file".to_string());
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "is not UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// The permission bits of a file (0o644 where there are none).
pub(crate) fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .map(|m| kiln_store::fs::mode_of(&m))
        .unwrap_or(0o644)
}

pub(crate) fn write(path: &Path, content: &Content) -> Result<(), SourceError> {
    let fail = |action: &'static str, error: std::io::Error| SourceError {
        action,
        path: path.to_path_buf(),
        reason: error.to_string(),
    };
    match content {
        Content::Bytes { bytes, mode } => {
            kiln_store::fs::atomic_write(path, bytes, *mode).map_err(|e| SourceError {
                action: "cannot write",
                path: path.to_path_buf(),
                reason: e.error.to_string(),
            })
        }
        Content::Symlink { target } => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| fail("cannot create the folder of", e))?;
            }
            if std::fs::symlink_metadata(path).is_ok() {
                std::fs::remove_file(path).map_err(|e| fail("cannot replace", e))?;
            }
            #[cfg(unix)]
            {
                std::os::unix::fs::symlink(target, path).map_err(|e| fail("cannot link", e))
            }
            #[cfg(not(unix))]
            {
                let _ = target;
                Err(fail(
                    "cannot link",
                    std::io::Error::other("symlinks in skills need a Unix system"),
                ))
            }
        }
    }
}
