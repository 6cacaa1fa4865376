//! WASI programs (Rust std for wasm32-wasip1, and C with wasi-libc, both
//! committed in corpus/wasi) through the real `wasmc run` and `wasmrun`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

fn corpus(name: &str) -> String {
    format!("{}/../corpus/wasi/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `root/data` (to preopen) with a file and a symlink out, and
/// `root/secret.txt` beside it.
fn sandbox(name: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("wasmc-wasi-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("data/sub")).unwrap();
    std::fs::write(root.join("data/hello.txt"), "hi there\n").unwrap();
    std::fs::write(root.join("secret.txt"), "secret\n").unwrap();
    std::os::unix::fs::symlink(root.join("secret.txt"), root.join("data/link_out")).unwrap();
    root
}

fn dir_flag(root: &Path) -> String {
    format!("{}::/data", root.join("data").display())
}

fn check_demo(out: &Output, root: &Path) {
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(7), "stdout: {stdout}\nstderr: {}", text(&out.stderr));
    assert!(stdout.contains("hello from wasi\n"), "{stdout}");
    assert!(stdout.contains("args: hello.txt 7\n"), "{stdout}");
    assert!(stdout.contains("env GREETING=yo\n"), "{stdout}");
    assert!(stdout.contains("read /data/hello.txt: hi there\n"), "{stdout}");
    assert!(stdout.contains("wrote and read back /data/out/written.txt: written by wasm\n"), "{stdout}");
    assert!(stdout.contains("ls /data: hello.txt link_out out sub\n"), "{stdout}");
    assert!(!stdout.contains("ESCAPED"), "{stdout}");
    for escape in ["/data/../secret.txt", "/data/sub/../../secret.txt", "/data/link_out"] {
        assert!(stdout.contains(&format!("denied {escape}: Capabilities insufficient")), "{escape}: {stdout}");
    }
    assert!(stdout.contains("denied /etc/passwd"), "{stdout}");
    assert_eq!(std::fs::read_to_string(root.join("data/out/written.txt")).unwrap(), "written by wasm\n");
}

#[test]
fn rust_std_program_under_wasmc_run() {
    let root = sandbox("wasmc");
    let out = common::command(env!("CARGO_BIN_EXE_wasmc"))
        .args(["run", "--dir", &dir_flag(&root), "--env", "GREETING=yo", &corpus("wasi_demo.wasm"), "hello.txt", "7"])
        .output()
        .unwrap();
    check_demo(&out, &root);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn rust_std_program_under_wasmrun() {
    let root = sandbox("wasmrun");
    let artifact = root.join("demo.cwasm");
    let compiled = common::command(env!("CARGO_BIN_EXE_wasmc"))
        .args(["compile", &corpus("wasi_demo.wasm"), "-o"])
        .arg(&artifact)
        .output()
        .unwrap();
    assert!(compiled.status.success(), "{}", text(&compiled.stderr));
    let wasmrun = PathBuf::from(env!("CARGO_BIN_EXE_wasmc")).with_file_name("wasmrun");
    let out = common::command(wasmrun)
        .args(["--dir", &dir_flag(&root), "--env", "GREETING=yo"])
        .arg(&artifact)
        .args(["hello.txt", "7"])
        .output()
        .unwrap();
    check_demo(&out, &root);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn without_a_preopen_files_are_denied_and_the_program_still_runs() {
    let out = common::command(env!("CARGO_BIN_EXE_wasmc")).args(["run", &corpus("wasi_demo.wasm")]).output().unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("read /data/hello.txt failed"), "{stdout}");
    assert!(!stdout.contains("env GREETING"), "{stdout}");
    assert!(!stdout.contains("ESCAPED"), "{stdout}");
}

#[test]
fn c_program_with_wasi_libc() {
    let root = sandbox("c");
    let out = common::command(env!("CARGO_BIN_EXE_wasmc"))
        .args(["run", "--dir", &dir_flag(&root), &corpus("hello_c.wasm"), "a", "b c"])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}{}", text(&out.stderr));
    assert_eq!(stdout, "hello from c, argc=3\narg 1: a\narg 2: b c\nread: hi there\nescape: denied\n");
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn bad_flags_are_clear_errors() {
    let out = common::command(env!("CARGO_BIN_EXE_wasmc"))
        .args(["run", "--dir", "/definitely/not/here::/x", &corpus("wasi_demo.wasm")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot preopen /definitely/not/here"), "{}", text(&out.stderr));
    let out = common::command(env!("CARGO_BIN_EXE_wasmc"))
        .args(["run", "--env", "NOEQUALS", &corpus("wasi_demo.wasm")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("NAME=VALUE"), "{}", text(&out.stderr));
}
