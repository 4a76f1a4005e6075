//! Selection: a resolved [`Profile`] applied to the library, giving the exact set of
//! components, in a deterministic order, each with the reason it is in.
//!
//! 1. Include patterns (globs over ids, plain ids, `tag:NAME`) select components per kind.
//! 2. Exclude patterns, from anywhere in the chain, remove them.
//! 3. The transitive `depends_on` and template-include closure is added; needing a component
//!    that is excluded is an error naming both and the profiles involved.
//! 4. `conflicts_with` between two selected components is an error.
//! 5. Order: kind, then priority (higher first), then id.

use std::collections::{BTreeMap, BTreeSet};

use globset::{GlobBuilder, GlobMatcher};
use kiln_model::{ComponentId, ComponentKind, Scope};
use serde::Serialize;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::graph::EdgeKind;
use crate::library::Library;
use crate::profile::{Pattern, PatternRole, Profile};
use crate::refs::Resolved;
use crate::source::Format;

/// Why a component is selected.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// A profile's pattern matched it.
    Matched {
        /// The profile that wrote the pattern.
        profile: String,
        /// The pattern.
        pattern: String,
        /// `include`, `global` or `local_templates`.
        role: PatternRole,
    },
    /// Another selected component needs it.
    Required {
        /// The component that needs it (`kind:id`).
        by: String,
        /// `depends_on` or `include`.
        via: EdgeKind,
    },
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Matched {
                profile,
                pattern,
                role,
            } => {
                let list = match role {
                    PatternRole::Include | PatternRole::Exclude => "include",
                    PatternRole::Global => "mcp.global",
                    PatternRole::LocalTemplates => "mcp.local_templates",
                };
                write!(f, "profile `{profile}` {list} `{pattern}`")
            }
            Reason::Required {
                by,
                via: EdgeKind::DependsOn,
            } => write!(f, "required by `{by}`"),
            Reason::Required {
                by,
                via: EdgeKind::Include,
            } => write!(f, "included by `{by}`"),
        }
    }
}

/// One selected component.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Selected {
    /// Kind and id.
    pub id: ComponentId,
    /// Every reason it is in, sorted.
    pub reasons: Vec<Reason>,
    /// For MCP servers: the scopes it was selected for (`any` from `include`).
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub scopes: BTreeSet<Scope>,
}

/// The components a profile selects, in order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Selection {
    /// The selected components: kind, then priority (higher first), then id.
    pub components: Vec<Selected>,
}

impl Selection {
    /// The selected ids.
    pub fn ids(&self) -> impl Iterator<Item = &ComponentId> {
        self.components.iter().map(|s| &s.id)
    }
}

enum Matcher {
    Tag(String),
    Glob(GlobMatcher),
    Exact(ComponentId),
    Nothing,
}

/// Applies `profile` to `library`. Warnings (patterns matching nothing) are returned with a
/// selection; errors return no selection.
pub fn select(library: &Library, profile: &Profile) -> (Option<Selection>, Diagnostics) {
    let mut diagnostics = Diagnostics::new();
    let mut reasons: BTreeMap<ComponentId, BTreeSet<Reason>> = BTreeMap::new();
    let mut scopes: BTreeMap<ComponentId, BTreeSet<Scope>> = BTreeMap::new();
    let mut excluded: BTreeMap<ComponentId, &Pattern> = BTreeMap::new();

    for (kind, patterns) in &profile.patterns {
        for pattern in patterns {
            let matcher = compile(library, *kind, pattern, &mut diagnostics);
            let matched: Vec<&ComponentId> = library
                .components
                .keys()
                .filter(|id| id.kind == *kind && matches(library, &matcher, id))
                .collect();
            if matched.is_empty() && !matches!(matcher, Matcher::Nothing | Matcher::Exact(_)) {
                diagnostics.push(locate(
                    library,
                    pattern,
                    Diagnostic::warning(
                        "kiln::profile::pattern_matches_nothing",
                        format!("pattern `{}` matches no {kind}", pattern.text),
                    )
                    .label("matches nothing")
                    .help("check the pattern, or remove it"),
                ));
            }
            for id in matched {
                match pattern.role {
                    PatternRole::Exclude => {
                        excluded.entry(id.clone()).or_insert(pattern);
                    }
                    role => {
                        reasons
                            .entry(id.clone())
                            .or_default()
                            .insert(Reason::Matched {
                                profile: pattern.profile.clone(),
                                pattern: pattern.text.clone(),
                                role,
                            });
                        if *kind == ComponentKind::Mcp {
                            scopes.entry(id.clone()).or_default().insert(match role {
                                PatternRole::Global => Scope::Global,
                                PatternRole::LocalTemplates => Scope::Project,
                                PatternRole::Include | PatternRole::Exclude => Scope::Any,
                            });
                        }
                    }
                }
            }
        }
    }
    reasons.retain(|id, _| !excluded.contains_key(id));

    // Closure over depends_on and includes, breadth first in id order.
    let mut queue: Vec<ComponentId> = reasons.keys().cloned().collect();
    let mut reported = BTreeSet::new();
    while !queue.is_empty() {
        let mut next = Vec::new();
        for id in queue {
            for dependency in library.dependencies(&id) {
                if let Some(pattern) = excluded.get(&dependency.target) {
                    if reported.insert((id.clone(), dependency.target.clone())) {
                        let why = reasons
                            .get(&id)
                            .and_then(|r| r.iter().next())
                            .map(ToString::to_string)
                            .unwrap_or_default();
                        diagnostics.push(locate(
                            library,
                            pattern,
                            Diagnostic::error(
                                "kiln::profile::excluded_dependency",
                                format!(
                                    "`{id}` requires `{}`, but profile `{}` excludes it with `{}`",
                                    dependency.target, pattern.profile, pattern.text
                                ),
                            )
                            .label(format!("excludes `{}`", dependency.target))
                            .help(format!(
                                "`{id}` is selected by {why}; stop excluding `{}` or stop selecting `{id}`",
                                dependency.target
                            )),
                        ));
                    }
                    continue;
                }
                let entry = reasons.entry(dependency.target.clone()).or_default();
                let is_new = entry.is_empty();
                entry.insert(Reason::Required {
                    by: id.to_string(),
                    via: dependency.kind,
                });
                if is_new {
                    next.push(dependency.target.clone());
                }
            }
        }
        next.sort();
        next.dedup();
        queue = next;
    }

    check_conflicts(library, &reasons, &mut diagnostics);
    if diagnostics.has_errors() {
        return (None, diagnostics);
    }

    let mut components: Vec<Selected> = reasons
        .into_iter()
        .map(|(id, reasons)| {
            let scopes = scopes.remove(&id).unwrap_or_default();
            Selected {
                id,
                reasons: reasons.into_iter().collect(),
                scopes,
            }
        })
        .collect();
    components.sort_by(|a, b| {
        let priority = |s: &Selected| library.components.get(&s.id).map_or(0, |c| c.priority());
        a.id.kind
            .cmp(&b.id.kind)
            .then_with(|| priority(b).cmp(&priority(a)))
            .then_with(|| a.id.id.cmp(&b.id.id))
    });
    (Some(Selection { components }), diagnostics)
}

fn check_conflicts(
    library: &Library,
    selected: &BTreeMap<ComponentId, BTreeSet<Reason>>,
    diagnostics: &mut Diagnostics,
) {
    let mut pairs = BTreeSet::new();
    for id in selected.keys() {
        let component = &library.components[id];
        for (index, reference) in component.meta.conflicts_with.iter().enumerate() {
            let Resolved::Found(other) = library.resolve_ref(reference, None) else {
                continue;
            };
            if !selected.contains_key(&other) {
                continue;
            }
            let pair = if *id < other {
                (id.clone(), other.clone())
            } else {
                (other.clone(), id.clone())
            };
            if !pairs.insert(pair) {
                continue;
            }
            let why = |c: &ComponentId| {
                selected[c]
                    .iter()
                    .next()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            };
            let mut diagnostic = Diagnostic::error(
                "kiln::profile::conflict",
                format!("`{id}` conflicts with `{other}`, and both are selected"),
            )
            .label(format!("conflicts with `{other}`"))
            .help(format!(
                "`{id}` is selected by {}, `{other}` by {}; select only one",
                why(id),
                why(&other)
            ));
            if let Some(source) = library.source(&component.meta_source) {
                let span = source
                    .locate(
                        component.meta_format,
                        &format!("/conflicts_with/{index}"),
                        false,
                    )
                    .unwrap_or(0..0);
                diagnostic = diagnostic.at(source, span);
            }
            diagnostics.push(diagnostic);
        }
    }
}

fn is_glob(text: &str) -> bool {
    text.contains(['*', '?', '[', '{'])
}

fn compile(
    library: &Library,
    kind: ComponentKind,
    pattern: &Pattern,
    diagnostics: &mut Diagnostics,
) -> Matcher {
    let text = pattern.text.as_str();
    if let Some(tag) = text.strip_prefix("tag:") {
        return Matcher::Tag(tag.to_string());
    }
    if is_glob(text) {
        let glob_text = text
            .strip_prefix(&format!("{}:", kind.as_str()))
            .unwrap_or(text);
        // A bare `*` means "all of this kind", nested ids too (it selected 1 of 90 nested
        // commands and 0 of 140 agents in category folders when it stopped at `/`).
        let glob_text = if glob_text == "*" { "**" } else { glob_text };
        return match GlobBuilder::new(glob_text).literal_separator(true).build() {
            Ok(glob) => Matcher::Glob(glob.compile_matcher()),
            Err(error) => {
                diagnostics.push(locate(
                    library,
                    pattern,
                    Diagnostic::error("kiln::profile::invalid_glob", format!("invalid glob `{text}`: {}", error.kind()))
                        .label("invalid glob")
                        .help("globs use `*` (within a folder), `**` (across folders), `?`, `[abc]` and `{a,b}`"),
                ));
                Matcher::Nothing
            }
        };
    }
    let mut resolved = library.resolve_ref(text, Some(kind));
    if matches!(resolved, Resolved::Unknown { .. }) {
        // A component of another kind listed here is a misplacement, not a typo.
        if let found @ Resolved::Found(_) = library.resolve_ref(text, None) {
            resolved = found;
        }
    }
    match resolved {
        Resolved::Found(id) if id.kind == kind => Matcher::Exact(id),
        Resolved::Found(id) => {
            diagnostics.push(locate(
                library,
                pattern,
                Diagnostic::error(
                    "kiln::profile::wrong_kind",
                    format!("`{text}` is a {}, not a {kind}", id.kind),
                )
                .label(format!("not a {kind}"))
                .help(format!(
                    "move it to the profile's `{}` list",
                    id.kind.profile_key()
                )),
            ));
            Matcher::Nothing
        }
        Resolved::Unknown { suggestion } => {
            diagnostics.push(locate(
                library,
                pattern,
                Diagnostic::error(
                    "kiln::profile::unknown_component",
                    format!("no {kind} `{text}`"),
                )
                .label(format!("no such {kind}"))
                .help(suggestion.map_or_else(
                    || {
                        format!(
                            "add `components/{}/{text}…` or remove the entry",
                            kind.folder()
                        )
                    },
                    |s| format!("did you mean `{s}`?"),
                )),
            ));
            Matcher::Nothing
        }
        Resolved::Ambiguous(ids) => {
            let names: Vec<String> = ids.iter().map(|id| format!("`{}`", id.id)).collect();
            diagnostics.push(locate(
                library,
                pattern,
                Diagnostic::error(
                    "kiln::profile::ambiguous",
                    format!("`{text}` names several {kind}s"),
                )
                .label(format!("matches {}", names.join(", ")))
                .help("write the full id with its folders"),
            ));
            Matcher::Nothing
        }
    }
}

fn matches(library: &Library, matcher: &Matcher, id: &ComponentId) -> bool {
    match matcher {
        Matcher::Tag(tag) => library.components[id].meta.tags.iter().any(|t| t == tag),
        Matcher::Glob(glob) => glob.is_match(&id.id),
        Matcher::Exact(exact) => exact == id,
        Matcher::Nothing => false,
    }
}

fn locate(library: &Library, pattern: &Pattern, diagnostic: Diagnostic) -> Diagnostic {
    library.locate(
        diagnostic,
        &pattern.source,
        Format::Json,
        &pattern.pointer,
        false,
    )
}
