//! `kiln validate`: every problem of the whole library, at once.

use std::process::ExitCode;

use kiln_core::Diagnostic;
use serde::Serialize;

use crate::args::{GlobalArgs, OutputFormat};
use crate::report::Reporter;
use crate::settings::Context;

#[derive(Serialize)]
struct Report<'a> {
    valid: bool,
    errors: usize,
    warnings: usize,
    components: usize,
    profiles: usize,
    diagnostics: &'a [Diagnostic],
}

pub fn run(
    global: &GlobalArgs,
    format: OutputFormat,
    reporter: &Reporter,
) -> Result<ExitCode, Diagnostic> {
    let context = Context::load(global, None)?;
    let mut diagnostics = context.diagnostics.clone();
    diagnostics.extend(kiln_core::validate::validate(
        &context.library,
        &context.machine_variables(),
        &kiln_emit::ToolRegistry::known_tools(&context.library),
    ));
    let sorted = diagnostics.into_sorted();
    let errors = sorted.iter().filter(|d| d.is_error()).count();
    let warnings = sorted.len() - errors;
    let components = context.library.components.len();
    let profiles = context.library.profiles.len();
    match format {
        OutputFormat::Json => reporter.json(&Report {
            valid: errors == 0,
            errors,
            warnings,
            components,
            profiles,
            diagnostics: &sorted,
        }),
        OutputFormat::Human => {
            reporter.diagnostics(&context.library.sources, &sorted);
            let verdict = if errors == 0 { "valid" } else { "invalid" };
            reporter.stderr(&format!(
                "{}: {components} {}, {profiles} {}; {errors} {}, {warnings} {}\n",
                reporter.bold(&format!("library {verdict}")),
                plural(components, "component", "components"),
                plural(profiles, "profile", "profiles"),
                plural(errors, "error", "errors"),
                plural(warnings, "warning", "warnings"),
            ));
        }
    }
    Ok(ExitCode::from(u8::from(errors > 0)))
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}
