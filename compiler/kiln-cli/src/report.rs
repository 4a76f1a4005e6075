//! Everything kiln prints. Diagnostics are rendered with miette on stderr (colour only on a
//! terminal, never with NO_COLOR); machine output is JSON on stdout.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{IsTerminal, Write};
use std::sync::Arc;

use kiln_core::source::SourceFile;
use kiln_core::{Diagnostic, Severity};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};
use serde::Serialize;

use crate::args::ColorChoice;

/// A typed error of a pipeline stage (thiserror + miette code) as the diagnostic kiln prints.
pub fn failure(error: &dyn miette::Diagnostic) -> Diagnostic {
    let code = error
        .code()
        .map_or_else(|| "kiln::failed".to_string(), |c| c.to_string());
    // Printed once, just before the process exits: leaking the code text costs nothing.
    let code: &'static str = Box::leak(code.into_boxed_str());
    Diagnostic::error(code, error.to_string()).maybe_help(error.help().map(|h| h.to_string()))
}

/// Prints for the commands.
pub struct Reporter {
    color: bool,
}

/// A progress bar for long builds: drawn on stderr only when it is a terminal, and only once
/// the work has taken more than a second.
pub struct BarProgress {
    bar: indicatif::ProgressBar,
    started: std::time::Instant,
    terminal: bool,
    shown: std::sync::atomic::AtomicBool,
}

impl BarProgress {
    pub fn new(_reporter: &Reporter) -> BarProgress {
        let bar = indicatif::ProgressBar::hidden();
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} building [{bar:30}] {pos}/{len} units {elapsed}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        BarProgress {
            bar,
            started: std::time::Instant::now(),
            terminal: std::io::stderr().is_terminal(),
            shown: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl kiln_build::Progress for BarProgress {
    fn planned(&self, units: usize) {
        self.bar.inc_length(units as u64);
    }

    fn unit_done(&self) {
        self.bar.inc(1);
        if self.terminal
            && self.started.elapsed() > std::time::Duration::from_secs(1)
            && !self.shown.swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            self.bar
                .set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
    }
}

impl Reporter {
    /// A reporter honouring `--color`, NO_COLOR and whether stderr is a terminal.
    pub fn new(choice: ColorChoice, no_color: bool) -> Reporter {
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => std::io::stderr().is_terminal() && !no_color,
        };
        Reporter { color }
    }

    /// Renders diagnostics (sorted, de-duplicated) on stderr.
    pub fn diagnostics(
        &self,
        sources: &BTreeMap<String, Arc<SourceFile>>,
        diagnostics: &[Diagnostic],
    ) {
        let theme = if self.color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme)
            .with_width(100)
            .with_links(false);
        let mut out = String::new();
        for diagnostic in diagnostics {
            let source = diagnostic
                .location
                .as_ref()
                .filter(|l| l.line > 0)
                .and_then(|l| match sources.get(&l.file) {
                    Some(source) => Some(source.text.to_string()),
                    // Files outside the library (machine configuration) are read back here.
                    None => std::path::Path::new(&l.file)
                        .is_absolute()
                        .then(|| std::fs::read_to_string(&l.file).ok())
                        .flatten(),
                })
                .map(|text| {
                    let name = diagnostic
                        .location
                        .as_ref()
                        .map(|l| l.file.clone())
                        .unwrap_or_default();
                    NamedSource::new(name, text)
                });
            let rendered = Rendered {
                inner: diagnostic,
                source,
            };
            if handler.render_report(&mut out, &rendered).is_err() {
                out.push_str(&format!("{}: {}\n", diagnostic.code, diagnostic.message));
            }
        }
        self.stderr(&out);
    }

    /// Renders one diagnostic that has no source file.
    pub fn failure(&self, diagnostic: &Diagnostic) {
        self.diagnostics(&BTreeMap::new(), std::slice::from_ref(diagnostic));
    }

    /// Writes text on stderr.
    pub fn stderr(&self, text: &str) {
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(text.as_bytes());
    }

    /// Writes text on stdout.
    pub fn stdout(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(text.as_bytes());
    }

    /// Writes a value as pretty JSON on stdout.
    pub fn json<T: Serialize>(&self, value: &T) {
        let text = serde_json::to_string_pretty(value)
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        self.stdout(&(text + "\n"));
    }

    /// Bold text when colour is on.
    pub fn bold(&self, text: &str) -> String {
        if self.color {
            format!("\u{1b}[1m{text}\u{1b}[0m")
        } else {
            text.to_string()
        }
    }
}

/// One diagnostic in the shape miette renders.
struct Rendered<'a> {
    inner: &'a Diagnostic,
    source: Option<NamedSource<String>>,
}

impl fmt::Debug for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)
    }
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)?;
        match &self.inner.location {
            Some(location)
                if self.source.is_none() && !self.inner.message.contains(&location.file) =>
            {
                write!(f, "\n  in `{}`", location.file)
            }
            _ => Ok(()),
        }
    }
}

impl std::error::Error for Rendered<'_> {}

impl miette::Diagnostic for Rendered<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.inner.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.inner.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.inner
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.source.as_ref()?;
        let location = self.inner.location.as_ref()?;
        // Underline at most the first line (and 80 bytes) of a long value; the JSON output
        // keeps the whole span.
        let text = self.source.as_ref().map_or("", |s| s.inner().as_str());
        let start = location.span.start.min(text.len());
        let end = location.span.end.min(text.len());
        let line_end = text[start..end].find('\n').map_or(end, |i| start + i);
        let mut capped = line_end.min(start + 80);
        while !text.is_char_boundary(capped) {
            capped -= 1;
        }
        let span = SourceSpan::new(start.into(), capped - start);
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            self.inner.label.clone(),
            span,
        ))))
    }
}
