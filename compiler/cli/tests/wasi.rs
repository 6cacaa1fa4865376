//! WASI programs (Rust std for wasm32-wasip1, and C with wasi-libc, both
//! committed in corpus/wasi) through the real `wasmc run` and `wasmrun`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

fn corpus(name: &str) -> String {
    format!("{}/../../corpus/wasi/{name}", env!("CARGO_MANIFEST_DIR"))
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

/// Opens `hello.txt` in preopen 3 for reading (errno; the descriptor at
/// 100) and reads up to 64 bytes from a descriptor (errno; the count at
/// 400).
const OPENER: &str = r#"(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "hello.txt")
  (func (export "open") (result i32)
    (call $path_open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 9) (i32.const 0)
      (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 100)))
  (func (export "opened") (result i32) (i32.load (i32.const 100)))
  (func (export "read") (param $fd i32) (result i32)
    (i32.store (i32.const 300) (i32.const 200))
    (i32.store (i32.const 304) (i32.const 64))
    (call $fd_read (local.get $fd) (i32.const 300) (i32.const 1) (i32.const 400)))
  (func (export "count") (result i32) (i32.load (i32.const 400))))"#;

/// One linker serves many stores (as a server builds it once), and each
/// store's WASI state is its own: a descriptor one tenant opened is not
/// there for another tenant using the same linker (it once was: the
/// linker held the only context).
#[test]
fn wasi_state_belongs_to_the_store_not_the_linker() {
    use wasmc_loader::wasi::{self, WasiCtx};
    use wasmc_loader::{Error, Instance, Linker, Store, TrapKind};

    let root = sandbox("per-store");
    let mut linker = Linker::new();
    wasi::add_to_linker(&mut linker);
    for mode in common::MODES {
        let module = common::module(OPENER, mode);
        let mut owner = Store::default();
        owner.set_wasi(WasiCtx::builder().preopen_dir(root.join("data"), "/data").unwrap().build().unwrap());
        let owner_instance = Instance::new(&mut owner, &module, &linker).unwrap();
        let call = |store: &mut Store, instance: Instance, name: &str, args: &[i32]| -> i32 {
            let args: Vec<_> = args.iter().map(|&a| wasmc_loader::Val::I32(a)).collect();
            match instance.call(store, name, &args).unwrap()[..] {
                [wasmc_loader::Val::I32(v)] => v,
                ref other => panic!("{other:?}"),
            }
        };
        assert_eq!(call(&mut owner, owner_instance, "open", &[]), 0, "{mode:?}: open hello.txt");
        let fd = call(&mut owner, owner_instance, "opened", &[]);
        assert_eq!(call(&mut owner, owner_instance, "read", &[fd]), 0);
        assert_eq!(call(&mut owner, owner_instance, "count", &[]), 9, "read \"hi there\\n\"");

        let mut other = Store::default();
        other.set_wasi(WasiCtx::builder().build().unwrap());
        let other_instance = Instance::new(&mut other, &module, &linker).unwrap();
        const EBADF: i32 = 8;
        assert_eq!(call(&mut other, other_instance, "read", &[fd]), EBADF, "{mode:?}: another tenant's descriptor");
        assert_eq!(call(&mut other, other_instance, "open", &[]), EBADF, "{mode:?}: another tenant's preopen");

        // A store given no WASI state: a clear trap, not someone else's.
        let mut bare = Store::default();
        let bare_instance = Instance::new(&mut bare, &module, &linker).unwrap();
        match bare_instance.call(&mut bare, "read", &[wasmc_loader::Val::I32(fd)]) {
            Err(Error::Trap(t)) if t.kind == TrapKind::HostError => {
                assert!(t.to_string().contains("without a WASI context"), "{t}")
            }
            other => panic!("{mode:?}: expected a host-error trap, got {other:?}"),
        }
    }
    std::fs::remove_dir_all(root).unwrap();
}
