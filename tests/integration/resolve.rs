//! Resolution through the library API: independence from file discovery order (property
//! test), and the seed example of the foundation issue.

use kiln_core::Library;
use kiln_core::profile::resolve_profile;
use kiln_core::selection::select;
use kiln_core::synth;
use proptest::prelude::*;

/// Everything observable about resolving every profile: selections with reasons and
/// variables, and all diagnostics.
fn outcome(library: &Library) -> String {
    let mut out = String::new();
    let diagnostics =
        kiln_core::validate::validate(library, &[], &kiln_emit::ToolRegistry::known_tools(library));
    out.push_str(&serde_json::to_string(&diagnostics.into_sorted()).expect("json"));
    for name in library.profiles.keys() {
        let profile = resolve_profile(library, name, &[]).expect("resolves");
        let (selection, _) = select(library, &profile);
        out.push_str(&serde_json::to_string(&profile).expect("json"));
        out.push_str(&serde_json::to_string(&selection).expect("json"));
    }
    out
}

fn shuffled(mut files: Vec<(String, String)>, seed: u64) -> Vec<(String, String)> {
    // Fisher–Yates with a seeded LCG, so proptest's seed decides the order.
    let mut state = seed | 1;
    for i in (1..files.len()).rev() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let j = usize::try_from(state >> 33).expect("fits") % (i + 1);
        files.swap(i, j);
    }
    files
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn resolution_does_not_depend_on_discovery_order(seed in any::<u64>(), size in 40usize..160) {
        let generated = synth::generate(size, 3);
        let reference = Library::from_memory(&generated.config, generated.files.clone());
        prop_assert!(!reference.diagnostics.has_errors());
        let expected = outcome(&reference.library);
        let other = Library::from_memory(&generated.config, shuffled(generated.files, seed));
        prop_assert_eq!(expected, outcome(&other.library));
    }
}

#[test]
fn seed_example_validates_and_resolves_as_written() {
    let rule = r#"{ "$schema": "../schemas/rule.schema.json", "id": "git-workflow", "version": "1.0.0",
  "tags": ["git", "workflow", "commits"], "priority": 100, "conflicts_with": [], "depends_on": [],
  "content": { "title": "Git Workflow Rules", "sections": [ { "heading": "Branch Strategy",
    "instructions": ["Use feature branches for all development", "Never commit directly to main/master"] } ] },
  "output": { "claude-code": "markdown", "zed": "markdown", "cursor": "markdown" } }"#;
    let minimal = r#"{ "name": "minimal", "rules": { "include": ["git-workflow"] } }"#;
    let files = vec![
        (
            "components/rules/git-workflow.rule.json".to_string(),
            rule.to_string(),
        ),
        (
            "profiles/minimal.profile.json".to_string(),
            minimal.to_string(),
        ),
    ];
    let loaded = Library::from_memory("version = 1\n", files);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let diagnostics = kiln_core::validate::validate(
        &loaded.library,
        &[],
        &kiln_emit::ToolRegistry::known_tools(&loaded.library),
    );
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let profile = resolve_profile(&loaded.library, "minimal", &[]).expect("resolves");
    let (selection, _) = select(&loaded.library, &profile);
    let ids: Vec<String> = selection
        .expect("selects")
        .ids()
        .map(ToString::to_string)
        .collect();
    assert_eq!(ids, ["rule:git-workflow"]);
}

#[test]
fn tags_globs_and_namespaces_select_as_documented() {
    let files = vec![
        ("components/commands/beads/create.command.md".to_string(), "Create $ARGUMENTS".to_string()),
        ("components/commands/beads/close.command.md".to_string(), "Close $ARGUMENTS".to_string()),
        ("components/commands/git/create.command.md".to_string(), "Branch $ARGUMENTS".to_string()),
        ("components/rules/a.rule.md".to_string(), "---\ntags: [lang]\n---\nA".to_string()),
        ("components/rules/b.rule.md".to_string(), "---\ntags: [other]\n---\nB".to_string()),
        (
            "profiles/p.profile.json".to_string(),
            r#"{"name": "p", "commands": {"include": ["beads/*"], "exclude": ["beads/close"]}, "rules": {"include": ["tag:lang"]}}"#.to_string(),
        ),
    ];
    let loaded = Library::from_memory("version = 1\n", files);
    assert!(!loaded.diagnostics.has_errors());
    let profile = resolve_profile(&loaded.library, "p", &[]).expect("resolves");
    let (selection, diagnostics) = select(&loaded.library, &profile);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let ids: Vec<String> = selection
        .expect("selects")
        .ids()
        .map(ToString::to_string)
        .collect();
    assert_eq!(ids, ["rule:a", "command:beads/create"]);
}
