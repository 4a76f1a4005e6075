//! Why a deploy, a check repair or an undeploy could not be done: one variant, and one
//! diagnostic code, per class of failure. Messages name the path and say how to get out.

use miette::Diagnostic;
use thiserror::Error;

/// A deploy that cannot be planned or applied. Conflicts and drift are not errors: they are
/// steps of the plan.
#[derive(Debug, Error, Diagnostic)]
pub enum DeployError {
    /// dist has no build of this (tool, profile).
    #[error("no build of {tool}/{profile} in dist")]
    #[diagnostic(
        code(kiln::deploy::not_built),
        help("run `kiln build {profile} {tool}`")
    )]
    NotBuilt {
        /// The tool.
        tool: String,
        /// The profile.
        profile: String,
    },
    /// A dist file or manifest is missing, unreadable or does not match its manifest.
    #[error("{0}")]
    #[diagnostic(code(kiln::deploy::dist))]
    Dist(String),
    /// A live file kiln shares with the user does not parse (or is not UTF-8); kiln never
    /// replaces a file it cannot read.
    #[error("{0}")]
    #[diagnostic(code(kiln::deploy::unparsable))]
    Unparsable(String),
    /// Reading or writing a live file, a directory or kiln's state failed.
    #[error("{0}")]
    #[diagnostic(code(kiln::deploy::io))]
    Io(String),
    /// A deploy record is unreadable.
    #[error("{0}")]
    #[diagnostic(code(kiln::deploy::record))]
    Record(String),
    /// The deploy lock could not be taken.
    #[error("{0}")]
    #[diagnostic(code(kiln::deploy::lock))]
    Lock(String),
    /// A secret could not be resolved (the `op` command is missing, failed or timed out).
    #[error("{0}")]
    #[diagnostic(code(kiln::deploy::secret))]
    Secret(String),
    /// Another program kept changing a shared file while kiln wrote it.
    #[error("{0}")]
    #[diagnostic(code(kiln::deploy::contended))]
    Contended(String),
    /// A path the sandbox refuses (it would leave its root).
    #[error("{0}")]
    #[diagnostic(code(kiln::deploy::refused))]
    Refused(String),
    /// The project folder given is not usable.
    #[error("project `{path}` is not usable: {reason}")]
    #[diagnostic(code(kiln::deploy::project))]
    Project {
        /// The folder as given.
        path: String,
        /// Why.
        reason: String,
    },
    /// `HOME` is not set.
    #[error("HOME is not set; kiln does not know where global files go")]
    #[diagnostic(
        code(kiln::deploy::no_home),
        help("set HOME (tests use a temporary one)")
    )]
    NoHome,
    /// A plan with conflicts or refusals was handed to apply (a bug of the caller).
    #[error("{0}")]
    #[diagnostic(code(kiln::deploy::blocked))]
    Blocked(String),
}

impl From<kiln_store::fs::FsError> for DeployError {
    fn from(error: kiln_store::fs::FsError) -> DeployError {
        DeployError::Io(error.to_string())
    }
}
