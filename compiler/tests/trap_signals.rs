//! A wasm trap is reported as `Error::Trap` whatever else happens in the
//! process: another thread loading and dropping modules at the same time
//! (hot reload under traffic), or a stray SIGSEGV, SIGBUS, SIGILL or SIGFPE
//! sent to the process before the trap. The failure these guard against is the process dying,
//! so each scenario runs in a child process (this test binary, started
//! again with an environment variable naming the case, under the test
//! runner's emulator if there is one: see `common::command`) and the parent
//! checks its exit status and what it printed.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmc::BoundsChecks;
use wasmc_loader::{Error, Instance, Linker, Module, Store, TrapKind, Val};

const CASE_VAR: &str = "WASMC_TRAP_SIGNAL_CASE";

/// Traps two ways: `unreachable` (SIGILL) and, in guard mode, an
/// out-of-bounds load that faults in the guard region (SIGSEGV).
const TRAPPING: &str = r#"
(module
  (memory 1)
  (func (export "unreachable") unreachable)
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0))))
"#;

/// What the reloading threads load, instantiate and drop: each cycle
/// registers and unregisters its code range. Compiled for explicit bounds
/// checks, whose memories reserve only their size: under qemu-user
/// (scripts/test-aarch64) every guard-mode memory costs the emulator 37 MB
/// for the rest of the process.
const RELOADED: &str = r#"
(module
  (memory 1)
  (func (export "answer") (result i32) (i32.const 42)))
"#;

/// How long the reload scenario runs.
const RELOAD_FOR: Duration = Duration::from_secs(5);

fn expect_trap(result: Result<Vec<Val>, Error>, kind: TrapKind) {
    match result {
        Err(Error::Trap(t)) => assert_eq!(t.kind, kind, "{t}"),
        other => panic!("expected a {kind:?} trap, got {other:?}"),
    }
}

/// Calls both trapping functions once and checks both traps.
fn trap_both_ways(store: &mut Store, instance: &Instance) {
    expect_trap(instance.call(&mut *store, "unreachable", &[]), TrapKind::UnreachableCodeReached);
    expect_trap(instance.call(store, "load", &[Val::I32(0x2_0000)]), TrapKind::MemoryOutOfBounds);
}

/// Threads that load, instantiate and drop in the reload scenario: more
/// threads than a small machine has cores, so a loader is often descheduled
/// in the middle of registering or unregistering its code.
const RELOADERS: usize = 8;

/// Threads that call trapping functions meanwhile, each in its own store.
const TRAPPERS: usize = 4;

/// Some threads load, instantiate and drop a module in a tight loop while
/// others keep calling functions that trap.
fn reload_while_trapping() {
    let reloaded = Arc::new(common::artifact(RELOADED, BoundsChecks::Explicit));
    let module = common::module(TRAPPING, BoundsChecks::Guard);
    let stop = Arc::new(AtomicBool::new(false));
    let reloaders: Vec<_> = (0..RELOADERS)
        .map(|_| {
            let (reloaded, stop) = (Arc::clone(&reloaded), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut cycles = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let module: Module = common::load(&reloaded).expect("loads");
                    let mut store = Store::default();
                    let instance = Instance::new(&mut store, &module, &Linker::new()).expect("instantiates");
                    let answer = instance.call(&mut store, "answer", &[]).expect("answers");
                    assert!(matches!(answer[..], [Val::I32(42)]), "{answer:?}");
                    drop(store);
                    drop(module);
                    cycles += 1;
                }
                cycles
            })
        })
        .collect();
    let trappers: Vec<_> = (0..TRAPPERS)
        .map(|_| {
            let module = module.clone();
            std::thread::spawn(move || {
                let mut store = Store::default();
                let instance = Instance::new(&mut store, &module, &Linker::new()).expect("instantiates");
                let start = Instant::now();
                let mut traps = 0u64;
                while start.elapsed() < RELOAD_FOR {
                    trap_both_ways(&mut store, &instance);
                    traps += 2;
                }
                traps
            })
        })
        .collect();
    let traps: u64 = trappers.into_iter().map(|t| t.join().expect("every call trapped as expected")).sum();
    stop.store(true, Ordering::Relaxed);
    let cycles: u64 = reloaders.into_iter().map(|r| r.join().expect("a reloading thread does not panic")).sum();
    assert!(cycles > 0 && traps > 0, "{cycles} reloads, {traps} traps");
    println!("reported {traps} traps during {cycles} reloads");
}

/// Sends `signal` to this thread three ways, each of which a handler must
/// tell from a fault by its `si_code <= 0`: as `kill` does (`SI_USER`, 0),
/// as `sigqueue` does (`SI_QUEUE`) and as `raise` does (`SI_TKILL`), then
/// traps: the loader's handler must still be there.
///
/// Each signal is directed at this thread, which runs its handler before
/// the sending call returns. A process-directed `kill` could land on the
/// test harness's main thread instead, whose handler may still be running
/// (between the previous handler's reset and ours being put back) when
/// this thread checks.
fn stray_signal_then_trap(signal: libc::c_int) {
    let module = common::module(TRAPPING, BoundsChecks::Guard);
    let mut store = Store::default();
    let instance = Instance::new(&mut store, &module, &Linker::new()).expect("instantiates");
    // The handlers are installed at the first call into wasm.
    trap_both_ways(&mut store, &instance);
    for code in [libc::SI_USER, libc::SI_QUEUE, libc::SI_TKILL] {
        send_to_this_thread(signal, code);
        assert!(handler_installed(signal), "the handler for signal {signal} was removed (si_code {code})");
        trap_both_ways(&mut store, &instance);
    }
    println!("reported traps after stray signals");
}

/// Sends `signal` to the calling thread with the given `si_code`, as
/// `rt_tgsigqueueinfo` lets a process do to itself.
fn send_to_this_thread(signal: libc::c_int, code: libc::c_int) {
    // SAFETY: `siginfo_t` is plain data that zeroes validly; the system
    // call only reads it, and the signal goes to this thread, whose handler
    // for it is the loader's.
    let sent = unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        info.si_signo = signal;
        info.si_code = code;
        libc::syscall(libc::SYS_rt_tgsigqueueinfo, libc::getpid(), libc::gettid(), signal, &info)
    };
    assert_eq!(sent, 0, "sending signal {signal}: {}", std::io::Error::last_os_error());
}

/// Whether `signal` has a handler (not the default action, not ignored).
fn handler_installed(signal: libc::c_int) -> bool {
    // SAFETY: only queries the current action into a zeroed local.
    let action = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(signal, std::ptr::null(), &mut action), 0);
        action
    };
    action.sa_sigaction != libc::SIG_DFL && action.sa_sigaction != libc::SIG_IGN
}

/// Runs in the child: the scenario its environment names.
#[test]
fn child_entry() {
    let Ok(case) = std::env::var(CASE_VAR) else { return };
    match case.as_str() {
        "reload" => reload_while_trapping(),
        "stray-sigill" => stray_signal_then_trap(libc::SIGILL),
        "stray-sigsegv" => stray_signal_then_trap(libc::SIGSEGV),
        "stray-sigbus" => stray_signal_then_trap(libc::SIGBUS),
        "stray-sigfpe" => stray_signal_then_trap(libc::SIGFPE),
        other => panic!("unknown case {other}"),
    }
}

/// Runs `case` in a child and checks that it exited normally after
/// printing `marker`.
fn run_child(case: &str, marker: &str) {
    let output = common::command(std::env::current_exe().unwrap())
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(CASE_VAR, case)
        .output()
        .unwrap();
    let stdout = common::text(&output.stdout);
    assert!(output.status.success(), "{case}: {:?}\n{stdout}\n{}", output.status, common::text(&output.stderr));
    assert!(stdout.contains(marker), "{case}: {stdout}");
}

#[test]
fn traps_are_reported_while_another_thread_loads_and_drops_modules() {
    run_child("reload", "traps during");
}

/// Runs a stray-signal case, except under an emulator: under qemu-user 7.2
/// (scripts/test-aarch64) these children died in about half the runs of a
/// host SIGSEGV of the emulator itself (no "uncaught target signal"
/// message), in the middle of its `kill` emulation, while a single-threaded
/// C program with a handler like the loader's passed every run. These
/// cases test the loader's handler against the real kernel.
fn run_stray_case(case: &str) {
    if std::env::var_os("WASMC_TEST_RUNNER").is_some_and(|runner| !runner.is_empty()) {
        eprintln!("{case}: skipped under an emulator");
        return;
    }
    run_child(case, "reported traps after stray signals");
}

#[test]
fn a_stray_sigill_does_not_remove_the_trap_handler() {
    run_stray_case("stray-sigill");
}

#[test]
fn a_stray_sigsegv_does_not_remove_the_trap_handler() {
    run_stray_case("stray-sigsegv");
}

#[test]
fn stray_sigbus_and_sigfpe_do_not_remove_the_trap_handlers() {
    run_stray_case("stray-sigbus");
    run_stray_case("stray-sigfpe");
}
