//! Claude Code's layout (tool-formats.md §2): `CLAUDE.md`, `.claude/rules/**/*.md`,
//! `.claude/skills/<name>/SKILL.md`, `.claude/commands/**/*.md` (folders namespace),
//! `.claude/agents/**/*.md` (category folders), hooks in `.claude/settings.json`, MCP servers in
//! `~/.claude.json` (global) or `.mcp.json` (project).

use std::path::Path;

use serde_json::{Map, Value};

use crate::source::{EntryKind, read_text, walk};
use crate::{Content, ImportScope, Item, LibraryFile, frontmatter, mcp};

/// Tool-specific suffixes stripped from a Markdown file's name to give its id.
const SUFFIXES: &[&str] = &[".prompt.md", ".agent.md", ".instructions.md", ".md"];

pub(crate) fn items(source: &Path, scope: ImportScope) -> Vec<Item> {
    let dot = source.join(".claude");
    let mut items = Vec::new();
    let memories: &[&str] = match scope {
        ImportScope::Global => &[".claude/CLAUDE.md"],
        ImportScope::Project => &["CLAUDE.md", ".claude/CLAUDE.md"],
    };
    for memory in memories {
        let path = source.join(memory);
        if path.exists() {
            let id = if memory.starts_with(".claude/") && scope == ImportScope::Project {
                "claude-dir-md"
            } else {
                "claude-md"
            };
            items.push(markdown_item(
                &path, memory, "rule", id, "rules", ".rule.md",
            ));
        }
    }
    items.extend(markdown_tree(
        &dot.join("rules"),
        ".claude/rules",
        "rule",
        "rules",
        ".rule.md",
    ));
    items.extend(markdown_tree(
        &dot.join("commands"),
        ".claude/commands",
        "command",
        "commands",
        ".command.md",
    ));
    items.extend(markdown_tree(
        &dot.join("agents"),
        ".claude/agents",
        "agent",
        "agents",
        ".agent.md",
    ));
    items.extend(skills(&dot.join("skills"), ".claude/skills"));
    items.extend(settings(
        &dot.join("settings.json"),
        ".claude/settings.json",
        scope,
    ));
    let (servers, label) = match scope {
        ImportScope::Global => (source.join(".claude.json"), ".claude.json"),
        ImportScope::Project => (source.join(".mcp.json"), ".mcp.json"),
    };
    if servers.exists() {
        items.extend(mcp::from_dialect(
            "claude-code",
            &servers,
            label,
            mcp::McpDialect::McpServers,
        ));
    }
    items
}

/// Every `*.md` below `dir` as a component of `kind`; the id is the path without `.md`, so
/// ten `create.md` in ten folders stay ten commands.
pub(crate) fn markdown_tree(
    dir: &Path,
    label: &str,
    kind: &'static str,
    folder: &str,
    suffix: &str,
) -> Vec<Item> {
    let mut items = Vec::new();
    for entry in walk(dir) {
        let shown = format!("{label}/{}", entry.relative);
        let name = entry.relative.rsplit('/').next().unwrap_or_default();
        match &entry.kind {
            EntryKind::Dir => {}
            EntryKind::Unusable(reason) => {
                items.push(Item::not_imported(kind, shown, reason.clone()));
            }
            _ if name == ".DS_Store" => {}
            _ if !entry.relative.ends_with(".md") => items.push(Item::skipped(
                kind,
                shown,
                format!("not a `.md` file, so the tool does not read it as a {kind}"),
            )),
            EntryKind::File | EntryKind::Symlink => {
                let id = SUFFIXES
                    .iter()
                    .find_map(|suffix| entry.relative.strip_suffix(suffix))
                    .unwrap_or(&entry.relative)
                    .to_string();
                items.push(markdown_item(
                    &entry.path,
                    &shown,
                    kind,
                    &id,
                    folder,
                    suffix,
                ));
            }
        }
    }
    items
}

/// One Markdown file (a symlink is read through: its content is imported).
pub(crate) fn markdown_item(
    path: &Path,
    shown: &str,
    kind: &'static str,
    id: &str,
    folder: &str,
    suffix: &str,
) -> Item {
    let mut warnings = Vec::new();
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        let target = std::fs::read_link(path)
            .map(|t| t.display().to_string())
            .unwrap_or_default();
        if !path.is_file() {
            return Item::not_imported(kind, shown, format!("a dangling symlink (to `{target}`)"));
        }
        warnings.push(format!("a symlink to `{target}`: its content was imported"));
    }
    let text = match read_text(path) {
        Ok(text) => text,
        Err(reason) => return Item::not_imported(kind, shown, reason),
    };
    let checked = match frontmatter::check(&text) {
        Ok(checked) => checked,
        Err(reason) => return Item::not_imported(kind, shown, reason),
    };
    if kind == "agent" && folder_is_claude(shown) && !checked.fields.contains_key("name") {
        warnings.push(
            "has no `name`, which Claude Code requires of a subagent (it skips the file); kiln names it after its path"
                .to_string(),
        );
    }
    warnings.extend(checked.warnings);
    let file = LibraryFile {
        path: format!("{folder}/{id}{suffix}"),
        content: Content::Bytes {
            bytes: checked.text.into_bytes(),
            mode: crate::source::mode(path),
        },
    };
    Item::imported(kind, id, shown, vec![file]).with_warnings(warnings)
}

/// Whether a source path is Claude Code's (which skips a subagent without `name`).
fn folder_is_claude(shown: &str) -> bool {
    shown.starts_with(".claude/")
}

/// `skills/<name>/SKILL.md` folders, byte for byte with every asset.
pub(crate) fn skills(dir: &Path, label: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return items;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let shown = format!("{label}/{name}");
        if name == ".DS_Store" {
            continue;
        }
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            items.push(Item::not_imported("skill", shown, "its name is not UTF-8"));
            continue;
        };
        let path = entry.path();
        let mut warnings = Vec::new();
        let is_link = entry.file_type().is_ok_and(|t| t.is_symlink());
        if is_link {
            let target = std::fs::read_link(&path)
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            if !path.is_dir() {
                items.push(Item::not_imported(
                    "skill",
                    shown,
                    format!("a dangling symlink (to `{target}`), or one to a file"),
                ));
                continue;
            }
            warnings.push(format!(
                "a symlink to `{target}`: the folder it leads to was imported"
            ));
        } else if !path.is_dir() {
            items.push(Item::skipped(
                "skill",
                shown,
                "a loose file at the root of skills/; a skill is a folder holding SKILL.md",
            ));
            continue;
        }
        items.push(skill(&path, &shown, &name, warnings));
    }
    items
}

fn skill(dir: &Path, shown: &str, name: &str, mut warnings: Vec<String>) -> Item {
    let entries = walk(dir);
    let skill_file = if dir.join("SKILL.md").is_file() && has_entry(&entries, "SKILL.md") {
        "SKILL.md"
    } else if let Some(other) = entries
        .iter()
        .find(|e| !e.relative.contains('/') && e.relative.eq_ignore_ascii_case("skill.md"))
    {
        warnings.push(format!(
            "its skill file is spelled `{}`; imported as `SKILL.md`, the only spelling tools read",
            other.relative
        ));
        other.relative.as_str()
    } else {
        return Item::not_imported(
            "skill",
            shown,
            "the folder holds no SKILL.md, so no tool reads it as a skill",
        );
    };
    let text = match read_text(&dir.join(skill_file)) {
        Ok(text) => text,
        Err(reason) => return Item::not_imported("skill", shown, format!("{skill_file} {reason}")),
    };
    let checked = match frontmatter::check(&text) {
        Ok(checked) => checked,
        Err(reason) => {
            return Item::not_imported("skill", shown, format!("{skill_file}: {reason}"));
        }
    };
    if !checked.has_frontmatter {
        warnings
            .push("SKILL.md has no frontmatter; the skill is named after its folder".to_string());
    }
    warnings.extend(checked.warnings.iter().map(|w| format!("SKILL.md {w}")));
    let mut files = vec![LibraryFile {
        path: format!("skills/{name}/SKILL.md"),
        content: Content::Bytes {
            bytes: checked.text.into_bytes(),
            mode: crate::source::mode(&dir.join(skill_file)),
        },
    }];
    for entry in &entries {
        if entry.relative == skill_file {
            continue;
        }
        let first = entry.relative.split('/').next().unwrap_or_default();
        let last = entry.relative.rsplit('/').next().unwrap_or_default();
        if first == ".git" || last == ".DS_Store" {
            if entry.relative == ".git" || last == ".DS_Store" {
                warnings.push(format!(
                    "left out `{}` (never part of a skill)",
                    entry.relative
                ));
            }
            continue;
        }
        let target = format!("skills/{name}/{}", entry.relative);
        match &entry.kind {
            EntryKind::Dir => {}
            EntryKind::File => files.push(LibraryFile {
                path: target,
                content: Content::Bytes {
                    bytes: match std::fs::read(&entry.path) {
                        Ok(bytes) => bytes,
                        Err(error) => {
                            warnings.push(format!("left out `{}`: {error}", entry.relative));
                            continue;
                        }
                    },
                    mode: crate::source::mode(&entry.path),
                },
            }),
            EntryKind::Symlink => match inside_link(dir, &entry.path) {
                Ok(link) => files.push(LibraryFile {
                    path: target,
                    content: Content::Symlink { target: link },
                }),
                Err(why) => warnings.push(format!("left out `{}`: {why}", entry.relative)),
            },
            EntryKind::Unusable(reason) => {
                warnings.push(format!("left out `{}`: {reason}", entry.relative));
            }
        }
    }
    Item::imported("skill", name, shown, files).with_warnings(warnings)
}

fn has_entry(entries: &[crate::source::Entry], relative: &str) -> bool {
    entries.iter().any(|e| e.relative == relative)
}

/// A symlink's target as written, when it resolves to something inside the skill folder.
fn inside_link(skill: &Path, link: &Path) -> Result<std::path::PathBuf, String> {
    let target = std::fs::read_link(link).map_err(|e| e.to_string())?;
    let resolved = link
        .canonicalize()
        .map_err(|_| format!("a dangling symlink (to `{}`)", target.display()))?;
    let root = skill.canonicalize().map_err(|e| e.to_string())?;
    if resolved.starts_with(&root) && target.is_relative() {
        Ok(target)
    } else {
        Err(format!(
            "a symlink leading out of the skill (to `{}`)",
            target.display()
        ))
    }
}

/// Hooks from a settings file, one component per handler; the other keys of the file as one
/// `settings` component (order inside each value kept: permission lists stay in order).
fn settings(path: &Path, label: &str, scope: ImportScope) -> Vec<Item> {
    let mut items = Vec::new();
    if !path.exists() {
        return items;
    }
    let root = match read_text(path).and_then(|text| {
        serde_json::from_str::<Value>(&text).map_err(|e| format!("does not parse as JSON: {e}"))
    }) {
        Ok(Value::Object(root)) => root,
        Ok(_) => {
            return vec![Item::not_imported(
                "settings",
                label,
                "is not a JSON object",
            )];
        }
        Err(reason) => return vec![Item::not_imported("settings", label, reason)],
    };
    if let Some(hooks) = root.get("hooks") {
        items.extend(hooks_of("claude-code", hooks, label));
    }
    let rest: Map<String, Value> = root.into_iter().filter(|(key, _)| key != "hooks").collect();
    if !rest.is_empty() {
        let id = format!("claude-code-{}", scope.as_str());
        let spec = serde_json::json!({
            "scope": scope.as_str(),
            "tool": "claude-code",
            "settings": rest,
        });
        let mut text = serde_json::to_string_pretty(&spec).unwrap_or_default();
        text.push('\n');
        items.push(Item::imported(
            "settings",
            id.clone(),
            label,
            vec![LibraryFile::text(
                format!("settings/{id}.settings.json"),
                text,
            )],
        ));
    }
    items
}

/// The hooks of a `hooks` object in Claude Code's shape (`{Event: [{matcher, hooks: [..]}]}`),
/// which Codex's `hooks.json` and Gemini CLI's settings share, with `tool`'s event names.
pub(crate) fn hooks_of(tool: &str, hooks: &Value, label: &str) -> Vec<Item> {
    let Some(events) = hooks.as_object() else {
        return vec![Item::not_imported(
            "hook",
            format!("{label}: hooks"),
            "`hooks` is not an object",
        )];
    };
    let mut items = Vec::new();
    for (event, groups) in events {
        let shown_event = format!("{label}: hooks.{event}");
        let Some(canonical) = crate::facts::canonical_event(tool, event) else {
            items.push(Item::not_imported(
                "hook",
                shown_event,
                format!("kiln has no canonical event for {tool}'s `{event}` yet"),
            ));
            continue;
        };
        let Some(groups) = groups.as_array() else {
            items.push(Item::not_imported("hook", shown_event, "is not a list"));
            continue;
        };
        let mut n = 0;
        for (g, group) in groups.iter().enumerate() {
            let matcher = group.get("matcher").and_then(Value::as_str);
            let handlers = group.get("hooks").and_then(Value::as_array);
            let Some(handlers) = handlers else {
                items.push(Item::not_imported(
                    "hook",
                    format!("{shown_event}[{g}]"),
                    "has no `hooks` list",
                ));
                continue;
            };
            for (h, handler) in handlers.iter().enumerate() {
                n += 1;
                let shown = format!("{shown_event}[{g}].hooks[{h}]");
                let hook = Hook {
                    tool,
                    matcher,
                    event: &canonical,
                    n,
                };
                items.push(hook.item(handler, shown));
            }
        }
    }
    items
}

/// One hook handler being read.
struct Hook<'a> {
    tool: &'a str,
    matcher: Option<&'a str>,
    /// kiln's event name.
    event: &'a str,
    /// Its place among the event's handlers, from 1 (for its id).
    n: usize,
}

impl Hook<'_> {
    fn item(&self, handler: &Value, shown: String) -> Item {
        let Some(fields) = handler.as_object() else {
            return Item::not_imported("hook", shown, "is not an object");
        };
        let kind = fields
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("command");
        if kind != "command" && kind != "prompt" {
            return Item::not_imported(
                "hook",
                shown,
                format!("a `{kind}` hook; kiln's hook kind holds commands and prompts so far"),
            );
        }
        // Gemini CLI names and describes each hook (kiln writes the id and description there)
        // and counts its timeout in milliseconds.
        let gemini = self.tool == "gemini";
        let extra: Vec<&String> = fields
            .keys()
            .filter(|k| {
                !matches!(k.as_str(), "type" | "timeout")
                    && *k != kind
                    && !(gemini && matches!(k.as_str(), "name" | "description"))
            })
            .collect();
        // Keys kiln's hook kind has no field for (`async`, `statusMessage`, …) are kept as
        // this tool's own (`native`, below), written back into its handler only.
        let Some(command) = fields.get(kind).and_then(Value::as_str) else {
            return Item::not_imported("hook", shown, format!("has no `{kind}` string"));
        };
        let mut spec = Map::new();
        if let Some(description) = fields.get("description").filter(|_| gemini) {
            spec.insert("description".into(), description.clone());
        }
        spec.insert("event".into(), Value::from(self.event));
        if let Some(matcher) = self.matcher.filter(|m| !m.is_empty() && *m != "*") {
            spec.insert("matcher".into(), Value::from(matcher));
        }
        spec.insert(kind.into(), Value::from(command));
        let mut warnings = Vec::new();
        let mut native: Map<String, Value> = extra
            .iter()
            .map(|key| ((*key).clone(), fields[key.as_str()].clone()))
            .collect();
        match fields.get("timeout") {
            Some(Value::Number(ms)) if gemini => {
                let ms = ms.as_u64().unwrap_or(0);
                let seconds = ms.div_ceil(1000);
                if ms % 1000 != 0 {
                    // Gemini CLI gets its milliseconds back; other tools the seconds.
                    native.insert("timeout".into(), Value::from(ms));
                    warnings.push(format!(
                        "timeout {ms} ms: kept for Gemini CLI, {seconds} s for other tools (kiln counts hook timeouts in seconds)"
                    ));
                }
                spec.insert("timeout".into(), Value::from(seconds));
            }
            Some(timeout) => {
                spec.insert("timeout".into(), timeout.clone());
            }
            None => {}
        }
        if !extra.is_empty() {
            warnings.push(format!(
                "{} kept as {}'s own (`native.{}`), written back for {} only",
                extra
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                self.tool,
                self.tool,
                self.tool
            ));
        }
        if !native.is_empty() {
            let mut by_tool = Map::new();
            by_tool.insert(self.tool.to_string(), Value::Object(native));
            spec.insert("native".into(), Value::Object(by_tool));
        }
        let named = fields
            .get("name")
            .filter(|_| gemini)
            .and_then(Value::as_str)
            .filter(|name| crate::valid_id_segment(name));
        let id = named.map_or_else(|| format!("{}-{}", self.event, self.n), ToString::to_string);
        let mut text = serde_json::to_string_pretty(&Value::Object(spec)).unwrap_or_default();
        text.push('\n');
        Item::imported(
            "hook",
            id.clone(),
            shown,
            vec![LibraryFile::text(format!("hooks/{id}.hook.json"), text)],
        )
        .with_warnings(warnings)
    }
}
