//! The `kiln` binary; everything lives in the `kiln_cli` library.

fn main() -> std::process::ExitCode {
    kiln_cli::main()
}
