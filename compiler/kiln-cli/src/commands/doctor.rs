//! `kiln doctor`: every invariant kiln can check on this machine, and each live difference
//! of every deployment (the sync comparator, read-only), by severity. Exit 0 only when every
//! row is info.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kiln_core::Diagnostic;
use kiln_deploy::sync::Comparison;
use serde::Serialize;

use crate::args::{GlobalArgs, OutputFormat};
use crate::report::Reporter;
use crate::settings::{Context, Environment, Located};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Severity {
    Info,
    Warn,
    Error,
}

#[derive(Serialize)]
struct Row {
    severity: Severity,
    /// What was checked (`library`, `config`, `secrets`, `symlink`, `promotion`, `trust`,
    /// `drift`).
    check: &'static str,
    /// What was found.
    message: String,
    /// The command or edit that resolves it.
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

impl Row {
    fn new(severity: Severity, check: &'static str, message: String, fix: Option<String>) -> Row {
        Row {
            severity,
            check,
            message,
            fix,
        }
    }
}

pub fn run(
    global: &GlobalArgs,
    format: OutputFormat,
    reporter: &Reporter,
) -> Result<ExitCode, Diagnostic> {
    let mut rows = Vec::new();
    config_rows(&mut rows);
    match Located::find(global) {
        Err(error) => rows.push(Row::new(
            Severity::Error,
            "library",
            format!("no library found: {}", error.message),
            error.help.clone(),
        )),
        Ok(located) => {
            let library = located.location.root.clone();
            rows.push(Row::new(
                Severity::Info,
                "library",
                format!("{} ({})", library.display(), located.location.found_by),
                None,
            ));
            library_rows(global, located, &library, &mut rows)?;
        }
    }
    rows.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.check.cmp(b.check)));
    let worst = rows
        .iter()
        .map(|r| r.severity)
        .max()
        .unwrap_or(Severity::Info);
    match format {
        OutputFormat::Json => reporter.json(&serde_json::json!({
            "ok": worst == Severity::Info,
            "rows": rows,
        })),
        OutputFormat::Human => {
            let mut out = String::new();
            for row in &rows {
                let label = match row.severity {
                    Severity::Info => "info ",
                    Severity::Warn => "warn ",
                    Severity::Error => "error",
                };
                out.push_str(&format!(
                    "{} {:<9} {}\n",
                    reporter.bold(label),
                    row.check,
                    row.message
                ));
                if let Some(fix) = &row.fix {
                    out.push_str(&format!("                {fix}\n"));
                }
            }
            reporter.stdout(&out);
        }
    }
    Ok(ExitCode::from(u8::from(worst != Severity::Info)))
}

/// The user configuration: readable, and whether kiln can write it.
fn config_rows(rows: &mut Vec<Row>) {
    let Some(path) = Environment::current().user_config_path() else {
        return;
    };
    let resolved = kiln_core::config_edit::resolve(&path);
    if kiln_core::config_edit::in_nix_store(&resolved) {
        rows.push(Row::new(
            Severity::Info,
            "config",
            format!(
                "{} is read-only in the Nix store (Home Manager): `kiln config set` refuses to write it",
                path.display()
            ),
            Some("change settings in the Home Manager module (programs.kiln.settings)".to_string()),
        ));
    }
    if path.exists() && std::fs::read_to_string(&resolved).is_err() {
        rows.push(Row::new(
            Severity::Error,
            "config",
            format!("{} cannot be read", path.display()),
            Some("check its permissions".to_string()),
        ));
    }
}

fn library_rows(
    global: &GlobalArgs,
    located: Located,
    library: &Path,
    rows: &mut Vec<Row>,
) -> Result<(), Diagnostic> {
    let dist = located.location.dist();
    let context = located.config_only(None)?;
    let op = crate::settings::op_command(&context.config);
    let (env, state) = Context::deploy_env(global)?;
    // Half-finished promotions or deploys leave kiln's temporary files behind.
    for leftover in leftovers(&library.join("components")) {
        rows.push(Row::new(
            Severity::Error,
            "promotion",
            format!("an interrupted write left `{}`", leftover.display()),
            Some(
                "remove it after checking the file beside it is complete, then `kiln sync`"
                    .to_string(),
            ),
        ));
    }
    let Ok(survey) = kiln_deploy::survey::survey(&state) else {
        rows.push(Row::new(
            Severity::Error,
            "records",
            format!(
                "the deploy records under {} cannot be read",
                state.display()
            ),
            None,
        ));
        return Ok(());
    };
    let mut references = std::collections::BTreeSet::new();
    for (_, record) in &survey.records {
        let manifest = record
            .manifest
            .as_ref()
            .and_then(|m| kiln_store::dist::read_manifest(Path::new(m)).ok().flatten());
        if let Some(manifest) = &manifest {
            let tree = dist.tree(&record.tool, &record.profile);
            for (path, entry) in &manifest.files {
                if kiln_deploy::secrets::may_hold_secrets(entry)
                    && let Ok(bytes) = std::fs::read(tree.join(path))
                {
                    references.extend(kiln_deploy::secrets::find_references(&bytes));
                }
            }
        }
        for (relative, entry) in &record.files {
            let live = entry
                .live
                .as_ref()
                .map_or_else(|| Path::new(&record.root).join(relative), PathBuf::from);
            let is_link =
                std::fs::symlink_metadata(&live).is_ok_and(|m| m.file_type().is_symlink());
            if is_link && !live.exists() {
                rows.push(Row::new(
                    Severity::Error,
                    "symlink",
                    format!("{} is a symlink that leads nowhere", live.display()),
                    Some(format!(
                        "`kiln check --fix` puts back what {} deployed",
                        record.tool
                    )),
                ));
            }
        }
        if record.scope == kiln_model::BuildScope::Project {
            rows.extend(trust_rows(&record.tool, Path::new(&record.root), &env.home));
        }
        match super::sync::compare_deployment(record, &dist, library, &env, &state, &op) {
            Err(error) => rows.push(Row::new(
                Severity::Error,
                "records",
                format!("{} ({}): {error}", record.tool, record.root),
                Some(format!("`kiln sync` (or `kiln undeploy {}`)", record.tool)),
            )),
            Ok(compared) => {
                for c in compared {
                    let (severity, fix) = match c.comparison {
                        Comparison::Identical | Comparison::AdoptCandidate => (Severity::Info, None),
                        Comparison::SourceNewer => (Severity::Warn, Some("`kiln sync` deploys it".to_string())),
                        Comparison::LiveNewer if c.promotable() => (
                            Severity::Warn,
                            Some(format!("`kiln sync --apply-promote` moves it into {}", c.promote_to.as_deref().unwrap_or_default())),
                        ),
                        Comparison::LiveNewer => (
                            Severity::Warn,
                            Some(format!("edit {} and `kiln sync`, or `kiln sync --force` to discard it", c.edit_instead.join(", "))),
                        ),
                        Comparison::BothAdvanced | Comparison::EqualMtimeDifferentContent => (
                            Severity::Error,
                            Some("`kiln sync --apply-promote --prefer live` keeps the live edit, `--prefer source` the library's".to_string()),
                        ),
                    };
                    let name = serde_json::to_value(c.comparison)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    rows.push(Row::new(
                        severity,
                        "drift",
                        format!("{} {}: {name}", record.tool, c.path.display()),
                        fix,
                    ));
                }
            }
        }
    }
    if !references.is_empty() && !program_exists(&op.program) {
        rows.push(Row::new(
            Severity::Error,
            "secrets",
            format!(
                "{} secret reference(s) are deployed, but `{}` is not installed",
                references.len(),
                op.program
            ),
            Some("install the 1Password CLI, or set `secrets.op_command` (`kiln config set secrets.op_command /path/to/op`)".to_string()),
        ));
    }
    Ok(())
}

/// `.kiln-*.tmp` files (kiln's staging files) below `dir`.
fn leftovers(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy();
            name.starts_with(".kiln-") && name.ends_with(".tmp")
        })
        .map(|e| e.into_path())
        .collect()
}

/// Whether `program` is an existing file, or found on PATH.
fn program_exists(program: &str) -> bool {
    let path = Path::new(program);
    if path.components().count() > 1 {
        return path.is_file();
    }
    Environment::current()
        .variables
        .get("PATH")
        .is_some_and(|paths| std::env::split_paths(paths).any(|dir| dir.join(program).is_file()))
}

/// A project deployment a tool will not load until the user trusts the folder.
fn trust_rows(tool: &str, project: &Path, home: &Path) -> Vec<Row> {
    let shown = project.display().to_string();
    let trusted = match tool {
        // Codex: `[projects."<path>"] trust_level = "trusted"` in ~/.codex/config.toml.
        "codex" => std::fs::read_to_string(home.join(".codex/config.toml"))
            .ok()
            .and_then(|t| t.parse::<toml::Table>().ok())
            .and_then(|t| {
                t.get("projects")?
                    .get(&shown)?
                    .get("trust_level")?
                    .as_str()
                    .map(|s| s == "trusted")
            }),
        // Gemini CLI: ~/.gemini/trustedFolders.json maps a folder to TRUST_FOLDER.
        "gemini" => std::fs::read_to_string(home.join(".gemini/trustedFolders.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .map(|v| {
                v.get(&shown)
                    .and_then(|x| x.as_str())
                    .is_some_and(|s| s.starts_with("TRUST"))
            }),
        _ => return Vec::new(),
    };
    if trusted == Some(true) {
        return Vec::new();
    }
    vec![Row::new(
        Severity::Warn,
        "trust",
        format!("{tool} ignores the project configuration in {shown} until the folder is trusted"),
        Some(format!(
            "open {shown} in {tool} once and accept the trust prompt"
        )),
    )]
}
