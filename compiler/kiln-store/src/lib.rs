//! `kiln-store`: everything that touches the file system on the way out. Below it, nothing
//! writes; above it, `kiln-build` (and later `kiln-deploy`) call it.
//!
//! - [`fs`]: the one write primitive (temp file in the same directory, fsync, mode, atomic
//!   rename, fsync the directory) and path-carrying errors.
//! - [`hash`]: blake3 content hashes, written `blake3:<hex>`.
//! - [`dist`]: writing a build into `dist/<tool>/<profile>/` — only changed bytes, stale files
//!   removed — and its [`kiln_model::DistManifest`].
//! - [`memo`]: the memo cache under `dist/.cache/`, safe to delete, checked on read.

pub mod dist;
pub mod fs;
pub mod hash;
pub mod memo;
pub mod stamp;
