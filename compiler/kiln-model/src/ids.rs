//! Component kinds, component ids and the names of built-in tools.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The kinds of component a library holds, in the order they are listed and emitted.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ComponentKind {
    /// Instructions always (or conditionally) in the agent's context.
    Rule,
    /// An Agent Skill: a folder with `SKILL.md` and assets.
    Skill,
    /// A slash command.
    Command,
    /// A subagent.
    Agent,
    /// A lifecycle hook running a shell command.
    Hook,
    /// An MCP server definition.
    Mcp,
    /// A Markdown fragment included by rules and skills.
    Context,
    /// A fragment of one tool's own settings (`permissions`, `env`, `model`, `statusLine`, …).
    Settings,
    /// Gitignore-style patterns of files agents must not read (`.cursorignore`, …).
    Ignore,
}

impl ComponentKind {
    /// Every kind, in canonical order.
    pub const ALL: [ComponentKind; 9] = [
        ComponentKind::Rule,
        ComponentKind::Skill,
        ComponentKind::Command,
        ComponentKind::Agent,
        ComponentKind::Hook,
        ComponentKind::Mcp,
        ComponentKind::Context,
        ComponentKind::Settings,
        ComponentKind::Ignore,
    ];

    /// The name used in references (`rule:git-workflow`).
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentKind::Rule => "rule",
            ComponentKind::Skill => "skill",
            ComponentKind::Command => "command",
            ComponentKind::Agent => "agent",
            ComponentKind::Hook => "hook",
            ComponentKind::Mcp => "mcp",
            ComponentKind::Context => "context",
            ComponentKind::Settings => "settings",
            ComponentKind::Ignore => "ignore",
        }
    }

    /// The folder under `components/` that holds this kind.
    pub fn folder(self) -> &'static str {
        match self {
            ComponentKind::Rule => "rules",
            ComponentKind::Skill => "skills",
            ComponentKind::Command => "commands",
            ComponentKind::Agent => "agents",
            ComponentKind::Hook => "hooks",
            ComponentKind::Mcp => "mcp",
            ComponentKind::Context => "context",
            ComponentKind::Settings => "settings",
            ComponentKind::Ignore => "ignore",
        }
    }

    /// The key of this kind's selector in a profile (`"rules": { "include": [...] }`).
    pub fn profile_key(self) -> &'static str {
        self.folder()
    }

    /// File-name suffixes of this kind's component files. Skills are folders (`SKILL.md`).
    pub fn suffixes(self) -> &'static [&'static str] {
        match self {
            ComponentKind::Rule => &[".rule.json", ".rule.md"],
            ComponentKind::Skill => &[],
            ComponentKind::Command => &[".command.md"],
            ComponentKind::Agent => &[".agent.md"],
            ComponentKind::Hook => &[".hook.json"],
            ComponentKind::Mcp => &[".mcp.json"],
            ComponentKind::Context => &[".context.md"],
            ComponentKind::Settings => &[".settings.json"],
            ComponentKind::Ignore => &[".ignore"],
        }
    }

    /// Parses `rule`, `skill`, … (the reference prefix).
    pub fn from_prefix(prefix: &str) -> Option<ComponentKind> {
        ComponentKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == prefix)
    }

    /// The kind whose folder is `folder`.
    pub fn from_folder(folder: &str) -> Option<ComponentKind> {
        ComponentKind::ALL
            .into_iter()
            .find(|kind| kind.folder() == folder)
    }

    /// The kind a component file name belongs to, by suffix, and the name without the suffix.
    pub fn from_file_name(name: &str) -> Option<(ComponentKind, &str)> {
        ComponentKind::ALL.into_iter().find_map(|kind| {
            kind.suffixes()
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix).map(|stem| (kind, stem)))
        })
    }
}

impl fmt::Display for ComponentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A component's identity: its kind and its `/`-separated id (`command:beads/create`).
/// Serialised as that `kind:id` string.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ComponentId {
    /// The component's kind.
    pub kind: ComponentKind,
    /// The path under the kind's folder without the suffix, `/`-separated.
    pub id: String,
}

impl ComponentId {
    /// Builds an id.
    pub fn new(kind: ComponentKind, id: impl Into<String>) -> ComponentId {
        ComponentId {
            kind,
            id: id.into(),
        }
    }

    /// The last `/`-separated segment of the id.
    pub fn last_segment(&self) -> &str {
        self.id.rsplit('/').next().unwrap_or(&self.id)
    }

    /// The id with its folders joined by `-`, as tools that read flat folders need it.
    pub fn joined(&self) -> String {
        self.id.replace('/', "-")
    }
}

impl Serialize for ComponentId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ComponentId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let (prefix, id) = text
            .split_once(':')
            .ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not `kind:id`")))?;
        let kind = ComponentKind::from_prefix(prefix).ok_or_else(|| {
            serde::de::Error::custom(format!("unknown component kind `{prefix}`"))
        })?;
        Ok(ComponentId::new(kind, id))
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_map_to_kinds() {
        assert_eq!(
            ComponentKind::from_file_name("git-workflow.rule.json"),
            Some((ComponentKind::Rule, "git-workflow"))
        );
        assert_eq!(
            ComponentKind::from_file_name("create.command.md"),
            Some((ComponentKind::Command, "create"))
        );
        assert_eq!(ComponentKind::from_file_name("notes.md"), None);
    }

    #[test]
    fn ids_join_and_display() {
        let id = ComponentId::new(ComponentKind::Command, "beads/create");
        assert_eq!(id.to_string(), "command:beads/create");
        assert_eq!(id.joined(), "beads-create");
        assert_eq!(id.last_segment(), "create");
    }
}
