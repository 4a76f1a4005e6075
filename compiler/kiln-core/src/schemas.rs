//! The JSON Schemas of every document kind, embedded from the committed `schemas/` folder,
//! compiled once and used to validate each document before it is deserialised.

use std::sync::OnceLock;

use kiln_model::schema::DocumentKind;

macro_rules! embedded {
    ($($kind:ident => $file:literal),* $(,)?) => {
        /// The committed schema text of a document kind.
        pub fn text(kind: DocumentKind) -> &'static str {
            match kind {
                $(DocumentKind::$kind => include_str!(concat!("../../../schemas/", $file)),)*
            }
        }
    };
}

embedded! {
    Rule => "rule.schema.json",
    RuleFrontmatter => "rule-frontmatter.schema.json",
    SkillFrontmatter => "skill-frontmatter.schema.json",
    Skill => "skill.schema.json",
    Command => "command.schema.json",
    Agent => "agent.schema.json",
    Context => "context.schema.json",
    Hook => "hook.schema.json",
    Mcp => "mcp.schema.json",
    Settings => "settings.schema.json",
    Profile => "profile.schema.json",
    Library => "kiln-toml.schema.json",
    MachineConfig => "config.schema.json",
    Tool => "tool.schema.json",
    DistManifest => "dist-manifest.schema.json",
    DeployRecord => "deploy-record.schema.json",
    CheckManifest => "check-manifest.schema.json",
}

/// A compiled schema and its JSON, for looking up allowed keys and values.
pub struct Schema {
    /// The schema document.
    pub json: serde_json::Value,
    /// The compiled validator.
    pub validator: jsonschema::Validator,
}

/// The compiled schema of a document kind (compiled on first use, then shared).
pub fn schema(kind: DocumentKind) -> &'static Schema {
    static SCHEMAS: [OnceLock<Schema>; DocumentKind::ALL.len()] =
        [const { OnceLock::new() }; DocumentKind::ALL.len()];
    let index = DocumentKind::ALL
        .iter()
        .position(|k| *k == kind)
        .unwrap_or_default();
    SCHEMAS[index].get_or_init(|| {
        let json: serde_json::Value =
            serde_json::from_str(text(kind)).expect("embedded schemas are valid JSON");
        let validator = jsonschema::draft202012::new(&json).expect("embedded schemas compile");
        Schema { json, validator }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_schema_compiles() {
        for kind in DocumentKind::ALL {
            assert!(schema(kind).json.is_object(), "{kind:?}");
        }
    }
}
