//! `op://vault/item/field` secret references inside a value (`Bearer op://v/i/f`): where
//! validation checks them and deploy resolves them, found the same way.

use std::ops::Range;

/// Where each `op://…` token starts and ends in `text`: it runs to the first whitespace,
/// quote, backslash or end of text.
pub fn reference_spans(text: &str) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(found) = text[from..].find("op://") {
        let start = from + found;
        let end = text[start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '\\'))
            .map_or(text.len(), |n| start + n);
        spans.push(start..end);
        from = end;
    }
    spans
}

/// Whether a token is a well-formed reference: `op://vault/item/field` or
/// `op://vault/item/section/field`, no part empty.
pub fn is_reference(token: &str) -> bool {
    token.strip_prefix("op://").is_some_and(|rest| {
        let parts: Vec<&str> = rest.split('/').collect();
        (3..=4).contains(&parts.len()) && parts.iter().all(|p| !p.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_found_inside_values() {
        let text = "Bearer op://Private/Item/token and \"op://v/i/s/f\", op://bad";
        let tokens: Vec<&str> = reference_spans(text)
            .into_iter()
            .map(|r| &text[r])
            .collect();
        assert_eq!(
            tokens,
            ["op://Private/Item/token", "op://v/i/s/f", "op://bad"]
        );
        assert!(is_reference(tokens[0]) && is_reference(tokens[1]) && !is_reference(tokens[2]));
        assert!(!is_reference("op://a/b/c/d/e") && !is_reference("op://a//c"));
    }
}
