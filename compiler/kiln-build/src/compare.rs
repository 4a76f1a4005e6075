//! [`Project::compare`]: what differs between two profiles — their selections, then every
//! output file of each tool, built in memory (nothing is written). `kiln diff` renders it.

use std::collections::BTreeSet;

use kiln_core::Diagnostics;
use kiln_emit::EmitRequest;
use kiln_model::BuildScope;

use crate::project::{Project, Resolved};
use crate::tool_build::emit_in_memory;

/// Two profiles compared.
#[derive(Debug)]
pub struct Comparison {
    /// Component ids only the first profile selects.
    pub only_in_a: Vec<String>,
    /// Component ids only the second profile selects.
    pub only_in_b: Vec<String>,
    /// Every output file whose bytes differ, by tool then dist path.
    pub files: Vec<FileDifference>,
}

impl Comparison {
    /// Whether both profiles produce the same selection and the same bytes.
    pub fn same(&self) -> bool {
        self.only_in_a.is_empty() && self.only_in_b.is_empty() && self.files.is_empty()
    }
}

/// One output file that differs: its bytes in each profile (`None`: that profile does not
/// produce it).
#[derive(Debug)]
pub struct FileDifference {
    /// The tool.
    pub tool: String,
    /// The dist path (`global/.claude/CLAUDE.md`).
    pub path: String,
    /// The first profile's bytes.
    pub a: Option<Vec<u8>>,
    /// The second profile's bytes.
    pub b: Option<Vec<u8>>,
}

impl Project {
    /// Compares profiles `a` and `b` for `tool`, or for every tool either lists.
    pub fn compare(&self, a: &str, b: &str, tool: Option<&str>) -> Result<Comparison, Diagnostics> {
        let profiles = [self.resolve(a)?, self.resolve(b)?];
        let ids = |r: &Resolved| {
            r.selection
                .ids()
                .map(ToString::to_string)
                .collect::<BTreeSet<_>>()
        };
        let (a_ids, b_ids) = (ids(&profiles[0]), ids(&profiles[1]));
        let tools: BTreeSet<String> = match tool {
            Some(tool) => BTreeSet::from([self.tool(tool).map_err(one)?.spec.name.clone()]),
            None => profiles
                .iter()
                .flat_map(|r| r.profile.tools.keys().cloned())
                .collect(),
        };
        let mut files = Vec::new();
        for tool in &tools {
            let definition = self.tool(tool).map_err(one)?;
            let emit = |resolved: &Resolved| {
                emit_in_memory(&EmitRequest {
                    library: &self.library,
                    profile: &resolved.profile,
                    selection: &resolved.selection,
                    tool: definition,
                    scopes: BuildScope::ALL.to_vec(),
                    registry: &self.registry,
                })
                .map(|(artifacts, _)| artifacts)
            };
            let (in_a, in_b) = (emit(&profiles[0])?, emit(&profiles[1])?);
            let paths: BTreeSet<&String> = in_a.keys().chain(in_b.keys()).collect();
            for path in paths {
                let (a, b) = (in_a.get(path), in_b.get(path));
                if let (Some(a), Some(b)) = (a, b)
                    && a.bytes == b.bytes
                {
                    continue;
                }
                files.push(FileDifference {
                    tool: tool.clone(),
                    path: path.clone(),
                    a: a.map(|a| a.bytes.to_vec()),
                    b: b.map(|b| b.bytes.to_vec()),
                });
            }
        }
        Ok(Comparison {
            only_in_a: a_ids.difference(&b_ids).cloned().collect(),
            only_in_b: b_ids.difference(&a_ids).cloned().collect(),
            files,
        })
    }
}

fn one(diagnostic: kiln_core::Diagnostic) -> Diagnostics {
    let mut diagnostics = Diagnostics::new();
    diagnostics.push(diagnostic);
    diagnostics
}
