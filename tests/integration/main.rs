//! kiln's integration tests: the real `kiln` binary on fixture libraries under `tests/cases/`,
//! the starter library, and generated libraries.

mod build;
mod cases;
mod cli;
mod config;
mod crash;
mod custom_tool;
mod deploy;
mod resolve;
mod scale;
mod schemas;
mod support;
