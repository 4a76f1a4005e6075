//! `kiln-model`: the documents of a kiln library as they are written on disk.
//!
//! This is the bottom of the pipeline (`kiln-cli ─▶ … ─▶ kiln-core ─▶ kiln-model`). It holds
//! the serde types for every document kind (`*Spec`: components, profiles, `kiln.toml`, the
//! machine configuration and tool definitions), the component kinds and their ids, and the
//! JSON Schemas generated from those types with schemars ([`schema::all`]). It does no I/O.
//!
//! Types are "as written": optional fields stay `Option`, defaults are applied by
//! `kiln-core` when it resolves them.

pub mod check;
pub mod component;
pub mod config;
pub mod ids;
pub mod manifest;
pub mod profile;
pub mod record;
pub mod schema;
pub mod secret_ref;
pub mod tool;
pub mod values;

pub use check::*;
pub use component::*;
pub use config::*;
pub use ids::*;
pub use manifest::*;
pub use profile::*;
pub use record::*;
pub use tool::*;
pub use values::*;
