//! Random TOML documents for the property tests (values in every spelling, inline, dotted and
//! standard tables, arrays of tables, comments, blank lines, indentation, CRLF), and how the
//! checks read TOML.

use std::collections::{BTreeMap, BTreeSet};

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use toml_edit::{DocumentMut, Item, Table, TableLike};

use super::{KEYS, Syntax, line_span};
use crate::merge::{MergeFormat, toml};

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
pub(super) struct TTable {
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

pub(super) fn ttable() -> BoxedStrategy<TTable> {
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
pub(super) struct TOptions {
    indent: bool,
    crlf: bool,
    header: bool,
    trailer: bool,
}

pub(super) fn toptions() -> impl Strategy<Value = TOptions> {
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

pub(super) fn write_toml(root: &TTable, options: &TOptions) -> String {
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

pub(super) struct Toml;
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
