//! Secrets: `op://vault/item/field` references stay verbatim in dist and are resolved only at
//! deploy, with the 1Password CLI (one `op inject` for all of a run's references, or
//! `op read --no-newline REF` each when that does not work; the command is configurable, an
//! absolute path works with an empty PATH). Each reference is resolved once per run, with a
//! timeout, never with a terminal to prompt on, and never with a token in argv (the CLI reads
//! its own environment). Any failure aborts before the first write. Resolved values never reach
//! dist, the deploy record (only a keyed hash of files holding them), logs or messages.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kiln_model::RecordedHash;

use crate::error::DeployError;

/// The 1Password CLI and how long one `op read` may take (`secrets.op_command`,
/// `secrets.op_timeout_seconds`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpCommand {
    /// The program (`op`, or an absolute path).
    pub program: String,
    /// After this, it and every process it started are killed.
    pub timeout: Duration,
}

impl Default for OpCommand {
    fn default() -> Self {
        OpCommand {
            program: "op".to_string(),
            timeout: Duration::from_secs(30),
        }
    }
}

/// Every secret reference in some bytes: `op://vault/item/field` (or `…/section/field`), the
/// whole value or part of one (`Bearer op://…`); a malformed `op://` token is not one.
pub fn find_references(bytes: &[u8]) -> BTreeSet<String> {
    let text = String::from_utf8_lossy(bytes);
    kiln_model::secret_ref::reference_spans(&text)
        .into_iter()
        .map(|span| &text[span])
        .filter(|token| kiln_model::secret_ref::is_reference(token))
        .map(str::to_string)
        .collect()
}

/// Whether a dist file's secret references are resolved at deploy: only in structured values,
/// the shared JSON/TOML settings files kiln merges (MCP servers, settings). A Markdown file —
/// a rule, CLAUDE.md, a project's AGENTS.md that gets committed — or any other file keeps a
/// quoted `"op://…"` verbatim.
pub fn may_hold_secrets(entry: &kiln_model::ManifestEntry) -> bool {
    entry.merge.is_some()
}

/// Resolved secrets, by reference.
#[derive(Default)]
pub struct Secrets {
    values: BTreeMap<String, String>,
    key: [u8; 32],
    /// A dry run's: the references are known, their values are not (`op` is not run).
    unresolved: BTreeSet<String>,
    /// References whose value is empty (a warning: a blank token usually means a wrong field).
    empty: Vec<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a value.
        f.debug_struct("Secrets")
            .field("references", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Secrets {
    /// Resolves every reference with `command` (default `op`); `key` keys the hashes of files
    /// that hold secrets.
    pub fn resolve(
        references: &BTreeSet<String>,
        command: &OpCommand,
        key: [u8; 32],
    ) -> Result<Secrets, DeployError> {
        Secrets::resolve_with(references, command, key, &|_| {})
    }

    /// [`Secrets::resolve`], telling `waiting` each reference before `op` is asked for it (a
    /// terminal shows what the deploy waits for: `op` may be waiting for a sign-in).
    pub fn resolve_with(
        references: &BTreeSet<String>,
        command: &OpCommand,
        key: [u8; 32],
        waiting: &dyn Fn(&str),
    ) -> Result<Secrets, DeployError> {
        // One `op inject` for them all when there are several; one `op read` each otherwise,
        // or when that did not work.
        let batched = match references.len() {
            0 | 1 => None,
            n => {
                waiting(&format!("{n} secret references"));
                inject_all(command, references)?
            }
        };
        let values = match batched {
            Some(values) => values,
            None => {
                let mut values = BTreeMap::new();
                for reference in references {
                    waiting(reference);
                    values.insert(reference.clone(), read_one(command, reference)?);
                }
                values
            }
        };
        let empty = values
            .iter()
            .filter(|(_, value)| value.is_empty())
            .map(|(reference, _)| reference.clone())
            .collect();
        Ok(Secrets {
            values,
            key,
            unresolved: BTreeSet::new(),
            empty,
        })
    }

    /// A dry run's secrets: the references, not their values. A file holding them is planned
    /// by its keyed hash (see `plan`), and nothing is substituted.
    pub fn unresolved(references: BTreeSet<String>, key: [u8; 32]) -> Secrets {
        Secrets {
            values: BTreeMap::new(),
            key,
            unresolved: references,
            empty: Vec::new(),
        }
    }

    /// The references a dry run did not resolve, sorted.
    pub fn unresolved_references(&self) -> impl Iterator<Item = &str> {
        self.unresolved.iter().map(String::as_str)
    }

    /// Whether these are a dry run's unresolved references.
    pub fn is_unresolved(&self) -> bool {
        !self.unresolved.is_empty()
    }

    /// The references that resolved to an empty value.
    pub fn empty_values(&self) -> &[String] {
        &self.empty
    }

    /// Whether there is nothing to substitute.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Replaces each quoted `"op://…"` (a whole JSON or TOML string value) with the resolved
    /// value as an escaped string. Returns the new bytes and whether anything was replaced.
    /// Unresolved (a dry run): the bytes stay as they are, and hold secrets when they name one.
    pub fn substitute(&self, bytes: &[u8]) -> (Vec<u8>, bool) {
        if self.is_unresolved() {
            let names_one = find_references(bytes)
                .iter()
                .any(|r| self.unresolved.contains(r));
            return (bytes.to_vec(), names_one);
        }
        if self.values.is_empty() {
            return (bytes.to_vec(), false);
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            return (bytes.to_vec(), false);
        };
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        for span in kiln_model::secret_ref::reference_spans(text) {
            let Some(value) = self.values.get(&text[span.clone()]) else {
                continue;
            };
            // Escaped as inside a JSON string (valid in TOML basic strings too), in place.
            let escaped = serde_json::to_string(value).unwrap_or_default();
            out.push_str(&text[copied..span.start]);
            out.push_str(&escaped[1..escaped.len() - 1]);
            copied = span.end;
        }
        let replaced = copied > 0;
        out.push_str(&text[copied..]);
        (out.into_bytes(), replaced)
    }

    /// Whether every one of `references` has a value here (a resolution made for one step of
    /// a run can serve the next only when it covers what the next needs).
    pub fn covers(&self, references: &BTreeSet<String>) -> bool {
        !self.is_unresolved() && references.iter().all(|r| self.values.contains_key(r))
    }

    /// The way back for a file promoted into the library: every resolved value in it (of at
    /// least [`SHORTEST_FINDABLE`] bytes, longest first) becomes its reference again. Returns
    /// the new bytes and the references put back, or — when a value sits in bytes that are
    /// not text and cannot be edited safely — the reference whose value would remain.
    pub fn re_reference(&self, bytes: &[u8]) -> Result<(Vec<u8>, BTreeSet<String>), String> {
        let mut findable: Vec<(&String, &String)> = self
            .values
            .iter()
            .filter(|(_, value)| value.len() >= SHORTEST_FINDABLE)
            .collect();
        findable.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
        let Ok(text) = std::str::from_utf8(bytes) else {
            return match findable
                .iter()
                .find(|(_, value)| contains(bytes, value.as_bytes()))
            {
                Some((reference, _)) => Err((*reference).clone()),
                None => Ok((bytes.to_vec(), BTreeSet::new())),
            };
        };
        let mut text = text.to_string();
        let mut put_back = BTreeSet::new();
        for (reference, value) in findable {
            if text.contains(value.as_str()) {
                text = text.replace(value.as_str(), reference);
                put_back.insert(reference.clone());
            }
        }
        Ok((text.into_bytes(), put_back))
    }

    /// `text` with every resolved value shown as `«op://…»` instead (for diffs of files that
    /// hold secrets: the edit shows, the value does not).
    pub fn mask(&self, text: &str) -> String {
        let mut values: Vec<(&String, &String)> =
            self.values.iter().filter(|(_, v)| !v.is_empty()).collect();
        values.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
        let mut out = text.to_string();
        for (reference, value) in values {
            out = out.replace(value.as_str(), &format!("«{reference}»"));
        }
        out
    }

    /// The keyed hash recorded for a file that holds secrets (a plain hash of a low-entropy
    /// secret could be brute-forced from the record).
    pub fn keyed_hash(&self, bytes: &[u8]) -> RecordedHash {
        keyed_hash(&self.key, bytes)
    }

    /// The machine key the keyed hashes use.
    pub fn key(&self) -> &[u8; 32] {
        &self.key
    }
}

/// Resolved values shorter than this are not looked for in promoted files: too short to be
/// told from the prose around them.
pub const SHORTEST_FINDABLE: usize = 8;

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn read_one(op: &OpCommand, reference: &str) -> Result<String, DeployError> {
    let stdout = run_op(
        op,
        &["read", "--no-newline", reference],
        None,
        &format!("resolve `{reference}`"),
    )
    .map_err(OpError::into_deploy)?;
    String::from_utf8(stdout)
        .map_err(|_| DeployError::Secret(format!("the value of `{reference}` is not UTF-8 text")))
}

/// Every reference through one `op inject` (one process, one sign-in check, instead of one
/// `op read` each): a template of `{{ REF }}` between numbered markers on stdin, the values
/// read back between the same markers. `None` when the command cannot do that (an older or
/// stand-in `op`, a value that holds a marker): the caller asks for each reference alone,
/// which also gives each failure its own message.
fn inject_all(
    op: &OpCommand,
    references: &BTreeSet<String>,
) -> Result<Option<BTreeMap<String, String>>, DeployError> {
    // Markers no value is expected to hold; a value that does breaks the strict parse below,
    // and each reference is then asked alone.
    let open = |index: usize| format!("<kiln-secret-{index}>");
    let close = |index: usize| format!("</kiln-secret-{index}>");
    let mut template = String::new();
    for (index, reference) in references.iter().enumerate() {
        template.push_str(&format!(
            "{}{{{{ {reference} }}}}{}\n",
            open(index),
            close(index)
        ));
    }
    let stdout = match run_op(
        op,
        &["inject"],
        Some(template.into_bytes()),
        "resolve the references",
    ) {
        Ok(stdout) => stdout,
        // It ran and said no (no `inject`, or one reference it cannot resolve): each alone.
        Err(OpError::Exited(_)) => return Ok(None),
        // It cannot run, or hangs (a sign-in it waits for): asking again would only repeat it.
        Err(OpError::Failed(error)) => return Err(error),
    };
    let parsed = String::from_utf8(stdout).ok().and_then(|text| {
        let mut values = BTreeMap::new();
        let mut rest = text.as_str();
        for (index, reference) in references.iter().enumerate() {
            let after = rest.strip_prefix(&open(index))?;
            let end = after.find(&close(index))?;
            values.insert(reference.clone(), after[..end].to_string());
            rest = after[end + close(index).len()..].strip_prefix('\n')?;
        }
        rest.is_empty().then_some(values)
    });
    Ok(parsed)
}

/// How running the 1Password CLI went wrong.
enum OpError {
    /// It ran and exited unsuccessfully.
    Exited(DeployError),
    /// It could not be run, failed to be waited for, or timed out.
    Failed(DeployError),
}

impl OpError {
    fn into_deploy(self) -> DeployError {
        match self {
            OpError::Exited(error) | OpError::Failed(error) => error,
        }
    }
}

/// Runs the 1Password CLI with `args` (and `input` on stdin), with the timeout, in its own
/// process group; its stdout on success. `doing` completes "timed out … to …" messages.
fn run_op(
    op: &OpCommand,
    args: &[&str],
    input: Option<Vec<u8>>,
    doing: &str,
) -> Result<Vec<u8>, OpError> {
    let command = op.program.as_str();
    let verb = args.first().copied().unwrap_or("");
    let mut process = Command::new(command);
    process
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Its own process group, so a timeout kills what it started too.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut process, 0);
    let mut child = process.spawn().map_err(|e| {
        OpError::Failed(DeployError::Secret(format!(
            "cannot run `{command}` to {doing}: {e}; install the 1Password CLI or set `secrets.op_command` (an absolute path works with an empty PATH)"
        )))
    })?;
    // Fed and drained while it runs: a template or reply larger than a pipe's buffer must not
    // block it until the timeout.
    if let (Some(mut stdin), Some(input)) = (child.stdin.take(), input) {
        std::thread::spawn(move || {
            let _ = std::io::Write::write_all(&mut stdin, &input);
        });
    }
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let started = Instant::now();
    // Polled from 1 ms up to 25 ms: a quick `op` costs a few milliseconds, not a whole tick.
    let mut pause = Duration::from_millis(1);
    let status = loop {
        if let Some(status) = child
            .try_wait()
            .map_err(|e| OpError::Failed(DeployError::Secret(format!("`{command}` failed: {e}"))))?
        {
            break status;
        }
        if started.elapsed() > op.timeout {
            kill_group(&mut child);
            return Err(OpError::Failed(DeployError::Secret(format!(
                "`{command} {verb}` timed out after {}s trying to {doing} (it and what it started were stopped); is it waiting for a sign-in?",
                op.timeout.as_secs()
            ))));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(25));
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    if !status.success() {
        // stderr may echo the reference but never a resolved value; keep only its first line.
        let stderr = String::from_utf8_lossy(&stderr);
        let first = stderr
            .lines()
            .next()
            .unwrap_or("no message")
            .trim()
            .to_string();
        return Err(OpError::Exited(DeployError::Secret(format!(
            "`{command} {verb}` could not {doing} ({status}): {first}"
        ))));
    }
    Ok(stdout)
}

/// Stops a timed-out `op` and every process it started (its process group on Unix).
fn kill_group(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        // No unsafe code in kiln: the group is signalled through kill(1).
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The machine key if it exists (never created: for read-only checks).
pub fn existing_machine_key(state: &Path) -> Option<[u8; 32]> {
    std::fs::read(state.join("secret.key"))
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok())
}

/// `bytes` hashed the way `recorded` was (keyed with `key` for files that held secrets), to
/// compare with it.
pub fn hash_like(recorded: &RecordedHash, bytes: &[u8], key: Option<&[u8; 32]>) -> RecordedHash {
    match key {
        Some(key) if recorded.is_keyed() => keyed_hash(key, bytes),
        _ => RecordedHash::Plain(kiln_store::hash::content_hash(bytes)),
    }
}

/// blake3 keyed with the machine key.
pub fn keyed_hash(key: &[u8; 32], bytes: &[u8]) -> RecordedHash {
    RecordedHash::Keyed(blake3::keyed_hash(key, bytes).to_hex().to_string())
}

/// The machine key for keyed hashes: `<state>/secret.key`, 32 random bytes, 0600, created on
/// first use.
pub fn machine_key(state: &Path) -> Result<[u8; 32], DeployError> {
    let path = state.join("secret.key");
    if let Ok(bytes) = std::fs::read(&path)
        && let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice())
    {
        return Ok(key);
    }
    let mut key = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .map_err(|e| {
            DeployError::Io(format!("cannot read random bytes for the secret key: {e}"))
        })?;
    kiln_store::fs::atomic_write(&path, &key, 0o600).map_err(|e| DeployError::Io(e.to_string()))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn each_ask_is_announced_before_op_is_asked_and_empty_values_are_named() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tmp");
        let op = dir.path().join("op");
        // Prints nothing for the `empty` field.
        std::fs::write(
            &op,
            "#!/bin/sh\ncase \"$3\" in *empty) ;; *) printf v ;; esac\n",
        )
        .expect("op");
        std::fs::set_permissions(&op, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let command = OpCommand {
            program: op.display().to_string(),
            timeout: Duration::from_secs(10),
        };
        let references: BTreeSet<String> =
            ["op://v/i/empty", "op://v/i/full"].map(String::from).into();
        let announced = std::cell::RefCell::new(Vec::new());
        let secrets = Secrets::resolve_with(&references, &command, [1; 32], &|r| {
            announced.borrow_mut().push(r.to_string());
        })
        .expect("resolved");
        // The batch is announced first; this op answers `inject` with something that is not
        // the template, so each reference is then asked (and announced) alone.
        assert_eq!(
            announced.into_inner(),
            ["2 secret references", "op://v/i/empty", "op://v/i/full"]
        );
        assert_eq!(secrets.empty_values(), ["op://v/i/empty"]);
        assert!(!secrets.is_unresolved());
    }

    #[cfg(unix)]
    #[test]
    fn one_inject_answers_every_reference_even_values_of_several_lines() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tmp");
        let op = dir.path().join("op");
        let log = dir.path().join("log");
        std::fs::write(
            &op,
            format!(
                "#!/bin/sh\necho \"$1\" >> {}\n[ \"$1\" = inject ] || exit 64\nsed -e 's#{{{{ op://v/i/multi }}}}#first\\nsecond#' -e 's#{{{{ op://v/i/plain }}}}#x#'\n",
                log.display()
            ),
        )
        .expect("op");
        std::fs::set_permissions(&op, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let command = OpCommand {
            program: op.display().to_string(),
            timeout: Duration::from_secs(10),
        };
        let references: BTreeSet<String> = ["op://v/i/multi", "op://v/i/plain"]
            .map(String::from)
            .into();
        let secrets = Secrets::resolve_with(&references, &command, [1; 32], &|_| {}).expect("ok");
        assert_eq!(secrets.values["op://v/i/multi"], "first\nsecond");
        assert_eq!(secrets.values["op://v/i/plain"], "x");
        assert_eq!(std::fs::read_to_string(&log).expect("log"), "inject\n");
    }

    #[cfg(unix)]
    #[test]
    fn a_hung_inject_is_an_error_and_not_retried_reference_by_reference() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tmp");
        let op = dir.path().join("op");
        let log = dir.path().join("log");
        // Waits for a sign-in that never comes, whatever it is asked.
        std::fs::write(
            &op,
            format!("#!/bin/sh\necho \"$1\" >> {}\nsleep 30\n", log.display()),
        )
        .expect("op");
        std::fs::set_permissions(&op, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let command = OpCommand {
            program: op.display().to_string(),
            timeout: Duration::from_secs(1),
        };
        let references: BTreeSet<String> = ["op://v/i/a", "op://v/i/b"].map(String::from).into();
        let Err(error) = Secrets::resolve_with(&references, &command, [1; 32], &|_| {}) else {
            panic!("resolved although op hangs");
        };
        assert!(
            error.to_string().contains("inject` timed out after 1s"),
            "{error}"
        );
        assert_eq!(std::fs::read_to_string(&log).expect("log"), "inject\n");
    }

    fn resolved(pairs: &[(&str, &str)]) -> Secrets {
        Secrets {
            values: pairs
                .iter()
                .map(|(r, v)| ((*r).to_string(), (*v).to_string()))
                .collect(),
            ..Secrets::default()
        }
    }

    #[test]
    fn a_pasted_value_goes_back_to_its_reference_and_a_binary_one_is_refused() {
        let secrets = resolved(&[
            ("op://v/github/token", "ghp_abcdefgh12345"),
            ("op://v/github/prefix", "ghp_abcdefgh"),
            ("op://v/short/pin", "1234"),
        ]);
        let (bytes, put_back) = secrets
            .re_reference(b"Use ghp_abcdefgh12345 here; pin 1234.\n")
            .expect("text");
        // The longer value wins over the one it contains; a short value is not looked for.
        assert_eq!(
            String::from_utf8(bytes).expect("utf8"),
            "Use op://v/github/token here; pin 1234.\n"
        );
        assert_eq!(
            put_back.into_iter().collect::<Vec<_>>(),
            ["op://v/github/token"]
        );
        let mut binary = vec![0xff, 0xfe, 0];
        binary.extend_from_slice(b"ghp_abcdefgh");
        assert_eq!(
            secrets.re_reference(&binary).expect_err("binary"),
            "op://v/github/prefix"
        );
        let clean = [0xff, 0xfe, 0, 1];
        assert_eq!(secrets.re_reference(&clean).expect("clean").0, clean);
        assert_eq!(
            secrets.mask("token = \"ghp_abcdefgh12345\""),
            "token = \"«op://v/github/token»\""
        );
        assert!(secrets.covers(&["op://v/short/pin".to_string()].into()));
        assert!(!secrets.covers(&["op://v/other/x".to_string()].into()));
    }

    #[test]
    fn references_are_found_and_substituted_as_escaped_strings() {
        let bytes = br#"{"env": {"A": "op://Private/Item/field", "B": "x"}, "c": "op://v/i/s/f"}"#;
        let found = find_references(bytes);
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            ["op://Private/Item/field", "op://v/i/s/f"]
        );
        let secrets = Secrets {
            values: BTreeMap::from([(
                "op://Private/Item/field".to_string(),
                "s3cr\"et\n".to_string(),
            )]),
            key: [7; 32],
            unresolved: BTreeSet::new(),
            empty: Vec::new(),
        };
        let (out, replaced) = secrets.substitute(bytes);
        assert!(replaced);
        let value: serde_json::Value = serde_json::from_slice(&out).expect("still JSON");
        assert_eq!(value["env"]["A"], "s3cr\"et\n");
        assert_eq!(value["c"], "op://v/i/s/f");
        assert!(!format!("{secrets:?}").contains("s3cr"));
    }
}
