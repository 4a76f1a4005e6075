//! Where a dist file lives: the root it is deployed into (the home directory, a relocated tool
//! home such as `$CLAUDE_CONFIG_DIR`, or a project) and its path below that root — and the
//! sandbox every live path must stay in. Which tool lives where is data (`homes` in each
//! `tool.json`, see [`HomeSpec`]); nothing here knows a tool by name.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use kiln_model::{BuildScope, HomeSpec};

/// The environment deploy needs, read by the CLI.
#[derive(Clone, Debug, Default)]
pub struct DeployEnv {
    /// The home directory.
    pub home: PathBuf,
    /// The process environment's variables (a home names the ones it reads:
    /// `CLAUDE_CONFIG_DIR`, `APPDATA`, …).
    pub vars: BTreeMap<String, String>,
    /// The operating system (`std::env::consts::OS`: `linux`, `macos`, `windows`); empty is
    /// treated as Linux.
    pub os: String,
    /// Each tool's homes, in order: what the dist manifests and deploy records carry from the
    /// tool's definition (see [`DeployEnv::knowing`]).
    pub homes: BTreeMap<String, Vec<HomeSpec>>,
    /// Folders outside the home that a symlink in it may lead to for kiln to write through it
    /// (`deploy.allow_roots` of the machine configuration: a dotfiles repository elsewhere).
    pub allow_roots: Vec<PathBuf>,
}

impl DeployEnv {
    /// This environment, with `homes` as where `tool` lives (a manifest's or record's).
    pub fn knowing(&self, tool: &str, homes: &[HomeSpec]) -> DeployEnv {
        let mut env = self.clone();
        env.homes.insert(tool.to_string(), homes.to_vec());
        env
    }
}

/// A live location: the root it must stay inside and the path below it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The sandbox root.
    pub root: PathBuf,
    /// `/`-separated path below the root.
    pub relative: String,
}

impl Location {
    /// The absolute path.
    pub fn path(&self) -> PathBuf {
        self.root.join(&self.relative)
    }
}

/// Where the dist path `relative` (below `global/` or `project/`) of `tool` is deployed.
pub fn locate(
    env: &DeployEnv,
    tool: &str,
    scope: BuildScope,
    project: Option<&Path>,
    relative: &str,
) -> Location {
    match scope {
        BuildScope::Project => Location {
            root: project.map_or_else(|| env.home.clone(), Path::to_path_buf),
            relative: relative.to_string(),
        },
        BuildScope::Global => {
            let homes = env.homes.get(tool).map_or(&[][..], Vec::as_slice);
            for home in homes {
                let Some(rest) = home.matches(relative) else {
                    continue;
                };
                let Some(place) = home.place_on(&env.os) else {
                    continue;
                };
                let root = match (&place.env, &place.default) {
                    (Some(variable), default) => match (env.vars.get(variable), default) {
                        (Some(dir), _) => PathBuf::from(dir),
                        (None, Some(default)) => below(&env.home, default),
                        // Unset and no fallback: this home does not apply.
                        (None, None) => continue,
                    },
                    (None, Some(default)) => below(&env.home, default),
                    (None, None) => env.home.clone(),
                };
                return Location {
                    root,
                    relative: format!("{}{rest}", home.replacement(place)),
                };
            }
            Location {
                root: env.home.clone(),
                relative: relative.to_string(),
            }
        }
    }
}

/// `base` joined with a `/`-separated relative path, one segment at a time.
fn below(base: &Path, relative: &str) -> PathBuf {
    relative
        .split('/')
        .filter(|segment| !segment.is_empty())
        .fold(base.to_path_buf(), |path, segment| path.join(segment))
}

/// Why a path is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal(pub String);

/// Names Windows reserves (refused everywhere, so a library stays portable).
const RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Checks a relative path's text: no `..`, no absolute or drive paths, no NUL or control
/// characters, no reserved names, no trailing dots or spaces, no over-long names.
pub fn check_relative(relative: &str) -> Result<(), Refusal> {
    let refuse = |why: &str| Err(Refusal(format!("`{}` {why}", relative.escape_debug())));
    if relative.is_empty() {
        return refuse("is empty");
    }
    if relative.len() > 4096 {
        return refuse("is too long");
    }
    if relative.starts_with('/')
        || relative.starts_with('\\')
        || relative.chars().nth(1) == Some(':')
    {
        return refuse("is absolute");
    }
    if relative
        .chars()
        .any(|c| c == '\0' || c.is_control() || c == '\\')
    {
        return refuse("contains a NUL, control character or backslash");
    }
    for segment in relative.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." {
            return refuse("has an empty, `.` or `..` segment");
        }
        if segment.len() > 255 {
            return refuse("has a name longer than 255 bytes");
        }
        if segment.ends_with('.') || segment.ends_with(' ') {
            return refuse("has a name ending in a dot or space");
        }
        let stem = segment
            .split('.')
            .next()
            .unwrap_or(segment)
            .to_ascii_uppercase();
        if RESERVED.contains(&stem.as_str()) {
            return refuse("uses a name Windows reserves");
        }
        if segment
            .chars()
            .any(|c| matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*'))
        {
            return refuse("has a character that is not portable in file names");
        }
    }
    Ok(())
}

/// Where a symlink may lead for kiln to write through it: the location's root (the home, a
/// tool home) and the allowed roots, each resolved.
fn allowed_roots(location: &Location, allow_roots: &[PathBuf]) -> Vec<PathBuf> {
    std::iter::once(&location.root)
        .chain(allow_roots)
        .map(|root| root.canonicalize().unwrap_or_else(|_| root.clone()))
        .collect()
}

/// When the live file is a symlink the user made (into a dotfiles repository, say), where kiln
/// writes instead: the file it leads to, so the link is kept. `Ok(None)`: not a symlink, or a
/// project (where a link is never followed; the planner treats it as a conflict). A link that
/// leads outside the root and `allow_roots`, dangles without a parent folder, loops or leads to
/// a directory is refused, naming the link, its target and the setting.
pub fn write_through(
    location: &Location,
    scope: BuildScope,
    allow_roots: &[PathBuf],
) -> Result<Option<Location>, Refusal> {
    let link = location.path();
    let is_link = std::fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink());
    if !is_link || scope == BuildScope::Project {
        return Ok(None);
    }
    let target = resolve_link(&link)?;
    let Some(root) = allowed_roots(location, allow_roots)
        .into_iter()
        .find(|root| target.starts_with(root))
    else {
        return Err(Refusal(format!(
            "`{}` is a symlink to `{}`, outside `{}` and every `deploy.allow_roots` folder; add the target's folder to `deploy.allow_roots` in the machine configuration (~/.config/kiln/config.toml) to let kiln write through the link",
            link.display(),
            target.display(),
            location.root.display()
        )));
    };
    if target.is_dir() {
        return Err(Refusal(format!(
            "`{}` is a symlink to the directory `{}`; kiln writes a file here",
            link.display(),
            target.display()
        )));
    }
    let relative = target
        .strip_prefix(&root)
        .unwrap_or(&target)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/");
    Ok(Some(Location { root, relative }))
}

/// The file a symlink finally leads to; for a dangling link, the path it names (whose folder
/// must exist).
fn resolve_link(link: &Path) -> Result<PathBuf, Refusal> {
    if let Ok(target) = link.canonicalize() {
        return Ok(target);
    }
    let dangling = || {
        Refusal(format!(
            "`{}` is a dangling or looping symlink; fix or remove it",
            link.display()
        ))
    };
    let named = std::fs::read_link(link).map_err(|_| dangling())?;
    let named = match link.parent() {
        Some(parent) if named.is_relative() => parent.join(named),
        _ => named,
    };
    let folder = named
        .parent()
        .and_then(|p| p.canonicalize().ok())
        .ok_or_else(dangling)?;
    let target = folder.join(named.file_name().ok_or_else(dangling)?);
    // Still a link: a chain that ends nowhere, or a loop.
    if std::fs::symlink_metadata(&target).is_ok() {
        return Err(dangling());
    }
    Ok(target)
}

/// Checks that writing `location` cannot leave its root: every existing ancestor below the
/// root is a real directory or (global scope only) a symlink that resolves inside the root or
/// one of `allow_roots`; in project scope no symlink is followed at all. The file itself is
/// checked by the planner ([`write_through`]).
pub fn check_sandbox(
    location: &Location,
    scope: BuildScope,
    allow_roots: &[PathBuf],
) -> Result<(), Refusal> {
    check_ancestors(location, |dir| {
        check_folder(dir, location, scope, allow_roots)
    })
}

/// Whether an ancestor folder of a file kiln writes exists, or says the walk can stop.
#[derive(Clone, Copy)]
enum Folder {
    /// A directory, or a link to one inside the allowed roots: look further down.
    Passable,
    /// Not there: nothing below it exists either.
    Missing,
}

/// Walks `location`'s ancestors below its root, asking `folder` about each.
fn check_ancestors(
    location: &Location,
    mut folder: impl FnMut(&Path) -> Result<Folder, Refusal>,
) -> Result<(), Refusal> {
    check_relative(&location.relative)?;
    let mut current = location.root.clone();
    let segments: Vec<&str> = location.relative.split('/').collect();
    for segment in &segments[..segments.len().saturating_sub(1)] {
        current.push(segment);
        if let Folder::Missing = folder(&current)? {
            break;
        }
    }
    // Belt and braces: the joined path must not climb out lexically either.
    if Path::new(&location.relative)
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(Refusal(format!("`{}` leaves its root", location.relative)));
    }
    Ok(())
}

/// One ancestor folder of `location` (see [`check_sandbox`]).
fn check_folder(
    current: &Path,
    location: &Location,
    scope: BuildScope,
    allow_roots: &[PathBuf],
) -> Result<Folder, Refusal> {
    let Ok(metadata) = std::fs::symlink_metadata(current) else {
        return Ok(Folder::Missing);
    };
    if metadata.file_type().is_symlink() {
        if scope == BuildScope::Project {
            return Err(Refusal(format!(
                "`{}` is a symlink; in a project kiln never follows a symlink",
                current.display()
            )));
        }
        let target = current.canonicalize().map_err(|_| {
            Refusal(format!(
                "`{}` is a dangling or looping symlink",
                current.display()
            ))
        })?;
        // Resolved only here: canonicalising the roots for every file would cost more than
        // the walk itself.
        let allowed = allowed_roots(location, allow_roots);
        if !allowed.iter().any(|root| target.starts_with(root)) {
            return Err(Refusal(format!(
                "`{}` is a symlink to `{}`, outside `{}`; add the target's folder to `deploy.allow_roots` in the machine configuration to let kiln write through it",
                current.display(),
                target.display(),
                allowed[0].display()
            )));
        }
    } else if !metadata.is_dir() {
        return Err(Refusal(format!(
            "`{}` is not a directory",
            current.display()
        )));
    }
    Ok(Folder::Passable)
}

/// [`check_sandbox`] for every file of one plan: each folder is looked at once (a skill's files
/// share their folders), not once per file.
#[derive(Default)]
pub struct SandboxChecks {
    /// Each folder's verdict, by root and folder.
    folders: std::collections::HashMap<(PathBuf, PathBuf), Result<Folder, Refusal>>,
}

impl SandboxChecks {
    /// The same answer as [`check_sandbox`]; the file system must not change between calls.
    pub fn check(
        &mut self,
        location: &Location,
        scope: BuildScope,
        allow_roots: &[PathBuf],
    ) -> Result<(), Refusal> {
        check_ancestors(location, |dir| {
            self.folders
                .entry((location.root.clone(), dir.to_path_buf()))
                .or_insert_with(|| check_folder(dir, location, scope, allow_roots))
                .clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in tools' homes, as the CLI reads them from the registry.
    fn builtin_homes() -> BTreeMap<String, Vec<HomeSpec>> {
        let mut diagnostics = kiln_core::Diagnostics::new();
        let registry = kiln_emit::ToolRegistry::builtin(&mut diagnostics);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        registry.homes()
    }

    #[test]
    fn hostile_names_are_refused() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "C:/x",
            "a\\b",
            "a\0b",
            "CON",
            "dir/aux.txt",
            "name.",
            "name ",
            "a/b?c",
            "\u{7}bell",
        ] {
            assert!(check_relative(bad).is_err(), "{bad:?}");
        }
        for good in [
            ".claude/skills/x/SKILL.md",
            "AGENTS.md",
            ".config/zed/settings.json",
            "naïve/ünïcode.md",
        ] {
            assert!(check_relative(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn claude_desktop_goes_to_each_platforms_app_support_folder() {
        let file = ".config/Claude/claude_desktop_config.json";
        let at = |os: &str, vars: &[(&str, &str)]| {
            let env = DeployEnv {
                home: PathBuf::from("/home/u"),
                vars: vars
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                os: os.to_string(),
                homes: builtin_homes(),
                allow_roots: Vec::new(),
            };
            locate(&env, "claude-desktop", BuildScope::Global, None, file).path()
        };
        assert_eq!(at("linux", &[]), PathBuf::from("/home/u").join(file));
        // XDG_CONFIG_HOME moves it on Linux only.
        assert_eq!(
            at("linux", &[("XDG_CONFIG_HOME", "/xdg")]),
            PathBuf::from("/xdg/Claude/claude_desktop_config.json")
        );
        assert_eq!(
            at("macos", &[("XDG_CONFIG_HOME", "/xdg")]),
            PathBuf::from("/home/u/Library/Application Support/Claude/claude_desktop_config.json")
        );
        assert_eq!(
            at("windows", &[("APPDATA", "/appdata")]),
            PathBuf::from("/appdata/Claude/claude_desktop_config.json")
        );
        assert_eq!(
            at("windows", &[]),
            PathBuf::from("/home/u/AppData/Roaming/Claude/claude_desktop_config.json")
        );
        // Another tool's `.config/Claude/` (none today) is not moved.
        let env = DeployEnv {
            home: PathBuf::from("/home/u"),
            os: "macos".to_string(),
            homes: builtin_homes(),
            ..DeployEnv::default()
        };
        assert_eq!(
            locate(&env, "zed", BuildScope::Global, None, file).path(),
            PathBuf::from("/home/u").join(file)
        );
        let location = locate(&env, "claude-desktop", BuildScope::Global, None, file);
        assert!(check_relative(&location.relative).is_ok());
    }

    #[test]
    fn relocation_variables_move_tool_homes() {
        let env = DeployEnv {
            home: PathBuf::from("/home/u"),
            vars: BTreeMap::from([("CLAUDE_CONFIG_DIR".to_string(), "/cfg/claude".to_string())]),
            homes: builtin_homes(),
            ..DeployEnv::default()
        };
        let at = locate(
            &env,
            "claude-code",
            BuildScope::Global,
            None,
            ".claude/rules/a.md",
        );
        assert_eq!(at.path(), PathBuf::from("/cfg/claude/rules/a.md"));
        let at = locate(
            &env,
            "claude-code",
            BuildScope::Global,
            None,
            ".claude.json",
        );
        assert_eq!(at.path(), PathBuf::from("/cfg/claude/.claude.json"));
        let at = locate(&env, "cursor", BuildScope::Global, None, ".claude/x");
        assert_eq!(at.path(), PathBuf::from("/home/u/.claude/x"));
    }

    /// Homes are data: any tool, any variable, a default folder, a per-OS place; the first
    /// home that matches and applies wins, and project paths never move.
    #[test]
    fn homes_are_data_for_any_tool() {
        let homes: Vec<HomeSpec> = serde_json::from_str(
            r#"[
              { "prefix": ".acme/", "env": "ACME_HOME" },
              { "prefix": ".acme.json", "env": "ACME_HOME", "default": ".local/state/acme" },
              { "prefix": "Acme/", "windows": { "path": "AppData/Acme/" } },
              { "prefix": "Acme/", "env": "ACME_HOME" }
            ]"#,
        )
        .expect("homes");
        let at = |os: &str, vars: &[(&str, &str)], relative: &str, scope: BuildScope| {
            let env = DeployEnv {
                home: PathBuf::from("/home/u"),
                vars: vars
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                os: os.to_string(),
                homes: BTreeMap::from([("acme".to_string(), homes.clone())]),
                allow_roots: Vec::new(),
            };
            locate(&env, "acme", scope, Some(Path::new("/p")), relative).path()
        };
        let global = BuildScope::Global;
        let set = [("ACME_HOME", "/acme")];
        assert_eq!(
            at("linux", &set, ".acme/a/b.md", global),
            PathBuf::from("/acme/a/b.md")
        );
        assert_eq!(
            at("linux", &[], ".acme/a/b.md", global),
            PathBuf::from("/home/u/.acme/a/b.md")
        );
        assert_eq!(
            at("linux", &set, ".acme.json", global),
            PathBuf::from("/acme/.acme.json")
        );
        assert_eq!(
            at("linux", &[], ".acme.json", global),
            PathBuf::from("/home/u/.local/state/acme/.acme.json")
        );
        assert_eq!(
            at("windows", &set, "Acme/x", global),
            PathBuf::from("/home/u/AppData/Acme/x")
        );
        assert_eq!(
            at("macos", &set, "Acme/x", global),
            PathBuf::from("/acme/x")
        );
        assert_eq!(
            at("linux", &set, ".acme/a.md", BuildScope::Project),
            PathBuf::from("/p/.acme/a.md")
        );
        // Another tool's paths are its own business.
        let env = DeployEnv {
            home: PathBuf::from("/home/u"),
            vars: BTreeMap::from([("ACME_HOME".to_string(), "/acme".to_string())]),
            homes: BTreeMap::from([("acme".to_string(), homes)]),
            ..DeployEnv::default()
        };
        assert_eq!(
            locate(&env, "other", global, None, ".acme/a.md").path(),
            PathBuf::from("/home/u/.acme/a.md")
        );
    }
    #[cfg(unix)]
    #[test]
    fn checks_shared_by_a_plan_answer_as_check_sandbox_does() {
        let home = tempfile::tempdir().expect("home");
        let outside = tempfile::tempdir().expect("outside");
        let root = home.path().to_path_buf();
        std::fs::create_dir_all(root.join(".claude/skills/a")).expect("mkdir");
        std::os::unix::fs::symlink(outside.path(), root.join(".claude/linked")).expect("link");
        std::fs::write(root.join(".claude/file"), "x").expect("file");
        let at = |relative: &str| Location {
            root: root.clone(),
            relative: relative.to_string(),
        };
        let paths = [
            ".claude/skills/a/SKILL.md",
            ".claude/skills/a/scripts/run.sh",
            ".claude/linked/x.md",
            ".claude/linked/y.md",
            ".claude/file/z.md",
            ".claude/missing/deeper/w.md",
            "../escape.md",
        ];
        let mut shared = SandboxChecks::default();
        for scope in [BuildScope::Global, BuildScope::Project] {
            for relative in paths {
                let alone = check_sandbox(&at(relative), scope, &[]);
                // Twice: the second answer comes from the cache.
                for _ in 0..2 {
                    assert_eq!(shared.check(&at(relative), scope, &[]), alone, "{relative}");
                }
            }
            shared = SandboxChecks::default();
        }
        let refused = paths
            .iter()
            .filter(|r| check_sandbox(&at(r), BuildScope::Global, &[]).is_err())
            .count();
        assert_eq!(
            refused, 4,
            "the link out, twice; the file as a folder; the escape"
        );
    }
}

#[cfg(test)]
mod corpus {
    use super::*;

    /// A corpus of hostile names: traversal, absolute and drive paths, NUL and control
    /// characters, reserved Windows names in many spellings, trailing dots and spaces, over-long
    /// names, separators of other systems.
    pub(crate) fn hostile_names() -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for traversal in [
            "..", "../", "../..", "a/..", "a/../..", "./..", "a/./b", ".", "./", "a//b", "/a",
            "//a",
        ] {
            names.push(traversal.to_string());
            names.push(format!("{traversal}/x"));
            names.push(format!("x/{traversal}"));
        }
        for absolute in [
            "/etc/passwd",
            "/",
            "C:/x",
            "c:x",
            "C:\\\\x",
            "\\\\server\\\\share",
            "\\\\x",
        ] {
            names.push(absolute.to_string());
        }
        for control in ['\0', '\u{1}', '\n', '\r', '\t', '\u{7f}', '\u{1b}'] {
            names.push(format!("a{control}b"));
            names.push(format!("dir/{control}"));
        }
        for reserved in [
            "CON", "con", "Con", "PRN", "AUX", "NUL", "nul", "COM1", "com9", "LPT1", "lpt9",
        ] {
            names.push(reserved.to_string());
            names.push(format!("{reserved}.txt"));
            names.push(format!("dir/{reserved}"));
            names.push(format!("dir/{reserved}.md"));
        }
        for trailing in ["name.", "name..", "name ", "dir./x", "dir /x", "x/y."] {
            names.push(trailing.to_string());
        }
        for bad in ['<', '>', ':', '"', '|', '?', '*', '\\'] {
            names.push(format!("a{bad}b"));
            names.push(format!("dir/a{bad}"));
        }
        for prefix in ["", "a/", ".claude/", ".config/zed/"] {
            for suffix in [
                "..", "../etc", "./x", "/abs", "x\0", "CON", "x.", "x ", "a?b",
            ] {
                names.push(format!("{prefix}{suffix}"));
            }
        }
        names.push("a".repeat(256));
        names.push(format!("dir/{}", "b".repeat(300)));
        names.push("x/".repeat(2100));
        names.push(String::new());
        names
    }

    #[test]
    fn every_hostile_name_is_refused() {
        let names = hostile_names();
        assert!(names.len() >= 150, "corpus has only {} names", names.len());
        let accepted: Vec<&String> = names.iter().filter(|n| check_relative(n).is_ok()).collect();
        assert!(accepted.is_empty(), "accepted: {accepted:?}");
    }

    #[test]
    fn unicode_look_alikes_stay_inside_the_root() {
        // Look-alikes of `/` and `.` are ordinary characters: allowed, and they cannot climb.
        for name in [
            "a\u{2215}..\u{2215}b",
            "\u{2024}\u{2024}/x",
            "\u{ff0e}\u{ff0e}/x",
            "a\u{29f8}b",
        ] {
            assert!(check_relative(name).is_ok(), "{name}");
            let location = Location {
                root: PathBuf::from("/root"),
                relative: name.to_string(),
            };
            assert!(location.path().starts_with("/root"));
        }
    }
}
