//! Where each other built-in tool keeps what kiln imports (tool-formats.md §3–§12), as data:
//! instruction files, rule folders (each with its frontmatter dialect), skill, command and
//! agent folders, and MCP server files. Claude Code has its own module (settings, hooks).

use std::path::Path;

use crate::claude::{markdown_tree, skills};
use crate::mcp::{self, McpDialect};
use crate::rules::{self, RuleDialect};
use crate::toml_files::{self, CODEX_AGENTS, GEMINI_COMMANDS, TomlDialect};
use crate::{ImportScope, Item};

/// One tool's layout in one scope; paths are relative to the home or project folder.
struct Layout {
    /// Plain Markdown instruction files, always loaded: (path, rule id).
    instructions: &'static [(&'static str, &'static str)],
    /// Folders of rule files and how their frontmatter reads.
    rules: &'static [(&'static str, RuleDialect)],
    /// Folders of `<name>/SKILL.md` skills.
    skills: &'static [&'static str],
    /// Folders of Markdown commands (workflows, prompts).
    commands: &'static [&'static str],
    /// Folders of Markdown agents.
    agents: &'static [&'static str],
    /// MCP server files: (path, dialect).
    mcp: &'static [(&'static str, McpDialect)],
    /// Gitignore-style files of paths agents must not read: (path, ignore id).
    ignore: &'static [(&'static str, &'static str)],
    /// JSON files with a Claude Code-shaped `hooks` object (Codex `hooks.json`, Gemini
    /// `settings.json`).
    hooks: &'static [&'static str],
    /// Folders of TOML commands or agents, and how they read.
    toml: &'static [(&'static str, &'static TomlDialect)],
}

const NONE: Layout = Layout {
    instructions: &[],
    rules: &[],
    skills: &[],
    commands: &[],
    agents: &[],
    mcp: &[],
    ignore: &[],
    hooks: &[],
    toml: &[],
};

fn layout(tool: &str, scope: ImportScope) -> Option<Layout> {
    use ImportScope::{Global, Project};
    Some(match (tool, scope) {
        ("cursor", Global) => Layout {
            skills: &[".cursor/skills"],
            mcp: &[(".cursor/mcp.json", McpDialect::McpServers)],
            ..NONE
        },
        ("cursor", Project) => Layout {
            ignore: &[(".cursorignore", "cursorignore")],
            rules: &[(".cursor/rules", RuleDialect::Cursor)],
            skills: &[".cursor/skills"],
            commands: &[".cursor/commands"],
            agents: &[".cursor/agents"],
            mcp: &[(".cursor/mcp.json", McpDialect::McpServers)],
            ..NONE
        },
        ("codex", Global) => Layout {
            instructions: &[(".codex/AGENTS.md", "agents-md")],
            skills: &[".agents/skills", ".codex/skills"],
            commands: &[".codex/prompts"],
            mcp: &[(".codex/config.toml", McpDialect::CodexToml)],
            hooks: &[".codex/hooks.json"],
            toml: &[(".codex/agents", &CODEX_AGENTS)],
            ..NONE
        },
        ("codex", Project) => Layout {
            instructions: &[("AGENTS.md", "agents-md")],
            skills: &[".agents/skills", ".codex/skills"],
            mcp: &[(".codex/config.toml", McpDialect::CodexToml)],
            hooks: &[".codex/hooks.json"],
            toml: &[(".codex/agents", &CODEX_AGENTS)],
            ..NONE
        },
        ("agents", Global) => Layout {
            instructions: &[(".agents/AGENTS.md", "agents-md")],
            skills: &[".agents/skills"],
            ..NONE
        },
        ("agents", Project) => Layout {
            instructions: &[("AGENTS.md", "agents-md")],
            skills: &[".agents/skills"],
            ..NONE
        },
        ("gemini", Global) => Layout {
            instructions: &[(".gemini/GEMINI.md", "gemini-md")],
            skills: &[".gemini/skills", ".agents/skills"],
            agents: &[".gemini/agents"],
            mcp: &[(".gemini/settings.json", McpDialect::McpServers)],
            hooks: &[".gemini/settings.json"],
            toml: &[(".gemini/commands", &GEMINI_COMMANDS)],
            ..NONE
        },
        ("gemini", Project) => Layout {
            ignore: &[(".geminiignore", "geminiignore")],
            instructions: &[("GEMINI.md", "gemini-md")],
            skills: &[".gemini/skills", ".agents/skills"],
            agents: &[".gemini/agents"],
            mcp: &[(".gemini/settings.json", McpDialect::McpServers)],
            hooks: &[".gemini/settings.json"],
            toml: &[(".gemini/commands", &GEMINI_COMMANDS)],
            ..NONE
        },
        ("opencode", Global) => Layout {
            instructions: &[(".config/opencode/AGENTS.md", "agents-md")],
            // opencode also loads Claude Code's and the shared skill folders.
            skills: &[
                ".config/opencode/skills",
                ".claude/skills",
                ".agents/skills",
            ],
            commands: &[".config/opencode/commands", ".config/opencode/command"],
            agents: &[".config/opencode/agents", ".config/opencode/agent"],
            mcp: &[
                (".config/opencode/opencode.json", McpDialect::Opencode),
                (".config/opencode/opencode.jsonc", McpDialect::Opencode),
            ],
            ..NONE
        },
        ("opencode", Project) => Layout {
            instructions: &[("AGENTS.md", "agents-md")],
            skills: &[".opencode/skills", ".claude/skills", ".agents/skills"],
            commands: &[".opencode/commands", ".opencode/command"],
            agents: &[".opencode/agents", ".opencode/agent"],
            mcp: &[
                ("opencode.json", McpDialect::Opencode),
                ("opencode.jsonc", McpDialect::Opencode),
            ],
            ..NONE
        },
        ("copilot", Global) => Layout {
            instructions: &[(".copilot/copilot-instructions.md", "copilot-instructions")],
            rules: &[(".copilot/instructions", RuleDialect::Copilot)],
            skills: &[".copilot/skills"],
            agents: &[".copilot/agents"],
            mcp: &[(".copilot/mcp-config.json", McpDialect::McpServers)],
            ..NONE
        },
        ("copilot", Project) => Layout {
            instructions: &[(".github/copilot-instructions.md", "copilot-instructions")],
            rules: &[(".github/instructions", RuleDialect::Copilot)],
            skills: &[".github/skills"],
            commands: &[".github/prompts"],
            agents: &[".github/agents"],
            mcp: &[(".vscode/mcp.json", McpDialect::Servers)],
            ..NONE
        },
        ("windsurf", Global) => Layout {
            instructions: &[(".codeium/windsurf/memories/global_rules.md", "global-rules")],
            skills: &[".codeium/windsurf/skills"],
            commands: &[".codeium/windsurf/global_workflows"],
            mcp: &[(".codeium/windsurf/mcp_config.json", McpDialect::McpServers)],
            ..NONE
        },
        ("windsurf", Project) => Layout {
            ignore: &[(".codeiumignore", "codeiumignore")],
            rules: &[(".windsurf/rules", RuleDialect::Windsurf)],
            skills: &[".windsurf/skills"],
            commands: &[".windsurf/workflows"],
            mcp: &[(".windsurf/mcp_config.json", McpDialect::McpServers)],
            ..NONE
        },
        ("cline", Global) => Layout {
            rules: &[("Documents/Cline/Rules", RuleDialect::Cline)],
            skills: &[".cline/skills"],
            commands: &["Documents/Cline/Workflows"],
            mcp: &[(
                ".cline/data/settings/cline_mcp_settings.json",
                McpDialect::McpServers,
            )],
            ..NONE
        },
        ("cline", Project) => Layout {
            ignore: &[(".clineignore", "clineignore")],
            rules: &[(".clinerules", RuleDialect::Cline)],
            skills: &[".cline/skills"],
            commands: &[".clinerules/workflows"],
            ..NONE
        },
        ("zed", Global) => Layout {
            instructions: &[(".config/zed/AGENTS.md", "agents-md")],
            skills: &[".agents/skills"],
            mcp: &[(".config/zed/settings.json", McpDialect::ContextServers)],
            ..NONE
        },
        ("zed", Project) => Layout {
            instructions: &[(".rules", "rules")],
            skills: &[".agents/skills"],
            mcp: &[(".zed/settings.json", McpDialect::ContextServers)],
            ..NONE
        },
        ("claude-desktop", Global) => Layout {
            mcp: &[
                (
                    "Library/Application Support/Claude/claude_desktop_config.json",
                    McpDialect::McpServers,
                ),
                (
                    ".config/Claude/claude_desktop_config.json",
                    McpDialect::McpServers,
                ),
            ],
            ..NONE
        },
        _ => return None,
    })
}

/// The items of `tool`'s layout in `source` (`None`: kiln has no layout for that tool and scope).
pub(crate) fn items(tool: &str, source: &Path, scope: ImportScope) -> Option<Vec<Item>> {
    let layout = layout(tool, scope)?;
    let mut items = Vec::new();
    for (path, id) in layout.instructions {
        let file = source.join(path);
        if file.exists() {
            items.push(crate::claude::markdown_item(
                &file, path, "rule", id, "rules", ".rule.md",
            ));
        }
    }
    for (dir, dialect) in layout.rules {
        items.extend(rules::tree(&source.join(dir), dir, *dialect));
    }
    for dir in layout.skills {
        items.extend(skills(&source.join(dir), dir));
    }
    for dir in layout.commands {
        items.extend(markdown_tree(
            &source.join(dir),
            dir,
            "command",
            "commands",
            ".command.md",
        ));
    }
    for dir in layout.agents {
        items.extend(markdown_tree(
            &source.join(dir),
            dir,
            "agent",
            "agents",
            ".agent.md",
        ));
    }
    for (path, dialect) in layout.mcp {
        let file = source.join(path);
        if file.exists() {
            items.extend(mcp::from_dialect(tool, &file, path, *dialect));
        }
    }
    for path in layout.hooks {
        let file = source.join(path);
        if !file.exists() {
            continue;
        }
        match crate::source::read_text(&file).and_then(|t| mcp::parse_jsonc(&t)) {
            Ok(root) => {
                if let Some(hooks) = root.get("hooks") {
                    items.extend(crate::claude::hooks_of(tool, hooks, path));
                }
            }
            Err(reason) => items.push(Item::not_imported("hook", *path, reason)),
        }
    }
    for (dir, dialect) in layout.toml {
        items.extend(toml_files::tree(&source.join(dir), dir, dialect));
    }
    for (path, id) in layout.ignore {
        let file = source.join(path);
        if file.exists() {
            items.push(ignore_item(&file, path, id));
        }
    }
    Some(items)
}

/// An ignore file, verbatim (kiln's own header line, if it wrote the file, is dropped).
pub(crate) fn ignore_item(path: &Path, shown: &str, id: &str) -> Item {
    let text = match crate::source::read_text(path) {
        Ok(text) => text,
        Err(reason) => return Item::not_imported("ignore", shown, reason),
    };
    let text: String = text
        .split_inclusive('\n')
        .filter(|line| !line.starts_with("# Generated by kiln"))
        .collect();
    Item::imported(
        "ignore",
        id,
        shown,
        vec![crate::LibraryFile::text(
            format!("ignore/{id}.ignore"),
            text,
        )],
    )
}
