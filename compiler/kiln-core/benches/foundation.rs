//! Load + validate and load + resolve of generated libraries from disk (1,000 and 10,000
//! components), as `kiln validate` and `kiln resolve` do them.

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use kiln_core::Library;
use kiln_core::profile::resolve_profile;
use kiln_core::selection::select;

fn write_library(dir: &Path, components: usize) {
    let generated = kiln_core::synth::generate(components, 42);
    std::fs::write(dir.join("kiln.toml"), &generated.config).expect("write kiln.toml");
    for (path, text) in &generated.files {
        let full = dir.join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, text).expect("write");
    }
}

fn foundation(c: &mut Criterion) {
    let mut group = c.benchmark_group("foundation");
    group.sample_size(10);
    for size in [1_000, 10_000] {
        let dir = tempfile::tempdir().expect("temp dir");
        write_library(dir.path(), size);
        // No tool registry below kiln-emit: the synthetic profiles' tools are the known ones.
        let tools = kiln_core::synth::TOOLS
            .iter()
            .map(|t| (*t).to_string())
            .collect();
        group.bench_function(format!("validate_{size}"), |b| {
            b.iter(|| {
                let loaded = Library::load(dir.path());
                let diagnostics = kiln_core::validate::validate(&loaded.library, &[], &tools);
                assert!(!diagnostics.has_errors());
            });
        });
        group.bench_function(format!("resolve_{size}"), |b| {
            b.iter(|| {
                let loaded = Library::load(dir.path());
                let profile = resolve_profile(&loaded.library, "full", &[]).expect("resolves");
                let (selection, _) = select(&loaded.library, &profile);
                assert!(selection.is_some());
            });
        });
    }
    group.finish();
}

criterion_group!(benches, foundation);
criterion_main!(benches);
