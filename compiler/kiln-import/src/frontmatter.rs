//! Frontmatter as real files have it: kept as written when it parses, repaired line by line
//! when a tool's lenient reader accepts what YAML does not (`globs: **/*.tsx`), never guessed.

use kiln_core::markdown::{Split, split};
use serde_json::{Map, Value};

/// A Markdown file ready for the library.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Checked {
    /// The text to write: the original, or with repaired frontmatter lines.
    pub text: String,
    /// The frontmatter's fields (empty without frontmatter).
    pub fields: Map<String, Value>,
    /// Whether the file had frontmatter.
    pub has_frontmatter: bool,
    /// What was repaired.
    pub warnings: Vec<String>,
}

/// Reads a Markdown file's frontmatter; `Err` says why it cannot be imported.
pub(crate) fn check(text: &str) -> Result<Checked, String> {
    let frontmatter = match split(text) {
        Split::BodyOnly => {
            return Ok(Checked {
                text: text.to_string(),
                fields: Map::new(),
                has_frontmatter: false,
                warnings: Vec::new(),
            });
        }
        Split::Unterminated => {
            return Err(
                "its frontmatter opens with `---` but never closes; add the closing `---` line"
                    .to_string(),
            );
        }
        Split::Frontmatter(frontmatter) => frontmatter,
    };
    let first_line = text[..frontmatter.yaml_offset].lines().count() + 1;
    match parse(frontmatter.yaml) {
        Ok(fields) => Ok(Checked {
            text: text.to_string(),
            fields,
            has_frontmatter: true,
            warnings: Vec::new(),
        }),
        Err(original) => {
            let (yaml, repaired) = repair(frontmatter.yaml, first_line);
            let fields = parse(&yaml).map_err(|_| {
                format!("its frontmatter is not valid YAML ({original}); fix it and import again")
            })?;
            if repaired.is_empty() {
                return Err(format!(
                    "its frontmatter is not valid YAML ({original}); fix it and import again"
                ));
            }
            let text = format!(
                "{}{}{}",
                &text[..frontmatter.yaml_offset],
                yaml,
                &text[frontmatter.yaml_offset + frontmatter.yaml.len()..]
            );
            Ok(Checked {
                text,
                fields,
                has_frontmatter: true,
                warnings: repaired,
            })
        }
    }
}

fn parse(yaml: &str) -> Result<Map<String, Value>, String> {
    if yaml.trim().is_empty() {
        return Ok(Map::new());
    }
    match kiln_core::document::yaml_value(yaml) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(_) => Err("it is not a mapping of keys to values".to_string()),
        Err(error) => Err(error.to_string().lines().next().unwrap_or("").to_string()),
    }
}

/// Quotes top-level plain values YAML rejects but tools read as strings: a value starting
/// with `*`, `&`, `!`, `%`, `@` or a backtick, or holding `: `. Returns the new YAML and one
/// warning per repaired line.
fn repair(yaml: &str, first_line: usize) -> (String, Vec<String>) {
    let mut out = String::with_capacity(yaml.len() + 16);
    let mut warnings = Vec::new();
    for (n, line) in yaml.split_inclusive('\n').enumerate() {
        let (content, ending) = match line.strip_suffix("\r\n") {
            Some(content) => (content, "\r\n"),
            None => match line.strip_suffix('\n') {
                Some(content) => (content, "\n"),
                None => (line, ""),
            },
        };
        match needs_quotes(content) {
            Some((key, value)) => {
                let quoted = serde_json::to_string(value).unwrap_or_default();
                out.push_str(&format!("{key}: {quoted}{ending}"));
                warnings.push(format!(
                    "line {}: `{key}: {value}` is not valid YAML as written; imported as `{key}: {quoted}`",
                    first_line + n
                ));
            }
            None => out.push_str(line),
        }
    }
    (out, warnings)
}

fn needs_quotes(line: &str) -> Option<(&str, &str)> {
    if line.starts_with([' ', '\t', '#', '-']) {
        return None;
    }
    let (key, value) = line.split_once(':')?;
    let value = value.trim();
    let key_ok = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let rejected = value.starts_with(['*', '&', '!', '%', '@', '`']) || value.contains(": ");
    (key_ok && !value.is_empty() && rejected && !value.starts_with(['"', '\'']))
        .then_some((key, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_frontmatter_is_kept_as_written() {
        let text = "---\nname: a\ntools: Read, Grep\n---\nBody\n";
        let checked = check(text).expect("ok");
        assert_eq!(checked.text, text);
        assert_eq!(checked.fields["tools"], "Read, Grep");
        assert!(checked.warnings.is_empty());
    }

    #[test]
    fn an_unquoted_glob_is_quoted_with_a_warning() {
        let text = "---\ndescription: TSX\nglobs: **/*.tsx\nalwaysApply: false\n---\nUse hooks.\n";
        let checked = check(text).expect("repaired");
        assert_eq!(
            checked.text,
            "---\ndescription: TSX\nglobs: \"**/*.tsx\"\nalwaysApply: false\n---\nUse hooks.\n"
        );
        assert_eq!(checked.fields["globs"], "**/*.tsx");
        assert_eq!(checked.warnings.len(), 1);
        assert!(
            checked.warnings[0].starts_with("line 3:"),
            "{:?}",
            checked.warnings
        );
    }

    #[test]
    fn unrepairable_and_unterminated_frontmatter_are_reasons() {
        assert!(check("---\n[a: b\n---\nx").is_err());
        assert!(check("---\nname: a\nno end").is_err());
        assert!(check("no frontmatter at all").is_ok());
    }
}
