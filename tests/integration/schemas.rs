//! The committed `schemas/` must be exactly what the Rust types generate, and every `$schema`
//! path in the starter library must point at one of them.

use crate::support::repo_root;

#[test]
fn committed_schemas_match_the_types() {
    let dir = repo_root().join("schemas");
    let update = std::env::var_os("KILN_UPDATE_SCHEMAS").is_some();
    let mut stale = Vec::new();
    for (name, generated) in kiln_model::schema::all() {
        let path = dir.join(name);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != generated {
            if update {
                std::fs::write(&path, &generated).expect("write schema");
            } else {
                stale.push(name);
            }
        }
    }
    assert!(
        stale.is_empty(),
        "schemas/ is stale for {stale:?}; regenerate with `KILN_UPDATE_SCHEMAS=1 cargo test --workspace schemas` and commit"
    );
    let expected: Vec<&str> = kiln_model::schema::all()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let mut present: Vec<String> = std::fs::read_dir(&dir)
        .expect("schemas/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    present.sort();
    let mut expected_sorted: Vec<String> = expected.iter().map(|s| (*s).to_string()).collect();
    expected_sorted.sort();
    assert_eq!(
        present, expected_sorted,
        "schemas/ holds files no type generates"
    );
}

#[test]
fn starter_library_schema_references_resolve() {
    let root = repo_root();
    let mut checked = 0;
    for folder in ["components", "profiles"] {
        for entry in walk(&root.join(folder)) {
            if entry.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let text = std::fs::read_to_string(&entry).expect("read");
            let value: serde_json::Value =
                serde_json::from_str(&text).expect("starter JSON parses");
            if let Some(reference) = value.get("$schema").and_then(|v| v.as_str()) {
                let target = entry.parent().expect("parent").join(reference);
                assert!(
                    target.is_file(),
                    "{}: `$schema` {reference} does not exist",
                    entry.display()
                );
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 10,
        "expected the starter library to use `$schema`, saw {checked}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
