//! Cursor's layout (tool-formats.md §3): project rules in `.cursor/rules/**/*.mdc` with
//! `description`, `globs` and `alwaysApply`, MCP servers in `.cursor/mcp.json` (project) or
//! `~/.cursor/mcp.json` (global). Real rules often carry frontmatter that is not YAML
//! (`globs: **/*.tsx`), `globs` as a comma string, or an empty `globs:`; Cursor reads them all.

use std::path::Path;

use serde_json::Value;

use crate::source::{EntryKind, read_text, walk};
use crate::{ImportScope, Item, LibraryFile, frontmatter, mcp};

pub(crate) fn items(source: &Path, scope: ImportScope) -> Vec<Item> {
    let mut items = Vec::new();
    let dot = source.join(".cursor");
    if scope == ImportScope::Project {
        for entry in walk(&dot.join("rules")) {
            let shown = format!(".cursor/rules/{}", entry.relative);
            match &entry.kind {
                EntryKind::Dir => {}
                EntryKind::Unusable(reason) => {
                    items.push(Item::not_imported("rule", shown, reason.clone()));
                }
                _ if !(entry.relative.ends_with(".mdc") || entry.relative.ends_with(".md")) => {
                    items.push(Item::skipped(
                        "rule",
                        shown,
                        "not a `.mdc` or `.md` file, so Cursor does not read it as a rule",
                    ));
                }
                EntryKind::File | EntryKind::Symlink => {
                    let id = entry
                        .relative
                        .trim_end_matches(".mdc")
                        .trim_end_matches(".md")
                        .to_string();
                    items.push(rule(&entry.path, &shown, &id));
                }
            }
        }
    }
    let servers = dot.join("mcp.json");
    if servers.exists() {
        items.extend(mcp::from_file(&servers, ".cursor/mcp.json", "mcpServers"));
    }
    items
}

/// A Cursor rule as a kiln Markdown rule: `alwaysApply` becomes `activation: always`, globs
/// `activation: glob` (a comma string split, never inside braces), a description alone
/// `agent-requested`, nothing `manual`; the body verbatim.
fn rule(path: &Path, shown: &str, id: &str) -> Item {
    let text = match read_text(path) {
        Ok(text) => text,
        Err(reason) => return Item::not_imported("rule", shown, reason),
    };
    let checked = match frontmatter::check(&text) {
        Ok(checked) => checked,
        Err(reason) => return Item::not_imported("rule", shown, reason),
    };
    let body = match kiln_core::markdown::split_frontmatter(&checked.text) {
        Some(frontmatter) => frontmatter.body.to_string(),
        None => checked.text.clone(),
    };
    let mut warnings = checked.warnings.clone();
    let fields = &checked.fields;
    let description = fields
        .get("description")
        .and_then(Value::as_str)
        .filter(|d| !d.trim().is_empty());
    let globs: Vec<String> = match fields.get("globs") {
        Some(Value::String(text)) => split_globs(text),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .flat_map(split_globs)
            .collect(),
        _ => Vec::new(),
    };
    let always = fields.get("alwaysApply").and_then(Value::as_bool) == Some(true);
    let activation = if always {
        "always"
    } else if !globs.is_empty() {
        "glob"
    } else if description.is_some() {
        "agent-requested"
    } else {
        "manual"
    };
    for key in fields.keys() {
        if !matches!(key.as_str(), "description" | "globs" | "alwaysApply") {
            warnings.push(format!("Cursor does not read `{key}`; left out"));
        }
    }
    let mut out = String::from("---\n");
    if let Some(description) = description {
        out.push_str(&format!("description: {}\n", quoted(description)));
    }
    out.push_str(&format!("activation: {activation}\n"));
    if !globs.is_empty() && activation == "glob" {
        out.push_str("globs:\n");
        for glob in &globs {
            out.push_str(&format!("  - {}\n", quoted(glob)));
        }
    }
    out.push_str("---\n");
    out.push_str(&body);
    Item::imported(
        "rule",
        id,
        shown,
        vec![LibraryFile::text(format!("rules/{id}.rule.md"), out)],
    )
    .with_warnings(warnings)
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// `*.ts, *.tsx` → two globs; `**/*.{ts,tsx}` stays one (commas inside braces do not split).
pub(crate) fn split_globs(text: &str) -> Vec<String> {
    let mut globs = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in text.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if c == ',' && depth == 0 {
            globs.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    globs.push(current);
    globs
        .into_iter()
        .map(|g| g.trim().to_string())
        .filter(|g| !g.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comma_strings_split_but_brace_globs_stay_whole() {
        assert_eq!(split_globs("*.ts, *.tsx"), ["*.ts", "*.tsx"]);
        assert_eq!(split_globs("**/*.{ts,tsx}"), ["**/*.{ts,tsx}"]);
        assert_eq!(
            split_globs("src/**/*.{a,b}, docs/*.md,"),
            ["src/**/*.{a,b}", "docs/*.md"]
        );
        assert_eq!(split_globs(""), Vec::<String>::new());
    }
}
