//! Every command's contract on the starter library: output, formats and exit codes.

use crate::support::{TempLibrary, copy_starter_library, kiln, render, repo_root};

fn starter() -> TempLibrary {
    let library = TempLibrary::new();
    copy_starter_library(library.path());
    library
}

#[test]
fn validate_accepts_the_starter_library() {
    let output = kiln(&repo_root())
        .args(["--no-inherit", "validate"])
        .output()
        .expect("run");
    assert!(output.status.success(), "{}", render(&output, &repo_root()));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("library valid"), "{stderr}");
    assert!(stderr.contains("0 errors, 0 warnings"), "{stderr}");
}

#[test]
fn validate_json_reports_counts() {
    let output = kiln(&repo_root())
        .args(["--no-inherit", "validate", "--format", "json"])
        .output()
        .expect("run");
    assert!(output.status.success());
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["valid"], true);
    assert_eq!(report["errors"], 0);
    assert!(report["components"].as_u64().expect("count") >= 30);
    assert_eq!(report["profiles"], 4);
}

#[test]
fn resolve_personal_lists_components_with_reasons() {
    let library = starter();
    let output = library
        .kiln()
        .args(["--no-inherit", "resolve", "personal"])
        .output()
        .expect("run");
    insta::assert_snapshot!(render(&output, library.path()));
}

#[test]
fn resolve_json_has_reasons_and_variables() {
    let output = kiln(&repo_root())
        .args(["--no-inherit", "resolve", "personal", "--format", "json"])
        .output()
        .expect("run");
    assert!(output.status.success(), "{}", render(&output, &repo_root()));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["profile"], "personal");
    assert_eq!(report["chain"], serde_json::json!(["minimal", "personal"]));
    let components = report["components"].as_array().expect("components");
    let ids: Vec<&str> = components
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    for expected in [
        "rule:git-workflow",
        "rule:clean-code",
        "skill:homebrew-formula",
        "skill:github-actions-ci",
        "mcp:memory",
        "mcp:github",
        "mcp:context7",
        "mcp:filesystem",
    ] {
        assert!(ids.contains(&expected), "{expected} missing from {ids:?}");
    }
    assert!(
        !ids.iter().any(|id| id.starts_with("rule:enterprise-")),
        "excluded by `enterprise-*`"
    );
    let filesystem = components
        .iter()
        .find(|c| c["id"] == "mcp:filesystem")
        .expect("filesystem");
    assert_eq!(filesystem["scopes"], serde_json::json!(["project"]));
    assert_eq!(filesystem["reasons"][0]["role"], "local_templates");
    assert_eq!(report["variables"]["github_user"]["value"], "arustydev");
    assert_eq!(
        report["variables"]["github_user"]["origin"],
        "profile personal"
    );
    // Order: kind, then priority (higher first), then id.
    let rules: Vec<i64> = components
        .iter()
        .filter(|c| c["kind"] == "rule")
        .map(|c| c["priority"].as_i64().expect("priority"))
        .collect();
    assert!(
        rules.windows(2).all(|w| w[0] >= w[1]),
        "rules not in priority order: {rules:?}"
    );
}

#[test]
fn resolve_unknown_profile_suggests_a_name() {
    let output = kiln(&repo_root())
        .args(["--no-inherit", "resolve", "persnal"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no profile named `persnal`"), "{stderr}");
    assert!(stderr.contains("did you mean `personal`?"), "{stderr}");
}

#[test]
fn resolve_without_any_profile_explains_how_to_choose_one() {
    let output = kiln(&repo_root())
        .args(["--no-inherit", "resolve"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no profile given and none configured"),
        "{stderr}"
    );
    assert!(stderr.contains("hosts.testhost"), "{stderr}");
}

#[test]
fn graph_prints_dot_and_json() {
    let library = starter();
    let dot = library
        .kiln()
        .args(["--no-inherit", "graph", "work"])
        .output()
        .expect("run");
    assert!(dot.status.success(), "{}", render(&dot, library.path()));
    insta::assert_snapshot!(String::from_utf8_lossy(&dot.stdout));
    let json = library
        .kiln()
        .args(["--no-inherit", "graph", "work", "--format", "json"])
        .output()
        .expect("run");
    let graph: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    let edges = graph["edges"].as_array().expect("edges");
    assert!(
        edges.iter().any(|e| e["kind"] == "include"),
        "work selects template includes"
    );
    assert!(
        edges.iter().any(|e| e["kind"] == "depends_on"),
        "work selects depends_on"
    );
    let nodes: Vec<&str> = graph["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["id"].as_str().expect("id"))
        .collect();
    for edge in edges {
        assert!(nodes.contains(&edge["from"].as_str().expect("from")));
        assert!(nodes.contains(&edge["to"].as_str().expect("to")));
    }
}

#[test]
fn library_is_found_from_a_subfolder_and_by_flag() {
    let library = starter();
    let nested = library.path().join("components/rules");
    let output = kiln(&nested)
        .args(["--no-inherit", "validate"])
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        render(&output, library.path())
    );

    let elsewhere = tempfile::tempdir().expect("tmp");
    let output = kiln(elsewhere.path())
        .args(["--no-inherit", "--library"])
        .arg(library.path())
        .arg("validate")
        .output()
        .expect("run");
    assert!(output.status.success());
    let output = kiln(elsewhere.path())
        .env("KILN_LIBRARY", library.path())
        .args(["validate"])
        .output()
        .expect("run");
    assert!(output.status.success());
}

#[test]
fn no_library_is_a_clear_error() {
    let elsewhere = tempfile::tempdir().expect("tmp");
    let output = kiln(elsewhere.path())
        .args(["validate"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let text = render(&output, elsewhere.path());
    assert!(text.contains("kiln::library::not_found"), "{text}");
    assert!(
        text.contains("no kiln library here: no kiln.toml in `[ROOT]` or any parent"),
        "{text}"
    );

    let output = kiln(elsewhere.path())
        .args(["--library", "missing", "validate"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("`missing` is not a kiln library"));
}

#[test]
fn usage_errors_exit_2_and_help_explains() {
    let output = kiln(&repo_root())
        .args(["validate", "--bogus"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let help = kiln(&repo_root()).arg("--help").output().expect("run");
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for command in ["validate", "resolve", "graph", "config"] {
        assert!(text.contains(command), "--help lacks `{command}`:\n{text}");
    }
    assert!(!text.contains("dev "), "the dev command is hidden");
}

#[test]
fn generated_library_validates_through_the_cli() {
    let dir = tempfile::tempdir().expect("tmp");
    let target = dir.path().join("lib");
    let output = kiln(dir.path())
        .args(["dev", "generate-library", "--components", "300"])
        .arg(&target)
        .output()
        .expect("run");
    assert!(output.status.success(), "{}", render(&output, dir.path()));
    let output = kiln(&target)
        .args(["--no-inherit", "validate", "--format", "json"])
        .output()
        .expect("run");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["errors"], 0, "{report}");
    assert!(report["components"].as_u64().expect("count") >= 290);
    // Refuses to write into a folder that is not empty.
    let again = kiln(dir.path())
        .args(["dev", "generate-library"])
        .arg(&target)
        .output()
        .expect("run");
    assert_eq!(again.status.code(), Some(1));
}

#[test]
fn tools_lists_every_builtin_and_explains_one() {
    let library = starter();
    let output = library
        .kiln()
        .args(["--no-inherit", "tools", "--format", "json"])
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        render(&output, library.path())
    );
    let tools: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let names: Vec<&str> = tools
        .as_array()
        .expect("list")
        .iter()
        .map(|t| t["name"].as_str().expect("name"))
        .collect();
    let registry = kiln_emit::ToolRegistry::builtin(&mut kiln_core::Diagnostics::new());
    assert_eq!(names, registry.names().collect::<Vec<_>>());
    let output = library
        .kiln()
        .args(["--no-inherit", "tools", "codex"])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("toml-merge") && text.contains(".codex/config.toml"),
        "{text}"
    );
    assert!(text.contains("not expressible"), "{text}");
    let output = library
        .kiln()
        .args(["--no-inherit", "tools", "codx"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("did you mean `codex`?"));
}
