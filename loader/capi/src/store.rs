//! Stores (one thread at a time, carrying the host's `void *data`), their
//! limits, deadlines and fuel, and their WASI state.

use std::ffi::{c_char, c_void};
use std::path::PathBuf;
use std::ptr;
use std::time::Duration;

use wasmc_loader::wasi::WasiCtx;
use wasmc_loader::{Config, Store};

use crate::error::{arg, arg_mut, arg_slice, arg_str, guard, guard_or, wasmc_error_t, WASMC_ERROR_WASI};

/// A finalizer for host data: called once with the pointer it was given.
pub type wasmc_finalizer_t = unsafe extern "C" fn(data: *mut c_void);

/// The host's data in a store, and its finalizer (run when the store is
/// deleted).
pub(crate) struct HostData {
    pub(crate) data: *mut c_void,
    finalizer: Option<wasmc_finalizer_t>,
}

// SAFETY: the header states that a store (with its data) may move to
// another thread between uses; the data pointer is only handed back to the
// host, which owns what it points to and accepted that rule.
unsafe impl Send for HostData {}

impl Drop for HostData {
    fn drop(&mut self) {
        if let Some(finalizer) = self.finalizer {
            // SAFETY: the host gave this finalizer for this pointer, to be
            // called once when the store goes; this is that once.
            unsafe { finalizer(self.data) }
        }
    }
}

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
    let host = HostData { data, finalizer };
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
    guard_or(ptr::null_mut(), || unsafe { arg(store, "store") }.map_or(ptr::null_mut(), |s| s.store.data().data))
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

/// WASI settings for one store: arguments, environment, stdio,
/// preopened directories. Deny by default. Freed by
/// [`wasmc_wasi_config_delete`] or taken by [`wasmc_store_set_wasi`].
#[derive(Default)]
pub struct wasmc_wasi_config_t {
    args: Vec<String>,
    env: Vec<(String, String)>,
    inherit_stdio: bool,
    preopens: Vec<(PathBuf, String)>,
}

/// Empty WASI settings: no arguments, no environment, no stdio, no files.
#[no_mangle]
pub extern "C" fn wasmc_wasi_config_new() -> *mut wasmc_wasi_config_t {
    guard_or(ptr::null_mut(), || Box::into_raw(Box::default()))
}

/// Frees WASI settings not given to a store. Null is ignored.
///
/// # Safety
/// `config` is null or live and not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn wasmc_wasi_config_delete(config: *mut wasmc_wasi_config_t) {
    // SAFETY: `config` came from `Box::into_raw` and is freed once, as the caller guarantees.
    guard_or((), || drop((!config.is_null()).then(|| unsafe { Box::from_raw(config) })))
}

/// Sets the program's arguments (`argv[0]` is the program name), copied.
///
/// # Safety
/// `config` is null or live; `argv` points to `argc` NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn wasmc_wasi_config_set_argv(
    config: *mut wasmc_wasi_config_t,
    argc: usize,
    argv: *const *const c_char,
) -> *mut wasmc_error_t {
    guard(|| {
        // SAFETY: `config` is null or live and `argv` holds `argc` pointers, as the caller guarantees.
        let (config, argv) = unsafe { (arg_mut(config, "config")?, arg_slice(argv, argc, "argv")?) };
        // SAFETY: each element is null or NUL-terminated, as the caller guarantees.
        let args = argv.iter().map(|&a| unsafe { arg_str(a, "an argv element") }.map(str::to_string));
        config.args = args.collect::<Result<_, _>>()?;
        Ok(())
    })
}

/// Adds an environment variable `name=value` (both copied).
///
/// # Safety
/// `config` is null or live; `name` and `value` are null or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn wasmc_wasi_config_env(
    config: *mut wasmc_wasi_config_t,
    name: *const c_char,
    value: *const c_char,
) -> *mut wasmc_error_t {
    guard(|| {
        // SAFETY: all are null or valid, as the caller guarantees.
        let (config, name, value) =
            unsafe { (arg_mut(config, "config")?, arg_str(name, "name")?, arg_str(value, "value")?) };
        config.env.push((name.to_string(), value.to_string()));
        Ok(())
    })
}

/// Gives the program the host's stdin, stdout and stderr.
///
/// # Safety
/// `config` is null or live.
#[no_mangle]
pub unsafe extern "C" fn wasmc_wasi_config_inherit_stdio(config: *mut wasmc_wasi_config_t) -> *mut wasmc_error_t {
    guard(|| {
        // SAFETY: `config` is null or live, as the caller guarantees.
        unsafe { arg_mut(config, "config") }?.inherit_stdio = true;
        Ok(())
    })
}

/// Lets the program open files under the host directory `host_path`,
/// which it sees as `guest_path`. The directory is opened by
/// [`wasmc_store_set_wasi`], which reports a failure.
///
/// # Safety
/// `config` is null or live; both paths are null or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn wasmc_wasi_config_preopen_dir(
    config: *mut wasmc_wasi_config_t,
    host_path: *const c_char,
    guest_path: *const c_char,
) -> *mut wasmc_error_t {
    guard(|| {
        // SAFETY: all are null or valid, as the caller guarantees.
        let (config, host, guest) = unsafe {
            (arg_mut(config, "config")?, arg_str(host_path, "host_path")?, arg_str(guest_path, "guest_path")?)
        };
        config.preopens.push((PathBuf::from(host), guest.to_string()));
        Ok(())
    })
}

/// Gives the store its WASI state built from `config`, which is taken
/// (freed here, even on error). Errors of kind `WASMC_ERROR_WASI` when a
/// preopened directory cannot be opened. Replaces earlier WASI state.
///
/// # Safety
/// `store` is null or live and not used by another thread meanwhile;
/// `config` is null or live and not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn wasmc_store_set_wasi(
    store: *mut wasmc_store_t,
    config: *mut wasmc_wasi_config_t,
) -> *mut wasmc_error_t {
    guard(|| {
        // SAFETY: `config` came from `Box::into_raw` and is taken once, as the caller guarantees.
        let config = (!config.is_null()).then(|| unsafe { Box::from_raw(config) });
        // SAFETY: `store` is null or live and unaliased, as the caller guarantees.
        let store = unsafe { arg_mut(store, "store") }?;
        let config = config.ok_or_else(|| wasmc_error_t::invalid("config is NULL"))?;
        let wasi_err = |e: wasmc_loader::wasi::WasiError| wasmc_error_t::new(WASMC_ERROR_WASI, e.to_string());
        let mut builder = WasiCtx::builder().args(config.args.iter().cloned());
        for (name, value) in &config.env {
            builder = builder.env(name.clone(), value.clone());
        }
        if config.inherit_stdio {
            builder = builder.inherit_stdio();
        }
        for (host, guest) in &config.preopens {
            builder = builder.preopen_dir(host, guest.clone()).map_err(wasi_err)?;
        }
        store.store.set_wasi(builder.build().map_err(wasi_err)?);
        Ok(())
    })
}
