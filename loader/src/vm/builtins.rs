//! The runtime functions generated code calls through `VMCTX_BUILTINS`, in
//! the order of [`Builtin::ALL`]. Their types are checked at compile time
//! against `wasmc_abi::for_each_builtin!`, the list the compiler's call
//! signatures ([`Builtin::signature`]) come from.
//!
//! Each one finds its instance and store from the caller's vmctx, does the
//! work in a closure that returns `Result<_, TrapKind>` (plain data), and
//! unwinds on a trap only after everything the closure owned is dropped.

use std::sync::OnceLock;

use wasmc_abi::builtins::Builtin;
use wasmc_abi::TrapKind;

use crate::vm::bulk;
use crate::vm::instance::{instance_of_vmctx, VmInstance};
use crate::vm::limits::{fuel_for_bytes, CHUNK_BYTES};
use crate::vm::segments::{self, memory_index, range, table_fuel, table_index, TABLE_CHUNK};
use crate::vm::store::StoreData;
use crate::vm::trap::Trap;
use crate::vm::traphandler::{self, Unwind};

/// The function-pointer array every vmctx points to.
pub(crate) fn array() -> *const usize {
    static ARRAY: OnceLock<Box<[usize]>> = OnceLock::new();
    ARRAY.get_or_init(|| Builtin::ALL.iter().map(|&b| pointer(b)).collect()).as_ptr()
}

/// The Rust type of a builtin parameter or result in the list.
macro_rules! builtin_ty {
    (I32) => {
        u32
    };
    (Pointer) => {
        usize
    };
}

/// `pointer`, derived from the list in the ABI crate: each function below
/// must have exactly the type its entry there gives, or this does not
/// compile.
macro_rules! builtin_pointers {
    ($($(#[$doc:meta])* $variant:ident $name:ident($($param:ident: $ty:ident),*) $(-> $result:ident)?;)*) => {
        fn pointer(builtin: Builtin) -> usize {
            match builtin {
                $(Builtin::$variant => {
                    let f: unsafe extern "C" fn(*mut u8 $(, builtin_ty!($ty))*) $(-> builtin_ty!($result))? = $name;
                    f as usize
                })*
            }
        }
    };
}

wasmc_abi::for_each_builtin!(builtin_pointers);

/// Runs `f` with the store and instance of `vmctx`; unwinds on a trap.
///
/// # Safety
/// Only for builtins called by wasm code with its own vmctx.
unsafe fn with_instance<T>(
    vmctx: *mut u8,
    f: impl FnOnce(&mut StoreData, &mut VmInstance) -> Result<T, TrapKind>,
) -> T {
    let result = match traphandler::current_store() {
        None => Err(TrapKind::UnknownFault),
        Some(mut store_ptr) => {
            // SAFETY: the entry that set the current store holds its `&mut`
            // and does not use it until wasm returns to it.
            let store = unsafe { store_ptr.as_mut() };
            // SAFETY: wasm code passes its own live vmctx.
            match unsafe { instance_of_vmctx(store, vmctx) }.and_then(|i| store.instance_mut(i)) {
                Some((store, instance)) => f(store, instance),
                None => Err(TrapKind::UnknownFault),
            }
        }
    };
    let trap = match result {
        Ok(v) => return v,
        Err(kind) => {
            let mut trap = Trap::new(kind);
            // SAFETY: wasm code passed its own live vmctx, and is suspended.
            unsafe { traphandler::locate_call(&mut trap, vmctx) };
            trap
        }
    };
    // SAFETY: called from wasm; the trap is moved into `raise`, so this
    // frame owns nothing when it is skipped.
    unsafe { traphandler::raise(Unwind::Trap(trap)) }
}

/// The `d`-th element mutably and the `s`-th shared, for `d != s`.
fn two<T>(items: &mut [T], d: usize, s: usize) -> Result<(&mut T, &T), TrapKind> {
    if d.max(s) >= items.len() || d == s {
        return Err(TrapKind::UnknownFault);
    }
    let (low, high) = items.split_at_mut(d.max(s));
    let (first, rest) = (&mut low[d.min(s)], &mut high[0]);
    Ok(if d < s { (first, &*rest) } else { (rest, &*first) })
}

unsafe extern "C" fn memory_grow(vmctx: *mut u8, memory: u32, delta: u32) -> u32 {
    // SAFETY: called by wasm code with its vmctx.
    unsafe {
        with_instance(vmctx, |store, instance| {
            let m = memory_index(instance, memory)?;
            // A grow past the limits fails (-1) at no charge, however big
            // it asked to be. Growing does not write the new pages (they
            // are zero on first touch): one unit per page.
            if !store.memories[m].memory.may_grow(delta) {
                return Ok(u32::MAX);
            }
            store.charge_fuel(Some(instance), u64::from(delta))?;
            Ok(store.grow_memory(m as u32, delta).unwrap_or(u32::MAX))
        })
    }
}

unsafe extern "C" fn memory_fill(vmctx: *mut u8, memory: u32, dst: u32, byte: u32, len: u32) {
    // SAFETY: called by wasm code with its vmctx.
    unsafe {
        with_instance(vmctx, |store, instance| {
            let m = memory_index(instance, memory)?;
            let r = range(dst, len, store.memories[m].memory.len()).ok_or(TrapKind::MemoryOutOfBounds)?;
            store.charge_fuel(Some(instance), fuel_for_bytes(u64::from(len)))?;
            let deadline = store.limits.deadline();
            let bytes = store.memories[m].memory.bytes_mut();
            bulk::fill(&mut bytes[r], byte as u8, CHUNK_BYTES, deadline)
        })
    }
}

unsafe extern "C" fn memory_copy(vmctx: *mut u8, dst_memory: u32, dst: u32, src_memory: u32, src: u32, len: u32) {
    // SAFETY: called by wasm code with its vmctx.
    unsafe {
        with_instance(vmctx, |store, instance| {
            let d = memory_index(instance, dst_memory)?;
            let s = memory_index(instance, src_memory)?;
            let src_len = store.memories[s].memory.len();
            let dst_len = store.memories[d].memory.len();
            let sr = range(src, len, src_len).ok_or(TrapKind::MemoryOutOfBounds)?;
            let dr = range(dst, len, dst_len).ok_or(TrapKind::MemoryOutOfBounds)?;
            store.charge_fuel(Some(instance), fuel_for_bytes(u64::from(len)))?;
            let deadline = store.limits.deadline();
            if d == s {
                let bytes = store.memories[d].memory.bytes_mut();
                bulk::copy_within(bytes, sr.start, dr.start, sr.len(), CHUNK_BYTES, deadline)
            } else {
                let (to, from) = two(&mut store.memories, d, s)?;
                bulk::copy(&mut to.memory.bytes_mut()[dr], &from.memory.bytes()[sr], CHUNK_BYTES, deadline)
            }
        })
    }
}

/// # Safety
/// `dst` and `src` are `len` bytes within live linear memories: generated
/// code checked them against the memories' current lengths.
unsafe extern "C" fn memmove(_vmctx: *mut u8, dst: usize, src: usize, len: usize) {
    // SAFETY: both ranges lie in linear memory (the caller's bounds check),
    // which stays mapped while its wasm code runs; `copy` allows overlap.
    unsafe { std::ptr::copy(src as *const u8, dst as *mut u8, len) }
}

/// # Safety
/// `dst` is `len` bytes within a live linear memory: generated code
/// checked it against the memory's current length.
unsafe extern "C" fn memset(_vmctx: *mut u8, dst: usize, byte: u32, len: usize) {
    // SAFETY: the range lies in linear memory (the caller's bounds check),
    // which stays mapped while its wasm code runs.
    unsafe { std::ptr::write_bytes(dst as *mut u8, byte as u8, len) }
}

unsafe extern "C" fn memory_init(vmctx: *mut u8, memory: u32, segment: u32, dst: u32, src: u32, len: u32) {
    // SAFETY: called by wasm code with its vmctx.
    unsafe {
        with_instance(vmctx, |store, instance| {
            segments::memory_init(store, instance, memory, segment, dst, src, len, true)
        })
    }
}

unsafe extern "C" fn data_drop(vmctx: *mut u8, segment: u32) {
    // SAFETY: called by wasm code with its vmctx.
    unsafe {
        with_instance(vmctx, |_, instance| {
            *instance.dropped_data.get_mut(segment as usize).ok_or(TrapKind::UnknownFault)? = true;
            Ok(())
        })
    }
}

unsafe extern "C" fn table_grow(vmctx: *mut u8, table: u32, delta: u32, init: usize) -> u32 {
    // SAFETY: called by wasm code with its vmctx.
    unsafe {
        with_instance(vmctx, |store, instance| {
            let t = table_index(instance, table)?;
            // As for memory.grow: past the limits, -1 at no charge.
            if !store.tables[t].elements.may_grow(delta) {
                return Ok(u32::MAX);
            }
            store.charge_fuel(Some(instance), table_fuel(delta))?;
            Ok(store.grow_table(t as u32, delta, init).unwrap_or(u32::MAX))
        })
    }
}

unsafe extern "C" fn table_fill(vmctx: *mut u8, table: u32, dst: u32, value: usize, len: u32) {
    // SAFETY: called by wasm code with its vmctx.
    unsafe {
        with_instance(vmctx, |store, instance| {
            let t = table_index(instance, table)?;
            let r = range(dst, len, store.tables[t].elements.len() as usize).ok_or(TrapKind::TableOutOfBounds)?;
            store.charge_fuel(Some(instance), table_fuel(len))?;
            let deadline = store.limits.deadline();
            let elements = store.tables[t].elements.as_mut_slice();
            bulk::fill(&mut elements[r], value, TABLE_CHUNK, deadline)
        })
    }
}

unsafe extern "C" fn table_copy(vmctx: *mut u8, dst_table: u32, src_table: u32, dst: u32, src: u32, len: u32) {
    // SAFETY: called by wasm code with its vmctx.
    unsafe {
        with_instance(vmctx, |store, instance| {
            let d = table_index(instance, dst_table)?;
            let s = table_index(instance, src_table)?;
            let sr = range(src, len, store.tables[s].elements.len() as usize).ok_or(TrapKind::TableOutOfBounds)?;
            let dr = range(dst, len, store.tables[d].elements.len() as usize).ok_or(TrapKind::TableOutOfBounds)?;
            store.charge_fuel(Some(instance), table_fuel(len))?;
            let deadline = store.limits.deadline();
            if d == s {
                let elements = store.tables[d].elements.as_mut_slice();
                bulk::copy_within(elements, sr.start, dr.start, sr.len(), TABLE_CHUNK, deadline)
            } else {
                let (to, from) = two(&mut store.tables, d, s)?;
                bulk::copy(&mut to.elements.as_mut_slice()[dr], &from.elements.as_slice()[sr], TABLE_CHUNK, deadline)
            }
        })
    }
}

unsafe extern "C" fn table_init(vmctx: *mut u8, table: u32, segment: u32, dst: u32, src: u32, len: u32) {
    // SAFETY: called by wasm code with its vmctx.
    unsafe {
        with_instance(vmctx, |store, instance| {
            segments::table_init(store, instance, table, segment, dst, src, len, true)
        })
    }
}

unsafe extern "C" fn elem_drop(vmctx: *mut u8, segment: u32) {
    // SAFETY: called by wasm code with its vmctx.
    unsafe {
        with_instance(vmctx, |_, instance| {
            *instance.dropped_elems.get_mut(segment as usize).ok_or(TrapKind::UnknownFault)? = true;
            Ok(())
        })
    }
}
