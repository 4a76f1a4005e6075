//! What templates see of a component: a flat, serialisable view with the fields every kind
//! needs, already mapped to the tool where kiln's vocabulary differs (hook event names,
//! environment-reference syntax, timeouts in seconds and milliseconds).

use std::collections::BTreeMap;

use kiln_core::library::{Component, ComponentSpec};
use kiln_model::{Activation, McpTransport, StringOrList, ToolSpec};
use serde::Serialize;
use serde_json::Value;

/// A component as templates see it.
#[derive(Clone, Debug, Serialize)]
pub struct ComponentView {
    /// The id with its folders (`git/commit`).
    pub id: String,
    /// `rule`, `skill`, …
    pub kind: &'static str,
    /// `kind:id`.
    pub reference: String,
    /// The id with folders joined by `-` (`git-commit`), for tools with flat folders.
    pub joined: String,
    /// The name the tool shows: the skill folder, the agent's or MCP server's `name`, else
    /// the joined id.
    pub name: String,
    /// One-line description.
    pub description: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Priority (default 0).
    pub priority: i32,
    /// Version.
    pub version: Option<String>,
    /// Where it may be deployed: `global`, `project` or `any`.
    pub scope: &'static str,
    /// The Markdown body (templates rendered; structured rules rendered to Markdown).
    pub body: String,
    /// Rule fields.
    pub rule: Option<RuleView>,
    /// Command fields.
    pub command: Option<PromptView>,
    /// Agent fields.
    pub agent: Option<PromptView>,
    /// Hook fields.
    pub hook: Option<HookView>,
    /// MCP server fields.
    pub mcp: Option<McpView>,
    /// Tool settings fields.
    pub settings: Option<SettingsView>,
    /// A command's or agent's frontmatter as written, without kiln's own keys (`tags`,
    /// `targets`, `depends_on`, …), for tools whose format it is (an agent without `name`
    /// gets one): emitted byte for byte.
    pub frontmatter: Option<String>,
    /// The top-level keys of `frontmatter`, in order: a tool's template emits the text as
    /// written only when every key is one of its format's (a Copilot prompt imported from
    /// Copilot), and builds its own frontmatter otherwise (a Claude Code command).
    pub frontmatter_keys: Vec<String>,
    /// The blank lines between the frontmatter and the body as written (`body` starts at its
    /// first line of text), for emitting a file byte for byte.
    pub body_lead: String,
}

/// A tool settings fragment.
#[derive(Clone, Debug, Serialize)]
pub struct SettingsView {
    /// The tool the settings are for.
    pub tool: String,
    /// The settings, as the tool spells them.
    pub settings: serde_json::Map<String, serde_json::Value>,
}

/// Rule fields.
#[derive(Clone, Debug, Serialize)]
pub struct RuleView {
    /// The title (structured rules; Markdown rules when given).
    pub title: Option<String>,
    /// `always`, `glob`, `agent-requested` or `manual`.
    pub activation: &'static str,
    /// File globs.
    pub globs: Vec<String>,
    /// The globs joined with `, ` (Cursor, Windsurf).
    pub globs_csv: String,
}

/// Command and agent fields.
#[derive(Clone, Debug, Serialize)]
pub struct PromptView {
    /// `argument-hint`.
    pub argument_hint: Option<String>,
    /// `allowed-tools` as a list.
    pub allowed_tools: Vec<String>,
    /// The model.
    pub model: Option<String>,
    /// Frontmatter keys kiln does not know, passed through.
    pub extra: BTreeMap<String, Value>,
}

/// Hook fields.
#[derive(Clone, Debug, Serialize)]
pub struct HookView {
    /// kiln's event name (`pre-tool-use`).
    pub event: String,
    /// The tool's name for the event, when it has one.
    pub tool_event: Option<String>,
    /// The matcher.
    pub matcher: Option<String>,
    /// The shell command (empty for a prompt hook).
    pub command: String,
    /// The prompt of a prompt hook.
    pub prompt: Option<String>,
    /// Timeout in seconds.
    pub timeout: Option<u32>,
    /// Timeout in milliseconds.
    pub timeout_ms: Option<u64>,
    /// The component's `native` keys for this tool, added to the handler as they are.
    #[serde(skip)]
    pub native: serde_json::Map<String, serde_json::Value>,
}

/// MCP server fields, with `${VAR}` rewritten to the tool's syntax where it has one.
#[derive(Clone, Debug, Serialize)]
pub struct McpView {
    /// The server's key.
    pub name: String,
    /// `stdio`, `http` or `sse`.
    pub transport: &'static str,
    /// Executable.
    pub command: Option<String>,
    /// Arguments.
    pub args: Vec<String>,
    /// `command` followed by `args` (opencode).
    pub command_line: Vec<String>,
    /// Environment.
    pub env: BTreeMap<String, String>,
    /// Working directory.
    pub cwd: Option<String>,
    /// URL.
    pub url: Option<String>,
    /// Headers.
    pub headers: BTreeMap<String, String>,
    /// For tools without interpolation: environment entries with no reference.
    pub env_literal: BTreeMap<String, String>,
    /// For tools without interpolation: variables to forward (`KEY = "${KEY}"`).
    pub env_forward: Vec<String>,
    /// For tools without interpolation: headers with no reference.
    pub headers_literal: BTreeMap<String, String>,
    /// For tools without interpolation: headers whose whole value is `${VAR}`.
    pub headers_env: BTreeMap<String, String>,
    /// For tools without interpolation: `Authorization: Bearer ${VAR}` gives `VAR`.
    pub bearer_env: Option<String>,
    /// For tools without interpolation: values that mix text and references, which the tool
    /// cannot express (`env.KEY`, `headers.KEY`, `args[0]`).
    pub inexpressible: Vec<String>,
    /// The component's `native` keys for this tool, added to the entry as they are.
    #[serde(skip)]
    pub native: serde_json::Map<String, serde_json::Value>,
}

/// Builds the view of `component` for `tool`; `body` is its rendered body.
pub fn view(component: &Component, tool: &ToolSpec, body: String) -> ComponentView {
    let meta = &component.meta;
    let mut view = ComponentView {
        id: component.id.id.clone(),
        kind: component.id.kind.as_str(),
        reference: component.id.to_string(),
        joined: component.id.joined(),
        name: component.id.joined(),
        description: meta.description.clone(),
        tags: meta.tags.clone(),
        priority: component.priority(),
        version: meta.version.clone(),
        scope: match meta.scope.unwrap_or(kiln_model::Scope::Any) {
            kiln_model::Scope::Global => "global",
            kiln_model::Scope::Project => "project",
            kiln_model::Scope::Any => "any",
        },
        body,
        rule: None,
        command: None,
        agent: None,
        hook: None,
        mcp: None,
        settings: None,
        frontmatter: component.frontmatter.as_deref().map(native_frontmatter),
        frontmatter_keys: Vec::new(),
        body_lead: component
            .body
            .as_ref()
            .map(|(body, _)| {
                let text = body.trim_start_matches(['\n', '\r']);
                body[..body.len() - text.len()].to_string()
            })
            .unwrap_or_default(),
    };
    view.frontmatter_keys = view
        .frontmatter
        .as_deref()
        .map(top_level_keys)
        .unwrap_or_default();
    match &component.spec {
        ComponentSpec::RuleJson(_) | ComponentSpec::RuleMarkdown(_) => {
            if let Some(rule) = component.rule_fields() {
                view.rule = Some(rule_view(
                    rule.title.map(str::to_string),
                    rule.activation,
                    rule.globs,
                ));
            }
        }
        ComponentSpec::Skill { frontmatter, .. } => view.name.clone_from(&frontmatter.name),
        ComponentSpec::Command(command) => {
            view.command = Some(PromptView {
                argument_hint: command.argument_hint.as_ref().map(|hint| match hint {
                    StringOrList::String(text) => text.clone(),
                    // `argument-hint: [title]` is YAML for a list; it was meant as the text.
                    StringOrList::List(items) => items
                        .iter()
                        .map(|item| format!("[{item}]"))
                        .collect::<Vec<_>>()
                        .join(" "),
                }),
                allowed_tools: list(command.allowed_tools.as_ref()),
                model: command.model.clone(),
                extra: command.extra.clone(),
            });
        }
        ComponentSpec::Agent(agent) => {
            // Claude Code reads an agent's tools from `tools`; kiln has accepted `allowed-tools`.
            if let Some(text) = &mut view.frontmatter {
                *text = text
                    .split_inclusive('\n')
                    .map(|line| match line.strip_prefix("allowed-tools:") {
                        Some(rest) => format!("tools:{rest}"),
                        None => line.to_string(),
                    })
                    .collect();
            }
            match &agent.name {
                Some(name) => view.name.clone_from(name),
                None => {
                    if let Some(text) = &mut view.frontmatter {
                        *text = format!("name: {}\n{text}", view.name);
                    }
                }
            }
            view.agent = Some(PromptView {
                argument_hint: None,
                allowed_tools: list(agent.tools.as_ref()),
                model: agent.model.clone(),
                extra: agent.extra.clone(),
            });
        }
        ComponentSpec::Hook(hook) => {
            let event = serde_json::to_value(hook.event)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            view.hook = Some(HookView {
                event,
                // A prompt hook has no event in a tool that runs only commands.
                tool_event: tool
                    .hook_events
                    .get(&hook.event)
                    .filter(|_| hook.prompt.is_none() || tool.prompt_hooks)
                    .cloned(),
                matcher: hook.matcher.clone(),
                command: hook.command.clone().unwrap_or_default(),
                prompt: hook.prompt.clone(),
                timeout: hook.timeout,
                timeout_ms: hook.timeout.map(|t| u64::from(t) * 1000),
                native: hook.native.get(&tool.name).cloned().unwrap_or_default(),
            });
        }
        ComponentSpec::Mcp(mcp) => {
            let name = mcp
                .name
                .clone()
                .unwrap_or_else(|| component.id.last_segment().to_string());
            view.name.clone_from(&name);
            let mut server = mcp_view(name, mcp, tool.env_reference.as_deref());
            server.native = mcp.native.get(&tool.name).cloned().unwrap_or_default();
            view.mcp = Some(server);
        }
        ComponentSpec::Settings(settings) => {
            view.settings = Some(SettingsView {
                tool: settings.tool.clone(),
                settings: settings.settings.clone(),
            });
        }
        ComponentSpec::Context(_) | ComponentSpec::Ignore => {}
    }
    view
}

/// The keys of kiln's own metadata, which no tool reads.
const KILN_KEYS: &[&str] = &[
    "version",
    "tags",
    "priority",
    "depends_on",
    "conflicts_with",
    "scope",
    "targets",
    "template",
];

/// The top-level keys of frontmatter text (lines that start a `key:` at column 0).
fn top_level_keys(yaml: &str) -> Vec<String> {
    yaml.lines()
        .filter(|line| !line.starts_with([' ', '\t', '-', '#']) && line.contains(':'))
        .filter_map(|line| line.split(':').next())
        .map(|key| key.trim().trim_matches(['"', '\'']).to_string())
        .filter(|key| !key.is_empty())
        .collect()
}

/// Frontmatter text without kiln's own top-level keys (with their nested lines).
fn native_frontmatter(yaml: &str) -> String {
    let mut out = String::with_capacity(yaml.len());
    let mut skipping = false;
    for line in yaml.split_inclusive('\n') {
        let continuation = line.starts_with([' ', '\t', '-']) || line.trim().is_empty();
        if !continuation {
            let key = line.split(':').next().unwrap_or_default().trim();
            skipping = line.contains(':') && KILN_KEYS.contains(&key);
        }
        if !skipping {
            out.push_str(line);
        }
    }
    out
}

fn rule_view(title: Option<String>, activation: Option<Activation>, globs: &[String]) -> RuleView {
    RuleView {
        title,
        activation: match activation.unwrap_or(Activation::Always) {
            Activation::Always => "always",
            Activation::Glob => "glob",
            Activation::AgentRequested => "agent-requested",
            Activation::Manual => "manual",
        },
        globs: globs.to_vec(),
        globs_csv: globs.join(", "),
    }
}

fn list(value: Option<&StringOrList>) -> Vec<String> {
    match value {
        None => Vec::new(),
        Some(StringOrList::List(items)) => items.clone(),
        Some(StringOrList::String(text)) => split_tools(text),
    }
}

/// Splits `Read, Grep Bash(git commit:*)` on commas and spaces outside parentheses.
fn split_tools(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' => {
                depth += 1;
                current.push(c);
            }
            ')' => {
                depth = depth.saturating_sub(1);
                current.push(c);
            }
            ',' | ' ' if depth == 0 => {
                if !current.trim().is_empty() {
                    out.push(current.trim().to_string());
                }
                current.clear();
            }
            _ => current.push(c),
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

/// `${NAME}` references in a value, with their byte ranges.
fn references(value: &str) -> Vec<(std::ops::Range<usize>, &str)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(start) = value[at..].find("${").map(|i| at + i) {
        let Some(end) = value[start + 2..].find('}').map(|i| start + 2 + i) else {
            break;
        };
        let name = &value[start + 2..end];
        // Only `${NAME}` is kiln's reference; `${env:X}`, `${input:x}` and `${env:}` belong to
        // the tool and are left as written.
        let is_name = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if is_name {
            out.push((start..end + 1, name));
        }
        at = end + 1;
    }
    out
}

/// VS Code's predefined variables, which VS Code, Copilot, Cursor and Windsurf expand
/// themselves (`${workspaceFolder}`): never environment references, so never rewritten to
/// `${env:…}` (code.visualstudio.com/docs/reference/variables-reference; that the forks expand
/// all of them is a guess).
const EDITOR_VARIABLES: &[&str] = &[
    "workspaceFolder",
    "workspaceFolderBasename",
    "userHome",
    "cwd",
    "pathSeparator",
    "file",
    "fileBasename",
    "fileDirname",
    "relativeFile",
    "execPath",
];

/// Rewrites every `${NAME}` with `format` (`${env:VAR}` → `${env:NAME}`), except the editor's
/// own variables when the format is an editor's (`${env:VAR}`).
pub fn rewrite_references(value: &str, format: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut last = 0;
    let editor = format.starts_with("${env:");
    for (range, name) in references(value) {
        if editor && EDITOR_VARIABLES.contains(&name) {
            continue;
        }
        out.push_str(&value[last..range.start]);
        out.push_str(&format.replacen("VAR", name, 1));
        last = range.end;
    }
    out.push_str(&value[last..]);
    out
}

/// The single variable a value consists of (`${NAME}`), if it is exactly one reference.
fn whole_reference(value: &str) -> Option<&str> {
    match references(value).as_slice() {
        [(range, name)] if *range == (0..value.len()) => Some(name),
        _ => None,
    }
}

fn mcp_view(name: String, mcp: &kiln_model::McpSpec, env_reference: Option<&str>) -> McpView {
    let rewrite = |value: &String| match env_reference {
        Some(format) => rewrite_references(value, format),
        None => value.clone(),
    };
    let rewrite_map = |map: &BTreeMap<String, String>| -> BTreeMap<String, String> {
        map.iter().map(|(k, v)| (k.clone(), rewrite(v))).collect()
    };
    let args: Vec<String> = mcp.args.iter().map(rewrite).collect();
    let mut view = McpView {
        name,
        transport: match mcp.transport {
            McpTransport::Stdio => "stdio",
            McpTransport::Http => "http",
            McpTransport::Sse => "sse",
        },
        command: mcp.command.as_ref().map(rewrite),
        command_line: mcp
            .command
            .iter()
            .map(rewrite)
            .chain(args.iter().cloned())
            .collect(),
        args,
        env: rewrite_map(&mcp.env),
        cwd: mcp.cwd.as_ref().map(rewrite),
        url: mcp.url.as_ref().map(rewrite),
        headers: rewrite_map(&mcp.headers),
        env_literal: BTreeMap::new(),
        env_forward: Vec::new(),
        headers_literal: BTreeMap::new(),
        headers_env: BTreeMap::new(),
        bearer_env: None,
        inexpressible: Vec::new(),
        native: serde_json::Map::new(),
    };
    for (key, value) in &mcp.env {
        match whole_reference(value) {
            Some(variable) if variable == key => view.env_forward.push(key.clone()),
            _ if references(value).is_empty() => {
                view.env_literal.insert(key.clone(), value.clone());
            }
            _ => view.inexpressible.push(format!("env.{key}")),
        }
    }
    for (key, value) in &mcp.headers {
        if let Some(variable) = whole_reference(value) {
            view.headers_env.insert(key.clone(), variable.to_string());
        } else if let Some(variable) = value
            .strip_prefix("Bearer ")
            .and_then(whole_reference)
            .filter(|_| key.eq_ignore_ascii_case("authorization"))
        {
            view.bearer_env = Some(variable.to_string());
        } else if references(value).is_empty() {
            view.headers_literal.insert(key.clone(), value.clone());
        } else {
            view.inexpressible.push(format!("headers.{key}"));
        }
    }
    for (index, arg) in mcp.args.iter().enumerate() {
        if !references(arg).is_empty() {
            view.inexpressible.push(format!("args[{index}]"));
        }
    }
    if mcp
        .url
        .as_deref()
        .is_some_and(|url| !references(url).is_empty())
    {
        view.inexpressible.push("url".to_string());
    }
    view
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_rewritten_per_tool() {
        // A tool's own spelling is not kiln's reference: left as written.
        assert_eq!(
            rewrite_references("${env:HOME}/${input:key}/${A}", "${env:VAR}"),
            "${env:HOME}/${input:key}/${env:A}"
        );
        assert_eq!(
            rewrite_references("${workspaceFolder}/${A}", "${env:VAR}"),
            "${workspaceFolder}/${env:A}"
        );
        assert_eq!(
            rewrite_references("Bearer ${TOKEN}", "${env:VAR}"),
            "Bearer ${env:TOKEN}"
        );
        assert_eq!(
            rewrite_references("${A}/${B}", "{env:VAR}"),
            "{env:A}/{env:B}"
        );
        assert_eq!(whole_reference("${A}"), Some("A"));
        assert_eq!(whole_reference("x${A}"), None);
    }

    #[test]
    fn tool_lists_split_outside_parentheses() {
        assert_eq!(
            split_tools("Read, Grep Bash(git commit:*)"),
            ["Read", "Grep", "Bash(git commit:*)"]
        );
    }
}
