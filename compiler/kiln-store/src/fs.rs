//! The one write primitive, and file-system helpers whose errors name the path.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Crash testing: when set to N, the process aborts at the N-th failpoint it reaches (every
/// mutating step of a write calls [`failpoint`] before and after itself). Set only by the CLI
/// from `KILN_FAILPOINT`; 0 means off.
static FAILPOINT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static FAILPOINT_HITS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Arms the failpoint counter (see [`FAILPOINT`]).
pub fn arm_failpoint(n: u64) {
    FAILPOINT.store(n, std::sync::atomic::Ordering::SeqCst);
}

/// A point where a crash test may kill the process, as a power cut would: no cleanup runs.
pub fn failpoint(_name: &'static str) {
    let armed = FAILPOINT.load(std::sync::atomic::Ordering::Relaxed);
    if armed != 0 && FAILPOINT_HITS.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == armed {
        std::process::abort();
    }
}

/// An I/O error with what was being done to which path.
#[derive(Debug)]
pub struct FsError {
    /// What kiln was doing: `write`, `read`, `remove`, …
    pub action: &'static str,
    /// The path.
    pub path: PathBuf,
    /// The error.
    pub error: std::io::Error,
}

impl std::fmt::Display for FsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "failed to {} `{}`: {}",
            self.action,
            self.path.display(),
            self.error
        )
    }
}

impl std::error::Error for FsError {}

fn fail<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> FsError + 'a {
    move |error| FsError {
        action,
        path: path.to_path_buf(),
        error,
    }
}

/// Writes `bytes` to `path` atomically and durably: a temp file in the same directory
/// (created 0600), written, fsynced, given `mode`, renamed over `path`, and the directory
/// fsynced. Readers see the old file or the new one, never a torn one.
pub fn atomic_write(path: &Path, bytes: &[u8], mode: u32) -> Result<(), FsError> {
    write_file(path, bytes, mode, Durability::Durable)
}

/// Whether a write waits for the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// fsync the file and its directory: for live configuration, records and manifests.
    Durable,
    /// Atomic (temp file + rename) but not fsynced: for build output that a rebuild
    /// recreates, where thousands of fsyncs would dominate the build.
    Atomic,
}

/// [`atomic_write`] with a choice of [`Durability`].
pub fn write_file(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    durability: Durability,
) -> Result<(), FsError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    failpoint("mkdir");
    std::fs::create_dir_all(dir).map_err(fail("create directory", dir))?;
    let temp = prepared_temp(path, bytes, mode, durability)?;
    failpoint("rename");
    temp.persist(path).map_err(|e| FsError {
        action: "replace",
        path: path.to_path_buf(),
        error: e.error,
    })?;
    if durability == Durability::Durable {
        failpoint("dir-fsync");
        sync_dir(dir).map_err(fail("sync directory", dir))?;
    }
    failpoint("written");
    Ok(())
}

/// One file of [`write_files`].
pub struct FileWrite<'a> {
    /// Where it goes.
    pub path: &'a Path,
    /// Its whole content.
    pub bytes: &'a [u8],
    /// Its permission bits.
    pub mode: u32,
}

/// Writes many files atomically and durably with as few barriers as that allows. On Linux,
/// from [`BATCH_BARRIER_FILES`] files on: every temp file is written in parallel, one
/// `syncfs` per file system makes them all durable, they are renamed over their paths, and a
/// second `syncfs` makes the renames durable: two barriers, not two per file. Elsewhere (and
/// for a few files) each temp file is fsynced in parallel and each directory written into
/// once. Either way each file is replaced whole or not at all, as with [`atomic_write`]: a
/// rename never exposes bytes that are not on disk. After an error no temp file is left, and
/// the files already renamed are in place (the caller's journal knows them).
pub fn write_files(files: &[FileWrite<'_>]) -> Result<(), FsError> {
    use rayon::prelude::*;
    let whole_fs = cfg!(target_os = "linux") && files.len() >= BATCH_BARRIER_FILES;
    let durability = if whole_fs {
        Durability::Atomic
    } else {
        Durability::Durable
    };
    let temps = files
        .par_iter()
        .map(|file| {
            let dir = file.path.parent().unwrap_or(Path::new("."));
            failpoint("mkdir");
            std::fs::create_dir_all(dir).map_err(fail("create directory", dir))?;
            prepared_temp(file.path, file.bytes, file.mode, durability)
        })
        .collect::<Result<Vec<_>, FsError>>()?;
    let dirs: std::collections::BTreeSet<&Path> = files
        .iter()
        .map(|file| file.path.parent().unwrap_or(Path::new(".")))
        .collect();
    if whole_fs {
        failpoint("syncfs");
        sync_file_systems(&dirs)?;
    }
    for (file, temp) in files.iter().zip(temps) {
        failpoint("rename");
        temp.persist(file.path).map_err(|e| FsError {
            action: "replace",
            path: file.path.to_path_buf(),
            error: e.error,
        })?;
    }
    failpoint("dir-fsync");
    if whole_fs {
        sync_file_systems(&dirs)?;
    } else {
        dirs.into_par_iter()
            .try_for_each(|dir| sync_dir(dir).map_err(fail("sync directory", dir)))?;
    }
    failpoint("written");
    Ok(())
}

/// From how many files [`write_files`] flushes whole file systems rather than each file (a
/// `syncfs` also flushes other programs' pending writes, which only pays off for a batch).
pub const BATCH_BARRIER_FILES: usize = 64;

/// One `syncfs` for each file system holding one of `dirs`.
#[cfg(target_os = "linux")]
fn sync_file_systems(dirs: &std::collections::BTreeSet<&Path>) -> Result<(), FsError> {
    use std::os::unix::fs::MetadataExt;
    let mut devices = std::collections::BTreeSet::new();
    for dir in dirs {
        let metadata = std::fs::metadata(dir).map_err(fail("read", dir))?;
        if devices.insert(metadata.dev()) {
            let handle = std::fs::File::open(dir).map_err(fail("open", dir))?;
            rustix::fs::syncfs(&handle).map_err(|e| FsError {
                action: "sync the file system of",
                path: dir.to_path_buf(),
                error: e.into(),
            })?;
        }
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn sync_file_systems(dirs: &std::collections::BTreeSet<&Path>) -> Result<(), FsError> {
    for dir in dirs {
        sync_dir(dir).map_err(fail("sync directory", dir))?;
    }
    Ok(())
}

/// A temporary file next to `path` (created 0600) holding `bytes`, synced when durable, given
/// its final `mode`: everything of an atomic write but the rename.
/// Removes the temporary files a killed kiln left in `dir` (`.kiln-*.tmp` from atomic
/// writes, `.kiln-link-*` from symlink swaps); returns how many. Never follows a link.
pub fn remove_leftover_temps(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = (name.starts_with(".kiln-") && name.ends_with(".tmp"))
            || name.starts_with(".kiln-link-");
        if ours && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

fn prepared_temp(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    durability: Durability,
) -> Result<tempfile::NamedTempFile, FsError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    failpoint("temp-create");
    let mut temp = tempfile::Builder::new()
        .prefix(".kiln-")
        .suffix(".tmp")
        .permissions(permissions(0o600))
        .tempfile_in(dir)
        .map_err(fail("create a temporary file in", dir))?;
    failpoint("write");
    temp.write_all(bytes).map_err(fail("write", path))?;
    if durability == Durability::Durable {
        failpoint("fsync");
        temp.as_file().sync_all().map_err(fail("sync", path))?;
    }
    failpoint("chmod");
    std::fs::set_permissions(temp.path(), permissions(mode))
        .map_err(fail("set permissions of", path))?;
    Ok(temp)
}

#[cfg(unix)]
fn permissions(mode: u32) -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(mode)
}

#[cfg(not(unix))]
fn permissions(mode: u32) -> std::fs::Permissions {
    let mut permissions = std::fs::metadata(".")
        .map(|m| m.permissions())
        .unwrap_or_else(|_| unreachable!());
    permissions.set_readonly(mode & 0o200 == 0);
    permissions
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Compare-and-swap: like [`atomic_write`], but just before the rename the target is re-read,
/// and the write is abandoned (`Ok(false)`) when its hash is no longer `expected` — another
/// writer got there between planning and writing.
pub fn replace_if_unchanged(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    expected: &str,
) -> Result<bool, FsError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let temp = prepared_temp(path, bytes, mode, Durability::Durable)?;
    let current = read_optional(path)?
        .map(|b| crate::hash::content_hash(&b))
        .unwrap_or_default();
    if current != expected {
        return Ok(false); // the temp file is removed when dropped
    }
    failpoint("rename");
    temp.persist(path).map_err(|e| FsError {
        action: "replace",
        path: path.to_path_buf(),
        error: e.error,
    })?;
    failpoint("dir-fsync");
    sync_dir(dir).map_err(fail("sync directory", dir))?;
    failpoint("written");
    Ok(true)
}

/// What an exchanging write found at the path it wrote.
#[derive(Debug, PartialEq, Eq)]
pub enum Exchanged {
    /// The file it replaced, whose bytes are these (read after the swap, so nothing written
    /// before it can go unseen).
    Displaced(Vec<u8>),
    /// There was no file: it was created.
    Created,
    /// This system or file system cannot swap files atomically; nothing was written.
    Unsupported,
}

/// Writes `bytes` to `path` by atomically *swapping* a durable temp file with it
/// (`renameat2(RENAME_EXCHANGE)` on Linux, `RENAME_SWAP` on macOS) and returns what it
/// displaced. Unlike a compare-then-rename, no other writer's file can be replaced unseen: the
/// caller compares the displaced bytes with what it merged into and carries any difference
/// over (see `kiln_deploy`'s shared-file writes).
pub fn exchange(path: &Path, bytes: &[u8], mode: u32) -> Result<Exchanged, FsError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let temp = prepared_temp(path, bytes, mode, Durability::Durable)?;
    failpoint("exchange");
    match swap(temp.path(), path) {
        Ok(true) => {
            let displaced = std::fs::read(temp.path()).map_err(fail("read", path))?;
            drop(temp); // removes the displaced file
            failpoint("dir-fsync");
            sync_dir(dir).map_err(fail("sync directory", dir))?;
            failpoint("written");
            Ok(Exchanged::Displaced(displaced))
        }
        Ok(false) => Ok(Exchanged::Unsupported),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            // Nothing to swap with: create it, unless another writer does so first.
            match create_by_rename(temp.path(), path) {
                Ok(()) => {
                    drop(temp); // its path is gone: nothing to remove
                    sync_dir(dir).map_err(fail("sync directory", dir))?;
                    Ok(Exchanged::Created)
                }
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                    exchange(path, bytes, mode)
                }
                Err(error) => Err(FsError {
                    action: "create",
                    path: path.to_path_buf(),
                    error,
                }),
            }
        }
        Err(error) => Err(FsError {
            action: "replace",
            path: path.to_path_buf(),
            error,
        }),
    }
}

/// Swaps two paths atomically: `Ok(false)` where the system cannot.
#[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
fn swap(a: &Path, b: &Path) -> std::io::Result<bool> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    match renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(true),
        Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => Ok(false),
        Err(e) if e == rustix::io::Errno::NOTSUP || e == rustix::io::Errno::OPNOTSUPP => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
fn swap(_: &Path, _: &Path) -> std::io::Result<bool> {
    Ok(false)
}

/// Renames `from` to `to` unless `to` exists (`AlreadyExists` then).
#[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
fn create_by_rename(from: &Path, to: &Path) -> std::io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE).map_err(Into::into)
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
fn create_by_rename(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::hard_link(from, to)?;
    std::fs::remove_file(from)
}

/// Creates a file that does not exist yet, with `mode` (subject to the umask), in an
/// existing directory. Falls back to [`write_file`] when the file appeared meanwhile.
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), FsError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    match options.open(path) {
        Ok(mut file) => file.write_all(bytes).map_err(fail("write", path)),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            write_file(path, bytes, mode, Durability::Atomic)
        }
        Err(error) => Err(FsError {
            action: "create",
            path: path.to_path_buf(),
            error,
        }),
    }
}

/// Reads a file; `Ok(None)` when it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, FsError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(FsError {
            action: "read",
            path: path.to_path_buf(),
            error,
        }),
    }
}

/// Removes a file if it exists, then every directory above it up to `stop` that became
/// empty.
pub fn remove_file_and_empty_parents(path: &Path, stop: &Path) -> Result<(), FsError> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            return Err(FsError {
                action: "remove",
                path: path.to_path_buf(),
                error,
            });
        }
    }
    let mut dir = path.parent();
    while let Some(current) = dir {
        if current == stop || !current.starts_with(stop) {
            break;
        }
        if std::fs::remove_dir(current).is_err() {
            break; // not empty (or gone): stop climbing
        }
        dir = current.parent();
    }
    Ok(())
}

/// The Unix mode of a file's permission bits (0644 elsewhere).
pub fn mode_of(metadata: &std::fs::Metadata) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        metadata.permissions().mode() & 0o777
    }
    #[cfg(not(unix))]
    {
        let _ = metadata;
        0o644
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_files_writes_a_batch_and_a_few_alike() {
        for count in [3, BATCH_BARRIER_FILES + 36] {
            let dir = tempfile::tempdir().expect("tmp");
            let paths: Vec<PathBuf> = (0..count)
                .map(|i| dir.path().join(format!("d{}/f{i}.md", i % 7)))
                .collect();
            std::fs::create_dir_all(dir.path().join("d0")).expect("mkdir");
            std::fs::write(&paths[0], "old").expect("an existing file is replaced");
            let bodies: Vec<String> = (0..count).map(|i| format!("body {i}\n")).collect();
            let files: Vec<FileWrite<'_>> = paths
                .iter()
                .zip(&bodies)
                .enumerate()
                .map(|(i, (path, body))| FileWrite {
                    path,
                    bytes: body.as_bytes(),
                    mode: if i % 2 == 0 { 0o644 } else { 0o600 },
                })
                .collect();
            write_files(&files).expect("written");
            for (i, path) in paths.iter().enumerate() {
                assert_eq!(std::fs::read_to_string(path).expect("read"), bodies[i]);
                let mode = mode_of(&std::fs::metadata(path).expect("meta"));
                assert_eq!(
                    mode,
                    if i % 2 == 0 { 0o644 } else { 0o600 },
                    "{count} files"
                );
            }
            let left: usize = (0..7)
                .map(|d| remove_leftover_temps(&dir.path().join(format!("d{d}"))))
                .sum();
            assert_eq!(left, 0, "temporary files left with {count} files");
        }
    }

    #[test]
    fn exchange_hands_back_what_it_replaced_and_creates_a_missing_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("shared.json");
        assert_eq!(
            exchange(&path, b"one", 0o644).expect("create"),
            Exchanged::Created
        );
        assert_eq!(std::fs::read(&path).expect("read"), b"one");
        match exchange(&path, b"two", 0o600).expect("swap") {
            // A file system that cannot swap leaves the file alone.
            Exchanged::Unsupported => assert_eq!(std::fs::read(&path).expect("read"), b"one"),
            displaced => {
                assert_eq!(displaced, Exchanged::Displaced(b"one".to_vec()));
                assert_eq!(std::fs::read(&path).expect("read"), b"two");
                assert_eq!(mode_of(&std::fs::metadata(&path).expect("meta")), 0o600);
            }
        }
        // Only the file is left: the displaced one and the temp files are gone.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("shared.json")]);
    }

    #[test]
    fn atomic_write_creates_replaces_and_sets_the_mode() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("a/b/file.txt");
        atomic_write(&path, b"one", 0o644).expect("write");
        atomic_write(&path, b"two", 0o755).expect("replace");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        assert_eq!(
            mode_of(&std::fs::metadata(&path).expect("stat")) & 0o777,
            0o755
        );
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().expect("dir"))
            .expect("list")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(".kiln-"))
            .collect();
        assert!(leftovers.is_empty(), "temp files left behind");
    }

    #[test]
    fn removing_a_file_prunes_empty_parents_only_up_to_the_stop() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("x/y/z.txt");
        atomic_write(&path, b"z", 0o644).expect("write");
        atomic_write(&dir.path().join("x/keep.txt"), b"k", 0o644).expect("write");
        remove_file_and_empty_parents(&path, dir.path()).expect("remove");
        assert!(!dir.path().join("x/y").exists());
        assert!(dir.path().join("x/keep.txt").exists());
    }
}
