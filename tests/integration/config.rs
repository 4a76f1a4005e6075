//! Machine configuration layers: system, user, library, environment, flags; `--no-inherit`;
//! the hostname map; `kiln config show`.

use serde_json::Value;

use crate::support::{TempLibrary, copy_starter_library, render};

fn library_with_layers() -> TempLibrary {
    let library = TempLibrary::new();
    copy_starter_library(library.path());
    library.file(
        ".no-system-config",
        "profile = \"server\"\n[variables]\ncompany = \"system-co\"\n",
    );
    library.file(
        ".no-user-config/kiln/config.toml",
        "[hosts]\ntesthost = \"work\"\n[variables]\ngithub_user = \"machine-user\"\n",
    );
    library
}

fn show(library: &TempLibrary, extra: &[&str]) -> Value {
    let output = library
        .kiln()
        .args(extra)
        .args(["config", "show", "--format", "json"])
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        render(&output, library.path())
    );
    serde_json::from_slice(&output.stdout).expect("JSON")
}

#[test]
fn later_layers_win_and_each_value_names_its_layer() {
    let library = library_with_layers();
    let report = show(&library, &[]);
    let settings = report["settings"].as_array().expect("settings");
    let setting = |key: &str| {
        settings
            .iter()
            .find(|s| s["key"] == key)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(setting("profile")["value"], "server");
    assert_eq!(setting("profile")["layer"], "system");
    assert_eq!(setting("hosts.testhost")["layer"], "user");
    assert_eq!(setting("variables.default_branch")["layer"], "library");
    // A profile set in the system layer wins over the hostname map.
    assert_eq!(report["profile"]["name"], "server");
    let kinds: Vec<&str> = report["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| l["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds, ["system", "user", "library"]);
}

#[test]
fn environment_and_flags_override_files() {
    let library = library_with_layers();
    library.file("extra.toml", "profile = \"minimal\"\n");
    let output = library
        .kiln()
        .env("KILN_CONFIG", library.path().join("extra.toml"))
        .args(["config", "show", "--format", "json"])
        .output()
        .expect("run");
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["profile"]["name"], "minimal");
    assert!(
        report["profile"]["because"]
            .as_str()
            .expect("because")
            .contains("environment")
    );

    let output = library
        .kiln()
        .env("KILN_CONFIG", library.path().join("extra.toml"))
        .env("KILN_PROFILE", "personal")
        .args(["config", "show", "--format", "json"])
        .output()
        .expect("run");
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["profile"]["name"], "personal");

    let output = library
        .kiln()
        .env("KILN_PROFILE", "personal")
        .args(["config", "show", "--profile", "work", "--format", "json"])
        .output()
        .expect("run");
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["profile"]["name"], "work");
    assert_eq!(
        report["profile"]["because"],
        "`profile` from flags (command line)"
    );
}

#[test]
fn hostname_map_chooses_the_profile_and_machine_variables_win() {
    let library = TempLibrary::new();
    copy_starter_library(library.path());
    library.file(
        ".no-user-config/kiln/config.toml",
        "[hosts]\ntesthost = \"personal\"\n[variables]\ngithub_user = \"machine-user\"\n",
    );
    let output = library
        .kiln()
        .args(["resolve", "--format", "json"])
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        render(&output, library.path())
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["profile"], "personal");
    assert!(
        report["chosen_by"]
            .as_str()
            .expect("why")
            .contains("hosts.testhost")
    );
    assert_eq!(report["variables"]["github_user"]["value"], "machine-user");
    assert!(
        report["variables"]["github_user"]["origin"]
            .as_str()
            .expect("origin")
            .starts_with("user (")
    );
}

#[test]
fn no_inherit_ignores_machine_layers() {
    let library = library_with_layers();
    for run in [
        library
            .kiln()
            .args(["--no-inherit", "config", "show", "--format", "json"])
            .output()
            .expect("run"),
        library
            .kiln()
            .env("KILN_NO_INHERIT", "1")
            .args(["config", "show", "--format", "json"])
            .output()
            .expect("run"),
    ] {
        let report: Value = serde_json::from_slice(&run.stdout).expect("JSON");
        assert_eq!(report["no_inherit"], true);
        let kinds: Vec<&str> = report["layers"]
            .as_array()
            .expect("layers")
            .iter()
            .map(|l| l["kind"].as_str().expect("kind"))
            .collect();
        assert_eq!(kinds, ["library"]);
        assert!(report["profile"].is_null());
    }
}

#[test]
fn a_bad_user_config_is_a_located_error() {
    let library = TempLibrary::new();
    copy_starter_library(library.path());
    library.file(".no-user-config/kiln/config.toml", "profle = \"work\"\n");
    let output = library
        .kiln()
        .args(["config", "show"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let text = render(&output, library.path());
    assert!(text.contains("unknown key `profle`"), "{text}");
    assert!(text.contains("did you mean `profile`?"), "{text}");
    assert!(text.contains("config.toml:1:1"), "{text}");
}

#[test]
fn the_user_layer_can_name_the_library() {
    let library = TempLibrary::new();
    copy_starter_library(library.path());
    let elsewhere = TempLibrary::new();
    std::fs::remove_file(elsewhere.path().join("kiln.toml")).expect("not a library");
    elsewhere.file(
        ".no-user-config/kiln/config.toml",
        &format!(
            "library = {:?}\nprofile = \"minimal\"\n",
            library.path().display().to_string()
        ),
    );
    let output = elsewhere
        .kiln()
        .args(["config", "show", "--format", "json"])
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        render(&output, elsewhere.path())
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert!(
        report["library"]["found_by"]
            .as_str()
            .expect("found_by")
            .contains("`library` in user")
    );
    let output = elsewhere.kiln().args(["resolve"]).output().expect("run");
    assert!(
        output.status.success(),
        "{}",
        render(&output, elsewhere.path())
    );
}

#[test]
fn config_show_human_output() {
    let library = library_with_layers();
    let output = library
        .kiln()
        .args(["config", "show"])
        .output()
        .expect("run");
    insta::assert_snapshot!(render(&output, library.path()));
}

#[test]
fn a_missing_kiln_config_file_is_an_error() {
    let library = library_with_layers();
    let output = library
        .kiln()
        .env("KILN_CONFIG", library.path().join("nope.toml"))
        .args(["config", "show"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let text = render(&output, library.path());
    assert!(
        text.contains("KILN_CONFIG names `[ROOT]/nope.toml`, which does not exist"),
        "{text}"
    );
}
