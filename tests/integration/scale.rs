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
