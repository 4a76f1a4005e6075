//! `kiln deploy` and `kiln check` end to end, with a temporary HOME and state directory:
//! creation, idempotence, conflicts (adopt / backup / force), merges that keep the user's
//! keys, drift, pruning, dry-run purity, the sandbox and tool-home relocation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{
    Sandbox, TempLibrary, copy_tree, entries, make_executable, render, repo_root,
};

/// A user's machine: the starter library and the harness's HOME and state folders.
struct Machine {
    library: TempLibrary,
    sandbox: Sandbox,
}

impl Machine {
    fn new() -> Machine {
        let library = TempLibrary::new();
        let root = repo_root();
        std::fs::copy(root.join("kiln.toml"), library.path().join("kiln.toml")).expect("kiln.toml");
        for folder in ["components", "profiles"] {
            copy_tree(&root.join(folder), &library.path().join(folder));
        }
        // A fake 1Password CLI that prints a canary for every reference (see `secrets_*`).
        let fake_op = library.path().join("fake-op");
        library.file(
            "fake-op",
            "#!/bin/sh\n[ \"$1\" = read ] && [ \"$2\" = --no-newline ] || exit 64\nprintf 'CANARY-%s' \"$(echo \"$3\" | tr -c 'A-Za-z0-9' '_')\"\n",
        );
        make_executable(&fake_op);
        library.file(
            ".no-user-config/kiln/config.toml",
            &format!(
                "[secrets]\nop_command = {:?}\n",
                fake_op.display().to_string()
            ),
        );
        let sandbox = library.sandbox();
        for dir in [sandbox.home(), sandbox.state()] {
            std::fs::create_dir_all(dir).expect("sandbox folders");
        }
        Machine { library, sandbox }
    }

    fn kiln(&self, args: &[&str]) -> std::process::Output {
        self.library.kiln().args(args).output().expect("run kiln")
    }

    fn home(&self, relative: &str) -> PathBuf {
        self.sandbox.home().join(relative)
    }
}

fn text(output: &std::process::Output, machine: &Machine) -> String {
    render(output, machine.library.path())
}

/// Type, mode, size, mtime, inode and content hash of every entry under `dir`.
fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for path in entries(dir) {
        let metadata = std::fs::symlink_metadata(&path).expect("stat");
        let kind = if metadata.file_type().is_symlink() {
            "link"
        } else if metadata.is_dir() {
            "dir"
        } else {
            "file"
        };
        let hash = if kind == "file" {
            blake3::hash(&std::fs::read(&path).expect("read"))
                .to_hex()
                .to_string()
        } else {
            String::new()
        };
        out.insert(
            path.display().to_string(),
            format!(
                "{kind} {:o} {} {:?} {} {} {hash}",
                mode(&metadata),
                metadata.len(),
                metadata.modified().ok(),
                ctime(&metadata),
                inode(&metadata)
            ),
        );
    }
    out
}

#[cfg(unix)]
fn mode(metadata: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    metadata.permissions().mode() & 0o7777
}
#[cfg(unix)]
fn ctime(metadata: &std::fs::Metadata) -> i64 {
    use std::os::unix::fs::MetadataExt;
    metadata.ctime() * 1_000_000_000 + metadata.ctime_nsec()
}
#[cfg(not(unix))]
fn ctime(_: &std::fs::Metadata) -> i64 {
    0
}
#[cfg(unix)]
fn inode(metadata: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    metadata.ino()
}
#[cfg(not(unix))]
fn mode(_: &std::fs::Metadata) -> u32 {
    0
}
#[cfg(not(unix))]
fn inode(_: &std::fs::Metadata) -> u64 {
    0
}

#[test]
fn deploy_creates_files_and_a_second_run_writes_nothing() {
    let machine = Machine::new();
    let output = machine.kiln(&["deploy", "personal", "claude-code"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output, &machine));
    assert!(machine.home(".claude/rules/git-workflow.md").is_file());
    assert!(
        machine
            .home(".claude/skills/homebrew-formula/scripts/check-formula.sh")
            .is_file()
    );
    let claude: Value =
        serde_json::from_slice(&std::fs::read(machine.home(".claude.json")).expect("read"))
            .expect("json");
    assert!(claude["mcpServers"]["memory"].is_object());
    assert_eq!(
        claude["mcpServers"]["context7"]["env"]["CONTEXT7_API_KEY"],
        "CANARY-op___Private_Context7_api_key_",
        "the op:// reference is resolved at deploy"
    );
    let records: Vec<_> = std::fs::read_dir(machine.sandbox.state().join("kiln/records"))
        .expect("records")
        .collect();
    assert_eq!(records.len(), 1);

    // A second deploy writes nothing into the home; it may add to the record the stats of
    // files that had not settled when they were written (see `seen.rs`), so it runs past the
    // clock tick of those writes, and a third deploy writes nothing at all.
    let home = snapshot(&machine.sandbox.home());
    std::thread::sleep(std::time::Duration::from_millis(60));
    let output = machine.kiln(&["deploy", "personal", "claude-code"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output, &machine));
    assert_eq!(
        home,
        snapshot(&machine.sandbox.home()),
        "a second deploy changed files"
    );
    let before = (
        snapshot(&machine.sandbox.home()),
        snapshot(&machine.sandbox.state()),
    );
    let output = machine.kiln(&["deploy", "personal", "claude-code"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output, &machine));
    assert_eq!(
        before,
        (
            snapshot(&machine.sandbox.home()),
            snapshot(&machine.sandbox.state())
        ),
        "a third deploy changed files"
    );
    let check = machine.kiln(&["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check, &machine));
}

#[test]
fn a_file_kiln_did_not_write_is_a_conflict_until_adopted_backed_up_or_forced() {
    let machine = Machine::new();
    let rule = machine.home(".claude/rules/git-workflow.md");
    std::fs::create_dir_all(rule.parent().expect("dir")).expect("mkdir");
    std::fs::write(&rule, "my own rule\n").expect("write");
    let before = snapshot(&machine.sandbox.home());
    let output = machine.kiln(&["deploy", "personal", "claude-code"]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output, &machine));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("CONFLICT") && stderr.contains("git-workflow.md"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert_eq!(
        before,
        snapshot(&machine.sandbox.home()),
        "a conflicting deploy wrote files"
    );

    let output = machine.kiln(&["deploy", "personal", "claude-code", "--backup"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output, &machine));
    let backup = machine.home(".claude/rules/git-workflow.md.kiln-backup");
    assert_eq!(
        std::fs::read_to_string(&backup).expect("backup"),
        "my own rule\n"
    );
    assert_ne!(
        std::fs::read_to_string(&rule).expect("rule"),
        "my own rule\n"
    );
    // A second backup never overwrites the first.
    std::fs::write(&rule, "edited again\n").expect("write");
    let record_dir = machine.sandbox.state().join("kiln/records");
    std::fs::remove_dir_all(&record_dir).expect("forget ownership");
    let output = machine.kiln(&["deploy", "personal", "claude-code", "--backup"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output, &machine));
    assert_eq!(
        std::fs::read_to_string(&backup).expect("backup"),
        "my own rule\n"
    );
    assert_eq!(
        std::fs::read_to_string(machine.home(".claude/rules/git-workflow.md.kiln-backup.1"))
            .expect("second"),
        "edited again\n"
    );
}

#[test]
fn merges_keep_the_users_keys_and_comments_and_refuse_unparsable_files() {
    let machine = Machine::new();
    let user = r#"{
  "numStartups": 12,
  "mcpServers": {
    "mine": { "command": "my-server" }
  },
  "projects": { "/tmp/x": { "allowedTools": [] } }
}
"#;
    std::fs::write(machine.home(".claude.json"), user).expect("write");
    let output = machine.kiln(&["deploy", "personal", "claude-code"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output, &machine));
    let merged = std::fs::read_to_string(machine.home(".claude.json")).expect("read");
    let value: Value = serde_json::from_str(&merged).expect("json");
    assert_eq!(value["numStartups"], 12);
    assert_eq!(value["mcpServers"]["mine"]["command"], "my-server");
    assert!(value["mcpServers"]["memory"].is_object());
    assert!(
        merged.starts_with("{\n  \"numStartups\": 12,"),
        "user bytes moved:\n{merged}"
    );

    std::fs::write(machine.home(".claude.json"), "{ not json").expect("break");
    let output = machine.kiln(&["deploy", "personal", "claude-code"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output, &machine));
    assert!(String::from_utf8_lossy(&output.stderr).contains("does not parse"));
    assert_eq!(
        std::fs::read_to_string(machine.home(".claude.json")).expect("read"),
        "{ not json"
    );
}

#[test]
fn drift_is_reported_left_alone_and_forced_back() {
    let machine = Machine::new();
    assert_eq!(
        machine
            .kiln(&["deploy", "personal", "claude-code"])
            .status
            .code(),
        Some(0)
    );
    let rule = machine.home(".claude/rules/clean-code.md");
    std::fs::write(&rule, "edited by hand\n").expect("edit");
    let check = machine.kiln(&["check", "--json"]);
    assert_eq!(check.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&check.stdout).expect("json");
    assert_eq!(report["counts"]["modified"], 1, "{report}");
    // Drift left alone is never silent success: exit 4, the file named, the ways out given.
    let output = machine.kiln(&["deploy", "personal", "claude-code"]);
    let shown = text(&output, &machine);
    assert_eq!(output.status.code(), Some(4), "{shown}");
    assert!(
        shown.contains("drift, left alone")
            && shown.contains("clean-code.md")
            && shown.contains("kiln check --diff")
            && shown.contains("--force"),
        "{shown}"
    );
    assert_eq!(
        std::fs::read_to_string(&rule).expect("read"),
        "edited by hand\n"
    );
    // check --diff shows the edit against what kiln deployed.
    let diff = machine.kiln(&["check", "--diff"]);
    assert_eq!(diff.status.code(), Some(1));
    let shown = String::from_utf8_lossy(&diff.stdout);
    assert!(
        shown.contains("clean-code.md (kiln)") && shown.contains("+edited by hand"),
        "{shown}"
    );
    let output = machine.kiln(&["deploy", "personal", "claude-code", "--force"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output, &machine));
    assert_ne!(
        std::fs::read_to_string(&rule).expect("read"),
        "edited by hand\n"
    );
    assert_eq!(machine.kiln(&["check"]).status.code(), Some(0));
}

#[test]
fn pruning_removes_only_what_kiln_created() {
    let machine = Machine::new();
    assert_eq!(
        machine
            .kiln(&["deploy", "personal", "claude-code"])
            .status
            .code(),
        Some(0)
    );
    let skill = machine.home(".claude/skills/homebrew-formula/SKILL.md");
    assert!(skill.is_file());
    let mine = machine.home(".claude/skills/mine.md");
    std::fs::write(&mine, "user file\n").expect("write");
    let profile = machine
        .library
        .path()
        .join("profiles/personal.profile.json");
    let text_before = std::fs::read_to_string(&profile).expect("read");
    std::fs::write(&profile, text_before.replace("\"homebrew-formula\", ", "")).expect("edit");
    let output = machine.kiln(&["deploy", "personal", "claude-code"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output, &machine));
    assert!(!skill.exists(), "the deselected skill was not removed");
    assert!(
        !machine.home(".claude/skills/homebrew-formula").exists(),
        "its emptied folder stayed"
    );
    assert_eq!(std::fs::read_to_string(&mine).expect("read"), "user file\n");
}

#[test]
fn dry_run_writes_nothing_and_plans_what_a_real_run_does() {
    let machine = Machine::new();
    std::fs::create_dir_all(machine.home(".claude")).expect("mkdir");
    let before = (
        snapshot(&machine.sandbox.home()),
        snapshot(&machine.sandbox.state()),
    );
    let dry = machine.kiln(&[
        "deploy",
        "personal",
        "claude-code",
        "--dry-run",
        "--format",
        "json",
    ]);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry, &machine));
    assert_eq!(
        before,
        (
            snapshot(&machine.sandbox.home()),
            snapshot(&machine.sandbox.state())
        ),
        "--dry-run changed files"
    );
    let planned: Value = serde_json::from_slice(&dry.stdout).expect("json");
    let real = machine.kiln(&["deploy", "personal", "claude-code", "--format", "json"]);
    let applied: Value = serde_json::from_slice(&real.stdout).expect("json");
    let actions = |v: &Value| -> Vec<(String, String)> {
        v["plans"][0]["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .map(|s| {
                (
                    s["relative"].as_str().expect("path").to_string(),
                    s["action"].as_str().expect("action").to_string(),
                )
            })
            .collect()
    };
    assert_eq!(
        actions(&planned),
        actions(&applied),
        "dry run and real run planned different actions"
    );
}

#[cfg(unix)]
#[test]
fn a_project_whose_tool_folder_is_a_symlink_out_is_refused() {
    let machine = Machine::new();
    let project = tempfile::tempdir().expect("project");
    let outside = tempfile::tempdir().expect("outside");
    std::os::unix::fs::symlink(outside.path(), project.path().join(".claude")).expect("symlink");
    // A profile that builds claude-code for projects only, so rules and skills go under .claude/.
    machine.library.file(
        "profiles/team.profile.json",
        r#"{ "name": "team", "extends": ["work"], "tools": { "claude-code": { "scope": "project" } } }"#,
    );
    let before = snapshot(outside.path());
    let output = machine.kiln(&[
        "deploy",
        "team",
        "claude-code",
        "--project",
        &project.path().display().to_string(),
    ]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output, &machine));
    assert!(String::from_utf8_lossy(&output.stderr).contains("REFUSED"));
    assert_eq!(
        before,
        snapshot(outside.path()),
        "bytes were written through the symlink"
    );
}

#[test]
fn claude_config_dir_relocates_claude_codes_global_files() {
    let machine = Machine::new();
    let relocated = tempfile::tempdir().expect("dir");
    let output = machine
        .library
        .kiln()
        .env("HOME", machine.sandbox.home())
        .env("XDG_STATE_HOME", machine.sandbox.state())
        .env("CLAUDE_CONFIG_DIR", relocated.path())
        .args(["deploy", "personal", "claude-code"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output, &machine));
    assert!(relocated.path().join("rules/git-workflow.md").is_file());
    let check = machine
        .library
        .kiln()
        .env("HOME", machine.sandbox.home())
        .env("XDG_STATE_HOME", machine.sandbox.state())
        .arg("check")
        .output()
        .expect("run");
    assert_eq!(
        check.status.code(),
        Some(0),
        "check follows relocated files: {}",
        text(&check, &machine)
    );
    assert!(relocated.path().join(".claude.json").is_file());
    assert!(!machine.home(".claude").exists());
}

/// Every file's text under `dir`, for canary searches.
fn all_text(dir: &Path) -> String {
    entries(dir)
        .iter()
        .filter(|path| path.is_file())
        .filter_map(|path| std::fs::read(path).ok())
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .collect()
}

#[cfg(unix)]
#[test]
fn secrets_are_resolved_at_deploy_and_never_leak() {
    let machine = Machine::new();
    let output = machine.kiln(&["deploy", "personal", "claude-code", "--format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output, &machine));
    let canary = "CANARY-op___Private_Context7_api_key_";
    let config = machine.home(".claude.json");
    assert!(
        std::fs::read_to_string(&config)
            .expect("read")
            .contains(canary)
    );
    assert_eq!(
        mode(&std::fs::metadata(&config).expect("stat")) & 0o777,
        0o600,
        "a file holding a secret is 0600"
    );
    for (place, haystack) in [
        (
            "stdout",
            String::from_utf8_lossy(&output.stdout).into_owned(),
        ),
        (
            "stderr",
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ),
        ("dist", all_text(&machine.library.path().join("dist"))),
        ("state", all_text(&machine.sandbox.state())),
    ] {
        assert!(
            !haystack.contains("CANARY"),
            "the secret leaked into {place}"
        );
    }
    assert!(
        all_text(&machine.library.path().join("dist")).contains("op://Private/Context7/api-key"),
        "dist keeps the reference"
    );
    // Idempotent with the secret in place; a dry run shows no value either. (A deploy past
    // the clock tick of the first one's writes records their stats first.)
    std::thread::sleep(std::time::Duration::from_millis(60));
    let settle = machine.kiln(&["deploy", "personal", "claude-code"]);
    assert_eq!(settle.status.code(), Some(0), "{}", text(&settle, &machine));
    let before = (
        snapshot(&machine.sandbox.home()),
        snapshot(&machine.sandbox.state()),
    );
    let again = machine.kiln(&[
        "deploy",
        "personal",
        "claude-code",
        "--dry-run",
        "--format",
        "json",
    ]);
    assert!(!String::from_utf8_lossy(&again.stdout).contains("CANARY"));
    let again = machine.kiln(&["deploy", "personal", "claude-code"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again, &machine));
    assert_eq!(
        before,
        (
            snapshot(&machine.sandbox.home()),
            snapshot(&machine.sandbox.state())
        ),
        "a second deploy rewrote files"
    );
    assert_eq!(machine.kiln(&["check"]).status.code(), Some(0));
}

#[cfg(unix)]
#[test]
fn a_secret_that_cannot_be_resolved_aborts_before_any_write() {
    let machine = Machine::new();
    machine
        .library
        .file("fake-op", "#!/bin/sh\necho 'not signed in' >&2\nexit 1\n");
    make_executable(&machine.library.path().join("fake-op"));
    let before = snapshot(&machine.sandbox.home());
    let output = machine.kiln(&["deploy", "personal", "claude-code"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output, &machine));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("could not resolve `op://Private/Context7/api-key`")
            && stderr.contains("not signed in"),
        "{stderr}"
    );
    assert_eq!(
        before,
        snapshot(&machine.sandbox.home()),
        "files were written before the secret failed"
    );
}

#[test]
fn hostile_paths_in_a_tampered_manifest_are_refused_and_nothing_escapes() {
    let machine = Machine::new();
    assert_eq!(
        machine
            .kiln(&["build", "personal", "claude-code"])
            .status
            .code(),
        Some(0)
    );
    let sentinel = tempfile::tempdir().expect("sentinel");
    std::fs::write(sentinel.path().join("keep.txt"), "untouched\n").expect("write");
    let outside = sentinel
        .path()
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let manifest_path = machine
        .library
        .path()
        .join("dist/claude-code/personal.manifest.json");
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).expect("read")).expect("json");
    let template = manifest["files"]["global/.claude/rules/git-workflow.md"].clone();
    let hostile = [
        format!("global/../{outside}/pwned"),
        format!("global/../../{outside}/pwned"),
        "global//etc/passwd".to_string(),
        "global/.claude/../../x".to_string(),
        "global/CON".to_string(),
        "global/a\u{0}b".to_string(),
        "global/name.".to_string(),
    ];
    for path in &hostile {
        manifest["files"][path] = template.clone();
    }
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).expect("json")).expect("tamper");
    // Deploy without rebuilding: the tampered manifest is what deploy reads.
    std::fs::remove_dir_all(machine.library.path().join("dist/.cache")).ok();
    let before = (snapshot(sentinel.path()), snapshot(&machine.sandbox.home()));
    let output = machine
        .library
        .kiln()
        .env("HOME", machine.sandbox.home())
        .env("XDG_STATE_HOME", machine.sandbox.state())
        .args([
            "deploy",
            "personal",
            "claude-code",
            "--no-build",
            "--format",
            "json",
        ])
        .output()
        .expect("run");
    // --no-build deploys the tampered manifest as it is: every hostile path is refused and
    // nothing is written.
    assert_eq!(output.status.code(), Some(3), "{}", text(&output, &machine));
    let report: Value = serde_json::from_slice(&output.stdout).expect("json");
    let refused = report["plans"][0]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["action"] == "refused")
        .count();
    println!(
        "hostile manifest paths refused: {refused} of {}",
        hostile.len()
    );
    assert_eq!(refused, hostile.len());
    assert_eq!(
        before.1,
        snapshot(&machine.sandbox.home()),
        "a refused deploy wrote files"
    );
    assert_eq!(
        before.0,
        snapshot(sentinel.path()),
        "bytes were written outside the root"
    );
}

#[test]
fn concurrent_deploys_serialise_and_leave_consistent_state() {
    let machine = Machine::new();
    for profile in ["personal", "work"] {
        let build = machine.kiln(&["build", profile, "claude-code"]);
        assert_eq!(build.status.code(), Some(0), "{}", text(&build, &machine));
    }
    let rounds: usize = std::env::var("KILN_CONCURRENCY_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let threads = 4;
    let machine = &machine;
    let config = machine.home(".claude.json");
    std::fs::write(&config, "{}\n").expect("seed");
    let done = std::sync::atomic::AtomicBool::new(false);
    let foreign_writes = std::thread::scope(|scope| {
        // Another program (Claude Code itself) adding its own keys to ~/.claude.json the
        // whole time, by atomic read-modify-write, as such programs do — a careful one that
        // checks the file is still what it read before renaming (a careless one can drop its
        // own change after reading kiln's in-between text: README, "what remains possible").
        let writer = scope.spawn(|| {
            let mut written = 0usize;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let text = std::fs::read_to_string(&config).unwrap_or_default();
                let Ok(mut value) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                value[format!("foreign{written}")] = Value::Bool(true);
                let temp = config.with_extension(format!("foreign-{written}"));
                std::fs::write(&temp, serde_json::to_vec_pretty(&value).expect("json"))
                    .expect("write");
                if std::fs::read_to_string(&config).unwrap_or_default() != text {
                    let _ = std::fs::remove_file(&temp);
                    continue;
                }
                std::fs::rename(&temp, &config).expect("rename");
                written += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            written
        });
        let deployers: Vec<_> = (0..threads)
            .map(|thread| {
                scope.spawn(move || {
                    let mut failures = Vec::new();
                    for round in 0..rounds {
                        // Two profiles of one tool, switching back and forth.
                        let profile = if (thread + round) % 2 == 0 {
                            "personal"
                        } else {
                            "work"
                        };
                        let output =
                            machine.kiln(&["deploy", profile, "claude-code", "--no-build"]);
                        let shown = text(&output, machine);
                        // Honest outcomes of racing another writer: kiln gave up after its
                        // compare-and-swap attempts (nothing lost), or the other program
                        // overwrote kiln's keys from a stale copy (drift, left alone).
                        let raced = (output.status.code() == Some(1)
                            && shown.contains("kiln::deploy::contended"))
                            || (output.status.code() == Some(4)
                                && shown.contains("kiln's keys were edited"));
                        if output.status.code() != Some(0) && !raced {
                            failures.push(shown);
                        }
                    }
                    failures
                })
            })
            .collect();
        let failures: Vec<String> = deployers
            .into_iter()
            .flat_map(|d| d.join().unwrap_or_default())
            .collect();
        // The writer stops whatever happened, so a failure cannot hang the test.
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let written = writer.join().expect("writer");
        assert_eq!(failures, Vec::<String>::new(), "deploys failed");
        written
    });
    // Every foreign write survived kiln's merges.
    let claude: Value =
        serde_json::from_slice(&std::fs::read(&config).expect("read")).expect("json");
    let lost: Vec<usize> = (0..foreign_writes)
        .filter(|n| claude[format!("foreign{n}")] != Value::Bool(true))
        .collect();
    println!(
        "concurrent deploys: {threads} threads x {rounds} rounds over 2 profiles; {foreign_writes} foreign writes, {} lost",
        lost.len()
    );
    assert!(foreign_writes > 0);
    // Every swap hands back the file it displaced, and another program's change found there is
    // carried onto kiln's text: nothing is lost (README, "what remains possible").
    assert_eq!(lost, Vec::<usize>::new(), "foreign writes lost");
    // One record, parseable; every file synced; the shared file holds kiln's keys.
    let records: Vec<PathBuf> = std::fs::read_dir(machine.sandbox.state().join("kiln/records"))
        .expect("records")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(records.len(), 1, "{records:?}");
    let _: Value =
        serde_json::from_slice(&std::fs::read(&records[0]).expect("read")).expect("record parses");
    // Once the other writer is gone, one forced deploy settles kiln's keys and check is synced.
    // (Not before: a careful writer's check-then-rename can still land a copy read before
    // kiln's first merge, which every later deploy then reports as drift and leaves alone.)
    let settle = machine.kiln(&["deploy", "work", "claude-code", "--no-build", "--force"]);
    assert_eq!(settle.status.code(), Some(0), "{}", text(&settle, machine));
    assert_eq!(machine.kiln(&["check"]).status.code(), Some(0));
    let claude: Value =
        serde_json::from_slice(&std::fs::read(&config).expect("read")).expect("json");
    assert!(claude["mcpServers"].is_object(), "{claude}");
    let leftovers: Vec<String> = all_names(&machine.sandbox.home())
        .into_iter()
        .filter(|n| n.contains(".kiln-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files left behind: {leftovers:?}"
    );
}

fn all_names(dir: &Path) -> Vec<String> {
    entries(dir)
        .iter()
        .filter_map(|path| path.file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn check_manifest_compares_pairs_and_aliases_and_fixes_in_one_direction() {
    let dir = tempfile::tempdir().expect("dir");
    let root = dir.path();
    let write = |path: &str, text: &str| {
        let full = root.join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, text).expect("write");
    };
    write("source/skill/SKILL.md", "v2\n");
    write("source/skill/scripts/run.sh", "echo\n");
    write("source/skill/NOTES.md", "only in source\n");
    write("live/skill/SKILL.md", "v1\n");
    write("live/skill/local.log", "only live\n");
    write("source/a.md", "same\n");
    write("live/b.md", "same\n");
    write(
        "check.json",
        r#"{ "pairs": [ { "a": "source/skill", "b": "live/skill" } ],
             "aliases": { "source/a.md": "live/b.md" },
             "live_only": ["local.log"], "submodule_only": ["NOTES.md"], "fix_direction": "a_to_b" }"#,
    );
    let kiln = |args: &[&str]| {
        crate::support::kiln(root)
            .env("HOME", root)
            .args(args)
            .output()
            .expect("run")
    };
    let output = kiln(&["check", "--manifest", "check.json", "--json"]);
    assert_eq!(output.status.code(), Some(1), "{}", render(&output, root));
    let report: Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(report["counts"]["differs"], 1, "{report}");
    assert_eq!(report["counts"]["missing_b"], 1, "{report}");
    assert_eq!(report["counts"]["synced"], 1, "{report}");

    let before = snapshot(root);
    let dry = kiln(&["check", "--manifest", "check.json", "--fix", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&dry.stderr).contains("would copy"));
    assert_eq!(before, snapshot(root), "--fix --dry-run wrote files");

    let fixed = kiln(&["check", "--manifest", "check.json", "--fix"]);
    assert_eq!(fixed.status.code(), Some(0), "{}", render(&fixed, root));
    assert_eq!(
        std::fs::read_to_string(root.join("live/skill/SKILL.md")).expect("read"),
        "v2\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("source/skill/SKILL.md")).expect("read"),
        "v2\n",
        "the source is never changed in a_to_b"
    );
    assert!(
        root.join("live/skill/local.log").exists(),
        "nothing is deleted"
    );

    write(
        "bad.json",
        r#"{ "pairs": [ { "a": "x" } ], "fix_direction": "up" }"#,
    );
    let bad = kiln(&["check", "--manifest", "bad.json"]);
    assert_eq!(bad.status.code(), Some(2));
    let text = render(&bad, root);
    assert!(
        text.contains("missing required key `b`") && text.contains("bad.json:1:"),
        "{text}"
    );
}

#[test]
fn check_reports_a_stale_deploy_after_a_rebuild() {
    let machine = Machine::new();
    assert_eq!(
        machine
            .kiln(&["deploy", "personal", "claude-code"])
            .status
            .code(),
        Some(0)
    );
    let rule = machine
        .library
        .path()
        .join("components/rules/clean-code.rule.md");
    let text_before = std::fs::read_to_string(&rule).expect("read");
    std::fs::write(&rule, format!("{text_before}\n- One more line.\n")).expect("edit");
    assert_eq!(
        machine
            .kiln(&["build", "personal", "claude-code"])
            .status
            .code(),
        Some(0)
    );
    let check = machine.kiln(&["check", "--json"]);
    assert_eq!(check.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&check.stdout).expect("json");
    assert_eq!(report["counts"]["stale"], 1, "{report}");
    assert_eq!(
        machine
            .kiln(&["deploy", "personal", "claude-code"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(machine.kiln(&["check"]).status.code(), Some(0));
}

/// The symlink matrix (reliability.md §9.5): the deployed file, its parent or its grandparent is
/// a symlink pointing inside the root, outside it, nowhere, or at itself. Deploy, backup and
/// prune never write, move or delete a byte outside the root.
#[cfg(unix)]
#[test]
fn symlink_matrix_writes_nothing_outside_the_root() {
    use std::os::unix::fs::symlink;
    let positions = [".claude/rules/git-workflow.md", ".claude/rules", ".claude"];
    let kinds = ["inside", "outside", "dangling", "loop"];
    let mut cases = 0;
    for position in positions {
        for kind in kinds {
            for extra in [&[][..], &["--backup"][..]] {
                let machine = Machine::new();
                let outside = tempfile::tempdir().expect("outside");
                std::fs::write(outside.path().join("git-workflow.md"), "outside\n").expect("write");
                std::fs::create_dir_all(outside.path().join("rules")).expect("mkdir");
                std::fs::write(outside.path().join("rules/git-workflow.md"), "outside\n")
                    .expect("write");
                let inside = machine.home("elsewhere");
                std::fs::create_dir_all(inside.join("rules")).expect("mkdir");
                let link = machine.home(position);
                std::fs::create_dir_all(link.parent().expect("parent")).expect("mkdir");
                let target = match kind {
                    "inside" => inside.clone(),
                    "outside" => outside.path().to_path_buf(),
                    "dangling" => machine.home("nowhere/at/all"),
                    _ => link.clone(),
                };
                symlink(&target, &link).expect("symlink");
                let before = snapshot(outside.path());
                let mut args = vec!["deploy", "personal", "claude-code"];
                args.extend_from_slice(extra);
                let output = machine.kiln(&args);
                let code = output.status.code();
                assert!(
                    matches!(code, Some(0 | 1 | 3)),
                    "{position} → {kind}: {}",
                    text(&output, &machine)
                );
                assert_eq!(
                    before,
                    snapshot(outside.path()),
                    "{position} → {kind} {extra:?}: bytes changed outside the root"
                );
                cases += 1;
            }
        }
    }
    // Prune through a parent that became a symlink out of the root.
    let machine = Machine::new();
    assert_eq!(
        machine
            .kiln(&["deploy", "personal", "claude-code"])
            .status
            .code(),
        Some(0)
    );
    let outside = tempfile::tempdir().expect("outside");
    std::fs::create_dir_all(outside.path().join("scripts")).expect("mkdir");
    std::fs::write(outside.path().join("SKILL.md"), "outside\n").expect("write");
    std::fs::write(outside.path().join("scripts/check-formula.sh"), "outside\n").expect("write");
    let skill = machine.home(".claude/skills/homebrew-formula");
    std::fs::remove_dir_all(&skill).expect("remove");
    symlink(outside.path(), &skill).expect("symlink");
    let profile = machine
        .library
        .path()
        .join("profiles/personal.profile.json");
    let original = std::fs::read_to_string(&profile).expect("read");
    std::fs::write(&profile, original.replace("\"homebrew-formula\", ", "")).expect("edit");
    let before = snapshot(outside.path());
    let output = machine.kiln(&["deploy", "personal", "claude-code"]);
    assert!(
        matches!(output.status.code(), Some(0 | 3)),
        "{}",
        text(&output, &machine)
    );
    assert_eq!(
        before,
        snapshot(outside.path()),
        "prune deleted through a symlink"
    );
    println!(
        "symlink matrix: {} cases, 0 bytes outside the root",
        cases + 1
    );
}

#[test]
fn hostile_paths_in_a_tampered_record_are_never_acted_on() {
    let machine = Machine::new();
    assert_eq!(
        machine
            .kiln(&["deploy", "personal", "claude-code"])
            .status
            .code(),
        Some(0)
    );
    let sentinel = tempfile::tempdir().expect("sentinel");
    std::fs::write(sentinel.path().join("victim.txt"), "keep me\n").expect("write");
    let outside = sentinel
        .path()
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let dir = machine.sandbox.state().join("kiln/records");
    let record_path = std::fs::read_dir(&dir)
        .expect("records")
        .next()
        .expect("one")
        .expect("entry")
        .path();
    let mut record: Value =
        serde_json::from_slice(&std::fs::read(&record_path).expect("read")).expect("json");
    let template = record["files"][".claude/rules/git-workflow.md"].clone();
    let victim_hash = format!("blake3:{}", blake3::hash(b"keep me\n").to_hex());
    for path in [
        format!("../{outside}/victim.txt"),
        "/etc/hostname".to_string(),
        format!("a/../../{outside}/victim.txt"),
    ] {
        let mut entry = template.clone();
        entry["hash"] = Value::String(victim_hash.clone());
        entry["created"] = Value::Bool(true);
        record["files"][path] = entry;
    }
    std::fs::write(&record_path, serde_json::to_vec(&record).expect("json")).expect("tamper");
    let before = snapshot(sentinel.path());
    let bashrc = machine.home(".bashrc");
    std::fs::write(&bashrc, "my shell\n").expect("user file");
    // An ownership claim on a user's file inside the home, which a prune would delete.
    let mut claim = template.clone();
    claim["hash"] = Value::String(format!("blake3:{}", blake3::hash(b"my shell\n").to_hex()));
    claim["created"] = Value::Bool(true);
    record["files"][".bashrc"] = claim;
    std::fs::write(&record_path, serde_json::to_vec(&record).expect("json")).expect("tamper");
    let mut refused = 0;
    for args in [
        &["deploy", "personal", "claude-code"][..],
        &["check", "--fix"][..],
        &["undeploy", "claude-code"][..],
    ] {
        let output = machine.kiln(args);
        let shown = text(&output, &machine);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {shown}");
        assert!(shown.contains("changed outside kiln"), "{args:?}: {shown}");
        refused += 1;
    }
    println!("commands that refused a tampered record: {refused}");
    assert_eq!(
        before,
        snapshot(sentinel.path()),
        "a tampered record made kiln touch a file outside the root"
    );
    assert_eq!(
        std::fs::read_to_string(&bashrc).expect("kept"),
        "my shell\n"
    );
}

#[test]
fn a_project_record_whose_root_was_changed_is_never_acted_on() {
    let machine = Machine::new();
    let project = tempfile::tempdir().expect("project");
    let project_dir = project.path().display().to_string();
    let output = machine.kiln(&[
        "deploy",
        "personal",
        "claude-code",
        "--project",
        &project_dir,
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output, &machine));
    // Point the record at another folder and make a file look drifted there.
    let victim = tempfile::tempdir().expect("victim");
    let dir = machine.sandbox.state().join("kiln/records");
    let record_path = std::fs::read_dir(&dir)
        .expect("records")
        .map(|e| e.expect("entry").path())
        .find(|p| p.to_string_lossy().contains("--project--"))
        .expect("the project record");
    let mut record: Value =
        serde_json::from_slice(&std::fs::read(&record_path).expect("read")).expect("json");
    record["root"] = Value::String(victim.path().display().to_string());
    std::fs::write(&record_path, serde_json::to_vec(&record).expect("json")).expect("tamper");
    let fix = machine.kiln(&["check", "--fix"]);
    let shown = text(&fix, &machine);
    assert_eq!(fix.status.code(), Some(1), "{shown}");
    assert!(shown.contains("changed outside kiln"), "{shown}");
    assert!(
        entries(victim.path()).is_empty(),
        "check --fix wrote into the folder a tampered record named"
    );
}

#[cfg(unix)]
#[test]
fn symlink_mode_links_read_only_files_and_copies_shared_ones() {
    let machine = Machine::new();
    let output = machine.kiln(&["deploy", "personal", "claude-code", "--mode", "symlink"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output, &machine));
    let rule = machine.home(".claude/rules/git-workflow.md");
    let target = std::fs::read_link(&rule).expect("a rule is a symlink");
    assert!(
        target.starts_with(machine.sandbox.state()),
        "links point into kiln's rendered store, not dist"
    );
    assert!(
        std::fs::read_to_string(&rule)
            .expect("read through")
            .contains("Git Workflow")
    );
    let settings = std::fs::symlink_metadata(machine.home(".claude.json")).expect("stat");
    assert!(
        settings.is_file(),
        "a file the tool rewrites is always copied"
    );
    // Rebuilding dist does not move the link target.
    std::fs::remove_dir_all(machine.library.path().join("dist")).expect("clean dist");
    assert!(
        std::fs::read_to_string(&rule).is_ok(),
        "the link target lives outside dist"
    );
    // Idempotent.
    let before = (
        snapshot(&machine.sandbox.home()),
        snapshot(&machine.sandbox.state()),
    );
    assert_eq!(
        machine
            .kiln(&["deploy", "personal", "claude-code", "--mode", "symlink"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        before,
        (
            snapshot(&machine.sandbox.home()),
            snapshot(&machine.sandbox.state())
        )
    );
    assert_eq!(machine.kiln(&["check"]).status.code(), Some(0));
    // The common breakage: a tool replaces the symlink with a regular file.
    std::fs::remove_file(&rule).expect("unlink");
    std::fs::write(&rule, "rewritten by a tool\n").expect("write");
    let check = machine.kiln(&["check", "--json"]);
    assert_eq!(check.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&check.stdout).expect("json");
    let broken = report["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["state"] != "synced")
        .expect("one");
    assert_eq!(
        broken["detail"], "type changed: symlink replaced by a regular file",
        "{report}"
    );
    let output = machine.kiln(&["deploy", "personal", "claude-code", "--mode", "symlink"]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("symlink replaced by a regular file"));
    assert_eq!(
        std::fs::read_to_string(&rule).expect("left alone"),
        "rewritten by a tool\n"
    );
    let output = machine.kiln(&[
        "deploy",
        "personal",
        "claude-code",
        "--mode",
        "symlink",
        "--force",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output, &machine));
    assert!(
        std::fs::read_link(&rule).is_ok(),
        "--force restores the symlink"
    );
}

#[test]
fn check_fix_puts_back_what_kiln_deployed_and_keeps_the_users_keys() {
    let machine = Machine::new();
    let output = machine.kiln(&["deploy", "personal", "claude-code"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output, &machine));
    let edited = machine.home(".claude/rules/clean-code.md");
    let deleted = machine.home(".claude/rules/git-workflow.md");
    let original = std::fs::read_to_string(&edited).expect("read");
    let original_deleted = std::fs::read_to_string(&deleted).expect("read");
    std::fs::write(&edited, "edited by hand\n").expect("edit");
    std::fs::remove_file(&deleted).expect("delete");
    // In the shared file: the user adds a key and removes one of kiln's servers.
    let settings = machine.home(".claude.json");
    let mut value: Value =
        serde_json::from_str(&std::fs::read_to_string(&settings).expect("read")).expect("json");
    value["numStartups"] = 3.into();
    let removed = value["mcpServers"]
        .as_object_mut()
        .expect("servers")
        .remove("memory");
    assert!(removed.is_some(), "{value}");
    std::fs::write(
        &settings,
        serde_json::to_string_pretty(&value).expect("ser"),
    )
    .expect("write");

    let before = snapshot(&machine.sandbox.home());
    let dry = machine.kiln(&["check", "--fix", "--dry-run", "--json"]);
    assert_eq!(dry.status.code(), Some(1), "{}", text(&dry, &machine));
    let report: Value = serde_json::from_slice(&dry.stdout).expect("json");
    assert_eq!(
        report["repairs"].as_array().expect("repairs").len(),
        3,
        "{report}"
    );
    assert_eq!(before, snapshot(&machine.sandbox.home()), "--dry-run wrote");

    let fixed = machine.kiln(&["check", "--fix"]);
    assert_eq!(fixed.status.code(), Some(0), "{}", text(&fixed, &machine));
    assert!(text(&fixed, &machine).contains("restored"));
    assert_eq!(std::fs::read_to_string(&edited).expect("read"), original);
    assert_eq!(
        std::fs::read_to_string(&deleted).expect("read"),
        original_deleted
    );
    let value: Value =
        serde_json::from_str(&std::fs::read_to_string(&settings).expect("read")).expect("json");
    assert_eq!(value["numStartups"], 3, "the user's key is kept");
    assert!(
        value["mcpServers"]["memory"].is_object(),
        "kiln's key is back"
    );
    // The shared file holds a secret: --fix resolved it again, and never printed it.
    let secret = value["mcpServers"]["context7"]["env"]["CONTEXT7_API_KEY"]
        .as_str()
        .expect("secret");
    assert!(secret.starts_with("CANARY-"), "{value}");
    assert!(!text(&fixed, &machine).contains("CANARY"));
    assert_eq!(machine.kiln(&["check"]).status.code(), Some(0));
    // A second fix has nothing to do and writes nothing.
    let before = snapshot(&machine.sandbox.home());
    assert_eq!(machine.kiln(&["check", "--fix"]).status.code(), Some(0));
    assert_eq!(before, snapshot(&machine.sandbox.home()));
    // When the secret cannot be resolved, the shared file is reported and left as it is.
    machine.library.file(
        ".no-user-config/kiln/config.toml",
        "[secrets]\nop_command = \"/nonexistent/op\"\n",
    );
    std::fs::write(&settings, "{}\n").expect("empty the shared file");
    let failed = machine.kiln(&["check", "--fix"]);
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed, &machine));
    let message = text(&failed, &machine);
    assert!(
        message.contains("not restored") && message.contains("holds a secret"),
        "{message}"
    );
    assert_eq!(std::fs::read_to_string(&settings).expect("read"), "{}\n");
}

#[test]
fn check_fix_relinks_a_symlink_a_tool_replaced() {
    let machine = Machine::new();
    let output = machine.kiln(&["deploy", "personal", "claude-code", "--mode", "symlink"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output, &machine));
    let rule = machine.home(".claude/rules/git-workflow.md");
    let target = std::fs::read_link(&rule).expect("link");
    std::fs::remove_file(&rule).expect("unlink");
    std::fs::write(&rule, "rewritten by a tool\n").expect("write");
    let fixed = machine.kiln(&["check", "--fix"]);
    assert_eq!(fixed.status.code(), Some(0), "{}", text(&fixed, &machine));
    assert_eq!(std::fs::read_link(&rule).expect("a symlink again"), target);
}

#[test]
fn status_lists_each_deployment_with_its_state_and_undeployed_builds() {
    let machine = Machine::new();
    let empty = machine.kiln(&["status"]);
    assert_eq!(empty.status.code(), Some(0), "{}", text(&empty, &machine));
    assert!(text(&empty, &machine).contains("nothing deployed"));
    let output = machine.kiln(&["deploy", "personal", "claude-code"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output, &machine));
    // Another build sits in dist/ without being deployed.
    let build = machine.kiln(&["build", "personal", "codex"]);
    assert_eq!(build.status.code(), Some(0), "{}", text(&build, &machine));
    let status = |machine: &Machine| -> Value {
        let output = machine.kiln(&["status", "--format", "json"]);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output, machine));
        serde_json::from_slice(&output.stdout).expect("json")
    };
    let report = status(&machine);
    let deployments = report["deployments"].as_array().expect("deployments");
    assert_eq!(deployments.len(), 1, "{report}");
    assert_eq!(deployments[0]["tool"], "claude-code");
    assert_eq!(deployments[0]["state"], "synced");
    assert_eq!(deployments[0]["mode"], "copy");
    assert_eq!(
        deployments[0]["files"], deployments[0]["counts"]["synced"],
        "{report}"
    );
    assert_eq!(report["undeployed"], serde_json::json!(["codex/personal"]));

    std::fs::remove_file(machine.home(".claude/rules/clean-code.md")).expect("delete");
    let report = status(&machine);
    assert_eq!(report["deployments"][0]["state"], "drift", "{report}");
    assert_eq!(report["deployments"][0]["counts"]["missing"], 1, "{report}");
    let human = machine.kiln(&["status"]);
    let human = text(&human, &machine);
    assert!(
        human.contains("drift   claude-code/personal (global, copy)"),
        "{human}"
    );
    assert!(human.contains("1 missing"), "{human}");
    assert!(human.contains("kiln check --fix"), "{human}");
}

#[test]
fn every_built_in_tool_deploys_globally_and_into_a_project_then_stays_synced() {
    let machine = Machine::new();
    let project = tempfile::tempdir().expect("project");
    let project_dir = project.path().display().to_string();
    let mut tools: Vec<String> = std::fs::read_dir(repo_root().join("tools"))
        .expect("tools")
        .flatten()
        .filter(|e| e.path().join("tool.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    tools.sort();
    assert!(tools.len() >= 11, "{tools:?}");
    for tool in &tools {
        for extra in [&[][..], &["--project", project_dir.as_str()][..]] {
            let mut args = vec!["deploy", "personal", tool.as_str()];
            args.extend_from_slice(extra);
            let output = machine.kiln(&args);
            assert_eq!(
                output.status.code(),
                Some(0),
                "{args:?}: {}",
                text(&output, &machine)
            );
        }
    }
    let before = (snapshot(&machine.sandbox.home()), snapshot(project.path()));
    assert!(!before.0.is_empty() && !before.1.is_empty());
    for tool in &tools {
        for extra in [&[][..], &["--project", project_dir.as_str()][..]] {
            let mut args = vec!["deploy", "personal", tool.as_str()];
            args.extend_from_slice(extra);
            assert_eq!(machine.kiln(&args).status.code(), Some(0), "{args:?}");
        }
    }
    assert_eq!(
        before,
        (snapshot(&machine.sandbox.home()), snapshot(project.path())),
        "a second deploy of every tool wrote something"
    );
    let check = machine.kiln(&["check", "--json"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check, &machine));
    let report: Value = serde_json::from_slice(&check.stdout).expect("json");
    eprintln!(
        "deployed {} tools × 2 scopes: {} files synced",
        tools.len(),
        report["counts"]["synced"]
    );
}

fn record_files(machine: &Machine) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(machine.sandbox.state().join("kiln/records"))
        .expect("records")
        .map(|entry| entry.expect("entry").path())
        .collect();
    files.sort();
    files
}

#[test]
fn a_profile_switch_takes_over_what_the_last_profile_deployed() {
    let machine = Machine::new();
    let deploy = |profile: &str| {
        let output = machine.kiln(&["deploy", profile, "claude-code"]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "deploy {profile}: {}",
            text(&output, &machine)
        );
    };
    let synced = || {
        let check = machine.kiln(&["check", "--json"]);
        let report: Value = serde_json::from_slice(&check.stdout).expect("check --json");
        assert_eq!(report["synced"], true, "{report}");
        report
    };
    deploy("personal");
    let personal_only = machine.home(".claude/skills/homebrew-formula/SKILL.md");
    assert!(personal_only.is_file());
    std::fs::write(machine.home(".claude/skills/mine.md"), "mine\n").expect("user file");

    // B takes over A's files (no conflict on kiln's own files), prunes what only A selected,
    // keeps the user's file, and leaves one record: B's.
    deploy("work");
    assert!(
        !personal_only.exists(),
        "a file only `personal` selects was left"
    );
    assert!(
        machine
            .home(".claude/skills/release-notes/SKILL.md")
            .is_file()
    );
    assert!(machine.home(".claude/skills/mine.md").is_file());
    let records = record_files(&machine);
    assert_eq!(records.len(), 1, "{records:?}");
    let record: Value =
        serde_json::from_slice(&std::fs::read(&records[0]).expect("read")).expect("json");
    assert_eq!(record["profile"], "work");
    let report = synced();
    let files = report["files"].as_array().expect("files");
    assert!(
        !files.is_empty() && files.iter().all(|f| f["profile"] == "work"),
        "{report}"
    );

    // A record an older kiln wrote under a per-profile name is folded in and retired.
    let name = records[0]
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let legacy =
        records[0].with_file_name(name.replacen("claude-code--", "claude-code--work--", 1));
    std::fs::rename(&records[0], &legacy).expect("rename to the old naming");
    deploy("personal");
    assert!(personal_only.is_file());
    assert!(
        !machine
            .home(".claude/skills/release-notes/SKILL.md")
            .exists()
    );
    assert_eq!(record_files(&machine), vec![records[0].clone()]);
    synced();
}

#[test]
fn a_markdown_file_that_quotes_a_secret_reference_keeps_it_verbatim() {
    let machine = Machine::new();
    // Selected by `personal` (security-*), in the global rules and a project's CLAUDE.md.
    let quoted = "Read the key from \"op://Private/Context7/api-key\", never paste it.\n";
    for (name, scope) in [
        ("security-op-global", "global"),
        ("security-op-project", "project"),
    ] {
        machine.library.file(
            &format!("components/rules/{name}.rule.md"),
            &format!("---\ndescription: Quotes a reference\nscope: {scope}\n---\n\n{quoted}"),
        );
    }
    let project = tempfile::tempdir().expect("project");
    let project_dir = project.path().display().to_string();
    for extra in [&[][..], &["--project", project_dir.as_str()][..]] {
        let mut args = vec!["deploy", "personal", "claude-code"];
        args.extend_from_slice(extra);
        let output = machine.kiln(&args);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output, &machine));
    }
    let global_rule = std::fs::read_to_string(machine.home(".claude/rules/security-op-global.md"))
        .expect("global rule");
    let claude_md =
        std::fs::read_to_string(project.path().join(".claude/CLAUDE.md")).expect("CLAUDE.md");
    for (place, text) in [
        ("global rule", &global_rule),
        ("project CLAUDE.md", &claude_md),
    ] {
        assert!(text.contains(quoted.trim_end()), "{place}: {text}");
        assert!(
            !text.contains("CANARY"),
            "the secret was written into the {place}"
        );
    }
    // The MCP value that names the same reference is still resolved.
    let config = std::fs::read_to_string(machine.home(".claude.json")).expect("read");
    assert!(
        config.contains("CANARY-op___Private_Context7_api_key_"),
        "{config}"
    );
    assert_eq!(machine.kiln(&["check"]).status.code(), Some(0));
}

/// A home whose shared files are symlinks into a dotfiles repository, as users keep them.
#[cfg(unix)]
fn link_dotfiles(machine: &Machine, dotfiles: &Path) {
    std::fs::create_dir_all(dotfiles.join("claude")).expect("dotfiles");
    std::fs::write(dotfiles.join("claude.json"), "{\n  \"numStartups\": 3\n}\n").expect("seed");
    std::fs::write(
        dotfiles.join("claude/settings.json"),
        "{\n  \"theme\": \"dark\"\n}\n",
    )
    .expect("seed");
    std::fs::create_dir_all(machine.home(".claude")).expect("mkdir");
    std::os::unix::fs::symlink(dotfiles.join("claude.json"), machine.home(".claude.json"))
        .expect("link");
    std::os::unix::fs::symlink(
        dotfiles.join("claude/settings.json"),
        machine.home(".claude/settings.json"),
    )
    .expect("link");
}

#[cfg(unix)]
fn assert_links_kept(machine: &Machine, dotfiles: &Path, when: &str) {
    for (link, target) in [
        (".claude.json", "claude.json"),
        (".claude/settings.json", "claude/settings.json"),
    ] {
        let path = machine.home(link);
        let metadata = std::fs::symlink_metadata(&path).expect("stat");
        assert!(
            metadata.file_type().is_symlink(),
            "{when}: `{link}` is no longer a symlink"
        );
        assert_eq!(
            std::fs::read_link(&path).expect("read link"),
            dotfiles.join(target),
            "{when}"
        );
    }
}

#[cfg(unix)]
#[test]
fn symlinked_dotfiles_are_written_through_and_stay_links() {
    let machine = Machine::new();
    let dotfiles = machine.sandbox.home().join("dotfiles");
    link_dotfiles(&machine, &dotfiles);

    let output = machine.kiln(&["deploy", "personal", "claude-code"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output, &machine));
    assert_links_kept(&machine, &dotfiles, "after deploy");
    let claude: Value =
        serde_json::from_str(&std::fs::read_to_string(dotfiles.join("claude.json")).expect("read"))
            .expect("json");
    assert_eq!(claude["numStartups"], 3, "the user's key is kept");
    assert!(claude["mcpServers"]["memory"].is_object(), "{claude}");
    let settings: Value = serde_json::from_str(
        &std::fs::read_to_string(dotfiles.join("claude/settings.json")).expect("read"),
    )
    .expect("json");
    assert_eq!(settings["theme"], "dark");
    assert!(settings["hooks"].is_object(), "{settings}");

    // A second deploy writes nothing; check is synced.
    let before = snapshot(&machine.sandbox.home());
    let again = machine.kiln(&["deploy", "personal", "claude-code"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again, &machine));
    assert_eq!(
        before,
        snapshot(&machine.sandbox.home()),
        "a second deploy wrote"
    );
    let check = machine.kiln(&["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check, &machine));

    // Kiln's keys edited in the dotfiles copy: drift, and check --fix restores them through
    // the link without replacing it.
    let edited = std::fs::read_to_string(dotfiles.join("claude.json"))
        .expect("read")
        .replace("server-memory", "server-edited");
    std::fs::write(dotfiles.join("claude.json"), edited).expect("edit");
    let check = machine.kiln(&["check"]);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check, &machine));
    let fix = machine.kiln(&["check", "--fix"]);
    assert_eq!(fix.status.code(), Some(0), "{}", text(&fix, &machine));
    assert_links_kept(&machine, &dotfiles, "after check --fix");
    assert!(
        std::fs::read_to_string(dotfiles.join("claude.json"))
            .expect("read")
            .contains("server-memory")
    );
}

#[cfg(unix)]
#[test]
fn a_dotfiles_link_outside_the_home_needs_allow_roots() {
    let machine = Machine::new();
    let outside = tempfile::tempdir().expect("outside");
    link_dotfiles(&machine, outside.path());
    let before = std::fs::read(outside.path().join("claude.json")).expect("read");

    let output = machine.kiln(&["deploy", "personal", "claude-code"]);
    let shown = text(&output, &machine);
    assert_eq!(output.status.code(), Some(3), "{shown}");
    assert!(
        shown.contains("deploy.allow_roots") && shown.contains(".claude.json"),
        "{shown}"
    );
    assert_eq!(
        before,
        std::fs::read(outside.path().join("claude.json")).expect("read")
    );
    assert_links_kept(&machine, outside.path(), "after a refused deploy");

    // The machine configuration allows the folder: written through, links kept.
    let config = machine
        .library
        .path()
        .join(".no-user-config/kiln/config.toml");
    let mut text_config = std::fs::read_to_string(&config).expect("config");
    text_config.push_str(&format!(
        "\n[deploy]\nallow_roots = [{:?}]\n",
        outside.path().display().to_string()
    ));
    std::fs::write(&config, text_config).expect("write config");
    let output = machine.kiln(&["deploy", "personal", "claude-code"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output, &machine));
    assert_links_kept(&machine, outside.path(), "after deploy");
    assert!(
        std::fs::read_to_string(outside.path().join("claude.json"))
            .expect("read")
            .contains("mcpServers")
    );
    let check = machine.kiln(&["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check, &machine));
}

#[cfg(unix)]
#[test]
fn check_manifest_fix_writes_through_a_symlinked_copy() {
    let dir = tempfile::tempdir().expect("dir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("dotfiles")).expect("mkdir");
    std::fs::write(root.join("source.md"), "new\n").expect("write");
    std::fs::write(root.join("dotfiles/live.md"), "old\n").expect("write");
    std::os::unix::fs::symlink(root.join("dotfiles/live.md"), root.join("live.md")).expect("link");
    std::fs::write(
        root.join("check.json"),
        r#"{ "aliases": { "source.md": "live.md" }, "fix_direction": "a_to_b" }"#,
    )
    .expect("write");
    let output = crate::support::kiln(root)
        .env("HOME", root)
        .args(["check", "--manifest", "check.json", "--fix"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{}", render(&output, root));
    let link = std::fs::symlink_metadata(root.join("live.md")).expect("stat");
    assert!(
        link.file_type().is_symlink(),
        "--fix replaced the link with a file"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("dotfiles/live.md")).expect("read"),
        "new\n"
    );
}

/// Every entry under `dir`: file bytes, link targets, folders.
fn contents_of(dir: &Path) -> BTreeMap<String, String> {
    entries(dir)
        .into_iter()
        .map(|path| {
            let metadata = std::fs::symlink_metadata(&path).expect("stat");
            let what = if metadata.file_type().is_symlink() {
                format!(
                    "link {}",
                    std::fs::read_link(&path).expect("link").display()
                )
            } else if metadata.is_dir() {
                "dir".to_string()
            } else {
                format!(
                    "file {}",
                    String::from_utf8_lossy(&std::fs::read(&path).expect("read"))
                )
            };
            (path.display().to_string(), what)
        })
        .collect()
}

#[cfg(unix)]
#[test]
fn undeploy_gives_back_the_home_as_it_was_and_keeps_the_links() {
    let machine = Machine::new();
    let dotfiles = machine.sandbox.home().join("dotfiles");
    link_dotfiles(&machine, &dotfiles);
    std::fs::create_dir_all(machine.home(".claude/rules")).expect("mkdir");
    std::fs::write(machine.home(".claude/rules/mine.md"), "my rule\n").expect("user rule");
    let before = contents_of(&machine.sandbox.home());

    let deploy = machine.kiln(&["deploy", "personal", "claude-code"]);
    assert_eq!(deploy.status.code(), Some(0), "{}", text(&deploy, &machine));
    assert_ne!(before, contents_of(&machine.sandbox.home()));

    // A dry run lists what it would remove and writes nothing.
    let deployed = contents_of(&machine.sandbox.home());
    let dry = machine.kiln(&["undeploy", "claude-code", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry, &machine));
    assert!(text(&dry, &machine).contains("would undeploy claude-code/personal"));
    assert_eq!(
        deployed,
        contents_of(&machine.sandbox.home()),
        "--dry-run wrote"
    );

    // A file the user edited is left alone (exit 1, still recorded) until --force.
    let edited = machine.home(".claude/rules/git-workflow.md");
    std::fs::write(&edited, "edited by hand\n").expect("edit");
    let undeploy = machine.kiln(&["undeploy", "claude-code"]);
    let shown = text(&undeploy, &machine);
    assert_eq!(undeploy.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("left alone") && shown.contains("git-workflow.md"),
        "{shown}"
    );
    assert_eq!(
        std::fs::read_to_string(&edited).expect("kept"),
        "edited by hand\n"
    );
    assert_links_kept(&machine, &dotfiles, "after undeploy");
    let forced = machine.kiln(&["undeploy", "claude-code", "--force"]);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced, &machine));

    assert_eq!(
        before,
        contents_of(&machine.sandbox.home()),
        "undeploy did not give the home back byte for byte"
    );
    let records = std::fs::read_dir(machine.sandbox.state().join("kiln/records"))
        .expect("records")
        .count();
    assert_eq!(records, 0, "the record was not retired");
    let again = machine.kiln(&["undeploy", "--all"]);
    assert_eq!(again.status.code(), Some(0));
    assert!(text(&again, &machine).contains("nothing to undeploy"));
}

#[test]
fn undeploy_of_a_fresh_home_and_a_project_leaves_nothing_behind() {
    let machine = Machine::new();
    let project = tempfile::tempdir().expect("project");
    std::fs::write(project.path().join("README.md"), "mine\n").expect("project file");
    let project_dir = project.path().display().to_string();
    for extra in [&[][..], &["--project", project_dir.as_str()][..]] {
        let mut args = vec!["deploy", "personal", "--all-tools"];
        args.extend_from_slice(extra);
        let output = machine.kiln(&args);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output, &machine));
    }
    assert!(machine.home(".claude.json").is_file());
    let undeploy = machine.kiln(&["undeploy", "--all"]);
    assert_eq!(
        undeploy.status.code(),
        Some(0),
        "{}",
        text(&undeploy, &machine)
    );
    assert_eq!(
        entries(&machine.sandbox.home()),
        Vec::<PathBuf>::new(),
        "the home is not empty again"
    );
    // The project's deployment is still there until undeployed from the project.
    assert!(entries(project.path()).len() > 1);
    let undeploy = machine.kiln(&["undeploy", "--all", "--project", &project_dir]);
    assert_eq!(
        undeploy.status.code(),
        Some(0),
        "{}",
        text(&undeploy, &machine)
    );
    assert_eq!(
        entries(project.path()),
        vec![project.path().join("README.md")]
    );
    let status = machine.kiln(&["status", "--format", "json"]);
    let report: Value = serde_json::from_slice(&status.stdout).expect("json");
    assert_eq!(report["deployments"], serde_json::json!([]), "{report}");
}

#[test]
fn a_tool_the_machine_dropped_is_retired_until_undeployed() {
    let machine = Machine::new();
    for tool in ["claude-code", "codex"] {
        let output = machine.kiln(&["deploy", "personal", tool]);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output, &machine));
    }
    let config = machine
        .library
        .path()
        .join(".no-user-config/kiln/config.toml");
    let mut settings = std::fs::read_to_string(&config).expect("config");
    settings.insert_str(0, "profile = \"personal\"\n");
    std::fs::write(&config, &settings).expect("write");
    assert_eq!(
        machine.kiln(&["check"]).status.code(),
        Some(0),
        "both in use: synced"
    );

    // The machine now uses Claude Code only.
    settings.insert_str(0, "tools = [\"claude-code\"]\n");
    std::fs::write(&config, &settings).expect("write");
    let check = machine.kiln(&["check", "--json"]);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check, &machine));
    let report: Value = serde_json::from_slice(&check.stdout).expect("json");
    let files = report["files"].as_array().expect("files");
    let retired: Vec<&Value> = files.iter().filter(|f| f["tool"] == "codex").collect();
    assert!(!retired.is_empty());
    assert!(retired.iter().all(|f| f["state"] == "retired"), "{report}");
    assert!(
        files
            .iter()
            .filter(|f| f["tool"] == "claude-code")
            .all(|f| f["state"] == "synced"),
        "{report}"
    );
    let status = machine.kiln(&["status", "--format", "json"]);
    let status: Value = serde_json::from_slice(&status.stdout).expect("json");
    let states: Vec<(String, String)> = status["deployments"]
        .as_array()
        .expect("deployments")
        .iter()
        .map(|d| {
            (
                d["tool"].as_str().unwrap_or_default().into(),
                d["state"].as_str().unwrap_or_default().into(),
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![
            ("claude-code".to_string(), "synced".to_string()),
            ("codex".to_string(), "retired".to_string())
        ]
    );

    let undeploy = machine.kiln(&["undeploy", "codex"]);
    assert_eq!(
        undeploy.status.code(),
        Some(0),
        "{}",
        text(&undeploy, &machine)
    );
    assert!(!machine.home(".codex").exists());
    assert_eq!(
        machine.kiln(&["check"]).status.code(),
        Some(0),
        "retired tool undeployed"
    );
}

#[test]
fn check_fix_keeps_a_hand_edit_as_a_backup_and_never_restores_over_a_newer_dist() {
    let machine = Machine::new();
    let output = machine.kiln(&["deploy", "personal", "claude-code"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output, &machine));
    let rule = machine.home(".claude/rules/clean-code.md");
    let deployed = std::fs::read_to_string(&rule).expect("read");
    std::fs::write(&rule, "edited by hand\n").expect("edit");
    let fix = machine.kiln(&["check", "--fix"]);
    let shown = text(&fix, &machine);
    assert_eq!(fix.status.code(), Some(0), "{shown}");
    assert_eq!(std::fs::read_to_string(&rule).expect("read"), deployed);
    let backup = machine.home(".claude/rules/clean-code.md.kiln-backup");
    assert_eq!(
        std::fs::read_to_string(&backup).expect("the edit was discarded without a backup"),
        "edited by hand\n"
    );
    assert!(shown.contains("kiln-backup"), "{shown}");

    // Dist moves on (a rebuild after a library edit) and the file is edited again: --fix
    // says to deploy instead of writing bytes the record does not describe, on every run.
    let source = machine
        .library
        .path()
        .join("components/rules/clean-code.rule.md");
    let text_now = std::fs::read_to_string(&source).expect("read");
    std::fs::write(&source, format!("{text_now}\nOne more line.\n")).expect("edit library");
    let build = machine.kiln(&["build", "personal", "claude-code"]);
    assert_eq!(build.status.code(), Some(0), "{}", text(&build, &machine));
    std::fs::write(&rule, "edited again\n").expect("edit");
    for round in 0..2 {
        let fix = machine.kiln(&["check", "--fix"]);
        let shown = text(&fix, &machine);
        assert_eq!(fix.status.code(), Some(1), "round {round}: {shown}");
        assert!(
            shown.contains("run `kiln deploy`"),
            "round {round}: {shown}"
        );
        assert_eq!(
            std::fs::read_to_string(&rule).expect("read"),
            "edited again\n"
        );
    }
}

/// Replaces the fake 1Password CLI and caps how long kiln waits for it.
#[cfg(unix)]
fn fake_op(machine: &Machine, script: &str, timeout_seconds: u64) {
    machine.library.file("fake-op", script);
    make_executable(&machine.library.path().join("fake-op"));
    let config = machine
        .library
        .path()
        .join(".no-user-config/kiln/config.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(
        &config,
        text.replace(
            "[secrets]\n",
            &format!("[secrets]\nop_timeout_seconds = {timeout_seconds}\n"),
        ),
    )
    .expect("config");
}

#[cfg(unix)]
#[test]
fn a_secret_larger_than_a_pipe_buffer_resolves() {
    let machine = Machine::new();
    // 128 KiB: twice a Linux pipe's buffer, which deadlocked until the timeout before.
    fake_op(
        &machine,
        "#!/bin/sh\nhead -c 131072 /dev/zero | tr '\\0' 'A'\n",
        10,
    );
    let started = std::time::Instant::now();
    let output = machine.kiln(&["deploy", "personal", "claude-code"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output, &machine));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let config = std::fs::read_to_string(machine.home(".claude.json")).expect("read");
    assert!(
        config.contains(&"A".repeat(131_072)),
        "the whole value was not written"
    );
}

#[cfg(unix)]
#[test]
fn a_hung_op_and_what_it_started_are_stopped_at_the_timeout() {
    let machine = Machine::new();
    let pid_file = machine.library.path().join("child.pid");
    fake_op(
        &machine,
        &format!(
            "#!/bin/sh\nsleep 300 &\necho $! > {}\nwait\n",
            pid_file.display()
        ),
        1,
    );
    let before = snapshot(&machine.sandbox.home());
    let started = std::time::Instant::now();
    let output = machine.kiln(&["deploy", "personal", "claude-code"]);
    let shown = text(&output, &machine);
    assert_eq!(output.status.code(), Some(1), "{shown}");
    assert!(shown.contains("timed out after 1s"), "{shown}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{shown}"
    );
    assert_eq!(
        before,
        snapshot(&machine.sandbox.home()),
        "files were written"
    );
    let pid = std::fs::read_to_string(&pid_file).expect("the fake op started a child");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let alive = std::path::Path::new(&format!("/proc/{}", pid.trim())).exists()
        && !std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
            .unwrap_or_default()
            .contains(") Z");
    assert!(
        !alive,
        "the child of the hung op (pid {}) is still running",
        pid.trim()
    );
}

#[test]
fn a_reference_inside_a_value_resolves_in_place() {
    let machine = Machine::new();
    let github = machine
        .library
        .path()
        .join("components/mcp/github.mcp.json");
    let component = std::fs::read_to_string(&github).expect("read");
    std::fs::write(
        &github,
        component.replace("Bearer ${GITHUB_TOKEN}", "Bearer op://Private/GitHub/token"),
    )
    .expect("write");
    let validate = machine.kiln(&["validate"]);
    assert_eq!(
        validate.status.code(),
        Some(0),
        "{}",
        text(&validate, &machine)
    );
    let output = machine.kiln(&["deploy", "personal", "claude-code"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output, &machine));
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(machine.home(".claude.json")).expect("read"))
            .expect("json");
    assert_eq!(
        config["mcpServers"]["github"]["headers"]["Authorization"],
        "Bearer CANARY-op___Private_GitHub_token_",
        "{config}"
    );
    assert!(
        all_text(&machine.library.path().join("dist")).contains("Bearer op://Private/GitHub/token"),
        "dist keeps the reference"
    );
    assert_eq!(machine.kiln(&["check"]).status.code(), Some(0));
}

#[cfg(unix)]
#[test]
fn a_dry_run_needs_no_op_and_compares_files_holding_secrets_by_their_keyed_hash() {
    let machine = Machine::new();
    let output = machine.kiln(&["deploy", "personal", "claude-code"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output, &machine));
    // No 1Password CLI on this machine now (or not signed in): a dry run still plans.
    let config = machine
        .library
        .path()
        .join(".no-user-config/kiln/config.toml");
    std::fs::write(&config, "[secrets]\nop_command = \"/nonexistent/op\"\n").expect("config");
    let dry_actions = |machine: &Machine| {
        let output = machine.kiln(&[
            "deploy",
            "personal",
            "claude-code",
            "--dry-run",
            "--format",
            "json",
        ]);
        // 4: a drifted file would be left alone.
        assert!(
            matches!(output.status.code(), Some(0 | 4)),
            "{}",
            text(&output, machine)
        );
        let report: Value = serde_json::from_slice(&output.stdout).expect("json");
        let shared = report["plans"][0]["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .find(|s| s["relative"] == ".claude.json")
            .expect("the shared file is planned")["action"]
            .clone();
        let others: Vec<Value> = report["plans"][0]["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .filter(|s| s["relative"] != ".claude.json" && s["action"] != "keep")
            .cloned()
            .collect();
        (
            shared,
            others,
            report["unresolved_secrets"].clone(),
            text(&output, machine),
        )
    };
    let (shared, others, unresolved, shown) = dry_actions(&machine);
    assert_eq!(shared, "keep", "{shown}");
    assert_eq!(others, Vec::<Value>::new(), "{shown}");
    assert_eq!(
        unresolved,
        serde_json::json!(["op://Private/Context7/api-key"])
    );
    assert!(!shown.contains("CANARY"), "{shown}");
    // The user edits kiln's server in the shared file: the keyed hash no longer matches.
    let path = machine.home(".claude.json");
    let mut live: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    live["mcpServers"]["context7"]["env"]["CONTEXT7_API_KEY"] = Value::from("typed by hand");
    std::fs::write(&path, serde_json::to_vec_pretty(&live).expect("json")).expect("write");
    let (shared, _, _, shown) = dry_actions(&machine);
    assert_eq!(shared, "drift", "{shown}");
    assert!(shown.contains("kiln's keys were edited"), "{shown}");
}

#[cfg(unix)]
#[test]
fn an_empty_secret_is_a_warning() {
    let machine = Machine::new();
    fake_op(&machine, "#!/bin/sh\nexit 0\n", 10);
    let output = machine.kiln(&["deploy", "personal", "claude-code"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output, &machine));
    let shown = text(&output, &machine);
    assert!(
        shown.contains("warning: op://Private/Context7/api-key resolved to an empty value"),
        "{shown}"
    );
}

/// Deploys claude-code (personal) in copy and then in symlink mode. After each, the skill
/// github-actions-ci's `link` is the symlink with that text, `through` (a path read through it)
/// holds the bytes of the skill's `source` file, `also(mode)` holds, a second deploy does not
/// name the link and `check` finds no drift.
#[cfg(unix)]
fn deploy_keeps_the_skills_link_in_each_mode(
    machine: &Machine,
    (link, text_of_link): (&str, &str),
    (through, source): (&str, &str),
    also: impl Fn(&str),
) {
    let skill = machine
        .library
        .path()
        .join("components/skills/github-actions-ci");
    let live = machine.home(".claude/skills/github-actions-ci");
    for mode in ["copy", "symlink"] {
        let output = machine.kiln(&["deploy", "personal", "claude-code", "--mode", mode]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{mode}: {}",
            text(&output, machine)
        );
        assert_eq!(
            std::fs::read_link(live.join(link)).expect("a symlink"),
            Path::new(text_of_link),
            "{mode}"
        );
        assert_eq!(
            std::fs::read(live.join(through)).expect("read through the link"),
            std::fs::read(skill.join(source)).expect("source"),
        );
        also(mode);
        // A second deploy has nothing to do; check sees no drift.
        let again = machine.kiln(&["deploy", "personal", "claude-code", "--mode", mode]);
        assert!(
            !text(&again, machine).contains(link),
            "{mode}: {}",
            text(&again, machine)
        );
        assert_eq!(machine.kiln(&["check"]).status.code(), Some(0), "{mode}");
    }
}

#[test]
#[cfg(unix)]
fn a_skills_own_symlink_deploys_as_the_same_symlink_in_copy_and_symlink_mode() {
    let machine = Machine::new();
    let skill = machine
        .library
        .path()
        .join("components/skills/github-actions-ci");
    std::os::unix::fs::symlink("scripts/pin-action.sh", skill.join("changes")).expect("link");
    // A link that leaves the skill is read through: its content is copied.
    std::os::unix::fs::symlink("../homebrew-formula/SKILL.md", skill.join("ci.md")).expect("link");
    let live = machine.home(".claude/skills/github-actions-ci");
    deploy_keeps_the_skills_link_in_each_mode(
        &machine,
        ("changes", "scripts/pin-action.sh"),
        ("changes", "scripts/pin-action.sh"),
        |mode| {
            let copied = std::fs::symlink_metadata(live.join("ci.md")).expect("ci.md");
            assert!(copied.file_type().is_file() || mode == "symlink", "{mode}");
        },
    );
    // The link replaced by a file of the same bytes is drift, left alone.
    std::fs::remove_file(live.join("changes")).expect("unlink");
    std::fs::copy(skill.join("scripts/pin-action.sh"), live.join("changes")).expect("copy");
    let check = machine.kiln(&["check", "--json"]);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check, &machine));
    // --force puts the link back; undeploy removes it with the rest.
    let forced = machine.kiln(&["deploy", "personal", "claude-code", "--force"]);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced, &machine));
    assert!(
        std::fs::symlink_metadata(live.join("changes")).is_ok_and(|m| m.file_type().is_symlink())
    );
    let undeploy = machine.kiln(&["undeploy", "claude-code"]);
    assert_eq!(
        undeploy.status.code(),
        Some(0),
        "{}",
        text(&undeploy, &machine)
    );
    assert!(std::fs::symlink_metadata(live.join("changes")).is_err());
}

#[test]
#[cfg(unix)]
fn a_skills_folder_symlink_deploys_as_the_same_folder_symlink() {
    let machine = Machine::new();
    let skill = machine
        .library
        .path()
        .join("components/skills/github-actions-ci");
    // `tools -> scripts`: the folder's files ship once, and the link stays a link.
    std::os::unix::fs::symlink("scripts", skill.join("tools")).expect("link");
    // A second folder of the same files, for the link to be retargeted to below.
    copy_tree(&skill.join("scripts"), &skill.join("scripts-v2"));
    let live = machine.home(".claude/skills/github-actions-ci");
    deploy_keeps_the_skills_link_in_each_mode(
        &machine,
        ("tools", "scripts"),
        ("tools/pin-action.sh", "scripts/pin-action.sh"),
        |_| {},
    );
    // dist holds the link, not a second copy of the folder's files.
    let dist = machine
        .library
        .path()
        .join("dist/claude-code/personal/global/skills/github-actions-ci");
    assert!(!dist.join("tools/pin-action.sh").exists());
    // The link replaced by a real folder is drift, left alone; --force puts the link back.
    std::fs::remove_file(live.join("tools")).expect("unlink");
    std::fs::create_dir(live.join("tools")).expect("a folder instead");
    let check = machine.kiln(&["check", "--json"]);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check, &machine));
    std::fs::remove_dir(live.join("tools")).expect("rmdir");
    let forced = machine.kiln(&["deploy", "personal", "claude-code", "--force"]);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced, &machine));
    assert!(
        std::fs::symlink_metadata(live.join("tools")).is_ok_and(|m| m.file_type().is_symlink())
    );
    // Retargeted to another folder of the same files: only the link changes, and that is
    // rebuilt.
    std::fs::remove_file(skill.join("tools")).expect("unlink");
    std::os::unix::fs::symlink("scripts-v2", skill.join("tools")).expect("relink");
    let retargeted = machine.kiln(&["deploy", "personal", "claude-code"]);
    assert_eq!(
        retargeted.status.code(),
        Some(0),
        "{}",
        text(&retargeted, &machine)
    );
    assert_eq!(
        std::fs::read_link(live.join("tools")).expect("a symlink"),
        Path::new("scripts-v2")
    );
    // Other tools' skill folders keep it too.
    let codex = machine.kiln(&["deploy", "personal", "codex"]);
    assert_eq!(codex.status.code(), Some(0), "{}", text(&codex, &machine));
    assert_eq!(
        std::fs::read_link(machine.home(".agents/skills/github-actions-ci/tools")).expect("link"),
        Path::new("scripts-v2")
    );
    let undeploy = machine.kiln(&["undeploy", "claude-code"]);
    assert_eq!(
        undeploy.status.code(),
        Some(0),
        "{}",
        text(&undeploy, &machine)
    );
    assert!(std::fs::symlink_metadata(live.join("tools")).is_err());
    assert!(
        skill.join("tools/pin-action.sh").is_file(),
        "the library is untouched"
    );
}

/// Deploys claude-code (personal) with `--format json`; the total of the plans' `kept_by_stat`.
fn deploy_kept_by_stat(machine: &Machine) -> (u64, String) {
    let output = machine.kiln(&["deploy", "personal", "claude-code", "--format", "json"]);
    let shown = text(&output, machine);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    let kept = report["plans"]
        .as_array()
        .map(|plans| {
            plans
                .iter()
                .filter_map(|p| p["kept_by_stat"].as_u64())
                .sum()
        })
        .unwrap_or(0);
    (kept, format!("exit {:?}\n{shown}", output.status.code()))
}

#[test]
#[cfg(unix)]
fn a_no_op_deploy_trusts_settled_files_by_stat_and_still_sees_an_edit_that_keeps_size_and_mtime() {
    let machine = Machine::new();
    let first = machine.kiln(&["deploy", "personal", "claude-code"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first, &machine));
    // Past the clock tick the files were written in: their stat is settled.
    std::thread::sleep(std::time::Duration::from_millis(120));
    let (kept, shown) = deploy_kept_by_stat(&machine);
    // Recorded as written, or at the latest on this second look.
    let (kept_again, shown_again) = deploy_kept_by_stat(&machine);
    let record_dir = machine.sandbox.state().join("kiln/records");
    let record: Value = std::fs::read_dir(&record_dir)
        .expect("records")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| serde_json::from_slice(&std::fs::read(p).expect("read")).expect("json"))
        .expect("a record");
    let files = record["files"].as_object().expect("files");
    let plain = files.values().filter(|e| e.get("merge").is_none()).count();
    let seen = files.values().filter(|e| e.get("seen").is_some()).count();
    println!(
        "kept by stat: {kept} then {kept_again} of {plain} plain files; {seen} recorded with a stat"
    );
    assert!(
        kept_again as usize == plain && seen == plain,
        "{shown}\n{shown_again}"
    );
    assert!(
        files
            .values()
            .all(|e| e.get("merge").is_none() || e.get("seen").is_none())
    );
    // An edit in place of the same size with the modification time put back (an editor that
    // keeps mtimes, or an edit within the same clock tick): the change time still tells.
    let rule = machine.home(".claude/rules/commit-messages.md");
    let before = std::fs::metadata(&rule).expect("rule");
    let mut bytes = std::fs::read(&rule).expect("read");
    let last = bytes
        .iter()
        .rposition(|b| b.is_ascii_alphabetic())
        .expect("a letter");
    bytes[last] = if bytes[last] == b'x' { b'y' } else { b'x' };
    std::fs::write(&rule, &bytes).expect("edit in place");
    filetime::set_file_mtime(
        &rule,
        filetime::FileTime::from_last_modification_time(&before),
    )
    .expect("mtime back");
    assert_eq!(std::fs::metadata(&rule).expect("rule").len(), before.len());
    let (_, shown) = deploy_kept_by_stat(&machine);
    assert!(shown.contains("exit Some(4)"), "the edit is drift: {shown}");
    assert_eq!(
        std::fs::read(&rule).expect("read"),
        bytes,
        "the edit is kept"
    );
}

#[cfg(unix)]
#[test]
fn all_references_resolve_through_one_op_inject_and_each_alone_when_inject_is_refused() {
    let machine = Machine::new();
    // A second reference, inside a string.
    let github = machine
        .library
        .path()
        .join("components/mcp/github.mcp.json");
    let server = std::fs::read_to_string(&github).expect("github server");
    std::fs::write(
        &github,
        server.replace("Bearer ${GITHUB_TOKEN}", "Bearer op://Private/GitHub/token"),
    )
    .expect("write");
    let log = machine.library.path().join("op.log");
    let answer = r"s#op://([^/]*)/([^/]*)/([^ ]*)#VALUE-\1-\2-\3#";
    let script = |inject: &str| {
        format!(
            "#!/bin/sh\necho \"$1\" >> {log}\ncase \"$1\" in\n  inject) {inject} ;;\n  read) printf '%s' \"$3\" | sed -E '{answer}' ;;\n  *) exit 64 ;;\nesac\n",
            log = log.display()
        )
    };
    let values = |machine: &Machine| {
        let claude: Value =
            serde_json::from_slice(&std::fs::read(machine.home(".claude.json")).expect("read"))
                .expect("json");
        (
            claude["mcpServers"]["context7"]["env"]["CONTEXT7_API_KEY"].clone(),
            claude["mcpServers"]["github"]["headers"]["Authorization"].clone(),
        )
    };
    let wanted = (
        Value::from("VALUE-Private-Context7-api-key"),
        Value::from("Bearer VALUE-Private-GitHub-token"),
    );
    // An `op` with inject: one process for both references.
    fake_op(
        &machine,
        &script(&format!(
            "sed -E 's#\\{{\\{{ ([^}}]*) \\}}\\}}#\\1#g' | sed -E '{answer}'"
        )),
        10,
    );
    let output = machine.kiln(&["deploy", "personal", "claude-code"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output, &machine));
    assert_eq!(values(&machine), wanted);
    assert_eq!(std::fs::read_to_string(&log).expect("log"), "inject\n");
    // One that refuses inject (exit 64): each reference alone, the same values.
    std::fs::remove_file(&log).expect("rm log");
    std::fs::remove_file(machine.home(".claude.json")).expect("rm");
    machine.library.file("fake-op", &script("exit 64"));
    let output = machine.kiln(&["deploy", "personal", "claude-code", "--force"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output, &machine));
    assert_eq!(values(&machine), wanted);
    assert_eq!(
        std::fs::read_to_string(&log).expect("log"),
        "inject\nread\nread\n"
    );
}
