//! Parsing documents into what the library holds: `kiln.toml`, components (checked against
//! their schemas, ids against their paths), profiles and tool definitions.

use std::collections::BTreeMap;
use std::sync::Arc;

use kiln_model::schema::DocumentKind;
use kiln_model::{
    AgentFrontmatter, CommandFrontmatter, ComponentId, ComponentKind, ContextFrontmatter, HookSpec,
    LibrarySpec, McpSpec, ProfileSpec, RuleFrontmatter, RuleSpec, SkillFrontmatter, SkillSpec,
    ToolSpec,
};
use serde_json::Value;

use super::plan::{DocumentRole, PlannedDocument};
use super::{Component, ComponentSpec, LibraryFile, ProfileEntry, ToolEntry};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::document;
use crate::markdown::{self, Split};
use crate::source::{Format, SourceFile};

pub(super) fn parse_library_spec(
    source: &SourceFile,
    diagnostics: &mut Diagnostics,
) -> Option<LibrarySpec> {
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

pub(super) enum Loadable {
    Component(Box<Component>),
    Profile(Box<ProfileEntry>),
    Tool(Box<ToolEntry>),
}

/// What reading one document gave: the loaded value, its problems, and its source text.
pub(super) type LoadedDocument = (Option<Loadable>, Vec<Diagnostic>, Option<Arc<SourceFile>>);

pub(super) fn load_document(item: &PlannedDocument, files: &[LibraryFile]) -> LoadedDocument {
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

/// kiln's hook events, as written in `*.hook.json`.
const HOOK_EVENTS: &[&str] = &[
    "session-start",
    "session-end",
    "user-prompt-submit",
    "pre-tool-use",
    "post-tool-use",
    "stop",
    "subagent-stop",
    "notification",
    "pre-compact",
];

/// A hook, with its event matched whatever its spelling (`UserPromptSubmit`,
/// `userpromptsubmit`, `user_prompt_submit`): a warning names the canonical one.
fn hook_document(source: &SourceFile, diagnostics: &mut Diagnostics) -> Option<HookSpec> {
    let mut value = match document::parse(source, Format::Json) {
        Ok(value) => value,
        Err(diagnostic) => {
            diagnostics.push(diagnostic);
            return None;
        }
    };
    let written = value
        .get("event")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(written) = written
        && !HOOK_EVENTS.contains(&written.as_str())
    {
        let folded = |text: &str| text.replace(['-', '_'], "").to_ascii_lowercase();
        if let Some(canonical) = HOOK_EVENTS.iter().find(|e| folded(e) == folded(&written)) {
            let span = source.locate(Format::Json, "/event", false).unwrap_or(0..0);
            diagnostics.push(
                Diagnostic::warning(
                    "kiln::hook::event_spelling",
                    format!("hook event `{written}` is read as `{canonical}`"),
                )
                .at(source, span)
                .label(format!("`{canonical}`"))
                .help(format!(
                    "write `\"event\": \"{canonical}\"`, kiln's name for it"
                )),
            );
            value["event"] = Value::from(*canonical);
        }
    }
    document::check(source, Format::Json, DocumentKind::Hook, value, diagnostics)
}

/// An MCP server as tools' own files write them: JSON with comments and trailing commas is
/// accepted (copied from a Zed or VS Code settings file), and `transport` may be left out when
/// `command` (stdio) or `url` (http) says it.
fn mcp_document(source: &SourceFile, diagnostics: &mut Diagnostics) -> Option<McpSpec> {
    let lenient = jsonc_parser::ParseOptions {
        allow_comments: true,
        allow_trailing_commas: true,
        ..Default::default()
    };
    let mut value = match serde_json::from_str::<Value>(&source.text) {
        Ok(value) => value,
        Err(_) => match jsonc_parser::parse_to_serde_value::<Value>(&source.text, &lenient) {
            Ok(value) => value,
            // Not JSONC either: the strict parser's located error says where.
            Err(_) => return json_document(source, DocumentKind::Mcp, diagnostics),
        },
    };
    if let Some(fields) = value.as_object_mut()
        && !fields.contains_key("transport")
    {
        let inferred = if fields.contains_key("command") {
            Some("stdio")
        } else if fields.contains_key("url") {
            Some("http")
        } else {
            None
        };
        if let Some(transport) = inferred {
            fields.insert("transport".to_string(), Value::from(transport));
        }
    }
    document::check(source, Format::Json, DocumentKind::Mcp, value, diagnostics)
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
            let mut spec: RuleSpec = json_document(source, DocumentKind::Rule, diagnostics)?;
            if spec.activation.is_none() && !spec.globs.is_empty() {
                spec.activation = Some(kiln_model::Activation::Glob);
            }
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
            let (mut spec, format, text): (RuleFrontmatter, _, _) =
                markdown_document(source, DocumentKind::RuleFrontmatter, false, diagnostics)?;
            body = Some(text);
            // Claude Code's `paths` are globs; globs without an activation make a glob rule
            // (never a silently always-on one).
            match spec.paths.clone() {
                Some(kiln_model::StringOrList::List(paths)) => spec.globs.extend(paths),
                Some(kiln_model::StringOrList::String(paths)) => spec.globs.push(paths),
                None => {}
            }
            if spec.activation.is_none() && !spec.globs.is_empty() {
                spec.activation = Some(kiln_model::Activation::Glob);
            }
            let meta = spec.meta.clone();
            (ComponentSpec::RuleMarkdown(spec), meta, format)
        }
        ComponentKind::Skill => {
            let (frontmatter, format, text): (SkillFrontmatter, _, _) = match markdown::split(
                &source.text,
            ) {
                // Tools read a bare SKILL.md too: named after its folder, described by its
                // first line of text.
                Split::BodyOnly => {
                    diagnostics.push(
                            Diagnostic::warning(
                                "kiln::skill::no_frontmatter",
                                "SKILL.md has no frontmatter; the skill is named after its folder",
                            )
                            .at(source, 0..source.text.find('\n').unwrap_or(source.text.len()))
                            .label("no `---` frontmatter")
                            .help("add `---`, `name:` and `description:` lines, and `---`, so tools can tell when to use it"),
                        );
                    let first = source
                        .text
                        .lines()
                        .map(|line| line.trim_start_matches('#').trim())
                        .find(|line| !line.is_empty())
                        .unwrap_or(&id.id);
                    let value = serde_json::json!({ "name": id.id, "description": first });
                    let frontmatter = serde_json::from_value(value).ok()?;
                    (
                        frontmatter,
                        Format::Frontmatter { offset: 0 },
                        (source.text.clone(), 0),
                    )
                }
                _ => markdown_document(source, DocumentKind::SkillFrontmatter, true, diagnostics)?,
            };
            body = Some(text);
            if frontmatter.name != id.id {
                let span = source.locate(format, "/name", false).unwrap_or(0..0);
                diagnostics.push(
                    Diagnostic::warning(
                        "kiln::skill::name_mismatch",
                        format!("skill `name` is `{}` but its folder is `{}`", frontmatter.name, id.id),
                    )
                    .at(source, span)
                    .label(format!("expected `{}`", id.id))
                    .help("tools name the skill after its folder (the Agent Skills standard requires `name` to equal it); rename the folder or `name`"),
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
            let spec: HookSpec = hook_document(source, diagnostics)?;
            let meta = spec.meta.clone();
            (ComponentSpec::Hook(spec), meta, Format::Json)
        }
        ComponentKind::Mcp => {
            let spec: McpSpec = mcp_document(source, diagnostics)?;
            let meta = spec.meta.clone();
            (ComponentSpec::Mcp(spec), meta, Format::Json)
        }
        ComponentKind::Ignore => {
            // Plain gitignore text: no metadata, the whole file is the body.
            body = Some((source.text.clone(), 0));
            (
                ComponentSpec::Ignore,
                kiln_model::CommonMeta::default(),
                Format::Frontmatter { offset: 0 },
            )
        }
        ComponentKind::Settings => {
            let spec: kiln_model::SettingsSpec =
                json_document(source, DocumentKind::Settings, diagnostics)?;
            let meta = spec.meta.clone();
            (ComponentSpec::Settings(spec), meta, Format::Json)
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
        frontmatter: match (id.kind, markdown::split(&source.text)) {
            (ComponentKind::Command | ComponentKind::Agent, Split::Frontmatter(fm)) => {
                Some(Arc::from(fm.yaml))
            }
            _ => None,
        },
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
