//! One fixture library per diagnostic class, under `tests/cases/<area>/<case>/`:
//! `case.toml` (arguments, expected exit code, codes that must appear) and `in/` (the library).
//! The rendered output is snapshotted; the JSON output must carry every expected code.

use std::path::Path;

use serde_json::Value;

use crate::support::{kiln, render};

struct Case {
    args: Vec<String>,
    exit: i32,
    codes: Vec<String>,
}

fn read_case(path: &Path) -> Case {
    let text = std::fs::read_to_string(path).expect("read case.toml");
    let table: toml::Table = toml::from_str(&text).expect("case.toml is TOML");
    let list = |key: &str| -> Vec<String> {
        table[key]
            .as_array()
            .expect("a list")
            .iter()
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
fn validate_cases() {
    insta::glob!("../cases", "*/*/case.toml", |path| {
        let case = read_case(path);
        let dir = path.parent().expect("case dir");
        let library = dir.join("in");
        let mut args = vec![
            "--no-inherit".to_string(),
            "--library".to_string(),
            "in".to_string(),
        ];
        args.extend(case.args.iter().cloned());
        let output = kiln(dir).args(&args).output().expect("run kiln");
        assert_eq!(
            output.status.code(),
            Some(case.exit),
            "{}: wrong exit code\n{}",
            dir.display(),
            render(&output, &library)
        );
        if case.args.first().map(String::as_str) == Some("validate") {
            let json = kiln(dir)
                .args(&args)
                .args(["--format", "json"])
                .output()
                .expect("run kiln");
            let report: Value =
                serde_json::from_slice(&json.stdout).expect("validate --format json prints JSON");
            let found: Vec<&str> = report["diagnostics"]
                .as_array()
                .expect("diagnostics")
                .iter()
                .filter_map(|d| d["code"].as_str())
                .collect();
            for code in &case.codes {
                assert!(
                    found.contains(&code.as_str()),
                    "{}: expected `{code}`, found {found:?}",
                    dir.display()
                );
            }
            for diagnostic in report["diagnostics"].as_array().expect("diagnostics") {
                assert!(
                    diagnostic["file"].is_string(),
                    "{}: diagnostic without a file: {diagnostic}",
                    dir.display()
                );
            }
        }
        insta::assert_snapshot!(render(&output, &library));
    });
}
