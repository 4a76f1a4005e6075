//! TOML: edited through `toml_edit::DocumentMut`, with its habits corrected (CRLF, multi-line
//! strings, comments above removed items, spellings it does not reproduce).

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use toml_edit::{Decor, DocumentMut, InlineTable, Item, Key, Table, TableLike};

use super::{MergeError, OpError, Plan, Pointer, lines, pointer_text, split_bom};

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

/// The whole document as JSON (see [`item_to_json`]).
pub(super) fn document_json(live: &str) -> Result<Option<Value>, MergeError> {
    let doc = if uses_crlf(live) {
        parse(&live.replace("\r\n", "\n"))?
    } else {
        parse(live)?
    };
    Ok(item_to_json(doc.as_item()))
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
        Item::ArrayOfTables(array) => Some(Value::Array(array.iter().map(table_to_json).collect())),
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
        Value::Object(map) if dotted && map.is_empty() => Item::Value(InlineTable::new().into()),
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
fn container_mut<'d>(root: &'d mut Table, segments: &[String]) -> Result<Container<'d>, String> {
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
                Item::Value(old) => !value.is_object() || old.is_inline_table() || parent_dotted,
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
                Some(slot) if parent_dotted || slot.as_table().is_some_and(Table::is_dotted) => {
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
                None => next_header_after(order.iter().position(|(path, _)| *path == body_steps)?),
            };
            Some((keep, anchor))
        }
        Item::Table(_) | Item::ArrayOfTables(_) => {
            let full: Vec<Step> = segments.iter().cloned().map(Step::Key).collect();
            let inside = |path: &Vec<Step>| path.starts_with(&full);
            let first = order
                .iter()
                .position(|(path, visible)| *visible && inside(path))?;
            let keep = comment_lines(table_at(root, &order[first].0)?.decor().prefix()?.as_str())?;
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::merge::tests::{ok, s};
    use crate::merge::{MergeFormat, merge, owned_values};

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
}
