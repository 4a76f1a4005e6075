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

#[test]
fn config_set_and_unset_edit_the_user_layer_keeping_comments_and_refuse_bad_results() {
    let library = library_with_layers();
    let path = library.path().join(".no-user-config/kiln/config.toml");
    std::fs::write(
        &path,
        "# my laptop\n[hosts]\ntesthost = \"work\" # the usual\n",
    )
    .expect("write");
    let run = |args: &[&str]| {
        let output = library
            .kiln()
            .arg("config")
            .args(args)
            .output()
            .expect("run");
        (output.status.code(), render(&output, library.path()))
    };
    assert_eq!(
        run(&["set", "tools", "[\"claude-code\", \"codex\"]"]).0,
        Some(0)
    );
    assert_eq!(run(&["set", "secrets.op_timeout_seconds", "45"]).0, Some(0));
    let (code, text) = run(&["set", "profle", "work"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("did you mean `profile`?"), "{text}");
    let (code, text) = run(&["set", "secrets.op_timeout_seconds", "0"]);
    assert_eq!(code, Some(1), "out of range: {text}");
    assert_eq!(run(&["unset", "hosts.testhost"]).0, Some(0));
    let (code, text) = run(&["unset", "hosts.testhost"]);
    assert_eq!(code, Some(1), "{text}");
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "tools = [\"claude-code\", \"codex\"]\n# my laptop\n[hosts]\n\n[secrets]\nop_timeout_seconds = 45\n"
    );
    // What `config show` sees is what was written.
    let report = show(&library, &[]);
    let tools = report["settings"]
        .as_array()
        .expect("settings")
        .iter()
        .find(|s| s["key"] == "tools")
        .expect("tools set");
    assert_eq!(tools["value"], serde_json::json!(["claude-code", "codex"]));
}

#[test]
#[cfg(unix)]
fn a_home_manager_config_in_the_nix_store_is_never_written() {
    let library = library_with_layers();
    let path = library.path().join(".no-user-config/kiln/config.toml");
    std::fs::remove_file(&path).expect("rm");
    std::os::unix::fs::symlink("/nix/store/0abc-home-manager-files/kiln/config.toml", &path)
        .expect("link");
    let output = library
        .kiln()
        .args(["config", "set", "profile", "work"])
        .output()
        .expect("run");
    let text = render(&output, library.path());
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("kiln::config::read_only") && text.contains("programs.kiln.settings.profile"),
        "{text}"
    );
    assert!(
        std::fs::symlink_metadata(&path)
            .expect("link kept")
            .file_type()
            .is_symlink()
    );
}
