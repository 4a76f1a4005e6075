//! JSON Schemas (draft 2020-12) of every document kind, generated from the types.
//!
//! The files under `schemas/` are these, committed; a test fails when they drift.

use schemars::{JsonSchema, generate::SchemaSettings};

use crate::{
    AgentFrontmatter, CommandFrontmatter, ContextFrontmatter, DistManifest, HookSpec, LibrarySpec,
    MachineConfigSpec, McpSpec, ProfileSpec, RuleFrontmatter, RuleSpec, SkillFrontmatter,
    SkillSpec, ToolSpec,
};

/// Every document kind kiln reads, by the schema file that describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DocumentKind {
    /// `*.rule.json`
    Rule,
    /// frontmatter of `*.rule.md`
    RuleFrontmatter,
    /// frontmatter of `SKILL.md`
    SkillFrontmatter,
    /// `skill.json`
    Skill,
    /// frontmatter of `*.command.md`
    Command,
    /// frontmatter of `*.agent.md`
    Agent,
    /// frontmatter of `*.context.md`
    Context,
    /// `*.hook.json`
    Hook,
    /// `*.mcp.json`
    Mcp,
    /// `*.settings.json`
    Settings,
    /// `*.profile.json`
    Profile,
    /// `kiln.toml`
    Library,
    /// machine `config.toml`
    MachineConfig,
    /// `tools/<tool>/tool.json`
    Tool,
    /// `dist/<tool>/<profile>.manifest.json`
    DistManifest,
    /// `$XDG_STATE_HOME/kiln/records/*.json`
    DeployRecord,
    /// `kiln check --manifest FILE`
    CheckManifest,
}

impl DocumentKind {
    /// Every document kind.
    pub const ALL: [DocumentKind; 17] = [
        DocumentKind::Rule,
        DocumentKind::RuleFrontmatter,
        DocumentKind::SkillFrontmatter,
        DocumentKind::Skill,
        DocumentKind::Command,
        DocumentKind::Agent,
        DocumentKind::Context,
        DocumentKind::Hook,
        DocumentKind::Mcp,
        DocumentKind::Settings,
        DocumentKind::Profile,
        DocumentKind::Library,
        DocumentKind::MachineConfig,
        DocumentKind::Tool,
        DocumentKind::DistManifest,
        DocumentKind::DeployRecord,
        DocumentKind::CheckManifest,
    ];

    /// The schema's file name under `schemas/`.
    pub fn file_name(self) -> &'static str {
        match self {
            DocumentKind::Rule => "rule.schema.json",
            DocumentKind::RuleFrontmatter => "rule-frontmatter.schema.json",
            DocumentKind::SkillFrontmatter => "skill-frontmatter.schema.json",
            DocumentKind::Skill => "skill.schema.json",
            DocumentKind::Command => "command.schema.json",
            DocumentKind::Agent => "agent.schema.json",
            DocumentKind::Context => "context.schema.json",
            DocumentKind::Hook => "hook.schema.json",
            DocumentKind::Mcp => "mcp.schema.json",
            DocumentKind::Settings => "settings.schema.json",
            DocumentKind::Profile => "profile.schema.json",
            DocumentKind::Library => "kiln-toml.schema.json",
            DocumentKind::MachineConfig => "config.schema.json",
            DocumentKind::Tool => "tool.schema.json",
            DocumentKind::DistManifest => "dist-manifest.schema.json",
            DocumentKind::DeployRecord => "deploy-record.schema.json",
            DocumentKind::CheckManifest => "check-manifest.schema.json",
        }
    }

    /// Generates this kind's schema from its Rust type.
    pub fn generate(self) -> serde_json::Value {
        match self {
            DocumentKind::Rule => generate::<RuleSpec>(),
            DocumentKind::RuleFrontmatter => generate::<RuleFrontmatter>(),
            DocumentKind::SkillFrontmatter => generate::<SkillFrontmatter>(),
            DocumentKind::Skill => generate::<SkillSpec>(),
            DocumentKind::Command => generate::<CommandFrontmatter>(),
            DocumentKind::Agent => generate::<AgentFrontmatter>(),
            DocumentKind::Context => generate::<ContextFrontmatter>(),
            DocumentKind::Hook => generate::<HookSpec>(),
            DocumentKind::Mcp => generate::<McpSpec>(),
            DocumentKind::Settings => generate::<crate::SettingsSpec>(),
            DocumentKind::Profile => generate::<ProfileSpec>(),
            DocumentKind::Library => generate::<LibrarySpec>(),
            DocumentKind::MachineConfig => generate::<MachineConfigSpec>(),
            DocumentKind::Tool => generate::<ToolSpec>(),
            DocumentKind::DistManifest => generate::<DistManifest>(),
            DocumentKind::DeployRecord => generate::<crate::DeployRecord>(),
            DocumentKind::CheckManifest => generate::<crate::CheckManifestSpec>(),
        }
    }
}

fn generate<T: JsonSchema>() -> serde_json::Value {
    let generator = SchemaSettings::draft2020_12().into_generator();
    let schema = generator.into_root_schema_for::<T>();
    serde_json::to_value(schema).expect("a generated schema is always JSON")
}

/// Every schema as `(file name, pretty JSON text with a trailing newline)`.
pub fn all() -> Vec<(&'static str, String)> {
    DocumentKind::ALL
        .into_iter()
        .map(|kind| {
            let text = serde_json::to_string_pretty(&kind.generate())
                .expect("a generated schema serialises");
            (kind.file_name(), text + "\n")
        })
        .collect()
}
