//! Markdown documents with YAML frontmatter (`---` … `---`).

/// A Markdown file split into frontmatter and body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frontmatter<'a> {
    /// The YAML text between the fences (may be empty).
    pub yaml: &'a str,
    /// Byte offset of `yaml` in the file.
    pub yaml_offset: usize,
    /// Everything after the closing fence.
    pub body: &'a str,
    /// Byte offset of `body` in the file.
    pub body_offset: usize,
}

/// How a Markdown file starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split<'a> {
    /// No frontmatter: the whole file is the body.
    BodyOnly,
    /// Frontmatter and body.
    Frontmatter(Frontmatter<'a>),
    /// An opening `---` with no closing fence.
    Unterminated,
}

/// Splits `text` into frontmatter and body.
pub fn split(text: &str) -> Split<'_> {
    let Some(after_open) = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
    else {
        return Split::BodyOnly;
    };
    let yaml_offset = text.len() - after_open.len();
    let mut line_start = yaml_offset;
    for line in after_open.split_inclusive('\n') {
        let trimmed = line.trim_end_matches(['\n', '\r']);
        if trimmed == "---" || trimmed == "..." {
            let body_offset = line_start + line.len();
            return Split::Frontmatter(Frontmatter {
                yaml: &text[yaml_offset..line_start],
                yaml_offset,
                body: &text[body_offset..],
                body_offset,
            });
        }
        line_start += line.len();
    }
    Split::Unterminated
}

/// The frontmatter of `text`, when it has a complete one.
pub fn split_frontmatter(text: &str) -> Option<Frontmatter<'_>> {
    match split(text) {
        Split::Frontmatter(frontmatter) => Some(frontmatter),
        Split::BodyOnly | Split::Unterminated => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_frontmatter_and_body() {
        let text = "---\nname: x\n---\n# Body\n";
        let Split::Frontmatter(fm) = split(text) else {
            panic!("expected frontmatter")
        };
        assert_eq!(fm.yaml, "name: x\n");
        assert_eq!(fm.yaml_offset, 4);
        assert_eq!(fm.body, "# Body\n");
        assert_eq!(split("# no frontmatter"), Split::BodyOnly);
        assert_eq!(split("---\nname: x\n"), Split::Unterminated);
    }
}
