//! [`Project`]: a library opened once — validated, its tools registered — from which profiles
//! are resolved and build jobs planned. The one place the pipeline's front half is written.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use kiln_core::config::{EffectiveConfig, ProfileChoice as Chosen};
use kiln_core::diagnostic::did_you_mean;
use kiln_core::profile::{Profile, resolve_profile};
use kiln_core::selection::{Selection, select};
use kiln_core::{Diagnostic, Diagnostics, Library};
use kiln_emit::{ToolDefinition, ToolRegistry};
use kiln_model::{BuildScope, ToolScope};
use kiln_store::dist::DistLayout;
use serde_json::{Map, Value};

/// What the settings stage hands the pipeline: the library, loaded, and the configuration
/// that applies to it.
pub struct ProjectInputs {
    /// The library's root folder.
    pub root: PathBuf,
    /// The loaded library.
    pub library: Library,
    /// Problems from loading the library and reading the configuration files.
    pub diagnostics: Diagnostics,
    /// The merged configuration (system, user, library, environment, flags).
    pub config: EffectiveConfig,
    /// This machine's name (for the `[hosts]` profile map).
    pub hostname: String,
}

/// A validated library with its tool registry.
pub struct Project {
    /// The library's root folder.
    pub root: PathBuf,
    /// The loaded library.
    pub library: Library,
    /// The merged configuration.
    pub config: EffectiveConfig,
    /// This machine's name.
    pub hostname: String,
    /// Every tool the library can build for.
    pub registry: ToolRegistry,
    /// Every problem found while loading and validating (errors and warnings, unsorted).
    pub diagnostics: Diagnostics,
}

/// A profile resolved and its components selected.
pub struct Resolved {
    /// The resolved profile.
    pub profile: Profile,
    /// What it selects, in order, with reasons.
    pub selection: Selection,
}

/// Which tools to build for each profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToolChoice {
    /// None was named and `--all-tools` was not given: an error that lists the profile's
    /// tools.
    Unspecified,
    /// One named tool.
    Named(String),
    /// Every tool each profile lists.
    ProfileTools,
    /// Every tool each profile lists; a profile that lists none is skipped, not an error
    /// (`kiln build --all`).
    ProfileToolsIfAny,
}

/// One (profile, tool) to build, with the scopes the profile wants for it.
pub struct Job<'a> {
    /// The profile and its selection.
    pub resolved: &'a Resolved,
    /// The tool.
    pub tool: Arc<ToolDefinition>,
    /// The scopes to build.
    pub scopes: Vec<BuildScope>,
}

impl Project {
    /// Validates the library and compiles its tool registry. Never fails: problems are in
    /// [`Project::diagnostics`], and callers stop when [`Project::has_errors`].
    pub fn open(inputs: ProjectInputs) -> Project {
        let ProjectInputs {
            root,
            library,
            mut diagnostics,
            config,
            hostname,
        } = inputs;
        diagnostics.extend(kiln_core::validate::validate(
            &library,
            &config.machine_variables(),
            &ToolRegistry::known_tools(&library),
        ));
        let (registry, tool_problems) = ToolRegistry::for_library(&library);
        diagnostics.extend(tool_problems);
        Project {
            root,
            library,
            config,
            hostname,
            registry,
            diagnostics,
        }
    }

    /// Whether loading or validation found an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.has_errors()
    }

    /// The library's `dist/` folder.
    pub fn dist(&self) -> DistLayout {
        DistLayout {
            root: self.root.join(self.library.paths().dist),
        }
    }

    /// The machine layers' variables, which override profile variables.
    pub fn machine_variables(&self) -> Vec<(String, Map<String, Value>)> {
        self.config.machine_variables()
    }

    /// The profile to use: the one given on the command line or in the environment, else the
    /// configuration's choice for this host.
    pub fn choose_profile(&self) -> Result<Chosen, Diagnostic> {
        self.config.choose_profile(&self.hostname).ok_or_else(|| {
            Diagnostic::error("kiln::config::no_profile", "no profile given and none configured for this machine")
                .help(format!(
                    "name one (`kiln resolve personal`), set KILN_PROFILE, or set `profile` or `hosts.{}` in ~/.config/kiln/config.toml",
                    self.hostname
                ))
        })
    }

    /// Resolves one profile and selects its components.
    pub fn resolve(&self, name: &str) -> Result<Resolved, Diagnostics> {
        let profile = resolve_profile(&self.library, name, &self.machine_variables())?;
        // Warnings of this selection were reported by validation already.
        let (selection, problems) = select(&self.library, &profile);
        match selection {
            Some(selection) => Ok(Resolved { profile, selection }),
            None => Err(problems),
        }
    }

    /// A tool by name; the one error every command reports for a name it does not know.
    pub fn tool(&self, name: &str) -> Result<&Arc<ToolDefinition>, Diagnostic> {
        self.registry.get(name).ok_or_else(|| {
            Diagnostic::error("kiln::tool::unknown", format!("unknown tool `{name}`"))
                .maybe_help(did_you_mean(name, self.registry.names()))
        })
    }

    /// The build jobs for `profiles`: each profile with the tools `choice` names, in the
    /// scopes the profile configures for each tool (both when it says nothing).
    pub fn jobs<'a>(
        &self,
        profiles: &'a [Resolved],
        choice: &ToolChoice,
    ) -> Result<Vec<Job<'a>>, Diagnostic> {
        let mut jobs = Vec::new();
        for resolved in profiles {
            let profile = &resolved.profile;
            let tools: Vec<String> = match choice {
                ToolChoice::Unspecified => {
                    return Err(Diagnostic::error(
                        "kiln::build::no_tool",
                        "name a tool, or pass --all-tools",
                    )
                    .help(format!(
                        "profile `{}` lists: {}",
                        profile.name,
                        if profile.tools.is_empty() {
                            "no tools".to_string()
                        } else {
                            profile.tools.keys().cloned().collect::<Vec<_>>().join(", ")
                        }
                    )));
                }
                ToolChoice::Named(tool) => vec![tool.clone()],
                ToolChoice::ProfileToolsIfAny => profile.tools.keys().cloned().collect(),
                ToolChoice::ProfileTools if profile.tools.is_empty() => {
                    return Err(Diagnostic::error(
                        "kiln::build::no_tools",
                        format!("profile `{}` lists no tools", profile.name),
                    )
                    .help(
                        "add `\"tools\": { \"claude-code\": {} }` to the profile, or name a tool",
                    ));
                }
                ToolChoice::ProfileTools => profile.tools.keys().cloned().collect(),
            };
            for tool in tools {
                let definition = Arc::clone(self.tool(&tool)?);
                let scopes = match profile.tools.get(&tool).and_then(|t| t.scope) {
                    Some(ToolScope::Global) => vec![BuildScope::Global],
                    Some(ToolScope::Project) => vec![BuildScope::Project],
                    Some(ToolScope::Both) | None => BuildScope::ALL.to_vec(),
                };
                jobs.push(Job {
                    resolved,
                    tool: definition,
                    scopes,
                });
            }
        }
        Ok(jobs)
    }

    /// The tools this machine uses: the configuration's `tools`, else the configured profile's;
    /// `None` when neither can be told (no profile configured, or it does not resolve).
    pub fn tools_in_use(&self) -> Option<std::collections::BTreeSet<String>> {
        if let Some(tools) = self.config.machine_tools() {
            return Some(tools.into_iter().map(|(name, _)| name).collect());
        }
        let choice = self.choose_profile().ok()?;
        let resolved = self.resolve(&choice.name).ok()?;
        Some(resolved.profile.tools.keys().cloned().collect())
    }

    /// Every profile's name, sorted.
    pub fn profile_names(&self) -> Vec<String> {
        self.library.profiles.keys().cloned().collect()
    }

    /// The library's sources, for rendering diagnostics.
    pub fn sources(&self) -> &BTreeMap<String, Arc<kiln_core::source::SourceFile>> {
        &self.library.sources
    }
}
