//! Shared helpers: running the binary in a clean environment, building libraries in temporary
//! folders, normalising output for snapshots.

use std::path::{Path, PathBuf};
use std::process::Output;

/// The repository root (the starter library).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `kiln` with an environment that cannot see the machine's own configuration: no colour,
/// a fixed hostname, an empty config home, no KILN_* variables.
pub fn kiln(cwd: &Path) -> assert_cmd::Command {
    let mut command = assert_cmd::Command::new(env!("CARGO_BIN_EXE_kiln-under-test"));
    command
        .current_dir(cwd)
        .env_remove("KILN_LIBRARY")
        .env_remove("KILN_CONFIG")
        .env_remove("KILN_PROFILE")
        .env_remove("KILN_NO_INHERIT")
        .env("NO_COLOR", "1")
        .env("KILN_HOSTNAME", "testhost")
        .env("KILN_SYSTEM_CONFIG", cwd.join(".no-system-config"))
        .env("XDG_CONFIG_HOME", cwd.join(".no-user-config"))
        .env("HOME", cwd.join(".no-home"));
    command
}

/// Exit code, stdout and stderr as one text, with `root` replaced by `[ROOT]`.
pub fn render(output: &Output, root: &Path) -> String {
    let normalize = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .replace(&root.display().to_string(), "[ROOT]")
            .replace('\\', "/")
    };
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        output.status.code().unwrap_or(-1),
        normalize(&output.stdout),
        normalize(&output.stderr)
    )
}

/// A library in a temporary folder.
pub struct TempLibrary {
    pub dir: tempfile::TempDir,
}

impl TempLibrary {
    /// A library with `kiln.toml` = `version = 1`.
    pub fn new() -> TempLibrary {
        let library = TempLibrary {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        library.file("kiln.toml", "version = 1\n");
        library
    }

    /// Writes a file (creating folders).
    pub fn file(&self, path: &str, text: &str) -> &TempLibrary {
        let full = self.dir.path().join(path);
        std::fs::create_dir_all(full.parent().expect("has parent")).expect("create dirs");
        std::fs::write(full, text).expect("write file");
        self
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `kiln` run inside this library.
    pub fn kiln(&self) -> assert_cmd::Command {
        kiln(self.path())
    }
}

/// Copies a folder recursively (for running commands on a copy of the starter library).
pub fn copy_tree(from: &Path, to: &Path) {
    for entry in entries(from).into_iter().filter(|p| p.is_file()) {
        let relative = entry.strip_prefix(from).expect("under from");
        let target = to.join(relative);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::copy(&entry, &target).expect("copy");
    }
}

/// Every entry below `dir` (files, folders, symlinks — never followed), sorted by name; a
/// folder that cannot be read is skipped.
pub fn entries(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .min_depth(1)
        .sort_by_file_name()
        .into_iter()
        .flatten()
        .map(walkdir::DirEntry::into_path)
        .collect()
}

/// Copies the starter library (kiln.toml, components, profiles, schemas) into `to`.
pub fn copy_starter_library(to: &Path) {
    let root = repo_root();
    std::fs::copy(root.join("kiln.toml"), to.join("kiln.toml")).expect("copy kiln.toml");
    for folder in ["components", "profiles", "schemas"] {
        copy_tree(&root.join(folder), &to.join(folder));
    }
}
