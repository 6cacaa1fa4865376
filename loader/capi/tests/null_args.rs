//! Null pointers and bad arguments give error objects (or NULL, false, 0
//! for functions without one), never a crash, and deleting NULL is a no-op.

use std::ffi::c_char;
use std::ptr::{null, null_mut};

use wasmc_capi::error::*;
use wasmc_capi::instance::*;
use wasmc_capi::linker::*;
use wasmc_capi::module::*;
use wasmc_capi::store::*;
use wasmc_capi::val::*;
use wasmc_capi::wasi::*;

/// Asserts `error` is an invalid-argument error naming `what`, and frees it.
fn invalid(error: *mut wasmc_error_t, what: &str) {
    assert!(!error.is_null(), "no error for a NULL {what}");
    // SAFETY: `error` is a live error just returned by wasmc.
    unsafe {
        let message = std::ffi::CStr::from_ptr(wasmc_error_message(error)).to_str().unwrap().to_string();
        assert_eq!(wasmc_error_kind(error), WASMC_ERROR_INVALID_ARGUMENT, "{message}");
        assert!(message.contains(what), "{message:?} does not name {what}");
        wasmc_error_delete(error);
    }
}

const NAME: *const c_char = c"f".as_ptr();

#[test]
fn null_pointers_are_errors_not_crashes() {
    // SAFETY: every pointer passed is null or valid; that nulls are handled is what is tested.
    unsafe {
        let mut module = null_mut();
        invalid(wasmc_module_from_file(null(), &mut module), "path");
        invalid(wasmc_module_from_file(NAME, null_mut()), "out");
        invalid(wasmc_module_from_file_trusted(null(), &mut module), "path");
        invalid(wasmc_module_from_bytes(null(), 10, &mut module), "bytes");
        invalid(wasmc_module_from_file_signed(NAME, null(), &mut module), "keys");
        invalid(wasmc_module_from_bytes_signed(null(), 1, null(), &mut module), "bytes");
        assert!(module.is_null());
        assert!(wasmc_module_clone(null()).is_null());
        invalid(wasmc_trusted_keys_add_file(null_mut(), NAME), "keys");

        invalid(wasmc_config_max_wasm_stack_set(null_mut(), 1), "config");
        invalid(wasmc_config_max_memory_bytes_set(null_mut(), 1), "config");
        invalid(wasmc_config_max_table_elements_set(null_mut(), 1), "config");
        assert!(wasmc_store_data(null()).is_null());
        invalid(wasmc_store_set_call_timeout(null_mut(), 1), "store");
        invalid(wasmc_store_set_fuel(null_mut(), 1), "store");
        let mut fuel = 0;
        assert!(!wasmc_store_get_fuel(null(), &mut fuel));
        invalid(wasmc_wasi_config_set_argv(null_mut(), 0, null()), "config");
        invalid(wasmc_wasi_config_env(null_mut(), NAME, NAME), "config");
        invalid(wasmc_wasi_config_inherit_stdio(null_mut()), "config");
        invalid(wasmc_wasi_config_preopen_dir(null_mut(), NAME, NAME), "config");
        invalid(wasmc_wasi_config_stdin_bytes(null_mut(), null(), 0), "config");
        invalid(wasmc_wasi_config_stdout_callback(null_mut(), Some(never_written), null_mut(), None), "config");
        invalid(wasmc_wasi_config_stderr_callback(null_mut(), Some(never_written), null_mut(), None), "config");
        invalid(wasmc_store_set_wasi(null_mut(), null_mut()), "store");

        invalid(
            wasmc_linker_define_func(null_mut(), NAME, NAME, null(), 0, null(), 0, None, null_mut(), None),
            "linker",
        );
        invalid(wasmc_linker_define_wasi(null_mut()), "linker");
        let mut pre = null_mut();
        invalid(wasmc_linker_instantiate_pre(null(), null(), &mut pre), "linker");
        assert!(wasmc_caller_data(null()).is_null());
        invalid(wasmc_caller_memory_read(null(), 0, null_mut(), 0), "caller");
        invalid(wasmc_caller_memory_write(null_mut(), 0, null(), 0), "caller");
        invalid(wasmc_caller_memory_data(null(), null_mut(), null_mut()), "caller");

        let (mut instance, mut trap) = (null_mut(), null_mut());
        invalid(wasmc_linker_instantiate(null(), null_mut(), null(), &mut instance, &mut trap), "linker");
        invalid(wasmc_instance_pre_instantiate(null(), null_mut(), &mut instance, &mut trap), "pre");
        let mut pool = null_mut();
        invalid(wasmc_instance_pool_new(null(), 1, 0, &mut pool), "module");
        assert_eq!(wasmc_instance_pool_available(null()), 0);
        invalid(wasmc_instance_pool_instantiate_pre(null(), null_mut(), null(), &mut instance, &mut trap), "pool");
        invalid(wasmc_instance_pool_instantiate(null(), null_mut(), null(), &mut instance, null_mut()), "pool");
        invalid(wasmc_instance_call(null_mut(), null(), NAME, null(), 0, null_mut(), 0, &mut trap), "store");
        invalid(wasmc_instance_call(null_mut(), null(), NAME, null(), 3, null_mut(), 0, &mut trap), "args");
        let mut func = null_mut();
        invalid(wasmc_instance_get_func(null(), null(), NAME, &mut func), "store");
        invalid(wasmc_func_call(null_mut(), null(), null(), 0, null_mut(), 0, null_mut()), "store");
        let mut memory = null_mut();
        invalid(wasmc_instance_get_memory(null(), null(), NAME, &mut memory), "store");
        assert!(wasmc_memory_data(null(), null()).is_null());
        assert_eq!(wasmc_memory_data_size(null(), null()), 0);
        invalid(wasmc_memory_grow(null_mut(), null(), 1, null_mut()), "store");
        invalid(wasmc_memory_read(null(), null(), 0, null_mut(), 0), "store");
        invalid(wasmc_memory_write(null_mut(), null(), 0, null(), 0), "store");
        assert!(instance.is_null() && trap.is_null() && pool.is_null() && pre.is_null());
        assert!(func.is_null() && memory.is_null());

        // Getters on NULL objects.
        assert_eq!(wasmc_error_kind(null()), WASMC_ERROR_INVALID_ARGUMENT);
        assert_eq!(*wasmc_error_message(null()), 0);
        assert_eq!(*wasmc_trap_message(null()), 0);
        let (mut status, mut code) = (0, 0);
        assert!(!wasmc_error_exit_status(null(), &mut status));
        assert!(!wasmc_error_trap_code(null(), &mut code));
        assert!(!wasmc_trap_code(null(), &mut code));
        assert!(wasmc_trap_new(null()).is_null());

        // Deleting NULL does nothing.
        wasmc_error_delete(null_mut());
        wasmc_trap_delete(null_mut());
        wasmc_module_delete(null_mut());
        wasmc_trusted_keys_delete(null_mut());
        wasmc_config_delete(null_mut());
        wasmc_store_delete(null_mut());
        wasmc_wasi_config_delete(null_mut());
        wasmc_linker_delete(null_mut());
        wasmc_instance_pre_delete(null_mut());
        wasmc_instance_pool_delete(null_mut());
        wasmc_instance_delete(null_mut());
        wasmc_func_delete(null_mut());
        wasmc_memory_delete(null_mut());
    }
}

static FINALIZED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

unsafe extern "C" fn count_finalizer(_: *mut std::ffi::c_void) {
    FINALIZED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

unsafe extern "C" fn never_called(
    _: *mut std::ffi::c_void,
    _: *mut wasmc_caller_t,
    _: *const wasmc_val_t,
    _: usize,
    _: *mut wasmc_val_t,
    _: usize,
) -> *mut wasmc_trap_t {
    null_mut()
}

#[test]
fn bad_arguments_are_errors_and_a_refused_definition_finalizes_its_env() {
    // SAFETY: every pointer passed is valid or null as documented.
    unsafe {
        let linker = wasmc_linker_new();
        let bad_kind = [42u8];
        let before = FINALIZED.load(std::sync::atomic::Ordering::SeqCst);
        let error = wasmc_linker_define_func(
            linker,
            NAME,
            NAME,
            bad_kind.as_ptr(),
            1,
            null(),
            0,
            Some(never_called),
            null_mut(),
            Some(count_finalizer),
        );
        invalid(error, "value kind 42");
        assert_eq!(FINALIZED.load(std::sync::atomic::Ordering::SeqCst), before + 1);
        let not_utf8: *const c_char = c"\xff".as_ptr();
        invalid(
            wasmc_linker_define_func(
                linker,
                not_utf8,
                NAME,
                null(),
                0,
                null(),
                0,
                Some(never_called),
                null_mut(),
                None,
            ),
            "UTF-8",
        );
        // A WASI config without a store is freed by set_wasi all the same.
        invalid(wasmc_store_set_wasi(null_mut(), wasmc_wasi_config_new()), "store");
        // A store's finalizer runs once, when it is deleted.
        let store = wasmc_store_new(null(), null_mut(), Some(count_finalizer));
        let before = FINALIZED.load(std::sync::atomic::Ordering::SeqCst);
        wasmc_store_delete(store);
        assert_eq!(FINALIZED.load(std::sync::atomic::Ordering::SeqCst), before + 1);
        // An unreadable file is a load error with the path in its message.
        let mut module = null_mut();
        let error = wasmc_module_from_file(c"/nonexistent/plugin.cwasm".as_ptr(), &mut module);
        assert_eq!(wasmc_error_kind(error), WASMC_ERROR_LOAD);
        wasmc_error_delete(error);
        wasmc_linker_delete(linker);
    }
}

unsafe extern "C" fn never_written(_: *mut std::ffi::c_void, _: *const u8, _: usize) -> i32 {
    1
}

/// Finalizations of write-callback envs (its own counter: tests run in
/// parallel).
static WRITERS_FINALIZED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

unsafe extern "C" fn count_writer(_: *mut std::ffi::c_void) {
    WRITERS_FINALIZED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

#[test]
fn a_refused_or_replaced_write_callback_finalizes_its_env_once() {
    let finalized = || WRITERS_FINALIZED.load(std::sync::atomic::Ordering::SeqCst);
    // SAFETY: every pointer passed is valid or null as documented.
    unsafe {
        // No config, or no callback: refused, finalized at once.
        invalid(
            wasmc_wasi_config_stdout_callback(null_mut(), Some(never_written), null_mut(), Some(count_writer)),
            "config",
        );
        assert_eq!(finalized(), 1);
        let config = wasmc_wasi_config_new();
        invalid(wasmc_wasi_config_stderr_callback(config, None, null_mut(), Some(count_writer)), "write");
        assert_eq!(finalized(), 2);
        invalid(wasmc_wasi_config_stdin_bytes(config, null(), 5), "data");
        // A second callback replaces the first, which is finalized.
        assert!(
            wasmc_wasi_config_stdout_callback(config, Some(never_written), null_mut(), Some(count_writer)).is_null()
        );
        assert!(
            wasmc_wasi_config_stdout_callback(config, Some(never_written), null_mut(), Some(count_writer)).is_null()
        );
        assert_eq!(finalized(), 3);
        // A config never given to a store: finalized with it.
        wasmc_wasi_config_delete(config);
        assert_eq!(finalized(), 4);
    }
}
