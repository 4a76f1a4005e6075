//! `kiln check`: the drift checker over deploy records — every file kiln deployed is synced,
//! drifted (modified, missing, mode or type changed) or stale (dist moved on since).

use std::collections::BTreeMap;
use std::process::ExitCode;

use kiln_core::Diagnostic;
use kiln_deploy::secrets::hash_like;
use kiln_emit::ToolRegistry;
use kiln_model::DeployRecord;
use kiln_store::hash::json_hash;
use serde::Serialize;

use crate::args::{CheckArgs, GlobalArgs};
use crate::report::Reporter;
use crate::settings::Context;

#[derive(Clone, Debug, Serialize)]
pub(crate) struct FileState {
    pub tool: String,
    pub profile: String,
    pub scope: &'static str,
    pub path: String,
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

pub fn run(
    args: &CheckArgs,
    global: &GlobalArgs,
    reporter: &Reporter,
) -> Result<ExitCode, Diagnostic> {
    if let Some(manifest) = &args.manifest {
        return run_manifest(manifest, args, reporter);
    }
    let Survey {
        env,
        state,
        records,
        mut files,
        origins,
        key,
    } = survey(&tool_registry(global, args.fix))?;
    let mut repaired: Vec<String> = Vec::new();
    if args.fix {
        let mut problems = Vec::new();
        let secrets = if args.dry_run {
            None
        } else {
            secrets_for_fix(&files, &origins, &records, &state, global)
        };
        for (file, (index, relative)) in files.iter_mut().zip(&origins) {
            if !repairable(file.state) {
                continue;
            }
            let record = &records[*index].1;
            let entry = &record.files[relative];
            let live = std::path::Path::new(&file.path);
            if args.dry_run {
                repaired.push(format!("would restore {}", file.path));
                continue;
            }
            // Recompute where kiln deploys this file; a record's own path is never trusted.
            let location = kiln_deploy::location::locate(
                &env,
                &record.tool,
                record.scope,
                Some(std::path::Path::new(&record.root)),
                relative,
            );
            if location.path() != live {
                problems.push(format!(
                    "{}: kiln now deploys this file to `{}` (a relocation variable changed, or the record was edited); run `kiln deploy`",
                    file.path,
                    location.path().display()
                ));
                continue;
            }
            match kiln_deploy::apply::restore(record, relative, entry, &location, secrets.as_ref())
            {
                Ok(()) => {
                    repaired.push(format!("restored {}", file.path));
                    (file.state, file.detail) = inspect(live, entry, key.as_ref());
                }
                Err(error) => problems.push(format!("{}: {}", file.path, error.0)),
            }
        }
        for problem in problems {
            reporter.stderr(&format!("not restored: {problem}\n"));
        }
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for file in &files {
        *counts.entry(file.state).or_default() += 1;
    }
    let drift = files.iter().any(|f| f.state != "synced");
    if args.json {
        reporter.json(&serde_json::json!({ "synced": !drift, "counts": counts, "files": files, "repairs": repaired }));
    } else {
        let mut out = String::new();
        for repair in &repaired {
            out.push_str(&format!("{repair}\n"));
        }
        if args.full {
            for file in &files {
                out.push_str(&format!(
                    "{:<9} {}/{} ({})  {}{}\n",
                    file.state,
                    file.tool,
                    file.profile,
                    file.scope,
                    file.path,
                    file.detail
                        .as_ref()
                        .map(|d| format!("  — {d}"))
                        .unwrap_or_default()
                ));
            }
        } else {
            for file in files.iter().filter(|f| f.state != "synced") {
                out.push_str(&format!(
                    "{:<9} {}{}\n",
                    file.state,
                    file.path,
                    file.detail
                        .as_ref()
                        .map(|d| format!("  — {d}"))
                        .unwrap_or_default()
                ));
            }
        }
        let summary: Vec<String> = counts
            .iter()
            .map(|(state, n)| format!("{n} {state}"))
            .collect();
        out.push_str(&format!(
            "{}: {} deployments, {}\n",
            reporter.bold(if drift { "drift" } else { "synced" }),
            records.len(),
            if summary.is_empty() {
                "no files".to_string()
            } else {
                summary.join(", ")
            }
        ));
        reporter.stderr(&out);
    }
    Ok(ExitCode::from(u8::from(drift)))
}

/// Drift `--fix` puts back from the records (stale files need `kiln deploy`).
fn repairable(state: &str) -> bool {
    matches!(state, "modified" | "missing" | "mode")
}

/// Resolves the secrets the drifted files that hold them need, once each, as `kiln deploy`
/// would; `None` (those files are then reported, not restored) when there are none or
/// resolving fails.
fn secrets_for_fix(
    files: &[FileState],
    origins: &[(usize, String)],
    records: &[(std::path::PathBuf, DeployRecord)],
    state: &std::path::Path,
    global: &GlobalArgs,
) -> Option<kiln_deploy::secrets::Secrets> {
    let mut references = std::collections::BTreeSet::new();
    for (file, (index, relative)) in files.iter().zip(origins) {
        let record = &records[*index].1;
        let entry = &record.files[relative];
        if !repairable(file.state) || !entry.hash.starts_with("keyed:") {
            continue;
        }
        let dist = kiln_deploy::apply::dist_file(record, relative);
        if let Some(bytes) = dist.and_then(|path| std::fs::read(path).ok()) {
            references.extend(kiln_deploy::secrets::find_references(&bytes));
        }
    }
    if references.is_empty() {
        return None;
    }
    let key = kiln_deploy::secrets::existing_machine_key(state)?;
    // The 1Password command comes from the configuration; without a library, the default.
    let op = Context::load(global, None)
        .ok()
        .and_then(|context| {
            context
                .config
                .string("secrets.op_command")
                .map(str::to_string)
        })
        .unwrap_or_else(|| "op".to_string());
    kiln_deploy::secrets::Secrets::resolve(&references, &op, key).ok()
}

/// Every deploy record on this machine and the state of each file it names.
pub(crate) struct Survey {
    pub env: kiln_deploy::location::DeployEnv,
    pub state: std::path::PathBuf,
    pub records: Vec<(std::path::PathBuf, DeployRecord)>,
    pub files: Vec<FileState>,
    /// Which record (index) and recorded path each file came from.
    pub origins: Vec<(usize, String)>,
    pub key: Option<[u8; 32]>,
}

/// The tool definitions that say where each tool lives. Only `--fix` recomputes locations,
/// so only it loads the library (whose own tools may have homes); reading records and
/// inspecting files needs the home and state directories alone.
pub(crate) fn tool_registry(global: &GlobalArgs, with_library: bool) -> ToolRegistry {
    if with_library && let Ok(context) = Context::load(global, None) {
        return ToolRegistry::for_library(&context.library).0;
    }
    ToolRegistry::builtin(&mut kiln_core::Diagnostics::new())
}

/// Reads every deploy record and inspects each file it names (writes nothing).
pub(crate) fn survey(registry: &ToolRegistry) -> Result<Survey, Diagnostic> {
    let (env, state) = Context::deploy_env(registry)?;
    let dir = state.join("records");
    let mut records: Vec<(std::path::PathBuf, DeployRecord)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let mut paths: Vec<_> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        for path in paths {
            match kiln_deploy::apply::read_record(&path) {
                Ok(Some(record)) => records.push((path, record)),
                Ok(None) => {}
                Err(error) => return Err(Diagnostic::error("kiln::check::record", error.0)),
            }
        }
    }
    let key = kiln_deploy::secrets::existing_machine_key(&state);
    let mut files = Vec::new();
    let mut origins: Vec<(usize, String)> = Vec::new();
    for (index, (_, record)) in records.iter().enumerate() {
        // What dist holds now, to tell a stale deploy (dist moved on) from a synced one.
        let current = record.manifest.as_ref().and_then(|path| {
            kiln_store::dist::read_manifest(std::path::Path::new(path))
                .ok()
                .flatten()
        });
        let prefix = format!("{}/", record.scope.as_str());
        for (relative, entry) in &record.files {
            let path = entry.live.as_ref().map_or_else(
                || std::path::Path::new(&record.root).join(relative),
                std::path::PathBuf::from,
            );
            let (mut state, mut detail) = inspect(&path, entry, key.as_ref());
            if state == "synced"
                && let Some(current) = &current
            {
                match current.files.get(&format!("{prefix}{relative}")) {
                    Some(now) if now.hash != entry.dist_hash => {
                        (state, detail) = (
                            "stale",
                            Some("dist has a newer build; run kiln deploy".to_string()),
                        );
                    }
                    None => {
                        (state, detail) = (
                            "stale",
                            Some("no longer built; kiln deploy removes it".to_string()),
                        )
                    }
                    Some(_) => {}
                }
            }
            origins.push((index, relative.clone()));
            files.push(FileState {
                tool: record.tool.clone(),
                profile: record.profile.clone(),
                scope: record.scope.as_str(),
                path: path.display().to_string(),
                state,
                detail,
            });
        }
    }
    Ok(Survey {
        env,
        state,
        records,
        files,
        origins,
        key,
    })
}

fn inspect(
    path: &std::path::Path,
    entry: &kiln_model::RecordEntry,
    key: Option<&[u8; 32]>,
) -> (&'static str, Option<String>) {
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(_) => return ("missing", None),
    };
    if let Some(link) = &entry.link {
        // Symlink mode: the live path must still be kiln's symlink.
        return match std::fs::read_link(path) {
            Ok(target) if target == std::path::Path::new(link) && target.is_file() => {
                ("synced", None)
            }
            Ok(target) => (
                "modified",
                Some(format!("now links to `{}`", target.display())),
            ),
            Err(_) => (
                "modified",
                Some("type changed: symlink replaced by a regular file".to_string()),
            ),
        };
    }
    if metadata.file_type().is_symlink() {
        return (
            "modified",
            Some("type changed: replaced by a symlink".to_string()),
        );
    }
    if !metadata.is_file() {
        return ("modified", Some("is no longer a regular file".to_string()));
    }
    let Ok(bytes) = std::fs::read(path) else {
        return ("missing", Some("unreadable".to_string()));
    };
    if let (Some(format), Some(expected)) = (&entry.merge, &entry.owned_hash) {
        let Some(format) = kiln_deploy::merge::MergeFormat::from_name(format) else {
            return ("synced", None);
        };
        let text = String::from_utf8_lossy(&bytes);
        return match kiln_deploy::merge::owned_values(format, &text, &entry.owned_keys) {
            Ok(values)
                if &hash_like(
                    expected,
                    &serde_json::to_vec(&values).unwrap_or_default(),
                    key,
                ) == expected
                    || &json_hash(&values) == expected =>
            {
                ("synced", None)
            }
            Ok(_) => ("modified", Some("kiln's keys were edited".to_string())),
            Err(error) => (
                "modified",
                Some(format!("does not parse: {}", error.message)),
            ),
        };
    }
    if hash_like(&entry.hash, &bytes, key) != entry.hash {
        return ("modified", None);
    }
    let mode = format!("{:04o}", kiln_store::fs::mode_of(&metadata));
    if mode != entry.mode {
        return (
            "mode",
            Some(format!("mode {mode}, kiln wrote {}", entry.mode)),
        );
    }
    ("synced", None)
}

/// `kiln check --manifest FILE`: exit 0 synced, 1 drift, 2 an invalid manifest.
fn run_manifest(
    path: &std::path::Path,
    args: &CheckArgs,
    reporter: &Reporter,
) -> Result<ExitCode, Diagnostic> {
    use kiln_core::source::{Format, SourceFile};
    use kiln_deploy::pairs::{PairState, apply_repairs, check, repairs};
    let text = std::fs::read_to_string(path).map_err(|e| {
        Diagnostic::error(
            "kiln::check::manifest",
            format!("failed to read `{}`: {e}", path.display()),
        )
    })?;
    let source = SourceFile::new(path.display().to_string(), text);
    let mut problems = kiln_core::Diagnostics::new();
    let spec = match kiln_core::document::parse(&source, Format::Json) {
        Ok(value) => kiln_core::document::check::<kiln_model::CheckManifestSpec>(
            &source,
            Format::Json,
            kiln_model::schema::DocumentKind::CheckManifest,
            value,
            &mut problems,
        ),
        Err(diagnostic) => {
            problems.push(diagnostic);
            None
        }
    };
    let Some(spec) = spec else {
        let sources = BTreeMap::from([(source.path.clone(), std::sync::Arc::new(source))]);
        reporter.diagnostics(&sources, &problems.into_sorted());
        return Ok(ExitCode::from(2));
    };
    // Pairs name files, not tools: only the home directory is used.
    let (env, _) = Context::deploy_env(&ToolRegistry::builtin(&mut kiln_core::Diagnostics::new()))?;
    let base = path.parent().map_or_else(
        || std::path::PathBuf::from("."),
        std::path::Path::to_path_buf,
    );
    let mut files = check(&spec, &base, &env.home);
    let direction = spec.fix_direction.unwrap_or(kiln_model::FixDirection::AToB);
    let mut repaired = Vec::new();
    if args.fix {
        repaired = repairs(&files, direction);
        if !args.dry_run {
            apply_repairs(&repaired).map_err(|e| Diagnostic::error("kiln::check::fix", e.0))?;
            files = check(&spec, &base, &env.home);
        }
    }
    let drift = files.iter().any(|f| f.state != PairState::Synced);
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for file in &files {
        *counts
            .entry(
                serde_json::to_value(file.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
            )
            .or_default() += 1;
    }
    if args.json {
        reporter.json(&serde_json::json!({ "synced": !drift, "counts": counts, "files": files, "repairs": repaired }));
    } else {
        let mut out = String::new();
        for repair in &repaired {
            out.push_str(&format!(
                "{} {} → {}\n",
                if args.dry_run { "would copy" } else { "copied" },
                repair.from.display(),
                repair.to.display()
            ));
        }
        for file in files
            .iter()
            .filter(|f| args.full || f.state != PairState::Synced)
        {
            out.push_str(&format!(
                "{:<10} {}  ⇄  {}\n",
                format!("{:?}", file.state).to_lowercase(),
                file.a.display(),
                file.b.display()
            ));
        }
        let summary: Vec<String> = counts
            .iter()
            .map(|(state, n)| format!("{n} {state}"))
            .collect();
        out.push_str(&format!(
            "{}: {}\n",
            reporter.bold(if drift { "drift" } else { "synced" }),
            summary.join(", ")
        ));
        reporter.stderr(&out);
    }
    Ok(ExitCode::from(u8::from(drift)))
}
