//! Layout of the `VMContext` and of every structure generated code touches.
//!
//! A `VMContext` is one allocation per instance, 16-byte aligned:
//!
//! ```text
//!  offset                      contents
//!  0                           header (VMCTX_* constants below, HEADER_SIZE bytes)
//!  imported_functions          [VMFunctionImport; imported functions]
//!  imported_tables             [*mut VMTableDefinition; imported tables]
//!  imported_memories           [*mut VMMemoryDefinition; imported memories]
//!  imported_globals            [*mut VMGlobal; imported globals]
//!  defined_tables              [VMTableDefinition; defined tables]
//!  defined_memories            [VMMemoryDefinition; defined memories]
//!  defined_globals (16-aligned)[VMGlobal; defined globals]
//!  func_refs                   [VMFuncRef; all functions, imports first]
//!  size
//! ```
//!
//! Wasm functions are called with `(callee_vmctx, caller_vmctx, params...)`
//! in Cranelift's `tail` convention. A host function is reached the same way:
//! its "vmctx" is a `VMHostFuncContext` whose first [`HOST_CTX_HEADER_SIZE`]
//! bytes have the header layout of a `VMContext` (magic and stack limit), so
//! the caller can store its stack limit into either kind of callee.
//!
//! Table elements are one pointer each: a funcref is `*const VMFuncRef`
//! (null for `ref.null func`), an externref an opaque non-zero host word
//! (zero for `ref.null extern`).

/// Bytes in a pointer on every supported target.
pub const POINTER_SIZE: u8 = 8;

/// `u32` at offset 0 of a `VMContext`: [`VMCTX_MAGIC`].
pub const VMCTX_MAGIC_OFFSET: u32 = 0;
/// `usize` at offset 8: the lowest stack address wasm code may use. Function
/// prologues compare the stack pointer with it; callers copy theirs into the
/// callee's before every call that may cross instances.
pub const VMCTX_STACK_LIMIT: u32 = 8;
/// `*mut VMRuntimeLimits` at offset 16: the owning store's runtime limits
/// (fuel and epoch deadline, see [`RUNTIME_LIMITS_FUEL`]). Every instance of
/// a store points to the same one, so limits survive cross-instance calls
/// without copying. Not present in a `VMHostFuncContext`.
pub const VMCTX_RUNTIME_LIMITS: u32 = 16;
/// 8 bytes at offset 24: reserved (zero).
pub const VMCTX_RESERVED_24: u32 = 24;
/// `*const usize` at offset 32: the builtin function-pointer array
/// (see [`crate::builtins`]).
pub const VMCTX_BUILTINS: u32 = 32;
/// `*const u32` at offset 40: the process-wide canonical type id of each of
/// the module's types, indexed by type index. `call_indirect` compares
/// `VMFuncRef::type_id` with the entry for the expected type.
pub const VMCTX_TYPE_IDS: u32 = 40;
/// `*mut ()` at offset 48: the loader's instance (opaque to generated code).
pub const VMCTX_INSTANCE: u32 = 48;
/// `*const u64` at offset 56: the process-wide epoch counter (an
/// `AtomicU64` the loader's ticker advances). Generated code compares it
/// with the deadline at function entry and at every loop header.
pub const VMCTX_EPOCH_PTR: u32 = 56;
/// `u32` at offset 64: the wasm offset of the latest builtin or import call.
/// Generated code stores it just before such a call, so a trap raised
/// outside wasm code (by a builtin or a host function) can name the wasm
/// function and offset that caused it.
pub const VMCTX_LAST_WASM_OFFSET: u32 = 64;
/// Size of the fixed header (16-byte multiple).
pub const HEADER_SIZE: u32 = 80;

/// `VMRuntimeLimits`, one per store: `i64` remaining fuel at this offset.
/// Fuel-metered code subtracts the operators it executes and traps
/// ([`crate::TrapKind::Interrupted`]) when the value goes below zero.
pub const RUNTIME_LIMITS_FUEL: u32 = 0;
/// `u64` epoch deadline: code traps ([`crate::TrapKind::Interrupted`]) when
/// the epoch counter is at or past it. `u64::MAX` means no deadline. The
/// loader sets it before the outermost entry into a store and never
/// changes it while wasm code of that store runs, so code reads it as
/// read-only memory (loaded once per function).
pub const RUNTIME_LIMITS_EPOCH_DEADLINE: u32 = 8;
/// Size of a `VMRuntimeLimits`.
pub const RUNTIME_LIMITS_SIZE: u32 = 16;

/// Value of the magic field of an instance's `VMContext` ("wasm" in ASCII).
pub const VMCTX_MAGIC: u32 = u32::from_le_bytes(*b"wasm");
/// Value of the magic field of a `VMHostFuncContext` ("host" in ASCII).
pub const HOST_CTX_MAGIC: u32 = u32::from_le_bytes(*b"host");

/// `VMHostFuncContext`: magic at 0 and stack limit at 8 as in the
/// `VMContext` header, then the host entry point at this offset:
/// `extern "C" fn(host_ctx, caller_vmctx, values: *mut [u8; 16], len: usize)`.
/// Arguments are in `values` on entry, results replace them on return.
pub const HOST_CTX_FUNC: u32 = 16;
/// Bytes of `VMHostFuncContext` that generated code relies on.
pub const HOST_CTX_HEADER_SIZE: u32 = 24;

/// `VMFunctionImport`: `{ wasm_call: *const u8, vmctx: *mut () }`.
pub const FUNC_IMPORT_WASM_CALL: u32 = 0;
/// See [`FUNC_IMPORT_WASM_CALL`].
pub const FUNC_IMPORT_VMCTX: u32 = 8;
/// Size of a `VMFunctionImport`.
pub const FUNC_IMPORT_SIZE: u32 = 16;

/// `VMTableDefinition`: `{ base: *mut usize, current_elements: u32, pad }`.
pub const TABLE_BASE: u32 = 0;
/// See [`TABLE_BASE`].
pub const TABLE_CURRENT_ELEMENTS: u32 = 8;
/// Size of a `VMTableDefinition`.
pub const TABLE_DEFINITION_SIZE: u32 = 16;
/// Bytes per table element.
pub const TABLE_ELEMENT_SIZE: u32 = 8;

/// `VMMemoryDefinition`: `{ base: *mut u8, current_length: usize }`.
pub const MEMORY_BASE: u32 = 0;
/// See [`MEMORY_BASE`]. In bytes.
pub const MEMORY_CURRENT_LENGTH: u32 = 8;
/// Size of a `VMMemoryDefinition`.
pub const MEMORY_DEFINITION_SIZE: u32 = 16;

/// Size and alignment of a `VMGlobal`: one value of any type, at offset 0.
pub const GLOBAL_SIZE: u32 = 16;

/// `VMFuncRef`: `{ wasm_call, array_call, vmctx, type_id: u32, pad }`.
/// `wasm_call` is the code to call from wasm (`tail` convention, with
/// `vmctx` as callee vmctx). `array_call` is the module's entry trampoline
/// for the function's type (see [`crate::meta::TypeTrampolines`]); null for
/// host functions.
pub const FUNC_REF_WASM_CALL: u32 = 0;
/// See [`FUNC_REF_WASM_CALL`].
pub const FUNC_REF_ARRAY_CALL: u32 = 8;
/// See [`FUNC_REF_WASM_CALL`].
pub const FUNC_REF_VMCTX: u32 = 16;
/// See [`FUNC_REF_WASM_CALL`].
pub const FUNC_REF_TYPE_ID: u32 = 24;
/// Size of a `VMFuncRef`.
pub const FUNC_REF_SIZE: u32 = 32;

/// How many of each entity a module has: all the input [`VMOffsets`] needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VMCounts {
    /// Imported functions.
    pub imported_functions: u32,
    /// Imported tables.
    pub imported_tables: u32,
    /// Imported memories.
    pub imported_memories: u32,
    /// Imported globals.
    pub imported_globals: u32,
    /// Tables the module defines.
    pub defined_tables: u32,
    /// Memories the module defines.
    pub defined_memories: u32,
    /// Globals the module defines.
    pub defined_globals: u32,
    /// All functions, imported and defined.
    pub functions: u32,
}

/// Offsets of the variable-size regions of one module's `VMContext`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VMOffsets {
    counts: VMCounts,
    imported_functions: u32,
    imported_tables: u32,
    imported_memories: u32,
    imported_globals: u32,
    defined_tables: u32,
    defined_memories: u32,
    defined_globals: u32,
    func_refs: u32,
    size: u32,
}

fn align(offset: u32, to: u32) -> u32 {
    offset.div_ceil(to) * to
}

impl VMOffsets {
    /// Lays out a `VMContext` for a module with these counts.
    pub fn new(counts: VMCounts) -> VMOffsets {
        let ptr = u32::from(POINTER_SIZE);
        let imported_functions = HEADER_SIZE;
        let imported_tables = imported_functions + counts.imported_functions * FUNC_IMPORT_SIZE;
        let imported_memories = imported_tables + counts.imported_tables * ptr;
        let imported_globals = imported_memories + counts.imported_memories * ptr;
        let defined_tables = imported_globals + counts.imported_globals * ptr;
        let defined_memories = defined_tables + counts.defined_tables * TABLE_DEFINITION_SIZE;
        let defined_globals = align(defined_memories + counts.defined_memories * MEMORY_DEFINITION_SIZE, GLOBAL_SIZE);
        let func_refs = defined_globals + counts.defined_globals * GLOBAL_SIZE;
        let size = align(func_refs + counts.functions * FUNC_REF_SIZE, 16);
        VMOffsets {
            counts,
            imported_functions,
            imported_tables,
            imported_memories,
            imported_globals,
            defined_tables,
            defined_memories,
            defined_globals,
            func_refs,
            size,
        }
    }

    /// The counts this layout was made for.
    pub fn counts(&self) -> &VMCounts {
        &self.counts
    }

    /// Total size of the `VMContext` in bytes.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// The `VMFunctionImport` of imported function `index`.
    pub fn imported_function(&self, index: u32) -> u32 {
        assert!(index < self.counts.imported_functions);
        self.imported_functions + index * FUNC_IMPORT_SIZE
    }

    /// The pointer to the `VMTableDefinition` of imported table `index`.
    pub fn imported_table(&self, index: u32) -> u32 {
        assert!(index < self.counts.imported_tables);
        self.imported_tables + index * u32::from(POINTER_SIZE)
    }

    /// The pointer to the `VMMemoryDefinition` of imported memory `index`.
    pub fn imported_memory(&self, index: u32) -> u32 {
        assert!(index < self.counts.imported_memories);
        self.imported_memories + index * u32::from(POINTER_SIZE)
    }

    /// The pointer to the `VMGlobal` of imported global `index`.
    pub fn imported_global(&self, index: u32) -> u32 {
        assert!(index < self.counts.imported_globals);
        self.imported_globals + index * u32::from(POINTER_SIZE)
    }

    /// The `VMTableDefinition` of defined table `index` (0 = first defined).
    pub fn defined_table(&self, index: u32) -> u32 {
        assert!(index < self.counts.defined_tables);
        self.defined_tables + index * TABLE_DEFINITION_SIZE
    }

    /// The `VMMemoryDefinition` of defined memory `index`.
    pub fn defined_memory(&self, index: u32) -> u32 {
        assert!(index < self.counts.defined_memories);
        self.defined_memories + index * MEMORY_DEFINITION_SIZE
    }

    /// The `VMGlobal` of defined global `index`.
    pub fn defined_global(&self, index: u32) -> u32 {
        assert!(index < self.counts.defined_globals);
        self.defined_globals + index * GLOBAL_SIZE
    }

    /// The `VMFuncRef` of function `index` (imports first).
    pub fn func_ref(&self, index: u32) -> u32 {
        assert!(index < self.counts.functions);
        self.func_refs + index * FUNC_REF_SIZE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_follow_each_other_without_overlap() {
        let counts = VMCounts {
            imported_functions: 2,
            imported_tables: 1,
            imported_memories: 1,
            imported_globals: 3,
            defined_tables: 2,
            defined_memories: 1,
            defined_globals: 1,
            functions: 5,
        };
        let o = VMOffsets::new(counts);
        assert_eq!(o.imported_function(0), HEADER_SIZE);
        assert_eq!(o.imported_table(0), o.imported_function(1) + FUNC_IMPORT_SIZE);
        assert_eq!(o.imported_memory(0), o.imported_table(0) + 8);
        assert_eq!(o.imported_global(0), o.imported_memory(0) + 8);
        assert_eq!(o.defined_table(0), o.imported_global(2) + 8);
        assert_eq!(o.defined_memory(0), o.defined_table(1) + TABLE_DEFINITION_SIZE);
        assert_eq!(o.defined_global(0) % GLOBAL_SIZE, 0);
        assert!(o.defined_global(0) >= o.defined_memory(0) + MEMORY_DEFINITION_SIZE);
        assert_eq!(o.func_ref(0), o.defined_global(0) + GLOBAL_SIZE);
        assert_eq!(o.size(), o.func_ref(4) + FUNC_REF_SIZE);
        assert_eq!(o.size() % 16, 0);
    }

    #[test]
    fn empty_module_is_just_the_header() {
        assert_eq!(VMOffsets::new(VMCounts::default()).size(), HEADER_SIZE);
    }
}
