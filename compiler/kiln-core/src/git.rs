//! The library's git working tree, read-only with gix (no `git` program needed): which library
//! files have uncommitted changes (`kiln sync` refuses to promote into them). kiln never
//! writes to the repository, its index included.

use std::path::Path;

/// The paths among `paths` (library-relative, `/`-separated) that are modified, staged,
/// deleted or untracked in the working tree holding `library`. Empty when `library` is in no
/// git working tree (nothing to protect then); an error when the repository cannot be read
/// (the caller refuses rather than guess).
pub fn dirty_paths(library: &Path, paths: &[&str]) -> Result<Vec<String>, String> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    use gix::discover::upwards::Error as NotFound;
    if let Err(error) = gix::discover::upwards(library) {
        let not_found = matches!(
            error.downcast_any_ref::<NotFound>(),
            Some(
                NotFound::NoGitRepository { .. }
                    | NotFound::NoGitRepositoryWithinCeiling { .. }
                    | NotFound::NoGitRepositoryWithinFs { .. }
            )
        );
        return if not_found {
            Ok(Vec::new())
        } else {
            Err(format!("cannot open the library's git repository: {error}"))
        };
    }
    let repository = gix::discover(library)
        .map_err(|error| format!("cannot open the library's git repository: {error}"))?;
    let Some(workdir) = repository.workdir() else {
        return Ok(Vec::new());
    };
    // The library may sit below the repository's root: compare repository-relative paths.
    let (Ok(workdir), Ok(library)) = (workdir.canonicalize(), library.canonicalize()) else {
        return Ok(Vec::new());
    };
    let prefix = library
        .strip_prefix(&workdir)
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .unwrap_or_default();
    let in_repository = |path: &str| {
        if prefix.is_empty() {
            path.to_string()
        } else {
            format!("{prefix}/{path}")
        }
    };
    let wanted: Vec<(String, &str)> = paths.iter().map(|p| (in_repository(p), *p)).collect();
    let fail = |error: &dyn std::fmt::Display| {
        format!(
            "cannot read the git status of `{}`: {error}",
            workdir.display()
        )
    };
    let status = repository
        .status(gix::progress::Discard)
        .map_err(|e| fail(&e))?
        .untracked_files(gix::status::UntrackedFiles::Files)
        .index_worktree_submodules(None)
        .into_iter(None)
        .map_err(|e| fail(&e))?;
    let mut dirty = std::collections::BTreeSet::new();
    for item in status {
        let item = item.map_err(|e| fail(&e))?;
        let location = item.location().to_string();
        for (path, asked) in &wanted {
            if location == *path {
                dirty.insert((*asked).to_string());
            }
        }
    }
    Ok(dirty.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) {
        let status = std::process::Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir)
            .output()
            .expect("git");
        assert!(status.status.success(), "git {args:?}");
    }

    #[test]
    fn modified_staged_and_untracked_files_are_dirty_committed_ones_are_not() {
        let dir = tempfile::tempdir().expect("dir");
        let repo = dir.path();
        let library = repo.join("library");
        std::fs::create_dir_all(library.join("skills/x")).expect("mkdir");
        for name in ["clean.md", "modified.md", "staged.md"] {
            std::fs::write(library.join("skills/x").join(name), "one\n").expect("write");
        }
        git(repo, &["init", "-q"]);
        git(repo, &["add", "-A"]);
        git(repo, &["commit", "-q", "-m", "c"]);
        std::fs::write(library.join("skills/x/modified.md"), "two\n").expect("write");
        std::fs::write(library.join("skills/x/staged.md"), "two\n").expect("write");
        git(repo, &["add", "library/skills/x/staged.md"]);
        std::fs::write(library.join("skills/x/new.md"), "new\n").expect("write");
        let asked = [
            "skills/x/clean.md",
            "skills/x/modified.md",
            "skills/x/staged.md",
            "skills/x/new.md",
        ];
        assert_eq!(
            dirty_paths(&library, &asked).expect("status"),
            [
                "skills/x/modified.md",
                "skills/x/new.md",
                "skills/x/staged.md"
            ]
        );
        let outside = tempfile::tempdir().expect("dir");
        assert_eq!(
            dirty_paths(outside.path(), &asked).expect("no repository"),
            Vec::<String>::new()
        );
    }
}
