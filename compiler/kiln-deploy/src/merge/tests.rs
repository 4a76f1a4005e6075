//! Tests of what does not depend on the format (names, pointers, errors, equal values) and of
//! cases crossing formats; `s` and `ok` serve the format modules' tests too.

use serde_json::{Value, json};

use super::{MergeFormat, merge, owned_values, rebase};

pub(super) fn s(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| item.to_string()).collect()
}

pub(super) fn ok(
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

#[test]
fn rebase_carries_another_writers_changes_onto_kilns_text() {
    // kiln merged its server into `base`; meanwhile another program added `tips`, changed
    // `theme` and removed `old`. Its changes land on kiln's text; kiln's key stays.
    let base = "{\n  \"theme\": \"dark\",\n  \"old\": 1\n}\n";
    let theirs = "{\n  \"theme\": \"light\",\n  \"tips\": {\"shown\": 3}\n}\n";
    let ours =
        "{\n  \"theme\": \"dark\",\n  \"old\": 1,\n  \"mcpServers\": {\n    \"kiln\": {}\n  }\n}\n";
    let out = rebase(MergeFormat::Json, ours, Some(base), theirs).expect("rebase");
    let value: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        value,
        json!({"theme": "light", "tips": {"shown": 3}, "mcpServers": {"kiln": {}}})
    );
    // Nothing changed by them: kiln's text is kept byte for byte.
    assert_eq!(
        rebase(MergeFormat::Json, ours, Some(base), base).expect("rebase"),
        ours
    );
}

#[test]
fn rebase_keeps_comments_and_works_on_toml() {
    let ours = "// mine\n{\n  \"a\": 1, // note\n  \"k\": true\n}\n";
    let out = rebase(MergeFormat::Jsonc, ours, Some("{\"a\": 1}"), "{\"a\": 2}").expect("jsonc");
    assert_eq!(out, "// mine\n{\n  \"a\": 2, // note\n  \"k\": true\n}\n");
    let ours = "model = \"o3\"\n\n[mcp_servers.kiln]\ncommand = \"x\"\n";
    let out = rebase(
        MergeFormat::Toml,
        ours,
        Some("model = \"o3\"\n"),
        "model = \"o4\"\n[projects.\"/p\"]\ntrust_level = \"trusted\"\n",
    )
    .expect("toml");
    let value: toml::Table = toml::from_str(&out).expect("toml parses");
    assert_eq!(value["model"].as_str(), Some("o4"));
    assert_eq!(
        value["projects"]["/p"]["trust_level"].as_str(),
        Some("trusted")
    );
    assert_eq!(value["mcp_servers"]["kiln"]["command"].as_str(), Some("x"));
    // Another program writing something that is not a document is an error, never a guess.
    assert!(rebase(MergeFormat::Json, "{}", None, "[1]").is_err());
}
