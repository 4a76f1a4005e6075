//! The tool registry: the built-in definitions embedded from `tools/`, overridden or extended
//! by a library's own `tools/<tool>/`. Each definition's templates are compiled once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kiln_core::document;
use kiln_core::library::Library;
use kiln_core::source::{Format, SourceFile};
use kiln_core::{Diagnostic, Diagnostics};
use kiln_model::schema::DocumentKind;
use kiln_model::{HomeSpec, ToolSpec};
use minijinja::Environment;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/builtin_tools.rs"));
}

/// The version of the emit engine; part of every fingerprint.
pub const EMIT_VERSION: u32 = 1;

/// Where a definition comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToolOrigin {
    /// Embedded in kiln.
    Builtin,
    /// The library's `tools/<tool>/tool.json`.
    Library(String),
}

/// A tool definition ready to emit with.
pub struct ToolDefinition {
    /// The definition.
    pub spec: ToolSpec,
    /// Where it comes from.
    pub origin: ToolOrigin,
    /// blake3 over the definition and its templates, for fingerprints.
    pub digest: String,
    /// The compiled templates (named as under `templates/`, plus `path:N`, `key:N`,
    /// `name:N` and `when:N` for output N's expressions).
    pub environment: Environment<'static>,
}

impl std::fmt::Debug for ToolDefinition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolDefinition")
            .field("name", &self.spec.name)
            .field("origin", &self.origin)
            .finish()
    }
}

/// Every tool available to a library.
#[derive(Debug, Default)]
pub struct ToolRegistry {
    tools: BTreeMap<String, Arc<ToolDefinition>>,
}

impl ToolRegistry {
    /// The built-in tools, overridden and extended by `library`'s own. Problems in a
    /// definition (schema, template syntax, missing template) are diagnostics.
    pub fn for_library(library: &Library) -> (ToolRegistry, Diagnostics) {
        let mut diagnostics = Diagnostics::new();
        let mut registry = ToolRegistry::builtin(&mut diagnostics);
        let shared = shared_templates();
        for (name, entry) in &library.tools {
            let templates: BTreeMap<String, String> = entry
                .templates
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect();
            if let Some(definition) = compile(
                entry.spec.clone(),
                templates,
                &shared,
                ToolOrigin::Library(entry.source.clone()),
                &mut diagnostics,
            ) {
                registry.tools.insert(name.clone(), Arc::new(definition));
            }
        }
        registry.check_capabilities(&mut diagnostics);
        (registry, diagnostics)
    }

    /// A `yields_to` naming a capability no definition provides never yields: a typo, most
    /// likely, so it is a warning.
    fn check_capabilities(&self, diagnostics: &mut Diagnostics) {
        let provided: BTreeSet<&kiln_model::Capability> = self
            .tools
            .values()
            .flat_map(|d| &d.spec.outputs)
            .flat_map(|o| &o.provides)
            .collect();
        for definition in self.tools.values() {
            for (index, output) in definition.spec.outputs.iter().enumerate() {
                let Some(yields) = &output.yields_to else {
                    continue;
                };
                if provided.contains(yields.capability()) {
                    continue;
                }
                let file = match &definition.origin {
                    ToolOrigin::Builtin => format!("tools/{}/tool.json", definition.spec.name),
                    ToolOrigin::Library(path) => path.clone(),
                };
                diagnostics.push(
                    Diagnostic::warning(
                        "kiln::tool::unknown_capability",
                        format!(
                            "output {index} of tool `{}` yields to `{}`, which no tool provides",
                            definition.spec.name,
                            yields.capability()
                        ),
                    )
                    .in_file(file)
                    .help(format!(
                        "capabilities provided: {}",
                        provided
                            .iter()
                            .map(|c| format!("`{c}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                );
            }
        }
    }

    /// The built-in tools only.
    pub fn builtin(diagnostics: &mut Diagnostics) -> ToolRegistry {
        let mut specs: BTreeMap<String, (Option<SourceFile>, BTreeMap<String, String>)> =
            BTreeMap::new();
        for (path, text) in embedded::BUILTIN_FILES {
            let Some((tool, rest)) = path.split_once('/') else {
                continue;
            };
            let entry = specs.entry(tool.to_string()).or_default();
            if rest == "tool.json" {
                entry.0 = Some(SourceFile::new(format!("tools/{path}"), *text));
            } else if let Some(template) = rest.strip_prefix("templates/") {
                entry.1.insert(template.to_string(), (*text).to_string());
            }
        }
        let mut tools = BTreeMap::new();
        let shared = shared_templates();
        for (name, (source, templates)) in specs {
            let Some(source) = source else { continue };
            let spec = match document::parse(&source, Format::Json) {
                Ok(value) => document::check::<ToolSpec>(
                    &source,
                    Format::Json,
                    DocumentKind::Tool,
                    value,
                    diagnostics,
                ),
                Err(diagnostic) => {
                    diagnostics.push(diagnostic);
                    None
                }
            };
            if let Some(definition) = spec.and_then(|spec| {
                compile(spec, templates, &shared, ToolOrigin::Builtin, diagnostics)
            }) {
                tools.insert(name, Arc::new(definition));
            }
        }
        ToolRegistry { tools }
    }

    /// Every tool name a library may use in profiles and component tool filters: the built-in
    /// definitions embedded from `tools/` and the library's own `tools/<name>/`, without
    /// compiling any of them (a library definition that fails to compile is still known: its
    /// own problems are reported, not an "unknown tool" in every profile that lists it).
    pub fn known_tools(library: &Library) -> BTreeSet<String> {
        builtin_names()
            .map(str::to_string)
            .chain(library.tools.keys().cloned())
            .collect()
    }

    /// Every tool's homes (where its global files live), for deploy.
    pub fn homes(&self) -> BTreeMap<String, Vec<HomeSpec>> {
        self.tools
            .iter()
            .filter(|(_, definition)| !definition.spec.homes.is_empty())
            .map(|(name, definition)| (name.clone(), definition.spec.homes.clone()))
            .collect()
    }

    /// Every environment variable a tool's homes name: the ones deploy needs to read.
    pub fn home_variables(&self) -> BTreeSet<String> {
        self.tools
            .values()
            .flat_map(|definition| &definition.spec.homes)
            .flat_map(HomeSpec::places)
            .filter_map(|place| place.env.clone())
            .collect()
    }

    /// A tool by name.
    pub fn get(&self, name: &str) -> Option<&Arc<ToolDefinition>> {
        self.tools.get(name)
    }

    /// Every tool name.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tools.keys().map(String::as_str)
    }
}

/// A digest of every embedded built-in tool file: a kiln built with another `tools/` folder
/// (same version, other definitions or templates) has another, so nothing keyed on kiln's
/// version alone (the no-op build stamp) survives it.
pub fn builtin_digest() -> &'static str {
    static DIGEST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DIGEST.get_or_init(|| {
        let mut hasher = blake3::Hasher::new();
        for (path, text) in embedded::BUILTIN_FILES {
            for part in [path.as_bytes(), text.as_bytes()] {
                hasher.update(&(part.len() as u64).to_le_bytes());
                hasher.update(part);
            }
        }
        hasher.finalize().to_hex().to_string()
    })
}

/// The names of the built-in tools: every folder under `tools/` that holds a `tool.json`.
fn builtin_names() -> impl Iterator<Item = &'static str> {
    embedded::BUILTIN_FILES
        .iter()
        .filter_map(|(path, _)| path.strip_suffix("/tool.json"))
        .filter(|tool| !tool.contains('/'))
}

/// Templates every tool may use as `shared/<name>` (`tools/shared/templates/`), so tools that
/// write the same file (AGENTS.md) write the same bytes.
fn shared_templates() -> BTreeMap<String, String> {
    embedded::BUILTIN_FILES
        .iter()
        .filter_map(|(path, text)| {
            let name = path.strip_prefix("shared/templates/")?;
            Some((format!("shared/{name}"), (*text).to_string()))
        })
        .collect()
}

fn compile(
    spec: ToolSpec,
    mut templates: BTreeMap<String, String>,
    shared: &BTreeMap<String, String>,
    origin: ToolOrigin,
    diagnostics: &mut Diagnostics,
) -> Option<ToolDefinition> {
    let file = match &origin {
        ToolOrigin::Builtin => format!("tools/{}/tool.json", spec.name),
        ToolOrigin::Library(path) => path.clone(),
    };
    let mut hasher = blake3::Hasher::new();
    hasher.update(serde_json::to_string(&spec).unwrap_or_default().as_bytes());
    for (name, text) in shared {
        templates
            .entry(name.clone())
            .or_insert_with(|| text.clone());
    }
    let mut environment = Environment::new();
    crate::limits::bound(&mut environment);
    environment.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .expect("default delimiters are valid"),
    );
    environment.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
    environment.add_filter("toml", toml_filter);
    environment.add_filter("read_deny_rules", read_deny_rules);
    // Templates write JSON, TOML, YAML and Markdown; escaping is theirs to do (`tojson`,
    // `toml`), never implied by a file name ending in `.json.j2`.
    environment.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    let before = diagnostics.error_count();
    for (name, text) in &templates {
        hasher.update(name.as_bytes());
        hasher.update(&[0]);
        hasher.update(text.as_bytes());
        hasher.update(&[0]);
        if let Err(error) = environment.add_template_owned(name.clone(), text.clone()) {
            diagnostics.push(
                Diagnostic::error(
                    "kiln::tool::template_syntax",
                    format!(
                        "template `{name}` of tool `{}`: {}",
                        spec.name,
                        error.detail().unwrap_or("syntax error")
                    ),
                )
                .in_file(file.replacen(
                    "tool.json",
                    &format!("templates/{name}"),
                    1,
                )),
            );
        }
    }
    for (index, output) in spec.outputs.iter().enumerate() {
        if let Some(template) = &output.template
            && !templates.contains_key(template)
        {
            diagnostics.push(
                Diagnostic::error(
                    "kiln::tool::missing_template",
                    format!("output {index} of tool `{}` names template `{template}`, which does not exist", spec.name),
                )
                .in_file(file.clone())
                .help(format!("add `templates/{template}` next to tool.json")),
            );
        }
        let expressions = [
            ("path", Some(&output.path)),
            ("key", output.key.as_ref()),
            ("name", output.name.as_ref()),
            ("when", output.when.as_ref().map(|w| w as &String)),
            ("unsupported", output.unsupported.as_ref()),
        ];
        for (label, text) in expressions {
            let Some(text) = text else { continue };
            let source = if label == "when" {
                format!("{{% if {text} %}}1{{% endif %}}")
            } else {
                text.clone()
            };
            if let Err(error) = environment.add_template_owned(format!("{label}:{index}"), source) {
                diagnostics.push(
                    Diagnostic::error(
                        "kiln::tool::template_syntax",
                        format!(
                            "`{label}` of output {index} of tool `{}`: {}",
                            spec.name,
                            error.detail().unwrap_or("syntax error")
                        ),
                    )
                    .in_file(file.clone()),
                );
            }
        }
    }
    check_homes(&spec, &file, diagnostics);
    if diagnostics.error_count() > before {
        return None;
    }
    let digest = hasher.finalize().to_hex().to_string();
    Some(ToolDefinition {
        spec,
        origin,
        digest,
        environment,
    })
}

/// A home must name a relative prefix and, where it moves a folder, a folder (and a file where
/// it moves a file), so deploy never computes a path outside the directory it picks.
fn check_homes(spec: &ToolSpec, file: &str, diagnostics: &mut Diagnostics) {
    let relative = |text: &str| crate::emit::check_relative(text.trim_end_matches('/')).is_ok();
    for (index, home) in spec.homes.iter().enumerate() {
        let folder = home.prefix.ends_with('/');
        let mut problems = Vec::new();
        if !relative(&home.prefix) {
            problems.push(format!("`prefix` `{}` is not a relative path", home.prefix));
        }
        for place in home.places() {
            if let Some(default) = &place.default
                && !default.is_empty()
                && !relative(default)
            {
                problems.push(format!("`default` `{default}` is not a relative path"));
            }
            if let Some(path) = &place.path {
                let fits = if folder {
                    path.is_empty() || (path.ends_with('/') && relative(path))
                } else {
                    !path.ends_with('/') && relative(path)
                };
                if !fits {
                    problems.push(format!(
                        "`path` `{path}` must be {} like its prefix `{}`",
                        if folder {
                            "empty or a relative folder ending in `/`"
                        } else {
                            "a relative file path"
                        },
                        home.prefix
                    ));
                }
            }
        }
        for problem in problems {
            diagnostics.push(
                Diagnostic::error(
                    "kiln::tool::bad_home",
                    format!("home {index} of tool `{}`: {problem}", spec.name),
                )
                .in_file(file.to_string()),
            );
        }
    }
}

/// `{{ value | toml }}`: a value as a TOML inline value (strings quoted and escaped;
/// multi-line strings as `"""` blocks).
fn toml_filter(value: minijinja::Value) -> Result<String, minijinja::Error> {
    let json: serde_json::Value = serde_json::to_value(&value).map_err(|e| {
        minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
    })?;
    if let serde_json::Value::String(text) = &json
        && text.contains('\n')
    {
        // A multi-line basic string: escape backslashes and `"""` runs.
        let escaped = text.replace('\\', "\\\\").replace("\"\"\"", "\"\"\\\"");
        return Ok(format!("\"\"\"\n{escaped}\"\"\""));
    }
    let value: toml::Value = serde_json::from_value(json).map_err(|e| {
        minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
    })?;
    Ok(value.to_string())
}

/// `{{ component.body | read_deny_rules }}`: gitignore lines as Claude Code `Read(…)`
/// permission rules, for `permissions.deny`. Claude Code matches Read rules with gitignore
/// semantics relative to the working directory (tool-formats.md, CC-PERMS); how an unanchored
/// pattern is spelled (`./**/x`) is kiln's reading of that, not a documented example.
/// Comments and blank lines are dropped; an exception (`!x`) cannot be a deny rule and is left
/// out, which denies more rather than less.
fn read_deny_rules(body: &str) -> Vec<String> {
    let mut rules = Vec::new();
    for line in body.lines() {
        let pattern = line.trim_end();
        if pattern.is_empty() || pattern.starts_with('#') || pattern.starts_with('!') {
            continue;
        }
        // `\#` and `\!` escape a leading `#` or `!`.
        let pattern = pattern
            .strip_prefix('\\')
            .filter(|rest| rest.starts_with(['#', '!']))
            .unwrap_or(pattern);
        let (pattern, folder) = match pattern.strip_suffix('/') {
            Some(folder) => (folder, true),
            None => (pattern, false),
        };
        // A slash anywhere but at the end anchors a gitignore pattern to the root.
        let anchored = pattern.contains('/');
        let pattern = pattern.trim_start_matches('/');
        if pattern.is_empty() {
            continue;
        }
        let mut rule = if anchored || pattern.starts_with("**") {
            format!("./{pattern}")
        } else {
            format!("./**/{pattern}")
        };
        if folder {
            rule.push_str("/**");
        }
        let rule = format!("Read({rule})");
        if !rules.contains(&rule) {
            rules.push(rule);
        }
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitignore_lines_become_read_rules() {
        let body = "# build\ndist/\n/target\n*.min.js\n.env\nsecrets/**\n!secrets/public.txt\n\\#hash\ndocs/private/\n**/cache\n\n.env\n";
        assert_eq!(
            read_deny_rules(body),
            [
                "Read(./**/dist/**)",
                "Read(./target)",
                "Read(./**/*.min.js)",
                "Read(./**/.env)",
                "Read(./secrets/**)",
                "Read(./**/#hash)",
                "Read(./docs/private/**)",
                "Read(./**/cache)",
            ]
        );
    }

    #[test]
    fn builtin_tools_load_without_problems() {
        let mut diagnostics = Diagnostics::new();
        let registry = ToolRegistry::builtin(&mut diagnostics);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        assert!(registry.names().count() >= 11);
    }

    #[test]
    fn homes_that_could_leave_their_directory_are_refused() {
        let spec: ToolSpec = serde_json::from_str(
            r#"{ "name": "acme", "homes": [
                { "prefix": "../x/", "env": "A" },
                { "prefix": ".acme/", "path": "file" },
                { "prefix": ".acme.json", "windows": { "path": "dir/" } },
                { "prefix": ".ok/", "default": "/abs" },
                { "prefix": ".fine/", "env": "FINE", "macos": { "path": "Library/Fine/" } }
            ] }"#,
        )
        .expect("spec");
        let mut diagnostics = Diagnostics::new();
        let compiled = compile(
            spec,
            BTreeMap::new(),
            &BTreeMap::new(),
            ToolOrigin::Library("tools/acme/tool.json".to_string()),
            &mut diagnostics,
        );
        assert!(compiled.is_none());
        let messages: Vec<&str> = diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(messages.len(), 4, "{messages:?}");
        assert!(
            diagnostics.iter().all(|d| d.code == "kiln::tool::bad_home"),
            "{messages:?}"
        );
        assert!(
            messages.iter().all(|m| !m.contains("home 4")),
            "{messages:?}"
        );
    }

    #[test]
    fn yielding_to_a_capability_nobody_provides_is_a_warning() {
        let reader = r#"{ "name": "reader", "outputs": [
            { "kind": "skill", "scope": "global", "strategy": "copy-tree",
              "path": "s/{{ component.name }}", "yields_to": "agent-md" }
        ] }"#;
        let library = Library::from_memory(
            "version = 1\n",
            vec![("tools/reader/tool.json".to_string(), reader.to_string())],
        )
        .library;
        let (registry, diagnostics) = ToolRegistry::for_library(&library);
        assert!(registry.get("reader").is_some());
        let found: Vec<&Diagnostic> = diagnostics.iter().collect();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].code, "kiln::tool::unknown_capability");
        assert!(!found[0].is_error());
        assert!(
            found[0]
                .help
                .as_deref()
                .is_some_and(|h| h.contains("`agents-md`")),
            "{found:?}"
        );
    }

    /// Any folder under `tools/` with a `tool.json` is a built-in tool, with no Rust change:
    /// the embedded registry's names are exactly the folders on disk when the test runs (a
    /// stale embed, or a folder whose definition fails to load, shows here).
    #[test]
    #[allow(clippy::disallowed_methods)] // cargo's own variable, read by a test
    fn builtin_names_are_the_tool_folders_on_disk() {
        let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo");
        let tools = std::path::Path::new(&manifest_dir).join("../../tools");
        let mut with_definition = Vec::new();
        let mut without = Vec::new();
        for entry in std::fs::read_dir(&tools).expect("tools/").flatten() {
            if !entry.path().is_dir() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().join("tool.json").is_file() {
                with_definition.push(name);
            } else {
                without.push(name);
            }
        }
        with_definition.sort();
        // `shared/` holds templates every tool may use; any other folder is a tool.
        assert_eq!(
            without,
            ["shared"],
            "a folder under tools/ has no tool.json"
        );
        let mut diagnostics = Diagnostics::new();
        let registry = ToolRegistry::builtin(&mut diagnostics);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        assert_eq!(registry.names().collect::<Vec<_>>(), with_definition);
        let empty = Library::from_memory("version = 1\n", Vec::new()).library;
        assert_eq!(
            ToolRegistry::known_tools(&empty),
            with_definition.iter().cloned().collect::<BTreeSet<_>>()
        );
    }

    /// Validation accepts every name the registry knows — built-in or the library's own — in a
    /// profile's `tools`, a component's tool filter and a rule's per-tool `output`, and still
    /// rejects a name it does not know.
    #[test]
    fn validation_accepts_every_registry_name() {
        let mut diagnostics = Diagnostics::new();
        let mut names: Vec<String> = ToolRegistry::builtin(&mut diagnostics)
            .names()
            .map(str::to_string)
            .collect();
        names.push("acme".to_string());
        let quoted = |names: &[String]| {
            names
                .iter()
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let tools = names
            .iter()
            .map(|n| format!("\"{n}\": {{}}"))
            .collect::<Vec<_>>()
            .join(", ");
        let outputs = names
            .iter()
            .map(|n| format!("{n}: markdown"))
            .collect::<Vec<_>>()
            .join(", ");
        let files = vec![
            (
                "tools/acme/tool.json".to_string(),
                "{ \"name\": \"acme\" }\n".to_string(),
            ),
            (
                "components/rules/everywhere.rule.md".to_string(),
                format!(
                    "---\ndescription: for every tool\ntargets:\n  allow: [{}]\noutput: {{ {outputs} }}\n---\n\nBody.\n",
                    quoted(&names)
                ),
            ),
            (
                "profiles/all.profile.json".to_string(),
                format!(
                    "{{ \"name\": \"all\", \"rules\": {{ \"include\": [\"everywhere\"] }}, \"tools\": {{ {tools} }} }}\n"
                ),
            ),
            (
                "profiles/typo.profile.json".to_string(),
                "{ \"name\": \"typo\", \"tools\": { \"acmee\": {} } }\n".to_string(),
            ),
        ];
        let loaded = Library::from_memory("version = 1\n", files);
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        let library = loaded.library;
        let known = ToolRegistry::known_tools(&library);
        assert!(names.iter().all(|n| known.contains(n)), "{known:?}");
        let found = kiln_core::validate::validate(&library, &[], &known).into_sorted();
        let unknown: Vec<&Diagnostic> = found
            .iter()
            .filter(|d| d.code == "kiln::tool::unknown")
            .collect();
        assert_eq!(unknown.len(), 1, "{found:?}");
        assert_eq!(unknown[0].message, "unknown tool `acmee`");
        assert!(
            unknown[0]
                .help
                .as_deref()
                .is_some_and(|h| h.contains("did you mean `acme`?")),
            "{:?}",
            unknown[0]
        );
    }
}
