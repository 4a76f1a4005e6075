//! Deciding from paths alone which file is which document: components, skill folders with
//! their metadata and assets, profiles, tools and their templates; stray files are warned about.

use std::collections::{BTreeMap, BTreeSet};

use kiln_model::{ComponentId, ComponentKind, PathsSpec};

use super::LibraryFile;
use crate::diagnostic::{Diagnostic, did_you_mean};

/// What a document is, decided from its path alone.
#[derive(Clone, Debug)]
pub(super) enum DocumentRole {
    Component { id: ComponentId },
    SkillMetadata,
    Profile { name: String },
    Tool { name: String },
    ToolTemplate,
}

#[derive(Clone, Debug)]
pub(super) struct PlannedDocument {
    pub(super) path: String,
    pub(super) role: DocumentRole,
}

#[derive(Clone, Debug)]
pub(super) struct PlannedSkill {
    pub(super) id: ComponentId,
    metadata: Option<String>,
    pub(super) assets: Vec<String>,
}

pub(super) struct FilePlan {
    pub(super) documents: Vec<PlannedDocument>,
    /// `(tool, template name, path)` of every library tool template.
    pub(super) tool_templates: Vec<(String, String, String)>,
    pub(super) skills: BTreeMap<String, PlannedSkill>,
    pub(super) diagnostics: Vec<Diagnostic>,
}

/// Decides, from paths alone, which files are which documents; unknown files are warned about.
pub(super) fn plan_files(paths: &PathsSpec, files: &[LibraryFile]) -> FilePlan {
    let components = format!("{}/", paths.components.trim_end_matches('/'));
    let profiles = format!("{}/", paths.profiles.trim_end_matches('/'));
    let tools = format!("{}/", paths.tools.trim_end_matches('/'));
    let skills_prefix = format!("{components}skills/");

    // Skill roots: every folder holding a SKILL.md that is not inside another skill.
    let all_roots: BTreeSet<&str> = files
        .iter()
        .filter_map(|f| {
            f.path
                .strip_prefix(&skills_prefix)?
                .strip_suffix("/SKILL.md")
        })
        .collect();
    let outer_roots: BTreeSet<&str> = all_roots
        .iter()
        .copied()
        .filter(|root| ancestors(root).all(|ancestor| !all_roots.contains(ancestor)))
        .collect();
    let mut plan = FilePlan {
        documents: Vec::new(),
        tool_templates: Vec::new(),
        skills: BTreeMap::new(),
        diagnostics: Vec::new(),
    };
    for root in &outer_roots {
        let id = root.rsplit('/').next().unwrap_or(root).to_string();
        let path = format!("{skills_prefix}{root}/SKILL.md");
        plan.documents.push(PlannedDocument {
            path,
            role: DocumentRole::Component {
                id: ComponentId::new(ComponentKind::Skill, id.clone()),
            },
        });
        plan.skills.insert(
            (*root).to_string(),
            PlannedSkill {
                id: ComponentId::new(ComponentKind::Skill, id),
                metadata: None,
                assets: Vec::new(),
            },
        );
    }

    for file in files {
        let path = file.path.as_str();
        if let Some(rest) = path.strip_prefix(&skills_prefix) {
            // The skill owning a file is its nearest ancestor folder that is a skill root.
            let owner = ancestors(rest).find(|ancestor| outer_roots.contains(ancestor));
            match owner {
                Some(root) => {
                    let inner = &rest[root.len() + 1..];
                    let skill = plan.skills.get_mut(root).expect("every root is planned");
                    if inner == "SKILL.md" {
                    } else if inner == "skill.json" {
                        skill.metadata = Some(path.to_string());
                        plan.documents.push(PlannedDocument {
                            path: path.to_string(),
                            role: DocumentRole::SkillMetadata,
                        });
                    } else {
                        skill.assets.push(path.to_string());
                    }
                }
                None => plan.diagnostics.push(
                    Diagnostic::warning(
                        "kiln::library::stray_file",
                        format!("`{path}` is not inside a skill folder and is ignored"),
                    )
                    .in_file(path)
                    .help("a skill is a folder holding SKILL.md; move the file into one"),
                ),
            }
        } else if let Some(rest) = path.strip_prefix(&components) {
            plan_component_file(path, rest, &mut plan);
        } else if let Some(rest) = path.strip_prefix(&profiles) {
            match rest.strip_suffix(".profile.json") {
                Some(name) if !name.contains('/') => plan.documents.push(PlannedDocument {
                    path: path.to_string(),
                    role: DocumentRole::Profile {
                        name: name.to_string(),
                    },
                }),
                _ => plan.diagnostics.push(
                    Diagnostic::warning(
                        "kiln::library::stray_file",
                        format!("`{path}` is not a profile and is ignored"),
                    )
                    .in_file(path)
                    .help("profiles are `profiles/<name>.profile.json`"),
                ),
            }
        } else if let Some(rest) = path.strip_prefix(&tools) {
            if let Some(name) = rest.strip_suffix("/tool.json").filter(|n| !n.contains('/')) {
                plan.documents.push(PlannedDocument {
                    path: path.to_string(),
                    role: DocumentRole::Tool {
                        name: name.to_string(),
                    },
                });
            } else if let Some((tool, template)) = rest.split_once("/templates/") {
                plan.tool_templates.push((
                    tool.to_string(),
                    template.to_string(),
                    path.to_string(),
                ));
                plan.documents.push(PlannedDocument {
                    path: path.to_string(),
                    role: DocumentRole::ToolTemplate,
                });
            }
        }
    }
    plan.documents.sort_by(|a, b| a.path.cmp(&b.path));
    plan
}

/// The proper ancestor folders of a `/`-separated path, nearest first: `a/b/c` → `a/b`, `a`.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/')
        .rev()
        .map(move |(index, _)| &path[..index])
}

fn plan_component_file(path: &str, rest: &str, plan: &mut FilePlan) {
    let Some((folder, inner)) = rest.split_once('/') else {
        plan.diagnostics.push(
            Diagnostic::warning(
                "kiln::library::stray_file",
                format!("`{path}` is not in a component folder and is ignored"),
            )
            .in_file(path)
            .help("put components in `components/<kind>/`: rules, skills, commands, agents, hooks, mcp, context"),
        );
        return;
    };
    let Some(kind) = ComponentKind::from_folder(folder) else {
        let folders = ComponentKind::ALL.map(ComponentKind::folder);
        plan.diagnostics.push(
            Diagnostic::warning(
                "kiln::library::unknown_folder",
                format!("`{folder}` is not a component folder; `{path}` is ignored"),
            )
            .in_file(path)
            .help(did_you_mean(folder, folders).unwrap_or_else(|| {
                format!(
                    "component folders are {}",
                    folders.map(|f| format!("`{f}`")).join(", ")
                )
            })),
        );
        return;
    };
    let file_name = inner.rsplit('/').next().unwrap_or(inner);
    match ComponentKind::from_file_name(file_name) {
        Some((file_kind, _)) if file_kind == kind => {
            let stem = file_kind
                .suffixes()
                .iter()
                .find_map(|suffix| inner.strip_suffix(suffix))
                .unwrap_or(inner);
            plan.documents.push(PlannedDocument {
                path: path.to_string(),
                role: DocumentRole::Component {
                    id: ComponentId::new(kind, stem),
                },
            });
        }
        Some((file_kind, _)) => plan.diagnostics.push(
            Diagnostic::error(
                "kiln::library::wrong_folder",
                format!(
                    "`{path}` is a {file_kind} file in the {} folder",
                    kind.folder()
                ),
            )
            .in_file(path)
            .help(format!("move it to `components/{}/`", file_kind.folder())),
        ),
        None => {
            let expected = kind.suffixes().join("` or `");
            plan.diagnostics.push(
                Diagnostic::warning(
                    "kiln::library::stray_file",
                    format!("`{path}` is not a {kind} file and is ignored"),
                )
                .in_file(path)
                .help(format!("{kind} files end in `{expected}`")),
            );
        }
    }
}
