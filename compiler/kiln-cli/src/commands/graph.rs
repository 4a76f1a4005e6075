//! `kiln graph PROFILE`: the dependency graph of a profile's selection.

use std::process::ExitCode;

use kiln_core::Diagnostic;
use kiln_core::graph::{DependencyGraph, GraphEdge, GraphNode};
use serde::Serialize;

use crate::args::{GlobalArgs, GraphFormat};
use crate::report::Reporter;

#[derive(Serialize)]
struct Report<'a> {
    profile: &'a str,
    nodes: Vec<GraphNode>,
    edges: Vec<GraphEdge>,
}

pub fn run(
    global: &GlobalArgs,
    profile: Option<&str>,
    format: GraphFormat,
    reporter: &Reporter,
) -> Result<ExitCode, Diagnostic> {
    let (project, resolved, _) = match super::resolve_configured(global, profile, reporter)? {
        Ok(resolved) => resolved,
        Err(code) => return Ok(code),
    };
    let graph = DependencyGraph::build(&project.library, resolved.selection.ids());
    match format {
        GraphFormat::Dot => reporter.stdout(&graph.to_dot(&resolved.profile.name)),
        GraphFormat::Json => reporter.json(&Report {
            profile: &resolved.profile.name,
            nodes: graph.nodes(),
            edges: graph.edges(),
        }),
    }
    Ok(ExitCode::SUCCESS)
}
