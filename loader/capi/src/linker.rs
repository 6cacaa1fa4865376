//! Linkers with host functions written in C, the caller a host function
//! sees, and instance-pres (imports resolved once).

use std::ffi::{c_char, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use wasmc_loader::{Caller, FuncType, HostError, InstancePre, Linker, RawValues};

use crate::error::{
    arg, arg_mut, arg_slice, arg_str, guard, guard_or, wasmc_error_t, wasmc_trap_t, CResult,
    WASMC_ERROR_EXPORT_NOT_FOUND,
};
use crate::module::wasmc_module_t;
use crate::store::{wasmc_finalizer_t, HostData, HostPtr};
use crate::val::{val_type, wasmc_val_t, wasmc_valkind_t, Values};

/// A host function: gets its `env`, the caller, the arguments, and fills
/// the results (pre-set to zeros of the right kinds). Returns null, or a
/// trap (from `wasmc_trap_new`, which wasmc then owns and frees) to make
/// the calling wasm code trap.
pub type wasmc_func_callback_t = unsafe extern "C" fn(
    env: *mut c_void,
    caller: *mut wasmc_caller_t,
    args: *const wasmc_val_t,
    nargs: usize,
    results: *mut wasmc_val_t,
    nresults: usize,
) -> *mut wasmc_trap_t;

/// Definitions of imports, host functions among them. Shareable once
/// built: instantiate from any number of threads at once; define only
/// while no other thread uses it. Freed by [`wasmc_linker_delete`].
pub struct wasmc_linker_t {
    pub(crate) linker: Linker<HostData>,
}

/// A module with its imports found in a linker: instantiate it many times,
/// fresh or from a pool, from any thread. Freed by
/// [`wasmc_instance_pre_delete`].
pub struct wasmc_instance_pre_t {
    pub(crate) pre: InstancePre<HostData>,
}

/// What a host callback sees of its caller, valid only during the
/// callback: the store's data and the calling instance's exported
/// `"memory"`.
pub struct wasmc_caller_t<'a> {
    caller: Caller<'a, HostData>,
}

/// A C callback with its environment, finalized when the last linker or
/// instance-pre holding the function goes.
struct Callback {
    func: wasmc_func_callback_t,
    env: HostPtr,
}

// SAFETY: the header requires a host callback and its env to be callable
// from any thread, concurrently (a linker is shared between threads), so
// calls through `&Callback` from several threads at once are allowed.
unsafe impl Sync for Callback {}

impl Callback {
    /// Calls the C function with the call's values as C values and writes
    /// its results back over them.
    fn call(&self, caller: Caller<'_, HostData>, ty: &FuncType, values: &mut RawValues<'_>) -> Result<(), HostError> {
        let mut c_values: Values<wasmc_val_t> =
            ty.params.iter().chain(&ty.results).map(|&t| wasmc_val_t::zero(t)).collect();
        let (args, results) = c_values.split_at_mut(ty.params.len());
        for (i, arg) in args.iter_mut().enumerate() {
            arg.load(values, i);
        }
        let mut c_caller = wasmc_caller_t { caller };
        // SAFETY: the host registered `func` with this `env` for a function
        // of this type; the arrays hold exactly `nargs` and `nresults`
        // values and the caller lives across the call.
        let trap = unsafe {
            (self.func)(self.env.get(), &mut c_caller, args.as_ptr(), args.len(), results.as_mut_ptr(), results.len())
        };
        if !trap.is_null() {
            // SAFETY: a callback returns null or a trap from `wasmc_trap_new`, which it hands over.
            let trap = unsafe { Box::from_raw(trap) };
            return Err(HostError::new(trap.message.to_string_lossy().into_owned()));
        }
        for (i, (result, &t)) in results.iter().zip(&ty.results).enumerate() {
            result
                .store(t, values, i)
                .map_err(|e| HostError::new(format!("host function returned a bad value: {}", e_message(&e))))?;
        }
        Ok(())
    }
}

fn e_message(e: &wasmc_error_t) -> String {
    // SAFETY: `e` is a live error, so `wasmc_error_message` returns its NUL-terminated message.
    unsafe { std::ffi::CStr::from_ptr(crate::error::wasmc_error_message(e)) }.to_string_lossy().into_owned()
}

/// An empty linker.
#[no_mangle]
pub extern "C" fn wasmc_linker_new() -> *mut wasmc_linker_t {
    guard_or(ptr::null_mut(), || Box::into_raw(Box::new(wasmc_linker_t { linker: Linker::new() })))
}

/// Frees a linker. Host functions it defined stay alive in instance-pres
/// and instances made from it; each finalizer runs when its function's
/// last user goes. Null is ignored.
///
/// # Safety
/// `linker` is null or live and not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn wasmc_linker_delete(linker: *mut wasmc_linker_t) {
    // SAFETY: `linker` came from `Box::into_raw` and is freed once, as the caller guarantees.
    guard_or((), || drop((!linker.is_null()).then(|| unsafe { Box::from_raw(linker) })))
}

/// Defines `module`.`name` as a host function of type `(params) ->
/// (results)` implemented by `callback`, which gets `env`; `finalizer`
/// (if not null) gets `env` when the function is no longer used. On error
/// the finalizer runs at once.
///
/// The callback may run on any thread, on several at once: whatever
/// `env` points to must allow that.
///
/// # Safety
/// `linker` is null or live and not used by another thread meanwhile;
/// `module` and `name` are null or NUL-terminated; `params` and `results`
/// point to `nparams` and `nresults` kinds; `callback` is null or a
/// function of the declared C type that returns normally (no `longjmp`
/// or C++ exception out of it).
#[no_mangle]
pub unsafe extern "C" fn wasmc_linker_define_func(
    linker: *mut wasmc_linker_t,
    module: *const c_char,
    name: *const c_char,
    params: *const wasmc_valkind_t,
    nparams: usize,
    results: *const wasmc_valkind_t,
    nresults: usize,
    callback: Option<wasmc_func_callback_t>,
    env: *mut c_void,
    finalizer: Option<wasmc_finalizer_t>,
) -> *mut wasmc_error_t {
    // Owns `env` from here: dropped (finalized) on every error path.
    let env = HostPtr::new(env, finalizer);
    guard(move || {
        // SAFETY: all pointers are null or valid, as the caller guarantees.
        let (linker, module, name, params, results) = unsafe {
            (
                arg_mut(linker, "linker")?,
                arg_str(module, "module")?,
                arg_str(name, "name")?,
                arg_slice(params, nparams, "params")?,
                arg_slice(results, nresults, "results")?,
            )
        };
        let func = callback.ok_or_else(|| wasmc_error_t::invalid("callback is NULL"))?;
        let ty = FuncType {
            params: params.iter().map(|&k| val_type(k)).collect::<CResult<_>>()?,
            results: results.iter().map(|&k| val_type(k)).collect::<CResult<_>>()?,
        };
        let callback = Callback { func, env };
        let fty = ty.clone();
        linker.linker.func_new_raw(module, name, ty, move |caller, values| {
            catch_unwind(AssertUnwindSafe(|| callback.call(caller, &fty, values)))
                .unwrap_or_else(|_| Err(HostError::new("internal error in wasmc's C host-function glue")))
        })?;
        Ok(())
    })
}

/// Defines WASI preview 1 (`wasi_snapshot_preview1`) and preview 0
/// (`wasi_unstable`) in the linker. Each
/// store gets its own state with `wasmc_store_set_wasi`.
///
/// # Safety
/// `linker` is null or live and not used by another thread meanwhile.
#[no_mangle]
pub unsafe extern "C" fn wasmc_linker_define_wasi(linker: *mut wasmc_linker_t) -> *mut wasmc_error_t {
    guard(|| {
        // SAFETY: `linker` is null or live and unaliased, as the caller guarantees.
        wasmc_loader::wasi::add_to_linker(&mut unsafe { arg_mut(linker, "linker") }?.linker);
        Ok(())
    })
}

/// Finds every import of `module` in the linker once and checks host
/// functions' types; stores the result in `*out`.
///
/// # Safety
/// `linker` and `module` are null or live; `out` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn wasmc_linker_instantiate_pre(
    linker: *const wasmc_linker_t,
    module: *const wasmc_module_t,
    out: *mut *mut wasmc_instance_pre_t,
) -> *mut wasmc_error_t {
    guard(|| {
        // SAFETY: all are null or valid, as the caller guarantees.
        let (linker, module, out) = unsafe { (arg(linker, "linker")?, arg(module, "module")?, arg_mut(out, "out")?) };
        *out = ptr::null_mut();
        let pre = linker.linker.instantiate_pre(&module.module)?;
        *out = Box::into_raw(Box::new(wasmc_instance_pre_t { pre }));
        Ok(())
    })
}

/// Frees an instance-pre. Null is ignored.
///
/// # Safety
/// `pre` is null or live and not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn wasmc_instance_pre_delete(pre: *mut wasmc_instance_pre_t) {
    // SAFETY: `pre` came from `Box::into_raw` and is freed once, as the caller guarantees.
    guard_or((), || drop((!pre.is_null()).then(|| unsafe { Box::from_raw(pre) })))
}

/// The `data` of the store the host function runs in.
///
/// # Safety
/// `caller` is null or the caller passed to the running callback.
#[no_mangle]
pub unsafe extern "C" fn wasmc_caller_data(caller: *const wasmc_caller_t) -> *mut c_void {
    // SAFETY: `caller` is null or live, as the caller guarantees.
    guard_or(ptr::null_mut(), || unsafe { arg(caller, "caller") }.map_or(ptr::null_mut(), |c| c.caller.data().get()))
}

/// Copies `len` bytes at `offset` of the calling instance's exported
/// `"memory"` into `buf`. `WASMC_ERROR_OUT_OF_BOUNDS` past its end,
/// `WASMC_ERROR_EXPORT_NOT_FOUND` if it exports no memory.
///
/// # Safety
/// `caller` is null or the running callback's caller; `buf` points to
/// `len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn wasmc_caller_memory_read(
    caller: *const wasmc_caller_t,
    offset: u64,
    buf: *mut u8,
    len: usize,
) -> *mut wasmc_error_t {
    guard(|| {
        // SAFETY: both are valid, as the caller guarantees.
        let (caller, buf) = unsafe { (arg(caller, "caller")?, crate::error::arg_slice_mut(buf, len, "buf")?) };
        Ok(caller.caller.memory_read(offset, buf)?)
    })
}

/// Copies `len` bytes from `buf` to `offset` of the calling instance's
/// exported `"memory"`. Errors as for [`wasmc_caller_memory_read`].
///
/// # Safety
/// `caller` is null or the running callback's caller; `buf` points to
/// `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn wasmc_caller_memory_write(
    caller: *mut wasmc_caller_t,
    offset: u64,
    buf: *const u8,
    len: usize,
) -> *mut wasmc_error_t {
    guard(|| {
        // SAFETY: both are valid, as the caller guarantees.
        let (caller, buf) = unsafe { (arg_mut(caller, "caller")?, arg_slice(buf, len, "buf")?) };
        Ok(caller.caller.memory_write(offset, buf)?)
    })
}

/// Stores the address and size in bytes of the calling instance's
/// exported `"memory"` in `*data` and `*size`. Valid until the callback
/// returns or the memory grows.
///
/// # Safety
/// `caller` is null or the running callback's caller; `data` and `size`
/// are null or writable.
#[no_mangle]
pub unsafe extern "C" fn wasmc_caller_memory_data(
    caller: *const wasmc_caller_t,
    data: *mut *mut u8,
    size: *mut usize,
) -> *mut wasmc_error_t {
    guard(|| {
        // SAFETY: all are null or valid, as the caller guarantees.
        let (caller, data, size) = unsafe { (arg(caller, "caller")?, arg_mut(data, "data")?, arg_mut(size, "size")?) };
        let memory = caller
            .caller
            .memory()
            .ok_or_else(|| wasmc_error_t::new(WASMC_ERROR_EXPORT_NOT_FOUND, "the caller exports no \"memory\""))?;
        *data = memory.data_ptr(&caller.caller);
        *size = usize::try_from(memory.size(&caller.caller)).unwrap_or(usize::MAX);
        Ok(())
    })
}
