//! A generated home that looks like a real, hand-kept one (for tests and the import
//! benchmark): skills with assets, a lower-case `skill.md`, a nested `SKILL.md`, dot-files,
//! executables, binaries, in-skill file and folder symlinks; commands in nested namespaces with
//! repeated file names; agents in category folders with a `tools:` comma string; nested rules
//! with `paths:`; a settings file with many permissions, env, statusLine and hooks; MCP servers
//! with `op://` and `${VAR}` values; and a project whose Cursor rules carry frontmatter that is
//! not YAML and whose Zed settings are JSONC with op:// references. Deterministic: the same
//! sizes give the same bytes.

use std::path::Path;

/// How much to generate.
#[derive(Clone, Copy, Debug)]
pub struct HomeSize {
    /// Skill folders (every 10th spells `skill.md` in lower case).
    pub skills: usize,
    /// Commands, in namespaces of ten, each namespace holding a `create.md`.
    pub commands: usize,
    /// Agents, in category folders.
    pub agents: usize,
    /// Rules under `rules/`, nested, with `paths:`.
    pub rules: usize,
    /// Permission entries in `settings.json`.
    pub permissions: usize,
    /// MCP servers in the project's JSONC `.zed/settings.json`.
    pub zed_servers: usize,
}

impl Default for HomeSize {
    fn default() -> Self {
        HomeSize {
            skills: 200,
            commands: 90,
            agents: 140,
            rules: 30,
            permissions: 100,
            zed_servers: 33,
        }
    }
}

/// What was written, for the caller to compare with what an import reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// Files written (symlinks counted).
    pub files: usize,
    /// Skills whose file is spelled `skill.md`.
    pub lower_case_skills: usize,
}

/// Writes a home into `home` (`.claude/`, `.claude.json`) and a project into
/// `home/project` (`.cursor/rules/`, `.cursor/mcp.json`).
pub fn write_home(home: &Path, size: HomeSize) -> std::io::Result<Written> {
    let (mut files, mut links, mut lower_case_skills) = (0usize, 0usize, 0usize);
    let mut put = |relative: &str, bytes: &[u8], mode: u32| -> std::io::Result<()> {
        let path = home.join(relative);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, bytes)?;
        set_mode(&path, mode)?;
        files += 1;
        Ok(())
    };
    let categories = [
        "ai-ml", "backend", "frontend", "quality", "infra", "data", "docs",
    ];
    for n in 0..size.skills {
        let name = format!("skill-{n:04}");
        let dir = format!(".claude/skills/{name}");
        let file = if n % 10 == 3 { "skill.md" } else { "SKILL.md" };
        let text = format!(
            "---\nname: {name}\ndescription: Use when working on area {n}; keeps {{{{SKILL_NAME}}}} and ${{{{ secrets.TOKEN }}}} verbatim\nallowed-tools: Read, Grep, Bash(git:*)\nmetadata:\n  owner: team-{}\n---\n\n# Skill {n}\n\nRun `scripts/run.sh $ARGUMENTS` from ${{CLAUDE_SKILL_DIR}}.\n",
            n % 5
        );
        put(&format!("{dir}/{file}"), text.as_bytes(), 0o644)?;
        put(
            &format!("{dir}/scripts/run.sh"),
            format!("#!/bin/sh\necho skill {n} \"$@\"\n").as_bytes(),
            0o755,
        )?;
        put(
            &format!("{dir}/reference.md"),
            format!("Notes for {n}.\n").as_bytes(),
            0o644,
        )?;
        if n % 4 == 0 {
            put(
                &format!("{dir}/.env.example"),
                b"API_URL=https://example.invalid\n",
                0o644,
            )?;
            put(&format!("{dir}/assets/logo.bin"), &binary(n, 2048), 0o644)?;
        }
        if n % 7 == 0 {
            // A template skill inside the skill: an asset, not a second skill.
            put(
                &format!("{dir}/templates/new/SKILL.md"),
                b"---\nname: {{SKILL_NAME}}\ndescription: {{DESCRIPTION}}\n---\n",
                0o644,
            )?;
        }
        if n % 9 == 0 {
            let link = home.join(format!("{dir}/run"));
            #[cfg(unix)]
            std::os::unix::fs::symlink("scripts/run.sh", &link)?;
            links += 1;
        }
        if n % 11 == 0 {
            // A folder link inside the skill (`bin -> scripts`): kept a link end to end.
            let link = home.join(format!("{dir}/bin"));
            #[cfg(unix)]
            std::os::unix::fs::symlink("scripts", &link)?;
            links += 1;
        }
        if file == "skill.md" {
            lower_case_skills += 1;
        }
    }
    for n in 0..size.commands {
        let namespace = format!("ns{:02}", n / 10);
        let name = if n % 10 == 0 {
            "create".to_string()
        } else {
            format!("task-{n}")
        };
        let nested = if n % 3 == 0 {
            format!("{namespace}/sub")
        } else {
            namespace
        };
        put(
            &format!(".claude/commands/{nested}/{name}.md"),
            format!(
                "---\ndescription: Command {n}\nargument-hint: [target]\nallowed-tools: Bash(git status:*), Read\n---\n\nDo step {n} for $ARGUMENTS.\n"
            )
            .as_bytes(),
            0o644,
        )?;
    }
    for n in 0..size.agents {
        let category = categories[n % categories.len()];
        put(
            &format!(".claude/agents/{category}/agent-{n:03}.md"),
            format!(
                "---\nname: agent-{n:03}\ndescription: Specialist {n} for {category}. Use proactively.\ntools: Read, Grep, Glob, Bash\nmodel: sonnet\ncolor: blue\n---\n\nYou are specialist {n}.\n"
            )
            .as_bytes(),
            0o644,
        )?;
    }
    for n in 0..size.rules {
        let group = ["lang", "team", "infra"][n % 3];
        put(
            &format!(".claude/rules/{group}/rule-{n:02}.md"),
            format!("---\npaths:\n  - \"src/**/*.{{ts,tsx}}\"\n  - \"lib/{n}/**\"\n---\n\n# Rule {n}\n\nKeep module {n} small.\n")
                .as_bytes(),
            0o644,
        )?;
    }
    put(
        ".claude/CLAUDE.md",
        b"# House rules\n\nBe brief. Ask before deleting files.\n",
        0o644,
    )?;
    let allow: Vec<String> = (0..size.permissions)
        .map(|n| format!("Bash(tool-{n}:*)"))
        .collect();
    let settings = serde_json::json!({
        "$schema": "https://json.schemastore.org/claude-code-settings.json",
        "permissions": {
            "allow": allow,
            "deny": ["Read(./.env)", "Read(./secrets/**)"],
            "defaultMode": "acceptEdits"
        },
        "env": { "DISABLE_TELEMETRY": "1", "EDITOR": "nvim" },
        "model": "opus",
        "statusLine": { "type": "command", "command": "~/.claude/statusline.sh" },
        "hooks": {
            "PreToolUse": [
                { "matcher": "Bash", "hooks": [ { "type": "command", "command": "~/.claude/hooks/guard.sh", "timeout": 10 } ] }
            ],
            "SessionStart": [
                { "hooks": [ { "type": "command", "command": "echo started", "async": true, "statusMessage": "Starting up" } ] }
            ],
            "Stop": [
                { "hooks": [ { "type": "prompt", "prompt": "Is every task in $ARGUMENTS done?", "timeout": 30 } ] }
            ]
        }
    });
    put(
        ".claude/settings.json",
        (serde_json::to_string_pretty(&settings).unwrap_or_default() + "\n").as_bytes(),
        0o644,
    )?;
    let state = serde_json::json!({
        "numStartups": 42,
        "mcpServers": {
            "github": {
                "type": "http",
                "url": "https://api.githubcopilot.com/mcp/",
                "headers": { "Authorization": "Bearer op://Private/GitHub/token" }
            },
            "memory": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"], "env": { "MEMORY_DIR": "${HOME}/.memory" } }
        }
    });
    put(
        ".claude.json",
        (serde_json::to_string_pretty(&state).unwrap_or_default() + "\n").as_bytes(),
        0o600,
    )?;
    // A project with Cursor rules as real ones are: not all of them YAML.
    put(
        "project/.cursor/rules/react.mdc",
        b"---\ndescription: React components\nglobs: **/*.tsx\nalwaysApply: false\n---\nUse function components.\n",
        0o644,
    )?;
    put(
        "project/.cursor/rules/typescript.mdc",
        b"---\ndescription: TypeScript\nglobs: *.ts, *.tsx\nalwaysApply: false\n---\nStrict mode.\n",
        0o644,
    )?;
    put(
        "project/.cursor/rules/sources.mdc",
        b"---\ndescription: Sources\nglobs: src/**/*.{ts,tsx}\nalwaysApply: false\n---\nSmall modules.\n",
        0o644,
    )?;
    put(
        "project/.cursor/mcp.json",
        b"{\n  // team servers\n  \"mcpServers\": {\n    \"docs\": { \"url\": \"https://docs.example/mcp\", \"headers\": { \"Authorization\": \"Bearer op://Work/Docs/token\" }, },\n  },\n}\n",
        0o644,
    )?;
    // Zed's project settings: JSONC, with op:// references (also inside a string).
    let mut zed = String::from(
        "// Zed project settings\n{\n  \"tab_size\": 2,\n  /* the team's servers */\n  \"context_servers\": {\n",
    );
    for n in 0..size.zed_servers {
        zed.push_str(&format!(
            "    \"zed-{n:02}\": {{ \"url\": \"https://mcp{n}.example/mcp\", \"headers\": {{ \"Authorization\": \"Bearer op://Work/Zed{n}/token\" }}, }},\n"
        ));
    }
    zed.push_str("  },\n}\n");
    put("project/.zed/settings.json", zed.as_bytes(), 0o644)?;
    Ok(Written {
        files: files + links,
        lower_case_skills,
    })
}

/// Bytes that are not text (NULs included), the same for the same `n`.
fn binary(n: usize, len: usize) -> Vec<u8> {
    let mut state = (n as u64)
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            (state >> 56) as u8
        })
        .collect()
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> std::io::Result<()> {
    Ok(())
}
