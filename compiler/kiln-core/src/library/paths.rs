//! The library on disk without loading it: the file marking its root, its `[paths]`, a
//! digest of its files' metadata, and library-relative paths.

use std::path::Path;

use kiln_model::{LibrarySpec, PathsSpec};

/// The file that marks a library's root.
pub const LIBRARY_FILE: &str = "kiln.toml";

/// A digest of the library's files as the file system describes them — path, size,
/// modification time, inode — without reading them. Equal digests mean nothing was touched
/// (the same test git's index and cargo's mtime check rely on); it is only a shortcut to
/// skip work, never part of an output or a fingerprint.
pub fn stat_digest(root: &Path, paths: &PathsSpec) -> String {
    let mut hasher = blake3::Hasher::new();
    let mut entries: Vec<String> = Vec::new();
    let config = root.join(LIBRARY_FILE);
    entries.push(stat_line(&config, LIBRARY_FILE));
    for folder in [&paths.components, &paths.profiles, &paths.tools] {
        let dir = root.join(folder);
        for entry in walkdir::WalkDir::new(&dir)
            .follow_links(true)
            .into_iter()
            .flatten()
        {
            let relative = entry
                .path()
                .strip_prefix(root)
                .map(relative_path)
                .unwrap_or_default();
            entries.push(stat_line(entry.path(), &relative));
        }
    }
    entries.sort_unstable();
    for line in &entries {
        hasher.update(line.as_bytes());
        hasher.update(b"\n");
    }
    hasher.finalize().to_hex().to_string()
}

fn stat_line(path: &Path, relative: &str) -> String {
    match std::fs::metadata(path) {
        Ok(metadata) => {
            let modified = metadata
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            format!(
                "{relative}\t{}\t{modified}\t{}",
                metadata.len(),
                inode(&metadata)
            )
        }
        Err(_) => format!("{relative}\tmissing"),
    }
}

#[cfg(unix)]
fn inode(metadata: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    metadata.ino()
}

#[cfg(not(unix))]
fn inode(_: &std::fs::Metadata) -> u64 {
    0
}

/// The `[paths]` of the library at `root` without loading it (defaults when `kiln.toml` is
/// missing or invalid; loading reports the problem).
pub fn library_paths(root: &Path) -> PathsSpec {
    std::fs::read_to_string(root.join(LIBRARY_FILE))
        .ok()
        .and_then(|text| toml::from_str::<LibrarySpec>(&text).ok())
        .map(|spec| spec.paths)
        .unwrap_or_default()
}

/// `path` (relative to the library root) as a library-relative path, `/`-separated.
pub(super) fn relative_path(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
