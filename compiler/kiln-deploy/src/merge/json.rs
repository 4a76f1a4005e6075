//! JSON and JSONC: every change is a byte-range splice computed from `jsonc_parser`'s AST.

use std::collections::BTreeMap;

use jsonc_parser::ast;
use jsonc_parser::common::Ranged;
use jsonc_parser::{CollectOptions, ParseOptions};
use serde_json::Value;

use super::{
    MergeError, OpError, Plan, Pointer, is_hspace, is_line_break, json_get, line_break_before,
    line_indent, line_start, nest, pointer_text, skip_hspace, skip_line_trivia, skip_trivia,
    split_bom,
};

/// Strict JSON, optionally with JSONC's comments and trailing commas. JSONC deliberately does
/// not get `jsonc_parser`'s other JSON5 leniencies (single quotes, hex numbers, bare keys):
/// the tools reading these files do not accept them either.
fn options(jsonc: bool) -> ParseOptions {
    ParseOptions {
        allow_comments: jsonc,
        allow_loose_object_property_names: false,
        allow_trailing_commas: jsonc,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    }
}

pub(super) fn parse(text: &str, jsonc: bool) -> Result<Option<ast::Value<'_>>, MergeError> {
    let value = jsonc_parser::parse_to_ast(text, &CollectOptions::default(), &options(jsonc))
        .map(|result| result.value)
        .map_err(|error| MergeError {
            message: error.kind().to_string(),
            line: error.line_display(),
            column: error.column_display(),
        })?;
    check_characters(text, jsonc)?;
    Ok(value)
}

/// What `jsonc_parser` lets through even with every leniency off: control characters inside
/// strings (a raw tab or line break), and, for strict JSON, whitespace other than space, tab
/// and line breaks between tokens (vertical tab, form feed, no-break space, ...).
fn check_characters(text: &str, jsonc: bool) -> Result<(), MergeError> {
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            } else if u32::from(c) < 0x20 {
                return Err(MergeError::at(
                    "Control characters must be escaped in strings",
                    text,
                    i,
                ));
            }
        } else if c == '"' {
            in_string = true;
        } else if jsonc && c == '/' {
            // Skip a comment, whose text is free.
            match chars.peek() {
                Some((_, '/')) => while chars.next_if(|(_, c)| !is_line_break(*c)).is_some() {},
                Some((_, '*')) => {
                    chars.next();
                    let mut star = false;
                    for (_, c) in chars.by_ref() {
                        if star && c == '/' {
                            break;
                        }
                        star = c == '*';
                    }
                }
                _ => {}
            }
        } else if !jsonc && c.is_whitespace() && !matches!(c, ' ' | '\t' | '\n' | '\r') {
            return Err(MergeError::at(
                "Only spaces, tabs and line breaks may separate JSON tokens",
                text,
                i,
            ));
        }
    }
    Ok(())
}

pub(super) fn merge(jsonc: bool, live: Option<&str>, plan: &Plan) -> Result<String, MergeError> {
    let (bom, original) = match live {
        Some(text) => split_bom(text),
        None => ("", "{}\n"),
    };
    parse(original, jsonc)?;
    let mut doc = Doc {
        text: original.to_string(),
        jsonc,
    };
    run(&mut doc, plan).map_err(|error| locate(error, original, jsonc))?;
    // Never hand back a text that does not parse, whatever happened above.
    parse(&doc.text, jsonc).map_err(|e| {
        MergeError::new(format!(
            "internal error: the merged text does not parse: {e}"
        ))
    })?;
    Ok(format!("{bom}{}", doc.text))
}

/// Each edit re-parses the text, so what needs no edit is sorted out first from one parse:
/// absent keys to remove, and keys that already hold the fragment's value (removals never
/// touch a key being written, so that value is still there when its turn comes). A redeploy
/// with nothing to change parses the file once.
fn run(doc: &mut Doc, plan: &Plan) -> Result<(), OpError> {
    let live = doc.parse()?.map_or(Value::Null, |root| to_json(&root));
    for path in plan.concrete_removals(&live) {
        if json_get(&live, &path).is_some() {
            doc.remove(&path)?;
        }
    }
    let sets: Vec<(&Pointer, &Value)> = plan
        .sets
        .iter()
        .filter(|(pointer, value)| json_get(&live, &pointer.segments) != Some(value))
        .map(|(pointer, value)| (pointer, value))
        .collect();
    let nested = sets.iter().any(|(a, _)| {
        sets.iter().any(|(b, _)| {
            a.segments.len() < b.segments.len() && b.segments.starts_with(&a.segments)
        })
    });
    if nested {
        // A key inside another key being written (`permissions` and `permissions.deny`):
        // one edit after the other, each on the text the last one left.
        for (pointer, value) in sets {
            doc.set(pointer, value)?;
        }
        return Ok(());
    }
    doc.set_all(&sets)
}

/// Gives an [`OpError`] its position in the original live text.
fn locate(error: OpError, original: &str, jsonc: bool) -> MergeError {
    match error {
        OpError::Message(message) => MergeError::new(message),
        OpError::NotContainer { pointer, parent } => {
            let message = if parent.is_empty() {
                format!("cannot set `{pointer}`: the top-level value is not an object")
            } else {
                format!(
                    "cannot set `{pointer}`: `{}` is not an object",
                    pointer_text(&parent)
                )
            };
            let found = parse(original, jsonc)
                .ok()
                .flatten()
                .and_then(|root| lookup(&root, &parent).map(|value| value.start()));
            match found {
                Some(offset) => MergeError::at(message, original, offset),
                None => MergeError::new(message),
            }
        }
    }
}

pub(super) fn owned_values(
    jsonc: bool,
    live: &str,
    pointers: &[Pointer],
) -> Result<BTreeMap<String, Option<Value>>, MergeError> {
    let (_, text) = split_bom(live);
    let root = parse(text, jsonc)?;
    Ok(pointers
        .iter()
        .map(|pointer| {
            let value = root
                .as_ref()
                .and_then(|root| lookup(root, &pointer.segments))
                .map(to_json);
            (pointer.text.clone(), value)
        })
        .collect())
}

pub(super) fn prop_name<'x>(prop: &'x ast::ObjectProp<'_>) -> &'x str {
    match &prop.name {
        ast::ObjectPropName::String(lit) => lit.value.as_ref(),
        ast::ObjectPropName::Word(lit) => lit.value,
    }
}

/// The member named `name`; the last one when the name is duplicated, as serde reads it.
fn last_prop<'x, 'a>(object: &'x ast::Object<'a>, name: &str) -> Option<&'x ast::ObjectProp<'a>> {
    object
        .properties
        .iter()
        .rev()
        .find(|prop| prop_name(prop) == name)
}

pub(super) fn lookup<'x, 'a>(
    root: &'x ast::Value<'a>,
    segments: &[String],
) -> Option<&'x ast::Value<'a>> {
    segments
        .iter()
        .try_fold(root, |current, segment| match current {
            ast::Value::Object(object) => last_prop(object, segment).map(|prop| &prop.value),
            _ => None,
        })
}

pub(super) fn to_json(value: &ast::Value<'_>) -> Value {
    match value {
        ast::Value::StringLit(lit) => Value::String(lit.value.to_string()),
        ast::Value::NumberLit(lit) => lit
            .value
            .parse::<serde_json::Number>()
            .map_or_else(|_| Value::String(lit.value.to_string()), Value::Number),
        ast::Value::BooleanLit(lit) => Value::Bool(lit.value),
        ast::Value::NullKeyword(_) => Value::Null,
        ast::Value::Array(array) => Value::Array(array.elements.iter().map(to_json).collect()),
        ast::Value::Object(object) => Value::Object(
            object
                .properties
                .iter()
                .map(|prop| (prop_name(prop).to_string(), to_json(&prop.value)))
                .collect(),
        ),
    }
}

/// How new text is laid out: the file's line ending and indentation unit.
struct Style {
    newline: &'static str,
    unit: String,
}

impl Style {
    fn detect(text: &str, root: &ast::Object<'_>) -> Style {
        let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
        let unit = root
            .properties
            .iter()
            .find_map(|prop| {
                let start = prop.range.start;
                let lead = &text[line_start(text, start)..start];
                (!lead.is_empty() && lead.chars().all(is_hspace)).then(|| lead.to_string())
            })
            .unwrap_or_else(|| "  ".to_string());
        Style { newline, unit }
    }
}

/// Whether `object` is laid out over several lines: a line break between its braces that is
/// not inside a member's value.
fn is_multiline(text: &str, object: &ast::Object<'_>) -> bool {
    let close = object.range.end - 1;
    let mut from = object.range.start + 1;
    for prop in &object.properties {
        if text[from..prop.range.start].contains(is_line_break) {
            return true;
        }
        from = prop.value.end();
    }
    text[from..close].contains(is_line_break)
}

fn quote(key: &str) -> String {
    Value::String(key.to_string()).to_string()
}

/// `value` as JSON text starting at a line indented by `indent`: multi-line like
/// `JSON.stringify(value, null, unit)`, or on one line (`{"a": [1, 2]}`).
fn render(value: &Value, indent: &str, style: &Style, multiline: bool) -> String {
    let mut out = String::new();
    write_value(&mut out, value, indent, style, multiline);
    out
}

fn write_value(out: &mut String, value: &Value, indent: &str, style: &Style, multiline: bool) {
    let (open, close, items): (char, char, Vec<(Option<&String>, &Value)>) = match value {
        Value::Object(map) if !map.is_empty() => {
            ('{', '}', map.iter().map(|(k, v)| (Some(k), v)).collect())
        }
        Value::Array(array) if !array.is_empty() => {
            ('[', ']', array.iter().map(|v| (None, v)).collect())
        }
        scalar_or_empty => {
            out.push_str(&scalar_or_empty.to_string());
            return;
        }
    };
    let inner = format!("{indent}{}", style.unit);
    out.push(open);
    for (i, (key, item)) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
            if !multiline {
                out.push(' ');
            }
        }
        if multiline {
            out.push_str(style.newline);
            out.push_str(&inner);
        }
        if let Some(key) = key {
            out.push_str(&quote(key));
            out.push_str(": ");
        }
        write_value(out, item, &inner, style, multiline);
    }
    if multiline {
        out.push_str(style.newline);
        out.push_str(indent);
    }
    out.push(close);
}

/// `more` merged into `value` (objects member by member; anything else replaced).
fn deep_merge(value: &mut Value, more: Value) {
    match (value, more) {
        (Value::Object(into), Value::Object(from)) => {
            for (key, item) in from {
                match into.get_mut(&key) {
                    Some(existing) => deep_merge(existing, item),
                    None => {
                        into.insert(key, item);
                    }
                }
            }
        }
        (value, more) => *value = more,
    }
}

/// The new members of one object (and whether it sits where a multi-line layout is expected).
type PendingInsert<'x, 'a> = (&'x ast::Object<'a>, bool, Vec<(String, Value)>);

/// A byte range of the text and what replaces it.
type Edit = (usize, usize, String);

/// Applies non-overlapping edits; edits at the same offset keep their order in `edits`.
fn apply(text: &mut String, edits: Vec<Edit>) {
    let mut indexed: Vec<(usize, Edit)> = edits.into_iter().enumerate().collect();
    indexed.sort_by(|(ia, a), (ib, b)| (b.0, ib).cmp(&(a.0, ia)));
    for (_, (start, end, replacement)) in indexed {
        text.replace_range(start..end, &replacement);
    }
}

struct Doc {
    text: String,
    jsonc: bool,
}

impl Doc {
    fn parse(&self) -> Result<Option<ast::Value<'_>>, OpError> {
        parse(&self.text, self.jsonc)
            .map_err(|e| OpError::Message(format!("internal error: an edit broke the text: {e}")))
    }

    /// Writes `value` at `pointer`, creating missing parents.
    fn set(&mut self, pointer: &Pointer, value: &Value) -> Result<(), OpError> {
        if self.parse()?.is_none() {
            // A file holding only whitespace or comments: give it a top-level object.
            let newline = if self.text.contains("\r\n") {
                "\r\n"
            } else {
                "\n"
            };
            if !self.text.is_empty() && !self.text.ends_with(is_line_break) {
                self.text.push_str(newline);
            }
            self.text.push_str("{}");
            self.text.push_str(newline);
        }
        let edits = {
            let Some(root) = self.parse()? else {
                return Err(OpError::Message(
                    "internal error: no top-level value".into(),
                ));
            };
            let ast::Value::Object(root_object) = &root else {
                return Err(OpError::NotContainer {
                    pointer: pointer.text.clone(),
                    parent: Vec::new(),
                });
            };
            set_edits(&self.text, root_object, pointer, value)?
        };
        apply(&mut self.text, edits);
        Ok(())
    }

    /// Writes every `(pointer, value)` (none inside another) from one parse: replacements
    /// in place, and the new members of each object as one insertion, so a file that gains
    /// 1,000 servers is parsed once, not 1,000 times.
    fn set_all(&mut self, sets: &[(&Pointer, &Value)]) -> Result<(), OpError> {
        let Some(((first, first_value), rest)) = sets.split_first() else {
            return Ok(());
        };
        if self.parse()?.is_none() {
            // Only whitespace or comments: the first write gives the file its object.
            self.set(first, first_value)?;
            return self.set_all(rest);
        }
        let edits = {
            let Some(root) = self.parse()? else {
                return Err(OpError::Message(
                    "internal error: no top-level value".into(),
                ));
            };
            let ast::Value::Object(root_object) = &root else {
                return Err(OpError::NotContainer {
                    pointer: first.text.clone(),
                    parent: Vec::new(),
                });
            };
            let text = self.text.as_str();
            let style = Style::detect(text, root_object);
            let mut edits = Vec::new();
            // New members per object (keyed by where it starts), in the order of `sets`.
            let mut inserts: BTreeMap<usize, PendingInsert<'_, '_>> = BTreeMap::new();
            for (pointer, value) in sets {
                let segments = &pointer.segments;
                let mut object = root_object;
                let mut roomy = true;
                for (i, segment) in segments.iter().enumerate() {
                    let Some(prop) = last_prop(object, segment) else {
                        let nested = nest(&segments[i + 1..], value);
                        let members = &mut inserts
                            .entry(object.range.start)
                            .or_insert_with(|| (object, roomy, Vec::new()))
                            .2;
                        // Two keys below one new member (`a.x`, `a.y`): one member holding both.
                        match members.iter_mut().find(|(key, _)| key == segment) {
                            Some((_, existing)) => deep_merge(existing, nested),
                            None => members.push((segment.clone(), nested)),
                        }
                        break;
                    };
                    if i + 1 == segments.len() {
                        edits.extend(replace_edits(text, object, prop, value, &style));
                        break;
                    }
                    match &prop.value {
                        ast::Value::Object(child) => {
                            roomy = is_multiline(text, object);
                            object = child;
                        }
                        _ => {
                            return Err(OpError::NotContainer {
                                pointer: pointer.text.clone(),
                                parent: segments[..=i].to_vec(),
                            });
                        }
                    }
                }
            }
            for (object, roomy, members) in inserts.values() {
                edits.extend(insert_edits(text, object, members, *roomy, &style));
            }
            edits
        };
        apply(&mut self.text, edits);
        Ok(())
    }

    /// Removes every member at `segments`, if present.
    fn remove(&mut self, segments: &[String]) -> Result<(), OpError> {
        let Some((key, parents)) = segments.split_last() else {
            return Ok(());
        };
        loop {
            let edits = {
                let Some(root) = self.parse()? else {
                    return Ok(());
                };
                let Some(ast::Value::Object(object)) = lookup(&root, parents) else {
                    return Ok(());
                };
                let Some(index) = object.properties.iter().rposition(|p| prop_name(p) == key)
                else {
                    return Ok(());
                };
                removal_edits(&self.text, object, index)
            };
            apply(&mut self.text, edits);
        }
    }
}

fn set_edits(
    text: &str,
    root: &ast::Object<'_>,
    pointer: &Pointer,
    value: &Value,
) -> Result<Vec<Edit>, OpError> {
    let style = Style::detect(text, root);
    let segments = &pointer.segments;
    let mut object = root;
    // Whether `object` sits where a multi-line layout is expected: the top level, or a
    // member of a multi-line object.
    let mut roomy = true;
    for (i, segment) in segments.iter().enumerate() {
        let Some(prop) = last_prop(object, segment) else {
            let nested = nest(&segments[i + 1..], value);
            return Ok(insert_edits(
                text,
                object,
                &[(segment.clone(), nested)],
                roomy,
                &style,
            ));
        };
        if i + 1 == segments.len() {
            return Ok(replace_edits(text, object, prop, value, &style));
        }
        match &prop.value {
            ast::Value::Object(child) => {
                roomy = is_multiline(text, object);
                object = child;
            }
            _ => {
                return Err(OpError::NotContainer {
                    pointer: pointer.text.clone(),
                    parent: segments[..=i].to_vec(),
                });
            }
        }
    }
    Ok(Vec::new())
}

fn replace_edits(
    text: &str,
    object: &ast::Object<'_>,
    prop: &ast::ObjectProp<'_>,
    value: &Value,
    style: &Style,
) -> Vec<Edit> {
    if to_json(&prop.value) == *value {
        return Vec::new();
    }
    let indent = line_indent(text, prop.range.start);
    let rendered = render(value, indent, style, is_multiline(text, object));
    vec![(prop.value.start(), prop.value.end(), rendered)]
}

/// The indentation of a new member of `object`: that of its last member that starts a line,
/// else one unit more than the line holding the `{`.
fn member_indent(text: &str, object: &ast::Object<'_>, style: &Style) -> String {
    object
        .properties
        .iter()
        .rev()
        .find_map(|prop| {
            let start = prop.range.start;
            let lead = &text[line_start(text, start)..start];
            lead.chars().all(is_hspace).then(|| lead.to_string())
        })
        .unwrap_or_else(|| format!("{}{}", line_indent(text, object.range.start), style.unit))
}

fn insert_edits(
    text: &str,
    object: &ast::Object<'_>,
    members: &[(String, Value)],
    roomy: bool,
    style: &Style,
) -> Vec<Edit> {
    let open = object.range.start;
    let close = object.range.end - 1;
    let newline = style.newline;
    let multiline = is_multiline(text, object);
    // `"key": value` for each member, laid out at `indent` (multi-line) or inline.
    let lay = |indent: &str, multi: bool| -> Vec<String> {
        members
            .iter()
            .map(|(key, value)| format!("{}: {}", quote(key), render(value, indent, style, multi)))
            .collect()
    };
    if let Some(last) = object.properties.last() {
        let end = last.value.end();
        let after = skip_trivia(text, end);
        let trailing_comma = text[after..].starts_with(',');
        if multiline {
            // New lines after the last member and whatever comment ends its line.
            let indent = member_indent(text, object, style);
            let lines: Vec<String> = lay(&indent, true)
                .into_iter()
                .map(|member| format!("{newline}{indent}{member}"))
                .collect();
            if trailing_comma {
                let at = skip_line_trivia(text, after + 1);
                vec![(at, at, lines.iter().map(|m| format!("{m},")).collect())]
            } else {
                let at = skip_line_trivia(text, end);
                vec![(end, end, ",".to_string()), (at, at, lines.join(","))]
            }
        } else {
            let inline = lay("", false);
            if trailing_comma {
                vec![(
                    after + 1,
                    after + 1,
                    inline.iter().map(|m| format!(" {m},")).collect(),
                )]
            } else {
                vec![(end, end, inline.iter().map(|m| format!(", {m}")).collect())]
            }
        }
    } else {
        let interior = &text[open + 1..close];
        let content_end = open + 1 + interior.trim_end().len();
        if interior.trim().is_empty() && roomy {
            let outer = line_indent(text, open);
            let indent = format!("{outer}{}", style.unit);
            let joined = lay(&indent, true).join(&format!(",{newline}{indent}"));
            vec![(
                open + 1,
                close,
                format!("{newline}{indent}{joined}{newline}{outer}"),
            )]
        } else if interior.trim().is_empty() {
            vec![(open + 1, close, lay("", false).join(", "))]
        } else if multiline {
            // Only comments inside: the members go on new lines after them.
            let indent = format!("{}{}", line_indent(text, open), style.unit);
            let lines: Vec<String> = lay(&indent, true)
                .into_iter()
                .map(|member| format!("{newline}{indent}{member}"))
                .collect();
            vec![(content_end, content_end, lines.join(","))]
        } else {
            let inline: Vec<String> = lay("", false)
                .into_iter()
                .map(|m| format!(" {m}"))
                .collect();
            vec![(content_end, content_end, inline.join(","))]
        }
    }
}

/// Edits removing member `index` of `object` with the comma that separates it.
fn removal_edits(text: &str, object: &ast::Object<'_>, index: usize) -> Vec<Edit> {
    let props = &object.properties;
    let prop = &props[index];
    let start = prop.range.start;
    let end = prop.value.end();
    let after = skip_trivia(text, end);
    let has_comma = text[after..].starts_with(',');
    let comma_end = if has_comma { after + 1 } else { end };
    // The comma after the previous member, which separates it from this one.
    let previous_comma = index
        .checked_sub(1)
        .map(|i| skip_trivia(text, props[i].value.end()))
        .filter(|&at| text[at..].starts_with(','));
    let starts_line = {
        let from = line_start(text, start);
        line_break_before(text, from) > 0 && text[from..start].chars().all(is_hspace)
    };
    let line_rest = skip_line_trivia(text, comma_end);
    let ends_line = line_rest == text.len() || text[line_rest..].starts_with(is_line_break);
    let line_break_start = {
        let from = line_start(text, start);
        from - line_break_before(text, from)
    };
    let mut edits = Vec::new();
    if starts_line {
        if !has_comma && let Some(comma) = previous_comma {
            edits.push((comma, comma + 1, String::new()));
        }
        if ends_line {
            // The member's whole line, with the comment after it, and the line break before.
            edits.push((line_break_start, line_rest, String::new()));
        } else if has_comma {
            edits.push((start, skip_hspace(text, comma_end), String::new()));
        } else {
            edits.push((line_break_start, end, String::new()));
        }
    } else {
        match (has_comma, previous_comma) {
            (true, Some(comma)) => edits.push((comma + 1, comma_end, String::new())),
            (true, None) => edits.push((start, skip_hspace(text, comma_end), String::new())),
            (false, Some(comma)) => edits.push((comma, end, String::new())),
            (false, None) => {
                // The only member, inline (`{ "x": 1 }`): with the space before it.
                let before = text[..start].trim_end_matches(is_hspace).len();
                edits.push((before, end, String::new()));
            }
        }
    }
    if props.len() == 1 {
        // The object is left empty: `{}` unless comments remain inside.
        let open = object.range.start;
        let close = object.range.end - 1;
        let mut interior = text[open + 1..close].to_string();
        let shifted = edits
            .iter()
            .map(|(s, e, r)| (s - open - 1, e - open - 1, r.clone()))
            .collect();
        apply(&mut interior, shifted);
        if interior.trim().is_empty() {
            return vec![(open + 1, close, String::new())];
        }
    }
    edits
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::merge::tests::ok;
    use crate::merge::{MergeFormat, merge};

    #[test]
    fn json_missing_file_gets_the_fragment_pretty_printed() {
        let fragment = json!({"mcpServers": {"memory": {"command": "npx", "args": ["-y", "m"]}}, "version": 2});
        let out = ok(
            MergeFormat::Json,
            None,
            &fragment,
            &["/mcpServers/memory", "/version"],
            &[],
        );
        assert_eq!(
            out,
            "{\n  \"mcpServers\": {\n    \"memory\": {\n      \"args\": [\n        \"-y\",\n        \"m\"\n      ],\n      \"command\": \"npx\"\n    }\n  },\n  \"version\": 2\n}\n"
        );
        assert_eq!(ok(MergeFormat::Json, None, &json!({}), &[], &[]), "{}\n");
    }

    /// What writing each key on its own (a parse per key, as before) gives.
    fn one_by_one(live: &str, jsonc: bool, sets: &[(&str, serde_json::Value)]) -> String {
        let mut doc = super::Doc {
            text: live.to_string(),
            jsonc,
        };
        for (pointer, value) in sets {
            let pointer = crate::merge::parse_pointer(pointer).expect("pointer");
            doc.set(&pointer, value).expect("set");
        }
        doc.text
    }

    fn all_at_once(live: &str, jsonc: bool, sets: &[(&str, serde_json::Value)]) -> String {
        let mut doc = super::Doc {
            text: live.to_string(),
            jsonc,
        };
        let pointers: Vec<crate::merge::Pointer> = sets
            .iter()
            .map(|(p, _)| crate::merge::parse_pointer(p).expect("pointer"))
            .collect();
        let batch: Vec<(&crate::merge::Pointer, &serde_json::Value)> =
            pointers.iter().zip(sets.iter().map(|(_, v)| v)).collect();
        doc.set_all(&batch).expect("set_all");
        doc.text
    }

    #[test]
    fn writing_every_key_from_one_parse_gives_the_text_one_parse_per_key_gives() {
        let lives = [
            (
                "{\n  \"theme\": \"dark\",\n  \"mcpServers\": {\n    \"mine\": {}\n  }\n}\n",
                false,
            ),
            (
                "{\"theme\": \"dark\", \"mcpServers\": {\"mine\": 1}}",
                false,
            ),
            (
                "{\n  // user\n  \"mcpServers\": {\n    \"mine\": 1, // mine\n  },\n}\n",
                true,
            ),
            ("{}\n", false),
            ("{\n}\n", false),
            ("{\n  // only a comment\n}\n", true),
            (
                "{\r\n\t\"mcpServers\": {\r\n\t\t\"mine\": 1\r\n\t}\r\n}\r\n",
                false,
            ),
            ("{\"mcpServers\": {}}", false),
        ];
        // Sorted, as a plan's writes are (owned keys are kept sorted).
        let sets = [
            (
                "/mcpServers/a",
                json!({"command": "npx", "args": ["-y", "a"]}),
            ),
            ("/mcpServers/b", json!("two")),
            ("/mcpServers/mine", json!({"command": "replaced"})),
            ("/new/x", json!(1)),
            ("/new/y", json!([1, 2])),
            ("/theme", json!("light")),
            ("/top", json!(true)),
        ];
        let mut compared = 0;
        for (live, jsonc) in lives {
            for n in 1..=sets.len() {
                assert_eq!(
                    all_at_once(live, jsonc, &sets[..n]),
                    one_by_one(live, jsonc, &sets[..n]),
                    "{live:?} with the first {n} keys"
                );
                compared += 1;
            }
        }
        assert_eq!(compared, 56);
    }

    #[test]
    fn json_empty_object_and_empty_file() {
        let fragment = json!({"a": {"b": 1}});
        assert_eq!(
            ok(MergeFormat::Json, Some("{}"), &fragment, &["/a/b"], &[]),
            "{\n  \"a\": {\n    \"b\": 1\n  }\n}"
        );
        assert_eq!(
            ok(MergeFormat::Json, Some(""), &fragment, &["/a"], &[]),
            "{\n  \"a\": {\n    \"b\": 1\n  }\n}\n"
        );
        assert_eq!(
            ok(
                MergeFormat::Jsonc,
                Some("// settings\n"),
                &fragment,
                &["/a"],
                &[]
            ),
            "// settings\n{\n  \"a\": {\n    \"b\": 1\n  }\n}\n"
        );
        // Nothing to write: an empty file stays empty.
        assert_eq!(ok(MergeFormat::Json, Some(""), &fragment, &[], &["/a"]), "");
    }

    #[test]
    fn jsonc_replaces_an_owned_server_keeping_user_servers_and_comments() {
        let live = r#"{
    // my editor settings
    "theme": "dark", /* block */
    "mcpServers": {
        // mine
        "user": { "command": "x" },
        "memory": {"command": "old"}, // kiln's
        /* also mine */
        "other": [1,2,3]
    }
}
"#;
        let fragment = json!({"mcpServers": {"memory": {"command": "npx", "args": []}}});
        let out = ok(
            MergeFormat::Jsonc,
            Some(live),
            &fragment,
            &["/mcpServers/memory"],
            &[],
        );
        assert_eq!(
            out,
            r#"{
    // my editor settings
    "theme": "dark", /* block */
    "mcpServers": {
        // mine
        "user": { "command": "x" },
        "memory": {
            "args": [],
            "command": "npx"
        }, // kiln's
        /* also mine */
        "other": [1,2,3]
    }
}
"#
        );
    }

    #[test]
    fn json_inserts_after_the_last_member_with_sibling_indentation() {
        let live = "{\n\t\"a\": 1, // one\n\t\"b\": {\n\t\t\"c\": true\n\t}\n\n}\n";
        let out = ok(
            MergeFormat::Jsonc,
            Some(live),
            &json!({"b": {"d": [1]}, "e": null}),
            &["/b/d", "/e"],
            &[],
        );
        assert_eq!(
            out,
            "{\n\t\"a\": 1, // one\n\t\"b\": {\n\t\t\"c\": true,\n\t\t\"d\": [\n\t\t\t1\n\t\t]\n\t},\n\t\"e\": null\n\n}\n"
        );
        // Single-line objects stay single-line.
        let out = ok(
            MergeFormat::Json,
            Some(r#"{"a": {"x": 1}}"#),
            &json!({"a": {"y": {"z": 2}}}),
            &["/a/y"],
            &[],
        );
        assert_eq!(out, r#"{"a": {"x": 1, "y": {"z": 2}}}"#);
        // Trailing commas are kept in style.
        let out = ok(
            MergeFormat::Jsonc,
            Some("{\n  \"a\": 1,\n}\n"),
            &json!({"b": 2}),
            &["/b"],
            &[],
        );
        assert_eq!(out, "{\n  \"a\": 1,\n  \"b\": 2,\n}\n");
        let out = ok(
            MergeFormat::Jsonc,
            Some(r#"{"a": 1,}"#),
            &json!({"b": 2}),
            &["/b"],
            &[],
        );
        assert_eq!(out, r#"{"a": 1, "b": 2,}"#);
        assert_eq!(
            ok(MergeFormat::Jsonc, Some(&out), &json!({}), &[], &["/b"]),
            r#"{"a": 1,}"#
        );
    }

    #[test]
    fn json_removes_previously_owned_keys() {
        let live = "{\r\n  // keep me\r\n  \"old\": 1, // old's\r\n  \"user\": 2,\r\n  \"gone\": {\r\n    \"x\": 1\r\n  }\r\n}\r\n";
        let out = ok(
            MergeFormat::Jsonc,
            Some(live),
            &json!({}),
            &[],
            &["/old", "/gone", "/absent/deep"],
        );
        assert_eq!(out, "{\r\n  // keep me\r\n  \"user\": 2\r\n}\r\n");
        // An owned key the fragment lacks is removed too; the object collapses to `{}`.
        let out = ok(
            MergeFormat::Json,
            Some("{\n  \"a\": {\n    \"k\": 1\n  }\n}"),
            &json!({}),
            &["/a/k"],
            &[],
        );
        assert_eq!(out, "{\n  \"a\": {}\n}");
        let out = ok(
            MergeFormat::Json,
            Some(r#"{"a": 1, "k": 2, "b": 3}"#),
            &json!({}),
            &["/k"],
            &[],
        );
        assert_eq!(out, r#"{"a": 1, "b": 3}"#);
        // Duplicates are all removed.
        let out = ok(
            MergeFormat::Json,
            Some(r#"{"k": 1, "a": 1, "k": 2}"#),
            &json!({}),
            &["/k"],
            &[],
        );
        assert_eq!(out, r#"{"a": 1}"#);
    }

    #[test]
    fn json_creates_nested_parents() {
        let live = "{\n  \"hooks\": {}\n}\n";
        let fragment = json!({"hooks": {"PreToolUse": [{"matcher": "*"}]}, "a": {"b": {"c": "d"}}});
        let out = ok(
            MergeFormat::Json,
            Some(live),
            &fragment,
            &["/hooks/PreToolUse", "/a/b/c"],
            &[],
        );
        assert_eq!(
            out,
            "{\n  \"hooks\": {\n    \"PreToolUse\": [\n      {\n        \"matcher\": \"*\"\n      }\n    ]\n  },\n  \"a\": {\n    \"b\": {\n      \"c\": \"d\"\n    }\n  }\n}\n"
        );
    }

    #[test]
    fn strict_json_refuses_comments_and_trailing_commas() {
        let commented = "{\n  // c\n  \"a\": 1\n}";
        let error = merge(MergeFormat::Json, Some(commented), &json!({}), &[], &[]).unwrap_err();
        assert_eq!((error.line, error.column), (2, 3));
        assert!(error.message.contains("Comments"), "{error}");
        assert!(merge(MergeFormat::Json, Some("{\"a\": 1,}"), &json!({}), &[], &[]).is_err());
        assert!(merge(MergeFormat::Jsonc, Some(commented), &json!({}), &[], &[]).is_ok());
        assert!(
            merge(
                MergeFormat::Jsonc,
                Some("{\"a\": 1,}"),
                &json!({}),
                &[],
                &[]
            )
            .is_ok()
        );
        // JSON5 is not JSONC.
        assert!(merge(MergeFormat::Jsonc, Some("{a: 0x1}"), &json!({}), &[], &[]).is_err());
    }

    #[test]
    fn jsonc_keeps_line_and_block_comments() {
        let live = "/* header */\n{\n  \"a\": 1, // one\n  /* before b */ \"b\": 2\n  // end\n}\n// trailer\n";
        let out = ok(
            MergeFormat::Jsonc,
            Some(live),
            &json!({"c": {"d": 3}, "b": 5}),
            &["/c/d", "/b"],
            &[],
        );
        assert_eq!(
            out,
            "/* header */\n{\n  \"a\": 1, // one\n  /* before b */ \"b\": 5,\n  \"c\": {\n    \"d\": 3\n  }\n  // end\n}\n// trailer\n"
        );
        let out = ok(
            MergeFormat::Jsonc,
            Some("{\n  // nothing yet\n}"),
            &json!({"k": 1}),
            &["/k"],
            &[],
        );
        assert_eq!(out, "{\n  // nothing yet\n  \"k\": 1\n}");
    }
}
