//! The C half of unwinding (`unwind.c`): entering wasm under a jump buffer
//! and jumping back out of it.

use std::ffi::{c_int, c_void};

/// A module's host-to-wasm entry trampoline:
/// `(callee_code, callee_vmctx, caller_vmctx, values)`.
pub(crate) type EntryFn = unsafe extern "C" fn(*const u8, *mut u8, *mut u8, *mut u8);

extern "C" {
    /// Calls `entry(code, vmctx, caller, values)` with `*slot` pointing at a
    /// fresh jump buffer; returns 1 on a normal return, 0 after
    /// [`wasmc_unwind`] jumped back. `*slot` is restored either way.
    pub(crate) fn wasmc_call_trampoline(
        slot: *mut *mut c_void,
        entry: EntryFn,
        code: *const u8,
        vmctx: *mut u8,
        caller: *mut u8,
        values: *mut u8,
    ) -> c_int;

    /// Jumps back to the `wasmc_call_trampoline` that set `jmpbuf`. Frames in
    /// between are skipped without running destructors.
    pub(crate) fn wasmc_unwind(jmpbuf: *mut c_void) -> !;

    /// Makes `len` freshly written bytes of code at `start` visible to
    /// instruction fetch (a no-op on x86_64).
    pub(crate) fn wasmc_flush_icache(start: *mut u8, len: usize);
}
