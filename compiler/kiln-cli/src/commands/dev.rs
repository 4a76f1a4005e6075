//! `kiln dev`: tools for kiln's own development (hidden from `--help`).

use std::path::Path;
use std::process::ExitCode;

use kiln_core::Diagnostic;

use crate::args::{DevCommand, GlobalArgs};
use crate::report::Reporter;
use crate::settings::Context;

pub fn run(
    global: &GlobalArgs,
    command: DevCommand,
    reporter: &Reporter,
) -> Result<ExitCode, Diagnostic> {
    match command {
        DevCommand::GenerateLibrary {
            dir,
            components,
            seed,
        } => {
            if dir.exists()
                && std::fs::read_dir(&dir)
                    .map(|mut d| d.next().is_some())
                    .unwrap_or(true)
            {
                return Err(Diagnostic::error(
                    "kiln::dev::not_empty",
                    format!("`{}` exists and is not empty", dir.display()),
                )
                .help("choose a new folder; generate-library never overwrites"));
            }
            let library = kiln_core::synth::generate(components, seed);
            write(&dir.join("kiln.toml"), &library.config)?;
            for (path, text) in &library.files {
                write(&dir.join(path), text)?;
            }
            reporter.stderr(&format!(
                "wrote {} files ({} components requested) into {}\n",
                library.files.len() + 1,
                components,
                dir.display()
            ));
            Ok(ExitCode::SUCCESS)
        }
        DevCommand::GenerateHome {
            dir,
            skills,
            commands,
            agents,
            rules,
            permissions,
        } => {
            if std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some()) {
                return Err(Diagnostic::error(
                    "kiln::dev::not_empty",
                    format!("`{}` exists and is not empty", dir.display()),
                )
                .help("choose a new folder; generate-home never overwrites"));
            }
            let size = kiln_import::synth::HomeSize {
                skills,
                commands,
                agents,
                rules,
                permissions,
                ..kiln_import::synth::HomeSize::default()
            };
            let written = kiln_import::synth::write_home(&dir, size).map_err(|e| {
                Diagnostic::error(
                    "kiln::dev::write",
                    format!("failed to write into `{}`: {e}", dir.display()),
                )
            })?;
            reporter.stderr(&format!(
                "wrote {} files into {}\n",
                written.files,
                dir.display()
            ));
            Ok(ExitCode::SUCCESS)
        }
        DevCommand::Schemas { out } => {
            let out = match out {
                Some(out) => out,
                None => Context::load(global, None)?.location.root.join("schemas"),
            };
            for (name, text) in kiln_model::schema::all() {
                write(&out.join(name), &text)?;
            }
            reporter.stderr(&format!("wrote schemas into {}\n", out.display()));
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn write(path: &Path, text: &str) -> Result<(), Diagnostic> {
    let fail = |error: std::io::Error| {
        Diagnostic::error(
            "kiln::dev::write",
            format!("failed to write `{}`: {error}", path.display()),
        )
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    std::fs::write(path, text).map_err(fail)
}
