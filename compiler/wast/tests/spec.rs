//! The official WebAssembly spec testsuite (Wasm 2.0 core), every top-level
//! script, through the real path: compile, artifact bytes, loader.
//!
//! The suite is found through `WASM_TESTSUITE`, or at `../shared/wasm-testsuite`
//! beside the repository. Without either the tests say so and pass vacuously
//! (CI always provides it: `.ci/run` fails if it is missing).

use std::path::PathBuf;

use rayon::prelude::*;
use wasmc::{BoundsChecks, CompileOptions};
use wasmc_wast::{run_file, WastReport};

/// Scripts that may not pass, each with the reason. Expected to stay empty.
const SKIP: &[(&str, &str)] = &[];

fn testsuite() -> Option<PathBuf> {
    let dir = match std::env::var_os("WASM_TESTSUITE") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/wasm-testsuite"),
    };
    dir.is_dir().then_some(dir)
}

fn run_suite(mode: BoundsChecks) {
    run_suite_with(CompileOptions { bounds_checks: mode, ..CompileOptions::default() });
}

fn run_suite_with(options: CompileOptions) {
    let mode = options.bounds_checks;
    let Some(dir) = testsuite() else {
        eprintln!("spec testsuite not found: set WASM_TESTSUITE or place it at ../shared/wasm-testsuite; skipping");
        return;
    };
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("readable testsuite directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "wast"))
        .filter(|p| !SKIP.iter().any(|(name, _)| p.file_name().is_some_and(|f| f == *name)))
        .collect();
    scripts.sort();
    assert!(scripts.len() >= 140, "expected the full Wasm 2.0 suite in {}", dir.display());
    let reports: Vec<WastReport> = scripts.par_iter().map(|p| run_file(p, &options)).collect();
    let mut total = WastReport::default();
    for report in reports {
        total.absorb(report);
    }
    let fuel = if options.fuel_metering { ", fuel metering" } else { "" };
    println!("spec testsuite ({mode:?}{fuel}): {} passed, {} failed", total.passed, total.failed);
    for failure in total.failures.iter().take(50) {
        println!("  {failure}");
    }
    assert_eq!(total.failed, 0, "{} spec assertions failed in {mode:?} mode", total.failed);
    assert!(total.passed > 20_000, "suspiciously few assertions ran: {}", total.passed);
}

#[test]
fn spec_testsuite_guard_mode() {
    run_suite(BoundsChecks::Guard);
}

#[test]
fn spec_testsuite_explicit_mode() {
    run_suite(BoundsChecks::Explicit);
}

/// The whole suite with fuel metering compiled in (and unlimited fuel):
/// metering must not change any result.
#[test]
fn spec_testsuite_with_fuel_metering() {
    run_suite_with(CompileOptions { fuel_metering: true, ..CompileOptions::default() });
}

/// The scripts of the proposal in `proposals/NAME` of the suite, in both
/// bounds-check modes and with fuel metering: `count` of them, at least
/// `assertions` assertions.
fn run_proposal(name: &str, count: usize, assertions: usize) {
    let Some(dir) = testsuite().map(|d| d.join("proposals").join(name)) else {
        eprintln!("spec testsuite not found; skipping");
        return;
    };
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "wast"))
        .collect();
    scripts.sort();
    assert_eq!(scripts.len(), count, "{}", dir.display());
    let configurations = [
        CompileOptions { bounds_checks: BoundsChecks::Guard, ..CompileOptions::default() },
        CompileOptions { bounds_checks: BoundsChecks::Explicit, ..CompileOptions::default() },
        CompileOptions { fuel_metering: true, ..CompileOptions::default() },
    ];
    for options in configurations {
        let mut total = WastReport::default();
        for script in &scripts {
            total.absorb(run_file(script, &options));
        }
        let what = format!("{name}, {:?}{}", options.bounds_checks, if options.fuel_metering { ", fuel" } else { "" });
        assert_eq!(total.failed, 0, "{what}: {:?}", &total.failures[..total.failures.len().min(20)]);
        assert!(total.passed >= assertions, "{what}: only {} assertions ran", total.passed);
    }
}

/// Wasm 3.0's extended constant expressions: the proposal's scripts (data,
/// elem, global).
#[test]
fn extended_const_proposal() {
    run_proposal("extended-const", 3, 290);
}

/// Wasm 3.0's tail calls: the proposal's scripts (`return_call`,
/// `return_call_indirect`), whose recursions a million calls deep pass only
/// if each call reuses its caller's frame.
#[test]
fn tail_call_proposal() {
    run_proposal("tail-call", 2, 119);
}
