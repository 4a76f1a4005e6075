//! `kiln-deploy`: from `dist/` to the live locations each tool reads. Plans first (create /
//! update / remove / keep / conflict per path), then writes with the store's atomic primitive,
//! merging kiln's keys into files the user shares with kiln, and records what it wrote so
//! drift can be detected later.

pub mod apply;
pub mod location;
pub mod merge;
pub mod pairs;
pub mod plan;
pub mod secrets;
