//! Table storage: one pointer-sized raw reference per element (a
//! `*const VMFuncRef` or an externref word; zero is null).
//!
//! The elements live in a heap buffer reached only through raw pointers,
//! because generated code reads and writes it through
//! `VMTableDefinition::base` while the loader also does. Growth may move
//! the buffer; the owner then updates the definition.

use std::ptr::NonNull;

use wasmc_abi::meta::TableType;

use crate::error::Error;

/// Largest size a table reaches when neither its type nor the store sets a
/// smaller maximum: the largest minimum validation accepts (and the limit
/// web engines use). Without it one `table.grow` of a few billion elements
/// in an untrusted module made the host fill tens of GiB (found by the
/// differential fuzz smoke run; `fuzz/regressions/differential/`).
pub(crate) const DEFAULT_MAX_TABLE_ELEMENTS: u32 = 10_000_000;

/// The elements of one table.
#[derive(Debug)]
pub(crate) struct TableElements {
    ptr: NonNull<usize>,
    len: u32,
    /// Largest size growth may reach.
    max: u32,
}

// SAFETY: the buffer is owned exclusively by this value; access follows the
// borrow of the owning store.
unsafe impl Send for TableElements {}

/// `len` elements of `init`, or `None` when the allocator refuses (a huge
/// table must be an error, never an abort of the host).
fn alloc(len: usize, init: usize) -> Option<NonNull<usize>> {
    let mut elements = Vec::new();
    elements.try_reserve_exact(len).ok()?;
    elements.resize(len, init);
    let raw = Box::into_raw(elements.into_boxed_slice()).cast::<usize>();
    Some(NonNull::new(raw).unwrap_or(NonNull::dangling()))
}

impl TableElements {
    /// `ty.min` elements of `init`; `limit` is the store's maximum.
    pub(crate) fn new(ty: TableType, init: usize, limit: Option<u32>) -> Result<Self, Error> {
        let max = ty.max.unwrap_or(u32::MAX).min(limit.unwrap_or(DEFAULT_MAX_TABLE_ELEMENTS));
        if ty.min > max {
            return Err(Error::Resource(format!("table of {} elements exceeds the limit of {max}", ty.min)));
        }
        let ptr = alloc(ty.min as usize, init)
            .ok_or_else(|| Error::Resource(format!("cannot allocate a table of {} elements", ty.min)))?;
        Ok(TableElements { ptr, len: ty.min, max })
    }

    /// Number of elements.
    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    /// First element, for `VMTableDefinition::base`.
    pub(crate) fn base(&self) -> *mut usize {
        self.ptr.as_ptr()
    }

    /// The elements.
    pub(crate) fn as_slice(&self) -> &[usize] {
        // SAFETY: `ptr` is a live allocation of `len` elements (or dangling
        // with `len == 0`); generated code writes to it only while the store
        // is mutably borrowed.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len as usize) }
    }

    /// The elements, mutably.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [usize] {
        // SAFETY: as in `as_slice`, with `&mut self` excluding other borrows.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len as usize) }
    }

    /// Grows by `delta` elements of `init`; returns the old size, or `None`
    /// past the limits. The buffer may move.
    pub(crate) fn grow(&mut self, delta: u32, init: usize) -> Option<u32> {
        let old = self.len;
        let new = old.checked_add(delta).filter(|&n| n <= self.max)?;
        if delta == 0 {
            return Some(old);
        }
        let mut elements = Vec::new();
        elements.try_reserve_exact(new as usize).ok()?;
        elements.extend_from_slice(self.as_slice());
        elements.resize(new as usize, init);
        let raw = Box::into_raw(elements.into_boxed_slice()).cast::<usize>();
        let old_ptr = std::mem::replace(&mut self.ptr, NonNull::new(raw)?);
        let old_len = std::mem::replace(&mut self.len, new);
        free(old_ptr, old_len);
        Some(old)
    }
}

fn free(ptr: NonNull<usize>, len: u32) {
    // SAFETY: `ptr`/`len` came from `Box::<[usize]>::into_raw` of exactly
    // this length, and ownership is given up here.
    unsafe {
        drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr.as_ptr(), len as usize)));
    }
}

impl Drop for TableElements {
    fn drop(&mut self) {
        free(self.ptr, self.len);
    }
}
