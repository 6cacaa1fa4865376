//! Element and data segments: `table.init` and `memory.init`, implemented
//! once. Wasm code reaches them through the builtins; instantiation applies
//! each active segment with them (the spec defines an active segment as
//! exactly a `table.init`/`memory.init` of the whole segment at its offset,
//! followed by its drop).
//!
//! Both check bounds before touching anything (an out-of-bounds init writes
//! nothing), then, when `metered`, charge the calling code's fuel, then work
//! in chunks that check the call's deadline.

use wasmc_abi::meta::{DataMode, ElemMode};
use wasmc_abi::TrapKind;

use crate::vm::bulk;
use crate::vm::instance::VmInstance;
use crate::vm::limits::{fuel_for_bytes, CHUNK_BYTES, TABLE_ELEMENT_BYTES};
use crate::vm::store::StoreData;
use crate::vm::trap::Trap;

/// Elements of a table moved between two deadline checks.
pub(crate) const TABLE_CHUNK: usize = CHUNK_BYTES / TABLE_ELEMENT_BYTES as usize;

/// Fuel for touching `len` table elements.
pub(crate) fn table_fuel(len: u32) -> u64 {
    fuel_for_bytes(u64::from(len) * TABLE_ELEMENT_BYTES)
}

/// `start..start + len` if it lies within `size`.
pub(crate) fn range(start: u32, len: u32, size: usize) -> Option<std::ops::Range<usize>> {
    let end = start as usize + len as usize;
    (end <= size).then_some(start as usize..end)
}

/// The store index of `instance`'s memory `memory`.
pub(crate) fn memory_index(instance: &VmInstance, memory: u32) -> Result<usize, TrapKind> {
    instance.memories.get(memory as usize).map(|&m| m as usize).ok_or(TrapKind::UnknownFault)
}

/// The store index of `instance`'s table `table`.
pub(crate) fn table_index(instance: &VmInstance, table: u32) -> Result<usize, TrapKind> {
    instance.tables.get(table as usize).map(|&t| t as usize).ok_or(TrapKind::UnknownFault)
}

/// `table.init table segment` with `(dst, src, len)`: evaluates elements
/// `src..src + len` of element segment `segment` (empty once dropped) into
/// table `table` at `dst`.
#[allow(clippy::too_many_arguments, reason = "the operator's immediates and operands")]
pub(crate) fn table_init(
    store: &mut StoreData,
    instance: &VmInstance,
    table: u32,
    segment: u32,
    dst: u32,
    src: u32,
    len: u32,
    metered: bool,
) -> Result<(), TrapKind> {
    let t = table_index(instance, table)?;
    let seg = instance.module.meta().elements.get(segment as usize).ok_or(TrapKind::UnknownFault)?;
    let dropped = instance.dropped_elems[segment as usize] || matches!(seg.mode, ElemMode::Declared);
    let items = if dropped { &[][..] } else { &seg.items[..] };
    let sr = range(src, len, items.len()).ok_or(TrapKind::TableOutOfBounds)?;
    let dr = range(dst, len, store.tables[t].elements.len() as usize).ok_or(TrapKind::TableOutOfBounds)?;
    if metered {
        store.charge_fuel(Some(instance), table_fuel(len))?;
    }
    let deadline = store.limits.deadline();
    // Evaluated a chunk at a time (the expressions read globals, elsewhere
    // in the store), then written.
    let mut words = Vec::with_capacity(sr.len().min(TABLE_CHUNK));
    for (i, (piece, at)) in items[sr].chunks(TABLE_CHUNK).zip(dr.step_by(TABLE_CHUNK)).enumerate() {
        if i > 0 {
            deadline.check()?;
        }
        words.clear();
        words.extend(piece.iter().map(|e| store.eval_const(instance, e).u64() as usize));
        store.tables[t].elements.as_mut_slice()[at..at + words.len()].copy_from_slice(&words);
    }
    Ok(())
}

/// `memory.init memory segment` with `(dst, src, len)`: copies bytes
/// `src..src + len` of data segment `segment` (empty once dropped) into
/// memory `memory` at `dst`.
#[allow(clippy::too_many_arguments, reason = "the operator's immediates and operands")]
pub(crate) fn memory_init(
    store: &mut StoreData,
    instance: &VmInstance,
    memory: u32,
    segment: u32,
    dst: u32,
    src: u32,
    len: u32,
    metered: bool,
) -> Result<(), TrapKind> {
    let m = memory_index(instance, memory)?;
    let module = &instance.module;
    let seg = module.meta().data.get(segment as usize).ok_or(TrapKind::UnknownFault)?;
    let seg_len = if instance.dropped_data[segment as usize] { 0 } else { seg.len as usize };
    let sr = range(src, len, seg_len).ok_or(TrapKind::MemoryOutOfBounds)?;
    let dr = range(dst, len, store.memories[m].memory.len()).ok_or(TrapKind::MemoryOutOfBounds)?;
    if metered {
        store.charge_fuel(Some(instance), fuel_for_bytes(u64::from(len)))?;
    }
    let deadline = store.limits.deadline();
    let seg_bytes = &module.data_bytes()[seg.data_offset as usize..][..seg.len as usize];
    let bytes = store.memories[m].memory.bytes_mut();
    bulk::copy(&mut bytes[dr], &seg_bytes[sr], CHUNK_BYTES, deadline)
}

impl StoreData {
    /// Applies instance `instance`'s active segments as the spec orders
    /// it: each active element segment is a `table.init` of the whole
    /// segment at its offset, then its drop (declared ones are dropped);
    /// then each active data segment the same with `memory.init`.
    ///
    /// With `preloaded`, the instance's defined memories already hold the
    /// module's memory image (all active data segments applied, none able
    /// to trap): data segments are only marked dropped, and if an element
    /// segment traps the memories are cleared, since the spec applies data
    /// segments after element segments.
    pub(crate) fn initialize_segments(&mut self, instance: &mut VmInstance, preloaded: bool) -> Result<(), Trap> {
        let result = self.apply_elements(instance);
        if result.is_err() && preloaded {
            let imported = instance.memories.len() - instance.module.meta().memories.len();
            for &m in &instance.memories[imported..] {
                self.memories[m as usize].memory.bytes_mut().fill(0);
            }
        }
        result?;
        // By index, copying each segment's mode out, so `instance` can be
        // lent mutably without cloning its module (this runs on every
        // pooled instantiation).
        for k in 0..instance.module.meta().data.len() {
            let segment = &instance.module.meta().data[k];
            let (mode, len) = (segment.mode, segment.len);
            let DataMode::Active { memory, offset } = mode else { continue };
            if !preloaded {
                let offset = self.eval_const(instance, &offset).u32();
                memory_init(self, instance, memory, k as u32, offset, 0, len, false).map_err(Trap::new)?;
            }
            instance.dropped_data[k] = true;
        }
        Ok(())
    }

    /// The element half of [`StoreData::initialize_segments`].
    fn apply_elements(&mut self, instance: &mut VmInstance) -> Result<(), Trap> {
        for k in 0..instance.module.meta().elements.len() {
            let segment = &instance.module.meta().elements[k];
            let (mode, items) = (segment.mode, segment.items.len());
            match mode {
                ElemMode::Active { table, offset } => {
                    let offset = self.eval_const(instance, &offset).u32();
                    let len = u32::try_from(items).map_err(|_| Trap::new(TrapKind::TableOutOfBounds))?;
                    table_init(self, instance, table, k as u32, offset, 0, len, false).map_err(Trap::new)?;
                    instance.dropped_elems[k] = true;
                }
                ElemMode::Declared => instance.dropped_elems[k] = true,
                ElemMode::Passive => {}
            }
        }
        Ok(())
    }
}
