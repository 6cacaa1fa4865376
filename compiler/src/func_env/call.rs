//! Calls: direct, to imports, and `call_indirect`, each also as a tail call
//! (Wasm 3.0's `return_call` and `return_call_indirect`: every wasm function
//! and trampoline uses Cranelift's `tail` convention, so the callee takes
//! over our frame and returns to our caller).
//!
//! Every callee gets `(callee_vmctx, caller_vmctx, args...)`. Calls whose
//! callee vmctx may differ from ours (imports, `call_indirect`) first copy
//! our stack limit into the callee's vmctx, so its prologue checks against
//! the same limit, and record their wasm offset for traps the host raises.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self, types, InstBuilder};
use cranelift_frontend::FunctionBuilder;
use wasmc_abi::vmctx::{
    FUNC_IMPORT_VMCTX, FUNC_IMPORT_WASM_CALL, FUNC_REF_TYPE_ID, FUNC_REF_VMCTX, FUNC_REF_WASM_CALL, VMCTX_STACK_LIMIT,
    VMCTX_TYPE_IDS,
};

use super::{offset32, readonly, trap, wasm_signature, FuncEnv};
use crate::translate::{WasmError, WasmResult};

/// Namespace of `ExternalName::User` names that denote wasm functions (the
/// index is the function index); the linker resolves exactly these.
pub(crate) const WASM_FUNC_NAMESPACE: u32 = 0;

/// Whether a call returns here or is the function's last act.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CallKind {
    /// `call`, `call_indirect`: the results come back.
    Normal,
    /// `return_call`, `return_call_indirect`: the callee's results are our
    /// caller's; the instruction ends the block.
    Tail,
}

impl FuncEnv<'_> {
    /// The callee reference for a direct call of function `index`.
    pub(crate) fn direct_func(&mut self, func: &mut ir::Function, index: u32) -> WasmResult<ir::FuncRef> {
        let ty = self.module.func_type(index).ok_or_else(|| WasmError::invalid("function index out of range"))?;
        let signature = func.import_signature(wasm_signature(ty));
        let name = func.declare_imported_user_function(ir::UserExternalName { namespace: WASM_FUNC_NAMESPACE, index });
        Ok(func.import_function(ir::ExtFuncData {
            name: ir::ExternalName::User(name),
            signature,
            // Defined functions are in the same text section; imports are
            // never called through this reference (see `call`).
            colocated: true,
            patchable: false,
        }))
    }

    /// Prepares a call whose callee may be another instance or the host:
    /// copies our stack limit into `callee_vmctx` and records the call's
    /// wasm offset, so a trap the host raises can name it.
    fn prepare_cross_call(
        &mut self,
        builder: &mut FunctionBuilder,
        vmctx: ir::Value,
        callee_vmctx: ir::Value,
    ) -> WasmResult<()> {
        let offset = offset32(VMCTX_STACK_LIMIT)?;
        let limit = builder.ins().load(types::I64, ir::MemFlagsData::trusted(), vmctx, offset);
        builder.ins().store(ir::MemFlagsData::trusted(), limit, callee_vmctx, offset);
        self.record_wasm_offset(builder, vmctx)
    }

    /// `call` (or `return_call`): a direct PC-relative call for defined
    /// functions, an indirect call through the `VMFunctionImport` for
    /// imports.
    pub(crate) fn call(
        &mut self,
        builder: &mut FunctionBuilder,
        kind: CallKind,
        index: u32,
        callee: ir::FuncRef,
        args: &[ir::Value],
    ) -> WasmResult<ir::Inst> {
        let vmctx = self.vmctx_value(builder);
        let mut call_args = Vec::with_capacity(args.len() + 2);
        if index >= self.module.imported_funcs {
            call_args.extend_from_slice(&[vmctx, vmctx]);
            call_args.extend_from_slice(args);
            return Ok(match kind {
                CallKind::Normal => builder.ins().call(callee, &call_args),
                CallKind::Tail => builder.ins().return_call(callee, &call_args),
            });
        }
        let import = self.module.offsets.imported_function(index);
        let code = builder.ins().load(types::I64, readonly(), vmctx, offset32(import + FUNC_IMPORT_WASM_CALL)?);
        let callee_vmctx = builder.ins().load(types::I64, readonly(), vmctx, offset32(import + FUNC_IMPORT_VMCTX)?);
        self.prepare_cross_call(builder, vmctx, callee_vmctx)?;
        let sig = builder.func.dfg.ext_funcs[callee].signature;
        call_args.extend_from_slice(&[callee_vmctx, vmctx]);
        call_args.extend_from_slice(args);
        Ok(indirect(builder, kind, sig, code, &call_args))
    }

    /// `call_indirect` (or `return_call_indirect`): load the funcref, trap
    /// on null and on a type mismatch, then call its code with its vmctx.
    #[allow(clippy::too_many_arguments, reason = "the operator's immediates, its operands and the call kind")]
    pub(crate) fn call_indirect(
        &mut self,
        builder: &mut FunctionBuilder,
        kind: CallKind,
        table: u32,
        type_index: u32,
        sig: ir::SigRef,
        callee: ir::Value,
        args: &[ir::Value],
    ) -> WasmResult<ir::Inst> {
        let (addr, flags) = self.table_element_addr(builder, table, callee)?;
        let func_ref = builder.ins().load(types::I64, flags, addr, 0);
        builder.ins().trapz(func_ref, trap::INDIRECT_CALL_TO_NULL);

        let vmctx = self.vmctx_value(builder);
        let actual = builder.ins().load(types::I32, readonly(), func_ref, offset32(FUNC_REF_TYPE_ID)?);
        let type_ids = builder.ins().load(types::I64, readonly(), vmctx, offset32(VMCTX_TYPE_IDS)?);
        let expected_offset = type_index.checked_mul(4).ok_or(WasmError::ImplLimitExceeded)?;
        let expected = builder.ins().load(types::I32, readonly(), type_ids, offset32(expected_offset)?);
        let mismatch = builder.ins().icmp(IntCC::NotEqual, actual, expected);
        builder.ins().trapnz(mismatch, trap::BAD_SIGNATURE);

        let code = builder.ins().load(types::I64, readonly(), func_ref, offset32(FUNC_REF_WASM_CALL)?);
        let callee_vmctx = builder.ins().load(types::I64, readonly(), func_ref, offset32(FUNC_REF_VMCTX)?);
        self.prepare_cross_call(builder, vmctx, callee_vmctx)?;
        let mut call_args = Vec::with_capacity(args.len() + 2);
        call_args.extend_from_slice(&[callee_vmctx, vmctx]);
        call_args.extend_from_slice(args);
        Ok(indirect(builder, kind, sig, code, &call_args))
    }
}

/// A call through a code pointer, returning here or not.
fn indirect(
    builder: &mut FunctionBuilder,
    kind: CallKind,
    sig: ir::SigRef,
    code: ir::Value,
    args: &[ir::Value],
) -> ir::Inst {
    match kind {
        CallKind::Normal => builder.ins().call_indirect(sig, code, args),
        CallKind::Tail => builder.ins().return_call_indirect(sig, code, args),
    }
}
