//! A built-in tool is a folder: the fictitious `acme` added under `tools/` of a scratch copy of
//! this workspace is embedded by a rebuild, with no Rust change, and the rebuilt kiln
//! validates, builds, deploys and checks a library that names acme without defining it. Editing
//! a template under `tools/` and rebuilding changes the output: the embed reruns.
//!
//! The copy builds into this workspace's own target directory, so the dependencies compiled
//! there are reused. Its crates get another version (`…-rebuilt`) so their artifacts never
//! share a file name with this workspace's — a copy with identical sources would otherwise
//! recompile `kiln-model` in place, under crates that are being linked against it — and its
//! binary another name, so the `kiln` other tests and scripts run is never replaced.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::custom_tool::{ACME_FILES, acme_components};
use crate::support::{copy_tree, render, repo_root};

const BINARY: &str = "kiln-with-acme";

/// The target directory this test binary was built in (`target/debug/deps/integration-…`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.ancestors()
        .nth(3)
        .expect("target/debug/deps")
        .to_path_buf()
}

/// Builds the copied workspace's kiln; returns the binary.
fn rebuild(workspace: &Path) -> PathBuf {
    // Cargo tells a test which cargo runs it.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(workspace)
        .env("CARGO_TARGET_DIR", target_dir())
        // Not --locked: the workspace crates' new version updates their lock entries
        // (offline; no dependency changes).
        .args(["build", "--offline", "--quiet", "-p", "kiln-cli"])
        .output()
        .expect("run cargo");
    assert!(
        output.status.success(),
        "rebuild failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    target_dir()
        .join("debug")
        .join(format!("{BINARY}{}", std::env::consts::EXE_SUFFIX))
}

/// The parts of this workspace a build of kiln-cli reads.
fn copy_workspace(to: &Path) {
    let root = repo_root();
    std::fs::copy(root.join("Cargo.lock"), to.join("Cargo.lock")).expect("copy lock");
    let workspace = std::fs::read_to_string(root.join("Cargo.toml")).expect("read workspace");
    let version = "\nversion = \"";
    assert!(workspace.contains(version), "{workspace}");
    std::fs::write(
        to.join("Cargo.toml"),
        workspace.replacen(version, "\nversion = \"0.0.1-rebuilt.", 1),
    )
    .expect("write workspace");
    for folder in ["compiler", "tools", "schemas", "tests/src"] {
        copy_tree(&root.join(folder), &to.join(folder));
    }
    std::fs::copy(root.join("tests/Cargo.toml"), to.join("tests/Cargo.toml")).expect("copy");
    let cli = to.join("compiler/kiln-cli/Cargo.toml");
    let manifest = std::fs::read_to_string(&cli).expect("read kiln-cli manifest");
    assert!(manifest.contains("name = \"kiln\"\n"), "{manifest}");
    std::fs::write(
        &cli,
        manifest.replace("name = \"kiln\"\n", &format!("name = \"{BINARY}\"\n")),
    )
    .expect("rename the binary");
}

#[test]
fn a_tool_folder_added_under_tools_is_built_in_after_a_rebuild() {
    let workspace = tempfile::tempdir().expect("workspace copy");
    copy_workspace(workspace.path());
    let acme = workspace.path().join("tools/acme");
    for (path, text) in ACME_FILES {
        let file = acme.join(path);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(file, text).expect("write acme");
    }
    let kiln = rebuild(workspace.path());

    let library = acme_components();
    assert!(!library.path().join("tools").exists());
    let sandbox = library.sandbox();
    let run = |args: &[&str]| {
        let output = sandbox
            .process_of(&kiln, library.path())
            .env("ACME_HOME", sandbox.home().join("acme-home"))
            .arg("--no-inherit")
            .args(args)
            .output()
            .expect("run rebuilt kiln");
        let text = render(&output, library.path());
        assert_eq!(output.status.code(), Some(0), "{args:?}\n{text}");
        text
    };
    let tools = run(&["tools"]);
    assert!(tools.contains("acme"), "{tools}");
    run(&["validate"]);
    run(&["build", "p", "acme"]);
    let rule = library
        .path()
        .join("dist/acme/p/global/.acme/rules/everywhere.md");
    assert_eq!(
        std::fs::read_to_string(&rule).expect("built rule"),
        "# Everywhere\n\nAlways be kind.\n"
    );
    run(&["deploy", "p", "acme"]);
    let live = sandbox.home().join("acme-home/rules/everywhere.md");
    assert!(live.is_file(), "ACME_HOME was not honoured");
    let check = run(&["check"]);
    assert!(check.contains("synced"), "{check}");

    // A changed template is embedded by the next rebuild.
    std::fs::write(
        acme.join("templates/rule.md.j2"),
        "## {{ component.description }}\n\n{{ component.body }}\n",
    )
    .expect("edit template");
    let kiln_again = rebuild(workspace.path());
    assert_eq!(kiln_again, kiln);
    run(&["build", "p", "acme"]);
    assert_eq!(
        std::fs::read_to_string(&rule).expect("rebuilt rule"),
        "## Everywhere\n\nAlways be kind.\n"
    );
}
