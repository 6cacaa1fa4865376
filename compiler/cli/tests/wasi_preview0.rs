//! WASI preview 0 (`wasi_unstable`), which older toolchains import: the
//! same host functions as preview 1 except where the two differ
//! (`fd_seek`'s `whence`, the 56-byte `filestat`, the clock subscription
//! of `poll_oneoff` with its `identifier`), each checked here through a
//! module that imports only `wasi_unstable`, in both bounds-check modes.

mod common;

use std::time::{Duration, Instant};

use wasmc_loader::wasi::{self, WasiCtx};
use wasmc_loader::{Error, Instance, Linker, Module, Store, Val};

/// Memory: 0 the file name; 16 the opened descriptor; 24 a new offset; 32
/// an iovec of 3 bytes at 64; 40 bytes read; 128..192 a filestat buffer;
/// 256 a subscription; 320 an event; 360 the event count.
const PROGRAM: &str = r#"
(module
  (import "wasi_unstable" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_unstable" "fd_seek" (func $fd_seek (param i32 i64 i32 i32) (result i32)))
  (import "wasi_unstable" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_unstable" "fd_filestat_get" (func $fd_filestat_get (param i32 i32) (result i32)))
  (import "wasi_unstable" "path_filestat_get"
    (func $path_filestat_get (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_unstable" "poll_oneoff" (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "f.txt")
  (data (i32.const 32) "\40\00\00\00\03\00\00\00")
  ;; read, seek and filestat rights
  (func (export "open") (result i32)
    (call $path_open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 5) (i32.const 0)
      (i64.const 2097158) (i64.const 0) (i32.const 0) (i32.const 16)))
  (func (export "seek") (param i64 i32) (result i32)
    (call $fd_seek (i32.load (i32.const 16)) (local.get 0) (local.get 1) (i32.const 24)))
  (func (export "read3") (result i32)
    (call $fd_read (i32.load (i32.const 16)) (i32.const 32) (i32.const 1) (i32.const 40)))
  (func (export "fd_stat") (result i32)
    (call $fd_filestat_get (i32.load (i32.const 16)) (i32.const 128)))
  (func (export "path_stat") (result i32)
    (call $path_filestat_get (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 5) (i32.const 128)))
  ;; One relative clock subscription of 1 ms on the monotonic clock.
  (func (export "sleep") (result i32)
    (i64.store (i32.const 256) (i64.const 42))        ;; userdata
    (i32.store8 (i32.const 264) (i32.const 0))        ;; clock
    (i64.store (i32.const 272) (i64.const 7))         ;; identifier
    (i32.store (i32.const 280) (i32.const 1))         ;; monotonic
    (i64.store (i32.const 288) (i64.const 1000000))   ;; timeout
    (i64.store (i32.const 296) (i64.const 0))         ;; precision
    (i32.store16 (i32.const 304) (i32.const 0))       ;; relative
    (call $poll_oneoff (i32.const 256) (i32.const 320) (i32.const 1) (i32.const 360))))
"#;

fn i32_of(results: Vec<Val>) -> i32 {
    match results[..] {
        [Val::I32(v)] => v,
        ref other => panic!("expected one i32, got {other:?}"),
    }
}

#[test]
fn preview_0_programs_seek_stat_and_poll_with_preview_0s_layouts() {
    let dir = std::env::temp_dir().join(format!("wasmc-wasi-preview0-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("f.txt"), "hello preview0").unwrap();
    let wasm = wat::parse_str(PROGRAM).unwrap();
    let mut linker = Linker::new();
    wasi::add_to_linker(&mut linker);
    for mode in common::MODES {
        let artifact = wasmc::compile(&wasm, &common::options(mode)).unwrap();
        let module: Module = common::load(&artifact).unwrap();
        let mut store = Store::default();
        store.set_wasi(WasiCtx::builder().preopen_dir(&dir, "/data").unwrap().build().unwrap());
        let instance = Instance::new(&mut store, &module, &linker).unwrap();
        let memory = instance.get_memory(&store, "memory").unwrap();
        let call = |store: &mut Store, name: &str, args: &[Val]| i32_of(instance.call(store, name, args).unwrap());
        let u64_at = |store: &Store, at: usize| u64::from_le_bytes(memory.data(store)[at..at + 8].try_into().unwrap());
        assert_eq!(call(&mut store, "open", &[]), 0, "{mode:?}");

        // whence 1 is `end` in preview 0 (`cur` in preview 1), 2 is `set`.
        assert_eq!(call(&mut store, "seek", &[Val::I64(-3), Val::I32(1)]), 0, "{mode:?}");
        assert_eq!(u64_at(&store, 24), 11, "{mode:?}");
        assert_eq!(call(&mut store, "seek", &[Val::I64(2), Val::I32(2)]), 0, "{mode:?}");
        assert_eq!(u64_at(&store, 24), 2, "{mode:?}");
        // whence 0 is `cur`: 2 + 1.
        assert_eq!(call(&mut store, "seek", &[Val::I64(1), Val::I32(0)]), 0, "{mode:?}");
        assert_eq!(u64_at(&store, 24), 3, "{mode:?}");
        assert_eq!(call(&mut store, "read3", &[]), 0, "{mode:?}");
        assert_eq!(&memory.data(&store)[64..67], b"lo ", "{mode:?}");
        // No fourth whence (EINVAL, 28).
        assert_eq!(call(&mut store, "seek", &[Val::I64(0), Val::I32(3)]), 28, "{mode:?}");

        // 56 bytes: the link count a u32 at 20, the size at 24; nothing
        // written past the struct.
        for stat in ["fd_stat", "path_stat"] {
            memory.data_mut(&mut store)[128..192].fill(0xaa);
            assert_eq!(call(&mut store, stat, &[]), 0, "{mode:?} {stat}");
            let bytes = &memory.data(&store)[128..192];
            assert_eq!(bytes[16], 4, "{mode:?} {stat}: a regular file");
            assert_eq!(u32::from_le_bytes(bytes[20..24].try_into().unwrap()), 1, "{mode:?} {stat}: one link");
            assert_eq!(u64_at(&store, 128 + 24), 14, "{mode:?} {stat}: the size");
            assert!(bytes[56..].iter().all(|&b| b == 0xaa), "{mode:?} {stat}: wrote past 56 bytes");
        }

        // The clock's fields after the identifier: a 1 ms wait, reported
        // with its userdata.
        let start = Instant::now();
        assert_eq!(call(&mut store, "sleep", &[]), 0, "{mode:?}");
        assert!(start.elapsed() >= Duration::from_millis(1), "{mode:?}: did not wait");
        assert_eq!(u64_at(&store, 320), 42, "{mode:?}: userdata");
        assert_eq!(memory.data(&store)[320 + 10], 0, "{mode:?}: a clock event");
        assert_eq!(u32::from_le_bytes(memory.data(&store)[360..364].try_into().unwrap()), 1, "{mode:?}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// `sock_accept` came with preview 1: a module importing it from
/// `wasi_unstable` is refused at link time, by name.
#[test]
fn preview_0_has_no_sock_accept() {
    let wasm =
        wat::parse_str(r#"(module (import "wasi_unstable" "sock_accept" (func (param i32 i32 i32) (result i32))))"#)
            .unwrap();
    let mut linker: Linker<()> = Linker::new();
    wasi::add_to_linker(&mut linker);
    let artifact = wasmc::compile(&wasm, &common::options(common::MODES[0])).unwrap();
    let module: Module = common::load(&artifact).unwrap();
    match linker.instantiate_pre(&module) {
        Err(e @ Error::Link(_)) => assert!(e.to_string().contains("sock_accept"), "{e}"),
        other => panic!("expected a link error, got {other:?}"),
    }
}
