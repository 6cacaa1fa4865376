//! Stores (one thread at a time, carrying the host's `void *data`), their
//! limits, deadlines and fuel. Their WASI state is in `wasi.rs`.

use std::ffi::c_void;
use std::ptr;
use std::time::Duration;

use wasmc_loader::{Config, Store};

use crate::error::{arg, arg_mut, guard, guard_or, wasmc_error_t};

/// A finalizer for host data: called once with the pointer it was given.
pub type wasmc_finalizer_t = unsafe extern "C" fn(data: *mut c_void);

/// A pointer the host gave wasmc, with the finalizer to run on it once,
/// when this is dropped: a store's data when the store is deleted, a host
/// function's env when nothing uses the function any more, an output
/// callback's env when its stream goes, and any of them at once when the
/// call that gave it fails.
pub(crate) struct HostPtr {
    ptr: *mut c_void,
    finalizer: Option<wasmc_finalizer_t>,
}

// SAFETY: the header lets each such pointer be used from, and finalized on,
// any thread: a store (with its data) may move to another thread between
// uses, and callbacks (with their env) run on whichever thread calls into
// wasm. The pointer is only handed back to the host, which owns what it
// points to and accepted those rules.
unsafe impl Send for HostPtr {}

impl HostPtr {
    /// Owns `ptr` from here: `finalizer` (if any) gets it once, at drop.
    pub(crate) fn new(ptr: *mut c_void, finalizer: Option<wasmc_finalizer_t>) -> HostPtr {
        HostPtr { ptr, finalizer }
    }

    /// The pointer, to hand back to the host.
    pub(crate) fn get(&self) -> *mut c_void {
        self.ptr
    }
}

impl Drop for HostPtr {
    fn drop(&mut self) {
        if let Some(finalizer) = self.finalizer {
            // SAFETY: the host gave this finalizer for this pointer, to be
            // called once when wasmc no longer needs it; this is that once.
            unsafe { finalizer(self.ptr) }
        }
    }
}

/// The host's data in a store (`wasmc_store_new`).
pub(crate) type HostData = HostPtr;

/// Limits for new stores (`wasm_config_t`'s place). Freed by
/// [`wasmc_config_delete`].
#[derive(Default)]
pub struct wasmc_config_t {
    config: Config,
}

/// A store: owns everything instantiated in it. One thread at a time.
/// Freed by [`wasmc_store_delete`] (which also returns a pooled
/// instance's slot to its pool).
pub struct wasmc_store_t {
    pub(crate) store: Store<HostData>,
}

/// Default limits: 512 KiB of wasm stack, memories and tables limited only
/// by their own types (tables at most 10,000,000 elements).
#[no_mangle]
pub extern "C" fn wasmc_config_new() -> *mut wasmc_config_t {
    guard_or(ptr::null_mut(), || Box::into_raw(Box::default()))
}

/// Frees a config. Null is ignored.
///
/// # Safety
/// `config` is null or a live config not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn wasmc_config_delete(config: *mut wasmc_config_t) {
    // SAFETY: `config` came from `Box::into_raw` and is freed once, as the caller guarantees.
    guard_or((), || drop((!config.is_null()).then(|| unsafe { Box::from_raw(config) })))
}

/// Bytes of native stack wasm code may use below the host's call into it.
///
/// # Safety
/// `config` is null or live and not used by another thread meanwhile.
#[no_mangle]
pub unsafe extern "C" fn wasmc_config_max_wasm_stack_set(
    config: *mut wasmc_config_t,
    bytes: usize,
) -> *mut wasmc_error_t {
    guard(|| {
        // SAFETY: `config` is null or live and unaliased, as the caller guarantees.
        unsafe { arg_mut(config, "config") }?.config.max_wasm_stack = bytes;
        Ok(())
    })
}

/// Largest size, in bytes, any memory may grow to (`memory.grow` past it
/// returns -1).
///
/// # Safety
/// `config` is null or live and not used by another thread meanwhile.
#[no_mangle]
pub unsafe extern "C" fn wasmc_config_max_memory_bytes_set(
    config: *mut wasmc_config_t,
    bytes: u64,
) -> *mut wasmc_error_t {
    guard(|| {
        // SAFETY: `config` is null or live and unaliased, as the caller guarantees.
        unsafe { arg_mut(config, "config") }?.config.max_memory_bytes = Some(bytes);
        Ok(())
    })
}

/// Largest size, in elements, any table may reach (instantiation past it
/// fails with `WASMC_ERROR_RESOURCE`; `table.grow` past it returns -1).
///
/// # Safety
/// `config` is null or live and not used by another thread meanwhile.
#[no_mangle]
pub unsafe extern "C" fn wasmc_config_max_table_elements_set(
    config: *mut wasmc_config_t,
    elements: u32,
) -> *mut wasmc_error_t {
    guard(|| {
        // SAFETY: `config` is null or live and unaliased, as the caller guarantees.
        unsafe { arg_mut(config, "config") }?.config.max_table_elements = Some(elements);
        Ok(())
    })
}

/// A new store with the limits of `config` (null: defaults; the config is
/// copied, not taken) carrying `data`, which `finalizer` (if not null)
/// gets when the store is deleted. Null only if wasmc panicked.
///
/// # Safety
/// `config` is null or live. `data` and `finalizer` are the host's: the
/// finalizer may run on whichever thread deletes the store.
#[no_mangle]
pub unsafe extern "C" fn wasmc_store_new(
    config: *const wasmc_config_t,
    data: *mut c_void,
    finalizer: Option<wasmc_finalizer_t>,
) -> *mut wasmc_store_t {
    let host = HostData::new(data, finalizer);
    guard_or(ptr::null_mut(), move || {
        // SAFETY: `config` is null or live, as the caller guarantees.
        let config = unsafe { config.as_ref() }.map(|c| c.config.clone()).unwrap_or_default();
        Box::into_raw(Box::new(wasmc_store_t { store: Store::with_data(config, host) }))
    })
}

/// Frees a store: everything instantiated in it goes (pooled slots return
/// to their pools), then the data's finalizer runs. Handles into the store
/// must not be used afterwards, but must still be deleted. Null is ignored.
///
/// # Safety
/// `store` is null or a live store not used afterwards and not in use by
/// a call (do not delete a store from a host callback running in it).
#[no_mangle]
pub unsafe extern "C" fn wasmc_store_delete(store: *mut wasmc_store_t) {
    // SAFETY: `store` came from `Box::into_raw` and is freed once, as the caller guarantees.
    guard_or((), || drop((!store.is_null()).then(|| unsafe { Box::from_raw(store) })))
}

/// The `data` the store was made with; null for a null store.
///
/// # Safety
/// `store` is null or live.
#[no_mangle]
pub unsafe extern "C" fn wasmc_store_data(store: *const wasmc_store_t) -> *mut c_void {
    // SAFETY: `store` is null or live, as the caller guarantees.
    guard_or(ptr::null_mut(), || unsafe { arg(store, "store") }.map_or(ptr::null_mut(), |s| s.store.data().get()))
}

/// Every call from the host into wasm in this store (outermost entry)
/// must finish within `timeout_us` microseconds, or it traps with
/// `WASMC_TRAP_CODE_INTERRUPT` (the instance stays usable); 0 removes the
/// deadline. Checked about once per millisecond.
///
/// # Safety
/// `store` is null or live and not used by another thread meanwhile.
#[no_mangle]
pub unsafe extern "C" fn wasmc_store_set_call_timeout(
    store: *mut wasmc_store_t,
    timeout_us: u64,
) -> *mut wasmc_error_t {
    guard(|| {
        // SAFETY: `store` is null or live and unaliased, as the caller guarantees.
        let store = unsafe { arg_mut(store, "store") }?;
        store.store.set_call_timeout((timeout_us > 0).then(|| Duration::from_micros(timeout_us)));
        Ok(())
    })
}

/// Sets the fuel shared by all calls into instances compiled with fuel
/// metering (`wasmc compile --fuel-metering`); running out traps with
/// `WASMC_TRAP_CODE_INTERRUPT`.
///
/// # Safety
/// `store` is null or live and not used by another thread meanwhile.
#[no_mangle]
pub unsafe extern "C" fn wasmc_store_set_fuel(store: *mut wasmc_store_t, fuel: u64) -> *mut wasmc_error_t {
    guard(|| {
        // SAFETY: `store` is null or live and unaliased, as the caller guarantees.
        unsafe { arg_mut(store, "store") }?.store.set_fuel(fuel);
        Ok(())
    })
}

/// Stores the fuel left in `*fuel` and returns true; false if fuel was
/// never set (or an argument is null).
///
/// # Safety
/// `store` is null or live; `fuel` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn wasmc_store_get_fuel(store: *const wasmc_store_t, fuel: *mut u64) -> bool {
    guard_or(false, || {
        // SAFETY: both are null or valid, as the caller guarantees.
        match unsafe { (arg(store, "store"), arg_mut(fuel, "fuel")) } {
            (Ok(store), Ok(out)) => store.store.fuel_remaining().map(|left| *out = left).is_some(),
            _ => false,
        }
    })
}
