//! Linear memories, laid out for the bounds-check mode of the code using
//! them.
//!
//! ```text
//! guard mode (never moves)
//! base                                  base+4GiB                 base+6GiB
//! |<- accessible (RW) ->|<- reserved, PROT_NONE ->|<- guard, PROT_NONE ->|
//!
//! explicit mode (may move on growth)
//! base
//! |<- accessible (RW) ->|        (no mapping at all while empty)
//! ```
//!
//! A fresh memory of a module with a memory image gets the image's runs
//! mapped copy-on-write from the artifact over its first pages, so only
//! the pages an instance writes cost memory of their own.
//!
//! A memory from an [`crate::InstancePool`] slot lives inside the pool's
//! region instead (see `slot.rs` for its map): it never moves, grows
//! only within its slot, and on drop resets its pages for the next user.

use std::fs::File;

use wasmc_abi::meta::MemoryType;
use wasmc_abi::{BoundsChecks, GUARD_RESERVATION, GUARD_SIZE, WASM_MAX_PAGES, WASM_PAGE_SIZE};

use crate::vm::slot::PooledMemory;
use crate::vm::sys::unix::mmap::{Mmap, Protection};
use crate::vm::trap::VmError;
use crate::vm::VMMemoryDefinition;

/// Where a memory's bytes live.
#[derive(Debug)]
enum Backing {
    /// Its own mapping (guard: the whole reservation; explicit: exactly the
    /// accessible bytes), or `None` for an empty explicit-mode memory.
    Owned(Option<Mmap>),
    /// A pool slot's memory area.
    Pooled(PooledMemory),
}

/// The backing store of one linear memory.
#[derive(Debug)]
pub(crate) struct LinearMemory {
    mode: BoundsChecks,
    backing: Backing,
    /// Accessible bytes (a multiple of the wasm page size).
    len: usize,
    /// Largest size growth may reach, in pages.
    max_pages: u64,
    /// Whether part of an owned mapping is a file mapping (so an explicit
    /// memory spans several kernel mappings and cannot be `mremap`ped).
    image_mapped: bool,
}

/// Where an empty explicit-mode memory "starts": non-null, aligned, never
/// dereferenced (every access is checked against a length of zero).
fn dangling() -> *mut u8 {
    std::ptr::NonNull::<u128>::dangling().as_ptr().cast()
}

impl LinearMemory {
    /// A memory of `ty.min_pages` zeroed pages. `limit_bytes` is the
    /// store's configured maximum, if any.
    pub(crate) fn new(ty: MemoryType, mode: BoundsChecks, limit_bytes: Option<u64>) -> Result<Self, VmError> {
        let mut max_pages = u64::from(ty.max_pages.unwrap_or(u32::MAX)).min(WASM_MAX_PAGES);
        if let Some(limit) = limit_bytes {
            max_pages = max_pages.min(limit / WASM_PAGE_SIZE);
        }
        let min = u64::from(ty.min_pages);
        if min > max_pages {
            return Err(VmError::resource(format!("memory of {min} pages exceeds the limit of {max_pages} pages")));
        }
        let resource = |e: std::io::Error| VmError::resource_io("cannot map linear memory", e);
        let mapping = match mode {
            BoundsChecks::Guard => {
                let total = usize::try_from(GUARD_RESERVATION + GUARD_SIZE)
                    .map_err(|_| VmError::resource("address space too small"))?;
                Some(Mmap::reserve(total).map_err(resource)?)
            }
            BoundsChecks::Explicit => None,
        };
        let mut memory =
            LinearMemory { mode, backing: Backing::Owned(mapping), len: 0, max_pages, image_mapped: false };
        if memory.grow(ty.min_pages).is_none() {
            return Err(VmError::resource(format!("cannot allocate {min} pages of linear memory")));
        }
        Ok(memory)
    }

    /// A memory of `ty.min_pages` pages in a pool slot, whose first
    /// `pooled.initial_len()` bytes are already accessible and initialised.
    pub(crate) fn pooled(pooled: PooledMemory, mode: BoundsChecks, limit_bytes: Option<u64>) -> Result<Self, VmError> {
        let mut max_pages = pooled.max_pages();
        if let Some(limit) = limit_bytes {
            max_pages = max_pages.min(limit / WASM_PAGE_SIZE);
        }
        let len = pooled.initial_len();
        let min = len as u64 / WASM_PAGE_SIZE;
        // Built first, so that the slot's memory is reset even on refusal.
        let memory = LinearMemory { mode, backing: Backing::Pooled(pooled), len, max_pages, image_mapped: false };
        if min > max_pages {
            return Err(VmError::resource(format!("memory of {min} pages exceeds the limit of {max_pages} pages")));
        }
        Ok(memory)
    }

    /// The layout this memory has.
    pub(crate) fn mode(&self) -> BoundsChecks {
        self.mode
    }

    /// Accessible bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Current size in pages.
    pub(crate) fn pages(&self) -> u32 {
        (self.len as u64 / WASM_PAGE_SIZE) as u32
    }

    /// Whether growing by `delta` pages stays within the limits (the
    /// system may still refuse the memory).
    pub(crate) fn may_grow(&self, delta: u32) -> bool {
        self.len as u64 / WASM_PAGE_SIZE + u64::from(delta) <= self.max_pages
    }

    /// First byte; non-null even when the memory is empty.
    pub(crate) fn base(&self) -> *mut u8 {
        match &self.backing {
            Backing::Owned(mapping) => mapping.as_ref().map_or_else(dangling, Mmap::as_ptr),
            Backing::Pooled(pooled) => pooled.base(),
        }
    }

    /// What generated code sees.
    pub(crate) fn definition(&self) -> VMMemoryDefinition {
        VMMemoryDefinition { base: self.base(), current_length: self.len }
    }

    /// Grows by `delta` pages; returns the old size in pages, or `None`
    /// (leaving the memory unchanged) past the limits or when the system
    /// refuses.
    pub(crate) fn grow(&mut self, delta: u32) -> Option<u32> {
        let old_pages = self.len as u64 / WASM_PAGE_SIZE;
        let new_pages = old_pages + u64::from(delta);
        if new_pages > self.max_pages {
            return None;
        }
        if delta == 0 {
            return Some(old_pages as u32);
        }
        let new_len = usize::try_from(new_pages * WASM_PAGE_SIZE).ok()?;
        match (&mut self.backing, self.mode) {
            (Backing::Pooled(pooled), _) => pooled.grow(self.len, new_len).ok()?,
            (Backing::Owned(mapping), BoundsChecks::Guard) => {
                mapping.as_ref()?.protect(self.len, new_len - self.len, Protection::ReadWrite).ok()?;
            }
            (Backing::Owned(Some(mapping)), BoundsChecks::Explicit) if !self.image_mapped => {
                mapping.remap(new_len).ok()?
            }
            // Image runs make the memory several mappings, which `mremap`
            // refuses: move it into one anonymous mapping, once.
            (Backing::Owned(Some(mapping)), BoundsChecks::Explicit) => {
                let bigger = Mmap::anonymous(new_len).ok()?;
                // SAFETY: both mappings are read-write, `mapping` holds
                // `self.len` accessible bytes and `bigger` more; they are
                // distinct, and `&mut self` excludes other references.
                unsafe { std::ptr::copy_nonoverlapping(mapping.as_ptr(), bigger.as_ptr(), self.len) };
                *mapping = bigger;
                self.image_mapped = false;
            }
            (Backing::Owned(mapping), BoundsChecks::Explicit) => *mapping = Some(Mmap::anonymous(new_len).ok()?),
        }
        self.len = new_len;
        Some(old_pages as u32)
    }

    /// Replaces `len` accessible bytes at `offset` (both page aligned) with
    /// a copy-on-write mapping of `file` at `file_offset`: how a fresh
    /// memory gets its image. Only for memories with their own mapping.
    pub(crate) fn map_image(
        &mut self,
        offset: usize,
        len: usize,
        file: &File,
        file_offset: u64,
    ) -> Result<(), VmError> {
        let Backing::Owned(Some(mapping)) = &self.backing else {
            return Err(VmError::resource("this memory cannot map an image"));
        };
        if offset.checked_add(len).map_or(true, |end| end > self.len) {
            return Err(VmError::resource("memory image run outside the memory"));
        }
        mapping
            .map_file_over(offset, len, file, file_offset)
            .map_err(|e| VmError::resource_io("cannot map the memory image", e))?;
        self.image_mapped = true;
        Ok(())
    }

    /// Whether `addr` lies in this memory's reserved address range
    /// (accessible bytes, reservation or guard).
    pub(crate) fn reservation_contains(&self, addr: usize) -> bool {
        let (start, len) = match &self.backing {
            Backing::Owned(Some(m)) => (m.as_ptr() as usize, m.len()),
            Backing::Owned(None) => return false,
            Backing::Pooled(pooled) => (pooled.base() as usize, pooled.reserved()),
        };
        addr >= start && addr - start < len
    }

    /// The accessible bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `base` is valid for `len` readable bytes (or dangling and
        // aligned with `len == 0`); wasm code that writes to the memory runs
        // only while the store is mutably borrowed, so not while this
        // shared borrow lives.
        unsafe { std::slice::from_raw_parts(self.base(), self.len) }
    }

    /// The accessible bytes, mutably.
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, with `&mut self` excluding other borrows.
        unsafe { std::slice::from_raw_parts_mut(self.base(), self.len) }
    }
}

impl Drop for LinearMemory {
    fn drop(&mut self) {
        if let Backing::Pooled(pooled) = &self.backing {
            pooled.reset(self.len);
        }
    }
}
