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

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kiln_model::schema::DocumentKind;
use kiln_model::{
    AgentFrontmatter, CommandFrontmatter, CommonMeta, ComponentId, ComponentKind,
    ContextFrontmatter, HookSpec, LibrarySpec, McpSpec, PathsSpec, ProfileSpec, RuleFrontmatter,
    RuleSpec, SkillFrontmatter, SkillSpec, ToolSpec,
};
use rayon::prelude::*;
use serde_json::Value;

use crate::diagnostic::{Diagnostic, Diagnostics, did_you_mean};
use crate::document;
use crate::markdown::{self, Split};
use crate::source::{Format, SourceFile};
use crate::template::TemplateInfo;

/// The file that marks a library's root.
pub const LIBRARY_FILE: &str = "kiln.toml";

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
    if metadata.permissions().mode() & 0o111 != 0 {
        0o755
    } else {
        0o644
    }
}

#[cfg(not(unix))]
fn file_mode(_: &std::fs::Metadata) -> u32 {
    0o644
}

fn parse_library_spec(source: &SourceFile, diagnostics: &mut Diagnostics) -> Option<LibrarySpec> {
    let value = match document::parse(source, Format::Toml) {
        Ok(value) => value,
        Err(diagnostic) => {
            diagnostics.push(diagnostic);
            return None;
        }
    };
    document::check(
        source,
        Format::Toml,
        DocumentKind::Library,
        value,
        diagnostics,
    )
}

/// Lists every file under the library's components, profiles and tools folders, reading the
/// documents (in parallel).
fn discover(root: &Path, paths: &PathsSpec, diagnostics: &mut Diagnostics) -> Vec<LibraryFile> {
    let mut found = Vec::new();
    for folder in [&paths.components, &paths.profiles, &paths.tools] {
        let dir = root.join(folder);
        if !dir.exists() {
            continue;
        }
        let walker = walkdir::WalkDir::new(&dir)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|entry| {
                entry.depth() == 0 || !entry.file_name().to_string_lossy().starts_with('.')
            });
        for entry in walker {
            match entry {
                Ok(entry) if entry.file_type().is_file() => {
                    if let Ok(relative) = entry.path().strip_prefix(root) {
                        found.push(relative_path(relative));
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    let path = error
                        .path()
                        .and_then(|p| p.strip_prefix(root).ok())
                        .map_or_else(|| folder.clone(), relative_path);
                    diagnostics.push(
                        Diagnostic::error(
                            "kiln::library::walk",
                            format!("failed to read `{path}`: {error}"),
                        )
                        .in_file(path),
                    );
                }
            }
        }
    }
    let plan = plan_files(
        paths,
        &found
            .iter()
            .map(|p| LibraryFile {
                path: p.clone(),
                text: None,
            })
            .collect::<Vec<_>>(),
    );
    let wanted: BTreeSet<&str> = plan.documents.iter().map(|d| d.path.as_str()).collect();
    let read: Vec<(LibraryFile, Option<Diagnostic>)> = found
        .par_iter()
        .map(|path| {
            if !wanted.contains(path.as_str()) {
                return (
                    LibraryFile {
                        path: path.clone(),
                        text: None,
                    },
                    None,
                );
            }
            match std::fs::read(root.join(path)) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => (
                        LibraryFile {
                            path: path.clone(),
                            text: Some(text.into()),
                        },
                        None,
                    ),
                    Err(_) => (
                        LibraryFile {
                            path: path.clone(),
                            text: None,
                        },
                        Some(
                            Diagnostic::error(
                                "kiln::library::not_utf8",
                                format!("`{path}` is not UTF-8 text"),
                            )
                            .in_file(path.clone())
                            .help("save the file as UTF-8"),
                        ),
                    ),
                },
                Err(error) => (
                    LibraryFile {
                        path: path.clone(),
                        text: None,
                    },
                    Some(
                        Diagnostic::error(
                            "kiln::library::read",
                            format!("failed to read `{path}`: {error}"),
                        )
                        .in_file(path.clone()),
                    ),
                ),
            }
        })
        .collect();
    read.into_iter()
        .map(|(file, problem)| {
            diagnostics.extend(problem);
            file
        })
        .collect()
}

fn relative_path(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// What a document is, decided from its path alone.
#[derive(Clone, Debug)]
enum DocumentRole {
    Component { id: ComponentId },
    SkillMetadata,
    Profile { name: String },
    Tool { name: String },
    ToolTemplate,
}

#[derive(Clone, Debug)]
struct PlannedDocument {
    path: String,
    role: DocumentRole,
}

#[derive(Clone, Debug)]
struct PlannedSkill {
    id: ComponentId,
    metadata: Option<String>,
    assets: Vec<String>,
}

struct FilePlan {
    documents: Vec<PlannedDocument>,
    /// `(tool, template name, path)` of every library tool template.
    tool_templates: Vec<(String, String, String)>,
    skills: BTreeMap<String, PlannedSkill>,
    diagnostics: Vec<Diagnostic>,
}

/// Decides, from paths alone, which files are which documents; unknown files are warned about.
fn plan_files(paths: &PathsSpec, files: &[LibraryFile]) -> FilePlan {
    let components = format!("{}/", paths.components.trim_end_matches('/'));
    let profiles = format!("{}/", paths.profiles.trim_end_matches('/'));
    let tools = format!("{}/", paths.tools.trim_end_matches('/'));
    let skills_prefix = format!("{components}skills/");

    // Skill roots: every folder holding a SKILL.md that is not inside another skill.
    let all_roots: BTreeSet<&str> = files
        .iter()
        .filter_map(|f| {
            f.path
                .strip_prefix(&skills_prefix)?
                .strip_suffix("/SKILL.md")
        })
        .collect();
    let outer_roots: BTreeSet<&str> = all_roots
        .iter()
        .copied()
        .filter(|root| ancestors(root).all(|ancestor| !all_roots.contains(ancestor)))
        .collect();
    let mut plan = FilePlan {
        documents: Vec::new(),
        tool_templates: Vec::new(),
        skills: BTreeMap::new(),
        diagnostics: Vec::new(),
    };
    for root in &outer_roots {
        let id = root.rsplit('/').next().unwrap_or(root).to_string();
        let path = format!("{skills_prefix}{root}/SKILL.md");
        plan.documents.push(PlannedDocument {
            path,
            role: DocumentRole::Component {
                id: ComponentId::new(ComponentKind::Skill, id.clone()),
            },
        });
        plan.skills.insert(
            (*root).to_string(),
            PlannedSkill {
                id: ComponentId::new(ComponentKind::Skill, id),
                metadata: None,
                assets: Vec::new(),
            },
        );
    }

    for file in files {
        let path = file.path.as_str();
        if let Some(rest) = path.strip_prefix(&skills_prefix) {
            // The skill owning a file is its nearest ancestor folder that is a skill root.
            let owner = ancestors(rest).find(|ancestor| outer_roots.contains(ancestor));
            match owner {
                Some(root) => {
                    let inner = &rest[root.len() + 1..];
                    let skill = plan.skills.get_mut(root).expect("every root is planned");
                    if inner == "SKILL.md" {
                    } else if inner == "skill.json" {
                        skill.metadata = Some(path.to_string());
                        plan.documents.push(PlannedDocument {
                            path: path.to_string(),
                            role: DocumentRole::SkillMetadata,
                        });
                    } else {
                        skill.assets.push(path.to_string());
                    }
                }
                None => plan.diagnostics.push(
                    Diagnostic::warning(
                        "kiln::library::stray_file",
                        format!("`{path}` is not inside a skill folder and is ignored"),
                    )
                    .in_file(path)
                    .help("a skill is a folder holding SKILL.md; move the file into one"),
                ),
            }
        } else if let Some(rest) = path.strip_prefix(&components) {
            plan_component_file(path, rest, &mut plan);
        } else if let Some(rest) = path.strip_prefix(&profiles) {
            match rest.strip_suffix(".profile.json") {
                Some(name) if !name.contains('/') => plan.documents.push(PlannedDocument {
                    path: path.to_string(),
                    role: DocumentRole::Profile {
                        name: name.to_string(),
                    },
                }),
                _ => plan.diagnostics.push(
                    Diagnostic::warning(
                        "kiln::library::stray_file",
                        format!("`{path}` is not a profile and is ignored"),
                    )
                    .in_file(path)
                    .help("profiles are `profiles/<name>.profile.json`"),
                ),
            }
        } else if let Some(rest) = path.strip_prefix(&tools) {
            if let Some(name) = rest.strip_suffix("/tool.json").filter(|n| !n.contains('/')) {
                plan.documents.push(PlannedDocument {
                    path: path.to_string(),
                    role: DocumentRole::Tool {
                        name: name.to_string(),
                    },
                });
            } else if let Some((tool, template)) = rest.split_once("/templates/") {
                plan.tool_templates.push((
                    tool.to_string(),
                    template.to_string(),
                    path.to_string(),
                ));
                plan.documents.push(PlannedDocument {
                    path: path.to_string(),
                    role: DocumentRole::ToolTemplate,
                });
            }
        }
    }
    plan.documents.sort_by(|a, b| a.path.cmp(&b.path));
    plan
}

/// The proper ancestor folders of a `/`-separated path, nearest first: `a/b/c` → `a/b`, `a`.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/')
        .rev()
        .map(move |(index, _)| &path[..index])
}

fn plan_component_file(path: &str, rest: &str, plan: &mut FilePlan) {
    let Some((folder, inner)) = rest.split_once('/') else {
        plan.diagnostics.push(
            Diagnostic::warning(
                "kiln::library::stray_file",
                format!("`{path}` is not in a component folder and is ignored"),
            )
            .in_file(path)
            .help("put components in `components/<kind>/`: rules, skills, commands, agents, hooks, mcp, context"),
        );
        return;
    };
    let Some(kind) = ComponentKind::from_folder(folder) else {
        let folders = ComponentKind::ALL.map(ComponentKind::folder);
        plan.diagnostics.push(
            Diagnostic::warning(
                "kiln::library::unknown_folder",
                format!("`{folder}` is not a component folder; `{path}` is ignored"),
            )
            .in_file(path)
            .help(did_you_mean(folder, folders).unwrap_or_else(|| {
                format!(
                    "component folders are {}",
                    folders.map(|f| format!("`{f}`")).join(", ")
                )
            })),
        );
        return;
    };
    let file_name = inner.rsplit('/').next().unwrap_or(inner);
    match ComponentKind::from_file_name(file_name) {
        Some((file_kind, _)) if file_kind == kind => {
            let stem = file_kind
                .suffixes()
                .iter()
                .find_map(|suffix| inner.strip_suffix(suffix))
                .unwrap_or(inner);
            plan.documents.push(PlannedDocument {
                path: path.to_string(),
                role: DocumentRole::Component {
                    id: ComponentId::new(kind, stem),
                },
            });
        }
        Some((file_kind, _)) => plan.diagnostics.push(
            Diagnostic::error(
                "kiln::library::wrong_folder",
                format!(
                    "`{path}` is a {file_kind} file in the {} folder",
                    kind.folder()
                ),
            )
            .in_file(path)
            .help(format!("move it to `components/{}/`", file_kind.folder())),
        ),
        None => {
            let expected = kind.suffixes().join("` or `");
            plan.diagnostics.push(
                Diagnostic::warning(
                    "kiln::library::stray_file",
                    format!("`{path}` is not a {kind} file and is ignored"),
                )
                .in_file(path)
                .help(format!("{kind} files end in `{expected}`")),
            );
        }
    }
}

enum Loadable {
    Component(Box<Component>),
    Profile(Box<ProfileEntry>),
    Tool(Box<ToolEntry>),
}

/// What reading one document gave: the loaded value, its problems, and its source text.
type LoadedDocument = (Option<Loadable>, Vec<Diagnostic>, Option<Arc<SourceFile>>);

fn load_document(item: &PlannedDocument, files: &[LibraryFile]) -> LoadedDocument {
    let mut diagnostics = Diagnostics::new();
    let Ok(index) = files.binary_search_by(|f| f.path.as_str().cmp(&item.path)) else {
        return (None, Vec::new(), None);
    };
    let Some(text) = files[index].text.clone() else {
        return (None, Vec::new(), None);
    };
    let source = Arc::new(SourceFile {
        path: item.path.clone(),
        text,
    });
    let loadable = match &item.role {
        DocumentRole::Component { id } => load_component(id, &source, files, &mut diagnostics)
            .map(|c| Loadable::Component(Box::new(c))),
        DocumentRole::SkillMetadata | DocumentRole::ToolTemplate => None,
        DocumentRole::Profile { name } => {
            load_profile(name, &source, &mut diagnostics).map(|p| Loadable::Profile(Box::new(p)))
        }
        DocumentRole::Tool { name } => {
            load_tool(name, &source, &mut diagnostics).map(|t| Loadable::Tool(Box::new(t)))
        }
    };
    (loadable, diagnostics.into_iter().collect(), Some(source))
}

/// Parses a JSON document and checks it against the schema of `kind`.
fn json_document<T: serde::de::DeserializeOwned>(
    source: &SourceFile,
    kind: DocumentKind,
    diagnostics: &mut Diagnostics,
) -> Option<T> {
    match document::parse(source, Format::Json) {
        Ok(value) => document::check(source, Format::Json, kind, value, diagnostics),
        Err(diagnostic) => {
            diagnostics.push(diagnostic);
            None
        }
    }
}

/// Splits a Markdown document and checks its frontmatter against the schema of `kind`.
/// Returns the spec, the frontmatter format and the body with its offset.
fn markdown_document<T: serde::de::DeserializeOwned>(
    source: &SourceFile,
    kind: DocumentKind,
    require_frontmatter: bool,
    diagnostics: &mut Diagnostics,
) -> Option<(T, Format, (Arc<str>, usize))> {
    let (value, format, body) = match markdown::split(&source.text) {
        Split::Frontmatter(fm) => {
            let format = Format::Frontmatter {
                offset: fm.yaml_offset,
            };
            match document::parse(source, format) {
                Ok(value) => (value, format, (Arc::from(fm.body), fm.body_offset)),
                Err(diagnostic) => {
                    diagnostics.push(diagnostic);
                    return None;
                }
            }
        }
        Split::BodyOnly if require_frontmatter => {
            diagnostics.push(
                Diagnostic::error("kiln::markdown::no_frontmatter", "missing YAML frontmatter")
                    .at(source, 0..source.text.find('\n').unwrap_or(source.text.len()))
                    .label("the file must start with `---`")
                    .help("start the file with `---`, the `name:` and `description:` lines, and `---`"),
            );
            return None;
        }
        Split::BodyOnly => (
            Value::Object(serde_json::Map::new()),
            Format::Frontmatter { offset: 0 },
            (source.text.clone(), 0),
        ),
        Split::Unterminated => {
            diagnostics.push(
                Diagnostic::error(
                    "kiln::markdown::unterminated_frontmatter",
                    "frontmatter is never closed",
                )
                .at(source, 0..3)
                .label("opened here")
                .help("end the frontmatter with a line holding only `---`"),
            );
            return None;
        }
    };
    let spec = document::check(source, format, kind, value, diagnostics)?;
    Some((spec, format, body))
}

fn load_component(
    id: &ComponentId,
    source: &SourceFile,
    files: &[LibraryFile],
    diagnostics: &mut Diagnostics,
) -> Option<Component> {
    let mut body = None;
    let mut meta_source = source.path.clone();
    let mut meta_format = None;
    let (spec, meta, format) = match id.kind {
        ComponentKind::Rule if source.path.ends_with(".rule.json") => {
            let spec: RuleSpec = json_document(source, DocumentKind::Rule, diagnostics)?;
            if let Some(written) = spec.id.as_deref().filter(|written| *written != id.id) {
                let span = source.locate(Format::Json, "/id", false).unwrap_or(0..0);
                diagnostics.push(
                    Diagnostic::error(
                        "kiln::component::id_mismatch",
                        format!("`id` is `{written}` but the file's path gives `{}`", id.id),
                    )
                    .at(source, span)
                    .label(format!("expected `{}`", id.id))
                    .help("the id is the path under `components/rules/` without `.rule.json`; rename the file or fix `id`"),
                );
            }
            let meta = spec.meta.clone();
            (ComponentSpec::RuleJson(spec), meta, Format::Json)
        }
        ComponentKind::Rule => {
            let (spec, format, text): (RuleFrontmatter, _, _) =
                markdown_document(source, DocumentKind::RuleFrontmatter, false, diagnostics)?;
            body = Some(text);
            let meta = spec.meta.clone();
            (ComponentSpec::RuleMarkdown(spec), meta, format)
        }
        ComponentKind::Skill => {
            let (frontmatter, format, text): (SkillFrontmatter, _, _) =
                markdown_document(source, DocumentKind::SkillFrontmatter, true, diagnostics)?;
            body = Some(text);
            if frontmatter.name != id.id {
                let span = source.locate(format, "/name", false).unwrap_or(0..0);
                diagnostics.push(
                    Diagnostic::error(
                        "kiln::skill::name_mismatch",
                        format!("skill `name` is `{}` but its folder is `{}`", frontmatter.name, id.id),
                    )
                    .at(source, span)
                    .label(format!("expected `{}`", id.id))
                    .help("the Agent Skills standard requires `name` to equal the folder name; rename one of them"),
                );
            }
            for key in frontmatter.extra.keys() {
                let span = source
                    .locate(format, &format!("/{key}"), true)
                    .unwrap_or(0..0);
                diagnostics.push(
                    Diagnostic::warning(
                        "kiln::skill::non_portable_key",
                        format!("`{key}` is not a portable Agent Skills key"),
                    )
                    .at(source, span)
                    .label("tool-specific")
                    .help("portable keys are name, description, license, compatibility, metadata and allowed-tools; kiln metadata goes in skill.json"),
                );
            }
            let folder = source
                .path
                .strip_suffix("/SKILL.md")
                .unwrap_or(&source.path);
            let metadata_path = format!("{folder}/skill.json");
            let metadata = match files.binary_search_by(|f| f.path.as_str().cmp(&metadata_path)) {
                Ok(index) => {
                    let text = files[index].text.clone()?;
                    let meta_file = SourceFile {
                        path: metadata_path.clone(),
                        text,
                    };
                    meta_source = metadata_path;
                    meta_format = Some(Format::Json);
                    json_document::<SkillSpec>(&meta_file, DocumentKind::Skill, diagnostics)
                }
                Err(_) => None,
            };
            let mut meta = metadata
                .as_ref()
                .map(|m| m.meta.clone())
                .unwrap_or_default();
            meta.description = Some(frontmatter.description.clone());
            (
                ComponentSpec::Skill {
                    frontmatter,
                    metadata,
                },
                meta,
                format,
            )
        }
        ComponentKind::Command => {
            let (spec, format, text): (CommandFrontmatter, _, _) =
                markdown_document(source, DocumentKind::Command, false, diagnostics)?;
            body = Some(text);
            let meta = spec.meta.clone();
            (ComponentSpec::Command(spec), meta, format)
        }
        ComponentKind::Agent => {
            let (spec, format, text): (AgentFrontmatter, _, _) =
                markdown_document(source, DocumentKind::Agent, false, diagnostics)?;
            body = Some(text);
            let meta = spec.meta.clone();
            (ComponentSpec::Agent(spec), meta, format)
        }
        ComponentKind::Context => {
            let (spec, format, text): (ContextFrontmatter, _, _) =
                markdown_document(source, DocumentKind::Context, false, diagnostics)?;
            body = Some(text);
            let meta = spec.meta.clone();
            (ComponentSpec::Context(spec), meta, format)
        }
        ComponentKind::Hook => {
            let spec: HookSpec = json_document(source, DocumentKind::Hook, diagnostics)?;
            let meta = spec.meta.clone();
            (ComponentSpec::Hook(spec), meta, Format::Json)
        }
        ComponentKind::Mcp => {
            let spec: McpSpec = json_document(source, DocumentKind::Mcp, diagnostics)?;
            let meta = spec.meta.clone();
            (ComponentSpec::Mcp(spec), meta, Format::Json)
        }
    };
    let mut component = Component {
        id: id.clone(),
        spec,
        meta,
        source: source.path.clone(),
        format,
        meta_source,
        meta_format: meta_format.unwrap_or(format),
        body,
        assets: Vec::new(),
        template: None,
    };
    if component.meta.template {
        component.template = Some(crate::template::analyze(&component, source, diagnostics));
    } else {
        crate::template::warn_untemplated_include(&component, source, diagnostics);
    }
    Some(component)
}

fn load_profile(
    name: &str,
    source: &SourceFile,
    diagnostics: &mut Diagnostics,
) -> Option<ProfileEntry> {
    let spec: ProfileSpec = json_document(source, DocumentKind::Profile, diagnostics)?;
    if spec.name != name {
        let span = source.locate(Format::Json, "/name", false).unwrap_or(0..0);
        diagnostics.push(
            Diagnostic::error(
                "kiln::profile::name_mismatch",
                format!(
                    "profile `name` is `{}` but the file is `{name}.profile.json`",
                    spec.name
                ),
            )
            .at(source, span)
            .label(format!("expected `{name}`"))
            .help("a profile's name is its file name without `.profile.json`; rename one of them"),
        );
        return None;
    }
    Some(ProfileEntry {
        spec,
        source: source.path.clone(),
    })
}

fn load_tool(name: &str, source: &SourceFile, diagnostics: &mut Diagnostics) -> Option<ToolEntry> {
    let spec: ToolSpec = json_document(source, DocumentKind::Tool, diagnostics)?;
    if spec.name != name {
        let span = source.locate(Format::Json, "/name", false).unwrap_or(0..0);
        diagnostics.push(
            Diagnostic::error(
                "kiln::tool::name_mismatch",
                format!("tool `name` is `{}` but its folder is `{name}`", spec.name),
            )
            .at(source, span)
            .label(format!("expected `{name}`"))
            .help("a tool's name is its folder under `tools/`"),
        );
        return None;
    }
    Some(ToolEntry {
        spec,
        source: source.path.clone(),
        templates: BTreeMap::new(),
    })
}

/// A digest of the library's files as the file system describes them — path, size,
/// modification time, inode — without reading them. Equal digests mean nothing was touched
/// (the same test git's index and cargo's mtime check rely on); it is only a shortcut to
/// skip work, never part of an output or a fingerprint.
pub fn stat_digest(root: &Path, paths: &PathsSpec) -> String {
    let mut hasher = blake3::Hasher::new();
    let mut entries: Vec<String> = Vec::new();
    let config = root.join(LIBRARY_FILE);
    entries.push(stat_line(&config, LIBRARY_FILE));
    for folder in [&paths.components, &paths.profiles, &paths.tools] {
        let dir = root.join(folder);
        for entry in walkdir::WalkDir::new(&dir)
            .follow_links(true)
            .into_iter()
            .flatten()
        {
            let relative = entry
                .path()
                .strip_prefix(root)
                .map(relative_path)
                .unwrap_or_default();
            entries.push(stat_line(entry.path(), &relative));
        }
    }
    entries.sort_unstable();
    for line in &entries {
        hasher.update(line.as_bytes());
        hasher.update(b"\n");
    }
    hasher.finalize().to_hex().to_string()
}

fn stat_line(path: &Path, relative: &str) -> String {
    match std::fs::metadata(path) {
        Ok(metadata) => {
            let modified = metadata
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            format!(
                "{relative}\t{}\t{modified}\t{}",
                metadata.len(),
                inode(&metadata)
            )
        }
        Err(_) => format!("{relative}\tmissing"),
    }
}

#[cfg(unix)]
fn inode(metadata: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    metadata.ino()
}

#[cfg(not(unix))]
fn inode(_: &std::fs::Metadata) -> u64 {
    0
}

/// The `[paths]` of the library at `root` without loading it (defaults when `kiln.toml` is
/// missing or invalid; loading reports the problem).
pub fn library_paths(root: &Path) -> PathsSpec {
    std::fs::read_to_string(root.join(LIBRARY_FILE))
        .ok()
        .and_then(|text| toml::from_str::<LibrarySpec>(&text).ok())
        .map(|spec| spec.paths)
        .unwrap_or_default()
}
