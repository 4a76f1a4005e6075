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

/// The one harness every integration test runs kiln through: an isolated environment that
/// cannot see the machine's own configuration, home or tool folders. The process starts from
/// an empty environment (only `PATH` is kept, for the fake commands tests install), with
/// scratch folders below `root`: `.home` (HOME), `.state` (XDG_STATE_HOME), `.no-user-config`
/// (XDG_CONFIG_HOME) and `.no-system-config` (KILN_SYSTEM_CONFIG), no colour and a fixed
/// hostname. No KILN_* or tool-home variable (CLAUDE_CONFIG_DIR, CODEX_HOME, …) leaks in.
#[derive(Clone, Debug)]
pub struct Sandbox {
    pub root: PathBuf,
}

impl Sandbox {
    /// A sandbox whose scratch folders live below `root` (a temporary folder).
    pub fn at(root: &Path) -> Sandbox {
        Sandbox {
            root: root.to_path_buf(),
        }
    }

    /// One scratch sandbox for the whole test process, for commands that only read (run in
    /// the repository or a folder that is not a library).
    pub fn shared() -> &'static Sandbox {
        static SHARED: std::sync::OnceLock<(tempfile::TempDir, Sandbox)> =
            std::sync::OnceLock::new();
        let (_, sandbox) = SHARED.get_or_init(|| {
            let dir = tempfile::tempdir().expect("scratch sandbox");
            let sandbox = Sandbox::at(dir.path());
            (dir, sandbox)
        });
        sandbox
    }

    /// HOME: where global files are deployed.
    pub fn home(&self) -> PathBuf {
        self.root.join(".home")
    }

    /// XDG_STATE_HOME: deploy records, the lock, backups.
    pub fn state(&self) -> PathBuf {
        self.root.join(".state")
    }

    /// `kiln` as a plain process (for tests that spawn and kill it), run in `cwd`.
    pub fn process(&self, cwd: &Path) -> std::process::Command {
        self.process_of(Path::new(env!("CARGO_BIN_EXE_kiln-under-test")), cwd)
    }

    /// Another kiln binary (one a test rebuilt) in this sandbox, run in `cwd`.
    pub fn process_of(&self, binary: &Path, cwd: &Path) -> std::process::Command {
        let mut command = std::process::Command::new(binary);
        command.current_dir(cwd).env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            command.env("PATH", path);
        }
        command
            .env("NO_COLOR", "1")
            .env("KILN_HOSTNAME", "testhost")
            .env("KILN_SYSTEM_CONFIG", self.root.join(".no-system-config"))
            .env("XDG_CONFIG_HOME", self.root.join(".no-user-config"))
            .env("XDG_STATE_HOME", self.state())
            .env("HOME", self.home());
        command
    }

    /// `kiln` run in `cwd`, for `assert_cmd`-style use.
    pub fn kiln(&self, cwd: &Path) -> assert_cmd::Command {
        assert_cmd::Command::from_std(self.process(cwd))
    }
}

/// `kiln` in `cwd` with the shared scratch sandbox (commands that only read).
pub fn kiln(cwd: &Path) -> assert_cmd::Command {
    Sandbox::shared().kiln(cwd)
}

/// Exit code, stdout and stderr as one text, with `root` replaced by `[ROOT]`.
pub fn render(output: &Output, root: &Path) -> String {
    let normalize = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes)
            .replace(&root.display().to_string(), "[ROOT]")
            .replace(&Sandbox::shared().root.display().to_string(), "[SANDBOX]");
        text.replace('\\', "/")
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

    /// `kiln` run inside this library, in its own sandbox (below the library's folder, so
    /// `[ROOT]` covers both in rendered output).
    pub fn kiln(&self) -> assert_cmd::Command {
        self.sandbox().kiln(self.path())
    }

    /// This library's sandbox: its HOME, state and configuration folders.
    pub fn sandbox(&self) -> Sandbox {
        Sandbox::at(self.path())
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

pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut entries: Vec<PathBuf> = entries.map(|e| e.expect("entry").path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Every file under `dir` (except the cache): path, mode, size and hash, and the text of
/// small files.
pub fn render_tree(dir: &Path) -> String {
    let mut out = String::new();
    for path in files_under(dir) {
        let relative = path
            .strip_prefix(dir)
            .expect("under dir")
            .to_string_lossy()
            .replace('\\', "/");
        if relative.starts_with(".cache/") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("read");
        let mode = mode_of(&path);
        let hash = blake3::hash(&bytes).to_hex().to_string();
        out.push_str(&format!(
            "== {relative}  {mode:o} {} bytes  {}\n",
            bytes.len(),
            &hash[..16]
        ));
        if bytes.len() <= 1200
            && !relative.ends_with(".manifest.json")
            && let Ok(text) = std::str::from_utf8(&bytes)
        {
            out.push_str(text);
            if !text.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(unix)]
pub fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

#[cfg(not(unix))]
pub fn mode_of(_: &Path) -> u32 {
    0o644
}

/// Gives a file mode 0755 (a stand-in tool the tests run).
#[cfg(unix)]
pub fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[cfg(not(unix))]
pub fn make_executable(_: &Path) {}
