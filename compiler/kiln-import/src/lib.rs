//! `kiln import`: the way into kiln, before the pipeline. It reads one tool's configuration as
//! it lies in a home or a project (`~/.claude`, `.cursor/rules`, …) and writes the library
//! components that hold the same things, so that `kiln build` + `kiln deploy` give them back.
//!
//! Three promises shape it:
//!
//! - **Per item, never per run.** Every skill, command, agent, rule, hook and server is its own
//!   [`Item`]; a bad one (a lower-case `skill.md`, a NUL byte, a dangling symlink, broken
//!   frontmatter) is reported with its path and reason and everything else goes on.
//! - **Byte-faithful.** Skill folders are copied byte for byte with every asset, mode and
//!   in-folder symlink; Markdown files keep their frontmatter and body as written. Only what
//!   kiln cannot read as written is changed (a repaired frontmatter line), and that is a warning.
//! - **Nothing lost, nothing overwritten.** A library file that exists with other bytes is left
//!   alone unless `--force`; the same bytes are `unchanged`, so a second import is a no-op.
//!
//! [`plan`] reads the source and plans every item ([`ImportPlan`]); [`apply`] writes it.

mod claude;
mod facts;
mod frontmatter;
mod layouts;
mod mcp;
mod rules;
mod source;
pub mod synth;
mod toml_files;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use source::SourceError;

/// Where the configuration to import lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImportScope {
    /// A home directory (`~/.claude`, `~/.claude.json`, …).
    Global,
    /// A project folder (`CLAUDE.md`, `.claude/`, `.mcp.json`, `.cursor/`, …).
    Project,
}

impl ImportScope {
    /// `global` or `project`.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportScope::Global => "global",
            ImportScope::Project => "project",
        }
    }
}

/// What to import, and into which library.
#[derive(Clone, Debug)]
pub struct ImportRequest<'a> {
    /// The tool whose layout `source` has (`claude-code`, `cursor`).
    pub tool: &'a str,
    /// The home or project folder.
    pub source: &'a Path,
    /// Which layout `source` has.
    pub scope: ImportScope,
    /// The library's `components/` folder.
    pub components: &'a Path,
    /// The library's `profiles/` folder.
    pub profiles: &'a Path,
    /// The profile that selects what was imported (created or extended).
    pub profile: &'a str,
}

/// Why nothing could be planned at all (a per-item problem is never one of these).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ImportError {
    /// The tool has no importer.
    #[error("kiln cannot import `{tool}` yet; it imports: {}", TOOLS.join(", "))]
    #[diagnostic(
        code(kiln::import::unknown_tool),
        help(
            "copy that tool's files into components/ by hand, or import from one of the tools listed"
        )
    )]
    UnknownTool {
        /// The tool asked for.
        tool: String,
    },
    /// The source folder is missing or unreadable, or a library file cannot be written.
    #[error(transparent)]
    #[diagnostic(code(kiln::import::io))]
    Source(#[from] SourceError),
}

/// Whether a name a tool gave something (a Gemini hook's `name`) can be a component's file
/// name as it is: letters, digits, `-`, `_` and `.`, not starting with `.`.
pub(crate) fn valid_id_segment(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The tools with an importer.
pub const TOOLS: &[&str] = &[
    "agents",
    "claude-code",
    "claude-desktop",
    "cline",
    "codex",
    "copilot",
    "cursor",
    "gemini",
    "opencode",
    "windsurf",
    "zed",
];

/// What happened, or would happen, to one item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Written into the library.
    Imported,
    /// Written, with something the user should know (see the item's warnings).
    ImportedWithWarnings,
    /// The library already holds exactly these bytes.
    Unchanged,
    /// The library holds other bytes at the same place; left alone (use `--force`).
    Exists,
    /// Not something the tool reads as configuration (a loose file, a non-Markdown file in
    /// `commands/`): said, and left where it is.
    Skipped,
    /// Not representable or not readable (see the reason); nothing of it was written.
    NotImported,
}

/// One thing found in the source: a skill, a command, a hook, a server, …
#[derive(Clone, Debug, Serialize)]
pub struct Item {
    /// `rule`, `skill`, `command`, `agent`, `hook`, `mcp`, `settings`, `ignore`.
    pub kind: &'static str,
    /// The component id it becomes (none when it is not imported).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Where it was found, relative to the source folder.
    pub source: String,
    /// What happened to it.
    pub outcome: Outcome,
    /// Why it was not imported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What changed on the way in, or what the user should look at.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The library files it is made of.
    #[serde(skip)]
    files: Vec<LibraryFile>,
}

impl Item {
    fn imported(
        kind: &'static str,
        id: impl Into<String>,
        source: impl Into<String>,
        files: Vec<LibraryFile>,
    ) -> Item {
        Item {
            kind,
            id: Some(id.into()),
            source: source.into(),
            outcome: Outcome::Imported,
            reason: None,
            warnings: Vec::new(),
            files,
        }
    }

    fn not_imported(
        kind: &'static str,
        source: impl Into<String>,
        reason: impl Into<String>,
    ) -> Item {
        Item {
            kind,
            id: None,
            source: source.into(),
            outcome: Outcome::NotImported,
            reason: Some(reason.into()),
            warnings: Vec::new(),
            files: Vec::new(),
        }
    }

    fn skipped(kind: &'static str, source: impl Into<String>, reason: impl Into<String>) -> Item {
        Item {
            outcome: Outcome::Skipped,
            ..Item::not_imported(kind, source, reason)
        }
    }

    /// Not imported because the source holds keys the kind has no place for (named).
    fn unsupported_keys(kind: &'static str, source: impl Into<String>, keys: &[&String]) -> Item {
        let keys: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
        Item::not_imported(
            kind,
            source,
            format!(
                "has {} which kiln's {kind} kind cannot hold yet",
                keys.join(", ")
            ),
        )
    }

    fn with_warnings(mut self, warnings: Vec<String>) -> Item {
        self.warnings.extend(warnings);
        self
    }

    /// The library files of the item, relative to `components/`.
    pub fn targets(&self) -> impl Iterator<Item = &str> {
        self.files.iter().map(|f| f.path.as_str())
    }
}

/// One file the import writes, relative to `components/` (`/`-separated).
#[derive(Clone, Debug, PartialEq, Eq)]
struct LibraryFile {
    path: String,
    content: Content,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Content {
    Bytes {
        bytes: Vec<u8>,
        mode: u32,
    },
    /// A symlink that stays inside its skill folder.
    Symlink {
        target: PathBuf,
    },
}

impl LibraryFile {
    fn text(path: String, text: String) -> LibraryFile {
        LibraryFile {
            path,
            content: Content::Bytes {
                bytes: text.into_bytes(),
                mode: 0o644,
            },
        }
    }
}

/// Everything an import would do: the items in a stable order, and the profile.
#[derive(Clone, Debug, Serialize)]
pub struct ImportPlan {
    /// The tool imported from.
    pub tool: String,
    /// Global or project.
    pub scope: ImportScope,
    /// Every item found, sorted by kind then id/source.
    pub items: Vec<Item>,
    /// The profile that selects the imported components, relative to `profiles/`.
    pub profile: String,
    /// Whether the profile file is written (created or extended) by this import.
    pub profile_changes: bool,
    #[serde(skip)]
    profile_bytes: Vec<u8>,
}

impl ImportPlan {
    /// Items per kind and outcome, for the summary.
    pub fn summary(&self) -> BTreeMap<&'static str, BTreeMap<Outcome, usize>> {
        let mut summary: BTreeMap<&'static str, BTreeMap<Outcome, usize>> = BTreeMap::new();
        for item in &self.items {
            *summary
                .entry(item.kind)
                .or_default()
                .entry(item.outcome)
                .or_default() += 1;
        }
        summary
    }

    /// Whether something could not be represented (exit 1).
    pub fn incomplete(&self) -> bool {
        self.items
            .iter()
            .any(|item| item.outcome == Outcome::NotImported)
    }
}

/// Reads the source and plans every item against the library as it is (nothing is written).
pub fn plan(request: &ImportRequest<'_>, force: bool) -> Result<ImportPlan, ImportError> {
    source::check_folder(request.source)?;
    let items = match request.tool {
        "claude-code" => claude::items(request.source, request.scope),
        tool => layouts::items(tool, request.source, request.scope).ok_or_else(|| {
            ImportError::UnknownTool {
                tool: tool.to_string(),
            }
        })?,
    };
    let mut items = items;
    // `.aiignore` (JetBrains AI Assistant and Junie) sits in projects beside every tool's files;
    // kiln has no such tool, so its patterns go to the ignore files of the tools it builds.
    let ai_ignore = request.source.join(".aiignore");
    if request.scope == ImportScope::Project && ai_ignore.is_file() {
        items.push(layouts::ignore_item(&ai_ignore, ".aiignore", "aiignore").with_warnings(vec![
            "kiln has no tool that reads `.aiignore` itself: its patterns go to each built tool's ignore file (.cursorignore, .geminiignore, …, Claude Code's permissions.deny)".to_string(),
        ]));
    }
    Ok(finish(request, items, force, true))
}

/// Plans bringing hand-made skill folders into the library (`kiln sync --adopt-new`): only
/// `<source>/<folder>/<name>/` for each of `names`, read as an import reads skills (byte for
/// byte, every asset), and the profile extended to select them. The profile's `tools` are
/// left as they are (the deployment that found the folders already uses the tool).
pub fn plan_skill_folders(
    request: &ImportRequest<'_>,
    folder: &str,
    names: &std::collections::BTreeSet<String>,
) -> Result<ImportPlan, ImportError> {
    source::check_folder(request.source)?;
    let items = claude::skills(&request.source.join(folder), folder)
        .into_iter()
        .filter(|item| {
            item.source
                .strip_prefix(folder)
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|name| names.contains(name.trim_end_matches('/')))
        })
        .collect();
    Ok(finish(request, items, false, false))
}

/// Claims, settles and sorts the items, and plans the profile selecting them.
fn finish(
    request: &ImportRequest<'_>,
    mut items: Vec<Item>,
    force: bool,
    add_tool: bool,
) -> ImportPlan {
    claim_unique_targets(&mut items);
    for item in &mut items {
        settle(item, request.components, force);
    }
    items.sort_by(|a, b| {
        (a.kind, a.id.as_deref().unwrap_or(""), &a.source).cmp(&(
            b.kind,
            b.id.as_deref().unwrap_or(""),
            &b.source,
        ))
    });
    let (profile_bytes, profile_changes) = profile(request, &items, add_tool);
    ImportPlan {
        tool: request.tool.to_string(),
        scope: request.scope,
        items,
        profile: format!("{}.profile.json", request.profile),
        profile_changes,
        profile_bytes,
    }
}

/// Two items that would write the same library file: the second is not imported (never a
/// silent overwrite), naming the first.
fn claim_unique_targets(items: &mut [Item]) {
    let mut claimed: BTreeMap<String, String> = BTreeMap::new();
    for item in items.iter_mut() {
        if matches!(item.outcome, Outcome::NotImported | Outcome::Skipped) {
            continue;
        }
        let clash = item.files.iter().find_map(|file| {
            claimed
                .get(&file.path)
                .map(|by| (file.path.clone(), by.clone()))
        });
        if let Some((path, by)) = clash {
            *item = Item::not_imported(
                item.kind,
                item.source.clone(),
                format!("`components/{path}` is also where `{by}` goes; rename one of them"),
            );
            continue;
        }
        for file in &item.files {
            claimed.insert(file.path.clone(), item.source.clone());
        }
    }
}

/// Compares an item's files with the library: unchanged, exists (left alone), or to write.
fn settle(item: &mut Item, components: &Path, force: bool) {
    if matches!(item.outcome, Outcome::NotImported | Outcome::Skipped) {
        return;
    }
    let states: Vec<FileState> = item
        .files
        .iter()
        .map(|file| file_state(&components.join(&file.path), &file.content))
        .collect();
    if !force && item.kind == "mcp" && states == [FileState::Different] {
        match merge_native_server(item, components) {
            Some(true) => {
                item.outcome = Outcome::ImportedWithWarnings;
                return;
            }
            Some(false) => {
                item.outcome = Outcome::Unchanged;
                return;
            }
            None => {}
        }
    }
    if states.iter().all(|s| *s == FileState::Same) {
        item.outcome = Outcome::Unchanged;
    } else if !force && states.contains(&FileState::Different) {
        item.outcome = Outcome::Exists;
    } else if !item.warnings.is_empty() {
        item.outcome = Outcome::ImportedWithWarnings;
    }
}

/// The same server imported from a second tool: when the library's component says the same
/// thing apart from other tools' `native` keys, the new tool's `native` map joins them (one
/// component, each tool's own keys) instead of the import stopping at "exists". `Some(true)`:
/// merged (the item now writes the merged file); `Some(false)`: nothing to add; `None`: a
/// real difference.
fn merge_native_server(item: &mut Item, components: &Path) -> Option<bool> {
    let file = item.files.first()?;
    let Content::Bytes { bytes, mode } = &file.content else {
        return None;
    };
    let path = components.join(&file.path);
    let parse = |bytes: &[u8]| {
        std::str::from_utf8(bytes)
            .ok()
            .and_then(|text| crate::mcp::parse_jsonc(text).ok())
    };
    let (Some(serde_json::Value::Object(mut existing)), Some(serde_json::Value::Object(mut new))) = (
        std::fs::read(&path).ok().and_then(|b| parse(&b)),
        parse(bytes),
    ) else {
        return None;
    };
    let native_of =
        |map: &mut serde_json::Map<String, serde_json::Value>| match map.remove("native") {
            Some(serde_json::Value::Object(native)) => native,
            _ => serde_json::Map::new(),
        };
    let (mut merged_native, new_native) = (native_of(&mut existing), native_of(&mut new));
    if existing != new {
        return None;
    }
    let mut added = Vec::new();
    for (tool, keys) in new_native {
        match merged_native.get(&tool) {
            Some(current) if *current == keys => {}
            Some(_) => return None, // the same tool's keys differ: a real difference, left to --force
            None => {
                added.push(tool.clone());
                merged_native.insert(tool, keys);
            }
        }
    }
    if added.is_empty() {
        return Some(false);
    }
    existing.insert("native".into(), serde_json::Value::Object(merged_native));
    let mut text =
        serde_json::to_string_pretty(&serde_json::Value::Object(existing)).unwrap_or_default();
    text.push('\n');
    let mode = *mode;
    item.files[0].content = Content::Bytes {
        bytes: text.into_bytes(),
        mode,
    };
    item.warnings.push(format!(
        "the library already has this server (from another tool): native.{} added to it",
        added.join(", native.")
    ));
    Some(true)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FileState {
    Missing,
    Same,
    Different,
}

fn file_state(path: &Path, content: &Content) -> FileState {
    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        return FileState::Missing;
    };
    let same = match content {
        Content::Symlink { target } => {
            metadata.file_type().is_symlink()
                && std::fs::read_link(path).is_ok_and(|t| t == *target)
        }
        Content::Bytes { bytes, mode } => {
            metadata.is_file()
                && kiln_store::fs::mode_of(&metadata) & 0o111 == mode & 0o111
                && std::fs::read(path).is_ok_and(|b| b == *bytes)
        }
    };
    if same {
        FileState::Same
    } else {
        FileState::Different
    }
}

/// The profile selecting every imported component (ids listed, so nothing else in the
/// library is pulled in), merged into an existing profile of that name — edited in place, so
/// its comments and layout stay, when its selectors have the usual shape.
fn profile(request: &ImportRequest<'_>, items: &[Item], add_tool: bool) -> (Vec<u8>, bool) {
    let path = request
        .profiles
        .join(format!("{}.profile.json", request.profile));
    let on_disk = std::fs::read(&path).ok();
    if let Some(edited) = on_disk
        .as_deref()
        .and_then(|bytes| std::str::from_utf8(bytes).ok())
        .and_then(|text| edit_profile_in_place(text, request, items, add_tool))
    {
        let unchanged = on_disk.as_deref() == Some(edited.as_bytes());
        return (edited.into_bytes(), !unchanged);
    }
    let existing: Option<serde_json::Value> = on_disk
        .as_deref()
        .and_then(|bytes| serde_json::from_slice(bytes).ok());
    let mut profile = existing.unwrap_or_else(|| {
        serde_json::json!({
            "$schema": "../schemas/profile.schema.json",
            "name": request.profile,
        })
    });
    let kept = items.iter().filter(|item| {
        matches!(
            item.outcome,
            Outcome::Imported | Outcome::ImportedWithWarnings | Outcome::Unchanged
        )
    });
    for item in kept {
        let (Some(id), Some(key)) = (&item.id, profile_key(item.kind)) else {
            continue;
        };
        let includes = profile
            .as_object_mut()
            .and_then(|p| {
                p.entry(key)
                    .or_insert_with(|| serde_json::json!({ "include": [] }))
                    .as_object_mut()
            })
            .and_then(|selector| {
                selector
                    .entry("include")
                    .or_insert_with(|| serde_json::json!([]))
                    .as_array_mut()
            });
        if let Some(includes) = includes
            && !includes.iter().any(|v| v.as_str() == Some(id))
        {
            includes.push(serde_json::Value::String(id.clone()));
        }
    }
    if add_tool
        && let Some(tools) = profile
            .as_object_mut()
            .map(|p| p.entry("tools").or_insert_with(|| serde_json::json!({})))
        && let Some(tools) = tools.as_object_mut()
    {
        tools
            .entry(request.tool)
            .or_insert_with(|| serde_json::json!({ "scope": request.scope.as_str() }));
    }
    let mut bytes = serde_json::to_vec_pretty(&profile).unwrap_or_default();
    bytes.push(b'\n');
    let unchanged = on_disk.as_deref() == Some(bytes.as_slice());
    (bytes, !unchanged)
}

/// The ids appended to each selector's `include` array of the profile's own text (`None`
/// when a selector or `tools` has a shape this edit does not know: the caller rewrites).
fn edit_profile_in_place(
    text: &str,
    request: &ImportRequest<'_>,
    items: &[Item],
    add_tool: bool,
) -> Option<String> {
    use jsonc_parser::cst::{CstInputValue, CstRootNode};
    let root = CstRootNode::parse(text, &jsonc_parser::ParseOptions::default()).ok()?;
    let profile = root.object_value()?;
    let kept = items.iter().filter(|item| {
        matches!(
            item.outcome,
            Outcome::Imported | Outcome::ImportedWithWarnings | Outcome::Unchanged
        )
    });
    for item in kept {
        let (Some(id), Some(key)) = (&item.id, profile_key(item.kind)) else {
            continue;
        };
        let includes = profile
            .object_value_or_create(key)?
            .array_value_or_create("include")?;
        let listed = includes.elements().iter().any(|element| {
            element
                .as_string_lit()
                .and_then(|lit| lit.decoded_value().ok())
                .is_some_and(|value| value == *id)
        });
        if !listed {
            includes.append(CstInputValue::String(id.clone()));
        }
    }
    if add_tool {
        let tools = profile.object_value_or_create("tools")?;
        if tools.get(request.tool).is_none() {
            tools.append(
                request.tool,
                CstInputValue::Object(vec![(
                    "scope".to_string(),
                    CstInputValue::String(request.scope.as_str().to_string()),
                )]),
            );
        }
    }
    Some(root.to_string())
}

fn profile_key(kind: &str) -> Option<&'static str> {
    kiln_model::ComponentKind::from_prefix(kind).map(|k| k.profile_key())
}

/// What applying wrote.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Applied {
    /// Library files written, relative to the library's `components/`.
    pub files: usize,
    /// Whether the profile was written.
    pub profile: bool,
}

/// Writes what `plan` says: every imported item's files (atomically; parents created), and the
/// profile. Items that exist, are unchanged or were not imported are not touched.
pub fn apply(plan: &ImportPlan, request: &ImportRequest<'_>) -> Result<Applied, ImportError> {
    let mut applied = Applied::default();
    let files: Vec<(PathBuf, &Content)> = plan
        .items
        .iter()
        .filter(|item| {
            matches!(
                item.outcome,
                Outcome::Imported | Outcome::ImportedWithWarnings
            )
        })
        .flat_map(|item| &item.files)
        .map(|file| (request.components.join(&file.path), &file.content))
        .collect();
    // Every file in one batch: written in parallel, two barriers for all of them.
    let batch: Vec<kiln_store::fs::FileWrite<'_>> = files
        .iter()
        .filter_map(|(path, content)| match content {
            Content::Bytes { bytes, mode } => Some(kiln_store::fs::FileWrite {
                path,
                bytes,
                mode: *mode,
            }),
            Content::Symlink { .. } => None,
        })
        .collect();
    kiln_store::fs::write_files(&batch).map_err(|e| {
        ImportError::Source(SourceError::new(
            "cannot write",
            &e.path,
            e.error.to_string(),
        ))
    })?;
    for (path, content) in &files {
        if matches!(content, Content::Symlink { .. }) {
            source::write(path, content)?;
        }
    }
    applied.files = files.len();
    if plan.profile_changes {
        let path = request.profiles.join(&plan.profile);
        source::write(
            &path,
            &Content::Bytes {
                bytes: plan.profile_bytes.clone(),
                mode: 0o644,
            },
        )?;
        applied.profile = true;
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_items_for_one_library_file_never_overwrite_each_other() {
        let file = |text: &str| LibraryFile::text("rules/claude-md.rule.md".into(), text.into());
        let mut items = vec![
            Item::imported("rule", "claude-md", "CLAUDE.md", vec![file("a")]),
            Item::imported(
                "rule",
                "claude-md",
                ".claude/rules/claude-md.md",
                vec![file("b")],
            ),
        ];
        claim_unique_targets(&mut items);
        assert_eq!(items[0].outcome, Outcome::Imported);
        assert_eq!(items[1].outcome, Outcome::NotImported);
        let reason = items[1].reason.as_deref().unwrap_or_default();
        assert!(reason.contains("`CLAUDE.md`"), "{reason}");
        assert!(
            items[1].files.is_empty(),
            "the second item would still write"
        );
    }
}
