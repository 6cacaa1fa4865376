//! The structures generated code reads and writes, laid out exactly as
//! `wasmc_abi::vmctx` describes (`tests/layout.rs` checks every offset).
//!
//! Public only so the layout test can see them; not part of the API.

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

impl VMFuncRef {
    /// A zeroed funcref (filled in during instantiation).
    pub const EMPTY: VMFuncRef = VMFuncRef {
        wasm_call: std::ptr::null(),
        array_call: std::ptr::null(),
        vmctx: std::ptr::null_mut(),
        type_id: 0,
        _pad: 0,
    };
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
