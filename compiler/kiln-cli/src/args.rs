//! Command-line arguments, as clap parses them. Settings derived from them live in
//! [`crate::settings`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// kiln compiles AI-agent configuration (rules, skills, commands, subagents, hooks, MCP
/// servers) from one library into the files every AI tool reads.
#[derive(Debug, Parser)]
#[command(name = "kiln", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 success, 1 errors found (or the command failed), 2 usage error.\n\
Documentation: README.md in the kiln repository."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The library to use (a folder with kiln.toml). Default: $KILN_LIBRARY, else the nearest
    /// folder with kiln.toml from the current directory up, else `library` in the user config.
    #[arg(long, global = true, value_name = "PATH", env = "KILN_LIBRARY")]
    pub library: Option<PathBuf>,

    /// Ignore the system and user configuration and $KILN_CONFIG: use the library alone (for CI).
    #[arg(long, global = true)]
    pub no_inherit: bool,

    /// When to use colour. `auto` colours on a terminal unless NO_COLOR is set.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

/// Colour output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Output format of commands with a human and a machine form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Text for people.
    Human,
    /// JSON on stdout, for scripts.
    Json,
}

/// How `kiln deploy` puts read-only files in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LinkMode {
    /// Regular files.
    Copy,
    /// Symlinks into kiln's rendered store.
    Symlink,
}

/// Output format of `kiln graph`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Graphviz DOT (`kiln graph personal | dot -Tsvg > graph.svg`).
    Dot,
    /// Nodes and edges as JSON.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the whole library: schemas, references, templates, globs, tools and every
    /// profile. Reports every problem at once; exit 1 if any is an error.
    Validate {
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
        format: OutputFormat,
    },
    /// Show the components a profile selects, in order, each with why it is in, and the
    /// effective variables.
    Resolve {
        /// The profile (default: the machine's profile from the configuration).
        profile: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
        format: OutputFormat,
    },
    /// Print a profile's dependency graph (depends_on and template includes).
    Graph {
        /// The profile (default: the machine's profile from the configuration).
        profile: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
    /// Compile a profile into the exact files each AI tool reads, under dist/<tool>/<profile>/.
    /// Memoised: only units whose inputs changed are emitted again, unchanged bytes are not
    /// rewritten.
    Build(BuildArgs),
    /// Put what `kiln build` produced where each tool reads it: the home directory, or a
    /// project with --project. Plans first and writes nothing while any file kiln did not write
    /// is in the way (exit 3); builds first if needed.
    Deploy(DeployArgs),
    /// Take back what kiln deployed for some tools (or --all) in the home, or a project with
    /// --project: files kiln created are removed (with the folders it created, once empty),
    /// kiln's keys leave shared files and the user's bytes stay; files the user changed since
    /// are left alone unless --force. Exit 0 done, 1 files left alone, 3 refused.
    Undeploy(UndeployArgs),
    /// Bring one tool's existing configuration into the library: a home (`--scope global`,
    /// e.g. `~/.claude`, `~/.claude.json`) or a project (`CLAUDE.md`, `.claude/`, `.mcp.json`,
    /// `.cursor/`). Item by item: a file kiln cannot read is reported with its reason and the
    /// rest goes on. Skills are copied byte for byte, Markdown kept as written; a library file
    /// with other bytes is never overwritten without --force. The components imported are
    /// added to a profile (default `imported`). Exit 0 when everything was imported (perhaps
    /// with warnings), 1 when something could not be, listed.
    Import(ImportArgs),
    /// The one command per machine: build and deploy every tool the machine configuration
    /// names (`tools`, `[tools.<name>]` with scope, mode and projects) for its profile, and
    /// classify live edits against the library. Harmless work is done; an edit made live
    /// (`live-newer`), edits on both sides and ties are listed with what sync would do, and
    /// wait for a decision. Exit 0 done, 2 decisions pending, 1 error (`--dry-run` never 2).
    Sync(SyncArgs),
    /// Every invariant kiln can check here — the library, the configuration (read-only under
    /// Home Manager), `op` when secrets are deployed, broken symlinks, interrupted writes,
    /// projects a tool has not been told to trust — and each live difference of every
    /// deployment by severity (info, warn, error), each with the command that resolves it.
    /// Read-only. Exit 0 only when every row is info.
    Doctor {
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
        format: OutputFormat,
    },
    /// Check deployed files for drift against what kiln recorded and what dist now holds.
    /// Exit 0 synced, 1 drift.
    Check(CheckArgs),
    /// One line per deployment on this machine: tool, profile, scope, root, mode, and whether it
    /// is synced, drifted (files edited, deleted or retyped) or stale (dist moved on), plus
    /// builds in dist/ never deployed here. Read-only; always exit 0 (use `kiln check` in
    /// scripts that must fail on drift).
    Status {
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
        format: OutputFormat,
    },
    /// Compare two profiles: which components differ, then a unified diff of every output
    /// that differs (for one tool, or every tool either profile lists). Exit 0 same, 1 different.
    Diff {
        /// The first profile.
        profile_a: String,
        /// The second profile.
        profile_b: String,
        /// Only this tool.
        tool: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
        format: OutputFormat,
    },
    /// List the tools kiln builds for (built-in and the library's own) or show one: where each
    /// kind of component goes in each scope, what it cannot express, and how it avoids loading
    /// things twice.
    Tools {
        /// Show this tool in detail.
        tool: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
        format: OutputFormat,
    },
    /// Inspect the machine configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Developer tools: generate synthetic libraries and regenerate schemas.
    #[command(hide = true)]
    Dev {
        #[command(subcommand)]
        command: DevCommand,
    },
}

/// Arguments of `kiln deploy`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The profile (default: the machine's profile from the configuration).
    pub profile: Option<String>,
    /// The tool to deploy.
    pub tool: Option<String>,
    /// Deploy every tool the profile lists.
    #[arg(long, conflicts_with = "tool")]
    pub all_tools: bool,
    /// Deploy the project scope into this directory (default: the global scope into $HOME).
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// Print the plan and write nothing (exit as a real run would).
    #[arg(long)]
    pub dry_run: bool,
    /// Deploy what dist/ holds now, without building first (the named tool, or every tool
    /// built for the profile; a build that is missing is an error).
    #[arg(long)]
    pub no_build: bool,
    /// `copy` writes regular files; `symlink` links rules, skills, commands and agents to a
    /// stable rendered copy kiln keeps (settings and MCP files are always copied).
    #[arg(long, value_enum, default_value_t = LinkMode::Copy)]
    pub mode: LinkMode,
    /// Take ownership of files kiln did not write (their content is replaced).
    #[arg(long, conflicts_with_all = ["backup", "force"])]
    pub adopt: bool,
    /// Move files kiln did not write aside to `<name>.kiln-backup` first.
    #[arg(long, conflicts_with = "force")]
    pub backup: bool,
    /// Overwrite conflicting and drifted files.
    #[arg(long)]
    pub force: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
}

/// Arguments of `kiln undeploy`.
#[derive(Debug, Args)]
pub struct UndeployArgs {
    /// The tools to undeploy (as `kiln status` lists them).
    #[arg(required_unless_present = "all")]
    pub tools: Vec<String>,
    /// Every tool deployed into the target.
    #[arg(long, conflicts_with = "tools")]
    pub all: bool,
    /// Undeploy the project scope from this directory (default: the global scope in $HOME).
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// Print what would be removed and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also remove files the user changed since kiln wrote them.
    #[arg(long)]
    pub force: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
}

/// Arguments of `kiln import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The tool whose configuration it is (`claude-code`, `cursor`).
    pub tool: String,
    /// The home folder (global scope) or project folder to import from.
    pub path: PathBuf,
    /// Whether PATH is a home (`global`) or a project (`project`).
    #[arg(long, value_enum, default_value_t = ImportScopeArg::Global)]
    pub scope: ImportScopeArg,
    /// The profile that selects what was imported (created, or extended when it exists).
    #[arg(long, default_value = "imported")]
    pub profile: String,
    /// Print the plan and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Overwrite library files that hold other bytes.
    #[arg(long)]
    pub force: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
}

/// Which layout an import reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportScopeArg {
    /// A home directory.
    Global,
    /// A project folder.
    Project,
}

/// `kiln sync`.
#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// The profile (default: the machine's, from `profile`, KILN_PROFILE or `[hosts]`).
    #[arg(long)]
    pub profile: Option<String>,
    /// Print what sync would do and write nothing (never exits 2).
    #[arg(long)]
    pub dry_run: bool,
    /// Show each pending edit as a unified diff (dist → live).
    #[arg(long)]
    pub diff: bool,
    /// Promote live edits of files kiln copied verbatim (skills, command, agent and rule
    /// files) into their library files, then redeploy.
    #[arg(long, conflicts_with = "no_promote")]
    pub apply_promote: bool,
    /// Never promote: a pending live edit is an error (CI, consumer-only machines).
    #[arg(long)]
    pub no_promote: bool,
    /// Decide edits on both sides, and ties, for the whole file: `live` promotes the live
    /// edit (with --apply-promote), `source` discards it.
    #[arg(long, value_enum)]
    pub prefer: Option<Prefer>,
    /// With --apply-promote: turn skill folders made by hand beside kiln's into components
    /// (copied byte for byte into components/skills/, added to the profile), then deploy them.
    #[arg(long, requires = "apply_promote")]
    pub adopt_new: bool,
    /// Discard every live edit (overwrite it with what the library says).
    #[arg(long, conflicts_with_all = ["no_promote", "apply_promote"])]
    pub force: bool,
    /// Undeploy tools removed from the machine configuration (otherwise reported as retired).
    #[arg(long)]
    pub allow_delete: bool,
    /// Promote even into library files with uncommitted changes.
    #[arg(long)]
    pub allow_dirty_source: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
}

/// Whose side wins an edit made on both sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Prefer {
    /// The live file.
    Live,
    /// The library.
    Source,
}

/// Arguments of `kiln check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Check the copies a manifest lists (pairs, aliases, live_only, submodule_only,
    /// fix_direction; schema: schemas/check-manifest.schema.json) instead of deploy records.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Repair drift: with --manifest, copy in its `fix_direction` (nothing is deleted); from
    /// deploy records, put back what kiln deployed (files, kiln's keys in shared files,
    /// symlinks). Stale deploys need `kiln deploy`.
    #[arg(long)]
    pub fix: bool,
    /// With --fix: print the repairs and write nothing.
    #[arg(long, requires = "fix")]
    pub dry_run: bool,
    /// A per-file table instead of the summary.
    #[arg(long)]
    pub full: bool,
    /// For each drifted file, a unified diff on stdout from what kiln deployed (what --fix
    /// would write) to what is there now. Files holding secrets are named, never shown.
    #[arg(long, conflicts_with_all = ["manifest", "json"])]
    pub diff: bool,
    /// Machine output on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `kiln build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The profile (default: the machine's profile from the configuration).
    pub profile: Option<String>,
    /// The tool to build for (claude-code, cursor, codex, …; `kiln tools` lists them).
    pub tool: Option<String>,
    /// Build every tool the profile lists in `tools`.
    #[arg(long, conflicts_with = "tool")]
    pub all_tools: bool,
    /// Build every profile for each of its tools.
    #[arg(long, conflicts_with_all = ["profile", "tool", "all_tools"])]
    pub all: bool,
    /// Write nothing; exit 1 listing what is out of date (for CI).
    #[arg(long)]
    pub check: bool,
    /// Treat "cannot express" warnings as errors.
    #[arg(long)]
    pub strict: bool,
    /// Say why each unit was rebuilt.
    #[arg(long)]
    pub explain: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration, each value with the layer it came from
    /// (system, user, library, environment, flags), the library and the chosen profile.
    Show {
        /// Profile flag to take into account, as other commands would.
        #[arg(long)]
        profile: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
        format: OutputFormat,
    },
    /// Set KEY (dotted: `profile`, `hosts.laptop`, `tools`, `tools.codex.mode`) in the user
    /// configuration (~/.config/kiln/config.toml), keeping its comments. VALUE is TOML when it
    /// parses as TOML (`true`, `30`, `["claude-code","codex"]`), else text. The result is
    /// checked before it is written (atomically). Exit 0 written, 1 refused.
    Set {
        /// The dotted key.
        key: String,
        /// The value.
        value: String,
    },
    /// Remove KEY from the user configuration (tables it leaves empty go too). Exit 0 removed,
    /// 1 not set or refused.
    Unset {
        /// The dotted key.
        key: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Write a synthetic library of about N components into DIR (for benchmarks and tests).
    GenerateLibrary {
        /// Target folder (created; must be empty or missing).
        dir: PathBuf,
        /// About how many components to generate.
        #[arg(long, default_value_t = 1000)]
        components: usize,
        /// Seed; the same seed gives the same library.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Write a generated Claude Code home that looks hand-kept into DIR (`.claude/`,
    /// `.claude.json`, and a Cursor project in `project/`), for import tests and benchmarks.
    GenerateHome {
        /// Target folder (created; must be empty or missing).
        dir: PathBuf,
        /// Skill folders.
        #[arg(long, default_value_t = 200)]
        skills: usize,
        /// Commands (nested namespaces, repeated file names).
        #[arg(long, default_value_t = 90)]
        commands: usize,
        /// Agents (category folders).
        #[arg(long, default_value_t = 140)]
        agents: usize,
        /// Rules (nested, with `paths:`).
        #[arg(long, default_value_t = 30)]
        rules: usize,
        /// Permission entries in settings.json.
        #[arg(long, default_value_t = 100)]
        permissions: usize,
    },
    /// Write the JSON Schemas generated from the types into DIR (default `schemas/` of the
    /// library).
    Schemas {
        /// Target folder.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}
