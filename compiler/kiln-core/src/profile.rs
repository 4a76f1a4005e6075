//! Profile resolution: the ordered, diamond-safe `extends` chain merged into one
//! [`Profile`].
//!
//! The chain is linearised depth first: every parent (in the order listed, each with its own
//! ancestors first) comes before the profile, and a profile reached twice (a diamond) appears
//! once, at its first place. Merging walks that order, so later entries win: a later parent
//! over an earlier one, the child over all.

use std::collections::{BTreeMap, BTreeSet};

use kiln_model::{ComponentKind, ObservationSpec, ProfileSpec, ProfileToolSpec};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::diagnostic::{Diagnostic, Diagnostics, did_you_mean};
use crate::library::Library;
use crate::source::Format;

/// What a pattern does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PatternRole {
    /// Selects components.
    Include,
    /// Removes components.
    Exclude,
    /// Selects MCP servers for global scope (`mcp.global`).
    Global,
    /// Selects MCP servers for project scope (`mcp.local_templates`).
    LocalTemplates,
}

/// One include/exclude pattern with where it was written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Pattern {
    /// The pattern as written: a glob, a plain id or `tag:NAME`.
    pub text: String,
    /// What it does.
    pub role: PatternRole,
    /// The profile that wrote it.
    pub profile: String,
    /// That profile's file.
    #[serde(skip)]
    pub source: String,
    /// JSON pointer of the pattern in that file.
    #[serde(skip)]
    pub pointer: String,
}

/// A variable's effective value and the layer that set it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Variable {
    /// The value (objects are deep-merged across layers).
    pub value: Value,
    /// Who set it last: `kiln.toml`, `profile <name>` or a machine configuration layer.
    pub origin: String,
}

/// A resolved profile.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Profile {
    /// The profile's name.
    pub name: String,
    /// Its description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The linearised chain, ancestors first, the profile last.
    pub chain: Vec<String>,
    /// Include and exclude patterns per kind, along the chain.
    #[serde(skip)]
    pub patterns: BTreeMap<ComponentKind, Vec<Pattern>>,
    /// Tools built for this profile, with their merged settings.
    pub tools: BTreeMap<String, ProfileToolSpec>,
    /// Effective variables.
    pub variables: BTreeMap<String, Variable>,
    /// Skill observation settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observation: Option<ObservationSpec>,
}

/// A layer of variables from the machine configuration: its label and its variables.
pub type VariableLayer = (String, Map<String, Value>);

/// Resolves profile `name`. Library variables come first, then the chain, then
/// `machine_variables` (layers of the machine configuration, which override profiles).
pub fn resolve_profile(
    library: &Library,
    name: &str,
    machine_variables: &[VariableLayer],
) -> Result<Profile, Diagnostics> {
    let mut diagnostics = Diagnostics::new();
    if !library.profiles.contains_key(name) {
        let names: Vec<&str> = library.profiles.keys().map(String::as_str).collect();
        diagnostics.push(
            Diagnostic::error(
                "kiln::profile::unknown",
                format!("no profile named `{name}`"),
            )
            .help(
                did_you_mean(name, names.iter().copied()).unwrap_or_else(|| {
                    if names.is_empty() {
                        "the library has no profiles; add `profiles/<name>.profile.json`"
                            .to_string()
                    } else {
                        format!(
                            "profiles: {}",
                            names
                                .iter()
                                .map(|n| format!("`{n}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }
                }),
            ),
        );
        return Err(diagnostics);
    }
    let chain = linearize(library, name, &mut diagnostics);
    if diagnostics.has_errors() {
        return Err(diagnostics);
    }

    let mut patterns: BTreeMap<ComponentKind, Vec<Pattern>> = BTreeMap::new();
    let mut tools = BTreeMap::new();
    let mut observation = None;
    let mut variables = BTreeMap::new();
    merge_variables(&mut variables, &library.variables(), "kiln.toml");
    for profile_name in &chain {
        let entry = &library.profiles[profile_name];
        let spec = &entry.spec;
        for kind in ComponentKind::ALL {
            let kind_patterns = patterns.entry(kind).or_default();
            for (role, field, list) in selector_lists(spec, kind) {
                for (index, text) in list.iter().enumerate() {
                    kind_patterns.push(Pattern {
                        text: text.clone(),
                        role,
                        profile: profile_name.clone(),
                        source: entry.source.clone(),
                        pointer: format!("/{}/{field}/{index}", kind.profile_key()),
                    });
                }
            }
        }
        for (tool, settings) in &spec.tools {
            if settings.enabled == Some(false) {
                tools.remove(tool);
                continue;
            }
            let merged: &mut ProfileToolSpec = tools.entry(tool.clone()).or_default();
            if settings.scope.is_some() {
                merged.scope = settings.scope;
            }
        }
        if spec.observation.is_some() {
            observation.clone_from(&spec.observation);
        }
        merge_variables(
            &mut variables,
            &spec.variables,
            &format!("profile {profile_name}"),
        );
    }
    for (origin, layer) in machine_variables {
        merge_variables(&mut variables, layer, origin);
    }
    let spec = &library.profiles[name].spec;
    Ok(Profile {
        name: name.to_string(),
        description: spec.description.clone(),
        chain,
        patterns,
        tools,
        variables,
        observation,
    })
}

type PatternList<'a> = (PatternRole, &'static str, &'a Vec<String>);

fn plain(selector: Option<&kiln_model::SelectorSpec>) -> Vec<PatternList<'_>> {
    match selector {
        Some(s) => vec![
            (PatternRole::Include, "include", &s.include),
            (PatternRole::Exclude, "exclude", &s.exclude),
        ],
        None => Vec::new(),
    }
}

fn selector_lists(spec: &ProfileSpec, kind: ComponentKind) -> Vec<PatternList<'_>> {
    match kind {
        ComponentKind::Rule => plain(spec.rules.as_ref()),
        ComponentKind::Skill => plain(spec.skills.as_ref()),
        ComponentKind::Command => plain(spec.commands.as_ref()),
        ComponentKind::Agent => plain(spec.agents.as_ref()),
        ComponentKind::Hook => plain(spec.hooks.as_ref()),
        ComponentKind::Context => plain(spec.context.as_ref()),
        ComponentKind::Settings => plain(spec.settings.as_ref()),
        ComponentKind::Ignore => plain(spec.ignore.as_ref()),
        ComponentKind::Mcp => match &spec.mcp {
            Some(s) => vec![
                (PatternRole::Include, "include", &s.include),
                (PatternRole::Exclude, "exclude", &s.exclude),
                (PatternRole::Global, "global", &s.global),
                (
                    PatternRole::LocalTemplates,
                    "local_templates",
                    &s.local_templates,
                ),
            ],
            None => Vec::new(),
        },
    }
}

/// Deep-merges `layer` into `variables`: objects merge key by key, anything else replaces.
fn merge_variables(
    variables: &mut BTreeMap<String, Variable>,
    layer: &Map<String, Value>,
    origin: &str,
) {
    for (key, value) in layer {
        match variables.get_mut(key) {
            Some(existing) => {
                deep_merge(&mut existing.value, value);
                existing.origin = origin.to_string();
            }
            None => {
                variables.insert(
                    key.clone(),
                    Variable {
                        value: value.clone(),
                        origin: origin.to_string(),
                    },
                );
            }
        }
    }
}

/// Merges `over` into `base`, `over` winning; objects merge recursively.
pub fn deep_merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (key, value) in over {
                match base.get_mut(key) {
                    Some(existing) => deep_merge(existing, value),
                    None => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, over) => *base = over.clone(),
    }
}

/// The `extends` chain of `name`, ancestors first; cycles and unknown parents are reported.
fn linearize(library: &Library, name: &str, diagnostics: &mut Diagnostics) -> Vec<String> {
    let mut order = Vec::new();
    let mut done = BTreeSet::new();
    let mut stack = Vec::new();
    visit(
        library,
        name,
        &mut stack,
        &mut done,
        &mut order,
        diagnostics,
    );
    order
}

fn visit(
    library: &Library,
    name: &str,
    stack: &mut Vec<String>,
    done: &mut BTreeSet<String>,
    order: &mut Vec<String>,
    diagnostics: &mut Diagnostics,
) {
    if done.contains(name) {
        return;
    }
    let entry = &library.profiles[name];
    stack.push(name.to_string());
    for (index, parent) in entry.spec.extends.iter().enumerate() {
        let located = |diagnostic: Diagnostic| at_extends(library, name, index, diagnostic);
        if let Some(start) = stack.iter().position(|p| p == parent) {
            diagnostics.push(cycle_diagnostic(library, &stack[start..]));
            continue;
        }
        if !library.profiles.contains_key(parent) {
            let names = library.profiles.keys().map(String::as_str);
            diagnostics.push(located(
                Diagnostic::error(
                    "kiln::profile::unknown_parent",
                    format!("profile `{name}` extends unknown profile `{parent}`"),
                )
                .label("no such profile")
                .maybe_help(did_you_mean(parent, names)),
            ));
            continue;
        }
        visit(library, parent, stack, done, order, diagnostics);
    }
    stack.pop();
    if done.insert(name.to_string()) {
        order.push(name.to_string());
    }
}

/// One diagnostic per cycle, whichever profile it was reached from: the loop is rotated to
/// start at its smallest name and located at the `extends` entry that closes it, so the
/// resolutions of every member produce the same diagnostic (de-duplicated when rendered).
fn cycle_diagnostic(library: &Library, members: &[String]) -> Diagnostic {
    let smallest = members
        .iter()
        .enumerate()
        .min_by_key(|(_, name)| name.as_str())
        .map_or(0, |(i, _)| i);
    let rotated: Vec<&String> = members[smallest..]
        .iter()
        .chain(&members[..smallest])
        .collect();
    let closing = rotated[rotated.len() - 1];
    let target = rotated[0];
    let mut chain: Vec<String> = rotated.iter().map(|p| format!("`{p}`")).collect();
    chain.push(format!("`{target}`"));
    let diagnostic = Diagnostic::error(
        "kiln::profile::extends_cycle",
        format!("profile `extends` cycle: {}", chain.join(" extends ")),
    )
    .label(format!("`{closing}` extends `{target}` here"))
    .help("remove one `extends` entry of the cycle");
    let entry = &library.profiles[closing.as_str()];
    let index = entry
        .spec
        .extends
        .iter()
        .position(|p| p == target)
        .unwrap_or(0);
    at_extends(library, closing, index, diagnostic)
}

/// Points a diagnostic at entry `index` of profile `name`'s `extends`.
fn at_extends(library: &Library, name: &str, index: usize, diagnostic: Diagnostic) -> Diagnostic {
    let source = &library.profiles[name].source;
    library.locate(
        diagnostic,
        source,
        Format::Json,
        &format!("/extends/{index}"),
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str, extends: &[&str], vars: Value) -> (String, String) {
        let text =
            serde_json::json!({"name": name, "extends": extends, "variables": vars}).to_string();
        (format!("profiles/{name}.profile.json"), text)
    }

    #[test]
    fn diamond_chain_is_linearised_once_and_child_wins() {
        let files = vec![
            profile(
                "base",
                &[],
                serde_json::json!({"a": 1, "o": {"x": 1, "y": 1}}),
            ),
            profile(
                "left",
                &["base"],
                serde_json::json!({"a": 2, "o": {"x": 2}}),
            ),
            profile("right", &["base"], serde_json::json!({"a": 3})),
            profile(
                "top",
                &["left", "right"],
                serde_json::json!({"o": {"z": 3}}),
            ),
        ];
        let loaded = Library::from_memory("version = 1\n", files);
        let profile = resolve_profile(&loaded.library, "top", &[]).expect("resolves");
        assert_eq!(profile.chain, ["base", "left", "right", "top"]);
        assert_eq!(profile.variables["a"].value, serde_json::json!(3));
        assert_eq!(
            profile.variables["o"].value,
            serde_json::json!({"x": 2, "y": 1, "z": 3})
        );
        assert_eq!(profile.variables["o"].origin, "profile top");
    }

    #[test]
    fn cycles_print_the_whole_chain() {
        let files = vec![
            profile("a", &["b"], serde_json::json!({})),
            profile("b", &["c"], serde_json::json!({})),
            profile("c", &["a"], serde_json::json!({})),
        ];
        let loaded = Library::from_memory("version = 1\n", files);
        let errors = resolve_profile(&loaded.library, "a", &[]).expect_err("cycle");
        let message = &errors.iter().next().expect("one").message;
        assert_eq!(
            message,
            "profile `extends` cycle: `a` extends `b` extends `c` extends `a`"
        );
    }
}
