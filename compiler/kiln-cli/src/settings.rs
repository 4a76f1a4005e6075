//! From arguments and environment to resolved settings: which library, which configuration
//! layers, which hostname, which profile. The only place that reads the environment
//! (`clippy.toml` forbids `std::env::var` everywhere else).
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};

use kiln_core::config::{EffectiveConfig, Layer, LayerKind, library_layer, read_layer};
use kiln_core::library::{LIBRARY_FILE, Loaded};
use kiln_core::{Diagnostic, Diagnostics, Library};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::args::GlobalArgs;

/// The environment variables kiln reads, snapshotted once.
#[derive(Clone, Debug, Default)]
pub struct Environment {
    pub home: Option<PathBuf>,
    pub xdg_config_home: Option<PathBuf>,
    pub kiln_config: Option<PathBuf>,
    pub kiln_profile: Option<String>,
    pub kiln_no_inherit: bool,
    pub kiln_system_config: Option<PathBuf>,
    pub kiln_hostname: Option<String>,
    pub xdg_state_home: Option<PathBuf>,
    /// Every variable that is set and not empty, for the tool homes that name one
    /// (`CLAUDE_CONFIG_DIR`, `CODEX_HOME`, `APPDATA`, a library tool's own): which ones is data
    /// in the tool definitions, so settings cannot list them.
    pub variables: std::collections::BTreeMap<String, String>,
    /// `NO_COLOR` is set and not empty.
    pub no_color: bool,
    /// `KILN_TIMINGS` is set: print stage timings (for profiling kiln itself).
    pub timings: bool,
    /// `KILN_FAILPOINT=N`: abort at the N-th failpoint (crash tests only).
    pub failpoint: Option<u64>,
}

impl Environment {
    /// The environment as this process started with it, read once.
    pub fn current() -> &'static Environment {
        static CURRENT: std::sync::OnceLock<Environment> = std::sync::OnceLock::new();
        CURRENT.get_or_init(Environment::read)
    }

    fn read() -> Environment {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        Environment {
            home: var("HOME").map(PathBuf::from),
            xdg_config_home: var("XDG_CONFIG_HOME").map(PathBuf::from),
            kiln_config: var("KILN_CONFIG").map(PathBuf::from),
            kiln_profile: var("KILN_PROFILE").map(|v| v.to_string_lossy().into_owned()),
            kiln_no_inherit: var("KILN_NO_INHERIT")
                .is_some_and(|v| !matches!(v.to_string_lossy().as_ref(), "0" | "false" | "no")),
            kiln_system_config: var("KILN_SYSTEM_CONFIG").map(PathBuf::from),
            kiln_hostname: var("KILN_HOSTNAME").map(|v| v.to_string_lossy().into_owned()),
            xdg_state_home: var("XDG_STATE_HOME").map(PathBuf::from),
            variables: std::env::vars_os()
                .filter(|(_, value)| !value.is_empty())
                .filter_map(|(name, value)| {
                    Some((name.into_string().ok()?, value.into_string().ok()?))
                })
                .collect(),
            no_color: var("NO_COLOR").is_some(),
            timings: std::env::var_os("KILN_TIMINGS").is_some(),
            failpoint: var("KILN_FAILPOINT").and_then(|v| v.to_string_lossy().parse().ok()),
        }
    }

    /// `$XDG_CONFIG_HOME/kiln/config.toml` (or `~/.config/…`): the user layer.
    pub fn user_config_path(&self) -> Option<PathBuf> {
        self.user_config()
    }

    fn user_config(&self) -> Option<PathBuf> {
        self.xdg_config_home
            .clone()
            .or_else(|| self.home.as_ref().map(|h| h.join(".config")))
            .map(|dir| dir.join("kiln").join("config.toml"))
    }
}

/// How the library was found.
#[derive(Clone, Debug, Serialize)]
pub struct LibraryLocation {
    /// Its root.
    pub root: PathBuf,
    /// `--library`/`KILN_LIBRARY`, the current directory, or a configuration file.
    pub found_by: String,
}

impl LibraryLocation {
    /// The library's `dist/` folder (from `kiln.toml`'s paths, read without loading the rest).
    pub fn dist(&self) -> kiln_store::dist::DistLayout {
        kiln_store::dist::DistLayout {
            root: self
                .root
                .join(kiln_core::library::library_paths(&self.root).dist),
        }
    }
}

/// Everything a command needs: the loaded library and the merged configuration.
pub struct Context {
    pub location: LibraryLocation,
    pub library: Library,
    /// Problems from loading the library and the configuration files.
    pub diagnostics: Diagnostics,
    pub config: EffectiveConfig,
    pub hostname: String,
    pub no_inherit: bool,
}

/// The system and user configuration layers (none with `--no-inherit`), with the problems
/// reading them found.
fn machine_layers(global: &GlobalArgs, env: &Environment) -> (bool, Vec<Layer>, Diagnostics) {
    let no_inherit = global.no_inherit || env.kiln_no_inherit;
    let mut diagnostics = Diagnostics::new();
    let mut machine_layers = Vec::new();
    if !no_inherit {
        let system = env
            .kiln_system_config
            .clone()
            .unwrap_or_else(|| PathBuf::from("/etc/kiln/config.toml"));
        push_layer(
            LayerKind::System,
            &system,
            &mut machine_layers,
            &mut diagnostics,
        );
        if let Some(user) = env.user_config() {
            push_layer(
                LayerKind::User,
                &user,
                &mut machine_layers,
                &mut diagnostics,
            );
        }
    }
    (no_inherit, machine_layers, diagnostics)
}

/// The library found and the machine layers read, before the library is loaded.
pub struct Located {
    env: &'static Environment,
    no_inherit: bool,
    machine_layers: Vec<Layer>,
    diagnostics: Diagnostics,
    pub location: LibraryLocation,
}

impl Located {
    /// Reads the machine layers and finds the library (cheap: nothing of the library is read).
    pub fn find(global: &GlobalArgs) -> Result<Located, Diagnostic> {
        let env = Environment::current();
        let (no_inherit, machine_layers, diagnostics) = machine_layers(global, env);
        let location = find_library(global, &machine_layers, env)?;
        Ok(Located {
            env,
            no_inherit,
            machine_layers,
            diagnostics,
            location,
        })
    }

    /// Everything outside the library that can change what a command does: the machine
    /// layers, the relevant environment and the hostname (for the build's no-op shortcut).
    pub fn outside_inputs(&self) -> serde_json::Value {
        let layers: Vec<&Map<String, Value>> =
            self.machine_layers.iter().map(|l| &l.values).collect();
        let kiln_config = self
            .env
            .kiln_config
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok());
        serde_json::json!({
            "root": self.location.root,
            "layers": layers,
            "no_inherit": self.no_inherit,
            "kiln_config": kiln_config,
            "kiln_profile": self.env.kiln_profile,
            "hostname": self.hostname(),
        })
    }

    fn hostname(&self) -> String {
        self.env
            .kiln_hostname
            .clone()
            .unwrap_or_else(|| gethostname::gethostname().to_string_lossy().into_owned())
    }

    /// Loads the library and merges the configuration layers. `profile_flag` is the profile
    /// given on the command line, if any.
    pub fn load(self, profile_flag: Option<&str>) -> Result<Context, Diagnostic> {
        let loaded = Library::load(&self.location.root);
        self.merge(loaded, profile_flag)
    }

    /// The configuration alone, with only `kiln.toml` of the library read (for commands that
    /// need a setting, not the components).
    pub fn config_only(self, profile_flag: Option<&str>) -> Result<Context, Diagnostic> {
        let path = self.location.root.join(LIBRARY_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Diagnostic::error(
                "kiln::library::read",
                format!("failed to read `{}`: {e}", path.display()),
            )
        })?;
        let loaded = Library::from_memory(&text, Vec::new());
        self.merge(loaded, profile_flag)
    }

    fn merge(self, loaded: Loaded, profile_flag: Option<&str>) -> Result<Context, Diagnostic> {
        let hostname = self.hostname();
        let Located {
            env,
            no_inherit,
            machine_layers,
            mut diagnostics,
            location,
        } = self;
        let Loaded {
            library,
            diagnostics: load_diagnostics,
        } = loaded;
        diagnostics.extend(load_diagnostics);

        let mut layers = machine_layers;
        if let Some(spec) = &library.spec {
            layers.push(library_layer(&spec.values, LIBRARY_FILE));
        }
        if !no_inherit && let Some(path) = &env.kiln_config {
            match read_layer(LayerKind::Environment, path) {
                Ok(Some(layer)) => layers.push(layer),
                Ok(None) => {
                    return Err(Diagnostic::error(
                        "kiln::config::missing",
                        format!(
                            "KILN_CONFIG names `{}`, which does not exist",
                            path.display()
                        ),
                    )
                    .help("unset KILN_CONFIG or point it at a config.toml"));
                }
                Err(problems) => diagnostics.extend(problems),
            }
        }
        if let Some(profile) = &env.kiln_profile {
            layers.push(single(
                LayerKind::Environment,
                "KILN_PROFILE",
                "profile",
                profile,
            ));
        }
        if let Some(profile) = profile_flag {
            layers.push(single(LayerKind::Flags, "command line", "profile", profile));
        }
        Ok(Context {
            location,
            library,
            diagnostics,
            config: EffectiveConfig::merge(layers),
            hostname,
            no_inherit,
        })
    }
}

impl Context {
    /// Home, the environment's variables and the state directory, for deploy and check. Where
    /// each tool lives comes with the dist manifests and deploy records.
    pub fn deploy_env(
        global: &GlobalArgs,
    ) -> Result<(kiln_deploy::location::DeployEnv, PathBuf), Diagnostic> {
        let env = Environment::current();
        let home = env.home.clone().ok_or_else(|| {
            Diagnostic::error(
                "kiln::deploy::no_home",
                "HOME is not set; kiln does not know where global files go",
            )
            .help("set HOME (tests use a temporary one)")
        })?;
        let state = kiln_deploy::apply::state_dir(&home, env.xdg_state_home.as_deref());
        let allow_roots = allow_roots(global, env, &home)?;
        Ok((
            kiln_deploy::location::DeployEnv {
                home,
                vars: env.variables.clone(),
                os: std::env::consts::OS.to_string(),
                homes: std::collections::BTreeMap::new(),
                allow_roots,
            },
            state,
        ))
    }

    /// The tools this machine uses (see [`kiln_build::Project::tools_in_use`]); `None` without
    /// a valid library and a configured profile or `tools` list.
    pub fn tools_in_use(global: &GlobalArgs) -> Option<std::collections::BTreeSet<String>> {
        let project = Context::load(global, None).ok()?.open();
        if project.has_errors() {
            return None;
        }
        project.tools_in_use()
    }

    /// Finds and loads the library and merges the configuration layers. `profile_flag` is the
    /// profile given on the command line, if any.
    pub fn load(global: &GlobalArgs, profile_flag: Option<&str>) -> Result<Context, Diagnostic> {
        Located::find(global)?.load(profile_flag)
    }

    /// Validates the library and registers its tools: the pipeline from here on is
    /// kiln-build's.
    pub fn open(self) -> kiln_build::Project {
        kiln_build::Project::open(self.into_inputs())
    }

    /// What the pipeline needs of the settings.
    pub fn into_inputs(self) -> kiln_build::ProjectInputs {
        kiln_build::ProjectInputs {
            root: self.location.root,
            library: self.library,
            diagnostics: self.diagnostics,
            config: self.config,
            hostname: self.hostname,
        }
    }
}

fn single(kind: LayerKind, origin: &str, key: &str, value: &str) -> Layer {
    let mut values = Map::new();
    values.insert(key.to_string(), Value::String(value.to_string()));
    Layer {
        kind,
        origin: origin.to_string(),
        values,
    }
}

fn push_layer(
    kind: LayerKind,
    path: &Path,
    layers: &mut Vec<Layer>,
    diagnostics: &mut Diagnostics,
) {
    match read_layer(kind, path) {
        Ok(Some(layer)) => layers.push(layer),
        Ok(None) => {}
        Err(problems) => diagnostics.extend(problems),
    }
}

/// `--library`/`KILN_LIBRARY`, else the nearest `kiln.toml` from the current directory up,
/// else `library` from the system or user configuration.
fn find_library(
    global: &GlobalArgs,
    layers: &[Layer],
    env: &Environment,
) -> Result<LibraryLocation, Diagnostic> {
    if let Some(path) = &global.library {
        let root = absolute(path);
        if !root.join(LIBRARY_FILE).is_file() {
            return Err(Diagnostic::error(
                "kiln::library::not_found",
                format!("`{}` is not a kiln library: it has no {LIBRARY_FILE}", path.display()),
            )
            .help("create kiln.toml there (`version = 1`), or point --library / KILN_LIBRARY at the library"));
        }
        return Ok(LibraryLocation {
            root,
            found_by: "--library or KILN_LIBRARY".into(),
        });
    }
    let cwd = std::env::current_dir().map_err(|error| {
        Diagnostic::error(
            "kiln::library::cwd",
            format!("failed to read the current directory: {error}"),
        )
    })?;
    if let Some(root) = cwd.ancestors().find(|dir| dir.join(LIBRARY_FILE).is_file()) {
        return Ok(LibraryLocation {
            root: root.to_path_buf(),
            found_by: "current directory".into(),
        });
    }
    for layer in layers.iter().rev() {
        let Some(path) = layer.values.get("library").and_then(Value::as_str) else {
            continue;
        };
        let base = Path::new(&layer.origin).parent().unwrap_or(Path::new("/"));
        let expanded = match (path.strip_prefix("~/"), &env.home) {
            (Some(rest), Some(home)) => home.join(rest),
            _ => base.join(path),
        };
        if expanded.join(LIBRARY_FILE).is_file() {
            return Ok(LibraryLocation {
                root: expanded,
                found_by: format!("`library` in {}", layer.label()),
            });
        }
        return Err(Diagnostic::error(
            "kiln::library::not_found",
            format!(
                "`library` in {} names `{}`, which has no {LIBRARY_FILE}",
                layer.label(),
                expanded.display()
            ),
        )
        .help("fix `library` in that file, or pass --library"));
    }
    Err(Diagnostic::error(
        "kiln::library::not_found",
        format!("no kiln library here: no {LIBRARY_FILE} in `{}` or any parent", cwd.display()),
    )
    .help("run kiln inside a library, pass --library PATH, set KILN_LIBRARY, or set `library` in ~/.config/kiln/config.toml"))
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map_or_else(|_| path.to_path_buf(), |cwd| cwd.join(path))
    }
}

/// `deploy.allow_roots` of the machine layers (never the library's `kiln.toml`: a library
/// cannot widen where kiln writes), each absolute or `~/…`.
fn allow_roots(
    global: &GlobalArgs,
    env: &Environment,
    home: &Path,
) -> Result<Vec<PathBuf>, Diagnostic> {
    let (_, layers, _) = machine_layers(global, env);
    let config = EffectiveConfig::merge(layers);
    let Some(setting) = config.get("deploy.allow_roots") else {
        return Ok(Vec::new());
    };
    let mut roots = Vec::new();
    for entry in setting.value.as_array().into_iter().flatten() {
        let text = entry.as_str().unwrap_or_default();
        let path = match text.strip_prefix("~/") {
            Some(rest) => home.join(rest),
            None => PathBuf::from(text),
        };
        if !path.is_absolute() {
            return Err(Diagnostic::error(
                "kiln::config::allow_roots",
                format!("`deploy.allow_roots` entry `{text}` is neither absolute nor `~/…`"),
            )
            .help("write the folder's full path, e.g. \"~/dotfiles\" or \"/opt/dotfiles\""));
        }
        roots.push(path);
    }
    Ok(roots)
}

/// The 1Password CLI settings of a configuration (`secrets.op_command`,
/// `secrets.op_timeout_seconds`), defaults for what is not set.
pub fn op_command(config: &EffectiveConfig) -> kiln_deploy::secrets::OpCommand {
    let mut op = kiln_deploy::secrets::OpCommand::default();
    if let Some(program) = config.string("secrets.op_command") {
        op.program = program.to_string();
    }
    if let Some(seconds) = config
        .get("secrets.op_timeout_seconds")
        .and_then(|s| s.value.as_u64())
    {
        op.timeout = std::time::Duration::from_secs(seconds);
    }
    op
}
