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

/// Every server in `tool`'s file.
pub(crate) fn from_dialect(tool: &str, path: &Path, label: &str, dialect: McpDialect) -> Vec<Item> {
    let read = Reader { tool };
    match dialect {
        McpDialect::McpServers => read.file(path, label, "mcpServers"),
        McpDialect::Servers => read.file(path, label, "servers"),
        McpDialect::ContextServers => read.file(path, label, "context_servers"),
        McpDialect::CodexToml => {
            let root = read_text(path).and_then(|text| {
                toml::from_str::<toml::Table>(&text)
                    .map_err(|e| format!("does not parse as TOML: {}", e.message()))
                    .and_then(|t| serde_json::to_value(t).map_err(|e| e.to_string()))
            });
            match root {
                Ok(root) => read.servers_under(&root, label, "mcp_servers", codex_entry),
                Err(reason) => vec![Item::not_imported("mcp", label, reason)],
            }
        }
        McpDialect::Opencode => match read_text(path).and_then(|t| parse_jsonc(&t)) {
            Ok(root) => read.servers_under(&root, label, "mcp", opencode_entry),
            Err(reason) => vec![Item::not_imported("mcp", label, reason)],
        },
    }
}

/// Codex names its environment instead of interpolating it: `http_headers` are headers,
/// `bearer_token_env_var = "X"` is `Authorization: Bearer ${X}`, `env_http_headers` map a
/// header to a variable, `env_vars` forward variables — all kiln's `${VAR}` references.
fn codex_entry(fields: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    let mut headers = Map::new();
    let mut env = Map::new();
    for (key, value) in fields {
        match (key.as_str(), value) {
            ("http_headers", Value::Object(map)) => headers.extend(map.clone()),
            ("bearer_token_env_var", Value::String(variable)) => {
                headers.insert(
                    "Authorization".into(),
                    format!("Bearer ${{{variable}}}").into(),
                );
            }
            ("env_http_headers", Value::Object(map)) => {
                for (header, variable) in map {
                    if let Some(variable) = variable.as_str() {
                        headers.insert(header.clone(), format!("${{{variable}}}").into());
                    }
                }
            }
            ("env_vars", Value::Array(names)) => {
                for name in names.iter().filter_map(Value::as_str) {
                    env.insert(name.into(), format!("${{{name}}}").into());
                }
            }
            ("env", Value::Object(map)) => env.extend(map.clone()),
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    if !headers.is_empty() {
        out.insert("headers".into(), Value::Object(headers));
    }
    if !env.is_empty() {
        out.insert("env".into(), Value::Object(env));
    }
    out
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

/// Reads one tool's servers.
struct Reader<'a> {
    tool: &'a str,
}

impl Reader<'_> {
    /// Every server under `key` of the JSON/JSONC file at `path`.
    fn file(&self, path: &Path, label: &str, key: &str) -> Vec<Item> {
        let text = match read_text(path) {
            Ok(text) => text,
            Err(reason) => return vec![Item::not_imported("mcp", label, reason)],
        };
        let root = match parse_jsonc(&text) {
            Ok(root) => root,
            Err(reason) => return vec![Item::not_imported("mcp", label, reason)],
        };
        self.servers_under(&root, label, key, same)
    }

    fn servers_under(
        &self,
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
                    Some(fields) => self.server_item(name, normalise(fields), &shown),
                    None => Item::not_imported("mcp", shown, "is not an object"),
                }
            })
            .collect()
    }
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

/// The keys kiln's MCP kind holds; any other key is kept for the imported tool only
/// (`native.<tool>`).
const KNOWN: &[&str] = &[
    "type",
    "transport",
    "command",
    "args",
    "env",
    "cwd",
    "url",
    "headers",
    "description",
];

impl Reader<'_> {
    fn server_item(&self, name: &str, mut fields: Map<String, Value>, shown: &str) -> Item {
        // Windsurf's `serverUrl` and Gemini's `httpUrl` are the server's (streamable HTTP) URL;
        // a bare `url` is SSE to Gemini CLI.
        if self.tool == "gemini" && !fields.contains_key("type") && fields.contains_key("url") {
            fields.insert("type".into(), Value::from("sse"));
        }
        for alias in ["serverUrl", "httpUrl"] {
            if let Some(url) = fields.remove(alias) {
                fields.entry("url").or_insert(url);
            }
        }
        canonical_references(&mut fields, self.tool);
        let native: Map<String, Value> = fields
            .iter()
            .filter(|(k, _)| !KNOWN.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        server_spec(name, &fields, shown, self.tool, native)
    }
}

/// The tool's own environment references (`${env:VAR}`, `{env:VAR}`) as kiln's `${VAR}`.
fn canonical_references(fields: &mut Map<String, Value>, tool: &str) {
    let Some(format) = crate::facts::env_reference(tool) else {
        return;
    };
    let Some((prefix, suffix)) = format.split_once("VAR") else {
        return;
    };
    fn walk(value: &mut Value, prefix: &str, suffix: &str) {
        match value {
            Value::String(text) => *text = rewrite_reference(text, prefix, suffix),
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, prefix, suffix)),
            Value::Object(map) => map.values_mut().for_each(|v| walk(v, prefix, suffix)),
            _ => {}
        }
    }
    for key in ["command", "args", "env", "cwd", "url", "headers"] {
        if let Some(value) = fields.get_mut(key) {
            walk(value, prefix, suffix);
        }
    }
}

/// `prefix NAME suffix` (NAME of letters, digits and `_`) rewritten as `${NAME}`.
fn rewrite_reference(text: &str, prefix: &str, suffix: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        let after = &rest[at + prefix.len()..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if name_len > 0 && after[name_len..].starts_with(suffix) {
            out.push_str(&rest[..at]);
            out.push_str("${");
            out.push_str(&after[..name_len]);
            out.push('}');
            rest = &after[name_len + suffix.len()..];
        } else {
            out.push_str(&rest[..at + prefix.len()]);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

fn server_spec(
    name: &str,
    fields: &Map<String, Value>,
    shown: &str,
    tool: &str,
    native: Map<String, Value>,
) -> Item {
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
    if let Some(description) = fields.get("description") {
        spec.insert("description".into(), description.clone());
    }
    spec.insert("transport".into(), Value::from(transport));
    for key in ["command", "args", "env", "cwd", "url", "headers"] {
        if let Some(value) = fields.get(key) {
            spec.insert(key.into(), value.clone());
        }
    }
    let mut warnings = Vec::new();
    if !native.is_empty() {
        let keys: Vec<String> = native.keys().map(|k| format!("`{k}`")).collect();
        warnings.push(format!(
            "{} kept as {tool}'s own (`native.{tool}` in the component): emitted for {tool} only",
            keys.join(", ")
        ));
        let mut by_tool = Map::new();
        by_tool.insert(tool.to_string(), Value::Object(native));
        spec.insert("native".into(), Value::Object(by_tool));
    }
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
    fn tool_references_become_kiln_references() {
        assert_eq!(
            rewrite_reference("a ${env:X}/${env:}/${env:Y_2}", "${env:", "}"),
            "a ${X}/${env:}/${Y_2}"
        );
        assert_eq!(rewrite_reference("{env:HOME}/x", "{env:", "}"), "${HOME}/x");
    }

    #[test]
    fn a_jsonc_file_with_comments_and_trailing_commas_is_read() {
        let value =
            parse_jsonc("// servers\n{ \"a\": { \"url\": \"https://x\", }, }").expect("jsonc");
        let fields = value["a"].as_object().cloned().expect("object");
        let item = Reader { tool: "cursor" }.server_item("a", fields, "x");
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
