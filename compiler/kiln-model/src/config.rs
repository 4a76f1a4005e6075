//! `kiln.toml` (the library root) and the machine configuration files
//! (`/etc/kiln/config.toml`, `$XDG_CONFIG_HOME/kiln/config.toml`, `$KILN_CONFIG`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a library keeps its parts, relative to `kiln.toml`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
#[schemars(extend("additionalProperties" = false))]
pub struct PathsSpec {
    /// Component folders (`rules/`, `skills/`, …) live here.
    pub components: String,
    /// `*.profile.json` files live here.
    pub profiles: String,
    /// Library tool definitions (`<tool>/tool.json`) live here.
    pub tools: String,
    /// Build output.
    pub dist: String,
}

impl Default for PathsSpec {
    fn default() -> Self {
        PathsSpec {
            components: "components".into(),
            profiles: "profiles".into(),
            tools: "tools".into(),
            dist: "dist".into(),
        }
    }
}

/// Secret resolution settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct SecretsSpec {
    /// The 1Password CLI to run for `op://` references (an absolute path works with an empty
    /// `PATH`, as under Home Manager activation). Default `op`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op_command: Option<String>,
    /// Seconds one `op read` may take before it and what it started are stopped. Default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600))]
    pub op_timeout_seconds: Option<u64>,
}

/// Settings every configuration layer may set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConfigValues {
    /// The profile this machine uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Profile by hostname, used when no profile is given otherwise.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hosts: BTreeMap<String, String>,
    /// Tools to build and deploy on this machine (default: the profile's tools): a list
    /// (`tools = ["claude-code", "codex"]`) or a table per tool (`[tools.codex]` with `scope`,
    /// `mode` and `projects`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<ToolsSetting>,
    /// Template variables; profiles override library values, machine layers override both.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub variables: serde_json::Map<String, serde_json::Value>,
    /// Secret resolution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<SecretsSpec>,
}

/// `kiln.toml`: makes a directory a kiln library.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct LibrarySpec {
    /// Format version; must be 1.
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// Where the library keeps its parts.
    #[serde(default)]
    pub paths: PathsSpec,
    /// Library-wide defaults for the machine configuration.
    #[serde(flatten)]
    pub values: ConfigValues,
}

/// A machine configuration file (`config.toml` of the system, user or `KILN_CONFIG` layer).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct MachineConfigSpec {
    /// Path of the library (absolute, or relative to this file; `~/` is the home directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub library: Option<String>,
    /// Deploy settings only a machine may give (a library cannot widen where kiln writes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<DeploySpec>,
    /// The settings shared with `kiln.toml`.
    #[serde(flatten)]
    pub values: ConfigValues,
}

/// `[deploy]` of a machine configuration file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct DeploySpec {
    /// Folders outside the home (absolute, or `~/…`) that a symlink in the home may lead to
    /// for kiln to write through it, keeping the link: a dotfiles repository elsewhere. A link
    /// into the home itself needs no entry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_roots: Vec<String>,
}

/// `tools` of a configuration layer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ToolsSetting {
    /// The short form: tool names, each deployed in the global scope by copy.
    List(Vec<String>),
    /// `[tools.<name>]` tables.
    Table(BTreeMap<String, MachineToolSpec>),
}

/// `[tools.<name>]`: how `kiln sync` deploys one tool on this machine.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct MachineToolSpec {
    /// `global` (the home), `project` (each of `projects`) or `both`. Default: `both` when
    /// `projects` are listed, else `global`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<SyncScope>,
    /// `copy` (default) or `symlink`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<SyncMode>,
    /// Project folders to keep in sync (absolute, or `~/…`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub projects: Vec<String>,
}

/// Where `kiln sync` deploys a tool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SyncScope {
    /// The home only.
    Global,
    /// The listed projects only.
    Project,
    /// Both.
    Both,
}

/// How `kiln sync` puts read-only files in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SyncMode {
    /// Regular files.
    Copy,
    /// Links to kiln's rendered store.
    Symlink,
}
