//! `kiln sync`'s comparator and promotion. The comparator reads what the deploy planner found
//! for one deployment (the same planner `deploy --dry-run`, `check` and `status` use) against
//! the dist manifest and the deploy record as the three-way base: content hashes decide;
//! modification times only describe a case both sides changed, and a live time in the future
//! decides nothing. Promotion writes a live edit of a file kiln copied verbatim from one
//! library file back into that file, per component (staged, then renamed).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use kiln_model::{DistManifest, ManifestEntry};
use kiln_store::hash::content_hash;
use serde::Serialize;

use crate::drift::DriftReason;
use crate::error::DeployError;
use crate::plan::{Action, DeployPlan};

/// How a managed file's live content relates to the library (the record is the base).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Comparison {
    /// Live is what dist wants.
    Identical,
    /// Only the live file changed since the last deploy.
    LiveNewer,
    /// Only the library changed (deploy brings it over).
    SourceNewer,
    /// Both changed.
    BothAdvanced,
    /// Both changed and the times cannot order them (equal, or live in the future).
    EqualMtimeDifferentContent,
    /// An entry kiln does not manage, in a folder it does (a skill made by hand).
    AdoptCandidate,
}

impl Comparison {
    /// Whether sync needs a decision for it (`--apply-promote`, `--prefer`, `--force`).
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            Comparison::LiveNewer
                | Comparison::BothAdvanced
                | Comparison::EqualMtimeDifferentContent
        )
    }
}

/// One live file that differs from the library, or an unmanaged one beside kiln's.
#[derive(Clone, Debug, Serialize)]
pub struct Compared {
    /// The path relative to the deployment's root (`.claude/skills/x/SKILL.md`).
    pub relative: String,
    /// The live path.
    pub path: PathBuf,
    /// The outcome.
    pub comparison: Comparison,
    /// What changed live (for drift).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Seconds since the epoch of the live file and of its newest library source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_mtime: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_mtime: Option<i64>,
    /// Short content hashes: live, and what dist holds now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dist_hash: Option<String>,
    /// The components the file comes from (`skill:x`).
    pub components: Vec<String>,
    /// The library file a promotion writes (only for verbatim copies of one file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promote_to: Option<String>,
    /// For a compiled output: the library files to edit instead.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub edit_instead: Vec<String>,
    /// The dist file (for diffs).
    #[serde(skip)]
    pub dist_file: Option<PathBuf>,
    /// The observation footer kiln appended to this SKILL.md (promotion removes it).
    #[serde(skip)]
    pub footer: Option<String>,
    /// A merged file where deploy resolves secrets: its live text holds their values.
    #[serde(skip)]
    pub holds_secrets: bool,
}

impl Compared {
    /// Whether a promotion can carry the live edit back.
    pub fn promotable(&self) -> bool {
        self.promote_to.is_some()
    }
}

/// Compares one deployment, from its (dry-run or real) plan and the manifest it came from.
/// `dist_tree` is `dist/<tool>/<profile>/`; `library` the library root (for source mtimes).
pub fn compare(
    plan: &DeployPlan,
    manifest: &DistManifest,
    dist_tree: &Path,
    library: &Path,
    now: SystemTime,
) -> Vec<Compared> {
    let prefix = format!("{}/", plan.scope.as_str());
    let mut out = Vec::new();
    for step in &plan.steps {
        let dist_path = format!("{prefix}{}", step.relative);
        let Some(entry) = manifest.files.get(&dist_path) else {
            continue;
        };
        let (comparison, reason) = match &step.action {
            Action::Drift { reason } => {
                let base = step.entry.as_ref().map(|e| e.dist_hash.as_str());
                if base == Some(entry.hash.as_str()) {
                    (Comparison::LiveNewer, Some(reason))
                } else {
                    (both_changed(&step.path, entry, library, now), Some(reason))
                }
            }
            Action::Update | Action::Create => (Comparison::SourceNewer, None),
            _ => continue,
        };
        // A SKILL.md that differs from its source only by kiln's observation footer is a
        // copy too: promotion takes the footer off again.
        // Live files are read only for live edits (a first deploy of 10,000 files reads none).
        let edited = reason.is_some();
        let footer =
            (edited && !entry.verbatim && entry.strategy == kiln_model::Strategy::CopyTree)
                .then(|| observation_footer(&dist_tree.join(&dist_path), entry, library))
                .flatten();
        let promotable = comparison != Comparison::SourceNewer
            && (entry.verbatim || footer.is_some())
            && entry.merge.is_none()
            && entry.link.is_none()
            && entry.sources.len() == 1
            && matches!(reason, Some(DriftReason::Modified));
        out.push(Compared {
            relative: step.relative.clone(),
            path: step.path.clone(),
            comparison,
            reason: reason.map(ToString::to_string),
            live_mtime: mtime(&step.path),
            source_mtime: newest_source(entry, library),
            live_hash: edited
                .then(|| std::fs::read(&step.path).ok())
                .flatten()
                .map(|b| short(&content_hash(&b))),
            dist_hash: Some(short(&entry.hash)),
            components: entry.components.clone(),
            promote_to: promotable.then(|| entry.sources[0].clone()),
            edit_instead: if promotable {
                Vec::new()
            } else {
                entry.sources.clone()
            },
            dist_file: Some(dist_tree.join(&dist_path)),
            footer,
            holds_secrets: crate::secrets::may_hold_secrets(entry),
        });
    }
    out.extend(adopt_candidates(plan, manifest));
    out
}

/// Both sides changed: ordered by time only when the times differ and the live one is not in
/// the future (a clock that is off must not decide whose edit survives).
fn both_changed(live: &Path, entry: &ManifestEntry, library: &Path, now: SystemTime) -> Comparison {
    let now = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    match (mtime(live), newest_source(entry, library)) {
        (Some(live), Some(source)) if live != source && live <= now => Comparison::BothAdvanced,
        _ => Comparison::EqualMtimeDifferentContent,
    }
}

fn mtime(path: &Path) -> Option<i64> {
    let modified = std::fs::symlink_metadata(path).ok()?.modified().ok()?;
    Some(match modified.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    })
}

fn newest_source(entry: &ManifestEntry, library: &Path) -> Option<i64> {
    entry
        .sources
        .iter()
        .filter_map(|source| mtime(&library.join(source)))
        .max()
}

/// What dist adds to the skill's source: its trimmed text, then the observation block
/// (`\n\n---\n\n<!-- kiln:observation …`).
fn observation_footer(dist: &Path, entry: &ManifestEntry, library: &Path) -> Option<String> {
    let dist = std::fs::read_to_string(dist).ok()?;
    let source = std::fs::read_to_string(library.join(entry.sources.first()?)).ok()?;
    let footer = dist.strip_prefix(source.trim_end())?;
    (footer.starts_with('\n') && footer.contains("<!-- kiln:observation"))
        .then(|| footer.to_string())
}

/// The library text for a live SKILL.md that still holds kiln's footer: the footer taken out
/// (text written after it follows the skill's text), the source's own ending kept.
fn without_footer(live: &str, footer: &str, source: &str) -> Option<String> {
    let at = live.find(footer.trim_end())?;
    let before = &live[..at];
    let after = live[at + footer.trim_end().len()..].trim_start_matches('\n');
    let ending = &source[source.trim_end().len()..];
    Some(if after.is_empty() {
        format!("{}{ending}", before.trim_end())
    } else {
        format!("{}\n{after}", before.trim_end())
    })
}

fn short(hash: &str) -> String {
    hash.trim_start_matches("blake3:")
        .chars()
        .take(12)
        .collect()
}

/// Skill folders in a folder kiln deploys skills into that kiln did not put there.
fn adopt_candidates(plan: &DeployPlan, manifest: &DistManifest) -> Vec<Compared> {
    let prefix = format!("{}/", plan.scope.as_str());
    // `.claude/skills/x/SKILL.md` deployed at `<root>/.claude/skills/x/SKILL.md`: the skill
    // folders' parent, live, and the names kiln manages there.
    let mut folders: BTreeMap<PathBuf, (String, Vec<String>)> = BTreeMap::new();
    for step in &plan.steps {
        let dist_path = format!("{prefix}{}", step.relative);
        let is_skill = manifest.files.get(&dist_path).is_some_and(|e| {
            e.strategy == kiln_model::Strategy::CopyTree && step.relative.ends_with("/SKILL.md")
        });
        if !is_skill {
            continue;
        }
        let Some(skill_dir) = step.path.parent() else {
            continue;
        };
        let (Some(parent), Some(name)) = (skill_dir.parent(), skill_dir.file_name()) else {
            continue;
        };
        let relative_parent = step
            .relative
            .rsplitn(3, '/')
            .nth(2)
            .unwrap_or_default()
            .to_string();
        folders
            .entry(parent.to_path_buf())
            .or_insert_with(|| (relative_parent, Vec::new()))
            .1
            .push(name.to_string_lossy().into_owned());
    }
    let mut out = Vec::new();
    for (parent, (relative_parent, managed)) in folders {
        let Ok(entries) = std::fs::read_dir(&parent) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter(|e| e.path().join("SKILL.md").is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| !managed.contains(name) && !name.starts_with('.'))
            .collect();
        names.sort();
        for name in names {
            out.push(Compared {
                relative: format!("{relative_parent}/{name}"),
                path: parent.join(&name),
                comparison: Comparison::AdoptCandidate,
                reason: Some("a skill folder kiln does not manage".to_string()),
                live_mtime: mtime(&parent.join(&name).join("SKILL.md")),
                source_mtime: None,
                live_hash: None,
                dist_hash: None,
                components: Vec::new(),
                promote_to: None,
                edit_instead: Vec::new(),
                dist_file: None,
                footer: None,
                holds_secrets: false,
            });
        }
    }
    out
}

/// One library file a promotion writes: where, what, its mode, its library path.
type Staged = (PathBuf, Vec<u8>, u32, String);

/// What promoting did: library files written, by component.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Promoted {
    /// `component → library files written`.
    pub components: BTreeMap<String, Vec<String>>,
    /// `library file → secret references` whose resolved values were found in the live file
    /// (pasted there by hand) and written back as the references.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub re_referenced: BTreeMap<String, Vec<String>>,
}

/// Writes each promotable entry's live bytes into its library file, one component at a time
/// (every file of the component staged, then renamed: a component is promoted whole or not
/// at all, as far as renames allow). Only verbatim copies are promotable, and kiln resolves
/// secrets only into merged files, so a value in a promoted file was pasted by hand: with
/// `secrets` (this deployment's, resolved), each such value goes back to the library as its
/// `op://` reference, and a value that cannot be taken out (inside a binary file) refuses
/// the whole promotion before anything is written.
pub fn promote(
    entries: &[&Compared],
    library: &Path,
    secrets: Option<&crate::secrets::Secrets>,
) -> Result<Promoted, DeployError> {
    let mut re_referenced = BTreeMap::new();
    let mut by_component: BTreeMap<String, Vec<Staged>> = BTreeMap::new();
    for entry in entries {
        let Some(source) = &entry.promote_to else {
            continue;
        };
        let mut bytes = std::fs::read(&entry.path).map_err(|e| {
            DeployError::Io(format!("failed to read `{}`: {e}", entry.path.display()))
        })?;
        if let Some(footer) = &entry.footer {
            let source_text = std::fs::read_to_string(library.join(source)).unwrap_or_default();
            let live = String::from_utf8_lossy(&bytes);
            bytes = without_footer(&live, footer, &source_text)
                .ok_or_else(|| {
                    DeployError::Io(format!(
                        "`{}`: kiln's observation footer was edited, so the skill's own text cannot be told from it; edit {source} instead",
                        entry.path.display()
                    ))
                })?
                .into_bytes();
        }
        if let Some(secrets) = secrets {
            let (back, references) = secrets.re_reference(&bytes).map_err(|reference| {
                DeployError::Secret(format!(
                    "promotion refused: `{}` holds the value of `{reference}` in bytes kiln cannot edit (not text); take the value out of the live file, then sync again",
                    entry.path.display()
                ))
            })?;
            if !references.is_empty() {
                re_referenced.insert(source.clone(), references.into_iter().collect());
            }
            bytes = back;
        }
        if !kiln_store::dist::is_contained(source) {
            return Err(DeployError::Record(format!(
                "the manifest names `{source}` as the source of `{}`, outside the library",
                entry.relative
            )));
        }
        let target = library.join(source);
        let mode = std::fs::metadata(&target).map_or(0o644, |m| kiln_store::fs::mode_of(&m));
        let component = entry.components.first().cloned().unwrap_or_default();
        by_component
            .entry(component)
            .or_default()
            .push((target, bytes, mode, source.clone()));
    }
    let mut promoted = Promoted {
        re_referenced,
        ..Promoted::default()
    };
    for (component, files) in by_component {
        let batch: Vec<kiln_store::fs::FileWrite<'_>> = files
            .iter()
            .map(|(path, bytes, mode, _)| kiln_store::fs::FileWrite {
                path,
                bytes,
                mode: *mode,
            })
            .collect();
        kiln_store::fs::write_files(&batch).map_err(|e| DeployError::Io(e.to_string()))?;
        promoted
            .components
            .insert(component, files.into_iter().map(|f| f.3).collect());
    }
    Ok(promoted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_observation_footer_comes_off_a_promoted_skill() {
        let source = "---\nname: x\n---\nDo it.\n";
        let footer = "\n\n---\n\n<!-- kiln:observation mode=remind -->\nAfter using this skill, record it.\n";
        let dist = format!("{}{footer}", source.trim_end());
        assert_eq!(
            without_footer(&dist, footer, source).as_deref(),
            Some(source)
        );
        let edited = dist.replace("Do it.", "Do it well.");
        assert_eq!(
            without_footer(&edited, footer, source).as_deref(),
            Some("---\nname: x\n---\nDo it well.\n")
        );
        let appended = format!("{dist}Also this.\n");
        assert_eq!(
            without_footer(&appended, footer, source).as_deref(),
            Some("---\nname: x\n---\nDo it.\nAlso this.\n")
        );
        assert_eq!(without_footer("no footer", footer, source), None);
    }

    fn entry(live: PathBuf, promote_to: &str, footer: Option<&str>) -> Compared {
        Compared {
            relative: "x/SKILL.md".into(),
            path: live,
            comparison: Comparison::LiveNewer,
            reason: None,
            live_mtime: None,
            source_mtime: None,
            live_hash: None,
            dist_hash: None,
            components: vec!["skill:x".into()],
            promote_to: Some(promote_to.into()),
            edit_instead: Vec::new(),
            dist_file: None,
            footer: footer.map(str::to_string),
            holds_secrets: false,
        }
    }

    #[test]
    fn promotion_refuses_an_edited_footer_and_a_source_outside_the_library() {
        let dir = tempfile::tempdir().expect("dir");
        let library = dir.path().join("lib");
        std::fs::create_dir_all(library.join("skills/x")).expect("mkdir");
        std::fs::write(library.join("skills/x/SKILL.md"), "Do it.\n").expect("source");
        let live = dir.path().join("SKILL.md");
        std::fs::write(&live, "Do it better.\n<!-- kiln:observation (edited) -->\n").expect("live");
        let footer = "\n<!-- kiln:observation mode=remind -->\nrecord it\n";
        let edited = entry(live.clone(), "skills/x/SKILL.md", Some(footer));
        let error = promote(&[&edited], &library, None).expect_err("footer edited");
        assert!(
            error.to_string().contains("observation footer was edited"),
            "{error}"
        );
        let outside = entry(live.clone(), "../outside.md", None);
        let error = promote(&[&outside], &library, None).expect_err("outside");
        assert!(error.to_string().contains("outside the library"), "{error}");
        assert!(!dir.path().join("outside.md").exists());
        assert_eq!(
            std::fs::read_to_string(library.join("skills/x/SKILL.md")).expect("read"),
            "Do it.\n",
            "nothing written"
        );
        // The plain case writes the live bytes into the library file.
        let plain = entry(live.clone(), "skills/x/SKILL.md", None);
        let promoted = promote(&[&plain], &library, None).expect("promoted");
        assert_eq!(promoted.components["skill:x"], ["skills/x/SKILL.md"]);
        assert_eq!(
            std::fs::read(library.join("skills/x/SKILL.md")).expect("read"),
            std::fs::read(&live).expect("live")
        );
    }
}
