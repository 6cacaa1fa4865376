//! The process-wide registry of loaded wasm code, which the signal handler
//! asks whether a faulting program counter lies in wasm code.
//!
//! Registration and removal take a write lock (they happen when a module is
//! loaded or dropped). The signal handler must neither block nor allocate,
//! so it only ever calls `RwLock::try_read` in a short bounded loop: a
//! failed read lock is an atomic compare-and-swap that never blocks, and a
//! `BTreeMap` range lookup does not allocate. If a writer holds the lock the
//! whole time (possible only while another thread loads or drops a module,
//! or if the fault happened inside this module on the same thread, when the
//! program counter is not in wasm anyway), the fault is treated as not
//! coming from wasm and goes to the previous handler.

use std::collections::BTreeMap;
use std::sync::RwLock;

/// Start address of each registered text range, mapped to its end.
static CODE: RwLock<BTreeMap<usize, usize>> = RwLock::new(BTreeMap::new());

/// How many times the signal handler retries a contended read lock.
const TRY_READ_ATTEMPTS: u32 = 10_000;

/// Records `[start, start + len)` as wasm code. Empty ranges are ignored.
pub(crate) fn register(start: usize, len: usize) {
    if len == 0 {
        return;
    }
    let mut code = CODE.write().unwrap_or_else(|poisoned| poisoned.into_inner());
    code.insert(start, start + len);
}

/// Forgets the range registered at `start`.
pub(crate) fn unregister(start: usize) {
    let mut code = CODE.write().unwrap_or_else(|poisoned| poisoned.into_inner());
    code.remove(&start);
}

/// Whether `pc` lies in registered wasm code. Safe to call from a signal
/// handler: never blocks, never allocates.
pub(crate) fn is_wasm_code(pc: usize) -> bool {
    for _ in 0..TRY_READ_ATTEMPTS {
        match CODE.try_read() {
            Ok(code) => return contains(&code, pc),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => return contains(&poisoned.into_inner(), pc),
            Err(std::sync::TryLockError::WouldBlock) => std::hint::spin_loop(),
        }
    }
    false
}

fn contains(code: &BTreeMap<usize, usize>, pc: usize) -> bool {
    code.range(..=pc).next_back().is_some_and(|(_, &end)| pc < end)
}
