//! What a template component (`template: true`) uses: the variables it reads and the
//! fragments it includes. Only analysis happens here; rendering belongs to the emitters.
//!
//! `{{ include("context:house-style") }}` must name a context fragment with a string literal:
//! an include is also a dependency edge, so it has to be known without rendering.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::library::{Component, ComponentSpec};
use crate::source::{Format, SourceFile};

/// Names every template may use without defining them: `profile` (the profile's name),
/// `tool` and `scope` (set per output by the build), `component` (the component's id).
pub const BUILTIN_VARIABLES: &[&str] = &["component", "profile", "scope", "tool"];

/// A template's free variables and includes, each with where it first appears.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplateInfo {
    /// Top-level variable names read, with the span of the first use in the source file.
    pub variables: BTreeMap<String, Range<usize>>,
    /// Include references in order, with their spans.
    pub includes: Vec<(String, Range<usize>)>,
}

/// The texts of a component that are templates, each with its byte offset in the source file.
fn template_texts(component: &Component, source: &SourceFile) -> Vec<(String, usize)> {
    match &component.spec {
        ComponentSpec::RuleJson(rule) => {
            let mut pointers = vec!["/content/title".to_string()];
            if rule.content.summary.is_some() {
                pointers.push("/content/summary".to_string());
            }
            for (i, section) in rule.content.sections.iter().enumerate() {
                pointers.push(format!("/content/sections/{i}/heading"));
                for j in 0..section.instructions.len() {
                    pointers.push(format!("/content/sections/{i}/instructions/{j}"));
                }
            }
            pointers
                .into_iter()
                .filter_map(|pointer| {
                    let span = source.locate(Format::Json, &pointer, false)?;
                    // The raw JSON string literal: escapes are rare in templates and the span
                    // only needs to point near the use.
                    let raw = &source.text[span.clone()];
                    Some((raw.trim_matches('"').to_string(), span.start + 1))
                })
                .collect()
        }
        _ => component
            .body
            .as_ref()
            .map(|(body, offset)| vec![(body.to_string(), *offset)])
            .unwrap_or_default(),
    }
}

/// Analyses a template component; syntax errors become diagnostics.
pub fn analyze(
    component: &Component,
    source: &SourceFile,
    diagnostics: &mut Diagnostics,
) -> TemplateInfo {
    let mut info = TemplateInfo::default();
    let environment = minijinja::Environment::new();
    for (text, offset) in template_texts(component, source) {
        match environment.template_from_str(&text) {
            Ok(template) => {
                let names: std::collections::BTreeSet<String> =
                    template.undeclared_variables(false).into_iter().collect();
                for name in names {
                    if name == "include" || BUILTIN_VARIABLES.contains(&name.as_str()) {
                        continue;
                    }
                    let span = find_in_tags(&text, &name)
                        .map_or(offset..offset, |r| r.start + offset..r.end + offset);
                    info.variables.entry(name).or_insert(span);
                }
            }
            Err(error) => {
                let span = error
                    .range()
                    .map_or(offset..offset, |r| r.start + offset..r.end + offset);
                diagnostics.push(
                    Diagnostic::error(
                        "kiln::template::syntax",
                        format!("template syntax error: {}", error.detail().unwrap_or("invalid template")),
                    )
                    .at(source, span)
                    .label("here")
                    .help("templates use minijinja (Jinja2) syntax; set `template: false` if the braces are meant literally"),
                );
            }
        }
        for (reference, range) in include_calls(&text, source, offset, diagnostics) {
            info.includes.push((reference, range));
        }
    }
    info
}

/// A component without `template: true` whose text calls `include(` gets a warning: the
/// include would be copied verbatim.
pub fn warn_untemplated_include(
    component: &Component,
    source: &SourceFile,
    diagnostics: &mut Diagnostics,
) {
    let Some((body, offset)) = &component.body else {
        return;
    };
    if let Some(at) = body.find("{{ include(").or_else(|| body.find("{{include(")) {
        diagnostics.push(
            Diagnostic::warning(
                "kiln::template::not_enabled",
                "this looks like an include, but the component is not a template",
            )
            .at(source, offset + at..offset + at + 2)
            .label("emitted verbatim")
            .help("add `template: true` to the frontmatter to render it"),
        );
    }
}

/// Every `include("…")` inside `{{ }}` / `{% %}` tags, with the span of its argument.
fn include_calls(
    text: &str,
    source: &SourceFile,
    offset: usize,
    diagnostics: &mut Diagnostics,
) -> Vec<(String, Range<usize>)> {
    let mut out = Vec::new();
    for tag in tags(text) {
        let inner = &text[tag.clone()];
        let mut search = 0;
        while let Some(found) = inner[search..].find("include") {
            let at = search + found;
            search = at + "include".len();
            let before_ok = inner[..at]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_alphanumeric() && c != '_');
            let after = inner[search..].trim_start();
            if !before_ok || !after.starts_with('(') {
                continue;
            }
            let argument = after[1..].trim_start();
            let arg_start = tag.start + inner.len() - argument.len() + offset;
            let quote = argument.chars().next();
            match quote {
                // An unclosed string is a syntax error minijinja reports.
                Some(q @ ('"' | '\'')) => {
                    if let Some(end) = argument[1..].find(q) {
                        out.push((
                            argument[1..=end].to_string(),
                            arg_start..arg_start + end + 2,
                        ));
                    }
                }
                _ => diagnostics.push(
                    Diagnostic::error(
                        "kiln::template::dynamic_include",
                        "`include` needs a string literal",
                    )
                    .at(source, arg_start..arg_start + 1)
                    .label("not a quoted string")
                    .help("write the reference literally, e.g. `include(\"context:house-style\")`"),
                ),
            }
        }
    }
    out
}

/// Byte ranges of the inside of every `{{ … }}` and `{% … %}` tag.
fn tags(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(open) = text[at..].find('{').map(|i| at + i) {
        let close = match text[open + 1..].chars().next() {
            Some('{') => "}}",
            Some('%') => "%}",
            _ => {
                at = open + 1;
                continue;
            }
        };
        let start = open + 2;
        match text[start..].find(close) {
            Some(end) => {
                out.push(start..start + end);
                at = start + end + 2;
            }
            None => break,
        }
    }
    out
}

/// The first whole-word occurrence of `name` inside a tag.
fn find_in_tags(text: &str, name: &str) -> Option<Range<usize>> {
    tags(text).into_iter().find_map(|tag| {
        let inner = &text[tag.clone()];
        let mut search = 0;
        while let Some(found) = inner[search..].find(name) {
            let at = search + found;
            let end = at + name.len();
            let before = inner[..at].chars().next_back();
            let after = inner[end..].chars().next();
            let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
            if !word(before) && !word(after) && before != Some('.') {
                return Some(tag.start + at..tag.start + end);
            }
            search = end;
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_tags_and_includes() {
        let text = "a {{ include(\"context:x\") }} b {% if y %}{{ z }}{% endif %} ${{ secrets.T }}";
        let source = SourceFile::new("f", text);
        let mut diagnostics = Diagnostics::new();
        let includes = include_calls(text, &source, 0, &mut diagnostics);
        assert_eq!(includes.len(), 1);
        assert_eq!(includes[0].0, "context:x");
        assert_eq!(&text[includes[0].1.clone()], "\"context:x\"");
        assert!(diagnostics.is_empty());
        let z = find_in_tags(text, "z").expect("found");
        assert_eq!(&text[z], "z");
    }
}
