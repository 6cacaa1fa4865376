//! [`InstancePool`]: pre-reserved instance slots for instantiating one
//! module many times, e.g. once per request.
//!
//! A pooled instance is an ordinary [`Instance`] in a [`Store`]; only its
//! linear memories and its `VMContext` live in a slot the pool reserved in
//! advance. The store holds the slot's lease: when the store drops, the
//! slot's memories are reset (see `vm/slot.rs` for the slot's map and how)
//! and the slot goes back to the pool. Tables, globals and dropped
//! segments are per instantiation, so every pooled instance starts exactly
//! as a fresh one would.

use std::sync::atomic::AtomicU8;
use std::sync::{Arc, Mutex};

use wasmc_abi::artifact::IMAGE_MIN_DATA_BYTES;
use wasmc_abi::vmctx::VMOffsets;
use wasmc_abi::{BoundsChecks, GUARD_RESERVATION, GUARD_SIZE, WASM_MAX_PAGES, WASM_PAGE_SIZE};

use crate::error::Error;
use crate::instance::Instance;
use crate::instantiate::{allocate, initialize};
use crate::linker::{InstancePre, Linker, Resolved};
use crate::module::Module;
use crate::store::{AsContextMut, StoreOpaque};
use crate::vm::allocator::Placement;
use crate::vm::slot::{self, SlotLease};
use crate::vm::sys::unix::mmap::{page_size, round_up_to_page, Mmap};
use crate::vm::vmctx::VmCtx;

/// How an [`InstancePool`] is sized.
#[derive(Clone, Debug)]
pub struct PoolConfig {
    /// Number of slots: the most instances alive at once.
    pub capacity: u32,
    /// Largest size, in wasm pages, a pooled memory may grow to (also
    /// capped by the memory's own maximum). In explicit bounds-check mode
    /// each slot reserves this much address space per memory; in guard
    /// mode each memory reserves 6 GiB whatever this is.
    pub max_memory_pages: u32,
    /// A module whose artifact has a memory image and at least this many
    /// bytes of active data segments gets the image mapped copy-on-write
    /// into each slot once, so resetting the slot restores it without
    /// copying; otherwise the segments are copied in at each
    /// instantiation. The default maps every image an artifact has (only
    /// modules with at least `IMAGE_MIN_DATA_BYTES`, 16 KiB, of data get
    /// one): far faster to instantiate, since a reset slot needs no
    /// copying. Each mapped image costs the kernel one or two more
    /// mappings per slot, and `vm.max_map_count` (65530 by default) bounds
    /// them per process: for pools of tens of thousands of slots, set this
    /// to `usize::MAX`.
    pub map_image_min_bytes: usize,
    /// Bytes at the start of each pooled memory that resetting a slot
    /// zeroes in place instead of handing back to the kernel (the rest is
    /// discarded with `MADV_DONTNEED`). The next instance in the slot then
    /// finds those pages resident: no page faults, no TLB flush. The price
    /// is up to this much resident memory per memory of every slot used
    /// once, idle or not, and zeroing it at each reset. Memories that map
    /// the artifact's memory image are always discarded (that restores the
    /// image). Rounded down to the page size; 0 discards everything.
    pub keep_resident_bytes: usize,
}

impl Default for PoolConfig {
    fn default() -> PoolConfig {
        PoolConfig {
            capacity: 1000,
            max_memory_pages: 160,
            map_image_min_bytes: IMAGE_MIN_DATA_BYTES as usize,
            keep_resident_bytes: DEFAULT_KEEP_RESIDENT_BYTES,
        }
    }
}

/// Four 4 KiB pages. Zeroing a resident page (about 0.1 µs) is far cheaper
/// than discarding it and faulting it back in (about 1 µs, plus a TLB
/// flush), but zeroing pages the next instance never touches is waste.
/// A memory no larger than this is reset without a system call; a larger
/// one costs one `madvise` (about 0.9 µs on the 2-vCPU VM of
/// `docs/benchmarks.md`, run 7). For the one-page small plugin of
/// `benches/benches/instantiate.rs`, 64 KiB made a pooled instantiation
/// 1.36 µs against 1.67 µs with 16 KiB (run 7); for larger memories it
/// zeroes 48 KiB more per reset and still makes the call, and a Rust
/// plugin first touches the top of its stack (1 MiB in), not the start of
/// memory. A pool of the default 1,000 slots keeps at most 16 MiB per
/// memory resident.
pub const DEFAULT_KEEP_RESIDENT_BYTES: usize = 16 * 1024;

/// Pre-reserved slots for instances of one module. `Send + Sync`: share it
/// between threads (in an `Arc`) and instantiate from any of them.
///
/// ```no_run
/// use wasmc_loader::{InstancePool, Linker, Module, PoolConfig, Store};
///
/// # fn main() -> Result<(), wasmc_loader::Error> {
/// // SAFETY: our own build pipeline compiled this artifact with wasmc.
/// let module = unsafe { Module::from_file("plugin.cwasm") }?;
/// let pool = InstancePool::new(&module, PoolConfig { capacity: 10_000, ..PoolConfig::default() })?;
/// let linker = Linker::new();
/// // Per request:
/// let mut store = Store::default();
/// let instance = pool.instantiate(&mut store, &linker)?;
/// instance.call(&mut store, "handle", &[])?;
/// drop(store); // the slot is reset and free again
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct InstancePool {
    shared: Arc<slot::PoolShared>,
    module: Module,
}

impl InstancePool {
    /// Reserves `config.capacity` slots for instances of `module`.
    ///
    /// # Errors
    /// [`Error::Resource`] when a memory's initial size exceeds
    /// `config.max_memory_pages`, or the address space for the slots
    /// cannot be reserved (guard mode needs 6 GiB per memory per slot).
    pub fn new(module: &Module, config: PoolConfig) -> Result<InstancePool, Error> {
        let meta = module.meta();
        let mode = meta.bounds_checks;
        let capacity = config.capacity;
        let mut memories = Vec::new();
        for ty in &meta.memories {
            let max_pages =
                u64::from(ty.max_pages.unwrap_or(u32::MAX)).min(WASM_MAX_PAGES).min(u64::from(config.max_memory_pages));
            if u64::from(ty.min_pages) > max_pages {
                return Err(Error::resource(format!(
                    "memory of {} pages exceeds the pool's limit of {max_pages} pages",
                    ty.min_pages
                )));
            }
            let initial_len = usize::try_from(u64::from(ty.min_pages) * WASM_PAGE_SIZE)
                .map_err(|_| Error::resource("memory too large"))?;
            memories.push(slot::MemorySpec { initial_len, max_pages });
        }
        let too_large = || Error::resource(format!("a pool of {capacity} slots does not fit in the address space"));
        let memory_stride = match mode {
            BoundsChecks::Guard => usize::try_from(GUARD_RESERVATION + GUARD_SIZE).map_err(|_| too_large())?,
            BoundsChecks::Explicit => {
                let max = memories.iter().map(|m| m.max_pages).max().unwrap_or(0) * WASM_PAGE_SIZE;
                round_up_to_page(usize::try_from(max).map_err(|_| too_large())?).ok_or_else(too_large)?.max(page_size())
            }
        };
        let areas = (capacity as usize).checked_mul(memories.len()).ok_or_else(too_large)?;
        let reserve = |len: usize, what: &str| {
            let mapped = match mode {
                BoundsChecks::Guard => Mmap::reserve(len),
                BoundsChecks::Explicit => Mmap::anonymous_noreserve(len),
            };
            mapped.map_err(|e| {
                Error::resource(format!(
                    "cannot reserve {len} bytes of address space for {capacity} pool slots' {what}: {e}"
                ))
            })
        };
        let memory_region = match areas {
            0 => None,
            _ => Some(reserve(areas.checked_mul(memory_stride).ok_or_else(too_large)?, "memories")?),
        };
        let offsets = VMOffsets::new(meta.vm_counts());
        let vmctx_stride = VmCtx::layout(&offsets)?.size().next_multiple_of(64);
        let vmctx_len = vmctx_stride.checked_mul(capacity.max(1) as usize).ok_or_else(too_large)?;
        let vmctx_region = Mmap::anonymous_noreserve(vmctx_len)
            .map_err(|e| Error::resource_io("cannot reserve the pool's vmctx area", e))?;
        let map_image = module.maps_image(config.map_image_min_bytes);
        let keep_resident = if map_image { 0 } else { config.keep_resident_bytes / page_size() * page_size() };
        let shared = slot::PoolShared {
            module: module.info(),
            mode,
            capacity,
            memories,
            memory_stride,
            memory_region,
            offsets,
            vmctx_stride,
            vmctx_region,
            map_image,
            keep_resident,
            states: (0..capacity).map(|_| AtomicU8::new(0)).collect(),
            free: Mutex::new((0..capacity).rev().collect()),
        };
        Ok(InstancePool { shared: Arc::new(shared), module: module.clone() })
    }

    /// Instantiates the pool's module in `store`, in a free slot, taking
    /// imports from `linker`. The slot returns to the pool when `store`
    /// drops.
    ///
    /// # Errors
    /// As [`Instance::new`], and [`Error::Resource`] when every slot is in
    /// use.
    pub fn instantiate<T: 'static>(
        &self,
        mut store: impl AsContextMut<Data = T>,
        linker: &Linker<T>,
    ) -> Result<Instance, Error> {
        let store = store.as_context_mut().0;
        let imports = linker.resolve(store, &self.module)?;
        self.instantiate_resolved(store, imports)
    }

    /// Instantiates `pre`'s module, which must be this pool's, in a free
    /// slot: per request, no name lookups and no address space reserved.
    ///
    /// # Errors
    /// As [`InstancePool::instantiate`], and [`Error::Type`] when `pre` is
    /// for another module.
    pub fn instantiate_pre<T: 'static>(
        &self,
        mut store: impl AsContextMut<Data = T>,
        pre: &InstancePre<T>,
    ) -> Result<Instance, Error> {
        let store = store.as_context_mut().0;
        if !pre.module().same_as(&self.module) {
            return Err(Error::Type("the InstancePre is for another module than the pool's".into()));
        }
        let imports = pre.resolve(store)?;
        self.instantiate_resolved(store, imports)
    }

    fn instantiate_resolved(&self, store: &mut StoreOpaque, imports: Vec<Resolved>) -> Result<Instance, Error> {
        let module = &self.module;
        let lease = SlotLease::acquire(&self.shared)?;
        let instance = allocate(store, module, imports, Placement::Pooled(&lease))?;
        store.push_lease(lease);
        initialize(store, instance, self.shared.map_image)?;
        Ok(instance)
    }

    /// The module this pool instantiates.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// Number of slots.
    pub fn capacity(&self) -> u32 {
        self.shared.capacity
    }

    /// Number of free slots right now.
    pub fn available(&self) -> usize {
        self.shared.free.lock().map_or(0, |free| free.len())
    }

    /// Whether instantiation maps the artifact's memory image instead of
    /// copying the data segments in.
    pub fn has_memory_image(&self) -> bool {
        self.shared.map_image
    }

    /// Bytes of address space the pool reserved for memories and vmctx
    /// areas.
    pub fn reserved_bytes(&self) -> usize {
        self.shared.memory_region.as_ref().map_or(0, Mmap::len) + self.shared.vmctx_region.len()
    }
}
