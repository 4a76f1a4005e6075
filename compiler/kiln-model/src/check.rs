//! A drift-check manifest (`kiln check --manifest FILE`): sets of copies that must stay equal —
//! a skill kept in four places, a config mirrored into a submodule — whoever deployed them.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Which side is the truth when `--fix` repairs drift.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FixDirection {
    /// Copy `a` over `b`.
    AToB,
    /// Copy `b` over `a`.
    BToA,
}

/// Two files or directories (compared recursively) that must be equal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct PairSpec {
    /// One side (relative to the manifest's folder; `~/` is the home directory).
    pub a: String,
    /// The other side.
    pub b: String,
}

/// `kiln check --manifest FILE`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct CheckManifestSpec {
    /// Path of the JSON Schema, for editors.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Files or directories that must match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pairs: Vec<PairSpec>,
    /// Files with different names and the same content: `a` path → `b` path.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aliases: BTreeMap<String, String>,
    /// Paths below a `b` directory that exist there on purpose (never reported missing in `a`),
    /// relative to the pair's `b`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub live_only: Vec<String>,
    /// Paths below an `a` directory that exist there on purpose (never reported missing in `b`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub submodule_only: Vec<String>,
    /// The direction `--fix` copies in (default `a_to_b`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix_direction: Option<FixDirection>,
}
