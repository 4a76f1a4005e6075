//! The dist manifest, `dist/<tool>/<profile>.manifest.json`: every file kiln built for one
//! tool and profile, with its hash and provenance. Deploy, check and sync read it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{BuildScope, FileMode, HomeSpec, MergeFormat, Strategy};

/// The current manifest format.
pub const MANIFEST_VERSION: u32 = 1;

/// One built file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct ManifestEntry {
    /// `blake3:<hex>` of the file's bytes.
    pub hash: String,
    /// Size in bytes.
    pub size: u64,
    /// Unix permission bits, octal (`0644`, `0755` for executable skill assets).
    pub mode: FileMode,
    /// The scope the file belongs to.
    pub scope: BuildScope,
    /// How it was produced.
    pub strategy: Strategy,
    /// The components it came from (`kind:id`), in order.
    pub components: Vec<String>,
    /// The library files it came from (library-relative), sorted.
    pub sources: Vec<String>,
    /// Whether the file is a byte-for-byte copy of exactly one source file (so a live edit
    /// can be promoted back).
    pub verbatim: bool,
    /// For merge outputs: `json`, `jsonc` or `toml`, the format of the shared file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<MergeFormat>,
    /// For merge outputs: the keys kiln owns in the shared file, as JSON pointers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owned_keys: Vec<String>,
    /// A skill asset that is a relative symlink to another file of the same skill: the link
    /// text, recreated at deploy (dist holds a copy of what it leads to, which `hash` is of).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// A component the tool could not express, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct Omission {
    /// `kind:id`.
    pub component: String,
    /// The scope.
    pub scope: BuildScope,
    /// Why.
    pub reason: String,
}

/// `dist/<tool>/<profile>.manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct DistManifest {
    /// Format version ([`MANIFEST_VERSION`]).
    pub version: u32,
    /// The tool.
    pub tool: String,
    /// The profile.
    pub profile: String,
    /// Every file, by path relative to `dist/<tool>/<profile>/` (`global/.claude/CLAUDE.md`).
    pub files: BTreeMap<String, ManifestEntry>,
    /// Components left out, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub omitted: Vec<Omission>,
    /// Where the tool's global files live (its definition's `homes`), so deploy needs no
    /// library to place them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub homes: Vec<HomeSpec>,
}
