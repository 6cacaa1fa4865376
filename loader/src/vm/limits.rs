//! Deadlines and fuel: the store's [`VMRuntimeLimits`] and the API that sets
//! them.
//!
//! Every instance's vmctx points to its store's `VMRuntimeLimits` (one
//! boxed value with a stable address), so a call that crosses instances
//! needs no copying. At each outermost host-to-wasm entry into a store the
//! deadline is set from the store's call timeout; nested entries (wasm
//! calling a host function that calls wasm again in the same store) keep
//! it, so the timeout bounds the whole call.

use std::time::Duration;

use wasmc_abi::TrapKind;

use crate::vm::epoch::{self, ActiveDeadline};
use crate::vm::instance::VmInstance;
use crate::vm::store::StoreData;
use crate::vm::trap::{Trap, VmError};
use crate::vm::vmctx::VmBox;
use crate::vm::VMRuntimeLimits;

/// No deadline: the epoch never reaches it.
const NO_DEADLINE: u64 = u64::MAX;

pub(crate) use wasmc_abi::builtins::BYTES_PER_FUEL;

/// What one table element counts as, in bytes, for fuel: the same on every
/// target, so that fuel stays deterministic.
pub(crate) const TABLE_ELEMENT_BYTES: u64 = 8;

/// The most bytes a bulk operation moves between two deadline checks.
pub(crate) const CHUNK_BYTES: usize = wasmc_abi::builtins::BULK_CHUNK_BYTES as usize;

/// Fuel for a bulk operation that touches `bytes` bytes.
pub(crate) fn fuel_for_bytes(bytes: u64) -> u64 {
    bytes.div_ceil(BYTES_PER_FUEL)
}

/// A call's deadline, as an epoch (see [`StoreLimits::deadline`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline(u64);

impl Deadline {
    /// A deadline already reached.
    #[cfg(test)]
    pub(crate) fn passed() -> Deadline {
        Deadline(0)
    }

    /// `Err(Interrupted)` once the epoch has reached the deadline: the
    /// check long builtins and WASI calls make between chunks of work.
    pub(crate) fn check(self) -> Result<(), TrapKind> {
        if epoch::current() >= self.0 {
            Err(TrapKind::Interrupted)
        } else {
            Ok(())
        }
    }

    /// How long until the deadline, measured on the epoch's clock (`None`:
    /// no deadline), for host calls that wait (polling a descriptor).
    pub(crate) fn remaining(self) -> Option<Duration> {
        if self.0 == NO_DEADLINE {
            return None;
        }
        let ticks = self.0.saturating_sub(epoch::advance());
        Some(epoch::TICK.saturating_mul(u32::try_from(ticks).unwrap_or(u32::MAX)))
    }
}

/// A store's deadline and fuel state.
#[derive(Debug)]
pub(crate) struct StoreLimits {
    vm: VmBox<VMRuntimeLimits>,
    call_timeout: Option<Duration>,
    fuel_set: bool,
    /// Host-to-wasm entries into this store currently running.
    depth: u32,
}

impl StoreLimits {
    pub(crate) fn new() -> StoreLimits {
        StoreLimits {
            vm: VmBox::new(VMRuntimeLimits { fuel: 0, epoch_deadline: NO_DEADLINE }),
            call_timeout: None,
            fuel_set: false,
            depth: 0,
        }
    }

    fn read(&self) -> VMRuntimeLimits {
        // SAFETY: the box is live while `self` is; generated code writes it
        // only while a call into this store runs, and that call holds the
        // store's `&mut`, so nothing writes concurrently with this read.
        unsafe { self.vm.as_ptr().read() }
    }

    fn write(&mut self, limits: VMRuntimeLimits) {
        // SAFETY: as in `read`; `&mut self` excludes running wasm code.
        unsafe { self.vm.as_ptr().write(limits) }
    }

    /// Called by every host-to-wasm entry before wasm runs. The outermost
    /// one sets the deadline; the returned guard keeps the ticker awake
    /// until the entry ends.
    pub(crate) fn enter(&mut self) -> Result<Option<ActiveDeadline>, VmError> {
        if self.depth > 0 {
            self.depth += 1;
            return Ok(None);
        }
        let mut limits = self.read();
        // A previous call may have left the count below zero when it ran
        // out; what remains is nothing.
        limits.fuel = limits.fuel.max(0);
        let guard = match self.call_timeout {
            Some(timeout) => {
                let guard = ActiveDeadline::new(timeout)?;
                limits.epoch_deadline = epoch::deadline_after(timeout);
                Some(guard)
            }
            None => {
                limits.epoch_deadline = NO_DEADLINE;
                None
            }
        };
        self.write(limits);
        self.depth = 1;
        Ok(guard)
    }

    /// Called by every entry that [`StoreLimits::enter`] let in, when wasm
    /// has returned or trapped.
    pub(crate) fn exit(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// The running call's deadline, copied out so that a long builtin or
    /// WASI call can check it between chunks of work while it borrows the
    /// rest of the store. It cannot change while wasm of the store runs.
    /// Outside a call into wasm (a host function the host calls directly)
    /// there is none: the stored one belongs to an earlier call.
    pub(crate) fn deadline(&self) -> Deadline {
        if self.depth == 0 {
            return Deadline(NO_DEADLINE);
        }
        Deadline(self.read().epoch_deadline)
    }

    /// Takes `units` of fuel, or, when fewer remain, leaves the count
    /// negative (so the trap reads "all fuel consumed") and returns
    /// `Err(Interrupted)`: the caller then does none of the work.
    fn charge_fuel(&mut self, units: u64) -> Result<(), TrapKind> {
        let mut limits = self.read();
        let units = i64::try_from(units).unwrap_or(i64::MAX);
        let left = limits.fuel.saturating_sub(units);
        if left < 0 {
            // At least one below zero, also for a zero charge on an
            // overdrawn count.
            limits.fuel = left.min(-1);
            self.write(limits);
            return Err(TrapKind::Interrupted);
        }
        limits.fuel = left;
        self.write(limits);
        Ok(())
    }

    /// Whether the running call has used up its time or its fuel.
    fn interrupt_reason(&self) -> Option<&'static str> {
        let limits = self.read();
        if limits.fuel < 0 {
            Some(if self.fuel_set { "all fuel consumed" } else { "all fuel consumed (no fuel was set)" })
        } else if epoch::current() >= limits.epoch_deadline {
            Some("deadline exceeded")
        } else {
            None
        }
    }

    /// Says why an [`TrapKind::Interrupted`] trap happened (fuel or time),
    /// and turns a host function's error into that trap when the call it
    /// belongs to is past its deadline or out of fuel (the host function
    /// most likely failed because a nested call was interrupted).
    pub(crate) fn explain(&self, mut trap: Trap) -> Trap {
        let interruptible = trap.kind == TrapKind::Interrupted || trap.kind == TrapKind::HostError;
        if let Some(reason) = self.interrupt_reason().filter(|_| interruptible) {
            if trap.kind == TrapKind::HostError {
                trap.kind = TrapKind::Interrupted;
                // A host function's own error stays the trap's source, if
                // it gave one; a message it gave is kept here.
                trap.message = Some(match trap.message.take() {
                    Some(host) => format!("{reason} (in a host function: {host})"),
                    None => format!("{reason} (in a host function)"),
                });
            } else if trap.message.is_none() {
                trap.message = Some(reason.to_string());
            }
        }
        trap
    }
}

impl StoreData {
    /// See [`crate::Store::set_call_timeout`].
    pub(crate) fn set_call_timeout(&mut self, timeout: Option<Duration>) {
        if timeout.is_some() {
            // A failure is reported by the next call, which retries.
            let _ = epoch::ensure_ticker();
        }
        self.limits.call_timeout = timeout;
    }

    /// See [`crate::Store::call_timeout`].
    pub(crate) fn call_timeout(&self) -> Option<Duration> {
        self.limits.call_timeout
    }

    /// See [`crate::Store::set_fuel`].
    pub(crate) fn set_fuel(&mut self, fuel: u64) {
        let mut limits = self.limits.read();
        limits.fuel = i64::try_from(fuel).unwrap_or(i64::MAX);
        self.limits.write(limits);
        self.limits.fuel_set = true;
    }

    /// See [`crate::Store::fuel_remaining`].
    pub(crate) fn fuel_remaining(&self) -> Option<u64> {
        self.limits.fuel_set.then(|| u64::try_from(self.limits.read().fuel).unwrap_or(0))
    }

    /// Charges `units` of fuel for work done on behalf of `caller`'s code
    /// (a builtin or a WASI call it made): only when that code was compiled
    /// with fuel metering, as the operators around it are. `Err(Interrupted)`
    /// (with nothing charged beyond the remainder) when the fuel does not
    /// cover it; the operation must then not be done.
    pub(crate) fn charge_fuel(&mut self, caller: Option<&VmInstance>, units: u64) -> Result<(), TrapKind> {
        let metered = caller.is_some_and(|data| data.module.meta().fuel_metering);
        if metered {
            self.limits.charge_fuel(units)
        } else {
            Ok(())
        }
    }

    /// The store's runtime limits, for instances' vmctx headers.
    pub(crate) fn runtime_limits_ptr(&self) -> *mut VMRuntimeLimits {
        self.limits.vm.as_ptr()
    }
}
