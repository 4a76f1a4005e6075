//! `kiln diff A B [TOOL]`: what differs between two profiles — the selection, then every
//! output file, as unified diffs. Built in memory; nothing is written.

use std::process::ExitCode;

use kiln_build::{Comparison, FileDifference};
use kiln_core::Diagnostic;
use serde::Serialize;
use similar::TextDiff;

use crate::args::{GlobalArgs, OutputFormat};
use crate::report::Reporter;
use crate::settings::Context;

#[derive(Serialize)]
struct Report {
    same: bool,
    only_in_a: Vec<String>,
    only_in_b: Vec<String>,
    files: Vec<FileDiff>,
}

#[derive(Serialize)]
struct FileDiff {
    tool: String,
    path: String,
    change: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    diff: String,
}

pub fn run(
    global: &GlobalArgs,
    profiles: [&String; 2],
    tool: Option<&str>,
    format: OutputFormat,
    reporter: &Reporter,
) -> Result<ExitCode, Diagnostic> {
    let project = Context::load(global, None)?.open();
    if project.has_errors() {
        reporter.diagnostics(
            project.sources(),
            &project.diagnostics.clone().into_sorted(),
        );
        return Ok(ExitCode::from(2));
    }
    let comparison = match project.compare(profiles[0], profiles[1], tool) {
        Ok(comparison) => comparison,
        Err(problems) => {
            reporter.diagnostics(project.sources(), &problems.into_sorted());
            return Ok(ExitCode::from(2));
        }
    };
    let same = comparison.same();
    let Comparison {
        only_in_a,
        only_in_b,
        files,
    } = comparison;
    let files: Vec<FileDiff> = files
        .into_iter()
        .map(|file| file_diff(file, profiles))
        .collect();
    match format {
        OutputFormat::Json => reporter.json(&Report {
            same,
            only_in_a,
            only_in_b,
            files,
        }),
        OutputFormat::Human => {
            let mut out = String::new();
            if same {
                out.push_str(&format!(
                    "profiles `{}` and `{}` produce the same output\n",
                    profiles[0], profiles[1]
                ));
            }
            for id in &only_in_a {
                out.push_str(&format!("- {id}  (only in {})\n", profiles[0]));
            }
            for id in &only_in_b {
                out.push_str(&format!("+ {id}  (only in {})\n", profiles[1]));
            }
            for file in &files {
                out.push_str(&format!(
                    "\n{} {}/{} ({})\n",
                    reporter.bold("==="),
                    file.tool,
                    file.path,
                    file.change
                ));
                out.push_str(&file.diff);
            }
            reporter.stdout(&out);
        }
    }
    Ok(ExitCode::from(u8::from(!same)))
}

fn file_diff(file: FileDifference, profiles: [&String; 2]) -> FileDiff {
    let (change, diff) = match (&file.a, &file.b) {
        (Some(a), Some(b)) => ("changed", unified(a, b, &file.path, profiles)),
        (Some(a), None) => ("only in a", unified(a, b"", &file.path, profiles)),
        (None, Some(b)) => ("only in b", unified(b"", b, &file.path, profiles)),
        (None, None) => ("same", String::new()),
    };
    FileDiff {
        tool: file.tool,
        path: file.path,
        change,
        diff,
    }
}

fn unified(a: &[u8], b: &[u8], path: &str, profiles: [&String; 2]) -> String {
    match (std::str::from_utf8(a), std::str::from_utf8(b)) {
        (Ok(a), Ok(b)) => TextDiff::from_lines(a, b)
            .unified_diff()
            .context_radius(3)
            .header(
                &format!("{}/{path}", profiles[0]),
                &format!("{}/{path}", profiles[1]),
            )
            .to_string(),
        _ => "binary files differ\n".to_string(),
    }
}
