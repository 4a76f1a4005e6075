//! Trusting a live file unchanged from its `lstat` alone, so a no-op deploy costs a stat per
//! file instead of reading and hashing it.
//!
//! kiln records a file's identity and times ([`LiveStat`]) only once its last change is old
//! enough that any later write must carry a later change time: file systems stamp times from a
//! coarse clock (a tick of up to 10 ms; whole seconds on some), so a stat taken in the same
//! tick as the write could not tell a second write in that tick apart (git's "racy clean").
//! A file recorded too soon is read the next time, and recorded then.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kiln_model::LiveStat;

/// How old a change must be, on a file system with sub-second times: well over a clock tick.
const SETTLED_FINE: Duration = Duration::from_millis(50);
/// The same where times fall on whole seconds (they may have one- or two-second steps).
const SETTLED_COARSE: Duration = Duration::from_secs(3);

/// Now, in nanoseconds since the epoch; taken before the files are looked at, so that every
/// stat is at least this late.
pub(crate) fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The identity and times of a regular file (`None` elsewhere than Unix).
pub(crate) fn live_stat(metadata: &std::fs::Metadata) -> Option<LiveStat> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        metadata.is_file().then(|| LiveStat {
            device: metadata.dev(),
            inode: metadata.ino(),
            size: metadata.size(),
            modified_ns: metadata.mtime() * 1_000_000_000 + metadata.mtime_nsec(),
            changed_ns: metadata.ctime() * 1_000_000_000 + metadata.ctime_nsec(),
        })
    }
    #[cfg(not(unix))]
    {
        let _ = metadata;
        None
    }
}

/// `stat` when its last change is settled as of `now` (see the module doc), else `None`.
pub(crate) fn settled(stat: Option<LiveStat>, now: i64) -> Option<LiveStat> {
    let stat = stat?;
    let whole_seconds =
        stat.changed_ns % 1_000_000_000 == 0 && stat.modified_ns % 1_000_000_000 == 0;
    let margin = if whole_seconds {
        SETTLED_COARSE
    } else {
        SETTLED_FINE
    };
    let margin = i64::try_from(margin.as_nanos()).unwrap_or(i64::MAX);
    (stat.changed_ns < now.saturating_sub(margin)).then_some(stat)
}

/// The settled identity of the regular file at `path` (not following a link there), if any.
pub(crate) fn stat_settled(path: &Path, now: i64) -> Option<LiveStat> {
    settled(live_stat(&std::fs::symlink_metadata(path).ok()?), now)
}

/// Whether the file at `path` is still exactly as `seen` (a link, a folder or nothing there is
/// not).
pub(crate) fn unchanged(path: &Path, seen: &LiveStat) -> bool {
    std::fs::symlink_metadata(path)
        .ok()
        .and_then(|metadata| live_stat(&metadata))
        .is_some_and(|stat| stat == *seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(changed_ns: i64) -> LiveStat {
        LiveStat {
            device: 1,
            inode: 2,
            size: 3,
            modified_ns: changed_ns,
            changed_ns,
        }
    }

    #[test]
    fn a_change_in_the_last_tick_is_not_trusted() {
        let now = 1_700_000_000_123_456_789;
        assert_eq!(settled(Some(stat(now - 1_000_000)), now), None);
        assert_eq!(settled(Some(stat(now - 40_000_000)), now), None);
        assert!(settled(Some(stat(now - 60_000_000)), now).is_some());
        // Whole-second times: the file system may step by seconds.
        let second = 1_700_000_000_000_000_000;
        assert_eq!(settled(Some(stat(second)), second + 2_000_000_000), None);
        assert!(settled(Some(stat(second)), second + 4_000_000_000).is_some());
    }

    #[cfg(unix)]
    #[test]
    fn a_rewrite_of_the_same_size_is_seen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.md");
        std::fs::write(&path, "one").expect("write");
        let seen = live_stat(&std::fs::symlink_metadata(&path).expect("stat")).expect("a file");
        assert!(unchanged(&path, &seen));
        // Renamed over (an editor's save): a new inode.
        std::fs::write(dir.path().join("b.md"), "two").expect("write");
        std::fs::rename(dir.path().join("b.md"), &path).expect("rename");
        assert!(!unchanged(&path, &seen));
        // A link in its place is not the file.
        std::fs::remove_file(&path).expect("rm");
        std::os::unix::fs::symlink("elsewhere", &path).expect("link");
        assert!(!unchanged(&path, &seen));
    }
}
