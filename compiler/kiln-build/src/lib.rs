//! `kiln-build`: the pipeline's driver, without the printing. Every command that needs a
//! resolved profile goes through [`Project`]; `kiln build` is [`build`]. Read top to bottom,
//! the pipeline is:
//!
//! 1. **Settings** (kiln-cli's `settings` module, the only place that reads the environment)
//!    find the library, read the configuration layers and load the library
//!    ([`kiln_core::library::Library::load`]) into [`ProjectInputs`].
//! 2. **Open** ([`Project::open`]): validate the whole library
//!    ([`kiln_core::validate::validate`]) and compile the tool registry (built-in definitions
//!    plus the library's own `tools/`, [`kiln_emit::ToolRegistry`]). Every problem is collected
//!    in [`Project::diagnostics`]; a project with errors goes no further.
//! 3. **Resolve** ([`Project::resolve`]): linearise a profile's `extends` chain, merge its
//!    variables and tools ([`kiln_core::profile`]) and select its components with reasons
//!    ([`kiln_core::selection`]).
//! 4. **Jobs** ([`Project::jobs`]): one (profile, tool, scopes) job per tool asked for.
//! 5. **Build** ([`build`], per job [`build_tool`]): plan the units ([`kiln_emit::plan`]),
//!    fingerprint each, emit the dirty ones in parallel, store the result in
//!    `dist/<tool>/<profile>/` with its manifest and memo cache ([`kiln_store`]). A stamp of
//!    the last successful build skips a no-op build before the library is even read
//!    ([`NoOpShortcut`]).
//! 6. **Deploy** is the next crate down the line, `kiln-deploy`: it reads the dist manifests
//!    this crate writes.
//!
//! # Fingerprints
//!
//! A unit's fingerprint is blake3 over a sorted map of everything that can change its
//! output:
//!
//! | input | why |
//! |---|---|
//! | `kiln`, `emit` | kiln's version and the emit engine's version |
//! | `tool` | the tool definition and all its templates (digest) |
//! | `unit` | the output index, scope and components |
//! | `file:<path>` | content hash of every library file it reads: the component's files, skill assets, included context fragments |
//! | `variables` | the profile's effective variables, only for units with template components |
//! | `observation` | the profile's observation settings, only for skills |
//! | `profile.tools` | the profile's tool list, which output conditions may read |
//!
//! Left out on purpose: modification times, absolute paths, the host, the clock. A unit is
//! fresh when its fingerprint matches the memo entry and every file it produced is still in
//! dist; otherwise it is re-emitted, and `--explain` says why ([`RebuildReason`]). A unit that
//! fails is never cached.

mod compare;
mod project;
mod run;
mod tool_build;

pub use compare::{Comparison, FileDifference};
pub use project::{Job, Project, ProjectInputs, Resolved, ToolChoice};
pub use run::{BuildReport, BuildRequest, NoOpShortcut, ProfileChoice, Stage, build};
pub use tool_build::{
    BuildOptions, BuildOutcome, FileHashes, Progress, RebuildReason, Rebuilt, build_tool,
    emit_in_memory,
};

/// kiln's version, part of every fingerprint.
pub const KILN_VERSION: &str = env!("CARGO_PKG_VERSION");
