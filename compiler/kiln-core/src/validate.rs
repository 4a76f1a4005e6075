//! Semantic validation of a whole library, beyond what the schemas check: references,
//! tools, globs, templates, MCP fields, name collisions, dependency cycles, and the
//! resolution of every profile. All problems are reported in one run.

use std::collections::{BTreeMap, BTreeSet};

use globset::GlobBuilder;
use kiln_model::{Activation, ComponentId, ComponentKind, McpTransport};
use rayon::prelude::*;

use crate::diagnostic::{Diagnostic, Diagnostics, did_you_mean};
use crate::graph::DependencyGraph;
use crate::library::{Component, ComponentSpec, Library};
use crate::profile::{Profile, VariableLayer, resolve_profile};
use crate::refs::Resolved;
use crate::selection::{Selection, select};
use crate::source::{Format, SourceFile};

/// Validates everything in `library`. `machine_variables` are the variable layers of the
/// machine configuration (empty for `--no-inherit`). `known_tools` are the tool names profiles
/// and components may use: the tool registry's (built-in and the library's own `tools/`),
/// which the caller computes, since the registry lives above this crate
/// (`kiln_emit::ToolRegistry::known_tools`).
pub fn validate(
    library: &Library,
    machine_variables: &[VariableLayer],
    known_tools: &BTreeSet<String>,
) -> Diagnostics {
    let tools = known_tools;
    let defined = defined_variables(library, machine_variables);
    // Components and profiles are checked in parallel; the diagnostics are sorted before
    // anyone sees them, so completion order does not matter.
    let components: Vec<&Component> = library.components.values().collect();
    let mut diagnostics: Diagnostics = components
        .par_iter()
        .flat_map_iter(|component| {
            let mut found = Diagnostics::new();
            check_component(library, component, tools, &defined, &mut found);
            found
        })
        .collect::<Vec<_>>()
        .into_iter()
        .collect();
    check_joined_names(library, &mut diagnostics);
    diagnostics.extend(DependencyGraph::build(library, library.components.keys()).cycles(library));
    let names: Vec<&String> = library.profiles.keys().collect();
    let per_profile: Vec<Diagnostics> = names
        .par_iter()
        .map(|name| check_profile(library, name, machine_variables, tools, &defined))
        .collect();
    for found in per_profile {
        diagnostics.extend(found);
    }
    diagnostics
}

/// A profile's tools, its resolution and selection, and the variables its templates read.
fn check_profile(
    library: &Library,
    name: &str,
    machine_variables: &[VariableLayer],
    tools: &BTreeSet<String>,
    defined: &BTreeSet<String>,
) -> Diagnostics {
    let mut diagnostics = Diagnostics::new();
    let entry = &library.profiles[name];
    if let Some(source) = library.source(&entry.source) {
        for tool in entry.spec.tools.keys() {
            if !tools.contains(tool) {
                let pointer = format!("/tools/{}", escape(tool));
                diagnostics.push(unknown_tool(
                    source,
                    Format::Json,
                    &pointer,
                    tool,
                    tools,
                    true,
                ));
            }
        }
    }
    match resolve_profile(library, name, machine_variables) {
        Ok(profile) => {
            let (selection, problems) = select(library, &profile);
            diagnostics.extend(problems);
            if let Some(selection) = selection {
                check_profile_variables(library, &profile, &selection, defined, &mut diagnostics);
            }
        }
        Err(problems) => diagnostics.extend(problems),
    }
    diagnostics
}

/// Every variable a selected template reads must be defined for the profile (variables
/// defined nowhere at all are reported once per component instead).
fn check_profile_variables(
    library: &Library,
    profile: &Profile,
    selection: &Selection,
    defined: &BTreeSet<String>,
    diagnostics: &mut Diagnostics,
) {
    let name = &profile.name;
    for id in selection.ids() {
        let component = &library.components[id];
        let (Some(template), Some(source)) =
            (&component.template, library.source(&component.source))
        else {
            continue;
        };
        for (variable, span) in &template.variables {
            if defined.contains(variable) && !profile.variables.contains_key(variable) {
                diagnostics.push(
                    Diagnostic::error(
                        "kiln::template::undefined_in_profile",
                        format!("template variable `{variable}` is not defined for profile `{name}`"),
                    )
                    .at(source, span.clone())
                    .label("undefined in this profile")
                    .help(format!(
                        "`{id}` is selected by profile `{name}`; define `{variable}` in its `variables` (or a parent's, or kiln.toml)"
                    )),
                );
            }
        }
    }
}

/// Variables defined anywhere: kiln.toml, any profile, the machine layers.
fn defined_variables(library: &Library, machine_variables: &[VariableLayer]) -> BTreeSet<String> {
    library
        .variables()
        .keys()
        .cloned()
        .chain(
            library
                .profiles
                .values()
                .flat_map(|p| p.spec.variables.keys().cloned()),
        )
        .chain(
            machine_variables
                .iter()
                .flat_map(|(_, vars)| vars.keys().cloned()),
        )
        .collect()
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

fn unknown_tool(
    source: &SourceFile,
    format: Format,
    pointer: &str,
    tool: &str,
    tools: &BTreeSet<String>,
    key: bool,
) -> Diagnostic {
    let span = source.locate(format, pointer, key).unwrap_or(0..0);
    Diagnostic::error("kiln::tool::unknown", format!("unknown tool `{tool}`"))
        .at(source, span)
        .label("not a known tool")
        .help(
            did_you_mean(tool, tools.iter().map(String::as_str)).unwrap_or_else(|| {
                format!(
                    "known tools: {}; a library adds its own in `tools/<name>/tool.json`",
                    tools
                        .iter()
                        .map(|t| format!("`{t}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }),
        )
}

fn check_component(
    library: &Library,
    component: &Component,
    tools: &BTreeSet<String>,
    defined: &BTreeSet<String>,
    diagnostics: &mut Diagnostics,
) {
    let Some(meta_source) = library.source(&component.meta_source) else {
        return;
    };
    let meta_format = component.meta_format;
    for (field, list) in [
        ("depends_on", &component.meta.depends_on),
        ("conflicts_with", &component.meta.conflicts_with),
    ] {
        for (index, reference) in list.iter().enumerate() {
            let span = meta_source
                .locate(meta_format, &format!("/{field}/{index}"), false)
                .unwrap_or(0..0);
            match library.resolve_ref(reference, None) {
                Resolved::Found(target) if target == component.id => diagnostics.push(
                    Diagnostic::error("kiln::component::self_reference", format!("`{}` names itself in `{field}`", component.id))
                        .at(meta_source, span)
                        .label("itself")
                        .help("remove the entry"),
                ),
                Resolved::Found(_) => {}
                Resolved::Unknown { suggestion } => diagnostics.push(
                    Diagnostic::error("kiln::component::unknown_reference", format!("unknown component `{reference}` in `{field}`"))
                        .at(meta_source, span)
                        .label("no such component")
                        .help(suggestion.map_or_else(
                            || "references are `kind:id`, e.g. `rule:git-workflow` or `context:house-style`".to_string(),
                            |s| format!("did you mean `{s}`?"),
                        )),
                ),
                Resolved::Ambiguous(ids) => diagnostics.push(ambiguous(meta_source, span, reference, &ids)),
            }
        }
    }
    if let Some(filter) = &component.meta.targets {
        for (field, list) in [("allow", &filter.allow), ("deny", &filter.deny)] {
            for (index, tool) in list.iter().enumerate() {
                if !tools.contains(tool) {
                    diagnostics.push(unknown_tool(
                        meta_source,
                        meta_format,
                        &format!("/targets/{field}/{index}"),
                        tool,
                        tools,
                        false,
                    ));
                }
            }
        }
    }
    let Some(source) = library.source(&component.source) else {
        return;
    };
    if let Some(rule) = component.rule_fields() {
        check_rule(
            source,
            component.format,
            rule.activation,
            rule.globs,
            rule.output.keys(),
            tools,
            diagnostics,
        );
    }
    match &component.spec {
        ComponentSpec::Mcp(mcp) => check_mcp(source, mcp, diagnostics),
        ComponentSpec::Hook(hook) if hook.command.is_some() == hook.prompt.is_some() => {
            let both = hook.command.is_some();
            diagnostics.push(
                Diagnostic::error(
                    "kiln::hook::command_or_prompt",
                    if both {
                        "a hook runs a `command` or a `prompt`, not both"
                    } else {
                        "a hook needs a `command` (a shell command) or a `prompt`"
                    },
                )
                .at(
                    source,
                    source.locate(Format::Json, "/event", false).unwrap_or(0..0),
                )
                .label("this hook")
                .help("keep one of `command` and `prompt`"),
            );
        }
        ComponentSpec::Settings(settings) => {
            if !tools.contains(&settings.tool) {
                diagnostics.push(unknown_tool(
                    source,
                    Format::Json,
                    "/tool",
                    &settings.tool,
                    tools,
                    false,
                ));
            }
            if settings.settings.contains_key("hooks") {
                diagnostics.push(
                    Diagnostic::error(
                        "kiln::settings::hooks",
                        "hooks are components of their own, not settings",
                    )
                    .at(
                        source,
                        source
                            .locate(Format::Json, "/settings/hooks", true)
                            .unwrap_or(0..0),
                    )
                    .label("a hook")
                    .help("move each handler into `components/hooks/<id>.hook.json`"),
                );
            }
        }
        ComponentSpec::RuleJson(_)
        | ComponentSpec::RuleMarkdown(_)
        | ComponentSpec::Skill { .. }
        | ComponentSpec::Command(_)
        | ComponentSpec::Agent(_)
        | ComponentSpec::Hook(_)
        | ComponentSpec::Context(_)
        | ComponentSpec::Ignore => {}
    }
    if let Some(template) = &component.template {
        for (reference, span) in &template.includes {
            match library.resolve_ref(reference, Some(ComponentKind::Context)) {
                Resolved::Found(target) if target.kind == ComponentKind::Context => {}
                Resolved::Found(target) => diagnostics.push(
                    Diagnostic::error("kiln::template::include_not_context", format!("`include` names `{target}`, which is not a context fragment"))
                        .at(source, span.clone())
                        .label("not a context fragment")
                        .help("only `context:` fragments can be included; move the shared text into `components/context/`"),
                ),
                Resolved::Unknown { suggestion } => diagnostics.push(
                    Diagnostic::error("kiln::template::unknown_include", format!("`include` names unknown fragment `{reference}`"))
                        .at(source, span.clone())
                        .label("no such context fragment")
                        .help(suggestion.map_or_else(
                            || format!("add `components/context/{}.context.md`", reference.trim_start_matches("context:")),
                            |s| format!("did you mean `{s}`?"),
                        )),
                ),
                Resolved::Ambiguous(ids) => diagnostics.push(ambiguous(source, span.clone(), reference, &ids)),
            }
        }
        for (variable, span) in &template.variables {
            if !defined.contains(variable) {
                diagnostics.push(
                    Diagnostic::error("kiln::template::undefined_variable", format!("template variable `{variable}` is not defined anywhere"))
                        .at(source, span.clone())
                        .label("undefined")
                        .help(did_you_mean(variable, defined.iter().map(String::as_str)).unwrap_or_else(|| {
                            format!("define `{variable}` in kiln.toml `[variables]` or in a profile's `variables`")
                        })),
                );
            }
        }
    }
}

fn ambiguous(
    source: &SourceFile,
    span: std::ops::Range<usize>,
    reference: &str,
    ids: &[ComponentId],
) -> Diagnostic {
    let names: Vec<String> = ids.iter().map(|id| format!("`{id}`")).collect();
    Diagnostic::error(
        "kiln::component::ambiguous_reference",
        format!("`{reference}` names several components"),
    )
    .at(source, span)
    .label(format!("matches {}", names.join(", ")))
    .help("write the reference as `kind:id` with the full id")
}

fn check_rule<'a>(
    source: &SourceFile,
    format: Format,
    activation: Option<Activation>,
    globs: &[String],
    outputs: impl Iterator<Item = &'a String>,
    tools: &BTreeSet<String>,
    diagnostics: &mut Diagnostics,
) {
    for (index, glob) in globs.iter().enumerate() {
        if let Err(error) = GlobBuilder::new(glob).literal_separator(true).build() {
            let span = source
                .locate(format, &format!("/globs/{index}"), false)
                .unwrap_or(0..0);
            diagnostics.push(
                Diagnostic::error(
                    "kiln::rule::invalid_glob",
                    format!("invalid glob `{glob}`: {}", error.kind()),
                )
                .at(source, span)
                .label("invalid glob")
                .help("globs use `*`, `**`, `?`, `[abc]` and `{a,b}`, e.g. `src/**/*.rs`"),
            );
        }
    }
    if activation == Some(Activation::Glob) && globs.is_empty() {
        let span = source.locate(format, "/activation", false).unwrap_or(0..0);
        diagnostics.push(
            Diagnostic::error(
                "kiln::rule::glob_activation_without_globs",
                "`activation: glob` needs `globs`",
            )
            .at(source, span)
            .label("no globs to match")
            .help("add `globs`, e.g. `[\"**/*.rs\"]`, or use another activation"),
        );
    }
    for tool in outputs {
        if !tools.contains(tool) {
            diagnostics.push(unknown_tool(
                source,
                format,
                &format!("/output/{}", escape(tool)),
                tool,
                tools,
                true,
            ));
        }
    }
}

fn check_mcp(source: &SourceFile, mcp: &kiln_model::McpSpec, diagnostics: &mut Diagnostics) {
    let at = |pointer: &str, key: bool| source.locate(Format::Json, pointer, key).unwrap_or(0..0);
    match mcp.transport {
        McpTransport::Stdio => {
            if mcp.command.is_none() {
                diagnostics.push(
                    Diagnostic::error(
                        "kiln::mcp::missing_command",
                        "a `stdio` server needs `command`",
                    )
                    .at(source, at("/transport", false))
                    .label("stdio")
                    .help("add `command` (and `args`), or use `http` with `url`"),
                );
            }
            if mcp.url.is_some() || !mcp.headers.is_empty() {
                let pointer = if mcp.url.is_some() {
                    "/url"
                } else {
                    "/headers"
                };
                diagnostics.push(
                    Diagnostic::error(
                        "kiln::mcp::remote_field_on_stdio",
                        "`url` and `headers` are for `http`/`sse` servers",
                    )
                    .at(source, at(pointer, true))
                    .label("not used by stdio")
                    .help("remove it, or set `transport` to `http`"),
                );
            }
        }
        McpTransport::Http | McpTransport::Sse => {
            if mcp.url.is_none() {
                diagnostics.push(
                    Diagnostic::error("kiln::mcp::missing_url", "a remote server needs `url`")
                        .at(source, at("/transport", false))
                        .label("remote transport")
                        .help("add `url`, e.g. `https://example.com/mcp`"),
                );
            }
            if mcp.command.is_some() || !mcp.args.is_empty() {
                let pointer = if mcp.command.is_some() {
                    "/command"
                } else {
                    "/args"
                };
                diagnostics.push(
                    Diagnostic::error(
                        "kiln::mcp::stdio_field_on_remote",
                        "`command` and `args` are for `stdio` servers",
                    )
                    .at(source, at(pointer, true))
                    .label("not used by a remote server")
                    .help("remove it, or set `transport` to `stdio`"),
                );
            }
        }
    }
    let values = mcp
        .args
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("/args/{i}"), v))
        .chain(
            mcp.env
                .iter()
                .map(|(k, v)| (format!("/env/{}", escape(k)), v)),
        )
        .chain(
            mcp.headers
                .iter()
                .map(|(k, v)| (format!("/headers/{}", escape(k)), v)),
        )
        .chain(mcp.url.iter().map(|v| ("/url".to_string(), v)));
    for (pointer, value) in values {
        if let Some(problem) = check_references(value) {
            diagnostics.push(
                Diagnostic::error("kiln::mcp::invalid_reference", problem.0)
                    .at(source, at(&pointer, false))
                    .label("here")
                    .help(problem.1),
            );
        }
    }
}

/// Checks `${VAR}` and `op://vault/item/field` references in one value.
fn check_references(value: &str) -> Option<(String, &'static str)> {
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Some((
                format!("unclosed `${{` in `{value}`"),
                "write environment references as `${NAME}`",
            ));
        };
        let name = &after[..end];
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Some((
                format!("`${{{name}}}` is not a valid environment reference"),
                "names are letters, digits and `_`, not starting with a digit; defaults like `${VAR:-x}` are not portable across tools",
            ));
        }
        rest = &after[end + 1..];
    }
    // A reference may be the whole value or part of it (`Bearer op://v/i/f`).
    for span in kiln_model::secret_ref::reference_spans(value) {
        let token = &value[span];
        if !kiln_model::secret_ref::is_reference(token) {
            return Some((
                format!("`{token}` is not a valid 1Password reference"),
                "secret references are `op://vault/item/field` (or `op://vault/item/section/field`), ended by a space or the end of the value",
            ));
        }
    }
    None
}

/// Ids that collide once their folders are joined with `-` (tools with flat folders).
fn check_joined_names(library: &Library, diagnostics: &mut Diagnostics) {
    let mut joined: BTreeMap<(ComponentKind, String), Vec<&Component>> = BTreeMap::new();
    for component in library.components.values() {
        if component.id.kind != ComponentKind::Skill {
            joined
                .entry((component.id.kind, component.id.joined()))
                .or_default()
                .push(component);
        }
    }
    for ((kind, name), components) in joined {
        if components.len() < 2 {
            continue;
        }
        let ids: Vec<String> = components.iter().map(|c| format!("`{}`", c.id)).collect();
        for component in &components[1..] {
            if let Some(source) = library.source(&component.source) {
                diagnostics.push(
                    // A warning here: tools that keep folders (Claude Code) build both; the
                    // build of a tool with flat folders fails on the clash (path_collision).
                    Diagnostic::warning(
                        "kiln::component::joined_name_collision",
                        format!(
                            "{} become the same {kind} `{name}` in tools with flat folders",
                            ids.join(" and ")
                        ),
                    )
                    .at(source, source.document_start(component.format))
                    .label("collides after joining folders with `-`")
                    .help("rename one of them: tools that join folders with `-` cannot build both (tools that keep folders can)"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_syntax() {
        assert!(check_references("Bearer ${GITHUB_TOKEN}").is_none());
        assert!(check_references("op://Private/Item/field").is_none());
        assert!(check_references("${1BAD}").is_some());
        assert!(check_references("${OPEN").is_some());
        assert!(check_references("op://only/two").is_some());
        assert!(check_references("Bearer op://a/b/c").is_none());
        assert!(check_references("Bearer op://a/b").is_some());
    }
}
