//! Pool slots: the pre-reserved memories and vmctx area one pooled
//! instance uses, handed out and taken back through a free list.
//!
//! ```text
//! memory region (one mapping for the whole pool)
//! slot 0                        slot 1                        ...
//! |mem 0          |mem 1        |mem 0          |mem 1        |
//! +---------------+-------------+---------------+-------------+
//! |image|RW |     |             |
//! |<-initial->|<- growth room ->|   one memory area = `memory_stride` bytes:
//!
//! guard mode:    |<- accessible RW ->|<- PROT_NONE up to 4 GiB ->|<- 2 GiB guard ->|  (6 GiB)
//! explicit mode: |<- accessible ->|<- read-write, untouched (no memory) ->|  (max pages)
//!
//! "image": the runs of the module's memory image, mapped copy-on-write
//! from the artifact (unless its data is small: then the segments are
//! copied in at each instantiation); everything else is anonymous memory
//! reading as zero.
//!
//! vmctx region (one mapping): capacity x `vmctx_stride` bytes, one
//! zeroed and refilled `VMContext` per instantiation.
//! ```
//!
//! A slot is prepared (initial pages made accessible, image mapped) the
//! first time it is used. When the store holding a pooled instance drops,
//! each [`PooledMemory`] zeroes the first `keep_resident_bytes` of its
//! memory in place (without an image) and discards the rest
//! (`MADV_DONTNEED`: zero again, or the image again for mapped runs) and
//! re-protects growth back to the initial size; then the [`SlotLease`],
//! which the store drops last, puts the slot back on the free list.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use wasmc_abi::vmctx::VMOffsets;
use wasmc_abi::{BoundsChecks, WASM_PAGE_SIZE};

use crate::vm::module_info::ModuleInfo;
use crate::vm::sys::unix::mmap::{Mmap, Protection};
use crate::vm::trap::VmError;

/// Slot states.
const UNPREPARED: u8 = 0;
const READY: u8 = 1;
/// Resetting failed: the slot is never handed out again.
const BROKEN: u8 = 2;

/// One defined memory's place in every slot.
#[derive(Debug)]
pub(crate) struct MemorySpec {
    /// Bytes accessible after instantiation.
    pub initial_len: usize,
    /// Largest size in pages.
    pub max_pages: u64,
}

/// Everything the pool's slots share; kept alive by the pool and by every
/// lease and pooled memory.
#[derive(Debug)]
pub(crate) struct PoolShared {
    /// The module whose memory image slots map.
    pub module: Arc<dyn ModuleInfo>,
    pub mode: BoundsChecks,
    pub capacity: u32,
    pub memories: Vec<MemorySpec>,
    /// Bytes of one memory area (a multiple of the host page size).
    pub memory_stride: usize,
    /// `capacity * memories.len()` memory areas, or `None` without memories.
    pub memory_region: Option<Mmap>,
    pub offsets: VMOffsets,
    pub vmctx_stride: usize,
    pub vmctx_region: Mmap,
    /// Whether slots map the module's memory image once (else the active
    /// data segments are copied in at each instantiation).
    pub map_image: bool,
    /// Bytes at the start of each memory that a reset zeroes in place
    /// (page aligned; 0 when images are mapped).
    pub keep_resident: usize,
    pub states: Box<[AtomicU8]>,
    /// Free slots; the most recently returned is reused first (its pages
    /// are the likeliest to be resident).
    pub free: Mutex<Vec<u32>>,
}

impl PoolShared {
    fn memory_offset(&self, slot: u32, memory: usize) -> usize {
        (slot as usize * self.memories.len() + memory) * self.memory_stride
    }

    fn region(&self) -> Result<&Mmap, VmError> {
        self.memory_region.as_ref().ok_or_else(|| VmError::resource("the pool has no memory region"))
    }

    /// Makes a never-used slot's initial pages accessible and maps its
    /// memory image.
    fn prepare(&self, slot: u32) -> Result<(), VmError> {
        let resource = |e: std::io::Error| VmError::resource_io("cannot prepare a pool slot", e);
        let region = self.region()?;
        if self.mode == BoundsChecks::Guard {
            for (j, spec) in self.memories.iter().enumerate() {
                region
                    .protect(self.memory_offset(slot, j), spec.initial_len, Protection::ReadWrite)
                    .map_err(resource)?;
            }
        }
        if !self.map_image {
            return Ok(());
        }
        for run in self.module.memory_image().unwrap_or_default() {
            let (file, file_offset) = self.module.image_source(run)?;
            let offset = self.memory_offset(slot, run.memory as usize) + run.memory_offset as usize;
            region.map_file_over(offset, run.len as usize, file, file_offset).map_err(resource)?;
        }
        Ok(())
    }
}

/// The right to use one slot; returns it to the free list on drop. A
/// [`crate::Store`] keeps the leases of its pooled instances and drops them
/// after everything else, so no handle can reach a slot once it is free.
#[derive(Debug)]
pub(crate) struct SlotLease {
    shared: Arc<PoolShared>,
    slot: u32,
}

impl SlotLease {
    /// Takes a free slot, prepared, with its memories holding their images.
    pub(crate) fn acquire(shared: &Arc<PoolShared>) -> Result<SlotLease, VmError> {
        let slot = shared.free.lock().map_err(|_| VmError::resource("instance pool lock poisoned"))?.pop();
        let Some(slot) = slot else {
            return Err(VmError::resource(format!(
                "instance pool exhausted: all {} slots are in use",
                shared.capacity - broken_count(shared)
            )));
        };
        let lease = SlotLease { shared: Arc::clone(shared), slot };
        let state = &shared.states[slot as usize];
        if state.load(Ordering::Acquire) == UNPREPARED {
            if let Err(e) = shared.prepare(slot) {
                state.store(BROKEN, Ordering::Release);
                return Err(e);
            }
            state.store(READY, Ordering::Release);
        }
        Ok(lease)
    }

    /// The slot's vmctx area.
    pub(crate) fn vmctx_ptr(&self) -> Result<std::ptr::NonNull<u8>, VmError> {
        let offset = self.slot as usize * self.shared.vmctx_stride;
        // SAFETY: the offset is below `capacity * vmctx_stride`, the
        // region's length.
        let ptr = unsafe { self.shared.vmctx_region.as_ptr().add(offset) };
        std::ptr::NonNull::new(ptr).ok_or_else(|| VmError::resource("null vmctx"))
    }

    /// The layout of the vmctx area.
    pub(crate) fn offsets(&self) -> &VMOffsets {
        &self.shared.offsets
    }

    /// Defined memory `j` of this slot.
    pub(crate) fn memory(&self, j: usize) -> PooledMemory {
        PooledMemory { shared: Arc::clone(&self.shared), slot: self.slot, index: j }
    }
}

fn broken_count(shared: &PoolShared) -> u32 {
    shared.states.iter().filter(|s| s.load(Ordering::Relaxed) == BROKEN).count() as u32
}

impl Drop for SlotLease {
    fn drop(&mut self) {
        if self.shared.states[self.slot as usize].load(Ordering::Acquire) == BROKEN {
            return;
        }
        if let Ok(mut free) = self.shared.free.lock() {
            free.push(self.slot);
        }
    }
}

/// A pool slot's memory area, as a [`crate::vm::memory::LinearMemory`] uses it.
#[derive(Debug)]
pub(crate) struct PooledMemory {
    shared: Arc<PoolShared>,
    slot: u32,
    index: usize,
}

impl PooledMemory {
    fn spec(&self) -> &MemorySpec {
        &self.shared.memories[self.index]
    }

    fn offset(&self) -> usize {
        self.shared.memory_offset(self.slot, self.index)
    }

    /// First byte of the area.
    pub(crate) fn base(&self) -> *mut u8 {
        match &self.shared.memory_region {
            // SAFETY: the area lies inside the region.
            Some(region) => unsafe { region.as_ptr().add(self.offset()) },
            None => std::ptr::NonNull::dangling().as_ptr(),
        }
    }

    /// Bytes reserved for the memory (its largest size, and in guard mode
    /// the rest of the reservation and the guard).
    pub(crate) fn reserved(&self) -> usize {
        self.shared.memory_stride
    }

    /// Largest size in pages.
    pub(crate) fn max_pages(&self) -> u64 {
        self.spec().max_pages
    }

    /// Accessible bytes when the slot is handed out.
    pub(crate) fn initial_len(&self) -> usize {
        self.spec().initial_len
    }

    /// Makes `old_len..new_len` accessible (in place: the memory never
    /// moves).
    pub(crate) fn grow(&self, old_len: usize, new_len: usize) -> Result<(), VmError> {
        if new_len as u64 > self.max_pages() * WASM_PAGE_SIZE || new_len > self.reserved() {
            return Err(VmError::resource("memory slot is full"));
        }
        if self.shared.mode == BoundsChecks::Guard {
            let region = self.shared.region()?;
            region
                .protect(self.offset() + old_len, new_len - old_len, Protection::ReadWrite)
                .map_err(|e| VmError::resource_io("cannot grow a pooled memory", e))?;
        }
        Ok(())
    }

    /// Restores the area to its state when first handed out, given that
    /// `len` bytes are accessible now: zeroes the first `keep_resident`
    /// bytes in place and discards the rest. On failure the slot is marked
    /// broken and never reused.
    pub(crate) fn reset(&self, len: usize) {
        let Some(region) = &self.shared.memory_region else { return };
        let initial = self.initial_len();
        let keep = self.shared.keep_resident.min(len);
        // SAFETY: the first `len` bytes of the area are accessible
        // (read-write in both modes), and the store that held this memory
        // is being dropped: no instance or handle refers to them.
        let zeroed = unsafe { region.zero(self.offset(), keep) }.is_ok();
        let mut ok = zeroed && region.discard(self.offset() + keep, len - keep).is_ok();
        if self.shared.mode == BoundsChecks::Guard && len > initial {
            ok &= region.protect(self.offset() + initial, len - initial, Protection::None).is_ok();
        }
        if !ok {
            self.shared.states[self.slot as usize].store(BROKEN, Ordering::Release);
        }
    }
}
