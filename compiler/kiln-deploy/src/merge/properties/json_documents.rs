//! Random JSON and JSONC documents for the property tests (nested objects, arrays, number and
//! string spellings, comments, blank lines, indentation, trailing commas, CRLF), and how the
//! checks read the two formats.

use std::collections::{BTreeMap, BTreeSet};

use jsonc_parser::ast;
use jsonc_parser::common::Ranged;
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::Value;

use super::{KEYS, Syntax, line_span};
use crate::merge::{MergeFormat, json};

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
pub(super) enum JNode {
    Leaf(usize),
    Array(Vec<JNode>, bool),
    Object(JObject),
}

#[derive(Clone, Debug)]
pub(super) struct JObject {
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

pub(super) fn jobject(
    inner: BoxedStrategy<JNode>,
    multiline: f64,
) -> impl Strategy<Value = JObject> {
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

pub(super) fn jnode() -> BoxedStrategy<JNode> {
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
pub(super) struct JOptions {
    indent: usize,
    crlf: bool,
    header: bool,
    trailer: bool,
}

pub(super) fn joptions() -> impl Strategy<Value = JOptions> {
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

pub(super) fn write_json(root: &JObject, options: &JOptions, jsonc: bool) -> String {
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

pub(super) struct Json;
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

pub(super) struct Jsonc;
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
