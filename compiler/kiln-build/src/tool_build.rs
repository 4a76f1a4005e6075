//! One (profile, tool) build: plan the units, fingerprint each, emit the dirty ones in
//! parallel, store the result with its manifest and memo cache (see the crate docs for the
//! fingerprint inputs).

use std::collections::BTreeMap;
use std::sync::Arc;

use kiln_core::artifact::Artifact;
use kiln_core::{Diagnostic, Diagnostics};
use kiln_emit::{EmitRequest, Unit, emit_unit, plan, unit_inputs};
use kiln_model::{DistManifest, MANIFEST_VERSION, ManifestEntry, Strategy};
use kiln_store::dist::{DistLayout, StoreReport, read_manifest, store};
use kiln_store::hash::{content_hash, json_hash};
use kiln_store::memo::{Memo, MemoEntry};
use rayon::prelude::*;
use serde::Serialize;

use crate::KILN_VERSION;

/// How to build.
#[derive(Clone, Copy, Default)]
pub struct BuildOptions<'a> {
    /// Write nothing; report what is out of date.
    pub check: bool,
    /// Treat "cannot express" warnings as errors.
    pub strict: bool,
    /// Told how many units there are and when each is done (the CLI draws a progress bar).
    pub progress: Option<&'a dyn Progress>,
    /// Content hashes of the library's files, computed once for all tools of a build.
    pub hashes: Option<&'a FileHashes>,
    /// The dist trees are as the last build left them (the stamp says so): a fresh unit's
    /// files need not be stat'ed.
    pub dist_intact: bool,
}

/// Content hashes of library files (documents and skill assets), by library path.
#[derive(Debug, Default)]
pub struct FileHashes {
    hashes: BTreeMap<String, String>,
}

impl FileHashes {
    /// Hashes every file of every component (in parallel; assets are read once here rather
    /// than once per tool).
    pub fn compute(library: &kiln_core::Library) -> FileHashes {
        let mut paths: Vec<&String> = library
            .components
            .values()
            .flat_map(|c| {
                [&c.source, &c.meta_source]
                    .into_iter()
                    .chain(c.assets.iter())
            })
            .collect();
        paths.sort_unstable();
        paths.dedup();
        let hashes = paths
            .par_iter()
            .filter_map(|path| {
                file_hash(library, path)
                    .ok()
                    .map(|hash| ((*path).clone(), hash))
            })
            .collect();
        FileHashes { hashes }
    }
}

/// The content hash of one library file (assets with their mode).
fn file_hash(library: &kiln_core::Library, file: &str) -> Result<String, std::io::Error> {
    match library.source(file) {
        Some(source) => Ok(content_hash(source.text.as_bytes())),
        None => library.read_asset(file).map(|(bytes, mode)| {
            // A link's text is part of the output (deploy recreates the link), and so is a
            // folder link the asset is reached through (`tools -> scripts`): retargeting it to
            // a folder of the same files changes only the link.
            let mut hash = match std::fs::read_link(library.root.join(file)) {
                Ok(text) => format!("{}:{mode:o}:{}", content_hash(&bytes), text.display()),
                Err(_) => format!("{}:{mode:o}", content_hash(&bytes)),
            };
            if let Some((link, text)) = library
                .skill_folder_of(file)
                .and_then(|folder| library.asset_folder_link(file, &folder))
            {
                hash.push_str(&format!(":{link}->{text}"));
            }
            hash
        }),
    }
}

/// Progress of a build, reported from the worker threads.
pub trait Progress: Sync {
    /// `units` more units are planned.
    fn planned(&self, units: usize);
    /// One unit is done (fresh or emitted).
    fn unit_done(&self);
}

/// Why a unit was emitted again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rebuilt {
    /// The unit's key.
    pub unit: String,
    /// Why (serialised as its sentence).
    #[serde(serialize_with = "kiln_model::serialize_display")]
    pub reason: RebuildReason,
}

/// Why a unit is not fresh.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RebuildReason {
    /// No memo entry and no cache problem: the first build.
    NotBuiltBefore,
    /// The whole memo cache could not be used.
    CacheIgnored(String),
    /// This unit's memo entry failed its checksum.
    CorruptEntry,
    /// Fingerprint inputs that differ from the memo entry (`(gone)` marks removed ones).
    InputsChanged(Vec<String>),
    /// dist has no manifest to take the fresh files from.
    ManifestMissing,
    /// A file of the unit is not in the dist manifest.
    NotInManifest(String),
    /// A file of the unit is gone from dist (or has another size).
    OutputMissing(String),
}

impl std::fmt::Display for RebuildReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RebuildReason::NotBuiltBefore => f.write_str("not built before"),
            RebuildReason::CacheIgnored(why) => write!(f, "the cache was ignored: {why}"),
            RebuildReason::CorruptEntry => f.write_str("its cache entry was corrupt"),
            RebuildReason::InputsChanged(changed) if changed.is_empty() => {
                f.write_str("its inputs changed")
            }
            RebuildReason::InputsChanged(changed) => write!(f, "changed: {}", changed.join(", ")),
            RebuildReason::ManifestMissing => f.write_str("the dist manifest is missing"),
            RebuildReason::NotInManifest(path) => {
                write!(f, "`{path}` is not in the dist manifest")
            }
            RebuildReason::OutputMissing(path) => write!(f, "output `{path}` is missing from dist"),
        }
    }
}

/// The result of building one (profile, tool).
#[derive(Debug, Serialize)]
pub struct BuildOutcome {
    /// The tool.
    pub tool: String,
    /// The profile.
    pub profile: String,
    /// The manifest of the build.
    #[serde(skip)]
    pub manifest: DistManifest,
    /// How many files the build has.
    pub files: usize,
    /// Files written, unchanged and removed (none in check mode).
    pub written: Vec<String>,
    /// How many files were already up to date.
    pub unchanged: usize,
    /// Files removed from dist.
    pub removed: Vec<String>,
    /// Units taken from the memo cache.
    pub fresh: usize,
    /// Units emitted, with the reason.
    pub rebuilt: Vec<Rebuilt>,
    /// Check mode: dist paths that are missing, different or no longer produced.
    pub stale: Vec<String>,
    /// Warnings (and, on failure, errors).
    #[serde(skip)]
    pub diagnostics: Diagnostics,
}

enum UnitResult {
    Fresh(Vec<(String, ManifestEntry)>),
    Emitted {
        entry: MemoEntry,
        artifacts: Vec<Artifact>,
        reason: RebuildReason,
    },
    Failed(Diagnostics),
}

/// Builds one profile for one tool into `layout`.
pub fn build_tool(
    request: &EmitRequest<'_>,
    layout: &DistLayout,
    options: BuildOptions,
) -> Result<BuildOutcome, Diagnostics> {
    let tool = request.tool.spec.name.clone();
    let profile = request.profile.name.clone();
    let mut planned = plan(request);
    let mut diagnostics = Diagnostics::new();
    for diagnostic in std::mem::take(&mut planned.diagnostics) {
        if options.strict && !diagnostic.is_error() {
            diagnostics.push(Diagnostic {
                severity: kiln_core::Severity::Error,
                ..diagnostic
            });
        } else {
            diagnostics.push(diagnostic);
        }
    }
    if diagnostics.has_errors() {
        return Err(diagnostics);
    }
    let mut memo = Memo::load(&layout.memo(&tool, &profile));
    let tree = layout.tree(&tool, &profile);
    let previous = read_manifest(&layout.manifest(&tool, &profile))
        .ok()
        .flatten();

    if let Some(progress) = options.progress {
        progress.planned(planned.units.len());
    }
    let shared = SharedInputs::of(request);
    let results: Vec<(Unit, UnitResult)> = planned
        .units
        .par_iter()
        .map(|unit| {
            let _done = ProgressGuard(options.progress);
            let fingerprint = match fingerprint(request, &shared, unit, options.hashes) {
                Ok(fingerprint) => fingerprint,
                Err(problems) => return (unit.clone(), UnitResult::Failed(problems)),
            };
            let key = unit.key();
            let cached = memo.entries.get(&key);
            // Same fingerprint: fresh, unless its files are gone from dist.
            let missing = match cached {
                Some(entry) if entry.fingerprint == fingerprint => {
                    match fresh_files(&tree, entry, previous.as_ref(), options.dist_intact) {
                        Ok(files) => return (unit.clone(), UnitResult::Fresh(files)),
                        Err(reason) => Some(reason),
                    }
                }
                _ => None,
            };
            // Emitted again: now the inputs one by one, for the memo and the reason.
            let inputs = match fingerprint_inputs(request, &shared, unit, options.hashes) {
                Ok(inputs) => inputs,
                Err(problems) => return (unit.clone(), UnitResult::Failed(problems)),
            };
            let reason = match (missing, cached) {
                (Some(reason), _) => reason,
                (None, Some(entry)) => changed_inputs(&entry.inputs, &inputs),
                (None, None) if memo.corrupt.contains(&key) => RebuildReason::CorruptEntry,
                (None, None) => match &memo.unreadable {
                    Some(why) => RebuildReason::CacheIgnored(why.clone()),
                    None => RebuildReason::NotBuiltBefore,
                },
            };
            match emit_unit(request, unit) {
                Ok(artifacts) => {
                    let paths = artifacts.iter().map(Artifact::dist_path).collect();
                    let entry = MemoEntry::new(fingerprint, inputs, paths);
                    (
                        unit.clone(),
                        UnitResult::Emitted {
                            entry,
                            artifacts,
                            reason,
                        },
                    )
                }
                Err(problems) => (unit.clone(), UnitResult::Failed(problems)),
            }
        })
        .collect();

    let mut files: BTreeMap<String, ManifestEntry> = BTreeMap::new();
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    let mut emitted: BTreeMap<String, (Arc<[u8]>, u32)> = BTreeMap::new();
    let mut entries: BTreeMap<String, MemoEntry> = BTreeMap::new();
    let mut rebuilt = Vec::new();
    let mut fresh = 0;
    for (unit, result) in results {
        let key = unit.key();
        let unit_files = match result {
            UnitResult::Fresh(unit_files) => {
                fresh += 1;
                // Moved, not cloned: every fresh unit's entry goes over as it was.
                if let Some(entry) = memo.entries.remove(&key) {
                    entries.insert(key.clone(), entry);
                }
                unit_files
            }
            UnitResult::Emitted {
                entry,
                artifacts,
                reason,
            } => {
                rebuilt.push(Rebuilt {
                    unit: key.clone(),
                    reason,
                });
                let unit_files: Vec<(String, ManifestEntry)> = artifacts
                    .iter()
                    .map(|a| (a.dist_path(), manifest_entry(a)))
                    .collect();
                for artifact in &artifacts {
                    emitted.insert(
                        artifact.dist_path(),
                        (artifact.bytes.clone(), artifact.mode),
                    );
                }
                entries.insert(key.clone(), entry);
                unit_files
            }
            UnitResult::Failed(problems) => {
                diagnostics.extend(problems);
                continue;
            }
        };
        for (path, entry) in unit_files {
            if let Some(other) = owners.insert(path.clone(), key.clone()) {
                diagnostics.push(
                    Diagnostic::error(
                        "kiln::build::path_collision",
                        format!("`{path}` is produced twice for {tool}: by `{other}` and by `{key}`"),
                    )
                    .help("two components map to the same file; rename one (ids join their folders with `-` for some tools)"),
                );
            }
            files.insert(path, entry);
        }
    }
    if diagnostics.has_errors() {
        return Err(diagnostics);
    }
    let manifest = DistManifest {
        version: MANIFEST_VERSION,
        tool: tool.clone(),
        profile: profile.clone(),
        files,
        omitted: planned.omissions,
        homes: request.tool.spec.homes.clone(),
    };
    let mut outcome = BuildOutcome {
        tool,
        profile,
        files: manifest.files.len(),
        manifest,
        written: Vec::new(),
        unchanged: 0,
        removed: Vec::new(),
        fresh,
        rebuilt,
        stale: Vec::new(),
        diagnostics,
    };
    if options.check {
        outcome.stale = stale_files(layout, &outcome.manifest, &emitted, previous.as_ref());
        return Ok(outcome);
    }
    let fs_error = |error: kiln_store::fs::FsError| {
        Diagnostics::from_iter([Diagnostic::error("kiln::build::write", error.to_string())])
    };
    let StoreReport {
        written,
        unchanged,
        removed,
        ..
    } = store(layout, &outcome.manifest, &emitted, previous.as_ref()).map_err(fs_error)?;
    outcome.written = written;
    outcome.unchanged = unchanged;
    outcome.removed = removed;
    // Every unit fresh and no entry left over: the memo file already says exactly this.
    let memo_unchanged = outcome.rebuilt.is_empty()
        && memo.entries.is_empty()
        && memo.corrupt.is_empty()
        && memo.unreadable.is_none();
    if !memo_unchanged {
        Memo::save(&layout.memo(&outcome.tool, &outcome.profile), entries).map_err(fs_error)?;
    } else {
        std::mem::forget(entries);
    }
    // As in `run::build`: the process ends soon after; freeing the old memo and manifest entry
    // by entry was a twentieth of an edit's rebuild.
    std::mem::forget(memo);
    std::mem::forget(previous);
    Ok(outcome)
}

/// Reports a unit done when dropped, whichever way the unit ends.
struct ProgressGuard<'a>(Option<&'a dyn Progress>);

impl Drop for ProgressGuard<'_> {
    fn drop(&mut self) {
        if let Some(progress) = self.0 {
            progress.unit_done();
        }
    }
}

fn manifest_entry(artifact: &Artifact) -> ManifestEntry {
    ManifestEntry {
        hash: content_hash(&artifact.bytes),
        size: artifact.bytes.len() as u64,
        mode: kiln_model::FileMode(artifact.mode),
        scope: artifact.scope,
        strategy: artifact.strategy,
        components: artifact
            .components
            .iter()
            .map(ToString::to_string)
            .collect(),
        sources: artifact.sources.clone(),
        verbatim: artifact.verbatim,
        merge: artifact.merge,
        owned_keys: artifact.owned_keys.clone(),
        link: artifact.link.clone(),
    }
}

/// The fingerprint inputs every unit of one (profile, tool) build shares, computed once (the
/// profile's variables were hashed again for every unit).
struct SharedInputs {
    tool: String,
    profile_tools: String,
    variables: String,
    observation: String,
}

impl SharedInputs {
    fn of(request: &EmitRequest<'_>) -> SharedInputs {
        SharedInputs {
            tool: request.tool.digest.clone(),
            profile_tools: request
                .profile
                .tools
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(","),
            variables: json_hash(&request.profile.variables),
            observation: json_hash(&request.profile.observation),
        }
    }
}

/// A unit's fingerprint inputs as a map (for its memo entry and `--explain`); built only for
/// units that are emitted again.
fn fingerprint_inputs(
    request: &EmitRequest<'_>,
    shared: &SharedInputs,
    unit: &Unit,
    hashes: Option<&FileHashes>,
) -> Result<BTreeMap<String, String>, Diagnostics> {
    let mut inputs = BTreeMap::new();
    visit_inputs(request, shared, unit, hashes, |prefix, key, value| {
        inputs.insert(format!("{prefix}{key}"), value.to_string());
    })?;
    Ok(inputs)
}

/// A unit's fingerprint: every input (the same as [`fingerprint_inputs`]) streamed into one
/// hash, without building the map — what a fresh unit costs.
fn fingerprint(
    request: &EmitRequest<'_>,
    shared: &SharedInputs,
    unit: &Unit,
    hashes: Option<&FileHashes>,
) -> Result<String, Diagnostics> {
    let mut hasher = blake3::Hasher::new();
    visit_inputs(request, shared, unit, hashes, |prefix, key, value| {
        for part in [prefix, key, value] {
            hasher.update(part.as_bytes());
            hasher.update(&[0]);
        }
    })?;
    Ok(format!("blake3:{}", hasher.finalize().to_hex()))
}

/// Everything a unit's output depends on, by name (see the crate docs): calls
/// `input(prefix, key, value)` for every fingerprint input of `unit`, in a fixed order:
/// kiln's and the emitter's versions, the tool definition, the unit's members, the profile's
/// tools, each library file's hash (sorted), and the profile's variables and observation
/// settings where they matter.
fn visit_inputs(
    request: &EmitRequest<'_>,
    shared: &SharedInputs,
    unit: &Unit,
    hashes: Option<&FileHashes>,
    mut input: impl FnMut(&str, &str, &str),
) -> Result<(), Diagnostics> {
    let library = request.library;
    input("", "kiln", KILN_VERSION);
    input("", "emit", &kiln_emit::EMIT_VERSION.to_string());
    input("", "tool", &shared.tool);
    let members: Vec<String> = unit
        .members
        .iter()
        .map(|m| format!("{}@{}", m.component, m.output))
        .collect();
    input("", "unit", &format!("{} {}", unit.key(), members.join(",")));
    input("", "profile.tools", &shared.profile_tools);
    let mut errors = Diagnostics::new();
    for file in unit_inputs(library, unit) {
        match hashes.and_then(|h| h.hashes.get(&file)) {
            Some(hash) => input("file:", &file, hash),
            None => match file_hash(library, &file) {
                Ok(hash) => input("file:", &file, &hash),
                Err(error) => errors.push(
                    Diagnostic::error(
                        "kiln::build::read",
                        format!("failed to read `{file}`: {error}"),
                    )
                    .in_file(file.clone()),
                ),
            },
        }
    }
    let templated = unit.components().any(|id| {
        library
            .components
            .get(id)
            .is_some_and(|c| c.template.is_some())
    });
    if templated {
        input("", "variables", &shared.variables);
    }
    if unit.strategy == Strategy::CopyTree {
        input("", "observation", &shared.observation);
    }
    if errors.has_errors() {
        Err(errors)
    } else {
        Ok(())
    }
}

/// The manifest entries of a fresh unit's files, taken from the previous manifest; an error
/// (the reason to rebuild) when a file is gone from dist or from the manifest.
fn fresh_files(
    tree: &std::path::Path,
    entry: &MemoEntry,
    previous: Option<&DistManifest>,
    dist_intact: bool,
) -> Result<Vec<(String, ManifestEntry)>, RebuildReason> {
    let Some(previous) = previous else {
        return Err(RebuildReason::ManifestMissing);
    };
    entry
        .files
        .iter()
        .map(|path| {
            let file = previous
                .files
                .get(path)
                .ok_or_else(|| RebuildReason::NotInManifest(path.clone()))?;
            let present = dist_intact
                || std::fs::metadata(tree.join(path))
                    .is_ok_and(|m| m.is_file() && m.len() == file.size);
            if present {
                Ok((path.clone(), file.clone()))
            } else {
                Err(RebuildReason::OutputMissing(path.clone()))
            }
        })
        .collect()
}

fn changed_inputs(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> RebuildReason {
    let mut changed: Vec<String> = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, _)| {
            k.strip_prefix("file:")
                .map_or_else(|| k.clone(), ToString::to_string)
        })
        .collect();
    changed.extend(
        old.keys()
            .filter(|k| !new.contains_key(*k))
            .map(|k| format!("{} (gone)", k.trim_start_matches("file:"))),
    );
    RebuildReason::InputsChanged(changed)
}

fn stale_files(
    layout: &DistLayout,
    manifest: &DistManifest,
    emitted: &BTreeMap<String, (Arc<[u8]>, u32)>,
    previous: Option<&DistManifest>,
) -> Vec<String> {
    let tree = layout.tree(&manifest.tool, &manifest.profile);
    let mut stale = Vec::new();
    for (path, entry) in &manifest.files {
        let on_disk = std::fs::read(tree.join(path))
            .ok()
            .map(|bytes| content_hash(&bytes));
        if on_disk.as_deref() != Some(entry.hash.as_str()) {
            stale.push(path.clone());
        } else if emitted.contains_key(path)
            && previous.and_then(|p| p.files.get(path)) != Some(entry)
        {
            stale.push(format!("{path} (manifest)"));
        }
    }
    if let Some(previous) = previous {
        stale.extend(
            previous
                .files
                .keys()
                .filter(|p| !manifest.files.contains_key(*p))
                .map(|p| format!("{p} (no longer built)")),
        );
    }
    let manifest_bytes = kiln_store::dist::manifest_bytes(manifest);
    if std::fs::read(layout.manifest(&manifest.tool, &manifest.profile))
        .ok()
        .as_deref()
        != Some(manifest_bytes.as_slice())
        && stale.is_empty()
    {
        stale.push(format!("{}.manifest.json", manifest.profile));
    }
    stale
}

/// Emits every unit of a request in memory, without cache or store (for `kiln diff`).
/// Returns the artifacts by dist path and the planning warnings.
pub fn emit_in_memory(
    request: &EmitRequest<'_>,
) -> Result<(BTreeMap<String, Artifact>, Diagnostics), Diagnostics> {
    let planned = plan(request);
    if planned.diagnostics.has_errors() {
        return Err(planned.diagnostics);
    }
    let results: Vec<Result<Vec<Artifact>, Diagnostics>> = planned
        .units
        .par_iter()
        .map(|unit| emit_unit(request, unit))
        .collect();
    let mut artifacts = BTreeMap::new();
    let mut errors = Diagnostics::new();
    for result in results {
        match result {
            Ok(list) => {
                for artifact in list {
                    artifacts.insert(artifact.dist_path(), artifact);
                }
            }
            Err(problems) => errors.extend(problems),
        }
    }
    if errors.has_errors() {
        Err(errors)
    } else {
        Ok((artifacts, planned.diagnostics))
    }
}
