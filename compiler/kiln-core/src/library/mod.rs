//! The library: `kiln.toml`, every component, profile and tool definition, loaded from disk
//! (in parallel) or from memory, with every problem found on the way.
//!
//! ```text
//! kiln.toml                       version, [paths], [variables], machine defaults
//! components/rules/<id>.rule.json structured rule          (id = path without suffix)
//! components/rules/<id>.rule.md   frontmatter + Markdown rule
//! components/skills/**/<id>/SKILL.md (+ skill.json, assets)  id = the folder holding SKILL.md
//! components/commands/<id>.command.md
//! components/agents/<id>.agent.md
//! components/hooks/<id>.hook.json
//! components/mcp/<id>.mcp.json
//! components/context/<id>.context.md
//! profiles/<name>.profile.json
//! tools/<tool>/tool.json          library tool definitions (override or add tools)
//! ```

mod load;
mod paths;
mod plan;
mod walk;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kiln_model::{
    AgentFrontmatter, CommandFrontmatter, CommonMeta, ComponentId, ComponentKind,
    ContextFrontmatter, HookSpec, LibrarySpec, McpSpec, PathsSpec, ProfileSpec, RuleFrontmatter,
    RuleSpec, SkillFrontmatter, SkillSpec, ToolSpec,
};
use rayon::prelude::*;
use serde_json::Value;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::source::{Format, SourceFile};
use crate::template::TemplateInfo;

use load::{Loadable, LoadedDocument, load_document, parse_library_spec};
use plan::plan_files;
use walk::discover;

pub use paths::{LIBRARY_FILE, library_paths, stat_digest};

/// A component's document, as written.
#[derive(Clone, Debug, PartialEq)]
pub enum ComponentSpec {
    /// `*.rule.json`
    RuleJson(RuleSpec),
    /// `*.rule.md`
    RuleMarkdown(RuleFrontmatter),
    /// `SKILL.md` frontmatter and the optional `skill.json`.
    Skill {
        /// The portable frontmatter.
        frontmatter: SkillFrontmatter,
        /// kiln's metadata, when `skill.json` exists.
        metadata: Option<SkillSpec>,
    },
    /// `*.command.md`
    Command(CommandFrontmatter),
    /// `*.agent.md`
    Agent(AgentFrontmatter),
    /// `*.hook.json`
    Hook(HookSpec),
    /// `*.mcp.json`
    Mcp(McpSpec),
    /// `*.context.md`
    Context(ContextFrontmatter),
    /// `*.settings.json`
    Settings(kiln_model::SettingsSpec),
    /// `*.ignore`: gitignore-style patterns, one per line (the body).
    Ignore,
}

/// One loaded component.
#[derive(Clone, Debug, PartialEq)]
pub struct Component {
    /// Kind and id.
    pub id: ComponentId,
    /// The document as written.
    pub spec: ComponentSpec,
    /// The metadata every kind carries (for skills: from `skill.json`, with the description
    /// of `SKILL.md`).
    pub meta: CommonMeta,
    /// The library-relative path of the main file (`SKILL.md` for skills).
    pub source: String,
    /// How the metadata of the main file is written.
    pub format: Format,
    /// The file holding the common metadata (`skill.json` for skills that have one).
    pub meta_source: String,
    /// How `meta_source` is written.
    pub meta_format: Format,
    /// The Markdown body and its byte offset in `source`, for Markdown kinds.
    pub body: Option<(Arc<str>, usize)>,
    /// The frontmatter of a command or agent as written (the YAML between the fences), so
    /// that a tool reading the same format gets it back byte for byte.
    pub frontmatter: Option<Arc<str>>,
    /// Other files of a skill folder, library-relative, sorted.
    pub assets: Vec<String>,
    /// What a template component uses (`template: true` only).
    pub template: Option<TemplateInfo>,
}

/// A rule's fields, whichever format it is written in.
#[derive(Clone, Copy, Debug)]
pub struct RuleFields<'a> {
    /// The title (always for structured rules; when given for Markdown rules).
    pub title: Option<&'a str>,
    /// How it is activated (`None`: always).
    pub activation: Option<kiln_model::Activation>,
    /// File globs for glob activation.
    pub globs: &'a [String],
    /// Per-tool output format.
    pub output: &'a BTreeMap<String, kiln_model::RuleOutput>,
}

impl Component {
    /// The rule fields, for rules.
    pub fn rule_fields(&self) -> Option<RuleFields<'_>> {
        match &self.spec {
            ComponentSpec::RuleJson(rule) => Some(RuleFields {
                title: Some(&rule.content.title),
                activation: rule.activation,
                globs: &rule.globs,
                output: &rule.output,
            }),
            ComponentSpec::RuleMarkdown(rule) => Some(RuleFields {
                title: rule.title.as_deref(),
                activation: rule.activation,
                globs: &rule.globs,
                output: &rule.output,
            }),
            _ => None,
        }
    }

    /// Priority, default 0.
    pub fn priority(&self) -> i32 {
        self.meta.priority.unwrap_or(0)
    }
}

/// A loaded profile.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileEntry {
    /// The profile as written.
    pub spec: ProfileSpec,
    /// Library-relative path of the file.
    pub source: String,
}

/// A library tool definition.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolEntry {
    /// The definition as written.
    pub spec: ToolSpec,
    /// Library-relative path of `tool.json`.
    pub source: String,
    /// Its templates, by path under `templates/`.
    pub templates: BTreeMap<String, Arc<str>>,
}

/// A whole library.
#[derive(Clone, Debug, Default)]
pub struct Library {
    /// The library's root directory (never part of any output or hash).
    pub root: PathBuf,
    /// `kiln.toml` as written (defaults when it is invalid).
    pub spec: Option<LibrarySpec>,
    /// Every component, by id.
    pub components: BTreeMap<ComponentId, Component>,
    /// Every profile, by name.
    pub profiles: BTreeMap<String, ProfileEntry>,
    /// Library tool definitions, by name.
    pub tools: BTreeMap<String, ToolEntry>,
    /// Every document read, by library-relative path, for rendering diagnostics.
    pub sources: BTreeMap<String, Arc<SourceFile>>,
    /// Ids by their last segment (for bare references).
    by_last_segment: BTreeMap<(ComponentKind, String), Vec<ComponentId>>,
    /// Skill assets of a library built in memory (a library on disk reads them on demand).
    memory_assets: BTreeMap<String, Arc<str>>,
    /// Resolved dependencies of every component that has any.
    pub(crate) edges: BTreeMap<ComponentId, Vec<crate::graph::Dependency>>,
}

/// A file of the library: its library-relative path and, for documents, its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LibraryFile {
    /// Library-relative path, `/`-separated.
    pub path: String,
    /// The text, for documents kiln reads (not for skill assets).
    pub text: Option<Arc<str>>,
}

/// The result of loading: the library and every problem found.
pub struct Loaded {
    /// The library (possibly partial when there were errors).
    pub library: Library,
    /// Problems found while loading.
    pub diagnostics: Diagnostics,
}

impl Library {
    /// Loads the library whose `kiln.toml` is in `root`.
    pub fn load(root: &Path) -> Loaded {
        let mut diagnostics = Diagnostics::new();
        let config_path = root.join(LIBRARY_FILE);
        let config = match std::fs::read_to_string(&config_path) {
            Ok(text) => Some(SourceFile::new(LIBRARY_FILE, text)),
            Err(error) => {
                diagnostics.push(
                    Diagnostic::error(
                        "kiln::library::no_config",
                        format!("failed to read `{LIBRARY_FILE}`: {error}"),
                    )
                    .in_file(LIBRARY_FILE)
                    .help(
                        "run `kiln` inside a library (a folder with kiln.toml) or pass --library",
                    ),
                );
                None
            }
        };
        let spec = config
            .as_ref()
            .and_then(|source| parse_library_spec(source, &mut diagnostics));
        let paths = spec.as_ref().map(|s| s.paths.clone()).unwrap_or_default();
        let files = discover(root, &paths, &mut diagnostics);
        let mut loaded = Library::assemble(root, config, spec, files);
        loaded.diagnostics.extend(diagnostics);
        loaded
    }

    /// Builds a library from files in memory (`kiln.toml` text and the other files, in any
    /// order). Used by tests and by [`Library::load`].
    pub fn from_memory(config: &str, files: Vec<(String, String)>) -> Loaded {
        let mut diagnostics = Diagnostics::new();
        let source = SourceFile::new(LIBRARY_FILE, config);
        let spec = parse_library_spec(&source, &mut diagnostics);
        let files = files
            .into_iter()
            .map(|(path, text)| LibraryFile {
                path,
                text: Some(text.into()),
            })
            .collect();
        let mut loaded = Library::assemble(Path::new(""), Some(source), spec, files);
        loaded.diagnostics.extend(diagnostics);
        loaded
    }

    fn assemble(
        root: &Path,
        config: Option<SourceFile>,
        spec: Option<LibrarySpec>,
        mut files: Vec<LibraryFile>,
    ) -> Loaded {
        files.sort_by(|a, b| a.path.cmp(&b.path));
        files.dedup_by(|a, b| a.path == b.path);
        let paths = spec.as_ref().map(|s| s.paths.clone()).unwrap_or_default();
        let plan = plan_files(&paths, &files);

        let results: Vec<LoadedDocument> = plan
            .documents
            .par_iter()
            .map(|item| load_document(item, &files))
            .collect();

        let mut diagnostics: Diagnostics = plan.diagnostics.into_iter().collect();
        let mut library = Library {
            root: root.to_path_buf(),
            spec,
            ..Library::default()
        };
        if let Some(config) = config {
            library
                .sources
                .insert(config.path.clone(), Arc::new(config));
        }
        for (loadable, problems, source) in results {
            diagnostics.extend(problems);
            if let Some(source) = source {
                library.sources.insert(source.path.clone(), source);
            }
            match loadable {
                Some(Loadable::Component(component)) => {
                    library.insert_component(*component, &mut diagnostics);
                }
                Some(Loadable::Profile(entry)) => {
                    library.profiles.insert(entry.spec.name.clone(), *entry);
                }
                Some(Loadable::Tool(entry)) => {
                    library.tools.insert(entry.spec.name.clone(), *entry);
                }
                None => {}
            }
        }
        for skill in plan.skills.values() {
            if let Some(component) = library.components.get_mut(&skill.id) {
                component.assets.clone_from(&skill.assets);
                for asset in &skill.assets {
                    let text = files
                        .binary_search_by(|f| f.path.as_str().cmp(asset))
                        .ok()
                        .and_then(|index| files[index].text.clone());
                    if let Some(text) = text {
                        library.memory_assets.insert(asset.clone(), text);
                    }
                }
            }
        }
        for (tool, name, path) in &plan.tool_templates {
            let text = library.sources.get(path).map(|source| source.text.clone());
            if let (Some(entry), Some(text)) = (library.tools.get_mut(tool), text) {
                entry.templates.insert(name.clone(), text);
            }
        }
        for id in library.components.keys() {
            library
                .by_last_segment
                .entry((id.kind, id.last_segment().to_string()))
                .or_default()
                .push(id.clone());
        }
        let ids: Vec<&ComponentId> = library.components.keys().collect();
        let edges: Vec<(ComponentId, Vec<crate::graph::Dependency>)> = ids
            .par_iter()
            .map(|id| ((*id).clone(), library.resolve_dependencies(id)))
            .filter(|(_, dependencies)| !dependencies.is_empty())
            .collect();
        library.edges = edges.into_iter().collect();
        Loaded {
            library,
            diagnostics,
        }
    }

    fn insert_component(&mut self, component: Component, diagnostics: &mut Diagnostics) {
        if let Some(existing) = self.components.get(&component.id) {
            let source = self.sources.get(&component.source).cloned();
            let mut diagnostic = Diagnostic::error(
                "kiln::component::duplicate_id",
                format!("duplicate {} id `{}`", component.id.kind, component.id.id),
            )
            .label(format!("also defined by `{}`", existing.source))
            .help(if component.id.kind == ComponentKind::Skill {
                "skill ids are the name of the folder holding SKILL.md and must be unique across the library; rename one folder"
            } else {
                "ids are the path under the kind's folder without the suffix; rename or remove one file"
            });
            diagnostic = match source {
                Some(source) => {
                    let span = source.document_start(component.format);
                    diagnostic.at(&source, span)
                }
                None => diagnostic.in_file(component.source.clone()),
            };
            diagnostics.push(diagnostic);
            return;
        }
        self.components.insert(component.id.clone(), component);
    }

    /// Points `diagnostic` at the value (or key) at `pointer` in library file `file`; at the
    /// whole file when the value cannot be found.
    pub fn locate(
        &self,
        diagnostic: Diagnostic,
        file: &str,
        format: Format,
        pointer: &str,
        key: bool,
    ) -> Diagnostic {
        match self.source(file) {
            Some(source) => {
                let span = source
                    .locate(format, pointer, key)
                    .unwrap_or_else(|| source.document_start(format));
                diagnostic.at(source, span)
            }
            None => diagnostic.in_file(file),
        }
    }

    /// The bytes and Unix mode of a skill asset (library-relative path). Read from disk on
    /// demand: the library is the only reader, and assets are not needed to validate.
    pub fn read_asset(&self, path: &str) -> std::io::Result<(Vec<u8>, u32)> {
        if let Some(text) = self.memory_assets.get(path) {
            let mode = if text.starts_with("#!") { 0o755 } else { 0o644 };
            return Ok((text.as_bytes().to_vec(), mode));
        }
        let full = self.root.join(path);
        let bytes = std::fs::read(&full)?;
        Ok((bytes, file_mode(&std::fs::metadata(&full)?)))
    }

    /// When a skill asset is a relative symlink to a file inside `folder` (its skill's folder,
    /// library-relative), the link text (`/`-separated): outputs keep it a link. Links that
    /// lead elsewhere in the library and absolute links are read through (their content is
    /// copied); links to folders are [`Library::asset_folder_link`].
    pub fn asset_link(&self, path: &str, folder: &str) -> Option<String> {
        self.link_inside(path, folder)
            .filter(|(_, resolved)| resolved.is_file())
            .map(|(text, _)| text)
    }

    /// When a skill asset lies under a relative symlink to a folder inside `folder` (a skill's
    /// `tools -> scripts`), that link: its library-relative path and its text. Outputs keep
    /// the link instead of a second copy of the folder's files.
    pub fn asset_folder_link(&self, path: &str, folder: &str) -> Option<(String, String)> {
        let inner = path.strip_prefix(folder)?;
        let segments: Vec<&str> = inner.split('/').collect();
        // The asset's own folders, outermost first (the asset itself is `asset_link`'s).
        (1..segments.len()).find_map(|depth| {
            let candidate = format!("{folder}{}", segments[..depth].join("/"));
            let (text, resolved) = self.link_inside(&candidate, folder)?;
            resolved.is_dir().then_some((candidate, text))
        })
    }

    /// The folder of the skill a library path lies in (`components/skills/<name>/`), if any.
    pub fn skill_folder_of(&self, path: &str) -> Option<String> {
        let skills = format!("{}/skills/", self.paths().components);
        let (name, _) = path.strip_prefix(&skills)?.split_once('/')?;
        Some(format!("{skills}{name}/"))
    }

    /// A relative symlink at a library-relative path that resolves inside `folder`: its text
    /// (`/`-separated) and where it leads.
    fn link_inside(&self, path: &str, folder: &str) -> Option<(String, PathBuf)> {
        let full = self.root.join(path);
        let metadata = std::fs::symlink_metadata(&full).ok()?;
        if !metadata.file_type().is_symlink() {
            return None;
        }
        let text = std::fs::read_link(&full).ok()?;
        if !text.is_relative() {
            return None;
        }
        let resolved = full.canonicalize().ok()?;
        let inside = self.root.join(folder).canonicalize().ok()?;
        resolved.starts_with(&inside).then(|| {
            let text = text
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            (text, resolved)
        })
    }

    /// The source file at a library-relative path.
    pub fn source(&self, path: &str) -> Option<&Arc<SourceFile>> {
        self.sources.get(path)
    }

    /// The library's paths (defaults when `kiln.toml` is invalid).
    pub fn paths(&self) -> PathsSpec {
        self.spec
            .as_ref()
            .map(|s| s.paths.clone())
            .unwrap_or_default()
    }

    /// Library-wide template variables from `kiln.toml`.
    pub fn variables(&self) -> serde_json::Map<String, Value> {
        self.spec
            .as_ref()
            .map(|s| s.values.variables.clone())
            .unwrap_or_default()
    }

    /// Components of `kind` whose last id segment is `segment`.
    pub fn by_last_segment(&self, kind: ComponentKind, segment: &str) -> &[ComponentId] {
        self.by_last_segment
            .get(&(kind, segment.to_string()))
            .map_or(&[], Vec::as_slice)
    }
}

#[cfg(unix)]
fn file_mode(metadata: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    // The asset's own permission bits: a 0600 key file stays private, a script executable.
    metadata.permissions().mode() & 0o777
}

#[cfg(not(unix))]
fn file_mode(_: &std::fs::Metadata) -> u32 {
    0o644
}
