//! Host-to-wasm (`entry`) and wasm-to-host (`host`) trampolines, one per
//! distinct function type (see [`wasmc_abi::meta::TypeTrampolines`]).
//!
//! * `entry`: `extern "C" fn(callee_code, callee_vmctx, caller_vmctx,
//!   values)`. Loads argument `i` from `values + 16*i`, calls `callee_code`
//!   with the wasm convention, stores result `i` to `values + 16*i`.
//! * `host`: wasm convention, callee vmctx is a `VMHostFuncContext`. Checks
//!   the stack limit (the caller stored it in the host context), spills the
//!   arguments into a stack array of `max(1, params, results)` 16-byte slots,
//!   calls `*(host_ctx + HOST_CTX_FUNC)` as `extern "C" fn(host_ctx,
//!   caller_vmctx, values, len)` with `len` the number of slots, then returns
//!   the results read back from the array.

use std::collections::HashMap;

use cranelift_codegen::ir::{self, types, AbiParam, InstBuilder, StackSlotData, StackSlotKind};
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use rayon::prelude::*;
use wasmc_abi::meta::{FuncType, ImportType};
use wasmc_abi::vmctx::{HOST_CTX_FUNC, VMCTX_STACK_LIMIT};
use wasmc_abi::VAL_RAW_SIZE;

use crate::codegen::{compile_clif, CompiledCode};
use crate::func_env::{clif_type, offset32, readonly, wasm_signature};
use crate::isa::TargetIsa as Target;
use crate::module::ModuleInfo;
use crate::CompileError;

/// Marker function index for trampolines in [`CompiledCode::func`] and errors.
pub(crate) const TRAMPOLINE_FUNC: u32 = u32::MAX;

/// The compiled trampolines and which type uses which.
pub(crate) struct Trampolines {
    /// Distinct trampolines, in a deterministic order.
    pub code: Vec<CompiledCode>,
    /// Per type index: the index in `code` of its entry trampoline.
    pub entry: Vec<usize>,
    /// Per type index: the index in `code` of its host trampoline, if any.
    pub host: Vec<Option<usize>>,
    /// A symbol name per element of `code`.
    pub names: Vec<String>,
}

#[derive(Clone, Copy)]
enum Kind {
    Entry,
    Host,
}

/// Memory flags for the caller-provided values array: never faults, may be
/// unaligned.
fn values_flags() -> ir::MemFlagsData {
    ir::MemFlagsData::new().with_notrap()
}

fn slot_offset(i: usize) -> Result<i32, CompileError> {
    i32::try_from(i)
        .ok()
        .and_then(|i| i.checked_mul(VAL_RAW_SIZE as i32))
        .ok_or_else(|| CompileError::Codegen { func: TRAMPOLINE_FUNC, message: "too many values".into() })
}

fn build_entry(
    func: &mut ir::Function,
    ty: &FuncType,
    call_conv: cranelift_codegen::isa::CallConv,
    config: cranelift_codegen::isa::TargetFrontendConfig,
) -> Result<(), CompileError> {
    let mut sig = ir::Signature::new(call_conv);
    sig.params.extend([AbiParam::new(types::I64); 4]);
    func.signature = sig;
    let mut fctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(func, &mut fctx);
    let block = b.create_block();
    b.append_block_params_for_function_params(block);
    b.switch_to_block(block);
    b.seal_block(block);
    let &[code, callee_vmctx, caller_vmctx, values] = b.block_params(block) else {
        return Err(CompileError::Codegen { func: TRAMPOLINE_FUNC, message: "entry trampoline parameters".into() });
    };
    let mut args = vec![callee_vmctx, caller_vmctx];
    for (i, t) in ty.params.iter().enumerate() {
        args.push(b.ins().load(clif_type(*t), values_flags(), values, slot_offset(i)?));
    }
    let wasm_sig = b.import_signature(wasm_signature(ty));
    let call = b.ins().call_indirect(wasm_sig, code, &args);
    let results = b.inst_results(call).to_vec();
    for (i, r) in results.into_iter().enumerate() {
        b.ins().store(values_flags(), r, values, slot_offset(i)?);
    }
    b.ins().return_(&[]);
    b.finalize(config);
    Ok(())
}

fn build_host(
    func: &mut ir::Function,
    ty: &FuncType,
    call_conv: cranelift_codegen::isa::CallConv,
    config: cranelift_codegen::isa::TargetFrontendConfig,
) -> Result<(), CompileError> {
    func.signature = wasm_signature(ty);
    let vmctx = func.create_global_value(ir::GlobalValueData::VMContext);
    let flags = func.dfg.mem_flags.insert_unchecked(ir::MemFlagsData::trusted());
    func.stack_limit = Some(
        func.create_global_value(ir::GlobalValueData::Load {
            base: vmctx,
            offset: offset32(VMCTX_STACK_LIMIT)
                .map_err(|_| CompileError::Codegen { func: TRAMPOLINE_FUNC, message: "offset".into() })?,
            global_type: types::I64,
            flags,
        }),
    );
    let slots = ty.params.len().max(ty.results.len()).max(1);
    let size = u32::try_from(slots)
        .ok()
        .and_then(|n| n.checked_mul(VAL_RAW_SIZE))
        .ok_or_else(|| CompileError::Codegen { func: TRAMPOLINE_FUNC, message: "too many values".into() })?;

    let mut fctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(func, &mut fctx);
    let block = b.create_block();
    b.append_block_params_for_function_params(block);
    b.switch_to_block(block);
    b.seal_block(block);
    let params = b.block_params(block).to_vec();
    let (host_ctx, caller_vmctx) = (params[0], params[1]);
    let slot = b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, size, 4));
    for (i, v) in params[crate::func_env::HIDDEN_PARAMS..].iter().enumerate() {
        b.ins().stack_store(types::I64, *v, slot, slot_offset(i)?);
    }
    let values = b.ins().stack_addr(types::I64, slot, 0);
    let len = b.ins().iconst(types::I64, i64::try_from(slots).unwrap_or(i64::MAX));
    let host_func_offset = offset32(HOST_CTX_FUNC)
        .map_err(|_| CompileError::Codegen { func: TRAMPOLINE_FUNC, message: "offset".into() })?;
    let host_func = b.ins().load(types::I64, readonly(), host_ctx, host_func_offset);
    let mut host_sig = ir::Signature::new(call_conv);
    host_sig.params.extend([AbiParam::new(types::I64); 4]);
    let host_sig = b.import_signature(host_sig);
    b.ins().call_indirect(host_sig, host_func, &[host_ctx, caller_vmctx, values, len]);
    let mut results = Vec::with_capacity(ty.results.len());
    for (i, t) in ty.results.iter().enumerate() {
        results.push(b.ins().stack_load(types::I64, clif_type(*t), slot, slot_offset(i)?));
    }
    b.ins().return_(&results);
    b.finalize(config);
    Ok(())
}

fn compile_one(target: &Target, ty: &FuncType, kind: Kind) -> Result<CompiledCode, CompileError> {
    let mut ctx = Context::new();
    let call_conv = target.isa.default_call_conv();
    match kind {
        Kind::Entry => build_entry(&mut ctx.func, ty, call_conv, target.isa.frontend_config())?,
        Kind::Host => build_host(&mut ctx.func, ty, call_conv, target.isa.frontend_config())?,
    }
    let too_large = |message| CompileError::Codegen { func: TRAMPOLINE_FUNC, message };
    let code = compile_clif(&*target.isa, &mut ctx, TRAMPOLINE_FUNC, 0, too_large)?;
    if !code.relocs.is_empty() {
        return Err(CompileError::Codegen { func: TRAMPOLINE_FUNC, message: "trampoline needs relocations".into() });
    }
    Ok(code)
}

/// Compiles an entry trampoline for every type and a host trampoline for
/// every type of an imported function, once per distinct signature.
pub(crate) fn compile(module: &ModuleInfo, target: &Target) -> Result<Trampolines, CompileError> {
    let types = &module.meta.types;
    let mut host_needed = vec![false; types.len()];
    for import in &module.meta.imports {
        if let ImportType::Func(t) = import.ty {
            if let Some(needed) = host_needed.get_mut(t as usize) {
                *needed = true;
            }
        }
    }

    // Jobs in a deterministic order: entries by first type index, then hosts.
    let mut jobs: Vec<(Kind, usize)> = Vec::new();
    let mut entry = Vec::with_capacity(types.len());
    let mut host = Vec::with_capacity(types.len());
    let mut seen_entry: HashMap<&FuncType, usize> = HashMap::new();
    for (t, ty) in types.iter().enumerate() {
        let job = *seen_entry.entry(ty).or_insert_with(|| {
            jobs.push((Kind::Entry, t));
            jobs.len() - 1
        });
        entry.push(job);
    }
    let mut seen_host: HashMap<&FuncType, usize> = HashMap::new();
    for (t, ty) in types.iter().enumerate() {
        if !host_needed[t] {
            host.push(None);
            continue;
        }
        let job = *seen_host.entry(ty).or_insert_with(|| {
            jobs.push((Kind::Host, t));
            jobs.len() - 1
        });
        host.push(Some(job));
    }

    let code = jobs
        .par_iter()
        .map(|&(kind, t)| crate::codegen::catch_panic(TRAMPOLINE_FUNC, || compile_one(target, &types[t], kind)))
        .collect::<Vec<_>>()
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    let names = jobs
        .iter()
        .map(|&(kind, t)| match kind {
            Kind::Entry => format!("wasmc_entry_trampoline_{t}"),
            Kind::Host => format!("wasmc_host_trampoline_{t}"),
        })
        .collect();
    Ok(Trampolines { code, entry, host, names })
}
