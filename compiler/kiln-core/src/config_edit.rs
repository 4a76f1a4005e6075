//! `kiln config set` / `unset`: edits of one configuration file that keep its comments and
//! layout (toml_edit), checked against the configuration schema before anything is written.

use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, Table, Value};

/// A value as typed on the command line: TOML when it parses as a TOML value (`true`, `30`,
/// `["claude-code", "codex"]`, `"x"`), else the text itself as a string.
pub fn parse_value(text: &str) -> Value {
    text.parse::<Value>()
        .unwrap_or_else(|_| Value::from(text.to_string()))
}

/// `text` with `key` (dotted: `profile`, `hosts.laptop`, `tools.codex.mode`) set to `value`,
/// or removed when `value` is `None` (tables left empty by a removal go too, unless a comment
/// sits on them). Comments and
/// the order of everything else are kept.
pub fn edit(text: &str, key: &str, value: Option<Value>) -> Result<String, String> {
    let mut document: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| format!("does not parse as TOML: {}", e.message()))?;
    let segments: Vec<&str> = key.split('.').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err(format!(
            "`{key}` is not a dotted key (`profile`, `hosts.laptop`)"
        ));
    }
    let (last, parents) = segments.split_last().expect("not empty");
    match value {
        Some(value) => {
            let mut table: &mut Table = document.as_table_mut();
            for parent in parents {
                let entry = table.entry(parent).or_insert_with(|| {
                    // Implicit: `[tools.codex]` alone, not an empty `[tools]` above it.
                    let mut table = Table::new();
                    table.set_implicit(true);
                    Item::Table(table)
                });
                if entry.is_inline_table() {
                    let inline = entry.as_inline_table().cloned().unwrap_or_default();
                    *entry = Item::Table(inline.into_table());
                }
                table = entry
                    .as_table_mut()
                    .ok_or_else(|| format!("`{parent}` is a value, not a table, in this file"))?;
            }
            table.insert(last, Item::Value(value));
        }
        None => {
            remove(document.as_table_mut(), parents, last)
                .then_some(())
                .ok_or_else(|| format!("`{key}` is not set in this file"))?;
        }
    }
    Ok(document.to_string())
}

fn remove(table: &mut Table, parents: &[&str], last: &str) -> bool {
    match parents.split_first() {
        None => table.remove(last).is_some(),
        Some((first, rest)) => {
            let Some(inner) = table.get_mut(first).and_then(Item::as_table_like_mut) else {
                return false;
            };
            let removed = match inner.get_mut(rest.first().copied().unwrap_or(last)) {
                _ if rest.is_empty() => inner.remove(last).is_some(),
                Some(item) => match item.as_table_mut() {
                    Some(next) => remove(next, &rest[1..], last),
                    None => false,
                },
                None => false,
            };
            // An emptied table goes, unless a comment sits on it (the comment would go too).
            let commented = table
                .get(first)
                .and_then(Item::as_table)
                .and_then(|t| t.decor().prefix())
                .and_then(|prefix| prefix.as_str())
                .is_some_and(|prefix| prefix.contains('#'));
            let empty = table
                .get(first)
                .and_then(Item::as_table_like)
                .is_some_and(|t| t.is_empty());
            if removed && empty && !commented {
                table.remove(first);
            }
            removed
        }
    }
}

/// Where a configuration file really is: symlinks followed one by one (a dangling link's
/// target is still known), as Home Manager links `~/.config/kiln/config.toml` into the store.
pub fn resolve(path: &Path) -> PathBuf {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::read_link(&current) {
            Ok(target) => {
                current = match current.parent() {
                    Some(parent) if target.is_relative() => parent.join(target),
                    _ => target,
                };
            }
            Err(_) => break,
        }
    }
    current
}

/// Whether a resolved path is in the read-only Nix store (Home Manager's files).
pub fn in_nix_store(resolved: &Path) -> bool {
    resolved.starts_with("/nix/store")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_keep_comments_and_order() {
        let text = "# my machine\nprofile = \"work\" # laptop\n\n[hosts]\nbox = \"server\"\n";
        let set = edit(text, "hosts.laptop", Some(parse_value("personal"))).expect("set");
        assert_eq!(
            set,
            "# my machine\nprofile = \"work\" # laptop\n\n[hosts]\nbox = \"server\"\nlaptop = \"personal\"\n"
        );
        let tools = edit(
            &set,
            "tools",
            Some(parse_value("[\"claude-code\", \"codex\"]")),
        )
        .expect("set");
        assert!(
            tools.contains("tools = [\"claude-code\", \"codex\"]"),
            "{tools}"
        );
        let nested = edit("", "tools.codex.mode", Some(parse_value("symlink"))).expect("set");
        assert_eq!(nested, "[tools.codex]\nmode = \"symlink\"\n");
        let unset = edit(&set, "hosts.box", None).expect("unset");
        assert!(
            !unset.contains("box") && unset.contains("laptop"),
            "{unset}"
        );
        let gone = edit("[hosts]\nbox = \"x\"\n", "hosts.box", None).expect("unset");
        assert_eq!(gone, "");
        assert!(edit(text, "nothing", None).is_err());
        assert!(edit("profile = \"x\"\n", "profile.sub", Some(parse_value("1"))).is_err());
    }

    #[test]
    fn home_manager_links_resolve_into_the_store() {
        let dir = tempfile::tempdir().expect("dir");
        let link = dir.path().join("config.toml");
        #[cfg(unix)]
        std::os::unix::fs::symlink("/nix/store/abc-home-manager-files/kiln/config.toml", &link)
            .expect("link");
        #[cfg(unix)]
        assert!(in_nix_store(&resolve(&link)));
        assert!(!in_nix_store(&resolve(&dir.path().join("other.toml"))));
    }
}
