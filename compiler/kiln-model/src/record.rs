//! Deploy records, `$XDG_STATE_HOME/kiln/records/*.json`: what kiln wrote into one root for one
//! (tool, profile, scope), so the next deploy knows which files are its own and whether the
//! user changed them since.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{BuildScope, FileMode, HomeSpec, MergeFormat, RecordedHash};

/// The current record format.
pub const RECORD_VERSION: u32 = 1;

/// One file kiln deployed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct RecordEntry {
    /// `blake3:<hex>` of the whole file as kiln left it.
    pub hash: RecordedHash,
    /// Unix mode kiln gave it, octal text.
    pub mode: FileMode,
    /// The dist manifest hash it was deployed from (to tell a stale deploy from a live edit).
    pub dist_hash: String,
    /// For files shared with the user: `json`, `jsonc` or `toml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<MergeFormat>,
    /// For shared files: the keys kiln owns, as JSON pointers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owned_keys: Vec<String>,
    /// For shared files: `blake3:<hex>` of kiln's values at those keys (the user's other keys
    /// may change freely).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned_hash: Option<RecordedHash>,
    /// kiln created the file (it did not exist before): removing it later is allowed.
    #[serde(default)]
    pub created: bool,
    /// Symlink mode: the live path is a symlink to this file of kiln's rendered store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// The absolute path it was deployed to (differs from root + path when a tool home is
    /// relocated, e.g. `$CLAUDE_CONFIG_DIR`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<String>,
    /// Shared files: the parents of kiln's keys that were not there before kiln merged
    /// (`/mcpServers`), removed again with kiln's keys once empty, so an undeploy gives the
    /// user's file back as it was.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created_parents: Vec<String>,
    /// The live file as kiln last saw it holding what this entry records, taken well after
    /// its last change: a later deploy that finds the same identity and times trusts the file
    /// unchanged without reading it (a no-op deploy costs a stat per file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen: Option<LiveStat>,
}

/// A regular file's identity and times (`lstat`): any write, rename over it or `chmod`
/// changes the change time, which no program can set back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct LiveStat {
    /// The device number.
    pub device: u64,
    /// The inode number.
    pub inode: u64,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub modified_ns: i64,
    /// Status change time, nanoseconds since the epoch.
    pub changed_ns: i64,
}

/// What kiln deployed into one root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct DeployRecord {
    /// Format version ([`RECORD_VERSION`]).
    pub version: u32,
    /// The tool.
    pub tool: String,
    /// The profile.
    pub profile: String,
    /// The scope.
    pub scope: BuildScope,
    /// The absolute root deployed into (the home directory or a project).
    pub root: String,
    /// The absolute path of the dist manifest deployed from (to tell when dist moved on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    /// Every file kiln deployed, by path relative to the root.
    pub files: BTreeMap<String, RecordEntry>,
    /// Directories kiln created (removed again when they become empty), relative to the root.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created_dirs: Vec<String>,
    /// The tool's homes as deployed (from the dist manifest), so `check --fix` places files
    /// without a library.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub homes: Vec<HomeSpec>,
    /// `keyed:` hash of the record without this field, with the machine key: a record changed
    /// outside kiln (its root, its paths, its ownership claims) is never acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<String>,
}
