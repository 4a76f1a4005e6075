//! The library's git working tree, read-only: which library files have uncommitted changes
//! (`kiln sync` refuses to promote into them). Runs `git status`; gix would avoid the process
//! but costs minutes of compile time on the 2-core CI for one question (a later change).

use std::path::Path;

/// The paths among `paths` (library-relative) that are modified, added, deleted or untracked
/// in the working tree at `library`. Empty when `library` is not in a git working tree or git
/// is not installed (nothing to protect then).
pub fn dirty_paths(library: &Path, paths: &[&str]) -> Vec<String> {
    if paths.is_empty() {
        return Vec::new();
    }
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(library)
        .args([
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=all",
            "--",
        ])
        .args(paths)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    let Ok(output) = output else {
        return Vec::new();
    };
    if !output.status.success() {
        return Vec::new();
    }
    // `XY path\0` (a rename adds `\0old`); paths are relative to the repository root, which
    // may sit above the library: match on the end.
    let text = String::from_utf8_lossy(&output.stdout);
    let mut dirty: Vec<String> = paths
        .iter()
        .filter(|path| {
            text.split('\0')
                .filter(|record| record.len() > 3)
                .any(|record| {
                    let named = &record[3..];
                    named == **path || named.ends_with(&format!("/{path}"))
                })
        })
        .map(ToString::to_string)
        .collect();
    dirty.sort();
    dirty
}
