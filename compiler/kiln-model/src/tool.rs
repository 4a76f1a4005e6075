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
    /// Each entry is an object whose members are set under `key` one by one, each owned by kiln
    /// (a tool's own settings: `permissions`, `env`, `model`); two entries setting the same
    /// member are an error.
    Spread,
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
    /// Capabilities this output supplies to other tools for the components it takes, in its
    /// scope: a name for a file or folder that other tools also read (`agents-md`: the
    /// project's root AGENTS.md). Outputs of other tools yield to them (`yields_to`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provides: Vec<Capability>,
    /// Leave a component out when another tool of the profile provides this capability for
    /// it, so the tools that read both places do not load it twice: the component falls to
    /// the next output or is reported with `unsupported` (templates see the providing tools
    /// as `yielded_to`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yields_to: Option<YieldsTo>,
}

/// A capability name: lowercase words joined by `-` (`agents-md`).
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct Capability(#[schemars(regex(pattern = r"^[a-z0-9][a-z0-9-]*$"))] pub String);

/// What an output yields to: a capability, and where the provider must supply it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum YieldsTo {
    /// Just the capability: it counts where the component lands — another tool's output in
    /// this output's scope provides it, that tool builds the scope, and the component goes
    /// there (its own `scope` is that one, or it may go anywhere and the tool builds this
    /// scope alone).
    Capability(Capability),
    /// The capability, with options.
    Spec(YieldSpec),
}

/// [`YieldsTo`] with options.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct YieldSpec {
    /// The capability.
    pub capability: Capability,
    /// It counts in any scope: it is enough that the profile builds a tool one of whose
    /// outputs of the component's kind provides it (for readers that load the provider's
    /// files of every scope, such as hooks from both `settings.json` files).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub any_scope: bool,
}

impl YieldsTo {
    /// The capability.
    pub fn capability(&self) -> &Capability {
        match self {
            YieldsTo::Capability(capability) | YieldsTo::Spec(YieldSpec { capability, .. }) => {
                capability
            }
        }
    }

    /// Whether a provider in any scope counts.
    pub fn any_scope(&self) -> bool {
        matches!(
            self,
            YieldsTo::Spec(YieldSpec {
                any_scope: true,
                ..
            })
        )
    }
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde passes a reference
fn is_default_collect(collect: &Collect) -> bool {
    *collect == Collect::Map
}

/// Where one global dist path prefix of a tool is deployed when it is not plainly below the
/// home directory: a tool home an environment variable moves (`$CLAUDE_CONFIG_DIR`), or a
/// per-OS application folder (`~/Library/Application Support/Claude/` on macOS). A tool's
/// homes are tried in order for each global path; the first that matches and applies decides,
/// and a path no home takes stays below the home directory. Project paths never move.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct HomeSpec {
    /// The global dist path it moves: a folder ending in `/` (`.claude/`, everything below
    /// it) or one file (`.claude.json`, exactly that path).
    #[schemars(regex(pattern = r"^[^/\\]"))]
    pub prefix: String,
    /// Where it goes on every operating system, unless `linux`, `macos` or `windows` says
    /// otherwise. Without `env`, `default` or `path` here, the home applies only on the
    /// systems it names.
    #[serde(flatten)]
    pub place: HomePlace,
    /// On Linux and every other system that is neither macOS nor Windows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linux: Option<HomePlace>,
    /// On macOS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub macos: Option<HomePlace>,
    /// On Windows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows: Option<HomePlace>,
    /// Where the fact comes from (tool-formats.md section and evidence mark) or that it is a
    /// guess; for people, kiln ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Where a home's files go on one operating system: below the directory `env` names when it
/// is set, else below `default` in the home directory (no `default`: the home does not apply
/// and the next one is tried), else — with no `env` at all — below the home directory; there
/// `path` takes the place of the prefix.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct HomePlace {
    /// The environment variable naming the directory (`CLAUDE_CONFIG_DIR`, `APPDATA`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub env: Option<String>,
    /// The directory below the home directory (`/`-separated) used when `env` is unset, or
    /// always when there is no `env` (`AppData/Roaming`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// What replaces the prefix below that directory: a folder ending in `/`
    /// (`Library/Application Support/Claude/`) for a folder prefix, a file path for a file
    /// prefix. Default: nothing for a folder (its contents go straight into the directory), the
    /// file's own name for a file (`$CLAUDE_CONFIG_DIR/.claude.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl HomePlace {
    /// Whether it says anything at all (an empty place at the top of a [`HomeSpec`] means
    /// "only on the systems named").
    pub fn is_empty(&self) -> bool {
        self.env.is_none() && self.default.is_none() && self.path.is_none()
    }
}

impl HomeSpec {
    /// The place on `os` (`std::env::consts::OS`; anything but `macos` and `windows` counts
    /// as Linux), if the home applies there.
    pub fn place_on(&self, os: &str) -> Option<&HomePlace> {
        let specific = match os {
            "macos" => self.macos.as_ref(),
            "windows" => self.windows.as_ref(),
            _ => self.linux.as_ref(),
        };
        specific.or_else(|| (!self.place.is_empty()).then_some(&self.place))
    }

    /// Every place it names, for every system.
    pub fn places(&self) -> impl Iterator<Item = &HomePlace> {
        std::iter::once(&self.place)
            .chain(self.linux.as_ref())
            .chain(self.macos.as_ref())
            .chain(self.windows.as_ref())
    }

    /// The rest of `relative` below the prefix, when the home takes that path: what follows a
    /// folder prefix, or `""` for the file prefix itself.
    pub fn matches<'a>(&self, relative: &'a str) -> Option<&'a str> {
        if self.prefix.ends_with('/') {
            relative.strip_prefix(self.prefix.as_str())
        } else {
            (relative == self.prefix).then_some("")
        }
    }

    /// What replaces the prefix in `place` (see [`HomePlace::path`]).
    pub fn replacement<'a>(&'a self, place: &'a HomePlace) -> &'a str {
        match &place.path {
            Some(path) => path,
            None if self.prefix.ends_with('/') => "",
            None => self.prefix.rsplit('/').next().unwrap_or(&self.prefix),
        }
    }
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
    /// Whether the tool runs prompt hooks (a `prompt` its model evaluates); a tool without
    /// them gets no `tool_event` for such a hook, so no hook output takes it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub prompt_hooks: bool,
    /// How the tool writes an environment reference, with `{name}` for the variable:
    /// `${env:{name}}` for Cursor. Absent: the tool has no interpolation, and templates use
    /// the forwarded-variable lists instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_reference: Option<String>,
    /// Where its global files live when not plainly below the home directory, tried in order
    /// (see [`HomeSpec`]): relocation variables and per-OS folders, as data.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub homes: Vec<HomeSpec>,
    /// Why a kind with no output at all cannot be expressed, by kind.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unsupported: BTreeMap<ComponentKind, String>,
    /// Notes for users: how the tool avoids double loading and what it leaves out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}
