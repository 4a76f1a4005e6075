//! `kiln build` end to end: every built-in tool on the starter library (dist tree
//! snapshotted), parseable outputs, determinism, memoisation, `--check` and `--strict`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{
    TempLibrary, copy_tree, files_under, mode_of, render, render_tree, repo_root,
};

/// The starter library without its `tools/` folder, so the built-in definitions are used.
fn starter() -> TempLibrary {
    let library = TempLibrary::new();
    let root = repo_root();
    std::fs::copy(root.join("kiln.toml"), library.path().join("kiln.toml")).expect("kiln.toml");
    for folder in ["components", "profiles"] {
        copy_tree(&root.join(folder), &library.path().join(folder));
    }
    library
}

/// Every emitted JSON, TOML and frontmatter parses.
fn assert_parseable(dir: &Path) -> usize {
    let mut checked = 0;
    for path in files_under(dir) {
        let name = path.to_string_lossy().to_string();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(_) => continue,
        };
        if name.ends_with(".json") {
            serde_json::from_str::<Value>(&text)
                .unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
            checked += 1;
        } else if name.ends_with(".toml") {
            toml::from_str::<toml::Table>(&text)
                .unwrap_or_else(|e| panic!("{name} is not TOML: {e}"));
            checked += 1;
        } else if name.ends_with(".md")
            // Cursor and Windsurf rule frontmatter is not YAML: their own files write globs
            // bare (`globs: **/*.ts`), which those tools read and YAML would not.
            && !name.contains("/.windsurf/rules/")
            && let Some(fm) = kiln_core::markdown::split_frontmatter(&text)
        {
            serde_saphyr::from_str::<Value>(fm.yaml)
                .unwrap_or_else(|e| panic!("{name} frontmatter: {e}"));
            checked += 1;
        }
    }
    checked
}

fn build(library: &TempLibrary, args: &[&str]) -> (i32, Value, String) {
    let output = library
        .kiln()
        .args(["--no-inherit", "build"])
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("run");
    let text = render(&output, library.path());
    let json = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output.status.code().unwrap_or(-1), json, text)
}

#[test]
fn every_builtin_tool_builds_the_starter_library() {
    let library = starter();
    let registry = kiln_emit::ToolRegistry::builtin(&mut kiln_core::Diagnostics::new());
    for tool in registry.names() {
        let (code, _, text) = build(&library, &["personal", tool]);
        assert_eq!(code, 0, "{tool}: {text}");
        let tree = library.path().join("dist").join(tool);
        let checked = assert_parseable(&tree);
        assert!(
            checked > 0 || tool == "agents",
            "{tool}: nothing structured was emitted"
        );
        insta::assert_snapshot!(format!("build_personal_{tool}"), render_tree(&tree));
    }
}

#[test]
fn all_profiles_and_tools_build() {
    let library = starter();
    let (code, json, text) = build(&library, &["--all"]);
    assert_eq!(code, 0, "{text}");
    let builds = json["builds"].as_array().expect("builds");
    assert!(builds.len() >= 8, "{json}");
    assert_parseable(&library.path().join("dist"));
}

fn dist_bytes(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    files_under(dir)
        .into_iter()
        .map(|p| {
            (
                p.strip_prefix(dir)
                    .expect("under")
                    .to_string_lossy()
                    .into_owned(),
                std::fs::read(&p).expect("read"),
            )
        })
        .filter(|(p, _)| !p.starts_with(".cache"))
        .collect()
}

#[test]
fn output_does_not_depend_on_location_or_threads() {
    let first = starter();
    let second = starter();
    let (code, _, text) = build(&first, &["--all"]);
    assert_eq!(code, 0, "{text}");
    let output = second
        .kiln()
        .env("RAYON_NUM_THREADS", "1")
        .args(["--no-inherit", "build", "--all"])
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        render(&output, second.path())
    );
    let (a, b) = (
        dist_bytes(&first.path().join("dist")),
        dist_bytes(&second.path().join("dist")),
    );
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (path, bytes) in &a {
        assert!(
            bytes == &b[path],
            "{path} differs between locations / thread counts"
        );
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains(&first.path().display().to_string()),
            "{path} holds an absolute path"
        );
        assert!(!text.contains("\r\n"), "{path} has CRLF line endings");
    }
}

fn mtimes(dir: &Path) -> BTreeMap<PathBuf, std::time::SystemTime> {
    files_under(dir)
        .into_iter()
        .map(|p| {
            let modified = std::fs::metadata(&p)
                .and_then(|m| m.modified())
                .expect("mtime");
            (p, modified)
        })
        .collect()
}

fn rebuilt(json: &Value) -> Vec<String> {
    json["builds"][0]["rebuilt"]
        .as_array()
        .expect("rebuilt")
        .iter()
        .map(|r| {
            format!(
                "{} ({})",
                r["unit"].as_str().expect("unit"),
                r["reason"].as_str().expect("reason")
            )
        })
        .collect()
}

#[test]
fn a_no_op_rebuild_writes_nothing() {
    let library = starter();
    let (code, _, text) = build(&library, &["personal", "claude-code"]);
    assert_eq!(code, 0, "{text}");
    let dist = library.path().join("dist");
    let before = mtimes(&dist);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let (code, json, text) = build(&library, &["personal", "claude-code"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(rebuilt(&json), Vec::<String>::new());
    assert_eq!(json["builds"][0]["written"], serde_json::json!([]));
    assert!(json["builds"][0]["fresh"].as_u64().expect("fresh") > 10);
    assert_eq!(
        before,
        mtimes(&dist),
        "a no-op rebuild touched files (the cache and manifest included)"
    );
}

#[test]
fn editing_one_component_re_emits_only_its_units() {
    let library = starter();
    build(&library, &["personal", "claude-code"]);
    let rule = library.path().join("components/rules/clean-code.rule.md");
    let text = std::fs::read_to_string(&rule).expect("read") + "\n- Prefer boring code.\n";
    std::fs::write(&rule, text).expect("edit");
    let (code, json, text) = build(&library, &["personal", "claude-code"]);
    assert_eq!(code, 0, "{text}");
    // Only the rule's own file: with both scopes built, an any-scope rule goes to the global
    // scope alone, so no project file includes it.
    insta::assert_snapshot!(rebuilt(&json).join("\n"), @"global/0/rule:clean-code (changed: components/rules/clean-code.rule.md)");
    let written = json["builds"][0]["written"].as_array().expect("written");
    assert_eq!(
        written,
        &[serde_json::json!("global/.claude/rules/clean-code.md")]
    );
}

#[test]
fn editing_a_tool_template_re_emits_that_tools_units() {
    let library = starter();
    copy_tree(
        &repo_root().join("tools/claude-code"),
        &library.path().join("tools/claude-code"),
    );
    build(&library, &["personal", "claude-code"]);
    let template = library
        .path()
        .join("tools/claude-code/templates/agent.md.j2");
    let text = std::fs::read_to_string(&template)
        .expect("read")
        .replace("description:", "description: ");
    std::fs::write(&template, text).expect("edit");
    let (code, json, text) = build(&library, &["personal", "claude-code"]);
    assert_eq!(code, 0, "{text}");
    let rebuilt = rebuilt(&json);
    assert!(
        rebuilt.iter().all(|r| r.contains("changed: tool")),
        "{rebuilt:?}"
    );
    let fresh = json["builds"][0]["fresh"].as_u64().expect("fresh");
    assert_eq!(
        fresh, 0,
        "a template edit changes the tool digest, so every unit is rebuilt"
    );
}

#[test]
fn a_corrupt_cache_is_detected_and_rebuilt() {
    let library = starter();
    build(&library, &["personal", "claude-code"]);
    let dist = library.path().join("dist");
    let good = dist_bytes(&dist);
    let memo = dist.join(".cache/claude-code/personal.memo.json");

    // One tampered entry: only that unit is rebuilt.
    let mut cache: Value =
        serde_json::from_slice(&std::fs::read(&memo).expect("read")).expect("json");
    let key = "global/0/rule:clean-code";
    cache["entries"][key]["fingerprint"] = Value::String("blake3:tampered".into());
    std::fs::write(&memo, serde_json::to_vec(&cache).expect("json")).expect("write");
    let (code, json, text) = build(&library, &["personal", "claude-code"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        rebuilt(&json),
        [format!("{key} (its cache entry was corrupt)")]
    );

    // A cache that does not parse: everything is rebuilt, to the same bytes.
    std::fs::write(&memo, b"{ this is not json").expect("write");
    let (code, json, text) = build(&library, &["personal", "claude-code"]);
    assert_eq!(code, 0, "{text}");
    let all = rebuilt(&json);
    assert!(
        !all.is_empty() && all.iter().all(|r| r.contains("the cache was ignored")),
        "{all:?}"
    );
    assert_eq!(
        json["builds"][0]["written"],
        serde_json::json!([]),
        "unchanged bytes are not rewritten"
    );
    assert_eq!(good, dist_bytes(&dist));

    // A deleted output is noticed and re-emitted.
    let file = dist.join("claude-code/personal/global/.claude/agents/code-reviewer.md");
    std::fs::remove_file(&file).expect("remove");
    let (_, json, _) = build(&library, &["personal", "claude-code"]);
    assert!(
        rebuilt(&json)[0].contains("is missing from dist"),
        "{:?}",
        rebuilt(&json)
    );
    assert!(file.exists());
}

#[test]
fn a_failed_unit_is_never_cached() {
    let library = starter();
    copy_tree(
        &repo_root().join("tools/claude-code"),
        &library.path().join("tools/claude-code"),
    );
    let template = library
        .path()
        .join("tools/claude-code/templates/agent.md.j2");
    let good = std::fs::read_to_string(&template).expect("read");
    std::fs::write(&template, format!("{{{{ no_such_function() }}}}\n{good}")).expect("break");
    let (code, _, text) = build(&library, &["personal", "claude-code"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("kiln::emit::template"), "{text}");
    assert!(
        !library
            .path()
            .join("dist/.cache/claude-code/personal.memo.json")
            .exists()
    );
    std::fs::write(&template, good).expect("fix");
    let (code, json, text) = build(&library, &["personal", "claude-code"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(json["builds"][0]["fresh"], 0);
}

#[test]
fn check_reports_stale_output_and_writes_nothing() {
    let library = starter();
    let output = library
        .kiln()
        .args([
            "--no-inherit",
            "build",
            "personal",
            "claude-code",
            "--check",
        ])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1), "nothing built yet is stale");
    assert!(!library.path().join("dist").exists(), "--check wrote files");
    build(&library, &["personal", "claude-code"]);
    let output = library
        .kiln()
        .args([
            "--no-inherit",
            "build",
            "personal",
            "claude-code",
            "--check",
        ])
        .output()
        .expect("run");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        render(&output, library.path())
    );
    let rule = library
        .path()
        .join("components/rules/git-workflow.rule.json");
    let text = std::fs::read_to_string(&rule)
        .expect("read")
        .replace("Never commit directly", "Never push directly");
    std::fs::write(&rule, text).expect("edit");
    let before = dist_bytes(&library.path().join("dist"));
    let output = library
        .kiln()
        .args([
            "--no-inherit",
            "build",
            "personal",
            "claude-code",
            "--check",
        ])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("global/.claude/rules/git-workflow.md"),
        "{stderr}"
    );
    assert_eq!(
        before,
        dist_bytes(&library.path().join("dist")),
        "--check changed dist"
    );
}

#[test]
fn strict_turns_omissions_into_errors() {
    let library = starter();
    // `work` selects an agent-requested rule, which Claude Code cannot express.
    let (code, json, text) = build(&library, &["work", "claude-code"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("kiln::emit::not_expressible"), "{text}");
    assert!(text.contains("rule:api-design"), "{text}");
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(library.path().join("dist/claude-code/work.manifest.json"))
            .expect("manifest"),
    )
    .expect("json");
    assert!(
        manifest["omitted"]
            .as_array()
            .expect("omitted")
            .iter()
            .any(|o| o["component"] == "rule:api-design")
    );
    assert_eq!(json["ok"], true);
    let (code, _, text) = build(&library, &["work", "claude-code", "--strict"]);
    assert_eq!(code, 1, "{text}");
}

#[test]
fn observation_footer_follows_the_profile_mode() {
    let library = starter();
    build(&library, &["--all"]);
    let skill = |profile: &str, skill: &str| {
        std::fs::read_to_string(library.path().join(format!(
            "dist/claude-code/{profile}/global/.claude/skills/{skill}/SKILL.md"
        )))
        .expect("skill")
    };
    let remind = skill("personal", "homebrew-formula");
    assert!(
        remind.contains("kiln observe homebrew-formula --signal positive"),
        "{remind}"
    );
    assert!(!remind.contains("kiln log"), "{remind}");
    let auto = skill("work", "release-notes");
    assert!(auto.contains("kiln log release-notes --summary"), "{auto}");
    assert!(
        auto.contains("more than 30% of its signals are negative after at least 5 invocations"),
        "{auto}"
    );
    let off = skill("server", "release-notes");
    assert!(!off.contains("kiln:observation"), "{off}");
    let source = std::fs::read_to_string(
        library
            .path()
            .join("components/skills/release-notes/SKILL.md"),
    )
    .expect("source");
    assert_eq!(
        off, source,
        "with observation off, a skill is copied byte for byte"
    );
}

#[test]
fn build_needs_a_tool_and_knows_the_tools() {
    let library = starter();
    let output = library
        .kiln()
        .args(["--no-inherit", "build", "personal"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("name a tool, or pass --all-tools"));
    let output = library
        .kiln()
        .args(["--no-inherit", "build", "personal", "claud-code"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("did you mean `claude-code`?"));
}

#[test]
fn diff_compares_selection_and_outputs() {
    let library = starter();
    let output = library
        .kiln()
        .args(["--no-inherit", "diff", "minimal", "personal", "claude-code"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("+ skill:homebrew-formula  (only in personal)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("+++ personal/global/.claude.json"),
        "{stdout}"
    );
    let output = library
        .kiln()
        .args(["--no-inherit", "diff", "personal", "personal"])
        .output()
        .expect("run");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        render(&output, library.path())
    );
    let output = library
        .kiln()
        .args(["--no-inherit", "diff", "personal", "nope"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(!library.path().join("dist").exists(), "diff wrote files");
}

/// Every artifact of every profile and tool, built in memory from `files` in the order given.
fn emitted(config: &str, files: Vec<(String, String)>) -> BTreeMap<String, Vec<u8>> {
    let loaded = kiln_core::Library::from_memory(config, files);
    assert!(!loaded.diagnostics.has_errors(), "{:?}", loaded.diagnostics);
    let library = loaded.library;
    let mut diagnostics = kiln_core::Diagnostics::new();
    let registry = kiln_emit::ToolRegistry::builtin(&mut diagnostics);
    let mut out = BTreeMap::new();
    for name in library.profiles.keys() {
        let profile = kiln_core::profile::resolve_profile(&library, name, &[]).expect("resolves");
        let (selection, _) = kiln_core::selection::select(&library, &profile);
        let selection = selection.expect("selects");
        for tool in profile.tools.keys() {
            let request = kiln_emit::EmitRequest {
                library: &library,
                profile: &profile,
                selection: &selection,
                tool: registry.get(tool).expect("built-in"),
                scopes: kiln_model::BuildScope::ALL.to_vec(),
                registry: &registry,
            };
            let (artifacts, _) = kiln_build::emit_in_memory(&request).expect("emits");
            for (path, artifact) in artifacts {
                out.insert(format!("{tool}/{name}/{path}"), artifact.bytes.to_vec());
            }
        }
    }
    out
}

mod shuffled {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(8))]

        /// The order files are discovered in never changes a byte of output.
        #[test]
        fn output_does_not_depend_on_discovery_order(seed in any::<u64>()) {
            let generated = kiln_core::synth::generate(120, 9);
            let expected = super::emitted(&generated.config, generated.files.clone());
            let mut files = generated.files;
            let mut state = seed | 1;
            for i in (1..files.len()).rev() {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let j = usize::try_from(state >> 33).expect("fits") % (i + 1);
                files.swap(i, j);
            }
            prop_assert_eq!(expected, super::emitted(&generated.config, files));
        }
    }
}

#[cfg(unix)]
#[test]
fn a_symlink_out_of_the_library_is_an_error_and_nothing_outside_is_read() {
    let library = TempLibrary::new();
    let outside = tempfile::tempdir().expect("outside");
    std::fs::write(outside.path().join("sentinel.pem"), "outside secret\n").expect("write");
    library
        .file(
            "components/skills/certs/SKILL.md",
            "---\nname: certs\ndescription: Certificates\n---\n\n# Certs\n",
        )
        .file("components/skills/certs/inside.txt", "inside\n")
        .file(
            "profiles/p.profile.json",
            r#"{ "name": "p", "skills": { "include": ["**"] }, "tools": { "claude-code": {} } }"#,
        );
    let skill = library.path().join("components/skills/certs");
    std::os::unix::fs::symlink(outside.path(), skill.join("system")).expect("link out");
    std::os::unix::fs::symlink("inside.txt", skill.join("alias.txt")).expect("link in");
    let validate = library
        .kiln()
        .args(["--no-inherit", "validate"])
        .output()
        .expect("run");
    let shown = render(&validate, library.path());
    assert_eq!(validate.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("kiln::library::symlink_outside")
            && shown.contains("components/skills/certs/system"),
        "{shown}"
    );
    let build = library
        .kiln()
        .args(["--no-inherit", "build", "p", "claude-code"])
        .output()
        .expect("run");
    assert_ne!(
        build.status.code(),
        Some(0),
        "{}",
        render(&build, library.path())
    );
    let dist = library.path().join("dist");
    let copied: Vec<PathBuf> = files_under(&dist)
        .into_iter()
        .filter(|p| std::fs::read(p).is_ok_and(|b| b == b"outside secret\n"))
        .collect();
    assert!(copied.is_empty(), "outside files reached dist: {copied:?}");

    // A link that stays inside the library is read as what it points to.
    std::fs::remove_file(skill.join("system")).expect("unlink");
    let build = library
        .kiln()
        .args(["--no-inherit", "build", "p", "claude-code"])
        .output()
        .expect("run");
    assert_eq!(
        build.status.code(),
        Some(0),
        "{}",
        render(&build, library.path())
    );
    let alias = dist.join("claude-code/p/global/.claude/skills/certs/alias.txt");
    assert_eq!(std::fs::read_to_string(alias).expect("alias"), "inside\n");
}

#[cfg(unix)]
#[test]
fn asset_modes_are_kept() {
    use std::os::unix::fs::PermissionsExt;
    let library = TempLibrary::new();
    library
        .file(
            "components/skills/keys/SKILL.md",
            "---\nname: keys\ndescription: Keys\n---\n\n# Keys\n",
        )
        .file("components/skills/keys/private.pem", "key\n")
        .file("components/skills/keys/run.sh", "#!/bin/sh\necho\n")
        .file(
            "profiles/p.profile.json",
            r#"{ "name": "p", "skills": { "include": ["**"] }, "tools": { "claude-code": {} } }"#,
        );
    let skill = library.path().join("components/skills/keys");
    for (name, mode) in [("private.pem", 0o600), ("run.sh", 0o755)] {
        std::fs::set_permissions(skill.join(name), std::fs::Permissions::from_mode(mode))
            .expect("chmod");
    }
    let build = library
        .kiln()
        .args(["--no-inherit", "build", "p", "claude-code"])
        .output()
        .expect("run");
    assert_eq!(
        build.status.code(),
        Some(0),
        "{}",
        render(&build, library.path())
    );
    let dist = library
        .path()
        .join("dist/claude-code/p/global/.claude/skills/keys");
    assert_eq!(mode_of(&dist.join("private.pem")), 0o600);
    assert_eq!(mode_of(&dist.join("run.sh")), 0o755);
}

#[cfg(unix)]
#[test]
fn a_symlink_planted_in_dist_is_never_followed() {
    let library = starter();
    let (code, _, text) = build(&library, &["personal", "claude-code"]);
    assert_eq!(code, 0, "{text}");
    let victim = tempfile::tempdir().expect("victim");
    std::fs::write(
        victim.path().join("authorized_keys"),
        "ssh-ed25519 AAAA me\n",
    )
    .expect("write");
    let rules = library
        .path()
        .join("dist/claude-code/personal/global/.claude/rules");
    std::fs::remove_dir_all(&rules).expect("clear");
    std::os::unix::fs::symlink(victim.path(), &rules).expect("plant");
    // A manifest entry that a prune would delete through the link.
    let manifest_path = library
        .path()
        .join("dist/claude-code/personal.manifest.json");
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).expect("read")).expect("json");
    let template = manifest["files"]["global/.claude/rules/git-workflow.md"].clone();
    manifest["files"]["global/.claude/rules/authorized_keys"] = template;
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).expect("json")).expect("tamper");

    let (code, _, text) = build(&library, &["personal", "claude-code"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        std::fs::read_to_string(victim.path().join("authorized_keys"))
            .expect("the file outside dist was deleted"),
        "ssh-ed25519 AAAA me\n"
    );
    assert_eq!(
        entries_names(victim.path()),
        vec!["authorized_keys".to_string()],
        "written through the link"
    );
    let metadata = std::fs::symlink_metadata(&rules).expect("rules");
    assert!(metadata.is_dir() && !metadata.file_type().is_symlink());
    assert!(rules.join("git-workflow.md").is_file());
}

fn entries_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
