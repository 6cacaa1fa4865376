//! The loader's `#[repr(C)]` structures match the ABI's offsets.

use std::mem::{align_of, offset_of, size_of};

use wasmc_abi::vmctx::*;
use wasmc_loader::vm::*;

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
