//! The dist tree: `dist/<tool>/<profile>/{global,project}/…` mirroring the live layout, and
//! `dist/<tool>/<profile>.manifest.json` listing every file with its hash and provenance.
//!
//! ```text
//! dist/
//!   claude-code/
//!     personal/global/.claude/skills/…   what deploy puts under the home directory
//!     personal/project/.mcp.json         what deploy puts into a project
//!     personal.manifest.json             DistManifest: hash, mode, strategy, provenance per file
//!   .cache/claude-code/personal.memo.json  memo cache (safe to delete)
//! ```
//!
//! Writing skips files whose bytes did not change (their mtimes stay put), removes files an
//! earlier build wrote that are no longer produced, and rewrites the manifest only when it
//! changed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kiln_model::DistManifest;

use rayon::prelude::*;

use crate::fs::{
    Durability, FsError, atomic_write, mode_of, read_optional, remove_file_and_empty_parents,
    write_file, write_new,
};

/// Where a library's build output lives.
#[derive(Clone, Debug)]
pub struct DistLayout {
    /// The `dist/` folder.
    pub root: PathBuf,
}

impl DistLayout {
    /// `dist/<tool>/<profile>/`.
    pub fn tree(&self, tool: &str, profile: &str) -> PathBuf {
        self.root.join(tool).join(profile)
    }

    /// `dist/<tool>/<profile>.manifest.json`.
    pub fn manifest(&self, tool: &str, profile: &str) -> PathBuf {
        self.root
            .join(tool)
            .join(format!("{profile}.manifest.json"))
    }

    /// `dist/.cache/<tool>/<profile>.memo.json`.
    pub fn memo(&self, tool: &str, profile: &str) -> PathBuf {
        self.root
            .join(".cache")
            .join(tool)
            .join(format!("{profile}.memo.json"))
    }

    /// Every tool with a build of `profile` in dist (a `<tool>/<profile>.manifest.json`),
    /// sorted.
    pub fn built_tools(&self, profile: &str) -> Vec<String> {
        let mut tools: Vec<String> = std::fs::read_dir(&self.root)
            .map(|entries| {
                entries
                    .flatten()
                    .filter(|entry| {
                        entry
                            .path()
                            .join(format!("{profile}.manifest.json"))
                            .is_file()
                    })
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .filter(|name| !name.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default();
        tools.sort();
        tools
    }
}

/// Reads a manifest; `Ok(None)` when there is none or it is not a manifest kiln can read
/// (it is then rebuilt from scratch).
pub fn read_manifest(path: &Path) -> Result<Option<DistManifest>, FsError> {
    Ok(read_optional(path)?.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

/// The manifest's bytes as written: pretty JSON, sorted keys, trailing newline.
pub fn manifest_bytes(manifest: &DistManifest) -> Vec<u8> {
    let mut text = serde_json::to_string_pretty(manifest).unwrap_or_default();
    text.push('\n');
    text.into_bytes()
}

/// Whether a manifest path stays inside its tree: relative, no empty, `.` or `..` segments,
/// no backslashes or NUL bytes.
pub fn is_contained(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains(['\\', '\0'])
        && path
            .split('/')
            .all(|segment| !matches!(segment, "" | "." | ".."))
}

/// The first folder between `root` and `path` that is a symlink: dist is kiln's own output,
/// so a link in it was planted, and nothing may be written or removed through it.
fn symlinked_folder(root: &Path, path: &Path) -> Option<PathBuf> {
    let relative = path.strip_prefix(root).ok()?;
    let mut current = root.to_path_buf();
    let components: Vec<_> = relative.components().collect();
    for component in &components[..components.len().saturating_sub(1)] {
        current.push(component);
        if std::fs::symlink_metadata(&current).is_ok_and(|m| m.file_type().is_symlink()) {
            return Some(current);
        }
    }
    None
}

/// What storing did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreReport {
    /// Files written (dist paths).
    pub written: Vec<String>,
    /// Files left alone because their bytes were already there.
    pub unchanged: usize,
    /// Files removed because no output produces them any more.
    pub removed: Vec<String>,
    /// Whether the manifest file was (re)written.
    pub manifest_written: bool,
}

/// Writes a build: every file of `manifest` whose bytes are in `emitted` and differ from
/// what is on disk, removals of files only `previous` listed, then the manifest.
pub fn store(
    layout: &DistLayout,
    manifest: &DistManifest,
    emitted: &BTreeMap<String, (Arc<[u8]>, u32)>,
    previous: Option<&DistManifest>,
) -> Result<StoreReport, FsError> {
    let tree = layout.tree(&manifest.tool, &manifest.profile);
    let mut report = StoreReport::default();
    // Decide first, then write the changed files in parallel: a large build is thousands of
    // small files, and the order they land in does not matter (the manifest comes last).
    let mut to_write: Vec<(&String, &Arc<[u8]>, u32)> = Vec::new();
    for (path, entry) in &manifest.files {
        let Some((bytes, mode)) = emitted.get(path) else {
            report.unchanged += 1;
            continue;
        };
        let same = previous
            .and_then(|p| p.files.get(path))
            .is_some_and(|old| old.hash == entry.hash)
            && std::fs::metadata(tree.join(path)).is_ok_and(|m| {
                m.is_file() && m.len() == bytes.len() as u64 && mode_of(&m) == *mode
            });
        if same {
            report.unchanged += 1;
        } else {
            to_write.push((path, bytes, *mode));
        }
    }
    // Directories once, parents first; then new files are created in place and existing ones
    // replaced atomically (a reader of an existing file never sees it torn).
    let dirs: BTreeSet<PathBuf> = to_write
        .iter()
        .filter_map(|(path, _, _)| tree.join(path).parent().map(Path::to_path_buf))
        .collect();
    // A symlinked folder planted in dist is removed (the link, never what it leads to) and
    // becomes a real folder, so no write goes through it.
    for dir in &dirs {
        while let Some(link) = symlinked_folder(&layout.root, &dir.join("x")) {
            std::fs::remove_file(&link).map_err(|error| FsError {
                action: "remove the symlink planted in dist at",
                path: link.clone(),
                error,
            })?;
        }
    }
    for dir in &dirs {
        std::fs::create_dir_all(dir).map_err(|error| FsError {
            action: "create directory",
            path: dir.clone(),
            error,
        })?;
    }
    to_write.par_iter().try_for_each(|(path, bytes, mode)| {
        let target = tree.join(path);
        if target.symlink_metadata().is_ok() {
            write_file(&target, bytes, *mode, Durability::Atomic)
        } else {
            write_new(&target, bytes, *mode)
        }
    })?;
    report.written = to_write
        .into_iter()
        .map(|(path, _, _)| path.clone())
        .collect();
    if let Some(previous) = previous {
        for path in previous.files.keys() {
            // A manifest on disk is input like any other: never follow a path in it out of
            // the tree (a tampered `../x` must not delete anything).
            if !manifest.files.contains_key(path) && is_contained(path) {
                let target = tree.join(path);
                // Through a planted symlinked folder the file is not dist's: only the link goes.
                if let Some(link) = symlinked_folder(&layout.root, &target) {
                    std::fs::remove_file(&link).map_err(|error| FsError {
                        action: "remove the symlink planted in dist at",
                        path: link.clone(),
                        error,
                    })?;
                    continue;
                }
                remove_file_and_empty_parents(&target, &layout.root)?;
                report.removed.push(path.clone());
            }
        }
    }
    let manifest_path = layout.manifest(&manifest.tool, &manifest.profile);
    let bytes = manifest_bytes(manifest);
    if read_optional(&manifest_path)?.as_deref() != Some(bytes.as_slice()) {
        atomic_write(&manifest_path, &bytes, 0o644)?;
        report.manifest_written = true;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_contained_manifest_paths_are_acted_on() {
        assert!(is_contained("global/.claude/rules/a.md"));
        for bad in [
            "",
            "/etc",
            "global/../x",
            "global//x",
            "./x",
            "a\\b",
            "a\0b",
            "global/..",
        ] {
            assert!(!is_contained(bad), "{bad:?}");
        }
    }
}
