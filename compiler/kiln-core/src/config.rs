//! Machine configuration: layers merged in order, later winning — system
//! (`/etc/kiln/config.toml`), user (`$XDG_CONFIG_HOME/kiln/config.toml`), the library's
//! `kiln.toml`, environment (`KILN_CONFIG` file, `KILN_PROFILE`), flags. Every effective
//! value remembers the layer it came from, for `kiln config show`.
//!
//! The caller (kiln-cli) finds the files and reads the environment; this module reads and
//! merges them.

use std::collections::BTreeMap;
use std::path::Path;

use kiln_model::schema::DocumentKind;
use kiln_model::{ConfigValues, MachineConfigSpec};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::document;
use crate::source::{Format, SourceFile};

/// Where a layer comes from, in merge order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerKind {
    /// `/etc/kiln/config.toml`
    System,
    /// `$XDG_CONFIG_HOME/kiln/config.toml`
    User,
    /// The library's `kiln.toml`.
    Library,
    /// `KILN_CONFIG` and `KILN_*` variables.
    Environment,
    /// Command-line flags.
    Flags,
}

impl std::fmt::Display for LayerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LayerKind::System => "system",
            LayerKind::User => "user",
            LayerKind::Library => "library",
            LayerKind::Environment => "environment",
            LayerKind::Flags => "flags",
        })
    }
}

/// One configuration layer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Layer {
    /// Which layer.
    pub kind: LayerKind,
    /// A file path or variable name, for humans.
    pub origin: String,
    /// The values it sets (the keys of [`ConfigValues`] and `library`).
    pub values: Map<String, Value>,
}

impl Layer {
    /// The label used as a variable origin: `user (~/.config/kiln/config.toml)`.
    pub fn label(&self) -> String {
        format!("{} ({})", self.kind, self.origin)
    }
}

/// Reads a machine configuration file into a layer. A missing file is `Ok(None)`.
pub fn read_layer(kind: LayerKind, path: &Path) -> Result<Option<Layer>, Diagnostics> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(Diagnostics::from_iter([Diagnostic::error(
                "kiln::config::read",
                format!("failed to read `{}`: {error}", path.display()),
            )
            .in_file(path.display().to_string())]));
        }
    };
    let source = SourceFile::new(path.display().to_string(), text);
    parse_layer(kind, &source).map(Some)
}

/// Parses a machine configuration document into a layer.
pub fn parse_layer(kind: LayerKind, source: &SourceFile) -> Result<Layer, Diagnostics> {
    let mut diagnostics = Diagnostics::new();
    let value = document::parse(source, Format::Toml).map_err(|d| Diagnostics::from_iter([d]))?;
    let spec: Option<MachineConfigSpec> = document::check(
        source,
        Format::Toml,
        DocumentKind::MachineConfig,
        value.clone(),
        &mut diagnostics,
    );
    if spec.is_none() || diagnostics.has_errors() {
        return Err(diagnostics);
    }
    let values = match value {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    Ok(Layer {
        kind,
        origin: source.path.clone(),
        values,
    })
}

/// The library's `kiln.toml` as a layer (only its configuration values).
pub fn library_layer(values: &ConfigValues, origin: &str) -> Layer {
    let values = match serde_json::to_value(values) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    Layer {
        kind: LayerKind::Library,
        origin: origin.to_string(),
        values,
    }
}

/// One effective setting and the layer that set it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Setting {
    /// Dotted key, e.g. `hosts.laptop` or `variables.github_user`.
    pub key: String,
    /// The value.
    pub value: Value,
    /// The layer that set it last.
    pub layer: LayerKind,
    /// That layer's file or variable.
    pub origin: String,
}

/// The merged configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EffectiveConfig {
    /// The layers, in merge order.
    pub layers: Vec<Layer>,
    /// Every leaf setting, by dotted key.
    pub settings: BTreeMap<String, Setting>,
}

impl EffectiveConfig {
    /// Merges layers in the order given (later wins); tables merge key by key.
    pub fn merge(layers: Vec<Layer>) -> EffectiveConfig {
        let mut settings = BTreeMap::new();
        for layer in &layers {
            flatten(&layer.values, "", layer, &mut settings);
        }
        EffectiveConfig { layers, settings }
    }

    /// A string setting.
    pub fn string(&self, key: &str) -> Option<&str> {
        self.settings.get(key).and_then(|s| s.value.as_str())
    }

    /// The setting for a key.
    pub fn get(&self, key: &str) -> Option<&Setting> {
        self.settings.get(key)
    }

    /// The tools this machine deploys (`tools`), with how: the list form gives each tool the
    /// defaults; `[tools.<name>]` tables merge key by key across layers. The later layer's
    /// form wins when layers disagree. `None` when no layer sets `tools`.
    pub fn machine_tools(&self) -> Option<Vec<(String, kiln_model::MachineToolSpec)>> {
        let layer_rank = |kind: LayerKind| self.layers.iter().rposition(|l| l.kind == kind);
        let list = self.get("tools").filter(|s| s.value.is_array());
        let table: Vec<&Setting> = self
            .settings
            .values()
            .filter(|s| s.key.starts_with("tools."))
            .collect();
        let table_rank = table.iter().filter_map(|s| layer_rank(s.layer)).max();
        if let Some(list) = list
            && (table.is_empty() || layer_rank(list.layer) >= table_rank)
        {
            let names = list.value.as_array()?;
            return Some(
                names
                    .iter()
                    .filter_map(|n| n.as_str())
                    .map(|n| (n.to_string(), kiln_model::MachineToolSpec::default()))
                    .collect(),
            );
        }
        if table.is_empty() {
            return None;
        }
        let mut tools: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
        for setting in table {
            let rest = &setting.key["tools.".len()..];
            let (name, field) = rest.split_once('.').unwrap_or((rest, ""));
            let entry = tools.entry(name.to_string()).or_default();
            if !field.is_empty() {
                entry.insert(field.to_string(), setting.value.clone());
            }
        }
        Some(
            tools
                .into_iter()
                .map(|(name, fields)| {
                    let spec = serde_json::from_value(Value::Object(fields)).unwrap_or_default();
                    (name, spec)
                })
                .collect(),
        )
    }

    /// The `variables` of every layer but the library's (which are defaults below profiles),
    /// in merge order, labelled for provenance.
    pub fn machine_variables(&self) -> Vec<(String, Map<String, Value>)> {
        self.layers
            .iter()
            .filter(|layer| layer.kind != LayerKind::Library)
            .filter_map(|layer| {
                let variables = layer.values.get("variables")?.as_object()?.clone();
                Some((layer.label(), variables))
            })
            .collect()
    }
}

/// Tables whose keys are data (merged key by key, shown as `hosts.laptop`); other values,
/// arrays included, are replaced whole.
fn flatten(
    values: &Map<String, Value>,
    prefix: &str,
    layer: &Layer,
    out: &mut BTreeMap<String, Setting>,
) {
    for (key, value) in values {
        let dotted = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            Value::Object(table) if !table.is_empty() => flatten(table, &dotted, layer, out),
            _ => {
                out.insert(
                    dotted.clone(),
                    Setting {
                        key: dotted,
                        value: value.clone(),
                        layer: layer.kind,
                        origin: layer.origin.clone(),
                    },
                );
            }
        }
    }
}

/// How the profile was chosen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProfileChoice {
    /// The profile.
    pub name: String,
    /// Why: `flags`, `environment (KILN_PROFILE)`, `user (…)`, `hosts.<hostname> in user (…)`.
    pub because: String,
}

impl EffectiveConfig {
    /// The profile this machine uses: the `profile` setting (flags, environment, …), else
    /// `hosts.<hostname>`.
    pub fn choose_profile(&self, hostname: &str) -> Option<ProfileChoice> {
        if let Some(setting) = self.get("profile")
            && let Some(name) = setting.value.as_str()
        {
            return Some(ProfileChoice {
                name: name.to_string(),
                because: format!("`profile` from {} ({})", setting.layer, setting.origin),
            });
        }
        let setting = self.get(&format!("hosts.{hostname}"))?;
        Some(ProfileChoice {
            name: setting.value.as_str()?.to_string(),
            because: format!(
                "`hosts.{hostname}` from {} ({})",
                setting.layer, setting.origin
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(kind: LayerKind, toml: &str) -> Layer {
        parse_layer(kind, &SourceFile::new(format!("{kind}.toml"), toml)).expect("valid layer")
    }

    #[test]
    fn later_layers_win_and_keep_their_origin() {
        let config = EffectiveConfig::merge(vec![
            layer(
                LayerKind::System,
                "profile = \"server\"\n[hosts]\nbox = \"work\"\n",
            ),
            layer(
                LayerKind::User,
                "profile = \"personal\"\n[hosts]\nlaptop = \"personal\"\n",
            ),
        ]);
        assert_eq!(config.string("profile"), Some("personal"));
        assert_eq!(config.get("profile").expect("set").layer, LayerKind::User);
        assert_eq!(
            config.get("hosts.box").expect("kept").layer,
            LayerKind::System
        );
    }

    #[test]
    fn hostname_map_chooses_when_no_profile_is_set() {
        let config = EffectiveConfig::merge(vec![layer(
            LayerKind::User,
            "[hosts]\nlaptop = \"personal\"\n",
        )]);
        let choice = config.choose_profile("laptop").expect("chosen");
        assert_eq!(choice.name, "personal");
        assert!(config.choose_profile("other").is_none());
    }

    #[test]
    fn tools_come_as_a_list_or_as_tables_merged_across_layers() {
        let config = EffectiveConfig::merge(vec![layer(
            LayerKind::User,
            "tools = [\"claude-code\", \"codex\"]\n",
        )]);
        let tools = config.machine_tools().expect("set");
        assert_eq!(tools.len(), 2);
        assert_eq!(tools[0].1, kiln_model::MachineToolSpec::default());
        let config = EffectiveConfig::merge(vec![
            layer(LayerKind::System, "tools = [\"cursor\"]\n"),
            layer(
                LayerKind::User,
                "[tools.codex]\nmode = \"symlink\"\n[tools.gemini]\nprojects = [\"~/src/app\"]\n",
            ),
        ]);
        let tools = config.machine_tools().expect("set");
        let names: Vec<&str> = tools.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["codex", "gemini"],
            "the user's tables win over the system list"
        );
        assert_eq!(tools[0].1.mode, Some(kiln_model::SyncMode::Symlink));
        assert_eq!(tools[1].1.projects, ["~/src/app"]);
        assert!(EffectiveConfig::merge(Vec::new()).machine_tools().is_none());
    }

    #[test]
    fn unknown_keys_are_located_errors() {
        let errors = parse_layer(
            LayerKind::User,
            &SourceFile::new("c.toml", "profle = \"x\"\n"),
        )
        .expect_err("unknown key");
        let first = errors.iter().next().expect("one");
        assert_eq!(first.code, "kiln::schema::unknown_key");
        assert_eq!(first.help.as_deref(), Some("did you mean `profile`?"));
    }
}
