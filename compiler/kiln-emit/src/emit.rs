//! Planning and emitting: which output each selected component goes to (a [`Unit`] of work),
//! and the artifacts each unit produces. Pure: the library is the only reader, nothing is
//! written here.
//!
//! A unit is one output of one component (file-per-component, copy-tree) or one output with
//! all its components (concat, json-merge, toml-merge). Units are what the build memoises.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kiln_core::artifact::Artifact;
use kiln_core::library::{Component, Library};
use kiln_core::profile::Profile;
use kiln_core::selection::{Selected, Selection};
use kiln_core::{Diagnostic, Diagnostics};
use kiln_model::{
    BuildScope, Capability, Collect, ComponentId, ComponentKind, MergeFormat, ObservationMode,
    Omission, OutputSpec, RuleOutput, Scope, Strategy, ToolScope,
};
use minijinja::Value;
use minijinja::value::Serde;
use serde::Serialize;

use crate::render::{RenderVariables, render_body};
use crate::tools::{ToolDefinition, ToolRegistry};
use crate::view::{ComponentView, view};

/// What to emit: a profile's selection for one tool, in some scopes.
pub struct EmitRequest<'a> {
    /// The library.
    pub library: &'a Library,
    /// The resolved profile.
    pub profile: &'a Profile,
    /// Its selection.
    pub selection: &'a Selection,
    /// The tool.
    pub tool: &'a ToolDefinition,
    /// The scopes to build.
    pub scopes: Vec<BuildScope>,
    /// Every tool definition: what the profile's other tools provide (`provides`), which
    /// this tool's outputs may yield to (`yields_to`).
    pub registry: &'a ToolRegistry,
}

/// One component placed in one output.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Member {
    /// The component.
    pub component: ComponentId,
    /// Index of its output in the tool definition.
    pub output: usize,
}

/// One unit of work: one component in one output (file-per-component, copy-tree), or every
/// component whose output writes the same file (concat, json-merge, toml-merge: several
/// outputs may share a file, e.g. hooks and MCP servers in one settings.json).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Unit {
    /// The scope.
    pub scope: BuildScope,
    /// The strategy.
    pub strategy: Strategy,
    /// For aggregate units: the file they write.
    pub path: Option<String>,
    /// The components, in selection order.
    pub members: Vec<Member>,
}

impl Unit {
    /// A stable key: `global/3/rule:git-workflow`, or `global/.claude/settings.json` for an
    /// aggregate unit.
    pub fn key(&self) -> String {
        match &self.path {
            Some(path) => format!("{}/{path}", self.scope.as_str()),
            None => format!(
                "{}/{}/{}",
                self.scope.as_str(),
                self.members.first().map_or(0, |m| m.output),
                self.members
                    .first()
                    .map(|m| m.component.to_string())
                    .unwrap_or_default()
            ),
        }
    }

    /// The components, in order.
    pub fn components(&self) -> impl Iterator<Item = &ComponentId> {
        self.members.iter().map(|m| &m.component)
    }
}

/// The units of a request and what could not be expressed.
#[derive(Debug, Default)]
pub struct Plan {
    /// Units in a deterministic order.
    pub units: Vec<Unit>,
    /// Components left out, with the reason.
    pub omissions: Vec<Omission>,
    /// Warnings for omissions the user did not ask for, and planning errors.
    pub diagnostics: Diagnostics,
}

/// The profile as templates see it.
#[derive(Serialize)]
struct ProfileView<'a> {
    name: &'a str,
    /// The tools the profile builds.
    tools: Vec<&'a str>,
    /// For each of them, the scopes built (`global`, `project`).
    scopes: BTreeMap<&'a str, Vec<&'static str>>,
}

/// The scopes a profile builds for a tool.
fn built_scopes(scope: Option<ToolScope>) -> Vec<BuildScope> {
    match scope {
        Some(ToolScope::Global) => vec![BuildScope::Global],
        Some(ToolScope::Project) => vec![BuildScope::Project],
        Some(ToolScope::Both) | None => BuildScope::ALL.to_vec(),
    }
}

fn base_context(request: &EmitRequest<'_>, scope: BuildScope) -> BTreeMap<&'static str, Value> {
    let scopes = request
        .profile
        .tools
        .iter()
        .map(|(tool, settings)| {
            let built: Vec<&'static str> = built_scopes(settings.scope)
                .into_iter()
                .map(BuildScope::as_str)
                .collect();
            (tool.as_str(), built)
        })
        .collect();
    let profile = ProfileView {
        name: &request.profile.name,
        tools: request.profile.tools.keys().map(String::as_str).collect(),
        scopes,
    };
    BTreeMap::from([
        ("profile", Value::from(Serde(&profile))),
        ("tool", Value::from(request.tool.spec.name.clone())),
        ("scope", Value::from(scope.as_str())),
    ])
}

/// One output of another tool of the profile that provides a capability.
struct Provision<'a> {
    tool: &'a str,
    kind: ComponentKind,
    scope: BuildScope,
    capability: &'a Capability,
    /// The scopes the profile builds for that tool.
    built: Vec<BuildScope>,
}

/// What the profile's other tools provide: every output of theirs with `provides`.
fn provisions<'a>(request: &EmitRequest<'a>) -> Vec<Provision<'a>> {
    let own = request.tool.spec.name.as_str();
    let mut out = Vec::new();
    for (tool, settings) in &request.profile.tools {
        if tool == own {
            continue;
        }
        let Some(definition) = request.registry.get(tool) else {
            continue;
        };
        for output in &definition.spec.outputs {
            for capability in &output.provides {
                out.push(Provision {
                    tool: tool.as_str(),
                    kind: output.kind,
                    scope: output.scope,
                    capability,
                    built: built_scopes(settings.scope),
                });
            }
        }
    }
    out
}

/// The tools output `index` yields `component` to in `scope` (sorted, no repeats): those that
/// provide the output's `yields_to` capability for it — in any scope they build, or, by
/// default, in this scope where the component lands for them: the first scope their
/// placement tries (a component for any scope, with both scopes built, goes to the global
/// scope first). Whether the provider's own `when` takes the component is not asked.
fn yielded_to<'a>(
    tool: &kiln_model::ToolSpec,
    index: usize,
    provisions: &[Provision<'a>],
    component: &Component,
    selected: &Selected,
    scope: BuildScope,
) -> Vec<&'a str> {
    let Some(yields) = &tool.outputs[index].yields_to else {
        return Vec::new();
    };
    let tools: BTreeSet<&str> = provisions
        .iter()
        .filter(|p| p.capability == yields.capability() && p.kind == component.id.kind)
        .filter(|p| {
            yields.any_scope()
                || (p.scope == scope
                    && placements(component, selected, &p.built).iter().any(
                        |(scopes, fallback)| {
                            if *fallback {
                                scopes.first() == Some(&scope)
                            } else {
                                scopes.contains(&scope)
                            }
                        },
                    ))
        })
        .map(|p| p.tool)
        .collect();
    tools.into_iter().collect()
}

fn render_variables(request: &EmitRequest<'_>, scope: BuildScope) -> RenderVariables {
    RenderVariables {
        variables: request
            .profile
            .variables
            .iter()
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect(),
        profile: request.profile.name.clone(),
        tool: request.tool.spec.name.clone(),
        scope: scope.as_str().to_string(),
    }
}

fn allowed_for_tool(component: &Component, tool: &str) -> bool {
    // A settings fragment belongs to the one tool it names.
    if let kiln_core::library::ComponentSpec::Settings(settings) = &component.spec
        && settings.tool != tool
    {
        return false;
    }
    match &component.meta.targets {
        None => true,
        Some(filter) => {
            (filter.allow.is_empty() || filter.allow.iter().any(|t| t == tool))
                && !filter.deny.iter().any(|t| t == tool)
        }
    }
}

fn rule_output(component: &Component, tool: &str) -> Option<RuleOutput> {
    component
        .rule_fields()
        .and_then(|rule| rule.output.get(tool).copied())
}

/// Decides which outputs each selected component goes to: the first output of its kind and
/// scope whose `when` accepts it, and the next ones too while outputs say
/// `continue_matching`. A component for any scope, when both scopes are built, goes to the
/// global scope if an output there takes it and to the project otherwise — never both, so no
/// tool loads it twice. A component no output accepts is an omission, with the output's
/// (templated) `unsupported` reason; kinds a tool has no outputs for at all give one warning
/// per kind.
pub fn plan(request: &EmitRequest<'_>) -> Plan {
    let mut plan = Plan::default();
    let tool = &request.tool.spec;
    let mut aggregates: BTreeMap<(BuildScope, String), (Strategy, Vec<Member>)> = BTreeMap::new();
    let mut singles: Vec<Unit> = Vec::new();
    let mut unsupported_kinds: BTreeMap<ComponentKind, Vec<String>> = BTreeMap::new();
    let contexts: BTreeMap<BuildScope, BTreeMap<&'static str, Value>> = request
        .scopes
        .iter()
        .map(|scope| (*scope, base_context(request, *scope)))
        .collect();
    let provisions = provisions(request);
    for selected in &request.selection.components {
        let component = &request.library.components[&selected.id];
        if component.id.kind == ComponentKind::Context || !allowed_for_tool(component, &tool.name) {
            continue;
        }
        let placements = placements(component, selected, &request.scopes);
        if placements.is_empty() {
            continue;
        }
        if rule_output(component, &tool.name) == Some(RuleOutput::None) {
            plan.omissions.push(Omission {
                component: component.id.to_string(),
                scope: placements[0].0[0],
                reason: format!("its `output` for {} is `none`", tool.name),
            });
            continue;
        }
        if !tool.outputs.iter().any(|o| o.kind == component.id.kind) {
            unsupported_kinds
                .entry(component.id.kind)
                .or_default()
                .push(component.id.to_string());
            for (scopes, _) in &placements {
                plan.omissions.push(Omission {
                    component: component.id.to_string(),
                    scope: scopes[0],
                    reason: kind_reason(tool, component.id.kind),
                });
            }
            continue;
        }
        let component_view = view(component, tool, String::new());
        for (scopes, fallback) in placements {
            let mut last_reason = None;
            for scope in scopes {
                let mut context = contexts[&scope].clone();
                context.insert("component", Value::from(Serde(&component_view)));
                let candidate = Candidate {
                    component,
                    selected,
                    scope,
                    provisions: &provisions,
                };
                match choose_outputs(request, &candidate, &context, &component_view) {
                    Ok(chosen) => {
                        for index in chosen {
                            place(
                                request,
                                &mut plan,
                                &mut singles,
                                &mut aggregates,
                                scope,
                                index,
                                component,
                                &context,
                                &component_view,
                            );
                        }
                        last_reason = None;
                        if fallback {
                            break;
                        }
                    }
                    Err(reason) => last_reason = Some((scope, reason)),
                }
            }
            if let Some((scope, reason)) = last_reason {
                omit(&mut plan, component, scope, reason, &tool.name);
            }
        }
    }
    for (kind, components) in unsupported_kinds {
        let count = components.len();
        let listed = components
            .iter()
            .take(5)
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let more = if count > 5 {
            format!(" and {} more", count - 5)
        } else {
            String::new()
        };
        plan.diagnostics.push(Diagnostic::warning(
            "kiln::emit::not_expressible",
            format!(
                "{} cannot express {count} selected {} ({listed}{more}): {}",
                tool.name,
                if count == 1 {
                    kind.as_str().to_string()
                } else {
                    kind.folder().to_string()
                },
                kind_reason(tool, kind)
            ),
        ));
    }
    plan.units = singles;
    for ((scope, path), (strategy, members)) in aggregates {
        plan.units.push(Unit {
            scope,
            strategy,
            path: Some(path),
            members,
        });
    }
    plan.units.sort();
    plan
}

fn kind_reason(tool: &kiln_model::ToolSpec, kind: ComponentKind) -> String {
    tool.unsupported
        .get(&kind)
        .cloned()
        .unwrap_or_else(|| format!("{} has no {}", tool.name, kind.folder()))
}

/// Where a component may go: groups of scopes, each either tried in order until one takes it
/// (`true`) or a single scope.
fn placements(
    component: &Component,
    selected: &Selected,
    built: &[BuildScope],
) -> Vec<(Vec<BuildScope>, bool)> {
    let as_scope = |scope: BuildScope| match scope {
        BuildScope::Global => Scope::Global,
        BuildScope::Project => Scope::Project,
    };
    let declared = component.meta.scope.unwrap_or(Scope::Any);
    let selected_any = selected.scopes.is_empty() || selected.scopes.contains(&Scope::Any);
    let allowed: Vec<BuildScope> = built
        .iter()
        .copied()
        .filter(|scope| declared == Scope::Any || declared == as_scope(*scope))
        .filter(|scope| selected_any || selected.scopes.contains(&as_scope(*scope)))
        .collect();
    if declared == Scope::Any && selected_any && allowed.len() > 1 {
        let mut ordered = allowed;
        ordered.sort(); // global first
        vec![(ordered, true)]
    } else {
        allowed
            .into_iter()
            .map(|scope| (vec![scope], false))
            .collect()
    }
}

/// A component tried in one scope, with what the profile's other tools provide.
struct Candidate<'a, 'p> {
    component: &'a Component,
    selected: &'a Selected,
    scope: BuildScope,
    provisions: &'a [Provision<'p>],
}

/// The outputs that take a component in one scope, or why none does. An output takes it
/// when its `when` accepts it and no other tool of the profile provides what it yields to;
/// its `when` and `unsupported` see those tools as `yielded_to`. The reason is the
/// `unsupported` of the first output that yielded the component, else of the last output
/// that has one.
fn choose_outputs(
    request: &EmitRequest<'_>,
    candidate: &Candidate<'_, '_>,
    context: &BTreeMap<&'static str, Value>,
    component_view: &ComponentView,
) -> Result<Vec<usize>, String> {
    let Candidate {
        component,
        selected,
        scope,
        provisions,
    } = *candidate;
    let tool = &request.tool.spec;
    let context_of = |index: usize| {
        let yielded = yielded_to(tool, index, provisions, component, selected, scope);
        let mut context = context.clone();
        context.insert("yielded_to", Value::from(Serde(&yielded)));
        (context, !yielded.is_empty())
    };
    let candidates: Vec<usize> = tool
        .outputs
        .iter()
        .enumerate()
        .filter(|(_, o)| o.kind == component.id.kind && o.scope == scope)
        .map(|(index, _)| index)
        .collect();
    if candidates.is_empty() {
        return Err(format!(
            "{} has no {} in {} scope",
            tool.name,
            component.id.kind.folder(),
            scope.as_str()
        ));
    }
    let mut chosen = Vec::new();
    // The output that would have taken the component but yielded it gives the reason.
    let mut yielding = None;
    for index in &candidates {
        let (context, yielded) = context_of(*index);
        match when_matches(request.tool, *index, &context, component_view) {
            Ok(true) if yielded => {
                if tool.outputs[*index].unsupported.is_some() {
                    yielding = yielding.or(Some(*index));
                }
            }
            Ok(true) => {
                chosen.push(*index);
                if !tool.outputs[*index].continue_matching {
                    break;
                }
            }
            Ok(false) => {}
            Err(diagnostic) => return Err(diagnostic.message),
        }
    }
    if !chosen.is_empty() {
        return Ok(chosen);
    }
    let reason = yielding
        .as_ref()
        .or_else(|| {
            candidates
                .iter()
                .rev()
                .find(|index| tool.outputs[**index].unsupported.is_some())
        })
        .map(|index| {
            render_named(
                request.tool,
                &format!("unsupported:{index}"),
                &context_of(*index).0,
                &component_view.reference,
            )
        })
        .transpose()
        .unwrap_or_else(|diagnostic| Some(diagnostic.message))
        .map(|reason| reason.trim().to_string())
        .unwrap_or_else(|| {
            format!(
                "no {} output of {} accepts it",
                component.id.kind, tool.name
            )
        });
    Err(reason)
}

#[allow(clippy::too_many_arguments)] // the planner's state, threaded through one helper
fn place(
    request: &EmitRequest<'_>,
    plan: &mut Plan,
    singles: &mut Vec<Unit>,
    aggregates: &mut BTreeMap<(BuildScope, String), (Strategy, Vec<Member>)>,
    scope: BuildScope,
    index: usize,
    component: &Component,
    context: &BTreeMap<&'static str, Value>,
    component_view: &ComponentView,
) {
    let tool = &request.tool.spec;
    let strategy = tool.outputs[index].strategy;
    let member = Member {
        component: component.id.clone(),
        output: index,
    };
    match strategy {
        Strategy::FilePerComponent | Strategy::CopyTree => {
            singles.push(Unit {
                scope,
                strategy,
                path: None,
                members: vec![member],
            });
        }
        Strategy::Concat | Strategy::JsonMerge | Strategy::TomlMerge => {
            let path = match output_path(request.tool, index, context, &component_view.reference) {
                Ok(path) => path,
                Err(diagnostic) => {
                    plan.diagnostics.push(diagnostic);
                    return;
                }
            };
            let group = aggregates
                .entry((scope, path.clone()))
                .or_insert_with(|| (strategy, Vec::new()));
            if let Some(problem) = incompatible(tool, group, strategy, index) {
                plan.diagnostics.push(
                    Diagnostic::error(
                        "kiln::tool::shared_path",
                        format!(
                            "tool `{}`: outputs write `{path}` in incompatible ways: {problem}",
                            tool.name
                        ),
                    )
                    .in_file(format!("tools/{}/tool.json", tool.name)),
                );
                return;
            }
            group.1.push(member);
        }
    }
}

/// Outputs sharing a file must agree: concat members come from outputs with one template,
/// merge members all merge JSON or all TOML.
fn incompatible(
    tool: &kiln_model::ToolSpec,
    group: &(Strategy, Vec<Member>),
    strategy: Strategy,
    output: usize,
) -> Option<String> {
    let (group_strategy, members) = group;
    if *group_strategy != strategy {
        return Some(format!("{group_strategy:?} and {strategy:?}"));
    }
    let first = members.first()?.output;
    (strategy == Strategy::Concat && tool.outputs[first].template != tool.outputs[output].template)
        .then(|| format!("outputs {first} and {output} concatenate with different templates"))
}

fn omit(plan: &mut Plan, component: &Component, scope: BuildScope, reason: String, tool: &str) {
    plan.diagnostics.push(
        Diagnostic::warning(
            "kiln::emit::not_expressible",
            format!(
                "`{}` is not emitted for {tool} ({} scope): {reason}",
                component.id,
                scope.as_str()
            ),
        )
        .in_file(component.source.clone()),
    );
    plan.omissions.push(Omission {
        component: component.id.to_string(),
        scope,
        reason,
    });
}

fn when_matches(
    tool: &ToolDefinition,
    output: usize,
    context: &BTreeMap<&'static str, Value>,
    component: &ComponentView,
) -> Result<bool, Diagnostic> {
    if tool.spec.outputs[output].when.is_none() {
        return Ok(true);
    }
    // `context` holds the component already (serialising its view again per output was a
    // tenth of planning).
    debug_assert!(context.contains_key("component"));
    render_named(
        tool,
        &format!("when:{output}"),
        context,
        &component.reference,
    )
    .map(|text| text == "1")
}

fn render_named(
    tool: &ToolDefinition,
    name: &str,
    context: &BTreeMap<&'static str, Value>,
    subject: &str,
) -> Result<String, Diagnostic> {
    let template = tool
        .environment
        .get_template(name)
        .map_err(|error| template_error(tool, name, subject, &error))?;
    crate::limits::render_bounded(&template, context)
        .map_err(|error| template_error(tool, name, subject, &error))
}

fn template_error(
    tool: &ToolDefinition,
    name: &str,
    subject: &str,
    error: &minijinja::Error,
) -> Diagnostic {
    let detail = error
        .detail()
        .map_or_else(|| error.kind().to_string(), str::to_string);
    let diagnostic = Diagnostic::error(
        if crate::limits::is_limit(error) {
            "kiln::emit::template_limit"
        } else {
            "kiln::emit::template"
        },
        format!(
            "tool `{}`: template `templates/{name}` failed for `{subject}`: {detail}",
            tool.spec.name
        ),
    )
    .in_file(format!("tools/{}/tool.json", tool.spec.name));
    if crate::limits::is_limit(error) {
        diagnostic.help(crate::limits::HINT)
    } else {
        diagnostic
    }
}

/// The library files a unit's output depends on: each component's files (for skills, every
/// asset) and, transitively, the context fragments its templates include. Sorted.
pub fn unit_inputs(library: &Library, unit: &Unit) -> Vec<String> {
    let mut files = BTreeSet::new();
    let mut queue: Vec<ComponentId> = unit.components().cloned().collect();
    let mut seen = BTreeSet::new();
    while let Some(id) = queue.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        let Some(component) = library.components.get(&id) else {
            continue;
        };
        files.insert(component.source.clone());
        files.insert(component.meta_source.clone());
        if unit.strategy == Strategy::CopyTree {
            files.extend(component.assets.iter().cloned());
        }
        for dependency in library.dependencies(&id) {
            if dependency.kind == kiln_core::graph::EdgeKind::Include {
                queue.push(dependency.target.clone());
            }
        }
    }
    files.into_iter().collect()
}

/// Emits one unit.
pub fn emit_unit(request: &EmitRequest<'_>, unit: &Unit) -> Result<Vec<Artifact>, Diagnostics> {
    let first = unit.members.first().map_or(0, |m| m.output);
    let output = &request.tool.spec.outputs[first];
    let context = base_context(request, unit.scope);
    let vars = render_variables(request, unit.scope);
    let mut views = Vec::with_capacity(unit.members.len());
    let mut errors = Diagnostics::new();
    for id in unit.components() {
        let component = &request.library.components[id];
        match render_body(request.library, component, &vars) {
            Ok(body) => views.push(view(component, &request.tool.spec, body)),
            Err(diagnostic) => errors.push(diagnostic),
        }
    }
    if errors.has_errors() {
        return Err(errors);
    }
    let sources = unit_inputs(request.library, unit);
    let mode = output
        .mode
        .as_deref()
        .and_then(|m| u32::from_str_radix(m, 8).ok())
        .unwrap_or(0o644);
    let artifact = |path: String, bytes: Vec<u8>, mode: u32, verbatim: bool| Artifact {
        scope: unit.scope,
        path,
        bytes: Arc::from(bytes),
        mode,
        strategy: unit.strategy,
        components: unit.components().cloned().collect(),
        sources: sources.clone(),
        verbatim,
        merge: None,
        owned_keys: Vec::new(),
        link: None,
    };
    let one = |diagnostic: Diagnostic| Diagnostics::from_iter([diagnostic]);
    match unit.strategy {
        Strategy::FilePerComponent => {
            let view = &views[0];
            let mut context = context.clone();
            context.insert("component", Value::from(Serde(view)));
            let path = output_path(request.tool, first, &context, &view.reference).map_err(one)?;
            let name = output.template.as_deref().unwrap_or_default();
            let text = normalize(
                &render_named(request.tool, name, &context, &view.reference).map_err(one)?,
            );
            let component = &request.library.components[&unit.members[0].component];
            let verbatim = request
                .library
                .source(&component.source)
                .is_some_and(|s| *s.text == *text);
            Ok(vec![artifact(path, text.into_bytes(), mode, verbatim)])
        }
        Strategy::Concat => {
            let mut context = context.clone();
            context.insert("components", Value::from(Serde(&views)));
            let path = unit.path.clone().unwrap_or_default();
            let name = output.template.as_deref().unwrap_or_default();
            let text = normalize(&render_named(request.tool, name, &context, &path).map_err(one)?);
            Ok(vec![artifact(path, text.into_bytes(), mode, false)])
        }
        Strategy::CopyTree => copy_tree(request, unit, output, &views[0], &context, &artifact),
        Strategy::JsonMerge | Strategy::TomlMerge => {
            merge(request, unit, &views, &context, &artifact)
        }
    }
}

/// LF line endings and exactly one trailing newline.
fn normalize(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    format!("{}\n", text.trim_end_matches('\n'))
}

fn output_path(
    tool: &ToolDefinition,
    output: usize,
    context: &BTreeMap<&'static str, Value>,
    subject: &str,
) -> Result<String, Diagnostic> {
    let path = render_named(tool, &format!("path:{output}"), context, subject)?;
    check_relative(&path).map_err(|problem| {
        Diagnostic::error(
            "kiln::emit::bad_path",
            format!(
                "tool `{}` output {output} gives path `{path}` for `{subject}`: {problem}",
                tool.spec.name
            ),
        )
        .in_file(format!("tools/{}/tool.json", tool.spec.name))
    })?;
    Ok(path)
}

/// An output path must stay inside its scope root.
pub fn check_relative(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("it is empty");
    }
    if path.starts_with('/')
        || path.contains('\\')
        || path.contains(':') && path.chars().nth(1) == Some(':')
    {
        return Err("it is absolute");
    }
    if path.contains('\0') {
        return Err("it contains a NUL byte");
    }
    for segment in path.split('/') {
        match segment {
            "" => return Err("it has an empty segment"),
            "." | ".." => return Err("it has a `.` or `..` segment"),
            _ => {}
        }
    }
    Ok(())
}

fn observation_footer(request: &EmitRequest<'_>, skill: &str) -> Option<String> {
    let observation = request.profile.observation.as_ref()?;
    let threshold = observation.threshold.unwrap_or(0.3);
    let minimum = observation.min_invocations.unwrap_or(5);
    let percent = (threshold * 100.0).round();
    let review = format!(
        "kiln flags a skill for review when more than {percent}% of its signals are negative after at least {minimum} invocations."
    );
    match observation.mode {
        ObservationMode::Off => None,
        ObservationMode::Remind => Some(format!(
            "\n---\n\n<!-- kiln:observation mode=remind -->\nAfter using this skill, record how it went: run `kiln observe {skill} --signal positive` or `kiln observe {skill} --signal negative --note \"<what went wrong>\"`. {review}\n"
        )),
        ObservationMode::Auto => Some(format!(
            "\n---\n\n<!-- kiln:observation mode=auto -->\nBefore relying on this skill, run `kiln log {skill} --summary` to read what earlier sessions noted. After using it, record how it went: run `kiln observe {skill} --signal positive` or `kiln observe {skill} --signal negative --note \"<what went wrong>\"`. {review}\n"
        )),
    }
}

fn copy_tree(
    request: &EmitRequest<'_>,
    unit: &Unit,
    output: &OutputSpec,
    view: &ComponentView,
    context: &BTreeMap<&'static str, Value>,
    artifact: &dyn Fn(String, Vec<u8>, u32, bool) -> Artifact,
) -> Result<Vec<Artifact>, Diagnostics> {
    let member = &unit.members[0];
    let component = &request.library.components[&member.component];
    let mut context = context.clone();
    context.insert("component", Value::from(Serde(view)));
    let one = |diagnostic: Diagnostic| Diagnostics::from_iter([diagnostic]);
    let folder =
        output_path(request.tool, member.output, &context, &view.reference).map_err(one)?;
    let source = request.library.source(&component.source).ok_or_else(|| {
        one(Diagnostic::error(
            "kiln::emit::missing_source",
            format!("`{}` has no source text", component.source),
        ))
    })?;
    let mut skill_md = match &output.template {
        Some(name) => {
            normalize(&render_named(request.tool, name, &context, &view.reference).map_err(one)?)
        }
        None if component.template.is_some() => {
            let (_, body_offset) = component
                .body
                .as_ref()
                .map_or((None, 0), |(b, o)| (Some(b), *o));
            format!("{}{}", &source.text[..body_offset], view.body)
        }
        None => source.text.to_string(),
    };
    if let Some(footer) = observation_footer(request, &view.name) {
        skill_md = format!("{}\n{footer}", skill_md.trim_end_matches('\n'));
    }
    let verbatim = *skill_md == *source.text;
    let mut artifacts = vec![Artifact {
        sources: vec![component.source.clone()],
        ..artifact(
            format!("{folder}/SKILL.md"),
            skill_md.into_bytes(),
            0o644,
            verbatim,
        )
    }];
    let root = component
        .source
        .strip_suffix("SKILL.md")
        .unwrap_or(&component.source);
    let mut errors = Diagnostics::new();
    // Folder links of the skill already written (their files are not copied a second time).
    let mut folder_links = BTreeSet::new();
    for asset in &component.assets {
        if let Some((link, text)) = request.library.asset_folder_link(asset, root) {
            if folder_links.insert(link.clone()) {
                let relative = link.strip_prefix(root).unwrap_or(&link);
                // dist holds the link's text; deploy makes the link.
                artifacts.push(Artifact {
                    sources: vec![link.clone()],
                    link: Some(text.clone()),
                    ..artifact(
                        format!("{folder}/{relative}"),
                        text.into_bytes(),
                        0o644,
                        true,
                    )
                });
            }
            continue;
        }
        let relative = asset.strip_prefix(root).unwrap_or(asset);
        match request.library.read_asset(asset) {
            Ok((bytes, mode)) => artifacts.push(Artifact {
                sources: vec![asset.clone()],
                link: request.library.asset_link(asset, root),
                ..artifact(format!("{folder}/{relative}"), bytes, mode, true)
            }),
            Err(error) => errors.push(
                Diagnostic::error(
                    "kiln::emit::read_asset",
                    format!("failed to read `{asset}`: {error}"),
                )
                .in_file(asset.clone()),
            ),
        }
    }
    if errors.has_errors() {
        Err(errors)
    } else {
        Ok(artifacts)
    }
}

fn merge(
    request: &EmitRequest<'_>,
    unit: &Unit,
    views: &[ComponentView],
    context: &BTreeMap<&'static str, Value>,
    artifact: &dyn Fn(String, Vec<u8>, u32, bool) -> Artifact,
) -> Result<Vec<Artifact>, Diagnostics> {
    let tool = request.tool;
    let mut errors = Diagnostics::new();
    let mut document = serde_json::Value::Object(serde_json::Map::new());
    let mut owned = BTreeSet::new();
    let mut names_seen: BTreeMap<String, String> = BTreeMap::new();
    let path = unit.path.clone().unwrap_or_default();
    let mut jsonc = false;
    let mut bases = BTreeSet::new();
    // Spread members first: a settings component sets whole keys (`permissions`), which list
    // outputs then add to (`permissions.deny`), whatever order the outputs are declared in.
    let mut order: Vec<(&Member, &ComponentView)> = unit.members.iter().zip(views).collect();
    order.sort_by_key(|(member, _)| tool.spec.outputs[member.output].collect != Collect::Spread);
    for (member, view) in order {
        let output = &tool.spec.outputs[member.output];
        jsonc |= output.jsonc;
        if let Some(base) = &output.base
            && bases.insert(member.output)
            && let serde_json::Value::Object(members) = base
        {
            for (key, value) in members {
                deep_insert(&mut document, key, value.clone());
                owned.insert(format!("/{}", escape_pointer(key)));
            }
        }
        let template = output.template.as_deref().unwrap_or_default();
        let mut context = context.clone();
        context.insert("component", Value::from(Serde(view)));
        let entry = render_named(tool, template, &context, &view.reference).and_then(|text| {
            serde_json::from_str::<serde_json::Value>(&text).map_err(|error| {
                Diagnostic::error(
                    "kiln::emit::bad_entry",
                    format!(
                        "tool `{}` template `{template}` gave invalid JSON for `{}`: {error}",
                        tool.spec.name, view.reference
                    ),
                )
                .in_file(format!("tools/{}/templates/{template}", tool.spec.name))
            })
        });
        let key = match &output.key {
            Some(_) => render_named(
                tool,
                &format!("key:{}", member.output),
                &context,
                &view.reference,
            ),
            None => Ok(String::new()),
        };
        let name = match &output.name {
            Some(_) => render_named(
                tool,
                &format!("name:{}", member.output),
                &context,
                &view.reference,
            ),
            None => Ok(view.name.clone()),
        };
        let (entry, key, name) = match (entry, key, name) {
            (Ok(entry), Ok(key), Ok(name)) => (with_native(strip_nulls(entry), view), key, name),
            (entry, key, name) => {
                errors.extend([entry.err(), key.err(), name.err()].into_iter().flatten());
                continue;
            }
        };
        let segments: Vec<&str> = key.split('.').filter(|s| !s.is_empty()).collect();
        let mut pointer: String = segments
            .iter()
            .map(|s| format!("/{}", escape_pointer(s)))
            .collect();
        let table = table_at(&mut document, &segments);
        if output.collect == Collect::Spread {
            let serde_json::Value::Object(members) = entry else {
                errors.push(Diagnostic::error(
                    "kiln::emit::bad_entry",
                    format!(
                        "tool `{}` template `{template}` gave no JSON object for `{}`",
                        tool.spec.name, view.reference
                    ),
                ));
                continue;
            };
            for (member, value) in members {
                let at = format!("{pointer}/{}", escape_pointer(&member));
                let taken = names_seen.insert(at.clone(), view.reference.clone());
                let Some(map) = table.as_object_mut() else {
                    continue;
                };
                if taken.is_some() || map.contains_key(&member) {
                    let by = taken.unwrap_or_else(|| "another output".to_string());
                    errors.push(
                        Diagnostic::error(
                            "kiln::emit::duplicate_entry",
                            format!(
                                "`{by}` and `{}` both set `{member}` in {path}",
                                view.reference
                            ),
                        )
                        .help("set each key in one component only"),
                    );
                    continue;
                }
                map.insert(member, value);
                owned.insert(at);
            }
            continue;
        }
        match output.collect {
            Collect::Map => {
                pointer.push_str(&format!("/{}", escape_pointer(&name)));
                if let Some(previous) = names_seen.insert(pointer.clone(), view.reference.clone()) {
                    errors.push(
                        Diagnostic::error(
                            "kiln::emit::duplicate_entry",
                            format!(
                                "`{previous}` and `{}` both become `{name}` in {path}",
                                view.reference
                            ),
                        )
                        .help("give one of them a different `name`"),
                    );
                    continue;
                }
                if let serde_json::Value::Object(map) = table {
                    map.insert(name, entry);
                }
            }
            Collect::Spread => continue, // set member by member above
            Collect::List => {
                if !table.is_array() {
                    *table = serde_json::Value::Array(Vec::new());
                }
                if let serde_json::Value::Array(items) = table {
                    match entry {
                        // A template that gives a list adds each of its items once (ignore
                        // patterns as `permissions.deny` rules, beside a settings component's).
                        serde_json::Value::Array(more) => {
                            for item in more {
                                if !items.contains(&item) {
                                    items.push(item);
                                }
                            }
                        }
                        entry => items.push(entry),
                    }
                }
            }
        }
        owned.insert(pointer);
    }
    if errors.has_errors() {
        return Err(errors);
    }
    let one = |diagnostic: Diagnostic| Diagnostics::from_iter([diagnostic]);
    let (text, format) = match unit.strategy {
        Strategy::TomlMerge => (
            toml::to_string_pretty(&document).map_err(|error| {
                one(Diagnostic::error(
                    "kiln::emit::toml",
                    format!("cannot write `{path}` as TOML: {error}"),
                ))
            })?,
            MergeFormat::Toml,
        ),
        _ => (
            serde_json::to_string_pretty(&document).unwrap_or_default() + "\n",
            if jsonc {
                MergeFormat::Jsonc
            } else {
                MergeFormat::Json
            },
        ),
    };
    Ok(vec![Artifact {
        merge: Some(format),
        owned_keys: owned.into_iter().collect(),
        ..artifact(path, text.into_bytes(), 0o644, false)
    }])
}

/// An MCP server's entry with the component's `native` keys for this tool added (they win
/// over what the template wrote: they are the tool's own spelling).
fn with_native(mut entry: serde_json::Value, view: &ComponentView) -> serde_json::Value {
    if let (Some(server), serde_json::Value::Object(map)) = (&view.mcp, &mut entry) {
        for (key, value) in &server.native {
            map.insert(key.clone(), value.clone());
        }
    }
    if let Some(hook) = view.hook.as_ref().filter(|h| !h.native.is_empty()) {
        // The handler: inside a matcher group (`{"matcher", "hooks": [handler]}`: Claude Code,
        // Codex, Gemini CLI), or the entry itself (a flat list of handlers).
        let handler = match entry.get_mut("hooks").and_then(|h| h.get_mut(0)) {
            Some(handler) => handler,
            None => &mut entry,
        };
        if let serde_json::Value::Object(map) = handler {
            for (key, value) in &hook.native {
                map.insert(key.clone(), value.clone());
            }
        }
    }
    entry
}

/// Sets `document[key]`, merging objects.
fn deep_insert(document: &mut serde_json::Value, key: &str, value: serde_json::Value) {
    if let serde_json::Value::Object(map) = document {
        match map.get_mut(key) {
            Some(existing) => kiln_core::profile::deep_merge(existing, &value),
            None => {
                map.insert(key.to_string(), value);
            }
        }
    }
}

fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// The object at `segments` below `document`, created as needed.
fn table_at<'a>(
    document: &'a mut serde_json::Value,
    segments: &[&str],
) -> &'a mut serde_json::Value {
    let mut current = document;
    for segment in segments {
        if !current.is_object() {
            *current = serde_json::Value::Object(serde_json::Map::new());
        }
        let serde_json::Value::Object(map) = current else {
            unreachable!("made an object above")
        };
        current = map
            .entry((*segment).to_string())
            .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
    }
    current
}

/// Removes `null` members (templates write optional fields as `{{ x | tojson }}`).
fn strip_nulls(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(strip_nulls).collect())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two tools that exist only as data: `writer` provides `shared-file` in its project
    /// rules output, `reader` yields to it there (where the component lands) and, with
    /// `any_scope`, in its hooks-free second output for manual rules.
    fn yield_library(tools: &str) -> kiln_core::Library {
        let writer = r#"{ "name": "writer", "outputs": [
            { "kind": "rule", "scope": "global", "strategy": "concat", "path": "G.md", "template": "all.j2" },
            { "kind": "rule", "scope": "project", "strategy": "concat", "path": "SHARED.md", "template": "all.j2", "provides": ["shared-file"] }
        ] }"#;
        let reader = r#"{ "name": "reader", "outputs": [
            { "kind": "rule", "scope": "project", "strategy": "file-per-component", "path": "r/{{ component.joined }}.md",
              "template": "one.j2", "when": "component.rule.activation == 'always'", "yields_to": "shared-file",
              "unsupported": "left to {{ yielded_to | join(', ') }}" },
            { "kind": "rule", "scope": "project", "strategy": "file-per-component", "path": "m/{{ component.joined }}.md",
              "template": "one.j2", "when": "component.rule.activation == 'manual'",
              "yields_to": { "capability": "shared-file", "any_scope": true },
              "unsupported": "{% if yielded_to %}anywhere: {{ yielded_to | join(', ') }}{% else %}not manual{% endif %}" }
        ] }"#;
        let rule = |scope: &str, activation: &str| {
            format!("---\ndescription: d\nscope: {scope}\nactivation: {activation}\n---\n\nBody.\n")
        };
        let files = vec![
            ("tools/writer/tool.json".to_string(), writer.to_string()),
            (
                "tools/writer/templates/all.j2".to_string(),
                "{% for c in components %}{{ c.body }}{% endfor %}".to_string(),
            ),
            ("tools/reader/tool.json".to_string(), reader.to_string()),
            (
                "tools/reader/templates/one.j2".to_string(),
                "{{ component.body }}".to_string(),
            ),
            (
                "components/rules/in-project.rule.md".to_string(),
                rule("project", "always"),
            ),
            (
                "components/rules/anywhere.rule.md".to_string(),
                rule("any", "always"),
            ),
            (
                "components/rules/by-hand.rule.md".to_string(),
                rule("project", "manual"),
            ),
            (
                "profiles/p.profile.json".to_string(),
                format!(
                    "{{ \"name\": \"p\", \"rules\": {{ \"include\": [\"**\"] }}, \"tools\": {{ {tools} }} }}\n"
                ),
            ),
        ];
        let loaded = kiln_core::Library::from_memory("version = 1\n", files);
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        loaded.library
    }

    /// `(component, reason)` of every omission of `reader`, and the paths it writes.
    fn reader_plan(tools: &str) -> (Vec<(String, String)>, Vec<String>) {
        let library = yield_library(tools);
        let (registry, problems) = ToolRegistry::for_library(&library);
        assert!(problems.is_empty(), "{problems:?}");
        let profile = kiln_core::profile::resolve_profile(&library, "p", &[]).expect("resolves");
        let (selection, _) = kiln_core::selection::select(&library, &profile);
        let selection = selection.expect("selects");
        let request = EmitRequest {
            library: &library,
            profile: &profile,
            selection: &selection,
            tool: registry.get("reader").expect("reader"),
            scopes: BuildScope::ALL.to_vec(),
            registry: &registry,
        };
        let plan = plan(&request);
        let omissions = plan
            .omissions
            .iter()
            .filter(|o| o.scope == BuildScope::Project)
            .map(|o| (o.component.clone(), o.reason.clone()))
            .collect();
        let written = plan
            .units
            .iter()
            .flat_map(|u| u.components().map(ToString::to_string))
            .collect();
        (omissions, written)
    }

    #[test]
    fn outputs_yield_where_another_tool_provides_the_capability() {
        let project = |name: &str| (format!("rule:{name}"), "left to writer".to_string());
        // writer builds both scopes: a rule for any scope goes to its global file, so only
        // the project-scoped rule is in SHARED.md.
        let (omitted, written) = reader_plan(r#""reader": {}, "writer": {}"#);
        let by_hand = ("rule:by-hand".to_string(), "anywhere: writer".to_string());
        assert_eq!(
            omitted,
            [by_hand.clone(), project("in-project")],
            "{omitted:?}"
        );
        assert!(
            written.contains(&"rule:anywhere".to_string()),
            "{written:?}"
        );
        // writer builds only the project: every rule lands in SHARED.md.
        let (omitted, written) = reader_plan(r#""reader": {}, "writer": { "scope": "project" }"#);
        assert!(omitted.contains(&project("anywhere")), "{omitted:?}");
        assert!(omitted.contains(&project("in-project")), "{omitted:?}");
        assert!(
            !written
                .iter()
                .any(|w| w.ends_with("anywhere") || w.ends_with("in-project"))
        );
        // writer builds only the global scope: nothing lands in its project file, but the
        // any-scope yield of manual rules still counts.
        let (omitted, written) = reader_plan(r#""reader": {}, "writer": { "scope": "global" }"#);
        assert_eq!(omitted, [by_hand], "{omitted:?}");
        assert!(
            written.contains(&"rule:in-project".to_string()),
            "{written:?}"
        );
        // Without writer nothing yields; a tool never yields to itself.
        let (omitted, written) = reader_plan(r#""reader": {}"#);
        assert!(omitted.is_empty(), "{omitted:?}");
        assert_eq!(written.len(), 3, "{written:?}");
    }

    #[test]
    fn output_paths_stay_inside_the_root() {
        assert!(check_relative(".claude/skills/x/SKILL.md").is_ok());
        for bad in ["", "/etc/passwd", "a/../b", "a//b", "./a", "C:/x", "a\\b"] {
            assert!(check_relative(bad).is_err(), "{bad}");
        }
    }
}
