//! The Cranelift function environment: how wasm operators that touch the
//! instance (globals, memories, tables, calls, builtins) become CLIF against
//! the vmctx layout of [`wasmc_abi::vmctx`].
//!
//! Every wasm function has the signature
//! `(callee_vmctx, caller_vmctx, wasm params...) -> wasm results` in
//! Cranelift's `tail` convention; see `docs/ARCHITECTURE.md`.
//!
//! The trait implementation below only dispatches; the work is split by
//! concern into `memory`, `table`, `call` and `builtins`.

mod builtins;
mod call;
mod interrupt;
mod memory;
mod table;

pub(crate) use call::WASM_FUNC_NAMESPACE;

use cranelift_codegen::cursor::FuncCursor;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::immediates::Offset32;
use cranelift_codegen::ir::{self, types, AbiParam, ArgumentPurpose, InstBuilder};
use cranelift_codegen::isa::{CallConv, TargetFrontendConfig, TargetIsa};
use cranelift_entity::{EntityRef, PrimaryMap};
use cranelift_frontend::FunctionBuilder;
use cranelift_wasm::{
    FuncIndex, FuncTranslationState, GlobalIndex, GlobalVariable, Heap, HeapData, MemoryIndex, TableData, TableIndex,
    TargetEnvironment, TypeConvert, TypeIndex, WasmError, WasmHeapType, WasmResult,
};
use wasmc_abi::meta::{FuncType, ValType};
use wasmc_abi::vmctx::VMCTX_STACK_LIMIT;
use wasmc_abi::BoundsChecks;

use crate::module::ModuleInfo;

/// The CLIF type of a wasm value: references are pointer-sized words, `v128`
/// is `i8x16` (the translator bitcasts to the lane type it needs).
pub(crate) fn clif_type(ty: ValType) -> ir::Type {
    match ty {
        ValType::I32 => types::I32,
        ValType::I64 => types::I64,
        ValType::F32 => types::F32,
        ValType::F64 => types::F64,
        ValType::V128 => types::I8X16,
        ValType::FuncRef | ValType::ExternRef => types::I64,
    }
}

/// The CLIF signature of a wasm function of type `ty`.
pub(crate) fn wasm_signature(ty: &FuncType) -> ir::Signature {
    let mut sig = ir::Signature::new(CallConv::Tail);
    sig.params.push(AbiParam::special(types::I64, ArgumentPurpose::VMContext));
    sig.params.push(AbiParam::new(types::I64));
    sig.params.extend(ty.params.iter().map(|t| AbiParam::new(clif_type(*t))));
    sig.returns.extend(ty.results.iter().map(|t| AbiParam::new(clif_type(*t))));
    sig
}

/// Number of leading non-wasm parameters in [`wasm_signature`].
pub(crate) const HIDDEN_PARAMS: usize = 2;

/// Memory flags for loads from the vmctx and structures it points to that
/// never change while code runs.
pub(crate) fn readonly() -> ir::MemFlags {
    ir::MemFlags::trusted().with_readonly()
}

/// Converts a vmctx offset from the ABI into a CLIF offset.
pub(crate) fn offset32(offset: u32) -> WasmResult<Offset32> {
    i32::try_from(offset).map(Offset32::new).map_err(|_| WasmError::ImplLimitExceeded)
}

fn unsupported<T>(what: &str) -> WasmResult<T> {
    Err(WasmError::Unsupported(what.to_string()))
}

/// The environment for translating one function.
pub(crate) struct FuncEnv<'m> {
    module: &'m ModuleInfo,
    isa: &'m dyn TargetIsa,
    bounds_checks: BoundsChecks,
    vmctx: Option<ir::GlobalValue>,
    heaps: PrimaryMap<Heap, HeapData>,
    /// `current_length` of each heap, by heap.
    heap_lengths: Vec<ir::GlobalValue>,
    tables: Vec<Option<TableData>>,
    builtin_sigs: [Option<ir::SigRef>; wasmc_abi::builtins::Builtin::COUNT],
    interrupts: interrupt::Interrupts,
}

impl<'m> FuncEnv<'m> {
    /// An environment for translating one function of `module`.
    pub fn new(module: &'m ModuleInfo, isa: &'m dyn TargetIsa, bounds_checks: BoundsChecks) -> Self {
        let mut env = FuncEnv {
            module,
            isa,
            bounds_checks,
            vmctx: None,
            heaps: PrimaryMap::new(),
            heap_lengths: Vec::new(),
            tables: vec![None; module.tables.len()],
            builtin_sigs: [None; wasmc_abi::builtins::Builtin::COUNT],
            interrupts: interrupt::Interrupts::default(),
        };
        env.interrupts.epoch = true;
        env
    }

    /// Chooses the interruption checks: epoch deadline checks (on unless
    /// a benchmark turns them off) and fuel metering.
    pub fn set_interrupts(&mut self, epoch: bool, fuel: bool) {
        self.interrupts.epoch = epoch;
        self.interrupts.fuel = fuel;
    }

    /// The `vmctx` global value (the callee vmctx parameter).
    fn vmctx_gv(&mut self, func: &mut ir::Function) -> ir::GlobalValue {
        *self.vmctx.get_or_insert_with(|| func.create_global_value(ir::GlobalValueData::VMContext))
    }

    /// The vmctx parameter as a value at the cursor.
    fn vmctx_value(&mut self, pos: &mut FuncCursor) -> ir::Value {
        let gv = self.vmctx_gv(pos.func);
        pos.ins().global_value(types::I64, gv)
    }

    /// A load of a pointer-sized word at `base + offset`, as a global value.
    fn load_gv(
        func: &mut ir::Function,
        base: ir::GlobalValue,
        offset: u32,
        ty: ir::Type,
        flags: ir::MemFlags,
    ) -> WasmResult<ir::GlobalValue> {
        Ok(func.create_global_value(ir::GlobalValueData::Load {
            base,
            offset: offset32(offset)?,
            global_type: ty,
            flags,
        }))
    }

    /// Sets the function's stack limit to `vmctx.stack_limit`, so the
    /// prologue checks the stack pointer against it. The loader changes the
    /// limit between calls, so it is a plain load, not a read-only one.
    pub fn set_stack_limit(&mut self, func: &mut ir::Function) -> WasmResult<()> {
        let vmctx = self.vmctx_gv(func);
        let limit = Self::load_gv(func, vmctx, VMCTX_STACK_LIMIT, types::I64, ir::MemFlags::trusted())?;
        func.stack_limit = Some(limit);
        Ok(())
    }

    fn type_of(&self, index: TypeIndex) -> WasmResult<&'m FuncType> {
        self.module
            .meta
            .types
            .get(index.index())
            .ok_or_else(|| WasmError::InvalidWebAssembly { message: "type index out of range".into(), offset: 0 })
    }
}

impl TypeConvert for FuncEnv<'_> {
    fn lookup_heap_type(&self, _index: wasmparser::UnpackedIndex) -> WasmHeapType {
        // Concrete heap types need the function-references proposal, which
        // validation rejects; a funcref is the only sensible answer.
        WasmHeapType::Func
    }

    fn lookup_type_index(&self, index: wasmparser::UnpackedIndex) -> cranelift_wasm::EngineOrModuleTypeIndex {
        let i = index.as_module_index().unwrap_or(0);
        cranelift_wasm::EngineOrModuleTypeIndex::Module(cranelift_wasm::ModuleInternedTypeIndex::from_u32(i))
    }
}

impl TargetEnvironment for FuncEnv<'_> {
    fn target_config(&self) -> TargetFrontendConfig {
        self.isa.frontend_config()
    }

    fn heap_access_spectre_mitigation(&self) -> bool {
        true
    }

    fn proof_carrying_code(&self) -> bool {
        false
    }

    fn reference_type(&self, _ty: WasmHeapType) -> (ir::Type, bool) {
        (types::I64, false)
    }
}

impl cranelift_wasm::FuncEnvironment for FuncEnv<'_> {
    fn is_wasm_parameter(&self, _signature: &ir::Signature, index: usize) -> bool {
        index >= HIDDEN_PARAMS
    }

    fn param_needs_stack_map(&self, _signature: &ir::Signature, _index: usize) -> bool {
        false
    }

    fn sig_ref_result_needs_stack_map(&self, _sig_ref: ir::SigRef, _index: usize) -> bool {
        false
    }

    fn func_ref_result_needs_stack_map(&self, _func: &ir::Function, _func_ref: ir::FuncRef, _index: usize) -> bool {
        false
    }

    fn make_global(&mut self, func: &mut ir::Function, index: GlobalIndex) -> WasmResult<GlobalVariable> {
        self.global(func, index.as_u32())
    }

    fn heaps(&self) -> &PrimaryMap<Heap, HeapData> {
        &self.heaps
    }

    fn make_heap(&mut self, func: &mut ir::Function, index: MemoryIndex) -> WasmResult<Heap> {
        self.heap(func, index.as_u32())
    }

    fn make_indirect_sig(&mut self, func: &mut ir::Function, index: TypeIndex) -> WasmResult<ir::SigRef> {
        let ty = self.type_of(index)?;
        Ok(func.import_signature(wasm_signature(ty)))
    }

    fn make_direct_func(&mut self, func: &mut ir::Function, index: FuncIndex) -> WasmResult<ir::FuncRef> {
        self.direct_func(func, index.as_u32())
    }

    fn translate_call(
        &mut self,
        builder: &mut FunctionBuilder,
        callee_index: FuncIndex,
        callee: ir::FuncRef,
        call_args: &[ir::Value],
    ) -> WasmResult<ir::Inst> {
        self.call(builder, callee_index.as_u32(), callee, call_args)
    }

    fn translate_call_indirect(
        &mut self,
        builder: &mut FunctionBuilder,
        table_index: TableIndex,
        sig_index: TypeIndex,
        sig_ref: ir::SigRef,
        callee: ir::Value,
        call_args: &[ir::Value],
    ) -> WasmResult<Option<ir::Inst>> {
        self.call_indirect(builder, table_index.as_u32(), sig_index.as_u32(), sig_ref, callee, call_args).map(Some)
    }

    fn translate_return_call(
        &mut self,
        _builder: &mut FunctionBuilder,
        _callee_index: FuncIndex,
        _callee: ir::FuncRef,
        _call_args: &[ir::Value],
    ) -> WasmResult<()> {
        unsupported("tail calls (return_call)")
    }

    fn translate_return_call_indirect(
        &mut self,
        _builder: &mut FunctionBuilder,
        _table_index: TableIndex,
        _sig_index: TypeIndex,
        _sig_ref: ir::SigRef,
        _callee: ir::Value,
        _call_args: &[ir::Value],
    ) -> WasmResult<()> {
        unsupported("tail calls (return_call_indirect)")
    }

    fn translate_return_call_ref(
        &mut self,
        _builder: &mut FunctionBuilder,
        _sig_ref: ir::SigRef,
        _callee: ir::Value,
        _call_args: &[ir::Value],
    ) -> WasmResult<()> {
        unsupported("tail calls (return_call_ref)")
    }

    fn translate_call_ref(
        &mut self,
        _builder: &mut FunctionBuilder,
        _sig_ref: ir::SigRef,
        _callee: ir::Value,
        _call_args: &[ir::Value],
    ) -> WasmResult<ir::Inst> {
        unsupported("function references (call_ref)")
    }

    fn translate_memory_grow(
        &mut self,
        pos: FuncCursor,
        index: MemoryIndex,
        _heap: Heap,
        val: ir::Value,
    ) -> WasmResult<ir::Value> {
        self.memory_grow(pos, index.as_u32(), val)
    }

    fn translate_memory_size(&mut self, pos: FuncCursor, _index: MemoryIndex, heap: Heap) -> WasmResult<ir::Value> {
        self.memory_size(pos, heap)
    }

    fn translate_memory_copy(
        &mut self,
        pos: FuncCursor,
        src_index: MemoryIndex,
        _src_heap: Heap,
        dst_index: MemoryIndex,
        _dst_heap: Heap,
        dst: ir::Value,
        src: ir::Value,
        len: ir::Value,
    ) -> WasmResult<()> {
        self.memory_copy(pos, src_index.as_u32(), dst_index.as_u32(), dst, src, len)
    }

    fn translate_memory_fill(
        &mut self,
        pos: FuncCursor,
        index: MemoryIndex,
        _heap: Heap,
        dst: ir::Value,
        val: ir::Value,
        len: ir::Value,
    ) -> WasmResult<()> {
        self.memory_fill(pos, index.as_u32(), dst, val, len)
    }

    fn translate_memory_init(
        &mut self,
        pos: FuncCursor,
        index: MemoryIndex,
        _heap: Heap,
        seg_index: u32,
        dst: ir::Value,
        src: ir::Value,
        len: ir::Value,
    ) -> WasmResult<()> {
        self.memory_init(pos, index.as_u32(), seg_index, dst, src, len)
    }

    fn translate_data_drop(&mut self, pos: FuncCursor, seg_index: u32) -> WasmResult<()> {
        self.data_drop(pos, seg_index)
    }

    fn translate_table_size(&mut self, pos: FuncCursor, index: TableIndex) -> WasmResult<ir::Value> {
        self.table_size(pos, index.as_u32())
    }

    fn translate_table_grow(
        &mut self,
        pos: FuncCursor,
        table_index: TableIndex,
        delta: ir::Value,
        init_value: ir::Value,
    ) -> WasmResult<ir::Value> {
        self.table_grow(pos, table_index.as_u32(), delta, init_value)
    }

    fn translate_table_get(
        &mut self,
        builder: &mut FunctionBuilder,
        table_index: TableIndex,
        index: ir::Value,
    ) -> WasmResult<ir::Value> {
        self.table_get(builder, table_index.as_u32(), index)
    }

    fn translate_table_set(
        &mut self,
        builder: &mut FunctionBuilder,
        table_index: TableIndex,
        value: ir::Value,
        index: ir::Value,
    ) -> WasmResult<()> {
        self.table_set(builder, table_index.as_u32(), value, index)
    }

    fn translate_table_copy(
        &mut self,
        pos: FuncCursor,
        dst_table_index: TableIndex,
        src_table_index: TableIndex,
        dst: ir::Value,
        src: ir::Value,
        len: ir::Value,
    ) -> WasmResult<()> {
        self.table_copy(pos, dst_table_index.as_u32(), src_table_index.as_u32(), dst, src, len)
    }

    fn translate_table_fill(
        &mut self,
        pos: FuncCursor,
        table_index: TableIndex,
        dst: ir::Value,
        val: ir::Value,
        len: ir::Value,
    ) -> WasmResult<()> {
        self.table_fill(pos, table_index.as_u32(), dst, val, len)
    }

    fn translate_table_init(
        &mut self,
        pos: FuncCursor,
        seg_index: u32,
        table_index: TableIndex,
        dst: ir::Value,
        src: ir::Value,
        len: ir::Value,
    ) -> WasmResult<()> {
        self.table_init(pos, seg_index, table_index.as_u32(), dst, src, len)
    }

    fn translate_elem_drop(&mut self, pos: FuncCursor, seg_index: u32) -> WasmResult<()> {
        self.elem_drop(pos, seg_index)
    }

    fn translate_ref_null(&mut self, mut pos: FuncCursor, _ty: WasmHeapType) -> WasmResult<ir::Value> {
        Ok(pos.ins().iconst(types::I64, 0))
    }

    fn translate_ref_is_null(&mut self, mut pos: FuncCursor, value: ir::Value) -> WasmResult<ir::Value> {
        let is_null = pos.ins().icmp_imm(IntCC::Equal, value, 0);
        Ok(pos.ins().uextend(types::I32, is_null))
    }

    fn translate_ref_func(&mut self, mut pos: FuncCursor, func_index: FuncIndex) -> WasmResult<ir::Value> {
        let index = func_index.as_u32();
        if index as usize >= self.module.func_types.len() {
            return Err(WasmError::InvalidWebAssembly { message: "function index out of range".into(), offset: 0 });
        }
        let offset = self.module.offsets.func_ref(index);
        let vmctx = self.vmctx_value(&mut pos);
        Ok(pos.ins().iadd_imm(vmctx, i64::from(offset)))
    }

    fn translate_custom_global_get(
        &mut self,
        _builder: &mut FunctionBuilder,
        _global_index: GlobalIndex,
    ) -> WasmResult<ir::Value> {
        unsupported("custom globals")
    }

    fn translate_custom_global_set(
        &mut self,
        _builder: &mut FunctionBuilder,
        _global_index: GlobalIndex,
        _val: ir::Value,
    ) -> WasmResult<()> {
        unsupported("custom globals")
    }

    fn translate_atomic_wait(
        &mut self,
        _pos: FuncCursor,
        _index: MemoryIndex,
        _heap: Heap,
        _addr: ir::Value,
        _expected: ir::Value,
        _timeout: ir::Value,
    ) -> WasmResult<ir::Value> {
        unsupported("threads (memory.atomic.wait)")
    }

    fn translate_atomic_notify(
        &mut self,
        _pos: FuncCursor,
        _index: MemoryIndex,
        _heap: Heap,
        _addr: ir::Value,
        _count: ir::Value,
    ) -> WasmResult<ir::Value> {
        unsupported("threads (memory.atomic.notify)")
    }

    fn translate_ref_i31(&mut self, _pos: FuncCursor, _val: ir::Value) -> WasmResult<ir::Value> {
        unsupported("gc (ref.i31)")
    }

    fn translate_i31_get_s(&mut self, _pos: FuncCursor, _i31ref: ir::Value) -> WasmResult<ir::Value> {
        unsupported("gc (i31.get_s)")
    }

    fn translate_i31_get_u(&mut self, _pos: FuncCursor, _i31ref: ir::Value) -> WasmResult<ir::Value> {
        unsupported("gc (i31.get_u)")
    }

    fn before_translate_operator(
        &mut self,
        op: &wasmparser::Operator,
        builder: &mut FunctionBuilder,
        state: &FuncTranslationState,
    ) -> WasmResult<()> {
        reject_non_wasm2(op)?;
        self.interrupt_before_op(op, builder, state)
    }

    fn after_translate_operator(
        &mut self,
        op: &wasmparser::Operator,
        builder: &mut FunctionBuilder,
        state: &FuncTranslationState,
    ) -> WasmResult<()> {
        self.interrupt_after_op(op, builder, state)
    }

    fn after_locals(&mut self, num_locals_defined: usize) {
        self.interrupt_after_locals(num_locals_defined);
    }

    fn before_translate_function(
        &mut self,
        builder: &mut FunctionBuilder,
        _state: &FuncTranslationState,
    ) -> WasmResult<()> {
        self.interrupt_function_entry(builder)
    }

    fn after_translate_function(
        &mut self,
        builder: &mut FunctionBuilder,
        state: &FuncTranslationState,
    ) -> WasmResult<()> {
        self.interrupt_function_exit(builder, state)
    }

    fn translate_loop_header(&mut self, builder: &mut FunctionBuilder) -> WasmResult<()> {
        self.interrupt_loop_header(builder)
    }
}

/// Refuses operators outside Wasm 2.0 that validation should already have
/// rejected, so a validator change can never let them reach codegen.
fn reject_non_wasm2(op: &wasmparser::Operator) -> WasmResult<()> {
    use wasmparser::Operator as O;
    match op {
        O::MemoryAtomicNotify { .. } | O::MemoryAtomicWait32 { .. } | O::MemoryAtomicWait64 { .. } | O::AtomicFence => {
            unsupported("threads")
        }
        _ => Ok(()),
    }
}
