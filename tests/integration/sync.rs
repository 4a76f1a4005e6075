//! `kiln sync` end to end: a machine configuration naming the starter library's profile and
//! three tools, hand edits of deployed skills (kept, shown, promoted on request), edits of
//! compiled outputs (shown with the components to edit, never promoted), each comparator
//! outcome under the default and `--apply-promote` (mtimes set with `filetime`, no sleeps),
//! retired tools, a dirty git library, and the flags clap rejects.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{Sandbox, TempLibrary, copy_tree, make_executable, repo_root};

struct Machine {
    library: TempLibrary,
    sandbox: Sandbox,
}

const SKILL: &str = "components/skills/github-actions-ci";
const LIVE_SKILL: &str = ".claude/skills/github-actions-ci";

impl Machine {
    /// The starter library, a fake `op`, and a user configuration syncing `tools`.
    fn new(tools: &[&str]) -> Machine {
        let library = TempLibrary::new();
        let root = repo_root();
        std::fs::copy(root.join("kiln.toml"), library.path().join("kiln.toml")).expect("kiln.toml");
        for folder in ["components", "profiles"] {
            copy_tree(&root.join(folder), &library.path().join(folder));
        }
        library.file("fake-op", "#!/bin/sh\nprintf 'CANARY'\n");
        make_executable(&library.path().join("fake-op"));
        let machine = Machine {
            sandbox: library.sandbox(),
            library,
        };
        machine.configure(tools);
        for dir in [machine.sandbox.home(), machine.sandbox.state()] {
            std::fs::create_dir_all(dir).expect("sandbox folders");
        }
        machine
    }

    fn configure(&self, tools: &[&str]) {
        let list: Vec<String> = tools.iter().map(|t| format!("{t:?}")).collect();
        self.library.file(
            ".no-user-config/kiln/config.toml",
            &format!(
                "# my machine\nprofile = \"personal\"\ntools = [{}]\n\n[secrets]\nop_command = {:?}\n",
                list.join(", "),
                self.library.path().join("fake-op").display().to_string()
            ),
        );
    }

    fn sync(&self, args: &[&str]) -> (Option<i32>, Value, String) {
        let mut all = vec!["sync", "--format", "json"];
        all.extend(args);
        let output = self.library.kiln().args(&all).output().expect("run kiln");
        let report = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
        let text = crate::support::render(&output, self.library.path());
        (output.status.code(), report, text)
    }

    fn sync_text(&self, args: &[&str]) -> (Option<i32>, String) {
        let mut all = vec!["sync"];
        all.extend(args);
        let output = self.library.kiln().args(&all).output().expect("run kiln");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    fn home(&self, relative: &str) -> PathBuf {
        self.sandbox.home().join(relative)
    }

    fn source(&self, relative: &str) -> PathBuf {
        self.library.path().join(relative)
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn append(path: &Path, text: &str) {
    let mut current = read(path);
    current.push_str(text);
    std::fs::write(path, current).expect("edit");
}

/// Every entry of every target in a JSON report: (tool, relative path, comparison, action).
fn entries(report: &Value) -> Vec<(String, String, String, String)> {
    let mut out = Vec::new();
    for target in report["targets"].as_array().into_iter().flatten() {
        for entry in target["entries"].as_array().into_iter().flatten() {
            out.push((
                target["tool"].as_str().unwrap_or_default().to_string(),
                entry["relative"].as_str().unwrap_or_default().to_string(),
                entry["comparison"].as_str().unwrap_or_default().to_string(),
                entry["action"].as_str().unwrap_or_default().to_string(),
            ));
        }
    }
    out
}

fn comparison_of(report: &Value, relative: &str) -> Option<String> {
    entries(report)
        .into_iter()
        .find(|(tool, path, _, _)| tool == "claude-code" && path == relative)
        .map(|(_, _, comparison, _)| comparison)
}

#[test]
fn sync_deploys_three_tools_keeps_promotes_and_retires() {
    let machine = Machine::new(&["claude-code", "codex", "gemini"]);
    let (code, report, text) = machine.sync(&[]);
    assert_eq!(code, Some(0), "{text}");
    let outcomes: Vec<&str> = report["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|t| t["outcome"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(outcomes, ["synced", "synced", "synced"], "{text}");
    for file in [
        ".claude/settings.json",
        ".codex/config.toml",
        ".gemini/settings.json",
    ] {
        assert!(machine.home(file).is_file(), "{file} deployed");
    }

    // A hand edit of a deployed skill: its SKILL.md and one asset.
    let skill_md = machine.home(&format!("{LIVE_SKILL}/SKILL.md"));
    let asset = machine.home(&format!("{LIVE_SKILL}/assets/rust-ci.yml"));
    let (source_md, source_asset) = (
        read(&machine.source(&format!("{SKILL}/SKILL.md"))),
        read(&machine.source(&format!("{SKILL}/assets/rust-ci.yml"))),
    );
    let edited_md = read(&skill_md).replace("actionlint", "actionlint (edited live)");
    std::fs::write(&skill_md, &edited_md).expect("edit SKILL.md");
    append(&asset, "# tuned live\n");
    let (code, diff) = machine.sync_text(&["--diff"]);
    assert_eq!(code, Some(2), "{diff}");
    assert!(
        diff.contains("would promote LIVE → SOURCE")
            && diff.contains("+# tuned live")
            && diff.contains("(edited live)")
            && diff.contains("live-newer"),
        "{diff}"
    );
    // Nothing changed: live keeps the edits, the library does not have them.
    assert_eq!(read(&skill_md), edited_md);
    assert_eq!(
        read(&machine.source(&format!("{SKILL}/SKILL.md"))),
        source_md
    );
    assert_eq!(
        read(&machine.source(&format!("{SKILL}/assets/rust-ci.yml"))),
        source_asset
    );

    let (code, report, text) = machine.sync(&["--apply-promote"]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(
        report["targets"][0]["promoted"]["skill:github-actions-ci"],
        serde_json::json!([
            format!("{SKILL}/SKILL.md"),
            format!("{SKILL}/assets/rust-ci.yml")
        ]),
        "{report}"
    );
    let promoted_md = read(&machine.source(&format!("{SKILL}/SKILL.md")));
    assert!(
        promoted_md.contains("actionlint (edited live)"),
        "{promoted_md}"
    );
    assert!(
        !promoted_md.contains("kiln:observation"),
        "the observation footer never reaches the library"
    );
    assert!(
        read(&machine.source(&format!("{SKILL}/assets/rust-ci.yml"))).ends_with("# tuned live\n")
    );
    // The other tools' copies of the skill follow; a second sync has nothing to do.
    assert!(
        read(&machine.home(".agents/skills/github-actions-ci/assets/rust-ci.yml"))
            .ends_with("# tuned live\n")
    );
    let (code, report, text) = machine.sync(&[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(entries(&report).is_empty(), "nothing left to do: {report}");
    for target in report["targets"].as_array().expect("targets") {
        assert_eq!(target["written"], 0, "{report}");
    }

    // Live edits of compiled outputs: reported with the components to edit, never promoted.
    let agents_md = machine.home(".codex/AGENTS.md");
    append(&agents_md, "\nmy local rule\n");
    let settings = machine.home(".claude/settings.json");
    let mut value: Value = serde_json::from_str(&read(&settings)).expect("json");
    let hooks = value["hooks"].as_object_mut().expect("kiln's hooks");
    let first = hooks.keys().next().expect("an event").clone();
    hooks[&first] = serde_json::json!([]);
    std::fs::write(
        &settings,
        serde_json::to_string_pretty(&value).expect("json"),
    )
    .expect("edit");
    let before = files_of(&machine.library.path().join("components"));
    let (code, report, text) = machine.sync(&["--apply-promote", "--diff"]);
    assert_eq!(code, Some(2), "{text}");
    let compiled: Vec<_> = entries(&report)
        .into_iter()
        .filter(|(_, path, _, _)| path == ".codex/AGENTS.md" || path == ".claude/settings.json")
        .collect();
    assert_eq!(compiled.len(), 2, "{report}");
    for (_, path, comparison, action) in &compiled {
        assert_eq!(comparison, "live-newer", "{path}");
        assert!(
            action.contains("compiled output, never promoted") && action.contains("components/"),
            "{path}: {action}"
        );
    }
    let diffs: Vec<&str> = report["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .flat_map(|t| t["entries"].as_array().into_iter().flatten())
        .filter_map(|e| e["diff"].as_str())
        .collect();
    assert!(
        diffs.iter().any(|d| d.contains("+my local rule")),
        "{diffs:?}"
    );
    assert_eq!(
        before,
        files_of(&machine.library.path().join("components")),
        "a compiled output was promoted"
    );
    assert!(read(&agents_md).contains("my local rule"), "live edit kept");

    // A tool removed from the configuration: retired, then undeployed with --allow-delete,
    // which removes what kiln wrote for it and nothing else.
    machine.configure(&["claude-code", "codex"]);
    let mine = machine.home(".gemini/mine.md");
    std::fs::write(&mine, "mine\n").expect("user file");
    let (_, report, text) = machine.sync(&["--force"]);
    let gemini = |report: &Value| {
        report["targets"]
            .as_array()
            .expect("targets")
            .iter()
            .find(|t| t["tool"] == "gemini")
            .map(|t| t["outcome"].as_str().unwrap_or_default().to_string())
    };
    assert_eq!(gemini(&report).as_deref(), Some("retired"), "{text}");
    assert!(machine.home(".gemini/settings.json").is_file());
    let (code, report, text) = machine.sync(&["--allow-delete"]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(gemini(&report).as_deref(), Some("undeployed"), "{text}");
    assert!(!machine.home(".gemini/settings.json").exists());
    assert!(!machine.home(".gemini/GEMINI.md").exists());
    assert_eq!(read(&mine), "mine\n");
    // Codex still deploys the shared skill folder.
    assert!(
        machine
            .home(".agents/skills/github-actions-ci/SKILL.md")
            .is_file()
    );
}

#[test]
fn each_comparator_outcome_under_the_default_and_apply_promote() {
    let asset_rel = format!("{LIVE_SKILL}/assets/rust-ci.yml");
    let source_rel = format!("{SKILL}/assets/rust-ci.yml");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let at = |path: &Path, seconds: i64| {
        filetime::set_file_mtime(path, filetime::FileTime::from_unix_time(seconds, 0))
            .expect("mtime");
    };
    // (name, set-up, expected comparison, exit without and with --apply-promote)
    type Setup = fn(&Machine, &Path, &Path, &dyn Fn(&Path, i64), i64);
    let cases: &[(&str, Setup, Option<&str>, i32, i32)] = &[
        ("identical", |_, _, _, _, _| {}, None, 0, 0),
        (
            "live-newer",
            |_, live, _, at, now| {
                append(live, "# live\n");
                at(live, now - 10);
            },
            Some("live-newer"),
            2,
            0,
        ),
        (
            "source-newer",
            |_, _, source, _, _| append(source, "# library\n"),
            Some("source-newer"),
            0,
            0,
        ),
        (
            "both-advanced",
            |_, live, source, at, now| {
                append(live, "# live\n");
                append(source, "# library\n");
                at(live, now - 100);
                at(source, now - 50);
            },
            Some("both-advanced"),
            2,
            2,
        ),
        (
            "equal-mtime-different-content",
            |_, live, source, at, now| {
                append(live, "# live\n");
                append(source, "# library\n");
                at(live, now - 100);
                at(source, now - 100);
            },
            Some("equal-mtime-different-content"),
            2,
            2,
        ),
        (
            "future-live-mtime-is-a-tie",
            |_, live, source, at, now| {
                append(live, "# live\n");
                append(source, "# library\n");
                at(source, now - 100);
                at(live, now + 86_400);
            },
            Some("equal-mtime-different-content"),
            2,
            2,
        ),
        (
            "adopt-candidate",
            |machine, _, _, _, _| {
                let dir = machine.home(".claude/skills/made-by-hand");
                std::fs::create_dir_all(&dir).expect("mkdir");
                std::fs::write(
                    dir.join("SKILL.md"),
                    "---\nname: made-by-hand\ndescription: mine\n---\nHi.\n",
                )
                .expect("skill");
            },
            Some("adopt-candidate"),
            0,
            0,
        ),
    ];
    let mut ran = 0;
    for (name, setup, expected, plain, promoting) in cases {
        for apply in [false, true] {
            let machine = Machine::new(&["claude-code"]);
            let (code, _, text) = machine.sync(&[]);
            assert_eq!(code, Some(0), "{name}: {text}");
            let live = machine.home(&asset_rel);
            let source = machine.source(&source_rel);
            setup(&machine, &live, &source, &at, now);
            let args: &[&str] = if apply { &["--apply-promote"] } else { &[] };
            let (code, report, text) = machine.sync(args);
            let relative = if *name == "adopt-candidate" {
                ".claude/skills/made-by-hand".to_string()
            } else {
                asset_rel.clone()
            };
            assert_eq!(
                comparison_of(&report, &relative).as_deref(),
                *expected,
                "{name} (apply: {apply}): {report}"
            );
            let want = if apply { *promoting } else { *plain };
            assert_eq!(code, Some(want), "{name} (apply: {apply}): {text}");
            match (*name, apply) {
                ("live-newer", true) => assert!(read(&source).ends_with("# live\n"), "promoted"),
                ("live-newer", false) => assert!(!read(&source).ends_with("# live\n")),
                ("both-advanced" | "equal-mtime-different-content", _) => {
                    assert!(read(&live).ends_with("# live\n"), "{name}: live kept");
                    assert!(
                        read(&source).ends_with("# library\n"),
                        "{name}: library kept"
                    );
                }
                _ => {}
            }
            ran += 1;
        }
    }
    println!("comparator cases run: {ran} (7 outcomes × default and --apply-promote)");
}

#[test]
fn prefer_decides_edits_on_both_sides_and_editors_that_replace_files_are_seen() {
    let asset_rel = format!("{LIVE_SKILL}/assets/rust-ci.yml");
    for prefer in ["live", "source"] {
        let machine = Machine::new(&["claude-code"]);
        assert_eq!(machine.sync(&[]).0, Some(0));
        let live = machine.home(&asset_rel);
        let source = machine.source(&format!("{SKILL}/assets/rust-ci.yml"));
        append(&live, "# live\n");
        append(&source, "# library\n");
        let (code, _, text) = machine.sync(&["--apply-promote", "--prefer", prefer]);
        assert_eq!(code, Some(0), "{prefer}: {text}");
        let (live_text, source_text) = (read(&live), read(&source));
        assert_eq!(live_text, source_text, "{prefer}: live and library agree");
        let kept = if prefer == "live" {
            "# live\n"
        } else {
            "# library\n"
        };
        assert!(live_text.ends_with(kept), "{prefer}: {live_text}");
    }
    // An editor that writes a new file and renames it over the old one, and one that writes
    // in place: both are live edits, both promoted.
    let machine = Machine::new(&["claude-code"]);
    assert_eq!(machine.sync(&[]).0, Some(0));
    let replaced = machine.home(&format!("{LIVE_SKILL}/scripts/pin-action.sh"));
    let temp = replaced.with_extension("swp");
    std::fs::write(&temp, format!("{}# replaced\n", read(&replaced))).expect("temp");
    make_executable(&temp);
    std::fs::rename(&temp, &replaced).expect("rename over");
    let in_place = machine.home(&asset_rel);
    {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&in_place)
            .expect("open");
        file.write_all(b"# in place\n").expect("write");
    }
    let (code, report, text) = machine.sync(&["--apply-promote"]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(
        report["targets"][0]["promoted"]["skill:github-actions-ci"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "{report}"
    );
    assert!(
        read(&machine.source(&format!("{SKILL}/scripts/pin-action.sh"))).ends_with("# replaced\n")
    );
    assert!(
        read(&machine.source(&format!("{SKILL}/assets/rust-ci.yml"))).ends_with("# in place\n")
    );
}

#[test]
fn promotion_refuses_uncommitted_library_files_unless_allowed() {
    let machine = Machine::new(&["claude-code"]);
    let git = |args: &[&str]| {
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
            .current_dir(machine.library.path())
            .env("HOME", machine.sandbox.home())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("git");
        assert!(
            status.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&status.stderr)
        );
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "library"]);
    assert_eq!(machine.sync(&[]).0, Some(0));
    let source = machine.source(&format!("{SKILL}/assets/rust-ci.yml"));
    // A live edit, and uncommitted work in the library file it would be promoted into.
    append(
        &machine.home(&format!("{LIVE_SKILL}/assets/rust-ci.yml")),
        "# live\n",
    );
    append(&source, "# work in progress\n");
    let (code, report, text) = machine.sync(&["--apply-promote", "--prefer", "live"]);
    assert_eq!(code, Some(1), "{text}");
    let error = report["targets"][0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("uncommitted")
            && error.contains("rust-ci.yml")
            && error.contains("--allow-dirty-source"),
        "{report}"
    );
    assert!(
        read(&source).ends_with("# work in progress\n"),
        "nothing written"
    );
    let (code, _, text) = machine.sync(&[
        "--apply-promote",
        "--prefer",
        "live",
        "--allow-dirty-source",
    ]);
    assert_eq!(code, Some(0), "{text}");
    assert!(read(&source).ends_with("# live\n"), "{}", read(&source));
}

#[test]
fn contradictory_flags_are_rejected_before_anything_runs() {
    let machine = Machine::new(&["claude-code"]);
    let mut rejected = 0;
    for (args, names) in [
        (
            &["--apply-promote", "--no-promote"][..],
            ["--apply-promote", "--no-promote"],
        ),
        (
            &["--force", "--no-promote"][..],
            ["--force", "--no-promote"],
        ),
        (
            &["--force", "--apply-promote"][..],
            ["--force", "--apply-promote"],
        ),
        (&["--adopt-new"][..], ["--adopt-new", "--apply-promote"]),
    ] {
        let (code, text) = machine.sync_text(args);
        assert_eq!(code, Some(2), "{args:?}: {text}");
        assert!(names.iter().all(|n| text.contains(n)), "{args:?}: {text}");
        rejected += 1;
    }
    assert!(!machine.home(".claude").exists(), "nothing deployed");
    println!("flag combinations rejected at parse time: {rejected}");
}

#[test]
fn sync_help_lists_its_flags() {
    let output = crate::support::kiln(&repo_root())
        .args(["sync", "--help"])
        .output()
        .expect("help");
    insta::assert_snapshot!(String::from_utf8_lossy(&output.stdout));
}

/// Every file below `dir` with its bytes.
fn files_of(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    crate::support::entries(dir)
        .into_iter()
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).expect("read");
            (p, bytes)
        })
        .collect()
}

#[test]
fn doctor_grades_every_invariant_and_live_difference() {
    let machine = Machine::new(&["claude-code"]);
    assert_eq!(machine.sync(&[]).0, Some(0));
    let doctor = || {
        let output = machine
            .library
            .kiln()
            .args(["doctor", "--format", "json"])
            .output()
            .expect("doctor");
        let report: Value = serde_json::from_slice(&output.stdout).expect("json");
        let rows: Vec<(String, String, String)> = report["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| {
                (
                    r["severity"].as_str().unwrap_or_default().to_string(),
                    r["check"].as_str().unwrap_or_default().to_string(),
                    format!("{} {}", r["message"], r["fix"]),
                )
            })
            .collect();
        (output.status.code(), rows)
    };
    let (code, rows) = doctor();
    assert_eq!(code, Some(0), "a fresh sync is all info: {rows:?}");
    assert!(
        rows.iter().all(|(severity, _, _)| severity == "info"),
        "{rows:?}"
    );

    // A live edit (warn, with the promoting command), a tie (error), a dangling symlink, an
    // interrupted write in the library, and `op` gone while secrets are deployed.
    append(
        &machine.home(&format!("{LIVE_SKILL}/assets/rust-ci.yml")),
        "# live\n",
    );
    append(
        &machine.home(&format!("{LIVE_SKILL}/scripts/pin-action.sh")),
        "# live\n",
    );
    append(
        &machine.source(&format!("{SKILL}/scripts/pin-action.sh")),
        "# library\n",
    );
    // doctor reads dist as built (it never builds): build the library's side of the tie.
    let built = machine
        .library
        .kiln()
        .args(["build", "personal", "claude-code"])
        .output()
        .expect("build");
    assert!(built.status.success());
    let agent = machine.home(".claude/agents/code-reviewer.md");
    std::fs::remove_file(&agent).expect("rm");
    #[cfg(unix)]
    std::os::unix::fs::symlink("/nonexistent/code-reviewer.md", &agent).expect("dangling");
    std::fs::write(machine.source(&format!("{SKILL}/.kiln-123.tmp")), "half").expect("leftover");
    let config = machine
        .library
        .path()
        .join(".no-user-config/kiln/config.toml");
    let text = read(&config).replace(
        &machine.library.path().join("fake-op").display().to_string(),
        "/nonexistent/op",
    );
    std::fs::write(&config, text).expect("config");
    let (code, rows) = doctor();
    assert_eq!(code, Some(1), "{rows:?}");
    // status counts the same: one edit to promote, one tie; rows on stdout.
    let status = machine
        .library
        .kiln()
        .args(["status", "--format", "json"])
        .output()
        .expect("status");
    let report: Value = serde_json::from_slice(&status.stdout).expect("json");
    let row = &report["deployments"][0];
    assert_eq!(
        (
            row["would_promote"].as_u64(),
            row["needs_tie_break"].as_u64()
        ),
        (Some(1), Some(1)),
        "{report}"
    );
    assert!(row["last_deploy"].as_u64().is_some(), "{report}");
    let human = machine
        .library
        .kiln()
        .arg("status")
        .output()
        .expect("status");
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(
        human.contains("1 would promote, 1 need --prefer"),
        "{human}"
    );
    let has = |severity: &str, check: &str, needle: &str| {
        rows.iter()
            .any(|(s, c, text)| s == severity && c == check && text.contains(needle))
    };
    assert!(
        has("warn", "drift", "kiln sync --apply-promote"),
        "{rows:?}"
    );
    assert!(has("error", "drift", "--prefer live"), "{rows:?}");
    #[cfg(unix)]
    assert!(has("error", "symlink", "code-reviewer.md"), "{rows:?}");
    assert!(has("error", "promotion", ".kiln-123.tmp"), "{rows:?}");
    assert!(has("error", "secrets", "/nonexistent/op"), "{rows:?}");
    // Errors come first.
    assert_eq!(rows[0].0, "error", "{rows:?}");
}

#[test]
fn tool_tables_sync_projects_in_their_scope_and_a_missing_project_fails_alone() {
    let machine = Machine::new(&["claude-code"]);
    let project = machine.library.path().join("work/app");
    std::fs::create_dir_all(&project).expect("project");
    machine.library.file(
        ".no-user-config/kiln/config.toml",
        &format!(
            "profile = \"personal\"\n\n[tools.claude-code]\nprojects = [{:?}, \"~/missing\"]\n\n[tools.codex]\nscope = \"global\"\n\n[secrets]\nop_command = {:?}\n",
            project.display().to_string(),
            machine.library.path().join("fake-op").display().to_string()
        ),
    );
    let (code, report, text) = machine.sync(&[]);
    assert_eq!(code, Some(1), "the missing project is an error: {text}");
    let outcomes: Vec<(String, String, String)> = report["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|t| {
            let target = t["target"].as_str().unwrap_or_default();
            let shown = if target.ends_with("missing") {
                "missing"
            } else if target == "global" {
                "global"
            } else {
                "project"
            };
            (
                t["tool"].as_str().unwrap_or_default().to_string(),
                shown.to_string(),
                t["outcome"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let expect = |tool: &str, target: &str, outcome: &str| {
        (tool.to_string(), target.to_string(), outcome.to_string())
    };
    assert_eq!(
        outcomes,
        [
            expect("claude-code", "global", "synced"),
            expect("claude-code", "project", "synced"),
            expect("claude-code", "missing", "error"),
            expect("codex", "global", "synced"),
        ],
        "{text}"
    );
    assert!(
        project.join(".mcp.json").is_file()
            || project.join("CLAUDE.md").is_file()
            || project.join(".claude").is_dir(),
        "project scope deployed: {text}"
    );
    assert!(machine.home(".codex/config.toml").is_file());
}

#[test]
fn a_secret_pasted_into_a_live_skill_goes_back_as_its_reference_and_diffs_mask_values() {
    let machine = Machine::new(&["claude-code"]);
    // A value long enough to be looked for (short ones cannot be told from prose).
    const VALUE: &str = "ctx7sk-0123456789abcdef";
    const REFERENCE: &str = "op://Private/Context7/api-key";
    machine
        .library
        .file("fake-op", &format!("#!/bin/sh\nprintf '{VALUE}'\n"));
    make_executable(&machine.library.path().join("fake-op"));
    let (code, _, text) = machine.sync(&[]);
    assert_eq!(code, Some(0), "{text}");
    let mcp = machine.home(".claude.json");
    assert!(read(&mcp).contains(VALUE), "deploy resolved the reference");

    // The user pastes the token into the deployed skill by hand.
    let live_skill = machine.home(&format!("{LIVE_SKILL}/SKILL.md"));
    append(&live_skill, &format!("\nexport CONTEXT7_API_KEY={VALUE}\n"));
    // And edits the merged MCP file (a compiled output): its diff must not show the value.
    // Next to the resolved value, so the value is in the diff's context lines.
    let edited = read(&mcp).replacen(
        "\"CONTEXT7_API_KEY\":",
        "\"EXTRA\": \"1\",\n        \"CONTEXT7_API_KEY\":",
        1,
    );
    std::fs::write(&mcp, edited).expect("edit mcp");
    let (code, report, text) = machine.sync(&["--diff"]);
    assert_eq!(code, Some(2), "{text}");
    let diffs: Vec<&str> = report["targets"][0]["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["diff"].as_str())
        .collect();
    let mcp_diff = diffs
        .iter()
        .find(|d| d.contains(".claude.json"))
        .unwrap_or_else(|| panic!("{report}"));
    assert!(
        !mcp_diff.contains(VALUE)
            && mcp_diff.contains("+        \"EXTRA\"")
            && mcp_diff.contains(&format!("«{REFERENCE}»")),
        "the edit shows, the value is masked: {mcp_diff}"
    );
    assert!(
        !mcp_diff.contains("-      \"CONTEXT7_API_KEY\""),
        "values substituted before diffing, so the resolved line is no change: {mcp_diff}"
    );
    // A dry run does not resolve secrets, so it shows no diff of the merged file at all.
    let (_, report, _) = machine.sync(&["--diff", "--dry-run"]);
    let dry = report.to_string();
    assert!(
        !dry.contains(VALUE.trim_start_matches("ctx7sk-")) || dry.contains("diff not shown"),
        "{dry}"
    );
    assert!(
        dry.contains("diff not shown: this file holds resolved secrets"),
        "{dry}"
    );

    // Promotion writes the reference, never the value, into the library.
    let source = machine.source(&format!("{SKILL}/SKILL.md"));
    let undone = read(&mcp).replacen("\"EXTRA\": \"1\",\n        ", "", 1);
    std::fs::write(&mcp, undone).expect("undo the mcp edit");
    let (code, report, text) = machine.sync(&["--apply-promote"]);
    assert_eq!(code, Some(0), "{text}");
    let library_text = read(&source);
    assert!(
        !library_text.contains(VALUE)
            && library_text.ends_with(&format!("export CONTEXT7_API_KEY={REFERENCE}\n")),
        "{library_text}"
    );
    assert_eq!(
        report["targets"][0]["re_referenced"][format!("{SKILL}/SKILL.md")][0],
        REFERENCE,
        "{report}"
    );
    assert!(
        !read(&live_skill).contains(VALUE),
        "the skill was redeployed from the library"
    );

    // A value inside a binary asset cannot be taken out: the promotion is refused whole.
    let asset = machine.home(&format!("{LIVE_SKILL}/assets/rust-ci.yml"));
    let mut bytes = vec![0xff, 0xfe, 0x00];
    bytes.extend_from_slice(VALUE.as_bytes());
    std::fs::write(&asset, &bytes).expect("binary edit");
    let before = read(&machine.source(&format!("{SKILL}/assets/rust-ci.yml")));
    let (code, report, text) = machine.sync(&["--apply-promote"]);
    assert_eq!(code, Some(1), "{text}");
    let error = report["targets"][0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("promotion refused") && error.contains(REFERENCE) && !error.contains(VALUE),
        "{report}"
    );
    assert_eq!(
        read(&machine.source(&format!("{SKILL}/assets/rust-ci.yml"))),
        before,
        "nothing written"
    );
}

#[test]
fn adopt_new_turns_a_hand_made_skill_folder_into_a_component_and_deploys_it() {
    let machine = Machine::new(&["claude-code"]);
    assert_eq!(machine.sync(&[]).0, Some(0));
    let dir = machine.home(".claude/skills/made-by-hand");
    std::fs::create_dir_all(dir.join("scripts")).expect("mkdir");
    let skill_text = "---\nname: made-by-hand\ndescription: mine\n---\nRun scripts/go.sh.\n";
    std::fs::write(dir.join("SKILL.md"), skill_text).expect("skill");
    std::fs::write(dir.join("scripts/go.sh"), "#!/bin/sh\necho go\n").expect("script");
    make_executable(&dir.join("scripts/go.sh"));
    std::fs::write(dir.join(".notes"), "dot-file kept\n").expect("dot-file");
    let profile = machine.source("profiles/personal.profile.json");
    let profile_before = read(&profile);

    // Without --adopt-new it is only reported; a dry run with it says what it would do.
    let (code, report, _) = machine.sync(&["--apply-promote"]);
    assert_eq!(code, Some(0));
    assert!(report.to_string().contains("--adopt-new"), "{report}");
    let (code, report, _) = machine.sync(&["--apply-promote", "--adopt-new", "--dry-run"]);
    assert_eq!(code, Some(0));
    assert!(report.to_string().contains("would adopt"), "{report}");
    assert!(!machine.source("components/skills/made-by-hand").exists());
    assert_eq!(read(&profile), profile_before, "a dry run writes nothing");

    let (code, report, text) = machine.sync(&["--apply-promote", "--adopt-new"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        report.to_string().contains("adopted as skill:made-by-hand"),
        "{report}"
    );
    let component = machine.source("components/skills/made-by-hand");
    assert_eq!(
        read(&component.join("SKILL.md")),
        skill_text,
        "byte for byte"
    );
    assert_eq!(read(&component.join(".notes")), "dot-file kept\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(component.join("scripts/go.sh"))
            .expect("script")
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "executable kept");
    }
    // The profile selects it, edited in place: its other lines are as they were.
    let profile_after = read(&profile);
    assert!(
        profile_after.contains("\"made-by-hand\""),
        "{profile_after}"
    );
    let changed: Vec<(&str, &str)> = profile_before
        .lines()
        .zip(profile_after.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(changed.len(), 1, "only the skills line: {changed:?}");
    assert_eq!(
        profile_before.lines().count(),
        profile_after.lines().count()
    );

    // kiln now manages the folder: deployed from the library (with its footer), and a second
    // sync has nothing to do.
    let live = read(&dir.join("SKILL.md"));
    assert!(
        live.starts_with(skill_text.trim_end()) && live.contains("kiln:observation"),
        "{live}"
    );
    let (code, report, text) = machine.sync(&[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(entries(&report).is_empty(), "{report}");
    let (code, text) = machine.sync_text(&["--dry-run"]);
    assert_eq!(code, Some(0), "{text}");

    // A second hand-made folder whose name is taken by a different library skill is not adopted.
    let clash = machine.home(".claude/skills/github-actions-ci-copy");
    std::fs::create_dir_all(&clash).expect("mkdir");
    std::fs::write(
        clash.join("SKILL.md"),
        "---\nname: x\ndescription: y\n---\nz\n",
    )
    .expect("skill");
    std::fs::create_dir_all(machine.source("components/skills/github-actions-ci-copy"))
        .expect("mkdir");
    std::fs::write(
        machine.source("components/skills/github-actions-ci-copy/SKILL.md"),
        "---\nname: github-actions-ci-copy\ndescription: other\n---\nother\n",
    )
    .expect("library skill");
    let (code, report, text) = machine.sync(&["--apply-promote", "--adopt-new"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(report.to_string().contains("not adopted"), "{report}");
    assert_eq!(
        read(&clash.join("SKILL.md")),
        "---\nname: x\ndescription: y\n---\nz\n"
    );
}
