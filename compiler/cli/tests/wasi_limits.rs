//! WASI calls are bound by the call's deadline: a huge `random_get` stops
//! soon and fills the program's memory in place (no host buffer of its
//! size), and a read on a FIFO or on stdin that nobody writes to is
//! interrupted (issue #11, finding 4 and "blocking WASI calls").

mod common;

use common::{i32s, interrupted};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use wasmc::{compile, CompileOptions};
use wasmc_loader::wasi::{self, WasiCtx};
use wasmc_loader::{Instance, Linker, Store, Val};

const PROGRAM: &str = r#"
(module
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  ;; 2 GiB and one page.
  (memory (export "memory") 32769)
  (data (i32.const 16) "pipe")
  (func (export "random") (param $len i32) (result i32)
    (call $random_get (i32.const 1024) (local.get $len)))
  (func (export "last_random_byte_is_zero") (result i32)
    (i32.eqz (i32.load8_u (i32.const 0x80000400))))
  (func (export "random_bytes_are_zero") (param $len i32) (result i32)
    (local $i i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (if (i32.load8_u (i32.add (i32.const 1024) (local.get $i))) (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (i32.const 1))
  ;; path_open of a path of $len bytes at 1024: the errno.
  (func (export "open_long") (param $len i32) (result i32)
    (call $path_open (i32.const 3) (i32.const 0) (i32.const 1024) (local.get $len)
      (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 32)))
  ;; Opens "pipe" in preopen 3 for reading and reads into $iovs iovecs
  ;; (5 bytes, then 64): the count, or minus the errno.
  (func (export "read_pipe") (param $iovs i32) (result i32)
    (local $e i32)
    (local.set $e (call $path_open (i32.const 3) (i32.const 0) (i32.const 16) (i32.const 4)
      (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 32)))
    (if (local.get $e) (then (return (i32.sub (i32.const 0) (local.get $e)))))
    (i32.store (i32.const 64) (i32.const 256))
    (i32.store (i32.const 68) (i32.const 5))
    (i32.store (i32.const 72) (i32.const 512))
    (i32.store (i32.const 76) (i32.const 64))
    (local.set $e (call $fd_read (i32.load (i32.const 32)) (i32.const 64) (local.get $iovs) (i32.const 48)))
    (if (local.get $e) (then (return (i32.sub (i32.const 0) (local.get $e)))))
    (i32.load (i32.const 48))))
"#;

fn instance(ctx: WasiCtx) -> (Store, Instance) {
    instance_with(ctx, CompileOptions::default())
}

fn instance_with(ctx: WasiCtx, options: CompileOptions) -> (Store, Instance) {
    let wasm = wat::parse_str(PROGRAM).expect("valid text");
    let module = common::load(&compile(&wasm, &options).expect("compiles")).expect("loads");
    let mut linker = Linker::new();
    wasi::add_to_linker(&mut linker);
    let mut store = Store::default();
    store.set_wasi(ctx);
    let instance = Instance::new(&mut store, &module, &linker).expect("instantiates");
    (store, instance)
}

/// A field of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("no {field}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_2_gib_random_get_stops_at_the_deadline_without_a_host_buffer() {
    let (mut store, instance) = instance(WasiCtx::builder().build().unwrap());
    store.set_call_timeout(Some(Duration::from_millis(20)));
    // Reset the peak resident size to the current one (Linux 4.0+), so
    // that only this call's peak counts.
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = if reset { status_kib("VmRSS:") } else { status_kib("VmHWM:") };
    let t0 = Instant::now();
    let message = interrupted(instance.call(&mut store, "random", &[Val::I32(i32::MIN)]));
    let elapsed = t0.elapsed();
    let grown_mib = status_kib("VmHWM:").saturating_sub(before) / 1024;
    assert!(message.starts_with("deadline exceeded"), "{message}");
    assert!(elapsed < Duration::from_secs(2), "a 2 GiB random_get ran {elapsed:?} with a 20 ms deadline");
    assert!(grown_mib < 512, "the peak resident size grew by {grown_mib} MiB for a 2 GiB random_get");
    // It stopped with a prefix written: the end of the buffer is untouched.
    store.set_call_timeout(None);
    assert_eq!(i32s(instance.call(&mut store, "last_random_byte_is_zero", &[]).unwrap()), vec![1]);
    // A small one completes.
    assert_eq!(i32s(instance.call(&mut store, "random", &[Val::I32(4096)]).unwrap()), vec![0]);
}

#[test]
fn random_get_costs_fuel_by_the_byte_and_an_unaffordable_one_writes_nothing() {
    let options = CompileOptions { fuel_metering: true, ..CompileOptions::default() };
    let (mut store, instance) = instance_with(WasiCtx::builder().build().unwrap(), options);
    store.set_fuel(1000);
    let message = interrupted(instance.call(&mut store, "random", &[Val::I32(1 << 20)]));
    assert!(message.starts_with("all fuel consumed"), "{message}");
    store.set_fuel(1 << 30);
    assert_eq!(i32s(instance.call(&mut store, "random_bytes_are_zero", &[Val::I32(1 << 20)]).unwrap()), vec![1]);
    // 64 bytes a unit, on top of the operators around the call.
    let mut used = |len: i32| {
        store.set_fuel(1_000_000);
        assert_eq!(i32s(instance.call(&mut store, "random", &[Val::I32(len)]).unwrap()), vec![0]);
        1_000_000 - store.fuel_remaining().unwrap()
    };
    assert_eq!(used(64_000) - used(0), 1000);
}

#[test]
fn a_2_gib_path_is_refused_without_a_host_copy() {
    // A real directory at descriptor 3: a bad descriptor is EBADF before
    // the path is looked at (the order the WASI testsuite expects).
    let dir = std::env::temp_dir().join(format!("wasmc-wasi-limits-{}-long-path", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (mut store, instance) = instance(preopened(&dir));
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = if reset { status_kib("VmRSS:") } else { status_kib("VmHWM:") };
    let errno = i32s(instance.call(&mut store, "open_long", &[Val::I32(i32::MAX - (1 << 16))]).unwrap());
    let grown_mib = status_kib("VmHWM:").saturating_sub(before) / 1024;
    assert!(grown_mib < 512, "the peak resident size grew by {grown_mib} MiB for a 2 GiB path");
    assert_eq!(errno, vec![37], "ENAMETOOLONG");
    std::fs::remove_dir_all(dir).unwrap();
}

/// A fresh directory holding a FIFO named `pipe`.
fn fifo_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wasmc-wasi-limits-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = std::ffi::CString::new(dir.join("pipe").into_os_string().into_encoded_bytes()).unwrap();
    // SAFETY: `path` is a valid NUL-terminated string.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0, "mkfifo");
    dir
}

fn preopened(dir: &Path) -> WasiCtx {
    WasiCtx::builder().preopen_dir(dir, "/data").unwrap().build().unwrap()
}

#[test]
fn a_read_on_a_fifo_nobody_writes_to_is_interrupted_by_the_deadline() {
    let dir = fifo_dir("silent");
    let (mut store, instance) = instance(preopened(&dir));
    store.set_call_timeout(Some(Duration::from_millis(50)));
    let t0 = Instant::now();
    let message = interrupted(instance.call(&mut store, "read_pipe", &[Val::I32(1)]));
    let elapsed = t0.elapsed();
    assert!(message.starts_with("deadline exceeded"), "{message}");
    assert!(elapsed >= Duration::from_millis(50), "interrupted early: {elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "interrupted late: {elapsed:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_read_on_a_fifo_still_waits_for_its_writer() {
    for timeout in [None, Some(Duration::from_secs(30))] {
        let dir = fifo_dir(&format!("writer-{}", timeout.is_some()));
        let (mut store, instance) = instance(preopened(&dir));
        store.set_call_timeout(timeout);
        let pipe = dir.join("pipe");
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            // Blocks until the program has the FIFO open for reading.
            std::fs::OpenOptions::new().write(true).open(pipe).unwrap().write_all(b"hello").unwrap();
        });
        let t0 = Instant::now();
        assert_eq!(i32s(instance.call(&mut store, "read_pipe", &[Val::I32(1)]).unwrap()), vec![5], "{timeout:?}");
        assert!(t0.elapsed() >= Duration::from_millis(100), "the read did not wait for the writer");
        writer.join().unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn a_read_that_got_data_returns_it_without_waiting_for_more() {
    let dir = fifo_dir("partial");
    let (mut store, instance) = instance(preopened(&dir));
    store.set_call_timeout(Some(Duration::from_secs(30)));
    let pipe = dir.join("pipe");
    let writer = std::thread::spawn(move || {
        let mut pipe = std::fs::OpenOptions::new().write(true).open(pipe).unwrap();
        pipe.write_all(b"hello").unwrap();
        // Open, silent: a second iovec must not wait for more.
        std::thread::sleep(Duration::from_secs(2));
    });
    let t0 = Instant::now();
    assert_eq!(i32s(instance.call(&mut store, "read_pipe", &[Val::I32(2)]).unwrap()), vec![5]);
    assert!(t0.elapsed() < Duration::from_millis(1500), "waited {:?} after reading", t0.elapsed());
    writer.join().unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

/// Reads stdin into a buffer; `proc_exit(3)` if the read returns at all.
const READS_STDIN: &str = r#"
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 64))
    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $proc_exit (i32.const 3))))
"#;

#[test]
fn a_read_on_an_idle_stdin_is_interrupted_by_wasmc_run_timeout() {
    let dir = std::env::temp_dir().join(format!("wasmc-wasi-limits-{}-stdin", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wat = dir.join("reads_stdin.wat");
    std::fs::write(&wat, READS_STDIN).unwrap();
    let t0 = Instant::now();
    let mut child = common::command(env!("CARGO_BIN_EXE_wasmc"))
        .args(["run", "--timeout", "100ms", wat.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Stdin stays open, and nothing is written to it.
    let stdin = child.stdin.take();
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(t0.elapsed() < Duration::from_secs(10), "took {:?}", t0.elapsed());
    assert_ne!(out.status.code(), Some(3), "the read returned: {stderr}");
    assert!(!out.status.success());
    assert!(stderr.contains("deadline exceeded"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Writes 64 KiB to stdout, over and over.
const FLOODS_STDOUT: &str = r#"
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 65536))
    (loop $again
      (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
      (br $again))))
"#;

/// A host whose stdout is a pipe nobody drains: the program's writes wait
/// for room only until the deadline (they once blocked the thread for
/// good, out of the deadline's reach).
#[test]
fn a_write_to_an_undrained_stdout_is_interrupted_by_wasmc_run_timeout() {
    let dir = std::env::temp_dir().join(format!("wasmc-wasi-limits-{}-stdout", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wat = dir.join("floods_stdout.wat");
    std::fs::write(&wat, FLOODS_STDOUT).unwrap();
    let t0 = Instant::now();
    let mut child = common::command(env!("CARGO_BIN_EXE_wasmc"))
        .args(["run", "--timeout", "200ms", wat.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Nobody reads stdout; wait for the exit without draining it.
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if t0.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("a write to a full stdout outlived the 200 ms deadline by 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(!status.success());
    assert!(stderr.contains("deadline exceeded"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}
