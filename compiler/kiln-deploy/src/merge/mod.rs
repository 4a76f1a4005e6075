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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use jsonc_parser::ast;
use jsonc_parser::common::Ranged;
use jsonc_parser::{CollectOptions, ParseOptions};
use serde_json::{Map, Value};
use toml_edit::{Decor, DocumentMut, InlineTable, Item, Key, Table, TableLike};

/// The syntax of a shared file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeFormat {
    /// Strict JSON (RFC 8259): no comments, no trailing commas.
    Json,
    /// JSON with `//` and `/* */` comments and trailing commas (VS Code / Zed settings).
    Jsonc,
    /// TOML 1.0/1.1.
    Toml,
}

impl MergeFormat {
    /// The format named `json`, `jsonc` or `toml`.
    pub fn from_name(name: &str) -> Option<MergeFormat> {
        match name {
            "json" => Some(MergeFormat::Json),
            "jsonc" => Some(MergeFormat::Jsonc),
            "toml" => Some(MergeFormat::Toml),
            _ => None,
        }
    }
}

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

// ---------------------------------------------------------------------------------------------
// Line diffs

/// Carrying changes made to one rendering of a file over to another spelling of it.
mod lines {
    use std::ops::Range;

    /// Lines `base[base]` become lines `other[other]` (of `ours` or of `theirs`).
    #[derive(Clone, Debug)]
    struct Hunk {
        base: Range<usize>,
        other: Range<usize>,
        ours: bool,
    }

    /// Larger middles than this (lines × lines) are not diffed.
    const MAX_TABLE: usize = 4_000_000;

    /// The hunks turning `a` into `b`, by longest common subsequence of lines.
    fn diff(a: &[&str], b: &[&str], ours: bool) -> Option<Vec<Hunk>> {
        let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
        let suffix = a[prefix..]
            .iter()
            .rev()
            .zip(b[prefix..].iter().rev())
            .take_while(|(x, y)| x == y)
            .count();
        let (a_mid, b_mid) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
        let (n, m) = (a_mid.len(), b_mid.len());
        if n.saturating_mul(m) > MAX_TABLE {
            return None;
        }
        // common[i * width + j]: length of the longest common subsequence of a_mid[i..] and
        // b_mid[j..].
        let width = m + 1;
        let mut common = vec![0u32; (n + 1) * width];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                common[i * width + j] = if a_mid[i] == b_mid[j] {
                    common[(i + 1) * width + j + 1] + 1
                } else {
                    common[(i + 1) * width + j].max(common[i * width + j + 1])
                };
            }
        }
        let mut hunks = Vec::new();
        let close =
            |open: &mut Option<(usize, usize)>, i: usize, j: usize, hunks: &mut Vec<Hunk>| {
                if let Some((si, sj)) = open.take() {
                    hunks.push(Hunk {
                        base: prefix + si..prefix + i,
                        other: prefix + sj..prefix + j,
                        ours,
                    });
                }
            };
        let (mut i, mut j) = (0, 0);
        let mut open = None;
        while i < n || j < m {
            if i < n && j < m && a_mid[i] == b_mid[j] {
                close(&mut open, i, j, &mut hunks);
                i += 1;
                j += 1;
            } else {
                open.get_or_insert((i, j));
                if j < m && (i == n || common[i * width + j + 1] >= common[(i + 1) * width + j]) {
                    j += 1;
                } else {
                    i += 1;
                }
            }
        }
        close(&mut open, i, j, &mut hunks);
        Some(hunks)
    }

    /// Whether `hunk` collides with the base lines `start..end` already claimed: it replaces
    /// some of them, or inserts strictly inside them.
    fn collides(start: usize, end: usize, hunk: &Range<usize>) -> bool {
        if hunk.is_empty() {
            start < hunk.start && hunk.start < end
        } else if start == end {
            hunk.start < start && start < hunk.end
        } else {
            hunk.start < end && start < hunk.end
        }
    }

    /// `theirs` with the changes that turned `base` into `ours`, where `base` is another
    /// spelling of `theirs`: a three-way merge by lines; where both touch the same lines, ours
    /// win.
    pub(super) fn carry_over(base: &str, ours: &str, theirs: &str) -> Option<String> {
        let b: Vec<&str> = base.split_inclusive('\n').collect();
        let o: Vec<&str> = ours.split_inclusive('\n').collect();
        let t: Vec<&str> = theirs.split_inclusive('\n').collect();
        let mut hunks = diff(&b, &t, false)?;
        hunks.extend(diff(&b, &o, true)?);
        // Theirs first among hunks at the same place: a line they have and base lacks stays
        // before a line kiln inserts there.
        hunks.sort_by_key(|h| (h.base.start, h.base.end, h.ours));
        let mut out = String::with_capacity(theirs.len() + ours.len());
        let mut position = 0;
        let mut index = 0;
        while index < hunks.len() {
            let (start, mut end) = (hunks[index].base.start, hunks[index].base.end);
            let first = index;
            index += 1;
            while index < hunks.len() && collides(start, end, &hunks[index].base) {
                end = end.max(hunks[index].base.end);
                index += 1;
            }
            let group = &hunks[first..index];
            out.extend(b[position..start].iter().copied());
            if let [single] = group {
                let lines = if single.ours { &o } else { &t };
                out.extend(lines[single.other.clone()].iter().copied());
            } else {
                let mut at = start;
                for hunk in group.iter().filter(|h| h.ours) {
                    out.extend(b[at..hunk.base.start].iter().copied());
                    out.extend(o[hunk.other.clone()].iter().copied());
                    at = hunk.base.end;
                }
                out.extend(b[at..end].iter().copied());
            }
            position = end;
        }
        out.extend(b[position..].iter().copied());
        Some(out)
    }
}

// ---------------------------------------------------------------------------------------------
// JSON and JSONC

mod json {
    use super::*;

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

    pub(super) fn merge(
        jsonc: bool,
        live: Option<&str>,
        plan: &Plan,
    ) -> Result<String, MergeError> {
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
        for (pointer, value) in &plan.sets {
            if json_get(&live, &pointer.segments) != Some(value) {
                doc.set(pointer, value)?;
            }
        }
        Ok(())
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
    fn last_prop<'x, 'a>(
        object: &'x ast::Object<'a>,
        name: &str,
    ) -> Option<&'x ast::ObjectProp<'a>> {
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
            parse(&self.text, self.jsonc).map_err(|e| {
                OpError::Message(format!("internal error: an edit broke the text: {e}"))
            })
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
                return Ok(insert_edits(text, object, segment, &nested, roomy, &style));
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
        key: &str,
        value: &Value,
        roomy: bool,
        style: &Style,
    ) -> Vec<Edit> {
        let open = object.range.start;
        let close = object.range.end - 1;
        let key = quote(key);
        let newline = style.newline;
        let multiline = is_multiline(text, object);
        if let Some(last) = object.properties.last() {
            let end = last.value.end();
            let after = skip_trivia(text, end);
            let trailing_comma = text[after..].starts_with(',');
            if multiline {
                // A new line after the last member and whatever comment ends its line.
                let indent = member_indent(text, object, style);
                let member = format!(
                    "{newline}{indent}{key}: {}",
                    render(value, &indent, style, true)
                );
                if trailing_comma {
                    let at = skip_line_trivia(text, after + 1);
                    vec![(at, at, format!("{member},"))]
                } else {
                    let at = skip_line_trivia(text, end);
                    vec![(end, end, ",".to_string()), (at, at, member)]
                }
            } else {
                let member = format!("{key}: {}", render(value, "", style, false));
                if trailing_comma {
                    vec![(after + 1, after + 1, format!(" {member},"))]
                } else {
                    vec![(end, end, format!(", {member}"))]
                }
            }
        } else {
            let interior = &text[open + 1..close];
            let content_end = open + 1 + interior.trim_end().len();
            if interior.trim().is_empty() && roomy {
                let outer = line_indent(text, open);
                let indent = format!("{outer}{}", style.unit);
                let rendered = render(value, &indent, style, true);
                vec![(
                    open + 1,
                    close,
                    format!("{newline}{indent}{key}: {rendered}{newline}{outer}"),
                )]
            } else if interior.trim().is_empty() {
                vec![(
                    open + 1,
                    close,
                    format!("{key}: {}", render(value, "", style, false)),
                )]
            } else if multiline {
                // Only comments inside: the member goes on a new line after them.
                let indent = format!("{}{}", line_indent(text, open), style.unit);
                let rendered = render(value, &indent, style, true);
                vec![(
                    content_end,
                    content_end,
                    format!("{newline}{indent}{key}: {rendered}"),
                )]
            } else {
                let rendered = render(value, "", style, false);
                vec![(content_end, content_end, format!(" {key}: {rendered}"))]
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
}

// ---------------------------------------------------------------------------------------------
// TOML

mod toml {
    use super::*;

    pub(super) fn merge(live: Option<&str>, plan: &Plan) -> Result<String, MergeError> {
        let (bom, original) = live.map_or(("", ""), split_bom);
        let crlf = uses_crlf(original);
        let text = if crlf {
            original.replace("\r\n", "\n")
        } else {
            original.to_string()
        };
        let mut doc = parse(&text)?;
        let before = doc.to_string();
        run(&mut doc, plan).map_err(|error| locate(error, &text))?;
        let mut out = doc.to_string();
        let merged = parse(&out).map_err(|e| {
            MergeError::new(format!(
                "internal error: the merged text does not parse: {e}"
            ))
        })?;
        if before != text {
            // `toml_edit` did not reproduce the file exactly (it normalises a few spellings):
            // carry kiln's changes over to the user's own lines instead.
            if let Some(carried) = lines::carry_over(&before, &out, &text)
                && parse(&carried)
                    .is_ok_and(|doc| item_to_json(doc.as_item()) == item_to_json(merged.as_item()))
            {
                out = carried;
            }
        }
        if crlf {
            out = out.replace('\n', "\r\n");
        }
        Ok(format!("{bom}{out}"))
    }

    pub(super) fn owned_values(
        live: &str,
        pointers: &[Pointer],
    ) -> Result<BTreeMap<String, Option<Value>>, MergeError> {
        let (_, original) = split_bom(live);
        let doc = if uses_crlf(original) {
            parse(&original.replace("\r\n", "\n"))?
        } else {
            parse(original)?
        };
        Ok(pointers
            .iter()
            .map(|pointer| {
                let value = lookup(doc.as_table(), &pointer.segments).and_then(item_to_json);
                (pointer.text.clone(), value)
            })
            .collect())
    }

    /// Whether every line ends with CRLF (then the file is edited as LF and converted back).
    fn uses_crlf(text: &str) -> bool {
        let crlf = text.matches("\r\n").count();
        crlf > 0 && crlf == text.matches('\n').count() && crlf == text.matches('\r').count()
    }

    fn parse(text: &str) -> Result<DocumentMut, MergeError> {
        text.parse::<DocumentMut>().map_err(|error| {
            let message = error.message().to_string();
            match error.span() {
                Some(span) => MergeError::at(message, text, span.start),
                None => MergeError::new(message),
            }
        })
    }

    fn run(doc: &mut DocumentMut, plan: &Plan) -> Result<(), OpError> {
        let live = item_to_json(doc.as_item()).unwrap_or(Value::Null);
        let written: Vec<Vec<String>> = plan.sets.iter().map(|(p, _)| p.segments.clone()).collect();
        for path in plan.concrete_removals(&live) {
            remove(doc, &path, &written);
        }
        for (pointer, value) in &plan.sets {
            set(doc, pointer, value, &written)?;
        }
        Ok(())
    }

    fn locate(error: OpError, text: &str) -> MergeError {
        match error {
            OpError::Message(message) => MergeError::new(message),
            OpError::NotContainer { pointer, parent } => {
                let message = format!(
                    "cannot set `{pointer}`: `{}` is not a table",
                    pointer_text(&parent)
                );
                let offset = toml_edit::Document::parse(text).ok().and_then(|doc| {
                    let (key, parents) = parent.split_last()?;
                    let table = parents
                        .iter()
                        .try_fold(doc.as_table() as &dyn TableLike, |t, s| {
                            t.get(s)?.as_table_like()
                        })?;
                    let value_span = table.get(key).and_then(Item::span);
                    value_span
                        .or_else(|| table.key(key)?.span())
                        .map(|span| span.start)
                });
                match offset {
                    Some(offset) => MergeError::at(message, text, offset),
                    None => MergeError::new(message),
                }
            }
        }
    }

    // --- reading

    pub(super) fn lookup<'d>(root: &'d Table, segments: &[String]) -> Option<&'d Item> {
        let (key, parents) = segments.split_last()?;
        let table = parents
            .iter()
            .try_fold(root as &dyn TableLike, |t, s| t.get(s)?.as_table_like())?;
        table.get(key)
    }

    pub(super) fn item_to_json(item: &Item) -> Option<Value> {
        match item {
            Item::None => None,
            Item::Value(value) => Some(value_to_json(value)),
            Item::Table(table) => Some(table_to_json(table)),
            Item::ArrayOfTables(array) => {
                Some(Value::Array(array.iter().map(table_to_json).collect()))
            }
        }
    }

    fn table_to_json(table: &Table) -> Value {
        Value::Object(
            table
                .iter()
                .filter_map(|(key, item)| Some((key.to_string(), item_to_json(item)?)))
                .collect(),
        )
    }

    fn value_to_json(value: &toml_edit::Value) -> Value {
        use toml_edit::Value as V;
        match value {
            V::String(s) => Value::String(s.value().clone()),
            V::Integer(i) => Value::from(*i.value()),
            V::Float(f) => {
                let f = *f.value();
                serde_json::Number::from_f64(f).map_or_else(
                    || {
                        let name = if f.is_nan() {
                            "nan"
                        } else if f > 0.0 {
                            "inf"
                        } else {
                            "-inf"
                        };
                        Value::String(name.to_string())
                    },
                    Value::Number,
                )
            }
            V::Boolean(b) => Value::Bool(*b.value()),
            V::Datetime(d) => Value::String(d.value().to_string()),
            V::Array(array) => Value::Array(array.iter().map(value_to_json).collect()),
            V::InlineTable(table) => Value::Object(
                table
                    .iter()
                    .map(|(key, value)| (key.to_string(), value_to_json(value)))
                    .collect(),
            ),
        }
    }

    // --- converting JSON to TOML

    fn to_value(value: &Value) -> Result<toml_edit::Value, String> {
        Ok(match value {
            Value::Null => return Err("TOML has no null".into()),
            Value::Bool(b) => (*b).into(),
            Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => i.into(),
                _ if n.is_u64() => return Err(format!("{n} is too large for a TOML integer")),
                (None, Some(f)) => f.into(),
                (None, None) => return Err(format!("{n} is not a TOML number")),
            },
            Value::String(s) => string_value(s),
            Value::Array(items) => {
                let mut array = toml_edit::Array::new();
                for item in items {
                    array.push(to_value(item)?);
                }
                toml_edit::Value::Array(array)
            }
            Value::Object(map) => {
                let mut table = InlineTable::new();
                for (key, item) in map {
                    table.insert(key, to_value(item)?);
                }
                toml_edit::Value::InlineTable(table)
            }
        })
    }

    /// A single-line basic string. (`toml_edit` would write a string with line breaks as a
    /// multi-line string, whose line breaks a CRLF file would then change.)
    fn string_value(s: &str) -> toml_edit::Value {
        let mut quoted = String::with_capacity(s.len() + 2);
        quoted.push('"');
        for c in s.chars() {
            match c {
                '"' => quoted.push_str("\\\""),
                '\\' => quoted.push_str("\\\\"),
                '\n' => quoted.push_str("\\n"),
                '\r' => quoted.push_str("\\r"),
                '\t' => quoted.push_str("\\t"),
                '\u{8}' => quoted.push_str("\\b"),
                '\u{c}' => quoted.push_str("\\f"),
                c if c.is_control() => quoted.push_str(&format!("\\u{:04X}", u32::from(c))),
                c => quoted.push(c),
            }
        }
        quoted.push('"');
        quoted.parse().unwrap_or_else(|_| s.into())
    }

    /// Whether a new table for `map` can hide its `[header]`: it holds only tables, and at least
    /// one (an empty table needs its header to exist at all).
    fn header_optional(map: &Map<String, Value>) -> bool {
        !map.is_empty() && map.values().all(Value::is_object)
    }

    /// A standard (or dotted) table for an object; nested objects become sub-tables.
    fn build_table(map: &Map<String, Value>, dotted: bool) -> Result<Table, String> {
        let mut table = Table::new();
        if dotted {
            table.set_dotted(true);
        } else {
            table.set_implicit(header_optional(map));
        }
        for (key, value) in map {
            table.insert(key, item(value, dotted)?);
        }
        Ok(table)
    }

    /// The item for a value in a standard (or dotted) table. An empty object under dotted keys
    /// is written `{}`: a dotted table with no keys would not be written at all.
    fn item(value: &Value, dotted: bool) -> Result<Item, String> {
        Ok(match value {
            Value::Object(map) if dotted && map.is_empty() => {
                Item::Value(InlineTable::new().into())
            }
            Value::Object(map) => Item::Table(build_table(map, dotted)?),
            other => Item::Value(to_value(other)?),
        })
    }

    // --- writing

    enum Container<'d> {
        Table(&'d mut Table),
        Inline(&'d mut InlineTable),
    }

    /// The table at `segments`, creating missing ones: implicit standard tables (their header
    /// shows only if they get values), dotted under a dotted table, inline under an inline table.
    fn container_mut<'d>(
        root: &'d mut Table,
        segments: &[String],
    ) -> Result<Container<'d>, String> {
        let mut current = Container::Table(root);
        for segment in segments {
            current = match current {
                Container::Table(table) => {
                    if !table.contains_key(segment) {
                        let mut child = Table::new();
                        if table.is_dotted() {
                            child.set_dotted(true);
                        } else {
                            child.set_implicit(true);
                        }
                        table.insert(segment, Item::Table(child));
                    }
                    match table.get_mut(segment) {
                        Some(Item::Table(child)) => Container::Table(child),
                        Some(Item::Value(toml_edit::Value::InlineTable(child))) => {
                            Container::Inline(child)
                        }
                        _ => return Err("internal error: not a table".into()),
                    }
                }
                Container::Inline(table) => {
                    if !table.contains_key(segment) {
                        insert_inline(
                            table,
                            segment,
                            toml_edit::Value::InlineTable(InlineTable::new()),
                        );
                    }
                    match table.get_mut(segment) {
                        Some(toml_edit::Value::InlineTable(child)) => Container::Inline(child),
                        _ => return Err("internal error: not a table".into()),
                    }
                }
            };
        }
        Ok(current)
    }

    fn set(
        doc: &mut DocumentMut,
        pointer: &Pointer,
        value: &Value,
        written: &[Vec<String>],
    ) -> Result<(), OpError> {
        let segments = &pointer.segments;
        let Some((key, parents)) = segments.split_last() else {
            return Ok(());
        };
        // Parents that exist must be tables.
        let mut table: &dyn TableLike = doc.as_table();
        for (i, segment) in parents.iter().enumerate() {
            let Some(item) = table.get(segment) else {
                break;
            };
            match item.as_table_like() {
                Some(child) => table = child,
                None => {
                    return Err(OpError::NotContainer {
                        pointer: pointer.text.clone(),
                        parent: segments[..=i].to_vec(),
                    });
                }
            }
        }
        let parent_inline = lookup(doc.as_table(), parents).is_some_and(Item::is_inline_table);
        if let Some(existing) = lookup(doc.as_table(), segments) {
            if item_to_json(existing).as_ref() == Some(value) {
                return Ok(());
            }
            // Lines of a body (values, dotted tables) are replaced where they stand; so are
            // tables by tables. Anything else moves to where its new kind is written.
            let parent_dotted = lookup(doc.as_table(), parents)
                .and_then(Item::as_table)
                .is_some_and(Table::is_dotted);
            let in_place = parent_inline
                || match existing {
                    Item::Value(old) => {
                        !value.is_object() || old.is_inline_table() || parent_dotted
                    }
                    Item::Table(old) => value.is_object() || old.is_dotted(),
                    Item::None | Item::ArrayOfTables(_) => false,
                };
            if !in_place {
                // A change of kind (a value becoming a table, say): remove, then insert anew.
                remove(doc, segments, written);
            }
        }
        let fail =
            |message: String| OpError::Message(format!("cannot set `{}`: {message}", pointer.text));
        match container_mut(doc.as_table_mut(), parents).map_err(fail)? {
            Container::Table(table) => {
                // What precedes the first line a dotted item writes (its comments above).
                let first_line_prefix = first_line(table, key)
                    .and_then(|path| line_key(table, &path))
                    .and_then(|k| k.leaf_decor().prefix().cloned());
                let parent_dotted = table.is_dotted();
                let mut dotted_replaced = false;
                match table.get_mut(key) {
                    Some(Item::Value(old)) if !value.is_object() || old.is_inline_table() => {
                        let mut new = to_value(value).map_err(fail)?;
                        *new.decor_mut() = old.decor().clone();
                        *old = new;
                    }
                    Some(slot)
                        if parent_dotted || slot.as_table().is_some_and(Table::is_dotted) =>
                    {
                        *slot = item(value, true).map_err(fail)?;
                        dotted_replaced = true;
                    }
                    Some(Item::Table(old)) => {
                        let Value::Object(map) = value else {
                            return Err(fail("internal error: not an object".into()));
                        };
                        let mut new = build_table(map, false).map_err(fail)?;
                        *new.decor_mut() = old.decor().clone();
                        new.set_position(old.position());
                        // A header that was written stays (with its spelling); one that was
                        // not is written only if needed.
                        new.set_implicit(old.is_implicit() && header_optional(map));
                        *old = new;
                    }
                    Some(_) => return Err(fail("internal error: unexpected item".into())),
                    None => {
                        let item = item(value, table.is_dotted()).map_err(fail)?;
                        let mut new_key = Key::new(key.as_str());
                        if item.is_value()
                            && let Some(indent) = sibling_indent(table)
                        {
                            new_key = new_key.with_leaf_decor(Decor::new(indent, " "));
                        }
                        table.insert_formatted(&new_key, item);
                    }
                }
                if dotted_replaced
                    && let Some(prefix) = first_line_prefix
                    && let Some(path) = first_line(table, key)
                    && let Some(mut line) = line_key_mut(table, &path)
                {
                    line.leaf_decor_mut().set_prefix(prefix);
                }
            }
            Container::Inline(table) => {
                let mut new = to_value(value).map_err(fail)?;
                match table.get_mut(key) {
                    Some(old) => {
                        *new.decor_mut() = old.decor().clone();
                        *old = new;
                    }
                    None => insert_inline(table, key, new),
                }
            }
        }
        Ok(())
    }

    /// The keys (through dotted tables) of the first key/value line the item `key` of `table`
    /// writes in the table's body: the key itself for a value, a path for a dotted table.
    fn first_line(table: &Table, key: &str) -> Option<Vec<String>> {
        match table.get(key)? {
            Item::Value(_) => Some(vec![key.to_string()]),
            Item::Table(dotted) if dotted.is_dotted() => {
                let (keys, _) = dotted.get_values().into_iter().next()?;
                Some(
                    std::iter::once(key.to_string())
                        .chain(keys.iter().map(|k| k.get().to_string()))
                        .collect(),
                )
            }
            _ => None,
        }
    }

    /// The last key of the key/value line at `path` (through dotted tables) of `table`; its
    /// decor prefix holds what precedes the line.
    fn line_key<'t>(table: &'t Table, path: &[String]) -> Option<&'t Key> {
        let (last, dotted) = path.split_last()?;
        let table = dotted.iter().try_fold(table, |t, k| t.get(k)?.as_table())?;
        table.key(last)
    }

    fn line_key_mut<'t>(table: &'t mut Table, path: &[String]) -> Option<toml_edit::KeyMut<'t>> {
        let (last, dotted) = path.split_last()?;
        let mut table = table;
        for key in dotted {
            table = table.get_mut(key)?.as_table_mut()?;
        }
        table.key_mut(last)
    }

    /// The indentation of the last key/value line of `table`, to indent a new one alike.
    fn sibling_indent(table: &Table) -> Option<String> {
        let (last, _) = table.iter().filter(|(_, item)| item.is_value()).last()?;
        let prefix = table.key(last)?.leaf_decor().prefix()?.as_str()?;
        let indent = prefix.rsplit('\n').next().unwrap_or(prefix);
        (!indent.is_empty() && indent.chars().all(|c| c == ' ' || c == '\t'))
            .then(|| indent.to_string())
    }

    /// Appends to an inline table; the space before `}` moves behind the new entry
    /// (`{ a = 1 }` becomes `{ a = 1, b = 2 }`, not `{ a = 1 , b = 2 }`).
    fn insert_inline(table: &mut InlineTable, key: &str, mut value: toml_edit::Value) {
        if let Some((_, last)) = table.iter_mut().last()
            && let Some(suffix) = last.decor().suffix().cloned()
        {
            last.decor_mut().set_suffix("");
            value.decor_mut().set_suffix(suffix);
        }
        table.insert(key, value);
    }

    /// The inverse of [`insert_inline`].
    fn remove_inline(table: &mut InlineTable, key: &str) {
        let keys: Vec<String> = table.iter().map(|(k, _)| k.to_string()).collect();
        let Some(index) = keys.iter().position(|k| k == key) else {
            return;
        };
        let key_prefix = table
            .key(key)
            .and_then(|k| k.leaf_decor().prefix().cloned());
        let Some(removed) = table.remove(key) else {
            return;
        };
        if keys.len() < 2 {
            return;
        }
        if index + 1 == keys.len() {
            if let (Some(suffix), Some(previous)) =
                (removed.decor().suffix(), table.get_mut(&keys[index - 1]))
            {
                previous.decor_mut().set_suffix(suffix.clone());
            }
        } else if index == 0
            && let (Some(prefix), Some(mut next)) = (key_prefix, table.key_mut(&keys[1]))
        {
            next.leaf_decor_mut().set_prefix(prefix);
        }
    }

    // --- removing, and keeping the comments above what is removed

    /// A step from a table to a child table.
    #[derive(Clone, Debug, PartialEq, Eq)]
    enum Step {
        Key(String),
        /// An element of an array of tables.
        Index(usize),
    }

    /// Where comment lines can go: before a key/value line, before a `[header]`, or at the end.
    enum Anchor {
        /// The key/value line `keys` (through dotted tables) of the table at `table`.
        Body {
            table: Vec<Step>,
            keys: Vec<String>,
        },
        Header(Vec<Step>),
        Trailing,
    }

    fn table_at<'d>(root: &'d Table, steps: &[Step]) -> Option<&'d Table> {
        let mut table = root;
        let mut i = 0;
        while let Some(Step::Key(key)) = steps.get(i) {
            match table.get(key)? {
                Item::Table(child) => {
                    table = child;
                    i += 1;
                }
                Item::ArrayOfTables(array) => {
                    let Some(Step::Index(index)) = steps.get(i + 1) else {
                        return None;
                    };
                    table = array.get(*index)?;
                    i += 2;
                }
                _ => return None,
            }
        }
        (i == steps.len()).then_some(table)
    }

    fn table_at_mut<'d>(root: &'d mut Table, steps: &[Step]) -> Option<&'d mut Table> {
        let mut table = root;
        let mut i = 0;
        while let Some(Step::Key(key)) = steps.get(i) {
            match table.get_mut(key)? {
                Item::Table(child) => {
                    table = child;
                    i += 1;
                }
                Item::ArrayOfTables(array) => {
                    let Some(Step::Index(index)) = steps.get(i + 1) else {
                        return None;
                    };
                    table = array.get_mut(*index)?;
                    i += 2;
                }
                _ => return None,
            }
        }
        (i == steps.len()).then_some(table)
    }

    /// Every non-dotted table in the order `toml_edit` writes them, with whether its header is
    /// written. (This mirrors `toml_edit`'s `Display for DocumentMut`: tables sorted by their
    /// position in the source, a table without one following the table visited before it.)
    fn render_order(root: &Table) -> Vec<(Vec<Step>, bool)> {
        fn visit(
            table: &Table,
            path: &mut Vec<Step>,
            array_element: bool,
            last_position: &mut isize,
            found: &mut Vec<(isize, Vec<Step>, bool)>,
        ) {
            if !table.is_dotted() {
                if let Some(position) = table.position() {
                    *last_position = position;
                }
                let visible = !path.is_empty()
                    && (array_element || !(table.is_implicit() && table.get_values().is_empty()));
                found.push((*last_position, path.clone(), visible));
            }
            for (key, item) in table.iter() {
                match item {
                    Item::Table(child) => {
                        path.push(Step::Key(key.to_string()));
                        visit(child, path, false, last_position, found);
                        path.pop();
                    }
                    Item::ArrayOfTables(array) => {
                        for (index, child) in array.iter().enumerate() {
                            path.push(Step::Key(key.to_string()));
                            path.push(Step::Index(index));
                            visit(child, path, true, last_position, found);
                            path.truncate(path.len() - 2);
                        }
                    }
                    _ => {}
                }
            }
        }
        let mut found = Vec::new();
        visit(root, &mut Vec::new(), false, &mut 0, &mut found);
        found.sort_by_key(|(position, path, _)| (!path.is_empty(), *position));
        found
            .into_iter()
            .map(|(_, path, visible)| (path, visible))
            .collect()
    }

    /// The whole lines of a decor prefix (what precedes the item's own line), if they hold a
    /// comment. Blank lines alone are not kept: they belong to the layout around the item.
    fn comment_lines(prefix: Option<&str>) -> Option<String> {
        let prefix = prefix?;
        let lines = &prefix[..=prefix.rfind('\n')?];
        lines.contains('#').then(|| lines.to_string())
    }

    fn key_prefix<'d>(table: &'d Table, keys: &[String]) -> Option<&'d str> {
        line_key(table, keys)?.leaf_decor().prefix()?.as_str()
    }

    /// The comment lines above the item at `segments` and where they must go once it is removed:
    /// in front of whatever `toml_edit` writes after the item's first line, skipping headers
    /// inside tables kiln writes (`written`), which a later deploy may rewrite.
    fn relocation(
        root: &Table,
        segments: &[String],
        item: &Item,
        written: &[Vec<String>],
    ) -> Option<(String, Anchor)> {
        let (_, parents) = segments.split_last()?;
        // The nearest enclosing table with a header (or the root): dotted tables are written
        // as lines of its body.
        let mut table = root;
        let mut body_len = 0;
        for (i, segment) in parents.iter().enumerate() {
            table = table.get(segment)?.as_table()?;
            if !table.is_dotted() {
                body_len = i + 1;
            }
        }
        let body_steps: Vec<Step> = segments[..body_len]
            .iter()
            .cloned()
            .map(Step::Key)
            .collect();
        let order = render_order(root);
        let kilns = |path: &Vec<Step>| {
            let keys: Vec<String> = path
                .iter()
                .map_while(|step| match step {
                    Step::Key(key) => Some(key.clone()),
                    Step::Index(_) => None,
                })
                .collect();
            written
                .iter()
                .any(|w| keys.len() > w.len() && keys.starts_with(w))
        };
        let next_header_after = |index: usize| {
            order[index + 1..]
                .iter()
                .find(|(path, visible)| *visible && !kilns(path))
                .map_or(Anchor::Trailing, |(path, _)| Anchor::Header(path.clone()))
        };
        match item {
            Item::Value(_) | Item::Table(_) if item.as_table().is_none_or(Table::is_dotted) => {
                let body = table_at(root, &body_steps)?;
                let relative = &segments[body_len..];
                let lines: Vec<Vec<String>> = body
                    .get_values()
                    .iter()
                    .map(|(keys, _)| keys.iter().map(|k| k.get().to_string()).collect())
                    .collect();
                let mine = |keys: &Vec<String>| keys.starts_with(relative);
                let first = lines.iter().position(mine)?;
                let keep = comment_lines(key_prefix(body, &lines[first]))?;
                let last = lines.iter().rposition(mine)?;
                let anchor = match lines.get(last + 1) {
                    Some(keys) => Anchor::Body {
                        table: body_steps.clone(),
                        keys: keys.clone(),
                    },
                    None => {
                        next_header_after(order.iter().position(|(path, _)| *path == body_steps)?)
                    }
                };
                Some((keep, anchor))
            }
            Item::Table(_) | Item::ArrayOfTables(_) => {
                let full: Vec<Step> = segments.iter().cloned().map(Step::Key).collect();
                let inside = |path: &Vec<Step>| path.starts_with(&full);
                let first = order
                    .iter()
                    .position(|(path, visible)| *visible && inside(path))?;
                let keep =
                    comment_lines(table_at(root, &order[first].0)?.decor().prefix()?.as_str())?;
                let anchor = order[first + 1..]
                    .iter()
                    .find(|(path, visible)| *visible && !inside(path) && !kilns(path))
                    .map_or(Anchor::Trailing, |(path, _)| Anchor::Header(path.clone()));
                Some((keep, anchor))
            }
            _ => None,
        }
    }

    fn prepend(doc: &mut DocumentMut, anchor: Anchor, lines: &str) {
        match anchor {
            Anchor::Body { table, keys } => {
                let Some(table) = table_at_mut(doc.as_table_mut(), &table) else {
                    return;
                };
                if let Some(mut key) = line_key_mut(table, &keys) {
                    let old = key
                        .leaf_decor()
                        .prefix()
                        .and_then(|p| p.as_str())
                        .unwrap_or("")
                        .to_string();
                    key.leaf_decor_mut().set_prefix(format!("{lines}{old}"));
                }
            }
            Anchor::Header(path) => {
                if let Some(table) = table_at_mut(doc.as_table_mut(), &path) {
                    let old = table
                        .decor()
                        .prefix()
                        .and_then(|p| p.as_str())
                        .unwrap_or("\n")
                        .to_string();
                    table.decor_mut().set_prefix(format!("{lines}{old}"));
                }
            }
            Anchor::Trailing => {
                let old = doc.trailing().as_str().unwrap_or("").to_string();
                doc.set_trailing(format!("{lines}{old}"));
            }
        }
    }

    /// Removes the item at `segments`, if present, keeping the comment lines above it.
    fn remove(doc: &mut DocumentMut, segments: &[String], written: &[Vec<String>]) {
        let Some((key, parents)) = segments.split_last() else {
            return;
        };
        let Some(item) = lookup(doc.as_table(), segments) else {
            return;
        };
        let relocation = if lookup(doc.as_table(), parents).is_some_and(Item::is_inline_table) {
            None
        } else {
            relocation(doc.as_table(), segments, item, written)
        };
        match container_mut(doc.as_table_mut(), parents) {
            Ok(Container::Table(table)) => {
                table.remove(key);
            }
            Ok(Container::Inline(table)) => remove_inline(table, key),
            Err(_) => return,
        }
        if let Some((lines, anchor)) = relocation {
            prepend(doc, anchor, &lines);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| item.to_string()).collect()
    }

    fn ok(
        format: MergeFormat,
        live: Option<&str>,
        fragment: &Value,
        owned: &[&str],
        prev: &[&str],
    ) -> String {
        let out = merge(format, live, fragment, &s(owned), &s(prev)).unwrap();
        // Every merge is idempotent.
        assert_eq!(
            merge(format, Some(&out), fragment, &s(owned), &s(prev)).unwrap(),
            out
        );
        out
    }

    #[test]
    fn format_names() {
        assert_eq!(MergeFormat::from_name("json"), Some(MergeFormat::Json));
        assert_eq!(MergeFormat::from_name("jsonc"), Some(MergeFormat::Jsonc));
        assert_eq!(MergeFormat::from_name("toml"), Some(MergeFormat::Toml));
        assert_eq!(MergeFormat::from_name("yaml"), None);
    }

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
    fn pointer_escapes() {
        let fragment = json!({"a/b": {"c~d": 1}});
        let out = ok(
            MergeFormat::Json,
            Some("{}"),
            &fragment,
            &["/a~1b/c~0d"],
            &[],
        );
        assert_eq!(out, "{\n  \"a/b\": {\n    \"c~d\": 1\n  }\n}");
        let values = owned_values(MergeFormat::Json, &out, &s(&["/a~1b/c~0d", "/a~1b/x"])).unwrap();
        assert_eq!(values["/a~1b/c~0d"], Some(json!(1)));
        assert_eq!(values["/a~1b/x"], None);
        assert!(merge(MergeFormat::Json, None, &fragment, &s(&["a"]), &[]).is_err());
        assert!(merge(MergeFormat::Json, None, &fragment, &s(&["/a~2"]), &[]).is_err());
    }

    #[test]
    fn unparsable_input_is_an_error_with_a_position() {
        let error = merge(
            MergeFormat::Json,
            Some("{\n  \"a\": 1,\n  \"b\" 2\n}"),
            &json!({}),
            &[],
            &[],
        )
        .unwrap_err();
        assert_eq!((error.line, error.column), (3, 7), "{error}");
        let error = merge(
            MergeFormat::Toml,
            Some("a = 1\nb = [1,\n"),
            &json!({}),
            &[],
            &[],
        )
        .unwrap_err();
        assert_eq!((error.line, error.column), (2, 8), "{error}");
        assert!(error.to_string().contains("line 2, column 8"));
        let error = owned_values(MergeFormat::Jsonc, "{\"a\": }", &s(&["/a"])).unwrap_err();
        assert_eq!(error.line, 1);
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

    #[test]
    fn parent_that_is_not_an_object_is_an_error() {
        let live = "{\n  \"mcpServers\": [1]\n}";
        let error = merge(
            MergeFormat::Json,
            Some(live),
            &json!({"mcpServers": {"m": 1}}),
            &s(&["/mcpServers/m"]),
            &[],
        )
        .unwrap_err();
        assert_eq!((error.line, error.column), (2, 17), "{error}");
        assert!(
            error.message.contains("`/mcpServers` is not an object"),
            "{error}"
        );
        let error = merge(
            MergeFormat::Json,
            Some("[]"),
            &json!({"m": 1}),
            &s(&["/m"]),
            &[],
        )
        .unwrap_err();
        assert_eq!((error.line, error.column), (1, 1));
        let error = merge(
            MergeFormat::Toml,
            Some("a = 1\nm = 5\n"),
            &json!({"m": {"x": 1}}),
            &s(&["/m/x"]),
            &[],
        )
        .unwrap_err();
        assert_eq!((error.line, error.column), (2, 5), "{error}");
        let error = merge(
            MergeFormat::Toml,
            Some("[[m]]\nx = 1\n"),
            &json!({"m": {"x": 1}}),
            &s(&["/m/x"]),
            &[],
        )
        .unwrap_err();
        assert!(error.message.contains("not a table"), "{error}");
        // Removing through a non-object is a no-op.
        assert_eq!(
            ok(
                MergeFormat::Json,
                Some(live),
                &json!({}),
                &[],
                &["/mcpServers/m"]
            ),
            live
        );
    }

    #[test]
    fn toml_keeps_comments_order_numbers_and_inline_tables() {
        let live = "# Codex config\nmodel = \"o3\" # the model\nn = 0x1F\nm = 1_000\nenv = { A = \"1\", B = 2 }\n\n# servers\n[mcp_servers.context7]\n  command = \"old\"\n  args = [ \"-y\" ]\n\n[mcp_servers.user]\ncommand = \"u\"\n\n# profiles\n[profiles.fast]\nx = 1.50\n";
        let fragment = json!({
            "mcp_servers": {"context7": {"command": "npx", "args": ["-y", "ctx7"], "env": {"K": "v"}}, "new": {"command": "uvx"}},
            "env": {"C": true},
            "version": 2,
        });
        let out = ok(
            MergeFormat::Toml,
            Some(live),
            &fragment,
            &[
                "/mcp_servers/context7",
                "/mcp_servers/new",
                "/env/C",
                "/version",
            ],
            &[],
        );
        assert_eq!(
            out,
            "# Codex config\nmodel = \"o3\" # the model\nn = 0x1F\nm = 1_000\nenv = { A = \"1\", B = 2, C = true }\nversion = 2\n\n# servers\n[mcp_servers.context7]\nargs = [\"-y\", \"ctx7\"]\ncommand = \"npx\"\n\n[mcp_servers.context7.env]\nK = \"v\"\n\n[mcp_servers.user]\ncommand = \"u\"\n\n[mcp_servers.new]\ncommand = \"uvx\"\n\n# profiles\n[profiles.fast]\nx = 1.50\n"
        );
        let values = owned_values(
            MergeFormat::Toml,
            &out,
            &s(&["/env", "/version", "/profiles/fast/x"]),
        )
        .unwrap();
        assert_eq!(values["/env"], Some(json!({"A": "1", "B": 2, "C": true})));
        assert_eq!(values["/profiles/fast/x"], Some(json!(1.5)));
    }

    #[test]
    fn toml_inserts_into_a_missing_file_and_indents_like_siblings() {
        let fragment = json!({"model": "o3", "mcp_servers": {"m": {"command": "npx", "env": {}}}, "s": "a\nb\u{7f}"});
        let out = ok(
            MergeFormat::Toml,
            None,
            &fragment,
            &["/model", "/mcp_servers/m", "/s"],
            &[],
        );
        assert_eq!(
            out,
            "model = \"o3\"\ns = \"a\\nb\\u007F\"\n\n[mcp_servers.m]\ncommand = \"npx\"\n\n[mcp_servers.m.env]\n"
        );
        let values = owned_values(MergeFormat::Toml, &out, &s(&["/s", "/mcp_servers/m"])).unwrap();
        assert_eq!(values["/s"], Some(json!("a\nb\u{7f}")));
        assert_eq!(
            values["/mcp_servers/m"],
            Some(json!({"command": "npx", "env": {}}))
        );
        let out = ok(
            MergeFormat::Toml,
            Some("[t]\n  a = 1\n"),
            &json!({"t": {"b": 2}}),
            &["/t/b"],
            &[],
        );
        assert_eq!(out, "[t]\n  a = 1\n  b = 2\n");
        assert!(
            merge(
                MergeFormat::Toml,
                None,
                &json!({"a": null}),
                &s(&["/a"]),
                &[]
            )
            .is_err()
        );
        assert!(
            merge(
                MergeFormat::Toml,
                None,
                &json!({"a": u64::MAX}),
                &s(&["/a"]),
                &[]
            )
            .is_err()
        );
    }

    #[test]
    fn toml_removal_keeps_the_comments_above() {
        let live = "a = 1\n# about b\nb = 2 # b's\nc = 3\n\n# about t\n[t]\nx = 1\n\n[t.sub]\ny = 2\n\n# about u\n[u]\nz = 3\n# end\n";
        let out = ok(
            MergeFormat::Toml,
            Some(live),
            &json!({}),
            &[],
            &["/b", "/t", "/u/z"],
        );
        assert_eq!(
            out,
            "a = 1\n# about b\nc = 3\n\n# about t\n\n# about u\n[u]\n# end\n"
        );
        // Removing what was inserted restores the file exactly.
        let live = "a = 1 # one\n\n[t]\nx = 1\n# end\n";
        let fragment = json!({"b": [1], "t": {"y": {"z": 1}}, "n": {"m": {"k": "v"}}});
        let owned = ["/b", "/t/y", "/n/m"];
        let inserted = ok(MergeFormat::Toml, Some(live), &fragment, &owned, &[]);
        assert_eq!(
            inserted,
            "a = 1 # one\nb = [1]\n\n[t]\nx = 1\n\n[t.y]\nz = 1\n\n[n.m]\nk = \"v\"\n# end\n"
        );
        assert_eq!(
            ok(MergeFormat::Toml, Some(&inserted), &json!({}), &[], &owned),
            live
        );
    }

    #[test]
    fn toml_inline_and_dotted_parents_keep_their_style() {
        let live = "srv = { a = { command = \"x\" } }\nx.y = 1\n";
        let fragment = json!({"srv": {"b": {"command": "y"}}, "x": {"z": {"w": 2}}});
        let out = ok(
            MergeFormat::Toml,
            Some(live),
            &fragment,
            &["/srv/b", "/x/z"],
            &[],
        );
        assert_eq!(
            out,
            "srv = { a = { command = \"x\" }, b = { command = \"y\" } }\nx.y = 1\nx.z.w = 2\n"
        );
        assert_eq!(
            ok(
                MergeFormat::Toml,
                Some(&out),
                &json!({}),
                &[],
                &["/srv/b", "/x/z"]
            ),
            live
        );
    }

    #[test]
    fn toml_crlf_and_datetimes() {
        let live = "# c\r\nwhen = 1979-05-27T07:32:00Z\r\n[t]\r\nx = 1\r\n";
        let out = ok(
            MergeFormat::Toml,
            Some(live),
            &json!({"t": {"y": "a\nb"}}),
            &["/t/y"],
            &[],
        );
        assert_eq!(
            out,
            "# c\r\nwhen = 1979-05-27T07:32:00Z\r\n[t]\r\nx = 1\r\ny = \"a\\nb\"\r\n"
        );
        let values = owned_values(MergeFormat::Toml, &out, &s(&["/when", "/t/y"])).unwrap();
        assert_eq!(values["/when"], Some(json!("1979-05-27T07:32:00Z")));
        assert_eq!(values["/t/y"], Some(json!("a\nb")));
    }

    /// Cases the property tests found.
    #[test]
    fn regressions() {
        // An inline empty object with a comment: insert, then remove, restores it.
        let live = "{ /* c */ }\n";
        let inserted = ok(
            MergeFormat::Jsonc,
            Some(live),
            &json!({"a": false}),
            &["/a"],
            &[],
        );
        assert_eq!(inserted, "{ /* c */ \"a\": false }\n");
        assert_eq!(
            ok(
                MergeFormat::Jsonc,
                Some(&inserted),
                &json!({}),
                &[],
                &["/a"]
            ),
            live
        );
        // Kiln owned `/a`, now owns `/a/b`: `/a` is pruned, not deleted and re-added at the end.
        let out = ok(
            MergeFormat::Json,
            Some(r#"{"a": {"x": 1}, "c": 2}"#),
            &json!({"a": {"b": 1}}),
            &["/a/b"],
            &["/a"],
        );
        assert_eq!(out, r#"{"a": {"b": 1}, "c": 2}"#);
        // A lone CR is not a CRLF file.
        assert!(
            merge(
                MergeFormat::Toml,
                Some("# c\r\r\na = 1\r\n"),
                &json!({}),
                &[],
                &[]
            )
            .is_err()
        );
        // A spelling `toml_edit` normalises is kept.
        let live = "\n[a]\n\n[ a . a ]\n";
        let inserted = ok(
            MergeFormat::Toml,
            Some(live),
            &json!({"a": {"a": {"k": 1}}}),
            &["/a/a/k"],
            &[],
        );
        assert_eq!(inserted, "\n[a]\n\n[ a . a ]\nk = 1\n");
        assert_eq!(
            ok(
                MergeFormat::Toml,
                Some(&inserted),
                &json!({}),
                &[],
                &["/a/a/k"]
            ),
            live
        );
        // An empty table under dotted keys is written inline.
        let out = ok(
            MergeFormat::Toml,
            Some("a.a = 1\n"),
            &json!({"a": {"a": {}}}),
            &["/a/a"],
            &[],
        );
        assert_eq!(out, "a.a = {}\n");
        // A dotted table is replaced where it stands.
        let out = ok(
            MergeFormat::Toml,
            Some("a.x = 1\na.y = 2\nb = 3\n"),
            &json!({"a": {"x": {"k": 1}}}),
            &["/a/x"],
            &[],
        );
        assert_eq!(out, "a.x.k = 1\na.y = 2\nb = 3\n");
        // A comment above a removed table does not move into a table kiln writes.
        let live = "[s]\n# note\n[[s.a]]\n";
        let fragment = json!({"s": {"a": false}, "t": {"u": {}}});
        let out = ok(
            MergeFormat::Toml,
            Some(live),
            &fragment,
            &["/t", "/s/a"],
            &[],
        );
        assert_eq!(out, "[s]\na = false\n\n[t.u]\n# note\n");
    }

    #[test]
    fn equal_values_are_left_as_written() {
        let live = "{\n  \"k\": {\"b\": 1, \"a\": [1,2]}\n}";
        assert_eq!(
            ok(
                MergeFormat::Json,
                Some(live),
                &json!({"k": {"a": [1, 2], "b": 1}}),
                &["/k"],
                &[]
            ),
            live
        );
        let live = "k = 0x1F\n";
        assert_eq!(
            ok(
                MergeFormat::Toml,
                Some(live),
                &json!({"k": 31}),
                &["/k"],
                &[]
            ),
            live
        );
    }
}

/// Property tests: random user documents (nested objects/tables, arrays, varied number and
/// string spellings, comments, blank lines, indentation, trailing commas, CRLF), random owned and
/// previously owned pointers under existing, new and missing parents, random fragments.
///
/// For every case:
///
/// 1. the merged text parses;
/// 2. `owned_values` of it gives back the fragment's values (absent where the fragment lacks
///    the key);
/// 3. the document is exactly what was asked: the input's value with the removals and writes
///    applied (so every unmanaged key keeps its value), and the bytes the user wrote are kept,
///    checked three ways:
///    - source text: every unmanaged member (neither an owned/previously owned key, nor inside
///      one, nor a parent of one) has the same source text in the output as in the input;
///    - comments: every comment outside the lines of an owned/previously owned member survives,
///      in order, and no comment appears from nowhere (each comment carries a unique `@n@`);
///    - exact round trips: inserting keys whose parents exist and then removing them again
///      restores the input byte for byte, and deploying fragment A, then B, then A again gives
///      the same bytes as deploying A (replacing is in place and invertible);
///
///    (A plain "re-merge the previous values gives the input back" is not sound in general: a
///    removed key comes back at the end of its object, and kiln writes values in its own layout,
///    so the round trips above are the exact forms of that property that hold.)
/// 4. merging the same fragment again changes nothing;
/// 5. corrupted inputs that do not parse are refused with an error (never a panic, never a
///    replaced file); for strict JSON, serde_json is the independent judge of "parses".
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;
    use serde_json::json;

    /// Keys of user content and of fragments: plain, tool-like, and ones needing escapes in
    /// pointers (`/`, `~`), in JSON strings (`"`) and in TOML keys (space, non-ASCII, empty).
    const KEYS: &[&str] = &[
        "a",
        "b",
        "c",
        "mcpServers",
        "hooks",
        "mcp_servers",
        "env",
        "x y",
        "a/b",
        "t~n",
        "é",
        "q\"",
        "",
    ];

    /// A key no user document has, for parents kiln must create.
    const NEW_PARENT: &str = "kiln-new";

    // ---- shared: pointers, the case, the expected document

    #[derive(Clone, Debug)]
    struct Pick {
        kind: u8,
        index: usize,
        key: usize,
    }

    fn pick() -> impl Strategy<Value = Pick> {
        (0u8..4, 0usize..1000, 0..KEYS.len()).prop_map(|(kind, index, key)| Pick {
            kind,
            index,
            key,
        })
    }

    #[derive(Clone, Debug)]
    struct Corruption {
        kind: u8,
        at: usize,
        ch: usize,
    }

    fn corruption() -> impl Strategy<Value = Corruption> {
        (0u8..3, 0usize..10_000, 0usize..12).prop_map(|(kind, at, ch)| Corruption { kind, at, ch })
    }

    fn corrupt(text: &str, c: &Corruption) -> String {
        const CHARS: &[&str] = &["{", "}", "[", "]", "\"", ",", ":", "=", "#", "/", "\n", "'"];
        let boundaries: Vec<usize> = text
            .char_indices()
            .map(|(i, _)| i)
            .chain([text.len()])
            .collect();
        let at = boundaries[c.at % boundaries.len()];
        let mut out = text.to_string();
        match c.kind {
            0 => out.truncate(at),
            1 if at < text.len() => {
                let len = text[at..].chars().next().map_or(0, char::len_utf8);
                out.replace_range(at..at + len, "");
            }
            _ => out.insert_str(at, CHARS[c.ch % CHARS.len()]),
        }
        out
    }

    fn json_value(allow_null: bool) -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (-1.0e6f64..1.0e6).prop_map(Value::from),
            "[a-z \\n\\t\"'\\\\é/~\\x7f]{0,6}".prop_map(Value::from),
            Just(Value::Null),
        ]
        .prop_map(move |v| {
            if v.is_null() && !allow_null {
                Value::from("no null")
            } else {
                v
            }
        });
        leaf.prop_recursive(3, 12, 3, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..3).prop_map(Value::Array),
                vec((0..KEYS.len(), inner), 0..3).prop_map(|members| Value::Object(
                    members
                        .into_iter()
                        .map(|(k, v)| (KEYS[k].to_string(), v))
                        .collect()
                )),
            ]
        })
    }

    /// Paths of all object members, and of all objects (the root included), walking objects.
    fn paths(
        value: &Value,
        prefix: &mut Vec<String>,
        members: &mut Vec<Vec<String>>,
        objects: &mut Vec<Vec<String>>,
    ) {
        if let Value::Object(map) = value {
            objects.push(prefix.clone());
            for (key, child) in map {
                prefix.push(key.clone());
                members.push(prefix.clone());
                paths(child, prefix, members, objects);
                prefix.pop();
            }
        }
    }

    fn choose(user: &Value, p: &Pick) -> Vec<String> {
        let (mut members, mut objects) = (Vec::new(), Vec::new());
        paths(user, &mut Vec::new(), &mut members, &mut objects);
        let key = KEYS[p.key].to_string();
        let mut kind = p.kind;
        if kind == 0 && members.is_empty() {
            kind = 1;
        }
        match kind {
            0 => members[p.index % members.len()].clone(),
            1 => [objects[p.index % objects.len()].clone(), vec![key]].concat(),
            2 => [
                objects[p.index % objects.len()].clone(),
                vec![NEW_PARENT.to_string(), key],
            ]
            .concat(),
            _ => match p.index % 3 {
                0 => vec!["mcpServers".to_string(), key],
                1 => vec!["hooks".to_string(), key],
                _ => vec!["version".to_string()],
            },
        }
    }

    fn set_at(target: &mut Value, path: &[String], value: Value) -> bool {
        let Some((key, parents)) = path.split_last() else {
            return false;
        };
        let mut current = target;
        for segment in parents {
            let Some(map) = current.as_object_mut() else {
                return false;
            };
            current = map.entry(segment.clone()).or_insert_with(|| json!({}));
        }
        match current.as_object_mut() {
            Some(map) => {
                map.insert(key.clone(), value);
                true
            }
            None => false,
        }
    }

    fn remove_at(target: &mut Value, path: &[String]) {
        let Some((key, parents)) = path.split_last() else {
            return;
        };
        let mut current = target;
        for segment in parents {
            match current.get_mut(segment.as_str()) {
                Some(child) if child.is_object() => current = child,
                _ => return,
            }
        }
        if let Some(map) = current.as_object_mut() {
            map.remove(key);
        }
    }

    /// `user` after the merge, or `None` when the merge must fail (a parent is not an object).
    fn expected<S: Syntax>(
        text: &str,
        user: &Value,
        fragment: &Value,
        owned: &[Vec<String>],
        previously: &[Vec<String>],
    ) -> Option<Value> {
        let mut out = after_removals::<S>(text, user, fragment, owned, previously);
        for path in owned {
            if let Some(value) = json_get(fragment, path)
                && !set_at(&mut out, path, value.clone())
            {
                return None;
            }
        }
        Some(out)
    }

    /// `user` after the removals: previously owned keys not owned any more and owned keys the
    /// fragment lacks, except inside a key being written; a parent of a key being written loses
    /// everything else instead. In TOML a table with no header of its own (implicit or dotted)
    /// that is left empty disappears with its last key.
    fn after_removals<S: Syntax>(
        text: &str,
        user: &Value,
        fragment: &Value,
        owned: &[Vec<String>],
        previously: &[Vec<String>],
    ) -> Value {
        let writes: Vec<&Vec<String>> = owned
            .iter()
            .filter(|p| json_get(fragment, p).is_some())
            .collect();
        let removals = previously
            .iter()
            .filter(|p| !owned.contains(p))
            .chain(owned.iter().filter(|p| json_get(fragment, p).is_none()));
        let mut doomed = Vec::new();
        for path in removals {
            if writes.iter().any(|w| path.starts_with(w)) {
                continue;
            }
            let mut pending = vec![path.clone()];
            while let Some(path) = pending.pop() {
                let below: Vec<_> = writes
                    .iter()
                    .filter(|w| w.starts_with(&path) && **w != &path)
                    .collect();
                match json_get(user, &path) {
                    Some(Value::Object(map)) if !below.is_empty() => {
                        for key in map.keys() {
                            let child = [path.clone(), vec![key.clone()]].concat();
                            if !writes.contains(&&child) {
                                pending.push(child);
                            }
                        }
                    }
                    _ if below.is_empty() || json_get(user, &path).is_some() => doomed.push(path),
                    _ => {}
                }
            }
        }
        let mut out = user.clone();
        for path in &doomed {
            remove_at(&mut out, path);
            let mut parent = path.clone();
            while parent.pop().is_some()
                && !parent.is_empty()
                && json_get(&out, &parent).is_some_and(|v| v.as_object().is_some_and(Map::is_empty))
                && S::headerless(text, &parent)
            {
                remove_at(&mut out, &parent);
            }
        }
        out
    }

    /// Whether a member path is kiln's business: an owned/previously owned key, inside one, or a
    /// parent of one.
    fn managed(path: &[String], pointers: &[Vec<String>]) -> bool {
        pointers
            .iter()
            .any(|p| path.starts_with(p) || p.starts_with(path))
    }

    /// What a format-specific test needs from the format.
    trait Syntax {
        const FORMAT: MergeFormat;
        /// The whole document as JSON.
        fn value(text: &str) -> Value;
        /// Source text of every member, by path.
        fn sources(text: &str) -> BTreeMap<Vec<String>, String>;
        /// Byte ranges of the lines of the member at `path`, if present.
        fn regions(text: &str, path: &[String]) -> Vec<(usize, usize)>;
        /// Whether inserting at `path` and removing again must give the text back.
        fn reversible_insert(text: &str, path: &[String]) -> bool;
        /// Whether a text is valid, judged independently where possible.
        fn valid(text: &str) -> bool;
        /// Makes fragment B's value writable in place of A's (TOML tables stay tables).
        fn same_kind(a: &Value, b: Value) -> Value;
        /// Whether the table at `path` has no header of its own (so vanishes when emptied).
        fn headerless(text: &str, path: &[String]) -> bool;
    }

    fn line_span(text: &str, start: usize, end: usize) -> (usize, usize) {
        let from = line_start(text, start);
        let to = text[end..]
            .find(is_line_break)
            .map_or(text.len(), |i| end + i);
        (from, to)
    }

    /// `@n@` comment ids and their offsets.
    fn comment_ids(text: &str) -> Vec<(usize, u32)> {
        let mut out = Vec::new();
        let mut rest = text;
        let mut offset = 0;
        while let Some(i) = rest.find('@') {
            let after = &rest[i + 1..];
            let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            if digits > 0 && after[digits..].starts_with('@') {
                out.push((offset + i, after[..digits].parse().unwrap()));
                offset += i + digits + 2;
                rest = &after[digits + 1..];
            } else {
                offset += i + 1;
                rest = after;
            }
        }
        out
    }

    fn to_text(pointers: &[Vec<String>]) -> Vec<String> {
        pointers.iter().map(|p| pointer_text(p)).collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn check<S: Syntax>(
        input: &str,
        picks_owned: &[Pick],
        picks_previous: &[Pick],
        values_a: &[Value],
        values_b: &[Value],
        present: &[bool],
        corruptions: &[Corruption],
    ) -> Result<(), TestCaseError> {
        let format = S::FORMAT;
        prop_assert!(S::valid(input), "generated input does not parse:\n{input}");
        let user = S::value(input);

        // Owned pointers never nest in one another (a fragment could not hold both).
        let mut owned: Vec<Vec<String>> = Vec::new();
        for p in picks_owned {
            let path = choose(&user, p);
            if !owned
                .iter()
                .any(|o| o.starts_with(&path) || path.starts_with(o))
            {
                owned.push(path);
            }
        }
        let previously: Vec<Vec<String>> =
            picks_previous.iter().map(|p| choose(&user, p)).collect();
        let mut fragment = json!({});
        let mut full_a = json!({});
        for (i, path) in owned.iter().enumerate() {
            let value = values_a[i % values_a.len()].clone();
            if present[i % present.len()] {
                set_at(&mut fragment, path, value.clone());
            }
            set_at(&mut full_a, path, value);
        }
        let (owned_text, previously_text) = (to_text(&owned), to_text(&previously));
        let merged = merge(
            format,
            Some(input),
            &fragment,
            &owned_text,
            &previously_text,
        );
        let all: Vec<Vec<String>> = owned.iter().chain(&previously).cloned().collect();

        match expected::<S>(input, &user, &fragment, &owned, &previously) {
            None => {
                let error = merged.err();
                prop_assert!(
                    error.as_ref().is_some_and(|e| e.line > 0),
                    "expected a located error, got {error:?}"
                );
            }
            Some(want) => {
                let out = merged.map_err(|e| {
                    TestCaseError::fail(format!("merge failed: {e}\ninput:\n{input}"))
                })?;
                let context = || {
                    format!(
                        "\ninput:\n{input}\noutput:\n{out}\nowned {owned_text:?} previously {previously_text:?}\nfragment {fragment}"
                    )
                };
                // (1) parses, (3) is the document asked for.
                prop_assert!(S::valid(&out), "output does not parse{}", context());
                prop_assert_eq!(S::value(&out), want, "{}", context());
                // (2) owned values round-trip.
                let got = owned_values(format, &out, &owned_text).unwrap();
                for (path, text) in owned.iter().zip(&owned_text) {
                    prop_assert_eq!(
                        &got[text],
                        &json_get(&fragment, path).cloned(),
                        "{} {}",
                        text,
                        context()
                    );
                }
                // (3) source text of unmanaged members.
                let (before, after) = (S::sources(input), S::sources(&out));
                for (path, source) in &before {
                    if !managed(path, &all) {
                        prop_assert_eq!(
                            Some(source),
                            after.get(path),
                            "member {:?}{}",
                            path,
                            context()
                        );
                    }
                }
                // (3) comments outside managed lines survive, in order; none appear.
                let regions: Vec<(usize, usize)> =
                    all.iter().flat_map(|p| S::regions(input, p)).collect();
                let must: Vec<u32> = comment_ids(input)
                    .into_iter()
                    .filter(|(at, _)| !regions.iter().any(|(s, e)| s <= at && at < e))
                    .map(|(_, id)| id)
                    .collect();
                let ids_in: BTreeSet<u32> =
                    comment_ids(input).into_iter().map(|(_, id)| id).collect();
                let ids_out: Vec<u32> = comment_ids(&out).into_iter().map(|(_, id)| id).collect();
                prop_assert!(
                    ids_out.iter().all(|id| ids_in.contains(id)),
                    "{}",
                    context()
                );
                let kept: Vec<u32> = ids_out
                    .iter()
                    .copied()
                    .filter(|id| must.contains(id))
                    .collect();
                prop_assert_eq!(kept, must, "comments lost or reordered{}", context());
                // (4) idempotent.
                let again =
                    merge(format, Some(&out), &fragment, &owned_text, &previously_text).unwrap();
                prop_assert_eq!(&again, &out, "not idempotent{}", context());
            }
        }

        // (3) inserting keys with existing parents, then removing them, restores the input.
        let fresh: Vec<Vec<String>> = owned
            .iter()
            .filter(|p| json_get(&user, p).is_none())
            .filter(|p| json_get(&user, &p[..p.len() - 1]).is_some_and(Value::is_object))
            .filter(|p| S::reversible_insert(input, p))
            .cloned()
            .collect();
        if !fresh.is_empty() {
            let fresh_text = to_text(&fresh);
            let inserted = merge(format, Some(input), &full_a, &fresh_text, &[]).unwrap();
            let removed = merge(format, Some(&inserted), &json!({}), &[], &fresh_text).unwrap();
            prop_assert_eq!(
                &removed,
                input,
                "insert then remove is not exact; inserted:\n{}",
                inserted
            );
        }

        // (3) A, then B, then A again gives A's bytes.
        let settled = after_removals::<S>(input, &user, &full_a, &owned, &previously);
        if let Ok(deployed_a) = merge(format, Some(input), &full_a, &owned_text, &previously_text) {
            let mut full_b = json!({});
            for (i, path) in owned.iter().enumerate() {
                let a = json_get(&full_a, path).unwrap();
                let b = if json_get(&settled, path) == Some(a) {
                    a.clone()
                } else {
                    S::same_kind(a, values_b[i % values_b.len()].clone())
                };
                set_at(&mut full_b, path, b);
            }
            let deployed_b = merge(format, Some(&deployed_a), &full_b, &owned_text, &[]).unwrap();
            let again_a = merge(format, Some(&deployed_b), &full_a, &owned_text, &[]).unwrap();
            prop_assert_eq!(
                &again_a,
                &deployed_a,
                "A/B/A differs; B was:\n{}",
                deployed_b
            );
        }

        // (5) corrupted inputs that do not parse are refused.
        for c in corruptions {
            let bad = corrupt(input, c);
            let result = merge(format, Some(&bad), &fragment, &owned_text, &previously_text);
            let read = owned_values(format, &bad, &owned_text);
            if !S::valid(&bad) {
                prop_assert!(result.is_err(), "accepted unparsable input:\n{bad:?}");
                prop_assert!(read.is_err(), "read unparsable input:\n{bad}");
            } else {
                prop_assert!(read.is_ok(), "refused valid input:\n{bad}");
            }
        }
        Ok(())
    }

    // ---- JSON and JSONC documents

    const JSON_LEAVES: &[&str] = &[
        "0",
        "-12",
        "1.50",
        "2e10",
        "1E+2",
        "-0",
        "true",
        "false",
        "null",
        "\"s\"",
        "\"esc\\n\\u00e9\\\"\"",
        "\"é日本\"",
        "\"\"",
        "123456789012345678901234",
        "[]",
        "{}",
    ];

    #[derive(Clone, Debug)]
    enum JNode {
        Leaf(usize),
        Array(Vec<JNode>, bool),
        Object(JObject),
    }

    #[derive(Clone, Debug)]
    struct JObject {
        members: Vec<(usize, JNode, JDeco)>,
        multiline: bool,
        trailing_comma: bool,
        end_comment: bool,
    }

    /// Around a member: a comment line above (`//` or `/* */`), a comment after it on its line,
    /// a blank line before.
    #[derive(Clone, Debug)]
    struct JDeco {
        above: u8,
        same_line: bool,
        blank: bool,
    }

    fn jdeco() -> impl Strategy<Value = JDeco> {
        (
            0u8..6,
            prop::bool::weighted(0.3),
            prop::bool::weighted(0.15),
        )
            .prop_map(|(above, same_line, blank)| JDeco {
                above: above.saturating_sub(3),
                same_line,
                blank,
            })
    }

    fn jobject(inner: BoxedStrategy<JNode>, multiline: f64) -> impl Strategy<Value = JObject> {
        (
            vec((0..KEYS.len(), inner, jdeco()), 0..5),
            prop::bool::weighted(multiline),
            any::<bool>(),
            prop::bool::weighted(0.2),
        )
            .prop_map(
                |(members, multiline, trailing_comma, end_comment)| JObject {
                    members,
                    multiline,
                    trailing_comma,
                    end_comment,
                },
            )
    }

    fn jnode() -> BoxedStrategy<JNode> {
        (0..JSON_LEAVES.len())
            .prop_map(JNode::Leaf)
            .prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    (vec(inner.clone(), 0..4), any::<bool>())
                        .prop_map(|(items, multiline)| JNode::Array(items, multiline)),
                    jobject(inner, 0.75).prop_map(JNode::Object),
                ]
            })
            .boxed()
    }

    #[derive(Clone, Debug)]
    struct JOptions {
        indent: usize,
        crlf: bool,
        header: bool,
        trailer: bool,
    }

    fn joptions() -> impl Strategy<Value = JOptions> {
        (
            0usize..3,
            prop::bool::weighted(0.2),
            prop::bool::weighted(0.2),
            prop::bool::weighted(0.2),
        )
            .prop_map(|(indent, crlf, header, trailer)| JOptions {
                indent,
                crlf,
                header,
                trailer,
            })
    }

    struct JWriter {
        jsonc: bool,
        unit: &'static str,
        comments: u32,
        out: String,
    }

    impl JWriter {
        fn comment(&mut self, block: bool) {
            self.comments += 1;
            let n = self.comments;
            self.out.push_str(&if block {
                format!("/* @{n}@ */")
            } else {
                format!("// @{n}@")
            });
        }

        fn line(&mut self, depth: usize) {
            self.out.push('\n');
            self.out.push_str(&self.unit.repeat(depth));
        }

        fn node(&mut self, node: &JNode, depth: usize, multiline_ok: bool) {
            match node {
                JNode::Leaf(i) => self.out.push_str(JSON_LEAVES[*i]),
                JNode::Array(items, multiline) => {
                    let multiline = *multiline && multiline_ok && !items.is_empty();
                    self.out.push('[');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            self.out.push_str(if multiline { "," } else { ", " });
                        }
                        if multiline {
                            self.line(depth + 1);
                        }
                        self.node(item, depth + 1, multiline);
                    }
                    if multiline {
                        self.line(depth);
                    }
                    self.out.push(']');
                }
                JNode::Object(object) => self.object(object, depth, multiline_ok),
            }
        }

        fn object(&mut self, object: &JObject, depth: usize, multiline_ok: bool) {
            let mut seen = BTreeSet::new();
            let members: Vec<_> = object
                .members
                .iter()
                .filter(|(k, _, _)| seen.insert(*k))
                .collect();
            let multiline = object.multiline && multiline_ok;
            if members.is_empty() {
                if self.jsonc && object.end_comment {
                    self.out.push('{');
                    if multiline {
                        self.line(depth + 1);
                        self.comment(false);
                        self.line(depth);
                    } else {
                        self.out.push(' ');
                        self.comment(true);
                        self.out.push(' ');
                    }
                    self.out.push('}');
                } else {
                    self.out.push_str("{}");
                }
                return;
            }
            self.out.push('{');
            for (i, (key, child, deco)) in members.iter().enumerate() {
                if multiline {
                    if deco.blank {
                        self.out.push('\n');
                    }
                    if self.jsonc && deco.above > 0 {
                        self.line(depth + 1);
                        self.comment(deco.above == 2);
                    }
                    self.line(depth + 1);
                } else if i > 0 {
                    self.out.push_str(", ");
                }
                self.out.push_str(&Value::from(KEYS[*key]).to_string());
                self.out.push_str(": ");
                self.node(child, depth + 1, multiline);
                if multiline {
                    if i + 1 < members.len() || (self.jsonc && object.trailing_comma) {
                        self.out.push(',');
                    }
                    if self.jsonc && deco.same_line {
                        self.out.push(' ');
                        self.comment(false);
                    }
                }
            }
            if multiline {
                if self.jsonc && object.end_comment {
                    self.line(depth + 1);
                    self.comment(false);
                }
                self.line(depth);
            }
            self.out.push('}');
        }
    }

    fn write_json(root: &JObject, options: &JOptions, jsonc: bool) -> String {
        let mut w = JWriter {
            jsonc,
            unit: ["  ", "    ", "\t"][options.indent],
            comments: 0,
            out: String::new(),
        };
        if jsonc && options.header {
            w.comment(false);
            w.out.push('\n');
        }
        w.object(root, 0, true);
        w.out.push('\n');
        if jsonc && options.trailer {
            w.comment(true);
            w.out.push('\n');
        }
        if options.crlf {
            w.out.replace('\n', "\r\n")
        } else {
            w.out
        }
    }

    fn json_sources(text: &str, jsonc: bool) -> BTreeMap<Vec<String>, String> {
        fn walk(
            text: &str,
            value: &ast::Value<'_>,
            path: &mut Vec<String>,
            out: &mut BTreeMap<Vec<String>, String>,
        ) {
            if let ast::Value::Object(object) = value {
                for prop in &object.properties {
                    path.push(json::prop_name(prop).to_string());
                    out.insert(path.clone(), prop.value.text(text).to_string());
                    walk(text, &prop.value, path, out);
                    path.pop();
                }
            }
        }
        let mut out = BTreeMap::new();
        if let Ok(Some(root)) = json::parse(text, jsonc) {
            walk(text, &root, &mut Vec::new(), &mut out);
        }
        out
    }

    fn json_regions(text: &str, jsonc: bool, path: &[String]) -> Vec<(usize, usize)> {
        let Ok(Some(root)) = json::parse(text, jsonc) else {
            return Vec::new();
        };
        let Some((key, parents)) = path.split_last() else {
            return Vec::new();
        };
        let Some(ast::Value::Object(object)) = json::lookup(&root, parents) else {
            return Vec::new();
        };
        object
            .properties
            .iter()
            .filter(|prop| json::prop_name(prop) == key)
            .map(|prop| line_span(text, prop.range.start, prop.value.end()))
            .collect()
    }

    fn json_value_of(text: &str, jsonc: bool) -> Value {
        json::parse(text, jsonc)
            .unwrap()
            .map_or(Value::Null, |root| json::to_json(&root))
    }

    struct Json;
    impl Syntax for Json {
        const FORMAT: MergeFormat = MergeFormat::Json;
        fn value(text: &str) -> Value {
            json_value_of(text, false)
        }
        fn sources(text: &str) -> BTreeMap<Vec<String>, String> {
            json_sources(text, false)
        }
        fn regions(text: &str, path: &[String]) -> Vec<(usize, usize)> {
            json_regions(text, false, path)
        }
        fn reversible_insert(_: &str, _: &[String]) -> bool {
            true
        }
        fn valid(text: &str) -> bool {
            // An empty file is taken as a missing one.
            serde_json::from_str::<Value>(text).is_ok()
                || text.trim_matches([' ', '\t', '\n', '\r']).is_empty()
        }
        fn same_kind(_: &Value, b: Value) -> Value {
            b
        }
        fn headerless(_: &str, _: &[String]) -> bool {
            false
        }
    }

    struct Jsonc;
    impl Syntax for Jsonc {
        const FORMAT: MergeFormat = MergeFormat::Jsonc;
        fn value(text: &str) -> Value {
            json_value_of(text, true)
        }
        fn sources(text: &str) -> BTreeMap<Vec<String>, String> {
            json_sources(text, true)
        }
        fn regions(text: &str, path: &[String]) -> Vec<(usize, usize)> {
            json_regions(text, true, path)
        }
        fn reversible_insert(_: &str, _: &[String]) -> bool {
            true
        }
        fn valid(text: &str) -> bool {
            json::parse(text, true).is_ok()
        }
        fn same_kind(_: &Value, b: Value) -> Value {
            b
        }
        fn headerless(_: &str, _: &[String]) -> bool {
            false
        }
    }

    // ---- TOML documents

    /// Scalars and single-line values, as written in TOML.
    const TOML_SCALARS: &[&str] = &[
        "1",
        "-7",
        "0x1F",
        "0o17",
        "0b101",
        "1_000",
        "+3",
        "3.14",
        "1e3",
        "-0.0",
        "inf",
        "true",
        "false",
        "\"str\"",
        "'lit'",
        "\"esc\\t\\u00e9\"",
        "1979-05-27T07:32:00Z",
        "1979-05-27",
        "07:32:00",
        "[1, 2, 3]",
        "[ \"a\", 'b', ]",
        "[]",
        "{ x = 1, y = \"z\" }",
        "{}",
    ];

    /// Values spanning lines (not allowed inside inline tables).
    const TOML_MULTILINE: &[&str] = &["[\n  1,\n  2,\n]", "\"\"\"multi\nline\"\"\""];

    #[derive(Clone, Debug)]
    enum TEntry {
        Value(usize),
        Inline(Vec<(usize, usize)>),
        Dotted(Vec<(usize, usize)>),
        Table(TTable),
        ArrayOfTables(Vec<Vec<(usize, usize)>>),
    }

    #[derive(Clone, Debug)]
    struct TTable {
        entries: Vec<(usize, TEntry, TDeco)>,
    }

    /// Around an entry: a comment line above, a comment after it on its line, a blank line
    /// before; for a table: a spaced header (`[ a . b ]`).
    #[derive(Clone, Debug)]
    struct TDeco {
        above: bool,
        same_line: bool,
        blank: bool,
        spaced: bool,
    }

    fn tdeco() -> impl Strategy<Value = TDeco> {
        (
            prop::bool::weighted(0.3),
            prop::bool::weighted(0.3),
            prop::bool::weighted(0.3),
            prop::bool::weighted(0.2),
        )
            .prop_map(|(above, same_line, blank, spaced)| TDeco {
                above,
                same_line,
                blank,
                spaced,
            })
    }

    fn tscalars(max: usize) -> impl Strategy<Value = Vec<(usize, usize)>> {
        vec((0..KEYS.len(), 0..TOML_SCALARS.len()), 0..max)
    }

    fn tentry_leaf() -> impl Strategy<Value = TEntry> {
        prop_oneof![
            4 => (0..TOML_SCALARS.len() + TOML_MULTILINE.len()).prop_map(TEntry::Value),
            1 => tscalars(3).prop_map(TEntry::Inline),
            1 => vec((0..KEYS.len(), 0..TOML_SCALARS.len()), 1..3).prop_map(TEntry::Dotted),
            1 => vec(tscalars(3), 1..3).prop_map(TEntry::ArrayOfTables),
        ]
    }

    fn ttable() -> BoxedStrategy<TTable> {
        vec((0..KEYS.len(), tentry_leaf(), tdeco()), 0..4)
            .prop_map(|entries| TTable { entries })
            .prop_recursive(3, 20, 5, |inner| {
                vec(
                    (
                        0..KEYS.len(),
                        prop_oneof![3 => tentry_leaf(), 2 => inner.prop_map(TEntry::Table)],
                        tdeco(),
                    ),
                    0..5,
                )
                .prop_map(|entries| TTable { entries })
            })
            .boxed()
    }

    #[derive(Clone, Debug)]
    struct TOptions {
        indent: bool,
        crlf: bool,
        header: bool,
        trailer: bool,
    }

    fn toptions() -> impl Strategy<Value = TOptions> {
        (
            any::<bool>(),
            prop::bool::weighted(0.2),
            prop::bool::weighted(0.2),
            prop::bool::weighted(0.3),
        )
            .prop_map(|(indent, crlf, header, trailer)| TOptions {
                indent,
                crlf,
                header,
                trailer,
            })
    }

    fn toml_key(key: &str) -> String {
        if !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            key.to_string()
        } else {
            Value::from(key).to_string()
        }
    }

    struct TWriter {
        indent: bool,
        comments: u32,
        out: String,
    }

    impl TWriter {
        fn comment(&mut self) -> String {
            self.comments += 1;
            format!("# @{}@", self.comments)
        }

        fn line_start(&mut self, deco: &TDeco, nested: bool) {
            if deco.blank {
                self.out.push('\n');
            }
            let indent = if nested && self.indent { "  " } else { "" };
            if deco.above {
                let comment = self.comment();
                self.out.push_str(&format!("{indent}{comment}\n"));
            }
            self.out.push_str(indent);
        }

        fn line_end(&mut self, deco: &TDeco) {
            if deco.same_line {
                let comment = self.comment();
                self.out.push_str(&format!("  {comment}"));
            }
            self.out.push('\n');
        }

        fn body(&mut self, table: &TTable, nested: bool) {
            for (key, entry, deco) in &table.entries {
                let key = toml_key(KEYS[*key]);
                match entry {
                    TEntry::Value(i) => {
                        self.line_start(deco, nested);
                        let value = TOML_SCALARS
                            .get(*i)
                            .unwrap_or_else(|| &TOML_MULTILINE[i - TOML_SCALARS.len()]);
                        self.out.push_str(&format!("{key} = {value}"));
                        self.line_end(deco);
                    }
                    TEntry::Inline(members) => {
                        self.line_start(deco, nested);
                        self.out.push_str(&format!("{key} = {}", inline(members)));
                        self.line_end(deco);
                    }
                    TEntry::Dotted(members) => {
                        for (i, (inner, value)) in dedupe(members).into_iter().enumerate() {
                            let deco = if i == 0 {
                                deco.clone()
                            } else {
                                TDeco {
                                    above: false,
                                    same_line: false,
                                    blank: false,
                                    spaced: false,
                                }
                            };
                            self.line_start(&deco, nested);
                            self.out.push_str(&format!(
                                "{key}.{} = {}",
                                toml_key(KEYS[inner]),
                                TOML_SCALARS[value]
                            ));
                            self.line_end(&deco);
                        }
                    }
                    TEntry::Table(_) | TEntry::ArrayOfTables(_) => {}
                }
            }
        }

        fn tables(&mut self, table: &TTable, path: &[String]) {
            for (key, entry, deco) in &table.entries {
                let path = [path, &[toml_key(KEYS[*key])]].concat();
                match entry {
                    TEntry::Table(child) => {
                        self.out.push('\n');
                        let header = if deco.spaced {
                            format!("[ {} ]", path.join(" . "))
                        } else {
                            format!("[{}]", path.join("."))
                        };
                        self.line_start(
                            &TDeco {
                                blank: false,
                                ..deco.clone()
                            },
                            false,
                        );
                        self.out.push_str(&header);
                        self.line_end(deco);
                        self.body(child, true);
                        self.tables(child, &path);
                    }
                    TEntry::ArrayOfTables(elements) => {
                        for members in elements {
                            self.out.push_str(&format!("\n[[{}]]\n", path.join(".")));
                            for (inner, value) in dedupe(members) {
                                self.out.push_str(&format!(
                                    "{} = {}\n",
                                    toml_key(KEYS[inner]),
                                    TOML_SCALARS[value]
                                ));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    fn dedupe(members: &[(usize, usize)]) -> Vec<(usize, usize)> {
        let mut seen = BTreeSet::new();
        members
            .iter()
            .copied()
            .filter(|(k, _)| seen.insert(*k))
            .collect()
    }

    fn inline(members: &[(usize, usize)]) -> String {
        let members = dedupe(members);
        if members.is_empty() {
            return "{}".to_string();
        }
        let inner: Vec<String> = members
            .iter()
            .map(|(k, v)| format!("{} = {}", toml_key(KEYS[*k]), TOML_SCALARS[*v]))
            .collect();
        format!("{{ {} }}", inner.join(", "))
    }

    /// Drops entries whose key an earlier entry of the same table already took.
    fn dedupe_table(table: &TTable) -> TTable {
        let mut seen = BTreeSet::new();
        TTable {
            entries: table
                .entries
                .iter()
                .filter(|(k, _, _)| seen.insert(*k))
                .map(|(k, entry, deco)| {
                    let entry = match entry {
                        TEntry::Table(child) => TEntry::Table(dedupe_table(child)),
                        other => other.clone(),
                    };
                    (*k, entry, deco.clone())
                })
                .collect(),
        }
    }

    fn write_toml(root: &TTable, options: &TOptions) -> String {
        let root = dedupe_table(root);
        let mut w = TWriter {
            indent: options.indent,
            comments: 0,
            out: String::new(),
        };
        if options.header {
            let comment = w.comment();
            w.out.push_str(&format!("{comment}\n\n"));
        }
        w.body(&root, false);
        w.tables(&root, &[]);
        if options.trailer {
            let comment = w.comment();
            w.out.push_str(&format!("{comment}\n"));
        }
        if options.crlf {
            w.out.replace('\n', "\r\n")
        } else {
            w.out
        }
    }

    fn spanned(text: &str) -> toml_edit::Document<&str> {
        toml_edit::Document::parse(text).unwrap()
    }

    /// Source text of each key/value (`key|value`) and each array-of-tables element, by path
    /// (array elements get a `[i]` segment, which no pointer uses).
    fn toml_sources(text: &str) -> BTreeMap<Vec<String>, String> {
        fn walk(
            text: &str,
            table: &dyn TableLike,
            path: &mut Vec<String>,
            out: &mut BTreeMap<Vec<String>, String>,
        ) {
            for (key, item) in table.iter() {
                path.push(key.to_string());
                let key_text = table
                    .key(key)
                    .and_then(|k| k.span())
                    .map_or("", |span| &text[span]);
                match item {
                    Item::Value(value) => {
                        let value_text = value.span().map_or("", |span| &text[span]);
                        out.insert(path.clone(), format!("{key_text}|{value_text}"));
                        if let toml_edit::Value::InlineTable(inner) = value {
                            walk(text, inner, path, out);
                        }
                    }
                    Item::Table(inner) => walk(text, inner, path, out),
                    Item::ArrayOfTables(array) => {
                        for (i, inner) in array.iter().enumerate() {
                            path.push(format!("[{i}]"));
                            walk(text, inner, path, out);
                            path.pop();
                        }
                    }
                    Item::None => {}
                }
                path.pop();
            }
        }
        let doc = spanned(text);
        let mut out = BTreeMap::new();
        walk(text, doc.as_table(), &mut Vec::new(), &mut out);
        out
    }

    /// The lines of a member: a key/value line, or a table with all its sub-tables (written
    /// together by the generator) from the first header to the end of the last body.
    fn toml_regions(text: &str, path: &[String]) -> Vec<(usize, usize)> {
        fn extent(table: &Table, start: &mut usize, end: &mut usize) {
            if let Some(span) = table.span() {
                *start = (*start).min(span.start);
                *end = (*end).max(span.end);
            }
            for (_, value) in table.get_values() {
                if let Some(span) = value.span() {
                    *end = (*end).max(span.end);
                }
            }
            for (_, item) in table.iter() {
                match item {
                    Item::Table(inner) => extent(inner, start, end),
                    Item::ArrayOfTables(array) => {
                        array.iter().for_each(|inner| extent(inner, start, end))
                    }
                    _ => {}
                }
            }
        }
        let doc = spanned(text);
        let Some((key, parents)) = path.split_last() else {
            return Vec::new();
        };
        let Some(parent) = parents
            .iter()
            .try_fold(doc.as_table() as &dyn TableLike, |t, s| {
                t.get(s)?.as_table_like()
            })
        else {
            return Vec::new();
        };
        let Some(item) = parent.get(key) else {
            return Vec::new();
        };
        let key_start = parent.key(key).and_then(|k| k.span()).map(|s| s.start);
        let (mut start, mut end) = (usize::MAX, 0);
        match item {
            Item::Value(value) => {
                start = key_start.unwrap_or(usize::MAX);
                end = value.span().map_or(0, |s| s.end);
            }
            Item::Table(table) => {
                extent(table, &mut start, &mut end);
                if table.is_dotted() {
                    for (keys, _) in table.get_values() {
                        if let Some(span) = keys.last().and_then(|k| k.span()) {
                            start = start.min(span.start);
                        }
                    }
                    start = start.min(key_start.unwrap_or(usize::MAX));
                }
            }
            Item::ArrayOfTables(array) => array
                .iter()
                .for_each(|table| extent(table, &mut start, &mut end)),
            Item::None => {}
        }
        if start > end {
            return Vec::new();
        }
        vec![line_span(text, start, end)]
    }

    struct Toml;
    impl Syntax for Toml {
        const FORMAT: MergeFormat = MergeFormat::Toml;
        fn value(text: &str) -> Value {
            let doc: DocumentMut = text.replace("\r\n", "\n").parse().unwrap();
            toml::item_to_json(doc.as_item()).unwrap()
        }
        fn sources(text: &str) -> BTreeMap<Vec<String>, String> {
            toml_sources(text)
        }
        fn regions(text: &str, path: &[String]) -> Vec<(usize, usize)> {
            toml_regions(text, path)
        }
        fn reversible_insert(text: &str, path: &[String]) -> bool {
            // An implicit parent (`[a.b]` written, `[a]` not) gains a header when a value is
            // put in it, and after a re-parse nothing says it was implicit.
            let doc: DocumentMut = text.replace("\r\n", "\n").parse().unwrap();
            let parent = &path[..path.len() - 1];
            let mut table: &dyn TableLike = doc.as_table();
            for segment in parent {
                let Some(item) = table.get(segment) else {
                    return false;
                };
                if item.as_table().is_some_and(Table::is_implicit) {
                    return false;
                }
                let Some(inner) = item.as_table_like() else {
                    return false;
                };
                table = inner;
            }
            true
        }
        fn valid(text: &str) -> bool {
            toml_edit::Document::parse(text).is_ok()
        }
        /// A table stays a table and a value a value (a change of kind moves the key to where
        /// its new kind is written); an empty table stays empty (an empty table under dotted
        /// keys can only be written `{}`, and stays inline afterwards); a table needs its own
        /// `[header]` (holds values, or nothing) iff A's does (a header once written stays).
        fn same_kind(a: &Value, b: Value) -> Value {
            let Some(a) = a.as_object() else {
                return match b {
                    Value::Object(map) => Value::Array(map.into_values().collect()),
                    b => b,
                };
            };
            if a.is_empty() {
                return json!({});
            }
            let mut b = match b {
                Value::Object(map) if !map.is_empty() => map,
                b => [("value".to_string(), b)].into_iter().collect(),
            };
            let tables_only = |m: &Map<String, Value>| m.values().all(Value::is_object);
            if tables_only(a) && !tables_only(&b) {
                b = [("t".to_string(), Value::Object(b))].into_iter().collect();
            } else if !tables_only(a) && tables_only(&b) {
                b.insert("v".to_string(), json!(1));
            }
            Value::Object(b)
        }
        fn headerless(text: &str, path: &[String]) -> bool {
            let doc: DocumentMut = text.replace("\r\n", "\n").parse().unwrap();
            toml::lookup(doc.as_table(), path)
                .and_then(Item::as_table)
                .is_some_and(|t| t.is_implicit() || t.is_dotted())
        }
    }

    // ---- the properties

    /// Owned picks, previously owned picks, fragment A's values, fragment B's values, which
    /// owned keys the fragment has, corruptions.
    type CaseParts = (
        Vec<Pick>,
        Vec<Pick>,
        Vec<Value>,
        Vec<Value>,
        Vec<bool>,
        Vec<Corruption>,
    );

    fn case_parts(null: bool) -> impl Strategy<Value = CaseParts> {
        (
            vec(pick(), 1..6),
            vec(pick(), 0..4),
            vec(json_value(null), 6),
            vec(json_value(null), 6),
            vec(prop::bool::weighted(0.8), 6),
            vec(corruption(), 3),
        )
    }

    proptest! {
        // No regression files: the cases proptest found are unit tests in `tests` above.
        #![proptest_config(ProptestConfig {
            failure_persistence: None,
            ..ProptestConfig::with_cases(1000)
        })]

        #[test]
        fn json_merges_preserve_the_users_bytes(
            root in jobject(jnode(), 0.9),
            options in joptions(),
            (owned, previously, a, b, present, corruptions) in case_parts(true),
        ) {
            let input = write_json(&root, &options, false);
            check::<Json>(&input, &owned, &previously, &a, &b, &present, &corruptions)?;
        }

        #[test]
        fn jsonc_merges_preserve_the_users_bytes(
            root in jobject(jnode(), 0.9),
            options in joptions(),
            (owned, previously, a, b, present, corruptions) in case_parts(true),
        ) {
            let input = write_json(&root, &options, true);
            check::<Jsonc>(&input, &owned, &previously, &a, &b, &present, &corruptions)?;
            // Comments make it JSONC: strict JSON refuses them.
            if input.contains('@') {
                let strict = merge(MergeFormat::Json, Some(&input), &Value::Null, &[], &[]);
                prop_assert!(strict.is_err(), "strict JSON accepted comments");
            }
        }

        #[test]
        fn toml_merges_preserve_the_users_bytes(
            root in ttable(),
            options in toptions(),
            (owned, previously, a, b, present, corruptions) in case_parts(false),
        ) {
            let input = write_toml(&root, &options);
            check::<Toml>(&input, &owned, &previously, &a, &b, &present, &corruptions)?;
        }
    }
}
