//! The structures generated code reads and writes, laid out exactly as
//! `wasmc_abi::vmctx` describes (the tests at the end check every offset).

use std::ffi::c_void;
use std::sync::atomic::AtomicU64;

/// The fixed header at the start of every `VMContext`.
#[repr(C, align(16))]
#[derive(Debug)]
pub struct VMContextHeader {
    /// [`wasmc_abi::vmctx::VMCTX_MAGIC`].
    pub magic: u32,
    /// Padding.
    pub _pad: u32,
    /// Lowest stack address wasm code may use.
    pub stack_limit: usize,
    /// The owning store's runtime limits.
    pub runtime_limits: *mut VMRuntimeLimits,
    /// Reserved (zero).
    pub _reserved: u64,
    /// The builtin function-pointer array.
    pub builtins: *const usize,
    /// Canonical type ids, by the module's type index.
    pub type_ids: *const u32,
    /// The loader's instance record.
    pub instance: *mut c_void,
    /// The process-wide epoch counter.
    pub epoch_ptr: *const AtomicU64,
    /// Wasm offset of the latest builtin or import call.
    pub last_wasm_offset: u32,
    /// Padding to the header size.
    pub _pad2: [u32; 3],
}

/// Per-store limits generated code checks; every instance's vmctx points to
/// its store's one (`VMCTX_RUNTIME_LIMITS`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct VMRuntimeLimits {
    /// Remaining fuel; fuel-metered code traps when it goes below zero.
    pub fuel: i64,
    /// Code traps when the epoch counter is at or past this; `u64::MAX`
    /// means no deadline.
    pub epoch_deadline: u64,
}

/// An imported function as the importer's code calls it.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct VMFunctionImport {
    /// Code with the wasm calling convention.
    pub wasm_call: *const u8,
    /// Callee vmctx: an instance's `VMContext` or a `VMHostFuncContext`.
    pub vmctx: *mut u8,
}

/// A table's current storage.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct VMTableDefinition {
    /// First element.
    pub base: *mut usize,
    /// Number of elements.
    pub current_elements: u32,
    /// Padding.
    pub _pad: u32,
}

/// A linear memory's current extent.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct VMMemoryDefinition {
    /// First byte (never null, even for an empty memory).
    pub base: *mut u8,
    /// Accessible bytes.
    pub current_length: usize,
}

/// Storage for one global of any type, little-endian at offset 0.
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug, Default)]
pub struct VMGlobal {
    /// The value's bytes.
    pub bytes: [u8; 16],
}

/// What a funcref points to.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct VMFuncRef {
    /// Code with the wasm calling convention.
    pub wasm_call: *const u8,
    /// The entry trampoline for this function's type; null for host functions.
    pub array_call: *const u8,
    /// Callee vmctx.
    pub vmctx: *mut u8,
    /// Canonical type id.
    pub type_id: u32,
    /// Padding.
    pub _pad: u32,
}

/// The host entry point stored in a [`VMHostFuncContextHeader`].
pub type HostEntryFn = unsafe extern "C" fn(host_ctx: *mut u8, caller_vmctx: *mut u8, values: *mut u8, len: usize);

/// The part of a `VMHostFuncContext` generated code relies on.
#[repr(C)]
#[derive(Debug)]
pub struct VMHostFuncContextHeader {
    /// [`wasmc_abi::vmctx::HOST_CTX_MAGIC`].
    pub magic: u32,
    /// Padding.
    pub _pad: u32,
    /// Stack limit, written by callers as for a `VMContext`.
    pub stack_limit: usize,
    /// Called by the module's host trampoline.
    pub func: HostEntryFn,
}

/// One slot of the values array passed to trampolines.
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ValRaw(pub [u8; 16]);

impl ValRaw {
    /// Little-endian bytes of `v` at the start of a zeroed slot.
    pub fn from_u128(v: u128) -> ValRaw {
        ValRaw(v.to_le_bytes())
    }
    /// The first 4 bytes.
    pub fn u32(&self) -> u32 {
        let b = &self.0;
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
    /// The first 8 bytes.
    pub fn u64(&self) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.0[..8]);
        u64::from_le_bytes(b)
    }
    /// All 16 bytes.
    pub fn u128(&self) -> u128 {
        u128::from_le_bytes(self.0)
    }
}

/// The structures above against the ABI's offsets and sizes.
#[cfg(test)]
mod layout_tests {
    use std::mem::{align_of, offset_of, size_of};

    use wasmc_abi::vmctx::*;

    use super::*;

    #[test]
    fn vmctx_header() {
        assert_eq!(offset_of!(VMContextHeader, magic), VMCTX_MAGIC_OFFSET as usize);
        assert_eq!(offset_of!(VMContextHeader, stack_limit), VMCTX_STACK_LIMIT as usize);
        assert_eq!(offset_of!(VMContextHeader, runtime_limits), VMCTX_RUNTIME_LIMITS as usize);
        assert_eq!(offset_of!(VMContextHeader, _reserved), VMCTX_RESERVED_24 as usize);
        assert_eq!(offset_of!(VMContextHeader, builtins), VMCTX_BUILTINS as usize);
        assert_eq!(offset_of!(VMContextHeader, type_ids), VMCTX_TYPE_IDS as usize);
        assert_eq!(offset_of!(VMContextHeader, instance), VMCTX_INSTANCE as usize);
        assert_eq!(offset_of!(VMContextHeader, epoch_ptr), VMCTX_EPOCH_PTR as usize);
        assert_eq!(offset_of!(VMContextHeader, last_wasm_offset), VMCTX_LAST_WASM_OFFSET as usize);
        assert_eq!(size_of::<VMContextHeader>(), HEADER_SIZE as usize);
        assert_eq!(align_of::<VMContextHeader>(), 16);
    }

    #[test]
    fn runtime_limits() {
        assert_eq!(offset_of!(VMRuntimeLimits, fuel), RUNTIME_LIMITS_FUEL as usize);
        assert_eq!(offset_of!(VMRuntimeLimits, epoch_deadline), RUNTIME_LIMITS_EPOCH_DEADLINE as usize);
        assert_eq!(size_of::<VMRuntimeLimits>(), RUNTIME_LIMITS_SIZE as usize);
    }

    #[test]
    fn host_func_context() {
        assert_eq!(offset_of!(VMHostFuncContextHeader, magic), VMCTX_MAGIC_OFFSET as usize);
        assert_eq!(offset_of!(VMHostFuncContextHeader, stack_limit), VMCTX_STACK_LIMIT as usize);
        assert_eq!(offset_of!(VMHostFuncContextHeader, func), HOST_CTX_FUNC as usize);
        assert_eq!(size_of::<VMHostFuncContextHeader>(), HOST_CTX_HEADER_SIZE as usize);
    }

    #[test]
    fn function_import() {
        assert_eq!(offset_of!(VMFunctionImport, wasm_call), FUNC_IMPORT_WASM_CALL as usize);
        assert_eq!(offset_of!(VMFunctionImport, vmctx), FUNC_IMPORT_VMCTX as usize);
        assert_eq!(size_of::<VMFunctionImport>(), FUNC_IMPORT_SIZE as usize);
    }

    #[test]
    fn table_definition() {
        assert_eq!(offset_of!(VMTableDefinition, base), TABLE_BASE as usize);
        assert_eq!(offset_of!(VMTableDefinition, current_elements), TABLE_CURRENT_ELEMENTS as usize);
        assert_eq!(size_of::<VMTableDefinition>(), TABLE_DEFINITION_SIZE as usize);
        assert_eq!(size_of::<usize>(), TABLE_ELEMENT_SIZE as usize);
    }

    #[test]
    fn memory_definition() {
        assert_eq!(offset_of!(VMMemoryDefinition, base), MEMORY_BASE as usize);
        assert_eq!(offset_of!(VMMemoryDefinition, current_length), MEMORY_CURRENT_LENGTH as usize);
        assert_eq!(size_of::<VMMemoryDefinition>(), MEMORY_DEFINITION_SIZE as usize);
    }

    #[test]
    fn global() {
        assert_eq!(size_of::<VMGlobal>(), GLOBAL_SIZE as usize);
        assert_eq!(align_of::<VMGlobal>(), GLOBAL_SIZE as usize);
    }

    #[test]
    fn func_ref() {
        assert_eq!(offset_of!(VMFuncRef, wasm_call), FUNC_REF_WASM_CALL as usize);
        assert_eq!(offset_of!(VMFuncRef, array_call), FUNC_REF_ARRAY_CALL as usize);
        assert_eq!(offset_of!(VMFuncRef, vmctx), FUNC_REF_VMCTX as usize);
        assert_eq!(offset_of!(VMFuncRef, type_id), FUNC_REF_TYPE_ID as usize);
        assert_eq!(size_of::<VMFuncRef>(), FUNC_REF_SIZE as usize);
    }

    #[test]
    fn value_slot() {
        assert_eq!(size_of::<ValRaw>(), wasmc_abi::VAL_RAW_SIZE as usize);
        assert_eq!(size_of::<usize>(), POINTER_SIZE as usize);
    }
}
