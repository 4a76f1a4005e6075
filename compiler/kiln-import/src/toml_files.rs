//! Commands and agents that tools keep as TOML files rather than Markdown: Gemini CLI's
//! `commands/**/*.toml` (`description`, `prompt`) and Codex's `agents/*.toml` (`name`,
//! `description`, `developer_instructions`, model settings). Each becomes a Markdown component
//! whose frontmatter holds the keys and whose body is the prompt, so the tool's output renders
//! the same values back (tool-formats.md §4, §9).

use std::path::Path;

use crate::source::{EntryKind, read_text, walk};
use crate::{Content, Item, LibraryFile};

/// What one kind of TOML file turns into.
pub(crate) struct TomlDialect {
    /// `command` or `agent`.
    pub kind: &'static str,
    /// The library folder and suffix (`commands`, `.command.md`).
    pub folder: &'static str,
    pub suffix: &'static str,
    /// The key holding the body.
    pub body: &'static str,
    /// The other keys kiln keeps as frontmatter, and what the tool's output writes back.
    pub keys: &'static [&'static str],
    /// Placeholders of the tool and kiln's spelling (`{{args}}` → `$ARGUMENTS`).
    pub placeholders: &'static [(&'static str, &'static str)],
}

/// Gemini CLI commands: `git/commit.toml` is `/git:commit`.
pub(crate) const GEMINI_COMMANDS: TomlDialect = TomlDialect {
    kind: "command",
    folder: "commands",
    suffix: ".command.md",
    body: "prompt",
    keys: &["description"],
    placeholders: &[("{{args}}", "$ARGUMENTS")],
};

/// Codex agents (the keys its output writes back: tools/codex/templates/agent.toml.j2).
pub(crate) const CODEX_AGENTS: TomlDialect = TomlDialect {
    kind: "agent",
    folder: "agents",
    suffix: ".agent.md",
    body: "developer_instructions",
    keys: &[
        "name",
        "description",
        "model",
        "model_reasoning_effort",
        "model_verbosity",
        "sandbox_mode",
        "nickname_candidates",
    ],
    placeholders: &[],
};

/// Every `*.toml` below `dir` as a component; the id is the path without `.toml`.
pub(crate) fn tree(dir: &Path, label: &str, dialect: &TomlDialect) -> Vec<Item> {
    let kind = dialect.kind;
    let mut items = Vec::new();
    for entry in walk(dir) {
        let shown = format!("{label}/{}", entry.relative);
        match &entry.kind {
            EntryKind::Dir => {}
            EntryKind::Unusable(reason) => {
                items.push(Item::not_imported(kind, shown, reason.clone()));
            }
            _ if entry.relative.ends_with(".DS_Store") => {}
            _ => match entry.relative.strip_suffix(".toml") {
                None => items.push(Item::skipped(
                    kind,
                    shown,
                    format!("not a `.toml` file, so the tool does not read it as a {kind}"),
                )),
                Some(id) => items.push(item(&entry.path, &shown, id, dialect)),
            },
        }
    }
    items
}

fn item(path: &Path, shown: &str, id: &str, dialect: &TomlDialect) -> Item {
    let kind = dialect.kind;
    let table = match read_text(path).and_then(|text| {
        toml::from_str::<toml::Table>(&text)
            .map_err(|e| format!("does not parse as TOML: {}", e.message()))
    }) {
        Ok(table) => table,
        Err(reason) => return Item::not_imported(kind, shown, reason),
    };
    let extra: Vec<&String> = table
        .keys()
        .filter(|k| *k != dialect.body && !dialect.keys.contains(&k.as_str()))
        .collect();
    if !extra.is_empty() {
        return Item::unsupported_keys(kind, shown, &extra);
    }
    let Some(body) = table.get(dialect.body).and_then(toml::Value::as_str) else {
        return Item::not_imported(kind, shown, format!("has no `{}` string", dialect.body));
    };
    let mut body = body.to_string();
    for (theirs, ours) in dialect.placeholders {
        body = body.replace(theirs, ours);
    }
    // JSON values are YAML flow values: every string is quoted, lists stay lists.
    let mut frontmatter = String::new();
    for key in dialect.keys {
        if let Some(value) = table.get(*key)
            && let Ok(json) = serde_json::to_value(value)
        {
            frontmatter.push_str(&format!("{key}: {json}\n"));
        }
    }
    let mut text = String::new();
    if !frontmatter.is_empty() {
        text = format!("---\n{frontmatter}---\n");
    }
    // The body exactly as the tool had it (no newline added), so it renders back the same.
    text.push_str(&body);
    let file = LibraryFile {
        path: format!("{}/{id}{}", dialect.folder, dialect.suffix),
        content: Content::Bytes {
            bytes: text.into_bytes(),
            mode: 0o644,
        },
    };
    Item::imported(kind, id, shown, vec![file])
}
