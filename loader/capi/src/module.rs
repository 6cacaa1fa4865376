//! Loading artifacts: trusted (the caller vouches for the file),
//! checksummed, or signed by one of a set of trusted public keys.

use std::ffi::c_char;
use std::ptr;

use wasmc_artifact::keys::{read_key_file, PUBLIC_KEY_HEADER};
use wasmc_loader::{Module, TrustedKeys};

use crate::error::{arg, arg_mut, arg_slice, arg_str, guard, guard_or, wasmc_error_t, CResult, WASMC_ERROR_KEY};

/// A loaded artifact. Shareable: any number of threads may use one
/// module at once. Freed by [`wasmc_module_delete`].
pub struct wasmc_module_t {
    pub(crate) module: Module,
}

/// Public keys whose signatures a signed load accepts. Shareable once
/// built. Freed by [`wasmc_trusted_keys_delete`].
#[derive(Default)]
pub struct wasmc_trusted_keys_t {
    keys: TrustedKeys,
}

/// Stores a new module in `*out`, after checking `out` before any work.
///
/// # Safety
/// `out` is null or writable.
unsafe fn load(out: *mut *mut wasmc_module_t, f: impl FnOnce() -> CResult<Module>) -> *mut wasmc_error_t {
    guard(|| {
        // SAFETY: `out` is null or writable, as the caller guarantees.
        let out = unsafe { arg_mut(out, "out") }?;
        *out = ptr::null_mut();
        *out = Box::into_raw(Box::new(wasmc_module_t { module: f()? }));
        Ok(())
    })
}

/// Loads the artifact at `path`, running every check including the
/// checksum (which catches damage, not forgery).
///
/// # Safety
/// An artifact is native code that will run in this process: **the
/// caller vouches for the file** (e.g. its own build pipeline compiled it
/// with wasmc). `path` is null or a NUL-terminated string; `out` is null
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn wasmc_module_from_file(
    path: *const c_char,
    out: *mut *mut wasmc_module_t,
) -> *mut wasmc_error_t {
    let f = || {
        // SAFETY: `path` is null or NUL-terminated, as the caller guarantees.
        let path = unsafe { arg_str(path, "path") }?;
        // SAFETY: the caller vouches for the artifact, as documented above.
        Ok(unsafe { Module::from_file(path) }?)
    };
    // SAFETY: `out` is null or writable, as the caller guarantees.
    unsafe { load(out, f) }
}

/// Like [`wasmc_module_from_file`] but skips the checksum.
///
/// # Safety
/// As for [`wasmc_module_from_file`]; the caller also vouches for the
/// file's integrity.
#[no_mangle]
pub unsafe extern "C" fn wasmc_module_from_file_trusted(
    path: *const c_char,
    out: *mut *mut wasmc_module_t,
) -> *mut wasmc_error_t {
    let f = || {
        // SAFETY: `path` is null or NUL-terminated, as the caller guarantees.
        let path = unsafe { arg_str(path, "path") }?;
        // SAFETY: the caller vouches for the artifact and its integrity.
        Ok(unsafe { Module::from_file_trusted(path) }?)
    };
    // SAFETY: `out` is null or writable, as the caller guarantees.
    unsafe { load(out, f) }
}

/// Loads an artifact from `len` bytes at `bytes` (copied), checksum
/// checked.
///
/// # Safety
/// As for [`wasmc_module_from_file`] (the caller vouches for the bytes);
/// `bytes` points to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn wasmc_module_from_bytes(
    bytes: *const u8,
    len: usize,
    out: *mut *mut wasmc_module_t,
) -> *mut wasmc_error_t {
    let f = || {
        // SAFETY: `bytes` points to `len` readable bytes, as the caller guarantees.
        let bytes = unsafe { arg_slice(bytes, len, "bytes") }?;
        // SAFETY: the caller vouches for the artifact.
        Ok(unsafe { Module::from_bytes(bytes) }?)
    };
    // SAFETY: `out` is null or writable, as the caller guarantees.
    unsafe { load(out, f) }
}

/// Loads the artifact at `path` only if one of `keys` signed it (`wasmc
/// compile --sign`), after every check of [`wasmc_module_from_file`]. The
/// file is read once and the copy checked and run. Errors of kind
/// `WASMC_ERROR_LOAD` say unsigned, untrusted key or bad signature.
///
/// # Safety
/// Pointer validity only (the signature vouches for the file): `path` is
/// null or NUL-terminated, `keys` null or live, `out` null or writable.
#[no_mangle]
pub unsafe extern "C" fn wasmc_module_from_file_signed(
    path: *const c_char,
    keys: *const wasmc_trusted_keys_t,
    out: *mut *mut wasmc_module_t,
) -> *mut wasmc_error_t {
    let f = || {
        // SAFETY: `path` and `keys` are null or valid, as the caller guarantees.
        let (path, keys) = unsafe { (arg_str(path, "path")?, arg(keys, "keys")?) };
        Ok(Module::from_file_signed(path, &keys.keys)?)
    };
    // SAFETY: `out` is null or writable, as the caller guarantees.
    unsafe { load(out, f) }
}

/// Like [`wasmc_module_from_file_signed`], for `len` bytes in memory
/// (copied).
///
/// # Safety
/// `bytes` points to `len` readable bytes; `keys` is null or live; `out`
/// is null or writable.
#[no_mangle]
pub unsafe extern "C" fn wasmc_module_from_bytes_signed(
    bytes: *const u8,
    len: usize,
    keys: *const wasmc_trusted_keys_t,
    out: *mut *mut wasmc_module_t,
) -> *mut wasmc_error_t {
    let f = || {
        // SAFETY: `bytes` and `keys` are valid, as the caller guarantees.
        let (bytes, keys) = unsafe { (arg_slice(bytes, len, "bytes")?, arg(keys, "keys")?) };
        Ok(Module::from_bytes_signed(bytes, &keys.keys)?)
    };
    // SAFETY: `out` is null or writable, as the caller guarantees.
    unsafe { load(out, f) }
}

/// A second handle to the same loaded module (freed separately). Null if
/// `module` is null.
///
/// # Safety
/// `module` is null or live.
#[no_mangle]
pub unsafe extern "C" fn wasmc_module_clone(module: *const wasmc_module_t) -> *mut wasmc_module_t {
    guard_or(ptr::null_mut(), || {
        // SAFETY: `module` is null or live, as the caller guarantees.
        match unsafe { arg(module, "module") } {
            Ok(m) => Box::into_raw(Box::new(wasmc_module_t { module: m.module.clone() })),
            Err(_) => ptr::null_mut(),
        }
    })
}

/// Frees a module handle. Instances, pools and instance-pres made from it
/// keep the code mapped until they go too. Null is ignored.
///
/// # Safety
/// `module` is null or a live module not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn wasmc_module_delete(module: *mut wasmc_module_t) {
    // SAFETY: `module` came from `Box::into_raw` and is freed once, as the caller guarantees.
    guard_or((), || drop((!module.is_null()).then(|| unsafe { Box::from_raw(module) })))
}

/// An empty set of trusted keys (every signed load is refused until a key
/// is added).
#[no_mangle]
pub extern "C" fn wasmc_trusted_keys_new() -> *mut wasmc_trusted_keys_t {
    guard_or(ptr::null_mut(), || Box::into_raw(Box::default()))
}

/// Adds the public key in a key file (`NAME.pub`, as `wasmc keygen`
/// writes it). Errors of kind `WASMC_ERROR_KEY` for an unreadable file
/// or one that holds no valid key.
///
/// # Safety
/// `keys` is null or live and not used by another thread meanwhile;
/// `path` is null or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn wasmc_trusted_keys_add_file(
    keys: *mut wasmc_trusted_keys_t,
    path: *const c_char,
) -> *mut wasmc_error_t {
    guard(|| {
        // SAFETY: both are null or valid, as the caller guarantees.
        let (keys, path) = unsafe { (arg_mut(keys, "keys")?, arg_str(path, "path")?) };
        let key = read_key_file(path.as_ref(), PUBLIC_KEY_HEADER)
            .map_err(|e| wasmc_error_t::new(WASMC_ERROR_KEY, e.to_string()))?;
        keys.keys
            .add(key)
            .ok_or_else(|| wasmc_error_t::new(WASMC_ERROR_KEY, format!("{path}: not a valid Ed25519 public key")))?;
        Ok(())
    })
}

/// Frees a key set. Null is ignored.
///
/// # Safety
/// `keys` is null or a live key set not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn wasmc_trusted_keys_delete(keys: *mut wasmc_trusted_keys_t) {
    // SAFETY: `keys` came from `Box::into_raw` and is freed once, as the caller guarantees.
    guard_or((), || drop((!keys.is_null()).then(|| unsafe { Box::from_raw(keys) })))
}
