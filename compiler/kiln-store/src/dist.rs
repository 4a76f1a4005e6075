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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kiln_model::DistManifest;

use crate::fs::{FsError, atomic_write, mode_of, read_optional, remove_file_and_empty_parents};

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
    for (path, entry) in &manifest.files {
        let Some((bytes, mode)) = emitted.get(path) else {
            report.unchanged += 1;
            continue;
        };
        let target = tree.join(path);
        let same = previous
            .and_then(|p| p.files.get(path))
            .is_some_and(|old| old.hash == entry.hash)
            && std::fs::metadata(&target).is_ok_and(|m| {
                m.is_file() && m.len() == bytes.len() as u64 && mode_of(&m) == *mode
            });
        if same {
            report.unchanged += 1;
        } else {
            atomic_write(&target, bytes, *mode)?;
            report.written.push(path.clone());
        }
    }
    if let Some(previous) = previous {
        for path in previous.files.keys() {
            if !manifest.files.contains_key(path) {
                remove_file_and_empty_parents(&tree.join(path), &layout.root)?;
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
