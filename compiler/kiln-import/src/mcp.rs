//! MCP servers from a tool's JSON or JSONC file (`mcpServers` in `~/.claude.json`, `.mcp.json`,
//! `.cursor/mcp.json`): one `*.mcp.json` component per server, values verbatim (`op://`
//! references and `${VAR}` stay as they are).

use std::path::Path;

use serde_json::{Map, Value};

use crate::source::read_text;
use crate::{Item, LibraryFile};

/// How a tool's file holds its servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum McpDialect {
    /// JSON/JSONC `mcpServers` (Claude, Cursor, Gemini, Windsurf, Cline, Claude Desktop, Copilot CLI).
    McpServers,
    /// VS Code's `servers`.
    Servers,
    /// Zed's `context_servers` (JSONC).
    ContextServers,
    /// Codex `[mcp_servers.<name>]` in `config.toml`.
    CodexToml,
    /// opencode's `mcp` (`type: local` with a command list and `environment`, or `remote`).
    Opencode,
}

/// Every server in a tool's file.
pub(crate) fn from_dialect(path: &Path, label: &str, dialect: McpDialect) -> Vec<Item> {
    match dialect {
        McpDialect::McpServers => from_file(path, label, "mcpServers"),
        McpDialect::Servers => from_file(path, label, "servers"),
        McpDialect::ContextServers => from_file(path, label, "context_servers"),
        McpDialect::CodexToml => {
            let root = read_text(path).and_then(|text| {
                toml::from_str::<toml::Table>(&text)
                    .map_err(|e| format!("does not parse as TOML: {}", e.message()))
                    .and_then(|t| serde_json::to_value(t).map_err(|e| e.to_string()))
            });
            match root {
                Ok(root) => servers_under(&root, label, "mcp_servers", codex_entry),
                Err(reason) => vec![Item::not_imported("mcp", label, reason)],
            }
        }
        McpDialect::Opencode => match read_text(path).and_then(|t| parse_jsonc(&t)) {
            Ok(root) => servers_under(&root, label, "mcp", opencode_entry),
            Err(reason) => vec![Item::not_imported("mcp", label, reason)],
        },
    }
}

/// Codex spells headers `http_headers`.
fn codex_entry(fields: &Map<String, Value>) -> Map<String, Value> {
    fields
        .iter()
        .map(|(k, v)| match k.as_str() {
            "http_headers" => ("headers".to_string(), v.clone()),
            _ => (k.clone(), v.clone()),
        })
        .collect()
}

/// opencode: `command` is a list (program first), `environment` is `env`, `type` is
/// `local`/`remote`; `enabled: true` says nothing kiln keeps.
fn opencode_entry(fields: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in fields {
        match (key.as_str(), value) {
            ("command", Value::Array(parts)) => {
                if let Some((program, args)) = parts.split_first() {
                    out.insert("command".into(), program.clone());
                    if !args.is_empty() {
                        out.insert("args".into(), Value::Array(args.to_vec()));
                    }
                }
            }
            ("environment", _) => {
                out.insert("env".into(), value.clone());
            }
            ("type", Value::String(kind)) if kind == "local" || kind == "remote" => {}
            ("enabled", Value::Bool(true)) => {}
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    out
}

fn same(fields: &Map<String, Value>) -> Map<String, Value> {
    fields.clone()
}

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
    servers_under(&root, label, key, same)
}

fn servers_under(
    root: &Value,
    label: &str,
    key: &str,
    normalise: fn(&Map<String, Value>) -> Map<String, Value>,
) -> Vec<Item> {
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
        .map(|(name, server)| {
            let shown = format!("{label}: {key}.{name}");
            match server.as_object() {
                Some(fields) => server_item(name, &Value::Object(normalise(fields)), &shown),
                None => Item::not_imported("mcp", shown, "is not an object"),
            }
        })
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
    // Windsurf's `serverUrl` and Gemini's `httpUrl` are the server's URL.
    let mut fields = fields.clone();
    for alias in ["serverUrl", "httpUrl"] {
        if let Some(url) = fields.remove(alias) {
            fields.entry("url").or_insert(url);
        }
    }
    let fields = &fields;
    let extra: Vec<&String> = fields
        .keys()
        .filter(|k| !KNOWN.contains(&k.as_str()))
        .collect();
    if !extra.is_empty() {
        return Item::unsupported_keys("mcp", shown, &extra);
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
