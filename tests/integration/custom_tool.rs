//! A tool is wholly data: a library's own `tools/acme/` defines a tool kiln has never heard of
//! — a rule output, a skill output, a JSON-merge MCP output and a home that an environment
//! variable moves — and validate, build, deploy (global and project) and check all work with
//! no Rust change.

use std::path::Path;

use serde_json::Value;

use crate::support::{TempLibrary, render};

pub const ACME_TOOL: &str = r#"{
  "name": "acme",
  "description": "Acme, a fictitious agent that exists only in this library",
  "version": 1,
  "env_reference": "${env:VAR}",
  "homes": [
    { "prefix": ".acme/", "env": "ACME_HOME", "note": "made up for the test" }
  ],
  "outputs": [
    { "kind": "rule", "scope": "global", "strategy": "file-per-component",
      "path": ".acme/rules/{{ component.joined }}.md", "template": "rule.md.j2" },
    { "kind": "rule", "scope": "project", "strategy": "file-per-component",
      "path": ".acme/rules/{{ component.joined }}.md", "template": "rule.md.j2" },
    { "kind": "skill", "scope": "global", "strategy": "copy-tree",
      "path": ".acme/skills/{{ component.name }}" },
    { "kind": "skill", "scope": "project", "strategy": "copy-tree",
      "path": ".acme/skills/{{ component.name }}" },
    { "kind": "mcp", "scope": "global", "strategy": "json-merge",
      "path": ".acme/mcp.json", "key": "servers", "template": "mcp.json.j2" },
    { "kind": "mcp", "scope": "project", "strategy": "json-merge",
      "path": ".acme/mcp.json", "key": "servers", "template": "mcp.json.j2" }
  ]
}
"#;

/// Acme's files, by path below its tool folder.
pub const ACME_FILES: [(&str, &str); 3] = [
    ("tool.json", ACME_TOOL),
    (
        "templates/rule.md.j2",
        "# {{ component.description }}\n\n{{ component.body }}\n",
    ),
    (
        "templates/mcp.json.j2",
        "{ \"command\": {{ component.mcp.command | tojson }}, \"args\": {{ component.mcp.args | tojson }}, \"env\": {{ component.mcp.env | tojson }} }\n",
    ),
];

fn acme_library() -> TempLibrary {
    let library = acme_components();
    for (path, text) in ACME_FILES {
        library.file(&format!("tools/acme/{path}"), text);
    }
    library
}

/// A library whose profile builds for acme, without acme's definition.
pub fn acme_components() -> TempLibrary {
    let library = TempLibrary::new();
    library
        .file(
            "components/rules/everywhere.rule.md",
            "---\ndescription: Everywhere\n---\n\nAlways be kind.\n",
        )
        .file(
            "components/rules/here.rule.md",
            "---\ndescription: Here\nscope: project\n---\n\nOnly in this project.\n",
        )
        .file(
            "components/skills/acme-skill/SKILL.md",
            "---\nname: acme-skill\ndescription: Does acme things\n---\n\n# Acme skill\n",
        )
        .file(
            "components/mcp/notes.mcp.json",
            "{ \"scope\": \"global\", \"transport\": \"stdio\", \"command\": \"notes-server\", \"args\": [\"--fast\"], \"env\": { \"TOKEN\": \"${NOTES_TOKEN}\" } }\n",
        )
        .file(
            "components/mcp/local.mcp.json",
            "{ \"scope\": \"project\", \"transport\": \"stdio\", \"command\": \"local-server\" }\n",
        )
        .file(
            "profiles/p.profile.json",
            r#"{ "name": "p", "rules": { "include": ["**"] }, "skills": { "include": ["**"] },
  "mcp": { "include": ["**"] }, "tools": { "acme": {} } }
"#,
        );
    library
}

struct Run<'a> {
    library: &'a TempLibrary,
    home: &'a Path,
    state: &'a Path,
    acme_home: Option<&'a Path>,
}

impl Run<'_> {
    fn kiln(&self, args: &[&str]) -> std::process::Output {
        let mut command = self.library.kiln();
        command
            .env("HOME", self.home)
            .env("XDG_STATE_HOME", self.state)
            .args(args);
        match self.acme_home {
            Some(dir) => command.env("ACME_HOME", dir),
            None => command.env_remove("ACME_HOME"),
        };
        command.output().expect("run kiln")
    }

    fn ok(&self, args: &[&str]) -> std::process::Output {
        let output = self.kiln(args);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            render(&output, self.library.path())
        );
        output
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_tool_defined_only_in_the_library_validates_builds_deploys_and_checks() {
    let library = acme_library();
    let home = tempfile::tempdir().expect("home");
    let state = tempfile::tempdir().expect("state");
    let acme_home = tempfile::tempdir().expect("acme home");
    let project = tempfile::tempdir().expect("project");
    let run = Run {
        library: &library,
        home: home.path(),
        state: state.path(),
        acme_home: Some(acme_home.path()),
    };

    run.ok(&["--no-inherit", "validate"]);
    let tools = run.ok(&["--no-inherit", "tools", "acme"]);
    let text = String::from_utf8_lossy(&tools.stdout);
    assert!(
        text.contains(".acme/") && text.contains("$ACME_HOME/"),
        "{text}"
    );

    run.ok(&["--no-inherit", "build", "p", "acme"]);
    let dist = library.path().join("dist/acme/p");
    assert!(read(&dist.join("global/.acme/rules/everywhere.md")).contains("Always be kind."));
    assert!(
        dist.join("global/.acme/skills/acme-skill/SKILL.md")
            .is_file()
    );
    assert!(dist.join("project/.acme/rules/here.md").is_file());
    let mcp: Value =
        serde_json::from_str(&read(&dist.join("global/.acme/mcp.json"))).expect("json");
    assert_eq!(mcp["servers"]["notes"]["command"], "notes-server");
    assert_eq!(
        mcp["servers"]["notes"]["env"]["TOKEN"],
        "${env:NOTES_TOKEN}"
    );

    // Global: ACME_HOME moves `.acme/`, and the merge keeps the user's own keys.
    std::fs::write(
        acme_home.path().join("mcp.json"),
        "{\n  \"theirs\": true,\n  \"servers\": { \"mine\": { \"command\": \"my-server\" } }\n}\n",
    )
    .expect("user mcp.json");
    run.ok(&["--no-inherit", "deploy", "p", "acme"]);
    assert!(read(&acme_home.path().join("rules/everywhere.md")).contains("Always be kind."));
    assert!(
        acme_home
            .path()
            .join("skills/acme-skill/SKILL.md")
            .is_file()
    );
    let merged: Value =
        serde_json::from_str(&read(&acme_home.path().join("mcp.json"))).expect("json");
    assert_eq!(merged["theirs"], true);
    assert_eq!(merged["servers"]["mine"]["command"], "my-server");
    assert_eq!(merged["servers"]["notes"]["command"], "notes-server");
    assert!(
        !home.path().join(".acme").exists(),
        "ACME_HOME was not honoured"
    );

    // Project: never relocated.
    let project_dir = project.path().display().to_string();
    run.ok(&[
        "--no-inherit",
        "deploy",
        "p",
        "acme",
        "--project",
        &project_dir,
    ]);
    assert!(read(&project.path().join(".acme/rules/here.md")).contains("Only in this project."));
    let local: Value =
        serde_json::from_str(&read(&project.path().join(".acme/mcp.json"))).expect("json");
    assert_eq!(local["servers"]["local"]["command"], "local-server");
    assert!(!acme_home.path().join("rules/here.md").exists());

    // Deploying again is fine; check is synced, then reports an edit as drift.
    run.ok(&["--no-inherit", "deploy", "p", "acme"]);
    let check = run.ok(&["--no-inherit", "check", "--json"]);
    let report: Value = serde_json::from_slice(&check.stdout).expect("json");
    assert_eq!(report["synced"], true, "{report}");
    let edited = acme_home.path().join("rules/everywhere.md");
    std::fs::write(&edited, "edited by hand\n").expect("edit");
    let check = run.kiln(&["--no-inherit", "check"]);
    assert_eq!(
        check.status.code(),
        Some(1),
        "{}",
        render(&check, library.path())
    );
    let text = render(&check, library.path());
    assert!(
        text.contains(&edited.display().to_string()) && text.contains("modified"),
        "{text}"
    );

    // `check --fix` puts it back where the deploy record says acme lives ($ACME_HOME), run
    // from a folder with no library: the tool's homes travel with the record.
    let elsewhere = tempfile::tempdir().expect("elsewhere");
    let fix = library
        .sandbox()
        .kiln(elsewhere.path())
        .env("HOME", home.path())
        .env("XDG_STATE_HOME", state.path())
        .env("ACME_HOME", acme_home.path())
        .args(["--no-inherit", "check", "--fix"])
        .output()
        .expect("run kiln");
    let text = render(&fix, library.path());
    assert_eq!(fix.status.code(), Some(0), "{text}");
    assert!(read(&edited).contains("Always be kind."), "{text}");

    // Without the variable the same build goes below the home directory.
    let other_home = tempfile::tempdir().expect("home");
    let other_state = tempfile::tempdir().expect("state");
    let plain = Run {
        library: &library,
        home: other_home.path(),
        state: other_state.path(),
        acme_home: None,
    };
    plain.ok(&["--no-inherit", "deploy", "p", "acme"]);
    assert!(
        other_home
            .path()
            .join(".acme/rules/everywhere.md")
            .is_file()
    );
    assert!(other_home.path().join(".acme/mcp.json").is_file());
    let check = plain.ok(&["--no-inherit", "check", "--json"]);
    let report: Value = serde_json::from_slice(&check.stdout).expect("json");
    assert_eq!(report["synced"], true, "{report}");
}
