//! Table storage: one pointer-sized raw reference per element (a
//! `*const VMFuncRef` or an externref word; zero is null).
//!
//! The elements live in a heap buffer reached only through raw pointers,
//! because generated code reads and writes it through
//! `VMTableDefinition::base` while the loader also does. Growth may move
//! the buffer; the owner then updates the definition.

use std::ptr::NonNull;

use wasmc_abi::meta::TableType;

use crate::vm::trap::VmError;

/// Largest size a table reaches when neither its type nor the store sets a
/// smaller maximum: the largest minimum validation accepts (and the limit
/// web engines use). Without it one `table.grow` of a few billion elements
/// in an untrusted module made the host fill tens of GiB (found by the
/// differential fuzz smoke run; `fuzz/regressions/differential/`).
pub(crate) const DEFAULT_MAX_TABLE_ELEMENTS: u32 = 10_000_000;

/// The elements of one table.
///
/// The buffer's capacity grows geometrically (doubling, never past `max`),
/// so a long series of small `table.grow`s copies each element a bounded
/// number of times; the size generated code and `table.size` see is `len`,
/// and the limit check is on `len`, exactly as before.
#[derive(Debug)]
pub(crate) struct TableElements {
    /// A buffer from a `Vec<usize>` of capacity `cap` whose first `len`
    /// elements are initialised.
    ptr: NonNull<usize>,
    len: u32,
    cap: usize,
    /// Largest size growth may reach.
    max: u32,
}

// SAFETY: the buffer is owned exclusively by this value; access follows the
// borrow of the owning store.
unsafe impl Send for TableElements {}

/// A buffer of capacity `cap` (at least `len`) holding `len` elements of
/// `init`, as raw `Vec` parts; `None` when the allocator refuses (a huge
/// table must be an error, never an abort of the host).
fn alloc(len: usize, cap: usize, init: usize) -> Option<(NonNull<usize>, usize)> {
    let mut elements = Vec::new();
    elements.try_reserve_exact(cap.max(len)).ok()?;
    elements.resize(len, init);
    let mut elements = std::mem::ManuallyDrop::new(elements);
    // `Vec::as_mut_ptr` is never null (dangling for capacity 0).
    Some((NonNull::new(elements.as_mut_ptr())?, elements.capacity()))
}

impl TableElements {
    /// `ty.min` elements of `init`; `limit` is the store's maximum.
    pub(crate) fn new(ty: TableType, init: usize, limit: Option<u32>) -> Result<Self, VmError> {
        let max = ty.max.unwrap_or(u32::MAX).min(limit.unwrap_or(DEFAULT_MAX_TABLE_ELEMENTS));
        if ty.min > max {
            return Err(VmError::resource(format!("table of {} elements exceeds the limit of {max}", ty.min)));
        }
        let (ptr, cap) = alloc(ty.min as usize, ty.min as usize, init)
            .ok_or_else(|| VmError::resource(format!("cannot allocate a table of {} elements", ty.min)))?;
        Ok(TableElements { ptr, len: ty.min, cap, max })
    }

    /// Number of elements.
    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    /// Whether growing by `delta` elements stays within the limits (the
    /// allocator may still refuse).
    pub(crate) fn may_grow(&self, delta: u32) -> bool {
        self.len.checked_add(delta).is_some_and(|n| n <= self.max)
    }

    /// First element, for `VMTableDefinition::base`.
    pub(crate) fn base(&self) -> *mut usize {
        self.ptr.as_ptr()
    }

    /// The elements.
    pub(crate) fn as_slice(&self) -> &[usize] {
        // SAFETY: `ptr` is a live allocation whose first `len` elements are
        // initialised (or dangling with capacity 0); generated code writes
        // to it only while the store is mutably borrowed.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len as usize) }
    }

    /// The elements, mutably.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [usize] {
        // SAFETY: as in `as_slice`, with `&mut self` excluding other borrows.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len as usize) }
    }

    /// Grows by `delta` elements of `init`; returns the old size, or `None`
    /// past the limits or when the allocator refuses. The buffer may move.
    pub(crate) fn grow(&mut self, delta: u32, init: usize) -> Option<u32> {
        let old = self.len;
        let new = old.checked_add(delta).filter(|&n| n <= self.max)?;
        if new as usize > self.cap {
            // Double (up to the maximum), or take exactly what is needed if
            // the allocator refuses the larger buffer.
            let wanted = self.cap.saturating_mul(2).min(self.max as usize).max(new as usize);
            let (ptr, cap) = alloc(0, wanted, 0).or_else(|| alloc(0, new as usize, 0))?;
            // SAFETY: the old buffer holds `len` initialised elements, the
            // new one has room for at least `new >= len`; they are distinct
            // allocations.
            unsafe { std::ptr::copy_nonoverlapping(self.ptr.as_ptr(), ptr.as_ptr(), old as usize) };
            let old_ptr = std::mem::replace(&mut self.ptr, ptr);
            let old_cap = std::mem::replace(&mut self.cap, cap);
            // The new buffer's first `len` elements are initialised now.
            free(old_ptr, old as usize, old_cap);
        }
        for i in old as usize..new as usize {
            // SAFETY: `cap >= new`, so element `i` is in the buffer; the
            // new elements are written before `len` makes them visible.
            unsafe { self.ptr.as_ptr().add(i).write(init) };
        }
        self.len = new;
        Some(old)
    }
}

/// Frees a buffer made by [`alloc`].
fn free(ptr: NonNull<usize>, len: usize, cap: usize) {
    // SAFETY: `ptr`/`cap` came from a `Vec<usize>` of that capacity whose
    // first `len` elements are initialised (`usize` needs no drop anyway),
    // and ownership is given up here.
    unsafe { drop(Vec::from_raw_parts(ptr.as_ptr(), len, cap)) }
}

impl Drop for TableElements {
    fn drop(&mut self) {
        free(self.ptr, self.len as usize, self.cap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(min: u32, max: Option<u32>) -> TableElements {
        TableElements::new(TableType { element: wasmc_abi::meta::ValType::FuncRef, min, max }, 7, None).unwrap()
    }

    #[test]
    fn growth_keeps_the_elements_and_doubles_the_capacity_within_the_maximum() {
        let mut t = table(3, Some(100));
        t.as_mut_slice()[1] = 42;
        let mut reallocations = 0;
        for i in 0..97 {
            let before = t.base();
            assert_eq!(t.grow(1, i), Some(3 + i as u32));
            reallocations += usize::from(before != t.base());
            assert_eq!(t.as_slice()[1], 42);
            assert_eq!(t.as_slice()[3 + i], i);
            assert!(t.cap <= 100 && t.cap >= t.len as usize);
        }
        assert!(reallocations <= 7, "{reallocations} reallocations for 97 grows");
        assert_eq!(t.len(), 100);
        assert_eq!(&t.as_slice()[..3], &[7, 42, 7]);
        // The maximum is exact, whatever the capacity.
        assert!(!t.may_grow(1) && t.may_grow(0));
        assert_eq!(t.grow(1, 0), None);
        assert_eq!(t.grow(0, 0), Some(100));
    }

    #[test]
    fn an_empty_table_grows_from_nothing() {
        let mut t = table(0, None);
        assert_eq!(t.grow(0, 1), Some(0));
        assert_eq!(t.grow(5, 9), Some(0));
        assert_eq!(t.as_slice(), &[9; 5]);
        assert!(!t.may_grow(u32::MAX));
    }
}
