//! Instantiation (fresh or from a pool), calls with typed values, and
//! memories. Instance, func and memory handles belong to one store.

use std::ffi::c_char;
use std::ptr;

use wasmc_loader::{Func, Instance, InstancePool, Memory, PoolConfig, Val};

use crate::error::{
    arg, arg_mut, arg_slice, arg_slice_mut, arg_str, clear_trap, guard, guard_or, split_trap, wasmc_error_t,
    wasmc_trap_t, CResult, WASMC_ERROR_EXPORT_NOT_FOUND,
};
use crate::linker::{wasmc_instance_pre_t, wasmc_linker_t};
use crate::module::wasmc_module_t;
use crate::store::wasmc_store_t;
use crate::val::{store_results, wasmc_val_t, Values};

/// An instance in a store. Freed by [`wasmc_instance_delete`] (which
/// frees the handle; the instance lives as long as its store).
pub struct wasmc_instance_t {
    instance: Instance,
}

/// A function in a store. Freed by [`wasmc_func_delete`].
pub struct wasmc_func_t {
    func: Func,
}

/// A linear memory in a store. Freed by [`wasmc_memory_delete`].
pub struct wasmc_memory_t {
    memory: Memory,
}

/// Pre-reserved slots for instances of one module. Shareable: instantiate
/// from any number of threads at once. Freed by
/// [`wasmc_instance_pool_delete`]; stores holding its slots keep them.
pub struct wasmc_instance_pool_t {
    pool: InstancePool,
}

/// Instantiates with `make` and stores the handle in `*out`; a trap (in a
/// start function) goes to `*trap` when given.
///
/// # Safety
/// `out` and `trap` are null or writable.
unsafe fn instantiate(
    out: *mut *mut wasmc_instance_t,
    trap: *mut *mut wasmc_trap_t,
    make: impl FnOnce() -> CResult<Result<Instance, wasmc_loader::Error>>,
) -> *mut wasmc_error_t {
    guard(|| {
        // SAFETY: `trap` and `out` are null or writable, as the caller guarantees.
        let out = unsafe {
            clear_trap(trap);
            arg_mut(out, "out")?
        };
        *out = ptr::null_mut();
        match make()? {
            Ok(instance) => *out = Box::into_raw(Box::new(wasmc_instance_t { instance })),
            // SAFETY: `trap` is null or writable, as the caller guarantees.
            Err(e) => unsafe { split_trap(e, trap) }?,
        }
        Ok(())
    })
}

/// Instantiates `module` in `store` with imports from `linker`. A trap in
/// its start function goes to `*trap` (when `trap` is not null; otherwise
/// it is an error of kind `WASMC_ERROR_TRAP`) and `*out` stays null.
///
/// # Safety
/// `linker`, `module` are null or live; `store` is null or live and used by
/// no other thread meanwhile; `out` and `trap` are null or writable.
#[no_mangle]
pub unsafe extern "C" fn wasmc_linker_instantiate(
    linker: *const wasmc_linker_t,
    store: *mut wasmc_store_t,
    module: *const wasmc_module_t,
    out: *mut *mut wasmc_instance_t,
    trap: *mut *mut wasmc_trap_t,
) -> *mut wasmc_error_t {
    let f = || {
        // SAFETY: all are null or valid, as the caller guarantees.
        let (linker, store, module) =
            unsafe { (arg(linker, "linker")?, arg_mut(store, "store")?, arg(module, "module")?) };
        Ok(Instance::new(&mut store.store, &module.module, &linker.linker))
    };
    // SAFETY: `out` and `trap` are null or writable, as the caller guarantees.
    unsafe { instantiate(out, trap, f) }
}

/// Instantiates `pre`'s module in `store`, in fresh memory. Traps as for
/// [`wasmc_linker_instantiate`].
///
/// # Safety
/// `pre` is null or live; `store` is null or live and used by no other
/// thread meanwhile; `out` and `trap` are null or writable.
#[no_mangle]
pub unsafe extern "C" fn wasmc_instance_pre_instantiate(
    pre: *const wasmc_instance_pre_t,
    store: *mut wasmc_store_t,
    out: *mut *mut wasmc_instance_t,
    trap: *mut *mut wasmc_trap_t,
) -> *mut wasmc_error_t {
    let f = || {
        // SAFETY: both are null or valid, as the caller guarantees.
        let (pre, store) = unsafe { (arg(pre, "pre")?, arg_mut(store, "store")?) };
        Ok(pre.pre.instantiate(&mut store.store))
    };
    // SAFETY: `out` and `trap` are null or writable, as the caller guarantees.
    unsafe { instantiate(out, trap, f) }
}

/// Reserves `capacity` slots for instances of `module`, each memory
/// limited to `max_memory_pages` wasm pages (0: the default, 160).
/// `WASMC_ERROR_RESOURCE` when the address space cannot be reserved
/// (guard-mode artifacts reserve 6 GiB per memory per slot).
///
/// # Safety
/// `module` is null or live; `out` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn wasmc_instance_pool_new(
    module: *const wasmc_module_t,
    capacity: u32,
    max_memory_pages: u32,
    out: *mut *mut wasmc_instance_pool_t,
) -> *mut wasmc_error_t {
    guard(|| {
        // SAFETY: both are null or valid, as the caller guarantees.
        let (module, out) = unsafe { (arg(module, "module")?, arg_mut(out, "out")?) };
        *out = ptr::null_mut();
        let mut config = PoolConfig { capacity, ..PoolConfig::default() };
        if max_memory_pages > 0 {
            config.max_memory_pages = max_memory_pages;
        }
        let pool = InstancePool::new(&module.module, config)?;
        *out = Box::into_raw(Box::new(wasmc_instance_pool_t { pool }));
        Ok(())
    })
}

/// Frees a pool handle; slots in use stay with their stores until those
/// are deleted. Null is ignored.
///
/// # Safety
/// `pool` is null or live and not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn wasmc_instance_pool_delete(pool: *mut wasmc_instance_pool_t) {
    // SAFETY: `pool` came from `Box::into_raw` and is freed once, as the caller guarantees.
    guard_or((), || drop((!pool.is_null()).then(|| unsafe { Box::from_raw(pool) })))
}

/// Number of free slots right now (0 for null).
///
/// # Safety
/// `pool` is null or live.
#[no_mangle]
pub unsafe extern "C" fn wasmc_instance_pool_available(pool: *const wasmc_instance_pool_t) -> usize {
    // SAFETY: `pool` is null or live, as the caller guarantees.
    guard_or(0, || unsafe { arg(pool, "pool") }.map_or(0, |p| p.pool.available()))
}

/// Instantiates `pre`'s module (which must be the pool's) in a free slot
/// for `store`; the slot returns to the pool when the store is deleted.
/// `WASMC_ERROR_RESOURCE` when every slot is in use. Traps as for
/// [`wasmc_linker_instantiate`].
///
/// # Safety
/// `pool` and `pre` are null or live; `store` is null or live and used by
/// no other thread meanwhile; `out` and `trap` are null or writable.
#[no_mangle]
pub unsafe extern "C" fn wasmc_instance_pool_instantiate_pre(
    pool: *const wasmc_instance_pool_t,
    store: *mut wasmc_store_t,
    pre: *const wasmc_instance_pre_t,
    out: *mut *mut wasmc_instance_t,
    trap: *mut *mut wasmc_trap_t,
) -> *mut wasmc_error_t {
    let f = || {
        // SAFETY: all are null or valid, as the caller guarantees.
        let (pool, store, pre) = unsafe { (arg(pool, "pool")?, arg_mut(store, "store")?, arg(pre, "pre")?) };
        Ok(pool.pool.instantiate_pre(&mut store.store, &pre.pre))
    };
    // SAFETY: `out` and `trap` are null or writable, as the caller guarantees.
    unsafe { instantiate(out, trap, f) }
}

/// Like [`wasmc_instance_pool_instantiate_pre`], resolving imports in
/// `linker` now.
///
/// # Safety
/// As for [`wasmc_instance_pool_instantiate_pre`], with `linker` null or live.
#[no_mangle]
pub unsafe extern "C" fn wasmc_instance_pool_instantiate(
    pool: *const wasmc_instance_pool_t,
    store: *mut wasmc_store_t,
    linker: *const wasmc_linker_t,
    out: *mut *mut wasmc_instance_t,
    trap: *mut *mut wasmc_trap_t,
) -> *mut wasmc_error_t {
    let f = || {
        // SAFETY: all are null or valid, as the caller guarantees.
        let (pool, store, linker) = unsafe { (arg(pool, "pool")?, arg_mut(store, "store")?, arg(linker, "linker")?) };
        Ok(pool.pool.instantiate(&mut store.store, &linker.linker))
    };
    // SAFETY: `out` and `trap` are null or writable, as the caller guarantees.
    unsafe { instantiate(out, trap, f) }
}

/// Frees an instance handle (the instance itself lives as long as its
/// store). Null is ignored.
///
/// # Safety
/// `instance` is null or live and not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn wasmc_instance_delete(instance: *mut wasmc_instance_t) {
    // SAFETY: `instance` came from `Box::into_raw` and is freed once, as the caller guarantees.
    guard_or((), || drop((!instance.is_null()).then(|| unsafe { Box::from_raw(instance) })))
}

/// Runs a call and splits its outcome: results into the C array, a trap
/// into `*trap`.
///
/// # Safety
/// `args` holds `nargs` values, `results` has room for `nresults`, `trap`
/// is null or writable.
unsafe fn call(
    args: *const wasmc_val_t,
    nargs: usize,
    results: *mut wasmc_val_t,
    nresults: usize,
    trap: *mut *mut wasmc_trap_t,
    run: impl FnOnce(&[Val], &mut [Val]) -> CResult<Result<(), wasmc_loader::Error>>,
) -> *mut wasmc_error_t {
    guard(|| {
        // SAFETY: the arrays and `trap` are valid, as the caller guarantees.
        let (args, results) = unsafe {
            clear_trap(trap);
            (arg_slice(args, nargs, "args")?, arg_slice_mut(results, nresults, "results")?)
        };
        let vals: Values<Val> = args.iter().map(|a| a.to_val()).collect::<CResult<_>>()?;
        let mut outs: Values<Val> = smallvec::smallvec![Val::I32(0); results.len()];
        match run(&vals, &mut outs)? {
            Ok(()) => store_results(&outs, results),
            // SAFETY: `trap` is null or writable, as the caller guarantees.
            Err(e) => unsafe { split_trap(e, trap) },
        }
    })
}

/// Calls the export `name` of `instance` with `nargs` arguments; writes
/// `nresults` results (which must be the function's number). A trap goes
/// to `*trap` (when `trap` is not null; otherwise it is an error of kind
/// `WASMC_ERROR_TRAP`); `WASMC_ERROR_EXIT` when the program called
/// `proc_exit`; `WASMC_ERROR_TYPE` for arguments of the wrong types.
///
/// # Safety
/// `store` is null or live and used by no other thread meanwhile;
/// `instance` is null or live; `name` is null or NUL-terminated; `args`
/// holds `nargs` values; `results` has room for `nresults`; `trap` is
/// null or writable. Not from a host callback running in `store` (use the
/// callback's caller instead).
#[no_mangle]
pub unsafe extern "C" fn wasmc_instance_call(
    store: *mut wasmc_store_t,
    instance: *const wasmc_instance_t,
    name: *const c_char,
    args: *const wasmc_val_t,
    nargs: usize,
    results: *mut wasmc_val_t,
    nresults: usize,
    trap: *mut *mut wasmc_trap_t,
) -> *mut wasmc_error_t {
    let f = |args: &[Val], results: &mut [Val]| {
        // SAFETY: all are null or valid, as the caller guarantees.
        let (store, instance, name) =
            unsafe { (arg_mut(store, "store")?, arg(instance, "instance")?, arg_str(name, "name")?) };
        Ok(instance.instance.call_into(&mut store.store, name, args, results))
    };
    // SAFETY: the arrays and `trap` are valid, as the caller guarantees.
    unsafe { call(args, nargs, results, nresults, trap, f) }
}

/// Looks up the exported function `name` and stores a handle in `*out`;
/// `WASMC_ERROR_EXPORT_NOT_FOUND` if there is none.
///
/// # Safety
/// `store` and `instance` are null or live; `name` is null or
/// NUL-terminated; `out` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn wasmc_instance_get_func(
    store: *const wasmc_store_t,
    instance: *const wasmc_instance_t,
    name: *const c_char,
    out: *mut *mut wasmc_func_t,
) -> *mut wasmc_error_t {
    guard(|| {
        // SAFETY: all are null or valid, as the caller guarantees.
        let (store, instance, name, out) =
            unsafe { (arg(store, "store")?, arg(instance, "instance")?, arg_str(name, "name")?, arg_mut(out, "out")?) };
        *out = ptr::null_mut();
        let func = instance.instance.get_func(&store.store, name).ok_or_else(|| not_found("function", name))?;
        *out = Box::into_raw(Box::new(wasmc_func_t { func }));
        Ok(())
    })
}

fn not_found(kind: &str, name: &str) -> Box<wasmc_error_t> {
    wasmc_error_t::new(WASMC_ERROR_EXPORT_NOT_FOUND, format!("no exported {kind} named \"{name}\""))
}

/// Calls `func`, as [`wasmc_instance_call`] does.
///
/// # Safety
/// As for [`wasmc_instance_call`], with `func` null or live.
#[no_mangle]
pub unsafe extern "C" fn wasmc_func_call(
    store: *mut wasmc_store_t,
    func: *const wasmc_func_t,
    args: *const wasmc_val_t,
    nargs: usize,
    results: *mut wasmc_val_t,
    nresults: usize,
    trap: *mut *mut wasmc_trap_t,
) -> *mut wasmc_error_t {
    let f = |args: &[Val], results: &mut [Val]| {
        // SAFETY: both are null or valid, as the caller guarantees.
        let (store, func) = unsafe { (arg_mut(store, "store")?, arg(func, "func")?) };
        Ok(func.func.call_into(&mut store.store, args, results))
    };
    // SAFETY: the arrays and `trap` are valid, as the caller guarantees.
    unsafe { call(args, nargs, results, nresults, trap, f) }
}

/// Frees a function handle. Null is ignored.
///
/// # Safety
/// `func` is null or live and not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn wasmc_func_delete(func: *mut wasmc_func_t) {
    // SAFETY: `func` came from `Box::into_raw` and is freed once, as the caller guarantees.
    guard_or((), || drop((!func.is_null()).then(|| unsafe { Box::from_raw(func) })))
}

/// Looks up the exported memory `name` and stores a handle in `*out`;
/// `WASMC_ERROR_EXPORT_NOT_FOUND` if there is none.
///
/// # Safety
/// `store` and `instance` are null or live; `name` is null or
/// NUL-terminated; `out` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn wasmc_instance_get_memory(
    store: *const wasmc_store_t,
    instance: *const wasmc_instance_t,
    name: *const c_char,
    out: *mut *mut wasmc_memory_t,
) -> *mut wasmc_error_t {
    guard(|| {
        // SAFETY: all are null or valid, as the caller guarantees.
        let (store, instance, name, out) =
            unsafe { (arg(store, "store")?, arg(instance, "instance")?, arg_str(name, "name")?, arg_mut(out, "out")?) };
        *out = ptr::null_mut();
        let memory = instance.instance.get_memory(&store.store, name).ok_or_else(|| not_found("memory", name))?;
        *out = Box::into_raw(Box::new(wasmc_memory_t { memory }));
        Ok(())
    })
}

/// Frees a memory handle. Null is ignored.
///
/// # Safety
/// `memory` is null or live and not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn wasmc_memory_delete(memory: *mut wasmc_memory_t) {
    // SAFETY: `memory` came from `Box::into_raw` and is freed once, as the caller guarantees.
    guard_or((), || drop((!memory.is_null()).then(|| unsafe { Box::from_raw(memory) })))
}

/// The memory, checked to belong to `store`.
fn checked<'a>(store: &'a wasmc_store_t, memory: &wasmc_memory_t) -> CResult<&'a wasmc_store_t> {
    memory.memory.read(&store.store, 0, &mut [])?;
    Ok(store)
}

/// Address of the memory's first byte; `wasmc_memory_data_size` bytes
/// follow. Valid until the memory grows or the store is deleted. Null for
/// null arguments or a memory of another store.
///
/// # Safety
/// `store` and `memory` are null or live.
#[no_mangle]
pub unsafe extern "C" fn wasmc_memory_data(store: *const wasmc_store_t, memory: *const wasmc_memory_t) -> *mut u8 {
    guard_or(ptr::null_mut(), || {
        // SAFETY: both are null or live, as the caller guarantees.
        let Ok((store, memory)) = (unsafe { arg(store, "store").and_then(|s| Ok((s, arg(memory, "memory")?))) }) else {
            return ptr::null_mut();
        };
        checked(store, memory).map_or(ptr::null_mut(), |s| memory.memory.data_ptr(&s.store))
    })
}

/// The memory's size in bytes (0 for null arguments or a memory of
/// another store).
///
/// # Safety
/// `store` and `memory` are null or live.
#[no_mangle]
pub unsafe extern "C" fn wasmc_memory_data_size(store: *const wasmc_store_t, memory: *const wasmc_memory_t) -> usize {
    guard_or(0, || {
        // SAFETY: both are null or live, as the caller guarantees.
        let Ok((store, memory)) = (unsafe { arg(store, "store").and_then(|s| Ok((s, arg(memory, "memory")?))) }) else {
            return 0;
        };
        checked(store, memory).map_or(0, |s| usize::try_from(memory.memory.size(&s.store)).unwrap_or(usize::MAX))
    })
}

/// Grows the memory by `delta_pages` wasm pages; the old size in pages
/// goes to `*prev_pages`. `WASMC_ERROR_RESOURCE` past its maximum or the
/// store's limit.
///
/// # Safety
/// `store` is null or live and used by no other thread meanwhile;
/// `memory` is null or live; `prev_pages` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn wasmc_memory_grow(
    store: *mut wasmc_store_t,
    memory: *const wasmc_memory_t,
    delta_pages: u32,
    prev_pages: *mut u32,
) -> *mut wasmc_error_t {
    guard(|| {
        // SAFETY: all are null or valid, as the caller guarantees.
        let (store, memory, prev) =
            unsafe { (arg_mut(store, "store")?, arg(memory, "memory")?, arg_mut(prev_pages, "prev_pages")?) };
        *prev = memory.memory.grow(&mut store.store, delta_pages)?;
        Ok(())
    })
}

/// Copies `len` bytes at `offset` of the memory into `buf`;
/// `WASMC_ERROR_OUT_OF_BOUNDS` past its end (nothing copied).
///
/// # Safety
/// `store` and `memory` are null or live; `buf` points to `len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn wasmc_memory_read(
    store: *const wasmc_store_t,
    memory: *const wasmc_memory_t,
    offset: u64,
    buf: *mut u8,
    len: usize,
) -> *mut wasmc_error_t {
    guard(|| {
        // SAFETY: all are valid, as the caller guarantees.
        let (store, memory, buf) =
            unsafe { (arg(store, "store")?, arg(memory, "memory")?, arg_slice_mut(buf, len, "buf")?) };
        Ok(memory.memory.read(&store.store, offset, buf)?)
    })
}

/// Copies `len` bytes from `buf` to `offset` of the memory;
/// `WASMC_ERROR_OUT_OF_BOUNDS` past its end (nothing copied).
///
/// # Safety
/// `store` is null or live and used by no other thread meanwhile;
/// `memory` is null or live; `buf` points to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn wasmc_memory_write(
    store: *mut wasmc_store_t,
    memory: *const wasmc_memory_t,
    offset: u64,
    buf: *const u8,
    len: usize,
) -> *mut wasmc_error_t {
    guard(|| {
        // SAFETY: all are valid, as the caller guarantees.
        let (store, memory, buf) =
            unsafe { (arg_mut(store, "store")?, arg(memory, "memory")?, arg_slice(buf, len, "buf")?) };
        Ok(memory.memory.write(&mut store.store, offset, buf)?)
    })
}
