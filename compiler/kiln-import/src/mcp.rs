//! MCP servers from a tool's JSON or JSONC file (`mcpServers` in `~/.claude.json`, `.mcp.json`,
//! `.cursor/mcp.json`): one `*.mcp.json` component per server, values verbatim (`op://`
//! references and `${VAR}` stay as they are).

use std::path::Path;

use serde_json::{Map, Value};

use crate::source::read_text;
use crate::{Item, LibraryFile};

/// Every server under `key` of the file at `path`.
pub(crate) fn from_file(path: &Path, label: &str, key: &str) -> Vec<Item> {
    let text = match read_text(path) {
        Ok(text) => text,
        Err(reason) => return vec![Item::not_imported("mcp", label, reason)],
    };
    let root = match parse_jsonc(&text) {
        Ok(root) => root,
        Err(reason) => return vec![Item::not_imported("mcp", label, reason)],
    };
    let Some(servers) = root.get(key) else {
        return Vec::new();
    };
    let Some(servers) = servers.as_object() else {
        return vec![Item::not_imported(
            "mcp",
            format!("{label}: {key}"),
            "is not an object",
        )];
    };
    servers
        .iter()
        .map(|(name, server)| server_item(name, server, &format!("{label}: {key}.{name}")))
        .collect()
}

/// JSON or JSONC (comments, trailing commas), as tools' settings files are.
pub(crate) fn parse_jsonc(text: &str) -> Result<Value, String> {
    let options = jsonc_parser::ParseOptions {
        allow_comments: true,
        allow_trailing_commas: true,
        ..Default::default()
    };
    match jsonc_parser::parse_to_serde_value::<Value>(text, &options) {
        Ok(Value::Null) => Ok(Value::Object(Map::new())),
        Ok(value) => Ok(value),
        Err(error) => Err(format!("does not parse: {error}")),
    }
}

/// The keys kiln's MCP kind holds.
const KNOWN: &[&str] = &[
    "type",
    "transport",
    "command",
    "args",
    "env",
    "cwd",
    "url",
    "headers",
];

fn server_item(name: &str, server: &Value, shown: &str) -> Item {
    let Some(fields) = server.as_object() else {
        return Item::not_imported("mcp", shown, "is not an object");
    };
    let extra: Vec<&String> = fields
        .keys()
        .filter(|k| !KNOWN.contains(&k.as_str()))
        .collect();
    if !extra.is_empty() {
        return Item::not_imported(
            "mcp",
            shown,
            format!(
                "has {} which kiln's MCP kind cannot hold yet",
                extra
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    let declared = fields
        .get("type")
        .or_else(|| fields.get("transport"))
        .and_then(Value::as_str);
    let transport = match declared {
        Some("stdio") | None if fields.contains_key("command") => "stdio",
        Some("http") | Some("streamable-http") | Some("streamableHttp") => "http",
        Some("sse") => "sse",
        None if fields.contains_key("url") => "http",
        Some(other) => {
            return Item::not_imported(
                "mcp",
                shown,
                format!("transport `{other}` is not one kiln knows (stdio, http, sse)"),
            );
        }
        None => return Item::not_imported("mcp", shown, "has neither `command` nor `url`"),
    };
    let mut spec = Map::new();
    let valid_name = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !valid_name {
        return Item::not_imported(
            "mcp",
            shown,
            "its name is not letters, digits, `_`, `.` and `-`; rename it in the tool first",
        );
    }
    spec.insert("transport".into(), Value::from(transport));
    for key in ["command", "args", "env", "cwd", "url", "headers"] {
        if let Some(value) = fields.get(key) {
            spec.insert(key.into(), value.clone());
        }
    }
    let mut warnings = Vec::new();
    for (what, map) in [
        ("env", fields.get("env")),
        ("headers", fields.get("headers")),
    ] {
        for (key, value) in map.and_then(Value::as_object).into_iter().flatten() {
            if value.as_str().is_some_and(looks_like_token) {
                warnings.push(format!(
                    "{what}.{key} looks like a literal token; store it in 1Password and write an `op://vault/item/field` reference instead"
                ));
            }
        }
    }
    for arg in fields
        .get("args")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(arg) = arg.as_str()
            && (arg.starts_with('/') || arg.starts_with("~/"))
        {
            warnings.push(format!(
                "an argument points at `{arg}`, which is not imported; make sure it exists on every machine"
            ));
        }
    }
    let mut text = serde_json::to_string_pretty(&Value::Object(spec)).unwrap_or_default();
    text.push('\n');
    Item::imported(
        "mcp",
        name,
        shown,
        vec![LibraryFile::text(format!("mcp/{name}.mcp.json"), text)],
    )
    .with_warnings(warnings)
}

/// A value that is probably a credential typed in: long, no spaces, letters and digits mixed,
/// and neither a secret reference nor an environment reference.
fn looks_like_token(value: &str) -> bool {
    if value.contains("op://") || value.contains("${") || value.contains('$') {
        return false;
    }
    let token = value.rsplit(' ').next().unwrap_or(value);
    token.len() >= 20
        && token.chars().any(|c| c.is_ascii_digit())
        && token.chars().any(|c| c.is_ascii_alphabetic())
        && token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_told_from_references() {
        assert!(looks_like_token("ghp_abcdefghijklmnopqrstuvwxyz0123456789"));
        assert!(looks_like_token("Bearer sk-ant-api03-abcdefghijklmnop1234"));
        assert!(!looks_like_token("op://Private/GitHub/token"));
        assert!(!looks_like_token("Bearer op://Private/GitHub/token"));
        assert!(!looks_like_token("${GITHUB_TOKEN}"));
        assert!(!looks_like_token("production"));
    }

    #[test]
    fn a_jsonc_file_with_comments_and_trailing_commas_is_read() {
        let value =
            parse_jsonc("// servers\n{ \"a\": { \"url\": \"https://x\", }, }").expect("jsonc");
        let item = server_item("a", &value["a"], "x");
        assert_eq!(item.outcome, crate::Outcome::Imported);
        assert!(
            String::from_utf8_lossy(match &item.files[0].content {
                crate::Content::Bytes { bytes, .. } => bytes,
                crate::Content::Symlink { .. } => unreachable!(),
            })
            .contains("\"transport\": \"http\"")
        );
    }
}
