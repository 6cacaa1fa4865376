//! A store's WASI state: arguments, environment, standard streams (the
//! host's, bytes the host gives, or C callbacks receiving the output) and
//! preopened directories.

use std::ffi::{c_char, c_void};
use std::io::Write;
use std::path::PathBuf;
use std::ptr;
use std::sync::Arc;

use wasmc_loader::wasi::WasiCtx;

use crate::error::{arg_mut, arg_slice, arg_str, guard, guard_or, wasmc_error_t, CResult, WASMC_ERROR_WASI};
use crate::store::{wasmc_finalizer_t, wasmc_store_t, HostPtr};

/// WASI settings for one store: arguments, environment, stdio,
/// preopened directories. Deny by default. Freed by
/// [`wasmc_wasi_config_delete`] or taken by [`wasmc_store_set_wasi`].
#[derive(Default)]
pub struct wasmc_wasi_config_t {
    args: Vec<String>,
    env: Vec<(String, String)>,
    inherit_stdio: bool,
    stdin: Option<Arc<[u8]>>,
    stdout: Option<WriteCallback>,
    stderr: Option<WriteCallback>,
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

/// Gives the program the host's stdin, stdout and stderr, except a stream
/// given bytes or a callback below.
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

/// The program reads `len` bytes at `data` (copied) from stdin, then end
/// of file. Replaces earlier stdin bytes.
///
/// # Safety
/// `config` is null or live; `data` is null or points to `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn wasmc_wasi_config_stdin_bytes(
    config: *mut wasmc_wasi_config_t,
    data: *const u8,
    len: usize,
) -> *mut wasmc_error_t {
    guard(|| {
        // SAFETY: both are null or valid, as the caller guarantees.
        let (config, data) = unsafe { (arg_mut(config, "config")?, arg_slice(data, len, "data")?) };
        config.stdin = Some(data.into());
        Ok(())
    })
}

/// Receives what a program writes to stdout or stderr: 0 when every byte
/// was taken, anything else to fail the program's write with `EIO`.
pub type wasmc_wasi_write_callback_t = unsafe extern "C" fn(env: *mut c_void, data: *const u8, len: usize) -> i32;

/// A C callback receiving a program's stdout or stderr, its env finalized
/// when the stream goes.
struct WriteCallback {
    write: wasmc_wasi_write_callback_t,
    env: HostPtr,
}

impl Write for WriteCallback {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // SAFETY: the host gave this callback for `env`; `buf` is valid
        // for its length for the duration of the call.
        match unsafe { (self.write)(self.env.get(), buf.as_ptr(), buf.len()) } {
            0 => Ok(buf.len()),
            refused => Err(std::io::Error::other(format!("the host's write callback returned {refused}"))),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The callback `write` with `env`, or an error (after finalizing `env`)
/// if `write` is null.
fn write_callback(
    write: Option<wasmc_wasi_write_callback_t>,
    env: *mut c_void,
    finalizer: Option<wasmc_finalizer_t>,
) -> CResult<WriteCallback> {
    // Owns `env` from here: finalized if `write` is null.
    let env = HostPtr::new(env, finalizer);
    let write = write.ok_or_else(|| wasmc_error_t::invalid("write is NULL"))?;
    Ok(WriteCallback { write, env })
}

/// What the program writes to stdout goes to `write` (see the header).
///
/// # Safety
/// `config` is null or live; `write`, `env` and `finalizer` follow the
/// header's rules.
#[no_mangle]
pub unsafe extern "C" fn wasmc_wasi_config_stdout_callback(
    config: *mut wasmc_wasi_config_t,
    write: Option<wasmc_wasi_write_callback_t>,
    env: *mut c_void,
    finalizer: Option<wasmc_finalizer_t>,
) -> *mut wasmc_error_t {
    // SAFETY: this function's contract.
    unsafe { set_output(config, Output::Stdout, write, env, finalizer) }
}

/// What the program writes to stderr goes to `write` (see the header).
///
/// # Safety
/// As for [`wasmc_wasi_config_stdout_callback`].
#[no_mangle]
pub unsafe extern "C" fn wasmc_wasi_config_stderr_callback(
    config: *mut wasmc_wasi_config_t,
    write: Option<wasmc_wasi_write_callback_t>,
    env: *mut c_void,
    finalizer: Option<wasmc_finalizer_t>,
) -> *mut wasmc_error_t {
    // SAFETY: this function's contract.
    unsafe { set_output(config, Output::Stderr, write, env, finalizer) }
}

/// Which output stream a callback receives.
enum Output {
    Stdout,
    Stderr,
}

/// Gives `output` of `config` to the callback `write` with `env`.
///
/// # Safety
/// As for [`wasmc_wasi_config_stdout_callback`].
unsafe fn set_output(
    config: *mut wasmc_wasi_config_t,
    output: Output,
    write: Option<wasmc_wasi_write_callback_t>,
    env: *mut c_void,
    finalizer: Option<wasmc_finalizer_t>,
) -> *mut wasmc_error_t {
    guard(|| {
        let callback = write_callback(write, env, finalizer)?;
        // SAFETY: `config` is null or live, as the caller guarantees.
        let config = unsafe { arg_mut(config, "config") }?;
        let slot = match output {
            Output::Stdout => &mut config.stdout,
            Output::Stderr => &mut config.stderr,
        };
        *slot = Some(callback);
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
        if let Some(bytes) = config.stdin {
            builder = builder.stdin_bytes(bytes);
        }
        if let Some(callback) = config.stdout {
            builder = builder.stdout(callback);
        }
        if let Some(callback) = config.stderr {
            builder = builder.stderr(callback);
        }
        for (host, guest) in &config.preopens {
            builder = builder.preopen_dir(host, guest.clone()).map_err(wasi_err)?;
        }
        store.store.set_wasi(builder.build().map_err(wasi_err)?);
        Ok(())
    })
}
