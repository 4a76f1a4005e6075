//! Embeds the built-in tool definitions (`tools/<tool>/tool.json` and `templates/*`) into the
//! binary, so adding a built-in tool is adding a folder.
//!
//! The folder is found through the `CARGO_MANIFEST_DIR` cargo sets when it *runs* this script,
//! never the one baked in when the script was compiled (`env!`): a build script binary reused
//! from a shared target directory would otherwise embed another checkout's `tools/`. Cargo
//! reruns the script when any file or folder below `tools/` changes, including a new one (a new
//! entry changes its parent folder, and every folder is watched).

// A build script is configured by cargo through the environment.
#![allow(clippy::disallowed_methods)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir =
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let tools = Path::new(&manifest_dir).join("../../tools");
    println!("cargo:rerun-if-changed={}", tools.display());
    let mut files: Vec<PathBuf> = Vec::new();
    collect(&tools, &mut files);
    files.sort();
    let mut out = String::from(
        "/// Built-in tool files: (path under `tools/`, text).\npub static BUILTIN_FILES: &[(&str, &str)] = &[\n",
    );
    for file in &files {
        let relative = file.strip_prefix(&tools).expect("under tools/");
        let name: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let name = name.join("/");
        if name.split('/').count() < 2 {
            continue; // tools/README.md and other loose files are not part of a tool
        }
        println!("cargo:rerun-if-changed={}", file.display());
        writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            file.display().to_string()
        )
        .expect("write");
    }
    out.push_str("];\n");
    let target = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("builtin_tools.rs");
    std::fs::write(target, out).expect("write builtin_tools.rs");
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}
