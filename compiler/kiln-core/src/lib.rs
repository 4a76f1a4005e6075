//! `kiln-core`: kiln's front end. It reads a library and proves it valid, then resolves a
//! profile into an exact, explained selection of components.
//!
//! # Steps
//!
//! 1. **Load** — [`library::Library::load`] walks the library (in parallel), reads every
//!    document into a [`source::SourceFile`], parses it ([`document::parse`]), validates it
//!    against its embedded JSON Schema and deserialises it ([`document::check`]).
//! 2. **Validate** — [`validate::validate`] adds the semantic checks: duplicate ids, unknown
//!    references with suggestions, templates, globs, tools, and every profile's resolution.
//! 3. **Resolve** — [`profile::resolve_profile`] linearises the `extends` chain and merges it
//!    into a [`profile::Profile`].
//! 4. **Select** — [`selection::select`] applies include/exclude/tag patterns and the
//!    `depends_on` closure, giving a [`selection::Selection`] with the reason for each component.
//! 5. **Graph** — [`graph::DependencyGraph`] is the petgraph of the selection.
//!
//! Machine configuration layers are merged by [`config`]. Only this crate reads the library;
//! it never writes and never prints.
//!
//! # Determinism
//!
//! - Every map that is serialised, hashed or iterated for output is a `BTreeMap`/`BTreeSet`.
//! - Parallel loading collects into ordered containers; the order files are found in never
//!   matters (a property test checks it).
//! - Diagnostics are sorted by file, position and code, and de-duplicated, before rendering.
//! - No clock, hostname or environment is read here: callers pass them in.

pub mod artifact;
pub mod config;
pub mod config_edit;
pub mod diagnostic;
pub mod document;
pub mod git;
pub mod graph;
pub mod library;
pub mod locate;
pub mod markdown;
pub mod profile;
pub mod refs;
pub mod schemas;
pub mod selection;
pub mod source;
pub mod synth;
pub mod template;
pub mod validate;

pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use library::Library;
