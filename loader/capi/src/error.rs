//! Error and trap objects, and the guard every entry point runs in.

use std::any::Any;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use wasmc_loader::{Error, Trap, TrapKind};

/// What kind of failure a `wasmc_error_t` reports (`WASMC_ERROR_*`).
pub type wasmc_error_kind_t = u8;
/// A trap's kind: the loader's [`TrapKind`] code (`WASMC_TRAP_CODE_*`).
pub type wasmc_trap_code_t = u8;

/// None of the kinds below.
pub const WASMC_ERROR_OTHER: wasmc_error_kind_t = 0;
/// A null pointer, a string that is not UTF-8, an unknown value kind.
pub const WASMC_ERROR_INVALID_ARGUMENT: wasmc_error_kind_t = 1;
/// The artifact was refused (unreadable, damaged, unsigned, wrong CPU, ...).
pub const WASMC_ERROR_LOAD: wasmc_error_kind_t = 2;
/// The linker does not satisfy the module's imports.
pub const WASMC_ERROR_LINK: wasmc_error_kind_t = 3;
/// Wasm code trapped (only when the caller passed no `wasmc_trap_t **`).
pub const WASMC_ERROR_TRAP: wasmc_error_kind_t = 4;
/// A reservation, mapping or configured limit was exceeded (a full pool).
pub const WASMC_ERROR_RESOURCE: wasmc_error_kind_t = 5;
/// Arguments or results do not match a function's type.
pub const WASMC_ERROR_TYPE: wasmc_error_kind_t = 6;
/// No export of that name and kind.
pub const WASMC_ERROR_EXPORT_NOT_FOUND: wasmc_error_kind_t = 7;
/// A handle used with a store it does not belong to.
pub const WASMC_ERROR_WRONG_STORE: wasmc_error_kind_t = 8;
/// A host access outside a memory's current size.
pub const WASMC_ERROR_OUT_OF_BOUNDS: wasmc_error_kind_t = 9;
/// The program exited on purpose (WASI `proc_exit`); see `wasmc_error_exit_status`.
pub const WASMC_ERROR_EXIT: wasmc_error_kind_t = 10;
/// A key file could not be read or holds no valid public key.
pub const WASMC_ERROR_KEY: wasmc_error_kind_t = 11;
/// A WASI context could not be built (a preopen failed).
pub const WASMC_ERROR_WASI: wasmc_error_kind_t = 12;
/// A bug in wasmc: a panic caught at the C boundary.
pub const WASMC_ERROR_PANIC: wasmc_error_kind_t = 13;

/// An error: a message, a kind, an exit status for `WASMC_ERROR_EXIT` and
/// a trap code for `WASMC_ERROR_TRAP`. Freed by [`wasmc_error_delete`].
#[derive(Debug)]
pub struct wasmc_error_t {
    message: CString,
    kind: wasmc_error_kind_t,
    exit_status: Option<i32>,
    trap_code: Option<wasmc_trap_code_t>,
}

/// Boxed, as entry points hand it to C.
pub(crate) type CError = Box<wasmc_error_t>;
pub(crate) type CResult<T> = Result<T, CError>;

/// A message as a C string: interior NULs (never in the loader's own
/// messages) become spaces rather than cutting the message short.
fn c_message(message: impl Into<String>) -> CString {
    let bytes: Vec<u8> = message.into().into_bytes().into_iter().map(|b| if b == 0 { b' ' } else { b }).collect();
    CString::new(bytes).unwrap_or_default()
}

impl wasmc_error_t {
    pub(crate) fn new(kind: wasmc_error_kind_t, message: impl Into<String>) -> CError {
        Box::new(wasmc_error_t { message: c_message(message), kind, exit_status: None, trap_code: None })
    }

    pub(crate) fn invalid(message: impl Into<String>) -> CError {
        wasmc_error_t::new(WASMC_ERROR_INVALID_ARGUMENT, message)
    }

    fn panic(payload: Box<dyn Any + Send>) -> CError {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_string());
        wasmc_error_t::new(WASMC_ERROR_PANIC, format!("internal error in wasmc (please report): {what}"))
    }
}

impl From<Error> for CError {
    fn from(error: Error) -> CError {
        let kind = match &error {
            Error::Load(_) => WASMC_ERROR_LOAD,
            Error::Link(_) => WASMC_ERROR_LINK,
            Error::Trap(_) => WASMC_ERROR_TRAP,
            Error::Resource(_) => WASMC_ERROR_RESOURCE,
            Error::Type(_) => WASMC_ERROR_TYPE,
            Error::ExportNotFound(_) => WASMC_ERROR_EXPORT_NOT_FOUND,
            Error::WrongStore => WASMC_ERROR_WRONG_STORE,
            Error::OutOfBounds(_) => WASMC_ERROR_OUT_OF_BOUNDS,
            Error::Exit(_) => WASMC_ERROR_EXIT,
            _ => WASMC_ERROR_OTHER,
        };
        let mut e = wasmc_error_t::new(kind, wasmc_loader::error_chain(&error));
        match error {
            Error::Exit(code) => e.exit_status = Some(code),
            Error::Trap(trap) => e.trap_code = Some(trap.kind.to_u8()),
            _ => {}
        }
        e
    }
}

impl From<wasmc_loader::LoadError> for CError {
    fn from(error: wasmc_loader::LoadError) -> CError {
        Error::Load(error).into()
    }
}

/// A trap: wasm code stopped (`unreachable`, an out-of-bounds access, a
/// deadline, ...), or what a host callback returns to make its caller
/// trap. Freed by [`wasmc_trap_delete`].
#[derive(Debug)]
pub struct wasmc_trap_t {
    pub(crate) message: CString,
    pub(crate) code: Option<wasmc_trap_code_t>,
}

impl From<Trap> for wasmc_trap_t {
    fn from(trap: Trap) -> wasmc_trap_t {
        wasmc_trap_t { message: c_message(wasmc_loader::error_chain(&trap)), code: Some(trap.kind.to_u8()) }
    }
}

/// Runs an entry point that reports failure as an error object: null on
/// success, the error (or a caught panic) otherwise.
pub(crate) fn guard(f: impl FnOnce() -> CResult<()>) -> *mut wasmc_error_t {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => ptr::null_mut(),
        Ok(Err(e)) => Box::into_raw(e),
        Err(payload) => Box::into_raw(wasmc_error_t::panic(payload)),
    }
}

/// Runs an entry point that returns a plain value: `fallback` if it panics.
pub(crate) fn guard_or<R>(fallback: R, f: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// The object behind `p`, or an invalid-argument error naming `what`.
///
/// # Safety
/// `p` is null or points to a live `T` not mutated for `'a`.
pub(crate) unsafe fn arg<'a, T>(p: *const T, what: &str) -> CResult<&'a T> {
    // SAFETY: non-null `p` points to a live `T`, as the caller guarantees.
    unsafe { p.as_ref() }.ok_or_else(|| wasmc_error_t::invalid(format!("{what} is NULL")))
}

/// The object behind `p`, mutably, or an invalid-argument error.
///
/// # Safety
/// `p` is null or points to a live `T` nothing else uses for `'a`.
pub(crate) unsafe fn arg_mut<'a, T>(p: *mut T, what: &str) -> CResult<&'a mut T> {
    // SAFETY: non-null `p` points to a live, unaliased `T`, as the caller guarantees.
    unsafe { p.as_mut() }.ok_or_else(|| wasmc_error_t::invalid(format!("{what} is NULL")))
}

/// A NUL-terminated UTF-8 string, or an invalid-argument error.
///
/// # Safety
/// `p` is null or points to a NUL-terminated string live for `'a`.
pub(crate) unsafe fn arg_str<'a>(p: *const c_char, what: &str) -> CResult<&'a str> {
    if p.is_null() {
        return Err(wasmc_error_t::invalid(format!("{what} is NULL")));
    }
    // SAFETY: `p` is non-null and NUL-terminated, as the caller guarantees.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().map_err(|_| wasmc_error_t::invalid(format!("{what} is not UTF-8")))
}

/// `len` elements at `p` (which may be null when `len` is 0).
///
/// # Safety
/// When `len > 0`, `p` is null or points to `len` initialised `T`s live
/// and not mutated for `'a`.
pub(crate) unsafe fn arg_slice<'a, T>(p: *const T, len: usize, what: &str) -> CResult<&'a [T]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(wasmc_error_t::invalid(format!("{what} is NULL but its length is {len}")));
    }
    // SAFETY: `p` is non-null and points to `len` initialised elements, as the caller guarantees.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// `len` elements at `p`, mutably (`p` may be null when `len` is 0).
///
/// # Safety
/// When `len > 0`, `p` is null or points to `len` writable `T`s that
/// nothing else uses for `'a` (initialised: `T` is plain data here).
pub(crate) unsafe fn arg_slice_mut<'a, T>(p: *mut T, len: usize, what: &str) -> CResult<&'a mut [T]> {
    if len == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return Err(wasmc_error_t::invalid(format!("{what} is NULL but its length is {len}")));
    }
    // SAFETY: `p` is non-null and points to `len` writable elements no one
    // else uses, as the caller guarantees.
    Ok(unsafe { std::slice::from_raw_parts_mut(p, len) })
}

/// Frees an error. Null is ignored.
///
/// # Safety
/// `error` is null or an error wasmc returned and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn wasmc_error_delete(error: *mut wasmc_error_t) {
    guard_or((), || {
        if !error.is_null() {
            // SAFETY: `error` came from `Box::into_raw` in `guard` and is freed once, as the caller guarantees.
            drop(unsafe { Box::from_raw(error) });
        }
    })
}

/// The error's message, a NUL-terminated UTF-8 string owned by the error
/// (valid until `wasmc_error_delete`). "" for a null error.
///
/// # Safety
/// `error` is null or a live error.
#[no_mangle]
pub unsafe extern "C" fn wasmc_error_message(error: *const wasmc_error_t) -> *const c_char {
    // SAFETY: `error` is null or live, as the caller guarantees.
    guard_or(c"".as_ptr(), || unsafe { arg(error, "error") }.map_or(c"".as_ptr(), |e| e.message.as_ptr()))
}

/// The error's kind (`WASMC_ERROR_*`); `WASMC_ERROR_INVALID_ARGUMENT` for a null error.
///
/// # Safety
/// `error` is null or a live error.
#[no_mangle]
pub unsafe extern "C" fn wasmc_error_kind(error: *const wasmc_error_t) -> wasmc_error_kind_t {
    // SAFETY: `error` is null or live, as the caller guarantees.
    guard_or(WASMC_ERROR_PANIC, || unsafe { arg(error, "error") }.map_or(WASMC_ERROR_INVALID_ARGUMENT, |e| e.kind))
}

/// For an error of kind `WASMC_ERROR_EXIT` (WASI `proc_exit`): stores the
/// exit status in `*status` and returns true; otherwise returns false.
///
/// # Safety
/// `error` is null or a live error; `status` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn wasmc_error_exit_status(error: *const wasmc_error_t, status: *mut i32) -> bool {
    guard_or(false, || {
        // SAFETY: both are null or valid, as the caller guarantees.
        match unsafe { (arg(error, "error"), arg_mut(status, "status")) } {
            (Ok(wasmc_error_t { exit_status: Some(code), .. }), Ok(out)) => {
                *out = *code;
                true
            }
            _ => false,
        }
    })
}

/// For an error of kind `WASMC_ERROR_TRAP`: stores the trap code in
/// `*code` and returns true; otherwise returns false.
///
/// # Safety
/// `error` is null or a live error; `code` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn wasmc_error_trap_code(error: *const wasmc_error_t, code: *mut wasmc_trap_code_t) -> bool {
    guard_or(false, || {
        // SAFETY: both are null or valid, as the caller guarantees.
        match unsafe { (arg(error, "error"), arg_mut(code, "code")) } {
            (Ok(wasmc_error_t { trap_code: Some(c), .. }), Ok(out)) => {
                *out = *c;
                true
            }
            _ => false,
        }
    })
}

/// A trap with this message, for a host callback to return (its wasm
/// caller then traps with `WASMC_TRAP_CODE_HOST_ERROR` and the message).
/// Null if `message` is null or not UTF-8.
///
/// # Safety
/// `message` is null or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn wasmc_trap_new(message: *const c_char) -> *mut wasmc_trap_t {
    guard_or(ptr::null_mut(), || {
        // SAFETY: `message` is null or NUL-terminated, as the caller guarantees.
        match unsafe { arg_str(message, "message") } {
            Ok(m) => Box::into_raw(Box::new(wasmc_trap_t { message: c_message(m), code: None })),
            Err(_) => ptr::null_mut(),
        }
    })
}

/// Frees a trap. Null is ignored.
///
/// # Safety
/// `trap` is null or a trap wasmc returned and not yet freed (a trap a
/// host callback returned belongs to wasmc: do not free it).
#[no_mangle]
pub unsafe extern "C" fn wasmc_trap_delete(trap: *mut wasmc_trap_t) {
    guard_or((), || {
        if !trap.is_null() {
            // SAFETY: `trap` came from `Box::into_raw` and is freed once, as the caller guarantees.
            drop(unsafe { Box::from_raw(trap) });
        }
    })
}

/// The trap's message (NUL-terminated, owned by the trap). "" for null.
///
/// # Safety
/// `trap` is null or a live trap.
#[no_mangle]
pub unsafe extern "C" fn wasmc_trap_message(trap: *const wasmc_trap_t) -> *const c_char {
    // SAFETY: `trap` is null or live, as the caller guarantees.
    guard_or(c"".as_ptr(), || unsafe { arg(trap, "trap") }.map_or(c"".as_ptr(), |t| t.message.as_ptr()))
}

/// Stores the trap's code in `*code` and returns true; false for a trap
/// made by `wasmc_trap_new` (it has none until wasm code raises it).
///
/// # Safety
/// `trap` is null or a live trap; `code` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn wasmc_trap_code(trap: *const wasmc_trap_t, code: *mut wasmc_trap_code_t) -> bool {
    guard_or(false, || {
        // SAFETY: both are null or valid, as the caller guarantees.
        match unsafe { (arg(trap, "trap"), arg_mut(code, "code")) } {
            (Ok(wasmc_trap_t { code: Some(c), .. }), Ok(out)) => {
                *out = *c;
                true
            }
            _ => false,
        }
    })
}

/// The `WASMC_TRAP_CODE_*` constants of the header, by name, for the
/// header test: each is its [`TrapKind`]'s code.
pub const TRAP_CODES: [(&str, TrapKind); 14] = [
    ("STACK_OVERFLOW", TrapKind::StackOverflow),
    ("MEMORY_OUT_OF_BOUNDS", TrapKind::MemoryOutOfBounds),
    ("HEAP_MISALIGNED", TrapKind::HeapMisaligned),
    ("TABLE_OUT_OF_BOUNDS", TrapKind::TableOutOfBounds),
    ("INDIRECT_CALL_TO_NULL", TrapKind::IndirectCallToNull),
    ("BAD_SIGNATURE", TrapKind::BadSignature),
    ("INTEGER_OVERFLOW", TrapKind::IntegerOverflow),
    ("INTEGER_DIVISION_BY_ZERO", TrapKind::IntegerDivisionByZero),
    ("BAD_CONVERSION_TO_INTEGER", TrapKind::BadConversionToInteger),
    ("UNREACHABLE_CODE_REACHED", TrapKind::UnreachableCodeReached),
    ("INTERRUPT", TrapKind::Interrupted),
    ("NULL_REFERENCE", TrapKind::NullReference),
    ("HOST_ERROR", TrapKind::HostError),
    ("UNKNOWN_FAULT", TrapKind::UnknownFault),
];

/// The `WASMC_ERROR_*` constants, by name, for the header test.
pub const ERROR_KINDS: [(&str, wasmc_error_kind_t); 14] = [
    ("OTHER", WASMC_ERROR_OTHER),
    ("INVALID_ARGUMENT", WASMC_ERROR_INVALID_ARGUMENT),
    ("LOAD", WASMC_ERROR_LOAD),
    ("LINK", WASMC_ERROR_LINK),
    ("TRAP", WASMC_ERROR_TRAP),
    ("RESOURCE", WASMC_ERROR_RESOURCE),
    ("TYPE", WASMC_ERROR_TYPE),
    ("EXPORT_NOT_FOUND", WASMC_ERROR_EXPORT_NOT_FOUND),
    ("WRONG_STORE", WASMC_ERROR_WRONG_STORE),
    ("OUT_OF_BOUNDS", WASMC_ERROR_OUT_OF_BOUNDS),
    ("EXIT", WASMC_ERROR_EXIT),
    ("KEY", WASMC_ERROR_KEY),
    ("WASI", WASMC_ERROR_WASI),
    ("PANIC", WASMC_ERROR_PANIC),
];

/// Sets `*trap` (when given) to null, so every return leaves it defined.
///
/// # Safety
/// `trap` is null or writable.
pub(crate) unsafe fn clear_trap(trap: *mut *mut wasmc_trap_t) {
    if !trap.is_null() {
        // SAFETY: non-null `trap` is writable, as the caller guarantees.
        unsafe { *trap = ptr::null_mut() };
    }
}

/// Splits a call's or instantiation's error: a trap goes to `*trap` when
/// the caller asked for traps that way, everything else is an error object.
///
/// # Safety
/// `trap` is null or writable.
pub(crate) unsafe fn split_trap(error: Error, trap: *mut *mut wasmc_trap_t) -> CResult<()> {
    match error {
        Error::Trap(t) if !trap.is_null() => {
            // SAFETY: `trap` is non-null and writable, as the caller guarantees.
            unsafe { *trap = Box::into_raw(Box::new(wasmc_trap_t::from(t))) };
            Ok(())
        }
        other => Err(other.into()),
    }
}
