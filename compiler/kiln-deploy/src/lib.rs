//! `kiln-deploy`: from `dist/` to the live locations each tool reads. Plans first (create /
//! update / remove / keep / conflict per path), then writes with the store's atomic primitive,
//! merging kiln's keys into files the user shares with kiln, and records what it wrote so
//! drift can be detected later.
//!
//! Read top to bottom: [`deploy::deploy`] takes the lock, reads the dist manifests, resolves
//! secrets ([`secrets`]) and plans each build ([`plan`]: where each file goes is
//! [`location`], whether a file kiln wrote before was changed by the user is [`drift`], how
//! kiln's keys enter a shared file is [`merge`]); then [`apply`] writes and records.
//! [`survey`] reads the records back for `kiln check` and `kiln status`, and repairs drift for
//! `check --fix`; [`pairs`] checks any set of copies for `check --manifest`.

pub mod apply;
pub mod deploy;
pub mod drift;
pub mod error;
pub mod location;
pub mod merge;
pub mod pairs;
pub mod plan;
pub mod secrets;
mod seen;
pub mod survey;
pub mod sync;
pub mod undeploy;
