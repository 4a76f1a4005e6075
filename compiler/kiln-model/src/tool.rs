//! Tool definitions, `tools/<tool>/tool.json` (+ `templates/*.j2`): where and how one AI tool
//! reads each kind of component, as data. The strategies are the only Rust code; adding a tool
//! needs a folder, not a release of kiln.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{ComponentKind, HookEvent};

/// How an output is produced.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// One file per component, its content rendered by `template`.
    FilePerComponent,
    /// All components of the output in one file per distinct `path` (which may use the
    /// component), in selection order; `template` renders the whole file from `components`.
    Concat,
    /// A skill folder copied verbatim (SKILL.md rendered for templates and observation).
    CopyTree,
    /// Entries (one per component, rendered by `template` as JSON) under `key` of a JSON file
    /// shared with the user; kiln owns only those entries.
    JsonMerge,
    /// As `json-merge`, in a TOML file.
    TomlMerge,
}

/// Build scope: the home directory or a project.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum BuildScope {
    /// Paths relative to the home directory.
    Global,
    /// Paths relative to a project root.
    Project,
}

impl BuildScope {
    /// Both scopes.
    pub const ALL: [BuildScope; 2] = [BuildScope::Global, BuildScope::Project];

    /// `global` or `project`.
    pub fn as_str(self) -> &'static str {
        match self {
            BuildScope::Global => "global",
            BuildScope::Project => "project",
        }
    }
}

/// How entries of a merge output are collected under `key`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Collect {
    /// A map from each entry's `name` to its value (MCP servers).
    #[default]
    Map,
    /// A list of values (hook groups under an event); kiln owns the whole list.
    List,
}

/// One output of a tool: for components of `kind` in `scope`, what to write where.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct OutputSpec {
    /// The component kind this output emits.
    pub kind: ComponentKind,
    /// The scope it is for.
    pub scope: BuildScope,
    /// How it is produced.
    pub strategy: Strategy,
    /// Output path relative to the scope root, a minijinja template over the component
    /// (`.cursor/rules/{{ component.joined }}.mdc`); fixed for concat and merges.
    pub path: String,
    /// Template file under `templates/`: the file (file-per-component, concat), the SKILL.md
    /// wrapper (copy-tree, optional) or one entry as JSON (merges).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Only components for which this minijinja expression is true
    /// (`component.rule.activation == "glob"`); others fall to the next output or are
    /// reported as not expressible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// Merges: dotted path of the table the entries go under; may use the component
    /// (`hooks.{{ component.hook.event }}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Merges: the entry's name in the map (default: the component's `name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Merges: a map by name or a list.
    #[serde(default, skip_serializing_if = "is_default_collect")]
    pub collect: Collect,
    /// Merges: the shared file is JSON with comments (kept at deploy).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub jsonc: bool,
    /// Merges: constant members of the shared file kiln also owns (`{ "version": 1 }`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<serde_json::Value>,
    /// File outputs: Unix mode as octal text (`"0755"` for scripts); default `0644`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^0?[0-7]{3}$"))]
    pub mode: Option<String>,
    /// Why a component this output's `when` rejects cannot be expressed; a minijinja
    /// template over the component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsupported: Option<String>,
    /// When this output takes a component, keep trying the later outputs too (one component
    /// written to two places).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub continue_matching: bool,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde passes a reference
fn is_default_collect(collect: &Collect) -> bool {
    *collect == Collect::Map
}

/// A tool definition.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct ToolSpec {
    /// Path of the JSON Schema, for editors.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The tool's name; equals its folder under `tools/`.
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9-]*$"))]
    pub name: String,
    /// What the tool is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Bump when the definition's output changes in a way its text does not show.
    #[serde(default)]
    pub version: u32,
    /// Outputs, tried in order for each component.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<OutputSpec>,
    /// kiln's hook events mapped to the tool's names; an event missing here cannot be
    /// expressed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hook_events: BTreeMap<HookEvent, String>,
    /// How the tool writes an environment reference, with `{name}` for the variable:
    /// `${env:{name}}` for Cursor. Absent: the tool has no interpolation, and templates use
    /// the forwarded-variable lists instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_reference: Option<String>,
    /// Why a kind with no output at all cannot be expressed, by kind.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unsupported: BTreeMap<ComponentKind, String>,
    /// Notes for users: how the tool avoids double loading and what it leaves out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}
