//! Import never panics, whatever bytes a home's files and file names hold: every file found is
//! an item with an outcome, and one that is not imported says why.

use proptest::prelude::*;

#[cfg(unix)]
fn name(bytes: &[u8]) -> std::path::PathBuf {
    use std::os::unix::ffi::OsStrExt;
    std::path::PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[cfg(unix)]
    #[test]
    fn import_plans_any_bytes_without_panicking(
        names in proptest::collection::vec(
            proptest::collection::vec(any::<u8>().prop_filter("no / or NUL", |b| *b != b'/' && *b != 0), 1..24),
            1..6,
        ),
        frontmatter in proptest::collection::vec(any::<u8>(), 0..200),
        body in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let home = tempfile::tempdir().expect("tmp");
        let library = tempfile::tempdir().expect("tmp");
        let mut content = b"---\n".to_vec();
        content.extend(&frontmatter);
        content.extend(b"\n---\n");
        content.extend(&body);
        let mut written = 0;
        for (n, raw) in names.iter().enumerate() {
            if raw == b"." || raw == b".." {
                continue;
            }
            let (folder, file) = match n % 4 {
                0 => (".claude/commands", name(raw).with_extension("md")),
                1 => (".claude/agents/cat", name(raw).with_extension("md")),
                2 => (".claude/rules", name(raw).with_extension("md")),
                _ => (".claude/skills", name(raw).join("SKILL.md")),
            };
            let path = home.path().join(folder).join(file);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            if std::fs::write(&path, &content).is_ok() {
                written += 1;
            }
        }
        std::fs::write(home.path().join(".claude.json"), &frontmatter).expect("write");
        std::fs::write(home.path().join(".claude/settings.json"), &body).expect("write");
        let components = library.path().join("components");
        let profiles = library.path().join("profiles");
        let request = kiln_import::ImportRequest {
            tool: "claude-code",
            source: home.path(),
            scope: kiln_import::ImportScope::Global,
            components: &components,
            profiles: &profiles,
            profile: "p",
        };
        let plan = kiln_import::plan(&request, false).expect("the home is a folder");
        prop_assert!(plan.items.len() >= written.min(1));
        for item in &plan.items {
            if item.outcome == kiln_import::Outcome::NotImported {
                prop_assert!(item.reason.as_deref().is_some_and(|r| !r.is_empty()));
            }
        }
        // Writing what was planned works too (names kiln cannot use were not planned).
        kiln_import::apply(&plan, &request).expect("applied");
    }
}
