//! The memo cache: per unit of a (tool, profile) build, the fingerprint of its inputs and the
//! files it produced. A unit whose fingerprint matches, and whose files are still in dist,
//! is not emitted again.
//!
//! What a fingerprint covers (and what it leaves out) is decided by `kiln-build`; here it is
//! opaque. Each entry carries a checksum: an entry that fails it is dropped (and rebuilt), a
//! file that does not parse is ignored whole. Nothing here is needed for correctness: the
//! cache is safe to delete.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::fs::{Durability, FsError, read_optional, write_file};

/// The cache format.
pub const MEMO_VERSION: u32 = 2;

/// One unit's record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoEntry {
    /// blake3 over every input.
    pub fingerprint: String,
    /// The inputs by name (`file:components/rules/x.rule.md`, `tool`, `variables`), for
    /// explaining a rebuild.
    pub inputs: BTreeMap<String, String>,
    /// The dist paths of the files the unit produced (their hashes and provenance are in
    /// the dist manifest).
    pub files: Vec<String>,
    /// Checksum of the three fields above.
    pub check: String,
}

impl MemoEntry {
    /// An entry with its checksum.
    pub fn new(
        fingerprint: String,
        inputs: BTreeMap<String, String>,
        files: Vec<String>,
    ) -> MemoEntry {
        let check = checksum(&fingerprint, &inputs, &files);
        MemoEntry {
            fingerprint,
            inputs,
            files,
            check,
        }
    }

    /// Whether the checksum matches.
    pub fn is_intact(&self) -> bool {
        self.check == checksum(&self.fingerprint, &self.inputs, &self.files)
    }
}

/// blake3 over the fields, each followed by a NUL (cheap enough to check every entry on load).
fn checksum(fingerprint: &str, inputs: &BTreeMap<String, String>, files: &[String]) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(fingerprint.as_bytes());
    hasher.update(b"\0");
    for (key, value) in inputs {
        hasher.update(key.as_bytes());
        hasher.update(b"=");
        hasher.update(value.as_bytes());
        hasher.update(b"\0");
    }
    for file in files {
        hasher.update(file.as_bytes());
        hasher.update(b"\0");
    }
    hasher.finalize().to_hex().to_string()
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct MemoFile {
    version: u32,
    entries: BTreeMap<String, MemoEntry>,
}

/// A loaded cache.
#[derive(Debug, Default)]
pub struct Memo {
    /// Intact entries by unit key.
    pub entries: BTreeMap<String, MemoEntry>,
    /// Unit keys whose entries were corrupt.
    pub corrupt: Vec<String>,
    /// Why the whole file was ignored, if it was.
    pub unreadable: Option<String>,
}

impl Memo {
    /// Loads the cache at `path` (missing: empty).
    pub fn load(path: &Path) -> Memo {
        let bytes = match read_optional(path) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Memo::default(),
            Err(error) => {
                return Memo {
                    unreadable: Some(error.to_string()),
                    ..Memo::default()
                };
            }
        };
        match serde_json::from_slice::<MemoFile>(&bytes) {
            Ok(file) if file.version == MEMO_VERSION => {
                let (entries, corrupt): (BTreeMap<_, _>, BTreeMap<_, _>) = file
                    .entries
                    .into_iter()
                    .partition(|(_, entry)| entry.is_intact());
                Memo {
                    entries,
                    corrupt: corrupt.into_keys().collect(),
                    unreadable: None,
                }
            }
            Ok(file) => Memo {
                unreadable: Some(format!(
                    "cache format {} is not {MEMO_VERSION}",
                    file.version
                )),
                ..Memo::default()
            },
            Err(error) => Memo {
                unreadable: Some(format!("cache does not parse: {error}")),
                ..Memo::default()
            },
        }
    }

    /// Saves `entries` to `path`, only when the bytes differ from what is there.
    pub fn save(path: &Path, entries: BTreeMap<String, MemoEntry>) -> Result<bool, FsError> {
        let file = MemoFile {
            version: MEMO_VERSION,
            entries,
        };
        let mut bytes = serde_json::to_vec(&file).unwrap_or_default();
        bytes.push(b'\n');
        if read_optional(path)?.as_deref() == Some(bytes.as_slice()) {
            return Ok(false);
        }
        // The cache is rebuilt when lost; no need to wait for the disk.
        write_file(path, &bytes, 0o644, Durability::Atomic)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_entries_are_dropped_and_garbage_is_ignored() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("memo.json");
        let good = MemoEntry::new("f1".into(), BTreeMap::new(), vec!["global/a".into()]);
        let mut bad = MemoEntry::new("f2".into(), BTreeMap::new(), Vec::new());
        bad.fingerprint = "tampered".into();
        Memo::save(
            &path,
            BTreeMap::from([("a".to_string(), good), ("b".to_string(), bad)]),
        )
        .expect("save");
        let memo = Memo::load(&path);
        assert_eq!(memo.entries.keys().collect::<Vec<_>>(), ["a"]);
        assert_eq!(memo.corrupt, ["b"]);
        std::fs::write(&path, b"{ not json").expect("write");
        let memo = Memo::load(&path);
        assert!(memo.entries.is_empty());
        assert!(memo.unreadable.is_some());
    }
}
