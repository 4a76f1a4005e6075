//! Artifacts: the files an emitter returns. Emitters are pure: they return artifacts and never
//! touch the file system; the store writes them.

use std::sync::Arc;

use kiln_model::{BuildScope, ComponentId, MergeFormat, Strategy};

/// One output file, before it is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    /// The scope it belongs to.
    pub scope: BuildScope,
    /// Path relative to the scope root, `/`-separated (`.claude/skills/x/SKILL.md`).
    pub path: String,
    /// The bytes.
    pub bytes: Arc<[u8]>,
    /// Unix permission bits.
    pub mode: u32,
    /// How it was produced.
    pub strategy: Strategy,
    /// The components it came from, in order.
    pub components: Vec<ComponentId>,
    /// The library files it came from, sorted.
    pub sources: Vec<String>,
    /// A byte-for-byte copy of exactly one source file.
    pub verbatim: bool,
    /// For merge outputs: `json`, `jsonc` or `toml`.
    pub merge: Option<MergeFormat>,
    /// For merge outputs: the keys kiln owns, as JSON pointers.
    pub owned_keys: Vec<String>,
    /// A skill asset that is a relative symlink to another file of the same skill: the link
    /// text. Deploy recreates the link; `bytes` are what it leads to (dist holds a copy).
    pub link: Option<String>,
}

impl Artifact {
    /// The path under `dist/<tool>/<profile>/`: `global/…` or `project/…`.
    pub fn dist_path(&self) -> String {
        format!("{}/{}", self.scope.as_str(), self.path)
    }
}
