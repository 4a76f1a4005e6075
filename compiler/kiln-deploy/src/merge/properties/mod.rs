//! Property tests: random user documents (nested objects/tables, arrays, varied number and
//! string spellings, comments, blank lines, indentation, trailing commas, CRLF), random owned and
//! previously owned pointers under existing, new and missing parents, random fragments.
//!
//! For every case:
//!
//! 1. the merged text parses;
//! 2. `owned_values` of it gives back the fragment's values (absent where the fragment lacks
//!    the key);
//! 3. the document is exactly what was asked: the input's value with the removals and writes
//!    applied (so every unmanaged key keeps its value), and the bytes the user wrote are kept,
//!    checked three ways:
//!    - source text: every unmanaged member (neither an owned/previously owned key, nor inside
//!      one, nor a parent of one) has the same source text in the output as in the input;
//!    - comments: every comment outside the lines of an owned/previously owned member survives,
//!      in order, and no comment appears from nowhere (each comment carries a unique `@n@`);
//!    - exact round trips: inserting keys whose parents exist and then removing them again
//!      restores the input byte for byte, and deploying fragment A, then B, then A again gives
//!      the same bytes as deploying A (replacing is in place and invertible);
//!
//!    (A plain "re-merge the previous values gives the input back" is not sound in general: a
//!    removed key comes back at the end of its object, and kiln writes values in its own layout,
//!    so the round trips above are the exact forms of that property that hold.)
//! 4. merging the same fragment again changes nothing;
//! 5. corrupted inputs that do not parse are refused with an error (never a panic, never a
//!    replaced file); for strict JSON, serde_json is the independent judge of "parses".

mod json_documents;
mod toml_documents;

use std::collections::{BTreeMap, BTreeSet};

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::{MergeFormat, is_line_break, json_get, line_start, merge, owned_values, pointer_text};
use json_documents::{Json, Jsonc, jnode, jobject, joptions, write_json};
use toml_documents::{Toml, toptions, ttable, write_toml};

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
    (0u8..4, 0usize..1000, 0..KEYS.len()).prop_map(|(kind, index, key)| Pick { kind, index, key })
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
    let previously: Vec<Vec<String>> = picks_previous.iter().map(|p| choose(&user, p)).collect();
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
            let out = merged
                .map_err(|e| TestCaseError::fail(format!("merge failed: {e}\ninput:\n{input}")))?;
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
            let ids_in: BTreeSet<u32> = comment_ids(input).into_iter().map(|(_, id)| id).collect();
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
    // No regression files: the cases proptest found are unit tests in `merge::tests`.
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
