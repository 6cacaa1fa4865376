//! Calls to the runtime builtins of [`wasmc_abi::builtins`].
//!
//! `vmctx.builtins` points to an array of `extern "C"` function pointers,
//! one per [`Builtin`]; each takes the caller's vmctx first.

use cranelift_codegen::ir::{self, types, AbiParam, InstBuilder};
use cranelift_frontend::FunctionBuilder;
use wasmc_abi::builtins::{Builtin, BuiltinType};
use wasmc_abi::vmctx::{POINTER_SIZE, VMCTX_BUILTINS, VMCTX_LAST_WASM_OFFSET};

use super::{offset32, readonly, FuncEnv};
use crate::translate::WasmResult;

fn builtin_type(ty: BuiltinType) -> ir::Type {
    match ty {
        BuiltinType::I32 => types::I32,
        BuiltinType::Pointer => types::I64,
    }
}

impl FuncEnv<'_> {
    /// Stores the current wasm offset at `VMCTX_LAST_WASM_OFFSET`, so that a
    /// trap raised by the callee (a builtin or a host function) can name it.
    pub(super) fn record_wasm_offset(&mut self, builder: &mut FunctionBuilder, vmctx: ir::Value) -> WasmResult<()> {
        let offset = builder.srcloc().bits();
        let offset = builder.ins().iconst(types::I32, i64::from(offset));
        builder.ins().store(ir::MemFlagsData::trusted(), offset, vmctx, offset32(VMCTX_LAST_WASM_OFFSET)?);
        Ok(())
    }

    /// The CLIF signature of `builtin`, imported once per function.
    fn builtin_sig(&mut self, func: &mut ir::Function, builtin: Builtin) -> ir::SigRef {
        if let Some(sig) = self.builtin_sigs[builtin.index()] {
            return sig;
        }
        let (params, result) = builtin.signature();
        let mut sig = ir::Signature::new(self.isa.default_call_conv());
        sig.params.push(AbiParam::new(types::I64));
        sig.params.extend(params.iter().map(|t| AbiParam::new(builtin_type(*t))));
        sig.returns.extend(result.map(|t| AbiParam::new(builtin_type(t))));
        let sig = func.import_signature(sig);
        self.builtin_sigs[builtin.index()] = Some(sig);
        sig
    }

    /// Calls `builtin` with `(vmctx, args...)`; returns its result, if any.
    pub(super) fn call_builtin(
        &mut self,
        builder: &mut FunctionBuilder,
        builtin: Builtin,
        args: &[ir::Value],
    ) -> WasmResult<Option<ir::Value>> {
        let sig = self.builtin_sig(builder.func, builtin);
        let vmctx = self.vmctx_value(builder);
        let array = builder.ins().load(types::I64, readonly(), vmctx, offset32(VMCTX_BUILTINS)?);
        let callee = builder.ins().load(types::I64, readonly(), array, offset32(builtin.offset(POINTER_SIZE))?);
        // `Memmove` and `Memset` never trap: no offset to name.
        if !matches!(builtin, Builtin::Memmove | Builtin::Memset) {
            self.record_wasm_offset(builder, vmctx)?;
        }
        let mut call_args = Vec::with_capacity(args.len() + 1);
        call_args.push(vmctx);
        call_args.extend_from_slice(args);
        let call = builder.ins().call_indirect(sig, callee, &call_args);
        Ok(builder.inst_results(call).first().copied())
    }

    /// Calls `builtin`, which returns a value.
    pub(super) fn call_builtin_value(
        &mut self,
        builder: &mut FunctionBuilder,
        builtin: Builtin,
        args: &[ir::Value],
    ) -> WasmResult<ir::Value> {
        self.call_builtin(builder, builtin, args)?
            .ok_or_else(|| crate::translate::WasmError::Unsupported(format!("builtin {builtin:?} returns nothing")))
    }
}
