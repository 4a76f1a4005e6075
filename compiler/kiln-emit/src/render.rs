//! Rendering component bodies: structured rules become Markdown, and components with
//! `template: true` are rendered with minijinja — strict about undefined variables, with
//! `include("context:id")` pulling in (rendered) context fragments.

use std::collections::BTreeMap;
use std::sync::Arc;

use kiln_core::Diagnostic;
use kiln_core::library::{Component, ComponentSpec, Library};
use kiln_core::refs::Resolved;
use kiln_model::{ComponentId, RuleSpec};
use minijinja::value::Serde;
use minijinja::{Environment, UndefinedBehavior, Value};

/// The variables a body is rendered with.
#[derive(Clone, Debug)]
pub struct RenderVariables {
    /// Profile variables (with library and machine layers merged in).
    pub variables: BTreeMap<String, serde_json::Value>,
    /// The profile's name.
    pub profile: String,
    /// The tool's name.
    pub tool: String,
    /// `global` or `project`.
    pub scope: String,
}

/// A structured rule as Markdown: the title, the summary, then each section's heading and
/// its instructions as a list.
pub fn rule_markdown(rule: &RuleSpec) -> String {
    let mut out = format!("# {}\n", rule.content.title);
    if let Some(summary) = &rule.content.summary {
        out.push_str(&format!("\n{}\n", summary.trim_end()));
    }
    for section in &rule.content.sections {
        out.push_str(&format!("\n## {}\n\n", section.heading));
        for instruction in &section.instructions {
            out.push_str(&format!("- {instruction}\n"));
        }
    }
    out
}

/// The raw body of a component, before templating: Markdown bodies without leading blank
/// lines, structured rules rendered to Markdown.
pub fn raw_body(component: &Component) -> String {
    match &component.spec {
        ComponentSpec::RuleJson(rule) => rule_markdown(rule),
        _ => component
            .body
            .as_ref()
            .map(|(body, _)| body.trim_start_matches(['\n', '\r']).to_string())
            .unwrap_or_default(),
    }
}

/// Renders the body of `component`: verbatim unless it is a template.
pub fn render_body(
    library: &Library,
    component: &Component,
    vars: &RenderVariables,
) -> Result<String, Diagnostic> {
    let mut stack = Vec::new();
    render(library, component, vars, &mut stack)
}

fn render(
    library: &Library,
    component: &Component,
    vars: &RenderVariables,
    stack: &mut Vec<ComponentId>,
) -> Result<String, Diagnostic> {
    let body = raw_body(component);
    let Some(template) = &component.template else {
        return Ok(body);
    };
    if stack.contains(&component.id) {
        return Err(Diagnostic::error(
            "kiln::emit::include_cycle",
            format!("`{}` includes itself through its fragments", component.id),
        )
        .in_file(component.source.clone()));
    }
    stack.push(component.id.clone());
    let mut fragments: BTreeMap<String, String> = BTreeMap::new();
    for (reference, _) in &template.includes {
        if fragments.contains_key(reference) {
            continue;
        }
        let Resolved::Found(id) =
            library.resolve_ref(reference, Some(kiln_model::ComponentKind::Context))
        else {
            return Err(Diagnostic::error(
                "kiln::template::unknown_include",
                format!("`include` names unknown fragment `{reference}`"),
            )
            .in_file(component.source.clone()));
        };
        let fragment = &library.components[&id];
        let text = render(library, fragment, vars, stack)?;
        fragments.insert(reference.clone(), text);
    }
    stack.pop();

    let mut environment = Environment::new();
    crate::limits::bound(&mut environment);
    environment.set_undefined_behavior(UndefinedBehavior::Strict);
    environment.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
            .expect("default delimiters are valid"),
    );
    let fragments = Arc::new(fragments);
    environment.add_function(
        "include",
        move |reference: String| -> Result<String, minijinja::Error> {
            fragments
                .get(&reference)
                .map(|text| text.trim_end().to_string())
                .ok_or_else(|| {
                    minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        format!("unknown include `{reference}`"),
                    )
                })
        },
    );
    let mut context: BTreeMap<String, Value> = vars
        .variables
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(Serde(v))))
        .collect();
    context.insert("profile".into(), Value::from(vars.profile.clone()));
    context.insert("tool".into(), Value::from(vars.tool.clone()));
    context.insert("scope".into(), Value::from(vars.scope.clone()));
    context.insert("component".into(), Value::from(component.id.to_string()));
    environment
        .template_from_str(&body)
        .and_then(|template| crate::limits::render_bounded(&template, context))
        .map_err(|error| {
            let detail = error
                .detail()
                .map_or_else(|| error.kind().to_string(), str::to_string);
            let limited = crate::limits::is_limit(&error);
            Diagnostic::error(
                if limited {
                    "kiln::emit::template_limit"
                } else {
                    "kiln::emit::render"
                },
                format!(
                    "failed to render `{}` for {} ({}): {detail}",
                    component.id, vars.tool, vars.scope
                ),
            )
            .in_file(component.source.clone())
            .help(if limited {
                crate::limits::HINT
            } else {
                "every variable a template uses must be defined for the profile"
            })
        })
}
