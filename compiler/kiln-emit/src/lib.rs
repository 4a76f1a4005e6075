//! `kiln-emit`: from a resolved selection to artifacts, for one tool. It sits between
//! `kiln-core` (library, profile, selection) and `kiln-build` (fingerprints, cache, store).
//!
//! - [`tools`]: tool definitions as data — the built-ins embedded from `tools/`, overridden or
//!   extended by a library's own `tools/`.
//! - [`emit::plan`]: which output each component goes to; what a tool cannot express becomes
//!   an omission with a warning, never a silent drop.
//! - [`emit::emit_unit`]: the five strategies (file-per-component, concat, copy-tree,
//!   json-merge, toml-merge), rendering minijinja templates over [`view::ComponentView`]s.
//!
//! Emitters are pure: they return [`kiln_core::artifact::Artifact`]s; the library is the only
//! reader and nothing here writes. minijinja lives only in this crate (kiln-core merely
//! analyses templates).

pub mod emit;
pub mod limits;
pub mod render;
pub mod tools;
pub mod view;

pub use emit::{EmitRequest, Plan, Unit, emit_unit, plan, unit_inputs};
pub use tools::{EMIT_VERSION, ToolDefinition, ToolRegistry};
