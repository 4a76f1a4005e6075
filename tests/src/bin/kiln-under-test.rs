//! The `kiln` binary, built inside the test crate so integration tests can run it as a
//! process (cargo sets `CARGO_BIN_EXE_kiln-under-test` only for a package's own binaries). It
//! is the same entry point as `compiler/kiln-cli/src/main.rs`.

fn main() -> std::process::ExitCode {
    kiln_cli::main()
}
