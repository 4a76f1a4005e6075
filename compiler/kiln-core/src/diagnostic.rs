//! Diagnostics: every problem kiln finds, with the file, the place in it, a label on the
//! offending value and a hint. Stages collect all their problems into [`Diagnostics`] and
//! never stop at the first; only `kiln-cli` renders them.

use std::ops::Range;

use serde::Serialize;

use crate::source::SourceFile;

/// How bad a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The library is invalid; commands exit non-zero.
    Error,
    /// Worth fixing; does not fail the command.
    Warning,
}

/// A place in a source file.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Location {
    /// Library-relative path, `/`-separated.
    pub file: String,
    /// Byte range of the offending text.
    #[serde(skip)]
    pub span: Range<usize>,
    /// 1-based line of the span's start (0 and omitted from JSON for a whole file).
    #[serde(skip_serializing_if = "is_zero")]
    pub line: usize,
    /// 1-based column (in characters) of the span's start (0 and omitted for a whole file).
    #[serde(skip_serializing_if = "is_zero")]
    pub column: usize,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(value: &usize) -> bool {
    *value == 0
}

impl Location {
    /// The location of `span` in `source`.
    pub fn new(source: &SourceFile, span: Range<usize>) -> Location {
        let (line, column) = source.line_col(span.start);
        Location {
            file: source.path.clone(),
            span,
            line,
            column,
        }
    }

    /// A whole file, without a position in it.
    pub fn file(path: impl Into<String>) -> Location {
        Location {
            file: path.into(),
            span: 0..0,
            line: 0,
            column: 0,
        }
    }
}

/// One problem.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// A stable code, `kiln::<stage>::<what>`.
    pub code: &'static str,
    /// What is wrong: a lowercase phrase, values in backticks.
    pub message: String,
    /// Where, when it is in a file.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// A short text put on the offending value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// How to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error.
    pub fn error(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            location: None,
            label: None,
            help: None,
        }
    }

    /// A warning.
    pub fn warning(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    /// Points the diagnostic at `span` in `source`.
    pub fn at(mut self, source: &SourceFile, span: Range<usize>) -> Diagnostic {
        self.location = Some(Location::new(source, span));
        self
    }

    /// Points the diagnostic at a location, when there is one.
    pub fn at_location(mut self, location: Option<Location>) -> Diagnostic {
        if location.is_some() {
            self.location = location;
        }
        self
    }

    /// Points the diagnostic at a whole file.
    pub fn in_file(mut self, path: impl Into<String>) -> Diagnostic {
        self.location = Some(Location::file(path));
        self
    }

    /// Sets the label shown on the offending value.
    pub fn label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    /// Sets the hint.
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Sets the hint when there is one.
    pub fn maybe_help(mut self, help: Option<String>) -> Diagnostic {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    fn sort_key(&self) -> (Option<(&str, usize)>, &str, &str) {
        (
            self.location
                .as_ref()
                .map(|l| (l.file.as_str(), l.span.start)),
            self.code,
            self.message.as_str(),
        )
    }
}

/// All the problems of a stage.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Diagnostics(Vec<Diagnostic>);

impl Diagnostics {
    /// No problems.
    pub fn new() -> Diagnostics {
        Diagnostics(Vec::new())
    }

    /// Adds one problem.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    /// Adds many problems.
    pub fn extend(&mut self, diagnostics: impl IntoIterator<Item = Diagnostic>) {
        self.0.extend(diagnostics);
    }

    /// Whether any problem is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    /// The number of errors.
    pub fn error_count(&self) -> usize {
        self.0.iter().filter(|d| d.is_error()).count()
    }

    /// The number of warnings.
    pub fn warning_count(&self) -> usize {
        self.0.len() - self.error_count()
    }

    /// Whether there is no problem at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The problems, sorted by file, position and code, without duplicates.
    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.0.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        self.0.dedup();
        self.0
    }

    /// The problems in the order they were found.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl FromIterator<Diagnostic> for Diagnostics {
    fn from_iter<I: IntoIterator<Item = Diagnostic>>(iter: I) -> Self {
        Diagnostics(iter.into_iter().collect())
    }
}

/// `Some("did you mean `x`?")` when one of `candidates` is close to `wanted`.
pub fn did_you_mean<'a>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    closest(wanted, candidates).map(|best| format!("did you mean `{best}`?"))
}

/// The candidate closest to `wanted`, if any is close enough to be a likely typo.
pub fn closest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(wanted, candidate), candidate))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            closest("git-workflw", ["git-workflow", "clean-code"]),
            Some("git-workflow")
        );
        assert_eq!(closest("zzz", ["git-workflow", "clean-code"]), None);
    }
}
