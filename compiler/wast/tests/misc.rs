//! wasmtime's misc testsuite, its Wasm 2.0 part: every kept script (top
//! level, `simd/`, `winch/`) through the real path: compile, artifact bytes,
//! loader. These are the regression scripts of a mature Cranelift-based
//! runtime: code generation at the edges of memory, traps, stack overflow,
//! many parameters and results, large emscripten and Rust programs.
//!
//! The scripts are found through `WASMTIME_MISC_TESTSUITE`, or at
//! `../shared/wasmtime-misc-testsuite` beside the repository. Without either
//! the tests say so and pass vacuously (CI always provides it: `.ci/run` fails
//! if it is missing).
//!
//! Every script runs, on every host: the three that Cranelift 0.112 defects
//! failed (issue #12) pass since the move to Cranelift 0.135.

use std::path::PathBuf;

use rayon::prelude::*;
use wasmc::{BoundsChecks, CompileOptions};
use wasmc_wast::{run_file, WastReport};

/// The folders wasmtime runs, relative to the suite.
const FOLDERS: &[&str] = &["", "simd", "winch"];

fn testsuite() -> Option<PathBuf> {
    let dir = match std::env::var_os("WASMTIME_MISC_TESTSUITE") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/wasmtime-misc-testsuite"),
    };
    dir.is_dir().then_some(dir)
}

fn run_suite(mode: BoundsChecks) {
    let Some(dir) = testsuite() else {
        eprintln!(
            "wasmtime misc testsuite not found: set WASMTIME_MISC_TESTSUITE or place it at \
             ../shared/wasmtime-misc-testsuite; skipping"
        );
        return;
    };
    let mut scripts = Vec::new();
    for folder in FOLDERS {
        let entries = std::fs::read_dir(dir.join(folder)).expect("readable misc testsuite folder");
        scripts.extend(
            entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "wast")),
        );
    }
    scripts.sort();
    assert!(scripts.len() >= 100, "expected the 104 kept scripts in {}", dir.display());
    let options = CompileOptions { bounds_checks: mode, ..CompileOptions::default() };
    let reports: Vec<WastReport> = scripts.par_iter().map(|p| run_file(p, &options)).collect();
    let mut total = WastReport::default();
    for report in reports {
        total.absorb(report);
    }
    println!(
        "wasmtime misc testsuite ({mode:?}): {} scripts, {} passed, {} failed",
        scripts.len(),
        total.passed,
        total.failed,
    );
    for failure in total.failures.iter().take(50) {
        println!("  {failure}");
    }
    assert_eq!(total.failed, 0, "{} misc-testsuite assertions failed in {mode:?} mode", total.failed);
    assert!(total.passed > 700, "suspiciously few assertions ran: {}", total.passed);
}

#[test]
fn misc_testsuite_guard_mode() {
    run_suite(BoundsChecks::Guard);
}

#[test]
fn misc_testsuite_explicit_mode() {
    run_suite(BoundsChecks::Explicit);
}
