//! Crash consistency (reliability.md §9.1): a failpoint before and after every mutating step of
//! a deploy aborts the process there, as a power cut would. After each crash every target is
//! fully old or fully new (never torn), shared files still parse, and a re-run converges to
//! exactly what an uninterrupted deploy gives, with `kiln check` clean.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::{TempLibrary, entries};

/// Every file under `dir` except kiln's temporary files, by relative path.
fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    entries(dir)
        .into_iter()
        .filter(|path| path.is_file())
        .filter(|path| {
            // An abandoned temp file is not a target.
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            !(name.starts_with(".kiln-") && name.ends_with(".tmp"))
        })
        .map(|path| {
            let relative = path
                .strip_prefix(dir)
                .expect("under")
                .to_string_lossy()
                .into_owned();
            let bytes = std::fs::read(&path).expect("read");
            (relative, bytes)
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    for (relative, bytes) in contents(from) {
        let target = to.join(relative);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::write(target, bytes).expect("write");
    }
}

struct Sweep<'a> {
    library: &'a TempLibrary,
    args: &'a [&'a str],
}

impl Sweep<'_> {
    fn run(&self, home: &Path, state: &Path, failpoint: Option<u64>) -> std::process::Output {
        let mut command = self.library.kiln();
        command
            .env("HOME", home)
            .env("XDG_STATE_HOME", state)
            .arg("--no-inherit")
            .args(self.args);
        if let Some(n) = failpoint {
            command.env("KILN_FAILPOINT", n.to_string());
        }
        command.output().expect("run kiln")
    }

    /// Deploys version A, switches the library to version B (`change`), and crashes a deploy of
    /// B at every `step`-th failpoint. Returns the number of crash points exercised.
    fn sweep(&self, change: &dyn Fn(), step: u64, shared: &[&str]) -> u64 {
        // Records are keyed by the root's path, so every trial runs at the same paths, reset
        // from a pristine copy of the deployed-A state.
        let work = tempfile::tempdir().expect("work");
        let (home, state) = (work.path().join("home"), work.path().join("state"));
        let (pristine_home, pristine_state) = (
            work.path().join("pristine-home"),
            work.path().join("pristine-state"),
        );
        std::fs::create_dir_all(&home).expect("mkdir");
        std::fs::create_dir_all(&state).expect("mkdir");
        seed_user_files(&home);
        let first = self.run(&home, &state, None);
        assert_eq!(
            first.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&first.stderr)
        );
        let old = contents(&home);
        copy_dir(&home, &pristine_home);
        copy_dir(&state, &pristine_state);
        let reset = || {
            std::fs::remove_dir_all(&home).expect("clear home");
            std::fs::remove_dir_all(&state).expect("clear state");
            std::fs::create_dir_all(&home).expect("mkdir");
            std::fs::create_dir_all(&state).expect("mkdir");
            copy_dir(&pristine_home, &home);
            copy_dir(&pristine_state, &state);
        };
        change();
        // The reference: an uninterrupted deploy of B (it also builds B once).
        let reference = self.run(&home, &state, None);
        assert_eq!(
            reference.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&reference.stderr)
        );
        let new = contents(&home);
        assert_ne!(old, new, "the change must change deployed files");

        let mut exercised = 0;
        let mut n = 1;
        loop {
            reset();
            let crashed = self.run(&home, &state, Some(n));
            if crashed.status.code() == Some(0) {
                break; // n is past the last failpoint
            }
            assert_eq!(
                crashed.status.code(),
                None,
                "failpoint {n} did not abort: {}",
                String::from_utf8_lossy(&crashed.stderr)
            );
            exercised += 1;
            // Fully old or fully new, file by file; shared files parse.
            let now = contents(&home);
            for (path, bytes) in &now {
                let ok = old.get(path) == Some(bytes) || new.get(path) == Some(bytes);
                assert!(
                    ok,
                    "failpoint {n}: `{path}` is neither the old nor the new version"
                );
            }
            for path in shared {
                if let Some(bytes) = now.get(*path) {
                    let text = String::from_utf8_lossy(bytes);
                    let parses = if path.ends_with(".toml") {
                        toml::from_str::<toml::Table>(&text).is_ok()
                    } else {
                        serde_json::from_str::<serde_json::Value>(&text).is_ok()
                    };
                    assert!(parses, "failpoint {n}: `{path}` does not parse");
                }
            }
            // A re-run converges to the uninterrupted result.
            let rerun = self.run(&home, &state, None);
            assert_eq!(
                rerun.status.code(),
                Some(0),
                "failpoint {n}: re-run failed: {}",
                String::from_utf8_lossy(&rerun.stderr)
            );
            assert_eq!(
                leftover_temps(work.path()),
                Vec::<String>::new(),
                "failpoint {n}: the re-run left temporary files"
            );
            assert_eq!(
                contents(&home),
                new,
                "failpoint {n}: the re-run did not converge"
            );
            if exercised % 10 == 1 {
                let check = self
                    .library
                    .kiln()
                    .env("HOME", &home)
                    .env("XDG_STATE_HOME", &state)
                    .arg("check")
                    .output()
                    .expect("run");
                assert_eq!(
                    check.status.code(),
                    Some(0),
                    "failpoint {n}: check after re-run: {}",
                    String::from_utf8_lossy(&check.stderr)
                );
            }
            n += step;
        }
        exercised
    }
}

/// A user's own shared files, which merges must keep.
fn seed_user_files(home: &Path) {
    std::fs::write(
        home.join(".claude.json"),
        "{\n  \"numStartups\": 3,\n  \"mcpServers\": { \"mine\": { \"command\": \"x\" } }\n}\n",
    )
    .expect("write");
    std::fs::create_dir_all(home.join(".codex")).expect("mkdir");
    std::fs::write(
        home.join(".codex/config.toml"),
        "# my settings\nmodel = \"o3\"  # keep\n\n[mcp_servers.mine]\ncommand = \"x\"\n",
    )
    .expect("write");
}

fn library_with_rules(count: usize) -> TempLibrary {
    let library = TempLibrary::new();
    for i in 0..count {
        library.file(
            &format!("components/rules/r{i:03}.rule.md"),
            &format!("# Rule {i}\n\nversion A of rule {i}\n"),
        );
    }
    library.file(
        "profiles/p.profile.json",
        r#"{ "name": "p", "rules": { "include": ["**"] }, "mcp": { "include": ["**"] }, "tools": { "claude-code": { "scope": "global" }, "codex": { "scope": "global" } } }"#,
    );
    library
}

fn rewrite_rules(library: &TempLibrary, count: usize) {
    for i in 0..count {
        library.file(
            &format!("components/rules/r{i:03}.rule.md"),
            &format!("# Rule {i}\n\nversion B of rule {i}, longer than before\n"),
        );
    }
}

#[test]
fn crash_at_every_failpoint_leaves_old_or_new_and_converges() {
    let mut total = 0;

    // One file.
    let one = library_with_rules(1);
    let sweep = Sweep {
        library: &one,
        args: &["deploy", "p", "claude-code"],
    };
    total += sweep.sweep(&|| rewrite_rules(&one, 1), 1, &[".claude.json"]);

    // Shared JSON and TOML files, merged into the user's own.
    let shared = library_with_rules(0);
    shared.file(
        "components/mcp/memory.mcp.json",
        r#"{ "transport": "stdio", "command": "npx", "args": ["-y", "memory@1"] }"#,
    );
    let sweep = Sweep {
        library: &shared,
        args: &["deploy", "p", "--all-tools"],
    };
    total += sweep.sweep(
        &|| {
            shared.file(
                "components/mcp/memory.mcp.json",
                r#"{ "transport": "stdio", "command": "npx", "args": ["-y", "memory@2"] }"#,
            );
        },
        1,
        &[".claude.json", ".codex/config.toml"],
    );

    // Two hundred files: every fourth failpoint (the default suite's budget).
    let many = library_with_rules(200);
    let step = std::env::var("KILN_CRASH_STEP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let sweep = Sweep {
        library: &many,
        args: &["deploy", "p", "claude-code"],
    };
    total += sweep.sweep(&|| rewrite_rules(&many, 200), step, &[]);

    println!("crash points exercised: {total}");
    assert!(total >= 300, "only {total} crash points");
}

/// Random SIGKILLs during deploys (reliability.md §9.1): whatever the moment, no target is torn
/// and shared files parse. `KILN_SIGKILL_RUNS` raises the count (default 200).
#[cfg(unix)]
#[test]
fn random_sigkills_never_tear_a_file() {
    let library = library_with_rules(40);
    library.file(
        "components/mcp/memory.mcp.json",
        r#"{ "transport": "stdio", "command": "npx", "args": ["-y", "memory@1"] }"#,
    );
    let work = tempfile::tempdir().expect("work");
    let (home, state) = (work.path().join("home"), work.path().join("state"));
    std::fs::create_dir_all(&home).expect("mkdir");
    std::fs::create_dir_all(&state).expect("mkdir");
    seed_user_files(&home);
    let sweep = Sweep {
        library: &library,
        args: &["deploy", "p", "--all-tools"],
    };
    // Two versions whose files differ; each run deploys the other one.
    let versions: Vec<Box<dyn Fn()>> = vec![
        Box::new(|| rewrite_rules(&library, 40)),
        Box::new(|| {
            for i in 0..40 {
                library.file(
                    &format!("components/rules/r{i:03}.rule.md"),
                    &format!("# Rule {i}\n\nversion A of rule {i}\n"),
                );
            }
        }),
    ];
    let mut expected: Vec<BTreeMap<String, Vec<u8>>> = Vec::new();
    let mut duration = std::time::Duration::ZERO;
    for version in &versions {
        version();
        let started = std::time::Instant::now();
        let output = sweep.run(&home, &state, None);
        duration = duration.max(started.elapsed());
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        expected.push(contents(&home));
    }
    // How long a deploy takes when its build is done already, as in the runs below (the
    // first deploys above also built, which would put most kills after the end).
    let build = || {
        let output = library
            .kiln()
            .env("HOME", &home)
            .args(["--no-inherit", "build", "p", "--all-tools"])
            .output()
            .expect("build");
        assert!(output.status.success());
    };
    duration = std::time::Duration::MAX;
    for version in &versions {
        version();
        build();
        let started = std::time::Instant::now();
        assert_eq!(sweep.run(&home, &state, None).status.code(), Some(0));
        duration = duration.min(started.elapsed());
    }
    let runs: u64 = std::env::var("KILN_SIGKILL_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let mut state_rng: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut killed = 0;
    for run in 0..runs {
        versions[usize::try_from(run % 2).expect("small")]();
        // Build first so the kill lands in the deploy, not the build.
        build();
        state_rng ^= state_rng << 13;
        state_rng ^= state_rng >> 7;
        state_rng ^= state_rng << 17;
        // Anywhere from process start to a little past a whole deploy.
        let span = u64::try_from(duration.as_micros()).unwrap_or(50_000).max(1) * 5 / 4;
        let delay = std::time::Duration::from_micros(state_rng % span);
        let mut child = library
            .sandbox()
            .process(library.path())
            .env("HOME", &home)
            .env("XDG_STATE_HOME", &state)
            .args(["--no-inherit", "deploy", "p", "--all-tools"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(delay);
        if child.try_wait().expect("wait").is_none() {
            child.kill().expect("SIGKILL");
            killed += 1;
        }
        child.wait().expect("reap");
        for (path, bytes) in contents(&home) {
            let known = expected.iter().any(|e| e.get(&path) == Some(&bytes));
            let parses = !(path.ends_with(".json") || path.ends_with(".toml"))
                || if path.ends_with(".toml") {
                    toml::from_str::<toml::Table>(&String::from_utf8_lossy(&bytes)).is_ok()
                } else {
                    serde_json::from_slice::<serde_json::Value>(&bytes).is_ok()
                };
            assert!(
                known && parses,
                "run {run}: `{path}` is torn or unknown after a SIGKILL"
            );
        }
    }
    // Converges afterwards.
    let output = sweep.run(&home, &state, None);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Converged means synced, not just exit 0: no file of kiln's left as drift.
    let check = library
        .kiln()
        .env("HOME", &home)
        .env("XDG_STATE_HOME", &state)
        .args(["--no-inherit", "check"])
        .output()
        .expect("check");
    assert_eq!(
        check.status.code(),
        Some(0),
        "not synced after the kills: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    println!(
        "random SIGKILLs: {killed} of {runs} runs killed mid-deploy (deploy takes about {duration:?})"
    );
    assert!(
        killed >= runs / 3,
        "too few runs were killed mid-deploy ({killed} of {runs}) to mean anything"
    );
}

/// Every kiln temporary file under `dir`.
fn leftover_temps(dir: &Path) -> Vec<String> {
    entries(dir)
        .into_iter()
        .filter(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with(".kiln-")
        })
        .map(|path| path.display().to_string())
        .collect()
}

/// A first deploy killed at any failpoint, then the library changes (half the rules deleted,
/// the rest rewritten): the next deploy exits 0, check is synced, nothing the killed run wrote
/// is left as an orphan, and no temporary file is left in the home or the state.
#[test]
fn an_interrupted_first_deploy_then_a_changed_library_converges_without_orphans() {
    let (mut crashed, mut with_files, mut with_temps) = (0, 0, 0);
    let mut n = 1;
    loop {
        let library = library_with_rules(10);
        let sweep = Sweep {
            library: &library,
            args: &["deploy", "p", "claude-code"],
        };
        let work = tempfile::tempdir().expect("work");
        let (home, state) = (work.path().join("home"), work.path().join("state"));
        std::fs::create_dir_all(&home).expect("mkdir");
        std::fs::create_dir_all(&state).expect("mkdir");
        let killed = sweep.run(&home, &state, Some(n));
        if killed.status.code() == Some(0) {
            break; // past the last failpoint
        }
        crashed += 1;
        if !contents(&home).is_empty() {
            with_files += 1;
        }
        if !leftover_temps(work.path()).is_empty() {
            with_temps += 1;
        }
        for i in 0..5 {
            std::fs::remove_file(
                library
                    .path()
                    .join(format!("components/rules/r{i:03}.rule.md")),
            )
            .expect("delete rule");
        }
        rewrite_rules_from(&library, 5, 10);
        let rerun = sweep.run(&home, &state, None);
        assert_eq!(
            rerun.status.code(),
            Some(0),
            "failpoint {n}: {}",
            String::from_utf8_lossy(&rerun.stderr)
        );
        let names: Vec<String> = contents(&home).into_keys().collect();
        assert!(
            names
                .iter()
                .all(|name| !(0..5).any(|i| name.contains(&format!("r{i:03}")))),
            "failpoint {n}: the killed run's files were left as orphans: {names:?}"
        );
        assert_eq!(
            leftover_temps(work.path()),
            Vec::<String>::new(),
            "failpoint {n}: temporary files left"
        );
        let check = library
            .kiln()
            .env("HOME", &home)
            .env("XDG_STATE_HOME", &state)
            .args(["--no-inherit", "check"])
            .output()
            .expect("check");
        assert_eq!(
            check.status.code(),
            Some(0),
            "failpoint {n}: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        n += 1;
    }
    println!(
        "interrupted first deploys: {crashed} failpoints, {with_files} left files, {with_temps} left temporary files"
    );
    assert!(
        crashed >= 20 && with_files >= 5 && with_temps >= 1,
        "{crashed}/{with_files}/{with_temps}"
    );
}

fn rewrite_rules_from(library: &TempLibrary, from: usize, to: usize) {
    for i in from..to {
        library.file(
            &format!("components/rules/r{i:03}.rule.md"),
            &format!("# Rule {i}\n\nversion C of rule {i}\n"),
        );
    }
}

/// Two interrupted deploys in a row, of two different library versions, then a third version:
/// the files the first interrupted run wrote are still known as kiln's after the second one
/// was killed too (the journal keeps every attempt), so the third deploy converges.
#[test]
fn two_interrupted_deploys_in_a_row_still_converge() {
    let mut trials = 0;
    for first_kill in [20, 40] {
        for second_kill in 1..=14 {
            let library = library_with_rules(10);
            // Built apart, so every failpoint lands in the deploy itself.
            let sweep = Sweep {
                library: &library,
                args: &["deploy", "p", "claude-code", "--no-build"],
            };
            let build = || {
                let output = library
                    .kiln()
                    .args(["--no-inherit", "build", "p", "claude-code"])
                    .output()
                    .expect("build");
                assert!(output.status.success());
            };
            let work = tempfile::tempdir().expect("work");
            let (home, state) = (work.path().join("home"), work.path().join("state"));
            std::fs::create_dir_all(&home).expect("mkdir");
            std::fs::create_dir_all(&state).expect("mkdir");
            build();
            assert_eq!(sweep.run(&home, &state, None).status.code(), Some(0));
            rewrite_rules_from(&library, 0, 10);
            build();
            let killed = sweep.run(&home, &state, Some(first_kill));
            assert_eq!(
                killed.status.code(),
                None,
                "failpoint {first_kill} did not abort"
            );
            for i in 0..10 {
                library.file(
                    &format!("components/rules/r{i:03}.rule.md"),
                    &format!("# Rule {i}\n\nversion D of rule {i}\n"),
                );
            }
            build();
            let killed = sweep.run(&home, &state, Some(second_kill));
            if killed.status.code() == Some(0) {
                continue;
            }
            rewrite_rules(&library, 10);
            build();
            let last = sweep.run(&home, &state, None);
            assert_eq!(
                last.status.code(),
                Some(0),
                "kills at {first_kill} then {second_kill}: {}",
                String::from_utf8_lossy(&last.stderr)
            );
            let check = library
                .kiln()
                .env("HOME", &home)
                .env("XDG_STATE_HOME", &state)
                .args(["--no-inherit", "check"])
                .output()
                .expect("check");
            assert_eq!(
                check.status.code(),
                Some(0),
                "kills at {first_kill} then {second_kill}"
            );
            trials += 1;
        }
    }
    println!("two interrupted deploys in a row: {trials} pairs of kills converged");
    assert!(trials >= 20, "only {trials}");
}
