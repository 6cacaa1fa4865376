//! The aarch64 build of `wasmc` and `wasmrun`, run under qemu user mode from
//! the x86_64 host: cross-host determinism, CPU-feature and architecture
//! refusals, and the corpus on every aarch64 preset under a CPU model that
//! has its features.
//!
//! These tests need `target/aarch64-unknown-linux-gnu/release/{wasmc,wasmrun}`
//! (or `WASMC_AARCH64_BIN_DIR`) and `qemu-aarch64`, so they are `#[ignore]`d
//! in a plain `cargo test`; `scripts/test-aarch64` (which CI runs) builds the
//! binaries and runs them with `--ignored`. When run, a missing binary or
//! emulator is a failure, never a skip.

#![cfg(target_arch = "x86_64")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const NEEDS: &str = "needs the aarch64 build and qemu-aarch64: run scripts/test-aarch64";

/// qemu's CPU model for each aarch64 preset: Neoverse N1 is Graviton 2 (LSE,
/// no pointer authentication); qemu 7.2 has no Neoverse V1/V2, so the newer
/// presets run on `max`, which has LSE, pointer authentication and BTI.
const PRESET_CPUS: [(&str, &str); 4] =
    [("aarch64", "neoverse-n1"), ("graviton2", "neoverse-n1"), ("graviton3", "max"), ("graviton4", "max")];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The aarch64 binary `name`; panics (fails the test) if it is missing.
fn aarch64_bin(name: &str) -> PathBuf {
    let dir = std::env::var_os("WASMC_AARCH64_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/aarch64-unknown-linux-gnu/release"));
    let path = dir.join(name);
    assert!(path.is_file(), "{} is missing ({NEEDS})", path.display());
    path
}

/// Runs an aarch64 binary under `qemu-aarch64 -cpu CPU`.
fn qemu(cpu: &str, program: &Path, args: &[&str]) -> Output {
    let sysroot = std::env::var("WASMC_AARCH64_SYSROOT").unwrap_or_else(|_| "/usr/aarch64-linux-gnu".into());
    Command::new("qemu-aarch64")
        .args(["-L", &sysroot, "-cpu", cpu])
        .arg(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run qemu-aarch64 ({e}); {NEEDS}"))
}

fn host(name: &str) -> Command {
    let path = PathBuf::from(env!("CARGO_BIN_EXE_wasmc")).with_file_name(name);
    assert!(path.is_file(), "{} is missing: run the tests with `cargo test --workspace`", path.display());
    Command::new(path)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wasmc-qemu-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn corpus(name: &str) -> String {
    repo().join("corpus").join(name).display().to_string()
}

fn ok(out: &Output, what: &str) {
    assert!(out.status.success(), "{what} failed: {}{}", text(&out.stdout), text(&out.stderr));
}

/// Compiles with the host's `wasmc`.
fn host_compile(input: &str, output: &Path, extra: &[&str]) {
    let out = host("wasmc").args(["compile", input, "-o", output.to_str().unwrap()]).args(extra).output().unwrap();
    ok(&out, &format!("host wasmc compile {input} {extra:?}"));
}

/// Writes the first `count` modules of a spec script as `.wasm` files.
fn spec_modules(script: &str, count: usize, dir: &Path) -> Vec<String> {
    let suite = std::env::var_os("WASM_TESTSUITE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/wasm-testsuite"));
    let path = suite.join(script);
    let source = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (set WASM_TESTSUITE to the spec testsuite)", path.display()));
    let buf = wast::parser::ParseBuffer::new(&source).unwrap();
    let wast: wast::Wast = wast::parser::parse(&buf).unwrap();
    let mut files = Vec::new();
    for directive in wast.directives {
        if let wast::WastDirective::Module(mut module) = directive {
            let file = dir.join(format!("{script}.{}.wasm", files.len()));
            std::fs::write(&file, module.encode().unwrap()).unwrap();
            files.push(file.display().to_string());
            if files.len() == count {
                break;
            }
        }
    }
    assert_eq!(files.len(), count, "{script} has fewer than {count} modules");
    files
}

#[test]
#[ignore = "needs the aarch64 build and qemu-aarch64: run scripts/test-aarch64"]
fn artifacts_are_byte_identical_whichever_host_compiles_them() {
    let dir = scratch("determinism");
    let mut inputs: Vec<String> =
        ["fib.wat", "sieve.wat", "crc32.wat", "matmul.wat", "simd.wat", "multi.wat"].map(corpus).into();
    inputs.extend(spec_modules("simd_i32x4_arith.wast", 1, &dir));
    inputs.extend(spec_modules("call_indirect.wast", 1, &dir));
    inputs.extend(spec_modules("memory_grow.wast", 2, &dir));
    inputs.extend(spec_modules("conversions.wast", 1, &dir));
    let wasmc_a64 = aarch64_bin("wasmc");
    let mut compared = 0;
    for (i, input) in inputs.iter().enumerate() {
        for (target, mode) in [
            ("aarch64", "guard"),
            ("graviton2", "explicit"),
            ("graviton3", "guard"),
            ("graviton4", "explicit"),
            ("x86_64", "guard"),
            ("x86_64-v3", "explicit"),
        ] {
            let flags = ["--target", target, "--bounds-checks", mode];
            let on_x86 = dir.join(format!("{i}-{target}-{mode}.x86host.cwasm"));
            let on_arm = dir.join(format!("{i}-{target}-{mode}.armhost.cwasm"));
            host_compile(input, &on_x86, &flags);
            let mut args = vec!["compile", input, "-o", on_arm.to_str().unwrap()];
            args.extend(flags);
            ok(&qemu("max", &wasmc_a64, &args), &format!("aarch64 wasmc compile {input} {flags:?}"));
            let (a, b) = (std::fs::read(&on_x86).unwrap(), std::fs::read(&on_arm).unwrap());
            assert!(a == b, "{input} for {target} ({mode}): the x86_64 and aarch64 hosts' artifacts differ");
            compared += 1;
        }
    }
    assert_eq!(compared, inputs.len() * 6);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[ignore = "needs the aarch64 build and qemu-aarch64: run scripts/test-aarch64"]
fn a_preset_is_refused_on_a_cpu_without_its_features() {
    let dir = scratch("features");
    let wasmrun = aarch64_bin("wasmrun");
    for (preset, missing) in [("graviton3", "paca"), ("graviton4", "bti")] {
        let artifact = dir.join(format!("fib-{preset}.cwasm"));
        host_compile(&corpus("fib.wat"), &artifact, &["--target", preset]);
        let args = ["--invoke", "fib", artifact.to_str().unwrap(), "20"];
        // Neoverse N1 (Graviton 2) has LSE but neither pointer authentication nor BTI.
        let out = qemu("neoverse-n1", &wasmrun, &args);
        assert_eq!(out.status.code(), Some(1), "{preset} on neoverse-n1: {}", text(&out.stderr));
        let err = text(&out.stderr);
        assert!(err.contains("CPU features") && err.contains(missing), "{preset} on neoverse-n1: {err}");
        assert!(!err.contains("panicked"), "{err}");
        // The same artifact runs where the features are.
        let out = qemu("max", &wasmrun, &args);
        assert_eq!(text(&out.stdout), "6765\n", "{preset} on max: {}", text(&out.stderr));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[ignore = "needs the aarch64 build and qemu-aarch64: run scripts/test-aarch64"]
fn an_artifact_for_the_other_architecture_is_refused_both_ways() {
    let dir = scratch("arch");
    let (x86, arm) = (dir.join("fib-x86.cwasm"), dir.join("fib-arm.cwasm"));
    host_compile(&corpus("fib.wat"), &x86, &["--target", "x86_64"]);
    host_compile(&corpus("fib.wat"), &arm, &["--target", "aarch64"]);

    let out = qemu("max", &aarch64_bin("wasmrun"), &[x86.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("x86_64") && err.contains("aarch64"), "x86_64 artifact on aarch64: {err}");

    let out = host("wasmrun").arg(&arm).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("x86_64") && err.contains("aarch64"), "aarch64 artifact on x86_64: {err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[ignore = "needs the aarch64 build and qemu-aarch64: run scripts/test-aarch64"]
fn the_corpus_runs_on_every_aarch64_preset() {
    let dir = scratch("corpus");
    let wasmrun = aarch64_bin("wasmrun");
    let expected = std::fs::read_to_string(repo().join("corpus/expected.txt")).unwrap();
    let mut ran = 0;
    for line in expected.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
        let (call, results) = line.split_once("=>").expect("expected.txt lines have =>");
        let mut words = call.split_whitespace();
        let (program, export) = (words.next().unwrap(), words.next().unwrap());
        let args: Vec<&str> = words.collect();
        let want: String = results.split_whitespace().map(|r| format!("{r}\n")).collect();
        for (preset, cpu) in PRESET_CPUS {
            for mode in ["guard", "explicit"] {
                let artifact = dir.join(format!("{program}-{preset}-{mode}.cwasm"));
                if !artifact.exists() {
                    host_compile(&corpus(program), &artifact, &["--target", preset, "--bounds-checks", mode]);
                }
                let mut run = vec!["--invoke", export, artifact.to_str().unwrap()];
                run.extend(&args);
                let out = qemu(cpu, &wasmrun, &run);
                assert_eq!(text(&out.stdout), want, "{line} ({preset}, {mode}, -cpu {cpu}): {}", text(&out.stderr));
                ran += 1;
            }
        }
    }
    assert!(ran >= 80, "only {ran} corpus runs");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A function whose `br_table` has `targets` targets spread over `depth`
/// enclosing blocks: entry `i` leaves block `i * 7919 % depth`, and the
/// code after block `k` returns `k`, so the result names the target taken.
/// An aarch64 lowering that put a large jump table or a branch over it out
/// of range (GHSA-mghf-wjfp-p5xm) would land on another block.
fn wide_br_table(depth: u32, targets: u32) -> String {
    let mut wat = String::from("(module (func (export \"f\") (param i32) (result i32)\n");
    wat.push_str(&"(block ".repeat(depth as usize));
    wat.push_str("(br_table");
    for i in 0..targets {
        wat.push_str(&format!(" {}", u64::from(i) * 7919 % u64::from(depth)));
    }
    wat.push_str(&format!(" {} (local.get 0))\n", depth - 1));
    for k in 0..depth {
        wat.push_str(&format!(") (return (i32.const {k}))\n"));
    }
    wat.push_str("(unreachable)))\n");
    wat
}

#[test]
#[ignore = "needs the aarch64 build and qemu-aarch64: run scripts/test-aarch64"]
fn a_br_table_with_a_million_targets_branches_correctly() {
    // GHSA-mghf-wjfp-p5xm: a large aarch64 `br_table` jumped to the wrong
    // target. 2^20 targets (a 2 MB body, under wasmparser's function-size
    // limit, which is now the only bound on a table's length) and probes
    // on either side of each power-of-two boundary a jump-table offset
    // could overflow at.
    let (depth, targets) = (1000u32, 1u32 << 20);
    let dir = scratch("br-table");
    let source = dir.join("br_table.wat");
    std::fs::write(&source, wide_br_table(depth, targets)).unwrap();
    let wasmrun = aarch64_bin("wasmrun");
    for (preset, cpu) in [("graviton2", "neoverse-n1"), ("graviton4", "max")] {
        let artifact = dir.join(format!("br_table-{preset}.cwasm"));
        host_compile(source.to_str().unwrap(), &artifact, &["--target", preset]);
        let boundaries = [1u32 << 12, 1 << 15, 1 << 16, 1 << 17, 1 << 19].into_iter().flat_map(|b| [b - 1, b]);
        let probes = [0, 1, 2, 100_003, 777_777, targets - 1, targets, u32::MAX].into_iter().chain(boundaries);
        for index in probes {
            let expected =
                if index < targets { u64::from(index) * 7919 % u64::from(depth) } else { u64::from(depth - 1) };
            let out = qemu(cpu, &wasmrun, &["--invoke", "f", artifact.to_str().unwrap(), &index.to_string()]);
            assert_eq!(text(&out.stdout), format!("{expected}\n"), "{preset}, index {index}: {}", text(&out.stderr));
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
