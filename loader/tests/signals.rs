//! Faults outside wasm still reach the handlers installed before the
//! loader's. Each case runs in a child process (this test binary, started
//! again with an environment variable naming the case, under the test
//! runner's emulator if there is one: see `common::command`).

mod common;

const CASE_VAR: &str = "WASMC_LOADER_SIGNAL_CASE";

extern "C" fn previous_handler(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
    const MARKER: &[u8] = b"previous handler ran\n";
    // SAFETY: write and _exit are async-signal-safe.
    unsafe {
        libc::write(2, MARKER.as_ptr().cast(), MARKER.len());
        libc::_exit(42);
    }
}

fn install_previous_handler() {
    // SAFETY: installing a handler with the SA_SIGINFO signature.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = previous_handler as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGSEGV, &action, std::ptr::null_mut()), 0);
    }
}

fn fault() {
    // SAFETY: deliberately not safe: reads address 0x10 to raise SIGSEGV.
    unsafe {
        std::ptr::read_volatile(0x10 as *const u8);
    }
}

/// Runs in the child: what the case name says, then faults.
#[test]
fn child_entry() {
    let Ok(case) = std::env::var(CASE_VAR) else { return };
    match case.as_str() {
        "custom" => install_previous_handler(),
        "default" => {
            // SAFETY: resetting SIGSEGV to the default action.
            unsafe { libc::signal(libc::SIGSEGV, libc::SIG_DFL) };
        }
        _ => unreachable!(),
    }
    wasmc_loader::init_trap_handlers();
    let _store = wasmc_loader::Store::default();
    fault();
    // Unreachable when the fault is forwarded correctly.
    std::process::exit(7);
}

fn run_child(case: &str) -> std::process::Output {
    common::command(std::env::current_exe().unwrap())
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(CASE_VAR, case)
        .output()
        .unwrap()
}

#[test]
fn a_fault_outside_wasm_reaches_the_previous_handler() {
    let output = run_child("custom");
    assert_eq!(output.status.code(), Some(42), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("previous handler ran"));
}

#[test]
fn a_fault_outside_wasm_with_the_default_action_kills_the_process() {
    use std::os::unix::process::ExitStatusExt;
    let output = run_child("default");
    assert_eq!(output.status.signal(), Some(libc::SIGSEGV), "{output:?}");
}
