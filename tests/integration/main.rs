//! kiln's integration tests: the real `kiln` binary on fixture libraries under `tests/cases/`,
//! the starter library, and generated libraries.
// Tests read their own knobs (KILN_CRASH_STEP, …) and cargo's variables; kiln itself reads
// the environment only in its settings module.
#![allow(clippy::disallowed_methods)]

mod build;
mod builtin_tool;
mod cases;
mod cli;
mod config;
mod crash;
mod custom_tool;
mod deploy;
mod import;
mod resolve;
mod scale;
mod schemas;
mod support;
mod sync;
