//! Finding the text of a value from its JSON pointer, for diagnostics. Parsing for spans is
//! done only when a diagnostic needs one, so valid libraries never pay for it.

use std::ops::Range;

use jsonc_parser::ast::{ObjectPropName, Value};
use jsonc_parser::common::Ranged;
use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// Span of the value (or key) at `segments` in strict JSON text.
pub fn json(text: &str, segments: &[String], key: bool) -> Option<Range<usize>> {
    let options = jsonc_parser::ParseOptions {
        allow_comments: false,
        allow_loose_object_property_names: false,
        allow_trailing_commas: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    };
    let parsed =
        jsonc_parser::parse_to_ast(text, &jsonc_parser::CollectOptions::default(), &options)
            .ok()?;
    let mut value = parsed.value?;
    let mut key_range = None;
    for segment in segments {
        let next = match value {
            Value::Object(object) => {
                let prop = object
                    .properties
                    .into_iter()
                    .find(|prop| prop_name(&prop.name) == segment)?;
                key_range = Some(prop.name.range());
                prop.value
            }
            Value::Array(array) => {
                key_range = None;
                array.elements.into_iter().nth(segment.parse().ok()?)?
            }
            _ => return None,
        };
        value = next;
    }
    let range = match (key, key_range) {
        (true, Some(range)) => range,
        _ => value.range(),
    };
    Some(range.start..range.end)
}

fn prop_name<'a>(name: &'a ObjectPropName<'_>) -> &'a str {
    match name {
        ObjectPropName::String(lit) => &lit.value,
        ObjectPropName::Word(word) => word.value,
    }
}

/// Span of the value (or key) at `segments` in TOML text.
pub fn toml(text: &str, segments: &[String], key: bool) -> Option<Range<usize>> {
    let document = toml_edit::Document::parse(text).ok()?;
    let mut node = TomlNode::Item(document.as_item());
    let mut key_span = None;
    for segment in segments {
        let (next, span) = node.child(segment)?;
        node = next;
        key_span = span;
    }
    if key && key_span.is_some() {
        return key_span;
    }
    node.span().or(key_span)
}

#[derive(Clone, Copy)]
enum TomlNode<'a> {
    Item(&'a toml_edit::Item),
    Value(&'a toml_edit::Value),
    Table(&'a toml_edit::Table),
}

impl<'a> TomlNode<'a> {
    fn child(self, segment: &str) -> Option<(TomlNode<'a>, Option<Range<usize>>)> {
        match self {
            TomlNode::Item(toml_edit::Item::Value(value)) => TomlNode::Value(value).child(segment),
            TomlNode::Item(toml_edit::Item::Table(table)) => TomlNode::Table(table).child(segment),
            TomlNode::Item(toml_edit::Item::ArrayOfTables(array)) => {
                Some((TomlNode::Table(array.get(segment.parse().ok()?)?), None))
            }
            TomlNode::Item(toml_edit::Item::None) => None,
            TomlNode::Table(table) => {
                let (key, item) = table.get_key_value(segment)?;
                Some((TomlNode::Item(item), key.span()))
            }
            TomlNode::Value(toml_edit::Value::InlineTable(table)) => {
                let (key, item) = table.get_key_value(segment)?;
                Some((TomlNode::Item(item), key.span()))
            }
            TomlNode::Value(toml_edit::Value::Array(array)) => {
                Some((TomlNode::Value(array.get(segment.parse().ok()?)?), None))
            }
            TomlNode::Value(_) => None,
        }
    }

    fn span(self) -> Option<Range<usize>> {
        match self {
            TomlNode::Item(item) => item.span(),
            TomlNode::Value(value) => value.span(),
            TomlNode::Table(table) => table.span(),
        }
    }
}

/// Span of the value (or key) at `segments` in YAML text.
pub fn yaml(text: &str, segments: &[String], key: bool) -> Option<Range<usize>> {
    let root: Spanned<YamlNode> = serde_saphyr::from_str(text).ok()?;
    let mut node = &root;
    let mut key_span = None;
    for segment in segments {
        node = match &node.value {
            YamlNode::Map(entries) => {
                let (found_key, found) = entries.iter().find(|(k, _)| k.value == *segment)?;
                key_span = span_of(&found_key.referenced);
                found
            }
            YamlNode::Seq(items) => {
                key_span = None;
                items.get(segment.parse::<usize>().ok()?)?
            }
            YamlNode::Scalar => return None,
        };
    }
    if key && key_span.is_some() {
        return key_span;
    }
    span_of(&node.referenced).or(key_span)
}

fn span_of(location: &serde_saphyr::Location) -> Option<Range<usize>> {
    let span = location.span();
    let start = usize::try_from(span.byte_offset()?).ok()?;
    let len = usize::try_from(span.byte_len().unwrap_or(0)).ok()?;
    Some(start..start + len)
}

/// A YAML value with the position of every node, for locating pointers.
enum YamlNode {
    Scalar,
    Seq(Vec<Spanned<YamlNode>>),
    Map(Vec<(Spanned<String>, Spanned<YamlNode>)>),
}

impl<'de> Deserialize<'de> for YamlNode {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(YamlNodeVisitor)
    }
}

struct YamlNodeVisitor;

impl<'de> Visitor<'de> for YamlNodeVisitor {
    type Value = YamlNode;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<YamlNode, E> {
        Ok(YamlNode::Scalar)
    }
    fn visit_i64<E>(self, _: i64) -> Result<YamlNode, E> {
        Ok(YamlNode::Scalar)
    }
    fn visit_u64<E>(self, _: u64) -> Result<YamlNode, E> {
        Ok(YamlNode::Scalar)
    }
    fn visit_f64<E>(self, _: f64) -> Result<YamlNode, E> {
        Ok(YamlNode::Scalar)
    }
    fn visit_str<E>(self, _: &str) -> Result<YamlNode, E> {
        Ok(YamlNode::Scalar)
    }
    fn visit_unit<E>(self) -> Result<YamlNode, E> {
        Ok(YamlNode::Scalar)
    }
    fn visit_none<E>(self) -> Result<YamlNode, E> {
        Ok(YamlNode::Scalar)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<YamlNode, D::Error> {
        YamlNode::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<YamlNode, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<YamlNode>>()? {
            items.push(item);
        }
        Ok(YamlNode::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<YamlNode, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value::<Spanned<YamlNode>>()?;
            entries.push((key, value));
        }
        Ok(YamlNode::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(pointer: &str) -> Vec<String> {
        crate::source::pointer_segments(pointer)
    }

    #[test]
    fn locates_json_values_and_keys() {
        let text = r#"{"a": {"b": [1, "two"]}}"#;
        let span = json(text, &segs("/a/b/1"), false).expect("found");
        assert_eq!(&text[span], "\"two\"");
        let span = json(text, &segs("/a/b"), true).expect("found");
        assert_eq!(&text[span], "\"b\"");
    }

    #[test]
    fn locates_yaml_values_and_keys() {
        let text = "name: x\ntags:\n  - one\n  - two\n";
        let span = yaml(text, &segs("/tags/1"), false).expect("found");
        assert_eq!(&text[span], "two");
        let span = yaml(text, &segs("/tags"), true).expect("found");
        assert_eq!(&text[span], "tags");
    }

    #[test]
    fn locates_toml_values_and_keys() {
        let text = "version = 1\n[paths]\ncomponents = \"c\"\n";
        let span = toml(text, &segs("/paths/components"), false).expect("found");
        assert_eq!(&text[span], "\"c\"");
        let span = toml(text, &segs("/version"), true).expect("found");
        assert_eq!(&text[span], "version");
    }
}
