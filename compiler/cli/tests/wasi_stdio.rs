//! A server's standard streams for a WASI program: stdin from bytes it
//! gives, stdout and stderr into writers it gives (an `OutputBuffer`, or
//! its own), checked through small modules that make the calls directly
//! and through the corpus's C, C++ and Rust programs, in both bounds-check
//! modes.

mod common;

use std::io::Write;
use std::path::PathBuf;

use wasmc_loader::wasi::{self, OutputBuffer, WasiCtx};
use wasmc_loader::{Error, Instance, Linker, Module, Store, Val};

/// Memory: 0 an iovec (buffer at 64 of 7 bytes: several reads per
/// megabyte); 8 bytes read or written; 16 an iovec of `len` bytes at 1024
/// for `write`; 64.. the buffer; 128 a fdstat; 256 a subscription; 320 an
/// event; 360 the event count; 400 a seek result; 1024.. bytes to write.
const PROGRAM: &str = r#"
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_seek" (func $fd_seek (param i32 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $fd_fdstat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\40\00\00\00\07\00\00\00")
  (data (i32.const 1000) "done")
  ;; Copies stdin to stdout 7 bytes at a time, then writes "done" to
  ;; stderr. Returns the first failing errno, or 0.
  (func (export "cat") (result i32) (local $e i32)
    (block $eof
      (loop $more
        (local.set $e (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
        (if (local.get $e) (then (return (local.get $e))))
        (br_if $eof (i32.eqz (i32.load (i32.const 8))))
        ;; write back what was read: the same iovec, shortened.
        (i32.store (i32.const 4) (i32.load (i32.const 8)))
        (local.set $e (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
        (i32.store (i32.const 4) (i32.const 7))
        (if (local.get $e) (then (return (local.get $e))))
        (br $more)))
    (i32.store (i32.const 16) (i32.const 1000))
    (i32.store (i32.const 20) (i32.const 4))
    (call $fd_write (i32.const 2) (i32.const 16) (i32.const 1) (i32.const 8)))
  ;; One fd_write of `len` bytes from 1024 to `fd`: the errno; the count
  ;; is at 8.
  (func (export "write") (param $fd i32) (param $len i32) (result i32)
    (i32.store (i32.const 16) (i32.const 1024))
    (i32.store (i32.const 20) (local.get $len))
    (call $fd_write (local.get $fd) (i32.const 16) (i32.const 1) (i32.const 8)))
  (func (export "read") (param $fd i32) (result i32)
    (call $fd_read (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))
  (func (export "written") (result i32) (i32.load (i32.const 8)))
  (func (export "seek") (param $fd i32) (result i32)
    (call $fd_seek (local.get $fd) (i64.const 0) (i32.const 1) (i32.const 400)))
  ;; The file type in fd_fdstat_get, or 100 + the errno.
  (func (export "filetype") (param $fd i32) (result i32) (local $e i32)
    (local.set $e (call $fd_fdstat_get (local.get $fd) (i32.const 128)))
    (if (result i32) (local.get $e)
      (then (i32.add (i32.const 100) (local.get $e)))
      (else (i32.load8_u (i32.const 128)))))
  ;; Polls descriptor 0 for reading: the bytes ready, or -1 - the errno.
  (func (export "poll_stdin") (result i64) (local $e i32)
    (i64.store (i32.const 256) (i64.const 7))         ;; userdata
    (i32.store8 (i32.const 264) (i32.const 1))        ;; fd_read
    (i32.store (i32.const 272) (i32.const 0))         ;; descriptor 0
    (local.set $e (call $poll_oneoff (i32.const 256) (i32.const 320) (i32.const 1) (i32.const 360)))
    (if (local.get $e) (then (return (i64.sub (i64.const -1) (i64.extend_i32_u (local.get $e))))))
    (if (i32.load16_u (i32.const 328)) (then (return (i64.sub (i64.const -1) (i64.load16_u (i32.const 328))))))
    (i64.load (i32.const 336))))
"#;

const ESUCCESS: i32 = 0;
const EBADF: i32 = 8;
const EIO: i32 = 29;
const ENOSPC: i32 = 51;
const EPIPE: i32 = 64;
const ESPIPE: i32 = 70;
/// `filetype::UNKNOWN` and `filetype::CHARACTER_DEVICE`.
const UNKNOWN: i32 = 0;
const CHARACTER_DEVICE: i32 = 2;

fn i32_of(results: Vec<Val>) -> i32 {
    match results[..] {
        [Val::I32(v)] => v,
        ref other => panic!("expected one i32, got {other:?}"),
    }
}

fn linker() -> Linker {
    let mut linker = Linker::new();
    wasi::add_to_linker(&mut linker);
    linker
}

/// `PROGRAM` instantiated in each bounds-check mode with the context
/// `ctx()` builds.
fn each_mode(ctx: impl Fn() -> WasiCtx, mut check: impl FnMut(&mut Store, &Instance, &str)) {
    let wasm = wat::parse_str(PROGRAM).unwrap();
    let linker = linker();
    for mode in common::MODES {
        let module: Module = common::load(&wasmc::compile(&wasm, &common::options(mode)).unwrap()).unwrap();
        let mut store = Store::default();
        store.set_wasi(ctx());
        let instance = Instance::new(&mut store, &module, &linker).unwrap();
        check(&mut store, &instance, &format!("{mode:?}"));
    }
}

fn call(store: &mut Store, instance: &Instance, name: &str, args: &[Val]) -> i32 {
    i32_of(instance.call(store, name, args).unwrap())
}

#[test]
fn a_program_reads_the_given_bytes_and_its_output_is_kept() {
    // A megabyte of every byte value: more than one 64 KiB host chunk.
    let input: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 7 + i / 251) as u8).collect();
    let (stdout, stderr) = (OutputBuffer::new(2 << 20), OutputBuffer::new(64));
    each_mode(
        || WasiCtx::builder().stdin_bytes(input.clone()).stdout(stdout.clone()).stderr(stderr.clone()).build().unwrap(),
        |store, instance, mode| {
            assert_eq!(call(store, instance, "cat", &[]), ESUCCESS, "{mode}");
            assert!(stdout.take() == input, "{mode}: stdout differs from stdin");
            assert_eq!(stderr.take(), b"done", "{mode}");
            // At the end, stdin stays at its end.
            assert_eq!(call(store, instance, "read", &[Val::I32(0)]), ESUCCESS, "{mode}");
            assert_eq!(call(store, instance, "written", &[]), 0, "{mode}");
        },
    );
}

#[test]
fn a_full_output_buffer_takes_what_fits_then_fails_with_enospc() {
    let stdout = OutputBuffer::new(2500);
    each_mode(
        || WasiCtx::builder().stdout(stdout.clone()).build().unwrap(),
        |store, instance, mode| {
            let mut counts = Vec::new();
            for _ in 0..4 {
                let errno = call(store, instance, "write", &[Val::I32(1), Val::I32(1000)]);
                counts.push((errno, if errno == 0 { call(store, instance, "written", &[]) } else { -1 }));
            }
            assert_eq!(counts, [(0, 1000), (0, 1000), (0, 500), (ENOSPC, -1)], "{mode}");
            assert_eq!(stdout.len(), 2500, "{mode}");
            // Taking the bytes makes room again.
            stdout.take();
            assert_eq!(call(store, instance, "write", &[Val::I32(1), Val::I32(1000)]), ESUCCESS, "{mode}");
            assert_eq!(stdout.take().len(), 1000, "{mode}");
        },
    );
}

#[test]
fn the_embedders_streams_are_not_terminals_cannot_seek_and_go_one_way() {
    let ctx = || WasiCtx::builder().stdin_bytes(&b"twelve bytes"[..]).stdout(OutputBuffer::new(16)).build().unwrap();
    each_mode(ctx, |store, instance, mode| {
        let filetype = |store: &mut Store, fd: i32| call(store, instance, "filetype", &[Val::I32(fd)]);
        assert_eq!(filetype(store, 0), UNKNOWN, "{mode}");
        assert_eq!(filetype(store, 1), UNKNOWN, "{mode}");
        // Descriptor 2 was given nothing: closed.
        assert_eq!(filetype(store, 2), 100 + EBADF, "{mode}");
        assert_eq!(call(store, instance, "write", &[Val::I32(2), Val::I32(1)]), EBADF, "{mode}");
        assert_eq!(call(store, instance, "seek", &[Val::I32(0)]), ESPIPE, "{mode}");
        assert_eq!(call(store, instance, "seek", &[Val::I32(1)]), ESPIPE, "{mode}");
        assert_eq!(call(store, instance, "read", &[Val::I32(1)]), EBADF, "{mode}");
        assert_eq!(call(store, instance, "write", &[Val::I32(0), Val::I32(1)]), EBADF, "{mode}");
        // Ready at once, with the bytes left.
        let poll = |store: &mut Store| match instance.call(store, "poll_stdin", &[]).unwrap()[..] {
            [Val::I64(v)] => v,
            ref other => panic!("{other:?}"),
        };
        assert_eq!(poll(store), 12, "{mode}");
        assert_eq!(call(store, instance, "read", &[Val::I32(0)]), ESUCCESS, "{mode}");
        assert_eq!(call(store, instance, "written", &[]), 7, "{mode}");
        assert_eq!(poll(store), 5, "{mode}");
    });
    // The host's own streams stay character devices.
    each_mode(
        || WasiCtx::builder().inherit_stdin().build().unwrap(),
        |store, instance, mode| {
            assert_eq!(call(store, instance, "filetype", &[Val::I32(0)]), CHARACTER_DEVICE, "{mode}")
        },
    );
}

/// A writer that misbehaves one way.
#[derive(Clone, Copy)]
enum Faulty {
    /// Fails with a host errno.
    Errno(i32),
    /// Fails with an error that carries no errno.
    Other,
    /// Claims to have taken more than it was given.
    Overclaims,
}

impl Write for Faulty {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match *self {
            Faulty::Errno(e) => Err(std::io::Error::from_raw_os_error(e)),
            Faulty::Other => Err(std::io::Error::other("the log is gone")),
            Faulty::Overclaims => Ok(buf.len() + 1000),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A host bug in the writer is an errno to the program, never a crash or
/// a count past what it wrote.
#[test]
fn a_failing_or_lying_writer_is_an_errno_or_an_honest_count() {
    for (faulty, expected) in
        [(Faulty::Errno(libc::EPIPE), (EPIPE, -1)), (Faulty::Other, (EIO, -1)), (Faulty::Overclaims, (ESUCCESS, 300))]
    {
        each_mode(
            || WasiCtx::builder().stdout(faulty).build().unwrap(),
            |store, instance, mode| {
                let errno = call(store, instance, "write", &[Val::I32(1), Val::I32(300)]);
                let written = if errno == 0 { call(store, instance, "written", &[]) } else { -1 };
                assert_eq!((errno, written), expected, "{mode}");
            },
        );
    }
}

fn corpus(name: &str) -> PathBuf {
    PathBuf::from(format!("{}/../../corpus/wasi/{name}", env!("CARGO_MANIFEST_DIR")))
}

/// Runs a corpus program's `_start` with `ctx`: its exit code.
fn run_corpus(name: &str, mode: wasmc::BoundsChecks, ctx: WasiCtx) -> i32 {
    let wasm = std::fs::read(corpus(name)).unwrap();
    let module: Module = common::load(&wasmc::compile(&wasm, &common::options(mode)).unwrap()).unwrap();
    let mut store = Store::default();
    store.set_wasi(ctx);
    let instance = Instance::new(&mut store, &module, &linker()).unwrap();
    match instance.call(&mut store, "_start", &[]) {
        Ok(_) => 0,
        Err(Error::Exit(code)) => code,
        Err(e) => panic!("{name}: {e}"),
    }
}

/// The C program (wasi-libc's `printf`, which buffers and writes at exit),
/// the Rust one (`println!`, a write a line) and the C++ one (iostreams
/// reading stdin a line at a time) print into the server's buffers what
/// they print on a terminal; the C++ one, what its native build printed.
#[test]
fn c_cpp_and_rust_programs_print_into_the_servers_buffers() {
    let dir = std::env::temp_dir().join(format!("wasmc-wasi-stdio-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("data/hello.txt"), "hi from the host\n").unwrap();
    for mode in common::MODES {
        let stdout = OutputBuffer::new(1 << 16);
        let ctx = WasiCtx::builder()
            .args(["hello", "one"])
            .stdout(stdout.clone())
            .preopen_dir(dir.join("data"), "/data")
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(run_corpus("hello_c.wasm", mode, ctx), 3, "{mode:?}");
        assert_eq!(
            common::text(&stdout.take()),
            "hello from c, argc=2\narg 1: one\nread: hi from the host\nescape: denied\n",
            "{mode:?}"
        );

        let ctx = WasiCtx::builder()
            .args(["wasi_demo", "hello.txt"])
            .stdout(stdout.clone())
            .preopen_dir(dir.join("data"), "/data")
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(run_corpus("wasi_demo.wasm", mode, ctx), 0, "{mode:?}");
        let printed = common::text(&stdout.take());
        assert!(printed.starts_with("hello from wasi\nargs: hello.txt\n"), "{mode:?}: {printed}");
        assert!(printed.contains("read /data/hello.txt: hi from the host\n"), "{mode:?}: {printed}");

        let stderr = OutputBuffer::new(64);
        let ctx = WasiCtx::builder()
            .args(["words", "one", "two"])
            .stdin_bytes(std::fs::read(corpus("words.input")).unwrap())
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .preopen_dir(dir.join("data"), "/data")
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(run_corpus("words_cpp.wasm", mode, ctx), 0, "{mode:?}");
        let expected = std::fs::read_to_string(corpus("words_cpp.expected")).unwrap();
        assert_eq!(common::text(&stdout.take()), expected, "{mode:?}");
        assert_eq!(stderr.take(), b"done\n", "{mode:?}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}
