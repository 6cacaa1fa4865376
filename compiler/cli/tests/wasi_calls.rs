//! Every WASI preview-1 call and the cases of issue #13 (rights, calls
//! that were ENOSYS, the order of argument checks, deadlines), through
//! programs in corpus/wasi built with `rustc --target wasm32-wasip1` and
//! with clang + wasi-libc, run by `wasmc run` (guard-page bounds checks)
//! and by `wasmc compile --bounds-checks explicit` + `wasmrun`.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn corpus(name: &str) -> PathBuf {
    PathBuf::from(format!("{}/../../corpus/wasi/{name}", env!("CARGO_MANIFEST_DIR")))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh empty directory to preopen as `/data`.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wasmc-wasi-calls-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("data")).unwrap();
    dir
}

/// How a program runs: `wasmc run`, or compiled with explicit bounds
/// checks and run by `wasmrun`.
#[derive(Clone, Copy, Debug)]
enum Runner {
    WasmcRun,
    WasmrunExplicit,
}

const RUNNERS: [Runner; 2] = [Runner::WasmcRun, Runner::WasmrunExplicit];

/// The command that runs `program` with `flags` (before it) and `args`.
fn command(runner: Runner, program: &str, flags: &[String], args: &[&str], work: &Path) -> Command {
    let wasmc = env!("CARGO_BIN_EXE_wasmc");
    match runner {
        Runner::WasmcRun => {
            let mut c = common::command(wasmc);
            c.arg("run").args(flags).arg(corpus(program)).args(args);
            c
        }
        Runner::WasmrunExplicit => {
            let artifact = work.join(format!("{program}.cwasm"));
            let compiled = common::command(wasmc)
                .args(["compile", "--bounds-checks", "explicit"])
                .arg(corpus(program))
                .arg("-o")
                .arg(&artifact)
                .output()
                .unwrap();
            assert!(compiled.status.success(), "{}", text(&compiled.stderr));
            let mut c = common::command(PathBuf::from(wasmc).with_file_name("wasmrun"));
            c.args(flags).arg(&artifact).args(args);
            c
        }
    }
}

/// Runs with `stdin` fed through a pipe (closed after it).
fn run(runner: Runner, program: &str, flags: &[String], args: &[&str], work: &Path, stdin: &[u8]) -> Output {
    let mut child = command(runner, program, flags, args, work)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn data_flag(dir: &Path) -> Vec<String> {
    vec!["--dir".to_string(), format!("{}::/data", dir.join("data").display())]
}

const WASI_CALLS: &str = r#"preopen filetype 3
preopen has FD_READ: false
preopen has FD_WRITE: false
preopen has FD_SEEK: false
preopen has FD_FILESTAT_SET_SIZE: false
preopen has PATH_OPEN and FD_READDIR: true
preopen passes on FD_READ|FD_WRITE: true
open . with the preopen's rights: OK, same rights: true
open . O_DIRECTORY with FD_WRITE: EISDIR
read-only file filetype 4, FD_READ true, FD_WRITE false
write to a read-only file: ENOTCAPABLE
drop FD_READ: OK
read after dropping FD_READ: ENOTCAPABLE
regain FD_READ: ENOTCAPABLE
fd_write of no iovecs to fd 99: EBADF
fd_write of no iovecs to stdout: OK
fd_allocate on a directory: EISDIR
fd_read on a directory: EISDIR
fd_sync on a directory: OK
fd_datasync on a directory: OK
path_unlink_file sub/: EISDIR
path_unlink_file file.txt/: ENOTDIR
fd_filestat_set_times ATIM|ATIM_NOW: EINVAL
fd_filestat_set_times MTIM|MTIM_NOW: EINVAL
path_filestat_set_times unknown flag: EINVAL
fd_advise sequential: OK
fd_advise advice 9: EINVAL
fd_allocate to 100 bytes: OK
size after fd_allocate: 100
fd_allocate within the file: OK
size still: 100
fd_fdstat_set_flags APPEND: OK
flags now: 1
size after an appending write at 0: 103
fd_fdstat_set_flags 0: OK
fd_filestat_set_times ATIM|MTIM: OK
atim 1000000000000000000 mtim 1500000000123456789
fd_filestat_set_times MTIM_NOW: OK
atim kept: true, mtim now: true
path_filestat_set_times: OK
atim 5000000000 mtim 7000000000
path_link file.txt hard.txt: OK
nlink of file.txt: 2
path_link onto an existing name: EEXIST
path_link to ../escape: ENOTCAPABLE
path_symlink file.txt soft: OK
soft -> file.txt
size through soft: 103
path_symlink ../outside out: OK
follow out: ENOTCAPABLE
open out following it: ENOTCAPABLE
open out not following it: ELOOP
path_symlink /etc/passwd abs: ENOTCAPABLE
path_symlink x ../escape: ENOTCAPABLE
poll_oneoff with no subscriptions: EINVAL
relative clock: events [(7, 0, 0, 0)], waited 30 ms: true
absolute clock: events [(8, 0, 0, 0)], waited until then: true
realtime clock in the past: [(9, 0, 0, 0)]
file readable: [(1, 0, 1, 99)]
stdout (a pipe) writable: [(3, 0, 2, 0)]
stdin (a pipe with data) readable: [(4, 0, 1)]
bad descriptor: [(5, 8, 1, 0)]
sock_accept on a directory: ENOTSOCK
sock_recv on stdin: ENOTSOCK
sock_send on stdout: ENOTSOCK
sock_shutdown on stdout: ENOTSOCK
sock_shutdown on fd 99: EBADF
proc_raise: ENOTSUP
done
"#;

#[test]
fn every_call_and_case_from_rust_in_both_modes() {
    for runner in RUNNERS {
        let dir = scratch(&format!("rust-{runner:?}"));
        let out = run(runner, "wasi_calls.wasm", &data_flag(&dir), &[], &dir, b"ping\n");
        assert_eq!(out.status.code(), Some(0), "{runner:?}: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        for (got, want) in stdout.lines().zip(WASI_CALLS.lines()) {
            assert_eq!(got, want, "{runner:?}");
        }
        assert_eq!(stdout, WASI_CALLS, "{runner:?}");
        // Nothing was left behind, and nothing outside was touched.
        assert_eq!(std::fs::read_dir(dir.join("data")).unwrap().count(), 0, "{runner:?}");
        assert!(!dir.join("escape").exists() && !dir.join("outside").exists());
        std::fs::remove_dir_all(dir).unwrap();
    }
}

const CALLS_C: &str = "\
open: ok
write: 5
posix_fallocate 0+64: Success
size: 64
posix_fadvise willneed: Success
posix_fadvise bad: Invalid argument
fcntl O_APPEND: ok
flags have O_APPEND: 1
size after appending: 65
futimens: ok
atime 1000.000000005 mtime 2000.000000007
utimensat: ok
atime 1000 mtime 3000
link: ok
nlink: 2
link again: File exists
symlink: ok
readlink: 5 f.txt
stat through soft: ok
symlink ../../etc/passwd: ok
open through it: Capabilities insufficient
unlink d/: Is a directory
write 0 bytes to fd 99: Bad file descriptor
shutdown a file: Not a socket
nanosleep: ok
slept 20 ms: 1
usleep 10 ms: 1
poll stdin and a file: 2, stdin readable 1, file readable 1
poll stdout writable: 1 1
poll nothing, 15 ms: 0, waited 1
done
";

#[test]
fn every_call_and_case_from_c_with_wasi_libc_in_both_modes() {
    for runner in RUNNERS {
        let dir = scratch(&format!("c-{runner:?}"));
        let out = run(runner, "calls_c.wasm", &data_flag(&dir), &[], &dir, b"data\n");
        assert_eq!(out.status.code(), Some(0), "{runner:?}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), CALLS_C, "{runner:?}");
        assert_eq!(std::fs::read_dir(dir.join("data")).unwrap().count(), 0, "{runner:?}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// `std::thread::sleep` (poll_oneoff) prints what the native build of the
/// same source printed (`sleep.expected`, from scripts/build-corpus).
#[test]
fn std_thread_sleep_prints_what_it_prints_natively() {
    let native = std::fs::read_to_string(corpus("sleep.expected")).unwrap();
    for runner in RUNNERS {
        let dir = scratch(&format!("sleep-{runner:?}"));
        let out = run(runner, "sleep.wasm", &[], &[], &dir, b"");
        assert_eq!(out.status.code(), Some(0), "{runner:?}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), native, "{runner:?}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// `File::set_times` (fd_filestat_set_times) prints what the native build
/// printed (`set_times.expected`).
#[test]
fn file_set_times_prints_what_it_prints_natively() {
    let native = std::fs::read_to_string(corpus("set_times.expected")).unwrap();
    for runner in RUNNERS {
        let dir = scratch(&format!("times-{runner:?}"));
        let out = run(runner, "set_times.wasm", &data_flag(&dir), &["/data"], &dir, b"");
        assert_eq!(out.status.code(), Some(0), "{runner:?}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), native, "{runner:?}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// A wait never outlives the call's deadline: a long sleep, and a
/// poll_oneoff on a stdin that never gets data (its writer stays open),
/// both end soon after `--timeout` with an interrupted trap.
#[test]
fn waits_end_at_the_deadline() {
    for runner in RUNNERS {
        let dir = scratch(&format!("deadline-{runner:?}"));
        let flags = vec!["--timeout".to_string(), "300ms".to_string()];
        let start = Instant::now();
        let out = run(runner, "sleep.wasm", &flags, &["60000"], &dir, b"");
        assert_ne!(out.status.code(), Some(0), "{runner:?}");
        assert!(text(&out.stderr).contains("interrupted: deadline exceeded"), "{runner:?}: {}", text(&out.stderr));
        assert!(start.elapsed() < Duration::from_secs(10), "{runner:?}: slept {:?}", start.elapsed());

        let start = Instant::now();
        let mut child = command(runner, "wasi_calls.wasm", &flags, &["wait-stdin"], &dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let writer = child.stdin.take(); // held open: stdin never becomes readable
        let out = child.wait_with_output().unwrap();
        drop(writer);
        assert_eq!(text(&out.stdout), "waiting for stdin\n", "{runner:?}");
        assert!(text(&out.stderr).contains("interrupted: deadline exceeded"), "{runner:?}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("poll_oneoff"), "{runner:?}: {}", text(&out.stderr));
        assert!(start.elapsed() < Duration::from_secs(10), "{runner:?}: waited {:?}", start.elapsed());
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// Sockets exist only when the embedder grants a listener: the program
/// accepts a connection on it, peeks, receives until the peer shuts down,
/// echoes and shuts down; a blocked accept ends at the deadline.
#[test]
fn a_granted_listener_serves_a_connection_in_both_modes() {
    use wasmc_loader::wasi::{self, WasiCtx};
    use wasmc_loader::{Error, Instance, Linker, Module, Store, TrapKind};

    let wasm = std::fs::read(corpus("sock_echo.wasm")).unwrap();
    let mut linker = Linker::new();
    wasi::add_to_linker(&mut linker);
    for mode in common::MODES {
        let artifact = wasmc::compile(&wasm, &common::options(mode)).unwrap();
        let module: Module = common::load(&artifact).unwrap();

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.write_all(b"ping").unwrap();
            s.shutdown(std::net::Shutdown::Write).unwrap();
            let mut reply = String::new();
            s.read_to_string(&mut reply).unwrap();
            reply
        });
        let mut store = Store::default();
        store.set_wasi(WasiCtx::builder().preopen_socket(listener).build().unwrap());
        store.set_call_timeout(Some(Duration::from_secs(20)));
        let instance = Instance::new(&mut store, &module, &linker).unwrap();
        instance.call(&mut store, "_start", &[]).unwrap();
        assert_eq!(client.join().unwrap(), "echo: ping", "{mode:?}");

        // Nobody connects: the accept waits until the deadline, then traps.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut store = Store::default();
        store.set_wasi(WasiCtx::builder().preopen_socket(listener).build().unwrap());
        store.set_call_timeout(Some(Duration::from_millis(200)));
        let instance = Instance::new(&mut store, &module, &linker).unwrap();
        let start = Instant::now();
        match instance.call(&mut store, "_start", &[]) {
            Err(Error::Trap(t)) if t.kind == TrapKind::Interrupted => {
                assert!(t.to_string().contains("sock_accept"), "{t}")
            }
            other => panic!("{mode:?}: expected an interrupted trap, got {other:?}"),
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{mode:?}");
    }
}
