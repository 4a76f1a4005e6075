//! `kiln check --manifest FILE`: copies that must stay equal, whoever made them — pairs of
//! files or directories (compared recursively, by content hash), aliases (different names,
//! same content), paths that exist on one side on purpose, and a canonical direction for
//! `--fix`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use kiln_model::{CheckManifestSpec, FixDirection};
use serde::Serialize;

use crate::plan::DeployError;

/// The state of one compared file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PairState {
    /// Same bytes on both sides.
    Synced,
    /// Different bytes.
    Differs,
    /// Only on the `b` side.
    MissingA,
    /// Only on the `a` side.
    MissingB,
}

/// One compared file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PairFile {
    /// The `a` side's path.
    pub a: PathBuf,
    /// The `b` side's path.
    pub b: PathBuf,
    /// How they compare.
    pub state: PairState,
}

/// Resolves a manifest path: `~/` is `home`, a relative path is relative to `base`.
fn resolve(path: &str, base: &Path, home: &Path) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => home.join(rest),
        None if Path::new(path).is_absolute() => PathBuf::from(path),
        None => base.join(path),
    }
}

/// Every file below `dir`, relative, `/`-separated.
fn files_below(dir: &Path) -> BTreeSet<String> {
    walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .flatten()
        .filter(|entry| !entry.file_type().is_dir())
        .filter_map(|entry| {
            let relative = entry.path().strip_prefix(dir).ok()?;
            Some(relative.to_string_lossy().replace('\\', "/"))
        })
        .collect()
}

fn compare(a: &Path, b: &Path) -> PairState {
    match (std::fs::read(a), std::fs::read(b)) {
        (Ok(x), Ok(y)) if x == y => PairState::Synced,
        (Ok(_), Ok(_)) => PairState::Differs,
        (Ok(_), Err(_)) => PairState::MissingB,
        (Err(_), Ok(_)) => PairState::MissingA,
        (Err(_), Err(_)) => PairState::MissingA,
    }
}

/// Compares everything the manifest lists.
pub fn check(spec: &CheckManifestSpec, base: &Path, home: &Path) -> Vec<PairFile> {
    let mut out = Vec::new();
    for pair in &spec.pairs {
        let (a, b) = (resolve(&pair.a, base, home), resolve(&pair.b, base, home));
        if a.is_dir() || b.is_dir() {
            let (in_a, in_b) = (files_below(&a), files_below(&b));
            for relative in in_a.union(&in_b) {
                let state = compare(&a.join(relative), &b.join(relative));
                let intended = match state {
                    PairState::MissingA => spec.live_only.iter().any(|p| covers(p, relative)),
                    PairState::MissingB => spec.submodule_only.iter().any(|p| covers(p, relative)),
                    PairState::Synced | PairState::Differs => false,
                };
                if !intended {
                    out.push(PairFile {
                        a: a.join(relative),
                        b: b.join(relative),
                        state,
                    });
                }
            }
        } else {
            out.push(PairFile {
                state: compare(&a, &b),
                a,
                b,
            });
        }
    }
    for (a, b) in &spec.aliases {
        let (a, b) = (resolve(a, base, home), resolve(b, base, home));
        out.push(PairFile {
            state: compare(&a, &b),
            a,
            b,
        });
    }
    out
}

/// Whether an intentionally one-sided path (a file or a folder) covers `relative`.
fn covers(path: &str, relative: &str) -> bool {
    let path = path.trim_end_matches('/');
    relative == path || relative.starts_with(&format!("{path}/"))
}

/// One repair.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Repair {
    /// Copied from.
    pub from: PathBuf,
    /// Copied to.
    pub to: PathBuf,
}

/// The repairs `--fix` makes in the manifest's direction: copies over differing files and
/// files missing on the target side. A file only on the target side is never deleted.
pub fn repairs(files: &[PairFile], direction: FixDirection) -> Vec<Repair> {
    files
        .iter()
        .filter_map(|file| match (direction, file.state) {
            (FixDirection::AToB, PairState::Differs | PairState::MissingB) => Some(Repair {
                from: file.a.clone(),
                to: file.b.clone(),
            }),
            (FixDirection::BToA, PairState::Differs | PairState::MissingA) => Some(Repair {
                from: file.b.clone(),
                to: file.a.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// Applies repairs with the atomic write primitive, keeping the source's mode.
pub fn apply_repairs(repairs: &[Repair]) -> Result<(), DeployError> {
    for repair in repairs {
        let bytes = std::fs::read(&repair.from).map_err(|e| {
            DeployError::Io(format!("failed to read `{}`: {e}", repair.from.display()))
        })?;
        let mode = std::fs::metadata(&repair.from)
            .map(|m| kiln_store::fs::mode_of(&m))
            .unwrap_or(0o644);
        // A copy that is a symlink (a dotfiles link) is written through; the link stays.
        let to = match std::fs::symlink_metadata(&repair.to) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                repair.to.canonicalize().map_err(|e| {
                    DeployError::Io(format!(
                        "`{}` is a symlink that leads nowhere ({e}); fix or remove it",
                        repair.to.display()
                    ))
                })?
            }
            _ => repair.to.clone(),
        };
        kiln_store::fs::atomic_write(&to, &bytes, mode)
            .map_err(|e| DeployError::Io(e.to_string()))?;
    }
    Ok(())
}

/// What `kiln check --manifest` found and did.
#[derive(Debug, Serialize)]
pub struct PairReport {
    /// Whether every pair has the same bytes on both sides (after the fixes).
    pub synced: bool,
    /// How many pairs are in each state.
    pub counts: std::collections::BTreeMap<PairState, usize>,
    /// Every pair, after the fixes.
    pub files: Vec<PairFile>,
    /// The copies made (or, in a dry run, that would be).
    pub repairs: Vec<Repair>,
}

/// Compares every pair of `spec` (paths relative to `base`, `~` the home) and, with `fix`,
/// copies each differing file in the manifest's fix direction (only planned when `dry_run`).
pub fn check_pairs(
    spec: &CheckManifestSpec,
    base: &Path,
    home: &Path,
    fix: bool,
    dry_run: bool,
) -> Result<PairReport, DeployError> {
    let mut files = check(spec, base, home);
    let mut planned = Vec::new();
    if fix {
        planned = repairs(&files, spec.fix_direction.unwrap_or(FixDirection::AToB));
        if !dry_run {
            apply_repairs(&planned)?;
            files = check(spec, base, home);
        }
    }
    let mut counts = std::collections::BTreeMap::new();
    for file in &files {
        *counts.entry(file.state).or_default() += 1;
    }
    Ok(PairReport {
        synced: files.iter().all(|f| f.state == PairState::Synced),
        counts,
        files,
        repairs: planned,
    })
}
