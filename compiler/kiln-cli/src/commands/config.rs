//! `kiln config show`: the effective machine configuration and where each value came from;
//! `kiln config set` / `unset`: edits of the user layer.

use std::process::ExitCode;

use kiln_core::Diagnostic;
use kiln_core::config::{Layer, ProfileChoice, Setting};
use serde::Serialize;

use crate::args::{GlobalArgs, OutputFormat};
use crate::report::Reporter;
use crate::settings::{Context, LibraryLocation};

#[derive(Serialize)]
struct Report<'a> {
    library: &'a LibraryLocation,
    hostname: &'a str,
    no_inherit: bool,
    profile: Option<ProfileChoice>,
    layers: Vec<LayerSummary<'a>>,
    settings: Vec<&'a Setting>,
}

#[derive(Serialize)]
struct LayerSummary<'a> {
    kind: kiln_core::config::LayerKind,
    origin: &'a str,
}

pub fn show(
    global: &GlobalArgs,
    profile: Option<&str>,
    format: OutputFormat,
    reporter: &Reporter,
) -> Result<ExitCode, Diagnostic> {
    let context = Context::load(global, profile)?;
    let config_errors: Vec<Diagnostic> = context
        .diagnostics
        .iter()
        .filter(|d| d.code.starts_with("kiln::config") || is_config_file(d))
        .cloned()
        .collect();
    reporter.diagnostics(&context.library.sources, &config_errors);
    let choice = context.config.choose_profile(&context.hostname);
    let layers: Vec<LayerSummary<'_>> = context
        .config
        .layers
        .iter()
        .map(|l: &Layer| LayerSummary {
            kind: l.kind,
            origin: &l.origin,
        })
        .collect();
    match format {
        OutputFormat::Json => reporter.json(&Report {
            library: &context.location,
            hostname: &context.hostname,
            no_inherit: context.no_inherit,
            profile: choice,
            layers,
            settings: context.config.settings.values().collect(),
        }),
        OutputFormat::Human => {
            let mut out = String::new();
            out.push_str(&format!(
                "library   {}  ({})\n",
                context.location.root.display(),
                context.location.found_by
            ));
            out.push_str(&format!("hostname  {}\n", context.hostname));
            match &choice {
                Some(choice) => out.push_str(&format!(
                    "profile   {}  ({})\n",
                    choice.name, choice.because
                )),
                None => out.push_str("profile   (none configured)\n"),
            }
            if context.no_inherit {
                out.push_str("inherit   off: system and user configuration ignored\n");
            }
            out.push_str(&format!("\n{}\n", reporter.bold("layers (later wins)")));
            if layers.is_empty() {
                out.push_str("  (none)\n");
            }
            for layer in &layers {
                out.push_str(&format!(
                    "  {:<12} {}\n",
                    layer.kind.to_string(),
                    layer.origin
                ));
            }
            out.push_str(&format!("\n{}\n", reporter.bold("settings")));
            let width = context
                .config
                .settings
                .keys()
                .map(String::len)
                .max()
                .unwrap_or(0);
            if context.config.settings.is_empty() {
                out.push_str("  (none)\n");
            }
            for setting in context.config.settings.values() {
                out.push_str(&format!(
                    "  {:<width$} = {}  # {} ({})\n",
                    setting.key, setting.value, setting.layer, setting.origin
                ));
            }
            reporter.stdout(&out);
        }
    }
    Ok(ExitCode::from(u8::from(!config_errors.is_empty())))
}

fn is_config_file(diagnostic: &Diagnostic) -> bool {
    diagnostic
        .location
        .as_ref()
        .is_some_and(|l| l.file.ends_with(".toml"))
}

/// `kiln config set KEY VALUE` (`value` given) and `kiln config unset KEY`.
pub fn write(key: &str, value: Option<&str>, reporter: &Reporter) -> Result<ExitCode, Diagnostic> {
    use kiln_core::config_edit::{edit, in_nix_store, parse_value, resolve};
    let path = crate::settings::Environment::current()
        .user_config_path()
        .ok_or_else(|| {
            Diagnostic::error(
                "kiln::config::no_home",
                "neither XDG_CONFIG_HOME nor HOME is set: there is no user configuration",
            )
        })?;
    let resolved = resolve(&path);
    if in_nix_store(&resolved) {
        return Err(Diagnostic::error(
            "kiln::config::read_only",
            format!(
                "`{}` is `{}` in the Nix store, which is read-only (Home Manager made it)",
                path.display(),
                resolved.display()
            ),
        )
        .help(format!(
            "set it in your Home Manager configuration instead: `programs.kiln.settings.{key}` (then `home-manager switch`)"
        )));
    }
    let text = match std::fs::read_to_string(&resolved) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && value.is_some() => {
            String::new()
        }
        Err(error) => {
            return Err(Diagnostic::error(
                "kiln::config::read",
                format!("failed to read `{}`: {error}", resolved.display()),
            ));
        }
    };
    let edited = edit(&text, key, value.map(parse_value)).map_err(|reason| {
        Diagnostic::error(
            "kiln::config::edit",
            format!("`{}`: {reason}", path.display()),
        )
    })?;
    // The whole file must still be a valid configuration: nothing is written otherwise.
    let source = kiln_core::source::SourceFile::new(path.display().to_string(), edited.clone());
    if let Err(problems) =
        kiln_core::config::parse_layer(kiln_core::config::LayerKind::User, &source)
    {
        let sources = std::collections::BTreeMap::from([(
            path.display().to_string(),
            std::sync::Arc::new(source),
        )]);
        let problems: Vec<Diagnostic> = problems.iter().cloned().collect();
        reporter.diagnostics(&sources, &problems);
        return Ok(ExitCode::from(1));
    }
    kiln_store::fs::atomic_write(&resolved, edited.as_bytes(), 0o644)
        .map_err(|e| Diagnostic::error("kiln::config::write", e.to_string()))?;
    reporter.stderr(&match value {
        Some(value) => format!("set {key} = {value} in {}\n", path.display()),
        None => format!("removed {key} from {}\n", path.display()),
    });
    Ok(ExitCode::SUCCESS)
}
