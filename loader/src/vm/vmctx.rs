//! Owned `VMContext` allocations and other memory generated code reaches
//! through raw pointers.
//!
//! [`VmCtx`] is one zeroed, 16-byte aligned allocation laid out by
//! [`VMOffsets`]; its typed accessors take indices that instantiation has
//! already checked against the module's counts (`VMOffsets` asserts them
//! again). [`VmBox`] is a heap value that is only ever reached through raw
//! pointers, so generated code and the loader may both write to it.

use std::alloc::Layout;
use std::ffi::c_void;
use std::ptr::NonNull;

use wasmc_abi::vmctx::{VMOffsets, VMCTX_MAGIC};

use std::sync::atomic::AtomicU64;

use crate::vm::trap::VmError;
use crate::vm::{
    VMContextHeader, VMFuncRef, VMFunctionImport, VMGlobal, VMMemoryDefinition, VMRuntimeLimits, VMTableDefinition,
};

/// A heap value reached only through raw pointers; freed on drop.
#[derive(Debug)]
pub(crate) struct VmBox<T>(NonNull<T>);

// SAFETY: a `VmBox` owns its value like a `Box`; all access goes through
// raw pointers under the owning store's borrow.
unsafe impl<T: Send> Send for VmBox<T> {}

impl<T> VmBox<T> {
    pub(crate) fn new(value: T) -> VmBox<T> {
        VmBox(NonNull::from(Box::leak(Box::new(value))))
    }

    pub(crate) fn as_ptr(&self) -> *mut T {
        self.0.as_ptr()
    }
}

impl<T> Drop for VmBox<T> {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `Box::leak` in `new` and is released
        // exactly once, here.
        unsafe { drop(Box::from_raw(self.0.as_ptr())) }
    }
}

/// One instance's `VMContext`: its own heap allocation, or (for pooled
/// instances) a pool slot's vmctx area, which the pool owns.
#[derive(Debug)]
pub(crate) struct VmCtx {
    ptr: NonNull<u8>,
    layout: Layout,
    offsets: VMOffsets,
    owned: bool,
}

// SAFETY: the allocation is owned by this value; access follows the owning
// store's borrow.
unsafe impl Send for VmCtx {}

impl VmCtx {
    /// A zeroed context with its header filled in; [`VmError::Resource`]
    /// when the allocator refuses (the size grows with the module's counts
    /// of functions, tables, memories and globals).
    pub(crate) fn new(
        offsets: VMOffsets,
        builtins: *const usize,
        type_ids: *const u32,
        instance: *mut c_void,
    ) -> Result<VmCtx, VmError> {
        let layout = VmCtx::layout(&offsets)?;
        // SAFETY: the layout has a non-zero size (at least the header's).
        let raw = unsafe { std::alloc::alloc_zeroed(layout) };
        let Some(ptr) = NonNull::new(raw) else {
            return Err(VmError::resource(format!("cannot allocate a VMContext of {} bytes", layout.size())));
        };
        let vmctx = VmCtx { ptr, layout, offsets, owned: true };
        vmctx.init_header(builtins, type_ids, instance);
        Ok(vmctx)
    }

    /// The size and alignment of a context laid out by `offsets`.
    pub(crate) fn layout(offsets: &VMOffsets) -> Result<Layout, VmError> {
        let size = (offsets.size() as usize).max(std::mem::size_of::<VMContextHeader>());
        Layout::from_size_align(size, 16).map_err(|_| VmError::resource(format!("a VMContext of {size} bytes")))
    }

    /// A context in memory the caller owns (a pool slot's vmctx area),
    /// zeroed here and its header filled in; dropping it frees nothing.
    ///
    /// # Safety
    /// `ptr` must be 16-byte aligned and valid for writes of
    /// `VmCtx::layout(&offsets).size()` bytes, exclusively for this
    /// context, until it is dropped.
    pub(crate) unsafe fn new_in(
        ptr: NonNull<u8>,
        offsets: VMOffsets,
        builtins: *const usize,
        type_ids: *const u32,
        instance: *mut c_void,
    ) -> Result<VmCtx, VmError> {
        let layout = VmCtx::layout(&offsets)?;
        // SAFETY: the caller promises `layout.size()` writable bytes.
        unsafe { std::ptr::write_bytes(ptr.as_ptr(), 0, layout.size()) };
        let vmctx = VmCtx { ptr, layout, offsets, owned: false };
        vmctx.init_header(builtins, type_ids, instance);
        Ok(vmctx)
    }

    fn init_header(&self, builtins: *const usize, type_ids: *const u32, instance: *mut c_void) {
        // SAFETY: the allocation starts with room for the header and is
        // 16-byte aligned, as `VMContextHeader` requires.
        unsafe {
            let header = self.ptr.as_ptr().cast::<VMContextHeader>();
            (*header).magic = VMCTX_MAGIC;
            (*header).builtins = builtins;
            (*header).type_ids = type_ids;
            (*header).instance = instance;
        }
    }

    /// Points the header at the store's runtime limits and the process-wide
    /// epoch counter. `limits` must outlive this context (the store owns
    /// both).
    pub(crate) fn set_runtime_limits(&self, limits: *mut VMRuntimeLimits, epoch: *const AtomicU64) {
        // SAFETY: the allocation starts with the 16-byte aligned header.
        unsafe {
            let header = self.ptr.as_ptr().cast::<VMContextHeader>();
            (*header).runtime_limits = limits;
            (*header).epoch_ptr = epoch;
        }
    }

    /// Start of the context, as generated code receives it.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    fn at<T>(&self, offset: u32) -> *mut T {
        debug_assert!(offset as usize + std::mem::size_of::<T>() <= self.layout.size());
        // SAFETY: `VMOffsets` places every field inside `size()` bytes.
        unsafe { self.ptr.as_ptr().add(offset as usize).cast() }
    }

    /// Sets imported function `i`.
    pub(crate) fn set_function_import(&self, i: u32, import: VMFunctionImport) {
        // SAFETY: the slot lies in the allocation, suitably aligned (8).
        unsafe { self.at::<VMFunctionImport>(self.offsets.imported_function(i)).write(import) }
    }

    /// Sets the definition pointer of imported table `i`.
    pub(crate) fn set_imported_table(&self, i: u32, def: *mut VMTableDefinition) {
        // SAFETY: the slot lies in the allocation, pointer aligned.
        unsafe { self.at::<*mut VMTableDefinition>(self.offsets.imported_table(i)).write(def) }
    }

    /// Sets the definition pointer of imported memory `i`.
    pub(crate) fn set_imported_memory(&self, i: u32, def: *mut VMMemoryDefinition) {
        // SAFETY: the slot lies in the allocation, pointer aligned.
        unsafe { self.at::<*mut VMMemoryDefinition>(self.offsets.imported_memory(i)).write(def) }
    }

    /// Sets the storage pointer of imported global `i`.
    pub(crate) fn set_imported_global(&self, i: u32, global: *mut VMGlobal) {
        // SAFETY: the slot lies in the allocation, pointer aligned.
        unsafe { self.at::<*mut VMGlobal>(self.offsets.imported_global(i)).write(global) }
    }

    /// Sets the funcref of function `i` (imports first).
    pub(crate) fn set_func_ref(&self, i: u32, func_ref: VMFuncRef) {
        // SAFETY: the slot lies in the allocation (`VMOffsets` checks the
        // index), pointer aligned.
        unsafe { self.func_ref(i).write(func_ref) }
    }

    /// Sets the value of defined global `i`.
    pub(crate) fn set_defined_global(&self, i: u32, value: VMGlobal) {
        // SAFETY: the slot lies in the allocation, 16-byte aligned.
        unsafe { self.defined_global(i).write(value) }
    }

    /// The definition of defined table `i`.
    pub(crate) fn defined_table(&self, i: u32) -> *mut VMTableDefinition {
        self.at(self.offsets.defined_table(i))
    }

    /// The definition of defined memory `i`.
    pub(crate) fn defined_memory(&self, i: u32) -> *mut VMMemoryDefinition {
        self.at(self.offsets.defined_memory(i))
    }

    /// The storage of defined global `i` (16-byte aligned).
    pub(crate) fn defined_global(&self, i: u32) -> *mut VMGlobal {
        self.at(self.offsets.defined_global(i))
    }

    /// The funcref of function `i` (imports first).
    pub(crate) fn func_ref(&self, i: u32) -> *mut VMFuncRef {
        self.at(self.offsets.func_ref(i))
    }
}

impl Drop for VmCtx {
    fn drop(&mut self) {
        if self.owned {
            // SAFETY: allocated in `new` with this layout, freed once.
            unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) }
        }
    }
}

/// Reads the stack-limit field shared by `VMContext` and
/// `VMHostFuncContext` headers.
///
/// # Safety
/// `ctx` must point to a live `VMContext` or `VMHostFuncContext`.
pub(crate) unsafe fn set_stack_limit(ctx: *mut u8, limit: usize) {
    // SAFETY: both headers keep the stack limit at this offset, pointer
    // aligned, per the caller's promise.
    unsafe {
        ctx.add(wasmc_abi::vmctx::VMCTX_STACK_LIMIT as usize).cast::<usize>().write(limit);
    }
}
