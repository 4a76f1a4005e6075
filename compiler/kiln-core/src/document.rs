//! Reading one document: parse its text (JSON, TOML or YAML frontmatter) into JSON, validate
//! it against its embedded schema, then deserialise it into its `*Spec` type. Every problem
//! becomes a located [`Diagnostic`]; nothing here panics on bad input.

use jsonschema::error::ValidationErrorKind;
use kiln_model::schema::DocumentKind;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::diagnostic::{Diagnostic, Diagnostics, did_you_mean};
use crate::schemas::{Schema, schema};
use crate::source::{Format, SourceFile, pointer_segments};

/// Parses the text of `source` (for frontmatter: the YAML part) into JSON.
pub fn parse(source: &SourceFile, format: Format) -> Result<Value, Diagnostic> {
    match format {
        Format::Json => serde_json::from_str(&source.text).map_err(|error| {
            let offset = source.offset_of(error.line(), error.column());
            let message = error.to_string();
            let message = message.split(" at line ").next().unwrap_or(&message).to_string();
            Diagnostic::error("kiln::parse::json", format!("invalid JSON: {message}"))
                .at(source, offset..offset)
                .label(message)
                .help("strict JSON has no comments, no trailing commas and only double-quoted strings")
        }),
        Format::Toml => match toml::from_str::<toml::Table>(&source.text) {
            Ok(table) => serde_json::to_value(table).map_err(|error| {
                Diagnostic::error("kiln::parse::toml", format!("unsupported TOML value: {error}"))
                    .in_file(&source.path)
            }),
            Err(error) => {
                let span = error.span().unwrap_or(0..0);
                let message = error.message().trim().to_string();
                Err(Diagnostic::error("kiln::parse::toml", format!("invalid TOML: {message}"))
                    .at(source, span)
                    .label(message))
            }
        },
        Format::Frontmatter { offset } => {
            let end = crate::markdown::split_frontmatter(&source.text)
                .map_or(source.text.len(), |fm| fm.yaml_offset + fm.yaml.len());
            let yaml = &source.text[offset..end];
            match yaml_value(yaml) {
                Ok(Value::Null) => Ok(Value::Object(serde_json::Map::new())),
                Ok(value) => Ok(value),
                Err(error) => {
                    // serde-saphyr counts lines from the start of the YAML text.
                    let yaml_line = source.line_col(offset).0;
                    let at = error.location().filter(|l| l.line() > 0).map_or(offset, |location| {
                        let line = usize::try_from(location.line()).unwrap_or(1);
                        let column = usize::try_from(location.column()).unwrap_or(1);
                        source.offset_of(yaml_line + line - 1, column)
                    });
                    let span = at..at;
                    let message = yaml_message(&error.to_string());
                    Err(Diagnostic::error(
                        "kiln::parse::yaml",
                        format!("invalid YAML frontmatter: {message}"),
                    )
                    .at(source, span)
                    .label("the YAML parser stopped here")
                    .help("frontmatter is YAML between two `---` lines at the top of the file"))
                }
            }
        }
    }
}

/// The first line of a YAML error without its `error: line N column M:` prefix (the
/// diagnostic's own location replaces it).
fn yaml_message(text: &str) -> String {
    let line = text.lines().next().unwrap_or(text).trim();
    let line = line.strip_prefix("error: ").unwrap_or(line);
    match line
        .strip_prefix("line ")
        .and_then(|rest| rest.split_once(": "))
    {
        Some((position, message)) if position.contains(" column ") => message.to_string(),
        _ => line.to_string(),
    }
}

/// Validates `value` against the schema of `kind` and deserialises it; every schema problem
/// is added to `diagnostics`.
pub fn check<T: DeserializeOwned>(
    source: &SourceFile,
    format: Format,
    kind: DocumentKind,
    value: Value,
    diagnostics: &mut Diagnostics,
) -> Option<T> {
    let schema = schema(kind);
    let before = diagnostics.error_count();
    for error in schema.validator.iter_errors(&value) {
        diagnostics.extend(schema_diagnostics(source, format, schema, &error));
    }
    if diagnostics.error_count() > before {
        return None;
    }
    match serde_json::from_value(value) {
        Ok(spec) => Some(spec),
        Err(error) => {
            diagnostics.push(
                Diagnostic::error(
                    "kiln::schema::invalid",
                    format!("invalid document: {error}"),
                )
                .at(source, source.document_start(format)),
            );
            None
        }
    }
}

fn schema_diagnostics(
    source: &SourceFile,
    format: Format,
    schema: &Schema,
    error: &jsonschema::ValidationError<'_>,
) -> Vec<Diagnostic> {
    let pointer = error.instance_path().as_str();
    let schema_path = error.schema_path().as_str();
    let locate = |pointer: &str, key: bool| {
        source
            .locate(format, pointer, key)
            .unwrap_or_else(|| source.document_start(format))
    };
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
            let allowed = allowed_keys(&schema.json, parent_pointer(schema_path));
            unexpected
                .iter()
                .map(|key| {
                    let escaped = key.replace('~', "~0").replace('/', "~1");
                    let span = locate(&format!("{pointer}/{escaped}"), true);
                    let help =
                        did_you_mean(key, allowed.iter().map(String::as_str)).or_else(|| {
                            (!allowed.is_empty()).then(|| {
                                format!("remove it; known keys here: {}", backticked(&allowed))
                            })
                        });
                    Diagnostic::error(
                        "kiln::schema::unknown_key",
                        format!("unknown key `{key}`{}", in_place(pointer)),
                    )
                    .at(source, span)
                    .label("not a known key")
                    .maybe_help(help)
                })
                .collect()
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            vec![
                Diagnostic::error(
                    "kiln::schema::missing_key",
                    format!("missing required key `{name}`{}", in_place(pointer)),
                )
                .at(source, locate(pointer, true))
                .label(format!("`{name}` is required here"))
                .help(format!("add `{name}`")),
            ]
        }
        ValidationErrorKind::OneOfNotValid { .. } | ValidationErrorKind::AnyOf { .. } => {
            let node = lookup(&schema.json, parent_pointer(schema_path));
            let allowed = node
                .map(|node| allowed_constants(&schema.json, node))
                .unwrap_or_default();
            let got = error.instance();
            let (label, help) = if allowed.is_empty() {
                ("not a valid value here".to_string(), None)
            } else {
                let got_text = got.as_str().unwrap_or_default();
                (
                    format!("expected one of {}", backticked(&allowed)),
                    did_you_mean(got_text, allowed.iter().map(String::as_str)),
                )
            };
            vec![
                Diagnostic::error(
                    "kiln::schema::invalid_value",
                    format!(
                        "invalid value {} for `{}`",
                        short(got),
                        pretty_pointer(pointer)
                    ),
                )
                .at(source, locate(pointer, false))
                .label(label)
                .maybe_help(help),
            ]
        }
        other => {
            let in_yaml = matches!(format, Format::Frontmatter { .. });
            let scalar = error.instance().is_number() || error.instance().is_boolean();
            let (label, help) = match other {
                ValidationErrorKind::Pattern { .. } => (
                    "does not match the required format".to_string(),
                    pattern_help(pointer),
                ),
                ValidationErrorKind::Type { .. } => {
                    let expected = lookup(&schema.json, parent_pointer(schema_path))
                        .map(expected_types)
                        .unwrap_or_default();
                    let help = if pattern_help(pointer).is_some() && scalar && in_yaml {
                        pattern_help(pointer)
                            .map(|h| format!("{h}, quoted (YAML reads `1.0` as a number)"))
                    } else if scalar && in_yaml {
                        Some(
                            "quote the value if it is meant as text (YAML reads `1.0` as a number)"
                                .to_string(),
                        )
                    } else {
                        None
                    };
                    (format!("expected {expected}"), help)
                }
                ValidationErrorKind::MaxLength { limit } => (
                    format!("longer than {limit} characters"),
                    Some(format!("shorten it to at most {limit} characters")),
                ),
                ValidationErrorKind::MinLength { .. } => ("must not be empty".to_string(), None),
                _ => (error.masked().to_string(), None),
            };
            vec![
                Diagnostic::error(
                    "kiln::schema::invalid_value",
                    format!(
                        "invalid value {} for `{}`",
                        short(error.instance()),
                        pretty_pointer(pointer)
                    ),
                )
                .at(source, locate(pointer, false))
                .label(label)
                .maybe_help(help),
            ]
        }
    }
}

/// "a string", "an integer or an array", from a schema node's `type` (ignoring `null`, which
/// only marks optional fields).
fn expected_types(node: &Value) -> String {
    let types: Vec<&str> = match node.get("type") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let named: Vec<&str> = types
        .into_iter()
        .filter(|t| *t != "null")
        .map(|t| match t {
            "string" => "a string",
            "integer" => "an integer",
            "number" => "a number",
            "boolean" => "`true` or `false`",
            "array" => "a list",
            "object" => "a table of keys",
            other => other,
        })
        .collect();
    if named.is_empty() {
        "another type".to_string()
    } else {
        named.join(" or ")
    }
}

fn pattern_help(pointer: &str) -> Option<String> {
    let field = pointer_segments(pointer)
        .into_iter()
        .rev()
        .find(|s| s.parse::<usize>().is_err())?;
    Some(
        match field.as_str() {
            "version" => "use a semantic version such as `1.0.0`",
            "name" => "use lowercase letters, digits and single hyphens, e.g. `my-skill`",
            "tags" => "tags are letters, digits, `.`, `_` and `-`",
            "url" => "use an `http://` or `https://` URL",
            _ => return None,
        }
        .to_string(),
    )
}

fn in_place(pointer: &str) -> String {
    if pointer.is_empty() {
        String::new()
    } else {
        format!(" in `{}`", pretty_pointer(pointer))
    }
}

/// `/content/sections/0/heading` → `content.sections[0].heading`.
pub fn pretty_pointer(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer_segments(pointer) {
        if segment.parse::<usize>().is_ok() {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    if out.is_empty() {
        "(document)".to_string()
    } else {
        out
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 {
        format!("`{}…`", text.chars().take(37).collect::<String>())
    } else {
        format!("`{text}`")
    }
}

fn backticked(items: &[String]) -> String {
    items
        .iter()
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn parent_pointer(pointer: &str) -> &str {
    pointer.rsplit_once('/').map_or("", |(parent, _)| parent)
}

fn lookup<'a>(root: &'a Value, pointer: &str) -> Option<&'a Value> {
    let node = root.pointer(pointer)?;
    Some(resolve_ref(root, node))
}

fn resolve_ref<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    match node
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
    {
        Some(target) => root
            .pointer(target)
            .map_or(node, |target| resolve_ref(root, target)),
        None => node,
    }
}

fn allowed_keys(root: &Value, pointer: &str) -> Vec<String> {
    lookup(root, pointer)
        .and_then(|node| node.get("properties"))
        .and_then(Value::as_object)
        .map(|properties| properties.keys().cloned().collect())
        .unwrap_or_default()
}

/// The constant values an enum-like schema node allows (through `$ref`, `oneOf`, `anyOf`).
fn allowed_constants(root: &Value, node: &Value) -> Vec<String> {
    let node = resolve_ref(root, node);
    let mut out = Vec::new();
    if let Some(constant) = node.get("const").and_then(Value::as_str) {
        out.push(constant.to_string());
    }
    if let Some(values) = node.get("enum").and_then(Value::as_array) {
        out.extend(values.iter().filter_map(Value::as_str).map(str::to_string));
    }
    for keyword in ["oneOf", "anyOf"] {
        for branch in node
            .get(keyword)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.extend(allowed_constants(root, branch));
        }
    }
    out
}

/// A standalone document (not part of a library, such as a `kiln check --manifest` file) read,
/// parsed and checked against its schema. On failure, the source (for rendering) and every
/// problem found.
pub fn read_file<T: DeserializeOwned>(
    path: &std::path::Path,
    format: Format,
    kind: kiln_model::schema::DocumentKind,
) -> Result<T, (Option<SourceFile>, crate::Diagnostics)> {
    let mut problems = crate::Diagnostics::new();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            problems.push(Diagnostic::error(
                "kiln::document::unreadable",
                format!("failed to read `{}`: {e}", path.display()),
            ));
            return Err((None, problems));
        }
    };
    let source = SourceFile::new(path.display().to_string(), text);
    let checked = match parse(&source, format) {
        Ok(value) => check::<T>(&source, format, kind, value, &mut problems),
        Err(diagnostic) => {
            problems.push(diagnostic);
            None
        }
    };
    checked.ok_or((Some(source), problems))
}

/// YAML as the tools read frontmatter (JavaScript and Python YAML 1.2 parsers): only
/// `true`/`false` are booleans, so `description: y` or `name: no` stay text.
pub fn yaml_value(text: &str) -> Result<Value, serde_saphyr::Error> {
    serde_saphyr::from_str_with_options(text, serde_saphyr::options! { strict_booleans: true })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_read_like_paths() {
        assert_eq!(
            pretty_pointer("/content/sections/0/heading"),
            "content.sections[0].heading"
        );
        assert_eq!(pretty_pointer(""), "(document)");
    }
}
