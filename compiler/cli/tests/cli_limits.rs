//! `--timeout`, `--fuel`, `--max-memory` and `--fuel-metering` on `wasmc`
//! and `wasmrun`, through the real binaries.

mod common;

use common::{text, wasmc, wasmrun};

use std::path::PathBuf;
use std::time::{Duration, Instant};

const SPIN: &str = r#"(module
  (memory 1)
  (func (export "spin") (loop $l (br $l)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "count") (param $n i32) (result i32) (local $i i32)
    (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $i)))"#;

/// A directory of this test's own (tests run in parallel and must not
/// rewrite each other's files), holding `spin.wat`.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wasmc-cli-limits-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wat = dir.join("spin.wat");
    std::fs::write(&wat, SPIN).unwrap();
    dir
}

#[test]
fn timeout_interrupts_an_endless_loop() {
    let dir = scratch("timeout_interrupts_an_endless_loop");
    let wat = dir.join("spin.wat");
    let t0 = Instant::now();
    let out = wasmc(&["run", "--timeout", "100ms", "--invoke", "spin", wat.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("interrupted: deadline exceeded"), "{}", text(&out.stderr));
    assert!(t0.elapsed() < Duration::from_secs(30));

    let artifact = dir.join("spin.cwasm");
    let out = wasmc(&["compile", wat.to_str().unwrap(), "-o", artifact.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = wasmrun(&["--timeout", "50ms", "--invoke", "spin", artifact.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("interrupted: deadline exceeded"), "{}", text(&out.stderr));

    let out = wasmrun(&["--timeout", "soon", "--invoke", "spin", artifact.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot parse \"soon\" as a duration"), "{}", text(&out.stderr));
}

#[test]
fn fuel_needs_metering_and_runs_out() {
    let dir = scratch("fuel_needs_metering_and_runs_out");
    let wat = dir.join("spin.wat");
    let wat = wat.to_str().unwrap();
    // Compiled on the fly: --fuel turns metering on.
    let out = wasmc(&["run", "--fuel", "100000", "--invoke", "spin", wat]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("all fuel consumed"), "{}", text(&out.stderr));
    let out = wasmc(&["run", "--fuel", "100000", "--invoke", "count", wat, "100"]);
    assert_eq!(text(&out.stdout), "100\n", "{}", text(&out.stderr));

    let plain = dir.join("plain.cwasm");
    let metered = dir.join("metered.cwasm");
    assert!(wasmc(&["compile", wat, "-o", plain.to_str().unwrap()]).status.success());
    assert!(wasmc(&["compile", "--fuel-metering", wat, "-o", metered.to_str().unwrap()]).status.success());
    assert!(text(&wasmc(&["inspect", metered.to_str().unwrap()]).stdout).contains("fuel metering:  yes"));
    assert!(text(&wasmc(&["inspect", plain.to_str().unwrap()]).stdout).contains("fuel metering:  no"));
    for out in [
        wasmc(&["run", "--fuel", "10", "--invoke", "count", plain.to_str().unwrap(), "5"]),
        wasmrun(&["--fuel", "10", "--invoke", "count", plain.to_str().unwrap(), "5"]),
    ] {
        assert_eq!(out.status.code(), Some(1));
        assert!(
            text(&out.stderr).contains("--fuel needs an artifact compiled with fuel metering"),
            "{}",
            text(&out.stderr)
        );
    }
    let out = wasmrun(&["--fuel", "1000", "--invoke", "count", metered.to_str().unwrap(), "1000000"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("all fuel consumed"), "{}", text(&out.stderr));
    let out = wasmrun(&["--fuel", "1000000", "--invoke", "count", metered.to_str().unwrap(), "1000"]);
    assert_eq!(text(&out.stdout), "1000\n", "{}", text(&out.stderr));
}

#[test]
fn max_memory_bounds_growth() {
    let dir = scratch("max_memory_bounds_growth");
    let wat = dir.join("spin.wat");
    let wat = wat.to_str().unwrap();
    let out = wasmc(&["run", "--max-memory", "128KiB", "--invoke", "grow", wat, "1"]);
    assert_eq!(text(&out.stdout), "1\n", "{}", text(&out.stderr));
    let out = wasmc(&["run", "--max-memory", "128KiB", "--invoke", "grow", wat, "2"]);
    assert_eq!(text(&out.stdout), "-1\n", "{}", text(&out.stderr));
    let artifact = dir.join("grow.cwasm");
    assert!(wasmc(&["compile", wat, "-o", artifact.to_str().unwrap()]).status.success());
    let out = wasmrun(&["--max-memory", "65536", "--invoke", "grow", artifact.to_str().unwrap(), "1"]);
    assert_eq!(text(&out.stdout), "-1\n", "{}", text(&out.stderr));
    let out = wasmrun(&["--max-memory", "64MiB", "--invoke", "grow", artifact.to_str().unwrap(), "1"]);
    assert_eq!(text(&out.stdout), "1\n", "{}", text(&out.stderr));
    // Below the module's minimum: an instantiation error, not a crash.
    let out = wasmrun(&["--max-memory", "1KiB", "--invoke", "grow", artifact.to_str().unwrap(), "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("resource limit"), "{}", text(&out.stderr));
}
