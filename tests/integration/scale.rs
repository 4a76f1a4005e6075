//! A generated 10,000-component library loads, validates and resolves with no problem.
//! (Timing lives in the benchmark, not here.)

use kiln_core::Library;
use kiln_core::profile::resolve_profile;
use kiln_core::selection::select;

#[test]
fn ten_thousand_components_load_validate_and_resolve() {
    let generated = kiln_core::synth::generate(10_000, 42);
    let loaded = Library::from_memory(&generated.config, generated.files);
    assert!(
        loaded.diagnostics.is_empty(),
        "{:?}",
        loaded.diagnostics.iter().take(3).collect::<Vec<_>>()
    );
    assert!(
        loaded.library.components.len() >= 9_900,
        "{}",
        loaded.library.components.len()
    );
    let diagnostics = kiln_core::validate::validate(
        &loaded.library,
        &[],
        &kiln_emit::ToolRegistry::known_tools(&loaded.library),
    );
    assert!(
        !diagnostics.has_errors(),
        "{:?}",
        diagnostics.iter().take(3).collect::<Vec<_>>()
    );
    let profile = resolve_profile(&loaded.library, "full", &[]).expect("resolves");
    assert_eq!(profile.chain, ["base", "team", "dev", "full"]);
    let (selection, _) = select(&loaded.library, &profile);
    let selection = selection.expect("selects");
    // Everything but the experimental tenth of rules and skills.
    assert!(
        selection.components.len() > 9_000,
        "{}",
        selection.components.len()
    );
    assert!(selection.components.len() < loaded.library.components.len());
}

/// The work a one-rule edit costs, counted (not timed): units the build emits again and dist
/// files it writes, and deployed files the next deploy reads rather than trusts on their stat.
#[derive(Debug, PartialEq, Eq)]
struct EditWork {
    units_emitted: u64,
    dist_files_written: u64,
    deployed_files_read: u64,
}

#[cfg(unix)]
fn edit_work(components: usize) -> EditWork {
    use crate::support::{Sandbox, render};
    use serde_json::Value;
    let dir = tempfile::tempdir().expect("temp dir");
    let sandbox = Sandbox::at(dir.path());
    let library = dir.path().join("lib");
    let run = |args: &[&str]| {
        let cwd = if library.exists() {
            &library
        } else {
            dir.path()
        };
        let output = sandbox.process(cwd).args(args).output().expect("run kiln");
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            render(&output, dir.path())
        );
        serde_json::from_slice::<Value>(&output.stdout).unwrap_or(Value::Null)
    };
    let count = components.to_string();
    let target = library.display().to_string();
    run(&["dev", "generate-library", &target, "--components", &count]);
    // A stand-in 1Password CLI for the library's op:// references.
    let op = dir.path().join("op");
    std::fs::write(
        &op,
        "#!/bin/sh\nprintf 'value-%s' \"$3\" | tr -c 'A-Za-z0-9-' _\n",
    )
    .expect("op");
    crate::support::make_executable(&op);
    let config = dir.path().join(".no-user-config/kiln/config.toml");
    std::fs::create_dir_all(config.parent().expect("parent")).expect("mkdir");
    std::fs::write(
        &config,
        format!("[secrets]\nop_command = {:?}\n", op.display().to_string()),
    )
    .expect("config");
    let deploy = [
        "deploy",
        "full",
        "--all-tools",
        "--no-build",
        "--format",
        "json",
    ];
    run(&["build", "full", "--all-tools"]);
    run(&deploy);
    // Past the clock tick of the first deploy's writes: the second records every stat.
    std::thread::sleep(std::time::Duration::from_millis(60));
    run(&deploy);
    let mut rules: Vec<_> = std::fs::read_dir(library.join("components/rules"))
        .expect("rules")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".rule.md"))
        .collect();
    rules.sort();
    let rule = &rules[0];
    let mut text = std::fs::read_to_string(rule).expect("read rule");
    text.push_str("\n- One more line, edited.\n");
    std::fs::write(rule, text).expect("edit rule");
    let built = run(&["build", "full", "--all-tools", "--format", "json"]);
    let builds = built["builds"].as_array().expect("builds");
    let sum = |key: &str| -> u64 {
        builds
            .iter()
            .map(|b| b[key].as_array().map_or(0, Vec::len) as u64)
            .sum()
    };
    let deployed = run(&deploy);
    let plans = deployed["plans"].as_array().expect("plans");
    let read: u64 = plans
        .iter()
        .map(|p| {
            p["steps"].as_array().map_or(0, Vec::len) as u64
                - p["kept_by_stat"].as_u64().unwrap_or(0)
        })
        .sum();
    EditWork {
        units_emitted: sum("rebuilt"),
        dist_files_written: sum("written"),
        deployed_files_read: read,
    }
}

#[cfg(unix)]
#[test]
fn a_one_rule_edit_costs_the_same_work_in_a_library_four_times_the_size() {
    let small = edit_work(100);
    let large = edit_work(400);
    println!("after a one-rule edit: {small:?} at 100 components, {large:?} at 400");
    assert!(
        small.units_emitted > 0 && small.dist_files_written > 0,
        "{small:?}"
    );
    assert_eq!(small, large, "work grew with the library");
}
