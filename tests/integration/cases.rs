//! Fixture cases, one folder each under `tests/cases/<area>/<case>/`: `case.toml` (arguments,
//! expected exit code, diagnostic codes that must appear), `in/` (the library) and, for
//! deploys, `home/` (what the user's home holds before). Each case runs on a copy, through the
//! harness, and its rendered output is snapshotted — for `build` cases with the dist tree,
//! for `deploy` cases with the home tree after the run.
//!
//! `validate` cases must also carry every expected code in `--format json`, each with a file.

use std::path::Path;

use serde_json::Value;

use crate::support::{TempLibrary, copy_tree, render, render_tree};

struct Case {
    args: Vec<String>,
    exit: i32,
    codes: Vec<String>,
}

fn read_case(path: &Path) -> Case {
    let text = std::fs::read_to_string(path).expect("read case.toml");
    let table: toml::Table = toml::from_str(&text).expect("case.toml is TOML");
    let list = |key: &str| -> Vec<String> {
        table
            .get(key)
            .and_then(toml::Value::as_array)
            .into_iter()
            .flatten()
            .map(|v| v.as_str().expect("strings").to_string())
            .collect()
    };
    Case {
        args: list("args"),
        exit: i32::try_from(table["exit"].as_integer().expect("exit is an integer"))
            .expect("small"),
        codes: list("codes"),
    }
}

#[test]
fn cases() {
    let mut ran = 0;
    insta::glob!("../cases", "*/*/case.toml", |path| {
        run_case(path);
        ran += 1;
    });
    // The glob found the cases (an empty glob passes silently otherwise).
    assert!(ran >= 30, "only {ran} cases ran");
}

fn run_case(path: &Path) {
    let case = read_case(path);
    let dir = path.parent().expect("case dir");
    let area = dir
        .parent()
        .and_then(Path::file_name)
        .and_then(|name| name.to_str())
        .expect("area folder");
    let library = TempLibrary::new();
    copy_tree(&dir.join("in"), library.path());
    let sandbox = library.sandbox();
    std::fs::create_dir_all(sandbox.home()).expect("home");
    if dir.join("home").is_dir() {
        copy_tree(&dir.join("home"), &sandbox.home());
    }
    let mut args = vec!["--no-inherit".to_string()];
    args.extend(case.args.iter().cloned());
    let output = library.kiln().args(&args).output().expect("run kiln");
    let rendered = render(&output, library.path());
    assert_eq!(
        output.status.code(),
        Some(case.exit),
        "{}: wrong exit code\n{rendered}",
        dir.display(),
    );
    if area == "validate" {
        check_validate_json(dir, &library, &args, &case.codes);
    } else {
        for code in &case.codes {
            assert!(
                rendered.contains(code.as_str()),
                "{}: expected `{code}` in the output\n{rendered}",
                dir.display()
            );
        }
    }
    let snapshot = match area {
        "build" => format!(
            "{rendered}--- dist\n{}",
            render_tree(&library.path().join("dist"))
        ),
        "deploy" => format!("{rendered}--- home\n{}", render_tree(&sandbox.home())),
        "import" => format!(
            "{rendered}--- components\n{}--- profiles\n{}",
            render_tree(&library.path().join("components")),
            render_tree(&library.path().join("profiles"))
        ),
        _ => rendered,
    };
    insta::assert_snapshot!(snapshot);
}

fn check_validate_json(dir: &Path, library: &TempLibrary, args: &[String], codes: &[String]) {
    let json = library
        .kiln()
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("run kiln");
    let report: Value =
        serde_json::from_slice(&json.stdout).expect("validate --format json prints JSON");
    let diagnostics = report["diagnostics"].as_array().expect("diagnostics");
    let found: Vec<&str> = diagnostics
        .iter()
        .filter_map(|d| d["code"].as_str())
        .collect();
    for code in codes {
        assert!(
            found.contains(&code.as_str()),
            "{}: expected `{code}`, found {found:?}",
            dir.display()
        );
    }
    for diagnostic in diagnostics {
        assert!(
            diagnostic["file"].is_string(),
            "{}: diagnostic without a file: {diagnostic}",
            dir.display()
        );
    }
}
