//! Component documents: `*.rule.json`, Markdown frontmatter of `*.rule.md`, `SKILL.md`,
//! `*.command.md`, `*.agent.md`, `*.context.md`, and the JSON kinds `*.hook.json`,
//! `*.mcp.json` and `skill.json`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a component may be deployed.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Only into the home directory (user-wide configuration).
    Global,
    /// Only into a project.
    Project,
    /// Either (the default).
    Any,
}

/// Which tools a component is emitted for: `allow` (if given) lists the only tools, `deny`
/// removes tools.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct ToolFilter {
    /// Only these tools receive the component.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    /// These tools never receive the component.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

/// Metadata every component may carry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CommonMeta {
    /// Semantic version of the component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$"))]
    pub version: Option<String>,
    /// One line saying what the component is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub description: Option<String>,
    /// Free-form labels; profiles select by them with `tag:NAME`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]*$")))]
    pub tags: Vec<String>,
    /// Ordering weight: higher comes first; ties are broken by id. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    /// Components this one needs (`kind:id`, or an id unique across kinds); selected with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// Components that must never be selected together with this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts_with: Vec<String>,
    /// Where the component may be deployed (default `any`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    /// Which tools receive the component (`allow` / `deny` lists of tool names). Not `tools`:
    /// that is a subagent's own list of the tools it may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<ToolFilter>,
    /// Render the body with minijinja (`{{ variable }}`, `{{ include("context:id") }}`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub template: bool,
}

/// How a rule is brought into the agent's context.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Activation {
    /// Always loaded (the default).
    Always,
    /// Loaded when a file matching `globs` is in play.
    Glob,
    /// The agent decides from the `description`.
    AgentRequested,
    /// Only when the user mentions it.
    Manual,
}

/// How a rule is rendered for one tool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RuleOutput {
    /// Rendered as Markdown (the default).
    Markdown,
    /// Not emitted for this tool.
    None,
}

/// One section of a structured rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct RuleSection {
    /// The section heading.
    #[schemars(length(min = 1))]
    pub heading: String,
    /// Instructions, rendered as a bulleted list.
    #[serde(default)]
    pub instructions: Vec<String>,
}

/// The structured content of a `*.rule.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct RuleContent {
    /// The rule's title (the top heading).
    #[schemars(length(min = 1))]
    pub title: String,
    /// Text before the first section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The sections, in order.
    #[serde(default)]
    pub sections: Vec<RuleSection>,
}

/// A structured rule, `components/rules/<id>.rule.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct RuleSpec {
    /// Path of the JSON Schema, for editors.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The rule's id; when given it must equal the path-derived id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Common metadata.
    #[serde(flatten)]
    pub meta: CommonMeta,
    /// How the rule is activated (default `always`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation: Option<Activation>,
    /// File globs for `glob` activation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub globs: Vec<String>,
    /// The rule's text.
    pub content: RuleContent,
    /// Per-tool output format; tools not named use `markdown`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub output: BTreeMap<String, RuleOutput>,
}

/// The frontmatter of a Markdown rule, `components/rules/<id>.rule.md`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct RuleFrontmatter {
    /// The rule's title; defaults to the Markdown body as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// A name for the rule (Copilot and Cursor show it; kiln's id is its path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Claude Code's globs for a rule loaded only with matching files (a list, or one string):
    /// the same as `globs`, and like them it makes the rule a glob rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<StringOrList>,
    /// Common metadata.
    #[serde(flatten)]
    pub meta: CommonMeta,
    /// How the rule is activated (default `always`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation: Option<Activation>,
    /// File globs for `glob` activation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub globs: Vec<String>,
    /// Per-tool output format; tools not named use `markdown`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub output: BTreeMap<String, RuleOutput>,
}

/// A list written either as a YAML/JSON list or as one space- or comma-separated string.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum StringOrList {
    /// `"Read Grep Bash(git:*)"`
    String(String),
    /// `["Read", "Grep"]`
    List(Vec<String>),
}

/// The frontmatter of a skill's `SKILL.md`: the portable Agent Skills fields.
///
/// Other keys are kept (tools have their own extensions) but are not portable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SkillFrontmatter {
    /// 1–64 characters of `[a-z0-9-]`, no leading, trailing or double hyphen; equals the folder.
    #[schemars(
        length(min = 1, max = 64),
        regex(pattern = r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
    )]
    pub name: String,
    /// What the skill does and when to use it; 1–1024 characters.
    #[schemars(length(min = 1, max = 1024))]
    pub description: String,
    /// A license name or the name of a bundled license file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// Environment requirements, 1–500 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 500))]
    pub compatibility: Option<String>,
    /// Free metadata (the standard says string to string; tools accept any values).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, serde_json::Value>,
    /// Tools the skill may use: a space- or comma-delimited string, or a list.
    #[serde(
        rename = "allowed-tools",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub allowed_tools: Option<StringOrList>,
    /// Tool-specific keys, passed through.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// The Agent Skills frontmatter keys that are portable across tools.
pub const PORTABLE_SKILL_KEYS: &[&str] = &[
    "name",
    "description",
    "license",
    "compatibility",
    "metadata",
    "allowed-tools",
];

/// kiln's own metadata for a skill, `components/skills/<id>/skill.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct SkillSpec {
    /// Path of the JSON Schema, for editors.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Common metadata (the description lives in `SKILL.md`).
    #[serde(flatten)]
    pub meta: CommonMeta,
}

/// The frontmatter of a slash command, `components/commands/<id>.command.md`.
///
/// The body is the prompt; `$ARGUMENTS` stands for what the user typed after the command.
/// Keys kiln does not know are passed through to tools that read them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CommandFrontmatter {
    /// Common metadata.
    #[serde(flatten)]
    pub meta: CommonMeta,
    /// Shown after the command name, e.g. `[issue-number]` (which YAML reads as a list: both
    /// forms are accepted, as Claude Code accepts them).
    #[serde(
        rename = "argument-hint",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub argument_hint: Option<StringOrList>,
    /// Tools the command may use without asking.
    #[serde(
        rename = "allowed-tools",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub allowed_tools: Option<StringOrList>,
    /// Model to run the command with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Tool-specific keys, passed through.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// The frontmatter of a subagent, `components/agents/<id>.agent.md`. The body is its system
/// prompt.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AgentFrontmatter {
    /// The agent's name; defaults to the id with folders joined by `-`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"))]
    pub name: Option<String>,
    /// Common metadata; `description` says when the agent should be used.
    #[serde(flatten)]
    pub meta: CommonMeta,
    /// Tools the agent may use, as Claude Code writes them: a comma string (`Read, Grep`) or a
    /// list; all tools when absent. `allowed-tools` is accepted for it too.
    #[serde(
        default,
        alias = "allowed-tools",
        skip_serializing_if = "Option::is_none"
    )]
    pub tools: Option<StringOrList>,
    /// Model the agent runs on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Tool-specific keys, passed through.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// The frontmatter of a context fragment, `components/context/<id>.context.md`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct ContextFrontmatter {
    /// Common metadata.
    #[serde(flatten)]
    pub meta: CommonMeta,
}

/// kiln's canonical hook events; each emitter maps them to its tool's names.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum HookEvent {
    /// A session starts or resumes.
    SessionStart,
    /// A session ends.
    SessionEnd,
    /// The user submits a prompt, before the agent sees it.
    UserPromptSubmit,
    /// Before a tool call; a non-zero exit can block it.
    PreToolUse,
    /// After a tool call succeeded.
    PostToolUse,
    /// The agent finished its turn.
    Stop,
    /// A subagent finished.
    SubagentStop,
    /// The tool shows a notification (permission prompt, idle).
    Notification,
    /// Before the context is compacted.
    PreCompact,
    /// After the context was compacted (Claude Code, Codex).
    PostCompact,
    /// The tool is about to ask the user for a permission (Claude Code, Codex).
    PermissionRequest,
    /// After a tool call failed (Claude Code).
    PostToolUseFailure,
    /// A subagent starts (Claude Code, Codex).
    SubagentStart,
    /// Before the model is called (Gemini CLI).
    BeforeModel,
    /// After the model answered (Gemini CLI).
    AfterModel,
    /// Before the model chooses tools (Gemini CLI).
    BeforeToolSelection,
}

/// A lifecycle hook, `components/hooks/<id>.hook.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct HookSpec {
    /// Path of the JSON Schema, for editors.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Common metadata.
    #[serde(flatten)]
    pub meta: CommonMeta,
    /// When the hook runs.
    pub event: HookEvent,
    /// Which tool calls it applies to (a tool name or regular expression; all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matcher: Option<String>,
    /// The shell command to run; it receives the event as JSON on stdin. A hook has a
    /// `command` or a `prompt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub command: Option<String>,
    /// A prompt the tool's model evaluates instead of a command (Claude Code `type: prompt`;
    /// `$ARGUMENTS` stands for the event). Only tools with `prompt_hooks` receive it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub prompt: Option<String>,
    /// Time limit in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600))]
    pub timeout: Option<u32>,
    /// Handler keys as one tool spells them, added to this hook's handler for that tool only
    /// (`{"claude-code": {"async": true, "statusMessage": "Checking…"}}`). kiln passes them
    /// through unchecked; the tool (and its schema in CI) judges them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub native: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
}

/// How an MCP server is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum McpTransport {
    /// A local process speaking MCP on stdin/stdout (`command`, `args`, `env`).
    Stdio,
    /// Streamable HTTP (`url`, `headers`).
    Http,
    /// Server-sent events, the older remote transport (`url`, `headers`).
    Sse,
}

/// An MCP server, `components/mcp/<id>.mcp.json`.
///
/// `${VAR}` in `args`, `env` and `headers` refers to the environment; `op://vault/item/field`
/// values are secret references resolved only at deploy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct McpSpec {
    /// Path of the JSON Schema, for editors.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The server's key in the tool's server map; defaults to the id's last segment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"))]
    pub name: Option<String>,
    /// Common metadata.
    #[serde(flatten)]
    pub meta: CommonMeta,
    /// How the server is reached.
    pub transport: McpTransport,
    /// Executable for `stdio`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Arguments for `stdio`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Environment for `stdio`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Working directory for `stdio`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Endpoint for `http` and `sse`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https?://"))]
    pub url: Option<String>,
    /// HTTP headers for `http` and `sse`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Keys as one tool spells them, added to this server's entry for that tool only
    /// (`{"gemini": {"timeout": 10000, "trust": true}}`, `{"codex": {"startup_timeout_sec": 20}}`).
    /// kiln passes them through unchecked; the tool (and its schema in CI) judges them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub native: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
}

/// A fragment of one tool's own settings, `components/settings/<id>.settings.json`: merged into
/// that tool's settings file at deploy (Claude Code: `settings.json`), where kiln owns exactly
/// the top-level keys it sets. Hooks are components of their own (the `hook` kind).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct SettingsSpec {
    /// Path of the JSON Schema, for editors.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Common metadata.
    #[serde(flatten)]
    pub meta: CommonMeta,
    /// The tool whose settings these are (`claude-code`); other tools never receive them.
    #[schemars(length(min = 1))]
    pub tool: String,
    /// The settings, as the tool spells them (`permissions`, `env`, `model`, `statusLine`).
    pub settings: serde_json::Map<String, serde_json::Value>,
}
