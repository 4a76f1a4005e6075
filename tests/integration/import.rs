//! `kiln import` on a generated home that looks hand-kept, then build + deploy back into a
//! fresh home: what comes back must be what went in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{TempLibrary, entries, make_executable, render};

/// A library with nothing in it yet, a generated home beside it, and a 1Password stand-in that
/// answers each reference with the reference itself (so resolved files compare with the source).
struct Scene {
    library: TempLibrary,
    source: PathBuf,
}

impl Scene {
    fn new(args: &[&str]) -> Scene {
        let scene = Scene::empty();
        let path = scene.source.display().to_string();
        let mut command = vec!["dev", "generate-home", path.as_str()];
        command.extend(args);
        let output = scene.kiln(&command);
        assert_eq!(output.status.code(), Some(0), "{}", scene.text(&output));
        scene
    }

    /// A library with nothing in it and no source home yet.
    fn empty() -> Scene {
        let library = TempLibrary::new();
        library.file("kiln.toml", "version = 1\n");
        for dir in ["components", "profiles"] {
            std::fs::create_dir_all(library.path().join(dir)).expect("mkdir");
        }
        library.file("fake-op", "#!/bin/sh\nprintf '%s' \"$3\"\n");
        make_executable(&library.path().join("fake-op"));
        library.file(
            ".no-user-config/kiln/config.toml",
            &format!(
                "[secrets]\nop_command = {:?}\n",
                library.path().join("fake-op").display().to_string()
            ),
        );
        let source = library.path().join("source-home");
        Scene { library, source }
    }

    fn kiln(&self, args: &[&str]) -> std::process::Output {
        self.library.kiln().args(args).output().expect("run kiln")
    }

    fn import(&self, extra: &[&str]) -> (Value, std::process::Output) {
        let source = self.source.display().to_string();
        let mut args = vec!["import", "claude-code", source.as_str(), "--format", "json"];
        args.extend(extra);
        let output = self.kiln(&args);
        let report = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
        (report, output)
    }

    fn text(&self, output: &std::process::Output) -> String {
        render(output, self.library.path())
    }
}

/// Items per kind whose outcome is one of `outcomes`.
fn count(report: &Value, outcomes: &[&str]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for item in report["items"].as_array().into_iter().flatten() {
        if outcomes.contains(&item["outcome"].as_str().unwrap_or_default()) {
            *counts
                .entry(item["kind"].as_str().unwrap_or_default().to_string())
                .or_default() += 1;
        }
    }
    counts
}

/// Every entry below `dir` (relative path → kind, mode and bytes or link target).
fn tree(dir: &Path) -> BTreeMap<String, (String, Vec<u8>)> {
    let mut out = BTreeMap::new();
    for path in entries(dir) {
        let relative = path
            .strip_prefix(dir)
            .expect("under dir")
            .to_string_lossy()
            .replace('\\', "/");
        let metadata = std::fs::symlink_metadata(&path).expect("stat");
        let entry = if metadata.file_type().is_symlink() {
            (
                "link".to_string(),
                std::fs::read_link(&path)
                    .expect("link")
                    .to_string_lossy()
                    .into_owned()
                    .into_bytes(),
            )
        } else if metadata.is_dir() {
            continue;
        } else {
            (
                format!("file {:o}", crate::support::mode_of(&path)),
                std::fs::read(&path).expect("read"),
            )
        };
        out.insert(relative, entry);
    }
    out
}

#[test]
fn a_hand_kept_claude_home_imports_item_by_item_and_a_second_import_is_a_no_op() {
    let scene = Scene::new(&[]);
    let (report, output) = scene.import(&[]);
    assert_eq!(output.status.code(), Some(0), "{}", scene.text(&output));
    let taken = count(&report, &["imported", "imported-with-warnings"]);
    println!("imported per kind: {taken:?}");
    let expected: BTreeMap<String, usize> = [
        ("agent", 140),
        ("command", 90),
        ("hook", 3),
        ("mcp", 2),
        ("rule", 31),
        ("settings", 1),
        ("skill", 200),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(taken, expected);
    // Every lower-case skill.md is named, and nothing else is a warning of skills.
    let lower = report["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| {
            i["warnings"].as_array().is_some_and(|w| {
                w.iter()
                    .any(|w| w.as_str().unwrap_or("").contains("skill.md"))
            })
        })
        .count();
    assert_eq!(lower, 20);
    // Ten namespaces each hold a `create`: ten commands, none overwriting another.
    let creates = report["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["kind"] == "command" && i["id"].as_str().unwrap_or("").ends_with("/create"))
        .count();
    assert_eq!(creates, 9);
    // Skills byte for byte: every asset, mode, dot-file and in-skill link.
    let source_skills = tree(&scene.source.join(".claude/skills"));
    let library_skills = tree(&scene.library.path().join("components/skills"));
    let renamed = |path: &str| path.replace("/skill.md", "/SKILL.md");
    let source_skills: BTreeMap<String, _> = source_skills
        .into_iter()
        .map(|(path, entry)| (renamed(&path), entry))
        .collect();
    assert_eq!(source_skills.len(), library_skills.len());
    assert!(source_skills == library_skills, "skill folders differ");
    // A second import finds everything in place: nothing written, the library untouched.
    let before = tree(scene.library.path());
    let (again, output) = scene.import(&[]);
    assert_eq!(output.status.code(), Some(0), "{}", scene.text(&output));
    assert_eq!(again["files_written"], 0);
    assert_eq!(again["profile_changes"], false);
    let unchanged = count(&again, &["unchanged"]).values().sum::<usize>();
    assert_eq!(unchanged, expected.values().sum::<usize>());
    assert!(
        before == tree(scene.library.path()),
        "a second import changed the library"
    );
}

#[test]
fn import_never_overwrites_without_force_and_a_dry_run_writes_nothing() {
    let scene = Scene::new(&[
        "--skills",
        "3",
        "--commands",
        "2",
        "--agents",
        "1",
        "--rules",
        "1",
    ]);
    let (_, dry) = scene.import(&["--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", scene.text(&dry));
    assert!(
        tree(&scene.library.path().join("components")).is_empty(),
        "a dry run wrote into the library"
    );
    let (_, output) = scene.import(&[]);
    assert_eq!(output.status.code(), Some(0), "{}", scene.text(&output));
    // The user edits an imported command in the library, then imports again.
    let command = scene
        .library
        .path()
        .join("components/commands/ns00/sub/create.command.md");
    std::fs::write(&command, "edited in the library\n").expect("edit");
    let (report, output) = scene.import(&[]);
    assert_eq!(output.status.code(), Some(0), "{}", scene.text(&output));
    let exists: Vec<&Value> = report["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["outcome"] == "exists")
        .collect();
    assert_eq!(exists.len(), 1, "{report}");
    assert_eq!(exists[0]["id"], "ns00/sub/create");
    assert_eq!(
        std::fs::read_to_string(&command).expect("read"),
        "edited in the library\n"
    );
    let (_, forced) = scene.import(&["--force"]);
    assert_eq!(forced.status.code(), Some(0), "{}", scene.text(&forced));
    assert!(
        std::fs::read_to_string(&command)
            .expect("read")
            .contains("Do step 0"),
        "--force did not take the source's bytes"
    );
}

/// A Markdown file as data: its frontmatter parsed and its body without surrounding blank lines.
fn markdown_data(path: &Path) -> (Value, String) {
    let text = std::fs::read_to_string(path).expect("read");
    match text
        .strip_prefix("---\n")
        .and_then(|rest| rest.split_once("\n---\n"))
    {
        Some((yaml, body)) => (
            serde_saphyr::from_str(yaml).expect("frontmatter parses"),
            body.trim().to_string(),
        ),
        None => (Value::Null, text.trim().to_string()),
    }
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("json")
}

#[test]
fn an_imported_home_builds_and_deploys_back_to_what_it_was() {
    let scene = Scene::new(&[]);
    let (_, output) = scene.import(&[]);
    assert_eq!(output.status.code(), Some(0), "{}", scene.text(&output));
    let validate = scene.kiln(&["validate"]);
    assert_eq!(validate.status.code(), Some(0), "{}", scene.text(&validate));
    assert!(
        scene.text(&validate).contains("0 errors"),
        "{}",
        scene.text(&validate)
    );
    let deploy = scene.kiln(&["deploy", "imported", "claude-code"]);
    assert_eq!(deploy.status.code(), Some(0), "{}", scene.text(&deploy));
    let (source, home) = (
        scene.source.join(".claude"),
        scene.library.sandbox().home().join(".claude"),
    );
    // Skills, commands and agents byte for byte (a lower-case skill.md comes back as SKILL.md).
    let (mut identical, mut links) = (0, 0);
    for folder in ["skills", "commands", "agents"] {
        // An in-skill symlink comes back as the same symlink (the same link text).
        let root = source.join(folder);
        let want: BTreeMap<String, _> = tree(&root)
            .into_iter()
            .map(|(path, entry)| {
                links += usize::from(entry.0 == "link");
                (path.replace("/skill.md", "/SKILL.md"), entry)
            })
            .collect();
        let got = tree(&home.join(folder));
        let differing: Vec<&String> = want
            .keys()
            .filter(|path| got.get(*path) != want.get(*path))
            .collect();
        assert!(
            differing.is_empty(),
            "{folder}: {} differ, first {:?}",
            differing.len(),
            differing.first()
        );
        assert_eq!(want.len(), got.len(), "{folder}: other files deployed");
        identical += want.len();
    }
    // Rules equal as data (kiln writes `paths` its own way); CLAUDE.md comes back as a rule file.
    let mut rules = 0;
    for (path, _) in tree(&source.join("rules")) {
        assert_eq!(
            markdown_data(&source.join("rules").join(&path)),
            markdown_data(&home.join("rules").join(&path)),
            "rule {path}"
        );
        rules += 1;
    }
    assert_eq!(
        markdown_data(&source.join("CLAUDE.md")).1,
        markdown_data(&home.join("rules/claude-md.md")).1
    );
    // settings.json and the MCP servers of ~/.claude.json equal as data.
    assert_eq!(
        json(&source.join("settings.json")),
        json(&home.join("settings.json"))
    );
    // Up to `"type": "stdio"`, the default that kiln writes out (as `claude mcp add` does).
    let servers = |path: &Path| {
        let mut servers = json(path)["mcpServers"].clone();
        for server in servers
            .as_object_mut()
            .into_iter()
            .flat_map(|s| s.values_mut())
        {
            if server["type"] == "stdio" {
                server.as_object_mut().map(|s| s.remove("type"));
            }
        }
        servers
    };
    assert_eq!(
        servers(&scene.source.join(".claude.json")),
        servers(&scene.library.sandbox().home().join(".claude.json"))
    );
    println!(
        "round trip: {identical} skill, command and agent files byte-identical ({links} of them in-skill symlinks, kept as links), {rules} rules and CLAUDE.md, settings.json and 2 MCP servers equal as data"
    );
}

#[test]
fn the_generated_project_imports_its_cursor_rules_and_zed_jsonc_servers_and_deploys_them_back() {
    let scene = Scene::new(&[]);
    let (_, output) = scene.import(&[]);
    assert_eq!(output.status.code(), Some(0), "{}", scene.text(&output));
    let project = scene.source.join("project");
    let path = project.display().to_string();
    for tool in ["cursor", "zed"] {
        let args = [
            "import",
            tool,
            path.as_str(),
            "--scope",
            "project",
            "--format",
            "json",
        ];
        let output = scene.kiln(&args);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{tool}: {}",
            scene.text(&output)
        );
        let report: Value = serde_json::from_slice(&output.stdout).expect("report");
        println!(
            "{tool} project imported per kind: {:?}",
            count(&report, &["imported", "imported-with-warnings"])
        );
    }
    let validate = scene.kiln(&["validate"]);
    assert_eq!(validate.status.code(), Some(0), "{}", scene.text(&validate));
    assert!(
        scene.text(&validate).contains("0 errors"),
        "{}",
        scene.text(&validate)
    );
    let target = scene.library.path().join("deployed-project");
    std::fs::create_dir_all(&target).expect("mkdir");
    let into = target.display().to_string();
    for tool in ["cursor", "zed"] {
        let deploy = scene.kiln(&["deploy", "imported", tool, "--project", into.as_str()]);
        assert_eq!(
            deploy.status.code(),
            Some(0),
            "{tool}: {}",
            scene.text(&deploy)
        );
    }
    // Zed's 33 servers come back equal as data (the stand-in op answers each reference with
    // itself); the library's other servers (the home's, Cursor's) are deployed to Zed too.
    let servers = |root: &Path| data(&root.join(".zed/settings.json"))["context_servers"].clone();
    let (source, deployed) = (servers(&project), servers(&target));
    let source = source.as_object().expect("source servers");
    assert_eq!(source.len(), 33);
    for (name, server) in source {
        assert_eq!(&deployed[name], server, "{name}");
    }
    // Cursor's rules come back with their globs: unquoted, a comma string, one brace glob.
    for rule in ["react", "typescript", "sources"] {
        let path = format!(".cursor/rules/{rule}.mdc");
        let (source, deployed) = (
            std::fs::read_to_string(project.join(&path)).expect("source rule"),
            std::fs::read_to_string(target.join(&path)).expect("deployed rule"),
        );
        // As data: the list of globs (kiln joins a comma list without spaces; a brace glob
        // stays one glob).
        let globs = |text: &str| {
            let line = text.lines().find_map(|l| l.strip_prefix("globs:"));
            line.map(|g| {
                let g = g.trim().trim_matches('"');
                let mut out = Vec::new();
                let (mut depth, mut current) = (0, String::new());
                for c in g.chars() {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            out.push(current.trim().to_string());
                            current.clear();
                            continue;
                        }
                        _ => {}
                    }
                    current.push(c);
                }
                out.push(current.trim().to_string());
                out
            })
        };
        assert_eq!(globs(&source), globs(&deployed), "{rule}:\n{deployed}");
        if rule == "sources" {
            assert_eq!(
                globs(&deployed),
                Some(vec!["src/**/*.{ts,tsx}".to_string()])
            );
        }
        assert_eq!(
            source.split("---").last().map(str::trim),
            deployed.split("---").last().map(str::trim),
            "{rule} body"
        );
    }
}

/// (tool, import case, [(source file, JSON pointer, deployed file)]).
type ToolCheck<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str, &'a str)]);

/// A file as data: JSON/JSONC or TOML (kiln's generated-by comment line left out).
fn data(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "md") {
        return Value::String(text.trim_end().to_string());
    }
    if path.extension().is_some_and(|e| e == "toml") {
        let table: toml::Table = toml::from_str(&text).expect("toml");
        serde_json::to_value(table).expect("json")
    } else {
        // JSONC, as the tools write it (comments, trailing commas).
        let options = jsonc_parser::ParseOptions::default();
        jsonc_parser::parse_to_serde_value::<Value>(&text, &options).expect("jsonc")
    }
}

#[test]
fn tool_homes_import_and_deploy_back_equal_as_data() {
    // (tool, the import case whose home is used, the value compared: file, JSON pointer, and
    // where deploy puts it).
    let checks: &[ToolCheck<'_>] = &[
        (
            "cursor",
            "cursor-servers-with-env-references",
            &[(".cursor/mcp.json", "/mcpServers", ".cursor/mcp.json")],
        ),
        (
            "codex",
            "codex-home-agents-md-skills-toml-servers-agents-and-hooks",
            &[
                (".codex/config.toml", "/mcp_servers", ".codex/config.toml"),
                (
                    ".codex/agents/review/security.toml",
                    "",
                    ".codex/agents/review-security.toml",
                ),
                (
                    ".codex/hooks.json",
                    "/hooks/PreToolUse",
                    ".codex/hooks.json",
                ),
                (
                    ".codex/hooks.json",
                    "/hooks/PermissionRequest",
                    ".codex/hooks.json",
                ),
            ],
        ),
        (
            "gemini",
            "gemini-home-toml-commands-settings-hooks-and-servers",
            &[
                (
                    ".gemini/commands/git/commit.toml",
                    "",
                    ".gemini/commands/git/commit.toml",
                ),
                (
                    ".gemini/commands/plain.toml",
                    "",
                    ".gemini/commands/plain.toml",
                ),
                (
                    ".gemini/settings.json",
                    "/mcpServers/api",
                    ".gemini/settings.json",
                ),
                (
                    ".gemini/settings.json",
                    "/hooks/AfterModel",
                    ".gemini/settings.json",
                ),
                (
                    ".gemini/settings.json",
                    "/hooks/BeforeTool",
                    ".gemini/settings.json",
                ),
            ],
        ),
        (
            "copilot",
            "copilot-project-instructions-prompts-agents-and-vscode-servers",
            &[
                (".vscode/mcp.json", "/servers", ".vscode/mcp.json"),
                (
                    ".github/prompts/test.prompt.md",
                    BYTES,
                    ".github/prompts/test.prompt.md",
                ),
            ],
        ),
        (
            "windsurf",
            "windsurf-project-triggers-workflows-and-server-url",
            &[(
                ".windsurf/workflows/ship.md",
                BYTES,
                ".windsurf/workflows/ship.md",
            )],
        ),
        (
            "cline",
            "cline-project-rules-workflows-skills-and-ignore",
            &[
                (".clinerules/commits.md", "", ".clinerules/commits.md"),
                // Cline reads `.clinerules/*.md`: a nested rule comes back flat, joined.
                (
                    ".clinerules/backend/style.md",
                    "",
                    ".clinerules/backend-style.md",
                ),
                (
                    ".clinerules/workflows/release.md",
                    "",
                    ".clinerules/workflows/release.md",
                ),
                (
                    ".cline/skills/deploy-check/SKILL.md",
                    BYTES,
                    ".cline/skills/deploy-check/SKILL.md",
                ),
            ],
        ),
        (
            "zed",
            "zed-project-jsonc-settings-with-op-references",
            &[(
                ".zed/settings.json",
                "/context_servers",
                ".zed/settings.json",
            )],
        ),
    ];
    let mut compared = 0;
    for (tool, case, files) in checks {
        let scene = Scene::empty();
        let home = crate::support::repo_root()
            .join("tests/cases/import")
            .join(case)
            .join("home");
        // Project layouts (`--scope project`) deploy into a fresh project folder.
        let project = case.contains("-project-");
        let mut import_args = vec!["import", tool, home.to_str().expect("utf-8")];
        if project {
            import_args.extend(["--scope", "project"]);
        }
        let import = scene.kiln(&import_args);
        assert!(
            import.status.code().is_some_and(|c| c <= 1),
            "{tool}: {}",
            scene.text(&import)
        );
        let target = scene.library.path().join("fresh-project");
        std::fs::create_dir_all(&target).expect("project");
        let target_arg = target.display().to_string();
        let mut deploy_args = vec!["deploy", "imported", tool];
        if project {
            deploy_args.extend(["--project", target_arg.as_str()]);
        }
        let deploy = scene.kiln(&deploy_args);
        assert_eq!(
            deploy.status.code(),
            Some(0),
            "{tool}: {}",
            scene.text(&deploy)
        );
        let deployed = if project {
            target.clone()
        } else {
            scene.library.sandbox().home()
        };
        for (source, pointer, target) in *files {
            if *pointer == BYTES {
                let read = |path: &Path| {
                    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                };
                assert_eq!(
                    String::from_utf8_lossy(&read(&deployed.join(target))),
                    String::from_utf8_lossy(&read(&home.join(source))),
                    "{tool}: {source} came back as {target} with other bytes"
                );
                compared += 1;
                continue;
            }
            let mut want = data(&home.join(source));
            // Gemini CLI reads `httpUrl` and `url` + `type: http` alike; kiln writes the latter.
            if let Some(Value::Object(server)) = want.pointer_mut("/mcpServers/api")
                && let Some(url) = server.remove("httpUrl")
            {
                server.insert("url".into(), url);
                server.insert("type".into(), "http".into());
            }
            let mut got = data(&deployed.join(target));
            // kiln's matcher `run_shell_command` means exactly that tool; for Gemini CLI, whose
            // matchers are regular expressions, kiln writes it anchored.
            if let Some(Value::String(matcher)) = got.pointer_mut("/hooks/BeforeTool/0/matcher") {
                *matcher = matcher
                    .trim_start_matches("^(")
                    .trim_end_matches(")$")
                    .to_string();
            }
            // kiln names every Gemini CLI hook by its id (Gemini lists hooks by name); the
            // unnamed original got the id `after-model-1`.
            if let Some(Value::Object(handler)) = got.pointer_mut("/hooks/AfterModel/0/hooks/0")
                && want.pointer("/hooks/AfterModel/0/hooks/0/name").is_none()
            {
                handler.remove("name");
            }
            // An empty `env` or `headers` map says nothing; kiln does not write one back.
            let (mut want, mut got) = (want, got);
            strip_empty_maps(&mut want);
            strip_empty_maps(&mut got);
            assert_eq!(
                got.pointer(pointer),
                want.pointer(pointer),
                "{tool}: {source}{pointer} came back as {target} differently"
            );
            compared += 1;
        }
    }
    println!(
        "tool homes: {compared} files or sections equal as data after import, build and deploy"
    );
}

/// The pointer of a check that compares the files byte for byte.
const BYTES: &str = "=bytes";

fn strip_empty_maps(value: &mut Value) {
    if let Value::Object(map) = value {
        map.retain(|_, v| !v.as_object().is_some_and(serde_json::Map::is_empty));
        map.values_mut().for_each(strip_empty_maps);
    }
}

#[test]
fn the_same_server_from_two_tools_is_one_component_with_each_tools_native_keys() {
    let scene = Scene::empty();
    let home = &scene.source;
    let write = |relative: &str, text: &str| {
        let path = home.join(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    write(
        ".gemini/settings.json",
        r#"{ "mcpServers": { "api": { "url": "https://api.example.com/mcp", "type": "http", "timeout": 5000, "trust": true } } }"#,
    );
    write(
        ".codex/config.toml",
        "[mcp_servers.api]\nurl = \"https://api.example.com/mcp\"\nstartup_timeout_sec = 20\n",
    );
    write(
        ".cursor/mcp.json",
        r#"{ "mcpServers": { "api": { "url": "https://api.example.com/mcp", "type": "http" } } }"#,
    );
    let shown = home.display().to_string();
    for tool in ["gemini", "codex", "cursor"] {
        let output = scene.kiln(&["import", tool, shown.as_str()]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{tool}: {}",
            scene.text(&output)
        );
    }
    let component = scene.library.path().join("components/mcp/api.mcp.json");
    let value: Value =
        serde_json::from_str(&std::fs::read_to_string(&component).expect("component"))
            .expect("json");
    assert_eq!(value["url"], "https://api.example.com/mcp", "{value}");
    assert_eq!(value["native"]["gemini"]["timeout"], 5000, "{value}");
    assert_eq!(value["native"]["gemini"]["trust"], true, "{value}");
    assert_eq!(
        value["native"]["codex"]["startup_timeout_sec"], 20,
        "{value}"
    );
    assert!(
        value["native"].get("cursor").is_none(),
        "cursor had nothing of its own: {value}"
    );
    // A second round is a no-op for every tool.
    for tool in ["gemini", "codex", "cursor"] {
        let output = scene.kiln(&["import", tool, shown.as_str(), "--format", "json"]);
        let report: Value = serde_json::from_slice(&output.stdout).expect("json report");
        let mcp: Vec<&Value> = report["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|item| item["kind"] == "mcp")
            .collect();
        assert!(
            mcp.iter().all(|item| item["outcome"] == "unchanged"),
            "{tool}: {mcp:?}"
        );
    }
    // The same tool with other values of its own keys is a real difference: left alone.
    write(
        ".codex/config.toml",
        "[mcp_servers.api]\nurl = \"https://api.example.com/mcp\"\nstartup_timeout_sec = 99\n",
    );
    let output = scene.kiln(&["import", "codex", shown.as_str(), "--format", "json"]);
    let report: Value = serde_json::from_slice(&output.stdout).expect("json report");
    assert!(report.to_string().contains("\"exists\""), "{report}");
}
