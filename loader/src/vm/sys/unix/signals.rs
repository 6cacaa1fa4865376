//! Signal handlers that turn faults in wasm code into traps.
//!
//! [`init`] installs one handler for SIGSEGV, SIGBUS, SIGILL and SIGFPE,
//! once per process, keeping the handlers that were there before. The
//! handler asks [`crate::vm::traphandler::handle_fault`] whether the fault is a
//! wasm trap; if so that function unwinds and never returns. Every other
//! fault goes to the previous handler exactly as the kernel would have
//! delivered it.
//!
//! A signal another process or thread *sent* (`kill`, `raise`, `sigqueue`,
//! `tgkill`: `si_code <= 0`) is not a fault: it is never taken for a wasm
//! trap, and it never uninstalls our handler. It goes to the previous
//! handler if that was a function (and if that handler resets the action,
//! as Rust's standard library's does, ours is put back: until then, a fault
//! of the same signal on another thread would get the default action); if
//! it was the default action (terminate, for all four signals) or "ignore",
//! it is ignored, so the process and the trap handler both stay. The flags
//! include `SA_RESTART`, so such a signal does not make a blocking system
//! call (a WASI read) fail with `EINTR`.
//!
//! [`ensure_alt_stack`] gives each thread that enters wasm a signal stack,
//! so a fault caused by running out of stack can still be handled.

use std::cell::{Cell, UnsafeCell};
use std::mem::MaybeUninit;
use std::sync::Once;

use super::mmap::{page_size, Mmap, Protection};

const SIGNALS: [libc::c_int; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];

/// The handlers installed before ours, indexed like [`SIGNALS`].
struct PreviousHandlers(UnsafeCell<[MaybeUninit<libc::sigaction>; 4]>);

// SAFETY: written only inside `INIT.call_once`, by the `sigaction` call that
// installs our handler; read afterwards only (by the handler).
unsafe impl Sync for PreviousHandlers {}

static PREVIOUS: PreviousHandlers = PreviousHandlers(UnsafeCell::new([const { MaybeUninit::zeroed() }; 4]));
static INIT: Once = Once::new();

/// Installs the trap handlers (once per process).
pub(crate) fn init() {
    INIT.call_once(|| {
        for (i, &signal) in SIGNALS.iter().enumerate() {
            // SAFETY: `sigaction` is plain data that zeroes validly; the
            // handler has the SA_SIGINFO signature; the previous action is
            // written into its slot by the same call, before any fault could
            // make our handler read it for this signal.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = handler as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER | libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                let slot = (*PREVIOUS.0.get())[i].as_mut_ptr();
                libc::sigaction(signal, &action, slot);
            }
        }
    });
}

extern "C" fn handler(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let sent = unsafe { (*info).si_code } <= 0;
    if !sent {
        // SAFETY: the kernel passes a valid siginfo and ucontext for
        // SA_SIGINFO handlers.
        let (pc, fault_address) = unsafe { (program_counter(context), (*info).si_addr() as usize) };
        crate::vm::traphandler::handle_fault(signal, pc, fault_address);
    }
    // Not a wasm trap.
    // SAFETY: forwarding the arguments we were given.
    unsafe { forward(signal, info, context, sent) }
}

/// The interrupted program counter.
///
/// # Safety
/// `context` must be the `ucontext_t` the kernel passed to the handler.
unsafe fn program_counter(context: *mut libc::c_void) -> usize {
    let uc = context.cast::<libc::ucontext_t>();
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: per this function's contract.
        unsafe { (*uc).uc_mcontext.gregs[libc::REG_RIP as usize] as usize }
    }
    #[cfg(target_arch = "aarch64")]
    {
        // SAFETY: per this function's contract.
        unsafe { (*uc).uc_mcontext.pc as usize }
    }
}

/// Delivers the signal to the handler installed before ours. `sent` says
/// that it was sent (`si_code <= 0`) rather than caused by a fault.
///
/// # Safety
/// The arguments must be the ones the kernel passed to our handler.
unsafe fn forward(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void, sent: bool) {
    let Some(i) = SIGNALS.iter().position(|&s| s == signal) else { return };
    // SAFETY: the slot was written when our handler was installed (which is
    // how this handler came to run) and is never written again.
    let previous = unsafe { (*PREVIOUS.0.get())[i].assume_init_ref() };
    let action = previous.sa_sigaction;
    if action == libc::SIG_IGN {
        return;
    }
    if action == libc::SIG_DFL {
        if sent {
            // Nothing to re-execute: applying the default action would mean
            // terminating the process and uninstalling our handler for good
            // (the next wasm trap would kill the process). Keep both.
            return;
        }
        // A genuine fault outside wasm. Restore the default action and
        // return: the faulting instruction runs again and the kernel
        // applies the default (usually a core dump), as if we had never
        // been installed.
        // SAFETY: installing the previously saved action for this signal.
        unsafe { libc::sigaction(signal, previous, std::ptr::null_mut()) };
        return;
    }
    // The action in force now (ours), to put back if the previous handler
    // changes it while handling a sent signal.
    let ours = if sent {
        // SAFETY: only queries the action into a zeroed local.
        unsafe {
            let mut current: libc::sigaction = std::mem::zeroed();
            (libc::sigaction(signal, std::ptr::null(), &mut current) == 0).then_some(current)
        }
    } else {
        None
    };
    if previous.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous owner installed a three-argument handler.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(action) };
        f(signal, info, context);
    } else {
        // SAFETY: the previous owner installed a one-argument handler.
        let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(action) };
        f(signal);
    }
    if let Some(ours) = ours {
        // A handler written for faults may reset the action to the default
        // so that the fault, re-executed, gets it (Rust's standard library
        // does so for any SIGSEGV or SIGBUS outside a stack guard page). A
        // sent signal is not re-executed: that reset would only uninstall
        // our handler, so undo it.
        // SAFETY: only queries the action into a zeroed local, and
        // reinstalls the action that was in force before the call.
        unsafe {
            let mut now: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &mut now) == 0 && now.sa_sigaction != ours.sa_sigaction {
                libc::sigaction(signal, &ours, std::ptr::null_mut());
            }
        }
    }
}

/// Signal stack size we give threads that have none (or a small one).
const ALT_STACK_SIZE: usize = 64 * 1024;

/// This thread's signal stack, if we allocated it.
struct AltStack {
    /// Guard page, then the stack.
    mapping: Mmap,
}

impl Drop for AltStack {
    fn drop(&mut self) {
        // SAFETY: querying and disabling the signal stack of the exiting
        // thread; we only disable it if it is still ours, so nobody else's
        // stack is affected. The mapping is unmapped after that.
        unsafe {
            let mut current: libc::stack_t = std::mem::zeroed();
            if libc::sigaltstack(std::ptr::null(), &mut current) == 0
                && current.ss_sp as usize == self.mapping.as_ptr() as usize + page_size()
            {
                let disable = libc::stack_t { ss_sp: std::ptr::null_mut(), ss_flags: libc::SS_DISABLE, ss_size: 0 };
                libc::sigaltstack(&disable, std::ptr::null_mut());
            }
        }
    }
}

thread_local! {
    static ALT_STACK_CHECKED: Cell<bool> = const { Cell::new(false) };
    static ALT_STACK: Cell<Option<AltStack>> = const { Cell::new(None) };
}

/// Makes sure this thread has a signal stack of at least
/// [`ALT_STACK_SIZE`] bytes, allocating one (freed at thread exit) if not.
pub(crate) fn ensure_alt_stack() {
    if ALT_STACK_CHECKED.with(Cell::get) {
        return;
    }
    ALT_STACK_CHECKED.with(|c| c.set(true));
    // SAFETY: querying the current signal stack into a local.
    let current = unsafe {
        let mut current: libc::stack_t = std::mem::zeroed();
        if libc::sigaltstack(std::ptr::null(), &mut current) != 0 {
            return;
        }
        current
    };
    if current.ss_flags & libc::SS_DISABLE == 0 && current.ss_size >= ALT_STACK_SIZE {
        return;
    }
    let page = page_size();
    let Ok(mapping) = Mmap::anonymous(ALT_STACK_SIZE + page) else { return };
    if mapping.protect(0, page, Protection::None).is_err() {
        return;
    }
    let stack = libc::stack_t {
        // SAFETY: the page after the guard lies inside the mapping.
        ss_sp: unsafe { mapping.as_ptr().add(page) }.cast(),
        ss_flags: 0,
        ss_size: ALT_STACK_SIZE,
    };
    // SAFETY: the stack memory stays mapped until the thread-local below is
    // destroyed at thread exit, which first disables it.
    if unsafe { libc::sigaltstack(&stack, std::ptr::null_mut()) } == 0 {
        ALT_STACK.with(|c| c.set(Some(AltStack { mapping })));
    }
}
