//! Finding the library's files under its components, profiles and tools folders, and reading
//! the documents among them (in parallel).

use std::collections::BTreeSet;
use std::path::Path;

use kiln_model::PathsSpec;
use rayon::prelude::*;

use super::LibraryFile;
use super::paths::relative_path;
use super::plan::plan_files;
use crate::diagnostic::{Diagnostic, Diagnostics};

/// Lists every file under the library's components, profiles and tools folders, reading the
/// documents (in parallel).
pub(super) fn discover(
    root: &Path,
    paths: &PathsSpec,
    diagnostics: &mut Diagnostics,
) -> Vec<LibraryFile> {
    let mut found = Vec::new();
    let real_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    // Links are followed only while they stay inside the library: one leading out would copy
    // files kiln was never given (a skill linking to /etc/ssl) into dist.
    let mut outside: Vec<(String, String)> = Vec::new();
    let mut left_out: Vec<String> = Vec::new();
    let skills = root.join(&paths.components).join("skills");
    for folder in [&paths.components, &paths.profiles, &paths.tools] {
        let dir = root.join(folder);
        if !dir.exists() {
            continue;
        }
        let walker = walkdir::WalkDir::new(&dir)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|entry| {
                let name = entry.file_name().to_string_lossy();
                if entry.depth() > 0 && name.starts_with('.') {
                    // A skill's dot-files are its assets (`.env.example`, `.prettierrc`); only
                    // version control and Finder files are left out, and that is said.
                    let in_skill = entry
                        .path()
                        .strip_prefix(&skills)
                        .is_ok_and(|inner| inner.components().count() > 1);
                    if !in_skill {
                        return false;
                    }
                    if name == ".git" || name == ".DS_Store" {
                        left_out.push(
                            entry
                                .path()
                                .strip_prefix(root)
                                .map_or_else(|_| name.to_string(), relative_path),
                        );
                        return false;
                    }
                }
                if !entry.path_is_symlink() {
                    return true;
                }
                let target = entry.path().canonicalize();
                if target.as_ref().is_ok_and(|t| t.starts_with(&real_root)) {
                    return true;
                }
                let link = entry
                    .path()
                    .strip_prefix(root)
                    .map_or_else(|_| entry.path().display().to_string(), relative_path);
                let target = target.map_or_else(
                    |_| "nowhere (dangling)".to_string(),
                    |t| format!("`{}`", t.display()),
                );
                outside.push((link, target));
                false
            });
        for entry in walker {
            match entry {
                Ok(entry) if entry.file_type().is_file() => {
                    if let Ok(relative) = entry.path().strip_prefix(root) {
                        found.push(relative_path(relative));
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    let path = error
                        .path()
                        .and_then(|p| p.strip_prefix(root).ok())
                        .map_or_else(|| folder.clone(), relative_path);
                    diagnostics.push(
                        Diagnostic::error(
                            "kiln::library::walk",
                            format!("failed to read `{path}`: {error}"),
                        )
                        .in_file(path),
                    );
                }
            }
        }
    }
    for (link, target) in outside {
        diagnostics.push(
            Diagnostic::error(
                "kiln::library::symlink_outside",
                format!("`{link}` is a symlink to {target}, outside the library; kiln does not read it"),
            )
            .in_file(link)
            .help("copy the files into the library, or make the link point inside it (a relative link to a file of the library)"),
        );
    }
    for path in left_out {
        diagnostics.push(
            Diagnostic::warning(
                "kiln::library::left_out",
                format!("`{path}` is left out of the skill (version control and Finder files never ship)"),
            )
            .in_file(path),
        );
    }
    let plan = plan_files(
        paths,
        &found
            .iter()
            .map(|p| LibraryFile {
                path: p.clone(),
                text: None,
            })
            .collect::<Vec<_>>(),
    );
    let wanted: BTreeSet<&str> = plan.documents.iter().map(|d| d.path.as_str()).collect();
    let read: Vec<(LibraryFile, Option<Diagnostic>)> = found
        .par_iter()
        .map(|path| {
            if !wanted.contains(path.as_str()) {
                return (
                    LibraryFile {
                        path: path.clone(),
                        text: None,
                    },
                    None,
                );
            }
            match std::fs::read(root.join(path)) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => (
                        LibraryFile {
                            path: path.clone(),
                            text: Some(text.into()),
                        },
                        None,
                    ),
                    Err(_) => (
                        LibraryFile {
                            path: path.clone(),
                            text: None,
                        },
                        Some(
                            Diagnostic::error(
                                "kiln::library::not_utf8",
                                format!("`{path}` is not UTF-8 text"),
                            )
                            .in_file(path.clone())
                            .help("save the file as UTF-8"),
                        ),
                    ),
                },
                Err(error) => (
                    LibraryFile {
                        path: path.clone(),
                        text: None,
                    },
                    Some(
                        Diagnostic::error(
                            "kiln::library::read",
                            format!("failed to read `{path}`: {error}"),
                        )
                        .in_file(path.clone()),
                    ),
                ),
            }
        })
        .collect();
    read.into_iter()
        .map(|(file, problem)| {
            diagnostics.extend(problem);
            file
        })
        .collect()
}
