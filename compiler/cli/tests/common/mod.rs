//! The compiler's test helpers (`compiler/tests/common`), and the binaries
//! this package builds, run as a user would.

#![allow(dead_code, unused_imports, reason = "each test file uses a different subset")]

#[path = "../../../tests/common/mod.rs"]
mod compiler;

pub use compiler::*;

/// Runs the `wasmc` binary with `args`.
pub fn wasmc(args: &[&str]) -> std::process::Output {
    command(env!("CARGO_BIN_EXE_wasmc")).args(args).output().expect("wasmc runs")
}

/// Runs the `wasmrun` binary (package `wasmc-run`, built beside `wasmc` by
/// `cargo test --workspace`) with `args`.
pub fn wasmrun(args: &[&str]) -> std::process::Output {
    let path = std::path::PathBuf::from(env!("CARGO_BIN_EXE_wasmc")).with_file_name("wasmrun");
    assert!(path.exists(), "{} is missing: run the tests with `cargo test --workspace`", path.display());
    command(path).args(args).output().expect("wasmrun runs")
}
