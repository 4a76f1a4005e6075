//! Rule files of tools that keep one rule per file with their own frontmatter, converted to
//! kiln's (`description`, `activation`, `globs`) with the body verbatim: Cursor `.mdc`
//! (`description`, `globs`, `alwaysApply`), Windsurf (`trigger`, `globs`), Copilot
//! `*.instructions.md` (`applyTo`), Cline (`paths`). Real rules often carry frontmatter that is
//! not YAML (`globs: **/*.tsx`), globs as a comma string, or an empty `globs:`; the tools read
//! them all, and so does kiln (with a warning for what it repaired).

use std::path::Path;

use serde_json::Value;

use crate::source::{EntryKind, read_text, walk};
use crate::{Item, LibraryFile, frontmatter};

/// How a tool's rule frontmatter reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RuleDialect {
    /// `description`, `globs`, `alwaysApply` (`.mdc`).
    Cursor,
    /// `trigger: always_on | glob | model_decision | manual`, `globs`, `description`.
    Windsurf,
    /// `applyTo` (comma-separated globs; `**` = always; none = attached by hand), `description`.
    Copilot,
    /// `paths` (a glob list; none = always).
    Cline,
}

impl RuleDialect {
    fn suffixes(self) -> &'static [&'static str] {
        match self {
            RuleDialect::Cursor => &[".mdc", ".md"],
            RuleDialect::Windsurf => &[".md"],
            RuleDialect::Copilot => &[".instructions.md"],
            RuleDialect::Cline => &[".md", ".txt"],
        }
    }

    fn keys(self) -> &'static [&'static str] {
        match self {
            RuleDialect::Cursor => &["description", "globs", "alwaysApply"],
            RuleDialect::Windsurf => &["description", "globs", "trigger"],
            RuleDialect::Copilot => &["description", "applyTo", "name"],
            RuleDialect::Cline => &["description", "paths"],
        }
    }
}

/// Every rule file below `dir` (`label` is how the source names it).
pub(crate) fn tree(dir: &Path, label: &str, dialect: RuleDialect) -> Vec<Item> {
    let mut items = Vec::new();
    for entry in walk(dir) {
        let shown = format!("{label}/{}", entry.relative);
        // Cline keeps workflows and hooks in subfolders of its rules folder.
        if dialect == RuleDialect::Cline
            && (entry.relative.starts_with("workflows/") || entry.relative.starts_with("hooks/"))
        {
            continue;
        }
        let stem = dialect
            .suffixes()
            .iter()
            .find_map(|suffix| entry.relative.strip_suffix(suffix));
        match (&entry.kind, stem) {
            (EntryKind::Dir, _) => {}
            (EntryKind::Unusable(reason), _) => {
                items.push(Item::not_imported("rule", shown, reason.clone()));
            }
            (_, None) => items.push(Item::skipped(
                "rule",
                shown,
                format!(
                    "not a {} file, so the tool does not read it as a rule",
                    dialect.suffixes().join(" or ")
                ),
            )),
            (EntryKind::File | EntryKind::Symlink, Some(id)) => {
                items.push(rule(&entry.path, &shown, id, dialect));
            }
        }
    }
    items
}

/// A tool's rule as a kiln Markdown rule: always-on, glob (a comma string split, never inside
/// braces), agent-requested (a description alone) or manual; the body verbatim.
fn rule(path: &Path, shown: &str, id: &str, dialect: RuleDialect) -> Item {
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
    let globs_of = |key: &str| -> Vec<String> {
        match fields.get(key) {
            Some(Value::String(text)) => split_globs(text),
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(Value::as_str)
                .flat_map(split_globs)
                .collect(),
            _ => Vec::new(),
        }
    };
    let (activation, globs) = match dialect {
        RuleDialect::Cursor => {
            let globs = globs_of("globs");
            let always = fields.get("alwaysApply").and_then(Value::as_bool) == Some(true);
            (
                described(always, !globs.is_empty(), description.is_some()),
                globs,
            )
        }
        RuleDialect::Windsurf => {
            let globs = globs_of("globs");
            let activation = match fields.get("trigger").and_then(Value::as_str) {
                Some("always_on") | None => "always",
                Some("glob") => "glob",
                Some("model_decision") => "agent-requested",
                Some("manual") => "manual",
                Some(other) => {
                    return Item::not_imported(
                        "rule",
                        shown,
                        format!("`trigger: {other}` is not one Windsurf knows"),
                    );
                }
            };
            (activation, globs)
        }
        RuleDialect::Copilot => {
            let globs = globs_of("applyTo");
            if globs.iter().any(|g| g == "**" || g == "**/*") {
                ("always", Vec::new())
            } else if globs.is_empty() {
                ("manual", globs)
            } else {
                ("glob", globs)
            }
        }
        RuleDialect::Cline => {
            let globs = globs_of("paths");
            if globs.is_empty() {
                ("always", globs)
            } else {
                ("glob", globs)
            }
        }
    };
    for key in fields.keys() {
        if !dialect.keys().contains(&key.as_str()) {
            warnings.push(format!("the tool does not read `{key}`; left out"));
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

/// Cursor's activation: `alwaysApply`, else globs, else a description, else by hand.
fn described(always: bool, globs: bool, description: bool) -> &'static str {
    if always {
        "always"
    } else if globs {
        "glob"
    } else if description {
        "agent-requested"
    } else {
        "manual"
    }
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
