//! Profiles, `profiles/<name>.profile.json`: which components a machine gets, and how.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Include and exclude patterns for one component kind.
///
/// A pattern is a glob over ids (`security-*`, `beads/*`), a plain id (an error when it
/// matches nothing), or a `tag:NAME` selector.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct SelectorSpec {
    /// Patterns that select components.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Patterns that remove components (they win over includes anywhere in the chain).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

/// Selection of MCP servers: `include` (any scope) or the split form `global` (deployed to the
/// home directory) and `local_templates` (deployed per project).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct McpSelectorSpec {
    /// Patterns that select servers for every scope.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Patterns that remove servers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// Servers deployed at global scope.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub global: Vec<String>,
    /// Servers deployed per project.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub local_templates: Vec<String>,
}

/// Which scopes a tool is built and deployed for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ToolScope {
    /// The home directory only.
    Global,
    /// Projects only.
    Project,
    /// Both (the default).
    Both,
}

/// Per-tool settings in a profile.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct ProfileToolSpec {
    /// Which scopes to build (default `both`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ToolScope>,
    /// `false` removes a tool a parent profile enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// How rendered skills ask the agent to report on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ObservationMode {
    /// No footer.
    Off,
    /// A footer asks the agent to record a signal after using the skill.
    Remind,
    /// As `remind`, and also to review the skill's log.
    Auto,
}

/// Skill usage observation settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct ObservationSpec {
    /// Footer mode.
    pub mode: ObservationMode,
    /// Share of negative signals above which a skill needs review (0–1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub threshold: Option<f64>,
    /// Invocations needed before the threshold applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_invocations: Option<u32>,
}

/// A profile, `profiles/<name>.profile.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct ProfileSpec {
    /// Path of the JSON Schema, for editors.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The profile's name; equals the file name without `.profile.json`.
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9_-]*$"))]
    pub name: String,
    /// What the profile is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Parent profiles, in order; later parents win over earlier ones, the child over all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extends: Vec<String>,
    /// Rule selection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<SelectorSpec>,
    /// Skill selection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skills: Option<SelectorSpec>,
    /// Command selection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands: Option<SelectorSpec>,
    /// Subagent selection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<SelectorSpec>,
    /// Hook selection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<SelectorSpec>,
    /// MCP server selection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp: Option<McpSelectorSpec>,
    /// Context fragment selection (fragments used by templates are selected automatically).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<SelectorSpec>,
    /// Tool settings fragments (`components/settings/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<SelectorSpec>,
    /// Ignore pattern files (`components/ignore/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<SelectorSpec>,
    /// Tools this profile builds for, with per-tool settings.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tools: BTreeMap<String, ProfileToolSpec>,
    /// Template variables; deep-merged along `extends`, the child winning.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub variables: serde_json::Map<String, serde_json::Value>,
    /// Skill usage observation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observation: Option<ObservationSpec>,
}
