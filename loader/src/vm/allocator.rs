//! Where a new instance's `VMContext`, tables and memories come from:
//! allocated for it alone ([`Placement::Fresh`]) or taken from a pool slot
//! ([`Placement::Pooled`], see [`slot`](crate::vm::slot)).
//!
//! [`allocate`] makes every resource that can fail for lack of memory or
//! address space, and touches nothing of the store, so a failed
//! instantiation leaves the store as it was.

use wasmc_abi::vmctx::VMOffsets;

use crate::vm::instance::{InlineList, InstanceRef};
use crate::vm::memory::LinearMemory;
use crate::vm::module_info::ModuleInfo;
use crate::vm::slot::SlotLease;
use crate::vm::store::StoreData;
use crate::vm::table::TableElements;
use crate::vm::trap::VmError;
use crate::vm::vmctx::{VmBox, VmCtx};

/// Where a new instance's memories and `VMContext` come from.
pub(crate) enum Placement<'a> {
    /// Allocated for this instance alone.
    Fresh,
    /// In a pool slot (whose lease the caller then gives to the store).
    Pooled(&'a SlotLease),
}

/// The store's limits on the size of what an instance creates.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EntityLimits {
    /// Largest size of one linear memory, in bytes.
    pub max_memory_bytes: Option<u64>,
    /// Largest number of elements of one table.
    pub max_table_elements: Option<u32>,
}

/// A new instance's resources, not yet in any store.
pub(crate) struct Allocation {
    /// The `VMContext`, its header filled in (builtins, type ids, the
    /// back-reference, the store's runtime limits).
    pub vmctx: VmCtx,
    /// What the vmctx header's instance field points to.
    pub backref: VmBox<InstanceRef>,
    /// The module's defined tables, empty.
    pub tables: InlineList<TableElements, 1>,
    /// The module's defined memories, at their initial size; with the
    /// memory image mapped if the module has one (a pooled slot maps it
    /// once, when first prepared).
    pub memories: InlineList<LinearMemory, 1>,
}

/// Makes the resources of instance `index` of `store`, an instance of
/// `module` whose function types have the process-wide ids `type_ids`.
pub(crate) fn allocate(
    store: &StoreData,
    index: u32,
    module: &dyn ModuleInfo,
    type_ids: &[u32],
    placement: Placement<'_>,
    limits: EntityLimits,
) -> Result<Allocation, VmError> {
    let meta = module.meta();
    let backref = InstanceRef::boxed(store.id(), index);
    let builtins = crate::vm::builtins::array();
    let vmctx = match placement {
        Placement::Fresh => {
            VmCtx::new(VMOffsets::new(meta.vm_counts()), builtins, type_ids.as_ptr(), backref.as_ptr().cast())?
        }
        // SAFETY: the slot's vmctx area is 16-byte aligned, laid out for
        // this module's offsets, and belongs to this lease alone; the store
        // drops the lease only after this instance.
        Placement::Pooled(lease) => unsafe {
            VmCtx::new_in(lease.vmctx_ptr()?, *lease.offsets(), builtins, type_ids.as_ptr(), backref.as_ptr().cast())
        }?,
    };
    vmctx.set_runtime_limits(store.runtime_limits_ptr(), crate::vm::epoch::counter());

    let tables = meta
        .tables
        .iter()
        .map(|&ty| TableElements::new(ty, 0, limits.max_table_elements))
        .collect::<Result<InlineList<_, 1>, _>>()?;
    let memories = match placement {
        Placement::Fresh => {
            let mut memories = meta
                .memories
                .iter()
                .map(|&ty| LinearMemory::new(ty, meta.bounds_checks, limits.max_memory_bytes))
                .collect::<Result<InlineList<_, 1>, _>>()?;
            for run in module.memory_image().unwrap_or_default() {
                let (file, file_offset) = module.image_source(run)?;
                let (offset, len) = (run.memory_offset as usize, run.len as usize);
                memories[run.memory as usize].map_image(offset, len, file, file_offset)?;
            }
            memories
        }
        Placement::Pooled(lease) => (0..meta.memories.len())
            .map(|j| LinearMemory::pooled(lease.memory(j), meta.bounds_checks, limits.max_memory_bytes))
            .collect::<Result<InlineList<_, 1>, _>>()?,
    };
    Ok(Allocation { vmctx, backref, tables, memories })
}
