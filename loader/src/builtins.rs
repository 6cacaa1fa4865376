//! The runtime functions generated code calls through `VMCTX_BUILTINS`, in
//! the order of [`Builtin::ALL`], with the signatures
//! [`Builtin::signature`] documents.
//!
//! Each one finds its instance and store from the caller's vmctx, does the
//! work in a closure that returns `Result<_, TrapKind>` (plain data), and
//! unwinds on a trap only after everything the closure owned is dropped.

use std::sync::OnceLock;

use wasmc_abi::builtins::Builtin;
use wasmc_abi::meta::ElemMode;
use wasmc_abi::TrapKind;

use crate::error::Trap;
use crate::instance::{eval_const, Instance};
use crate::store::StoreOpaque;
use crate::traphandler::{self, Unwind};

/// The function-pointer array every vmctx points to.
pub(crate) fn array() -> *const usize {
    static ARRAY: OnceLock<Box<[usize]>> = OnceLock::new();
    ARRAY.get_or_init(|| Builtin::ALL.iter().map(|&b| pointer(b)).collect()).as_ptr()
}

fn pointer(builtin: Builtin) -> usize {
    match builtin {
        Builtin::MemoryGrow => memory_grow as *const () as usize,
        Builtin::MemoryFill => memory_fill as *const () as usize,
        Builtin::MemoryCopy => memory_copy as *const () as usize,
        Builtin::MemoryInit => memory_init as *const () as usize,
        Builtin::DataDrop => data_drop as *const () as usize,
        Builtin::TableGrow => table_grow as *const () as usize,
        Builtin::TableFill => table_fill as *const () as usize,
        Builtin::TableCopy => table_copy as *const () as usize,
        Builtin::TableInit => table_init as *const () as usize,
        Builtin::ElemDrop => elem_drop as *const () as usize,
    }
}

/// Runs `f` with the store and instance of `vmctx`; unwinds on a trap.
///
/// # Safety
/// Only for builtins called by wasm code with its own vmctx.
unsafe fn with_instance<T>(vmctx: *mut u8, f: impl FnOnce(&mut StoreOpaque, Instance) -> Result<T, TrapKind>) -> T {
    let result = {
        let store_ptr = traphandler::current_store();
        if store_ptr.is_null() {
            Err(TrapKind::UnknownFault)
        } else {
            // SAFETY: the entry that set the current store holds its `&mut`
            // and does not use it until wasm returns to it.
            let store = unsafe { &mut *store_ptr };
            // SAFETY: wasm code passes its own live vmctx.
            match unsafe { Instance::from_vmctx(store, vmctx) } {
                Some(instance) => f(store, instance),
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

/// `start..start + len` if it lies within `size`.
fn range(start: u32, len: u32, size: usize) -> Option<std::ops::Range<usize>> {
    let end = start as usize + len as usize;
    (end <= size).then_some(start as usize..end)
}

fn memory_index(store: &StoreOpaque, instance: Instance, memory: u32) -> Result<usize, TrapKind> {
    let data = &store.instances[instance.index as usize];
    data.memories.get(memory as usize).map(|&m| m as usize).ok_or(TrapKind::UnknownFault)
}

fn table_index(store: &StoreOpaque, instance: Instance, table: u32) -> Result<usize, TrapKind> {
    let data = &store.instances[instance.index as usize];
    data.tables.get(table as usize).map(|&t| t as usize).ok_or(TrapKind::UnknownFault)
}

unsafe extern "C" fn memory_grow(vmctx: *mut u8, memory: u32, delta: u32) -> u32 {
    // SAFETY: called by wasm code with its vmctx.
    unsafe {
        with_instance(vmctx, |store, instance| {
            let m = memory_index(store, instance, memory)?;
            Ok(store.grow_memory(m as u32, delta).unwrap_or(u32::MAX))
        })
    }
}

unsafe extern "C" fn memory_fill(vmctx: *mut u8, memory: u32, dst: u32, byte: u32, len: u32) {
    // SAFETY: called by wasm code with its vmctx.
    unsafe {
        with_instance(vmctx, |store, instance| {
            let m = memory_index(store, instance, memory)?;
            let bytes = store.memories[m].memory.bytes_mut();
            let r = range(dst, len, bytes.len()).ok_or(TrapKind::MemoryOutOfBounds)?;
            bytes[r].fill(byte as u8);
            Ok(())
        })
    }
}

unsafe extern "C" fn memory_copy(vmctx: *mut u8, dst_memory: u32, dst: u32, src_memory: u32, src: u32, len: u32) {
    // SAFETY: called by wasm code with its vmctx.
    unsafe {
        with_instance(vmctx, |store, instance| {
            let d = memory_index(store, instance, dst_memory)?;
            let s = memory_index(store, instance, src_memory)?;
            let src_len = store.memories[s].memory.len();
            let dst_len = store.memories[d].memory.len();
            let sr = range(src, len, src_len).ok_or(TrapKind::MemoryOutOfBounds)?;
            let dr = range(dst, len, dst_len).ok_or(TrapKind::MemoryOutOfBounds)?;
            if d == s {
                store.memories[d].memory.bytes_mut().copy_within(sr, dr.start);
            } else {
                let source = store.memories[s].memory.bytes()[sr].to_vec();
                store.memories[d].memory.bytes_mut()[dr].copy_from_slice(&source);
            }
            Ok(())
        })
    }
}

unsafe extern "C" fn memory_init(vmctx: *mut u8, memory: u32, segment: u32, dst: u32, src: u32, len: u32) {
    // SAFETY: called by wasm code with its vmctx.
    unsafe {
        with_instance(vmctx, |store, instance| {
            let m = memory_index(store, instance, memory)?;
            let data = &store.instances[instance.index as usize];
            let module = data.module.clone();
            let seg = module.meta().data.get(segment as usize).ok_or(TrapKind::UnknownFault)?;
            let seg_len = if data.dropped_data[segment as usize] { 0 } else { seg.len as usize };
            let sr = range(src, len, seg_len).ok_or(TrapKind::MemoryOutOfBounds)?;
            let bytes = store.memories[m].memory.bytes_mut();
            let dr = range(dst, len, bytes.len()).ok_or(TrapKind::MemoryOutOfBounds)?;
            let seg_bytes = &module.data_bytes()[seg.data_offset as usize..][..seg.len as usize];
            bytes[dr].copy_from_slice(&seg_bytes[sr]);
            Ok(())
        })
    }
}

unsafe extern "C" fn data_drop(vmctx: *mut u8, segment: u32) {
    // SAFETY: called by wasm code with its vmctx.
    unsafe {
        with_instance(vmctx, |store, instance| {
            let data = &mut store.instances[instance.index as usize];
            *data.dropped_data.get_mut(segment as usize).ok_or(TrapKind::UnknownFault)? = true;
            Ok(())
        })
    }
}

unsafe extern "C" fn table_grow(vmctx: *mut u8, table: u32, delta: u32, init: usize) -> u32 {
    // SAFETY: called by wasm code with its vmctx.
    unsafe {
        with_instance(vmctx, |store, instance| {
            let t = table_index(store, instance, table)?;
            Ok(store.grow_table(t as u32, delta, init).unwrap_or(u32::MAX))
        })
    }
}

unsafe extern "C" fn table_fill(vmctx: *mut u8, table: u32, dst: u32, value: usize, len: u32) {
    // SAFETY: called by wasm code with its vmctx.
    unsafe {
        with_instance(vmctx, |store, instance| {
            let t = table_index(store, instance, table)?;
            let elements = store.tables[t].elements.as_mut_slice();
            let r = range(dst, len, elements.len()).ok_or(TrapKind::TableOutOfBounds)?;
            elements[r].fill(value);
            Ok(())
        })
    }
}

unsafe extern "C" fn table_copy(vmctx: *mut u8, dst_table: u32, src_table: u32, dst: u32, src: u32, len: u32) {
    // SAFETY: called by wasm code with its vmctx.
    unsafe {
        with_instance(vmctx, |store, instance| {
            let d = table_index(store, instance, dst_table)?;
            let s = table_index(store, instance, src_table)?;
            let sr = range(src, len, store.tables[s].elements.len() as usize).ok_or(TrapKind::TableOutOfBounds)?;
            let dr = range(dst, len, store.tables[d].elements.len() as usize).ok_or(TrapKind::TableOutOfBounds)?;
            if d == s {
                store.tables[d].elements.as_mut_slice().copy_within(sr, dr.start);
            } else {
                let source = store.tables[s].elements.as_slice()[sr].to_vec();
                store.tables[d].elements.as_mut_slice()[dr].copy_from_slice(&source);
            }
            Ok(())
        })
    }
}

unsafe extern "C" fn table_init(vmctx: *mut u8, table: u32, segment: u32, dst: u32, src: u32, len: u32) {
    // SAFETY: called by wasm code with its vmctx.
    unsafe {
        with_instance(vmctx, |store, instance| {
            let t = table_index(store, instance, table)?;
            let data = &store.instances[instance.index as usize];
            let seg = data.module.meta().elements.get(segment as usize).ok_or(TrapKind::UnknownFault)?;
            let dropped = data.dropped_elems[segment as usize] || matches!(seg.mode, ElemMode::Declared);
            let items = if dropped { &[][..] } else { &seg.items[..] };
            let sr = range(src, len, items.len()).ok_or(TrapKind::TableOutOfBounds)?;
            let global = |g: u32| store.global_storage(data.globals[g as usize]);
            let words: Vec<usize> =
                items[sr].iter().map(|e| eval_const(e, &data.vmctx, global).u64() as usize).collect();
            let elements = store.tables[t].elements.as_mut_slice();
            let dr = range(dst, len, elements.len()).ok_or(TrapKind::TableOutOfBounds)?;
            elements[dr].copy_from_slice(&words);
            Ok(())
        })
    }
}

unsafe extern "C" fn elem_drop(vmctx: *mut u8, segment: u32) {
    // SAFETY: called by wasm code with its vmctx.
    unsafe {
        with_instance(vmctx, |store, instance| {
            let data = &mut store.instances[instance.index as usize];
            *data.dropped_elems.get_mut(segment as usize).ok_or(TrapKind::UnknownFault)? = true;
            Ok(())
        })
    }
}
