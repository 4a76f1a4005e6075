//! The no-op shortcut of `kiln build`: a stamp of the last successful build. It records a
//! key (a digest of the library's files as `stat` describes them, the machine configuration
//! and the arguments) and the state of the dist trees it produced (each directory's
//! modification time, the manifests' size and time). When the key and the trees are
//! unchanged, nothing can have changed, and the build is skipped without reading the library —
//! so a no-op costs the files stat'ed, not their bytes.
//!
//! Creating or deleting a file changes its directory's modification time, so a file removed
//! from dist is noticed; editing a dist file in place is not (dist is kiln's output: `kiln build
//! --check` verifies every byte). The stamp is only a shortcut: deleting it costs one full
//! memoised build.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::dist::DistLayout;
use crate::fs::{Durability, FsError, read_optional, write_file};

/// The last successful build for one set of arguments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// The digest of everything the build depends on (see the module docs).
    pub key: String,
    /// dist-relative directory → modification time (ns).
    pub dirs: BTreeMap<String, u128>,
    /// dist-relative file → (size, modification time in ns), for manifests.
    pub files: BTreeMap<String, (u64, u128)>,
    /// What the build reported, replayed when the build is skipped.
    pub summary: serde_json::Value,
}

fn modified_ns(metadata: &std::fs::Metadata) -> u128 {
    metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
}

/// The state of the dist trees and manifests of `builds` (`(tool, profile)` pairs).
pub fn snapshot(
    layout: &DistLayout,
    builds: &[(String, String)],
) -> (BTreeMap<String, u128>, BTreeMap<String, (u64, u128)>) {
    let mut dirs = BTreeMap::new();
    let mut files = BTreeMap::new();
    for (tool, profile) in builds {
        let tree = layout.tree(tool, profile);
        let mut stack = vec![tree];
        while let Some(dir) = stack.pop() {
            let Ok(metadata) = std::fs::metadata(&dir) else {
                continue;
            };
            let relative = dir
                .strip_prefix(&layout.root)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            dirs.insert(relative, modified_ns(&metadata));
            if let Ok(entries) = std::fs::read_dir(&dir) {
                for entry in entries.flatten() {
                    if entry.file_type().is_ok_and(|t| t.is_dir()) {
                        stack.push(entry.path());
                    }
                }
            }
        }
        for path in [layout.manifest(tool, profile), layout.memo(tool, profile)] {
            if let Ok(metadata) = std::fs::metadata(&path) {
                let relative = path
                    .strip_prefix(&layout.root)
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default();
                files.insert(relative, (metadata.len(), modified_ns(&metadata)));
            }
        }
    }
    (dirs, files)
}

impl Stamp {
    /// `dist/.cache/stamps/<name>.json`.
    pub fn path(layout: &DistLayout, name: &str) -> std::path::PathBuf {
        layout
            .root
            .join(".cache")
            .join("stamps")
            .join(format!("{name}.json"))
    }

    /// Loads a stamp (`None` when missing or unreadable).
    pub fn load(path: &Path) -> Option<Stamp> {
        read_optional(path)
            .ok()
            .flatten()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
    }

    /// Whether the build it records is still current: same key, and every recorded
    /// directory and file as it was.
    pub fn is_current(&self, layout: &DistLayout, key: &str) -> bool {
        self.key == key && self.dist_is_current(layout)
    }

    /// Whether the dist trees it records are as they were (whatever changed in the library).
    pub fn dist_is_current(&self, layout: &DistLayout) -> bool {
        !self.dirs.is_empty()
            && self.dirs.iter().all(|(dir, time)| {
                std::fs::metadata(layout.root.join(dir))
                    .is_ok_and(|m| m.is_dir() && modified_ns(&m) == *time)
            })
            && self.files.iter().all(|(file, (size, time))| {
                std::fs::metadata(layout.root.join(file))
                    .is_ok_and(|m| m.len() == *size && modified_ns(&m) == *time)
            })
    }

    /// Saves the stamp.
    pub fn save(&self, path: &Path) -> Result<(), FsError> {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        write_file(path, &bytes, 0o644, Durability::Atomic)
    }
}
