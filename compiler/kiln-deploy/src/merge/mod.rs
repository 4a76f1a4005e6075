//! Merging kiln's keys into files a tool shares with the user.
//!
//! Some tools keep kiln's output and the user's own settings in one file: `~/.claude.json`,
//! `.cursor/mcp.json`, `.zed/settings.json` (JSONC, with comments), `~/.codex/config.toml`. For
//! those, kiln builds a *fragment*: a JSON document holding only the keys kiln owns, and the list
//! of owned keys as JSON pointers (`/mcpServers/memory`, `/hooks/PreToolUse`, `/version`,
//! `/mcp_servers/context7`). [`merge`] writes the fragment into the live file so that only the
//! owned keys change.
//!
//! # What is preserved, and why
//!
//! The file is the user's, so a deploy must read as a minimal diff and never lose their work:
//! every byte outside kiln's owned members stays as it was: other keys and their values, key
//! order, comments, blank lines, indentation, line endings (LF or CRLF), number spelling (`1.50`,
//! `0x1F`, `1_000`), string quoting, inline tables. Concretely:
//!
//! - **Replacing** an owned key rewrites only its value; the key, the comments above it and the
//!   comment after it on the same line stay. A value that already equals the fragment's (compared
//!   as JSON values) is not touched at all, so a redeploy is byte-for-byte idempotent and the
//!   user may reformat kiln's keys without kiln reformatting them back.
//! - **Inserting** appends the member at the end of its parent, indented like its siblings
//!   (or one level deeper than the parent when it has none), using the file's line ending; in a
//!   single-line JSON object it is written inline. Missing parents are created. JSON gets the
//!   usual two-level pretty layout (`JSON.stringify(v, null, indent)`); TOML gets a standard
//!   `[a.b]` table for an object value unless the parent is inline or dotted, in which case the
//!   new table follows the parent's style.
//! - **Removing** deletes the member's own line(s), including a comment on the same line after
//!   it; comment lines above it stay (in TOML they are moved onto whatever now follows, since
//!   `toml_edit` stores a comment with the item below it). Blank lines above a removed TOML
//!   member go with it unless they frame a comment, so that removing a table kiln once added
//!   leaves the file exactly as it was before. A previously owned key inside a key kiln now
//!   writes is left to that write; a previously owned key that is now the parent of a written
//!   key (kiln owned `/a`, now owns `/a/b`) is emptied except for the way to the written keys
//!   rather than deleted and re-created, so it keeps its place.
//! - A live text that does not parse is an error, never replaced: JSON must be strict JSON (no
//!   comments, no trailing commas, no raw control characters in strings), JSONC may have
//!   comments and trailing commas (but none of JSON5's other extensions), TOML must be valid
//!   TOML. An empty (or, in JSONC, comment-only) file is taken as holding no keys. An owned key
//!   whose parent exists but is not an object/table is an error too (kiln never clobbers the
//!   user's data to make room).
//!
//! JSON and JSONC are edited by splicing bytes: `jsonc_parser`'s AST gives each member's byte
//! range, and every change is computed as "replace this range with that text", so bytes outside
//! the ranges cannot change. (The crate's CST editing API was tried first, but its `append`
//! normalises the whole container: it drops blank lines at the start and end of the object and
//! reflows a single-line object onto several lines, which touches bytes kiln does not own.)
//! TOML is edited through `toml_edit::DocumentMut`, which keeps every item's formatting
//! ("decor") and renders unchanged items exactly as parsed. Its habits are corrected here: it
//! writes LF after every line, so a CRLF file is edited as LF and converted back; it writes
//! strings containing line breaks as multi-line strings, so kiln writes its strings as
//! single-line escaped strings instead; and where it does not reproduce the parsed file exactly,
//! its changes are carried over to the original lines (see `lines::carry_over`).
//!
//! # Limitations
//!
//! - An empty JSON object written with inner whitespace (`{ }`) is rewritten as a multi-line
//!   object when a member is inserted into it, and becomes `{}` when its last member is removed.
//! - Removing a JSON member that shares a line with other syntax (`{"a": 1, /* c */ "x": 2}`)
//!   also removes comments between it and its neighbours on that line.
//! - Where `toml_edit` cannot reproduce a file exactly (it normalises a few spellings, such as
//!   the spacing in `[ a . b ]` after a separate `[a]`, or a mix of LF and CRLF), kiln's changes
//!   are carried over to the user's own lines by a line-wise three-way merge; a line kiln changes
//!   that `toml_edit` normalises gets the normalised spelling.
//! - Removing the last key of a TOML table leaves its `[header]`, since kiln cannot know whether
//!   the user wrote it; a header kiln itself never wrote (an implicit parent) disappears.
//! - A TOML table written with dotted keys (`a.b = 1`) that kiln empties becomes `a = {}` (an
//!   empty dotted table would not be written at all), and stays an inline table afterwards.
//! - JSON `null` has no TOML spelling, nor do integers beyond `i64`: writing them is an error.
//! - Duplicate JSON keys are read as the last one wins (as serde does); removal removes them all.

mod json;
mod lines;
#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
mod toml;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

pub use kiln_model::MergeFormat;

/// Why a merge could not be done (the live file does not parse, or an owned key's parent is not a
/// table/object).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeError {
    /// What is wrong, without the position.
    pub message: String,
    /// 1-based line in the live text, or 0 when unknown.
    pub line: usize,
    /// 1-based column (in characters) in the live text, or 0 when unknown.
    pub column: usize,
}

impl MergeError {
    fn new(message: impl Into<String>) -> MergeError {
        MergeError {
            message: message.into(),
            line: 0,
            column: 0,
        }
    }

    /// An error at byte `offset` of `text`.
    fn at(message: impl Into<String>, text: &str, offset: usize) -> MergeError {
        let (line, column) = line_column(text, offset);
        MergeError {
            message: message.into(),
            line,
            column,
        }
    }
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "{} (line {}, column {})",
                self.message, self.line, self.column
            )
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for MergeError {}

/// Merges kiln's keys into a shared file.
///
/// `live` is the current text, or `None` when the file does not exist yet: then the result is
/// the fragment's owned keys, pretty-printed, with a trailing newline.
///
/// For every pointer in `owned`, the value at that pointer in `fragment` replaces (or is inserted
/// at) the same pointer in `live`, creating missing parent objects/tables; if `fragment` lacks
/// it, the key is removed from `live`. Every pointer in `previously_owned` that is not in `owned`
/// is removed from `live` if present. Everything else in `live` is preserved byte for byte (see
/// the module documentation for the exact rules).
///
/// # Errors
///
/// When `live` does not parse in `format`, when a pointer is malformed, when an owned key's
/// parent exists but is not an object/table, or when a value cannot be written in TOML (`null`,
/// integers beyond `i64`).
pub fn merge(
    format: MergeFormat,
    live: Option<&str>,
    fragment: &Value,
    owned: &[String],
    previously_owned: &[String],
) -> Result<String, MergeError> {
    let plan = Plan::new(fragment, owned, previously_owned)?;
    match format {
        MergeFormat::Json => json::merge(false, live, &plan),
        MergeFormat::Jsonc => json::merge(true, live, &plan),
        MergeFormat::Toml => toml::merge(live, &plan),
    }
}

/// The current values at `owned` pointers in a live text (`None` = absent), to detect whether the
/// user edited kiln's keys since the last deploy. TOML values are converted to JSON: datetimes
/// become their TOML spelling as a string, and so do non-finite floats (`nan`, `inf`, `-inf`).
///
/// # Errors
///
/// When `live` does not parse in `format` or a pointer is malformed.
pub fn owned_values(
    format: MergeFormat,
    live: &str,
    owned: &[String],
) -> Result<BTreeMap<String, Option<Value>>, MergeError> {
    let pointers = owned
        .iter()
        .map(|text| parse_pointer(text))
        .collect::<Result<Vec<_>, _>>()?;
    match format {
        MergeFormat::Json => json::owned_values(false, live, &pointers),
        MergeFormat::Jsonc => json::owned_values(true, live, &pointers),
        MergeFormat::Toml => toml::owned_values(live, &pointers),
    }
}

/// Another writer's changes carried onto kiln's text: `changed` is what that writer made of
/// `base`; every member it added, changed or removed (compared as values, objects walked
/// member by member, anything else taken whole) is applied to `onto`, where everything else
/// stays byte for byte. Used when a compare-and-swap finds that a write of `base` displaced
/// another program's write, so that write is kept instead of lost.
///
/// # Errors
///
/// When a text does not parse in `format` or its top level is not an object/table.
pub fn rebase(
    format: MergeFormat,
    onto: &str,
    base: Option<&str>,
    changed: &str,
) -> Result<String, MergeError> {
    let base = document_value(format, base)?;
    let changed = document_value(format, Some(changed))?;
    let mut pointers = Vec::new();
    changed_members(Some(&base), Some(&changed), &mut Vec::new(), &mut pointers);
    if pointers.is_empty() {
        return Ok(onto.to_string());
    }
    merge(format, Some(onto), &changed, &pointers, &[])
}

/// A whole document as a JSON value (an absent or empty one is `{}`).
fn document_value(format: MergeFormat, text: Option<&str>) -> Result<Value, MergeError> {
    let Some(text) = text else {
        return Ok(Value::Object(Map::new()));
    };
    let (_, text) = split_bom(text);
    let value = match format {
        MergeFormat::Json | MergeFormat::Jsonc => {
            json::parse(text, format == MergeFormat::Jsonc)?.map(|root| json::to_json(&root))
        }
        MergeFormat::Toml => toml::document_json(text)?,
    }
    .unwrap_or_else(|| Value::Object(Map::new()));
    if value.is_object() {
        Ok(value)
    } else {
        Err(MergeError::new("the top level is not an object"))
    }
}

/// The pointers of the members that differ between two values, walking objects.
fn changed_members(
    before: Option<&Value>,
    after: Option<&Value>,
    path: &mut Vec<String>,
    out: &mut Vec<String>,
) {
    match (before, after) {
        (Some(Value::Object(before)), Some(Value::Object(after))) => {
            let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
            for key in keys {
                path.push(key.clone());
                changed_members(before.get(key), after.get(key), path, out);
                path.pop();
            }
        }
        (before, after) if before != after => out.push(pointer_text(path)),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Pointers and the plan

/// A parsed RFC 6901 pointer to an object member.
#[derive(Clone, Debug)]
struct Pointer {
    text: String,
    segments: Vec<String>,
}

fn parse_pointer(text: &str) -> Result<Pointer, MergeError> {
    let Some(rest) = text.strip_prefix('/') else {
        return Err(MergeError::new(format!(
            "`{text}` is not a JSON pointer to a member (it must start with `/`)"
        )));
    };
    let mut segments = Vec::new();
    for raw in rest.split('/') {
        let mut segment = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c == '~' {
                match chars.next() {
                    Some('0') => segment.push('~'),
                    Some('1') => segment.push('/'),
                    _ => {
                        return Err(MergeError::new(format!(
                            "`{text}` is not a valid JSON pointer (`~` must be followed by `0` or `1`)"
                        )));
                    }
                }
            } else {
                segment.push(c);
            }
        }
        segments.push(segment);
    }
    Ok(Pointer {
        text: text.to_string(),
        segments,
    })
}

/// The RFC 6901 spelling of a path.
fn pointer_text(segments: &[String]) -> String {
    segments
        .iter()
        .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// The value at `segments` in `value`, walking objects only.
fn json_get<'v>(value: &'v Value, segments: &[String]) -> Option<&'v Value> {
    segments
        .iter()
        .try_fold(value, |current, segment| current.as_object()?.get(segment))
}

/// `value` nested under `segments`: `["a", "b"]`, `1` gives `{"a": {"b": 1}}`.
fn nest(segments: &[String], value: &Value) -> Value {
    segments.iter().rev().fold(value.clone(), |inner, segment| {
        let mut map = Map::new();
        map.insert(segment.clone(), inner);
        Value::Object(map)
    })
}

/// What a merge does, in order: removals first, then writes.
struct Plan {
    removals: Vec<Pointer>,
    sets: Vec<(Pointer, Value)>,
}

impl Plan {
    fn new(
        fragment: &Value,
        owned: &[String],
        previously_owned: &[String],
    ) -> Result<Plan, MergeError> {
        let mut owned_paths = BTreeSet::new();
        let mut owned_pointers = Vec::new();
        for text in owned {
            let pointer = parse_pointer(text)?;
            if owned_paths.insert(pointer.segments.clone()) {
                owned_pointers.push(pointer);
            }
        }
        let mut removed_paths = BTreeSet::new();
        let mut removals = Vec::new();
        for text in previously_owned {
            let pointer = parse_pointer(text)?;
            if !owned_paths.contains(&pointer.segments)
                && removed_paths.insert(pointer.segments.clone())
            {
                removals.push(pointer);
            }
        }
        let mut sets = Vec::new();
        for pointer in owned_pointers {
            match json_get(fragment, &pointer.segments) {
                Some(value) => sets.push((pointer, value.clone())),
                None => removals.push(pointer),
            }
        }
        Ok(Plan { removals, sets })
    }

    /// The members to delete from a live document whose value is `live`. A previously owned
    /// key inside a key kiln now writes is left to that write. A removed key that is a parent of
    /// a key kiln now writes (kiln owned `/a`, now owns `/a/b`) is pruned rather than deleted:
    /// everything in it goes except the way to the written keys, so the parent keeps its place
    /// and a second merge finds nothing to do.
    fn concrete_removals(&self, live: &Value) -> Vec<Vec<String>> {
        fn prune(
            value: &Value,
            path: &mut Vec<String>,
            kept: &[&Vec<String>],
            out: &mut Vec<Vec<String>>,
        ) {
            let Value::Object(map) = value else {
                out.push(path.clone());
                return;
            };
            for (key, child) in map {
                path.push(key.clone());
                if !kept.iter().any(|k| **k == *path) {
                    if kept.iter().any(|k| k.starts_with(path)) {
                        prune(child, path, kept, out);
                    } else {
                        out.push(path.clone());
                    }
                }
                path.pop();
            }
        }
        let mut out = Vec::new();
        for pointer in &self.removals {
            let path = &pointer.segments;
            if self
                .sets
                .iter()
                .any(|(set, _)| path.starts_with(&set.segments))
            {
                continue;
            }
            let kept: Vec<&Vec<String>> = self
                .sets
                .iter()
                .map(|(set, _)| &set.segments)
                .filter(|set| set.starts_with(path))
                .collect();
            match json_get(live, path) {
                Some(value) if !kept.is_empty() => prune(value, &mut path.clone(), &kept, &mut out),
                _ => out.push(path.clone()),
            }
        }
        out
    }
}

/// Why one write failed, before it is given a position in the live text.
#[derive(Debug)]
enum OpError {
    /// The value at `parent` (a proper prefix of `pointer`) is not an object/table.
    NotContainer {
        pointer: String,
        parent: Vec<String>,
    },
    /// Anything else.
    Message(String),
}

// ---------------------------------------------------------------------------------------------
// Text helpers

/// 1-based line and column (in characters) of byte `offset`; `\n`, `\r\n` and a lone `\r` end
/// lines, as in `jsonc_parser`'s own errors.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let mut line = 1;
    let mut column = 1;
    let bytes = text.as_bytes();
    for (i, c) in text[..offset].char_indices() {
        if c == '\n' || (c == '\r' && bytes.get(i + 1) != Some(&b'\n')) {
            line += 1;
            column = 1;
        } else if c != '\r' {
            column += 1;
        }
    }
    (line, column)
}

fn split_bom(text: &str) -> (&str, &str) {
    match text.strip_prefix('\u{feff}') {
        Some(rest) => ("\u{feff}", rest),
        None => ("", text),
    }
}

/// Whitespace that does not end a line.
fn is_hspace(c: char) -> bool {
    c.is_whitespace() && c != '\n' && c != '\r'
}

fn is_line_break(c: char) -> bool {
    c == '\n' || c == '\r'
}

/// Byte offset of the start of the line holding `pos`.
fn line_start(text: &str, pos: usize) -> usize {
    text[..pos].rfind(is_line_break).map_or(0, |i| i + 1)
}

/// Length of the line break ending just before `pos` (0 when none).
fn line_break_before(text: &str, pos: usize) -> usize {
    let before = &text[..pos];
    if before.ends_with("\r\n") {
        2
    } else if before.ends_with(is_line_break) {
        1
    } else {
        0
    }
}

/// The whitespace at the start of the line holding `pos`.
fn line_indent(text: &str, pos: usize) -> &str {
    let start = line_start(text, pos);
    let rest = &text[start..];
    &rest[..rest.len() - rest.trim_start_matches(is_hspace).len()]
}

fn skip_hspace(text: &str, pos: usize) -> usize {
    let rest = &text[pos..];
    pos + rest.len() - rest.trim_start_matches(is_hspace).len()
}

/// Skips whitespace, line breaks and comments from `pos`.
fn skip_trivia(text: &str, mut pos: usize) -> usize {
    loop {
        let rest = &text[pos..];
        let trimmed = rest.trim_start();
        pos += rest.len() - trimmed.len();
        if trimmed.starts_with("//") {
            pos += trimmed.find(is_line_break).unwrap_or(trimmed.len());
        } else if let Some(body) = trimmed.strip_prefix("/*") {
            pos += body.find("*/").map_or(trimmed.len(), |i| i + 4);
        } else {
            return pos;
        }
    }
}

/// Skips whitespace and comments from `pos` without crossing a line break: stops at the line
/// break, or before a block comment that spans lines, or at the next token.
fn skip_line_trivia(text: &str, mut pos: usize) -> usize {
    loop {
        pos = skip_hspace(text, pos);
        let rest = &text[pos..];
        if rest.starts_with("//") {
            return pos + rest.find(is_line_break).unwrap_or(rest.len());
        }
        match rest.strip_prefix("/*").and_then(|body| body.find("*/")) {
            Some(end) if !rest[..end + 4].contains(is_line_break) => pos += end + 4,
            _ => return pos,
        }
    }
}
