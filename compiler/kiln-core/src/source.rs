//! Source files: the text every span points into, and how to find a value's place in it.

use std::ops::Range;
use std::sync::Arc;

/// How a document is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Strict JSON.
    Json,
    /// TOML.
    Toml,
    /// YAML frontmatter of a Markdown file, starting at this byte offset.
    Frontmatter {
        /// Byte offset of the YAML text in the file.
        offset: usize,
    },
}

/// One file of the library, as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// Library-relative path, `/`-separated (an absolute path for files outside the library).
    pub path: String,
    /// The whole text.
    pub text: Arc<str>,
}

impl SourceFile {
    /// A source file.
    pub fn new(path: impl Into<String>, text: impl Into<Arc<str>>) -> SourceFile {
        SourceFile {
            path: path.into(),
            text: text.into(),
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(&self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }

    /// Byte offset of a 1-based line and column (in characters).
    pub fn offset_of(&self, line: usize, column: usize) -> usize {
        let mut offset = 0;
        for (index, text_line) in self.text.split_inclusive('\n').enumerate() {
            if index + 1 == line {
                let column_bytes: usize = text_line
                    .chars()
                    .take(column.saturating_sub(1))
                    .map(char::len_utf8)
                    .sum();
                return offset + column_bytes;
            }
            offset += text_line.len();
        }
        self.text.len()
    }

    /// The span of the value at a JSON pointer (or of its key, when `key` is set), in a
    /// document written in `format`.
    pub fn locate(&self, format: Format, pointer: &str, key: bool) -> Option<Range<usize>> {
        let segments = pointer_segments(pointer);
        match format {
            Format::Json => crate::locate::json(&self.text, &segments, key),
            Format::Toml => crate::locate::toml(&self.text, &segments, key),
            Format::Frontmatter { offset } => {
                let end = frontmatter_end(&self.text, offset);
                crate::locate::yaml(&self.text[offset..end], &segments, key)
                    .map(|span| span.start + offset..span.end + offset)
            }
        }
    }

    /// The span of the first line of a document written in `format` (for problems with the
    /// whole document).
    pub fn document_start(&self, format: Format) -> Range<usize> {
        let start = match format {
            Format::Frontmatter { offset } => offset.saturating_sub(4),
            Format::Json | Format::Toml => 0,
        };
        let end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i);
        start..end.max(start)
    }
}

fn frontmatter_end(text: &str, offset: usize) -> usize {
    crate::markdown::split_frontmatter(text)
        .map(|fm| fm.yaml_offset + fm.yaml.len())
        .filter(|end| *end >= offset)
        .unwrap_or(text.len())
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Splits a JSON pointer (`/a/0/b~1c`) into its unescaped segments.
pub fn pointer_segments(pointer: &str) -> Vec<String> {
    if pointer.is_empty() {
        return Vec::new();
    }
    pointer
        .trim_start_matches('/')
        .split('/')
        .map(|segment| segment.replace("~1", "/").replace("~0", "~"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let source = SourceFile::new("a", "ab\ncé d\n");
        assert_eq!(source.line_col(0), (1, 1));
        assert_eq!(source.line_col(3), (2, 1));
        assert_eq!(source.line_col(7), (2, 4));
        assert_eq!(source.offset_of(2, 4), 7);
    }
}
