//! The `wasmc` and `wasmrun` binaries, driven as a user drives them.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn wasmc(args: &[&str]) -> Output {
    common::command(env!("CARGO_BIN_EXE_wasmc")).args(args).output().expect("wasmc runs")
}

/// `wasmrun` belongs to the loader package; `cargo test --workspace` builds
/// it into the same directory as `wasmc` before any test runs.
fn wasmrun() -> Command {
    let path = PathBuf::from(env!("CARGO_BIN_EXE_wasmc")).with_file_name("wasmrun");
    assert!(path.exists(), "{} is missing: run the tests with `cargo test --workspace`", path.display());
    common::command(path)
}

fn corpus(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus").join(name).display().to_string()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wasmc-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_clean_failure(out: &Output) {
    assert_eq!(out.status.code(), Some(1), "stderr: {}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "expected one line, got: {err}");
}

#[test]
fn compile_inspect_and_run_a_corpus_program() {
    let dir = scratch("fib");
    let artifact = dir.join("fib.cwasm");
    let artifact = artifact.to_str().unwrap();
    let out = wasmc(&["compile", &corpus("fib.wat"), "-o", artifact]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = wasmc(&["inspect", artifact]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    let arch = wasmc_targets::host_arch().name();
    for needle in [arch, "bounds checks:  guard", "fib", "fib_iter", "code:"] {
        assert!(report.contains(needle), "inspect output lacks {needle:?}:\n{report}");
    }

    let out = wasmc(&["run", "--invoke", "fib", artifact, "20"]);
    assert_eq!(text(&out.stdout), "6765\n", "{}", text(&out.stderr));
    let out = wasmc(&["run", "--invoke", "fib_iter", &corpus("fib.wat"), "90"]);
    assert_eq!(text(&out.stdout), "2880067194370816120\n", "{}", text(&out.stderr));

    let out = wasmrun().args(["--invoke", "fib", artifact, "10"]).output().unwrap();
    assert_eq!(text(&out.stdout), "55\n", "{}", text(&out.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn invalid_input_is_one_line_with_an_offset() {
    let dir = scratch("invalid");
    let bad = dir.join("bad.wasm");
    // A valid header, then a type section that claims more than it has.
    std::fs::write(&bad, b"\0asm\x01\0\0\0\x01\x05\x01\x60\x01").unwrap();
    let out = wasmc(&["compile", bad.to_str().unwrap(), "-o", dir.join("x.cwasm").to_str().unwrap()]);
    assert_clean_failure(&out);
    assert!(text(&out.stderr).contains("offset"), "{}", text(&out.stderr));

    let mistyped = dir.join("mistyped.wat");
    std::fs::write(&mistyped, "(module (func (result i32) (i64.const 1)))").unwrap();
    let out = wasmc(&["compile", mistyped.to_str().unwrap(), "-o", dir.join("y.cwasm").to_str().unwrap()]);
    assert_clean_failure(&out);
    assert!(text(&out.stderr).contains("type mismatch"), "{}", text(&out.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn traps_and_bad_artifacts_exit_1_with_a_message() {
    let dir = scratch("traps");
    let wat = dir.join("trap.wat");
    std::fs::write(
        &wat,
        r#"(module (func (export "div") (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0))))"#,
    )
    .unwrap();
    let out = wasmc(&["run", "--invoke", "div", wat.to_str().unwrap(), "0"]);
    assert_clean_failure(&out);
    assert!(text(&out.stderr).contains("integer divide by zero"), "{}", text(&out.stderr));

    let junk = dir.join("junk.cwasm");
    std::fs::write(&junk, b"\x7fELF this is not really an artifact").unwrap();
    assert_clean_failure(&wasmc(&["run", junk.to_str().unwrap()]));
    assert_clean_failure(&wasmc(&["inspect", junk.to_str().unwrap()]));
    assert_clean_failure(&wasmrun().arg(junk.to_str().unwrap()).output().unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn aarch64_artifacts_are_emitted_on_any_host() {
    let dir = scratch("aarch64");
    let out_path = dir.join("fib-g3.cwasm");
    let out = wasmc(&["compile", &corpus("fib.wat"), "--target", "graviton3", "-o", out_path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bytes = std::fs::read(&out_path).unwrap();
    let elf = object::read::File::parse(&*bytes).unwrap();
    assert_eq!(object::Object::architecture(&elf), object::Architecture::Aarch64);
    let report = text(&wasmc(&["inspect", out_path.to_str().unwrap()]).stdout);
    assert!(report.contains("aarch64-unknown-linux-gnu") && report.contains("paca"), "{report}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unknown_target_is_refused_clearly() {
    let out = wasmc(&["compile", &corpus("fib.wat"), "--target", "pentium", "-o", "/dev/null"]);
    assert_clean_failure(&out);
    assert!(text(&out.stderr).contains("unknown target"), "{}", text(&out.stderr));
}

#[test]
fn wast_subcommand_counts_passes_and_failures() {
    let dir = scratch("wast");
    let script = dir.join("t.wast");
    std::fs::write(
        &script,
        r#"(module (func (export "one") (result i32) (i32.const 1)))
           (assert_return (invoke "one") (i32.const 1))
           (assert_return (invoke "one") (i32.const 2))
           (assert_invalid (module (func (result i32))) "type mismatch")"#,
    )
    .unwrap();
    let out = wasmc(&["wast", script.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let report = text(&out.stdout);
    assert!(report.trim_end().ends_with("3 passed, 1 failed"), "{report}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn wast_refuses_a_target_this_host_cannot_run() {
    let dir = scratch("wast-target");
    let script = dir.join("t.wast");
    std::fs::write(&script, "(module)").unwrap();
    let foreign = match wasmc_targets::host_arch() {
        wasmc_targets::Arch::X86_64 => "graviton2",
        wasmc_targets::Arch::Aarch64 => "x86_64",
    };
    let out = wasmc(&["wast", "--target", foreign, script.to_str().unwrap()]);
    assert_clean_failure(&out);
    assert!(text(&out.stderr).contains("wast runs what it compiles"), "{}", text(&out.stderr));
    let out = wasmc(&[
        "wast",
        "--target",
        wasmc_targets::baseline(wasmc_targets::host_arch()).name,
        script.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}
